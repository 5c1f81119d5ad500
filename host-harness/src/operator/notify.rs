//! Notifications as the commands and `serve` run them: the tenant's settings (`configure
//! --notify-url/--notify-secret/--notify-on`, the API's `…/notifications`), and after a run
//! [`check`] (under the tenant's lease: the component's `status` and the host's dead letters into
//! the ledger, [`crate::notify`], and the due messages claimed), [`deliver`] (no lease held) and
//! [`settle`] (under the lease again). [`after_run`] is the three for a caller that holds the
//! lease throughout (a CLI command); `serve` runs them around its own turns.
//!
//! A notification never fails or delays the run that raised it: the check comes once the run's
//! calls are done, its errors are warnings for the caller to log, and a receiver that fails is
//! retried by later checks from the stored outbox.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::host::Host;
use crate::notify::store::NAMESPACE;
use crate::notify::{self, Item, Kind, Snapshot, Target};
use crate::plugin::api;
use crate::sealed::SECRETS_BUCKET;
use crate::{Storage, Tenant, TenantPlugin};

/// The settings (URL, kinds); the secret is sealed in the host's `secrets` bucket.
const CONFIG_BUCKET: &str = "notify-config";
/// How long a command waits for a quick retry before leaving it to later runs.
const QUICK_RETRY_WITHIN: Duration = Duration::from_secs(5);

/// A tenant's notification settings. No URL: notifications are off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyConfig {
    #[serde(default)]
    pub url: Option<String>,
    /// The kinds to send; `None`: every kind.
    #[serde(default)]
    pub on: Option<Vec<Kind>>,
}

impl NotifyConfig {
    pub fn kinds(&self) -> Vec<Kind> {
        self.on.clone().unwrap_or_else(|| Kind::ALL.to_vec())
    }
}

/// What `configure` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyChange {
    /// `Some(None)`: `--notify-url none`, notifications off.
    pub url: Option<Option<String>>,
    /// `Some(None)`: `--notify-secret none`, messages unsigned.
    pub secret: Option<Option<String>>,
    pub on: Option<Vec<Kind>>,
}

impl NotifyChange {
    pub fn is_empty(&self) -> bool {
        *self == NotifyChange::default()
    }
}

/// A URL, or `none` (named types: clap reads `Option<Option<_>>` and `Option<Vec<_>>` as
/// flags of their own kinds).
pub type UrlOrNone = Option<String>;
pub type SecretOrNone = Option<String>;
pub type Kinds = Vec<Kind>;

/// `--notify-on held,quarantine|all`.
pub fn parse_notify_on(s: &str) -> Result<Kinds, String> {
    notify::parse_kinds(s)
}

/// `--notify-url URL|none`: the URL checked as delivery will use it.
pub fn parse_notify_url(s: &str) -> Result<UrlOrNone, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    notify::check_url(s)?;
    Ok(Some(s.trim().to_owned()))
}

/// `--notify-secret SECRET|none`: at least 16 characters, as the webhook secret.
pub fn parse_notify_secret(s: &str) -> Result<SecretOrNone, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if s.chars().count() < 16 {
        return Err("a signing secret needs at least 16 characters (or `none`)".into());
    }
    Ok(Some(s.to_owned()))
}

fn secret_key(tenant: &str) -> String {
    format!("notify/{tenant}")
}

pub fn load_config(storage: &dyn Storage, tenant: &str) -> Result<NotifyConfig> {
    match storage.get(NAMESPACE, CONFIG_BUCKET, tenant)? {
        Some(bytes) => serde_json::from_slice(&bytes).context("the stored notification settings are unreadable"),
        None => Ok(NotifyConfig::default()),
    }
}

fn load_secret(storage: &dyn Storage, tenant: &str) -> Result<Option<String>> {
    let bytes = storage.get(NAMESPACE, SECRETS_BUCKET, &secret_key(tenant))?;
    bytes.map(|b| String::from_utf8(b).context("the stored signing secret is not text")).transpose()
}

/// Applies `change` and returns the settings as `configure` and `status` show them.
pub fn configure(storage: &dyn Storage, tenant: &str, change: &NotifyChange) -> Result<Value> {
    let mut config = load_config(storage, tenant)?;
    if let Some(url) = &change.url {
        config.url = url.clone();
    }
    if let Some(on) = &change.on {
        config.on = (on.len() < Kind::ALL.len()).then(|| on.clone());
    }
    if !change.is_empty() {
        storage.set(NAMESPACE, CONFIG_BUCKET, tenant, &serde_json::to_vec(&config)?)?;
    }
    match &change.secret {
        Some(Some(secret)) => storage.set(NAMESPACE, SECRETS_BUCKET, &secret_key(tenant), secret.as_bytes())?,
        Some(None) => storage.delete(NAMESPACE, SECRETS_BUCKET, &secret_key(tenant))?,
        None => {}
    }
    config_json(storage, tenant)
}

/// The settings (never the secret, only whether there is one) and the delivery's state.
pub fn config_json(storage: &dyn Storage, tenant: &str) -> Result<Value> {
    let config = load_config(storage, tenant)?;
    let signed = load_secret(storage, tenant)?.is_some();
    let state = notify::load(storage, tenant)?;
    Ok(json!({
        "notify_url": config.url,
        "notify_on": config.kinds().iter().map(|k| k.word()).collect::<Vec<_>>(),
        "notify_signed": signed,
        "open_incidents": state.ledger.open().iter().map(|o| json!({
            "kind": o.kind.word(), "since": o.since.to_string(), "items": o.items,
        })).collect::<Vec<_>>(),
        "delivery": state.outbox.summary(),
    }))
}

/// What needs a person, as `status` and the dead letters show it.
pub fn snapshot(status: &api::StatusReport, dead_letters: Option<Vec<Item>>) -> Snapshot {
    let unauthorized = match (status.connection, &status.unauthorized) {
        (api::ConnectionState::Unauthorized, Some(f)) => {
            let (key, label) = match f.service {
                api::Service::Humaans => ("humaans", "Humaans"),
                api::Service::Scim => ("scim", "Leapsome"),
            };
            let detail = match f.status {
                Some(code) => format!("HTTP {code}: {}", f.message),
                None => f.message.clone(),
            };
            Some(Item::new(key, label, detail))
        }
        // The component always says which service; an older one may not have.
        (api::ConnectionState::Unauthorized, None) => Some(Item::new("unknown", "Humaans or Leapsome", "")),
        _ => None,
    };
    Snapshot {
        held: status
            .held
            .iter()
            .map(|h| Item::new(&h.person_id, h.email.clone().unwrap_or_else(|| h.person_id.clone()), &h.reason))
            .collect(),
        unauthorized,
        quarantined: status.quarantined.iter().map(|q| Item::new(&q.person_id, &q.person_id, &q.reason)).collect(),
        quarantined_total: status.quarantined_count,
        dead_letters,
    }
}

/// The tenant's dead letters (events `serve` gave up on), as incident items.
fn dead_letters(host: &Host, tenant: &str) -> Option<Vec<Item>> {
    let failed = host.leases.work_queue().and_then(|q| q.failed(tenant)).ok()?;
    Some(
        failed
            .into_iter()
            .filter(|f| f.retry_at_ms.is_none())
            .map(|f| Item::new(&f.event_id, &f.event_id, format!("{} attempts: {}", f.attempts, f.error)))
            .collect(),
    )
}

/// What a notification check did, for the caller's output and log.
#[derive(Debug, Default)]
pub struct AfterRun {
    /// Messages queued by this check.
    pub queued: usize,
    pub delivered: u32,
    /// One line per failed attempt or unreadable state: for stderr or the log, never an error.
    pub warnings: Vec<String>,
    /// When a check has something to do next (a digest's hour over, a retry due): a caller that
    /// keeps running (`serve`) checks again then.
    pub next_check: Option<Timestamp>,
}

/// Messages taken out of the tenant's outbox to deliver without holding its lease.
pub struct Claimed {
    tenant: String,
    outbox: notify::Outbox,
    ids: Vec<u64>,
    target: Target,
    egress: Tenant,
}

/// How long claimed messages wait before another check may send them (a delivery takes at most
/// 10 s a round).
const CLAIM_SECONDS: i64 = 60;

/// Under the tenant's lease, after a run: reads its status (and dead letters), queues the
/// messages the ledger gives, and claims what is due for [`deliver`]. `None`: notifications are
/// off, or nothing is due.
pub async fn check(host: &Host, tenant: &str, plugin: &TenantPlugin, report: &mut AfterRun) -> Result<Option<Claimed>> {
    let storage = &*host.storage;
    let config = load_config(storage, tenant)?;
    let Some(url) = config.url.clone() else { return Ok(None) };
    let mut state = notify::load(storage, tenant)?;
    let kinds = config.kinds();
    let now = Timestamp::now();
    // A status that cannot be read (not connected, a trap) announces nothing and resolves
    // nothing: the ledger sees only what was read. Due digests and retries still go out.
    let messages = match plugin.status().await {
        Ok(Ok(status)) => {
            let snapshot = snapshot(&status, dead_letters(host, tenant));
            let mut messages = state.ledger.observe(tenant, &snapshot, &kinds, now);
            messages.extend(state.ledger.due_digests(tenant, &kinds, now));
            messages
        }
        Ok(Err(e)) => {
            report.warnings.push(format!("notifications: status unreadable: {}", super::describe(&e)));
            state.ledger.due_digests(tenant, &kinds, now)
        }
        Err(e) => {
            report.warnings.push(format!("notifications: status unreadable: {e}"));
            state.ledger.due_digests(tenant, &kinds, now)
        }
    };
    for message in &messages {
        state.outbox.push(message, now);
    }
    report.queued += messages.len();
    let claimed = claim(storage, tenant, &url, &mut state, now)?;
    notify::save(storage, tenant, &state)?;
    report.next_check = [state.ledger.next_digest(), state.outbox.next_attempt()].into_iter().flatten().min();
    Ok(claimed)
}

fn claim(
    storage: &dyn Storage,
    tenant: &str,
    url: &str,
    state: &mut notify::NotifyState,
    now: Timestamp,
) -> Result<Option<Claimed>> {
    let outbox = state.outbox.claim(now, CLAIM_SECONDS);
    if outbox.waiting() == 0 {
        return Ok(None);
    }
    let target = Target { url: url.to_owned(), secret: load_secret(storage, tenant)? };
    let egress = Tenant::new(tenant).allow_url(url).map_err(anyhow::Error::msg)?;
    Ok(Some(Claimed { tenant: tenant.to_owned(), ids: outbox.ids(), outbox, target, egress }))
}

/// Sends the claimed messages (no lease held: a receiver that hangs delays nobody's call).
pub async fn deliver(mut claimed: Claimed, report: &mut AfterRun) -> Claimed {
    let delivered = notify::deliver_due(&mut claimed.outbox, &claimed.target, &claimed.egress, Timestamp::now()).await;
    report.delivered += delivered.delivered;
    for f in &delivered.failures {
        let next = f.next_attempt.map_or("given up".to_owned(), |t| format!("next attempt {t:.0}"));
        report
            .warnings
            .push(format!("notification ({}) not delivered, attempt {}: {}; {next}", f.kind, f.attempt, f.error));
    }
    claimed
}

/// Under the tenant's lease again: records what the delivery did. Returns when the next attempt
/// is due, if any message still waits.
pub fn settle(host: &Host, claimed: &Claimed) -> Result<Option<Timestamp>> {
    let storage = &*host.storage;
    let mut state = notify::load(storage, &claimed.tenant)?;
    state.outbox.settle(&claimed.ids, &claimed.outbox);
    notify::save(storage, &claimed.tenant, &state)?;
    Ok([state.ledger.next_digest(), state.outbox.next_attempt()].into_iter().flatten().min())
}

/// Claims what is due again (a quick retry), under the lease.
fn reclaim(host: &Host, tenant: &str) -> Result<Option<Claimed>> {
    let storage = &*host.storage;
    let Some(url) = load_config(storage, tenant)?.url else { return Ok(None) };
    let mut state = notify::load(storage, tenant)?;
    let claimed = claim(storage, tenant, &url, &mut state, Timestamp::now())?;
    notify::save(storage, tenant, &state)?;
    Ok(claimed)
}

/// A check and its deliveries for a caller that holds the tenant's lease throughout (a CLI
/// command, which ends next): with `quick_retries`, waits up to a few seconds for the first
/// retries (1 s, 4 s) instead of leaving them to the next run.
pub async fn after_run(host: &Host, tenant: &str, plugin: &TenantPlugin, quick_retries: bool) -> AfterRun {
    let mut report = AfterRun::default();
    let mut rounds = 0;
    let mut claimed = match check(host, tenant, plugin, &mut report).await {
        Ok(claimed) => claimed,
        Err(e) => {
            report.warnings.push(format!("notifications: {e:#}"));
            return report;
        }
    };
    while let Some(taken) = claimed {
        let taken = deliver(taken, &mut report).await;
        rounds += 1;
        let next = match settle(host, &taken) {
            Ok(next) => next,
            Err(e) => {
                report.warnings.push(format!("notifications: {e:#}"));
                return report;
            }
        };
        let wait = next.map(|at| Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default());
        match wait {
            Some(wait) if quick_retries && rounds < 3 && wait <= QUICK_RETRY_WITHIN => tokio::time::sleep(wait).await,
            _ => break,
        }
        claimed = match reclaim(host, tenant) {
            Ok(claimed) => claimed,
            Err(e) => {
                report.warnings.push(format!("notifications: {e:#}"));
                return report;
            }
        };
    }
    report
}

/// After a CLI command that ran the tenant: when notifications are on, the check under the
/// tenant's lease (taken again: the command's is gone), with quick retries. Returns the warnings.
pub async fn after_command(host: &Host) -> Vec<String> {
    let tenant = host.config.tenant.clone();
    match load_config(&*host.storage, &tenant) {
        Ok(NotifyConfig { url: None, .. }) => return Vec::new(),
        Ok(_) => {}
        Err(e) => return vec![format!("notifications: {e:#}")],
    }
    let (plugin, _held) = match host.leased_plugin().await {
        Ok(leased) => leased,
        Err(e) => return vec![format!("notifications not checked: {e:#}")],
    };
    after_run(host, &tenant, &plugin, true).await.warnings
}

/// `configure` for the notification flags alone: refuses a tenant that never connected (its
/// settings would belong to nobody).
pub fn configure_tenant(host: &Host, change: &NotifyChange) -> Result<Value> {
    let tenant = &host.config.tenant;
    if host.policy_of(tenant)?.is_none() {
        bail!("tenant {tenant} is not connected: run `connect` first");
    }
    configure(&*host.storage, tenant, change)
}

/// A status's notification part (for `status`).
pub fn status_json(host: &Host, tenant: &str) -> Value {
    config_json(&*host.storage, tenant).unwrap_or_else(|e| json!({"error": format!("{e:#}")}))
}
