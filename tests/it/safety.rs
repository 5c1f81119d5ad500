//! "Safe to leave alone": what must hold when the integration runs by itself for months. Backoff
//! and quarantine instead of retrying a refusal every tick, the `unauthorized` connection state,
//! reading by id before treating an absent person as deleted, the mass-deprovisioning brake,
//! future-dated job roles, duplicate work emails, rehires, managers who will never have an
//! account, unreadable state, drift repaired, and a SCIM service without DELETE. (Overlapping
//! processes are in `host-harness/tests/cli.rs`.)

use crate::support::*;
use host_harness::api::{
    self, ConnectionState, DeprovisionAction, Dialect, EventKind, IntegrationError, LogAction, ProvisionTiming,
};
use mock_servers::humaans::{ApiToken, JobRole, Person, STATUS_NEW_HIRE};
use mock_servers::leapsome::LeapsomeConfig;
use mock_servers::{Fault, FaultRule};
use serde_json::{Value, json};

fn scim_posts(rig: &Rig) -> usize {
    rig.leapsome.control().journal().iter().filter(|e| e.method == "POST").count()
}

async fn status(plugin: &host_harness::TenantPlugin) -> api::StatusReport {
    plugin.status().await.unwrap().expect("status")
}

fn count_logs(entries: &[api::LogEntry], action: LogAction, needle: &str) -> usize {
    entries.iter().filter(|e| e.action == action && e.message.contains(needle)).count()
}

/// A request straight to the SCIM mock, as an admin editing Leapsome by hand would make.
async fn by_hand(rig: &Rig, method: &str, path: &str, body: Option<Value>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let base = rig.leapsome.base_url();
    let authority = base.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!(
        "{method} /scim/v1{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {SCIM_TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Backoff, quarantine, retry

#[tokio::test]
async fn a_permanent_refusal_backs_off_then_quarantines_until_retried() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let id = refused_hire(&rig, &plugin).await;

    // Not before the first backoff (15 minutes), whatever ticks come.
    tick_ok(&plugin, "2026-11-28T12:05:00Z").await;
    tick_ok(&plugin, "2026-11-28T12:14:59Z").await;
    assert_eq!(scim_posts(&rig), 1, "retried inside the backoff");
    let report = tick_ok(&plugin, "2026-11-28T12:15:00Z").await;
    assert_eq!((report.failed, scim_posts(&rig)), (1, 2));
    assert_eq!(report.next_due.as_deref(), Some("2026-11-28T12:45:00Z"), "doubled: 30 minutes");

    // Keep ticking at each retry time: after 7 days the person is quarantined, once.
    let mut attempts = 2;
    let mut now: jiff::Timestamp = "2026-11-28T12:45:00Z".parse().unwrap();
    loop {
        let report = tick_ok(&plugin, &now.to_string()).await;
        attempts += 1;
        assert_eq!(scim_posts(&rig), attempts);
        match report.next_due {
            Some(next) => {
                let next: jiff::Timestamp = next.parse().unwrap();
                assert!(next.duration_since(now) <= jiff::SignedDuration::from_hours(24), "backoff capped at a day");
                now = next;
            }
            None => break,
        }
        assert!(attempts < 30, "never quarantined");
    }
    let days = now.duration_since(NOW.parse().unwrap()).as_hours() / 24;
    assert_eq!(days, 7, "quarantined after 7 days of refusals");
    assert!(attempts <= 15, "{attempts} attempts in a week: backoff works");
    let s = status(&plugin).await;
    assert_eq!(s.quarantined_count, 1);
    assert_eq!(s.quarantined[0].person_id, id);
    assert!(s.quarantined[0].reason.contains("400"), "{:?}", s.quarantined[0]);

    // No attempts while quarantined, and the quarantine is logged exactly once.
    tick_ok(&plugin, "2026-12-20T00:00:00Z").await;
    sync_ok(&plugin, false, None).await;
    assert_eq!(scim_posts(&rig), attempts);
    let entries = logs(&plugin, false, Some(&id)).await;
    assert_eq!(count_logs(&entries, LogAction::Quarantine, "quarantined after 7 days"), 1);

    // The operator retries: the next tick tries again.
    plugin.retry(&id).await.unwrap().expect("retry");
    assert_eq!(status(&plugin).await.quarantined_count, 0);
    tick_ok(&plugin, "2026-12-20T00:01:00Z").await;
    assert_eq!(scim_posts(&rig), attempts + 1);
    assert_eq!(count_logs(&logs(&plugin, false, Some(&id)).await, LogAction::Retry, "retry requested"), 1);

    // A change in Humaans lifts a backoff at once: with the email fixed, the account is made.
    rig.humaans.update_person(&id, |p| p.email = "eve.outsider@acme.test".into());
    event_ok(&plugin, EventKind::Updated, &id).await;
    assert!(rig.leapsome.user_by_username("eve.outsider@acme.test").is_some());
    assert_eq!(status(&plugin).await.retrying, 0);
}

#[tokio::test]
async fn consecutive_refusals_make_the_connection_unauthorized_until_connect() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let refused = Fault::Status { status: 401, message: "token revoked".into() };
    rig.leapsome.control().add_fault(FaultRule::new(None, "/scim/v1", refused, 1000));

    let first = plugin.sync_all(sync_options(false, None)).await.unwrap();
    assert!(matches!(first, Err(IntegrationError::Unauthorized(_))), "{first:?}");
    assert_eq!(status(&plugin).await.connection, ConnectionState::Ok, "one refusal may be a blip");
    let second = plugin.sync_all(sync_options(false, None)).await.unwrap();
    assert!(matches!(second, Err(IntegrationError::Unauthorized(_))), "{second:?}");
    let s = status(&plugin).await;
    assert_eq!(s.connection, ConnectionState::Unauthorized);
    assert_eq!(s.unauthorized.as_ref().and_then(|f| f.status), Some(401));
    assert!(s.unauthorized_since.is_some());

    // Writes stop: nothing is sent to either service.
    clear_journals(&rig);
    let id = hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None);
    let event = plugin.on_employee_event(&event(EventKind::Created, &id)).await.unwrap();
    match event {
        Err(IntegrationError::Unauthorized(f)) => assert!(f.message.contains("connect"), "{f:?}"),
        other => panic!("{other:?}"),
    }
    assert!(plugin.tick("2026-11-29T00:00:00Z").await.unwrap().is_err());
    assert_eq!(total_requests(&rig), 0);
    let entries = logs(&plugin, true, None).await;
    assert_eq!(count_logs(&entries, LogAction::ConnectionState, "consecutive calls"), 1, "logged once");

    // A successful connect ends the state.
    rig.leapsome.control().clear_faults();
    plugin.connect(&rig.connection()).await.unwrap().expect("connects");
    assert_eq!(status(&plugin).await.connection, ConnectionState::Ok);
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.created, 2);
}

// ---------------------------------------------------------------------------------------------
// Absence is not deletion; the mass-deprovisioning brake

#[tokio::test]
async fn a_token_without_private_read_is_refused_naming_the_scope() {
    let rig = Rig::start().await;
    rig.humaans.add_token(ApiToken::new("public-only", None, &["public:read"]));
    let plugin = rig.plugin(rig.tenant("t"));
    let connection = api::Connection { humaans_token: "public-only".into(), ..rig.connection() };
    match plugin.connect(&connection).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => {
            assert_eq!(f.field, "connection.humaans-token");
            assert!(f.message.contains("private:read"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn someone_missing_from_the_list_is_read_by_id_and_only_a_404_deprovisions() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let grace = hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;

    // The list comes back without Grace (a scope or paging glitch on Humaans' side).
    let ada_json = serde_json::to_value(rig.humaans.person(&ada).unwrap()).unwrap();
    let page = json!({"total": 1, "limit": 250, "skip": 0, "data": [ada_json]});
    let fault = Fault::Raw { status: 200, content_type: "application/json".into(), body: page.to_string() };
    rig.humaans.control().add_fault(FaultRule::new(Some("GET"), "/api/people", fault, 1));
    clear_journals(&rig);
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.deprovisioned, 0, "{report:?}");
    assert!(rig.scim_writes().is_empty(), "{:?}", rig.scim_writes());
    let read_by_id =
        rig.humaans.control().journal().iter().filter(|e| e.path == format!("/api/people/{grace}")).count();
    assert_eq!(read_by_id, 1);

    // Really deleted: the read by id answers 404 and the account is suspended.
    rig.humaans.delete_person(&grace);
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.deprovisioned, 1);
    assert_eq!(rig.leapsome.user_by_username("grace.hopper@acme.test").unwrap()["active"], false);
}

#[tokio::test]
async fn a_mass_offboarding_is_held_until_approved() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ids: Vec<String> =
        (0..8).map(|i| hire(&rig, "Person", &format!("Number{i}"), "Engineer", "Engineering", None)).collect();
    sync_ok(&plugin, false, None).await;
    for id in &ids {
        rig.humaans.offboard(id, "2026-11-27");
    }
    clear_journals(&rig);
    // 8 leavers of 8 accounts: over the default limit of max(5, 10%).
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!((report.held, report.deprovisioned), (8, 0), "{report:?}");
    assert!(rig.scim_writes().is_empty(), "nothing suspended");
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.held, 8);
    let entries = logs(&plugin, false, None).await;
    assert_eq!(count_logs(&entries, LogAction::Hold, "deprovision held"), 8, "each held person logged once");
    assert_eq!(status(&plugin).await.held.len(), 8);
    // A tick does not deprovision them behind the operator's back.
    tick_ok(&plugin, "2026-11-29T00:00:00Z").await;
    assert!(rig.scim_writes().is_empty());

    // Nor does an event: while anyone is held, every deprovision waits for approval.
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ids[0]).await;
    assert!(outcome.changes.is_empty() && outcome.skipped.as_deref().is_some_and(|s| s.contains("held")));
    assert!(rig.scim_writes().is_empty());
    // They are carried out on approval.
    let approved = sync_approving(&plugin).await;
    assert_eq!((approved.deprovisioned, approved.held), (8, 0));
    assert!(status(&plugin).await.held.is_empty());
}

#[tokio::test]
async fn a_tick_that_would_deprovision_too_many_holds_them_too() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Rfc7644)).await;
    let ids: Vec<String> =
        (0..6).map(|i| hire(&rig, "Person", &format!("Number{i}"), "Engineer", "Engineering", None)).collect();
    // All six leave on the same future day: the tick after it would suspend six (limit 5).
    for id in &ids {
        rig.humaans.update_person(id, |p| p.last_working_day = Some("2026-11-30".into()));
    }
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.created, 6);
    clear_journals(&rig);
    let tick = tick_ok(&plugin, "2026-12-01T00:00:00Z").await;
    assert_eq!((tick.held, tick.deprovisioned), (6, 0), "{tick:?}");
    assert!(rig.scim_writes().is_empty());
    assert_eq!(status(&plugin).await.held.len(), 6);
    // The operator approves a day later (the same tenant, its clock past the last working day).
    let mut later = rig.tenant("t");
    later.fixed_clock = Some(at("2026-12-01T09:00:00Z"));
    let approved = sync_approving(&rig.plugin(later)).await;
    assert_eq!(approved.deprovisioned, 6);
    assert!(rig.leapsome.users().iter().all(|u| u["active"] == false));
}

#[tokio::test]
async fn a_deprovision_limit_set_by_the_operator_applies() {
    let rig = Rig::start().await;
    let mut s = all_on(Dialect::Leapsome);
    s.deprovision_limit = Some(api::DeprovisionLimit::Count(1));
    let plugin = rig.connected("t", s.clone()).await;
    let a = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let b = hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;
    rig.humaans.offboard(&a, "2026-11-27");
    rig.humaans.offboard(&b, "2026-11-27");
    assert_eq!(sync_ok(&plugin, false, None).await.held, 2);
    // Raising the limit does not wave held people through: they wait for an approval.
    s.deprovision_limit = Some(api::DeprovisionLimit::Percent(100));
    plugin.configure(&s).await.unwrap().unwrap();
    assert_eq!(sync_ok(&plugin, false, None).await.held, 2);
    let approved = plugin.approve_deprovisions(None).await.unwrap().unwrap();
    assert_eq!(approved.approved, 2);
    // With no one held, the new limit applies to the next leaver.
    let c = hire(&rig, "Alan", "Turing", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;
    rig.humaans.offboard(&c, "2026-11-27");
    assert_eq!(sync_ok(&plugin, false, None).await.deprovisioned, 1);
}

// ---------------------------------------------------------------------------------------------
// Future job roles, duplicates, rehires, managers

async fn future_role_applies_at_its_date(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    // A promotion entered today, effective on 1 December (London: midnight UTC in winter).
    rig.humaans.add_job_role(JobRole::new(&ada, "Staff Engineer", "Engineering", None, "2026-12-01"));
    event_ok(&plugin, EventKind::JobRoleChanged, &ada).await;
    clear_journals(&rig);
    let report = tick_ok(&plugin, "2026-11-30T23:59:59Z").await;
    assert_eq!(report.next_due.as_deref(), Some("2026-12-01T00:00:00Z"));
    assert!(rig.scim_writes().is_empty());
    tick_ok(&plugin, "2026-12-01T00:00:00Z").await;
    let bodies = scim_write_bodies(&rig);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].2.to_string().contains("Staff Engineer"), "{bodies:?}");
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["title"], "Staff Engineer");
}

#[tokio::test]
async fn two_people_with_one_email_keep_one_account_and_are_logged_once() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let first = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let mut twin = Person::new("Ada", "Lovelace-Byron", "ADA.LOVELACE@acme.test");
    twin.created_at = "2030-01-01T00:00:00.000Z".into();
    let second = rig.humaans.add_person(twin);
    rig.humaans.add_job_role(JobRole::new(&second, "Analyst", "Finance", None, "2024-01-01"));

    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.created, 1);
    let users = rig.leapsome.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["externalId"], first.as_str(), "the earlier record keeps the account");
    clear_journals(&rig);
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!(again.writes, 0, "{again:?}");
    assert!(rig.scim_writes().is_empty());
    // An event for the second one does not take the account over either.
    let outcome = event_ok(&plugin, EventKind::Updated, &second).await;
    assert!(outcome.changes.is_empty(), "{outcome:?}");
    assert!(outcome.skipped.unwrap().contains("duplicate work email"));
    assert!(rig.scim_writes().is_empty());
    let entries = logs(&plugin, false, Some(&second)).await;
    assert_eq!(count_logs(&entries, LogAction::Skip, "duplicate work email"), 1, "{entries:#?}");
}

async fn rehire_follows_the_provisioning_timing(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    rig.humaans.offboard(&ada, "2026-11-20");
    event_ok(&plugin, EventKind::Offboarded, &ada).await;
    let email = "ada.lovelace@acme.test";
    assert_eq!(rig.leapsome.user_by_username(email).unwrap()["active"], false);

    // Rehired from 7 December; the old last working day stays on the record.
    rig.humaans.update_person(&ada, |p| {
        p.status = STATUS_NEW_HIRE.into();
        p.employment_start_date = Some("2026-12-07".into());
        p.first_working_day = Some("2026-12-07".into());
    });
    let mut s = all_on(dialect);
    s.provisioning = Some(ProvisionTiming::OnStartDate);
    plugin.configure(&s).await.unwrap().unwrap();
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert!(outcome.changes.is_empty(), "{outcome:?}");
    assert_eq!(outcome.skipped.as_deref(), Some("rehire, due 2026-12-07T00:00:00Z"));
    sync_ok(&plugin, false, None).await;
    tick_ok(&plugin, "2026-12-06T23:59:59Z").await;
    assert!(rig.scim_writes().is_empty(), "{:?}", scim_write_bodies(&rig));
    assert_eq!(rig.leapsome.user_by_username(email).unwrap()["active"], false);
    let report = tick_ok(&plugin, "2026-12-07T00:00:00Z").await;
    assert_eq!(report.failed, 0);
    assert_eq!(rig.leapsome.user_by_username(email).unwrap()["active"], true);
    assert_eq!(rig.leapsome.users().len(), 1, "the same account");
}

#[tokio::test]
async fn with_provisioning_off_a_rehire_is_left_alone() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    rig.humaans.offboard(&ada, "2026-11-20");
    event_ok(&plugin, EventKind::Offboarded, &ada).await;
    rig.humaans.update_person(&ada, |p| {
        p.status = "active".into();
        p.employment_start_date = Some("2026-11-25".into());
    });
    plugin.configure(&settings(None, Some(DeprovisionAction::Suspend), Dialect::Leapsome)).await.unwrap().unwrap();
    clear_journals(&rig);
    sync_ok(&plugin, false, None).await;
    event_ok(&plugin, EventKind::Updated, &ada).await;
    assert!(rig.scim_writes().is_empty());
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], false);
}

#[tokio::test]
async fn a_manager_who_will_never_have_an_account_is_logged_once_and_not_retried() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let boss = rig.humaans.add_person(Person::new("No", "Email", ""));
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&boss));
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!((report.created, report.managers_pending), (1, 0), "{report:?}");
    sync_ok(&plugin, false, None).await;
    clear_journals(&rig);
    let tick = tick_ok(&plugin, "2026-11-29T00:00:00Z").await;
    assert_eq!(tick.waiting, 0);
    assert_eq!(total_requests(&rig), 0, "ticks do not come back for them");
    let entries = logs(&plugin, false, Some(&ada)).await;
    assert_eq!(count_logs(&entries, LogAction::ManagerPending, "will not get an account"), 1, "{entries:#?}");
    assert_eq!(count_logs(&entries, LogAction::ManagerPending, "waits"), 0);
}

async fn a_manager_re_created_under_a_new_id_is_linked_again(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let boss = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&boss));
    sync_ok(&plugin, false, None).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");
    let old = scim_id(&rig, "grace.hopper@acme.test");
    assert_eq!(rig.leapsome.manager_id_of(&ada_id).as_deref(), Some(old.as_str()));

    // Someone deletes the manager's account in Leapsome; the next sync re-creates it.
    assert_eq!(by_hand(&rig, "DELETE", &format!("/Users/{old}"), None).await, 204);
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.created, 1, "{report:?}");
    let new = scim_id(&rig, "grace.hopper@acme.test");
    assert_ne!(new, old);
    assert_eq!(rig.leapsome.manager_id_of(&ada_id).as_deref(), Some(new.as_str()), "{ada}");
    clear_journals(&rig);
    assert_eq!(sync_ok(&plugin, false, None).await.writes, 0);
}

in_both_dialects!(future_role_applies_at_its_date, rehire_follows_the_provisioning_timing);
in_both_dialects!(a_manager_re_created_under_a_new_id_is_linked_again, drift_made_by_hand_is_repaired);

// ---------------------------------------------------------------------------------------------
// Unreadable state, drift, a service without DELETE

#[tokio::test]
async fn unreadable_settings_are_a_storage_error_and_a_log_entry() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let namespace = plugin.tenant().storage_namespace.clone();
    rig.storage.set(&namespace, "", "settings", b"{\"provisioning\": 7").unwrap();
    clear_journals(&rig);
    match plugin.on_employee_event(&event(EventKind::Created, &ada)).await.unwrap() {
        Err(IntegrationError::Storage(m)) => assert!(m.contains("settings"), "{m}"),
        other => panic!("not a storage error: {other:?}"),
    }
    assert_eq!(total_requests(&rig), 0, "nothing done as if provisioning were off");
    let failures = logs(&plugin, true, None).await;
    assert!(failures.iter().any(|e| e.message.contains("`settings` is unreadable")), "{failures:#?}");
}

async fn drift_made_by_hand_is_repaired(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;
    let id = scim_id(&rig, "ada.lovelace@acme.test");
    let edit = match dialect {
        Dialect::Leapsome => json!({"userName": "ada.lovelace@acme.test", "title": "Edited by hand"}),
        Dialect::Rfc7644 => json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Edited by hand"}]
        }),
    };
    assert_eq!(by_hand(&rig, "PATCH", &format!("/Users/{id}"), Some(edit)).await, 200);
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["title"], "Edited by hand");
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(report.updated, 1, "{report:?}");
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["title"], "Engineer");
    clear_journals(&rig);
    assert_eq!(sync_ok(&plugin, false, None).await.writes, 0);
}

/// Leapsome's published spec documents no DELETE: whatever a service without it answers (404,
/// 405, 501), an account a GET still shows is deactivated instead, and that is learnt once.
#[tokio::test]
async fn a_service_without_delete_gets_deactivation_instead() {
    for status in [404, 405, 501] {
        let rig = Rig::with_leapsome(LeapsomeConfig { delete_status: Some(status), ..LeapsomeConfig::default() }).await;
        let deactivate =
            settings(Some(ProvisionTiming::Immediately), Some(DeprovisionAction::Deactivate), Dialect::Leapsome);
        let plugin = rig.connected("t", deactivate).await;
        let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
        let grace = hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None);
        sync_ok(&plugin, false, None).await;

        rig.humaans.offboard(&ada, "2026-11-27");
        clear_journals(&rig);
        let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
        assert_eq!(outcome.changes.len(), 1);
        assert!(outcome.changes[0].error.is_none(), "{status}: {outcome:?}");
        let methods: Vec<String> = rig.leapsome.control().journal().iter().map(|e| e.method.clone()).collect();
        assert_eq!(methods, vec!["DELETE", "GET", "PATCH"], "{status}");
        let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").expect("the account still exists");
        assert_eq!(user["active"], false);

        // Known from now on: the next leaver is deactivated without trying DELETE.
        rig.humaans.offboard(&grace, "2026-11-27");
        clear_journals(&rig);
        event_ok(&plugin, EventKind::Offboarded, &grace).await;
        let methods: Vec<String> = rig.scim_writes().iter().map(|e| e.method.clone()).collect();
        assert_eq!(methods, vec!["PATCH"], "{status}");
        let entries = logs(&plugin, false, None).await;
        assert_eq!(count_logs(&entries, LogAction::Delete, "does not support DELETE"), 1);
        // Nothing left to do for either.
        clear_journals(&rig);
        assert_eq!(sync_ok(&plugin, false, None).await.writes, 0, "{status}");
    }
}

/// A service with DELETE keeps getting DELETE.
#[tokio::test]
async fn a_service_with_delete_gets_delete() {
    let rig = Rig::start().await;
    let deactivate =
        settings(Some(ProvisionTiming::Immediately), Some(DeprovisionAction::Deactivate), Dialect::Leapsome);
    let plugin = rig.connected("t", deactivate).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    sync_ok(&plugin, false, None).await;
    rig.humaans.offboard(&ada, "2026-11-27");
    clear_journals(&rig);
    event_ok(&plugin, EventKind::Offboarded, &ada).await;
    let methods: Vec<String> = rig.scim_writes().iter().map(|e| e.method.clone()).collect();
    assert_eq!(methods, vec!["DELETE"]);
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_none());
}
