//! The lease tables on SQLite and the clock they are judged by: shared by the store
//! (`sqlite.rs`, which takes, renews and releases leases and fences its writes) and the queue
//! (`sqlite_queue.rs`, which fences its writes), so neither imports the other for them.

use anyhow::Result;

use super::lease::Lease;

/// The lease tables, created by whichever of the store and the queue opens the file first.
pub(super) const LEASE_TABLES: &str = "
    CREATE TABLE IF NOT EXISTS leases (
        tenant TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS lease_tokens (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);";

/// Whether `lease` is its tenant's current, unexpired lease (inside the caller's transaction).
pub(super) fn lease_is_current(c: &rusqlite::Connection, lease: &Lease) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM leases WHERE tenant = ?1 AND token = ?2 AND expires_at_ms > ?3")?.exists((
        &lease.tenant,
        lease.token,
        now_ms(),
    ))?)
}

/// Milliseconds since the epoch by this machine's clock: every process sharing a SQLite file runs
/// on this machine, so they judge lease expiry by the same clock.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
