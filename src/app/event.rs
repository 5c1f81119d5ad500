//! `on-employee-event`: events are hints; the current state is re-read from Humaans.

use crate::error::AppError;
use crate::humaans;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::mapping::current_role;
use crate::reconcile::timing::{parse_time, person_today};
use crate::reconcile::{Dialect, Mode, Op};
use crate::scim;
use crate::state::{self, CachedCompany, Schedule};

use super::execute::{Facts, Run, Subject, decide_for, log_skip, reschedule, write_managers, write_profiles};
use super::{Change, Env, Session, draft, fail_logged, fail_logged_for};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    JobRoleChanged,
    Offboarded,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventOutcome {
    pub changes: Vec<Change>,
    pub skipped: Option<String>,
    pub manager_pending: bool,
}

/// Humaans ids are short alphanumeric strings; anything else is a malformed event.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn on_employee_event(
    env: &mut Env,
    event_id: &str,
    kind: EventKind,
    person_id: &str,
    occurred_at: &str,
) -> Result<EventOutcome, AppError> {
    let mut session = Session::open(env)?;
    let invalid = if !valid_id(person_id) {
        Some(AppError::invalid("event.person-id", "must be a Humaans person id (letters, digits, - or _; at most 64)"))
    } else if event_id.trim().is_empty() || event_id.len() > 200 {
        Some(AppError::invalid("event.id", "must be non-empty and at most 200 characters"))
    } else if parse_time(occurred_at).is_none() {
        Some(AppError::invalid("event.occurred-at", "must be an RFC 3339 time, e.g. 2026-11-28T09:00:00Z"))
    } else {
        None
    };
    if let Some(e) = invalid {
        return Err(fail_logged(&mut session, env, LogAction::Event, e));
    }
    let mut schedule = Schedule::load(env.kv)?;
    let mut run = Run::default();
    let subject = match process_person(&mut session, env, &mut schedule, person_id, Mode::Event, &mut run) {
        Ok(s) => s,
        Err(AppError::UnknownPerson(id)) if kind == EventKind::Deleted => {
            let reason = "deleted in Humaans; no linked account".to_owned();
            let entry =
                draft(env, LogAction::Skip, LogOutcome::Skipped, format!("event {event_id}: {reason}")).person_id(id);
            session.log(env, entry);
            session.flush(env)?;
            return Ok(EventOutcome { skipped: Some(reason), ..EventOutcome::default() });
        }
        Err(e) => return Err(fail_logged_for(&mut session, env, LogAction::Event, Some(person_id), e)),
    };
    schedule.save(env.kv)?;
    session.flush(env)?;
    Ok(EventOutcome {
        changes: run.changes,
        skipped: subject.decision.skipped.clone(),
        manager_pending: subject.decision.manager_pending,
    })
}

/// Re-reads one person and brings their account in line (events and ticks).
pub(crate) fn process_person(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    person_id: &str,
    mode: Mode,
    run: &mut Run,
) -> Result<Subject, AppError> {
    let settings = session.settings;
    let person = humaans::person(&mut session.humaans, env.http, person_id)?;
    let link = state::load_link(env.kv, person_id)?;
    if person.is_none() && link.is_none() {
        schedule.wake(person_id, None);
        schedule.manager_pending(person_id, false);
        return Err(AppError::UnknownPerson(person_id.to_owned()));
    }
    let mut facts = Facts::default();
    if let Some(p) = &person {
        facts.company = company_name(session, env, p.company_id.as_deref())?;
        let roles = humaans::job_roles_of(&mut session.humaans, env.http, person_id)?;
        let manager_id = current_role(&roles, person_today(p, env.now)).and_then(|r| r.reporting_to.clone());
        facts.roles.insert(person_id.to_owned(), roles);
        if let Some(manager_id) = manager_id {
            resolve_manager(session, env, &mut facts, &manager_id)?;
        }
        facts.people.insert(person_id.to_owned(), p.clone());
    }
    if let Some(l) = &link {
        facts.accounts.insert(person_id.to_owned(), l.scim_id.clone());
    }
    let mut decision = decide_for(&facts, person_id, link.as_ref(), None, &settings, mode, env.now);
    let mut found = None;
    if decision.ops.iter().any(|o| matches!(o, Op::Create { .. })) {
        let email = person.as_ref().and_then(|p| p.email.clone()).unwrap_or_default();
        found = scim::find_by_user_name(&mut session.scim, env.http, &email)?;
        if found.is_some() {
            decision = decide_for(&facts, person_id, link.as_ref(), found.as_ref(), &settings, mode, env.now);
        }
    }
    let email = person
        .as_ref()
        .and_then(|p| p.email.clone())
        .or_else(|| link.as_ref().and_then(|l| l.written.get(&crate::reconcile::Attr::UserName).cloned()))
        .unwrap_or_default();
    let mut subjects = [Subject {
        person_id: person_id.to_owned(),
        email,
        link,
        found,
        decision,
        was_pending: schedule.pending_managers.contains(person_id),
    }];
    if mode == Mode::Event || subjects[0].decision.skipped.as_deref().is_some_and(|s| !s.contains("due")) {
        log_skip(session, env, &subjects[0]);
    }
    write_profiles(session, env, schedule, &mut facts, &mut subjects, run)?;
    write_managers(session, env, schedule, &facts, &mut subjects, mode, run)?;
    reschedule(schedule, &subjects, run);
    let [subject] = subjects;
    Ok(subject)
}

/// The company name, fetched once and cached in tenant storage.
fn company_name(session: &mut Session, env: &mut Env, company_id: Option<&str>) -> Result<Option<String>, AppError> {
    if let Some(cached) = state::get::<CachedCompany>(env.kv, "company")?
        && cached.name.is_some()
        && (cached.id.is_none() || cached.id.as_deref() == company_id)
    {
        return Ok(cached.name);
    }
    let name = humaans::company_name(&mut session.humaans, env.http, company_id)?;
    state::put(env.kv, "company", &CachedCompany { id: company_id.map(str::to_owned), name: name.clone() })?;
    Ok(name)
}

/// Finds the manager's account: ours (a link), or an existing one by their work email. Reads the
/// manager's person record only when the email is needed (Leapsome dialect, or no link).
fn resolve_manager(session: &mut Session, env: &mut Env, facts: &mut Facts, manager_id: &str) -> Result<(), AppError> {
    let link = state::load_link(env.kv, manager_id)?;
    let need_email = session.settings.dialect == Dialect::Leapsome || link.is_none();
    if let Some(l) = &link {
        facts.accounts.insert(manager_id.to_owned(), l.scim_id.clone());
    }
    if !need_email {
        return Ok(());
    }
    let Some(manager) = humaans::person(&mut session.humaans, env.http, manager_id)? else {
        return Ok(());
    };
    if link.is_none()
        && let Some(email) = manager.email.as_deref()
        && let Some(account) = scim::find_by_user_name(&mut session.scim, env.http, email)?
    {
        facts.accounts_by_email.insert(email.to_lowercase(), account.id);
    }
    facts.people.insert(manager_id.to_owned(), manager);
    Ok(())
}
