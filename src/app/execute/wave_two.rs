//! Wave two: manager links, decided again now that wave one's accounts exist.

use crate::client::Call;
use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::ports::Method;
use crate::reconcile::render::manager_body;
use crate::reconcile::{Mode, Op};
use crate::scim;
use crate::state::{self, Schedule};

use super::super::{ChangeKind, Env, Session, draft};
use super::gate::note_subject_failure;
use super::profile::user_name_of;
use super::report::record;
use super::send::send_batched;
use super::{Facts, Run, Subject, decide_for};

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
    let settings = session.settings.clone();
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
    let settings = session.settings.clone();
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

/// Whether `write_managers` looks at the subject's manager at all: a linked person still in
/// Humaans whom the decision did not leave alone.
pub(super) fn manager_decision_stands(s: &Subject, facts: &Facts) -> bool {
    s.link.is_some() && facts.people.contains_key(&s.person_id) && s.decision.skipped.is_none()
}
