//! `provision --person ID [--dry-run]` through the binary: the trace as one JSON document
//! (`{"steps": [{"step", "outcome", "detail"}…], "changes": […]}`) or as numbered lines, a dry run
//! that sends Leapsome nothing but reads, and an unknown id in one line.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_on_demand_answers_a_trace_and_a_dry_run_writes_nothing() {
    let m = mocks(12, 3).await;
    let data = data_dir("provision");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    // Provisioning is off (the default): provision on demand goes ahead anyway.
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let person = m.humaans.people().into_iter().find(|p| p.status == "active").expect("an active person");
    let writes = || m.leapsome.control().journal().iter().filter(|e| e.method != "GET").count();
    m.leapsome.control().clear_journal();

    let planned =
        hh(&["--data-dir", d, "--json", "provision", "--person", &person.id, "--dry-run"], &[]).await.ok().unwrap();
    assert_eq!(planned["dry_run"], true);
    let steps = planned["steps"].as_array().expect("steps");
    assert!(
        steps.iter().all(
            |s| ["step", "outcome", "detail"].iter().all(|k| s[k].is_string()) && s.as_object().unwrap().len() == 3
        ),
        "{planned:#}"
    );
    let outcome = |v: &Value, step: &str| {
        v["steps"].as_array().unwrap().iter().find(|s| s["step"] == step).map(|s| s["outcome"].clone())
    };
    assert_eq!(outcome(&planned, "settings"), Some(Value::from("provisioning off")));
    assert_eq!(outcome(&planned, "decision"), Some(Value::from("create")));
    assert_eq!(outcome(&planned, "write"), Some(Value::from("dry run")));
    let changes = planned["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{planned:#}");
    assert_eq!((changes[0]["kind"].as_str(), changes[0]["person_id"].as_str()), (Some("create"), Some(&*person.id)));
    assert_eq!(writes(), 0, "a dry run sends no write");
    assert!(m.leapsome.user_by_username(&person.email).is_none());

    let done = hh(&["--data-dir", d, "--json", "provision", "--person", &person.id], &[]).await.ok().unwrap();
    assert_eq!(done["dry_run"], false);
    assert_eq!(outcome(&done, "write"), Some(Value::from("HTTP 201")));
    assert_eq!(done["changes"][0]["kind"], "create");
    assert_eq!(writes(), 1);
    assert!(m.leapsome.user_by_username(&person.email).is_some());
    // The log has it, in a run of its own started from the command line.
    let entries = hh(&["--data-dir", d, "--json", "logs", "--person", &person.id], &[]).await.ok().unwrap();
    let made: Vec<&Value> =
        entries["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "provision").collect();
    assert_eq!(made.len(), 1, "{entries:#}");
    assert_eq!(made[0]["trigger"], "cli");

    // Without --json: one numbered line a step.
    let text = hh(&["--data-dir", d, "provision", "--person", &person.id], &[]).await;
    text.ok();
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines[0], format!("provision {}", person.id), "{}", text.stdout);
    assert!(lines[1].trim_start().starts_with("1. connection"), "{}", text.stdout);
    assert!(lines.iter().any(|l| l.contains("match") && l.contains("by link")), "{}", text.stdout);
    assert_eq!(lines.last(), Some(&"changes: 0 (use --json for the list)"), "{}", text.stdout);
    assert_eq!(writes(), 1, "up to date: nothing more written");

    let unknown = hh(&["--data-dir", d, "provision", "--person", "nobody42"], &[]).await;
    assert_eq!(unknown.fails(), "error: Humaans has no person with id `nobody42`");
    let missing = hh(&["--data-dir", d, "provision"], &[]).await;
    assert!(missing.fails().contains("--person"), "{}", missing.describe());
    let help = hh(&["provision", "--help"], &[]).await;
    help.ok();
    assert!(help.stdout.contains("--person <ID>") && help.stdout.contains("--dry-run"), "{}", help.describe());
    clean_up(&data);
}
