//! A tenant's lease held by a one-shot command (`sync-all`, `tick`, `event`, `retry`, `connect`),
//! as `serve` holds it for each of its turns (`serve/workers.rs`): whatever mix of CLI processes
//! and `serve` processes shares a store, one at a time runs a tenant's calls. The command waits
//! for the lease up to `--wait`, then gives up with a one-line "tenant busy" error; while it runs,
//! the lease is renewed every third of its time, its store writes are fenced by the lease's token
//! (`LeaseStore::fenced`) and its writes to other services stop once the lease is lost
//! (`LeaseClock`, checked in `egress::send` just before the request's bytes go out).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::storage::{Lease, LeaseClock, LeaseStore};

/// How long a command's lease lasts unless renewed (serve's `--lease-ttl` default): a command
/// killed mid-call holds its tenant at most this long.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// How often a waiting command asks for the lease again.
const RETRY: Duration = Duration::from_millis(200);

/// The tenant's lease was held by another process for all of the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBusy {
    pub tenant: String,
    pub waited: Duration,
}

impl std::fmt::Display for TenantBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tenant busy: another process is running `{}`'s calls (its lease was not free within {}); try again \
             later or give a longer --wait",
            self.tenant,
            humantime(self.waited)
        )
    }
}

impl std::error::Error for TenantBusy {}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// A held lease, renewed in the background until dropped; dropping releases it, so the next
/// process need not wait for it to expire.
pub struct HeldLease {
    pub lease: Lease,
    pub clock: Arc<LeaseClock>,
    leases: Arc<dyn LeaseStore>,
    renewer: tokio::task::JoinHandle<()>,
}

impl HeldLease {
    /// Takes `tenant`'s lease for `ttl`, asking again until `wait` has passed; then `TenantBusy`.
    pub async fn acquire(
        leases: Arc<dyn LeaseStore>,
        tenant: &str,
        holder: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<HeldLease> {
        let deadline = Instant::now() + wait;
        loop {
            let asked = Instant::now();
            if let Some(lease) = leases.acquire(tenant, holder, ttl)? {
                let clock = Arc::new(LeaseClock::new(asked, ttl));
                let renewer = tokio::spawn(renew(leases.clone(), lease.clone(), clock.clone(), ttl));
                return Ok(HeldLease { lease, clock, leases, renewer });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TenantBusy { tenant: tenant.to_owned(), waited: wait }.into());
            }
            tokio::time::sleep(RETRY.min(deadline - now)).await;
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewer.abort();
        // A failed release is harmless: the lease expires on its own.
        let _ = self.leases.release(&self.lease);
    }
}

/// Renews every third of the ttl; a refusal (expired, taken over) loses the clock for good, so no
/// further write leaves this process.
async fn renew(leases: Arc<dyn LeaseStore>, lease: Lease, clock: Arc<LeaseClock>, ttl: Duration) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let asked = Instant::now();
        match leases.renew(&lease, ttl) {
            Ok(true) => clock.renewed(asked, ttl),
            Ok(false) => {
                clock.lose();
                eprintln!("warning: the lease of tenant `{}` was lost: its writes stop here", lease.tenant);
                return;
            }
            // Unreachable store: the clock runs out on its own if this goes on.
            Err(_) => {}
        }
    }
}

/// `cli-HOST-PID`: says which process held a tenant, next to serve's holders in the store.
pub fn holder_name() -> String {
    format!("cli-{}-{}", crate::storage::lease::machine_name(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_tenant_is_waited_for_then_refused_and_a_dropped_lease_is_free_at_once() {
        let dir = std::env::temp_dir().join(format!("hh-leased-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn LeaseStore> = Arc::new(crate::SqliteStorage::open(&dir.join("host.db")).unwrap());
        let first = HeldLease::acquire(store.clone(), "t", "a", DEFAULT_TTL, Duration::ZERO).await.unwrap();
        let busy = HeldLease::acquire(store.clone(), "t", "b", DEFAULT_TTL, Duration::from_millis(300)).await;
        let error = busy.err().expect("busy");
        assert_eq!(
            error.downcast_ref::<TenantBusy>(),
            Some(&TenantBusy { tenant: "t".into(), waited: Duration::from_millis(300) })
        );
        assert!(error.to_string().starts_with("tenant busy: "), "{error}");
        // Another tenant is not affected.
        HeldLease::acquire(store.clone(), "u", "b", DEFAULT_TTL, Duration::ZERO).await.unwrap();
        // Released while the other waits: it gets the lease within its wait.
        let waiter = tokio::spawn(HeldLease::acquire(store.clone(), "t", "b", DEFAULT_TTL, Duration::from_secs(20)));
        tokio::time::sleep(Duration::from_millis(250)).await;
        drop(first);
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(second.lease.holder, "b");
        assert!(second.clock.is_current());
        drop(second);
        std::fs::remove_dir_all(&dir).ok();
    }
}
