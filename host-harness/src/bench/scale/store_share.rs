//! The store's share of per-call latency, SQLite against PostgreSQL: the component in this process
//! over each store, wrapped to time every storage call.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::org::{PEOPLE, org};
use crate::bench::common::{progress, round3};
use crate::bench::rig::connect_to_mocks;
use crate::operator::done;
use crate::plugin::api;
use crate::storage::{KeyPage, PgStorage, SqliteStorage, Storage, Usage};
use crate::{AllowedHost, Runtime, Tenant, TenantPlugin};

/// Calls timed per store in the latency run.
const EVENTS: usize = 40;
const STEADY_SYNCS: usize = 5;

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// Per-call wall time and the part of it spent in the store, on SQLite and on PostgreSQL.
pub(super) async fn store_share(runtime: &Arc<Runtime>, dir: &Path, url: &str) -> Result<Value> {
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
        connect_to_mocks(&plugin, &humaans, &leapsome, Some(0), false).await?;
        let sync = api::SyncOptions {
            dry_run: false,
            max_writes: None,
            approve_deprovisions: false,
            repair_teams: false,
            preview_settings: None,
        };
        let initial = done(plugin.sync_all(sync.clone()).await).context("the initial sync")?;
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
            let (wall, store) = timed_call(&storage, || plugin.sync_all(sync.clone())).await?;
            syncs.0.push(wall);
            syncs.1.push(store);
        }
        let row = |(wall, store): (Vec<f64>, Vec<f64>)| {
            let total_wall: f64 = wall.iter().sum();
            let total_store: f64 = store.iter().sum();
            json!({"calls": wall.len(), "median_ms": round3(median(wall)), "store_median_ms": round3(median(store)),
                "store_share": round3(total_store / total_wall)})
        };
        let rows = json!({"on-employee-event": row(events), "sync-all (steady)": row(syncs)});
        drop((humaans, leapsome));
        out.insert(name.into(), rows);
    }
    Ok(Value::Object(out))
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
