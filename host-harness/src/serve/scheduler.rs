//! Ticks every connected tenant every `--tick-every` and runs a reconciling `sync-all` every
//! `--sync-every`. The schedule lives in the store (`WorkQueue::due` / `claim_run`), so processes
//! sharing it split the due runs between them and each run goes to one process. First runs are
//! spread over the whole period and later ones jittered by ±10%, so tenants do not all fire at
//! once.
//!
//! No due run is lost. A run stays due in the store until a process holding the tenant's lease
//! claims it, so a run that falls due while its tenant is busy waits: a tenant busy in this
//! process has it taken by the tenant's turn between two calls
//! ([`Waiting::take`](super::waiting::Waiting::take), in the inbox dispatcher's drain: steady
//! webhook traffic cannot hold a nightly sync off), a tenant free here gets a turn of its own, and
//! a tenant another process holds is asked for again a second later (that process's own scheduler
//! hands the run to its turn). The rule is [`Waiting`](super::waiting::Waiting) plus
//! [`ScheduleRow`](crate::storage::ScheduleRow): free of I/O and clocks, and run for a simulated
//! week in `waiting.rs`' tests.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::app::App;
use super::turns::TenantTurn;
use super::waiting::Decision;
use crate::plugin::api;
use crate::storage::{Claimed, Periods, RunKind};

/// How often the scheduler looks for due runs (and new tenants).
const STEP: Duration = Duration::from_millis(250);
/// How long a tenant another process holds is left alone before its lease is asked for again.
const ELSEWHERE_RETRY: Duration = Duration::from_secs(1);
/// How often done inbox items older than `--keep-days` are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(app: Arc<App>) {
    app.metrics.count_dead_letters_in(app.queue.clone());
    let mut stopping = app.stopping();
    let periods = periods(&app);
    let started = Instant::now();
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        if app.is_stopping() {
            return;
        }
        let now = Instant::now();
        if now >= next_prune {
            next_prune = now + PRUNE_EVERY;
            match app.queue.prune(app.config.keep_days) {
                Ok(removed) => tracing::info!(removed, "inbox pruned"),
                Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the inbox cannot be pruned"),
            }
        }
        match app.host.tenants().and_then(|tenants| app.queue.due(&tenants, periods)) {
            Ok(due) => {
                let now_ms = now.duration_since(started).as_millis() as u64;
                let decisions = app.workers.waiting().step(now_ms, &due, |t| app.workers.is_busy(t));
                for decision in decisions {
                    match decision {
                        Decision::Start(tenant, kind) => start(&app, tenant, kind, started),
                        Decision::Wait { tenant, kind, first: true } => {
                            app.metrics.waited(kind.as_str());
                            tracing::debug!(tenant, kind = kind.as_str(), "scheduled run waits: the tenant is busy")
                        }
                        Decision::Wait { .. } => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the schedule cannot be read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(STEP) => {}
            _ = stopping.changed() => {}
        }
    }
}

fn periods(app: &App) -> Periods {
    Periods { tick: app.config.tick_every, sync: app.config.sync_every }
}

/// Starts a turn for a due run of a tenant free in this process. If another process holds the
/// tenant, the run stays due and is asked for again after `ELSEWHERE_RETRY`.
fn start(app: &Arc<App>, tenant: String, kind: RunKind, started: Instant) {
    let Some(lock) = app.workers.try_lock(&tenant) else { return };
    let app = app.clone();
    let run = super::log::run_span(&tenant, "schedule");
    tokio::spawn(
        async move {
            let turn = app.workers.turn(lock).await;
            let Some(turn) = app.leased_turn(&tenant, turn) else {
                app.metrics.waited(kind.as_str());
                let now_ms = started.elapsed().as_millis() as u64;
                app.workers.waiting().held_elsewhere(&tenant, now_ms, ELSEWHERE_RETRY.as_millis() as u64);
                tracing::debug!(tenant, kind = kind.as_str(), "scheduled run waits: another process holds the tenant");
                return;
            };
            run_due(&app, &turn).await;
            drop(turn);
            super::notifications::after_turn(&app, &tenant);
            app.work.notify_one();
        }
        .instrument(run),
    );
}

/// Claims the run the turn's tenant is due (if another process or turn has not already) and
/// makes it. Called by a scheduler's turn, and by a drain between two events.
pub async fn run_due(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let run = super::log::run_span(tenant, "schedule");
    match app.queue.claim_run(&turn.lease, periods(app)) {
        Ok(Some(Claimed { kind: RunKind::Tick, .. })) => scheduled_tick(app, turn).instrument(run).await,
        Ok(Some(Claimed { kind: RunKind::Sync, .. })) => scheduled_sync(app, turn).instrument(run).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(tenant, error = %format_args!("{e:#}"), "the schedule cannot be written"),
    }
}

async fn scheduled_tick(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin).in_run(crate::Run::new("schedule"));
    let now = format!("{:.0}", jiff::Timestamp::now());
    match app.timed(tenant, "tick", plugin.tick(&now)).await {
        Ok(Ok(r)) => {
            let (provisioned, deprovisioned, failed) = (r.provisioned, r.deprovisioned, r.failed);
            tracing::info!(tenant, provisioned, deprovisioned, failed, "tick")
        }
        Ok(Err(e)) => tracing::warn!(tenant, error = crate::operator::describe(&e), "tick refused"),
        Err(e) => tracing::warn!(tenant, error = %e, "tick failed"),
    }
}

/// Calls sync-all within the write budget until it completes (or stops writing, or we stop).
async fn scheduled_sync(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin).in_run(crate::Run::new("schedule"));
    let options = api::SyncOptions {
        dry_run: false,
        max_writes: Some(app.config.max_writes.max(1)),
        approve_deprovisions: false,
        repair_teams: false,
        preview_settings: None,
    };
    while !app.is_stopping() && turn.clock.is_current() {
        match app.timed(tenant, "sync-all", plugin.sync_all(options.clone())).await {
            Ok(Ok(r)) => {
                tracing::info!(tenant, writes = r.writes, remaining = r.remaining_writes, "scheduled sync");
                if r.complete || r.writes == 0 {
                    return;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(tenant, error = crate::operator::describe(&e), "scheduled sync refused");
                return;
            }
            Err(e) => {
                tracing::warn!(tenant, error = %e, "scheduled sync failed");
                return;
            }
        }
    }
}
