//! The log for auditors through the API: `logs.csv` (read back by the `csv` crate, as a
//! spreadsheet would) holds what `logs` lists, and `logs/summary` counts it by action and outcome.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_download_and_the_summary_hold_what_the_log_lists() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("log-export");
    let serve = start(&data, &[]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    for n in 0..4 {
        hire(&humaans, n);
    }
    let (status, body) = serve.api("POST", "/api/tenants/acme/sync", Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    eventually("the sync", || async { serve.api("GET", "/api/tenants/acme/sync", None).await.1["state"] == "done" })
        .await;
    let (status, listed) = serve.api("GET", "/api/tenants/acme/logs?limit=500", None).await;
    assert_eq!(status, 200);
    let listed = listed["entries"].as_array().unwrap().clone();
    assert!(listed.iter().any(|e| e["action"] == "provision"), "{listed:?}");
    // A sync started through the API is the admin's, one run.
    let synced: Vec<&Value> = listed.iter().filter(|e| e["action"] == "provision").collect();
    assert!(synced.iter().all(|e| e["trigger"] == "admin" && e["run_id"] == synced[0]["run_id"]), "{synced:?}");

    // The JSON list takes the CSV's filters: a work email (any case) keeps that person's entries.
    let email = synced[0]["email"].as_str().unwrap().to_owned();
    let (status, theirs) =
        serve.api("GET", &format!("/api/tenants/acme/logs?person={}", email.to_uppercase()), None).await;
    assert_eq!(status, 200, "{theirs}");
    let expected = listed.iter().filter(|e| e["email"] == email.as_str()).count();
    assert_eq!(theirs["entries"].as_array().unwrap().len(), expected, "{theirs}");
    assert!(theirs["entries"].as_array().unwrap().iter().all(|e| e["email"] == email.as_str()), "{theirs}");
    assert_eq!(theirs["next_before"], Value::Null);
    let run = synced[0]["run_id"].as_str().unwrap();
    let (_, of_run) = serve.api("GET", &format!("/api/tenants/acme/logs?run={run}&limit=500"), None).await;
    let in_run = listed.iter().filter(|e| e["run_id"] == run).count();
    assert_eq!(of_run["entries"].as_array().unwrap().len(), in_run, "{of_run}");
    let (_, later) = serve.api("GET", "/api/tenants/acme/logs?since=2999-01-01", None).await;
    assert_eq!(later["entries"].as_array().unwrap().len(), 0, "{later}");
    let (status, refused) = serve.api("GET", "/api/tenants/acme/logs?since=soon", None).await;
    assert_eq!(status, 400, "{refused}");

    let auth = format!("Bearer {ADMIN}");
    let (status, text) = serve.request("GET", "/api/tenants/acme/logs.csv", &[("authorization", &auth)], b"").await;
    assert_eq!(status, 200, "{text}");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), listed.len());
    for (row, entry) in rows.iter().zip(&listed) {
        assert_eq!(
            (&row[0], &row[2], &row[3]),
            (
                entry["sequence"].to_string().as_str(),
                entry["action"].as_str().unwrap(),
                entry["outcome"].as_str().unwrap()
            )
        );
    }
    // Filters as the CLI's: failures only (none here), a period that holds nothing.
    let (_, none) =
        serve.request("GET", "/api/tenants/acme/logs.csv?since=2999-01-01", &[("authorization", &auth)], b"").await;
    assert_eq!(none.trim_start_matches('\u{feff}').lines().count(), 1, "the header only: {none}");
    let (status, refused) = serve.api("GET", "/api/tenants/acme/logs.csv?until=soon", None).await;
    assert_eq!(status, 400, "{refused}");

    let (status, summary) = serve.api("GET", "/api/tenants/acme/logs/summary", None).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["total"], listed.len());
    let provisions = listed.iter().filter(|e| e["action"] == "provision").count();
    assert_eq!(summary["by_action"]["provision"], provisions, "{summary}");
    let successes = listed.iter().filter(|e| e["outcome"] == "success").count();
    assert_eq!(summary["by_outcome"]["success"], successes);
    let (_, empty) = serve.api("GET", "/api/tenants/acme/logs/summary?since=2999-01-01", None).await;
    assert_eq!(empty["total"], 0);
    let (status, _) = serve.api("GET", "/api/tenants/nobody/logs/summary", None).await;
    assert_eq!(status, 404);
}

/// A sync the scheduler starts is the schedule's: its entries say so, one run a sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_are_logged_as_the_schedules() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("log-schedule");
    let serve = start(&data, &["--tick-every", "24h", "--sync-every", "1s"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    for n in 0..2 {
        hire(&humaans, n);
    }
    eventually("the scheduled sync", || async { leapsome.users().len() == 2 }).await;
    let (_, listed) = serve.api("GET", "/api/tenants/acme/logs?limit=500", None).await;
    let provisions: Vec<&Value> =
        listed["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "provision").collect();
    assert_eq!(provisions.len(), 2, "{listed}");
    assert!(provisions.iter().all(|e| e["trigger"] == "schedule"), "{provisions:?}");
    let (code, log) = serve.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    std::fs::remove_dir_all(data).unwrap();
}
