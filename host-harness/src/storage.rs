//! Tenant storage behind `wasi:keyvalue`: one trait, two backends. Every key is scoped by the
//! tenant's namespace and the bucket name the guest opened; the guest never chooses the namespace.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::OptionalExtension;

/// A page of keys from `list_keys`, with the cursor of the next page.
pub struct KeyPage {
    pub keys: Vec<String>,
    pub cursor: Option<u64>,
}

/// What a namespace holds, for quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
}

/// Durable or in-memory key/value storage shared by every tenant of a host.
pub trait Storage: Send + Sync {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()>;
    /// Keys in order, `limit` at a time; `cursor` is an offset returned by the previous page.
    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage>;

    /// Adds `delta` to the counter at `key` (a missing key counts from 0) and returns the new
    /// value, atomically with respect to every other caller on the same store, in this process or
    /// another. Counters are stored as decimal text; a value that is not one is an error.
    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64>;

    /// Reads several keys at once; `None` for a missing key, in the order asked.
    fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(namespace, bucket, k)).collect()
    }

    /// Writes several keys; backends that can do so write them all or none.
    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        entries.iter().try_for_each(|(k, v)| self.set(namespace, bucket, k, v))
    }

    /// Deletes several keys (missing keys are fine).
    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.delete(namespace, bucket, k))
    }

    /// Keys and bytes (key plus value lengths) a namespace holds, over all its buckets.
    fn usage(&self, namespace: &str) -> Result<Usage>;

    /// The stored length of each value (`None`: missing), in the order asked.
    fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        Ok(self.get_many(namespace, bucket, keys)?.into_iter().map(|v| v.map(|v| v.len() as u64)).collect())
    }

    /// Every (namespace, bucket) holding at least one key: for whole-store maintenance such as
    /// re-sealing secrets under a new host key.
    fn scopes(&self) -> Result<Vec<(String, String)>>;
}

/// The counter after adding `delta` to the stored `value` (absent = 0).
fn incremented(key: &str, value: Option<&[u8]>, delta: u64) -> Result<u64> {
    let current = match value {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .with_context(|| format!("`{key}` does not hold a counter"))?,
    };
    current.checked_add(delta).with_context(|| format!("the counter `{key}` would overflow"))
}

/// In-memory storage, for tests. Lost when dropped.
#[derive(Default)]
pub struct MemoryStorage {
    data: Mutex<BTreeMap<(String, String, String), Vec<u8>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }
}

fn scope(namespace: &str, bucket: &str, key: &str) -> (String, String, String) {
    (namespace.to_owned(), bucket.to_owned(), key.to_owned())
}

impl Storage for MemoryStorage {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.data.lock().unwrap().get(&scope(namespace, bucket, key)).cloned())
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.data.lock().unwrap().insert(scope(namespace, bucket, key), value.to_vec());
        Ok(())
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        self.data.lock().unwrap().remove(&scope(namespace, bucket, key));
        Ok(())
    }

    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        let data = self.data.lock().unwrap();
        let start = cursor.unwrap_or(0) as usize;
        let mut keys: Vec<String> = data
            .range(scope(namespace, bucket, "")..)
            .take_while(|((n, b, _), _)| n == namespace && b == bucket)
            .skip(start)
            .take(limit + 1)
            .map(|((_, _, k), _)| k.clone())
            .collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(KeyPage { cursor: more.then_some((start + limit) as u64), keys })
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let mut data = self.data.lock().unwrap();
        let scoped = scope(namespace, bucket, key);
        let next = incremented(key, data.get(&scoped).map(Vec::as_slice), delta)?;
        data.insert(scoped, next.to_string().into_bytes());
        Ok(next)
    }

    fn usage(&self, namespace: &str) -> Result<Usage> {
        let data = self.data.lock().unwrap();
        let mut usage = Usage::default();
        for ((_, _, k), v) in data.range(scope(namespace, "", "")..).take_while(|((n, _, _), _)| n == namespace) {
            usage.keys += 1;
            usage.bytes += (k.len() + v.len()) as u64;
        }
        Ok(usage)
    }

    fn scopes(&self) -> Result<Vec<(String, String)>> {
        let data = self.data.lock().unwrap();
        let mut scopes: Vec<(String, String)> = data.keys().map(|(n, b, _)| (n.clone(), b.clone())).collect();
        scopes.dedup();
        Ok(scopes)
    }
}

/// SQLite storage in one database file: the default, durable across host restarts.
pub struct SqliteStorage {
    conn: Mutex<rusqlite::Connection>,
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
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS kv (
                 namespace TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (namespace, bucket, key)) WITHOUT ROWID;",
        )
        .with_context(|| format!("cannot initialise the database {}", path.display()))?;
        Ok(SqliteStorage { conn: Mutex::new(conn) })
    }
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
        let conn = self.conn.lock().unwrap();
        conn.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")?
            .execute((namespace, bucket, key, value))?;
        Ok(())
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
            .execute((namespace, bucket, key))?;
        Ok(())
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
        let mut conn = self.conn.lock().unwrap();
        // IMMEDIATE takes SQLite's write lock before the read, so another process cannot read the
        // same old value in between (busy_timeout makes it wait its turn).
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<Vec<u8>> = tx
            .prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
            .query_row((namespace, bucket, key), |r| r.get(0))
            .optional()?;
        let next = incremented(key, current.as_deref(), delta)?;
        tx.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")?
            .execute((namespace, bucket, key, next.to_string().into_bytes()))?;
        tx.commit()?;
        Ok(next)
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
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")?;
            for (key, value) in entries {
                stmt.execute((namespace, bucket, key, value))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?;
            for key in keys {
                stmt.execute((namespace, bucket, key))?;
            }
        }
        tx.commit()?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(storage: &dyn Storage) {
        storage.set("a", "", "k1", b"v1").unwrap();
        storage.set("a", "", "k2", b"v2").unwrap();
        storage.set("b", "", "k1", b"other tenant").unwrap();
        storage.set("a", "x", "k1", b"other bucket").unwrap();
        assert_eq!(storage.get("a", "", "k1").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(storage.get("b", "", "k1").unwrap().as_deref(), Some(&b"other tenant"[..]));
        let page = storage.list_keys("a", "", None, 1).unwrap();
        assert_eq!(page.keys, vec!["k1"]);
        let page = storage.list_keys("a", "", page.cursor, 1).unwrap();
        assert_eq!((page.keys, page.cursor), (vec!["k2".to_string()], None));
        storage.delete("a", "", "k1").unwrap();
        assert_eq!(storage.get("a", "", "k1").unwrap(), None);
        assert!(storage.get("b", "", "k1").unwrap().is_some());

        assert_eq!(storage.increment("a", "", "n", 0).unwrap(), 0);
        assert_eq!(storage.increment("a", "", "n", 5).unwrap(), 5);
        assert_eq!(storage.increment("a", "", "n", 1).unwrap(), 6);
        assert_eq!(storage.increment("b", "", "n", 1).unwrap(), 1, "counters are per tenant");
        assert!(storage.increment("a", "", "k2", 1).is_err(), "a value that is not a counter");
        assert!(storage.increment("a", "", "n", u64::MAX).is_err(), "overflow");

        let entries = vec![("m1".to_string(), b"1".to_vec()), ("m2".to_string(), b"2".to_vec())];
        storage.set_many("a", "", &entries).unwrap();
        let keys = vec!["m1".to_string(), "missing".to_string(), "m2".to_string()];
        let got = storage.get_many("a", "", &keys).unwrap();
        assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"2".to_vec())]);
        storage.delete_many("a", "", &keys).unwrap();
        assert_eq!(storage.get_many("a", "", &keys).unwrap(), vec![None, None, None]);

        storage.set("c", "", "k", b"12345").unwrap();
        storage.set("c", "x", "kk", b"1").unwrap();
        assert_eq!(storage.usage("c").unwrap(), Usage { keys: 2, bytes: 9 });
        assert_eq!(storage.usage("none").unwrap(), Usage::default());
        let sizes = storage.value_sizes("c", "", &["k".into(), "missing".into()]).unwrap();
        assert_eq!(sizes, vec![Some(5), None]);
        storage.delete("c", "", "k").unwrap();
        storage.delete("c", "x", "kk").unwrap();

        let scopes = storage.scopes().unwrap();
        let expected = [("a", ""), ("a", "x"), ("b", "")].map(|(n, b)| (n.to_string(), b.to_string()));
        assert_eq!(scopes, expected);
    }

    #[test]
    fn memory_backend_scopes_by_namespace_and_bucket() {
        exercise(&MemoryStorage::new());
    }

    #[test]
    fn sqlite_backend_scopes_and_persists_with_private_permissions() {
        let dir = std::env::temp_dir().join(format!("hh-storage-{}", std::process::id()));
        let path = dir.join("nested").join("store.db");
        exercise(&SqliteStorage::open(&path).unwrap());
        let reopened = SqliteStorage::open(&path).unwrap();
        assert_eq!(reopened.get("a", "", "k2").unwrap().as_deref(), Some(&b"v2"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Two connections (as two processes would have) incrementing one counter never hand out the
    /// same value.
    #[test]
    fn sqlite_increment_is_atomic_across_connections() {
        let dir = std::env::temp_dir().join(format!("hh-storage-inc-{}", std::process::id()));
        let path = dir.join("store.db");
        let stores: Vec<_> = (0..4).map(|_| std::sync::Arc::new(SqliteStorage::open(&path).unwrap())).collect();
        let handles: Vec<_> = stores
            .into_iter()
            .map(|s| {
                std::thread::spawn(move || (0..50).map(|_| s.increment("t", "", "seq", 1).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, (1..=200).collect::<Vec<_>>());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
