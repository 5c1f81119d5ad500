//! `host-harness serve`: one long-running process for every tenant in the store.
//!
//! - `server.rs`: the listener (connection cap, header timeout, TLS); `routes.rs`: the routes
//!   (axum), their body limits and the request timeout; `webhooks.rs`: webhook intake;
//! - `workers.rs`: one call at a time per tenant (its lock here) and a global cap; `turns.rs`:
//!   the tenant's lease in the store; `inbox.rs`: the dispatcher that drains the inbox
//!   (`storage::WorkQueue`);
//! - `scheduler.rs`: jittered ticks and daily syncs (its rule: `waiting.rs`); `metrics.rs`:
//!   `/metrics` (prometheus-client);
//! - `log.rs`: the log lines (tracing, text or JSON), a span per tenant run and per call;
//! - `api.rs`: the admin JSON API; `admin.rs`: the admin page, login and the gate
//!   (`sessions.rs`: its sessions and failed logins); `extract.rs`: the answers and extractors
//!   every handler shares;
//! - `app.rs`: what they all share (`App`); `config.rs`: what serve runs with (`ServeConfig`, which
//!   the CLI makes from its flags); this file only wires them and runs.
//!
//! The modules form layers, each using only those below it (no import circles):
//! 1. `log`, `metrics`, `extract`, `sessions`, `waiting`: no other serve module;
//! 2. `config` (log's enums), `workers` (`Waiting`);
//! 3. `app`: what every part above shares (config, metrics, sessions, workers);
//! 4. `turns`, `server`, `dead_letters`, `webhooks`: the app;
//! 5. `scheduler` (turns), `admin` (server's `ClientAddr`), `api` (dead_letters);
//! 6. `inbox` (the scheduler's `run_due`), `routes` (every handler module);
//! 7. this file, which wires them and runs.
//!
//! A new part goes above what it uses: a handler module between `app` and `routes`, a state
//! type the app holds below `app` (never a module that takes the app).

pub mod admin;
pub mod api;
pub mod app;
pub mod config;
pub mod dead_letters;
pub mod extract;
pub mod inbox;
pub mod log;
pub mod metrics;
pub mod routes;
pub mod scheduler;
pub mod server;
pub mod sessions;
pub mod turns;
pub mod waiting;
pub mod webhooks;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::operator::{Host, HostConfig};
use app::App;
pub use config::{HttpConfig, ServeConfig};
use log::{LogFormat, LogLevel};

/// Shutdown waits this long for calls in flight, then re-queues what is left (under the 10 s an
/// orchestrator usually allows between SIGTERM and SIGKILL).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// The admin token from the environment or a file; refused when missing or too short to guess.
fn admin_token(config: &ServeConfig) -> Result<String> {
    let token = match (&config.admin_token_file, &config.admin_token) {
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

pub async fn run(host: &HostConfig, config: ServeConfig) -> Result<()> {
    run_with(host, config, |_| {}).await
}

/// As [`run`]; `ready` is told the address once the server listens (the demo prints it).
pub async fn run_with(host: &HostConfig, config: ServeConfig, ready: impl FnOnce(std::net::SocketAddr)) -> Result<()> {
    let token = admin_token(&config)?;
    let host = Host::open(host)?;
    let queue = host.leases.work_queue()?;
    log::init(config.log_format == LogFormat::Json, config.log_level == LogLevel::Debug);
    if config.lease_ttl < Duration::from_secs(1) {
        bail!("--lease-ttl must be at least 1s");
    }
    let pruned = queue.prune(config.keep_days)?;
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::new(host, queue, config, token));
    // Before "serving" is said: a SIGTERM or SIGINT that arrives once anyone can know the
    // address must find the handlers in place, not the default action (killed, no drain).
    let mut shutdown = ShutdownSignals::install()?;
    tracing::info!(
        listen = %format_args!("{}://{addr}", if tls.is_some() { "https" } else { "http" }),
        max_connections = app.config.http.max_connections,
        tenants = app.host.tenants()?.len(),
        holder = %app.holder,
        queued = app.queue.depth()?,
        pruned,
        "serving"
    );
    let router = routes::router(app.clone());
    let server = tokio::spawn(server::serve(app.clone(), listener, router, tls));
    ready(addr);
    let dispatcher = tokio::spawn(inbox::dispatch(app.clone()));
    let scheduler = tokio::spawn(scheduler::run(app.clone()));

    let signal = shutdown.recv().await;
    tracing::info!(signal, "stopping");
    app.stop();
    let _ = server.await;
    let _ = dispatcher.await;
    let _ = scheduler.await;
    let finished = app.workers.wait_idle(DRAIN_TIMEOUT).await;
    // Calls still running are cut off with the process; their leases are released as their
    // turns drop (or expire), and whoever takes a tenant next puts its claimed items back.
    tracing::info!(in_flight_finished = finished, "stopped");
    Ok(())
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
