//! Host bindings of the `humaans:integration/provisioning` world (`wit/world.wit`). WASI comes from
//! wasmtime-wasi(-http); keyvalue from our own binding in `keyvalue.rs`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "humaans:integration/provisioning",
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:keyvalue": crate::keyvalue::bindings::wasi::keyvalue,
    },
});
