//! The rig every integration test uses: both mocks on loopback, the component loaded once per
//! test process, and tenants with a policy that allows exactly the two mocks.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use host_harness::api::{self, Dialect, ProvisionTiming, Settings};
use host_harness::{AllowedHost, MemoryStorage, PoolSize, Runtime, Storage, Tenant, TenantPlugin};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

pub const HUMAANS_TOKEN: &str = mock_servers::humaans::DEFAULT_TOKEN;
pub const WEBHOOK_SECRET: &str = "whsec-rig-3b9f-41d2";
pub const SCIM_TOKEN: &str = "scim-test-token";
/// The time the guest sees unless a test says otherwise.
pub const NOW: &str = "2026-11-28T12:00:00Z";

pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let path = host_harness::component::component_path().expect("the component builds");
            let cache = host_harness::component::default_cache_dir();
            Arc::new(
                Runtime::new(&path, Some(&cache), PoolSize { instances: 16, max_memory_bytes: 256 << 20 })
                    .expect("the component loads"),
            )
        })
        .clone()
}

pub fn at(rfc3339: &str) -> SystemTime {
    let t: jiff::Timestamp = rfc3339.parse().expect("valid time");
    SystemTime::UNIX_EPOCH + Duration::from_secs(t.as_second() as u64)
}

pub struct Rig {
    pub humaans: MockHumaans,
    pub leapsome: MockLeapsome,
    pub storage: Arc<dyn Storage>,
}

impl Rig {
    pub async fn start() -> Rig {
        Self::with_leapsome(LeapsomeConfig::default()).await
    }

    pub async fn with_leapsome(config: LeapsomeConfig) -> Rig {
        Self::with_mocks(HumaansConfig::default(), config).await
    }

    pub async fn with_humaans(config: HumaansConfig) -> Rig {
        Self::with_mocks(config, LeapsomeConfig::default()).await
    }

    async fn with_mocks(humaans: HumaansConfig, leapsome: LeapsomeConfig) -> Rig {
        let humaans = MockHumaans::start(humaans).await.expect("humaans mock starts");
        let leapsome = MockLeapsome::start(leapsome).await.expect("leapsome mock starts");
        Rig { humaans, leapsome, storage: Arc::new(MemoryStorage::new()) }
    }

    pub fn tenant(&self, id: &str) -> Tenant {
        let mut t = Tenant::new(id)
            .allow(AllowedHost::from_url(&self.humaans.base_url()).unwrap())
            .allow(AllowedHost::from_url(&self.leapsome.base_url()).unwrap());
        t.fixed_clock = Some(at(NOW));
        t
    }

    pub fn plugin(&self, tenant: Tenant) -> TenantPlugin {
        TenantPlugin::new(runtime(), self.storage.clone(), tenant)
    }

    pub fn connection(&self) -> api::Connection {
        api::Connection {
            scim_base_url: Some(self.leapsome.base_url()),
            scim_token: SCIM_TOKEN.into(),
            scim_requests_per_second: Some(0),
            humaans_base_url: Some(self.humaans.base_url()),
            humaans_token: HUMAANS_TOKEN.into(),
            humaans_webhook_secret: Some(WEBHOOK_SECRET.into()),
        }
    }

    /// A tenant connected and configured with `settings`.
    pub async fn connected(&self, id: &str, settings: Settings) -> TenantPlugin {
        let plugin = self.plugin(self.tenant(id));
        plugin.connect(&self.connection()).await.unwrap().expect("connects");
        plugin.configure(&settings).await.unwrap().expect("configures");
        plugin
    }

    pub fn scim_writes(&self) -> Vec<mock_servers::JournalEntry> {
        self.leapsome.control().journal().into_iter().filter(|e| e.method != "GET").collect()
    }
}

pub fn settings(
    provisioning: Option<ProvisionTiming>,
    deprovisioning: Option<api::DeprovisionAction>,
    dialect: Dialect,
) -> Settings {
    Settings {
        provisioning,
        deprovisioning,
        dialect,
        deprovision_limit: None,
        deprovision_window_minutes: None,
        teams: false,
        log_retention: None,
        scope: Vec::new(),
        out_of_scope: api::OutOfScopeAction::Deprovision,
        extra_fields: Vec::new(),
    }
}

pub fn all_on(dialect: Dialect) -> Settings {
    settings(Some(ProvisionTiming::Immediately), Some(api::DeprovisionAction::Suspend), dialect)
}

/// A person with a job role; returns the person id.
pub fn hire(rig: &Rig, first: &str, last: &str, title: &str, department: &str, manager: Option<&str>) -> String {
    let email = format!("{}.{}@acme.test", first.to_lowercase(), last.to_lowercase());
    let mut p = Person::new(first, last, &email);
    p.employment_start_date = Some("2024-01-01".into());
    p.timezone = "Europe/London".into();
    let id = rig.humaans.add_person(p);
    rig.humaans.add_job_role(JobRole::new(&id, title, department, manager, "2024-01-01"));
    id
}

pub fn event(kind: api::EventKind, person_id: &str) -> api::EmployeeEvent {
    api::EmployeeEvent { id: format!("evt-{person_id}"), kind, person_id: person_id.into(), occurred_at: NOW.into() }
}

pub fn sync_options(dry_run: bool, max_writes: Option<u32>) -> api::SyncOptions {
    api::SyncOptions { dry_run, max_writes, approve_deprovisions: false, repair_teams: false, preview_settings: None }
}

pub async fn logs(plugin: &TenantPlugin, failures_only: bool, person: Option<&str>) -> Vec<api::LogEntry> {
    let q = api::LogQuery { failures_only, person_id: person.map(Into::into), limit: 500, before: None };
    plugin.read_logs(&q).await.unwrap().unwrap().entries
}

// ---------------------------------------------------------------------------------------------
// Scenario helpers (provisioning and sync suites).

/// The mock SCIM server that matches a dialect: Leapsome's own for `leapsome`, an RFC-strict one
/// for `rfc7644`.
pub fn leapsome_config(dialect: Dialect) -> LeapsomeConfig {
    match dialect {
        Dialect::Leapsome => LeapsomeConfig::default(),
        Dialect::Rfc7644 => LeapsomeConfig::rfc_strict(),
    }
}

/// Runs a scenario `async fn name(dialect: Dialect, config: LeapsomeConfig)` as two tests,
/// `name::leapsome` and `name::rfc7644`, one per SCIM dialect with a matching mock server.
#[allow(unused_macros)]
macro_rules! in_both_dialects {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn leapsome() {
                super::$name(
                    host_harness::api::Dialect::Leapsome,
                    mock_servers::leapsome::LeapsomeConfig::default(),
                )
                .await
            }

            #[tokio::test]
            async fn rfc7644() {
                super::$name(
                    host_harness::api::Dialect::Rfc7644,
                    mock_servers::leapsome::LeapsomeConfig::rfc_strict(),
                )
                .await
            }
        }
    )+};
}

/// A new hire: starts on `start` (`YYYY-MM-DD`) in `timezone`, with a job role from that date.
pub fn new_hire(rig: &Rig, first: &str, last: &str, start: &str, timezone: &str) -> String {
    let email = format!("{}.{}@acme.test", first.to_lowercase(), last.to_lowercase());
    let mut p = Person::new(first, last, &email);
    p.status = mock_servers::humaans::STATUS_NEW_HIRE.into();
    p.employment_start_date = Some(start.into());
    p.first_working_day = Some(start.into());
    p.timezone = timezone.into();
    let id = rig.humaans.add_person(p);
    rig.humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, start));
    id
}

/// The work email `hire` and `new_hire` give a person.
pub fn email_of(rig: &Rig, person_id: &str) -> String {
    rig.humaans.person(person_id).expect("person exists").email
}

/// An event that must be handled without a trap and without an error.
pub async fn event_ok(plugin: &TenantPlugin, kind: api::EventKind, person_id: &str) -> api::EventOutcome {
    match plugin.on_employee_event(&event(kind, person_id)).await.expect("no trap") {
        Ok(outcome) => outcome,
        Err(e) => panic!("{kind:?} event for {person_id} failed: {e:?}"),
    }
}

pub async fn tick_ok(plugin: &TenantPlugin, now: &str) -> api::TickReport {
    match plugin.tick(now).await.expect("no trap") {
        Ok(report) => report,
        Err(e) => panic!("tick at {now} failed: {e:?}"),
    }
}

pub async fn sync_ok(plugin: &TenantPlugin, dry_run: bool, max_writes: Option<u32>) -> api::SyncReport {
    match plugin.sync_all(sync_options(dry_run, max_writes)).await.expect("no trap") {
        Ok(report) => report,
        Err(e) => panic!("sync-all failed: {e:?}"),
    }
}

/// Someone Leapsome refuses (the mock's organisation takes acme.test addresses only), and the
/// created event whose POST it refused. Returns the person id.
pub async fn refused_hire(rig: &Rig, plugin: &TenantPlugin) -> String {
    let id = rig.humaans.add_person(Person::new("Eve", "Outsider", "eve@elsewhere.test"));
    rig.humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
    let outcome = plugin.on_employee_event(&event(api::EventKind::Created, &id)).await.unwrap().unwrap();
    assert!(outcome.changes[0].error.is_some(), "{outcome:?}");
    let posts = rig.leapsome.control().journal().iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts, 1, "one POST, refused");
    id
}

/// `sync-all --approve-deprovisions`, which must succeed.
pub async fn sync_approving(plugin: &TenantPlugin) -> api::SyncReport {
    let options = api::SyncOptions {
        dry_run: false,
        max_writes: None,
        approve_deprovisions: true,
        repair_teams: false,
        preview_settings: None,
    };
    match plugin.sync_all(options).await.expect("no trap") {
        Ok(report) => report,
        Err(e) => panic!("sync-all --approve-deprovisions failed: {e:?}"),
    }
}

/// The SCIM id of the account with this userName (case-insensitive); panics when there is none.
pub fn scim_id(rig: &Rig, email: &str) -> String {
    let user = rig.leapsome.user_by_username(email).unwrap_or_else(|| panic!("no SCIM account for {email}"));
    user["id"].as_str().expect("a user has an id").to_owned()
}

/// Empties both journals, so a step's requests can be counted on their own.
pub fn clear_journals(rig: &Rig) {
    rig.humaans.control().clear_journal();
    rig.leapsome.control().clear_journal();
}

/// Every request both mocks received since the journals were last cleared.
pub fn total_requests(rig: &Rig) -> usize {
    rig.humaans.control().journal().len() + rig.leapsome.control().journal().len()
}

/// The SCIM writes as (method, path, JSON body or null).
pub fn scim_write_bodies(rig: &Rig) -> Vec<(String, String, serde_json::Value)> {
    rig.scim_writes()
        .into_iter()
        .map(|e| {
            let body = if e.body.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&e.body).unwrap() };
            (e.method, e.path, body)
        })
        .collect()
}

/// The enterprise extension's schema URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The person's job role in effect on `today` (latest effective date among those in effect).
pub fn role_on<'a>(roles: &'a [JobRole], person_id: &str, today: &str) -> Option<&'a JobRole> {
    roles
        .iter()
        .filter(|r| r.person_id == person_id && r.in_effect_on(today))
        .max_by(|a, b| a.effective_date.cmp(&b.effective_date))
}

/// No full read of either side since the journals were cleared: no Humaans list without a person
/// filter, no unfiltered SCIM list (what a tick or an event must never need).
pub fn assert_no_full_reads(rig: &Rig) {
    for e in rig.humaans.control().journal() {
        let list = e.path == "/api/people" || (e.path == "/api/job-roles" && !e.query.contains("personId="));
        assert!(!list, "a full Humaans list was read: {} {}?{}", e.method, e.path, e.query);
    }
    for e in rig.leapsome.control().journal() {
        let list = e.method == "GET" && e.path == "/scim/v1/Users" && !e.query.contains("filter=");
        assert!(!list, "the full SCIM user list was read: {}?{}", e.path, e.query);
    }
}
