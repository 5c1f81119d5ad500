//! The per-call store data (`HostState`): the tenant's policy, storage and counters for one call
//! of one instance. Below everything that serves the guest (keyvalue, quota, HTTP hooks) and the
//! runtime that makes it, so none of them needs the others to name it.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::http_policy::TenantHttpHooks;
use crate::storage::{Storage, Usage};
use crate::tenant::{Tenant, TenantStats};

/// The per-call store data.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: TenantHttpHooks,
    pub(crate) table: ResourceTable,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) stats: Arc<TenantStats>,
    pub(crate) limiter: TenantLimiter,
    /// Epoch ticks the guest has spent executing wasm in this call.
    pub(crate) cpu_ticks: u64,
    /// The tenant's storage use as this call knows it (for the quota).
    pub(crate) usage: Option<Usage>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Enforces the tenant's memory limit and remembers the peak and whether the limit was hit
/// (so a trap after a refused `memory.grow` is reported as the memory limit, not a bare trap).
pub(crate) struct TenantLimiter {
    pub(crate) limit: usize,
    pub(crate) peak: usize,
    pub(crate) hit: bool,
}

impl wasmtime::ResourceLimiter for TenantLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmtime::Error> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmtime::Error> {
        Ok(desired <= 100_000)
    }
}

/// A run: what a host calls one sync, tick, event, provision or operator command (which may be
/// several calls), named in every log entry the calls write. `trigger` says what started it:
/// `webhook:<event id>`, `schedule`, `cli`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub trigger: String,
}

impl Run {
    /// A new run with a fresh id: `run-` and 16 hex digits of the time and a per-process random
    /// seed (unique enough to tell runs apart; not a secret).
    pub fn new(trigger: impl Into<String>) -> Run {
        use std::hash::BuildHasher;
        use std::sync::atomic::AtomicU64;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mixed = SEED.get_or_init(Default::default).hash_one((nanos, n));
        Run { id: format!("run-{:08x}{:08x}", (nanos / 1_000_000_000) as u32, mixed as u32), trigger: trigger.into() }
    }
}
