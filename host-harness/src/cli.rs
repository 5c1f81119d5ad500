//! The `host-harness` command line: argument definitions. `main.rs` dispatches; `operator.rs`
//! runs the operator commands; `demo.rs` the demo; `mock_cmd.rs` the standalone mocks.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::operator::logs::{self, LogsFormat};
use crate::operator::notify::{self, NotifyChange};
use crate::operator::settings::{
    self, DeprovisionLimit, DeprovisionWindow, Deprovisioning, Dialect, Provisioning, parse_deprovision_limit,
    parse_deprovision_window, parse_provisioning,
};
use crate::operator::{ConnectRequest, HostConfig, LogsQuery, SettingsChange, SyncOptions};
use crate::plugin::api;

#[derive(Parser, Debug)]
#[command(
    name = "host-harness",
    version,
    about = "Run the Humaans -> Leapsome provisioning component for a tenant, sandboxed",
    long_about = "Runs the Humaans -> Leapsome provisioning component (a WASI 0.2 component) for one tenant at a \
                  time, sandboxed: HTTP only to the hosts the tenant's connection names, storage only in the \
                  tenant's own namespace of a local database, bounded memory and CPU.\n\n\
                  Typical use: connect, configure, sync-all, then events and a periodic tick. `demo` shows \
                  all of it against built-in mock servers."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Directory of the durable store (created owner-only). Default: a per-user data directory.
    #[arg(long, global = true, value_name = "DIR", env = "HOST_HARNESS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where tenant data and policies live: `postgres://USER:PASSWORD@HOST:PORT/DB` for a PostgreSQL
    /// that several host processes share; `sqlite` (the default): `host.db` in --data-dir.
    #[arg(long, global = true, value_name = "URL", env = "HOST_HARNESS_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// The tenant (customer organisation) to act for: 1-64 letters, digits, - or _.
    #[arg(long, global = true, value_name = "ID", default_value = "default", value_parser = crate::tenant::parse_tenant_id)]
    pub tenant: String,
    /// Print one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The component file. Default: built from this workspace.
    #[arg(long, global = true, value_name = "FILE", env = "HUMAANS_LEAPSOME_COMPONENT")]
    pub component: Option<PathBuf>,
    /// The host key sealing stored tokens (32 bytes, base64 or hex; created owner-only if missing
    /// on first use). Default: host.key in the data directory. HOST_HARNESS_KEY (the key itself)
    /// takes precedence.
    #[arg(long, global = true, value_name = "FILE", env = "HOST_HARNESS_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// How long `sync-all`, `tick`, `event`, `retry` and `connect` wait while another process
    /// (a CLI command, `serve`) runs the tenant's calls, before failing with "tenant busy"; 0: not at all.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = parse_wait)]
    pub wait: std::time::Duration,
}

/// A duration, or `0`.
fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    if matches!(s, "0" | "0ms" | "0s") {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(s)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify both tokens with a real request each and save the connection.
    Connect(ConnectArgs),
    /// Choose when accounts are created and what offboarding does.
    Configure(ConfigureArgs),
    /// Back-fill the whole organisation (create, adopt, update, deprovision).
    SyncAll(SyncArgs),
    /// Deliver one employee event (the component re-reads the person from Humaans).
    Event(EventArgs),
    /// Run what has fallen due (start dates, last working days, pending managers).
    Tick(TickArgs),
    /// Show the integration log, newest first.
    Logs(LogsArgs),
    /// Show the tenant's state: connection, waiting people, held deprovisions, quarantine.
    Status,
    /// Lift a person's backoff or quarantine: the next tick tries them again.
    Retry(RetryArgs),
    /// Carry out deprovisions the brake holds: one person's, or every held one.
    Approve(ApproveArgs),
    /// Provision one person on demand, whatever the provisioning setting, with a step-by-step trace.
    Provision(ProvisionArgs),
    /// Start mock Humaans and Leapsome with a realistic organisation and play a day.
    Demo(DemoArgs),
    /// Serve the mock Humaans and Leapsome servers until interrupted.
    Mock(MockArgs),
    /// Measure sync speed, request counts, instantiation and memory against the mocks.
    Bench(BenchArgs),
    /// Re-seal every stored secret under a new host key.
    RotateKey(RotateKeyArgs),
    /// Run every tenant in the store: signed Humaans webhooks, a scheduler, an admin page and API.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct RotateKeyArgs {
    /// The new key (created owner-only if missing). Stop other host-harness processes first.
    #[arg(long, value_name = "FILE")]
    pub new_key_file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the log says which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The admin token (for the API and the admin page's login), at least 16 characters.
    #[arg(long, env = "HOST_HARNESS_ADMIN_TOKEN", hide_env_values = true, value_name = "TOKEN", hide = true)]
    pub admin_token: Option<String>,
    /// A file holding the admin token (instead of HOST_HARNESS_ADMIN_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// How often each connected tenant is ticked (e.g. 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub tick_every: std::time::Duration,
    /// How often each connected tenant runs a reconciling sync-all.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub sync_every: std::time::Duration,
    /// Writes per scheduled sync-all call (the CLI's default budget).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_writes: u32,
    /// Most tenants running a call at once (each tenant runs one call at a time).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// How long a tenant's lease lasts unless renewed (every third of it, while its calls run).
    /// Processes sharing a store take over a dead process's tenants after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub lease_ttl: std::time::Duration,
    /// Done inbox items are kept this many days (replays within it are recognised).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub keep_days: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// `debug` adds routine detail (scheduled runs waiting for a busy tenant).
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: LogLevel,
    /// Calls a failing webhook event gets before it is kept as a dead letter (`status` lists it,
    /// `retry --event ID` re-queues it).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub event_attempts: u32,
    /// The wait before a failed event's second call; each later wait is twice the one before.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub event_backoff: std::time::Duration,
    #[command(flatten)]
    pub http: ServeHttpArgs,
}

/// serve's HTTP side: connections, timeouts, TLS.
#[derive(Args, Debug, Clone)]
pub struct ServeHttpArgs {
    /// Most connections open at once; more wait in the listen queue until one closes.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Time a client has to send a request's head (and the TLS handshake before it); also how
    /// long a kept-alive connection may sit idle. At most 30s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_header_timeout)]
    pub header_timeout: std::time::Duration,
    /// Time to answer one request, its body included, before a 408.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A proxy in front ends HTTPS: session cookies are `Secure`, and login attempts are counted
    /// per client as the proxy names it (the last X-Forwarded-For address).
    #[arg(long)]
    pub behind_https_proxy: bool,
}

impl Default for ServeHttpArgs {
    /// The flags' defaults (for `demo --serve`).
    fn default() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            http: ServeHttpArgs,
        }
        Only::parse_from(["serve"]).http
    }
}

// serve takes its own config (`serve::ServeConfig`), made here from the flags.

impl From<ServeArgs> for crate::serve::ServeConfig {
    fn from(a: ServeArgs) -> Self {
        crate::serve::ServeConfig {
            listen: a.listen,
            admin_token: a.admin_token,
            admin_token_file: a.admin_token_file,
            tick_every: a.tick_every,
            sync_every: a.sync_every,
            max_writes: a.max_writes,
            workers: a.workers,
            lease_ttl: a.lease_ttl,
            keep_days: a.keep_days,
            log_format: match a.log_format {
                LogFormat::Text => crate::serve::log::LogFormat::Text,
                LogFormat::Json => crate::serve::log::LogFormat::Json,
            },
            log_level: match a.log_level {
                LogLevel::Info => crate::serve::log::LogLevel::Info,
                LogLevel::Debug => crate::serve::log::LogLevel::Debug,
            },
            event_attempts: a.event_attempts,
            event_backoff: a.event_backoff,
            http: a.http.into(),
        }
    }
}

impl From<ServeHttpArgs> for crate::serve::HttpConfig {
    fn from(a: ServeHttpArgs) -> Self {
        crate::serve::HttpConfig {
            max_connections: a.max_connections,
            header_timeout: a.header_timeout,
            request_timeout: a.request_timeout,
            tls_cert: a.tls_cert,
            tls_key: a.tls_key,
            behind_https_proxy: a.behind_https_proxy,
        }
    }
}

fn parse_header_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d > std::time::Duration::from_secs(30) {
        return Err(format!("`{s}`: the header timeout is at most 30s"));
    }
    Ok(d)
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Debug,
}

pub use crate::operator::settings::parse_duration;

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Humaans API base URL.
    #[arg(long, value_name = "URL", default_value = "https://app.humaans.io/api")]
    pub humaans_url: String,
    /// Leapsome SCIM base URL.
    #[arg(long, value_name = "URL", default_value = "https://api.leapsome.com/scim/v1")]
    pub scim_url: String,
    /// Humaans API token (prefer the environment variable, out of shell history).
    #[arg(long, env = "HUMAANS_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub humaans_token: String,
    /// Leapsome SCIM token (prefer the environment variable, out of shell history).
    #[arg(long, env = "LEAPSOME_SCIM_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub scim_token: String,
    /// The secret Humaans signs webhooks with, for `serve` (default: keep the saved one).
    #[arg(long, env = "HUMAANS_WEBHOOK_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub webhook_secret: Option<String>,
    /// Requests a second the SCIM service allows (default: Leapsome's 30); 0 turns pacing off.
    #[arg(long, value_name = "N")]
    pub scim_rate_limit: Option<u32>,
    /// Another host[:port] the tenant may reach (repeatable).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub allow_host: Vec<String>,
}

/// The settings to change. A flag left out keeps the tenant's current value (`configure
/// --deprovision-limit 10%` changes the limit only); `operator::merge_settings` applies them.
#[derive(Args, Debug, Default)]
pub struct ConfigureArgs {
    /// off | immediately | on-start-date | days-before-start:N (default for a new tenant: off)
    #[arg(long, value_parser = parse_provisioning)]
    pub provisioning: Option<Provisioning>,
    /// What offboarding does (default for a new tenant: off).
    #[arg(long, value_parser = words(&settings::DEPROVISIONING_WORDS, settings::parse_deprovisioning))]
    pub deprovisioning: Option<Deprovisioning>,
    /// The SCIM dialect (default for a new tenant: leapsome).
    #[arg(long, value_parser = words(&settings::DIALECT_WORDS, settings::parse_dialect))]
    pub dialect: Option<Dialect>,
    /// Most people one sync or tick may deprovision before all its deprovisions are held for
    /// approval: N people, P% of managed accounts, or `default`: max(5, 10%).
    #[arg(long, value_name = "N|P%|default", value_parser = parse_deprovision_limit)]
    pub deprovision_limit: Option<DeprovisionLimit>,
    /// The rolling window the limit counts over, every deprovision from syncs, ticks and events
    /// together: a duration in whole minutes from 1m to 30d (e.g. 24h, 90m, 7d), or `default`
    /// (24h).
    #[arg(long, value_name = "DURATION|default", value_parser = parse_deprovision_window)]
    pub deprovision_window: Option<DeprovisionWindow>,
    /// Humaans teams become Leapsome teams of the same name, whose members are the team's people
    /// with an account (on | off; default for a new tenant: off).
    #[arg(long, value_name = "on|off", value_parser = settings::parse_on_off)]
    pub teams: Option<bool>,
    /// Log entries to keep, the newest: 100 to 100,000, or `default` (5,000). Lowering it
    /// deletes the older entries at once.
    #[arg(long, value_name = "N|default", value_parser = settings::parse_log_retention)]
    pub log_retention: Option<settings::LogRetention>,
    /// Extra fields written to Leapsome besides the article's: any of start-date, end-date,
    /// location, gender, birthday and custom:HUMAANS_FIELD=LEAPSOME_ATTRIBUTE_ID (24 hex),
    /// comma-separated, or `none`. Gender and birthday are personal data (never logged).
    #[arg(long = "map", value_name = "FIELDS|none", value_parser = settings::parse_field_list)]
    pub extra_fields: Option<settings::FieldList>,
    /// Where to POST a message (Slack-compatible JSON, `{"text": …}`) when something needs a
    /// person: an https URL (http only on this machine), or `none` to stop notifications.
    #[arg(long, value_name = "URL|none", value_parser = notify::parse_notify_url)]
    pub notify_url: Option<notify::UrlOrNone>,
    /// Sign each message: `X-Signature: sha256=<HMAC-SHA256 of the body>` under this secret (16
    /// characters or more), or `none`. Kept sealed, never shown.
    #[arg(long, value_name = "SECRET|none", value_parser = notify::parse_notify_secret)]
    pub notify_secret: Option<notify::SecretOrNone>,
    /// Which notifications to send: any of held, unauthorized, quarantine, dead-letters,
    /// resolved, comma-separated, or `all` (the default).
    #[arg(long, value_name = "KINDS", value_parser = notify::parse_notify_on)]
    pub notify_on: Option<notify::Kinds>,
    /// Who gets an account: a rule such as `department = Engineering and location in (Berlin,
    /// Paris)`; give it again for another rule (a person is in scope when any rule matches), or
    /// `none` for no rule (everyone, the default). Fields: department, team, contract-type,
    /// email-domain, job-title, location; =, !=, in (…), not in (…); double quotes keep spaces
    /// and commas.
    #[arg(long, value_name = "RULE|none")]
    pub scope: Vec<String>,
    /// What leaving scope does to a person's account: deprovision (as offboarding does, the
    /// default) or keep it as it is.
    #[arg(long, value_name = "keep|deprovision", value_parser = settings::parse_out_of_scope)]
    pub out_of_scope: Option<bool>,
    /// Show the plan the new settings would give (who enters scope, who leaves, what would be
    /// written) without saving them.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ProvisionArgs {
    /// The Humaans person id to run through every step now.
    #[arg(long, value_name = "ID")]
    pub person: String,
    /// Show what would be done; write nothing (and log nothing).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The Humaans person id whose held deprovision to carry out (`status` lists them).
    #[arg(long, value_name = "ID", required_unless_present = "all", conflicts_with = "all")]
    pub person: Option<String>,
    /// Every held deprovision (at most 200 a call; the answer says how many remain).
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct RetryArgs {
    /// The Humaans person id: lift their backoff or quarantine.
    #[arg(long, value_name = "ID", required_unless_present = "event", conflicts_with = "event")]
    pub person: Option<String>,
    /// A webhook event kept as a dead letter (`status` lists them): queue it again for `serve`.
    #[arg(long, value_name = "ID")]
    pub event: Option<String>,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Show the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes per call; calls repeat until done (unless --once).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_writes: u32,
    /// Make one call only, even if writes remain.
    #[arg(long)]
    pub once: bool,
    /// Carry out deprovisions held because a run exceeded the deprovision limit.
    #[arg(long)]
    pub approve_deprovisions: bool,
    /// Rewrite every team's whole membership in Leapsome (which never shows members, so edits
    /// made there by hand are undone only this way). Needs `configure --teams on`.
    #[arg(long)]
    pub repair_teams: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKindArg {
    Created,
    Updated,
    JobRoleChanged,
    Offboarded,
    Deleted,
}

#[derive(Args, Debug)]
pub struct EventArgs {
    #[arg(long, value_enum)]
    pub kind: EventKindArg,
    /// The Humaans person id.
    #[arg(long, value_name = "ID")]
    pub person: String,
    /// The event id (default: generated).
    #[arg(long, value_name = "EVENT_ID")]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct TickArgs {
    /// The time to act as (RFC 3339). Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Failures only.
    #[arg(long)]
    pub failures: bool,
    /// One person's entries only: a Humaans person id or a work email.
    #[arg(long, value_name = "ID|EMAIL")]
    pub person: Option<String>,
    /// Entries at or after this time: RFC 3339 (2026-11-28T09:00:00Z) or a date (2026-11-28, UTC).
    #[arg(long, value_name = "TIME|DATE", value_parser = |s: &str| logs::parse_time_bound(s, false))]
    pub since: Option<jiff::Timestamp>,
    /// Entries before this time; a date means to the end of that day (UTC).
    #[arg(long, value_name = "TIME|DATE", value_parser = |s: &str| logs::parse_time_bound(s, true))]
    pub until: Option<jiff::Timestamp>,
    /// One run's entries: its id (the `run_id` of any of its entries).
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// table (default), json (one document, as --json), csv (for a spreadsheet: UTF-8, a header
    /// row) or jsonl (one entry a line).
    #[arg(long, value_name = "FORMAT", value_parser = words(&logs::LOGS_FORMAT_WORDS, logs::parse_logs_format))]
    pub format: Option<LogsFormat>,
    /// Entries to show, newest first (default: 50 in a table or JSON; every entry the log keeps
    /// in csv and jsonl).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: Option<u32>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// People in the demo organisation.
    #[arg(long, default_value_t = 60)]
    pub employees: usize,
    /// Instead of playing the day: leave `serve` running against the mocks (a tenant `demo`
    /// already connected) and print the admin page's URL and token, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Where `--serve` listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", requires = "serve")]
    pub listen: std::net::SocketAddr,
}

#[derive(Args, Debug)]
pub struct MockArgs {
    /// Port of the mock Humaans API (0: any free port).
    #[arg(long, default_value_t = 8081)]
    pub humaans_port: u16,
    /// Port of the mock Leapsome SCIM API (0: any free port).
    #[arg(long, default_value_t = 8082)]
    pub scim_port: u16,
    /// A Humaans seed file (JSON: {company, people, jobRoles}); default: a generated organisation.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// People in the generated organisation (without --seed).
    #[arg(long, default_value_t = 60)]
    pub employees: usize,
    /// Serve Leapsome as a strict RFC 7644 server (PatchOp only, manager as {value}).
    #[arg(long)]
    pub rfc_strict: bool,
    /// Limit Leapsome to N requests a second (Leapsome's own limit is 30).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Employees in the generated organisation.
    #[arg(long, default_value_t = 10_000)]
    pub employees: usize,
    /// Steady syncs in a row; the one of median wall time is reported (on a shared machine one
    /// run's wall time varies by half).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub steady_syncs: u32,
    /// Employees in the rate-limited run (0: skip it).
    #[arg(long, default_value_t = 1_000)]
    pub rate_limited_employees: usize,
    /// Also run M tenants of --tenant-employees people each in one real `serve` process (when M > 1):
    /// a round of ticks, a round of steady syncs, serve's peak memory, per-call instantiation.
    #[arg(long, value_name = "M", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenants: u32,
    /// People in each tenant's organisation in the --tenants run.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenant_employees: u32,
    /// Also measure webhook-to-Leapsome-write latency through `serve` at R webhooks a second.
    #[arg(long, alias = "webhook-rate", value_name = "R", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub webhooks_per_second: Option<u32>,
    /// Seconds of webhooks in the latency run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub webhook_seconds: u32,
    /// Teams in the teams run (--employees people spread over N teams, teams on; default one per
    /// 20 people, 500 at 10,000; 0 skips the run). Also the teams of `--callgrind steady-sync-teams`.
    #[arg(long, value_name = "N")]
    pub teams: Option<usize>,
    /// Also run the extra-fields run: --employees people, every extra field mapped (start date,
    /// end date, place of work, gender, birthday, a custom field): its first sync, and steady
    /// syncs against the floor plus the places of work's one list.
    #[arg(long)]
    pub extra_fields: bool,
    /// Measure `serve` only: webhook latency (at --webhooks-per-second, default 50) and memory
    /// with 100 tenants.
    #[arg(long)]
    pub serve: bool,
    /// For scripts/callgrind.sh: run one measured call (after an unmeasured initial sync) with
    /// callgrind's collection on around it only. Outside valgrind the markers do nothing.
    #[arg(long, value_enum, hide = true, conflicts_with_all = ["serve", "tenants", "webhooks_per_second"])]
    pub callgrind: Option<CallgrindCall>,
    /// Measure scale-out instead: the store's share of call latency (SQLite, PostgreSQL) and
    /// throughput of 1 against `--processes` serve processes on one PostgreSQL (`--store`, or a
    /// throw-away server from the machine's PostgreSQL binaries).
    #[arg(long, conflicts_with_all = ["serve", "callgrind"])]
    pub scale_out: bool,
    /// Processes in the `--scale-out` run, compared with one.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub processes: u32,
}

/// The call `bench --callgrind` measures.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallgrindCall {
    /// A sync-all with nothing changed.
    SteadySync,
    /// One `updated` employee event (one last-name change).
    Event,
    /// A sync-all with nothing changed, the organisation in teams and teams on.
    SteadySyncTeams,
}

/// A value parser for a fixed set of words (listed in `--help`), each turned into its value by
/// `parse` (the operator's parser: the CLI and the API take the same words).
fn words<T: Clone + Send + Sync + 'static>(
    words: &'static [&'static str],
    parse: fn(&str) -> Result<T, String>,
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(words.iter().copied())
        .map(move |word: String| parse(&word).expect("every listed word parses"))
}

// What the commands below the CLI take, made from the parsed flags. Nothing under the CLI names
// these clap structs.

impl Global {
    /// The host and tenant the global flags name.
    pub fn host_config(&self) -> HostConfig {
        HostConfig {
            data_dir: self.data_dir.clone(),
            store: self.store.clone(),
            tenant: self.tenant.clone(),
            component: self.component.clone(),
            key_file: self.key_file.clone(),
            wait: self.wait,
            trigger: "cli".into(),
        }
    }
}

impl From<ConnectArgs> for ConnectRequest {
    fn from(a: ConnectArgs) -> Self {
        ConnectRequest {
            humaans_url: a.humaans_url,
            scim_url: a.scim_url,
            humaans_token: a.humaans_token,
            scim_token: a.scim_token,
            webhook_secret: a.webhook_secret,
            scim_rate_limit: a.scim_rate_limit,
            allow_host: a.allow_host,
        }
    }
}

impl TryFrom<&ConfigureArgs> for SettingsChange {
    type Error = String;

    fn try_from(a: &ConfigureArgs) -> Result<Self, String> {
        Ok(SettingsChange {
            provisioning: a.provisioning,
            deprovisioning: a.deprovisioning,
            dialect: a.dialect,
            deprovision_limit: a.deprovision_limit,
            deprovision_window: a.deprovision_window,
            teams: a.teams,
            log_retention: a.log_retention,
            extra_fields: a.extra_fields.clone().map(|list| list.0),
            scope: settings::scope_rules(&a.scope)?,
            keep_out_of_scope: a.out_of_scope,
        })
    }
}

impl From<&ConfigureArgs> for NotifyChange {
    fn from(a: &ConfigureArgs) -> Self {
        NotifyChange { url: a.notify_url.clone(), secret: a.notify_secret.clone(), on: a.notify_on.clone() }
    }
}

impl From<&SyncArgs> for SyncOptions {
    fn from(a: &SyncArgs) -> Self {
        SyncOptions {
            dry_run: a.dry_run,
            max_writes: a.max_writes,
            once: a.once,
            approve_deprovisions: a.approve_deprovisions,
            repair_teams: a.repair_teams,
        }
    }
}

impl From<&LogsArgs> for LogsQuery {
    fn from(a: &LogsArgs) -> Self {
        let export = matches!(a.format, Some(LogsFormat::Csv | LogsFormat::Jsonl));
        LogsQuery {
            failures: a.failures,
            person: a.person.clone(),
            limit: a.limit.or((!export).then_some(50)),
            since: a.since,
            until: a.until,
            run: a.run.clone(),
        }
    }
}

impl From<EventKindArg> for api::EventKind {
    fn from(kind: EventKindArg) -> Self {
        match kind {
            EventKindArg::Created => api::EventKind::Created,
            EventKindArg::Updated => api::EventKind::Updated,
            EventKindArg::JobRoleChanged => api::EventKind::JobRoleChanged,
            EventKindArg::Offboarded => api::EventKind::Offboarded,
            EventKindArg::Deleted => api::EventKind::Deleted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["host-harness", "bench"], args].concat())?;
        match cli.command {
            Command::Bench(b) => Ok(b),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn bench_flags_parse_and_bad_values_are_refused() {
        let b = bench(&["--employees", "200", "--tenants", "1000", "--webhooks-per-second", "50"]).unwrap();
        assert_eq!((b.employees, b.tenants, b.tenant_employees, b.webhooks_per_second), (200, 1000, 50, Some(50)));
        let b = bench(&[]).unwrap();
        assert_eq!((b.tenants, b.webhooks_per_second, b.callgrind), (1, None, None));
        // The first round's name for the rate still works.
        assert_eq!(bench(&["--serve", "--webhook-rate", "20"]).unwrap().webhooks_per_second, Some(20));
        assert_eq!(bench(&["--callgrind", "steady-sync"]).unwrap().callgrind, Some(CallgrindCall::SteadySync));
        for bad in [
            &["--tenants", "0"][..],
            &["--tenants", "-3"],
            &["--tenants", "many"],
            &["--tenant-employees", "0"],
            &["--webhooks-per-second", "0"],
            &["--webhooks-per-second", "1001"],
            &["--callgrind", "everything"],
            &["--callgrind", "event", "--tenants", "5"],
        ] {
            assert!(bench(bad).is_err(), "{bad:?} was accepted");
        }
    }

    /// Every serve flag lands in its own field of serve's config (two durations swapped would
    /// still type-check).
    #[test]
    fn serve_flags_become_serve_config() {
        #[rustfmt::skip]
        let flags = [
            "host-harness", "serve", "--listen", "127.0.0.1:9", "--admin-token-file", "/t", "--tick-every", "1m",
            "--sync-every", "2h", "--max-writes", "3", "--workers", "4", "--lease-ttl", "5s", "--keep-days", "6",
            "--log-format", "json", "--log-level", "debug", "--event-attempts", "7", "--event-backoff", "8s",
            "--max-connections", "9", "--header-timeout", "10s", "--request-timeout", "11s", "--tls-cert", "/c",
            "--tls-key", "/k", "--behind-https-proxy",
        ];
        let Command::Serve(args) = Cli::try_parse_from(flags).unwrap().command else { panic!("not serve") };
        let c = crate::serve::ServeConfig::from(args);
        let s = std::time::Duration::from_secs;
        assert_eq!((c.listen.port(), c.admin_token_file), (9, Some("/t".into())));
        assert_eq!((c.tick_every, c.sync_every, c.lease_ttl, c.event_backoff), (s(60), s(7200), s(5), s(8)));
        assert_eq!((c.max_writes, c.workers, c.keep_days, c.event_attempts), (3, 4, 6, 7));
        assert_eq!(
            (c.log_format, c.log_level),
            (crate::serve::log::LogFormat::Json, crate::serve::log::LogLevel::Debug)
        );
        let h = c.http;
        assert_eq!((h.max_connections, h.header_timeout, h.request_timeout), (9, s(10), s(11)));
        assert_eq!((h.tls_cert, h.tls_key, h.behind_https_proxy), (Some("/c".into()), Some("/k".into()), true));
    }
}
