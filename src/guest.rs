//! The wasm glue: the contract's exports, converted to and from the shell's types. Compiled for
//! wasm32 only (the export names contain `:`, which native linkers refuse).

use jiff::Timestamp;

use crate::adapters::{WasiHttp, WasiKeyValue};
use crate::app::{self, ChangeKind, Env};
use crate::bindings::exports::humaans::integration::integration as wit;
use crate::error::{AppError, Failure, Service};
use crate::logs;
use crate::reconcile::retry::HeldPath;
use crate::reconcile::timing::parse_time;
use crate::reconcile::{DeprovisionAction, DeprovisionLimit, Dialect, ExtraField, ProvisionTiming, Settings};

struct Component;

crate::bindings::export!(Component with_types_in crate::bindings);

/// Runs `f` with the host's HTTP, this tenant's storage and the time.
fn with_env<T>(
    now: Option<Timestamp>,
    f: impl FnOnce(&mut Env) -> Result<T, AppError>,
) -> Result<T, wit::IntegrationError> {
    let mut kv = WasiKeyValue::open().map_err(|e| error(AppError::Storage(e)))?;
    let mut http = WasiHttp::new();
    let now = now.unwrap_or_else(crate::reconcile::timing::now);
    let mut env = Env { http: &mut http, kv: &mut kv, now, run: run(now) };
    f(&mut env).map_err(error)
}

/// The run this call belongs to, as the host says it in the environment (see `wit/world.wit`).
fn run(now: Timestamp) -> logs::Run {
    logs::Run::from_host(std::env::var("INTEGRATION_RUN_ID").ok(), std::env::var("INTEGRATION_RUN_TRIGGER").ok(), now)
}

fn service(s: Service) -> wit::Service {
    match s {
        Service::Humaans => wit::Service::Humaans,
        Service::Scim => wit::Service::Scim,
    }
}

fn failure(f: Failure) -> wit::ServiceFailure {
    wit::ServiceFailure { service: service(f.service), status: f.status, message: f.message }
}

fn error(e: AppError) -> wit::IntegrationError {
    match e {
        AppError::NotConnected => wit::IntegrationError::NotConnected,
        AppError::InvalidInput { field, message } => {
            wit::IntegrationError::InvalidInput(wit::InvalidField { field, message })
        }
        AppError::UnknownPerson(id) => wit::IntegrationError::UnknownPerson(id),
        AppError::Unauthorized(f) => wit::IntegrationError::Unauthorized(failure(f)),
        AppError::Upstream(f) => wit::IntegrationError::Upstream(failure(f)),
        AppError::Transport(f) => wit::IntegrationError::Transport(failure(f)),
        AppError::Storage(m) => wit::IntegrationError::Storage(m),
    }
}

fn change(c: app::Change) -> wit::Change {
    wit::Change {
        person_id: c.person_id,
        email: c.email,
        kind: match c.kind {
            ChangeKind::Create => wit::ChangeKind::Create,
            ChangeKind::Adopt => wit::ChangeKind::Adopt,
            ChangeKind::Update => wit::ChangeKind::Update,
            ChangeKind::Suspend => wit::ChangeKind::Suspend,
            ChangeKind::Delete => wit::ChangeKind::Delete,
            ChangeKind::Reactivate => wit::ChangeKind::Reactivate,
            ChangeKind::LinkManager => wit::ChangeKind::LinkManager,
        },
        attributes: c.attributes,
        error: c.error,
    }
}

fn settings(s: wit::Settings) -> Settings {
    Settings {
        provisioning: s.provisioning.map(|p| match p {
            wit::ProvisionTiming::Immediately => ProvisionTiming::Immediately,
            wit::ProvisionTiming::OnStartDate => ProvisionTiming::OnStartDate,
            wit::ProvisionTiming::DaysBeforeStart(n) => ProvisionTiming::DaysBeforeStart(n),
        }),
        deprovisioning: s.deprovisioning.map(|d| match d {
            wit::DeprovisionAction::Suspend => DeprovisionAction::Suspend,
            wit::DeprovisionAction::Deactivate => DeprovisionAction::Deactivate,
        }),
        dialect: match s.dialect {
            wit::Dialect::Leapsome => Dialect::Leapsome,
            wit::Dialect::Rfc7644 => Dialect::Rfc7644,
        },
        deprovision_limit: s.deprovision_limit.map(|l| match l {
            wit::DeprovisionLimit::Count(n) => DeprovisionLimit::Count(n),
            wit::DeprovisionLimit::Percent(p) => DeprovisionLimit::Percent(p),
        }),
        deprovision_window_minutes: s.deprovision_window_minutes,
        teams: s.teams,
        log_retention: s.log_retention,
        scope: s.scope,
        keep_out_of_scope: s.out_of_scope == wit::OutOfScopeAction::Keep,
        extra_fields: s
            .extra_fields
            .into_iter()
            .map(|f| match f {
                wit::ExtraField::StartDate => ExtraField::StartDate,
                wit::ExtraField::EndDate => ExtraField::EndDate,
                wit::ExtraField::Location => ExtraField::Location,
                wit::ExtraField::Gender => ExtraField::Gender,
                wit::ExtraField::Birthday => ExtraField::Birthday,
                wit::ExtraField::Custom(c) => {
                    ExtraField::Custom { humaans_field: c.humaans_field, leapsome_attribute: c.leapsome_attribute }
                }
            })
            .collect(),
    }
}

fn wit_settings(s: Settings) -> wit::Settings {
    wit::Settings {
        provisioning: s.provisioning.map(|p| match p {
            ProvisionTiming::Immediately => wit::ProvisionTiming::Immediately,
            ProvisionTiming::OnStartDate => wit::ProvisionTiming::OnStartDate,
            ProvisionTiming::DaysBeforeStart(n) => wit::ProvisionTiming::DaysBeforeStart(n),
        }),
        deprovisioning: s.deprovisioning.map(|d| match d {
            DeprovisionAction::Suspend => wit::DeprovisionAction::Suspend,
            DeprovisionAction::Deactivate => wit::DeprovisionAction::Deactivate,
        }),
        dialect: match s.dialect {
            Dialect::Leapsome => wit::Dialect::Leapsome,
            Dialect::Rfc7644 => wit::Dialect::Rfc7644,
        },
        deprovision_limit: s.deprovision_limit.map(|l| match l {
            DeprovisionLimit::Count(n) => wit::DeprovisionLimit::Count(n),
            DeprovisionLimit::Percent(p) => wit::DeprovisionLimit::Percent(p),
        }),
        deprovision_window_minutes: s.deprovision_window_minutes,
        teams: s.teams,
        log_retention: s.log_retention,
        scope: s.scope,
        out_of_scope: if s.keep_out_of_scope {
            wit::OutOfScopeAction::Keep
        } else {
            wit::OutOfScopeAction::Deprovision
        },
        extra_fields: s
            .extra_fields
            .into_iter()
            .map(|f| match f {
                ExtraField::StartDate => wit::ExtraField::StartDate,
                ExtraField::EndDate => wit::ExtraField::EndDate,
                ExtraField::Location => wit::ExtraField::Location,
                ExtraField::Gender => wit::ExtraField::Gender,
                ExtraField::Birthday => wit::ExtraField::Birthday,
                ExtraField::Custom { humaans_field, leapsome_attribute } => {
                    wit::ExtraField::Custom(wit::CustomField { humaans_field, leapsome_attribute })
                }
            })
            .collect(),
    }
}

fn team_change(c: app::TeamChange) -> wit::TeamChange {
    wit::TeamChange {
        team: c.team,
        kind: match c.kind {
            app::TeamChangeKind::Create => wit::TeamChangeKind::Create,
            app::TeamChangeKind::Adopt => wit::TeamChangeKind::Adopt,
            app::TeamChangeKind::AddMembers => wit::TeamChangeKind::AddMembers,
            app::TeamChangeKind::RemoveMembers => wit::TeamChangeKind::RemoveMembers,
        },
        members: c.members,
        error: c.error,
    }
}

fn log_entry(e: logs::LogEntry) -> wit::LogEntry {
    use logs::{LogAction as A, LogOutcome as O};
    wit::LogEntry {
        sequence: e.sequence,
        at: e.at,
        action: match e.action {
            A::Connect => wit::LogAction::Connect,
            A::Configure => wit::LogAction::Configure,
            A::Provision => wit::LogAction::Provision,
            A::Adopt => wit::LogAction::Adopt,
            A::Update => wit::LogAction::Update,
            A::Suspend => wit::LogAction::Suspend,
            A::Delete => wit::LogAction::Delete,
            A::Reactivate => wit::LogAction::Reactivate,
            A::LinkManager => wit::LogAction::LinkManager,
            A::ManagerPending => wit::LogAction::ManagerPending,
            A::Skip => wit::LogAction::Skip,
            A::Event => wit::LogAction::Event,
            A::Sync => wit::LogAction::Sync,
            A::Tick => wit::LogAction::Tick,
            A::Hold => wit::LogAction::Hold,
            A::Quarantine => wit::LogAction::Quarantine,
            A::Retry => wit::LogAction::Retry,
            A::ConnectionState => wit::LogAction::ConnectionState,
            A::TeamCreate => wit::LogAction::TeamCreate,
            A::TeamAdopt => wit::LogAction::TeamAdopt,
            A::TeamAdd => wit::LogAction::TeamAdd,
            A::TeamRemove => wit::LogAction::TeamRemove,
        },
        person_id: e.person_id,
        email: e.email,
        outcome: match e.outcome {
            O::Success => wit::LogOutcome::Success,
            O::Failure => wit::LogOutcome::Failure,
            O::Skipped => wit::LogOutcome::Skipped,
            O::Pending => wit::LogOutcome::Pending,
        },
        http_status: e.http_status,
        message: e.message,
        run_id: e.run_id,
        trigger: e.trigger,
    }
}

impl wit::Guest for Component {
    fn connect(c: wit::Connection) -> Result<wit::ConnectReport, wit::IntegrationError> {
        let input = app::ConnectInput {
            scim_base_url: c.scim_base_url,
            scim_token: c.scim_token,
            scim_requests_per_second: c.scim_requests_per_second,
            humaans_base_url: c.humaans_base_url,
            humaans_token: c.humaans_token,
            humaans_webhook_secret: c.humaans_webhook_secret,
        };
        let r = with_env(None, |env| app::connect(env, input))?;
        Ok(wit::ConnectReport {
            company_name: r.company_name,
            humaans_base_url: r.humaans_base_url,
            scim_base_url: r.scim_base_url,
            scim_users: r.scim_users,
            warnings: r.warnings,
        })
    }

    fn configure(s: wit::Settings) -> Result<(), wit::IntegrationError> {
        with_env(None, |env| app::configure(env, settings(s)))
    }

    fn on_employee_event(e: wit::EmployeeEvent) -> Result<wit::EventOutcome, wit::IntegrationError> {
        let kind = match e.kind {
            wit::EventKind::Created => app::EventKind::Created,
            wit::EventKind::Updated => app::EventKind::Updated,
            wit::EventKind::JobRoleChanged => app::EventKind::JobRoleChanged,
            wit::EventKind::Offboarded => app::EventKind::Offboarded,
            wit::EventKind::Deleted => app::EventKind::Deleted,
        };
        let o = with_env(None, |env| app::on_employee_event(env, &e.id, kind, &e.person_id, &e.occurred_at))?;
        Ok(wit::EventOutcome {
            changes: o.changes.into_iter().map(change).collect(),
            skipped: o.skipped,
            manager_pending: o.manager_pending,
            team_changes: o.team_changes.into_iter().map(team_change).collect(),
        })
    }

    fn sync_all(o: wit::SyncOptions) -> Result<wit::SyncReport, wit::IntegrationError> {
        let r = with_env(None, |env| {
            let options = app::SyncOptions {
                dry_run: o.dry_run,
                max_writes: o.max_writes,
                approve_deprovisions: o.approve_deprovisions,
                repair_teams: o.repair_teams,
            };
            app::sync_all(env, options, o.preview_settings.map(settings))
        })?;
        Ok(wit::SyncReport {
            dry_run: r.dry_run,
            people: r.people,
            scim_users: r.scim_users,
            created: r.created,
            adopted: r.adopted,
            updated: r.updated,
            deprovisioned: r.deprovisioned,
            reactivated: r.reactivated,
            managers_linked: r.managers_linked,
            managers_pending: r.managers_pending,
            skipped: r.skipped,
            failed: r.failed,
            held: r.held,
            quarantined: r.quarantined,
            writes: r.writes,
            remaining_writes: r.remaining_writes,
            complete: r.complete,
            changes: r.changes.into_iter().map(change).collect(),
            warnings: r.warnings,
            teams: r.teams,
            team_changes: r.team_changes.into_iter().map(team_change).collect(),
            out_of_scope: r.out_of_scope,
            scope_changes: r
                .scope_changes
                .into_iter()
                .map(|c| wit::ScopeChange { person_id: c.person_id, email: c.email, entering: c.entering })
                .collect(),
        })
    }

    fn tick(now: String) -> Result<wit::TickReport, wit::IntegrationError> {
        let Some(at) = parse_time(&now) else {
            return Err(error(AppError::invalid("now", "must be an RFC 3339 time, e.g. 2026-11-28T09:00:00Z")));
        };
        let r = with_env(Some(at), app::tick)?;
        Ok(wit::TickReport {
            provisioned: r.provisioned,
            deprovisioned: r.deprovisioned,
            managers_linked: r.managers_linked,
            failed: r.failed,
            held: r.held,
            waiting: r.waiting,
            next_due: r.next_due,
        })
    }

    fn read_logs(q: wit::LogQuery) -> Result<wit::LogPage, wit::IntegrationError> {
        let query =
            logs::LogQuery { failures_only: q.failures_only, person_id: q.person_id, limit: q.limit, before: q.before };
        let page = with_env(None, |env| app::read_logs(env, &query))?;
        Ok(wit::LogPage { entries: page.entries.into_iter().map(log_entry).collect(), next_before: page.next_before })
    }

    fn retry(person_id: String) -> Result<(), wit::IntegrationError> {
        with_env(None, |env| app::retry(env, &person_id))
    }

    fn handle_webhook(
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<wit::WebhookAccepted, wit::WebhookRefusal> {
        use crate::webhook::Refusal;
        let mut kv = WasiKeyValue::open().map_err(wit::WebhookRefusal::Storage)?;
        let mut http = WasiHttp::new();
        let now = crate::reconcile::timing::now();
        let mut env = Env { http: &mut http, kv: &mut kv, now, run: run(now) };
        match app::handle_webhook(&mut env, &headers, &body) {
            Ok(d) => Ok(wit::WebhookAccepted {
                event: wit::EmployeeEvent {
                    id: d.event_id,
                    kind: match d.kind {
                        app::EventKind::Created => wit::EventKind::Created,
                        app::EventKind::Updated => wit::EventKind::Updated,
                        app::EventKind::JobRoleChanged => wit::EventKind::JobRoleChanged,
                        app::EventKind::Offboarded => wit::EventKind::Offboarded,
                        app::EventKind::Deleted => wit::EventKind::Deleted,
                    },
                    person_id: d.person_id,
                    occurred_at: d.occurred_at.unwrap_or_else(|| crate::reconcile::timing::format_time(env.now)),
                },
                name: d.name,
            }),
            Err(app::WebhookError::NotConfigured) => Err(wit::WebhookRefusal::NotConfigured),
            Err(app::WebhookError::Storage(m)) => Err(wit::WebhookRefusal::Storage(m)),
            Err(app::WebhookError::Refused(Refusal::BadSignature(m))) => Err(wit::WebhookRefusal::BadSignature(m)),
            Err(app::WebhookError::Refused(Refusal::Malformed(m))) => Err(wit::WebhookRefusal::Malformed(m)),
            Err(app::WebhookError::Refused(Refusal::Ignored(m))) => Err(wit::WebhookRefusal::Ignored(m)),
        }
    }

    fn approve_deprovisions(person_id: Option<String>) -> Result<wit::ApprovalReport, wit::IntegrationError> {
        let r = with_env(None, |env| app::approve_deprovisions(env, person_id.as_deref()))?;
        Ok(wit::ApprovalReport {
            approved: r.approved,
            released: r.released,
            failed: r.failed,
            remaining: r.remaining,
            changes: r.changes.into_iter().map(change).collect(),
        })
    }

    fn provision_person(person_id: String, dry_run: bool) -> Result<wit::ProvisionTrace, wit::IntegrationError> {
        let t = with_env(None, |env| app::provision_person(env, &person_id, dry_run))?;
        Ok(wit::ProvisionTrace {
            steps: t
                .steps
                .into_iter()
                .map(|s| wit::TraceStep { step: s.step, outcome: s.outcome, detail: s.detail })
                .collect(),
            changes: t.changes.into_iter().map(change).collect(),
        })
    }

    fn status() -> Result<wit::StatusReport, wit::IntegrationError> {
        let r = with_env(None, app::status)?;
        Ok(wit::StatusReport {
            connection: match r.connection {
                app::ConnectionState::NotConnected => wit::ConnectionState::NotConnected,
                app::ConnectionState::Ok => wit::ConnectionState::Ok,
                app::ConnectionState::Unauthorized => wit::ConnectionState::Unauthorized,
            },
            unauthorized: r.unauthorized.map(failure),
            unauthorized_since: r.unauthorized_since,
            settings: r.settings.map(wit_settings),
            waiting: r.waiting,
            next_due: r.next_due,
            held: r
                .held
                .into_iter()
                .map(|h| wit::HeldDeprovision {
                    person_id: h.person_id,
                    email: h.email,
                    since: h.since,
                    path: match h.path {
                        HeldPath::Event => wit::HeldPath::Event,
                        HeldPath::Tick => wit::HeldPath::Tick,
                        HeldPath::Sync => wit::HeldPath::Sync,
                    },
                    reason: h.reason,
                })
                .collect(),
            quarantined: r
                .quarantined
                .into_iter()
                .map(|q| wit::QuarantinedPerson { person_id: q.person_id, since: q.since, reason: q.reason })
                .collect(),
            quarantined_count: r.quarantined_count,
            retrying: r.retrying,
        })
    }
}
