//! `handle-webhook`: checks a delivery against the tenant's webhook secret and reads it. The
//! scheme and payload live in `crate::webhook`; here only storage and the log.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::state::{self, Connection};
use crate::webhook::{self, Delivery, Refusal};

use super::{Env, draft};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookError {
    Refused(Refusal),
    /// The tenant has no webhook secret (or no connection at all).
    NotConfigured,
    Storage(String),
}

fn storage(e: AppError) -> WebhookError {
    WebhookError::Storage(e.to_string())
}

/// Verifies the signature first: nothing about an unsigned request is read, stored or logged.
pub fn handle_webhook(env: &mut Env, headers: &[(String, String)], body: &[u8]) -> Result<Delivery, WebhookError> {
    let connection: Option<Connection> = state::get(env.kv, "connection").map_err(storage)?;
    let Some(secret) = connection.and_then(|c| c.humaans_webhook_secret) else {
        return Err(WebhookError::NotConfigured);
    };
    webhook::verify_signature(&secret, headers, body).map_err(WebhookError::Refused)?;
    match webhook::parse(body) {
        Err(Refusal::Ignored(reason)) => {
            // Signed, so worth a line in the tenant's log: the operator sees what Humaans sends.
            let mut logs = super::open_log(env).map_err(|e| WebhookError::Storage(e.to_string()))?;
            logs.append(draft(env, LogAction::Skip, LogOutcome::Skipped, format!("webhook ignored: {reason}")));
            logs.flush(env.kv).map_err(WebhookError::Storage)?;
            Err(WebhookError::Refused(Refusal::Ignored(reason)))
        }
        other => other.map_err(WebhookError::Refused),
    }
}
