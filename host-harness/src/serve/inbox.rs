//! The durable inbox: accepted webhooks wait here until a worker has run them. Behind a narrow
//! trait so another database (PostgreSQL) can take SQLite's place.
//!
//! An item is `queued`, then `claimed` by a worker, then `done`. A process killed while it held
//! claims leaves them `claimed`; the next start puts them back (`requeue_claimed`), so nothing is
//! lost. The (tenant, event id) pair is unique, so a replayed delivery is never queued twice;
//! done items are kept (for that check) until pruned.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::OptionalExtension;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: i64,
    pub tenant: String,
    pub event_id: String,
    pub payload: Vec<u8>,
    /// Earlier claims of this item that did not complete.
    pub attempts: u32,
}

pub trait Inbox: Send + Sync {
    /// Stores the item unless the tenant already has one with this event id; `true` when stored.
    /// Durable once it returns.
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool>;
    /// The tenant's oldest queued item, now claimed.
    fn claim_next(&self, tenant: &str) -> Result<Option<InboxItem>>;
    fn complete(&self, id: i64) -> Result<()>;
    /// Back to the queue (a call that could not finish).
    fn requeue(&self, id: i64) -> Result<()>;
    /// Every claimed item back to the queue: at start-up (claims of a killed process) and at
    /// shutdown (calls cut short).
    fn requeue_claimed(&self) -> Result<u64>;
    /// Tenants with queued items.
    fn tenants_with_work(&self) -> Result<Vec<String>>;
    /// Items not yet done.
    fn depth(&self) -> Result<u64>;
    /// Forgets done items completed more than `days` ago; returns how many.
    fn prune(&self, days: u32) -> Result<u64>;
}

/// The inbox as a table in the host's SQLite file, on its own connection.
pub struct SqliteInbox {
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteInbox {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open the inbox database {}", path.display()))?;
        // FULL: a 202 promises the event survives a crash of the machine too, not only of the
        // process (the key/value store runs with NORMAL).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS inbox (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 tenant TEXT NOT NULL, event_id TEXT NOT NULL, payload BLOB NOT NULL,
                 state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
                 enqueued_at INTEGER NOT NULL, done_at INTEGER,
                 UNIQUE (tenant, event_id));
             CREATE INDEX IF NOT EXISTS inbox_queue ON inbox (state, tenant, id);",
        )
        .with_context(|| format!("cannot initialise the inbox in {}", path.display()))?;
        Ok(SqliteInbox { conn: Mutex::new(conn) })
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Inbox for SqliteInbox {
    fn enqueue_if_new(&self, tenant: &str, event_id: &str, payload: &[u8]) -> Result<bool> {
        let conn = self.conn.lock().unwrap();
        let n = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO inbox (tenant, event_id, payload, enqueued_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((tenant, event_id, payload, now()))?;
        Ok(n == 1)
    }

    fn claim_next(&self, tenant: &str) -> Result<Option<InboxItem>> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let item = tx
            .prepare_cached(
                "SELECT id, tenant, event_id, payload, attempts FROM inbox
                 WHERE state = 'queued' AND tenant = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([tenant], |r| {
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
            tx.prepare_cached("UPDATE inbox SET state = 'claimed', attempts = attempts + 1 WHERE id = ?1")?
                .execute([item.id])?;
        }
        tx.commit()?;
        Ok(item)
    }

    fn complete(&self, id: i64) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.prepare_cached("UPDATE inbox SET state = 'done', done_at = ?2 WHERE id = ?1")?.execute((id, now()))?;
        Ok(())
    }

    fn requeue(&self, id: i64) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.prepare_cached("UPDATE inbox SET state = 'queued' WHERE id = ?1 AND state = 'claimed'")?.execute([id])?;
        Ok(())
    }

    fn requeue_claimed(&self) -> Result<u64> {
        let conn = self.conn.lock().unwrap();
        Ok(conn.execute("UPDATE inbox SET state = 'queued' WHERE state = 'claimed'", [])? as u64)
    }

    fn tenants_with_work(&self) -> Result<Vec<String>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached("SELECT DISTINCT tenant FROM inbox WHERE state = 'queued'")?;
        let tenants = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(tenants)
    }

    fn depth(&self) -> Result<u64> {
        let conn = self.conn.lock().unwrap();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM inbox WHERE state != 'done'", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn prune(&self, days: u32) -> Result<u64> {
        let conn = self.conn.lock().unwrap();
        let cutoff = now() - i64::from(days) * 86_400;
        Ok(conn.execute("DELETE FROM inbox WHERE state = 'done' AND done_at < ?1", [cutoff])? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("hh-inbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn queues_once_claims_in_order_and_survives_a_restart() {
        let dir = temp("order");
        let path = dir.join("host.db");
        {
            let inbox = SqliteInbox::open(&path).unwrap();
            assert!(inbox.enqueue_if_new("a", "e1", b"1").unwrap());
            assert!(inbox.enqueue_if_new("a", "e2", b"2").unwrap());
            assert!(!inbox.enqueue_if_new("a", "e1", b"again").unwrap(), "a replay is not queued");
            assert!(inbox.enqueue_if_new("b", "e1", b"other tenant").unwrap(), "ids are per tenant");
            assert_eq!(inbox.depth().unwrap(), 3);
            let first = inbox.claim_next("a").unwrap().unwrap();
            assert_eq!((first.event_id.as_str(), first.payload.as_slice(), first.attempts), ("e1", &b"1"[..], 0));
            inbox.complete(first.id).unwrap();
            let second = inbox.claim_next("a").unwrap().unwrap();
            assert_eq!(second.event_id, "e2");
            assert_eq!(inbox.claim_next("a").unwrap(), None, "e2 is claimed, nothing else queued");
            // The process dies here, holding e2.
        }
        let inbox = SqliteInbox::open(&path).unwrap();
        assert_eq!(inbox.requeue_claimed().unwrap(), 1);
        let mut tenants = inbox.tenants_with_work().unwrap();
        tenants.sort();
        assert_eq!(tenants, ["a", "b"]);
        let again = inbox.claim_next("a").unwrap().unwrap();
        assert_eq!((again.event_id.as_str(), again.attempts), ("e2", 1));
        inbox.requeue(again.id).unwrap();
        let again = inbox.claim_next("a").unwrap().unwrap();
        inbox.complete(again.id).unwrap();
        assert!(!inbox.enqueue_if_new("a", "e1", b"1").unwrap(), "done items still stop replays");
        assert_eq!(inbox.prune(1).unwrap(), 0, "completed just now: kept");
        assert_eq!(inbox.depth().unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
