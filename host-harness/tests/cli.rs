//! The `host-harness` command line, run as a real process against mocks started here: tokens never
//! appear in any output, every failure is one line on stderr with a non-zero exit code (no panic,
//! no backtrace), `--json` prints exactly one JSON document, the data directory is owner-only, every
//! subcommand has `--help`, and a sync killed half-way resumes without duplicate accounts.

mod common;
#[path = "cli/fields.rs"]
mod fields;
#[path = "cli/notify.rs"]
mod notify;
#[path = "cli/provision.rs"]
mod provision;
#[path = "cli/scope.rs"]
mod scope;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{component, warm_cache};
use host_harness::storage::pg_testing::TestPg;
use host_harness::{LeaseStore, PgStorage, SqliteStorage, Storage};
use mock_servers::humaans::{ApiToken, HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
use serde_json::Value;

const HUMAANS_SECRET: &str = "hh-humaans-7f3c1e9a0b";
const SCIM_SECRET: &str = "hh-scim-52d8a4c6e1";
const WRONG_HUMAANS: &str = "hh-wrong-humaans-0c4f";
const WRONG_SCIM: &str = "hh-wrong-scim-9b2e";
const WEBHOOK_SECRET: &str = "hh-webhook-6a1f0d";
const ADMIN_SECRET: &str = "hh-admin-token-3e7b90a1";
const SECRETS: [&str; 6] = [HUMAANS_SECRET, SCIM_SECRET, WRONG_HUMAANS, WRONG_SCIM, WEBHOOK_SECRET, ADMIN_SECRET];

/// This test process's scratch directories live under here.
fn scratch_root() -> PathBuf {
    std::env::temp_dir().join(format!("hh-cli-{}", std::process::id()))
}

/// A scratch directory for this test process (removed with `clean_up`).
fn scratch(name: &str) -> PathBuf {
    let dir = scratch_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn clean_up(dir: &Path) {
    std::fs::remove_dir_all(dir).ok();
    // The root goes with the last test's directory.
    std::fs::remove_dir(scratch_root()).ok();
}

/// A data directory made the way a careless operator would (world-readable), its `cache` pointing
/// at the warm cache. The host must tighten it.
fn data_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::symlink(warm_cache(), dir.join("cache")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!("`{}` exited {:?}\nstdout:\n{}\nstderr:\n{}", self.args, self.code, self.stdout, self.stderr)
    }

    /// Exit 0, nothing on stderr, and with `--json` exactly one JSON document on stdout.
    fn ok(&self) -> Option<Value> {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        assert_eq!(self.stderr, "", "{}", self.describe());
        assert!(!self.stdout.trim().is_empty(), "{}", self.describe());
        self.args.contains("--json").then(|| {
            serde_json::from_str(&self.stdout)
                .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", self.describe()))
        })
    }

    /// A non-zero exit, nothing on stdout, and exactly one line on stderr: the cause.
    fn fails(&self) -> &str {
        assert!(self.code.is_some_and(|c| c != 0), "{}", self.describe());
        assert_eq!(self.stdout, "", "{}", self.describe());
        assert!(self.stderr.ends_with('\n'), "{}", self.describe());
        let line = self.stderr.trim_end_matches('\n');
        assert!(!line.contains('\n'), "more than one line on stderr: {}", self.describe());
        assert!(line.starts_with("error: ") && line.len() > "error: ".len() + 10, "{}", self.describe());
        line
    }
}

/// Runs the CLI. The environment carries the component (so it is not rebuilt) and no tokens
/// unless `env` gives them.
async fn hh(args: &[&str], env: &[(&str, &str)]) -> Run {
    hh_with(args, env, Stdio::piped()).await
}

/// Runs the CLI with its stdout a pipe nobody reads any more (as in `host-harness logs | head`).
async fn hh_closed_stdout(args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    hh_with(args, &[], Stdio::from(writer)).await
}

async fn hh_with(args: &[&str], env: &[(&str, &str)], stdout: Stdio) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"));
    command
        .args(args)
        .env_remove("HUMAANS_TOKEN")
        .env_remove("LEAPSOME_SCIM_TOKEN")
        .env_remove("HUMAANS_WEBHOOK_SECRET")
        .env_remove("HOST_HARNESS_ADMIN_TOKEN")
        .env_remove("HOST_HARNESS_DATA_DIR")
        .env_remove("HOST_HARNESS_STORE")
        .env_remove("HOST_HARNESS_KEY")
        .env_remove("HOST_HARNESS_KEY_FILE")
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.spawn().expect("the CLI starts").wait_with_output().await.expect("the CLI runs");
    let run = Run {
        args: args.join(" "),
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    for secret in SECRETS {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "a token leaked: {}", run.describe());
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "thread 'main'"] {
        assert!(!run.stderr.contains(bad), "{}", run.describe());
    }
    run
}

fn tokens() -> [(&'static str, &'static str); 4] {
    [
        ("HUMAANS_TOKEN", HUMAANS_SECRET),
        ("LEAPSOME_SCIM_TOKEN", SCIM_SECRET),
        ("HUMAANS_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("HOST_HARNESS_ADMIN_TOKEN", ADMIN_SECRET),
    ]
}

struct Mocks {
    humaans: MockHumaans,
    leapsome: MockLeapsome,
    /// Work emails (lowercase) of the active people, who should get accounts.
    active: BTreeSet<String>,
}

async fn mocks(employees: usize, seed: u64) -> Mocks {
    let humaans = MockHumaans::start(HumaansConfig {
        tokens: vec![ApiToken::new(HUMAANS_SECRET, None, &["private:read"])],
        ..HumaansConfig::default()
    })
    .await
    .unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    humaans.load_seed(mock_servers::org::generate_org(employees, seed, &today));
    let leapsome =
        MockLeapsome::start(LeapsomeConfig { token: SCIM_SECRET.into(), ..LeapsomeConfig::default() }).await.unwrap();
    let active = humaans.people().iter().filter(|p| p.status == "active").map(|p| p.email.to_lowercase()).collect();
    Mocks { humaans, leapsome, active }
}

fn join<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(rest).copied().collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The accounts in Leapsome: exactly one per active person, no duplicates, no strangers.
fn assert_one_account_each(m: &Mocks) {
    let names: Vec<String> =
        m.leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_lowercase()).collect();
    let unique: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(unique.len(), names.len(), "duplicate accounts");
    assert_eq!(unique, m.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_keeps_tokens_secret_and_fails_in_one_line() {
    let m = mocks(24, 11).await;
    let data = data_dir("secrets");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    let person = m.humaans.people().into_iter().find(|p| p.status == "active").unwrap();

    // Failures before anything is connected.
    let line = hh(&["--data-dir", d, "sync-all"], &[]).await.fails().to_owned();
    assert!(line.contains("not connected"), "{line}");
    // The log of a tenant that never connected is empty, not an error.
    let empty = hh(&["--data-dir", d, "--json", "logs"], &[]).await.ok().unwrap();
    assert_eq!(empty["entries"], serde_json::json!([]));
    let connect = ["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su];
    let line = hh(&connect, &[]).await.fails().to_owned();
    assert!(line.contains("required") && line.contains("token"), "{line}");
    let line = hh(&connect, &[("HUMAANS_TOKEN", WRONG_HUMAANS), ("LEAPSOME_SCIM_TOKEN", SCIM_SECRET)])
        .await
        .fails()
        .to_owned();
    assert!(line.contains("Humaans") && line.contains("401"), "{line}");
    let line = hh(&connect, &[("HUMAANS_TOKEN", HUMAANS_SECRET), ("LEAPSOME_SCIM_TOKEN", WRONG_SCIM)])
        .await
        .fails()
        .to_owned();
    assert!(line.contains("Leapsome") && line.contains("403"), "{line}");
    let unreachable =
        ["--data-dir", d, "--json", "connect", "--humaans-url", "http://127.0.0.1:1/api", "--scim-url", &su];
    let line = hh(&unreachable, &tokens()).await.fails().to_owned();
    assert!(line.contains("Humaans could not be reached"), "{line}");
    let plain_http = ["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", "http://scim.example.com/v1"];
    let line = hh(&plain_http, &tokens()).await.fails().to_owned();
    assert!(line.contains("https"), "{line}");

    // The whole operator path, as tables and as JSON.
    for json in [false, true] {
        let mut base = vec!["--data-dir", d];
        if json {
            base.push("--json");
        }
        let connected = hh(&join(&base, &["connect", "--humaans-url", &hu, "--scim-url", &su]), &tokens()).await;
        if let Some(v) = connected.ok() {
            assert_eq!(v["connected"], true);
            assert_eq!(v["company"], "Acme Ltd");
        }
        let configure = ["configure", "--provisioning", "immediately", "--deprovisioning", "suspend"];
        hh(&join(&base, &configure), &[]).await.ok();
        let plan = hh(&join(&base, &["sync-all", "--dry-run"]), &[]).await;
        if let Some(v) = plan.ok() {
            assert_eq!(v["dry_run"], true);
            assert_eq!(v["writes"], 0);
        }
        let synced = hh(&join(&base, &["sync-all"]), &[]).await;
        if let Some(v) = synced.ok() {
            // The table run came first and did the work; this one has nothing left to do.
            assert_eq!((v["complete"].clone(), v["writes"].clone()), (Value::Bool(true), Value::from(0)));
        }
        hh(&join(&base, &["event", "--kind", "updated", "--person", &person.id]), &[]).await.ok();
        hh(&join(&base, &["tick"]), &[]).await.ok();
        let now = format!("{:.0}", jiff::Timestamp::now());
        hh(&join(&base, &["tick", "--now", &now]), &[]).await.ok();
        let logs = hh(&join(&base, &["logs", "--limit", "500"]), &[]).await;
        if let Some(v) = logs.ok() {
            let entries = v["entries"].as_array().unwrap();
            assert!(entries.iter().any(|e| e["action"] == "provision"), "{v}");
            assert!(entries.iter().any(|e| e["action"] == "connect" && e["outcome"] == "failure"), "{v}");
        }
        hh(&join(&base, &["logs", "--failures", "--person", &person.id]), &[]).await.ok();
    }
    assert_one_account_each(&m);
    // A reader that stops reading early (`| head`) ends the output quietly, without a panic.
    for args in [&["--data-dir", d, "logs"][..], &["--data-dir", d, "--json", "logs"], &["--data-dir", d, "tick"]] {
        let run = hh_closed_stdout(args).await;
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{}", run.describe());
    }
    // Tokens given as flags are not echoed either.
    let flags = [
        &connect[..],
        &["--humaans-token", HUMAANS_SECRET, "--scim-token", SCIM_SECRET, "--webhook-secret", WEBHOOK_SECRET],
    ]
    .concat();
    hh(&flags, &[]).await.ok();

    // Failures once connected, each with and without --json.
    for json in [false, true] {
        let mut base = vec!["--data-dir", d];
        if json {
            base.push("--json");
        }
        for args in [
            vec!["sync-all", "--bogus"],
            vec!["frobnicate"],
            vec!["configure", "--provisioning", "sometimes"],
            vec!["configure", "--provisioning", "days-before-start:0"],
            vec!["configure", "--dialect", "klingon"],
            vec!["event", "--kind", "updated"],
            vec!["event", "--kind", "promoted", "--person", "x"],
            vec!["event", "--kind", "updated", "--person", "no-such-person"],
            vec!["tick", "--now", "yesterday"],
            vec!["logs", "--limit", "0"],
            vec!["logs", "--limit", "many"],
            vec!["--tenant", "nobody", "sync-all"],
            vec!["--tenant", "nobody", "tick"],
            vec!["--tenant", "nobody", "event", "--kind", "created", "--person", &person.id],
            vec!["--component", "/nonexistent/component.wasm", "logs"],
        ] {
            hh(&join(&base, &args), &tokens()).await.fails();
        }
    }
    let line = hh(&["--data-dir", d, "--tenant", "nobody", "--json", "configure"], &[]).await.fails().to_owned();
    assert!(line.contains("not connected"), "{line}");

    // A request to a host off the tenant's policy: the operator narrows tenant `narrow` to Humaans
    // only, and its stored connection still names Leapsome.
    let narrow = ["--data-dir", d, "--tenant", "narrow", "connect", "--humaans-url", &hu, "--scim-url", &su];
    hh(&narrow, &tokens()).await.ok();
    {
        let storage = SqliteStorage::open(&data.join("host.db")).unwrap();
        let policy = serde_json::json!({"allowed_hosts": [["127.0.0.1", m.humaans.addr().port()]]});
        storage.set("host", "tenant-policy", "narrow", policy.to_string().as_bytes()).unwrap();
    }
    let scim_before = m.leapsome.control().journal().len();
    for json in [false, true] {
        let mut args = vec!["--data-dir", d, "--tenant", "narrow", "sync-all"];
        if json {
            args.push("--json");
        }
        let line = hh(&args, &[]).await.fails().to_owned();
        assert!(line.contains("Leapsome SCIM was not contacted: the host's policy denied the request"), "{line}");
        assert!(!line.contains("could not be reached"), "a policy refusal reported as a network failure: {line}");
    }
    assert_eq!(m.leapsome.control().journal().len(), scim_before, "a denied request reached Leapsome");

    // The data directory was tightened to owner-only; the database and its journals are private.
    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("host.db")), 0o600);
        for file in std::fs::read_dir(&data).unwrap() {
            let path = file.unwrap().path();
            if path.is_file() {
                assert_eq!(mode(&path) & 0o077, 0, "{} is readable by others", path.display());
            }
        }
    }
    // A data directory the host creates itself is owner-only from the start (the run fails later,
    // on the missing component, after opening the store).
    let fresh = scratch("fresh").join("a/b");
    let f = fresh.to_str().unwrap();
    hh(&["--data-dir", f, "--component", "/nonexistent/component.wasm", "logs"], &[]).await.fails();
    #[cfg(unix)]
    {
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&fresh.join("host.db")), 0o600);
    }
    clean_up(&data);
    clean_up(&scratch_root().join("fresh"));
}

/// A malformed tenant id is refused by the CLI as by the admin API and the page (one definition,
/// `tenant::valid_tenant`), in one line, before any store is opened or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_tenant_ids_are_refused_before_anything_is_opened() {
    let data = scratch("bad-tenant");
    let d = data.to_str().unwrap();
    let long = "x".repeat(65);
    for id in ["bad id/..", "..", "a/b", "", "tenant%2F", "caf\u{e9}", long.as_str()] {
        for command in [&["status"][..], &["sync-all"], &["logs"], &["tick"], &["configure", "--provisioning", "off"]] {
            for json in [false, true] {
                let mut args = vec!["--data-dir", d, "--tenant", id];
                if json {
                    args.push("--json");
                }
                args.extend(command);
                let line = hh(&args, &tokens()).await.fails().to_owned();
                assert!(line.contains("a tenant id is 1-64 letters, digits, - or _"), "{id:?}: {line}");
            }
        }
    }
    assert!(!data.exists(), "a refused tenant id opened or created the data directory");

    // The control: a well-formed id answers.
    let data = data_dir("bad-tenant");
    let d = data.to_str().unwrap();
    let status = hh(&["--data-dir", d, "--tenant", "Acme_2-eu", "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["connection"], "not-connected", "{status}");
    clean_up(&data);
}

/// `configure` changes only the settings it is given and keeps the rest (read back through the
/// component's `status`): tightening the brake leaves provisioning and deprovisioning on; each
/// setting is turned off or back to its default only when asked to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_changes_only_what_it_is_given() {
    let m = mocks(6, 4).await;
    let data = data_dir("configure-merge");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let fields = ["provisioning", "deprovisioning", "dialect", "deprovision_limit", "deprovision_window"];
    let shown = |v: &Value| fields.map(|f| v[f].as_str().unwrap_or_else(|| panic!("{f}: {v}")).to_owned());
    let limit_default = "default: max(5, 10%)";
    let day = "default: 24h";

    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(shown(&status["settings"]), ["off", "off", "leapsome", limit_default, day], "{status}");

    let steps: [(&[&str], [&str; 5]); 10] = [
        (
            &["--provisioning", "on-start-date", "--deprovisioning", "suspend", "--dialect", "rfc7644"],
            ["on-start-date", "suspend", "rfc7644", limit_default, day],
        ),
        // The case: tightening the brake must not turn provisioning or deprovisioning off.
        (&["--deprovision-limit", "10%"], ["on-start-date", "suspend", "rfc7644", "10%", day]),
        (&["--deprovision-window", "7d"], ["on-start-date", "suspend", "rfc7644", "10%", "168h"]),
        (&["--dialect", "leapsome"], ["on-start-date", "suspend", "leapsome", "10%", "168h"]),
        (&["--provisioning", "days-before-start:3"], ["days-before-start:3", "suspend", "leapsome", "10%", "168h"]),
        (&[], ["days-before-start:3", "suspend", "leapsome", "10%", "168h"]),
        (&["--provisioning", "off"], ["off", "suspend", "leapsome", "10%", "168h"]),
        (&["--deprovision-window", "90m"], ["off", "suspend", "leapsome", "10%", "90m"]),
        (&["--deprovisioning", "off", "--deprovision-limit", "3"], ["off", "off", "leapsome", "3", "90m"]),
        (
            &["--deprovision-limit", "default", "--deprovision-window", "default"],
            ["off", "off", "leapsome", limit_default, day],
        ),
    ];
    for (flags, expected) in steps {
        let args = join(&["--data-dir", d, "--json", "configure"], flags);
        let configured = hh(&args, &[]).await.ok().unwrap();
        assert_eq!(configured["configured"], true, "{configured}");
        assert_eq!(shown(&configured), expected, "configure {flags:?} printed {configured}");
        let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
        assert_eq!(shown(&status["settings"]), expected, "after configure {flags:?}: {status}");
    }
    // A bad value changes nothing.
    hh(&["--data-dir", d, "configure", "--deprovision-limit", "often", "--provisioning", "immediately"], &[])
        .await
        .fails();
    for window in ["0m", "31d", "90s", "soon"] {
        hh(&["--data-dir", d, "configure", "--deprovision-window", window, "--provisioning", "immediately"], &[])
            .await
            .fails();
    }
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(shown(&status["settings"]), ["off", "off", "leapsome", limit_default, day], "{status}");
    // Teams: off by default, turned on and off alone; a word other than on or off is refused.
    assert_eq!(status["settings"]["teams"], "off", "{status}");
    let on = hh(&["--data-dir", d, "--json", "configure", "--teams", "on"], &[]).await.ok().unwrap();
    assert_eq!(
        (on["teams"].as_str(), shown(&on)),
        (Some("on"), ["off", "off", "leapsome", limit_default, day].map(String::from))
    );
    hh(&["--data-dir", d, "configure", "--teams", "maybe"], &[]).await.fails();
    let synced = hh(&["--data-dir", d, "--json", "sync-all", "--repair-teams", "--dry-run"], &[]).await.ok().unwrap();
    assert!(synced["team_changes"].is_array() && synced["teams"].is_u64(), "{synced}");
    let off = hh(&["--data-dir", d, "--json", "configure", "--teams", "off"], &[]).await.ok().unwrap();
    assert_eq!(off["teams"], "off");
    clean_up(&data);
}

/// An address the host's egress policy refuses is reported as such ("not a public address"),
/// never as "could not be reached", which stays for network failures. `127.1` is a name to the
/// host (not an IP literal) that the system resolver turns into 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_is_reported_as_not_public_never_as_unreachable() {
    let m = mocks(4, 2).await;
    let data = data_dir("not-public");
    let d = data.to_str().unwrap();
    let su = m.leapsome.base_url();
    let refused = format!("https://127.1:{}/api", m.humaans.addr().port());
    for json in [false, true] {
        let mut args = vec!["--data-dir", d, "connect", "--humaans-url", &refused, "--scim-url", &su];
        if json {
            args.push("--json");
        }
        let line = hh(&args, &tokens()).await.fails().to_owned();
        assert!(line.contains("Humaans was not contacted: its host is not a public address"), "{line}");
        assert!(!line.contains("could not be reached"), "{line}");
    }
    assert!(m.humaans.control().journal().is_empty(), "a refused request reached Humaans");
    // The control: a network failure is still one.
    let closed = ["--data-dir", d, "connect", "--humaans-url", "http://127.0.0.1:1/api", "--scim-url", &su];
    let line = hh(&closed, &tokens()).await.fails().to_owned();
    assert!(line.contains("Humaans could not be reached") && !line.contains("not a public address"), "{line}");
    clean_up(&data);
}

/// Every byte under the data directory (the database, its WAL and journals, the key file).
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Tokens at rest are sealed under the host key: a copy of the data directory (with the key file
/// left behind) reveals no token; a wrong or missing key is a one-line error, never garbage;
/// `rotate-key` re-seals and the old key stops working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_sealed_at_rest_and_the_key_rotates() {
    let m = mocks(6, 3).await;
    let data = data_dir("sealed");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let key_file = data.join("host.key");
    #[cfg(unix)]
    assert_eq!(mode(&key_file), 0o600, "the key file is created owner-only");
    for secret in [HUMAANS_SECRET, SCIM_SECRET, WEBHOOK_SECRET] {
        assert!(!contains(&bytes_under(&data), secret), "{secret} lies in the data directory in plain text");
    }
    // A copy of the database, read with no key at all: the stored connection is ciphertext.
    let raw = SqliteStorage::open(&data.join("host.db")).unwrap();
    let stored = raw.get("tenant/default", "", "connection").unwrap().expect("a stored connection");
    assert!(stored.starts_with(b"hhs1") && !contains(&stored, "token"), "{}", String::from_utf8_lossy(&stored));
    hh(&["--data-dir", d, "status"], &[]).await.ok();

    drop(raw);

    // A wrong key (file or environment), a malformed one, a missing one: one clear line each.
    let other = scratch("sealed-other");
    std::fs::create_dir_all(&other).unwrap();
    let wrong = other.join("wrong.key");
    host_harness::HostKey::create(&wrong).unwrap();
    let w = wrong.to_str().unwrap();
    let line = hh(&["--data-dir", d, "--key-file", w, "status"], &[]).await.fails().to_owned();
    assert!(line.contains("does not hold the key this data directory's secrets were sealed with"), "{line}");
    let wrong_env = [("HOST_HARNESS_KEY", "0000000000000000000000000000000000000000000000000000000000000000")];
    let line = hh(&["--data-dir", d, "status"], &wrong_env).await.fails().to_owned();
    assert!(line.contains("HOST_HARNESS_KEY does not hold the key"), "{line}");
    let line = hh(&["--data-dir", d, "status"], &[("HOST_HARNESS_KEY", "not-a-key")]).await.fails().to_owned();
    assert!(line.contains("HOST_HARNESS_KEY") && line.contains("base64"), "{line}");
    let missing = other.join("missing.key");
    let line = hh(&["--data-dir", d, "--key-file", missing.to_str().unwrap(), "status"], &[]).await.fails().to_owned();
    assert!(line.contains("is missing") && line.contains("sealed"), "{line}");
    assert!(!missing.exists(), "no fresh key is made for a sealed store");
    // A key file others can read is refused, not used.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let line = hh(&["--data-dir", d, "status"], &[]).await.fails().to_owned();
        assert!(line.contains("is readable by others"), "{line}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The key given in the environment works like the file.
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    hh(&["--data-dir", d, "status"], &[("HOST_HARNESS_KEY", key_text.trim())]).await.ok();

    // Rotation: the data directory's key file takes the new key; the old key no longer opens.
    let old = other.join("old.key");
    std::fs::copy(&key_file, &old).unwrap();
    let new = other.join("new.key");
    let n = new.to_str().unwrap();
    let rotated = hh(&["--data-dir", d, "--json", "rotate-key", "--new-key-file", n], &[]).await.ok().unwrap();
    assert_eq!(rotated["rotated_secrets"], 1, "{rotated}");
    assert_eq!(std::fs::read(&key_file).unwrap(), std::fs::read(&new).unwrap());
    #[cfg(unix)]
    assert_eq!((mode(&key_file), mode(&new)), (0o600, 0o600));
    let line = hh(&["--data-dir", d, "--key-file", old.to_str().unwrap(), "status"], &[]).await.fails().to_owned();
    assert!(line.contains("does not hold the key"), "{line}");
    hh(&["--data-dir", d, "sync-all"], &[]).await.ok();
    hh(&["--data-dir", d, "--key-file", n, "status"], &[]).await.ok();
    for secret in [HUMAANS_SECRET, SCIM_SECRET, WEBHOOK_SECRET] {
        assert!(!contains(&bytes_under(&data), secret), "{secret} in plain text after rotation");
    }
    // A plaintext connection turns up in the sealed store (an old backup restored over it): the
    // next command seals it where it lies and says so once, in one line; the one after is quiet.
    // (Last: the bytes this writes may linger in SQLite's free pages and WAL.)
    let raw = SqliteStorage::open(&data.join("host.db")).unwrap();
    let key = host_harness::HostKey::read(&key_file).unwrap();
    let plain =
        host_harness::SealedStorage::new(std::sync::Arc::new(SqliteStorage::open(&data.join("host.db")).unwrap()), key)
            .get("tenant/default", "", "connection")
            .unwrap()
            .expect("opens");
    assert!(contains(&plain, WEBHOOK_SECRET), "the webhook secret is part of the sealed connection");
    raw.set("tenant/default", "", "connection", &plain).unwrap();
    let found = hh(&["--data-dir", d, "--json", "status"], &[]).await;
    assert_eq!(found.code, Some(0), "{}", found.describe());
    let warning = found.stderr.trim_end_matches('\n');
    assert!(!warning.contains('\n'), "one line: {}", found.describe());
    assert!(
        warning.starts_with(
            "warning: the secret `connection` of `tenant/default` was stored in plain text: sealed it now"
        ),
        "{}",
        found.describe()
    );
    let stored = raw.get("tenant/default", "", "connection").unwrap().expect("a stored connection");
    assert!(stored.starts_with(b"hhs1") && !contains(&stored, WEBHOOK_SECRET), "not sealed on the first read");
    hh(&["--data-dir", d, "status"], &[]).await.ok();

    assert_one_account_each(&m);
    clean_up(&data);
    clean_up(&other);
}

#[tokio::test]
async fn every_subcommand_has_help() {
    let top = hh(&["--help"], &[]).await;
    top.ok();
    let subcommands =
        ["connect", "configure", "sync-all", "event", "tick", "logs", "demo", "mock", "bench", "rotate-key", "serve"];
    for sub in subcommands {
        assert!(top.stdout.contains(sub), "{sub} missing from --help: {}", top.stdout);
        // With tokens in the environment, help shows that the variables exist, never their values.
        for args in [vec![sub, "--help"], vec!["help", sub], vec![sub, "-h"]] {
            let run = hh(&args, &tokens()).await;
            run.ok();
            assert!(run.stdout.contains("Usage:"), "{}", run.describe());
        }
    }
    let version = hh(&["--version"], &[]).await;
    version.ok();
    assert!(version.stdout.starts_with("host-harness "), "{}", version.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_half_way_resumes_without_duplicates() {
    let m = mocks(240, 5).await;
    assert!(m.active.len() > 150, "{}", m.active.len());
    let data = data_dir("durable");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    hh(&["--data-dir", d, "configure", "--provisioning", "immediately"], &[]).await.ok();
    // Every SCIM write is slow, so the kill lands in the middle of the first wave.
    m.leapsome.control().add_fault(mock_servers::FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        mock_servers::Fault::Delay(Duration::from_millis(30)),
        usize::MAX,
    ));

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--data-dir", d, "sync-all"])
        .env("HUMAANS_LEAPSOME_COMPONENT", component())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the CLI starts");
    // Wait (by polling the mock, not by the clock) until some accounts have been created.
    let mut polls = 0u32;
    while m.leapsome.control().count("POST") < 20 {
        assert!(child.try_wait().unwrap().is_none(), "the sync ended before it could be interrupted");
        polls += 1;
        assert!(polls < 60_000, "no SCIM writes arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.expect("SIGKILL");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().await.unwrap().signal(), Some(9), "the CLI was killed, not finished");
    }
    let created_before = m.leapsome.users().len();
    assert!(created_before >= 20 && created_before < m.active.len(), "{created_before}");

    // Run again to completion: what was made before the kill is adopted or skipped, not duplicated.
    // The killed process's lease runs out within its 30 s ttl: wait for it.
    let resumed = hh(&["--data-dir", d, "--wait", "90s", "--json", "sync-all"], &[]).await.ok().unwrap();
    assert_eq!(resumed["complete"], true, "{resumed}");
    assert_eq!(resumed["failed"], 0, "{resumed}");
    assert_one_account_each(&m);
    let posts_created = m.leapsome.control().journal().iter().filter(|e| e.method == "POST" && e.status == 201).count();
    assert_eq!(posts_created, m.active.len(), "one successful create per person");

    let again = hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok().unwrap();
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(again["complete"], true, "{again}");
    assert_one_account_each(&m);
    clean_up(&data);
}

// ---------------------------------------------------------------------------------------------
// Overlapping calls: separate processes on one store, as cron, webhooks and an operator make them.

/// Mocks with `count` people of the given status starting on `start`, no one else; a connected and
/// configured data directory. Returns the mocks, the data directory and the people's ids.
async fn overlap_rig(
    name: &str,
    count: usize,
    status: &str,
    start: &str,
    provisioning: &str,
) -> (Mocks, PathBuf, Vec<String>) {
    let m = mocks(0, 1).await;
    let mut ids = Vec::new();
    for i in 0..count {
        let mut p =
            mock_servers::humaans::Person::new("Person", &format!("Number{i}"), &format!("person.{i}@acme.test"));
        p.status = status.into();
        p.employment_start_date = Some(start.into());
        p.first_working_day = Some(start.into());
        p.timezone = "UTC".into();
        let id = m.humaans.add_person(p);
        m.humaans.add_job_role(mock_servers::humaans::JobRole::new(&id, "Engineer", "Engineering", None, start));
        ids.push(id);
    }
    let data = data_dir(name);
    let d = data.to_str().unwrap().to_owned();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", &d, "connect", "--humaans-url", &hu, "--scim-url", &su, "--scim-rate-limit", "0"], &tokens())
        .await
        .ok();
    hh(&["--data-dir", &d, "configure", "--provisioning", provisioning], &[]).await.ok();
    (m, data, ids)
}

/// Runs one `event --kind created` process per person, all at once.
async fn concurrent_events(data: &Path, ids: &[String]) {
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let (d, id) = (data.to_str().unwrap().to_owned(), id.clone());
        set.spawn(async move { hh(&["--data-dir", &d, "event", "--kind", "created", "--person", &id], &[]).await });
    }
    while let Some(run) = set.join_next().await {
        run.expect("the task runs").ok();
    }
}

async fn all_log_entries(data: &Path) -> Vec<Value> {
    let v = hh(&["--data-dir", data.to_str().unwrap(), "--json", "logs", "--limit", "500"], &[]).await.ok().unwrap();
    v["entries"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_event_processes_lose_nothing() {
    let (m, data, ids) = overlap_rig("overlap-events", 16, "active", "2024-01-01", "immediately").await;
    concurrent_events(&data, &ids).await;

    let accounts = m.leapsome.users();
    assert_eq!(accounts.len(), 16, "one account each");
    let entries = all_log_entries(&data).await;
    let provisions: Vec<&Value> = entries.iter().filter(|e| e["action"] == "provision").collect();
    assert_eq!(provisions.len(), 16, "{entries:#?}");
    assert!(provisions.iter().all(|e| e["outcome"] == "success"));
    let people: BTreeSet<&str> = provisions.iter().map(|e| e["person_id"].as_str().unwrap()).collect();
    assert_eq!(people.len(), 16);
    let sequences: Vec<u64> = entries.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    let unique: BTreeSet<u64> = sequences.iter().copied().collect();
    assert_eq!(unique.len(), sequences.len(), "a sequence number was handed out twice: {sequences:?}");
    clean_up(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_concurrent_new_hires_are_all_provisioned_by_the_tick_after_their_start() {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let start = today.checked_add(jiff::Span::new().days(3)).unwrap().to_string();
    let (m, data, ids) = overlap_rig("overlap-new-hires", 12, "newHire", &start, "on-start-date").await;
    concurrent_events(&data, &ids).await;
    assert!(m.leapsome.users().is_empty(), "nobody is due yet");

    let d = data.to_str().unwrap();
    let before = format!("{start}T00:00:00Z");
    let early = before.parse::<jiff::Timestamp>().unwrap() - jiff::SignedDuration::from_hours(1);
    let early = format!("{early:.0}");
    let tick = hh(&["--data-dir", d, "--json", "tick", "--now", &early], &[]).await.ok().unwrap();
    assert_eq!((tick["provisioned"].as_u64(), tick["waiting"].as_u64()), (Some(0), Some(12)), "{tick}");
    let tick = hh(&["--data-dir", d, "--json", "tick", "--now", &before], &[]).await.ok().unwrap();
    assert_eq!(tick["provisioned"].as_u64(), Some(12), "{tick}");
    assert_eq!(m.leapsome.users().len(), 12);
    clean_up(&data);
}

/// `--store postgres://…` (or `HOST_HARNESS_STORE`) keeps the tenant's data and its policy in
/// PostgreSQL, for every process that names it; the SQLite default is not touched. A bad or
/// unreachable store is one line that names the server but not the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_holds_data_and_policies() {
    let Some(pg) = TestPg::start() else { return };
    let m = mocks(24, 5).await;
    let data = data_dir("postgres");
    let (d, url) = (data.to_str().unwrap(), pg.url.as_str());
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    let acme = ["--data-dir", d, "--tenant", "acme"];
    let with_url = [("HOST_HARNESS_STORE", url)];
    hh(&join(&acme, &["--store", url, "connect", "--humaans-url", &hu, "--scim-url", &su]), &tokens()).await.ok();
    hh(&join(&acme, &["configure", "--provisioning", "immediately"]), &with_url).await.ok();
    hh(&join(&acme, &["--store", url, "sync-all"]), &[]).await.ok();
    assert_one_account_each(&m);
    let again = hh(&join(&acme, &["--json", "sync-all"]), &with_url).await.ok().unwrap();
    assert_eq!(again["changes"].as_array().map(Vec::len), Some(0), "a second process sees the first's links: {again}");
    assert_one_account_each(&m);

    let store = PgStorage::connect(url).unwrap();
    assert!(store.get("host", "tenant-policy", "acme").unwrap().is_some(), "the policy is in PostgreSQL");
    assert!(store.list_keys("tenant/acme", "", None, 10).unwrap().keys.len() >= 10, "so is the tenant's data");
    let sqlite = SqliteStorage::open(&data.join("host.db")).unwrap();
    assert!(sqlite.get("host", "tenant-policy", "acme").unwrap().is_none(), "and nothing in SQLite");
    let line = hh(&join(&acme, &["sync-all"]), &[]).await.fails().to_owned();
    assert!(line.contains("not connected"), "the SQLite default is a separate store: {line}");

    let unreachable = format!("postgres://hh:{SCIM_SECRET}@127.0.0.1:1/hh");
    let line = hh(&["--data-dir", d, "--store", &unreachable, "status"], &[]).await.fails().to_owned();
    assert!(line.contains("cannot connect to PostgreSQL at 127.0.0.1:1/hh"), "{line}");
    let line = hh(&["--data-dir", d, "status"], &[("HOST_HARNESS_STORE", "mysql://x/y")]).await.fails().to_owned();
    assert!(line.contains("unsupported scheme `mysql://`"), "{line}");
    clean_up(&data);
}

/// On one PostgreSQL, one-shot commands take the tenant's lease as `serve` does: three `sync-all`
/// processes started at once run one after another and POST each account exactly once (without
/// the lease they overlap, and each POSTs accounts another has not linked yet: 409s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sync_alls_at_once_on_postgres_post_each_account_exactly_once() {
    let Some(pg) = TestPg::start() else { return };
    let m = mocks(60, 21).await;
    let data = data_dir("three-syncs");
    let (d, url) = (data.to_str().unwrap().to_owned(), pg.url.clone());
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    let base = ["--data-dir", d.as_str(), "--store", url.as_str(), "--tenant", "acme"];
    let connect = ["connect", "--humaans-url", &hu, "--scim-url", &su, "--scim-rate-limit", "0"];
    hh(&join(&base, &connect), &tokens()).await.ok();
    hh(&join(&base, &["configure", "--provisioning", "immediately"]), &[]).await.ok();
    // Slow creates, so the three processes would overlap for seconds.
    m.leapsome.control().add_fault(mock_servers::FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        mock_servers::Fault::Delay(Duration::from_millis(20)),
        usize::MAX,
    ));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (d, url) = (d.clone(), url.clone());
        set.spawn(async move {
            hh(&["--data-dir", &d, "--store", &url, "--tenant", "acme", "--json", "sync-all"], &[]).await
        });
    }
    let mut created = 0;
    while let Some(run) = set.join_next().await {
        let report = run.expect("the task runs").ok().unwrap();
        assert_eq!((report["complete"].as_bool(), report["failed"].as_u64()), (Some(true), Some(0)), "{report}");
        created += report["created"].as_u64().unwrap();
    }
    let posts: Vec<_> = m
        .leapsome
        .control()
        .journal()
        .into_iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/Users"))
        .collect();
    assert_eq!(posts.len(), m.active.len(), "each account POSTed exactly once");
    assert!(posts.iter().all(|e| e.status == 201), "a POST was refused (a duplicate healed by 409)");
    assert_eq!(created, m.active.len() as u64, "one process created them all, the others found them");
    assert_one_account_each(&m);
    clean_up(&data);
}

/// A tenant whose lease another process holds: every command that writes waits `--wait`, then
/// fails with one line saying the tenant is busy, having sent nothing; reads answer meanwhile;
/// once the lease is released the same command runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_tenant_fails_in_one_line_after_the_wait_and_sends_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let m = mocks(6, 8).await;
    let data = data_dir("busy");
    let (d, url) = (data.to_str().unwrap(), pg.url.as_str());
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    let base = ["--data-dir", d, "--store", url, "--tenant", "acme"];
    hh(&join(&base, &["connect", "--humaans-url", &hu, "--scim-url", &su]), &tokens()).await.ok();
    hh(&join(&base, &["configure", "--provisioning", "immediately"]), &[]).await.ok();
    let person = m.humaans.people().into_iter().find(|p| p.status == "active").unwrap().id;

    // Another process (`serve`, say) holds the tenant.
    let store = PgStorage::connect(url).unwrap();
    let lease = store.acquire("acme", "another-process", Duration::from_secs(300)).unwrap().expect("free");
    let (humaans_before, scim_before) = (m.humaans.control().journal().len(), m.leapsome.control().journal().len());
    let busy: [&[&str]; 6] = [
        &["sync-all"],
        &["tick"],
        &["event", "--kind", "updated", "--person", &person],
        &["retry", "--person", &person],
        &["connect", "--humaans-url", &hu, "--scim-url", &su],
        &["configure", "--deprovisioning", "suspend"],
    ];
    for command in busy {
        let args = join(&join(&base, &["--wait", "1s"]), command);
        let line = hh(&args, &tokens()).await.fails().to_owned();
        assert!(line.starts_with("error: tenant busy: ") && line.contains("within 1s"), "{command:?}: {line}");
    }
    let line = hh(&join(&base, &["--wait", "0", "tick"]), &[]).await.fails().to_owned();
    assert!(line.contains("tenant busy"), "{line}");
    assert_eq!(m.humaans.control().journal().len(), humaans_before, "a busy command called Humaans");
    assert_eq!(m.leapsome.control().journal().len(), scim_before, "a busy command called Leapsome");
    // Reads, and a plan, do not wait for the lease.
    let status = hh(&join(&base, &["--json", "status"]), &[]).await.ok().unwrap();
    assert_eq!(status["settings"]["deprovisioning"], "off", "the busy configure changed nothing: {status}");
    hh(&join(&base, &["logs"]), &[]).await.ok();
    let plan = hh(&join(&base, &["--wait", "0", "--json", "sync-all", "--dry-run"]), &[]).await.ok().unwrap();
    assert_eq!(plan["dry_run"], true, "{plan}");

    store.release(&lease).unwrap();
    let synced = hh(&join(&base, &["--wait", "1s", "--json", "sync-all"]), &[]).await.ok().unwrap();
    assert_eq!(synced["complete"], true, "{synced}");
    assert_one_account_each(&m);
    clean_up(&data);
}

/// The binary carries its component (built into it by `build.rs`): a copy of it, run where there
/// is no cargo (empty PATH, no CARGO) and no `HUMAANS_LEAPSOME_COMPONENT`, runs the whole demo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_carries_its_component_and_needs_no_cargo() {
    assert!(!host_harness::component::EMBEDDED.is_empty(), "built with HOST_HARNESS_EMBED=0");
    let dir = scratch("installed");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let installed = dir.join("bin/host-harness");
    std::fs::copy(env!("CARGO_BIN_EXE_host-harness"), &installed).unwrap();
    let output = tokio::process::Command::new(&installed)
        .args(["--data-dir"])
        .arg(dir.join("data"))
        .args(["demo"])
        .env_clear()
        .env("PATH", dir.join("no-such-dir"))
        .env("HOME", &dir)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the copied binary starts");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "demo failed without cargo:\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("Sync") || stdout.contains("sync"), "{stdout}");
    // The demo's bulk offboarding: the brake holds some (the limit is 6 of its ~60 accounts, one
    // suspended before), and the admin's approval carries exactly those out.
    let bulk = stdout.lines().find(|l| l.starts_with("bulk offboarding:")).expect("the demo shows the brake");
    let held: u32 = bulk.split(" held by the brake").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(held > 0, "{bulk}");
    assert!(stdout.contains(&format!("approve --all: {held} more suspended")), "{stdout}");
    clean_up(&dir);
}

/// `bench --callgrind steady-sync-teams` (scripts/callgrind.sh's third call, here outside
/// valgrind, where the markers do nothing): the organisation in `--teams` teams with teams on, its
/// first sync unmeasured, then one steady sync that writes nothing and reads only the floor (no
/// Groups in the Leapsome dialect); without teams to measure it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_callgrind_steady_sync_teams_is_a_steady_sync_with_teams_on() {
    let data = data_dir("bench-callgrind-teams");
    let args = ["--data-dir", data.to_str().unwrap(), "bench", "--callgrind", "steady-sync-teams", "--employees", "60"];
    let run = hh(&[&args[..], &["--teams", "4"]].concat(), &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
    assert_eq!(report["call"], "steady-sync-teams", "{report}");
    assert_eq!(report["teams"].as_u64(), Some(4), "{report}");
    assert!(run.stderr.contains("60 people in 4 teams"), "{}", run.describe());
    // People, job roles, the company and SCIM users: one page each at 60 people; no Groups.
    assert_eq!(report["requests"].as_u64(), Some(4), "{report}");
    assert_eq!((report["scim_writes"].as_u64(), report["writes_or_changes"].as_u64()), (Some(0), Some(0)), "{report}");
    let none = hh(&[&args[..], &["--teams", "0"]].concat(), &[]).await;
    assert!(none.fails().contains("--teams"), "{}", none.describe());
    clean_up(&data);
}

/// `bench` end to end on a small organisation: one JSON document on stdout (progress on stderr),
/// the steady syncs measured as asked (the median reported, none writing, each at the floor of
/// requests) and every target named, met or not; three tenants through a real `serve`, each
/// round running only its own kind of call. Times are printed, never asserted here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_reports_the_median_steady_sync_and_every_target_in_one_document() {
    let data = data_dir("bench");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "bench",
        "--employees",
        "150",
        "--rate-limited-employees",
        "0",
        "--steady-syncs",
        "3",
        "--tenants",
        "3",
        "--tenant-employees",
        "10",
        "--json",
    ];
    let run = hh(&args, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for n in 1..=3 {
        assert!(run.stderr.contains(&format!("steady sync {n} of 3")), "{}", run.describe());
    }
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
    let initial = &report["initial_sync"]["report"];
    assert_eq!((initial["complete"].as_bool(), initial["failed"].as_u64()), (Some(true), Some(0)), "{report}");
    let steady = &report["steady_sync"];
    let mut walls: Vec<f64> =
        steady["runs_wall_s"].as_array().expect("every run's wall time").iter().map(|w| w.as_f64().unwrap()).collect();
    assert_eq!(walls.len(), 3, "{steady}");
    walls.sort_by(f64::total_cmp);
    assert_eq!(steady["wall_s"].as_f64(), Some(walls[1]), "the median: {steady}");
    assert_eq!(steady["most_writes"].as_u64(), Some(0), "{steady}");
    assert_eq!(steady["most_requests"], steady["floor_requests"], "{steady}");
    let targets = report["targets_met"].as_object().expect("targets");
    for target in ["steady_sync_wall", "guest_memory_peak", "component_bytes", "instantiate_median_us"] {
        assert!(targets[target].is_boolean(), "{target}: {report}");
    }
    for met in
        ["initial_sync_complete", "steady_sync_ratio", "steady_sync_no_writes", "incremental_writes_equal_changed"]
    {
        assert_eq!(targets[met].as_bool(), Some(true), "{met}: {report}");
    }

    // The teams run (150 people in 7 teams, teams on): every team created once with exactly its
    // members, at most ceil(members/100) + 1 writes each; a steady sync writes nothing and, in the
    // Leapsome dialect, reads no Groups at all (the floor, within floor + Groups pages).
    let teams = &report["teams"];
    let first = &teams["first_sync"];
    assert_eq!(teams["teams_asked"].as_u64(), Some(7), "{teams}");
    assert_eq!(first["teams_wanted"].as_u64(), Some(7), "{teams}");
    assert_eq!(first["teams_exact"], first["teams_wanted"], "{teams}");
    assert_eq!(first["groups"], first["teams_wanted"], "{teams}");
    assert_eq!(first["unattributed_writes"].as_u64(), Some(0), "{teams}");
    assert_eq!(first["requests"]["by_route"]["POST /Groups"], first["teams_wanted"], "{teams}");
    assert!(first["worst"]["ratio"].as_f64().unwrap() <= 1.0, "{teams}");
    let steady = &teams["steady_sync"];
    assert_eq!(steady["syncs"].as_u64(), Some(3), "{teams}");
    assert_eq!(steady["most_writes"].as_u64(), Some(0), "{teams}");
    assert_eq!(steady["groups_requests"].as_u64(), Some(0), "{teams}");
    assert_eq!(steady["requests"], steady["floor_requests"], "{teams}");
    assert_eq!(steady["allowed"].as_u64(), Some(steady["floor_requests"].as_u64().unwrap() + 1), "{teams}");
    let routes = steady["by_route"].as_object().expect("requests by route");
    assert_eq!(routes.values().map(|n| n.as_u64().unwrap()).sum::<u64>(), steady["requests"].as_u64().unwrap());
    for route in ["GET /api/people", "GET /api/job-roles", "GET /Users"] {
        assert!(routes[route].as_u64().unwrap() >= 1, "{route}: {teams}");
    }
    for met in [
        "teams_first_sync_complete",
        "teams_first_sync_writes_per_team",
        "teams_steady_no_writes",
        "teams_steady_requests",
    ] {
        assert_eq!(targets[met].as_bool(), Some(true), "{met}: {report}");
    }

    // The tenants run through a real serve: each round runs only its own kind of call (the
    // schedule the previous phase left is cleared), and serve's writes never waited for SQLite.
    let tenants = &report["tenants"];
    assert_eq!(tenants["count"].as_u64(), Some(3), "{tenants}");
    assert_eq!(tenants["tick_round"]["round"]["tenants_done"].as_u64(), Some(3), "{tenants}");
    assert!(tenants["tick_round"]["calls"]["ok"].as_f64().unwrap() >= 3.0, "{tenants}");
    assert_eq!(tenants["tick_round"]["sync_calls"].as_f64(), Some(0.0), "{tenants}");
    assert_eq!(tenants["steady_round"]["tick_calls"].as_f64(), Some(0.0), "{tenants}");
    assert_eq!(tenants["steady_round"]["scim_writes"].as_f64(), Some(0.0), "{tenants}");
    for round in ["tick_round", "steady_round"] {
        assert_eq!(tenants[round]["sqlite_busy_waits"].as_f64(), Some(0.0), "{round}: {tenants}");
    }
    for target in ["tenants_tick_round_wall", "tenants_steady_round_wall", "tenants_host_rss_peak"] {
        assert!(targets[target].is_boolean(), "{target}: {report}");
    }
    assert_eq!(targets["tenants_steady_no_writes"].as_bool(), Some(true), "{report}");

    // Every target is also a figure under the same name (the names BENCHMARKS.md's table of
    // today's figures uses), with the value and target the text table prints and the same verdict.
    let figures = report["figures"].as_object().expect("figures");
    assert_eq!(figures.keys().collect::<BTreeSet<_>>(), targets.keys().collect::<BTreeSet<_>>(), "{report}");
    for (name, figure) in figures {
        assert_eq!(figure["met"], targets[name], "{name}: {report}");
        for field in ["measure", "value", "target"] {
            assert!(!figure[field].as_str().unwrap_or_default().is_empty(), "{name}.{field}: {report}");
        }
    }
    // The text table ends each targeted row with that name.
    let text = hh(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "bench",
            "--employees",
            "50",
            "--rate-limited-employees",
            "0",
            "--teams",
            "3",
        ],
        &[],
    )
    .await;
    assert_eq!(text.code, Some(0), "{}", text.describe());
    assert!(text.stdout.contains("teams: first sync (50 people, 3 teams wanted)"), "{}", text.stdout);
    let named: BTreeSet<&str> = text.stdout.lines().filter_map(|line| line.split_whitespace().last()).collect();
    assert!(named.contains("NAME"), "{}", text.stdout);
    for name in targets.keys().filter(|name| !name.starts_with("tenants_")) {
        assert!(named.contains(name.as_str()), "{name} not printed:\n{}", text.stdout);
    }

    let zero = hh(&["bench", "--steady-syncs", "0"], &[]).await;
    assert!(zero.fails().contains("--steady-syncs"), "{}", zero.describe());
    clean_up(&data);
}

/// `logs` for an auditor: CSV (read back by the `csv` crate, as a spreadsheet would) with names
/// holding commas, quotes and non-Latin letters, JSON lines, a period, and a person by work email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_export_as_csv_and_json_lines_filtered_by_period_and_email() {
    let m = mocks(6, 4).await;
    // A team whose name has a comma, quotes and non-Latin letters: its log lines quote it.
    let team = "R&D, \"Core\" 研究チーム";
    let someone = m.humaans.people().into_iter().find(|p| p.status == "active").expect("an active person");
    m.humaans.update_person(&someone.id, |p| p.teams = vec![mock_servers::humaans::Team { name: team.into() }]);
    let data = data_dir("logs-export");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    hh(&["--data-dir", d, "configure", "--provisioning", "immediately", "--teams", "on"], &[]).await.ok();
    hh(&["--data-dir", d, "sync-all"], &[]).await.ok();
    let all = hh(&["--data-dir", d, "--json", "logs", "--limit", "100000"], &[]).await.ok().unwrap();
    let all = all["entries"].as_array().unwrap().clone();

    let run = hh(&["--data-dir", d, "logs", "--format", "csv"], &[]).await;
    run.ok();
    assert!(run.stdout.starts_with('\u{feff}'), "a byte-order mark for spreadsheets");
    let mut reader = csv::Reader::from_reader(run.stdout.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        ["sequence", "at", "action", "outcome", "person_id", "email", "http_status", "message", "run_id", "trigger"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), all.len(), "every entry, not the table's 50");
    for (row, entry) in rows.iter().zip(&all) {
        assert_eq!(row[0], entry["sequence"].to_string());
        assert_eq!(row[1], *entry["at"].as_str().unwrap());
        assert_eq!(row[2], *entry["action"].as_str().unwrap());
        let message = entry["message"].as_str().unwrap();
        let shown = if message.starts_with(['=', '+', '-', '@']) { format!("'{message}") } else { message.to_owned() };
        assert_eq!(row[7], shown);
        assert_eq!((&row[8], &row[9]), (entry["run_id"].as_str().unwrap(), entry["trigger"].as_str().unwrap()));
    }
    let named: Vec<&csv::StringRecord> = rows.iter().filter(|r| r[7].contains(team)).collect();
    assert!(named.iter().any(|r| &r[2] == "team-create"), "the team's name read back whole: {named:?}");

    // JSON lines: one entry a line, the same entries.
    let run = hh(&["--data-dir", d, "logs", "--format", "jsonl"], &[]).await;
    run.ok();
    let lines: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines, all);

    // A person by work email (any case), and a period.
    let upper = someone.email.to_uppercase();
    let theirs = hh(&["--data-dir", d, "--json", "logs", "--person", &upper], &[]).await.ok().unwrap();
    let theirs = theirs["entries"].as_array().unwrap();
    assert!(
        !theirs.is_empty() && theirs.iter().all(|e| e["email"].as_str().unwrap().eq_ignore_ascii_case(&someone.email))
    );
    let future = hh(&["--data-dir", d, "--json", "logs", "--since", "2999-01-01"], &[]).await.ok().unwrap();
    assert_eq!(future["entries"], serde_json::json!([]));
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let through_today =
        hh(&["--data-dir", d, "--json", "logs", "--until", &today, "--limit", "100000"], &[]).await.ok().unwrap();
    assert_eq!(through_today["entries"].as_array().unwrap().len(), all.len(), "a date as `until` is its whole day");
    let refused = hh(&["--data-dir", d, "logs", "--since", "last tuesday"], &[]).await;
    assert!(refused.stderr.contains("not an RFC 3339 time or a date"), "{}", refused.describe());
    clean_up(&data);
}

/// Every entry names its run and what started it: one command is one run (a `sync-all` that
/// calls the component several times too), `logs --run` finds a run's entries; the retention is
/// configurable, and lowering it deletes the older entries at once.
#[tokio::test]
async fn log_entries_name_their_run_and_the_retention_is_configurable() {
    let m = mocks(150, 0).await;
    let data = data_dir("log-runs");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    hh(&["--data-dir", d, "configure", "--provisioning", "immediately"], &[]).await.ok();
    // Three calls of the component (50 writes each), one run.
    hh(&["--data-dir", d, "sync-all", "--max-writes", "50"], &[]).await.ok();
    let all = hh(&["--data-dir", d, "--json", "logs", "--limit", "100000"], &[]).await.ok().unwrap();
    let all = all["entries"].as_array().unwrap().clone();
    assert!(all.len() > 150, "{} entries", all.len());
    assert!(all.iter().all(|e| e["trigger"] == "cli" && e["run_id"].as_str().unwrap().starts_with("run-")));
    let runs = |entries: &[Value]| {
        let mut ids: Vec<String> = entries.iter().map(|e| e["run_id"].as_str().unwrap().to_owned()).collect();
        ids.dedup();
        ids
    };
    // Newest first: the sync's run, then configure's, then connect's.
    assert_eq!(runs(&all).len(), 3, "connect, configure and the one sync-all: {:?}", runs(&all));
    let sync_run = all[0]["run_id"].as_str().unwrap();
    let provisions = all.iter().filter(|e| e["action"] == "provision").count();
    assert!(provisions > 100, "{provisions} accounts made, in three calls of at most 50 writes");
    let of_the_sync = hh(&["--data-dir", d, "--json", "logs", "--run", sync_run, "--limit", "100000"], &[]).await;
    let of_the_sync = of_the_sync.ok().unwrap()["entries"].as_array().unwrap().clone();
    assert_eq!(of_the_sync.len(), all.iter().filter(|e| e["run_id"] == sync_run).count());
    assert_eq!(of_the_sync.iter().filter(|e| e["action"] == "provision").count(), provisions);

    // Retention: refused outside its range, with the range named; lowered, the log shrinks now.
    let refused = hh(&["--data-dir", d, "configure", "--log-retention", "50"], &[]).await;
    assert!(refused.stderr.contains("100 to 100,000"), "{}", refused.describe());
    let done = hh(&["--data-dir", d, "--json", "configure", "--log-retention", "100"], &[]).await.ok().unwrap();
    assert_eq!(done["log_retention"], "100", "{done}");
    let kept = hh(&["--data-dir", d, "--json", "logs", "--limit", "100000"], &[]).await.ok().unwrap();
    let kept = kept["entries"].as_array().unwrap();
    assert_eq!(kept.len(), 100, "the newest 100 entries, the configure entry among them");
    assert_eq!(kept[0]["action"], "configure");
    assert!(kept[0]["message"].as_str().unwrap().contains("older log entries deleted to keep the newest 100"));
    clean_up(&data);
}
