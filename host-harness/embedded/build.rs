//! Builds the component into the host binary (through this crate, `embedded-component`), so
//! `cargo install --path host-harness` gives a
//! `host-harness` that needs no workspace at run time (`--component` or
//! `HUMAANS_LEAPSOME_COMPONENT` still override it). The component is built by a nested cargo in
//! its own target directory (never the outer build's, whose lock the outer cargo holds), with
//! the outer build's wrappers and flags removed (clippy's driver, sanitizer flags) so it is the
//! same component a plain `cargo build` makes. Also saved: the component crate's package fields,
//! for the metadata the shipped copy is stamped with.
//!
//! `HOST_HARNESS_EMBED=0` skips it (the host then builds the component at run time, as before).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest
        .parent()
        .and_then(|host| host.parent())
        .expect("host-harness/embedded lives in the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for path in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=HOST_HARNESS_EMBED");
    let (component, package) = (out.join("component.wasm"), out.join("package.json"));
    let skip = std::env::var("HOST_HARNESS_EMBED").is_ok_and(|v| v == "0");
    if skip || !workspace.join("src/lib.rs").exists() {
        std::fs::write(&component, b"").unwrap();
        std::fs::write(&package, b"").unwrap();
        return;
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("embedded-component");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let nested = |args: &[&str]| {
        let mut command = Command::new(&cargo);
        command.current_dir(&workspace).args(args);
        for var in
            ["RUSTC_WORKSPACE_WRAPPER", "RUSTC_WRAPPER", "CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR"]
        {
            command.env_remove(var);
        }
        command
    };
    let status =
        nested(&["build", "--quiet", "-p", "humaans-leapsome", "--target", "wasm32-wasip2", "--profile", "component"])
            .arg("--target-dir")
            .arg(&target_dir)
            .status()
            .expect("cannot run cargo to build the component");
    if !status.success() {
        panic!("building the component for embedding failed ({status}); HOST_HARNESS_EMBED=0 skips embedding");
    }
    let built = target_dir.join("wasm32-wasip2/component/humaans_leapsome.wasm");
    std::fs::copy(&built, &component).unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
    let metadata = nested(&["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .output()
        .expect("cannot run cargo metadata");
    assert!(metadata.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&metadata.stderr));
    std::fs::write(&package, &metadata.stdout).unwrap();
}
