//! A deterministic, realistic Humaans organisation for tests and load runs: a CEO, department
//! heads, manager chains three to four levels deep (five above 2,500 people), international names (some non-ASCII), unique
//! work emails, about 5% new hires starting soon and 5% people who have left, job histories
//! where the current role is not always the only or the first one, and teams (`person.teams`):
//! some people in none, some in several, one team over 100 people above 150 people.
//!
//! Each module uses only those before it (no import circles): `rng`, `departments`, `names`,
//! `places` (the data tables) → `tree` (the reporting tree; a position's title and team) →
//! `people`, `roles` (a person; their job roles and managers) → `teams` (memberships across the
//! organisation) → this file (`generate_org`).

mod departments;
mod names;
mod people;
mod places;
mod rng;
mod roles;
mod teams;
mod tree;

use std::collections::{HashSet, VecDeque};

use crate::humaans::dates::{format_date, parse_date, timestamp_on};
use crate::humaans::{Company, HumaansSeed, Person};
use departments::DEPARTMENTS;
pub use names::{EMAIL_DOMAIN, ascii_fold};
use people::make_person;
use rng::Rng;
use roles::make_roles;
pub use teams::{BIG_TEAM_ABOVE, PROGRAMME_TEAM};
use tree::{Ctx, Status, lay_out};

/// Leavers started at least this many days before `today`, so they worked a while.
const OFFBOARDED_LATEST_START: i64 = 200;

/// Generates `employees` people (counting everyone: active, new hires and leavers) with their job
/// roles. The same `seed` and `today` (`YYYY-MM-DD`) always give the same organisation.
///
/// Invariants: exactly one person (the CEO) has a current role without `reportingTo`; every
/// `reportingTo` names a generated person and the chains have no cycles; work emails are unique
/// lowercase ASCII `first.last@acme.test`; new hires start after `today`, leavers' last working
/// day is before it; each person has exactly one role in effect on `today` (new hires: on their
/// start date). Everyone joined after their manager, and active people report to active people.
/// About 15% of people have an older, ended role (a promotion) and about 2% a
/// future-dated change, so neither "the first role" nor "the role without an end date" is
/// always the current one. Teams: everyone but contractors has at least one (department team or
/// Leadership), about 5% are on the Social Committee, and `PROGRAMME_TEAM` holds about 60% of the
/// active people with a team, more than 100 of them when there are more than `BIG_TEAM_ABOVE`
/// people.
pub fn generate_org(employees: usize, seed: u64, today: &str) -> HumaansSeed {
    generate_org_with(employees, seed, today, &OrgOptions::default())
}

/// Knobs on the generated organisation; the default is `generate_org`'s organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgOptions {
    /// Spread the people who have a team over this many teams (`bench`'s teams run: 500 at
    /// 10,000 people): numbered squads, about 10% of people in two, the programme team kept (over
    /// 100 people above `BIG_TEAM_ABOVE`), contractors in none. `None`: the department teams.
    /// Every other field is what `generate_org` gives for the same seed.
    pub teams: Option<usize>,
}

/// `generate_org` with `options`.
pub fn generate_org_with(employees: usize, seed: u64, today: &str, options: &OrgOptions) -> HumaansSeed {
    let today_day = parse_date(today).unwrap_or_else(|| panic!("today must be YYYY-MM-DD, got {today:?}"));
    let mut rng = Rng::new(seed);
    let founded = today_day - 9 * 365;
    let mut company = Company::new("Acme Ltd");
    company.id = rng.id();
    company.domains = vec![EMAIL_DOMAIN.into()];
    company.created_at = timestamp_on(&format_date(founded), 9);
    company.updated_at = company.created_at.clone();

    let drafts = lay_out(employees, &mut rng);
    let n = drafts.len();

    // Everyone joins after their manager, so no job role, past or present, names a manager who
    // had not started yet.
    let mut starts = vec![founded; n];
    for i in 1..n {
        starts[i] = match (drafts[i].depth, drafts[i].manager) {
            (1, _) | (_, None) => founded + rng.between(0, 730),
            // Deeper levels end their window earlier, so that a manager who joined at the end of
            // theirs still leaves two weeks for their reports.
            (depth, Some(m)) => rng.between(starts[m] + 14, today_day - 14 * (6 - i64::from(depth)).max(1)),
        };
    }

    // Statuses go to individual contributors only, so that no active person reports to
    // someone who has left or not yet started.
    let mut leaves: Vec<usize> = (0..n).filter(|&i| drafts[i].reports == 0 && drafts[i].depth >= 2).collect();
    rng.shuffle(&mut leaves);
    let share = |percent: f64| (n as f64 * percent / 100.0).round() as usize;
    let mut statuses = vec![Status::Active; n];
    let mut pending = leaves.into_iter().collect::<VecDeque<_>>();
    for (status, count) in
        [(Status::NewHire, share(5.0)), (Status::Offboarded, share(5.0)), (Status::Leaving, share(1.0))]
    {
        let mut skipped = Vec::new();
        let mut given = 0;
        while given < count
            && let Some(i) = pending.pop_front()
        {
            // A leaver needs a manager who was there long enough before they left.
            let manager_start = drafts[i].manager.map_or(founded, |m| starts[m]);
            if status == Status::Offboarded && manager_start + 14 > today_day - OFFBOARDED_LATEST_START {
                skipped.push(i);
                continue;
            }
            statuses[i] = status;
            given += 1;
            starts[i] = match status {
                Status::NewHire => today_day + rng.between(3, 60),
                Status::Offboarded => rng.between(manager_start + 14, today_day - OFFBOARDED_LATEST_START),
                _ => starts[i],
            };
        }
        pending.extend(skipped);
    }
    let mut team_managers = vec![Vec::new(); DEPARTMENTS.len()];
    for (i, draft) in drafts.iter().enumerate() {
        if let Some(d) = draft.department.filter(|_| draft.depth >= 2 && draft.reports > 0) {
            team_managers[d].push(i);
        }
    }
    let ids: Vec<String> = (0..n).map(|_| rng.id()).collect();
    let mut emails = HashSet::new();
    let mut people = Vec::with_capacity(n);
    let mut roles_by_person = Vec::with_capacity(n);
    let ctx = Ctx {
        today: today_day,
        founded,
        company_id: &company.id,
        ids: &ids,
        drafts: &drafts,
        starts: &starts,
        team_managers: &team_managers,
    };
    for (i, &status) in statuses.iter().enumerate() {
        let person = make_person(&ctx, i, status, &mut rng, &mut emails);
        let roles = make_roles(&ctx, i, &person, status, &mut rng);
        people.push(person);
        roles_by_person.push(roles);
    }
    teams::finish_teams(&mut people, seed);
    if let Some(teams) = options.teams {
        teams::spread_over_teams(&mut people, seed, teams);
    }

    // API order is creation order in Humaans, which need not put managers before their reports.
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut people: Vec<Option<Person>> = people.into_iter().map(Some).collect();
    let job_roles = order.iter().flat_map(|&i| std::mem::take(&mut roles_by_person[i])).collect();
    let people = order.iter().filter_map(|&i| people[i].take()).collect();
    HumaansSeed { company, people, job_roles }
}
