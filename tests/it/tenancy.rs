//! Fifty tenants at once on one host: one `Runtime`, one storage database, fifty pairs of mock
//! services, each with its own organisation and its own tokens, all driven concurrently (connect,
//! configure, sync-all). Every tenant ends up with exactly its own accounts, and nothing crosses
//! between tenants: not in storage, not in the logs, not over HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::support::{NOW, all_on, at, logs, sync_ok};
use host_harness::api::{Dialect, LogAction};
use host_harness::{AllowedHost, PoolSize, Runtime, SqliteStorage, Storage, Tenant, TenantPlugin};
use mock_servers::humaans::{ApiToken, HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

const TENANTS: usize = 50;
const TODAY: &str = "2026-11-28";

fn humaans_token(i: usize) -> String {
    format!("humaans-token-{i:03}-secret")
}

fn scim_token(i: usize) -> String {
    format!("scim-token-{i:03}-secret")
}

/// One tenant after its run, with everything needed to check it once all have finished.
struct Finished {
    i: usize,
    plugin: TenantPlugin,
    humaans: MockHumaans,
    leapsome: MockLeapsome,
    /// Work email (lowercase) -> person id, for the people who should have an account.
    active: BTreeMap<String, String>,
    /// Every person id of this tenant's organisation.
    ids: BTreeSet<String>,
}

async fn run_tenant(i: usize, runtime: Arc<Runtime>, storage: Arc<dyn Storage>) -> Finished {
    let humaans = MockHumaans::start(HumaansConfig {
        tokens: vec![ApiToken::new(&humaans_token(i), None, &["private:read"])],
        ..HumaansConfig::default()
    })
    .await
    .expect("humaans mock starts");
    let mut seed = mock_servers::org::generate_org(8 + i % 8, 7_000 + i as u64, TODAY);
    seed.company.name = format!("Tenant {i:03} Ltd");
    let active =
        seed.people.iter().filter(|p| p.status == "active").map(|p| (p.email.to_lowercase(), p.id.clone())).collect();
    let ids = seed.people.iter().map(|p| p.id.clone()).collect();
    humaans.load_seed(seed);
    let leapsome = MockLeapsome::start(LeapsomeConfig { token: scim_token(i), ..LeapsomeConfig::default() })
        .await
        .expect("leapsome mock starts");

    // The tenant may reach its own two mocks and nothing else.
    let mut tenant = Tenant::new(&format!("t{i:03}"))
        .allow(AllowedHost::from_url(&humaans.base_url()).unwrap())
        .allow(AllowedHost::from_url(&leapsome.base_url()).unwrap());
    tenant.fixed_clock = Some(at(NOW));
    let plugin = TenantPlugin::new(runtime, storage, tenant);

    let connection = host_harness::api::Connection {
        scim_base_url: Some(leapsome.base_url()),
        scim_token: scim_token(i),
        scim_requests_per_second: Some(0),
        humaans_base_url: Some(humaans.base_url()),
        humaans_token: humaans_token(i),
        humaans_webhook_secret: None,
    };
    let report = plugin.connect(&connection).await.expect("no trap").expect("connects");
    assert_eq!(report.company_name, format!("Tenant {i:03} Ltd"));
    assert_eq!(report.scim_users, 0);
    plugin.configure(&all_on(Dialect::Leapsome)).await.expect("no trap").expect("configures");
    let mut created = 0;
    for _ in 0..10 {
        let report = sync_ok(&plugin, false, None).await;
        assert_eq!(report.failed, 0, "tenant {i}: {report:?}");
        created += report.created;
        if report.complete {
            break;
        }
    }
    let finished = Finished { i, plugin, humaans, leapsome, active, ids };
    assert_eq!(created as usize, finished.active.len(), "tenant {i}");
    finished
}

/// Every key and value in a namespace's default bucket.
fn snapshot(storage: &dyn Storage, namespace: &str) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = storage.list_keys(namespace, "", cursor, 500).unwrap();
        for key in page.keys {
            all.insert(key.clone(), storage.get(namespace, "", &key).unwrap().expect("a listed key has a value"));
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

/// The tenant numbers of every `…-token-NNN-…` in `text`.
fn token_owners(text: &str) -> BTreeSet<usize> {
    text.match_indices("-token-").filter_map(|(at, m)| text.get(at + m.len()..at + m.len() + 3)?.parse().ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_tenants_at_once_each_get_exactly_their_own_accounts() {
    let path = host_harness::component::component_path().expect("the component builds");
    let cache = host_harness::component::default_cache_dir();
    let pool = PoolSize { instances: 64, max_memory_bytes: 256 << 20 };
    let runtime = Arc::new(Runtime::new(&path, Some(&cache), pool).expect("the component loads"));
    let dir = std::env::temp_dir().join(format!("tenancy-{}", std::process::id()));
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.join("host.db")).unwrap());

    let mut running = tokio::task::JoinSet::new();
    for i in 0..TENANTS {
        running.spawn(run_tenant(i, runtime.clone(), storage.clone()));
    }
    let mut tenants = Vec::new();
    while let Some(done) = running.join_next().await {
        tenants.push(done.expect("a tenant's run panicked"));
    }
    tenants.sort_by_key(|t| t.i);
    assert_eq!(tenants.len(), TENANTS);

    for t in &tenants {
        let i = t.i;
        // Leapsome holds exactly one account per active person of THIS tenant, linked to them.
        let users = t.leapsome.users();
        assert_eq!(users.len(), t.active.len(), "tenant {i}");
        let mut seen = BTreeSet::new();
        for user in &users {
            let name = user["userName"].as_str().unwrap().to_lowercase();
            let person = t.active.get(&name).unwrap_or_else(|| panic!("tenant {i} has a stranger's account {name}"));
            assert_eq!(user["externalId"].as_str(), Some(person.as_str()), "tenant {i}: {user}");
            assert!(seen.insert(name), "tenant {i}: a duplicate account");
        }

        // HTTP: everything this tenant's calls sent reached its own two mocks, authenticated with
        // its own tokens (any other token would have been answered 401/403), and nothing else.
        let stats = t.plugin.stats();
        assert_eq!(stats.http_denied.load(Ordering::Relaxed), 0, "tenant {i}");
        let humaans_journal = t.humaans.control().journal();
        let scim_journal = t.leapsome.control().journal();
        assert_eq!(
            (humaans_journal.len() + scim_journal.len()) as u64,
            stats.http_requests.load(Ordering::Relaxed),
            "tenant {i}: requests sent != requests its own mocks received"
        );
        for entry in humaans_journal.iter().chain(&scim_journal) {
            assert!(!matches!(entry.status, 401 | 403), "tenant {i}: {entry:?}");
            if let Some(person) = entry.path.strip_prefix("/api/people/") {
                assert!(t.ids.contains(person), "tenant {i} asked about a stranger: {entry:?}");
            }
            if entry.method == "POST" {
                let body: serde_json::Value = serde_json::from_str(&entry.body).unwrap();
                let external = body["externalId"].as_str().unwrap_or_default();
                assert!(t.ids.contains(external), "tenant {i} wrote a stranger: {}", entry.body);
            }
        }
        let posts = scim_journal.iter().filter(|e| e.method == "POST").count();
        assert_eq!(posts, t.active.len(), "tenant {i}");

        // The log: its own connect and configure, its own people only.
        let entries = logs(&t.plugin, false, None).await;
        assert_eq!(entries.iter().filter(|e| e.action == LogAction::Connect).count(), 1, "tenant {i}");
        assert_eq!(entries.iter().filter(|e| e.action == LogAction::Configure).count(), 1, "tenant {i}");
        let provisioned: BTreeSet<String> = entries
            .iter()
            .filter(|e| e.action == LogAction::Provision)
            .map(|e| e.email.clone().unwrap().to_lowercase())
            .collect();
        assert_eq!(provisioned, t.active.keys().cloned().collect(), "tenant {i}");
        for e in &entries {
            if let Some(email) = &e.email {
                assert!(t.active.contains_key(&email.to_lowercase()), "tenant {i} logged a stranger: {e:?}");
            }
            if let Some(person) = &e.person_id {
                assert!(t.ids.contains(person), "tenant {i} logged a stranger: {e:?}");
            }
        }
        assert_eq!(token_owners(&format!("{entries:?}")), BTreeSet::new(), "tenant {i}: a token in the log");

        // Storage: its namespace holds its own connection (its own tokens only) and links to its
        // own people only.
        let stored = snapshot(&*storage, &t.plugin.tenant().storage_namespace);
        let connection = String::from_utf8_lossy(&stored["connection"]).into_owned();
        assert_eq!(token_owners(&connection), BTreeSet::from([i]), "tenant {i}");
        // Links: per-person keys (`link/<id>`) and the chunks a sync folds them into (`links/<n>`).
        let mut linked: BTreeSet<String> =
            stored.keys().filter_map(|k| k.strip_prefix("link/")).map(str::to_owned).collect();
        for (_, chunk) in stored.iter().filter(|(k, _)| k.starts_with("links/")) {
            let chunk: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(chunk).unwrap();
            linked.extend(chunk.keys().cloned());
        }
        for person in t.active.values() {
            assert!(linked.contains(person.as_str()), "tenant {i}: {person} is not linked");
        }
        for person in &linked {
            assert!(t.ids.contains(person), "tenant {i} stored a stranger's link {person}");
        }
        let everything: String = stored.values().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        assert_eq!(token_owners(&everything), BTreeSet::from([i]), "tenant {i}");
        for other in tenants.iter().filter(|o| o.i != i) {
            for id in other.ids.iter().take(2) {
                assert!(!everything.contains(id.as_str()), "tenant {i} stored tenant {}'s person {id}", other.i);
            }
        }
    }
    drop(tenants);
    drop(storage);
    std::fs::remove_dir_all(dir).ok();
}
