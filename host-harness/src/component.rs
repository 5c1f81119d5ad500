//! Finding the built component. Tests and the CLI build it once with cargo (a no-op when it is up
//! to date), so a fresh clone needs no separate build step.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The workspace root (the directory holding `wit/` and the component crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("host-harness lives in the workspace").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// Where compiled (native code) forms of the component are cached.
pub fn default_cache_dir() -> PathBuf {
    target_dir().join("component-cache")
}

/// The component file: `$HUMAANS_LEAPSOME_COMPONENT` if set, otherwise built from the workspace
/// with `cargo build --target wasm32-wasip2 --profile component` (once per process).
pub fn component_path() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(path) = std::env::var_os("HUMAANS_LEAPSOME_COMPONENT") {
        return Ok(PathBuf::from(path));
    }
    BUILT.get_or_init(|| build().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
}

fn build() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "humaans-leapsome", "--target", "wasm32-wasip2", "--profile", "component"])
        .status()
        .context("cannot run cargo to build the component")?;
    if !status.success() {
        bail!("building the component failed ({status})");
    }
    let path = target_dir().join("wasm32-wasip2/component/humaans_leapsome.wasm");
    if !path.exists() {
        bail!("the component build did not produce {}", path.display());
    }
    Ok(path)
}
