//! Egress: the allow-list matches scheme, host and port; names are resolved by the host and every
//! address checked before connecting (loopback, private, link-local and unspecified addresses only
//! for entries that name such an address themselves); redirects are handed back, never followed;
//! IPv6 literals work end to end; the component decides "loopback" by parsing.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use host_harness::api::{Dialect, IntegrationError};
use host_harness::storage::LeaseClock;
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

/// DNS rebinding and SSRF into the host's network: an allowed *name* that resolves to an address
/// the IANA special-purpose registries mark as not globally reachable (or one that carries such an
/// IPv4 address: mapped, compatible, NAT64, 6to4, Teredo) is refused after resolution, before
/// connecting. (`egress::tests` goes through every row of both registries.)
#[tokio::test]
async fn an_allowed_name_resolving_to_a_non_public_address_is_refused() {
    let scene = Scene::start().await;
    let port = scene.rig.humaans.addr().port();
    let name = "humaans.rebind.example";
    let addresses = [
        "127.0.0.1",
        "10.0.0.7",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "198.18.0.1",
        "240.0.0.1",
        "192.0.0.170",
        "::1",
        "fc00::1",
        "fe80::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::808:808",
        "2002:7f00:1::1",
        "2001:0:808:808::80ff:fffe",
    ];
    for address in addresses {
        let mut tenant = tenant_with(&scene, &[AllowedHost::new(Scheme::Http, name, port)]);
        tenant.resolve_overrides.insert(name.into(), vec![address.parse::<IpAddr>().unwrap()]);
        let rogue = scene.rogue(tenant);
        let outcome = probe(&rogue, &[format!("http://{name}:{port}/api/me")]).await;
        assert_eq!(outcome, ["error ErrorCode::DestinationIpProhibited"], "{address}");
        assert_eq!(counts(&rogue), (0, 1), "{address}");
        assert!(rogue.stats().notes()[0].contains("is not a public address"), "{address}");
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

/// The same through the system resolver, not the override table: `127.1` is not an IP literal
/// (Rust's parser and the allow-list treat it as a name), but the C library's resolver reads it
/// as 127.0.0.1, as it would for a DNS answer or /etc/hosts. Refused after resolution; the real
/// component reports it as a policy refusal ("not a public address"), never as "could not be
/// reached".
#[tokio::test]
async fn a_name_the_system_resolver_turns_into_loopback_is_refused_as_not_public() {
    let scene = Scene::start().await;
    let port = scene.rig.humaans.addr().port();
    assert!("127.1".parse::<IpAddr>().is_err(), "127.1 must be a name to the host");
    let entry = AllowedHost::new(Scheme::Http, "127.1", port);
    assert!(!entry.names_a_local_address());
    let rogue = scene.rogue(tenant_with(&scene, &[entry]));
    let outcome = probe(&rogue, &[format!("http://127.1:{port}/api/me")]).await;
    assert_eq!(outcome, ["error ErrorCode::DestinationIpProhibited"]);
    assert_eq!(counts(&rogue), (0, 1));
    assert!(rogue.stats().notes()[0].contains("127.1 is not a public address"), "{:?}", rogue.stats().notes());

    // The real component, told to connect to Humaans at that name.
    let url = format!("https://127.1:{port}/api");
    let mut tenant = scene.rig.tenant("resolver").allow(AllowedHost::from_url(&url).unwrap());
    tenant.allowed_hosts.retain(|h| h.host != "127.0.0.1" || h.port != port);
    let plugin = scene.rig.plugin(tenant);
    let mut connection = scene.rig.connection();
    connection.humaans_base_url = Some(url);
    let error = plugin.connect(&connection).await.expect("no trap").expect_err("refused");
    let line = host_harness::operator::describe(&error);
    assert!(line.contains("not a public address") && !line.contains("could not be reached"), "{line}");
    // A policy refusal is final: asked once, not retried as a network failure would be.
    assert_eq!(plugin.stats().http_denied.load(Ordering::Relaxed), 1, "not retried");
    match &error {
        IntegrationError::Transport(f) => assert!(f.message.starts_with("not a public address"), "{f:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(plugin.stats().http_requests.load(Ordering::Relaxed), 0, "nothing was sent");
    assert!(scene.rig.humaans.control().journal().is_empty(), "a refused request reached Humaans");
}

/// A lease lost in the middle of a call (here it runs out while Leapsome takes 3 s to answer the
/// sync's list of users): every write the call makes after that is held back by the host, after
/// connecting, before a byte of it is written, so no write reaches Leapsome. The control, a lease
/// that stays current, makes the same writes.
#[tokio::test]
async fn no_write_reaches_leapsome_once_the_lease_is_lost_mid_call() {
    let rig = Rig::start().await;
    let people = 5;
    for i in 0..people {
        hire(&rig, "Leased", &format!("Person{i}"), "Engineer", "Engineering", None);
    }
    let plugin = rig.connected("leased", all_on(Dialect::Leapsome)).await;
    // Usable for 90% of 2 s by this process's clock, and never renewed.
    let clock = Arc::new(LeaseClock::new(Instant::now(), Duration::from_secs(2)));
    let leased = plugin.leased(rig.storage.clone(), clock.clone());
    rig.leapsome.control().add_fault(FaultRule::new(
        Some("GET"),
        "/scim/v1/Users",
        Fault::Delay(Duration::from_secs(3)),
        1,
    ));
    let reads_before = rig.leapsome.control().journal().len();
    let _ = leased.sync_all(sync_options(false, None)).await.expect("no trap");
    assert!(!clock.is_current(), "the lease ran out during the call");
    assert!(rig.leapsome.control().journal().len() > reads_before, "the call read from Leapsome");
    assert_eq!(rig.scim_writes().len(), 0, "a write reached Leapsome after the lease was lost");
    let stats = leased.stats();
    assert_eq!(stats.http_writes.load(Ordering::Relaxed), 0);
    assert!(stats.http_denied.load(Ordering::Relaxed) >= 1);
    assert!(stats.notes().iter().all(|n| n == host_harness::egress::LEASE_LOST), "{:?}", stats.notes());

    // The control: under a current lease the same sync creates every account.
    let clock = Arc::new(LeaseClock::new(Instant::now(), Duration::from_secs(600)));
    let report = plugin.leased(rig.storage.clone(), clock).sync_all(sync_options(false, None)).await.unwrap().unwrap();
    assert_eq!(report.created as usize, people, "{report:?}");
    assert_eq!(rig.scim_writes().iter().filter(|e| e.method == "POST").count(), people);
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
    plugin.configure(&all_on(Dialect::Leapsome)).await.unwrap().expect("configures");
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
