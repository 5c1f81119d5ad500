//! What the binary's test suites (`cli.rs`, `serve/`) share: the component, and its compiled form
//! cached once so no process under test has to compile it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use host_harness::{PoolSize, Runtime};

pub fn component() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| host_harness::component::component_path().expect("the component builds"))
}

/// The workspace's cache of compiled components, holding the form the binary's engine loads (made
/// here once, or found there from an earlier run).
pub fn warm_cache() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = host_harness::component::default_cache_dir();
        Runtime::new(component(), Some(&dir), PoolSize::default()).expect("the component loads");
        dir
    })
}
