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
