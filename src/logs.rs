//! The integration log: every provisioning attempt, kept in tenant key/value storage so HR admins
//! can read it back (`read-logs`).
//!
//! # Storage layout
//!
//! - `log/seq`: a counter (`wasi:keyvalue/atomics`) holding the last sequence number handed out.
//!   A flush of `n` entries reserves `n` numbers with one `increment(n)`, so calls that overlap
//!   (two processes, cron during a webhook) never share a sequence number and never overwrite
//!   each other's entries. Sequence numbers start at 1.
//! - `log/e/<sequence>`: one entry each, written with one `set-many` per flush. Entries use
//!   one-letter field names because a tenant keeps thousands of them.
//!
//! Why not one value holding many entries (the first design: chunks of 64 plus a meta record)?
//! Two overlapping calls both read the chunk, append and write it back, and one call's entries
//! are lost. With reserved numbers and one key per entry no value is ever written by two calls.
//! The draft `wasi:keyvalue` this contract imports has `increment` but no compare-and-swap; CAS
//! arrives in a later draft that other hosts may not implement yet, and increment suffices here.
//!
//! A reserved number whose entry was never written (a call killed between the two steps) is a gap:
//! readers skip it. Retention: the flush that writes sequence `s` deletes `s - retention`, so the
//! log holds the newest `retention` sequence numbers.

use serde::{Deserialize, Serialize};

use crate::ports::KeyValue;

/// Entries kept by default.
pub const DEFAULT_RETENTION: u32 = 5000;
/// The retention `configure` accepts: enough for a day of a small tenant, and at most what one
/// `sync-all`'s flushes and a paging reader handle comfortably (about 30 MB of storage).
pub const MIN_RETENTION: u32 = 100;
pub const MAX_RETENTION: u32 = 100_000;
/// Longest run id and trigger kept (longer ones from a host are cut or replaced).
pub const MAX_RUN_ID_CHARS: usize = 64;
pub const MAX_TRIGGER_BYTES: usize = 200;
/// Entries one [`read_page`] call reads at most, so a page costs a bounded number of storage reads
/// (in batches of [`READ_BATCH`]) whatever the log size and however rarely the filter matches.
pub const MAX_SCAN_PER_PAGE: u64 = 2048;
/// Entries fetched per `get-many` while paging.
const READ_BATCH: u64 = 128;
/// Page size when the query asks for 0.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest page size; larger requests are capped.
pub const MAX_PAGE_LIMIT: u32 = 500;
/// Messages longer than this (in bytes) are cut: a remote service's error body can be large.
pub const MAX_MESSAGE_BYTES: usize = 2000;

const SEQUENCE_KEY: &str = "log/seq";
/// Buffered entries that make a call flush before it ends.
pub const FLUSH_EVERY: usize = 256;

fn entry_key(sequence: u64) -> String {
    format!("log/e/{sequence}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogAction {
    Connect,
    Configure,
    Provision,
    Adopt,
    Update,
    Suspend,
    Delete,
    Reactivate,
    LinkManager,
    ManagerPending,
    Skip,
    Event,
    Sync,
    Tick,
    Hold,
    Quarantine,
    Retry,
    ConnectionState,
    TeamCreate,
    TeamAdopt,
    TeamAdd,
    TeamRemove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogOutcome {
    Success,
    Failure,
    Skipped,
    Pending,
}

/// One stored log entry (WIT `log-entry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Increasing per tenant; the paging cursor.
    #[serde(rename = "s")]
    pub sequence: u64,
    /// RFC 3339 time of the attempt.
    #[serde(rename = "t")]
    pub at: String,
    #[serde(rename = "a")]
    pub action: LogAction,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "o")]
    pub outcome: LogOutcome,
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(rename = "m")]
    pub message: String,
    /// The run the entry belongs to; empty for entries written before runs were recorded.
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    /// What started the run (`webhook:<id>`, `schedule`, `cli`, `admin`), as the host said.
    #[serde(rename = "g", default, skip_serializing_if = "String::is_empty")]
    pub trigger: String,
}

/// The run a call's entries belong to: one per sync, tick, event or operator command, named by
/// the host (a run may span several calls) or, when the host does not say, made for the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub trigger: String,
}

impl Run {
    /// The host's id and trigger, checked: an id that is missing, too long or not made of
    /// letters, digits, `-` and `_` is replaced by one made here from the time and the
    /// process's random seed (ids appear in CSV files and URLs, so they are kept plain); a
    /// trigger is cut at [`MAX_TRIGGER_BYTES`] and has its control characters replaced.
    pub fn from_host(id: Option<String>, trigger: Option<String>, now: jiff::Timestamp) -> Run {
        let plain = |id: &String| {
            !id.is_empty()
                && id.len() <= MAX_RUN_ID_CHARS
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let id = match id {
            Some(id) if plain(&id) => id,
            _ => {
                use std::hash::BuildHasher;
                let salt = crate::ids::IdHash::default().hash_one(now.as_nanosecond());
                format!("c-{:x}-{:08x}", now.as_second(), salt as u32)
            }
        };
        let mut trigger: String =
            trigger.unwrap_or_default().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if trigger.len() > MAX_TRIGGER_BYTES {
            let mut end = MAX_TRIGGER_BYTES;
            while !trigger.is_char_boundary(end) {
                end -= 1;
            }
            trigger.truncate(end);
        }
        Run { id, trigger }
    }
}

/// An entry before the store gives it a sequence number.
///
/// ```
/// use humaans_leapsome::logs::{LogAction, LogDraft, LogOutcome};
///
/// let draft = LogDraft::new("2026-11-28T09:00:00Z", LogAction::Provision, LogOutcome::Failure, "refused")
///     .person("per_123", "ada@example.com")
///     .status(409);
/// assert_eq!(draft.http_status, Some(409));
/// assert_eq!(draft.email.as_deref(), Some("ada@example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDraft {
    pub at: String,
    pub action: LogAction,
    pub person_id: Option<String>,
    pub email: Option<String>,
    pub outcome: LogOutcome,
    pub http_status: Option<u16>,
    pub message: String,
}

impl LogDraft {
    pub fn new(at: impl Into<String>, action: LogAction, outcome: LogOutcome, message: impl Into<String>) -> Self {
        LogDraft {
            at: at.into(),
            action,
            person_id: None,
            email: None,
            outcome,
            http_status: None,
            message: message.into(),
        }
    }

    /// The person the entry is about, with their work email.
    pub fn person(self, person_id: impl Into<String>, email: impl Into<String>) -> Self {
        self.person_id(person_id).email(email)
    }

    /// The person, when their email is not known (e.g. the Humaans lookup failed).
    pub fn person_id(mut self, person_id: impl Into<String>) -> Self {
        self.person_id = Some(person_id.into());
        self
    }

    /// The account's email, when there is no Humaans person (e.g. an unmatched SCIM user).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The HTTP status the remote service answered with.
    pub fn status(mut self, http_status: u16) -> Self {
        self.http_status = Some(http_status);
        self
    }

    fn into_entry(self, sequence: u64, run: &Run) -> LogEntry {
        LogEntry {
            sequence,
            at: self.at,
            action: self.action,
            person_id: self.person_id,
            email: self.email,
            outcome: self.outcome,
            http_status: self.http_status,
            message: truncate_message(self.message),
            run_id: run.id.clone(),
            trigger: run.trigger.clone(),
        }
    }
}

fn truncate_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// A `read-logs` request (WIT `log-query`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Only entries whose outcome is [`LogOutcome::Failure`].
    pub failures_only: bool,
    /// Only entries about this person.
    pub person_id: Option<String>,
    /// Page size; 0 means [`DEFAULT_PAGE_LIMIT`], larger than [`MAX_PAGE_LIMIT`] is capped.
    pub limit: u32,
    /// Only entries with a sequence number below this one.
    pub before: Option<u64>,
}

impl LogQuery {
    fn effective_limit(&self) -> usize {
        match self.limit {
            0 => DEFAULT_PAGE_LIMIT as usize,
            n => n.min(MAX_PAGE_LIMIT) as usize,
        }
    }

    fn matches(&self, entry: &LogEntry) -> bool {
        (!self.failures_only || entry.outcome == LogOutcome::Failure)
            && self.person_id.as_deref().is_none_or(|id| entry.person_id.as_deref() == Some(id))
    }
}

/// One page of the log (WIT `log-page`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    /// Newest first.
    pub entries: Vec<LogEntry>,
    /// Pass as `before` to continue with older entries; `None` only when nothing older is left.
    pub next_before: Option<u64>,
}

/// Buffers appended entries and writes them at [`LogStore::flush`].
///
/// The store never flushes by itself: the caller flushes after each batch of work and at the end
/// of a call, so N appends cost one `increment`, one `set-many` and one `delete-many`.
#[derive(Debug)]
pub struct LogStore {
    pending: Vec<LogDraft>,
    retention: u64,
    run: Run,
}

impl LogStore {
    /// Opens the log. Reads nothing: sequence numbers are reserved at flush time.
    pub fn load<K: KeyValue + ?Sized>(_kv: &mut K) -> Result<LogStore, String> {
        Ok(LogStore { pending: Vec::new(), retention: u64::from(DEFAULT_RETENTION), run: Run::default() })
    }

    /// Stamps every entry this store writes with `run`.
    pub fn for_run(mut self, run: &Run) -> LogStore {
        self.run = run.clone();
        self
    }

    /// Keeps the newest `max_entries` sequence numbers (at least 1); older entries are deleted by
    /// later flushes.
    pub fn with_retention(mut self, max_entries: u32) -> LogStore {
        self.retention = u64::from(max_entries.max(1));
        self
    }

    /// Buffers the draft until [`LogStore::flush`] gives it its sequence number.
    pub fn append(&mut self, draft: LogDraft) {
        self.pending.push(draft);
    }

    /// Whether so many entries wait that the caller should flush now: bounds the memory a long
    /// sync holds, and what a call killed by the host loses.
    pub fn wants_flush(&self) -> bool {
        self.pending.len() >= FLUSH_EVERY
    }

    /// Whether appended entries are waiting for a flush.
    pub fn has_unflushed(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reserves sequence numbers for the buffered entries, writes them, and deletes the entries
    /// that fell out of retention. Nothing to write costs nothing. On error the buffered entries
    /// are kept and a later flush retries (with new numbers: the old ones become a gap).
    pub fn flush<K: KeyValue + ?Sized>(&mut self, kv: &mut K) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let count = self.pending.len() as u64;
        let last = kv.increment(SEQUENCE_KEY, count)?;
        let first = last + 1 - count;
        // A batch larger than the retention keeps only its newest entries: the older ones would
        // be deleted straight after being written, so they are not written at all.
        let kept_from = first.max((last + 1).saturating_sub(self.retention));
        let skip = (kept_from - first) as usize;
        let mut entries = Vec::with_capacity(self.pending.len() - skip);
        for (sequence, draft) in (kept_from..=last).zip(self.pending.iter().skip(skip)) {
            let entry = draft.clone().into_entry(sequence, &self.run);
            let bytes = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
            entries.push((entry_key(sequence), bytes));
        }
        kv.set_many(&entries)?;
        self.pending.clear();
        // Earlier entries that this batch pushes out of retention.
        let expired: Vec<String> = ((first.saturating_sub(self.retention)).max(1)
            ..=(last.saturating_sub(self.retention)).min(first - 1))
            .map(entry_key)
            .collect();
        if !expired.is_empty() {
            kv.delete_many(&expired)?;
        }
        Ok(())
    }
}

/// Reads one page of the log, newest first, below `query.before` (or from the newest entry),
/// keeping entries that match the filters.
///
/// A page reads at most [`MAX_SCAN_PER_PAGE`] entries whatever the log size: if the scan budget
/// runs out before the page is full, the page returns what was found with `next_before` set to
/// where scanning stopped. So a filtered page may hold fewer than `limit` entries (even none)
/// while `next_before` is `Some`: keep following `next_before` until it is `None`, which happens
/// only when no older entry is left. Gaps and unreadable entries are skipped.
/// `retention` is the tenant's (entries below it are deleted, or being deleted).
pub fn read_page<K: KeyValue + ?Sized>(kv: &mut K, query: &LogQuery, retention: u32) -> Result<LogPage, String> {
    let newest = kv.increment(SEQUENCE_KEY, 0)?;
    let limit = query.effective_limit();
    // Everything at or below `newest - retention` has been (or is being) deleted.
    let oldest = newest.saturating_sub(u64::from(retention.max(1))) + 1;
    let below = query.before.unwrap_or(u64::MAX).min(newest + 1);
    let mut page = LogPage::default();
    let mut next = below; // scan sequences below this one
    let mut scanned = 0;
    while next > oldest {
        if scanned >= MAX_SCAN_PER_PAGE {
            page.next_before = Some(next);
            return Ok(page);
        }
        let batch_end = next; // exclusive
        let batch_start = next.saturating_sub(READ_BATCH.min(MAX_SCAN_PER_PAGE - scanned)).max(oldest);
        let sequences: Vec<u64> = (batch_start..batch_end).rev().collect();
        let keys: Vec<String> = sequences.iter().map(|s| entry_key(*s)).collect();
        let values = kv.get_many(&keys)?;
        scanned += sequences.len() as u64;
        for (sequence, value) in sequences.into_iter().zip(values) {
            let Some(entry) = value.and_then(|v| crate::json::from_bytes::<LogEntry>(&v).ok()) else { continue };
            if entry.sequence != sequence || !query.matches(&entry) {
                continue;
            }
            page.entries.push(entry);
            if page.entries.len() == limit {
                page.next_before = (sequence > oldest).then_some(sequence);
                return Ok(page);
            }
        }
        next = batch_start;
    }
    Ok(page)
}

/// Deletes the entries a lower retention drops: those between the newest `before` and the newest
/// `after` sequence numbers. Flushes delete only what their own entries push out, so without this
/// the entries in between would stay for ever. Returns how many keys were deleted.
pub fn prune<K: KeyValue + ?Sized>(kv: &mut K, before: u32, after: u32) -> Result<u64, String> {
    if after >= before {
        return Ok(0);
    }
    let newest = kv.increment(SEQUENCE_KEY, 0)?;
    let first = newest.saturating_sub(u64::from(before)) + 1;
    let last = newest.saturating_sub(u64::from(after));
    let mut deleted = 0;
    let mut from = first.max(1);
    while from <= last {
        let to = last.min(from + 999);
        let keys: Vec<String> = (from..=to).map(entry_key).collect();
        kv.delete_many(&keys)?;
        deleted += keys.len() as u64;
        from = to + 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{BatchHook, MemoryKeyValue};

    fn draft(i: u64) -> LogDraft {
        LogDraft::new("2026-11-28T09:00:00Z", LogAction::Provision, LogOutcome::Success, format!("entry {i}"))
    }

    fn append_n(kv: &mut MemoryKeyValue, count: u64, mut make: impl FnMut(u64) -> LogDraft) {
        let mut store = LogStore::load(kv).unwrap();
        for i in 0..count {
            store.append(make(i));
        }
        store.flush(kv).unwrap();
    }

    /// Follows `next_before` to the end; returns every page.
    fn all_pages(kv: &mut MemoryKeyValue, query: &LogQuery) -> Vec<LogPage> {
        let mut pages = Vec::new();
        let mut query = query.clone();
        loop {
            let page = read_page(kv, &query, DEFAULT_RETENTION).unwrap();
            let next = page.next_before;
            pages.push(page);
            match next {
                Some(before) => query.before = Some(before),
                None => return pages,
            }
            assert!(pages.len() < 10_000, "paging does not terminate");
        }
    }

    fn sequences(pages: &[LogPage]) -> Vec<u64> {
        pages.iter().flat_map(|p| p.entries.iter().map(|e| e.sequence)).collect()
    }

    fn stored_entries(kv: &MemoryKeyValue) -> usize {
        kv.data.keys().filter(|k| k.starts_with("log/e/")).count()
    }

    #[test]
    fn sequence_continues_across_instances() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 3, draft);
        let mut store = LogStore::load(&mut kv).unwrap();
        let full = LogDraft::new("2026-11-28T10:00:00Z", LogAction::Suspend, LogOutcome::Failure, "SCIM said no")
            .person("per_1", "ada@example.com")
            .status(409);
        store.append(full);
        assert!(store.has_unflushed());
        store.flush(&mut kv).unwrap();
        assert!(!store.has_unflushed());
        let page = read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap();
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![4, 3, 2, 1]);
        let e = &page.entries[0];
        assert_eq!(
            (e.person_id.as_deref(), e.email.as_deref(), e.http_status),
            (Some("per_1"), Some("ada@example.com"), Some(409))
        );
        assert_eq!(page.next_before, None);
    }

    /// Two stores open at once (two overlapping calls) each flush: both keep every entry and no
    /// sequence number is used twice. The chunked design lost one call's entries here.
    #[test]
    fn overlapping_stores_lose_nothing_and_share_no_sequence() {
        let mut kv = MemoryKeyValue::default();
        let mut a = LogStore::load(&mut kv).unwrap();
        let mut b = LogStore::load(&mut kv).unwrap();
        for i in 0..3 {
            a.append(draft(i));
            b.append(draft(100 + i));
        }
        a.flush(&mut kv).unwrap();
        b.flush(&mut kv).unwrap();
        a.append(draft(3));
        a.flush(&mut kv).unwrap();
        let all = sequences(&all_pages(&mut kv, &LogQuery::default()));
        assert_eq!(all, vec![7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn stored_entries_use_compact_field_names() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 1, |_| draft(0).person("p", "e@x.test"));
        let json = String::from_utf8(kv.data["log/e/1"].clone()).unwrap();
        assert!(json.contains("\"s\":1") && json.contains("\"p\":\"p\"") && !json.contains("sequence"), "{json}");
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let mut kv = MemoryKeyValue::default();
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        append_n(&mut kv, 1, |_| LogDraft::new("t", LogAction::Sync, LogOutcome::Failure, long.clone()));
        let page = read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap();
        let m = &page.entries[0].message;
        assert!(m.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(m.ends_with('…'));
    }

    #[test]
    fn paging_with_before_visits_every_entry_once() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 150, draft);
        let pages = all_pages(&mut kv, &LogQuery { limit: 40, ..LogQuery::default() });
        assert_eq!(pages.len(), 4);
        assert_eq!(sequences(&pages), (1..=150).rev().collect::<Vec<_>>());
        assert_eq!(pages[3].next_before, None);
    }

    #[test]
    fn last_entry_of_the_log_ends_paging() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 10, draft);
        let page = read_page(&mut kv, &LogQuery { limit: 10, ..LogQuery::default() }, DEFAULT_RETENTION).unwrap();
        assert_eq!(page.entries.len(), 10);
        assert_eq!(page.next_before, None);
    }

    #[test]
    fn empty_log_reads_as_an_empty_page() {
        let mut kv = MemoryKeyValue::default();
        assert_eq!(read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap(), LogPage::default());
    }

    fn mixed(i: u64) -> LogDraft {
        let outcome = if i.is_multiple_of(10) { LogOutcome::Failure } else { LogOutcome::Success };
        LogDraft::new("t", LogAction::Update, outcome, format!("entry {i}")).person(format!("p{}", i % 7), "e@x.test")
    }

    #[test]
    fn filters_select_matching_entries_only() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 300, mixed);
        let failures = all_pages(&mut kv, &LogQuery { failures_only: true, ..LogQuery::default() });
        let got = sequences(&failures);
        assert_eq!(got.len(), 30);
        assert!(failures.iter().flat_map(|p| &p.entries).all(|e| e.outcome == LogOutcome::Failure));
        let person =
            all_pages(&mut kv, &LogQuery { person_id: Some("p3".into()), failures_only: true, ..LogQuery::default() });
        let expected: Vec<u64> =
            (0..300u64).filter(|i| i.is_multiple_of(10) && i % 7 == 3).map(|i| i + 1).rev().collect();
        assert_eq!(sequences(&person), expected);
    }

    #[test]
    fn retention_keeps_the_newest_entries_across_flushes() {
        let mut kv = MemoryKeyValue::default();
        for _ in 0..10 {
            let mut store = LogStore::load(&mut kv).unwrap().with_retention(100);
            for i in 0..30 {
                store.append(draft(i));
            }
            store.flush(&mut kv).unwrap();
        }
        assert_eq!(stored_entries(&kv), 100);
        assert!(kv.data.contains_key("log/e/201") && !kv.data.contains_key("log/e/200"));
    }

    #[test]
    fn retention_in_one_large_batch_drops_its_own_oldest() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap().with_retention(64);
        for i in 0..200 {
            store.append(draft(i));
        }
        store.flush(&mut kv).unwrap();
        assert_eq!(stored_entries(&kv), 64);
    }

    #[test]
    fn default_retention_keeps_5000_entries() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 5200, draft);
        assert_eq!(stored_entries(&kv), 5000);
        let all = sequences(&all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() }));
        assert_eq!(all.len(), 5000);
        assert_eq!((all[0], *all.last().unwrap()), (5200, 201));
    }

    /// However rarely the filter matches, a page reads a bounded number of entries.
    #[test]
    fn a_page_reads_a_bounded_number_of_entries() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 5000, draft);
        let before = kv.reads;
        let page =
            read_page(&mut kv, &LogQuery { failures_only: true, ..LogQuery::default() }, DEFAULT_RETENTION).unwrap();
        let reads = kv.reads - before;
        assert!(page.entries.is_empty());
        assert_eq!(page.next_before, Some(5001 - MAX_SCAN_PER_PAGE));
        // The default get_many reads one key at a time: at most the scan budget plus the counter.
        assert!(reads as u64 <= MAX_SCAN_PER_PAGE + 1, "{reads}");
        let pages = all_pages(&mut kv, &LogQuery { failures_only: true, ..LogQuery::default() });
        assert_eq!(pages.len(), 3);
    }

    #[test]
    fn a_flush_writes_once_per_batch_not_per_entry() {
        let mut kv = MemoryKeyValue::default();
        let mut batch_writes = 0;
        let mut store = LogStore::load(&mut kv).unwrap();
        for i in 0..200 {
            store.append(draft(i));
        }
        let on_set_many = |inner: &mut MemoryKeyValue, entries: &[(String, Vec<u8>)]| {
            batch_writes += 1;
            entries.iter().try_for_each(|(k, v)| inner.set(k, v))
        };
        store.flush(&mut BatchHook { inner: &mut kv, on_set_many }).unwrap();
        assert_eq!(batch_writes, 1);
        assert_eq!(kv.writes, 200 + 1, "200 entries and one increment");
    }

    /// A batch larger than the retention writes only what it keeps, and deletes only earlier
    /// entries it pushes out: nothing is written only to be deleted again.
    #[test]
    fn a_batch_over_the_retention_writes_only_what_it_keeps() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap().with_retention(10);
        for i in 0..4 {
            store.append(draft(i));
        }
        store.flush(&mut kv).unwrap();
        let writes_before = kv.writes;
        for i in 4..29 {
            store.append(draft(i));
        }
        store.flush(&mut kv).unwrap();
        assert_eq!(kv.writes - writes_before, 10 + 1 + 4, "the newest 10 entries, one increment, 4 deletes");
        let all = sequences(&all_pages(&mut kv, &LogQuery::default()));
        assert_eq!(all, (20..=29).rev().collect::<Vec<_>>());
        assert_eq!(stored_entries(&kv), 10, "entries 1-4 of the first batch were deleted");
    }

    #[test]
    fn a_long_call_asks_to_flush_every_batch() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap();
        for i in 0..FLUSH_EVERY as u64 - 1 {
            store.append(draft(i));
        }
        assert!(!store.wants_flush());
        store.append(draft(0));
        assert!(store.wants_flush());
        store.flush(&mut kv).unwrap();
        assert!(!store.wants_flush());
    }

    #[test]
    fn gaps_and_corrupt_entries_are_skipped() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 10, draft);
        kv.data.remove("log/e/4");
        kv.data.insert("log/e/6".into(), b"not json".to_vec());
        // An entry stored under the wrong key is not trusted.
        let moved = kv.data["log/e/2"].clone();
        kv.data.insert("log/e/8".into(), moved);
        let all = sequences(&all_pages(&mut kv, &LogQuery::default()));
        assert_eq!(all, vec![10, 9, 7, 5, 3, 2, 1]);
    }

    #[test]
    fn a_failed_flush_keeps_the_entries_for_the_next_one() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap();
        store.append(draft(0));
        let disk_full = |_: &mut MemoryKeyValue, _: &[(String, Vec<u8>)]| Err("disk full".to_owned());
        assert!(store.flush(&mut BatchHook { inner: &mut kv, on_set_many: disk_full }).is_err());
        assert!(store.has_unflushed());
        store.flush(&mut kv).unwrap();
        let page = read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap();
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].sequence, 2, "the failed flush's number is a gap");
    }

    #[test]
    fn limit_defaults_to_50_and_is_capped_at_500() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 600, draft);
        assert_eq!(read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap().entries.len(), 50);
        let big = read_page(&mut kv, &LogQuery { limit: 10_000, ..LogQuery::default() }, DEFAULT_RETENTION).unwrap();
        assert_eq!(big.entries.len(), 500);
    }

    #[test]
    fn entries_carry_their_run_and_an_unreadable_host_id_is_replaced() {
        let now = jiff::Timestamp::from_second(1_796_000_000).unwrap();
        let run = Run::from_host(Some("run_7-a".into()), Some("webhook:evt\n1".into()), now);
        assert_eq!(run, Run { id: "run_7-a".into(), trigger: "webhook:evt 1".into() });
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap().for_run(&run);
        store.append(draft(1));
        store.flush(&mut kv).unwrap();
        let page = read_page(&mut kv, &LogQuery::default(), DEFAULT_RETENTION).unwrap();
        assert_eq!((page.entries[0].run_id.as_str(), page.entries[0].trigger.as_str()), ("run_7-a", "webhook:evt 1"));
        for bad in [None, Some(String::new()), Some("a b".into()), Some("x".repeat(65)), Some("é".into())] {
            let made = Run::from_host(bad.clone(), None, now);
            assert!(made.id.starts_with("c-") && made.id.len() <= MAX_RUN_ID_CHARS, "{bad:?} gave {}", made.id);
            assert_eq!(made.trigger, "");
        }
        let long = Run::from_host(None, Some("ü".repeat(300)), now);
        assert!(long.trigger.len() <= MAX_TRIGGER_BYTES && long.trigger.chars().all(|c| c == 'ü'));
        // An entry stored before runs existed reads with both empty.
        let old: LogEntry = serde_json::from_str(r#"{"s":1,"t":"x","a":"sync","o":"success","m":"m"}"#).unwrap();
        assert_eq!((old.run_id.as_str(), old.trigger.as_str()), ("", ""));
    }

    /// Lowering the retention deletes at once what falls out (flushes only delete what their own
    /// entries push out); raising it deletes nothing.
    #[test]
    fn pruning_to_a_lower_retention_deletes_exactly_what_falls_out() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 3000, draft);
        assert_eq!(prune(&mut kv, 5000, 6000).unwrap(), 0);
        assert_eq!(prune(&mut kv, 5000, 1200).unwrap(), 3000 - 1200);
        let keys = |kv: &MemoryKeyValue| kv.data.keys().filter(|k| k.starts_with("log/e/")).count();
        assert_eq!(keys(&kv), 1200);
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (1801..=3000).rev().collect::<Vec<_>>());
        let mut store = LogStore::load(&mut kv).unwrap().with_retention(1200);
        store.append(draft(0));
        store.flush(&mut kv).unwrap();
        assert_eq!(keys(&kv), 1200, "the next flush keeps the log at the new retention");
    }
}
