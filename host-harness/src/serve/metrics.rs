//! Counters for `/metrics`, in Prometheus' text format. Plain maps under a mutex: a handful of
//! series, updated a few times per call.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the call-duration histogram's buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    webhooks: Mutex<BTreeMap<String, u64>>,
    calls: Mutex<BTreeMap<(String, String), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    waited: Mutex<BTreeMap<String, u64>>,
    leases: Mutex<BTreeMap<String, u64>>,
    dead_letters: std::sync::atomic::AtomicU64,
    /// Where the dead letters kept are counted at each scrape (the store's queue, shared by every
    /// process: the gauge is store-wide, like `host_harness_queue_depth`).
    dead_letters_kept: std::sync::OnceLock<std::sync::Arc<dyn crate::storage::WorkQueue>>,
}

/// What `/metrics` reads from elsewhere at the time of the scrape.
pub struct Gauges {
    pub queue_depth: u64,
    pub scim_writes: u64,
    pub tenants: u64,
    /// Store + instance creation of every call (the runtime's own histogram).
    pub instantiate: crate::runtime::InstantiateSnapshot,
    /// Waits for a SQLite lock held by another process on the same file.
    pub sqlite_busy_waits: u64,
}

impl Metrics {
    /// A webhook answered: `accepted`, `duplicate`, `ignored`, or the refusal (`bad-signature`, …).
    pub fn webhook(&self, outcome: &str) {
        *self.webhooks.lock().unwrap().entry(outcome.to_owned()).or_default() += 1;
    }

    /// A call to the component: its export, `ok`/`error`/`host-error`, and how long it took.
    pub fn call(&self, export: &str, outcome: &str, took: Duration) {
        *self.calls.lock().unwrap().entry((export.to_owned(), outcome.to_owned())).or_default() += 1;
        let mut durations = self.durations.lock().unwrap();
        let h = durations.entry(export.to_owned()).or_default();
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// A scheduled tick or sync that found its tenant busy and waits (it runs once the tenant
    /// frees up): once per wait in this process, once per refused lease when another holds it.
    pub fn waited(&self, kind: &str) {
        *self.waited.lock().unwrap().entry(kind.to_owned()).or_default() += 1;
    }

    /// An event kept as a dead letter by this process (after its last attempt).
    pub fn dead_letter(&self) {
        self.dead_letters.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A try for a tenant's lease: `acquired`, `held-elsewhere` (another process runs the tenant)
    /// or `lost` (a renewal refused).
    pub fn lease(&self, outcome: &str) {
        *self.leases.lock().unwrap().entry(outcome.to_owned()).or_default() += 1;
    }

    /// Counts the dead letters kept in `queue` at every scrape from now on.
    pub fn count_dead_letters_in(&self, queue: std::sync::Arc<dyn crate::storage::WorkQueue>) {
        let _ = self.dead_letters_kept.set(queue);
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP host_harness_webhooks_total Webhook deliveries by outcome.");
        let _ = writeln!(out, "# TYPE host_harness_webhooks_total counter");
        for (outcome, n) in self.webhooks.lock().unwrap().iter() {
            let _ = writeln!(out, "host_harness_webhooks_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP host_harness_calls_total Component calls by export and outcome.");
        let _ = writeln!(out, "# TYPE host_harness_calls_total counter");
        for ((export, outcome), n) in self.calls.lock().unwrap().iter() {
            let _ = writeln!(out, "host_harness_calls_total{{export=\"{export}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP host_harness_call_duration_seconds Component call duration.");
        let _ = writeln!(out, "# TYPE host_harness_call_duration_seconds histogram");
        for (export, h) in self.durations.lock().unwrap().iter() {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "host_harness_call_duration_seconds_bucket{{export=\"{export}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "host_harness_call_duration_seconds_bucket{{export=\"{export}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "host_harness_call_duration_seconds_sum{{export=\"{export}\"}} {}", h.sum);
            let _ = writeln!(out, "host_harness_call_duration_seconds_count{{export=\"{export}\"}} {}", h.count);
        }
        let _ = writeln!(
            out,
            "# HELP host_harness_scheduled_waits_total Scheduled runs that found their tenant busy and waited."
        );
        let _ = writeln!(out, "# TYPE host_harness_scheduled_waits_total counter");
        for (kind, n) in self.waited.lock().unwrap().iter() {
            let _ = writeln!(out, "host_harness_scheduled_waits_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP host_harness_dead_letters_total Events this process kept as dead letters after their last attempt."
        );
        let _ = writeln!(out, "# TYPE host_harness_dead_letters_total counter");
        let _ = writeln!(
            out,
            "host_harness_dead_letters_total {}",
            self.dead_letters.load(std::sync::atomic::Ordering::Relaxed)
        );
        if let Some(kept) = self.dead_letters_kept.get().and_then(|q| q.dead_letters().ok()) {
            let _ = writeln!(out, "# HELP host_harness_dead_letters Dead letters kept in the store (all tenants).");
            let _ = writeln!(out, "# TYPE host_harness_dead_letters gauge");
            let _ = writeln!(out, "host_harness_dead_letters {kept}");
        }
        let _ = writeln!(out, "# HELP host_harness_leases_total Tries for a tenant's lease by outcome.");
        let _ = writeln!(out, "# TYPE host_harness_leases_total counter");
        for (outcome, n) in self.leases.lock().unwrap().iter() {
            let _ = writeln!(out, "host_harness_leases_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP host_harness_queue_depth Inbox items not yet done.");
        let _ = writeln!(out, "# TYPE host_harness_queue_depth gauge");
        let _ = writeln!(out, "host_harness_queue_depth {}", gauges.queue_depth);
        let _ = writeln!(out, "# HELP host_harness_scim_writes_total SCIM requests sent that write (not GET/HEAD).");
        let _ = writeln!(out, "# TYPE host_harness_scim_writes_total counter");
        let _ = writeln!(out, "host_harness_scim_writes_total {}", gauges.scim_writes);
        let _ = writeln!(out, "# HELP host_harness_tenants Tenants in the store.");
        let _ = writeln!(out, "# TYPE host_harness_tenants gauge");
        let _ = writeln!(out, "host_harness_tenants {}", gauges.tenants);
        let _ = writeln!(out, "# HELP host_harness_instantiate_seconds Store and instance creation per call.");
        let _ = writeln!(out, "# TYPE host_harness_instantiate_seconds histogram");
        let i = &gauges.instantiate;
        for (n, bound) in i.buckets.iter().zip(crate::runtime::INSTANTIATE_BUCKETS) {
            let _ = writeln!(out, "host_harness_instantiate_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "host_harness_instantiate_seconds_bucket{{le=\"+Inf\"}} {}", i.count);
        let _ = writeln!(out, "host_harness_instantiate_seconds_sum {}", i.sum_s);
        let _ = writeln!(out, "host_harness_instantiate_seconds_count {}", i.count);
        let _ = writeln!(
            out,
            "# HELP host_harness_sqlite_busy_waits_total Waits for a SQLite lock another process on the file held."
        );
        let _ = writeln!(out, "# TYPE host_harness_sqlite_busy_waits_total counter");
        let _ = writeln!(out, "host_harness_sqlite_busy_waits_total {}", gauges.sqlite_busy_waits);
        out
    }
}

/// The value of one series in a scrape (for tests and the benchmark): `name{labels}` exactly.
pub fn value_of(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.webhook("accepted");
        m.webhook("accepted");
        m.webhook("bad-signature");
        m.call("on-employee-event", "ok", Duration::from_millis(20));
        m.call("on-employee-event", "ok", Duration::from_millis(200));
        m.dead_letter();
        m.waited("sync-all");
        let times = crate::runtime::InstantiateTimes::default();
        times.record(Duration::from_micros(30));
        times.record(Duration::from_micros(70));
        times.record(Duration::from_millis(2));
        let text = m.render(&Gauges {
            queue_depth: 3,
            scim_writes: 7,
            tenants: 2,
            instantiate: times.snapshot(),
            sqlite_busy_waits: 4,
        });
        assert_eq!(value_of(&text, "host_harness_webhooks_total{outcome=\"accepted\"}"), Some(2.0));
        assert_eq!(value_of(&text, "host_harness_webhooks_total{outcome=\"bad-signature\"}"), Some(1.0));
        let bucket = |le: &str| {
            value_of(
                &text,
                &format!("host_harness_call_duration_seconds_bucket{{export=\"on-employee-event\",le=\"{le}\"}}"),
            )
        };
        assert_eq!(
            (bucket("0.01"), bucket("0.025"), bucket("0.25"), bucket("+Inf")),
            (Some(0.0), Some(1.0), Some(2.0), Some(2.0))
        );
        assert_eq!(value_of(&text, "host_harness_queue_depth"), Some(3.0));
        assert_eq!(value_of(&text, "host_harness_scim_writes_total"), Some(7.0));
        assert_eq!(value_of(&text, "host_harness_sqlite_busy_waits_total"), Some(4.0));
        assert_eq!(value_of(&text, "host_harness_dead_letters_total"), Some(1.0));
        assert_eq!(value_of(&text, "host_harness_scheduled_waits_total{kind=\"sync-all\"}"), Some(1.0));
        let instantiate =
            |le: &str| value_of(&text, &format!("host_harness_instantiate_seconds_bucket{{le=\"{le}\"}}"));
        assert_eq!(
            (
                instantiate("0.00001"),
                instantiate("0.00005"),
                instantiate("0.0001"),
                instantiate("0.005"),
                instantiate("+Inf")
            ),
            (Some(0.0), Some(1.0), Some(2.0), Some(3.0), Some(3.0))
        );
        assert_eq!(value_of(&text, "host_harness_instantiate_seconds_count"), Some(3.0));
        let sum = value_of(&text, "host_harness_instantiate_seconds_sum").unwrap();
        assert!((sum - 0.0021).abs() < 1e-9, "{sum}");
    }
}
