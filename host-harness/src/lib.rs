//! The host harness: a wasmtime host that loads the provisioning component per tenant, supplies
//! HTTP and storage under the tenant's policy, and drives it. See ARCHITECTURE.md for the map.

pub mod bench;
mod bench_scale;
mod bench_serve;
mod bindings;
pub mod cache;
pub mod cli;
pub mod component;
pub mod demo;
pub mod egress;
pub mod http_policy;
mod keyvalue;
pub mod leased;
pub mod mock_cmd;
pub mod operator;
pub mod plugin;
mod quota;
pub mod runtime;
pub mod sealed;
pub mod serve;
pub mod storage;
pub mod tenant;

pub use plugin::{CallError, TenantPlugin, api};
pub use runtime::{PoolSize, Runtime};
pub use sealed::{HostKey, KeySource, SealedStorage};
pub use storage::{Fenced, Lease, LeaseStore, MemoryStorage, PgStorage, SqliteStorage, Storage, Usage};
pub use tenant::{AllowedHost, Scheme, Tenant, TenantStats};
