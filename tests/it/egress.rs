//! Egress: the allow-list matches scheme, host and port; names are resolved by the host and every
//! address checked before connecting (loopback, private, link-local and unspecified addresses only
//! for entries that name such an address themselves); redirects are handed back, never followed;
//! IPv6 literals work end to end; the component decides "loopback" by parsing.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use host_harness::api::{Dialect, IntegrationError};
use host_harness::{AllowedHost, Scheme, Tenant, TenantPlugin};
use mock_servers::humaans::{HumaansConfig, MockHumaans};
use mock_servers::{Fault, FaultRule};

use crate::sandbox::Scene;
use crate::support::*;

/// What happened to each URL the rogue component sent a GET to.
async fn probe(rogue: &TenantPlugin, urls: &[String]) -> Vec<String> {
    let message = match rogue.tick(&format!("http {}", urls.join(" "))).await.expect("no trap") {
        Err(IntegrationError::Transport(f)) => f.message,
        other => panic!("expected the rogue's transport report, got {other:?}"),
    };
    let outcomes: Vec<String> =
        message.lines().map(|l| l.split_once(" -> ").expect("url -> outcome").1.to_owned()).collect();
    assert_eq!(outcomes.len(), urls.len(), "{message}");
    outcomes
}

fn counts(plugin: &TenantPlugin) -> (u64, u64) {
    (plugin.stats().http_requests.load(Ordering::Relaxed), plugin.stats().http_denied.load(Ordering::Relaxed))
}

/// A rogue tenant allowed exactly `entries` (no mock allowed by default).
fn tenant_with(scene: &Scene, entries: &[AllowedHost]) -> Tenant {
    let mut t = scene.rogue_tenant();
    t.allowed_hosts = entries.to_vec();
    t
}

#[tokio::test]
async fn an_https_entry_does_not_allow_http_to_the_same_host_and_port() {
    let scene = Scene::start().await;
    let port = scene.rig.humaans.addr().port();
    let https = AllowedHost::new(Scheme::Https, "127.0.0.1", port);
    let rogue = scene.rogue(tenant_with(&scene, &[https]));
    let url = format!("http://127.0.0.1:{port}/api/me");
    assert_eq!(probe(&rogue, std::slice::from_ref(&url)).await, ["denied"]);
    assert_eq!(counts(&rogue), (0, 1));
    assert!(scene.rig.humaans.control().journal().is_empty(), "a denied request reached Humaans");

    // The control: the http entry for the same host and port lets it through.
    let http = AllowedHost::new(Scheme::Http, "127.0.0.1", port);
    let rogue = scene.rogue(tenant_with(&scene, &[http]));
    assert_eq!(probe(&rogue, &[url]).await, ["status 401"]);
    assert_eq!(scene.rig.humaans.control().journal().len(), 1);
    scene.assert_host_unharmed(&rogue).await;
}

/// DNS rebinding and SSRF into the host's network: an allowed *name* that resolves to a loopback,
/// private, link-local or unspecified address is refused after resolution, before connecting.
#[tokio::test]
async fn an_allowed_name_resolving_to_a_non_public_address_is_refused() {
    let scene = Scene::start().await;
    let port = scene.rig.humaans.addr().port();
    let name = "humaans.rebind.example";
    let addresses = ["127.0.0.1", "10.0.0.7", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "fc00::1", "fe80::1"];
    for address in addresses {
        let mut tenant = tenant_with(&scene, &[AllowedHost::new(Scheme::Http, name, port)]);
        tenant.resolve_overrides.insert(name.into(), vec![address.parse::<IpAddr>().unwrap()]);
        let rogue = scene.rogue(tenant);
        let outcome = probe(&rogue, &[format!("http://{name}:{port}/api/me")]).await;
        assert_eq!(outcome, ["error ErrorCode::DestinationIpProhibited"], "{address}");
        assert_eq!(counts(&rogue), (0, 1), "{address}");
        assert!(rogue.stats().notes()[0].contains("non-public address"), "{address}");
    }
    assert!(scene.rig.humaans.control().journal().is_empty(), "a refused request reached Humaans");

    // The controls: entries that are themselves a loopback literal or `localhost` reach the mock.
    for entry in [AllowedHost::new(Scheme::Http, "127.0.0.1", port), AllowedHost::new(Scheme::Http, "localhost", port)]
    {
        let url = format!("http://{}:{port}/api/me", entry.host);
        let rogue = scene.rogue(tenant_with(&scene, &[entry]));
        assert_eq!(probe(&rogue, &[url]).await, ["status 401"]);
        assert_eq!(counts(&rogue), (1, 0));
    }
    assert_eq!(scene.rig.humaans.control().journal().len(), 2);
}

/// A 302 to a host off the allow-list comes back to the guest as a 302: nothing follows it.
#[tokio::test]
async fn redirects_are_returned_to_the_guest_never_followed() {
    let scene = Scene::start().await;
    // The redirect target: a raw listener any connection would wait in.
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    target.set_nonblocking(true).unwrap();
    let location = format!("http://127.0.0.1:{}/steal", target.local_addr().unwrap().port());
    for status in [301, 302, 307, 308] {
        let fault = Fault::Redirect { status, location: location.clone() };
        scene.rig.humaans.control().add_fault(FaultRule::new(None, "/api/me", fault, 1));
    }
    let rogue = scene.rogue(scene.rogue_tenant());
    let humaans = scene.rig.humaans.addr().port();
    let url = format!("http://127.0.0.1:{humaans}/api/me");
    let outcomes = probe(&rogue, &vec![url; 4]).await;
    assert_eq!(outcomes, ["status 301", "status 302", "status 307", "status 308"]);
    assert_eq!(counts(&rogue), (4, 0));
    assert!(matches!(target.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "a redirect was followed");

    // The real component too: a redirecting Humaans fails the connect; the target sees nothing.
    let fault = Fault::Redirect { status: 302, location: location.clone() };
    scene.rig.humaans.control().add_fault(FaultRule::new(None, "/api", fault, 100));
    let victim = scene.rig.plugin(scene.rig.tenant("redirected"));
    match victim.connect(&scene.rig.connection()).await.expect("no trap") {
        Err(IntegrationError::Upstream(f)) => assert_eq!(f.status, Some(302), "{f:?}"),
        other => panic!("expected an upstream error, got {other:?}"),
    }
    assert!(matches!(target.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "a redirect was followed");
    scene.rig.humaans.control().clear_faults();
    scene.assert_host_unharmed(&rogue).await;
}

/// `http://[::1]:PORT/api` works end to end: the host's allow-list parses it, the component
/// accepts it as loopback, and the request reaches a Humaans listening on IPv6 loopback.
#[tokio::test]
async fn an_ipv6_literal_base_url_works_end_to_end() {
    let rig = Rig::start().await;
    let v6 = MockHumaans::start_on(HumaansConfig::default(), "[::1]:0".parse().unwrap()).await.expect("[::1] binds");
    let url = v6.base_url();
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let mut tenant = Tenant::new("v6").allow(AllowedHost::from_url(&url).unwrap());
    tenant = tenant.allow(AllowedHost::from_url(&rig.leapsome.base_url()).unwrap());
    tenant.fixed_clock = Some(at(NOW));
    let plugin = rig.plugin(tenant);
    let mut connection = rig.connection();
    connection.humaans_base_url = Some(url.clone());
    let report = plugin.connect(&connection).await.expect("no trap").expect("connects over IPv6");
    assert_eq!(report.humaans_base_url, url);
    assert!(!v6.control().journal().is_empty());
    plugin.configure(all_on(Dialect::Leapsome)).await.unwrap().expect("configures");
}

/// The component itself refuses plain http to anything but a loopback address, decided by
/// parsing: `127.evil.example` is a name that anyone can point anywhere.
#[tokio::test]
async fn plain_http_to_a_name_that_looks_like_loopback_is_refused_by_the_component() {
    let rig = Rig::start().await;
    let plugin = rig.plugin(rig.tenant("lookalike"));
    for url in ["http://127.evil.example/api", "http://127.0.0.1.nip.io:8081/api", "http://localhost.evil.example/api"]
    {
        let mut connection = rig.connection();
        connection.humaans_base_url = Some(url.into());
        match plugin.connect(&connection).await.expect("no trap") {
            Err(IntegrationError::InvalidInput(f)) => {
                assert_eq!(f.field, "connection.humaans-base-url");
                assert!(f.message.contains("must use https://"), "{}", f.message);
            }
            other => panic!("{url}: expected invalid input, got {other:?}"),
        }
    }
    assert_eq!(counts(&plugin), (0, 0), "nothing was sent");
}
