//! What every part of `serve` shares: the app (the host, the store's queue, this process's
//! metrics, turns, sessions and plugins) and the inbox's event format. Below every part that
//! takes the app, above the state types it holds (`metrics`, `workers`, `sessions`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};

use super::config::ServeConfig;
use super::metrics::{HttpMetrics, Metrics};
use super::sessions::{Logins, Sessions};
use super::workers::Workers;
use crate::TenantPlugin;
use crate::operator::Host;
use crate::plugin::{CallError, api as wit};
use crate::storage::WorkQueue;

/// Everything the server's parts share.
pub struct App {
    pub host: Host,
    /// The inbox and the schedule, shared with every process on the same store.
    pub queue: Arc<dyn WorkQueue>,
    /// This process's name in the leases it holds: host name, process id, start time.
    pub holder: String,
    pub metrics: Metrics,
    pub http_metrics: HttpMetrics,
    pub workers: Arc<Workers>,
    pub sessions: Sessions,
    /// Failed logins by client (login and bearer tokens), for the 429.
    pub logins: Logins,
    /// Each tenant's semaphore for `handle-webhook` calls (`webhooks.rs`).
    webhook_checks: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    pub syncs: SyncJobs,
    pub config: ServeConfig,
    admin_token: String,
    /// Wakes the dispatcher: new work in the inbox.
    pub work: Notify,
    stopping: watch::Sender<bool>,
    /// Each tenant's plugin, with the allow-list it was built from.
    plugins: Mutex<HashMap<String, (Vec<crate::AllowedHost>, TenantPlugin)>>,
    /// SCIM writes of plugins replaced after a reconnect (their counters go with them).
    retired_writes: AtomicU64,
    /// Tenants with a notification check waiting for its turn (`notifications.rs`).
    pub notify_waiting: Mutex<std::collections::HashSet<String>>,
    /// Each tenant's next notification check with no run to follow (a retry or digest due).
    pub notify_wakes: Mutex<HashMap<String, jiff::Timestamp>>,
}

/// Live "Sync all users" runs, by tenant: their progress as the page shows it (`api.rs`).
#[derive(Default)]
pub struct SyncJobs {
    pub jobs: Mutex<HashMap<String, Value>>,
}

impl App {
    /// The app before anything runs: its metrics with the listener's series registered, no
    /// sessions, no plugins built yet.
    pub fn new(host: Host, queue: Arc<dyn WorkQueue>, config: ServeConfig, admin_token: String) -> Self {
        let (stopping, _) = watch::channel(false);
        let mut metrics = Metrics::default();
        let http_metrics = HttpMetrics::default();
        http_metrics.register(metrics.registry_mut());
        App {
            host,
            queue,
            holder: holder_name(),
            metrics,
            http_metrics,
            workers: Workers::new(config.workers as usize),
            sessions: Sessions::default(),
            logins: Logins::default(),
            webhook_checks: Mutex::default(),
            syncs: SyncJobs::default(),
            admin_token,
            work: Notify::new(),
            stopping,
            plugins: Mutex::default(),
            retired_writes: AtomicU64::new(0),
            notify_waiting: Mutex::default(),
            notify_wakes: Mutex::default(),
            config,
        }
    }

    /// Tells every part to stop (the listener, the dispatcher, the scheduler, live syncs).
    pub fn stop(&self) {
        let _ = self.stopping.send(true);
    }

    pub fn admin_token_matches(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(given.as_bytes().ct_eq(self.admin_token.as_bytes()))
    }

    /// Whether browsers reach serve over HTTPS (`--tls-cert`, or `--behind-https-proxy`).
    pub fn secure_cookies(&self) -> bool {
        self.config.http.tls_cert.is_some() || self.config.http.behind_https_proxy
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

    /// The tenant's semaphore for `handle-webhook` calls (`webhooks.rs`), made at its first webhook.
    pub fn webhook_checks(&self, tenant: &str, permits: usize) -> Arc<Semaphore> {
        let mut checks = self.webhook_checks.lock().unwrap();
        checks.entry(tenant.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(permits))).clone()
    }
}

/// `host-pid-start`: unique among the processes sharing a store, and says where to look.
fn holder_name() -> String {
    let started = jiff::Timestamp::now().as_millisecond();
    format!("{}-{}-{started}", crate::storage::lease::machine_name(), std::process::id())
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
