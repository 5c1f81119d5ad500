//! Per-tenant leases with fencing tokens: how several host processes sharing one store agree
//! that one of them at a time runs a tenant's calls.
//!
//! A lease is (tenant, holder, token, expiry), kept in the store itself. `acquire` succeeds only
//! when the tenant's lease is free or expired, and hands out a new token, larger than every token
//! before it. A holder that pauses (GC, SIGSTOP, a slow disk) past its expiry may wake up still
//! believing it holds the lease; that is why writes made on its behalf go through `fenced`, which
//! checks the token in the same transaction as the write: once another holder has taken over,
//! the stale holder's writes are refused with a `Fenced` error instead of landing.
//!
//! Expiry is judged by the store's clock alone (PostgreSQL's `now()`; for SQLite, whose sharers all
//! run on one machine, that machine's clock), never by comparing the clocks of the machines that
//! run the hosts. Outside the store, a holder judges its own lease by its monotonic clock
//! (`LeaseClock`): it stops sending writes to other services once the time it asked for has
//! passed by its own count, which is never later than the store's expiry.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::kv::Storage;

pub use super::fence::{Fenced, Lease};

/// Leases kept in a shared store, next to the data they guard.
pub trait LeaseStore: Storage {
    /// Takes the tenant's lease for `ttl` if it is free or expired; `None` while someone holds it.
    fn acquire(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>>;
    /// Extends a lease still held to `ttl` from now; `false` if it expired or was taken over
    /// (the holder must stop: its writes are being refused).
    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool>;
    /// Gives the lease up so another holder need not wait for the expiry. A lease already
    /// taken over is left alone.
    fn release(&self, lease: &Lease) -> Result<()>;
    /// The same store, with every write checked against `lease` in the write's own transaction
    /// (reads are not fenced). A refused write is an error holding `Fenced`.
    fn fenced(&self, lease: &Lease) -> Arc<dyn Storage>;
    /// `serve`'s inbox and schedule in the same database, so they are fenced by these leases.
    fn work_queue(&self) -> Result<Arc<dyn super::queue::WorkQueue>>;
}

/// The reads of a fenced view: straight to the store (`$store`), unfenced (a stale holder may
/// still read; only its writes are refused).
macro_rules! fenced_reads {
    ($store:ident) => {
        fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
            self.$store.get(namespace, bucket, key)
        }

        fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
            self.$store.list_keys(namespace, bucket, cursor, limit)
        }

        fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
            self.$store.get_many(namespace, bucket, keys)
        }

        fn usage(&self, namespace: &str) -> Result<Usage> {
            self.$store.usage(namespace)
        }

        fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
            self.$store.value_sizes(namespace, bucket, keys)
        }

        fn scopes(&self) -> Result<Vec<(String, String)>> {
            self.$store.scopes()
        }
    };
}
pub(super) use fenced_reads;

/// How long a holder may still act on a lease by its own monotonic clock: the time it asked for,
/// counted from before it asked (so never past the store's expiry, which counts from when the
/// store granted it), less a margin for clocks that run at slightly different rates. A pause
/// (SIGSTOP) past that point is seen on waking, whatever the store says.
#[derive(Debug)]
pub struct LeaseClock {
    valid_until: std::sync::Mutex<std::time::Instant>,
    lost: std::sync::atomic::AtomicBool,
}

impl LeaseClock {
    /// A lease asked for at `asked_at` with `ttl`.
    pub fn new(asked_at: std::time::Instant, ttl: Duration) -> Self {
        LeaseClock {
            valid_until: std::sync::Mutex::new(asked_at + Self::usable(ttl)),
            lost: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// 90% of the lease: the rest absorbs clock-rate differences between the holder and the store.
    fn usable(ttl: Duration) -> Duration {
        ttl.mul_f64(0.9)
    }

    /// The store extended the lease; the renewal was asked for at `asked_at`.
    pub fn renewed(&self, asked_at: std::time::Instant, ttl: Duration) {
        let mut until = self.valid_until.lock().unwrap();
        *until = (*until).max(asked_at + Self::usable(ttl));
    }

    /// The store refused a renewal: the lease is gone for good.
    pub fn lose(&self) {
        self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the holder may still act (send writes) on the lease.
    pub fn is_current(&self) -> bool {
        !self.lost.load(std::sync::atomic::Ordering::SeqCst)
            && std::time::Instant::now() < *self.valid_until.lock().unwrap()
    }
}

/// This machine's name for lease holders (`/etc/hostname`, else `$HOSTNAME`, else `host`), so a
/// holder in the store says where to look.
pub fn machine_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_lease_clock_runs_out_on_its_own_and_when_lost() {
        let clock = LeaseClock::new(Instant::now(), Duration::from_millis(200));
        assert!(clock.is_current());
        std::thread::sleep(Duration::from_millis(190));
        assert!(!clock.is_current(), "past 90% of the ttl: no longer usable");
        clock.renewed(Instant::now(), Duration::from_secs(60));
        assert!(clock.is_current(), "renewed");
        clock.renewed(Instant::now() - Duration::from_secs(120), Duration::from_secs(60));
        assert!(clock.is_current(), "an older renewal never shortens it");
        clock.lose();
        assert!(!clock.is_current(), "lost is lost");
    }
}
