//! The API's log for auditors and the admin page's overview: the entries as a CSV file to
//! download (`logs.csv`) and counts by action and outcome over a period (`logs/summary`), with
//! the CLI's filters (`operator::logs`). Merged into the API's router (`api::routes`), behind the
//! same admin gate.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::app::App;
use super::extract::{Json, Refusal, Tenant, query};
use crate::operator::logs::{self, LogsQuery};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/tenants/{tenant}/logs.csv", get(csv)).route("/tenants/{tenant}/logs/summary", get(summary))
}

/// `failures`, `person` (id or work email), `since`, `until` (RFC 3339 or a date) from the query.
pub(super) fn filters(uri: &Uri) -> Result<LogsQuery, Refusal> {
    let params = query(uri);
    let param = |key: &str| {
        params.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    let bound = |key: &str, end: bool| match param(key) {
        None => Ok(None),
        Some(v) => logs::parse_time_bound(&v, end)
            .map(Some)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("`{key}`: {e}"))),
    };
    Ok(LogsQuery {
        failures: matches!(param("failures").as_deref(), Some("1" | "true")),
        person: param("person"),
        limit: None,
        since: bound("since", false)?,
        until: bound("until", true)?,
        run: param("run"),
    })
}

fn entries_error(e: anyhow::Error) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))
}

fn plugin(app: &App, tenant: &str) -> Result<crate::TenantPlugin, Refusal> {
    match app.plugin(tenant) {
        Ok(Some(plugin)) => Ok(plugin),
        Ok(None) => Err(Refusal::new(StatusCode::NOT_FOUND, "no such tenant: connect it first")),
        Err(e) => Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))),
    }
}

/// `GET …/logs.csv`: every entry the filters keep, newest first, as a download.
async fn csv(State(app): State<Arc<App>>, Tenant(tenant): Tenant, uri: Uri) -> Result<Response, Refusal> {
    let query = filters(&uri)?;
    let plugin = plugin(&app, &tenant)?;
    let entries = logs::read_entries(&plugin, &query).await.map_err(entries_error)?;
    let disposition = format!("attachment; filename=\"{tenant}-log.csv\"");
    let headers =
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)];
    Ok((StatusCode::OK, headers, logs::csv(&entries)).into_response())
}

/// `GET …/logs/summary?since=…&until=…`: the counts the admin page's overview shows.
async fn summary(State(app): State<Arc<App>>, Tenant(tenant): Tenant, uri: Uri) -> Result<Json, Refusal> {
    let query = filters(&uri)?;
    let plugin = plugin(&app, &tenant)?;
    let entries = logs::read_entries(&plugin, &query).await.map_err(entries_error)?;
    Ok(Json(logs::summary(&entries, &query)))
}
