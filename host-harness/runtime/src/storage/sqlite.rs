//! SQLite storage in one database file: the embedded default, durable across host restarts. Several
//! processes on one machine may open the same file: SQLite's locking orders their writes, and the
//! leases (expiry judged by this machine's clock, which they all share) keep one tenant in one
//! process at a time, as on PostgreSQL.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::OptionalExtension;

use super::kv::{KeyPage, Storage, Usage, incremented};
use super::lease::{Fenced, Lease, LeaseStore};
use super::queue::WorkQueue;
use super::sqlite_lease::{LEASE_TABLES, lease_is_current, now_ms};
use super::sqlite_queue::SqliteQueue;
pub use super::sqlite_queue::forget_schedule;

/// SQLite storage in one database file; cheap to clone (clones share the connection).
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// The database file (named in the work queue's errors; the queue shares `conn`).
    path: Arc<Path>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path`. The directory and the file are made
    /// readable by the owner only: they hold API tokens and employee data.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        create_private_file(path)?;
        let conn =
            rusqlite::Connection::open(path).with_context(|| format!("cannot open the database {}", path.display()))?;
        conn.busy_handler(Some(wait_for_the_write_lock))?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS kv (
                 namespace TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (namespace, bucket, key)) WITHOUT ROWID;
             {LEASE_TABLES}"
        ))
        .with_context(|| format!("cannot initialise the database {}", path.display()))?;
        Ok(SqliteStorage { conn: Arc::new(Mutex::new(conn)), path: path.into() })
    }
}

/// Times SQLite found the database locked by another connection and waited, in this process:
/// another process on the same file (a store's queue shares its connection).
static BUSY_WAITS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The same, on this thread (for tests that run beside others in one process).
    static BUSY_WAITS_HERE: Cell<u64> = const { Cell::new(0) };
}

/// Waits in [`wait_for_the_write_lock`], in this process so far (`/metrics`).
pub fn busy_waits() -> u64 {
    BUSY_WAITS.load(Ordering::Relaxed)
}

/// The same, on the calling thread.
pub fn busy_waits_on_this_thread() -> u64 {
    BUSY_WAITS_HERE.with(Cell::get)
}

/// Most time one statement waits for another process's lock, as SQLite's `busy_timeout` would.
const BUSY_BUDGET: Duration = Duration::from_secs(5);

/// SQLite's busy handler: counts the wait, then sleeps 0.1 ms doubling to at most 10 ms, until
/// [`BUSY_BUDGET`] is spent. SQLite's own handler sleeps 1, 2, 5 … 100 ms, long beside the
/// sub-millisecond transactions here, and the sleep holds a runtime thread.
fn wait_for_the_write_lock(attempt: i32) -> bool {
    let delay = |n: i32| Duration::from_micros((100u64 << n.clamp(0, 7)).min(10_000));
    let waited: Duration = (0..attempt).map(delay).sum();
    if waited >= BUSY_BUDGET {
        return false;
    }
    BUSY_WAITS.fetch_add(1, Ordering::Relaxed);
    BUSY_WAITS_HERE.with(|n| n.set(n.get() + 1));
    std::thread::sleep(delay(attempt));
    true
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict the data directory {}", dir.display()))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn create_private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create the database {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

impl SqliteStorage {
    /// Runs `op` in an IMMEDIATE transaction: SQLite's write lock is taken before any read, so
    /// another process cannot read the same old value in between (the busy handler makes it wait
    /// its turn). With a `fence`, the lease is checked first, inside the same transaction: once the
    /// lease has expired or passed to another holder, nothing is written.
    fn write<R>(&self, fence: Option<&Lease>, op: impl FnOnce(&rusqlite::Connection) -> Result<R>) -> Result<R> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(lease) = fence
            && !lease_is_current(&tx, lease)?
        {
            return Err(anyhow::Error::new(Fenced { tenant: lease.tenant.clone(), token: lease.token }));
        }
        let r = op(&tx)?;
        tx.commit()?;
        Ok(r)
    }
}

fn set_on(c: &rusqlite::Connection, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
    c.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")?
        .execute((namespace, bucket, key, value))?;
    Ok(())
}

fn delete_on(c: &rusqlite::Connection, namespace: &str, bucket: &str, key: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
        .execute((namespace, bucket, key))?;
    Ok(())
}

fn increment_on(c: &rusqlite::Connection, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
    let current: Option<Vec<u8>> = c
        .prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
        .query_row((namespace, bucket, key), |r| r.get(0))
        .optional()?;
    let next = incremented(key, current.as_deref(), delta)?;
    set_on(c, namespace, bucket, key, next.to_string().as_bytes())?;
    Ok(next)
}

impl Storage for SqliteStorage {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?;
        let mut rows = stmt.query((namespace, bucket, key))?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.write(None, |c| set_on(c, namespace, bucket, key, value))
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        self.write(None, |c| delete_on(c, namespace, bucket, key))
    }

    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        let conn = self.conn.lock().unwrap();
        let start = cursor.unwrap_or(0);
        let mut stmt = conn.prepare_cached(
            "SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2 ORDER BY key LIMIT ?3 OFFSET ?4",
        )?;
        let mut keys: Vec<String> = stmt
            .query_map((namespace, bucket, (limit + 1) as i64, start as i64), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(KeyPage { cursor: more.then_some(start + limit as u64), keys })
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        self.write(None, |c| increment_on(c, namespace, bucket, key, delta))
    }

    fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut conn = self.conn.lock().unwrap();
        // One read transaction: a consistent snapshot of all the keys.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        let mut values = Vec::with_capacity(keys.len());
        {
            let mut stmt =
                tx.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?;
            for key in keys {
                values.push(stmt.query_row((namespace, bucket, key), |r| r.get(0)).optional()?);
            }
        }
        tx.commit()?;
        Ok(values)
    }

    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.write(None, |c| entries.iter().try_for_each(|(k, v)| set_on(c, namespace, bucket, k, v)))
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        self.write(None, |c| keys.iter().try_for_each(|k| delete_on(c, namespace, bucket, k)))
    }

    fn usage(&self, namespace: &str) -> Result<Usage> {
        let conn = self.conn.lock().unwrap();
        let (keys, bytes): (i64, i64) = conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(length(key) + length(value)), 0) FROM kv WHERE namespace = ?1",
            )?
            .query_row([namespace], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(Usage { keys: keys as u64, bytes: bytes as u64 })
    }

    fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt =
            conn.prepare_cached("SELECT length(value) FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?;
        let mut sizes = Vec::with_capacity(keys.len());
        for key in keys {
            sizes.push(stmt.query_row((namespace, bucket, key), |r| r.get::<_, i64>(0)).optional()?.map(|n| n as u64));
        }
        Ok(sizes)
    }

    fn scopes(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached("SELECT DISTINCT namespace, bucket FROM kv ORDER BY namespace, bucket")?;
        let scopes = stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(scopes)
    }
}

impl LeaseStore for SqliteStorage {
    fn acquire(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        self.write(None, |c| {
            let now = now_ms();
            let held = c
                .prepare_cached("SELECT 1 FROM leases WHERE tenant = ?1 AND expires_at_ms > ?2")?
                .query_row((tenant, now), |_| Ok(()))
                .optional()?;
            if held.is_some() {
                return Ok(None);
            }
            let token: i64 = c
                .prepare_cached(
                    "INSERT INTO lease_tokens (id, last) VALUES (1, 1) \
                     ON CONFLICT (id) DO UPDATE SET last = last + 1 RETURNING last",
                )?
                .query_row((), |r| r.get(0))?;
            c.prepare_cached(
                "INSERT OR REPLACE INTO leases (tenant, holder, token, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((tenant, holder, token, now + ttl.as_millis() as i64))?;
            Ok(Some(Lease { tenant: tenant.to_owned(), holder: holder.to_owned(), token }))
        })
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        self.write(None, |c| {
            let now = now_ms();
            let n = c
                .prepare_cached(
                    "UPDATE leases SET expires_at_ms = ?3 WHERE tenant = ?1 AND token = ?2 AND expires_at_ms > ?4",
                )?
                .execute((&lease.tenant, lease.token, now + ttl.as_millis() as i64, now))?;
            Ok(n == 1)
        })
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        self.write(None, |c| {
            c.prepare_cached("DELETE FROM leases WHERE tenant = ?1 AND token = ?2")?
                .execute((&lease.tenant, lease.token))?;
            Ok(())
        })
    }

    fn fenced(&self, lease: &Lease) -> Arc<dyn Storage> {
        Arc::new(FencedSqlite { store: self.clone(), lease: lease.clone() })
    }

    fn work_queue(&self) -> Result<Arc<dyn WorkQueue>> {
        Ok(Arc::new(SqliteQueue::on(self.conn.clone(), &self.path)?))
    }
}

/// `SqliteStorage` whose writes go through only while `lease` is its tenant's current lease.
struct FencedSqlite {
    store: SqliteStorage,
    lease: Lease,
}

impl Storage for FencedSqlite {
    super::lease::fenced_reads!(store);

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.store.write(Some(&self.lease), |c| set_on(c, namespace, bucket, key, value))
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        self.store.write(Some(&self.lease), |c| delete_on(c, namespace, bucket, key))
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        self.store.write(Some(&self.lease), |c| increment_on(c, namespace, bucket, key, delta))
    }

    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.store
            .write(Some(&self.lease), |c| entries.iter().try_for_each(|(k, v)| set_on(c, namespace, bucket, k, v)))
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        self.store.write(Some(&self.lease), |c| keys.iter().try_for_each(|k| delete_on(c, namespace, bucket, k)))
    }
}
