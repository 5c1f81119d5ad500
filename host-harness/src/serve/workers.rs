//! One call at a time per tenant, tenants in parallel up to a global cap.
//!
//! A tenant's lock is held for the whole of a call (event, tick, sync, connect, configure), so
//! the component never sees two calls of one tenant from this process; the tenant's lease in the
//! store (`turns.rs`' `TenantTurn`) extends that to every process sharing the store. The global
//! semaphore bounds the memory and CPU all tenants together may use. The dispatcher that drains
//! each tenant's inbox is `inbox.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::waiting::Waiting;

pub struct Workers {
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Scheduled runs waiting for their tenant's turn (the scheduler's rule).
    waiting: Mutex<Waiting>,
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
