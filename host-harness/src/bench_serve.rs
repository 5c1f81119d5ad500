//! `host-harness bench --serve`: `serve` as a real process (this executable) against the mocks.
//!
//! - Webhook → Leapsome write latency: signed `person.created` webhooks at a steady rate over
//!   several tenants; latency is from just before a webhook is sent to the moment mock Leapsome
//!   answered the account's `POST /Users` (the mock's timed journal).
//! - Memory: the resident set of `serve` just started, idle with 100 tenants in its store, and
//!   after the scheduler ticked all 100.
//!
//! Numbers are measured and printed, never asserted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::cli::Global;
use mock_servers::humaans::webhook::{SIGNATURE_HEADER, delivery, sign};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

const ADMIN: &str = "bench-admin-token-9f3e2c71";
const SECRET: &str = "bench-webhook-secret";
const TENANTS: usize = 100;
/// Tenants that receive webhooks in the latency run (the rate is spread over them).
const BUSY_TENANTS: usize = 10;

fn progress(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}

struct Serve {
    child: tokio::process::Child,
    addr: String,
}

async fn start(dir: &Path, component: &Path, tick_every: &str) -> Result<Serve> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["--data-dir", dir.to_str().context("a UTF-8 path")?, "serve", "--listen", "127.0.0.1:0"])
        .args(["--tick-every", tick_every, "--workers", "4"])
        .env("HOST_HARNESS_ADMIN_TOKEN", ADMIN)
        .env("HUMAANS_LEAPSOME_COMPONENT", component)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start serve")?;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("serve did not start in time")??;
        let Some(line) = line else { bail!("serve exited before listening") };
        if line.contains("serving")
            && let Some(rest) = line.split("http://").nth(1)
        {
            break rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect::<String>();
        }
    };
    // Keep draining stderr so serve never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Serve { child, addr })
}

impl Serve {
    fn rss_kib(&self) -> Result<(u64, u64)> {
        let pid = self.child.id().context("serve has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    async fn stop(mut self) -> Result<()> {
        let pid = self.child.id().context("serve has exited")?.to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status()?;
        tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await??;
        Ok(())
    }

    async fn metric(&self, series: &str) -> Result<f64> {
        let (_, text) = http(&self.addr, "GET", "/metrics", &[], b"").await?;
        Ok(crate::serve::metrics::value_of(&text, series).unwrap_or(0.0))
    }
}

async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

async fn api(serve: &Serve, method: &str, path: &str, body: &Value) -> Result<Value> {
    let auth = format!("Bearer {ADMIN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, text) = http(&serve.addr, method, path, &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        bail!("{method} {path}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(global: &Global, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let dir = std::env::temp_dir().join(format!("host-harness-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let shared_cache: PathBuf = global.data_dir.clone().unwrap_or_else(crate::operator::default_data_dir).join("cache");
    std::fs::create_dir_all(&shared_cache)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(&shared_cache, dir.join("cache"))?;
    let result = measure(&dir, component, rate, seconds).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(dir: &Path, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let humaans = MockHumaans::start(HumaansConfig::default()).await?;
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await?;
    let count = (rate * seconds) as usize;
    let mut people = Vec::with_capacity(count);
    for n in 0..count {
        let email = format!("hire.{n}@acme.test");
        let id = humaans.add_person(Person::new("Hire", &format!("Number{n}"), &email));
        humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
        people.push((id, email));
    }

    progress("serve: starting (no tenants)");
    let serve = start(dir, component, "24h").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty, _) = serve.rss_kib()?;
    progress(format!("serve: connecting {TENANTS} tenants"));
    let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
        "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": "scim-test-token",
        "webhook_secret": SECRET, "scim_rate_limit": 0});
    let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend", "dialect": "leapsome"});
    for t in 0..TENANTS {
        api(&serve, "PUT", &format!("/api/tenants/t{t}/connection"), &connection).await?;
        api(&serve, "PUT", &format!("/api/tenants/t{t}/settings"), &settings).await?;
    }
    leapsome.control().clear_journal();

    progress(format!("serve: {count} webhooks at {rate}/s over {BUSY_TENANTS} tenants"));
    let sent: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let started = Instant::now();
    let mut sends = Vec::with_capacity(count);
    for (n, (id, email)) in people.iter().enumerate() {
        ticker.tick().await;
        let body = delivery(&format!("bench-{n}"), "person.created", id);
        let signature = sign(SECRET, body.as_bytes());
        let (addr, email, sent) = (serve.addr.clone(), email.clone(), sent.clone());
        let path = format!("/webhooks/humaans/t{}", n % BUSY_TENANTS);
        sends.push(tokio::spawn(async move {
            sent.lock().unwrap().insert(email, Instant::now());
            http(&addr, "POST", &path, &[(SIGNATURE_HEADER, &signature)], body.as_bytes()).await.map(|(s, _)| s)
        }));
    }
    let send_s = started.elapsed().as_secs_f64();
    let mut accepted = 0;
    for s in sends {
        if s.await?? == 202 {
            accepted += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while leapsome.control().count("POST") < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.lock().unwrap().clone();
    let mut latencies_ms: Vec<f64> = leapsome
        .control()
        .timed_journal()
        .into_iter()
        .filter(|(_, e)| e.method == "POST" && e.path.ends_with("/Users"))
        .filter_map(|(at, e)| {
            let user: Value = serde_json::from_str(&e.body).ok()?;
            let sent_at = sent.get(user["userName"].as_str()?)?;
            Some(at.duration_since(*sent_at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let written = latencies_ms.len();
    progress(format!(
        "latency: p50 {:.1} ms, p99 {:.1} ms over {written} writes",
        percentile(&latencies_ms, 50.0),
        percentile(&latencies_ms, 99.0)
    ));
    serve.stop().await?;

    progress(format!("serve: restarted on the store of {TENANTS} tenants, idle"));
    let serve = start(dir, component, "24h").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_idle, _) = serve.rss_kib()?;
    serve.stop().await?;

    progress(format!("serve: restarted with --tick-every 2s until all {TENANTS} tenants ticked"));
    let serve = start(dir, component, "2s").await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while serve.metric("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}").await? < TENANTS as f64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ticks = serve.metric("host_harness_calls_total{export=\"tick\",outcome=\"ok\"}").await?;
    let (rss_ticked, hwm_ticked) = serve.rss_kib()?;
    serve.stop().await?;

    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "webhook_latency": {
            "rate_per_s": rate, "webhooks": count, "accepted_202": accepted, "tenants": BUSY_TENANTS,
            "send_s": round(send_s), "scim_writes_seen": written,
            "p50_ms": round(percentile(&latencies_ms, 50.0)), "p90_ms": round(percentile(&latencies_ms, 90.0)),
            "p99_ms": round(percentile(&latencies_ms, 99.0)), "max_ms": round(latencies_ms.last().copied().unwrap_or(0.0)),
            "scim_pacing": "off (scim_rate_limit 0; the mock has no limit)",
        },
        "serve_memory": {
            "tenants": TENANTS,
            "rss_started_no_tenants_mib": round(rss_empty as f64 / 1024.0),
            "rss_idle_mib": round(rss_idle as f64 / 1024.0),
            "rss_after_ticking_all_mib": round(rss_ticked as f64 / 1024.0),
            "peak_rss_while_ticking_mib": round(hwm_ticked as f64 / 1024.0),
            "ticks": ticks,
        },
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(
            (super::percentile(&v, 50.0), super::percentile(&v, 99.0), super::percentile(&v, 100.0)),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(super::percentile(&[7.0], 99.0), 7.0);
    }
}
