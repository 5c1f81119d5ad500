//! Humaans webhooks: the signature scheme and the payload, in one place. Pure: no I/O.
//!
//! Humaans' primary docs do not confirm the scheme (`shared/reference/humaans-api.md` §4); the one
//! source we have signs the raw body with HMAC-SHA256 under the endpoint's secret and sends it hex
//! encoded, optionally prefixed `sha256=`, in `X-Humaans-Signature`. If Humaans turns out to do
//! otherwise, [`SIGNATURE_HEADER`] and [`verify_signature`] are the only things to change.
//!
//! Payload: `{"id", "event", "data"}`. `person.*` events name the person in `data.id`, `jobRole.*`
//! events in `data.personId`. Any other event is ignored (the sender gets a 2xx and we log a skip).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::app::EventKind;

/// The request header carrying the signature (compared case-insensitively, as HTTP does).
pub const SIGNATURE_HEADER: &str = "x-humaans-signature";
/// An optional prefix of the signature's value, naming the algorithm.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// Why a delivery is refused or ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BadSignature(String),
    Malformed(String),
    Ignored(String),
}

/// A delivery worth acting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    /// The sender's name for it, e.g. `person.updated`.
    pub name: String,
    pub kind: EventKind,
    pub person_id: String,
    /// The payload's own time, when it has one.
    pub occurred_at: Option<String>,
}

/// Checks the signature header against the raw body in constant time.
pub fn verify_signature(secret: &str, headers: &[(String, String)], body: &[u8]) -> Result<(), Refusal> {
    let values: Vec<&str> =
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(SIGNATURE_HEADER)).map(|(_, v)| v.trim()).collect();
    let value = match values.as_slice() {
        [] => return Err(Refusal::BadSignature(format!("no {SIGNATURE_HEADER} header"))),
        [one] => *one,
        _ => return Err(Refusal::BadSignature(format!("more than one {SIGNATURE_HEADER} header"))),
    };
    let hex = value.strip_prefix(SIGNATURE_PREFIX).unwrap_or(value);
    let Some(expected) = decode_hex(hex) else {
        return Err(Refusal::BadSignature("the signature is not hex".into()));
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    // `verify_slice` compares in constant time (the `subtle` crate underneath).
    mac.verify_slice(&expected).map_err(|_| Refusal::BadSignature("the signature does not match the body".into()))
}

/// The signature header's value for `body` (for senders: tests, the demo, the benchmark).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("{SIGNATURE_PREFIX}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// Reads a (signature-checked) body.
pub fn parse(body: &[u8]) -> Result<Delivery, Refusal> {
    let value: Value =
        crate::json::from_bytes(body).map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))?;
    let text = |v: &Value, field: &str| -> Result<String, Refusal> {
        match v.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(Refusal::Malformed(format!("`{field}` is missing or not a string"))),
        }
    };
    if !value.is_object() {
        return Err(Refusal::Malformed("the body is not a JSON object".into()));
    }
    let event_id = text(&value, "id")?;
    if event_id.len() > 200 {
        return Err(Refusal::Malformed("`id` is longer than 200 characters".into()));
    }
    let name = text(&value, "event")?;
    let (kind, person_field) = match name.as_str() {
        "person.created" => (EventKind::Created, "id"),
        "person.updated" => (EventKind::Updated, "id"),
        "person.deleted" => (EventKind::Deleted, "id"),
        "jobRole.created" | "jobRole.updated" | "jobRole.deleted" => (EventKind::JobRoleChanged, "personId"),
        other => return Err(Refusal::Ignored(format!("event `{other}` is not one this integration acts on"))),
    };
    let data =
        value.get("data").filter(|d| d.is_object()).ok_or_else(|| Refusal::Malformed("`data` is missing".into()))?;
    let person_id = text(data, person_field).map_err(|_| {
        Refusal::Malformed(format!("`data.{person_field}` (the person id of a {name} event) is missing"))
    })?;
    if !crate::app::valid_id(&person_id) {
        return Err(Refusal::Malformed(format!("`data.{person_field}` is not a Humaans id")));
    }
    let occurred_at = ["createdAt", "timestamp"]
        .iter()
        .find_map(|f| value.get(*f).and_then(Value::as_str))
        .filter(|t| crate::reconcile::timing::parse_time(t).is_some())
        .map(str::to_owned);
    Ok(Delivery { event_id, name, kind, person_id, occurred_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-test";

    fn headers(value: &str) -> Vec<(String, String)> {
        vec![("Content-Type".into(), "application/json".into()), ("X-Humaans-Signature".into(), value.into())]
    }

    #[test]
    fn signature_with_or_without_prefix_in_any_header_case() {
        let body = br#"{"id":"e1","event":"person.updated","data":{"id":"p1"}}"#;
        let signed = sign(SECRET, body);
        assert!(signed.starts_with("sha256=") && signed.len() == 7 + 64);
        assert_eq!(verify_signature(SECRET, &headers(&signed), body), Ok(()));
        assert_eq!(verify_signature(SECRET, &headers(&signed[7..]), body), Ok(()));
        assert_eq!(verify_signature(SECRET, &headers(&signed.to_uppercase().replace("SHA256=", "")), body), Ok(()));
        let lower = vec![("x-humaans-signature".to_string(), signed.clone())];
        assert_eq!(verify_signature(SECRET, &lower, body), Ok(()));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn forged_missing_or_garbled_signatures_are_refused() {
        let body = br#"{"id":"e1","event":"person.updated","data":{"id":"p1"}}"#;
        let bad =
            |h: Vec<(String, String)>| matches!(verify_signature(SECRET, &h, body), Err(Refusal::BadSignature(_)));
        assert!(bad(headers(&sign("another secret", body))));
        assert!(bad(headers(&sign(SECRET, b"another body"))));
        assert!(bad(vec![]));
        assert!(bad(headers("sha256=zz")));
        assert!(bad(headers("sha256=abc")));
        assert!(bad(headers("")));
        let signed = sign(SECRET, body);
        assert!(bad(headers(&signed[..signed.len() - 2])), "a truncated signature");
        let mut twice = headers(&signed);
        twice.push(("X-Humaans-Signature".into(), signed));
        assert!(bad(twice), "two signature headers are ambiguous");
    }

    #[test]
    fn events_map_to_kinds_and_person_ids() {
        let cases = [
            (r#"{"id":"e1","event":"person.created","data":{"id":"p1"}}"#, EventKind::Created, "p1"),
            (
                r#"{"id":"e2","event":"person.updated","data":{"id":"p2","extra":1},"more":true}"#,
                EventKind::Updated,
                "p2",
            ),
            (r#"{"id":"e3","event":"person.deleted","data":{"id":"p3"}}"#, EventKind::Deleted, "p3"),
            (
                r#"{"id":"e4","event":"jobRole.created","data":{"id":"r1","personId":"p4"}}"#,
                EventKind::JobRoleChanged,
                "p4",
            ),
            (
                r#"{"id":"e5","event":"jobRole.updated","data":{"id":"r1","personId":"p5"}}"#,
                EventKind::JobRoleChanged,
                "p5",
            ),
            (
                r#"{"id":"e6","event":"jobRole.deleted","data":{"id":"r1","personId":"p6"}}"#,
                EventKind::JobRoleChanged,
                "p6",
            ),
        ];
        for (body, kind, person) in cases {
            let d = parse(body.as_bytes()).unwrap();
            assert_eq!((d.kind, d.person_id.as_str()), (kind, person), "{body}");
        }
        let d = parse(br#"{"id":"e7","event":"person.updated","data":{"id":"p7"},"createdAt":"2026-01-02T03:04:05Z"}"#)
            .unwrap();
        assert_eq!((d.event_id.as_str(), d.name.as_str()), ("e7", "person.updated"));
        assert_eq!(d.occurred_at.as_deref(), Some("2026-01-02T03:04:05Z"));
    }

    #[test]
    fn unknown_events_are_ignored_and_broken_ones_malformed() {
        assert!(matches!(parse(br#"{"id":"e1","event":"timeAway.created","data":{}}"#), Err(Refusal::Ignored(_))));
        for body in [
            &b"not json"[..],
            b"[]",
            br#"{"event":"person.updated","data":{"id":"p1"}}"#,
            br#"{"id":"e1","data":{"id":"p1"}}"#,
            br#"{"id":"e1","event":"person.updated"}"#,
            br#"{"id":"e1","event":"jobRole.updated","data":{"id":"r1"}}"#,
            br#"{"id":"e1","event":"person.updated","data":{"id":"../etc"}}"#,
        ] {
            assert!(matches!(parse(body), Err(Refusal::Malformed(_))), "{}", String::from_utf8_lossy(body));
        }
    }
}
