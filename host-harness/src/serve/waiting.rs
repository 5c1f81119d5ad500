//! The scheduler's rule in one process (`scheduler.rs` runs it): which due runs start a turn now,
//! which wait for their tenant's turn in this process, and which tenants another process holds.
//! Free of I/O and clocks, so `Workers` can keep it below the app, and a simulated week runs it
//! in the tests below together with the store's rule ([`ScheduleRow`](crate::storage::ScheduleRow)).

use std::collections::BTreeMap;

use crate::storage::RunKind;

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

#[cfg(test)]
mod tests {
    //! The scheduler in simulated time: the store's schedule (`ScheduleRow`, the rule both
    //! backends keep), this process's `Waiting`, and a model of `serve`'s turns (a drain runs
    //! queued events back to back and asks `Waiting::take` between two of them; a scheduler turn
    //! claims and runs one run), stepped every simulated second.
    use super::*;
    use crate::storage::{Claimed, Periods, ScheduleRow};
    use std::collections::VecDeque;
    use std::time::Duration;

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
