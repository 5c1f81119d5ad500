//! The deprovision brake, pure: every deprovision the integration is about to carry out, from
//! `sync-all`, `tick` or an event, counts against one rolling window per tenant. A batch that
//! would take the window's count above the limit is held, and so is every later deprovision until
//! an operator approves (the brake stays *engaged* while anyone is held). Approved deprovisions
//! do not count.
//!
//! Why a batch is held whole and not cut at the limit: a run (`sync-all`, `tick`) sees its
//! deprovisions all at once, and when they are too many it cannot tell the legitimate few from
//! the mass, so it carries out none (as the brake always did). Events arrive one at a time: the
//! first ones of a bulk offboarding go through until the window is full, the rest are held.
//!
//! The count lives in storage as counters per minute (`brake/r/<minute>` reserved,
//! `brake/x/<minute>` released), only ever incremented (the vendored `wasi:keyvalue` has no
//! compare-and-swap): a call reserves its batch first and then reads the window, so two calls
//! that overlap both see each other's reservation and at worst both hold (never both proceed
//! past the limit). A reservation that is held, or whose write failed, is released.

use jiff::Timestamp;

/// The default window: a day.
pub const DEFAULT_WINDOW_MINUTES: u32 = 24 * 60;
/// The longest window accepted: 30 days.
pub const MAX_WINDOW_MINUTES: u32 = 30 * 24 * 60;

pub const RESERVED_PREFIX: &str = "brake/r/";
pub const RELEASED_PREFIX: &str = "brake/x/";
/// Present while the brake is engaged (someone is held): its value is when it engaged.
pub const ENGAGED_KEY: &str = "brake/engaged";

/// The window in minutes the settings give.
pub fn window_minutes(setting: Option<u32>) -> u32 {
    setting.unwrap_or(DEFAULT_WINDOW_MINUTES)
}

/// The minute a time falls in: the counters' key.
pub fn minute_of(at: Timestamp) -> i64 {
    // jiff's seconds round toward zero (a negative time carries negative nanoseconds): floor them.
    let seconds = at.as_second() - i64::from(at.subsec_nanosecond() < 0);
    seconds.div_euclid(60)
}

/// Whether a counter of this minute still counts at `now`: the window is the last `window`
/// minutes, this one included.
pub fn in_window(minute: i64, now: Timestamp, window: u32) -> bool {
    minute > minute_of(now) - i64::from(window)
}

/// A counter key's minute, if the key is one of the brake's counters.
pub fn counter_minute(key: &str) -> Option<(bool, i64)> {
    if let Some(m) = key.strip_prefix(RESERVED_PREFIX) {
        return m.parse().ok().map(|m| (true, m));
    }
    key.strip_prefix(RELEASED_PREFIX).and_then(|m| m.parse().ok()).map(|m| (false, m))
}

/// Deprovisions counted in the window: reserved minus released over the counters that count.
/// `counters`: (reserved?, minute, value).
pub fn count_in_window(counters: &[(bool, i64, u64)], now: Timestamp, window: u32) -> u64 {
    let (mut reserved, mut released) = (0u64, 0u64);
    for &(is_reserved, minute, value) in counters {
        if in_window(minute, now, window) {
            if is_reserved {
                reserved = reserved.saturating_add(value);
            } else {
                released = released.saturating_add(value);
            }
        }
    }
    reserved.saturating_sub(released)
}

/// What the brake says about a batch of deprovisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Carry them out.
    Proceed,
    /// Hold them all, for this reason.
    Hold(String),
}

/// Judges a batch of `batch` deprovisions. `counted` is the window's count *including* this
/// batch (the caller reserved it first), `engaged` whether someone is already held.
pub fn judge(batch: usize, counted: u64, limit: usize, window: u32, engaged: bool) -> Verdict {
    if batch == 0 {
        return Verdict::Proceed;
    }
    let approve = "approve with `approve --person ID`, or all with `sync-all --approve-deprovisions`";
    if engaged {
        return Verdict::Hold(format!(
            "{HELD}: earlier deprovisions are held and wait for approval, so every later one waits too; {approve}"
        ));
    }
    if counted > limit as u64 {
        let earlier = counted.saturating_sub(batch as u64);
        return Verdict::Hold(format!(
            "{HELD}: {batch} more would make {counted} deprovisions in {} ({earlier} already), over the limit of {limit}; {approve}",
            describe_window(window)
        ));
    }
    Verdict::Proceed
}

pub const HELD: &str = "deprovision held";

/// `1440` → "24 hours", `90` → "90 minutes", `2880` → "2 days".
pub fn describe_window(minutes: u32) -> String {
    let plural = |n: u32, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if minutes.is_multiple_of(24 * 60) && minutes > 24 * 60 {
        plural(minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn at(hour: i8, minute: i8) -> Timestamp {
        jiff::tz::Offset::UTC.to_timestamp(jiff::civil::date(2026, 12, 7).at(hour, minute, 0, 0)).unwrap()
    }

    #[test]
    fn the_window_counts_the_last_n_minutes_this_one_included() {
        let now = at(12, 0);
        let m = minute_of(now);
        assert!(in_window(m, now, 1));
        assert!(!in_window(m - 1, now, 1));
        assert!(in_window(m - 1439, now, 1440));
        assert!(!in_window(m - 1440, now, 1440));
        assert!(in_window(m + 5, now, 60), "a counter from a clock slightly ahead still counts");
    }

    #[test]
    fn released_reservations_do_not_count_and_old_ones_drop_out() {
        let now = at(12, 0);
        let m = minute_of(now);
        let counters = [(true, m, 5), (false, m, 2), (true, m - 600, 4), (true, m - 2000, 50), (false, m - 2000, 1)];
        assert_eq!(count_in_window(&counters, now, 1440), 7);
        assert_eq!(count_in_window(&counters, now, 60), 3);
        // More released than reserved (a release counted where its reservation expired) is 0.
        assert_eq!(count_in_window(&[(false, m, 3)], now, 60), 0);
    }

    #[test]
    fn a_batch_over_the_limit_is_held_whole_and_engaged_holds_everything() {
        assert_eq!(judge(0, 100, 5, 1440, true), Verdict::Proceed);
        assert_eq!(judge(5, 5, 5, 1440, false), Verdict::Proceed);
        match judge(3, 7, 5, 1440, false) {
            Verdict::Hold(why) => {
                assert!(why.starts_with(HELD), "{why}");
                assert!(why.contains("7 deprovisions in 24 hours (4 already), over the limit of 5"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(judge(1, 1, 5, 1440, true), Verdict::Hold(w) if w.contains("earlier deprovisions are held")));
    }

    #[test]
    fn windows_are_described_in_plain_words() {
        assert_eq!(describe_window(1440), "24 hours");
        assert_eq!(describe_window(2880), "2 days");
        assert_eq!(describe_window(90), "90 minutes");
        assert_eq!(describe_window(1), "1 minute");
    }

    /// A simulated fortnight: offboardings arrive at random, one event each, and the brake's
    /// invariant holds at every step: within any window, at most `limit` deprovisions are carried
    /// out without approval; once one is held, nothing more goes through until approval.
    #[test]
    fn simulated_weeks_of_offboardings_never_exceed_the_limit_in_any_window() {
        let (limit, window) = (5usize, 1440u32);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let start = at(0, 0);
        let mut counters: Vec<(bool, i64, u64)> = Vec::new();
        let mut carried_out: Vec<Timestamp> = Vec::new();
        let mut engaged = false;
        let mut held = 0;
        let mut now = start;
        while now < start + SignedDuration::from_hours(14 * 24) {
            now += SignedDuration::from_mins((next() % 240) as i64);
            // Sometimes a burst (a bulk offboarding), mostly one person.
            let batch = if next() % 10 == 0 { 1 + (next() % 12) as usize } else { 1 };
            for _ in 0..batch {
                counters.push((true, minute_of(now), 1));
                let counted = count_in_window(&counters, now, window);
                match judge(1, counted, limit, window, engaged) {
                    Verdict::Proceed => carried_out.push(now),
                    Verdict::Hold(_) => {
                        counters.push((false, minute_of(now), 1));
                        engaged = true;
                        held += 1;
                    }
                }
            }
            // The operator approves now and then: approved ones do not count.
            if engaged && next() % 6 == 0 {
                engaged = false;
            }
            for &t in &carried_out {
                let in_this_window =
                    carried_out.iter().filter(|&&u| u >= t && minute_of(u) < minute_of(t) + i64::from(window)).count();
                assert!(in_this_window <= limit, "{in_this_window} deprovisions within a window from {t}");
            }
        }
        assert!(held > 0 && carried_out.len() > 10, "the simulation exercised both sides: {held} held");
    }
}
