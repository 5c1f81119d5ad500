//! Nothing is dropped, through the real `serve`: a scheduled run that falls due while its tenant
//! is busy runs when the tenant frees up; failed webhook events are retried with growing gaps,
//! kept as a dead letter after the last attempt (once), listed by `status` and the API, counted
//! in `/metrics`, re-queued by `retry --event`, then applied.

use std::path::Path;
use std::time::Duration;

use mock_servers::{Fault, FaultRule};
use serde_json::Value;

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
async fn a_failing_event_backs_off_becomes_a_dead_letter_once_and_retry_applies_it() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("dead-letters");
    // Five attempts, 200 ms before the second and doubling; no scheduled run during the test.
    let args = ["--event-attempts", "5", "--event-backoff", "200ms", "--tick-every", "24h", "--log-format", "json"];
    let serve = start(&data, &args).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let (id, email) = hire(&humaans, 1);
    // Humaans refuses to read the person five times (a 400: no retry inside the call).
    let person = format!("/api/people/{id}");
    humaans.control().add_fault(FaultRule::new(
        Some("GET"),
        &person,
        Fault::Status { status: 400, message: "temporarily unreadable".into() },
        5,
    ));
    let reads = || humaans.control().journal().iter().filter(|e| e.method == "GET" && e.path == person).count();
    assert_eq!(serve.webhook("acme", SECRET, &created(&id, "evt-dead")).await.0, 202);

    let dead = "event kept as a dead letter: `retry --event` re-queues it";
    eventually("the dead letter", || async { serve.log().contains(dead) }).await;
    assert_eq!(reads(), 5, "five calls, each read the person once");
    assert_eq!(serve.metric("host_harness_calls_total{export=\"on-employee-event\",outcome=\"error\"}").await, 5.0);
    assert_eq!(serve.metric("host_harness_dead_letters_total").await, 1.0);
    assert_eq!(serve.metric("host_harness_queue_depth").await, 0.0, "a dead letter is not queued work");
    assert!(leapsome.users().is_empty());
    // Retried with growing gaps (the delays the rule chose, not measured), then dead once.
    let lines = log_lines(&serve.log());
    let retried: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["msg"] == "event will be retried")
        .map(|l| (l["attempt"].as_str().unwrap().to_owned(), l["retry_in_ms"].as_str().unwrap().to_owned()))
        .collect();
    let expected: Vec<(String, String)> =
        [("1", "200"), ("2", "400"), ("3", "800"), ("4", "1600")].map(|(a, d)| (a.into(), d.into())).into();
    assert_eq!(retried, expected);
    let kept: Vec<&Value> = lines.iter().filter(|l| l["msg"] == dead).collect();
    assert_eq!(kept.len(), 1, "logged once");
    assert_eq!((kept[0]["event"].as_str(), kept[0]["attempt"].as_str()), (Some("evt-dead"), Some("5")));
    assert!(kept[0]["error"].as_str().unwrap().contains("temporarily unreadable"), "{}", kept[0]);
    // Nothing more happens to it: no sixth call.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(reads(), 5);

    // Listed by the CLI's status.
    let (code, out, err) = cli(&data, &["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    let letters = status["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{status}");
    assert_eq!((letters[0]["event_id"].as_str(), letters[0]["attempts"].as_u64()), (Some("evt-dead"), Some(5)));
    assert_eq!((letters[0]["kind"].as_str(), letters[0]["person_id"].as_str()), (Some("created"), Some(id.as_str())));
    assert!(letters[0]["error"].as_str().unwrap().contains("temporarily unreadable"));
    assert_eq!(status["events_retrying"], serde_json::json!([]));

    // An unknown id is refused in one line; the real one is queued again and applied.
    let (code, _, err) = cli(&data, &["retry", "--event", "evt-nope"]);
    assert_eq!((code, err.lines().count()), (Some(1), 1), "{err}");
    assert!(err.contains("no dead letter with event id evt-nope"), "{err}");
    let (code, _, err) = cli(&data, &["retry", "--event", "evt-dead"]);
    assert_eq!(code, Some(0), "{err}");
    serve.applied(1.0).await;
    assert_eq!(reads(), 6);
    let users = leapsome.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userName"], email.as_str());
    let (_, out, _) = cli(&data, &["status", "--json"]);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["dead_letters"], serde_json::json!([]), "re-queued, then done");
    let (code, _, _) = cli(&data, &["retry", "--event", "evt-dead"]);
    assert_eq!(code, Some(1), "done: no longer a dead letter");
    assert_eq!(serve.metric("host_harness_dead_letters_total").await, 1.0, "counted once");
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_due_while_the_tenant_is_busy_runs_when_it_frees_up() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("waits");
    let args = ["--tick-every", "3s", "--sync-every", "24h", "--log-format", "json", "--log-level", "debug"];
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
