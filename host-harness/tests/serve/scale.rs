//! Scale-out: several `serve` processes on one throw-away PostgreSQL. Every event applied once,
//! no tenant run by two processes at once (from the journal of turns the processes log), a
//! kill -9 mid-sync finished by the others, and a SIGSTOPped process's late writes fenced off.

use std::collections::HashMap;

use host_harness::storage::pg_testing::TestPg;

use super::*;

/// Every process gets the same host key (as machines sharing a store would, from their secret
/// store): a secret one process seals, the others open.
const HOST_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn start_on(pg: &TestPg, name: &str, extra: &[&str]) -> Serve {
    let data = data_dir(name);
    let mut args = vec!["--store", pg.url.as_str(), "--log-format", "json"];
    args.extend_from_slice(extra);
    start_env(&data, &args, &[("HOST_HARNESS_KEY", HOST_KEY)]).await
}

fn json_lines(log: &str) -> Vec<Value> {
    log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// (tenant, holder, start µs, end µs) of every turn in the logs; a turn a killed process never
/// ended lasts until `killed_at` (µs).
fn turns(logs: &[String], killed_at: Option<u128>) -> Vec<(String, String, u128, u128)> {
    let mut out = Vec::new();
    for log in logs {
        let mut open: HashMap<String, (String, u128)> = HashMap::new();
        for line in json_lines(log) {
            let (Some(tenant), Some(token)) = (line["tenant"].as_str(), line["token"].as_str()) else { continue };
            let at: u128 = line["at_us"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
            let holder = line["holder"].as_str().unwrap_or("").to_owned();
            match line["msg"].as_str() {
                Some("turn started") => {
                    open.insert(format!("{tenant}/{token}"), (holder, at));
                }
                Some("turn ended") => {
                    let (holder, start) =
                        open.remove(&format!("{tenant}/{token}")).expect("a turn ends after it starts");
                    out.push((tenant.to_owned(), holder, start, at));
                }
                _ => {}
            }
        }
        for (key, (holder, start)) in open {
            let tenant = key.split('/').next().unwrap().to_owned();
            out.push((tenant, holder, start, killed_at.expect("every turn of a live process ended")));
        }
    }
    out
}

/// No two turns of one tenant overlap in time.
fn assert_one_holder_at_a_time(turns: &[(String, String, u128, u128)]) {
    let mut by_tenant: HashMap<&str, Vec<(u128, u128, &str)>> = HashMap::new();
    for (tenant, holder, start, end) in turns {
        by_tenant.entry(tenant).or_default().push((*start, *end, holder));
    }
    for (tenant, mut spans) in by_tenant {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "tenant {tenant} ran in two turns at once: {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

fn now_us() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_100_tenants_and_apply_every_event_once() {
    let Some(pg) = TestPg::start() else { return };
    // Five pairs of mocks, twenty tenants on each; every event is a different person.
    let mut pairs = Vec::new();
    for _ in 0..5 {
        pairs.push(mocks().await);
    }
    let flags = ["--lease-ttl", "3s", "--tick-every", "2s", "--sync-every", "24h", "--workers", "4"];
    let processes = [
        start_on(&pg, "scale-a", &flags).await,
        start_on(&pg, "scale-b", &flags).await,
        start_on(&pg, "scale-c", &flags).await,
    ];
    let tenants: Vec<String> = (0..100).map(|i| format!("t{i:03}")).collect();
    for (i, tenant) in tenants.iter().enumerate() {
        let (humaans, leapsome) = &pairs[i % 5];
        processes[i % 3].tenant(tenant, humaans, leapsome).await;
    }
    // Two hires per tenant; each webhook goes to a process in turn, and each is delivered twice
    // (to two different processes): the replay is recognised whichever process gets it.
    let mut events = Vec::new();
    for (i, tenant) in tenants.iter().enumerate() {
        for n in 0..2 {
            let (id, email) = hire(&pairs[i % 5].0, i * 2 + n);
            events.push((tenant.clone(), format!("evt-{tenant}-{n}"), id, email));
        }
    }
    for (k, (tenant, event, id, _)) in events.iter().enumerate() {
        let body = created(id, event);
        assert_eq!(processes[k % 3].webhook(tenant, SECRET, &body).await.0, 202);
        let (status, _) = processes[(k + 1) % 3].webhook(tenant, SECRET, &body).await;
        assert_eq!(status, 200, "a replay to another process is a duplicate");
    }
    let series = "host_harness_calls_total{export=\"on-employee-event\",outcome=\"ok\"}";
    eventually("200 events applied across the processes", || async {
        let mut applied = 0.0;
        for p in &processes {
            applied += p.metric(series).await;
        }
        applied >= 200.0 && processes[0].metric("host_harness_queue_depth").await == 0.0
    })
    .await;
    // Ticks keep running a little longer, to exercise the leases under contention.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut logs = Vec::new();
    for p in processes {
        let (code, log) = p.terminate().await;
        assert_eq!(code, Some(0), "{log}");
        logs.push(log);
    }
    // Exactly once: each event applied by one process, one time.
    let mut applied: HashMap<(String, String), usize> = HashMap::new();
    for log in &logs {
        for line in json_lines(log).iter().filter(|l| l["msg"] == "event applied") {
            let key = (line["tenant"].as_str().unwrap().to_owned(), line["event"].as_str().unwrap().to_owned());
            *applied.entry(key).or_default() += 1;
        }
    }
    assert_eq!(applied.len(), 200, "every event applied");
    assert!(applied.values().all(|n| *n == 1), "an event applied twice: {applied:?}");
    let mut posts_total = 0;
    for (humaans, leapsome) in &pairs {
        let _ = humaans;
        posts_total += posts(leapsome);
        let mut names: Vec<String> =
            leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "no duplicate accounts");
    }
    assert_eq!(posts_total, 200, "one account created per event");
    // The work was shared, and no tenant was ever in two turns at once.
    let journal = turns(&logs, None);
    let holders: std::collections::BTreeSet<&str> = journal.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(holders.len(), 3, "all three processes ran turns");
    for log in &logs {
        assert!(json_lines(log).iter().any(|l| l["msg"] == "event applied"), "every process applied events");
    }
    assert_one_holder_at_a_time(&journal);
}

/// A tenant with `n` people in its own mocks, provisioned by a scheduled sync.
async fn org(n: usize) -> (MockHumaans, MockLeapsome) {
    let (humaans, leapsome) = mocks().await;
    for i in 0..n {
        hire(&humaans, i);
    }
    // Each account creation is slow, so syncs are in flight when the kill lands.
    leapsome.control().add_fault(FaultRule::new(
        Some("POST"),
        "/Users",
        Fault::Delay(Duration::from_millis(40)),
        10_000,
    ));
    (humaans, leapsome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_sync_leaves_its_tenants_to_the_others_without_duplicates() {
    let Some(pg) = TestPg::start() else { return };
    let mut orgs = Vec::new();
    for _ in 0..6 {
        orgs.push(org(40).await);
    }
    let flags =
        ["--lease-ttl", "2s", "--tick-every", "1h", "--sync-every", "3s", "--max-writes", "5", "--workers", "6"];
    let mut processes = vec![
        start_on(&pg, "kill-a", &flags).await,
        start_on(&pg, "kill-b", &flags).await,
        start_on(&pg, "kill-c", &flags).await,
    ];
    for (i, (humaans, leapsome)) in orgs.iter().enumerate() {
        processes[i % 3].tenant(&format!("k{i}"), humaans, leapsome).await;
    }
    // Wait until the first process is in the middle of a scheduled sync that has written.
    eventually("process a mid-sync", || async {
        json_lines(&processes[0].log()).iter().any(|l| l["msg"] == "scheduled sync" && l["writes"] != "0")
    })
    .await;
    let mut victim = processes.remove(0);
    let victim_log_before = victim.log();
    victim.child.start_kill().unwrap();
    victim.child.wait().await.unwrap();
    let killed_at = now_us();
    let victim_log = victim.log();
    let victim_tenants: std::collections::BTreeSet<String> = json_lines(&victim_log_before)
        .iter()
        .filter(|l| l["msg"] == "scheduled sync")
        .filter_map(|l| l["tenant"].as_str().map(str::to_owned))
        .collect();
    assert!(!victim_tenants.is_empty());

    eventually("every account of every tenant", || async { orgs.iter().all(|(_, l)| l.users().len() == 40) }).await;
    for (_, leapsome) in &orgs {
        let mut names: Vec<String> =
            leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 40, "no duplicate accounts");
        assert_eq!(posts(leapsome), 40, "each account created once");
    }
    let mut logs = vec![victim_log];
    for p in processes {
        let (code, log) = p.terminate().await;
        assert_eq!(code, Some(0));
        logs.push(log);
    }
    // The survivors ran the tenants the victim had been syncing.
    let survivors: std::collections::BTreeSet<String> = logs[1..]
        .iter()
        .flat_map(|l| json_lines(l))
        .filter(|l| l["msg"] == "scheduled sync")
        .filter_map(|l| l["tenant"].as_str().map(str::to_owned))
        .collect();
    assert!(victim_tenants.is_subset(&survivors), "{victim_tenants:?} finished by {survivors:?}");
    assert_one_holder_at_a_time(&turns(&logs, Some(killed_at)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_paused_past_its_lease_cannot_write_when_it_wakes() {
    let Some(pg) = TestPg::start() else { return };
    let (humaans, leapsome) = mocks().await;
    let flags = ["--lease-ttl", "2s", "--tick-every", "1h", "--sync-every", "24h"];
    let a = start_on(&pg, "pause-a", &flags).await;
    a.tenant("acme", &humaans, &leapsome).await;
    let (id, email) = hire(&humaans, 1);
    // A's read of the person hangs, so A is inside the call, holding the lease, when paused.
    hang_next_read_of(&humaans, &id, Duration::from_secs(5));
    assert_eq!(a.webhook("acme", SECRET, &created(&id, "evt-pause")).await.0, 202);
    let turns_before = json_lines(&a.log()).iter().filter(|l| l["msg"] == "turn started").count();
    eventually("a takes the tenant for the event", || async {
        json_lines(&a.log()).iter().filter(|l| l["msg"] == "turn started").count() > turns_before
    })
    .await;
    let token = json_lines(&a.log()).iter().filter(|l| l["msg"] == "turn started").nth(turns_before).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Inside the call now, waiting on the person's read for seconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!humaans.control().journal().iter().any(|e| e.path == format!("/api/people/{id}")), "still waiting");
    let pid = a.child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    // B starts while A sleeps; once A's lease has run out, B takes the tenant and runs the event.
    let b = start_on(&pg, "pause-b", &flags).await;
    b.applied(1.0).await;
    assert_eq!(leapsome.users().len(), 1);
    assert_eq!(leapsome.users()[0]["userName"], email.as_str());
    let writes_before_wake = leapsome.control().count("POST") + leapsome.control().count("PATCH");
    // A wakes: its call goes on, but nothing it writes lands, in the store or at Leapsome.
    std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    eventually("a notices", || async {
        let log = a.log();
        log.contains("no longer the current lease") || log.contains("lease lost")
    })
    .await;
    eventually("a's call ends", || async {
        json_lines(&a.log()).iter().any(|l| l["msg"] == "turn ended" && l["token"] == token.as_str())
    })
    .await;
    let a_log = a.log();
    assert!(a_log.contains("write refused: lease token"), "a's late completion is fenced: {a_log}");
    assert_eq!(
        leapsome.control().count("POST") + leapsome.control().count("PATCH"),
        writes_before_wake,
        "no late write from a reached Leapsome"
    );
    assert_eq!(b.metric(series_ok()).await, 1.0);
    assert_eq!(leapsome.users().len(), 1);
    let (_, a_log) = a.terminate().await;
    let (_, b_log) = b.terminate().await;
    let _ = (a_log, b_log);
}

fn series_ok() -> &'static str {
    "host_harness_calls_total{export=\"on-employee-event\",outcome=\"ok\"}"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_through_one_process_reaches_the_others() {
    let Some(pg) = TestPg::start() else { return };
    let (first, second) = (mocks().await, mocks().await);
    let a = start_on(&pg, "reconnect-a", &[]).await;
    let b = start_on(&pg, "reconnect-b", &[]).await;
    a.tenant("acme", &first.0, &first.1).await;
    let (id, _) = hire(&first.0, 1);
    assert_eq!(b.webhook("acme", SECRET, &created(&id, "evt-1")).await.0, 202);
    b.applied(1.0).await;
    assert_eq!(first.1.users().len(), 1, "b runs the tenant on the first mocks");
    // Reconnected through a to other services: b's next call follows (its allow-list too).
    a.tenant("acme", &second.0, &second.1).await;
    let (id, email) = hire(&second.0, 2);
    assert_eq!(b.webhook("acme", SECRET, &created(&id, "evt-2")).await.0, 202);
    b.applied(2.0).await;
    let users = second.1.users();
    assert_eq!(users.len(), 1, "the event reached the new services");
    assert_eq!(users[0]["userName"], email.as_str());
    assert_eq!(first.1.users().len(), 1);
    a.terminate().await;
    b.terminate().await;
}
