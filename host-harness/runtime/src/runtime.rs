//! One engine for the whole process, one compiled component and `InstancePre` per integration
//! (a platform runs several side by side; each tenant's calls go to the integration it names), a
//! fresh `Store` and instance for every call. Per-call state (`HostState`) carries the tenant's
//! policy.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};
use wasmtime_wasi::{HostWallClock, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::ProvisioningPre;
use crate::cache::CacheOutcome;
pub use crate::host_state::HostState;
use crate::host_state::TenantLimiter;
use crate::http_policy::TenantHttpHooks;
use crate::storage::Storage;
use crate::tenant::{Tenant, TenantStats};

/// How often the epoch advances; the CPU deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Host resources (handles: buckets, requests, header maps, streams, pollables, ...) one call may
/// hold at once. They live in host memory, outside the guest's memory limit, so they are capped
/// here; the component needs well under a hundred (eight requests in flight).
pub const MAX_RESOURCES_PER_CALL: usize = 4096;
/// Largest header map a guest may build (`wasi:http` fields). With the resource cap this bounds
/// what a call can hold in host memory through headers to 128 MiB.
pub const MAX_GUEST_FIELDS_BYTES: usize = 32 * 1024;

/// Sizes of the pooling allocator. Small on purpose: the defaults reserve terabytes of address
/// space, which CI machines refuse.
#[derive(Debug, Clone)]
pub struct PoolSize {
    /// Instances that may be alive at once (concurrent calls).
    pub instances: u32,
    /// Largest linear memory of any instance; tenants' own limits are at most this.
    pub max_memory_bytes: usize,
}

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize { instances: 64, max_memory_bytes: 512 * 1024 * 1024 }
    }
}

/// A wall clock frozen at one instant, for tests and demos that drive time themselves.
struct FixedClock(Duration);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// Upper bounds (seconds) of the instantiation histogram's buckets.
pub const INSTANTIATE_BUCKETS: [f64; 9] = [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 25e-3];

/// How long creating a store and instance took, over every call of the process (`/metrics`).
#[derive(Default)]
pub struct InstantiateTimes {
    /// Cumulative: calls that took at most `INSTANTIATE_BUCKETS[i]`.
    buckets: [AtomicU64; INSTANTIATE_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

/// A snapshot of [`InstantiateTimes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstantiateSnapshot {
    pub buckets: [u64; INSTANTIATE_BUCKETS.len()],
    pub count: u64,
    pub sum_s: f64,
}

impl InstantiateTimes {
    pub fn record(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(INSTANTIATE_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(took.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> InstantiateSnapshot {
        InstantiateSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
            sum_s: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

pub use crate::tenant::DEFAULT_INTEGRATION;

/// One integration component, compiled and linked once for every call of every tenant using it.
struct Integration {
    pre: ProvisioningPre<HostState>,
    cache_outcome: CacheOutcome,
}

/// The process-wide part of the host.
pub struct Runtime {
    engine: Engine,
    /// The host's capabilities (WASI, HTTP, keyvalue), shared by every integration.
    linker: Linker<HostState>,
    /// Integration name -> its pre-instantiated component.
    integrations: RwLock<HashMap<String, Arc<Integration>>>,
    ticker_stop: Arc<AtomicBool>,
    /// One semaphore per tenant id: the pool instances that tenant's calls may hold at once.
    tenant_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Store + instance creation time of every call.
    instantiations: InstantiateTimes,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Compiles (or loads from `cache_dir`) the component at `component_path` and links it as the
    /// default integration ([`DEFAULT_INTEGRATION`]).
    pub fn new(component_path: &Path, cache_dir: Option<&Path>, pool: PoolSize) -> Result<Self> {
        let runtime = Runtime::empty(pool)?;
        runtime.add_integration(DEFAULT_INTEGRATION, component_path, cache_dir)?;
        Ok(runtime)
    }

    /// An engine and the host's capabilities, with no integration yet ([`Runtime::add_integration`]).
    pub fn empty(pool: PoolSize) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(pool.instances)
            .total_core_instances(pool.instances * 4)
            .total_memories(pool.instances * 2)
            .total_tables(pool.instances * 4)
            .total_stacks(pool.instances)
            .max_memory_size(pool.max_memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = wt(Engine::new(&config)).context("cannot create the wasm engine")?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wt(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        wt(wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))?;
        {
            use crate::bindings::keyvalue::wasi::keyvalue::{atomics, batch, store};
            wt(store::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;
            wt(atomics::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;
            wt(batch::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))?;
        }
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.weak(), ticker_stop.clone());
        Ok(Runtime {
            engine,
            linker,
            integrations: RwLock::default(),
            ticker_stop,
            tenant_slots: Mutex::default(),
            instantiations: InstantiateTimes::default(),
        })
    }

    /// Compiles (or loads from `cache_dir`) another integration component and links it under
    /// `name`; tenants whose [`Tenant::integration`] is `name` call it. It shares the engine,
    /// the instance pool and every limit with the others. Replaces an integration of that name.
    pub fn add_integration(&self, name: &str, component_path: &Path, cache_dir: Option<&Path>) -> Result<()> {
        let (component, cache_outcome) = crate::cache::load(&self.engine, component_path, cache_dir)?;
        let pre = wt(self.linker.instantiate_pre(&component).and_then(ProvisioningPre::new)).with_context(|| {
            format!(
                "the component {} does not implement the humaans:integration/provisioning world",
                component_path.display()
            )
        })?;
        let mut integrations = self.integrations.write().unwrap_or_else(|e| e.into_inner());
        integrations.insert(name.to_owned(), Arc::new(Integration { pre, cache_outcome }));
        Ok(())
    }

    /// The names of the integrations loaded, sorted.
    pub fn integrations(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.integrations.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }

    /// What loading the default integration's compiled component did (compiled, loaded from the
    /// cache, recompiled).
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.integration(DEFAULT_INTEGRATION).map_or(CacheOutcome::Uncached, |i| i.cache_outcome.clone())
    }

    fn integration(&self, name: &str) -> Option<Arc<Integration>> {
        self.integrations.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Store + instance creation time of every call of this process so far.
    pub fn instantiations(&self) -> &InstantiateTimes {
        &self.instantiations
    }

    /// The pre-instantiated component of the integration `name`; `None` when none is loaded.
    pub(crate) fn pre(&self, name: &str) -> Option<ProvisioningPre<HostState>> {
        self.integration(name).map(|i| i.pre.clone())
    }

    /// The tenant's share of the pool: `max_instances` permits, made at its first call.
    pub(crate) fn tenant_slots(&self, tenant: &Tenant) -> Arc<Semaphore> {
        let mut slots = self.tenant_slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(tenant.id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(tenant.max_instances as usize)))
            .clone()
    }

    /// A store for one call of `tenant`, with its limits, clock, HTTP policy and storage.
    pub(crate) fn new_store(
        &self,
        tenant: Arc<Tenant>,
        stats: Arc<TenantStats>,
        storage: Arc<dyn Storage>,
        lease: Option<Arc<crate::storage::LeaseClock>>,
        run: Option<&crate::host_state::Run>,
    ) -> Store<HostState> {
        let mut wasi = WasiCtxBuilder::new();
        // The contract's run context (`wit/world.wit`): the only variables the guest sees.
        if let Some(run) = run {
            wasi.env("INTEGRATION_RUN_ID", &run.id);
            wasi.env("INTEGRATION_RUN_TRIGGER", &run.trigger);
        }
        if let Some(at) = tenant.fixed_clock {
            wasi.wall_clock(FixedClock(at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()));
        }
        let cpu_limit_ticks = (tenant.cpu_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_GUEST_FIELDS_BYTES);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES_PER_CALL);
        let state = HostState {
            wasi: wasi.build(),
            http,
            hooks: TenantHttpHooks { tenant: tenant.clone(), stats: stats.clone(), sent: 0, lease },
            table,
            storage,
            limiter: TenantLimiter { limit: tenant.memory_limit_bytes, peak: 0, hit: false },
            tenant,
            stats,
            cpu_ticks: 0,
            usage: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        // Each tick observed while running wasm counts against the CPU deadline and yields to
        // the executor, so one tenant's busy loop cannot starve the others.
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            state.cpu_ticks += 1;
            if state.cpu_ticks > cpu_limit_ticks {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

fn spawn_epoch_ticker(engine: wasmtime::EngineWeak, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .expect("spawn the epoch ticker");
}

/// wasmtime's error type is its own (not anyhow's); convert at the boundary.
fn wt<T>(result: wasmtime::Result<T>) -> Result<T> {
    result.map_err(anyhow::Error::from)
}
