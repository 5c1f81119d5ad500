//! The teams run (issue 23): the organisation spread over N teams (`OrgOptions::teams`; 500 at
//! 10,000 people), a tenant with teams on (Leapsome dialect). The first sync's Groups writes per
//! team against ceil(members / 100) + 1 (one create, then at most 100 members a PATCH), whether
//! every team ends with exactly its members, and steady syncs' writes and requests per route
//! against the steady floor plus the Groups pages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::civil::Date;
use serde_json::{Value, json};

use super::common::{median, progress, round};
use super::main_run::{Floor, pages};
use super::rig::{CpuDeadline, Rig, Timed, timed_sync};
use super::tally::route;
use crate::Runtime;
use mock_servers::JournalEntry;

/// The issue's figure: 10,000 people in 500 teams.
const PEOPLE_PER_TEAM: usize = 20;
/// Leapsome lists Groups in pages of at most 1,000; a PATCH adds at most 100 members.
const GROUPS_PAGE: usize = 1000;
const MEMBERS_PER_WRITE: usize = 100;

/// The teams of an organisation of `employees` people when `--teams` is not given.
pub(crate) fn teams_for(employees: usize) -> usize {
    (employees / PEOPLE_PER_TEAM).max(2)
}

/// One team's writes in the first sync.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TeamWrites {
    pub(super) name: String,
    /// Members wanted: the team's people with an active account.
    pub(super) members: usize,
    pub(super) writes: usize,
}

impl TeamWrites {
    /// ceil(members / 100) + 1: one create and the 100-member PATCHes.
    pub(super) fn allowed(&self) -> usize {
        self.members.div_ceil(MEMBERS_PER_WRITE) + 1
    }

    pub(super) fn ratio(&self) -> f64 {
        self.writes as f64 / self.allowed() as f64
    }
}

#[derive(Debug, Clone)]
pub(super) struct TeamsRun {
    /// Teams asked of the generator.
    pub(super) teams: usize,
    pub(super) initial: Timed,
    /// Every wanted team's writes, by name.
    pub(super) per_team: BTreeMap<String, TeamWrites>,
    /// Groups writes no wanted team accounts for (a group of no wanted team, or unreadable).
    pub(super) unattributed_writes: usize,
    /// Wanted teams whose group holds exactly the wanted members.
    pub(super) teams_exact: usize,
    /// Groups in Leapsome after the first sync.
    pub(super) groups: usize,
    /// The steady sync with the most requests, and the most writes of any.
    pub(super) steady: Timed,
    pub(super) steady_syncs: usize,
    pub(super) steady_most_writes: u64,
    /// Every steady sync's wall time, in order (no target: the callgrind guard counts its CPU).
    pub(super) steady_walls: Vec<f64>,
    pub(super) floor: Floor,
}

impl TeamsRun {
    pub(super) fn worst(&self) -> Option<&TeamWrites> {
        worst(self.per_team.values())
    }

    pub(super) fn worst_ratio(&self) -> f64 {
        self.worst().map_or(0.0, TeamWrites::ratio)
    }

    /// The steady floor plus the Groups pages: what a steady sync with teams may read.
    pub(super) fn steady_allowed(&self) -> usize {
        self.floor.requests + self.groups_pages()
    }

    pub(super) fn groups_pages(&self) -> usize {
        pages(self.groups, GROUPS_PAGE)
    }

    pub(super) fn steady_wall_median(&self) -> f64 {
        median(&mut self.steady_walls.clone())
    }

    pub(super) fn first_sync_complete(&self) -> bool {
        let t = &self.initial.totals;
        t.complete && t.failed == 0 && t.teams_failed == 0 && self.teams_exact == self.per_team.len()
    }

    pub(super) fn to_json(&self) -> Value {
        let worst = self.worst().map(|w| {
            json!({"team": w.name, "members": w.members, "writes": w.writes, "allowed": w.allowed(), "ratio": round(w.ratio(), 3)})
        });
        json!({
            "teams_asked": self.teams,
            "first_sync": {
                "wall_s": round(self.initial.wall_s, 3),
                "requests": self.initial.requests.to_json(),
                "groups_requests": self.initial.requests.groups(),
                "report": self.initial.totals.to_json(),
                "teams_wanted": self.per_team.len(),
                "teams_exact": self.teams_exact,
                "groups": self.groups,
                "team_writes": self.per_team.values().map(|t| t.writes).sum::<usize>(),
                "unattributed_writes": self.unattributed_writes,
                "largest_team_members": self.per_team.values().map(|t| t.members).max().unwrap_or(0),
                "worst": worst,
            },
            "steady_sync": {
                "syncs": self.steady_syncs,
                "most_writes": self.steady_most_writes,
                "requests": self.steady.requests.total(),
                "by_route": self.steady.requests.routes,
                "groups_requests": self.steady.requests.groups(),
                "floor_requests": self.floor.requests,
                "groups_pages": self.groups_pages(),
                "allowed": self.steady_allowed(),
                "wall_s_median": round(self.steady_wall_median(), 3),
                "runs_wall_s": self.steady_walls.iter().map(|w| round(*w, 3)).collect::<Vec<_>>(),
            },
        })
    }
}

pub(super) async fn teams_run(
    runtime: &Arc<Runtime>,
    employees: usize,
    teams: usize,
    steady_syncs: usize,
    today: Date,
) -> Result<TeamsRun> {
    let rig = Rig::start_with_teams(runtime, employees, teams, today, "bench-teams", CpuDeadline::HostDefault).await?;
    progress(format!("teams: initial sync of {employees} people in {teams} teams, teams on"));
    let initial = timed_sync(&rig).await.context("the teams run's initial sync")?;
    let journal = rig.leapsome.control().journal();
    let wanted = wanted_teams(&rig);
    let shown = groups_shown(&rig.leapsome.groups());
    let (per_team, unattributed_writes) = writes_per_team(&journal, &wanted, &shown);
    let teams_exact = wanted
        .iter()
        .filter(|(name, members)| shown.values().any(|(shown_name, got)| shown_name == *name && got == *members))
        .count();
    progress(format!(
        "teams: initial sync {:.2} s, {} Groups requests, {} of {} teams exact",
        initial.wall_s,
        initial.requests.groups(),
        teams_exact,
        wanted.len()
    ));

    let mut runs = Vec::with_capacity(steady_syncs);
    for n in 1..=steady_syncs {
        let run = timed_sync(&rig).await.context("the teams run's steady sync")?;
        progress(format!("teams: steady sync {n} of {steady_syncs}: {} requests", run.requests.total()));
        runs.push(run);
    }
    // The component's count and the service's (SCIM requests that change something), the larger.
    let steady_most_writes =
        runs.iter().map(|r| r.totals.writes.max(r.requests.scim_writes() as u64)).max().unwrap_or(0);
    let steady_walls = runs.iter().map(|r| r.wall_s).collect();
    let steady = runs.into_iter().max_by_key(|r| r.requests.total()).context("no steady sync")?;
    let floor = Floor::of(rig.humaans.people().len(), rig.humaans.seed().job_roles.len(), rig.leapsome.users().len());
    Ok(TeamsRun {
        teams,
        initial,
        per_team,
        unattributed_writes,
        teams_exact,
        groups: shown.len(),
        steady,
        steady_syncs,
        steady_most_writes,
        steady_walls,
        floor,
    })
}

/// The team with the largest writes / allowed; of equals, the one with the most members (the
/// most telling: its writes are the most split), then the first.
fn worst<'a>(teams: impl Iterator<Item = &'a TeamWrites>) -> Option<&'a TeamWrites> {
    teams.fold(None, |worst: Option<&TeamWrites>, t| match worst {
        Some(w) if (w.ratio(), w.members) >= (t.ratio(), t.members) => Some(w),
        _ => Some(t),
    })
}

/// Each team's wanted members: the account ids of its people whose Leapsome account is active.
fn wanted_teams(rig: &Rig) -> BTreeMap<String, BTreeSet<String>> {
    let accounts: HashMap<String, String> = rig
        .leapsome
        .users()
        .iter()
        .filter(|u| u["active"] == json!(true))
        .filter_map(|u| Some((u["userName"].as_str()?.to_ascii_lowercase(), u["id"].as_str()?.to_owned())))
        .collect();
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for person in rig.humaans.people() {
        if let Some(id) = accounts.get(&person.email.to_ascii_lowercase()) {
            for team in &person.teams {
                wanted.entry(team.name.clone()).or_default().insert(id.clone());
            }
        }
    }
    wanted
}

/// The groups as stored: id -> (displayName, member ids).
fn groups_shown(groups: &[Value]) -> HashMap<String, (String, BTreeSet<String>)> {
    groups
        .iter()
        .filter_map(|g| {
            let members = g["members"].as_array().into_iter().flatten();
            let members = members.filter_map(|m| m["value"].as_str().map(str::to_owned)).collect();
            Some((g["id"].as_str()?.to_owned(), (g["displayName"].as_str()?.to_owned(), members)))
        })
        .collect()
}

/// Every wanted team's Groups writes in `journal`: a POST counts for the `displayName` it sends,
/// a write to `/Groups/{id}` for the group's name. Also the writes no wanted team accounts for.
fn writes_per_team(
    journal: &[JournalEntry],
    wanted: &BTreeMap<String, BTreeSet<String>>,
    shown: &HashMap<String, (String, BTreeSet<String>)>,
) -> (BTreeMap<String, TeamWrites>, usize) {
    let mut per_team: BTreeMap<String, TeamWrites> = wanted
        .iter()
        .map(|(name, members)| (name.clone(), TeamWrites { name: name.clone(), members: members.len(), writes: 0 }))
        .collect();
    let mut unattributed = 0;
    for entry in journal.iter().filter(|e| e.method != "GET") {
        let route = route(&entry.method, &entry.path);
        let name = match route.to_ascii_lowercase().as_str() {
            "post /groups" => serde_json::from_str::<Value>(&entry.body)
                .ok()
                .and_then(|body| body["displayName"].as_str().map(str::to_owned)),
            r if r.ends_with(" /groups/{id}") => {
                let id = entry.path.split('?').next().unwrap_or_default().rsplit('/').next().unwrap_or_default();
                shown.get(id).map(|(name, _)| name.clone())
            }
            _ => continue,
        };
        match name.and_then(|name| per_team.get_mut(&name)) {
            Some(team) => team.writes += 1,
            None => unattributed += 1,
        }
    }
    (per_team, unattributed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, body: &str) -> JournalEntry {
        JournalEntry { method: method.into(), path: path.into(), query: String::new(), status: 200, body: body.into() }
    }

    #[test]
    fn writes_count_for_their_team_and_the_worst_ratio_is_found() {
        let members = |n: usize| (0..n).map(|i| format!("u{i}")).collect::<BTreeSet<_>>();
        let wanted = BTreeMap::from([("Big".to_owned(), members(250)), ("Small".to_owned(), members(3))]);
        let shown = HashMap::from([
            ("g1".to_owned(), ("Big".to_owned(), members(250))),
            ("g2".to_owned(), ("Small".to_owned(), members(3))),
            ("g3".to_owned(), ("Other".to_owned(), members(1))),
        ]);
        let mut journal = vec![
            entry("GET", "/scim/v1/Groups", ""),
            entry("POST", "/scim/v1/Groups", r#"{"displayName":"Big"}"#),
            entry("POST", "/scim/v1/Groups", r#"{"displayName":"Small","members":[]}"#),
            entry("PATCH", "/scim/v1/Groups/g2", "{}"),
            entry("PATCH", "/scim/v1/Groups/g3", "{}"),
            entry("POST", "/scim/v1/Users", "{}"),
        ];
        journal.extend((0..3).map(|_| entry("PATCH", "/scim/v1/Groups/g1", "{}")));
        let (per_team, unattributed) = writes_per_team(&journal, &wanted, &shown);
        assert_eq!((per_team["Big"].writes, per_team["Small"].writes, unattributed), (4, 2, 1));
        // Big: 4 writes of ceil(250/100) + 1 = 4 allowed; Small: 2 of 2.
        assert_eq!((per_team["Big"].allowed(), per_team["Small"].allowed()), (4, 2));
        journal.push(entry("PATCH", "/scim/v1/Groups/g2", "{}"));
        let (per_team, _) = writes_per_team(&journal, &wanted, &shown);
        assert_eq!(per_team["Small"].ratio(), 1.5);
        assert_eq!(worst(per_team.values()).map(|w| w.name.as_str()), Some("Small"));
        // Of equal ratios, the bigger team.
        journal.pop();
        let (per_team, _) = writes_per_team(&journal, &wanted, &shown);
        assert_eq!(worst(per_team.values()).map(|w| w.name.as_str()), Some("Big"));
    }

    #[test]
    fn teams_scale_with_the_organisation() {
        assert_eq!(teams_for(10_000), 500);
        assert_eq!(teams_for(150), 7);
        assert_eq!(teams_for(10), 2);
    }
}
