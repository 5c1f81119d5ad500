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
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("valid time");
    SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp() as u64)
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
        let humaans = MockHumaans::start(HumaansConfig::default()).await.expect("humaans mock starts");
        let leapsome = MockLeapsome::start(config).await.expect("leapsome mock starts");
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
            humaans_base_url: Some(self.humaans.base_url()),
            humaans_token: HUMAANS_TOKEN.into(),
        }
    }

    /// A tenant connected and configured with `settings`.
    pub async fn connected(&self, id: &str, settings: Settings) -> TenantPlugin {
        let plugin = self.plugin(self.tenant(id));
        plugin.connect(&self.connection()).await.unwrap().expect("connects");
        plugin.configure(settings).await.unwrap().expect("configures");
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
    Settings { provisioning, deprovisioning, dialect }
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
    api::SyncOptions { dry_run, max_writes }
}

pub async fn logs(plugin: &TenantPlugin, failures_only: bool, person: Option<&str>) -> Vec<api::LogEntry> {
    let q = api::LogQuery { failures_only, person_id: person.map(Into::into), limit: 500, before: None };
    plugin.read_logs(&q).await.unwrap().unwrap().entries
}
