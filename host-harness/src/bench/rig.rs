//! The rig: both mocks with a generated organisation and one connected, configured tenant, and a
//! sync of it timed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::civil::Date;

use super::common::progress;
use super::tally::{Requests, SyncTotals, sync_until_complete};
use crate::operator::done;
use crate::plugin::api;
use crate::{AllowedHost, MemoryStorage, Runtime, Storage, Tenant, TenantPlugin};
use mock_servers::humaans::{HumaansConfig, HumaansSeed, MockHumaans, STATUS_ACTIVE};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
use mock_servers::org::OrgOptions;

/// The seed of the generated organisations: the same people on every run.
const ORG_SEED: u64 = 2026;

/// Connects `plugin` to the mocks and configures it to provision at once and suspend leavers.
/// `scim_pacing`: the component's own SCIM pacing (`None`: Leapsome's 30/s; `Some(0)`: off).
/// `teams`: the teams setting (the teams run's tenant has it on).
pub(super) async fn connect_to_mocks(
    plugin: &TenantPlugin,
    humaans: &MockHumaans,
    leapsome: &MockLeapsome,
    scim_pacing: Option<u32>,
    teams: bool,
) -> Result<()> {
    done(
        plugin
            .connect(&api::Connection {
                scim_base_url: Some(leapsome.base_url()),
                scim_token: LeapsomeConfig::default().token,
                scim_requests_per_second: scim_pacing,
                humaans_base_url: Some(humaans.base_url()),
                humaans_token: mock_servers::humaans::DEFAULT_TOKEN.into(),
                humaans_webhook_secret: None,
            })
            .await,
    )
    .context("connect")?;
    done(
        plugin
            .configure(&api::Settings {
                provisioning: Some(api::ProvisionTiming::Immediately),
                deprovisioning: Some(api::DeprovisionAction::Suspend),
                dialect: api::Dialect::Leapsome,
                deprovision_limit: None,
                deprovision_window_minutes: None,
                teams,
                log_retention: None,
                scope: Vec::new(),
                out_of_scope: api::OutOfScopeAction::Deprovision,
                extra_fields: Vec::new(),
            })
            .await,
    )
    .context("configure")
}

/// The main run keeps the host's default CPU deadline (a minute of guest time per call): a large
/// organisation's sync must resume across calls within it. The others (valgrind, rate-limited
/// waits) get ten minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CpuDeadline {
    HostDefault,
    Generous,
}

pub(super) struct Rig {
    pub(super) humaans: MockHumaans,
    pub(super) leapsome: MockLeapsome,
    pub(super) plugin: TenantPlugin,
}

impl Rig {
    /// `scim_pacing`: the component's own SCIM pacing (`None`: its default, Leapsome's 30/s;
    /// `Some(0)`: off, to measure the component rather than the limit).
    pub(super) async fn start(
        runtime: &Arc<Runtime>,
        employees: usize,
        today: Date,
        tenant_id: &str,
        scim_pacing: Option<u32>,
        storage: Arc<dyn Storage>,
        cpu_deadline: CpuDeadline,
    ) -> Result<Rig> {
        progress(format!("generating an organisation of {employees} people"));
        let seed = mock_servers::org::generate_org(employees, ORG_SEED, &today.to_string());
        Rig::start_with(runtime, seed, tenant_id, scim_pacing, storage, cpu_deadline, false).await
    }

    /// The teams run's rig: `employees` people spread over `teams` teams (`OrgOptions::teams`),
    /// the same seed as `start`'s, and the tenant's teams setting on.
    pub(super) async fn start_with_teams(
        runtime: &Arc<Runtime>,
        employees: usize,
        teams: usize,
        today: Date,
        tenant_id: &str,
        cpu_deadline: CpuDeadline,
    ) -> Result<Rig> {
        progress(format!("generating an organisation of {employees} people in {teams} teams"));
        let options = OrgOptions { teams: Some(teams) };
        let seed = mock_servers::org::generate_org_with(employees, ORG_SEED, &today.to_string(), &options);
        let storage = Arc::new(MemoryStorage::new());
        Rig::start_with(runtime, seed, tenant_id, Some(0), storage, cpu_deadline, true).await
    }

    async fn start_with(
        runtime: &Arc<Runtime>,
        seed: HumaansSeed,
        tenant_id: &str,
        scim_pacing: Option<u32>,
        storage: Arc<dyn Storage>,
        cpu_deadline: CpuDeadline,
        teams: bool,
    ) -> Result<Rig> {
        let humaans = MockHumaans::start(HumaansConfig::default()).await.context("cannot start mock Humaans")?;
        humaans.load_seed(seed);
        let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.context("cannot start mock Leapsome")?;
        // Generous limits: one call syncs the whole organisation.
        let mut tenant = Tenant::new(tenant_id)
            .allow(AllowedHost::from_url(&humaans.base_url()).map_err(anyhow::Error::msg)?)
            .allow(AllowedHost::from_url(&leapsome.base_url()).map_err(anyhow::Error::msg)?);
        if cpu_deadline == CpuDeadline::Generous {
            tenant.cpu_deadline = Duration::from_secs(600);
        }
        tenant.call_timeout = Duration::from_secs(1800);
        tenant.memory_limit_bytes = 512 << 20;
        let plugin = TenantPlugin::new(runtime.clone(), storage, tenant);
        connect_to_mocks(&plugin, &humaans, &leapsome, scim_pacing, teams).await?;
        let rig = Rig { humaans, leapsome, plugin };
        rig.clear_journals();
        Ok(rig)
    }

    pub(super) fn clear_journals(&self) {
        self.humaans.control().clear_journal();
        self.leapsome.control().clear_journal();
    }

    pub(super) fn requests(&self) -> Requests {
        Requests::of(&self.humaans.control().journal(), &self.leapsome.control().journal())
    }

    /// Active people with an account in Leapsome, in the organisation's order.
    pub(super) fn people_with_accounts(&self) -> Vec<mock_servers::humaans::Person> {
        self.humaans
            .people()
            .into_iter()
            .filter(|p| p.status == STATUS_ACTIVE && self.leapsome.user_by_username(&p.email).is_some())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(super) struct Timed {
    pub(super) wall_s: f64,
    pub(super) requests: Requests,
    /// Positions (0-based) of the Leapsome requests answered 429, in arrival order.
    pub(super) http_429_at: Vec<usize>,
    /// The component's key-value reads and writes during the sync.
    pub(super) kv_reads: u64,
    pub(super) kv_writes: u64,
    /// CPU seconds of the whole process (guest, host and both mocks) during the sync; Linux only.
    pub(super) process_cpu_s: Option<f64>,
    pub(super) totals: SyncTotals,
}

pub(super) async fn timed_sync(rig: &Rig) -> Result<Timed> {
    rig.clear_journals();
    let stats = rig.plugin.stats();
    let (reads, writes) = (stats.kv_reads.load(Ordering::Relaxed), stats.kv_writes.load(Ordering::Relaxed));
    let cpu = process_cpu_s();
    let start = Instant::now();
    let totals = sync_until_complete(&rig.plugin).await?;
    let wall_s = start.elapsed().as_secs_f64();
    let process_cpu_s = cpu.zip(process_cpu_s()).map(|(before, after)| after - before);
    let kv_reads = stats.kv_reads.load(Ordering::Relaxed) - reads;
    let kv_writes = stats.kv_writes.load(Ordering::Relaxed) - writes;
    let http_429_at =
        rig.leapsome.control().journal().iter().enumerate().filter(|(_, e)| e.status == 429).map(|(i, _)| i).collect();
    Ok(Timed { wall_s, requests: rig.requests(), http_429_at, kv_reads, kv_writes, process_cpu_s, totals })
}

/// User plus system CPU seconds of this process so far, from `/proc/self/stat` (Linux; clock
/// ticks of 1/100 s, the kernel's USER_HZ everywhere it matters).
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
