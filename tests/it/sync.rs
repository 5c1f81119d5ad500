//! Sync-all end to end, in both SCIM dialects, on generated organisations: back-fill adopting
//! accounts that already exist (never duplicating them), idempotence, dry runs, the write budget
//! and its continuation, paged reads only, users first and managers second, deprovisioning.

use std::collections::{BTreeSet, HashMap};

use crate::support::*;
use host_harness::api::{self, ChangeKind, Dialect};
use mock_servers::humaans::{HumaansSeed, STATUS_ACTIVE, STATUS_NEW_HIRE, STATUS_OFFBOARDED};
use mock_servers::leapsome::LeapsomeConfig;
use mock_servers::org::generate_org;
use mock_servers::{Fault, FaultRule};
use serde_json::json;

const TODAY: &str = "2026-11-28";

/// Loads a generated organisation of `n` people; returns it.
fn load_org(rig: &Rig, n: usize, seed: u64) -> HumaansSeed {
    let org = generate_org(n, seed, TODAY);
    rig.humaans.load_seed(org.clone());
    org
}

/// The people a sync provisions: active members (new hires start later, leavers are gone).
fn provisionable(org: &HumaansSeed) -> Vec<&mock_servers::humaans::Person> {
    org.people.iter().filter(|p| p.status == STATUS_ACTIVE).collect()
}

fn count(report: &api::SyncReport, kind: ChangeKind) -> usize {
    report.changes.iter().filter(|c| c.kind == kind).count()
}

/// A report's changes as comparable (person, kind, attributes) triples; manager values are left
/// out (a dry run cannot know the SCIM ids of accounts it has not created).
fn plan_of(report: &api::SyncReport) -> BTreeSet<(String, String, Vec<String>)> {
    report
        .changes
        .iter()
        .map(|c| {
            let attributes = if c.kind == ChangeKind::LinkManager { vec![] } else { c.attributes.clone() };
            (c.person_id.clone(), format!("{:?}", c.kind), attributes)
        })
        .collect()
}

fn assert_no_failures(report: &api::SyncReport) {
    assert_eq!(report.failed, 0, "{:?}", report.changes.iter().filter(|c| c.error.is_some()).collect::<Vec<_>>());
}

/// Every provisionable person has exactly one account, named by their work email; `others` are
/// accounts that exist besides.
fn assert_one_account_each(rig: &Rig, org: &HumaansSeed, others: &[&str]) {
    let users = rig.leapsome.users();
    let names: BTreeSet<String> =
        users.iter().map(|u| u["userName"].as_str().expect("userName").to_lowercase()).collect();
    assert_eq!(names.len(), users.len(), "duplicate accounts");
    let mut wanted: BTreeSet<String> = provisionable(org).iter().map(|p| p.email.to_lowercase()).collect();
    wanted.extend(others.iter().map(|e| e.to_lowercase()));
    assert_eq!(names, wanted);
}

/// Every provisioned person with a manager in their current role points at that manager's
/// account; the others have none.
fn assert_managers_linked(rig: &Rig, org: &HumaansSeed) -> usize {
    let ids: HashMap<&str, String> =
        provisionable(org).iter().map(|p| (p.id.as_str(), scim_id(rig, &p.email))).collect();
    let mut linked = 0;
    for p in provisionable(org) {
        let role = role_on(&org.job_roles, &p.id, TODAY).unwrap_or_else(|| panic!("{} has no current role", p.email));
        let expected = role.reporting_to.as_deref().map(|m| ids.get(m).expect("managers are provisioned").clone());
        linked += usize::from(expected.is_some());
        assert_eq!(rig.leapsome.manager_id_of(&ids[p.id.as_str()]), expected, "manager of {}", p.email);
    }
    linked
}

// ---------------------------------------------------------------------------------------------

async fn backfill_adopts_existing_accounts_without_duplicates(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 60, 11);
    let people = provisionable(&org);
    // Eight people already have an account, invited by hand; one was typed in upper case.
    let mut seeded = Vec::new();
    for (i, p) in people.iter().take(8).enumerate() {
        let user_name = if i == 0 { p.email.to_uppercase() } else { p.email.clone() };
        let id = rig.leapsome.seed_user(json!({
            "userName": user_name,
            "name": {"givenName": p.first_name, "familyName": p.last_name},
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true,
        }));
        seeded.push((p.id.clone(), p.email.clone(), id));
    }
    // Two more accounts exist for people this sync must not touch: one who has left, and a new
    // hire who has not started yet (under `immediately`, due on their start date).
    let leaver = org.people.iter().find(|p| p.status == STATUS_OFFBOARDED).expect("the org has leavers");
    let newcomer = org.people.iter().find(|p| p.status == STATUS_NEW_HIRE).expect("the org has new hires");
    let mut untouched = Vec::new();
    for p in [leaver, newcomer] {
        let id = rig.leapsome.seed_user(json!({
            "userName": p.email,
            "name": {"givenName": p.first_name, "familyName": p.last_name},
            "emails": [{"value": p.email, "type": "work", "primary": true}],
            "active": true,
        }));
        untouched.push((p, id));
    }
    let plugin = rig.connected("t", all_on(dialect)).await;

    // The dry run's plan is exactly what the real run then does.
    let plan = sync_ok(&plugin, true, None).await;
    assert!(rig.scim_writes().is_empty());
    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    assert_eq!(plan_of(&plan), plan_of(&report));
    assert_eq!(
        (plan.created, plan.adopted, plan.updated, plan.managers_linked),
        (report.created, report.adopted, report.updated, report.managers_linked)
    );
    assert!(report.complete);
    assert_eq!(report.people as usize, org.people.len());
    assert_eq!(report.scim_users, 10);
    assert_eq!(report.adopted, 8);
    assert_eq!(report.created as usize, people.len() - 8);
    assert_eq!(count(&report, ChangeKind::Adopt), 8);
    for (p, _) in &untouched {
        assert!(report.changes.iter().all(|c| c.person_id != p.id), "{} was touched: {:?}", p.email, report.changes);
    }
    assert_eq!(rig.leapsome.users().len(), people.len() + 2, "one account per person, none duplicated");
    assert_one_account_each(&rig, &org, &[&leaver.email, &newcomer.email]);
    for (person_id, email, id) in &seeded {
        let user = rig.leapsome.user_by_username(email).expect("still there");
        assert_eq!(user["id"], id.as_str(), "{email} adopted, not re-created");
        assert_eq!(user["userName"], email.as_str(), "userName brought in line with Humaans");
        assert_eq!(user["externalId"], person_id.as_str());
    }
    assert_managers_linked(&rig, &org);

    // Adopted accounts are linked: a second sync leaves them alone, and still does not touch the
    // leaver's or the new hire's account.
    rig.leapsome.control().clear_journal();
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!(again.writes, 0, "{:?}", again.changes);
    assert!(rig.scim_writes().is_empty());
    for (p, id) in &untouched {
        let user = rig.leapsome.user_by_username(&p.email).expect("still there");
        assert_eq!(user["id"], id.as_str());
        assert_eq!(user["active"], true, "{} left alone", p.email);
        assert!(user.get("externalId").is_none_or(|e| e.is_null()), "{} was never linked: {user}", p.email);
    }
    // When the new hire starts, a tick adopts their account rather than creating a second one.
    let start = newcomer.employment_start_date.as_deref().unwrap();
    let tick = tick_ok(&plugin, &format!("{start}T23:59:59Z")).await;
    assert!(tick.provisioned >= 1);
    let user = rig.leapsome.user_by_username(&newcomer.email).unwrap();
    assert_eq!(user["id"], untouched[1].1.as_str(), "adopted, not duplicated");
    assert_eq!(user["externalId"], newcomer.id.as_str());
    assert_eq!(rig.leapsome.user_by_username(&leaver.email).unwrap()["active"], true);
}

async fn second_sync_writes_nothing(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 60, 12);
    let plugin = rig.connected("t", all_on(dialect)).await;
    let first = sync_ok(&plugin, false, None).await;
    assert_no_failures(&first);
    assert!(first.complete);
    assert_eq!(first.created as usize, provisionable(&org).len());
    // Every creation and manager link is in the log, with the person and their email, and the
    // sync's summary last.
    let entries = logs(&plugin, false, None).await;
    assert_eq!(entries[0].action, api::LogAction::Sync);
    assert_eq!(entries[0].outcome, api::LogOutcome::Success);
    let emails: HashMap<&str, &str> = org.people.iter().map(|p| (p.id.as_str(), p.email.as_str())).collect();
    let provisioned: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.action == api::LogAction::Provision)
        .map(|e| {
            let id = e.person_id.as_deref().expect("a person id");
            assert_eq!(e.email.as_deref(), Some(emails[id]), "{e:?}");
            id
        })
        .collect();
    let wanted: BTreeSet<&str> = provisionable(&org).iter().map(|p| p.id.as_str()).collect();
    assert_eq!(provisioned, wanted);
    let links = entries.iter().filter(|e| e.action == api::LogAction::LinkManager).count();
    assert_eq!(links, first.managers_linked as usize);

    clear_journals(&rig);
    let second = sync_ok(&plugin, false, None).await;
    assert_no_failures(&second);
    assert!(second.complete);
    assert_eq!(second.writes, 0, "{:?}", second.changes);
    assert!(second.changes.is_empty(), "{:?}", second.changes);
    assert_eq!(
        (second.created, second.adopted, second.updated, second.deprovisioned, second.managers_linked),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(second.remaining_writes, 0);
    let non_get: Vec<_> = rig.scim_writes();
    assert!(non_get.is_empty(), "{non_get:?}");
    assert!(rig.humaans.control().journal().iter().all(|e| e.method == "GET"));
    assert_eq!(rig.leapsome.users().len(), provisionable(&org).len());

    // Two people change in Humaans: the next sync writes exactly their differences.
    let people = provisionable(&org);
    let (a, b) = (people[1], people[2]);
    rig.humaans.update_person(&a.id, |p| p.last_name = "Renamed".into());
    let role = role_on(&org.job_roles, &b.id, TODAY).unwrap().clone();
    rig.humaans.end_job_role(&role.id, "2026-11-27");
    let mut promoted = role.clone();
    promoted.id = String::new();
    promoted.job_title = "Principal Wizard".into();
    promoted.effective_date = TODAY.into();
    promoted.end_date = None;
    rig.humaans.add_job_role(promoted);
    clear_journals(&rig);
    let third = sync_ok(&plugin, false, None).await;
    assert_no_failures(&third);
    assert_eq!(
        (third.updated, third.created, third.managers_linked, third.writes),
        (2, 0, 0, 2),
        "{:?}",
        third.changes
    );
    let mut changed: Vec<(String, Vec<String>)> =
        third.changes.iter().map(|c| (c.email.clone(), c.attributes.clone())).collect();
    changed.sort();
    // The name is written whole (every part a has), however little of it changed.
    let mut name = vec!["name.givenName".to_owned()];
    if a.middle_name.is_some() {
        name.push("name.middleName".to_owned());
    }
    name.push("name.familyName".to_owned());
    let mut expected = vec![(a.email.clone(), name), (b.email.clone(), vec!["title".to_owned()])];
    expected.sort();
    assert_eq!(changed, expected);
    let writes = scim_write_bodies(&rig);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes.iter().all(|(m, _, _)| m == "PATCH"));
    assert_eq!(rig.leapsome.user_by_username(&a.email).unwrap()["name"]["familyName"], "Renamed");
    assert_eq!(rig.leapsome.user_by_username(&b.email).unwrap()["title"], "Principal Wizard");
}

/// What a sync leaves for later (new hires not yet started, leavers not yet gone) falls due on the
/// ticks, without another sync.
async fn ticks_finish_what_the_sync_left_waiting(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 60, 17);
    let plugin = rig.connected("t", all_on(dialect)).await;
    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    let new_hires: Vec<_> = org.people.iter().filter(|p| p.status == STATUS_NEW_HIRE).collect();
    let leaving: Vec<_> =
        provisionable(&org).into_iter().filter(|p| p.last_working_day.as_deref().is_some_and(|d| d >= TODAY)).collect();
    assert!(!new_hires.is_empty() && !leaving.is_empty(), "the org has new hires and leavers");
    assert_eq!(rig.leapsome.users().len(), provisionable(&org).len());

    clear_journals(&rig);
    let now = tick_ok(&plugin, crate::support::NOW).await;
    assert_eq!((now.provisioned, now.deprovisioned, now.failed), (0, 0, 0));
    assert_eq!(now.waiting as usize, new_hires.len() + leaving.len());
    assert_eq!(total_requests(&rig), 0, "nothing due yet");

    // Three months on, every start date and last working day has passed.
    let later = tick_ok(&plugin, "2027-03-01T00:00:00Z").await;
    assert_eq!(later.failed, 0);
    assert_eq!(later.provisioned as usize, new_hires.len());
    assert_eq!(later.deprovisioned as usize, leaving.len());
    assert_eq!((later.waiting, later.next_due.as_deref()), (0, None));
    for p in &new_hires {
        let user = rig.leapsome.user_by_username(&p.email).unwrap_or_else(|| panic!("{} provisioned", p.email));
        assert_eq!(user["active"], true);
        let manager = role_on(&org.job_roles, &p.id, p.employment_start_date.as_deref().unwrap())
            .and_then(|r| r.reporting_to.clone())
            .map(|m| scim_id(&rig, &org.people.iter().find(|x| x.id == m).unwrap().email));
        assert_eq!(rig.leapsome.manager_id_of(user["id"].as_str().unwrap()), manager, "manager of {}", p.email);
    }
    for p in &leaving {
        assert_eq!(rig.leapsome.user_by_username(&p.email).unwrap()["active"], false, "{} suspended", p.email);
    }
    assert_no_full_reads(&rig);
}

/// A write the service refuses fails for that person only; the next sync leaves the refused
/// write alone (the same request would be refused again) until `retry` lifts it.
async fn a_refused_write_fails_alone_and_the_next_sync_retries_it(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 40, 19);
    let plugin = rig.connected("t", all_on(dialect)).await;
    rig.leapsome.control().add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Status { status: 400, message: "domain not allowed".into() },
        1,
    ));
    let first = sync_ok(&plugin, false, None).await;
    assert_eq!(first.failed, 1);
    assert_eq!(first.created as usize, provisionable(&org).len() - 1);
    let failed: Vec<_> = first.changes.iter().filter(|c| c.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].kind, ChangeKind::Create);
    assert!(failed[0].error.as_deref().unwrap().contains("domain not allowed"));
    let failures = logs(&plugin, true, None).await;
    let entry = failures.iter().find(|e| e.action == api::LogAction::Provision).expect("the failure is logged");
    assert_eq!(entry.http_status, Some(400));
    assert_eq!(entry.person_id.as_deref(), Some(failed[0].person_id.as_str()));
    assert_eq!(entry.email.as_deref(), Some(failed[0].email.as_str()));
    assert!(entry.message.contains("domain not allowed"));

    let second = sync_ok(&plugin, false, None).await;
    assert_no_failures(&second);
    assert_eq!(second.created, 0, "a refused create is not sent again by the next sync");
    plugin.retry(&failed[0].person_id).await.unwrap().unwrap();
    let second = sync_ok(&plugin, false, None).await;
    assert_no_failures(&second);
    assert_eq!(second.created, 1);
    assert!(second.changes.iter().any(|c| c.kind == ChangeKind::Create && c.person_id == failed[0].person_id));
    assert_one_account_each(&rig, &org, &[]);
    assert_managers_linked(&rig, &org);
}

/// A SCIM server with small pages: the user list is followed page by page, each user read once.
#[tokio::test]
async fn scim_list_is_followed_across_small_pages() {
    let rig = Rig::with_leapsome(LeapsomeConfig { max_page_size: 25, ..LeapsomeConfig::default() }).await;
    let org = load_org(&rig, 80, 18);
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let first = sync_ok(&plugin, false, None).await;
    assert_no_failures(&first);
    let accounts = provisionable(&org).len();
    assert!(accounts > 50);

    clear_journals(&rig);
    let second = sync_ok(&plugin, false, None).await;
    assert_eq!(second.scim_users as usize, accounts);
    assert_eq!(second.writes, 0, "{:?}", second.changes);
    let gets = rig.leapsome.control().journal();
    assert_eq!(gets.len(), accounts.div_ceil(25), "{gets:?}");
    assert!(gets.iter().all(|e| e.method == "GET" && !e.query.contains("filter")));
}

async fn dry_run_reports_the_plan_and_writes_nothing(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 60, 13);
    let plugin = rig.connected("t", all_on(dialect)).await;
    let before = logs(&plugin, false, None).await.len();
    clear_journals(&rig);

    let plan = sync_ok(&plugin, true, None).await;
    assert!(plan.dry_run);
    assert_no_failures(&plan);
    assert_eq!(plan.writes, 0);
    assert!(!plan.changes.is_empty());
    assert_eq!(plan.created as usize, provisionable(&org).len());
    assert_eq!(count(&plan, ChangeKind::Create), provisionable(&org).len());
    assert!(count(&plan, ChangeKind::LinkManager) > 0, "manager links are planned too");
    let journal = rig.leapsome.control().journal();
    assert!(journal.iter().all(|e| e.method == "GET"), "a dry run only reads: {journal:?}");
    assert!(rig.leapsome.users().is_empty());
    assert_eq!(logs(&plugin, false, None).await.len(), before, "a dry run logs nothing");

    // The plan is what a real run then does.
    let run = sync_ok(&plugin, false, None).await;
    assert_no_failures(&run);
    assert_eq!(run.created, plan.created);
    assert_eq!(run.managers_linked, plan.managers_linked);
    assert_eq!(count(&run, ChangeKind::LinkManager), count(&plan, ChangeKind::LinkManager));
    let planned: BTreeSet<(String, String)> = plan
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Create)
        .map(|c| (c.person_id.clone(), c.email.clone()))
        .collect();
    let done: BTreeSet<(String, String)> = run
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Create)
        .map(|c| (c.person_id.clone(), c.email.clone()))
        .collect();
    assert_eq!(planned, done);
}

async fn write_budget_continues_until_complete(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 60, 14);
    let plugin = rig.connected("t", all_on(dialect)).await;

    let first = sync_ok(&plugin, false, Some(5)).await;
    assert_no_failures(&first);
    assert!(!first.complete);
    assert_eq!(first.writes, 5);
    assert!(first.remaining_writes > 0);
    let mut created = first.created;
    let mut calls = 1;
    let mut last = first;
    while !last.complete {
        assert!(calls < 100, "the budgeted sync does not converge");
        rig.leapsome.control().clear_journal();
        last = sync_ok(&plugin, false, Some(5)).await;
        calls += 1;
        assert_no_failures(&last);
        assert!(last.writes <= 5, "{} writes over a budget of 5", last.writes);
        assert_eq!(rig.scim_writes().len(), last.writes as usize, "writes reported = writes sent");
        assert_eq!(last.complete, last.remaining_writes == 0);
        created += last.created;
    }
    assert!(calls > 2);
    assert_eq!(created as usize, provisionable(&org).len(), "every person created once");
    assert_one_account_each(&rig, &org, &[]);
    assert_managers_linked(&rig, &org);

    // Converged: nothing left to write.
    let after = sync_ok(&plugin, false, Some(5)).await;
    assert!(after.complete);
    assert_eq!(after.writes, 0, "{:?}", after.changes);
}

/// The host caps the requests of one call: a sync that reaches the cap stops writing (the denied
/// writes are nobody's failure), reports itself incomplete, and the next calls carry on until
/// every account and manager link is in place, each written once.
#[tokio::test]
async fn a_sync_over_the_hosts_request_quota_resumes_in_the_next_call() {
    let rig = Rig::start().await;
    let org = load_org(&rig, 60, 14);
    let mut tenant = rig.tenant("t");
    tenant.max_requests_per_call = 40;
    let plugin = rig.plugin(tenant);
    plugin.connect(&rig.connection()).await.unwrap().expect("connects");
    plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap().expect("configures");

    let mut calls = 0;
    let mut created = 0;
    loop {
        let report = sync_ok(&plugin, false, None).await;
        calls += 1;
        assert_no_failures(&report);
        assert_eq!(report.complete, report.remaining_writes == 0);
        created += report.created;
        if report.complete {
            break;
        }
        assert!(report.writes > 0, "every call makes progress");
        assert!(calls < 20, "the capped sync does not converge");
    }
    assert!(calls > 2, "{calls} calls");
    assert_eq!(created as usize, provisionable(&org).len(), "every person created once");
    assert_one_account_each(&rig, &org, &[]);
    assert_managers_linked(&rig, &org);
    let after = sync_ok(&plugin, false, None).await;
    assert!(after.complete);
    assert_eq!(after.writes, 0, "{:?}", after.changes);
}

/// A sync reads each side as whole pages (Humaans 250 a page, SCIM 5000), never one person at a
/// time. 600 people in a dry run: three pages of people, three of job roles, the company, and
/// one SCIM page.
#[tokio::test]
async fn sync_reads_whole_pages_not_people() {
    let rig = Rig::start().await;
    let org = load_org(&rig, 600, 15);
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    clear_journals(&rig);

    let plan = sync_ok(&plugin, true, None).await;
    assert_eq!(plan.people as usize, org.people.len());
    let pages = |n: usize| n.div_ceil(250);
    let humaans = rig.humaans.control().journal();
    assert_eq!(humaans.len(), pages(org.people.len()) + pages(org.job_roles.len()) + 1, "{humaans:?}");
    assert!(humaans.len() <= 8);
    for e in &humaans {
        assert_eq!(e.method, "GET");
        let per_person = e.path.starts_with("/api/people/") || e.query.contains("personId=");
        assert!(!per_person, "a per-person read: {}?{}", e.path, e.query);
    }
    let scim = rig.leapsome.control().journal();
    assert_eq!(scim.len(), 1, "{scim:?}");
    assert!(!scim[0].query.contains("filter"), "no per-person SCIM lookups: {scim:?}");
}

#[tokio::test]
async fn a_large_sync_lists_its_first_changes_and_counts_the_rest() {
    let rig = Rig::start().await;
    let org = load_org(&rig, 600, 21);
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;

    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    let made = report.created + report.adopted + report.updated + report.managers_linked;
    assert_eq!(made, report.writes);
    assert!(made > 1000, "the organisation needs more than a report lists: {made}");
    assert_eq!(report.changes.len(), 1000, "the first thousand are listed");
    assert_eq!(count(&report, ChangeKind::Create) as u32, 1000.min(report.created));
    let note = format!("{} more changes are counted above but not listed", made - 1000);
    assert!(report.warnings.iter().any(|w| w.starts_with(&note)), "{:?}", report.warnings);
    assert_eq!(rig.leapsome.users().len(), provisionable(&org).len(), "every account was created all the same");

    // Nothing left to do: nothing listed, no note.
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!((again.writes, again.changes.len()), (0, 0));
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}

async fn users_first_then_managers(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let org = load_org(&rig, 100, 16);
    let plugin = rig.connected("t", all_on(dialect)).await;
    clear_journals(&rig);

    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    assert!(report.complete);
    assert_eq!(report.managers_pending, 0);
    let journal = rig.leapsome.control().journal();
    let last_post = journal.iter().rposition(|e| e.method == "POST").expect("accounts created");
    let first_patch = journal.iter().position(|e| e.method == "PATCH").expect("managers linked");
    assert!(last_post < first_patch, "every account exists before any manager is written");
    assert!(journal.iter().all(|e| (200..300).contains(&e.status)), "every request succeeded");
    // Reads: one page of each list and the company; one SCIM page; nothing per person.
    assert_eq!(journal.iter().filter(|e| e.method == "GET").count(), 1);
    let pages = org.people.len().div_ceil(250) + org.job_roles.len().div_ceil(250) + 1;
    assert_eq!(rig.humaans.control().journal().len(), pages);

    let linked = assert_managers_linked(&rig, &org);
    assert_eq!(report.managers_linked as usize, linked);
    assert_eq!(journal.iter().filter(|e| e.method == "PATCH").count(), linked, "one PATCH per manager link");
    assert_eq!(journal.iter().filter(|e| e.method == "POST").count(), provisionable(&org).len());
}

async fn sync_deprovisions_the_offboarded_and_reactivates_the_rehired(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let bob = hire(&rig, "Bob", "Byte", "Engineer", "Engineering", None);
    let plugin = rig.connected("t", all_on(dialect)).await;
    let first = sync_ok(&plugin, false, None).await;
    assert_eq!(first.created, 2);
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");

    rig.humaans.offboard(&ada, "2026-11-20");
    rig.humaans.delete_person(&bob);
    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    assert_eq!(report.deprovisioned, 2);
    assert_eq!(count(&report, ChangeKind::Suspend), 2);
    assert!(rig.leapsome.users().iter().all(|u| u["active"] == false));

    rig.humaans.update_person(&ada, |p| {
        p.status = STATUS_ACTIVE.into();
        p.last_working_day = None;
        p.employment_end_date = None;
    });
    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    assert_eq!(report.reactivated, 1);
    assert_eq!(report.created, 0);
    let user = rig.leapsome.user_by_username("ada.lovelace@acme.test").unwrap();
    assert_eq!((user["id"].as_str(), user["active"].as_bool()), (Some(ada_id.as_str()), Some(true)));
    assert_eq!(rig.leapsome.users().len(), 2);
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!(again.writes, 0, "{:?}", again.changes);
}

/// A sync leaves people with nothing to do out of its working set, and gives them back to its
/// second wave only if the first changed something: a report already waiting for her manager
/// (nothing to do for her at first) is linked by the same sync that creates the manager.
async fn a_report_waiting_for_her_manager_is_linked_by_the_sync_that_creates_the_manager(
    dialect: Dialect,
    config: LeapsomeConfig,
) {
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", all_on(dialect)).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&grace));
    let outcome = event_ok(&plugin, api::EventKind::Created, &ada).await;
    assert!(outcome.manager_pending);
    let ada_id = scim_id(&rig, "ada.lovelace@acme.test");

    clear_journals(&rig);
    let report = sync_ok(&plugin, false, None).await;
    assert_no_failures(&report);
    assert_eq!((report.created, report.managers_linked, report.managers_pending), (1, 1, 0), "{:?}", report.changes);
    let grace_id = scim_id(&rig, "grace.hopper@acme.test");
    assert_eq!(rig.leapsome.manager_id_of(&ada_id), Some(grace_id));
    assert_eq!(count(&report, ChangeKind::LinkManager), 1);
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!((again.writes, again.managers_pending), (0, 0), "{:?}", again.changes);
}

/// People left out of a sync's working set still count: a report whose manager is not due yet
/// is reported waiting by a sync that writes nothing.
#[tokio::test]
async fn a_sync_that_writes_nothing_still_counts_who_waits_for_a_manager() {
    let rig = Rig::start().await;
    let on_start = settings(Some(api::ProvisionTiming::OnStartDate), None, Dialect::Leapsome);
    let plugin = rig.connected("t", on_start).await;
    let grace = hire(&rig, "Grace", "Hopper", "CTO", "Engineering", None);
    rig.humaans.update_person(&grace, |p| {
        p.status = STATUS_NEW_HIRE.into();
        p.employment_start_date = Some("2027-01-04".into());
    });
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&grace));
    assert!(event_ok(&plugin, api::EventKind::Created, &ada).await.manager_pending);

    for _ in 0..2 {
        let report = sync_ok(&plugin, false, None).await;
        assert_no_failures(&report);
        assert_eq!((report.writes, report.created, report.managers_pending), (0, 0, 1), "{:?}", report.changes);
    }
}

in_both_dialects!(
    a_report_waiting_for_her_manager_is_linked_by_the_sync_that_creates_the_manager,
    backfill_adopts_existing_accounts_without_duplicates,
    second_sync_writes_nothing,
    dry_run_reports_the_plan_and_writes_nothing,
    write_budget_continues_until_complete,
    users_first_then_managers,
    sync_deprovisions_the_offboarded_and_reactivates_the_rehired,
    ticks_finish_what_the_sync_left_waiting,
    a_refused_write_fails_alone_and_the_next_sync_retries_it,
);
