//! `POST /api/tenants/{tenant}/provision` with `{"person": ID, "dry_run": bool}`: provision on
//! demand, answered with the component's trace (`operator::provision`). Merged into the API's
//! router (`api::routes`), behind the same admin gate and body limit.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

use super::app::App;
use super::extract::{Json, Refusal, Tenant, json_body, read_body};
use crate::operator::provision;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/tenants/{tenant}/provision", post(provision_person))
}

/// `person` (required, a string) and `dry_run` (optional, a boolean) from the body.
fn request(body: &Value) -> Result<(String, bool), Refusal> {
    let bad = |message: &str| Refusal::new(StatusCode::BAD_REQUEST, message);
    let person = match body.get("person") {
        Some(Value::String(p)) if !p.trim().is_empty() => p.trim().to_owned(),
        Some(_) => return Err(bad("`person` must be a Humaans person id (a non-empty string)")),
        None => return Err(bad("`person` is required")),
    };
    let dry_run = match body.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("`dry_run` must be true or false")),
    };
    Ok((person, dry_run))
}

async fn provision_person(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Result<Json, Refusal> {
    let (person, dry_run) = request(&json_body(&read_body(body).await?)?)?;
    let plugin = match app.plugin(&tenant) {
        Ok(Some(plugin)) => plugin.in_run(crate::Run::new("admin")),
        Ok(None) => return Err(Refusal::new(StatusCode::NOT_FOUND, "no such tenant: connect it first")),
        Err(e) => return Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))),
    };
    // Under the tenant's lease like every call that may write (a dry run too: it reads the
    // tenant's state as one call would, never half-way through another's).
    let Some(turn) = app.wait_leased_turn(&tenant).await else {
        return Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down; try again later"));
    };
    let result = provision::provision(&turn.plugin(&app, &plugin), &person, dry_run).await;
    drop(turn);
    if !dry_run {
        super::notifications::after_turn(&app, &tenant);
    }
    let answer = result.map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    tracing::info!(
        tenant,
        dry_run,
        changes = answer["changes"].as_array().map_or(0, Vec::len),
        "provisioned on demand"
    );
    Ok(Json(answer))
}
