//! Humaans as a webhook sender: signs deliveries the way our one source says Humaans does
//! (`shared/reference/humaans-api.md` §4: HMAC-SHA256 of the raw body, hex, `sha256=` prefix, in
//! `X-Humaans-Signature`). The integration's own copy of the scheme is `src/webhook.rs`; tests
//! check the two agree, so a change on one side only fails loudly.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Humaans-Signature";

/// The signature header's value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A delivery body: `{"id", "event", "data": {"id"}}` for `person.*`, `data.personId` for `jobRole.*`.
pub fn delivery(event_id: &str, event: &str, person_id: &str) -> String {
    let data = if event.starts_with("jobRole.") {
        serde_json::json!({"id": format!("role-{event_id}"), "personId": person_id})
    } else {
        serde_json::json!({"id": person_id})
    };
    serde_json::json!({"id": event_id, "event": event, "data": data, "createdAt": super::dates::now_timestamp()})
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc_4231_case_2() {
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
