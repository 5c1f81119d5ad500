//! Guest bindings of `wit/world.wit`. Only `adapters/` and `guest.rs` use them directly.

wit_bindgen::generate!({
    path: "wit",
    world: "humaans:integration/provisioning",
    generate_all,
});
