//! SCIM request bodies, by dialect. Leapsome: PATCH is a flat user object that must carry
//! `userName`; RFC 7644: PATCH is a `PatchOp`. Creation is the same full resource in both.

use serde_json::{Map, Value, json};

use super::model::{Attr, Dialect, ENTERPRISE, Profile, pairs};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Sets `attr` in a flat (resource-shaped) body; `None`/empty clears with `null`.
fn put_flat(body: &mut Map<String, Value>, attr: Attr, value: Option<&str>) {
    let v = value.filter(|s| !s.is_empty()).map_or(Value::Null, |s| Value::String(s.to_owned()));
    let mut nested = |outer: &str, key: &str, v: Value| {
        let entry = body.entry(outer.to_owned()).or_insert_with(|| json!({}));
        entry.as_object_mut().expect("object").insert(key.to_owned(), v);
    };
    match attr {
        Attr::GivenName => nested("name", "givenName", v),
        Attr::MiddleName => nested("name", "middleName", v),
        Attr::FamilyName => nested("name", "familyName", v),
        Attr::EmployeeNumber => nested(ENTERPRISE, "employeeNumber", v),
        Attr::Organization => nested(ENTERPRISE, "organization", v),
        Attr::Department => nested(ENTERPRISE, "department", v),
        Attr::StartDate | Attr::EndDate | Attr::Location | Attr::Gender | Attr::Birthday => {
            nested(ENTERPRISE, attr.name(), v)
        }
        // One key per custom attribute: its 24-hex id (Leapsome's UDEF).
        Attr::Custom => {
            for (id, value) in pairs::entries(value.unwrap_or("")) {
                let v = if value.is_empty() { Value::Null } else { Value::String(value.to_owned()) };
                nested(ENTERPRISE, id, v);
            }
        }
        Attr::Email => {
            body.insert("emails".into(), multi_valued(v));
        }
        Attr::Phone => {
            body.insert("phoneNumbers".into(), multi_valued(v));
        }
        other => {
            body.insert(other.name().to_owned(), v);
        }
    }
}

fn multi_valued(v: Value) -> Value {
    if v.is_null() { json!([]) } else { json!([{"value": v, "type": "work", "primary": true}]) }
}

fn schemas(enterprise: bool) -> Value {
    if enterprise { json!([USER_SCHEMA, ENTERPRISE]) } else { json!([USER_SCHEMA]) }
}

/// `POST /Users`: the full resource, active.
pub fn create_body(profile: &Profile) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), schemas(true));
    for attr in Attr::ALL {
        // A mapped extra field with no value has nothing to create.
        if let Some(v) = profile.get(&attr).filter(|v| !v.is_empty()) {
            if attr == Attr::Custom {
                let set: String = pairs::entries(v).filter(|(_, value)| !value.is_empty()).fold(
                    String::new(),
                    |mut text, (id, value)| {
                        pairs::push(&mut text, id, value);
                        text
                    },
                );
                put_flat(&mut body, attr, Some(&set));
            } else {
                put_flat(&mut body, attr, Some(v));
            }
        }
    }
    body.insert("active".into(), Value::Bool(true));
    Value::Object(body)
}

/// The RFC 7644 path of an attribute.
fn rfc_path(attr: Attr) -> String {
    match attr {
        Attr::Email => "emails[type eq \"work\"].value".into(),
        Attr::Phone => "phoneNumbers[type eq \"work\"].value".into(),
        a if a.is_enterprise() => format!("{ENTERPRISE}:{}", a.name()),
        a => a.name().into(),
    }
}

/// A minimal update of `changes` (empty value = clear). `user_name` is the account's userName
/// after the update (Leapsome requires it on every PATCH).
pub fn update_body(changes: &Profile, user_name: &str, dialect: Dialect) -> Value {
    match dialect {
        Dialect::Leapsome => {
            let mut body = Map::new();
            let enterprise = changes.keys().any(|a| a.is_enterprise());
            body.insert("schemas".into(), schemas(enterprise));
            body.insert("userName".into(), Value::String(user_name.to_owned()));
            for (attr, v) in changes {
                put_flat(&mut body, *attr, Some(v));
            }
            Value::Object(body)
        }
        Dialect::Rfc7644 => {
            let ops: Vec<Value> = changes
                .iter()
                .flat_map(|(attr, v)| {
                    if *attr == Attr::Custom {
                        // One operation per custom attribute, at `<enterprise URN>:<24-hex id>`.
                        return pairs::entries(v)
                            .map(|(id, value)| match value {
                                "" => json!({"op": "remove", "path": format!("{ENTERPRISE}:{id}")}),
                                value => json!({"op": "replace", "path": format!("{ENTERPRISE}:{id}"), "value": value}),
                            })
                            .collect::<Vec<_>>();
                    }
                    vec![rfc_op(*attr, v)]
                })
                .collect();
            json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
        }
    }
}

/// The RFC 7644 operation writing one attribute (empty value = remove).
fn rfc_op(attr: Attr, v: &str) -> Value {
    match (&attr, v.is_empty()) {
        // Multi-valued: replace the whole list so a server without the entry gets one.
        (Attr::Email | Attr::Phone, false) => {
            let list = if attr == Attr::Email { "emails" } else { "phoneNumbers" };
            json!({"op": "replace", "path": list, "value": multi_valued(Value::String(v.to_owned()))})
        }
        (Attr::Email | Attr::Phone, true) => {
            json!({"op": "remove", "path": if attr == Attr::Email { "emails" } else { "phoneNumbers" }})
        }
        (_, true) => json!({"op": "remove", "path": rfc_path(attr)}),
        (_, false) => json!({"op": "replace", "path": rfc_path(attr), "value": v}),
    }
}

/// Activate or deactivate (suspend) the account.
pub fn active_body(active: bool, user_name: &str, dialect: Dialect) -> Value {
    match dialect {
        Dialect::Leapsome => json!({"schemas": [USER_SCHEMA], "userName": user_name, "active": active}),
        Dialect::Rfc7644 => {
            json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": active}]})
        }
    }
}

/// Set or clear the manager: the manager's work email (Leapsome) or SCIM id (RFC 7644).
pub fn manager_body(manager: Option<&str>, user_name: &str, dialect: Dialect) -> Value {
    let path = format!("{ENTERPRISE}:manager");
    match (dialect, manager) {
        (Dialect::Leapsome, m) => json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": user_name,
            ENTERPRISE: {"manager": m.map_or(Value::Null, |m| Value::String(m.to_owned()))}
        }),
        (Dialect::Rfc7644, Some(id)) => {
            json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": path, "value": {"value": id}}]})
        }
        (Dialect::Rfc7644, None) => json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": path}]}),
    }
}

/// A SCIM filter for one userName, quoted and escaped per RFC 7644 §3.4.2.2, so quotes and
/// backslashes in an address cannot change the filter.
pub fn user_name_filter(user_name: &str) -> String {
    let escaped = user_name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("userName eq \"{escaped}\"")
}

/// The same filter with the value unquoted, as in Leapsome's own example (`userName eq Smith`),
/// for servers that refuse the quoted form. `None` when the value cannot be a bare token (it has
/// spaces, quotes, backslashes, brackets or parentheses, which would change the filter).
pub fn user_name_filter_unquoted(user_name: &str) -> Option<String> {
    let bare = !user_name.is_empty()
        && !user_name.chars().any(|c| c.is_whitespace() || c.is_control() || "\"\\()[]".contains(c));
    bare.then(|| format!("userName eq {user_name}"))
}

/// `body` without what it writes to `emails`, for a server that will not take them; `None` when
/// it writes none (or nothing else: a PatchOp whose only operations were on `emails`).
pub fn without_emails(body: &Value) -> Option<Value> {
    let mut body = body.clone();
    if let Some(ops) = body.get_mut("Operations").and_then(Value::as_array_mut) {
        let before = ops.len();
        ops.retain(|op| !op.get("path").and_then(Value::as_str).is_some_and(is_emails));
        return (ops.len() < before && !ops.is_empty()).then_some(body);
    }
    let object = body.as_object_mut()?;
    let before = object.len();
    object.retain(|key, _| !is_emails(key));
    (object.len() < before).then_some(body)
}

/// Whether a body key or PatchOp path addresses `emails` (`emails`, `emails[type eq "work"].value`,
/// or either after the core schema URN).
fn is_emails(path: &str) -> bool {
    let path = path.strip_prefix(USER_SCHEMA).and_then(|p| p.strip_prefix(':')).unwrap_or(path);
    path.split(['[', '.']).next().is_some_and(|name| name.eq_ignore_ascii_case("emails"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(pairs: &[(Attr, &str)]) -> Profile {
        pairs.iter().map(|(a, v)| (*a, v.to_string())).collect()
    }

    #[test]
    fn create_has_every_mapped_attribute_in_place() {
        let p = profile(&[
            (Attr::UserName, "a@acme.test"),
            (Attr::Email, "a@acme.test"),
            (Attr::GivenName, "A"),
            (Attr::FamilyName, "B"),
            (Attr::Phone, "+1"),
            (Attr::Department, "Eng"),
            (Attr::ExternalId, "p1"),
        ]);
        let body = create_body(&p);
        assert_eq!(body["userName"], "a@acme.test");
        assert_eq!(body["emails"][0], json!({"value": "a@acme.test", "type": "work", "primary": true}));
        assert_eq!(body["name"], json!({"givenName": "A", "familyName": "B"}));
        assert_eq!(body[ENTERPRISE]["department"], "Eng");
        assert_eq!(body["externalId"], "p1");
        assert_eq!(body["active"], true);
    }

    #[test]
    fn leapsome_update_is_flat_with_user_name_and_nulls() {
        let changes = profile(&[(Attr::Title, "CTO"), (Attr::NickName, "")]);
        let body = update_body(&changes, "a@acme.test", Dialect::Leapsome);
        assert_eq!(
            body,
            json!({"schemas": [USER_SCHEMA], "userName": "a@acme.test", "title": "CTO", "nickName": null})
        );
    }

    #[test]
    fn rfc_update_is_patchop() {
        let changes = profile(&[(Attr::Department, "Sales"), (Attr::MiddleName, ""), (Attr::Email, "n@acme.test")]);
        let body = update_body(&changes, "n@acme.test", Dialect::Rfc7644);
        let ops = body["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 3);
        assert!(ops.contains(&json!({"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"})));
        assert!(ops.contains(&json!({"op": "remove", "path": "name.middleName"})));
        assert!(ops.contains(&json!({"op": "replace", "path": "emails", "value": [{"value": "n@acme.test", "type": "work", "primary": true}]})));
    }

    #[test]
    fn manager_by_dialect() {
        assert_eq!(
            manager_body(Some("boss@acme.test"), "a@acme.test", Dialect::Leapsome)[ENTERPRISE]["manager"],
            "boss@acme.test"
        );
        assert_eq!(manager_body(Some("id1"), "a", Dialect::Rfc7644)["Operations"][0]["value"], json!({"value": "id1"}));
        assert_eq!(manager_body(None, "a", Dialect::Rfc7644)["Operations"][0]["op"], "remove");
    }

    #[test]
    fn extra_fields_go_to_the_enterprise_extension_in_both_dialects() {
        let custom = "0000000000000000000000aa\u{1f}\u{1e}6140868326541a4da586db0b\u{1f}M";
        let changes = profile(&[(Attr::StartDate, "2024-01-01"), (Attr::Gender, ""), (Attr::Custom, custom)]);
        let flat = update_body(&changes, "a@acme.test", Dialect::Leapsome);
        assert_eq!(flat["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
        assert_eq!(
            flat[ENTERPRISE],
            json!({"startDate": "2024-01-01", "gender": null, "0000000000000000000000aa": null, "6140868326541a4da586db0b": "M"})
        );
        let rfc = update_body(&changes, "a@acme.test", Dialect::Rfc7644);
        assert_eq!(
            rfc["Operations"],
            json!([
                {"op": "replace", "path": format!("{ENTERPRISE}:startDate"), "value": "2024-01-01"},
                {"op": "remove", "path": format!("{ENTERPRISE}:gender")},
                {"op": "remove", "path": format!("{ENTERPRISE}:0000000000000000000000aa")},
                {"op": "replace", "path": format!("{ENTERPRISE}:6140868326541a4da586db0b"), "value": "M"},
            ])
        );
        // A creation carries the values held, not the empty ones.
        let created =
            create_body(&profile(&[(Attr::UserName, "a@acme.test"), (Attr::Gender, ""), (Attr::Custom, custom)]));
        assert_eq!(created[ENTERPRISE], json!({"6140868326541a4da586db0b": "M"}));
    }

    #[test]
    fn filter_escapes_quotes_and_backslashes() {
        assert_eq!(user_name_filter(r#"o"brien\x@acme.test"#), r#"userName eq "o\"brien\\x@acme.test""#);
    }

    #[test]
    fn unquoted_filter_only_for_bare_tokens() {
        assert_eq!(user_name_filter_unquoted("Ada.L+x@acme.test").as_deref(), Some("userName eq Ada.L+x@acme.test"));
        for odd in ["", "a b@acme.test", r#"o"brien@acme.test"#, r"a\b@acme.test", "a(b)@acme.test", "a]@acme.test"] {
            assert_eq!(user_name_filter_unquoted(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn emails_are_taken_out_of_both_dialects() {
        let p = profile(&[(Attr::UserName, "a@acme.test"), (Attr::Email, "a@acme.test"), (Attr::Title, "CTO")]);
        let created = create_body(&p);
        let stripped = without_emails(&created).unwrap();
        assert!(stripped.get("emails").is_none());
        assert_eq!((&stripped["userName"], &stripped["title"]), (&created["userName"], &created["title"]));
        assert_eq!(without_emails(&stripped), None, "nothing left to take out");

        let patch = update_body(&p, "a@acme.test", Dialect::Rfc7644);
        let stripped = without_emails(&patch).unwrap();
        let paths: Vec<&str> =
            stripped["Operations"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
        assert_eq!(paths, vec!["userName", "title"]);
        let only_emails = json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}]});
        assert_eq!(without_emails(&only_emails), None, "an empty PatchOp is not sent");
        assert_eq!(without_emails(&active_body(false, "a", Dialect::Rfc7644)), None);
        assert_eq!(
            without_emails(&json!({format!("{USER_SCHEMA}:emails"): [], "userName": "a"})),
            Some(json!({"userName": "a"}))
        );
    }
}
