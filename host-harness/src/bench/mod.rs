//! `host-harness bench`: measures the component against the built-in mocks on loopback — a full
//! initial sync of a generated organisation, steady (nothing changed) syncs against the fewest
//! requests the APIs allow (the median reported), an incremental sync, single events, instantiation, guest memory, the
//! component's size, teams (the organisation in `--teams` teams, teams on: the first sync's Groups
//! writes per team, a steady sync's requests per route), with `--extra-fields` every extra field
//! mapped (`fields`: the first sync, steady syncs against the floor) and a sync under Leapsome's 30 requests/s limit; the per-call cost of
//! sealing and the storage quota on SQLite; with `--tenants M`, M tenants in one real `serve`
//! (`serve/`); with `--webhooks-per-second R`, webhook latency through `serve`.
//! `--callgrind` (hidden) is the one-call mode `scripts/callgrind.sh` runs under valgrind.
//!
//! Numbers are measured and printed, never asserted: wall times depend on the machine. Progress
//! goes to stderr so that `--json` prints exactly one document on stdout.
//!
//! The modules, each importing only those listed before it: `common` (helpers), `tally`
//! (request and sync counts), `rig` (the mocks and a tenant), `replay`, `updates`, `main_run`,
//! `teams`, `rate_limited`, `overhead`, `callgrind`, `serve` (serve as a process: `--tenants`, webhooks,
//! `--serve`), `scale` (`--scale-out`), `report` (targets), `table` and `json`; this module runs them.

mod callgrind;
mod common;
mod fields;
mod json;
mod main_run;
mod overhead;
mod rate_limited;
mod replay;
mod report;
mod rig;
mod scale;
mod serve;
mod table;
mod tally;
mod teams;
mod updates;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use jiff::{Timestamp, tz::TimeZone};

use crate::cli::{BenchArgs, Global};
use crate::operator;
use crate::{PoolSize, Runtime};
use callgrind::callgrind_run;
use common::{machine, progress};
use fields::fields_run;
use main_run::main_run;
use overhead::overhead_run;
use rate_limited::rate_limited_run;
use report::Report;
use teams::{teams_for, teams_run};

/// The webhook targets are stated at this rate.
const WEBHOOK_TARGET_RATE: u32 = 50;

pub async fn run(global: &Global, args: BenchArgs) -> Result<()> {
    if args.employees == 0 {
        bail!("--employees must be at least 1");
    }
    let teams = args.teams.unwrap_or_else(|| teams_for(args.employees));
    if args.callgrind == Some(crate::cli::CallgrindCall::SteadySyncTeams) && teams == 0 {
        bail!("--callgrind steady-sync-teams needs --teams of at least 1");
    }
    let started = Instant::now();
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let component = match &global.component {
        Some(p) => p.clone(),
        None => {
            progress("building the component (cargo, a no-op when up to date)");
            crate::component::component_path()?
        }
    };
    let component_bytes = std::fs::metadata(&component)
        .with_context(|| format!("cannot read the component {}", component.display()))?
        .len();
    let cache = global.data_dir.clone().unwrap_or_else(operator::default_data_dir).join("cache");
    progress(format!("loading {} ({} bytes)", component.display(), component_bytes));
    if let Some(call) = args.callgrind {
        return callgrind_run(&component, &cache, args.employees, teams, call, today).await;
    }
    // Compiles the component into the cache (or checks the cached one) before any serve
    // process is started on that cache.
    let runtime =
        Arc::new(Runtime::new(&component, Some(&cache), PoolSize { instances: 8, max_memory_bytes: 512 << 20 })?);
    if args.scale_out {
        let mut report = scale::run(&global.host_config(), runtime, &component, args.processes as usize).await?;
        report["machine"] = machine();
        return operator::out(&format!("{}\n", serde_json::to_string_pretty(&report)?)).map_err(Into::into);
    }
    if args.serve {
        drop(runtime);
        let rate = args.webhooks_per_second.unwrap_or(WEBHOOK_TARGET_RATE);
        let mut report = serve::run(&global.host_config(), &component, rate, args.webhook_seconds).await?;
        report["machine"] = machine();
        return operator::out(&format!("{}\n", serde_json::to_string_pretty(&report)?)).map_err(Into::into);
    }

    let main = main_run(&runtime, args.employees, args.steady_syncs as usize, today).await?;
    let teams = match teams {
        0 => None,
        teams => Some(teams_run(&runtime, args.employees, teams, args.steady_syncs as usize, today).await?),
    };
    let fields = match args.extra_fields {
        true => Some(fields_run(&runtime, args.employees, args.steady_syncs as usize, today).await?),
        false => None,
    };
    let rate_limited = rate_limited_run(&runtime, args.rate_limited_employees, today).await?;
    let overhead = overhead_run(&runtime, today).await?;
    drop(runtime);
    let tenants = if args.tenants > 1 {
        let (count, each) = (args.tenants as usize, args.tenant_employees as usize);
        Some(serve::tenants(&global.host_config(), &component, count, each, &today.to_string()).await?)
    } else {
        None
    };
    let webhook = match args.webhooks_per_second {
        Some(rate) => Some(serve::webhook(&global.host_config(), &component, rate, args.webhook_seconds).await?),
        None => None,
    };

    let report = Report {
        employees: args.employees,
        component_bytes,
        main,
        teams,
        fields,
        rate_limited,
        overhead,
        tenants,
        webhook,
    };
    let document = report.to_json();
    if global.json {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        report.print();
    }
    progress(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}
