//! A lease as the store hands it out, and the refusal of a write made under one that is no
//! longer current. Below both the lease store (`lease.rs`) and the work queue (`queue.rs`).

/// A held lease. `token` grows with every acquisition of any tenant's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub tenant: String,
    pub holder: String,
    pub token: i64,
}

/// A write refused because its lease is no longer the tenant's current one (expired, released,
/// or taken over). Find it with `error.downcast_ref::<Fenced>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    pub tenant: String,
    pub token: i64,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "write refused: lease token {} is no longer the current lease of tenant `{}` (expired or taken over)",
            self.token, self.tenant
        )
    }
}

impl std::error::Error for Fenced {}
