//! The base URLs given to `connect` (first two lines of the input; the rest scripts the
//! responses). Besides not crashing, the security property: a request the component sends over
//! plain http goes to a loopback address, decided by parsing (never `127.evil.example`).
#![no_main]

use humaans_leapsome::app::{ConnectInput, Env, connect};
use humaans_leapsome::ports::MemoryKeyValue;
use humaans_leapsome::url::{UrlScheme, split_url};
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let humaans = lines.next().map(str::to_owned);
    let scim = lines.next().map(str::to_owned);
    let rest = lines.next().unwrap_or("").as_bytes();
    let mut http = common::Scripted::from_bytes(rest);
    let mut kv = MemoryKeyValue::default();
    let input = ConnectInput {
        scim_base_url: scim,
        scim_token: "scim-token".into(),
        scim_requests_per_second: Some(0),
        humaans_base_url: humaans,
        humaans_token: "humaans-token".into(),
        humaans_webhook_secret: None,
    };
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let _ = connect(&mut Env { http: &mut http, kv: &mut kv, now }, input);
    for request in &http.sent {
        let url = split_url(&request.url).unwrap_or_else(|e| panic!("the component sent an invalid URL ({e})"));
        if url.scheme == UrlScheme::Http {
            assert!(url.is_loopback(), "plain http to a non-loopback host: {}", url.host());
        }
    }
});
