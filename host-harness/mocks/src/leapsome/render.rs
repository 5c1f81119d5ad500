//! What the mock answers: users as Leapsome's read-side `User` schema shows them (or as an RFC
//! 7643 server would in strict mode), and the ServiceProviderConfig document.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::config::LeapsomeConfig;
use super::multi;
use super::schema::{CORE_URN, ENTERPRISE_URN, LIST_URN};
use super::store::{Store, UserRecord};

/// The name Leapsome shows next to a manager reference.
fn display_name(store: &Store, id: &str) -> String {
    let Some(user) = store.any(id) else {
        return String::new();
    };
    let attrs = &user.profile.attrs;
    if let Some(name) = attrs.get("displayName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        return name.to_owned();
    }
    let part = |key: &str| attrs.get("name").and_then(|n| n.get(key)).and_then(Value::as_str).unwrap_or("");
    let full = format!("{} {}", part("givenName"), part("familyName")).trim().to_owned();
    if full.is_empty() { user.user_name().to_owned() } else { full }
}

/// SPEC's `UserManager {managerId, displayName}`, or RFC 7643's `{value, $ref, displayName}`.
fn manager_object(store: &Store, id: &str, config: &LeapsomeConfig, base_url: &str) -> Value {
    if config.strict_rfc {
        json!({"value": id, "$ref": format!("{base_url}/Users/{id}"), "displayName": display_name(store, id)})
    } else {
        json!({"managerId": id, "displayName": display_name(store, id)})
    }
}

/// A user as GET, POST, PUT and PATCH answer it. `list_page` writes the same JSON without a
/// `Value`; a change here needs the same change there (the tests compare the two).
pub fn user(record: &UserRecord, store: &Store, config: &LeapsomeConfig, base_url: &str) -> Value {
    let strict = config.strict_rfc;
    let profile = &record.profile;
    let mut out: Map<String, Value> = profile
        .attrs
        .iter()
        .filter(|(k, _)| k.as_str() != ENTERPRISE_URN)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert("schemas".into(), json!([CORE_URN, ENTERPRISE_URN]));
    out.insert("id".into(), json!(record.id));
    if out.get("name").and_then(Value::as_object).is_some_and(Map::is_empty) {
        out.remove("name");
    }
    out.entry("active").or_insert(Value::Bool(true));
    let emails = multi::entries(profile, "emails");
    let emails = if strict {
        emails
    } else {
        // Leapsome keeps one work email: "primary: Always true", "type: Always set to work".
        let pick = |f: &dyn Fn(&Map<String, Value>) -> bool| emails.iter().find(|e| f(e)).cloned();
        let chosen = pick(&|e| e.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| {
                pick(&|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
            })
            .or_else(|| emails.first().cloned());
        let value = chosen.and_then(|e| e.get("value").cloned()).unwrap_or(Value::Null);
        vec![multi::derived_email(value.as_str().unwrap_or(record.user_name()))]
    };
    out.insert("emails".into(), Value::Array(emails.into_iter().map(Value::Object).collect()));
    if !strict {
        if let Some(first) = profile.attrs.get("photos").and_then(Value::as_array).and_then(|p| p.first()) {
            out.insert("photos".into(), json!([{"value": first.get("value"), "type": "photo"}]));
        }
        out.entry("title").or_insert(json!("Colleague"));
        if let Some(manager) = &profile.manager {
            out.insert("manager".into(), json!({"value": manager}));
        }
    }
    out.insert("groups".into(), json!([]));

    let mut extension = profile.attrs.get(ENTERPRISE_URN).and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(manager) = &profile.manager {
        extension.insert("manager".into(), manager_object(store, manager, config, base_url));
    }
    if !profile.additional_managers.is_empty() {
        let list = profile.additional_managers.iter().map(|id| manager_object(store, id, config, base_url)).collect();
        extension.insert("additionalManagers".into(), Value::Array(list));
    }
    if !extension.is_empty() {
        out.insert(ENTERPRISE_URN.into(), Value::Object(extension));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": record.created,
            "lastModified": record.last_modified,
            "location": format!("{base_url}/Users/{}", record.id),
            "version": format!("W/\"{}\"", record.version),
        }),
    );
    Value::Object(out)
}

/// A list page's body, `{"Resources", "itemsPerPage", "schemas", "startIndex", "totalResults"}`,
/// written straight from the stored users: the same bytes as serialising a `json!` envelope
/// around `user()` for each, without building a `Value` tree per user.
pub fn list_page(
    page: &[&UserRecord],
    total: usize,
    start_index: i64,
    store: &Store,
    config: &LeapsomeConfig,
    base_url: &str,
) -> Vec<u8> {
    let env = Env { store, strict: config.strict_rfc, base_url };
    let body = ListPage {
        resources: Resources { page, env },
        items_per_page: page.len(),
        schemas: [LIST_URN],
        start_index,
        total_results: total,
    };
    // A user is some 700-1,000 bytes: reserving the page up front spares the buffer's doublings.
    let mut out = Vec::with_capacity(256 + page.len() * 1024);
    serde_json::to_writer(&mut out, &body).expect("a list page serialises");
    out
}

/// One user as `list_page` writes it (for tests: compared with `user()`).
#[cfg(test)]
pub(super) fn user_bytes(record: &UserRecord, store: &Store, config: &LeapsomeConfig, base_url: &str) -> Vec<u8> {
    let view = UserView { record, env: Env { store, strict: config.strict_rfc, base_url } };
    serde_json::to_vec(&view).expect("a user serialises")
}

// The borrowed rendering below mirrors `user()` key for key. serde_json's `Map` is a `BTreeMap`
// here (no `preserve_order`), so `user()` serialises its keys sorted; the views write them in
// the same order (`Fields` stays sorted) and their values borrow from the stored profile.

/// What rendering needs besides the user.
#[derive(Clone, Copy)]
struct Env<'a> {
    store: &'a Store,
    strict: bool,
    base_url: &'a str,
}

/// Keys in ascending order: the order in which serde_json's `Map` serialises them.
#[derive(Serialize)]
struct ListPage<'a> {
    #[serde(rename = "Resources")]
    resources: Resources<'a>,
    #[serde(rename = "itemsPerPage")]
    items_per_page: usize,
    schemas: [&'static str; 1],
    #[serde(rename = "startIndex")]
    start_index: i64,
    #[serde(rename = "totalResults")]
    total_results: usize,
}

struct Resources<'a> {
    page: &'a [&'a UserRecord],
    env: Env<'a>,
}

impl Serialize for Resources<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.page.iter().map(|&record| UserView { record, env: self.env }))
    }
}

/// An object's members sorted by key, as a `Map` holds them; `set` and `or_insert` behave as
/// `Map::insert` and `Map::entry(..).or_insert`.
struct Fields<'a>(Vec<(&'a str, Field<'a>)>);

impl<'a> Fields<'a> {
    /// The members of a stored object (already sorted).
    fn of(map: &'a Map<String, Value>, capacity: usize) -> Self {
        let mut fields = Vec::with_capacity(map.len() + capacity);
        fields.extend(map.iter().map(|(k, v)| (k.as_str(), Field::Value(v))));
        Fields(fields)
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(key))
    }

    fn get(&self, key: &str) -> Option<&Field<'a>> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    fn set(&mut self, key: &'a str, field: Field<'a>) {
        match self.position(key) {
            Ok(i) => self.0[i].1 = field,
            Err(i) => self.0.insert(i, (key, field)),
        }
    }

    fn or_insert(&mut self, key: &'a str, field: Field<'a>) {
        if let Err(i) = self.position(key) {
            self.0.insert(i, (key, field));
        }
    }

    fn remove(&mut self, key: &str) {
        if let Ok(i) = self.position(key) {
            self.0.remove(i);
        }
    }
}

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, field) in &self.0 {
            map.serialize_entry(key, field)?;
        }
        map.end()
    }
}

/// A member's value, borrowed from the stored user where `user()` clones.
enum Field<'a> {
    Value(&'a Value),
    Str(&'a str),
    Bool(bool),
    /// `["…:core:2.0:User", "…:enterprise:2.0:User"]`
    Schemas,
    EmptyArray,
    Emails(&'a UserRecord, bool),
    /// Leapsome's one photo: `[{"type": "photo", "value": <the first photo's value>}]`.
    Photo(Option<&'a Value>),
    /// `{"value": <id>}`
    IdValue(&'a str),
    Enterprise(&'a UserRecord, Env<'a>),
    Manager(&'a str, Env<'a>),
    Managers(&'a [String], Env<'a>),
    Meta(&'a UserRecord, &'a str),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Field::Value(value) => value.serialize(serializer),
            Field::Str(s) => serializer.serialize_str(s),
            Field::Bool(b) => serializer.serialize_bool(b),
            Field::Schemas => [CORE_URN, ENTERPRISE_URN].serialize(serializer),
            Field::EmptyArray => serializer.collect_seq(std::iter::empty::<()>()),
            Field::Emails(record, strict) => serialize_emails(record, strict, serializer),
            Field::Photo(value) => {
                // `first.get("value")`: `None` (written as null) unless the photo is an object
                // with a value.
                let photo = PhotoEntry { kind: "photo", value };
                [photo].serialize(serializer)
            }
            Field::IdValue(id) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("value", id)?;
                map.end()
            }
            Field::Enterprise(record, env) => enterprise(record, env).serialize(serializer),
            Field::Manager(id, env) => serialize_manager(id, env, serializer),
            Field::Managers(ids, env) => serializer.collect_seq(ids.iter().map(|id| Field::Manager(id, env))),
            Field::Meta(record, base_url) => {
                let mut map = serializer.serialize_map(Some(5))?;
                map.serialize_entry("created", &record.created)?;
                map.serialize_entry("lastModified", &record.last_modified)?;
                map.serialize_entry("location", &format_args!("{base_url}/Users/{}", record.id))?;
                map.serialize_entry("resourceType", "User")?;
                map.serialize_entry("version", &format_args!("W/\"{}\"", record.version))?;
                map.end()
            }
        }
    }
}

#[derive(Serialize)]
struct PhotoEntry<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: Option<&'a Value>,
}

/// `multi::derived_email`'s keys, sorted.
#[derive(Serialize)]
struct DerivedEmail<'a> {
    primary: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

/// `user()`'s emails: in strict mode the stored entries (or the one derived from userName), in
/// Leapsome mode one work email with the primary, else the first work, else the first entry's
/// value, falling back to userName.
fn serialize_emails<S: Serializer>(record: &UserRecord, strict: bool, serializer: S) -> Result<S::Ok, S::Error> {
    let stored = record.profile.attrs.get("emails").and_then(Value::as_array);
    let user_name = record.user_name();
    let derived = |value| [DerivedEmail { primary: true, kind: "work", value }];
    match stored {
        Some(items) if strict => serializer.collect_seq(items.iter().filter(|v| v.is_object())),
        None if strict && user_name.is_empty() => serializer.collect_seq(std::iter::empty::<()>()),
        None if strict => derived(user_name).serialize(serializer),
        Some(items) => {
            let entries = || items.iter().filter_map(Value::as_object);
            let chosen = entries()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| {
                    entries()
                        .find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
                })
                .or_else(|| entries().next());
            let value = chosen.and_then(|e| e.get("value")).and_then(Value::as_str);
            derived(value.unwrap_or(user_name)).serialize(serializer)
        }
        // No stored entries: the one derived from userName (or none), whose value is userName.
        None => derived(user_name).serialize(serializer),
    }
}

fn serialize_manager<S: Serializer>(id: &str, env: Env, serializer: S) -> Result<S::Ok, S::Error> {
    let name = display_name(env.store, id);
    let mut map = serializer.serialize_map(Some(if env.strict { 3 } else { 2 }))?;
    if env.strict {
        map.serialize_entry("$ref", &format_args!("{}/Users/{id}", env.base_url))?;
        map.serialize_entry("displayName", &name)?;
        map.serialize_entry("value", id)?;
    } else {
        map.serialize_entry("displayName", &name)?;
        map.serialize_entry("managerId", id)?;
    }
    map.end()
}

/// The enterprise object `user()` builds: the stored one plus the resolved managers.
fn enterprise<'a>(record: &'a UserRecord, env: Env<'a>) -> Fields<'a> {
    let profile = &record.profile;
    let mut fields = match profile.attrs.get(ENTERPRISE_URN).and_then(Value::as_object) {
        Some(stored) => Fields::of(stored, 2),
        None => Fields(Vec::with_capacity(2)),
    };
    if let Some(manager) = &profile.manager {
        fields.set("manager", Field::Manager(manager, env));
    }
    if !profile.additional_managers.is_empty() {
        fields.set("additionalManagers", Field::Managers(&profile.additional_managers, env));
    }
    fields
}

/// One user, written as `user()` renders it.
struct UserView<'a> {
    record: &'a UserRecord,
    env: Env<'a>,
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (record, env) = (self.record, self.env);
        let profile = &record.profile;
        let mut out = Fields::of(&profile.attrs, 10);
        out.remove(ENTERPRISE_URN);
        out.set("schemas", Field::Schemas);
        out.set("id", Field::Str(&record.id));
        if let Some(Field::Value(Value::Object(name))) = out.get("name")
            && name.is_empty()
        {
            out.remove("name");
        }
        out.or_insert("active", Field::Bool(true));
        out.set("emails", Field::Emails(record, env.strict));
        if !env.strict {
            if let Some(first) = profile.attrs.get("photos").and_then(Value::as_array).and_then(|p| p.first()) {
                out.set("photos", Field::Photo(first.get("value")));
            }
            out.or_insert("title", Field::Str("Colleague"));
            if let Some(manager) = &profile.manager {
                out.set("manager", Field::IdValue(manager));
            }
        }
        out.set("groups", Field::EmptyArray);
        let has_extension = profile.manager.is_some()
            || !profile.additional_managers.is_empty()
            || profile.attrs.get(ENTERPRISE_URN).and_then(Value::as_object).is_some_and(|e| !e.is_empty());
        if has_extension {
            out.set(ENTERPRISE_URN, Field::Enterprise(record, env));
        }
        out.set("meta", Field::Meta(record, env.base_url));
        out.serialize(serializer)
    }
}

/// SPEC's shape (`documentationUrl`, one `authenticationSchemes` object) by default; RFC 7643
/// §5's (`documentationUri`, an array) in strict mode. Only supported features are true.
pub fn service_provider_config(config: &LeapsomeConfig, base_url: &str) -> Value {
    let docs = "https://api.leapsome.com/scim/v1/api-docs/";
    let name = "OAuth Bearer Token";
    let description = "The SCIM-Authentication-Token generated in the Leapsome admin area";
    let spec = "https://www.rfc-editor.org/info/rfc6750";
    let mut out = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": config.max_page_size},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
    });
    let extra = if config.strict_rfc {
        json!({
            "documentationUri": docs,
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": name, "description": description,
                "specUri": spec, "documentationUri": docs, "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base_url}/ServiceProviderConfig")},
        })
    } else {
        json!({
            "documentationUrl": docs,
            "authenticationSchemes": {"name": name, "description": description, "specUrl": spec, "documentationUrl": docs},
        })
    };
    out.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    out
}
