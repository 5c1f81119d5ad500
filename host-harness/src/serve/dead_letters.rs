//! The API's view of failed webhook events (`storage::WorkQueue::failed`): the tenant's dead
//! letters and events waiting for a retry, and re-queueing a dead letter, as `status` and
//! `retry --event` do on the command line. Merged into the API's router (`api::routes`), so it is
//! behind the same admin gate and body limit.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::app::App;
use super::extract::{Json, Tenant, error};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/tenants/{tenant}/dead-letters", get(list))
        .route("/tenants/{tenant}/dead-letters/{event}/retry", post(retry))
}

/// The tenant's dead letters in `status`'s answer: how many are kept.
pub fn count(app: &App, tenant: &str) -> anyhow::Result<usize> {
    Ok(app.queue.failed(tenant)?.iter().filter(|f| f.retry_at_ms.is_none()).count())
}

fn internal(e: anyhow::Error) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")).into_response()
}

/// `GET …/dead-letters`: `dead_letters` (kept after their last attempt) and `retrying` (due
/// again at `retry_at`), oldest first.
async fn list(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Response {
    let failed = match app.queue.failed(&tenant) {
        Ok(failed) => failed,
        Err(e) => return internal(e),
    };
    let (dead, retrying): (Vec<_>, Vec<_>) = failed.iter().partition(|f| f.retry_at_ms.is_none());
    Json(json!({
        "dead_letters": dead.iter().map(|f| f.json()).collect::<Vec<_>>(),
        "retrying": retrying.iter().map(|f| f.json()).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `POST …/dead-letters/{event}/retry`: the dead letter back in the inbox, due at once; 404 if
/// the tenant has no dead letter with that event id.
async fn retry(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let event = params.get("event").cloned().unwrap_or_default();
    match app.queue.retry_dead(&tenant, &event) {
        Ok(true) => {
            tracing::info!(tenant, event, "dead letter queued again");
            app.work.notify_one();
            Json(json!({"retry_event": event, "queued": true})).into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "no dead letter with this event id").into_response(),
        Err(e) => internal(e),
    }
}
