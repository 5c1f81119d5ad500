//! `handle-webhook`: the component checks a raw delivery against the tenant's secret and reads it;
//! a host only queues what it returns.

use host_harness::api::{self, EventKind, WebhookRefusal};
// Signed by the mock (as Humaans), verified by the component: the two copies of the scheme agree.
use mock_servers::humaans::webhook::sign;

use crate::support::*;

fn delivery(secret: &str, body: &str) -> (Vec<(String, String)>, Vec<u8>) {
    (vec![("x-humaans-signature".into(), sign(secret, body.as_bytes()))], body.as_bytes().to_vec())
}

#[tokio::test]
async fn signed_deliveries_are_read_and_others_refused() {
    let rig = Rig::start().await;
    let plugin = rig.connected("hooks", all_on(api::Dialect::Leapsome)).await;
    let body = r#"{"id":"evt-9","event":"jobRole.updated","data":{"id":"r1","personId":"p42"},"createdAt":"2026-01-02T03:04:05Z"}"#;

    let (headers, bytes) = delivery(WEBHOOK_SECRET, body);
    let accepted = plugin.handle_webhook(&headers, &bytes).await.unwrap().expect("a signed delivery is accepted");
    assert_eq!(accepted.name, "jobRole.updated");
    assert_eq!(accepted.event.id, "evt-9");
    assert_eq!(accepted.event.person_id, "p42");
    assert_eq!(accepted.event.kind, EventKind::JobRoleChanged);
    assert_eq!(accepted.event.occurred_at, "2026-01-02T03:04:05Z");

    let before = logs(&plugin, false, None).await.len();
    let (headers, bytes) = delivery("not-the-secret", body);
    let refused = plugin.handle_webhook(&headers, &bytes).await.unwrap();
    assert!(matches!(refused, Err(WebhookRefusal::BadSignature(_))), "{refused:?}");
    let refused = plugin.handle_webhook(&[], &bytes).await.unwrap();
    assert!(matches!(refused, Err(WebhookRefusal::BadSignature(_))), "{refused:?}");
    let (headers, bytes) = delivery(WEBHOOK_SECRET, "{not json");
    assert!(matches!(plugin.handle_webhook(&headers, &bytes).await.unwrap(), Err(WebhookRefusal::Malformed(_))));
    assert_eq!(logs(&plugin, false, None).await.len(), before, "refusals write nothing");

    let (headers, bytes) = delivery(WEBHOOK_SECRET, r#"{"id":"evt-10","event":"timeAway.created","data":{}}"#);
    let ignored = plugin.handle_webhook(&headers, &bytes).await.unwrap();
    assert!(matches!(&ignored, Err(WebhookRefusal::Ignored(r)) if r.contains("timeAway.created")), "{ignored:?}");
    let entries = logs(&plugin, false, None).await;
    assert_eq!(entries.len(), before + 1, "an ignored event is logged as a skip");
    assert_eq!(entries[0].action, api::LogAction::Skip);
    assert!(!format!("{entries:?}").contains(WEBHOOK_SECRET), "the secret is never logged");
}

#[tokio::test]
async fn the_secret_survives_a_reconnect_without_one_and_is_needed() {
    let rig = Rig::start().await;
    let plugin = rig.connected("rotate", all_on(api::Dialect::Leapsome)).await;
    let mut again = rig.connection();
    again.humaans_webhook_secret = None;
    plugin.connect(&again).await.unwrap().expect("reconnects");
    let (headers, bytes) = delivery(WEBHOOK_SECRET, r#"{"id":"e1","event":"person.updated","data":{"id":"p1"}}"#);
    assert!(plugin.handle_webhook(&headers, &bytes).await.unwrap().is_ok(), "the saved secret is kept");

    let bare = rig.plugin(rig.tenant("no-secret"));
    bare.connect(&again).await.unwrap().expect("connects without a secret");
    let refused = bare.handle_webhook(&headers, &bytes).await.unwrap();
    assert!(matches!(refused, Err(WebhookRefusal::NotConfigured)), "{refused:?}");
}
