//! The contract's answers in words: enum names as users write them, errors as one line.

use anyhow::{Result, anyhow};

use crate::plugin::api::{self, IntegrationError};

/// A contract enum's name as users write it: `ChangeKind::LinkManager` -> `link-manager`.
pub fn name_of<T: std::fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    let last = debug.rsplit("::").next().unwrap_or(&debug);
    let mut out = String::new();
    for (i, c) in last.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// How the component reports the host's `destination-ip-prohibited` (`egress::Refusal::
/// NonPublicAddress`) and `http-request-denied` (off the allow-list, over the request quota): as
/// transport failures, with these words in the message (`src/adapters/http.rs`, `src/ports.rs`).
const NOT_PUBLIC: &str = "not a public address";
const DENIED: &str = "the host denied the request";

/// A contract error as one line, naming the service where there is one.
pub fn describe(e: &IntegrationError) -> String {
    let service = |s: api::Service| match s {
        api::Service::Humaans => "Humaans",
        api::Service::Scim => "Leapsome SCIM",
    };
    let status = |s: Option<u16>| s.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    match e {
        IntegrationError::NotConnected => "not connected: run `host-harness connect` first".into(),
        IntegrationError::InvalidInput(f) => format!("invalid {}: {}", f.field, f.message),
        IntegrationError::UnknownPerson(id) => format!("Humaans has no person with id `{id}`"),
        IntegrationError::Unauthorized(f) => {
            format!("{} refused the token{}: {}", service(f.service), status(f.status), f.message)
        }
        IntegrationError::Upstream(f) => {
            format!("{} answered with an error{}: {}", service(f.service), status(f.status), f.message)
        }
        // The host's policy refused to send: not a network failure, and never said to be one.
        IntegrationError::Transport(f) if f.status.is_none() && f.message.contains(NOT_PUBLIC) => format!(
            "{} was not contacted: its host is not a public address (the host's egress policy refuses loopback, \
             private and other special-purpose addresses for a host name)",
            service(f.service)
        ),
        IntegrationError::Transport(f) if f.status.is_none() && f.message.contains(DENIED) => format!(
            "{} was not contacted: the host's policy denied the request (not on the tenant's allow-list, or over \
             its quota of requests per call)",
            service(f.service)
        ),
        IntegrationError::Transport(f) => format!("{} could not be reached: {}", service(f.service), f.message),
        IntegrationError::Storage(m) => format!("storage failed: {m}"),
    }
}

/// Unwraps a call: host-level failures and contract errors both become one-line errors.
pub fn done<T>(r: Result<Result<T, IntegrationError>, crate::CallError>) -> Result<T> {
    match r {
        Err(e) => Err(anyhow!("{e}")),
        Ok(Err(e)) => Err(anyhow!(describe(&e))),
        Ok(Ok(v)) => Ok(v),
    }
}
