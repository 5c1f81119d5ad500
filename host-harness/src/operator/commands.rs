//! The tenant commands: each calls the component (sync-all: until done) and answers one JSON
//! value, which the CLI prints as a table or as it is, and `serve` returns.

use std::io::{IsTerminal, Write};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::describe::{describe, done, name_of};
use super::host::{Host, HostConfig, StoredPolicy, open_storage};
use super::settings::{SettingsChange, merge_settings, settings_json};
use crate::leased::HeldLease;
use crate::plugin::api::{self, IntegrationError};
use crate::{AllowedHost, TenantPlugin};

/// What `connect` is given: the two services and their tokens.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub humaans_url: String,
    pub scim_url: String,
    pub humaans_token: String,
    pub scim_token: String,
    /// The secret Humaans signs webhooks with; `None` keeps the saved one.
    pub webhook_secret: Option<String>,
    /// Requests a second the SCIM service allows; `None`: Leapsome's 30; 0 turns pacing off.
    pub scim_rate_limit: Option<u32>,
    /// More `HOST[:PORT]` (https) or URLs the tenant may reach.
    pub allow_host: Vec<String>,
}

/// How `sync-all` runs.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Show the plan; write nothing.
    pub dry_run: bool,
    /// Writes per call; calls repeat until done unless `once`.
    pub max_writes: u32,
    pub once: bool,
    /// Carry out deprovisions held by the brake.
    pub approve_deprovisions: bool,
    /// Rewrite every team's whole membership.
    pub repair_teams: bool,
}

/// `HOST[:PORT]` is https; `http://HOST[:PORT]` (or any URL) names its scheme.
fn parse_allow_host(s: &str) -> Result<AllowedHost> {
    let url = if s.contains("://") { s.to_owned() } else { format!("https://{s}") };
    AllowedHost::from_url(&url).map_err(|e| anyhow!("--allow-host {s}: {e}"))
}

/// `connect` from the command line: under the tenant's lease.
pub async fn connect(host: &Host, args: ConnectRequest) -> Result<Value> {
    let held = host.lease(&host.config.tenant).await?;
    connect_under(host, &host.config.tenant, args, Some(&held)).await
}

/// `connect` for one tenant: verifies, then saves the tenant's policy (allowed hosts, URLs).
pub async fn connect_tenant(host: &Host, tenant: &str, args: ConnectRequest) -> Result<Value> {
    connect_under(host, tenant, args, None).await
}

/// `connect`, its call made under `held` when given.
pub async fn connect_under(host: &Host, tenant: &str, args: ConnectRequest, held: Option<&HeldLease>) -> Result<Value> {
    let mut hosts = Vec::new();
    for url in [&args.humaans_url, &args.scim_url] {
        hosts.push(AllowedHost::from_url(url).map_err(|e| anyhow!("{e}"))?);
    }
    for extra in &args.allow_host {
        hosts.push(parse_allow_host(extra)?);
    }
    let plugin = host.plugin_of(tenant, &hosts).in_run(crate::Run::new(&host.config.trigger));
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

/// `configure`: changes the settings given and keeps the rest, read from the component's
/// `status` (a flag left out must never turn provisioning or the brake off behind the operator's
/// back).
pub async fn configure(host: &Host, args: SettingsChange) -> Result<Value> {
    // Under the lease, so the settings read are still the current ones when written back.
    let (plugin, _held) = host.leased_plugin().await?;
    // Settings are there exactly when the tenant is connected; configure refuses otherwise.
    let current =
        done(plugin.status().await)?.settings.ok_or_else(|| anyhow!(describe(&IntegrationError::NotConnected)))?;
    let settings = merge_settings(current, &args);
    done(plugin.configure(&settings).await)?;
    let mut shown = json!({"configured": true});
    if let (Some(out), Some(fields)) = (shown.as_object_mut(), settings_json(&settings).as_object()) {
        out.extend(fields.clone());
    }
    Ok(shown)
}

/// `configure --dry-run`: the current settings with `args` applied, previewed: the plan they
/// would give, nothing saved (no lease: nothing is written).
pub async fn preview_configure(host: &Host, args: &SettingsChange) -> Result<Value> {
    let plugin = host.plugin()?;
    let current =
        done(plugin.status().await)?.settings.ok_or_else(|| anyhow!(describe(&IntegrationError::NotConnected)))?;
    preview_settings(&plugin, merge_settings(current, args)).await
}

/// A team change as the CLI and the API show it.
pub fn team_change_json(c: &api::TeamChange) -> Value {
    json!({"team": c.team, "kind": name_of(&c.kind), "members": c.members, "error": c.error})
}

pub fn change_json(c: &api::Change) -> Value {
    json!({"person_id": c.person_id, "email": c.email, "kind": name_of(&c.kind), "attributes": c.attributes, "error": c.error})
}

/// Runs sync-all calls until complete (or once), with a progress bar on a terminal.
pub async fn sync_all(plugin: &TenantPlugin, args: &SyncOptions, quiet: bool) -> Result<Value> {
    sync_with(plugin, args, None, quiet).await
}

/// `configure --dry-run`: the plan `settings` would give, saving nothing: `sync-all --dry-run`'s
/// answer with who enters and who leaves scope.
pub async fn preview_settings(plugin: &TenantPlugin, settings: api::Settings) -> Result<Value> {
    let args =
        SyncOptions { dry_run: true, max_writes: 1, once: true, approve_deprovisions: false, repair_teams: false };
    let mut plan = sync_with(plugin, &args, Some(settings.clone()), true).await?;
    if let (Some(out), Some(fields)) = (plan.as_object_mut(), settings_json(&settings).as_object()) {
        out.insert("settings".into(), Value::Object(fields.clone()));
    }
    Ok(plan)
}

async fn sync_with(
    plugin: &TenantPlugin,
    args: &SyncOptions,
    preview: Option<api::Settings>,
    quiet: bool,
) -> Result<Value> {
    let mut totals = json!({"calls": 0, "created": 0, "adopted": 0, "updated": 0, "deprovisioned": 0, "reactivated": 0,
        "managers_linked": 0, "failed": 0, "writes": 0, "held": 0});
    let progress = !quiet && std::io::stderr().is_terminal();
    let mut first_remaining = None;
    let mut last;
    let mut changes = Vec::new();
    let mut team_changes = Vec::new();
    loop {
        let options = api::SyncOptions {
            dry_run: args.dry_run,
            max_writes: Some(args.max_writes.max(1)),
            approve_deprovisions: args.approve_deprovisions,
            repair_teams: args.repair_teams,
            preview_settings: preview.clone(),
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
        team_changes.extend(r.team_changes.iter().map(team_change_json));
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
    totals["teams"] = json!(last.teams);
    totals["team_changes"] = json!(team_changes);
    totals["out_of_scope"] = json!(last.out_of_scope);
    if preview.is_some() {
        let who = |entering: bool| {
            let people = last.scope_changes.iter().filter(|c| c.entering == entering);
            people.map(|c| json!({"person_id": c.person_id, "email": c.email})).collect::<Vec<_>>()
        };
        totals["entering_scope"] = json!(who(true));
        totals["leaving_scope"] = json!(who(false));
    }
    Ok(totals)
}

/// `event`: one employee event, as a webhook would bring it; `id` defaults to a generated one.
pub async fn event(host: &Host, kind: api::EventKind, person: String, id: Option<String>) -> Result<Value> {
    let (plugin, _held) = host.leased_plugin().await?;
    let now = format!("{:.0}", jiff::Timestamp::now());
    let id = id.unwrap_or_else(|| format!("cli-{}", jiff::Timestamp::now().as_millisecond()));
    let e = api::EmployeeEvent { id, kind, person_id: person, occurred_at: now };
    let o = done(plugin.on_employee_event(&e).await)?;
    Ok(
        json!({"changes": o.changes.iter().map(change_json).collect::<Vec<_>>(), "skipped": o.skipped, "manager_pending": o.manager_pending,
            "team_changes": o.team_changes.iter().map(team_change_json).collect::<Vec<_>>()}),
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
/// `serve` (retrying, and dead letters kept after their last attempt) and its notifications.
pub async fn status_with_inbox(host: &Host) -> Result<Value> {
    let mut v = status(&host.plugin()?).await?;
    let failed = host.leases.work_queue()?.failed(&host.config.tenant)?;
    let (dead, retrying): (Vec<_>, Vec<_>) = failed.iter().partition(|f| f.retry_at_ms.is_none());
    v["events_retrying"] = retrying.iter().map(|f| f.json()).collect();
    v["dead_letters"] = dead.iter().map(|f| f.json()).collect();
    v["notifications"] = super::notify::status_json(host, &host.config.tenant);
    Ok(v)
}

/// `retry --event ID`: a dead letter back in the inbox, due at once (`serve` runs it).
pub fn retry_event(config: &HostConfig, event_id: &str) -> Result<Value> {
    let (_, _, leases) = open_storage(config)?;
    if !leases.work_queue()?.retry_dead(&config.tenant, event_id)? {
        bail!("tenant {} has no dead letter with event id {event_id} (`status` lists them)", config.tenant);
    }
    Ok(json!({"retry_event": event_id, "message": "queued again; serve runs it next"}))
}

pub async fn retry(plugin: &TenantPlugin, person: &str) -> Result<Value> {
    done(plugin.retry(person).await)?;
    Ok(json!({"retry": person, "message": "backoff and quarantine lifted; the next tick tries again"}))
}
