//! What the component keeps in tenant storage between calls (each call is a fresh instance).
//!
//! | key | value |
//! |---|---|
//! | `connection` | endpoints and tokens (never leave the component) |
//! | `settings` | provisioning, deprovisioning, dialect |
//! | `company` | cached company name |
//! | `link/<person id>` | the account we manage for that person and what we last wrote |
//! | `waiting` | person id -> when to look again (due dates, retries) |
//! | `pending-managers` | people whose manager link waits for the manager's account |
//! | `log/...` | the integration log (`logs.rs`) |

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::AppError;
use crate::ports::KeyValue;
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
        // Unreadable state (an older format, corruption) is treated as absent, not fatal: the next
        // sync rebuilds it from the two services.
        Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
    }
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

/// The schedule kept between calls: who to look at again and when, and who waits on a manager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    pub waiting: BTreeMap<String, String>,
    pub pending_managers: BTreeSet<String>,
    dirty: bool,
}

impl Schedule {
    pub fn load(kv: &mut dyn KeyValue) -> Result<Self, AppError> {
        Ok(Schedule {
            waiting: get(kv, "waiting")?.unwrap_or_default(),
            pending_managers: get(kv, "pending-managers")?.unwrap_or_default(),
            dirty: false,
        })
    }

    pub fn wake(&mut self, person_id: &str, at: Option<String>) {
        let changed = match at {
            Some(at) => self.waiting.insert(person_id.to_owned(), at.clone()).as_ref() != Some(&at),
            None => self.waiting.remove(person_id).is_some(),
        };
        self.dirty |= changed;
    }

    pub fn manager_pending(&mut self, person_id: &str, pending: bool) {
        let changed = if pending {
            self.pending_managers.insert(person_id.to_owned())
        } else {
            self.pending_managers.remove(person_id)
        };
        self.dirty |= changed;
    }

    pub fn save(&mut self, kv: &mut dyn KeyValue) -> Result<(), AppError> {
        if self.dirty {
            put(kv, "waiting", &self.waiting)?;
            put(kv, "pending-managers", &self.pending_managers)?;
            self.dirty = false;
        }
        Ok(())
    }
}
