//! Per-person retry rules: exponential backoff after failures, quarantine after a week of
//! permanent refusals, and the "logged once" notes. Pure: the shell stores a [`PersonState`] per
//! person (`sched/<person id>`) and asks these functions what to do.
//!
//! Anchored on Entra ID's provisioning quarantine (reference/provisioning-anchors.md): a person
//! who keeps failing stops costing a request and two log lines every tick.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::timing::{format_time, parse_time};

/// The first retry waits this long; each later one twice the previous.
pub const FIRST_BACKOFF_MINUTES: i64 = 15;
/// Backoff never exceeds a day.
pub const MAX_BACKOFF_HOURS: i64 = 24;
/// Permanent refusals for this long put the person in quarantine.
pub const QUARANTINE_AFTER_DAYS: i64 = 7;

/// What the integration remembers about one person between calls, besides their link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    /// Look at the person again at this time (start date, last working day, next job role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<String>,
    /// Their manager link waits for the manager's own account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manager_pending: bool,
    /// Boxed, as is `quarantine`: rare, and a sync holds a record (twice) for everyone whose
    /// state it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Box<Failures>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Box<Quarantine>>,
    /// Their deprovision is held for approval since this time (mass-deprovisioning brake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<String>,
    /// Which kind of call wanted the held deprovision, and why it was held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Box<HeldBy>>,
    /// The last condition logged for them that is logged once (a duplicate email, a manager who
    /// will never have an account); cleared when the condition goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noted: Option<String>,
}

/// Stored as `{"path": "event" | "tick" | "sync", "reason": text}`. Read and written by hand, not
/// derived: serde's derives of this struct and the enum weighed about 2.5 KB of component, where
/// reading goes through the JSON tree every SCIM page is read with (`remote::Json`, already there)
/// and writing is one small function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub path: HeldPath,
    pub reason: String,
}

/// The kind of call that wanted a deprovision the brake held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldPath {
    Event,
    Tick,
    Sync,
}

impl HeldPath {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldPath::Event => "event",
            HeldPath::Tick => "tick",
            HeldPath::Sync => "sync",
        }
    }

    fn from_name(name: &str) -> Option<HeldPath> {
        [HeldPath::Event, HeldPath::Tick, HeldPath::Sync].into_iter().find(|p| p.as_str() == name)
    }
}

impl Serialize for HeldBy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut held = serializer.serialize_struct("HeldBy", 2)?;
        held.serialize_field("path", self.path.as_str())?;
        held.serialize_field("reason", &self.reason)?;
        held.end()
    }
}

impl<'de> Deserialize<'de> for HeldBy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use super::remote::Json;
        let Json::Object(members) = Json::deserialize(deserializer)? else {
            return Err(serde::de::Error::custom("a held deprovision is an object"));
        };
        // The last of a repeated name, as elsewhere (`remote::lookup`).
        let text = |name: &str| {
            members.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| match v {
                Json::Str(s) => Some(s.as_ref()),
                _ => None,
            })
        };
        let path = text("path")
            .and_then(HeldPath::from_name)
            .ok_or_else(|| serde::de::Error::custom("a held deprovision's path is `event`, `tick` or `sync`"))?;
        let reason = text("reason").ok_or_else(|| serde::de::Error::custom("a held deprovision's reason is text"))?;
        Ok(HeldBy { path, reason: reason.to_owned() })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    pub count: u32,
    /// The first failure of this run of failures.
    pub first_at: String,
    /// The first permanent refusal (a 4xx other than 408/429) of this run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_permanent_at: Option<String>,
    pub next_retry: String,
    pub last_error: String,
    /// The person's Humaans data when it last failed: a change lifts the backoff.
    pub fingerprint: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub since: String,
    pub reason: String,
    pub fingerprint: u64,
}

/// Whether to attempt the person now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Yes,
    /// Failing; try again at this time.
    Backoff(Timestamp),
    Quarantined,
}

/// What a failure did to the person's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureOutcome {
    RetryAt(Timestamp),
    /// This failure put them in quarantine (log it, once).
    Quarantined,
}

impl PersonState {
    pub fn is_empty(&self) -> bool {
        *self == PersonState::default()
    }

    /// Whether a tick should look at the person now.
    pub fn is_due(&self, now: Timestamp) -> bool {
        if self.quarantine.is_some() {
            return false;
        }
        if let Some(f) = &self.failures {
            return parse_time(&f.next_retry).is_none_or(|t| t <= now);
        }
        self.manager_pending || self.wake_at.as_deref().is_some_and(|w| parse_time(w).is_none_or(|t| t <= now))
    }

    /// The earliest future time the person needs a tick, if any.
    pub fn next_due(&self, now: Timestamp) -> Option<Timestamp> {
        if self.quarantine.is_some() {
            return None;
        }
        let retry = self.failures.as_ref().and_then(|f| parse_time(&f.next_retry));
        let wake = self.wake_at.as_deref().and_then(parse_time);
        [retry, wake].into_iter().flatten().filter(|t| *t > now).min()
    }

    /// Whether to attempt the person, given their Humaans data now (`fingerprint`). A change in
    /// their data lifts backoff and quarantine; the caller logs the lift.
    pub fn attempt(&self, now: Timestamp, fingerprint: u64) -> Attempt {
        if let Some(q) = &self.quarantine {
            return if q.fingerprint == fingerprint { Attempt::Quarantined } else { Attempt::Yes };
        }
        match &self.failures {
            Some(f) if f.fingerprint == fingerprint => match parse_time(&f.next_retry) {
                Some(at) if at > now => Attempt::Backoff(at),
                _ => Attempt::Yes,
            },
            _ => Attempt::Yes,
        }
    }

    /// Records a failed attempt. Backoff doubles from 15 minutes up to a day. Only permanent
    /// refusals (the data is wrong for the service) lead to quarantine, after 7 days: an outage
    /// of a week must not quarantine the whole organisation, it is retried daily instead.
    pub fn record_failure(&mut self, now: Timestamp, error: &str, permanent: bool, fingerprint: u64) -> FailureOutcome {
        let previous = self.failures.take();
        let count = previous.as_ref().map_or(0, |f| f.count) + 1;
        let first_at = previous.as_ref().map_or_else(|| format_time(now), |f| f.first_at.clone());
        let first_permanent_at = match (previous.as_ref().and_then(|f| f.first_permanent_at.clone()), permanent) {
            (Some(at), true) => Some(at),
            (None, true) => Some(format_time(now)),
            (_, false) => None,
        };
        if let Some(since) = first_permanent_at.as_deref().and_then(parse_time)
            && now.duration_since(since) >= SignedDuration::from_hours(24 * QUARANTINE_AFTER_DAYS)
        {
            self.quarantine =
                Some(Box::new(Quarantine { since: format_time(now), reason: error.to_owned(), fingerprint }));
            return FailureOutcome::Quarantined;
        }
        let retry_at = super::timing::after(now, backoff(count));
        self.failures = Some(Box::new(Failures {
            count,
            first_at,
            first_permanent_at,
            next_retry: format_time(retry_at),
            last_error: error.to_owned(),
            fingerprint,
        }));
        FailureOutcome::RetryAt(retry_at)
    }

    /// A successful attempt ends backoff and quarantine. Returns whether there was any.
    pub fn record_success(&mut self) -> bool {
        let had = self.failures.is_some() || self.quarantine.is_some();
        self.failures = None;
        self.quarantine = None;
        had
    }

    /// An operator's `retry`: try at the next tick. Returns whether anything was lifted.
    pub fn lift(&mut self, now: Timestamp) -> bool {
        let had = self.record_success();
        if had {
            self.wake_at = Some(format_time(now));
        }
        had
    }
}

/// The wait after the `count`-th consecutive failure: 15 min, 30 min, 1 h, ... capped at 24 h.
pub fn backoff(count: u32) -> SignedDuration {
    let cap = SignedDuration::from_hours(MAX_BACKOFF_HOURS);
    let doublings = count.saturating_sub(1).min(16);
    SignedDuration::from_mins(FIRST_BACKOFF_MINUTES * (1i64 << doublings)).min(cap)
}

/// A stable fingerprint of the inputs that come from Humaans (FNV-1a of their debug form): when
/// it changes, the person's record changed and a quarantined person is tried again.
pub fn fingerprint(parts: &[&dyn std::fmt::Debug]) -> u64 {
    /// FNV-1a over the text as it is written (no string built: this runs for every person).
    struct Fnv(u64);
    impl std::fmt::Write for Fnv {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for byte in s.bytes() {
                self.0 ^= u64::from(byte);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
            Ok(())
        }
    }
    let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
    for part in parts {
        let _ = std::fmt::Write::write_fmt(&mut hash, format_args!("{part:?}"));
    }
    hash.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fingerprints are stored (quarantine): the value for a given record must never change.
    #[test]
    fn fingerprints_are_fnv1a_of_the_debug_text() {
        let reference = |parts: &[&dyn std::fmt::Debug]| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for part in parts {
                for byte in format!("{part:?}").bytes() {
                    hash ^= u64::from(byte);
                    hash = hash.wrapping_mul(0x0100_0000_01b3);
                }
            }
            hash
        };
        let person = crate::reconcile::Person::from(crate::reconcile::PersonFields {
            id: "p1".into(),
            email: Some("a@b.test".into()),
            ..Default::default()
        });
        let roles = vec![crate::reconcile::JobRole::from(crate::reconcile::JobRoleFields {
            id: "r1".into(),
            ..Default::default()
        })];
        let parts: [&dyn std::fmt::Debug; 2] = [&Some(&person), &Some(&roles)];
        assert_eq!(fingerprint(&parts), reference(&parts));
        assert_eq!(fingerprint(&[]), 0xcbf2_9ce4_8422_2325);
    }

    fn t(s: &str) -> Timestamp {
        parse_time(s).unwrap()
    }

    fn days(n: i64) -> SignedDuration {
        SignedDuration::from_hours(24 * n)
    }

    #[test]
    fn backoff_doubles_from_15_minutes_and_caps_at_a_day() {
        let minutes: Vec<i64> = (1..=9).map(|n| backoff(n).as_mins()).collect();
        assert_eq!(minutes, vec![15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(backoff(1000).as_hours(), 24);
    }

    #[test]
    fn a_failure_waits_and_an_unchanged_person_is_not_attempted_before_then() {
        let mut s = PersonState::default();
        let now = t("2026-12-01T10:00:00Z");
        assert_eq!(
            s.record_failure(now, "400 bad domain", true, 7),
            FailureOutcome::RetryAt(t("2026-12-01T10:15:00Z"))
        );
        assert_eq!(s.attempt(t("2026-12-01T10:14:59Z"), 7), Attempt::Backoff(t("2026-12-01T10:15:00Z")));
        assert!(!s.is_due(t("2026-12-01T10:14:59Z")));
        assert!(s.is_due(t("2026-12-01T10:15:00Z")));
        assert_eq!(s.attempt(t("2026-12-01T10:15:00Z"), 7), Attempt::Yes);
        // A change in Humaans lifts the backoff at once.
        assert_eq!(s.attempt(t("2026-12-01T10:01:00Z"), 8), Attempt::Yes);
        assert_eq!(s.next_due(now), Some(t("2026-12-01T10:15:00Z")));
    }

    #[test]
    fn a_week_of_permanent_refusals_quarantines_until_the_record_changes() {
        let mut s = PersonState::default();
        let mut now = t("2026-12-01T00:00:00Z");
        let mut quarantined_at = None;
        for _ in 0..100 {
            match s.record_failure(now, "400 bad domain", true, 1) {
                FailureOutcome::RetryAt(at) => now = at,
                FailureOutcome::Quarantined => {
                    quarantined_at = Some(now);
                    break;
                }
            }
        }
        let at = quarantined_at.expect("quarantined");
        assert!(at.duration_since(t("2026-12-01T00:00:00Z")) >= days(7));
        assert!(at.duration_since(t("2026-12-01T00:00:00Z")) < days(8));
        assert!(!s.is_due(at + days(30)));
        assert_eq!(s.next_due(at), None);
        assert_eq!(s.attempt(at + days(30), 1), Attempt::Quarantined);
        assert_eq!(s.attempt(at + days(30), 2), Attempt::Yes, "changed record");
        assert!(s.lift(at));
        assert!(s.is_due(at));
        assert!(!s.lift(at), "nothing left to lift");
    }

    /// Records as the chrono version wrote them (printed by it for this very sequence, from a
    /// `now` with an offset and a fraction): jiff writes the same bytes, and reads them back to
    /// the same decisions.
    #[test]
    fn records_read_and_written_as_the_chrono_version_did() {
        let written_by_chrono = [
            r#"{"failures":{"count":1,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-01T09:15:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":2,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-01T09:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":3,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-01T10:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":4,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-01T12:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":5,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-01T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":6,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-02T00:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":7,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-02T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":8,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-03T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":9,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-04T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":10,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-05T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":11,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-06T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":12,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-07T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"failures":{"count":13,"first_at":"2026-12-01T09:00:00Z","first_permanent_at":"2026-12-01T09:00:00Z","next_retry":"2026-12-08T16:45:00Z","last_error":"400 bad domain","fingerprint":7}}"#,
            r#"{"quarantine":{"since":"2026-12-08T16:45:00Z","reason":"400 bad domain","fingerprint":7}}"#,
            r#"{"wake_at":"2026-12-08T16:45:00Z"}"#,
        ];
        let mut written = Vec::new();
        let mut s = PersonState::default();
        let mut now = t("2026-12-01T10:00:00.750+01:00");
        loop {
            let out = s.record_failure(now, "400 bad domain", true, 7);
            written.push(serde_json::to_string(&s).unwrap());
            match out {
                FailureOutcome::RetryAt(at) => now = at,
                FailureOutcome::Quarantined => break,
            }
        }
        s.lift(now);
        written.push(serde_json::to_string(&s).unwrap());
        assert_eq!(written, written_by_chrono);

        // Read back: each failure record waits until its next retry, to the second.
        for json in &written_by_chrono[..13] {
            let old: PersonState = serde_json::from_str(json).unwrap();
            let retry = t(&old.failures.as_ref().unwrap().next_retry);
            let before = retry - SignedDuration::from_secs(1);
            assert_eq!(old.attempt(before, 7), Attempt::Backoff(retry), "{json}");
            assert!(!old.is_due(before) && old.is_due(retry), "{json}");
            assert_eq!(old.next_due(before), Some(retry));
            assert_eq!(serde_json::to_string(&old).unwrap(), *json, "rewritten unchanged");
        }
        let quarantined: PersonState = serde_json::from_str(written_by_chrono[13]).unwrap();
        assert_eq!(quarantined.attempt(t("2027-01-01T00:00:00Z"), 7), Attempt::Quarantined);
        let lifted: PersonState = serde_json::from_str(written_by_chrono[14]).unwrap();
        assert!(!lifted.is_due(t("2026-12-08T16:44:59Z")) && lifted.is_due(t("2026-12-08T16:45:00Z")));
    }

    #[test]
    fn transient_failures_back_off_but_never_quarantine() {
        let mut s = PersonState::default();
        let mut now = t("2026-12-01T00:00:00Z");
        for _ in 0..40 {
            match s.record_failure(now, "503", false, 1) {
                FailureOutcome::RetryAt(at) => now = at,
                FailureOutcome::Quarantined => panic!("an outage quarantined a person"),
            }
        }
        assert!(now.duration_since(t("2026-12-01T00:00:00Z")) > days(20));
        assert!(s.record_success());
        assert!(s.is_empty());
    }

    #[test]
    fn state_round_trips_compactly() {
        let s = PersonState { manager_pending: true, ..PersonState::default() };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"manager_pending":true}"#);
        assert_eq!(serde_json::from_str::<PersonState>(&json).unwrap(), s);
        assert_eq!(serde_json::to_string(&PersonState::default()).unwrap(), "{}");
    }

    /// Held records as the version with serde's derives wrote them: read the same, and written
    /// back byte for byte; a damaged one is an error (the record is unreadable), never a guess.
    #[test]
    fn held_records_read_and_written_as_the_derived_version_did() {
        for (path, name) in [(HeldPath::Event, "event"), (HeldPath::Tick, "tick"), (HeldPath::Sync, "sync")] {
            let json = format!(
                r#"{{"held_since":"2026-12-01T09:00:00Z","held":{{"path":"{name}","reason":"12 over the limit of 5 \"a\""}}}}"#
            );
            let s: PersonState = serde_json::from_str(&json).unwrap();
            assert_eq!(s.held_since.as_deref(), Some("2026-12-01T09:00:00Z"));
            assert_eq!(s.held, Some(Box::new(HeldBy { path, reason: "12 over the limit of 5 \"a\"".into() })));
            assert_eq!(serde_json::to_string(&s).unwrap(), json);
        }
        // Members in either order, and others beside them, as a derived reader took them.
        let s: PersonState =
            serde_json::from_str(r#"{"held":{"reason":"r","other":[1,{}],"path":"tick"},"noted":"n"}"#).unwrap();
        assert_eq!(s.held, Some(Box::new(HeldBy { path: HeldPath::Tick, reason: "r".into() })));
        assert_eq!(s.noted.as_deref(), Some("n"));
        for damaged in [
            r#"{"held":{"path":"later","reason":"r"}}"#,
            r#"{"held":{"path":"sync"}}"#,
            r#"{"held":{"path":"sync","reason":7}}"#,
            r#"{"held":"sync"}"#,
            r#"{"held":{"path":"sync","reason":"r"}"#,
        ] {
            assert!(serde_json::from_str::<PersonState>(damaged).is_err(), "{damaged}");
        }
    }

    #[test]
    fn fingerprint_changes_with_the_data() {
        assert_eq!(fingerprint(&[&"a", &1]), fingerprint(&[&"a", &1]));
        assert_ne!(fingerprint(&[&"a", &1]), fingerprint(&[&"a", &2]));
    }

    /// Weeks of simulated ticks every 5 minutes with random outcomes (seeded): the invariants of
    /// backoff and quarantine hold on every step.
    #[test]
    fn weeks_of_random_ticks_keep_the_invariants() {
        for seed in 1..=40u64 {
            let mut rng = seed;
            let mut next = move || {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                rng >> 33
            };
            let mut s = PersonState::default();
            let start = t("2026-12-01T00:00:00Z");
            let mut now = start;
            let mut fingerprint = 1;
            let mut permanent_since: Option<Timestamp> = None;
            let mut last_attempt: Option<Timestamp> = None;
            while now < start + days(21) {
                if next() % 2000 == 0 {
                    fingerprint += 1; // someone edits the person in Humaans
                }
                match s.attempt(now, fingerprint) {
                    Attempt::Quarantined => assert!(s.quarantine.is_some()),
                    Attempt::Backoff(at) => {
                        assert!(at > now);
                        assert!(at.duration_since(now) <= SignedDuration::from_hours(MAX_BACKOFF_HOURS));
                    }
                    Attempt::Yes => {
                        if let Some(previous) = last_attempt
                            && s.failures.as_ref().is_some_and(|f| f.fingerprint == fingerprint)
                        {
                            assert!(
                                now.duration_since(previous) >= SignedDuration::from_mins(FIRST_BACKOFF_MINUTES),
                                "seed {seed}"
                            );
                        }
                        last_attempt = Some(now);
                        s.quarantine = None;
                        match next() % 10 {
                            0..=5 => {
                                s.record_success();
                                permanent_since = None;
                            }
                            6 | 7 => {
                                permanent_since = None;
                                let out = s.record_failure(now, "503", false, fingerprint);
                                assert!(matches!(out, FailureOutcome::RetryAt(_)), "an outage never quarantines");
                            }
                            _ => {
                                let since = *permanent_since.get_or_insert(now);
                                if let FailureOutcome::Quarantined = s.record_failure(now, "400", true, fingerprint) {
                                    assert!(now.duration_since(since) >= days(QUARANTINE_AFTER_DAYS), "seed {seed}");
                                }
                            }
                        }
                    }
                }
                now += SignedDuration::from_mins(5);
            }
        }
    }
}
