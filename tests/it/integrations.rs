//! One runtime, several integrations: the embeddable host holds this component and the test
//! suite's rogue component side by side (one engine, one pre-instantiated component each, one
//! instance pool), and each tenant's calls go to the integration it names.

use std::sync::Arc;

use crate::sandbox::rogue_path;
use crate::support::*;
use host_harness::api::{ConnectionState, Dialect, IntegrationError};
use host_harness::{CallError, PoolSize, Runtime, TenantPlugin};

#[tokio::test]
async fn two_integrations_run_side_by_side_each_tenant_on_its_own() {
    let rig = Rig::start().await;
    let cache = host_harness::component::default_cache_dir();
    let component = host_harness::component::component_path().expect("the component builds");
    let runtime = Arc::new(
        Runtime::new(&component, Some(&cache), PoolSize { instances: 8, max_memory_bytes: 256 << 20 })
            .expect("the component loads"),
    );
    runtime.add_integration("rogue", &rogue_path(), Some(&cache)).expect("the rogue component loads");
    assert_eq!(runtime.integrations(), ["humaans-leapsome", "rogue"]);
    hire(&rig, "Ada", "Lovelace", "CTO", "Engineering", None);
    hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None);

    // Two tenants on the real integration (the default), one on the rogue, one store.
    let plugin = |id: &str, integration: Option<&str>| {
        let mut tenant = rig.tenant(id);
        if let Some(name) = integration {
            tenant.integration = name.into();
        }
        TenantPlugin::new(runtime.clone(), rig.storage.clone(), tenant)
    };
    let (acme, globex, rogue) = (plugin("acme", None), plugin("globex", None), plugin("probe", Some("rogue")));
    for real in [&acme, &globex] {
        real.connect(&rig.connection()).await.unwrap().expect("connects");
        real.configure(&all_on(Dialect::Leapsome)).await.unwrap().expect("configures");
    }
    let report = sync_ok(&acme, false, None).await;
    assert_eq!(report.created, 2, "{report:?}");
    assert_eq!(rig.leapsome.users().len(), 2);

    // The rogue tenant's calls run the rogue component: its status is always "not connected"
    // (the real one's answer for acme is a connected tenant), and its storage probe sees only
    // its own namespace, never acme's connection or links.
    assert!(matches!(rogue.status().await.unwrap(), Err(IntegrationError::NotConnected)));
    let acme_status = acme.status().await.unwrap().expect("status");
    assert_eq!(acme_status.connection, ConnectionState::Ok);
    match rogue.tick("storage connection settings").await.unwrap() {
        Err(IntegrationError::Storage(report)) => {
            assert!(!report.contains("scim-test-token") && !report.contains(HUMAANS_TOKEN), "{report}");
        }
        other => panic!("the rogue's probe answers with its report: {other:?}"),
    }
    // The real integration's other tenant is its own: nothing synced yet, then its own sync
    // adopts the two accounts acme created (same Leapsome, its own links).
    let report = sync_ok(&globex, false, None).await;
    assert_eq!((report.created, report.adopted), (0, 2), "{report:?}");

    // A tenant naming an integration that is not loaded gets a clear error, nothing else.
    let lost = plugin("lost", Some("workday-okta"));
    match lost.status().await {
        Err(CallError::Instantiation(why)) => {
            assert!(why.contains("no integration named `workday-okta`"), "{why}");
            assert!(why.contains("humaans-leapsome, rogue"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}
