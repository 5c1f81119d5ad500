//! Changes after the steady syncs: 1% of the people changed then one sync, and single events.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};

use super::common::progress;
use super::rig::{Rig, Timed, timed_sync};
use crate::operator::done;
use crate::plugin::api;
use mock_servers::humaans::JobRole;

const EVENTS: usize = 20;

#[derive(Debug, Clone)]
pub(super) struct Incremental {
    /// The people changed (the event step picks others).
    pub(super) people: HashSet<String>,
    pub(super) changed: usize,
    pub(super) last_name_changes: usize,
    pub(super) title_changes: usize,
    pub(super) run: Timed,
}

#[derive(Debug, Clone)]
pub(super) struct Events {
    pub(super) count: usize,
    pub(super) requests: Vec<usize>,
    pub(super) scim_writes: Vec<usize>,
    pub(super) millis: Vec<f64>,
    pub(super) failures: Vec<String>,
}

/// Changes 1% of the people with accounts — every other one a new job title (a new job role from
/// yesterday, the old one ended the day before), the others a new last name — then syncs.
pub(super) async fn incremental_run(rig: &Rig, today: Date) -> Result<Incremental> {
    let candidates = rig.people_with_accounts();
    let target = rig.humaans.people().len().div_ceil(100).min(candidates.len());
    let stride = (candidates.len() / target.max(1)).max(1);
    let day = |back: u64| today.checked_sub((back as i64).days()).unwrap_or(today).to_string();
    let (yesterday, two_days_ago, three_days_ago) = (day(1), day(2), day(3));
    let mut changed = HashSet::new();
    let (mut titles, mut names) = (0, 0);
    for (i, person) in candidates.iter().step_by(stride).take(target).enumerate() {
        let roles = rig.humaans.job_roles_of(&person.id);
        // A title change only on a plain history: one open role, in effect for a few days already.
        let current = roles.iter().find(|r| r.end_date.is_none());
        let plain = roles.iter().all(|r| r.end_date.is_none() || r.end_date.as_deref() < Some(three_days_ago.as_str()))
            && roles.iter().filter(|r| r.end_date.is_none()).count() == 1;
        match current {
            Some(role) if i % 2 == 0 && plain && role.effective_date.as_str() <= three_days_ago.as_str() => {
                rig.humaans.end_job_role(&role.id, &two_days_ago);
                let mut next = JobRole::new(
                    &person.id,
                    &format!("{} II", role.job_title),
                    role.department.as_deref().unwrap_or(""),
                    role.reporting_to.as_deref(),
                    &yesterday,
                );
                next.company_id = role.company_id.clone();
                rig.humaans.add_job_role(next);
                titles += 1;
            }
            _ => {
                rig.humaans.update_person(&person.id, |p| p.last_name = format!("{}-Lovelace", p.last_name));
                names += 1;
            }
        }
        changed.insert(person.id.clone());
    }
    progress(format!("incremental sync: {} people changed ({titles} titles, {names} last names)", changed.len()));
    let run = timed_sync(rig).await.context("incremental sync")?;
    progress(format!(
        "incremental sync: {:.2} s, {} requests, {} writes",
        run.wall_s,
        run.requests.total(),
        run.totals.writes
    ));
    Ok(Incremental { changed: changed.len(), people: changed, last_name_changes: names, title_changes: titles, run })
}

/// One `updated` event each for `EVENTS` people (a last-name change each), timed one by one.
pub(super) async fn event_run(rig: &Rig, exclude: &HashSet<String>) -> Result<Events> {
    let candidates: Vec<_> = rig.people_with_accounts().into_iter().filter(|p| !exclude.contains(&p.id)).collect();
    let stride = (candidates.len() / EVENTS).max(1);
    let mut e =
        Events { count: 0, requests: Vec::new(), scim_writes: Vec::new(), millis: Vec::new(), failures: Vec::new() };
    progress(format!("{EVENTS} single events"));
    for (i, person) in candidates.iter().skip(stride / 2).step_by(stride).take(EVENTS).enumerate() {
        rig.humaans.update_person(&person.id, |p| p.last_name = format!("{}-Hopper", p.last_name));
        rig.clear_journals();
        let event = api::EmployeeEvent {
            id: format!("bench-{i}-{}", person.id),
            kind: api::EventKind::Updated,
            person_id: person.id.clone(),
            occurred_at: format!("{:.0}", Timestamp::now()),
        };
        let start = Instant::now();
        let outcome = done(rig.plugin.on_employee_event(&event).await)
            .with_context(|| format!("on-employee-event for {}", person.id))?;
        e.millis.push(start.elapsed().as_secs_f64() * 1e3);
        let requests = rig.requests();
        e.requests.push(requests.total());
        e.scim_writes.push(requests.scim_writes());
        e.count += 1;
        for c in outcome.changes.iter().filter(|c| c.error.is_some()) {
            e.failures.push(format!("{}: {}", c.email, c.error.as_deref().unwrap_or("")));
        }
    }
    Ok(e)
}
