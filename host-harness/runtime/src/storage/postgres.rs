//! PostgreSQL storage: the store several host processes (machines) share.
//!
//! Driver: the sync `postgres` crate. It runs its own small tokio runtime per client and panics if
//! called on a thread that is inside a runtime, and `Storage` is called from tokio worker threads
//! (inside wasmtime fibers). So each connection lives on a dedicated thread of a small pool; a call
//! sends a job over a channel and blocks on the reply, as a SQLite call blocks on its file. The hop
//! costs a few microseconds (measured by `cargo test -p host-harness --lib store_latency -- --nocapture`).
//!
//! Schema: versioned SQL embedded below, applied on open in one transaction under an advisory
//! lock (so processes starting together migrate once), recorded in `schema_version`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use postgres::{Client, GenericClient, NoTls, Statement};

use super::kv::{KeyPage, Storage, Usage, incremented};
use super::lease::{Fenced, Lease, LeaseStore};

/// Connections (and threads) per store: calls beyond this many at once queue.
const POOL_SIZE: usize = 4;
/// The longest a session may sit idle inside a transaction (ours last milliseconds).
const IDLE_IN_TRANSACTION_MS: u32 = 5_000;
/// Any constant; held with `pg_advisory_xact_lock` while migrating.
const MIGRATION_LOCK: i64 = 0x6868_6d69_6772;

/// (version, SQL). Append only: a released version is never edited.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        // Keys sort bytewise (COLLATE "C"), as in SQLite and the memory store, so paging agrees.
        r#"CREATE TABLE kv (
           namespace text COLLATE "C" NOT NULL,
           bucket    text COLLATE "C" NOT NULL,
           key       text COLLATE "C" NOT NULL,
           value     bytea NOT NULL,
           PRIMARY KEY (namespace, bucket, key));
       CREATE SEQUENCE lease_tokens;
       CREATE TABLE leases (
           tenant     text PRIMARY KEY,
           holder     text NOT NULL,
           token      bigint NOT NULL,
           expires_at timestamptz NOT NULL);"#,
    ),
    (
        2,
        // `serve`'s shared work (storage/queue.rs): the webhook inbox and the schedule.
        r#"CREATE TABLE inbox (
               id          bigserial PRIMARY KEY,
               tenant      text NOT NULL,
               event_id    text NOT NULL,
               payload     bytea NOT NULL,
               state       text NOT NULL DEFAULT 'queued',
               attempts    integer NOT NULL DEFAULT 0,
               claim_token bigint,
               enqueued_at timestamptz NOT NULL DEFAULT now(),
               done_at     timestamptz,
               UNIQUE (tenant, event_id));
           CREATE INDEX inbox_queued ON inbox (tenant, id) WHERE state = 'queued';
           CREATE INDEX inbox_claimed ON inbox (tenant) WHERE state = 'claimed';
           CREATE TABLE schedule (
               tenant    text PRIMARY KEY,
               next_tick timestamptz NOT NULL,
               next_sync timestamptz NOT NULL);"#,
    ),
    (
        3,
        // Failed inbox items (storage/queue.rs): when one is due again, its last error and when,
        // and dead letters (state 'dead').
        r#"ALTER TABLE inbox ADD COLUMN not_before timestamptz NOT NULL DEFAULT now(),
               ADD COLUMN last_error text,
               ADD COLUMN failed_at timestamptz;
           CREATE INDEX inbox_dead ON inbox (tenant, id) WHERE state = 'dead';"#,
    ),
];

const GET: &str = "SELECT value FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3";
const SET: &str = "INSERT INTO kv (namespace, bucket, key, value) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = EXCLUDED.value";
const DELETE: &str = "DELETE FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3";
const LIST: &str = "SELECT key FROM kv WHERE namespace = $1 AND bucket = $2 ORDER BY key LIMIT $3 OFFSET $4";
const GET_MANY: &str = "SELECT key, value FROM kv WHERE namespace = $1 AND bucket = $2 AND key = ANY($3)";
const SET_MANY: &str = "INSERT INTO kv (namespace, bucket, key, value) \
                        SELECT $1, $2, k, v FROM unnest($3::text[], $4::bytea[]) AS t(k, v) \
                        ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = EXCLUDED.value";
const DELETE_MANY: &str = "DELETE FROM kv WHERE namespace = $1 AND bucket = $2 AND key = ANY($3)";
/// One statement, so atomic across every connection: the row lock of the upsert orders them.
/// Only a value of decimal digits whose sum stays within u64 is updated; otherwise no row comes
/// back and the caller reads the value to say why (as the other backends would).
const INCREMENT: &str = "INSERT INTO kv (namespace, bucket, key, value) VALUES ($1, $2, $3, convert_to($4::text, 'UTF8')) \
     ON CONFLICT (namespace, bucket, key) DO UPDATE \
     SET value = convert_to((encode(kv.value, 'escape')::numeric + $4::text::numeric)::text, 'UTF8') \
     WHERE CASE WHEN encode(kv.value, 'escape') ~ '^[0-9]{1,20}$' \
           THEN encode(kv.value, 'escape')::numeric + $4::text::numeric <= 18446744073709551615 ELSE false END \
     RETURNING encode(value, 'escape')";
/// Holding the lease row FOR SHARE until the write commits: a takeover (an UPDATE of that row)
/// waits for the write, and a write that starts after a takeover sees the new token and is
/// refused. Either way no stale write lands after the new holder has started.
const FENCE: &str = "SELECT 1 FROM leases WHERE tenant = $1 AND token = $2 AND expires_at > now() FOR SHARE";
const ACQUIRE: &str = "INSERT INTO leases (tenant, holder, token, expires_at) \
     VALUES ($1, $2, nextval('lease_tokens'), now() + $3::bigint * interval '1 millisecond') \
     ON CONFLICT (tenant) DO UPDATE SET holder = EXCLUDED.holder, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at \
     WHERE leases.expires_at <= now() \
     RETURNING token";
const RENEW: &str = "UPDATE leases SET expires_at = now() + $3::bigint * interval '1 millisecond' \
                     WHERE tenant = $1 AND token = $2 AND expires_at > now()";
const RELEASE: &str = "DELETE FROM leases WHERE tenant = $1 AND token = $2";

/// A connection and its prepared statements (a statement prepared once saves a round trip a call).
pub(crate) struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

struct Worker {
    config: postgres::Config,
    target: Arc<str>,
    conn: Option<Conn>,
}

impl Worker {
    /// The connection, (re)opened if it is missing or was lost (a server restart).
    fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            let mut client = self
                .config
                .connect(NoTls)
                .map_err(|e| anyhow!("cannot connect to PostgreSQL at {}: {}", self.target, one_line(&e)))?;
            // A process paused (SIGSTOP, a VM freeze) inside one of its short transactions would
            // hold its row locks, a fence's lock on a lease row included, and stall a takeover
            // for as long as it sleeps: the server ends such a session instead.
            client
                .batch_execute(&format!("SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}"))
                .map_err(|e| anyhow!("cannot configure the PostgreSQL session: {}", one_line(&e)))?;
            self.conn = Some(Conn { client, prepared: HashMap::new() });
        }
        Ok(self.conn.as_mut().unwrap())
    }
}

/// A driver error with its causes, on one line.
fn one_line(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s = format!("{s}: {text}");
        }
        source = cause.source();
    }
    s.replace('\n', " ")
}

pub(super) struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    target: Arc<str>,
}

impl Pool {
    /// Runs `f` on a pooled connection and waits for its answer.
    fn run<R: Send + 'static>(&self, f: impl FnOnce(&mut Conn) -> Result<R> + Send + 'static) -> Result<R> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |w: &mut Worker| {
            let _ = reply.send(w.conn().and_then(f));
        });
        let sender = self.jobs.lock().unwrap().clone().ok_or_else(|| anyhow!("the PostgreSQL store is closed"))?;
        sender.send(job).map_err(|_| anyhow!("the PostgreSQL store is closed"))?;
        let target = self.target.clone();
        answer.recv().map_err(|_| anyhow!("a PostgreSQL connection thread for {target} stopped"))?
    }

    /// Runs `op` on a pooled connection; with a `fence`, in a transaction that first checks
    /// that the lease is still current and holds it until the commit.
    pub(super) fn exec<R: Send + 'static>(
        &self,
        fence: Option<Lease>,
        op: impl FnOnce(&mut dyn Exec) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.run(move |c| {
            let Conn { client, prepared } = c;
            let Some(lease) = fence else {
                return op(&mut On { client, prepared });
            };
            let mut tx = client.transaction()?;
            let mut on = On { client: &mut tx, prepared };
            if on.query(FENCE, &[&lease.tenant, &lease.token])?.is_empty() {
                return Err(anyhow::Error::new(Fenced { tenant: lease.tenant, token: lease.token }));
            }
            let r = op(&mut on)?;
            tx.commit()?;
            Ok(r)
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.lock().unwrap().take();
        for t in self.threads.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }
}

/// What an operation needs from a connection or a transaction: run a (cached) prepared statement.
pub(super) trait Exec {
    fn execute(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64>;
    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>>;
}

struct On<'a, C: GenericClient> {
    client: &'a mut C,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

impl<C: GenericClient> On<'_, C> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }
}

impl<C: GenericClient> Exec for On<'_, C> {
    fn execute(&mut self, sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        Ok(self.client.execute(&s, params)?)
    }
    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        Ok(self.client.query(&s, params)?)
    }
}

/// An operation ready to run on a connection or inside a fenced transaction.
type Op<R> = Box<dyn FnOnce(&mut dyn Exec) -> Result<R> + Send>;

fn set_op(ns: String, bucket: String, key: String, value: Vec<u8>) -> Op<()> {
    Box::new(move |c| c.execute(SET, &[&ns, &bucket, &key, &value]).map(drop))
}

fn delete_op(ns: String, bucket: String, key: String) -> Op<()> {
    Box::new(move |c| c.execute(DELETE, &[&ns, &bucket, &key]).map(drop))
}

fn increment_op(ns: String, bucket: String, key: String, delta: u64) -> Op<u64> {
    Box::new(move |c| {
        let delta_text = delta.to_string();
        if let Some(row) = c.query(INCREMENT, &[&ns, &bucket, &key, &delta_text])?.first() {
            let text: String = row.get(0);
            return text.parse().with_context(|| format!("the counter `{key}` holds `{text}`"));
        }
        // Not updated: say why, in the words the other backends use.
        let current: Option<Vec<u8>> = c.query(GET, &[&ns, &bucket, &key])?.first().map(|r| r.get(0));
        incremented(&key, current.as_deref(), delta)?;
        bail!("`{key}` does not hold a counter")
    })
}

fn set_many_op(ns: String, bucket: String, entries: &[(String, Vec<u8>)]) -> Op<()> {
    // One upsert cannot touch a row twice: keep the last value of a repeated key, as the
    // one-at-a-time backends end up with.
    let mut last: HashMap<&str, &[u8]> = HashMap::new();
    for (k, v) in entries {
        last.insert(k, v);
    }
    let (keys, values): (Vec<String>, Vec<Vec<u8>>) = last.into_iter().map(|(k, v)| (k.to_owned(), v.to_vec())).unzip();
    Box::new(move |c| c.execute(SET_MANY, &[&ns, &bucket, &keys, &values]).map(drop))
}

fn delete_many_op(ns: String, bucket: String, keys: &[String]) -> Op<()> {
    let keys = keys.to_vec();
    Box::new(move |c| c.execute(DELETE_MANY, &[&ns, &bucket, &keys]).map(drop))
}

/// PostgreSQL storage; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct PgStorage {
    pub(super) pool: Arc<Pool>,
    /// Tenants this handle has given a schedule row (`WorkQueue::due`).
    pub(super) scheduled: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl PgStorage {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and brings the schema up
    /// to date. Errors are one line and never repeat the password.
    pub fn connect(url: &str) -> Result<PgStorage> {
        let mut config: postgres::Config =
            url.parse().map_err(|e| anyhow!("--store: not a valid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("host-harness");
        let target: Arc<str> = describe_target(&config).into();
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..POOL_SIZE)
            .map(|i| {
                let receiver = receiver.clone();
                let mut worker = Worker { config: config.clone(), target: target.clone(), conn: None };
                std::thread::Builder::new()
                    .name(format!("postgres-{i}"))
                    .spawn(move || {
                        loop {
                            let job = receiver.lock().unwrap().recv();
                            match job {
                                Ok(job) => job(&mut worker),
                                Err(_) => return,
                            }
                        }
                    })
                    .expect("cannot start a PostgreSQL connection thread")
            })
            .collect();
        let pool = Arc::new(Pool { jobs: Mutex::new(Some(sender)), threads: Mutex::new(threads), target });
        let store = PgStorage { pool, scheduled: Arc::default() };
        store.pool.run(|c| migrate(&mut c.client))?;
        Ok(store)
    }

    /// The schema version the database is at (after `connect`, the newest this build knows).
    pub fn schema_version(&self) -> Result<i32> {
        self.pool.run(|c| Ok(c.client.query_one("SELECT max(version) FROM schema_version", &[])?.get(0)))
    }

    /// A job that does nothing on a pooled connection: the cost of the thread hop alone.
    pub fn ping_pool(&self) -> Result<()> {
        self.pool.run(|_| Ok(()))
    }
}

/// `host:port/database` for messages (never the password).
fn describe_target(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().or(config.get_user()).unwrap_or("postgres"))
}

fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    let current: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?.get(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        bail!(
            "the PostgreSQL schema is at version {current}, newer than this host-harness knows ({newest}): upgrade it"
        );
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).with_context(|| format!("PostgreSQL schema migration {version} failed"))?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[version])?;
    }
    tx.commit()?;
    Ok(())
}

fn owned(ns: &str, bucket: &str, key: &str) -> (String, String, String) {
    (ns.to_owned(), bucket.to_owned(), key.to_owned())
}

impl Storage for PgStorage {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.pool.exec(None, move |c| Ok(c.query(GET, &[&ns, &bucket, &key])?.first().map(|r| r.get(0))))
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.pool.exec(None, set_op(ns, bucket, key, value.to_vec()))
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.pool.exec(None, delete_op(ns, bucket, key))
    }

    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        let (ns, bucket, _) = owned(namespace, bucket, "");
        let start = cursor.unwrap_or(0);
        let mut keys: Vec<String> = self.pool.exec(None, move |c| {
            let rows = c.query(LIST, &[&ns, &bucket, &(limit as i64 + 1), &(start as i64)])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(KeyPage { cursor: more.then_some(start + limit as u64), keys })
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.pool.exec(None, increment_op(ns, bucket, key, delta))
    }

    fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let (ns, bucket, _) = owned(namespace, bucket, "");
        let wanted = keys.to_vec();
        let found: HashMap<String, Vec<u8>> = self.pool.exec(None, move |c| {
            Ok(c.query(GET_MANY, &[&ns, &bucket, &wanted])?.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        // In the order asked; a key asked twice gets its value twice.
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.pool.exec(None, set_many_op(namespace.into(), bucket.into(), entries))
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        self.pool.exec(None, delete_many_op(namespace.into(), bucket.into(), keys))
    }

    fn usage(&self, namespace: &str) -> Result<Usage> {
        let ns = namespace.to_owned();
        self.pool.exec(None, move |c| {
            // octet_length: bytes, as SQLite's length() of a blob and of UTF-8 text counts them.
            let rows = c.query(
                "SELECT COUNT(*), COALESCE(SUM(octet_length(key) + octet_length(value)), 0)::BIGINT \
                 FROM kv WHERE namespace = $1",
                &[&ns],
            )?;
            let row = rows.first().context("PostgreSQL returned no row for a count")?;
            let (keys, bytes): (i64, i64) = (row.get(0), row.get(1));
            Ok(Usage { keys: keys as u64, bytes: bytes as u64 })
        })
    }

    fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        let (ns, bucket, _) = owned(namespace, bucket, "");
        let wanted = keys.to_vec();
        let found: HashMap<String, i32> = self.pool.exec(None, move |c| {
            let rows = c.query(
                "SELECT key, octet_length(value) FROM kv WHERE namespace = $1 AND bucket = $2 AND key = ANY($3)",
                &[&ns, &bucket, &wanted],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        Ok(keys.iter().map(|k| found.get(k).map(|n| *n as u64)).collect())
    }

    fn scopes(&self) -> Result<Vec<(String, String)>> {
        self.pool.exec(None, move |c| {
            let rows = c.query("SELECT DISTINCT namespace, bucket FROM kv ORDER BY namespace, bucket", &[])?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}

impl LeaseStore for PgStorage {
    fn acquire(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        let (tenant, holder) = (tenant.to_owned(), holder.to_owned());
        let ttl_ms = ttl.as_millis() as i64;
        self.pool.exec(None, move |c| {
            let rows = c.query(ACQUIRE, &[&tenant, &holder, &ttl_ms])?;
            Ok(rows.first().map(|r| Lease { tenant, holder, token: r.get(0) }))
        })
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        let (tenant, token, ttl_ms) = (lease.tenant.clone(), lease.token, ttl.as_millis() as i64);
        self.pool.exec(None, move |c| Ok(c.execute(RENEW, &[&tenant, &token, &ttl_ms])? == 1))
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        let (tenant, token) = (lease.tenant.clone(), lease.token);
        self.pool.exec(None, move |c| c.execute(RELEASE, &[&tenant, &token]).map(drop))
    }

    fn fenced(&self, lease: &Lease) -> Arc<dyn Storage> {
        Arc::new(FencedPg { store: self.clone(), lease: lease.clone() })
    }

    /// The same pool: one set of connections per process for the store and the queue.
    fn work_queue(&self) -> Result<Arc<dyn super::queue::WorkQueue>> {
        Ok(Arc::new(self.clone()))
    }
}

/// `PgStorage` whose writes go through only while `lease` is its tenant's current lease.
struct FencedPg {
    store: PgStorage,
    lease: Lease,
}

impl Storage for FencedPg {
    super::lease::fenced_reads!(store);

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.store.pool.exec(Some(self.lease.clone()), set_op(ns, bucket, key, value.to_vec()))
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.store.pool.exec(Some(self.lease.clone()), delete_op(ns, bucket, key))
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let (ns, bucket, key) = owned(namespace, bucket, key);
        self.store.pool.exec(Some(self.lease.clone()), increment_op(ns, bucket, key, delta))
    }

    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.store.pool.exec(Some(self.lease.clone()), set_many_op(namespace.into(), bucket.into(), entries))
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        self.store.pool.exec(Some(self.lease.clone()), delete_many_op(namespace.into(), bucket.into(), keys))
    }
}
