//! `host-harness bench --scale-out`: several `serve` processes on one PostgreSQL.
//!
//! - The store's share of per-call latency, SQLite against PostgreSQL: the component runs in this
//!   process over each store (wrapped to time every storage call) for `on-employee-event` and a
//!   steady `sync-all`.
//! - Throughput of 1 against N processes on one PostgreSQL: tenant syncs per minute (the
//!   scheduler's `sync-all`s while every tenant is due every 200 ms) and webhooks per second
//!   (signed deliveries spread over the processes, from the first send until all are applied).
//!
//! PostgreSQL is the one `--store` names, else a throw-away server from the machine's binaries.
//! Numbers are measured and printed, never asserted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench_serve::{self, Serve};
use crate::cli::Global;
use crate::operator::done;
use crate::plugin::api;
use crate::storage::pg_testing::TestPg;
use crate::storage::{KeyPage, PgStorage, SqliteStorage, Storage, Usage};
use crate::{AllowedHost, Runtime, Tenant, TenantPlugin};
use mock_servers::humaans::webhook::{SIGNATURE_HEADER, delivery, sign};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

const SECRET: &str = "bench-scale-webhook-secret";
/// Tenants in the throughput runs, each with its own mocks and this many people.
const TENANTS: usize = 24;
const PEOPLE: usize = 100;
/// How long the sync throughput is counted.
const SYNC_WINDOW: Duration = Duration::from_secs(30);
/// Webhooks in the webhook throughput run (spread over the tenants), and how many are in flight.
const WEBHOOKS: usize = 960;
const IN_FLIGHT: usize = 16;
/// Calls timed per store in the latency run.
const EVENTS: usize = 40;
const STEADY_SYNCS: usize = 5;

fn progress(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}

pub async fn run(global: &Global, runtime: Arc<Runtime>, component: &Path, processes: usize) -> Result<Value> {
    let (_server, url) = match global.store.as_deref().filter(|s| s.starts_with("postgres")) {
        Some(url) => (None, url.to_owned()),
        None => {
            let pg = TestPg::start().context("no PostgreSQL: pass --store postgres://… or install PostgreSQL")?;
            let url = pg.url.clone();
            (Some(pg), url)
        }
    };
    let dir = std::env::temp_dir().join(format!("hh-bench-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = async {
        let latency = store_share(&runtime, &dir, &url).await?;
        let throughput = throughput(&dir, component, &url, processes).await?;
        Ok::<_, anyhow::Error>(json!({"store_share": latency, "throughput": throughput}))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A store that adds the time of every call to `nanos`.
struct TimedStorage {
    inner: Arc<dyn Storage>,
    nanos: AtomicU64,
}

impl TimedStorage {
    fn timed<R>(&self, f: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let r = f();
        self.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

impl Storage for TimedStorage {
    fn get(&self, n: &str, b: &str, k: &str) -> Result<Option<Vec<u8>>> {
        self.timed(|| self.inner.get(n, b, k))
    }
    fn set(&self, n: &str, b: &str, k: &str, v: &[u8]) -> Result<()> {
        self.timed(|| self.inner.set(n, b, k, v))
    }
    fn delete(&self, n: &str, b: &str, k: &str) -> Result<()> {
        self.timed(|| self.inner.delete(n, b, k))
    }
    fn list_keys(&self, n: &str, b: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        self.timed(|| self.inner.list_keys(n, b, cursor, limit))
    }
    fn increment(&self, n: &str, b: &str, k: &str, delta: u64) -> Result<u64> {
        self.timed(|| self.inner.increment(n, b, k, delta))
    }
    fn get_many(&self, n: &str, b: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.timed(|| self.inner.get_many(n, b, keys))
    }
    fn set_many(&self, n: &str, b: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.timed(|| self.inner.set_many(n, b, entries))
    }
    fn delete_many(&self, n: &str, b: &str, keys: &[String]) -> Result<()> {
        self.timed(|| self.inner.delete_many(n, b, keys))
    }
    fn usage(&self, n: &str) -> Result<Usage> {
        self.timed(|| self.inner.usage(n))
    }
    fn value_sizes(&self, n: &str, b: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        self.timed(|| self.inner.value_sizes(n, b, keys))
    }
    fn scopes(&self) -> Result<Vec<(String, String)>> {
        self.timed(|| self.inner.scopes())
    }
}

/// One tenant's mocks: `PEOPLE` active people, each with a job role.
async fn org(people: usize) -> Result<(MockHumaans, MockLeapsome, Vec<String>)> {
    let humaans = MockHumaans::start(HumaansConfig::default()).await.context("cannot start mock Humaans")?;
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.context("cannot start mock Leapsome")?;
    let ids = (0..people)
        .map(|i| {
            let id = humaans.add_person(Person::new("Person", &format!("Number{i}"), &format!("p{i}@acme.test")));
            humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
            id
        })
        .collect();
    Ok((humaans, leapsome, ids))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// Per-call wall time and the part of it spent in the store, on SQLite and on PostgreSQL.
async fn store_share(runtime: &Arc<Runtime>, dir: &Path, url: &str) -> Result<Value> {
    let mut out = serde_json::Map::new();
    let backends: [(&str, Arc<dyn Storage>); 2] = [
        ("sqlite", Arc::new(SqliteStorage::open(&dir.join("share.db"))?)),
        ("postgres", Arc::new(PgStorage::connect(url)?)),
    ];
    for (name, raw) in backends {
        progress(format!("store share of call latency: {name}"));
        let (humaans, leapsome, ids) = org(PEOPLE).await?;
        let storage = Arc::new(TimedStorage { inner: raw, nanos: AtomicU64::new(0) });
        let tenant = Tenant::new(&format!("share-{name}"))
            .allow(AllowedHost::from_url(&humaans.base_url()).map_err(anyhow::Error::msg)?)
            .allow(AllowedHost::from_url(&leapsome.base_url()).map_err(anyhow::Error::msg)?);
        let plugin = TenantPlugin::new(runtime.clone(), storage.clone(), tenant);
        crate::bench::connect_to_mocks(&plugin, &humaans, &leapsome, Some(0)).await?;
        let sync = api::SyncOptions { dry_run: false, max_writes: None, approve_deprovisions: false };
        let initial = done(plugin.sync_all(sync).await).context("the initial sync")?;
        if leapsome.users().len() != PEOPLE {
            bail!(
                "the initial sync provisioned {} of {PEOPLE} people ({} failed)",
                leapsome.users().len(),
                initial.failed
            );
        }
        let (mut events, mut syncs) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        for (i, id) in ids.iter().take(EVENTS).enumerate() {
            humaans.update_person(id, |p| p.last_name = format!("Renamed{i}"));
            let event = api::EmployeeEvent {
                id: format!("share-{i}"),
                kind: api::EventKind::Updated,
                person_id: id.clone(),
                occurred_at: "2026-01-01T00:00:00Z".into(),
            };
            let (wall, store) = timed_call(&storage, || plugin.on_employee_event(&event)).await?;
            events.0.push(wall);
            events.1.push(store);
        }
        for _ in 0..STEADY_SYNCS {
            let (wall, store) = timed_call(&storage, || plugin.sync_all(sync)).await?;
            syncs.0.push(wall);
            syncs.1.push(store);
        }
        let row = |(wall, store): (Vec<f64>, Vec<f64>)| {
            let total_wall: f64 = wall.iter().sum();
            let total_store: f64 = store.iter().sum();
            json!({"calls": wall.len(), "median_ms": round(median(wall)), "store_median_ms": round(median(store)),
                "store_share": round(total_store / total_wall)})
        };
        let rows = json!({"on-employee-event": row(events), "sync-all (steady)": row(syncs)});
        drop((humaans, leapsome));
        out.insert(name.into(), rows);
    }
    Ok(Value::Object(out))
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A call's wall time and the store's part of it, in milliseconds.
async fn timed_call<T, E: std::fmt::Debug, F>(storage: &TimedStorage, call: impl FnOnce() -> F) -> Result<(f64, f64)>
where
    F: std::future::Future<Output = Result<Result<T, E>, crate::CallError>>,
{
    let before = storage.nanos.load(Ordering::Relaxed);
    let started = Instant::now();
    match call().await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => bail!("the component refused a timed call: {e:?}"),
        Err(e) => bail!("a timed call failed: {e}"),
    }
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let store = (storage.nanos.load(Ordering::Relaxed) - before) as f64 / 1e6;
    Ok((wall, store))
}

async fn sum(processes: &[Serve], series: &str) -> Result<f64> {
    let mut total = 0.0;
    for p in processes {
        total += p.metric(series).await?;
    }
    Ok(total)
}

const SYNCS_OK: &str = "host_harness_calls_total{export=\"sync-all\",outcome=\"ok\"}";
const EVENTS_OK: &str = "host_harness_calls_total{export=\"on-employee-event\",outcome=\"ok\"}";

/// `n` serve processes of this executable on the PostgreSQL at `url`, each with its own data dir
/// and the same host key file (so a secret one seals, the others open).
async fn start_all(
    root: &Path,
    name: &str,
    component: &Path,
    url: &str,
    n: usize,
    flags: &[&str],
) -> Result<Vec<Serve>> {
    let key = root.join("host.key");
    let key = key.to_str().context("a UTF-8 path")?;
    let dir = root.join(name);
    let mut processes = Vec::new();
    for i in 0..n {
        let data = dir.join(format!("process-{i}"));
        std::fs::create_dir_all(&data)?;
        let mut args = vec!["--store", url, "--key-file", key];
        args.extend_from_slice(flags);
        processes.push(bench_serve::start(&data, component, &args).await?);
    }
    Ok(processes)
}

async fn stop_all(processes: Vec<Serve>) -> Result<()> {
    for p in processes {
        p.stop().await?;
    }
    Ok(())
}

/// Tenant syncs per minute and webhooks per second with 1 and with `n` processes.
async fn throughput(dir: &Path, component: &Path, url: &str, n: usize) -> Result<Value> {
    progress(format!("throughput: {TENANTS} tenants of {PEOPLE} people on one PostgreSQL"));
    let mut orgs = Vec::new();
    for _ in 0..TENANTS {
        orgs.push(org(PEOPLE).await?);
    }
    // Every tenant connected and provisioned once, through one process.
    {
        let mut setup = start_all(dir, "setup", component, url, 1, &["--sync-every", "2s"]).await?;
        for (i, (humaans, leapsome, _)) in orgs.iter().enumerate() {
            let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
                "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": LeapsomeConfig::default().token,
                "webhook_secret": SECRET, "scim_rate_limit": 0});
            setup[0].api("PUT", &format!("/api/tenants/s{i:02}/connection"), &connection).await?;
            let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend"});
            setup[0].api("PUT", &format!("/api/tenants/s{i:02}/settings"), &settings).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(180);
        while !orgs.iter().all(|(_, l, _)| l.users().len() == PEOPLE) {
            if Instant::now() > deadline {
                let warnings = setup[0].drain_warnings(5);
                bail!("the tenants were not provisioned within 3 minutes; serve warned:\n{}", warnings.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_all(setup).await?;
    }
    let mut rows = serde_json::Map::new();
    let mut event = 0usize;
    for count in [1, n] {
        progress(format!("{count} process(es): steady syncs for {} s", SYNC_WINDOW.as_secs()));
        // Every tenant due every 200 ms: more than the processes can run, so the count is their
        // capacity, not the schedule's.
        let flags = ["--sync-every", "200ms", "--tick-every", "1h"];
        let processes = start_all(dir, &format!("syncs-{count}"), component, url, count, &flags).await?;
        // Let the first round start before counting.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = sum(&processes, SYNCS_OK).await?;
        tokio::time::sleep(SYNC_WINDOW).await;
        let syncs = sum(&processes, SYNCS_OK).await? - before;
        stop_all(processes).await?;

        progress(format!("{count} process(es): {WEBHOOKS} webhooks"));
        let flags = ["--sync-every", "24h", "--tick-every", "1h"];
        let processes = Arc::new(start_all(dir, &format!("webhooks-{count}"), component, url, count, &flags).await?);
        let started = Instant::now();
        let mut sends = Vec::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        for k in 0..WEBHOOKS {
            let tenant = k % TENANTS;
            let (humaans, _, ids) = &orgs[tenant];
            let id = &ids[(k / TENANTS) % PEOPLE];
            humaans.update_person(id, |p| p.last_name = format!("Webhook{event}"));
            let body = delivery(&format!("bench-{count}-{k}"), "person.updated", id);
            event += 1;
            let (processes, gate) = (processes.clone(), gate.clone());
            sends.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let signature = sign(SECRET, body.as_bytes());
                let path = format!("/webhooks/humaans/s{tenant:02}");
                processes[k % processes.len()]
                    .request("POST", &path, &[(SIGNATURE_HEADER, &signature)], body.as_bytes())
                    .await
            }));
        }
        for send in sends {
            let (status, text) = send.await??;
            if status != 202 {
                bail!("a webhook got {status}: {text}");
            }
        }
        let accepted_s = started.elapsed().as_secs_f64();
        let deadline = Instant::now() + Duration::from_secs(600);
        while sum(&processes, EVENTS_OK).await? < WEBHOOKS as f64 {
            if Instant::now() > deadline {
                bail!("the webhooks were not all applied within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let applied_s = started.elapsed().as_secs_f64();
        let processes = Arc::into_inner(processes).context("sends finished")?;
        stop_all(processes).await?;
        rows.insert(
            format!("processes_{count}"),
            json!({"processes": count, "syncs_per_minute": round(syncs * 60.0 / SYNC_WINDOW.as_secs_f64()),
                "webhooks": WEBHOOKS, "accepted_per_second": round(WEBHOOKS as f64 / accepted_s),
                "applied_per_second": round(WEBHOOKS as f64 / applied_s)}),
        );
    }
    rows.insert(
        "setup".into(),
        json!({"tenants": TENANTS, "people_per_tenant": PEOPLE, "sync_window_s": SYNC_WINDOW.as_secs(),
            "webhooks_in_flight": IN_FLIGHT, "cpus": std::thread::available_parallelism().map_or(0, |n| n.get())}),
    );
    Ok(Value::Object(rows))
}
