//! `POST /webhooks/humaans/{tenant}`: the component checks the delivery (`handle-webhook`); what it
//! accepts is stored in the inbox before the 202. The host knows nothing of Humaans' scheme.

use std::sync::Arc;

use serde_json::json;

use super::http::{Request, Response};
use super::{App, QueuedEvent};
use crate::plugin::api::WebhookRefusal;

pub async fn intake(app: &Arc<App>, tenant: &str, req: &Request) -> Response {
    let (status, outcome, response) = answer(app, tenant, req).await;
    app.metrics.webhook(outcome);
    if status >= 400 {
        app.log.info(
            "webhook refused",
            &[("tenant", tenant.to_owned()), ("status", status.to_string()), ("outcome", outcome.into())],
        );
    }
    response
}

async fn answer(app: &Arc<App>, tenant: &str, req: &Request) -> (u16, &'static str, Response) {
    if app.is_stopping() {
        return (503, "stopping", Response::error(503, "shutting down; send again later"));
    }
    let plugin = match app.plugin(tenant) {
        Ok(Some(p)) => p,
        Ok(None) => return (404, "unknown-tenant", Response::error(404, "no such tenant")),
        Err(e) => return (500, "error", Response::error(500, &format!("{e:#}"))),
    };
    let headers: Vec<(String, String)> =
        req.headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let accepted = match app.timed("handle-webhook", plugin.handle_webhook(&headers, &req.body)).await {
        Err(e) => return (500, "error", Response::error(500, &e.to_string())),
        Ok(Err(refusal)) => {
            return match refusal {
                WebhookRefusal::BadSignature(why) => (401, "bad-signature", Response::error(401, &why)),
                WebhookRefusal::NotConfigured => {
                    (401, "not-configured", Response::error(401, "no webhook secret is set for this tenant"))
                }
                WebhookRefusal::Malformed(why) => (400, "malformed", Response::error(400, &why)),
                // 2xx: Humaans must not retry an event we will never act on.
                WebhookRefusal::Ignored(why) => (200, "ignored", Response::json(200, &json!({"ignored": why}))),
                WebhookRefusal::Storage(why) => (500, "error", Response::error(500, &why)),
            };
        }
        Ok(Ok(a)) => a,
    };
    let payload = serde_json::to_vec(&QueuedEvent::from_accepted(&accepted)).expect("JSON");
    match app.queue.enqueue_if_new(tenant, &accepted.event.id, &payload) {
        Ok(true) => {
            app.work.notify_one();
            (202, "accepted", Response::json(202, &json!({"queued": accepted.event.id})))
        }
        Ok(false) => (200, "duplicate", Response::json(200, &json!({"duplicate": accepted.event.id}))),
        Err(e) => (500, "error", Response::error(500, &format!("the inbox cannot be written: {e:#}"))),
    }
}
