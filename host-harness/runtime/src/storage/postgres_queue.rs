//! `WorkQueue` on PostgreSQL: the inbox and the schedule of `serve`, shared by every process on
//! the database. Claims skip rows another transaction holds (`FOR UPDATE SKIP LOCKED`), so
//! processes never wait on each other's claims; the inbox's claim, complete and requeue run in a
//! transaction that first checks the tenant's lease (`Pool::exec` with a fence). Times are the
//! server's (`now()`), never a host's.

use anyhow::Result;

use super::lease::Lease;
use super::postgres::PgStorage;
use super::queue::{Claimed, FailedItem, InboxItem, Periods, RunKind, WorkQueue};

const ENQUEUE: &str = "INSERT INTO inbox (tenant, event_id, payload) VALUES ($1, $2, $3) \
                       ON CONFLICT (tenant, event_id) DO NOTHING";
const CLAIM: &str = "UPDATE inbox SET state = 'claimed', attempts = attempts + 1, claim_token = $2 \
     WHERE id = (SELECT id FROM inbox WHERE tenant = $1 AND state = 'queued' AND not_before <= now() \
                 ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED) \
     RETURNING id, tenant, event_id, payload, attempts - 1";
const COMPLETE: &str = "UPDATE inbox SET state = 'done', done_at = now() \
                        WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
const REQUEUE: &str = "UPDATE inbox SET state = 'queued', claim_token = NULL \
                       WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
/// Back to the queue, due `$4` milliseconds after it failed.
const FAIL_RETRY: &str = "UPDATE inbox SET state = 'queued', claim_token = NULL, last_error = $3, failed_at = now(), \
         not_before = now() + $4::float8 * interval '1 millisecond' \
     WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
const FAIL_DEAD: &str = "UPDATE inbox SET state = 'dead', claim_token = NULL, last_error = $3, failed_at = now() \
     WHERE id = $1 AND state = 'claimed' AND claim_token = $2";
/// Times as milliseconds since the epoch; `extract` is exact (numeric), so a retry's due time
/// minus its failure time is exactly the delay asked for.
const FAILED: &str = "SELECT id, tenant, event_id, payload, attempts, last_error, \
         (extract(epoch FROM failed_at) * 1000)::bigint, \
         CASE WHEN state = 'dead' THEN NULL ELSE (extract(epoch FROM not_before) * 1000)::bigint END \
     FROM inbox WHERE tenant = $1 AND state <> 'done' AND last_error IS NOT NULL ORDER BY id";
const DEAD_LETTERS: &str = "SELECT count(*) FROM inbox WHERE state = 'dead'";
const RETRY_DEAD: &str = "UPDATE inbox SET state = 'queued', attempts = 0, not_before = now(), last_error = NULL, \
         failed_at = NULL \
     WHERE tenant = $1 AND event_id = $2 AND state = 'dead'";
const REQUEUE_STALE: &str = "UPDATE inbox SET state = 'queued', claim_token = NULL \
     WHERE tenant = $1 AND state = 'claimed' AND (claim_token IS NULL OR claim_token <> $2)";
const WITH_WORK: &str = "SELECT DISTINCT tenant FROM inbox i WHERE (state = 'queued' AND not_before <= now()) \
     OR (state = 'claimed' AND NOT EXISTS (SELECT 1 FROM leases l \
         WHERE l.tenant = i.tenant AND l.token = i.claim_token AND l.expires_at > now()))";
const DEPTH: &str = "SELECT count(*) FROM inbox WHERE state IN ('queued', 'claimed')";
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
const DUE: &str = "SELECT tenant, next_sync <= now() FROM schedule \
     WHERE tenant = ANY($1) AND (next_tick <= now() OR next_sync <= now()) ORDER BY tenant";
/// `ScheduleRow::claim` in SQL: each due time moves one jittered period past the time it was due,
/// or a period past now when it was more than a period late. Run fenced, holding the lease.
const CLAIM_RUN: &str = "WITH due AS ( \
         SELECT tenant, next_tick, next_sync, next_tick <= now() AS tick_due, next_sync <= now() AS sync_due \
         FROM schedule WHERE tenant = $1 AND (next_tick <= now() OR next_sync <= now()) FOR UPDATE), \
     step AS (SELECT (0.9 + 0.2 * random()) * $2::float8 * interval '1 millisecond' AS tick, \
                     (0.9 + 0.2 * random()) * $3::float8 * interval '1 millisecond' AS sync) \
     UPDATE schedule s SET \
         next_tick = CASE WHEN NOT due.tick_due THEN s.next_tick \
             WHEN s.next_tick + step.tick > now() THEN s.next_tick + step.tick ELSE now() + step.tick END, \
         next_sync = CASE WHEN NOT due.sync_due THEN s.next_sync \
             WHEN s.next_sync + step.sync > now() THEN s.next_sync + step.sync ELSE now() + step.sync END \
     FROM due, step WHERE s.tenant = due.tenant \
     RETURNING due.sync_due, \
         (extract(epoch FROM CASE WHEN due.sync_due THEN due.next_sync ELSE due.next_tick END) * 1000)::bigint";

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

    fn fail(&self, id: i64, lease: &Lease, error: &str, retry_in: Option<std::time::Duration>) -> Result<bool> {
        let (token, error) = (lease.token, error.to_owned());
        self.pool.exec(Some(lease.clone()), move |c| {
            let n = match retry_in {
                Some(delay) => c.execute(FAIL_RETRY, &[&id, &token, &error, &(delay.as_secs_f64() * 1000.0)])?,
                None => c.execute(FAIL_DEAD, &[&id, &token, &error])?,
            };
            Ok(n == 1)
        })
    }

    fn failed(&self, tenant: &str) -> Result<Vec<FailedItem>> {
        let tenant = tenant.to_owned();
        self.pool.exec(None, move |c| {
            Ok(c.query(FAILED, &[&tenant])?
                .iter()
                .map(|r| FailedItem {
                    id: r.get(0),
                    tenant: r.get(1),
                    event_id: r.get(2),
                    payload: r.get(3),
                    attempts: r.get::<_, i32>(4) as u32,
                    error: r.get(5),
                    failed_at_ms: r.get(6),
                    retry_at_ms: r.get(7),
                })
                .collect())
        })
    }

    fn dead_letters(&self) -> Result<u64> {
        self.pool.exec(None, |c| Ok(c.query(DEAD_LETTERS, &[])?.first().map_or(0, |r| r.get::<_, i64>(0)) as u64))
    }

    fn retry_dead(&self, tenant: &str, event_id: &str) -> Result<bool> {
        let (tenant, event_id) = (tenant.to_owned(), event_id.to_owned());
        self.pool.exec(None, move |c| Ok(c.execute(RETRY_DEAD, &[&tenant, &event_id])? == 1))
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

    fn due(&self, tenants: &[String], periods: Periods) -> Result<Vec<(String, RunKind)>> {
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
            // only pulls rows in, and the read changes nothing.
            if !new.is_empty() {
                c.execute(SCHEDULE_NEW, &[&new, &tick, &sync])?;
                scheduled.lock().unwrap().extend(new);
            }
            c.execute(RESCHEDULE, &[&tenants, &tick, &sync])?;
            Ok(c.query(DUE, &[&tenants])?
                .iter()
                .map(|r| (r.get(0), if r.get::<_, bool>(1) { RunKind::Sync } else { RunKind::Tick }))
                .collect())
        })
    }

    fn claim_run(&self, lease: &Lease, periods: Periods) -> Result<Option<Claimed>> {
        let tick = periods.tick.as_secs_f64() * 1000.0;
        let sync = periods.sync.as_secs_f64() * 1000.0;
        let tenant = lease.tenant.clone();
        self.pool.exec(Some(lease.clone()), move |c| {
            Ok(c.query(CLAIM_RUN, &[&tenant, &tick, &sync])?.first().map(|r| Claimed {
                kind: if r.get::<_, bool>(0) { RunKind::Sync } else { RunKind::Tick },
                due_ms: r.get(1),
            }))
        })
    }
}
