//! The rate-limited run: an initial sync under Leapsome's 30 requests/s, enforced by the mock.

use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::civil::Date;

use super::common::progress;
use super::rig::{CpuDeadline, Rig, Timed, timed_sync};
use crate::{MemoryStorage, Runtime};

/// Leapsome's documented limit, enforced by the mock in the rate-limited run.
pub(super) const LEAPSOME_RATE: u32 = 30;

#[derive(Debug, Clone)]
pub(super) struct RateLimited {
    pub(super) employees: usize,
    pub(super) run: Option<Timed>,
}

impl RateLimited {
    /// SCIM requests Leapsome accepted (429s excluded): the ones that had to fit in the limit.
    pub(super) fn accepted(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.requests.leapsome_total() - r.requests.leapsome_with_status(429))
    }

    pub(super) fn ideal_s(&self) -> f64 {
        self.accepted() as f64 / f64::from(LEAPSOME_RATE)
    }

    pub(super) fn http_429(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.requests.leapsome_with_status(429))
    }
}

pub(super) async fn rate_limited_run(runtime: &Arc<Runtime>, employees: usize, today: Date) -> Result<RateLimited> {
    if employees == 0 {
        return Ok(RateLimited { employees, run: None });
    }
    let rig = Rig::start(
        runtime,
        employees,
        today,
        "bench-rate-limited",
        None,
        Arc::new(MemoryStorage::new()),
        CpuDeadline::Generous,
    )
    .await?;
    rig.leapsome.control().set_rate_limit(Some(LEAPSOME_RATE), Some(1));
    progress(format!("rate-limited initial sync of {employees} people ({LEAPSOME_RATE} requests/s)"));
    let run = timed_sync(&rig).await.context("rate-limited sync")?;
    rig.leapsome.control().set_rate_limit(None, None);
    let r = RateLimited { employees, run: Some(run) };
    progress(format!(
        "rate-limited sync: {:.1} s for {} SCIM requests (ideal {:.1} s), {} answered 429",
        r.run.as_ref().map_or(0.0, |t| t.wall_s),
        r.accepted(),
        r.ideal_s(),
        r.http_429()
    ));
    Ok(r)
}
