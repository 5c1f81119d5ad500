//! The component built into the host binary by this crate's build script (`build.rs`), with the
//! workspace's `cargo metadata` for the package fields it is stamped with. Both are empty when
//! built with `HOST_HARNESS_EMBED=0`.

/// The component, as `cargo build --profile component` made it.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/component.wasm"));
/// `cargo metadata --no-deps` of the workspace at build time.
pub const METADATA: &str = include_str!(concat!(env!("OUT_DIR"), "/package.json"));
