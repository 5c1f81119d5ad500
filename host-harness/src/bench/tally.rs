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
    /// Both services' requests by route (`route`): "GET /api/people", "PATCH /Groups/{id}".
    pub(super) routes: BTreeMap<String, usize>,
}

/// The path segments after which come ids: Humaans' and Leapsome's collections.
const COLLECTIONS: &[&str] = &["people", "job-roles", "companies", "users", "groups"];
/// Leapsome's mounts, dropped from its routes.
const SCIM_MOUNTS: &[&str] = &["/scim/v1", "/api/scim"];

/// A request's route: the method and the path without its query and Leapsome's mount, each
/// segment after a collection's name replaced by `{id}`, so that every account's or team's
/// request counts under one route.
pub(super) fn route(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let path = SCIM_MOUNTS.iter().find_map(|mount| path.strip_prefix(mount)).unwrap_or(path);
    let mut route = format!("{method} ");
    let mut after_collection = false;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        route.push('/');
        if after_collection {
            route.push_str("{id}");
        } else {
            route.push_str(segment);
            after_collection = COLLECTIONS.contains(&segment.to_ascii_lowercase().as_str());
        }
    }
    route
}

impl Requests {
    pub(super) fn of(humaans: &[JournalEntry], leapsome: &[JournalEntry]) -> Requests {
        let mut r = Requests::default();
        for e in humaans {
            *r.humaans.entry(e.method.clone()).or_default() += 1;
            *r.humaans_statuses.entry(e.status).or_default() += 1;
            *r.routes.entry(route(&e.method, &e.path)).or_default() += 1;
        }
        for e in leapsome {
            *r.leapsome.entry(e.method.clone()).or_default() += 1;
            *r.leapsome_statuses.entry(e.status).or_default() += 1;
            *r.routes.entry(route(&e.method, &e.path)).or_default() += 1;
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

    /// Requests on SCIM Groups, reads and writes.
    pub(super) fn groups(&self) -> usize {
        self.routes.iter().filter(|(r, _)| r.to_ascii_lowercase().contains(" /groups")).map(|(_, n)| n).sum()
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
            "by_route": self.routes,
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
    /// Teams the integration keeps (the last report's) and team changes that failed.
    pub(super) teams: u32,
    pub(super) teams_failed: u64,
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
            "teams": self.teams, "teams_failed": self.teams_failed,
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
                    preview_settings: None,
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
        t.teams = r.teams;
        for c in r.team_changes.iter().filter(|c| c.error.is_some()) {
            t.teams_failed += 1;
            if t.failures.len() < 5 {
                t.failures.push(format!("team {}: {}", c.team, c.error.as_deref().unwrap_or("")));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn routes_name_collections_and_hide_ids() {
        assert_eq!(route("GET", "/api/people"), "GET /api/people");
        assert_eq!(route("GET", "/api/people/abc123?$select[]=teams"), "GET /api/people/{id}");
        assert_eq!(route("GET", "/api/companies/x1"), "GET /api/companies/{id}");
        assert_eq!(route("GET", "/api/job-roles"), "GET /api/job-roles");
        assert_eq!(route("GET", "/scim/v1/Users"), "GET /Users");
        assert_eq!(route("PATCH", "/scim/v1/Groups/g-1"), "PATCH /Groups/{id}");
        assert_eq!(route("POST", "/api/scim/Groups"), "POST /Groups");
        assert_eq!(route("GET", "/api/me"), "GET /api/me");
    }
}
