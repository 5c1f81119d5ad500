//! What every part of the mock shares: the SCIM error, a user's stored profile, what a write
//! needs from outside the profile, and small helpers.

use serde_json::{Map, Value, json};

use super::config::LeapsomeConfig;
use crate::humaans::dates::civil_from_days;
use crate::server::Response;

pub const SCIM_JSON: &str = "application/scim+json";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error (RFC 7644 §3.12), `status` as a string as in SPEC's 404 example.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn response(&self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        Response::json(self.status, &body).with_content_type(SCIM_JSON)
    }
}

/// The writable state of a user. Attributes are stored under canonical names; the enterprise
/// object lives under its URN without `manager`/`additionalManagers`, which are kept resolved to
/// user ids so that they follow the manager's later renames.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub attrs: Map<String, Value>,
    pub manager: Option<String>,
    pub additional_managers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// What applying needs from outside the profile.
pub struct Ctx<'a> {
    pub config: &'a LeapsomeConfig,
    /// Resolves a manager reference (id, userName or externalId, as the mode allows) to an id.
    pub resolve: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    pub(super) fn keeps(&self, leapsome: bool) -> bool {
        leapsome || self.config.keep_unknown_attributes
    }
}

pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub(super) fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidValue", detail)
}

pub(super) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The current time as an RFC 3339 UTC date-time with milliseconds.
pub fn now() -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rem = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_days_to_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let stamp = now();
        assert_eq!((stamp.len(), &stamp[10..11], &stamp[23..]), (24, "T", "Z"), "{stamp}");
    }
}
