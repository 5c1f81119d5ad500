//! The deprovision brake's shell (the rules are `reconcile/brake.rs`): counting a call's
//! deprovisions against the tenant's rolling window in storage, holding them, and
//! `approve-deprovisions`.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Mode;
use crate::reconcile::brake::{self, ENGAGED_KEY, RELEASED_PREFIX, RESERVED_PREFIX, Verdict};
use crate::reconcile::retry::{HeldBy, HeldPath};
use crate::reconcile::timing::format_time;
use crate::state::{self, Schedule};

use super::event::{carry_out, prepare_person};
use super::execute::{Facts, Run, Subject, note_failure};
use super::{Change, Env, Session, draft};

/// Deprovisions a call reserved in the window: what was not carried out is released after.
#[must_use = "release what was not carried out"]
pub(crate) struct Reservation {
    minute: i64,
    count: u64,
}

/// What the brake did with a call's subjects.
pub(crate) struct Braked {
    pub held: u32,
    pub reservation: Option<Reservation>,
}

fn storage(e: String) -> AppError {
    AppError::Storage(e)
}

/// The window's counters as stored, (reserved?, minute, value); counters that fell out of the
/// window are deleted (unless `dry_run`).
fn counters(env: &mut Env, window: u32, dry_run: bool) -> Result<Vec<(bool, i64, u64)>, AppError> {
    let keys: Vec<String> =
        env.kv.list_keys().map_err(storage)?.into_iter().filter(|k| brake::counter_minute(k).is_some()).collect();
    let (live, expired): (Vec<String>, Vec<String>) = keys.into_iter().partition(|k| {
        let (_, minute) = brake::counter_minute(k).expect("filtered");
        brake::in_window(minute, env.now, window)
    });
    if !expired.is_empty() && !dry_run {
        env.kv.delete_many(&expired).map_err(storage)?;
    }
    let values = env.kv.get_many(&live).map_err(storage)?;
    Ok(live
        .iter()
        .zip(values)
        .filter_map(|(key, value)| {
            let (reserved, minute) = brake::counter_minute(key)?;
            let value = std::str::from_utf8(&value?).ok()?.trim().parse().ok()?;
            Some((reserved, minute, value))
        })
        .collect())
}

fn engaged(env: &mut Env) -> Result<bool, AppError> {
    Ok(env.kv.get(ENGAGED_KEY).map_err(storage)?.is_some())
}

/// Counts the deprovisions among `subjects` against the window and holds them all when the
/// window would go over the limit, or when the brake is engaged. `approved`: carried out without
/// counting (an operator approved). Held people are logged once each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply(
    session: &mut Session,
    env: &mut Env,
    schedule: &mut Schedule,
    subjects: &mut [Subject],
    linked_accounts: usize,
    path: HeldPath,
    approved: bool,
    dry_run: bool,
) -> Result<Braked, AppError> {
    // Someone no longer to be deprovisioned (rehired, data fixed) is no longer held.
    if !dry_run {
        for s in subjects.iter() {
            if !s.decision.deprovisions() && !s.gated && schedule.get(&s.person_id).held_since.is_some() {
                let state = schedule.entry(&s.person_id);
                state.held_since = None;
                state.held = None;
            }
        }
    }
    let batch = subjects.iter().filter(|s| s.decision.deprovisions()).count();
    if batch == 0 || approved {
        return Ok(Braked { held: 0, reservation: None });
    }
    let settings = session.settings.clone();
    let window = brake::window_minutes(settings.deprovision_window_minutes);
    let limit = crate::reconcile::deprovision_limit(settings.deprovision_limit, linked_accounts);
    let minute = brake::minute_of(env.now);
    let is_engaged = engaged(env)?;
    let mut reservation = None;
    let verdict = if is_engaged {
        brake::judge(batch, 0, limit, window, true)
    } else if dry_run {
        let counted = brake::count_in_window(&counters(env, window, true)?, env.now, window) + batch as u64;
        brake::judge(batch, counted, limit, window, false)
    } else {
        // Reserve first, then read: a call overlapping this one sees this reservation.
        env.kv.increment(&format!("{RESERVED_PREFIX}{minute}"), batch as u64).map_err(storage)?;
        let counted = brake::count_in_window(&counters(env, window, false)?, env.now, window);
        let verdict = brake::judge(batch, counted, limit, window, false);
        match verdict {
            Verdict::Proceed => reservation = Some(Reservation { minute, count: batch as u64 }),
            Verdict::Hold(_) => {
                env.kv.increment(&format!("{RELEASED_PREFIX}{minute}"), batch as u64).map_err(storage)?;
                env.kv.set(ENGAGED_KEY, format_time(env.now).as_bytes()).map_err(storage)?;
            }
        }
        verdict
    };
    let Verdict::Hold(reason) = verdict else { return Ok(Braked { held: 0, reservation }) };
    for s in subjects.iter_mut().filter(|s| s.decision.deprovisions()) {
        s.decision.hold(reason.clone());
        if dry_run {
            continue;
        }
        let state = schedule.entry(&s.person_id);
        if state.held_since.is_none() {
            state.held_since = Some(format_time(env.now));
            state.held = Some(Box::new(HeldBy { path, reason: reason.clone() }));
            let entry = draft(env, LogAction::Hold, LogOutcome::Skipped, reason.clone())
                .person(s.person_id.clone(), s.email.clone());
            session.log(env, entry);
        }
    }
    Ok(Braked { held: batch as u32, reservation })
}

/// Releases the reserved deprovisions that were not carried out (failed, or deferred past the
/// call's write budget): `carried_out` of them were.
pub(crate) fn release(env: &mut Env, reservation: Option<Reservation>, carried_out: u32) -> Result<(), AppError> {
    let Some(r) = reservation else { return Ok(()) };
    let unused = r.count.saturating_sub(u64::from(carried_out));
    if unused > 0 {
        env.kv.increment(&format!("{RELEASED_PREFIX}{}", r.minute), unused).map_err(storage)?;
    }
    Ok(())
}

/// Disengages the brake when nobody in `schedule` (every person's record) is held any more.
pub(crate) fn disengage_if_none_held(env: &mut Env, schedule: &Schedule) -> Result<(), AppError> {
    if schedule.people().any(|(_, s)| s.held_since.is_some()) {
        return Ok(());
    }
    if engaged(env)? {
        env.kv.delete(ENGAGED_KEY).map_err(storage)?;
    }
    Ok(())
}

/// People an `approve-deprovisions` call works through at most (each is re-read from Humaans);
/// the report says how many remain.
pub const MAX_APPROVED_PER_CALL: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalReport {
    pub approved: u32,
    pub released: u32,
    pub failed: u32,
    pub remaining: u32,
    pub changes: Vec<Change>,
}

/// Carries out held deprovisions: this person's, or every held one (`None`, up to
/// [`MAX_APPROVED_PER_CALL`]). Each person is re-read and decided again: one no longer to be
/// deprovisioned is released, one in backoff stays held. Approved deprovisions do not count
/// against the window.
pub fn approve_deprovisions(env: &mut Env, person_id: Option<&str>) -> Result<ApprovalReport, AppError> {
    let mut session = Session::open(env)?;
    if let Some(id) = person_id
        && !super::valid_id(id)
    {
        return Err(AppError::invalid(
            "person-id",
            "must be a Humaans person id (letters, digits, - or _; at most 64)",
        ));
    }
    let result = run_approval(&mut session, env, person_id);
    session.finish(env, result)
}

fn run_approval(session: &mut Session, env: &mut Env, person_id: Option<&str>) -> Result<ApprovalReport, AppError> {
    let mut schedule = Schedule::load_all(env.kv)?;
    let mut held: Vec<_> = schedule
        .people()
        .filter(|(id, s)| s.held_since.is_some() && person_id.is_none_or(|p| p == id.as_str()))
        .collect();
    if let Some(id) = person_id
        && held.is_empty()
    {
        return Err(AppError::invalid("person-id", format!("{id} has no held deprovision (see `status`)")));
    }
    // Oldest held first (the sort `status` lists them with).
    state::sort_people(&mut held, state::by_held_since);
    let remaining = held.len().saturating_sub(MAX_APPROVED_PER_CALL) as u32;
    let held: Vec<String> = held.into_iter().take(MAX_APPROVED_PER_CALL).map(|(id, _)| id.clone()).collect();

    let mut run = Run { no_delete: session.no_delete, ..Run::default() };
    let mut facts = Facts::new(session.scope.clone());
    let mut subjects = Vec::new();
    let mut report = ApprovalReport { remaining, ..ApprovalReport::default() };
    for id in held {
        match prepare_person(session, env, &mut schedule, &mut facts, &id, Mode::Tick) {
            Ok(s) if s.gated => report.remaining += 1,
            Ok(s) if !s.decision.deprovisions() => {
                report.released += 1;
                let state = schedule.entry(&id);
                state.held_since = None;
                state.held = None;
                let why = s.decision.skipped.clone().unwrap_or_else(|| "nothing to deprovision".into());
                let entry =
                    draft(env, LogAction::Hold, LogOutcome::Success, format!("held deprovision released: {why}"))
                        .person(id.clone(), s.email.clone());
                session.log(env, entry);
                subjects.push(s);
            }
            Ok(s) => {
                let entry = draft(env, LogAction::Hold, LogOutcome::Success, "held deprovision approved")
                    .person(id.clone(), s.email.clone());
                session.log(env, entry);
                subjects.push(s);
            }
            Err(AppError::UnknownPerson(_)) => {
                let state = schedule.entry(&id);
                state.held_since = None;
                state.held = None;
                report.released += 1;
            }
            Err(e) => {
                report.failed += 1;
                note_failure(session, env, &mut schedule, &id, "", facts.fingerprint_of(&id), &e);
                let entry = draft(
                    env,
                    LogAction::Hold,
                    LogOutcome::Failure,
                    format!("approval could not read the person: {e}"),
                )
                .person_id(id.clone());
                session.log(env, entry);
            }
        }
    }
    carry_out(session, env, &mut schedule, &mut facts, &mut subjects, Mode::Tick, &mut run)?;
    schedule.save(env.kv)?;
    disengage_if_none_held(env, &schedule)?;
    report.approved = run.deprovisioned;
    report.failed += run.failed;
    report.changes = run.changes;
    Ok(report)
}
