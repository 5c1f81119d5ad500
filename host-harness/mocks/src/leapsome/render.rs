//! What the mock answers: users as Leapsome's read-side `User` schema shows them (or as an RFC
//! 7643 server would in strict mode), and the ServiceProviderConfig document.

use crate::humaans::dates::civil_from_days;
use serde_json::{Map, Value, json};

use super::LeapsomeConfig;
use super::multi;
use super::schema::{CORE_URN, ENTERPRISE_URN};
use super::store::{Store, UserRecord};

/// The current time as an RFC 3339 UTC date-time with milliseconds.
pub fn now() -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rem = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_days_to_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let stamp = now();
        assert_eq!((stamp.len(), &stamp[10..11], &stamp[23..]), (24, "T", "Z"), "{stamp}");
    }
}
