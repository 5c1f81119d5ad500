//! Ticks every connected tenant every `--tick-every` and runs a reconciling `sync-all` every
//! `--sync-every`. The schedule lives in the store (`WorkQueue::due` / `claim_run`), so processes
//! sharing it split the due runs between them and each run goes to one process. First runs are
//! spread over the whole period and later ones jittered by ±10%, so tenants do not all fire at
//! once.
//!
//! No due run is lost. A run stays due in the store until a process holding the tenant's lease
//! claims it, so a run that falls due while its tenant is busy waits: a tenant busy in this
//! process has it taken by the tenant's turn between two calls ([`Waiting::take`], in the
//! dispatcher's drain: steady webhook traffic cannot hold a nightly sync off), a tenant free here
//! gets a turn of its own, and a tenant another process holds is asked for again a second later
//! (that process's own scheduler hands the run to its turn). The rule is [`Waiting`] plus
//! [`ScheduleRow`](crate::storage::ScheduleRow): free of I/O and clocks, and run for a simulated
//! week in the tests below.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::App;
use super::workers::TenantTurn;
use crate::plugin::api;
use crate::storage::{Claimed, Periods, RunKind};

/// How often the scheduler looks for due runs (and new tenants).
const STEP: Duration = Duration::from_millis(250);
/// How long a tenant another process holds is left alone before its lease is asked for again.
const ELSEWHERE_RETRY: Duration = Duration::from_secs(1);
/// How often done inbox items older than `--keep-days` are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The scheduler's rule in one process, free of I/O and clocks (times are milliseconds of any
/// monotonic clock, simulated in tests): which due runs start a turn now and which wait for
/// their tenant.
#[derive(Debug, Default)]
pub struct Waiting {
    /// Due runs whose tenant was busy in this process at the last step: the tenant's turn runs
    /// them between two calls (`take`).
    busy: BTreeMap<String, RunKind>,
    /// Tenants whose lease another process held, with when to ask again.
    elsewhere: BTreeMap<String, u64>,
}

/// What a step decided for one due run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The tenant is free here: start a turn for the run.
    Start(String, RunKind),
    /// The tenant is busy here: its turn takes the run. `first`: the step it began to wait.
    Wait { tenant: String, kind: RunKind, first: bool },
}

impl Waiting {
    /// One step at `now_ms`, given what the store says is due and which tenants are busy in this
    /// process. Runs that are no longer due (claimed, by a turn here or by another process) are
    /// forgotten.
    pub fn step(&mut self, now_ms: u64, due: &[(String, RunKind)], busy: impl Fn(&str) -> bool) -> Vec<Decision> {
        self.elsewhere.retain(|_, until| *until > now_ms);
        let mut waiting = BTreeMap::new();
        let mut decisions = Vec::new();
        for (tenant, kind) in due {
            if busy(tenant) {
                let first = !self.busy.contains_key(tenant);
                waiting.insert(tenant.clone(), *kind);
                decisions.push(Decision::Wait { tenant: tenant.clone(), kind: *kind, first });
            } else if !self.elsewhere.contains_key(tenant) {
                decisions.push(Decision::Start(tenant.clone(), *kind));
            }
        }
        self.busy = waiting;
        decisions
    }

    /// The tenant's lease was held by another process at `now_ms`: leave it until `retry_ms` later.
    pub fn held_elsewhere(&mut self, tenant: &str, now_ms: u64, retry_ms: u64) {
        self.elsewhere.insert(tenant.to_owned(), now_ms + retry_ms);
    }

    /// Asked by a turn of `tenant` in this process between two calls: the due run it should make
    /// now (it then claims it under its lease), if one waited for it.
    pub fn take(&mut self, tenant: &str) -> Option<RunKind> {
        self.busy.remove(tenant)
    }
}

pub async fn run(app: Arc<App>) {
    app.metrics.count_dead_letters_in(app.queue.clone());
    let mut stopping = app.stopping();
    let periods = periods(&app);
    let started = Instant::now();
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        if app.is_stopping() {
            return;
        }
        let now = Instant::now();
        if now >= next_prune {
            next_prune = now + PRUNE_EVERY;
            match app.queue.prune(app.args.keep_days) {
                Ok(removed) => tracing::info!(removed, "inbox pruned"),
                Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the inbox cannot be pruned"),
            }
        }
        match app.host.tenants().and_then(|tenants| app.queue.due(&tenants, periods)) {
            Ok(due) => {
                let now_ms = now.duration_since(started).as_millis() as u64;
                let decisions = app.workers.waiting().step(now_ms, &due, |t| app.workers.is_busy(t));
                for decision in decisions {
                    match decision {
                        Decision::Start(tenant, kind) => start(&app, tenant, kind, started),
                        Decision::Wait { tenant, kind, first: true } => {
                            app.metrics.waited(kind.as_str());
                            tracing::debug!(tenant, kind = kind.as_str(), "scheduled run waits: the tenant is busy")
                        }
                        Decision::Wait { .. } => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format_args!("{e:#}"), "the schedule cannot be read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(STEP) => {}
            _ = stopping.changed() => {}
        }
    }
}

fn periods(app: &App) -> Periods {
    Periods { tick: app.args.tick_every, sync: app.args.sync_every }
}

/// Starts a turn for a due run of a tenant free in this process. If another process holds the
/// tenant, the run stays due and is asked for again after `ELSEWHERE_RETRY`.
fn start(app: &Arc<App>, tenant: String, kind: RunKind, started: Instant) {
    let Some(lock) = app.workers.try_lock(&tenant) else { return };
    let app = app.clone();
    let run = super::log::run_span(&tenant, "schedule");
    tokio::spawn(
        async move {
            let turn = app.workers.turn(lock).await;
            let Some(turn) = app.leased_turn(&tenant, turn) else {
                app.metrics.waited(kind.as_str());
                let now_ms = started.elapsed().as_millis() as u64;
                app.workers.waiting().held_elsewhere(&tenant, now_ms, ELSEWHERE_RETRY.as_millis() as u64);
                tracing::debug!(tenant, kind = kind.as_str(), "scheduled run waits: another process holds the tenant");
                return;
            };
            run_due(&app, &turn).await;
            drop(turn);
            app.work.notify_one();
        }
        .instrument(run),
    );
}

/// Claims the run the turn's tenant is due (if another process or turn has not already) and
/// makes it. Called by a scheduler's turn, and by a drain between two events.
pub async fn run_due(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let run = super::log::run_span(tenant, "schedule");
    match app.queue.claim_run(&turn.lease, periods(app)) {
        Ok(Some(Claimed { kind: RunKind::Tick, .. })) => scheduled_tick(app, turn).instrument(run).await,
        Ok(Some(Claimed { kind: RunKind::Sync, .. })) => scheduled_sync(app, turn).instrument(run).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(tenant, error = %format_args!("{e:#}"), "the schedule cannot be written"),
    }
}

async fn scheduled_tick(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin);
    let now = format!("{:.0}", jiff::Timestamp::now());
    match app.timed(tenant, "tick", plugin.tick(&now)).await {
        Ok(Ok(r)) => {
            let (provisioned, deprovisioned, failed) = (r.provisioned, r.deprovisioned, r.failed);
            tracing::info!(tenant, provisioned, deprovisioned, failed, "tick")
        }
        Ok(Err(e)) => tracing::warn!(tenant, error = crate::operator::describe(&e), "tick refused"),
        Err(e) => tracing::warn!(tenant, error = %e, "tick failed"),
    }
}

/// Calls sync-all within the write budget until it completes (or stops writing, or we stop).
async fn scheduled_sync(app: &App, turn: &TenantTurn) {
    let tenant = turn.lease.tenant.as_str();
    let Ok(Some(plugin)) = app.plugin(tenant) else { return };
    let plugin = turn.plugin(app, &plugin);
    let options =
        api::SyncOptions { dry_run: false, max_writes: Some(app.args.max_writes.max(1)), approve_deprovisions: false };
    while !app.is_stopping() && turn.clock.is_current() {
        match app.timed(tenant, "sync-all", plugin.sync_all(options)).await {
            Ok(Ok(r)) => {
                tracing::info!(tenant, writes = r.writes, remaining = r.remaining_writes, "scheduled sync");
                if r.complete || r.writes == 0 {
                    return;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(tenant, error = crate::operator::describe(&e), "scheduled sync refused");
                return;
            }
            Err(e) => {
                tracing::warn!(tenant, error = %e, "scheduled sync failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The scheduler in simulated time: the store's schedule (`ScheduleRow`, the rule both
    //! backends keep), this process's `Waiting`, and a model of `serve`'s turns (a drain runs
    //! queued events back to back and asks `Waiting::take` between two of them; a scheduler turn
    //! claims and runs one run), stepped every simulated second.
    use super::*;
    use crate::storage::ScheduleRow;
    use std::collections::VecDeque;

    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;

    /// What a tenant's turn is doing until when.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Call {
        Event,
        Run(RunKind),
    }

    /// One process: its tenant's turn (if any), the tenant's inbox, and what ran when.
    struct Sim {
        periods: Periods,
        row: ScheduleRow,
        waiting: Waiting,
        /// The call in flight and when it ends; `None`: the tenant is free.
        turn: Option<(Call, u64)>,
        /// `true` while the turn is a drain (it asks for waiting runs between events).
        draining: bool,
        inbox: VecDeque<u64>,
        /// (kind, claimed at, was due at).
        runs: Vec<(RunKind, u64, i64)>,
        events_done: u64,
        /// How long each kind of call takes.
        event_ms: u64,
        tick_ms: u64,
        sync_ms: u64,
    }

    impl Sim {
        fn new(periods: Periods, event_ms: u64) -> Self {
            // Deterministic jitter: the middle of the ±10% band, so periods are exact.
            let row = ScheduleRow::first(0, periods, &mut || 0.5);
            Sim {
                periods,
                row,
                waiting: Waiting::default(),
                turn: None,
                draining: false,
                inbox: VecDeque::new(),
                runs: Vec::new(),
                events_done: 0,
                event_ms,
                tick_ms: 2 * SECOND,
                sync_ms: 90 * SECOND,
            }
        }

        /// `claim_run` under the turn's lease, then the call it makes.
        fn claim_and_run(&mut self, now: u64) -> bool {
            match self.row.claim(now as i64, self.periods, &mut || 0.5) {
                Some(Claimed { kind, due_ms }) => {
                    self.runs.push((kind, now, due_ms));
                    let took = if kind == RunKind::Sync { self.sync_ms } else { self.tick_ms };
                    self.turn = Some((Call::Run(kind), now + took));
                    true
                }
                None => false,
            }
        }

        /// The drain's loop between two calls: a waiting run first, then the next event, else
        /// the turn ends.
        fn drain_next(&mut self, now: u64) {
            if self.waiting.take("t").is_some() && self.claim_and_run(now) {
                return;
            }
            match self.inbox.pop_front() {
                Some(_) => self.turn = Some((Call::Event, now + self.event_ms)),
                None => {
                    self.turn = None;
                    self.draining = false;
                }
            }
        }

        fn at(&mut self, now: u64, webhook: bool) {
            // A call that ends now: a drain goes on, a scheduler's turn ends.
            if let Some((call, until)) = self.turn
                && until <= now
            {
                if call == Call::Event {
                    self.events_done += 1;
                }
                if self.draining {
                    self.drain_next(now);
                } else {
                    self.turn = None;
                }
            }
            if webhook {
                self.inbox.push_back(now);
            }
            // The dispatcher: a free tenant with queued events gets a drain.
            if self.turn.is_none() && !self.inbox.is_empty() {
                self.draining = true;
                self.drain_next(now);
            }
            // The scheduler's step.
            let due: Vec<(String, RunKind)> =
                self.row.due(now as i64).map(|k| ("t".to_owned(), k)).into_iter().collect();
            let busy = self.turn.is_some();
            for decision in self.waiting.step(now, &due, |_| busy) {
                if let Decision::Start(_, _) = decision {
                    self.draining = false;
                    assert!(self.claim_and_run(now), "a due run of a free tenant is claimed");
                }
            }
        }
    }

    fn count(runs: &[(RunKind, u64, i64)], kind: RunKind) -> usize {
        runs.iter().filter(|r| r.0 == kind).count()
    }

    /// A week of ticks every 5 minutes and a nightly sync, with a webhook every 10 s whose event
    /// takes 9.5 s: the tenant is busy 95% of the time and free only in half-second gaps.
    #[test]
    fn a_week_of_steady_webhooks_never_loses_a_tick_or_a_nightly_sync() {
        let periods = Periods { tick: Duration::from_secs(300), sync: Duration::from_secs(86_400) };
        let mut sim = Sim::new(periods, 9_500);
        let week = 7 * DAY;
        for now in (0..week).step_by(SECOND as usize) {
            sim.at(now, now.is_multiple_of(10 * SECOND));
        }
        // First runs at half a period (the jitter is fixed at the middle), then exactly one a
        // period: ticks at 2.5 min, 7.5 min, ...; syncs at 12 h, 36 h, ..., 156 h.
        assert_eq!(count(&sim.runs, RunKind::Sync), 7, "one nightly sync a day");
        assert_eq!(count(&sim.runs, RunKind::Tick), 2016, "every tick of the week");
        let syncs: Vec<u64> = sim.runs.iter().filter(|r| r.0 == RunKind::Sync).map(|r| r.1).collect();
        for pair in syncs.windows(2) {
            assert!(pair[1] - pair[0] <= DAY + 10 * SECOND, "syncs at most a period apart: {syncs:?}");
        }
        // Each run waited at most for the event in flight (and a sync for the one before it).
        for (kind, at, due) in &sim.runs {
            assert!(*at as i64 - due <= 10_000, "{kind:?} due at {due} ran at {at}");
        }
        // Nearly every run was taken by the drain between two events, not by a free tenant.
        assert!(sim.runs.iter().filter(|(_, at, due)| *at as i64 > *due).count() > 1900);
        let in_flight = matches!(sim.turn, Some((Call::Event, _))) as u64;
        assert_eq!(sim.events_done + sim.inbox.len() as u64 + in_flight, week / (10 * SECOND), "no event dropped");
    }

    /// The same week with events that take longer than the gap between webhooks: the inbox never
    /// empties, so the tenant is never free; the drain still makes every run.
    #[test]
    fn a_tenant_that_is_never_free_still_gets_its_runs() {
        let periods = Periods { tick: Duration::from_secs(300), sync: Duration::from_secs(86_400) };
        let mut sim = Sim::new(periods, 11 * SECOND);
        for now in (0..7 * DAY).step_by(SECOND as usize) {
            sim.at(now, now.is_multiple_of(10 * SECOND));
            if now > MINUTE {
                assert!(sim.turn.is_some(), "busy throughout");
            }
        }
        assert_eq!((count(&sim.runs, RunKind::Sync), count(&sim.runs, RunKind::Tick)), (7, 2016));
    }

    /// The rule of one step: free tenants start, busy ones wait (logged once) until their turn
    /// takes the run, and a tenant another process holds is left alone for a while.
    #[test]
    fn busy_tenants_wait_and_their_turn_takes_the_run() {
        let mut w = Waiting::default();
        let due = vec![("a".to_owned(), RunKind::Tick), ("b".to_owned(), RunKind::Sync)];
        let busy = |t: &str| t == "b";
        assert_eq!(
            w.step(0, &due, busy),
            [
                Decision::Start("a".into(), RunKind::Tick),
                Decision::Wait { tenant: "b".into(), kind: RunKind::Sync, first: true }
            ]
        );
        assert_eq!(
            w.step(250, &due[1..], busy),
            [Decision::Wait { tenant: "b".into(), kind: RunKind::Sync, first: false }]
        );
        assert_eq!(w.take("a"), None, "a was free: it got its own turn");
        assert_eq!(w.take("b"), Some(RunKind::Sync));
        assert_eq!(w.take("b"), None, "taken once");
        // No longer due (claimed): forgotten, not taken again.
        w.step(500, &due[1..], busy);
        w.step(750, &[], busy);
        assert_eq!(w.take("b"), None);
        // Another process holds a: asked again only after the retry.
        w.held_elsewhere("a", 1000, 1000);
        assert_eq!(w.step(1500, &due[..1], |_| false), []);
        assert_eq!(w.step(2000, &due[..1], |_| false), [Decision::Start("a".into(), RunKind::Tick)]);
    }
}
