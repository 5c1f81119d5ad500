//! Which User attributes Leapsome knows, and how an attribute path (a PATCH `path`, or a key of a
//! body, which may be dotted or URN-prefixed) names one of them. Attribute names are
//! case-insensitive (RFC 7643 §2.1; Microsoft's tests send `UserName`, `Active`), so every name
//! is mapped to its canonical spelling here and stored only under that.

use super::filter::{EqFilter, parse_eq};
use super::model::ScimError;

pub const CORE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    /// `name`: a complex attribute whose sub-attributes are strings.
    Name,
    /// Multi-valued complex attributes (`emails`, `photos`, …): arrays of objects.
    Multi,
    /// Anything an RFC server would store as sent (unknown attributes, custom-attribute ids).
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub kind: Kind,
    /// In Leapsome's schema (SPEC/UDEF). Attributes that are not are dropped unless
    /// `keep_unknown_attributes` is on (reference §2.4).
    pub leapsome: bool,
}

const CORE: &[(&str, Kind, bool)] = &[
    ("userName", Kind::Str, true),
    ("externalId", Kind::Str, true),
    ("displayName", Kind::Str, true),
    ("title", Kind::Str, true),
    ("active", Kind::Bool, true),
    ("name", Kind::Name, true),
    ("emails", Kind::Multi, true),
    ("photos", Kind::Multi, true),
    ("location", Kind::Str, true),
    ("nickName", Kind::Str, false),
    ("timezone", Kind::Str, false),
    ("userType", Kind::Str, false),
    ("preferredLanguage", Kind::Str, false),
    ("locale", Kind::Str, false),
    ("profileUrl", Kind::Str, false),
    ("phoneNumbers", Kind::Multi, false),
    ("addresses", Kind::Multi, false),
    ("roles", Kind::Multi, false),
    ("entitlements", Kind::Multi, false),
    ("ims", Kind::Multi, false),
    ("x509Certificates", Kind::Multi, false),
];

/// Set by the server or never returned: ignored when written.
const CORE_READ_ONLY: &[&str] = &["id", "schemas", "meta", "groups", "password"];

pub const NAME_SUBS: &[(&str, bool)] = &[
    ("givenName", true),
    ("familyName", true),
    ("formatted", true),
    ("middleName", false),
    ("honorificPrefix", false),
    ("honorificSuffix", false),
];

const ENTERPRISE: &[(&str, bool)] = &[
    ("department", true),
    ("costCenter", true),
    ("division", true),
    ("level", true),
    ("startDate", true),
    ("endDate", true),
    ("birthday", true),
    ("gender", true),
    ("location", true),
    ("employeeNumber", false),
    ("organization", false),
];

/// Enterprise keys that hold `YYYY-MM-DD` dates (UDEF).
pub const DATE_KEYS: &[&str] = &["startDate", "endDate", "birthday"];

/// Read-only in the enterprise object (SPEC's read-side `User`).
const ENTERPRISE_READ_ONLY: &[&str] = &["employmentType", "attachments"];

/// Sub-attributes of multi-valued entries, canonicalised so that filters and merges agree.
const MULTI_SUBS: &[&str] = &["value", "type", "primary", "display", "$ref"];

/// What a path or body key addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The whole resource (a key equal to the core schema URN).
    Root,
    /// Silently ignored on write (`id`, `meta`, `schemas`, `groups`, read-only extension keys).
    ReadOnly,
    Core {
        attr: Attr,
        filter: Option<EqFilter>,
        sub: Option<String>,
    },
    /// The enterprise object as a whole.
    Enterprise,
    EnterpriseAttr {
        attr: Attr,
        sub: Option<String>,
    },
    /// `manager` at the top level or in the enterprise object: the same stored reference.
    Manager {
        sub: Option<String>,
    },
    AdditionalManagers,
}

fn find<'a>(table: &[&'a str], name: &str) -> Option<&'a str> {
    table.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

pub fn canonical_name_sub(name: &str) -> Option<(&'static str, bool)> {
    NAME_SUBS.iter().copied().find(|(n, _)| n.eq_ignore_ascii_case(name))
}

pub fn canonical_multi_sub(name: &str) -> String {
    find(MULTI_SUBS, name).map_or_else(|| name.to_owned(), str::to_owned)
}

fn core_attr(name: &str) -> Attr {
    match CORE.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
        Some(&(n, kind, leapsome)) => Attr { name: n.into(), kind, leapsome },
        None => Attr { name: name.into(), kind: Kind::Any, leapsome: false },
    }
}

/// Leapsome custom attributes are keyed by their 24-hex id inside the enterprise object (UDEF).
fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn invalid_path(path: &str, why: &str) -> ScimError {
    ScimError::bad_request("invalidPath", format!("invalid path '{path}': {why}"))
}

/// Parses an attribute path: `active`, `name.givenName`, `emails[type eq "work"].value`,
/// `urn:…:enterprise:2.0:User:department`, `urn:…:core:2.0:User:userName`, or a bare URN.
pub fn parse_path(path: &str) -> Result<Target, ScimError> {
    let trimmed = path.trim();
    if let Some(rest) = strip_prefix_ci(trimmed, ENTERPRISE_URN) {
        return match rest.strip_prefix(':') {
            None if rest.is_empty() => Ok(Target::Enterprise),
            None => Err(invalid_path(path, "unknown schema")),
            Some(inner) => enterprise_target(inner).map_err(|why| invalid_path(path, &why)),
        };
    }
    if let Some(rest) = strip_prefix_ci(trimmed, CORE_URN) {
        return match rest.strip_prefix(':') {
            None if rest.is_empty() => Ok(Target::Root),
            None => Err(invalid_path(path, "unknown schema")),
            Some(inner) => core_target(inner).map_err(|why| invalid_path(path, &why)),
        };
    }
    core_target(trimmed).map_err(|why| invalid_path(path, &why))
}

/// The target for a key of the enterprise object, or a path after its URN.
pub fn enterprise_target(path: &str) -> Result<Target, String> {
    let (name, sub) = match path.split_once('.') {
        Some((name, sub)) => (name, Some(sub.to_owned())),
        None => (path, None),
    };
    if name.is_empty() || name.contains('[') {
        return Err("expected an attribute name".into());
    }
    if name.eq_ignore_ascii_case("manager") {
        return Ok(Target::Manager { sub });
    }
    if name.eq_ignore_ascii_case("additionalManagers") {
        return match sub {
            None => Ok(Target::AdditionalManagers),
            Some(_) => Err("additionalManagers has no sub-attributes".into()),
        };
    }
    if find(ENTERPRISE_READ_ONLY, name).is_some() {
        return Ok(Target::ReadOnly);
    }
    let attr = match ENTERPRISE.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(&(n, leapsome)) => Attr { name: n.into(), kind: Kind::Str, leapsome },
        None if is_object_id(name) => Attr { name: name.to_ascii_lowercase(), kind: Kind::Any, leapsome: true },
        None => Attr { name: name.into(), kind: Kind::Any, leapsome: false },
    };
    Ok(Target::EnterpriseAttr { attr, sub })
}

fn core_target(path: &str) -> Result<Target, String> {
    let end = path.find(['[', '.']).unwrap_or(path.len());
    let (name, mut rest) = path.split_at(end);
    if name.is_empty() {
        return Err("expected an attribute name".into());
    }
    let mut filter = None;
    if let Some(after) = rest.strip_prefix('[') {
        let close = closing_bracket(after).ok_or("unterminated '['")?;
        filter = Some(parse_eq(&after[..close]).map_err(|e| format!("value filter: {e}"))?);
        rest = &after[close + 1..];
    }
    let sub = match rest.strip_prefix('.') {
        Some(sub) if !sub.is_empty() && !sub.contains(['.', '[']) => Some(sub.to_owned()),
        None if rest.is_empty() => None,
        _ => return Err("expected '.subAttribute' or the end of the path".into()),
    };
    if find(CORE_READ_ONLY, name).is_some() {
        return Ok(Target::ReadOnly);
    }
    if name.eq_ignore_ascii_case("manager") {
        return match filter {
            None => Ok(Target::Manager { sub }),
            Some(_) => Err("manager is single-valued".into()),
        };
    }
    let attr = core_attr(name);
    if filter.is_some() && !matches!(attr.kind, Kind::Multi | Kind::Any) {
        return Err(format!("{} is not multi-valued", attr.name));
    }
    if sub.is_some() && matches!(attr.kind, Kind::Str | Kind::Bool) {
        return Err(format!("{} has no sub-attributes", attr.name));
    }
    Ok(Target::Core { attr, filter, sub })
}

/// The index of the `]` that closes a value filter, skipping brackets inside quoted values.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn core(name: &str, kind: Kind, leapsome: bool) -> Attr {
        Attr { name: name.into(), kind, leapsome }
    }

    #[test]
    fn parses_every_path_style() {
        assert_eq!(
            parse_path("Active").unwrap(),
            Target::Core { attr: core("active", Kind::Bool, true), filter: None, sub: None }
        );
        assert_eq!(
            parse_path("name.givenName").unwrap(),
            Target::Core { attr: core("name", Kind::Name, true), filter: None, sub: Some("givenName".into()) }
        );
        assert_eq!(
            parse_path(r#"emails[type eq "work"].value"#).unwrap(),
            Target::Core {
                attr: core("emails", Kind::Multi, true),
                filter: Some(EqFilter { attribute: "type".into(), value: json!("work") }),
                sub: Some("value".into()),
            }
        );
        assert_eq!(
            parse_path(r#"emails[value eq "a]b"]"#).unwrap(),
            Target::Core {
                attr: core("emails", Kind::Multi, true),
                filter: Some(EqFilter { attribute: "value".into(), value: json!("a]b") }),
                sub: None,
            }
        );
        assert_eq!(
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department").unwrap(),
            Target::EnterpriseAttr { attr: core("department", Kind::Str, true), sub: None }
        );
        assert_eq!(
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap(),
            Target::Manager { sub: Some("value".into()) }
        );
        assert_eq!(parse_path(ENTERPRISE_URN).unwrap(), Target::Enterprise);
        assert_eq!(parse_path(CORE_URN).unwrap(), Target::Root);
        assert_eq!(
            parse_path("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap(),
            Target::Core { attr: core("userName", Kind::Str, true), filter: None, sub: None }
        );
        assert_eq!(parse_path("manager").unwrap(), Target::Manager { sub: None });
        assert_eq!(parse_path("meta").unwrap(), Target::ReadOnly);
        assert_eq!(
            parse_path("nickName").unwrap(),
            Target::Core { attr: core("nickName", Kind::Str, false), filter: None, sub: None }
        );
        assert_eq!(
            enterprise_target("6140868326541A4DA586DB0B").unwrap(),
            Target::EnterpriseAttr { attr: core("6140868326541a4da586db0b", Kind::Any, true), sub: None }
        );
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "",
            "active.value",
            "active[type eq \"x\"]",
            "emails[type eq \"work\"",
            "emails[type co \"work\"]",
            "emails[type eq \"work\"]value",
            "name.givenName.x",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:UserX",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
        ] {
            let err = parse_path(bad).expect_err(bad);
            assert_eq!((err.status, err.scim_type), (400, Some("invalidPath")), "{bad}");
        }
    }
}
