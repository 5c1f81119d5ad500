//! The mock Humaans API over real HTTP: paging, filters, auth and scopes, Feathers errors, faults,
//! the rate limit and the journal; and the invariants of the generated organisation.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use mock_servers::humaans::{
    ApiToken, Behaviour, DEFAULT_TOKEN, HumaansConfig, HumaansSeed, JobRole, MockHumaans, Person, STATUS_ACTIVE,
    STATUS_NEW_HIRE, STATUS_OFFBOARDED, Select,
};
use mock_servers::org::{BIG_TEAM_ABOVE, OrgOptions, PROGRAMME_TEAM, ascii_fold, generate_org, generate_org_with};
use mock_servers::{Fault, FaultRule};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TODAY: &str = "2025-06-15";

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client: one request per connection, so a dropped connection shows up as
/// an error on exactly the request it hit.
async fn send(addr: SocketAddr, method: &str, target: &str, authorization: Option<&str>) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(auth) = authorization {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if method != "GET" {
        head.push_str("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    } else {
        head.push_str("\r\n");
    }
    stream.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        body.truncate(len.1.parse().expect("content-length"));
    }
    Ok(Reply { status, headers, body })
}

async fn get_as(mock: &MockHumaans, token: &str, target: &str) -> Reply {
    send(mock.addr(), "GET", target, Some(&format!("Bearer {token}"))).await.expect("request")
}

async fn get(mock: &MockHumaans, target: &str) -> Reply {
    get_as(mock, DEFAULT_TOKEN, target).await
}

/// Percent-encodes everything but unreserved characters, as a careful client would.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn url(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    if query.is_empty() { format!("/api{path}") } else { format!("/api{path}?{}", query.join("&")) }
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().expect("data").iter().map(|p| p["id"].as_str().expect("id").to_owned()).collect()
}

fn assert_feathers_error(reply: &Reply, code: u16, name: &str, class_name: &str) -> Value {
    assert_eq!(reply.status, code, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    assert_eq!(body["code"], code);
    assert_eq!(body["name"], name);
    assert_eq!(body["className"], class_name);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let id = body["id"].as_str().expect("error id");
    assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    body
}

async fn mock_with_people(n: usize) -> (MockHumaans, Vec<String>) {
    let mock = MockHumaans::start(HumaansConfig::default()).await.expect("start");
    let ids =
        (0..n).map(|i| mock.add_person(Person::new("Person", &format!("No{i}"), &format!("p{i}@acme.test")))).collect();
    (mock, ids)
}

#[tokio::test]
async fn pages_with_feathers_defaults_and_caps() {
    let (mock, all) = mock_with_people(320).await;

    let first = get(&mock, "/api/people").await.json();
    assert_eq!(
        (first["total"].as_u64(), first["limit"].as_u64(), first["skip"].as_u64()),
        (Some(320), Some(100), Some(0))
    );
    assert_eq!(ids(&first), all[..100]);

    let capped = get(&mock, &url("/people", &[("$limit", "1000")])).await.json();
    assert_eq!(capped["limit"], 250);
    assert_eq!(ids(&capped).len(), 250);

    let tail = get(&mock, &url("/people", &[("$limit", "50"), ("$skip", "300")])).await.json();
    assert_eq!((tail["limit"].as_u64(), tail["skip"].as_u64()), (Some(50), Some(300)));
    assert_eq!(ids(&tail), all[300..]);

    let count_only = get(&mock, &url("/people", &[("$limit", "0")])).await.json();
    assert_eq!((count_only["total"].as_u64(), count_only["limit"].as_u64()), (Some(320), Some(0)));
    assert_eq!(count_only["data"], serde_json::json!([]));

    let beyond = get(&mock, &url("/people", &[("$skip", "5000")])).await.json();
    assert_eq!(beyond["total"], 320);
    assert!(ids(&beyond).is_empty());

    // The client loop of the reference: keep going while skip + data.len() < total.
    let mut seen = Vec::new();
    loop {
        let page = get(&mock, &url("/people", &[("$limit", "70"), ("$skip", &seen.len().to_string())])).await.json();
        seen.extend(ids(&page));
        if seen.len() as u64 >= page["total"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!(seen, all);

    for bad in [("$limit", "-1"), ("$limit", "ten"), ("$skip", "1.5")] {
        let body = assert_feathers_error(&get(&mock, &url("/people", &[bad])).await, 400, "BadRequest", "bad-request");
        assert_eq!(body["issues"][0]["name"], bad.0);
    }
}

#[tokio::test]
async fn configured_page_sizes_apply() {
    let config = HumaansConfig {
        behaviour: Behaviour { default_limit: 10, max_limit: 20, ..Behaviour::default() },
        ..HumaansConfig::default()
    };
    let mock = MockHumaans::start(config).await.unwrap();
    for i in 0..30 {
        mock.add_person(Person::new("A", "B", &format!("{i}@acme.test")));
    }
    assert_eq!(ids(&get(&mock, "/api/people").await.json()).len(), 10);
    let capped = get(&mock, &url("/people", &[("$limit", "100")])).await.json();
    assert_eq!((capped["limit"].as_u64(), ids(&capped).len()), (Some(20), 20));
}

#[tokio::test]
async fn person_objects_have_the_documented_shape() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let id = mock.add_person(Person::new("Kelsey", "Wicks", "kelsey@acme.test"));
    let person = get(&mock, &format!("/api/people/{id}")).await.json();
    assert_eq!(person["id"], id.as_str());
    assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(person["companyId"], mock.company().id.as_str());
    assert_eq!(person["firstName"], "Kelsey");
    assert_eq!(person["email"], "kelsey@acme.test");
    assert_eq!(person["status"], STATUS_ACTIVE);
    assert_eq!(person["timezone"], "Europe/London");
    assert_eq!(person["employmentStartDate"], "2024-01-01");
    assert_eq!(person["contractType"], "Full time");
    assert_eq!(person["teams"], serde_json::json!([]));
    for nullable in
        ["middleName", "preferredName", "personalEmail", "employmentEndDate", "lastWorkingDay", "employeeId"]
    {
        assert_eq!(person.get(nullable), Some(&Value::Null), "{nullable} should be present and null");
    }
    for stamp in ["createdAt", "updatedAt"] {
        let s = person[stamp].as_str().unwrap();
        assert!(s.len() == 24 && s.ends_with('Z') && &s[10..11] == "T", "{s}");
    }
    let back: Person = serde_json::from_value(person).unwrap();
    assert_eq!(Some(back), mock.person(&id));
}

#[tokio::test]
async fn filters_by_equality_operators_and_sort() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let alice = mock.add_person(Person::new("Alice", "Archer", "alice+hr@acme.test"));
    let bob = mock.add_person(Person::new("Bob", "Baker", "bob@acme.test"));
    let carol =
        mock.add_person(Person { status: STATUS_NEW_HIRE.into(), ..Person::new("Carol", "Cook", "carol@acme.test") });
    let dave = mock.add_person(Person::new("Dave", "Dunn", "dave@acme.test"));
    mock.offboard(&dave, "2025-01-31");

    let by_email = get(&mock, &url("/people", &[("email", "alice+hr@acme.test")])).await.json();
    assert_eq!((by_email["total"].as_u64(), ids(&by_email)), (Some(1), vec![alice.clone()]));
    let nobody = get(&mock, &url("/people", &[("email", "ALICE+hr@acme.test")])).await.json();
    assert_eq!(nobody["total"], 0);

    let active = get(&mock, &url("/people", &[("status", "active")])).await.json();
    assert_eq!(ids(&active), [alice.clone(), bob.clone()]);
    let some =
        get(&mock, &url("/people", &[("status[$in][]", "newHire"), ("status[$in][]", "offboarded")])).await.json();
    assert_eq!(ids(&some), [carol.clone(), dave.clone()]);
    let others = get(&mock, &url("/people", &[("status[$nin][]", "active")])).await.json();
    assert_eq!(ids(&others), [carol.clone(), dave.clone()]);
    let not_bob = get(&mock, &url("/people", &[("firstName[$ne]", "Bob")])).await.json();
    assert_eq!(ids(&not_bob), [alice.clone(), carol.clone(), dave.clone()]);
    let combined = get(&mock, &url("/people", &[("status", "active"), ("lastName[$gte]", "B")])).await.json();
    assert_eq!(ids(&combined), vec![bob.clone()]);
    let left = get(&mock, &url("/people", &[("lastWorkingDay[$lt]", "2025-02-01")])).await.json();
    assert_eq!(ids(&left), vec![dave.clone()]);
    let null_match = get(&mock, &url("/people", &[("lastWorkingDay", "null"), ("isVerified", "true")])).await.json();
    assert_eq!(null_match["total"], 3);

    let before = mock.people().into_iter().map(|p| p.updated_at).max().unwrap();
    mock.update_person(&bob, |p| p.preferred_name = Some("Bobby".into()));
    let changed = get(&mock, &url("/people", &[("updatedAt[$gt]", &before)])).await.json();
    assert_eq!(ids(&changed), vec![bob.clone()]);
    let by_preferred = get(&mock, &url("/people", &[("preferredName", "Bobby")])).await.json();
    assert_eq!(ids(&by_preferred), vec![bob.clone()]);

    let sorted = get(&mock, &url("/people", &[("$sort[firstName]", "-1")])).await.json();
    assert_eq!(ids(&sorted), [dave.clone(), carol.clone(), bob.clone(), alice.clone()]);

    let selected = get(&mock, &url("/people", &[("$select[]", "email"), ("$limit", "1")])).await.json();
    let keys: HashSet<&str> = selected["data"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["id", "email"]));

    for bad in
        [("nosuchField", "x"), ("teams", "x"), ("$asOf", "2025-01-01"), ("status[$regex]", "a"), ("$sort[email]", "up")]
    {
        let reply = get(&mock, &url("/people", &[bad])).await;
        assert_feathers_error(&reply, 400, "BadRequest", "bad-request");
    }
}

#[tokio::test]
async fn job_roles_filter_by_person_and_as_of() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let boss = mock.add_person(Person::new("Bea", "Boss", "bea@acme.test"));
    let dev = mock.add_person(Person::new("Dan", "Dev", "dan@acme.test"));
    let boss_role = mock.add_job_role(JobRole::new(&boss, "CEO", "Executive", None, "2020-01-01"));
    let junior = mock.add_job_role(JobRole::new(&dev, "Engineer", "Engineering", Some(&boss), "2024-01-01"));
    mock.end_job_role(&junior, "2024-12-31");
    let senior = mock.add_job_role(JobRole::new(&dev, "Senior Engineer", "Engineering", Some(&boss), "2025-01-01"));
    mock.end_job_role(&senior, "2025-06-30");
    let staff = mock.add_job_role(JobRole::new(&dev, "Staff Engineer", "Engineering", Some(&boss), "2025-07-01"));

    let of_dev = get(&mock, &url("/job-roles", &[("personId", &dev)])).await.json();
    assert_eq!(ids(&of_dev), [junior.clone(), senior.clone(), staff.clone()]);
    assert_eq!(of_dev["data"][0]["reportingTo"], boss.as_str());
    assert_eq!(of_dev["data"][0]["endDate"], "2024-12-31");
    assert_eq!(of_dev["data"][2]["endDate"], Value::Null);
    assert_eq!(of_dev["data"][2]["companyId"], mock.company().id.as_str());

    let on = |date: &'static str| url("/job-roles", &[("personId", &dev), ("$asOf", date)]);
    // Both ends of a role are inclusive.
    for (date, expected) in [
        ("2023-12-31", vec![]),
        ("2024-01-01", vec![junior.clone()]),
        ("2024-12-31", vec![junior.clone()]),
        ("2025-01-01", vec![senior.clone()]),
        (TODAY, vec![senior.clone()]),
        ("2025-06-30", vec![senior.clone()]),
        ("2025-07-01", vec![staff.clone()]),
    ] {
        assert_eq!(ids(&get(&mock, &on(date)).await.json()), expected, "as of {date}");
    }
    let everyone_today = get(&mock, &url("/job-roles", &[("$asOf", TODAY)])).await.json();
    assert_eq!(ids(&everyone_today), [boss_role.clone(), senior.clone()]);
    let two_people = get(
        &mock,
        &url("/job-roles", &[("personId[$in][]", &boss), ("personId[$in][]", &dev), ("$asOf", "2025-07-01")]),
    )
    .await
    .json();
    assert_eq!(ids(&two_people), [boss_role.clone(), staff.clone()]);
    let by_manager = get(&mock, &url("/job-roles", &[("reportingTo", &boss), ("endDate", "null")])).await.json();
    assert_eq!(ids(&by_manager), vec![staff.clone()]);

    let one = get(&mock, &format!("/api/job-roles/{senior}")).await.json();
    assert_eq!((one["jobTitle"].as_str(), one["personId"].as_str()), (Some("Senior Engineer"), Some(dev.as_str())));
    assert_eq!(mock.job_roles_of(&dev).len(), 3);

    for bad in ["2025-02-30", "2025-6-1", "today"] {
        let reply = get(&mock, &url("/job-roles", &[("$asOf", bad)])).await;
        assert_feathers_error(&reply, 400, "BadRequest", "bad-request");
    }

    mock.delete_person(&dev);
    assert_eq!(get(&mock, &url("/job-roles", &[("personId", &dev)])).await.json()["total"], 0);
    assert!(mock.job_roles_of(&dev).is_empty());
    assert_feathers_error(&get(&mock, &format!("/api/job-roles/{staff}")).await, 404, "NotFound", "not-found");
    assert_feathers_error(&get(&mock, &format!("/api/people/{dev}")).await, 404, "NotFound", "not-found");
}

#[tokio::test]
async fn companies_me_and_token_info() {
    let config = HumaansConfig::default();
    let company_id = config.company.id.clone();
    let mock = MockHumaans::start(config).await.unwrap();
    let owner = mock.add_person(Person::new("Olive", "Owner", "olive@acme.test"));
    mock.add_token(ApiToken::new("owner-token", Some(&owner), &["private:read", "webhooks:manage"]));

    let companies = get(&mock, "/api/companies").await.json();
    assert_eq!(companies["total"], 1);
    assert_eq!(companies["data"][0]["name"], "Acme Ltd");
    mock.set_company_name("Acme Group");
    let company = get(&mock, &format!("/api/companies/{company_id}")).await.json();
    assert_eq!((company["id"].as_str(), company["name"].as_str()), (Some(company_id.as_str()), Some("Acme Group")));
    assert_eq!(company["status"], "active");
    assert_feathers_error(&get(&mock, "/api/companies/nope").await, 404, "NotFound", "not-found");

    let me = get_as(&mock, "owner-token", "/api/me").await.json();
    assert_eq!((me["id"].as_str(), me["email"].as_str()), (Some(owner.as_str()), Some("olive@acme.test")));
    let info = get_as(&mock, "owner-token", "/api/token-info").await.json();
    assert_eq!(info["personId"], owner.as_str());
    assert_eq!(info["scopes"], serde_json::json!(["private:read", "webhooks:manage"]));
    assert_eq!(info["companyId"], company_id.as_str());
    assert!(!info.to_string().contains("owner-token"), "token-info must not echo the secret");

    // The default token belongs to no person.
    assert_feathers_error(&get(&mock, "/api/me").await, 404, "NotFound", "not-found");
    assert_eq!(get(&mock, "/api/token-info").await.json()["personId"], Value::Null);
}

#[tokio::test]
async fn authentication_and_scopes() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    mock.add_token(ApiToken::new("write-only", None, &["private:write"]));
    let id = mock.add_person(Person::new("A", "B", "a@acme.test"));

    for auth in [None, Some("Bearer wrong-token"), Some(&*format!("Basic {DEFAULT_TOKEN}")), Some("Bearer")] {
        let reply = send(mock.addr(), "GET", "/api/people", auth).await.unwrap();
        assert_feathers_error(&reply, 401, "NotAuthenticated", "not-authenticated");
    }
    let reply = send(mock.addr(), "GET", &format!("/api/people/{id}"), None).await.unwrap();
    assert_feathers_error(&reply, 401, "NotAuthenticated", "not-authenticated");
    assert_eq!(
        send(mock.addr(), "GET", "/api/people", Some(&format!("bearer {DEFAULT_TOKEN}"))).await.unwrap().status,
        200
    );
    assert_feathers_error(&get_as(&mock, "write-only", "/api/people").await, 403, "Forbidden", "forbidden");
}

async fn public_fixture(behaviour: Behaviour) -> (MockHumaans, [String; 3]) {
    let mock = MockHumaans::start(HumaansConfig {
        tokens: vec![
            ApiToken::new(DEFAULT_TOKEN, None, &["private:read"]),
            ApiToken::new("public", None, &["public:read"]),
        ],
        behaviour,
        ..HumaansConfig::default()
    })
    .await
    .unwrap();
    let mut active = Person::new("Ann", "Active", "ann@acme.test");
    active.birthday = Some("1990-02-03".into());
    active.personal_email = Some("ann@example.com".into());
    active.address = Some("1 High Street".into());
    let active = mock.add_person(active);
    let new_hire =
        mock.add_person(Person { status: STATUS_NEW_HIRE.into(), ..Person::new("Ned", "New", "ned@acme.test") });
    let gone = mock.add_person(Person::new("Olga", "Old", "olga@acme.test"));
    mock.offboard(&gone, "2025-01-31");
    for (person, title) in [(&active, "Engineer"), (&new_hire, "Designer"), (&gone, "Analyst")] {
        mock.add_job_role(JobRole::new(person, title, "Product", None, "2024-01-01"));
    }
    (mock, [active, new_hire, gone])
}

#[tokio::test]
async fn public_read_sees_active_people_without_private_fields() {
    let (mock, [active, new_hire, gone]) = public_fixture(Behaviour::default()).await;

    let everyone = get(&mock, "/api/people").await.json();
    assert_eq!(everyone["total"], 3);
    assert_eq!(everyone["data"][0]["birthday"], "1990-02-03");

    let public = get_as(&mock, "public", "/api/people").await.json();
    assert_eq!((public["total"].as_u64(), ids(&public)), (Some(1), vec![active.clone()]));
    let ann = &public["data"][0];
    assert_eq!(ann["email"], "ann@acme.test");
    for private in ["birthday", "personalEmail", "personalPhoneNumber", "address", "lastWorkingDay", "taxId"] {
        assert!(ann.get(private).is_none(), "{private} leaked: {ann}");
    }
    let ann_by_id = get_as(&mock, "public", &format!("/api/people/{active}")).await.json();
    assert!(ann_by_id.get("birthday").is_none());
    for hidden in [&new_hire, &gone] {
        let reply = get_as(&mock, "public", &format!("/api/people/{hidden}")).await;
        assert_feathers_error(&reply, 404, "NotFound", "not-found");
    }
    let asked_for_hidden = get_as(&mock, "public", &url("/people", &[("status", "newHire")])).await.json();
    assert_eq!(asked_for_hidden["total"], 0);
    // Filtering on a field the token cannot see must not reveal who has which value.
    let probe = get_as(&mock, "public", &url("/people", &[("birthday", "1990-02-03")])).await;
    assert_feathers_error(&probe, 400, "BadRequest", "bad-request");

    let roles = get_as(&mock, "public", "/api/job-roles").await.json();
    assert_eq!(roles["total"], 1);
    assert_eq!(roles["data"][0]["personId"], active.as_str());
    assert_eq!(get(&mock, "/api/job-roles").await.json()["total"], 3);
}

#[tokio::test]
async fn public_read_behaviour_is_configurable() {
    let behaviour = Behaviour {
        private_fields_as_null: true,
        public_statuses: vec![STATUS_ACTIVE.into(), STATUS_NEW_HIRE.into()],
        public_job_roles: false,
        ..Behaviour::default()
    };
    let (mock, [active, new_hire, _]) = public_fixture(behaviour).await;
    let public = get_as(&mock, "public", "/api/people").await.json();
    assert_eq!(ids(&public), [active, new_hire]);
    assert_eq!(public["data"][0].get("birthday"), Some(&Value::Null));
    assert_eq!(public["data"][0].get("personalEmail"), Some(&Value::Null));
    // Shown as null, the field filters as null.
    let by_null = get_as(&mock, "public", &url("/people", &[("birthday", "null")])).await.json();
    assert_eq!(by_null["total"], 2);
    assert_feathers_error(&get_as(&mock, "public", "/api/job-roles").await, 403, "Forbidden", "forbidden");

    mock.set_behaviour(Behaviour::default());
    assert_eq!(get_as(&mock, "public", "/api/people").await.json()["total"], 1);
}

#[tokio::test]
async fn select_is_honoured_ignored_or_refused_as_configured() {
    let (mock, ids) = mock_with_people(2).await;
    let target = url("/people", &[("$select[]", "email"), ("$select[]", "lastName")]);
    let keys = |page: &Value| -> HashSet<String> { page["data"][0].as_object().unwrap().keys().cloned().collect() };
    let honoured = get(&mock, &target).await.json();
    assert_eq!(keys(&honoured), HashSet::from(["id".into(), "email".into(), "lastName".into()]));
    let one = get(&mock, &format!("/api/people/{}?%24select%5B%5D=email", ids[0])).await.json();
    assert_eq!(one.as_object().unwrap().len(), 2, "{one}");

    mock.set_behaviour(Behaviour { select: Select::Ignored, ..Behaviour::default() });
    let ignored = get(&mock, &target).await.json();
    let everything = get(&mock, "/api/people").await.json();
    assert_eq!(ignored, everything);
    assert!(keys(&ignored).len() > 20);

    mock.set_behaviour(Behaviour { select: Select::Refused, ..Behaviour::default() });
    let refused = get(&mock, &target).await;
    let body = assert_feathers_error(&refused, 400, "BadRequest", "bad-request");
    assert!(body["message"].as_str().unwrap().contains("$select"), "{body}");
    assert_eq!(get(&mock, "/api/people").await.json()["total"], 2, "without $select, lists still answer");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_feathers_errors() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    // (`/api/locations` is served since the places of work were added.)
    for path in ["/api/spaces", "/api/people/a/b", "/api", "/people", "/api/me/extra"] {
        let body = assert_feathers_error(&get(&mock, path).await, 404, "NotFound", "not-found");
        assert_eq!(body["message"], "Page not found");
    }
    // Unknown routes are 404 even without a token, as in Feathers.
    assert_eq!(send(mock.addr(), "GET", "/api/nothing", None).await.unwrap().status, 404);
    let body = assert_feathers_error(&get(&mock, "/api/people/doesnotexist").await, 404, "NotFound", "not-found");
    assert_eq!(body["message"], "No record found for id 'doesnotexist'");
    for (method, path) in [("POST", "/api/people"), ("PATCH", "/api/people/x"), ("DELETE", "/api/job-roles/x")] {
        let reply = send(mock.addr(), method, path, Some(&format!("Bearer {DEFAULT_TOKEN}"))).await.unwrap();
        assert_feathers_error(&reply, 405, "MethodNotAllowed", "method-not-allowed");
    }
}

#[tokio::test]
async fn scripted_faults() {
    let (mock, _) = mock_with_people(3).await;
    let control = mock.control();

    control.add_fault(FaultRule::new(
        Some("GET"),
        "/api/people",
        Fault::Status { status: 503, message: "Down for maintenance".into() },
        2,
    ));
    for _ in 0..2 {
        let body = assert_feathers_error(&get(&mock, "/api/people").await, 503, "Unavailable", "unavailable");
        assert_eq!(body["message"], "Down for maintenance");
    }
    assert_eq!(get(&mock, "/api/people").await.status, 200);

    control.add_fault(FaultRule::new(None, "/api/people", Fault::MalformedJson, 1));
    let broken = get(&mock, "/api/people").await;
    assert_eq!(broken.status, 200);
    assert!(serde_json::from_slice::<Value>(&broken.body).is_err());

    control.add_fault(FaultRule::new(None, "/api/", Fault::DropConnection, 1));
    assert!(send(mock.addr(), "GET", "/api/people", Some(&format!("Bearer {DEFAULT_TOKEN}"))).await.is_err());

    control.add_fault(FaultRule::new(None, "/api/job-roles", Fault::TooManyRequests { retry_after: Some(7) }, 1));
    // Faults match by path prefix: people requests are untouched.
    assert_eq!(get(&mock, "/api/people").await.status, 200);
    let limited = get(&mock, "/api/job-roles").await;
    assert_feathers_error(&limited, 429, "TooManyRequests", "too-many-requests");
    assert_eq!(limited.header("retry-after"), Some("7"));

    control.add_fault(FaultRule::new(
        None,
        "/api/people",
        Fault::Raw { status: 502, content_type: "text/html".into(), body: "<html>Bad gateway</html>".into() },
        1,
    ));
    let html = get(&mock, "/api/people").await;
    assert_eq!((html.status, html.header("content-type")), (502, Some("text/html")));

    control.add_fault(FaultRule::new(None, "/api/people", Fault::Delay(Duration::from_millis(20)), 1));
    assert_eq!(get(&mock, "/api/people").await.json()["total"], 3);

    let statuses: Vec<u16> = control.journal().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [503, 503, 200, 200, 0, 200, 429, 502, 200]);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let (mock, _) = mock_with_people(1).await;
    mock.control().set_rate_limit(Some(1), Some(3));
    let mut replies = Vec::new();
    for _ in 0..10 {
        replies.push(get(&mock, "/api/people").await);
    }
    assert_eq!(replies[0].status, 200, "the bucket starts full");
    let limited = replies.iter().find(|r| r.status == 429).expect("ten requests at once exceed 1 per second");
    assert_feathers_error(limited, 429, "TooManyRequests", "too-many-requests");
    assert_eq!(limited.header("retry-after"), Some("3"));
    mock.control().set_rate_limit(None, None);
    assert_eq!(get(&mock, "/api/people").await.status, 200);
}

#[tokio::test]
async fn journal_records_requests() {
    let (mock, ids) = mock_with_people(2).await;
    let control = mock.control();
    get(&mock, &url("/people", &[("email", "p1@acme.test")])).await;
    get(&mock, &format!("/api/people/{}", ids[0])).await;
    send(mock.addr(), "GET", "/api/people", None).await.unwrap();
    send(mock.addr(), "POST", "/api/people", Some(&format!("Bearer {DEFAULT_TOKEN}"))).await.unwrap();

    let journal = control.journal();
    assert_eq!(journal.len(), 4);
    assert_eq!((journal[0].method.as_str(), journal[0].path.as_str()), ("GET", "/api/people"));
    assert_eq!(journal[0].query, "email=p1%40acme.test");
    assert_eq!(journal[0].status, 200);
    assert_eq!(journal[1].path, format!("/api/people/{}", ids[0]));
    assert_eq!(journal[2].status, 401);
    assert_eq!((journal[3].status, journal[3].body.as_str()), (405, "{}"));
    assert_eq!((control.count("GET"), control.count("POST"), control.count("*")), (3, 1, 4));
    control.clear_journal();
    assert!(control.journal().is_empty());
}

#[tokio::test]
async fn state_changes_show_up_over_http() {
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    let id = mock.add_person(Person::new("Eve", "Early", "eve@acme.test"));
    let created = get(&mock, &format!("/api/people/{id}")).await.json();

    mock.update_person(&id, |p| p.email = "eve.early@acme.test".into());
    let updated = get(&mock, &format!("/api/people/{id}")).await.json();
    assert_eq!(updated["email"], "eve.early@acme.test");
    assert!(updated["updatedAt"].as_str() > created["updatedAt"].as_str());
    assert_eq!(updated["createdAt"], created["createdAt"]);

    mock.offboard(&id, "2025-03-31");
    let gone = get(&mock, &format!("/api/people/{id}")).await.json();
    assert_eq!(gone["status"], STATUS_OFFBOARDED);
    assert_eq!(
        (gone["lastWorkingDay"].as_str(), gone["employmentEndDate"].as_str()),
        (Some("2025-03-31"), Some("2025-03-31"))
    );

    // Adding a person with an existing id replaces them in place.
    let mut replacement = mock.person(&id).unwrap();
    replacement.first_name = "Evelyn".into();
    mock.add_person(replacement);
    let other = mock.add_person(Person::new("Zed", "Last", "zed@acme.test"));
    assert_eq!(mock.people().iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [id.clone(), other]);
    assert_eq!(get(&mock, "/api/people").await.json()["data"][0]["firstName"], "Evelyn");
}

#[tokio::test]
async fn seeds_round_trip() {
    let org = generate_org(60, 7, TODAY);
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    mock.add_person(Person::new("Left", "Over", "left@acme.test"));
    mock.load_seed(org.clone());
    assert_eq!(mock.seed(), org, "loading keeps order, ids and timestamps");
    assert_eq!(mock.company(), org.company);
    let served = get(&mock, &url("/people", &[("$limit", "250")])).await.json();
    assert_eq!(ids(&served), org.people.iter().map(|p| p.id.clone()).collect::<Vec<_>>());

    let json = serde_json::to_string(&org).unwrap();
    assert!(json.contains("\"jobRoles\""));
    let back: HumaansSeed = serde_json::from_str(&json).unwrap();
    assert_eq!(back, org);

    // Hand-written seeds may leave out ids, company ids and timestamps.
    let sparse: HumaansSeed = serde_json::from_value(serde_json::json!({
        "company": { "name": "Tiny" },
        "people": [{ "firstName": "Solo", "lastName": "Person", "email": "solo@tiny.test", "status": "active" }],
        "jobRoles": []
    }))
    .unwrap();
    mock.load_seed(sparse);
    let people = mock.people();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].id.len(), 24);
    assert_eq!(people[0].company_id, mock.company().id);
    assert!(!people[0].updated_at.is_empty());
}

/// Who each person reports to on `date`, from the roles in effect then.
fn managers_on(org: &HumaansSeed, date: &str) -> HashMap<String, Option<String>> {
    let mut managers = HashMap::new();
    for role in org.job_roles.iter().filter(|r| r.in_effect_on(date)) {
        assert!(
            managers.insert(role.person_id.clone(), role.reporting_to.clone()).is_none(),
            "two roles on {date} for {}",
            role.person_id
        );
    }
    managers
}

/// The length of each person's management chain, panicking on a cycle or a dangling manager.
fn chain_lengths(managers: &HashMap<String, Option<String>>) -> HashMap<String, usize> {
    managers
        .keys()
        .map(|start| {
            let mut seen = HashSet::from([start.clone()]);
            let mut at = start;
            while let Some(Some(next)) = managers.get(at) {
                assert!(managers.contains_key(next), "{at} reports to {next}, who has no role then");
                assert!(seen.insert(next.clone()), "reporting cycle through {next}");
                at = next;
            }
            (start.clone(), seen.len() - 1)
        })
        .collect()
}

#[test]
fn generated_org_is_realistic_and_consistent() {
    let org = generate_org(1000, 42, TODAY);
    assert_eq!(org.people.len(), 1000);
    let by_id: HashMap<&str, &Person> = org.people.iter().map(|p| (p.id.as_str(), p)).collect();
    assert_eq!(by_id.len(), 1000, "ids are unique");
    assert!(org.people.iter().all(|p| p.id.len() == 24 && p.id.chars().all(|c| c.is_ascii_alphanumeric())));
    assert!(org.people.iter().all(|p| p.company_id == org.company.id));

    let count = |status: &str| org.people.iter().filter(|p| p.status == status).count();
    assert!((40..=60).contains(&count(STATUS_NEW_HIRE)), "new hires: {}", count(STATUS_NEW_HIRE));
    assert!((40..=60).contains(&count(STATUS_OFFBOARDED)), "offboarded: {}", count(STATUS_OFFBOARDED));
    assert_eq!(count(STATUS_ACTIVE) + count(STATUS_NEW_HIRE) + count(STATUS_OFFBOARDED), 1000);
    for p in &org.people {
        let start = p.employment_start_date.as_deref().unwrap();
        match p.status.as_str() {
            STATUS_NEW_HIRE => assert!(start > TODAY, "{start}"),
            STATUS_OFFBOARDED => {
                let last = p.last_working_day.as_deref().unwrap();
                assert!(last < TODAY && last > start, "{start}..{last}");
            }
            _ => assert!(start <= TODAY, "{start}"),
        }
        assert!(
            p.created_at.as_str() <= "2025-06-16" && p.updated_at >= p.created_at,
            "{} {}",
            p.created_at,
            p.updated_at
        );
    }

    let mut emails = HashSet::new();
    for p in &org.people {
        let (local, domain) = p.email.split_once('@').unwrap();
        assert_eq!(domain, "acme.test");
        assert!(
            local.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{}",
            p.email
        );
        assert!(
            local.starts_with(&format!("{}.{}", ascii_fold(&p.first_name), ascii_fold(&p.last_name))),
            "{}",
            p.email
        );
        assert!(emails.insert(p.email.clone()), "duplicate {}", p.email);
    }
    assert!(org.people.iter().any(|p| !p.first_name.is_ascii()) && org.people.iter().any(|p| !p.last_name.is_ascii()));
    assert!(
        emails.iter().any(|e| e.split('@').next().unwrap().ends_with(|c: char| c.is_ascii_digit())),
        "some collisions get a number"
    );
    let timezones: HashSet<&str> = org.people.iter().map(|p| p.timezone.as_str()).collect();
    assert!(timezones.len() >= 5 && timezones.contains("Europe/London") && timezones.contains("Asia/Tokyo"));
    let contracts: HashSet<Option<&str>> = org.people.iter().map(|p| p.contract_type.as_deref()).collect();
    assert_eq!(contracts, HashSet::from([Some("Full time"), Some("Part time"), Some("Contractor")]));
    assert!(org.people.iter().all(|p| { p.phone_number.as_deref().is_some_and(|n| n.starts_with('+')) }));
    let employee_ids: Vec<&str> = org.people.iter().filter_map(|p| p.employee_id.as_deref()).collect();
    assert_eq!(employee_ids.iter().collect::<HashSet<_>>().len(), employee_ids.len());

    // Roles: every reportingTo exists; each person has exactly one role in effect today (new
    // hires: on their first day), and the chains on those dates have no cycles.
    for role in &org.job_roles {
        assert!(by_id.contains_key(role.person_id.as_str()));
        if let Some(manager) = &role.reporting_to {
            assert!(by_id.contains_key(manager.as_str()), "dangling reportingTo {manager}");
        }
        assert!(role.end_date.as_deref().is_none_or(|end| end >= role.effective_date.as_str()));
    }
    let today = managers_on(&org, TODAY);
    for p in &org.people {
        let has_role_today = today.contains_key(&p.id);
        assert_eq!(has_role_today, p.status != STATUS_NEW_HIRE, "{} ({})", p.id, p.status);
        if p.status == STATUS_NEW_HIRE {
            let first_day = p.employment_start_date.as_deref().unwrap();
            assert_eq!(org.job_roles.iter().filter(|r| r.person_id == p.id && r.in_effect_on(first_day)).count(), 1);
        }
    }
    let depth = chain_lengths(&today);
    let ceos: Vec<_> = today.iter().filter(|(_, m)| m.is_none()).collect();
    assert_eq!(ceos.len(), 1, "one person at the top");
    let deepest = depth.values().max().copied().unwrap();
    assert!((3..=4).contains(&deepest), "deepest chain {deepest}");
    for (person, manager) in &today {
        if by_id[person.as_str()].status == STATUS_ACTIVE
            && let Some(manager) = manager
        {
            assert_eq!(by_id[manager.as_str()].status, STATUS_ACTIVE, "active people report to active people");
        }
    }
    chain_lengths(&managers_on(&org, "2025-08-15"));
    chain_lengths(&managers_on(&org, "2022-01-01"));

    let departments: HashSet<&str> = org.job_roles.iter().filter_map(|r| r.department.as_deref()).collect();
    for d in ["Engineering", "Sales", "Marketing", "People", "Finance", "Product", "Customer Success"] {
        assert!(departments.contains(d), "{d}");
    }
    let promoted = org.job_roles.iter().filter(|r| r.end_date.as_deref().is_some_and(|e| e < TODAY)).count();
    let scheduled = org
        .job_roles
        .iter()
        .filter(|r| r.effective_date.as_str() > TODAY && by_id[r.person_id.as_str()].status == STATUS_ACTIVE)
        .count();
    assert!(promoted >= 50, "promotions: {promoted}");
    assert!(scheduled >= 3, "future-dated changes: {scheduled}");
}

#[test]
fn generated_org_is_deterministic_and_handles_small_sizes() {
    assert_eq!(generate_org(200, 1, TODAY), generate_org(200, 1, TODAY));
    assert_ne!(generate_org(200, 1, TODAY).people, generate_org(200, 2, TODAY).people);
    for n in [0, 1, 2, 5, 9, 20] {
        let org = generate_org(n, 3, TODAY);
        assert_eq!(org.people.len(), n);
        let today = managers_on(&org, TODAY);
        chain_lengths(&today);
        if n > 0 {
            assert_eq!(today.values().filter(|m| m.is_none()).count(), 1, "n = {n}");
        }
    }
}

#[test]
fn ascii_folding() {
    assert_eq!(ascii_fold("José"), "jose");
    assert_eq!(ascii_fold("Zoë"), "zoe");
    assert_eq!(ascii_fold("Łukasz"), "lukasz");
    assert_eq!(ascii_fold("Søren"), "soren");
    assert_eq!(ascii_fold("O'Brien"), "obrien");
    assert_eq!(ascii_fold("van der Berg"), "vanderberg");
    assert_eq!(ascii_fold("Smith-Jones"), "smith-jones");
    assert_eq!(ascii_fold("Straße"), "strasse");
    assert_eq!(ascii_fold("Yılmaz"), "yilmaz");
}

#[tokio::test]
async fn ten_thousand_people_page_through_quickly() {
    let org = generate_org(10_000, 99, TODAY);
    // A large organisation stays realistic: one more level rather than huge teams.
    let today = managers_on(&org, TODAY);
    let deepest = chain_lengths(&today).into_values().max().unwrap();
    assert!((4..=5).contains(&deepest), "deepest chain {deepest}");
    let mut team_sizes: HashMap<&str, usize> = HashMap::new();
    for manager in today.values().flatten() {
        *team_sizes.entry(manager.as_str()).or_default() += 1;
    }
    let largest = team_sizes.values().max().copied().unwrap();
    assert!(largest <= 20, "largest team {largest}");

    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    mock.load_seed(org.clone());

    let mut seen = Vec::new();
    loop {
        let page = get(&mock, &url("/people", &[("$limit", "250"), ("$skip", &seen.len().to_string())])).await.json();
        let batch = ids(&page);
        if batch.is_empty() {
            break;
        }
        seen.extend(batch);
    }
    assert_eq!(seen, org.people.iter().map(|p| p.id.clone()).collect::<Vec<_>>());

    let current = get(&mock, &url("/job-roles", &[("$asOf", TODAY), ("$limit", "0")])).await.json();
    let not_new = org.people.iter().filter(|p| p.status != STATUS_NEW_HIRE).count();
    assert_eq!(current["total"].as_u64(), Some(not_new as u64));
    let someone = &org.people[1234];
    let by_email = get(&mock, &url("/people", &[("email", &someone.email)])).await.json();
    assert_eq!(ids(&by_email), vec![someone.id.clone()]);
    let roles = get(&mock, &url("/job-roles", &[("personId", &someone.id)])).await.json();
    assert_eq!(
        roles["total"].as_u64(),
        Some(org.job_roles.iter().filter(|r| r.person_id == someone.id).count() as u64)
    );
}

/// Members per team name.
fn team_sizes(people: &[Person], only_active: bool) -> HashMap<String, usize> {
    let mut sizes = HashMap::new();
    for person in people.iter().filter(|p| !only_active || p.status == STATUS_ACTIVE) {
        for team in &person.teams {
            *sizes.entry(team.name.clone()).or_default() += 1;
        }
    }
    sizes
}

#[test]
fn generated_people_are_in_no_team_one_or_several_and_one_team_is_over_100() {
    for (n, seed) in [(BIG_TEAM_ABOVE + 1, 1), (BIG_TEAM_ABOVE + 1, 2), (160, 3), (400, 4), (1000, 42), (2600, 5)] {
        let org = generate_org(n, seed, TODAY);
        let in_teams = |k: usize| org.people.iter().filter(|p| p.teams.len() == k).count();
        assert!(in_teams(0) > 0 && in_teams(1) > 0, "n = {n}: {} in none, {} in one", in_teams(0), in_teams(1));
        assert!(org.people.iter().filter(|p| p.teams.len() >= 2).count() > 0, "n = {n}: nobody in several");
        for person in &org.people {
            let names: HashSet<&str> = person.teams.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names.len(), person.teams.len(), "a team twice on {}", person.email);
            // Contractors are in no team; everyone else is in at least one.
            assert_eq!(person.teams.is_empty(), person.contract_type.as_deref() == Some("Contractor"));
        }
        // Over 100 members who are active (and so have a Leapsome account to add).
        let active = team_sizes(&org.people, true);
        let (biggest, size) = active.iter().max_by_key(|(_, size)| **size).unwrap();
        assert_eq!(biggest, PROGRAMME_TEAM, "n = {n}");
        assert!(*size > 100, "n = {n}: biggest team {size}");
        assert!(active.len() >= 10, "n = {n}: {} teams", active.len());
    }
    let small = generate_org(60, 7, TODAY);
    assert!(team_sizes(&small.people, false).values().all(|&size| size < 60));
    assert!(small.people.iter().any(|p| p.teams.len() >= 2));
    assert!(small.people.iter().any(|p| p.teams.is_empty()));
    assert_eq!(
        generate_org(300, 9, TODAY).people.iter().map(|p| p.teams.clone()).collect::<Vec<_>>(),
        generate_org(300, 9, TODAY).people.iter().map(|p| p.teams.clone()).collect::<Vec<_>>()
    );
}

/// `OrgOptions::teams` (the bench's 500 teams at 10,000 people): exactly that many teams with an
/// active member, some people in none, some in several, the programme team over 100; every other
/// field as without it, and no option at all is `generate_org` itself.
#[test]
fn generated_people_spread_over_n_teams_on_request() {
    let plain = generate_org(10_000, 2026, TODAY);
    assert_eq!(generate_org_with(10_000, 2026, TODAY, &OrgOptions::default()), plain);
    let spread = generate_org_with(10_000, 2026, TODAY, &OrgOptions { teams: Some(500) });
    assert_eq!(spread.job_roles, plain.job_roles);
    assert_eq!(spread.people.len(), plain.people.len());
    for (a, b) in spread.people.iter().zip(&plain.people) {
        assert_eq!((&a.id, &a.email, &a.status), (&b.id, &b.email, &b.status));
        assert_eq!(a.teams.is_empty(), b.teams.is_empty(), "{}", a.email);
    }
    let active = team_sizes(&spread.people, true);
    assert_eq!(active.len(), 500, "teams with an active member");
    assert_eq!(team_sizes(&spread.people, false).len(), 500);
    let (biggest, size) = active.iter().max_by_key(|(_, size)| **size).unwrap();
    assert_eq!(biggest, PROGRAMME_TEAM);
    assert!(*size > 100, "{size}");
    // The squads share the rest evenly: 499 of them, about 20 active people each.
    assert!(
        active.iter().filter(|(name, _)| *name != PROGRAMME_TEAM).all(|(_, &n)| (10..=40).contains(&n)),
        "{active:?}"
    );
    let in_teams = |k: usize| spread.people.iter().filter(|p| p.teams.len() == k).count();
    assert!(in_teams(0) > 0 && in_teams(1) > 0 && in_teams(2) > 0 && in_teams(3) > 0);
    for person in &spread.people {
        let names: HashSet<&str> = person.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), person.teams.len(), "a team twice on {}", person.email);
    }
    assert_eq!(spread, generate_org_with(10_000, 2026, TODAY, &OrgOptions { teams: Some(500) }));
}

#[tokio::test]
async fn people_serve_their_teams_and_select_them() {
    let org = generate_org(200, 11, TODAY);
    let mock = MockHumaans::start(HumaansConfig::default()).await.unwrap();
    mock.load_seed(org.clone());
    let page = get(&mock, &url("/people", &[("$limit", "250")])).await.json();
    let served = page["data"].as_array().unwrap();
    assert_eq!(served.len(), 200);
    let names = |teams: &Value| -> Vec<String> {
        teams.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
    };
    for (json, person) in served.iter().zip(&org.people) {
        let expected: Vec<String> = person.teams.iter().map(|t| t.name.clone()).collect();
        assert_eq!(names(&json["teams"]), expected, "{}", person.email);
        assert!(json["teams"].as_array().unwrap().iter().all(|t| t.as_object().unwrap().len() == 1));
    }
    let several = org.people.iter().find(|p| p.teams.len() >= 2).unwrap();
    let one = get(&mock, &format!("/api/people/{}?%24select%5B%5D=teams", several.id)).await.json();
    let keys: HashSet<&str> = one.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["id", "teams"]));
    assert_eq!(names(&one["teams"]).len(), several.teams.len());
    let selected =
        get(&mock, &url("/people", &[("$select[]", "teams"), ("$select[]", "email"), ("$limit", "3")])).await.json();
    for (json, person) in selected["data"].as_array().unwrap().iter().zip(&org.people) {
        let keys: HashSet<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["id", "teams", "email"]));
        assert_eq!(names(&json["teams"]), person.teams.iter().map(|t| t.name.clone()).collect::<Vec<_>>());
    }
}
