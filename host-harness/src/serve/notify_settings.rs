//! The API's notification settings, as `configure --notify-url/--notify-secret/--notify-on`
//! sets them: `GET …/notifications` (the settings, whether messages are signed, the open
//! incidents and the delivery's state; never the secret) and `PATCH …/notifications` with any of
//! `url` (an https URL, http only on this machine; null: off), `secret` (16 characters or more;
//! null: unsigned) and `on` (a list or a comma-separated text of held, unauthorized,
//! quarantine, dead-letters, resolved, or "all"). Merged into the API's router, behind its gate.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::Value;

use super::app::App;
use super::extract::{Json, Refusal, Tenant, json_body, read_body};
use crate::operator::notify::{self, NotifyChange};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/tenants/{tenant}/notifications", get(show).patch(change))
}

const KEYS: [&str; 3] = ["url", "secret", "on"];

fn refused(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn known(app: &App, tenant: &str) -> Result<(), Refusal> {
    match app.host.policy_of(tenant) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Refusal::new(StatusCode::NOT_FOUND, "no such tenant: connect it first")),
        Err(e) => Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))),
    }
}

async fn show(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Result<Json, Refusal> {
    known(&app, &tenant)?;
    notify::config_json(&*app.host.storage, &tenant)
        .map(Json)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}

/// Every key is checked before any is applied: a refused body changes nothing.
fn read_change(body: &Value) -> Result<NotifyChange, Refusal> {
    let Some(object) = body.as_object() else {
        return Err(refused(format!("the notification settings are a JSON object with any of: {}", KEYS.join(", "))));
    };
    if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(refused(format!("`{key}` is not a notification setting; they are {}", KEYS.join(", "))));
    }
    let mut change = NotifyChange::default();
    for (key, value) in object {
        match (key.as_str(), value) {
            ("url", Value::Null) => change.url = Some(None),
            ("url", Value::String(url)) => {
                change.url = Some(notify::parse_notify_url(url).map_err(|e| refused(format!("`url`: {e}")))?)
            }
            ("secret", Value::Null) => change.secret = Some(None),
            ("secret", Value::String(secret)) => {
                change.secret =
                    Some(notify::parse_notify_secret(secret).map_err(|e| refused(format!("`secret`: {e}")))?)
            }
            ("on", Value::String(kinds)) => {
                change.on = Some(notify::parse_notify_on(kinds).map_err(|e| refused(format!("`on`: {e}")))?)
            }
            ("on", Value::Array(kinds)) => {
                let words: Option<Vec<&str>> = kinds.iter().map(Value::as_str).collect();
                let words = words.ok_or_else(|| refused("`on` is a list of kinds (strings)"))?;
                change.on = Some(notify::parse_notify_on(&words.join(",")).map_err(|e| refused(format!("`on`: {e}")))?)
            }
            ("url", _) => return Err(refused("`url` is a URL or null")),
            ("secret", _) => return Err(refused("`secret` is text or null")),
            _ => return Err(refused("`on` is a list of kinds or a comma-separated text")),
        }
    }
    Ok(change)
}

async fn change(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Result<Json, Refusal> {
    let change = read_change(&json_body(&read_body(body).await?)?)?;
    known(&app, &tenant)?;
    notify::configure(&*app.host.storage, &tenant, &change)
        .map(Json)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
}
