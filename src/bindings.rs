//! Guest bindings of `wit/world.wit`. Only `adapters/` and `guest.rs` use them directly.
//!
//! The standard WASI 0.2 interfaces come from the `wasi` crate (wit-bindgen's `with`): one set of
//! types shared with any library that speaks WASI through it. Generated here: the draft
//! `wasi:keyvalue` (the `wasi` crate has no drafts) and this world's export. Every interface of
//! the world must be named here, so a new import is a decision, not a side effect.

wit_bindgen::generate!({
    path: "wit",
    world: "humaans:integration/provisioning",
    with: {
        "wasi:io/error@0.2.12": ::wasi::io::error,
        "wasi:io/poll@0.2.12": ::wasi::io::poll,
        "wasi:io/streams@0.2.12": ::wasi::io::streams,
        "wasi:clocks/wall-clock@0.2.12": ::wasi::clocks::wall_clock,
        "wasi:clocks/monotonic-clock@0.2.12": ::wasi::clocks::monotonic_clock,
        "wasi:http/types@0.2.12": ::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": ::wasi::http::outgoing_handler,
        "wasi:keyvalue/store@0.2.0-draft": generate,
        "wasi:keyvalue/atomics@0.2.0-draft": generate,
        "wasi:keyvalue/batch@0.2.0-draft": generate,
    },
});
