//! `WorkQueue` on SQLite: tables in the host's database file, on the key/value store's own
//! connection. One connection, not two: two connections in one process contend for SQLite's
//! write lock through its busy handler, which sleeps 1 to 100 ms per retry on a runtime thread
//! (a 1,000-tenant tick round spent most of its time there); the connection's mutex hands the
//! lock over at once. The queue's writes run with `synchronous = FULL` (a 202 promises the event
//! survives a crash of the machine too, not only of the process), set around each of them; the
//! key/value store's run with NORMAL. Fencing reads the `leases` table the store keeps, inside
//! the same IMMEDIATE transaction. Other processes on the same file still wait in the busy
//! handler (`sqlite::wait_for_the_write_lock`).

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use rusqlite::OptionalExtension;

use super::lease::{Fenced, Lease};
use super::queue::{Claimed, FailedItem, InboxItem, Periods, RunKind, ScheduleRow, WorkQueue};
use super::sqlite_lease::{LEASE_TABLES, lease_is_current, now_ms};

pub struct SqliteQueue {
    /// The key/value store's connection (`SqliteStorage`), shared.
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// Tenants this handle has given a schedule row.
    scheduled: Mutex<std::collections::HashSet<String>>,
}

/// The connection, locked, with `synchronous = FULL` until dropped (then NORMAL again, the
/// store's setting). SQLite refuses the change inside a transaction, so it wraps one.
struct Durable<'a>(MutexGuard<'a, rusqlite::Connection>);

impl<'a> Durable<'a> {
    fn lock(conn: &'a Mutex<rusqlite::Connection>) -> Result<Self> {
        let guard = conn.lock().unwrap();
        guard.execute_batch("PRAGMA synchronous = FULL").context("cannot make the inbox's writes durable")?;
        Ok(Durable(guard))
    }
}

impl Drop for Durable<'_> {
    fn drop(&mut self) {
        // Failing leaves the store's writes at FULL: slower, never less safe.
        let _ = self.0.execute_batch("PRAGMA synchronous = NORMAL");
    }
}

impl std::ops::Deref for Durable<'_> {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Durable<'_> {
    fn deref_mut(&mut self) -> &mut rusqlite::Connection {
        &mut self.0
    }
}

impl SqliteQueue {
    /// The queue on the store's connection (`path` names the file in errors).
    pub(super) fn on(conn: Arc<Mutex<rusqlite::Connection>>, path: &std::path::Path) -> Result<Self> {
        {
            let c = conn.lock().unwrap();
            c.execute_batch(&format!(
                "{LEASE_TABLES}
                 CREATE TABLE IF NOT EXISTS inbox (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     tenant TEXT NOT NULL, event_id TEXT NOT NULL, payload BLOB NOT NULL,
                     state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
                     enqueued_at INTEGER NOT NULL, done_at INTEGER,
                     UNIQUE (tenant, event_id));
                 CREATE INDEX IF NOT EXISTS inbox_queue ON inbox (state, tenant, id);
                 CREATE TABLE IF NOT EXISTS schedule (
                     tenant TEXT PRIMARY KEY, next_tick_ms INTEGER NOT NULL, next_sync_ms INTEGER NOT NULL);"
            ))
            .with_context(|| format!("cannot initialise the inbox in {}", path.display()))?;
            // Columns added since the first inboxes: the claim token (NULL: claimed by nobody
            // alive), when a failed item is due again (0: at once), its last error and when.
            for (column, definition) in [
                ("claim_token", "INTEGER"),
                ("not_before_ms", "INTEGER NOT NULL DEFAULT 0"),
                ("last_error", "TEXT"),
                ("failed_at_ms", "INTEGER"),
            ] {
                let exists: bool =
                    c.prepare("SELECT 1 FROM pragma_table_info('inbox') WHERE name = ?1")?.exists([column])?;
                if !exists {
                    c.execute_batch(&format!("ALTER TABLE inbox ADD COLUMN {column} {definition}"))?;
                }
            }
        }
        Ok(SqliteQueue { conn, scheduled: Mutex::default() })
    }

    /// `op` in a durable IMMEDIATE transaction, after checking (in it) that `lease` is current.
    fn fenced<R>(&self, lease: &Lease, op: impl FnOnce(&rusqlite::Connection) -> Result<R>) -> Result<R> {
        let mut conn = Durable::lock(&self.conn)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !lease_is_current(&tx, lease)? {
            return Err(anyhow::Error::new(Fenced { tenant: lease.tenant.clone(), token: lease.token }));
        }
        let r = op(&tx)?;
        tx.commit()?;
        Ok(r)
    }
}

/// Forgets when each tenant's runs fall due, in the database at `path` (no process may be using
/// it). The next scheduler to claim gives every tenant first runs spread over its periods, as on
/// a fresh store. `bench` runs it between phases: the runs one phase left due would otherwise
/// all start at once in the next (a tick round that is mostly overdue syncs).
pub fn forget_schedule(path: &std::path::Path) -> Result<u64> {
    let conn =
        rusqlite::Connection::open(path).with_context(|| format!("cannot open the database {}", path.display()))?;
    let exists: bool =
        conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schedule'")?.exists(())?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.execute("DELETE FROM schedule", [])? as u64)
}

fn now_s() -> i64 {
    now_ms() / 1000
}

/// A random fraction in [0, 1), from std's per-process random hasher keys (no extra crate for a
/// jitter that needs no cryptographic quality).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn failed_item(r: &rusqlite::Row) -> rusqlite::Result<FailedItem> {
    Ok(FailedItem {
        id: r.get(0)?,
        tenant: r.get(1)?,
        event_id: r.get(2)?,
        payload: r.get(3)?,
        attempts: r.get(4)?,
        error: r.get(5)?,
        failed_at_ms: r.get(6)?,
        retry_at_ms: r.get(7)?,
    })
}

impl WorkQueue for SqliteQueue {
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool> {
        let conn = Durable::lock(&self.conn)?;
        let n = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO inbox (tenant, event_id, payload, enqueued_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((tenant, event_id, payload, now_s()))?;
        Ok(n == 1)
    }

    fn claim_next(&self, lease: &Lease) -> Result<Option<InboxItem>> {
        self.fenced(lease, |tx| {
            let item = tx
                .prepare_cached(
                    "SELECT id, tenant, event_id, payload, attempts FROM inbox
                     WHERE state = 'queued' AND tenant = ?1 AND not_before_ms <= ?2 ORDER BY id LIMIT 1",
                )?
                .query_row((&lease.tenant, now_ms()), |r| {
                    Ok(InboxItem {
                        id: r.get(0)?,
                        tenant: r.get(1)?,
                        event_id: r.get(2)?,
                        payload: r.get(3)?,
                        attempts: r.get(4)?,
                    })
                })
                .optional()?;
            if let Some(item) = &item {
                tx.prepare_cached(
                    "UPDATE inbox SET state = 'claimed', attempts = attempts + 1, claim_token = ?2 WHERE id = ?1",
                )?
                .execute((item.id, lease.token))?;
            }
            Ok(item)
        })
    }

    fn complete(&self, id: i64, lease: &Lease) -> Result<bool> {
        self.fenced(lease, |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE inbox SET state = 'done', done_at = ?3
                     WHERE id = ?1 AND state = 'claimed' AND claim_token = ?2",
                )?
                .execute((id, lease.token, now_s()))?;
            Ok(n == 1)
        })
    }

    fn requeue(&self, id: i64, lease: &Lease) -> Result<()> {
        self.fenced(lease, |tx| {
            tx.prepare_cached(
                "UPDATE inbox SET state = 'queued', claim_token = NULL
                 WHERE id = ?1 AND state = 'claimed' AND claim_token = ?2",
            )?
            .execute((id, lease.token))?;
            Ok(())
        })
    }

    fn fail(&self, id: i64, lease: &Lease, error: &str, retry_in: Option<std::time::Duration>) -> Result<bool> {
        self.fenced(lease, |tx| {
            let now = now_ms();
            let n = match retry_in {
                Some(delay) => tx
                    .prepare_cached(
                        "UPDATE inbox SET state = 'queued', claim_token = NULL, last_error = ?3, failed_at_ms = ?4,
                             not_before_ms = ?4 + ?5
                         WHERE id = ?1 AND state = 'claimed' AND claim_token = ?2",
                    )?
                    .execute((id, lease.token, error, now, ms(delay) as i64))?,
                None => tx
                    .prepare_cached(
                        "UPDATE inbox SET state = 'dead', claim_token = NULL, last_error = ?3, failed_at_ms = ?4
                         WHERE id = ?1 AND state = 'claimed' AND claim_token = ?2",
                    )?
                    .execute((id, lease.token, error, now))?,
            };
            Ok(n == 1)
        })
    }

    fn failed(&self, tenant: &str) -> Result<Vec<FailedItem>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached(
            "SELECT id, tenant, event_id, payload, attempts, last_error, failed_at_ms,
                 CASE state WHEN 'dead' THEN NULL ELSE not_before_ms END
             FROM inbox WHERE tenant = ?1 AND state <> 'done' AND last_error IS NOT NULL ORDER BY id",
        )?;
        let items = stmt.query_map([tenant], failed_item)?.collect::<rusqlite::Result<_>>()?;
        Ok(items)
    }

    fn dead_letters(&self) -> Result<u64> {
        let conn = self.conn.lock().unwrap();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM inbox WHERE state = 'dead'", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn retry_dead(&self, tenant: &str, event_id: &str) -> Result<bool> {
        let conn = Durable::lock(&self.conn)?;
        let n = conn
            .prepare_cached(
                "UPDATE inbox SET state = 'queued', attempts = 0, not_before_ms = 0, last_error = NULL,
                     failed_at_ms = NULL
                 WHERE tenant = ?1 AND event_id = ?2 AND state = 'dead'",
            )?
            .execute((tenant, event_id))?;
        Ok(n == 1)
    }

    fn requeue_stale_claims(&self, lease: &Lease) -> Result<u64> {
        self.fenced(lease, |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE inbox SET state = 'queued', claim_token = NULL
                     WHERE tenant = ?1 AND state = 'claimed' AND (claim_token IS NULL OR claim_token <> ?2)",
                )?
                .execute((&lease.tenant, lease.token))?;
            Ok(n as u64)
        })
    }

    fn tenants_with_work(&self) -> Result<Vec<String>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT tenant FROM inbox i WHERE (state = 'queued' AND not_before_ms <= ?1)
             OR (state = 'claimed' AND NOT EXISTS (SELECT 1 FROM leases l
                 WHERE l.tenant = i.tenant AND l.token = i.claim_token AND l.expires_at_ms > ?1))",
        )?;
        let tenants = stmt.query_map([now_ms()], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(tenants)
    }

    fn depth(&self) -> Result<u64> {
        let conn = self.conn.lock().unwrap();
        let n: i64 =
            conn.query_row("SELECT COUNT(*) FROM inbox WHERE state IN ('queued', 'claimed')", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn prune(&self, days: u32) -> Result<u64> {
        let conn = Durable::lock(&self.conn)?;
        let cutoff = now_s() - i64::from(days) * 86_400;
        Ok(conn.execute("DELETE FROM inbox WHERE state = 'done' AND done_at < ?1", [cutoff])? as u64)
    }

    fn due(&self, tenants: &[String], periods: Periods) -> Result<Vec<(String, RunKind)>> {
        let mut conn = Durable::lock(&self.conn)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = now_ms();
        let (tick, sync) = (ms(periods.tick), ms(periods.sync));
        let mut inserted = Vec::new();
        let mut due = Vec::new();
        {
            // Rows for tenants this handle has not scheduled yet (once per tenant, not per step).
            let scheduled = self.scheduled.lock().unwrap();
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO schedule (tenant, next_tick_ms, next_sync_ms) VALUES (?1, ?2, ?3)",
            )?;
            for tenant in tenants {
                if scheduled.contains(tenant) {
                    continue;
                }
                let first = ScheduleRow::first(now, periods, &mut random_fraction);
                insert.execute((tenant, first.next_tick_ms, first.next_sync_ms))?;
                inserted.push(tenant.clone());
            }
            // Rows scheduled under a longer period (a restart with a shorter one) are brought
            // within the current period, at a random point of it.
            tx.prepare_cached(
                "UPDATE schedule SET
                     next_tick_ms = CASE WHEN next_tick_ms > ?1 + 1.1 * ?2
                         THEN ?1 + CAST(abs(random() % 1000000) / 1000000.0 * ?2 AS INTEGER) ELSE next_tick_ms END,
                     next_sync_ms = CASE WHEN next_sync_ms > ?1 + 1.1 * ?3
                         THEN ?1 + CAST(abs(random() % 1000000) / 1000000.0 * ?3 AS INTEGER) ELSE next_sync_ms END
                 WHERE next_tick_ms > ?1 + 1.1 * ?2 OR next_sync_ms > ?1 + 1.1 * ?3",
            )?
            .execute((now, tick, sync))?;
            let wanted: std::collections::HashSet<&str> = tenants.iter().map(String::as_str).collect();
            let rows: Vec<(String, ScheduleRow)> = tx
                .prepare_cached(
                    "SELECT tenant, next_tick_ms, next_sync_ms FROM schedule
                     WHERE next_tick_ms <= ?1 OR next_sync_ms <= ?1 ORDER BY tenant",
                )?
                .query_map([now], |r| {
                    Ok((r.get(0)?, ScheduleRow { next_tick_ms: r.get(1)?, next_sync_ms: r.get(2)? }))
                })?
                .collect::<rusqlite::Result<_>>()?;
            for (tenant, row) in rows {
                if let Some(kind) = row.due(now).filter(|_| wanted.contains(tenant.as_str())) {
                    due.push((tenant, kind));
                }
            }
        }
        tx.commit()?;
        self.scheduled.lock().unwrap().extend(inserted);
        Ok(due)
    }

    fn claim_run(&self, lease: &Lease, periods: Periods) -> Result<Option<Claimed>> {
        self.fenced(lease, |tx| {
            let now = now_ms();
            let row = tx
                .prepare_cached("SELECT next_tick_ms, next_sync_ms FROM schedule WHERE tenant = ?1")?
                .query_row([&lease.tenant], |r| Ok(ScheduleRow { next_tick_ms: r.get(0)?, next_sync_ms: r.get(1)? }))
                .optional()?;
            let Some(mut row) = row else { return Ok(None) };
            let claimed = row.claim(now, periods, &mut random_fraction);
            if claimed.is_some() {
                tx.prepare_cached("UPDATE schedule SET next_tick_ms = ?2, next_sync_ms = ?3 WHERE tenant = ?1")?
                    .execute((&lease.tenant, row.next_tick_ms, row.next_sync_ms))?;
            }
            Ok(claimed)
        })
    }
}
