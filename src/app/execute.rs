//! Carrying out decisions: the writes for many people at once (concurrently, within a write
//! budget), then their manager links. Each success updates the stored link right away, so a call
//! cut off half-way loses nothing; each outcome is logged.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::client::{Call, Reply};
use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::ports::Method;
use crate::reconcile::mapping::{changed_attributes, current_role};
use crate::reconcile::render::{active_body, create_body, manager_body, update_body};
use crate::reconcile::timing::{format_time, person_today};
use crate::reconcile::{
    Attr, Decision, Inputs, JobRole, Link, ManagerInput, Mode, Op, Person, Profile, RemoteUser, Settings, decide,
};
use crate::scim;
use crate::state::{self, Schedule};

use super::{Change, ChangeKind, Env, Session, draft};

/// Writes sent per batch: bounds the replies held in memory at once.
const WRITE_BATCH: usize = 256;

/// What the shell has read, for deciding.
#[derive(Default)]
pub(crate) struct Facts {
    pub people: HashMap<String, Person>,
    pub roles: HashMap<String, Vec<JobRole>>,
    pub company: Option<String>,
    /// Person id -> SCIM id of the account we manage (or just created).
    pub accounts: HashMap<String, String>,
    /// Work email (lower case) -> an existing account, for managers we do not manage.
    pub accounts_by_email: HashMap<String, String>,
}

impl Facts {
    pub fn manager_of(&self, person: &Person, now: DateTime<Utc>) -> ManagerInput {
        let roles = self.roles.get(&person.id).map(Vec::as_slice).unwrap_or(&[]);
        let Some(manager_id) = current_role(roles, person_today(person, now)).and_then(|r| r.reporting_to.clone())
        else {
            return ManagerInput::None;
        };
        let email = self.people.get(&manager_id).and_then(|m| m.email.clone());
        let account = self
            .accounts
            .get(&manager_id)
            .cloned()
            .or_else(|| email.as_ref().and_then(|e| self.accounts_by_email.get(&e.to_lowercase()).cloned()));
        ManagerInput::Person { person_id: manager_id, email, account }
    }
}

/// One person on the way through a call.
pub(crate) struct Subject {
    pub person_id: String,
    pub email: String,
    pub link: Option<Link>,
    pub found: Option<RemoteUser>,
    pub decision: Decision,
    /// Whether this person was in the pending-manager set before the call.
    pub was_pending: bool,
}

pub(crate) fn decide_for(
    facts: &Facts,
    person_id: &str,
    link: Option<&Link>,
    found: Option<&RemoteUser>,
    settings: &Settings,
    mode: Mode,
    now: DateTime<Utc>,
) -> Decision {
    let person = facts.people.get(person_id);
    let manager = person.map_or(ManagerInput::None, |p| facts.manager_of(p, now));
    decide(&Inputs {
        person_id,
        person,
        roles: facts.roles.get(person_id).map(Vec::as_slice).unwrap_or(&[]),
        company_name: facts.company.as_deref(),
        manager,
        link,
        match_found: found,
        settings,
        mode,
        now,
    })
}

/// Counts and changes of one call.
#[derive(Default)]
pub(crate) struct Run {
    pub dry_run: bool,
    pub budget: Option<u32>,
    pub writes: u32,
    /// Writes planned but not sent (budget exhausted).
    pub deferred: u32,
    pub created: u32,
    pub adopted: u32,
    pub updated: u32,
    pub deprovisioned: u32,
    pub reactivated: u32,
    pub managers_linked: u32,
    pub failed: u32,
    pub changes: Vec<Change>,
}

impl Run {
    fn take_budget(&mut self) -> bool {
        match self.budget {
            Some(b) if self.writes >= b => {
                self.deferred += 1;
                false
            }
            _ => {
                self.writes += 1;
                true
            }
        }
    }
}

fn user_name_of(s: &Subject) -> String {
    s.decision
        .profile
        .as_ref()
        .and_then(|p| p.get(&Attr::UserName))
        .or_else(|| s.link.as_ref().and_then(|l| l.written.get(&Attr::UserName)))
        .cloned()
        .unwrap_or_else(|| s.email.clone())
}

fn names(changes: &Profile) -> Vec<String> {
    changes.keys().map(|a| a.name().to_owned()).collect()
}

/// The single profile write of a person (POST, one merged PATCH, or DELETE), and what it does.
fn profile_write(s: &Subject, settings: &Settings) -> Option<(Call, Vec<ChangeKind>, Profile)> {
    let ops = &s.decision.ops;
    let mut kinds = Vec::new();
    let mut changes = Profile::new();
    let mut reactivate = false;
    let mut account = s.link.as_ref().map(|l| l.scim_id.clone());
    for op in ops {
        match op {
            Op::Create { profile } => {
                return Some((
                    Call::with(Method::Post, "/Users", Some(create_body(profile))),
                    vec![ChangeKind::Create],
                    profile.clone(),
                ));
            }
            Op::Adopt { scim_id } => {
                kinds.push(ChangeKind::Adopt);
                account = Some(scim_id.clone());
            }
            Op::Reactivate => {
                kinds.push(ChangeKind::Reactivate);
                reactivate = true;
            }
            Op::Update { changes: c } => {
                kinds.push(ChangeKind::Update);
                changes = c.clone();
            }
            Op::Suspend => {
                let body = active_body(false, &user_name_of(s), settings.dialect);
                return Some((
                    Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)),
                    vec![ChangeKind::Suspend],
                    changes,
                ));
            }
            Op::Delete => {
                return Some((
                    Call::with(Method::Delete, scim::user_path(account.as_deref()?), None),
                    vec![ChangeKind::Delete],
                    changes,
                ));
            }
            Op::SetManager { .. } => {}
        }
    }
    if !reactivate && changes.is_empty() {
        return None;
    }
    let mut body = update_body(&changes, &user_name_of(s), settings.dialect);
    if reactivate {
        match settings.dialect {
            crate::reconcile::Dialect::Leapsome => {
                body["active"] = serde_json::Value::Bool(true);
            }
            crate::reconcile::Dialect::Rfc7644 => {
                body["Operations"]
                    .as_array_mut()
                    .expect("PatchOp has Operations")
                    .push(serde_json::json!({"op": "replace", "path": "active", "value": true}));
            }
        }
    }
    Some((Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)), kinds, changes))
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
        ChangeKind::Delete => "deactivated the account (deleted)".into(),
        ChangeKind::Reactivate => "reactivated the account".into(),
        ChangeKind::LinkManager => format!("set the manager to {}", attributes.first().map_or("none", String::as_str)),
    }
}

fn record(
    session: &mut Session,
    env: &Env,
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
    run.changes.push(Change {
        person_id: s.person_id.clone(),
        email: s.email.clone(),
        kind,
        attributes,
        error: error.map(ToString::to_string),
    });
}

/// The link after the profile write succeeded.
pub(crate) fn link_after(s: &Subject, kinds: &[ChangeKind], created_id: Option<String>) -> Option<Link> {
    let profile = s.decision.profile.clone().unwrap_or_default();
    if kinds.contains(&ChangeKind::Delete) {
        return None;
    }
    let has_manager_op = s.decision.ops.iter().any(|o| matches!(o, Op::SetManager { .. }));
    let mut link = match (&s.link, created_id, &s.found) {
        (_, Some(id), _) => Link { scim_id: id, written: profile.clone(), active: true, manager: None },
        (Some(l), None, _) => l.clone(),
        (None, None, Some(found)) => Link {
            scim_id: found.id.clone(),
            written: profile.clone(),
            active: found.active,
            manager: if has_manager_op { found.manager.clone() } else { s.decision.manager.clone() },
        },
        (None, None, None) => return None,
    };
    if kinds.contains(&ChangeKind::Suspend) {
        link.active = false;
    } else {
        link.written = profile;
        if kinds.contains(&ChangeKind::Reactivate) {
            link.active = true;
        }
    }
    Some(link)
}

/// Wave one: every subject's profile write, sent together.
pub(crate) fn write_profiles(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &mut Facts,
    subjects: &mut [Subject],
    run: &mut Run,
) -> Result<(), AppError> {
    let settings = session.settings;
    let mut work = Vec::new();
    for (index, s) in subjects.iter_mut().enumerate() {
        // Adoption without any write links right away. Only when the decision adopts: a match
        // found for someone left alone (a leaver, a new hire not yet due) is not ours to manage.
        let adopts = s.decision.ops.iter().any(|o| matches!(o, Op::Adopt { .. }));
        if adopts && s.link.is_none() && s.found.is_some() && profile_write(s, &settings).is_none() {
            if !run.dry_run {
                s.link = link_after(s, &[ChangeKind::Adopt], None);
                state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
            }
            // (In a dry run there is no link: the found account is the plan's.)
            let account = s.link.as_ref().map(|l| &l.scim_id).or_else(|| s.found.as_ref().map(|f| &f.id));
            if let Some(id) = account {
                facts.accounts.insert(s.person_id.clone(), id.clone());
            }
            record(session, env, run, s, ChangeKind::Adopt, vec![], None);
            continue;
        }
        let Some((call, kinds, changes)) = profile_write(s, &settings) else { continue };
        if !run.take_budget() {
            continue;
        }
        if run.dry_run {
            for kind in &kinds {
                let attrs = if *kind == ChangeKind::Update { names(&changes) } else { vec![] };
                record(session, env, run, s, *kind, attrs, None);
            }
            // Planned: reports can be linked to it in the plan.
            if kinds.contains(&ChangeKind::Create) {
                facts.accounts.insert(s.person_id.clone(), format!("(new account for {})", s.email));
            } else if let (true, Some(found)) = (kinds.contains(&ChangeKind::Adopt), &s.found) {
                facts.accounts.insert(s.person_id.clone(), found.id.clone());
            }
            continue;
        }
        work.push((call, (index, kinds, changes)));
    }
    send_batched(session, env, work, |session, env, (index, kinds, changes), result| {
        let s = &mut subjects[index];
        let outcome = match result {
            Ok(reply) if kinds.contains(&ChangeKind::Create) => {
                match crate::reconcile::remote::parse_user(&reply.json) {
                    Some(user) => Ok(Some(user.id)),
                    None => Err(None),
                }
            }
            Ok(_) => Ok(None),
            Err(AppError::Upstream(f)) if kinds.contains(&ChangeKind::Create) && f.status == Some(409) => Err(None),
            Err(e) => Err(Some(e)),
        };
        match outcome {
            Ok(created_id) => {
                s.link = link_after(s, &kinds, created_id);
                state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
                match &s.link {
                    Some(l) => facts.accounts.insert(s.person_id.clone(), l.scim_id.clone()),
                    None => facts.accounts.remove(&s.person_id),
                };
                for kind in &kinds {
                    let attrs = if *kind == ChangeKind::Update { names(&changes) } else { vec![] };
                    record(session, env, run, s, *kind, attrs, None);
                }
            }
            // The account exists already (created meanwhile by someone else, or by us in a call
            // that was cut off): find it and link it instead of creating a duplicate.
            Err(None) => adopt_after_conflict(session, env, facts, s, run)?,
            Err(Some(e)) => {
                schedule.wake(&s.person_id, Some(format_time(env.now)));
                record(session, env, run, s, kinds[0], names(&changes), Some(&e));
            }
        }
        Ok(())
    })
}

fn adopt_after_conflict(
    session: &mut Session,
    env: &mut Env,
    facts: &mut Facts,
    s: &mut Subject,
    run: &mut Run,
) -> Result<(), AppError> {
    let profile = s.decision.profile.clone().unwrap_or_default();
    let user_name = user_name_of(s);
    let found = match scim::find_by_user_name(&mut session.scim, env.http, &user_name) {
        Ok(Some(found)) => found,
        Ok(None) => {
            let e = AppError::Upstream(crate::error::Failure {
                service: crate::error::Service::Scim,
                status: Some(409),
                message: format!("the service says {user_name} exists but does not list it"),
            });
            record(session, env, run, s, ChangeKind::Create, vec![], Some(&e));
            return Ok(());
        }
        Err(e) => {
            record(session, env, run, s, ChangeKind::Create, vec![], Some(&e));
            return Ok(());
        }
    };
    let mut known = Profile::new();
    for a in &found.returned {
        known.insert(*a, found.attributes.get(a).cloned().unwrap_or_default());
    }
    let changes: Profile = changed_attributes(&profile, &known)
        .into_iter()
        .filter(|(a, v)| found.returned.contains(a) || !v.is_empty())
        .collect();
    if !changes.is_empty() && run.take_budget() {
        let body = update_body(&changes, &user_name, session.settings.dialect);
        if let Err(e) =
            scim::write(&mut session.scim, env.http, Call::with(Method::Patch, scim::user_path(&found.id), Some(body)))
        {
            record(session, env, run, s, ChangeKind::Update, names(&changes), Some(&e));
            return Ok(());
        }
    }
    s.link = Some(Link {
        scim_id: found.id.clone(),
        written: profile,
        active: found.active,
        manager: found.manager.clone(),
    });
    state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
    facts.accounts.insert(s.person_id.clone(), found.id.clone());
    s.found = Some(found);
    record(session, env, run, s, ChangeKind::Adopt, names(&changes), None);
    Ok(())
}

/// Wave two: manager links, decided again now that this call's accounts exist.
pub(crate) fn write_managers(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &Facts,
    subjects: &mut [Subject],
    mode: Mode,
    run: &mut Run,
) -> Result<(), AppError> {
    let settings = session.settings;
    let mut work = Vec::new();
    for (index, s) in subjects.iter_mut().enumerate() {
        let decided = match &s.link {
            Some(link) if facts.people.contains_key(&s.person_id) => {
                let decision = decide_for(facts, &s.person_id, Some(link), None, &settings, mode, env.now);
                decision.skipped.is_none().then(|| (link.clone(), decision))
            }
            _ => None,
        };
        // Gone from Humaans, without an account (deleted), or left alone (e.g. deprovisioned):
        // nobody waits for a manager any more, so ticks stop coming back for them.
        let Some((link, decision)) = decided else {
            if s.was_pending && !run.dry_run {
                schedule.manager_pending(&s.person_id, false);
            }
            continue;
        };
        if decision.manager_pending != s.was_pending && !run.dry_run {
            schedule.manager_pending(&s.person_id, decision.manager_pending);
            if decision.manager_pending {
                let entry = draft(
                    env,
                    LogAction::ManagerPending,
                    LogOutcome::Pending,
                    "manager link waits for the manager's Leapsome account",
                )
                .person(s.person_id.clone(), s.email.clone());
                session.log(env, entry);
            }
        }
        s.decision.manager_pending = decision.manager_pending;
        let Some(value) = decision.ops.iter().find_map(|o| match o {
            Op::SetManager { value } => Some(value.clone()),
            _ => None,
        }) else {
            continue;
        };
        if !run.take_budget() {
            continue;
        }
        let shown = value.clone().unwrap_or_else(|| "none".into());
        if run.dry_run {
            record(session, env, run, s, ChangeKind::LinkManager, vec![shown], None);
            continue;
        }
        let body = manager_body(value.as_deref(), &user_name_of(s), settings.dialect);
        work.push((Call::with(Method::Patch, scim::user_path(&link.scim_id), Some(body)), (index, value, shown)));
    }
    send_batched(session, env, work, |session, env, (index, value, shown), result| {
        let s = &mut subjects[index];
        match result {
            Ok(_) => {
                if let Some(link) = s.link.as_mut() {
                    link.manager = value;
                }
                state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
                record(session, env, run, s, ChangeKind::LinkManager, vec![shown], None);
            }
            Err(e) => {
                schedule.wake(&s.person_id, Some(format_time(env.now)));
                record(session, env, run, s, ChangeKind::LinkManager, vec![shown], Some(&e));
            }
        }
        Ok(())
    })
}

/// Sends `work` (a call and what it is for) a batch at a time, so replies (a created user each)
/// never pile up for a whole organisation, and hands each reply to `handle` in order.
fn send_batched<M>(
    session: &mut Session,
    env: &mut Env,
    work: Vec<(Call, M)>,
    mut handle: impl FnMut(&mut Session, &mut Env, M, Result<Reply, AppError>) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let mut work = work.into_iter();
    loop {
        let (calls, purposes): (Vec<Call>, Vec<M>) = work.by_ref().take(WRITE_BATCH).unzip();
        if calls.is_empty() {
            return Ok(());
        }
        for (result, purpose) in session.scim.send_all(env.http, calls).into_iter().zip(purposes) {
            handle(session, env, purpose, result)?;
        }
    }
}

/// Remembers when to look at each subject again (due dates), or forgets them.
pub(crate) fn reschedule(schedule: &mut Schedule, subjects: &[Subject], run: &Run) {
    if run.dry_run {
        return;
    }
    for s in subjects {
        let failed = run.changes.iter().any(|c| c.person_id == s.person_id && c.error.is_some());
        if !failed {
            schedule.wake(&s.person_id, s.decision.wake_at.map(format_time));
        }
    }
}

/// Logs why a subject was left alone (only when something is worth telling).
pub(crate) fn log_skip(session: &mut Session, env: &Env, s: &Subject) {
    if let Some(reason) = &s.decision.skipped {
        let entry = draft(env, LogAction::Skip, LogOutcome::Skipped, reason.clone())
            .person(s.person_id.clone(), s.email.clone());
        session.log(env, entry);
    }
}
