//! `sync-all`: back-fills the whole organisation from full paged reads of both sides (never a
//! lookup per employee), users first and managers second, within a write budget.

use std::collections::HashMap;

use crate::error::AppError;
use crate::humaans;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::{Link, Mode, RemoteUser};
use crate::scim;
use crate::state::{self, CachedCompany, Schedule};

use super::execute::{Facts, Run, Subject, decide_for, link_after, reschedule, write_managers, write_profiles};
use super::{Change, Env, Session, draft, fail_logged};

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    pub dry_run: bool,
    pub max_writes: Option<u32>,
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
    pub writes: u32,
    pub remaining_writes: u32,
    pub complete: bool,
    pub changes: Vec<Change>,
}

pub fn sync_all(env: &mut Env, options: SyncOptions) -> Result<SyncReport, AppError> {
    let mut session = Session::open(env)?;
    match run_sync(&mut session, env, options) {
        Ok(report) => Ok(report),
        Err(e) => Err(fail_logged(&mut session, env, LogAction::Sync, e)),
    }
}

fn run_sync(session: &mut Session, env: &mut Env, options: SyncOptions) -> Result<SyncReport, AppError> {
    let settings = session.settings;
    let mut schedule = Schedule::load(env.kv)?;
    let people = humaans::all_people(&mut session.humaans, env.http)?;
    let roles = humaans::all_job_roles(&mut session.humaans, env.http)?;
    let company_id = people.iter().find_map(|p| p.company_id.clone());
    let company = humaans::company_name(&mut session.humaans, env.http, company_id.as_deref())?;
    if !options.dry_run {
        state::put(env.kv, "company", &CachedCompany { id: company_id, name: company.clone() })?;
    }
    let users = scim::all_users(&mut session.scim, env.http)?;

    let mut facts = Facts { company, ..Facts::default() };
    for role in roles {
        facts.roles.entry(role.person_id.clone()).or_default().push(role);
    }
    let by_id: HashMap<&str, &RemoteUser> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let by_external: HashMap<&str, &RemoteUser> =
        users.iter().filter_map(|u| Some((u.external_id.as_deref()?, u))).collect();
    let by_user_name: HashMap<String, &RemoteUser> = users.iter().map(|u| (u.user_name.to_lowercase(), u)).collect();
    facts.accounts_by_email = users.iter().map(|u| (u.user_name.to_lowercase(), u.id.clone())).collect();

    // Everyone in Humaans, plus linked people Humaans no longer has (to deprovision them).
    let mut ids: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
    for p in people {
        facts.people.insert(p.id.clone(), p);
    }
    for u in &users {
        if let Some(ext) = u.external_id.as_deref()
            && !facts.people.contains_key(ext)
        {
            ids.push(ext.to_owned());
        }
    }

    let mut links: HashMap<String, Link> = HashMap::new();
    for id in &ids {
        if let Some(link) = state::load_link(env.kv, id)? {
            // An account removed in Leapsome by hand: forget the link so the person is handled
            // afresh (re-created if due), instead of writing to an account that is gone.
            if by_id.contains_key(link.scim_id.as_str()) {
                facts.accounts.insert(id.clone(), link.scim_id.clone());
                links.insert(id.clone(), link);
            } else if !options.dry_run {
                state::save_link(env.kv, id, None)?;
            }
        }
    }

    let mut subjects = Vec::new();
    let mut skipped = 0;
    for id in &ids {
        let link = links.remove(id);
        let person = facts.people.get(id);
        if person.is_none() && link.is_none() {
            continue;
        }
        let found = match (&link, person) {
            (None, Some(p)) => by_external
                .get(id.as_str())
                .or_else(|| p.email.as_ref().and_then(|e| by_user_name.get(&e.to_lowercase())))
                .map(|u| (*u).clone()),
            _ => None,
        };
        let decision = decide_for(&facts, id, link.as_ref(), found.as_ref(), &settings, Mode::Sync, env.now);
        if decision.skipped.is_some() {
            skipped += 1;
        }
        let email = person
            .and_then(|p| p.email.clone())
            .or_else(|| link.as_ref().and_then(|l| l.written.get(&crate::reconcile::Attr::UserName).cloned()))
            .unwrap_or_default();
        subjects.push(Subject {
            person_id: id.clone(),
            email,
            link,
            found,
            decision,
            was_pending: schedule.pending_managers.contains(id),
        });
    }

    let mut run = Run { dry_run: options.dry_run, budget: options.max_writes, ..Run::default() };
    write_profiles(session, env, &mut schedule, &mut facts, &mut subjects, &mut run)?;
    if options.dry_run {
        // Plan the manager links as if this run's accounts existed.
        for s in &mut subjects {
            if s.link.is_none() && facts.accounts.contains_key(&s.person_id) {
                // An adopted account keeps the manager it has; a planned one has none yet.
                let created = s.found.is_none().then(|| facts.accounts[&s.person_id].clone());
                s.link = link_after(s, &[], created);
            }
        }
    }
    write_managers(session, env, &mut schedule, &facts, &mut subjects, Mode::Sync, &mut run)?;
    reschedule(&mut schedule, &subjects, &run);
    let managers_pending = subjects.iter().filter(|s| s.decision.manager_pending).count() as u32;

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
        skipped,
        failed: run.failed,
        writes: if options.dry_run { 0 } else { run.writes },
        remaining_writes: run.deferred,
        complete: run.deferred == 0,
        changes: run.changes,
    };
    if !options.dry_run {
        schedule.save(env.kv)?;
        let outcome = if report.failed > 0 { LogOutcome::Failure } else { LogOutcome::Success };
        let message = format!(
            "sync: {} people, {} accounts; created {}, adopted {}, updated {}, deprovisioned {}, reactivated {}, managers linked {}, managers pending {}, skipped {}, failed {}; {} writes{}",
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
            report.writes,
            if report.complete {
                String::new()
            } else {
                format!(", {} writes left for the next call", report.remaining_writes)
            }
        );
        session.log(env, draft(env, LogAction::Sync, outcome, message));
        session.flush(env)?;
    }
    Ok(report)
}
