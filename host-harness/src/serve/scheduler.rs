//! Ticks every connected tenant every `--tick-every` and runs a reconciling `sync-all` every
//! `--sync-every`. The schedule lives in the store (`WorkQueue::claim_due`), so processes sharing
//! it split the due runs between them and each run goes to one process. First runs are spread
//! over the whole period and later ones jittered by ±10%, so tenants do not all fire at once. A
//! run that finds its tenant busy (here or in another process) is skipped (and counted): the
//! next one comes a period later.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::App;
use super::workers::TenantTurn;
use crate::plugin::api;
use crate::storage::{Periods, RunKind};

/// How often the scheduler looks for due runs (and new tenants).
const STEP: Duration = Duration::from_millis(250);
/// How often done inbox items older than `--keep-days` are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(app: Arc<App>) {
    let mut stopping = app.stopping();
    let periods = Periods { tick: app.args.tick_every, sync: app.args.sync_every };
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        if app.is_stopping() {
            return;
        }
        let now = Instant::now();
        if now >= next_prune {
            next_prune = now + PRUNE_EVERY;
            match app.queue.prune(app.args.keep_days) {
                Ok(n) => app.log.info("inbox pruned", &[("removed", n.to_string())]),
                Err(e) => app.log.warn("the inbox cannot be pruned", &[("error", format!("{e:#}"))]),
            }
        }
        let due = app.host.tenants().and_then(|tenants| app.queue.claim_due(&tenants, periods));
        match due {
            Ok(due) => {
                for (tenant, kind) in due {
                    start(&app, tenant, kind);
                }
            }
            Err(e) => app.log.warn("the schedule cannot be read", &[("error", format!("{e:#}"))]),
        }
        tokio::select! {
            _ = tokio::time::sleep(STEP) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Starts a claimed run, unless the tenant is busy here or in another process (then it is
/// skipped and counted: the next one comes a period later).
fn start(app: &Arc<App>, tenant: String, kind: RunKind) {
    let skipped = |why: &str| {
        app.metrics.skipped(kind.as_str());
        app.log.info(why, &[("tenant", tenant.clone()), ("kind", kind.as_str().into())]);
    };
    let Some(lock) = app.workers.try_lock(&tenant) else {
        return skipped("scheduled run skipped: the tenant is busy");
    };
    let app = app.clone();
    tokio::spawn(async move {
        let turn = app.workers.turn(lock).await;
        let Some(turn) = app.leased_turn(&tenant, turn) else {
            app.metrics.skipped(kind.as_str());
            return;
        };
        match kind {
            RunKind::Tick => scheduled_tick(&app, &turn).await,
            RunKind::Sync => scheduled_sync(&app, &turn).await,
        }
        drop(turn);
        app.work.notify_one();
    });
}

async fn scheduled_tick(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match app.timed("tick", plugin.tick(&now)).await {
        Ok(Ok(r)) => app.log.info(
            "tick",
            &[
                ("tenant", tenant.to_owned()),
                ("provisioned", r.provisioned.to_string()),
                ("deprovisioned", r.deprovisioned.to_string()),
                ("failed", r.failed.to_string()),
            ],
        ),
        Ok(Err(e)) => {
            app.log.warn("tick refused", &[("tenant", tenant.to_owned()), ("error", crate::operator::describe(&e))])
        }
        Err(e) => app.log.warn("tick failed", &[("tenant", tenant.to_owned()), ("error", e.to_string())]),
    }
}

/// Calls sync-all within the write budget until it completes (or stops writing, or we stop).
async fn scheduled_sync(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin);
    let options =
        api::SyncOptions { dry_run: false, max_writes: Some(app.args.max_writes.max(1)), approve_deprovisions: false };
    while !app.is_stopping() && turn.clock.is_current() {
        match app.timed("sync-all", plugin.sync_all(options)).await {
            Ok(Ok(r)) => {
                app.log.info(
                    "scheduled sync",
                    &[
                        ("tenant", tenant.to_owned()),
                        ("writes", r.writes.to_string()),
                        ("remaining", r.remaining_writes.to_string()),
                    ],
                );
                if r.complete || r.writes == 0 {
                    return;
                }
            }
            Ok(Err(e)) => {
                app.log.warn(
                    "scheduled sync refused",
                    &[("tenant", tenant.to_owned()), ("error", crate::operator::describe(&e))],
                );
                return;
            }
            Err(e) => {
                app.log.warn("scheduled sync failed", &[("tenant", tenant.to_owned()), ("error", e.to_string())]);
                return;
            }
        }
    }
}
