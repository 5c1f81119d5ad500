//! The component against every variant of what Leapsome's behaviour may be where the reference
//! leaves it unknown (`LeapsomeConfig`'s switches): which filters it takes (quoted values,
//! unquoted values, none; refused with 400 or ignored), what a flat PATCH does with part of a
//! name, and whether `emails` can be written. Each variant lives through the same day, in both
//! dialects: connect, provisioning on `immediately`, a sync-all creating the organisation, a
//! name change, a new joiner whose account already exists (found by userName), and a second
//! sync-all writing nothing. Every step counts the requests the mock received.
//!
//! (The DELETE variants, `delete_status`, need the deletion fallback of `app/execute.rs`; they
//! are not run here.)

use crate::support::*;
use host_harness::api::{ChangeKind, Dialect, EventKind, ProvisionTiming};
use mock_servers::humaans::{Behaviour, HumaansConfig, JobRole, Select};
use mock_servers::leapsome::{EmailsWrite, FilterQuoting, LeapsomeConfig, PartialName};
use serde_json::json;

/// The SCIM requests since the journal was last cleared, by kind and answer.
#[derive(Debug, Default, PartialEq, Eq)]
struct Requests {
    /// `GET /Users?filter=…` answered with a list.
    filter_answered: usize,
    /// `GET /Users?filter=…` refused (400).
    filter_refused: usize,
    /// `GET /Users` without a filter: a page of the full list.
    list: usize,
    /// `POST /Users` that created an account.
    created: usize,
    /// `POST /Users` refused (400).
    create_refused: usize,
    /// `PATCH /Users/{id}` accepted.
    patched: usize,
    /// Anything else: other methods, other answers.
    other: Vec<String>,
}

fn requests(rig: &Rig) -> Requests {
    let mut r = Requests::default();
    for e in rig.leapsome.control().journal() {
        let filtered = e.query.contains("filter=");
        match (e.method.as_str(), e.path.as_str(), e.status) {
            ("GET", "/scim/v1/Users", 200) if filtered => r.filter_answered += 1,
            ("GET", "/scim/v1/Users", 400) if filtered => r.filter_refused += 1,
            ("GET", "/scim/v1/Users", 200) => r.list += 1,
            ("POST", "/scim/v1/Users", 201) => r.created += 1,
            ("POST", "/scim/v1/Users", 400) => r.create_refused += 1,
            ("PATCH", _, 200) => r.patched += 1,
            _ => r.other.push(format!("{} {}?{} -> {}", e.method, e.path, e.query, e.status)),
        }
    }
    r
}

/// What a variant costs the component.
#[derive(Clone, Copy)]
struct Expect {
    /// One userName lookup: (filters answered, filters refused, full-list pages read).
    lookup: (usize, usize, usize),
    /// Every creation is refused once for its `emails`, then sent without them.
    emails_refused: bool,
}

const FILTER_WORKS: Expect = Expect { lookup: (1, 0, 0), emails_refused: false };

/// Grace and the ten people reporting to her: eleven accounts, ten manager links. More than the
/// ten users a lookup asks for, so a server ignoring the filter cannot answer by chance.
const REPORTS: [(&str, &str); 10] = [
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Edsger", "Dijkstra"),
    ("Frances", "Allen"),
    ("Hedy", "Lamarr"),
    ("Ken", "Thompson"),
    ("Margaret", "Hamilton"),
    ("Tim", "Berners-Lee"),
];

async fn day_in_the_life(dialect: Dialect, config: LeapsomeConfig, expect: Expect) {
    let rig = Rig::with_leapsome(config).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Leadership", None);
    let reports: Vec<String> =
        REPORTS.iter().map(|(first, last)| hire(&rig, first, last, "Engineer", "Engineering", Some(&grace))).collect();
    let plugin = rig.connected("t", settings(Some(ProvisionTiming::Immediately), None, dialect)).await;

    // Sync-all creates everyone, then links the managers.
    clear_journals(&rig);
    let first = sync_ok(&plugin, false, None).await;
    assert_eq!(first.failed, 0, "{:?}", first.changes);
    assert!(first.complete);
    assert_eq!((first.created, first.managers_linked, first.writes), (11, 10, 21), "{:?}", first.changes);
    let refusals = if expect.emails_refused { 11 } else { 0 };
    assert_eq!(
        requests(&rig),
        Requests { list: 1, created: 11, create_refused: refusals, patched: 10, ..Requests::default() }
    );
    let users = rig.leapsome.users();
    assert_eq!(users.len(), 11);
    let grace_id = scim_id(&rig, "grace.hopper@acme.test");
    for (first_name, last_name) in REPORTS.iter().chain([&("Grace", "Hopper")]) {
        let email = format!("{}.{}@acme.test", first_name.to_lowercase(), last_name.to_lowercase());
        let user = rig.leapsome.user_by_username(&email).unwrap_or_else(|| panic!("no account for {email}"));
        assert_eq!(user["name"], json!({"givenName": first_name, "familyName": last_name}), "{email}");
        assert_eq!(user["emails"], json!([{"value": email, "type": "work", "primary": true}]), "{email}");
        let manager = rig.leapsome.manager_id_of(user["id"].as_str().unwrap());
        let expected = (*first_name != "Grace").then(|| grace_id.clone());
        assert_eq!(manager, expected, "manager of {email}");
    }

    // A first name changes: one PATCH, carrying the whole name.
    let ada = &reports[0];
    rig.humaans.update_person(ada, |p| p.first_name = "Augusta".into());
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, ada).await;
    assert_eq!(outcome.changes.len(), 1, "{:?}", outcome.changes);
    let change = &outcome.changes[0];
    assert_eq!((change.kind, &change.error), (ChangeKind::Update, &None));
    assert_eq!(change.attributes, ["name.givenName", "name.familyName"]);
    assert_eq!(requests(&rig), Requests { patched: 1, ..Requests::default() });
    let body = &scim_write_bodies(&rig)[0].2;
    match dialect {
        Dialect::Leapsome => assert_eq!(body["name"], json!({"givenName": "Augusta", "familyName": "Lovelace"})),
        Dialect::Rfc7644 => assert_eq!(
            body["Operations"],
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
            ])
        ),
    }
    let ada_account = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(ada_account["name"], json!({"givenName": "Augusta", "familyName": "Lovelace"}));

    // Nia joins and already has an account (invited by hand, after everyone else's): the event
    // finds it by userName and adopts it.
    let nia = hire(&rig, "Nia", "Patel", "Engineer", "Engineering", Some(&grace));
    let seeded = rig.leapsome.seed_user(json!({
        "userName": "nia.patel@acme.test",
        "name": {"givenName": "Nia", "familyName": "Patel"},
    }));
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Created, &nia).await;
    let kinds: Vec<ChangeKind> = outcome.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [ChangeKind::Adopt, ChangeKind::Update, ChangeKind::LinkManager], "{:?}", outcome.changes);
    assert!(outcome.changes.iter().all(|c| c.error.is_none()), "{:?}", outcome.changes);
    let (filter_answered, filter_refused, list) = expect.lookup;
    assert_eq!(requests(&rig), Requests { filter_answered, filter_refused, list, patched: 2, ..Requests::default() });
    let account = rig.leapsome.user_by_username("nia.patel@acme.test").unwrap();
    assert_eq!((&account["id"], &account["externalId"]), (&json!(seeded), &json!(nia)), "adopted, not re-created");
    assert_eq!(rig.leapsome.manager_id_of(&seeded), Some(grace_id));
    assert_eq!(rig.leapsome.users().len(), 12);

    // Nothing changed since: the next sync-all reads the list once and writes nothing.
    clear_journals(&rig);
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!((again.writes, again.failed), (0, 0), "{:?}", again.changes);
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(requests(&rig), Requests { list: 1, ..Requests::default() });
}

/// `name: config => expect;` runs `day_in_the_life` as `name::leapsome` and `name::rfc7644`.
macro_rules! variants {
    ($($name:ident: $config:expr => $expect:expr;)+) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn leapsome() {
                day_in_the_life(Dialect::Leapsome, $config, $expect).await
            }

            #[tokio::test]
            async fn rfc7644() {
                day_in_the_life(Dialect::Rfc7644, $config, $expect).await
            }
        }
    )+};
}

variants! {
    defaults: LeapsomeConfig::default() => FILTER_WORKS;

    quoted_filters_only:
        LeapsomeConfig { filter_quoting: FilterQuoting::QuotedOnly, ..Default::default() } => FILTER_WORKS;
    // The quoted form is refused, the unquoted one answers.
    unquoted_filters_only:
        LeapsomeConfig { filter_quoting: FilterQuoting::UnquotedOnly, ..Default::default() }
        => Expect { lookup: (1, 1, 0), ..FILTER_WORKS };
    // Both forms refused: the full list.
    filters_refused:
        LeapsomeConfig { filters_refused: true, ..Default::default() }
        => Expect { lookup: (0, 2, 1), ..FILTER_WORKS };
    // The quoted form is ignored (the first ten users come back, none of them Nia): the full list.
    unquoted_filters_only_others_ignored:
        LeapsomeConfig {
            filter_quoting: FilterQuoting::UnquotedOnly,
            unsupported_filter_ignored: true,
            ..Default::default()
        }
        => Expect { lookup: (1, 0, 1), ..FILTER_WORKS };
    filters_ignored:
        LeapsomeConfig { filters_refused: true, unsupported_filter_ignored: true, ..Default::default() }
        => Expect { lookup: (1, 0, 1), ..FILTER_WORKS };

    partial_name_replaces_the_whole_name:
        LeapsomeConfig { partial_name: PartialName::ReplaceWhole, ..Default::default() } => FILTER_WORKS;
    partial_name_rejected:
        LeapsomeConfig { partial_name: PartialName::Reject, ..Default::default() } => FILTER_WORKS;

    emails_ignored:
        LeapsomeConfig { emails_write: EmailsWrite::IgnoredReadOnly, ..Default::default() } => FILTER_WORKS;
    emails_rejected:
        LeapsomeConfig { emails_write: EmailsWrite::Rejected, ..Default::default() }
        => Expect { emails_refused: true, ..FILTER_WORKS };

    everything_strict_at_once:
        LeapsomeConfig {
            filters_refused: true,
            partial_name: PartialName::Reject,
            emails_write: EmailsWrite::Rejected,
            ..Default::default()
        }
        => Expect { lookup: (0, 2, 1), emails_refused: true };
}

// ---------------------------------------------------------------------------------------------
// Humaans: `$select`, which the reference only infers from Feathers (`HumaansConfig`'s `select`).
// The component asks list pages for the fields it reads; whether the server honours, ignores or
// refuses that, the accounts come out the same, and a refusal costs one request per list.

/// Each account as (userName, name, title, department, active, manager's userName).
fn accounts(rig: &Rig) -> Vec<(String, serde_json::Value, serde_json::Value, serde_json::Value, bool, Option<String>)> {
    let users = rig.leapsome.users();
    let user_name_of =
        |id: &str| users.iter().find(|u| u["id"] == id).map(|u| u["userName"].as_str().unwrap().to_owned());
    let mut all: Vec<_> = users
        .iter()
        .map(|u| {
            let id = u["id"].as_str().unwrap();
            (
                u["userName"].as_str().unwrap().to_owned(),
                u["name"].clone(),
                u["title"].clone(),
                u[ENTERPRISE]["department"].clone(),
                u["active"].as_bool().unwrap_or(true),
                rig.leapsome.manager_id_of(id).and_then(|m| user_name_of(&m)),
            )
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The Humaans list reads since the journals were cleared: (path, asked for `$select`, status).
fn humaans_lists(rig: &Rig) -> Vec<(String, bool, u16)> {
    rig.humaans
        .control()
        .journal()
        .into_iter()
        .filter(|e| e.path == "/api/people" || e.path == "/api/job-roles")
        .map(|e| (e.path.clone(), e.query.contains("$select"), e.status))
        .collect()
}

async fn selecting(
    select: Select,
) -> Vec<(String, serde_json::Value, serde_json::Value, serde_json::Value, bool, Option<String>)> {
    let rig = Rig::with_humaans(HumaansConfig {
        behaviour: Behaviour { select, ..Behaviour::default() },
        ..HumaansConfig::default()
    })
    .await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Leadership", None);
    for (first, last) in &REPORTS[..4] {
        hire(&rig, first, last, "Engineer", "Engineering", Some(&grace));
    }
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    clear_journals(&rig);
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!((report.created, report.managers_linked, report.failed), (5, 4, 0), "{:?}", report.changes);
    let lists = humaans_lists(&rig);
    let expected: Vec<(String, bool, u16)> = match select {
        Select::Honoured | Select::Ignored => {
            vec![("/api/people".into(), true, 200), ("/api/job-roles".into(), true, 200)]
        }
        Select::Refused => vec![
            ("/api/people".into(), true, 400),
            ("/api/people".into(), false, 200),
            ("/api/job-roles".into(), true, 400),
            ("/api/job-roles".into(), false, 200),
        ],
    };
    let mut sorted = lists.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted, "{select:?}: {lists:?}");

    // An event reads the person's job roles through the same lists: a title change lands.
    let ada = rig.humaans.people().into_iter().find(|p| p.first_name == "Ada").unwrap().id;
    rig.humaans.add_job_role(JobRole::new(&ada, "Staff Engineer", "Engineering", Some(&grace), "2025-06-01"));
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert!(outcome.changes.iter().all(|c| c.error.is_none()), "{select:?}: {:?}", outcome.changes);
    accounts(&rig)
}

#[tokio::test]
async fn humaans_select_honoured_ignored_or_refused_gives_the_same_accounts() {
    let honoured = selecting(Select::Honoured).await;
    assert_eq!(honoured.len(), 5);
    let ada = honoured.iter().find(|a| a.0 == "ada.lovelace@acme.test").expect("Ada's account");
    assert_eq!(ada.2, json!("Staff Engineer"));
    assert_eq!(ada.5.as_deref(), Some("grace.hopper@acme.test"));
    assert_eq!(selecting(Select::Ignored).await, honoured);
    assert_eq!(selecting(Select::Refused).await, honoured);
}
