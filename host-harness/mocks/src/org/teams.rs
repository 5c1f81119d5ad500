//! Team memberships beyond what `people` gives each person (their department team, Leadership,
//! sometimes the Social Committee): contractors are in no team, and a company-wide programme team
//! takes about 60% of the active people with a team, and over 100 of them whenever the
//! organisation has more than 150 people, so that a client meets a team too big for one
//! 100-member write. Drawn from an `Rng` of its own, so that every other field of a generated
//! organisation stays what the same seed gave before these teams existed.

use super::departments::DEPARTMENTS;
use super::rng::Rng;
use crate::humaans::{Person, STATUS_ACTIVE, Team};

/// The company-wide team.
pub const PROGRAMME_TEAM: &str = "Wellbeing Programme";
/// Above this many people, the programme team has more than 100 members.
pub const BIG_TEAM_ABOVE: usize = 150;

pub(super) fn finish_teams(people: &mut [Person], seed: u64) {
    for person in people.iter_mut().filter(|p| p.contract_type.as_deref() == Some("Contractor")) {
        person.teams.clear();
    }
    let mut rng = Rng::new(seed ^ 0x7ea3_5eed_7ea3_5eed);
    let mut eligible: Vec<usize> =
        (0..people.len()).filter(|&i| !people[i].teams.is_empty() && people[i].status == STATUS_ACTIVE).collect();
    rng.shuffle(&mut eligible);
    let share = eligible.len() * 6 / 10;
    let count = if people.len() > BIG_TEAM_ABOVE { share.max(101) } else { share }.min(eligible.len());
    for &i in &eligible[..count] {
        people[i].teams.push(Team { name: PROGRAMME_TEAM.into() });
    }
}

/// `OrgOptions::teams`: spreads the people who have a team over exactly `teams` teams (when there
/// are enough active people): `teams - 1` squads named after the departments' teams with a number
/// ("Platform 1", "Payments 1", ..., "Platform 2", ...), and the programme team as drawn by
/// [`finish_teams`], kept so that one team stays over 100 people. Every active person with a team
/// gets one squad in turn (so every squad has an active member), about 10% a second one; people
/// not active get one at random; contractors stay in none. Leadership and the Social Committee
/// give way to the squads. Its own `Rng`, so that nothing else in the organisation moves.
pub(super) fn spread_over_teams(people: &mut [Person], seed: u64, teams: usize) {
    let squads = squad_names(teams.saturating_sub(1).max(1));
    let mut rng = Rng::new(seed ^ 0x5a0a_d5ee_d5a0_ad5e);
    let mut active: Vec<usize> =
        (0..people.len()).filter(|&i| !people[i].teams.is_empty() && people[i].status == STATUS_ACTIVE).collect();
    rng.shuffle(&mut active);
    let mut squad_of = vec![None; people.len()];
    for (turn, &i) in active.iter().enumerate() {
        squad_of[i] = Some(turn % squads.len());
    }
    for (i, person) in people.iter_mut().enumerate() {
        if person.teams.is_empty() {
            continue;
        }
        let first = squad_of[i].unwrap_or_else(|| rng.below(squads.len() as u64) as usize);
        let in_programme = person.teams.iter().any(|t| t.name == PROGRAMME_TEAM);
        person.teams = vec![Team { name: squads[first].clone() }];
        if squads.len() > 1 && rng.percent(10) {
            let second = (first + 1 + rng.below(squads.len() as u64 - 1) as usize) % squads.len();
            person.teams.push(Team { name: squads[second].clone() });
        }
        if in_programme {
            person.teams.push(Team { name: PROGRAMME_TEAM.into() });
        }
    }
}

/// `count` distinct squad names: every department's teams in turn, numbered by round.
fn squad_names(count: usize) -> Vec<String> {
    let bases: Vec<&str> = DEPARTMENTS.iter().flat_map(|d| d.teams.iter().copied()).collect();
    (0..count).map(|j| format!("{} {}", bases[j % bases.len()], j / bases.len() + 1)).collect()
}
