//! `provision-person`: one person through every step of the event path, with a trace an admin
//! reads (Entra ID's "provision on demand"). The steps are the event path's own functions
//! (`prepare_person`, the brake, `carry_out`, the teams step), so the trace shows the decisions
//! an event would make; what the trace adds is read off their inputs and outcomes, and the HTTP
//! status of each request from a transport that records what passes through it.
//!
//! The provisioning setting does not stop it (it is how an admin tries the integration before
//! turning it on): the person is provisioned now, whatever the timing and start date. Scope,
//! quarantine, backoff and the deprovision brake hold as they do for an event, and the trace
//! says so. A dry run sends no write (the
//! recording transport refuses any) and logs nothing.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::AppError;
use crate::logs::LogStore;
use crate::ports::{Flow, HttpRequest, HttpResponse, HttpTransport, Method, TransportError};
use crate::reconcile::brake::HELD;
use crate::reconcile::mapping::current_role;
use crate::reconcile::scope::{self, Verdict};
use crate::reconcile::timing::person_today;
use crate::reconcile::{DeprovisionAction, Mode, Op, ProvisionTiming, Settings};
use crate::state::Schedule;

use super::event::{brake_one, carry_out, log_unreadable, prepare_person, valid_id};
use super::execute::{Facts, Run, Subject};
use super::{Change, Env, Session, fail_logged_for};
use crate::logs::LogAction;

/// One step of a trace: what was done, how it came out, and the particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub step: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisionTrace {
    pub steps: Vec<TraceStep>,
    /// The changes made (or in a dry run planned), as an event reports them.
    pub changes: Vec<Change>,
}

impl ProvisionTrace {
    fn push(&mut self, step: &str, outcome: impl Into<String>, detail: impl Into<String>) {
        self.steps.push(TraceStep { step: step.to_owned(), outcome: outcome.into(), detail: detail.into() });
    }
}

/// A request as the recorder saw it: never its headers (they carry the tokens) nor its body.
#[derive(Debug, Clone)]
struct Sent {
    method: Method,
    /// The URL's path, without the query.
    path: String,
    /// The HTTP status, or why there was none.
    result: Result<u16, String>,
}

/// The host's transport with a record of each request and its status; in a dry run it refuses
/// every request but GET, so nothing can be written whatever the steps decide.
struct Recorder<'a> {
    inner: &'a mut dyn HttpTransport,
    sent: Rc<RefCell<Vec<Sent>>>,
    dry_run: bool,
}

fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split('?').next().unwrap_or(path).to_owned()
}

impl Recorder<'_> {
    fn note(&self, request: &HttpRequest, result: &Result<HttpResponse, TransportError>) {
        let result = match result {
            Ok(r) => Ok(r.status),
            Err(e) => Err(e.to_string()),
        };
        self.sent.borrow_mut().push(Sent { method: request.method, path: path_of(&request.url), result });
    }

    fn refused(&self, request: &HttpRequest) -> bool {
        self.dry_run && request.method != Method::Get
    }
}

impl HttpTransport for Recorder<'_> {
    fn send_all(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
    ) -> Vec<Result<HttpResponse, TransportError>> {
        let mut results: Vec<Option<Result<HttpResponse, TransportError>>> = Vec::with_capacity(requests.len());
        let mut allowed = Vec::new();
        let mut kept = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            if self.refused(request) {
                results.push(Some(Err(TransportError::Denied)));
            } else {
                results.push(None);
                allowed.push(request.clone());
                kept.push(i);
            }
        }
        let answers = self.inner.send_all(allowed, max_in_flight);
        for (i, answer) in kept.into_iter().zip(answers) {
            self.note(&requests[i], &answer);
            results[i] = Some(answer);
        }
        results.into_iter().map(|r| r.expect("every request answered")).collect()
    }

    fn send_each(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
        done: &mut dyn FnMut(usize, Result<HttpResponse, TransportError>) -> Flow,
    ) -> Vec<usize> {
        if requests.iter().any(|r| self.refused(r)) {
            // Not the path of any write; kept simple: one at a time through `send_all`.
            let mut flow = Flow::Go;
            let total = requests.len();
            for (i, result) in self.send_all(requests, 1).into_iter().enumerate() {
                if flow == Flow::Hold {
                    return (i..total).collect();
                }
                flow = done(i, result);
            }
            return Vec::new();
        }
        let copies = requests.clone();
        let sent = self.sent.clone();
        let mut noted = |i: usize, result: Result<HttpResponse, TransportError>| {
            let status = match &result {
                Ok(r) => Ok(r.status),
                Err(e) => Err(e.to_string()),
            };
            sent.borrow_mut().push(Sent { method: copies[i].method, path: path_of(&copies[i].url), result: status });
            done(i, result)
        };
        self.inner.send_each(requests, max_in_flight, &mut noted)
    }

    fn start(&mut self, request: HttpRequest) {
        if !self.refused(&request) {
            self.inner.start(request);
        }
    }

    fn sleep(&mut self, millis: u64) {
        self.inner.sleep(millis);
    }

    fn monotonic_millis(&mut self) -> u64 {
        self.inner.monotonic_millis()
    }
}

/// Runs one person through every step now, or with `dry_run` shows what would be done.
pub fn provision_person(env: &mut Env, person_id: &str, dry_run: bool) -> Result<ProvisionTrace, AppError> {
    if !valid_id(person_id) {
        return Err(AppError::invalid(
            "person-id",
            "must be a Humaans person id (letters, digits, - or _; at most 64)",
        ));
    }
    let mut session = Session::open(env)?;
    let sent = Rc::new(RefCell::new(Vec::new()));
    let mut recorder = Recorder { inner: &mut *env.http, sent: sent.clone(), dry_run };
    let mut recorded = Env { http: &mut recorder, kv: &mut *env.kv, now: env.now, run: env.run.clone() };
    let result = run_provision(&mut session, &mut recorded, person_id, dry_run, &sent);
    if dry_run {
        // A dry run leaves no trace in the log: what the steps buffered is let go.
        session.logs = LogStore::load(recorded.kv).map_err(AppError::Storage)?;
    }
    session.finish(&mut recorded, result)
}

fn timing_text(timing: ProvisionTiming) -> String {
    match timing {
        ProvisionTiming::Immediately => "immediately".into(),
        ProvisionTiming::OnStartDate => "on the start date".into(),
        ProvisionTiming::DaysBeforeStart(n) => format!("{n} days before the start date"),
    }
}

/// The timing provision on demand decides with: due now whatever the start date (an admin
/// asked for this person now), through the same decision as every other call: the earliest
/// start the setting can name, 65,535 days before the start date, has always passed.
const NOW_WHATEVER_THE_START: ProvisionTiming = ProvisionTiming::DaysBeforeStart(u16::MAX);

/// The settings step. The session's settings then provision now, whatever the setting.
fn settings_step(trace: &mut ProvisionTrace, settings: &mut Settings) {
    let deprovisioning = match settings.deprovisioning {
        None => "off",
        Some(DeprovisionAction::Suspend) => "suspend",
        Some(DeprovisionAction::Deactivate) => "deactivate",
    };
    match settings.provisioning.replace(NOW_WHATEVER_THE_START) {
        None => trace.push(
            "settings",
            "provisioning off",
            format!(
                "provisioning is off: provision on demand goes ahead anyway (now, whatever the start date); deprovisioning: {deprovisioning}"
            ),
        ),
        Some(timing) => trace.push(
            "settings",
            "provisioning on",
            format!(
                "provisioning: {} (provision on demand goes ahead now, whatever the start date); deprovisioning: {deprovisioning}",
                timing_text(timing)
            ),
        ),
    }
}

/// What was read from Humaans: never personal data beyond what the account carries (no gender,
/// no birthday).
fn read_step(trace: &mut ProvisionTrace, facts: &Facts, person_id: &str, env: &Env) {
    let Some(p) = facts.people.get(person_id) else {
        trace.push(
            "read",
            "not found",
            format!("Humaans has no person {person_id} (deleted); a linked account remains"),
        );
        return;
    };
    let name =
        [p.preferred_name().or(p.first_name()), p.last_name()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let or_none = |v: Option<&str>| v.unwrap_or("none").to_owned();
    let mut parts = vec![
        format!("name: {}", if name.is_empty() { "none".to_owned() } else { name }),
        format!("email: {}", or_none(p.email())),
        format!("status: {}", or_none(p.status())),
        format!("start date: {}", or_none(p.employment_start_date())),
    ];
    if let Some(day) = p.last_working_day() {
        parts.push(format!("last working day: {day}"));
    }
    if let Some(end) = p.employment_end_date() {
        parts.push(format!("end date: {end}"));
    }
    let roles = facts.roles.get(person_id).unwrap_or(&[]);
    match current_role(roles, person_today(p, env.now)) {
        Some(role) => {
            parts.push(format!(
                "job role: {} in {} (from {})",
                role.job_title().unwrap_or("no title"),
                role.department().unwrap_or("no department"),
                role.effective_date().unwrap_or("?")
            ));
            match role.reporting_to() {
                Some(manager) => {
                    let email = facts.people.get(manager).and_then(|m| m.email());
                    let account = facts
                        .accounts
                        .get(manager)
                        .cloned()
                        .or_else(|| email.and_then(|e| facts.accounts_by_email.get(e)).map(str::to_owned));
                    parts.push(format!(
                        "manager: {manager}{}{}",
                        email.map(|e| format!(" ({e})")).unwrap_or_default(),
                        match account {
                            Some(a) => format!(", account {a}"),
                            None => ", no account yet".to_owned(),
                        }
                    ));
                }
                None => parts.push("manager: none".to_owned()),
            }
        }
        None => parts.push(format!("job role: none in effect ({} on record)", roles.len())),
    }
    trace.push("read", "found", parts.join("; "));
}

/// Whether the person is in scope, by the rules the decision uses (`reconcile::scope`).
fn scope_step(trace: &mut ProvisionTrace, facts: &Facts, person_id: &str, env: &Env) {
    if facts.scope.is_empty() {
        trace.push("scope", "in scope", "everyone is in scope (no rules)");
        return;
    }
    let Some(p) = facts.people.get(person_id) else {
        trace.push("scope", "not applicable", "the person is not in Humaans");
        return;
    };
    let role = current_role(facts.roles.get(person_id).unwrap_or(&[]), person_today(p, env.now));
    match facts.scope.verdict(&scope::Facts::of(p, role)) {
        Verdict::Everyone => trace.push("scope", "in scope", "everyone is in scope (no rules)"),
        Verdict::Matched { rule, text } => {
            trace.push("scope", "in scope", format!("rule {} matched: {text}", rule + 1))
        }
        Verdict::Out { why } => trace.push("scope", "out of scope", format!("no rule matched: {why}")),
    }
}

fn gate_step(trace: &mut ProvisionTrace, subject: &Subject) {
    if !subject.gated {
        trace.push("quarantine", "clear", "not quarantined, not backing off");
        return;
    }
    let reason = subject.decision.skipped.clone().unwrap_or_default();
    let outcome = if reason.starts_with("quarantined") { "quarantined" } else { "backing off" };
    trace.push("quarantine", outcome, format!("{reason}: nothing is written"));
}

fn match_step(trace: &mut ProvisionTrace, subject: &Subject) {
    if let Some(link) = &subject.link {
        let state = if link.active { "active" } else { "inactive" };
        trace.push("match", "by link", format!("linked account {} ({state})", link.scim_id));
    } else if let Some(found) = &subject.found {
        let state = if found.active { "active" } else { "inactive" };
        trace.push(
            "match",
            "by email",
            format!("account {} with userName {} ({state}), not linked yet", found.id(), found.user_name()),
        );
    } else if subject.gated {
        trace.push("match", "none", "not looked up (the person is not attempted)");
    } else if subject.decision.ops.iter().any(|o| matches!(o, Op::Create { .. })) {
        trace.push("match", "none", format!("no account with userName {}", subject.email));
    } else {
        trace.push("match", "none", "no linked account; not looked up (nothing to create)");
    }
}

fn brake_step(trace: &mut ProvisionTrace, subject: &Subject, deprovisions: bool) {
    let reason = subject.decision.skipped.as_deref().unwrap_or("");
    if reason.starts_with(HELD) {
        trace.push("brake", "held", reason);
    } else if deprovisions {
        trace.push("brake", "within the limit", "the deprovision counts against the window and goes ahead");
    } else {
        trace.push("brake", "not applicable", "no deprovision");
    }
}

fn names(profile: &crate::reconcile::Profile) -> String {
    profile.keys().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

fn decision_step(trace: &mut ProvisionTrace, subject: &Subject) {
    let d = &subject.decision;
    let reason = d.skipped.as_deref().unwrap_or("");
    let mut outcome = "nothing";
    let mut parts = Vec::new();
    for op in &d.ops {
        let (kind, text) = match op {
            Op::Create { profile } => ("create", format!("create the account with {}", names(profile))),
            Op::Adopt { scim_id } => ("adopt", format!("adopt account {scim_id}")),
            Op::Update { changes } => ("update", format!("update {}", names(changes))),
            Op::Reactivate => ("reactivate", "reactivate the account".to_owned()),
            Op::Suspend => ("deprovision", "deprovision: suspend (active: false)".to_owned()),
            Op::Delete => ("deprovision", "deprovision: deactivate (DELETE)".to_owned()),
            Op::SetManager { value } => {
                ("update", format!("set the manager to {}", value.as_deref().unwrap_or("none")))
            }
        };
        if outcome == "nothing" || (outcome == "update" && kind != "update") {
            outcome = kind;
        }
        parts.push(text);
    }
    if d.manager_pending {
        parts.push("the manager link waits for the manager's account".to_owned());
    }
    if reason.starts_with(HELD) {
        outcome = "held";
    }
    if !reason.is_empty() {
        parts.push(reason.to_owned());
    }
    if parts.is_empty() {
        parts.push("the account is up to date".to_owned());
    }
    trace.push("decision", outcome, parts.join("; "));
}

fn run_provision(
    session: &mut Session,
    env: &mut Env,
    person_id: &str,
    dry_run: bool,
    sent: &Rc<RefCell<Vec<Sent>>>,
) -> Result<ProvisionTrace, AppError> {
    let mut trace = ProvisionTrace::default();
    settings_step(&mut trace, &mut session.settings);
    let mut schedule = Schedule::load_people(env.kv, &[person_id.to_owned()])?;
    if !dry_run {
        log_unreadable(session, env, &mut schedule);
    }
    let mut facts = Facts::new(session.scope.clone());
    let prepared = prepare_person(session, env, &mut schedule, &mut facts, person_id, Mode::Event);
    let first = sent.borrow().first().cloned();
    let subject = match prepared {
        Ok(s) => s,
        Err(e) => {
            if !dry_run {
                let _ = schedule.save(env.kv);
            }
            return Err(if dry_run { e } else { fail_logged_for(session, env, LogAction::Event, Some(person_id), e) });
        }
    };
    // The first request reads the person from Humaans with the stored token: the connection.
    let answered = first.map_or("no request".to_owned(), |s| match s.result {
        Ok(status) => format!("HTTP {status}"),
        Err(e) => e,
    });
    trace.steps.insert(
        0,
        TraceStep {
            step: "connection".into(),
            outcome: "ok".into(),
            detail: format!("connected; Humaans answered the person read with {answered}"),
        },
    );
    read_step(&mut trace, &facts, person_id, env);
    scope_step(&mut trace, &facts, person_id, env);
    gate_step(&mut trace, &subject);
    match_step(&mut trace, &subject);

    let mut subjects = vec![subject];
    let deprovisions = subjects[0].decision.deprovisions();
    let braked = brake_one(session, env, &mut schedule, &mut subjects, dry_run)?;
    brake_step(&mut trace, &subjects[0], deprovisions);
    decision_step(&mut trace, &subjects[0]);

    let reads = sent.borrow().len();
    let mut run = Run { no_delete: session.no_delete, dry_run, ..Run::default() };
    carry_out(session, env, &mut schedule, &mut facts, &mut subjects, Mode::Event, &mut run)?;
    super::brake::release(env, braked.reservation, run.deprovisioned)?;
    if dry_run {
        let planned = run.changes.len();
        trace.push("write", "dry run", format!("nothing written; {planned} change(s) planned"));
    } else {
        schedule.save(env.kv)?;
        let writes: Vec<Sent> = sent.borrow()[reads..].iter().filter(|s| s.method != Method::Get).cloned().collect();
        if writes.is_empty() {
            trace.push("write", "none", "nothing to write");
        }
        for w in writes {
            let outcome = match &w.result {
                Ok(status) => format!("HTTP {status}"),
                Err(e) => format!("failed: {e}"),
            };
            trace.push("write", outcome, format!("{} {}", w.method.as_str(), w.path));
        }
        for change in &run.changes {
            if let Some(error) = &change.error {
                let kind = format!("{:?}", change.kind).to_lowercase();
                trace.push("result", "failed", format!("{kind}: {error}"));
            }
        }
        for t in super::teams::after_people(session, env, &facts, &subjects)? {
            let outcome = if t.error.is_some() { "failed" } else { "ok" };
            let detail = format!(
                "{:?} {} ({} members){}",
                t.kind,
                t.team,
                t.members,
                t.error.map(|e| format!(": {e}")).unwrap_or_default()
            );
            trace.push("teams", outcome, detail);
        }
    }
    trace.changes = run.changes;
    Ok(trace)
}
