//! Faults: transient failures are retried within a call, permanent ones are logged and not looped
//! on, and whatever happened, a clean sync afterwards converges to exactly the right accounts with
//! no duplicates. Includes a seeded property test over random organisations and fault schedules.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::support::*;
use host_harness::api::{self, Dialect, IntegrationError};
use host_harness::{CallError, TenantPlugin};
use mock_servers::{Fault, FaultRule};

const TODAY: &str = "2026-11-28";

/// The work emails that should have an active account after a sync with provisioning
/// `immediately`: active members (new hires wait for their start date, leavers get none).
fn expected_accounts(rig: &Rig) -> BTreeSet<String> {
    rig.humaans
        .people()
        .into_iter()
        .filter(|p| p.status == "active" && p.last_working_day.as_deref().is_none_or(|d| d >= TODAY))
        .map(|p| p.email.to_lowercase())
        .collect()
}

fn account_names(rig: &Rig) -> Vec<String> {
    rig.leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_lowercase()).collect()
}

/// Leapsome holds exactly the expected accounts, once each, all active, managers in place.
fn assert_converged(rig: &Rig) {
    let names = account_names(rig);
    let unique: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(unique.len(), names.len(), "duplicate accounts: {names:?}");
    assert_eq!(unique, expected_accounts(rig));
    assert!(rig.leapsome.users().iter().all(|u| u["active"] == true));
    // Every account's manager is the account of the person's current manager.
    let by_person: HashMap<String, String> = rig
        .leapsome
        .users()
        .iter()
        .filter_map(|u| Some((u["externalId"].as_str()?.to_owned(), u["id"].as_str()?.to_owned())))
        .collect();
    for (person, account) in &by_person {
        let manager = rig
            .humaans
            .job_roles_of(person)
            .into_iter()
            .filter(|r| r.in_effect_on(TODAY))
            .max_by(|a, b| a.effective_date.cmp(&b.effective_date))
            .and_then(|r| r.reporting_to);
        let expected = manager.and_then(|m| by_person.get(&m).cloned());
        assert_eq!(rig.leapsome.manager_id_of(account), expected, "manager of {person}");
    }
}

async fn org(rig: &Rig, people: usize, seed: u64) {
    rig.humaans.load_seed(mock_servers::org::generate_org(people, seed, TODAY));
}

async fn sync_until_complete(plugin: &TenantPlugin) -> api::SyncReport {
    let mut last = None;
    for _ in 0..20 {
        let r = plugin.sync_all(sync_options(false, None)).await.unwrap().expect("sync succeeds");
        let complete = r.complete;
        last = Some(r);
        if complete {
            break;
        }
    }
    last.unwrap()
}

async fn assert_second_sync_writes_nothing(rig: &Rig, plugin: &TenantPlugin) {
    rig.leapsome.control().clear_journal();
    let r = plugin.sync_all(sync_options(false, None)).await.unwrap().unwrap();
    assert_eq!(r.writes, 0, "{:?}", r.changes);
    assert!(rig.scim_writes().is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_call() {
    let rig = Rig::start().await;
    org(&rig, 40, 1).await;
    let ctl = rig.leapsome.control();
    ctl.add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Status { status: 503, message: "busy".into() },
        3,
    ));
    ctl.add_fault(FaultRule::new(Some("GET"), "/scim/v1/Users", Fault::TooManyRequests { retry_after: Some(1) }, 1));
    ctl.add_fault(FaultRule::new(Some("PATCH"), "/scim/v1/Users", Fault::TooManyRequests { retry_after: None }, 2));
    ctl.add_fault(FaultRule::new(Some("PATCH"), "/scim/v1/Users", Fault::DropConnection, 2));
    rig.humaans.control().add_fault(FaultRule::new(Some("GET"), "/api/people", Fault::MalformedJson, 1));
    rig.humaans.control().add_fault(FaultRule::new(
        Some("GET"),
        "/api/job-roles",
        Fault::Status { status: 502, message: "bad gateway".into() },
        2,
    ));
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let r = sync_until_complete(&plugin).await;
    assert_eq!(r.failed, 0, "{:?}", r.changes.iter().filter(|c| c.error.is_some()).collect::<Vec<_>>());
    assert_converged(&rig);
    let statuses: Vec<u16> = ctl.journal().iter().map(|e| e.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 3);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 3);
    assert!(logs(&plugin, true, None).await.is_empty(), "retried faults are not failures");
    assert_second_sync_writes_nothing(&rig, &plugin).await;
}

#[tokio::test]
async fn a_slow_service_times_out_and_is_retried() {
    let rig = Rig::start().await;
    org(&rig, 12, 2).await;
    let mut tenant = rig.tenant("slow");
    tenant.http_first_byte_timeout = Duration::from_millis(500);
    let plugin = rig.plugin(tenant);
    plugin.connect(&rig.connection()).await.unwrap().unwrap();
    plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap().unwrap();
    rig.leapsome.control().add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Delay(Duration::from_secs(3)),
        1,
    ));
    sync_until_complete(&plugin).await;
    // The timed-out POST may have landed anyway: no duplicate either way.
    assert_converged(&rig);
}

#[tokio::test]
async fn permanent_failures_are_logged_once_and_not_retried_in_a_loop() {
    let rig = Rig::start().await;
    org(&rig, 15, 3).await;
    let plugin = rig.connected("t", all_on(Dialect::Rfc7644)).await;
    let ctl = rig.leapsome.control();
    ctl.add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Status { status: 400, message: "The user email domain must match".into() },
        1,
    ));
    let r = plugin.sync_all(sync_options(false, None)).await.unwrap().unwrap();
    assert_eq!(r.failed, 1);
    let posts = ctl.journal().iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts, expected_accounts(&rig).len(), "the refused POST was sent once, not retried");
    // One failure for the person, and the sync summary (which had a failure) next to it.
    let failures: Vec<_> = logs(&plugin, true, None).await.into_iter().filter(|e| e.person_id.is_some()).collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].http_status, Some(400));
    assert!(failures[0].message.contains("The user email domain must match"), "{}", failures[0].message);
    assert!(failures[0].person_id.is_some());
    // The next sync does not send the refused request again (the service would refuse it
    // again); once the operator retries the person, a sync converges.
    sync_until_complete(&plugin).await;
    let posts_after = ctl.journal().iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts_after, posts, "a refused create waits for a change or `retry`");
    plugin.retry(failures[0].person_id.as_deref().unwrap()).await.unwrap().unwrap();
    sync_until_complete(&plugin).await;
    assert_converged(&rig);
}

#[tokio::test]
async fn an_account_created_meanwhile_is_linked_not_duplicated() {
    for dialect in [Dialect::Leapsome, Dialect::Rfc7644] {
        let config = if dialect == Dialect::Leapsome {
            mock_servers::leapsome::LeapsomeConfig::default()
        } else {
            mock_servers::leapsome::LeapsomeConfig::rfc_strict()
        };
        let rig = Rig::with_leapsome(config).await;
        org(&rig, 20, 4).await;
        // Someone created three of the accounts by hand, but the listing the sync read did not
        // show them yet: the POSTs get a 409 and the component must link those accounts.
        for email in expected_accounts(&rig).iter().take(3) {
            rig.leapsome
                .seed_user(serde_json::json!({"userName": email, "name": {"givenName": "X", "familyName": "Y"}}));
        }
        let plugin = rig.connected("t", all_on(dialect)).await;
        let empty = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"itemsPerPage":0,"startIndex":1,"Resources":[]}"#;
        rig.leapsome.control().add_fault(FaultRule::new(
            Some("GET"),
            "/scim/v1/Users",
            Fault::Raw { status: 200, content_type: "application/scim+json".into(), body: empty.into() },
            1,
        ));
        let r = sync_until_complete(&plugin).await;
        assert_eq!(r.failed, 0, "{:?}", r.changes);
        assert_eq!(rig.leapsome.control().journal().iter().filter(|e| e.status == 409).count(), 3);
        assert_converged(&rig);
        assert_second_sync_writes_nothing(&rig, &plugin).await;
    }
}

#[tokio::test]
async fn a_call_cut_off_by_the_host_loses_nothing() {
    let rig = Rig::start().await;
    org(&rig, 400, 5).await;
    // First, a CPU deadline too small for the work.
    let mut tenant = rig.tenant("cut");
    tenant.cpu_deadline = Duration::from_millis(20);
    let tight = rig.plugin(tenant.clone());
    tight.connect(&rig.connection()).await.unwrap().unwrap();
    tight.configure(&all_on(Dialect::Leapsome)).await.unwrap().unwrap();
    match tight.sync_all(sync_options(false, None)).await {
        Err(CallError::CpuDeadlineExceeded) => {}
        other => panic!("expected the CPU deadline, got {other:?}"),
    }
    // Then a wall-clock limit that ends the call while writes are in flight.
    rig.leapsome.control().add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Delay(Duration::from_millis(400)),
        5,
    ));
    tenant.cpu_deadline = Duration::from_secs(60);
    tenant.call_timeout = Duration::from_millis(1500);
    let short = rig.plugin(tenant.clone());
    let cut = short.sync_all(sync_options(false, None)).await;
    assert!(matches!(cut, Err(CallError::TimedOut) | Ok(Ok(_))), "{cut:?}");
    // A normal call finishes the job.
    tenant.call_timeout = Duration::from_secs(300);
    let normal = rig.plugin(tenant);
    sync_until_complete(&normal).await;
    assert_converged(&rig);
    assert_second_sync_writes_nothing(&rig, &normal).await;
}

/// A small deterministic PRNG so the property test needs no extra crate and replays exactly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn property_random_orgs_and_fault_schedules_converge_without_duplicates() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let dialect = if rng.below(2) == 0 { Dialect::Leapsome } else { Dialect::Rfc7644 };
        let config = match dialect {
            Dialect::Leapsome => mock_servers::leapsome::LeapsomeConfig {
                max_page_size: 7 + rng.below(50) as usize,
                ..Default::default()
            },
            Dialect::Rfc7644 => mock_servers::leapsome::LeapsomeConfig::rfc_strict(),
        };
        let rig = Rig::with_leapsome(config).await;
        org(&rig, 15 + rng.below(50) as usize, seed).await;
        // Some accounts already exist, with other-case emails.
        for email in expected_accounts(&rig).iter().filter(|_| rng.below(6) == 0) {
            rig.leapsome.seed_user(serde_json::json!({"userName": email.to_uppercase()}));
        }
        let plugin = rig.connected("p", all_on(dialect)).await;
        let faults = 1 + rng.below(8);
        for _ in 0..faults {
            let (method, path) = match rng.below(5) {
                0 => ("POST", "/scim/v1/Users"),
                1 => ("PATCH", "/scim/v1/Users"),
                2 => ("GET", "/scim/v1/Users"),
                3 => ("GET", "/api/people"),
                _ => ("GET", "/api/job-roles"),
            };
            let fault = match rng.below(6) {
                0 => Fault::Status { status: 500, message: "boom".into() },
                1 => Fault::Status { status: 400, message: "refused".into() },
                2 => Fault::TooManyRequests { retry_after: Some(0) },
                3 => Fault::DropConnection,
                4 => Fault::MalformedJson,
                _ => Fault::Raw {
                    status: 502,
                    content_type: "text/html".into(),
                    body: "<html>bad gateway</html>".into(),
                },
            };
            let control = if path.starts_with("/api") { rig.humaans.control() } else { rig.leapsome.control() };
            control.add_fault(FaultRule::new(Some(method), path, fault, 1 + rng.below(4) as usize));
        }
        let budget = if rng.below(2) == 0 { None } else { Some(3 + rng.below(20) as u32) };
        // The faulty run may fail as a whole (a typed error) or in part; it must never trap.
        for _ in 0..3 {
            match plugin.sync_all(sync_options(false, budget)).await {
                Ok(Ok(_)) | Ok(Err(IntegrationError::Upstream(_) | IntegrationError::Transport(_))) => {}
                other => panic!("seed {seed}: unexpected {other:?}"),
            }
        }
        // Every refusal read (a 400 is never retried) is visible in the log, once. A sync begins
        // some reads ahead (the SCIM users' first two pages, the job roles' first page); one that
        // fails before it gets to them never reads their answers: at most three a sync.
        let failures = logs(&plugin, true, None).await;
        let refusals = rig.leapsome.control().journal().iter().filter(|e| e.status == 400).count()
            + rig.humaans.control().journal().iter().filter(|e| e.status == 400).count();
        let logged = failures.iter().filter(|f| f.http_status == Some(400)).count();
        assert!(logged <= refusals && refusals <= logged + 3 * 3, "seed {seed}: {refusals} refusals, {failures:?}");
        rig.leapsome.control().clear_faults();
        rig.humaans.control().clear_faults();
        sync_until_complete(&plugin).await;
        assert_converged(&rig);
        assert_second_sync_writes_nothing(&rig, &plugin).await;
    }
}

#[tokio::test]
async fn the_component_paces_itself_under_the_rate_limit() {
    let rig = Rig::start().await;
    org(&rig, 45, 6).await;
    rig.leapsome.control().set_rate_limit(Some(30), Some(1));
    let plugin = rig.plugin(rig.tenant("paced"));
    // Leapsome's documented 30 requests a second: the default pacing.
    let mut connection = rig.connection();
    connection.scim_requests_per_second = None;
    plugin.connect(&connection).await.unwrap().unwrap();
    plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap().unwrap();
    sync_until_complete(&plugin).await;
    assert_converged(&rig);
    let journal = rig.leapsome.control().journal();
    assert!(journal.len() > 60, "enough requests to exceed one second's budget: {}", journal.len());
    assert_eq!(journal.iter().filter(|e| e.status == 429).count(), 0, "no 429: the component paced itself");
}
