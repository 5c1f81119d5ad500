//! The admin page in a real browser: headless Chromium driven by `tests/browser/admin.mjs`
//! (playwright-core) against `serve` and the mocks. Screenshots go to `target/admin-screenshots/`.
//! Under `CI=true` a missing browser or Node.js fails the test; elsewhere it says loudly that it
//! cannot run.

use std::io::Write;
use std::path::PathBuf;

use mock_servers::humaans::{HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
use serde_json::json;

use super::{ADMIN, data_dir, start};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_in_headless_chromium() {
    if !can_run() {
        return;
    }
    let humaans = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    humaans.load_seed(mock_servers::org::generate_org(40, 7, &today));
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.unwrap();
    let person = humaans.people().into_iter().find(|p| p.status == "active").expect("an active person");
    let active = humaans.people().iter().filter(|p| p.status == "active").count();

    let data = data_dir("browser");
    let serve = start(&data, &[]).await;
    let shots = workspace().join("target/admin-screenshots");
    let config = json!({
        "url": format!("http://{}/", serve.addr), "adminToken": ADMIN,
        "humaansUrl": humaans.base_url(), "scimUrl": leapsome.base_url(),
        "humaansToken": mock_servers::humaans::DEFAULT_TOKEN, "scimToken": "scim-test-token",
        "personId": person.id, "personEmail": person.email,
        "shots": shots, "chromium": chromium(),
    });
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
        shots.display(),
        serve.log()
    );
    println!("{stdout}screenshots: {}", shots.display());

    // What the page did, as the services saw it: one account per active person.
    let users = leapsome.users();
    assert_eq!(users.len(), active, "accounts after 'Sync all users'");
    let (code, log) = serve.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(ADMIN) && !log.contains("scim-test-token"), "a secret in serve's log");
    std::fs::remove_dir_all(data).unwrap();
}
