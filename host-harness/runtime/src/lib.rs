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

pub use plugin::{CallError, Run, TenantPlugin, api};
pub use runtime::{PoolSize, Runtime};
pub use sealed::{HostKey, KeySource, SealedStorage};
pub use storage::{Fenced, Lease, LeaseStore, MemoryStorage, PgStorage, SqliteStorage, Storage, Usage};
pub use tenant::{AllowedHost, Scheme, Tenant, TenantStats};

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// The modules of `dir` each file names through `prefix` (`crate::x`, `super::{x, y}`),
    /// outside comments; `skip` (the file that wires them) is left out.
    fn imports(dir: &Path, prefix: &str, skip: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.extension().is_some_and(|e| e == "rs") && name != skip {
                files.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
        let ident =
            |s: &str| s.trim().split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("").to_owned();
        let mut edges = BTreeMap::new();
        for (module, text) in &files {
            let mut named = BTreeSet::new();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices(prefix) {
                    let rest = &line[at + prefix.len()..];
                    let paths: Vec<String> = match rest.strip_prefix('{') {
                        Some(group) => group.split('}').next().unwrap().split(',').map(ident).collect(),
                        None => vec![ident(rest)],
                    };
                    named.extend(paths.into_iter().filter(|p| p != module && files.contains_key(p)));
                }
            }
            edges.insert(module.clone(), named);
        }
        edges
    }

    /// The circle through `module`'s imports, if there is one (depth first, `path` so far).
    fn circle(edges: &BTreeMap<String, BTreeSet<String>>, module: &str, path: &mut Vec<String>) -> Option<String> {
        if let Some(at) = path.iter().position(|m| m == module) {
            return Some([&path[at..], &[module.to_owned()]].concat().join(" -> "));
        }
        path.push(module.to_owned());
        let found = edges[module].iter().find_map(|next| circle(edges, next, path));
        path.pop();
        found
    }

    /// The crate's modules, and the store's backends, import each other in layers (this file's
    /// header): a new import that closes a circle fails here, naming it.
    #[test]
    fn modules_import_each_other_without_circles() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let top = imports(&src, "crate::", "lib");
        assert_eq!(top.len(), 13, "every module read: {top:?}");
        assert!(top["runtime"].contains("host_state") && top["keyvalue"].contains("quota"), "{top:?}");
        let storage = imports(&src.join("storage"), "super::", "");
        assert!(storage["sqlite"].contains("sqlite_queue") && storage["postgres"].contains("kv"), "{storage:?}");
        for edges in [&top, &storage] {
            for module in edges.keys() {
                assert_eq!(circle(edges, module, &mut Vec::new()), None);
            }
        }
    }
}
