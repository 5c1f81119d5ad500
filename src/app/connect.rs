//! `connect`, `configure` and `read-logs`.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome, LogPage, LogQuery, MAX_RETENTION, MIN_RETENTION, read_page};
use crate::reconcile::model::MAX_DAYS_BEFORE_START;
use crate::reconcile::scope::Rules;
use crate::reconcile::{DeprovisionLimit, ProvisionTiming, Settings};
use crate::state::{self, AuthState, Connection};
use crate::url::{UrlScheme, split_url};
use crate::{humaans, scim};

use super::{Env, draft, humaans_client, scim_client};

#[derive(Debug, Clone)]
pub struct ConnectInput {
    pub scim_base_url: Option<String>,
    pub scim_token: String,
    pub scim_requests_per_second: Option<u32>,
    pub humaans_base_url: Option<String>,
    pub humaans_token: String,
    /// `None` keeps the secret saved by an earlier connect.
    pub humaans_webhook_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectReport {
    pub company_name: String,
    pub humaans_base_url: String,
    pub scim_base_url: String,
    pub scim_users: u32,
    pub warnings: Vec<String>,
}

fn check_url(field: &str, url: Option<String>, default: &str) -> Result<String, AppError> {
    let url = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).unwrap_or_else(|| default.to_owned());
    let split = split_url(&url).map_err(|e| AppError::invalid(field, e))?;
    if split.scheme == UrlScheme::Http {
        // Decided by parsing the host, never by its spelling: `127.evil.example` is a name.
        if !split.is_loopback() {
            return Err(AppError::invalid(
                field,
                "must use https:// (plain http is accepted for loopback addresses only)",
            ));
        }
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn check_token(field: &str, token: &str) -> Result<String, AppError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AppError::invalid(field, "is empty"));
    }
    if token.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AppError::invalid(field, "contains spaces or control characters"));
    }
    Ok(token.to_owned())
}

/// Webhook secrets shorter than this are refused: a short HMAC key can be guessed offline from
/// one signed delivery.
pub const MIN_WEBHOOK_SECRET_CHARS: usize = 16;

fn check_webhook_secret(secret: &str) -> Result<String, AppError> {
    const FIELD: &str = "connection.humaans-webhook-secret";
    let secret = check_token(FIELD, secret)?;
    let length = secret.chars().count();
    if length < MIN_WEBHOOK_SECRET_CHARS {
        // The length only: the secret itself is never echoed.
        return Err(AppError::invalid(
            FIELD,
            format!(
                "is {length} characters; a webhook secret needs at least {MIN_WEBHOOK_SECRET_CHARS} (copy the whole secret from Humaans)"
            ),
        ));
    }
    Ok(secret)
}

/// Verifies both tokens with a real request each, then saves the connection.
pub fn connect(env: &mut Env, input: ConnectInput) -> Result<ConnectReport, AppError> {
    let mut logs = super::open_log(env)?;
    let result: Result<ConnectReport, AppError> = (|| {
        let connection = Connection {
            humaans_base_url: check_url(
                "connection.humaans-base-url",
                input.humaans_base_url,
                humaans::DEFAULT_BASE_URL,
            )?,
            humaans_token: check_token("connection.humaans-token", &input.humaans_token)?,
            scim_base_url: check_url("connection.scim-base-url", input.scim_base_url, scim::DEFAULT_BASE_URL)?,
            scim_token: check_token("connection.scim-token", &input.scim_token)?,
            scim_requests_per_second: input.scim_requests_per_second,
            scope_warning: None,
            humaans_webhook_secret: match input.humaans_webhook_secret {
                Some(secret) => Some(check_webhook_secret(&secret)?),
                None => state::get::<Connection>(env.kv, "connection")?.and_then(|c| c.humaans_webhook_secret),
            },
        };
        let mut connection = connection;
        let mut h = humaans_client(&connection);
        humaans::verify_token(&mut h, env.http)?;
        connection.scope_warning = match humaans::private_read_scope(&mut h, env.http)? {
            humaans::Scope::Granted => None,
            humaans::Scope::Missing(scopes) => {
                return Err(AppError::invalid(
                    "connection.humaans-token",
                    format!(
                        "lacks the private:read scope (it has: {}): new hires and offboarded people are invisible to it; create a token with private:read",
                        if scopes.is_empty() { "none".to_owned() } else { scopes.join(", ") }
                    ),
                ));
            }
            humaans::Scope::Unknown(why) => Some(format!(
                "could not confirm the Humaans token has private:read ({why}); without it new hires and offboarded people are invisible"
            )),
        };
        let company_name = humaans::company_name(&mut h, env.http, None)?.unwrap_or_default();
        let mut s = scim_client(&connection);
        let scim_users = scim::verify_token(&mut s, env.http)?;
        state::put(env.kv, "connection", &connection)?;
        state::put(env.kv, "company", &state::CachedCompany { id: None, name: Some(company_name.clone()) })?;
        Ok(ConnectReport {
            company_name,
            humaans_base_url: connection.humaans_base_url,
            scim_base_url: connection.scim_base_url,
            scim_users,
            warnings: connection.scope_warning.into_iter().collect(),
        })
    })();
    if result.is_ok() && AuthState::reset(env.kv)? {
        logs.append(draft(
            env,
            LogAction::ConnectionState,
            LogOutcome::Success,
            "the connection is authorized again: writes resume",
        ));
    }
    let entry = match &result {
        Ok(r) => draft(
            env,
            LogAction::Connect,
            LogOutcome::Success,
            format!(
                "connected to Humaans ({}) and Leapsome SCIM ({}), company {}{}",
                r.humaans_base_url,
                r.scim_base_url,
                r.company_name,
                r.warnings.iter().map(|w| format!("; warning: {w}")).collect::<String>()
            ),
        ),
        Err(e) => {
            let d = draft(env, LogAction::Connect, LogOutcome::Failure, format!("connect failed: {e}"));
            if let Some(s) = e.status() { d.status(s) } else { d }
        }
    };
    logs.append(entry);
    logs.flush(env.kv).map_err(AppError::Storage)?;
    result
}

fn describe(s: &Settings) -> String {
    let p = match s.provisioning {
        None => "off".to_owned(),
        Some(ProvisionTiming::Immediately) => "immediately".to_owned(),
        Some(ProvisionTiming::OnStartDate) => "on start date".to_owned(),
        Some(ProvisionTiming::DaysBeforeStart(n)) => format!("{n} days before start"),
    };
    let d = match s.deprovisioning {
        None => "off",
        Some(crate::reconcile::DeprovisionAction::Suspend) => "suspend",
        Some(crate::reconcile::DeprovisionAction::Deactivate) => "deactivate",
    };
    let dialect = match s.dialect {
        crate::reconcile::Dialect::Leapsome => "leapsome",
        crate::reconcile::Dialect::Rfc7644 => "rfc7644",
    };
    let limit = match s.deprovision_limit {
        None => "default (max(5, 10%))".to_owned(),
        Some(DeprovisionLimit::Count(n)) => n.to_string(),
        Some(DeprovisionLimit::Percent(p)) => format!("{p}%"),
    };
    let window =
        crate::reconcile::brake::describe_window(crate::reconcile::brake::window_minutes(s.deprovision_window_minutes));
    format!(
        "provisioning {p}, deprovisioning {d}, dialect {dialect}, deprovision limit {limit} in {window}, teams {}, log retention {}",
        if s.teams { "on" } else { "off" },
        super::retention(s)
    ) + &match s.scope.len() {
        0 => String::new(),
        n => format!(
            ", scope: {n} rule{} ({}), out of scope: {}",
            if n == 1 { "" } else { "s" },
            s.scope.join(" | "),
            if s.keep_out_of_scope { "keep" } else { "deprovision" }
        ),
    }
}

/// Validates and saves the settings. Refused before `connect`.
pub fn configure(env: &mut Env, settings: Settings) -> Result<(), AppError> {
    state::load_connection(env.kv)?;
    let mut logs = super::open_log(env)?;
    if let Err(e) = check_settings(&settings) {
        logs.append(draft(env, LogAction::Configure, LogOutcome::Failure, format!("configuration refused: {e}")));
        logs.flush(env.kv).map_err(AppError::Storage)?;
        return Err(e);
    }
    let kept_before = super::retention(&state::load_settings(env.kv).unwrap_or_default());
    state::put(env.kv, "settings", &settings)?;
    let kept = super::retention(&settings);
    let pruned = crate::logs::prune(env.kv, kept_before, kept).map_err(AppError::Storage)?;
    let mut said = format!("configured: {}", describe(&settings));
    if pruned > 0 {
        said.push_str(&format!("; {pruned} older log entries deleted to keep the newest {kept}"));
    }
    let mut logs = logs.with_retention(kept);
    logs.append(draft(env, LogAction::Configure, LogOutcome::Success, said));
    logs.flush(env.kv).map_err(AppError::Storage)
}

/// Settings `configure` (and a preview) accepts; the first field at fault is named.
pub(crate) fn check_settings(settings: &Settings) -> Result<(), AppError> {
    if let Err(e) = Rules::parse(&settings.scope) {
        let field = format!("settings.scope[{}]", e.rule);
        return Err(AppError::invalid(&field, format!("column {}: {}", e.column, e.message)));
    }
    if let Err((n, why)) = crate::reconcile::mapping::check_extra_fields(&settings.extra_fields) {
        return Err(AppError::invalid(&format!("settings.extra-fields[{n}]"), why));
    }
    let refused = match (settings.provisioning, settings.deprovision_limit) {
        (Some(ProvisionTiming::DaysBeforeStart(n)), _) if n == 0 || n > MAX_DAYS_BEFORE_START => {
            Some(AppError::invalid(
                "settings.provisioning.days-before-start",
                format!("must be between 1 and {MAX_DAYS_BEFORE_START} (use on-start-date for 0), got {n}"),
            ))
        }
        (_, Some(DeprovisionLimit::Percent(p))) if p == 0 || p > 100 => {
            Some(AppError::invalid("settings.deprovision-limit.percent", format!("must be between 1 and 100, got {p}")))
        }
        _ if settings.log_retention.is_some_and(|n| !(MIN_RETENTION..=MAX_RETENTION).contains(&n)) => {
            Some(AppError::invalid(
                "settings.log-retention",
                format!(
                    "must be between {MIN_RETENTION} and {MAX_RETENTION} entries, got {}",
                    settings.log_retention.unwrap_or_default()
                ),
            ))
        }
        _ => match settings.deprovision_window_minutes {
            Some(m) if m == 0 || m > crate::reconcile::brake::MAX_WINDOW_MINUTES => Some(AppError::invalid(
                "settings.deprovision-window-minutes",
                format!(
                    "must be between 1 minute and 30 days ({}), got {m}",
                    crate::reconcile::brake::MAX_WINDOW_MINUTES
                ),
            )),
            _ => None,
        },
    };
    refused.map_or(Ok(()), Err)
}

pub fn read_logs(env: &mut Env, query: &LogQuery) -> Result<LogPage, AppError> {
    if query.limit > crate::logs::MAX_PAGE_LIMIT {
        return Err(AppError::invalid("query.limit", format!("must be at most {}", crate::logs::MAX_PAGE_LIMIT)));
    }
    // The log stays readable when the settings are not (that is when it is needed most).
    let kept = state::load_settings(env.kv).map_or(crate::logs::DEFAULT_RETENTION, |s| super::retention(&s));
    read_page(env.kv, query, kept).map_err(AppError::Storage)
}
