//! When to look at each subject again, and who needs nothing more of a sync.

use crate::ids::IdSet;
use crate::reconcile::Decision;
use crate::reconcile::retry::PersonState;
use crate::reconcile::timing::format_time;
use crate::state::Schedule;

use super::wave_two::manager_decision_stands;
use super::{Facts, Run, Subject};

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
