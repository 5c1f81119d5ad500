//! Notifications under `serve`, end to end: a local receiver on 127.0.0.1 records every message
//! it is sent (as in tests/cli/notify.rs), serve raises them from its own runs (webhook events,
//! API actions), and the settings are changed through `…/notifications`.

use std::collections::VecDeque;

use super::*;

/// A receiver on 127.0.0.1. It answers 200, except for the first `hang` requests: those it
/// reads and then never answers, recording when each came and when the sender gave up on it
/// (closed the connection). `events` is one ordered record the test appends to as well.
struct Receiver {
    url: String,
    /// The texts of the messages answered 200, in order.
    delivered: Arc<Mutex<Vec<String>>>,
    /// Every request read, answered or not.
    requests: Arc<Mutex<usize>>,
    events: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(hang: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hooks/hr", listener.local_addr().unwrap().port());
        let delivered: Arc<Mutex<Vec<String>>> = Arc::default();
        let requests: Arc<Mutex<usize>> = Arc::default();
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let hang = Arc::new(Mutex::new(VecDeque::from_iter(1..=hang)));
        let (d, r, e) = (delivered.clone(), requests.clone(), events.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let (d, r, e, hang) = (d.clone(), r.clone(), e.clone(), hang.clone());
                tokio::spawn(async move {
                    let Some(text) = read_message(&mut stream).await else { return };
                    *r.lock().unwrap() += 1;
                    let hung = hang.lock().unwrap().pop_front();
                    if let Some(n) = hung {
                        e.lock().unwrap().push(format!("request {n} came"));
                        // Never answer: wait for the sender to give up and close.
                        let mut rest = [0u8; 1024];
                        while stream.read(&mut rest).await.is_ok_and(|n| n > 0) {}
                        e.lock().unwrap().push(format!("request {n} given up"));
                        return;
                    }
                    d.lock().unwrap().push(text);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver { url, delivered, requests, events }
    }

    fn texts(&self) -> Vec<String> {
        self.delivered.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn record(&self, event: &str) {
        self.events.lock().unwrap().push(event.to_owned());
    }
}

/// One request's JSON body's `text` (Slack-compatible `{"text": …}`).
async fn read_message(stream: &mut tokio::net::TcpStream) -> Option<String> {
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
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(head.starts_with("post /hooks/hr "), "{head}");
    let body: Value = serde_json::from_slice(&buf[head_end..head_end + length]).expect("a JSON body");
    Some(body["text"].as_str().expect("{\"text\": …}").to_owned())
}

/// The tenant's open incidents of `kind` (items), as the API shows them.
async fn open_items(serve: &Serve, kind: &str) -> u64 {
    let (_, shown) = serve.api("GET", "/api/tenants/acme/notifications", None).await;
    let open = shown["open_incidents"].as_array().cloned().unwrap_or_default();
    open.iter().find(|o| o["kind"] == kind).and_then(|o| o["items"].as_u64()).unwrap_or(0)
}

async fn notify_to(serve: &Serve, url: &str) {
    let (status, body) = serve.api("PATCH", "/api/tenants/acme/notifications", Some(json!({"url": url}))).await;
    assert_eq!(status, 200, "{body}");
}

/// Humaans refuses to read the person `times` times (a 400: no retry inside the call).
fn refuse_reads(humaans: &MockHumaans, id: &str, times: usize) {
    let refusal = Fault::Status { status: 400, message: "temporarily unreadable".into() };
    humaans.control().add_fault(FaultRule::new(Some("GET"), &format!("/api/people/{id}"), refusal, times));
}

/// A dead letter is one message naming the event and how to retry it; a second one within the
/// hour waits for the digest (no message); both re-queued through the API and applied: one
/// resolved message. Exactly two messages in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_in_serve_is_one_message_a_second_waits_and_retrying_them_resolves() {
    let receiver = Receiver::start(0).await;
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("notify-dead");
    let args = ["--event-attempts", "2", "--event-backoff", "100ms", "--tick-every", "1000d", "--sync-every", "1000d"];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    notify_to(&serve, &receiver.url).await;

    let (first, _) = hire(&humaans, 1);
    refuse_reads(&humaans, &first, 2);
    assert_eq!(serve.webhook("acme", SECRET, &created(&first, "evt-dead-1")).await.0, 202);
    eventually("the dead letter's message", || async { !receiver.texts().is_empty() }).await;
    let texts = receiver.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = &texts[0];
    assert!(text.starts_with("[acme]") && text.contains("dead letters") && text.contains("evt-dead-1"), "{text}");
    assert!(text.contains("retry --event") && text.contains("/api/tenants/acme/dead-letters/ID/retry"), "{text}");

    // A second dead letter within the hour: the ledger counts it, nothing is sent.
    let (second, _) = hire(&humaans, 2);
    refuse_reads(&humaans, &second, 2);
    assert_eq!(serve.webhook("acme", SECRET, &created(&second, "evt-dead-2")).await.0, 202);
    eventually("the second dead letter seen", || async { open_items(&serve, "dead-letters").await == 2 }).await;
    assert_eq!(receiver.requests(), 1, "folded into the hour's digest: {:?}", receiver.texts());

    // Re-queued through the API and applied: the incident is over, one resolved message.
    for event in ["evt-dead-1", "evt-dead-2"] {
        let (code, body) = serve.api("POST", &format!("/api/tenants/acme/dead-letters/{event}/retry"), None).await;
        assert_eq!(code, 200, "{body}");
    }
    serve.applied(2.0).await;
    assert_eq!(leapsome.users().len(), 2);
    eventually("the resolved message", || async { receiver.texts().len() == 2 }).await;
    let texts = receiver.texts();
    assert!(texts[1].contains("Resolved") && texts[1].contains("no dead letters are left"), "{}", texts[1]);
    assert!(!texts[1].contains("evt-dead-2"), "the folded one is gone, not announced: {}", texts[1]);
    eventually("nothing open", || async { open_items(&serve, "dead-letters").await == 0 }).await;
    let (_, shown) = serve.api("GET", "/api/tenants/acme/notifications", None).await;
    assert_eq!(shown["delivery"]["waiting"], 0, "{shown}");
    assert_eq!(shown["delivery"]["delivered"], 2, "{shown}");
    assert_eq!(receiver.requests(), 2, "{:?}", receiver.texts());
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

/// `GET`/`PATCH …/notifications`: the settings as set, never the secret; a refused body is a
/// 422 naming the field and changes nothing; an unknown tenant is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_settings_api_sets_shows_and_refuses() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("notify-api");
    let serve = start(&data, &["--tick-every", "1000d", "--sync-every", "1000d"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let path = "/api/tenants/acme/notifications";
    let (status, shown) = serve.api("GET", path, None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!((&shown["notify_url"], &shown["notify_signed"]), (&Value::Null, &json!(false)), "off: {shown}");
    assert_eq!(shown["notify_on"].as_array().map(Vec::len), Some(5), "every kind by default: {shown}");

    let secret = "notify-api-secret-0123456789";
    let url = "https://hooks.slack.com/services/T000/B000/XXXX";
    let change = json!({"url": url, "secret": secret, "on": ["held", "resolved"]});
    let (status, answer) = serve.api("PATCH", path, Some(change)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, shown) = serve.api("GET", path, None).await;
    assert_eq!(status, 200);
    assert_eq!(shown, answer, "the PATCH answers with the settings");
    assert_eq!(shown["notify_url"], url);
    assert_eq!(shown["notify_on"], json!(["held", "resolved"]));
    assert_eq!(shown["notify_signed"], true);
    assert!(!shown.to_string().contains(secret), "the secret is never shown: {shown}");
    // The comma-separated text the CLI takes is accepted too.
    let (status, answer) = serve.api("PATCH", path, Some(json!({"on": "quarantine, dead-letters"}))).await;
    assert_eq!((status, &answer["notify_on"]), (200, &json!(["quarantine", "dead-letters"])), "{answer}");
    let (_, before) = serve.api("GET", path, None).await;

    // Refused, each naming the field; a valid key beside a refused one is not applied either.
    for (body, names) in [
        (json!({"url": "https://hooks.example.com/new", "colour": "red"}), "colour"),
        (json!({"url": "http://hooks.example.com/x"}), "`url`"),
        (json!({"url": "https://hooks.example.com/new", "on": ["held", "weather"]}), "weather"),
        (json!({"on": []}), "`on`"),
        (json!({"url": "https://hooks.example.com/new", "secret": "short"}), "`secret`"),
        (json!({"url": 7}), "`url`"),
        (json!(["url"]), "JSON object"),
    ] {
        let (status, answer) = serve.api("PATCH", path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer.to_string().contains(names), "{body}: {answer}");
        assert_eq!(serve.api("GET", path, None).await.1, before, "{body} changed nothing");
    }

    // Off again: no URL, unsigned.
    let (status, answer) = serve.api("PATCH", path, Some(json!({"url": null, "secret": null}))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((&answer["notify_url"], &answer["notify_signed"]), (&Value::Null, &json!(false)), "{answer}");

    for method in ["GET", "PATCH"] {
        let body = (method == "PATCH").then(|| json!({"url": url}));
        let (status, answer) = serve.api(method, "/api/tenants/nobody/notifications", body).await;
        assert_eq!(status, 404, "{method}: {answer}");
    }
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

/// Deprovisions held by events are one message. The receiver takes that request and never
/// answers; meanwhile approving them through the API answers before the sender gives up on the
/// receiver (its 10 s timeout), by the order of what the receiver records. The held message is
/// then retried and the resolved one sent: two messages delivered, three requests in all.
// It failed while serve delivered inside the tenant's turn (observed order: came, given up,
// approve answered); delivery now happens between two short turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deprovisions_are_one_message_and_a_receiver_that_hangs_delays_no_api_answer() {
    let receiver = Receiver::start(1).await;
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("notify-held");
    let serve = start(&data, &["--tick-every", "1000d", "--sync-every", "1000d"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let ids: Vec<String> = (0..20).map(|n| hire(&humaans, n).0).collect();
    let (status, body) = serve.api("POST", "/api/tenants/acme/sync", Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    eventually("the first sync", || async {
        serve.api("GET", "/api/tenants/acme/sync", None).await.1["state"] == "done"
    })
    .await;
    assert_eq!(leapsome.users().len(), 20);

    // Nine leave at once; the limit is 5, four are held.
    for (n, id) in ids[..9].iter().enumerate() {
        humaans.offboard(id, "2026-11-27");
        let body = json!({"id": format!("evt-off-{n}"), "event": "person.updated", "data": {"id": id}}).to_string();
        assert_eq!(serve.webhook("acme", SECRET, &body).await.0, 202);
    }
    serve.applied(9.0).await;
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(status["held"].as_array().map(Vec::len), Some(4), "{status}");

    // Notifications on; the next event's run raises the held message, which the receiver takes
    // and never answers.
    notify_to(&serve, &receiver.url).await;
    let body = json!({"id": "evt-after", "event": "person.updated", "data": {"id": ids[10]}}).to_string();
    assert_eq!(serve.webhook("acme", SECRET, &body).await.0, 202);
    serve.applied(10.0).await;
    eventually("the held message sent", || async { receiver.requests() == 1 }).await;

    let (status, body) = serve.api("POST", "/api/tenants/acme/held/approve-all", None).await;
    receiver.record("approve answered");
    assert_eq!((status, &body["approved"], &body["remaining"]), (200, &json!(4), &json!(0)), "{body}");
    eventually("the sender gives up", || async { receiver.events().len() == 3 }).await;
    assert_eq!(
        receiver.events(),
        ["request 1 came", "approve answered", "request 1 given up"],
        "the API answered while the receiver hung"
    );

    // The next check retries the held message and sends the resolved one.
    eventually("two messages delivered", || async { receiver.texts().len() == 2 }).await;
    let texts = receiver.texts();
    assert!(texts[0].starts_with("[acme] 4 deprovisions are held") && texts[0].contains("approve"), "{}", texts[0]);
    assert!(texts[1].contains("Resolved") && texts[1].contains("held deprovisions"), "{}", texts[1]);
    eventually("nothing open", || async { open_items(&serve, "held").await == 0 }).await;
    let (_, shown) = serve.api("GET", "/api/tenants/acme/notifications", None).await;
    assert_eq!((&shown["delivery"]["waiting"], &shown["delivery"]["delivered"]), (&json!(0), &json!(2)), "{shown}");
    assert_eq!(receiver.requests(), 3, "one hung, then one each: {texts:?}");
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
