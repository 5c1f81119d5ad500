//! Calling the component for one tenant: each call gets a fresh store and instance, bounded by
//! the tenant's CPU deadline, memory limit and call timeout. A misbehaving call ends in a typed
//! `CallError` for that call only.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use wasmtime::Store;

use crate::runtime::{HostState, Runtime};
use crate::storage::{LeaseClock, Storage};
use crate::tenant::{Tenant, TenantStats};

/// The component's own types (generated from `wit/world.wit`).
pub use crate::bindings::exports::humaans::integration::integration as api;

/// Why a call did not return a value of the component's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The guest ran longer than the tenant's CPU deadline.
    CpuDeadlineExceeded,
    /// The guest tried to grow its memory past the tenant's limit.
    MemoryLimitExceeded,
    /// The call took longer than the tenant's call timeout (host I/O included).
    TimedOut,
    /// The guest trapped (a bug in the component).
    Trapped(String),
    /// The host could not create an instance (e.g. the pool is exhausted).
    Instantiation(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::CpuDeadlineExceeded => f.write_str("the component exceeded its CPU deadline"),
            CallError::MemoryLimitExceeded => f.write_str("the component exceeded its memory limit"),
            CallError::TimedOut => f.write_str("the call exceeded its time limit"),
            CallError::Trapped(why) => write!(f, "the component trapped: {why}"),
            CallError::Instantiation(why) => write!(f, "cannot instantiate the component: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

pub use crate::host_state::Run;

/// The component as one tenant sees it.
#[derive(Clone)]
pub struct TenantPlugin {
    runtime: Arc<Runtime>,
    storage: Arc<dyn Storage>,
    tenant: Arc<Tenant>,
    stats: Arc<TenantStats>,
    /// Set for calls made under a lease (`serve`): outbound writes stop when it runs out.
    lease: Option<Arc<LeaseClock>>,
    /// The run the calls belong to; `None`: the component names each call a run of its own.
    run: Option<Arc<Run>>,
}

type CallResult<T> = Result<Result<T, api::IntegrationError>, CallError>;

macro_rules! call_export {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {{
        // Waiting for one of the tenant's instance slots counts against the call's time.
        let deadline = tokio::time::Instant::now() + $self.tenant.call_timeout;
        let _slot = $self.slot(deadline).await?;
        let (mut store, instance) = $self.instantiate().await?;
        let future = instance.humaans_integration_integration().$method(&mut store, $($arg),*);
        let outcome = tokio::time::timeout_at(deadline, future).await;
        $self.finish(&store, outcome)
    }};
}

/// One of the tenant's instance slots, held for a call; counted in the tenant's stats.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    stats: Arc<TenantStats>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.instances_in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

impl TenantPlugin {
    pub fn new(runtime: Arc<Runtime>, storage: Arc<dyn Storage>, tenant: Tenant) -> Self {
        TenantPlugin { runtime, storage, tenant: Arc::new(tenant), stats: Arc::default(), lease: None, run: None }
    }

    /// The same tenant, its calls part of `run` (their log entries carry its id and trigger).
    pub fn in_run(&self, run: Run) -> TenantPlugin {
        TenantPlugin { run: Some(Arc::new(run)), ..self.clone() }
    }

    /// The run the calls belong to, if one was given.
    pub fn run(&self) -> Option<&Run> {
        self.run.as_deref()
    }

    /// The same tenant (limits, counters) for calls made under a lease: `storage` is the store
    /// fenced by the lease, and outbound writes stop once `lease` runs out.
    pub fn leased(&self, storage: Arc<dyn Storage>, lease: Arc<LeaseClock>) -> TenantPlugin {
        TenantPlugin { storage, lease: Some(lease), ..self.clone() }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Counters of everything this tenant's calls did.
    pub fn stats(&self) -> &TenantStats {
        &self.stats
    }

    pub async fn connect(&self, connection: &api::Connection) -> CallResult<api::ConnectReport> {
        call_export!(self, call_connect(connection))
    }

    pub async fn configure(&self, settings: &api::Settings) -> CallResult<()> {
        call_export!(self, call_configure(settings))
    }

    pub async fn on_employee_event(&self, event: &api::EmployeeEvent) -> CallResult<api::EventOutcome> {
        call_export!(self, call_on_employee_event(event))
    }

    pub async fn sync_all(&self, options: api::SyncOptions) -> CallResult<api::SyncReport> {
        call_export!(self, call_sync_all(&options))
    }

    pub async fn tick(&self, now: &str) -> CallResult<api::TickReport> {
        call_export!(self, call_tick(now))
    }

    pub async fn read_logs(&self, query: &api::LogQuery) -> CallResult<api::LogPage> {
        call_export!(self, call_read_logs(query))
    }

    pub async fn retry(&self, person_id: &str) -> CallResult<()> {
        call_export!(self, call_retry(person_id))
    }

    pub async fn approve_deprovisions(&self, person_id: Option<&str>) -> CallResult<api::ApprovalReport> {
        call_export!(self, call_approve_deprovisions(person_id))
    }

    pub async fn status(&self) -> CallResult<api::StatusReport> {
        call_export!(self, call_status())
    }

    /// Provision on demand: one person through every step now (or with `dry_run`, the plan),
    /// answered as a trace of each step.
    pub async fn provision_person(&self, person_id: &str, dry_run: bool) -> CallResult<api::ProvisionTrace> {
        call_export!(self, call_provision_person(person_id, dry_run))
    }

    /// Checks and reads a raw webhook delivery (headers, body) for this tenant.
    pub async fn handle_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Result<api::WebhookAccepted, api::WebhookRefusal>, CallError> {
        call_export!(self, call_handle_webhook(headers, body))
    }

    /// Creates this tenant's store and instance and drops them without calling anything: the
    /// fixed cost every call pays before the guest runs (the benchmark times it).
    pub async fn instantiate_only(&self) -> Result<(), CallError> {
        let _slot = self.slot(tokio::time::Instant::now() + self.tenant.call_timeout).await?;
        self.instantiate().await.map(drop)
    }

    /// Waits (until `deadline`) for one of the tenant's `max_instances` slots.
    async fn slot(&self, deadline: tokio::time::Instant) -> Result<Slot, CallError> {
        let slots = self.runtime.tenant_slots(&self.tenant);
        let permit = match tokio::time::timeout_at(deadline, slots.acquire_owned()).await {
            Err(_) => return Err(CallError::TimedOut),
            Ok(permit) => permit.map_err(|_| CallError::Instantiation("the tenant's slots are closed".into()))?,
        };
        let now = self.stats.instances_in_use.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.peak_instances.fetch_max(now, Ordering::Relaxed);
        Ok(Slot { _permit: permit, stats: self.stats.clone() })
    }

    async fn instantiate(&self) -> Result<(Store<HostState>, crate::bindings::Provisioning), CallError> {
        let started = std::time::Instant::now();
        let mut store = self.runtime.new_store(
            self.tenant.clone(),
            self.stats.clone(),
            self.storage.clone(),
            self.lease.clone(),
            self.run.as_deref(),
        );
        let pre = self.runtime.pre(&self.tenant.integration).ok_or_else(|| {
            CallError::Instantiation(format!(
                "no integration named `{}` is loaded (loaded: {})",
                self.tenant.integration,
                self.runtime.integrations().join(", ")
            ))
        })?;
        let instance =
            pre.instantiate_async(&mut store).await.map_err(|e| CallError::Instantiation(format!("{e:#}")))?;
        self.runtime.instantiations().record(started.elapsed());
        Ok((store, instance))
    }

    fn finish<T>(
        &self,
        store: &Store<HostState>,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let state = store.data();
        self.stats.peak_memory_bytes.fetch_max(state.limiter.peak as u64, Ordering::Relaxed);
        match outcome {
            Err(_) => Err(CallError::TimedOut),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) if state.limiter.hit => Err(CallError::MemoryLimitExceeded),
            Ok(Err(e)) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) => {
                Err(CallError::CpuDeadlineExceeded)
            }
            Ok(Err(e)) => Err(CallError::Trapped(format!("{e:#}"))),
        }
    }
}
