//! Ticks every connected tenant every `--tick-every` and runs a reconciling `sync-all` every
//! `--sync-every`. First runs are spread over the whole period and later ones jittered by ±10%,
//! so tenants do not all fire at once. A run that finds its tenant busy is skipped (and counted):
//! the next one comes a period later.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::App;
use crate::plugin::api;

/// How often the scheduler looks for due runs (and new tenants).
const STEP: Duration = Duration::from_millis(250);
/// How often done inbox items older than `--keep-days` are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A random fraction in [0, 1), from std's per-process random hasher keys (no extra crate for a
/// jitter that needs no cryptographic quality).
fn random_fraction() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `period` ± 10%.
fn jittered(period: Duration) -> Duration {
    period.mul_f64(0.9 + 0.2 * random_fraction())
}

struct Due {
    tick: Instant,
    sync: Instant,
}

pub async fn run(app: Arc<App>) {
    let mut due: HashMap<String, Due> = HashMap::new();
    let mut stopping = app.stopping();
    let (tick_every, sync_every) = (app.args.tick_every, app.args.sync_every);
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        if app.is_stopping() {
            return;
        }
        let now = Instant::now();
        if now >= next_prune {
            next_prune = now + PRUNE_EVERY;
            match app.inbox.prune(app.args.keep_days) {
                Ok(n) => app.log.info("inbox pruned", &[("removed", n.to_string())]),
                Err(e) => app.log.warn("the inbox cannot be pruned", &[("error", format!("{e:#}"))]),
            }
        }
        let tenants = app.host.tenants().unwrap_or_default();
        for tenant in tenants {
            let d = due.entry(tenant.clone()).or_insert_with(|| Due {
                tick: now + tick_every.mul_f64(random_fraction()),
                sync: now + sync_every.mul_f64(random_fraction()),
            });
            let tick_due = d.tick <= now;
            let sync_due = d.sync <= now;
            if !tick_due && !sync_due {
                continue;
            }
            // A sync reconciles everything a tick would, so a due sync takes the slot.
            let kind = if sync_due { "sync-all" } else { "tick" };
            if sync_due {
                d.sync = now + jittered(sync_every);
            }
            if tick_due {
                d.tick = now + jittered(tick_every);
            }
            let Some(lock) = app.workers.try_lock(&tenant) else {
                app.metrics.skipped(kind);
                app.log.info("scheduled run skipped: the tenant is busy", &[("tenant", tenant), ("kind", kind.into())]);
                continue;
            };
            let app = app.clone();
            tokio::spawn(async move {
                let turn = app.workers.turn(lock).await;
                if kind == "tick" {
                    scheduled_tick(&app, &tenant).await;
                } else {
                    scheduled_sync(&app, &tenant).await;
                }
                drop(turn);
                app.work.notify_one();
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(STEP) => {}
            _ = stopping.changed() => {}
        }
    }
}

async fn scheduled_tick(app: &App, tenant: &str) {
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
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
async fn scheduled_sync(app: &App, tenant: &str) {
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let options =
        api::SyncOptions { dry_run: false, max_writes: Some(app.args.max_writes.max(1)), approve_deprovisions: false };
    while !app.is_stopping() {
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
