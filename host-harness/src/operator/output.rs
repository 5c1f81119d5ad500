//! Printing for the terminal: tables, `key: value` summaries, stdout that survives `| head`.

use std::io::Write;

use serde_json::Value;

/// A plain table: columns padded to the widest cell, long cells cut.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cut = |s: &str| -> String {
        if s.chars().count() > 70 { s.chars().take(69).chain(['…']).collect() } else { s.to_owned() }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// Writes to stdout. A reader that went away (`| head`) is an `ErrorKind::BrokenPipe` error for
/// the caller, not a panic as with `println!`.
pub fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

pub fn print_logs(v: &Value) -> std::io::Result<()> {
    let s = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())).unwrap_or_default();
    let rows: Vec<Vec<String>> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let cells = ["at", "trigger", "action", "outcome", "email", "http_status", "message"];
            cells.iter().map(|key| s(&e[*key])).collect()
        })
        .collect();
    if rows.is_empty() {
        out("(no log entries)\n")
    } else {
        out(&table(&["TIME", "TRIGGER", "ACTION", "OUTCOME", "EMAIL", "HTTP", "MESSAGE"], &rows))
    }
}

/// Prints a JSON object as `key: value` lines: a nested object as `key.field: value` lines, a
/// list of people by their emails (the first 10), other lists by their length.
pub fn print_summary(v: &Value) -> std::io::Result<()> {
    let mut text = String::new();
    if let Some(obj) = v.as_object() {
        summarise(&mut text, "", obj);
    }
    out(&text)
}

fn summarise(text: &mut String, prefix: &str, obj: &serde_json::Map<String, Value>) {
    for (k, val) in obj {
        let line = match val {
            Value::Object(inner) => {
                summarise(text, &format!("{prefix}{k}."), inner);
                continue;
            }
            Value::Array(a) if k == "changes" => format!("{k}: {} (use --json for the list)", a.len()),
            Value::Array(a) if a.iter().all(|p| p["email"].is_string()) && !a.is_empty() => {
                let emails: Vec<&str> = a.iter().take(10).filter_map(|p| p["email"].as_str()).collect();
                let more = if a.len() > 10 { format!(", and {} more", a.len() - 10) } else { String::new() };
                format!("{k}: {} ({}{more})", a.len(), emails.join(", "))
            }
            Value::Array(a) if a.iter().any(Value::is_object) => format!("{k}: {} (use --json for the list)", a.len()),
            Value::Null => format!("{k}: -"),
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        };
        text.push_str(prefix);
        text.push_str(&line);
        text.push('\n');
    }
}
