//! A `serve` process of this executable on its own data directory, HTTP to it, and the admin API
//! calls that set tenants up.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::bench::common::round3;
use crate::operator::HostConfig;

const ADMIN: &str = "bench-admin-token-9f3e2c71";
pub(super) const SECRET: &str = "bench-webhook-secret";

/// A `serve` process of this executable, started by `start`.
pub(in crate::bench) struct Serve {
    child: tokio::process::Child,
    pub(super) addr: String,
    /// When serve said it was listening (its scheduler starts right after).
    started: Instant,
    /// serve's stderr after the `serving` line, each line with the moment the bench read it.
    logs: mpsc::UnboundedReceiver<(Instant, String)>,
}

/// Starts `serve` on the store in `dir`; `extra`: more serve flags (`--tick-every`, ...).
pub(in crate::bench) async fn start(dir: &Path, component: &Path, extra: &[&str]) -> Result<Serve> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["--data-dir", dir.to_str().context("a UTF-8 path")?, "serve", "--listen", "127.0.0.1:0"])
        .args(["--workers", "4"])
        .args(extra)
        .env("HOST_HARNESS_ADMIN_TOKEN", ADMIN)
        .env("HUMAANS_LEAPSOME_COMPONENT", component)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start serve")?;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("serve did not start in time")??;
        let Some(line) = line else { bail!("serve exited before listening: {}", said.join(" / ")) };
        said.push(line.clone());
        if line.contains("serving")
            && let Some(rest) = line.split("http://").nth(1)
        {
            break rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect::<String>();
        }
    };
    let started = Instant::now();
    // Keep draining stderr so serve never blocks on a full pipe; lines go to whoever reads them.
    let (tx, logs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send((Instant::now(), line));
        }
    });
    Ok(Serve { child, addr, started, logs })
}

impl Serve {
    pub(super) fn rss_kib(&self) -> Result<(u64, u64)> {
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

    pub(in crate::bench) async fn stop(mut self) -> Result<()> {
        let pid = self.child.id().context("serve has exited")?.to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status()?;
        tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await??;
        Ok(())
    }

    pub(in crate::bench) async fn metric(&self, series: &str) -> Result<f64> {
        Ok(crate::serve::metrics::value_of(&self.metrics().await?, series).unwrap_or(0.0))
    }

    pub(in crate::bench) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, String)> {
        http(&self.addr, method, path, headers, body).await
    }

    pub(in crate::bench) async fn api(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        api(&self.addr, method, path, body).await
    }

    /// Up to `n` warning lines serve has logged and nobody has read yet (to explain a failed run).
    pub(in crate::bench) fn drain_warnings(&mut self, n: usize) -> Vec<String> {
        let mut warnings = Vec::new();
        while let Ok((_, line)) = self.logs.try_recv() {
            if warnings.len() < n && line.contains("warn") {
                warnings.push(line);
            }
        }
        warnings
    }

    pub(super) async fn metrics(&self) -> Result<String> {
        let (status, text) = http(&self.addr, "GET", "/metrics", &[], b"").await?;
        if status != 200 {
            bail!("GET /metrics: HTTP {status}");
        }
        Ok(text)
    }

    /// Reads serve's JSON log until every one of `tenants` has logged `message` with
    /// `fields_ok` true, or `limit` passed. Returns the seconds since serve started listening when
    /// the last one did (`None` if not all did), the tenants seen and the warnings logged.
    pub(super) async fn round(
        &mut self,
        message: &str,
        tenants: &HashSet<String>,
        limit: Duration,
        fields_ok: impl Fn(&Value) -> bool,
    ) -> Round {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = HashSet::new();
        let mut warnings = Vec::new();
        let mut last = None;
        while seen.len() < tenants.len() {
            let Ok(Some((at, line))) = tokio::time::timeout_at(deadline, self.logs.recv()).await else { break };
            let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
            if entry["level"] == "warn" {
                if warnings.len() < 5 {
                    warnings.push(line.clone());
                }
                continue;
            }
            let Some(tenant) = entry["tenant"].as_str() else { continue };
            if entry["msg"] == message
                && tenants.contains(tenant)
                && fields_ok(&entry)
                && seen.insert(tenant.to_owned())
            {
                last = Some(at);
            }
        }
        let complete = seen.len() == tenants.len();
        Round {
            wall_s: last.filter(|_| complete).map(|at| at.duration_since(self.started).as_secs_f64()),
            tenants_seen: seen.len(),
            warnings,
        }
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
pub(super) async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String)> {
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

/// An admin-API call with the bench's admin token (`ADMIN`); anything but 200 is an error.
async fn api(addr: &str, method: &str, path: &str, body: &Value) -> Result<Value> {
    let auth = format!("Bearer {ADMIN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, text) = http(addr, method, path, &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        bail!("{method} {path}: HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A fresh data directory for one serve run, sharing the compiled-component cache (no recompiling).
pub(super) fn scratch_dir(global: &HostConfig, name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("host-harness-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let shared_cache: PathBuf = global.data_dir.clone().unwrap_or_else(crate::operator::default_data_dir).join("cache");
    std::fs::create_dir_all(&shared_cache)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(&shared_cache, dir.join("cache"))?;
    Ok(dir)
}

/// Connects and configures `t{n}` through the admin API, `parallel` tenants at a time.
pub(super) async fn connect_all(serve: &Serve, connections: Vec<(String, Value)>, parallel: usize) -> Result<()> {
    let settings = json!({"provisioning": "immediately", "deprovisioning": "suspend", "dialect": "leapsome"});
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut set = tokio::task::JoinSet::new();
    for (tenant, connection) in connections {
        let (addr, settings, gate) = (serve.addr.clone(), settings.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            api(&addr, "PUT", &format!("/api/tenants/{tenant}/connection"), &connection).await?;
            api(&addr, "PUT", &format!("/api/tenants/{tenant}/settings"), &settings).await?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

/// One scheduler round as serve's log showed it.
pub(super) struct Round {
    /// Seconds from serve listening to the last tenant's line; `None`: not every tenant in time.
    pub(super) wall_s: Option<f64>,
    pub(super) tenants_seen: usize,
    /// The first warnings serve logged (refused or failed calls).
    pub(super) warnings: Vec<String>,
}

impl Round {
    pub(super) fn to_json(&self) -> Value {
        json!({"wall_s": self.wall_s.map(round3), "tenants_done": self.tenants_seen, "warnings": self.warnings})
    }
}
