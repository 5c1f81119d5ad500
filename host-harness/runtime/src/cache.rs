//! The on-disk cache of the compiled component. `Component::deserialize` trusts its input
//! completely (it is native code), so an artifact is loaded only if its SHA-256 digest — over the
//! component's bytes, the engine's compatibility hash (its configuration and wasmtime's version)
//! and the artifact itself — matches the digest stored beside it. Anything else (a flipped byte, a truncated
//! file, a missing or edited digest) is recompiled and rewritten, never loaded. The directory is
//! owner-only (0700) and the files 0600. The digest guards against corruption and against a
//! tampered artifact whose digest was not redone; someone able to write both files as the
//! operator's user can also replace the host binary, which no in-process check can stop.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// What loading the component did, for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// No cache directory: compiled in memory.
    Uncached,
    /// Nothing cached yet: compiled and stored.
    Compiled,
    /// A verified artifact was loaded.
    Loaded,
    /// A cached artifact failed its check and was recompiled (the reason says which).
    Recompiled(String),
}

/// Loads the compiled component from `cache_dir` when it verifies; otherwise compiles and stores it.
pub fn load(engine: &Engine, path: &Path, cache_dir: Option<&Path>) -> Result<(Component, CacheOutcome)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the component {}", path.display()))?;
    let Some(dir) = cache_dir else {
        return Ok((
            wt(Component::new(engine, &bytes)).context("cannot compile the component")?,
            CacheOutcome::Uncached,
        ));
    };
    // Tighten a directory made by someone else (or by an older host) before trusting it.
    let _ = crate::storage::create_private_dir(dir);
    let source = Sha256::digest(&bytes);
    let artifact_path = dir.join(format!("component-{}.cwasm", hex(&digest_of(engine, &source, &[])[..8])));
    let digest_path = artifact_path.with_extension("cwasm.sha256");
    let outcome = match (std::fs::read(&artifact_path), std::fs::read_to_string(&digest_path)) {
        (Ok(artifact), Ok(stored)) => {
            if stored.trim() == hex(&digest_of(engine, &source, &artifact)) {
                // SAFETY: these bytes are, by their digest, what `precompile_component` produced
                // for this component on an engine with this configuration and version; they are
                // deserialized from memory, so the file cannot change between check and load.
                match unsafe { Component::deserialize(engine, &artifact) } {
                    Ok(component) => return Ok((component, CacheOutcome::Loaded)),
                    Err(e) => CacheOutcome::Recompiled(format!("the artifact did not load: {e}")),
                }
            } else {
                CacheOutcome::Recompiled("the artifact does not match its digest".into())
            }
        }
        (Ok(_), Err(_)) => CacheOutcome::Recompiled("the artifact has no digest".into()),
        (Err(_), _) => CacheOutcome::Compiled,
    };
    let compiled = wt(engine.precompile_component(&bytes)).context("cannot compile the component")?;
    // A cache that cannot be written only costs the next run a compilation.
    if crate::storage::create_private_dir(dir).is_ok() {
        let digest = hex(&digest_of(engine, &source, &compiled));
        let _ = write_private(&digest_path, digest.as_bytes()).and_then(|()| write_private(&artifact_path, &compiled));
    }
    // SAFETY: the bytes were produced just now by this engine.
    let component =
        wt(unsafe { Component::deserialize(engine, &compiled) }).context("cannot load the compiled component")?;
    Ok((component, outcome))
}

/// SHA-256 over the component's digest, the engine's compatibility hash (wasmtime hashes its
/// configuration and its own version into it) and the artifact (empty when naming the file).
fn digest_of(engine: &Engine, source: &[u8], artifact: &[u8]) -> Vec<u8> {
    use std::hash::{Hash, Hasher};
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let mut h = Sha256::new();
    h.update(b"host-harness component cache v1\0");
    h.update(source);
    h.update(compat.finish().to_le_bytes());
    h.update(artifact);
    h.finalize().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` through a temporary file (0600) and a rename, so a reader never sees
/// half a file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp: PathBuf = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// wasmtime's error type is its own (not anyhow's); convert at the boundary.
fn wt<T>(result: wasmtime::Result<T>) -> Result<T> {
    result.map_err(anyhow::Error::from)
}
