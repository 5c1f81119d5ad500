//! Humaans webhook deliveries as the component checks and reads them: the signature header
//! against the raw body (`webhook::verify_signature`), then the body (`webhook::parse`).
//!
//! Oracles beyond "no panic": a body signed with the secret always verifies; a fuzzed header that
//! verifies is the body's true signature (hex, either case, with or without `sha256=`); a parsed
//! delivery has an event id and a plausible person id.
#![no_main]

use humaans_leapsome::webhook::{self, SIGNATURE_HEADER, SIGNATURE_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Input: secret \0 header value \0 body (missing parts are empty).
    let mut parts = data.splitn(3, |b| *b == 0);
    let secret = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();

    let signed = webhook::sign(&secret, body);
    let genuine = vec![(SIGNATURE_HEADER.to_string(), signed.clone())];
    assert!(webhook::verify_signature(&secret, &genuine, body).is_ok(), "a genuine signature is refused");

    let fuzzed = vec![("X-Humaans-Signature".to_string(), header.clone())];
    if webhook::verify_signature(&secret, &fuzzed, body).is_ok() {
        let given = header.trim();
        let given = given.strip_prefix(SIGNATURE_PREFIX).unwrap_or(given).to_ascii_lowercase();
        assert_eq!(given, signed[SIGNATURE_PREFIX.len()..], "a forged signature was accepted");
    }

    if let Ok(delivery) = webhook::parse(body) {
        assert!(!delivery.event_id.is_empty() && delivery.event_id.len() <= 200);
        assert!(!delivery.person_id.is_empty());
    }
});
