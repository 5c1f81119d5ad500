//! Notifications in `serve`: after a turn that ran a tenant (events, a scheduled tick or sync, an
//! operator action through the API), a short turn of its own checks the tenant's incidents and
//! delivers what is due (`operator::notify`). The run is over and the API has answered before
//! it starts: a slow or failing receiver delays neither. At most one check per tenant waits at
//! a time; one that starts after a change sees it.

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
        let report = notify::after_run(&app.host, &tenant, &plugin, false).await;
        drop(turn);
        if report.queued > 0 || report.delivered > 0 {
            tracing::info!(tenant, queued = report.queued, delivered = report.delivered, "notifications");
        }
        for warning in report.warnings {
            tracing::warn!(tenant, warning, "notification");
        }
    });
}
