//! Host bindings of the `humaans:integration/provisioning` world (`wit/world.wit`). WASI comes from
//! wasmtime-wasi(-http); keyvalue from our own binding below,
//! implemented in `keyvalue.rs`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "humaans:integration/provisioning",
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:keyvalue": keyvalue::wasi::keyvalue,
    },
});

/// `wasi:keyvalue@0.2.0-draft`, implemented by the host itself in `keyvalue.rs`.
pub mod keyvalue {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "wasi:keyvalue/imports@0.2.0-draft",
        imports: { default: trappable },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

/// An open bucket: just its name; the tenant comes from the store's `HostState`.
pub struct Bucket {
    pub(crate) name: String,
}
