//! Notifications end to end: the binary against the mocks, with a local receiver that records
//! every message it is sent and answers as a test tells it (a Slack incoming webhook's part).
//! An hour is made to pass by moving the times in the stored notification state back: the
//! binary reads it as any later run would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use mock_servers::{Fault, FaultRule};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[derive(Debug, Clone)]
struct Received {
    signature: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn text(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        v["text"].as_str().expect("a Slack-compatible {\"text\": …}").to_owned()
    }
}

/// A receiver on 127.0.0.1: answers 200, or the statuses queued with `answer_next`.
struct Receiver {
    url: String,
    /// Every request, delivered or not.
    attempts: Arc<Mutex<Vec<(u16, Received)>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hooks/hr", listener.local_addr().unwrap().port());
        let attempts: Arc<Mutex<Vec<(u16, Received)>>> = Arc::default();
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let (a, q) = (attempts.clone(), answers.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let (a, q) = (a.clone(), q.clone());
                tokio::spawn(async move {
                    let Some(received) = read_request(&mut stream).await else { return };
                    let status = q.lock().unwrap().pop_front().unwrap_or(200);
                    a.lock().unwrap().push((status, received));
                    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver { url, attempts, answers }
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    /// The messages accepted (2xx), in order.
    fn delivered(&self) -> Vec<Received> {
        self.attempts.lock().unwrap().iter().filter(|(s, _)| *s < 300).map(|(_, r)| r.clone()).collect()
    }

    fn texts(&self) -> Vec<String> {
        self.delivered().iter().map(Received::text).collect()
    }

    fn attempts(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(head.starts_with("POST /hooks/hr "), "{head}");
    Some(Received {
        signature: header("x-signature"),
        content_type: header("content-type"),
        body: buf[head_end..head_end + length].to_vec(),
    })
}

/// Exit 0 (warnings on stderr allowed: a held batch is said there); with `--json`, the document.
fn succeeded(run: Run) -> Option<Value> {
    assert_eq!(run.code, Some(0), "{}", run.describe());
    run.args.contains("--json").then(|| serde_json::from_str(&run.stdout).expect("one JSON document"))
}

/// A non-zero exit whose last line on stderr is the error (notification warnings may precede it).
fn failed(run: &Run) -> &str {
    assert!(run.code.is_some_and(|c| c != 0), "{}", run.describe());
    let last = run.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{}", run.describe());
    last
}

const SIGNING_SECRET: &str = "notify-secret-0123456789";

/// Moves every time in the tenant's stored notification state `minutes` back: to the binary's
/// next run, that much time has passed since the last message.
fn age_notifications(data: &Path, tenant: &str, minutes: i64) {
    fn shift(v: &mut Value, by: jiff::SignedDuration) {
        match v {
            Value::String(s) => {
                if let Ok(t) = s.parse::<jiff::Timestamp>() {
                    *s = (t - by).to_string();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| shift(i, by)),
            Value::Object(map) => map.values_mut().for_each(|i| shift(i, by)),
            _ => {}
        }
    }
    let store = SqliteStorage::open(&data.join("host.db")).unwrap();
    let bytes = store.get("host", "notify-state", tenant).unwrap().expect("a notification state");
    let mut state: Value = serde_json::from_slice(&bytes).unwrap();
    shift(&mut state, jiff::SignedDuration::from_mins(minutes));
    store.set("host", "notify-state", tenant, &serde_json::to_vec(&state).unwrap()).unwrap();
}

/// People with an account, to offboard.
fn active_people(m: &Mocks, n: usize) -> Vec<(String, String)> {
    let people = m.humaans.people();
    let with_account = people.iter().filter(|p| m.leapsome.user_by_username(&p.email).is_some());
    with_account.take(n).map(|p| (p.id.clone(), p.email.clone())).collect()
}

/// A held batch is one message however many syncs it stays held; a second batch within the
/// hour waits for the digest; approving them is one resolved message. Signed with the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deprovisions_are_one_message_a_digest_after_the_hour_and_one_resolved() {
    let receiver = Receiver::start().await;
    let m = mocks(14, 5).await;
    let data = data_dir("notify-held");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let configure = [
        "--data-dir",
        d,
        "--json",
        "configure",
        "--provisioning",
        "immediately",
        "--deprovisioning",
        "suspend",
        "--deprovision-limit",
        "1",
        "--notify-url",
        &receiver.url,
        "--notify-secret",
        SIGNING_SECRET,
    ];
    let shown = hh(&configure, &[]).await.ok().unwrap();
    assert_eq!(shown["notifications"]["notify_url"], receiver.url.as_str(), "{shown}");
    assert_eq!(shown["notifications"]["notify_signed"], true);
    assert!(!shown.to_string().contains(SIGNING_SECRET), "the secret is never shown");
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    assert_eq!(receiver.attempts(), 0, "nothing needs a person yet");

    // Three leave at once: over the limit of 1, all three are held. One message.
    let first = active_people(&m, 5);
    for (id, _) in &first[..3] {
        m.humaans.offboard(id, "2026-01-02");
    }
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    let texts = receiver.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("default") && texts[0].contains('3'), "the tenant and the count: {}", texts[0]);
    assert!(texts[0].contains("approve"), "what to do next: {}", texts[0]);
    assert!(first[..3].iter().all(|(_, email)| texts[0].contains(email.as_str())), "{}", texts[0]);
    let sent = &receiver.delivered()[0];
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(&sent.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sent.signature.as_deref(), Some(format!("sha256={expected}").as_str()));

    // Still held over more runs: no more messages.
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    succeeded(hh(&["--data-dir", d, "tick"], &[]).await);
    assert_eq!(receiver.attempts(), 1);

    // A new batch within the hour: folded into the digest, nothing sent now...
    for (id, _) in &first[3..5] {
        m.humaans.offboard(id, "2026-01-02");
    }
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    assert_eq!(receiver.attempts(), 1, "a second held message within the hour: {:?}", receiver.texts());
    // ... and sent by the first run after the hour, naming the new ones only.
    age_notifications(&data, "default", 61);
    succeeded(hh(&["--data-dir", d, "tick"], &[]).await);
    let texts = receiver.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(first[3..5].iter().all(|(_, email)| texts[1].contains(email.as_str())), "{}", texts[1]);
    assert!(!texts[1].contains(first[0].1.as_str()), "the digest names the new batch only: {}", texts[1]);

    // Approved: the incident is over, one resolved message.
    succeeded(hh(&["--data-dir", d, "approve", "--all"], &[]).await);
    let texts = receiver.texts();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[2].to_lowercase().contains("held"), "{}", texts[2]);
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    succeeded(hh(&["--data-dir", d, "tick"], &[]).await);
    assert_eq!(receiver.attempts(), 3, "nothing more: {:?}", receiver.texts());
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["notifications"]["open_incidents"], serde_json::json!([]), "{status}");
    clean_up(&data);
}

/// The connection refused: one message naming the service, delivered by the third attempt to a
/// receiver that fails twice, while the command answers as it would without notifications; a
/// successful connect is the resolved message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_connection_names_the_service_and_a_failing_receiver_is_retried() {
    let receiver = Receiver::start().await;
    let m = mocks(4, 2).await;
    let data = data_dir("notify-unauthorized");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    let connect = ["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su];
    hh(&connect, &tokens()).await.ok();
    hh(&["--data-dir", d, "configure", "--provisioning", "immediately", "--notify-url", &receiver.url], &[]).await.ok();
    let revoked = Fault::Status { status: 401, message: "token revoked".into() };
    m.leapsome.control().add_fault(FaultRule::new(None, "/scim/v1", revoked, 1000));
    let first = hh(&["--data-dir", d, "sync-all"], &[]).await;
    assert!(failed(&first).contains("401"), "{}", first.describe());
    assert_eq!(receiver.attempts(), 0, "one refusal may be a blip");

    receiver.answer_next(&[500, 503]);
    let second = hh(&["--data-dir", d, "sync-all"], &[]).await;
    assert!(failed(&second).contains("401"), "the command's own answer: {}", second.describe());
    assert_eq!(receiver.attempts(), 3, "two failures, then delivered");
    let texts = receiver.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Leapsome") && texts[0].contains("connect"), "{}", texts[0]);
    assert!(second.stderr.contains("not delivered"), "the failed attempts are said: {}", second.describe());

    // More refused runs: the same incident.
    failed(&hh(&["--data-dir", d, "sync-all"], &[]).await);
    assert_eq!(receiver.texts().len(), 1);

    // Connected again: resolved.
    m.leapsome.control().clear_faults();
    hh(&connect, &tokens()).await.ok();
    let texts = receiver.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].to_lowercase().contains("works again") || texts[1].to_lowercase().contains("resolved"),
        "{}",
        texts[1]
    );
    clean_up(&data);
}

/// A receiver that never answers well: the command succeeds with its usual answer, the message
/// waits in the outbox (status says so), and a later run delivers it once the receiver is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_never_fails_the_command_and_nothing_is_lost() {
    let receiver = Receiver::start().await;
    let m = mocks(10, 9).await;
    let data = data_dir("notify-failing");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let configure = [
        "--data-dir",
        d,
        "configure",
        "--provisioning",
        "immediately",
        "--deprovisioning",
        "suspend",
        "--deprovision-limit",
        "1",
        "--notify-url",
        &receiver.url,
        "--notify-on",
        "held,resolved",
    ];
    hh(&configure, &[]).await.ok();
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    for (id, _) in active_people(&m, 2) {
        m.humaans.offboard(&id, "2026-01-02");
    }
    receiver.answer_next(&[500; 3]);
    let report = succeeded(hh(&["--data-dir", d, "--json", "sync-all"], &[]).await).unwrap();
    assert_eq!(report["held"], 2, "the sync's own answer: {report}");
    assert_eq!(receiver.texts().len(), 0);
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    let delivery = &status["notifications"]["delivery"];
    assert!(delivery.to_string().contains("500"), "the last error is kept: {status}");

    // The receiver is back; the message is retried by a later run (its backoff moved past).
    let tried = receiver.attempts();
    age_notifications(&data, "default", 61);
    succeeded(hh(&["--data-dir", d, "tick"], &[]).await);
    assert!(receiver.attempts() > tried);
    let texts = receiver.texts();
    assert_eq!(texts.len(), 1, "delivered once: {texts:?}");
    assert!(texts[0].contains('2'), "{}", texts[0]);

    // Bad settings are refused with what is wrong.
    let plain = hh(&["--data-dir", d, "configure", "--notify-url", "http://hooks.example.com/x"], &[]).await;
    assert!(plain.fails().contains("http"), "{}", plain.describe());
    let kinds = hh(&["--data-dir", d, "configure", "--notify-on", "held,weather"], &[]).await;
    assert!(kinds.fails().contains("weather"), "{}", kinds.describe());
    let off = hh(&["--data-dir", d, "--json", "configure", "--notify-url", "none"], &[]).await.ok().unwrap();
    assert_eq!(off["notifications"]["notify_url"], Value::Null);
    clean_up(&data);
}

/// A person refused for 7 days is quarantined: one message naming them and how to retry; the
/// operator's retry is the resolved message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_person_is_one_message_and_the_retry_resolves_it() {
    let receiver = Receiver::start().await;
    let m = mocks(3, 4).await;
    let data = data_dir("notify-quarantine");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    hh(&["--data-dir", d, "configure", "--provisioning", "immediately", "--notify-url", &receiver.url], &[]).await.ok();
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    // A hire Leapsome refuses for good (an address outside the company's domains): retried with
    // backoff from now, quarantined after 7 days of refusals.
    use mock_servers::humaans::{JobRole, Person};
    let eve = m.humaans.add_person(Person::new("Eve", "Outsider", "eve@elsewhere.test"));
    m.humaans.add_job_role(JobRole::new(&eve, "Engineer", "Engineering", None, "2024-01-01"));
    succeeded(hh(&["--data-dir", d, "sync-all"], &[]).await);
    assert_eq!(receiver.attempts(), 0, "a refusal is retried before it needs a person");
    // Tick at each retry time the component asks for, until nobody is due: quarantined.
    let mut now = jiff::Timestamp::now();
    for _ in 0..40 {
        let report = succeeded(hh(&["--data-dir", d, "--json", "tick", "--now", &now.to_string()], &[]).await).unwrap();
        match report["next_due"].as_str() {
            Some(next) => now = next.parse().unwrap(),
            None => break,
        }
    }
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["quarantined_count"], 1, "{status}");
    assert_eq!(status["quarantined"][0]["person_id"], eve.as_str());
    let texts = receiver.texts();
    assert_eq!(texts.len(), 1, "one message for the quarantine: {texts:?}");
    assert!(texts[0].contains(&eve) && texts[0].contains("retry --person"), "{}", texts[0]);
    // More ticks while quarantined: the same incident.
    succeeded(hh(&["--data-dir", d, "tick", "--now", &now.to_string()], &[]).await);
    assert_eq!(receiver.attempts(), 1);

    hh(&["--data-dir", d, "retry", "--person", &eve], &[]).await.ok();
    let texts = receiver.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].to_lowercase().contains("quarantine"), "{}", texts[1]);
    clean_up(&data);
}
