//! `on-employee-event`: events are hints; the current state is re-read from Humaans.

use crate::error::AppError;
use crate::humaans;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::mapping::current_role;
use crate::reconcile::timing::{parse_time, person_today};
use crate::reconcile::{Decision, Dialect, Mode, Op, RemoteUser};
use crate::scim;
use crate::state::{self, CachedCompany, Schedule};

use super::execute::{Facts, Run, Subject, decide_for, gate, log_skip, reschedule, write_managers, write_profiles};
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
    /// Teams the person left or joined.
    pub team_changes: Vec<super::TeamChange>,
}

/// Humaans ids are short alphanumeric strings; anything else is a malformed event.
pub(crate) fn valid_id(id: &str) -> bool {
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
    let result = run_event(&mut session, env, event_id, kind, person_id);
    session.finish(env, result)
}

fn run_event(
    session: &mut Session,
    env: &mut Env,
    event_id: &str,
    kind: EventKind,
    person_id: &str,
) -> Result<EventOutcome, AppError> {
    let mut schedule = Schedule::load_people(env.kv, &[person_id.to_owned()])?;
    log_unreadable(session, env, &mut schedule);
    let mut run = Run { no_delete: session.no_delete, ..Run::default() };
    let mut facts = Facts::new(session.scope.clone());
    let subject = match prepare_person(session, env, &mut schedule, &mut facts, person_id, Mode::Event) {
        Ok(s) => s,
        Err(AppError::UnknownPerson(id)) if kind == EventKind::Deleted => {
            let reason = "deleted in Humaans; no linked account".to_owned();
            let entry =
                draft(env, LogAction::Skip, LogOutcome::Skipped, format!("event {event_id}: {reason}")).person_id(id);
            session.log(env, entry);
            schedule.save(env.kv)?;
            return Ok(EventOutcome { skipped: Some(reason), ..EventOutcome::default() });
        }
        Err(e) => {
            let _ = schedule.save(env.kv);
            return Err(fail_logged_for(session, env, LogAction::Event, Some(person_id), e));
        }
    };
    let mut subjects = vec![subject];
    let braked = brake_one(session, env, &mut schedule, &mut subjects, false)?;
    carry_out(session, env, &mut schedule, &mut facts, &mut subjects, Mode::Event, &mut run)?;
    super::brake::release(env, braked.reservation, run.deprovisioned)?;
    schedule.save(env.kv)?;
    // After the person's account: the teams they left or joined.
    let team_changes = super::teams::after_people(session, env, &facts, &subjects)?;
    let subject = subjects.swap_remove(0);
    Ok(EventOutcome {
        changes: run.changes,
        skipped: subject.decision.skipped.clone(),
        manager_pending: subject.decision.manager_pending,
        team_changes,
    })
}

/// Logs schedule records that could not be decoded (they are replaced and looked at again).
pub(crate) fn log_unreadable(session: &mut Session, env: &mut Env, schedule: &mut Schedule) {
    for (id, error) in std::mem::take(&mut schedule.unreadable) {
        schedule.entry(&id).wake_at = Some(crate::reconcile::timing::format_time(env.now));
        let entry = draft(env, LogAction::Tick, LogOutcome::Failure, format!("{error}; it was reset")).person_id(id);
        session.log(env, entry);
    }
}

/// Re-reads one person from Humaans and decides for them (events and ticks). Adds what it read
/// to `facts`, so several people's subjects can be carried out together.
pub(crate) fn prepare_person(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &mut Facts,
    person_id: &str,
    mode: Mode,
) -> Result<Subject, AppError> {
    let settings = session.settings.clone();
    let mut person = humaans::person(&mut session.humaans, env.http, person_id)?;
    if let Some(p) = person.as_mut() {
        // Mapped extra fields: this person's place of work and custom values.
        let read = super::fields_to_read(session);
        humaans::fill_extras(&mut session.humaans, env.http, std::slice::from_mut(p), &read, true)?;
    }
    let link = state::load_link(env.kv, person_id)?;
    if person.is_none() && link.is_none() {
        let state = schedule.entry(person_id);
        state.wake_at = None;
        state.manager_pending = false;
        return Err(AppError::UnknownPerson(person_id.to_owned()));
    }
    match &person {
        Some(p) => {
            facts.company = company_name(session, env, p.company_id())?;
            let roles = humaans::job_roles_of(&mut session.humaans, env.http, person_id)?;
            let manager_id =
                current_role(&roles, person_today(p, env.now)).and_then(|r| r.reporting_to().map(str::to_owned));
            facts.roles.insert(person_id.to_owned(), roles);
            if let Some(manager_id) = manager_id {
                resolve_manager(session, env, facts, &manager_id)?;
            }
            facts.people.insert(person_id.to_owned(), p.clone());
        }
        None => {
            facts.missing.insert(person_id.to_owned());
        }
    }
    if let Some(l) = &link {
        facts.accounts.insert(person_id.to_owned(), l.scim_id.clone());
    }
    let email = person
        .as_ref()
        .and_then(|p| p.email().map(str::to_owned))
        .or_else(|| link.as_ref().and_then(|l| l.written.get(&crate::reconcile::Attr::UserName).map(str::to_owned)))
        .unwrap_or_default();
    let fingerprint = facts.fingerprint_of(person_id);
    let was_pending = schedule.get(person_id).manager_pending;
    if let Some(reason) = gate(session, env, schedule, person_id, &email, fingerprint, false, true) {
        return Ok(Subject {
            person_id: person_id.to_owned(),
            email,
            link,
            found: None,
            decision: Decision { skipped: Some(reason), ..Decision::default() },
            was_pending,
            remote: None,
            gated: true,
        });
    }
    let mut decision = decide_for(facts, person_id, link.as_ref(), None, None, &settings, mode, env.now);
    let mut found = None;
    if decision.ops.iter().any(|o| matches!(o, Op::Create { .. })) {
        found = scim::find_by_user_name(&mut session.scim, env.http, &email)?;
        if let Some(account) = &found {
            decision = match owner_of(env, account, person_id)? {
                Some(owner) => duplicate_decision(&email, &owner),
                None => decide_for(facts, person_id, link.as_ref(), Some(account), None, &settings, mode, env.now),
            };
        }
    }
    let mut subject = Subject {
        person_id: person_id.to_owned(),
        email,
        link,
        found: found.map(std::rc::Rc::new),
        decision,
        was_pending,
        remote: None,
        gated: false,
    };
    note_duplicate(session, env, schedule, &mut subject);
    Ok(subject)
}

/// Another person whose link holds this account (`externalId` names them): two people with one
/// work email. The one with the link keeps the account.
fn owner_of(env: &mut Env, account: &RemoteUser, person_id: &str) -> Result<Option<String>, AppError> {
    let Some(other) = account.external_id().filter(|x| *x != person_id) else { return Ok(None) };
    let linked = state::load_link(env.kv, other)?.is_some_and(|l| l.scim_id == account.id());
    Ok(linked.then(|| other.to_owned()))
}

pub(crate) const DUPLICATE: &str = "duplicate work email";

pub(crate) fn duplicate_decision(email: &str, keeper: &str) -> Decision {
    Decision {
        skipped: Some(format!("{DUPLICATE} {email}: person {keeper} keeps the account; fix the email in Humaans")),
        ..Decision::default()
    }
}

/// Duplicates are logged once (until the data is fixed), not on every run.
pub(crate) fn note_duplicate(session: &mut Session, env: &mut Env, schedule: &mut Schedule, s: &mut Subject) {
    let noted = schedule.get(&s.person_id).noted;
    match s.decision.skipped.as_deref().filter(|r| r.starts_with(DUPLICATE)) {
        Some(reason) if noted.as_deref() != Some(reason) => {
            schedule.entry(&s.person_id).noted = Some(reason.to_owned());
            let entry = draft(env, LogAction::Skip, LogOutcome::Skipped, reason.to_owned())
                .person(s.person_id.clone(), s.email.clone());
            session.log(env, entry);
        }
        Some(_) => {}
        None if noted.as_deref().is_some_and(|n| n.starts_with(DUPLICATE)) => {
            schedule.entry(&s.person_id).noted = None;
        }
        None => {}
    }
}

/// Carries out decided subjects: profile writes, manager links, the schedule.
pub(crate) fn carry_out(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &mut Facts,
    subjects: &mut Vec<Subject>,
    mode: Mode,
    run: &mut Run,
) -> Result<(), AppError> {
    for s in subjects.iter() {
        let duplicate = s.decision.skipped.as_deref().is_some_and(|r| r.starts_with(DUPLICATE));
        let worth_telling = mode == Mode::Event || s.decision.skipped.as_deref().is_some_and(|r| !r.contains("due"));
        if worth_telling && !duplicate && !s.gated {
            log_skip(session, env, s);
        }
    }
    write_profiles(session, env, schedule, facts, subjects, run)?;
    write_managers(session, env, schedule, facts, subjects, &mut std::iter::empty(), mode, run)?;
    reschedule(schedule, subjects, run);
    Ok(())
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
        facts.missing.insert(manager_id.to_owned());
        return Ok(());
    };
    if link.is_none()
        && let Some(email) = manager.email()
        && let Some(account) = scim::find_by_user_name(&mut session.scim, env.http, email)?
    {
        facts.accounts_by_email.insert(email, account.id().to_owned());
    }
    facts.people.insert(manager_id.to_owned(), manager);
    Ok(())
}

/// The deprovision brake for one person's prepared subject, as an event applies it (provision on
/// demand too): the limit's default is a share of the accounts managed, counted only when the
/// decision deprovisions.
pub(crate) fn brake_one(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    subjects: &mut [Subject],
    dry_run: bool,
) -> Result<super::brake::Braked, AppError> {
    let linked_accounts = if subjects.iter().any(|s| s.decision.deprovisions()) {
        let keys = env.kv.list_keys().map_err(AppError::Storage)?;
        state::Links::load(env.kv, &keys)?.count()
    } else {
        0
    };
    let path = crate::reconcile::retry::HeldPath::Event;
    super::brake::apply(session, env, schedule, subjects, linked_accounts, path, false, dry_run)
}
