//! Sealing and the storage quota per call (was the ignored test `tests/it/overhead.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::common::{progress, round};
use super::rig::{CpuDeadline, Rig};
use super::tally::sync_until_complete;
use crate::operator::done;
use crate::plugin::api;
use crate::{HostKey, KeySource, Runtime, SealedStorage, SqliteStorage, Storage};

/// People in the sealing-and-quota run (a realistic small tenant).
pub(super) const OVERHEAD_PEOPLE: usize = 200;

#[derive(Debug, Clone)]
pub(super) struct Overhead {
    pub(super) keys: u64,
    pub(super) bytes: u64,
    pub(super) connection_bytes: usize,
    pub(super) first_sync_writes: u64,
    pub(super) event_writes: u64,
    pub(super) steady_sync_writes: u64,
    pub(super) steady_sync_ms: f64,
    pub(super) usage_scan_us: f64,
    pub(super) size_lookup_us: f64,
    pub(super) plain_get_us: f64,
    pub(super) sealed_get_us: f64,
    pub(super) plain_connection_get_us: f64,
    pub(super) sealed_set_us: f64,
    pub(super) plain_set_us: f64,
}

/// Mean microseconds of `n` runs of `f`.
fn per_op(n: u32, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

/// A tenant of `OVERHEAD_PEOPLE` people synced into a sealed SQLite store (the `serve`/CLI
/// default), then: what the quota's usage scan and size lookups cost, and a sealed read and write
/// of the connection against plain ones.
pub(super) async fn overhead_run(runtime: &Arc<Runtime>, today: Date) -> Result<Overhead> {
    let dir = std::env::temp_dir().join(format!("host-harness-bench-overhead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = async {
        let raw: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.join("host.db"))?);
        let sealed: Arc<dyn Storage> =
            Arc::new(SealedStorage::open(raw.clone(), HostKey::generate(), &KeySource::Env)?);
        let rig = Rig::start(
            runtime,
            OVERHEAD_PEOPLE,
            today,
            "bench-overhead",
            Some(0),
            sealed.clone(),
            CpuDeadline::Generous,
        )
        .await?;
        progress(format!("sealing and quota: {OVERHEAD_PEOPLE} people on sealed SQLite"));
        let writes = || rig.plugin.stats().kv_writes.load(Ordering::Relaxed);
        let before = writes();
        sync_until_complete(&rig.plugin).await?;
        let first_sync_writes = writes() - before;
        let ns = rig.plugin.tenant().storage_namespace.clone();
        let usage = raw.usage(&ns)?;

        let person = rig.people_with_accounts().into_iter().next().context("nobody has an account")?;
        let before = writes();
        let event = api::EmployeeEvent {
            id: "bench-overhead".into(),
            kind: api::EventKind::Updated,
            person_id: person.id.clone(),
            occurred_at: format!("{:.0}", Timestamp::now()),
        };
        done(rig.plugin.on_employee_event(&event).await).context("on-employee-event")?;
        let event_writes = writes() - before;
        let before = writes();
        let start = Instant::now();
        sync_until_complete(&rig.plugin).await?;
        let steady_sync_ms = start.elapsed().as_secs_f64() * 1e3;
        let steady_sync_writes = writes() - before;

        let keys = vec!["settings".to_string()];
        let connection = sealed.get(&ns, "", "connection")?.context("no stored connection")?;
        Ok(Overhead {
            keys: usage.keys,
            bytes: usage.bytes,
            connection_bytes: connection.len(),
            first_sync_writes,
            event_writes,
            steady_sync_writes,
            steady_sync_ms,
            usage_scan_us: per_op(200, || raw.usage(&ns).map(drop))?,
            size_lookup_us: per_op(5000, || raw.value_sizes(&ns, "", &keys).map(drop))?,
            plain_get_us: per_op(5000, || raw.get(&ns, "", "settings").map(drop))?,
            sealed_get_us: per_op(5000, || sealed.get(&ns, "", "connection").map(drop))?,
            plain_connection_get_us: per_op(5000, || raw.get(&ns, "", "connection").map(drop))?,
            sealed_set_us: per_op(2000, || sealed.set(&ns, "", "connection", &connection))?,
            plain_set_us: per_op(2000, || raw.set(&ns, "", "connection-plain", &connection))?,
        })
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

impl Overhead {
    /// The quota's cost for a call that writes `writes` keys: one scan plus a lookup per key.
    pub(super) fn quota_us(&self, writes: u64) -> f64 {
        if writes == 0 { 0.0 } else { self.usage_scan_us + writes as f64 * self.size_lookup_us }
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "store": "sqlite, sealed (XChaCha20-Poly1305)",
            "people": OVERHEAD_PEOPLE,
            "tenant": {"keys": self.keys, "bytes": self.bytes, "connection_bytes": self.connection_bytes},
            "quota_usage_scan_us": round(self.usage_scan_us, 2),
            "quota_size_lookup_us": round(self.size_lookup_us, 2),
            "plain_get_us": round(self.plain_get_us, 2),
            "quota_per_call_us": {
                "event": round(self.quota_us(self.event_writes), 1),
                "steady_sync": round(self.quota_us(self.steady_sync_writes), 1),
                "first_sync": round(self.quota_us(self.first_sync_writes), 1),
            },
            "kv_writes": {"event": self.event_writes, "steady_sync": self.steady_sync_writes, "first_sync": self.first_sync_writes},
            "steady_sync_ms": round(self.steady_sync_ms, 2),
            "connection_get_us": {"sealed": round(self.sealed_get_us, 2), "plain": round(self.plain_connection_get_us, 2)},
            "connection_set_us": {"sealed": round(self.sealed_set_us, 2), "plain": round(self.plain_set_us, 2)},
        })
    }
}
