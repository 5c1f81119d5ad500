//! The admin page in a real browser: headless Chromium driven by `tests/browser/admin.mjs`
//! (playwright-core) against `serve` and the mocks, in two phases: the page connects, configures,
//! syncs and reads the logs; then the test makes held deprovisions (a bulk offboarding by webhook)
//! and a quarantined person (a hire Leapsome refuses, ticked past 7 days by the CLI), and the page
//! approves and retries them on its Overview and Needs attention screens; then the page sets scope
//! rules and extra fields (previewed before saving) and provisions a hire on demand. Screenshots go
//! to `target/screenshots/`; under `SCREENSHOTS=docs` the screens' go to `docs/screenshots/` (the
//! README's) instead.
//! Under `CI=true` a missing browser or Node.js fails the test; elsewhere it says loudly that it
//! cannot run.

use std::io::Write;
use std::path::PathBuf;

use mock_servers::humaans::{HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
use serde_json::json;

use super::{ADMIN, Serve, component, created, data_dir, start};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("Node.js is not on PATH".into());
    }
    let modules = workspace().join("tests/browser/node_modules");
    if !["playwright-core", "axe-core"].iter().all(|m| modules.join(m).join("package.json").exists()) {
        return Some("tests/browser/node_modules is missing: run ./scripts/setup.sh".into());
    }
    if !chromium().exists() {
        return Some(format!("{} is missing: run ./scripts/setup.sh (apt-get install chromium)", chromium().display()));
    }
    None
}

fn can_run() -> bool {
    let Some(problem) = missing() else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the admin page browser test cannot run under CI: {problem}");
    }
    let bar = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!! SKIPPED: the admin page browser test cannot run here: {problem}\n{bar}\n"
    );
    false
}

/// The webhook secret the page saves when it connects `acme`.
const PAGE_SECRET: &str = "whsec-browser-0001";

/// Runs `admin.mjs` with `config`; panics with its output (and serve's log) when a check failed.
async fn drive(config: &serde_json::Value, data: &std::path::Path, serve: &Serve) {
    let config_file = data.join("browser.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(workspace().join("tests/browser/admin.mjs"))
        .arg(&config_file)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().last() == Some("ok"),
        "the browser run failed (screenshots in {}):\n{stdout}\n{stderr}\nserve:\n{}",
        config["shots"],
        serve.log()
    );
    println!("{stdout}");
}

/// `tick --now NOW` by the binary on serve's data directory, as the operator's CLI runs it.
async fn tick(data: &std::path::Path, now: &str) -> serde_json::Value {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--data-dir", data.to_str().unwrap(), "--tenant", "acme", "--json", "tick", "--now", now])
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "tick: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_in_headless_chromium() {
    if !can_run() {
        return;
    }
    let humaans = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    humaans.load_seed(mock_servers::org::generate_org(40, 7, &today));
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.unwrap();
    let department = |id: &str| humaans.job_roles_of(id).last().and_then(|r| r.department.clone());
    let person = humaans
        .people()
        .into_iter()
        .find(|p| p.status == "active" && department(&p.id).is_some())
        .expect("an active person with a department");
    let active = humaans.people().iter().filter(|p| p.status == "active").count();

    let data = data_dir("browser");
    // Two attempts a webhook event, 200 ms apart, then a dead letter (the Needs attention screen's).
    let serve = start(&data, &["--event-attempts", "2", "--event-backoff", "200ms"]).await;
    // The screens' screenshots go to target/ (a run leaves the tree clean); SCREENSHOTS=docs
    // writes the README's in docs/screenshots instead.
    let shots = workspace().join("target/screenshots");
    let docs = if std::env::var("SCREENSHOTS").is_ok_and(|v| v == "docs") {
        workspace().join("docs/screenshots")
    } else {
        shots.clone()
    };
    let mut config = json!({
        "url": format!("http://{}/", serve.addr), "adminToken": ADMIN,
        "humaansUrl": humaans.base_url(), "scimUrl": leapsome.base_url(),
        "humaansToken": mock_servers::humaans::DEFAULT_TOKEN, "scimToken": "scim-test-token",
        "personId": person.id, "personEmail": person.email,
        "shots": shots, "docs": docs, "chromium": chromium(),
        "phase": "setup",
    });
    drive(&config, &data, &serve).await;

    // What the page did, as the services saw it: one account per active person.
    let users = leapsome.users();
    assert_eq!(users.len(), active, "accounts after 'Sync all users'");

    // Eight leave at once, by webhook: the limit (max(5, 10% of the accounts)) carries out five
    // and holds three.
    let yesterday = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().yesterday().unwrap().to_string();
    let leavers: Vec<String> = humaans
        .people()
        .into_iter()
        .filter(|p| p.status == "active" && p.id != person.id)
        .take(8)
        .map(|p| p.id)
        .collect();
    for (n, id) in leavers.iter().enumerate() {
        humaans.offboard(id, &yesterday);
        let body = json!({"id": format!("evt-off-{n}"), "event": "person.updated", "data": {"id": id}}).to_string();
        assert_eq!(serve.webhook("acme", PAGE_SECRET, &body).await.0, 202);
    }
    // A hire Leapsome refuses for good (an address outside the company's domain): retried with
    // backoff, quarantined after 7 days of refusals (the CLI ticks at each time the component
    // asks for, as `tests/cli/notify.rs` does).
    use mock_servers::humaans::{JobRole, Person};
    let eve = humaans.add_person(Person::new("Eve", "Outsider", "eve@elsewhere.test"));
    humaans.add_job_role(JobRole::new(&eve, "Engineer", "Engineering", None, "2024-01-01"));
    assert_eq!(serve.webhook("acme", PAGE_SECRET, &created(&eve, "evt-eve")).await.0, 202);
    serve.applied(9.0).await;
    let mut now = jiff::Timestamp::now();
    let mut ticks = 0;
    loop {
        let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
        if status["quarantined_count"] == 1 {
            break;
        }
        assert!(ticks < 60, "not quarantined after {ticks} ticks: {status}");
        let report = tick(&data, &now.to_string()).await;
        now = report["next_due"].as_str().expect("Eve's next retry is due").parse().unwrap();
        ticks += 1;
    }
    // A hire Humaans will not read twice: the event fails both attempts and is kept as a dead letter.
    let (dana, dana_email) = super::hire(&humaans, 900);
    let refusal = mock_servers::Fault::Status { status: 400, message: "temporarily unreadable".into() };
    humaans.control().add_fault(mock_servers::FaultRule::new(Some("GET"), &format!("/api/people/{dana}"), refusal, 2));
    assert_eq!(serve.webhook("acme", PAGE_SECRET, &created(&dana, "evt-dana")).await.0, 202);
    super::eventually("a dead letter", || async {
        serve.api("GET", "/api/tenants/acme/status", None).await.1["dead_letter_count"] == 1
    })
    .await;
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(status["quarantined"][0]["person_id"], eve.as_str(), "{status}");
    let held = status["held"].as_array().map_or(0, Vec::len);
    assert_eq!(held, 3, "{status}");
    let suspended = |leapsome: &MockLeapsome| leapsome.users().iter().filter(|u| u["active"] == false).count();
    assert_eq!(suspended(&leapsome), 5, "the limit carried out");
    println!("quarantined after {ticks} ticks; {held} held");

    config["phase"] = json!("attention");
    config["held"] = json!(held);
    config["quarantined"] = json!(eve);
    config["deadLetter"] = json!("evt-dana");
    drive(&config, &data, &serve).await;
    println!("screenshots: {}", shots.display());

    // What the page's approvals did: every leaver suspended; the retry lifted the quarantine; the
    // dead letter, retried, made the hire's account.
    assert_eq!(suspended(&leapsome), 8, "the held deprovisions approved on the page");
    super::eventually("the retried event applied", || async {
        leapsome.users().iter().any(|u| u["userName"] == dana_email.as_str())
    })
    .await;
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(
        (status["held"].as_array().map(Vec::len), &status["quarantined_count"]),
        (Some(0), &json!(0)),
        "{status}"
    );

    // Leapsome starts refusing the token: two refused syncs make the connection unauthorized;
    // the token works again before the page reconnects (what the state remembers is the refusal).
    let revoked = mock_servers::Fault::Status { status: 401, message: "token revoked".into() };
    leapsome.control().add_fault(mock_servers::FaultRule::new(None, "/scim/v1", revoked, 1000));
    for _ in 0..2 {
        let (code, body) = serve.api("POST", "/api/tenants/acme/sync", Some(json!({}))).await;
        assert_eq!(code, 200, "{body}");
        super::eventually("the refused sync ends", || async {
            serve.api("GET", "/api/tenants/acme/sync", None).await.1["state"] != "running"
        })
        .await;
    }
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(status["connection"], "unauthorized", "{status}");
    leapsome.control().clear_faults();
    config["phase"] = json!("unauthorized");
    drive(&config, &data, &serve).await;
    let (_, status) = serve.api("GET", "/api/tenants/acme/status", None).await;
    assert_eq!(status["connection"], "ok", "reconnected on the page: {status}");

    // Configuration and Provision on demand: a hire Humaans has and no event announced, tried on
    // the page (a dry run, then for real).
    let (hire, hire_email) = super::hire(&humaans, 901);
    config["phase"] = json!("configure");
    config["personDepartment"] = json!(department(&person.id).unwrap());
    config["newHire"] = json!(hire);
    config["newHireEmail"] = json!(hire_email);
    // A hire Leapsome refuses (an address outside the company's domain, as Eve's): the page's
    // real run shows the refused write as a failed step.
    let refused = humaans.add_person(Person::new("Frank", "Outsider", "frank@elsewhere.test"));
    humaans.add_job_role(JobRole::new(&refused, "Engineer", "Engineering", None, "2024-01-01"));
    config["refusedHire"] = json!(refused);
    drive(&config, &data, &serve).await;
    let made: Vec<_> = leapsome.users().into_iter().filter(|u| u["userName"] == hire_email.as_str()).collect();
    assert_eq!(made.len(), 1, "the hire's account, made by the page's real run");
    let (_, settings) = serve.api("GET", "/api/tenants/acme/settings", None).await;
    assert_eq!(
        (&settings["scope"], &settings["out_of_scope"], &settings["extra_fields"]),
        (
            &json!([]),
            &json!("keep"),
            &json!(["start-date", "location", "gender", "custom:T-Shirt Size=6140868326541a4da586db0b"])
        ),
        "{settings}"
    );

    let (code, log) = serve.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(ADMIN) && !log.contains("scim-test-token"), "a secret in serve's log");
    std::fs::remove_dir_all(data).unwrap();
}
