//! The deprovision brake under `serve`: a bulk offboarding arriving as one webhook per person is
//! held past the limit, listed by the API and the CLI with the path that wanted it, and carried
//! out by the API's approvals (one, then all) and the CLI's `approve`.

use super::*;

/// The binary on serve's data directory, as an operator at the same machine runs it.
async fn cli(data: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--data-dir", data.to_str().unwrap(), "--tenant", "acme", "--json"])
        .args(args)
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (out.status.code(), serde_json::from_str(&stdout).unwrap_or(Value::Null), String::from_utf8(out.stderr).unwrap())
}

fn suspended(leapsome: &MockLeapsome) -> usize {
    leapsome.users().iter().filter(|u| u["active"] == false).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_offboarding_by_webhook_is_held_past_the_limit_and_approved_through_the_api_and_cli() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("held");
    let serve = start(&data, &[]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let ids: Vec<String> = (0..20).map(|n| hire(&humaans, n).0).collect();
    let (status, body) = serve.api("POST", "/api/tenants/acme/sync", Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    eventually("the first sync", || async {
        serve.api("GET", "/api/tenants/acme/sync", None).await.1["state"] == "done"
    })
    .await;
    assert_eq!(leapsome.users().len(), 20);

    // Nine leave at once: nine webhooks. The limit is max(5, 10% of 20) = 5.
    for (n, id) in ids[..9].iter().enumerate() {
        humaans.offboard(id, "2026-11-27");
        let body = json!({"id": format!("evt-off-{n}"), "event": "person.updated", "data": {"id": id}}).to_string();
        assert_eq!(serve.webhook("acme", SECRET, &body).await.0, 202);
    }
    serve.applied(9.0).await;
    assert_eq!(suspended(&leapsome), 5, "the limit carried out");
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    let held = status["held"].as_array().expect("held listed").clone();
    assert_eq!(held.len(), 4, "{status}");
    assert!(held.iter().all(|h| h["path"] == "event" && h["email"].is_string() && h["since"].is_string()), "{held:?}");

    // The CLI lists them too, and approves one.
    let (code, cli_status, stderr) = cli(&data, &["status"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(cli_status["held"].as_array().map(Vec::len), Some(4), "{cli_status}");
    let first = held[0]["person_id"].as_str().unwrap();
    let (code, approved, stderr) = cli(&data, &["approve", "--person", first]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(approved["approved"], 1, "{approved}");
    assert_eq!(suspended(&leapsome), 6);

    // The API approves one, then the rest; a person not held is a clear refusal.
    let second = held[1]["person_id"].as_str().unwrap();
    let (status, body) = serve.api("POST", &format!("/api/tenants/acme/held/{second}/approve"), None).await;
    assert_eq!((status, &body["approved"]), (200, &json!(1)), "{body}");
    let (status, body) = serve.api("POST", &format!("/api/tenants/acme/held/{second}/approve"), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("no held deprovision"), "{body}");
    let (status, body) = serve.api("POST", "/api/tenants/acme/held/approve-all", None).await;
    assert_eq!((status, &body["approved"], &body["remaining"]), (200, &json!(2), &json!(0)), "{body}");
    assert_eq!(suspended(&leapsome), 9);
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(status["held"], json!([]), "{status}");
    let (code, _) = serve.terminate().await;
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
