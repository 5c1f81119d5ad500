//! One call at a time per tenant, tenants in parallel up to a global cap, and the dispatcher that
//! drains each tenant's inbox.
//!
//! A tenant's lock is held for the whole of a call (event, tick, sync, connect, configure), so
//! the component never sees two calls of one tenant from this process; the tenant's lease in the
//! store (`TenantTurn`) extends that to every process sharing the store. The global semaphore
//! bounds the memory and CPU all tenants together may use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::time::Instant;

use tokio::sync::{Notify, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::{App, QueuedEvent};
use crate::TenantPlugin;
use crate::plugin::CallError;
use crate::storage::{Lease, LeaseClock, LeaseStore};

/// How often the dispatcher looks at the inbox without being woken (a missed wake-up costs this).
const POLL: Duration = Duration::from_secs(1);
/// A call that fails in the host (trap, timeout) is tried this many times, then given up.
const MAX_ATTEMPTS: u32 = 3;
/// How often an operator action waiting for a tenant another process holds asks again.
const LEASE_RETRY: Duration = Duration::from_millis(250);

pub struct Workers {
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// A tenant's turn: its lock and one of the global permits. Dropping it ends the turn.
pub struct Turn {
    _tenant: OwnedMutexGuard<()>,
    _permit: OwnedSemaphorePermit,
    workers: Arc<Workers>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.workers.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.workers.idle.notify_waiters();
    }
}

impl Workers {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Workers {
            permits: Arc::new(Semaphore::new(cap)),
            locks: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    fn lock_of(&self, tenant: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().unwrap().entry(tenant.to_owned()).or_default().clone()
    }

    /// The tenant's lock if nobody holds it: `None` while the tenant is busy.
    pub fn try_lock(&self, tenant: &str) -> Option<OwnedMutexGuard<()>> {
        self.lock_of(tenant).try_lock_owned().ok()
    }

    /// Waits for a global permit for a tenant whose lock is held.
    pub async fn turn(self: &Arc<Self>, tenant: OwnedMutexGuard<()>) -> Turn {
        let permit = self.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Turn { _tenant: tenant, _permit: permit, workers: self.clone() }
    }

    /// Waits for the tenant to be free, then for a permit (operator actions: connect, configure).
    pub async fn wait_turn(self: &Arc<Self>, tenant: &str) -> Turn {
        let lock = self.lock_of(tenant).lock_owned().await;
        self.turn(lock).await
    }

    /// Waits until no call is running, at most `timeout`; `true` if none is.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// Starts a drain for every tenant with queued events and nobody running its calls.
pub async fn dispatch(app: Arc<App>) {
    let mut stopping = app.stopping();
    loop {
        if app.is_stopping() {
            return;
        }
        match app.queue.tenants_with_work() {
            Ok(tenants) => {
                for tenant in tenants {
                    if let Some(lock) = app.workers.try_lock(&tenant) {
                        tokio::spawn(drain(app.clone(), tenant, lock));
                    }
                }
            }
            Err(e) => app.log.warn("the inbox cannot be read", &[("error", format!("{e:#}"))]),
        }
        tokio::select! {
            _ = app.work.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Runs the tenant's queued events one by one, in the order they arrived, under its lease (a
/// tenant another process holds is left to that process).
async fn drain(app: Arc<App>, tenant: String, lock: OwnedMutexGuard<()>) {
    let Some(turn) = app.leased_turn(&tenant, app.workers.turn(lock).await) else { return };
    while !app.is_stopping() && turn.clock.is_current() {
        let item = match app.queue.claim_next(&turn.lease) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                app.log.warn("the inbox cannot be read", &[("tenant", tenant.clone()), ("error", format!("{e:#}"))]);
                break;
            }
        };
        let done = run_event(&app, &turn, &item.payload).await;
        let result = match done {
            Err(e) if item.attempts + 1 < MAX_ATTEMPTS => {
                app.log.warn(
                    "event will be retried",
                    &[("tenant", tenant.clone()), ("event", item.event_id.clone()), ("error", e.to_string())],
                );
                app.queue.requeue(item.id, &turn.lease)
            }
            _ => app.queue.complete(item.id, &turn.lease).map(drop),
        };
        if let Err(e) = result {
            // Fenced: the lease passed to another process, which runs the item again.
            app.log.warn("the inbox cannot be written", &[("tenant", tenant.clone()), ("error", format!("{e:#}"))]);
            break;
        }
    }
    drop(turn);
    // Work that arrived while this tenant was busy is picked up now, not at the next poll.
    app.work.notify_one();
}

/// One queued event through the component. `Err` only for a failure worth retrying (the host's);
/// the component's own errors are in the tenant's log already.
async fn run_event(app: &App, turn: &TenantTurn, payload: &[u8]) -> Result<(), CallError> {
    let tenant = turn.lease.tenant.as_str();
    let event = match serde_json::from_slice::<QueuedEvent>(payload)
        .map_err(anyhow::Error::from)
        .and_then(|q| q.to_event())
    {
        Ok(e) => e,
        Err(e) => {
            app.log
                .warn("unreadable inbox item dropped", &[("tenant", tenant.to_owned()), ("error", format!("{e:#}"))]);
            return Ok(());
        }
    };
    let plugin = match app.plugin(tenant) {
        Ok(Some(p)) => turn.plugin(app, &p),
        Ok(None) => return Ok(()),
        Err(e) => return Err(CallError::Instantiation(format!("{e:#}"))),
    };
    let outcome = app.timed("on-employee-event", plugin.on_employee_event(&event)).await;
    let mut fields = vec![
        ("tenant", tenant.to_owned()),
        ("event", event.id.clone()),
        ("person", event.person_id.clone()),
        ("token", turn.lease.token.to_string()),
    ];
    match outcome {
        Ok(Ok(o)) => {
            fields.push(("changes", o.changes.len().to_string()));
            app.log.info("event applied", &fields);
            Ok(())
        }
        Ok(Err(e)) => {
            fields.push(("error", crate::operator::describe(&e)));
            app.log.warn("event refused", &fields);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A tenant's turn in this process (its lock and a global permit) and its lease in the store,
/// renewed in the background while held. Dropping it ends both: the renewals stop and the lease
/// is released, so another process may take the tenant at once.
pub struct TenantTurn {
    _turn: Turn,
    pub lease: Lease,
    pub clock: Arc<LeaseClock>,
    renewer: tokio::task::JoinHandle<()>,
    leases: Arc<dyn LeaseStore>,
    log: Arc<super::Logger>,
}

impl TenantTurn {
    /// The tenant's plugin for calls under this lease: its writes fenced, its egress writes
    /// stopped once the lease runs out.
    pub fn plugin(&self, app: &App, plugin: &TenantPlugin) -> TenantPlugin {
        plugin.leased(app.host.fenced_storage(&self.lease), self.clock.clone())
    }
}

impl Drop for TenantTurn {
    fn drop(&mut self) {
        self.renewer.abort();
        // Logged before the release, so in a journal of several processes this turn's end comes
        // before the next holder's start.
        self.log.info("turn ended", &turn_fields(&self.lease));
        if let Err(e) = self.leases.release(&self.lease) {
            self.log.warn(
                "the lease cannot be released (it expires on its own)",
                &[("tenant", self.lease.tenant.clone()), ("error", format!("{e:#}"))],
            );
        }
    }
}

/// A turn's journal fields: who held which tenant under which token, and when (microseconds of
/// the machine's clock, for comparing processes on one machine).
fn turn_fields(lease: &Lease) -> Vec<(&'static str, String)> {
    let at_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    vec![
        ("tenant", lease.tenant.clone()),
        ("holder", lease.holder.clone()),
        ("token", lease.token.to_string()),
        ("at_us", at_us.to_string()),
    ]
}

impl App {
    /// Takes the tenant's lease for a turn already won in this process; `None` (and the turn is
    /// given back) while another process holds it. Claims left by an earlier holder go back to
    /// the queue.
    pub fn leased_turn(self: &Arc<Self>, tenant: &str, turn: Turn) -> Option<TenantTurn> {
        let ttl = self.args.lease_ttl;
        let asked = Instant::now();
        let lease = match self.host.leases.acquire(tenant, &self.holder, ttl) {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                self.metrics.lease("held-elsewhere");
                return None;
            }
            Err(e) => {
                self.log
                    .warn("the lease cannot be taken", &[("tenant", tenant.to_owned()), ("error", format!("{e:#}"))]);
                return None;
            }
        };
        self.metrics.lease("acquired");
        let clock = Arc::new(LeaseClock::new(asked, ttl));
        let renewer = tokio::spawn(renew(self.clone(), lease.clone(), clock.clone()));
        self.log.info("turn started", &turn_fields(&lease));
        let turn =
            TenantTurn { _turn: turn, lease, clock, renewer, leases: self.host.leases.clone(), log: self.log.clone() };
        match self.queue.requeue_stale_claims(&turn.lease) {
            Ok(0) => {}
            Ok(n) => self.log.info(
                "resumed events of an earlier holder",
                &[("tenant", tenant.to_owned()), ("events", n.to_string())],
            ),
            Err(e) => self
                .log
                .warn("the inbox cannot be written", &[("tenant", tenant.to_owned()), ("error", format!("{e:#}"))]),
        }
        Some(turn)
    }

    /// Waits for the tenant's turn in this process and then for its lease (operator actions:
    /// connect, configure, live syncs); `None` once the server is stopping.
    pub async fn wait_leased_turn(self: &Arc<Self>, tenant: &str) -> Option<TenantTurn> {
        loop {
            let turn = self.workers.wait_turn(tenant).await;
            if let Some(leased) = self.leased_turn(tenant, turn) {
                return Some(leased);
            }
            if self.is_stopping() {
                return None;
            }
            tokio::time::sleep(LEASE_RETRY).await;
        }
    }
}

/// Renews the lease every third of its time until the turn ends (the task is aborted) or the
/// store refuses (the lease expired or was taken over: `lose` stops the turn's writes).
async fn renew(app: Arc<App>, lease: Lease, clock: Arc<LeaseClock>) {
    let ttl = app.args.lease_ttl;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let asked = Instant::now();
        match app.host.leases.renew(&lease, ttl) {
            Ok(true) => clock.renewed(asked, ttl),
            Ok(false) => {
                clock.lose();
                app.metrics.lease("lost");
                app.log.warn("lease lost: another process may run the tenant now", &turn_fields(&lease));
                return;
            }
            // The store is unreachable: the clock runs out on its own if this goes on.
            Err(e) => app
                .log
                .warn("the lease cannot be renewed", &[("tenant", lease.tenant.clone()), ("error", format!("{e:#}"))]),
        }
    }
}
