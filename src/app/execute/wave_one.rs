//! Wave one: every subject's profile write, sent together; a create refused as a conflict adopts
//! the account, and a service without DELETE deactivates instead.

use std::rc::Rc;

use crate::client::Call;
use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::ports::Method;
use crate::reconcile::mapping::changed_attributes;
use crate::reconcile::render::{active_body, update_body};
use crate::reconcile::{Link, Op, Profile};
use crate::scim;
use crate::state::{self, Schedule};

use super::super::{ChangeKind, Env, Session, draft};
use super::gate::note_subject_failure;
use super::profile::{link_after, profile_write, user_name_of};
use super::report::{names, record};
use super::send::send_batched;
use super::{Facts, Run, Subject};

/// Wave one: every subject's profile write, sent together.
pub(crate) fn write_profiles(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    facts: &mut Facts,
    subjects: &mut [Subject],
    run: &mut Run,
) -> Result<(), AppError> {
    let settings = session.settings.clone();
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
        let Some((call, kinds, changes)) = profile_write(s, &settings, run.no_delete) else {
            continue;
        };
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
    let Some(link) = s.link.clone() else {
        return Ok(());
    };
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
