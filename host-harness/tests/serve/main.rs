//! `host-harness serve` as a real process against the mocks: webhooks per the answer table, the
//! durable inbox across a kill -9, one call at a time per tenant, tenants in parallel, the
//! scheduler's runs waiting for a busy tenant, and SIGTERM with a call in flight.

mod browser;
mod fields;
mod held;
mod hostile;
mod log_export;
mod nothing_lost;
mod notify;
mod provision;
mod scale;
mod settings;

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{component, warm_cache};
use host_harness::serve::metrics::value_of;
use mock_servers::humaans::webhook::sign;
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
use mock_servers::{Fault, FaultRule};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const ADMIN: &str = "serve-admin-token-4c1e9b";
const SECRET: &str = "whsec-serve-8d2a";

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hh-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(warm_cache(), dir.join("cache")).unwrap();
    dir
}

/// A running `serve`: its address and every line it wrote on stderr so far.
struct Serve {
    child: tokio::process::Child,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

async fn start(data: &Path, extra: &[&str]) -> Serve {
    start_env(data, extra, &[]).await
}

async fn start_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
    start_command(tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness")), data, extra, env).await
}

/// `command` runs serve: the binary itself, or a wrapper that execs it with the arguments given.
async fn start_command(
    mut command: tokio::process::Command,
    data: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Serve {
    let mut child = command
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .env("HOST_HARNESS_ADMIN_TOKEN", ADMIN)
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .env_remove("HUMAANS_WEBHOOK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve says where it listens")
            .unwrap()
            .unwrap_or_else(|| panic!("serve exited early: {:?}", stderr.lock().unwrap()));
        stderr.lock().unwrap().push(line.clone());
        // `listen=http://ADDR` (text) or `"listen":"http://ADDR"` (json); https under TLS.
        if line.contains("serving")
            && let Some(rest) = line.split("://").nth(1)
        {
            break rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
        }
    };
    let sink = stderr.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Serve { child, addr, stderr }
}

impl Serve {
    fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        http(&self.addr, method, path, headers, body).await
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {ADMIN}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = self
            .request(method, path, &[("authorization", &auth), ("content-type", "application/json")], body.as_bytes())
            .await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn webhook(&self, tenant: &str, secret: &str, body: &str) -> (u16, String) {
        let signature = sign(secret, body.as_bytes());
        let path = format!("/webhooks/humaans/{tenant}");
        self.request("POST", &path, &[("x-humaans-signature", &signature)], body.as_bytes()).await
    }

    async fn metric(&self, series: &str) -> f64 {
        let (_, text) = self.request("GET", "/metrics", &[], b"").await;
        value_of(&text, series).unwrap_or(0.0)
    }

    /// Waits until the inbox is empty and `n` events have been applied.
    async fn applied(&self, n: f64) {
        let series = "host_harness_calls_total{export=\"on-employee-event\",outcome=\"ok\"}";
        eventually(&format!("{n} events applied"), || async {
            self.metric(series).await >= n && self.metric("host_harness_queue_depth").await == 0.0
        })
        .await;
        assert_eq!(self.metric(series).await, n, "events applied");
    }

    /// Connects and configures a tenant through the API.
    async fn tenant(&self, id: &str, humaans: &MockHumaans, leapsome: &MockLeapsome) {
        let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
            "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": "scim-test-token",
            "webhook_secret": SECRET, "scim_rate_limit": 0});
        let (status, body) = self.api("PUT", &format!("/api/tenants/{id}/connection"), Some(connection)).await;
        assert_eq!(status, 200, "connect: {body}");
        let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend", "dialect": "leapsome"});
        let (status, body) = self.api("PUT", &format!("/api/tenants/{id}/settings"), Some(settings)).await;
        assert_eq!(status, 200, "configure: {body}");
    }

    async fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("serve exits after SIGTERM")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status.code(), self.log())
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("serve accepts connections");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // A refused oversized body may be answered before it is all sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Polls `check` until it holds; the timeout only stops a hung test.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn mocks() -> (MockHumaans, MockLeapsome) {
    let humaans = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.unwrap();
    (humaans, leapsome)
}

fn hire(humaans: &MockHumaans, n: usize) -> (String, String) {
    let email = format!("person.{n}@acme.test");
    let id = humaans.add_person(Person::new("Person", &format!("Number{n}"), &email));
    humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
    (id, email)
}

/// The person's next read from Humaans hangs for `delay`: a call that reads them is in flight.
fn hang_next_read_of(humaans: &MockHumaans, id: &str, delay: Duration) {
    humaans.control().add_fault(FaultRule::new(Some("GET"), &format!("/api/people/{id}"), Fault::Delay(delay), 1));
}

fn created(id: &str, event: &str) -> String {
    json!({"id": event, "event": "person.created", "data": {"id": id}}).to_string()
}

fn posts(leapsome: &MockLeapsome) -> usize {
    leapsome.control().count("POST")
}

#[tokio::test]
async fn serve_refuses_to_start_without_an_admin_token() {
    let data = data_dir("no-token");
    for (env, args) in
        [(None, vec![]), (Some("short"), vec![]), (None, vec!["--admin-token-file", "/nonexistent/token"])]
    {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"));
        command.args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]).args(&args);
        command.env_remove("HOST_HARNESS_ADMIN_TOKEN").env("HUMAANS_LEAPSOME_COMPONENT", component());
        if let Some(token) = env {
            command.env("HOST_HARNESS_ADMIN_TOKEN", token);
        }
        let out = command.output().await.unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains("admin token"), "{stderr}");
    }
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_get_the_answers_of_the_table_and_apply_once() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("table");
    let serve = start(&data, &[]).await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(serve.request("GET", path, &[], b"").await.0, 200, "{path}");
    }
    let (status, _) = serve.request("GET", "/api/tenants", &[], b"").await;
    assert_eq!(status, 401, "the API needs the admin token");
    let (status, _) =
        serve.request("GET", "/api/tenants", &[("authorization", "Bearer wrong-token-000000")], b"").await;
    assert_eq!(status, 401);
    serve.tenant("acme", &humaans, &leapsome).await;
    let (status, body) = serve.api("GET", "/api/tenants", None).await;
    assert_eq!((status, body["tenants"][0]["id"].as_str()), (200, Some("acme")));
    let (_, connection) = serve.api("GET", "/api/tenants/acme/connection", None).await;
    assert!(!connection.to_string().contains("test-token"), "tokens are never shown: {connection}");
    let (id, email) = hire(&humaans, 1);

    // Forged, unsigned, unknown tenant, malformed, too large: refused, nothing queued or written.
    let body = created(&id, "evt-1");
    assert_eq!(serve.webhook("acme", "not-the-secret", &body).await.0, 401);
    assert_eq!(serve.request("POST", "/webhooks/humaans/acme", &[], body.as_bytes()).await.0, 401);
    assert_eq!(serve.webhook("nobody", SECRET, &body).await.0, 404);
    assert_eq!(serve.webhook("acme", SECRET, "{\"id\": \"evt-x\"").await.0, 400);
    let huge = format!(
        "{{\"id\":\"big\",\"event\":\"person.updated\",\"data\":{{\"id\":\"{id}\"}},\"pad\":\"{}\"}}",
        "x".repeat(1 << 20)
    );
    assert_eq!(serve.webhook("acme", SECRET, &huge).await.0, 413);
    let ignored = json!({"id": "evt-2", "event": "timeAway.created", "data": {}}).to_string();
    assert_eq!(serve.webhook("acme", SECRET, &ignored).await.0, 200, "unknown events get a 2xx");
    assert_eq!(serve.metric("host_harness_queue_depth").await, 0.0);
    assert_eq!(posts(&leapsome), 0, "nothing was created");
    assert!(leapsome.users().is_empty());

    // Signed: 202, then the account.
    let (status, answer) = serve.webhook("acme", SECRET, &body).await;
    assert_eq!(status, 202, "{answer}");
    serve.applied(1.0).await;
    let users = leapsome.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userName"], email.as_str());

    // Replayed: a 2xx, no second call, no second write.
    let writes = leapsome.control().journal().iter().filter(|e| e.method != "GET").count();
    let (status, _) = serve.webhook("acme", SECRET, &body).await;
    assert_eq!(status, 200);
    serve.applied(1.0).await;
    assert_eq!(leapsome.control().journal().iter().filter(|e| e.method != "GET").count(), writes);

    for (outcome, n) in [
        ("accepted", 1.0),
        ("duplicate", 1.0),
        ("bad-signature", 2.0),
        ("unknown-tenant", 1.0),
        ("malformed", 1.0),
        ("too-large", 1.0),
        ("ignored", 1.0),
    ] {
        assert_eq!(
            serve.metric(&format!("host_harness_webhooks_total{{outcome=\"{outcome}\"}}")).await,
            n,
            "{outcome}"
        );
    }
    assert_eq!(serve.metric("host_harness_scim_writes_total").await, writes as f64);
    let (_, logs) = serve.api("GET", "/api/tenants/acme/logs?limit=500", None).await;
    let text = logs.to_string();
    assert!(text.contains("webhook ignored") && text.contains(&email), "{text}");
    // Each entry names what started its run: the event's webhook, or a delivery not yet read.
    for e in logs["entries"].as_array().unwrap() {
        let trigger = e["trigger"].as_str().unwrap();
        match e["action"].as_str().unwrap() {
            "provision" | "event" => assert_eq!(trigger, "webhook:evt-1", "{e}"),
            "skip" if e["message"].as_str().unwrap().contains("webhook ignored") => assert_eq!(trigger, "webhook"),
            "connect" | "configure" => assert_eq!(trigger, "admin", "{e}"),
            _ => {}
        }
        assert!(e["run_id"].as_str().unwrap().starts_with("run-"), "{e}");
    }
    let (code, log) = serve.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    for secret in [SECRET, ADMIN, mock_servers::humaans::DEFAULT_TOKEN, "scim-test-token"] {
        assert!(!log.contains(secret), "a secret in serve's log: {log}");
    }
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_right_after_the_202_applies_the_event_once_after_restart() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("kill");
    let mut serve = start(&data, &[]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let (id, email) = hire(&humaans, 1);
    // The event's read of the person hangs, so the kill lands while the call is in flight.
    hang_next_read_of(&humaans, &id, Duration::from_secs(60));
    assert_eq!(serve.webhook("acme", SECRET, &created(&id, "evt-kill")).await.0, 202);
    serve.child.start_kill().unwrap();
    serve.child.wait().await.unwrap();
    assert!(leapsome.users().is_empty(), "killed before anything was written");
    // If the kill came before the call, the hang is still armed: the restarted process need not wait it out.
    humaans.control().clear_faults();

    let serve = start(&data, &["--lease-ttl", "2s"]).await;
    // Queued either way: claimed by the killed process (then resumed once its lease has run
    // out) or not yet claimed.
    assert!(serve.log().contains("queued=1"), "{}", serve.log());
    serve.applied(1.0).await;
    let users = leapsome.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userName"], email.as_str());
    assert_eq!(posts(&leapsome), 1, "created exactly once");
    // And a replay of the same delivery after the restart is still recognised.
    assert_eq!(serve.webhook("acme", SECRET, &created(&id, "evt-kill")).await.0, 200);

    // Again, killed for certain in the middle of the call: the item is claimed when it dies.
    let mut serve = serve;
    let (id2, email2) = hire(&humaans, 2);
    hang_next_read_of(&humaans, &id2, Duration::from_secs(60));
    assert_eq!(serve.webhook("acme", SECRET, &created(&id2, "evt-kill-2")).await.0, 202);
    eventually("the event claimed", || async { claimed(&data) == 1 }).await;
    serve.child.start_kill().unwrap();
    serve.child.wait().await.unwrap();
    humaans.control().clear_faults();
    // The dead process's lease runs out (its ttl), then the new process takes the tenant and
    // puts the dead one's claim back in the queue.
    let serve = start(&data, &["--lease-ttl", "2s"]).await;
    serve.applied(1.0).await;
    assert!(serve.log().contains("resumed events of an earlier holder tenant=acme events=1"), "{}", serve.log());
    assert_eq!(leapsome.users().len(), 2);
    assert!(leapsome.users().iter().any(|u| u["userName"] == email2.as_str()));
    assert_eq!(posts(&leapsome), 2, "each created exactly once");
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

/// Inbox items claimed by a worker, read from the store as another process would.
fn claimed(data: &Path) -> i64 {
    let db = rusqlite::Connection::open(data.join("host.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM inbox WHERE state = 'claimed'", [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_webhooks_at_once_for_one_tenant_are_all_applied_with_unique_log_sequences() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("twenty");
    let serve = Arc::new(start(&data, &["--workers", "4"]).await);
    serve.tenant("acme", &humaans, &leapsome).await;
    let people: Vec<(String, String)> = (0..20).map(|n| hire(&humaans, n)).collect();
    let sends = people.iter().enumerate().map(|(n, (id, _))| {
        let serve = serve.clone();
        let body = created(id, &format!("evt-{n}"));
        tokio::spawn(async move { serve.webhook("acme", SECRET, &body).await.0 })
    });
    for send in sends.collect::<Vec<_>>() {
        assert_eq!(send.await.unwrap(), 202);
    }
    serve.applied(20.0).await;
    let mut emails: Vec<String> = leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect();
    emails.sort();
    let mut expected: Vec<String> = people.iter().map(|(_, e)| e.clone()).collect();
    expected.sort();
    assert_eq!(emails, expected);
    assert_eq!(posts(&leapsome), 20);
    let (_, page) = serve.api("GET", "/api/tenants/acme/logs?limit=500", None).await;
    let entries = page["entries"].as_array().unwrap();
    let mut sequences: Vec<u64> = entries.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    sequences.sort();
    sequences.dedup();
    assert_eq!(sequences.len(), entries.len(), "log sequences are unique");
    assert_eq!(entries.iter().filter(|e| e["action"] == "provision").count(), 20);
    let serve = Arc::into_inner(serve).unwrap();
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_run_in_parallel() {
    let ((humaans_a, leapsome_a), (humaans_b, leapsome_b)) = (mocks().await, mocks().await);
    let data = data_dir("parallel");
    let serve = start(&data, &["--workers", "2"]).await;
    serve.tenant("a", &humaans_a, &leapsome_a).await;
    serve.tenant("b", &humaans_b, &leapsome_b).await;
    let (id_a, _) = hire(&humaans_a, 1);
    let (id_b, _) = hire(&humaans_b, 2);
    // Tenant a's call hangs on Humaans; tenant b's goes through meanwhile.
    hang_next_read_of(&humaans_a, &id_a, Duration::from_secs(8));
    assert_eq!(serve.webhook("a", SECRET, &created(&id_a, "evt-a")).await.0, 202);
    assert_eq!(serve.webhook("b", SECRET, &created(&id_b, "evt-b")).await.0, 202);
    eventually("b's account", || async { leapsome_b.users().len() == 1 }).await;
    assert!(leapsome_a.users().is_empty(), "b finished while a was still in its call");
    serve.applied(2.0).await;
    assert_eq!(leapsome_a.users().len(), 1);
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_wait_while_the_tenant_is_busy_and_sigterm_waits_for_the_call() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("busy");
    let args = ["--tick-every", "1s", "--sync-every", "24h", "--log-format", "json", "--log-level", "debug"];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    eventually("a first tick", || async {
        serve.metric("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}").await >= 1.0
    })
    .await;
    let (id, email) = hire(&humaans, 1);
    hang_next_read_of(&humaans, &id, Duration::from_secs(4));
    assert_eq!(serve.webhook("acme", SECRET, &created(&id, "evt-busy")).await.0, 202);
    eventually("a tick waiting", || async {
        serve.metric("host_harness_scheduled_waits_total{kind=\"tick\"}").await >= 1.0
    })
    .await;
    assert!(leapsome.users().is_empty(), "the event is still in its call");
    // SIGTERM now: the call in flight finishes, the process exits 0.
    let (code, log) = serve.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(leapsome.users().len(), 1, "the call in flight finished");
    assert_eq!(leapsome.users()[0]["userName"], email.as_str());
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    assert!(lines.iter().any(|l| l["msg"] == "scheduled run waits: the tenant is busy" && l["level"] == "debug"));
    let stopped = lines.iter().find(|l| l["msg"] == "stopped").expect("a stopped line");
    assert_eq!(stopped["in_flight_finished"].as_str(), Some("true"));
    // The call's turn ended (and its lease was released) before the process stopped.
    let ended = lines.iter().rposition(|l| l["msg"] == "turn ended" && l["tenant"] == "acme").expect("a turn ended");
    assert!(ended < lines.iter().position(|l| l["msg"] == "stopped").unwrap());
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_prints_how_to_log_in_and_keeps_serving() {
    let data = data_dir("demo");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--data-dir", data.to_str().unwrap(), "demo", "--serve", "--listen", "127.0.0.1:0", "--employees", "20"])
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .env_remove("HOST_HARNESS_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut token) = (None, None);
    while token.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(u) = line.strip_prefix("Admin page:") {
            url = Some(u.trim().trim_start_matches("http://").trim_end_matches('/').to_owned());
        }
        if let Some(t) = line.strip_prefix("Admin token:") {
            token = Some(t.trim().to_owned());
        }
    }
    let (addr, token) = (url.expect("the URL is printed"), token.unwrap());
    assert_eq!(http(&addr, "GET", "/", &[], b"").await.0, 200, "the admin page");
    let auth = format!("Bearer {token}");
    let (status, body) = http(&addr, "GET", "/api/tenants/demo/status", &[("authorization", &auth)], b"").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["connection"], "ok");
    std::process::Command::new("kill").args(["-INT", &child.id().unwrap().to_string()]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
