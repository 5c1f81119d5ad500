//! Carrying out decisions: the writes for many people at once (concurrently, within a write
//! budget), then their manager links. Each success updates the stored link right away, so a call
//! cut off half-way loses nothing; each outcome is logged.
//!
//! In the order a call uses them: `gate` (backoff and quarantine: whether to attempt a person),
//! `decide_for`, wave one (`wave_one`: every profile write, from `profile`'s one request a
//! person), wave two (`wave_two`: manager links), both sent a batch at a time by `send`;
//! `report` counts, lists and logs each outcome, and `schedule` says when to look at each
//! person again. What they share, the facts read and a call's counts, is here.

mod gate;
mod profile;
mod report;
mod schedule;
mod send;
mod wave_one;
mod wave_two;

use jiff::Timestamp;
use std::rc::Rc;

use crate::ids::{IdMap, IdSet};
use crate::reconcile::mapping::current_role;
use crate::reconcile::retry::fingerprint;
use crate::reconcile::scope::Rules;
use crate::reconcile::timing::{self, person_today};
use crate::reconcile::{Decision, Inputs, Link, ManagerInput, Mode, Person, RemoteUser, Settings, decide};

use super::Change;
use super::records::{AccountsByEmail, People, Roles};

pub(crate) use gate::{gate, is_permanent, note_failure};
pub(crate) use profile::link_after;
pub(crate) use report::log_skip;
pub(crate) use schedule::{is_idle, reschedule};
pub(crate) use wave_one::write_profiles;
pub(crate) use wave_two::write_managers;

/// Changes a call lists one by one. A sync of a whole organisation makes hundreds of thousands
/// (two per new account), and the returned report is copied once more into the guest's memory:
/// at 100,000 people the list alone took tens of megabytes. The counts stay exact, each change
/// is logged, and failures are always listed (the schedule and the operator need them).
pub(crate) const MAX_LISTED_CHANGES: usize = 1000;

/// People with writes one call takes on (a dry run: everyone; with a write budget, at most that
/// many); wave two may add as many again (people whose manager wave one created). Each held with
/// a planned write costs about half a kilobyte: at 100,000 people, holding them all made the
/// calls of an initial sync the largest of all (187 MiB against 131 MiB for a steady sync). The
/// rest is left to the next call (reported as not complete), which reads both sides again and
/// takes on the next share; a call sends at most ~30,000 writes, well within its time budget
/// (`SYNC_TIME_BUDGET`), which allowed ~45,000.
pub(crate) const MAX_SUBJECTS_WITH_WRITES: usize = 15_000;

/// What the shell has read, for deciding. Made with [`Facts::new`] and the call's scope rules, so
/// no call can decide without them.
pub(crate) struct Facts {
    pub people: People,
    pub roles: Roles,
    pub company: Option<String>,
    /// Person id -> SCIM id of the account we manage (or just created).
    pub accounts: IdMap<String, String>,
    /// Work email (any letter case) -> an existing account, for managers we do not manage.
    pub accounts_by_email: AccountsByEmail,
    /// People Humaans answered 404 for: they will never get an account.
    pub missing: IdSet<String>,
    /// Who is in scope (the tenant's rules, read once a call).
    pub scope: Rules,
}

impl Facts {
    pub fn new(scope: Rules) -> Facts {
        Facts {
            people: People::default(),
            roles: Roles::default(),
            company: None,
            accounts: IdMap::default(),
            accounts_by_email: AccountsByEmail::default(),
            missing: IdSet::default(),
            scope,
        }
    }

    pub fn manager_of(&self, person: &Person, now: Timestamp) -> ManagerInput {
        let roles = self.roles.get(person.id()).unwrap_or(&[]);
        let Some(manager_id) =
            current_role(roles, person_today(person, now)).and_then(|r| r.reporting_to().map(str::to_owned))
        else {
            return ManagerInput::None;
        };
        if manager_id == person.id() {
            // HR systems often record the head of the company as reporting to themselves;
            // Leapsome refuses that with a 400 on every write.
            return ManagerInput::Itself;
        }
        let manager = self.people.get(&manager_id);
        let email = manager.and_then(|m| m.email().map(str::to_owned));
        let account = self
            .accounts
            .get(&manager_id)
            .cloned()
            .or_else(|| email.as_deref().and_then(|e| self.accounts_by_email.get(e)).map(str::to_owned));
        if account.is_none() {
            // Waiting for these would retry every tick forever.
            let never = if self.missing.contains(&manager_id) {
                Some("not in Humaans (deleted or unknown id)")
            } else if manager.is_some() && email.is_none() {
                Some("no work email in Humaans")
            } else if manager.is_some_and(|m| timing::is_offboarded(m, now)) {
                Some("has left")
            } else {
                None
            };
            if let Some(reason) = never {
                return ManagerInput::Unresolvable { person_id: manager_id, reason: reason.to_owned() };
            }
        }
        ManagerInput::Person { person_id: manager_id, email, account }
    }

    /// A fingerprint of what Humaans says about the person: when it changes, their backoff and
    /// quarantine are lifted.
    pub fn fingerprint_of(&self, person_id: &str) -> u64 {
        fingerprint(&[&self.people.get(person_id), &self.roles.get(person_id)])
    }
}

/// One person on the way through a call.
pub(crate) struct Subject {
    pub person_id: String,
    pub email: String,
    pub link: Option<Link>,
    pub found: Option<Rc<RemoteUser>>,
    pub decision: Decision,
    /// Whether this person's manager link was pending before the call.
    pub was_pending: bool,
    /// The linked account as the service holds it now (sync-all), for drift repair.
    pub remote: Option<Rc<RemoteUser>>,
    /// Not attempted in this call (in backoff or quarantine): their state is left as it is.
    pub gated: bool,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn decide_for(
    facts: &Facts,
    person_id: &str,
    link: Option<&Link>,
    found: Option<&RemoteUser>,
    remote: Option<&RemoteUser>,
    settings: &Settings,
    mode: Mode,
    now: Timestamp,
) -> Decision {
    let person = facts.people.get(person_id);
    let manager = person.map_or(ManagerInput::None, |p| facts.manager_of(p, now));
    decide(&Inputs {
        person_id,
        person,
        roles: facts.roles.get(person_id).unwrap_or(&[]),
        company_name: facts.company.as_deref(),
        manager,
        link,
        match_found: found,
        remote,
        settings,
        scope: &facts.scope,
        mode,
        now,
    })
}

/// Counts and changes of one call.
#[derive(Default)]
pub(crate) struct Run {
    pub dry_run: bool,
    pub budget: Option<u32>,
    pub writes: u32,
    /// Writes planned but not sent (budget exhausted).
    pub deferred: u32,
    pub created: u32,
    pub adopted: u32,
    pub updated: u32,
    pub deprovisioned: u32,
    pub reactivated: u32,
    pub managers_linked: u32,
    pub failed: u32,
    /// The first [`MAX_LISTED_CHANGES`] changes, and every failure.
    pub changes: Vec<Change>,
    /// Successful changes past the first [`MAX_LISTED_CHANGES`]: counted, not listed.
    pub unlisted_changes: u32,
    /// The SCIM service has no DELETE: deprovisioning deactivates (`active: false`) instead.
    pub no_delete: bool,
    /// Subjects with writes this call takes on (`None`: all); see [`MAX_SUBJECTS_WITH_WRITES`].
    pub subjects_with_writes: Option<usize>,
}

impl Run {
    fn take_budget(&mut self) -> bool {
        match self.budget {
            Some(b) if self.writes >= b => {
                self.deferred += 1;
                false
            }
            _ => {
                self.writes += 1;
                true
            }
        }
    }
}
