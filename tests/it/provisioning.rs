//! Provisioning end to end: employee events and ticks against both mocks, in both SCIM dialects.
//! Onboarding by each timing (the clock driven through `tick`), profile updates as minimal
//! PATCHes, renames, job role and manager changes, managers that get their account after their
//! reports, deprovisioning (suspend, deactivate, a future last working day, deletion), rehires,
//! typed errors for bad events, and the log with its filters.

use crate::support::*;
use host_harness::api::{self, ChangeKind, DeprovisionAction, Dialect, EventKind, IntegrationError, LogAction};
use host_harness::api::{LogOutcome, ProvisionTiming};
use mock_servers::humaans::{JobRole, STATUS_ACTIVE};
use mock_servers::leapsome::LeapsomeConfig;
use mock_servers::{Fault, FaultRule};
use serde_json::{Value, json};

fn kinds(outcome: &api::EventOutcome) -> Vec<ChangeKind> {
    outcome.changes.iter().map(|c| c.kind).collect()
}

fn assert_no_change_failed(outcome: &api::EventOutcome) {
    for c in &outcome.changes {
        assert!(c.error.is_none(), "change {:?} for {} failed: {:?}", c.kind, c.email, c.error);
    }
}

fn methods(rig: &Rig) -> Vec<String> {
    rig.scim_writes().into_iter().map(|e| e.method).collect()
}

// ---------------------------------------------------------------------------------------------
// Onboarding timings

#[tokio::test]
async fn provisioning_is_off_by_default() {
    let rig = Rig::start().await;
    // Connected, never configured: the defaults apply.
    let plugin = rig.plugin(rig.tenant("t"));
    plugin.connect(&rig.connection()).await.unwrap().expect("connects");
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    clear_journals(&rig);

    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.skipped.as_deref(), Some("provisioning is off"));
    assert!(rig.leapsome.users().is_empty());
    assert!(rig.leapsome.control().journal().is_empty(), "nothing was sent to Leapsome");
    // A tick has nothing to do either.
    let report = tick_ok(&plugin, "2026-12-31T00:00:00Z").await;
    assert_eq!((report.provisioned, report.waiting), (0, 0));
    assert!(rig.leapsome.users().is_empty());

    let skip = logs(&plugin, false, Some(&ada)).await;
    assert_eq!(skip.len(), 1, "{skip:?}");
    assert_eq!(skip[0].action, LogAction::Skip);
    assert_eq!(skip[0].outcome, LogOutcome::Skipped);
    assert!(skip[0].message.contains("provisioning is off"), "{}", skip[0].message);
}

async fn immediately_creates_members_now_and_new_hires_on_their_start(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", settings(Some(ProvisionTiming::Immediately), None, dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    // Starts on 7 December in Berlin (UTC+1): midnight there is 23:00 UTC the day before.
    let nina = new_hire(&rig, "Nina", "Berg", "2026-12-07", "Europe/Berlin");
    clear_journals(&rig);

    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    assert_no_change_failed(&outcome);
    assert_eq!(outcome.changes[0].person_id, ada);
    assert_eq!(outcome.changes[0].email, "ada.lovelace@acme.test");
    assert!(outcome.skipped.is_none());
    assert_eq!(methods(&rig), vec!["POST"], "exactly one write: the creation");
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").expect("account created");
    assert_eq!(user["externalId"], ada.as_str());
    assert_eq!(user["active"], true);
    assert_eq!(user["title"], "Engineer");
    assert_eq!(user[ENTERPRISE]["department"], "Engineering");
    assert_eq!(user["name"]["givenName"], "Ada");
    // What was sent (Leapsome drops attributes outside its schema, so read the request).
    let post = &scim_write_bodies(&rig)[0].2;
    assert_eq!(post[ENTERPRISE]["organization"], "Acme Ltd");
    assert_eq!(post["timezone"], "Europe/London");
    assert_eq!(post["emails"], json!([{"value": "ada.lovelace@acme.test", "type": "work", "primary": true}]));
    assert_eq!(post["active"], true);

    // A new hire is not a member yet: under `immediately` they are due when their start date begins.
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Created, &nina).await;
    assert!(outcome.changes.is_empty());
    assert_eq!(outcome.skipped.as_deref(), Some("new hire, due 2026-12-06T23:00:00Z"));
    assert!(rig.scim_writes().is_empty());
    assert!(rig.leapsome.user_by_username("nina.berg@acme.test").is_none());

    let early = tick_ok(&plugin, "2026-12-06T22:59:59Z").await;
    assert_eq!((early.provisioned, early.waiting), (0, 1));
    assert_eq!(early.next_due.as_deref(), Some("2026-12-06T23:00:00Z"));
    let due = tick_ok(&plugin, "2026-12-06T23:00:00Z").await;
    assert_eq!((due.provisioned, due.waiting, due.failed), (1, 0, 0));
    assert_eq!(due.next_due, None);
    assert!(rig.leapsome.user_by_username("nina.berg@acme.test").is_some());
    assert_eq!(rig.leapsome.users().len(), 2);
}

async fn on_start_date_waits_for_midnight_in_the_persons_timezone(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", settings(Some(ProvisionTiming::OnStartDate), None, dialect)).await;
    // A member whose start date has passed is due at once.
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    assert_no_change_failed(&outcome);

    // A new hire starting on 1 December in Tokyo (UTC+9): due at 2026-11-30T15:00:00Z.
    let kenji = new_hire(&rig, "Kenji", "Sato", "2026-12-01", "Asia/Tokyo");
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Created, &kenji).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.skipped.as_deref(), Some("new hire, due 2026-11-30T15:00:00Z"));
    assert!(rig.scim_writes().is_empty());
    let skipped = logs(&plugin, false, Some(&kenji)).await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!((skipped[0].action, skipped[0].outcome), (LogAction::Skip, LogOutcome::Skipped));
    assert_eq!(skipped[0].message, "new hire, due 2026-11-30T15:00:00Z");
    assert_eq!(skipped[0].email.as_deref(), Some("kenji.sato@acme.test"));

    // The start date moves by two days, then back: each event re-reads it and reschedules.
    rig.humaans.update_person(&kenji, |p| p.employment_start_date = Some("2026-12-03".into()));
    let moved = event_ok(&plugin, EventKind::Updated, &kenji).await;
    assert_eq!(moved.skipped.as_deref(), Some("new hire, due 2026-12-02T15:00:00Z"));
    let waiting = tick_ok(&plugin, "2026-11-30T15:00:00Z").await;
    assert_eq!((waiting.provisioned, waiting.waiting), (0, 1), "the old due time no longer counts");
    assert_eq!(waiting.next_due.as_deref(), Some("2026-12-02T15:00:00Z"));
    rig.humaans.update_person(&kenji, |p| p.employment_start_date = Some("2026-12-01".into()));
    let back = event_ok(&plugin, EventKind::Updated, &kenji).await;
    assert_eq!(back.skipped.as_deref(), Some("new hire, due 2026-11-30T15:00:00Z"));
    assert!(rig.scim_writes().is_empty());

    // A second before the due time: nothing is due, nothing is read or written.
    clear_journals(&rig);
    let early = tick_ok(&plugin, "2026-11-30T14:59:59Z").await;
    assert_eq!((early.provisioned, early.waiting, early.failed), (0, 1, 0));
    assert_eq!(early.next_due.as_deref(), Some("2026-11-30T15:00:00Z"));
    assert_eq!(total_requests(&rig), 0, "a tick with nothing due sends nothing");
    assert!(rig.leapsome.user_by_username("kenji.sato@acme.test").is_none());

    // At the due time: the account is created, from this person's records only.
    let due = tick_ok(&plugin, "2026-11-30T15:00:00Z").await;
    assert_eq!((due.provisioned, due.waiting, due.failed), (1, 0, 0));
    assert_eq!(due.next_due, None);
    assert_eq!(methods(&rig), vec!["POST"]);
    assert_no_full_reads(&rig);
    let user = rig.leapsome.user_by_username("kenji.sato@acme.test").expect("created at the start date");
    assert_eq!(user["externalId"], kenji.as_str());
    assert_eq!(scim_write_bodies(&rig)[0].2["timezone"], "Asia/Tokyo");

    // Done: later ticks have nothing left to do.
    clear_journals(&rig);
    let later = tick_ok(&plugin, "2026-12-02T00:00:00Z").await;
    assert_eq!((later.provisioned, later.waiting), (0, 0));
    assert_eq!(total_requests(&rig), 0);
    assert_eq!(rig.leapsome.users().len(), 2);
    let provisioned = logs(&plugin, false, Some(&kenji)).await;
    assert!(
        provisioned.iter().any(|e| e.action == LogAction::Provision && e.outcome == LogOutcome::Success),
        "{provisioned:?}"
    );
}

async fn days_before_start_preboards_new_hires(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", settings(Some(ProvisionTiming::DaysBeforeStart(7)), None, dialect)).await;
    // Starts in 4 days: within the 7-day lead, so pre-boarded now.
    let soon = new_hire(&rig, "Sam", "Soon", "2026-12-02", "America/New_York");
    // Starts in 12 days in New York (UTC-5): due 7 days before, at 2026-12-03T05:00:00Z.
    let later = new_hire(&rig, "Lee", "Later", "2026-12-10", "America/New_York");

    let outcome = event_ok(&plugin, EventKind::Created, &soon).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    assert_no_change_failed(&outcome);
    let user = rig.leapsome.user_by_username("sam.soon@acme.test").expect("a new hire is pre-boarded");
    assert_eq!(user["active"], true);

    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Created, &later).await;
    assert!(outcome.changes.is_empty());
    assert_eq!(outcome.skipped.as_deref(), Some("new hire, due 2026-12-03T05:00:00Z"));
    assert!(rig.scim_writes().is_empty());

    let early = tick_ok(&plugin, "2026-12-03T04:59:59Z").await;
    assert_eq!((early.provisioned, early.waiting), (0, 1));
    assert!(rig.leapsome.user_by_username("lee.later@acme.test").is_none());
    let due = tick_ok(&plugin, "2026-12-03T05:00:00Z").await;
    // Still waiting: Lee, whose job role takes effect on the start date (then the title is set).
    assert_eq!((due.provisioned, due.waiting, due.failed), (1, 1, 0));
    assert_eq!(due.next_due.as_deref(), Some("2026-12-10T05:00:00Z"));
    assert!(rig.leapsome.user_by_username("lee.later@acme.test").is_some());
    // The same tick also applies Sam's job role, which took effect on Sam's start date.
    assert_eq!(methods(&rig), vec!["PATCH", "POST"]);
    assert_eq!(rig.leapsome.user_by_username("sam.soon@acme.test").unwrap()["title"], "Engineer");
    assert_no_full_reads(&rig);
    assert_eq!(rig.leapsome.users().len(), 2);
}

async fn created_event_adopts_an_existing_account(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    // Invited by hand in Leapsome before the integration was switched on, in another case.
    let existing = rig.leapsome.seed_user(json!({
        "userName": "Ada.Lovelace@acme.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "Ada.Lovelace@acme.test", "type": "work", "primary": true}],
        "title": "Engineer",
        "active": true,
    }));
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_no_change_failed(&outcome);
    assert_eq!(outcome.changes[0].kind, ChangeKind::Adopt, "{:?}", outcome.changes);
    assert!(methods(&rig).iter().all(|m| m == "PATCH"), "adopted, not created: {:?}", methods(&rig));
    assert_eq!(rig.leapsome.users().len(), 1);
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["id"], existing.as_str());
    assert_eq!(user["externalId"], ada.as_str());
    assert_eq!(user["userName"], "ada.lovelace@acme.test");

    // Linked from now on: an offboarding suspends it.
    rig.humaans.offboard(&ada, "2026-11-20");
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Suspend]);
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], false);
}

// ---------------------------------------------------------------------------------------------
// Profile updates

async fn profile_change_sends_one_minimal_patch(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&grace));
    event_ok(&plugin, EventKind::Created, &grace).await;
    let created = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&created), vec![ChangeKind::Create, ChangeKind::LinkManager]);
    let id = scim_id(&rig, "ada.lovelace@acme.test");
    assert_eq!(rig.leapsome.manager_id_of(&id), Some(scim_id(&rig, "grace.hopper@acme.test")));

    rig.humaans.update_person(&ada, |p| p.last_name = "King".into());
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Update]);
    assert_no_change_failed(&outcome);
    // The name is written whole: a server may require both parts, or clear the part not sent.
    assert_eq!(outcome.changes[0].attributes, vec!["name.givenName".to_owned(), "name.familyName".to_owned()]);

    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (method, path, body) = &writes[0];
    assert_eq!((method.as_str(), path.as_str()), ("PATCH", format!("/scim/v1/Users/{id}").as_str()));
    match dialect {
        Dialect::Leapsome => {
            let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
            let mut keys = keys;
            keys.sort_unstable();
            assert_eq!(keys, vec!["name", "schemas", "userName"], "{body}");
            assert_eq!(body["name"], json!({"givenName": "Ada", "familyName": "King"}));
            assert_eq!(body["userName"], "ada.lovelace@acme.test");
        }
        Dialect::Rfc7644 => {
            assert_eq!(
                body["Operations"],
                json!([
                    {"op": "replace", "path": "name.givenName", "value": "Ada"},
                    {"op": "replace", "path": "name.familyName", "value": "King"},
                ])
            );
        }
    }
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["name"]["familyName"], "King");
    assert_eq!(user["name"]["givenName"], "Ada");
    assert_eq!(user["title"], "Engineer", "attributes not written are kept");
    let total = total_requests(&rig);
    assert!(total <= 5, "an update event took {total} requests: {:?}", rig.humaans.control().journal());
    assert_no_full_reads(&rig);

    // Nothing changed since: no write at all, and no SCIM request either.
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert!(outcome.skipped.is_none());
    assert!(rig.leapsome.control().journal().is_empty(), "{:?}", rig.leapsome.control().journal());
    assert!(total_requests(&rig) <= 5);
    assert_eq!(rig.leapsome.users().len(), 2);
    assert_eq!(rig.leapsome.manager_id_of(&id), Some(scim_id(&rig, "grace.hopper@acme.test")));
}

async fn email_change_renames_the_same_account(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    let id = scim_id(&rig, "ada.lovelace@acme.test");

    rig.humaans.update_person(&ada, |p| p.email = "ada.king@acme.test".into());
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Update]);
    assert_no_change_failed(&outcome);
    let mut attributes = outcome.changes[0].attributes.clone();
    attributes.sort();
    assert_eq!(attributes, vec!["emails".to_owned(), "userName".to_owned()]);
    assert_eq!(methods(&rig), vec!["PATCH"]);

    let renamed = rig.leapsome.user_by_username("ada.king@acme.test").expect("renamed");
    assert_eq!(renamed["id"], id.as_str(), "the same account, renamed");
    assert_eq!(renamed["emails"][0]["value"], "ada.king@acme.test");
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_none());
    assert_eq!(rig.leapsome.users().len(), 1, "no second account");

    // Later events work on the renamed account.
    rig.humaans.update_person(&ada, |p| p.first_name = "Augusta".into());
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Update]);
    assert_no_change_failed(&outcome);
    assert_eq!(rig.leapsome.user_by_username("ada.king@acme.test").unwrap()["name"]["givenName"], "Augusta");
    assert_eq!(rig.leapsome.users().len(), 1);
}

async fn job_role_change_updates_title_department_and_manager(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &grace).await;
    event_ok(&plugin, EventKind::Created, &ada).await;
    let grace_id = scim_id(&rig, "grace.hopper@acme.test");
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), None);

    // A promotion effective today: the old role ends yesterday.
    let old = rig.humaans.job_roles_of(&ada).remove(0);
    rig.humaans.end_job_role(&old.id, "2026-11-27");
    rig.humaans.add_job_role(JobRole::new(&ada, "Staff Engineer", "Platform", Some(&grace), "2026-11-28"));
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::JobRoleChanged, &ada).await;
    assert_no_change_failed(&outcome);
    assert_eq!(kinds(&outcome), vec![ChangeKind::Update, ChangeKind::LinkManager]);
    let mut attributes = outcome.changes[0].attributes.clone();
    attributes.sort();
    assert_eq!(attributes, vec!["department".to_owned(), "title".to_owned()]);

    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 2, "one profile PATCH, one manager PATCH: {writes:?}");
    assert!(writes.iter().all(|(m, p, _)| m == "PATCH" && *p == format!("/scim/v1/Users/{ada_id}")));
    let profile = &writes[0].2;
    match dialect {
        Dialect::Leapsome => {
            assert_eq!(profile["title"], "Staff Engineer");
            assert_eq!(profile[ENTERPRISE], json!({"department": "Platform"}));
            assert!(profile.get("name").is_none() && profile.get("emails").is_none(), "{profile}");
        }
        Dialect::Rfc7644 => {
            let ops = profile["Operations"].as_array().unwrap();
            assert_eq!(ops.len(), 2, "{profile}");
            assert!(ops.contains(&json!({"op": "replace", "path": "title", "value": "Staff Engineer"})));
            assert!(
                ops.contains(
                    &json!({"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Platform"})
                )
            );
        }
    }
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["title"], "Staff Engineer");
    assert_eq!(user[ENTERPRISE]["department"], "Platform");
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), Some(grace_id.clone()));

    // The same event again (a duplicate hint) changes nothing.
    clear_journals(&rig);
    let again = event_ok(&plugin, EventKind::JobRoleChanged, &ada).await;
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert!(rig.scim_writes().is_empty());
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), Some(grace_id));

    // A role without a manager and without a department clears both.
    let current = rig.humaans.job_roles_of(&ada).pop().unwrap();
    rig.humaans.add_job_role(JobRole { id: current.id.clone(), reporting_to: None, department: None, ..current });
    clear_journals(&rig);
    let cleared = event_ok(&plugin, EventKind::JobRoleChanged, &ada).await;
    assert_no_change_failed(&cleared);
    assert_eq!(kinds(&cleared), vec![ChangeKind::Update, ChangeKind::LinkManager]);
    assert_eq!(cleared.changes[0].attributes, vec!["department".to_owned()]);
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), None);
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    let department = user.get(ENTERPRISE).and_then(|e| e.get("department")).cloned().unwrap_or(Value::Null);
    assert_eq!(department, Value::Null, "{user}");
    assert_eq!(rig.scim_writes().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Managers

async fn manager_created_after_the_report_is_linked_on_tick(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&grace));

    // The report's event comes first: her account is created, the manager link waits.
    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    assert_no_change_failed(&outcome);
    assert!(outcome.manager_pending);
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), None);
    let entries = logs(&plugin, false, Some(&ada)).await;
    let pending = entries.iter().find(|e| e.action == LogAction::ManagerPending).expect("a manager-pending entry");
    assert_eq!(pending.outcome, LogOutcome::Pending);
    assert_eq!(pending.email.as_deref(), Some("ada.lovelace@acme.test"));

    // Then the manager's own account.
    let outcome = event_ok(&plugin, EventKind::Created, &grace).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    assert!(!outcome.manager_pending);
    let grace_id = scim_id(&rig, "grace.hopper@acme.test");

    // The next tick links the report to her manager, with one PATCH.
    clear_journals(&rig);
    let report = tick_ok(&plugin, "2026-11-28T12:05:00Z").await;
    assert_eq!((report.managers_linked, report.failed, report.provisioned), (1, 0, 0));
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), Some(grace_id.clone()));
    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (method, path, body) = &writes[0];
    assert_eq!((method.as_str(), path.as_str()), ("PATCH", format!("/scim/v1/Users/{ada_id}").as_str()));
    match dialect {
        Dialect::Leapsome => {
            assert_eq!(body[ENTERPRISE]["manager"], "grace.hopper@acme.test", "{body}");
            assert_eq!(body["userName"], "ada.lovelace@acme.test");
        }
        Dialect::Rfc7644 => assert_eq!(
            body["Operations"],
            json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": grace_id}}])
        ),
    }
    let linked = logs(&plugin, false, Some(&ada)).await;
    assert!(linked.iter().any(|e| e.action == LogAction::LinkManager && e.outcome == LogOutcome::Success));

    // Nothing pending any more: the next tick sends nothing.
    clear_journals(&rig);
    let report = tick_ok(&plugin, "2026-11-28T12:10:00Z").await;
    assert_eq!(report.managers_linked, 0);
    assert_eq!(total_requests(&rig), 0);
}

/// Someone whose manager link was still waiting leaves (or is deleted): the wait ends with them,
/// so later ticks neither re-read them nor log about them again.
async fn a_leaver_stops_waiting_for_a_manager(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&grace));
    let bob = hire(&rig, "Bob", "Byte", "Engineer", "Engineering", Some(&grace));
    for id in [&ada, &bob] {
        let outcome = event_ok(&plugin, EventKind::Created, id).await;
        assert!(outcome.manager_pending);
    }
    rig.humaans.offboard(&ada, "2026-11-20");
    rig.humaans.delete_person(&bob);
    assert_eq!(kinds(&event_ok(&plugin, EventKind::Offboarded, &ada).await), vec![ChangeKind::Suspend]);
    assert_eq!(kinds(&event_ok(&plugin, EventKind::Deleted, &bob).await), vec![ChangeKind::Suspend]);

    let before = logs(&plugin, false, None).await.len();
    clear_journals(&rig);
    for now in ["2026-11-28T12:05:00Z", "2026-11-28T12:10:00Z", "2026-11-28T12:15:00Z"] {
        let report = tick_ok(&plugin, now).await;
        assert_eq!((report.managers_linked, report.failed, report.deprovisioned), (0, 0, 0));
    }
    assert_eq!(total_requests(&rig), 0, "{:?}", rig.humaans.control().journal());
    let after = logs(&plugin, false, None).await;
    assert_eq!(after.len(), before, "ticks keep logging: {:?}", &after[..after.len() - before]);
    assert!(rig.scim_writes().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Deprovisioning

async fn offboarding_suspends_linked_accounts_only(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");
    // Bob has an account this integration never linked (invited by hand in Leapsome).
    let bob = hire(&rig, "Bob", "Byte", "Engineer", "Engineering", None);
    let bob_id = rig.leapsome.seed_user(json!({
        "userName": "bob.byte@acme.test",
        "name": {"givenName": "Bob", "familyName": "Byte"},
        "emails": [{"value": "bob.byte@acme.test", "type": "work", "primary": true}],
        "active": true,
    }));

    rig.humaans.offboard(&ada, "2026-11-20");
    rig.humaans.offboard(&bob, "2026-11-20");
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Suspend]);
    assert_no_change_failed(&outcome);
    let outcome = event_ok(&plugin, EventKind::Offboarded, &bob).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.skipped.as_deref(), Some("offboarded; no linked account"));

    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 1, "only the linked account is touched: {writes:?}");
    let (method, path, body) = &writes[0];
    assert_eq!((method.as_str(), path.as_str()), ("PATCH", format!("/scim/v1/Users/{ada_id}").as_str()));
    match dialect {
        Dialect::Leapsome => assert_eq!(body["active"], false),
        Dialect::Rfc7644 => {
            assert_eq!(body["Operations"], json!([{"op": "replace", "path": "active", "value": false}]))
        }
    }
    // Suspended, not removed: still listed, same id.
    let suspended = rig.leapsome.user_by_username("ada.lovelace@acme.test").expect("still listed");
    assert_eq!(suspended["id"], ada_id.as_str());
    assert_eq!(suspended["active"], false);
    assert_eq!(rig.leapsome.users().len(), 2);
    let untouched = rig.leapsome.user_by_username("bob.byte@acme.test").unwrap();
    assert_eq!(untouched["id"], bob_id.as_str());
    assert_eq!(untouched["active"], true);

    // A duplicate offboarded event does nothing more.
    clear_journals(&rig);
    let again = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert!(again.changes.is_empty());
    assert!(rig.scim_writes().is_empty());
}

#[tokio::test]
async fn deprovisioning_is_off_by_default() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", settings(Some(ProvisionTiming::Immediately), None, Dialect::Leapsome)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    rig.humaans.offboard(&ada, "2026-11-20");
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.skipped.as_deref(), Some("offboarded; deprovisioning is off"));
    assert!(rig.scim_writes().is_empty());
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], true);
    let entries = logs(&plugin, false, Some(&ada)).await;
    assert_eq!((entries[0].action, entries[0].outcome), (LogAction::Skip, LogOutcome::Skipped));
    assert_eq!(entries[0].message, "offboarded; deprovisioning is off");
}

async fn offboarding_with_deactivate_deletes_the_account(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let s = settings(Some(ProvisionTiming::Immediately), Some(DeprovisionAction::Deactivate), dialect);
    let plugin = rig.connected("t", s).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    event_ok(&plugin, EventKind::Created, &grace).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");

    rig.humaans.offboard(&ada, "2026-11-20");
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Delete]);
    assert_no_change_failed(&outcome);
    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!((writes[0].0.as_str(), writes[0].1.as_str()), ("DELETE", format!("/scim/v1/Users/{ada_id}").as_str()));
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_none(), "the account is gone");
    assert_eq!(rig.leapsome.users().len(), 1);
    let entries = logs(&plugin, false, Some(&ada)).await;
    let deleted = entries.iter().find(|e| e.action == LogAction::Delete).expect("a delete entry");
    assert_eq!(deleted.outcome, LogOutcome::Success);
    assert_eq!(deleted.email.as_deref(), Some("ada.lovelace@acme.test"));

    // Once deleted, the link is gone: a duplicate event sends nothing.
    clear_journals(&rig);
    let again = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert!(again.changes.is_empty());
    assert_eq!(again.skipped.as_deref(), Some("offboarded; no linked account"));
    assert!(rig.scim_writes().is_empty());
}

async fn future_last_working_day_deprovisions_on_tick(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");

    // Leaving on Monday 30 November (London, UTC+0 in winter): still active until then.
    rig.humaans.update_person(&ada, |p| {
        p.last_working_day = Some("2026-11-30".into());
        p.employment_end_date = Some("2026-11-30".into());
    });
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert!(rig.scim_writes().is_empty());
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], true);

    clear_journals(&rig);
    let early = tick_ok(&plugin, "2026-11-30T23:59:59Z").await;
    assert_eq!((early.deprovisioned, early.waiting), (0, 1));
    assert_eq!(early.next_due.as_deref(), Some("2026-12-01T00:00:00Z"));
    assert_eq!(total_requests(&rig), 0);

    let due = tick_ok(&plugin, "2026-12-01T00:00:00Z").await;
    assert_eq!((due.deprovisioned, due.waiting, due.failed), (1, 0, 0));
    assert_eq!(methods(&rig), vec!["PATCH"]);
    assert_no_full_reads(&rig);
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["id"], ada_id.as_str());
    assert_eq!(user["active"], false);
    let entries = logs(&plugin, false, Some(&ada)).await;
    assert!(entries.iter().any(|e| e.action == LogAction::Suspend && e.outcome == LogOutcome::Success));
}

async fn rehire_reactivates_the_same_account(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");
    rig.humaans.offboard(&ada, "2026-11-20");
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Suspend]);
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], false);

    // Rehired: active again in Humaans.
    rig.humaans.update_person(&ada, |p| {
        p.status = STATUS_ACTIVE.into();
        p.last_working_day = None;
        p.employment_end_date = None;
    });
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Reactivate]);
    assert_no_change_failed(&outcome);
    assert_eq!(methods(&rig), vec!["PATCH"], "reactivated, not created again");
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["id"], ada_id.as_str());
    assert_eq!(user["active"], true);
    assert_eq!(rig.leapsome.users().len(), 1);
    let entries = logs(&plugin, false, Some(&ada)).await;
    assert!(entries.iter().any(|e| e.action == LogAction::Reactivate && e.outcome == LogOutcome::Success));
}

async fn deletion_in_humaans_deprovisions(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");

    rig.humaans.delete_person(&ada);
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Deleted, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Suspend]);
    assert_no_change_failed(&outcome);
    assert_eq!(outcome.changes[0].email, "ada.lovelace@acme.test");
    assert_eq!(methods(&rig), vec!["PATCH"]);
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!(user["id"], ada_id.as_str());
    assert_eq!(user["active"], false);
    let entries = logs(&plugin, false, Some(&ada)).await;
    let suspended = entries.iter().find(|e| e.action == LogAction::Suspend).expect("a suspend entry");
    assert_eq!(suspended.email.as_deref(), Some("ada.lovelace@acme.test"));
    assert_eq!(suspended.outcome, LogOutcome::Success);
}

/// Events are hints: a stale or reordered one is checked against Humaans and does nothing wrong.
async fn stale_and_reordered_events_are_harmless(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let bob = hire(&rig, "Bob", "Byte", "Engineer", "Engineering", None);
    event_ok(&plugin, EventKind::Created, &ada).await;

    // Ada is still employed: "offboarded" and "deleted" hints change nothing.
    clear_journals(&rig);
    for kind in [EventKind::Offboarded, EventKind::Deleted, EventKind::Created, EventKind::Updated] {
        let outcome = event_ok(&plugin, kind, &ada).await;
        assert!(outcome.changes.is_empty(), "{kind:?}: {:?}", outcome.changes);
    }
    assert!(rig.scim_writes().is_empty());
    assert_eq!(rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap()["active"], true);

    // Bob's "created" arrives after he has already left: no account is made for him.
    rig.humaans.offboard(&bob, "2026-11-20");
    let outcome = event_ok(&plugin, EventKind::Created, &bob).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.skipped.as_deref(), Some("offboarded; no linked account"));
    assert!(rig.leapsome.user_by_username("bob.byte@acme.test").is_none());
    assert!(rig.scim_writes().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Bad events

#[tokio::test]
async fn unknown_and_malformed_events_are_typed_errors() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    clear_journals(&rig);

    let unknown = event(EventKind::Updated, "nosuchperson42");
    match plugin.on_employee_event(&unknown).await.expect("no trap") {
        Err(IntegrationError::UnknownPerson(id)) => assert_eq!(id, "nosuchperson42"),
        other => panic!("expected unknown-person, got {other:?}"),
    }
    let failures = logs(&plugin, true, None).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].outcome, LogOutcome::Failure);
    assert!(failures[0].message.contains("nosuchperson42"), "{}", failures[0].message);
    // The failure is about that person: the person filter finds it.
    let theirs = logs(&plugin, true, Some("nosuchperson42")).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");

    let bad_id = event(EventKind::Created, "../x");
    match plugin.on_employee_event(&bad_id).await.expect("no trap") {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "event.person-id"),
        other => panic!("expected invalid input, got {other:?}"),
    }
    let mut bad_time = event(EventKind::Created, "abc123");
    bad_time.occurred_at = "yesterday".into();
    match plugin.on_employee_event(&bad_time).await.expect("no trap") {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "event.occurred-at"),
        other => panic!("expected invalid input, got {other:?}"),
    }
    match plugin.tick("soon").await.expect("no trap") {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "now"),
        other => panic!("expected invalid input, got {other:?}"),
    }
    // Malformed events are refused before anything is sent; nothing reaches Leapsome at all.
    assert!(rig.leapsome.control().journal().is_empty());
    assert!(rig.humaans.control().journal().iter().all(|e| !e.path.contains("..")));
}

#[tokio::test]
async fn a_failed_event_is_logged_against_the_person() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    rig.humaans.control().add_fault(FaultRule::new(
        Some("GET"),
        "/api/job-roles",
        Fault::Status { status: 400, message: "job roles unavailable".into() },
        1,
    ));
    match plugin.on_employee_event(&event(EventKind::Created, &ada)).await.expect("no trap") {
        Err(IntegrationError::Upstream(f)) => {
            assert_eq!(f.service, api::Service::Humaans);
            assert_eq!(f.status, Some(400));
            assert!(f.message.contains("job roles unavailable"), "{}", f.message);
        }
        other => panic!("expected an upstream error, got {other:?}"),
    }
    assert!(rig.leapsome.users().is_empty());
    let failures = logs(&plugin, true, Some(&ada)).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].http_status, Some(400));
    assert!(failures[0].message.contains("job roles unavailable"), "{}", failures[0].message);

    // The event can simply be delivered again.
    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
}

// ---------------------------------------------------------------------------------------------
// Logs

async fn logs_record_every_change_and_filter_by_failure_and_person(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let bob = hire(&rig, "Bob", "Byte", "Engineer", "Engineering", None);

    // Leapsome refuses Ada's creation once.
    rig.leapsome.control().add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Status { status: 400, message: "domain not allowed".into() },
        1,
    ));
    let outcome = event_ok(&plugin, EventKind::Created, &ada).await;
    assert_eq!(kinds(&outcome), vec![ChangeKind::Create]);
    let error = outcome.changes[0].error.as_deref().expect("the creation failed");
    assert!(error.contains("domain not allowed"), "{error}");
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_none());

    // Bob: provisioned, updated, suspended.
    event_ok(&plugin, EventKind::Created, &bob).await;
    rig.humaans.update_person(&bob, |p| p.last_name = "Bytes".into());
    event_ok(&plugin, EventKind::Updated, &bob).await;
    rig.humaans.offboard(&bob, "2026-11-20");
    event_ok(&plugin, EventKind::Offboarded, &bob).await;

    let failures = logs(&plugin, true, None).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert_eq!(failure.action, LogAction::Provision);
    assert_eq!(failure.outcome, LogOutcome::Failure);
    assert_eq!(failure.http_status, Some(400));
    assert!(failure.message.contains("domain not allowed"), "{}", failure.message);
    assert_eq!(failure.person_id.as_deref(), Some(ada.as_str()));
    assert_eq!(failure.email.as_deref(), Some("ada.lovelace@acme.test"));

    let bobs = logs(&plugin, false, Some(&bob)).await;
    assert!(bobs.iter().all(|e| e.person_id.as_deref() == Some(bob.as_str())), "{bobs:?}");
    let actions: Vec<LogAction> = bobs.iter().map(|e| e.action).collect();
    assert_eq!(actions, vec![LogAction::Suspend, LogAction::Update, LogAction::Provision], "newest first");
    for e in &bobs {
        assert_eq!(e.outcome, LogOutcome::Success);
        assert_eq!(e.email.as_deref(), Some("bob.byte@acme.test"));
    }
    assert!(bobs[1].message.contains("name.familyName"), "{}", bobs[1].message);

    // The failed creation is retried by a tick once its backoff (15 minutes) is over, not before.
    let early = tick_ok(&plugin, "2026-11-28T12:05:00Z").await;
    assert_eq!((early.provisioned, early.failed, early.next_due.as_deref()), (0, 0, Some("2026-11-28T12:15:00Z")));
    let report = tick_ok(&plugin, "2026-11-28T12:15:00Z").await;
    assert_eq!((report.provisioned, report.failed), (1, 0));
    assert!(rig.leapsome.user_by_username("ada.lovelace@acme.test").is_some());
    let adas = logs(&plugin, false, Some(&ada)).await;
    assert!(adas.iter().all(|e| e.person_id.as_deref() == Some(ada.as_str())), "{adas:?}");
    let outcomes: Vec<(LogAction, LogOutcome)> = adas.iter().map(|e| (e.action, e.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![(LogAction::Provision, LogOutcome::Success), (LogAction::Provision, LogOutcome::Failure)],
        "{adas:?}"
    );
    // Still one failure in the log, and every entry newest first.
    assert_eq!(logs(&plugin, true, None).await.len(), 1);
    let all = logs(&plugin, false, None).await;
    assert!(all.windows(2).all(|w| w[0].sequence > w[1].sequence));
    let text = format!("{all:?}");
    assert!(!text.contains(SCIM_TOKEN) && !text.contains(HUMAANS_TOKEN));
}

in_both_dialects!(
    immediately_creates_members_now_and_new_hires_on_their_start,
    on_start_date_waits_for_midnight_in_the_persons_timezone,
    days_before_start_preboards_new_hires,
    created_event_adopts_an_existing_account,
    profile_change_sends_one_minimal_patch,
    email_change_renames_the_same_account,
    job_role_change_updates_title_department_and_manager,
    manager_created_after_the_report_is_linked_on_tick,
    a_leaver_stops_waiting_for_a_manager,
    offboarding_suspends_linked_accounts_only,
    offboarding_with_deactivate_deletes_the_account,
    future_last_working_day_deprovisions_on_tick,
    rehire_reactivates_the_same_account,
    deletion_in_humaans_deprovisions,
    stale_and_reordered_events_are_harmless,
    logs_record_every_change_and_filter_by_failure_and_person,
);
