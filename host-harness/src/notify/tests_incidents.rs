//! The ledger in simulated time: which snapshots make which messages.

use jiff::{SignedDuration, Timestamp};

use super::{Item, Kind, Ledger, Message, Snapshot, parse_kinds};

const REASON: &str = "more than the deprovision limit in 24 hours (limit 10)";

fn at(minutes: i64) -> Timestamp {
    "2026-12-01T09:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minutes)
}

fn held(keys: &[&str]) -> Vec<Item> {
    keys.iter().map(|k| Item::new(*k, format!("{k}@x.test"), REASON)).collect()
}

/// A snapshot with `held` people and nothing else (dead letters read: none).
fn holding(keys: &[&str]) -> Snapshot {
    Snapshot { held: held(keys), dead_letters: Some(Vec::new()), ..Snapshot::default() }
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

fn people(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("p{i}")).collect()
}

#[test]
fn a_held_batch_that_stays_held_over_50_snapshots_is_one_message() {
    let keys = people(12);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut ledger = Ledger::default();
    let mut sent = Vec::new();
    for i in 0..50 {
        sent.extend(ledger.observe("acme", &holding(&keys), &Kind::ALL, at(i * 5)));
        sent.extend(ledger.due_digests("acme", &Kind::ALL, at(i * 5 + 2)));
    }
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].kind, Kind::Held);
    assert_eq!(
        sent[0].text,
        "[acme] 12 deprovisions are held: more than the deprovision limit in 24 hours (limit 10). Nobody was \
         suspended or deactivated. If they are expected, approve them: `host-harness --tenant acme approve --all` \
         (one person: `approve --person ID`; or POST /api/tenants/acme/held/approve-all on serve). People: \
         p1@x.test, p2@x.test, p3@x.test, p4@x.test, p5@x.test, p6@x.test, p7@x.test, p8@x.test, p9@x.test, \
         p10@x.test, and 2 more."
    );
    let open = ledger.open();
    assert_eq!((open.len(), open[0].kind, open[0].since, open[0].items), (1, Kind::Held, at(0), 12));
}

#[test]
fn a_new_batch_while_the_incident_is_open_is_one_more_message() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.observe("acme", &holding(&["a", "b"]), &Kind::ALL, at(0)).len(), 1);
    // Leaving while others remain, and coming back: nothing (b was announced in this incident).
    for (minute, keys) in [(70, &["a"][..]), (75, &["a", "b"]), (80, &["a", "b"])] {
        assert_eq!(ledger.observe("acme", &holding(keys), &Kind::ALL, at(minute)), vec![], "at {minute}");
    }
    let sent = ledger.observe("acme", &holding(&["a", "b", "c", "d", "e"]), &Kind::ALL, at(90));
    assert_eq!(
        texts(&sent),
        ["[acme] 3 more deprovisions are held (5 in all): more than the deprovision limit in 24 hours (limit 10). \
          Nobody was suspended or deactivated. If they are expected, approve them: `host-harness --tenant acme \
          approve --all` (one person: `approve --person ID`; or POST /api/tenants/acme/held/approve-all on serve). \
          People: c@x.test, d@x.test, e@x.test."]
    );
    for minute in (95..300).step_by(5) {
        assert_eq!(ledger.observe("acme", &holding(&["a", "b", "c", "d", "e"]), &Kind::ALL, at(minute)), vec![]);
    }
}

#[test]
fn an_incident_is_resolved_once() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.observe("acme", &holding(&["a"]), &Kind::ALL, at(0)).len(), 1);
    let sent = ledger.observe("acme", &holding(&[]), &Kind::ALL, at(5));
    assert_eq!(
        sent,
        [Message {
            kind: Kind::Resolved,
            text: "[acme] Resolved: the held deprovisions were approved or released.".into()
        }]
    );
    for minute in (10..600).step_by(5) {
        assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(minute)), vec![]);
        assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(minute)), vec![]);
    }
    assert_eq!(ledger.open(), vec![]);
}

/// The hour's limit: a second incident 10 minutes after the first one's message waits for the
/// digest, which `due_digests` sends once the hour is over; its resolution, 57 minutes after
/// the last `Resolved`, waits for that kind's digest in turn.
#[test]
fn a_second_incident_within_the_hour_goes_out_in_the_digest() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.observe("acme", &holding(&["a"]), &Kind::ALL, at(0)).len(), 1);
    assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(5))[0].kind, Kind::Resolved);
    assert_eq!(ledger.observe("acme", &holding(&["x", "y"]), &Kind::ALL, at(10)), vec![]);
    assert_eq!(ledger.next_digest(), Some(at(60)));
    for minute in [15, 30, 59] {
        assert_eq!(ledger.observe("acme", &holding(&["x", "y"]), &Kind::ALL, at(minute)), vec![]);
        assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(minute)), vec![]);
    }
    let digest = ledger.due_digests("acme", &Kind::ALL, at(61));
    assert_eq!(
        texts(&digest),
        ["[acme] Since the last message: 2 deprovisions are held: more than the deprovision limit in 24 hours \
          (limit 10). Nobody was suspended or deactivated. If they are expected, approve them: `host-harness \
          --tenant acme approve --all` (one person: `approve --person ID`; or POST \
          /api/tenants/acme/held/approve-all on serve). People: x@x.test, y@x.test."]
    );
    assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(62)), vec![]);
    // Resolved at +62: the last `Resolved` went at +5, so it waits until +65.
    assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(62)), vec![]);
    assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(64)), vec![]);
    assert_eq!(
        texts(&ledger.due_digests("acme", &Kind::ALL, at(65))),
        ["[acme] Since the last message: the held deprovisions were approved or released."]
    );
    assert_eq!(ledger.next_digest(), None);
}

#[test]
fn an_item_folded_and_gone_before_the_digest_is_not_in_it() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.observe("acme", &holding(&["a"]), &Kind::ALL, at(0)).len(), 1);
    assert_eq!(ledger.observe("acme", &holding(&["a", "b", "c"]), &Kind::ALL, at(10)), vec![]);
    assert_eq!(ledger.observe("acme", &holding(&["a", "b"]), &Kind::ALL, at(20)), vec![]);
    let digest = ledger.due_digests("acme", &Kind::ALL, at(61));
    assert_eq!(digest.len(), 1);
    assert!(digest[0].text.starts_with("[acme] Since the last message: 1 more deprovision is held (2 in all): "));
    assert!(digest[0].text.contains("People: b@x.test.") && !digest[0].text.contains("c@x.test"), "{}", digest[0].text);

    // A whole incident folded and gone before its digest: no digest, and no resolution either.
    let mut ledger = Ledger::default();
    ledger.observe("acme", &holding(&["a"]), &Kind::ALL, at(0));
    assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(5)).len(), 1);
    assert_eq!(ledger.observe("acme", &holding(&["x"]), &Kind::ALL, at(10)), vec![]);
    assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(20)), vec![]);
    for minute in (25..400).step_by(5) {
        assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(minute)), vec![], "at {minute}");
        assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(minute)), vec![]);
    }
}

/// A resolution waiting for the `Resolved` digest is dropped when its kind reopens: the people
/// told never heard it closed, so what comes is a batch of the same incident, resolved once.
#[test]
fn a_kind_reopening_before_its_resolution_goes_out_continues_the_incident() {
    let mut ledger = Ledger::default();
    ledger.observe("acme", &holding(&["a"]), &Kind::ALL, at(0));
    ledger.observe("acme", &holding(&[]), &Kind::ALL, at(5));
    ledger.observe("acme", &holding(&["b"]), &Kind::ALL, at(61));
    assert_eq!(ledger.observe("acme", &holding(&[]), &Kind::ALL, at(62)), vec![], "Resolved's hour runs to +65");
    assert_eq!(ledger.observe("acme", &holding(&["c"]), &Kind::ALL, at(63)), vec![]);
    assert_eq!(ledger.due_digests("acme", &Kind::ALL, at(70)), vec![], "no resolution of an open incident");
    let digest = ledger.due_digests("acme", &Kind::ALL, at(121));
    assert_eq!(digest.len(), 1);
    assert!(digest[0].text.starts_with("[acme] Since the last message: 1 more deprovision is held (1 in all)"));
    assert_eq!(
        texts(&ledger.observe("acme", &holding(&[]), &Kind::ALL, at(130))),
        ["[acme] Resolved: the held deprovisions were approved or released."]
    );
}

#[test]
fn kinds_not_chosen_are_tracked_and_say_nothing() {
    let on = parse_kinds("held, resolved").unwrap();
    let mut ledger = Ledger::default();
    let quarantined = |keys: &[&str]| Snapshot {
        quarantined: keys.iter().map(|k| Item::new(*k, *k, "400 invalid userName")).collect(),
        quarantined_total: keys.len() as u32,
        unauthorized: Some(Item::new("humaans", "Humaans", "401 Unauthorized")),
        dead_letters: Some(vec![Item::new("ev1", "ev1", "500")]),
        ..Snapshot::default()
    };
    assert_eq!(ledger.observe("acme", &quarantined(&["q1", "q2"]), &on, at(0)), vec![]);
    assert_eq!(ledger.open().len(), 3, "tracked all the same: {:?}", ledger.open());
    // Quarantine switched on: the two already quarantined are not news; a third is.
    let on = parse_kinds("held,quarantine,resolved").unwrap();
    assert_eq!(ledger.observe("acme", &quarantined(&["q1", "q2"]), &on, at(90)), vec![]);
    let sent = ledger.observe("acme", &quarantined(&["q1", "q2", "q3"]), &on, at(95));
    // The first message people get about this incident: it counts all three, and names the new one.
    assert_eq!(
        texts(&sent),
        ["[acme] 3 people are quarantined: the service refused their account changes for 7 days (400 invalid \
          userName), so the integration stopped trying them. Fix what it refused, then run `host-harness --tenant \
          acme retry --person ID` (a change to their Humaans record lifts it too). People: q3, and 2 more."]
    );
    // Later ones are a batch of it.
    let sent = ledger.observe("acme", &quarantined(&["q1", "q2", "q3", "q4"]), &on, at(160));
    assert!(sent[0].text.starts_with("[acme] 1 more person is quarantined (4 in all): the service refused"));
    // Everything closes: only the announced kind's resolution is said.
    let sent = ledger.observe("acme", &Snapshot { dead_letters: Some(vec![]), ..Snapshot::default() }, &on, at(170));
    assert_eq!(texts(&sent), ["[acme] Resolved: nobody is quarantined any more."]);
    // With `resolved` off, closing is silent and forgotten: the next incident is announced as new.
    let on = [Kind::Held];
    ledger.observe("acme", &holding(&["a"]), &on, at(200));
    assert_eq!(ledger.observe("acme", &holding(&[]), &on, at(205)), vec![]);
    assert!(
        ledger.observe("acme", &holding(&["b"]), &on, at(300))[0].text.starts_with("[acme] 1 deprovision is held:")
    );
}

#[test]
fn unauthorized_names_the_refused_service() {
    let mut ledger = Ledger::default();
    let refused = Snapshot {
        unauthorized: Some(Item::new("scim", "Leapsome SCIM", "401: invalid token")),
        dead_letters: Some(vec![]),
        ..Snapshot::default()
    };
    assert_eq!(
        texts(&ledger.observe("acme", &refused, &Kind::ALL, at(0))),
        ["[acme] The connection is unauthorized: Leapsome SCIM refused the token (401: invalid token). Syncs, ticks \
          and events are stopped: nobody is provisioned or deprovisioned until it is connected again. Make a new \
          Leapsome SCIM token and run `host-harness --tenant acme connect` (or save the connection again on the \
          admin page)."]
    );
    assert_eq!(ledger.observe("acme", &refused, &Kind::ALL, at(100)), vec![]);
    assert_eq!(
        texts(&ledger.observe("acme", &holding(&[]), &Kind::ALL, at(105))),
        ["[acme] Resolved: the connection works again."]
    );
}

#[test]
fn quarantine_of_150_people_counts_all_and_names_10() {
    let listed: Vec<Item> = (1..=100).map(|i| Item::new(format!("P{i}"), format!("P{i}"), "")).collect();
    let snapshot =
        Snapshot { quarantined: listed, quarantined_total: 150, dead_letters: Some(vec![]), ..Snapshot::default() };
    let mut ledger = Ledger::default();
    let sent = ledger.observe("acme", &snapshot, &Kind::ALL, at(0));
    assert_eq!(
        texts(&sent),
        ["[acme] 150 people are quarantined: the service refused their account changes for 7 days, so the \
          integration stopped trying them. Fix what it refused, then run `host-harness --tenant acme retry --person \
          ID` (a change to their Humaans record lifts it too). People: P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, \
          and 140 more."]
    );
    assert_eq!(ledger.open()[0].items, 150);
}

#[test]
fn unread_dead_letters_leave_that_kind_alone() {
    let mut ledger = Ledger::default();
    let letters = |d: Option<Vec<Item>>| Snapshot { dead_letters: d, ..Snapshot::default() };
    assert_eq!(ledger.observe("acme", &letters(None), &Kind::ALL, at(0)), vec![]);
    let sent =
        ledger.observe("acme", &letters(Some(vec![Item::new("ev1", "ev1", "503 from Humaans")])), &Kind::ALL, at(5));
    assert_eq!(
        texts(&sent),
        ["[acme] 1 webhook event was given up on after its retries (dead letters): 503 from Humaans. Its changes \
          were not applied. Queue one again: `host-harness --tenant acme retry --event ID` (or POST \
          /api/tenants/acme/dead-letters/ID/retry); a `sync-all` also catches up. Events: ev1."]
    );
    for minute in (10..200).step_by(5) {
        assert_eq!(ledger.observe("acme", &letters(None), &Kind::ALL, at(minute)), vec![], "unknown is not resolved");
    }
    assert_eq!(ledger.open()[0].items, 1);
    assert_eq!(
        texts(&ledger.observe("acme", &letters(Some(vec![])), &Kind::ALL, at(200))),
        ["[acme] Resolved: no dead letters are left."]
    );
}

#[test]
fn kinds_parse_in_any_case_and_a_bad_word_is_named() {
    assert_eq!(parse_kinds("Held, QUARANTINE ").unwrap(), [Kind::Held, Kind::Quarantine]);
    assert_eq!(parse_kinds("all").unwrap(), Kind::ALL);
    assert_eq!(
        parse_kinds("resolved,dead-letters,held,held").unwrap(),
        [Kind::Held, Kind::DeadLetters, Kind::Resolved]
    );
    assert_eq!(
        parse_kinds("held,holds").unwrap_err(),
        "`holds` is not a notification kind; valid: held, unauthorized, quarantine, dead-letters, resolved, or all"
    );
    assert!(parse_kinds(" , ").unwrap_err().starts_with("no notification kind given; valid: held,"));
    assert_eq!(Kind::ALL.map(Kind::word), ["held", "unauthorized", "quarantine", "dead-letters", "resolved"]);
}

#[test]
fn a_message_body_is_slack_json_with_only_text() {
    let message = Message { kind: Kind::Held, text: "[a] \"quoted\" é\nline".into() };
    let body: serde_json::Value = serde_json::from_slice(&message.body()).unwrap();
    assert_eq!(body, serde_json::json!({ "text": "[a] \"quoted\" é\nline" }));
}
