//! The `--json` document: every section's numbers, `targets_met`, and `figures` (the table's rows
//! under their names).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::common::{machine, median, round};
use super::rate_limited::LEAPSOME_RATE;
use super::report::Report;

/// `{"target": ..., "met": ...}` for the per-section `targets` maps.
fn target(what: &str, met: bool) -> Value {
    json!({"target": what, "met": met})
}

impl Report {
    pub(super) fn to_json(&self) -> Value {
        let m = &self.main;
        let e = &m.events;
        let mut event_requests = e.requests.iter().map(|&n| n as f64).collect::<Vec<_>>();
        let rl = &self.rate_limited;
        let mut document = json!({
            "employees": self.employees,
            "machine": machine(),
            "initial_sync": {
                "wall_s": round(m.initial.wall_s, 3),
                "requests": m.initial.requests.to_json(),
                "writes": m.initial.totals.writes,
                "scim_writes": m.initial.requests.scim_writes(),
                "component_pacing": "off (scim-requests-per-second 0; the mock has no limit)",
                "report": m.initial.totals.to_json(),
                "kv": {"reads": m.initial.kv_reads, "writes": m.initial.kv_writes},
                "process_cpu_s": m.initial.process_cpu_s.map(|c| round(c, 2)),
            },
            "steady_sync": {
                "wall_s": round(m.steady.wall_s, 3),
                "runs_wall_s": m.steady_walls.iter().map(|w| round(*w, 3)).collect::<Vec<_>>(),
                "most_requests": m.steady_most_requests,
                "most_writes": m.steady_most_writes,
                "requests": m.steady.requests.total(),
                "requests_detail": m.steady.requests.to_json(),
                "floor_requests": m.floor.requests,
                "floor_inputs": {"people": m.floor.people, "job_roles": m.floor.job_roles, "scim_users": m.floor.scim_users},
                "ratio": round(self.steady_ratio(), 3),
                "mock_replay_s": round(m.mock_replay_s, 3),
                "mock_replay_leapsome_s": round(m.mock_replay_leapsome_s, 3),
                "kv": {"reads": m.steady.kv_reads, "writes": m.steady.kv_writes},
                "process_cpu_s": m.steady.process_cpu_s.map(|c| round(c, 2)),
                "writes": m.steady.totals.writes,
            },
            "incremental_sync": {
                "changed": m.incremental.changed,
                "title_changes": m.incremental.title_changes,
                "last_name_changes": m.incremental.last_name_changes,
                "writes": m.incremental.run.totals.writes,
                "scim_writes": m.incremental.run.requests.scim_writes(),
                "updated": m.incremental.run.totals.updated,
                "wall_s": round(m.incremental.run.wall_s, 3),
                "requests": m.incremental.run.requests.total(),
                "failed": m.incremental.run.totals.failed,
                "kv": {"reads": m.incremental.run.kv_reads, "writes": m.incremental.run.kv_writes},
            },
            "event": {
                "events": e.count,
                "requests": self.event_requests_max(),
                "requests_median": median(&mut event_requests),
                "requests_min": e.requests.iter().copied().min().unwrap_or(0),
                "scim_writes": e.scim_writes.iter().sum::<usize>(),
                "median_ms": round(self.event_median_ms(), 3),
                "max_ms": round(e.millis.iter().copied().fold(0.0, f64::max), 3),
                "failures": e.failures,
            },
            "instantiate_median_us": round(m.instantiate_median_us, 1),
            "instantiate_p90_us": round(m.instantiate_p90_us, 1),
            "guest_memory_peak_bytes": m.guest_memory_peak_bytes,
            "guest_memory_peak_after_initial_bytes": m.guest_memory_peak_after_initial_bytes,
            "kv": {"reads": m.kv_reads, "writes": m.kv_writes},
            "component_bytes": self.component_bytes,
            "rate_limited": {
                "employees": rl.employees,
                "limit_per_s": LEAPSOME_RATE,
                "wall_s": round(self.rate_limited_wall(), 3),
                "ideal_s": round(rl.ideal_s(), 3),
                "scim_requests": rl.accepted(),
                "http_429": rl.http_429(),
                "http_429_at": rl.run.as_ref().map_or(Vec::new(), |r| r.http_429_at.iter().copied().take(50).collect()),
                "component_pacing": "default (Leapsome's 30/s)",
                "calls": rl.run.as_ref().map_or(0, |r| r.totals.calls),
                "writes": rl.run.as_ref().map_or(0, |r| r.totals.writes),
                "complete": rl.run.as_ref().is_some_and(|r| r.totals.complete),
            },
            "overhead": self.overhead.to_json(),
            "targets_met": self.checks().into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
        });
        if let Some(t) = &self.teams {
            let mut section = t.to_json();
            section["targets"] = self
                .teams_checks(t)
                .into_iter()
                .map(|(name, what, met)| (name.trim_start_matches("teams_").to_owned(), target(what, met)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            document["teams"] = section;
        }
        if let Some(f) = &self.fields {
            let mut section = f.to_json();
            section["targets"] = self
                .fields_checks(f)
                .into_iter()
                .map(|(name, what, met)| (name.trim_start_matches("fields_").to_owned(), target(what, met)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            document["extra_fields"] = section;
        }
        if let Some(t) = &self.tenants {
            let mut section = t.json.clone();
            section["targets"] = self
                .tenant_checks(t)
                .into_iter()
                .map(|(name, what, met)| (name.trim_start_matches("tenants_").to_owned(), target(what, met)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            document["tenants"] = section;
        }
        if let Some(w) = &self.webhook {
            let mut section = w.clone();
            section["rate"] = w["rate_per_s"].clone();
            section["targets"] = self
                .webhook_checks(w)
                .into_iter()
                .map(|(name, what, met)| (name.trim_start_matches("webhook_").to_owned(), target(what, met)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            document["webhook"] = section;
        }
        // Every targeted figure as the text table prints it, under the same names.
        let checks: BTreeMap<&str, bool> = self.checks().into_iter().collect();
        document["figures"] = self
            .rows()
            .into_iter()
            .filter(|r| !r[4].is_empty())
            .map(|r| {
                let met = checks.get(r[4].as_str()).copied();
                (r[4].clone(), json!({"measure": r[0].trim(), "value": r[1], "target": r[2], "met": met}))
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        document
    }
}
