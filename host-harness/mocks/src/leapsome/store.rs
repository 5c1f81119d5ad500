//! The organisation's users, indexed by id, lowercased userName and externalId, with the live
//! users kept in creation order so that a list page is a slice.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::config::LeapsomeConfig;
use super::model::{self, Profile, ScimError};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub created: String,
    pub last_modified: String,
    pub version: u64,
    pub profile: Profile,
    /// Set by DELETE (unless DELETE deactivates): hidden from GET and list, 404 afterwards.
    pub removed: bool,
}

impl UserRecord {
    pub fn user_name(&self) -> &str {
        self.profile.attrs.get("userName").and_then(Value::as_str).unwrap_or("")
    }

    pub fn external_id(&self) -> Option<&str> {
        self.profile.attrs.get("externalId").and_then(Value::as_str)
    }
}

#[derive(Default)]
pub struct Store {
    users: HashMap<String, UserRecord>,
    /// Ids of live users, oldest first: the stable list order.
    order: Vec<String>,
    by_user_name: HashMap<String, String>,
    /// Ids of live users per externalId, in the order they took it (Leapsome does not make it
    /// unique; GET by externalId answers the first).
    by_external_id: HashMap<String, Vec<String>>,
    counter: u64,
}

/// How a userName clash reads: SPEC words it differently for POST and for PUT/PATCH.
pub enum Write {
    Create,
    Update,
}

impl Store {
    pub fn live(&self, id: &str) -> Option<&UserRecord> {
        self.users.get(id).filter(|u| !u.removed)
    }

    /// Live or removed: what `stored()` shows.
    pub fn any(&self, id: &str) -> Option<&UserRecord> {
        self.users.get(id)
    }

    /// `GET /Users/{id}`: by id, then by externalId (SPEC).
    pub fn by_id_or_external_id(&self, key: &str) -> Option<&UserRecord> {
        self.live(key).or_else(|| self.by_external_id(key).first().copied())
    }

    pub fn by_user_name(&self, user_name: &str) -> Option<&UserRecord> {
        self.by_user_name.get(&user_name.to_lowercase()).and_then(|id| self.live(id))
    }

    pub fn by_external_id(&self, external_id: &str) -> Vec<&UserRecord> {
        self.by_external_id.get(external_id).into_iter().flatten().filter_map(|id| self.live(id)).collect()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Live users from 0-based `start`, at most `count`.
    pub fn page(&self, start: usize, count: usize) -> impl Iterator<Item = &UserRecord> {
        let start = start.min(self.order.len());
        let end = start.saturating_add(count).min(self.order.len());
        self.order[start..end].iter().filter_map(|id| self.live(id))
    }

    pub fn all(&self) -> impl Iterator<Item = &UserRecord> {
        self.page(0, usize::MAX)
    }

    /// Leapsome resolves a manager by Leapsome id, email (userName) or externalId (UDEF);
    /// RFC 7643's `manager.value` is the manager's id only.
    pub fn resolve_manager(&self, reference: &str, id_only: bool) -> Option<String> {
        if let Some(user) = self.live(reference) {
            return Some(user.id.clone());
        }
        if id_only {
            return None;
        }
        self.by_user_name(reference).or_else(|| self.by_external_id(reference).first().copied()).map(|u| u.id.clone())
    }

    /// The checks every write ends with, on the profile as it would be stored.
    pub fn validate(
        &self,
        profile: &Profile,
        own_id: Option<&str>,
        write: Write,
        config: &LeapsomeConfig,
    ) -> Result<(), ScimError> {
        // Leapsome's answer to a self-reference, as the review of the second stage saw it (HR
        // systems record a head of company reporting to themselves).
        if own_id.is_some() && profile.manager.as_deref() == own_id {
            return Err(ScimError::bad_request("invalidValue", "A user cannot manage themselves"));
        }
        let user_name = match profile.attrs.get("userName") {
            None | Some(Value::Null) => {
                return Err(ScimError::bad_request("invalidValue", "The userName field is required."));
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(ScimError::bad_request("invalidValue", "The userName field must be non-empty."));
            }
            Some(Value::String(s)) => s.trim(),
            Some(other) => {
                return Err(ScimError::bad_request("invalidValue", format!("userName must be a string, got {other}")));
            }
        };
        if !config.email_domains.is_empty() {
            let domain = user_name.rsplit_once('@').map(|(local, domain)| (local, domain.to_lowercase()));
            let allowed = domain.as_ref().is_some_and(|(local, domain)| {
                !local.is_empty() && config.email_domains.iter().any(|d| d.to_lowercase() == *domain)
            });
            if !allowed {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    format!("The user email domain must match an existing organization email domain ({user_name})."),
                ));
            }
        }
        if let Some(other) = self.by_user_name(user_name)
            && Some(other.id.as_str()) != own_id
        {
            let detail = match write {
                Write::Create => "Username is already in use",
                Write::Update => "Email address conflict",
            };
            return Err(ScimError::new(409, Some("uniqueness"), detail));
        }
        if !config.strict_rfc {
            let photo = profile.attrs.get("photos").and_then(Value::as_array).and_then(|p| p.first());
            if let Some(photo) = photo {
                let url = photo.get("value").and_then(Value::as_str).unwrap_or("");
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "A photo needs to be a complete and valid url.",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A fresh 24-hex id shaped like the MongoDB ObjectIds Leapsome uses (reference §2.3).
    fn new_id(&mut self) -> String {
        let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        loop {
            self.counter += 1;
            let id = format!("{:08x}{:016x}", seconds as u32, 0x5eed_0000_0000_0000u64 ^ self.counter);
            if !self.users.contains_key(&id) {
                return id;
            }
        }
    }

    /// Inserts a validated profile; `id` is taken when given and free (seeded accounts).
    pub fn insert(&mut self, profile: Profile, id: Option<String>) -> String {
        let id = id.filter(|i| !self.users.contains_key(i)).unwrap_or_else(|| self.new_id());
        let now = model::now();
        let record = UserRecord {
            id: id.clone(),
            created: now.clone(),
            last_modified: now,
            version: 1,
            profile,
            removed: false,
        };
        self.index(&record);
        self.order.push(id.clone());
        self.users.insert(id.clone(), record);
        id
    }

    pub fn update(&mut self, id: &str, profile: Profile) {
        let mut record = self.users.remove(id).expect("update of a known user");
        // Re-indexing only on a change keeps users sharing an externalId in creation order.
        let keys_changed = |a: &UserRecord, b: &Profile| {
            a.profile.attrs.get("userName") != b.attrs.get("userName")
                || a.profile.attrs.get("externalId") != b.attrs.get("externalId")
        };
        let reindex = keys_changed(&record, &profile);
        if reindex {
            self.unindex(&record);
        }
        record.profile = profile;
        record.version += 1;
        record.last_modified = model::now();
        if reindex {
            self.index(&record);
        }
        self.users.insert(id.into(), record);
    }

    /// Marks a user removed. O(n) in the number of users, which only DELETE pays.
    pub fn remove(&mut self, id: &str) {
        let Some(record) = self.users.get(id).cloned() else {
            return;
        };
        self.unindex(&record);
        self.order.retain(|i| i != id);
        let record = self.users.get_mut(id).expect("present above");
        record.removed = true;
        record.version += 1;
        record.last_modified = model::now();
    }

    fn index(&mut self, record: &UserRecord) {
        self.by_user_name.insert(record.user_name().to_lowercase(), record.id.clone());
        if let Some(external_id) = record.external_id() {
            self.by_external_id.entry(external_id.to_owned()).or_default().push(record.id.clone());
        }
    }

    fn unindex(&mut self, record: &UserRecord) {
        let key = record.user_name().to_lowercase();
        if self.by_user_name.get(&key) == Some(&record.id) {
            self.by_user_name.remove(&key);
        }
        if let Some(external_id) = record.external_id()
            && let Some(ids) = self.by_external_id.get_mut(external_id)
        {
            ids.retain(|i| i != &record.id);
            if ids.is_empty() {
                self.by_external_id.remove(external_id);
            }
        }
    }

    /// Everything stored for a user, for tests: the raw attributes and resolved manager ids.
    pub fn stored_json(&self, id: &str) -> Option<Value> {
        let record = self.any(id)?;
        Some(json!({
            "id": record.id,
            "removed": record.removed,
            "created": record.created,
            "lastModified": record.last_modified,
            "version": record.version,
            "attributes": Value::Object(record.profile.attrs.clone()),
            "managerId": record.profile.manager,
            "additionalManagerIds": record.profile.additional_managers,
        }))
    }
}
