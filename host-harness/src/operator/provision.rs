//! `provision --person ID [--dry-run]` (and the API's `POST …/provision`): provision on demand,
//! one person through every step now, answered as the component's trace.

use anyhow::Result;
use serde_json::{Value, json};

use super::commands::change_json;
use super::describe::done;
use super::output::out;
use crate::TenantPlugin;

/// Calls `provision-person` and answers `{"person", "dry_run", "steps": [{"step", "outcome",
/// "detail"}…], "changes": […]}`.
pub async fn provision(plugin: &TenantPlugin, person: &str, dry_run: bool) -> Result<Value> {
    let trace = done(plugin.provision_person(person, dry_run).await)?;
    Ok(json!({
        "person": person,
        "dry_run": dry_run,
        "steps": trace.steps.iter().map(|s| json!({"step": s.step, "outcome": s.outcome, "detail": s.detail})).collect::<Vec<_>>(),
        "changes": trace.changes.iter().map(change_json).collect::<Vec<_>>(),
    }))
}

/// The trace for a terminal: one numbered line a step, its outcome in a column.
pub fn trace_text(v: &Value) -> String {
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let steps = v["steps"].as_array().cloned().unwrap_or_default();
    let step_width = steps.iter().map(|s| text(s, "step").len()).max().unwrap_or(0);
    let outcome_width = steps.iter().map(|s| text(s, "outcome").len()).max().unwrap_or(0);
    let dry = if v["dry_run"] == true { " (dry run: nothing written)" } else { "" };
    let mut out = format!("provision {}{dry}\n", text(v, "person"));
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}. {:<step_width$}  {:<outcome_width$}  {}\n",
            i + 1,
            text(s, "step"),
            text(s, "outcome"),
            text(s, "detail")
        ));
    }
    let changes = v["changes"].as_array().map_or(0, Vec::len);
    out.push_str(&format!("changes: {changes} (use --json for the list)\n"));
    out
}

/// Prints [`trace_text`].
pub fn print_trace(v: &Value) -> std::io::Result<()> {
    out(&trace_text(v))
}
