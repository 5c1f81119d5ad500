//! What a run counts: the requests the mocks received, and the sum of `sync-all` reports.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::common::progress;
use crate::TenantPlugin;
use crate::operator::{self, done};
use crate::plugin::api;
use mock_servers::JournalEntry;

/// Requests the two mocks received, by service and method.
#[derive(Debug, Default, Clone)]
pub(super) struct Requests {
    pub(super) humaans: BTreeMap<String, usize>,
    pub(super) leapsome: BTreeMap<String, usize>,
    /// Leapsome answers by status (429s, errors).
    pub(super) leapsome_statuses: BTreeMap<u16, usize>,
    pub(super) humaans_statuses: BTreeMap<u16, usize>,
}

impl Requests {
    pub(super) fn of(humaans: &[JournalEntry], leapsome: &[JournalEntry]) -> Requests {
        let mut r = Requests::default();
        for e in humaans {
            *r.humaans.entry(e.method.clone()).or_default() += 1;
            *r.humaans_statuses.entry(e.status).or_default() += 1;
        }
        for e in leapsome {
            *r.leapsome.entry(e.method.clone()).or_default() += 1;
            *r.leapsome_statuses.entry(e.status).or_default() += 1;
        }
        r
    }

    pub(super) fn humaans_total(&self) -> usize {
        self.humaans.values().sum()
    }

    pub(super) fn leapsome_total(&self) -> usize {
        self.leapsome.values().sum()
    }

    pub(super) fn total(&self) -> usize {
        self.humaans_total() + self.leapsome_total()
    }

    /// Leapsome requests that change something.
    pub(super) fn scim_writes(&self) -> usize {
        self.leapsome.iter().filter(|(m, _)| m.as_str() != "GET").map(|(_, n)| n).sum()
    }

    pub(super) fn leapsome_with_status(&self, status: u16) -> usize {
        self.leapsome_statuses.get(&status).copied().unwrap_or(0)
    }

    pub(super) fn to_json(&self) -> Value {
        let statuses = |m: &BTreeMap<u16, usize>| -> Value {
            m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>().into()
        };
        json!({
            "total": self.total(),
            "humaans": {"total": self.humaans_total(), "by_method": self.humaans, "by_status": statuses(&self.humaans_statuses)},
            "leapsome": {"total": self.leapsome_total(), "by_method": self.leapsome, "by_status": statuses(&self.leapsome_statuses)},
        })
    }
}

/// The sum of the reports of `sync-all` calls repeated until complete.
#[derive(Debug, Default, Clone)]
pub(super) struct SyncTotals {
    pub(super) calls: u32,
    pub(super) created: u64,
    pub(super) adopted: u64,
    pub(super) updated: u64,
    pub(super) deprovisioned: u64,
    pub(super) reactivated: u64,
    pub(super) managers_linked: u64,
    pub(super) failed: u64,
    pub(super) writes: u64,
    pub(super) people: u32,
    pub(super) scim_users: u32,
    pub(super) managers_pending: u32,
    pub(super) skipped: u32,
    pub(super) complete: bool,
    /// The first few failures, for the report.
    pub(super) failures: Vec<String>,
}

impl SyncTotals {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "calls": self.calls, "created": self.created, "adopted": self.adopted, "updated": self.updated,
            "deprovisioned": self.deprovisioned, "reactivated": self.reactivated,
            "managers_linked": self.managers_linked, "managers_pending": self.managers_pending,
            "failed": self.failed, "skipped": self.skipped, "people": self.people, "scim_users": self.scim_users,
            "complete": self.complete, "failures": self.failures,
        })
    }
}

/// `sync-all` with no write budget, repeated until the component reports `complete` (or a call
/// writes nothing, or after 20 calls: a component that never completes must not hang the bench).
pub(super) async fn sync_until_complete(plugin: &TenantPlugin) -> Result<SyncTotals> {
    let mut t = SyncTotals::default();
    loop {
        let r = done(
            plugin
                .sync_all(api::SyncOptions {
                    dry_run: false,
                    max_writes: None,
                    approve_deprovisions: false,
                    repair_teams: false,
                })
                .await,
        )
        .context("sync-all")?;
        t.calls += 1;
        t.created += u64::from(r.created);
        t.adopted += u64::from(r.adopted);
        t.updated += u64::from(r.updated);
        t.deprovisioned += u64::from(r.deprovisioned);
        t.reactivated += u64::from(r.reactivated);
        t.managers_linked += u64::from(r.managers_linked);
        t.failed += u64::from(r.failed);
        t.writes += u64::from(r.writes);
        t.people = r.people;
        t.scim_users = r.scim_users;
        t.managers_pending = r.managers_pending;
        t.skipped = r.skipped;
        t.complete = r.complete;
        for c in r.changes.iter().filter(|c| c.error.is_some()) {
            if t.failures.len() < 5 {
                t.failures.push(format!(
                    "{} {}: {}",
                    operator::name_of(&c.kind),
                    c.email,
                    c.error.as_deref().unwrap_or("")
                ));
            }
        }
        if r.complete || r.writes == 0 || t.calls >= 20 {
            if !r.complete {
                progress(format!(
                    "warning: sync-all not complete after {} calls ({} writes remain)",
                    t.calls, r.remaining_writes
                ));
            }
            return Ok(t);
        }
    }
}
