//! The rig: the component loads and connects through the host, tokens are verified and kept
//! secret, the sandbox denies other hosts and other tenants' data, settings are validated, and
//! the log reads back newest first.

use std::sync::Arc;

use crate::support::*;
use host_harness::api::{self, Dialect, IntegrationError, ProvisionTiming, Service};
use host_harness::{SqliteStorage, Storage, TenantPlugin};

#[tokio::test]
async fn connects_with_good_tokens_and_survives_a_host_restart() {
    let rig = Rig::start().await;
    let dir = std::env::temp_dir().join(format!("rig-durable-{}", std::process::id()));
    let db = dir.join("host.db");
    {
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&db).unwrap());
        let plugin = TenantPlugin::new(runtime(), storage, rig.tenant("acme"));
        let report = plugin.connect(&rig.connection()).await.unwrap().unwrap();
        assert_eq!(report.company_name, "Acme Ltd");
        assert_eq!(report.scim_base_url, rig.leapsome.base_url());
        assert_eq!(report.scim_users, 0);
    }
    // A new storage handle on the same file: a restarted host.
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&db).unwrap());
    let plugin = TenantPlugin::new(runtime(), storage, rig.tenant("acme"));
    plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap().expect("still connected after restart");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_refused_token_names_the_service() {
    let rig = Rig::start().await;
    let plugin = rig.plugin(rig.tenant("t"));
    let mut bad_humaans = rig.connection();
    bad_humaans.humaans_token = "wrong-humaans-token".into();
    match plugin.connect(&bad_humaans).await.unwrap() {
        Err(IntegrationError::Unauthorized(f)) => {
            assert_eq!(f.service, Service::Humaans);
            assert_eq!(f.status, Some(401));
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    let mut bad_scim = rig.connection();
    bad_scim.scim_token = "wrong-scim-token".into();
    match plugin.connect(&bad_scim).await.unwrap() {
        Err(IntegrationError::Unauthorized(f)) => {
            assert_eq!(f.service, Service::Scim);
            assert_eq!(f.status, Some(403));
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    // Nothing was saved: configure still refuses.
    assert!(matches!(plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap(), Err(IntegrationError::NotConnected)));
    // Neither token appears in the log, the errors or anywhere the guest reports.
    let entries = logs(&plugin, false, None).await;
    assert_eq!(entries.len(), 2);
    let text = format!("{entries:?}");
    for secret in ["wrong-humaans-token", "wrong-scim-token", HUMAANS_TOKEN, SCIM_TOKEN] {
        assert!(!text.contains(secret), "log leaks {secret}: {text}");
    }
}

#[tokio::test]
async fn requests_off_the_allow_list_are_denied_before_anything_is_sent() {
    let rig = Rig::start().await;
    // This tenant may reach Humaans only.
    let mut tenant = rig.tenant("narrow");
    tenant.allowed_hosts.retain(|h| h.port == rig.humaans.addr().port());
    let plugin = rig.plugin(tenant);
    match plugin.connect(&rig.connection()).await.unwrap() {
        Err(IntegrationError::Transport(f)) => {
            assert_eq!(f.service, Service::Scim);
            assert!(f.message.contains("denied"), "{}", f.message);
        }
        other => panic!("expected a denied transport error, got {other:?}"),
    }
    assert!(rig.leapsome.control().journal().is_empty(), "nothing reached Leapsome");
    assert_eq!(plugin.stats().http_denied.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_tenant_cannot_read_another_tenants_data() {
    let rig = Rig::start().await;
    let a = rig.connected("tenant-a", all_on(Dialect::Leapsome)).await;
    let b = rig.plugin(rig.tenant("tenant-b"));
    assert!(matches!(b.configure(&all_on(Dialect::Leapsome)).await.unwrap(), Err(IntegrationError::NotConnected)));
    assert!(logs(&b, false, None).await.iter().all(|e| e.action != api::LogAction::Connect));
    assert_eq!(logs(&a, false, None).await.len(), 2);
}

#[tokio::test]
async fn invalid_settings_and_configure_before_connect_are_refused() {
    let rig = Rig::start().await;
    let plugin = rig.plugin(rig.tenant("t"));
    assert!(matches!(plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap(), Err(IntegrationError::NotConnected)));
    plugin.connect(&rig.connection()).await.unwrap().unwrap();
    for days in [0u16, 400] {
        let s = settings(Some(ProvisionTiming::DaysBeforeStart(days)), None, Dialect::Leapsome);
        match plugin.configure(&s).await.unwrap() {
            Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "settings.provisioning.days-before-start"),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
    let mut bad_url = rig.connection();
    bad_url.scim_base_url = Some("http://leapsome.example.com/scim/v1".into());
    match plugin.connect(&bad_url).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "connection.scim-base-url"),
        other => panic!("expected invalid input, got {other:?}"),
    }
    let mut empty_token = rig.connection();
    empty_token.humaans_token = "  ".into();
    match plugin.connect(&empty_token).await.unwrap() {
        Err(IntegrationError::InvalidInput(f)) => assert_eq!(f.field, "connection.humaans-token"),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn read_logs_pages_newest_first_without_tokens() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    plugin.configure(&settings(None, None, Dialect::Rfc7644)).await.unwrap().unwrap();
    let all = logs(&plugin, false, None).await;
    let actions: Vec<_> = all.iter().map(|e| e.action).collect();
    assert_eq!(actions, vec![api::LogAction::Configure, api::LogAction::Configure, api::LogAction::Connect]);
    assert!(all.windows(2).all(|w| w[0].sequence > w[1].sequence));
    assert!(all[0].message.contains("rfc7644"));
    // One entry a page, following the cursor.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let q = api::LogQuery { failures_only: false, person_id: None, limit: 1, before };
        let page = plugin.read_logs(&q).await.unwrap().unwrap();
        seen.extend(page.entries.iter().map(|e| e.sequence));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(|e| e.sequence).collect::<Vec<_>>());
    let text = format!("{all:?}");
    assert!(!text.contains(HUMAANS_TOKEN) && !text.contains(SCIM_TOKEN));
    // An oversized page is a typed error, not a trap.
    let q = api::LogQuery { failures_only: false, person_id: None, limit: 10_000, before: None };
    assert!(matches!(plugin.read_logs(&q).await.unwrap(), Err(IntegrationError::InvalidInput(_))));
}
