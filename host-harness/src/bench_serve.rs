//! `serve` as a real process (this executable) against the mocks, for `host-harness bench`.
//!
//! - Webhook → Leapsome write latency (`--webhooks-per-second R`, alias `--webhook-rate`): signed
//!   `person.created` webhooks at a steady rate over several tenants; latency is from just before
//!   a webhook is sent to the moment mock Leapsome answered the account's `POST /Users` (the
//!   mock's timed journal).
//! - Many tenants (`--tenants M`): M tenants of `--tenant-employees` people (default 50), each with
//!   its own mock Humaans and mock Leapsome, in one `serve`; the scheduler's rounds (`--sync-every`,
//!   `--tick-every`) timed from serve's structured log, per-call instantiation from `/metrics`,
//!   the resident set from `/proc`.
//! - Memory (`--serve` only): the resident set of `serve` just started, idle with 100 tenants in
//!   its store, and after the scheduler ticked all 100.
//!
//! Numbers are measured and printed, never asserted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::cli::Global;
use mock_servers::humaans::webhook::{SIGNATURE_HEADER, delivery, sign};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

pub(crate) const ADMIN: &str = "bench-admin-token-9f3e2c71";
const SECRET: &str = "bench-webhook-secret";
const TENANTS: usize = 100;
/// Tenants that receive webhooks in the latency run (the rate is spread over them).
const BUSY_TENANTS: usize = 10;

fn progress(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}

/// A `serve` process of this executable, started by `start`.
pub(crate) struct Serve {
    child: tokio::process::Child,
    addr: String,
    /// When serve said it was listening (its scheduler starts right after).
    started: Instant,
    /// serve's stderr after the `serving` line, each line with the moment the bench read it.
    logs: mpsc::UnboundedReceiver<(Instant, String)>,
}

/// Starts `serve` on the store in `dir`; `extra`: more serve flags (`--tick-every`, ...).
pub(crate) async fn start(dir: &Path, component: &Path, extra: &[&str]) -> Result<Serve> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["--data-dir", dir.to_str().context("a UTF-8 path")?, "serve", "--listen", "127.0.0.1:0"])
        .args(["--workers", "4"])
        .args(extra)
        .env("HOST_HARNESS_ADMIN_TOKEN", ADMIN)
        .env("HUMAANS_LEAPSOME_COMPONENT", component)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start serve")?;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("serve did not start in time")??;
        let Some(line) = line else { bail!("serve exited before listening: {}", said.join(" / ")) };
        said.push(line.clone());
        if line.contains("serving")
            && let Some(rest) = line.split("http://").nth(1)
        {
            break rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect::<String>();
        }
    };
    let started = Instant::now();
    // Keep draining stderr so serve never blocks on a full pipe; lines go to whoever reads them.
    let (tx, logs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send((Instant::now(), line));
        }
    });
    Ok(Serve { child, addr, started, logs })
}

impl Serve {
    fn rss_kib(&self) -> Result<(u64, u64)> {
        let pid = self.child.id().context("serve has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub(crate) async fn stop(mut self) -> Result<()> {
        let pid = self.child.id().context("serve has exited")?.to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status()?;
        tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await??;
        Ok(())
    }

    pub(crate) async fn metric(&self, series: &str) -> Result<f64> {
        Ok(crate::serve::metrics::value_of(&self.metrics().await?, series).unwrap_or(0.0))
    }

    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, String)> {
        http(&self.addr, method, path, headers, body).await
    }

    pub(crate) async fn api(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        api(&self.addr, method, path, body).await
    }

    /// Up to `n` warning lines serve has logged and nobody has read yet (to explain a failed run).
    pub(crate) fn drain_warnings(&mut self, n: usize) -> Vec<String> {
        let mut warnings = Vec::new();
        while let Ok((_, line)) = self.logs.try_recv() {
            if warnings.len() < n && line.contains("warn") {
                warnings.push(line);
            }
        }
        warnings
    }

    async fn metrics(&self) -> Result<String> {
        let (status, text) = http(&self.addr, "GET", "/metrics", &[], b"").await?;
        if status != 200 {
            bail!("GET /metrics: HTTP {status}");
        }
        Ok(text)
    }

    /// Reads serve's JSON log until every one of `tenants` has logged `message` with
    /// `fields_ok` true, or `limit` passed. Returns the seconds since serve started listening when
    /// the last one did (`None` if not all did), the tenants seen and the warnings logged.
    async fn round(
        &mut self,
        message: &str,
        tenants: &HashSet<String>,
        limit: Duration,
        fields_ok: impl Fn(&Value) -> bool,
    ) -> Round {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = HashSet::new();
        let mut warnings = Vec::new();
        let mut last = None;
        while seen.len() < tenants.len() {
            let Ok(Some((at, line))) = tokio::time::timeout_at(deadline, self.logs.recv()).await else { break };
            let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
            if entry["level"] == "warn" {
                if warnings.len() < 5 {
                    warnings.push(line.clone());
                }
                continue;
            }
            let Some(tenant) = entry["tenant"].as_str() else { continue };
            if entry["msg"] == message
                && tenants.contains(tenant)
                && fields_ok(&entry)
                && seen.insert(tenant.to_owned())
            {
                last = Some(at);
            }
        }
        let complete = seen.len() == tenants.len();
        Round {
            wall_s: last.filter(|_| complete).map(|at| at.duration_since(self.started).as_secs_f64()),
            tenants_seen: seen.len(),
            warnings,
        }
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
pub(crate) async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

/// An admin-API call with the bench's admin token (`ADMIN`); anything but 200 is an error.
pub(crate) async fn api(addr: &str, method: &str, path: &str, body: &Value) -> Result<Value> {
    let auth = format!("Bearer {ADMIN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, text) = http(addr, method, path, &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        bail!("{method} {path}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A fresh data directory for one serve run, sharing the compiled-component cache (no recompiling).
fn scratch_dir(global: &Global, name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("host-harness-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let shared_cache: PathBuf = global.data_dir.clone().unwrap_or_else(crate::operator::default_data_dir).join("cache");
    std::fs::create_dir_all(&shared_cache)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(&shared_cache, dir.join("cache"))?;
    Ok(dir)
}

/// `bench --serve`: webhook latency, then serve's memory on the store those 100 tenants left.
pub async fn run(global: &Global, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let dir = scratch_dir(global, "serve")?;
    let result = async {
        let mut latency = webhook_latency(&dir, component, rate, seconds).await?;
        let mut memory = serve_memory(&dir, component).await?;
        if let Some(v) = latency.as_object_mut().and_then(|o| o.remove("rss_started_no_tenants_mib")) {
            memory["rss_started_no_tenants_mib"] = v;
        }
        Ok(json!({"webhook_latency": latency, "serve_memory": memory}))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The webhook latency run alone (for `bench --webhooks-per-second R`).
pub async fn webhook(global: &Global, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let dir = scratch_dir(global, "webhook")?;
    let result = webhook_latency(&dir, component, rate, seconds).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Connects and configures `t{n}` through the admin API, `parallel` tenants at a time.
async fn connect_all(serve: &Serve, connections: Vec<(String, Value)>, parallel: usize) -> Result<()> {
    let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend", "dialect": "leapsome"});
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut set = tokio::task::JoinSet::new();
    for (tenant, connection) in connections {
        let (addr, settings, gate) = (serve.addr.clone(), settings.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            api(&addr, "PUT", &format!("/api/tenants/{tenant}/connection"), &connection).await?;
            api(&addr, "PUT", &format!("/api/tenants/{tenant}/settings"), &settings).await?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

async fn webhook_latency(dir: &Path, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let humaans = MockHumaans::start(HumaansConfig::default()).await?;
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await?;
    let count = (rate * seconds) as usize;
    let mut people = Vec::with_capacity(count);
    for n in 0..count {
        let email = format!("hire.{n}@acme.test");
        let id = humaans.add_person(Person::new("Hire", &format!("Number{n}"), &email));
        humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
        people.push((id, email));
    }

    progress("serve: starting (no tenants)");
    let serve = start(dir, component, &["--tick-every", "24h"]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty, _) = serve.rss_kib()?;
    progress(format!("serve: connecting {TENANTS} tenants"));
    let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
        "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": "scim-test-token",
        "webhook_secret": SECRET, "scim_rate_limit": 0});
    connect_all(&serve, (0..TENANTS).map(|t| (format!("t{t}"), connection.clone())).collect(), 1).await?;
    leapsome.control().clear_journal();

    progress(format!("serve: {count} webhooks at {rate}/s over {BUSY_TENANTS} tenants"));
    let sent: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let started = Instant::now();
    let mut sends = Vec::with_capacity(count);
    for (n, (id, email)) in people.iter().enumerate() {
        ticker.tick().await;
        let body = delivery(&format!("bench-{n}"), "person.created", id);
        let signature = sign(SECRET, body.as_bytes());
        let (addr, email, sent) = (serve.addr.clone(), email.clone(), sent.clone());
        let path = format!("/webhooks/humaans/t{}", n % BUSY_TENANTS);
        sends.push(tokio::spawn(async move {
            sent.lock().unwrap().insert(email, Instant::now());
            http(&addr, "POST", &path, &[(SIGNATURE_HEADER, &signature)], body.as_bytes()).await.map(|(s, _)| s)
        }));
    }
    let send_s = started.elapsed().as_secs_f64();
    let mut accepted = 0;
    for s in sends {
        if s.await?? == 202 {
            accepted += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while leapsome.control().count("POST") < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.lock().unwrap().clone();
    let mut latencies_ms: Vec<f64> = leapsome
        .control()
        .timed_journal()
        .into_iter()
        .filter(|(_, e)| e.method == "POST" && e.path.ends_with("/Users"))
        .filter_map(|(at, e)| {
            let user: Value = serde_json::from_str(&e.body).ok()?;
            let sent_at = sent.get(user["userName"].as_str()?)?;
            Some(at.duration_since(*sent_at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let written = latencies_ms.len();
    progress(format!(
        "latency: p50 {:.1} ms, p99 {:.1} ms over {written} writes",
        percentile(&latencies_ms, 50.0),
        percentile(&latencies_ms, 99.0)
    ));
    serve.stop().await?;
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "rate_per_s": rate, "webhooks": count, "accepted_202": accepted, "tenants": BUSY_TENANTS,
        "send_s": round(send_s), "scim_writes_seen": written,
        "p50_ms": round(percentile(&latencies_ms, 50.0)), "p90_ms": round(percentile(&latencies_ms, 90.0)),
        "p99_ms": round(percentile(&latencies_ms, 99.0)), "max_ms": round(latencies_ms.last().copied().unwrap_or(0.0)),
        "rss_started_no_tenants_mib": round(rss_empty as f64 / 1024.0),
        "scim_pacing": "off (scim_rate_limit 0; the mock has no limit)",
    }))
}

/// serve's resident set on the store of the latency run's 100 tenants: idle, then ticking.
async fn serve_memory(dir: &Path, component: &Path) -> Result<Value> {
    progress(format!("serve: restarted on the store of {TENANTS} tenants, idle"));
    let serve = start(dir, component, &["--tick-every", "24h"]).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_idle, _) = serve.rss_kib()?;
    serve.stop().await?;

    progress(format!("serve: restarted with --tick-every 2s until all {TENANTS} tenants ticked"));
    let serve = start(dir, component, &["--tick-every", "2s"]).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while serve.metric("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}").await? < TENANTS as f64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ticks = serve.metric("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}").await?;
    let (rss_ticked, hwm_ticked) = serve.rss_kib()?;
    serve.stop().await?;

    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "tenants": TENANTS,
        "rss_idle_mib": round(rss_idle as f64 / 1024.0),
        "rss_after_ticking_all_mib": round(rss_ticked as f64 / 1024.0),
        "peak_rss_while_ticking_mib": round(hwm_ticked as f64 / 1024.0),
        "ticks": ticks,
    }))
}

// ---------------------------------------------------------------------------------------------
// Many tenants in one serve.

/// The first organisation's seed; tenant n gets `TENANT_ORG_SEED + n` (different people each).
const TENANT_ORG_SEED: u64 = 4711;
/// How long each round may take before the bench gives up on it (reported as not met).
const INITIAL_ROUND_LIMIT: Duration = Duration::from_secs(1800);
const ROUND_LIMIT: Duration = Duration::from_secs(300);

/// One scheduler round as serve's log showed it.
struct Round {
    /// Seconds from serve listening to the last tenant's line; `None`: not every tenant in time.
    wall_s: Option<f64>,
    tenants_seen: usize,
    /// The first warnings serve logged (refused or failed calls).
    warnings: Vec<String>,
}

impl Round {
    fn to_json(&self) -> Value {
        json!({"wall_s": self.wall_s.map(round3), "tenants_done": self.tenants_seen, "warnings": self.warnings})
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

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

/// The many-tenant run's figures (targets are judged in `bench.rs`).
pub struct TenantsRun {
    pub json: Value,
    pub tick_round_wall_s: Option<f64>,
    pub steady_round_wall_s: Option<f64>,
    pub steady_scim_writes: f64,
    pub host_rss_peak_bytes: u64,
    pub instantiate: Instantiate,
}

pub async fn tenants(global: &Global, component: &Path, count: usize, each: usize, today: &str) -> Result<TenantsRun> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(
            (super::percentile(&v, 50.0), super::percentile(&v, 99.0), super::percentile(&v, 100.0)),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(super::percentile(&[7.0], 99.0), 7.0);
    }
}
