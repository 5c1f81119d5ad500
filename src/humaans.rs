//! The Humaans API as the integration uses it: full paged lists (250 a page, pages after the first
//! fetched concurrently), single people, a person's job roles, the company.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Call, Client, encode};
use crate::error::{AppError, Failure, Service};
use crate::ports::HttpTransport;
use crate::reconcile::{JobRole, Person};

pub const DEFAULT_BASE_URL: &str = "https://app.humaans.io/api";
/// Humaans' largest page.
pub const PAGE_SIZE: usize = 250;
/// Largest `total` a list may claim. The remaining pages are planned from it, so a hostile or
/// broken server claiming 10^11 would make the component plan (and allocate for) that many; no
/// organisation is this large. Found by fuzzing (`fuzz/`, `humaans_responses`).
pub const MAX_TOTAL: usize = 1_000_000;

fn bad_shape(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::Transport(Failure {
        service: Service::Humaans,
        status: None,
        message: format!("unexpected {what}: {detail}"),
    })
}

/// The records of a page, consuming it (no copies: pages of 250 people are large).
fn take_items<T: DeserializeOwned>(what: &str, page: Value) -> Result<(usize, Vec<T>), AppError> {
    let Value::Object(mut page) = page else { return Err(bad_shape(what, "not an object")) };
    let Some(Value::Array(data)) = page.remove("data") else { return Err(bad_shape(what, "no `data` list")) };
    let n = data.len();
    // One unreadable record must not hide the others: skip it.
    Ok((n, data.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect()))
}

/// Every record of a list endpoint. The first page tells the total; the rest are fetched together.
/// Pages smaller than asked (a server-side cap) are followed until `total` is reached.
pub fn list_all<T: DeserializeOwned>(
    client: &mut Client,
    transport: &mut dyn HttpTransport,
    path: &str,
) -> Result<Vec<T>, AppError> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page_call = |skip: usize| Call::get(format!("{path}{sep}$limit={PAGE_SIZE}&$skip={skip}"));
    let first = client.send(transport, page_call(0))?.json;
    let total = first.get("total").and_then(Value::as_u64).ok_or_else(|| bad_shape(path, "no `total`"))?;
    if total > MAX_TOTAL as u64 {
        return Err(bad_shape(path, format!("`total` of {total} (more than {MAX_TOTAL})")));
    }
    let total = total as usize;
    let limit = first.get("limit").and_then(Value::as_u64).map_or(PAGE_SIZE, |l| (l as usize).clamp(1, PAGE_SIZE));
    let (mut got, mut items) = take_items::<T>(path, first)?;
    while got < total && got > 0 {
        let skips: Vec<usize> = (got..total).step_by(limit).collect();
        let mut progressed = 0;
        // A batch at a time: all pages in flight at once would hold every raw page in memory.
        for batch in skips.chunks(client.max_in_flight.max(1)) {
            let calls = batch.iter().map(|s| page_call(*s)).collect();
            for reply in client.send_all(transport, calls) {
                let (n, page_items) = take_items::<T>(path, reply?.json)?;
                items.extend(page_items);
                progressed += n;
            }
        }
        if progressed == 0 {
            break;
        }
        got += progressed;
    }
    Ok(items)
}

pub fn all_people(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Vec<Person>, AppError> {
    list_all(client, t, "/people")
}

pub fn all_job_roles(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Vec<JobRole>, AppError> {
    list_all(client, t, "/job-roles")
}

/// One person; `Ok(None)` when Humaans does not know the id.
pub fn person(client: &mut Client, t: &mut dyn HttpTransport, id: &str) -> Result<Option<Person>, AppError> {
    match client.send(t, Call::get(format!("/people/{}", encode(id)))) {
        Ok(reply) => serde_json::from_value(reply.json).map(Some).map_err(|e| bad_shape("person", e)),
        Err(AppError::Upstream(f)) if f.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn job_roles_of(client: &mut Client, t: &mut dyn HttpTransport, person_id: &str) -> Result<Vec<JobRole>, AppError> {
    list_all(client, t, &format!("/job-roles?personId={}", encode(person_id)))
}

/// The company name, from `/companies/:id` (or the token's company when the id is unknown).
pub fn company_name(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    company_id: Option<&str>,
) -> Result<Option<String>, AppError> {
    let json = match company_id {
        Some(id) => client.send(t, Call::get(format!("/companies/{}", encode(id))))?.json,
        None => {
            let page = client.send(t, Call::get("/companies?$limit=1"))?.json;
            page.get("data").and_then(|d| d.get(0)).cloned().unwrap_or(Value::Null)
        }
    };
    Ok(json.get("name").and_then(Value::as_str).map(str::to_owned))
}

/// `GET /me`: a cheap request that proves the token; returns the company id of its owner if any.
pub fn verify_token(client: &mut Client, t: &mut dyn HttpTransport) -> Result<(), AppError> {
    // `/companies` works for every token (`/me` needs a token tied to a person).
    client.send(t, Call::get("/companies?$limit=1")).map(|_| ())
}

/// Whether the token has `private:read`, without which new hires and offboarded people are
/// invisible (and a leaver would look deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Granted,
    /// The token's scopes, none of them `private:read`.
    Missing(Vec<String>),
    /// No reliable way to tell; why.
    Unknown(String),
}

/// Asks `/token-info` for the token's scopes (its shape is not documented: `scopes` at the top
/// or under `data`). Without an answer, a person who is not `active` in the list proves the scope
/// (a `public:read` token sees only active members); otherwise it stays unknown.
pub fn private_read_scope(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Scope, AppError> {
    let info = match client.send(t, Call::get("/token-info")) {
        Ok(reply) => Some(reply.json),
        Err(e @ AppError::Unauthorized(_)) => return Err(e),
        Err(_) => None,
    };
    let scopes = info.as_ref().and_then(|v| v.get("scopes").or_else(|| v.get("data")?.get("scopes")));
    if let Some(Value::Array(scopes)) = scopes {
        let scopes: Vec<String> = scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        return Ok(if scopes.iter().any(|s| s == "private:read") { Scope::Granted } else { Scope::Missing(scopes) });
    }
    let probe = client.send(t, Call::get("/people?$limit=1&status[$ne]=active"));
    if let Ok(reply) = probe
        && reply.json.get("data").and_then(Value::as_array).is_some_and(|d| !d.is_empty())
    {
        return Ok(Scope::Granted);
    }
    Ok(Scope::Unknown("/token-info does not list the token's scopes".into()))
}
