//! Notifications in `serve`: after a turn that ran a tenant (events, a scheduled tick or sync, an
//! operator action through the API), a short turn of its own checks the tenant's incidents and
//! claims what is due (`operator::notify`); the messages are then sent outside any turn, and the
//! outcome recorded in a second short turn. The run is over and the API has answered before the
//! check starts, and no call waits for a receiver that hangs. At most one check per tenant waits
//! at a time; one that starts after a change sees it.

use std::sync::Arc;

use super::app::App;
use crate::operator::notify;

/// Queues a check of `tenant`'s notifications, unless one is already waiting or notifications
/// are off for it.
pub fn after_turn(app: &Arc<App>, tenant: &str) {
    match notify::load_config(&*app.host.storage, tenant) {
        Ok(config) if config.url.is_some() => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(tenant, error = %format_args!("{e:#}"), "notification settings unreadable");
            return;
        }
    }
    if !app.notify_waiting.lock().unwrap().insert(tenant.to_owned()) {
        return;
    }
    let (app, tenant) = (app.clone(), tenant.to_owned());
    tokio::spawn(async move {
        let turn = app.wait_leased_turn(&tenant).await;
        // From here a later change queues a check of its own.
        app.notify_waiting.lock().unwrap().remove(&tenant);
        let Some(turn) = turn else { return };
        let plugin = match app.plugin(&tenant) {
            Ok(Some(plugin)) => turn.plugin(&app, &plugin),
            _ => return,
        };
        let mut report = notify::AfterRun::default();
        let claimed = notify::check(&app.host, &tenant, &plugin, &mut report).await;
        // Delivered without the tenant's turn: a receiver that hangs holds up no call.
        drop(turn);
        match claimed {
            Ok(Some(claimed)) => {
                let claimed = notify::deliver(claimed, &mut report).await;
                // The outcome is recorded under the turn again (the outbox is the tenant's state).
                if let Some(turn) = app.wait_leased_turn(&tenant).await {
                    match notify::settle(&app.host, &claimed) {
                        Ok(next) => report.next_check = next,
                        Err(e) => report.warnings.push(format!("notifications: {e:#}")),
                    }
                    drop(turn);
                }
            }
            Ok(None) => {}
            Err(e) => report.warnings.push(format!("notifications: {e:#}")),
        }
        if report.queued > 0 || report.delivered > 0 {
            tracing::info!(tenant, queued = report.queued, delivered = report.delivered, "notifications");
        }
        for warning in report.warnings {
            tracing::warn!(tenant, warning, "notification");
        }
        // A retry or a digest comes due with no run to check after: check then. (After a restart
        // the first scheduled run checks, so nothing waits longer than a tick period.)
        if let Some(at) = report.next_check {
            wake_at(&app, &tenant, at).await;
        }
    });
}

/// Checks `tenant` again at `at`, unless a wake at or before it is already waiting (one sleeping
/// task per tenant, however many checks ask).
async fn wake_at(app: &Arc<App>, tenant: &str, at: jiff::Timestamp) {
    {
        let mut wakes = app.notify_wakes.lock().unwrap();
        if wakes.get(tenant).is_some_and(|w| *w <= at) {
            return;
        }
        wakes.insert(tenant.to_owned(), at);
    }
    let wait = std::time::Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or_default();
    let mut stopping = app.stopping();
    tokio::select! {
        _ = tokio::time::sleep(wait.max(std::time::Duration::from_millis(200))) => {}
        _ = stopping.changed() => return,
    }
    {
        let mut wakes = app.notify_wakes.lock().unwrap();
        // A sooner wake set meanwhile has its own task; this one is done.
        if wakes.get(tenant) == Some(&at) {
            wakes.remove(tenant);
        }
    }
    after_turn(app, tenant);
}
