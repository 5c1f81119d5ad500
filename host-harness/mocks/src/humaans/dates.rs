//! Calendar dates and timestamps in the formats Humaans uses (`YYYY-MM-DD`, and ISO-8601 UTC with
//! milliseconds), without a date crate: the mock only needs day arithmetic and formatting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a strict `YYYY-MM-DD` into days since the epoch; `None` for anything else, including
/// impossible dates such as 2023-02-30.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    // Round-tripping rejects day numbers past the end of the month.
    (civil_from_days(days) == (i64::from(year), month, day)).then_some(days)
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `date` moved by `delta` days. Panics on a malformed date: callers pass dates they made.
pub fn add_days(date: &str, delta: i64) -> String {
    let days = parse_date(date).unwrap_or_else(|| panic!("not a YYYY-MM-DD date: {date:?}"));
    format_date(days + delta)
}

/// `2020-01-28T08:44:42.000Z` from milliseconds since the epoch.
pub fn format_timestamp(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let ms_of_day = millis.rem_euclid(86_400_000);
    let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{}T{h:02}:{m:02}:{s:02}.{ms:03}Z", format_date(days))
}

/// A timestamp at `hour`:00 UTC on `date`.
pub fn timestamp_on(date: &str, hour: u32) -> String {
    let days = parse_date(date).unwrap_or_else(|| panic!("not a YYYY-MM-DD date: {date:?}"));
    format_timestamp(days * 86_400_000 + i64::from(hour) * 3_600_000)
}

static LAST_MILLIS: AtomicI64 = AtomicI64::new(0);

/// The current time as a timestamp, strictly later than any earlier call in this process, so that
/// every mutation gets a distinct `updatedAt` and `updatedAt[$gt]=<previous>` always sees it.
pub fn now_timestamp() -> String {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut last = LAST_MILLIS.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST_MILLIS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format_timestamp(next),
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(format_date(days_from_civil(2024, 2, 29)), "2024-02-29");
        for d in -800_000..800_000 {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(parse_date("2024-03-01"), Some(days_from_civil(2024, 3, 1)));
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "2024-01-01T00", "abcd-ef-gh", "+024-01-01"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(add_days("2024-02-28", 2), "2024-03-01");
        assert_eq!(add_days("2024-01-01", -1), "2023-12-31");
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(1_580_201_082_000), "2020-01-28T08:44:42.000Z");
        assert_eq!(timestamp_on("2020-01-28", 9), "2020-01-28T09:00:00.000Z");
        let a = now_timestamp();
        let b = now_timestamp();
        assert!(b > a, "{b} should sort after {a}");
    }
}
