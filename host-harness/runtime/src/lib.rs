//! The embeddable host: what a platform links to run integration components for many tenants.
//!
//! One wasmtime engine, one pre-instantiated component per integration ([`Runtime`]), a fresh
//! sandboxed instance per call ([`TenantPlugin`]), each call under its tenant's policy
//! ([`Tenant`]: egress allow-list, memory, CPU, storage quota), with the host's own
//! `wasi:keyvalue` over a [`Storage`] backend (memory, SQLite, PostgreSQL; leases and the work
//! queue live there too) and tenant secrets sealed at rest ([`SealedStorage`]).
//!
//! Layers, each using only those listed before it: `ip_registry`; `storage` (and its backends),
//! `tenant`; `egress`, `http_policy`; `host_state`; `bindings`, `quota`, `keyvalue`; `cache`,
//! `runtime`; `plugin`; `sealed` (over `storage`). Nothing here knows about a command line,
//! an HTTP server or the programs built on it. See ARCHITECTURE.md.

mod bindings;
pub mod cache;
pub mod egress;
pub mod host_state;
pub mod http_policy;
pub mod ip_registry;
mod keyvalue;
pub mod plugin;
mod quota;
pub mod runtime;
pub mod sealed;
pub mod storage;
pub mod tenant;

pub use plugin::{CallError, TenantPlugin, api};
pub use runtime::{PoolSize, Runtime};
pub use sealed::{HostKey, KeySource, SealedStorage};
pub use storage::{Fenced, Lease, LeaseStore, MemoryStorage, PgStorage, SqliteStorage, Storage, Usage};
pub use tenant::{AllowedHost, Scheme, Tenant, TenantStats};
