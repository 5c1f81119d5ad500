//! The admin page (`/`): embedded assets, login with the admin token, sessions.
//!
//! The session cookie is HttpOnly and SameSite=Strict. CSRF: every request that changes something
//! must carry the session's random token in `X-CSRF-Token`, which only our own page can read (it
//! gets it in the login answer and from `GET /session`); a cross-site form can neither read it
//! nor set a custom header. The API with a bearer token needs no cookie and so no CSRF token.
//! Under TLS or `--behind-https-proxy` the cookie is also `Secure`. Failed logins (a wrong token
//! at the login or as a bearer token) are counted per client (`sessions.rs`' `Logins`): past
//! [`LOGIN_FAILURES`](super::sessions::LOGIN_FAILURES) in
//! [`LOGIN_WINDOW`](super::sessions::LOGIN_WINDOW), 429 with Retry-After, checked before the
//! body is read.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::app::App;
use super::extract::{Refusal, error, json, json_body, read_body, text};
use super::server::ClientAddr;
use super::sessions::SESSION_TTL;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const OPENAPI: &str = include_str!("../../openapi.yaml");

const COOKIE: &str = "hh_session";

fn equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The client a request comes from: the peer, or behind `--behind-https-proxy` the address the
/// proxy appended last to X-Forwarded-For (earlier entries are the client's own say).
fn client_ip(app: &App, headers: &HeaderMap, peer: Option<ClientAddr>) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.0.ip());
    if !app.config.http.behind_https_proxy {
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
