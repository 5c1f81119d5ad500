//! Tenant storage behind `wasi:keyvalue` (and the host's own records, e.g. tenant policies): one
//! trait, three backends (memory for tests, SQLite embedded by default, PostgreSQL shared by many
//! processes), one conformance suite (`conformance.rs`). Every key is scoped by the tenant's
//! namespace and the bucket name the guest opened; the guest never chooses the namespace.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod latency;
pub mod lease;
pub mod pg_testing;
pub mod postgres;
mod postgres_queue;
pub mod queue;
pub mod sqlite;
mod sqlite_lease;
mod sqlite_queue;

mod fence;
mod kv;
mod memory;

pub use kv::{KeyPage, Storage, Usage};
pub use lease::{Fenced, Lease, LeaseClock, LeaseStore};
pub use memory::MemoryStorage;
pub use postgres::PgStorage;
pub use queue::{Claimed, FailedItem, InboxItem, Periods, RunKind, ScheduleRow, WorkQueue};
pub use sqlite::SqliteStorage;
pub(crate) use sqlite::create_private_dir;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};

/// Opens the store `--store` names, with its leases: a `postgres://` (or `postgresql://`) URL, or
/// SQLite's `host.db` in `data_dir` when it names none (or `sqlite`).
pub fn open_store(spec: Option<&str>, data_dir: &Path) -> Result<Arc<dyn LeaseStore>> {
    let spec = spec.map(str::trim).unwrap_or("");
    if spec.is_empty() || spec == "sqlite" {
        return Ok(Arc::new(SqliteStorage::open(&data_dir.join("host.db"))?));
    }
    match spec.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase()) {
        Some(scheme) if scheme == "postgres" || scheme == "postgresql" => Ok(Arc::new(PgStorage::connect(spec)?)),
        // Only the scheme is repeated: the rest may hold a password.
        Some(scheme) => bail!("--store: unsupported scheme `{scheme}://` (use postgres://USER@HOST:PORT/DB or sqlite)"),
        None => bail!("--store: expected a postgres://USER@HOST:PORT/DB URL or `sqlite`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The behaviour every backend shares is in `conformance.rs`; here, what only SQLite has.
    #[test]
    fn sqlite_backend_persists_with_private_permissions() {
        let dir = std::env::temp_dir().join(format!("hh-storage-{}", std::process::id()));
        let path = dir.join("nested").join("store.db");
        SqliteStorage::open(&path).unwrap().set("a", "", "k2", b"v2").unwrap();
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

    /// The store and its work queue share one connection: a process's own writes wait on its
    /// mutex, never in SQLite's busy handler (which sleeps on a runtime thread), while another
    /// process on the same file still waits there and then gets through.
    #[test]
    fn sqlite_queue_and_store_share_a_connection_and_only_other_processes_wait() {
        use std::time::Duration;
        let dir = std::env::temp_dir().join(format!("hh-storage-shared-{}", std::process::id()));
        let path = dir.join("store.db");
        let store = SqliteStorage::open(&path).unwrap();
        let queue = store.work_queue().unwrap();
        let tenants: Vec<String> = (0..50).map(|t| format!("t{t}")).collect();
        let periods = Periods { tick: Duration::from_millis(1), sync: Duration::from_millis(1) };
        let waits: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|w| {
                    let (store, queue, tenants) = (&store, &queue, &tenants);
                    s.spawn(move || {
                        for i in 0..100 {
                            let tenant = &tenants[(w * 7 + i) % tenants.len()];
                            match i % 4 {
                                0 => store.set("ns", "", &format!("{w}-{i}"), b"v").unwrap(),
                                1 => {
                                    let lease =
                                        store.acquire(tenant, &format!("w{w}"), Duration::from_secs(5)).unwrap();
                                    if let Some(lease) = lease {
                                        store.fenced(&lease).set("ns", "", tenant, b"x").unwrap();
                                        queue.requeue_stale_claims(&lease).unwrap();
                                        store.release(&lease).unwrap();
                                    }
                                }
                                2 => assert!(queue.enqueue_if_new(tenant, &format!("{w}-{i}"), b"{}").unwrap()),
                                _ => drop(queue.due(tenants, periods).unwrap()),
                            }
                        }
                        crate::storage::sqlite::busy_waits_on_this_thread()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(waits, 0, "writes of one process waited in SQLite's busy handler");

        // Another connection (as another process has) holding the write lock: this one waits in
        // the busy handler, counted, and goes through once the lock is let go.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE; INSERT INTO kv VALUES ('ns', '', 'other', x'00');").unwrap();
        let (before, total_before) =
            (crate::storage::sqlite::busy_waits_on_this_thread(), crate::storage::sqlite::busy_waits());
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.execute_batch("COMMIT").unwrap();
        });
        store.set("ns", "", "after", b"v").unwrap();
        release.join().unwrap();
        let waited = crate::storage::sqlite::busy_waits_on_this_thread() - before;
        assert!(waited >= 1, "the write did not wait for the other connection's lock");
        assert!(crate::storage::sqlite::busy_waits() - total_before >= waited);
        assert_eq!(store.get("ns", "", "other").unwrap().as_deref(), Some(&[0u8][..]));
        drop((store, queue));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_bad_store_url_is_one_line_without_the_password() {
        let dir = std::env::temp_dir();
        for (spec, expected) in [
            ("mysql://u:secret@h/db", "unsupported scheme `mysql://`"),
            ("not a url", "expected a postgres://"),
            ("postgres://u:secret@127.0.0.1:notaport/db", "not a valid PostgreSQL URL"),
        ] {
            let e = format!("{:#}", open_store(Some(spec), &dir).err().expect(spec));
            assert!(e.contains(expected) && !e.contains("secret") && !e.contains('\n'), "{spec}: {e}");
        }
        // Nothing listens on port 1: refused at once, named by host, port and database only.
        let e = format!("{:#}", open_store(Some("postgres://u:secret@127.0.0.1:1/db"), &dir).err().unwrap());
        assert!(e.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1/db: "), "{e}");
        assert!(!e.contains("secret") && !e.contains('\n'), "{e}");
    }
}
