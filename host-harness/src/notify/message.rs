//! The words of each message: plain text a Slack channel (or any chat) shows as it is, naming
//! the tenant, what happened, how many, and the command that deals with it.

use super::{Item, Kind};

/// Names listed in one message at most; the rest are counted ("and 37 more").
pub const MAX_NAMES: usize = 10;
/// A label or a reason is cut at this many characters (a service's message can be long).
const MAX_TEXT: usize = 160;

/// What the `Resolved` message says about a kind whose incident closed.
pub fn resolved_phrase(kind: Kind) -> &'static str {
    match kind {
        Kind::Held => "the held deprovisions were approved or released",
        Kind::Unauthorized => "the connection works again",
        Kind::Quarantine => "nobody is quarantined any more",
        Kind::DeadLetters => "no dead letters are left",
        Kind::Resolved => "",
    }
}

/// The message about `new` items of an incident of `kind`. `in_all`: how many the kind has now;
/// `more`: earlier items of this incident were announced (this is a batch); `digest`: the message
/// was held back by the hour.
pub(super) fn incident(tenant: &str, kind: Kind, new: &[Item], in_all: u32, more: bool, digest: bool) -> String {
    // A first message counts everything open (more than listed for quarantine: status lists 100).
    let count = if more { new.len() as u32 } else { in_all.max(new.len() as u32) };
    let reason = common_reason(new);
    let names = names(new, count, reason.is_none());
    let headline_reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    let total = if more { format!(" ({in_all} in all)") } else { String::new() };
    let more = if more { "more " } else { "" };
    let one = count == 1;
    let body = match kind {
        Kind::Held => format!(
            "{count} {more}{} {} held{total}{headline_reason}. Nobody was suspended or deactivated. If {} expected, \
             approve {}: `host-harness --tenant {tenant} approve --all` (one person: `approve --person ID`; or POST \
             /api/tenants/{tenant}/held/approve-all on serve). People: {names}.",
            plural(one, "deprovision", "deprovisions"),
            plural(one, "is", "are"),
            plural(one, "it is", "they are"),
            plural(one, "it", "them"),
        ),
        Kind::Unauthorized => {
            let service = new.first().map_or("A service", |i| i.label.as_str());
            let why = new.first().map(|i| clean(&i.detail)).filter(|d| !d.is_empty());
            format!(
                "The connection is unauthorized: {} refused the token{}. Syncs, ticks and events are stopped: nobody \
                 is provisioned or deprovisioned until it is connected again. Make a new {} token and run \
                 `host-harness --tenant {tenant} connect` (or save the connection again on the admin page).",
                clean(service),
                why.map(|d| format!(" ({d})")).unwrap_or_default(),
                clean(service),
            )
        }
        Kind::Quarantine => format!(
            "{count} {more}{} quarantined{total}: the service refused their account changes for 7 days{}, so the \
             integration stopped trying them. Fix what it refused, then run `host-harness --tenant {tenant} retry \
             --person ID` (a change to their Humaans record lifts it too). People: {names}.",
            plural(one, "person is", "people are"),
            reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        ),
        Kind::DeadLetters => format!(
            "{count} {more}webhook {} given up on after {} retries (dead letters){total}{headline_reason}. {} changes \
             were not applied. Queue one again: `host-harness --tenant {tenant} retry --event ID` (or POST \
             /api/tenants/{tenant}/dead-letters/ID/retry); a `sync-all` also catches up. Events: {names}.",
            plural(one, "event was", "events were"),
            plural(one, "its", "their"),
            plural(one, "Its", "Their"),
        ),
        Kind::Resolved => String::new(),
    };
    frame(tenant, digest, &body)
}

/// The `Resolved` message naming each kind whose incident closed.
pub(super) fn resolved(tenant: &str, kinds: &[Kind], digest: bool) -> String {
    let phrases: Vec<&str> = kinds.iter().map(|k| resolved_phrase(*k)).collect();
    let body = phrases.join("; ");
    if digest { frame(tenant, true, &format!("{body}.")) } else { frame(tenant, false, &format!("Resolved: {body}.")) }
}

fn frame(tenant: &str, digest: bool, body: &str) -> String {
    if digest { format!("[{tenant}] Since the last message: {body}") } else { format!("[{tenant}] {body}") }
}

fn plural<'a>(one: bool, singular: &'a str, many: &'a str) -> &'a str {
    if one { singular } else { many }
}

/// The reason every item shares, if they share one (then it goes in the headline, once).
fn common_reason(items: &[Item]) -> Option<String> {
    let first = items.first()?.detail.as_str();
    (!first.trim().is_empty() && items.iter().all(|i| i.detail == first)).then(|| clean(first))
}

/// The first [`MAX_NAMES`] labels (with their reasons when they differ), then "and N more" for
/// the rest of `count`.
fn names(items: &[Item], count: u32, with_details: bool) -> String {
    let mut listed: Vec<String> = items
        .iter()
        .take(MAX_NAMES)
        .map(|i| {
            let detail = clean(&i.detail);
            if with_details && !detail.is_empty() { format!("{} ({detail})", clean(&i.label)) } else { clean(&i.label) }
        })
        .collect();
    let rest = count.saturating_sub(listed.len() as u32);
    if rest > 0 {
        listed.push(format!("and {rest} more"));
    }
    listed.join(", ")
}

/// One line, at most [`MAX_TEXT`] characters: a service's message may hold newlines or pages.
fn clean(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
