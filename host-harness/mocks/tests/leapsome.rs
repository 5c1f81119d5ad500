//! The Leapsome mock over real HTTP on loopback: routing, auth, lists and filters, every write
//! style, manager references, deletion, configuration switches, faults and the rate limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mock_servers::leapsome::{EmailsWrite, FilterQuoting, LeapsomeConfig, MockLeapsome, PartialName};
use mock_servers::{Fault, FaultRule};
use serde_json::{Value, json};

const TOKEN: &str = "scim-test-token";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {} body is not JSON ({e}): {:?}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error with this status (and scimType, when given).
    fn assert_error(&self, status: u16, scim_type: Option<&str>) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["schemas"], json!([ERROR]), "{body}");
        assert_eq!(body["status"], json!(status.to_string()), "{body}");
        assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
        body
    }
}

/// A client for one mock: paths are relative to the server root.
#[derive(Clone)]
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    root: String,
    /// The raw `Authorization` header, if any.
    authorization: Option<String>,
    content_type: String,
}

impl Api {
    fn new(mock: &MockLeapsome) -> Api {
        Api {
            client: Client::builder(TokioExecutor::new()).build_http(),
            root: mock.base_url().trim_end_matches("/scim/v1").to_owned(),
            authorization: Some(format!("Bearer {TOKEN}")),
            content_type: "application/scim+json".into(),
        }
    }

    fn with_token(mut self, token: Option<&str>) -> Api {
        self.authorization = token.map(|t| format!("Bearer {t}"));
        self
    }

    async fn try_raw(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Reply, String> {
        let mut builder = hyper::Request::builder().method(method).uri(format!("{}{path}", self.root));
        if let Some(authorization) = &self.authorization {
            builder = builder.header("authorization", authorization.as_str());
        }
        if body.is_some() {
            builder = builder.header("content-type", self.content_type.as_str());
        }
        let request = builder.body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default()))).unwrap();
        let response = self.client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply { status, headers, body })
    }

    async fn raw(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        self.try_raw(method, path, body).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        self.raw(method, path, bytes.as_deref()).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    /// POSTs a user and returns the created resource, asserting 201.
    async fn create(&self, user: Value) -> Value {
        let reply = self.send("POST", "/scim/v1/Users", Some(user)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.json()
    }

    async fn patch_ops(&self, id: &str, operations: Value) -> Reply {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        self.send("PATCH", &format!("/scim/v1/Users/{id}"), Some(body)).await
    }

    /// `GET /scim/v1/Users?<query>` with the query percent-encoded here.
    async fn list(&self, query: &[(&str, &str)]) -> Reply {
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        self.get(&format!("/scim/v1/Users?{}", query.join("&"))).await
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn user(local: &str) -> Value {
    json!({"userName": format!("{local}@acme.test"), "name": {"givenName": local, "familyName": "Test"}})
}

async fn start(config: LeapsomeConfig) -> (MockLeapsome, Api) {
    let mock = MockLeapsome::start(config).await.expect("mock starts");
    let api = Api::new(&mock);
    (mock, api)
}

fn user_names(list: &Value) -> Vec<String> {
    list["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn both_mounts_serve_the_same_users_with_case_insensitive_resources() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    assert!(mock.base_url().starts_with("http://127.0.0.1:") && mock.base_url().ends_with("/scim/v1"));
    let created = api.create(user("ada")).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    for path in [format!("/scim/v1/Users/{id}"), format!("/api/scim/users/{id}"), format!("/api/scim/USERS/{id}/")] {
        let reply = api.get(&path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/scim+json"));
        assert_eq!(reply.json()["userName"], "ada@acme.test");
    }
    assert_eq!(user_names(&api.get("/api/scim/Users").await.json()), ["ada@acme.test"]);

    let mut plain_json = Api::new(&mock);
    plain_json.content_type = "application/json; charset=utf-8".into();
    plain_json.create(user("grace")).await;
    plain_json.content_type = "text/plain".into();
    let reply = plain_json.send("POST", "/api/scim/Users", Some(user("linus"))).await;
    reply.assert_error(415, None);

    api.get("/scim/v2/Users").await.assert_error(404, None);
    api.get("/scim/v1/Widgets").await.assert_error(404, None);
    api.send("DELETE", "/scim/v1/Users", None).await.assert_error(405, None);
}

#[tokio::test]
async fn missing_token_is_401_and_wrong_token_is_403_or_401_when_strict() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let anonymous = Api::new(&mock).with_token(None);
    for path in ["/scim/v1/Users", "/api/scim/ServiceProviderConfig"] {
        let reply = anonymous.get(path).await;
        reply.assert_error(401, None);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    Api::new(&mock).with_token(Some("nope")).get("/scim/v1/Users").await.assert_error(403, None);
    let mut basic = Api::new(&mock);
    basic.authorization = Some(format!("Basic {TOKEN}"));
    basic.get("/scim/v1/Users").await.assert_error(401, None);
    assert_eq!(api.get("/scim/v1/Users").await.status, 200);
    assert_eq!(mock.control().count("GET"), 5);

    let (strict, _) = start(LeapsomeConfig::rfc_strict()).await;
    Api::new(&strict).with_token(Some("nope")).get("/scim/v1/Users").await.assert_error(401, None);
    let (custom, _) = start(LeapsomeConfig { token: "other".into(), ..LeapsomeConfig::default() }).await;
    assert_eq!(Api::new(&custom).with_token(Some("other")).get("/scim/v1/Users").await.status, 200);
    Api::new(&custom).get("/scim/v1/Users").await.assert_error(403, None);
}

#[tokio::test]
async fn lists_page_from_one_in_creation_order_and_clamp_count() {
    let (_mock, api) = start(LeapsomeConfig { max_page_size: 4, ..LeapsomeConfig::default() }).await;
    let mut names = Vec::new();
    for i in 0..10 {
        names.push(api.create(user(&format!("u{i:02}"))).await["userName"].as_str().unwrap().to_owned());
    }
    let page = api.list(&[("startIndex", "1"), ("count", "3")]).await.json();
    assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(
        (page["totalResults"].clone(), page["itemsPerPage"].clone(), page["startIndex"].clone()),
        (json!(10), json!(3), json!(1))
    );
    assert_eq!(user_names(&page), names[0..3]);
    let page = api.list(&[("startIndex", "4"), ("count", "3")]).await.json();
    assert_eq!(user_names(&page), names[3..6]);

    // count above the maximum is clamped, and so is a missing count.
    for query in [&[("startIndex", "5"), ("count", "100")][..], &[("startIndex", "5")]] {
        let page = api.list(query).await.json();
        assert_eq!((page["itemsPerPage"].clone(), page["totalResults"].clone()), (json!(4), json!(10)));
        assert_eq!(user_names(&page), names[4..8]);
    }
    let tail = api.list(&[("startIndex", "9"), ("count", "4")]).await.json();
    assert_eq!(user_names(&tail), names[8..10]);
    let past = api.list(&[("startIndex", "11")]).await.json();
    assert_eq!((past["itemsPerPage"].clone(), past["totalResults"].clone()), (json!(0), json!(10)));
    let zero = api.list(&[("count", "0")]).await.json();
    assert_eq!((zero["Resources"].clone(), zero["totalResults"].clone()), (json!([]), json!(10)));
    let below_one = api.list(&[("startIndex", "0"), ("count", "2")]).await.json();
    assert_eq!((user_names(&below_one), below_one["startIndex"].clone()), (names[0..2].to_vec(), json!(1)));
    api.list(&[("count", "many")]).await.assert_error(400, Some("invalidValue"));
    api.list(&[("startIndex", "1.5")]).await.assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn user_name_filters_accept_quoted_unquoted_and_escaped_values() {
    let (_mock, api) = start(LeapsomeConfig::default()).await;
    api.create(json!({"userName": "Ada.Lovelace@acme.test", "externalId": "hu-1"})).await;
    api.create(json!({"userName": r#"o"neil\x@acme.test"#, "externalId": "hu-2"})).await;
    api.create(json!({"userName": "grace@acme.test", "externalId": "hu-1"})).await;

    for filter in [
        r#"userName eq "ada.lovelace@acme.test""#,
        "userName eq Ada.Lovelace@acme.test",
        r#"USERNAME EQ "ADA.LOVELACE@ACME.TEST""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada.lovelace@acme.test""#,
    ] {
        let list = api.list(&[("filter", filter)]).await.json();
        assert_eq!(user_names(&list), ["Ada.Lovelace@acme.test"], "{filter}");
        assert_eq!(list["totalResults"], 1);
    }
    let escaped = api.list(&[("filter", r#"userName eq "o\"neil\\x@acme.test""#)]).await.json();
    assert_eq!(user_names(&escaped), [r#"o"neil\x@acme.test"#]);
    let none = api.list(&[("filter", r#"userName eq "nobody@acme.test""#)]).await.json();
    assert_eq!((none["totalResults"].clone(), none["Resources"].clone()), (json!(0), json!([])));

    let by_external = api.list(&[("filter", r#"externalId eq "hu-1""#)]).await.json();
    assert_eq!(user_names(&by_external), ["Ada.Lovelace@acme.test", "grace@acme.test"]);
    assert_eq!(user_names(&api.list(&[("filter", "externalId eq hu-2")]).await.json()), [r#"o"neil\x@acme.test"#]);
    // externalId is case-exact (RFC 7643).
    assert_eq!(api.list(&[("filter", r#"externalId eq "HU-1""#)]).await.json()["totalResults"], 0);

    for bad in [
        r#"userName co "ada""#,
        r#"name.givenName eq "Ada""#,
        r#"userName eq "a" and active eq true"#,
        r#"userName eq "unterminated"#,
        "userName eq two words",
    ] {
        api.list(&[("filter", bad)]).await.assert_error(400, Some("invalidFilter"));
    }

    let (_m, no_external) = start(LeapsomeConfig { external_id_filter: false, ..LeapsomeConfig::default() }).await;
    no_external.list(&[("filter", "externalId eq x")]).await.assert_error(400, Some("invalidFilter"));
    let (_m, lenient) = start(LeapsomeConfig { unsupported_filter_ignored: true, ..LeapsomeConfig::default() }).await;
    lenient.create(user("one")).await;
    lenient.create(user("two")).await;
    assert_eq!(lenient.list(&[("filter", r#"title eq "x""#)]).await.json()["totalResults"], 2);
}

#[tokio::test]
async fn filter_quoting_and_refusal_switches() {
    const QUOTED: &str = r#"userName eq "ada@acme.test""#;
    const UNQUOTED: &str = "userName eq ada@acme.test";
    /// The userNames a filtered list answers; `None` for a 400 `invalidFilter`.
    async fn outcome(api: &Api, filter: &str) -> Option<Vec<String>> {
        let reply = api.list(&[("filter", filter)]).await;
        if reply.status == 200 {
            return Some(user_names(&reply.json()));
        }
        reply.assert_error(400, Some("invalidFilter"));
        None
    }
    let refused = None;
    let ada = Some(vec!["ada@acme.test".to_owned()]);
    let everyone = Some(vec!["ada@acme.test".to_owned(), "grace@acme.test".to_owned()]);

    // (config, quoted userName, unquoted userName, quoted externalId)
    let cases = [
        (LeapsomeConfig::default(), &ada, &ada, &ada),
        (LeapsomeConfig { filter_quoting: FilterQuoting::QuotedOnly, ..Default::default() }, &ada, &refused, &ada),
        (
            LeapsomeConfig { filter_quoting: FilterQuoting::UnquotedOnly, ..Default::default() },
            &refused,
            &ada,
            &refused,
        ),
        (LeapsomeConfig { filters_refused: true, ..Default::default() }, &refused, &refused, &refused),
        // An unsupported form is answered like any unsupported filter: ignored when so configured.
        (
            LeapsomeConfig {
                filter_quoting: FilterQuoting::UnquotedOnly,
                unsupported_filter_ignored: true,
                ..Default::default()
            },
            &everyone,
            &ada,
            &everyone,
        ),
        (
            LeapsomeConfig { filters_refused: true, unsupported_filter_ignored: true, ..Default::default() },
            &everyone,
            &everyone,
            &everyone,
        ),
    ];
    for (config, quoted, unquoted, external) in cases {
        let label = format!(
            "{:?} refused={} ignored={}",
            config.filter_quoting, config.filters_refused, config.unsupported_filter_ignored
        );
        let (mock, api) = start(config).await;
        let id = api.create(json!({"userName": "ada@acme.test", "externalId": "hu-1"})).await["id"].clone();
        api.create(user("grace")).await;
        assert_eq!(&outcome(&api, QUOTED).await, quoted, "{label}");
        assert_eq!(&outcome(&api, UNQUOTED).await, unquoted, "{label}");
        assert_eq!(&outcome(&api, r#"externalId eq "hu-1""#).await, external, "{label}");
        // Value filters inside PATCH paths are not list filters: they work in every variant.
        let id = id.as_str().unwrap();
        let reply = api
            .patch_ops(
                id,
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@acme.test"}]),
            )
            .await;
        assert_eq!(reply.status, 200, "{label}: {:?}", reply.body);
        // Without a filter the list is served as always.
        assert_eq!(api.list(&[("count", "5")]).await.json()["totalResults"], 2, "{label}");
        assert_eq!(mock.control().count("GET"), 4, "{label}");
    }
}

#[tokio::test]
async fn create_validates_user_name_domain_and_uniqueness() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let reply = api.send("POST", "/scim/v1/Users", Some(user("ada"))).await;
    assert_eq!(reply.status, 201);
    let created = reply.json();
    let id = created["id"].as_str().unwrap();
    assert_eq!(reply.header("location"), Some(format!("{}/Users/{id}", mock.base_url()).as_str()));
    assert_eq!(created["title"], "Colleague");
    assert_eq!(created["active"], true);
    assert_eq!(created["emails"], json!([{"value": "ada@acme.test", "type": "work", "primary": true}]));
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created["meta"]["location"], format!("{}/Users/{id}", mock.base_url()));
    assert!(created["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["groups"], json!([]));

    let post = |body: Value| api.send("POST", "/scim/v1/Users", Some(body));
    post(json!({"name": {"givenName": "x"}})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "  "})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": 7})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "ada@elsewhere.test"})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "ada"})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "@acme.test"})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "x@acme.test", "active": "maybe"})).await.assert_error(400, Some("invalidValue"));
    post(json!({"userName": "x@acme.test", "photos": [{"value": "not-a-url"}]}))
        .await
        .assert_error(400, Some("invalidValue"));
    post(json!(["not", "an", "object"])).await.assert_error(400, Some("invalidSyntax"));
    api.raw("POST", "/scim/v1/Users", Some(b"{nope")).await.assert_error(400, Some("invalidSyntax"));
    let duplicate = post(json!({"userName": "ADA@ACME.TEST"})).await.assert_error(409, Some("uniqueness"));
    assert_eq!(duplicate["detail"], "Username is already in use");
    assert_eq!(mock.users().len(), 1);

    let (_m, upper_domain) =
        start(LeapsomeConfig { email_domains: vec!["Acme.TEST".into(), "b.test".into()], ..Default::default() }).await;
    upper_domain.create(json!({"userName": "x@ACME.test"})).await;
    upper_domain.create(json!({"userName": "y@b.test"})).await;
    let (_m, any_domain) = start(LeapsomeConfig { email_domains: vec![], ..Default::default() }).await;
    any_domain.create(json!({"userName": "plain-name"})).await;

    let (other, api) = start(LeapsomeConfig { duplicate_returns_empty_201: true, ..Default::default() }).await;
    api.create(user("ada")).await;
    let again = api.send("POST", "/scim/v1/Users", Some(user("ada"))).await;
    assert_eq!((again.status, again.json()), (201, json!({})));
    assert_eq!(other.users().len(), 1);
}

#[tokio::test]
async fn get_falls_back_to_external_id_and_404s_in_scim_shape() {
    let (_mock, api) = start(LeapsomeConfig::default()).await;
    let created = api.create(json!({"userName": "ada@acme.test", "externalId": "hu-42"})).await;
    let by_external = api.get("/scim/v1/Users/hu-42").await;
    assert_eq!((by_external.status, by_external.json()["id"].clone()), (200, created["id"].clone()));
    let missing = api.get("/scim/v1/Users/5ecba01fb567a5d046582027").await.assert_error(404, None);
    assert_eq!(missing["detail"], "Resource not found");
    // The fallback is GET's alone: writes address users by id.
    api.send("PATCH", "/scim/v1/Users/hu-42", Some(json!({"title": "x"}))).await.assert_error(404, None);
}

#[tokio::test]
async fn put_replaces_the_whole_definition_but_keeps_active_unless_given() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let ada = api.create(json!({"userName": "ada@acme.test", "externalId": "e1", "title": "CTO", "displayName": "Ada", "active": false})).await;
    let id = ada["id"].as_str().unwrap();
    api.create(user("grace")).await;
    let path = format!("/scim/v1/Users/{id}");

    let reply =
        api.send("PUT", &path, Some(json!({"userName": "ada.l@acme.test", "name": {"givenName": "Ada"}}))).await;
    assert_eq!(reply.status, 200);
    let put = reply.json();
    assert_eq!(
        (put["userName"].clone(), put["title"].clone(), put["active"].clone()),
        (json!("ada.l@acme.test"), json!("Colleague"), json!(false))
    );
    assert!(put.get("externalId").is_none() && put.get("displayName").is_none(), "{put}");
    assert_eq!(put["emails"][0]["value"], "ada.l@acme.test");
    assert_eq!(put["meta"]["version"], "W/\"2\"");
    assert!(mock.user_by_username("ada@acme.test").is_none());
    assert_eq!(mock.user_by_username("ADA.L@acme.test").unwrap()["id"], id);

    let reactivated =
        api.send("PUT", &path, Some(json!({"userName": "ada.l@acme.test", "active": "True"}))).await.json();
    assert_eq!(reactivated["active"], true);
    let conflict = api
        .send("PUT", &path, Some(json!({"userName": "Grace@acme.test"})))
        .await
        .assert_error(409, Some("uniqueness"));
    assert_eq!(conflict["detail"], "Email address conflict");
    api.send("PUT", &path, Some(json!({"title": "no userName"}))).await.assert_error(400, Some("invalidValue"));
    api.send("PUT", &path, Some(json!({"userName": "ada@other.test"}))).await.assert_error(400, Some("invalidValue"));
    let missing =
        api.send("PUT", "/scim/v1/Users/000000000000000000000000", Some(user("x"))).await.assert_error(404, None);
    assert_eq!(missing["detail"], "User not found");
    // Echoing a GET back as the PUT body (Okta's GET-then-PUT) is accepted unchanged.
    let current = api.get(&path).await.json();
    let echoed = api.send("PUT", &path, Some(current.clone())).await.json();
    assert_eq!(
        (echoed["userName"].clone(), echoed["emails"].clone()),
        (current["userName"].clone(), current["emails"].clone())
    );
}

#[tokio::test]
async fn flat_patch_sets_clears_and_merges_nested_objects() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let ada = api
        .create(json!({
            "userName": "ada@acme.test", "displayName": "Ada", "title": "Engineer",
            "name": {"givenName": "Ada", "familyName": "Byron"},
            ENTERPRISE: {"department": "R&D", "level": "Senior"},
        }))
        .await;
    let id = ada["id"].as_str().unwrap();
    api.create(user("grace")).await;
    let path = format!("/scim/v1/Users/{id}");

    let reply = api
        .send(
            "PATCH",
            &path,
            Some(json!({
                "DisplayName": null, "title": "CTO", "active": false, "location": "Berlin",
                "name": {"familyName": "Lovelace"},
                ENTERPRISE: {"level": null, "costCenter": "CC-1", "startDate": "2024-02-29", "6140868326541a4da586db0b": "blue"},
            })),
        )
        .await;
    assert_eq!(reply.status, 200);
    let patched = reply.json();
    assert!(patched.get("displayName").is_none(), "{patched}");
    assert_eq!(
        (patched["title"].clone(), patched["active"].clone(), patched["location"].clone()),
        (json!("CTO"), json!(false), json!("Berlin"))
    );
    assert_eq!(patched["name"], json!({"givenName": "Ada", "familyName": "Lovelace"}));
    assert_eq!(
        patched[ENTERPRISE],
        json!({"department": "R&D", "costCenter": "CC-1", "startDate": "2024-02-29", "6140868326541a4da586db0b": "blue"})
    );
    assert_eq!(mock.stored(id).unwrap()["attributes"]["active"], false);

    let conflict = api
        .send("PATCH", &path, Some(json!({"userName": "grace@acme.test"})))
        .await
        .assert_error(409, Some("uniqueness"));
    assert_eq!(conflict["detail"], "Email address conflict");
    api.send("PATCH", &path, Some(json!({"userName": null}))).await.assert_error(400, Some("invalidValue"));
    api.send("PATCH", &path, Some(json!({ENTERPRISE: {"startDate": "2024-02-29T00:00:00Z"}})))
        .await
        .assert_error(400, Some("invalidValue"));
    api.send("PATCH", &path, Some(json!({"name": "Ada"}))).await.assert_error(400, Some("invalidValue"));
    api.send("PATCH", "/scim/v1/Users/000000000000000000000000", Some(json!({"title": "x"})))
        .await
        .assert_error(404, None);
    // Failed writes changed nothing.
    assert_eq!(api.get(&path).await.json()["userName"], "ada@acme.test");

    let (_m, loose_dates) = start(LeapsomeConfig { validate_dates: false, ..Default::default() }).await;
    let loose = loose_dates.create(json!({"userName": "a@acme.test", ENTERPRISE: {"startDate": "soon"}})).await;
    assert_eq!(loose[ENTERPRISE]["startDate"], "soon");
}

#[tokio::test]
async fn patch_op_handles_entra_and_okta_styles() {
    let (_mock, api) = start(LeapsomeConfig::default()).await;
    let id = api.create(user("ada")).await["id"].as_str().unwrap().to_owned();

    let reply = api
        .patch_ops(
            &id,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "name.givenName", "value": "Augusta"},
                {"op": "Replace", "path": "Title", "value": "Countess"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ada@acme.test"},
                {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Mathematics"},
                {"op": "add", "path": format!("{ENTERPRISE}:costCenter"), "value": "CC-9"},
            ]),
        )
        .await;
    assert_eq!(reply.status, 200);
    let user = reply.json();
    assert_eq!((user["active"].clone(), user["title"].clone()), (json!(false), json!("Countess")));
    assert_eq!(user["name"]["givenName"], "Augusta");
    assert_eq!(user[ENTERPRISE], json!({"department": "Mathematics", "costCenter": "CC-9"}));

    // Path-less replace with plain, dotted and full-URN keys (Entra with aadOptscim062020).
    let user = api
        .patch_ops(
            &id,
            json!([{"op": "replace", "value": {
                "active": "True",
                "name.familyName": "King",
                format!("{ENTERPRISE}:division"): "Analytics",
                ENTERPRISE: {"level": "Principal"},
                "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Ada King",
            }}]),
        )
        .await
        .json();
    assert_eq!((user["active"].clone(), user["displayName"].clone()), (json!(true), json!("Ada King")));
    assert_eq!(user["name"], json!({"givenName": "Augusta", "familyName": "King"}));
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "Mathematics", "costCenter": "CC-9", "division": "Analytics", "level": "Principal"})
    );

    // Okta's deactivation, then removals.
    let user = api.patch_ops(&id, json!([{"op": "replace", "value": {"active": false}}])).await.json();
    assert_eq!(user["active"], false);
    let user = api
        .patch_ops(
            &id,
            json!([
                {"op": "REMOVE", "path": format!("{ENTERPRISE}:costCenter")},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "displayName"},
            ]),
        )
        .await
        .json();
    assert_eq!(user[ENTERPRISE], json!({"department": "Mathematics", "division": "Analytics", "level": "Principal"}));
    assert_eq!(user["name"], json!({"familyName": "King"}));
    assert!(user.get("displayName").is_none());

    // A changed work email is what Leapsome shows as its one email.
    let user = api
        .patch_ops(
            &id,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada.king@acme.test"}]),
        )
        .await
        .json();
    assert_eq!(user["emails"], json!([{"value": "ada.king@acme.test", "type": "work", "primary": true}]));

    for (operations, scim_type) in [
        (json!([{"op": "move", "path": "title", "value": "x"}]), "invalidSyntax"),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "replace", "path": "title"}]), "invalidValue"),
        (json!([{"op": "replace", "path": "active.value", "value": true}]), "invalidPath"),
        (json!([{"op": "replace", "path": "emails[type co \"work\"].value", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "value": "not an object"}]), "invalidValue"),
        (json!({"op": "replace"}), "invalidSyntax"),
    ] {
        api.patch_ops(&id, operations.clone()).await.assert_error(400, Some(scim_type));
    }
    // Operations apply all or nothing.
    let reply = api
        .patch_ops(&id, json!([{"op": "replace", "path": "title", "value": "Changed"}, {"op": "replace", "path": "active", "value": 3}]))
        .await;
    reply.assert_error(400, Some("invalidValue"));
    assert_eq!(api.get(&format!("/scim/v1/Users/{id}")).await.json()["title"], "Countess");
}

#[tokio::test]
async fn patch_can_answer_204_without_a_body() {
    let (mock, api) = start(LeapsomeConfig { patch_returns_204: true, ..Default::default() }).await;
    let id = api.create(user("ada")).await["id"].as_str().unwrap().to_owned();
    let reply = api.patch_ops(&id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    assert_eq!(mock.user_by_username("ada@acme.test").unwrap()["active"], false);
}

#[tokio::test]
async fn strict_mode_is_an_rfc_server() {
    let (mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    let boss = api.create(json!({"userName": "boss@acme.test", "externalId": "b-1", "displayName": "The Boss"})).await;
    let boss_id = boss["id"].as_str().unwrap();
    assert!(boss.get("title").is_none(), "no Leapsome default title: {boss}");
    let id = api
        .create(json!({"userName": "ada@acme.test", "nickName": "Ada", "phoneNumbers": [{"value": "+1", "type": "work"}],
            "name": {"givenName": "Ada", "middleName": "K"}, ENTERPRISE: {"employeeNumber": "7", "organization": "Acme"}}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/scim/v1/Users/{id}");

    api.send("PATCH", &path, Some(json!({"title": "x"}))).await.assert_error(400, Some("invalidSyntax"));
    api.send("PATCH", &path, Some(json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]})))
        .await
        .assert_error(400, Some("invalidSyntax"));
    let manager_path = format!("{ENTERPRISE}:manager");
    api.patch_ops(&id, json!([{"op": "add", "path": manager_path, "value": boss_id}]))
        .await
        .assert_error(400, Some("invalidValue"));
    // RFC's manager.value is an id; emails and externalIds do not resolve.
    api.patch_ops(&id, json!([{"op": "add", "path": manager_path, "value": {"value": "b-1"}}]))
        .await
        .assert_error(400, Some("invalidValue"));
    api.patch_ops(&id, json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@home.test"}]))
        .await
        .assert_error(400, Some("noTarget"));
    let user =
        api.patch_ops(&id, json!([{"op": "add", "path": manager_path, "value": {"value": boss_id}}])).await.json();
    assert_eq!(
        user[ENTERPRISE]["manager"],
        json!({"value": boss_id, "$ref": format!("{}/Users/{boss_id}", mock.base_url()), "displayName": "The Boss"})
    );
    assert!(user.get("manager").is_none(), "{user}");
    assert_eq!((user["nickName"].clone(), user["name"]["middleName"].clone()), (json!("Ada"), json!("K")));
    assert_eq!(user["phoneNumbers"], json!([{"value": "+1", "type": "work"}]));
    assert_eq!(
        (user[ENTERPRISE]["employeeNumber"].clone(), user[ENTERPRISE]["organization"].clone()),
        (json!("7"), json!("Acme"))
    );
    assert_eq!(mock.manager_id_of(&id).as_deref(), Some(boss_id));
    let user = api
        .patch_ops(&id, json!([{"op": "replace", "path": format!("{manager_path}.value"), "value": ""}]))
        .await
        .json();
    assert!(user[ENTERPRISE].get("manager").is_none(), "{user}");
}

#[tokio::test]
async fn managers_resolve_by_id_email_or_external_id_and_read_back_in_leapsome_shape() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let boss = api.create(json!({"userName": "boss@acme.test", "externalId": "hu-boss", "name": {"givenName": "Big", "familyName": "Boss"}})).await;
    let boss_id = boss["id"].as_str().unwrap().to_owned();
    let deputy =
        api.create(json!({"userName": "deputy@acme.test", "externalId": "hu-dep", "displayName": "Deputy"})).await;
    let deputy_id = deputy["id"].as_str().unwrap().to_owned();
    let id = api.create(json!({"userName": "ada@acme.test", "manager": "BOSS@acme.test"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(mock.manager_id_of(&id), Some(boss_id.clone()));
    let path = format!("/scim/v1/Users/{id}");

    let leapsome_shape = |user: &Value, manager: &str, name: &str| {
        assert_eq!(user[ENTERPRISE]["manager"], json!({"managerId": manager, "displayName": name}), "{user}");
        assert_eq!(user["manager"], json!({"value": manager}), "{user}");
    };
    leapsome_shape(&api.get(&path).await.json(), &boss_id, "Big Boss");

    let writes = [
        json!({ENTERPRISE: {"manager": deputy_id}}),
        json!({ENTERPRISE: {"manager": "hu-boss"}}),
        json!({"manager": {"value": "deputy@acme.test"}}),
        json!({ENTERPRISE: {"manager": {"managerId": "hu-boss"}}}),
    ];
    for (write, (expected, name)) in
        writes.into_iter().zip([(&deputy_id, "Deputy"), (&boss_id, "Big Boss")].into_iter().cycle())
    {
        let user = api.send("PATCH", &path, Some(write.clone())).await.json();
        leapsome_shape(&user, expected, name);
    }
    let user = api
        .patch_ops(&id, json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": deputy_id}]))
        .await
        .json();
    leapsome_shape(&user, &deputy_id, "Deputy");

    let unknown = api
        .send("PATCH", &path, Some(json!({"manager": "ghost@acme.test"})))
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(unknown["detail"].as_str().unwrap().contains("ghost@acme.test"));
    api.send("POST", "/scim/v1/Users", Some(json!({"userName": "new@acme.test", "manager": "nobody"})))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(mock.manager_id_of(&id), Some(deputy_id.clone()));

    let user = api
        .send("PATCH", &path, Some(json!({ENTERPRISE: {"additionalManagers": "boss@acme.test, hu-dep"}})))
        .await
        .json();
    assert_eq!(
        user[ENTERPRISE]["additionalManagers"],
        json!([{"managerId": boss_id, "displayName": "Big Boss"}, {"managerId": deputy_id, "displayName": "Deputy"}])
    );
    let user = api.send("PATCH", &path, Some(json!({ENTERPRISE: {"additionalManagers": [boss_id]}}))).await.json();
    assert_eq!(user[ENTERPRISE]["additionalManagers"], json!([{"managerId": boss_id, "displayName": "Big Boss"}]));
    assert_eq!(mock.stored(&id).unwrap()["additionalManagerIds"], json!([boss_id]));

    let user = api.send("PATCH", &path, Some(json!({"manager": ""}))).await.json();
    assert!(user.get("manager").is_none() && user[ENTERPRISE].get("manager").is_none(), "{user}");
    api.send("PATCH", &path, Some(json!({"manager": boss_id}))).await;
    let user = api.send("PATCH", &path, Some(json!({ENTERPRISE: {"manager": null}}))).await.json();
    assert!(user.get("manager").is_none(), "{user}");
    assert_eq!(mock.manager_id_of(&id), None);

    let (ignoring, api) = start(LeapsomeConfig { unknown_manager_ignored: true, ..Default::default() }).await;
    let created = api.create(json!({"userName": "a@acme.test", "manager": "ghost@acme.test"})).await;
    assert!(created.get("manager").is_none(), "{created}");
    assert_eq!(ignoring.manager_id_of(created["id"].as_str().unwrap()), None);
}

#[tokio::test]
async fn attributes_outside_leapsomes_schema_are_dropped_unless_kept() {
    let body = json!({
        "userName": "ada@acme.test", "nickName": "Ada", "timezone": "Europe/Berlin", "userType": "Employee",
        "phoneNumbers": [{"value": "+49", "type": "work"}], "password": "secret", "roles": [],
        "name": {"givenName": "Ada", "middleName": "K", "familyName": "L"},
        ENTERPRISE: {"employeeNumber": "7", "organization": "Acme", "department": "R&D", "employmentType": "internal"},
    });
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let created = api.create(body.clone()).await;
    let id = created["id"].as_str().unwrap();
    for key in ["nickName", "timezone", "userType", "phoneNumbers", "password", "roles"] {
        assert!(created.get(key).is_none(), "{key} echoed: {created}");
        assert!(mock.stored(id).unwrap()["attributes"].get(key).is_none(), "{key} stored");
    }
    assert_eq!(created["name"], json!({"givenName": "Ada", "familyName": "L"}));
    assert_eq!(created[ENTERPRISE], json!({"department": "R&D"}));
    let patched =
        api.patch_ops(id, json!([{"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1"}])).await;
    assert_eq!(patched.status, 200);
    assert!(patched.json().get("phoneNumbers").is_none());

    let (mock, api) = start(LeapsomeConfig { keep_unknown_attributes: true, ..Default::default() }).await;
    let created = api.create(body).await;
    assert_eq!((created["nickName"].clone(), created["timezone"].clone()), (json!("Ada"), json!("Europe/Berlin")));
    assert_eq!(created["name"]["middleName"], "K");
    assert_eq!(created[ENTERPRISE]["employeeNumber"], "7");
    assert!(created.get("password").is_none(), "a password is never stored");
    let stored = mock.stored(created["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored["attributes"]["phoneNumbers"], json!([{"value": "+49", "type": "work"}]));
    assert_eq!(stored["removed"], false);
}

#[tokio::test]
async fn delete_removes_or_deactivates_and_deactivated_users_stay_listed() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let ada = api.create(user("ada")).await["id"].as_str().unwrap().to_owned();
    let grace = api.create(user("grace")).await["id"].as_str().unwrap().to_owned();
    api.patch_ops(&grace, json!([{"op": "replace", "path": "active", "value": false}])).await;

    let reply = api.send("DELETE", &format!("/scim/v1/Users/{ada}"), None).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    api.get(&format!("/scim/v1/Users/{ada}")).await.assert_error(404, None);
    api.send("DELETE", &format!("/scim/v1/Users/{ada}"), None).await.assert_error(404, None);
    let list = api.get("/scim/v1/Users").await.json();
    assert_eq!(user_names(&list), ["grace@acme.test"]);
    assert_eq!(list["Resources"][0]["active"], false);
    let filtered = api.list(&[("filter", "userName eq grace@acme.test")]).await.json();
    assert_eq!(filtered["Resources"][0]["active"], false);
    assert_eq!(mock.stored(&ada).unwrap()["removed"], true);
    assert!(mock.user_by_username("ada@acme.test").is_none());
    // A removed user's userName is free again.
    let again = api.create(user("ada")).await;
    assert_ne!(again["id"], json!(ada));

    let (mock, api) = start(LeapsomeConfig { delete_deactivates: true, ..Default::default() }).await;
    let ada = api.create(user("ada")).await["id"].as_str().unwrap().to_owned();
    assert_eq!(api.send("DELETE", &format!("/scim/v1/Users/{ada}"), None).await.status, 204);
    let got = api.get(&format!("/scim/v1/Users/{ada}")).await.json();
    assert_eq!(got["active"], false);
    assert_eq!(mock.users().len(), 1);
}

#[tokio::test]
async fn delete_status_answers_without_deleting() {
    for status in [404, 405, 501] {
        let (mock, api) = start(LeapsomeConfig { delete_status: Some(status), ..Default::default() }).await;
        let ada = api.create(user("ada")).await["id"].as_str().unwrap().to_owned();
        let reply = api.send("DELETE", &format!("/scim/v1/Users/{ada}"), None).await;
        reply.assert_error(status, None);
        assert_eq!(reply.header("allow"), (status == 405).then_some("GET, PUT, PATCH"), "{status}");
        // The user is untouched: still there, still active.
        let got = api.get(&format!("/scim/v1/Users/{ada}")).await;
        assert_eq!((got.status, got.json()["active"].clone()), (200, json!(true)), "{status}");
        assert_eq!(mock.stored(&ada).unwrap()["removed"], false);
        assert_eq!(mock.users().len(), 1);
        // An unknown id answers the same: the route itself is what is missing.
        api.send("DELETE", "/scim/v1/Users/000000000000000000000000", None).await.assert_error(status, None);
    }
}

#[tokio::test]
async fn partial_name_in_a_flat_patch_merges_replaces_or_is_rejected() {
    let partial = json!({"userName": "ada@acme.test", "name": {"givenName": "Augusta"}});
    let whole = json!({"userName": "ada@acme.test", "name": {"givenName": "Augusta", "familyName": "King"}});
    // (switch, name after the partial PATCH; None: refused)
    let cases = [
        (PartialName::Merge, Some(json!({"givenName": "Augusta", "familyName": "Lovelace"}))),
        (PartialName::ReplaceWhole, Some(json!({"givenName": "Augusta"}))),
        (PartialName::Reject, None),
    ];
    for (partial_name, after) in cases {
        let (_mock, api) = start(LeapsomeConfig { partial_name, ..Default::default() }).await;
        let created = api
            .create(json!({"userName": "ada@acme.test", "name": {"givenName": "Ada", "familyName": "Lovelace"}}))
            .await;
        let id = created["id"].as_str().unwrap();
        let path = format!("/scim/v1/Users/{id}");
        let reply = api.send("PATCH", &path, Some(partial.clone())).await;
        match &after {
            Some(name) => assert_eq!((reply.status, &reply.json()["name"]), (200, name), "{partial_name:?}"),
            None => {
                let body = reply.assert_error(400, Some("invalidValue"));
                assert!(body["detail"].as_str().unwrap().contains("familyName"), "{body}");
                assert_eq!(api.get(&path).await.json()["name"], created["name"], "a refused PATCH changed nothing");
            }
        }
        // Both parts, a PatchOp for one part, and a PUT behave the same under every switch.
        let reply = api.send("PATCH", &path, Some(whole.clone())).await;
        assert_eq!((reply.status, &reply.json()["name"]), (200, &whole["name"]), "{partial_name:?}");
        let reply = api.patch_ops(id, json!([{"op": "replace", "path": "name.givenName", "value": "Ada"}])).await;
        assert_eq!(reply.json()["name"], json!({"givenName": "Ada", "familyName": "King"}), "{partial_name:?}");
        let reply =
            api.send("PUT", &path, Some(json!({"userName": "ada@acme.test", "name": {"givenName": "A"}}))).await;
        assert_eq!((reply.status, &reply.json()["name"]), (200, &json!({"givenName": "A"})), "{partial_name:?}");
    }
}

#[tokio::test]
async fn emails_are_writable_ignored_or_rejected() {
    let home = json!([{"value": "ada@home.test", "type": "work", "primary": true}]);
    let derived = json!([{"value": "ada@acme.test", "type": "work", "primary": true}]);
    let with_emails = json!({"userName": "ada@acme.test", "emails": home});

    let (_mock, api) = start(LeapsomeConfig::default()).await;
    assert_eq!(api.create(with_emails.clone()).await["emails"], home, "stored as sent by default");

    let (mock, api) = start(LeapsomeConfig { emails_write: EmailsWrite::IgnoredReadOnly, ..Default::default() }).await;
    let created = api.create(with_emails.clone()).await;
    assert_eq!(created["emails"], derived);
    let id = created["id"].as_str().unwrap();
    let path = format!("/scim/v1/Users/{id}");
    let reply =
        api.send("PATCH", &path, Some(json!({"userName": "ada@acme.test", "emails": home, "title": "CTO"}))).await;
    assert_eq!((reply.status, &reply.json()["emails"], &reply.json()["title"]), (200, &derived, &json!("CTO")));
    let reply = api.patch_ops(id, json!([{"op": "replace", "path": "emails", "value": home}])).await;
    assert_eq!((reply.status, &reply.json()["emails"]), (200, &derived));
    // Renamed: the email follows userName.
    let reply = api.send("PATCH", &path, Some(json!({"userName": "ada.king@acme.test"}))).await;
    assert_eq!(reply.json()["emails"][0]["value"], "ada.king@acme.test");
    assert!(mock.stored(id).unwrap()["attributes"].get("emails").is_none());

    let (mock, api) = start(LeapsomeConfig { emails_write: EmailsWrite::Rejected, ..Default::default() }).await;
    let body =
        api.send("POST", "/scim/v1/Users", Some(with_emails.clone())).await.assert_error(400, Some("mutability"));
    assert!(body["detail"].as_str().unwrap().contains("emails"), "{body}");
    assert!(mock.users().is_empty(), "a refused POST created nothing");
    let created = api.create(json!({"userName": "ada@acme.test", "title": "Engineer"})).await;
    assert_eq!(created["emails"], derived);
    let id = created["id"].as_str().unwrap();
    let path = format!("/scim/v1/Users/{id}");
    api.send("PATCH", &path, Some(json!({"userName": "ada@acme.test", "emails": home, "title": "CTO"})))
        .await
        .assert_error(400, Some("mutability"));
    api.patch_ops(id, json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@acme.test"}]))
        .await
        .assert_error(400, Some("mutability"));
    api.patch_ops(id, json!([{"op": "remove", "path": "emails"}])).await.assert_error(400, Some("mutability"));
    api.send("PUT", &path, Some(with_emails)).await.assert_error(400, Some("mutability"));
    assert_eq!(api.get(&path).await.json()["title"], "Engineer", "refused writes changed nothing");
}

#[tokio::test]
async fn service_provider_config_in_leapsome_and_rfc_shapes() {
    let (_mock, api) = start(LeapsomeConfig { max_page_size: 100, ..Default::default() }).await;
    let spc = api.get("/scim/v1/ServiceProviderConfig").await.json();
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 100}));
    for unsupported in ["bulk", "sort", "etag", "changePassword"] {
        assert_eq!(spc[unsupported]["supported"], false, "{unsupported}");
    }
    assert!(spc["documentationUrl"].is_string() && spc.get("documentationUri").is_none());
    assert!(spc["authenticationSchemes"].is_object() && spc["authenticationSchemes"]["specUrl"].is_string());

    let (_mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    let spc = api.get("/api/scim/serviceproviderconfig").await.json();
    assert!(spc["documentationUri"].is_string() && spc.get("documentationUrl").is_none());
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(spc["filter"]["maxResults"], 5000);
}

#[tokio::test]
async fn faults_answer_as_scripted_and_then_stop() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let control = mock.control();
    control.add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Users",
        Fault::Status { status: 503, message: "down".into() },
        1,
    ));
    api.send("POST", "/scim/v1/Users", Some(user("ada"))).await.assert_error(503, None);
    api.create(user("ada")).await;

    control.add_fault(FaultRule::new(Some("GET"), "/scim/v1/Users", Fault::MalformedJson, 1));
    let broken = api.get("/scim/v1/Users").await;
    assert_eq!(broken.status, 200);
    assert!(serde_json::from_slice::<Value>(&broken.body).is_err());

    control.add_fault(FaultRule::new(None, "/scim/v1/Users", Fault::TooManyRequests { retry_after: Some(7) }, 2));
    for _ in 0..2 {
        let limited = api.get("/scim/v1/Users").await;
        limited.assert_error(429, None);
        assert_eq!(limited.header("retry-after"), Some("7"));
    }

    control.add_fault(FaultRule::new(Some("GET"), "/api/scim", Fault::DropConnection, 1));
    let dropped = Api::new(&mock).try_raw("GET", "/api/scim/Users", None).await;
    assert!(dropped.is_err(), "the connection should have been dropped");
    assert_eq!(api.get("/api/scim/Users").await.status, 200);

    let journal = control.journal();
    let statuses: Vec<(&str, &str, u16)> =
        journal.iter().map(|e| (e.method.as_str(), e.path.as_str(), e.status)).collect();
    assert_eq!(
        statuses,
        [
            ("POST", "/scim/v1/Users", 503),
            ("POST", "/scim/v1/Users", 201),
            ("GET", "/scim/v1/Users", 200),
            ("GET", "/scim/v1/Users", 429),
            ("GET", "/scim/v1/Users", 429),
            ("GET", "/api/scim/Users", 0),
            ("GET", "/api/scim/Users", 200),
        ]
    );
    assert_eq!(serde_json::from_str::<Value>(&journal[1].body).unwrap(), user("ada"));
    api.list(&[("filter", "userName eq \"ada@acme.test\""), ("count", "1")]).await;
    let last = control.journal().pop().unwrap();
    assert_eq!((last.query.as_str(), last.body.as_str()), ("filter=userName%20eq%20%22ada@acme.test%22&count=1", ""));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    mock.control().set_rate_limit(Some(30), Some(1));
    let (mut ok, mut limited) = (0, 0);
    // The bucket holds 30 and refills 30 a second; 100 requests sent at once outrun it.
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let api = api.clone();
        requests.spawn(async move { api.get("/scim/v1/Users?count=1").await });
    }
    while let Some(reply) = requests.join_next().await {
        let reply = reply.expect("request task");
        match reply.status {
            200 => ok += 1,
            429 => {
                reply.assert_error(429, None);
                assert_eq!(reply.header("retry-after"), Some("1"));
                limited += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 30 && limited > 0, "ok {ok}, limited {limited}");
    mock.control().set_rate_limit(None, None);
    assert_eq!(api.get("/scim/v1/Users").await.status, 200);
}

#[tokio::test]
async fn seeded_users_are_visible_and_conflict_with_posts() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let boss = mock.seed_user(json!({"userName": "boss@legacy.test", "externalId": "old-1"}));
    let fixed = mock.seed_user(
        json!({"id": "5ecba01fb567a5d046582027", "userName": "jit@acme.test", "manager": "old-1", "active": false}),
    );
    assert_eq!(fixed, "5ecba01fb567a5d046582027");
    assert_eq!(mock.manager_id_of(&fixed), Some(boss.clone()));
    assert_eq!(mock.user_by_external_id("old-1").unwrap()["id"], json!(boss));
    assert_eq!(mock.user_by_username("JIT@acme.test").unwrap()["active"], false);
    assert!(mock.user_by_external_id("nope").is_none() && mock.stored("nope").is_none());
    let names: Vec<Value> = mock.users().iter().map(|u| u["userName"].clone()).collect();
    assert_eq!(names, [json!("boss@legacy.test"), json!("jit@acme.test")]);
    api.send("POST", "/scim/v1/Users", Some(json!({"userName": "jit@acme.test"})))
        .await
        .assert_error(409, Some("uniqueness"));
    let duplicate = std::panic::AssertUnwindSafe(|| mock.seed_user(json!({"userName": "Boss@legacy.test"})));
    assert!(std::panic::catch_unwind(duplicate).is_err());
}

#[tokio::test]
async fn ten_thousand_users_page_and_filter() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    for i in 0..10_000 {
        mock.seed_user(json!({"userName": format!("user{i:05}@acme.test"), "externalId": format!("hu-{i}")}));
    }
    let page = api.list(&[("startIndex", "9991"), ("count", "5000")]).await.json();
    assert_eq!((page["totalResults"].clone(), page["itemsPerPage"].clone()), (json!(10_000), json!(10)));
    assert_eq!(page["Resources"][9]["userName"], "user09999@acme.test");
    let first = api.list(&[("count", "6000")]).await.json();
    assert_eq!(first["itemsPerPage"], 5000);
    let found = api.list(&[("filter", "externalId eq \"hu-7777\"")]).await.json();
    assert_eq!(user_names(&found), ["user07777@acme.test"]);
}

// Teams (SCIM Groups, reference §2.6).

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

impl Api {
    /// POSTs a group and returns the created resource, asserting 201.
    async fn create_group(&self, group: Value) -> Value {
        let reply = self.send("POST", "/scim/v1/Groups", Some(group)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.json()
    }

    async fn patch_group(&self, id: &str, body: Value) -> Reply {
        self.send("PATCH", &format!("/scim/v1/Groups/{id}"), Some(body)).await
    }

    async fn group_ops(&self, id: &str, operations: Value) -> Reply {
        self.patch_group(id, json!({"schemas": [PATCH_OP], "Operations": operations})).await
    }

    /// `GET /scim/v1/Groups?<query>` with the query percent-encoded here.
    async fn list_groups(&self, query: &[(&str, &str)]) -> Reply {
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        self.get(&format!("/scim/v1/Groups?{}", query.join("&"))).await
    }
}

/// Seeds `n` users `u0..` and returns their ids.
fn seed_users(mock: &MockLeapsome, n: usize) -> Vec<String> {
    (0..n).map(|i| mock.seed_user(user(&format!("u{i}")))).collect()
}

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

fn display_names(list: &Value) -> Vec<String> {
    list["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_owned()).collect()
}

fn member_values(group: &Value) -> Vec<String> {
    group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn groups_are_created_and_read_back_without_members() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let ids = seed_users(&mock, 2);
    assert_eq!(api.clone().with_token(None).get("/scim/v1/Groups").await.status, 401);

    let reply = api
        .send(
            "POST",
            "/scim/v1/Groups",
            Some(json!({"displayName": "Platform", "externalId": "hu-platform", "members": members(&ids)})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let created = reply.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(reply.header("location"), Some(format!("{}/Groups/{id}", mock.base_url()).as_str()));
    assert_eq!(created["schemas"], json!([GROUP]));
    assert_eq!(created["displayName"], "Platform");
    assert_eq!(created["externalId"], "hu-platform");
    assert_eq!(created["members"], json!([]));
    assert_eq!(created["meta"]["resourceType"], "Group");
    assert_eq!(created["meta"]["location"], format!("{}/Groups/{id}", mock.base_url()));
    // SPEC's GroupDefinition has no members: a POST's members are dropped like unknown attributes.
    assert_eq!(mock.group_members(&id), Some(vec![]));

    for path in
        [format!("/scim/v1/Groups/{id}"), format!("/api/scim/groups/{id}"), "/scim/v1/Groups/hu-platform".into()]
    {
        let got = api.get(&path).await;
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(got.json(), created, "{path}");
    }
    api.get("/scim/v1/Groups/5ecba01fb567a5d046582027").await.assert_error(404, None);
    assert_eq!(mock.group_id("Platform"), Some(id.clone()));
    assert_eq!(mock.groups().len(), 1);
}

#[tokio::test]
async fn duplicate_group_names_are_409_exactly_or_case_insensitively() {
    let (_mock, api) = start(LeapsomeConfig::default()).await;
    let first = api.create_group(json!({"displayName": "Growth"})).await;
    let conflict = api.send("POST", "/scim/v1/Groups", Some(json!({"displayName": "Growth"}))).await;
    let body = conflict.assert_error(409, Some("uniqueness"));
    assert_eq!(body["detail"], "The displayName is already in use within the organization");
    // Leapsome compares names as spelled (the default); another case is another team.
    let other = api.create_group(json!({"displayName": "growth"})).await;
    api.patch_group(other["id"].as_str().unwrap(), json!({"displayName": "Growth"}))
        .await
        .assert_error(409, Some("uniqueness"));
    // Renaming a team to its own name is no conflict.
    let same = api.patch_group(first["id"].as_str().unwrap(), json!({"displayName": "Growth"})).await;
    assert_eq!(same.status, 200);

    let (_mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    api.create_group(json!({"displayName": "Growth"})).await;
    api.send("POST", "/scim/v1/Groups", Some(json!({"displayName": "GROWTH"})))
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn group_names_over_128_characters_are_refused() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let longest = "é".repeat(128);
    let created = api.create_group(json!({"displayName": longest})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let too_long = "x".repeat(129);
    let body = api
        .send("POST", "/scim/v1/Groups", Some(json!({"displayName": too_long})))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(body["detail"], "The displayName field exceeds 128 characters");
    api.patch_group(&id, json!({"displayName": too_long})).await.assert_error(400, Some("invalidValue"));
    api.group_ops(&id, json!([{"op": "replace", "path": "displayName", "value": too_long}]))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(api.get(&format!("/scim/v1/Groups/{id}")).await.json()["displayName"], json!(longest));
    for bad in [json!({}), json!({"displayName": "  "}), json!({"displayName": 7})] {
        api.send("POST", "/scim/v1/Groups", Some(bad)).await.assert_error(400, Some("invalidValue"));
    }
    assert_eq!(mock.groups().len(), 1);
}

#[tokio::test]
async fn flat_patch_adds_members_or_replaces_them_and_get_never_shows_them() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let u = seed_users(&mock, 5);
    let id = api.create_group(json!({"displayName": "Payments"})).await["id"].as_str().unwrap().to_owned();

    let added = api.patch_group(&id, json!({"members": members(&u[0..2])})).await;
    assert_eq!(added.status, 200);
    assert_eq!(added.json()["members"], json!([]));
    assert_eq!(mock.group_members(&id).unwrap(), u[0..2]);
    // replaceMembers false adds; a member sent again is not added twice.
    api.patch_group(&id, json!({"replaceMembers": false, "members": members(&u[1..3])})).await;
    assert_eq!(mock.group_members(&id).unwrap(), u[0..3]);
    let got = api.get(&format!("/scim/v1/Groups/{id}")).await.json();
    assert_eq!(got["members"], json!([]));
    assert_eq!(display_names(&api.list_groups(&[]).await.json()), ["Payments"]);
    assert_eq!(api.list_groups(&[]).await.json()["Resources"][0]["members"], json!([]));

    // replaceMembers true: the list sent is the whole membership afterwards.
    api.patch_group(&id, json!({"replaceMembers": true, "members": members(&u[3..5])})).await;
    assert_eq!(mock.group_members(&id).unwrap(), u[3..5]);
    // A name and externalId change leave the members alone.
    api.patch_group(&id, json!({"displayName": "Payments Team", "externalId": "hu-pay"})).await;
    assert_eq!(mock.group_members(&id).unwrap(), u[3..5]);
    assert_eq!(api.get("/scim/v1/Groups/hu-pay").await.json()["displayName"], "Payments Team");

    // An id that is no Leapsome user fails the whole write.
    let unknown = json!([{"value": u[0]}, {"value": "5ecba01fb567a5d046582027"}]);
    api.patch_group(&id, json!({"members": unknown})).await.assert_error(400, Some("invalidValue"));
    assert_eq!(mock.group_members(&id).unwrap(), u[3..5]);
    api.patch_group(&id, json!({"replaceMembers": "yes"})).await.assert_error(400, Some("invalidValue"));
    api.patch_group("5ecba01fb567a5d046582027", json!({"members": []})).await.assert_error(404, None);

    api.patch_group(&id, json!({"replaceMembers": true})).await;
    assert_eq!(mock.group_members(&id).unwrap(), Vec::<String>::new());

    let (mock, api) =
        start(LeapsomeConfig { unknown_member_ignored: true, patch_returns_204: true, ..Default::default() }).await;
    let u = seed_users(&mock, 1);
    let id = api.create_group(json!({"displayName": "Payments"})).await["id"].as_str().unwrap().to_owned();
    let reply =
        api.patch_group(&id, json!({"members": [{"value": u[0]}, {"value": "5ecba01fb567a5d046582027"}]})).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    assert_eq!(mock.group_members(&id).unwrap(), u);
}

#[tokio::test]
async fn a_team_write_carries_at_most_100_members() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let u = seed_users(&mock, 150);
    let id = api.create_group(json!({"displayName": "Everyone"})).await["id"].as_str().unwrap().to_owned();

    let body =
        api.patch_group(&id, json!({"members": members(&u[0..101])})).await.assert_error(400, Some("invalidValue"));
    assert_eq!(body["detail"], "The members array exceeds 100 elements");
    assert_eq!(mock.group_members(&id).unwrap().len(), 0);
    assert_eq!(api.patch_group(&id, json!({"members": members(&u[0..100])})).await.status, 200);
    assert_eq!(api.patch_group(&id, json!({"members": members(&u[100..150])})).await.status, 200);
    assert_eq!(mock.group_members(&id).unwrap(), u);
    api.patch_group(&id, json!({"replaceMembers": true, "members": members(&u[0..101])}))
        .await
        .assert_error(400, Some("invalidValue"));
    // In a PatchOp the cap counts every operation's members together.
    api.group_ops(
        &id,
        json!([{"op": "remove", "path": "members", "value": members(&u[0..60])},
               {"op": "add", "path": "members", "value": members(&u[60..101])}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(mock.group_members(&id).unwrap(), u);

    // Seeding by hand has no per-request cap.
    let seeded = mock.seed_group(json!({"displayName": "Seeded", "members": members(&u)}));
    assert_eq!(mock.group_members(&seeded).unwrap().len(), 150);
}

#[tokio::test]
async fn patch_op_adds_and_removes_members_and_get_returns_them_in_rfc_mode() {
    let (mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    let u = seed_users(&mock, 4);
    let created = api.create_group(json!({"displayName": "Data", "members": members(&u[0..1])})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(member_values(&created), u[0..1]);
    assert_eq!(created["members"][0]["$ref"], format!("{}/Users/{}", mock.base_url(), u[0]));

    let get_members =
        |api: Api, id: String| async move { member_values(&api.get(&format!("/scim/v1/Groups/{id}")).await.json()) };
    let reply = api.group_ops(&id, json!([{"op": "Add", "path": "members", "value": members(&u[1..4])}])).await;
    assert_eq!(reply.status, 200);
    assert_eq!(member_values(&reply.json()), u);
    assert_eq!(get_members(api.clone(), id.clone()).await, u);

    // Okta and Entra (with aadOptscim062020) remove by a value filter.
    let path = format!("members[value eq \"{}\"]", u[1]);
    api.group_ops(&id, json!([{"op": "remove", "path": path}])).await;
    assert_eq!(get_members(api.clone(), id.clone()).await, [u[0].clone(), u[2].clone(), u[3].clone()]);
    // Entra without the flag names the members in the value.
    api.group_ops(&id, json!([{"op": "Remove", "path": "members", "value": [{"value": u[0]}]}])).await;
    assert_eq!(get_members(api.clone(), id.clone()).await, u[2..4]);
    api.group_ops(&id, json!([{"op": "replace", "path": "members", "value": members(&u[0..2])}])).await;
    assert_eq!(get_members(api.clone(), id.clone()).await, u[0..2]);
    // Okta's path-less replace with {id, displayName} on every membership update.
    api.group_ops(&id, json!([{"op": "replace", "value": {"id": id, "displayName": "Data Platform"}}])).await;
    let got = api.get(&format!("/scim/v1/Groups/{id}?excludedAttributes=members")).await.json();
    assert_eq!(got["displayName"], "Data Platform");
    assert!(got.get("members").is_none(), "{got}");
    api.group_ops(&id, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(mock.group_members(&id), Some(vec![]));

    api.group_ops(&id, json!([{"op": "remove", "path": "members[display eq \"x\"]"}]))
        .await
        .assert_error(400, Some("invalidFilter"));
    api.group_ops(&id, json!([{"op": "add", "path": "owners", "value": []}]))
        .await
        .assert_error(400, Some("invalidPath"));
    // Strict mode takes PatchOp only.
    api.patch_group(&id, json!({"members": members(&u)})).await.assert_error(400, Some("invalidSyntax"));
    assert_eq!(mock.group_members(&id), Some(vec![]));
}

#[tokio::test]
async fn leapsome_mode_takes_patch_op_too_unless_switched_off() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let u = seed_users(&mock, 2);
    let id = api.create_group(json!({"displayName": "Mobile"})).await["id"].as_str().unwrap().to_owned();
    let reply = api.group_ops(&id, json!([{"op": "add", "path": "members", "value": members(&u)}])).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["members"], json!([]));
    api.group_ops(&id, json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])}])).await;
    assert_eq!(mock.group_members(&id).unwrap(), u[1..2]);

    let (mock, api) = start(LeapsomeConfig { group_patch_op: false, ..Default::default() }).await;
    let u = seed_users(&mock, 1);
    let id = api.create_group(json!({"displayName": "Mobile"})).await["id"].as_str().unwrap().to_owned();
    api.group_ops(&id, json!([{"op": "add", "path": "members", "value": members(&u)}]))
        .await
        .assert_error(400, Some("invalidSyntax"));
    assert_eq!(mock.group_members(&id), Some(vec![]));
}

#[tokio::test]
async fn groups_page_at_1000_and_filter_by_display_name_only() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    for i in 0..2_500 {
        mock.seed_group(json!({"displayName": format!("Team {i:04}"), "externalId": format!("t{i}")}));
    }
    let first = api.list_groups(&[]).await.json();
    assert_eq!((first["totalResults"].as_u64(), first["itemsPerPage"].as_u64()), (Some(2_500), Some(1_000)));
    assert_eq!(first["startIndex"], 1);
    assert_eq!(first["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(display_names(&first)[999], "Team 0999");
    let second = api.list_groups(&[("startIndex", "1001"), ("count", "5000")]).await.json();
    assert_eq!(second["itemsPerPage"], 1_000);
    assert_eq!(display_names(&second)[0], "Team 1000");
    let last = api.list_groups(&[("startIndex", "2001"), ("count", "1000")]).await.json();
    assert_eq!((last["itemsPerPage"].as_u64(), display_names(&last)[499].as_str()), (Some(500), "Team 2499"));
    assert_eq!(
        display_names(&api.list_groups(&[("startIndex", "3"), ("count", "2")]).await.json()),
        ["Team 0002", "Team 0003"]
    );

    for filter in [
        "displayName eq \"Team 0042\"",
        "DISPLAYNAME eq \"Team 0042\"",
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"Team 0042\"",
    ] {
        let found = api.list_groups(&[("filter", filter)]).await.json();
        assert_eq!(
            (found["totalResults"].as_u64(), display_names(&found)),
            (Some(1), vec!["Team 0042".to_owned()]),
            "{filter}"
        );
    }
    mock.seed_group(json!({"displayName": "Solo"}));
    assert_eq!(display_names(&api.list_groups(&[("filter", "displayName eq Solo")]).await.json()), ["Solo"]);
    let none = api.list_groups(&[("filter", "displayName eq \"team 0042\"")]).await.json();
    assert_eq!((none["totalResults"].as_u64(), none["Resources"].as_array().unwrap().len()), (Some(0), 0));
    for refused in [
        "externalId eq \"t42\"",
        "displayName co \"Team\"",
        "id eq \"x\"",
        "displayName eq \"a\" and displayName eq \"b\"",
    ] {
        let body = api.list_groups(&[("filter", refused)]).await.assert_error(400, Some("invalidFilter"));
        assert!(body["detail"].as_str().unwrap().ends_with("only displayName eq is supported"), "{body}");
    }

    let (mock, api) = start(LeapsomeConfig { unsupported_filter_ignored: true, ..LeapsomeConfig::rfc_strict() }).await;
    mock.seed_group(json!({"displayName": "Alpha"}));
    mock.seed_group(json!({"displayName": "Beta"}));
    assert_eq!(display_names(&api.list_groups(&[("filter", "externalId eq \"x\"")]).await.json()), ["Alpha", "Beta"]);
    // An RFC server compares names case-insensitively.
    assert_eq!(display_names(&api.list_groups(&[("filter", "displayName eq \"ALPHA\"")]).await.json()), ["Alpha"]);

    let (mock, api) = start(LeapsomeConfig { groups_all_without_count: true, ..Default::default() }).await;
    for i in 0..1_200 {
        mock.seed_group(json!({"displayName": format!("Team {i:04}")}));
    }
    assert_eq!(api.list_groups(&[]).await.json()["itemsPerPage"], 1_200);
    assert_eq!(api.list_groups(&[("count", "5000")]).await.json()["itemsPerPage"], 1_000);
}

#[tokio::test]
async fn groups_cannot_be_deleted_or_put_as_documented() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let id = mock.seed_group(json!({"displayName": "Legal"}));
    let refused = api.send("DELETE", &format!("/scim/v1/Groups/{id}"), None).await;
    refused.assert_error(405, None);
    assert_eq!(refused.header("allow"), Some("GET, PATCH"));
    api.send("PUT", &format!("/scim/v1/Groups/{id}"), Some(json!({"displayName": "Legal"})))
        .await
        .assert_error(405, None);
    api.send("DELETE", "/scim/v1/Groups", None).await.assert_error(405, None);
    assert_eq!(api.get(&format!("/scim/v1/Groups/{id}")).await.status, 200);

    let (mock, api) = start(LeapsomeConfig { group_delete_status: Some(501), ..Default::default() }).await;
    let id = mock.seed_group(json!({"displayName": "Legal"}));
    api.send("DELETE", &format!("/scim/v1/Groups/{id}"), None).await.assert_error(501, None);
    assert_eq!(mock.group_id("Legal"), Some(id));

    let (mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    let id = mock.seed_group(json!({"displayName": "Legal"}));
    assert_eq!(api.send("DELETE", &format!("/scim/v1/Groups/{id}"), None).await.status, 204);
    api.get(&format!("/scim/v1/Groups/{id}")).await.assert_error(404, None);
    assert_eq!(mock.group_id("Legal"), None);
    // The name is free again.
    api.create_group(json!({"displayName": "Legal"})).await;
}

#[tokio::test]
async fn group_routes_are_journaled_and_take_scripted_faults() {
    let (mock, api) = start(LeapsomeConfig::default()).await;
    let u = seed_users(&mock, 1);
    let control = mock.control();
    control.add_fault(FaultRule::new(
        Some("POST"),
        "/scim/v1/Groups",
        Fault::Status { status: 503, message: "down".into() },
        1,
    ));
    api.send("POST", "/scim/v1/Groups", Some(json!({"displayName": "Ops"}))).await.assert_error(503, None);
    assert_eq!(mock.group_id("Ops"), None);
    let id = api.create_group(json!({"displayName": "Ops"})).await["id"].as_str().unwrap().to_owned();
    control.add_fault(FaultRule::new(
        Some("PATCH"),
        "/scim/v1/Groups/",
        Fault::TooManyRequests { retry_after: Some(3) },
        1,
    ));
    let limited = api.patch_group(&id, json!({"members": members(&u)})).await;
    limited.assert_error(429, None);
    assert_eq!(limited.header("retry-after"), Some("3"));
    assert_eq!(mock.group_members(&id), Some(vec![]));
    api.patch_group(&id, json!({"members": members(&u)})).await;
    api.list_groups(&[("filter", "displayName eq \"Ops\"")]).await;

    let journal = control.journal();
    let seen: Vec<(&str, &str, u16)> = journal.iter().map(|e| (e.method.as_str(), e.path.as_str(), e.status)).collect();
    let one = format!("/scim/v1/Groups/{id}");
    assert_eq!(
        seen,
        [
            ("POST", "/scim/v1/Groups", 503),
            ("POST", "/scim/v1/Groups", 201),
            ("PATCH", one.as_str(), 429),
            ("PATCH", one.as_str(), 200),
            ("GET", "/scim/v1/Groups", 200),
        ]
    );
    assert_eq!(serde_json::from_str::<Value>(&journal[3].body).unwrap(), json!({"members": members(&u)}));
    assert_eq!(journal[4].query, "filter=displayName%20eq%20%22Ops%22");
    assert_eq!(mock.group_members(&id).unwrap(), u);
}

#[tokio::test]
async fn a_deleted_user_leaves_their_teams_and_a_deactivated_one_stays() {
    let (mock, api) = start(LeapsomeConfig::rfc_strict()).await;
    let u = seed_users(&mock, 3);
    let id = api.create_group(json!({"displayName": "Brand", "members": members(&u)})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.send("DELETE", &format!("/scim/v1/Users/{}", u[1]), None).await.status, 204);
    let got = api.get(&format!("/scim/v1/Groups/{id}")).await.json();
    assert_eq!(member_values(&got), [u[0].clone(), u[2].clone()]);

    let (mock, api) = start(LeapsomeConfig { delete_deactivates: true, ..LeapsomeConfig::rfc_strict() }).await;
    let u = seed_users(&mock, 2);
    let id = api.create_group(json!({"displayName": "Brand", "members": members(&u)})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.send("DELETE", &format!("/scim/v1/Users/{}", u[1]), None).await.status, 204);
    assert_eq!(mock.group_members(&id).unwrap(), u);
}
