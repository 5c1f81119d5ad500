//! `POST /api/tenants/{t}/provision`: provision on demand over real HTTP, answered with the trace;
//! a dry run sends Leapsome no write; a body of the wrong shape is a 400 naming the field, an
//! unknown person a 422 in words, an unknown tenant a 404.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_on_demand_over_the_api_answers_the_trace_and_a_dry_run_writes_nothing() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("provision");
    let serve = start(&data, &["--tick-every", "24h", "--sync-every", "24h"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let (id, email) = hire(&humaans, 1);
    let path = "/api/tenants/acme/provision";
    let outcome = |v: &Value, step: &str| {
        v["steps"].as_array().unwrap().iter().find(|s| s["step"] == step).map(|s| s["outcome"].clone())
    };

    let (status, planned) = serve.api("POST", path, Some(json!({"person": id, "dry_run": true}))).await;
    assert_eq!(status, 200, "{planned}");
    assert_eq!(planned["dry_run"], true);
    assert_eq!(outcome(&planned, "decision"), Some(json!("create")), "{planned:#}");
    assert_eq!(outcome(&planned, "write"), Some(json!("dry run")));
    assert_eq!(planned["changes"][0]["kind"], "create");
    assert_eq!(leapsome.control().journal().iter().filter(|e| e.method != "GET").count(), 0);

    let (status, done) = serve.api("POST", path, Some(json!({"person": id}))).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(outcome(&done, "write"), Some(json!("HTTP 201")), "{done:#}");
    assert_eq!(posts(&leapsome), 1);
    assert!(leapsome.user_by_username(&email).is_some());
    let (_, entries) = serve.api("GET", &format!("/api/tenants/acme/logs?person={id}"), None).await;
    let made: Vec<&Value> =
        entries["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "provision").collect();
    assert_eq!(made.len(), 1, "{entries:#}");
    assert_eq!(made[0]["trigger"], "admin");

    for (body, names) in [
        (json!({}), "`person` is required"),
        (json!({"person": 42}), "`person` must be"),
        (json!({"person": id, "dry_run": "yes"}), "`dry_run` must be true or false"),
    ] {
        let (status, answer) = serve.api("POST", path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(names), "{body}: {answer}");
    }
    let (status, answer) = serve.api("POST", path, Some(json!({"person": "nobody42"}))).await;
    assert_eq!((status, answer["error"].as_str()), (422, Some("Humaans has no person with id `nobody42`")));
    let (status, _) = serve.api("POST", "/api/tenants/nobody/provision", Some(json!({"person": id}))).await;
    assert_eq!(status, 404);
    assert_eq!(posts(&leapsome), 1, "nothing more written");
    assert_eq!(serve.terminate().await.0, Some(0));
}
