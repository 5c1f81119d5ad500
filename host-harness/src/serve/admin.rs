//! The admin page (`/`): embedded assets, login with the admin token, sessions.
//!
//! The session cookie is HttpOnly and SameSite=Strict. CSRF: every request that changes something
//! must carry the session's random token in `X-CSRF-Token`, which only our own page can read (it
//! gets it in the login answer and from `GET /session`); a cross-site form can neither read it
//! nor set a custom header. The API with a bearer token needs no cookie and so no CSRF token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use super::App;
use super::http::{Request, Response};

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

/// The API's gate: the admin token as a bearer token, or a session cookie (plus the CSRF header
/// on anything but GET).
pub fn authorize(app: &App, req: &Request) -> Result<(), Response> {
    if let Some(auth) = req.header("authorization") {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).unwrap_or("");
        return if app.admin_token_matches(token.trim()) {
            Ok(())
        } else {
            Err(Response::error(401, "a valid admin token is required")
                .with_header("www-authenticate", "Bearer".into()))
        };
    }
    let Some(csrf) = req.cookie(COOKIE).and_then(|id| app.sessions.csrf_of(id)) else {
        return Err(Response::error(401, "log in, or send Authorization: Bearer <admin token>")
            .with_header("www-authenticate", "Bearer".into()));
    };
    if req.method != hyper::Method::GET && !equal(req.header("x-csrf-token").unwrap_or(""), &csrf) {
        return Err(Response::error(403, "missing or wrong X-CSRF-Token"));
    }
    Ok(())
}

fn session_cookie(id: &str, max_age: u64) -> String {
    format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}")
}

pub async fn handle(app: &App, req: &Request, path: &[&str]) -> Response {
    match (req.method.as_str(), path) {
        ("GET", [""]) => Response::text(200, "text/html; charset=utf-8", INDEX_HTML),
        ("GET", ["assets", "app.js"]) => Response::text(200, "text/javascript; charset=utf-8", APP_JS),
        ("GET", ["assets", "app.css"]) => Response::text(200, "text/css; charset=utf-8", APP_CSS),
        ("GET", ["openapi.yaml"]) => Response::text(200, "application/yaml", OPENAPI),
        ("POST", ["session"]) => login(app, req),
        ("GET", ["session"]) => match req.cookie(COOKIE).and_then(|id| app.sessions.csrf_of(id)) {
            Some(csrf) => Response::json(200, &json!({"csrf": csrf})),
            None => Response::error(401, "not logged in"),
        },
        ("DELETE", ["session"]) => {
            if let Err(denied) = authorize(app, req) {
                return denied;
            }
            if let Some(id) = req.cookie(COOKIE) {
                app.sessions.end(id);
            }
            Response::json(200, &json!({"logged_out": true})).with_header("set-cookie", session_cookie("", 0))
        }
        _ => Response::error(404, "not found"),
    }
}

/// `POST /session {"token": "…"}`: JSON only, so a cross-site HTML form cannot log a browser in.
fn login(app: &App, req: &Request) -> Response {
    if !req.header("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return Response::error(415, "send JSON");
    }
    let body = match req.json() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let token = body.get("token").and_then(|t| t.as_str()).unwrap_or("");
    if !app.admin_token_matches(token.trim()) {
        app.log.warn("admin login refused", &[]);
        return Response::error(401, "wrong admin token");
    }
    let (id, csrf) = app.sessions.create();
    Response::json(200, &json!({"csrf": csrf})).with_header("set-cookie", session_cookie(&id, SESSION_TTL.as_secs()))
}
