//! The integration log as an operator reads it and an auditor takes it away: filtered by
//! failures, person (Humaans id or work email) and period; shown as a table, one JSON document,
//! JSON lines or CSV; and counted by action and outcome over a period.

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::describe::{done, name_of};
use crate::TenantPlugin;
use crate::plugin::api;

/// Entries a page of `read-logs` may hold.
const PAGE: u32 = 500;

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct LogsQuery {
    /// Failures only.
    pub failures: bool,
    /// One person's entries: a Humaans person id, or a work email (any case).
    pub person: Option<String>,
    /// At most this many, newest first (`None`: every entry the log keeps).
    pub limit: Option<u32>,
    /// Entries at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Entries before this time.
    pub until: Option<jiff::Timestamp>,
    /// One run's entries (its `run_id`).
    pub run: Option<String>,
}

/// How `logs` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsFormat {
    Table,
    Json,
    Csv,
    Jsonl,
}

/// The words of [`LogsFormat`].
pub const LOGS_FORMAT_WORDS: [&str; 4] = ["table", "json", "csv", "jsonl"];

pub fn parse_logs_format(s: &str) -> Result<LogsFormat, String> {
    match s {
        "table" => Ok(LogsFormat::Table),
        "json" => Ok(LogsFormat::Json),
        "csv" => Ok(LogsFormat::Csv),
        "jsonl" => Ok(LogsFormat::Jsonl),
        _ => Err(format!("`{s}`: expected table, json, csv or jsonl")),
    }
}

/// A bound of a period: an RFC 3339 time, or a date (`2026-11-28`, UTC). As an end (`until`),
/// a date is the end of that day: `--since 2026-11-01 --until 2026-11-30` is all of November.
pub fn parse_time_bound(s: &str, end: bool) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s
        .parse()
        .map_err(|_| format!("`{s}` is not an RFC 3339 time or a date (e.g. 2026-11-28T09:00:00Z or 2026-11-28)"))?;
    let day = if end { date.tomorrow().map_err(|e| format!("`{s}`: {e}"))? } else { date };
    day.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| format!("`{s}`: {e}"))
}

/// One entry as the CLI's JSON and the API show it.
pub fn log_json(e: &api::LogEntry) -> Value {
    json!({"sequence": e.sequence, "at": e.at, "action": name_of(&e.action), "person_id": e.person_id, "email": e.email,
        "outcome": name_of(&e.outcome), "http_status": e.http_status, "message": e.message,
        "run_id": e.run_id, "trigger": e.trigger})
}

/// The entries `query` asks for, newest first. The component filters failures and a person id;
/// a work email and the period are filtered here, over the pages (the log keeps a bounded
/// number of entries, 5,000 by default, so reading them all is a few calls).
pub async fn read_entries(plugin: &TenantPlugin, query: &LogsQuery) -> Result<Vec<api::LogEntry>> {
    let email = query.person.as_deref().filter(|p| p.contains('@')).map(str::to_lowercase);
    let person_id = query.person.clone().filter(|_| email.is_none());
    let wanted = |e: &api::LogEntry| {
        let at = e.at.parse::<jiff::Timestamp>().ok();
        let in_period = match at {
            Some(at) => query.since.is_none_or(|s| at >= s) && query.until.is_none_or(|u| at < u),
            // An entry whose time does not read is kept unless a period was asked for.
            None => query.since.is_none() && query.until.is_none(),
        };
        in_period
            && email.as_ref().is_none_or(|m| e.email.as_deref().is_some_and(|x| x.to_lowercase() == *m))
            && query.run.as_ref().is_none_or(|r| e.run_id == *r)
    };
    let mut entries = Vec::new();
    let mut before = None;
    loop {
        let left = query.limit.map(|l| l.saturating_sub(entries.len() as u32));
        if left == Some(0) {
            break;
        }
        // Filtered here: read whole pages, keep what matches.
        let filtered_here = email.is_some() || query.since.is_some() || query.until.is_some() || query.run.is_some();
        let limit = if filtered_here { PAGE } else { left.unwrap_or(PAGE).min(PAGE) };
        let q = api::LogQuery { failures_only: query.failures, person_id: person_id.clone(), limit, before };
        let page = done(plugin.read_logs(&q).await)?;
        for e in page.entries {
            if wanted(&e) && query.limit.is_none_or(|l| (entries.len() as u32) < l) {
                entries.push(e);
            }
        }
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    Ok(entries)
}

/// `logs`: the entries as one JSON value, `{"entries": […]}`.
pub async fn logs(plugin: &TenantPlugin, query: &LogsQuery) -> Result<Value> {
    let entries = read_entries(plugin, query).await?;
    Ok(json!({"entries": entries.iter().map(log_json).collect::<Vec<_>>()}))
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 10] =
    ["sequence", "at", "action", "outcome", "person_id", "email", "http_status", "message", "run_id", "trigger"];

/// Entries as CSV (RFC 4180) a spreadsheet opens as they are: UTF-8 with a byte-order mark (so
/// non-Latin letters are not read as another encoding), a header row, CRLF line ends, fields with
/// a comma, quote or line break quoted (quotes doubled), times as written (ISO 8601, UTC). A text
/// that a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) gets a leading `'`:
/// log messages quote the services' own words, which must not run as formulas on an auditor's
/// machine (OWASP's advice for CSV exports).
pub fn csv(entries: &[api::LogEntry]) -> String {
    let mut out = String::from('\u{feff}');
    out.push_str(&CSV_COLUMNS.join(","));
    out.push_str("\r\n");
    for e in entries {
        let row = [
            e.sequence.to_string(),
            e.at.clone(),
            name_of(&e.action),
            name_of(&e.outcome),
            e.person_id.clone().unwrap_or_default(),
            e.email.clone().unwrap_or_default(),
            e.http_status.map(|s| s.to_string()).unwrap_or_default(),
            e.message.clone(),
            e.run_id.clone(),
            e.trigger.clone(),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// Entries as JSON lines: one entry a line, as `log_json` shows it.
pub fn jsonl(entries: &[api::LogEntry]) -> String {
    entries.iter().map(|e| format!("{}\n", log_json(e))).collect()
}

/// Counts over the entries: in all, by action, by outcome, and by action and outcome.
pub fn summary(entries: &[api::LogEntry], query: &LogsQuery) -> Value {
    let mut by_action = Map::new();
    let mut by_outcome = Map::new();
    let mut by_both = Map::new();
    let bump = |map: &mut Map<String, Value>, key: String| {
        let n = map.get(&key).and_then(Value::as_u64).unwrap_or(0);
        map.insert(key, json!(n + 1));
    };
    for e in entries {
        let (action, outcome) = (name_of(&e.action), name_of(&e.outcome));
        bump(&mut by_action, action.clone());
        bump(&mut by_outcome, outcome.clone());
        let entry = by_both.entry(action).or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            bump(map, outcome);
        }
    }
    json!({
        "since": query.since.map(|t| t.to_string()),
        "until": query.until.map(|t| t.to_string()),
        "total": entries.len(),
        "by_action": by_action,
        "by_outcome": by_outcome,
        "by_action_and_outcome": by_both,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sequence: u64, message: &str, email: Option<&str>) -> api::LogEntry {
        api::LogEntry {
            sequence,
            at: "2026-11-28T12:00:00Z".into(),
            action: api::LogAction::Provision,
            person_id: Some("p1".into()),
            email: email.map(Into::into),
            outcome: api::LogOutcome::Failure,
            http_status: Some(400),
            message: message.into(),
            run_id: "run-1".into(),
            trigger: "webhook:evt_1".into(),
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let text =
            csv(&[entry(7, "Leapsome said \"no\", twice\nsee", Some("zoë@acme.test")), entry(8, "=cmd()", None)]);
        assert!(text.starts_with('\u{feff}'), "a byte-order mark");
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines[0], "sequence,at,action,outcome,person_id,email,http_status,message,run_id,trigger");
        assert_eq!(
            lines[1],
            "7,2026-11-28T12:00:00Z,provision,failure,p1,zoë@acme.test,400,\"Leapsome said \"\"no\"\", twice\nsee\",run-1,webhook:evt_1"
        );
        assert_eq!(lines[2], "8,2026-11-28T12:00:00Z,provision,failure,p1,,400,'=cmd(),run-1,webhook:evt_1");
        assert_eq!(lines[3], "", "the last row ends with CRLF too");
    }

    #[test]
    fn periods_take_times_and_dates_and_a_date_ends_with_its_day() {
        assert_eq!(parse_time_bound("2026-11-28T09:30:00Z", false).unwrap().to_string(), "2026-11-28T09:30:00Z");
        assert_eq!(parse_time_bound("2026-11-28", false).unwrap().to_string(), "2026-11-28T00:00:00Z");
        assert_eq!(parse_time_bound("2026-11-28", true).unwrap().to_string(), "2026-11-29T00:00:00Z");
        assert_eq!(parse_time_bound("2026-11-28T10:00:00+01:00", false).unwrap().to_string(), "2026-11-28T09:00:00Z");
        for bad in ["yesterday", "2026-13-01", "28/11/2026", ""] {
            assert!(parse_time_bound(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_summary_counts_by_action_and_outcome() {
        let mut ok = entry(2, "fine", None);
        ok.outcome = api::LogOutcome::Success;
        let s = summary(&[entry(1, "x", None), ok, entry(3, "y", None)], &LogsQuery::default());
        assert_eq!(s["total"], 3);
        assert_eq!(s["by_outcome"], json!({"failure": 2, "success": 1}));
        assert_eq!(s["by_action_and_outcome"], json!({"provision": {"failure": 2, "success": 1}}));
    }
}
