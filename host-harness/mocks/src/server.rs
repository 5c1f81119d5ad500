//! The HTTP plumbing both mocks share: a loopback listener, a request journal, scripted faults and
//! an optional rate limit. The mocks themselves are plain `Handler`s: request in, response out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A request as the mock handlers see it: already read in full, query decoded.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Decoded `key=value` pairs, in order.
    pub query: Vec<(String, String)>,
    /// The raw query string, as sent.
    pub raw_query: String,
    /// Value of the `Authorization` header, if any.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The bearer token, if the header has the `Bearer ` form.
    pub fn bearer(&self) -> Option<&str> {
        let auth = self.authorization.as_deref()?;
        let (scheme, token) = auth.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
    }

    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not valid JSON: {e}"))
    }
}

/// A response from a handler.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: Bytes::from(serde_json::to_vec(value).expect("JSON value serialises")),
        }
    }

    pub fn with_content_type(mut self, content_type: &str) -> Self {
        self.content_type = content_type.into();
        self
    }

    pub fn empty(status: u16) -> Self {
        Response { status, content_type: "text/plain".into(), headers: Vec::new(), body: Bytes::new() }
    }
}

/// What a mock does with requests. Handlers are synchronous and fast: state lives behind a mutex
/// inside the handler, indexed so that large organisations cost nothing noticeable.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &Request) -> Response;
    /// The body sent with a 429 from the rate limiter or a scripted fault, in the service's format.
    fn error_body(&self, status: u16, message: &str) -> Response;
}

/// One entry of the journal: every request that reached the server, with the status it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// The request body, as text (empty for GET).
    pub body: String,
}

/// What a scripted fault does to a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and body, in the service's error format.
    Status { status: u16, message: String },
    /// Answer with this status and a raw body and content type (HTML error pages, wrong types).
    Raw { status: u16, content_type: String, body: String },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Handle the request normally, then cut the body short so it is not valid JSON.
    MalformedJson,
    /// Close the connection without answering.
    DropConnection,
    /// Answer 429, with `Retry-After: <seconds>` when given.
    TooManyRequests { retry_after: Option<u64> },
    /// Answer with a redirect status (301, 302, 307, ...) to `location`.
    Redirect { status: u16, location: String },
}

/// A fault applied to the next `times` requests whose method and path match.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// `None` matches every method.
    pub method: Option<String>,
    /// Matches a request whose path starts with this prefix.
    pub path_prefix: String,
    pub fault: Fault,
    pub times: usize,
}

impl FaultRule {
    pub fn new(method: Option<&str>, path_prefix: &str, fault: Fault, times: usize) -> Self {
        FaultRule { method: method.map(str::to_owned), path_prefix: path_prefix.into(), fault, times }
    }
}

/// A token bucket: `per_second` requests a second, bursts up to `per_second`.
#[derive(Debug)]
struct RateLimiter {
    per_second: f64,
    tokens: f64,
    last: Instant,
    retry_after: Option<u64>,
}

/// The test-facing controls shared by both mocks.
#[derive(Default)]
pub struct Control {
    journal: Mutex<Vec<JournalEntry>>,
    /// When each journal entry was answered (kept apart so entries still compare equal across runs).
    answered: Mutex<Vec<Instant>>,
    faults: Mutex<VecDeque<FaultRule>>,
    rate_limit: Mutex<Option<RateLimiter>>,
}

impl Control {
    /// Every request so far, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.journal.lock().unwrap().clone()
    }

    /// The journal with the time each request was answered (for latency measurements).
    pub fn timed_journal(&self) -> Vec<(Instant, JournalEntry)> {
        let journal = self.journal.lock().unwrap();
        self.answered.lock().unwrap().iter().copied().zip(journal.iter().cloned()).collect()
    }

    pub fn clear_journal(&self) {
        let mut journal = self.journal.lock().unwrap();
        journal.clear();
        self.answered.lock().unwrap().clear();
    }

    /// Requests so far whose method matches (e.g. "POST"), or all requests for "*".
    pub fn count(&self, method: &str) -> usize {
        self.journal.lock().unwrap().iter().filter(|e| method == "*" || e.method == method).count()
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.faults.lock().unwrap().push_back(rule);
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Limit requests to `per_second` (token bucket); excess requests get 429 with the given
    /// `Retry-After`. `None` turns the limit off.
    pub fn set_rate_limit(&self, per_second: Option<u32>, retry_after: Option<u64>) {
        *self.rate_limit.lock().unwrap() = per_second.map(|n| RateLimiter {
            per_second: n as f64,
            tokens: n as f64,
            last: Instant::now(),
            retry_after,
        });
    }

    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let index = faults.iter().position(|rule| {
            rule.times > 0
                && rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&rule.path_prefix)
        })?;
        let rule = &mut faults[index];
        rule.times -= 1;
        let fault = rule.fault.clone();
        if rule.times == 0 {
            faults.remove(index);
        }
        Some(fault)
    }

    /// `Some(retry_after)` when the request exceeds the rate limit.
    fn rate_limited(&self) -> Option<Option<u64>> {
        let mut guard = self.rate_limit.lock().unwrap();
        let limiter = guard.as_mut()?;
        let now = Instant::now();
        let elapsed = now.duration_since(limiter.last).as_secs_f64();
        limiter.last = now;
        limiter.tokens = (limiter.tokens + elapsed * limiter.per_second).min(limiter.per_second);
        if limiter.tokens >= 1.0 {
            limiter.tokens -= 1.0;
            None
        } else {
            Some(limiter.retry_after)
        }
    }

    fn record(&self, request: &Request, status: u16) {
        let mut journal = self.journal.lock().unwrap();
        self.answered.lock().unwrap().push(Instant::now());
        journal.push(JournalEntry {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.raw_query.clone(),
            status,
            body: String::from_utf8_lossy(&request.body).into_owned(),
        });
    }
}

/// A running mock server. Dropping it stops the listener.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub control: Arc<Control>,
    shutdown: watch::Sender<bool>,
}

impl RunningServer {
    /// `http://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Serves `handler` on `addr` (port 0 for an ephemeral port) until the returned value is dropped.
/// Must be called inside a tokio runtime.
pub async fn serve(handler: Arc<dyn Handler>, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let control = Arc::new(Control::default());
    let (shutdown, mut stopped) = watch::channel(false);
    let ctl = control.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
                _ = stopped.changed() => return,
            };
            let handler = handler.clone();
            let ctl = ctl.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| respond(handler.clone(), ctl.clone(), req));
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    Ok(RunningServer { addr, control, shutdown })
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct DroppedOnPurpose;
impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for DroppedOnPurpose {}

async fn respond(
    handler: Arc<dyn Handler>,
    control: Arc<Control>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, DroppedOnPurpose> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: percent_decode(parts.uri.path()),
        query: parse_query(&raw_query),
        raw_query,
        authorization: header(&parts.headers, "authorization"),
        content_type: header(&parts.headers, "content-type"),
        body,
    };

    let mut response = if let Some(retry_after) = control.rate_limited() {
        too_many(&*handler, retry_after)
    } else {
        match control.take_fault(&request.method, &request.path) {
            None => handler.handle(&request),
            Some(Fault::Status { status, message }) => handler.error_body(status, &message),
            Some(Fault::Raw { status, content_type, body }) => {
                Response { status, content_type, headers: Vec::new(), body: Bytes::from(body) }
            }
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                handler.handle(&request)
            }
            Some(Fault::MalformedJson) => {
                let mut r = handler.handle(&request);
                let cut = r.body.len() / 2;
                r.body = if cut == 0 { Bytes::from_static(b"{\"trunc") } else { r.body.slice(..cut) };
                r
            }
            Some(Fault::DropConnection) => {
                control.record(&request, 0);
                return Err(DroppedOnPurpose);
            }
            Some(Fault::TooManyRequests { retry_after }) => too_many(&*handler, retry_after),
            Some(Fault::Redirect { status, location }) => Response {
                status,
                content_type: "text/plain".into(),
                headers: vec![("location".to_owned(), location)],
                body: Bytes::from_static(b"moved"),
            },
        }
    };
    control.record(&request, response.status);

    let mut builder =
        hyper::Response::builder().status(response.status).header("content-type", response.content_type.as_str());
    for (k, v) in response.headers.drain(..) {
        builder = builder.header(k, v);
    }
    Ok(builder.body(Full::new(response.body)).expect("valid response"))
}

fn too_many(handler: &dyn Handler, retry_after: Option<u64>) -> Response {
    let mut r = handler.error_body(429, "Too many requests");
    if let Some(seconds) = retry_after {
        r.headers.push(("retry-after".into(), seconds.to_string()));
    }
    r
}

fn header(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Splits and percent-decodes a query string (`+` is a space, as in forms).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Decodes `%XX` escapes; invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            // `from_str_radix` accepts a leading sign, so "%+f" would decode without this check.
            let hex =
                std::str::from_utf8(&bytes[i + 1..i + 3]).ok().filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        let q = parse_query("filter=userName%20eq%20%22a%2Bb%40x.com%22&count=5&x=a+b");
        assert_eq!(q[0], ("filter".into(), "userName eq \"a+b@x.com\"".into()));
        assert_eq!(q[1], ("count".into(), "5".into()));
        assert_eq!(q[2], ("x".into(), "a b".into()));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%+f%-1"), "%+f%-1");
    }
}
