//! The ledger: what has been announced, per kind, and the rules that turn snapshots into
//! messages (module docs of [`super`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Item, Kind, Message, Snapshot, Stamp, later, message};

/// At most one message per kind per tenant in this many seconds.
pub const RATE_SECONDS: i64 = 3600;

/// One kind's incident, as far as people were told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Track {
    /// When the open incident began (its first item was seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<Stamp>,
    /// How many items the kind had in the last snapshot that named it.
    #[serde(default)]
    count: u32,
    /// Keys accounted for during the open incident: announced, or seen while the kind was off.
    /// Kept until it closes, so an item that leaves and comes back is not announced twice.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    told: BTreeSet<String>,
    /// A message about this incident went out (only then is its resolution announced).
    #[serde(default)]
    announced: bool,
    /// Items present and not yet told, in the snapshot's order: the next message (or digest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<Item>,
    /// `pending` was held back by the hour: its message is a digest.
    #[serde(default)]
    folded: bool,
    /// The incident closed after being announced; its resolution waits for the `Resolved` rate.
    #[serde(default)]
    resolving: bool,
}

impl Track {
    /// Takes the kind's items now (`count`: how many in all, at least `items.len()`).
    fn update(&mut self, items: &[Item], count: u32, now: Timestamp) {
        if count == 0 && items.is_empty() {
            // Folded items that are gone are dropped: nobody was told about them.
            self.pending.clear();
            self.folded = false;
            self.count = 0;
            if self.since.is_some() && !self.resolving {
                if self.announced {
                    self.resolving = true;
                } else {
                    *self = Track::default();
                }
            }
            return;
        }
        // Reopened before its resolution went out: for the people told, it never closed.
        self.resolving = false;
        self.since.get_or_insert(Stamp(now));
        self.count = count.max(items.len() as u32);
        let mut seen = BTreeSet::new();
        self.pending =
            items.iter().filter(|i| !self.told.contains(&i.key) && seen.insert(i.key.as_str())).cloned().collect();
        if self.pending.is_empty() {
            self.folded = false;
        }
    }
}

/// A kind's items in a snapshot and how many it has in all; `None`: not read this time.
type View<'a> = Option<(&'a [Item], u32)>;

/// What has been announced, per kind: serde (stored as JSON), `Default` = nothing open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    #[serde(default)]
    tracks: BTreeMap<Kind, Track>,
    /// When each kind's last message went out.
    #[serde(default)]
    last_sent: BTreeMap<Kind, Stamp>,
    /// The pending resolutions were held back by the hour: their message is a digest.
    #[serde(default)]
    resolved_folded: bool,
}

/// An open incident, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIncident {
    pub kind: Kind,
    #[serde(serialize_with = "rfc3339")]
    pub since: Timestamp,
    /// How many items it has now.
    pub items: u32,
    /// Whether a message about it went out (false while it is only in a digest, or its kind is off).
    pub announced: bool,
}

fn rfc3339<S: serde::Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{at:.0}"))
}

impl Ledger {
    /// Compares `snapshot` with what was announced and returns the messages to send now: per kind,
    /// one for its new items (an incident, or a batch of an open one) unless the kind's hour is
    /// running (then they wait for its digest), and one `Resolved` naming the kinds whose
    /// announced incident closed. Digests whose hour is over go out too. Kinds not in `kinds`
    /// are tracked the same way and produce no message (module docs).
    pub fn observe(&mut self, tenant: &str, snapshot: &Snapshot, kinds: &[Kind], now: Timestamp) -> Vec<Message> {
        let quarantined = snapshot.quarantined_total.max(snapshot.quarantined.len() as u32);
        let views: [(Kind, View); 4] = [
            (Kind::Held, Some((&snapshot.held, snapshot.held.len() as u32))),
            (Kind::Unauthorized, Some((snapshot.unauthorized.as_slice(), u32::from(snapshot.unauthorized.is_some())))),
            (Kind::Quarantine, Some((&snapshot.quarantined, quarantined))),
            (Kind::DeadLetters, snapshot.dead_letters.as_deref().map(|d| (d, d.len() as u32))),
        ];
        for (kind, view) in views {
            let Some((items, count)) = view else { continue };
            self.tracks.entry(kind).or_default().update(items, count, now);
        }
        self.tracks.retain(|_, t| *t != Track::default());
        self.emit(tenant, kinds, now)
    }

    /// Digests whose hour is over (and nothing else: no snapshot is read).
    pub fn due_digests(&mut self, tenant: &str, kinds: &[Kind], now: Timestamp) -> Vec<Message> {
        self.emit(tenant, kinds, now)
    }

    /// Open incidents, for `status`: kind, since, items count.
    pub fn open(&self) -> Vec<OpenIncident> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.count > 0)
            .filter_map(|(kind, t)| {
                Some(OpenIncident { kind: *kind, since: t.since?.0, items: t.count, announced: t.announced })
            })
            .collect()
    }

    /// When the next digest may go out, if one is waiting.
    pub fn next_digest(&self) -> Option<Timestamp> {
        let waiting = self.tracks.iter().filter(|(_, t)| !t.pending.is_empty()).map(|(k, _)| *k);
        let resolving = self.tracks.values().any(|t| t.resolving).then_some(Kind::Resolved);
        waiting
            .chain(resolving)
            .map(|k| self.last_sent.get(&k).map_or(Timestamp::MIN, |s| later(s.0, RATE_SECONDS)))
            .min()
    }

    /// Whether a message of `kind` may go out at `now` (its last one is an hour old).
    fn may_send(&self, kind: Kind, now: Timestamp) -> bool {
        self.last_sent.get(&kind).is_none_or(|last| now >= later(last.0, RATE_SECONDS))
    }

    fn emit(&mut self, tenant: &str, kinds: &[Kind], now: Timestamp) -> Vec<Message> {
        let mut out = Vec::new();
        for kind in Kind::INCIDENTS {
            let may_send = self.may_send(kind, now);
            let Some(track) = self.tracks.get_mut(&kind) else { continue };
            if track.pending.is_empty() {
                continue;
            }
            let pending = std::mem::take(&mut track.pending);
            if !kinds.contains(&kind) {
                // Off: accounted for, so switching the kind on later does not announce them.
                track.told.extend(pending.into_iter().map(|i| i.key));
                track.folded = false;
                continue;
            }
            if !may_send {
                track.pending = pending;
                track.folded = true;
                continue;
            }
            let text = message::incident(tenant, kind, &pending, track.count, track.announced, track.folded);
            track.told.extend(pending.into_iter().map(|i| i.key));
            track.announced = true;
            track.folded = false;
            self.last_sent.insert(kind, Stamp(now));
            out.push(Message { kind, text });
        }
        let resolving: Vec<Kind> = self.tracks.iter().filter(|(_, t)| t.resolving).map(|(k, _)| *k).collect();
        if !resolving.is_empty() {
            let on = kinds.contains(&Kind::Resolved);
            if on && !self.may_send(Kind::Resolved, now) {
                self.resolved_folded = true;
                return out;
            }
            if on {
                let text = message::resolved(tenant, &resolving, self.resolved_folded);
                self.last_sent.insert(Kind::Resolved, Stamp(now));
                out.push(Message { kind: Kind::Resolved, text });
            }
            for kind in resolving {
                self.tracks.remove(&kind);
            }
            self.resolved_folded = false;
        } else {
            self.resolved_folded = false;
        }
        out
    }
}
