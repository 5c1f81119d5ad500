//! The admin page (`/`): embedded assets, login with the admin token, sessions.
//!
//! The session cookie is HttpOnly and SameSite=Strict. CSRF: every request that changes something
//! must carry the session's random token in `X-CSRF-Token`, which only our own page can read (it
//! gets it in the login answer and from `GET /session`); a cross-site form can neither read it
//! nor set a custom header. The API with a bearer token needs no cookie and so no CSRF token.
//! Under TLS or `--behind-https-proxy` the cookie is also `Secure`. Failed logins (a wrong token
//! at the login or as a bearer token) are counted per client: past [`LOGIN_FAILURES`] in
//! [`LOGIN_WINDOW`], 429 with Retry-After, checked before the body is read.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::App;
use super::routes::{Refusal, error, json, json_body, read_body, text};
use super::server::ClientAddr;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const OPENAPI: &str = include_str!("../../openapi.yaml");

const COOKIE: &str = "hh_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

struct Session {
    csrf: String,
    expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex, from the operating system.
fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("the operating system's random source is readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    fn create(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let mut sessions = self.sessions.lock().unwrap();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), Session { csrf: csrf.clone(), expires: now + SESSION_TTL });
        (id, csrf)
    }

    /// The session's CSRF token, if the id names a live session.
    fn csrf_of(&self, id: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap();
        sessions.get(id).filter(|s| s.expires > Instant::now()).map(|s| s.csrf.clone())
    }

    fn end(&self, id: &str) {
        self.sessions.lock().unwrap().remove(id);
    }
}

fn equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Failed logins (a wrong token at `POST /session` or as a bearer token) a client may make in
/// [`LOGIN_WINDOW`]; past them it gets 429 until the oldest is a window old.
pub const LOGIN_FAILURES: usize = 10;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at once; past this, those with no failure in the window are forgotten.
const CLIENTS_KEPT: usize = 10_000;

/// Recent failed logins by client: an IPv4 address, or the /64 an IPv6 address is in (one
/// machine usually holds a whole /64).
#[derive(Default)]
pub struct Logins {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Logins {
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        }
    }

    /// How long the client must wait, while it is over the limit.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        let times = failures.get_mut(&Self::key(ip))?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= LOGIN_WINDOW) {
            times.pop_front();
        }
        (times.len() >= LOGIN_FAILURES).then(|| LOGIN_WINDOW - now.duration_since(times[0]))
    }

    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        if failures.len() >= CLIENTS_KEPT {
            failures.retain(|_, t| t.back().is_some_and(|last| now.duration_since(*last) < LOGIN_WINDOW));
        }
        let times = failures.entry(Self::key(ip)).or_default();
        times.push_back(now);
        if times.len() > LOGIN_FAILURES {
            times.pop_front();
        }
    }
}

/// The client a request comes from: the peer, or behind `--behind-https-proxy` the address the
/// proxy appended last to X-Forwarded-For (earlier entries are the client's own say).
fn client_ip(app: &App, headers: &HeaderMap, peer: Option<ClientAddr>) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.0.ip());
    if !app.args.http.behind_https_proxy {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

fn too_many(retry_after: Duration) -> Refusal {
    Refusal::new(StatusCode::TOO_MANY_REQUESTS, "too many failed logins from this address; try again later")
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs() + 1))
}

fn bearer_challenge(refusal: Refusal) -> Refusal {
    refusal.with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The API's gate: the admin token as a bearer token, or a session cookie (plus the CSRF header
/// on anything but GET). It looks at the head only, so it answers before any body byte is read.
pub fn authorize(app: &App, method: &Method, headers: &HeaderMap, peer: Option<ClientAddr>) -> Result<(), Refusal> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let ip = client_ip(app, headers, peer);
        if let Some(wait) = app.logins.retry_after(ip) {
            return Err(too_many(wait));
        }
        let auth = auth.to_str().unwrap_or("");
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).unwrap_or("");
        if app.admin_token_matches(token.trim()) {
            return Ok(());
        }
        app.logins.failed(ip);
        return Err(bearer_challenge(Refusal::new(StatusCode::UNAUTHORIZED, "a valid admin token is required")));
    }
    let Some(csrf) = cookie(headers, COOKIE).and_then(|id| app.sessions.csrf_of(id)) else {
        return Err(bearer_challenge(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "log in, or send Authorization: Bearer <admin token>",
        )));
    };
    let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if method != Method::GET && !equal(given, &csrf) {
        return Err(Refusal::new(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token"));
    }
    Ok(())
}

/// [`authorize`] as a layer.
pub async fn require_admin(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ClientAddr>().copied();
    match authorize(&app, request.method(), request.headers(), peer) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// `Secure` when serve is reached over HTTPS (`--tls-cert`, or `--behind-https-proxy`), so the
/// browser never sends the session over plain HTTP.
fn session_cookie(app: &App, id: &str, max_age: u64) -> HeaderValue {
    let secure = if app.secure_cookies() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"))
        .expect("a cookie of hex digits")
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { text(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML) }))
        .route("/assets/app.js", get(|| async { text(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS) }))
        .route("/assets/app.css", get(|| async { text(StatusCode::OK, "text/css; charset=utf-8", APP_CSS) }))
        .route("/openapi.yaml", get(|| async { text(StatusCode::OK, "application/yaml", OPENAPI) }))
        .route("/session", get(session).post(login).delete(logout))
}

async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match cookie(&headers, COOKIE).and_then(|id| app.sessions.csrf_of(id)) {
        Some(csrf) => json(StatusCode::OK, &json!({"csrf": csrf})),
        None => error(StatusCode::UNAUTHORIZED, "not logged in"),
    }
}

async fn logout(State(app): State<Arc<App>>, request: Request) -> Response {
    let peer = request.extensions().get::<ClientAddr>().copied();
    if let Err(denied) = authorize(&app, request.method(), request.headers(), peer) {
        return denied.into_response();
    }
    if let Some(id) = cookie(request.headers(), COOKIE) {
        app.sessions.end(id);
    }
    let mut response = json(StatusCode::OK, &json!({"logged_out": true}));
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    response
}

/// `POST /session {"token": "…"}`: JSON only, so a cross-site HTML form cannot log a browser in.
/// A client over the failure limit is refused before its body is read.
async fn login(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
    let peer = request.extensions().get::<ClientAddr>().copied();
    let ip = client_ip(&app, request.headers(), peer);
    if let Some(wait) = app.logins.retry_after(ip) {
        return too_many(wait).into_response();
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !is_json {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
    }
    let body = match read_body(request.into_body()).await.and_then(|b| json_body(&b)) {
        Ok(b) => b,
        Err(refused) => return refused.into_response(),
    };
    let token = body.get("token").and_then(|t| t.as_str()).unwrap_or("");
    if !app.admin_token_matches(token.trim()) {
        app.logins.failed(ip);
        tracing::warn!(client = %ip, "admin login refused");
        return error(StatusCode::UNAUTHORIZED, "wrong admin token");
    }
    let (id, csrf) = app.sessions.create();
    let mut response = json(StatusCode::OK, &json!({"csrf": csrf}));
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &id, SESSION_TTL.as_secs()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let logins = Logins::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..LOGIN_FAILURES {
            logins.failed(a);
        }
        assert!(logins.retry_after(b).is_some_and(|d| d <= LOGIN_WINDOW), "the same /64");
        assert_eq!(logins.retry_after(other), None);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        logins.failed(mapped);
        assert_eq!(Logins::key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(logins.retry_after("192.0.2.7".parse().unwrap()), None, "one failure is under the limit");
    }
}
