//! Checkpoints for the native profiling harness (`examples/native_sync.rs`), which registers a
//! hook to print the heap in use at each. In wasm a mark compiles to nothing.

#[cfg(not(target_arch = "wasm32"))]
static HOOK: std::sync::OnceLock<fn(&'static str)> = std::sync::OnceLock::new();

/// Calls `hook` at every [`mark`] of this process (the first registration wins).
#[cfg(not(target_arch = "wasm32"))]
pub fn set_hook(hook: fn(&'static str)) {
    let _ = HOOK.set(hook);
}

/// A named point in a long call, e.g. "sync: people read".
#[inline(always)]
pub fn mark(_label: &'static str) {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(hook) = HOOK.get() {
        hook(_label);
    }
}
