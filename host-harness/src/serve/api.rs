//! The admin JSON API under `/api/` (documented in `openapi.yaml`). Every route needs the admin
//! token as `Authorization: Bearer …`, or the admin page's session cookie plus its CSRF header.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::app::App;
use super::extract::{Json, Refusal, Tenant, json_body, query, read_body};
use crate::operator::settings::{self, DeprovisionLimit, DeprovisionWindow, SettingsChange};
use crate::operator::{self, ConnectRequest, SyncOptions, describe, done};
use crate::plugin::api as wit;

/// Writes per sync-all call in a live run from the API: small, so progress moves visibly.
const LIVE_SYNC_STEP: u32 = 25;

/// The API's routes, relative to `/api`. Behind the admin gate and the 64 KiB body limit
/// (`routes.rs`); a route naming a tenant takes it with the [`Tenant`] extractor (a malformed id
/// is a 400 before the handler runs).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/tenants", get(tenants))
        .route("/tenants/{tenant}/connection", get(connection).put(connect))
        .route("/tenants/{tenant}/settings", get(settings).put(replace_settings).patch(change_settings))
        .route("/tenants/{tenant}/settings/preview", post(preview_settings))
        .route("/tenants/{tenant}/status", get(status))
        .route("/tenants/{tenant}/logs", get(logs))
        .route("/tenants/{tenant}/sync", get(sync_progress).post(sync))
        .route("/tenants/{tenant}/retry", post(retry))
        .route("/tenants/{tenant}/held/approve-all", post(approve_all))
        .route("/tenants/{tenant}/held/{person}/approve", post(approve_one))
        .merge(super::dead_letters::routes())
        .merge(super::log_export::routes())
        .merge(super::notify_settings::routes())
        .merge(super::provision::routes())
        .fallback(|| async { Refusal::new(StatusCode::NOT_FOUND, "no such route") })
}

type Answer = Result<Json, Refusal>;

pub use crate::tenant::valid_tenant;

fn internal(e: anyhow::Error) -> Refusal {
    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
}

fn stopping() -> Refusal {
    Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down; try again later")
}

/// A call the component or the services refused: the page shows the message as it is.
fn unprocessable(e: anyhow::Error) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))
}

fn bad_request(message: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, message)
}

fn no_tenant() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "no such tenant: connect it first")
}

fn plugin_of(app: &App, tenant: &str) -> Result<crate::TenantPlugin, Refusal> {
    // A call through the API: the admin page or a program holding the admin token.
    Ok(app.plugin(tenant).map_err(internal)?.ok_or_else(no_tenant)?.in_run(crate::Run::new("admin")))
}

async fn tenants(State(app): State<Arc<App>>) -> Answer {
    let mut list = Vec::new();
    for id in app.host.tenants().map_err(internal)? {
        let policy = app.host.policy_of(&id).map_err(internal)?.unwrap_or_default();
        list.push(json!({"id": id, "humaans_url": policy.humaans_url, "scim_url": policy.scim_url,
            "busy": app.workers.try_lock(&id).is_none()}));
    }
    Ok(Json(json!({"tenants": list})))
}

async fn connection(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Answer {
    match app.host.policy_of(&tenant).map_err(internal)? {
        None => Err(no_tenant()),
        Some(p) => Ok(Json(json!({"tenant": tenant, "humaans_url": p.humaans_url, "scim_url": p.scim_url,
            "allowed_hosts": p.entries().iter().map(ToString::to_string).collect::<Vec<_>>()}))),
    }
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn connect(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    let body = json_body(&read_body(body).await?)?;
    let required = |key: &str| text(&body, key).ok_or_else(|| bad_request(&format!("`{key}` is required")));
    let args = ConnectRequest {
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
    let Some(turn) = app.wait_leased_turn(&tenant).await else { return Err(stopping()) };
    let started = std::time::Instant::now();
    let result = operator::connect_tenant(&app.host, &tenant, args).await;
    app.metrics.call("connect", if result.is_ok() { "ok" } else { "error" }, started.elapsed());
    drop(turn);
    app.forget_plugin(&tenant);
    super::notifications::after_turn(&app, &tenant);
    let report = result.map_err(unprocessable)?;
    tracing::info!(tenant, "tenant connected");
    Ok(Json(report))
}

/// The settings' JSON keys, in the order the API shows them.
const SETTINGS_KEYS: &[&str] = &[
    "provisioning",
    "deprovisioning",
    "dialect",
    "deprovision_limit",
    "deprovision_window",
    "teams",
    "log_retention",
    "scope",
    "out_of_scope",
    "extra_fields",
];

/// Every setting at its default: what `PUT` starts from, and what a tenant never configured has.
fn default_settings() -> wit::Settings {
    operator::default_settings()
}

/// Minutes as the API writes them: `90m`, `24h`.
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
        "deprovision_window": s.deprovision_window_minutes.map(operator::window_text),
        "teams": s.teams,
        "log_retention": s.log_retention.unwrap_or(5000),
        "scope": s.scope,
        "out_of_scope": operator::name_of(&s.out_of_scope),
        "extra_fields": settings::extra_field_words(&s.extra_fields),
    })
}

/// A settings body the API refuses: 422, naming the field.
fn refused_setting(message: String) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// `base` with the settings `body` gives: every key checked (an object; known keys; each of its
/// type and range) before any is applied, so a refused body changes nothing.
fn apply_settings(base: wit::Settings, body: &Value) -> Result<wit::Settings, Refusal> {
    let Some(object) = body.as_object() else {
        return Err(refused_setting(format!(
            "the settings are a JSON object with any of: {}",
            SETTINGS_KEYS.join(", ")
        )));
    };
    if let Some(key) = object.keys().find(|k| !SETTINGS_KEYS.contains(&k.as_str())) {
        return Err(refused_setting(format!(
            "`{key}` is not a setting; the settings are {}",
            SETTINGS_KEYS.join(", ")
        )));
    }
    let string = |key: &str, value: &Value, expected: &str| -> Result<String, Refusal> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| refused_setting(format!("`{key}` must be a string: {expected}")))
    };
    // Each field is read into the operator's `SettingsChange`, in the CLI's words, and merged
    // the way `configure` merges: one meaning for every setting, whichever door it came in by.
    let mut change = SettingsChange::default();
    for (key, value) in object {
        match key.as_str() {
            "provisioning" => {
                const EXPECTED: &str = "off, immediately, on-start-date or days-before-start:N";
                let given = string(key, value, EXPECTED)?;
                change.provisioning = Some(
                    settings::parse_provisioning(&given)
                        .map_err(|e| refused_setting(format!("`provisioning`: {e}")))?,
                );
            }
            "deprovisioning" => {
                const EXPECTED: &str = "off, suspend or deactivate";
                let given = string(key, value, EXPECTED)?;
                change.deprovisioning = Some(
                    settings::parse_deprovisioning(&given)
                        .map_err(|_| refused_setting(format!("`deprovisioning` is {EXPECTED}")))?,
                );
            }
            "dialect" => {
                const EXPECTED: &str = "leapsome or rfc7644";
                let given = string(key, value, EXPECTED)?;
                change.dialect = Some(
                    settings::parse_dialect(&given).map_err(|_| refused_setting(format!("`dialect` is {EXPECTED}")))?,
                );
            }
            "deprovision_limit" => {
                const EXPECTED: &str =
                    "`deprovision_limit` is a number of people, a percentage (\"5%\"), or null for the default";
                change.deprovision_limit = Some(match value {
                    Value::Null => DeprovisionLimit::Default,
                    Value::Number(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => DeprovisionLimit::Count(n),
                        None => return Err(refused_setting(EXPECTED.into())),
                    },
                    Value::String(given) => settings::parse_deprovision_limit(given)
                        .map_err(|e| refused_setting(format!("`deprovision_limit`: {e}")))?,
                    _ => return Err(refused_setting(EXPECTED.into())),
                });
            }
            "scope" => {
                const EXPECTED: &str = "`scope` is a list of rules (text), or null or [] for none (everyone in scope)";
                change.scope = Some(match value {
                    Value::Null => Vec::new(),
                    Value::Array(rules) => rules
                        .iter()
                        .map(|r| r.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| refused_setting(EXPECTED.into()))?,
                    _ => return Err(refused_setting(EXPECTED.into())),
                });
            }
            "out_of_scope" => {
                const EXPECTED: &str = "`out_of_scope` is keep or deprovision";
                let given = string(key, value, EXPECTED)?;
                change.keep_out_of_scope =
                    Some(settings::parse_out_of_scope(&given).map_err(|_| refused_setting(EXPECTED.into()))?);
            }
            "log_retention" => {
                const EXPECTED: &str =
                    "`log_retention` is a number of entries from 100 to 100,000, or null for the default (5,000)";
                change.log_retention = Some(match value {
                    Value::Null => settings::LogRetention::Default,
                    Value::Number(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        Some(n) if settings::LOG_RETENTION_RANGE.contains(&n) => settings::LogRetention::Entries(n),
                        _ => return Err(refused_setting(EXPECTED.into())),
                    },
                    _ => return Err(refused_setting(EXPECTED.into())),
                });
            }
            "extra_fields" => {
                const EXPECTED: &str = "`extra_fields` is a list of start-date, end-date, location, gender, birthday and custom:HUMAANS_FIELD=LEAPSOME_ATTRIBUTE_ID (24 hex), or [] for none";
                let Some(list) = value.as_array() else { return Err(refused_setting(EXPECTED.into())) };
                // Word by word, each in `--map`'s words.
                let mut fields: Vec<settings::MappedField> = Vec::with_capacity(list.len());
                for word in list {
                    let word = word.as_str().ok_or_else(|| refused_setting(EXPECTED.into()))?;
                    let parsed = settings::parse_extra_fields(word)
                        .map_err(|e| refused_setting(format!("`extra_fields`: {e}")))?;
                    fields.extend(parsed.into_iter().filter(|f| !fields.contains(f)).collect::<Vec<_>>());
                }
                change.extra_fields = Some(fields);
            }
            "teams" => {
                const EXPECTED: &str = "`teams` is true or false (or \"on\" / \"off\")";
                change.teams = Some(match value {
                    Value::Bool(on) => *on,
                    Value::String(word) => {
                        settings::parse_on_off(word).map_err(|_| refused_setting(EXPECTED.into()))?
                    }
                    _ => return Err(refused_setting(EXPECTED.into())),
                });
            }
            "deprovision_window" => {
                const EXPECTED: &str = "`deprovision_window` is a duration from 1m to 30d (\"24h\", \"90m\"), a number of minutes, or null for the default (24h)";
                let minutes = match value {
                    Value::Null => None,
                    Value::Number(n) => Some(n.as_u64().ok_or_else(|| refused_setting(EXPECTED.into()))?),
                    Value::String(given) => {
                        let d = settings::parse_duration(given).map_err(|_| refused_setting(EXPECTED.into()))?;
                        if !d.as_millis().is_multiple_of(60_000) {
                            return Err(refused_setting(format!("{EXPECTED}: whole minutes")));
                        }
                        Some((d.as_millis() / 60_000) as u64)
                    }
                    _ => return Err(refused_setting(EXPECTED.into())),
                };
                change.deprovision_window = Some(match minutes {
                    None => DeprovisionWindow::Default,
                    Some(m) if (1..=u64::from(settings::MAX_DEPROVISION_WINDOW_MINUTES)).contains(&m) => {
                        DeprovisionWindow::Minutes(m as u32)
                    }
                    Some(_) => return Err(refused_setting(EXPECTED.into())),
                });
            }
            _ => unreachable!("keys were checked above"),
        }
    }
    Ok(operator::merge_settings(base, &change))
}

/// The tenant's settings as the component holds them (defaults before the first configure).
async fn current_settings(plugin: &crate::TenantPlugin) -> Result<wit::Settings, Refusal> {
    let status = done(plugin.status().await).map_err(unprocessable)?;
    Ok(status.settings.unwrap_or_else(default_settings))
}

async fn settings(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Answer {
    let plugin = plugin_of(&app, &tenant)?;
    Ok(Json(settings_json(&current_settings(&plugin).await?)))
}

/// `PUT`: the body is the whole of the settings; a setting left out goes back to its default.
async fn replace_settings(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    configure(&app, &tenant, body, false).await
}

/// `PATCH`: only the settings in the body change; the others keep their current values.
async fn change_settings(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    configure(&app, &tenant, body, true).await
}

/// `POST …/settings/preview`: the plan the current settings changed as a `PATCH` body says would
/// give (who enters scope, who leaves, what would be written), nothing saved.
async fn preview_settings(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    let body = json_body(&read_body(body).await?)?;
    apply_settings(default_settings(), &body)?;
    let plugin = plugin_of(&app, &tenant)?;
    let settings = apply_settings(current_settings(&plugin).await?, &body)?;
    operator::preview_settings(&plugin, settings).await.map(Json).map_err(unprocessable)
}

async fn configure(app: &Arc<App>, tenant: &str, body: Body, patch: bool) -> Answer {
    let body = json_body(&read_body(body).await?)?;
    // Checked in full before the tenant's turn is taken: a refused body waits for nothing.
    apply_settings(default_settings(), &body)?;
    let plugin = plugin_of(app, tenant)?;
    let Some(turn) = app.wait_leased_turn(tenant).await else { return Err(stopping()) };
    let plugin = turn.plugin(app, &plugin);
    // Read under the turn, so no other change lands between the read and the write.
    let base = if patch { current_settings(&plugin).await? } else { default_settings() };
    let settings = apply_settings(base, &body)?;
    let result = app.timed(tenant, "configure", plugin.configure(&settings)).await;
    drop(turn);
    done(result).map_err(unprocessable)?;
    Ok(Json(settings_json(&settings)))
}

async fn status(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Answer {
    let plugin = plugin_of(&app, &tenant)?;
    let mut status = operator::status(&plugin).await.map_err(unprocessable)?;
    status["dead_letter_count"] = super::dead_letters::count(&app, &tenant).map_err(internal)?.into();
    Ok(Json(status))
}

async fn logs(State(app): State<Arc<App>>, Tenant(tenant): Tenant, uri: Uri) -> Answer {
    let params = query(&uri);
    let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let limit = match param("limit") {
        None => 50,
        Some(l) => {
            l.parse::<u32>().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| bad_request("`limit` is 1-500"))?
        }
    };
    let before = match param("before") {
        None | Some("") => None,
        Some(b) => Some(b.parse::<u64>().map_err(|_| bad_request("`before` is a sequence number"))?),
    };
    let query = wit::LogQuery {
        failures_only: matches!(param("failures"), Some("1" | "true")),
        person_id: param("person").map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned),
        limit,
        before,
    };
    let plugin = plugin_of(&app, &tenant)?;
    // A work email, a period or a run is filtered over the whole log (as `logs.csv`): one answer
    // of at most `limit`, without paging.
    let filters = super::log_export::filters(&uri)?;
    let email = filters.person.as_deref().is_some_and(|p| p.contains('@'));
    if email || filters.since.is_some() || filters.until.is_some() || filters.run.is_some() {
        let filters = operator::logs::LogsQuery { limit: Some(limit), ..filters };
        let entries = operator::logs::read_entries(&plugin, &filters).await.map_err(unprocessable)?;
        let entries: Vec<Value> = entries.iter().map(operator::log_json).collect();
        return Ok(Json(json!({"entries": entries, "next_before": null})));
    }
    let page = done(plugin.read_logs(&query).await).map_err(unprocessable)?;
    Ok(Json(
        json!({"entries": page.entries.iter().map(operator::log_json).collect::<Vec<_>>(), "next_before": page.next_before}),
    ))
}

async fn retry(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    let body = json_body(&read_body(body).await?)?;
    let person = text(&body, "person").ok_or_else(|| bad_request("`person` is required"))?;
    let plugin = plugin_of(&app, &tenant)?;
    // A write: under the tenant's lease, like every call that changes the tenant.
    let Some(turn) = app.wait_leased_turn(&tenant).await else { return Err(stopping()) };
    let result = operator::retry(&turn.plugin(&app, &plugin), &person).await;
    drop(turn);
    super::notifications::after_turn(&app, &tenant);
    result.map(Json).map_err(unprocessable)
}

/// `POST …/held/{person}/approve`: carries out one held deprovision (re-read from Humaans first).
async fn approve_one(
    State(app): State<Arc<App>>,
    Tenant(tenant): Tenant,
    Path(params): Path<std::collections::HashMap<String, String>>,
) -> Answer {
    let person = params.get("person").cloned().unwrap_or_default();
    approve(&app, &tenant, Some(&person)).await
}

/// `POST …/held/approve-all`: every held deprovision (200 a call; the answer's `remaining` says
/// how many are left for the next).
async fn approve_all(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Answer {
    approve(&app, &tenant, None).await
}

async fn approve(app: &Arc<App>, tenant: &str, person: Option<&str>) -> Answer {
    let plugin = plugin_of(app, tenant)?;
    let Some(turn) = app.wait_leased_turn(tenant).await else { return Err(stopping()) };
    let result = operator::approve(&turn.plugin(app, &plugin), person).await;
    drop(turn);
    super::notifications::after_turn(app, tenant);
    let answer = result.map_err(unprocessable)?;
    tracing::info!(tenant, approved = %answer["approved"], "held deprovisions approved");
    Ok(Json(answer))
}

async fn sync_progress(State(app): State<Arc<App>>, Tenant(tenant): Tenant) -> Answer {
    Ok(Json(app.syncs.jobs.lock().unwrap().get(&tenant).cloned().unwrap_or(json!({"state": "idle"}))))
}

/// `{"dry_run": true}` answers the plan; otherwise a live run starts in the background (one per
/// tenant) and `GET …/sync` shows its progress.
async fn sync(State(app): State<Arc<App>>, Tenant(tenant): Tenant, body: Body) -> Answer {
    let body = read_body(body).await?;
    let body = if body.is_empty() { json!({}) } else { json_body(&body)? };
    let dry_run = body.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    let approve = body.get("approve_deprovisions").and_then(Value::as_bool).unwrap_or(false);
    let plugin = plugin_of(&app, &tenant)?;
    if dry_run {
        let args = SyncOptions {
            dry_run: true,
            max_writes: 1,
            once: true,
            approve_deprovisions: approve,
            repair_teams: false,
        };
        return operator::sync_all(&plugin, &args, true).await.map(Json).map_err(unprocessable);
    }
    {
        let mut jobs = app.syncs.jobs.lock().unwrap();
        if jobs.get(&tenant).is_some_and(|j| j["state"] == "running") {
            return Err(Refusal::new(StatusCode::CONFLICT, "a sync is already running for this tenant"));
        }
        jobs.insert(
            tenant.clone(),
            json!({"state": "running", "calls": 0, "writes": 0, "total_writes": null,
            "remaining_writes": null, "failed": 0, "changes": []}),
        );
    }
    let run = super::log::run_span(&tenant, "sync");
    tokio::spawn(tracing::Instrument::instrument(live_sync(app.clone(), tenant, plugin, approve), run));
    Ok(Json(json!({"state": "running"})))
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
    let options = wit::SyncOptions {
        dry_run: false,
        max_writes: Some(LIVE_SYNC_STEP),
        approve_deprovisions: approve,
        repair_teams: false,
        preview_settings: None,
    };
    loop {
        if app.is_stopping() {
            update(&|j| j["state"] = json!("stopped"));
            break;
        }
        match app.timed(&tenant, "sync-all", plugin.sync_all(options.clone())).await {
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
    super::notifications::after_turn(&app, &tenant);
    app.work.notify_one();
}
