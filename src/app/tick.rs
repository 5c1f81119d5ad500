//! `tick`: what has fallen due since (start dates, last working days, job roles taking effect,
//! retries after backoff) and manager links still waiting, without a full sync.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Mode;
use crate::reconcile::timing::format_time;
use crate::state::{self, Schedule};

use super::brake;
use super::event::{carry_out, log_unreadable, prepare_person};
use super::execute::{Facts, Run, note_failure};
use super::{Env, Session, draft};
use crate::reconcile::retry::HeldPath;

/// People looked at per tick at most; the rest wait for the next tick (bounded work per call).
pub const MAX_PEOPLE_PER_TICK: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub provisioned: u32,
    pub deprovisioned: u32,
    pub managers_linked: u32,
    pub failed: u32,
    pub held: u32,
    pub waiting: u32,
    pub next_due: Option<String>,
}

pub fn tick(env: &mut Env) -> Result<TickReport, AppError> {
    let mut session = Session::open(env)?;
    let result = run_tick(&mut session, env);
    session.finish(env, result)
}

fn run_tick(session: &mut Session, env: &mut Env) -> Result<TickReport, AppError> {
    let mut schedule = Schedule::load_all(env.kv)?;
    log_unreadable(session, env, &mut schedule);
    let now = env.now;
    let mut due: Vec<String> =
        schedule.people().filter(|(_, state)| state.is_due(now)).map(|(id, _)| id.clone()).collect();
    // Oldest due first would need the times; ids keep the order stable between ticks.
    due.sort();
    due.truncate(MAX_PEOPLE_PER_TICK);

    let mut run = Run { no_delete: session.no_delete, ..Run::default() };
    let mut facts = Facts::new(session.scope.clone());
    let mut subjects = Vec::new();
    for id in due {
        // Due entries are consumed; deciding schedules them again if still needed.
        schedule.entry(&id).wake_at = None;
        match prepare_person(session, env, &mut schedule, &mut facts, &id, Mode::Tick) {
            Ok(subject) => subjects.push(subject),
            Err(AppError::UnknownPerson(_)) => {}
            Err(e) => {
                run.failed += 1;
                note_failure(session, env, &mut schedule, &id, "", facts.fingerprint_of(&id), &e);
                let entry = draft(env, LogAction::Tick, LogOutcome::Failure, format!("could not process: {e}"))
                    .person_id(id.clone());
                let entry = if let Some(s) = e.status() { entry.status(s) } else { entry };
                session.log(env, entry);
            }
        }
    }
    // Counted only when it matters (the links of a large tenant are many).
    let linked_accounts = if subjects.iter().any(|s| s.decision.deprovisions()) {
        state::Links::load(env.kv, &schedule.link_keys)?.count()
    } else {
        0
    };
    let braked =
        brake::apply(session, env, &mut schedule, &mut subjects, linked_accounts, HeldPath::Tick, false, false)?;
    let held = braked.held;
    carry_out(session, env, &mut schedule, &mut facts, &mut subjects, Mode::Tick, &mut run)?;
    brake::release(env, braked.reservation, run.deprovisioned)?;
    schedule.save(env.kv)?;
    brake::disengage_if_none_held(env, &schedule)?;
    // After the accounts: the teams of the people provisioned or deprovisioned (logged).
    super::teams::after_people(session, env, &facts, &subjects)?;

    let waiting = schedule.people().filter(|(_, s)| s.next_due(now).is_some() || s.is_due(now)).count();
    let report = TickReport {
        provisioned: run.created + run.adopted,
        deprovisioned: run.deprovisioned,
        managers_linked: run.managers_linked,
        failed: run.failed,
        held,
        waiting: waiting as u32,
        next_due: schedule.people().filter_map(|(_, s)| s.next_due(now)).min().map(format_time),
    };
    if report.provisioned + report.deprovisioned + report.managers_linked + report.failed + report.held > 0 {
        let outcome = if report.failed > 0 { LogOutcome::Failure } else { LogOutcome::Success };
        let message = format!(
            "tick: provisioned {}, deprovisioned {}, managers linked {}, failed {}, held {}; {} waiting",
            report.provisioned,
            report.deprovisioned,
            report.managers_linked,
            report.failed,
            report.held,
            report.waiting
        );
        session.log(env, draft(env, LogAction::Tick, outcome, message));
    }
    Ok(report)
}
