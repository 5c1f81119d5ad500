//! Bad input from either service or the caller: odd characters, missing fields, oversized and
//! truncated responses, wrong content types, HTML error pages, ids that do not exist. Each ends in
//! a clear typed error or a logged skip; nothing traps, nothing corrupts stored state.

use crate::support::*;
use host_harness::api::{self, Dialect, IntegrationError, Service};
use mock_servers::humaans::{JobRole, Person};
use mock_servers::{Fault, FaultRule};

fn person(first: &str, last: &str, email: &str) -> Person {
    let mut p = Person::new(first, last, email);
    p.employment_start_date = Some("2024-01-01".into());
    p
}

#[tokio::test]
async fn odd_characters_are_escaped_and_emails_match_case_insensitively() {
    for dialect in [Dialect::Leapsome, Dialect::Rfc7644] {
        let rig = Rig::start().await;
        let plugin = rig.connected("t", all_on(dialect)).await;
        let odd = [
            ("Zoë", "Łukasz-Søren", "zoe.lukasz@acme.test"),
            ("Seán", "O'Brien", "sean.o'brien+hr@acme.test"),
            ("Back", "Sla\\sh", "back\\slash@acme.test"),
            ("Quote", "Mark", "quo\"te@acme.test"),
            ("Upper", "Case", "Upper.Case@ACME.test"),
        ];
        for (first, last, email) in odd {
            let id = rig.humaans.add_person(person(first, last, email));
            rig.humaans.add_job_role(JobRole::new(&id, "Engineer", "R&D / \"Core\"", None, "2024-01-01"));
            let o = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
            assert_eq!(o.changes.len(), 1, "{email}: {o:?}");
            assert!(o.changes[0].error.is_none(), "{email}: {o:?}");
            let user = rig.leapsome.user_by_username(email).unwrap_or_else(|| panic!("{email} created"));
            assert_eq!(user["name"]["familyName"], last);
            // The filter the component sent was quoted and escaped: the mock parsed it to the
            // exact address.
            let lookup =
                rig.leapsome.control().journal().into_iter().rev().find(|e| e.query.contains("filter")).unwrap();
            assert!(lookup.query.contains("%22"), "quoted filter: {}", lookup.query);
        }
        // A pre-existing account whose userName differs only in case is adopted, not duplicated.
        rig.leapsome.seed_user(serde_json::json!({"userName": "MIXED.case@acme.test"}));
        let id = rig.humaans.add_person(person("Mixed", "Case", "mixed.CASE@acme.test"));
        let o = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
        assert_eq!(o.changes[0].kind, api::ChangeKind::Adopt, "{o:?}");
        assert_eq!(rig.leapsome.users().len(), 6);
    }
}

#[tokio::test]
async fn missing_fields_are_cleared_or_skipped_with_a_reason() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let mut bare = person("Only", "", "only@acme.test");
    bare.last_name = String::new();
    bare.phone_number = None;
    bare.employee_id = None;
    let id = rig.humaans.add_person(bare);
    // No job role at all: no title, department or manager.
    let o = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
    assert!(o.changes.iter().all(|c| c.error.is_none()), "{o:?}");
    assert!(rig.leapsome.user_by_username("only@acme.test").is_some());

    let mut no_email = person("No", "Email", "x@acme.test");
    no_email.email = String::new();
    let id = rig.humaans.add_person(no_email);
    let o = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
    assert!(o.changes.is_empty());
    assert_eq!(o.skipped.as_deref(), Some("no work email in Humaans"));
    let skip = logs(&plugin, false, Some(&id)).await;
    assert_eq!(skip[0].action, api::LogAction::Skip);
    assert!(skip[0].message.contains("no work email"));
}

#[tokio::test]
async fn oversized_truncated_and_html_responses_are_typed_errors() {
    let rig = Rig::start().await;
    rig.humaans.load_seed(mock_servers::org::generate_org(120, 9, "2026-11-28"));
    // Responses over the host's cap fail mid-body: a transport error, not a trap.
    let mut tenant = rig.tenant("capped");
    tenant.max_response_bytes = 16 * 1024;
    let capped = rig.plugin(tenant);
    capped.connect(&rig.connection()).await.unwrap().unwrap();
    capped.configure(&all_on(Dialect::Leapsome)).await.unwrap().unwrap();
    match capped.sync_all(sync_options(false, None)).await.unwrap() {
        Err(IntegrationError::Transport(f)) => assert_eq!(f.service, Service::Humaans),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(rig.scim_writes().is_empty(), "nothing written from a partial read");

    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let person_id = rig.humaans.people()[0].id.clone();
    // An HTML error page (with a 500) after retries: an upstream error with a readable message.
    rig.humaans.control().add_fault(FaultRule::new(
        Some("GET"),
        &format!("/api/people/{person_id}"),
        Fault::Raw { status: 500, content_type: "text/html".into(), body: "<html><body>Oops</body></html>".into() },
        4,
    ));
    match plugin.on_employee_event(&event(api::EventKind::Updated, &person_id)).await.unwrap() {
        Err(IntegrationError::Upstream(f)) => {
            assert_eq!(f.status, Some(500));
            assert!(f.message.contains("HTML"), "{}", f.message);
        }
        other => panic!("expected upstream error, got {other:?}"),
    }
    // A 200 with the wrong content type and a body that is not JSON, every time.
    rig.humaans.control().add_fault(FaultRule::new(
        Some("GET"),
        &format!("/api/people/{person_id}"),
        Fault::Raw { status: 200, content_type: "text/plain".into(), body: "OK".into() },
        4,
    ));
    match plugin.on_employee_event(&event(api::EventKind::Updated, &person_id)).await.unwrap() {
        Err(IntegrationError::Transport(f)) => assert!(f.message.contains("unreadable"), "{}", f.message),
        other => panic!("expected transport error, got {other:?}"),
    }
    // Truncated JSON every time: the same.
    rig.humaans.control().add_fault(FaultRule::new(Some("GET"), "/api/people", Fault::MalformedJson, 4));
    assert!(matches!(plugin.sync_all(sync_options(false, None)).await.unwrap(), Err(IntegrationError::Transport(_))));
    // Nothing corrupted: a clean sync then works and a second one writes nothing.
    let r = plugin.sync_all(sync_options(false, None)).await.unwrap().unwrap();
    assert!(r.complete && r.failed == 0 && r.created > 0, "{r:?}");
    let again = plugin.sync_all(sync_options(false, None)).await.unwrap().unwrap();
    assert_eq!(again.writes, 0);
    assert_eq!(logs(&plugin, true, None).await.len(), 3, "each failed call is in the log");
}

#[tokio::test]
async fn ids_that_do_not_exist_are_typed_errors() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Rfc7644)).await;
    match plugin.on_employee_event(&event(api::EventKind::Updated, "NoSuchPerson0000000000000")).await.unwrap() {
        Err(IntegrationError::UnknownPerson(id)) => assert_eq!(id, "NoSuchPerson0000000000000"),
        other => panic!("expected unknown person, got {other:?}"),
    }
    // A manager id that does not exist in Humaans: the profile goes through; the manager will
    // never have an account, so nothing waits for them (logged once instead).
    let id = rig.humaans.add_person(person("Has", "Ghost", "has.ghost@acme.test"));
    rig.humaans.add_job_role(JobRole::new(&id, "Engineer", "Eng", Some("GhostManager000000000000"), "2024-01-01"));
    let o = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
    assert!(!o.manager_pending, "{o:?}");
    assert_eq!(o.changes.len(), 1);
    let noted = logs(&plugin, false, Some(&id)).await;
    assert!(noted.iter().any(|e| e.message.contains("GhostManager000000000000 will not get an account")), "{noted:#?}");
    for bad in ["", "../etc/passwd", "a b", &"x".repeat(65)] {
        match plugin.on_employee_event(&event(api::EventKind::Updated, bad)).await.unwrap() {
            Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "event.person-id"),
            other => panic!("{bad:?}: expected invalid input, got {other:?}"),
        }
    }
    let mut late = event(api::EventKind::Updated, &id);
    late.occurred_at = "yesterday".into();
    assert!(
        matches!(plugin.on_employee_event(&late).await.unwrap(), Err(IntegrationError::InvalidInput(f)) if f.field == "event.occurred-at")
    );
    assert!(
        matches!(plugin.tick("not a time").await.unwrap(), Err(IntegrationError::InvalidInput(f)) if f.field == "now")
    );
}

/// A service claiming an absurd total (10^11) is a typed error naming it, not a plan of 10^11
/// pages that runs the component out of memory (found by fuzzing: `fuzz/`, both response targets).
#[tokio::test]
async fn an_absurd_list_total_is_a_typed_error_not_an_out_of_memory_trap() {
    let rig = Rig::start().await;
    hire(&rig, "Ada", "Lovelace", "CTO", "Engineering", None);
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let claims = [
        (
            Service::Scim,
            "/scim/v1/Users",
            r#"{"totalResults":100000000000,"Resources":[{"id":"u1","userName":"x@acme.test"}]}"#,
        ),
        (Service::Humaans, "/api/people", r#"{"total":100000000000,"limit":1,"skip":0,"data":[]}"#),
    ];
    for (service, path, body) in claims {
        let fault = Fault::Raw { status: 200, content_type: "application/json".into(), body: body.into() };
        let control = if service == Service::Scim { rig.leapsome.control() } else { rig.humaans.control() };
        control.add_fault(FaultRule::new(Some("GET"), path, fault, 1));
        match plugin.sync_all(sync_options(false, None)).await.expect("no trap") {
            Err(IntegrationError::Transport(f)) => {
                assert_eq!(f.service, service);
                assert!(f.message.contains("100000000000") && f.message.contains("more than 1000000"), "{}", f.message);
            }
            other => panic!("{service:?}: expected a transport error, got {other:?}"),
        }
        control.clear_faults();
    }
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.created, 1, "{report:?}");
}
