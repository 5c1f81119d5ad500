//! The shell: each contract function as a plain function over the ports. It loads state, fetches
//! from the services, asks the reconciliation core what to do, carries it out, records and logs.

mod connect;
mod event;
mod execute;
mod sync;
mod tick;

pub use connect::{ConnectInput, ConnectReport, configure, connect, read_logs};
pub use event::{EventKind, EventOutcome, on_employee_event};
pub use sync::{SyncOptions, SyncReport, sync_all};
pub use tick::{TickReport, tick};

use chrono::{DateTime, Utc};

use crate::client::Client;
use crate::error::{AppError, Service};
use crate::logs::{LogAction, LogDraft, LogOutcome, LogStore};
use crate::ports::{HttpTransport, KeyValue};
use crate::reconcile::Settings;
use crate::reconcile::timing::format_time;
use crate::state::{self, Connection};

/// What a call runs against: the host's HTTP and storage, and the time.
pub struct Env<'a> {
    pub http: &'a mut dyn HttpTransport,
    pub kv: &'a mut dyn KeyValue,
    pub now: DateTime<Utc>,
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
    pub humaans: Client,
    pub scim: Client,
    pub logs: LogStore,
}

impl Session {
    pub fn open(env: &mut Env) -> Result<Session, AppError> {
        let connection = state::load_connection(env.kv)?;
        let settings = state::load_settings(env.kv)?;
        let logs = LogStore::load(env.kv).map_err(AppError::Storage)?;
        Ok(Session { settings, humaans: humaans_client(&connection), scim: scim_client(&connection), logs })
    }

    pub fn log(&mut self, env: &Env, draft: LogDraft) {
        let _ = env;
        self.logs.append(draft);
    }

    pub fn flush(&mut self, env: &mut Env) -> Result<(), AppError> {
        self.logs.flush(env.kv).map_err(AppError::Storage)
    }
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
