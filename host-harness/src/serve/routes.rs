//! serve's routes (axum): their groups and layers. The answers every handler shares are in
//! `extract.rs`.
//!
//! ```text
//! /healthz /readyz /metrics                 no gate, no body
//! / /assets/* /openapi.yaml /session        admin.rs: the page and login; bodies up to 64 KiB
//! /api/...                                  api.rs: admin gate first, then bodies up to 64 KiB
//! /webhooks/humaans/{tenant}                webhooks.rs: bodies up to 256 KiB
//! ```
//!
//! Every request is answered within `--request-timeout` (408), and every answer carries the
//! security headers. A body over its group's limit is refused (413) before a byte is read when
//! its Content-Length says so, else as soon as the limit is passed. The admin gate is a layer
//! outside the API's routes: it answers before the handler, so before any body byte is read.
//!
//! To add an API route, add one `.route(…)` to [`super::api::routes`]: being in that router puts
//! it behind the gate and the API's body limit; take the tenant with the
//! [`Tenant`](super::extract::Tenant) extractor.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response, map_response_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::app::App;
use super::extract::{error, text};
use super::{admin, api, metrics, webhooks};

/// The largest webhook body (a Humaans delivery is a few kilobytes).
pub const WEBHOOK_BODY_LIMIT: usize = 256 << 10;
/// The largest body of the API and the login.
pub const API_BODY_LIMIT: usize = 64 << 10;

pub fn router(app: Arc<App>) -> Router {
    let api =
        with_body_limit(api::routes(), API_BODY_LIMIT).layer(from_fn_with_state(app.clone(), admin::require_admin));
    let webhooks =
        with_body_limit(Router::new().route("/webhooks/humaans/{tenant}", post(webhooks::intake)), WEBHOOK_BODY_LIMIT)
            .layer(map_response_with_state(app.clone(), webhooks::count_too_large));
    Router::new()
        .route("/healthz", get(|| async { text(StatusCode::OK, "text/plain", "ok\n") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .merge(with_body_limit(admin::routes(), API_BODY_LIMIT))
        .nest("/api", api)
        .merge(webhooks)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, app.config.http.request_timeout))
        .layer(map_response(common_headers))
        .with_state(app)
}

/// Bodies of the group's routes up to `limit` bytes; a 413 names the limit.
fn with_body_limit(routes: Router<Arc<App>>, limit: usize) -> Router<Arc<App>> {
    routes.layer(RequestBodyLimitLayer::new(limit)).layer(map_response(move |response: Response| async move {
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is over {} KiB", limit >> 10));
        }
        response
    }))
}

/// The admin page and API are never framed or cached; nothing is loaded from elsewhere. An
/// error answered without a body (a 408, a 405) gets a JSON one, like every other error.
async fn common_headers(response: Response) -> Response {
    let mut response = if response.status().as_u16() >= 400 && !response.headers().contains_key(header::CONTENT_TYPE) {
        let status = response.status();
        let mut replaced = error(status, status.canonical_reason().unwrap_or("refused"));
        for (name, value) in response.headers() {
            if name != header::CONTENT_LENGTH {
                replaced.headers_mut().insert(name, value.clone());
            }
        }
        replaced
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    response
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.host.storage.get("host", "readyz", "probe") {
        Ok(_) => text(StatusCode::OK, "text/plain", "ready\n"),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", format!("the store is unreachable: {e:#}\n")),
    }
}

async fn scrape(State(app): State<Arc<App>>) -> Response {
    let gauges = metrics::Gauges {
        queue_depth: app.queue.depth().unwrap_or_default(),
        scim_writes: app.scim_writes(),
        tenants: app.host.tenants().map(|t| t.len() as u64).unwrap_or_default(),
        instantiate: super::metrics::InstantiateHistogram(app.host.runtime.instantiations().snapshot()),
        sqlite_busy_waits: crate::storage::sqlite::busy_waits(),
    };
    text(StatusCode::OK, prometheus_client::encoding::prometheus_text::CONTENT_TYPE, app.metrics.render(&gauges))
}
