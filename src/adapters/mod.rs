//! The ports (`crate::ports`) implemented over the raw WASI imports of the component's world.
//! Compiled for `wasm32` only; native tests use the fakes in `ports`.

pub mod http;
pub mod kv;

pub use http::WasiHttp;
pub use kv::WasiKeyValue;
