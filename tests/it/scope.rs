//! Scope rules through the component: who gets an account, what leaving scope does (deprovision,
//! counted by the brake, or keep), coming back (the same account reactivated), the preview of
//! settings not saved, every field a rule can test, and malformed rules refused with the column.

use host_harness::api::{self, Dialect};
use mock_servers::humaans::{Location, Team};

use crate::support::*;

fn scoped(rules: &[&str]) -> api::Settings {
    api::Settings { scope: rules.iter().map(|r| r.to_string()).collect(), ..all_on(Dialect::Leapsome) }
}

async fn status(plugin: &host_harness::TenantPlugin) -> api::StatusReport {
    plugin.status().await.unwrap().unwrap()
}

fn posts(rig: &Rig) -> usize {
    rig.leapsome.control().journal().iter().filter(|e| e.method == "POST").count()
}

#[tokio::test]
async fn only_people_in_scope_get_accounts_and_a_new_hire_out_of_scope_is_logged_as_skipped() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", scoped(&["department = Engineering"])).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let sam = hire(&rig, "Sam", "Seller", "Account Executive", "Sales", None);

    let report = sync_ok(&plugin, false, None).await;
    assert_eq!((report.created, report.out_of_scope), (1, 1), "{report:?}");
    assert!(rig.leapsome.user_by_username(&email_of(&rig, &ada)).is_some());
    assert!(rig.leapsome.user_by_username(&email_of(&rig, &sam)).is_none());

    // A new hire out of scope, by event: skipped with the reason, logged, nothing written.
    let nina = hire(&rig, "Nina", "Numbers", "Analyst", "Finance", None);
    let before = posts(&rig);
    let outcome = event_ok(&plugin, api::EventKind::Created, &nina).await;
    assert!(outcome.changes.is_empty());
    assert_eq!(outcome.skipped.as_deref(), Some("out of scope: department is \"Finance\""));
    assert_eq!(posts(&rig), before);
    let entries = logs(&plugin, false, Some(&nina)).await;
    assert!(
        entries.iter().any(|e| e.action == api::LogAction::Skip && e.message.contains("out of scope")),
        "{entries:?}"
    );
    // A steady sync writes nothing.
    let before = rig.scim_writes().len();
    let again = sync_ok(&plugin, false, None).await;
    assert_eq!((again.writes, rig.scim_writes().len()), (0, before), "{again:?}");
}

#[tokio::test]
async fn leaving_scope_deprovisions_under_the_brake_or_keeps_and_coming_back_reactivates_the_same_account() {
    let rig = Rig::start().await;
    let mut settings = all_on(Dialect::Leapsome);
    settings.deprovision_limit = Some(api::DeprovisionLimit::Count(1));
    let plugin = rig.connected("t", settings.clone()).await;
    let ids: Vec<String> = ["Ada", "Bea", "Cy"]
        .iter()
        .map(|name| {
            hire(&rig, name, "Tester", "Engineer", if *name == "Ada" { "Engineering" } else { "Support" }, None)
        })
        .collect();
    assert_eq!(sync_ok(&plugin, false, None).await.created, 3);
    let accounts: Vec<String> = ids.iter().map(|id| scim_id(&rig, &email_of(&rig, id))).collect();

    // Two leave scope at once: over the limit of 1, both held, nothing suspended.
    settings.scope = vec!["department = Engineering".into()];
    plugin.configure(&settings).await.unwrap().unwrap();
    let held = sync_ok(&plugin, false, None).await;
    assert_eq!((held.held, held.deprovisioned, held.out_of_scope), (2, 0, 2), "{held:?}");
    assert!(rig.leapsome.users().iter().all(|u| u["active"] == true));
    let approved = plugin.approve_deprovisions(None).await.unwrap().unwrap();
    assert_eq!(approved.approved, 2);
    let inactive = |rig: &Rig| rig.leapsome.users().iter().filter(|u| u["active"] == false).count();
    assert_eq!(inactive(&rig), 2);

    // Back in scope: the same accounts, reactivated (no new ones).
    settings.scope = vec!["department in (Engineering, Support)".into()];
    plugin.configure(&settings).await.unwrap().unwrap();
    let back = sync_ok(&plugin, false, None).await;
    assert_eq!((back.reactivated, back.created), (2, 0), "{back:?}");
    assert_eq!(inactive(&rig), 0);
    let again: Vec<String> = ids.iter().map(|id| scim_id(&rig, &email_of(&rig, id))).collect();
    assert_eq!(again, accounts, "the same accounts");

    // `keep`: leaving scope leaves the account as it is.
    settings.scope = vec!["department = Engineering".into()];
    settings.out_of_scope = api::OutOfScopeAction::Keep;
    plugin.configure(&settings).await.unwrap().unwrap();
    let before = rig.scim_writes().len();
    let kept = sync_ok(&plugin, false, None).await;
    assert_eq!((kept.held, kept.deprovisioned, kept.out_of_scope), (0, 0, 2), "{kept:?}");
    assert_eq!(rig.scim_writes().len(), before, "nothing written for people kept out of scope");
}

#[tokio::test]
async fn a_preview_shows_who_enters_and_leaves_scope_and_saves_nothing() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", scoped(&["department = Engineering"])).await;
    let ada = hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    let sam = hire(&rig, "Sam", "Seller", "Account Executive", "Sales", None);
    sync_ok(&plugin, false, None).await;
    clear_journals(&rig);

    let preview = scoped(&["department = Sales"]);
    let options = api::SyncOptions { preview_settings: Some(preview.clone()), ..sync_options(true, None) };
    let plan = plugin.sync_all(options).await.unwrap().unwrap();
    assert!(plan.dry_run);
    let entering: Vec<&str> = plan.scope_changes.iter().filter(|c| c.entering).map(|c| c.person_id.as_str()).collect();
    let leaving: Vec<&str> = plan.scope_changes.iter().filter(|c| !c.entering).map(|c| c.person_id.as_str()).collect();
    assert_eq!((entering, leaving), (vec![sam.as_str()], vec![ada.as_str()]));
    let kinds: Vec<(String, api::ChangeKind)> = plan.changes.iter().map(|c| (c.person_id.clone(), c.kind)).collect();
    assert!(kinds.contains(&(sam.clone(), api::ChangeKind::Create)), "{kinds:?}");
    assert!(kinds.contains(&(ada.clone(), api::ChangeKind::Suspend)), "{kinds:?}");
    assert_eq!(rig.scim_writes().len(), 0, "a preview writes nothing");
    let stored = status(&plugin).await.settings.unwrap();
    assert_eq!(stored.scope, ["department = Engineering"], "and saves nothing");

    // Only with a dry run; a malformed previewed rule is refused like configure's.
    let live = api::SyncOptions { preview_settings: Some(preview), ..sync_options(false, None) };
    match plugin.sync_all(live).await.unwrap() {
        Err(api::IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "options.preview-settings"),
        other => panic!("{other:?}"),
    }
    let bad = api::SyncOptions { preview_settings: Some(scoped(&["team in (A"])), ..sync_options(true, None) };
    match plugin.sync_all(bad).await.unwrap() {
        Err(api::IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "settings.scope[0]"),
        other => panic!("{other:?}"),
    }
}

/// Every field a rule can test, read from where Humaans keeps it: the current job role
/// (department, job title), the person (teams, contract type, work email), and the place of
/// work's name (one `/locations` read, only when a rule tests it).
#[tokio::test]
async fn each_field_is_read_where_humaans_keeps_it() {
    let rig = Rig::start().await;
    let berlin = rig.humaans.add_location(Location { label: Some("Berlin HQ".into()), ..Location::default() });
    let ada = hire(&rig, "Ada", "Lovelace", "Staff Engineer", "Engineering", None);
    rig.humaans.update_person(&ada, |p| {
        p.location_id = Some(berlin.clone());
        p.teams = vec![Team { name: "Growth Pod".into() }];
        p.contract_type = Some("Part time".into());
    });
    let cases = [
        ("department = engineering", true),
        ("job-title = \"staff engineer\"", true),
        ("team = \"Growth Pod\"", true),
        ("team != \"Growth Pod\"", false),
        ("contract-type = \"Full time\"", false),
        ("email-domain = acme.test", true),
        ("location = \"Berlin HQ\"", true),
        ("location = Paris", false),
    ];
    for (i, (rule, in_scope)) in cases.iter().enumerate() {
        let plugin = rig.connected(&format!("t{i}"), scoped(&[rule])).await;
        clear_journals(&rig);
        let plan = sync_ok(&plugin, true, None).await;
        assert_eq!(plan.created == 1, *in_scope, "{rule}: {plan:?}");
        let paths: Vec<String> = rig.humaans.control().journal().iter().map(|e| e.path.clone()).collect();
        let located = paths.iter().any(|p| p.starts_with("/api/locations"));
        assert_eq!(located, rule.starts_with("location"), "{rule}: {paths:?}");
    }
}

#[tokio::test]
async fn a_malformed_rule_is_refused_naming_the_rule_and_column() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let bad = scoped(&["department = Engineering", "department = Customer Success"]);
    match plugin.configure(&bad).await.unwrap() {
        Err(api::IntegrationError::InvalidInput(f)) => {
            assert_eq!(f.field, "settings.scope[1]");
            assert!(f.message.starts_with("column 23: expected `and` or the end of the rule"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(status(&plugin).await.settings.unwrap().scope.is_empty(), "nothing saved");
}
