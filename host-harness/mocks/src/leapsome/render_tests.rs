//! The list page's borrowed renderer (`render::list_page`) against `render::user`, byte for byte, on
//! users written through the service's own write path. It lives here, above `routes`, because
//! it seeds through `routes::Service`; `render` itself sits below `routes`.

use serde_json::{Value, json};

use super::config::LeapsomeConfig;
use super::model::Profile;
use super::render::{list_page, user, user_bytes};
use super::routes::Service;
use super::schema::{ENTERPRISE_URN, LIST_URN};
use super::store::{Store, UserRecord};

const BASE: &str = "http://127.0.0.1:9/scim/v1";

/// Users written through the mock's own write path (as POST or seeding reads them), in the
/// given mode: managers, photos, enterprise attributes, several emails, inactive users.
fn seed(config: LeapsomeConfig) -> Service {
    let strict = config.strict_rfc;
    let service = Service::new(config);
    service.set_base_url(BASE.into());
    let seed = |user: Value| service.seed(user).unwrap_or_else(|e| panic!("{} {}", e.status, e.detail));
    let boss = seed(json!({"userName": "boss@acme.test", "externalId": "hu-boss", "displayName": "The \"Boss\""}));
    let named = seed(json!({"userName": "named@acme.test", "name": {"givenName": "Zoë", "familyName": "Ng"}}));
    let bare = seed(json!({"userName": "bare@acme.test"}));
    let gone = seed(json!({"userName": "gone@acme.test", "name": {"givenName": "Gone"}}));
    let users = [
        json!({"userName": "ada@acme.test", "externalId": "p1", "name": {"givenName": "Ada", "familyName": "L"},
            "title": "Engineer", "active": false, "manager": {"value": boss},
            ENTERPRISE_URN: {"department": "R&D", "employeeNumber": "7", "organization": "Acme",
                "additionalManagers": [named, bare, gone]}}),
        json!({"userName": "bob@acme.test", "name": {}, "emails": [
            {"value": "bob@home.test", "type": "home"}, {"value": "bob@work.test", "type": "Work"},
            {"value": "bob@primary.test", "type": "other", "primary": true}]}),
        json!({"userName": "cy@acme.test", "emails": [{"value": "cy@home.test", "type": "home"},
            {"value": "cy@work.test", "type": "WORK"}], "photos": [{"value": "https://x.test/cy.png", "type": "photo"},
            {"value": "https://x.test/cy2.png"}]}),
        json!({"userName": "di@acme.test", "emails": [{"value": "di@home.test", "type": "home"}],
            "photos": [{"type": "thumbnail", "value": "http://x.test/di.png"}], "manager": {"value": named},
            ENTERPRISE_URN: {"manager": {"value": bare}}}),
        json!({"userName": "ed@acme.test", "displayName": "", "name": {"familyName": "Only"}, "title": "",
            "phoneNumbers": [{"value": "+49 30 1", "type": "work", "primary": true}], "timezone": "Europe/Berlin",
            "userType": "Employee", "nickName": "E\u{1F600}\n\t\u{7}", "locale": "de-DE",
            ENTERPRISE_URN: {"startDate": "2020-01-31", "costCenter": "C-1", "division": "Ops", "level": "L3"}}),
        json!({"userName": "fi@acme.test", "active": true, "emails": [], ENTERPRISE_URN: {}}),
        json!({"userName": "gu@acme.test", ENTERPRISE_URN: {"additionalManagers": [boss]}}),
    ];
    for user in users {
        seed(user);
    }
    if !strict {
        seed(json!({"userName": "hu@acme.test", "manager": "boss@acme.test", "emails": [{"value": "hu@x.test"}]}));
    }
    let mut store = service.store();
    // A removed manager is not listed but still named by the users who report to it.
    store.remove(&gone);
    let ada = store.by_user_name("ada@acme.test").unwrap();
    let (id, mut profile) = (ada.id.clone(), ada.profile.clone());
    profile.attrs.insert("displayName".into(), json!("Ada Lovelace"));
    store.update(&id, profile);
    drop(store);
    service
}

/// Profiles no write produces, straight into the store: the fast path must still agree.
fn odd_profiles(store: &mut Store) {
    let boss = store.by_user_name("boss@acme.test").map(|u| u.id.clone());
    let odd = [
        json!({"userName": "o1@acme.test", "emails": "not a list", "photos": [], "name": {"a": {}},
            "id": "spoofed", "meta": 1, "schemas": null, "groups": [1], "title": null, "active": "yes",
            "manager": "x", ENTERPRISE_URN: "not an object", "zz": [1.5, -2, 1e300, {"b": [null]}]}),
        json!({"userName": "o2@acme.test", "name": {}, "emails": [1, "two", {"value": 3, "primary": true},
            {"type": "work"}], "photos": ["bare"]}),
        json!({"userName": 7, "emails": [{"primary": false}], "photos": [{"type": "x"}]}),
        json!({"emails": null}),
        json!({"userName": "", ENTERPRISE_URN: {"manager": "stale", "additionalManagers": 1, "a": true}}),
        json!({"userName": "o6@acme.test", "emails": [{"value": "o6@x.test", "type": "home", "primary": true},
            {"value": "o6@y.test", "type": "work", "primary": true}], "\u{e9}": "é", "Z": "upper"}),
    ];
    for (i, attrs) in odd.into_iter().enumerate() {
        let Value::Object(attrs) = attrs else { unreachable!() };
        let profile = Profile {
            attrs,
            manager: match i {
                0 => Some("000000000000000000000000".into()),
                4 => boss.clone(),
                _ => None,
            },
            additional_managers: if i == 4 { vec!["nobody".into(), boss.clone().unwrap()] } else { Vec::new() },
        };
        store.insert(profile, None);
    }
}

#[test]
fn list_pages_are_written_as_user_renders_each_user() {
    let keep = LeapsomeConfig { keep_unknown_attributes: true, ..LeapsomeConfig::default() };
    for config in [LeapsomeConfig::default(), keep, LeapsomeConfig::rfc_strict()] {
        let service = seed(config.clone());
        let mut store = service.store();
        odd_profiles(&mut store);
        let page: Vec<&UserRecord> = store.all().collect();
        assert_eq!(page.len(), if config.strict_rfc { 16 } else { 17 });
        for strict in [false, true] {
            let config = LeapsomeConfig { strict_rfc: strict, ..LeapsomeConfig::default() };
            let mut rendered = Vec::new();
            for record in &page {
                let old = user(record, &store, &config, BASE);
                let fast = user_bytes(record, &store, &config, BASE);
                let parsed: Value = serde_json::from_slice(&fast).unwrap();
                assert_eq!(parsed, old, "strict {strict}");
                assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&old).unwrap());
                rendered.push(old);
            }
            for (start, count) in [(0, page.len()), (3, 5), (page.len(), 0)] {
                let slice = &page[start..start + count];
                let old = json!({
                    "schemas": [LIST_URN],
                    "totalResults": page.len(),
                    "itemsPerPage": slice.len(),
                    "startIndex": start + 1,
                    "Resources": rendered[start..start + count],
                });
                let fast = list_page(slice, page.len(), start as i64 + 1, &store, &config, BASE);
                assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&old).unwrap());
            }
        }
        // Each shape the fast path distinguishes is covered.
        let all = serde_json::to_string(&page.iter().map(|u| user(u, &store, &config, BASE)).collect::<Vec<_>>());
        for needle in ["additionalManagers", "\"photos\"", "\"active\":false", "The \\\"Boss\\\"", "Gone"] {
            assert!(all.as_ref().unwrap().contains(needle), "{needle}");
        }
    }
}
