//! The deprovision brake counts deprovisions, not calls: every deprovision from `sync-all`,
//! `tick` or an event counts against one rolling window per tenant, whatever way a mass
//! offboarding arrives (a webhook per person, ticks hours apart, more than a tick's batch), and
//! approval carries out what it held. Also the review's other component holes: `sync-all` after a
//! refused create, a person reporting to themselves, a short webhook secret.

use crate::support::*;
use host_harness::api::{self, Dialect, EventKind, HeldPath, IntegrationError, LogAction};
use mock_servers::humaans::{JobRole, Person};

fn suspends(rig: &Rig) -> usize {
    rig.leapsome.users().iter().filter(|u| u["active"] == false).count()
}

fn posts(rig: &Rig) -> usize {
    rig.leapsome.control().journal().iter().filter(|e| e.method == "POST").count()
}

async fn status(plugin: &host_harness::TenantPlugin) -> api::StatusReport {
    plugin.status().await.unwrap().expect("status")
}

async fn approve(plugin: &host_harness::TenantPlugin, person: Option<&str>) -> api::ApprovalReport {
    plugin.approve_deprovisions(person).await.unwrap().expect("approve")
}

/// `count` people with accounts, made by one sync.
async fn staff(rig: &Rig, plugin: &host_harness::TenantPlugin, count: usize) -> Vec<String> {
    let ids: Vec<String> =
        (0..count).map(|i| hire(rig, "Person", &format!("Number{i}"), "Engineer", "Engineering", None)).collect();
    assert_eq!(sync_ok(plugin, false, None).await.created as usize, count);
    ids
}

#[tokio::test]
async fn twelve_offboarding_webhooks_in_a_burst_carry_out_at_most_the_limit_and_approval_does_the_rest() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let ids = staff(&rig, &plugin, 40).await;
    // A bulk offboarding in Humaans: one webhook per person. The limit is max(5, 10% of 40) = 5.
    let leavers = &ids[..12];
    for id in leavers {
        rig.humaans.offboard(id, "2026-11-27");
    }
    let mut held = 0;
    for id in leavers {
        let outcome = event_ok(&plugin, EventKind::Offboarded, id).await;
        if outcome.skipped.as_deref().is_some_and(|s| s.starts_with("deprovision held")) {
            held += 1;
            assert!(outcome.changes.is_empty(), "{outcome:?}");
        }
    }
    assert_eq!((suspends(&rig), held), (5, 7), "the limit carried out, the rest held");
    let report = status(&plugin).await;
    assert_eq!(report.held.len(), 7);
    assert!(report.held.iter().all(|h| h.path == HeldPath::Event && h.email.is_some()), "{:?}", report.held);
    let entries = logs(&plugin, false, None).await;
    assert_eq!(entries.iter().filter(|e| e.action == LogAction::Hold).count(), 7, "each held person logged once");
    // The same webhooks delivered again change nothing and log nothing more.
    for id in &leavers[5..] {
        event_ok(&plugin, EventKind::Offboarded, id).await;
    }
    assert_eq!(suspends(&rig), 5);
    assert_eq!(logs(&plugin, false, None).await.iter().filter(|e| e.action == LogAction::Hold).count(), 7);
    // A sync meanwhile holds them too (the brake is engaged until approval).
    let sync = sync_ok(&plugin, false, None).await;
    assert_eq!((sync.held, sync.deprovisioned), (7, 0), "{sync:?}");

    // Approve one, then the rest.
    let first = &report.held[0].person_id;
    let one = approve(&plugin, Some(first)).await;
    assert_eq!((one.approved, one.released, one.failed), (1, 0, 0), "{one:?}");
    assert_eq!(suspends(&rig), 6);
    let rest = approve(&plugin, None).await;
    assert_eq!((rest.approved, rest.remaining), (6, 0), "{rest:?}");
    assert_eq!(suspends(&rig), 12);
    assert!(status(&plugin).await.held.is_empty());
    // Approving someone who is not held is a clear error.
    match plugin.approve_deprovisions(Some(&ids[20])).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => assert!(f.message.contains("no held deprovision"), "{f:?}"),
        other => panic!("{other:?}"),
    }
    // Approved deprovisions did not count: the window holds the 5 from the burst, so the next
    // leaver is held (5 + 1 > 5), not waved through by a disengaged brake.
    rig.humaans.offboard(&ids[30], "2026-11-27");
    let outcome = event_ok(&plugin, EventKind::Offboarded, &ids[30]).await;
    assert!(
        outcome.skipped.as_deref().is_some_and(|s| s.contains("would make 6 deprovisions in 24 hours")),
        "{outcome:?}"
    );
}

/// Eight leavers whose last working days end eight hours apart (London, then Los Angeles).
async fn two_ticks_eight_hours_apart(window_minutes: Option<u32>) -> (api::TickReport, api::TickReport) {
    let rig = Rig::start().await;
    let mut settings = all_on(Dialect::Rfc7644);
    settings.deprovision_window_minutes = window_minutes;
    let plugin = rig.connected("t", settings).await;
    let ids = staff(&rig, &plugin, 8).await;
    for (i, id) in ids.iter().enumerate() {
        rig.humaans.update_person(id, |p| {
            p.last_working_day = Some("2026-11-30".into());
            p.timezone = if i < 4 { "Europe/London" } else { "America/Los_Angeles" }.into();
        });
    }
    sync_ok(&plugin, false, None).await;
    let first = tick_ok(&plugin, "2026-12-01T00:00:00Z").await;
    let second = tick_ok(&plugin, "2026-12-01T08:00:00Z").await;
    (first, second)
}

#[tokio::test]
async fn two_ticks_eight_hours_apart_share_one_window() {
    // Each tick alone is under the limit of 5; together they are 8 within 24 hours.
    let (first, second) = two_ticks_eight_hours_apart(None).await;
    assert_eq!((first.deprovisioned, first.held), (4, 0), "{first:?}");
    assert_eq!((second.deprovisioned, second.held), (0, 4), "{second:?}");
    // With a 6-hour window, the first tick's four no longer count eight hours later.
    let (first, second) = two_ticks_eight_hours_apart(Some(6 * 60)).await;
    assert_eq!((first.deprovisioned, second.deprovisioned, second.held), (4, 4, 0), "{second:?}");
}

#[tokio::test]
async fn a_tick_with_more_than_its_batch_due_counts_them_all_against_the_limit() {
    let rig = Rig::start().await;
    let mut settings = all_on(Dialect::Rfc7644);
    settings.deprovision_limit = Some(api::DeprovisionLimit::Count(250));
    let plugin = rig.connected("t", settings).await;
    let ids = staff(&rig, &plugin, 300).await;
    for id in &ids {
        rig.humaans.update_person(id, |p| p.last_working_day = Some("2026-11-30".into()));
    }
    sync_ok(&plugin, false, None).await;
    // A tick looks at 200 people at most: 200 go (under 250), the next 100 would make 300.
    let first = tick_ok(&plugin, "2026-12-01T00:00:00Z").await;
    let second = tick_ok(&plugin, "2026-12-01T00:05:00Z").await;
    assert_eq!((first.deprovisioned, first.held), (200, 0), "{first:?}");
    assert_eq!((second.deprovisioned, second.held), (0, 100), "{second:?}");
    assert_eq!(suspends(&rig), 200);
    let report = status(&plugin).await;
    assert_eq!(report.held.len(), 100);
    assert!(report.held.iter().all(|h| h.path == HeldPath::Tick));
    // `sync-all --approve-deprovisions` carries them all out (run later that morning).
    let mut later = rig.tenant("t");
    later.fixed_clock = Some(at("2026-12-01T09:00:00Z"));
    let approved = sync_approving(&rig.plugin(later)).await;
    assert_eq!((approved.deprovisioned, approved.held), (100, 0));
    assert!(status(&plugin).await.held.is_empty());
}

#[tokio::test]
async fn sync_all_does_not_repeat_a_refused_create_until_the_record_changes() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    let id = refused_hire(&rig, &plugin).await;
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!(posts(&rig), 1, "the refused create is not sent again: {report:?}");
    assert_eq!(report.failed, 0);
    // A change in Humaans lifts the backoff: the next sync tries the new data.
    rig.humaans.update_person(&id, |p| p.email = "eve.outsider@acme.test".into());
    let report = sync_ok(&plugin, false, None).await;
    assert_eq!((posts(&rig), report.created), (2, 1), "{report:?}");
}

#[tokio::test]
async fn a_person_reporting_to_themselves_gets_no_manager_and_one_log_line() {
    for dialect in [Dialect::Leapsome, Dialect::Rfc7644] {
        let rig = Rig::with_leapsome(leapsome_config(dialect)).await;
        let plugin = rig.connected("t", all_on(dialect)).await;
        let mut ceo = Person::new("Chief", "Executive", "chief.executive@acme.test");
        ceo.employment_start_date = Some("2024-01-01".into());
        let ceo_id = rig.humaans.add_person(ceo);
        rig.humaans.add_job_role(JobRole::new(&ceo_id, "CEO", "Board", Some(&ceo_id), "2024-01-01"));
        hire(&rig, "Ada", "Lovelace", "Engineer", "Engineering", Some(&ceo_id));
        for _ in 0..3 {
            let report = sync_ok(&plugin, false, None).await;
            assert_eq!(report.failed, 0, "{dialect:?}: {report:?}");
        }
        let writes = rig.scim_writes();
        assert!(writes.iter().all(|w| w.status < 400), "{dialect:?}: no refused write: {writes:?}");
        let ceo_account = scim_id(&rig, "chief.executive@acme.test");
        assert_eq!(rig.leapsome.manager_id_of(&ceo_account), None, "{dialect:?}");
        assert_eq!(
            rig.leapsome.manager_id_of(&scim_id(&rig, "ada.lovelace@acme.test")),
            Some(ceo_account),
            "{dialect:?}: the CEO still manages others"
        );
        let noted = logs(&plugin, false, None).await;
        let noted = noted.iter().filter(|e| e.message.contains("reports to the person themselves")).count();
        assert_eq!(noted, 1, "{dialect:?}: logged once");
    }
}

#[tokio::test]
async fn a_webhook_secret_shorter_than_16_characters_is_refused_without_echoing_it() {
    let rig = Rig::start().await;
    let plugin = rig.plugin(rig.tenant("t"));
    let mut connection = rig.connection();
    connection.humaans_webhook_secret = Some("short-secret-15".into());
    match plugin.connect(&connection).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => {
            assert_eq!(f.field, "connection.humaans-webhook-secret");
            assert!(f.message.contains("at least 16"), "{f:?}");
            assert!(!f.message.contains("short-secret-15"), "never echoed: {f:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(status(&plugin).await.connection, api::ConnectionState::NotConnected));
    connection.humaans_webhook_secret = Some("long-enough-secret-16".into());
    plugin.connect(&connection).await.unwrap().expect("a 16+ character secret is accepted");
}

#[tokio::test]
async fn a_deprovision_window_out_of_range_is_refused() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    for minutes in [0, 30 * 24 * 60 + 1] {
        let mut s = all_on(Dialect::Leapsome);
        s.deprovision_window_minutes = Some(minutes);
        match plugin.configure(&s).await.unwrap() {
            Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "settings.deprovision-window-minutes"),
            other => panic!("{minutes}: {other:?}"),
        }
    }
}
