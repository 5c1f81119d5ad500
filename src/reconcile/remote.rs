//! Reading a SCIM user as servers return it. Servers differ: Leapsome drops attributes it does not
//! store and reads `manager` back as `{managerId, displayName}` (and a top-level `{value}`); RFC
//! servers use `{value, displayName}`; some echo the string that was written.

use serde_json::Value;

use super::model::{Attr, AttrSet, ENTERPRISE, Profile};
use super::packed::Packed;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    /// The id and the manager reference, in one allocation (a sync holds every account).
    refs: Packed,
    pub active: bool,
    /// The managed attributes the server returned (only those it returned).
    pub attributes: Profile,
    /// Managed attributes present in the response at all (even if empty), so absent ones can be
    /// told apart from empty ones when adopting an account.
    pub returned: AttrSet,
}

const ID: u8 = 0;
const MANAGER: u8 = 1;

impl RemoteUser {
    pub fn new(id: &str, active: bool, attributes: Profile, returned: AttrSet, manager: Option<&str>) -> RemoteUser {
        let refs = [(ID, Some(id)), (MANAGER, manager)].into_iter().filter_map(|(f, v)| Some((f, v?)));
        RemoteUser { refs: Packed::pack(refs), active, attributes, returned }
    }

    pub fn id(&self) -> &str {
        self.refs.get(ID).unwrap_or("")
    }

    /// The manager reference as read: an id, or whatever string the server echoes.
    pub fn manager(&self) -> Option<&str> {
        self.refs.get(MANAGER)
    }

    /// Kept once, in `attributes` (a sync holds every account of the organisation).
    pub fn user_name(&self) -> &str {
        self.attributes.get(&Attr::UserName).unwrap_or("")
    }

    pub fn external_id(&self) -> Option<&str> {
        self.attributes.get(&Attr::ExternalId)
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn lookup<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    // Attribute names are case-insensitive in SCIM (RFC 7643 §2.1); most servers spell them as
    // the RFC does, found without a scan.
    let object = v.as_object()?;
    object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn primary_value(list: Option<&Value>) -> Option<Option<String>> {
    let items = list?.as_array()?;
    let chosen = items
        .iter()
        .find(|e| lookup(e, "primary").is_some_and(|p| p == &Value::Bool(true) || p == "true" || p == "True"))
        .or_else(|| items.iter().find(|e| lookup(e, "type").is_some_and(|t| t == "work")))
        .or_else(|| items.first());
    Some(chosen.and_then(|e| text(lookup(e, "value"))))
}

fn manager_ref(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(_) => text(lookup(v, "value")).or_else(|| text(lookup(v, "managerId"))).filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Parses a user resource; `None` when it has no id (e.g. Leapsome's `{}` for "already exists").
pub fn parse_user(v: &Value) -> Option<RemoteUser> {
    let id = text(lookup(v, "id")).filter(|s| !s.is_empty())?;
    let mut entries: Vec<(Attr, String)> = Vec::new();
    let mut returned = AttrSet::default();
    let mut put = |attr: Attr, value: Option<Option<String>>| {
        if let Some(value) = value {
            returned.insert(attr);
            if let Some(s) = value.filter(|s| !s.is_empty()) {
                entries.push((attr, s));
            }
        }
    };
    let present = |key: &str, src: &Value| lookup(src, key).map(|x| text(Some(x)));
    put(Attr::UserName, present("userName", v));
    put(Attr::ExternalId, present("externalId", v));
    put(Attr::NickName, present("nickName", v));
    put(Attr::Timezone, present("timezone", v));
    put(Attr::UserType, present("userType", v));
    put(Attr::Title, present("title", v));
    put(Attr::Email, primary_value(lookup(v, "emails")));
    put(Attr::Phone, primary_value(lookup(v, "phoneNumbers")));
    if let Some(name) = lookup(v, "name") {
        put(Attr::GivenName, present("givenName", name));
        put(Attr::MiddleName, present("middleName", name));
        put(Attr::FamilyName, present("familyName", name));
    }
    let enterprise = lookup(v, ENTERPRISE);
    if let Some(ext) = enterprise {
        put(Attr::EmployeeNumber, present("employeeNumber", ext));
        put(Attr::Organization, present("organization", ext));
        put(Attr::Department, present("department", ext));
    }
    let manager = enterprise
        .and_then(|e| lookup(e, "manager"))
        .and_then(manager_ref)
        .or_else(|| lookup(v, "manager").and_then(manager_ref));
    let active = match lookup(v, "active") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    };
    let attributes: Profile = entries.into_iter().collect();
    Some(RemoteUser::new(&id, active, attributes, returned, manager.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_leapsome_shape() {
        let u = parse_user(&json!({
            "id": "5ecba01fb567a5d046582027", "userName": "a@acme.test", "externalId": "p1", "active": false,
            "name": {"givenName": "A", "familyName": "B"}, "title": "Colleague",
            "emails": [{"primary": true, "type": "work", "value": "a@acme.test"}],
            ENTERPRISE: {"department": "Eng", "manager": {"managerId": "m1", "displayName": "M"}},
            "manager": {"value": "m1"}
        }))
        .unwrap();
        assert_eq!(u.id(), "5ecba01fb567a5d046582027");
        assert!(!u.active);
        assert_eq!(u.manager(), Some("m1"));
        assert_eq!(&u.attributes[&Attr::Department], "Eng");
        assert!(!u.returned.contains(&Attr::NickName));
        assert!(u.returned.contains(&Attr::GivenName));
    }

    #[test]
    fn reads_rfc_and_string_managers_and_string_booleans() {
        let u = parse_user(&json!({"id": "x", "userName": "u", "active": "False",
            ENTERPRISE: {"manager": {"value": "m2", "displayName": "M"}}}))
        .unwrap();
        assert_eq!(u.manager(), Some("m2"));
        assert!(!u.active);
        let s = parse_user(&json!({"id": "x", "userName": "u", "manager": "boss@acme.test"})).unwrap();
        assert_eq!(s.manager(), Some("boss@acme.test"));
        assert!(s.active);
    }

    #[test]
    fn empty_object_is_not_a_user() {
        assert!(parse_user(&json!({})).is_none());
    }
}
