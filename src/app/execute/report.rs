//! Each outcome counted, listed (the first [`MAX_LISTED_CHANGES`] and every failure) and logged.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Profile;

use super::super::{Change, ChangeKind, Env, Session, draft};
use super::{MAX_LISTED_CHANGES, Run, Subject};

pub(super) fn names(changes: &Profile) -> Vec<String> {
    changes.keys().map(|a| a.name().to_owned()).collect()
}

fn log_action(kind: ChangeKind) -> LogAction {
    match kind {
        ChangeKind::Create => LogAction::Provision,
        ChangeKind::Adopt => LogAction::Adopt,
        ChangeKind::Update => LogAction::Update,
        ChangeKind::Suspend => LogAction::Suspend,
        ChangeKind::Delete => LogAction::Delete,
        ChangeKind::Reactivate => LogAction::Reactivate,
        ChangeKind::LinkManager => LogAction::LinkManager,
    }
}

fn describe(kind: ChangeKind, attributes: &[String]) -> String {
    match kind {
        ChangeKind::Create => "created the Leapsome account".into(),
        ChangeKind::Adopt => "linked the existing Leapsome account".into(),
        ChangeKind::Update => format!("updated {}", attributes.join(", ")),
        ChangeKind::Suspend => "suspended the account (active: false)".into(),
        ChangeKind::Delete => "deactivated the account".into(),
        ChangeKind::Reactivate => "reactivated the account".into(),
        ChangeKind::LinkManager => format!("set the manager to {}", attributes.first().map_or("none", String::as_str)),
    }
}

pub(super) fn record(
    session: &mut Session,
    env: &mut Env,
    run: &mut Run,
    s: &Subject,
    kind: ChangeKind,
    attributes: Vec<String>,
    error: Option<&AppError>,
) {
    let mut entry = match error {
        None => draft(env, log_action(kind), LogOutcome::Success, describe(kind, &attributes)),
        Some(e) => {
            draft(env, log_action(kind), LogOutcome::Failure, format!("{} failed: {e}", describe(kind, &attributes)))
        }
    };
    entry = entry.person(s.person_id.clone(), s.email.clone());
    if let Some(status) = error.and_then(AppError::status) {
        entry = entry.status(status);
    }
    if !run.dry_run {
        session.log(env, entry);
    }
    match (kind, error) {
        (_, Some(_)) => run.failed += 1,
        (ChangeKind::Create, None) => run.created += 1,
        (ChangeKind::Adopt, None) => run.adopted += 1,
        (ChangeKind::Update, None) => run.updated += 1,
        (ChangeKind::Suspend | ChangeKind::Delete, None) => run.deprovisioned += 1,
        (ChangeKind::Reactivate, None) => run.reactivated += 1,
        (ChangeKind::LinkManager, None) => run.managers_linked += 1,
    }
    if error.is_none() && run.changes.len() >= MAX_LISTED_CHANGES {
        run.unlisted_changes += 1;
        return;
    }
    run.changes.push(Change {
        person_id: s.person_id.clone(),
        email: s.email.clone(),
        kind,
        attributes,
        error: error.map(ToString::to_string),
    });
}

/// Logs why a subject was left alone (only when something is worth telling).
pub(crate) fn log_skip(session: &mut Session, env: &mut Env, s: &Subject) {
    if let Some(reason) = &s.decision.skipped {
        let entry = draft(env, LogAction::Skip, LogOutcome::Skipped, reason.clone())
            .person(s.person_id.clone(), s.email.clone());
        session.log(env, entry);
    }
}
