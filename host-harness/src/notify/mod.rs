//! Notifications: telling a person when the integration needs one (issue 25).
//!
//! **Incidents** are what the component's `status` shows (held deprovisions, the connection's
//! unauthorized state, quarantined people) plus the host's webhook dead letters. After each run
//! (a CLI command, a serve turn) the host takes a [`Snapshot`] and gives it to
//! [`Ledger::observe`], which compares it with what was already announced and returns the
//! [`Message`]s to send. Nothing here calls the component or the network: the ledger is pure, so
//! a week of snapshots runs in a unit test with simulated time.
//!
//! **One message per incident.** Each of the four incident kinds has at most one open incident:
//! it opens with the first item (a held person, a quarantined person, a dead-lettered event, the
//! refused service) and closes when the kind has no item left. Its first message announces every
//! item; items that appear while it stays open are a new batch ("3 more …"); items that come and
//! go while others remain say nothing; an item already announced during the open incident is
//! never announced again, even if it left and came back. When the incident closes, one
//! `Resolved` message says so, but only if something about it was announced: nobody is told that
//! a thing they never heard of is over.
//!
//! **Rate.** At most one message per kind per tenant per hour (`Resolved` is a kind of its own,
//! one message naming every kind resolved). A message due within the hour is folded into the
//! kind's digest instead, sent once the hour is over ("Since the last message: …") by
//! [`Ledger::due_digests`], or by the next [`Ledger::observe`] after the hour (it sends whatever
//! is due, so a caller without a timer loses nothing). A folded item that is gone before its
//! digest goes out is dropped from it. A resolution folded into the `Resolved` digest is dropped
//! if its kind reopens before the digest goes out: for the people told, the incident never
//! closed, so the new items are a batch of the same incident, resolved once later.
//!
//! **Kinds switched off** (`--notify-on`) are tracked the same way, and their items count as
//! accounted for without a message: switching a kind on later does not announce an incident
//! that was already open as new, only items that appear after: the first message then counts the
//! whole incident and names the new items ("3 people are quarantined: … People: q3, and 2 more").
//! An incident of which nothing was announced closes silently. With `resolved` off, closing is
//! tracked the same and says nothing.
//!
//! **Delivery** is a host capability ([`deliver`]): messages wait in a stored, bounded
//! [`Outbox`] and are POSTed by [`deliver_due`] through the tenant's egress rules (resolved and
//! checked as the component's requests are), with retries and backoff, never inside the
//! component call that raised them. [`store`] keeps the ledger and the outbox in the host
//! namespace, under the tenant's lease.
//!
//! Messages carry labels (work emails, person ids, event ids, the service's name) and reasons
//! (the hold's reason, the last failure) given by the caller: never gender, birthday or tokens.

mod deliver;
mod incidents;
mod message;
mod outbox;
pub mod store;

#[cfg(test)]
mod tests_deliver;
#[cfg(test)]
mod tests_incidents;
#[cfg(test)]
mod tests_week;

pub use deliver::{ATTEMPT_TIMEOUT, DeliveryReport, Failure, Target, check_url, deliver_due};
pub use incidents::{Ledger, OpenIncident};
pub use message::{MAX_NAMES, resolved_phrase};
pub use outbox::{BACKOFF, MAX_ATTEMPTS, MAX_WAITING, Outbox};
pub use store::{NotifyState, load, save};

use serde::{Deserialize, Serialize};

/// What can be announced; `--notify-on` chooses a subset (default all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Held,
    Unauthorized,
    Quarantine,
    DeadLetters,
    Resolved,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Held, Kind::Unauthorized, Kind::Quarantine, Kind::DeadLetters, Kind::Resolved];
    /// The kinds that are incidents (all but `Resolved`).
    pub const INCIDENTS: [Kind; 4] = [Kind::Held, Kind::Unauthorized, Kind::Quarantine, Kind::DeadLetters];

    pub fn word(self) -> &'static str {
        match self {
            Kind::Held => "held",
            Kind::Unauthorized => "unauthorized",
            Kind::Quarantine => "quarantine",
            Kind::DeadLetters => "dead-letters",
            Kind::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// `held,quarantine` (any case, spaces ok, `all` for every kind) -> the kinds, each once, in
/// [`Kind::ALL`]'s order.
pub fn parse_kinds(s: &str) -> Result<Vec<Kind>, String> {
    let valid = || Kind::ALL.iter().map(|k| k.word()).collect::<Vec<_>>().join(", ");
    let mut chosen = Vec::new();
    for word in s.split(',').map(str::trim) {
        if word.is_empty() {
            continue;
        }
        if word.eq_ignore_ascii_case("all") {
            chosen.extend(Kind::ALL);
            continue;
        }
        match Kind::ALL.iter().find(|k| k.word().eq_ignore_ascii_case(word)) {
            Some(kind) => chosen.push(*kind),
            None => return Err(format!("`{word}` is not a notification kind; valid: {}, or all", valid())),
        }
    }
    if chosen.is_empty() {
        return Err(format!("no notification kind given; valid: {}, or all", valid()));
    }
    Ok(Kind::ALL.into_iter().filter(|k| chosen.contains(k)).collect())
}

/// One thing an incident is about: a held person, a quarantined person, a dead-lettered event,
/// the refused service. `key` identifies it across snapshots; `label` names it for people (an
/// email, an event id, "Leapsome"); `detail` says why (the hold's reason, the last failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub detail: String,
}

impl Item {
    pub fn new(key: impl Into<String>, label: impl Into<String>, detail: impl Into<String>) -> Self {
        Item { key: key.into(), label: label.into(), detail: detail.into() }
    }
}

/// What needs a person right now, as the host read it after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub held: Vec<Item>,
    /// The service that refused the token, when the connection is unauthorized (key = "humaans" or "scim").
    pub unauthorized: Option<Item>,
    /// The quarantined people status lists (up to 100) and how many there are in all.
    pub quarantined: Vec<Item>,
    pub quarantined_total: u32,
    /// `None` when the caller could not read the dead letters (then that kind is left as it was).
    pub dead_letters: Option<Vec<Item>>,
}

/// One notification: its kind (for the rate and `--notify-on`) and its plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: Kind,
    pub text: String,
}

impl Message {
    /// What is POSTed: Slack-compatible `{"text": …}`, serialised with serde_json.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "text": self.text })).expect("a JSON object of one string serialises")
    }
}

/// A [`jiff::Timestamp`] stored as RFC 3339 text (the store's JSON stays readable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(pub jiff::Timestamp);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Stamp).map_err(serde::de::Error::custom)
    }
}

/// `at + seconds`, pinned at the end of time instead of overflowing.
pub(crate) fn later(at: jiff::Timestamp, seconds: i64) -> jiff::Timestamp {
    at.saturating_add(jiff::SignedDuration::from_secs(seconds)).unwrap_or(jiff::Timestamp::MAX)
}
