//! What the component keeps in tenant storage between calls (each call is a fresh instance).
//!
//! | key | value | written by |
//! |---|---|---|
//! | `connection` | endpoints and tokens (never leave the component) | `connect` |
//! | `settings` | provisioning, deprovisioning, dialect, deprovision limit | `configure` |
//! | `company` | cached company name (idempotent) | any call |
//! | `link/<person id>` | the account we manage for that person and what we last wrote | that person's processing |
//! | `sched/<person id>` | when to look again, backoff, quarantine, held, pending manager | that person's processing |
//! | `auth` | consecutive refusals of the token; the `unauthorized` state | any call |
//! | `scim-caps` | what the SCIM service was found not to support (DELETE) | any call |
//! | `log/seq`, `log/e/<n>` | the integration log (`logs.rs`) | any call |
//!
//! Calls may overlap (two processes, cron during a webhook, several hosts on one store). No value
//! is shared by many people: per-person records have their own keys, so two calls that overlap
//! only contend when they work on the same person, and then both re-read Humaans and converge.
//! Schedule records are merged field by field on save (see [`Schedule::save`]), so a call that
//! changed only `wake_at` never undoes another call's new backoff. The tenant-wide values are
//! either written by one operator command (`connection`, `settings`) or idempotent.
//!
//! A stored value that cannot be decoded is a storage error, never "absent": settings that read as
//! "provisioning off" or links that read as "no account" would silently change what is done.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::AppError;
use crate::error::Failure;
use crate::ports::KeyValue;
use crate::reconcile::retry::PersonState;
use crate::reconcile::timing::format_time;
use crate::reconcile::{Link, Settings};

#[derive(Clone, Serialize, Deserialize)]
pub struct Connection {
    pub humaans_base_url: String,
    pub humaans_token: String,
    pub scim_base_url: String,
    pub scim_token: String,
    /// Pacing of SCIM requests: `None` = Leapsome's 30/s, `Some(0)` = none.
    #[serde(default)]
    pub scim_requests_per_second: Option<u32>,
    /// Set when `connect` could not confirm the Humaans token has `private:read`: repeated as a
    /// warning on every sync.
    #[serde(default)]
    pub scope_warning: Option<String>,
    /// The secret Humaans signs webhooks with (`webhook.rs`).
    #[serde(default)]
    pub humaans_webhook_secret: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never appear in debug output.
        f.debug_struct("Connection")
            .field("humaans_base_url", &self.humaans_base_url)
            .field("scim_base_url", &self.scim_base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedCompany {
    pub id: Option<String>,
    pub name: Option<String>,
}

fn storage(e: String) -> AppError {
    AppError::Storage(e)
}

pub fn get<T: DeserializeOwned>(kv: &mut dyn KeyValue, key: &str) -> Result<Option<T>, AppError> {
    match kv.get(key).map_err(storage)? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| AppError::Storage(format!("the stored `{key}` is unreadable: {e}")))
}

pub fn put<T: Serialize>(kv: &mut dyn KeyValue, key: &str, value: &T) -> Result<(), AppError> {
    kv.set(key, &serde_json::to_vec(value).expect("state serialises")).map_err(storage)
}

pub fn link_key(person_id: &str) -> String {
    format!("link/{person_id}")
}

pub fn load_link(kv: &mut dyn KeyValue, person_id: &str) -> Result<Option<Link>, AppError> {
    get(kv, &link_key(person_id))
}

/// A person's stored link, or why it could not be read.
pub type LoadedLink = (String, Result<Option<Link>, AppError>);

/// Links of many people in one batch read. A link that cannot be decoded is that person's error.
pub fn load_links(kv: &mut dyn KeyValue, person_ids: &[String]) -> Result<Vec<LoadedLink>, AppError> {
    let keys: Vec<String> = person_ids.iter().map(|id| link_key(id)).collect();
    let values = kv.get_many(&keys).map_err(storage)?;
    Ok(person_ids
        .iter()
        .zip(keys.iter().zip(values))
        .map(|(id, (key, value))| (id.clone(), value.map(|v| decode(key, &v)).transpose()))
        .collect())
}

pub fn save_link(kv: &mut dyn KeyValue, person_id: &str, link: Option<&Link>) -> Result<(), AppError> {
    match link {
        Some(link) => put(kv, &link_key(person_id), link),
        None => kv.delete(&link_key(person_id)).map_err(storage),
    }
}

pub fn load_connection(kv: &mut dyn KeyValue) -> Result<Connection, AppError> {
    get(kv, "connection")?.ok_or(AppError::NotConnected)
}

pub fn load_settings(kv: &mut dyn KeyValue) -> Result<Settings, AppError> {
    Ok(get(kv, "settings")?.unwrap_or_default())
}

/// The tenant's connection health: the token refused on consecutive calls stops writes (Entra
/// ID's provisioning quarantine) until `connect` succeeds again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthState {
    /// Calls in a row that a service refused with 401/403.
    pub consecutive_refusals: u32,
    /// Set once the connection is unauthorized: since when, and the refusal.
    #[serde(default)]
    pub unauthorized: Option<Unauthorized>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unauthorized {
    pub since: String,
    pub scim: bool,
    pub status: Option<u16>,
    pub message: String,
}

/// Refusals in a row that make the connection unauthorized. Two, not one: a single 401 can be a
/// token being rotated on the other side while this call ran.
pub const REFUSALS_FOR_UNAUTHORIZED: u32 = 2;

impl AuthState {
    pub fn load(kv: &mut dyn KeyValue) -> Result<AuthState, AppError> {
        Ok(get(kv, "auth")?.unwrap_or_default())
    }

    /// Records a call's outcome: `Some(failure)` when a service refused the token. Returns
    /// `Some(true)` when the connection just became unauthorized, `Some(false)` when it just
    /// recovered, `None` when nothing changed worth logging. Writes only on a change.
    pub fn record(
        kv: &mut dyn KeyValue,
        refused: Option<&Failure>,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>, AppError> {
        let mut state = AuthState::load(kv)?;
        let before = state.clone();
        let mut transition = None;
        match refused {
            Some(f) => {
                state.consecutive_refusals += 1;
                if state.consecutive_refusals >= REFUSALS_FOR_UNAUTHORIZED && state.unauthorized.is_none() {
                    state.unauthorized = Some(Unauthorized {
                        since: format_time(now),
                        scim: f.service == crate::error::Service::Scim,
                        status: f.status,
                        message: f.message.clone(),
                    });
                    transition = Some(true);
                }
            }
            None => state.consecutive_refusals = 0,
        }
        if state != before {
            put(kv, "auth", &state)?;
        }
        Ok(transition)
    }

    /// After a successful `connect`: healthy again. Returns whether it was unauthorized.
    pub fn reset(kv: &mut dyn KeyValue) -> Result<bool, AppError> {
        let state = AuthState::load(kv)?;
        if state != AuthState::default() {
            put(kv, "auth", &AuthState::default())?;
        }
        Ok(state.unauthorized.is_some())
    }
}

/// What the SCIM service was found not to support, remembered so each is discovered (and logged)
/// once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimCaps {
    /// `DELETE /Users/{id}` answered 404/405/501 for an existing account: deactivate instead.
    pub no_delete: bool,
}

impl ScimCaps {
    pub fn load(kv: &mut dyn KeyValue) -> Result<ScimCaps, AppError> {
        Ok(get(kv, "scim-caps")?.unwrap_or_default())
    }
}

const SCHED_PREFIX: &str = "sched/";

fn sched_key(person_id: &str) -> String {
    format!("{SCHED_PREFIX}{person_id}")
}

/// The per-person schedule records a call works with (`sched/<person id>`), loaded up front and
/// saved at the end. Each record remembers how it was loaded, so [`Schedule::save`] writes only
/// the fields this call changed on top of what storage holds by then.
#[derive(Debug, Default)]
pub struct Schedule {
    entries: HashMap<String, (PersonState, PersonState)>,
    /// Records that could not be decoded: (person id, error). The caller logs them; they are
    /// replaced by a fresh record that is due at once, so the person is looked at again.
    pub unreadable: Vec<(String, String)>,
    /// Accounts the integration manages (`link/` keys), counted by [`Schedule::load_all`] for the
    /// deprovision limit.
    pub linked_accounts: usize,
}

impl Schedule {
    /// Loads every person's record (ticks and syncs look at everyone).
    pub fn load_all(kv: &mut dyn KeyValue) -> Result<Self, AppError> {
        let keys = kv.list_keys().map_err(storage)?;
        let linked_accounts = keys.iter().filter(|k| k.starts_with("link/")).count();
        let ids: Vec<String> =
            keys.into_iter().filter_map(|k| k.strip_prefix(SCHED_PREFIX).map(str::to_owned)).collect();
        let mut schedule = Self::load_people(kv, &ids)?;
        schedule.linked_accounts = linked_accounts;
        Ok(schedule)
    }

    /// Loads the records of these people (events).
    pub fn load_people(kv: &mut dyn KeyValue, person_ids: &[String]) -> Result<Self, AppError> {
        let keys: Vec<String> = person_ids.iter().map(|id| sched_key(id)).collect();
        let values = kv.get_many(&keys).map_err(storage)?;
        let mut schedule = Schedule::default();
        for ((id, key), value) in person_ids.iter().zip(&keys).zip(values) {
            let Some(bytes) = value else {
                schedule.entries.insert(id.clone(), Default::default());
                continue;
            };
            match decode::<PersonState>(key, &bytes) {
                Ok(state) => {
                    schedule.entries.insert(id.clone(), (state.clone(), state));
                }
                Err(e) => {
                    schedule.unreadable.push((id.clone(), e.to_string()));
                    // Loaded as "something unknown" so the save overwrites it.
                    let marker = PersonState { noted: Some("\u{0}unreadable".into()), ..PersonState::default() };
                    schedule.entries.insert(id.clone(), (marker, PersonState::default()));
                }
            }
        }
        Ok(schedule)
    }

    /// The person's record (empty when they have none or were not loaded).
    pub fn get(&self, person_id: &str) -> PersonState {
        self.entries.get(person_id).map(|(_, current)| current.clone()).unwrap_or_default()
    }

    pub fn entry(&mut self, person_id: &str) -> &mut PersonState {
        &mut self.entries.entry(person_id.to_owned()).or_default().1
    }

    pub fn people(&self) -> impl Iterator<Item = (&String, &PersonState)> {
        self.entries.iter().map(|(id, (_, current))| (id, current))
    }

    pub fn wake(&mut self, person_id: &str, at: Option<String>) {
        self.entry(person_id).wake_at = at;
    }

    pub fn manager_pending(&mut self, person_id: &str, pending: bool) {
        self.entry(person_id).manager_pending = pending;
    }

    /// Writes the records this call changed. Each is merged field by field with what storage
    /// holds now: fields this call did not change keep the stored value, so overlapping calls
    /// working on different aspects of one person do not undo each other.
    pub fn save(&mut self, kv: &mut dyn KeyValue) -> Result<(), AppError> {
        let changed: Vec<String> =
            self.entries.iter().filter(|(_, (loaded, current))| loaded != current).map(|(id, _)| id.clone()).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = changed.iter().map(|id| sched_key(id)).collect();
        let stored = kv.get_many(&keys).map_err(storage)?;
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        for ((id, key), stored) in changed.iter().zip(keys).zip(stored) {
            let (loaded, current) = &self.entries[id];
            let stored: PersonState = stored.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            let merged = merge(loaded, current, stored);
            if merged.is_empty() {
                deletes.push(key);
            } else {
                writes.push((key, serde_json::to_vec(&merged).expect("state serialises")));
            }
        }
        if !writes.is_empty() {
            kv.set_many(&writes).map_err(storage)?;
        }
        if !deletes.is_empty() {
            kv.delete_many(&deletes).map_err(storage)?;
        }
        for (loaded, current) in self.entries.values_mut() {
            *loaded = current.clone();
        }
        Ok(())
    }
}

/// `stored` with every field that differs between `loaded` and `current` taken from `current`.
fn merge(loaded: &PersonState, current: &PersonState, mut stored: PersonState) -> PersonState {
    macro_rules! take_changed {
        ($($field:ident),*) => {$(
            if loaded.$field != current.$field {
                stored.$field = current.$field.clone();
            }
        )*};
    }
    take_changed!(wake_at, manager_pending, failures, quarantine, held_since, noted);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryKeyValue;

    #[test]
    fn unreadable_values_are_storage_errors_not_defaults() {
        let mut kv = MemoryKeyValue::default();
        kv.set("settings", b"{not json").unwrap();
        match load_settings(&mut kv) {
            Err(AppError::Storage(m)) => assert!(m.contains("`settings` is unreadable"), "{m}"),
            other => panic!("{other:?}"),
        }
        kv.set("link/p1", b"[]").unwrap();
        assert!(matches!(load_link(&mut kv, "p1"), Err(AppError::Storage(_))));
        let links = load_links(&mut kv, &["p1".into(), "p2".into()]).unwrap();
        assert!(matches!(links[0].1, Err(AppError::Storage(_))));
        assert!(matches!(links[1].1, Ok(None)));
    }

    #[test]
    fn overlapping_schedules_keep_each_others_people() {
        let mut kv = MemoryKeyValue::default();
        let mut a = Schedule::load_all(&mut kv).unwrap();
        let mut b = Schedule::load_all(&mut kv).unwrap();
        a.wake("p1", Some("2026-12-05T00:00:00Z".into()));
        b.wake("p2", Some("2026-12-06T00:00:00Z".into()));
        a.save(&mut kv).unwrap();
        b.save(&mut kv).unwrap();
        let all = Schedule::load_all(&mut kv).unwrap();
        assert_eq!(all.get("p1").wake_at.as_deref(), Some("2026-12-05T00:00:00Z"));
        assert_eq!(all.get("p2").wake_at.as_deref(), Some("2026-12-06T00:00:00Z"));
    }

    #[test]
    fn a_save_merges_only_the_fields_it_changed() {
        let mut kv = MemoryKeyValue::default();
        let mut a = Schedule::load_people(&mut kv, &["p1".into()]).unwrap();
        let mut b = Schedule::load_people(&mut kv, &["p1".into()]).unwrap();
        a.manager_pending("p1", true);
        b.wake("p1", Some("2026-12-05T00:00:00Z".into()));
        a.save(&mut kv).unwrap();
        b.save(&mut kv).unwrap();
        let s = Schedule::load_people(&mut kv, &["p1".into()]).unwrap().get("p1");
        assert!(s.manager_pending);
        assert_eq!(s.wake_at.as_deref(), Some("2026-12-05T00:00:00Z"));
        // Emptied records are deleted.
        let mut c = Schedule::load_all(&mut kv).unwrap();
        c.manager_pending("p1", false);
        c.wake("p1", None);
        c.save(&mut kv).unwrap();
        assert!(!kv.data.contains_key("sched/p1"));
    }

    #[test]
    fn an_unreadable_record_is_reported_and_replaced() {
        let mut kv = MemoryKeyValue::default();
        kv.set("sched/p1", b"\xff").unwrap();
        let mut s = Schedule::load_all(&mut kv).unwrap();
        assert_eq!(s.unreadable.len(), 1);
        s.wake("p1", Some("2026-12-01T00:00:00Z".into()));
        s.save(&mut kv).unwrap();
        let again = Schedule::load_all(&mut kv).unwrap();
        assert!(again.unreadable.is_empty());
        assert_eq!(again.get("p1").wake_at.as_deref(), Some("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn auth_state_turns_unauthorized_after_consecutive_refusals_only() {
        let mut kv = MemoryKeyValue::default();
        let now = crate::reconcile::timing::parse_time("2026-12-01T00:00:00Z").unwrap();
        let f = Failure { service: crate::error::Service::Scim, status: Some(401), message: "bad token".into() };
        assert_eq!(AuthState::record(&mut kv, Some(&f), now).unwrap(), None);
        assert_eq!(AuthState::record(&mut kv, None, now).unwrap(), None, "a good call in between resets");
        assert_eq!(AuthState::record(&mut kv, Some(&f), now).unwrap(), None);
        assert_eq!(AuthState::record(&mut kv, Some(&f), now).unwrap(), Some(true));
        assert!(AuthState::load(&mut kv).unwrap().unauthorized.is_some());
        assert_eq!(AuthState::record(&mut kv, Some(&f), now).unwrap(), None, "logged once");
        assert!(AuthState::reset(&mut kv).unwrap());
        assert_eq!(AuthState::load(&mut kv).unwrap(), AuthState::default());
        let writes = kv.writes;
        AuthState::record(&mut kv, None, now).unwrap();
        assert_eq!(kv.writes, writes, "a healthy call writes nothing");
    }
}
