//! The Humaans API as the integration uses it: full paged lists (250 a page, pages after the first
//! fetched concurrently), single people, a person's job roles, the company.

use std::any::Any;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de;
use serde_json::Value;

use crate::client::{Call, Client, encode};
use crate::error::{AppError, Failure, Service};
use crate::ids::IdMap;
use crate::ports::{Flow, HttpTransport};
use crate::reconcile::model::{
    CustomFieldDef, CustomValue, ExtraField, Location, PersonField, Record, RecordOf, pairs,
};
use crate::reconcile::{JobRole, Person};

pub const DEFAULT_BASE_URL: &str = "https://app.humaans.io/api";
/// Humaans' largest page.
pub const PAGE_SIZE: usize = 250;
/// Largest `total` a list may claim. The remaining pages are planned from it, so a hostile or
/// broken server claiming 10^11 would make the component plan (and allocate for) that many; no
/// organisation is this large. Found by fuzzing (`fuzz/`, `humaans_responses`).
pub const MAX_TOTAL: usize = 1_000_000;
/// The most records a list's `total` reserves room for before they arrive.
pub const RESERVE_AT_MOST: usize = 200_000;

fn bad_shape(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::Transport(Failure {
        service: Service::Humaans,
        status: None,
        message: format!("unexpected {what}: {detail}"),
    })
}

/// A list page read straight into records (no `Value` tree): the counts, how many entries `data`
/// listed and the records among them. Any JSON reads (a page of another shape has no `total`,
/// `data` of another shape is no list); only a body that is not JSON fails, and is retried.
struct Page<R> {
    total: Option<u64>,
    limit: Option<u64>,
    /// (entries listed, the records among them); `None` when `data` is no list.
    data: Option<(usize, Vec<R>)>,
}

impl<'de, R: Record> de::Visitor<'de> for PageVisitor<R> {
    type Value = Page<R>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a page")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Page<R>, A::Error> {
        let mut page = Page { total: None, limit: None, data: None };
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Total => page.total = map.next_value::<Count>()?.0,
                Key::Limit => page.limit = map.next_value::<Count>()?.0,
                Key::Data => page.data = map.next_value_seed(DataOf::<R>(PhantomData))?,
                Key::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Page<R>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Page<R>, E> {
        Ok(Page { total: None, limit: None, data: None })
    }
}

struct PageVisitor<R>(PhantomData<R>);

enum Key {
    Total,
    Limit,
    Data,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
                Ok(match k {
                    "total" => Key::Total,
                    "limit" => Key::Limit,
                    "data" => Key::Data,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A non-negative integer, anything else `None` (as `Value::as_u64`).
struct Count(Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count(Some(n)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `data`: a list of records (entries that are no object skipped, counted); else `None`.
struct DataOf<R>(PhantomData<R>);

impl<'de, R: Record> de::DeserializeSeed<'de> for DataOf<R> {
    type Value = Option<(usize, Vec<R>)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: Record> de::Visitor<'de> for DataOf<R> {
    type Value = Option<(usize, Vec<R>)>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut n, mut items) = (0, Vec::new());
        // One unreadable record must not hide the others: skip it.
        while let Some(item) = seq.next_element_seed(RecordOf::<R>::new())? {
            n += 1;
            items.extend(item);
        }
        Ok(Some((n, items)))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    crate::reconcile::model::scalars_are_none!();
}

fn parse_page<R: Record + 'static>(body: &[u8]) -> Result<Box<dyn Any>, serde_json::Error> {
    let page = crate::json::read_body(body, |de| de::Deserializer::deserialize_any(de, PageVisitor::<R>(PhantomData)))?;
    Ok(Box::new(page))
}

fn parse_person(body: &[u8]) -> Result<Box<dyn Any>, serde_json::Error> {
    let person = crate::json::read_body(body, |de| de::DeserializeSeed::deserialize(RecordOf::<Person>::new(), de))?;
    Ok(Box::new(person))
}

/// The page a reply carries (a body of whitespace only has none).
fn page_of<R: Record + 'static>(reply: Result<crate::client::Reply, AppError>) -> Result<Page<R>, AppError> {
    Ok(reply?.take::<Page<R>>().unwrap_or(Page { total: None, limit: None, data: None }))
}

fn records<R>(what: &str, page: Page<R>) -> Result<(usize, Vec<R>), AppError> {
    page.data.ok_or_else(|| bad_shape(what, "no `data` list"))
}

/// `$select[]=…` for each field a record reads (brackets escaped: some hosts refuse them raw in a
/// query). Feathers returns only those (and `id`): a page of people is a quarter of the size, to
/// send, receive and parse. The reference only infers that Humaans takes it, so a server may also
/// ignore it (nothing changes) or refuse it (see `refuses_select`).
/// `with_lists`: also the lists of named things (a person's teams), asked for only when they
/// are used (teams on): they are the largest part of a person's record when present.
/// `$select` of `R`'s fields: those always read, and of the optional ones (`R::OPTIONAL`) those in
/// `wanted` (bit `i`: field `i`), so a sync asks only for what its settings use.
fn selection<R: Record>(wanted: u32) -> String {
    R::FIELDS
        .iter()
        .enumerate()
        .filter(|(i, _)| R::OPTIONAL & (1 << i) == 0 || wanted & (1 << i) != 0)
        .map(|(_, field)| format!("&$select%5B%5D={field}"))
        .collect()
}

/// A 400 naming `$select`: the server does not take it (Feathers names the parameter it refuses).
/// Any other 400 is the answer, as it was without `$select`.
fn refuses_select(error: &AppError) -> bool {
    matches!(error, AppError::Upstream(f) if f.status == Some(400) && f.message.to_ascii_lowercase().contains("select"))
}

/// A page of a list endpoint: `$limit`, `$skip`, and `select` (the fields asked for, or none).
fn page_call<R: Record + 'static>(path: &str, skip: usize, select: &str) -> Call {
    let sep = if path.contains('?') { '&' } else { '?' };
    Call::get_parsed(format!("{path}{sep}$limit={PAGE_SIZE}&$skip={skip}{select}"), parse_page::<R>)
}

/// Begins reading the first page of a list endpoint, for a `list_all` of it soon after: the
/// server prepares the page while the caller reads something else.
pub fn start_list<R: Record + 'static>(client: &mut Client, transport: &mut dyn HttpTransport, path: &str) {
    client.start(transport, &page_call::<R>(path, 0, &selection::<R>(0)));
}

/// Every record of a list endpoint. The first page tells the total; the rest are fetched
/// `max_in_flight` at a time, each slot refilled as soon as its page is in. Pages smaller than
/// asked (a server-side cap) are followed until `total` is reached. Only the fields read are
/// asked for; a server that refuses the first page so asked (a 400 naming `$select`) is asked
/// for every page without it (one request more).
pub fn list_all<R: Record + 'static>(
    client: &mut Client,
    transport: &mut dyn HttpTransport,
    path: &str,
    with_lists: bool,
) -> Result<Vec<R>, AppError> {
    list_selected(client, transport, path, Some(if with_lists { R::NAME_LISTS } else { 0 }))
}

/// [`list_all`] asking for `R`'s optional fields in `optional` (bit `i`: field `i`); `None`: no
/// `$select` at all (for lists whose shape is not documented, where naming a field the server
/// does not have might be refused).
pub fn list_selected<R: Record + 'static>(
    client: &mut Client,
    transport: &mut dyn HttpTransport,
    path: &str,
    optional: Option<u32>,
) -> Result<Vec<R>, AppError> {
    let mut select = optional.map(selection::<R>).unwrap_or_default();
    let first = match client.send(transport, page_call::<R>(path, 0, &select)) {
        Err(refusal) if refuses_select(&refusal) => {
            select.clear();
            client.send(transport, page_call::<R>(path, 0, &select))
        }
        reply => reply,
    };
    let first = page_of::<R>(first)?;
    let total = first.total.ok_or_else(|| bad_shape(path, "no `total`"))?;
    if total > MAX_TOTAL as u64 {
        return Err(bad_shape(path, format!("`total` of {total} (more than {MAX_TOTAL})")));
    }
    let total = total as usize;
    let limit = first.limit.map_or(PAGE_SIZE, |l| (l as usize).clamp(1, PAGE_SIZE));
    let (mut got, mut items) = records(path, first)?;
    // Room for the whole list at once: grown by doubling, it would hold up to twice its records
    // and copy them all while growing. A `total` is trusted for at most RESERVE_AT_MOST records,
    // so a wrong one cannot reserve much.
    items.reserve_exact(total.min(RESERVE_AT_MOST).saturating_sub(items.len()));
    while got < total && got > 0 {
        let skips: Vec<usize> = (got..total).step_by(limit).collect();
        let calls = skips.iter().map(|skip| page_call::<R>(path, *skip, &select)).collect();
        let mut in_order = InOrder::new(skips.len());
        let mut failed = None;
        client.send_each(transport, calls, &mut |position, reply| match page_of::<R>(reply)
            .and_then(|page| records(path, page))
        {
            Ok(page) => {
                in_order.add(position, page, &mut items);
                Flow::Go
            }
            Err(error) => {
                failed.get_or_insert(error);
                Flow::Hold
            }
        });
        if let Some(error) = failed {
            return Err(error);
        }
        if in_order.progressed == 0 {
            break;
        }
        got += in_order.progressed;
    }
    Ok(items)
}

/// Pages as they arrive, appended to the list in the order of the list (a page that arrives
/// early waits for those before it; with a few in flight, a few wait at most).
struct InOrder<R> {
    next: usize,
    /// By position; `None` until the page arrives (and again once appended).
    early: Vec<Option<Vec<R>>>,
    /// Records the server listed (counted before any is dropped as unreadable).
    progressed: usize,
}

impl<R> InOrder<R> {
    fn new(pages: usize) -> Self {
        InOrder { next: 0, early: std::iter::repeat_with(|| None).take(pages).collect(), progressed: 0 }
    }

    fn add(&mut self, position: usize, (listed, records): (usize, Vec<R>), items: &mut Vec<R>) {
        self.progressed += listed;
        self.early[position] = Some(records);
        while let Some(records) = self.early.get_mut(self.next).and_then(Option::take) {
            items.extend(records);
            self.next += 1;
        }
    }
}

/// Every person; `teams`: with their teams (asked for only when teams are on).
pub fn all_people(client: &mut Client, t: &mut dyn HttpTransport, teams: bool) -> Result<Vec<Person>, AppError> {
    list_all(client, t, "/people", teams)
}

/// Everyone, asking for the optional person fields in `fields` ([`people_fields`]).
pub fn all_people_with(client: &mut Client, t: &mut dyn HttpTransport, fields: u32) -> Result<Vec<Person>, AppError> {
    list_selected(client, t, "/people", Some(fields))
}

/// The optional person fields a sync asks for: teams when teams are on, and what the extra
/// fields read (none when none is mapped: the steady sync's request stays as it was).
pub fn people_fields(teams: bool, extra: &[ExtraField]) -> u32 {
    let bit = |f: PersonField| 1u32 << f as u32;
    let mut fields = if teams { bit(PersonField::Teams) } else { 0 };
    for field in extra {
        fields |= match field {
            ExtraField::Location => bit(PersonField::LocationId),
            ExtraField::Gender => bit(PersonField::Gender),
            ExtraField::Birthday => bit(PersonField::Birthday),
            ExtraField::Custom { .. } => bit(PersonField::CustomFields),
            // Always read (timing needs them).
            ExtraField::StartDate | ExtraField::EndDate => 0,
        };
    }
    fields
}

pub const LOCATIONS: &str = "/locations";

/// Every place of work, id -> name (`label`, else `name`, else `city`: the shape is not
/// documented, reference §3.6). Read once per sync, paginated like people, without `$select`.
pub fn location_names(client: &mut Client, t: &mut dyn HttpTransport) -> Result<IdMap<String, String>, AppError> {
    let locations: Vec<Location> = list_selected(client, t, LOCATIONS, None)?;
    Ok(locations
        .iter()
        .filter_map(|l| Some((l.id().to_owned(), l.display_name()?.to_owned())))
        .filter(|(id, _)| !id.is_empty())
        .collect())
}

fn parse_location(body: &[u8]) -> Result<Box<dyn Any>, serde_json::Error> {
    let location =
        crate::json::read_body(body, |de| de::DeserializeSeed::deserialize(RecordOf::<Location>::new(), de))?;
    Ok(Box::new(location))
}

/// One place of work's name (an event reads only its person's); `None` for an unknown id.
pub fn location_name(client: &mut Client, t: &mut dyn HttpTransport, id: &str) -> Result<Option<String>, AppError> {
    match client.send(t, Call::get_parsed(format!("{LOCATIONS}/{}", encode(id)), parse_location)) {
        Ok(mut reply) => {
            Ok(reply.take::<Option<Location>>().flatten().and_then(|l| l.display_name().map(str::to_owned)))
        }
        Err(AppError::Upstream(f)) if f.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A list Humaans may not have (custom fields are undocumented): `None` when it answers 404.
fn optional_list<R: Record + 'static>(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    path: &str,
) -> Result<Option<Vec<R>>, AppError> {
    match list_selected(client, t, path, None) {
        Ok(items) => Ok(Some(items)),
        Err(AppError::Upstream(f)) if f.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fills in what mapped extra fields need beyond the person records: the place of work's name
/// (`Person::location`) and custom field values (`Person::custom_fields`, keyed by field name).
/// `single`: an event's one person (one location and its values read, not the lists).
///
/// Custom fields are not documented (reference §3.1 lists `/custom-fields` and `/custom-values`,
/// nothing more), so each plausible shape is read, in this order:
/// 1. Values embedded on the person (`customFields`, a list of `{name|customFieldId, value}` or
///    an object keyed by name): if any person carries them, they are the source, costing no
///    request; `/custom-fields` is read only if some entry names its field by id alone.
/// 2. Otherwise `/custom-fields` (id, name) and `/custom-values` (personId, customFieldId, value),
///    the whole list once per sync (one person's with `?personId=` for an event).
///
/// Embedded values come first because they are what the person record says now, with nothing
/// to join; the endpoints are the fallback the reference does name. When no source answers (both
/// endpoints 404 and nothing embedded), custom values are unknown and the mapped attributes are
/// left as Leapsome holds them (`custom_fields` stays unset), never cleared on a guess.
pub fn fill_extras(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    people: &mut [Person],
    extra: &[ExtraField],
    single: bool,
) -> Result<(), AppError> {
    if extra.contains(&ExtraField::Location) {
        let names = if single {
            let mut names = IdMap::default();
            for id in people.iter().filter_map(|p| p.location_id()) {
                if let Some(name) = location_name(client, t, id)? {
                    names.insert(id.to_owned(), name);
                }
            }
            names
        } else {
            location_names(client, t)?
        };
        for person in people.iter_mut() {
            let name = person.location_id().and_then(|id| names.get(id)).cloned();
            person.set(PersonField::Location, name.as_deref());
        }
    }
    if extra.iter().any(|f| matches!(f, ExtraField::Custom { .. })) {
        fill_custom(client, t, people, single)?;
    }
    Ok(())
}

fn fill_custom(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    people: &mut [Person],
    single: bool,
) -> Result<(), AppError> {
    let embedded = people.iter().any(|p| p.custom_fields().is_some());
    if embedded {
        let by_id = people
            .iter()
            .filter_map(|p| p.custom_fields())
            .any(|text| pairs::entries(text).any(|(k, _)| k.starts_with('#')));
        let names = if by_id { custom_field_names(client, t)?.unwrap_or_default() } else { IdMap::default() };
        for person in people.iter_mut() {
            let mut text = String::new();
            for (key, value) in pairs::entries(person.custom_fields().unwrap_or("")) {
                let name = match key.strip_prefix('#') {
                    Some(id) => match names.get(id) {
                        Some(name) => name.as_str(),
                        None => continue,
                    },
                    None => key,
                };
                pairs::push(&mut text, name, value);
            }
            person.set(PersonField::CustomFields, Some(&text));
        }
        return Ok(());
    }
    let Some(names) = custom_field_names(client, t)? else { return Ok(()) };
    let path = match people {
        [one] if single => format!("/custom-values?personId={}", encode(one.id())),
        _ => "/custom-values".to_owned(),
    };
    let Some(values) = optional_list::<CustomValue>(client, t, &path)? else { return Ok(()) };
    let mut by_person: IdMap<&str, String> = IdMap::default();
    for value in &values {
        if let (Some(name), Some(v)) = (names.get(value.custom_field_id()), value.value()) {
            pairs::push(by_person.entry(value.person_id()).or_default(), name, v);
        }
    }
    for person in people.iter_mut() {
        let text = by_person.get(person.id()).map_or("", String::as_str).to_owned();
        person.set(PersonField::CustomFields, Some(&text));
    }
    Ok(())
}

/// Custom field id -> name; `None` when Humaans has no `/custom-fields`.
fn custom_field_names(
    client: &mut Client,
    t: &mut dyn HttpTransport,
) -> Result<Option<IdMap<String, String>>, AppError> {
    let Some(fields) = optional_list::<CustomFieldDef>(client, t, "/custom-fields")? else { return Ok(None) };
    Ok(Some(fields.iter().filter_map(|f| Some((f.id().to_owned(), f.name()?.to_owned()))).collect()))
}

/// The list of every job role.
pub const JOB_ROLES: &str = "/job-roles";

pub fn all_job_roles(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Vec<JobRole>, AppError> {
    list_all(client, t, JOB_ROLES, false)
}

/// One person; `Ok(None)` when Humaans does not know the id.
pub fn person(client: &mut Client, t: &mut dyn HttpTransport, id: &str) -> Result<Option<Person>, AppError> {
    match client.send(t, Call::get_parsed(format!("/people/{}", encode(id)), parse_person)) {
        Ok(mut reply) => {
            reply.take::<Option<Person>>().flatten().map(Some).ok_or_else(|| bad_shape("person", "not an object"))
        }
        Err(AppError::Upstream(f)) if f.status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn job_roles_of(client: &mut Client, t: &mut dyn HttpTransport, person_id: &str) -> Result<Vec<JobRole>, AppError> {
    list_all(client, t, &format!("/job-roles?personId={}", encode(person_id)), false)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_asked_for_the_extra_fields_only_when_mapped() {
        let plain = selection::<Person>(people_fields(false, &[]));
        for field in ["locationId", "gender", "birthday", "customFields", "teams", "location"] {
            assert!(!plain.contains(&format!("={field}&")) && !plain.ends_with(&format!("={field}")), "{field}");
        }
        assert!(plain.contains("=email"));
        let custom = ExtraField::Custom { humaans_field: "Size".into(), leapsome_attribute: "0".repeat(24) };
        let all = selection::<Person>(people_fields(
            true,
            &[ExtraField::Location, ExtraField::Gender, ExtraField::Birthday, ExtraField::StartDate, custom],
        ));
        for field in ["locationId", "gender", "birthday", "customFields", "teams"] {
            assert!(all.contains(&format!("%5D={field}")), "{field}: {all}");
        }
        // The place of work's name is filled in, never asked for.
        assert!(!all.contains("%5D=location&") && !all.ends_with("%5D=location"), "{all}");
    }

    #[test]
    fn custom_values_read_from_each_embedded_shape() {
        let read = |json: &str| -> Option<String> {
            let person: Person = serde_json::from_str(json).unwrap();
            person
                .custom_fields()
                .map(|text| pairs::entries(text).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"))
        };
        assert_eq!(
            read(
                r#"{"id":"p","customFields":[{"name":"Size","value":"M"},{"customFieldId":"cf1","value":7},
                {"name":"","customFieldId":"cf2","value":true},{"value":"no key"},"odd",{"name":"Empty","value":""}]}"#
            )
            .as_deref(),
            Some("Size=M;#cf1=7;#cf2=true")
        );
        assert_eq!(
            read(r#"{"id":"p","customFields":{"Size":"M","Level":3,"Nested":{"a":1}}}"#).as_deref(),
            Some("Size=M;Level=3")
        );
        assert_eq!(read(r#"{"id":"p","customFields":[]}"#), None);
        assert_eq!(read(r#"{"id":"p","customFields":null}"#), None);
        assert_eq!(read(r#"{"id":"p"}"#), None);
        // Gender and birthday are read, but never printed (the fingerprint's text).
        let person: Person = serde_json::from_str(r#"{"id":"p","gender":"Female","birthday":"1989-07-28"}"#).unwrap();
        assert_eq!((person.gender(), person.birthday()), (Some("Female"), Some("1989-07-28")));
        let debug = format!("{person:?}");
        assert!(!debug.contains("Female") && !debug.contains("1989"), "{debug}");
    }

    #[test]
    fn pages_arriving_out_of_order_are_listed_in_order() {
        let mut items = vec![0];
        let mut pages = InOrder::new(3);
        pages.add(2, (3, vec![5, 6]), &mut items);
        assert_eq!(items, [0]);
        pages.add(0, (1, vec![1]), &mut items);
        assert_eq!(items, [0, 1]);
        pages.add(1, (2, vec![2, 3]), &mut items);
        assert_eq!((items, pages.progressed), (vec![0, 1, 2, 3, 5, 6], 6));
    }

    #[test]
    fn pages_parse_as_the_value_path_did() {
        // Odd fields of every kind, a record that is no object (skipped), escapes and numbers.
        let body = br#"{"total": 3, "limit": 250, "skip": 0, "data": [
            {"id": 12, "employeeId": 1234, "email": " a@b.test ", "middleName": null, "phoneNumber": "",
             "firstName": "Jos\u00e9", "lastName": ["x"], "timezone": {"a": [1, {"b": 2}]}, "status": true,
             "contractType": 1.0, "createdAt": -5, "teams": [{"name": "T"}], "profilePhoto": {"variants": {}}},
            "not a person",
            {"id": "p2", "email": "b@b.test"}
        ]}"#;
        let page = |body: &[u8]| parse_page::<Person>(body).map(|p| *p.downcast::<Page<Person>>().unwrap());
        let (n, typed) = records("people", page(body).unwrap()).unwrap();
        assert_eq!(n, 3);
        let tree: Value = serde_json::from_slice(body).unwrap();
        let by_value: Vec<Person> =
            tree["data"].as_array().unwrap().iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
        assert_eq!(typed, by_value);
        assert_eq!(typed[0].id(), "12");
        assert_eq!(typed[0].email(), Some("a@b.test"));
        assert_eq!(typed[0].first_name(), Some("José"));
        assert_eq!(typed[0].contract_type(), Some("1.0"));
        assert_eq!(typed[0].status(), Some("true"));
        assert_eq!(typed[0].created_at(), Some("-5"));
        assert_eq!((typed[0].last_name().as_ref(), typed[0].timezone().as_ref()), (None, None));
        assert!(matches!(records("people", page(br#"{"total": 1}"#).unwrap()), Err(AppError::Transport(_))));
        assert!(matches!(records("people", page(br#"{"data": {}}"#).unwrap()), Err(AppError::Transport(_))));
        assert_eq!(page(br#"{"total": 7, "limit": -1}"#).unwrap().total, Some(7));
        assert_eq!(page(b"[1]").unwrap().total, None);
        // Only a body that is not JSON fails (and is retried by the client).
        assert!(page(br#"{"total": 1, "data": [{"id": "a"}"#).is_err());
        assert!(page(br#"{"total": 1} x"#).is_err());
    }
}
