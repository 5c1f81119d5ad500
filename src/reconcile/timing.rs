//! When things fall due: provisioning by timing setting, deprovisioning at the last working day,
//! all in the person's own timezone (falling back to UTC when Humaans has none or an unknown one).

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use jiff::tz::TimeZone as Tz;

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
pub fn person_today(person: &Person, now: DateTime<Utc>) -> NaiveDate {
    let utc_date = now.date_naive();
    let Ok(ts) = jiff::Timestamp::from_second(now.timestamp()) else { return utc_date };
    let local = ts.to_zoned(person_tz(person)).date();
    NaiveDate::from_ymd_opt(local.year() as i32, local.month() as u32, local.day() as u32).unwrap_or(utc_date)
}

/// Midnight at the start of `date` in `tz`, as UTC. A midnight skipped by a DST change falls to
/// the first instant of the day that exists.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let fallback = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"));
    let Ok(local) = jiff::civil::Date::new(date.year() as i16, date.month() as i8, date.day() as i8) else {
        return fallback;
    };
    match local.to_zoned(tz) {
        Ok(zoned) => Utc.timestamp_opt(zoned.timestamp().as_second(), 0).single().unwrap_or(fallback),
        Err(_) => fallback,
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
    At(DateTime<Utc>),
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
pub fn provisioning_due(person: &Person, timing: ProvisionTiming, now: DateTime<Utc>) -> Due {
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
        ProvisionTiming::DaysBeforeStart(n) => {
            start_of_day(start.checked_sub_days(Days::new(n as u64)).unwrap_or(start), tz)
        }
    };
    if at <= now { Due::Now } else { Due::At(at) }
}

/// When the person's last working day has passed: the start of the following day in their
/// timezone. `None` without a last working day, or when the last working day belongs to an
/// earlier employment (a rehire keeps their old last working day, before the new start date).
pub fn last_day_passed_at(person: &Person) -> Option<DateTime<Utc>> {
    let last = person.last_working_day().and_then(parse_date)?;
    let start = person.employment_start_date().and_then(parse_date);
    if start.is_some_and(|start| start > last) {
        return None;
    }
    Some(start_of_day(last.checked_add_days(Days::new(1))?, person_tz(person)))
}

/// When the person's current job role next changes: the earliest future `effectiveDate`, or the
/// day after the current role's end date, at midnight in their timezone.
pub fn next_role_change_at(person: &Person, roles: &[JobRole], today: NaiveDate) -> Option<DateTime<Utc>> {
    let starts = roles.iter().filter_map(|r| parse_date(r.effective_date()?)).filter(|d| *d > today);
    let ends =
        roles.iter().filter_map(|r| parse_date(r.end_date()?)?.checked_add_days(Days::new(1))).filter(|d| *d > today);
    starts.chain(ends).min().map(|d| start_of_day(d, person_tz(person)))
}

/// Offboarded: status `offboarded`, or the last working day is over.
pub fn is_offboarded(person: &Person, now: DateTime<Utc>) -> bool {
    status(person) == Status::Offboarded || last_day_passed_at(person).is_some_and(|at| at <= now)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

    fn t(s: &str) -> DateTime<Utc> {
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
        assert_eq!(person_today(&p, at - chrono::Duration::seconds(1)), parse_date("2026-09-05").unwrap());
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
}
