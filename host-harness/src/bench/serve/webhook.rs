//! Webhook → Leapsome write latency through serve (`--webhooks-per-second`), and serve's memory
//! with 100 tenants in its store (`--serve`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::process::{SECRET, connect_all, http, scratch_dir, start};
use crate::bench::common::progress;
use crate::operator::HostConfig;
use mock_servers::humaans::webhook::{SIGNATURE_HEADER, delivery, sign};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

const TENANTS: usize = 100;
/// Tenants that receive webhooks in the latency run (the rate is spread over them).
const BUSY_TENANTS: usize = 10;

/// `bench --serve`: webhook latency, then serve's memory on the store those 100 tenants left.
pub async fn run(global: &HostConfig, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let dir = scratch_dir(global, "serve")?;
    let result = async {
        let mut latency = webhook_latency(&dir, component, rate, seconds).await?;
        let mut memory = serve_memory(&dir, component).await?;
        if let Some(v) = latency.as_object_mut().and_then(|o| o.remove("rss_started_no_tenants_mib")) {
            memory["rss_started_no_tenants_mib"] = v;
        }
        Ok(json!({"webhook_latency": latency, "serve_memory": memory}))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The webhook latency run alone (for `bench --webhooks-per-second R`).
pub async fn webhook(global: &HostConfig, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
    let dir = scratch_dir(global, "webhook")?;
    let result = webhook_latency(&dir, component, rate, seconds).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn webhook_latency(dir: &Path, component: &Path, rate: u32, seconds: u32) -> Result<Value> {
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
    let serve = start(dir, component, &["--tick-every", "24h"]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty, _) = serve.rss_kib()?;
    progress(format!("serve: connecting {TENANTS} tenants"));
    let connection = json!({"humaans_url": humaans.base_url(), "scim_url": leapsome.base_url(),
        "humaans_token": mock_servers::humaans::DEFAULT_TOKEN, "scim_token": "scim-test-token",
        "webhook_secret": SECRET, "scim_rate_limit": 0});
    connect_all(&serve, (0..TENANTS).map(|t| (format!("t{t}"), connection.clone())).collect(), 1).await?;
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
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "rate_per_s": rate, "webhooks": count, "accepted_202": accepted, "tenants": BUSY_TENANTS,
        "send_s": round(send_s), "scim_writes_seen": written,
        "p50_ms": round(percentile(&latencies_ms, 50.0)), "p90_ms": round(percentile(&latencies_ms, 90.0)),
        "p99_ms": round(percentile(&latencies_ms, 99.0)), "max_ms": round(latencies_ms.last().copied().unwrap_or(0.0)),
        "rss_started_no_tenants_mib": round(rss_empty as f64 / 1024.0),
        "scim_pacing": "off (scim_rate_limit 0; the mock has no limit)",
    }))
}

/// serve's resident set on the store of the latency run's 100 tenants: idle, then ticking.
async fn serve_memory(dir: &Path, component: &Path) -> Result<Value> {
    progress(format!("serve: restarted on the store of {TENANTS} tenants, idle"));
    let serve = start(dir, component, &["--tick-every", "24h"]).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_idle, _) = serve.rss_kib()?;
    serve.stop().await?;

    progress(format!("serve: restarted with --tick-every 2s until all {TENANTS} tenants ticked"));
    let serve = start(dir, component, &["--tick-every", "2s"]).await?;
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
        "tenants": TENANTS,
        "rss_idle_mib": round(rss_idle as f64 / 1024.0),
        "rss_after_ticking_all_mib": round(rss_ticked as f64 / 1024.0),
        "peak_rss_while_ticking_mib": round(hwm_ticked as f64 / 1024.0),
        "ticks": ticks,
    }))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
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
