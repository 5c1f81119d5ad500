//! Carrying out decisions: the writes for many people at once (concurrently, within a write
//! budget), then their manager links. Each success updates the stored link right away, so a call
//! cut off half-way loses nothing; each outcome is logged.

use std::rc::Rc;

use jiff::Timestamp;

use crate::client::{Call, Reply};
use crate::error::AppError;
use crate::ids::{IdMap, IdSet};
use crate::logs::{LogAction, LogOutcome};
use crate::ports::Method;
use crate::reconcile::mapping::{changed_attributes, current_role};
use crate::reconcile::render::{active_body, create_body, manager_body, update_body};
use crate::reconcile::retry::{Attempt, FailureOutcome, PersonState, fingerprint};
use crate::reconcile::timing::{self, format_time, person_today};
use crate::reconcile::{
    Attr, Decision, Inputs, Link, ManagerInput, Mode, Op, Person, Profile, RemoteUser, Settings, decide,
};
use crate::scim;
use crate::state::{self, Schedule};

use super::records::{AccountsByEmail, People, Roles};
use super::{Change, ChangeKind, Env, Session, draft};

/// Changes a call lists one by one. A sync of a whole organisation makes hundreds of thousands
/// (two per new account), and the returned report is copied once more into the guest's memory:
/// at 100,000 people the list alone took tens of megabytes. The counts stay exact, each change
/// is logged, and failures are always listed (the schedule and the operator need them).
pub(crate) const MAX_LISTED_CHANGES: usize = 1000;

/// People with writes one call takes on (a dry run: everyone; with a write budget, at most that
/// many); wave two may add as many again (people whose manager wave one created). Each held with
/// a planned write costs about half a kilobyte: at 100,000 people, holding them all made the
/// calls of an initial sync the largest of all (187 MiB against 131 MiB for a steady sync). The
/// rest is left to the next call (reported as not complete), which reads both sides again and
/// takes on the next share; a call sends at most ~30,000 writes, well within its time budget
/// (`SYNC_TIME_BUDGET`), which allowed ~45,000.
pub(crate) const MAX_SUBJECTS_WITH_WRITES: usize = 15_000;

/// Writes sent per batch: bounds the replies held in memory at once.
const WRITE_BATCH: usize = 256;

/// What the shell has read, for deciding.
#[derive(Default)]
pub(crate) struct Facts {
    pub people: People,
    pub roles: Roles,
    pub company: Option<String>,
    /// Person id -> SCIM id of the account we manage (or just created).
    pub accounts: IdMap<String, String>,
    /// Work email (any letter case) -> an existing account, for managers we do not manage.
    pub accounts_by_email: AccountsByEmail,
    /// People Humaans answered 404 for: they will never get an account.
    pub missing: IdSet<String>,
}

impl Facts {
    pub fn manager_of(&self, person: &Person, now: Timestamp) -> ManagerInput {
        let roles = self.roles.get(person.id()).unwrap_or(&[]);
        let Some(manager_id) =
            current_role(roles, person_today(person, now)).and_then(|r| r.reporting_to().map(str::to_owned))
        else {
            return ManagerInput::None;
        };
        if manager_id == person.id() {
            // HR systems often record the head of the company as reporting to themselves;
            // Leapsome refuses that with a 400 on every write.
            return ManagerInput::Itself;
        }
        let manager = self.people.get(&manager_id);
        let email = manager.and_then(|m| m.email().map(str::to_owned));
        let account = self
            .accounts
            .get(&manager_id)
            .cloned()
            .or_else(|| email.as_deref().and_then(|e| self.accounts_by_email.get(e)).map(str::to_owned));
        if account.is_none() {
            // Waiting for these would retry every tick forever.
            let never = if self.missing.contains(&manager_id) {
                Some("not in Humaans (deleted or unknown id)")
            } else if manager.is_some() && email.is_none() {
                Some("no work email in Humaans")
            } else if manager.is_some_and(|m| timing::is_offboarded(m, now)) {
                Some("has left")
            } else {
                None
            };
            if let Some(reason) = never {
                return ManagerInput::Unresolvable { person_id: manager_id, reason: reason.to_owned() };
            }
        }
        ManagerInput::Person { person_id: manager_id, email, account }
    }

    /// A fingerprint of what Humaans says about the person: when it changes, their backoff and
    /// quarantine are lifted.
    pub fn fingerprint_of(&self, person_id: &str) -> u64 {
        fingerprint(&[&self.people.get(person_id), &self.roles.get(person_id)])
    }
}

/// One person on the way through a call.
pub(crate) struct Subject {
    pub person_id: String,
    pub email: String,
    pub link: Option<Link>,
    pub found: Option<Rc<RemoteUser>>,
    pub decision: Decision,
    /// Whether this person's manager link was pending before the call.
    pub was_pending: bool,
    /// The linked account as the service holds it now (sync-all), for drift repair.
    pub remote: Option<Rc<RemoteUser>>,
    /// Not attempted in this call (in backoff or quarantine): their state is left as it is.
    pub gated: bool,
}

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
fn note_subject_failure(
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
fn is_permanent(e: &AppError) -> bool {
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn decide_for(
    facts: &Facts,
    person_id: &str,
    link: Option<&Link>,
    found: Option<&RemoteUser>,
    remote: Option<&RemoteUser>,
    settings: &Settings,
    mode: Mode,
    now: Timestamp,
) -> Decision {
    let person = facts.people.get(person_id);
    let manager = person.map_or(ManagerInput::None, |p| facts.manager_of(p, now));
    decide(&Inputs {
        person_id,
        person,
        roles: facts.roles.get(person_id).unwrap_or(&[]),
        company_name: facts.company.as_deref(),
        manager,
        link,
        match_found: found,
        remote,
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
    /// The first [`MAX_LISTED_CHANGES`] changes, and every failure.
    pub changes: Vec<Change>,
    /// Successful changes past the first [`MAX_LISTED_CHANGES`]: counted, not listed.
    pub unlisted_changes: u32,
    /// The SCIM service has no DELETE: deprovisioning deactivates (`active: false`) instead.
    pub no_delete: bool,
    /// Subjects with writes this call takes on (`None`: all); see [`MAX_SUBJECTS_WITH_WRITES`].
    pub subjects_with_writes: Option<usize>,
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
        .planned_profile()
        .and_then(|p| p.get(&Attr::UserName))
        .or_else(|| s.link.as_ref().and_then(|l| l.written.get(&Attr::UserName)))
        .map(str::to_owned)
        .unwrap_or_else(|| s.email.clone())
}

fn names(changes: &Profile) -> Vec<String> {
    changes.keys().map(|a| a.name().to_owned()).collect()
}

/// The single profile write of a person (POST, one merged PATCH, or DELETE), and what it does.
fn profile_write(s: &Subject, settings: &Settings, no_delete: bool) -> Option<(Call, Vec<ChangeKind>, Profile)> {
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
            Op::Delete if no_delete => {
                let body = active_body(false, &user_name_of(s), settings.dialect);
                return Some((
                    Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)),
                    vec![ChangeKind::Delete],
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
        ChangeKind::Delete => "deactivated the account".into(),
        ChangeKind::Reactivate => "reactivated the account".into(),
        ChangeKind::LinkManager => format!("set the manager to {}", attributes.first().map_or("none", String::as_str)),
    }
}

fn record(
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

/// The link after the profile write succeeded.
pub(crate) fn link_after(s: &Subject, kinds: &[ChangeKind], created_id: Option<String>) -> Option<Link> {
    let profile = s.decision.planned_profile().cloned().unwrap_or_default();
    if kinds.contains(&ChangeKind::Delete) {
        // Deactivated in place (a service without DELETE): the account stays ours, inactive.
        return s.link.clone().filter(|_| kinds.contains(&ChangeKind::Suspend)).map(|l| Link { active: false, ..l });
    }
    let has_manager_op = s.decision.ops.iter().any(|o| matches!(o, Op::SetManager { .. }));
    let mut link = match (&s.link, created_id, &s.found) {
        (_, Some(id), _) => {
            Link { scim_id: id, written: profile.clone(), active: true, manager: None, manager_account: None }
        }
        (Some(l), None, _) => l.clone(),
        (None, None, Some(found)) => Link {
            scim_id: found.id().to_owned(),
            written: profile.clone(),
            active: found.active,
            manager: if has_manager_op { found.manager().map(str::to_owned) } else { s.decision.manager.clone() },
            manager_account: if has_manager_op { None } else { s.decision.manager_account.clone() },
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
        if adopts && s.link.is_none() && s.found.is_some() && profile_write(s, &settings, run.no_delete).is_none() {
            if !run.dry_run {
                s.link = link_after(s, &[ChangeKind::Adopt], None);
                state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
            }
            // (In a dry run there is no link: the found account is the plan's.)
            let account = s.link.as_ref().map(|l| l.scim_id.as_str()).or_else(|| s.found.as_ref().map(|f| f.id()));
            if let Some(id) = account {
                facts.accounts.insert(s.person_id.clone(), id.to_owned());
            }
            record(session, env, run, s, ChangeKind::Adopt, vec![], None);
            continue;
        }
        let Some((call, kinds, changes)) = profile_write(s, &settings, run.no_delete) else { continue };
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
                facts.accounts.insert(s.person_id.clone(), found.id().to_owned());
            }
            continue;
        }
        drop((call, changes));
        work.push((index, kinds));
    }
    // Bodies are built a batch at a time (not for the whole organisation at once).
    let no_delete = run.no_delete;
    let build = |subjects: &[Subject], (index, kinds): (usize, Vec<ChangeKind>)| {
        let (call, _, changes) = profile_write(&subjects[index], &settings, no_delete).expect("a planned write");
        (call, (index, kinds, changes))
    };
    let left = send_batched(
        session,
        env,
        subjects,
        work,
        build,
        |session, env, subjects, (index, kinds, changes), result| {
            let s = &mut subjects[index];
            let outcome = match result {
                Ok(reply) if kinds.contains(&ChangeKind::Create) => {
                    match crate::reconcile::remote::parse_user(&reply.json) {
                        Some(user) => Ok(Some(user.id().to_owned())),
                        None => Err(None),
                    }
                }
                Ok(_) => Ok(None),
                Err(AppError::Upstream(f)) if kinds.contains(&ChangeKind::Create) && f.status == Some(409) => Err(None),
                Err(AppError::Upstream(f))
                    if kinds.contains(&ChangeKind::Delete) && matches!(f.status, Some(404 | 405 | 501)) =>
                {
                    return delete_without_delete(session, env, schedule, facts, s, run, AppError::Upstream(f));
                }
                Err(e) => Err(Some(e)),
            };
            match outcome {
                Ok(created_id) => {
                    // Without DELETE the account was deactivated in place: the link stays, inactive.
                    let link_kinds = if run.no_delete && kinds.contains(&ChangeKind::Delete) {
                        vec![ChangeKind::Delete, ChangeKind::Suspend]
                    } else {
                        kinds.clone()
                    };
                    s.link = link_after(s, &link_kinds, created_id);
                    state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
                    // The link holds what was written: the decision's copies are not needed again.
                    s.decision.profile = None;
                    for op in &mut s.decision.ops {
                        if let Op::Create { profile } = op {
                            *profile = Profile::new();
                        }
                    }
                    match &s.link {
                        Some(l) if l.active => facts.accounts.insert(s.person_id.clone(), l.scim_id.clone()),
                        _ => facts.accounts.remove(&s.person_id),
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
                    note_subject_failure(session, env, schedule, facts, s, &e);
                    record(session, env, run, s, kinds[0], names(&changes), Some(&e));
                }
            }
            Ok(())
        },
    )?;
    // Not sent in this call: left for the next (the call reports itself incomplete).
    run.writes -= left;
    run.deferred += left;
    Ok(())
}

/// `DELETE` answered 404, 405 or 501. Leapsome's published SCIM spec documents no DELETE: if a
/// GET shows the account still exists, the service lacks DELETE, so deactivate it instead
/// (`active: false`) and remember that for this tenant (logged once). If the GET says 404 the
/// account is gone, which is what DELETE was for.
fn delete_without_delete(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &mut Facts,
    s: &mut Subject,
    run: &mut Run,
    delete_error: AppError,
) -> Result<(), AppError> {
    let Some(link) = s.link.clone() else { return Ok(()) };
    let path = scim::user_path(&link.scim_id);
    let outcome = match session.scim.send(env.http, Call::get(path.clone())) {
        Err(AppError::Upstream(f)) if f.status == Some(404) => {
            s.link = None;
            state::save_link(env.kv, &s.person_id, None)?;
            facts.accounts.remove(&s.person_id);
            record(session, env, run, s, ChangeKind::Delete, vec![], None);
            return Ok(());
        }
        Err(e) => Err(e),
        Ok(_) => {
            let body = active_body(false, &user_name_of(s), session.settings.dialect);
            scim::write(&mut session.scim, env.http, Call::with(Method::Patch, path, Some(body)))
        }
    };
    match outcome {
        Ok(()) => {
            if !run.no_delete {
                run.no_delete = true;
                let caps = state::ScimCaps { no_delete: true };
                state::put(env.kv, "scim-caps", &caps)?;
                let entry = draft(
                    env,
                    LogAction::Delete,
                    LogOutcome::Skipped,
                    format!(
                        "the SCIM service does not support DELETE ({delete_error}); deprovisioning deactivates accounts (active: false) instead"
                    ),
                );
                session.log(env, entry);
            }
            s.link = Some(Link { active: false, ..link });
            state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
            facts.accounts.remove(&s.person_id);
            record(session, env, run, s, ChangeKind::Delete, vec![], None);
        }
        Err(e) => {
            note_subject_failure(session, env, schedule, facts, s, &e);
            record(session, env, run, s, ChangeKind::Delete, vec![], Some(&e));
        }
    }
    Ok(())
}

fn adopt_after_conflict(
    session: &mut Session,
    env: &mut Env,
    facts: &mut Facts,
    s: &mut Subject,
    run: &mut Run,
) -> Result<(), AppError> {
    let profile = s.decision.planned_profile().cloned().unwrap_or_default();
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
    for a in found.returned.iter() {
        known.insert(a, found.attributes.get(&a).map(str::to_owned).unwrap_or_default());
    }
    let changes: Profile = changed_attributes(&profile, &known)
        .into_iter()
        .filter(|(a, v)| found.returned.contains(a) || !v.is_empty())
        .collect();
    if !changes.is_empty() && run.take_budget() {
        let body = update_body(&changes, &user_name, session.settings.dialect);
        if let Err(e) =
            scim::write(&mut session.scim, env.http, Call::with(Method::Patch, scim::user_path(found.id()), Some(body)))
        {
            record(session, env, run, s, ChangeKind::Update, names(&changes), Some(&e));
            return Ok(());
        }
    }
    s.link = Some(Link {
        scim_id: found.id().to_owned(),
        written: profile,
        active: found.active,
        manager: found.manager().map(str::to_owned),
        manager_account: None,
    });
    state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
    facts.accounts.insert(s.person_id.clone(), found.id().to_owned());
    s.found = Some(Rc::new(found));
    record(session, env, run, s, ChangeKind::Adopt, names(&changes), None);
    Ok(())
}

/// Wave two: manager links, decided again now that this call's accounts exist.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_managers(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &Facts,
    subjects: &mut Vec<Subject>,
    idle: &mut dyn Iterator<Item = Subject>,
    mode: Mode,
    run: &mut Run,
) -> Result<Option<u32>, AppError> {
    let settings = session.settings;
    let mut work = Vec::new();
    // A sync whose first wave changed nothing (no account or link changed: the steady state)
    // would decide every person again from the same inputs: its first decisions stand, and the
    // idle people (`is_idle`) need nothing. Otherwise they are decided again too, one at a time,
    // and kept only if they have a manager to write.
    // (Changes past the listed ones imply listed ones: `changes` is empty only if nothing changed.)
    let unchanged = mode == Mode::Sync && run.writes == 0 && run.changes.is_empty();
    for (index, s) in subjects.iter_mut().enumerate() {
        if let Some(write) = plan_manager(session, env, schedule, facts, s, unchanged, mode, run) {
            work.push((index, write));
        }
    }
    // How many of the idle wait for a manager, when they were looked at again.
    let mut idle_pending = None;
    if !unchanged {
        let mut pending = 0;
        for mut s in idle {
            let state = schedule.get(&s.person_id);
            s.was_pending = state.manager_pending;
            s.decision.manager_pending = state.manager_pending;
            match plan_manager(session, env, schedule, facts, &mut s, false, mode, run) {
                // As many again as the first wave's share: the rest waits for the next call.
                Some(_) if run.subjects_with_writes.is_some_and(|cap| subjects.len() >= 2 * cap) => {
                    run.writes -= 1;
                    run.deferred += 1;
                }
                Some(write) => {
                    // Rescheduled with the rest: its due time is the one it had (it was idle).
                    s.decision.wake_at = state.wake_at.as_deref().and_then(crate::reconcile::timing::parse_time);
                    subjects.push(s);
                    work.push((subjects.len() - 1, write));
                }
                None => pending += u32::from(s.decision.manager_pending),
            }
        }
        idle_pending = Some(pending);
    }
    let build = |subjects: &[Subject], (index, (value, _, _)): &(usize, ManagerWrite)| {
        let s = &subjects[*index];
        let body = manager_body(value.as_deref(), &user_name_of(s), settings.dialect);
        let scim_id = s.link.as_ref().map_or("", |l| l.scim_id.as_str());
        Call::with(Method::Patch, scim::user_path(scim_id), Some(body))
    };
    let left = send_batched(
        session,
        env,
        subjects,
        work,
        |subjects, work| (build(subjects, &work), work),
        |session, env, subjects, (index, (value, account, shown)), result| {
            let s = &mut subjects[index];
            match result {
                Ok(_) => {
                    if let Some(link) = s.link.as_mut() {
                        link.manager = value;
                        link.manager_account = account;
                    }
                    state::save_link(env.kv, &s.person_id, s.link.as_ref())?;
                    record(session, env, run, s, ChangeKind::LinkManager, vec![shown], None);
                }
                Err(e) => {
                    note_subject_failure(session, env, schedule, facts, s, &e);
                    record(session, env, run, s, ChangeKind::LinkManager, vec![shown], Some(&e));
                }
            }
            Ok(())
        },
    )?;
    // Not sent in this call: left for the next (the call reports itself incomplete).
    run.writes -= left;
    run.deferred += left;
    Ok(idle_pending)
}

/// A manager write: the value (`None` clears), the manager's account, and how it is shown.
type ManagerWrite = (Option<String>, Option<String>, String);

/// One subject's manager: its pending state and note kept, and the write it needs, if any
/// (within the budget; in a dry run recorded, not returned).
#[allow(clippy::too_many_arguments)]
fn plan_manager(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &Facts,
    s: &mut Subject,
    unchanged: bool,
    mode: Mode,
    run: &mut Run,
) -> Option<ManagerWrite> {
    let settings = session.settings;
    let fresh;
    let decided = match &s.link {
        Some(_) if unchanged && manager_decision_stands(s, facts) => Some(&s.decision),
        Some(link) if manager_decision_stands(s, facts) => {
            fresh = decide_for(facts, &s.person_id, Some(link), None, s.remote.as_deref(), &settings, mode, env.now);
            fresh.skipped.is_none().then_some(&fresh)
        }
        _ => None,
    };
    // What the rest needs of the decision (it may be the subject's own).
    let decided = decided.map(|d| {
        let set_manager = d.ops.iter().find_map(|o| match o {
            Op::SetManager { value } => Some(value.clone()),
            _ => None,
        });
        (d.manager_pending, d.manager_unresolvable.clone(), set_manager, d.manager_account.clone())
    });
    // Gone from Humaans, without an account (deleted), or left alone (e.g. deprovisioned):
    // nobody waits for a manager any more, so ticks stop coming back for them.
    let Some((manager_pending, manager_unresolvable, set_manager, manager_account)) = decided else {
        if s.was_pending && !run.dry_run {
            schedule.manager_pending(&s.person_id, false);
        }
        return None;
    };
    if manager_pending != s.was_pending && !run.dry_run {
        schedule.manager_pending(&s.person_id, manager_pending);
        if manager_pending {
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
    s.decision.manager_pending = manager_pending;
    // A manager who will never have an account: logged once, then left alone.
    let noted = schedule.get(&s.person_id).noted;
    if let Some(reason) = &manager_unresolvable {
        if noted.as_deref() != Some(reason.as_str()) && !run.dry_run {
            schedule.entry(&s.person_id).noted = Some(reason.clone());
            let entry = draft(env, LogAction::ManagerPending, LogOutcome::Skipped, reason.clone())
                .person(s.person_id.clone(), s.email.clone());
            session.log(env, entry);
        }
    } else if noted.as_deref().is_some_and(|n| n.starts_with("manager ")) && !run.dry_run {
        schedule.entry(&s.person_id).noted = None;
    }
    let value = set_manager?;
    if !run.take_budget() {
        return None;
    }
    let shown = value.clone().unwrap_or_else(|| "none".into());
    if run.dry_run {
        record(session, env, run, s, ChangeKind::LinkManager, vec![shown], None);
        return None;
    }
    Some((value, manager_account, shown))
}

/// Sends `work` a batch at a time: `build` makes each call (and what it is for) just before its
/// batch goes, so request bodies and replies (a created user each) never pile up for a whole
/// organisation; `handle` gets each reply in order.
fn send_batched<W, M>(
    session: &mut Session,
    env: &mut Env,
    subjects: &mut [Subject],
    work: Vec<W>,
    build: impl Fn(&[Subject], W) -> (Call, M),
    mut handle: impl FnMut(&mut Session, &mut Env, &mut [Subject], M, Result<Reply, AppError>) -> Result<(), AppError>,
) -> Result<u32, AppError> {
    let mut work = work.into_iter();
    loop {
        if work.len() > 0 && session.sent_writes && session.out_of_time(env) {
            // Left to the next call (reported as not complete).
            return Ok(work.len() as u32);
        }
        let (calls, purposes): (Vec<Call>, Vec<M>) =
            work.by_ref().take(WRITE_BATCH).map(|w| build(subjects, w)).unzip();
        if calls.is_empty() {
            return Ok(0);
        }
        session.sent_writes = true;
        let mut denied = 0;
        for (result, purpose) in session.scim.send_all(env.http, calls).into_iter().zip(purposes) {
            match result {
                // The host sends no more requests in this call (its quota per call): nothing was
                // sent, and it is nobody's failure. Left to the next call, like the rest.
                Err(e) if crate::client::is_denied(&e) => denied += 1,
                result => handle(session, env, subjects, purpose, result)?,
            }
        }
        if denied > 0 {
            return Ok(denied + work.len() as u32);
        }
    }
}

/// Remembers when to look at each subject again (due dates), or forgets them; a subject that
/// went through without a failure ends its backoff.
pub(crate) fn reschedule(schedule: &mut Schedule, subjects: &[Subject], run: &Run) {
    if run.dry_run {
        return;
    }
    let failed: IdSet<&str> = run.changes.iter().filter(|c| c.error.is_some()).map(|c| c.person_id.as_str()).collect();
    for s in subjects {
        if failed.contains(s.person_id.as_str()) || s.gated {
            continue;
        }
        let before = schedule.get(&s.person_id);
        let state = rescheduled(&before, &s.decision);
        // Only records that change are touched (a whole organisation is rescheduled).
        if state != before {
            *schedule.entry(&s.person_id) = state;
        }
    }
}

/// A person's schedule record after their decision went through without a failure.
fn rescheduled(before: &PersonState, decision: &Decision) -> PersonState {
    let held = decision.skipped.as_deref().is_some_and(|r| r.starts_with(crate::reconcile::brake::HELD));
    let mut state = before.clone();
    state.wake_at = decision.wake_at.map(format_time);
    state.record_success();
    if !held {
        state.held_since = None;
        state.held = None;
    }
    state
}

/// Whether a decided subject needs nothing more of a sync whose first wave changes nothing: no
/// write, no hold to lift, no manager state or note to change (what `write_managers` does with
/// a decision that stands), no schedule change. A sync keeps such people out of its subjects (at
/// 100,000 people, subjects were the largest thing it held) and gives them to `write_managers`
/// again only if the first wave changed something (`idle` there).
pub(crate) fn is_idle(s: &Subject, schedule: &Schedule, facts: &Facts) -> bool {
    if s.gated || !s.decision.ops.is_empty() || s.found.is_some() {
        return false;
    }
    let state = schedule.get(&s.person_id);
    if state.held_since.is_some() {
        return false;
    }
    if manager_decision_stands(s, facts) {
        if s.decision.manager_pending != s.was_pending {
            return false;
        }
        let noted = state.noted.as_deref();
        let note_stays = match &s.decision.manager_unresolvable {
            Some(reason) => noted == Some(reason.as_str()),
            None => !noted.is_some_and(|n| n.starts_with("manager ")),
        };
        if !note_stays {
            return false;
        }
    } else if s.was_pending {
        return false;
    }
    rescheduled(&state, &s.decision) == state
}

/// Whether `write_managers` looks at the subject's manager at all: a linked person still in
/// Humaans whom the decision did not leave alone.
fn manager_decision_stands(s: &Subject, facts: &Facts) -> bool {
    s.link.is_some() && facts.people.contains_key(&s.person_id) && s.decision.skipped.is_none()
}

/// Logs why a subject was left alone (only when something is worth telling).
pub(crate) fn log_skip(session: &mut Session, env: &mut Env, s: &Subject) {
    if let Some(reason) = &s.decision.skipped {
        let entry = draft(env, LogAction::Skip, LogOutcome::Skipped, reason.clone())
            .person(s.person_id.clone(), s.email.clone());
        session.log(env, entry);
    }
}
