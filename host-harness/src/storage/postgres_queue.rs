//! `WorkQueue` on PostgreSQL: the inbox and the schedule of `serve`, shared by every process on
//! the database. Claims skip rows another transaction holds (`FOR UPDATE SKIP LOCKED`), so
//! processes never wait on each other's claims; the inbox's claim, complete and requeue run in a
//! transaction that first checks the tenant's lease (`Pool::exec` with a fence). Times are the
//! server's (`now()`), never a host's.

use anyhow::Result;

use super::PgStorage;
use super::lease::Lease;
use super::queue::{InboxItem, Periods, RunKind, WorkQueue};

const ENQUEUE: &str = "INSERT INTO inbox (tenant, event_id, payload) VALUES ($1, $2, $3) \
                       ON CONFLICT (tenant, event_id) DO NOTHING";
const CLAIM: &str = "UPDATE inbox SET state = 'claimed', attempts = attempts + 1, claim_token = $2 \
     WHERE id = (SELECT id FROM inbox WHERE tenant = $1 AND state = 'queued' ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED) \
     RETURNING id, tenant, event_id, payload, attempts - 1";
const COMPLETE: &str = "UPDATE inbox SET state = 'done', done_at = now() \
                        WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
const REQUEUE: &str = "UPDATE inbox SET state = 'queued', claim_token = NULL \
                       WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
const REQUEUE_STALE: &str = "UPDATE inbox SET state = 'queued', claim_token = NULL \
     WHERE tenant = $1 AND state = 'claimed' AND (claim_token IS NULL OR claim_token <> $2)";
const WITH_WORK: &str = "SELECT DISTINCT tenant FROM inbox i WHERE state = 'queued' \
     OR (state = 'claimed' AND NOT EXISTS (SELECT 1 FROM leases l \
         WHERE l.tenant = i.tenant AND l.token = i.claim_token AND l.expires_at > now()))";
const DEPTH: &str = "SELECT count(*) FROM inbox WHERE state <> 'done'";
const PRUNE: &str = "DELETE FROM inbox WHERE state = 'done' AND done_at < now() - $1::bigint * interval '1 day'";
const SCHEDULE_NEW: &str = "INSERT INTO schedule (tenant, next_tick, next_sync) \
     SELECT t, now() + random() * $2::float8 * interval '1 millisecond', \
               now() + random() * $3::float8 * interval '1 millisecond' \
     FROM unnest($1::text[]) AS t ON CONFLICT (tenant) DO NOTHING";
/// A row scheduled under a longer period (a restart with a shorter `--tick-every` or
/// `--sync-every`) is brought within the current period, at a random point of it.
const RESCHEDULE: &str = "UPDATE schedule SET \
         next_tick = CASE WHEN next_tick > now() + 1.1 * $2::float8 * interval '1 millisecond' \
             THEN now() + random() * $2::float8 * interval '1 millisecond' ELSE next_tick END, \
         next_sync = CASE WHEN next_sync > now() + 1.1 * $3::float8 * interval '1 millisecond' \
             THEN now() + random() * $3::float8 * interval '1 millisecond' ELSE next_sync END \
     WHERE tenant = ANY($1) AND (next_tick > now() + 1.1 * $2::float8 * interval '1 millisecond' \
         OR next_sync > now() + 1.1 * $3::float8 * interval '1 millisecond')";
const CLAIM_DUE: &str = "WITH due AS ( \
         SELECT tenant, next_tick <= now() AS tick_due, next_sync <= now() AS sync_due FROM schedule \
         WHERE tenant = ANY($1) AND (next_tick <= now() OR next_sync <= now()) \
         FOR UPDATE SKIP LOCKED) \
     UPDATE schedule s SET \
         next_tick = CASE WHEN due.tick_due \
             THEN now() + (0.9 + 0.2 * random()) * $2::float8 * interval '1 millisecond' ELSE s.next_tick END, \
         next_sync = CASE WHEN due.sync_due \
             THEN now() + (0.9 + 0.2 * random()) * $3::float8 * interval '1 millisecond' ELSE s.next_sync END \
     FROM due WHERE s.tenant = due.tenant \
     RETURNING s.tenant, due.sync_due";

impl WorkQueue for PgStorage {
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool> {
        let (tenant, event_id, payload) = (tenant.to_owned(), event_id.to_owned(), payload.to_vec());
        self.pool.exec(None, move |c| Ok(c.execute(ENQUEUE, &[&tenant, &event_id, &payload])? == 1))
    }

    fn claim_next(&self, lease: &Lease) -> Result<Option<InboxItem>> {
        let (tenant, token) = (lease.tenant.clone(), lease.token);
        self.pool.exec(Some(lease.clone()), move |c| {
            Ok(c.query(CLAIM, &[&tenant, &token])?.first().map(|r| InboxItem {
                id: r.get(0),
                tenant: r.get(1),
                event_id: r.get(2),
                payload: r.get(3),
                attempts: r.get::<_, i32>(4) as u32,
            }))
        })
    }

    fn complete(&self, id: i64, lease: &Lease) -> Result<bool> {
        let token = lease.token;
        self.pool.exec(Some(lease.clone()), move |c| Ok(c.execute(COMPLETE, &[&id, &token])? == 1))
    }

    fn requeue(&self, id: i64, lease: &Lease) -> Result<()> {
        let token = lease.token;
        self.pool.exec(Some(lease.clone()), move |c| c.execute(REQUEUE, &[&id, &token]).map(drop))
    }

    fn requeue_stale_claims(&self, lease: &Lease) -> Result<u64> {
        let (tenant, token) = (lease.tenant.clone(), lease.token);
        self.pool.exec(Some(lease.clone()), move |c| c.execute(REQUEUE_STALE, &[&tenant, &token]))
    }

    fn tenants_with_work(&self) -> Result<Vec<String>> {
        self.pool.exec(None, |c| Ok(c.query(WITH_WORK, &[])?.iter().map(|r| r.get(0)).collect()))
    }

    fn depth(&self) -> Result<u64> {
        self.pool.exec(None, |c| Ok(c.query(DEPTH, &[])?.first().map_or(0, |r| r.get::<_, i64>(0)) as u64))
    }

    fn prune(&self, days: u32) -> Result<u64> {
        let days = i64::from(days);
        self.pool.exec(None, move |c| c.execute(PRUNE, &[&days]))
    }

    fn claim_due(&self, tenants: &[String], periods: Periods) -> Result<Vec<(String, RunKind)>> {
        let tick = periods.tick.as_secs_f64() * 1000.0;
        let sync = periods.sync.as_secs_f64() * 1000.0;
        // Rows for tenants this handle has not scheduled yet (once per tenant, not per step).
        let new: Vec<String> = {
            let scheduled = self.scheduled.lock().unwrap();
            tenants.iter().filter(|t| !scheduled.contains(*t)).cloned().collect()
        };
        let tenants = tenants.to_vec();
        let scheduled = self.scheduled.clone();
        self.pool.exec(None, move |c| {
            // Statements each atomic on its own: the insert only adds missing rows, the reschedule
            // only pulls rows in, and the claim locks, skips and updates in one.
            if !new.is_empty() {
                c.execute(SCHEDULE_NEW, &[&new, &tick, &sync])?;
                scheduled.lock().unwrap().extend(new);
            }
            c.execute(RESCHEDULE, &[&tenants, &tick, &sync])?;
            let rows = c.query(CLAIM_DUE, &[&tenants, &tick, &sync])?;
            let mut due: Vec<(String, RunKind)> = rows
                .iter()
                .map(|r| (r.get(0), if r.get::<_, bool>(1) { RunKind::Sync } else { RunKind::Tick }))
                .collect();
            due.sort();
            Ok(due)
        })
    }
}
