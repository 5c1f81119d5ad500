//! Tenant storage behind `wasi:keyvalue`: one trait, two backends. Every key is scoped by the
//! tenant's namespace and the bucket name the guest opened; the guest never chooses the namespace.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};

/// A page of keys from `list_keys`, with the cursor of the next page.
pub struct KeyPage {
    pub keys: Vec<String>,
    pub cursor: Option<u64>,
}

/// Durable or in-memory key/value storage shared by every tenant of a host.
pub trait Storage: Send + Sync {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()>;
    /// Keys in order, `limit` at a time; `cursor` is an offset returned by the previous page.
    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage>;
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

fn create_private_dir(dir: &Path) -> Result<()> {
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
}
