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
//! done items are kept (for that check) until pruned. A call that fails goes back to the queue
//! with a due time (`fail` with `Some(delay)`: backoff, not back to back) or becomes a `dead`
//! letter (`fail` with `None`), kept until an operator re-queues it (`retry_dead`); its last error
//! and when it failed are kept with it (`failed`).
//!
//! Schedule: one row per tenant with its next tick and next sync. `due` only reads which runs are
//! due (after giving new tenants a row); a due run stays due until a process holding the tenant's
//! lease claims it (`claim_run`, fenced, in one transaction with the check that it is still due),
//! so a run whose tenant is busy, here or in another process, is never lost: it waits. The rule
//! for the next time is [`ScheduleRow::claim`], shared by both backends (PostgreSQL spells it in
//! SQL).

use std::time::Duration;

use anyhow::Result;

use super::fence::Lease;

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

/// A run claimed for the caller: its kind and when it fell due (ms since the Unix epoch, the
/// store's clock). Two claims of one tenant never name the same due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub kind: RunKind,
    pub due_ms: i64,
}

/// When a tenant's next tick and next sync are due, as kept in the store (milliseconds since the
/// Unix epoch, by the store's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRow {
    pub next_tick_ms: i64,
    pub next_sync_ms: i64,
}

/// The scheduling rule, free of I/O and clocks so it can run in simulated time; `jitter` draws a
/// fraction in [0, 1).
impl ScheduleRow {
    /// A new tenant's first runs, at random points within one period, so tenants do not all fire
    /// at once.
    pub fn first(now_ms: i64, periods: Periods, jitter: &mut dyn FnMut() -> f64) -> Self {
        ScheduleRow {
            next_tick_ms: now_ms + (ms(periods.tick) * jitter()) as i64,
            next_sync_ms: now_ms + (ms(periods.sync) * jitter()) as i64,
        }
    }

    /// What is due at `now_ms`: a tenant due both a tick and a sync gets one `Sync` (a sync
    /// reconciles everything a tick would).
    pub fn due(&self, now_ms: i64) -> Option<RunKind> {
        match (self.next_tick_ms <= now_ms, self.next_sync_ms <= now_ms) {
            (_, true) => Some(RunKind::Sync),
            (true, false) => Some(RunKind::Tick),
            (false, false) => None,
        }
    }

    /// Claims what is due at `now_ms`, moving each due time one jittered period (±10%) past the
    /// time it was due: a run that waited for a busy tenant does not shift the ones after it. A
    /// run more than a period late (the tenant was busy that long, or no process ran) is not
    /// caught up on: the next comes a period from now.
    pub fn claim(&mut self, now_ms: i64, periods: Periods, jitter: &mut dyn FnMut() -> f64) -> Option<Claimed> {
        let kind = self.due(now_ms)?;
        let due_ms = match kind {
            RunKind::Sync => self.next_sync_ms,
            RunKind::Tick => self.next_tick_ms,
        };
        let next = |due: i64, period: Duration, j: f64| {
            let step = (ms(period) * (0.9 + 0.2 * j)) as i64;
            if due + step > now_ms { due + step } else { now_ms + step }
        };
        if self.next_tick_ms <= now_ms {
            self.next_tick_ms = next(self.next_tick_ms, periods.tick, jitter());
        }
        if self.next_sync_ms <= now_ms {
            self.next_sync_ms = next(self.next_sync_ms, periods.sync, jitter());
        }
        Some(Claimed { kind, due_ms })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An inbox item whose call failed: retrying (`retry_at_ms` set) or a dead letter (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedItem {
    pub id: i64,
    pub tenant: String,
    pub event_id: String,
    pub payload: Vec<u8>,
    /// Calls made so far.
    pub attempts: u32,
    /// The last call's error.
    pub error: String,
    /// When the last call failed (ms since the Unix epoch, the store's clock).
    pub failed_at_ms: i64,
    /// When it is tried again; `None`: a dead letter, kept until re-queued.
    pub retry_at_ms: Option<i64>,
}

impl FailedItem {
    /// As `status` and the API show it: the event (its id, and the kind and person the payload
    /// names), attempts, the last error, when it failed and when it is tried again.
    pub fn json(&self) -> serde_json::Value {
        let payload: serde_json::Value = serde_json::from_slice(&self.payload).unwrap_or_default();
        // RFC 3339 to the millisecond (`{:.3}`: always three digits, truncated).
        let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).ok().map(|t| format!("{t:.3}"));
        serde_json::json!({
            "event_id": self.event_id,
            "kind": payload.get("kind"),
            "person_id": payload.get("person_id"),
            "attempts": self.attempts,
            "error": self.error,
            "failed_at": at(self.failed_at_ms),
            "retry_at": self.retry_at_ms.and_then(at),
        })
    }
}

pub trait WorkQueue: Send + Sync {
    /// Stores the item unless the tenant already has one with this event id; `true` when stored.
    /// Durable once it returns.
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool>;
    /// The oldest queued item of the lease's tenant that is due, now claimed under the lease. Fenced: an
    /// error holding `Fenced` once the lease is no longer current.
    fn claim_next(&self, lease: &Lease) -> Result<Option<InboxItem>>;
    /// Marks an item claimed under `lease` done; `false` (nothing changed) if the claim is no
    /// longer this lease's. Fenced.
    fn complete(&self, id: i64, lease: &Lease) -> Result<bool>;
    /// Puts an item claimed under `lease` back in the queue (a call that could not finish). Fenced.
    fn requeue(&self, id: i64, lease: &Lease) -> Result<()>;
    /// An item claimed under `lease` whose call failed with `error`: back to the queue, not to be
    /// claimed before `retry_in` from now, or with `None` kept as a dead letter. `false` (nothing
    /// changed) if the claim is no longer this lease's. Fenced.
    fn fail(&self, id: i64, lease: &Lease, error: &str, retry_in: Option<Duration>) -> Result<bool>;
    /// The tenant's items whose last call failed and that are not done: retrying and dead
    /// letters, oldest first.
    fn failed(&self, tenant: &str) -> Result<Vec<FailedItem>>;
    /// Dead letters of every tenant.
    fn dead_letters(&self) -> Result<u64>;
    /// Puts the tenant's dead letter with this event id back in the queue, due now, its attempts
    /// counted afresh; `false` if there is no such dead letter. Not fenced: like a delivery, any
    /// process may queue it.
    fn retry_dead(&self, tenant: &str, event_id: &str) -> Result<bool>;
    /// Items of the lease's tenant claimed under any other (older) lease back to the queue: the
    /// claims of a holder that died, paused or stopped. Called right after acquiring. Fenced.
    fn requeue_stale_claims(&self, lease: &Lease) -> Result<u64>;
    /// Tenants with queued items that are due, or with items claimed under a lease that is no
    /// longer current (their holder died or paused: whoever takes the lease next runs them again).
    fn tenants_with_work(&self) -> Result<Vec<String>>;
    /// Items queued or claimed (dead letters are not counted).
    fn depth(&self) -> Result<u64>;
    /// Forgets done items completed more than `days` ago; returns how many.
    fn prune(&self, days: u32) -> Result<u64>;
    /// The runs of `tenants` that are due (`ScheduleRow::due`), in tenant order. Nothing is
    /// claimed: a due run stays due until `claim_run`. A tenant not yet scheduled gets its first
    /// runs at random points within one period; rows scheduled under a longer period are brought
    /// within this one (`ScheduleRow::shorten`).
    fn due(&self, tenants: &[String], periods: Periods) -> Result<Vec<(String, RunKind)>>;
    /// Claims the run the lease's tenant is due, if any, pushing its next times forward
    /// (`ScheduleRow::claim`) in the same transaction: of any number of processes each claim goes
    /// to one. Fenced.
    fn claim_run(&self, lease: &Lease, periods: Periods) -> Result<Option<Claimed>>;
}
