//! Reading a SCIM user as servers return it. Servers differ: Leapsome drops attributes it does not
//! store and reads `manager` back as `{managerId, displayName}` (and a top-level `{value}`); RFC
//! servers use `{value, displayName}`; some echo the string that was written.

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::Value;

use super::model::{Attr, AttrSet, ENTERPRISE, Profile, pairs};
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

/// JSON as a SCIM user is read from a listing: strings borrowed from the page where they have no
/// escapes, objects as their members in document order. Reading pages of users into
/// `serde_json::Value`s, a `BTreeMap` node and a `String` for every member, was a seventh of a
/// steady sync; a user has a dozen members, found by a scan (their names are case-insensitive
/// anyway).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The same JSON, borrowing from a `Value` (a reply to a single write).
    pub fn of(v: &'a Value) -> Json<'a> {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::Str(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::of).collect()),
            Value::Object(members) => {
                Json::Object(members.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::of(v))).collect())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Name(name)) = map.next_key()? {
            members.push((name, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// A member name, borrowed where it has no escapes (`Cow<str>` itself always copies).
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(JsonVisitor).and_then(|json| match json {
            Json::Str(name) => Ok(Name(name)),
            _ => Err(de::Error::custom("a member name is text")),
        })
    }
}

/// A value as text, borrowed from the page where it is a string (numbers are spelled out).
fn text<'j>(v: Option<&'j Json>) -> Option<Cow<'j, str>> {
    match v? {
        Json::Str(s) => Some(Cow::Borrowed(s.as_ref())),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn lookup<'j, 'a>(v: &'j Json<'a>, key: &str) -> Option<&'j Json<'a>> {
    // Attribute names are case-insensitive in SCIM (RFC 7643 §2.1). Of members named alike, the
    // last, as a JSON object read into a map keeps the last of a repeated name.
    let Json::Object(members) = v else { return None };
    members.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn is_true(v: &Json) -> bool {
    match v {
        Json::Bool(b) => *b,
        Json::Str(s) => s == "true" || s == "True",
        _ => false,
    }
}

fn primary_value<'j>(list: Option<&'j Json>) -> Option<Option<Cow<'j, str>>> {
    let Json::Array(items) = list? else { return None };
    let chosen = items
        .iter()
        .find(|e| lookup(e, "primary").is_some_and(is_true))
        .or_else(|| items.iter().find(|e| lookup(e, "type").is_some_and(|t| matches!(t, Json::Str(t) if t == "work"))))
        .or_else(|| items.first());
    Some(chosen.and_then(|e| text(lookup(e, "value"))))
}

fn manager_ref<'j>(v: &'j Json) -> Option<Cow<'j, str>> {
    match v {
        Json::Str(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_ref())),
        Json::Object(_) => text(lookup(v, "value")).or_else(|| text(lookup(v, "managerId"))).filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Parses a user resource; `None` when it has no id (e.g. Leapsome's `{}` for "already exists").
pub fn parse_user(v: &Value) -> Option<RemoteUser> {
    parse_user_json(&Json::of(v))
}

/// [`parse_user`], of a resource read from a page. Values stay borrowed from the page until
/// packed (a user has a dozen; a copy of each was a fifth of reading a page of users).
pub fn parse_user_json<'j>(v: &'j Json) -> Option<RemoteUser> {
    let id = text(lookup(v, "id")).filter(|s| !s.is_empty())?;
    let mut entries: Vec<(Attr, Cow<'j, str>)> = Vec::with_capacity(Attr::ALL.len());
    let mut returned = AttrSet::default();
    let mut put = |attr: Attr, value: Option<Option<Cow<'j, str>>>| {
        if let Some(value) = value {
            returned.insert(attr);
            if let Some(s) = value.filter(|s| !s.is_empty()) {
                entries.push((attr, s));
            }
        }
    };
    let present = |key: &str, src: &'j Json| lookup(src, key).map(|x| text(Some(x)));
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
        // The extra fields and custom attributes (24-hex keys) in one pass over the extension
        // (a steady sync reads every account: one scan, not one per key). Custom attributes are
        // kept all, sorted by id (the diff compares only those mapped), and count as returned
        // whenever the extension is there.
        let mut custom: Vec<(String, Cow<'j, str>)> = Vec::new();
        if let Json::Object(members) = ext {
            for (key, value) in members {
                let attr = match key.len() {
                    24 if key.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        custom.retain(|(id, _)| !id.eq_ignore_ascii_case(key));
                        custom.extend(text(Some(value)).map(|v| (key.to_ascii_lowercase(), v)));
                        continue;
                    }
                    _ if key.eq_ignore_ascii_case("startDate") => Attr::StartDate,
                    _ if key.eq_ignore_ascii_case("endDate") => Attr::EndDate,
                    _ if key.eq_ignore_ascii_case("location") => Attr::Location,
                    _ if key.eq_ignore_ascii_case("gender") => Attr::Gender,
                    _ if key.eq_ignore_ascii_case("birthday") => Attr::Birthday,
                    _ => continue,
                };
                put(attr, Some(text(Some(value))));
            }
        }
        custom.sort_by(|a, b| a.0.cmp(&b.0));
        let mut text = String::new();
        for (id, value) in custom {
            pairs::push(&mut text, &id, &value);
        }
        put(Attr::Custom, Some(Some(Cow::Owned(text))));
    }
    let manager = enterprise
        .and_then(|e| lookup(e, "manager"))
        .and_then(manager_ref)
        .or_else(|| lookup(v, "manager").and_then(manager_ref));
    let active = match lookup(v, "active") {
        Some(Json::Bool(b)) => *b,
        Some(Json::Str(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    };
    let attributes: Profile = entries.iter().map(|(attr, value)| (*attr, value.as_ref())).collect();
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
    fn a_user_read_from_page_text_is_the_user_read_from_a_value() {
        let texts = [
            r#"{"id":"u1","userName":"a@x.test","externalId":"p1","active":false,"name":{"givenName":"A\u00e9","familyName":"B\"q\""},
               "emails":[{"type":"home","value":"h@x"},{"primary":"True","value":"w@x"}],"title":null,
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":42,"manager":{"managerId":"m1"}},
               "meta":{"resourceType":"User","created":"2020-01-01T00:00:00Z"},"schemas":["a","b"]}"#,
            r#"{"ID":"u2","USERNAME":"b@x","Active":"FALSE","phoneNumbers":[{"type":"work","value":"+1"}],"emails":[]}"#,
            r#"{"id":7,"userName":"c@x","userName":"d@x","manager":{"value":""},"timezone":1.5,"nickName":-3}"#,
            r#"{"id":"u4","manager":"boss@x","emails":{"value":"not a list"},"name":"not an object","active":null}"#,
            r#"{"id":"","userName":"no id"}"#,
            r#"{}"#,
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            let json: Json = serde_json::from_str(text).unwrap();
            assert_eq!(parse_user_json(&json), parse_user(&value), "{text}");
        }
    }

    #[test]
    fn page_text_is_borrowed_where_it_has_no_escapes() {
        let json: Json = serde_json::from_str(r#"{"plain":"a","esc\u0061ped":"b\n"}"#).unwrap();
        let Json::Object(members) = json else { panic!("an object") };
        assert!(matches!(&members[0], (Cow::Borrowed("plain"), Json::Str(Cow::Borrowed("a")))));
        assert!(matches!(&members[1], (Cow::Owned(k), Json::Str(Cow::Owned(v))) if k == "escaped" && v == "b\n"));
    }

    #[test]
    fn extra_fields_and_custom_attributes_read_back() {
        let u = parse_user(&json!({"id": "x", "userName": "u", ENTERPRISE: {
            "startDate": "2024-01-01", "GENDER": "female", "location": null, "department": "Eng",
            "ffffffffffffffffffffffff": "theirs", "6140868326541A4DA586DB0B": "M", "0000000000000000000000aa": 7,
            "manager": {"managerId": "m1"}}}))
        .unwrap();
        assert_eq!(u.attributes.get(&Attr::StartDate), Some("2024-01-01"));
        assert_eq!(u.attributes.get(&Attr::Gender), Some("female"));
        assert!(u.returned.contains(&Attr::Location) && u.attributes.get(&Attr::Location).is_none());
        assert!(!u.returned.contains(&Attr::Birthday));
        assert_eq!(
            u.attributes.get(&Attr::Custom),
            Some(
                "0000000000000000000000aa\u{1f}7\u{1e}6140868326541a4da586db0b\u{1f}M\u{1e}ffffffffffffffffffffffff\u{1f}theirs"
            )
        );
        let none = parse_user(&json!({"id": "x", "userName": "u"})).unwrap();
        assert!(!none.returned.contains(&Attr::Custom));
    }

    #[test]
    fn empty_object_is_not_a_user() {
        assert!(parse_user(&json!({})).is_none());
    }
}
