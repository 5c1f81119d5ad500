//! `status` (the tenant's state at a glance) and `retry` (an operator lifts a person's backoff or
//! quarantine).

use crate::error::{AppError, Failure, Service};
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Settings;
use crate::reconcile::retry::HeldPath;
use crate::reconcile::timing::format_time;
use crate::state::{self, AuthState, Schedule};

use super::event::valid_id;
use super::{Env, draft};

/// Quarantined people listed in a status report at most (all are counted).
pub const MAX_LISTED: usize = 100;
/// Held people whose email a status report looks up (each is a read of their link); all are listed.
pub const MAX_LISTED_HELD_EMAILS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    NotConnected,
    Ok,
    Unauthorized,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedPerson {
    pub person_id: String,
    pub since: String,
    pub reason: String,
}

/// A deprovision the brake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDeprovision {
    pub person_id: String,
    pub email: Option<String>,
    pub since: String,
    pub path: HeldPath,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub connection: ConnectionState,
    pub unauthorized: Option<Failure>,
    pub unauthorized_since: Option<String>,
    pub settings: Option<Settings>,
    pub waiting: u32,
    pub next_due: Option<String>,
    pub held: Vec<HeldDeprovision>,
    pub quarantined: Vec<QuarantinedPerson>,
    pub quarantined_count: u32,
    pub retrying: u32,
}

/// Reads only: never writes, never calls a service.
pub fn status(env: &mut Env) -> Result<StatusReport, AppError> {
    let connected = match state::load_connection(env.kv) {
        Ok(_) => true,
        Err(AppError::NotConnected) => false,
        Err(e) => return Err(e),
    };
    let auth = AuthState::load(env.kv)?;
    let connection = match (connected, &auth.unauthorized) {
        (false, _) => ConnectionState::NotConnected,
        (true, Some(_)) => ConnectionState::Unauthorized,
        (true, None) => ConnectionState::Ok,
    };
    let settings = if connected { Some(state::load_settings(env.kv)?) } else { None };
    let schedule = Schedule::load_all(env.kv)?;
    let now = env.now;
    let mut people: Vec<_> = schedule.people().collect();
    state::sort_people(&mut people, state::by_id);
    let mut quarantined: Vec<QuarantinedPerson> = people
        .iter()
        .filter_map(|(id, s)| {
            let q = s.quarantine.as_ref()?;
            Some(QuarantinedPerson { person_id: (*id).clone(), since: q.since.clone(), reason: q.reason.clone() })
        })
        .collect();
    let quarantined_count = quarantined.len() as u32;
    let mut held: Vec<_> = people.iter().filter(|(_, s)| s.held_since.is_some()).copied().collect();
    state::sort_people(&mut held, state::by_held_since);
    let mut held: Vec<HeldDeprovision> = held
        .into_iter()
        .filter_map(|(id, s)| {
            let since = s.held_since.clone()?;
            // Held before the path was recorded: a run held them (events were never held).
            let (path, reason) =
                s.held.as_deref().map_or((HeldPath::Sync, String::new()), |h| (h.path, h.reason.clone()));
            Some(HeldDeprovision { person_id: id.clone(), email: None, since, path, reason })
        })
        .collect();
    // The work email we wrote to their account (held people are linked: only they deprovision).
    for h in held.iter_mut().take(MAX_LISTED_HELD_EMAILS) {
        h.email = state::load_link(env.kv, &h.person_id)?
            .and_then(|l| l.written.get(&crate::reconcile::Attr::UserName).map(str::to_owned));
    }
    quarantined.truncate(MAX_LISTED);
    Ok(StatusReport {
        connection,
        unauthorized: auth.unauthorized.as_ref().map(|u| Failure {
            service: if u.scim { Service::Scim } else { Service::Humaans },
            status: u.status,
            message: u.message.clone(),
        }),
        unauthorized_since: auth.unauthorized.map(|u| u.since),
        settings,
        waiting: people.iter().filter(|(_, s)| s.is_due(now) || s.next_due(now).is_some()).count() as u32,
        next_due: people.iter().filter_map(|(_, s)| s.next_due(now)).min().map(format_time),
        held,
        quarantined,
        quarantined_count,
        retrying: people.iter().filter(|(_, s)| s.failures.is_some() && s.quarantine.is_none()).count() as u32,
    })
}

/// Lifts the person's backoff and quarantine; the next tick tries them again. Logged.
pub fn retry(env: &mut Env, person_id: &str) -> Result<(), AppError> {
    state::load_connection(env.kv)?;
    if !valid_id(person_id) {
        return Err(AppError::invalid(
            "person-id",
            "must be a Humaans person id (letters, digits, - or _; at most 64)",
        ));
    }
    let mut schedule = Schedule::load_people(env.kv, &[person_id.to_owned()])?;
    let state = schedule.entry(person_id);
    let lifted = state.lift(env.now);
    // Even without a failure on record, look at them at the next tick: that is what was asked.
    state.wake_at = Some(format_time(env.now));
    schedule.save(env.kv)?;
    let message = if lifted {
        "retry requested: backoff and quarantine lifted; the next tick tries again"
    } else {
        "retry requested: nothing was failing; the next tick looks at them again"
    };
    let mut logs = super::open_log(env)?;
    logs.append(draft(env, LogAction::Retry, LogOutcome::Success, message).person_id(person_id));
    logs.flush(env.kv).map_err(AppError::Storage)
}
