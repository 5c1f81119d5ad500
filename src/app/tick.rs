//! `tick`: what has fallen due since (start dates, last working days, retries after failures) and
//! manager links still waiting, without a full sync.

use crate::error::AppError;
use crate::logs::{LogAction, LogOutcome};
use crate::reconcile::Mode;
use crate::reconcile::timing::{format_time, parse_time};
use crate::state::Schedule;

use super::event::process_person;
use super::execute::Run;
use super::{Env, Session, draft};

/// People looked at per tick at most; the rest wait for the next tick (bounded work per call).
pub const MAX_PEOPLE_PER_TICK: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub provisioned: u32,
    pub deprovisioned: u32,
    pub managers_linked: u32,
    pub failed: u32,
    pub waiting: u32,
    pub next_due: Option<String>,
}

pub fn tick(env: &mut Env) -> Result<TickReport, AppError> {
    let mut session = Session::open(env)?;
    let mut schedule = Schedule::load(env.kv)?;
    let now = env.now;
    let due: Vec<String> = schedule
        .waiting
        .iter()
        .filter(|(_, at)| parse_time(at).is_none_or(|t| t <= now))
        .map(|(id, _)| id.clone())
        .chain(schedule.pending_managers.iter().cloned())
        .take(MAX_PEOPLE_PER_TICK)
        .collect();
    let mut run = Run::default();
    let mut seen = std::collections::BTreeSet::new();
    for id in due {
        if !seen.insert(id.clone()) {
            continue;
        }
        // Due entries are consumed; processing schedules them again if still needed.
        schedule.wake(&id, None);
        match process_person(&mut session, env, &mut schedule, &id, Mode::Tick, &mut run) {
            Ok(_) | Err(AppError::UnknownPerson(_)) => {}
            Err(e) => {
                run.failed += 1;
                schedule.wake(&id, Some(format_time(now)));
                let entry = draft(env, LogAction::Tick, LogOutcome::Failure, format!("could not process: {e}"))
                    .person_id(id.clone());
                let entry = if let Some(s) = e.status() { entry.status(s) } else { entry };
                session.log(env, entry);
            }
        }
    }
    schedule.save(env.kv)?;
    let report = TickReport {
        provisioned: run.created + run.adopted,
        deprovisioned: run.deprovisioned,
        managers_linked: run.managers_linked,
        failed: run.failed,
        waiting: schedule.waiting.len() as u32,
        next_due: schedule.waiting.values().filter_map(|t| parse_time(t)).filter(|t| *t > now).min().map(format_time),
    };
    if report.provisioned + report.deprovisioned + report.managers_linked + report.failed > 0 {
        let outcome = if report.failed > 0 { LogOutcome::Failure } else { LogOutcome::Success };
        let message = format!(
            "tick: provisioned {}, deprovisioned {}, managers linked {}, failed {}; {} waiting",
            report.provisioned, report.deprovisioned, report.managers_linked, report.failed, report.waiting
        );
        session.log(env, draft(env, LogAction::Tick, outcome, message));
    }
    session.flush(env)?;
    Ok(report)
}
