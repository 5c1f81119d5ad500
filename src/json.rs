//! JSON bytes read as text. Every response body and stored value goes through here, so serde_json
//! reads text only: reading bytes, it checks that each string it reads is UTF-8 (a call for every
//! key and value, a twentieth of a steady sync in wasm); reading text, it need not, as the text
//! was checked once, whole. One kind of input also keeps one copy of its parser in the component.

use std::borrow::Cow;

use serde::Deserialize;

/// A service's body as text. JSON is UTF-8; a body that is not is read with U+FFFD in place of
/// the bad bytes rather than refused (serde_json reading bytes never looked at the values it
/// skipped, and a stray byte in a field the integration ignores must not stop a sync).
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    // `from_utf8` checks a word of ASCII at a time; `from_utf8_lossy` walks every byte (a
    // twentieth of reading a page in wasm). Only a body that is not UTF-8 takes the slow path.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A service's body ([`lossy`]) read whole by `read`, which drives serde_json's deserializer
/// itself (a visitor or seed streaming a page); nothing may follow the value but whitespace.
pub fn read_body<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut serde_json::Deserializer<serde_json::de::StrRead<'_>>) -> Result<T, serde_json::Error>,
) -> Result<T, serde_json::Error> {
    let text = lossy(bytes);
    let mut de = serde_json::Deserializer::from_str(&text);
    let value = read(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Stored or signed bytes as text: anything but UTF-8 is an error.
pub fn strict(bytes: &[u8]) -> Result<&str, serde_json::Error> {
    std::str::from_utf8(bytes)
        .map_err(|e| serde::de::Error::custom(format!("invalid UTF-8 at byte {}", e.valid_up_to())))
}

/// A value from stored or signed bytes ([`strict`]).
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, serde_json::Error> {
    serde_json::from_str(strict(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_bodies_are_read_despite_stray_bytes_stored_ones_are_not() {
        let body = b"{\"name\":\"Z\xc3\xabe\",\"bio\":\"caf\xe9\"}";
        let value: serde_json::Value = serde_json::from_str(&lossy(body)).unwrap();
        assert_eq!((value["name"].as_str(), value["bio"].as_str()), (Some("Zëe"), Some("caf\u{fffd}")));
        let refused = from_bytes::<serde_json::Value>(body).unwrap_err().to_string();
        assert!(refused.contains("invalid UTF-8 at byte 25"), "{refused}");
        assert_eq!(from_bytes::<Vec<u8>>(b"[1,2]").unwrap(), vec![1, 2]);
        assert!(from_bytes::<Vec<u8>>(b"[1,").is_err());
    }
}
