//! What the component keeps in tenant storage between calls (each call is a fresh instance).
//!
//! | key | value | written by |
//! |---|---|---|
//! | `connection` | endpoints and tokens (never leave the component) | `connect` |
//! | `settings` | provisioning, deprovisioning, dialect, deprovision limit | `configure` |
//! | `company` | cached company name (idempotent) | any call |
//! | `link/<person id>` | the account we manage for that person and what we last wrote (`null`: none) | that person's processing |
//! | `links/<n>` | links folded together, 256 chunks by a hash of the person id | `sync-all` (compaction) |
//! | `sched/<person id>` | when to look again, backoff, quarantine, held, pending manager | that person's processing |
//! | `brake/r/<minute>`, `brake/x/<minute>` | deprovisions reserved and released in that minute (counters, `reconcile/brake.rs`) | any call that deprovisions |
//! | `brake/engaged` | the brake holds every deprovision until approval (since when) | any call that holds; approval and runs that find no one held clear it |
//! | `auth` | consecutive refusals of the token; the `unauthorized` state | any call |
//! | `scim-caps` | what the SCIM service was found not to support (DELETE) | any call |
//! | `log/seq`, `log/e/<n>` | the integration log (`logs.rs`) | any call |
//!
//! Calls may overlap (two processes, cron during a webhook, several hosts on one store). Every
//! write about one person goes to that person's own keys, so two calls that overlap only contend
//! when they work on the same person, and then both re-read Humaans and converge. The one value
//! shared by many people, a links chunk, is rewritten only by `sync-all`'s compaction, which
//! deletes a person's key only when both it and the chunk still hold what it folded (see
//! [`compact_links`]).
//! Schedule records are merged field by field on save (see [`Schedule::save`]), so a call that
//! changed only `wake_at` never undoes another call's new backoff. The tenant-wide values are
//! either written by one operator command (`connection`, `settings`) or idempotent.
//!
//! A stored value that cannot be decoded is a storage error, never "absent": settings that read as
//! "provisioning off" or links that read as "no account" would silently change what is done.

use jiff::Timestamp;

use serde::{Deserialize, Serialize, de, de::DeserializeOwned};

use crate::error::AppError;
use crate::error::Failure;
use crate::ids::IdMap;
use crate::ports::KeyValue;
use crate::reconcile::retry::PersonState;
use crate::reconcile::teams::TeamRecord;
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

fn decode_chunk<'a>(key: &str, bytes: &'a [u8]) -> Result<RawChunk<'a>, AppError> {
    crate::json::from_bytes(bytes).map_err(|e| AppError::Storage(format!("the stored `{key}` is unreadable: {e}")))
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, AppError> {
    crate::json::from_bytes(bytes).map_err(|e| AppError::Storage(format!("the stored `{key}` is unreadable: {e}")))
}

pub fn put<T: Serialize>(kv: &mut dyn KeyValue, key: &str, value: &T) -> Result<(), AppError> {
    kv.set(key, &serde_json::to_vec(value).expect("state serialises")).map_err(storage)
}

/// Links live in `LINK_CHUNKS` chunk values (`links/<n>`: a JSON object, person id -> link),
/// so a sync reads a few hundred values instead of one per person. Every write of one person's
/// link goes to that person's own key `link/<id>` (the layout before chunks), which overrides the
/// chunk (`null`: no link), so calls about different people never write one value; `sync-all`
/// folds those keys into the chunks at its end ([`compact_links`]). A tenant stored before chunks
/// has only `link/<id>` keys: they are read as they are and folded in by its first sync-all.
pub const LINK_CHUNKS: u64 = 256;
const LINK_PREFIX: &str = "link/";
const CHUNK_PREFIX: &str = "links/";

pub fn link_key(person_id: &str) -> String {
    format!("{LINK_PREFIX}{person_id}")
}

/// FNV-1a of a text: stable across versions and platforms, for keys derived from ids and names.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The chunk holding a person's link: FNV-1a of the id.
pub fn chunk_of(person_id: &str) -> u64 {
    fnv1a(person_id) % LINK_CHUNKS
}

const TEAM_PREFIX: &str = "team/";

/// The key of a team's record (`team/<FNV-1a of the name>`): names are free text, keys are not.
pub fn team_key(name: &str) -> String {
    format!("{TEAM_PREFIX}{:016x}", fnv1a(name))
}

/// Every team record. One that does not read (or is not under its name's key) is left out: the
/// team's group is found again by name and its membership rewritten.
pub fn load_teams(kv: &mut dyn KeyValue) -> Result<Vec<TeamRecord>, AppError> {
    let keys: Vec<String> =
        kv.list_keys().map_err(storage)?.into_iter().filter(|k| k.starts_with(TEAM_PREFIX)).collect();
    let mut records = Vec::with_capacity(keys.len());
    for batch in keys.chunks(100) {
        for (key, value) in batch.iter().zip(kv.get_many(batch).map_err(storage)?) {
            if let Some(record) = value.and_then(|bytes| decode::<TeamRecord>(key, &bytes).ok())
                && team_key(&record.name) == *key
            {
                records.push(record);
            }
        }
    }
    Ok(records)
}

pub fn save_team(kv: &mut dyn KeyValue, record: &TeamRecord) -> Result<(), AppError> {
    put(kv, &team_key(&record.name), record)
}

fn chunk_key(chunk: u64) -> String {
    format!("{CHUNK_PREFIX}{chunk}")
}

/// A chunk's entries, each left as JSON text (decoded one person at a time).
type RawChunk<'a> = IdMap<String, &'a serde_json::value::RawValue>;

/// Every entry of a chunk, read in one pass, if every one reads (as it does unless the stored
/// state was damaged): no entry is kept as JSON text and read again.
fn read_whole_chunk(bytes: &[u8]) -> Option<Vec<(String, Option<Link>)>> {
    struct Entries;
    impl<'de> de::Visitor<'de> for Entries {
        type Value = Vec<(String, Option<Link>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("links by person id")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    let mut de = serde_json::Deserializer::from_str(crate::json::strict(bytes).ok()?);
    let entries = de::Deserializer::deserialize_map(&mut de, Entries).ok()?;
    de.end().ok()?;
    Some(entries)
}

fn decode_link(key: &str, bytes: &[u8]) -> Result<Option<Link>, AppError> {
    decode(key, bytes)
}

pub fn load_link(kv: &mut dyn KeyValue, person_id: &str) -> Result<Option<Link>, AppError> {
    let key = link_key(person_id);
    if let Some(bytes) = kv.get(&key).map_err(storage)? {
        return decode_link(&key, &bytes);
    }
    let key = chunk_key(chunk_of(person_id));
    let Some(bytes) = kv.get(&key).map_err(storage)? else { return Ok(None) };
    let chunk = decode_chunk(&key, &bytes)?;
    chunk.get(person_id).map(|raw| decode::<Link>(&key, raw.get().as_bytes())).transpose()
}

/// A person's stored link, or why it could not be read.
pub type LoadedLink = Result<Option<Link>, AppError>;

/// Every stored link of the tenant (a whole-tenant call), from the keys `list-keys` gave.
#[derive(Debug, Default)]
pub struct Links {
    links: IdMap<String, LoadedLink>,
    /// Chunks that could not be decoded: their people's links are unknown, never "none".
    unreadable: IdMap<u64, String>,
}

impl Links {
    pub fn load(kv: &mut dyn KeyValue, keys: &[String]) -> Result<Links, AppError> {
        let mut all = Links::default();
        let chunks: Vec<String> = keys.iter().filter(|k| k.starts_with(CHUNK_PREFIX)).cloned().collect();
        // A few at a time: the chunks of 100,000 people's links are 40 MB of JSON.
        for batch in chunks.chunks(CHUNKS_AT_ONCE) {
            for (key, value) in batch.iter().zip(kv.get_many(batch).map_err(storage)?) {
                let Some(bytes) = value else { continue };
                if let Some(entries) = read_whole_chunk(&bytes) {
                    all.links.extend(entries.into_iter().map(|(id, link)| (id, Ok(link))));
                    continue;
                }
                // Something in it does not read: entry by entry, so that only the unreadable
                // links (or, if it is not a JSON object, the chunk's people) are unknown.
                match decode_chunk(key, &bytes) {
                    Ok(chunk) => {
                        for (id, raw) in chunk {
                            all.links.insert(id, decode(key, raw.get().as_bytes()));
                        }
                    }
                    Err(e) => {
                        if let Some(n) = key.strip_prefix(CHUNK_PREFIX).and_then(|n| n.parse().ok()) {
                            all.unreadable.insert(n, e.to_string());
                        }
                    }
                }
            }
        }
        let own: Vec<String> = keys.iter().filter(|k| k.starts_with(LINK_PREFIX)).cloned().collect();
        for batch in own.chunks(1024) {
            for (key, value) in batch.iter().zip(kv.get_many(batch).map_err(storage)?) {
                let Some(bytes) = value else { continue };
                let id = key[LINK_PREFIX.len()..].to_owned();
                all.links.insert(id, decode_link(key, &bytes));
            }
        }
        Ok(all)
    }

    /// A person's link as read, or why it could not be read.
    pub fn status(&self, person_id: &str) -> Result<Option<&Link>, AppError> {
        match self.links.get(person_id) {
            Some(Ok(link)) => Ok(link.as_ref()),
            Some(Err(e)) => Err(e.clone()),
            None => match self.unreadable.get(&chunk_of(person_id)) {
                Some(e) => Err(AppError::Storage(e.clone())),
                None => Ok(None),
            },
        }
    }

    /// A person's link, if one was read.
    pub fn get(&self, person_id: &str) -> Option<&Link> {
        self.links.get(person_id).and_then(|l| l.as_ref().ok()).and_then(Option::as_ref)
    }

    pub fn contains_key(&self, person_id: &str) -> bool {
        self.get(person_id).is_some()
    }

    /// Takes a person's link out, if one was read; what could not be read is forgotten too. The
    /// entry stays, as "no link" (a whole organisation's links are taken out and some put back:
    /// removing and inserting entries would leave a table growing over its own tombstones).
    pub fn remove(&mut self, person_id: &str) -> Option<Link> {
        let entry = self.links.get_mut(person_id)?;
        std::mem::replace(entry, Ok(None)).ok().flatten()
    }

    /// Puts back a link taken out with [`Links::remove`].
    pub fn restore(&mut self, person_id: String, link: Option<Link>) {
        let Some(link) = link else { return };
        match self.links.get_mut(&person_id) {
            Some(entry) => *entry = Ok(Some(link)),
            None => {
                self.links.insert(person_id, Ok(Some(link)));
            }
        }
    }

    /// Accounts linked (for the deprovision limit).
    pub fn count(&self) -> usize {
        self.links.values().filter(|l| matches!(l, Ok(Some(_)))).count()
    }
}

/// Link chunks read (and rewritten) per storage call: at 100,000 people a chunk is 150 KB of
/// JSON, and held with its parsed entries and its new text, 16 at once took 8 MB at the peak.
const CHUNKS_AT_ONCE: usize = 4;

pub fn save_link(kv: &mut dyn KeyValue, person_id: &str, link: Option<&Link>) -> Result<(), AppError> {
    // `null` overrides the person's entry in a chunk.
    put(kv, &link_key(person_id), &link)
}

/// Folds the per-person link keys into the chunks and deletes them (end of `sync-all`). A key
/// is deleted only if, read again after the chunk was written, it still holds what was folded
/// in and the chunk still holds what this call wrote: a link saved meanwhile by an overlapping
/// call stays in its key (and overrides the chunk) until the next compaction. A chunk that cannot
/// be decoded is left alone with its keys.
pub fn compact_links(kv: &mut dyn KeyValue) -> Result<(), AppError> {
    let own: Vec<String> =
        kv.list_keys().map_err(storage)?.into_iter().filter(|k| k.starts_with(LINK_PREFIX)).collect();
    let mut by_chunk: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for key in own {
        by_chunk.entry(chunk_of(&key[LINK_PREFIX.len()..])).or_default().push(key);
    }
    let groups: Vec<(u64, Vec<String>)> = by_chunk.into_iter().collect();
    // A few chunks at a time bounds the memory (each is read, parsed and written whole).
    for group in groups.chunks(CHUNKS_AT_ONCE) {
        let chunk_keys: Vec<String> = group.iter().map(|(n, _)| chunk_key(*n)).collect();
        let chunks = kv.get_many(&chunk_keys).map_err(storage)?;
        let mut written = Vec::new();
        let mut folded: Vec<(String, Vec<u8>)> = Vec::new();
        for ((chunk_key, (_, keys)), chunk) in chunk_keys.iter().zip(group).zip(chunks) {
            let mut entries: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> = match chunk {
                None => Default::default(),
                Some(bytes) => match crate::json::from_bytes(&bytes) {
                    Ok(entries) => entries,
                    Err(_) => continue,
                },
            };
            let values = kv.get_many(keys).map_err(storage)?;
            let mut folded_here = Vec::new();
            for (key, value) in keys.iter().zip(values) {
                let Some(bytes) = value else { continue };
                let id = key[LINK_PREFIX.len()..].to_owned();
                match crate::json::from_bytes::<Option<Box<serde_json::value::RawValue>>>(&bytes) {
                    // A link that does not decode stays in its key (reported there as unreadable).
                    Ok(Some(raw)) if serde_json::from_str::<Link>(raw.get()).is_ok() => {
                        entries.insert(id, raw);
                    }
                    Ok(None) => {
                        entries.remove(&id);
                    }
                    _ => continue,
                }
                folded_here.push((key.clone(), bytes));
            }
            let bytes = serde_json::to_vec(&entries).expect("links serialise");
            written.push((chunk_key.clone(), bytes));
            folded.extend(folded_here);
        }
        let (empty, full): (Vec<_>, Vec<_>) = written.into_iter().partition(|(_, b)| b.as_slice() == b"{}");
        if !full.is_empty() {
            kv.set_many(&full).map_err(storage)?;
        }
        let empty: Vec<String> = empty.into_iter().map(|(k, _)| k).collect();
        if !empty.is_empty() {
            kv.delete_many(&empty).map_err(storage)?;
        }
        // What is still as this call left it may go.
        let mut settled: IdMap<u64, bool> = IdMap::default();
        let check: Vec<String> = full.iter().map(|(k, _)| k.clone()).chain(empty.iter().cloned()).collect();
        for ((key, now), expected) in check
            .iter()
            .zip(kv.get_many(&check).map_err(storage)?)
            .zip(full.iter().map(|(_, b)| Some(b.clone())).chain(empty.iter().map(|_| None)))
        {
            let n: u64 = key[CHUNK_PREFIX.len()..].parse().expect("a chunk key");
            settled.insert(n, now == expected);
        }
        let keys: Vec<String> = folded.iter().map(|(k, _)| k.clone()).collect();
        let mut delete = Vec::new();
        for ((key, before), now) in keys.iter().zip(&folded).zip(kv.get_many(&keys).map_err(storage)?) {
            let settled = settled.get(&chunk_of(&key[LINK_PREFIX.len()..])).copied().unwrap_or(false);
            if settled && now.as_deref() == Some(before.1.as_slice()) {
                delete.push(key.clone());
            }
        }
        if !delete.is_empty() {
            kv.delete_many(&delete).map_err(storage)?;
        }
    }
    Ok(())
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
    pub fn record(kv: &mut dyn KeyValue, refused: Option<&Failure>, now: Timestamp) -> Result<Option<bool>, AppError> {
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
    entries: IdMap<String, (PersonState, PersonState)>,
    /// Records that could not be decoded: (person id, error). The caller logs them; they are
    /// replaced by a fresh record that is due at once, so the person is looked at again.
    pub unreadable: Vec<(String, String)>,
    /// The link keys (chunks and per-person keys) [`Schedule::load_all`] listed, for [`Links::load`].
    pub link_keys: Vec<String>,
}

impl Schedule {
    /// Loads every person's record (ticks and syncs look at everyone).
    pub fn load_all(kv: &mut dyn KeyValue) -> Result<Self, AppError> {
        let keys = kv.list_keys().map_err(storage)?;
        let ids: Vec<String> = keys.iter().filter_map(|k| k.strip_prefix(SCHED_PREFIX).map(str::to_owned)).collect();
        let mut schedule = Self::load_people(kv, &ids)?;
        schedule.link_keys =
            keys.into_iter().filter(|k| k.starts_with(LINK_PREFIX) || k.starts_with(CHUNK_PREFIX)).collect();
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
}

/// A person's record as [`Schedule::people`] lists it.
pub type Entry<'a> = (&'a String, &'a PersonState);

/// Sorts records in `order`, stably. Every sort of records goes through here with a plain
/// function pointer, so the library's stable sort is instantiated once for all of them: each
/// instantiation (one per element and comparator type) weighs kilobytes of component.
pub fn sort_people(people: &mut [Entry<'_>], order: fn(&Entry<'_>, &Entry<'_>) -> std::cmp::Ordering) {
    people.sort_by(order);
}

/// By person id.
pub fn by_id(a: &Entry<'_>, b: &Entry<'_>) -> std::cmp::Ordering {
    a.0.cmp(b.0)
}

/// Held longest first (by `held_since`), then by person id.
pub fn by_held_since(a: &Entry<'_>, b: &Entry<'_>) -> std::cmp::Ordering {
    a.1.held_since.cmp(&b.1.held_since).then_with(|| a.0.cmp(b.0))
}

impl Schedule {
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
        let changed: Vec<&String> =
            self.entries.iter().filter(|(_, (loaded, current))| loaded != current).map(|(id, _)| id).collect();
        // A batch at a time: a sync can change tens of thousands of records, and their keys,
        // stored values and new values all at once took megabytes at its peak.
        for batch in changed.chunks(SAVE_BATCH) {
            let keys: Vec<String> = batch.iter().map(|id| sched_key(id)).collect();
            let stored = kv.get_many(&keys).map_err(storage)?;
            let mut writes = Vec::new();
            let mut deletes = Vec::new();
            for ((id, key), stored) in batch.iter().zip(keys).zip(stored) {
                let (loaded, current) = &self.entries[*id];
                let stored: PersonState = stored.and_then(|b| crate::json::from_bytes(&b).ok()).unwrap_or_default();
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
        }
        for (loaded, current) in self.entries.values_mut() {
            if loaded != current {
                *loaded = current.clone();
            }
        }
        Ok(())
    }
}

/// Schedule records written per storage batch.
const SAVE_BATCH: usize = 1024;

/// `stored` with every field that differs between `loaded` and `current` taken from `current`.
fn merge(loaded: &PersonState, current: &PersonState, mut stored: PersonState) -> PersonState {
    macro_rules! take_changed {
        ($($field:ident),*) => {$(
            if loaded.$field != current.$field {
                stored.$field = current.$field.clone();
            }
        )*};
    }
    take_changed!(wake_at, manager_pending, failures, quarantine, held_since, held, noted);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{BatchHook, MemoryKeyValue};

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
        let keys = kv.list_keys().unwrap();
        let links = Links::load(&mut kv, &keys).unwrap();
        assert!(matches!(links.status("p1"), Err(AppError::Storage(_))));
        assert!(matches!(links.status("p2"), Ok(None)));
        // A chunk that does not decode: its people's links are unknown, never "none".
        kv.set(&chunk_key(chunk_of("p3")), b"{not json").unwrap();
        assert!(matches!(load_link(&mut kv, "p3"), Err(AppError::Storage(_))));
        let keys = kv.list_keys().unwrap();
        let links = Links::load(&mut kv, &keys).unwrap();
        assert!(matches!(links.status("p3"), Err(AppError::Storage(_))));
        // ... and compaction leaves it and its people's keys alone.
        save_link(&mut kv, "p3", Some(&link("s3"))).unwrap();
        compact_links(&mut kv).unwrap();
        assert_eq!(kv.data[&chunk_key(chunk_of("p3"))], b"{not json");
        assert_eq!(load_link(&mut kv, "p3").unwrap(), Some(link("s3")));
    }

    #[test]
    fn a_damaged_entry_of_a_chunk_leaves_its_other_links_readable() {
        // Three people whose links share a chunk.
        let chunk = chunk_of("p0");
        let ids: Vec<String> = (1..).map(|n| format!("p{n}")).filter(|id| chunk_of(id) == chunk).take(3).collect();
        let good = String::from_utf8(serde_json::to_vec(&link("s1")).unwrap()).unwrap();
        let mut kv = MemoryKeyValue::default();
        let whole = format!(r#"{{"{}":{good},"{}":null}}"#, ids[0], ids[1]);
        kv.set(&chunk_key(chunk), whole.as_bytes()).unwrap();
        let keys = kv.list_keys().unwrap();
        let links = Links::load(&mut kv, &keys).unwrap();
        assert_eq!(links.status(&ids[0]).unwrap(), Some(&link("s1")));
        assert!(matches!(links.status(&ids[1]), Ok(None)));
        assert!(matches!(links.status(&ids[2]), Ok(None)));
        let damaged = format!(r#"{{"{}":{good},"{}":null,"{}":{{"scim_id":7}}}}"#, ids[0], ids[1], ids[2]);
        kv.set(&chunk_key(chunk), damaged.as_bytes()).unwrap();
        let links = Links::load(&mut kv, &keys).unwrap();
        assert_eq!(links.status(&ids[0]).unwrap(), Some(&link("s1")));
        assert!(matches!(links.status(&ids[1]), Ok(None)));
        assert!(matches!(links.status(&ids[2]), Err(AppError::Storage(_))));
    }

    fn link(scim_id: &str) -> Link {
        let written = [(crate::reconcile::Attr::UserName, format!("{scim_id}@acme.test"))].into_iter().collect();
        Link { scim_id: scim_id.into(), written, active: true, manager: Some("m".into()), manager_account: None }
    }

    /// A tenant stored before chunks (one `link/<id>` key per person, as the old version wrote
    /// them) keeps every link: read as they are, then folded into chunks by a sync's compaction.
    #[test]
    fn links_of_the_per_person_layout_are_migrated_into_chunks_without_loss() {
        let mut kv = MemoryKeyValue::default();
        let ids: Vec<String> = (0..1000).map(|i| format!("person{i:04}")).collect();
        for id in &ids {
            // Byte for byte what the previous version stored (`put(link/<id>, &Link)`).
            kv.set(&link_key(id), &serde_json::to_vec(&link(&format!("s-{id}"))).unwrap()).unwrap();
        }
        assert_eq!(load_link(&mut kv, "person0007").unwrap(), Some(link("s-person0007")));
        let keys = kv.list_keys().unwrap();
        let before = Links::load(&mut kv, &keys).unwrap();
        assert_eq!(before.count(), 1000);

        compact_links(&mut kv).unwrap();
        assert!(kv.data.keys().all(|k| k.starts_with(CHUNK_PREFIX)), "every per-person key folded in");
        assert!(kv.data.len() <= LINK_CHUNKS as usize);
        let keys = kv.list_keys().unwrap();
        let after = Links::load(&mut kv, &keys).unwrap();
        assert_eq!(after.count(), 1000);
        for id in &ids {
            let expected = Some(link(&format!("s-{id}")));
            assert_eq!(after.status(id).unwrap().cloned(), expected);
            assert_eq!(before.status(id).unwrap().cloned(), expected);
            assert_eq!(load_link(&mut kv, id).unwrap(), expected, "one person's read (events)");
        }

        // Later writes override the chunk, and a removed link stays removed after compaction.
        save_link(&mut kv, "person0001", None).unwrap();
        save_link(&mut kv, "person0002", Some(&link("new"))).unwrap();
        assert_eq!(load_link(&mut kv, "person0001").unwrap(), None);
        assert_eq!(load_link(&mut kv, "person0002").unwrap(), Some(link("new")));
        compact_links(&mut kv).unwrap();
        assert!(!kv.data.contains_key("link/person0001") && !kv.data.contains_key("link/person0002"));
        assert_eq!(load_link(&mut kv, "person0001").unwrap(), None);
        assert_eq!(load_link(&mut kv, "person0002").unwrap(), Some(link("new")));
        let keys = kv.list_keys().unwrap();
        assert_eq!(Links::load(&mut kv, &keys).unwrap().count(), 999);
    }

    /// Overlapping calls: a link saved by another call after compaction read it is not deleted.
    #[test]
    fn compaction_keeps_a_link_changed_meanwhile() {
        let mut kv = MemoryKeyValue::default();
        save_link(&mut kv, "p1", Some(&link("a"))).unwrap();
        compact_links(&mut kv).unwrap();
        save_link(&mut kv, "p1", Some(&link("b"))).unwrap();
        // Another call rewrote the chunk without p1's new link: the key must survive.
        let chunk = chunk_key(chunk_of("p1"));
        let stale = kv.data[&chunk].clone();
        let on_set_many = |inner: &mut MemoryKeyValue, entries: &[(String, Vec<u8>)]| {
            entries.iter().try_for_each(|(k, v)| inner.set(k, v))?;
            // ... and just after, the overlapping call's stale chunk lands.
            inner.set(&chunk, &stale)
        };
        compact_links(&mut BatchHook { inner: &mut kv, on_set_many }).unwrap();
        assert_eq!(load_link(&mut kv, "p1").unwrap(), Some(link("b")));
        compact_links(&mut kv).unwrap();
        assert_eq!(load_link(&mut kv, "p1").unwrap(), Some(link("b")));
        assert!(!kv.data.contains_key("link/p1"));
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
