//! Nothing is dropped, through the real `serve`: a scheduled run that falls due while its tenant
//! is busy (a call here, or its lease held by another process) runs when the tenant frees up;
//! failed webhook events are retried with growing gaps, kept as a dead letter after the last
//! attempt (once), listed by `status` and the API, counted in `/metrics`, re-queued by
//! `retry --event` (or the API), then applied.

use std::path::Path;
use std::time::Duration;

use mock_servers::{Fault, FaultRule};
use serde_json::{Value, json};

use super::{SECRET, common, created, data_dir, eventually, hang_next_read_of, hire, mocks, start};

/// The binary's one-shot command on serve's data directory; (exit code, stdout, stderr).
fn cli(data: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--data-dir", data.to_str().unwrap(), "--tenant", "acme"])
        .args(args)
        .env("HUMAANS_LEAPSOME_COMPONENT", common::component())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn log_lines(log: &str) -> Vec<Value> {
    log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_events_back_off_become_dead_letters_once_and_retry_applies_them() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("dead-letters");
    // Five attempts, 200 ms before the second and doubling; no scheduled run during the test.
    let args = [
        "--event-attempts",
        "5",
        "--event-backoff",
        "200ms",
        "--tick-every",
        "1000d",
        "--sync-every",
        "1000d",
        "--log-format",
        "json",
    ];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    // Humaans refuses to read either person five times (a 400: no retry inside the call).
    let people: Vec<(String, String)> = (1..=2).map(|n| hire(&humaans, n)).collect();
    for (id, _) in &people {
        let refusal = Fault::Status { status: 400, message: "temporarily unreadable".into() };
        humaans.control().add_fault(FaultRule::new(Some("GET"), &format!("/api/people/{id}"), refusal, 5));
    }
    let reads = |id: &str| {
        let path = format!("/api/people/{id}");
        humaans.control().journal().iter().filter(|e| e.method == "GET" && e.path == path).count()
    };
    let events = ["evt-cli", "evt-api"];
    for ((id, _), event) in people.iter().zip(events) {
        assert_eq!(serve.webhook("acme", SECRET, &created(id, event)).await.0, 202);
    }

    let dead = "event kept as a dead letter: `retry --event` re-queues it";
    eventually("two dead letters", || async { serve.log().matches(dead).count() == 2 }).await;
    for (id, _) in &people {
        assert_eq!(reads(id), 5, "five calls, each read the person once");
    }
    assert_eq!(serve.metric("host_harness_calls_total{export=\"on-employee-event\",outcome=\"error\"}").await, 10.0);
    assert_eq!(serve.metric("host_harness_dead_letters_total").await, 2.0);
    assert_eq!(serve.metric("host_harness_dead_letters").await, 2.0, "kept");
    assert_eq!(serve.metric("host_harness_queue_depth").await, 0.0, "a dead letter is not queued work");
    assert!(leapsome.users().is_empty());
    // Each retried with growing gaps (the delays the rule chose, not measured), then kept once.
    let lines = log_lines(&serve.log());
    for event in events {
        let retried: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l["msg"] == "event will be retried" && l["event"] == event)
            .map(|l| (l["attempt"].as_str().unwrap().to_owned(), l["retry_in_ms"].as_str().unwrap().to_owned()))
            .collect();
        let expected: Vec<(String, String)> =
            [("1", "200"), ("2", "400"), ("3", "800"), ("4", "1600")].map(|(a, d)| (a.into(), d.into())).into();
        assert_eq!(retried, expected, "{event}");
        let kept: Vec<&Value> = lines.iter().filter(|l| l["msg"] == dead && l["event"] == event).collect();
        assert_eq!(kept.len(), 1, "logged once");
        assert_eq!(kept[0]["attempt"].as_str(), Some("5"));
        assert!(kept[0]["error"].as_str().unwrap().contains("temporarily unreadable"), "{}", kept[0]);
    }
    // Nothing more happens to them: no sixth call.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!((reads(&people[0].0), reads(&people[1].0)), (5, 5));

    // Listed by the CLI's status, and by the API (with a count in its status answer).
    let (code, out, err) = cli(&data, &["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    let letters = status["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2, "{status}");
    assert_eq!((letters[0]["event_id"].as_str(), letters[0]["attempts"].as_u64()), (Some("evt-cli"), Some(5)));
    let person = people[0].0.as_str();
    assert_eq!((letters[0]["kind"].as_str(), letters[0]["person_id"].as_str()), (Some("created"), Some(person)));
    assert!(letters[0]["error"].as_str().unwrap().contains("temporarily unreadable"));
    assert_eq!(status["events_retrying"], json!([]));
    let (code, listed) = serve.api("GET", "/api/tenants/acme/dead-letters", None).await;
    assert_eq!(code, 200, "{listed}");
    assert_eq!(listed["dead_letters"], status["dead_letters"]);
    assert_eq!(listed["retrying"], json!([]));
    let (_, api_status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(api_status["dead_letter_count"], 2);

    // Unknown ids are refused; the real ones are queued again (one by the CLI, one by the API)
    // and applied.
    let (code, _, err) = cli(&data, &["retry", "--event", "evt-nope"]);
    assert_eq!((code, err.lines().count()), (Some(1), 1), "{err}");
    assert!(err.contains("no dead letter with event id evt-nope"), "{err}");
    let (code, _) = serve.api("POST", "/api/tenants/acme/dead-letters/evt-nope/retry", None).await;
    assert_eq!(code, 404);
    let (code, _, err) = cli(&data, &["retry", "--event", "evt-cli"]);
    assert_eq!(code, Some(0), "{err}");
    serve.applied(1.0).await;
    let (code, body) = serve.api("POST", "/api/tenants/acme/dead-letters/evt-api/retry", None).await;
    assert_eq!(code, 200, "{body}");
    serve.applied(2.0).await;
    assert_eq!((reads(&people[0].0), reads(&people[1].0)), (6, 6));
    let mut made: Vec<String> = leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect();
    made.sort();
    assert_eq!(made, [people[0].1.clone(), people[1].1.clone()]);
    let (_, out, _) = cli(&data, &["status", "--json"]);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["dead_letters"], json!([]), "re-queued, then done");
    let (code, _, _) = cli(&data, &["retry", "--event", "evt-cli"]);
    assert_eq!(code, Some(1), "done: no longer a dead letter");
    assert_eq!(serve.metric("host_harness_dead_letters_total").await, 2.0, "each counted once");
    assert_eq!(serve.metric("host_harness_dead_letters").await, 0.0);
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_due_while_the_tenant_is_busy_runs_when_it_frees_up() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("waits");
    let args = ["--tick-every", "3s", "--sync-every", "1000d", "--log-format", "json", "--log-level", "debug"];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    // An event holds the tenant for 8 s: at least two ticks fall due meanwhile (one row: one waits).
    let (id, _) = hire(&humaans, 1);
    hang_next_read_of(&humaans, &id, Duration::from_secs(8));
    assert_eq!(serve.webhook("acme", SECRET, &created(&id, "evt-busy")).await.0, 202);
    eventually("a tick waiting", || async {
        serve.metric("host_harness_scheduled_waits_total{kind=\"tick\"}").await >= 1.0
    })
    .await;
    serve.applied(1.0).await;
    eventually("the waiting tick", || async {
        log_lines(&serve.log()).iter().skip_while(|l| l["msg"] != "event applied").any(|l| l["msg"] == "tick")
    })
    .await;
    let lines = log_lines(&serve.log());
    let waits = lines.iter().find(|l| l["msg"] == "scheduled run waits: the tenant is busy").expect("a debug line");
    assert_eq!((waits["level"].as_str(), waits["tenant"].as_str()), (Some("debug"), Some("acme")));
    // The tenant's turn ran the tick right after the event, before it ended: not a later tick.
    let applied = lines.iter().position(|l| l["msg"] == "event applied").unwrap();
    let next: Vec<&str> = lines[applied + 1..]
        .iter()
        .filter(|l| l["tenant"] == "acme")
        .filter_map(|l| l["msg"].as_str())
        .filter(|m| ["tick", "turn started", "turn ended"].contains(m))
        .take(2)
        .collect();
    assert_eq!(next, ["tick", "turn ended"], "{:?}", &lines[applied..]);
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_due_while_another_process_holds_the_tenant_runs_once_it_lets_go() {
    use host_harness::{LeaseStore, SqliteStorage};
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("held-elsewhere");
    let args = ["--tick-every", "4s", "--sync-every", "1000d", "--log-format", "json", "--log-level", "debug"];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    // Another process (this test, on the same database file) takes the tenant's lease and holds it
    // for 5 s, longer than a tick period: a tick falls due meanwhile.
    let other = SqliteStorage::open(&data.join("host.db")).unwrap();
    let held = loop {
        if let Some(lease) = other.acquire("acme", "another-process", Duration::from_secs(60)).unwrap() {
            break lease;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let waits = "scheduled run waits: another process holds the tenant";
    eventually("a tick waiting for the other process", || async { serve.log().contains(waits) }).await;
    let ticks = |log: &str| log_lines(log).iter().filter(|l| l["msg"] == "tick" && l["tenant"] == "acme").count();
    let waiting_since = ticks(&serve.log());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(ticks(&serve.log()), waiting_since, "nothing runs while the other process holds the tenant");
    assert!(serve.metric("host_harness_scheduled_waits_total{kind=\"tick\"}").await >= 1.0);
    let lines = log_lines(&serve.log());
    let line = lines.iter().find(|l| l["msg"] == waits).unwrap();
    assert_eq!((line["level"].as_str(), line["kind"].as_str()), (Some("debug"), Some("tick")));
    // It lets go: the waiting tick runs (its lease asked for again every second).
    other.release(&held).unwrap();
    eventually("the waiting tick", || async { ticks(&serve.log()) > waiting_since }).await;
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
