//! The N-employee run: initial sync, steady syncs against the floor of requests, then the
//! incremental sync and the single events (`updates`), instantiation and guest memory.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::civil::Date;

use super::common::{median, progress};
use super::replay::replay_reads;
use super::rig::{CpuDeadline, Rig, Timed, timed_sync};
use super::updates::{Events, Incremental, event_run, incremental_run};
use crate::{MemoryStorage, Runtime};

/// Humaans pages hold at most 250 items; Leapsome's SCIM list pages 5000 users.
const HUMAANS_PAGE: usize = 250;
const SCIM_PAGE: usize = 5000;
const INSTANTIATIONS: usize = 200;
const INSTANTIATION_WARMUP: usize = 20;

#[derive(Debug, Clone)]
pub(super) struct Floor {
    pub(super) people: usize,
    pub(super) job_roles: usize,
    pub(super) scim_users: usize,
    pub(super) requests: usize,
}

impl Floor {
    /// The fewest requests a steady sync can make: every page of people, of job roles and of
    /// SCIM users, and the company.
    pub(super) fn of(people: usize, job_roles: usize, scim_users: usize) -> Floor {
        let requests = pages(people, HUMAANS_PAGE) + pages(job_roles, HUMAANS_PAGE) + 1 + pages(scim_users, SCIM_PAGE);
        Floor { people, job_roles, scim_users, requests }
    }
}

#[derive(Debug, Clone)]
pub(super) struct MainRun {
    pub(super) initial: Timed,
    /// The steady sync of median wall time.
    pub(super) steady: Timed,
    /// Every steady sync's wall time, in order.
    pub(super) steady_walls: Vec<f64>,
    /// The most requests and writes any steady sync made.
    pub(super) steady_most_requests: usize,
    pub(super) steady_most_writes: u64,
    pub(super) floor: Floor,
    pub(super) incremental: Incremental,
    pub(super) events: Events,
    pub(super) instantiate_median_us: f64,
    pub(super) instantiate_p90_us: f64,
    pub(super) guest_memory_peak_bytes: u64,
    pub(super) guest_memory_peak_after_initial_bytes: u64,
    /// The steady sync's reads sent again by the bench itself, one at a time: the mocks' share of
    /// the steady sync's wall time (an upper bound: the component overlaps its page reads).
    pub(super) mock_replay_s: f64,
    /// The part of `mock_replay_s` spent on mock Leapsome.
    pub(super) mock_replay_leapsome_s: f64,
    pub(super) kv_reads: u64,
    pub(super) kv_writes: u64,
}

pub(super) async fn main_run(
    runtime: &Arc<Runtime>,
    employees: usize,
    steady_syncs: usize,
    today: Date,
) -> Result<MainRun> {
    let rig = Rig::start(
        runtime,
        employees,
        today,
        "bench",
        Some(0),
        Arc::new(MemoryStorage::new()),
        CpuDeadline::HostDefault,
    )
    .await?;
    let job_roles = rig.humaans.seed().job_roles.len();
    let people = rig.humaans.people().len();
    progress(format!("initial sync of {people} people ({job_roles} job roles)"));
    let initial = timed_sync(&rig).await.context("initial sync")?;
    progress(format!(
        "initial sync: {:.2} s, {} requests, {} writes",
        initial.wall_s,
        initial.requests.total(),
        initial.totals.writes
    ));

    let guest_memory_peak_after_initial_bytes = rig.plugin.stats().peak_memory_bytes.load(Ordering::Relaxed);
    let mut steady_runs = Vec::with_capacity(steady_syncs);
    for n in 1..=steady_syncs {
        progress(format!("steady sync {n} of {steady_syncs} (nothing changed)"));
        let run = timed_sync(&rig).await.context("steady sync")?;
        progress(format!("steady sync {n}: {:.2} s", run.wall_s));
        steady_runs.push(run);
    }
    let steady_walls: Vec<f64> = steady_runs.iter().map(|r| r.wall_s).collect();
    let steady_most_requests = steady_runs.iter().map(|r| r.requests.total()).max().unwrap_or(0);
    let steady_most_writes = steady_runs.iter().map(|r| r.totals.writes).max().unwrap_or(0);
    // The run of median wall time (the lower middle of an even count) stands for all of them.
    steady_runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    let steady = steady_runs.swap_remove((steady_runs.len() - 1) / 2);
    let scim_users = rig.leapsome.users().len();
    let floor = Floor::of(people, job_roles, scim_users);
    let floor_requests = floor.requests;
    progress(format!(
        "steady sync, median of {steady_syncs}: {:.2} s, {} requests (floor {floor_requests}), {} writes",
        steady.wall_s,
        steady.requests.total(),
        steady.totals.writes
    ));
    let guest_memory_peak_bytes = rig.plugin.stats().peak_memory_bytes.load(Ordering::Relaxed);
    let (mock_replay_s, mock_replay_leapsome_s) = replay_reads(&rig).await?;
    progress(format!(
        "the same reads straight from the bench, one at a time: {mock_replay_s:.2} s ({mock_replay_leapsome_s:.2} s of it Leapsome)"
    ));

    let incremental = incremental_run(&rig, today).await?;
    let events = event_run(&rig, &incremental.people).await?;

    progress(format!("instantiating {INSTANTIATIONS} times"));
    for _ in 0..INSTANTIATION_WARMUP {
        rig.plugin.instantiate_only().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut micros = Vec::with_capacity(INSTANTIATIONS);
    for _ in 0..INSTANTIATIONS {
        let start = Instant::now();
        rig.plugin.instantiate_only().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let instantiate_median_us = median(&mut micros);
    let instantiate_p90_us = micros[(micros.len() * 9 / 10).min(micros.len() - 1)];

    let stats = rig.plugin.stats();
    Ok(MainRun {
        initial,
        steady,
        steady_walls,
        steady_most_requests,
        steady_most_writes,
        floor,
        incremental,
        events,
        instantiate_median_us,
        instantiate_p90_us,
        guest_memory_peak_bytes,
        guest_memory_peak_after_initial_bytes,
        mock_replay_s,
        mock_replay_leapsome_s,
        kv_reads: stats.kv_reads.load(Ordering::Relaxed),
        kv_writes: stats.kv_writes.load(Ordering::Relaxed),
    })
}

/// Pages of `page` items for `items` (at least one: an empty list is still read).
pub(super) fn pages(items: usize, page: usize) -> usize {
    items.div_ceil(page).max(1)
}
