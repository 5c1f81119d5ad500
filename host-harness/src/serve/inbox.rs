//! The dispatcher that drains each tenant's inbox: one drain per tenant with queued events and
//! nobody running its calls, under the tenant's lease (`turns.rs`); failed events back off
//! (`EventRetry`), then become dead letters.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tracing::Instrument;

use super::app::{App, QueuedEvent};
use super::turns::TenantTurn;
use crate::storage::InboxItem;

/// How often the dispatcher looks at the inbox without being woken (a missed wake-up costs this,
/// and so does an event whose backoff ran out or a dead letter re-queued by another process).
const POLL: Duration = Duration::from_secs(1);

/// How failed events are retried: `attempts` calls in all, the second `backoff` after the
/// first failed, each gap twice the one before (1, 2, 4, 8 minutes by default); after the last,
/// the event is kept as a dead letter. Pure, so the gaps are tested without a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRetry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl EventRetry {
    /// After the `attempt`-th call failed (1 for the first): how long until the next, or `None`:
    /// that was the last (or the failure is `permanent`: the same event can only fail again).
    pub fn after_failure(&self, attempt: u32, permanent: bool) -> Option<Duration> {
        if permanent || attempt >= self.attempts {
            return None;
        }
        Some(self.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(30)))
    }
}

/// Why an event's call failed, and whether trying again could help.
#[derive(Debug)]
pub struct EventFailure {
    pub error: String,
    pub permanent: bool,
}

/// Starts a drain for every tenant with queued events and nobody running its calls.
pub async fn dispatch(app: Arc<App>) {
    let mut stopping = app.stopping();
    loop {
        if app.is_stopping() {
            return;
        }
        match app.queue.tenants_with_work() {
            Ok(tenants) => {
                for tenant in tenants {
                    if let Some(lock) = app.workers.try_lock(&tenant) {
                        let run = super::log::run_span(&tenant, "inbox");
                        tokio::spawn(drain(app.clone(), tenant, lock).instrument(run));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the inbox cannot be read"),
        }
        tokio::select! {
            _ = app.work.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Runs the tenant's queued events one by one, in the order they arrived (an event in backoff
/// waits while later ones run: events are hints, each re-reads the person), under its lease (a
/// tenant another process holds is left to that process). Between two events it makes any
/// scheduled run that waited for the tenant, so steady webhook traffic cannot hold one off.
async fn drain(app: Arc<App>, tenant: String, lock: OwnedMutexGuard<()>) {
    let Some(turn) = app.leased_turn(&tenant, app.workers.turn(lock).await) else { return };
    while !app.is_stopping() && turn.clock.is_current() {
        let waited = app.workers.waiting().take(&tenant);
        if waited.is_some() {
            super::scheduler::run_due(&app, &turn).await;
            continue;
        }
        let item = match app.queue.claim_next(&turn.lease) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(tenant, error = %format_args!("{e:#}"), "the inbox cannot be read");
                break;
            }
        };
        let result = match run_event(&app, &turn, &item.payload).await {
            Ok(()) => app.queue.complete(item.id, &turn.lease).map(drop),
            Err(failure) => failed(&app, &turn, &item, failure),
        };
        if let Err(e) = result {
            // Fenced: the lease passed to another process, which runs the item again.
            tracing::warn!(tenant, error = %format_args!("{e:#}"), "the inbox cannot be written");
            break;
        }
    }
    drop(turn);
    super::notifications::after_turn(&app, &tenant);
    // Work that arrived while this tenant was busy is picked up now, not at the next poll.
    app.work.notify_one();
}

/// An event's call failed: back to the inbox after its backoff, or kept as a dead letter (logged
/// and counted once: only the holder of the claim can make it one).
fn failed(app: &App, turn: &TenantTurn, item: &InboxItem, failure: EventFailure) -> anyhow::Result<()> {
    let retry = EventRetry { attempts: app.config.event_attempts, backoff: app.config.event_backoff };
    let attempt = item.attempts + 1;
    let retry_in = retry.after_failure(attempt, failure.permanent);
    let changed = app.queue.fail(item.id, &turn.lease, &failure.error, retry_in)?;
    let (tenant, event, error) = (&turn.lease.tenant, &item.event_id, &failure.error);
    match retry_in {
        Some(delay) => {
            let retry_in_ms = delay.as_millis() as u64;
            tracing::warn!(tenant, event, attempt, error, retry_in_ms, "event will be retried");
        }
        None if changed => {
            app.metrics.dead_letter();
            tracing::warn!(tenant, event, attempt, error, "event kept as a dead letter: `retry --event` re-queues it");
        }
        None => {}
    }
    Ok(())
}

/// One queued event through the component. `Err` when the call failed: the component's own
/// error (also in the tenant's log) or the host's (trap, timeout, limits).
async fn run_event(app: &App, turn: &TenantTurn, payload: &[u8]) -> Result<(), EventFailure> {
    let tenant = turn.lease.tenant.as_str();
    let event = serde_json::from_slice::<QueuedEvent>(payload)
        .map_err(anyhow::Error::from)
        .and_then(|q| q.to_event())
        .map_err(|e| EventFailure { error: format!("unreadable inbox item: {e:#}"), permanent: true })?;
    let plugin = match app.plugin(tenant) {
        Ok(Some(p)) => turn.plugin(app, &p).in_run(crate::Run::new(format!("webhook:{}", event.id))),
        Ok(None) => return Ok(()),
        Err(e) => return Err(EventFailure { error: format!("{e:#}"), permanent: false }),
    };
    let outcome = app.timed(tenant, "on-employee-event", plugin.on_employee_event(&event)).await;
    match outcome {
        Ok(Ok(o)) => {
            let token = turn.lease.token;
            let (event, person, changes) = (&event.id, &event.person_id, o.changes.len());
            tracing::info!(tenant, event, person, token, changes, "event applied");
            Ok(())
        }
        // The event itself refused: the same event can only be refused again.
        Ok(Err(e)) => Err(EventFailure {
            permanent: matches!(e, crate::plugin::api::IntegrationError::InvalidInput(_)),
            error: crate::operator::describe(&e),
        }),
        Err(e) => Err(EventFailure { error: e.to_string(), permanent: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_events_wait_twice_as_long_each_time_then_are_kept() {
        let retry = EventRetry { attempts: 5, backoff: Duration::from_secs(60) };
        let gaps: Vec<Option<u64>> = (1..=6).map(|a| retry.after_failure(a, false).map(|d| d.as_secs())).collect();
        assert_eq!(gaps, [Some(60), Some(120), Some(240), Some(480), None, None]);
        assert_eq!(retry.after_failure(1, true), None, "a permanent failure is kept at once");
        let once = EventRetry { attempts: 1, backoff: Duration::from_secs(60) };
        assert_eq!(once.after_failure(1, false), None);
        let many = EventRetry { attempts: 100, backoff: Duration::from_secs(60) };
        assert_eq!(many.after_failure(99, false), Some(Duration::from_secs(60 << 30)), "capped, never overflows");
    }
}
