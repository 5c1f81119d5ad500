//! Finding the built component. Tests and the CLI build it once with cargo (a no-op when it is up
//! to date), so a fresh clone needs no separate build step. What they load is the shipped form:
//! cargo's output with its package metadata added (`target/package/humaans-leapsome.wasm`).

use std::path::{Path, PathBuf};
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

/// Where the shipped artefacts go: the component with its metadata, and the binary WIT package.
pub fn package_dir() -> PathBuf {
    target_dir().join("package")
}

/// The component built into this binary (crate `embedded-component`, its `build.rs`); empty when
/// built with `HOST_HARNESS_EMBED=0`.
pub const EMBEDDED: &[u8] = embedded_component::COMPONENT;
/// `cargo metadata` of the workspace at build time (the component crate's package fields).
const EMBEDDED_METADATA: &str = embedded_component::METADATA;

/// The component file: `$HUMAANS_LEAPSOME_COMPONENT` if set; otherwise the component built into
/// this binary, stamped with its metadata and written once per process to `target/package/`
/// (in a workspace) or to the user's data directory (an installed binary needs no workspace);
/// built with cargo only when the binary carries none.
pub fn component_path() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(path) = std::env::var_os("HUMAANS_LEAPSOME_COMPONENT") {
        return Ok(PathBuf::from(path));
    }
    BUILT
        .get_or_init(|| if EMBEDDED.is_empty() { build() } else { unpack() }.map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Writes the embedded component (stamped) where it is loaded from; rewritten only if different.
fn unpack() -> Result<PathBuf> {
    let package = package_from(EMBEDDED_METADATA.as_bytes())?;
    let stamped = with_metadata(EMBEDDED, &package)?;
    let dir = if workspace_root().join("Cargo.toml").exists() { package_dir() } else { user_component_dir() };
    let path = dir.join("humaans-leapsome.wasm");
    if std::fs::read(&path).ok().as_deref() != Some(&stamped[..]) {
        write_atomically(&path, &stamped)?;
    }
    Ok(path)
}

/// `$XDG_DATA_HOME/humaans-leapsome/component`, else `~/.local/share/humaans-leapsome/component`.
fn user_component_dir() -> PathBuf {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), |h| PathBuf::from(h).join(".local/share")),
    };
    base.join("humaans-leapsome/component")
}

/// Builds the component with cargo (a binary built with `HOST_HARNESS_EMBED=0`).
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
    let shipped = package_dir().join("humaans-leapsome.wasm");
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    write_atomically(&shipped, &with_metadata(&bytes, &component_package()?)?)?;
    Ok(shipped)
}

/// What the shipped component says about itself: the component crate's package fields.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub repository: Option<String>,
}

/// The component crate's fields from `cargo metadata`: Cargo.toml stays the one source.
fn component_package() -> Result<PackageInfo> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    package_from(&out.stdout)
}

/// The component crate's fields from `cargo metadata` output.
fn package_from(metadata: &[u8]) -> Result<PackageInfo> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        packages: Vec<PackageInfo>,
    }
    let metadata: Metadata = serde_json::from_slice(metadata).context("cannot read cargo metadata")?;
    metadata.packages.into_iter().find(|p| p.name == "humaans-leapsome").context("cargo metadata: no humaans-leapsome")
}

/// The component with what registries and `wasm-tools metadata show` read: its name and the tool
/// that packaged it (by wasm-metadata), and the OCI annotation sections `version`, `description`,
/// `licenses` and, once Cargo.toml names a repository, `source`. Deterministic, so the
/// compiled-component cache stays valid.
pub fn with_metadata(component: &[u8], package: &PackageInfo) -> Result<Vec<u8>> {
    use wasm_encoder::{ComponentSection, CustomSection};
    let mut metadata = wasm_metadata::AddMetadata::default();
    metadata.name = wasm_metadata::AddMetadataField::Set(package.name.clone());
    metadata.processed_by = vec![("host-harness".into(), env!("CARGO_PKG_VERSION").into())];
    let mut out = metadata.to_wasm(component).context("cannot add metadata to the component")?;
    let annotations = [
        ("version", Some(&package.version)),
        ("description", package.description.as_ref()),
        ("licenses", package.license.as_ref()),
        ("source", package.repository.as_ref()),
    ];
    for (name, value) in annotations {
        if let Some(value) = value {
            CustomSection { name: name.into(), data: value.as_bytes().into() }.append_to_component(&mut out);
        }
    }
    Ok(out)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
