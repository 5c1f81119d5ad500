//! The work `serve` shares between its processes: the durable webhook inbox and the schedule of
//! ticks and syncs. Behind one trait, on SQLite (embedded default) and PostgreSQL (shared by many
//! processes); both pass the conformance suite in `conformance.rs`.
//!
//! Inbox: an item is `queued`, then `claimed` under a tenant's lease (its token is recorded), then
//! `done`. Claiming, completing and requeueing are fenced: they happen only while the lease is
//! current, in the same transaction as the check. A process that dies or pauses holding claims
//! leaves them `claimed`; whoever takes the tenant's lease next puts them back in the queue
//! (`requeue_stale_claims`), so nothing is lost, and the stale holder can no longer complete
//! them. The (tenant, event id) pair is unique, so a replayed delivery is never queued twice;
//! done items are kept (for that check) until pruned.
//!
//! Schedule: one row per tenant with its next tick and next sync. `claim_due` takes the due rows
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock on SQLite) and pushes their next
//! times forward in the same transaction, so each due run goes to exactly one process.

use std::time::Duration;

use anyhow::Result;

use super::lease::Lease;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: i64,
    pub tenant: String,
    pub event_id: String,
    pub payload: Vec<u8>,
    /// Earlier claims of this item that did not complete.
    pub attempts: u32,
}

/// A scheduled run: `Sync` is a reconciling `sync-all`, `Tick` the cheap periodic call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunKind {
    Tick,
    Sync,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Tick => "tick",
            RunKind::Sync => "sync-all",
        }
    }
}

/// How often each tenant runs; first runs are spread over the whole period, later ones jittered
/// by ±10%, so tenants do not all fire at once.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub tick: Duration,
    pub sync: Duration,
}

pub trait WorkQueue: Send + Sync {
    /// Stores the item unless the tenant already has one with this event id; `true` when stored.
    /// Durable once it returns.
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool>;
    /// The oldest queued item of the lease's tenant, now claimed under the lease. Fenced: an
    /// error holding `Fenced` once the lease is no longer current.
    fn claim_next(&self, lease: &Lease) -> Result<Option<InboxItem>>;
    /// Marks an item claimed under `lease` done; `false` (nothing changed) if the claim is no
    /// longer this lease's. Fenced.
    fn complete(&self, id: i64, lease: &Lease) -> Result<bool>;
    /// Puts an item claimed under `lease` back in the queue (a call that could not finish). Fenced.
    fn requeue(&self, id: i64, lease: &Lease) -> Result<()>;
    /// Items of the lease's tenant claimed under any other (older) lease back to the queue: the
    /// claims of a holder that died, paused or stopped. Called right after acquiring. Fenced.
    fn requeue_stale_claims(&self, lease: &Lease) -> Result<u64>;
    /// Tenants with queued items, or with items claimed under a lease that is no longer current
    /// (their holder died or paused: whoever takes the lease next runs them again).
    fn tenants_with_work(&self) -> Result<Vec<String>>;
    /// Items not yet done.
    fn depth(&self) -> Result<u64>;
    /// Forgets done items completed more than `days` ago; returns how many.
    fn prune(&self, days: u32) -> Result<u64>;
    /// The runs of `tenants` that are due, each claimed for the caller alone (its next time is
    /// pushed forward in the same transaction). A tenant not yet scheduled gets its first runs
    /// at random points within one period. A tenant due both a tick and a sync gets one `Sync`
    /// (a sync reconciles everything a tick would).
    fn claim_due(&self, tenants: &[String], periods: Periods) -> Result<Vec<(String, RunKind)>>;
}
