//! Teams (issue 23): Humaans teams become Leapsome teams of exactly the same name, whose members
//! are exactly the team's people with a linked, active account; in Leapsome's dialect (flat PATCH,
//! at most 100 members a request, `replaceMembers` to remove, members never shown) and RFC 7644's
//! (PatchOp, members shown), through the real component against the mocks.

use std::collections::BTreeSet;

use crate::support::*;
use host_harness::TenantPlugin;
use host_harness::api::{self, Dialect, EventKind, LogAction, LogOutcome, TeamChangeKind};
use mock_servers::humaans::Team;
use serde_json::json;

fn teams_on(dialect: Dialect) -> api::Settings {
    api::Settings { teams: true, ..all_on(dialect) }
}

/// Someone in these teams.
fn hire_in(rig: &Rig, first: &str, last: &str, teams: &[&str]) -> String {
    let id = hire(rig, first, last, "Engineer", "Engineering", None);
    rig.humaans.update_person(&id, |p| p.teams = teams.iter().map(|t| Team { name: (*t).into() }).collect());
    id
}

fn set_teams(rig: &Rig, id: &str, teams: &[&str]) {
    rig.humaans.update_person(id, |p| p.teams = teams.iter().map(|t| Team { name: (*t).into() }).collect());
}

/// The Leapsome user ids of a team, as the mock stores them (its GET never shows them).
fn members(rig: &Rig, team: &str) -> BTreeSet<String> {
    let id = rig.leapsome.group_id(team).unwrap_or_else(|| panic!("no team {team}"));
    rig.leapsome.group_members(&id).unwrap().into_iter().collect()
}

/// The Leapsome user id of a work email.
fn account(rig: &Rig, email: &str) -> String {
    rig.leapsome
        .users()
        .into_iter()
        .find(|u| u["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(email)))
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no account for {email}"))
}

fn accounts(rig: &Rig, emails: &[&str]) -> BTreeSet<String> {
    emails.iter().map(|e| account(rig, e)).collect()
}

/// Requests to `/Groups` since `from` in the journal: (method, body).
fn group_requests(rig: &Rig, from: usize) -> Vec<(String, serde_json::Value)> {
    rig.leapsome.control().journal()[from..]
        .iter()
        .filter(|e| e.path.contains("/Groups"))
        .map(|e| (e.method.clone(), serde_json::from_str(&e.body).unwrap_or(serde_json::Value::Null)))
        .collect()
}

fn journal_len(rig: &Rig) -> usize {
    rig.leapsome.control().journal().len()
}

async fn sync(plugin: &TenantPlugin, options: api::SyncOptions) -> api::SyncReport {
    plugin.sync_all(options).await.unwrap().expect("sync")
}

#[tokio::test]
async fn teams_follow_humaans_in_leapsomes_dialect_and_a_steady_sync_writes_and_reads_nothing_more() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    let ada = hire_in(&rig, "Ada", "Lovelace", &["Engineering", "Wellbeing Programme"]);
    let _bob = hire_in(&rig, "Bob", "Babbage", &["Engineering"]);
    let _cy = hire_in(&rig, "Cy", "Clerk", &[]);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((report.created, report.teams, report.complete), (3, 2, true), "{report:?}");
    assert_eq!(members(&rig, "Engineering"), accounts(&rig, &["ada.lovelace@acme.test", "bob.babbage@acme.test"]));
    assert_eq!(members(&rig, "Wellbeing Programme"), accounts(&rig, &["ada.lovelace@acme.test"]));
    let kinds: Vec<_> = report.team_changes.iter().map(|c| (c.team.as_str(), c.kind, c.members)).collect();
    assert_eq!(
        kinds,
        [
            ("Engineering", TeamChangeKind::Create, 0),
            ("Engineering", TeamChangeKind::AddMembers, 2),
            ("Wellbeing Programme", TeamChangeKind::Create, 0),
            ("Wellbeing Programme", TeamChangeKind::AddMembers, 1),
        ]
    );
    let entries = logs(&plugin, false, None).await;
    assert_eq!(entries.iter().filter(|e| e.action == LogAction::TeamCreate).count(), 2);
    assert!(
        entries
            .iter()
            .any(|e| e.action == LogAction::TeamAdd && e.message == "added 2 members to team \"Engineering\"")
    );

    // Steady: no write, and no read of the Groups either (Leapsome shows no members; every team
    // has its group).
    let from = journal_len(&rig);
    let steady = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((steady.writes, steady.team_changes.len(), steady.teams), (0, 0, 2), "{steady:?}");
    assert_eq!(group_requests(&rig, from), [], "a steady sync never touches /Groups");

    // Ada leaves Engineering: one rewrite of that team (replaceMembers with the full list), and
    // nothing for her other team. An event touches only the teams she left or joined.
    set_teams(&rig, &ada, &["Wellbeing Programme", "Moonshot"]);
    let from = journal_len(&rig);
    let outcome = plugin.on_employee_event(&event(EventKind::Updated, &ada)).await.unwrap().expect("event");
    let sent = group_requests(&rig, from);
    let writes: Vec<_> = sent.iter().filter(|(m, _)| m != "GET").collect();
    assert_eq!(writes.len(), 3, "Engineering rewritten, Moonshot created and filled: {sent:?}");
    let engineering = rig.leapsome.group_id("Engineering").unwrap();
    assert!(
        writes.iter().any(|(m, b)| m == "PATCH"
            && b == &json!({"members": [{"value": account(&rig, "bob.babbage@acme.test")}], "replaceMembers": true})),
        "{writes:?}"
    );
    assert_eq!(members(&rig, "Engineering"), accounts(&rig, &["bob.babbage@acme.test"]));
    assert_eq!(members(&rig, "Moonshot"), accounts(&rig, &["ada.lovelace@acme.test"]));
    let changed: BTreeSet<_> = outcome.team_changes.iter().map(|c| c.team.as_str()).collect();
    assert_eq!(changed, BTreeSet::from(["Engineering", "Moonshot"]));
    assert_eq!(rig.leapsome.group_id("Engineering").unwrap(), engineering, "never a second team");

    // Deprovisioned (offboarded), Ada leaves every team; the teams stay, emptied where nobody
    // is left ("Moonshot" and "Wellbeing Programme").
    rig.humaans.offboard(&ada, "2026-11-27");
    plugin.on_employee_event(&event(EventKind::Offboarded, &ada)).await.unwrap().expect("event");
    assert_eq!(members(&rig, "Moonshot"), BTreeSet::new());
    assert_eq!(members(&rig, "Wellbeing Programme"), BTreeSet::new());
    assert!(rig.leapsome.group_id("Moonshot").is_some(), "teams are never deleted");
    let from = journal_len(&rig);
    let steady = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((steady.writes, group_requests(&rig, from).len()), (0, 0), "{steady:?}");
}

#[tokio::test]
async fn a_team_over_a_hundred_is_written_a_hundred_at_a_time_and_repair_rewrites_it_whole() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    for i in 0..150 {
        hire_in(&rig, "Member", &format!("Number{i}"), &["Everyone"]);
    }
    let from = journal_len(&rig);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!(report.created, 150);
    let sent = group_requests(&rig, from);
    let writes: Vec<_> = sent.iter().filter(|(m, _)| m != "GET").collect();
    // The bound for a first sync: ceil(members / 100) + 1 per team.
    assert_eq!(writes.len(), 150usize.div_ceil(100) + 1, "{sent:?}");
    assert!(writes.iter().all(|(_, b)| b["members"].as_array().is_none_or(|m| m.len() <= 100)));
    assert_eq!(members(&rig, "Everyone").len(), 150);

    // Members removed by hand in Leapsome cannot be seen; `repair-teams` rewrites the team.
    let id = rig.leapsome.group_id("Everyone").unwrap();
    rig.leapsome.seed_group(json!({"displayName": "Hand made"}));
    let status =
        reqwest_like_patch(&rig.leapsome.base_url(), &id, json!({"members": [], "replaceMembers": true})).await;
    assert!(matches!(status, 200 | 204), "the hand edit: {status}");
    assert_eq!(members(&rig, "Everyone").len(), 0);
    let steady = sync(&plugin, sync_options(false, None)).await;
    assert_eq!(steady.writes, 0, "an ordinary sync cannot see it");
    let repaired = sync(&plugin, api::SyncOptions { repair_teams: true, ..sync_options(false, None) }).await;
    assert_eq!(repaired.writes, 2, "replace with 100, then add 50: {repaired:?}");
    assert_eq!(members(&rig, "Everyone").len(), 150);
    assert!(rig.leapsome.group_id("Hand made").is_some(), "a team we never made is left alone");
}

/// A PATCH sent straight to the mock, as an admin's edit in Leapsome would be: its HTTP status.
async fn reqwest_like_patch(base: &str, group_id: &str, body: serde_json::Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = base.strip_prefix("http://").expect("the mock is plain http");
    let (authority, prefix) = rest.split_once('/').map_or((rest, String::new()), |(a, p)| (a, format!("/{p}")));
    let body = body.to_string();
    let request = format!(
        "PATCH {prefix}/Groups/{group_id} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {SCIM_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("the mock listens");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_team_of_that_name_already_in_leapsome_is_adopted_and_made_exact_never_duplicated() {
    let rig = Rig::start().await;
    // An admin made "Design" by hand in Leapsome, with someone Humaans does not have in it.
    let outsider = rig.leapsome.seed_user(json!({"userName": "sam.stranger@acme.test"}));
    let hand_made = rig.leapsome.seed_group(json!({"displayName": "Design", "members": [{"value": outsider}]}));
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    hire_in(&rig, "Ada", "Lovelace", &["Design"]);
    let report = sync(&plugin, sync_options(false, None)).await;
    let kinds: Vec<_> = report.team_changes.iter().map(|c| (c.team.as_str(), c.kind)).collect();
    assert_eq!(kinds, [("Design", TeamChangeKind::Adopt), ("Design", TeamChangeKind::AddMembers)], "{report:?}");
    assert_eq!(rig.leapsome.groups().len(), 1, "never a second team of that name");
    assert_eq!(
        rig.leapsome.group_members(&hand_made).unwrap().into_iter().collect::<BTreeSet<_>>(),
        accounts(&rig, &["ada.lovelace@acme.test"]),
        "made exact: its unseen members replaced"
    );
    let entries = logs(&plugin, false, None).await;
    assert!(entries.iter().any(|e| e.action == LogAction::TeamAdopt), "adoption logged");
}

#[tokio::test]
async fn a_name_over_128_characters_is_logged_once_and_never_blocks_people() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    let long = "L".repeat(129);
    hire_in(&rig, "Ada", "Lovelace", &[&long, "Short"]);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!(report.created, 1, "people are provisioned whatever their teams");
    assert!(rig.leapsome.group_id(&long).is_none(), "nothing sent for it");
    assert_eq!(members(&rig, "Short").len(), 1, "the other team is made");
    let failure = report.team_changes.iter().find(|c| c.team == long).expect("listed");
    assert!(failure.error.as_deref().unwrap().contains("129 characters"), "{failure:?}");
    sync(&plugin, sync_options(false, None)).await;
    let failures: Vec<_> = logs(&plugin, true, None).await.into_iter().filter(|e| e.message.contains(&long)).collect();
    assert_eq!(failures.len(), 1, "logged once: {failures:?}");
    assert_eq!(failures[0].outcome, LogOutcome::Failure);
}

#[tokio::test]
async fn rfc7644_teams_use_patch_ops_and_an_ordinary_sync_repairs_drift() {
    let rig = Rig::with_leapsome(leapsome_config(Dialect::Rfc7644)).await;
    let plugin = rig.connected("t", teams_on(Dialect::Rfc7644)).await;
    for name in ["Ada", "Bob", "Cy"] {
        hire_in(&rig, name, "Team", &["Platform"]);
    }
    let from = journal_len(&rig);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!(report.created, 3);
    let sent = group_requests(&rig, from);
    let patch = sent.iter().find(|(m, _)| m == "PATCH").expect("a membership write");
    assert_eq!(patch.1["Operations"][0]["op"], "add", "{patch:?}");
    assert_eq!(members(&rig, "Platform").len(), 3);

    // Someone removes Bob by hand; the service shows members, so the next sync puts him back with
    // one PatchOp, and a member added by hand is removed.
    let id = rig.leapsome.group_id("Platform").unwrap();
    let bob = account(&rig, "bob.team@acme.test");
    let outsider = hire(&rig, "Out", "Sider", "Engineer", "Engineering", None);
    sync(&plugin, sync_options(false, None)).await;
    let out = account(&rig, "out.sider@acme.test");
    let _ = outsider;
    let edit = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{bob}\"]")},
        {"op": "add", "path": "members", "value": [{"value": out}]}]});
    assert!(matches!(reqwest_like_patch(&rig.leapsome.base_url(), &id, edit).await, 200 | 204));
    let from = journal_len(&rig);
    let repaired = sync(&plugin, sync_options(false, None)).await;
    let writes: Vec<_> = group_requests(&rig, from).into_iter().filter(|(m, _)| m != "GET").collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(
        members(&rig, "Platform"),
        accounts(&rig, &["ada.team@acme.test", "bob.team@acme.test", "cy.team@acme.test"])
    );
    let kinds: Vec<_> = repaired.team_changes.iter().map(|c| (c.kind, c.members)).collect();
    assert_eq!(kinds, [(TeamChangeKind::AddMembers, 1), (TeamChangeKind::RemoveMembers, 1)]);
}

#[tokio::test]
async fn a_team_someone_made_meanwhile_is_adopted_after_the_409() {
    // RFC servers may compare names without case (the mock's RFC mode does): "platform" exists,
    // Humaans says "Platform". The listing shows no exact match, so the component creates it,
    // the service answers 409, and the component adopts the one it names.
    let rig = Rig::with_leapsome(leapsome_config(Dialect::Rfc7644)).await;
    let existing = rig.leapsome.seed_group(json!({"displayName": "platform"}));
    let plugin = rig.connected("t", teams_on(Dialect::Rfc7644)).await;
    hire_in(&rig, "Ada", "Team", &["Platform"]);
    let report = sync(&plugin, sync_options(false, None)).await;
    let kinds: Vec<_> = report.team_changes.iter().map(|c| (c.kind, c.error.is_some())).collect();
    assert_eq!(kinds, [(TeamChangeKind::Adopt, false), (TeamChangeKind::AddMembers, false)], "{report:?}");
    assert_eq!(rig.leapsome.groups().len(), 1);
    assert_eq!(rig.leapsome.group_members(&existing).unwrap().len(), 1);
    // Settled: the next sync finds the adopted group by its id, and sends nothing.
    let from = journal_len(&rig);
    let again = sync(&plugin, sync_options(false, None)).await;
    let writes: Vec<_> = group_requests(&rig, from).into_iter().filter(|(m, _)| m != "GET").collect();
    assert_eq!((writes.len(), again.team_changes.len()), (0, 0), "{writes:?} {again:?}");
}

#[tokio::test]
async fn a_dry_run_lists_the_team_changes_and_writes_nothing() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    hire_in(&rig, "Ada", "Lovelace", &["Engineering"]);
    hire_in(&rig, "Bob", "Babbage", &["Engineering"]);
    let plan = sync(&plugin, sync_options(true, None)).await;
    let kinds: Vec<_> = plan.team_changes.iter().map(|c| (c.team.as_str(), c.kind, c.members)).collect();
    assert_eq!(kinds, [("Engineering", TeamChangeKind::Create, 0), ("Engineering", TeamChangeKind::AddMembers, 2)]);
    assert_eq!(rig.scim_writes().len(), 0);
    assert!(rig.leapsome.group_id("Engineering").is_none());
}

#[tokio::test]
async fn teams_off_writes_no_team_and_turning_it_on_later_fills_them() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    hire_in(&rig, "Ada", "Lovelace", &["Engineering"]);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((report.created, report.teams, report.team_changes.len()), (1, 0, 0));
    assert!(rig.leapsome.groups().is_empty());
    // The people list asks for teams only when they are used.
    let asked_for_teams = |rig: &Rig| {
        rig.humaans
            .control()
            .journal()
            .iter()
            .filter(|e| e.path.ends_with("/people"))
            .any(|e| e.query.contains("=teams"))
    };
    assert!(!asked_for_teams(&rig));
    plugin.configure(&teams_on(Dialect::Leapsome)).await.unwrap().expect("configure");
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((report.created, report.teams), (0, 1));
    assert_eq!(members(&rig, "Engineering").len(), 1);
    assert!(asked_for_teams(&rig));
}

#[tokio::test]
async fn a_400_from_the_service_is_the_teams_logged_once_backed_off_and_never_blocks_people() {
    // A service that takes flat team bodies only refuses the RFC dialect's PatchOp with a 400.
    let config = mock_servers::leapsome::LeapsomeConfig { group_patch_op: false, ..Default::default() };
    let rig = Rig::with_leapsome(config).await;
    let plugin = rig.connected("t", teams_on(Dialect::Rfc7644)).await;
    hire_in(&rig, "Ada", "Lovelace", &["Engineering"]);
    hire_in(&rig, "Bob", "Babbage", &["Engineering"]);
    let report = sync(&plugin, sync_options(false, None)).await;
    assert_eq!((report.created, report.failed), (2, 0), "people are provisioned: {report:?}");
    let failed: Vec<_> = report.team_changes.iter().filter(|c| c.error.is_some()).collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    assert!(failed[0].error.as_deref().unwrap().contains("flat GroupDefinition"), "the service's message: {failed:?}");
    let failures = |entries: Vec<api::LogEntry>| entries.into_iter().filter(|e| e.action == LogAction::TeamAdd).count();
    assert_eq!(failures(logs(&plugin, true, None).await), 1);
    // The next sync waits out the backoff: no request for the team, nothing logged again.
    let from = journal_len(&rig);
    let again = sync(&plugin, sync_options(false, None)).await;
    assert_eq!(group_requests(&rig, from).iter().filter(|(m, _)| m != "GET").count(), 0, "{again:?}");
    assert_eq!(failures(logs(&plugin, true, None).await), 1, "logged once");
}

#[tokio::test]
async fn a_rehire_rejoins_their_teams() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", teams_on(Dialect::Leapsome)).await;
    let ada = hire_in(&rig, "Ada", "Lovelace", &["Engineering"]);
    hire_in(&rig, "Bob", "Babbage", &["Engineering"]);
    sync(&plugin, sync_options(false, None)).await;
    rig.humaans.offboard(&ada, "2026-11-20");
    event_ok(&plugin, EventKind::Offboarded, &ada).await;
    assert_eq!(members(&rig, "Engineering"), accounts(&rig, &["bob.babbage@acme.test"]));
    rig.humaans.update_person(&ada, |p| {
        p.status = mock_servers::humaans::STATUS_ACTIVE.into();
        p.last_working_day = None;
        p.employment_end_date = None;
    });
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    let kinds: Vec<_> = outcome.team_changes.iter().map(|c| (c.team.as_str(), c.kind, c.members)).collect();
    assert_eq!(kinds, [("Engineering", TeamChangeKind::AddMembers, 1)]);
    assert_eq!(members(&rig, "Engineering"), accounts(&rig, &["ada.lovelace@acme.test", "bob.babbage@acme.test"]));
}
