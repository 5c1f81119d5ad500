//! The host harness: a wasmtime host that loads the provisioning component per tenant, supplies
//! HTTP and storage under the tenant's policy, and drives it. See ARCHITECTURE.md for the map.

pub mod bench;
pub mod cli;
pub mod component;
pub mod demo;
pub mod leased;
pub mod mock_cmd;
pub mod notify;
pub mod operator;
pub mod serve;

// The embeddable host (crate host-runtime), under the paths this crate has always had.
pub use host_runtime::{AllowedHost, Scheme, Tenant, TenantStats};
pub use host_runtime::{CallError, Run, TenantPlugin, api};
pub use host_runtime::{Fenced, Lease, LeaseStore, MemoryStorage, PgStorage, SqliteStorage, Storage, Usage};
pub use host_runtime::{HostKey, KeySource, SealedStorage};
pub use host_runtime::{PoolSize, Runtime};
pub use host_runtime::{cache, egress, host_state, http_policy, ip_registry, plugin, runtime, sealed, storage, tenant};
