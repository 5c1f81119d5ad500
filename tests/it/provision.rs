//! Provision on demand (`provision-person`), through the component in the host: one person through
//! every step now, with a trace of each (what was read, scope, quarantine, match, brake,
//! decision, each write with its HTTP status), whatever the provisioning setting; a dry run
//! writes nothing; quarantine and the deprovision brake hold, and the trace says so.

use crate::support::*;
use host_harness::api::{self, ChangeKind, Dialect, IntegrationError, LogAction, ProvisionTrace};
use host_harness::{Run, TenantPlugin};

async fn provision(plugin: &TenantPlugin, person: &str, dry_run: bool) -> ProvisionTrace {
    match plugin.provision_person(person, dry_run).await.expect("no trap") {
        Ok(trace) => trace,
        Err(e) => panic!("provision {person} failed: {e:?}"),
    }
}

/// The one step named `step` (panics when there is not exactly one).
fn step<'a>(trace: &'a ProvisionTrace, step: &str) -> &'a api::TraceStep {
    let found: Vec<_> = trace.steps.iter().filter(|s| s.step == step).collect();
    assert_eq!(found.len(), 1, "one {step} step: {:#?}", trace.steps);
    found[0]
}

fn steps<'a>(trace: &'a ProvisionTrace, step: &str) -> Vec<&'a api::TraceStep> {
    trace.steps.iter().filter(|s| s.step == step).collect()
}

fn posts(rig: &Rig) -> usize {
    rig.leapsome.control().journal().iter().filter(|e| e.method == "POST").count()
}

#[tokio::test]
async fn a_new_hire_is_created_on_demand_with_provisioning_off_and_the_trace_says_each_step() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", settings(None, None, Dialect::Leapsome)).await.in_run(Run::new("cli"));
    // Starts next month: no setting would provision her yet, provision on demand does.
    let id = new_hire(&rig, "Ada", "Lovelace", "2026-12-14", "Europe/London");
    rig.humaans.update_person(&id, |p| {
        p.gender = Some("female".into());
        p.birthday = Some("1990-04-01".into());
    });
    let trace = provision(&plugin, &id, false).await;

    let names: Vec<&str> = trace.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names,
        ["connection", "settings", "read", "scope", "quarantine", "match", "brake", "decision", "write"],
        "{:#?}",
        trace.steps
    );
    assert_eq!(step(&trace, "connection").outcome, "ok");
    assert!(step(&trace, "connection").detail.contains("HTTP 200"), "{:?}", step(&trace, "connection"));
    let settings = step(&trace, "settings");
    assert_eq!(settings.outcome, "provisioning off");
    assert!(settings.detail.contains("goes ahead anyway"), "{settings:?}");
    let read = step(&trace, "read");
    assert_eq!(read.outcome, "found");
    for said in ["name: Ada Lovelace", "email: ada.lovelace@acme.test", "status: newHire", "start date: 2026-12-14"] {
        assert!(read.detail.contains(said), "{said} in {read:?}");
    }
    assert_eq!(step(&trace, "scope").detail, "everyone is in scope (no rules)");
    assert_eq!(step(&trace, "quarantine").outcome, "clear");
    assert_eq!(step(&trace, "match").outcome, "none");
    assert_eq!(step(&trace, "decision").outcome, "create");
    let write = step(&trace, "write");
    assert_eq!((write.outcome.as_str(), write.detail.as_str()), ("HTTP 201", "POST /scim/v1/Users"));
    // Personal data is never in a trace.
    let text = format!("{trace:?}");
    assert!(!text.contains("1990-04-01") && !text.to_lowercase().contains("female"), "{text}");

    assert_eq!(trace.changes.len(), 1, "{:?}", trace.changes);
    assert_eq!((trace.changes[0].kind, trace.changes[0].error.as_deref()), (ChangeKind::Create, None));
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_some());
    assert_eq!(posts(&rig), 1);
    // Logged as the event path logs a creation, in the run the host named.
    let entries = logs(&plugin, false, Some(&id)).await;
    let created: Vec<_> = entries.iter().filter(|e| e.action == LogAction::Provision).collect();
    assert_eq!(created.len(), 1, "{entries:#?}");
    assert_eq!(created[0].trigger, "cli");
    assert_eq!(&created[0].run_id, &plugin.run().unwrap().id);

    // Again: the account is linked and up to date, nothing is written.
    let again = provision(&plugin, &id, false).await;
    assert_eq!(step(&again, "match").outcome, "by link");
    assert_eq!(step(&again, "decision").outcome, "nothing");
    assert_eq!(step(&again, "write").outcome, "none");
    assert!(again.changes.is_empty());
    assert_eq!(rig.scim_writes().len(), 1);
}

#[tokio::test]
async fn an_existing_linked_person_is_updated_and_the_trace_names_the_attributes() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let id = hire(&rig, "Alan", "Turing", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;
    let account = scim_id(&rig, "alan.turing@acme.test");
    rig.humaans.update_person(&id, |p| p.last_name = "Turing-Smith".into());
    clear_journals(&rig);

    let trace = provision(&plugin, &id, false).await;
    assert_eq!(step(&trace, "settings").outcome, "provisioning on");
    let matched = step(&trace, "match");
    assert_eq!(matched.outcome, "by link");
    assert!(matched.detail.contains(&account), "{matched:?}");
    let decision = step(&trace, "decision");
    assert_eq!(decision.outcome, "update");
    assert!(decision.detail.contains("name.familyName"), "{decision:?}");
    let write = step(&trace, "write");
    assert_eq!(write.outcome, "HTTP 200");
    assert_eq!(write.detail, format!("PATCH /scim/v1/Users/{account}"));
    assert_eq!(trace.changes.len(), 1);
    assert_eq!(trace.changes[0].kind, ChangeKind::Update);
    assert!(trace.changes[0].attributes.iter().any(|a| a == "name.familyName"), "{:?}", trace.changes);
    assert_eq!(rig.scim_writes().len(), 1);
    assert_eq!(rig.leapsome.user_by_username("alan.turing@acme.test").unwrap()["name"]["familyName"], "Turing-Smith");
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_a_clear_error_and_nothing_is_written() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    match plugin.provision_person("nobody42", false).await.unwrap() {
        Err(IntegrationError::UnknownPerson(id)) => assert_eq!(id, "nobody42"),
        other => panic!("expected unknown-person, got {other:?}"),
    }
    match plugin.provision_person("no body", true).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "person-id"),
        other => panic!("expected invalid input, got {other:?}"),
    }
    assert!(rig.scim_writes().is_empty());
    // Before connect: not connected.
    let fresh = rig.plugin(rig.tenant("fresh"));
    assert!(matches!(fresh.provision_person("nobody42", false).await.unwrap(), Err(IntegrationError::NotConnected)));
}

#[tokio::test]
async fn a_dry_run_plans_the_creation_and_writes_nothing() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", settings(None, None, Dialect::Leapsome)).await;
    let id = hire(&rig, "Edsger", "Dijkstra", "Engineer", "Engineering", None);
    let logged = logs(&plugin, false, None).await.len();
    clear_journals(&rig);

    let trace = provision(&plugin, &id, true).await;
    assert_eq!(step(&trace, "decision").outcome, "create");
    let write = step(&trace, "write");
    assert_eq!(write.outcome, "dry run");
    assert_eq!(write.detail, "nothing written; 1 change(s) planned");
    assert_eq!(trace.changes.len(), 1);
    assert_eq!(trace.changes[0].kind, ChangeKind::Create);
    // The mock's journal: reads only (the person, their roles, the email lookup).
    let journal = rig.leapsome.control().journal();
    assert_eq!(journal.iter().filter(|e| e.method != "GET").count(), 0, "{journal:?}");
    assert!(journal.iter().any(|e| e.method == "GET"), "the email lookup was made");
    assert!(rig.leapsome.user_by_username("edsger.dijkstra@acme.test").is_none());
    assert_eq!(logs(&plugin, false, None).await.len(), logged, "a dry run logs nothing");

    // The real run then does what the dry run said.
    let real = provision(&plugin, &id, false).await;
    assert_eq!(format!("{:?}", real.changes), format!("{:?}", trace.changes));
    assert_eq!(posts(&rig), 1);
}

#[tokio::test]
async fn a_deprovision_over_the_brake_is_held_and_the_trace_says_so() {
    let rig = Rig::start().await;
    let mut on = all_on(Dialect::Leapsome);
    on.deprovision_limit = Some(api::DeprovisionLimit::Count(1));
    let plugin = rig.connected("t", on).await;
    let ids: Vec<String> =
        (0..3).map(|i| hire(&rig, "Person", &format!("Number{i}"), "Engineer", "Engineering", None)).collect();
    assert_eq!(sync_ok(&plugin, false, None).await.created, 3);
    rig.humaans.offboard(&ids[0], "2026-11-27");
    rig.humaans.offboard(&ids[1], "2026-11-27");

    // The first leaver is within the limit (one a day): suspended.
    let first = provision(&plugin, &ids[0], false).await;
    assert_eq!(step(&first, "brake").outcome, "within the limit");
    assert_eq!(step(&first, "decision").outcome, "deprovision");
    assert_eq!(step(&first, "write").outcome, "HTTP 200");
    assert_eq!(first.changes[0].kind, ChangeKind::Suspend);
    clear_journals(&rig);

    // The second would exceed it: held, nothing written, and held as an event holds it.
    let second = provision(&plugin, &ids[1], false).await;
    let brake = step(&second, "brake");
    assert_eq!(brake.outcome, "held");
    assert!(brake.detail.starts_with("deprovision held"), "{brake:?}");
    assert!(brake.detail.contains("over the limit of 1"), "{brake:?}");
    assert_eq!(step(&second, "decision").outcome, "held");
    assert_eq!(step(&second, "write").outcome, "none");
    assert!(second.changes.is_empty());
    assert!(rig.scim_writes().is_empty());
    let status = plugin.status().await.unwrap().unwrap();
    assert_eq!(status.held.iter().map(|h| h.person_id.as_str()).collect::<Vec<_>>(), [ids[1].as_str()]);
    let held = logs(&plugin, false, Some(&ids[1])).await;
    assert_eq!(held.iter().filter(|e| e.action == LogAction::Hold).count(), 1);
}

#[tokio::test]
async fn a_quarantined_person_is_not_attempted_and_the_trace_says_so() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let id = refused_hire(&rig, &plugin).await;
    // Ticks at each retry time until a week of refusals quarantines the person.
    let mut now: jiff::Timestamp = "2026-11-28T12:15:00Z".parse().unwrap();
    while let Some(next) = tick_ok(&plugin, &now.to_string()).await.next_due {
        now = next.parse().unwrap();
    }
    assert_eq!(plugin.status().await.unwrap().unwrap().quarantined_count, 1);
    clear_journals(&rig);

    let trace = provision(&plugin, &id, false).await;
    let gate = step(&trace, "quarantine");
    assert_eq!(gate.outcome, "quarantined");
    assert!(gate.detail.contains(&format!("retry --person {id}")), "{gate:?}");
    assert!(gate.detail.ends_with("nothing is written"), "{gate:?}");
    assert_eq!(step(&trace, "match").detail, "not looked up (the person is not attempted)");
    assert_eq!(step(&trace, "decision").outcome, "nothing");
    assert_eq!(step(&trace, "write").outcome, "none");
    assert!(trace.changes.is_empty());
    assert!(rig.scim_writes().is_empty());
    assert!(steps(&trace, "result").is_empty());
    assert_eq!(plugin.status().await.unwrap().unwrap().quarantined_count, 1, "still quarantined");
}

#[tokio::test]
async fn scope_rules_say_which_rule_matched_or_why_none_did_and_out_of_scope_gets_nothing() {
    let rig = Rig::start().await;
    let mut scoped = settings(None, None, Dialect::Leapsome);
    scoped.scope =
        vec!["department = Sales".into(), "department in (Engineering, Design) and email-domain = acme.test".into()];
    let plugin = rig.connected("t", scoped).await;
    let engineer = hire(&rig, "Barbara", "Liskov", "Engineer", "Engineering", None);
    let marketer = hire(&rig, "Don", "Draper", "Director", "Marketing", None);

    let inside = provision(&plugin, &engineer, false).await;
    let scope = step(&inside, "scope");
    assert_eq!(scope.outcome, "in scope");
    assert_eq!(scope.detail, "rule 2 matched: department in (Engineering, Design) and email-domain = acme.test");
    assert_eq!(step(&inside, "decision").outcome, "create");
    assert_eq!(posts(&rig), 1);

    let outside = provision(&plugin, &marketer, false).await;
    let scope = step(&outside, "scope");
    assert_eq!(scope.outcome, "out of scope");
    assert!(scope.detail.starts_with("no rule matched: "), "{scope:?}");
    assert!(scope.detail.contains("department is \"Marketing\""), "{scope:?}");
    assert_eq!(step(&outside, "decision").outcome, "nothing");
    assert_eq!(step(&outside, "write").outcome, "none");
    assert!(outside.changes.is_empty());
    assert_eq!(posts(&rig), 1, "nothing written for someone out of scope");
}

#[tokio::test]
async fn a_refused_write_is_traced_with_its_status_and_the_failure() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    // The mock's organisation takes acme.test addresses only.
    let id = rig.humaans.add_person(mock_servers::humaans::Person::new("Eve", "Outsider", "eve@elsewhere.test"));
    rig.humaans.add_job_role(mock_servers::humaans::JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
    let trace = provision(&plugin, &id, false).await;
    let write = step(&trace, "write");
    assert!(write.outcome.starts_with("HTTP 4"), "{write:?}");
    assert_eq!(write.detail, "POST /scim/v1/Users");
    let result = step(&trace, "result");
    assert_eq!(result.outcome, "failed");
    assert!(result.detail.starts_with("create: "), "{result:?}");
    assert!(trace.changes[0].error.is_some(), "{:?}", trace.changes);
    let failures = logs(&plugin, true, Some(&id)).await;
    assert_eq!(failures.iter().filter(|e| e.action == LogAction::Provision).count(), 1, "{failures:#?}");
}

#[tokio::test]
async fn an_account_made_by_hand_is_matched_by_email_and_adopted() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", settings(None, None, Dialect::Leapsome)).await;
    let id = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    // Invited by hand in Leapsome before the integration was switched on, in another case.
    let existing = rig.leapsome.seed_user(serde_json::json!({
        "userName": "Ada.Lovelace@acme.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "Ada.Lovelace@acme.test", "type": "work", "primary": true}],
        "title": "Engineer",
        "active": true,
    }));
    clear_journals(&rig);

    let dry = provision(&plugin, &id, true).await;
    let matched = step(&dry, "match");
    assert_eq!(matched.outcome, "by email");
    assert!(matched.detail.contains(&existing) && matched.detail.contains("not linked yet"), "{matched:?}");
    assert_eq!(step(&dry, "decision").outcome, "adopt");
    assert!(rig.scim_writes().is_empty(), "a dry run adopts nothing");

    let trace = provision(&plugin, &id, false).await;
    assert_eq!(step(&trace, "match").outcome, "by email");
    assert_eq!(step(&trace, "decision").outcome, "adopt");
    assert_eq!(trace.changes[0].kind, ChangeKind::Adopt, "{:?}", trace.changes);
    assert!(steps(&trace, "write").iter().all(|w| w.outcome == "HTTP 200" && w.detail.starts_with("PATCH ")));
    assert_eq!(rig.leapsome.users().len(), 1, "adopted, not created");
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["externalId"], id.as_str());
    assert_eq!(step(&provision(&plugin, &id, false).await, "match").outcome, "by link");
}
