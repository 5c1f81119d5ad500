//! What the mocks alone cost to list a large organisation, page by page over loopback: mock
//! Humaans' people and job roles in pages of 250, or mock Leapsome's users in pages of 5,000.
//!
//! `cargo run --release -p mock-servers --example page_costs -- 100000`  (Humaans)
//! `cargo run --release -p mock-servers --example page_costs -- 90000 leapsome [rich]`

use mock_servers::humaans::{DEFAULT_TOKEN, HumaansConfig, MockHumaans};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One GET with `Connection: close`; the response's size in bytes (it must be a 200).
async fn get(addr: std::net::SocketAddr, target: &str, token: &str) -> usize {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).await.unwrap();
    assert!(r.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&r[..200.min(r.len())]));
    r.len()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(100_000);
    if std::env::args().nth(2).as_deref() == Some("leapsome") {
        leapsome(n, std::env::args().nth(3).as_deref() == Some("rich")).await;
        return;
    }
    let seed = mock_servers::org::generate_org(n, 4711, "2026-12-03");
    let h = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    h.load_seed(seed);
    for path in ["/api/people", "/api/job-roles"] {
        let t = Instant::now();
        let mut bytes = 0;
        let mut pages = 0;
        let mut skip = 0;
        loop {
            let b = get(h.addr(), &format!("{path}?$limit=250&$skip={skip}"), DEFAULT_TOKEN).await;
            bytes += b;
            pages += 1;
            skip += 250;
            if b < 1000 {
                break;
            }
        }
        println!("{path}: {pages} pages, {bytes} bytes, {:.3} s", t.elapsed().as_secs_f64());
    }
}

/// `leapsome`: users with a name, a title, one email and every fifth one as manager;
/// `leapsome rich`: as a provisioned Humaans person, also with displayName, phoneNumbers,
/// timezone, userType and department/employeeNumber/organization (unknown attributes kept).
#[allow(dead_code)]
pub async fn leapsome(n: usize, rich: bool) {
    use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let config = LeapsomeConfig { keep_unknown_attributes: rich, ..LeapsomeConfig::default() };
    let l = MockLeapsome::start(config).await.unwrap();
    let mut prev: Option<String> = None;
    for i in 0..n {
        let mut u = if rich {
            serde_json::json!({"userName": format!("u{i}@acme.test"), "externalId": format!("p{i}"),
                "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
                "displayName": format!("Given{i} Family{i}"), "title": "Senior Software Engineer", "active": true,
                "emails": [{"value": format!("u{i}@acme.test"), "type": "work", "primary": true}],
                "phoneNumbers": [{"value": format!("+44 20 7946 {:04}", i % 10_000), "type": "work", "primary": true}],
                "timezone": "Europe/London", "userType": "Employee",
                ENTERPRISE: {"department": "Engineering", "employeeNumber": format!("E{i:06}"), "organization": "Acme Ltd"}})
        } else {
            serde_json::json!({"userName": format!("u{i}@acme.test"), "externalId": format!("p{i}"),
                "name": {"givenName": "A", "familyName": "B"}, "title": "T", "emails": [{"value": format!("u{i}@acme.test"), "primary": true}]})
        };
        if let Some(m) = &prev {
            if rich {
                u[ENTERPRISE]["manager"] = serde_json::json!({"value": m});
            } else {
                u[ENTERPRISE] = serde_json::json!({"manager": {"value": m}});
            }
        }
        let id = l.seed_user(u);
        if i % 5 == 0 {
            prev = Some(id);
        }
    }
    let addr: std::net::SocketAddr =
        l.base_url().trim_start_matches("http://").split('/').next().unwrap().parse().unwrap();
    let path = l.base_url().splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
    let token = LeapsomeConfig::default().token;
    let t = Instant::now();
    let mut start = 1;
    let mut pages = 0;
    let mut bytes = 0;
    while start <= n {
        bytes += get(addr, &format!("{path}/Users?startIndex={start}&count=5000"), &token).await;
        start += 5000;
        pages += 1;
    }
    let kind = if rich { " (rich users)" } else { "" };
    println!("leapsome /Users{kind}: {pages} pages, {bytes} bytes, {:.3} s", t.elapsed().as_secs_f64());
}
