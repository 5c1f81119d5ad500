//! Writing attributes into a user's profile. POST and PUT bodies, Leapsome's flat PATCH body and
//! every RFC 7644 PatchOp operation all come down to `apply(op, target, value)`.

use serde_json::{Map, Value};

use super::config::{EmailsWrite, LeapsomeConfig, PartialName};
use super::model::{Ctx, Op, Profile, ScimError, as_bool, get_ci, invalid_value};
use super::schema::{self, DATE_KEYS, ENTERPRISE_URN, Kind, PATCH_OP_URN, Target, canonical_name_sub};
use super::{manager, multi};

/// Applies a PATCH body: an RFC 7644 PatchOp, or (outside strict mode) Leapsome's flat
/// `UserDefinition`, where present keys are set, `null` clears and objects merge key by key.
pub fn apply_patch_body(profile: &mut Profile, body: &Value, ctx: &Ctx) -> Result<(), ScimError> {
    let object = body.as_object().ok_or_else(|| ScimError::bad_request("invalidSyntax", "body must be an object"))?;
    let declares_patch_op = get_ci(object, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))));
    let operations = get_ci(object, "Operations");
    if ctx.config.strict_rfc && !(declares_patch_op && operations.is_some()) {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            format!("PATCH body must be a PatchOp with schemas [\"{PATCH_OP_URN}\"] and Operations"),
        ));
    }
    if !declares_patch_op && operations.is_none() {
        flat_name(profile, object, ctx.config)?;
        return merge(profile, Op::Replace, object, ctx);
    }
    let operations = operations
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "Operations must be an array"))?;
    for operation in operations {
        let operation = operation
            .as_object()
            .ok_or_else(|| ScimError::bad_request("invalidSyntax", "an operation must be an object"))?;
        let op = match get_ci(operation, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            other => {
                return Err(ScimError::bad_request("invalidSyntax", format!("unknown op {other:?}")));
            }
        };
        let path = match get_ci(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(schema::parse_path(p)?),
            Some(_) => {
                return Err(ScimError::bad_request("invalidPath", "path must be a string"));
            }
        };
        let value = get_ci(operation, "value");
        match (op, path) {
            (Op::Remove, None) => {
                return Err(ScimError::bad_request("noTarget", "remove needs a path"));
            }
            (Op::Remove, Some(target)) => apply(profile, op, &target, None, ctx)?,
            (_, _) if value.is_none() => return Err(invalid_value("add and replace need a value")),
            (_, None) => apply(profile, op, &Target::Root, value, ctx)?,
            (_, Some(target)) => apply(profile, op, &target, value, ctx)?,
        }
    }
    Ok(())
}

/// Before a flat PATCH is merged: what its `name` object means under `partial_name`. (Only the
/// `name` object of UDEF is looked at, not dotted `name.givenName` keys.)
fn flat_name(profile: &mut Profile, body: &Map<String, Value>, config: &LeapsomeConfig) -> Result<(), ScimError> {
    let Some(name) = get_ci(body, "name") else {
        return Ok(());
    };
    match config.partial_name {
        PartialName::Merge => Ok(()),
        // The merge that follows writes the parts sent into an empty name.
        PartialName::ReplaceWhole => {
            profile.attrs.remove("name");
            Ok(())
        }
        PartialName::Reject => {
            let has = |part: &str| name.as_object().and_then(|n| get_ci(n, part)).is_some_and(Value::is_string);
            if has("givenName") && has("familyName") {
                Ok(())
            } else {
                Err(invalid_value("name.givenName and name.familyName are both required"))
            }
        }
    }
}

/// Writes every key of `object`; keys may be plain, dotted or URN-prefixed paths.
pub fn merge(profile: &mut Profile, op: Op, object: &Map<String, Value>, ctx: &Ctx) -> Result<(), ScimError> {
    for (key, value) in object {
        apply(profile, op, &schema::parse_path(key)?, Some(value), ctx)?;
    }
    Ok(())
}

/// `value` is `None` for `remove`; a JSON `null` clears, as Leapsome's flat PATCH documents.
pub fn apply(
    profile: &mut Profile,
    op: Op,
    target: &Target,
    value: Option<&Value>,
    ctx: &Ctx,
) -> Result<(), ScimError> {
    let clearing = op == Op::Remove || matches!(value, None | Some(Value::Null));
    match target {
        Target::ReadOnly => Ok(()),
        Target::Root if op == Op::Remove => Err(ScimError::bad_request("noTarget", "remove needs a path")),
        Target::Root => match value {
            Some(Value::Object(object)) => merge(profile, op, object, ctx),
            _ => Err(invalid_value("a value without a path must be an object")),
        },
        Target::Manager { sub } => {
            manager::write_manager(profile, sub.as_deref(), if clearing { None } else { value }, ctx)
        }
        Target::AdditionalManagers => {
            manager::write_additional_managers(profile, op, if clearing { None } else { value }, ctx)
        }
        Target::Enterprise if clearing => {
            profile.attrs.remove(ENTERPRISE_URN);
            profile.manager = None;
            profile.additional_managers.clear();
            Ok(())
        }
        Target::Enterprise => {
            let object = value
                .and_then(Value::as_object)
                .ok_or_else(|| invalid_value("the enterprise extension must be an object"))?;
            for (key, v) in object {
                let target =
                    schema::enterprise_target(key).map_err(|why| ScimError::bad_request("invalidPath", why))?;
                apply(profile, op, &target, Some(v), ctx)?;
            }
            Ok(())
        }
        Target::EnterpriseAttr { attr, sub } => {
            if !ctx.keeps(attr.leapsome) {
                return Ok(());
            }
            if !clearing && ctx.config.validate_dates && DATE_KEYS.contains(&attr.name.as_str()) {
                check_date(&attr.name, value)?;
            }
            let extension = profile.attrs.entry(ENTERPRISE_URN).or_insert_with(|| Value::Object(Map::new()));
            let extension = extension.as_object_mut().expect("the enterprise extension is stored as an object");
            write_simple(extension, &attr.name, attr.kind, sub.as_deref(), if clearing { None } else { value })
        }
        Target::Core { attr, filter, sub } => {
            if !ctx.keeps(attr.leapsome) {
                return Ok(());
            }
            if attr.name == "emails" {
                match ctx.config.emails_write {
                    EmailsWrite::Writable => {}
                    EmailsWrite::IgnoredReadOnly => return Ok(()),
                    EmailsWrite::Rejected => {
                        return Err(ScimError::bad_request(
                            "mutability",
                            "emails cannot be written; the work email is the userName",
                        ));
                    }
                }
            }
            let value = if clearing { None } else { value };
            match attr.kind {
                Kind::Name => write_name(profile, sub.as_deref(), value, ctx),
                Kind::Multi => multi::write(profile, &attr.name, op, filter.as_ref(), sub.as_deref(), value, ctx),
                Kind::Any if filter.is_some() => {
                    multi::write(profile, &attr.name, op, filter.as_ref(), sub.as_deref(), value, ctx)
                }
                kind => write_simple(&mut profile.attrs, &attr.name, kind, sub.as_deref(), value),
            }
        }
    }
}

/// Strings, booleans and arbitrary kept values; `None` clears.
fn write_simple(
    map: &mut Map<String, Value>,
    name: &str,
    kind: Kind,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match (kind, value) {
        // Leapsome: "Activate (true) or deactivate (false) a user if provided"; clearing is not
        // a third state, so it leaves the flag as it was.
        (Kind::Bool, None) => Ok(()),
        (Kind::Bool, Some(v)) => {
            let b = as_bool(v).ok_or_else(|| invalid_value(format!("{name} must be a boolean, got {v}")))?;
            map.insert(name.into(), Value::Bool(b));
            Ok(())
        }
        (Kind::Any, value) if sub.is_some() => {
            let sub = sub.expect("checked above");
            let entry = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
            let object = entry.as_object_mut().ok_or_else(|| invalid_value(format!("{name} has no sub-attributes")))?;
            match value {
                None => object.remove(sub),
                Some(v) => object.insert(sub.into(), v.clone()),
            };
            Ok(())
        }
        (_, None) => {
            map.remove(name);
            Ok(())
        }
        (Kind::Str, Some(Value::String(s))) => {
            map.insert(name.into(), Value::String(s.clone()));
            Ok(())
        }
        (Kind::Str, Some(v)) => Err(invalid_value(format!("{name} must be a string, got {v}"))),
        (_, Some(v)) => {
            map.insert(name.into(), v.clone());
            Ok(())
        }
    }
}

fn write_name(profile: &mut Profile, sub: Option<&str>, value: Option<&Value>, ctx: &Ctx) -> Result<(), ScimError> {
    let set = |profile: &mut Profile, key: &str, v: Option<&Value>| -> Result<(), ScimError> {
        let (canonical, leapsome) = match canonical_name_sub(key) {
            Some(found) => found,
            None if ctx.config.keep_unknown_attributes => (key, false),
            None => return Ok(()),
        };
        if !ctx.keeps(leapsome) {
            return Ok(());
        }
        let name = profile.attrs.entry("name").or_insert_with(|| Value::Object(Map::new()));
        let name = name.as_object_mut().expect("name is stored as an object");
        match v {
            None | Some(Value::Null) => name.remove(canonical),
            Some(Value::String(s)) => name.insert(canonical.into(), Value::String(s.clone())),
            Some(v) => {
                return Err(invalid_value(format!("name.{canonical} must be a string, got {v}")));
            }
        };
        Ok(())
    };
    match (sub, value) {
        (Some(sub), v) => set(profile, sub, v),
        (None, None) => {
            profile.attrs.remove("name");
            Ok(())
        }
        (None, Some(Value::Object(parts))) => parts.iter().try_for_each(|(k, v)| set(profile, k, Some(v))),
        (None, Some(v)) => Err(invalid_value(format!("name must be an object, got {v}"))),
    }
}

fn check_date(name: &str, value: Option<&Value>) -> Result<(), ScimError> {
    let ok = value.and_then(Value::as_str).is_some_and(|s| {
        let b = s.as_bytes();
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
            && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
            && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid_value(format!("{name} must be a date as YYYY-MM-DD, got {}", value.unwrap_or(&Value::Null))))
    }
}
