//! Messages waiting to be delivered, with their attempts and backoff, and what delivery did.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Message, Stamp, later};

/// Messages waiting at most; beyond that the oldest is dropped (and counted): a receiver that is
/// down for a week must not grow the tenant's stored state without bound.
pub const MAX_WAITING: usize = 100;
/// Attempts per message; after the last one fails it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// The wait after the 1st, 2nd, … failed attempt, in seconds: 1 s, 4 s, 1 min, 5 min, 30 min, 2 h, 6 h.
pub const BACKOFF: [i64; 7] = [1, 4, 60, 300, 1800, 7200, 21600];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Waiting {
    id: u64,
    message: Message,
    queued: Stamp,
    attempts: u32,
    next_attempt: Stamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LastError {
    at: Stamp,
    error: String,
}

/// Messages waiting to be delivered, and what delivery did (serde, `Default`). Bounded: at most
/// [`MAX_WAITING`] waiting; beyond that the oldest is dropped and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    #[serde(default)]
    waiting: VecDeque<Waiting>,
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    delivered: u64,
    #[serde(default)]
    given_up: u64,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    last_error: Option<LastError>,
}

impl Outbox {
    /// Queues `message`, due at once.
    pub fn push(&mut self, message: &Message, now: Timestamp) {
        if self.waiting.len() >= MAX_WAITING {
            self.waiting.pop_front();
            self.dropped += 1;
        }
        self.next_id += 1;
        self.waiting.push_back(Waiting {
            id: self.next_id,
            message: message.clone(),
            queued: Stamp(now),
            attempts: 0,
            next_attempt: Stamp(now),
        });
    }

    /// Messages due now, in the order they were queued: those before the first that is not due
    /// (backing off, or claimed by a delivery in flight). Later ones wait behind it, so messages
    /// arrive in the order they were raised.
    pub fn due(&self, now: Timestamp) -> Vec<&Message> {
        self.due_prefix(now).map(|w| &w.message).collect()
    }

    fn due_prefix(&self, now: Timestamp) -> impl Iterator<Item = &Waiting> {
        self.waiting.iter().take_while(move |w| w.next_attempt.0 <= now)
    }

    /// When the next delivery can go out: the oldest message's next attempt (the rest wait
    /// behind it).
    pub fn next_attempt(&self) -> Option<Timestamp> {
        self.waiting.front().map(|w| w.next_attempt.0)
    }

    /// Messages waiting (due or backing off).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    pub fn given_up(&self) -> u64 {
        self.given_up
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// For status: waiting count, delivered count, given-up count, dropped count, the next
    /// attempt, the last error and when.
    pub fn summary(&self) -> Value {
        json!({
            "waiting": self.waiting.len(),
            "delivered": self.delivered,
            "given_up": self.given_up,
            "dropped": self.dropped,
            "next_attempt": self.next_attempt().map(|t| format!("{t:.0}")),
            "last_error": self.last_error.as_ref().map(|e| json!({ "at": format!("{:.0}", e.at.0), "error": e.error })),
        })
    }

    /// Takes the due messages out for a delivery made without the tenant's lease (so a receiver
    /// that hangs holds up no call): they stay here, not due again for `hold_seconds`, and come
    /// back due if the delivery's outcome is never [`Outbox::settle`]d (a process that died):
    /// nothing is lost, at worst a message is sent twice.
    pub fn claim(&mut self, now: Timestamp, hold_seconds: i64) -> Outbox {
        let mut taken = Outbox { next_id: self.next_id, ..Outbox::default() };
        for waiting in self.waiting.iter_mut().take_while(|w| w.next_attempt.0 <= now) {
            taken.waiting.push_back(waiting.clone());
            waiting.next_attempt = Stamp(later(now, hold_seconds));
        }
        taken
    }

    /// Records what delivering a [`Outbox::claim`]ed outbox did: messages delivered or given up
    /// leave, the others take their new attempt count and time; the counts and last error add up.
    pub fn settle(&mut self, claimed: &[u64], after: &Outbox) {
        for id in claimed {
            match after.waiting.iter().find(|w| w.id == *id) {
                Some(tried) => {
                    if let Some(mine) = self.waiting.iter_mut().find(|w| w.id == *id) {
                        mine.attempts = tried.attempts;
                        mine.next_attempt = tried.next_attempt;
                    }
                }
                None => self.waiting.retain(|w| w.id != *id),
            }
        }
        self.delivered += after.delivered;
        self.given_up += after.given_up;
        if after.last_error.is_some() {
            self.last_error = after.last_error.clone();
        }
    }

    /// The ids of the messages waiting.
    pub fn ids(&self) -> Vec<u64> {
        self.waiting.iter().map(|w| w.id).collect()
    }

    /// The ids of the due messages, oldest first (delivery goes through them one by one).
    pub(super) fn due_ids(&self, now: Timestamp) -> Vec<u64> {
        self.due_prefix(now).map(|w| w.id).collect()
    }

    pub(super) fn message(&self, id: u64) -> Option<&Message> {
        self.waiting.iter().find(|w| w.id == id).map(|w| &w.message)
    }

    pub(super) fn succeeded(&mut self, id: u64) {
        self.waiting.retain(|w| w.id != id);
        self.delivered += 1;
    }

    /// Counts a failed attempt; returns its number and when the next one is due (`None`: given up).
    pub(super) fn failed(&mut self, id: u64, error: &str, now: Timestamp) -> (u32, Option<Timestamp>) {
        self.last_error = Some(LastError { at: Stamp(now), error: error.to_owned() });
        let Some(at) = self.waiting.iter().position(|w| w.id == id) else { return (0, None) };
        let waiting = &mut self.waiting[at];
        waiting.attempts += 1;
        let attempts = waiting.attempts;
        if attempts >= MAX_ATTEMPTS {
            self.waiting.remove(at);
            self.given_up += 1;
            return (attempts, None);
        }
        let wait = BACKOFF[(attempts as usize - 1).min(BACKOFF.len() - 1)];
        waiting.next_attempt = Stamp(later(now, wait));
        (attempts, Some(waiting.next_attempt.0))
    }
}
