//! `sync-all`: back-fills the whole organisation from full paged reads of both sides (never a
//! lookup per employee), users first and managers second, within a write budget.

use std::rc::Rc;

use crate::error::AppError;
use crate::humaans;
use crate::ids::IdMap;
use crate::logs::{LogAction, LogOutcome};
use crate::probe::mark;
use crate::reconcile::mapping::current_role;
use crate::reconcile::scope::{self, Rules};
use crate::reconcile::timing::{self, person_today};
use crate::reconcile::{Attr, Decision, JobRole, Link, Mode, Person, RemoteUser, Settings};
use crate::scim;
use crate::state::{self, CachedCompany, Schedule};

use super::brake;
use super::event::{duplicate_decision, log_unreadable, note_duplicate};
use super::execute::{
    Facts, MAX_LISTED_CHANGES, MAX_SUBJECTS_WITH_WRITES, Run, Subject, decide_for, gate, is_idle, link_after,
    reschedule, write_managers, write_profiles,
};
use super::records::{AccountsByEmail, People, Roles, same_email_groups};
use super::teams::{TeamsOptions, TeamsRun, sync_teams};
use super::{Change, Env, Session, draft, fail_logged};
use crate::reconcile::teams::WantedTeams;

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    pub dry_run: bool,
    pub max_writes: Option<u32>,
    pub approve_deprovisions: bool,
    /// Rewrite every team's whole membership.
    pub repair_teams: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub dry_run: bool,
    pub people: u32,
    pub scim_users: u32,
    pub created: u32,
    pub adopted: u32,
    pub updated: u32,
    pub deprovisioned: u32,
    pub reactivated: u32,
    pub managers_linked: u32,
    pub managers_pending: u32,
    pub skipped: u32,
    pub failed: u32,
    pub held: u32,
    pub quarantined: u32,
    pub writes: u32,
    pub remaining_writes: u32,
    pub complete: bool,
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    /// Teams kept (0 when teams are off).
    pub teams: u32,
    pub team_changes: Vec<super::TeamChange>,
    /// People no scope rule admits (0 with no rules).
    pub out_of_scope: u32,
    /// With previewed settings: who enters scope and who leaves (the first [`MAX_LISTED_CHANGES`]).
    pub scope_changes: Vec<ScopeChange>,
}

/// A person whose scope previewed settings change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeChange {
    pub person_id: String,
    pub email: String,
    /// Enters scope (`false`: leaves it).
    pub entering: bool,
}

/// `preview`: settings not saved, whose plan a dry run shows (`configure --dry-run`).
pub fn sync_all(env: &mut Env, options: SyncOptions, preview: Option<Settings>) -> Result<SyncReport, AppError> {
    let mut session = Session::open(env)?;
    if !options.dry_run {
        session.time_budget = Some(super::SYNC_TIME_BUDGET);
    }
    let mut stored_scope = None;
    if let Some(settings) = preview {
        if !options.dry_run {
            return Err(AppError::invalid("options.preview-settings", "is only for a dry run"));
        }
        super::connect::check_settings(&settings)?;
        let scope = Rules::parse(&settings.scope).expect("checked");
        stored_scope = Some(std::mem::replace(&mut session.scope, scope));
        session.settings = settings;
    }
    let result = match run_sync(&mut session, env, options, stored_scope.as_ref()) {
        Ok(report) => Ok(report),
        Err(e) => Err(fail_logged(&mut session, env, LogAction::Sync, e)),
    };
    session.finish(env, result)
}

/// `stored_scope`: with previewed settings, the scope they would replace.
fn run_sync(
    session: &mut Session,
    env: &mut Env,
    options: SyncOptions,
    stored_scope: Option<&Rules>,
) -> Result<SyncReport, AppError> {
    mark("sync: started");
    let mut schedule = Schedule::load_all(env.kv)?;
    if !options.dry_run {
        log_unreadable(session, env, &mut schedule);
    }
    let Lists { people, roles, company, users } = read_lists(session, env, options)?;

    let mut facts = Facts { company, roles: Roles::from_list(roles), ..Facts::new(session.scope.clone()) };
    let by_id: IdMap<&str, &Rc<RemoteUser>> = users.iter().map(|u| (u.id(), u)).collect();
    let by_external: IdMap<&str, &Rc<RemoteUser>> = users.iter().filter_map(|u| Some((u.external_id()?, u))).collect();
    facts.accounts_by_email = AccountsByEmail::from_list(users.clone());
    let ids = everyone(&mut facts, people, &users);

    mark("sync: people and roles indexed");
    let (mut links, unreadable_links) = load_links(env, options, &schedule.link_keys, &mut facts, &ids, &by_id)?;
    mark("sync: links loaded");
    read_absent_people(session, env, &mut facts, &ids, &links)?;
    let keepers = duplicate_keepers(&facts, &ids, &links, &by_id);

    let mut run = Run {
        dry_run: options.dry_run,
        budget: options.max_writes,
        no_delete: session.no_delete,
        subjects_with_writes: (!options.dry_run).then(|| {
            options.max_writes.map_or(MAX_SUBJECTS_WITH_WRITES, |budget| MAX_SUBJECTS_WITH_WRITES.min(budget as usize))
        }),
        ..Run::default()
    };
    let sides = Sides { ids: &ids, by_id: &by_id, by_external: &by_external, keepers: &keepers };
    let mut decided =
        decide_everyone(session, env, options, &mut schedule, &facts, &sides, &mut links, unreadable_links, &mut run)?;

    mark("sync: decided");
    // The idle people's accounts, before wave two may take their links (teams step only).
    let idle_accounts = if session.settings.teams { idle_accounts(&decided, &sides, &links) } else { Vec::new() };
    let (held, managers_pending) =
        carry_out(session, env, options, &mut schedule, &mut facts, &sides, &mut links, &mut decided, &mut run)?;
    let teams = run_teams(session, env, options, &facts, &sides, &decided, &idle_accounts, &mut run)?;
    let (out_of_scope, scope_changes) = scope_report(&facts, stored_scope, env.now);

    let report = SyncReport {
        dry_run: options.dry_run,
        people: facts.people.len() as u32,
        scim_users: users.len() as u32,
        created: run.created,
        adopted: run.adopted,
        updated: run.updated,
        deprovisioned: run.deprovisioned,
        reactivated: run.reactivated,
        managers_linked: run.managers_linked,
        managers_pending,
        skipped: decided.skipped,
        failed: run.failed,
        held,
        quarantined: decided.quarantined,
        writes: if options.dry_run { 0 } else { run.writes + teams.writes },
        remaining_writes: run.deferred + teams.deferred,
        complete: run.deferred + teams.deferred == 0,
        warnings: warnings(session, &run),
        changes: run.changes,
        teams: teams.teams,
        team_changes: teams.changes,
        out_of_scope,
        scope_changes,
    };
    if !options.dry_run {
        save_and_log(session, env, &mut schedule, &report)?;
    }
    // Each call runs on a fresh instance, discarded when it returns: freeing a whole
    // organisation's records one allocation at a time would be work for nothing (the peak is
    // behind us). Natively (tests, fuzzing) they are dropped as usual.
    #[cfg(target_arch = "wasm32")]
    {
        std::mem::forget((by_id, by_external, keepers, links, decided, facts, ids, schedule));
        std::mem::forget(users);
    }
    Ok(report)
}

/// People no rule admits (those still employed), and with `stored` (a preview's rules before),
/// whose scope the rules change.
fn scope_report(facts: &Facts, stored: Option<&Rules>, now: jiff::Timestamp) -> (u32, Vec<ScopeChange>) {
    if facts.scope.is_empty() && stored.is_none_or(Rules::is_empty) {
        return (0, Vec::new());
    }
    let mut out = 0;
    let mut changes = Vec::new();
    for person in facts.people.values() {
        if timing::is_offboarded(person, now) {
            continue;
        }
        let role = current_role(facts.roles.get(person.id()).unwrap_or(&[]), person_today(person, now));
        let seen = scope::Facts::of(person, role);
        let inside = facts.scope.verdict(&seen).in_scope();
        out += u32::from(!inside);
        if let Some(before) = stored
            && before.verdict(&seen).in_scope() != inside
            && changes.len() < MAX_LISTED_CHANGES
        {
            let email = person.email().unwrap_or_default().to_owned();
            changes.push(ScopeChange { person_id: person.id().to_owned(), email, entering: inside });
        }
    }
    (out, changes)
}

/// Both sides as read in full.
struct Lists {
    people: Vec<Person>,
    roles: Vec<JobRole>,
    company: Option<String>,
    users: Vec<Rc<RemoteUser>>,
}

/// The Humaans people, job roles and company name (cached), and the SCIM users.
fn read_lists(session: &mut Session, env: &mut Env, options: SyncOptions) -> Result<Lists, AppError> {
    // The three lists are read one after another, but each server is asked for its next list
    // (or page) before the one in hand is read: it prepares the answer meanwhile.
    scim::start_users(&mut session.scim, env.http);
    humaans::start_list::<JobRole>(&mut session.humaans, env.http, humaans::JOB_ROLES);
    let read = super::fields_to_read(session);
    let teams = session.settings.teams || session.scope.uses(scope::Field::Team);
    let fields = humaans::people_fields(teams, &read);
    let mut people = humaans::all_people_with(&mut session.humaans, env.http, fields)?;
    mark("sync: people read");
    let first_users = scim::first_users(&mut session.scim, env.http)?;
    let roles = humaans::all_job_roles(&mut session.humaans, env.http)?;
    mark("sync: job roles read");
    // Mapped extra fields: places of work (one list read) and custom values.
    humaans::fill_extras(&mut session.humaans, env.http, &mut people, &read, false)?;
    let company_id = people.iter().find_map(|p| p.company_id().map(str::to_owned));
    let company = humaans::company_name(&mut session.humaans, env.http, company_id.as_deref())?;
    if !options.dry_run {
        state::put(env.kv, "company", &CachedCompany { id: company_id, name: company.clone() })?;
    }
    // Shared, not copied, by the people they belong to.
    let users: Vec<Rc<RemoteUser>> =
        scim::rest_of_users(&mut session.scim, env.http, first_users)?.into_iter().map(Rc::new).collect();
    mark("sync: SCIM users read");
    Ok(Lists { people, roles, company, users })
}

/// Everyone in Humaans, plus linked people the list does not show (to deprovision them). The
/// people go into `facts`.
fn everyone(facts: &mut Facts, people: Vec<Person>, users: &[Rc<RemoteUser>]) -> Vec<String> {
    let mut ids: Vec<String> = people.iter().map(|p| p.id().to_owned()).collect();
    facts.people = People::from_list(people);
    for u in users {
        if let Some(ext) = u.external_id()
            && !facts.people.contains_key(ext)
        {
            ids.push(ext.to_owned());
        }
    }
    ids
}

/// Everyone's link, checked against the accounts listed (each live one into `facts.accounts`):
/// a link to an account removed by hand is forgotten, and one that cannot be read is set apart.
fn load_links(
    env: &mut Env,
    options: SyncOptions,
    link_keys: &[String],
    facts: &mut Facts,
    ids: &[String],
    by_id: &IdMap<&str, &Rc<RemoteUser>>,
) -> Result<(state::Links, IdMap<String, AppError>), AppError> {
    let mut unreadable_links: IdMap<String, AppError> = IdMap::default();
    // Checked in place: a second map of everyone's links would hold a second table meanwhile.
    let mut links = state::Links::load(env.kv, link_keys)?;
    for id in ids {
        let forget = match links.status(id) {
            Ok(Some(link)) if by_id.contains_key(link.scim_id.as_str()) => {
                facts.accounts.insert(id.clone(), link.scim_id.clone());
                false
            }
            // An account removed in Leapsome by hand: forget the link so the person is handled
            // afresh (re-created if due), instead of writing to an account that is gone.
            Ok(Some(_)) => {
                if !options.dry_run {
                    state::save_link(env.kv, id, None)?;
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                unreadable_links.insert(id.clone(), e);
                true
            }
        };
        if forget {
            links.remove(id);
        }
    }
    Ok((links, unreadable_links))
}

/// The accounts and people everyone is decided against, read-only from then on.
struct Sides<'a> {
    /// Everyone, in the order they are decided (`everyone`).
    ids: &'a [String],
    by_id: &'a IdMap<&'a str, &'a Rc<RemoteUser>>,
    by_external: &'a IdMap<&'a str, &'a Rc<RemoteUser>>,
    /// Of two or more people with one work email, the others -> the one who keeps the account.
    keepers: &'a IdMap<String, String>,
}

/// Everyone decided: the subjects to carry out, and the counts the report needs.
struct Decided {
    subjects: Vec<Subject>,
    /// Positions in `ids` of people decided with nothing to do (`is_idle`): their links stay in
    /// `links`, and wave two gets them back only if wave one changed something.
    idle: Vec<u32>,
    /// Of the idle, those waiting for a manager.
    idle_pending: u32,
    skipped: u32,
    quarantined: u32,
}

/// Decides everyone: the gate (backoff, quarantine), duplicate emails, the account to adopt,
/// `decide`; the idle kept out of the subjects, and writes past the call's share left for the
/// next call.
#[allow(clippy::too_many_arguments)]
fn decide_everyone(
    session: &mut Session,
    env: &mut Env,
    options: SyncOptions,
    schedule: &mut Schedule,
    facts: &Facts,
    sides: &Sides,
    links: &mut state::Links,
    mut unreadable_links: IdMap<String, AppError>,
    run: &mut Run,
) -> Result<Decided, AppError> {
    let settings = session.settings.clone();
    let mut decided = Decided { subjects: Vec::new(), idle: Vec::new(), idle_pending: 0, skipped: 0, quarantined: 0 };
    let mut with_writes = 0;
    for (position, id) in sides.ids.iter().enumerate() {
        if let Some(e) = unreadable_links.remove(id) {
            // Never "no link": that would create a second account. The person waits for repair.
            run.failed += 1;
            if !options.dry_run {
                let entry = draft(env, LogAction::Sync, LogOutcome::Failure, e.to_string()).person_id(id.clone());
                session.log(env, entry);
            }
            continue;
        }
        let mut link = links.remove(id);
        let person = facts.people.get(id);
        if person.is_none() && link.is_none() {
            continue;
        }
        let email = email_of(person, link.as_ref());
        let state = schedule.get(id);
        // Only a backoff or a quarantine compares fingerprints: the text of a whole organisation
        // is not formatted for nothing (a failure computes it when it records one).
        let fingerprint =
            if state.failures.is_some() || state.quarantine.is_some() { facts.fingerprint_of(id) } else { 0 };
        let was_pending = state.manager_pending;
        let remote = link.as_ref().and_then(|l| sides.by_id.get(l.scim_id.as_str())).map(|u| Rc::clone(u));
        let mut subject = Subject {
            person_id: id.clone(),
            email: email.clone(),
            link: None,
            found: None,
            decision: Decision::default(),
            was_pending,
            remote,
            gated: false,
        };
        if let Some(reason) = gate(session, env, schedule, id, &email, fingerprint, options.dry_run, false) {
            if schedule.get(id).quarantine.is_some() {
                decided.quarantined += 1;
            } else {
                decided.skipped += 1;
            }
            subject.decision.skipped = Some(reason);
            subject.gated = true;
            subject.link = link;
            decided.subjects.push(subject);
            continue;
        }
        if let Some(keeper) = sides.keepers.get(id)
            && left_to_keeper(session, env, options, schedule, facts, keeper, &mut link, &mut subject)?
        {
            decided.skipped += 1;
            decided.subjects.push(subject);
            continue;
        }
        let found = match (&link, person) {
            (None, Some(p)) => account_to_adopt(p, id, facts, sides),
            _ => None,
        };
        let decision = decide_for(
            facts,
            id,
            link.as_ref(),
            found.as_deref(),
            subject.remote.as_deref(),
            &settings,
            Mode::Sync,
            env.now,
        );
        if decision.skipped.is_some() {
            decided.skipped += 1;
        }
        subject.decision = decision;
        if subject.decision.ops.is_empty() {
            // Nothing to write: what the account holds once the writes succeed is not needed
            // again (the link holds what was written); for a whole organisation it is a profile
            // and two strings a person.
            subject.decision.profile = None;
            subject.decision.manager = None;
            subject.decision.manager_account = None;
        }
        subject.decision.share_profile();
        subject.link = link;
        subject.found = found;
        if !options.dry_run {
            note_duplicate(session, env, schedule, &mut subject);
        }
        if is_idle(&subject, schedule, facts) {
            decided.idle_pending += u32::from(subject.decision.manager_pending);
            links.restore(subject.person_id, subject.link);
            decided.idle.push(position as u32);
            continue;
        }
        let writes = subject.decision.ops.iter().filter(|o| o.is_write()).count() as u32;
        // Past this call's share, a write waits for the next call, which decides it again.
        // Never a deprovision: the brake must count them all.
        if writes > 0
            && !subject.decision.deprovisions()
            && run.subjects_with_writes.is_some_and(|cap| with_writes >= cap)
        {
            run.deferred += writes;
            links.restore(subject.person_id, subject.link);
            continue;
        }
        with_writes += usize::from(writes > 0);
        decided.subjects.push(subject);
    }
    Ok(decided)
}

/// One of two or more people with one work email, whom `keeper` keeps the account from: a link
/// of theirs to that same account is dropped, never acted on. Returns whether they are left
/// without a link (skipped: their decision says why, noted once).
#[allow(clippy::too_many_arguments)]
fn left_to_keeper(
    session: &mut Session,
    env: &mut Env,
    options: SyncOptions,
    schedule: &mut Schedule,
    facts: &Facts,
    keeper: &str,
    link: &mut Option<Link>,
    subject: &mut Subject,
) -> Result<bool, AppError> {
    if link.as_ref().is_some_and(|l| links_to_keeper(l, keeper, facts)) {
        if !options.dry_run {
            state::save_link(env.kv, &subject.person_id, None)?;
        }
        *link = None;
        subject.remote = None;
    }
    if link.is_some() {
        return Ok(false);
    }
    subject.decision = duplicate_decision(&subject.email, keeper);
    if !options.dry_run {
        note_duplicate(session, env, schedule, subject);
    }
    Ok(true)
}

/// An unlinked person's existing account, by `externalId` or work email (any case): not one
/// that someone else keeps or is linked to.
fn account_to_adopt(person: &Person, id: &String, facts: &Facts, sides: &Sides) -> Option<Rc<RemoteUser>> {
    sides
        .by_external
        .get(id.as_str())
        .or_else(|| {
            let account = facts.accounts_by_email.get(person.email()?)?;
            sides.by_id.get(account)
        })
        .filter(|u| !sides.keepers.contains_key(id) && !is_linked_elsewhere(u, id, facts))
        .map(|u| (*u).clone())
}

/// The brake, wave one (profiles), wave two (managers, the idle looked at again if wave one
/// changed something), and everyone's next due time. Returns the held and the people waiting
/// for a manager.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    session: &mut Session,
    env: &mut Env,
    options: SyncOptions,
    schedule: &mut Schedule,
    facts: &mut Facts,
    sides: &Sides,
    links: &mut state::Links,
    decided: &mut Decided,
    run: &mut Run,
) -> Result<(u32, u32), AppError> {
    let subjects = &mut decided.subjects;
    let braked = brake::apply(
        session,
        env,
        schedule,
        subjects,
        facts.accounts.len(),
        crate::reconcile::retry::HeldPath::Sync,
        options.approve_deprovisions,
        options.dry_run,
    )?;
    let held = braked.held;
    write_profiles(session, env, schedule, facts, subjects, run)?;
    if !options.dry_run {
        brake::release(env, braked.reservation, run.deprovisioned)?;
    }
    if options.dry_run {
        // Plan the manager links as if this run's accounts existed.
        for s in subjects.iter_mut() {
            if s.link.is_none() && facts.accounts.contains_key(&s.person_id) {
                // An adopted account keeps the manager it has; a planned one has none yet.
                let created = s.found.is_none().then(|| facts.accounts[&s.person_id].clone());
                s.link = link_after(s, &[], created);
            }
        }
    }
    mark("sync: profiles written");
    // The idle, one at a time (for wave two's second look, when wave one changed something).
    let mut idle_subjects = decided.idle.iter().filter_map(|&position| {
        let id = &sides.ids[position as usize];
        let link = links.remove(id)?;
        let remote = sides.by_id.get(link.scim_id.as_str()).map(|u| Rc::clone(u));
        Some(Subject {
            person_id: id.clone(),
            email: email_of(facts.people.get(id), Some(&link)),
            link: Some(link),
            found: None,
            decision: Decision::default(),
            was_pending: false,
            remote,
            gated: false,
        })
    });
    let idle_pending_after =
        write_managers(session, env, schedule, facts, subjects, &mut idle_subjects, Mode::Sync, run)?;
    mark("sync: managers written");
    reschedule(schedule, subjects, run);
    // Idle people still waiting for a manager: as first decided, unless wave two looked again.
    let idle_pending = idle_pending_after.unwrap_or(decided.idle_pending);
    let managers_pending = subjects.iter().filter(|s| s.decision.manager_pending).count() as u32 + idle_pending;
    Ok((held, managers_pending))
}

/// Idle people with an active account: (position in `ids`, the account's SCIM id).
fn idle_accounts(decided: &Decided, sides: &Sides, links: &state::Links) -> Vec<(u32, String)> {
    decided
        .idle
        .iter()
        .filter_map(|&position| {
            let link = links.get(&sides.ids[position as usize])?;
            link.active.then(|| (position, link.scim_id.clone()))
        })
        .collect()
}

/// The teams step, after users and managers, when teams are on: every team's members are the
/// team's people with an active account as this call leaves them. Only once no people's writes
/// are left for a later call (a person not yet created would be missing from their teams); a
/// failure of the step as a whole (the groups cannot be listed) is logged and is the teams'
/// only: the people's part of the report stands.
#[allow(clippy::too_many_arguments)]
fn run_teams(
    session: &mut Session,
    env: &mut Env,
    options: SyncOptions,
    facts: &Facts,
    sides: &Sides,
    decided: &Decided,
    idle_accounts: &[(u32, String)],
    run: &mut Run,
) -> Result<TeamsRun, AppError> {
    if !session.settings.teams || run.deferred > 0 {
        return Ok(TeamsRun::default());
    }
    let mut wanted = WantedTeams::default();
    for s in &decided.subjects {
        let Some(teams) = facts.people.get(&s.person_id).and_then(|p| p.teams()) else { continue };
        // A plan shows the person as this run would leave them.
        let active = s.link.as_ref().filter(|l| l.active && !(options.dry_run && s.decision.deprovisions()));
        wanted.add_person(teams, active.map(|l| l.scim_id.as_str()));
    }
    for (position, account) in idle_accounts {
        let teams = facts.people.get(&sides.ids[*position as usize]).and_then(|p| p.teams());
        wanted.add_person(teams.unwrap_or(""), Some(account));
    }
    let budget = options.max_writes.map(|max| max.saturating_sub(run.writes));
    let teams_options = TeamsOptions { dry_run: options.dry_run, repair: options.repair_teams, budget };
    match sync_teams(session, env, &wanted, teams_options) {
        Ok(teams) => Ok(teams),
        Err(e @ AppError::Unauthorized(_)) => Err(e),
        Err(e) => {
            if !options.dry_run {
                super::teams::log_step_failure(session, env, &e);
            }
            Ok(TeamsRun { failed: 1, ..TeamsRun::default() })
        }
    }
}

/// The report's warnings: the token's scope, and changes counted but not listed.
fn warnings(session: &Session, run: &Run) -> Vec<String> {
    session
        .scope_warning
        .iter()
        .cloned()
        .chain((run.unlisted_changes > 0).then(|| {
            format!(
                "{} more changes are counted above but not listed (a report lists the first {MAX_LISTED_CHANGES} and every failure; each change made is in the integration log)",
                run.unlisted_changes
            )
        }))
        .collect()
}

/// After a sync that writes: the schedule saved, the brake disengaged if nobody is held, links
/// compacted, and the summary logged.
fn save_and_log(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    report: &SyncReport,
) -> Result<(), AppError> {
    schedule.save(env.kv)?;
    brake::disengage_if_none_held(env, schedule)?;
    mark("sync: schedule saved");
    state::compact_links(env.kv)?;
    mark("sync: links compacted");
    let outcome = if report.failed > 0 { LogOutcome::Failure } else { LogOutcome::Success };
    let message = format!(
        "sync: {} people, {} accounts; created {}, adopted {}, updated {}, deprovisioned {}, reactivated {}, managers linked {}, managers pending {}, skipped {}, failed {}, held {}, quarantined {}{}; {} writes{}{}",
        report.people,
        report.scim_users,
        report.created,
        report.adopted,
        report.updated,
        report.deprovisioned,
        report.reactivated,
        report.managers_linked,
        report.managers_pending,
        report.skipped,
        report.failed,
        report.held,
        report.quarantined,
        if session.settings.teams {
            format!("; teams {}, team changes {}", report.teams, report.team_changes.len())
        } else {
            String::new()
        },
        report.writes,
        if report.complete {
            String::new()
        } else {
            format!(", {} writes left for the next call", report.remaining_writes)
        },
        report.warnings.iter().map(|w| format!("; warning: {w}")).collect::<String>(),
    );
    session.log(env, draft(env, LogAction::Sync, outcome, message));
    Ok(())
}

/// Missing from a list is not proof of deletion (a token without `private:read` does not see new
/// hires or leavers): linked people the list lacks, and managers it lacks, are read by id, and
/// only a 404 marks them deleted.
fn read_absent_people(
    session: &mut Session,
    env: &mut Env,
    facts: &mut Facts,
    ids: &[String],
    links: &state::Links,
) -> Result<(), AppError> {
    let absent_linked = ids.iter().filter(|id| links.contains_key(id) && !facts.people.contains_key(id));
    let absent_managers: Vec<String> = facts
        .people
        .values()
        .filter_map(|p| {
            let roles = facts.roles.get(p.id())?;
            // Only someone with a role naming a manager the list lacks can have one as their
            // current manager: the others' current role need not be worked out (a date in
            // their timezone, every role's dates read), which is most of the organisation.
            let absent = |m: &&str| !facts.people.contains_key(m);
            roles.iter().filter_map(JobRole::reporting_to).find(absent)?;
            current_role(roles, person_today(p, env.now))?.reporting_to().filter(absent)
        })
        .map(str::to_owned)
        .collect();
    let mut absent: Vec<String> = absent_linked.cloned().chain(absent_managers).collect();
    absent.sort();
    absent.dedup();
    for id in absent {
        match humaans::person(&mut session.humaans, env.http, &id)? {
            Some(person) => {
                let roles = humaans::job_roles_of(&mut session.humaans, env.http, &id)?;
                facts.roles.insert(id.clone(), roles);
                facts.people.insert(id, person);
            }
            None => {
                facts.missing.insert(id);
            }
        }
    }
    Ok(())
}

/// Two or more people with one work email (any letter case): who keeps the account. The person
/// whose link holds it, else the earlier Humaans record (by `createdAt`, then id). Returns, for
/// each of the others, the keeper's id.
fn duplicate_keepers(
    facts: &Facts,
    ids: &[String],
    links: &state::Links,
    by_id: &IdMap<&str, &Rc<RemoteUser>>,
) -> IdMap<String, String> {
    let email_of = |id: &String| facts.people.get(id).and_then(Person::email);
    let mut others = IdMap::default();
    for mut group in same_email_groups(ids, email_of) {
        group.sort_by_key(|id| {
            let link = links.get(id);
            // A link whose account names this person (externalId) is the strongest claim.
            let owns =
                link.and_then(|l| by_id.get(l.scim_id.as_str())).is_some_and(|u| u.external_id() == Some(id.as_str()));
            let created =
                facts.people.get(id).and_then(|p| p.created_at().map(str::to_owned)).unwrap_or_else(|| "~".into());
            (!owns, link.is_none(), created, (*id).clone())
        });
        let keeper = group[0].clone();
        for other in &group[1..] {
            others.insert((*other).clone(), keeper.clone());
        }
    }
    others
}

fn links_to_keeper(link: &Link, keeper: &str, facts: &Facts) -> bool {
    facts.accounts.get(keeper) == Some(&link.scim_id)
}

/// An account already linked to someone else is never adopted a second time.
fn is_linked_elsewhere(account: &RemoteUser, person_id: &str, facts: &Facts) -> bool {
    facts.accounts.iter().any(|(other, scim_id)| other != person_id && *scim_id == account.id())
}

/// The address a person is known by in logs: their work email, else the `userName` we wrote.
fn email_of(person: Option<&Person>, link: Option<&Link>) -> String {
    person
        .and_then(Person::email)
        .or_else(|| link.and_then(|l| l.written.get(&Attr::UserName)))
        .unwrap_or_default()
        .to_owned()
}
