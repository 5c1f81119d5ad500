//! The admin JSON API under `/api/` (documented in `openapi.yaml`). Every route needs the admin
//! token as `Authorization: Bearer …`, or the admin page's session cookie plus its CSRF header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use serde_json::{Value, json};

use super::App;
use super::http::{Request, Response, decode};
use crate::cli;
use crate::operator::{self, describe, done};
use crate::plugin::api as wit;

/// Live "Sync all users" runs, by tenant: their progress as the page shows it.
#[derive(Default)]
pub struct SyncJobs {
    jobs: Mutex<HashMap<String, Value>>,
}

/// Writes per sync-all call in a live run from the API: small, so progress moves visibly.
const LIVE_SYNC_STEP: u32 = 25;

pub async fn handle(app: &Arc<App>, req: &Request, path: &[&str]) -> Response {
    if let Err(denied) = super::admin::authorize(app, req) {
        return denied;
    }
    let path: Vec<String> = path.iter().map(|s| decode(s)).collect();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let result = match (req.method.as_str(), path.as_slice()) {
        ("GET", ["tenants"]) => tenants(app),
        (method, ["tenants", tenant, rest @ ..]) => {
            if !valid_tenant(tenant) {
                return Response::error(400, "a tenant id is 1-64 letters, digits, - or _");
            }
            match (method, rest) {
                ("GET", ["connection"]) => connection(app, tenant),
                ("PUT", ["connection"]) => connect(app, tenant, req).await,
                ("GET", ["settings"]) => with_plugin(app, tenant, |p| async move { settings(&p).await }).await,
                ("PUT", ["settings"]) => configure(app, tenant, req).await,
                ("GET", ["status"]) => {
                    with_plugin(app, tenant, |p| async move { operator::status(&p).await.map_err(unprocessable) }).await
                }
                ("GET", ["logs"]) => logs(app, tenant, req).await,
                ("POST", ["sync"]) => sync(app, tenant, req).await,
                ("GET", ["sync"]) => {
                    Ok(app.syncs.jobs.lock().unwrap().get(*tenant).cloned().unwrap_or(json!({"state": "idle"})))
                }
                ("POST", ["retry"]) => retry(app, tenant, req).await,
                _ => Err(Response::error(404, "no such route")),
            }
        }
        _ => Err(Response::error(404, "no such route")),
    };
    match result {
        Ok(value) => Response::json(200, &value),
        Err(response) => response,
    }
}

type Answer = Result<Value, Response>;

pub fn valid_tenant(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn internal(e: anyhow::Error) -> Response {
    Response::error(500, &format!("{e:#}"))
}

fn stopping() -> Response {
    Response::error(503, "shutting down; try again later")
}

/// A call the component or the services refused: the page shows the message as it is.
fn unprocessable(e: anyhow::Error) -> Response {
    Response::error(422, &format!("{e:#}"))
}

async fn with_plugin<F, Fut>(app: &App, tenant: &str, f: F) -> Answer
where
    F: FnOnce(crate::TenantPlugin) -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    match app.plugin(tenant).map_err(internal)? {
        Some(p) => f(p).await,
        None => Err(Response::error(404, "no such tenant: connect it first")),
    }
}

fn tenants(app: &App) -> Answer {
    let mut list = Vec::new();
    for id in app.host.tenants().map_err(internal)? {
        let policy = app.host.policy_of(&id).map_err(internal)?.unwrap_or_default();
        list.push(json!({"id": id, "humaans_url": policy.humaans_url, "scim_url": policy.scim_url,
            "busy": app.workers.try_lock(&id).is_none()}));
    }
    Ok(json!({"tenants": list}))
}

fn connection(app: &App, tenant: &str) -> Answer {
    match app.host.policy_of(tenant).map_err(internal)? {
        None => Err(Response::error(404, "no such tenant: connect it first")),
        Some(p) => Ok(json!({"tenant": tenant, "humaans_url": p.humaans_url, "scim_url": p.scim_url,
            "allowed_hosts": p.entries().iter().map(ToString::to_string).collect::<Vec<_>>()})),
    }
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn connect(app: &Arc<App>, tenant: &str, req: &Request) -> Answer {
    let body = req.json()?;
    let required = |key: &str| text(&body, key).ok_or_else(|| Response::error(400, &format!("`{key}` is required")));
    let args = cli::ConnectArgs {
        humaans_url: text(&body, "humaans_url").unwrap_or_else(|| "https://app.humaans.io/api".into()),
        scim_url: text(&body, "scim_url").unwrap_or_else(|| "https://api.leapsome.com/scim/v1".into()),
        humaans_token: required("humaans_token")?,
        scim_token: required("scim_token")?,
        webhook_secret: text(&body, "webhook_secret"),
        scim_rate_limit: body.get("scim_rate_limit").and_then(Value::as_u64).map(|n| n.min(u32::MAX as u64) as u32),
        allow_host: body
            .get("allow_hosts")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let Some(turn) = app.wait_leased_turn(tenant).await else { return Err(stopping()) };
    let started = std::time::Instant::now();
    let result = operator::connect_tenant(&app.host, tenant, args).await;
    app.metrics.call("connect", if result.is_ok() { "ok" } else { "error" }, started.elapsed());
    drop(turn);
    app.forget_plugin(tenant);
    let report = result.map_err(unprocessable)?;
    app.log.info("tenant connected", &[("tenant", tenant.to_owned())]);
    Ok(report)
}

fn settings_json(s: &wit::Settings) -> Value {
    json!({
        "provisioning": match s.provisioning {
            None => "off".to_owned(),
            Some(wit::ProvisionTiming::Immediately) => "immediately".to_owned(),
            Some(wit::ProvisionTiming::OnStartDate) => "on-start-date".to_owned(),
            Some(wit::ProvisionTiming::DaysBeforeStart(n)) => format!("days-before-start:{n}"),
        },
        "deprovisioning": s.deprovisioning.map_or("off".to_owned(), |d| operator::name_of(&d)),
        "dialect": operator::name_of(&s.dialect),
        "deprovision_limit": match s.deprovision_limit {
            None => None,
            Some(wit::DeprovisionLimit::Count(n)) => Some(n.to_string()),
            Some(wit::DeprovisionLimit::Percent(p)) => Some(format!("{p}%")),
        },
    })
}

async fn settings(plugin: &crate::TenantPlugin) -> Answer {
    let status = done(plugin.status().await).map_err(unprocessable)?;
    Ok(status.settings.as_ref().map_or(
        json!({"provisioning": "off", "deprovisioning": "off", "dialect": "leapsome",
        "deprovision_limit": null}),
        settings_json,
    ))
}

async fn configure(app: &Arc<App>, tenant: &str, req: &Request) -> Answer {
    let body = req.json()?;
    let bad = |e: String| Response::error(400, &e);
    let field = |key: &str, default: &str| text(&body, key).unwrap_or_else(|| default.to_owned());
    let args = cli::ConfigureArgs {
        provisioning: cli::parse_provisioning(&field("provisioning", "off")).map_err(bad)?,
        deprovisioning: cli::Deprovisioning::from_str(&field("deprovisioning", "off"), true)
            .map_err(|_| bad("`deprovisioning` is off, suspend or deactivate".into()))?,
        dialect: cli::DialectArg::from_str(&field("dialect", "leapsome"), true)
            .map_err(|_| bad("`dialect` is leapsome or rfc7644".into()))?,
        deprovision_limit: text(&body, "deprovision_limit")
            .map(|l| cli::parse_deprovision_limit(&l))
            .transpose()
            .map_err(bad)?,
    };
    let Some(plugin) = app.plugin(tenant).map_err(internal)? else {
        return Err(Response::error(404, "no such tenant: connect it first"));
    };
    let settings = operator::settings_from(&args);
    let Some(turn) = app.wait_leased_turn(tenant).await else { return Err(stopping()) };
    let result = app.timed("configure", turn.plugin(app, &plugin).configure(settings)).await;
    drop(turn);
    done(result).map_err(unprocessable)?;
    Ok(settings_json(&settings))
}

async fn logs(app: &App, tenant: &str, req: &Request) -> Answer {
    let limit = match req.query_param("limit") {
        None => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| Response::error(400, "`limit` is 1-500"))?,
    };
    let before = match req.query_param("before") {
        None | Some("") => None,
        Some(b) => Some(b.parse::<u64>().map_err(|_| Response::error(400, "`before` is a sequence number"))?),
    };
    let query = wit::LogQuery {
        failures_only: matches!(req.query_param("failures"), Some("1" | "true")),
        person_id: req.query_param("person").map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned),
        limit,
        before,
    };
    with_plugin(app, tenant, |p| async move {
        let page = done(p.read_logs(&query).await).map_err(unprocessable)?;
        Ok(json!({"entries": page.entries.iter().map(operator::log_json).collect::<Vec<_>>(), "next_before": page.next_before}))
    })
    .await
}

async fn retry(app: &Arc<App>, tenant: &str, req: &Request) -> Answer {
    let body = req.json()?;
    let person = text(&body, "person").ok_or_else(|| Response::error(400, "`person` is required"))?;
    with_plugin(app, tenant, |p| async move { operator::retry(&p, &person).await.map_err(unprocessable) }).await
}

/// `{"dry_run": true}` answers the plan; otherwise a live run starts in the background (one per
/// tenant) and `GET …/sync` shows its progress.
async fn sync(app: &Arc<App>, tenant: &str, req: &Request) -> Answer {
    let body = if req.body.is_empty() { json!({}) } else { req.json()? };
    let dry_run = body.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    let approve = body.get("approve_deprovisions").and_then(Value::as_bool).unwrap_or(false);
    let Some(plugin) = app.plugin(tenant).map_err(internal)? else {
        return Err(Response::error(404, "no such tenant: connect it first"));
    };
    if dry_run {
        let args = cli::SyncArgs { dry_run: true, max_writes: 1, once: true, approve_deprovisions: approve };
        return operator::sync_all(&plugin, &args, true).await.map_err(unprocessable);
    }
    {
        let mut jobs = app.syncs.jobs.lock().unwrap();
        if jobs.get(tenant).is_some_and(|j| j["state"] == "running") {
            return Err(Response::error(409, "a sync is already running for this tenant"));
        }
        jobs.insert(
            tenant.to_owned(),
            json!({"state": "running", "calls": 0, "writes": 0, "total_writes": null,
            "remaining_writes": null, "failed": 0, "changes": []}),
        );
    }
    let app2 = app.clone();
    let tenant = tenant.to_owned();
    tokio::spawn(async move { live_sync(app2, tenant, plugin, approve).await });
    Ok(json!({"state": "running"}))
}

async fn live_sync(app: Arc<App>, tenant: String, plugin: crate::TenantPlugin, approve: bool) {
    let update = |f: &dyn Fn(&mut Value)| {
        if let Some(job) = app.syncs.jobs.lock().unwrap().get_mut(&tenant) {
            f(job);
        }
    };
    let Some(turn) = app.wait_leased_turn(&tenant).await else {
        update(&|j| j["state"] = json!("stopped"));
        return;
    };
    let plugin = turn.plugin(&app, &plugin);
    let options = wit::SyncOptions { dry_run: false, max_writes: Some(LIVE_SYNC_STEP), approve_deprovisions: approve };
    loop {
        if app.is_stopping() {
            update(&|j| j["state"] = json!("stopped"));
            break;
        }
        match app.timed("sync-all", plugin.sync_all(options)).await {
            Ok(Ok(r)) => {
                update(&|j| {
                    let writes = j["writes"].as_u64().unwrap_or(0) + u64::from(r.writes);
                    // The first call's estimate misses manager links that become possible later.
                    let total = j["total_writes"].as_u64().unwrap_or(0).max(writes + u64::from(r.remaining_writes));
                    j["total_writes"] = json!(total);
                    j["calls"] = json!(j["calls"].as_u64().unwrap_or(0) + 1);
                    j["writes"] = json!(writes);
                    j["remaining_writes"] = json!(r.remaining_writes);
                    j["failed"] = json!(j["failed"].as_u64().unwrap_or(0) + u64::from(r.failed));
                    j["held"] = json!(r.held);
                    j["people"] = json!(r.people);
                    if let Some(changes) = j["changes"].as_array_mut() {
                        changes.extend(r.changes.iter().map(operator::change_json));
                    }
                });
                if r.complete || r.writes == 0 {
                    update(&|j| j["state"] = json!("done"));
                    break;
                }
            }
            Ok(Err(e)) => {
                let message = describe(&e);
                update(&|j| {
                    j["state"] = json!("failed");
                    j["error"] = json!(message);
                });
                break;
            }
            Err(e) => {
                update(&|j| {
                    j["state"] = json!("failed");
                    j["error"] = json!(e.to_string());
                });
                break;
            }
        }
    }
    drop(turn);
    app.work.notify_one();
}
