//! The store conformance suite: one set of tests, written against `dyn Storage` (and
//! `dyn LeaseStore`), instantiated per backend by `conformance!` / `lease_conformance!`. A backend
//! that behaves differently from the others fails here, not in production.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::pg_testing::TestPg;
use super::{
    Claimed, Fenced, Lease, LeaseStore, MemoryStorage, Periods, PgStorage, RunKind, SqliteStorage, Storage, Usage,
    WorkQueue,
};

/// A backend under test: a store, a way to open a second, independent handle on the same data (a
/// new connection pool or file handle, as a second process would have), and whatever must live
/// as long as the test (a temp dir, a throw-away server).
pub(super) struct Fixture<S: ?Sized> {
    pub store: Arc<S>,
    pub reopen: Box<dyn Fn() -> Arc<S>>,
    _keep: Box<dyn std::any::Any>,
}

fn memory() -> Option<Fixture<dyn Storage>> {
    let store = Arc::new(MemoryStorage::new());
    let same = store.clone();
    Some(Fixture { store, reopen: Box::new(move || same.clone()), _keep: Box::new(()) })
}

/// A temp dir removed on drop.
struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database file in a temp dir (removed with the fixture).
fn temp_db(kind: &str) -> (TempDir, std::path::PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hh-{kind}-conformance-{}-{n}", std::process::id()));
    let path = dir.join("host.db");
    (TempDir(dir), path)
}

fn sqlite() -> Option<Fixture<dyn Storage>> {
    let (dir, path) = temp_db("store");
    let store = Arc::new(SqliteStorage::open(&path).unwrap());
    let reopen = Box::new(move || Arc::new(SqliteStorage::open(&path).unwrap()) as Arc<dyn Storage>);
    Some(Fixture { store, reopen, _keep: Box::new(dir) })
}

fn sqlite_leases() -> Option<Fixture<dyn LeaseStore>> {
    let (dir, path) = temp_db("lease");
    let store = Arc::new(SqliteStorage::open(&path).unwrap());
    let reopen = Box::new(move || Arc::new(SqliteStorage::open(&path).unwrap()) as Arc<dyn LeaseStore>);
    Some(Fixture { store, reopen, _keep: Box::new(dir) })
}

fn postgres_store() -> Option<Fixture<PgStorage>> {
    let pg = TestPg::start()?;
    let url = pg.url.clone();
    let store = Arc::new(PgStorage::connect(&url).unwrap());
    let reopen = Box::new(move || Arc::new(PgStorage::connect(&url).unwrap()));
    Some(Fixture { store, reopen, _keep: Box::new(pg) })
}

fn postgres() -> Option<Fixture<dyn Storage>> {
    let f = postgres_store()?;
    let reopen = f.reopen;
    Some(Fixture { store: f.store, reopen: Box::new(move || reopen() as Arc<dyn Storage>), _keep: f._keep })
}

fn postgres_leases() -> Option<Fixture<dyn LeaseStore>> {
    let f = postgres_store()?;
    let reopen = f.reopen;
    Some(Fixture { store: f.store, reopen: Box::new(move || reopen() as Arc<dyn LeaseStore>), _keep: f._keep })
}

macro_rules! suite {
    ($backend:ident, $open:ident, $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $test() {
                    if let Some(fixture) = super::$open() {
                        super::$test(&fixture);
                    }
                }
            )*
        }
    };
}

macro_rules! conformance {
    ($backend:ident, $open:ident) => {
        suite!(
            $backend,
            $open,
            get_set_delete,
            list_pages_in_byte_order,
            namespaces_and_buckets_are_isolated,
            increment_counts_in_decimal_text,
            increment_refuses_what_is_not_a_counter,
            concurrent_increments_from_many_threads,
            increments_from_independent_connections,
            batch_operations,
            writes_are_visible_to_another_connection,
            usage_sizes_and_scopes_for_quotas_and_rotation
        );
    };
}

conformance!(memory_store, memory);
conformance!(sqlite_store, sqlite);
conformance!(postgres_store, postgres);

macro_rules! lease_conformance {
    ($backend:ident, $open:ident) => {
        suite!(
            $backend,
            $open,
            contenders_get_one_lease,
            an_expired_lease_is_taken_over_and_the_stale_holder_is_fenced,
            release_frees_the_lease_and_fences_its_writes,
            fenced_writes_of_the_current_holder_go_through
        );
    };
}

lease_conformance!(sqlite_leases, sqlite_leases);
lease_conformance!(postgres_leases, postgres_leases);

/// A queue and the lease store beside it (one database), for the queue suite.
pub(super) struct Queues {
    pub queue: Arc<dyn WorkQueue>,
    pub leases: Arc<dyn LeaseStore>,
}

fn sqlite_queue() -> Option<Fixture<Queues>> {
    let (dir, path) = temp_db("queue");
    let open = move || {
        let leases = Arc::new(SqliteStorage::open(&path).unwrap());
        Arc::new(Queues { queue: leases.work_queue().unwrap(), leases })
    };
    Some(Fixture { store: open(), reopen: Box::new(open), _keep: Box::new(dir) })
}

fn postgres_queue() -> Option<Fixture<Queues>> {
    let pg = TestPg::start()?;
    let url = pg.url.clone();
    let open = move || {
        let store = Arc::new(PgStorage::connect(&url).unwrap());
        Arc::new(Queues { queue: store.work_queue().unwrap(), leases: store })
    };
    Some(Fixture { store: open(), reopen: Box::new(open), _keep: Box::new(pg) })
}

macro_rules! queue_conformance {
    ($backend:ident, $open:ident) => {
        suite!(
            $backend,
            $open,
            the_inbox_queues_once_and_claims_in_order_under_a_lease,
            a_stale_holder_cannot_claim_or_complete,
            many_processes_drain_every_event_exactly_once,
            each_due_run_goes_to_one_process,
            a_due_run_waits_for_its_tenant_and_only_the_holder_claims_it,
            a_shorter_period_takes_effect_at_once,
            failed_events_back_off_then_become_dead_letters_once
        );
    };
}

queue_conformance!(sqlite_queue, sqlite_queue);
queue_conformance!(postgres_queue, postgres_queue);

type S = Fixture<dyn Storage>;

fn get_set_delete(f: &S) {
    let s = &f.store;
    assert_eq!(s.get("t", "", "missing").unwrap(), None);
    s.set("t", "", "k", b"v1").unwrap();
    assert_eq!(s.get("t", "", "k").unwrap().as_deref(), Some(&b"v1"[..]));
    s.set("t", "", "k", b"v2").unwrap();
    assert_eq!(s.get("t", "", "k").unwrap().as_deref(), Some(&b"v2"[..]), "a set replaces");
    s.set("t", "", "empty", b"").unwrap();
    assert_eq!(s.get("t", "", "empty").unwrap().as_deref(), Some(&b""[..]), "empty is not missing");
    let binary = [0u8, 0xff, 0xfe, b'\\', b'\'', 0x80];
    s.set("t", "", "binary", &binary).unwrap();
    assert_eq!(s.get("t", "", "binary").unwrap().as_deref(), Some(&binary[..]));
    let odd = "sched/ä 'x' \"y\" %_\\ 😀";
    s.set("t", "", odd, b"odd").unwrap();
    assert_eq!(s.get("t", "", odd).unwrap().as_deref(), Some(&b"odd"[..]));
    s.delete("t", "", "k").unwrap();
    assert_eq!(s.get("t", "", "k").unwrap(), None);
    s.delete("t", "", "k").unwrap();
    s.delete("t", "", "never-there").unwrap();
}

fn list_pages_in_byte_order(f: &S) {
    let s = &f.store;
    let page = s.list_keys("t", "", None, 10).unwrap();
    assert!(page.keys.is_empty() && page.cursor.is_none(), "an empty namespace has one empty page");
    let mut keys: Vec<String> = (0..23).map(|i| format!("log/e/{i}")).collect();
    keys.extend(["B", "a", "_", "Z/", "é", "a b"].map(String::from));
    for k in &keys {
        s.set("t", "", k, k.as_bytes()).unwrap();
    }
    keys.sort(); // byte order, as the store must return them
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = s.list_keys("t", "", cursor, 10).unwrap();
        assert!(page.keys.len() <= 10);
        seen.extend(page.keys);
        pages += 1;
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, keys);
    assert_eq!(pages, 3, "29 keys, 10 a page");
    let all = s.list_keys("t", "", None, 29).unwrap();
    assert_eq!((all.keys.len(), all.cursor), (29, None), "an exact fit has no next page");
}

fn namespaces_and_buckets_are_isolated(f: &S) {
    let s = &f.store;
    for (ns, bucket) in [("a", ""), ("b", ""), ("a", "x")] {
        s.set(ns, bucket, "k", format!("{ns}/{bucket}").as_bytes()).unwrap();
        s.increment(ns, bucket, "n", 1).unwrap();
    }
    assert_eq!(s.get("a", "", "k").unwrap().as_deref(), Some(&b"a/"[..]));
    assert_eq!(s.get("a", "x", "k").unwrap().as_deref(), Some(&b"a/x"[..]));
    assert_eq!(s.increment("b", "", "n", 1).unwrap(), 2, "counters are per namespace");
    s.delete("a", "", "k").unwrap();
    assert!(s.get("b", "", "k").unwrap().is_some() && s.get("a", "x", "k").unwrap().is_some());
    s.set_many("a", "", &[("m".into(), b"1".to_vec())]).unwrap();
    assert_eq!(s.get_many("b", "", &["m".into()]).unwrap(), vec![None]);
    s.delete_many("b", "", &["n".into(), "k".into()]).unwrap();
    assert_eq!(s.get("a", "", "n").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(s.list_keys("a", "", None, 10).unwrap().keys, vec!["m", "n"]);
    assert!(s.list_keys("b", "", None, 10).unwrap().keys.is_empty());
    assert!(s.list_keys("c", "", None, 10).unwrap().keys.is_empty());
}

fn increment_counts_in_decimal_text(f: &S) {
    let s = &f.store;
    assert_eq!(s.increment("t", "", "n", 0).unwrap(), 0, "a missing counter starts at 0");
    assert_eq!(s.get("t", "", "n").unwrap().as_deref(), Some(&b"0"[..]));
    assert_eq!(s.increment("t", "", "n", 5).unwrap(), 5);
    assert_eq!(s.increment("t", "", "n", 1).unwrap(), 6);
    assert_eq!(s.get("t", "", "n").unwrap().as_deref(), Some(&b"6"[..]), "stored as decimal text");
    s.set("t", "", "n", b"41").unwrap();
    assert_eq!(s.increment("t", "", "n", 1).unwrap(), 42, "a counter written with set counts on");
    let near = (u64::MAX - 1).to_string();
    s.set("t", "", "big", near.as_bytes()).unwrap();
    assert_eq!(s.increment("t", "", "big", 1).unwrap(), u64::MAX);
    assert!(s.increment("t", "", "big", 1).is_err(), "overflow is an error");
    assert_eq!(s.get("t", "", "big").unwrap(), Some(u64::MAX.to_string().into_bytes()), "and changes nothing");
}

fn increment_refuses_what_is_not_a_counter(f: &S) {
    let s = &f.store;
    for bad in [&b"abc"[..], b"1.5", b"-1", b"", b"1e3", b" 7", &[0xff, 0x31]] {
        s.set("t", "", "v", bad).unwrap();
        let e = s.increment("t", "", "v", 1).expect_err("not a counter");
        assert!(format!("{e:#}").contains("`v` does not hold a counter"), "{bad:?}: {e:#}");
        assert_eq!(s.get("t", "", "v").unwrap().as_deref(), Some(bad), "the value is left alone");
    }
}

/// Every increment hands out a distinct value and none is lost: exactly 1..=N.
fn assert_exact(mut values: Vec<u64>, n: u64) {
    values.sort_unstable();
    assert_eq!(values, (1..=n).collect::<Vec<_>>());
}

fn hammer(stores: Vec<Arc<dyn Storage>>, threads_each: usize, per_thread: usize) -> Vec<u64> {
    let barrier = Arc::new(Barrier::new(stores.len() * threads_each));
    let handles: Vec<_> = stores
        .into_iter()
        .flat_map(|s| std::iter::repeat_n(s, threads_each))
        .map(|s| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..per_thread).map(|_| s.increment("t", "", "seq", 1).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

fn concurrent_increments_from_many_threads(f: &S) {
    assert_exact(hammer(vec![f.store.clone()], 8, 50), 400);
    assert_eq!(f.store.get("t", "", "seq").unwrap().as_deref(), Some(&b"400"[..]));
}

fn increments_from_independent_connections(f: &S) {
    let stores = vec![f.store.clone(), (f.reopen)(), (f.reopen)()];
    assert_exact(hammer(stores, 3, 40), 360);
    assert_eq!((f.reopen)().get("t", "", "seq").unwrap().as_deref(), Some(&b"360"[..]));
}

fn batch_operations(f: &S) {
    let s = &f.store;
    s.set_many("t", "", &[]).unwrap();
    assert!(s.get_many("t", "", &[]).unwrap().is_empty());
    s.delete_many("t", "", &[]).unwrap();
    let entries =
        vec![("m1".to_string(), b"1".to_vec()), ("m2".into(), b"2".to_vec()), ("m1".into(), b"last".to_vec())];
    s.set_many("t", "", &entries).unwrap();
    let keys: Vec<String> = ["m2", "missing", "m1", "m2"].map(String::from).to_vec();
    let got = s.get_many("t", "", &keys).unwrap();
    assert_eq!(got, vec![Some(b"2".to_vec()), None, Some(b"last".to_vec()), Some(b"2".to_vec())]);
    s.delete_many("t", "", &["m1".into(), "missing".into()]).unwrap();
    assert_eq!(s.get_many("t", "", &keys).unwrap(), vec![Some(b"2".to_vec()), None, None, Some(b"2".to_vec())]);
}

fn writes_are_visible_to_another_connection(f: &S) {
    f.store.set("t", "", "k", b"v").unwrap();
    f.store.increment("t", "", "n", 3).unwrap();
    let other = (f.reopen)();
    assert_eq!(other.get("t", "", "k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(other.increment("t", "", "n", 1).unwrap(), 4);
}

/// What quotas (`usage`, `value_sizes`) and key rotation (`scopes`) read: bytes are key plus
/// value lengths, over every bucket of the namespace.
fn usage_sizes_and_scopes_for_quotas_and_rotation(f: &S) {
    let s = &f.store;
    s.set("c", "", "k", b"12345").unwrap();
    s.set("c", "x", "kk", b"1").unwrap();
    s.set("d", "", "k", b"").unwrap();
    assert_eq!(s.usage("c").unwrap(), Usage { keys: 2, bytes: 9 });
    assert_eq!(s.usage("none").unwrap(), Usage::default());
    let sizes = s.value_sizes("c", "", &["k".into(), "missing".into()]).unwrap();
    assert_eq!(sizes, vec![Some(5), None]);
    let expected = [("c", ""), ("c", "x"), ("d", "")].map(|(n, b)| (n.to_string(), b.to_string()));
    assert_eq!(s.scopes().unwrap(), expected);
    s.delete("c", "x", "kk").unwrap();
    assert_eq!(s.scopes().unwrap(), [("c", ""), ("d", "")].map(|(n, b)| (n.to_string(), b.to_string())));
}

type L = Fixture<dyn LeaseStore>;
const LONG: Duration = Duration::from_secs(60);

fn is_fenced(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Fenced>().is_some()
}

fn contenders_get_one_lease(f: &L) {
    // 8 holders on independent connections race for one tenant: exactly one wins.
    let stores: Vec<_> = (0..8).map(|_| (f.reopen)()).collect();
    let barrier = Arc::new(Barrier::new(stores.len()));
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                s.acquire("acme", &format!("host-{i}"), LONG).unwrap()
            })
        })
        .collect();
    let winners: Vec<_> = handles.into_iter().filter_map(|h| h.join().unwrap()).collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(f.store.acquire("acme", "late", LONG).unwrap().is_none(), "held: no one else gets it");
    assert!(f.store.acquire("other", "late", LONG).unwrap().is_some(), "leases are per tenant");
}

fn an_expired_lease_is_taken_over_and_the_stale_holder_is_fenced(f: &L) {
    let a = f.store.acquire("acme", "a", Duration::from_millis(300)).unwrap().expect("free");
    let a_store = f.store.fenced(&a);
    a_store.set("tenant/acme", "", "k", b"from a").unwrap();
    // `a` pauses past its expiry (as a SIGSTOPped process would)...
    std::thread::sleep(Duration::from_millis(600));
    let other = (f.reopen)();
    let b = other.acquire("acme", "b", LONG).unwrap().expect("an expired lease is free");
    assert!(b.token > a.token, "tokens grow: {} then {}", a.token, b.token);
    assert!(!f.store.renew(&a, LONG).unwrap(), "the stale holder cannot renew");
    // ...and wakes up: every kind of write it makes is refused.
    let e = a_store.set("tenant/acme", "", "k", b"late a").unwrap_err();
    assert!(is_fenced(&e), "{e:#}");
    assert!(is_fenced(&a_store.delete("tenant/acme", "", "k").unwrap_err()));
    assert!(is_fenced(&a_store.increment("tenant/acme", "", "n", 1).unwrap_err()));
    assert!(is_fenced(&a_store.set_many("tenant/acme", "", &[("k".into(), b"x".to_vec())]).unwrap_err()));
    assert!(is_fenced(&a_store.delete_many("tenant/acme", "", &["k".into()]).unwrap_err()));
    assert_eq!(a_store.get("tenant/acme", "", "k").unwrap().as_deref(), Some(&b"from a"[..]), "reads still work");
    other.fenced(&b).set("tenant/acme", "", "k", b"from b").unwrap();
    assert_eq!(f.store.get("tenant/acme", "", "k").unwrap().as_deref(), Some(&b"from b"[..]));
    assert_eq!(f.store.get("tenant/acme", "", "n").unwrap(), None, "the refused increment left nothing");
    f.store.release(&a).unwrap();
    assert!(f.store.acquire("acme", "c", LONG).unwrap().is_none(), "a stale release does not free b's lease");
}

fn release_frees_the_lease_and_fences_its_writes(f: &L) {
    let a = f.store.acquire("acme", "a", LONG).unwrap().unwrap();
    assert!(f.store.renew(&a, LONG).unwrap(), "the holder renews");
    f.store.release(&a).unwrap();
    assert!(is_fenced(&f.store.fenced(&a).set("tenant/acme", "", "k", b"v").unwrap_err()));
    let b = f.store.acquire("acme", "b", LONG).unwrap().expect("released: free at once");
    assert!(b.token > a.token);
}

fn fenced_writes_of_the_current_holder_go_through(f: &L) {
    let a = f.store.acquire("acme", "a", LONG).unwrap().unwrap();
    let s = f.store.fenced(&a);
    s.set("tenant/acme", "", "k", b"v").unwrap();
    assert_eq!(s.increment("tenant/acme", "", "n", 2).unwrap(), 2);
    s.set_many("tenant/acme", "", &[("m".into(), b"1".to_vec())]).unwrap();
    s.delete_many("tenant/acme", "", &["m".into()]).unwrap();
    s.delete("tenant/acme", "", "k").unwrap();
    assert_eq!(s.list_keys("tenant/acme", "", None, 10).unwrap().keys, vec!["n"]);
    // A fence is per tenant: a lease of another tenant does not admit writes.
    let other = Lease { tenant: "globex".into(), ..a.clone() };
    assert!(is_fenced(&f.store.fenced(&other).set("tenant/acme", "", "k", b"v").unwrap_err()));
    // Many writers on one fence: every increment lands once.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..25).map(|_| s.increment("tenant/acme", "", "seq", 1).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    assert_exact(handles.into_iter().flat_map(|h| h.join().unwrap()).collect(), 100);
}

type Q = Fixture<Queues>;

fn the_inbox_queues_once_and_claims_in_order_under_a_lease(f: &Q) {
    let (q, leases) = (&f.store.queue, &f.store.leases);
    assert!(q.enqueue_if_new("a", "e1", b"1").unwrap());
    assert!(q.enqueue_if_new("a", "e2", b"2").unwrap());
    assert!(!q.enqueue_if_new("a", "e1", b"again").unwrap(), "a replay is not queued");
    assert!(q.enqueue_if_new("b", "e1", b"other tenant").unwrap(), "ids are per tenant");
    assert_eq!(q.depth().unwrap(), 3);
    let mut with_work = q.tenants_with_work().unwrap();
    with_work.sort();
    assert_eq!(with_work, ["a", "b"]);
    let lease = leases.acquire("a", "p1", LONG).unwrap().unwrap();
    let first = q.claim_next(&lease).unwrap().unwrap();
    assert_eq!((first.event_id.as_str(), first.payload.as_slice(), first.attempts), ("e1", &b"1"[..], 0));
    assert!(q.complete(first.id, &lease).unwrap());
    let second = q.claim_next(&lease).unwrap().unwrap();
    assert_eq!(second.event_id, "e2");
    assert_eq!(q.claim_next(&lease).unwrap(), None, "e2 is claimed, nothing else of a's is queued");
    assert_eq!(q.tenants_with_work().unwrap(), ["b"]);
    // The holder gives up (a process stopping) holding e2: the next holder gets it back.
    leases.release(&lease).unwrap();
    let other = (f.reopen)();
    let next = other.leases.acquire("a", "p2", LONG).unwrap().unwrap();
    assert_eq!(other.queue.requeue_stale_claims(&next).unwrap(), 1);
    let again = other.queue.claim_next(&next).unwrap().unwrap();
    assert_eq!((again.event_id.as_str(), again.attempts), ("e2", 1));
    other.queue.requeue(again.id, &next).unwrap();
    let again = other.queue.claim_next(&next).unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert!(other.queue.complete(again.id, &next).unwrap());
    assert!(!q.enqueue_if_new("a", "e1", b"1").unwrap(), "done items still stop replays");
    assert_eq!(q.prune(1).unwrap(), 0, "completed just now: kept");
    assert_eq!(q.depth().unwrap(), 1, "b's item");
}

fn a_stale_holder_cannot_claim_or_complete(f: &Q) {
    let (q, leases) = (&f.store.queue, &f.store.leases);
    q.enqueue_if_new("a", "e1", b"1").unwrap();
    q.enqueue_if_new("a", "e2", b"2").unwrap();
    let stale = leases.acquire("a", "paused", std::time::Duration::from_millis(300)).unwrap().unwrap();
    let item = q.claim_next(&stale).unwrap().unwrap();
    // The holder pauses past its expiry (SIGSTOP); another takes over and re-runs the item.
    assert_eq!(q.claim_next(&stale).unwrap().unwrap().event_id, "e2");
    assert!(q.tenants_with_work().unwrap().is_empty(), "both claimed under a live lease: nothing to do");
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(q.tenants_with_work().unwrap(), ["a"], "claims under an expired lease are work to resume");
    let other = (f.reopen)();
    let current = other.leases.acquire("a", "awake", LONG).unwrap().expect("expired: free");
    assert_eq!(other.queue.requeue_stale_claims(&current).unwrap(), 2);
    // The stale holder wakes: it can neither finish its old claim nor claim anything new.
    assert!(is_fenced(&q.complete(item.id, &stale).unwrap_err()));
    assert!(is_fenced(&q.claim_next(&stale).unwrap_err()));
    assert!(is_fenced(&q.requeue(item.id, &stale).unwrap_err()));
    let mut seen = Vec::new();
    while let Some(i) = other.queue.claim_next(&current).unwrap() {
        assert!(other.queue.complete(i.id, &current).unwrap());
        seen.push(i.event_id);
    }
    assert_eq!(seen, ["e1", "e2"], "both run once, by the current holder, in order");
    // Even a claim the stale holder still names is not its own any more.
    assert!(!other.queue.complete(item.id, &current).unwrap(), "already done: completing again changes nothing");
}

fn many_processes_drain_every_event_exactly_once(f: &Q) {
    let tenants: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    for t in &tenants {
        for e in 0..20 {
            f.store.queue.enqueue_if_new(t, &format!("e{e}"), t.as_bytes()).unwrap();
        }
    }
    let handles: Vec<_> = (0..4)
        .map(|p| {
            let process = (f.reopen)();
            std::thread::spawn(move || {
                let mut done: Vec<(String, String)> = Vec::new();
                let holder = format!("process-{p}");
                loop {
                    let with_work = process.queue.tenants_with_work().unwrap();
                    if with_work.is_empty() {
                        return done;
                    }
                    for tenant in with_work {
                        let Some(lease) = process.leases.acquire(&tenant, &holder, LONG).unwrap() else { continue };
                        process.queue.requeue_stale_claims(&lease).unwrap();
                        while let Some(item) = process.queue.claim_next(&lease).unwrap() {
                            assert!(process.queue.complete(item.id, &lease).unwrap());
                            done.push((tenant.clone(), item.event_id));
                        }
                        process.leases.release(&lease).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<(String, String)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), 200, "every event once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "no event twice");
    assert_eq!(f.store.queue.depth().unwrap(), 0);
}

/// What `serve` does with due runs, as one process: every due tenant whose lease it gets has its
/// run claimed; tenants another process holds are left due. Returns the claims.
fn claim_what_is_due(process: &Queues, holder: &str, tenants: &[String], periods: Periods) -> Vec<(String, Claimed)> {
    let mut claimed = Vec::new();
    for (tenant, _) in process.queue.due(tenants, periods).unwrap() {
        let Some(lease) = process.leases.acquire(&tenant, holder, LONG).unwrap() else { continue };
        if let Some(run) = process.queue.claim_run(&lease, periods).unwrap() {
            claimed.push((tenant, run));
        }
        process.leases.release(&lease).unwrap();
    }
    claimed
}

fn kinds(claims: Vec<(String, Claimed)>) -> Vec<(String, RunKind)> {
    claims.into_iter().map(|(t, c)| (t, c.kind)).collect()
}

fn each_due_run_goes_to_one_process(f: &Q) {
    let tenants: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    // Syncs 100 days apart: no tenant's first sync falls in the few seconds below.
    let periods = Periods { tick: std::time::Duration::from_secs(3), sync: std::time::Duration::from_secs(8_640_000) };
    // First sight: every tenant's first tick lands somewhere within one period.
    let first = f.store.queue.due(&tenants, periods).unwrap();
    assert!(first.len() < tenants.len(), "first runs are spread, not all at once: {}", first.len());
    std::thread::sleep(std::time::Duration::from_millis(3100));
    // Every first tick has passed, and reading what is due claims nothing: all are still due.
    for _ in 0..2 {
        let due = f.store.queue.due(&tenants, periods).unwrap();
        assert_eq!(due.len(), tenants.len(), "{due:?}");
        assert!(due.iter().all(|(_, kind)| *kind == RunKind::Tick));
    }
    // Four processes race until nothing is due. A tick almost a period late is followed by the
    // next soon after (the schedule keeps its rate), so a tenant may be claimed again in the race,
    // but never for the same due time.
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|p| {
            let (process, tenants, barrier) = ((f.reopen)(), tenants.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut claimed = Vec::new();
                loop {
                    let more = claim_what_is_due(&process, &format!("p{p}"), &tenants, periods);
                    if more.is_empty() && process.queue.due(&tenants, periods).unwrap().is_empty() {
                        return claimed;
                    }
                    claimed.extend(more);
                }
            })
        })
        .collect();
    let claimed: Vec<(String, Claimed)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let mut runs: Vec<(&str, i64)> = claimed.iter().map(|(t, c)| (t.as_str(), c.due_ms)).collect();
    runs.sort();
    let mut unique = runs.clone();
    unique.dedup();
    assert_eq!(runs, unique, "no run claimed twice");
    let mut names: Vec<&str> = runs.iter().map(|(t, _)| *t).collect();
    names.dedup();
    let mut expected: Vec<&str> = tenants.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(names, expected, "every tenant's due run claimed");
    // Tenants not asked about are left alone.
    assert!(f.store.queue.due(&[], periods).unwrap().is_empty());
}

fn a_due_run_waits_for_its_tenant_and_only_the_holder_claims_it(f: &Q) {
    let tenants = vec!["a".to_owned()];
    let ms = std::time::Duration::from_millis;
    let periods = Periods { tick: ms(200), sync: std::time::Duration::from_secs(8_640_000) };
    f.store.queue.due(&tenants, periods).unwrap();
    std::thread::sleep(ms(300));
    // Another process holds the tenant (a long call): the run stays due however often it is read.
    let busy = (f.reopen)();
    let held = busy.leases.acquire("a", "busy", LONG).unwrap().unwrap();
    for _ in 0..3 {
        assert_eq!(kinds(claim_what_is_due(&f.store, "scheduler", &tenants, periods)), []);
        assert_eq!(f.store.queue.due(&tenants, periods).unwrap(), [("a".to_owned(), RunKind::Tick)]);
        std::thread::sleep(ms(100));
    }
    // A stale holder cannot claim it.
    let stale = Lease { token: held.token - 1, ..held.clone() };
    assert!(is_fenced(&f.store.queue.claim_run(&stale, periods).unwrap_err()));
    // The tenant frees up: the run is claimed once, by whoever takes the lease next.
    busy.leases.release(&held).unwrap();
    assert_eq!(kinds(claim_what_is_due(&f.store, "scheduler", &tenants, periods)), [("a".to_owned(), RunKind::Tick)]);
    let lease = f.store.leases.acquire("a", "again", LONG).unwrap().unwrap();
    assert_eq!(f.store.queue.claim_run(&lease, periods).unwrap(), None, "claimed already, not due");
    f.store.leases.release(&lease).unwrap();
    // More than a period late: the next tick is a period from the claim, not a burst of catch-ups.
    std::thread::sleep(ms(700));
    assert_eq!(kinds(claim_what_is_due(&f.store, "scheduler", &tenants, periods)), [("a".to_owned(), RunKind::Tick)]);
    assert_eq!(kinds(claim_what_is_due(&f.store, "scheduler", &tenants, periods)), []);
}

fn a_shorter_period_takes_effect_at_once(f: &Q) {
    let tenants: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    // Ticks 100 days apart: none falls due in the half second below.
    let hundred_days = std::time::Duration::from_secs(8_640_000);
    let slow = Periods { tick: hundred_days, sync: hundred_days };
    f.store.queue.due(&tenants, slow).unwrap();
    // Restarted with syncs every 200 ms: every tenant's sync is due within one such period, not
    // at the far-off time the slow schedule had set.
    let fast = Periods { tick: hundred_days, sync: std::time::Duration::from_millis(200) };
    let other = (f.reopen)();
    let mut synced = std::collections::BTreeSet::new();
    for _ in 0..10 {
        for (tenant, kind) in kinds(claim_what_is_due(&other, "restarted", &tenants, fast)) {
            assert_eq!(kind, RunKind::Sync);
            synced.insert(tenant);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(synced.len(), tenants.len(), "{synced:?}");
}

fn failed_events_back_off_then_become_dead_letters_once(f: &Q) {
    let (q, leases) = (&f.store.queue, &f.store.leases);
    let hour = std::time::Duration::from_secs(3600);
    q.enqueue_if_new("a", "e1", b"1").unwrap();
    q.enqueue_if_new("a", "e2", b"2").unwrap();
    let lease = leases.acquire("a", "p1", LONG).unwrap().unwrap();
    // e1 fails: back in the queue, due an hour after it failed; e2, behind it, runs meanwhile.
    let e1 = q.claim_next(&lease).unwrap().unwrap();
    assert!(q.fail(e1.id, &lease, "Humaans answered 500", Some(hour)).unwrap());
    assert!(!q.fail(e1.id, &lease, "again", None).unwrap(), "no longer claimed: nothing changes");
    let e2 = q.claim_next(&lease).unwrap().unwrap();
    assert_eq!((e2.event_id.as_str(), e2.attempts), ("e2", 0));
    assert_eq!(q.claim_next(&lease).unwrap(), None, "e1 is not due for an hour");
    // e2 fails twice: retried at once (a zero delay), then dead, exactly once.
    assert!(q.fail(e2.id, &lease, "first", Some(std::time::Duration::ZERO)).unwrap());
    let again = q.claim_next(&lease).unwrap().unwrap();
    assert_eq!((again.event_id.as_str(), again.attempts), ("e2", 1));
    assert!(q.fail(again.id, &lease, "trap: unreachable", None).unwrap());
    assert!(!q.fail(again.id, &lease, "trap: unreachable", None).unwrap(), "dead once");
    assert_eq!(q.claim_next(&lease).unwrap(), None, "a dead letter is not claimed");
    assert!(q.tenants_with_work().unwrap().is_empty(), "nothing due: no work");
    assert_eq!((q.depth().unwrap(), q.dead_letters().unwrap()), (1, 1), "e1 queued, e2 dead");
    let failed = q.failed("a").unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let (f1, f2) = (&failed[0], &failed[1]);
    assert_eq!((f1.event_id.as_str(), f1.attempts, f1.error.as_str()), ("e1", 1, "Humaans answered 500"));
    assert_eq!(f1.retry_at_ms.map(|at| at - f1.failed_at_ms), Some(3_600_000), "due exactly the delay later");
    assert_eq!((f2.event_id.as_str(), f2.attempts, f2.error.as_str()), ("e2", 2, "trap: unreachable"));
    assert_eq!((f2.retry_at_ms, f2.payload.as_slice()), (None, &b"2"[..]), "a dead letter");
    assert!(q.failed("b").unwrap().is_empty(), "per tenant");
    assert_eq!(q.prune(0).unwrap(), 0, "dead letters are kept");
    // A stale holder cannot fail (or kill) an item.
    leases.release(&lease).unwrap();
    let other = (f.reopen)();
    let next = other.leases.acquire("a", "p2", LONG).unwrap().unwrap();
    assert!(is_fenced(&q.fail(e1.id, &lease, "late", None).unwrap_err()));
    // Re-queued by an operator: due at once, attempts counted afresh, applied, and replays of it
    // are still recognised.
    assert!(!other.queue.retry_dead("a", "e1").unwrap(), "e1 is not a dead letter");
    assert!(other.queue.retry_dead("a", "e2").unwrap());
    assert!(!other.queue.retry_dead("a", "e2").unwrap(), "re-queued once");
    assert_eq!(other.queue.dead_letters().unwrap(), 0);
    assert_eq!(other.queue.tenants_with_work().unwrap(), ["a"]);
    let retried = other.queue.claim_next(&next).unwrap().unwrap();
    assert_eq!((retried.event_id.as_str(), retried.attempts), ("e2", 0));
    assert!(other.queue.complete(retried.id, &next).unwrap());
    assert_eq!(other.queue.failed("a").unwrap().iter().map(|f| f.event_id.as_str()).collect::<Vec<_>>(), ["e1"]);
    assert!(!other.queue.enqueue_if_new("a", "e2", b"2").unwrap(), "a replay of it is not queued");
}
