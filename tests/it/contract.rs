//! The packaged contract, as a platform that loads the component sees it: the component imports
//! only standard WASI (a host we did not write can satisfy every import), exports the WIT
//! package's interface, carries its metadata, and the WIT package builds into a binary WIT package
//! (`target/package/humaans_integration@VERSION.wasm`) that carries its WASI dependencies.

use std::path::Path;

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Resolve, WorldId};

/// Every import the component may have: package, interface (`*`: any), version (`0.2.`: any
/// 0.2.x; otherwise exactly).
/// README "Load it in your host" lists the same. `wasi:sockets` is deliberately absent: HTTP goes
/// through `wasi:http`, where the host enforces the tenant's allow-list.
const ALLOWED_IMPORTS: &[(&str, &str, &str)] = &[
    ("wasi:keyvalue", "store", "0.2.0-draft"),
    ("wasi:keyvalue", "atomics", "0.2.0-draft"),
    ("wasi:keyvalue", "batch", "0.2.0-draft"),
    ("wasi:http", "outgoing-handler", "0.2."),
    ("wasi:http", "types", "0.2."),
    ("wasi:clocks", "wall-clock", "0.2."),
    ("wasi:clocks", "monotonic-clock", "0.2."),
    // What Rust's std for wasm32-wasip2 pulls in.
    ("wasi:cli", "*", "0.2."),
    ("wasi:io", "*", "0.2."),
    ("wasi:random", "*", "0.2."),
    ("wasi:filesystem", "*", "0.2."),
];

fn allowed(import: &str) -> bool {
    let Some((path, version)) = import.split_once('@') else { return false };
    let Some((package, interface)) = path.split_once('/') else { return false };
    ALLOWED_IMPORTS.iter().any(|(p, i, v)| {
        let version_ok = if v.ends_with('.') { version.starts_with(v) } else { version == *v };
        *p == package && (*i == "*" || *i == interface) && version_ok
    })
}

fn component() -> (Vec<u8>, Resolve, WorldId) {
    let path = host_harness::component::component_path().expect("the component builds");
    let bytes = std::fs::read(&path).expect("the component is readable");
    match decode(&bytes).expect("the component decodes") {
        DecodedWasm::Component(resolve, world) => (bytes, resolve, world),
        DecodedWasm::WitPackage(..) => panic!("{} is a WIT package, not a component", path.display()),
    }
}

fn wit_package() -> (Resolve, wit_parser::PackageId) {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).expect("wit/ parses");
    (resolve, package)
}

#[test]
fn imports_are_standard_wasi_only() {
    let (_, resolve, world) = component();
    let imports: Vec<String> = resolve.worlds[world].imports.keys().map(|k| resolve.name_world_key(k)).collect();
    println!("the component imports:\n  {}", imports.join("\n  "));
    let foreign: Vec<&String> = imports.iter().filter(|i| !allowed(i)).collect();
    assert!(
        foreign.is_empty(),
        "the component imports {foreign:?}, outside the documented set of standard WASI 0.2 \
         interfaces: a host we did not write cannot satisfy it. Either drop the import or add it to \
         ALLOWED_IMPORTS and to README \"Load it in your host\" on purpose"
    );
    for needed in ["wasi:keyvalue/store@0.2.0-draft", "wasi:http/outgoing-handler@"] {
        assert!(imports.iter().any(|i| i.starts_with(needed)), "no {needed} import: {imports:?}");
    }
}

#[test]
fn the_allow_list_refuses_what_it_should() {
    assert!(allowed("wasi:cli/environment@0.2.6"));
    assert!(allowed("wasi:keyvalue/batch@0.2.0-draft"));
    assert!(!allowed("wasi:keyvalue/store@0.2.0-draft2"), "another keyvalue draft is another contract");
    assert!(!allowed("wasi:sockets/tcp@0.2.6"));
    assert!(!allowed("wasi:http/incoming-handler@0.2.6"));
    assert!(!allowed("wasi:http/types@0.3.0"));
    assert!(!allowed("acme:secrets/vault@1.0.0"));
    assert!(!allowed("log"), "a bare function import");
}

#[test]
fn exports_the_wit_packages_interface() {
    let (_, resolve, world) = component();
    let exports: Vec<String> = resolve.worlds[world].exports.keys().map(|k| resolve.name_world_key(k)).collect();
    let (wit, package) = wit_package();
    let expected = wit.id_of_name(package, "integration");
    assert_eq!(exports, vec![expected], "the component must export exactly the contract's interface");
    let name = &wit.packages[package].name;
    assert_eq!(name.to_string(), "humaans:integration@0.6.0", "the contract's name and version");
    let interface =
        wit.interfaces.iter().find(|(_, i)| i.package == Some(package) && i.name.as_deref() == Some("integration"));
    let mut functions: Vec<&str> =
        interface.expect("the integration interface").1.functions.keys().map(String::as_str).collect();
    functions.sort();
    assert_eq!(
        functions,
        [
            "approve-deprovisions",
            "configure",
            "connect",
            "handle-webhook",
            "on-employee-event",
            "provision-person",
            "read-logs",
            "retry",
            "status",
            "sync-all",
            "tick"
        ]
    );
}

#[test]
fn carries_its_metadata() {
    let (bytes, _, _) = component();
    let mut sections = std::collections::BTreeMap::new();
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.expect("the component parses") {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::CustomSection(c) if depth == 0 => {
                sections.insert(c.name().to_string(), c.data().to_vec());
            }
            _ => {}
        }
    }
    let text = |name: &str| String::from_utf8_lossy(sections.get(name).map_or(&[][..], |d| d)).into_owned();
    assert_eq!(text("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(text("licenses"), env!("CARGO_PKG_LICENSE"));
    assert_eq!(text("description"), env!("CARGO_PKG_DESCRIPTION"));
    assert_eq!(text("source"), env!("CARGO_PKG_REPOSITORY"), "Cargo.toml's repository, when it names one");
    assert!(text("component-name").contains(env!("CARGO_PKG_NAME")), "the component-name section names it");
    assert!(text("producers").contains("host-harness"), "the producers section names the packaging tool");
}

#[test]
fn wit_package_builds_with_its_dependencies() {
    let (resolve, package) = wit_package();
    let bytes = wit_component::encode(&resolve, package).expect("the WIT package encodes");
    let name = &resolve.packages[package].name;
    let file = format!("{}_{}@{}.wasm", name.namespace, name.name, name.version.as_ref().expect("a versioned package"));
    let dir = host_harness::component::package_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&file), &bytes).unwrap();
    println!("binary WIT package: {} ({} bytes)", dir.join(&file).display(), bytes.len());

    // Read back as a consumer would: the world and every interface it uses come with it.
    let DecodedWasm::WitPackage(decoded, id) = decode(&bytes).expect("the WIT package decodes") else {
        panic!("not a WIT package");
    };
    assert_eq!(decoded.packages[id].name, *name);
    let world = decoded.select_world(&[id], Some("provisioning")).expect("the world is in the package");
    let mut imports: Vec<String> = decoded.worlds[world].imports.keys().map(|k| decoded.name_world_key(k)).collect();
    imports.sort();
    for needed in ["wasi:keyvalue/store@0.2.0-draft", "wasi:http/outgoing-handler@", "wasi:clocks/wall-clock@"] {
        assert!(imports.iter().any(|i| i.starts_with(needed)), "{needed} missing from {imports:?}");
    }
    assert!(imports.iter().all(|i| allowed(i)), "the contract itself imports only standard WASI: {imports:?}");
    let http_types = decoded.packages.iter().find(|(_, p)| p.name.namespace == "wasi" && p.name.name == "http");
    let (_, http_types) = http_types.expect("wasi:http travels with the package");
    assert!(http_types.interfaces.contains_key("types"), "with the type definitions the contract uses");
}
