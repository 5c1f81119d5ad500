//! Scope rules through the binary: `configure --scope` (refused with the column of a mistake),
//! `--dry-run` previews who enters and leaves scope and saves nothing, `--out-of-scope keep`.

use super::*;

/// The department most of the organisation's active people with an account are in.
fn a_department(m: &Mocks) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for person in m.humaans.people().iter().filter(|p| m.active.contains(&p.email.to_lowercase())) {
        if let Some(dept) = m.humaans.job_roles_of(&person.id).last().and_then(|r| r.department.clone()) {
            *counts.entry(dept).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).expect("a department").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_scope_previews_refuses_with_the_column_and_keeps() {
    let m = mocks(24, 11).await;
    let data = data_dir("scope");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let on = ["--data-dir", d, "configure", "--provisioning", "immediately", "--deprovisioning", "suspend"];
    hh(&on, &[]).await.ok();
    hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok();
    let accounts = m.leapsome.users().len();
    assert!(accounts > 10, "{accounts}");

    // A malformed rule: one line naming the rule and the column.
    let run = hh(&["--data-dir", d, "configure", "--scope", "department = Customer Success"], &[]).await;
    let line = run.fails();
    assert!(line.contains("settings.scope[0]") && line.contains("column 23"), "{line}");
    let run = hh(&["--data-dir", d, "configure", "--scope", "none", "--scope", "team = A"], &[]).await;
    assert!(run.fails().contains("give it alone"), "{}", run.describe());

    // The preview: who leaves scope, the suspensions it would make, nothing saved or written.
    let dept = a_department(&m);
    let rule = format!("department = \"{dept}\"");
    let writes = m.leapsome.control().journal().iter().filter(|e| e.method != "GET").count();
    let plan = hh(&["--data-dir", d, "--json", "configure", "--scope", &rule, "--dry-run"], &[]).await.ok().unwrap();
    assert_eq!(plan["dry_run"], true, "{plan}");
    let leaving = plan["leaving_scope"].as_array().unwrap();
    assert_eq!(plan["entering_scope"], serde_json::json!([]));
    assert!(!leaving.is_empty() && leaving.len() < accounts, "{plan}");
    // Each one with an account would be suspended, or held by the brake (over the default
    // limit of max(5, 10%): the preview says so before anything is saved).
    let with_account =
        leaving.iter().filter(|p| m.leapsome.user_by_username(p["email"].as_str().unwrap()).is_some()).count();
    let suspends = plan["changes"].as_array().unwrap().iter().filter(|c| c["kind"] == "suspend").count();
    assert_eq!(suspends + plan["held"].as_u64().unwrap() as usize, with_account, "{plan}");
    assert!(with_account > 5 && plan["held"].as_u64().unwrap() > 0, "the brake shows in the preview: {plan}");
    assert_eq!(plan["settings"]["scope"], serde_json::json!([rule]));
    let after = m.leapsome.control().journal().iter().filter(|e| e.method != "GET").count();
    assert_eq!(after, writes, "a preview writes nothing");
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["settings"]["scope"], "everyone", "and saves nothing: {status}");

    // Saved with `keep`: nobody is suspended, and the sync counts who is out of scope.
    let saved = hh(&["--data-dir", d, "--json", "configure", "--scope", &rule, "--out-of-scope", "keep"], &[]).await;
    let saved = saved.ok().unwrap();
    assert_eq!((&saved["scope"], &saved["out_of_scope"]), (&serde_json::json!([rule]), &serde_json::json!("keep")));
    let synced = hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok().unwrap();
    assert_eq!(
        (&synced["deprovisioned"], &synced["writes"]),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "{synced}"
    );
    assert_eq!(synced["out_of_scope"].as_u64().unwrap() as usize, leaving.len());
    // `none` clears the rules.
    let cleared = hh(&["--data-dir", d, "--json", "configure", "--scope", "none"], &[]).await.ok().unwrap();
    assert_eq!(cleared["scope"], "everyone");
    clean_up(&data);
}
