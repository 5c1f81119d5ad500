//! `/metrics`: one `prometheus-client` registry, encoded in Prometheus' text format (0.0.4).
//! The live series (webhooks, calls, waits, leases, dead letters, and the listener's own in
//! [`HttpMetrics`], counted by `server.rs`) are updated as things happen; what is read from
//! elsewhere (the queue, the store, the runtime) is handed to [`Metrics::render`] at each scrape.
//!
//! Counters are registered without their `_total`, which the encoder adds: the series keep the
//! names they had when this file wrote the format by hand.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the call-duration histogram's buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    export: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Export {
    export: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

type Durations = Family<Export, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    webhooks: Family<Outcome, Counter>,
    calls: Family<Call, Counter>,
    durations: Durations,
    waited: Family<Kind, Counter>,
    leases: Family<Outcome, Counter>,
    dead_letters: Counter,
    scraped: Arc<Scraped>,
    /// One scrape at a time: each puts its values in `scraped`, then encodes them.
    scrape: Mutex<()>,
}

/// What `/metrics` reads from elsewhere at the time of the scrape.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub queue_depth: u64,
    pub scim_writes: u64,
    pub tenants: u64,
    /// Store + instance creation of every call (the runtime's own histogram).
    pub instantiate: InstantiateHistogram,
    /// Waits for a SQLite lock held by another process on the same file.
    pub sqlite_busy_waits: u64,
}

/// The registry's collector for the values read at the scrape: [`Metrics::render`] puts them
/// here, then encodes.
#[derive(Default)]
struct Scraped {
    now: Mutex<(Gauges, Option<u64>)>,
    /// Where the dead letters kept are counted at each scrape (the store's queue, shared by every
    /// process: the gauge is store-wide, like `host_harness_queue_depth`).
    dead_letters_kept: OnceLock<Arc<dyn crate::storage::WorkQueue>>,
}

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraped").field("now", &self.now).finish_non_exhaustive()
    }
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let (g, kept) = &*self.now.lock().unwrap();
        let mut put = |name: &str, help: &str, metric: &dyn EncodeMetric| {
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        if let Some(kept) = kept {
            put("host_harness_dead_letters", "Dead letters kept in the store (all tenants).", &gauge(*kept))?;
        }
        put("host_harness_queue_depth", "Inbox items not yet done.", &gauge(g.queue_depth))?;
        let writes = ConstCounter::new(g.scim_writes);
        put("host_harness_scim_writes", "SCIM requests sent that write (not GET/HEAD).", &writes)?;
        put("host_harness_tenants", "Tenants in the store.", &gauge(g.tenants))?;
        put("host_harness_instantiate_seconds", "Store and instance creation per call.", &g.instantiate)?;
        let waits = ConstCounter::new(g.sqlite_busy_waits);
        put("host_harness_sqlite_busy_waits", "Waits for a SQLite lock another process on the file held.", &waits)
    }
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(value.try_into().unwrap_or(i64::MAX))
}

/// The runtime's own histogram (`InstantiateTimes`), as a histogram of the registry. (A wrapper:
/// the runtime is its own crate and knows nothing of Prometheus.)
#[derive(Debug, Clone, Default)]
pub struct InstantiateHistogram(pub crate::runtime::InstantiateSnapshot);

impl EncodeMetric for InstantiateHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        let InstantiateHistogram(snapshot) = self;
        // The runtime counts cumulatively; the encoder takes each bucket's own count. Saturating:
        // a snapshot read while a call is recorded may be a count ahead in a later bucket.
        let (mut below, mut buckets) = (0, Vec::with_capacity(snapshot.buckets.len() + 1));
        for (&n, bound) in snapshot.buckets.iter().zip(crate::runtime::INSTANTIATE_BUCKETS) {
            buckets.push((bound, n.saturating_sub(below)));
            below = below.max(n);
        }
        buckets.push((f64::INFINITY, snapshot.count.saturating_sub(below)));
        encoder.encode_histogram::<NoLabelSet>(snapshot.sum_s, snapshot.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let webhooks = Family::default();
        registry.register("host_harness_webhooks", "Webhook deliveries by outcome", webhooks.clone());
        let calls = Family::default();
        registry.register("host_harness_calls", "Component calls by export and outcome", calls.clone());
        let durations: Durations = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register("host_harness_call_duration_seconds", "Component call duration", durations.clone());
        let waited = Family::default();
        registry.register(
            "host_harness_scheduled_waits",
            "Scheduled runs that found their tenant busy and waited",
            waited.clone(),
        );
        let dead_letters = Counter::default();
        registry.register(
            "host_harness_dead_letters",
            "Events this process kept as dead letters after their last attempt",
            dead_letters.clone(),
        );
        let leases = Family::default();
        registry.register("host_harness_leases", "Tries for a tenant's lease by outcome", leases.clone());
        let scraped = Arc::new(Scraped::default());
        registry.register_collector(Box::new(scraped.clone()));
        Metrics { registry, webhooks, calls, durations, waited, leases, dead_letters, scraped, scrape: Mutex::new(()) }
    }
}

impl Metrics {
    /// The registry, for the parts that add their own series (`HttpMetrics::register`)
    /// before serve starts.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// A webhook answered: `accepted`, `duplicate`, `ignored`, or the refusal (`bad-signature`, …).
    pub fn webhook(&self, outcome: &str) {
        self.webhooks.get_or_create(&Outcome { outcome: outcome.to_owned() }).inc();
    }

    /// A call to the component: its export, `ok`/`error`/`host-error`, and how long it took.
    pub fn call(&self, export: &str, outcome: &str, took: Duration) {
        self.calls.get_or_create(&Call { export: export.to_owned(), outcome: outcome.to_owned() }).inc();
        self.durations.get_or_create(&Export { export: export.to_owned() }).observe(took.as_secs_f64());
    }

    /// A scheduled tick or sync that found its tenant busy and waits (it runs once the tenant
    /// frees up): once per wait in this process, once per refused lease when another holds it.
    pub fn waited(&self, kind: &str) {
        self.waited.get_or_create(&Kind { kind: kind.to_owned() }).inc();
    }

    /// An event kept as a dead letter by this process (after its last attempt).
    pub fn dead_letter(&self) {
        self.dead_letters.inc();
    }

    /// A try for a tenant's lease: `acquired`, `held-elsewhere` (another process runs the tenant)
    /// or `lost` (a renewal refused).
    pub fn lease(&self, outcome: &str) {
        self.leases.get_or_create(&Outcome { outcome: outcome.to_owned() }).inc();
    }

    /// Counts the dead letters kept in `queue` at every scrape from now on.
    pub fn count_dead_letters_in(&self, queue: Arc<dyn crate::storage::WorkQueue>) {
        let _ = self.scraped.dead_letters_kept.set(queue);
    }

    /// The scrape, in Prometheus' text format (`prometheus_client::encoding::prometheus_text::CONTENT_TYPE`).
    pub fn render(&self, gauges: &Gauges) -> String {
        let _one = self.scrape.lock().unwrap();
        let kept = self.scraped.dead_letters_kept.get().and_then(|q| q.dead_letters().ok());
        *self.scraped.now.lock().unwrap() = (gauges.clone(), kept);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// Series of serve's HTTP side (`server.rs`, `webhooks.rs`), in the same registry as the calls'.
#[derive(Default)]
pub struct HttpMetrics {
    connections_open: Gauge,
    accept_errors: Counter,
    header_timeouts: Counter,
    webhook_checks_peak: Gauge,
}

/// An open connection, counted until dropped.
pub struct OpenConnection<'a>(&'a Gauge);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl HttpMetrics {
    /// Adds these series to `/metrics` (before serve starts). The registry ends each help with
    /// a period.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("host_harness_connections_open", "Open HTTP connections", self.connections_open.clone());
        registry.register(
            "host_harness_accept_errors",
            "Accepts that failed for want of a resource (each paused the accept loop)",
            self.accept_errors.clone(),
        );
        registry.register(
            "host_harness_header_timeouts",
            "Connections closed: a request head or TLS handshake took over --header-timeout",
            self.header_timeouts.clone(),
        );
        registry.register(
            "host_harness_webhook_checks_peak",
            "Most handle-webhook calls one tenant ran at once",
            self.webhook_checks_peak.clone(),
        );
    }

    /// An accept that failed for want of a resource (file descriptors, memory).
    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    /// A connection closed because its request head (or TLS handshake) did not come in time.
    pub fn header_timeout(&self) {
        self.header_timeouts.inc();
    }

    pub fn connection_opened(&self) -> OpenConnection<'_> {
        self.connections_open.inc();
        OpenConnection(&self.connections_open)
    }

    /// One tenant's `handle-webhook` calls running at once, as a check starts.
    pub fn webhook_checks_at_once(&self, n: usize) {
        self.webhook_checks_peak.inner().fetch_max(n as i64, Ordering::Relaxed);
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
            instantiate: InstantiateHistogram(times.snapshot()),
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
        // Bounds as Go's clients write them (`%g`): under 1e-4 with an exponent.
        let instantiate =
            |le: &str| value_of(&text, &format!("host_harness_instantiate_seconds_bucket{{le=\"{le}\"}}"));
        assert_eq!(
            (
                instantiate("1e-05"),
                instantiate("5e-05"),
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

    /// Every series keeps the name, type and help it had when this file wrote the format by
    /// hand (dashboards and alerts query them), the listener's included. (The registry writes
    /// its own series first, then the collector's read at the scrape.)
    #[test]
    fn every_series_keeps_its_name_and_type() {
        let mut m = Metrics::default();
        let http = HttpMetrics::default();
        http.register(m.registry_mut());
        m.webhook("accepted");
        m.call("tick", "ok", Duration::from_millis(3));
        m.waited("tick");
        m.lease("acquired");
        m.dead_letter();
        let open = http.connection_opened();
        http.header_timeout();
        http.webhook_checks_at_once(3);
        http.webhook_checks_at_once(2);
        let text = m.render(&Gauges::default());
        let types: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        assert_eq!(
            types,
            [
                "host_harness_webhooks_total counter",
                "host_harness_calls_total counter",
                "host_harness_call_duration_seconds histogram",
                "host_harness_scheduled_waits_total counter",
                "host_harness_dead_letters_total counter",
                "host_harness_leases_total counter",
                "host_harness_connections_open gauge",
                "host_harness_accept_errors_total counter",
                "host_harness_header_timeouts_total counter",
                "host_harness_webhook_checks_peak gauge",
                "host_harness_queue_depth gauge",
                "host_harness_scim_writes_total counter",
                "host_harness_tenants gauge",
                "host_harness_instantiate_seconds histogram",
                "host_harness_sqlite_busy_waits_total counter",
            ],
            "{text}"
        );
        // The registry ends each help with a period: written once.
        assert!(text.contains("# HELP host_harness_calls_total Component calls by export and outcome.\n"), "{text}");
        assert!(text.contains("# HELP host_harness_queue_depth Inbox items not yet done.\n"), "{text}");
        assert!(text.contains("# HELP host_harness_connections_open Open HTTP connections.\n"), "{text}");
        assert_eq!(value_of(&text, "host_harness_calls_total{export=\"tick\",outcome=\"ok\"}"), Some(1.0));
        assert_eq!(value_of(&text, "host_harness_leases_total{outcome=\"acquired\"}"), Some(1.0));
        let le: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("host_harness_call_duration_seconds_bucket{export=\"tick\",le=\""))
            .map(|l| l.split('"').next().unwrap())
            .collect();
        assert_eq!(le, ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5", "30", "+Inf"]);
        assert_eq!(value_of(&text, "host_harness_connections_open"), Some(1.0));
        assert_eq!(value_of(&text, "host_harness_header_timeouts_total"), Some(1.0));
        assert_eq!(value_of(&text, "host_harness_accept_errors_total"), Some(0.0));
        assert_eq!(value_of(&text, "host_harness_webhook_checks_peak"), Some(3.0));
        drop(open);
        assert_eq!(value_of(&m.render(&Gauges::default()), "host_harness_connections_open"), Some(0.0));
    }

    /// The runtime's counters are read one by one while calls are recorded: a snapshot may have
    /// a bucket a count ahead of a later one, or of the total. The scrape still renders.
    #[test]
    fn a_snapshot_read_mid_record_still_renders() {
        let mut buckets = [2; crate::runtime::INSTANTIATE_BUCKETS.len()];
        buckets[0] = 3;
        let instantiate = crate::runtime::InstantiateSnapshot { buckets, count: 2, sum_s: 0.001 };
        let text =
            Metrics::default().render(&Gauges { instantiate: InstantiateHistogram(instantiate), ..Gauges::default() });
        assert_eq!(value_of(&text, "host_harness_instantiate_seconds_bucket{le=\"1e-05\"}"), Some(3.0));
        assert_eq!(value_of(&text, "host_harness_instantiate_seconds_bucket{le=\"+Inf\"}"), Some(3.0));
        assert_eq!(value_of(&text, "host_harness_instantiate_seconds_count"), Some(2.0));
    }
}
