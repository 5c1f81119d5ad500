//! A tenant's notification state (the ledger and the outbox) in the host's store.
//!
//! Kept in the host namespace (`host`, the one `operator/host.rs` keeps tenant policies in: a
//! guest only ever names `tenant/…`), bucket `notify-state`, key = the tenant id, as one JSON
//! document. Read-modify-write: the caller loads, observes and delivers, and saves under the
//! tenant's lease. Unreadable state is an error, never a silent reset (a reset would announce
//! every open incident again).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Ledger, Outbox};
use crate::Storage;

/// The namespace no guest can name (as `operator::host`'s).
pub const NAMESPACE: &str = "host";
pub const BUCKET: &str = "notify-state";

/// What is kept per tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyState {
    #[serde(default)]
    pub ledger: Ledger,
    #[serde(default)]
    pub outbox: Outbox,
}

/// The tenant's state; `Default` when none was saved yet.
pub fn load(storage: &dyn Storage, tenant: &str) -> Result<NotifyState> {
    let Some(bytes) = storage
        .get(NAMESPACE, BUCKET, tenant)
        .with_context(|| format!("reading the notification state of tenant `{tenant}`"))?
    else {
        return Ok(NotifyState::default());
    };
    serde_json::from_slice(&bytes).with_context(|| {
        format!("the stored notification state of tenant `{tenant}` (host/{BUCKET}) is unreadable; not resetting it")
    })
}

pub fn save(storage: &dyn Storage, tenant: &str, state: &NotifyState) -> Result<()> {
    let bytes = serde_json::to_vec(state).context("serialising the notification state")?;
    storage
        .set(NAMESPACE, BUCKET, tenant, &bytes)
        .with_context(|| format!("saving the notification state of tenant `{tenant}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;
    use crate::notify::{Item, Kind, Message, Snapshot};

    /// Saved state reads back equal (the ledger still knows what it announced: the same
    /// snapshot after a reload says nothing); a missing one is empty; an unreadable one is an
    /// error naming the tenant and the bucket, and is left as it was.
    #[test]
    fn notify_state_round_trips_and_unreadable_state_is_an_error() {
        let storage = MemoryStorage::new();
        assert_eq!(load(&storage, "acme").unwrap(), NotifyState::default());

        let now: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let snapshot = Snapshot { held: vec![Item::new("p1", "a@x.test", "over the limit")], ..Snapshot::default() };
        let mut state = NotifyState::default();
        let sent = state.ledger.observe("acme", &snapshot, &Kind::ALL, now);
        assert_eq!(sent.len(), 1);
        state.outbox.push(&sent[0], now);
        save(&storage, "acme", &state).unwrap();

        let mut again = load(&storage, "acme").unwrap();
        assert_eq!(again, state);
        assert_eq!(again.outbox.due(now), vec![&sent[0]]);
        let later = now + jiff::SignedDuration::from_hours(5);
        assert_eq!(again.ledger.observe("acme", &snapshot, &Kind::ALL, later), Vec::<Message>::new());
        assert_eq!(load(&storage, "other").unwrap(), NotifyState::default(), "per tenant");

        storage.set(NAMESPACE, BUCKET, "acme", b"{\"ledger\": 7}").unwrap();
        let error = format!("{:#}", load(&storage, "acme").unwrap_err());
        assert!(error.starts_with("the stored notification state of tenant `acme` (host/notify-state) is unreadable"));
        assert_eq!(storage.get(NAMESPACE, BUCKET, "acme").unwrap().unwrap(), b"{\"ledger\": 7}");
    }
}
