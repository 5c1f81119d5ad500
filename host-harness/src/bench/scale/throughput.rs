//! Throughput of 1 against N serve processes on one PostgreSQL: tenant syncs per minute and
//! webhooks per second.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::org::{PEOPLE, org};
use crate::bench::common::{progress, round3};
use crate::bench::serve::process::{self, Serve};
use mock_servers::humaans::webhook::{SIGNATURE_HEADER, delivery, sign};
use mock_servers::leapsome::LeapsomeConfig;

const SECRET: &str = "bench-scale-webhook-secret";
/// Tenants in the throughput runs, each with its own mocks and `PEOPLE` people (`org`).
const TENANTS: usize = 24;
/// How long the sync throughput is counted.
const SYNC_WINDOW: Duration = Duration::from_secs(30);
/// Webhooks in the webhook throughput run (spread over the tenants), and how many are in flight.
const WEBHOOKS: usize = 960;
const IN_FLIGHT: usize = 16;

async fn sum(processes: &[Serve], series: &str) -> Result<f64> {
    let mut total = 0.0;
    for p in processes {
        total += p.metric(series).await?;
    }
    Ok(total)
}

const SYNCS_OK: &str = "host_harness_calls_total{export=\"sync-all\",outcome=\"ok\"}";
const EVENTS_OK: &str = "host_harness_calls_total{export=\"on-employee-event\",outcome=\"ok\"}";

/// `n` serve processes of this executable on the PostgreSQL at `url`, each with its own data dir
/// and the same host key file (so a secret one seals, the others open).
async fn start_all(
    root: &Path,
    name: &str,
    component: &Path,
    url: &str,
    n: usize,
    flags: &[&str],
) -> Result<Vec<Serve>> {
    let key = root.join("host.key");
    let key = key.to_str().context("a UTF-8 path")?;
    let dir = root.join(name);
    let mut processes = Vec::new();
    for i in 0..n {
        let data = dir.join(format!("process-{i}"));
        std::fs::create_dir_all(&data)?;
        let mut args = vec!["--store", url, "--key-file", key];
        args.extend_from_slice(flags);
        processes.push(process::start(&data, component, &args).await?);
    }
    Ok(processes)
}

async fn stop_all(processes: Vec<Serve>) -> Result<()> {
    for p in processes {
        p.stop().await?;
    }
    Ok(())
}

/// Tenant syncs per minute and webhooks per second with 1 and with `n` processes.
pub(super) async fn throughput(dir: &Path, component: &Path, url: &str, n: usize) -> Result<Value> {
    progress(format!("throughput: {TENANTS} tenants of {PEOPLE} people on one PostgreSQL"));
    let mut orgs = Vec::new();
    for _ in 0..TENANTS {
        orgs.push(org(PEOPLE).await?);
    }
    // Every tenant connected and provisioned once, through one process.
    {
        let mut setup = start_all(dir, "setup", component, url, 1, &["--sync-every", "2s"]).await?;
        for (i, (humaans, leapsome, _)) in orgs.iter().enumerate() {
            let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
                "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": LeapsomeConfig::default().token,
                "webhook_secret": SECRET, "scim_rate_limit": 0});
            setup[0].api("PUT", &format!("/api/tenants/s{i:02}/connection"), &connection).await?;
            let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend"});
            setup[0].api("PUT", &format!("/api/tenants/s{i:02}/settings"), &settings).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(180);
        while !orgs.iter().all(|(_, l, _)| l.users().len() == PEOPLE) {
            if Instant::now() > deadline {
                let warnings = setup[0].drain_warnings(5);
                bail!("the tenants were not provisioned within 3 minutes; serve warned:\n{}", warnings.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_all(setup).await?;
    }
    let mut rows = serde_json::Map::new();
    let mut event = 0usize;
    for count in [1, n] {
        progress(format!("{count} process(es): steady syncs for {} s", SYNC_WINDOW.as_secs()));
        // Every tenant due every 200 ms: more than the processes can run, so the count is their
        // capacity, not the schedule's.
        let flags = ["--sync-every", "200ms", "--tick-every", "1h"];
        let processes = start_all(dir, &format!("syncs-{count}"), component, url, count, &flags).await?;
        // Let the first round start before counting.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = sum(&processes, SYNCS_OK).await?;
        tokio::time::sleep(SYNC_WINDOW).await;
        let syncs = sum(&processes, SYNCS_OK).await? - before;
        stop_all(processes).await?;

        progress(format!("{count} process(es): {WEBHOOKS} webhooks"));
        let flags = ["--sync-every", "24h", "--tick-every", "1h"];
        let processes = Arc::new(start_all(dir, &format!("webhooks-{count}"), component, url, count, &flags).await?);
        let started = Instant::now();
        let mut sends = Vec::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        for k in 0..WEBHOOKS {
            let tenant = k % TENANTS;
            let (humaans, _, ids) = &orgs[tenant];
            let id = &ids[(k / TENANTS) % PEOPLE];
            humaans.update_person(id, |p| p.last_name = format!("Webhook{event}"));
            let body = delivery(&format!("bench-{count}-{k}"), "person.updated", id);
            event += 1;
            let (processes, gate) = (processes.clone(), gate.clone());
            sends.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let signature = sign(SECRET, body.as_bytes());
                let path = format!("/webhooks/humaans/s{tenant:02}");
                processes[k % processes.len()]
                    .request("POST", &path, &[(SIGNATURE_HEADER, &signature)], body.as_bytes())
                    .await
            }));
        }
        for send in sends {
            let (status, text) = send.await??;
            if status != 202 {
                bail!("a webhook got {status}: {text}");
            }
        }
        let accepted_s = started.elapsed().as_secs_f64();
        let deadline = Instant::now() + Duration::from_secs(600);
        while sum(&processes, EVENTS_OK).await? < WEBHOOKS as f64 {
            if Instant::now() > deadline {
                bail!("the webhooks were not all applied within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let applied_s = started.elapsed().as_secs_f64();
        let processes = Arc::into_inner(processes).context("sends finished")?;
        stop_all(processes).await?;
        rows.insert(
            format!("processes_{count}"),
            json!({"processes": count, "syncs_per_minute": round3(syncs * 60.0 / SYNC_WINDOW.as_secs_f64()),
                "webhooks": WEBHOOKS, "accepted_per_second": round3(WEBHOOKS as f64 / accepted_s),
                "applied_per_second": round3(WEBHOOKS as f64 / applied_s)}),
        );
    }
    rows.insert(
        "setup".into(),
        json!({"tenants": TENANTS, "people_per_tenant": PEOPLE, "sync_window_s": SYNC_WINDOW.as_secs(),
            "webhooks_in_flight": IN_FLIGHT, "cpus": std::thread::available_parallelism().map_or(0, |n| n.get())}),
    );
    Ok(Value::Object(rows))
}
