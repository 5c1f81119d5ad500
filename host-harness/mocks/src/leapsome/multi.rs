//! Multi-valued attributes (`emails`, `photos`, `phoneNumbers`, …) under PATCH: whole-list
//! replace, `add` appending, and value-path filters such as `emails[type eq "work"].value`.

use serde_json::{Map, Value};

use super::filter::EqFilter;
use super::model::{Ctx, Op, Profile, ScimError, as_bool};
use super::schema::canonical_multi_sub;

/// The entries of a multi-valued attribute as stored, or for `emails` the one Leapsome derives
/// from userName when none was written (reference §7.6).
pub fn entries(profile: &Profile, name: &str) -> Vec<Map<String, Value>> {
    match profile.attrs.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_object().cloned()).collect(),
        _ if name == "emails" => match profile.attrs.get("userName").and_then(Value::as_str) {
            Some(user_name) if !user_name.is_empty() => vec![derived_email(user_name)],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

pub fn derived_email(user_name: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("value".into(), Value::String(user_name.into()));
    entry.insert("type".into(), Value::String("work".into()));
    entry.insert("primary".into(), Value::Bool(true));
    entry
}

fn normalise(value: &Value, name: &str) -> Result<Map<String, Value>, ScimError> {
    let object = value.as_object().ok_or_else(|| {
        ScimError::bad_request("invalidValue", format!("entries of {name} must be objects, got {value}"))
    })?;
    let mut out = Map::new();
    for (key, v) in object {
        set_sub(&mut out, key, v, name)?;
    }
    Ok(out)
}

fn set_sub(entry: &mut Map<String, Value>, key: &str, value: &Value, name: &str) -> Result<(), ScimError> {
    let key = canonical_multi_sub(key);
    let value = if key == "primary" {
        Value::Bool(as_bool(value).ok_or_else(|| {
            ScimError::bad_request("invalidValue", format!("{name}.primary must be a boolean, got {value}"))
        })?)
    } else {
        value.clone()
    };
    entry.insert(key, value);
    Ok(())
}

fn get_ci<'a>(entry: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    entry.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

pub fn write(
    profile: &mut Profile,
    name: &str,
    op: Op,
    filter: Option<&EqFilter>,
    sub: Option<&str>,
    value: Option<&Value>,
    ctx: &Ctx,
) -> Result<(), ScimError> {
    let mut list = entries(profile, name);
    let mut touched: Vec<usize> = Vec::new();
    let selected: Vec<usize> = match filter {
        Some(f) => (0..list.len()).filter(|&i| f.matches(get_ci(&list[i], &f.attribute))).collect(),
        None => (0..list.len()).collect(),
    };
    match (filter, sub, value) {
        (None, None, None) => list.clear(),
        (None, None, Some(value)) => {
            let items = match value {
                Value::Array(items) => items.iter().map(|v| normalise(v, name)).collect::<Result<Vec<_>, _>>()?,
                single => vec![normalise(single, name)?],
            };
            if op != Op::Add {
                list.clear();
            }
            for item in items {
                if !list.contains(&item) {
                    list.push(item);
                    touched.push(list.len() - 1);
                }
            }
        }
        (_, None, None) => {
            let mut index = 0;
            list.retain(|_| {
                index += 1;
                !selected.contains(&(index - 1))
            });
        }
        (_, Some(sub), None) => {
            let key = canonical_multi_sub(sub);
            for &i in &selected {
                list[i].remove(&key);
            }
        }
        (_, sub, Some(value)) if selected.is_empty() => {
            // RFC 7644 §3.5.2.3 makes an unmatched replace filter a `noTarget` error; Entra relies
            // on servers creating the entry instead, which is what a lenient server does.
            if op == Op::Replace && filter.is_some() && ctx.config.strict_rfc {
                return Err(ScimError::bad_request("noTarget", format!("no {name} entry matches the filter")));
            }
            let mut entry = Map::new();
            if let Some(f) = filter {
                set_sub(&mut entry, &f.attribute, &f.value, name)?;
            }
            merge_into(&mut entry, sub, value, name)?;
            list.push(entry);
            touched.push(list.len() - 1);
        }
        (_, sub, Some(value)) => {
            for &i in &selected {
                merge_into(&mut list[i], sub, value, name)?;
                touched.push(i);
            }
        }
    }
    single_primary(&mut list, &touched);
    if list.is_empty() {
        profile.attrs.remove(name);
    } else {
        profile.attrs.insert(name.into(), Value::Array(list.into_iter().map(Value::Object).collect()));
    }
    Ok(())
}

fn merge_into(entry: &mut Map<String, Value>, sub: Option<&str>, value: &Value, name: &str) -> Result<(), ScimError> {
    match sub {
        Some(sub) => set_sub(entry, sub, value, name),
        None => normalise(value, name)?.iter().try_for_each(|(k, v)| set_sub(entry, k, v, name)),
    }
}

/// RFC 7643 §2.4: at most one entry is primary; the one just written wins.
fn single_primary(list: &mut [Map<String, Value>], touched: &[usize]) {
    let is_primary = |entry: &Map<String, Value>| entry.get("primary") == Some(&Value::Bool(true));
    let keep =
        touched.iter().rev().copied().find(|&i| is_primary(&list[i])).or_else(|| list.iter().position(is_primary));
    if let Some(keep) = keep {
        for (i, entry) in list.iter_mut().enumerate() {
            if i != keep && is_primary(entry) {
                entry.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leapsome::config::LeapsomeConfig;
    use crate::leapsome::schema::{Target, parse_path};
    use serde_json::json;

    fn run(
        profile: &mut Profile,
        config: &LeapsomeConfig,
        op: Op,
        path: &str,
        value: Option<Value>,
    ) -> Result<(), ScimError> {
        let Target::Core { attr, filter, sub } = parse_path(path).unwrap() else { panic!("{path}") };
        let ctx = Ctx { config, resolve: &|_| None };
        write(profile, &attr.name, op, filter.as_ref(), sub.as_deref(), value.as_ref(), &ctx)
    }

    #[test]
    fn adds_filters_removes_and_keeps_one_primary() {
        let config = LeapsomeConfig::rfc_strict();
        let mut p = Profile::default();
        p.attrs.insert("userName".into(), json!("a@acme.test"));
        let home = json!({"value": "a@home.test", "Type": "home", "primary": "True"});
        run(&mut p, &config, Op::Add, "emails", Some(home.clone())).unwrap();
        run(&mut p, &config, Op::Add, "emails", Some(json!([home]))).unwrap();
        assert_eq!(
            p.attrs["emails"],
            json!([
                {"value": "a@acme.test", "type": "work", "primary": false},
                {"value": "a@home.test", "type": "home", "primary": true},
            ])
        );
        run(&mut p, &config, Op::Replace, "emails[type eq \"WORK\"].primary", Some(json!(true))).unwrap();
        assert_eq!(p.attrs["emails"][0]["primary"], true);
        assert_eq!(p.attrs["emails"][1]["primary"], false);

        let err = run(&mut p, &config, Op::Replace, "emails[type eq \"other\"].value", Some(json!("x"))).unwrap_err();
        assert_eq!(err.scim_type, Some("noTarget"));
        run(&mut p, &config, Op::Add, "emails[type eq \"other\"].value", Some(json!("o@x.test"))).unwrap();
        assert_eq!(p.attrs["emails"][2], json!({"type": "other", "value": "o@x.test"}));

        // An entry without `primary` does not match `primary eq false` (RFC 7644 §3.4.2.2).
        run(&mut p, &config, Op::Remove, "emails[primary eq false]", None).unwrap();
        assert_eq!(p.attrs["emails"].as_array().unwrap().len(), 2);
        run(&mut p, &config, Op::Remove, "emails[type eq \"other\"]", None).unwrap();
        assert_eq!(p.attrs["emails"], json!([{"value": "a@acme.test", "type": "work", "primary": true}]));
        run(&mut p, &config, Op::Remove, "emails.primary", None).unwrap();
        assert_eq!(p.attrs["emails"], json!([{"value": "a@acme.test", "type": "work"}]));
        let err = run(&mut p, &config, Op::Add, "emails", Some(json!(["bare"]))).unwrap_err();
        assert_eq!(err.scim_type, Some("invalidValue"));
        run(&mut p, &config, Op::Remove, "emails", None).unwrap();
        assert!(!p.attrs.contains_key("emails"));
        assert_eq!(entries(&p, "emails"), vec![derived_email("a@acme.test")]);
    }

    #[test]
    fn leapsome_mode_creates_an_entry_for_an_unmatched_replace() {
        let config = LeapsomeConfig::default();
        let mut p = Profile::default();
        run(&mut p, &config, Op::Replace, "photos[type eq \"photo\"].value", Some(json!("https://x.test/a.png")))
            .unwrap();
        assert_eq!(p.attrs["photos"], json!([{"type": "photo", "value": "https://x.test/a.png"}]));
    }
}
