//! One call at a time per tenant, tenants in parallel up to a global cap, and the dispatcher that
//! drains each tenant's inbox.
//!
//! A tenant's lock is held for the whole of a call (event, tick, sync, connect, configure), so
//! the component never sees two calls of one tenant from this process; the global semaphore bounds
//! the memory and CPU all tenants together may use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::{App, QueuedEvent};
use crate::plugin::CallError;

/// How often the dispatcher looks at the inbox without being woken (a missed wake-up costs this).
const POLL: Duration = Duration::from_secs(1);
/// A call that fails in the host (trap, timeout) is tried this many times, then given up.
const MAX_ATTEMPTS: u32 = 3;

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
        match app.inbox.tenants_with_work() {
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

/// Runs the tenant's queued events one by one, in the order they arrived.
async fn drain(app: Arc<App>, tenant: String, lock: OwnedMutexGuard<()>) {
    let turn = app.workers.turn(lock).await;
    while !app.is_stopping() {
        let item = match app.inbox.claim_next(&tenant) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                app.log.warn("the inbox cannot be read", &[("tenant", tenant.clone()), ("error", format!("{e:#}"))]);
                break;
            }
        };
        let done = run_event(&app, &tenant, &item.payload).await;
        let result = match done {
            Err(e) if item.attempts + 1 < MAX_ATTEMPTS => {
                app.log.warn(
                    "event will be retried",
                    &[("tenant", tenant.clone()), ("event", item.event_id.clone()), ("error", e.to_string())],
                );
                app.inbox.requeue(item.id)
            }
            _ => app.inbox.complete(item.id),
        };
        if let Err(e) = result {
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
async fn run_event(app: &App, tenant: &str, payload: &[u8]) -> Result<(), CallError> {
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
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        Err(e) => return Err(CallError::Instantiation(format!("{e:#}"))),
    };
    let outcome = app.timed("on-employee-event", plugin.on_employee_event(&event)).await;
    let mut fields =
        vec![("tenant", tenant.to_owned()), ("event", event.id.clone()), ("person", event.person_id.clone())];
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
