//! Per-operation latency of each backend, printed (no assertions on time: this machine's load
//! varies). `cargo test -p host-harness --lib store_latency -- --nocapture` shows the table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pg_testing::TestPg;
use super::{MemoryStorage, PgStorage, SqliteStorage, Storage};

const N: usize = 2000;

/// Median and 99th percentile of `n` runs of `op`, in microseconds.
fn measure(mut op: impl FnMut(usize)) -> (f64, f64) {
    let mut times: Vec<Duration> = (0..N)
        .map(|i| {
            let start = Instant::now();
            op(i);
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(times[N / 2]), us(times[N * 99 / 100]))
}

fn row(name: &str, s: &dyn Storage) -> String {
    let keys: Vec<String> = (0..N).map(|i| format!("sched/person-{i}")).collect();
    let value = vec![b'x'; 300]; // about a schedule record
    let set = measure(|i| s.set("tenant/bench", "", &keys[i], &value).unwrap());
    let get = measure(|i| assert!(s.get("tenant/bench", "", &keys[i]).unwrap().is_some()));
    let inc = measure(|_| {
        s.increment("tenant/bench", "", "log/seq", 1).unwrap();
    });
    format!("{name:<22} {:>8.1} {:>8.1}   {:>8.1} {:>8.1}   {:>8.1} {:>8.1}", get.0, get.1, set.0, set.1, inc.0, inc.1)
}

#[test]
fn store_latency() {
    let mut lines = vec![format!(
        "{:<22} {:>17}   {:>17}   {:>17}\n{:<22} {:>8} {:>8}   {:>8} {:>8}   {:>8} {:>8}",
        format!("µs per op, N={N}"),
        "get",
        "set",
        "increment",
        "backend",
        "median",
        "p99",
        "median",
        "p99",
        "median",
        "p99"
    )];
    lines.push(row("memory", &MemoryStorage::new()));
    let dir = std::env::temp_dir().join(format!("hh-latency-{}", std::process::id()));
    lines.push(row("sqlite (file, WAL)", &SqliteStorage::open(&dir.join("store.db")).unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(pg) = TestPg::start() {
        let store = Arc::new(PgStorage::connect(&pg.url).unwrap());
        lines.push(row("postgres (loopback)", store.as_ref()));
        // The thread hop alone: a job that does nothing on a pooled connection.
        let hop = measure(|_| store.ping_pool().unwrap());
        lines.push(format!(
            "{:<22} {:>8.1} {:>8.1}   (channel round trip to a connection thread)",
            "postgres pool hop", hop.0, hop.1
        ));
    }
    eprintln!("\n{}\n", lines.join("\n"));
}
