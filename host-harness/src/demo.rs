//! `host-harness demo`: the whole product against built-in mocks, in a couple of minutes of
//! reading. Starts mock Humaans (a generated organisation) and mock Leapsome (a few accounts
//! already there), then connects, configures, shows the dry-run plan, syncs, plays a day and ends
//! with the log.

use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use serde_json::json;

use crate::cli::{self, Global};
use crate::operator::settings::{self, SettingsChange};
use crate::operator::{self, ConnectRequest, LogsQuery, SyncOptions, done, table};
use crate::plugin::api;
use crate::{AllowedHost, MemoryStorage, Tenant, TenantPlugin};
use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

fn step(title: &str) {
    println!("\n==> {title}");
}

pub async fn run(global: &Global, args: cli::DemoArgs) -> Result<()> {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let seed = mock_servers::org::generate_org(args.employees.max(10), 2026, &today.to_string());
    let humaans = MockHumaans::start(HumaansConfig::default()).await.context("cannot start mock Humaans")?;
    humaans.load_seed(seed);
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.context("cannot start mock Leapsome")?;
    let people = humaans.people();
    // A few accounts already in Leapsome, made by hand before the integration: they get adopted.
    for p in people.iter().filter(|p| p.status == "active").skip(5).take(3) {
        leapsome.seed_user(json!({"userName": p.email.to_uppercase(), "name": {"givenName": p.first_name, "familyName": p.last_name}, "title": "Colleague"}));
    }

    if args.serve {
        return serve_demo(global, &args, &humaans, &leapsome).await;
    }

    step("Mock services");
    println!(
        "Humaans:  {} ({} people: {} active, {} new hires, {} offboarded)",
        humaans.base_url(),
        people.len(),
        people.iter().filter(|p| p.status == "active").count(),
        people.iter().filter(|p| p.status == "newHire").count(),
        people.iter().filter(|p| p.status == "offboarded").count()
    );
    println!("Leapsome: {} ({} accounts already there)", leapsome.base_url(), leapsome.users().len());

    let component = match &global.component {
        Some(p) => p.clone(),
        None => crate::component::component_path()?,
    };
    let cache = global.data_dir.clone().unwrap_or_else(operator::default_data_dir).join("cache");
    let runtime = Arc::new(crate::Runtime::new(
        &component,
        Some(&cache),
        crate::PoolSize { instances: 8, max_memory_bytes: 256 << 20 },
    )?);
    let tenant = Tenant::new("demo")
        .allow(AllowedHost::from_url(&humaans.base_url()).map_err(anyhow::Error::msg)?)
        .allow(AllowedHost::from_url(&leapsome.base_url()).map_err(anyhow::Error::msg)?);
    let plugin = TenantPlugin::new(runtime, Arc::new(MemoryStorage::new()), tenant);

    step("connect (both tokens verified with a real request)");
    let report = done(
        plugin
            .connect(&api::Connection {
                scim_base_url: Some(leapsome.base_url()),
                scim_token: "scim-test-token".into(),
                scim_requests_per_second: None,
                humaans_base_url: Some(humaans.base_url()),
                humaans_token: mock_servers::humaans::DEFAULT_TOKEN.into(),
                humaans_webhook_secret: None,
            })
            .await,
    )?;
    println!("connected to {} ({} Leapsome accounts)", report.company_name, report.scim_users);

    step("configure: provisioning on start date, deprovisioning suspend, Leapsome dialect, teams on");
    let settings = api::Settings {
        provisioning: Some(api::ProvisionTiming::OnStartDate),
        deprovisioning: Some(api::DeprovisionAction::Suspend),
        dialect: api::Dialect::Leapsome,
        deprovision_limit: None,
        deprovision_window_minutes: None,
        teams: true,
        log_retention: None,
        scope: Vec::new(),
        out_of_scope: api::OutOfScopeAction::Deprovision,
        extra_fields: Vec::new(),
    };
    done(plugin.configure(&settings).await)?;
    println!("configured");

    step("sync-all --dry-run: the plan, nothing written");
    let plan = operator::sync_all(
        &plugin,
        &SyncOptions { dry_run: true, max_writes: 500, once: true, approve_deprovisions: false, repair_teams: false },
        true,
    )
    .await?;
    let changes = plan["changes"].as_array().cloned().unwrap_or_default();
    let count = |kind: &str| changes.iter().filter(|c| c["kind"] == kind).count();
    println!(
        "would create {}, adopt {}, update {}, link {} managers; {} people skipped (new hires not yet due, offboarded)",
        count("create"),
        count("adopt"),
        count("update"),
        count("link-manager"),
        plan["skipped"]
    );
    let rows: Vec<Vec<String>> = changes
        .iter()
        .take(8)
        .map(|c| {
            vec![
                c["kind"].as_str().unwrap_or("").into(),
                c["email"].as_str().unwrap_or("").into(),
                c["attributes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table(&["CHANGE", "EMAIL", "ATTRIBUTES"], &rows));
    println!("… and {} more", changes.len().saturating_sub(8));
    let team_changes = plan["team_changes"].as_array().cloned().unwrap_or_default();
    println!(
        "and for teams: create {} Leapsome teams, adding {} memberships",
        team_changes.iter().filter(|c| c["kind"] == "create").count(),
        team_changes
            .iter()
            .filter(|c| c["kind"] == "add-members")
            .map(|c| c["members"].as_u64().unwrap_or(0))
            .sum::<u64>()
    );

    step("sync-all (25 writes a call, until done)");
    let totals = operator::sync_all(
        &plugin,
        &SyncOptions { dry_run: false, max_writes: 25, once: false, approve_deprovisions: false, repair_teams: false },
        false,
    )
    .await?;
    println!(
        "{} calls: created {}, adopted {}, updated {}, managers linked {}, failed {}; Leapsome now has {} accounts",
        totals["calls"],
        totals["created"],
        totals["adopted"],
        totals["updated"],
        totals["managers_linked"],
        totals["failed"],
        leapsome.users().len()
    );
    let again = operator::sync_all(
        &plugin,
        &SyncOptions { dry_run: false, max_writes: 500, once: true, approve_deprovisions: false, repair_teams: false },
        true,
    )
    .await?;
    println!("a second sync right after writes {} requests (nothing changed)", again["writes"]);
    let teams = leapsome.groups();
    let rows: Vec<Vec<String>> = teams
        .iter()
        .map(|g| {
            let name = g["displayName"].as_str().unwrap_or("").to_owned();
            let id = leapsome.group_id(&name).unwrap_or_default();
            let members = leapsome.group_members(&id).map_or(0, |m| m.len());
            vec![name, members.to_string()]
        })
        .collect();
    println!("Leapsome teams, from the Humaans teams (members: people with an active account):");
    print!("{}", table(&["TEAM", "MEMBERS"], &rows));

    step("A day at Acme");
    let active: Vec<Person> = humaans.people().into_iter().filter(|p| p.status == "active").collect();
    // Onboarding: a new member starting today.
    let mut newcomer = Person::new("Grace", "Hopper", "grace.hopper@acme.test");
    newcomer.employment_start_date = Some(today.to_string());
    newcomer.timezone = "Europe/London".into();
    let newcomer_id = humaans.add_person(newcomer);
    humaans.add_job_role(JobRole::new(
        &newcomer_id,
        "Compiler Engineer",
        "Engineering",
        Some(&active[0].id),
        &today.to_string(),
    ));
    let o = done(plugin.on_employee_event(&event(api::EventKind::Created, &newcomer_id)).await)?;
    println!("onboarding: Grace Hopper joins today -> {}", summarise(&o));

    // A profile change: a promotion.
    let promoted = &active[3];
    let old_role = humaans
        .job_roles_of(&promoted.id)
        .into_iter()
        .find(|r| r.end_date.is_none())
        .context("demo person has a role")?;
    let yesterday = today.checked_sub(1.day()).unwrap().to_string();
    humaans.end_job_role(&old_role.id, &yesterday);
    let mut new_role = JobRole::new(
        &promoted.id,
        &format!("Senior {}", old_role.job_title),
        old_role.department.as_deref().unwrap_or(""),
        old_role.reporting_to.as_deref(),
        &today.to_string(),
    );
    new_role.note = None;
    humaans.add_job_role(new_role);
    let o = done(plugin.on_employee_event(&event(api::EventKind::JobRoleChanged, &promoted.id)).await)?;
    println!("promotion: {} becomes Senior {} -> {}", promoted.email, old_role.job_title, summarise(&o));

    // Offboarding: someone leaves (last working day yesterday).
    let leaver = active
        .iter()
        .rev()
        .find(|p| {
            humaans
                .people()
                .iter()
                .all(|q| humaans.job_roles_of(&q.id).iter().all(|r| r.reporting_to.as_deref() != Some(p.id.as_str())))
        })
        .unwrap_or(&active[active.len() - 1]);
    humaans.offboard(&leaver.id, &yesterday);
    let o = done(plugin.on_employee_event(&event(api::EventKind::Offboarded, &leaver.id)).await)?;
    println!("offboarding: {} left yesterday -> {}", leaver.email, summarise(&o));

    // A bulk offboarding arriving as a webhook per person: the brake carries out the limit's
    // worth within its window and holds the rest until an admin approves.
    let bulk: Vec<&Person> =
        active.iter().skip(10).filter(|p| p.id != leaver.id && p.id != promoted.id).take(8).collect();
    let (mut suspended, mut held) = (0, 0);
    for person in &bulk {
        humaans.offboard(&person.id, &yesterday);
        let o = done(plugin.on_employee_event(&event(api::EventKind::Offboarded, &person.id)).await)?;
        if o.skipped.as_deref().is_some_and(|s| s.starts_with("deprovision held")) {
            held += 1;
        } else if !o.changes.is_empty() {
            suspended += 1;
        }
    }
    let status = done(plugin.status().await)?;
    println!(
        "bulk offboarding: {} leave at once (a webhook each) -> {suspended} suspended, {held} held by the brake (status lists {} held, each from an event)",
        bulk.len(),
        status.held.len()
    );
    let approved = operator::approve(&plugin, None).await?;
    println!("approve --all: {} more suspended after an admin's approval", approved["approved"]);

    // The clock moves past the next new hire's start date: a tick provisions them.
    let next_hire = humaans
        .people()
        .into_iter()
        .filter(|p| p.status == "newHire")
        .filter_map(|p| p.employment_start_date.clone().map(|d| (d, p)))
        .min_by(|a, b| a.0.cmp(&b.0));
    if let Some((start, hire)) = next_hire {
        let when = format!("{start}T23:59:00Z");
        let r = operator::tick(&plugin, Some(when.clone())).await?;
        println!(
            "tick at {when}: {} provisioned (first: {} starting {start}), {} still waiting, next due {}",
            r["provisioned"],
            hire.email,
            r["waiting"],
            r["next_due"].as_str().unwrap_or("-")
        );
    }

    step("Logs (newest first)");
    let logs = operator::logs(&plugin, &LogsQuery { limit: Some(15), ..LogsQuery::default() }).await?;
    operator::print_logs(&logs)?;
    println!(
        "\nDone. Try: host-harness mock  (serves these mocks for manual use), or see README.md for the operator commands."
    );
    Ok(())
}

fn event(kind: api::EventKind, person: &str) -> api::EmployeeEvent {
    api::EmployeeEvent {
        id: format!("demo-{person}"),
        kind,
        person_id: person.into(),
        occurred_at: format!("{:.0}", Timestamp::now()),
    }
}

fn summarise(o: &api::EventOutcome) -> String {
    if o.changes.is_empty() {
        return format!("nothing to do ({})", o.skipped.as_deref().unwrap_or("already in step"));
    }
    let parts: Vec<String> = o
        .changes
        .iter()
        .map(|c| {
            let what = operator::name_of(&c.kind);
            let attrs = if c.attributes.is_empty() { String::new() } else { format!(" {}", c.attributes.join(", ")) };
            match &c.error {
                Some(e) => format!("{what}{attrs} FAILED: {e}"),
                None => format!("{what}{attrs}"),
            }
        })
        .collect();
    let pending = if o.manager_pending { " (manager link pending)" } else { "" };
    format!("{}{pending}", parts.join("; "))
}

/// `demo --serve`: the mocks, a tenant `demo` connected to them (with a webhook secret), and
/// `serve` in a fresh data directory until Ctrl-C; prints how to log in and send a webhook.
async fn serve_demo(
    global: &Global,
    args: &cli::DemoArgs,
    humaans: &MockHumaans,
    leapsome: &MockLeapsome,
) -> Result<()> {
    const SECRET: &str = "demo-webhook-secret";
    let dir = std::env::temp_dir().join(format!("host-harness-demo-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Share the compiled component with the ordinary data directory: no recompilation per demo.
    let shared_cache = global.data_dir.clone().unwrap_or_else(operator::default_data_dir).join("cache");
    std::fs::create_dir_all(&shared_cache)?;
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(&shared_cache, dir.join("cache"));
    let global = Global { data_dir: Some(dir.clone()), tenant: "demo".into(), ..global.clone() };
    let host = operator::Host::open(&global.host_config())?;
    let connect = ConnectRequest {
        humaans_url: humaans.base_url(),
        scim_url: leapsome.base_url(),
        humaans_token: mock_servers::humaans::DEFAULT_TOKEN.into(),
        scim_token: "scim-test-token".into(),
        webhook_secret: Some(SECRET.into()),
        scim_rate_limit: None,
        allow_host: Vec::new(),
    };
    operator::connect_tenant(&host, "demo", connect).await?;
    let configure = SettingsChange {
        provisioning: Some(settings::Provisioning::Immediately),
        deprovisioning: Some(settings::Deprovisioning::Suspend),
        dialect: Some(settings::Dialect::Leapsome),
        ..SettingsChange::default()
    };
    done(host.plugin()?.configure(&operator::settings_from(&configure)).await)?;
    drop(host);

    let token = std::env::var("HOST_HARNESS_ADMIN_TOKEN").ok().filter(|t| t.len() >= 16).unwrap_or_else(|| {
        let seed = std::collections::hash_map::RandomState::new();
        let n = std::hash::BuildHasher::hash_one(&seed, std::process::id());
        format!("demo-{n:016x}")
    });
    let person = humaans.people().into_iter().find(|p| p.status == "active").context("no active person")?;
    let body = mock_servers::humaans::webhook::delivery("demo-evt-1", "person.updated", &person.id);
    let signature = mock_servers::humaans::webhook::sign(SECRET, body.as_bytes());
    let serve_args = cli::ServeArgs {
        listen: args.listen,
        admin_token: Some(token.clone()),
        admin_token_file: None,
        tick_every: std::time::Duration::from_secs(60),
        sync_every: std::time::Duration::from_secs(24 * 3600),
        max_writes: 500,
        workers: 4,
        lease_ttl: std::time::Duration::from_secs(30),
        keep_days: 7,
        log_format: cli::LogFormat::Text,
        log_level: cli::LogLevel::Info,
        event_attempts: 5,
        event_backoff: std::time::Duration::from_secs(60),
        http: cli::ServeHttpArgs::default(),
    };
    let (humaans_url, scim_url) = (humaans.base_url(), leapsome.base_url());
    let result = crate::serve::run_with(&global.host_config(), serve_args.into(), |addr| {
        println!("\n==> serve is running (Ctrl-C stops it)");
        println!("Admin page:   http://{addr}/");
        println!("Admin token:  {token}");
        println!("Tenant `demo` is connected to the mocks; to connect another from the page use:");
        println!("  Humaans URL {humaans_url}  token {}", mock_servers::humaans::DEFAULT_TOKEN);
        println!("  SCIM URL    {scim_url}  token scim-test-token");
        println!("A signed webhook (secret {SECRET}):");
        println!(
            "  curl -i http://{addr}/webhooks/humaans/demo -H '{}: {signature}' -d '{body}'",
            mock_servers::humaans::webhook::SIGNATURE_HEADER
        );
        println!("API:          curl -H 'Authorization: Bearer {token}' http://{addr}/api/tenants/demo/status");
        println!("Metrics:      http://{addr}/metrics");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
