//! Many tenants in one serve (`--tenants M`): the scheduler's rounds timed from serve's log,
//! per-call instantiation from `/metrics`, the resident set from `/proc`.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::process::{SECRET, connect_all, scratch_dir, start};
use crate::bench::common::{progress, round3};
use crate::operator::HostConfig;
use mock_servers::humaans::{HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

/// The first organisation's seed; tenant n gets `TENANT_ORG_SEED + n` (different people each).
const TENANT_ORG_SEED: u64 = 4711;
/// How long each round may take before the bench gives up on it (reported as not met).
const INITIAL_ROUND_LIMIT: Duration = Duration::from_secs(1800);
const ROUND_LIMIT: Duration = Duration::from_secs(300);

/// What `/metrics` said at the end of a phase.
struct Scrape(String);

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        crate::serve::metrics::value_of(&self.0, series).unwrap_or(0.0)
    }

    fn calls(&self, export: &str) -> Value {
        let n =
            |outcome: &str| self.get(&format!("host_harness_calls_total{{export=\"{export}\",outcome=\"{outcome}\"}}"));
        let count = self.get(&format!("host_harness_call_duration_seconds_count{{export=\"{export}\"}}"));
        let sum = self.get(&format!("host_harness_call_duration_seconds_sum{{export=\"{export}\"}}"));
        json!({
            "ok": n("ok"), "error": n("error"), "host_error": n("host-error"),
            "mean_ms": if count > 0.0 { round3(sum / count * 1000.0) } else { 0.0 },
            "waited_busy": self.get(&format!("host_harness_scheduled_waits_total{{kind=\"{export}\"}}")),
        })
    }

    /// Per-call instantiation from serve's histogram: count, mean, and the smallest bucket bound
    /// holding half (and 99%) of the calls.
    fn instantiate(&self) -> Instantiate {
        let count = self.get("host_harness_instantiate_seconds_count");
        let sum = self.get("host_harness_instantiate_seconds_sum");
        let at_most = |share: f64| {
            crate::runtime::INSTANTIATE_BUCKETS
                .iter()
                .find(|bound| {
                    self.get(&format!("host_harness_instantiate_seconds_bucket{{le=\"{bound}\"}}")) >= share * count
                })
                .map(|bound| bound * 1e6)
        };
        Instantiate {
            calls: count as u64,
            mean_us: if count > 0.0 { sum / count * 1e6 } else { 0.0 },
            p50_at_most_us: at_most(0.5),
            p99_at_most_us: at_most(0.99),
        }
    }
}

pub struct Instantiate {
    pub calls: u64,
    pub mean_us: f64,
    /// `None`: above the largest bucket (25 ms).
    pub p50_at_most_us: Option<f64>,
    pub p99_at_most_us: Option<f64>,
}

/// The many-tenant run's figures (targets are judged in `bench/report.rs`).
pub struct TenantsRun {
    pub json: Value,
    pub tick_round_wall_s: Option<f64>,
    pub steady_round_wall_s: Option<f64>,
    pub steady_scim_writes: f64,
    pub host_rss_peak_bytes: u64,
    pub instantiate: Instantiate,
}

pub async fn tenants(
    global: &HostConfig,
    component: &Path,
    count: usize,
    each: usize,
    today: &str,
) -> Result<TenantsRun> {
    let dir = scratch_dir(global, "tenants")?;
    let result = measure_tenants(&dir, component, count, each, today).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure_tenants(dir: &Path, component: &Path, count: usize, each: usize, today: &str) -> Result<TenantsRun> {
    progress(format!("tenants: starting {count} mock Humaans and {count} mock Leapsome ({each} people each)"));
    let mut mocks = Vec::with_capacity(count);
    for t in 0..count {
        let humaans = MockHumaans::start(HumaansConfig::default()).await?;
        humaans.load_seed(mock_servers::org::generate_org(each, TENANT_ORG_SEED + t as u64, today));
        let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await?;
        mocks.push((humaans, leapsome));
    }
    let names: HashSet<String> = (0..count).map(|t| format!("t{t}")).collect();
    let json_log = ["--log-format", "json"];
    let mut hwm_kib = Vec::new();

    // Connect and configure every tenant through the admin API; the scheduler stays idle.
    let serve =
        start(dir, component, &[&json_log[..], &["--tick-every", "24h", "--sync-every", "24h"]].concat()).await?;
    progress(format!("tenants: connecting {count} tenants through the admin API"));
    let connecting = Instant::now();
    let connections = mocks
        .iter()
        .enumerate()
        .map(|(t, (humaans, leapsome))| {
            let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
                "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": "scim-test-token",
                "webhook_secret": SECRET, "scim_rate_limit": 0});
            (format!("t{t}"), connection)
        })
        .collect();
    connect_all(&serve, connections, 8).await?;
    let connect_s = connecting.elapsed().as_secs_f64();
    hwm_kib.push(("connect", serve.rss_kib()?.1));
    serve.stop().await?;

    // The first scheduled sync-all of every tenant (the initial sync), --sync-every 1s.
    progress(format!("tenants: first round of scheduled syncs (initial syncs of {count} x {each} people)"));
    let mut serve =
        start(dir, component, &[&json_log[..], &["--tick-every", "24h", "--sync-every", "1s"]].concat()).await?;
    let initial = serve.round("scheduled sync", &names, INITIAL_ROUND_LIMIT, |e| e["remaining"] == "0").await;
    let initial_writes = serve.metric("host_harness_scim_writes_total").await?;
    hwm_kib.push(("initial_syncs", serve.rss_kib()?.1));
    serve.stop().await?;
    // Each phase starts from first runs spread over its period, not from the runs the last phase
    // left due (every tenant's next sync, a second away, would run first in the tick round).
    crate::storage::sqlite::forget_schedule(&dir.join("host.db"))?;
    progress(format!(
        "tenants: initial round {:?} s, {} tenants done",
        initial.wall_s.map(round3),
        initial.tenants_seen
    ));

    // A round of ticks, --tick-every 1s (first ticks spread over the first second).
    progress("tenants: a round of ticks (--tick-every 1s)");
    let mut serve =
        start(dir, component, &[&json_log[..], &["--tick-every", "1s", "--sync-every", "24h"]].concat()).await?;
    let ticks = serve.round("tick", &names, ROUND_LIMIT, |_| true).await;
    let tick_scrape = Scrape(serve.metrics().await?);
    hwm_kib.push(("ticks", serve.rss_kib()?.1));
    serve.stop().await?;
    crate::storage::sqlite::forget_schedule(&dir.join("host.db"))?;
    progress(format!("tenants: tick round {:?} s, {} tenants done", ticks.wall_s.map(round3), ticks.tenants_seen));

    // A round of steady (nothing changed) scheduled syncs, --sync-every 1s.
    progress("tenants: a round of steady syncs (--sync-every 1s)");
    let mut serve =
        start(dir, component, &[&json_log[..], &["--tick-every", "24h", "--sync-every", "1s"]].concat()).await?;
    let steady = serve.round("scheduled sync", &names, ROUND_LIMIT, |_| true).await;
    let steady_scrape = Scrape(serve.metrics().await?);
    hwm_kib.push(("steady_syncs", serve.rss_kib()?.1));
    serve.stop().await?;
    progress(format!("tenants: steady round {:?} s, {} tenants done", steady.wall_s.map(round3), steady.tenants_seen));

    let host_rss_peak_bytes = hwm_kib.iter().map(|(_, k)| k * 1024).max().unwrap_or(0);
    let steady_scim_writes = steady_scrape.get("host_harness_scim_writes_total");
    let instantiate = tick_scrape.instantiate();
    let steady_instantiate = steady_scrape.instantiate();
    let instantiate_json = |i: &Instantiate| {
        json!({"calls": i.calls, "mean_us": (i.mean_us * 10.0).round() / 10.0,
               "p50_at_most_us": i.p50_at_most_us, "p99_at_most_us": i.p99_at_most_us})
    };
    let json = json!({
        "count": count,
        "employees_each": each,
        "serve_workers": 4,
        "scim_pacing": "off (scim_rate_limit 0; the mocks have no limit)",
        "connect_s": round3(connect_s),
        "initial_round": {"round": initial.to_json(), "scim_writes": initial_writes},
        "tick_round_wall_s": ticks.wall_s.map(round3),
        "tick_round": {"round": ticks.to_json(), "calls": tick_scrape.calls("tick"),
                       "sync_calls": tick_scrape.get("host_harness_calls_total{export=\"sync-all\",outcome=\"ok\"}"),
                       "sqlite_busy_waits": tick_scrape.get("host_harness_sqlite_busy_waits_total"),
                       "instantiate": instantiate_json(&instantiate)},
        "steady_round_wall_s": steady.wall_s.map(round3),
        "steady_round": {"round": steady.to_json(), "calls": steady_scrape.calls("sync-all"),
                         "scim_writes": steady_scim_writes, "instantiate": instantiate_json(&steady_instantiate),
                         "tick_calls": steady_scrape.get("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}"),
                         "sqlite_busy_waits": steady_scrape.get("host_harness_sqlite_busy_waits_total")},
        "host_rss_peak_bytes": host_rss_peak_bytes,
        "host_rss_peak_by_phase_mib": hwm_kib.iter().map(|(phase, k)| (phase.to_string(), json!((*k as f64 / 102.4).round() / 10.0))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(TenantsRun {
        json,
        tick_round_wall_s: ticks.wall_s,
        steady_round_wall_s: steady.wall_s,
        steady_scim_writes,
        host_rss_peak_bytes,
        instantiate,
    })
}
