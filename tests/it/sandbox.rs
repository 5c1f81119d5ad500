//! The sandbox, proven with a rogue component (`tests/rogue/`): a tenant whose component spins,
//! hoards memory, blocks, traps, reaches for other hosts or pokes at other tenants' storage gets a
//! typed error for that call only. After each misbehaviour the host is unharmed: the rogue
//! component still runs, the real component still connects and syncs for another tenant in the
//! same process, and that tenant's stored data is byte-for-byte what it was.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::support::*;
use host_harness::api::{Dialect, IntegrationError};
use host_harness::{AllowedHost, CallError, PoolSize, Runtime, SqliteStorage, Storage, Tenant, TenantPlugin};

/// Builds the rogue component (once per test process) into the workspace's target directory.
pub(crate) fn rogue_path() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let cache = host_harness::component::default_cache_dir();
            let target = cache.parent().expect("the cache lives in the target directory").to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", &target)
                .args(["build", "--quiet", "--manifest-path", "tests/rogue/Cargo.toml"])
                .args(["--target", "wasm32-wasip2", "--release"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the rogue component failed ({status})");
            let path = target.join("wasm32-wasip2/release/rogue_component.wasm");
            assert!(path.exists(), "the rogue build did not produce {}", path.display());
            path
        })
        .clone()
}

/// The rogue component, loaded by the same host code as the real one (its own `Runtime`).
pub(crate) fn rogue_runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cache = host_harness::component::default_cache_dir();
            let pool = PoolSize { instances: 16, max_memory_bytes: 256 << 20 };
            Arc::new(Runtime::new(&rogue_path(), Some(&cache), pool).expect("the rogue component loads"))
        })
        .clone()
}

const VICTIM: &str = "victim";

/// A victim tenant running the real component (connected, configured, three people in Humaans)
/// and a rogue tenant on the same storage, allowed to reach mock Humaans only.
pub(crate) struct Scene {
    pub(crate) rig: Rig,
    pub(crate) victim: TenantPlugin,
    emails: Vec<String>,
    /// The victim's stored data before the rogue did anything.
    before: BTreeMap<String, Vec<u8>>,
}

impl Scene {
    pub(crate) async fn start() -> Scene {
        Scene::start_on(None).await
    }

    /// The scene on the given storage (default: in memory).
    async fn start_on(storage: Option<Arc<dyn Storage>>) -> Scene {
        let mut rig = Rig::start().await;
        if let Some(storage) = storage {
            rig.storage = storage;
        }
        let ids = [
            hire(&rig, "Ada", "Lovelace", "CTO", "Engineering", None),
            hire(&rig, "Grace", "Hopper", "Engineer", "Engineering", None),
            hire(&rig, "Alan", "Turing", "Researcher", "Research", None),
        ];
        let emails = ids.iter().map(|id| email_of(&rig, id)).collect();
        let victim = rig.connected(VICTIM, all_on(Dialect::Leapsome)).await;
        let before = snapshot(&*rig.storage, &victim.tenant().storage_namespace);
        assert!(before.contains_key("connection") && before.contains_key("settings"), "{:?}", before.keys());
        clear_journals(&rig);
        Scene { rig, victim, emails, before }
    }

    /// The rogue tenant's policy: Humaans only, plus whatever the test tightens.
    pub(crate) fn rogue_tenant(&self) -> Tenant {
        let mut t = Tenant::new("rogue").allow(AllowedHost::from_url(&self.rig.humaans.base_url()).unwrap());
        t.fixed_clock = Some(at(NOW));
        t
    }

    pub(crate) fn rogue(&self, tenant: Tenant) -> TenantPlugin {
        TenantPlugin::new(rogue_runtime(), self.rig.storage.clone(), tenant)
    }

    /// The host is unharmed: the victim's data is untouched, the rogue component still runs for
    /// its own tenant, and the real component still syncs for the victim.
    pub(crate) async fn assert_host_unharmed(&self, rogue: &TenantPlugin) {
        assert_eq!(
            snapshot(&*self.rig.storage, &self.victim.tenant().storage_namespace),
            self.before,
            "the victim's stored data changed"
        );
        let ok = rogue.tick("ok").await.expect("the rogue component still runs").expect("and answers");
        assert_eq!(ok.provisioned, 0);

        let report = sync_ok(&self.victim, false, None).await;
        assert!(report.complete && report.failed == 0, "{report:?}");
        assert_eq!(report.created as usize, self.emails.len(), "{report:?}");
        let mut names: Vec<String> =
            self.rig.leapsome.users().iter().map(|u| u["userName"].as_str().unwrap().to_lowercase()).collect();
        names.sort();
        let mut expected = self.emails.clone();
        expected.sort();
        assert_eq!(names, expected);
        // A second connect works too: the real component talks to both services through the host.
        let again = self.victim.connect(&self.rig.connection()).await.expect("no trap").expect("connects");
        assert_eq!(again.scim_users as usize, self.emails.len());
    }
}

/// Every key and value in a namespace's default bucket.
fn snapshot(storage: &dyn Storage, namespace: &str) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = storage.list_keys(namespace, "", cursor, 100).unwrap();
        for key in page.keys {
            let value = storage.get(namespace, "", &key).unwrap().expect("a listed key has a value");
            all.insert(key, value);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

fn is_call_error<T: std::fmt::Debug>(
    outcome: Result<Result<T, IntegrationError>, CallError>,
    expected: fn(&CallError) -> bool,
) -> CallError {
    match outcome {
        Err(e) if expected(&e) => e,
        other => panic!("expected a typed call error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_busy_loop_ends_at_the_cpu_deadline() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.cpu_deadline = Duration::from_millis(300);
    let rogue = scene.rogue(tenant);
    is_call_error(rogue.tick("loop").await, |e| *e == CallError::CpuDeadlineExceeded);
    // Every later call gets its own budget.
    is_call_error(rogue.tick("loop").await, |e| *e == CallError::CpuDeadlineExceeded);
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn unbounded_allocation_ends_at_the_memory_limit() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.memory_limit_bytes = 32 << 20;
    let rogue = scene.rogue(tenant);
    is_call_error(rogue.tick("alloc").await, |e| *e == CallError::MemoryLimitExceeded);
    is_call_error(rogue.tick("alloc-huge").await, |e| *e == CallError::MemoryLimitExceeded);
    let peak = rogue.stats().peak_memory_bytes.load(Ordering::Relaxed);
    assert!(peak > 0 && peak <= 32 << 20, "peak {peak}");
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn a_call_blocked_in_the_host_ends_at_the_call_timeout() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.call_timeout = Duration::from_millis(500);
    let rogue = scene.rogue(tenant);
    is_call_error(rogue.tick("sleep").await, |e| *e == CallError::TimedOut);
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn a_panic_and_a_stack_overflow_are_traps_of_that_call() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(scene.rogue_tenant());
    is_call_error(rogue.tick("panic").await, |e| matches!(e, CallError::Trapped(_)));
    match is_call_error(rogue.tick("recurse").await, |e| matches!(e, CallError::Trapped(_))) {
        CallError::Trapped(why) => assert!(why.contains("call stack exhausted"), "{why}"),
        _ => unreachable!(),
    }
    match is_call_error(rogue.tick("recurse-shadow").await, |e| matches!(e, CallError::Trapped(_))) {
        CallError::Trapped(why) => assert!(why.contains("wasm trap"), "{why}"),
        _ => unreachable!(),
    }
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn misbehaving_calls_do_not_leak_instances_from_the_pool() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.memory_limit_bytes = 32 << 20;
    let rogue = scene.rogue(tenant);
    // More failed calls than the pool has slots (16), of each kind that ends early.
    for _ in 0..20 {
        is_call_error(rogue.tick("panic").await, |e| matches!(e, CallError::Trapped(_)));
        is_call_error(rogue.tick("alloc-huge").await, |e| *e == CallError::MemoryLimitExceeded);
        is_call_error(rogue.tick("recurse").await, |e| matches!(e, CallError::Trapped(_)));
        is_call_error(rogue.tick("recurse-shadow").await, |e| matches!(e, CallError::Trapped(_)));
    }
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn http_off_the_allow_list_is_denied_before_anything_is_sent() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(scene.rogue_tenant());
    let humaans = scene.rig.humaans.addr().port();
    let leapsome = scene.rig.leapsome.base_url();
    let leapsome_port = scene.rig.leapsome.base_url().rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let probes = [
        // Another tenant's service, by address.
        format!("{leapsome}/Users"),
        // The same, spelt differently.
        format!("http://localhost:{leapsome_port}/scim/v1/Users"),
        format!("http://[::1]:{leapsome_port}/scim/v1/Users"),
        // The allowed Humaans port under another name, and the allowed host on another port.
        format!("http://localhost:{humaans}/api/people"),
        "http://127.0.0.1:1/api/people".into(),
        // The allowed host:port as user info in front of another host.
        format!("http://127.0.0.1:{humaans}@127.0.0.1:{leapsome_port}/scim/v1/Users"),
        // Somewhere else entirely.
        "https://example.com/".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
    ];
    let message = match rogue.tick(&format!("http {}", probes.join(" "))).await.expect("no trap") {
        Err(IntegrationError::Transport(f)) => f.message,
        other => panic!("expected the rogue's own transport error, got {other:?}"),
    };
    let outcomes: Vec<&str> = message.lines().collect();
    assert_eq!(outcomes.len(), probes.len(), "{message}");
    for (probe, outcome) in probes.iter().zip(&outcomes) {
        assert_eq!(*outcome, format!("{probe} -> denied"));
    }
    assert_eq!(rogue.stats().http_denied.load(Ordering::Relaxed), probes.len() as u64);
    assert_eq!(rogue.stats().http_requests.load(Ordering::Relaxed), 0);
    assert!(scene.rig.leapsome.control().journal().is_empty(), "a denied request reached Leapsome");
    assert!(scene.rig.humaans.control().journal().is_empty(), "a denied request reached Humaans");

    // The control: the one allowed destination is reachable, so the denials above were the policy.
    let message = match rogue.tick(&format!("http http://127.0.0.1:{humaans}/api/me")).await.expect("no trap") {
        Err(IntegrationError::Transport(f)) => f.message,
        other => panic!("expected the rogue's own transport error, got {other:?}"),
    };
    assert!(message.ends_with("-> status 401"), "{message}");
    assert_eq!(rogue.stats().http_requests.load(Ordering::Relaxed), 1);
    assert_eq!(scene.rig.humaans.control().journal().len(), 1);
    scene.assert_host_unharmed(&rogue).await;
}

#[tokio::test]
async fn storage_probes_see_only_the_rogue_tenants_own_data_in_memory() {
    storage_probes_see_only_the_rogue_tenants_own_data(Scene::start().await).await;
}

#[tokio::test]
async fn storage_probes_see_only_the_rogue_tenants_own_data_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("sandbox-sqlite-{}", std::process::id()));
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.join("host.db")).unwrap());
    storage_probes_see_only_the_rogue_tenants_own_data(Scene::start_on(Some(storage)).await).await;
    std::fs::remove_dir_all(dir).ok();
}

/// The bucket names the rogue probes (all but its 1,000-character one).
pub(crate) const PROBE_BUCKETS: [&str; 8] =
    ["", "../tenant/other", "tenant/b", "tenant/victim", "/", "..", "%2e%2e/tenant/victim", "\0tenant/victim"];

/// Even a tenant whose policy allows odd bucket names stays inside its own namespace.
async fn storage_probes_see_only_the_rogue_tenants_own_data(scene: Scene) {
    let mut tenant = scene.rogue_tenant();
    tenant.allowed_buckets = PROBE_BUCKETS.map(String::from).to_vec();
    let rogue = scene.rogue(tenant);
    rogue.tick("storage-write").await.expect("no trap").expect("the rogue writes its own marker");

    let targets = ["connection", "settings", "company", "rogue-marker"];
    let report = match rogue.tick(&format!("storage {}", targets.join(" "))).await.expect("no trap") {
        Err(IntegrationError::Storage(report)) => report,
        other => panic!("expected the rogue's storage report, got {other:?}"),
    };
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 9, "{report}");
    // Its own default bucket: its own marker and nothing of the victim's.
    assert_eq!(
        lines[0],
        "bucket=\"\" open=ok keys=[rogue-marker] connection=absent settings=absent company=absent \
         rogue-marker=present(rogue)"
    );
    for line in &lines[1..8] {
        assert!(line.contains(" open=ok keys=[] connection=absent settings=absent company=absent"), "{line}");
        assert!(line.ends_with(" rogue-marker=absent"), "{line}");
    }
    // A bucket name of 1,000 characters is refused outright.
    assert_eq!(lines[8], "bucket=<1000 chars> open=error(Error::NoSuchStore)");
    for secret in [HUMAANS_TOKEN, SCIM_TOKEN, "leapsome", "acme"] {
        assert!(!report.to_lowercase().contains(secret), "the rogue saw {secret}: {report}");
    }

    // Its overwrites and deletes landed in its own namespace, never in the victim's.
    let own = &rogue.tenant().storage_namespace;
    let storage = &scene.rig.storage;
    assert_eq!(storage.get(own, "", "connection").unwrap().as_deref(), Some(&b"rogue was here"[..]));
    assert_eq!(storage.get(own, "../tenant/other", "connection").unwrap().as_deref(), Some(&b"rogue was here"[..]));
    assert_eq!(storage.get(own, "tenant/victim", "settings").unwrap().as_deref(), Some(&b"rogue was here"[..]));
    for bucket in ["", "../tenant/other", "tenant/b", "tenant/victim", "..", "/"] {
        for ns in ["tenant/other", "tenant/b", "tenant/victim/..", "tenant"] {
            assert_eq!(storage.get(ns, bucket, "connection").unwrap(), None, "{ns} {bucket}");
        }
    }
    scene.assert_host_unharmed(&rogue).await;

    // The victim's own log never mentions the rogue.
    let entries = logs(&scene.victim, false, None).await;
    assert!(!format!("{entries:?}").contains("rogue"));
}

/// On a single-threaded executor, a spinning guest yields at every epoch tick: the victim's whole
/// sync runs to the end while the rogue's call is still spinning.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_tenant_does_not_starve_the_others() {
    let scene = Scene::start().await;
    let mut tenant = scene.rogue_tenant();
    tenant.cpu_deadline = Duration::from_secs(600);
    tenant.call_timeout = Duration::from_secs(600);
    let rogue = scene.rogue(tenant);
    let spinning = tokio::spawn({
        let rogue = rogue.clone();
        async move { rogue.tick("loop").await }
    });
    tokio::task::yield_now().await;

    let report = sync_ok(&scene.victim, false, None).await;
    assert!(report.complete && report.created as usize == scene.emails.len(), "{report:?}");
    assert!(!spinning.is_finished(), "the rogue's call ended before the victim's sync did");

    // Abandoning the spinning call (dropping its store mid-call) harms nothing either.
    spinning.abort();
    assert!(spinning.await.unwrap_err().is_cancelled());
    let ok = rogue.tick("ok").await.expect("the rogue component still runs").expect("and answers");
    assert_eq!(ok.waiting, 0);
    let again = sync_ok(&scene.victim, false, None).await;
    assert_eq!((again.created, again.writes), (0, 0), "{again:?}");
}

/// `wasi:http` under the allow-list is the only way out: the rest of WASI the host links (sockets,
/// name lookup, files, environment, stdio) gives a component nothing.
#[tokio::test]
async fn raw_sockets_files_and_the_environment_are_closed() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(scene.rogue_tenant());
    // A plain TCP listener: any raw connection would wait in its backlog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let humaans = scene.rig.humaans.addr().port();
    let probes = [
        format!("tcp=127.0.0.1:{port}"),
        // Even the host and port the tenant may reach over HTTP.
        format!("tcp=127.0.0.1:{humaans}"),
        format!("udp=127.0.0.1:{port}"),
        "tcp-listen=127.0.0.1:0".to_owned(),
        "dns=example.com".to_owned(),
        "dns=localhost".to_owned(),
        "read=/etc/passwd".to_owned(),
        "list=/".to_owned(),
        "list=.".to_owned(),
        "write=/tmp/rogue-was-here".to_owned(),
        "env".to_owned(),
        "args".to_owned(),
        "cwd".to_owned(),
        "stdout".to_owned(),
    ];
    let message = match rogue.tick(&format!("escape {}", probes.join(" "))).await.expect("no trap") {
        Err(IntegrationError::Transport(f)) => f.message,
        other => panic!("expected the rogue's report, got {other:?}"),
    };
    let outcomes: BTreeMap<&str, &str> = message.lines().map(|l| l.split_once(" -> ").unwrap()).collect();
    assert_eq!(outcomes.len(), probes.len(), "{message}");
    for probe in &probes[..10] {
        assert!(outcomes[probe.as_str()].starts_with("refused"), "{probe}: {message}");
    }
    assert_eq!(outcomes["env"], "0 variables []", "{message}");
    assert_eq!(outcomes["args"], "0 arguments", "{message}");
    assert!(outcomes["cwd"].starts_with("Err") || outcomes["cwd"] == "Ok(\"/\")", "{message}");
    assert_eq!(outcomes["stdout"], "printed");
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "a raw connection");
    assert!(scene.rig.humaans.control().journal().is_empty());
    assert!(!std::path::Path::new("/tmp/rogue-was-here").exists());
    assert_eq!(rogue.stats().http_requests.load(Ordering::Relaxed), 0);
    scene.assert_host_unharmed(&rogue).await;
}

/// Resources a component makes live in the host's memory, outside the guest's memory limit; one
/// that never drops them is stopped at the host's per-call cap with a typed error.
#[tokio::test]
async fn hoarding_host_resources_ends_in_a_typed_error() {
    let scene = Scene::start().await;
    let rogue = scene.rogue(scene.rogue_tenant());
    // 20,000 header maps of 16 KiB would hold over 300 MiB of host memory.
    for kind in ["fields", "buckets", "pollables"] {
        match is_call_error(rogue.tick(&format!("hoard {kind} 20000")).await, |e| matches!(e, CallError::Trapped(_))) {
            CallError::Trapped(why) => assert!(why.contains("resource table"), "{kind}: {why}"),
            _ => unreachable!(),
        }
    }
    // What the real component needs at once is far below the cap.
    match rogue.tick("hoard fields 200").await.expect("no trap") {
        Err(IntegrationError::Storage(report)) => assert_eq!(report, "hoarded 200 fields"),
        other => panic!("{other:?}"),
    }
    scene.assert_host_unharmed(&rogue).await;
}

/// The compiled-component cache is owner-only, and an artifact is loaded only when it matches its
/// digest: a flipped byte, a truncated file or an edited digest is recompiled, never loaded.
#[tokio::test]
async fn a_tampered_cached_artifact_is_recompiled_never_loaded() {
    use host_harness::cache::CacheOutcome;
    let dir = std::env::temp_dir().join(format!("sandbox-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = rogue_path();
    let pool = || PoolSize { instances: 2, max_memory_bytes: 64 << 20 };
    let load = || Runtime::new(&path, Some(&dir), pool()).expect("the component loads");
    assert_eq!(load().cache_outcome(), CacheOutcome::Compiled);
    assert_eq!(load().cache_outcome(), CacheOutcome::Loaded);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let artifact = files.iter().find(|p| p.extension().is_some_and(|e| e == "cwasm")).unwrap().clone();
    let digest = artifact.with_extension("cwasm.sha256");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&artifact), mode(&digest)), (0o700, 0o600, 0o600));
    }

    let tamper = |change: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = std::fs::read(&artifact).unwrap();
        change(&mut bytes);
        std::fs::write(&artifact, bytes).unwrap();
    };
    let recompiled = |why: &str| {
        let runtime = load();
        assert_eq!(runtime.cache_outcome(), CacheOutcome::Recompiled(why.into()));
        runtime
    };
    // One flipped byte in the middle of the code.
    tamper(&|b| {
        let mid = b.len() / 2;
        b[mid] ^= 0x01;
    });
    let runtime = recompiled("the artifact does not match its digest");
    // The recompiled component works, and the cache holds a good artifact again.
    let storage: Arc<dyn Storage> = Arc::new(host_harness::MemoryStorage::new());
    let plugin = TenantPlugin::new(Arc::new(runtime), storage, Tenant::new("cache"));
    let ok = plugin.tick("ok").await.expect("runs").expect("answers");
    assert_eq!(ok.provisioned, 0);
    assert_eq!(load().cache_outcome(), CacheOutcome::Loaded);

    tamper(&|b| b.truncate(b.len() - 1));
    recompiled("the artifact does not match its digest");
    std::fs::write(&digest, "0".repeat(64)).unwrap();
    recompiled("the artifact does not match its digest");
    std::fs::remove_file(&digest).unwrap();
    recompiled("the artifact has no digest");
    assert_eq!(load().cache_outcome(), CacheOutcome::Loaded);
    std::fs::remove_dir_all(&dir).unwrap();
}
