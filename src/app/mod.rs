//! The shell: each contract function as a plain function over the ports. It loads state, fetches
//! from the services, asks the reconciliation core what to do, carries it out, records and logs.

mod brake;
mod connect;
mod event;
mod execute;
mod provision;
mod records;
mod status;
mod sync;
mod teams;
mod tick;
mod webhook;

pub use brake::{ApprovalReport, approve_deprovisions};
pub use connect::{ConnectInput, ConnectReport, configure, connect, read_logs};
pub(crate) use event::valid_id;
pub use event::{EventKind, EventOutcome, on_employee_event};
pub use provision::{ProvisionTrace, TraceStep, provision_person};
pub use status::{ConnectionState, HeldDeprovision, QuarantinedPerson, StatusReport, retry, status};
pub use sync::{ScopeChange, SyncOptions, SyncReport, sync_all};
pub use teams::{TeamChange, TeamChangeKind};
pub use tick::{TickReport, tick};
pub use webhook::{WebhookError, handle_webhook};

use jiff::Timestamp;

use crate::client::Client;
use crate::error::{AppError, Failure, Service};
use crate::logs::{DEFAULT_RETENTION, LogAction, LogDraft, LogOutcome, LogStore, Run};
use crate::ports::{HttpTransport, KeyValue};
use crate::reconcile::Settings;
use crate::reconcile::scope::{Field, Rules};
use crate::reconcile::timing::TimeBudget;
use crate::reconcile::timing::format_time;
use crate::state::{self, AuthState, Connection};

/// What a call runs against: the host's HTTP and storage, and the time.
pub struct Env<'a> {
    pub http: &'a mut dyn HttpTransport,
    pub kv: &'a mut dyn KeyValue,
    pub now: Timestamp,
    /// The run this call belongs to: every log entry it writes carries it.
    pub run: Run,
}

/// A change made (or planned) to one person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub person_id: String,
    pub email: String,
    pub kind: ChangeKind,
    pub attributes: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Adopt,
    Update,
    Suspend,
    Delete,
    Reactivate,
    LinkManager,
}

/// Everything a connected call needs: the clients, settings and the log.
pub(crate) struct Session {
    pub settings: Settings,
    /// `settings.scope`, read.
    pub scope: Rules,
    pub humaans: Client,
    pub scim: Client,
    pub logs: LogStore,
    /// A service refused the token during this call (for the tenant's `unauthorized` state).
    pub refused: Option<Failure>,
    /// Set when `connect` could not confirm the Humaans token's scope.
    pub scope_warning: Option<String>,
    /// The SCIM service has no DELETE (found earlier).
    pub no_delete: bool,
    /// When the call started (the transport's monotonic clock), for [`Session::out_of_time`].
    pub started_ms: u64,
    /// Set for calls whose writes may be cut short and resumed by the next call (`sync-all`).
    pub time_budget: Option<TimeBudget>,
    /// Whether a batch of writes went out in this call (the first always does: progress).
    pub sent_writes: bool,
}

/// `sync-all`'s budget. The reads of 100,000 people take ~20 s of it on a loaded machine, and what
/// follows the last batch (manager decisions, the schedule, folding links) a few seconds: within a
/// one-minute CPU deadline, which counts only the guest's own time (this counts host time too).
/// 25 s left too few writes per call at 100,000 people (20 calls, each re-reading everything).
pub const SYNC_TIME_BUDGET: TimeBudget = TimeBudget { busy_ms: 40_000, wall_ms: 300_000 };

impl Session {
    /// Opens a call that may write. Refused while the connection is `unauthorized`: writes stop
    /// until `connect` succeeds again. Unreadable settings or connection are a storage error and
    /// a log entry, never a silent default.
    pub fn open(env: &mut Env) -> Result<Session, AppError> {
        let mut logs = LogStore::load(env.kv).map_err(AppError::Storage)?.for_run(&env.run);
        let opened = (|| {
            let connection = state::load_connection(env.kv)?;
            let settings = state::load_settings(env.kv)?;
            // Fails closed: rules that no longer read must not let everyone in.
            let scope = Rules::parse(&settings.scope).map_err(|e| {
                AppError::Storage(format!("the stored scope rules do not read ({e}); configure them again"))
            })?;
            let no_delete = state::ScimCaps::load(env.kv)?.no_delete;
            if let Some(u) = AuthState::load(env.kv)?.unauthorized {
                let service = if u.scim { Service::Scim } else { Service::Humaans };
                return Err(AppError::Unauthorized(Failure {
                    service,
                    status: u.status,
                    message: format!(
                        "the connection is unauthorized since {} ({}); writes are stopped until `connect` succeeds again",
                        u.since, u.message
                    ),
                }));
            }
            Ok((connection, settings, scope, no_delete))
        })();
        let (connection, settings, scope, no_delete) = match opened {
            Ok(x) => x,
            Err(e @ AppError::Storage(_)) => {
                logs.append(draft(env, LogAction::ConnectionState, LogOutcome::Failure, e.to_string()));
                let _ = logs.flush(env.kv);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let logs = logs.with_retention(retention(&settings));
        Ok(Session {
            settings,
            scope,
            humaans: humaans_client(&connection),
            scim: scim_client(&connection),
            logs,
            refused: None,
            scope_warning: connection.scope_warning,
            no_delete,
            started_ms: env.http.monotonic_millis(),
            time_budget: None,
            sent_writes: false,
        })
    }

    /// Whether this call should leave the writes it has not started to the next call.
    pub fn out_of_time(&mut self, env: &mut Env) -> bool {
        let Some(budget) = self.time_budget else { return false };
        let slept = self.humaans.slept_ms + self.scim.slept_ms;
        budget.spent(self.started_ms, env.http.monotonic_millis(), slept)
    }

    /// Ends a call: records whether a service refused the token (two calls in a row make the
    /// connection `unauthorized`, logged once) and writes the log.
    pub fn finish<T>(mut self, env: &mut Env, result: Result<T, AppError>) -> Result<T, AppError> {
        let refused = match &result {
            Err(AppError::Unauthorized(f)) => Some(f.clone()),
            _ => self.refused.clone(),
        };
        if let Ok(Some(true)) = AuthState::record(env.kv, refused.as_ref(), env.now) {
            let f = refused.expect("refused");
            let mut entry = draft(
                env,
                LogAction::ConnectionState,
                LogOutcome::Failure,
                format!(
                    "{} refused the token on consecutive calls ({}): the connection is unauthorized and writes stop until `connect` succeeds",
                    f.service, f.message
                ),
            );
            if let Some(status) = f.status {
                entry = entry.status(status);
            }
            self.log(env, entry);
        }
        let flushed = self.flush(env);
        let value = result?;
        flushed?;
        Ok(value)
    }

    /// Buffers an entry; a long call writes its entries in batches as it goes, so a call killed
    /// by the host loses at most one batch and memory stays bounded. A failed batch stays
    /// buffered and is retried by the next flush (the call's final flush reports the error).
    pub fn log(&mut self, env: &mut Env, draft: LogDraft) {
        self.logs.append(draft);
        if self.logs.wants_flush() {
            let _ = self.flush(env);
        }
    }

    pub fn flush(&mut self, env: &mut Env) -> Result<(), AppError> {
        self.logs.flush(env.kv).map_err(AppError::Storage)
    }
}

/// The optional Humaans fields a call reads: the mapped extra fields, and the place of work
/// when a scope rule tests it (read, not written, unless mapped too).
pub(crate) fn fields_to_read(session: &Session) -> Vec<crate::reconcile::ExtraField> {
    let mut fields = session.settings.extra_fields.clone();
    if session.scope.uses(Field::Location) && !fields.contains(&crate::reconcile::ExtraField::Location) {
        fields.push(crate::reconcile::ExtraField::Location);
    }
    fields
}

/// The tenant's log retention.
pub(crate) fn retention(settings: &Settings) -> u32 {
    settings.log_retention.unwrap_or(DEFAULT_RETENTION)
}

/// The log for a call that opens no [`Session`]: stamped with the call's run, keeping the
/// tenant's retention (the default when the settings are unreadable: that is reported by the
/// calls that need them).
pub(crate) fn open_log(env: &mut Env) -> Result<LogStore, AppError> {
    let kept = state::load_settings(env.kv).map_or(DEFAULT_RETENTION, |s| retention(&s));
    Ok(LogStore::load(env.kv).map_err(AppError::Storage)?.for_run(&env.run).with_retention(kept))
}

pub(crate) fn humaans_client(c: &Connection) -> Client {
    Client::new(Service::Humaans, &c.humaans_base_url, &c.humaans_token)
}

pub(crate) fn scim_client(c: &Connection) -> Client {
    let client = Client::new(Service::Scim, &c.scim_base_url, &c.scim_token);
    match c.scim_requests_per_second.unwrap_or(crate::scim::REQUESTS_PER_SECOND) {
        0 => client,
        n => client.paced(n as usize),
    }
}

pub(crate) fn draft(env: &Env, action: LogAction, outcome: LogOutcome, message: impl Into<String>) -> LogDraft {
    LogDraft::new(format_time(env.now), action, outcome, message)
}

/// Logs a call-level failure and persists the log, then hands the error back.
pub(crate) fn fail_logged(session: &mut Session, env: &mut Env, action: LogAction, error: AppError) -> AppError {
    fail_logged_for(session, env, action, None, error)
}

/// As [`fail_logged`], about one person (so the log's person filter finds it).
pub(crate) fn fail_logged_for(
    session: &mut Session,
    env: &mut Env,
    action: LogAction,
    person_id: Option<&str>,
    error: AppError,
) -> AppError {
    let mut d = draft(env, action, LogOutcome::Failure, error.to_string());
    if let Some(status) = error.status() {
        d = d.status(status);
    }
    if let Some(id) = person_id {
        d = d.person_id(id);
    }
    session.log(env, d);
    let _ = session.flush(env);
    error
}
