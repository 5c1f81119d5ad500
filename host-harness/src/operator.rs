//! The operator commands: each opens the durable store, loads the tenant's policy and calls the
//! component once (sync-all: until done). Output is a table, or one JSON document with `--json`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::{self, Global};
use crate::leased::{self, HeldLease};
use crate::plugin::api::{self, IntegrationError};
use crate::{
    AllowedHost, HostKey, KeySource, LeaseStore, PoolSize, Runtime, Scheme, SealedStorage, Storage, Tenant,
    TenantPlugin,
};

/// Where the host keeps a tenant's policy: a namespace no guest can name (guests get `tenant/…`).
const HOST_NAMESPACE: &str = "host";
const POLICY_BUCKET: &str = "tenant-policy";

#[derive(Serialize, Deserialize, Default)]
pub struct StoredPolicy {
    /// Where the tenant may send requests: scheme, host and port.
    #[serde(default)]
    pub egress: Vec<AllowedHost>,
    /// The format before egress was checked by scheme: (host, port) pairs. Read as https, and
    /// also http for local entries (loopback literals, `localhost`), which is what `connect`
    /// accepted then; rewritten in the new format by the next `connect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<(String, u16)>,
    /// The URLs given to `connect` (shown by `serve`'s admin page; tokens are never kept here).
    #[serde(default)]
    pub humaans_url: Option<String>,
    #[serde(default)]
    pub scim_url: Option<String>,
}

impl StoredPolicy {
    /// Where the tenant may send requests, whichever format the policy was stored in.
    pub fn entries(&self) -> Vec<AllowedHost> {
        let mut all = self.egress.clone();
        for (host, port) in &self.allowed_hosts {
            let https = AllowedHost::new(Scheme::Https, host, *port);
            if https.names_a_local_address() {
                all.push(AllowedHost::new(Scheme::Http, host, *port));
            }
            all.push(https);
        }
        all
    }
}

pub struct Host {
    pub storage: Arc<dyn Storage>,
    sealed: Arc<SealedStorage>,
    /// The raw store's leases (`serve`: one process runs a tenant at a time).
    pub leases: Arc<dyn LeaseStore>,
    pub runtime: Arc<Runtime>,
    pub global: Global,
}

pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("humaans-leapsome");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/humaans-leapsome"),
        None => PathBuf::from(".humaans-leapsome"),
    }
}

/// Opens the data directory's store with its secrets sealed under the host key; also returns
/// the raw store, for its leases.
pub fn open_storage(global: &Global) -> Result<(SealedStorage, KeySource, Arc<dyn LeaseStore>)> {
    let dir = global.data_dir.clone().unwrap_or_else(default_data_dir);
    let leases = crate::storage::open_store(global.store.as_deref(), &dir)?;
    let raw: Arc<dyn Storage> = leases.clone();
    let (key, source) = host_key(global, &dir, &*raw)?;
    Ok((SealedStorage::open(raw, key, &source)?, source, leases))
}

/// The host key: `HOST_HARNESS_KEY`, else the key file (created on first use, but never for a
/// store that is already sealed: a lost key must be an error, not a fresh key that opens nothing).
fn host_key(global: &Global, dir: &std::path::Path, raw: &dyn Storage) -> Result<(HostKey, KeySource)> {
    if let Some(text) = std::env::var_os("HOST_HARNESS_KEY").filter(|v| !v.is_empty()) {
        let text = text.to_str().ok_or_else(|| anyhow!("HOST_HARNESS_KEY is not valid text"))?;
        return Ok((HostKey::parse(text).context("HOST_HARNESS_KEY")?, KeySource::Env));
    }
    let (path, default) = match &global.key_file {
        Some(path) => (path.clone(), false),
        None => (dir.join("host.key"), true),
    };
    let source = KeySource::File { path: path.clone(), default };
    if path.exists() {
        check_private(&path)?;
        return Ok((HostKey::read(&path)?, source));
    }
    if SealedStorage::is_sealed(raw)? {
        bail!(
            "the key file {} is missing and this data directory's secrets are sealed: pass the key with --key-file or HOST_HARNESS_KEY",
            path.display()
        );
    }
    Ok((HostKey::create(&path)?, source))
}

fn check_private(path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!("the key file {} is readable by others: chmod 600 it", path.display());
        }
    }
    Ok(())
}

/// `rotate-key`: re-seals every secret under the key in `--new-key-file`. When the data
/// directory's own key file was in use, it is replaced by the new key, so nothing else changes.
pub fn rotate_key(global: &Global, args: &cli::RotateKeyArgs) -> Result<Value> {
    let (sealed, source, _) = open_storage(global)?;
    let path = &args.new_key_file;
    let new = if path.exists() {
        check_private(path)?;
        HostKey::read(path)?
    } else {
        HostKey::create(path)?
    };
    let (_, count) = sealed.rotate(new.clone())?;
    let next = match &source {
        KeySource::File { path: own, default: true } => {
            new.write(own, true)?;
            format!("{} now holds the new key", own.display())
        }
        KeySource::File { .. } => format!("from now on pass --key-file {}", path.display()),
        KeySource::Env => format!("from now on set HOST_HARNESS_KEY to the key in {}", path.display()),
    };
    Ok(json!({ "rotated_secrets": count, "new_key_file": path.display().to_string(), "next": next }))
}

impl Host {
    pub fn open(global: &Global) -> Result<Host> {
        let dir = global.data_dir.clone().unwrap_or_else(default_data_dir);
        let (sealed, _, leases) = open_storage(global)?;
        let sealed = Arc::new(sealed);
        let storage: Arc<dyn Storage> = sealed.clone();
        let component = match &global.component {
            Some(path) => path.clone(),
            None => crate::component::component_path()?,
        };
        let runtime = Arc::new(Runtime::new(&component, Some(&dir.join("cache")), PoolSize::default())?);
        Ok(Host { storage, sealed, leases, runtime, global: global.clone() })
    }

    /// The tenant's policy; `None` for a tenant that never connected through this host.
    pub fn policy_of(&self, tenant: &str) -> Result<Option<StoredPolicy>> {
        match self.storage.get(HOST_NAMESPACE, POLICY_BUCKET, tenant)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).context("the stored tenant policy is unreadable")?)),
            None => Ok(None),
        }
    }

    fn save_policy(&self, tenant: &str, policy: &StoredPolicy) -> Result<()> {
        self.storage.set(HOST_NAMESPACE, POLICY_BUCKET, tenant, &serde_json::to_vec(policy)?)
    }

    /// Every tenant that connected through this host, in order.
    pub fn tenants(&self) -> Result<Vec<String>> {
        let mut tenants = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.storage.list_keys(HOST_NAMESPACE, POLICY_BUCKET, cursor, 1000)?;
            tenants.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(tenants),
            }
        }
    }

    pub fn plugin_of(&self, tenant: &str, hosts: &[AllowedHost]) -> TenantPlugin {
        let mut policy = Tenant::new(tenant);
        for h in hosts {
            policy = policy.allow(h.clone());
        }
        TenantPlugin::new(self.runtime.clone(), self.storage.clone(), policy)
    }

    /// The store as a holder of `lease` writes it: sealed, and fenced by the lease.
    pub fn fenced_storage(&self, lease: &crate::storage::Lease) -> Arc<dyn Storage> {
        Arc::new(self.sealed.over(self.leases.fenced(lease)))
    }

    pub fn plugin_with(&self, hosts: &[AllowedHost]) -> TenantPlugin {
        self.plugin_of(&self.global.tenant, hosts)
    }

    pub fn plugin(&self) -> Result<TenantPlugin> {
        let policy = self.policy_of(&self.global.tenant)?.unwrap_or_default();
        Ok(self.plugin_with(&policy.entries()))
    }

    /// The tenant's lease for a command that writes, waited for up to `--wait` ("tenant busy"
    /// after that): one process at a time runs a tenant's calls, CLI and `serve` alike.
    pub async fn lease(&self, tenant: &str) -> Result<HeldLease> {
        HeldLease::acquire(self.leases.clone(), tenant, &leased::holder_name(), leased::DEFAULT_TTL, self.global.wait)
            .await
    }

    /// `plugin` for calls under `held`: its store writes fenced by the lease, its writes to the
    /// services stopped once the lease is lost.
    pub fn under(&self, plugin: &TenantPlugin, held: &HeldLease) -> TenantPlugin {
        plugin.leased(self.fenced_storage(&held.lease), held.clock.clone())
    }

    /// The `--tenant`'s plugin under its lease; keep the lease until the calls are done.
    pub async fn leased_plugin(&self) -> Result<(TenantPlugin, HeldLease)> {
        let held = self.lease(&self.global.tenant).await?;
        Ok((self.under(&self.plugin()?, &held), held))
    }
}

/// A contract enum's name as users write it: `ChangeKind::LinkManager` -> `link-manager`.
pub fn name_of<T: std::fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    let last = debug.rsplit("::").next().unwrap_or(&debug);
    let mut out = String::new();
    for (i, c) in last.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// How the component reports the host's `destination-ip-prohibited` (`egress::Refusal::
/// NonPublicAddress`) and `http-request-denied` (off the allow-list, over the request quota): as
/// transport failures, with these words in the message (`src/adapters/http.rs`, `src/ports.rs`).
const NOT_PUBLIC: &str = "not a public address";
const DENIED: &str = "the host denied the request";

/// A contract error as one line, naming the service where there is one.
pub fn describe(e: &IntegrationError) -> String {
    let service = |s: api::Service| match s {
        api::Service::Humaans => "Humaans",
        api::Service::Scim => "Leapsome SCIM",
    };
    let status = |s: Option<u16>| s.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    match e {
        IntegrationError::NotConnected => "not connected: run `host-harness connect` first".into(),
        IntegrationError::InvalidInput(f) => format!("invalid {}: {}", f.field, f.message),
        IntegrationError::UnknownPerson(id) => format!("Humaans has no person with id `{id}`"),
        IntegrationError::Unauthorized(f) => {
            format!("{} refused the token{}: {}", service(f.service), status(f.status), f.message)
        }
        IntegrationError::Upstream(f) => {
            format!("{} answered with an error{}: {}", service(f.service), status(f.status), f.message)
        }
        // The host's policy refused to send: not a network failure, and never said to be one.
        IntegrationError::Transport(f) if f.status.is_none() && f.message.contains(NOT_PUBLIC) => format!(
            "{} was not contacted: its host is not a public address (the host's egress policy refuses loopback, \
             private and other special-purpose addresses for a host name)",
            service(f.service)
        ),
        IntegrationError::Transport(f) if f.status.is_none() && f.message.contains(DENIED) => format!(
            "{} was not contacted: the host's policy denied the request (not on the tenant's allow-list, or over \
             its quota of requests per call)",
            service(f.service)
        ),
        IntegrationError::Transport(f) => format!("{} could not be reached: {}", service(f.service), f.message),
        IntegrationError::Storage(m) => format!("storage failed: {m}"),
    }
}

/// Unwraps a call: host-level failures and contract errors both become one-line errors.
pub fn done<T>(r: Result<Result<T, IntegrationError>, crate::CallError>) -> Result<T> {
    match r {
        Err(e) => Err(anyhow!("{e}")),
        Ok(Err(e)) => Err(anyhow!(describe(&e))),
        Ok(Ok(v)) => Ok(v),
    }
}

/// `HOST[:PORT]` is https; `http://HOST[:PORT]` (or any URL) names its scheme.
fn parse_allow_host(s: &str) -> Result<AllowedHost> {
    let url = if s.contains("://") { s.to_owned() } else { format!("https://{s}") };
    AllowedHost::from_url(&url).map_err(|e| anyhow!("--allow-host {s}: {e}"))
}

/// `connect` from the command line: under the tenant's lease.
pub async fn connect(host: &Host, args: cli::ConnectArgs) -> Result<Value> {
    let held = host.lease(&host.global.tenant).await?;
    connect_under(host, &host.global.tenant, args, Some(&held)).await
}

/// `connect` for one tenant: verifies, then saves the tenant's policy (allowed hosts, URLs).
pub async fn connect_tenant(host: &Host, tenant: &str, args: cli::ConnectArgs) -> Result<Value> {
    connect_under(host, tenant, args, None).await
}

/// `connect`, its call made under `held` when given.
pub async fn connect_under(
    host: &Host,
    tenant: &str,
    args: cli::ConnectArgs,
    held: Option<&HeldLease>,
) -> Result<Value> {
    let mut hosts = Vec::new();
    for url in [&args.humaans_url, &args.scim_url] {
        hosts.push(AllowedHost::from_url(url).map_err(|e| anyhow!("{e}"))?);
    }
    for extra in &args.allow_host {
        hosts.push(parse_allow_host(extra)?);
    }
    let plugin = host.plugin_of(tenant, &hosts);
    let plugin = match held {
        Some(held) => host.under(&plugin, held),
        None => plugin,
    };
    let connection = api::Connection {
        scim_base_url: Some(args.scim_url.clone()),
        scim_token: args.scim_token,
        scim_requests_per_second: args.scim_rate_limit,
        humaans_base_url: Some(args.humaans_url.clone()),
        humaans_token: args.humaans_token,
        humaans_webhook_secret: args.webhook_secret,
    };
    let report = done(plugin.connect(&connection).await)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let policy = StoredPolicy {
        egress: hosts.clone(),
        allowed_hosts: Vec::new(),
        humaans_url: Some(args.humaans_url.clone()),
        scim_url: Some(args.scim_url.clone()),
    };
    host.save_policy(tenant, &policy)?;
    Ok(json!({
        "connected": true,
        "tenant": tenant,
        "company": report.company_name,
        "humaans_url": report.humaans_base_url,
        "scim_url": report.scim_base_url,
        "scim_users": report.scim_users,
        "warnings": report.warnings,
        "allowed_hosts": hosts.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }))
}

/// A tenant's settings before anything is configured: provisioning and deprovisioning off, the
/// Leapsome dialect, the default deprovision limit.
pub fn default_settings() -> api::Settings {
    api::Settings {
        provisioning: None,
        deprovisioning: None,
        dialect: api::Dialect::Leapsome,
        deprovision_limit: None,
        deprovision_window_minutes: None,
    }
}

/// Settings made of `args` alone, every setting left out at its default: a replacement.
pub fn settings_from(args: &cli::ConfigureArgs) -> api::Settings {
    merge_settings(default_settings(), args)
}

/// `current` with only the settings `args` gives changed; the rest, any setting `args` has no
/// flag for included, is kept as it is.
pub fn merge_settings(current: api::Settings, args: &cli::ConfigureArgs) -> api::Settings {
    let mut settings = current;
    if let Some(provisioning) = args.provisioning {
        settings.provisioning = match provisioning {
            cli::Provisioning::Off => None,
            cli::Provisioning::Immediately => Some(api::ProvisionTiming::Immediately),
            cli::Provisioning::OnStartDate => Some(api::ProvisionTiming::OnStartDate),
            cli::Provisioning::DaysBeforeStart(n) => Some(api::ProvisionTiming::DaysBeforeStart(n)),
        };
    }
    if let Some(deprovisioning) = args.deprovisioning {
        settings.deprovisioning = match deprovisioning {
            cli::Deprovisioning::Off => None,
            cli::Deprovisioning::Suspend => Some(api::DeprovisionAction::Suspend),
            cli::Deprovisioning::Deactivate => Some(api::DeprovisionAction::Deactivate),
        };
    }
    if let Some(dialect) = args.dialect {
        settings.dialect = match dialect {
            cli::DialectArg::Leapsome => api::Dialect::Leapsome,
            cli::DialectArg::Rfc7644 => api::Dialect::Rfc7644,
        };
    }
    if let Some(limit) = args.deprovision_limit {
        settings.deprovision_limit = match limit {
            cli::DeprovisionLimitArg::Count(n) => Some(api::DeprovisionLimit::Count(n)),
            cli::DeprovisionLimitArg::Percent(p) => Some(api::DeprovisionLimit::Percent(p)),
            cli::DeprovisionLimitArg::Default => None,
        };
    }
    if let Some(window) = args.deprovision_window {
        settings.deprovision_window_minutes = match window {
            cli::DeprovisionWindowArg::Minutes(m) => Some(m),
            cli::DeprovisionWindowArg::Default => None,
        };
    }
    settings
}

/// Settings as `status` and `configure` print them.
pub fn settings_json(s: &api::Settings) -> Value {
    json!({
        "provisioning": match s.provisioning {
            None => "off".to_owned(),
            Some(api::ProvisionTiming::Immediately) => "immediately".to_owned(),
            Some(api::ProvisionTiming::OnStartDate) => "on-start-date".to_owned(),
            Some(api::ProvisionTiming::DaysBeforeStart(n)) => format!("days-before-start:{n}"),
        },
        "deprovisioning": s.deprovisioning.as_ref().map_or("off".to_owned(), name_of),
        "dialect": name_of(&s.dialect),
        "deprovision_limit": match s.deprovision_limit {
            None => "default: max(5, 10%)".to_owned(),
            Some(api::DeprovisionLimit::Count(n)) => n.to_string(),
            Some(api::DeprovisionLimit::Percent(p)) => format!("{p}%"),
        },
        "deprovision_window": s.deprovision_window_minutes.map_or("default: 24h".to_owned(), window_text),
    })
}

/// A window in minutes as the CLI and the API write it: `24h`, `90m`.
pub fn window_text(minutes: u32) -> String {
    if minutes.is_multiple_of(60) { format!("{}h", minutes / 60) } else { format!("{minutes}m") }
}

/// `configure`: changes the settings given and keeps the rest, read from the component's
/// `status` (a flag left out must never turn provisioning or the brake off behind the operator's
/// back).
pub async fn configure(host: &Host, args: cli::ConfigureArgs) -> Result<Value> {
    // Under the lease, so the settings read are still the current ones when written back.
    let (plugin, _held) = host.leased_plugin().await?;
    // Settings are there exactly when the tenant is connected; configure refuses otherwise.
    let current =
        done(plugin.status().await)?.settings.ok_or_else(|| anyhow!(describe(&IntegrationError::NotConnected)))?;
    let settings = merge_settings(current, &args);
    done(plugin.configure(settings).await)?;
    let mut shown = json!({"configured": true});
    if let (Some(out), Some(fields)) = (shown.as_object_mut(), settings_json(&settings).as_object()) {
        out.extend(fields.clone());
    }
    Ok(shown)
}

pub fn change_json(c: &api::Change) -> Value {
    json!({"person_id": c.person_id, "email": c.email, "kind": name_of(&c.kind), "attributes": c.attributes, "error": c.error})
}

/// Runs sync-all calls until complete (or once), with a progress bar on a terminal.
pub async fn sync_all(plugin: &TenantPlugin, args: &cli::SyncArgs, quiet: bool) -> Result<Value> {
    let mut totals = json!({"calls": 0, "created": 0, "adopted": 0, "updated": 0, "deprovisioned": 0, "reactivated": 0,
        "managers_linked": 0, "failed": 0, "writes": 0, "held": 0});
    let progress = !quiet && std::io::stderr().is_terminal();
    let mut first_remaining = None;
    let mut last;
    let mut changes = Vec::new();
    loop {
        let options = api::SyncOptions {
            dry_run: args.dry_run,
            max_writes: Some(args.max_writes.max(1)),
            approve_deprovisions: args.approve_deprovisions,
        };
        let options = if args.dry_run { api::SyncOptions { max_writes: None, ..options } } else { options };
        let r = done(plugin.sync_all(options).await)?;
        totals["calls"] = json!(totals["calls"].as_u64().unwrap() + 1);
        for (k, v) in [
            ("created", r.created),
            ("adopted", r.adopted),
            ("updated", r.updated),
            ("deprovisioned", r.deprovisioned),
            ("reactivated", r.reactivated),
            ("managers_linked", r.managers_linked),
            ("failed", r.failed),
            ("writes", r.writes),
            ("held", r.held),
        ] {
            totals[k] = json!(totals[k].as_u64().unwrap() + v as u64);
        }
        changes.extend(r.changes.iter().map(change_json));
        let total = *first_remaining.get_or_insert(r.writes + r.remaining_writes);
        if progress && total > 0 {
            let done = totals["writes"].as_u64().unwrap().min(total as u64);
            let width = 30;
            let filled = (done as usize * width) / total as usize;
            eprint!("\r  [{}{}] {done}/{total} writes", "#".repeat(filled), " ".repeat(width - filled));
            let _ = std::io::stderr().flush();
        }
        last = r;
        if last.complete || args.once || args.dry_run || last.writes == 0 {
            break;
        }
    }
    if progress {
        eprintln!();
    }
    totals["people"] = json!(last.people);
    totals["scim_users"] = json!(last.scim_users);
    totals["managers_pending"] = json!(last.managers_pending);
    totals["skipped"] = json!(last.skipped);
    totals["quarantined"] = json!(last.quarantined);
    totals["warnings"] = json!(last.warnings);
    if !quiet {
        for warning in &last.warnings {
            eprintln!("warning: {warning}");
        }
        if last.held > 0 {
            eprintln!(
                "warning: {} deprovisions held (over the deprovision limit); review the plan, then run `sync-all --approve-deprovisions`",
                last.held
            );
        }
    }
    totals["remaining_writes"] = json!(last.remaining_writes);
    totals["complete"] = json!(last.complete);
    totals["dry_run"] = json!(args.dry_run);
    totals["changes"] = json!(changes);
    Ok(totals)
}

pub async fn event(host: &Host, args: cli::EventArgs) -> Result<Value> {
    let (plugin, _held) = host.leased_plugin().await?;
    let kind = match args.kind {
        cli::EventKindArg::Created => api::EventKind::Created,
        cli::EventKindArg::Updated => api::EventKind::Updated,
        cli::EventKindArg::JobRoleChanged => api::EventKind::JobRoleChanged,
        cli::EventKindArg::Offboarded => api::EventKind::Offboarded,
        cli::EventKindArg::Deleted => api::EventKind::Deleted,
    };
    let now = format!("{:.0}", jiff::Timestamp::now());
    let id = args.id.unwrap_or_else(|| format!("cli-{}", jiff::Timestamp::now().as_millisecond()));
    let e = api::EmployeeEvent { id, kind, person_id: args.person, occurred_at: now };
    let o = done(plugin.on_employee_event(&e).await)?;
    Ok(
        json!({"changes": o.changes.iter().map(change_json).collect::<Vec<_>>(), "skipped": o.skipped, "manager_pending": o.manager_pending}),
    )
}

pub async fn tick(plugin: &TenantPlugin, now: Option<String>) -> Result<Value> {
    let now = now.unwrap_or_else(|| format!("{:.0}", jiff::Timestamp::now()));
    if now.parse::<jiff::Timestamp>().is_err() {
        bail!("--now `{now}` is not an RFC 3339 time (e.g. 2026-11-28T09:00:00Z)");
    }
    let r = done(plugin.tick(&now).await)?;
    Ok(
        json!({"now": now, "provisioned": r.provisioned, "deprovisioned": r.deprovisioned, "managers_linked": r.managers_linked,
        "failed": r.failed, "held": r.held, "waiting": r.waiting, "next_due": r.next_due}),
    )
}

/// A held deprovision as the CLI and the API show it.
pub fn held_json(h: &api::HeldDeprovision) -> Value {
    json!({"person_id": h.person_id, "email": h.email, "since": h.since, "path": name_of(&h.path), "reason": h.reason})
}

/// `approve`: carries out held deprovisions, one person's or (`None`) every held one.
pub async fn approve(plugin: &TenantPlugin, person: Option<&str>) -> Result<Value> {
    let r = done(plugin.approve_deprovisions(person).await)?;
    Ok(json!({
        "approved": r.approved, "released": r.released, "failed": r.failed, "remaining": r.remaining,
        "changes": r.changes.iter().map(change_json).collect::<Vec<_>>(),
    }))
}

pub async fn status(plugin: &TenantPlugin) -> Result<Value> {
    let r = done(plugin.status().await)?;
    let settings = r.settings.as_ref().map(settings_json);
    Ok(json!({
        "connection": name_of(&r.connection),
        "unauthorized": r.unauthorized.as_ref().map(|f| json!({
            "service": name_of(&f.service), "http_status": f.status, "message": f.message,
        })),
        "unauthorized_since": r.unauthorized_since,
        "settings": settings,
        "waiting": r.waiting,
        "next_due": r.next_due,
        "held": r.held.iter().map(held_json).collect::<Vec<_>>(),
        "quarantined_count": r.quarantined_count,
        "quarantined": r.quarantined.iter().map(|q| json!({"person_id": q.person_id, "since": q.since, "reason": q.reason})).collect::<Vec<_>>(),
        "retrying": r.retrying,
    }))
}

/// `status` for the CLI: the component's answer plus the tenant's webhook events that failed in
/// `serve` (retrying, and dead letters kept after their last attempt).
pub async fn status_with_inbox(host: &Host) -> Result<Value> {
    let mut v = status(&host.plugin()?).await?;
    let failed = host.leases.work_queue()?.failed(&host.global.tenant)?;
    let (dead, retrying): (Vec<_>, Vec<_>) = failed.iter().partition(|f| f.retry_at_ms.is_none());
    v["events_retrying"] = retrying.iter().map(|f| f.json()).collect();
    v["dead_letters"] = dead.iter().map(|f| f.json()).collect();
    Ok(v)
}

/// `retry --event ID`: a dead letter back in the inbox, due at once (`serve` runs it).
pub fn retry_event(global: &Global, event_id: &str) -> Result<Value> {
    let (_, _, leases) = open_storage(global)?;
    if !leases.work_queue()?.retry_dead(&global.tenant, event_id)? {
        bail!("tenant {} has no dead letter with event id {event_id} (`status` lists them)", global.tenant);
    }
    Ok(json!({"retry_event": event_id, "message": "queued again; serve runs it next"}))
}

pub async fn retry(plugin: &TenantPlugin, person: &str) -> Result<Value> {
    done(plugin.retry(person).await)?;
    Ok(json!({"retry": person, "message": "backoff and quarantine lifted; the next tick tries again"}))
}

pub fn log_json(e: &api::LogEntry) -> Value {
    json!({"sequence": e.sequence, "at": e.at, "action": name_of(&e.action), "person_id": e.person_id, "email": e.email,
        "outcome": name_of(&e.outcome), "http_status": e.http_status, "message": e.message})
}

pub async fn logs(plugin: &TenantPlugin, args: &cli::LogsArgs) -> Result<Value> {
    let mut entries = Vec::new();
    let mut before = None;
    // Filtered pages may come back short (bounded reads per page): follow the cursor.
    while entries.len() < args.limit as usize {
        let q = api::LogQuery {
            failures_only: args.failures,
            person_id: args.person.clone(),
            limit: args.limit - entries.len() as u32,
            before,
        };
        let page = done(plugin.read_logs(&q).await)?;
        entries.extend(page.entries.iter().map(log_json));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    Ok(json!({"entries": entries}))
}

/// A plain table: columns padded to the widest cell, long cells cut.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cut = |s: &str| -> String {
        if s.chars().count() > 70 { s.chars().take(69).chain(['…']).collect() } else { s.to_owned() }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// Writes to stdout. A reader that went away (`| head`) is an `ErrorKind::BrokenPipe` error for
/// the caller, not a panic as with `println!`.
pub fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

pub fn print_logs(v: &Value) -> std::io::Result<()> {
    let s = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())).unwrap_or_default();
    let rows: Vec<Vec<String>> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            vec![s(&e["at"]), s(&e["action"]), s(&e["outcome"]), s(&e["email"]), s(&e["http_status"]), s(&e["message"])]
        })
        .collect();
    if rows.is_empty() {
        out("(no log entries)\n")
    } else {
        out(&table(&["TIME", "ACTION", "OUTCOME", "EMAIL", "HTTP", "MESSAGE"], &rows))
    }
}

/// Prints a flat JSON object as `key: value` lines (nested lists summarised).
pub fn print_summary(v: &Value) -> std::io::Result<()> {
    let mut text = String::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            let line = match val {
                Value::Array(a) if k == "changes" => format!("{k}: {} (use --json for the list)", a.len()),
                Value::Null => format!("{k}: -"),
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            };
            text.push_str(&line);
            text.push('\n');
        }
    }
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting `configure` has no flag for (or was not given) survives the merge untouched:
    /// the merge starts from the current settings, never from defaults.
    #[test]
    fn merging_keeps_every_setting_not_given() {
        let current = api::Settings {
            provisioning: Some(api::ProvisionTiming::OnStartDate),
            deprovisioning: Some(api::DeprovisionAction::Deactivate),
            dialect: api::Dialect::Rfc7644,
            deprovision_limit: Some(api::DeprovisionLimit::Count(7)),
            deprovision_window_minutes: Some(90),
        };
        let shown = |s: api::Settings| settings_json(&s);
        let tighter =
            cli::ConfigureArgs { deprovision_limit: Some(cli::DeprovisionLimitArg::Percent(10)), ..Default::default() };
        assert_eq!(
            shown(merge_settings(current, &tighter)),
            json!({"provisioning": "on-start-date", "deprovisioning": "deactivate", "dialect": "rfc7644",
                "deprovision_limit": "10%", "deprovision_window": "90m"})
        );
        assert_eq!(shown(merge_settings(current, &cli::ConfigureArgs::default())), shown(current));
        let wider = cli::ConfigureArgs {
            deprovision_window: Some(cli::DeprovisionWindowArg::Minutes(7 * 24 * 60)),
            ..Default::default()
        };
        assert_eq!(shown(merge_settings(current, &wider))["deprovision_window"], "168h");
        let back = cli::ConfigureArgs {
            deprovision_limit: Some(cli::DeprovisionLimitArg::Default),
            provisioning: Some(cli::Provisioning::Off),
            ..Default::default()
        };
        assert_eq!(
            shown(merge_settings(current, &back)),
            json!({"provisioning": "off", "deprovisioning": "deactivate", "dialect": "rfc7644",
                "deprovision_limit": "default: max(5, 10%)", "deprovision_window": "90m"})
        );
    }
}
