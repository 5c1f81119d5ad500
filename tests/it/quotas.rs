//! Quotas per tenant (`Tenant` policy): storage keys and bytes, bucket names, pool instances held
//! at once, outbound requests per call. Going over is a typed error to the guest and a note in the
//! tenant's host log; other tenants carry on. Counts are exact.

use std::sync::atomic::Ordering;
use std::time::Duration;

use host_harness::api::IntegrationError;
use host_harness::{CallError, Tenant, TenantPlugin};

use crate::sandbox::Scene;

/// The rogue's storage report for `command`.
async fn storage_report(rogue: &TenantPlugin, command: &str) -> String {
    match rogue.tick(command).await.expect("no trap") {
        Err(IntegrationError::Storage(report)) => report,
        other => panic!("expected the rogue's storage report, got {other:?}"),
    }
}

fn quota(scene: &Scene, keys: u64, bytes: u64) -> Tenant {
    let mut t = scene.rogue_tenant();
    (t.max_storage_keys, t.max_storage_bytes) = (keys, bytes);
    t
}

#[test]
fn defaults_are_256_mib_a_million_keys_the_default_bucket_and_eight_instances() {
    let t = Tenant::new("t");
    assert_eq!((t.max_storage_bytes, t.max_storage_keys), (256 << 20, 1_000_000));
    assert_eq!(t.allowed_buckets, [""]);
    assert_eq!((t.max_instances, t.max_requests_per_call), (8, 50_000));
}

#[tokio::test]
async fn a_tenant_over_its_key_quota_gets_a_typed_error_and_others_carry_on() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(quota(&scene, 10, 1 << 20));
    let report = storage_report(&rogue, "fill 50 10").await;
    assert_eq!(report, "filled 10 then error(Error::Other(\"quota exceeded: the tenant may store at most 10 keys\"))");
    // Overwriting what it has stays within the quota.
    assert_eq!(storage_report(&rogue, "fill 10 100").await, "filled 10");
    assert_eq!(rogue.stats().quota_refusals.load(Ordering::Relaxed), 1);
    let notes = rogue.stats().notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("storage write refused: quota exceeded") && notes[0].contains("holds 10 keys"));
    let usage = scene.rig.storage.usage(&rogue.tenant().storage_namespace).unwrap();
    assert_eq!((usage.keys, usage.bytes), (10, 10 * (10 + 100)));
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn a_tenant_over_its_byte_quota_gets_a_typed_error() {
    let scene = Scene::start().await;
    // Each key `fill/00000` (10 bytes) with a 10,240-byte value: 10,250 bytes; 6 fit in 64 KiB.
    let rogue = scene.rogue(quota(&scene, 1_000, 64 << 10));
    let report = storage_report(&rogue, "fill 50 10240").await;
    assert_eq!(
        report,
        "filled 6 then error(Error::Other(\"quota exceeded: the tenant may store at most 65536 bytes\"))"
    );
    // A later call reads the usage afresh and is refused as well: nothing more fits.
    let report = storage_report(&rogue, "fill 7 10240").await;
    assert!(report.starts_with("filled 6 then error"), "{report}");
    assert_eq!(rogue.stats().quota_refusals.load(Ordering::Relaxed), 2);
    let usage = scene.rig.storage.usage(&rogue.tenant().storage_namespace).unwrap();
    assert_eq!((usage.keys, usage.bytes), (6, 6 * 10_250));
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn bucket_names_off_the_allow_list_do_not_open() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(scene.rogue_tenant());
    let report = storage_report(&rogue, "storage connection").await;
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 9, "{report}");
    assert_eq!(lines[0], "bucket=\"\" open=ok keys=[] connection=absent");
    for line in &lines[1..] {
        assert!(line.ends_with(" open=error(Error::NoSuchStore)"), "{line}");
    }
    assert_eq!(rogue.stats().notes().len(), 2 * 8, "each refused open is noted (probe, then vandalism)");
    assert_eq!(scene.rig.storage.scopes().unwrap().iter().filter(|(n, _)| n == "tenant/rogue").count(), 1);
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn outbound_requests_per_call_are_capped() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.max_requests_per_call = 2;
    let rogue = scene.rogue(tenant);
    let url = format!("http://127.0.0.1:{}/api/me", scene.rig.humaans.addr().port());
    let probe = format!("http {url} {url} {url}");
    for call in 1..=2u64 {
        let message = match rogue.tick(&probe).await.expect("no trap") {
            Err(IntegrationError::Transport(f)) => f.message,
            other => panic!("{other:?}"),
        };
        let outcomes: Vec<&str> = message.lines().map(|l| l.rsplit(" -> ").next().unwrap()).collect();
        assert_eq!(outcomes, ["status 401", "status 401", "denied"], "call {call}");
        assert_eq!(rogue.stats().http_requests.load(Ordering::Relaxed), 2 * call);
        assert_eq!(rogue.stats().http_denied.load(Ordering::Relaxed), call);
    }
    assert_eq!(scene.rig.humaans.control().journal().len(), 4);
    assert!(rogue.stats().notes()[0].contains("quota of 2 requests per call"));
    scene.assert_host_unharmed(&rogue).await;
}

/// A tenant holds at most `max_instances` of the pool (16 slots here) at once: 20 of its calls
/// blocked in the host occupy 2, and another tenant on the same pool still gets instances.
#[tokio::test]
async fn a_tenant_holds_at_most_its_share_of_the_pool() {
    let scene = Scene::start().await;
    let mut greedy = scene.rogue_tenant();
    greedy.id = "greedy".into();
    greedy.storage_namespace = "tenant/greedy".into();
    greedy.max_instances = 2;
    greedy.call_timeout = Duration::from_secs(3);
    let greedy = scene.rogue(greedy);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let greedy = greedy.clone();
            tokio::spawn(async move { greedy.tick("sleep").await })
        })
        .collect();
    while greedy.stats().instances_in_use.load(Ordering::Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // While the greedy tenant waits, others get instances from the same pool.
    let other = scene.rogue(scene.rogue_tenant());
    for _ in 0..20 {
        let ok = other.tick("ok").await.expect("an instance for another tenant").expect("answers");
        assert_eq!(ok.provisioned, 0);
    }
    assert_eq!(greedy.stats().instances_in_use.load(Ordering::Relaxed), 2);
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(CallError::TimedOut)));
    }
    assert_eq!(greedy.stats().peak_instances.load(Ordering::Relaxed), 2);
    assert_eq!(greedy.stats().instances_in_use.load(Ordering::Relaxed), 0);
    scene.assert_host_unharmed(&other).await;
}
