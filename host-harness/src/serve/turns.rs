//! A tenant's turn in this process and its lease in the store (`TenantTurn`): taken for every
//! call that runs or changes the tenant (the inbox's drains, scheduled runs, the API's writes),
//! renewed while held, released on drop, the plugin's writes fenced by it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::app::App;
use super::workers::Turn;
use crate::TenantPlugin;
use crate::storage::{Lease, LeaseClock, LeaseStore};

/// How often an operator action waiting for a tenant another process holds asks again.
const LEASE_RETRY: Duration = Duration::from_millis(250);

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
        let ttl = self.config.lease_ttl;
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
    let ttl = app.config.lease_ttl;
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
