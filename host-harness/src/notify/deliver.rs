//! Sending the outbox: POST each due message to the tenant's notify URL through its egress rules.
//!
//! The URL is checked against the `Tenant`'s allow-list, resolved and checked by
//! [`egress::addresses`] (public addresses only unless the entry names a local address), and the
//! connection goes to a checked address ([`egress::connect_any`]): DNS rebinding is closed as it
//! is for the component's requests. TLS is rustls with the webpki roots. No redirect is followed
//! (a 3xx is a failed attempt). Error texts name the scheme, host and port, never the URL's path:
//! a Slack webhook's path is its secret.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Kind, Outbox};
use crate::{AllowedHost, Scheme, Tenant, egress};

/// One attempt takes at most this long in all: resolving, connecting, TLS, the answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A tenant's notification settings (host-side; stored by the lead in the tenant's host record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub url: String,
    pub secret: Option<String>,
}

/// A failed attempt, for the caller's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    /// Which attempt of this message it was (1 to [`super::MAX_ATTEMPTS`]).
    pub attempt: u32,
    pub error: String,
    /// When the next attempt is due; `None`: the message was given up.
    pub next_attempt: Option<Timestamp>,
}

/// What one [`deliver_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages sent for (a connection tried); the others of the round failed without one.
    pub attempted: u32,
    pub delivered: u32,
    pub given_up: u32,
    pub failures: Vec<Failure>,
}

/// Checks a notify URL as configure must: absolute http(s) URL with a host; `http` only when the
/// host is a local address literal or `localhost` ([`AllowedHost::names_a_local_address`], the
/// rule `connect` applies); no user name or password. Errors never repeat the URL's path.
pub fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    // Before parsing: a password in the URL must not end up in an error message.
    let authority = url.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if authority.contains('@') {
        return Err("a notify URL may not carry a user name or password (use --notify-secret to sign)".into());
    }
    let uri: http::Uri =
        url.parse().map_err(|_| "the notify URL is not a URL; expected https://HOST/PATH".to_owned())?;
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https" | "http") => {}
        Some(other) => return Err(format!("the notify URL's scheme `{other}` is not https (or http on loopback)")),
        None => return Err("the notify URL is not absolute; expected https://HOST/PATH".into()),
    }
    let entry = AllowedHost::from_url(url).map_err(|_| "the notify URL has no valid host or port".to_owned())?;
    if entry.scheme == Scheme::Http && !entry.names_a_local_address() {
        return Err(format!(
            "the notify URL {entry} uses plain http, allowed only for a local address (127.0.0.1, ::1, localhost); use https"
        ));
    }
    Ok(())
}

/// Tries the due messages once each, in the order they were queued: POST body, `Content-Type:
/// application/json`, `X-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>` when a
/// secret is set. 2xx = delivered (removed). Otherwise (a status, refused, a timeout of
/// [`ATTEMPT_TIMEOUT`]) the attempt is counted and the next one backs off
/// ([`super::BACKOFF`]); after [`super::MAX_ATTEMPTS`] the message is given up (counted, last
/// error kept). The round stops at the first failure: the messages after it wait, untouched, so
/// a reader never gets "resolved" before the message it resolves, and a round costs one timeout
/// at most. Every failure is returned for the caller's log and kept in the summary. Never
/// panics, never returns an error.
pub async fn deliver_due(outbox: &mut Outbox, target: &Target, egress: &Tenant, now: Timestamp) -> DeliveryReport {
    deliver_within(outbox, target, egress, now, ATTEMPT_TIMEOUT).await
}

pub(super) async fn deliver_within(
    outbox: &mut Outbox,
    target: &Target,
    egress: &Tenant,
    now: Timestamp,
    timeout: Duration,
) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    for id in outbox.due_ids(now) {
        let Some(message) = outbox.message(id) else { continue };
        let kind = message.kind;
        let body = message.body();
        report.attempted += 1;
        let result = match tokio::time::timeout(timeout, attempt(target, egress, body)).await {
            Ok(Ok(None)) => Ok(()),
            Ok(Ok(Some(refusal))) => Err(refusal),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f32())),
        };
        match result {
            Ok(()) => {
                outbox.succeeded(id);
                report.delivered += 1;
            }
            Err(error) => {
                let (attempt, next_attempt) = outbox.failed(id, &error, now);
                report.given_up += u32::from(next_attempt.is_none());
                report.failures.push(Failure { kind, attempt, error, next_attempt });
                // In order: the rest wait behind this one (unless it was given up).
                if next_attempt.is_some() {
                    break;
                }
            }
        }
    }
    report
}

/// The HMAC-SHA256 of `body` under `secret`, as the `X-Signature` header's value.
pub(super) fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// One POST of `body`: `Ok(None)` delivered, `Ok(Some(why))` the receiver answered with a
/// refusal, `Err(why)` it could not be reached or did not answer; each in one line.
async fn attempt(target: &Target, tenant: &Tenant, body: Vec<u8>) -> Result<Option<String>, String> {
    check_url(&target.url)?;
    let wanted = AllowedHost::from_url(target.url.trim()).map_err(|_| "the notify URL has no valid host")?;
    let Some(entry) = tenant.allowed(wanted.scheme, &wanted.host, wanted.port).cloned() else {
        return Err(format!("{wanted} is not on the tenant's egress allow-list; nothing was sent"));
    };
    let addrs = egress::addresses(tenant, &entry).await.map_err(|refusal| match refusal {
        egress::Refusal::Unresolved => format!("{entry}: the host name did not resolve"),
        egress::Refusal::NonPublicAddress => format!("{entry}: the host resolves only to non-public addresses"),
    })?;
    let stream = egress::connect_any(&addrs).await.map_err(|e| format!("{entry}: cannot connect: {e}"))?;

    let uri: http::Uri = target.url.trim().parse().map_err(|_| "the notify URL is not a URL")?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = uri.authority().map_or(entry.host.as_str(), |a| a.as_str());
    let mut request = http::Request::post(path)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, concat!("host-harness/", env!("CARGO_PKG_VERSION")));
    if let Some(secret) = target.secret.as_deref().filter(|s| !s.is_empty()) {
        request = request.header("X-Signature", signature(secret, &body));
    }
    let request = request.body(Full::new(Bytes::from(body))).map_err(|e| format!("{entry}: {e}"))?;

    let (status, answer) = if entry.scheme == Scheme::Https {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = match entry.host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(entry.host.clone())
                .map_err(|_| format!("{entry}: not a valid TLS server name"))?,
        };
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .map_err(|e| format!("{entry}: TLS: {e}"))?;
        exchange(tls, request).await
    } else {
        exchange(stream, request).await
    }
    .map_err(|e| format!("{entry}: {e}"))?;
    if status.is_success() {
        return Ok(None);
    }
    let answer = if answer.is_empty() { String::new() } else { format!(": {answer}") };
    Ok(Some(format!("{entry} answered {status}{answer}")))
}

/// Sends `request` over `stream` (HTTP/1.1) and returns the status and, for a refusal, the
/// start of its body.
async fn exchange<S>(stream: S, request: http::Request<Full<Bytes>>) -> Result<(http::StatusCode, String), String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    // The connection is driven by its own task, ended when this attempt ends (or times out).
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        return Ok((status, String::new()));
    }
    // The start of a refusal, for the error (Slack says e.g. `invalid_payload`); one line.
    let mut body = response.into_body();
    let mut start = Vec::new();
    while start.len() < 200 {
        match body.frame().await {
            Some(Ok(frame)) => start.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&start).split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((status, text.chars().take(200).collect()))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
