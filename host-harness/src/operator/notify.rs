//! Notifications as the commands and `serve` run them: the tenant's settings (`configure
//! --notify-url/--notify-secret/--notify-on`, the API's `notify_*` fields), and [`after_run`],
//! which after a run turns the component's `status` and the host's dead letters into messages
//! ([`crate::notify`]: the ledger decides, the outbox delivers) and delivers what is due.
//!
//! A notification never fails or delays the run that raised it: [`after_run`] is called once the
//! run's calls are done, its errors are returned as warnings for the caller to log, and a
//! receiver that fails is retried by later runs from the stored outbox.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::host::Host;
use crate::notify::{self, Item, Kind, Snapshot, Target};
use crate::plugin::api;
use crate::sealed::SECRETS_BUCKET;
use crate::{Storage, Tenant, TenantPlugin};

const NAMESPACE: &str = "host";
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

/// What [`after_run`] did, for the caller's output and log.
#[derive(Debug, Default)]
pub struct AfterRun {
    /// Messages queued by this check.
    pub queued: usize,
    pub delivered: u32,
    /// One line per failed attempt or unreadable state: for stderr or the log, never an error.
    pub warnings: Vec<String>,
}

/// After a run of `plugin`'s tenant: reads its status (and dead letters), queues the messages the
/// ledger gives, and delivers what is due. `quick_retries`: a command that ends after this waits
/// up to a few seconds for the first retries (1 s, 4 s) instead of leaving them to the next run.
/// Call it under the tenant's lease, after the run's calls.
pub async fn after_run(host: &Host, tenant: &str, plugin: &TenantPlugin, quick_retries: bool) -> AfterRun {
    let mut report = AfterRun::default();
    if let Err(e) = check_and_deliver(host, tenant, plugin, quick_retries, &mut report).await {
        report.warnings.push(format!("notifications: {e:#}"));
    }
    report
}

async fn check_and_deliver(
    host: &Host,
    tenant: &str,
    plugin: &TenantPlugin,
    quick_retries: bool,
    report: &mut AfterRun,
) -> Result<()> {
    let storage = &*host.storage;
    let config = load_config(storage, tenant)?;
    let Some(url) = config.url.clone() else { return Ok(()) };
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
    report.queued = messages.len();
    notify::save(storage, tenant, &state)?;
    let target = Target { url: url.clone(), secret: load_secret(storage, tenant)? };
    let egress = Tenant::new(tenant).allow_url(&url).map_err(anyhow::Error::msg)?;
    let mut rounds = 0;
    loop {
        let delivered = notify::deliver_due(&mut state.outbox, &target, &egress, Timestamp::now()).await;
        notify::save(storage, tenant, &state)?;
        report.delivered += delivered.delivered;
        for f in &delivered.failures {
            let next = f.next_attempt.map_or("given up".to_owned(), |t| format!("next attempt {t}"));
            report
                .warnings
                .push(format!("notification ({}) not delivered, attempt {}: {}; {next}", f.kind, f.attempt, f.error));
        }
        rounds += 1;
        let Some(next) = state.outbox.next_attempt() else { break };
        let wait = next.duration_since(Timestamp::now());
        let wait = Duration::try_from(wait).unwrap_or_default();
        if !quick_retries || rounds >= 3 || wait > QUICK_RETRY_WITHIN {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Ok(())
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
