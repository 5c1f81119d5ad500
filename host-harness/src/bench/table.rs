//! The printed table: its rows are also `figures` in the `--json` document.

use std::collections::BTreeMap;

use super::common::machine;
use super::overhead::OVERHEAD_PEOPLE;
use super::report::{Report, SyncTargets};
use crate::operator::table;

impl Report {
    /// The printed table's rows: measure, value, target, met, and the figure's name: its key in
    /// `targets_met` and `figures`, and the name BENCHMARKS.md's table of today's figures uses, so
    /// a reader can match the three (empty for rows that only detail the one above).
    pub(super) fn rows(&self) -> Vec<Vec<String>> {
        let m = &self.main;
        let checks: BTreeMap<&str, bool> = self.checks().into_iter().collect();
        let mark = |name: &str| match checks.get(name) {
            Some(true) => "yes".to_owned(),
            Some(false) => "NO".to_owned(),
            None => "-".to_owned(),
        };
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
        let row = |what: &str, value: String, target: &str, check: &str| {
            let met = if check.is_empty() { String::new() } else { mark(check) };
            vec![what.to_owned(), value, target.to_owned(), met, check.to_owned()]
        };
        let i = &m.initial;
        let rl = &self.rate_limited;
        let t = SyncTargets::for_employees(self.employees);
        let mut rows = vec![
            row(
                &format!("initial sync ({} people, {} calls)", m.floor.people, i.totals.calls),
                format!("{:.2} s", i.wall_s),
                &SyncTargets::seconds(t.initial_wall_s),
                "initial_sync_wall",
            ),
            row(
                "  requests (Humaans / Leapsome)",
                format!("{} ({} / {})", i.requests.total(), i.requests.humaans_total(), i.requests.leapsome_total()),
                "",
                "",
            ),
            row(
                "  Leapsome by method",
                i.requests.leapsome.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
                "",
                "",
            ),
            row(
                "  writes (created/adopted/managers/deprov.)",
                format!(
                    "{} ({}/{}/{}/{})",
                    i.totals.writes,
                    i.totals.created,
                    i.totals.adopted,
                    i.totals.managers_linked,
                    i.totals.deprovisioned
                ),
                "complete, 0 failed",
                "initial_sync_complete",
            ),
            row(
                &format!("steady sync (median of {})", m.steady_walls.len()),
                format!("{:.3} s", m.steady.wall_s),
                &SyncTargets::seconds(t.steady_wall_s),
                "steady_sync_wall",
            ),
            row(
                "  requests / floor",
                format!("{} / {} = {:.2}x", m.steady_most_requests, m.floor.requests, self.steady_ratio()),
                "<= 1.1x floor",
                "steady_sync_ratio",
            ),
            row("  writes (most of any)", m.steady_most_writes.to_string(), "0", "steady_sync_no_writes"),
            row("  the same reads, bench alone, serial", format!("{:.3} s", m.mock_replay_s), "", ""),
            row(
                "incremental sync: changed / writes",
                format!("{} / {}", m.incremental.changed, m.incremental.run.totals.writes),
                "writes = changed",
                "incremental_writes_equal_changed",
            ),
            row("  wall", format!("{:.3} s", m.incremental.run.wall_s), "", ""),
            row("event: median wall", format!("{:.2} ms", self.event_median_ms()), "< 20 ms", "event_median_ms"),
            row("  requests (max over events)", self.event_requests_max().to_string(), "<= 5", "event_requests"),
            row(
                "instantiate (median of 200)",
                format!("{:.1} µs", m.instantiate_median_us),
                "< 100 µs",
                "instantiate_median_us",
            ),
            row(
                "guest memory peak",
                mib(m.guest_memory_peak_bytes),
                &format!("< {} MiB", t.memory_bytes >> 20),
                "guest_memory_peak",
            ),
            row("component size", format!("{} KiB", self.component_bytes.div_ceil(1024)), "< 1 MiB", "component_bytes"),
        ];
        if let Some(t) = &self.teams {
            let targets = self.teams_checks(t);
            let target = |name: &str| targets.iter().find(|(n, _, _)| *n == name).map_or("", |(_, what, _)| *what);
            let i = &t.initial;
            rows.push(row(
                &format!("teams: first sync ({} people, {} teams wanted)", t.floor.people, t.per_team.len()),
                format!("{:.2} s, {} teams exact, {} failed", i.wall_s, t.teams_exact, i.totals.teams_failed),
                target("teams_first_sync_complete"),
                "teams_first_sync_complete",
            ));
            let worst = t.worst().map_or("no team".to_owned(), |w| {
                format!("{:.2} ({}: {} members, {} / {})", w.ratio(), w.name, w.members, w.writes, w.allowed())
            });
            rows.push(row(
                "  team writes / (ceil(members/100)+1), largest",
                worst,
                target("teams_first_sync_writes_per_team"),
                "teams_first_sync_writes_per_team",
            ));
            let first = |route: &str| i.requests.routes.get(route).copied().unwrap_or(0);
            rows.push(row(
                "  Groups requests (GET / POST / PATCH)",
                format!(
                    "{} ({} / {} / {})",
                    i.requests.groups(),
                    first("GET /Groups"),
                    first("POST /Groups"),
                    first("PATCH /Groups/{id}")
                ),
                "",
                "",
            ));
            rows.push(row(
                &format!("teams: steady sync (most of {})", t.steady_syncs),
                t.steady_most_writes.to_string(),
                target("teams_steady_no_writes"),
                "teams_steady_no_writes",
            ));
            rows.push(row(
                "  requests / floor + Groups pages",
                format!(
                    "{} / {} + {} ({} on Groups)",
                    t.steady.requests.total(),
                    t.floor.requests,
                    t.groups_pages(),
                    t.steady.requests.groups()
                ),
                target("teams_steady_requests"),
                "teams_steady_requests",
            ));
            rows.push(row("  wall (median)", format!("{:.3} s", t.steady_wall_median()), "", ""));
            for (route, n) in &t.steady.requests.routes {
                rows.push(row(&format!("    {route}"), n.to_string(), "", ""));
            }
        }
        if let Some(f) = &self.fields {
            let targets = self.fields_checks(f);
            let target = |name: &str| targets.iter().find(|(n, _, _)| *n == name).map_or("", |(_, what, _)| *what);
            let i = &f.initial;
            rows.push(row(
                &format!("extra fields: first sync ({} people, every field mapped)", f.floor.people),
                format!(
                    "{:.2} s, {} of {} accounts exact, {} failed",
                    i.wall_s, f.accounts_exact, f.accounts, i.totals.failed
                ),
                target("fields_first_sync_complete"),
                "fields_first_sync_complete",
            ));
            rows.push(row(
                &format!("extra fields: steady sync (most of {})", f.steady_syncs),
                f.steady_most_writes.to_string(),
                target("fields_steady_no_writes"),
                "fields_steady_no_writes",
            ));
            rows.push(row(
                "  requests / floor + locations pages",
                format!("{} / {} + {}", f.steady.requests.total(), f.floor.requests, f.location_pages()),
                target("fields_steady_requests"),
                "fields_steady_requests",
            ));
            rows.push(row("  wall (median)", format!("{:.3} s", f.steady_wall_median()), "", ""));
        }
        if rl.run.is_some() {
            rows.push(row(
                &format!("rate-limited sync ({} people, 30/s)", rl.employees),
                format!("{:.1} s (ideal {:.1} s)", self.rate_limited_wall(), rl.ideal_s()),
                "<= 1.1x ideal",
                "rate_limited_within_10pct",
            ));
            rows.push(row("  429 answers", rl.http_429().to_string(), "0", "rate_limited_no_429"));
        }
        let o = &self.overhead;
        rows.push(row(
            &format!("quota per call, sealed SQLite ({OVERHEAD_PEOPLE} people)"),
            format!(
                "event {:.0} µs, steady sync {:.0} µs, first sync {:.0} µs",
                o.quota_us(o.event_writes),
                o.quota_us(o.steady_sync_writes),
                o.quota_us(o.first_sync_writes)
            ),
            "",
            "",
        ));
        rows.push(row(
            "  connection read sealed / plain",
            format!("{:.1} / {:.1} µs", o.sealed_get_us, o.plain_connection_get_us),
            "",
            "",
        ));
        if let Some(t) = &self.tenants {
            let secs = |w: Option<f64>| w.map_or("not all in time".to_owned(), |w| format!("{w:.2} s"));
            let count = t.json["count"].as_u64().unwrap_or(0);
            rows.push(row(
                &format!("{count} tenants in serve: round of ticks"),
                secs(t.tick_round_wall_s),
                "< 10 s",
                "tenants_tick_round_wall",
            ));
            rows.push(row(
                "  round of steady syncs",
                secs(t.steady_round_wall_s),
                "< 60 s",
                "tenants_steady_round_wall",
            ));
            rows.push(row("  SCIM writes in it", t.steady_scim_writes.to_string(), "0", "tenants_steady_no_writes"));
            rows.push(row("  serve peak RSS", mib(t.host_rss_peak_bytes), "< 1 GiB", "tenants_host_rss_peak"));
            rows.push(row(
                "  instantiation per call (median bucket, mean)",
                format!(
                    "<= {} µs, mean {:.1} µs",
                    t.instantiate.p50_at_most_us.map_or("?".to_owned(), |u| format!("{u:.0}")),
                    t.instantiate.mean_us
                ),
                "<= 100 µs",
                "tenants_instantiate_p50_us",
            ));
        }
        if let Some(w) = &self.webhook {
            let rate = w["rate_per_s"].as_u64().unwrap_or(0);
            rows.push(row(
                &format!("webhook -> write at {rate}/s: p50"),
                format!("{} ms", w["p50_ms"]),
                "< 20 ms",
                "webhook_p50_ms",
            ));
            rows.push(row("  p99", format!("{} ms", w["p99_ms"]), "< 100 ms", "webhook_p99_ms"));
            rows.push(row(
                "  written (SCIM writes seen / webhooks)",
                format!("{} / {}", w["scim_writes_seen"], w["webhooks"]),
                "every webhook 202 and written",
                "webhook_all_applied",
            ));
        }
        rows
    }

    pub(super) fn print(&self) {
        let machine = machine();
        println!(
            "Benchmark: {} employees on {} ({} CPUs, {} host build)\n",
            self.employees,
            machine["uname"].as_str().unwrap_or("?"),
            machine["cpus"],
            machine["host_profile"].as_str().unwrap_or("?")
        );
        print!("{}", table(&["MEASURE", "VALUE", "TARGET", "MET", "NAME"], &self.rows()));
    }
}
