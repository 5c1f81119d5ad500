//! When things fall due: provisioning by timing setting, deprovisioning at the last working day,
//! all in the person's own timezone (falling back to UTC when Humaans has none or an unknown one).

use jiff::civil::{Date, Time};
use jiff::tz::{Offset, TimeZone as Tz};
use jiff::{SignedDuration, Timestamp};

use super::mapping::parse_date;
use super::model::{JobRole, Person, ProvisionTiming};

// Timezones come from jiff's bundled, compact tz database (about 200 KB, against about 900 KB of
// tables for chrono-tz): the component's size is part of what it costs a host to load it.

/// The person's IANA timezone, UTC when Humaans has none or one we do not know.
pub fn person_tz(person: &Person) -> Tz {
    person.timezone().map_or(Tz::UTC, zone_named)
}

/// Zones looked up by name at most: an organisation has a handful.
const ZONES_REMEMBERED: usize = 64;

/// The zone of this IANA name (UTC if unknown), each name looked up once: finding a zone in
/// the bundled database and reading its rules cost more than the rest of working out a
/// person's date, and that is done several times for every person of a sync.
fn zone_named(name: &str) -> Tz {
    thread_local! {
        static ZONES: std::cell::RefCell<Vec<(String, Tz)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ZONES.with_borrow_mut(|zones| {
        if let Some((_, tz)) = zones.iter().find(|(known, _)| known == name) {
            return tz.clone();
        }
        let tz = Tz::get(name).unwrap_or(Tz::UTC);
        if zones.len() < ZONES_REMEMBERED {
            zones.push((name.to_owned(), tz.clone()));
        }
        tz
    })
}

/// The calendar date it is for this person at `now`.
pub fn person_today(person: &Person, now: Timestamp) -> Date {
    person_tz(person).to_datetime(now).date()
}

/// Midnight at the start of `date` in `tz`. A midnight skipped by a DST change falls to the first
/// instant of the day that exists. Midnight in UTC when the zone cannot place it, and jiff's last
/// instant for the days after it (9999-12-30T22:00Z; `parse_date` reads years up to 9999).
pub fn start_of_day(date: Date, tz: Tz) -> Timestamp {
    match date.to_zoned(tz) {
        Ok(zoned) => zoned.timestamp(),
        Err(_) => Offset::UTC.to_timestamp(date.to_datetime(Time::midnight())).unwrap_or(Timestamp::MAX),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    NewHire,
    Offboarded,
    Unknown,
}

/// The employment status, in any letter case and with `_`, `-` or spaces anywhere (`new_hire`,
/// `New Hire`). Compared in place: it is read several times for every person.
pub fn status(person: &Person) -> Status {
    let Some(status) = person.status() else { return Status::Unknown };
    let normalized = status.bytes().filter(|b| !matches!(b, b'_' | b' ' | b'-')).map(|b| b.to_ascii_lowercase());
    let is = |word: &str| normalized.clone().eq(word.bytes());
    if is("active") {
        Status::Active
    } else if is("newhire") {
        Status::NewHire
    } else if is("offboarded") {
        Status::Offboarded
    } else {
        Status::Unknown
    }
}

/// When provisioning falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Now,
    At(Timestamp),
    /// Never, for this reason (e.g. a new hire without a start date under `immediately`).
    Never(String),
}

/// Whether and when a person's account should be created under `timing`.
///
/// - `immediately`: active members now; new hires when their start date begins (that is when
///   Humaans makes them members).
/// - `on-start-date`: when the start date begins in the person's timezone.
/// - `days-before-start(n)`: n days before that (new hires included: pre-boarding).
///
/// Without a start date, active members are due now and new hires never (nothing to wait for).
pub fn provisioning_due(person: &Person, timing: ProvisionTiming, now: Timestamp) -> Due {
    let tz = person_tz(person);
    let st = status(person);
    let start = person.employment_start_date().and_then(parse_date);
    let Some(start) = start else {
        return match st {
            Status::Active => Due::Now,
            _ => Due::Never("no employment start date in Humaans".into()),
        };
    };
    let at = match timing {
        ProvisionTiming::Immediately if st == Status::Active => return Due::Now,
        ProvisionTiming::Immediately | ProvisionTiming::OnStartDate => start_of_day(start, tz),
        ProvisionTiming::DaysBeforeStart(n) => start_of_day(days_before(start, n).unwrap_or(start), tz),
    };
    if at <= now { Due::Now } else { Due::At(at) }
}

/// When the person's last working day has passed: the start of the following day in their
/// timezone. `None` without a last working day, or when the last working day belongs to an
/// earlier employment (a rehire keeps their old last working day, before the new start date).
pub fn last_day_passed_at(person: &Person) -> Option<Timestamp> {
    let last = person.last_working_day().and_then(parse_date)?;
    let start = person.employment_start_date().and_then(parse_date);
    if start.is_some_and(|start| start > last) {
        return None;
    }
    Some(start_of_day(last.tomorrow().ok()?, person_tz(person)))
}

/// When the person's current job role next changes: the earliest future `effectiveDate`, or the
/// day after the current role's end date, at midnight in their timezone.
pub fn next_role_change_at(person: &Person, roles: &[JobRole], today: Date) -> Option<Timestamp> {
    let starts = roles.iter().filter_map(|r| parse_date(r.effective_date()?)).filter(|d| *d > today);
    let ends = roles.iter().filter_map(|r| parse_date(r.end_date()?)?.tomorrow().ok()).filter(|d| *d > today);
    starts.chain(ends).min().map(|d| start_of_day(d, person_tz(person)))
}

/// Offboarded: status `offboarded`, or the last working day is over.
pub fn is_offboarded(person: &Person, now: Timestamp) -> bool {
    status(person) == Status::Offboarded || last_day_passed_at(person).is_some_and(|at| at <= now)
}

/// The clock's time. Read here rather than with `Timestamp::now`, whose `expect` links jiff's error
/// formatting into the component: with `Timestamp + d` and `Date::checked_sub` (which brings span
/// arithmetic), 141 KB of it (1,207,717 bytes against 1,066,013). A clock before 1970 reads as
/// the epoch.
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    SignedDuration::try_from(since_epoch).ok().and_then(|d| Timestamp::from_duration(d).ok()).unwrap_or_default()
}

/// `t` plus `d`, held at jiff's first and last instants. Not `t + d`, which panics with jiff's
/// error formatting (see [`now`]).
pub fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    let sum = t.as_duration().saturating_add(d);
    Timestamp::from_duration(sum).unwrap_or(if sum.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// The date `n` days before `date`, through the instants (jiff's date arithmetic takes calendar
/// spans too, and brings their code along).
fn days_before(date: Date, n: u16) -> Option<Date> {
    let midnight = Offset::UTC.to_timestamp(date.to_datetime(Time::midnight())).ok()?;
    let earlier = midnight.as_duration().saturating_sub(SignedDuration::from_hours(24 * i64::from(n)));
    Some(Offset::UTC.to_datetime(Timestamp::from_duration(earlier).ok()?).date())
}

/// Reads an RFC 3339 time, exactly the shapes chrono's `parse_from_rfc3339` read before the
/// component moved to jiff (times written by older versions, hosts' `now`, webhook timestamps):
/// `YYYY-MM-DD`, `T`, `t` or a space, `HH:MM:SS`, an optional fraction of any length (nanoseconds
/// kept), then `Z`, `z` or `±HH:MM` (up to 23:59; `−`, U+2212, as a minus too), with surrounding
/// whitespace trimmed. jiff's own parser reads more (`+0100`, no seconds, `[zone]` suffixes), so
/// this is written out. Two edges differ from chrono: a leap second (`:60`) reads as `:59`, as
/// jiff's parser reads it (jiff has no leap seconds), and times past 9999-12-30T22:00Z, jiff's last
/// instant, are not read.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let b = s.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let two = |i: usize| two_digits(b[i], b[i + 1]);
    let year = two(0)? * 100 + two(2)?;
    let (month, day, hour, minute, second) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Digits past the ninth are read and dropped, as chrono did.
        let scale = [100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
        nanos = fraction[..digits].iter().zip(scale).map(|(d, scale)| i32::from(d - b'0') * scale).sum();
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [b'+', h1, h2, b':', m1, m2] => offset_minutes(*h1, *h2, *m1, *m2)?,
        [b'-', h1, h2, b':', m1, m2] | [0xE2, 0x88, 0x92, h1, h2, b':', m1, m2] => -offset_minutes(*h1, *h2, *m1, *m2)?,
        _ => return None,
    };
    let second = if second == 60 { 59 } else { second };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(Date::new(year, month as i8, day as i8).ok()?);
    let local = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
    Timestamp::new(local - i64::from(offset_minutes) * 60, nanos).ok()
}

// Days since 1970-01-01 and back, by Howard Hinnant's civil-calendar algorithms: a few dozen
// instructions where jiff's conversions through its civil types cost several hundred (measured
// with callgrind), and every stored time a tick looks at is read, and every one written is
// formatted. Checked against jiff for every day of years 0 to 9999 (unit test).
fn days_from_civil(date: Date) -> i64 {
    let (month, day) = (i64::from(date.month()), i64::from(date.day()));
    let year = i64::from(date.year()) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_based_month + 2) / 5 + 1;
    let month = if march_based_month < 10 { march_based_month + 3 } else { march_based_month - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

fn two_digits(tens: u8, ones: u8) -> Option<i16> {
    (tens.is_ascii_digit() && ones.is_ascii_digit()).then(|| i16::from(tens - b'0') * 10 + i16::from(ones - b'0'))
}

/// An offset's `HH` and `MM` in minutes: hours up to 23, minutes up to 59.
fn offset_minutes(h1: u8, h2: u8, m1: u8, m2: u8) -> Option<i32> {
    let (hours, minutes) = (two_digits(h1, h2)?, two_digits(m1, m2)?);
    (hours <= 23 && minutes <= 59).then(|| i32::from(hours) * 60 + i32::from(minutes))
}

/// RFC 3339 in UTC to the second, as chrono's `to_rfc3339_opts(SecondsFormat::Secs, true)` wrote
/// it (what stored state and reports hold): `2026-11-28T09:00:00Z`, fractions dropped (not
/// rounded), years outside 0..=9999 with a sign.
pub fn format_time(t: Timestamp) -> String {
    // jiff's seconds round toward zero (a negative time carries negative nanoseconds): floor them.
    let seconds = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400) as u32;
    let mut out = *b"0000-00-00T00:00:00Z";
    // Digit by digit rather than with `write!` (a third of the instructions). Every field is in
    // 0..=99 here but the year, whose hundreds come first.
    let year_digits = year.rem_euclid(10_000) as u32;
    let fields =
        [year_digits / 100, year_digits % 100, month as u32, day as u32, of_day / 3_600, of_day / 60 % 60, of_day % 60];
    for (at, n) in [0, 2, 5, 8, 11, 14, 17].into_iter().zip(fields) {
        out[at] = b'0' + (n / 10) as u8;
        out[at + 1] = b'0' + (n % 10) as u8;
    }
    let formatted = std::str::from_utf8(&out).unwrap_or_default();
    if (0..=9999).contains(&year) { formatted.to_owned() } else { format!("{year:+05}{}", &formatted[4..]) }
}

/// How long a call may keep starting writes before it leaves the rest to the next call. A host
/// ends a call at its CPU deadline (a minute by default); a call that stops in time reports
/// `complete: false` and loses nothing, and the next call carries on. Waiting (pacing, backoff)
/// costs the host no CPU, so only the time not spent waiting counts against `busy_ms`; `wall_ms`
/// bounds the whole call (hosts also have a call timeout).
#[derive(Debug, Clone, Copy)]
pub struct TimeBudget {
    pub busy_ms: u64,
    pub wall_ms: u64,
}

impl TimeBudget {
    /// Whether a call that started at `started_ms`, is now at `now_ms` and waited `slept_ms` of
    /// it is out of time.
    pub fn spent(&self, started_ms: u64, now_ms: u64, slept_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(started_ms);
        elapsed > self.wall_ms || elapsed.saturating_sub(slept_ms) > self.busy_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{PersonField, PersonFields};

    #[test]
    fn a_time_budget_counts_busy_time_and_bounds_the_whole_call() {
        let b = TimeBudget { busy_ms: 100, wall_ms: 1_000 };
        assert!(!b.spent(5_000, 5_100, 0));
        assert!(b.spent(5_000, 5_101, 0));
        // Waiting does not count against the busy time...
        assert!(!b.spent(5_000, 5_900, 850));
        // ... but the whole call is bounded.
        assert!(b.spent(5_000, 6_001, 1_000));
        // A clock that goes backwards spends nothing.
        assert!(!b.spent(5_000, 4_000, 0));
    }

    fn person(status: &str, start: Option<&str>, tz: &str) -> Person {
        Person::from(PersonFields {
            id: "p".into(),
            status: Some(status.into()),
            employment_start_date: start.map(Into::into),
            timezone: Some(tz.into()),
            email: Some("p@acme.test".into()),
            ..PersonFields::default()
        })
    }

    fn t(s: &str) -> Timestamp {
        parse_time(s).unwrap()
    }

    #[test]
    fn immediately_members_now_new_hires_at_start() {
        let now = t("2026-11-28T12:00:00Z");
        assert_eq!(
            provisioning_due(&person("active", Some("2027-01-01"), "UTC"), ProvisionTiming::Immediately, now),
            Due::Now
        );
        assert_eq!(
            provisioning_due(&person("newHire", Some("2026-12-01"), "UTC"), ProvisionTiming::Immediately, now),
            Due::At(t("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn on_start_date_uses_the_persons_timezone() {
        let p = person("newHire", Some("2026-12-01"), "Asia/Tokyo");
        // Midnight in Tokyo is 15:00 UTC the day before.
        assert_eq!(
            provisioning_due(&p, ProvisionTiming::OnStartDate, t("2026-11-28T00:00:00Z")),
            Due::At(t("2026-11-30T15:00:00Z"))
        );
        assert_eq!(provisioning_due(&p, ProvisionTiming::OnStartDate, t("2026-11-30T15:00:00Z")), Due::Now);
        let ny = person("newHire", Some("2026-12-01"), "America/New_York");
        assert_eq!(
            provisioning_due(&ny, ProvisionTiming::OnStartDate, t("2026-12-01T04:59:59Z")),
            Due::At(t("2026-12-01T05:00:00Z"))
        );
    }

    #[test]
    fn start_date_today_is_due() {
        let p = person("active", Some("2026-11-28"), "Europe/London");
        assert_eq!(provisioning_due(&p, ProvisionTiming::OnStartDate, t("2026-11-28T00:00:00Z")), Due::Now);
    }

    #[test]
    fn days_before_start_includes_new_hires() {
        let p = person("newHire", Some("2026-12-10"), "UTC");
        assert_eq!(
            provisioning_due(&p, ProvisionTiming::DaysBeforeStart(7), t("2026-11-28T00:00:00Z")),
            Due::At(t("2026-12-03T00:00:00Z"))
        );
        assert_eq!(provisioning_due(&p, ProvisionTiming::DaysBeforeStart(14), t("2026-11-28T00:00:00Z")), Due::Now);
    }

    #[test]
    fn missing_start_date() {
        let now = t("2026-11-28T00:00:00Z");
        assert_eq!(provisioning_due(&person("active", None, "UTC"), ProvisionTiming::OnStartDate, now), Due::Now);
        assert!(matches!(
            provisioning_due(&person("newHire", None, "UTC"), ProvisionTiming::OnStartDate, now),
            Due::Never(_)
        ));
    }

    #[test]
    fn unknown_timezone_falls_back_to_utc() {
        let p = person("newHire", Some("2026-12-01"), "Mars/Olympus");
        assert_eq!(
            provisioning_due(&p, ProvisionTiming::OnStartDate, t("2026-11-28T00:00:00Z")),
            Due::At(t("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn last_working_day_today_is_not_yet_offboarded() {
        let mut p = person("active", Some("2020-01-01"), "Europe/Berlin");
        p.set(PersonField::LastWorkingDay, Some("2026-11-28"));
        assert!(!is_offboarded(&p, t("2026-11-28T22:59:59Z")));
        // Midnight after the last day in Berlin (UTC+1 in winter).
        assert!(is_offboarded(&p, t("2026-11-28T23:00:00Z")));
        assert_eq!(last_day_passed_at(&p), Some(t("2026-11-28T23:00:00Z")));
        let off = person("offboarded", None, "UTC");
        assert!(is_offboarded(&off, t("2026-11-28T00:00:00Z")));
    }

    #[test]
    fn dst_gap_midnight_moves_forward() {
        // America/Santiago skips midnight at the DST change (2026-09-06 00:00 does not exist).
        let santiago = Tz::get("America/Santiago").unwrap();
        let at = start_of_day(parse_date("2026-09-06").unwrap(), santiago);
        let p = Person::from(PersonFields { timezone: Some("America/Santiago".into()), ..PersonFields::default() });
        assert_eq!(person_today(&p, at), parse_date("2026-09-06").unwrap());
        // And it is the first instant of that day: a second earlier is still the day before.
        assert_eq!(person_today(&p, at - SignedDuration::from_secs(1)), parse_date("2026-09-05").unwrap());
    }

    #[test]
    fn status_spellings() {
        for s in ["newHire", "new_hire", "new hire", "NEWHIRE"] {
            assert_eq!(status(&person(s, None, "UTC")), Status::NewHire);
        }
        for s in ["active", " Active", "ACT-IVE"] {
            assert_eq!(status(&person(s, None, "UTC")), Status::Active);
        }
        for s in ["offboarded", "Off-Boarded", "off_boarded "] {
            assert_eq!(status(&person(s, None, "UTC")), Status::Offboarded);
        }
        for s in ["weird", "", "activ", "actives", "new hired", "ａctive"] {
            assert_eq!(status(&person(s, None, "UTC")), Status::Unknown, "{s}");
        }
        assert_eq!(status(&Person::default()), Status::Unknown);
    }

    #[test]
    fn after_adds_and_holds_at_the_ends() {
        assert_eq!(after(t("2026-12-01T23:50:00Z"), SignedDuration::from_mins(15)), t("2026-12-02T00:05:00Z"));
        assert_eq!(after(Timestamp::MAX, SignedDuration::from_hours(24)), Timestamp::MAX);
        assert_eq!(after(Timestamp::MIN, SignedDuration::from_hours(-24)), Timestamp::MIN);
        assert_eq!(days_before(parse_date("2026-03-01").unwrap(), 1), parse_date("2026-02-28"));
        assert_eq!(days_before(parse_date("2026-12-10").unwrap(), 365), parse_date("2025-12-10"));
    }

    #[test]
    fn days_count_as_jiff_counts_them_for_years_0_to_9999() {
        let mut date = Date::new(0, 1, 1).unwrap();
        let mut days = days_from_civil(date);
        assert_eq!(days, -719_528);
        assert_eq!(days_from_civil(Date::new(1970, 1, 1).unwrap()), 0);
        while date.year() <= 9999 {
            assert_eq!(days_from_civil(date), days, "{date}");
            let (y, m, d) = civil_from_days(days);
            assert_eq!((y, m, d), (date.year().into(), date.month().into(), date.day().into()), "{date}");
            let Ok(next) = date.tomorrow() else { break };
            date = next;
            days += 1;
        }
        assert_eq!(date, Date::new(9999, 12, 31).unwrap());
        // The years before 0 a time can reach (1 BCE, from 0000-01-01 with a positive offset).
        assert_eq!(civil_from_days(-719_529), (-1, 12, 31));
    }

    /// Every one- and two-character change of a few times, from characters that make other shapes.
    fn near_misses() -> Vec<String> {
        let bases = [
            "2026-11-28T09:00:00Z",
            "2026-11-28t09:00:00.123456789123+05:30",
            "2024-02-29 23:59:60-23:59",
            "0000-01-01T00:00:00.5−00:00",
            " 9999-12-30T21:59:59z\n",
        ];
        let alphabet: Vec<char> = "0123456789-+:.TtZz −".chars().collect();
        let mut out = Vec::new();
        for base in bases {
            let chars: Vec<char> = base.chars().collect();
            out.push(base.to_owned());
            for i in 0..chars.len() {
                let mut del = chars.clone();
                del.remove(i);
                out.push(del.iter().collect());
                for &a in &alphabet {
                    let mut ins = chars.clone();
                    ins.insert(i, a);
                    out.push(ins.iter().collect());
                    for j in i..chars.len() {
                        for &b in &alphabet {
                            let mut c = chars.clone();
                            c[i] = a;
                            c[j] = b;
                            out.push(c.iter().collect());
                        }
                    }
                }
            }
        }
        out
    }

    /// The shapes chrono's `parse_from_rfc3339` read (and `to_rfc3339_opts(Secs, true)` wrote),
    /// one rule at a time. The outputs marked "chrono" were printed by the chrono version.
    #[test]
    fn times_read_and_written_as_chrono_did() {
        let cases: &[(&str, Option<(&str, i32)>)] = &[
            ("2026-11-28T09:00:00Z", Some(("2026-11-28T09:00:00Z", 0))), // chrono
            ("2026-11-28t09:00:00z", Some(("2026-11-28T09:00:00Z", 0))),
            (" 2026-11-28T09:00:00Z\n", Some(("2026-11-28T09:00:00Z", 0))),
            ("2026-11-28 09:00:00.999999999999-23:59", Some(("2026-11-29T08:59:00Z", 999_999_999))), // chrono
            ("2026-11-28t09:00:00\u{2212}05:30", Some(("2026-11-28T14:30:00Z", 0))),                 // chrono
            ("0000-01-01T00:30:00+01:00", Some(("-0001-12-31T23:30:00Z", 0))),                       // chrono
            ("2026-11-28T09:00:00.5+00:00", Some(("2026-11-28T09:00:00Z", 500_000_000))),
            ("2026-11-28T09:00:00.123-00:00", Some(("2026-11-28T09:00:00Z", 123_000_000))),
            ("2026-11-28T09:00:00+23:59", Some(("2026-11-27T09:01:00Z", 0))),
            ("9999-12-30T22:00:00Z", Some(("9999-12-30T22:00:00Z", 0))),
            // jiff has no leap seconds: `:60` is the second before (chrono wrote `:60`).
            ("2016-12-31T23:59:60Z", Some(("2016-12-31T23:59:59Z", 0))),
            ("2016-12-31T23:59:60.25Z", Some(("2016-12-31T23:59:59Z", 250_000_000))),
            // Past jiff's last instant (chrono read these).
            ("9999-12-31T00:00:00Z", None),
            // Not RFC 3339, and chrono did not read them either.
            ("2026-11-28T09:00Z", None),
            ("2026-11-28T09:00:00", None),
            ("2026-11-28T09:00:00+0100", None),
            ("2026-11-28T09:00:00+01", None),
            ("2026-11-28T09:00:00+24:00", None),
            ("2026-11-28T09:00:00+01:60", None),
            ("2026-11-28T09:00:00.Z", None),
            ("2026-11-28T09:00:00,5Z", None),
            ("2026-11-28T09:00:00Z[UTC]", None),
            ("2026-11-28T09:00:00ZZ", None),
            ("20261128T090000Z", None),
            ("+002026-11-28T09:00:00Z", None),
            ("2026-02-29T09:00:00Z", None),
            ("2026-11-28T24:00:00Z", None),
            ("2026-11-28T09:60:00Z", None),
            ("2026-11-28T09:00:61Z", None),
            ("2026-11-28_09:00:00Z", None),
            ("２０２６-11-28T09:00:00Z", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let read = parse_time(input).map(|t| (format_time(t), t.subsec_nanosecond()));
            assert_eq!(read, expected.map(|(s, n)| (s.to_owned(), n)), "{input:?}");
        }
        // Written to the second, truncated, never rounded up.
        assert_eq!(format_time(Timestamp::MAX), "9999-12-30T22:00:00Z");
        assert_eq!(format_time(Timestamp::MIN), "-9999-01-02T01:59:59Z");
    }

    /// 765,577 one- and two-character changes of five times, read and written. The count and
    /// digest were checked string by string against chrono (`parse_from_rfc3339`, then
    /// `to_rfc3339_opts(Secs, true)`) at commit 41b9cfc (test `against_chrono`), where they were
    /// the same but for the leap seconds and the times past 9999-12-30T22:00Z above.
    #[test]
    fn near_misses_read_as_chrono_read_them() {
        let corpus = near_misses();
        let mut read = 0;
        let mut digest = 0xcbf2_9ce4_8422_2325u64;
        for t in corpus.iter().filter_map(|s| parse_time(s)) {
            read += 1;
            for b in format!("{}.{:09}", format_time(t), t.subsec_nanosecond()).bytes() {
                digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!((corpus.len(), read, digest), (765_577, 77_789, 0xa9695d44b07a5e4));
    }
}
