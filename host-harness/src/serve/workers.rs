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
use tracing::Instrument;

use super::scheduler::Waiting;
use super::{App, QueuedEvent};
use crate::TenantPlugin;
use crate::storage::{InboxItem, Lease, LeaseClock, LeaseStore};

/// How often the dispatcher looks at the inbox without being woken (a missed wake-up costs this,
/// and so does an event whose backoff ran out or a dead letter re-queued by another process).
const POLL: Duration = Duration::from_secs(1);
/// How often an operator action waiting for a tenant another process holds asks again.
const LEASE_RETRY: Duration = Duration::from_millis(250);

pub struct Workers {
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Scheduled runs waiting for their tenant's turn (the scheduler's rule).
    waiting: Mutex<Waiting>,
}

/// How failed events are retried: `attempts` calls in all, the second `backoff` after the
/// first failed, each gap twice the one before (1, 2, 4, 8 minutes by default); after the last,
/// the event is kept as a dead letter. Pure, so the gaps are tested without a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRetry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl EventRetry {
    /// After the `attempt`-th call failed (1 for the first): how long until the next, or `None`:
    /// that was the last (or the failure is `permanent`: the same event can only fail again).
    pub fn after_failure(&self, attempt: u32, permanent: bool) -> Option<Duration> {
        if permanent || attempt >= self.attempts {
            return None;
        }
        Some(self.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(30)))
    }
}

/// Why an event's call failed, and whether trying again could help.
#[derive(Debug)]
pub struct EventFailure {
    pub error: String,
    pub permanent: bool,
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
            waiting: Mutex::default(),
        })
    }

    /// The scheduled runs waiting for their tenants (`scheduler::Waiting`).
    pub fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap()
    }

    /// Whether a call of the tenant runs (or waits for a permit) in this process.
    pub fn is_busy(&self, tenant: &str) -> bool {
        self.lock_of(tenant).try_lock().is_err()
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
                        let run = super::log::run_span(&tenant, "inbox");
                        tokio::spawn(drain(app.clone(), tenant, lock).instrument(run));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the inbox cannot be read"),
        }
        tokio::select! {
            _ = app.work.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Runs the tenant's queued events one by one, in the order they arrived (an event in backoff
/// waits while later ones run: events are hints, each re-reads the person), under its lease (a
/// tenant another process holds is left to that process). Between two events it makes any
/// scheduled run that waited for the tenant, so steady webhook traffic cannot hold one off.
async fn drain(app: Arc<App>, tenant: String, lock: OwnedMutexGuard<()>) {
    let Some(turn) = app.leased_turn(&tenant, app.workers.turn(lock).await) else { return };
    while !app.is_stopping() && turn.clock.is_current() {
        let waited = app.workers.waiting().take(&tenant);
        if waited.is_some() {
            super::scheduler::run_due(&app, &turn).await;
            continue;
        }
        let item = match app.queue.claim_next(&turn.lease) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(tenant, error = %format_args!("{e:#}"), "the inbox cannot be read");
                break;
            }
        };
        let result = match run_event(&app, &turn, &item.payload).await {
            Ok(()) => app.queue.complete(item.id, &turn.lease).map(drop),
            Err(failure) => failed(&app, &turn, &item, failure),
        };
        if let Err(e) = result {
            // Fenced: the lease passed to another process, which runs the item again.
            tracing::warn!(tenant, error = %format_args!("{e:#}"), "the inbox cannot be written");
            break;
        }
    }
    drop(turn);
    // Work that arrived while this tenant was busy is picked up now, not at the next poll.
    app.work.notify_one();
}

/// An event's call failed: back to the inbox after its backoff, or kept as a dead letter (logged
/// and counted once: only the holder of the claim can make it one).
fn failed(app: &App, turn: &TenantTurn, item: &InboxItem, failure: EventFailure) -> anyhow::Result<()> {
    let retry = EventRetry { attempts: app.args.event_attempts, backoff: app.args.event_backoff };
    let attempt = item.attempts + 1;
    let retry_in = retry.after_failure(attempt, failure.permanent);
    let changed = app.queue.fail(item.id, &turn.lease, &failure.error, retry_in)?;
    let (tenant, event, error) = (&turn.lease.tenant, &item.event_id, &failure.error);
    match retry_in {
        Some(delay) => {
            let retry_in_ms = delay.as_millis() as u64;
            tracing::warn!(tenant, event, attempt, error, retry_in_ms, "event will be retried");
        }
        None if changed => {
            app.metrics.dead_letter();
            tracing::warn!(tenant, event, attempt, error, "event kept as a dead letter: `retry --event` re-queues it");
        }
        None => {}
    }
    Ok(())
}

/// One queued event through the component. `Err` when the call failed: the component's own
/// error (also in the tenant's log) or the host's (trap, timeout, limits).
async fn run_event(app: &App, turn: &TenantTurn, payload: &[u8]) -> Result<(), EventFailure> {
    let tenant = turn.lease.tenant.as_str();
    let event = serde_json::from_slice::<QueuedEvent>(payload)
        .map_err(anyhow::Error::from)
        .and_then(|q| q.to_event())
        .map_err(|e| EventFailure { error: format!("unreadable inbox item: {e:#}"), permanent: true })?;
    let plugin = match app.plugin(tenant) {
        Ok(Some(p)) => turn.plugin(app, &p),
        Ok(None) => return Ok(()),
        Err(e) => return Err(EventFailure { error: format!("{e:#}"), permanent: false }),
    };
    let outcome = app.timed(tenant, "on-employee-event", plugin.on_employee_event(&event)).await;
    match outcome {
        Ok(Ok(o)) => {
            let token = turn.lease.token;
            let (event, person, changes) = (&event.id, &event.person_id, o.changes.len());
            tracing::info!(tenant, event, person, token, changes, "event applied");
            Ok(())
        }
        // The event itself refused: the same event can only be refused again.
        Ok(Err(e)) => Err(EventFailure {
            permanent: matches!(e, crate::plugin::api::IntegrationError::InvalidInput(_)),
            error: crate::operator::describe(&e),
        }),
        Err(e) => Err(EventFailure { error: e.to_string(), permanent: false }),
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
        let Lease { tenant, holder, token, .. } = &self.lease;
        tracing::info!(tenant, holder, token, at_us = at_us(), "turn ended");
        if let Err(e) = self.leases.release(&self.lease) {
            tracing::warn!(tenant, error = %format_args!("{e:#}"), "the lease cannot be released (it expires on its own)");
        }
    }
}

/// When a turn's journal line (tenant, holder, token) was written: microseconds of the machine's
/// clock, for comparing processes on one machine.
fn at_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
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
                tracing::warn!(tenant, error = %format_args!("{e:#}"), "the lease cannot be taken");
                return None;
            }
        };
        self.metrics.lease("acquired");
        let clock = Arc::new(LeaseClock::new(asked, ttl));
        let renewer = tokio::spawn(renew(self.clone(), lease.clone(), clock.clone()).in_current_span());
        tracing::info!(tenant, holder = lease.holder, token = lease.token, at_us = at_us(), "turn started");
        let turn = TenantTurn { _turn: turn, lease, clock, renewer, leases: self.host.leases.clone() };
        match self.queue.requeue_stale_claims(&turn.lease) {
            Ok(0) => {}
            Ok(events) => tracing::info!(tenant, events, "resumed events of an earlier holder"),
            Err(e) => tracing::warn!(tenant, error = %format_args!("{e:#}"), "the inbox cannot be written"),
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
                let Lease { tenant, holder, token, .. } = &lease;
                tracing::warn!(
                    tenant,
                    holder,
                    token,
                    at_us = at_us(),
                    "lease lost: another process may run the tenant now"
                );
                return;
            }
            // The store is unreachable: the clock runs out on its own if this goes on.
            Err(e) => {
                tracing::warn!(tenant = lease.tenant, error = %format_args!("{e:#}"), "the lease cannot be renewed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_events_wait_twice_as_long_each_time_then_are_kept() {
        let retry = EventRetry { attempts: 5, backoff: Duration::from_secs(60) };
        let gaps: Vec<Option<u64>> = (1..=6).map(|a| retry.after_failure(a, false).map(|d| d.as_secs())).collect();
        assert_eq!(gaps, [Some(60), Some(120), Some(240), Some(480), None, None]);
        assert_eq!(retry.after_failure(1, true), None, "a permanent failure is kept at once");
        let once = EventRetry { attempts: 1, backoff: Duration::from_secs(60) };
        assert_eq!(once.after_failure(1, false), None);
        let many = EventRetry { attempts: 100, backoff: Duration::from_secs(60) };
        assert_eq!(many.after_failure(99, false), Some(Duration::from_secs(60 << 30)), "capped, never overflows");
    }
}
