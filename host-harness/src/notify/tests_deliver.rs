//! Delivery against a real receiver on 127.0.0.1 (hyper's server in the test), time driven by hand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jiff::{SignedDuration, Timestamp};

use super::deliver::{deliver_within, signature};
use super::{BACKOFF, Kind, MAX_ATTEMPTS, MAX_WAITING, Message, Outbox, Target, check_url, deliver_due};
use crate::Tenant;

struct Received {
    method: http::Method,
    path: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// A receiver that answers its n-th request with `statuses[n]` (the last one from then on).
struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let statuses = statuses.to_vec();
        let (log, count) = (requests.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let (log, statuses) = (log.clone(), statuses.clone());
                let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (log, statuses) = (log.clone(), statuses.clone());
                    async move {
                        let (head, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes().to_vec();
                        let path = head.uri.path_and_query().unwrap().to_string();
                        let mut log = log.lock().unwrap();
                        let status = statuses[log.len().min(statuses.len() - 1)];
                        log.push(Received { method: head.method, path, headers: head.headers, body });
                        let response = http::Response::builder()
                            .status(status)
                            .header("location", "http://127.0.0.1:1/elsewhere")
                            .body(Full::new(Bytes::from_static(b"no_service\n")))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Receiver { addr, requests, connections }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/acme?channel=ops", self.addr.port())
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn t0() -> Timestamp {
    "2026-12-01T09:00:00Z".parse().unwrap()
}

fn secs(s: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(s)
}

fn message(text: &str) -> Message {
    Message { kind: Kind::Held, text: text.into() }
}

fn allowing(url: &str) -> Tenant {
    Tenant::new("acme").allow_url(url).unwrap()
}

#[tokio::test]
async fn a_message_is_posted_as_json_with_its_signature() {
    let receiver = Receiver::start(&[200]).await;
    let url = receiver.url();
    let mut outbox = Outbox::default();
    let held = message("[acme] 2 deprovisions are held: \"over\" the limit. People: é@x.test, b@x.test.");
    outbox.push(&held, t0());
    let target = Target { url: url.clone(), secret: Some("a-notify-secret".into()) };
    let report = deliver_due(&mut outbox, &target, &allowing(&url), t0()).await;
    assert_eq!((report.attempted, report.delivered, report.failures.len()), (1, 1, 0), "{report:?}");
    assert_eq!((outbox.waiting(), outbox.delivered(), outbox.given_up()), (0, 1, 0));

    {
        let requests = receiver.requests.lock().unwrap();
        let request = &requests[0];
        assert_eq!((&request.method, request.path.as_str()), (&http::Method::POST, "/hooks/acme?channel=ops"));
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["host"], format!("127.0.0.1:{}", receiver.addr.port()).as_str());
        assert_eq!(request.body, held.body());
        let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(json, serde_json::json!({ "text": held.text }));
        // The receiver's check: HMAC-SHA256 of the exact body under the shared secret, hex.
        use hmac::Mac;
        let header = request.headers["x-signature"].to_str().unwrap();
        let hex = header.strip_prefix("sha256=").expect("sha256= prefix");
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"a-notify-secret").unwrap();
        mac.update(&request.body);
        mac.verify_slice(&bytes).expect("the signature verifies");
        assert_eq!(header, signature("a-notify-secret", &request.body));
    }

    // Without a secret: no signature header.
    outbox.push(&message("second"), t0());
    let target = Target { url: url.clone(), secret: None };
    assert_eq!(deliver_due(&mut outbox, &target, &allowing(&url), t0()).await.delivered, 1);
    assert!(!receiver.requests.lock().unwrap()[1].headers.contains_key("x-signature"));
}

#[tokio::test]
async fn a_receiver_failing_twice_then_accepting_gets_three_attempts_at_the_backoff_times() {
    let receiver = Receiver::start(&[500, 503, 204]).await;
    let url = receiver.url();
    let (target, tenant) = (Target { url: url.clone(), secret: None }, allowing(&url));
    let mut outbox = Outbox::default();
    outbox.push(&message("m"), t0());

    let report = deliver_due(&mut outbox, &target, &tenant, t0()).await;
    let failure = &report.failures[0];
    assert_eq!((failure.attempt, failure.next_attempt), (1, Some(secs(1))));
    let port = receiver.addr.port();
    assert_eq!(failure.error, format!("http://127.0.0.1:{port} answered 500 Internal Server Error: no_service"));
    // Before the backoff is over: nothing is sent.
    assert_eq!(deliver_due(&mut outbox, &target, &tenant, secs(0)).await.attempted, 0);
    assert_eq!(receiver.count(), 1);

    let report = deliver_due(&mut outbox, &target, &tenant, secs(1)).await;
    assert_eq!((report.failures[0].attempt, report.failures[0].next_attempt), (2, Some(secs(5))));
    assert_eq!(outbox.next_attempt(), Some(secs(5)));
    assert_eq!(deliver_due(&mut outbox, &target, &tenant, secs(4)).await.attempted, 0);

    let report = deliver_due(&mut outbox, &target, &tenant, secs(5)).await;
    assert_eq!((report.attempted, report.delivered, report.failures.len()), (1, 1, 0));
    assert_eq!(receiver.count(), 3);
    let summary = outbox.summary();
    assert_eq!((summary["waiting"].as_u64(), summary["delivered"].as_u64()), (Some(0), Some(1)));
    assert_eq!(summary["last_error"]["at"], "2026-12-01T09:00:01Z");
    assert!(summary["last_error"]["error"].as_str().unwrap().contains("answered 503 Service Unavailable"));
}

#[tokio::test]
async fn a_receiver_always_failing_is_given_up_after_eight_attempts() {
    let receiver = Receiver::start(&[500]).await;
    let url = receiver.url();
    let (target, tenant) = (Target { url: url.clone(), secret: Some("s".into()) }, allowing(&url));
    let mut outbox = Outbox::default();
    outbox.push(&message("m"), t0());
    let mut now = t0();
    let mut times = vec![];
    while let Some(next) = outbox.next_attempt() {
        // A second early: nothing.
        assert_eq!(deliver_due(&mut outbox, &target, &tenant, later(next, -1)).await.attempted, 0);
        now = now.max(next);
        times.push(now.duration_since(t0()).as_secs());
        let report = deliver_due(&mut outbox, &target, &tenant, now).await;
        assert_eq!((report.attempted, report.failures.len()), (1, 1));
    }
    // 0, then each backoff after the last: 1 s, 4 s, 1 min, 5 min, 30 min, 2 h, 6 h.
    assert_eq!(times, [0, 1, 5, 65, 365, 2165, 9365, 30965]);
    assert_eq!(BACKOFF.len() as u32 + 1, MAX_ATTEMPTS);
    assert_eq!(receiver.count(), 8);
    assert_eq!((outbox.waiting(), outbox.delivered(), outbox.given_up()), (0, 0, 1));
    assert_eq!(outbox.summary()["given_up"], 1);
}

fn later(at: Timestamp, seconds: i64) -> Timestamp {
    at + SignedDuration::from_secs(seconds)
}

#[tokio::test]
async fn a_url_the_tenant_does_not_allow_is_refused_and_nothing_is_sent() {
    let receiver = Receiver::start(&[200]).await;
    let url = receiver.url();
    let mut outbox = Outbox::default();
    outbox.push(&message("m"), t0());
    let target = Target { url: url.clone(), secret: None };
    // Allowed: the same host on another port, and https to this one.
    let other = Tenant::new("acme").allow_url("http://127.0.0.1:1/").unwrap();
    let other = other.allow_url(&url.replace("http://", "https://")).unwrap();
    let report = deliver_due(&mut outbox, &target, &other, t0()).await;
    let port = receiver.addr.port();
    assert_eq!(
        report.failures[0].error,
        format!("http://127.0.0.1:{port} is not on the tenant's egress allow-list; nothing was sent")
    );
    assert_eq!((report.failures[0].attempt, outbox.waiting()), (1, 1), "a failed attempt, counted");
    // A name pinned to loopback is not a local entry: refused before connecting (as the component's requests).
    let mut pinned = Tenant::new("acme").allow_url(&format!("https://hooks.example.test:{port}/x")).unwrap();
    pinned.resolve_overrides.insert("hooks.example.test".into(), vec!["127.0.0.1".parse().unwrap()]);
    let target = Target { url: format!("https://hooks.example.test:{port}/x"), secret: None };
    let report = deliver_due(&mut outbox, &target, &pinned, secs(1)).await;
    assert_eq!(
        report.failures[0].error,
        format!("https://hooks.example.test:{port}: the host resolves only to non-public addresses")
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((receiver.connections.load(Ordering::SeqCst), receiver.count()), (0, 0));
}

/// https is checked against the public roots: a receiver with a self-signed certificate gets a
/// handshake and not one request.
#[tokio::test]
async fn https_refuses_a_certificate_no_public_root_signs() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        acceptor.accept(stream).await.is_ok()
    });
    let url = format!("https://127.0.0.1:{port}/hook");
    let mut outbox = Outbox::default();
    outbox.push(&message("m"), t0());
    let report = deliver_due(&mut outbox, &Target { url: url.clone(), secret: None }, &allowing(&url), t0()).await;
    let error = &report.failures[0].error;
    assert!(error.starts_with(&format!("https://127.0.0.1:{port}: TLS: ")) && error.contains("certificate"), "{error}");
    assert!(!handshakes.await.unwrap(), "the handshake did not complete");
    assert_eq!(outbox.waiting(), 1);
}

/// A receiver that accepts and never answers costs one timeout a round: the round stops there
/// and the later message waits, in order, untouched (no connection of its own). A refusal (a 302,
/// not followed) stops the round the same way; the message behind it goes once it is through.
#[tokio::test]
async fn a_receiver_that_does_not_answer_times_out_once_a_round_and_a_redirect_is_not_followed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut outbox = Outbox::default();
    outbox.push(&message("first"), t0());
    outbox.push(&message("second"), t0());
    let target = Target { url: url.clone(), secret: None };
    let report = deliver_within(&mut outbox, &target, &allowing(&url), t0(), Duration::from_millis(300)).await;
    let errors: Vec<&str> = report.failures.iter().map(|f| f.error.as_str()).collect();
    assert_eq!(errors, ["no answer within 0.3 s"]);
    assert_eq!((report.attempted, outbox.waiting()), (1, 2));
    assert!(outbox.due(t0()).is_empty(), "the second waits behind the first");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    silent.abort();

    let receiver = Receiver::start(&[302, 200, 200]).await;
    let url = receiver.url();
    let target = Target { url: url.clone(), secret: None };
    let report = deliver_due(&mut outbox, &target, &allowing(&url), secs(1)).await;
    assert_eq!((report.attempted, report.delivered, report.failures.len()), (1, 0, 1));
    assert!(report.failures[0].error.ends_with("answered 302 Found: no_service"), "{report:?}");
    assert_eq!(receiver.count(), 1, "the Location was not followed, and the second waited");
    let report = deliver_due(&mut outbox, &target, &allowing(&url), secs(100)).await;
    assert_eq!((report.attempted, report.delivered), (2, 2));
    assert_eq!(receiver.count(), 3);
    assert_eq!(outbox.waiting(), 0);
}

#[test]
fn the_outbox_keeps_the_newest_100() {
    let mut outbox = Outbox::default();
    for i in 0..MAX_WAITING + 5 {
        outbox.push(&message(&format!("m{i}")), t0());
    }
    assert_eq!((outbox.waiting(), outbox.dropped()), (100, 5));
    let due: Vec<&str> = outbox.due(t0()).iter().map(|m| m.text.as_str()).collect();
    assert_eq!((due[0], due[99]), ("m5", "m104"));
    assert_eq!(outbox.summary()["dropped"], 5);
}

#[test]
fn notify_urls_are_checked_as_configure_must() {
    for ok in ["https://hooks.slack.com/services/T0/B0/XYZ", "http://127.0.0.1:9999/hook", "http://localhost/x"] {
        assert_eq!(check_url(ok), Ok(()), "{ok}");
    }
    assert_eq!(check_url("http://[::1]:8080/hook"), Ok(()));
    let refused = [
        (
            "http://hooks.example.com/x",
            "the notify URL http://hooks.example.com:80 uses plain http, allowed only for a local address (127.0.0.1, \
             ::1, localhost); use https",
        ),
        (
            "https://me:hunter2@hooks.example.com/x",
            "a notify URL may not carry a user name or password (use --notify-secret to sign)",
        ),
        ("not a url", "the notify URL is not a URL; expected https://HOST/PATH"),
        ("/relative/path", "the notify URL is not absolute; expected https://HOST/PATH"),
        ("ftp://hooks.example.com/x", "the notify URL's scheme `ftp` is not https (or http on loopback)"),
        ("https://hooks.example.com:0/x", "the notify URL has no valid host or port"),
    ];
    for (url, error) in refused {
        assert_eq!(check_url(url).unwrap_err(), error, "{url}");
    }
}

/// A claim takes the due messages in order, hides them from a second claim until settled (or
/// until the claim runs out: a process that died loses nothing), and settling records each
/// message's outcome while messages queued meanwhile stay.
#[test]
fn claimed_messages_are_hidden_until_settled_and_come_back_if_never_settled() {
    let mut outbox = Outbox::default();
    outbox.push(&message("first"), t0());
    outbox.push(&message("second"), t0());
    let mut claimed = outbox.claim(t0(), 60);
    assert_eq!(claimed.waiting(), 2);
    assert!(outbox.claim(t0(), 60).waiting() == 0, "claimed once");
    assert_eq!(outbox.claim(secs(61), 60).waiting(), 2, "a claim never settled runs out");

    let ids = claimed.ids();
    // Meanwhile a third is queued (behind the claimed ones, so not yet due).
    outbox.push(&message("third"), secs(1));
    assert!(outbox.due(secs(1)).is_empty(), "in order: it waits behind the claimed ones");
    // The delivery: the first through, the second refused.
    claimed.succeeded(ids[0]);
    claimed.failed(ids[1], "HTTP 500", t0());
    outbox.settle(&ids, &claimed);
    assert_eq!((outbox.waiting(), outbox.delivered()), (2, 1));
    assert_eq!(outbox.next_attempt(), Some(secs(BACKOFF[0])), "the second, backing off, first in line");
    let due: Vec<&str> = outbox.due(secs(BACKOFF[0])).iter().map(|m| m.text.as_str()).collect();
    assert_eq!(due, ["second", "third"]);
    assert!(outbox.summary()["last_error"]["error"] == "HTTP 500");
}
