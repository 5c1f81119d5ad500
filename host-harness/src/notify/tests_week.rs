//! A week of random incidents in simulated time: the ledger's invariants hold throughout.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use super::{Item, Kind, Ledger, Message, Snapshot, resolved_phrase};

fn at(minutes: i64) -> Timestamp {
    "2026-12-01T09:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minutes)
}

/// xorshift64*: deterministic, no rand crate.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The world the simulated host reads: which items each kind has now.
#[derive(Default)]
struct World {
    held: BTreeSet<u64>,
    quarantined: BTreeSet<u64>,
    dead: BTreeSet<u64>,
    unauthorized: Option<bool>,
}

const POOL: u64 = 14;

fn label(kind: Kind, n: u64) -> String {
    match kind {
        Kind::Held => format!("<held{n}>"),
        Kind::Quarantine => format!("<quar{n}>"),
        Kind::DeadLetters => format!("<dead{n}>"),
        Kind::Unauthorized => if n == 0 { "<Humaans>" } else { "<Leapsome>" }.to_owned(),
        Kind::Resolved => String::new(),
    }
}

impl World {
    fn set(&mut self, kind: Kind) -> &mut BTreeSet<u64> {
        match kind {
            Kind::Held => &mut self.held,
            Kind::Quarantine => &mut self.quarantined,
            _ => &mut self.dead,
        }
    }

    fn step(&mut self, rng: &mut Prng) {
        for kind in [Kind::Held, Kind::Quarantine, Kind::DeadLetters] {
            let n = rng.next() % POOL;
            let set = self.set(kind);
            if set.is_empty() {
                if rng.chance(2) {
                    set.extend((0..1 + n % 4).map(|i| (n + i) % POOL));
                }
            } else if rng.chance(3) {
                set.clear();
            } else if rng.chance(6) {
                set.insert(n);
            } else if rng.chance(6) {
                set.remove(&n);
            }
        }
        self.unauthorized = match self.unauthorized {
            None if rng.chance(1) => Some(rng.chance(50)),
            Some(_) if rng.chance(5) => None,
            Some(scim) if rng.chance(2) => Some(!scim),
            other => other,
        };
    }

    fn labels(&self, kind: Kind) -> BTreeSet<String> {
        match kind {
            Kind::Held => self.held.iter().map(|n| label(kind, *n)).collect(),
            Kind::Quarantine => self.quarantined.iter().map(|n| label(kind, *n)).collect(),
            Kind::DeadLetters => self.dead.iter().map(|n| label(kind, *n)).collect(),
            Kind::Unauthorized => self.unauthorized.iter().map(|scim| label(kind, u64::from(*scim))).collect(),
            Kind::Resolved => BTreeSet::new(),
        }
    }

    fn snapshot(&self, read_dead_letters: bool) -> Snapshot {
        let items = |kind: Kind| -> Vec<Item> {
            self.labels(kind).into_iter().map(|l| Item::new(l.clone(), l, "why")).collect()
        };
        Snapshot {
            held: items(Kind::Held),
            unauthorized: items(Kind::Unauthorized).pop(),
            quarantined: items(Kind::Quarantine),
            quarantined_total: self.quarantined.len() as u32,
            dead_letters: read_dead_letters.then(|| items(Kind::DeadLetters)),
        }
    }
}

/// A batch of an incident already announced ("3 more …"), told apart from a first message.
fn is_batch(text: &str) -> bool {
    ["more deprovision", "more person", "more people", "more webhook"].iter().any(|m| text.contains(m))
}

/// Runs a week of snapshots every 5 minutes (and `due_digests` between them) with `kinds` on;
/// checks the invariants on every message and returns (messages, digests).
fn simulate_week(seed: u64, kinds: &[Kind]) -> (usize, usize) {
    let mut rng = Prng(seed);
    let mut world = World::default();
    let mut ledger = Ledger::default();
    let mut last: BTreeMap<Kind, Timestamp> = BTreeMap::new();
    let mut announced: BTreeSet<Kind> = BTreeSet::new();
    let mut known_dead = BTreeSet::new();
    let (mut messages, mut digests) = (0, 0);
    let steps = 7 * 24 * 12;
    for step in 0..steps + 40 {
        // The last 40 steps (over 3 hours) close everything: every announced incident must resolve.
        if step < steps {
            world.step(&mut rng);
        } else {
            world = World::default();
        }
        let read = step >= steps || !rng.chance(10);
        if read {
            known_dead = world.labels(Kind::DeadLetters);
        }
        let now = at(step as i64 * 5);
        let mut sent: Vec<(Timestamp, Message)> =
            ledger.observe("acme", &world.snapshot(read), kinds, now).into_iter().map(|m| (now, m)).collect();
        let then = now + SignedDuration::from_mins(2);
        sent.extend(ledger.due_digests("acme", kinds, then).into_iter().map(|m| (then, m)));
        for (now, message) in sent {
            messages += 1;
            digests += usize::from(message.text.contains("Since the last message"));
            assert!(kinds.contains(&message.kind), "{message:?}");
            if let Some(previous) = last.insert(message.kind, now) {
                assert!(
                    now.duration_since(previous) >= SignedDuration::from_hours(1),
                    "two {} within an hour",
                    message.kind
                );
            }
            if message.kind == Kind::Resolved {
                for kind in Kind::INCIDENTS.into_iter().filter(|k| message.text.contains(resolved_phrase(*k))) {
                    assert!(announced.remove(&kind), "{kind} resolved but not announced: {}", message.text);
                    let present = if kind == Kind::DeadLetters { known_dead.clone() } else { world.labels(kind) };
                    assert!(present.is_empty(), "{kind} resolved while open at step {step}");
                }
                continue;
            }
            // (The refused service changing while unauthorized is a second message, worded as the first.)
            if message.kind != Kind::Unauthorized {
                assert_eq!(is_batch(&message.text), announced.contains(&message.kind), "{}", message.text);
            }
            announced.insert(message.kind);
            // Every item named is there now (nothing gone is in a digest).
            let present =
                if message.kind == Kind::DeadLetters { known_dead.clone() } else { world.labels(message.kind) };
            let all: BTreeSet<String> = (0..POOL).map(|n| label(message.kind, n)).collect();
            for gone in all.difference(&present) {
                assert!(!message.text.contains(gone.as_str()), "{gone} is gone: {}", message.text);
            }
        }
    }
    assert_eq!(announced, BTreeSet::new(), "announced incidents never resolved");
    assert_eq!(ledger.open(), vec![]);
    (messages, digests)
}

#[test]
fn a_week_of_random_incidents_keeps_the_invariants() {
    let (messages, digests) = simulate_week(0x9E37_79B9_7F4A_7C15, &Kind::ALL);
    // The run is deterministic: these counts change only with the rules (or the PRNG).
    eprintln!("a week, every kind on: {messages} messages, {digests} of them digests");
    assert!(messages > 50 && digests > 5, "the week exercises the rules: {messages} messages, {digests} digests");
    let (messages, _) = simulate_week(42, &[Kind::Held, Kind::DeadLetters, Kind::Resolved]);
    assert!(messages > 20, "{messages}");
}
