//! Teams, the shell: loads the team records, reads the service's groups when they are needed,
//! asks the core (`reconcile::teams`) what to send, sends it, records and logs. `sync-all` runs
//! it after users and managers (Leapsome: users must exist before they join a team); events and
//! ticks run it for the people they touched, on the teams those people left or joined only.
//!
//! A team's failure never stops people's provisioning nor the other teams: it is logged once
//! (until the error changes), and the team waits with the backoff and quarantine people have.

use crate::error::AppError;
use crate::ids::{IdMap, IdSet};
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Dialect;
use crate::reconcile::retry::{Attempt, FailureOutcome, fingerprint};
use crate::reconcile::teams::{
    MemberWrite, RemoteTeam, TeamLink, TeamPlan, TeamRecord, WantedTeams, name_problem, plan_team, team_names,
    touched_by_person,
};
use crate::scim_groups::{self, Created};
use crate::state;

use super::execute::{Facts, Subject, is_permanent};
use super::{Env, Session, draft};

/// A change to one team, made or planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamChange {
    pub team: String,
    pub kind: TeamChangeKind,
    /// Members added or removed (0 for create and adopt).
    pub members: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamChangeKind {
    Create,
    Adopt,
    AddMembers,
    RemoveMembers,
}

/// What a teams step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamsRun {
    pub changes: Vec<TeamChange>,
    /// Teams kept: linked to a group, with members wanted.
    pub teams: u32,
    /// Requests sent.
    pub writes: u32,
    /// Requests left for the next call (the write budget or the time ran out).
    pub deferred: u32,
    /// Teams that failed in this call.
    pub failed: u32,
}

/// How a teams step runs.
#[derive(Debug, Clone, Copy)]
pub struct TeamsOptions {
    pub dry_run: bool,
    /// Rewrite every team's whole membership (`sync-all --repair-teams`).
    pub repair: bool,
    /// Requests this call may still send (`None`: no limit).
    pub budget: Option<u32>,
}

/// `sync-all`'s teams step: every team wanted, and every team of ours nobody wants any more.
pub(crate) fn sync_teams(
    session: &mut Session,
    env: &mut Env,
    wanted: &WantedTeams,
    options: TeamsOptions,
) -> Result<TeamsRun, AppError> {
    let dialect = session.settings.dialect;
    let mut records = state::load_teams(env.kv)?;
    // The teams to look at: those wanted, then ours that nobody wants any more (to empty them),
    // each with its record's position.
    let mut work: Vec<(String, Option<usize>)> = Vec::with_capacity(wanted.teams.len());
    {
        let at: IdMap<&str, usize> = records.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
        work.extend(wanted.teams.iter().map(|(name, _)| ((*name).to_owned(), at.get(name).copied())));
        for (i, r) in records.iter().enumerate() {
            if !r.members.is_empty() && wanted.get(&r.name).is_empty() {
                work.push((r.name.clone(), Some(i)));
            }
        }
    }
    // The groups as the service shows them: always for RFC 7644 (members are shown, so drift is
    // seen), and for Leapsome only when a team has no group yet (to adopt one of its name).
    let needs_groups = match dialect {
        Dialect::Rfc7644 => !work.is_empty(),
        Dialect::Leapsome => work.iter().any(|(_, at)| at.is_none_or(|i| records[i].id.is_none())),
    };
    let groups: Vec<(String, RemoteTeam)> = if needs_groups {
        scim_groups::all_groups(&mut session.scim, env.http)?
            .into_iter()
            .map(|g| (g.display_name, shown(dialect, g.team)))
            .collect()
    } else {
        Vec::new()
    };
    // Groups by id (a stored link), by exact name, and, for RFC 7644 servers (which compare
    // `displayName` without case), by the name in lower case: the rule `find_group` applies too.
    let by_id: IdMap<&str, usize> = groups.iter().enumerate().map(|(i, (_, g))| (g.id.as_str(), i)).collect();
    let by_name: IdMap<&str, usize> = groups.iter().enumerate().rev().map(|(i, (n, _))| (n.as_str(), i)).collect();
    let lowered: Vec<String> =
        if dialect == Dialect::Rfc7644 { groups.iter().map(|(n, _)| n.to_lowercase()).collect() } else { Vec::new() };
    let by_lower: IdMap<&str, usize> = lowered.iter().enumerate().rev().map(|(i, n)| (n.as_str(), i)).collect();
    let named =
        |name: &str| by_name.get(name).or_else(|| by_lower.get(name.to_lowercase().as_str())).map(|&i| &groups[i].1);
    let mut run = TeamsRun::default();
    let mut budget = options.budget;
    for (name, at) in work {
        let want = wanted.get(&name);
        let mut fresh = TeamRecord { name: name.clone(), ..TeamRecord::default() };
        let record = match at {
            Some(i) => &mut records[i],
            None => &mut fresh,
        };
        let remote = match &record.id {
            // RFC 7644: the stored group as listed (by its id); one the listing no longer has was
            // deleted, and is found again by name or made again.
            Some(id) if dialect == Dialect::Rfc7644 && needs_groups => match by_id.get(id.as_str()) {
                Some(&i) => Some(&groups[i].1),
                None => {
                    record.id = None;
                    record.members.clear();
                    named(&name)
                }
            },
            // Leapsome: a linked team is not read (its members are never shown).
            Some(_) => None,
            None => named(&name),
        };
        let plan = plan_team(dialect, &name, Some(record), remote, want, options.repair);
        if plan.link != TeamLink::Unlinked && !want.is_empty() {
            run.teams += 1;
        }
        if plan.is_idle() && plan.problem.is_none() {
            continue;
        }
        if !options.dry_run && !gate(env, record, want) {
            continue;
        }
        let requests = plan.requests() as u32;
        if !options.dry_run && (budget.is_some_and(|left| left < requests) || session.out_of_time(env)) {
            run.deferred += requests;
            continue;
        }
        if let Some(left) = &mut budget {
            *left -= requests;
        }
        carry_out(session, env, &plan, record, want, options.dry_run, &mut run)?;
    }
    Ok(run)
}

/// The group as the dialect lets us believe it: Leapsome's `members` is always empty (its schema
/// allows no item), which says nothing about who is in the team.
fn shown(dialect: Dialect, team: RemoteTeam) -> RemoteTeam {
    match dialect {
        Dialect::Leapsome => RemoteTeam { members: None, ..team },
        // RFC 7643 §2.5: an empty attribute may be left out, so no `members` is no members
        // (scim2-server answers an emptied group so).
        Dialect::Rfc7644 => RemoteTeam { members: Some(team.members.unwrap_or_default()), ..team },
    }
}

/// The backoff and quarantine gate, as for people: a change in the team's wanted members (its
/// Humaans data) lifts them.
fn gate(env: &Env, record: &TeamRecord, want: &[&str]) -> bool {
    matches!(record.retry.attempt(env.now, fingerprint(&[&record.name, &want])), Attempt::Yes)
}

/// For events and ticks: the teams these people left or joined. `people`: each person's account
/// (SCIM id of their linked account) with whether it is active, and their teams as read from
/// Humaans.
pub(crate) fn people_teams(
    session: &mut Session,
    env: &mut Env,
    people: &[(String, bool, String)],
) -> Result<TeamsRun, AppError> {
    let dialect = session.settings.dialect;
    let mut records = state::load_teams(env.kv)?;
    let mut run = TeamsRun::default();
    for (account, active, teams) in people {
        let now_in: Vec<&str> = if *active { team_names(teams).collect() } else { Vec::new() };
        for (name, members) in touched_by_person(&records, account, &now_in) {
            let want: Vec<&str> = members.iter().map(String::as_str).collect();
            let at = records.iter().position(|r| r.name == name);
            let mut fresh = TeamRecord { name: name.clone(), ..TeamRecord::default() };
            let record = match at {
                Some(i) => &mut records[i],
                None => &mut fresh,
            };
            // A team without a group yet: look for one of its exact name to adopt (Leapsome
            // filters groups by displayName only; the record's members are otherwise all we know).
            let found = match &record.id {
                None if !want.is_empty() && name_problem(&name).is_none() => {
                    scim_groups::find_group(&mut session.scim, env.http, &name, dialect == Dialect::Rfc7644)?
                        .map(|g| shown(dialect, g.team))
                }
                _ => None,
            };
            let plan = plan_team(dialect, &name, Some(record), found.as_ref(), &want, false);
            if !(plan.is_idle() && plan.problem.is_none()) && gate(env, record, &want) {
                carry_out(session, env, &plan, record, &want, false, &mut run)?;
            }
            if at.is_none() {
                records.push(fresh);
            }
        }
    }
    Ok(run)
}

/// After an event or a tick carried out `subjects`: the teams they left or joined (teams on).
/// A failure here is logged and never fails the call, unless the token was refused.
pub(crate) fn after_people(
    session: &mut Session,
    env: &mut Env,
    facts: &Facts,
    subjects: &[Subject],
) -> Result<Vec<TeamChange>, AppError> {
    if !session.settings.teams {
        return Ok(Vec::new());
    }
    let people: Vec<(String, bool, String)> = subjects
        .iter()
        .filter_map(|s| {
            let link = s.link.as_ref()?;
            let teams = facts.people.get(&s.person_id).and_then(|p| p.teams()).unwrap_or("");
            Some((link.scim_id.clone(), link.active, teams.to_owned()))
        })
        .collect();
    if people.is_empty() {
        return Ok(Vec::new());
    }
    match people_teams(session, env, &people) {
        Ok(run) => Ok(run.changes),
        Err(e @ AppError::Unauthorized(_)) => Err(e),
        Err(e) => {
            log_step_failure(session, env, &e);
            Ok(Vec::new())
        }
    }
}

/// A teams step that failed as a whole (the groups could not be read): logged, the call's
/// people untouched.
pub(crate) fn log_step_failure(session: &mut Session, env: &mut Env, e: &AppError) {
    let mut entry = draft(env, LogAction::TeamAdd, LogOutcome::Failure, format!("teams not updated: {e}"));
    if let Some(status) = e.status() {
        entry = entry.status(status);
    }
    session.log(env, entry);
}

/// Sends one team's plan (or, in a dry run, lists it), records the membership it reached, and
/// logs. A failure is the team's (recorded, logged once); only a refused token is the call's.
fn carry_out(
    session: &mut Session,
    env: &mut Env,
    plan: &TeamPlan,
    record: &mut TeamRecord,
    want: &[&str],
    dry_run: bool,
    run: &mut TeamsRun,
) -> Result<(), AppError> {
    let name = &plan.name;
    if let Some(problem) = &plan.problem {
        if !dry_run && record.retry.noted.as_deref() != Some(problem) {
            record.retry.noted = Some(problem.clone());
            let entry = draft(env, LogAction::TeamCreate, LogOutcome::Failure, format!("team \"{name}\": {problem}"));
            session.log(env, entry);
            state::save_team(env.kv, record)?;
        }
        run.changes.push(change(name, TeamChangeKind::Create, 0, Some(problem.clone())));
        run.failed += 1;
        return Ok(());
    }
    if dry_run {
        match &plan.link {
            TeamLink::Create => run.changes.push(change(name, TeamChangeKind::Create, 0, None)),
            TeamLink::Adopt(_) => run.changes.push(change(name, TeamChangeKind::Adopt, 0, None)),
            TeamLink::Linked(_) | TeamLink::Unlinked => {}
        }
        push_members(run, name, plan.added.len(), plan.removed.len(), None);
        return Ok(());
    }
    match send_plan(session, env, plan, record, want, run) {
        Ok(()) => {
            record.retry.record_success();
            record.retry.noted = None;
            state::save_team(env.kv, record)
        }
        Err(e) => {
            if let AppError::Unauthorized(f) = &e {
                session.refused.get_or_insert_with(|| f.clone());
                state::save_team(env.kv, record)?;
                return Err(e);
            }
            run.failed += 1;
            let message = e.to_string();
            let permanent = is_permanent(&e);
            let outcome = record.retry.record_failure(env.now, &message, permanent, fingerprint(&[name, &want]));
            // What failed: the create (no group came of it), else the membership writes.
            let created = plan.link != TeamLink::Create || record.id.is_some();
            let (kind, action) = match (created, plan.removed.is_empty()) {
                (false, _) => (TeamChangeKind::Create, LogAction::TeamCreate),
                (true, true) => (TeamChangeKind::AddMembers, LogAction::TeamAdd),
                (true, false) => (TeamChangeKind::RemoveMembers, LogAction::TeamRemove),
            };
            run.changes.push(change(name, kind, 0, Some(message.clone())));
            if record.retry.noted.as_deref() != Some(message.as_str()) || outcome == FailureOutcome::Quarantined {
                record.retry.noted = Some(message.clone());
                let text = match outcome {
                    FailureOutcome::Quarantined => format!(
                        "team \"{name}\": quarantined after 7 days of failures, no attempts until its people change; last error: {message}"
                    ),
                    FailureOutcome::RetryAt(at) => format!(
                        "team \"{name}\": {message}; tried again after {}",
                        crate::reconcile::timing::format_time(at)
                    ),
                };
                let mut entry = draft(env, action, LogOutcome::Failure, text);
                if let Some(status) = e.status() {
                    entry = entry.status(status);
                }
                session.log(env, entry);
            }
            state::save_team(env.kv, record)
        }
    }
}

/// The requests of one plan, in order; the record follows each success, so a failure part way
/// leaves it saying what the team holds.
fn send_plan(
    session: &mut Session,
    env: &mut Env,
    plan: &TeamPlan,
    record: &mut TeamRecord,
    want: &[&str],
    run: &mut TeamsRun,
) -> Result<(), AppError> {
    let name = &plan.name;
    let mut plan = plan.clone();
    let id = match &plan.link {
        TeamLink::Linked(id) => id.clone(),
        TeamLink::Unlinked => return Ok(()),
        TeamLink::Adopt(id) => adopted(session, env, record, id, run),
        TeamLink::Create => {
            run.writes += 1;
            match scim_groups::create_group(&mut session.scim, env.http, name)? {
                Created::Made(id) => {
                    record.id = Some(id.clone());
                    record.members.clear();
                    run.changes.push(change(name, TeamChangeKind::Create, 0, None));
                    session.log(
                        env,
                        draft(env, LogAction::TeamCreate, LogOutcome::Success, format!("created team \"{name}\"")),
                    );
                    id
                }
                // Someone made it meanwhile: adopt theirs, and plan its membership again.
                Created::Exists => {
                    let any_case = session.settings.dialect == Dialect::Rfc7644;
                    let found =
                        scim_groups::find_group(&mut session.scim, env.http, name, any_case)?.ok_or_else(|| {
                            AppError::Transport(crate::error::Failure {
                                service: crate::error::Service::Scim,
                                status: Some(409),
                                message: format!(
                                    "the service says team \"{name}\" exists, but no group of that name is listed"
                                ),
                            })
                        })?;
                    let found = shown(session.settings.dialect, found.team);
                    let id = adopted(session, env, record, &found.id, run);
                    plan = plan_team(session.settings.dialect, name, None, Some(&found), want, false);
                    id
                }
            }
        }
    };
    for write in &plan.writes {
        run.writes += 1;
        match scim_groups::write_members(&mut session.scim, env.http, &id, write) {
            Ok(()) => apply(record, write),
            // The group was deleted by hand: forgotten, so the next sync makes it again.
            Err(AppError::Upstream(f)) if f.status == Some(404) => {
                record.id = None;
                record.members.clear();
                return Err(AppError::Upstream(crate::error::Failure {
                    message: format!("team \"{name}\" is gone from the service; it is made again at the next sync"),
                    ..f
                }));
            }
            Err(e) => return Err(e),
        }
    }
    let (added, removed) = (plan.added.len(), plan.removed.len());
    push_members(run, name, added, removed, None);
    if added > 0 {
        let entry =
            draft(env, LogAction::TeamAdd, LogOutcome::Success, format!("added {added} members to team \"{name}\""));
        session.log(env, entry);
    }
    if removed > 0 {
        let why = if want.is_empty() {
            ": nobody in Humaans is in it any more (the team is kept: Leapsome teams are never deleted)"
        } else {
            ""
        };
        let entry = draft(
            env,
            LogAction::TeamRemove,
            LogOutcome::Success,
            format!("removed {removed} members from team \"{name}\"{why}"),
        );
        session.log(env, entry);
    }
    Ok(())
}

/// Links the record to an existing group of the team's name (logged).
fn adopted(session: &mut Session, env: &mut Env, record: &mut TeamRecord, id: &str, run: &mut TeamsRun) -> String {
    let name = record.name.clone();
    record.id = Some(id.to_owned());
    record.members.clear();
    run.changes.push(change(&name, TeamChangeKind::Adopt, 0, None));
    let entry = draft(
        env,
        LogAction::TeamAdopt,
        LogOutcome::Success,
        format!("adopted team \"{name}\": a team of that name was already in the service"),
    );
    session.log(env, entry);
    id.to_owned()
}

/// The record after one successful write.
fn apply(record: &mut TeamRecord, write: &MemberWrite) {
    let (add, remove): (&[String], &[String]) = match write {
        MemberWrite::Flat { replace: true, members } => {
            record.members.clear();
            (members, &[])
        }
        MemberWrite::Flat { replace: false, members } => (members, &[]),
        MemberWrite::PatchOp { add, remove } => (add, remove),
    };
    record.members.retain(|m| !remove.contains(m));
    let present: IdSet<&str> = record.members.iter().map(String::as_str).collect();
    let new: Vec<String> = add.iter().filter(|id| !present.contains(id.as_str())).cloned().collect();
    drop(present);
    record.members.extend(new);
}

fn push_members(run: &mut TeamsRun, name: &str, added: usize, removed: usize, error: Option<String>) {
    if added > 0 {
        run.changes.push(change(name, TeamChangeKind::AddMembers, added as u32, error.clone()));
    }
    if removed > 0 {
        run.changes.push(change(name, TeamChangeKind::RemoveMembers, removed as u32, error));
    }
}

fn change(team: &str, kind: TeamChangeKind, members: u32, error: Option<String>) -> TeamChange {
    TeamChange { team: team.to_owned(), kind, members, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_follows_each_write() {
        let mut r = TeamRecord {
            name: "T".into(),
            id: Some("g".into()),
            members: vec!["a".into(), "b".into()],
            ..TeamRecord::default()
        };
        apply(&mut r, &MemberWrite::Flat { replace: false, members: vec!["c".into()] });
        assert_eq!(r.members, ["a", "b", "c"]);
        apply(&mut r, &MemberWrite::Flat { replace: true, members: vec!["b".into()] });
        assert_eq!(r.members, ["b"]);
        apply(&mut r, &MemberWrite::PatchOp { add: vec!["z".into()], remove: vec!["b".into()] });
        assert_eq!(r.members, ["z"]);
    }

    #[test]
    fn keys_are_the_name_hashed() {
        use crate::state::team_key;
        assert_eq!(team_key("Engineering"), team_key("Engineering"));
        assert_ne!(team_key("Engineering"), team_key("engineering"));
        assert!(team_key(&"x".repeat(500)).len() < 30);
    }
}
