//! Whether to attempt a person now (backoff and quarantine), and what a failure does to them.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::retry::{Attempt, FailureOutcome};
use crate::reconcile::timing::format_time;
use crate::state::Schedule;

use super::super::{Env, Session, draft};
use super::{Facts, Subject};

/// Whether to attempt a person now, given their backoff and quarantine. A person whose Humaans
/// record changed since is attempted (and a quarantine lift is logged once). Returns the reason
/// to skip otherwise.
///
/// Backoff paces the automatic retries (ticks, events); `sync-all` is the operator's "try
/// everything now" and a daily reconcile, so it ignores backoff after transient failures
/// (`respect_backoff: false`), but not after a permanent refusal (a 4xx): that waits for the
/// Humaans record to change, the backoff to run out, or `retry`.
/// Quarantine holds everywhere: no attempts until the record changes or `retry`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gate(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    person_id: &str,
    email: &str,
    fingerprint: u64,
    dry_run: bool,
    respect_backoff: bool,
) -> Option<String> {
    let state = schedule.get(person_id);
    // `sync-all` retries people failing for passing reasons at once, but not a write the
    // service refused outright: the same request would be refused again.
    let refused = state.failures.as_ref().is_some_and(|f| f.first_permanent_at.is_some());
    match state.attempt(env.now, fingerprint) {
        Attempt::Backoff(_) if !respect_backoff && !refused => None,
        Attempt::Quarantined => {
            let q = state.quarantine.as_ref().expect("quarantined");
            Some(format!("quarantined since {} ({}); retry with `retry --person {person_id}`", q.since, q.reason))
        }
        Attempt::Backoff(at) => Some(format!("failing; next retry at {}", format_time(at))),
        Attempt::Yes => {
            if state.quarantine.is_some() && !dry_run {
                schedule.entry(person_id).record_success();
                let entry = draft(
                    env,
                    LogAction::Quarantine,
                    LogOutcome::Success,
                    "quarantine lifted: the Humaans record changed",
                )
                .person(person_id.to_owned(), email.to_owned());
                session.log(env, entry);
            }
            None
        }
    }
}

/// `note_failure` for the person a sync is working on.
pub(super) fn note_subject_failure(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &Facts,
    s: &Subject,
    e: &AppError,
) {
    note_failure(session, env, schedule, &s.person_id, &s.email, facts.fingerprint_of(&s.person_id), e);
}

/// Whether an error says the data is wrong for the service (retrying the same request will not
/// help): a 4xx other than 408 and 429, and not a refused token (that is the connection's state).
pub(crate) fn is_permanent(e: &AppError) -> bool {
    matches!(e, AppError::Upstream(f) if f.status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429))
}

/// Records a person's failure: backoff, and after a week of refusals quarantine (logged once).
/// A refused token is the connection's problem, not the person's: it is remembered for the
/// tenant's `unauthorized` state instead.
pub(crate) fn note_failure(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    person_id: &str,
    email: &str,
    fingerprint: u64,
    e: &AppError,
) {
    if let AppError::Unauthorized(f) = e {
        session.refused.get_or_insert_with(|| f.clone());
        schedule.entry(person_id).wake_at = Some(format_time(env.now));
        return;
    }
    let outcome = schedule.entry(person_id).record_failure(env.now, &e.to_string(), is_permanent(e), fingerprint);
    if outcome == FailureOutcome::Quarantined {
        let entry = draft(
            env,
            LogAction::Quarantine,
            LogOutcome::Failure,
            format!("quarantined after 7 days of failures: no attempts until the Humaans record changes or `retry --person {person_id}`; last error: {e}"),
        )
        .person(person_id.to_owned(), email.to_owned());
        let entry = if let Some(st) = e.status() { entry.status(st) } else { entry };
        session.log(env, entry);
    }
}
