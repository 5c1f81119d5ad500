//! Measures (does not assert) what sealing and the storage quota cost per call, on SQLite with a
//! realistic tenant (200 people synced, their log). Run on demand:
//! `cargo test --test it overhead -- --ignored --nocapture` (numbers in the closing note of
//! issue 9 come from here; the dev profile, so a release host is faster).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use host_harness::api::{self, Dialect};
use host_harness::{HostKey, SealedStorage, SqliteStorage, Storage};

use crate::support::*;

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

#[tokio::test]
#[ignore = "a measurement, run on demand"]
async fn seal_and_quota_cost_per_call() {
    let dir = std::env::temp_dir().join(format!("overhead-{}", std::process::id()));
    let raw: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.join("host.db")).unwrap());
    let sealed: Arc<dyn Storage> =
        Arc::new(SealedStorage::open(raw.clone(), HostKey::generate(), &host_harness::KeySource::Env).unwrap());
    let mut rig = Rig::start().await;
    rig.storage = sealed.clone();
    for i in 0..200 {
        hire(&rig, &format!("P{i}"), "Person", "Engineer", "R&D", None);
    }
    let plugin = rig.connected("m", all_on(Dialect::Leapsome)).await;
    let writes_before = plugin.stats().kv_writes.load(Ordering::Relaxed);
    sync_ok(&plugin, false, None).await;
    let first_sync_writes = plugin.stats().kv_writes.load(Ordering::Relaxed) - writes_before;
    let ns = plugin.tenant().storage_namespace.clone();
    let usage = raw.usage(&ns).unwrap();

    let writes_before = plugin.stats().kv_writes.load(Ordering::Relaxed);
    let id = rig.humaans.people()[0].id.clone();
    plugin.on_employee_event(&event(api::EventKind::Updated, &id)).await.unwrap().unwrap();
    let event_writes = plugin.stats().kv_writes.load(Ordering::Relaxed) - writes_before;
    let writes_before = plugin.stats().kv_writes.load(Ordering::Relaxed);
    let start = Instant::now();
    sync_ok(&plugin, false, None).await;
    let sync_ms = start.elapsed().as_secs_f64() * 1e3;
    let sync_writes = plugin.stats().kv_writes.load(Ordering::Relaxed) - writes_before;

    let scan = per_op(200, || {
        raw.usage(&ns).unwrap();
    });
    let keys = vec!["settings".to_string()];
    let lookup = per_op(5000, || drop(raw.value_sizes(&ns, "", &keys).unwrap()));
    let raw_get = per_op(5000, || drop(raw.get(&ns, "", "settings").unwrap()));
    let conn = sealed.get(&ns, "", "connection").unwrap().unwrap();
    let sealed_get = per_op(5000, || drop(sealed.get(&ns, "", "connection").unwrap()));
    let plain_get = per_op(5000, || drop(raw.get(&ns, "", "connection").unwrap()));
    let sealed_set = per_op(2000, || sealed.set(&ns, "", "connection", &conn).unwrap());
    let plain_set = per_op(2000, || raw.set(&ns, "", "connection-plain", &conn).unwrap());

    println!("tenant: {} keys, {} bytes; connection record {} bytes", usage.keys, usage.bytes, conn.len());
    println!("quota: usage scan {scan:.1} us (once per call that writes), size lookup {lookup:.1} us per written key");
    println!(
        "quota per call: event ({event_writes} writes) ~{:.0} us; sync-all of 200 ({sync_writes} writes, {sync_ms:.0} ms) ~{:.0} us",
        scan + f64::from(event_writes as u32) * lookup,
        scan + f64::from(sync_writes as u32) * lookup
    );
    println!(
        "quota per call: first sync-all of 200 ({first_sync_writes} writes) ~{:.0} us",
        scan + f64::from(first_sync_writes as u32) * lookup
    );
    println!("plain get {raw_get:.1} us (settings)");
    println!(
        "seal: get connection {sealed_get:.1} us sealed vs {plain_get:.1} us plain; set {sealed_set:.1} us vs {plain_set:.1} us"
    );
    std::fs::remove_dir_all(dir).ok();
}
