//! The decision for one person: which SCIM operations bring their account in line.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::mapping::{changed_attributes, current_role, desired_profile};
use super::model::{
    Attr, DeprovisionAction, DeprovisionLimit, Dialect, JobRole, Person, Profile, ProvisionTiming, Settings,
};
use super::remote::RemoteUser;
use super::scope::{self, Rules, Verdict};
use super::timing::{self, Due, format_time};

/// What we know about an account this integration manages (stored per Humaans person id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub scim_id: String,
    /// The attribute values we last wrote (or found in place when adopting).
    pub written: Profile,
    /// Whether we left the account active.
    pub active: bool,
    /// The manager value we last wrote (email or SCIM id, by dialect); `None` = none written.
    #[serde(default)]
    pub manager: Option<String>,
    /// The SCIM id of the manager's account when we wrote `manager`: a manager whose account was
    /// re-created under a new id is written again even when the value (an email) is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_account: Option<String>,
}

/// The person's manager, as the shell resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerInput {
    /// No current role, or a role without `reportingTo`.
    None,
    /// `reportingTo` names a person; `account` is the SCIM id of their account if it exists.
    Person { person_id: String, email: Option<String>, account: Option<String> },
    /// `reportingTo` names someone who will never have an account (not in Humaans, no work
    /// email, left): waiting for them would retry forever.
    Unresolvable { person_id: String, reason: String },
    /// `reportingTo` names the person themselves (a head of the company, often): the manager
    /// is left empty (Leapsome refuses "a user cannot manage themselves").
    Itself,
}

/// Logged once for a person whose job role reports to themselves.
pub const SELF_MANAGED: &str = "manager left empty: the job role in Humaans reports to the person themselves";

/// Which call is deciding: sync-all back-fills even with provisioning off (as the "Sync all
/// users" button does), events and ticks follow the provisioning setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Event,
    Sync,
    Tick,
}

pub struct Inputs<'a> {
    pub person_id: &'a str,
    /// `None`: the person no longer exists in Humaans.
    pub person: Option<&'a Person>,
    pub roles: &'a [JobRole],
    pub company_name: Option<&'a str>,
    pub manager: ManagerInput,
    pub link: Option<&'a Link>,
    /// An unlinked account that matches the person (by externalId or work email), if any.
    pub match_found: Option<&'a RemoteUser>,
    /// The linked account as the service holds it now, when this call read it (sync-all): drift
    /// made by hand in the service is compared against it and repaired.
    pub remote: Option<&'a RemoteUser>,
    pub settings: &'a Settings,
    /// Who is in scope (parsed from `settings.scope`).
    pub scope: &'a Rules,
    pub mode: Mode,
    pub now: Timestamp,
}

/// One SCIM operation on the person's account (known from the link, the match, or the `Create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        profile: Profile,
    },
    /// Link an existing account (no request).
    Adopt {
        scim_id: String,
    },
    /// PATCH these attributes (empty value = clear).
    Update {
        changes: Profile,
    },
    Reactivate,
    Suspend,
    Delete,
    /// Set (or with `None` clear) the manager.
    SetManager {
        value: Option<String>,
    },
}

impl Op {
    /// Whether the operation sends a request.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Adopt { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub ops: Vec<Op>,
    /// Why nothing is done, when nothing is.
    pub skipped: Option<String>,
    /// Decide again at this time (provisioning or last working day falls due).
    pub wake_at: Option<Timestamp>,
    /// The manager's account does not exist yet: the link waits.
    pub manager_pending: bool,
    /// The attributes the account holds once the operations succeed.
    pub profile: Option<Profile>,
    /// The manager value the account holds once the operations succeed.
    pub manager: Option<String>,
    /// The SCIM id of the manager's account behind `manager`.
    pub manager_account: Option<String>,
    /// The manager will never have an account: why (logged once, not retried).
    pub manager_unresolvable: Option<String>,
}

impl Decision {
    fn skip(reason: impl Into<String>) -> Self {
        Decision { skipped: Some(reason.into()), ..Decision::default() }
    }

    /// The attributes the account holds once the operations succeed: `profile`, or when that
    /// was let go to save memory, the creation's.
    pub fn planned_profile(&self) -> Option<&Profile> {
        self.profile.as_ref().or_else(|| {
            self.ops.iter().find_map(|o| match o {
                Op::Create { profile } => Some(profile),
                _ => None,
            })
        })
    }

    /// Lets go of `profile` when a creation carries the same (a whole organisation's creations
    /// are planned at once); [`Decision::planned_profile`] still answers it.
    pub fn share_profile(&mut self) {
        if self.ops.iter().any(|o| matches!(o, Op::Create { profile } if Some(profile) == self.profile.as_ref())) {
            self.profile = None;
        }
    }

    /// Whether the decision suspends or deletes the account.
    pub fn deprovisions(&self) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Suspend | Op::Delete))
    }

    /// Turns a deprovision into a hold: nothing is written (mass-deprovisioning brake).
    pub fn hold(&mut self, reason: impl Into<String>) {
        self.ops.retain(|o| !matches!(o, Op::Suspend | Op::Delete));
        self.skipped = Some(reason.into());
    }
}

/// How many people one run may deprovision: the tenant's limit, or by default max(5, 10% of the
/// accounts the integration manages). A percentage rounds up, and is at least 1.
pub fn deprovision_limit(limit: Option<DeprovisionLimit>, linked_accounts: usize) -> usize {
    match limit {
        Some(DeprovisionLimit::Count(n)) => n as usize,
        Some(DeprovisionLimit::Percent(p)) => (linked_accounts * p as usize).div_ceil(100).max(1),
        None => (linked_accounts.div_ceil(10)).max(5),
    }
}

pub fn decide(i: &Inputs) -> Decision {
    let Some(person) = i.person else {
        return deprovision(i, "deleted in Humaans");
    };
    if timing::is_offboarded(person, i.now) {
        return deprovision(i, "offboarded");
    }
    let today = timing::person_today(person, i.now);
    let role = current_role(i.roles, today);
    let next_role_at = timing::next_role_change_at(person, i.roles, today);
    // No rules (the default): everyone, without reading the person's facts.
    if let Some(Verdict::Out { why }) = (!i.scope.is_empty()).then(|| i.scope.verdict(&scope::Facts::of(person, role)))
    {
        let mut d = out_of_scope(i, &why);
        // A job role that takes effect later may bring the person into scope.
        d.wake_at = next_role_at;
        return d;
    }
    let profile = match desired_profile(person, role, i.company_name, &i.settings.extra_fields) {
        Ok(p) => p,
        Err(why) => return Decision::skip(why.to_string()),
    };
    // A future last working day, or a job role that takes effect later: come back then.
    let leaving_at = timing::last_day_passed_at(person).filter(|at| *at > i.now);
    let wake_at = [leaving_at, next_role_at].into_iter().flatten().min();

    let mut d = Decision { wake_at, ..Decision::default() };
    let baseline: Profile;
    let current_manager: Option<String>;
    let current_manager_account: Option<String>;
    match (i.link, i.match_found) {
        (Some(link), _) => {
            if !is_active(link, i.remote) {
                // A rehire: reactivation follows the provisioning timing, as a creation does, and
                // with provisioning off the account is left alone.
                let Some(timing) = i.settings.provisioning else {
                    return Decision::skip("rehire; provisioning is off");
                };
                match timing::provisioning_due(person, timing, i.now) {
                    Due::Now => d.ops.push(Op::Reactivate),
                    Due::At(at) => {
                        let mut skip = Decision::skip(format!("rehire, due {}", format_time(at)));
                        skip.wake_at = Some(at);
                        return skip;
                    }
                    Due::Never(why) => return Decision::skip(why),
                }
            }
            baseline = match i.remote {
                Some(remote) => drifted_baseline(link, remote),
                None => link.written.clone(),
            };
            (current_manager, current_manager_account) = match i.remote {
                Some(remote) => {
                    (drifted_manager(link, remote, &i.manager, i.settings.dialect), link.manager_account.clone())
                }
                None => (link.manager.clone(), link.manager_account.clone()),
            };
        }
        (None, found) => {
            let timing = match (i.settings.provisioning, i.mode) {
                (Some(t), _) => t,
                (None, Mode::Sync) => ProvisionTiming::Immediately,
                (None, _) => return Decision::skip("provisioning is off"),
            };
            match timing::provisioning_due(person, timing, i.now) {
                Due::Now => {}
                Due::At(at) => {
                    let kind =
                        if timing::status(person) == timing::Status::NewHire { "new hire" } else { "not yet due" };
                    let mut skip = Decision::skip(format!("{kind}, due {}", format_time(at)));
                    skip.wake_at = Some(at);
                    return skip;
                }
                Due::Never(why) => return Decision::skip(why),
            }
            match found {
                Some(account) => {
                    d.ops.push(Op::Adopt { scim_id: account.id().to_owned() });
                    if !account.active {
                        d.ops.push(Op::Reactivate);
                    }
                    // Attributes the server does not return are unknown: write them once.
                    baseline = Attr::ALL
                        .iter()
                        .filter_map(|a| {
                            if account.returned.contains(a) {
                                account.attributes.get(a).map(|v| (*a, v))
                            } else {
                                Some((*a, "\u{0}unknown"))
                            }
                        })
                        .collect();
                    current_manager = adopted_manager(account, &i.manager, i.settings.dialect);
                    current_manager_account = None;
                }
                None => {
                    d.ops.push(Op::Create { profile: profile.clone() });
                    baseline = profile.clone();
                    current_manager = None;
                    current_manager_account = None;
                }
            }
        }
    }

    let mut changes = changed_attributes(&profile, &baseline);
    // An unknown attribute we do not want set needs no write: clearing it is not worth a guess.
    changes.retain(|attr, v| !(v.is_empty() && baseline.get(attr).is_some_and(|b| b == "\u{0}unknown")));
    if let (Some(link), Some(_)) = (i.link, i.remote) {
        // Drift we cannot repair: the service fills a value of its own (Leapsome's default title
        // "Colleague") where we never wrote one. Clearing it every sync would fight forever.
        changes.retain(|attr, v| !(v.is_empty() && link.written.get(attr).is_none_or(str::is_empty)));
    }
    if !changes.is_empty() {
        d.ops.push(Op::Update { changes });
    }

    let (desired_manager, desired_account, pending) = desired_manager(&i.manager, i.settings.dialect);
    d.manager_pending = pending;
    if let ManagerInput::Unresolvable { person_id, reason } = &i.manager {
        d.manager_unresolvable = Some(format!("manager {person_id} will not get an account: {reason}"));
    }
    // Logged once like an unresolvable manager, but the manager is cleared, not kept.
    let itself = matches!(i.manager, ManagerInput::Itself);
    if itself {
        d.manager_unresolvable = Some(SELF_MANAGED.to_owned());
    }
    // A manager re-created under a new account id is written again, even with the same value.
    let account_moved =
        desired_account.is_some() && current_manager_account.is_some() && desired_account != current_manager_account;
    if pending || (d.manager_unresolvable.is_some() && !itself) {
        d.manager = current_manager.clone();
        d.manager_account = current_manager_account;
    } else {
        d.manager = desired_manager.clone();
        d.manager_account = desired_account;
        if desired_manager != current_manager || account_moved {
            d.ops.push(Op::SetManager { value: desired_manager });
        }
    }
    d.profile = Some(profile);
    d
}

/// Whether the linked account is active: as the service says when this call read it, else as we
/// left it.
fn is_active(link: &Link, remote: Option<&RemoteUser>) -> bool {
    remote.map_or(link.active, |r| r.active)
}

/// What the account holds: the service's values for the attributes it returns, what we last
/// wrote for the rest (Leapsome drops attributes outside its schema and does not echo them).
fn drifted_baseline(link: &Link, remote: &RemoteUser) -> Profile {
    let mut baseline = link.written.clone();
    for attr in remote.returned.iter() {
        let value = remote.attributes.get(&attr).unwrap_or("");
        let written = link.written.get(&attr).unwrap_or("");
        // Services may store emails in another case; that is not drift.
        let same =
            value == written || matches!(attr, Attr::UserName | Attr::Email) && value.eq_ignore_ascii_case(written);
        if !same {
            // Rare (drift): a packed profile is rebuilt by each insert.
            baseline.insert(attr, value.to_owned());
        }
    }
    baseline
}

/// The manager the account holds, as the value we would write: the service's read-back when it
/// returns one (an id or an email), else what we last wrote.
fn drifted_manager(link: &Link, remote: &RemoteUser, manager: &ManagerInput, dialect: Dialect) -> Option<String> {
    match remote.manager() {
        None => link.manager.clone(),
        Some(_) => adopted_manager(remote, manager, dialect),
    }
}

/// The manager value to write: the manager's work email (Leapsome) or SCIM id (RFC 7644), with
/// the account id behind it; `pending` when the manager has no account yet.
fn desired_manager(manager: &ManagerInput, dialect: Dialect) -> (Option<String>, Option<String>, bool) {
    match manager {
        ManagerInput::None | ManagerInput::Unresolvable { .. } | ManagerInput::Itself => (None, None, false),
        ManagerInput::Person { account: None, .. } => (None, None, true),
        ManagerInput::Person { account: Some(id), email, .. } => {
            let value = match (dialect, email) {
                (Dialect::Leapsome, Some(e)) => e.clone(),
                // Without an email, Leapsome also resolves the manager by Leapsome id.
                (Dialect::Leapsome, None) | (Dialect::Rfc7644, _) => id.clone(),
            };
            (Some(value), Some(id.clone()), false)
        }
    }
}

/// The manager an adopted account already has, expressed as the value we would write, so an
/// account already pointing at the right manager is left alone whatever shape the server reads
/// it back in (id, `{managerId}`, or the email that was written).
fn adopted_manager(account: &RemoteUser, manager: &ManagerInput, dialect: Dialect) -> Option<String> {
    let read = account.manager()?;
    if let ManagerInput::Person { account: Some(id), email, .. } = manager {
        let same = read == id || email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(read));
        if same {
            return desired_manager(manager, dialect).0;
        }
    }
    Some(read.to_owned())
}

/// A person no scope rule admits: never given an account; a linked one is deprovisioned as the
/// settings say (counted against the deprovision limit by the shell, as every deprovision), or
/// left alone with `keep_out_of_scope`. Back in scope, the rehire path reactivates the account.
fn out_of_scope(i: &Inputs, why: &str) -> Decision {
    match i.link {
        None => Decision::skip(format!("out of scope: {why}")),
        Some(_) if i.settings.keep_out_of_scope => {
            Decision::skip(format!("out of scope: {why}; the account is kept (out-of-scope: keep)"))
        }
        Some(_) => deprovision(i, &format!("out of scope: {why}")),
    }
}

fn deprovision(i: &Inputs, why: &str) -> Decision {
    let Some(link) = i.link else {
        return Decision::skip(format!("{why}; no linked account"));
    };
    let Some(action) = i.settings.deprovisioning else {
        return Decision::skip(format!("{why}; deprovisioning is off"));
    };
    let mut d = Decision {
        profile: Some(link.written.clone()),
        manager: link.manager.clone(),
        manager_account: link.manager_account.clone(),
        ..Decision::default()
    };
    match action {
        DeprovisionAction::Suspend if is_active(link, i.remote) => d.ops.push(Op::Suspend),
        DeprovisionAction::Suspend => d.skipped = Some(format!("{why}; already suspended")),
        // Only a service without DELETE leaves a deactivated account behind (inactive).
        DeprovisionAction::Deactivate if !is_active(link, i.remote) => {
            d.skipped = Some(format!("{why}; already deactivated"));
        }
        DeprovisionAction::Deactivate => d.ops.push(Op::Delete),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::timing::parse_time;
    use crate::reconcile::{JobRoleField, JobRoleFields, PersonField, PersonFields};

    fn person(status: &str) -> Person {
        Person::from(PersonFields {
            id: "p1".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some("ada@acme.test".into()),
            timezone: Some("UTC".into()),
            status: Some(status.into()),
            employment_start_date: Some("2024-01-01".into()),
            ..PersonFields::default()
        })
    }

    fn role(reporting_to: Option<&str>) -> JobRole {
        JobRole::from(JobRoleFields {
            id: "r1".into(),
            person_id: "p1".into(),
            job_title: Some("Engineer".into()),
            department: Some("Eng".into()),
            reporting_to: reporting_to.map(Into::into),
            effective_date: Some("2024-01-01".into()),
            end_date: None,
        })
    }

    struct Case {
        person: Option<Person>,
        roles: Vec<JobRole>,
        manager: ManagerInput,
        link: Option<Link>,
        found: Option<RemoteUser>,
        remote: Option<RemoteUser>,
        settings: Settings,
        mode: Mode,
        now: &'static str,
    }

    impl Case {
        fn new(p: Person) -> Self {
            Case {
                person: Some(p),
                roles: vec![role(None)],
                manager: ManagerInput::None,
                link: None,
                found: None,
                remote: None,
                settings: Settings {
                    provisioning: Some(ProvisionTiming::Immediately),
                    deprovisioning: Some(DeprovisionAction::Suspend),
                    dialect: Dialect::Leapsome,
                    deprovision_limit: None,
                    deprovision_window_minutes: None,
                    teams: false,
                    log_retention: None,
                    scope: Vec::new(),
                    keep_out_of_scope: false,
                    extra_fields: Vec::new(),
                },
                mode: Mode::Event,
                now: "2026-11-28T12:00:00Z",
            }
        }
        fn decide(&self) -> Decision {
            let scope = Rules::parse(&self.settings.scope).expect("the case's rules read");
            decide(&Inputs {
                person_id: "p1",
                person: self.person.as_ref(),
                roles: &self.roles,
                company_name: Some("Acme"),
                manager: self.manager.clone(),
                link: self.link.as_ref(),
                match_found: self.found.as_ref(),
                remote: self.remote.as_ref(),
                settings: &self.settings,
                scope: &scope,
                mode: self.mode,
                now: parse_time(self.now).unwrap(),
            })
        }
        fn linked(mut self) -> Self {
            let d = self.decide();
            self.link = Some(Link {
                scim_id: "s1".into(),
                written: d.profile.unwrap(),
                active: true,
                manager: d.manager,
                manager_account: d.manager_account,
            });
            self
        }
    }

    /// Scope: out of scope is never created; a linked account leaving scope is deprovisioned
    /// (or kept with `keep_out_of_scope`); back in scope, the same account is reactivated.
    #[test]
    fn scope_decides_who_gets_and_keeps_an_account() {
        let mut berliner = person("active");
        berliner.set(PersonField::Location, Some("Berlin"));
        let mut case = Case::new(berliner.clone());
        case.settings.scope = vec!["department = Sales".into(), "location = Paris".into()];
        let d = case.decide();
        assert!(d.ops.is_empty());
        assert_eq!(
            d.skipped.as_deref(),
            Some("out of scope: rule 1: department is \"Eng\"; rule 2: location is \"Berlin\"")
        );
        case.settings.scope = vec!["department in (Eng, Sales) and location = berlin".into()];
        assert!(matches!(&case.decide().ops[..], [Op::Create { .. }]), "in scope by its department and place");

        // Linked, then out of scope: suspended as offboarding would.
        let mut case = Case::new(berliner).linked();
        case.settings.scope = vec!["job-title = Manager".into()];
        let d = case.decide();
        assert_eq!(d.ops, [Op::Suspend]);
        assert!(d.deprovisions(), "counted against the deprovision limit as every deprovision");
        case.settings.keep_out_of_scope = true;
        let kept = case.decide();
        assert!(
            kept.ops.is_empty()
                && kept.skipped.as_deref().unwrap().ends_with("the account is kept (out-of-scope: keep)")
        );
        case.settings.keep_out_of_scope = false;
        case.settings.deprovisioning = None;
        assert!(case.decide().skipped.as_deref().unwrap().ends_with("deprovisioning is off"));

        // Suspended for scope, then back in scope: the same account is reactivated.
        case.settings.deprovisioning = Some(DeprovisionAction::Suspend);
        case.link.as_mut().unwrap().active = false;
        case.settings.scope = vec!["job-title = Engineer".into()];
        assert_eq!(case.decide().ops, [Op::Reactivate]);
    }

    #[test]
    fn creates_an_active_member_immediately() {
        let d = Case::new(person("active")).decide();
        assert!(matches!(&d.ops[..], [Op::Create { profile }] if &profile[&Attr::Title] == "Engineer"));
    }

    #[test]
    fn a_shared_profile_is_still_the_planned_one() {
        let mut d = Case::new(person("active")).decide();
        let planned = d.profile.clone();
        assert!(planned.is_some());
        d.share_profile();
        assert_eq!(d.profile, None);
        assert_eq!(d.planned_profile(), planned.as_ref());
        // Without a creation nothing is let go.
        let mut d = Case::new(person("active")).linked().decide();
        let planned = d.profile.clone();
        d.share_profile();
        assert_eq!(d.profile, planned);
    }

    #[test]
    fn provisioning_off_skips_events_but_sync_backfills() {
        let mut c = Case::new(person("active"));
        c.settings.provisioning = None;
        assert_eq!(c.decide().skipped.as_deref(), Some("provisioning is off"));
        c.mode = Mode::Sync;
        assert!(matches!(c.decide().ops[..], [Op::Create { .. }]));
    }

    #[test]
    fn new_hire_waits_for_start_date() {
        let mut p = person("newHire");
        p.set(PersonField::EmploymentStartDate, Some("2026-12-01"));
        let mut c = Case::new(p);
        c.settings.provisioning = Some(ProvisionTiming::OnStartDate);
        let d = c.decide();
        assert!(d.ops.is_empty());
        assert_eq!(d.skipped.as_deref(), Some("new hire, due 2026-12-01T00:00:00Z"));
        assert_eq!(d.wake_at, parse_time("2026-12-01T00:00:00Z"));
        c.now = "2026-12-01T00:00:00Z";
        assert!(matches!(c.decide().ops[..], [Op::Create { .. }]));
    }

    #[test]
    fn unchanged_linked_profile_sends_nothing() {
        let c = Case::new(person("active")).linked();
        let d = c.decide();
        assert!(d.ops.is_empty(), "{:?}", d.ops);
        assert!(d.skipped.is_none());
    }

    #[test]
    fn changed_title_sends_only_the_title() {
        let mut c = Case::new(person("active")).linked();
        c.roles[0].set(JobRoleField::JobTitle, Some("Staff Engineer"));
        let d = c.decide();
        assert_eq!(d.ops, vec![Op::Update { changes: [(Attr::Title, "Staff Engineer".to_string())].into() }]);
    }

    #[test]
    fn email_change_renames_the_same_account() {
        let mut c = Case::new(person("active")).linked();
        c.person.as_mut().unwrap().set(PersonField::Email, Some("ada.l@acme.test"));
        let d = c.decide();
        match &d.ops[..] {
            [Op::Update { changes }] => {
                assert_eq!(changes.len(), 2);
                assert_eq!(&changes[&Attr::UserName], "ada.l@acme.test");
                assert_eq!(&changes[&Attr::Email], "ada.l@acme.test");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn offboarded_suspends_or_deletes_linked_accounts_only() {
        let mut c = Case::new(person("active")).linked();
        c.person.as_mut().unwrap().set(PersonField::Status, Some("offboarded"));
        assert_eq!(c.decide().ops, vec![Op::Suspend]);
        c.settings.deprovisioning = Some(DeprovisionAction::Deactivate);
        assert_eq!(c.decide().ops, vec![Op::Delete]);
        c.settings.deprovisioning = None;
        assert_eq!(c.decide().skipped.as_deref(), Some("offboarded; deprovisioning is off"));
        c.settings.deprovisioning = Some(DeprovisionAction::Suspend);
        c.link = None;
        assert_eq!(c.decide().skipped.as_deref(), Some("offboarded; no linked account"));
    }

    #[test]
    fn last_working_day_passes_on_tick() {
        let mut c = Case::new(person("active")).linked();
        c.person.as_mut().unwrap().set(PersonField::LastWorkingDay, Some("2026-11-30"));
        let d = c.decide();
        assert!(d.ops.is_empty());
        assert_eq!(d.wake_at, parse_time("2026-12-01T00:00:00Z"));
        c.now = "2026-12-01T00:00:00Z";
        c.mode = Mode::Tick;
        assert_eq!(c.decide().ops, vec![Op::Suspend]);
    }

    #[test]
    fn deleted_person_is_deprovisioned() {
        let mut c = Case::new(person("active")).linked();
        c.person = None;
        assert_eq!(c.decide().ops, vec![Op::Suspend]);
    }

    #[test]
    fn rehire_after_suspend_reactivates_the_same_account() {
        let mut c = Case::new(person("active")).linked();
        c.link.as_mut().unwrap().active = false;
        assert_eq!(c.decide().ops, vec![Op::Reactivate]);
    }

    #[test]
    fn manager_pending_until_their_account_exists_then_linked() {
        let mut c = Case::new(person("active"));
        c.roles = vec![role(Some("m1"))];
        c.manager =
            ManagerInput::Person { person_id: "m1".into(), email: Some("boss@acme.test".into()), account: None };
        let d = c.decide();
        assert!(d.manager_pending);
        assert!(matches!(d.ops[..], [Op::Create { .. }]));
        let mut c = c.linked();
        c.manager = ManagerInput::Person {
            person_id: "m1".into(),
            email: Some("boss@acme.test".into()),
            account: Some("s9".into()),
        };
        assert_eq!(c.decide().ops, vec![Op::SetManager { value: Some("boss@acme.test".into()) }]);
        c.settings.dialect = Dialect::Rfc7644;
        assert_eq!(c.decide().ops, vec![Op::SetManager { value: Some("s9".into()) }]);
    }

    #[test]
    fn adopting_an_account_writes_only_differences_and_unknowns() {
        let mut c = Case::new(person("active"));
        c.mode = Mode::Sync;
        c.manager = ManagerInput::Person {
            person_id: "m1".into(),
            email: Some("boss@acme.test".into()),
            account: Some("s9".into()),
        };
        let desired = c.decide().profile.unwrap();
        let returned: crate::reconcile::model::AttrSet =
            desired.keys().copied().filter(|a| *a != Attr::NickName && *a != Attr::Timezone).collect();
        let mut attributes = desired.clone();
        attributes.insert(Attr::Title, "Old title".into());
        c.found = Some(RemoteUser::new("s1", true, attributes, returned, Some("s9")));
        let d = c.decide();
        assert_eq!(d.ops[0], Op::Adopt { scim_id: "s1".into() });
        match &d.ops[1..] {
            [Op::Update { changes }] => {
                assert_eq!(changes.keys().copied().collect::<Vec<_>>(), vec![Attr::Timezone, Attr::Title]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.manager.as_deref(), Some("boss@acme.test"));
    }

    #[test]
    fn missing_work_email_is_skipped() {
        let mut p = person("active");
        p.set(PersonField::Email, None);
        assert_eq!(Case::new(p).decide().skipped.as_deref(), Some("no work email in Humaans"));
    }

    #[test]
    fn cleared_humaans_value_clears_remote() {
        let mut c = Case::new(person("active")).linked();
        c.roles[0].set(JobRoleField::Department, None);
        assert_eq!(c.decide().ops, vec![Op::Update { changes: [(Attr::Department, String::new())].into() }]);
    }

    #[test]
    fn rehire_waits_for_the_new_start_date_under_on_start_date() {
        let mut c = Case::new(person("active")).linked();
        c.link.as_mut().unwrap().active = false;
        let p = c.person.as_mut().unwrap();
        p.set(PersonField::Status, Some("newHire"));
        // The old employment's last working day stays on the record.
        p.set(PersonField::LastWorkingDay, Some("2025-06-30"));
        p.set(PersonField::EmploymentStartDate, Some("2026-12-07"));
        c.settings.provisioning = Some(ProvisionTiming::OnStartDate);
        let d = c.decide();
        assert!(d.ops.is_empty(), "{:?}", d.ops);
        assert_eq!(d.skipped.as_deref(), Some("rehire, due 2026-12-07T00:00:00Z"));
        assert_eq!(d.wake_at, parse_time("2026-12-07T00:00:00Z"));
        c.now = "2026-12-07T00:00:00Z";
        c.mode = Mode::Tick;
        assert_eq!(c.decide().ops, vec![Op::Reactivate]);
        // Three days before start with pre-boarding.
        c.now = "2026-12-04T00:00:00Z";
        c.settings.provisioning = Some(ProvisionTiming::DaysBeforeStart(3));
        assert_eq!(c.decide().ops, vec![Op::Reactivate]);
    }

    #[test]
    fn rehire_with_provisioning_off_is_left_alone_even_by_sync() {
        let mut c = Case::new(person("active")).linked();
        c.link.as_mut().unwrap().active = false;
        c.settings.provisioning = None;
        c.mode = Mode::Sync;
        let d = c.decide();
        assert!(d.ops.is_empty());
        assert_eq!(d.skipped.as_deref(), Some("rehire; provisioning is off"));
    }

    #[test]
    fn a_future_job_role_wakes_the_person_at_its_effective_date() {
        let mut berlin = person("active");
        berlin.set(PersonField::Timezone, Some("Europe/Berlin"));
        let mut c = Case::new(berlin).linked();
        let mut next = role(None);
        next.set(JobRoleField::Id, Some("r2"));
        next.set(JobRoleField::JobTitle, Some("Staff Engineer"));
        next.set(JobRoleField::EffectiveDate, Some("2026-12-01"));
        c.roles.push(next);
        let d = c.decide();
        assert!(d.ops.is_empty(), "{:?}", d.ops);
        // Midnight in Berlin is 23:00 UTC the day before.
        assert_eq!(d.wake_at, parse_time("2026-11-30T23:00:00Z"));
        c.now = "2026-11-30T23:00:00Z";
        assert_eq!(c.decide().ops, vec![Op::Update { changes: [(Attr::Title, "Staff Engineer".to_string())].into() }]);
    }

    #[test]
    fn drift_in_the_service_is_repaired_against_the_desired_profile() {
        let mut c = Case::new(person("active")).linked();
        let link = c.link.clone().unwrap();
        let mut attributes = link.written.clone();
        attributes.insert(Attr::Title, "Changed by hand".into());
        attributes.insert(Attr::UserName, "ADA@acme.test".into());
        // The service fills its own default where we wrote nothing: not drift worth fighting.
        attributes.insert(Attr::NickName, "Colleague".into());
        let returned = [Attr::UserName, Attr::Title, Attr::NickName].into_iter().collect();
        c.remote = Some(RemoteUser::new("s1", true, attributes, returned, None));
        assert_eq!(c.decide().ops, vec![Op::Update { changes: [(Attr::Title, "Engineer".to_string())].into() }]);
        // Deactivated by hand while still employed: reactivated.
        c.remote.as_mut().unwrap().active = false;
        assert!(c.decide().ops.contains(&Op::Reactivate));
    }

    #[test]
    fn a_manager_re_created_under_a_new_id_is_linked_again_in_both_dialects() {
        for dialect in [Dialect::Leapsome, Dialect::Rfc7644] {
            let mut c = Case::new(person("active"));
            c.settings.dialect = dialect;
            c.manager = ManagerInput::Person {
                person_id: "m1".into(),
                email: Some("boss@acme.test".into()),
                account: Some("s9".into()),
            };
            let mut c = c.linked();
            assert!(c.decide().ops.is_empty());
            c.manager = ManagerInput::Person {
                person_id: "m1".into(),
                email: Some("boss@acme.test".into()),
                account: Some("s10".into()),
            };
            let expected = if dialect == Dialect::Leapsome { "boss@acme.test" } else { "s10" };
            assert_eq!(c.decide().ops, vec![Op::SetManager { value: Some(expected.into()) }], "{dialect:?}");
        }
    }

    #[test]
    fn a_manager_who_will_never_have_an_account_is_not_pending() {
        let mut c = Case::new(person("active"));
        c.manager = ManagerInput::Unresolvable { person_id: "m1".into(), reason: "no work email in Humaans".into() };
        let d = c.decide();
        assert!(!d.manager_pending);
        assert_eq!(
            d.manager_unresolvable.as_deref(),
            Some("manager m1 will not get an account: no work email in Humaans")
        );
        assert!(matches!(d.ops[..], [Op::Create { .. }]));
    }

    #[test]
    fn a_person_reporting_to_themselves_gets_no_manager_and_a_note() {
        let mut c = Case::new(person("active"));
        c.manager = ManagerInput::Itself;
        let d = c.decide();
        assert!(!d.manager_pending);
        assert_eq!(d.manager_unresolvable.as_deref(), Some(SELF_MANAGED));
        assert!(matches!(d.ops[..], [Op::Create { .. }]), "no manager write: {:?}", d.ops);
        assert_eq!(d.manager, None);
    }

    #[test]
    fn deprovision_limit_defaults_to_five_or_ten_percent() {
        assert_eq!(deprovision_limit(None, 0), 5);
        assert_eq!(deprovision_limit(None, 49), 5);
        assert_eq!(deprovision_limit(None, 200), 20);
        assert_eq!(deprovision_limit(None, 201), 21);
        assert_eq!(deprovision_limit(Some(DeprovisionLimit::Count(2)), 1000), 2);
        assert_eq!(deprovision_limit(Some(DeprovisionLimit::Percent(5)), 1000), 50);
        assert_eq!(deprovision_limit(Some(DeprovisionLimit::Percent(1)), 10), 1);
    }
}
