//! Humaans -> Leapsome provisioning, as a WASI 0.2 component. See ARCHITECTURE.md.

#[cfg(target_arch = "wasm32")]
pub mod adapters;
pub mod app;
pub mod bindings;
pub mod client;
pub mod error;
#[cfg(target_arch = "wasm32")]
mod guest;
pub mod humaans;
pub mod ids;
pub mod json;
pub mod logs;
pub mod ports;
pub mod probe;
pub mod reconcile;
pub mod scim;
pub mod scim_groups;
pub mod state;
pub mod url;
pub mod webhook;
