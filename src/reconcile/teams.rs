//! Teams: Humaans teams (names on a person, `person.teams[].name`) become Leapsome teams (SCIM
//! Groups) of exactly the same name, whose members are exactly the team's people with a linked,
//! active account. Pure: from the team's record (what we wrote), the group as the service shows
//! it, and the members wanted, [`plan_team`] decides the requests; the shell sends them.
//!
//! The two dialects differ where Leapsome departs from RFC 7644 (reference/leapsome-scim.md §2.6):
//! Leapsome never returns members, so the record's `members` (what we wrote) is all we know of a
//! team, and PATCH is flat: `members` adds (at most 100 a request) unless `replaceMembers` is true,
//! when the list replaces the whole membership. So a removal rewrites the team: the first request
//! replaces with up to 100 members, the next ones add the rest. RFC 7644 servers return members,
//! so the group as read is the truth (drift is repaired by an ordinary sync), and PATCH is a
//! PatchOp of `add` and `remove` operations.

use serde::{Deserialize, Serialize};

use super::model::Dialect;
use super::retry::PersonState;
use crate::ids::{IdMap, IdSet};

/// Leapsome refuses longer team names ("The displayName field exceeds 128 characters").
pub const MAX_TEAM_NAME_CHARS: usize = 128;
/// Leapsome refuses more members in one PATCH ("The members array exceeds 100 elements"); the
/// PatchOp dialect is held to the same, so no request carries more.
pub const MAX_MEMBERS_PER_WRITE: usize = 100;

// Sets of members are lists without repeats, in the order they were built (people in Humaans'
// order), compared through hash sets of borrowed ids: no ordered collection and no sort, each of
// which weighs kilobytes of component (see ARCHITECTURE.md, "no library sort").

/// What the integration remembers about one team between calls (`team/<key>`, `app/teams.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRecord {
    /// The team's name, exactly as in Humaans (and as the group's `displayName`).
    pub name: String,
    /// The group's SCIM id, once created or adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The account ids (SCIM ids) we made members: all Leapsome lets us know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Backoff, quarantine and the logged-once note, with the same rules as a person's.
    #[serde(default, skip_serializing_if = "PersonState::is_empty")]
    pub retry: PersonState,
}

/// Teams wanted, by name, with the account ids that should be members, borrowed from the
/// people and links of the call. Built from every person's teams and account; a team appears
/// when at least one of its people has a linked, active account.
#[derive(Debug, Default)]
pub struct WantedTeams<'a> {
    /// Team names in the order first seen, and each team's members.
    pub teams: Vec<(&'a str, Vec<&'a str>)>,
    at: IdMap<&'a str, usize>,
}

impl<'a> WantedTeams<'a> {
    /// Adds a person: `teams` as read from Humaans (one name per line, see `model::Person`), and
    /// their account when they have a linked, active one.
    pub fn add_person(&mut self, teams: &'a str, account: Option<&'a str>) {
        let Some(account) = account else { return };
        for name in team_names(teams) {
            let at = *self.at.entry(name).or_insert_with(|| {
                self.teams.push((name, Vec::new()));
                self.teams.len() - 1
            });
            let members = &mut self.teams[at].1;
            // One person is added whole before the next: a team named twice is the last member.
            if members.last() != Some(&account) {
                members.push(account);
            }
        }
    }

    /// The members wanted in a team (none for a team nobody is in).
    pub fn get(&self, name: &str) -> &[&'a str] {
        self.at.get(name).map_or(&[], |&at| &self.teams[at].1)
    }
}

/// The team names in a person's `teams` field as read (one per line), trimmed, without empties.
pub fn team_names(teams: &str) -> impl Iterator<Item = &str> {
    teams.split('\n').map(str::trim).filter(|n| !n.is_empty())
}

/// The ids of `list` that `other` lacks, in `list`'s order.
fn lacking<A: AsRef<str>, B: AsRef<str>>(list: &[A], other: &[B]) -> Vec<String> {
    let present: IdSet<&str> = other.iter().map(AsRef::as_ref).collect();
    list.iter().map(AsRef::as_ref).filter(|id| !present.contains(id)).map(str::to_owned).collect()
}

/// The group as the service shows it, found by exact `displayName` (or by the stored id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTeam {
    pub id: String,
    /// The members it returned: `None` when the service does not show members (Leapsome).
    pub members: Option<Vec<String>>,
}

/// How the team is linked to its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamLink {
    /// Already ours (the stored id).
    Linked(String),
    /// A group of that exact name exists: adopt it, never make a second.
    Adopt(String),
    /// None exists: create it (a 409 meaning someone made it meanwhile: adopt that one).
    Create,
    /// No group is ours and none is wanted (a team whose people all left before it was made).
    Unlinked,
}

/// One membership request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberWrite {
    /// Leapsome's flat PATCH: `{"members": [{"value": id}…], "replaceMembers": replace}`.
    Flat { replace: bool, members: Vec<String> },
    /// An RFC 7644 PatchOp: one `add` of these values, one `remove` per removed member.
    PatchOp { add: Vec<String>, remove: Vec<String> },
}

impl MemberWrite {
    /// Member values the request carries.
    pub fn size(&self) -> usize {
        match self {
            MemberWrite::Flat { members, .. } => members.len(),
            MemberWrite::PatchOp { add, remove } => add.len() + remove.len(),
        }
    }
}

/// What to do for one team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamPlan {
    pub name: String,
    pub link: TeamLink,
    /// Membership requests, in order (after the create, when there is one).
    pub writes: Vec<MemberWrite>,
    /// Accounts that become members, and that stop being members.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// The membership once every write is done: what the record keeps.
    pub members: Vec<String>,
    /// Why nothing can be done for the team (a name Leapsome refuses): logged once.
    pub problem: Option<String>,
}

impl TeamPlan {
    /// Requests the plan sends: the create, then the membership writes.
    pub fn requests(&self) -> usize {
        usize::from(self.link == TeamLink::Create) + self.writes.len()
    }

    /// Nothing to send (the shell still logs a `problem` once).
    pub fn is_idle(&self) -> bool {
        self.writes.is_empty() && matches!(self.link, TeamLink::Linked(_) | TeamLink::Unlinked)
    }
}

/// Why a team name cannot be a Leapsome team, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    (chars > MAX_TEAM_NAME_CHARS)
        .then(|| format!("the team name is {chars} characters long; Leapsome takes at most {MAX_TEAM_NAME_CHARS}"))
}

/// Decides the requests for one team.
///
/// - `record`: what we stored (none for a team never seen);
/// - `remote`: the group found by its exact name, or by the stored id (with its members when the
///   service shows them); `None` when the service has no such group, or it was not looked up
///   because the record already has an id (Leapsome: nothing to read);
/// - `wanted`: the accounts that should be members, without repeats (empty for a team nobody
///   has any more: it is emptied of the members we added);
/// - `repair`: rewrite the whole membership (Leapsome: edits made by hand cannot be seen).
pub fn plan_team<W: AsRef<str>>(
    dialect: Dialect,
    name: &str,
    record: Option<&TeamRecord>,
    remote: Option<&RemoteTeam>,
    wanted: &[W],
    repair: bool,
) -> TeamPlan {
    let mut plan = TeamPlan {
        name: name.to_owned(),
        link: TeamLink::Unlinked,
        writes: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        members: wanted.iter().map(|w| w.as_ref().to_owned()).collect(),
        problem: name_problem(name),
    };
    let stored_id = record.and_then(|r| r.id.clone());
    if plan.problem.is_some() || (stored_id.is_none() && wanted.is_empty()) {
        // A name Leapsome refuses: nothing is sent. Never ours and nobody in it: nothing to
        // create, and a group of that name someone else made is not ours to empty.
        plan.members = record.map(|r| r.members.clone()).unwrap_or_default();
        plan.link = stored_id.map_or(TeamLink::Unlinked, TeamLink::Linked);
        return plan;
    }
    plan.link = match (stored_id, remote) {
        (Some(id), _) => TeamLink::Linked(id),
        (None, Some(found)) => TeamLink::Adopt(found.id.clone()),
        (None, None) => TeamLink::Create,
    };
    // The membership as far as we can know it, and whether it must be rewritten whole.
    let ours = record.map_or(&[][..], |r| &r.members[..]);
    let (current, rewrite): (&[String], bool) = match (&plan.link, remote.and_then(|r| r.members.as_deref())) {
        // A new group is empty.
        (TeamLink::Create, _) => (&[], false),
        // The service shows its members: the truth, drift included.
        (_, Some(shown)) => (shown, false),
        // Leapsome, a group someone made by hand: its members are unknown, so it is rewritten
        // to exactly the team.
        (TeamLink::Adopt(_), None) => (&[], true),
        (_, None) => (ours, repair),
    };
    plan.added = lacking(wanted, current);
    plan.removed = lacking(current, wanted);
    plan.writes = match dialect {
        Dialect::Leapsome if rewrite || !plan.removed.is_empty() => replace_all(&plan.members),
        Dialect::Leapsome => plan
            .added
            .chunks(MAX_MEMBERS_PER_WRITE)
            .map(|chunk| MemberWrite::Flat { replace: false, members: chunk.to_vec() })
            .collect(),
        Dialect::Rfc7644 => patch_ops(&plan.added, &plan.removed),
    };
    plan
}

/// Leapsome's full rewrite: the first request replaces the membership with up to 100 members,
/// the next ones add the rest. An empty team is one replacement with no members.
fn replace_all(members: &[String]) -> Vec<MemberWrite> {
    if members.is_empty() {
        return vec![MemberWrite::Flat { replace: true, members: Vec::new() }];
    }
    members
        .chunks(MAX_MEMBERS_PER_WRITE)
        .enumerate()
        .map(|(i, chunk)| MemberWrite::Flat { replace: i == 0, members: chunk.to_vec() })
        .collect()
}

/// PatchOps of at most 100 member values each: removals first, then additions.
fn patch_ops(added: &[String], removed: &[String]) -> Vec<MemberWrite> {
    let mut writes = Vec::new();
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for (is_add, id) in removed.iter().map(|id| (false, id)).chain(added.iter().map(|id| (true, id))) {
        if add.len() + remove.len() == MAX_MEMBERS_PER_WRITE {
            writes.push(MemberWrite::PatchOp { add: std::mem::take(&mut add), remove: std::mem::take(&mut remove) });
        }
        if is_add { add.push(id.clone()) } else { remove.push(id.clone()) }
    }
    if !add.is_empty() || !remove.is_empty() {
        writes.push(MemberWrite::PatchOp { add, remove });
    }
    writes
}

/// For one person's event: the wanted membership of each team they joined or left, from the
/// team's record (what we wrote) with the person's account added or removed. Teams the event
/// does not touch are not in the answer. `now_in`: the teams they should be in now (none when
/// their account is not linked and active).
pub fn touched_by_person(records: &[TeamRecord], account: &str, now_in: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut touched = Vec::new();
    for record in records {
        let is_member = record.members.iter().any(|m| m == account);
        let should_be = now_in.contains(&record.name.as_str());
        if is_member != should_be {
            let mut members: Vec<String> = record.members.iter().filter(|m| *m != account).cloned().collect();
            if should_be {
                members.push(account.to_owned());
            }
            touched.push((record.name.clone(), members));
        }
    }
    for name in now_in.iter().filter(|n| !records.iter().any(|r| r.name == **n)) {
        touched.push(((*name).to_owned(), vec![account.to_owned()]));
    }
    touched
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i:04}")).collect()
    }

    fn set<S: AsRef<str>>(list: &[S]) -> BTreeSet<String> {
        list.iter().map(|s| s.as_ref().to_owned()).collect()
    }

    fn record(name: &str, id: Option<&str>, members: &[String]) -> TeamRecord {
        TeamRecord {
            name: name.into(),
            id: id.map(Into::into),
            members: members.to_vec(),
            retry: PersonState::default(),
        }
    }

    fn flat(plan: &TeamPlan) -> Vec<(bool, usize)> {
        plan.writes
            .iter()
            .map(|w| match w {
                MemberWrite::Flat { replace, members } => (*replace, members.len()),
                other => panic!("not flat: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_new_team_is_created_then_filled_a_hundred_at_a_time() {
        let wanted = ids("u", 250);
        let plan = plan_team(Dialect::Leapsome, "Engineering", None, None, &wanted, false);
        assert_eq!(plan.link, TeamLink::Create);
        assert_eq!(flat(&plan), [(false, 100), (false, 100), (false, 50)]);
        // The issue's bound for a first sync: ceil(members / 100) + 1 requests.
        assert_eq!(plan.requests(), 250usize.div_ceil(100) + 1);
        assert_eq!((plan.added.len(), plan.removed.len(), plan.members.len()), (250, 0, 250));
    }

    #[test]
    fn a_team_that_already_matches_sends_nothing_in_either_dialect() {
        let wanted = ids("u", 30);
        let stored = record("Sales", Some("g1"), &wanted);
        let plan = plan_team(Dialect::Leapsome, "Sales", Some(&stored), None, &wanted, false);
        assert!(plan.is_idle(), "{plan:?}");
        // The service may list members in another order: a set, not a list, is compared.
        let mut shown = wanted.clone();
        shown.reverse();
        let shown = RemoteTeam { id: "g1".into(), members: Some(shown) };
        let plan = plan_team(Dialect::Rfc7644, "Sales", Some(&stored), Some(&shown), &wanted, false);
        assert!(plan.is_idle(), "{plan:?}");
    }

    #[test]
    fn leapsome_adds_without_replacing_and_rewrites_the_whole_team_to_remove() {
        let before = ids("u", 150);
        let stored = record("Ops", Some("g1"), &before);
        let mut more = before.clone();
        more.push("v1".into());
        let plan = plan_team(Dialect::Leapsome, "Ops", Some(&stored), None, &more, false);
        assert_eq!(flat(&plan), [(false, 1)]);
        assert_eq!(plan.added, ["v1"]);
        let fewer: Vec<String> = before.iter().filter(|m| *m != "u0003").cloned().collect();
        let plan = plan_team(Dialect::Leapsome, "Ops", Some(&stored), None, &fewer, false);
        assert_eq!(flat(&plan), [(true, 100), (false, 49)], "replace with the first 100, then add the rest");
        assert_eq!(plan.removed, ["u0003"]);
        match &plan.writes[0] {
            MemberWrite::Flat { members, .. } => assert!(!members.contains(&"u0003".to_owned())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_team_nobody_has_any_more_is_emptied_and_kept() {
        let before = ids("u", 5);
        let none: [&str; 0] = [];
        let stored = record("Old team", Some("g1"), &before);
        let plan = plan_team(Dialect::Leapsome, "Old team", Some(&stored), None, &none, false);
        assert_eq!(flat(&plan), [(true, 0)]);
        assert_eq!(plan.removed.len(), 5);
        assert_eq!(plan.link, TeamLink::Linked("g1".into()), "never deleted");
        let plan = plan_team(Dialect::Rfc7644, "Old team", Some(&stored), None, &none, false);
        assert_eq!(plan.writes, [MemberWrite::PatchOp { add: vec![], remove: before.clone() }]);
        // A team never made whose people all left: nothing, even if someone made a group of that name.
        let never = record("Old team", None, &before);
        let found = RemoteTeam { id: "theirs".into(), members: None };
        let plan = plan_team(Dialect::Leapsome, "Old team", Some(&never), Some(&found), &none, false);
        assert!(plan.is_idle() && plan.link == TeamLink::Unlinked, "{plan:?}");
        // Once emptied, an empty record sends nothing.
        let emptied = record("Old team", Some("g1"), &[]);
        assert!(plan_team(Dialect::Leapsome, "Old team", Some(&emptied), None, &none, false).is_idle());
    }

    #[test]
    fn an_existing_group_of_that_name_is_adopted_and_made_exact() {
        let wanted = ids("u", 3);
        let found = RemoteTeam { id: "g9".into(), members: None };
        let plan = plan_team(Dialect::Leapsome, "Design", None, Some(&found), &wanted, false);
        assert_eq!(plan.link, TeamLink::Adopt("g9".into()));
        assert_eq!(flat(&plan), [(true, 3)], "its unknown members are replaced");
        assert_eq!(plan.requests(), 1);
        // RFC 7644 shows them: only the difference is written.
        let mut shown = ids("u", 2);
        shown.push("hand-added".into());
        let found = RemoteTeam { id: "g9".into(), members: Some(shown) };
        let plan = plan_team(Dialect::Rfc7644, "Design", None, Some(&found), &wanted, false);
        assert_eq!(
            plan.writes,
            [MemberWrite::PatchOp { add: vec!["u0002".into()], remove: vec!["hand-added".into()] }]
        );
    }

    #[test]
    fn repair_rewrites_leapsome_teams_even_when_nothing_seems_changed() {
        let wanted = ids("u", 201);
        let stored = record("Big", Some("g1"), &wanted);
        let plan = plan_team(Dialect::Leapsome, "Big", Some(&stored), None, &wanted, true);
        assert_eq!(flat(&plan), [(true, 100), (false, 100), (false, 1)]);
        assert!(plan.added.is_empty() && plan.removed.is_empty());
    }

    #[test]
    fn rfc_patch_ops_carry_at_most_a_hundred_values_and_repair_drift() {
        let wanted = ids("u", 180);
        let mut shown = ids("u", 30);
        shown.extend(ids("x", 40));
        let stored = record("Eng", Some("g1"), &wanted);
        let remote = RemoteTeam { id: "g1".into(), members: Some(shown) };
        let plan = plan_team(Dialect::Rfc7644, "Eng", Some(&stored), Some(&remote), &wanted, false);
        assert_eq!((plan.added.len(), plan.removed.len()), (150, 40));
        assert!(plan.writes.iter().all(|w| w.size() <= MAX_MEMBERS_PER_WRITE));
        assert_eq!(plan.writes.iter().map(MemberWrite::size).sum::<usize>(), 190);
        assert_eq!(plan.writes.len(), 2);
    }

    #[test]
    fn names_over_128_characters_are_a_problem_and_send_nothing() {
        let long = "T".repeat(129);
        let plan = plan_team(Dialect::Leapsome, &long, None, None, &ids("u", 2), false);
        assert_eq!(plan.requests(), 0);
        assert!(plan.problem.as_deref().unwrap().contains("129 characters"), "{plan:?}");
        let exact = "T".repeat(128);
        assert!(plan_team(Dialect::Leapsome, &exact, None, None, &ids("u", 2), false).problem.is_none());
        // Characters, not bytes.
        assert!(name_problem(&"é".repeat(128)).is_none());
    }

    #[test]
    fn wanted_teams_come_from_people_with_active_accounts_only() {
        let mut wanted = WantedTeams::default();
        wanted.add_person("Engineering\nWellbeing Programme", Some("a1"));
        wanted.add_person("Engineering\nEngineering", Some("a2"));
        wanted.add_person("Sales", None);
        wanted.add_person("\n  \n", Some("a3"));
        let names: Vec<_> = wanted.teams.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["Engineering", "Wellbeing Programme"]);
        assert_eq!(wanted.get("Engineering"), ["a1", "a2"], "once each");
        assert!(wanted.get("Sales").is_empty());
    }

    #[test]
    fn an_event_touches_only_the_teams_the_person_left_or_joined() {
        let eng = record("Engineering", Some("g1"), &["a1".to_owned(), "a2".to_owned()]);
        let ops = record("Ops", Some("g2"), &["a1".to_owned()]);
        let sales = record("Sales", Some("g3"), &["a9".to_owned()]);
        let records = [eng, ops, sales];
        let touched = touched_by_person(&records, "a1", &["Engineering", "New team"]);
        let names: Vec<_> = touched.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Ops", "New team"]);
        assert!(touched[0].1.is_empty());
        assert_eq!(touched[1].1, ["a1"]);
        // Deprovisioned: out of every team.
        let touched = touched_by_person(&records, "a1", &[]);
        let names: Vec<_> = touched.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Engineering", "Ops"]);
        assert_eq!(set(&touched[0].1), set(&["a2"]));
    }

    #[test]
    fn records_read_back_what_they_wrote_and_tolerate_missing_fields() {
        let r = record("Sales", Some("g3"), &["a9".to_owned()]);
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"name":"Sales","id":"g3","members":["a9"]}"#);
        assert_eq!(serde_json::from_str::<TeamRecord>(&text).unwrap(), r);
        let bare: TeamRecord = serde_json::from_str(r#"{"name":"X"}"#).unwrap();
        assert_eq!((bare.id, bare.members.len()), (None, 0));
    }
}
