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
//! 4. `turns`, `server`, `dead_letters`, `log_export`, `notify_settings`, `notifications` (a
//!    check after each turn that ran a tenant), `webhooks`: the app;
//! 5. `provision` (notifications), `scheduler` (turns, notifications), `admin` (server's
//!    `ClientAddr`);
//! 6. `api` (dead_letters, log_export, notify_settings, notifications, provision);
//! 7. `inbox` (the scheduler's `run_due`), `routes` (every handler module);
//! 8. this file, which wires them and runs.
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
pub mod log_export;
pub mod metrics;
pub mod notifications;
pub mod notify_settings;
pub mod provision;
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
    // The operator commands `serve` runs (connect) come through the API: the admin's.
    let host = Host::open(&HostConfig { trigger: "admin".into(), ..host.clone() })?;
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The serve modules each file names (`super::x`, `super::{x, y}`, `crate::serve::x`),
    /// outside comments; `mod.rs`, which wires them all, is left out.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve");
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
                files.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
        let ident =
            |s: &str| s.trim().split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("").to_owned();
        let mut edges = BTreeMap::new();
        for (module, text) in &files {
            let mut named = BTreeSet::new();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for prefix in ["super::", "crate::serve::"] {
                    for (at, _) in line.match_indices(prefix) {
                        let rest = &line[at + prefix.len()..];
                        let paths: Vec<String> = match rest.strip_prefix('{') {
                            Some(group) => group.split('}').next().unwrap().split(',').map(ident).collect(),
                            None => vec![ident(rest)],
                        };
                        named.extend(paths.into_iter().filter(|p| p != module && files.contains_key(p)));
                    }
                }
            }
            edges.insert(module.clone(), named);
        }
        edges
    }

    /// The circle through `module`'s imports, if there is one (depth first, `path` so far).
    fn circle(edges: &BTreeMap<String, BTreeSet<String>>, module: &str, path: &mut Vec<String>) -> Option<String> {
        if let Some(at) = path.iter().position(|m| m == module) {
            return Some([&path[at..], &[module.to_owned()]].concat().join(" -> "));
        }
        path.push(module.to_owned());
        let found = edges[module].iter().find_map(|next| circle(edges, next, path));
        path.pop();
        found
    }

    /// serve's modules import each other in layers (the list in this file's header): a new
    /// import that closes a circle fails here, naming it.
    #[test]
    fn serve_modules_import_each_other_without_circles() {
        let edges = imports();
        assert_eq!(
            edges.len(),
            21,
            "every module but mod.rs read (a new one: place it in the header's layers): {edges:?}"
        );
        assert_eq!(edges["app"], BTreeSet::from(["config", "metrics", "sessions", "workers"].map(String::from)));
        for module in edges.keys() {
            assert_eq!(circle(&edges, module, &mut Vec::new()), None);
        }
    }
}
