//! `POST /webhooks/humaans/{tenant}`: the component checks the delivery (`handle-webhook`); what it
//! accepts is stored in the inbox before the 202.
//!
//! The host checks only what costs it nothing and needs no secret, before it reads the body or
//! takes a component instance: the tenant id's shape, and that the signature header is there
//! once and has the shape of an HMAC-SHA256 (64 hex digits, `sha256=` optional; the scheme is
//! the component's, `src/webhook.rs`). The HMAC itself is checked in the component. Those checks
//! run at most [`checks_per_tenant`] at a time per tenant, so a flood of forged deliveries takes
//! a few of the tenant's instance slots, never the ones its real calls need.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::app::{App, QueuedEvent};
use super::extract::{error, json, read_body};
use crate::plugin::api::WebhookRefusal;

/// The header Humaans signs with (`src/webhook.rs`' `SIGNATURE_HEADER`).
pub const SIGNATURE_HEADER: &str = "x-humaans-signature";

/// The tenant's `handle-webhook` calls at once: a quarter of its instance slots, at least one.
pub fn checks_per_tenant(max_instances: u32) -> usize {
    (max_instances as usize / 4).max(1)
}

/// Whether the headers can hold a valid signature at all: one signature header, 64 hex digits.
pub fn signature_shape(headers: &HeaderMap) -> Result<(), &'static str> {
    let mut values = headers.get_all(SIGNATURE_HEADER).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err("no x-humaans-signature header"),
        (Some(_), Some(_)) => return Err("more than one x-humaans-signature header"),
        (Some(v), None) => v.to_str().map_err(|_| "the signature is not hex")?.trim(),
    };
    let hex = value.strip_prefix("sha256=").unwrap_or(value);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("the signature is not an HMAC-SHA256 in hex")
    }
}

pub async fn intake(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (status, outcome, response) = answer(&app, &tenant, &headers, body).await;
    // A 413 is counted by `count_too_large`, whichever layer gave it.
    if status != StatusCode::PAYLOAD_TOO_LARGE {
        refused(&app, &tenant, status, outcome);
    }
    response
}

fn refused(app: &App, tenant: &str, status: StatusCode, outcome: &str) {
    app.metrics.webhook(outcome);
    if status.as_u16() >= 400 {
        // The log escapes the tenant id (`log::text_value`): it comes from the path as the
        // sender wrote it.
        tracing::info!(tenant, status = status.as_u16(), outcome, "webhook refused");
    }
}

/// Counts and logs a webhook refused for its size (by the body limit or while reading).
pub async fn count_too_large(State(app): State<Arc<App>>, uri: axum::http::Uri, response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let tenant = uri.path().rsplit('/').next().unwrap_or("");
        let tenant = percent_encoding::percent_decode_str(tenant).decode_utf8_lossy();
        refused(&app, &tenant, StatusCode::PAYLOAD_TOO_LARGE, "too-large");
    }
    response
}

async fn answer(app: &Arc<App>, tenant: &str, headers: &HeaderMap, body: Body) -> (StatusCode, &'static str, Response) {
    if app.is_stopping() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            error(StatusCode::SERVICE_UNAVAILABLE, "shutting down; send again later"),
        );
    }
    if !crate::tenant::valid_tenant(tenant) {
        return (StatusCode::NOT_FOUND, "unknown-tenant", error(StatusCode::NOT_FOUND, "no such tenant"));
    }
    if let Err(why) = signature_shape(headers) {
        return (StatusCode::UNAUTHORIZED, "bad-signature", error(StatusCode::UNAUTHORIZED, why));
    }
    let plugin = match app.plugin(tenant) {
        // A delivery Humaans made: its id is known only once the component has read it.
        Ok(Some(p)) => p.in_run(crate::Run::new("webhook")),
        Ok(None) => return (StatusCode::NOT_FOUND, "unknown-tenant", error(StatusCode::NOT_FOUND, "no such tenant")),
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
            );
        }
    };
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(refused) => return (refused.status, "too-large", refused.into_response()),
    };
    let headers: Vec<(String, String)> =
        headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let slots = app.webhook_checks(tenant, checks_per_tenant(plugin.tenant().max_instances));
    let check = slots.acquire().await.expect("the semaphore is never closed");
    app.http_metrics
        .webhook_checks_at_once(checks_per_tenant(plugin.tenant().max_instances) - slots.available_permits());
    let accepted = match app.timed(tenant, "handle-webhook", plugin.handle_webhook(&headers, &body)).await {
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            );
        }
        Ok(Err(refusal)) => {
            return match refusal {
                WebhookRefusal::BadSignature(why) => {
                    (StatusCode::UNAUTHORIZED, "bad-signature", error(StatusCode::UNAUTHORIZED, &why))
                }
                WebhookRefusal::NotConfigured => (
                    StatusCode::UNAUTHORIZED,
                    "not-configured",
                    error(StatusCode::UNAUTHORIZED, "no webhook secret is set for this tenant"),
                ),
                WebhookRefusal::Malformed(why) => {
                    (StatusCode::BAD_REQUEST, "malformed", error(StatusCode::BAD_REQUEST, &why))
                }
                // 2xx: Humaans must not retry an event we will never act on.
                WebhookRefusal::Ignored(why) => {
                    (StatusCode::OK, "ignored", json(StatusCode::OK, &json!({"ignored": why})))
                }
                WebhookRefusal::Storage(why) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "error", error(StatusCode::INTERNAL_SERVER_ERROR, &why))
                }
            };
        }
        Ok(Ok(a)) => a,
    };
    drop(check);
    let payload = serde_json::to_vec(&QueuedEvent::from_accepted(&accepted)).expect("JSON");
    match app.queue.enqueue_if_new(tenant, &accepted.event.id, &payload) {
        Ok(true) => {
            app.work.notify_one();
            (StatusCode::ACCEPTED, "accepted", json(StatusCode::ACCEPTED, &json!({"queued": accepted.event.id})))
        }
        Ok(false) => (StatusCode::OK, "duplicate", json(StatusCode::OK, &json!({"duplicate": accepted.event.id}))),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the inbox cannot be written: {e:#}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SIGNATURE_HEADER, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_one_header_of_64_hex_digits_has_the_shape_of_a_signature() {
        let hex = "0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789";
        assert_eq!(hex.len(), 64);
        assert_eq!(signature_shape(&headers(&[hex])), Ok(()));
        assert_eq!(signature_shape(&headers(&[&format!("sha256={hex}")])), Ok(()));
        assert_eq!(signature_shape(&headers(&[&format!(" {hex} ")])), Ok(()));
        assert!(signature_shape(&headers(&[])).is_err());
        assert!(signature_shape(&headers(&[hex, hex])).is_err());
        assert!(signature_shape(&headers(&[&hex[..62]])).is_err());
        assert!(signature_shape(&headers(&[&format!("{}zz", &hex[..62])])).is_err());
        assert!(signature_shape(&headers(&[&format!("sha1={hex}")])).is_err());
        assert_eq!(checks_per_tenant(8), 2);
        assert_eq!(checks_per_tenant(1), 1);
    }
}
