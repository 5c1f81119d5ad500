//! The integration log: every provisioning attempt, kept in tenant key/value storage so HR admins
//! can read it back (`read-logs`).
//!
//! # Storage layout
//!
//! - `log/meta`: `{"next_sequence": n, "oldest_chunk": c}`. Sequence numbers start at 1 and grow
//!   per tenant. The meta is the commit point: it is written last by [`LogStore::flush`], and
//!   entries at or above its `next_sequence` are invisible (a flush that failed half-way leaves
//!   chunk entries the meta does not cover; they are ignored and later overwritten).
//! - `log/c/<k>`: chunk `k`, a JSON array of up to [`CHUNK_SIZE`] entries, sequences
//!   `k*64+1 ..= k*64+64` in ascending order. Entries use one-letter field names because a tenant
//!   keeps thousands of them.
//!
//! Fixed-size chunks make both sides cheap: a batch of appends rewrites only the chunks it touched
//! plus the meta, and a reader finds the chunk holding any sequence number by arithmetic, so
//! paging never scans from the start.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ports::KeyValue;

/// Entries per stored chunk.
pub const CHUNK_SIZE: u64 = 64;
/// Entries kept by default (rounded up to whole chunks, see [`LogStore::with_retention`]).
pub const DEFAULT_RETENTION: u32 = 5000;
/// Chunks one [`read_page`] call reads at most, so a page costs at most this many storage reads
/// plus one (the meta), whatever the log size and however rarely the filter matches. Nine is the
/// least that always fills an unfiltered page of [`MAX_PAGE_LIMIT`]: the first chunk read may
/// hold a single entry below the cursor, and 8 more full chunks hold 512.
pub const MAX_CHUNKS_PER_PAGE: u64 = 9;
/// Page size when the query asks for 0.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest page size; larger requests are capped.
pub const MAX_PAGE_LIMIT: u32 = 500;
/// Messages longer than this (in bytes) are cut: a remote service's error body can be large, and
/// 64 of them in one chunk must stay well inside the host's per-value limit.
pub const MAX_MESSAGE_BYTES: usize = 2000;

const META_KEY: &str = "log/meta";

fn chunk_key(chunk: u64) -> String {
    format!("log/c/{chunk}")
}

/// The chunk holding `sequence` (sequences start at 1).
fn chunk_of(sequence: u64) -> u64 {
    sequence.saturating_sub(1) / CHUNK_SIZE
}

/// The first sequence number stored in `chunk`.
fn first_sequence_of(chunk: u64) -> u64 {
    chunk * CHUNK_SIZE + 1
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

    fn into_entry(self, sequence: u64) -> LogEntry {
        LogEntry {
            sequence,
            at: self.at,
            action: self.action,
            person_id: self.person_id,
            email: self.email,
            outcome: self.outcome,
            http_status: self.http_status,
            message: truncate_message(self.message),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    next_sequence: u64,
    oldest_chunk: u64,
}

impl Meta {
    const EMPTY: Meta = Meta { next_sequence: 1, oldest_chunk: 0 };

    /// Reads the meta. Missing means a new log; unreadable or inconsistent means the log is
    /// restarted as empty rather than failing every later call (see [`LogStore::load`]).
    fn read<K: KeyValue + ?Sized>(kv: &mut K) -> Result<Meta, String> {
        let Some(bytes) = kv.get(META_KEY)? else {
            return Ok(Meta::EMPTY);
        };
        match serde_json::from_slice::<Meta>(&bytes) {
            Ok(meta) if meta.is_consistent() => Ok(meta),
            _ => Ok(Meta::EMPTY),
        }
    }

    fn is_consistent(&self) -> bool {
        // The oldest chunk may be at most the chunk the next entry goes to (a log whose retained
        // chunks were all dropped has no entry in it yet); u64::MAX would overflow on append.
        self.next_sequence >= 1 && self.next_sequence < u64::MAX && self.oldest_chunk <= chunk_of(self.next_sequence)
    }

    /// The lowest sequence number the log may still hold.
    fn oldest_sequence(&self) -> u64 {
        first_sequence_of(self.oldest_chunk)
    }
}

/// Reads chunk `chunk`, keeping only well-formed entries that belong to it and are below
/// `below`, sorted ascending without duplicates. A missing or corrupt chunk reads as empty: one
/// damaged value must not hide the rest of the log. Storage errors are still errors.
fn read_chunk<K: KeyValue + ?Sized>(kv: &mut K, chunk: u64, below: u64) -> Result<Vec<LogEntry>, String> {
    let Some(bytes) = kv.get(&chunk_key(chunk))? else {
        return Ok(Vec::new());
    };
    let Ok(mut entries) = serde_json::from_slice::<Vec<LogEntry>>(&bytes) else {
        return Ok(Vec::new());
    };
    let first = first_sequence_of(chunk);
    entries.retain(|e| e.sequence >= first && e.sequence < first + CHUNK_SIZE && e.sequence < below);
    entries.sort_by_key(|e| e.sequence);
    entries.dedup_by_key(|e| e.sequence);
    Ok(entries)
}

/// Buffers appended entries and writes them in chunks.
///
/// The store never flushes by itself: the caller calls [`LogStore::flush`] (the component does so
/// after each person's writes and at the end of a call), so N appends cost
/// `ceil(N / 64) + 1` writes (+1 chunk when the batch starts mid-chunk), not N.
#[derive(Debug)]
pub struct LogStore {
    next_sequence: u64,
    /// The meta as last read or written: what storage holds.
    persisted: Meta,
    /// Entries kept: at least this many, a whole number of chunks.
    retained_entries: u64,
    /// Chunks held in memory: the partly filled newest chunk, plus any appended since the last
    /// flush.
    chunks: BTreeMap<u64, Vec<LogEntry>>,
    /// Chunks appended to since the last successful write of each.
    dirty: BTreeSet<u64>,
}

impl LogStore {
    /// Opens the log: reads the meta and, if the next entry goes into a partly filled chunk, that
    /// chunk (1 or 2 reads).
    ///
    /// A corrupt or inconsistent meta is rebuilt as an empty log (sequence numbers restart at 1)
    /// instead of failing: the log must never block provisioning. The old chunks are then
    /// unreachable and get overwritten as the new log grows. A corrupt newest chunk is likewise
    /// started afresh; its unreadable entries are lost.
    pub fn load<K: KeyValue + ?Sized>(kv: &mut K) -> Result<LogStore, String> {
        let meta = Meta::read(kv)?;
        let mut chunks = BTreeMap::new();
        let next_chunk = chunk_of(meta.next_sequence);
        // The next entry shares a chunk with earlier ones: those must be kept when it is rewritten.
        if meta.next_sequence > first_sequence_of(next_chunk) {
            chunks.insert(next_chunk, read_chunk(kv, next_chunk, meta.next_sequence)?);
        }
        Ok(LogStore {
            next_sequence: meta.next_sequence,
            persisted: meta,
            retained_entries: retained_entries(DEFAULT_RETENTION),
            chunks,
            dirty: BTreeSet::new(),
        })
    }

    /// Keeps at least `max_entries` entries (rounded up to whole chunks of 64, at least one
    /// chunk); older chunks are deleted on the next flush. The log then holds between that many
    /// and 63 more entries, since the newest chunk may be partly filled.
    pub fn with_retention(mut self, max_entries: u32) -> LogStore {
        self.retained_entries = retained_entries(max_entries);
        self
    }

    /// Gives the draft the next sequence number and buffers it until [`LogStore::flush`].
    pub fn append(&mut self, draft: LogDraft) -> u64 {
        let sequence = self.next_sequence;
        let chunk = chunk_of(sequence);
        self.chunks.entry(chunk).or_default().push(draft.into_entry(sequence));
        self.dirty.insert(chunk);
        self.next_sequence += 1;
        sequence
    }

    /// The sequence number the next append gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Whether appended entries are waiting for a flush.
    pub fn has_unflushed(&self) -> bool {
        self.next_sequence != self.persisted.next_sequence
    }

    /// Writes the chunks appended to since the last flush, deletes chunks that fell out of
    /// retention, then writes the meta (last, so a failure half-way leaves the previous log
    /// intact). Nothing to write costs nothing. On error the buffered entries are kept and a later
    /// flush retries.
    pub fn flush<K: KeyValue + ?Sized>(&mut self, kv: &mut K) -> Result<(), String> {
        if !self.has_unflushed() && self.dirty.is_empty() {
            return Ok(());
        }
        let last_sequence = self.next_sequence - 1;
        let oldest_chunk =
            chunk_of(last_sequence.saturating_sub(self.retained_entries) + 1).max(self.persisted.oldest_chunk);

        while let Some(&chunk) = self.dirty.first() {
            // A chunk already out of retention is not worth writing (a batch longer than the
            // retention); if an earlier flush stored it, the deletes below remove it.
            if chunk >= oldest_chunk {
                let bytes = serde_json::to_vec(&self.chunks[&chunk]).map_err(|e| e.to_string())?;
                kv.set(&chunk_key(chunk), &bytes)?;
            }
            self.dirty.remove(&chunk);
        }

        // Only chunks a previous flush committed can exist in storage.
        if self.persisted.next_sequence > 1 {
            let stored_end = chunk_of(self.persisted.next_sequence - 1) + 1;
            for chunk in self.persisted.oldest_chunk..oldest_chunk.min(stored_end) {
                kv.delete(&chunk_key(chunk))?;
            }
        }

        let meta = Meta { next_sequence: self.next_sequence, oldest_chunk };
        let bytes = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
        kv.set(META_KEY, &bytes)?;
        self.persisted = meta;

        // Only the chunk the next append goes into is needed again; dropping the rest keeps a long
        // sync's memory flat.
        let next_chunk = chunk_of(self.next_sequence);
        self.chunks.retain(|&chunk, _| chunk == next_chunk);
        Ok(())
    }
}

fn retained_entries(max_entries: u32) -> u64 {
    u64::from(max_entries).div_ceil(CHUNK_SIZE).max(1) * CHUNK_SIZE
}

/// Reads one page of the log, newest first, below `query.before` (or from the newest entry),
/// keeping entries that match the filters.
///
/// A page costs at most [`MAX_CHUNKS_PER_PAGE`] + 1 storage reads whatever the log size: if the
/// scan budget runs out before the page is full, the page returns what was found with
/// `next_before` set to where scanning stopped. So a filtered page may hold fewer than `limit`
/// entries (even none) while `next_before` is `Some`: keep following `next_before` until it is
/// `None`, which happens only when no older entry is left. Missing or corrupt chunks are skipped.
pub fn read_page<K: KeyValue + ?Sized>(kv: &mut K, query: &LogQuery) -> Result<LogPage, String> {
    let meta = Meta::read(kv)?;
    let limit = query.effective_limit();
    // Entries at or above the meta's next sequence are not committed (see the module docs).
    let below = query.before.unwrap_or(u64::MAX).min(meta.next_sequence);
    let oldest = meta.oldest_sequence();
    let mut page = LogPage::default();
    if below <= oldest {
        return Ok(page);
    }

    let newest_chunk = chunk_of(below - 1);
    let mut chunk = newest_chunk;
    loop {
        for entry in read_chunk(kv, chunk, below)?.into_iter().rev() {
            if !query.matches(&entry) {
                continue;
            }
            let sequence = entry.sequence;
            page.entries.push(entry);
            if page.entries.len() == limit {
                page.next_before = (sequence > oldest).then_some(sequence);
                return Ok(page);
            }
        }
        if chunk == meta.oldest_chunk {
            return Ok(page);
        }
        if newest_chunk - chunk + 1 == MAX_CHUNKS_PER_PAGE {
            page.next_before = Some(first_sequence_of(chunk));
            return Ok(page);
        }
        chunk -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryKeyValue;

    fn draft(i: u64) -> LogDraft {
        LogDraft::new("2026-11-28T09:00:00Z", LogAction::Provision, LogOutcome::Success, format!("entry {i}"))
    }

    /// Appends `count` entries in one batch and flushes; returns the sequences assigned.
    fn append_n(kv: &mut MemoryKeyValue, count: u64, mut make: impl FnMut(u64) -> LogDraft) -> Vec<u64> {
        let mut store = LogStore::load(kv).unwrap();
        let sequences = (0..count).map(|i| store.append(make(i))).collect();
        store.flush(kv).unwrap();
        sequences
    }

    /// Follows `next_before` to the end; returns every page.
    fn all_pages(kv: &mut MemoryKeyValue, query: &LogQuery) -> Vec<LogPage> {
        let mut pages = Vec::new();
        let mut query = query.clone();
        loop {
            let page = read_page(kv, &query).unwrap();
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

    fn stored_chunks(kv: &MemoryKeyValue) -> Vec<u64> {
        let mut chunks: Vec<u64> =
            kv.data.keys().filter_map(|k| k.strip_prefix("log/c/")).map(|n| n.parse().unwrap()).collect();
        chunks.sort();
        chunks
    }

    fn stored_meta(kv: &MemoryKeyValue) -> Meta {
        serde_json::from_slice(&kv.data[META_KEY]).unwrap()
    }

    #[test]
    fn sequence_continues_across_instances() {
        let mut kv = MemoryKeyValue::default();
        assert_eq!(append_n(&mut kv, 3, draft), vec![1, 2, 3]);

        let mut store = LogStore::load(&mut kv).unwrap();
        assert_eq!(store.next_sequence(), 4);
        let full = LogDraft::new("2026-11-28T10:00:00Z", LogAction::Suspend, LogOutcome::Failure, "SCIM said no")
            .person("per_1", "ada@example.com")
            .status(409);
        assert_eq!(store.append(full), 4);
        assert!(store.has_unflushed());
        store.flush(&mut kv).unwrap();
        assert!(!store.has_unflushed());

        let page = read_page(&mut kv, &LogQuery::default()).unwrap();
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![4, 3, 2, 1]);
        assert_eq!(
            page.entries[0],
            LogEntry {
                sequence: 4,
                at: "2026-11-28T10:00:00Z".into(),
                action: LogAction::Suspend,
                person_id: Some("per_1".into()),
                email: Some("ada@example.com".into()),
                outcome: LogOutcome::Failure,
                http_status: Some(409),
                message: "SCIM said no".into(),
            }
        );
        assert_eq!(page.entries[3].message, "entry 0");
        assert_eq!(page.next_before, None);
    }

    #[test]
    fn appending_to_a_partly_filled_chunk_keeps_its_entries() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 70, draft);
        // Chunk 1 holds 65..=70; a second instance must extend it, not replace it.
        append_n(&mut kv, 5, draft);
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (1..=75).rev().collect::<Vec<_>>());
    }

    #[test]
    fn stored_entries_use_compact_field_names() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 1, |_| draft(0).person_id("per_1"));
        let chunk = String::from_utf8(kv.data["log/c/0"].clone()).unwrap();
        assert_eq!(
            chunk,
            r#"[{"s":1,"t":"2026-11-28T09:00:00Z","a":"provision","p":"per_1","o":"success","m":"entry 0"}]"#
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let mut kv = MemoryKeyValue::default();
        // 'é' is two bytes, so MAX_MESSAGE_BYTES falls inside a character for an odd prefix.
        let long = format!("x{}", "é".repeat(MAX_MESSAGE_BYTES));
        append_n(&mut kv, 1, |_| LogDraft::new("t", LogAction::Sync, LogOutcome::Failure, long.clone()));
        let page = read_page(&mut kv, &LogQuery::default()).unwrap();
        let message = &page.entries[0].message;
        assert!(message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(message.ends_with('…'));
        assert!(long.starts_with(message.trim_end_matches('…')));
    }

    #[test]
    fn newest_first_across_chunks() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 150, draft);
        let page = read_page(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=150).rev().collect::<Vec<_>>());
        assert_eq!(page.next_before, None);
    }

    #[test]
    fn paging_with_before_visits_every_entry_once() {
        let mut kv = MemoryKeyValue::default();
        // Several batches, so chunks are written across flushes as in the component.
        for _ in 0..10 {
            append_n(&mut kv, 100, draft);
        }
        let pages = all_pages(&mut kv, &LogQuery { limit: 37, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (1..=1000).rev().collect::<Vec<_>>());
        assert_eq!(pages.len(), 1000usize.div_ceil(37));
        // Unfiltered pages are always full (the chunk budget holds far more than 37) except the last.
        assert!(pages[..pages.len() - 1].iter().all(|p| p.entries.len() == 37));
        assert_eq!(pages.last().unwrap().next_before, None);

        // Starting mid-log.
        let page = read_page(&mut kv, &LogQuery { limit: 3, before: Some(500), ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![499, 498, 497]);
        assert_eq!(page.next_before, Some(497));
        // `before` above the newest is the same as no `before`.
        let page = read_page(&mut kv, &LogQuery { limit: 1, before: Some(5000), ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries[0].sequence, 1000);
    }

    #[test]
    fn last_entry_of_the_log_ends_paging() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 10, draft);
        // The page fills exactly at sequence 1: nothing older exists, so no cursor.
        let page = read_page(&mut kv, &LogQuery { limit: 10, ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries.len(), 10);
        assert_eq!(page.next_before, None);
        let page = read_page(&mut kv, &LogQuery { before: Some(1), ..LogQuery::default() }).unwrap();
        assert_eq!(page, LogPage::default());
    }

    #[test]
    fn empty_log_reads_as_an_empty_page() {
        let mut kv = MemoryKeyValue::default();
        assert_eq!(read_page(&mut kv, &LogQuery::default()).unwrap(), LogPage::default());
        assert_eq!(kv.reads, 1);
    }

    fn mixed(i: u64) -> LogDraft {
        let outcome = if i.is_multiple_of(7) { LogOutcome::Failure } else { LogOutcome::Success };
        LogDraft::new("t", LogAction::Update, outcome, "m").person(format!("per_{}", i % 5), "x@example.com")
    }

    #[test]
    fn filters_select_matching_entries_only() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 1000, mixed);
        // Sequence s was made from i = s - 1.
        let expected = |keep: &dyn Fn(u64) -> bool| (1..=1000u64).rev().filter(|s| keep(s - 1)).collect::<Vec<_>>();

        let failures = LogQuery { failures_only: true, limit: 20, ..LogQuery::default() };
        let pages = all_pages(&mut kv, &failures);
        assert!(pages.iter().flat_map(|p| &p.entries).all(|e| e.outcome == LogOutcome::Failure));
        assert_eq!(sequences(&pages), expected(&|i| i.is_multiple_of(7)));

        let person = LogQuery { person_id: Some("per_3".into()), limit: 50, ..LogQuery::default() };
        let pages = all_pages(&mut kv, &person);
        assert!(pages.iter().flat_map(|p| &p.entries).all(|e| e.person_id.as_deref() == Some("per_3")));
        assert_eq!(sequences(&pages), expected(&|i| i % 5 == 3));

        let both = LogQuery { failures_only: true, person_id: Some("per_3".into()), limit: 5, ..LogQuery::default() };
        assert_eq!(sequences(&all_pages(&mut kv, &both)), expected(&|i| i.is_multiple_of(7) && i % 5 == 3));

        let nobody = LogQuery { person_id: Some("per_none".into()), ..LogQuery::default() };
        assert_eq!(sequences(&all_pages(&mut kv, &nobody)), Vec::<u64>::new());
    }

    #[test]
    fn retention_drops_oldest_chunks_across_flushes() {
        let mut kv = MemoryKeyValue::default();
        // 100 rounds up to 128 entries (2 chunks).
        for _ in 0..30 {
            let mut store = LogStore::load(&mut kv).unwrap().with_retention(100);
            for i in 0..10 {
                store.append(draft(i));
            }
            store.flush(&mut kv).unwrap();
        }
        // 300 entries: the newest 128 are 173..=300, which start in chunk 2 (129..=192).
        assert_eq!(stored_chunks(&kv), vec![2, 3, 4]);
        assert_eq!(stored_meta(&kv), Meta { next_sequence: 301, oldest_chunk: 2 });
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (129..=300).rev().collect::<Vec<_>>());
        // A `before` below the retained range is the end of the log.
        let page = read_page(&mut kv, &LogQuery { before: Some(100), ..LogQuery::default() }).unwrap();
        assert_eq!(page, LogPage::default());
    }

    #[test]
    fn retention_in_one_large_batch_skips_dropped_chunks() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap().with_retention(100);
        for i in 0..300 {
            store.append(draft(i));
        }
        store.flush(&mut kv).unwrap();
        // Chunks 0 and 1 fell out of retention before ever being stored: 3 chunks + meta.
        assert_eq!(kv.writes, 4);
        assert_eq!(stored_chunks(&kv), vec![2, 3, 4]);
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages).len(), 172);
    }

    #[test]
    fn default_retention_keeps_5000_entries_rounded_up_to_chunks() {
        let mut kv = MemoryKeyValue::default();
        for _ in 0..12 {
            append_n(&mut kv, 500, draft);
        }
        // 5000 rounds up to 79 chunks = 5056 entries; of 6000, the newest 5056 start at 945, in
        // chunk 14 (897..=960), so 897..=6000 are kept: 5104 entries in chunks 14..=93.
        assert_eq!(stored_chunks(&kv), (14..=93).collect::<Vec<_>>());
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (897..=6000).rev().collect::<Vec<_>>());

        // The smallest retention keeps one whole chunk.
        let mut kv = MemoryKeyValue::default();
        for _ in 0..3 {
            let mut store = LogStore::load(&mut kv).unwrap().with_retention(0);
            for i in 0..64 {
                store.append(draft(i));
            }
            store.flush(&mut kv).unwrap();
        }
        assert_eq!(stored_chunks(&kv), vec![2]);
        assert_eq!(sequences(&all_pages(&mut kv, &LogQuery::default())), (129..=192).rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_page_reads_a_bounded_number_of_chunks() {
        let mut kv = MemoryKeyValue::default();
        let rare = |i: u64| {
            let d = draft(i);
            if (i + 1).is_multiple_of(700) { d.person_id("per_rare") } else { d.person_id("per_common") }
        };
        // One batch: `rare` numbers from 0, so sequence s comes from i = s - 1.
        append_n(&mut kv, 5000, rare);
        let query = LogQuery { person_id: Some("per_rare".into()), limit: 50, ..LogQuery::default() };

        kv.reads = 0;
        let first = read_page(&mut kv, &query).unwrap();
        // The meta plus MAX_CHUNKS_PER_PAGE chunks, however many of the 79 chunks are left.
        assert_eq!(kv.reads as u64, MAX_CHUNKS_PER_PAGE + 1);
        // Chunks 78..=70 hold 4481..=5000: one match, a short page, and a cursor to continue.
        assert_eq!(first.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![4900]);
        assert_eq!(first.next_before, Some(4481));

        let mut found = Vec::new();
        let mut calls = 0;
        let mut query = query;
        loop {
            kv.reads = 0;
            let page = read_page(&mut kv, &query).unwrap();
            calls += 1;
            assert!(kv.reads as u64 <= MAX_CHUNKS_PER_PAGE + 1, "a page read {} values", kv.reads);
            found.extend(page.entries.iter().map(|e| e.sequence));
            match page.next_before {
                Some(before) => query.before = Some(before),
                None => break,
            }
        }
        assert_eq!(found, vec![4900, 4200, 3500, 2800, 2100, 1400, 700]);
        // 79 chunks, MAX_CHUNKS_PER_PAGE (9) per call.
        assert_eq!(calls, 9);
    }

    #[test]
    fn writes_are_per_chunk_not_per_entry() {
        let mut kv = MemoryKeyValue::default();
        let mut store = LogStore::load(&mut kv).unwrap();
        assert_eq!(kv.reads, 1);
        for i in 0..130 {
            store.append(draft(i));
        }
        assert_eq!(kv.writes, 0, "appends are buffered");
        store.flush(&mut kv).unwrap();
        // Chunks 0, 1, 2 and the meta.
        assert_eq!(kv.writes, 4);
        store.flush(&mut kv).unwrap();
        assert_eq!(kv.writes, 4, "nothing new to flush");

        store.append(draft(130));
        store.flush(&mut kv).unwrap();
        // Only chunk 2 (129..=131) and the meta.
        assert_eq!(kv.writes, 6);
        // The rewritten chunk 2 still holds what the first flush put there.
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        assert_eq!(sequences(&pages), (1..=131).rev().collect::<Vec<_>>());

        // Reopening a partly filled chunk reads it; a full one is not read.
        kv.reads = 0;
        LogStore::load(&mut kv).unwrap();
        assert_eq!(kv.reads, 2);
        let mut full = MemoryKeyValue::default();
        append_n(&mut full, 64, draft);
        full.reads = 0;
        LogStore::load(&mut full).unwrap();
        assert_eq!(full.reads, 1);
    }

    #[test]
    fn corrupt_or_missing_chunks_are_skipped() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 200, draft);
        kv.data.insert("log/c/1".into(), b"not json".to_vec());
        kv.data.remove("log/c/2");
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        // Chunk 1 (65..=128) unreadable and chunk 2 (129..=192) gone; the rest is intact.
        let expected: Vec<u64> = (193..=200).rev().chain((1..=64).rev()).collect();
        assert_eq!(sequences(&pages), expected);
        assert_eq!(pages.last().unwrap().next_before, None);
    }

    #[test]
    fn entries_out_of_place_in_a_chunk_are_ignored() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 3, draft);
        // A hand-damaged chunk 0: out of order, a duplicate, and 70 which belongs to chunk 1.
        let entry = |s: u64| draft(s - 1).into_entry(s);
        let damaged = vec![entry(2), entry(70), entry(1), entry(2), entry(3)];
        kv.data.insert("log/c/0".into(), serde_json::to_vec(&damaged).unwrap());
        let pages = all_pages(&mut kv, &LogQuery::default());
        assert_eq!(sequences(&pages), vec![3, 2, 1]);
    }

    #[test]
    fn corrupt_newest_chunk_does_not_stop_appends() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 70, draft);
        kv.data.insert("log/c/1".into(), b"[{\"s\":".to_vec());
        assert_eq!(append_n(&mut kv, 2, draft), vec![71, 72]);
        let pages = all_pages(&mut kv, &LogQuery { limit: 500, ..LogQuery::default() });
        let expected: Vec<u64> = [72, 71].into_iter().chain((1..=64).rev()).collect();
        assert_eq!(sequences(&pages), expected);
    }

    #[test]
    fn corrupt_meta_restarts_an_empty_log() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 100, draft);
        kv.data.insert(META_KEY.into(), b"{garbage".to_vec());
        assert_eq!(read_page(&mut kv, &LogQuery::default()).unwrap(), LogPage::default());
        let store = LogStore::load(&mut kv).unwrap();
        assert_eq!(store.next_sequence(), 1);

        // Inconsistent (oldest chunk beyond the head) counts as corrupt too.
        kv.data.insert(META_KEY.into(), br#"{"next_sequence":10,"oldest_chunk":5}"#.to_vec());
        assert_eq!(LogStore::load(&mut kv).unwrap().next_sequence(), 1);

        // The restarted log does not show the old entries left in chunk 1.
        assert_eq!(append_n(&mut kv, 2, draft), vec![1, 2]);
        assert_eq!(sequences(&all_pages(&mut kv, &LogQuery::default())), vec![2, 1]);
    }

    /// Fails every write to the meta: a flush interrupted before its commit point.
    struct MetaWriteFails(MemoryKeyValue);

    impl KeyValue for MetaWriteFails {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
            self.0.get(key)
        }
        fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
            if key == META_KEY { Err("storage unavailable".into()) } else { self.0.set(key, value) }
        }
        fn delete(&mut self, key: &str) -> Result<(), String> {
            self.0.delete(key)
        }
    }

    #[test]
    fn entries_past_the_meta_are_invisible_and_a_failed_flush_can_be_retried() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 10, draft);

        let mut failing = MetaWriteFails(kv);
        let mut store = LogStore::load(&mut failing).unwrap();
        store.append(draft(10));
        assert_eq!(store.flush(&mut failing), Err("storage unavailable".into()));
        let mut kv = failing.0;
        // Chunk 0 now holds sequence 11 too, but the meta still says 10 entries.
        assert_eq!(serde_json::from_slice::<Vec<LogEntry>>(&kv.data["log/c/0"]).unwrap().len(), 11);
        assert_eq!(sequences(&all_pages(&mut kv, &LogQuery::default())), (1..=10).rev().collect::<Vec<_>>());

        // A fresh instance reuses the uncommitted sequence number for its own entry.
        let mut fresh = kv.clone();
        let reused = LogDraft::new("t", LogAction::Tick, LogOutcome::Success, "fresh");
        assert_eq!(append_n(&mut fresh, 1, |_| reused.clone()), vec![11]);
        let page = read_page(&mut fresh, &LogQuery::default()).unwrap();
        assert_eq!(page.entries.len(), 11);
        assert_eq!(page.entries[0].message, "fresh");

        // The instance whose flush failed still holds its entry and retries.
        assert!(store.has_unflushed());
        store.flush(&mut kv).unwrap();
        assert!(!store.has_unflushed());
        let page = read_page(&mut kv, &LogQuery::default()).unwrap();
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=11).rev().collect::<Vec<_>>());
        assert_eq!(page.entries[0].message, "entry 10");
    }

    #[test]
    fn limit_defaults_to_50_and_is_capped_at_500() {
        let mut kv = MemoryKeyValue::default();
        append_n(&mut kv, 600, draft);
        let page = read_page(&mut kv, &LogQuery::default()).unwrap();
        assert_eq!(page.entries.len(), 50);
        assert_eq!(page.next_before, Some(551));
        // The newest chunk holds only 577..=600, so a full page of 500 needs the whole chunk budget.
        let page = read_page(&mut kv, &LogQuery { limit: 10_000, ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries.len(), 500);
        assert_eq!(page.next_before, Some(101));
        let page = read_page(&mut kv, &LogQuery { limit: 1, ..LogQuery::default() }).unwrap();
        assert_eq!(page.entries.len(), 1);
    }
}
