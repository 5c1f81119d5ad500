//! The HTTP server: accepts connections until shutdown, reads each request (bodies up to 1 MiB)
//! and routes it. Handlers take a [`Request`] read in full and return a [`Response`].

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{App, admin, api, metrics, webhooks};

/// The largest request body accepted (a webhook is a few kilobytes).
pub const MAX_BODY: usize = 1 << 20;

pub struct Request {
    pub method: hyper::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    pub fn json(&self) -> Result<Value, Response> {
        serde_json::from_slice(&self.body).map_err(|e| Response::error(400, &format!("the body is not JSON: {e}")))
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Response {
    pub fn json(status: u16, value: &Value) -> Self {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::from(serde_json::to_vec(value).expect("JSON")),
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        Response::json(status, &json!({"error": message}))
    }

    pub fn text(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Response { status, content_type, headers: Vec::new(), body: body.into() }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Serves until the app stops: then no new connection is accepted (requests already being read
/// on open connections still get their answer).
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    let mut stopping = app.stopping();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
            _ = stopping.changed() => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(into_hyper(handle(app, req).await)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}

fn into_hyper(r: Response) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder()
        .status(r.status)
        .header("content-type", r.content_type)
        // The admin page and API are never framed or cached; nothing is loaded from elsewhere.
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("cache-control", "no-store")
        .header("content-security-policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'");
    for (k, v) in r.headers {
        builder = builder.header(k, v);
    }
    builder.body(Full::new(r.body)).expect("a valid response")
}

async fn handle(app: Arc<App>, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        count_webhook_refusal(&app, &parts.uri, "too-large");
        return Response::error(413, "the body is over 1 MiB");
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            count_webhook_refusal(&app, &parts.uri, "too-large");
            return Response::error(413, "the body is over 1 MiB");
        }
        Err(_) => return Response::error(400, "the body could not be read"),
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(decode_query).unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    route(&app, request).await
}

fn count_webhook_refusal(app: &App, uri: &hyper::Uri, outcome: &str) {
    if uri.path().starts_with("/webhooks/") {
        app.metrics.webhook(outcome);
    }
}

async fn route(app: &Arc<App>, req: Request) -> Response {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["healthz"]) => Response::text(200, "text/plain", "ok\n"),
        ("GET", ["readyz"]) => match app.host.storage.get("host", "readyz", "probe") {
            Ok(_) => Response::text(200, "text/plain", "ready\n"),
            Err(e) => Response::text(503, "text/plain", format!("the store is unreachable: {e:#}\n")),
        },
        ("GET", ["metrics"]) => {
            let gauges = metrics::Gauges {
                queue_depth: app.queue.depth().unwrap_or_default(),
                scim_writes: app.scim_writes(),
                tenants: app.host.tenants().map(|t| t.len() as u64).unwrap_or_default(),
                instantiate: app.host.runtime.instantiations().snapshot(),
                sqlite_busy_waits: crate::storage::sqlite::busy_waits(),
            };
            Response::text(200, "text/plain; version=0.0.4", app.metrics.render(&gauges))
        }
        ("POST", ["webhooks", "humaans", tenant]) => webhooks::intake(app, &decode(tenant), &req).await,
        (_, ["api", ..]) => api::handle(app, &req, &segments[1..]).await,
        _ => admin::handle(app, &req, &segments).await,
    }
}

/// Percent-decoding of a path segment (`+` stays a `+`), by the `percent-encoding` crate that
/// `url` already brings in: invalid escapes such as `%zz` or `%+f` are kept as written.
pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A query string as `application/x-www-form-urlencoded` pairs (`+` is a space).
fn decode_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_and_queries() {
        assert_eq!(decode("acme%20ltd"), "acme ltd");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%+f"), "%+f", "a sign is not a hex digit");
        assert_eq!(decode("a+b"), "a+b", "`+` is a space only in queries");
        assert_eq!(
            decode_query("failures=1&person=a%2Bb&x&&q=a+b"),
            vec![
                ("failures".into(), "1".into()),
                ("person".into(), "a+b".into()),
                ("x".into(), String::new()),
                ("q".into(), "a b".into())
            ]
        );
    }
}
