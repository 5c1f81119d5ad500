//! The SCIM 2.0 API as the integration uses it: all users as pages of the largest size the
//! server allows, one user by userName (escaped filter, or whatever the server allows), create,
//! patch, delete, and writes the server refused for `emails` sent again without them.

use serde_json::Value;
use std::any::Any;

use serde::de;

use crate::client::{Call, Client, Reply, encode};
use crate::error::{AppError, Failure, Service};
use crate::ports::{HttpTransport, Method};
use crate::reconcile::RemoteUser;
use crate::reconcile::remote::{Json, parse_user, parse_user_json};
use crate::reconcile::render::{user_name_filter, user_name_filter_unquoted, without_emails};

pub const DEFAULT_BASE_URL: &str = "https://api.leapsome.com/scim/v1";
/// Leapsome's largest page; servers may return fewer, which is followed.
pub const PAGE_SIZE: usize = 5000;
/// Largest `totalResults` a listing may claim. The remaining pages are planned from it, so a
/// hostile or broken server claiming 10^11 would make the component plan (and allocate for) that
/// many. Found by fuzzing (`fuzz/`, `scim_responses`).
pub const MAX_TOTAL: usize = 1_000_000;
/// Leapsome allows 30 requests a second ("when making requests in parallel").
pub const REQUESTS_PER_SECOND: u32 = 30;

fn bad_shape(detail: impl std::fmt::Display) -> AppError {
    AppError::Transport(Failure {
        service: Service::Scim,
        status: None,
        message: format!("unexpected SCIM response: {detail}"),
    })
}

/// A listing page read as it arrives: each resource becomes a [`Json`] tree and then a user one
/// at a time (a `Value` tree of a whole 5,000-user page is tens of megabytes).
struct ListPage {
    total: Option<u64>,
    /// Resources listed and the users among them; `Err(())` when `Resources` is no list.
    resources: Result<(usize, Vec<RemoteUser>), ()>,
}

impl<'de> de::Visitor<'de> for ListPageVisitor {
    type Value = ListPage;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a SCIM list")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ListPage, A::Error> {
        let mut page = ListPage { total: None, resources: Ok((0, Vec::new())) };
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            match &*key {
                "totalResults" => page.total = map.next_value::<Value>()?.as_u64(),
                "Resources" => page.resources = map.next_value_seed(Resources)?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListPage, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(ListPage::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<ListPage, E> {
        Ok(ListPage::default())
    }
}

struct ListPageVisitor;

impl Default for ListPage {
    fn default() -> Self {
        // No object: no total and nothing listed.
        ListPage { total: None, resources: Ok((0, Vec::new())) }
    }
}

struct Resources;

impl<'de> de::DeserializeSeed<'de> for Resources {
    type Value = Result<(usize, Vec<RemoteUser>), ()>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Resources {
    type Value = Result<(usize, Vec<RemoteUser>), ()>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of resources")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut n, mut users) = (0, Vec::new());
        while let Some(resource) = seq.next_element::<Json>()? {
            n += 1;
            users.extend(parse_user_json(&resource));
        }
        Ok(Ok((n, users)))
    }
    // RFC 7644: `Resources` may be left out (or null) when there are no results.
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok((0, Vec::new())))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(Err(()))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
}

fn parse_list(body: &[u8]) -> Result<Box<dyn Any>, serde_json::Error> {
    let page = crate::json::read_body(body, |de| de::Deserializer::deserialize_any(de, ListPageVisitor))?;
    Ok(Box::new(page))
}

/// The users of a page and how many resources it listed.
fn page_users(reply: Result<Reply, AppError>) -> Result<(Option<u64>, usize, Vec<RemoteUser>), AppError> {
    let page = reply?.take::<ListPage>().unwrap_or_default();
    let (n, users) = page.resources.map_err(|()| bad_shape("`Resources` is not a list"))?;
    Ok((page.total, n, users))
}

/// A page of the user list, from `start` (1-based).
fn users_page(start: usize) -> Call {
    Call::get_parsed(format!("/Users?startIndex={start}&count={PAGE_SIZE}"), parse_list)
}

/// Pages of users read at once: a page of 5,000 users is several megabytes as it arrives.
const USER_PAGES_AT_ONCE: usize = 2;

/// Begins reading the first page of users, for a [`first_users`] soon after: the server
/// prepares it while the caller reads something else.
pub fn start_users(client: &mut Client, t: &mut dyn HttpTransport) {
    client.start(t, &users_page(1));
}

/// The user list as far as its first page.
pub struct FirstUsers {
    total: usize,
    /// The page size the server really uses.
    per_page: usize,
    users: Vec<RemoteUser>,
}

/// The first page of users, which tells `totalResults` and the page size the server really
/// uses; the next pages are begun (see [`Client::start`]) for [`rest_of_users`].
pub fn first_users(client: &mut Client, t: &mut dyn HttpTransport) -> Result<FirstUsers, AppError> {
    let mut first = client.send(t, users_page(1))?;
    let page = first.take::<ListPage>().unwrap_or_default();
    let total = page.total.ok_or_else(|| bad_shape("no totalResults"))?;
    if total > MAX_TOTAL as u64 {
        return Err(bad_shape(format!("totalResults of {total} (more than {MAX_TOTAL})")));
    }
    let total = total as usize;
    let (per_page, mut users) = page.resources.map_err(|()| bad_shape("`Resources` is not a list"))?;
    users.reserve_exact(total.min(crate::humaans::RESERVE_AT_MOST).saturating_sub(users.len()));
    if per_page > 0 {
        for start in (per_page..total).step_by(per_page).take(USER_PAGES_AT_ONCE) {
            client.start(t, &users_page(start + 1));
        }
    }
    Ok(FirstUsers { total, per_page, users })
}

/// Every user: the first page, then the remaining pages.
pub fn rest_of_users(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    first: FirstUsers,
) -> Result<Vec<RemoteUser>, AppError> {
    let FirstUsers { total, per_page, mut users } = first;
    let mut seen = per_page;
    while seen < total && per_page > 0 {
        let starts: Vec<usize> = (seen..total).step_by(per_page).map(|s| s + 1).collect();
        let mut progressed = 0;
        for batch in starts.chunks(USER_PAGES_AT_ONCE) {
            for reply in client.send_all(t, batch.iter().map(|s| users_page(*s)).collect()) {
                let (_, n, more) = page_users(reply)?;
                progressed += n;
                users.extend(more);
            }
        }
        if progressed == 0 {
            break;
        }
        seen += progressed;
    }
    // A user listed twice (pages shifting under concurrent writes) counts once. Marked first,
    // then dropped: a set of borrowed ids cannot live while the list changes, and a set of
    // copies would be an allocation per user.
    let mut ids = crate::ids::IdSet::with_capacity_and_hasher(users.len(), Default::default());
    let first_listing: Vec<bool> = users.iter().map(|u| ids.insert(u.id())).collect();
    drop(ids);
    let mut first_listing = first_listing.into_iter();
    users.retain(|_| first_listing.next().unwrap_or(true));
    Ok(users)
}

/// Every user. The first page tells `totalResults` and the page size the server really uses;
/// the remaining pages are fetched together.
pub fn all_users(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Vec<RemoteUser>, AppError> {
    let first = first_users(client, t)?;
    rest_of_users(client, t, first)
}

/// The user with this userName (case-insensitive), if any. Which filters a server takes is
/// unknown for Leapsome (reference §1.5), so: the quoted filter of RFC 7644, and if that is
/// refused (400) the unquoted one of Leapsome's own example; if both are refused, or the filter
/// was ignored, the full user list.
pub fn find_by_user_name(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    user_name: &str,
) -> Result<Option<RemoteUser>, AppError> {
    let same = |u: &RemoteUser| u.user_name().eq_ignore_ascii_case(user_name);
    for filter in [Some(user_name_filter(user_name)), user_name_filter_unquoted(user_name)].into_iter().flatten() {
        let path = format!("/Users?filter={}&startIndex=1&count=10", encode(&filter));
        match client.send(t, Call::get_parsed(path, parse_list)) {
            Ok(reply) => {
                let (_, _, mut users) = page_users(Ok(reply))?;
                // userName is unique: an applied filter answers this user or nobody. Anyone else
                // listed means the server ignored it, and the user may be on a later page.
                let ignored = users.iter().any(|u| !same(u));
                let found = users.iter().position(same).map(|i| users.swap_remove(i));
                if found.is_some() || !ignored {
                    return Ok(found);
                }
                break;
            }
            Err(AppError::Upstream(f)) if f.status == Some(400) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(all_users(client, t)?.into_iter().find(same))
}

/// The write to send instead of one the server refused for carrying `emails`: the same without
/// them, once. Leapsome's write schemas have no `emails` (it derives the one work email from
/// userName) and a server may refuse them (reference §2.1, §2.3). The email we write is always
/// the userName (both are the work email), so such a server loses nothing, while refusing would
/// fail every creation. Told by a 400 whose message names `emails`: scimType is often missing.
pub fn without_refused_emails(call: &Call, failure: &Failure) -> Option<Call> {
    if failure.status != Some(400) || !failure.message.to_ascii_lowercase().contains("emails") {
        return None;
    }
    let body = without_emails(call.body.as_ref()?)?;
    Some(Call { body: Some(body), ..call.clone() })
}

/// `POST /Users`. `Ok(None)` when the server says the user already exists (409, or Leapsome's
/// 201 with `{}`): the caller looks it up and links it.
pub fn create(client: &mut Client, t: &mut dyn HttpTransport, body: Value) -> Result<Option<RemoteUser>, AppError> {
    match client.send(t, Call::with(Method::Post, "/Users", Some(body))) {
        Ok(Reply { json, .. }) => Ok(parse_user(&json)),
        Err(AppError::Upstream(f)) if f.status == Some(409) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn user_path(id: &str) -> String {
    format!("/Users/{}", encode(id))
}

/// A write to one user (PATCH, or DELETE with no body). 404 on a DELETE counts as done.
pub fn write(client: &mut Client, t: &mut dyn HttpTransport, call: Call) -> Result<(), AppError> {
    let is_delete = call.method == Method::Delete;
    match client.send(t, call) {
        Ok(_) => Ok(()),
        Err(AppError::Upstream(f)) if is_delete && f.status == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A cheap request proving the token: the first user only.
pub fn verify_token(client: &mut Client, t: &mut dyn HttpTransport) -> Result<u32, AppError> {
    let page = client.send(t, Call::get("/Users?startIndex=1&count=1"))?.json;
    Ok(page.get("totalResults").and_then(Value::as_u64).unwrap_or(0) as u32)
}
