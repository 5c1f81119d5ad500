//! Team memberships beyond what `people` gives each person (their department team, Leadership,
//! sometimes the Social Committee): contractors are in no team, and a company-wide programme team
//! takes about 60% of the active people with a team, and over 100 of them whenever the
//! organisation has more than 150 people, so that a client meets a team too big for one
//! 100-member write. Drawn from an `Rng` of its own, so that every other field of a generated
//! organisation stays what the same seed gave before these teams existed.

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
