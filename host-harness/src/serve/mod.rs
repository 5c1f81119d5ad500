//! `host-harness serve`: one long-running process for every tenant in the store.
//!
//! - `server.rs`: the listener (connection cap, header timeout, TLS); `routes.rs`: the routes
//!   (axum), their body limits and the request timeout; `webhooks.rs`: webhook intake;
//! - `workers.rs`: one call at a time per tenant (its lock here, its lease in the store), a
//!   global cap, and the dispatcher that drains the inbox (`storage::WorkQueue`);
//! - `scheduler.rs`: jittered ticks and daily syncs; `metrics.rs`: `/metrics` (prometheus-client);
//! - `log.rs`: the log lines (tracing, text or JSON), a span per tenant run and per call;
//! - `api.rs`: the admin JSON API; `admin.rs`: the admin page, login and sessions.

pub mod admin;
pub mod api;
pub mod dead_letters;
pub mod log;
pub mod metrics;
pub mod routes;
pub mod scheduler;
pub mod server;
pub mod webhooks;
pub mod workers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::sync::{Notify, watch};

use crate::TenantPlugin;
use crate::cli::{Global, LogFormat, LogLevel, ServeArgs};
use crate::operator::Host;
use crate::plugin::{CallError, api as wit};
use crate::storage::WorkQueue;
use metrics::Metrics;
use workers::Workers;

/// Shutdown waits this long for calls in flight, then re-queues what is left (under the 10 s an
/// orchestrator usually allows between SIGTERM and SIGKILL).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// Everything the server's parts share.
pub struct App {
    pub host: Host,
    /// The inbox and the schedule, shared with every process on the same store.
    pub queue: Arc<dyn WorkQueue>,
    /// This process's name in the leases it holds: host name, process id, start time.
    pub holder: String,
    pub metrics: Metrics,
    pub http_metrics: server::HttpMetrics,
    pub workers: Arc<Workers>,
    pub sessions: admin::Sessions,
    /// Failed logins by client (login and bearer tokens), for the 429.
    pub logins: admin::Logins,
    /// Each tenant's semaphore for `handle-webhook` calls (`webhooks.rs`).
    webhook_checks: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    pub syncs: api::SyncJobs,
    pub args: ServeArgs,
    admin_token: String,
    /// Wakes the dispatcher: new work in the inbox.
    pub work: Notify,
    stopping: watch::Sender<bool>,
    /// Each tenant's plugin, with the allow-list it was built from.
    plugins: Mutex<HashMap<String, (Vec<crate::AllowedHost>, TenantPlugin)>>,
    /// SCIM writes of plugins replaced after a reconnect (their counters go with them).
    retired_writes: AtomicU64,
}

impl App {
    pub fn admin_token_matches(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(given.as_bytes().ct_eq(self.admin_token.as_bytes()))
    }

    /// Whether browsers reach serve over HTTPS (`--tls-cert`, or `--behind-https-proxy`).
    pub fn secure_cookies(&self) -> bool {
        self.args.http.tls_cert.is_some() || self.args.http.behind_https_proxy
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The tenant's plugin; `None` for a tenant this host does not know. The policy is read from
    /// the store every time (one read): another process sharing the store may have reconnected
    /// the tenant to other URLs, and the plugin is rebuilt when its allow-list changed.
    pub fn plugin(&self, tenant: &str) -> Result<Option<TenantPlugin>> {
        let Some(policy) = self.host.policy_of(tenant)? else { return Ok(None) };
        let hosts = policy.entries();
        let mut plugins = self.plugins.lock().unwrap();
        if let Some((built_from, plugin)) = plugins.get(tenant)
            && *built_from == hosts
        {
            return Ok(Some(plugin.clone()));
        }
        let plugin = self.host.plugin_of(tenant, &hosts);
        if let Some((_, old)) = plugins.insert(tenant.to_owned(), (hosts, plugin.clone())) {
            self.retire(&old);
        }
        Ok(Some(plugin))
    }

    /// After a connect: the policy may have changed.
    pub fn forget_plugin(&self, tenant: &str) {
        if let Some((_, old)) = self.plugins.lock().unwrap().remove(tenant) {
            self.retire(&old);
        }
    }

    fn retire(&self, old: &TenantPlugin) {
        self.retired_writes.fetch_add(old.stats().http_writes.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub fn scim_writes(&self) -> u64 {
        let live: u64 =
            self.plugins.lock().unwrap().values().map(|(_, p)| p.stats().http_writes.load(Ordering::Relaxed)).sum();
        live + self.retired_writes.load(Ordering::Relaxed)
    }

    /// Runs one call of the tenant's, in its span (the log lines it writes name the tenant and
    /// the export), and records it in the metrics: `ok`, `error` (the component's own error)
    /// or `host-error` (trap, timeout, limits).
    pub async fn timed<T, E>(
        &self,
        tenant: &str,
        export: &str,
        call: impl std::future::Future<Output = Result<Result<T, E>, CallError>>,
    ) -> Result<Result<T, E>, CallError> {
        use tracing::Instrument;
        let started = Instant::now();
        let result = call.instrument(tracing::info_span!("call", tenant, export)).await;
        let outcome = match &result {
            Ok(Ok(_)) => "ok",
            Ok(Err(_)) => "error",
            Err(_) => "host-error",
        };
        self.metrics.call(export, outcome, started.elapsed());
        result
    }
}

/// The admin token from the environment or a file; refused when missing or too short to guess.
fn admin_token(args: &ServeArgs) -> Result<String> {
    let token = match (&args.admin_token_file, &args.admin_token) {
        (Some(file), _) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the admin token file {}", file.display()))?
            .trim()
            .to_owned(),
        (None, Some(token)) => token.trim().to_owned(),
        (None, None) => bail!(
            "serve needs an admin token: set HOST_HARNESS_ADMIN_TOKEN or pass --admin-token-file FILE (at least 16 characters)"
        ),
    };
    if token.chars().count() < 16 || token.chars().any(char::is_whitespace) {
        bail!("the admin token must be at least 16 characters without spaces");
    }
    Ok(token)
}

pub async fn run(global: &Global, args: ServeArgs) -> Result<()> {
    run_with(global, args, |_| {}).await
}

/// As [`run`]; `ready` is told the address once the server listens (the demo prints it).
pub async fn run_with(global: &Global, args: ServeArgs, ready: impl FnOnce(std::net::SocketAddr)) -> Result<()> {
    let token = admin_token(&args)?;
    let host = Host::open(global)?;
    let queue = host.leases.work_queue()?;
    log::init(args.log_format == LogFormat::Json, args.log_level == LogLevel::Debug);
    if args.lease_ttl < Duration::from_secs(1) {
        bail!("--lease-ttl must be at least 1s");
    }
    let pruned = queue.prune(args.keep_days)?;
    let tls = match (&args.http.tls_cert, &args.http.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (stopping, _) = watch::channel(false);
    let mut metrics = Metrics::default();
    let http_metrics = server::HttpMetrics::default();
    http_metrics.register(metrics.registry_mut());
    let app = Arc::new(App {
        host,
        queue,
        holder: holder_name(),
        metrics,
        http_metrics,
        workers: Workers::new(args.workers as usize),
        sessions: admin::Sessions::default(),
        logins: admin::Logins::default(),
        webhook_checks: Mutex::default(),
        syncs: api::SyncJobs::default(),
        admin_token: token,
        work: Notify::new(),
        stopping,
        plugins: Mutex::default(),
        retired_writes: AtomicU64::new(0),
        args,
    });
    // Before "serving" is said: a SIGTERM or SIGINT that arrives once anyone can know the
    // address must find the handlers in place, not the default action (killed, no drain).
    let mut shutdown = ShutdownSignals::install()?;
    tracing::info!(
        listen = %format_args!("{}://{addr}", if tls.is_some() { "https" } else { "http" }),
        max_connections = app.args.http.max_connections,
        tenants = app.host.tenants()?.len(),
        holder = %app.holder,
        queued = app.queue.depth()?,
        pruned,
        "serving"
    );
    let router = routes::router(app.clone());
    let server = tokio::spawn(server::serve(app.clone(), listener, router, tls));
    ready(addr);
    let dispatcher = tokio::spawn(workers::dispatch(app.clone()));
    let scheduler = tokio::spawn(scheduler::run(app.clone()));

    let signal = shutdown.recv().await;
    tracing::info!(signal, "stopping");
    let _ = app.stopping.send(true);
    let _ = server.await;
    let _ = dispatcher.await;
    let _ = scheduler.await;
    let finished = app.workers.wait_idle(DRAIN_TIMEOUT).await;
    // Calls still running are cut off with the process; their leases are released as their
    // turns drop (or expire), and whoever takes a tenant next puts its claimed items back.
    tracing::info!(in_flight_finished = finished, "stopped");
    Ok(())
}

/// `host-pid-start`: unique among the processes sharing a store, and says where to look.
fn holder_name() -> String {
    let started = jiff::Timestamp::now().as_millisecond();
    format!("{}-{}-{started}", crate::storage::lease::machine_name(), std::process::id())
}

/// SIGTERM and SIGINT, listened for from the moment they are installed.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals { term: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

/// An event as queued in the inbox (the component's `employee-event`, plus the sender's name).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct QueuedEvent {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub person_id: String,
    pub occurred_at: String,
}

impl QueuedEvent {
    pub fn from_accepted(a: &wit::WebhookAccepted) -> Self {
        QueuedEvent {
            id: a.event.id.clone(),
            name: a.name.clone(),
            kind: crate::operator::name_of(&a.event.kind),
            person_id: a.event.person_id.clone(),
            occurred_at: a.event.occurred_at.clone(),
        }
    }

    pub fn to_event(&self) -> Result<wit::EmployeeEvent> {
        let kind = match self.kind.as_str() {
            "created" => wit::EventKind::Created,
            "updated" => wit::EventKind::Updated,
            "job-role-changed" => wit::EventKind::JobRoleChanged,
            "offboarded" => wit::EventKind::Offboarded,
            "deleted" => wit::EventKind::Deleted,
            other => bail!("unknown event kind `{other}` in the inbox"),
        };
        Ok(wit::EmployeeEvent {
            id: self.id.clone(),
            kind,
            person_id: self.person_id.clone(),
            occurred_at: self.occurred_at.clone(),
        })
    }
}
