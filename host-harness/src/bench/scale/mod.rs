//! `host-harness bench --scale-out`: several `serve` processes on one PostgreSQL.
//!
//! - The store's share of per-call latency, SQLite against PostgreSQL: the component runs in this
//!   process over each store (wrapped to time every storage call) for `on-employee-event` and a
//!   steady `sync-all`.
//! - Throughput of 1 against N processes on one PostgreSQL: tenant syncs per minute (the
//!   scheduler's `sync-all`s while every tenant is due every 200 ms) and webhooks per second
//!   (signed deliveries spread over the processes, from the first send until all are applied).
//!
//! PostgreSQL is the one `--store` names, else a throw-away server from the machine's binaries.
//! Numbers are measured and printed, never asserted.
//!
//! `org` (one tenant's mocks) is below `store_share` and `throughput`.

mod org;
mod store_share;
mod throughput;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::Runtime;
use crate::operator::HostConfig;
use crate::storage::pg_testing::TestPg;
use store_share::store_share;
use throughput::throughput;

pub async fn run(global: &HostConfig, runtime: Arc<Runtime>, component: &Path, processes: usize) -> Result<Value> {
    let (_server, url) = match global.store.as_deref().filter(|s| s.starts_with("postgres")) {
        Some(url) => (None, url.to_owned()),
        None => {
            let pg = TestPg::start().context("no PostgreSQL: pass --store postgres://… or install PostgreSQL")?;
            let url = pg.url.clone();
            (Some(pg), url)
        }
    };
    let dir = std::env::temp_dir().join(format!("hh-bench-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = async {
        let latency = store_share(&runtime, &dir, &url).await?;
        let throughput = throughput(&dir, component, &url, processes).await?;
        Ok::<_, anyhow::Error>(json!({"store_share": latency, "throughput": throughput}))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
