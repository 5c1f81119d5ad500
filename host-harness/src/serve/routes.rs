//! serve's routes (axum), their groups and layers, and the answers every handler shares.
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
//! it behind the gate and the API's body limit; take the tenant with the [`Tenant`] extractor.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{from_fn_with_state, map_response, map_response_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::{App, admin, api, metrics, webhooks};

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
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, app.args.http.request_timeout))
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

pub fn json(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).expect("JSON");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({"error": message}))
}

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// An error answer, `{"error": message}`, kept small until it is sent (handlers return it in
/// their `Err`).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    message: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, message: message.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error(self.status, &self.message);
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A 200 with a JSON body.
pub struct Json(pub Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        json(StatusCode::OK, &self.0)
    }
}

/// The whole body (within the route's limit, which the layer enforces): 413 past it.
pub async fn read_body(body: Body) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is over the limit");
            }
            source = s.source();
        }
        Refusal::new(StatusCode::BAD_REQUEST, "the body could not be read")
    })
}

pub fn json_body(bytes: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(bytes)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))
}

/// The `{tenant}` of the path (decoded), refused (400) unless it is a valid tenant id.
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        match params.get("tenant") {
            Some(t) if crate::tenant::valid_tenant(t) => Ok(Tenant(t.clone())),
            _ => Err(Refusal::new(StatusCode::BAD_REQUEST, "a tenant id is 1-64 letters, digits, - or _")),
        }
    }
}

/// A query string as `application/x-www-form-urlencoded` pairs (`+` is a space).
pub fn query(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_plus_as_a_space_and_keep_empty_values() {
        let uri: axum::http::Uri = "/x?failures=1&person=a%2Bb&x&&q=a+b".parse().unwrap();
        assert_eq!(
            query(&uri),
            vec![
                ("failures".into(), "1".into()),
                ("person".into(), "a+b".into()),
                ("x".into(), String::new()),
                ("q".into(), "a b".into())
            ]
        );
    }
}
