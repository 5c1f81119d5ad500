//! The HTTP side of the mock: routing, bearer auth with scopes, Feathers errors and list queries.

use std::sync::RwLock;

use serde_json::{Value, json};

use super::config::{ApiToken, Behaviour, CustomFieldsShape, Select};
use super::json::{Mode, WriteJson, field_names, field_value, write_object};
use super::model::{Company, CustomField, CustomValue, JobRole, Location, Person, id_from, new_id, splitmix64};
use super::query::{Condition, Op, Query, matches, sort_order};
use super::store::{Store, custom_field_id};
use crate::server::{Handler, Request, Response};

/// What the mock can change at run time besides the data.
pub(crate) struct Settings {
    pub tokens: Vec<ApiToken>,
    pub behaviour: Behaviour,
}

pub(crate) struct Api {
    pub settings: RwLock<Settings>,
    pub store: RwLock<Store>,
    person_fields: FieldSet,
    role_fields: FieldSet,
    company_fields: FieldSet,
    location_fields: FieldSet,
    custom_field_fields: FieldSet,
    custom_value_fields: FieldSet,
}

impl Api {
    pub fn new(settings: Settings, store: Store) -> Api {
        Api {
            settings: RwLock::new(settings),
            store: RwLock::new(store),
            person_fields: FieldSet::of::<Person>(),
            role_fields: FieldSet::of::<JobRole>(),
            company_fields: FieldSet::of::<Company>(),
            location_fields: FieldSet::of::<Location>(),
            custom_field_fields: FieldSet::of::<CustomField>(),
            custom_value_fields: FieldSet::of::<CustomValue>(),
        }
    }
}

/// The top-level fields of a resource in output order, and which of them hold lists or objects
/// (and so cannot be filtered on with a query-string value).
struct FieldSet {
    names: Vec<(&'static str, bool)>,
}

impl FieldSet {
    fn of<T: WriteJson + Default>() -> FieldSet {
        let example = T::default();
        let names = field_names::<T>().into_iter().enumerate();
        let names =
            names.map(|(i, name)| (name, matches!(field_value(&example, i), Value::Array(_) | Value::Object(_))));
        FieldSet { names: names.collect() }
    }

    /// The position of a known field and whether it is a list or object.
    fn get(&self, name: &str) -> Option<(usize, bool)> {
        self.names.iter().position(|(n, _)| *n == name).map(|i| (i, self.names[i].1))
    }
}

/// Which fields a caller may not see, and whether they are removed or shown as `null`.
struct View<'a> {
    hidden: &'a [String],
    as_null: bool,
}

impl View<'_> {
    const FULL: View<'static> = View { hidden: &[], as_null: false };

    fn hides(&self, field: &str) -> bool {
        self.hidden.iter().any(|h| h == field)
    }

    /// The per-field modes for this view and `$select`; `None` when every field is shown.
    fn modes(&self, fields: &FieldSet, select: Option<&[String]>) -> Option<Vec<Mode>> {
        if self.hidden.is_empty() && select.is_none() {
            return None;
        }
        let mode = |name: &str| {
            // Feathers adapters always return the id, whatever `$select` says.
            let selected = name == "id" || select.is_none_or(|s| s.iter().any(|f| f == name));
            match (selected, self.hides(name)) {
                (false, _) => Mode::Omit,
                (true, false) => Mode::Show,
                (true, true) if self.as_null => Mode::Null,
                (true, true) => Mode::Omit,
            }
        };
        Some(fields.names.iter().map(|(name, _)| mode(name)).collect())
    }

    fn render<T: WriteJson>(&self, item: &T, fields: &FieldSet, select: Option<&[String]>) -> Response {
        let mut out = String::with_capacity(2048);
        write_object(&mut out, item, self.modes(fields, select).as_deref());
        json_response(out)
    }
}

fn json_response(body: String) -> Response {
    Response {
        status: 200,
        content_type: "application/json".into(),
        headers: Vec::new(),
        body: bytes::Bytes::from(body),
    }
}

enum Route {
    Me,
    TokenInfo,
    People(Option<String>),
    JobRoles(Option<String>),
    Companies(Option<String>),
    Locations(Option<String>),
    CustomFields(Option<String>),
    CustomValues(Option<String>),
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/api/")?;
        // A trailing slash addresses the same service, as in Express.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = rest.split('/');
        let service = segments.next()?;
        let id = segments.next().map(str::to_owned);
        if segments.next().is_some() || id.as_deref() == Some("") {
            return None;
        }
        Some(match (service, id) {
            ("me", None) => Route::Me,
            ("token-info", None) => Route::TokenInfo,
            ("people", id) => Route::People(id),
            ("job-roles", id) => Route::JobRoles(id),
            ("companies", id) => Route::Companies(id),
            ("locations", id) => Route::Locations(id),
            ("custom-fields", id) => Route::CustomFields(id),
            ("custom-values", id) => Route::CustomValues(id),
            _ => return None,
        })
    }

    fn has_id(&self) -> bool {
        matches!(
            self,
            Route::People(Some(_))
                | Route::JobRoles(Some(_))
                | Route::Companies(Some(_))
                | Route::Locations(Some(_))
                | Route::CustomFields(Some(_))
                | Route::CustomValues(Some(_))
        )
    }
}

/// The Feathers service method an HTTP method maps to, for the 405 message.
fn feathers_method(method: &str, has_id: bool) -> &'static str {
    match (method, has_id) {
        ("GET", false) => "find",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "remove",
        _ => "unknown",
    }
}

/// A Feathers error body: `{id, code, name, className, message}`.
pub(crate) fn feathers_error(status: u16, message: &str) -> Response {
    feathers_error_with(status, message, None)
}

fn feathers_error_with(status: u16, message: &str, issues: Option<Value>) -> Response {
    let (name, class_name) = match status {
        400 => ("BadRequest", "bad-request"),
        401 => ("NotAuthenticated", "not-authenticated"),
        402 => ("PaymentError", "payment-error"),
        403 => ("Forbidden", "forbidden"),
        404 => ("NotFound", "not-found"),
        405 => ("MethodNotAllowed", "method-not-allowed"),
        406 => ("NotAcceptable", "not-acceptable"),
        408 => ("Timeout", "timeout"),
        409 => ("Conflict", "conflict"),
        411 => ("LengthRequired", "length-required"),
        422 => ("Unprocessable", "unprocessable"),
        429 => ("TooManyRequests", "too-many-requests"),
        501 => ("NotImplemented", "not-implemented"),
        502 => ("BadGateway", "bad-gateway"),
        503 => ("Unavailable", "unavailable"),
        other if other < 500 => ("BadRequest", "bad-request"),
        _ => ("GeneralError", "general-error"),
    };
    let mut body = json!({
        "id": new_id(),
        "code": status,
        "name": name,
        "className": class_name,
        "message": message,
    });
    if let Some(issues) = issues {
        body["issues"] = issues;
    }
    Response::json(status, &body)
}

fn bad_query(parameter: &str, reason: &str) -> Response {
    feathers_error_with(
        400,
        &format!("Invalid query parameter {parameter}: {reason}"),
        Some(json!([{ "name": parameter, "reason": reason }])),
    )
}

fn not_found(id: &str) -> Response {
    feathers_error(404, &format!("No record found for id '{id}'"))
}

/// A stable id for a token, for `/token-info`, without echoing the secret.
fn token_id(token: &str) -> String {
    let mut state =
        token.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    id_from(|| splitmix64(&mut state))
}

impl Handler for Api {
    fn handle(&self, request: &Request) -> Response {
        let Some(route) = Route::parse(&request.path) else {
            return feathers_error(404, "Page not found");
        };
        if request.method != "GET" {
            let method = feathers_method(&request.method, route.has_id());
            return feathers_error(405, &format!("Method `{method}` is not supported by this endpoint."));
        }
        let settings = self.settings.read().unwrap();
        let Some(token) = request.bearer() else {
            return feathers_error(401, "Not authenticated");
        };
        let Some(token) = settings.tokens.iter().find(|t| t.token == token) else {
            return feathers_error(401, "Invalid access token");
        };
        let behaviour = &settings.behaviour;
        let is_select = |key: &str| key == "$select" || key.starts_with("$select[");
        let without_select;
        let request = match behaviour.select {
            _ if !request.query.iter().any(|(key, _)| is_select(key)) => request,
            Select::Honoured => request,
            Select::Refused => return bad_query("$select", "Invalid query parameter $select"),
            Select::Ignored => {
                let query = request.query.iter().filter(|(key, _)| !is_select(key)).cloned().collect();
                without_select = Request { query, ..request.clone() };
                &without_select
            }
        };
        let public_only = if token.scopes.iter().any(|s| s == "private:read") {
            false
        } else if token.scopes.iter().any(|s| s == "public:read") {
            true
        } else {
            return feathers_error(403, "This access token does not have the public:read or private:read scope");
        };
        // Private fields are person fields; job roles and the company are shown whole.
        let view = if public_only {
            View { hidden: &behaviour.private_fields, as_null: behaviour.private_fields_as_null }
        } else {
            View::FULL
        };
        let visible = |p: &Person| !public_only || behaviour.public_statuses.contains(&p.status);
        let store = self.store.read().unwrap();

        match route {
            Route::Me => {
                let Some(person_id) = token.person_id.as_deref() else {
                    return feathers_error(404, "This access token does not belong to a person");
                };
                match store.person(person_id) {
                    Some(person) => view.render(person, &self.person_fields, None),
                    None => not_found(person_id),
                }
            }
            Route::TokenInfo => Response::json(
                200,
                &json!({
                    "id": token_id(&token.token),
                    "personId": token.person_id,
                    "companyId": store.company.id,
                    "scopes": token.scopes,
                }),
            ),
            Route::People(Some(id)) => match store.person(&id).filter(|p| visible(p)) {
                Some(person) => view.render(person, &self.person_fields, select(request).as_deref()),
                None => not_found(&id),
            },
            Route::People(None) => {
                let query = match Query::parse(&request.query, &[]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                let people = store.people().iter().filter(|p| visible(p));
                list(people, &query, &self.person_fields, &view, behaviour)
            }
            Route::JobRoles(id) => {
                if public_only && !behaviour.public_job_roles {
                    return feathers_error(403, "This access token cannot read job roles");
                }
                // Only a public-only token needs the owner looked up (a hash lookup per role per page).
                let role_visible = |r: &JobRole| !public_only || store.person(&r.person_id).is_none_or(&visible);
                if let Some(id) = id {
                    return match store.role(&id).filter(|r| role_visible(r)) {
                        Some(role) => View::FULL.render(role, &self.role_fields, select(request).as_deref()),
                        None => not_found(&id),
                    };
                }
                let query = match Query::parse(&request.query, &["$asOf"]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                let as_of = query.special("$asOf").map(str::to_owned);
                if let Some(date) = &as_of
                    && super::dates::parse_date(date).is_none()
                {
                    return bad_query("$asOf", "expected a YYYY-MM-DD date");
                }
                let in_effect = |r: &JobRole| as_of.as_deref().is_none_or(|d| r.in_effect_on(d));
                // A single personId uses the per-person index instead of scanning every role.
                let by_person = query.conditions.iter().find_map(|c| match c {
                    Condition { field, op: Op::Eq, values } if field == "personId" && values.len() == 1 => {
                        Some(values[0].clone())
                    }
                    _ => None,
                });
                let roles: Box<dyn Iterator<Item = &JobRole>> = match &by_person {
                    Some(person_id) => Box::new(store.roles_of(person_id)),
                    None => Box::new(store.roles().iter()),
                };
                let roles = roles.filter(|r| role_visible(r) && in_effect(r));
                list(roles, &query, &self.role_fields, &View::FULL, behaviour)
            }
            Route::Companies(Some(id)) => {
                if store.company.id == id {
                    View::FULL.render(&store.company, &self.company_fields, select(request).as_deref())
                } else {
                    not_found(&id)
                }
            }
            Route::Locations(Some(id)) => match store.locations.iter().find(|l| l.id == id) {
                Some(location) => View::FULL.render(location, &self.location_fields, select(request).as_deref()),
                None => not_found(&id),
            },
            Route::Locations(None) => {
                let query = match Query::parse(&request.query, &[]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                list(store.locations.iter(), &query, &self.location_fields, &View::FULL, behaviour)
            }
            Route::CustomFields(_) | Route::CustomValues(_)
                if matches!(behaviour.custom_fields, CustomFieldsShape::Absent) =>
            {
                feathers_error(404, "Page not found")
            }
            Route::CustomFields(id) => {
                let fields = store.custom_fields();
                if let Some(id) = id {
                    return match fields.iter().find(|f| f.id == id) {
                        Some(field) => View::FULL.render(field, &self.custom_field_fields, None),
                        None => not_found(&id),
                    };
                }
                let query = match Query::parse(&request.query, &[]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                list(fields.iter(), &query, &self.custom_field_fields, &View::FULL, behaviour)
            }
            Route::CustomValues(id) => {
                let values: Vec<CustomValue> = store
                    .people()
                    .iter()
                    .filter(|p| visible(p))
                    .flat_map(|p| {
                        p.custom_values.iter().map(|(name, value)| CustomValue {
                            id: custom_field_id(&format!("{}/{name}", p.id)),
                            person_id: p.id.clone(),
                            custom_field_id: custom_field_id(name),
                            value: value.clone(),
                        })
                    })
                    .collect();
                if let Some(id) = id {
                    return match values.iter().find(|v| v.id == id) {
                        Some(value) => View::FULL.render(value, &self.custom_value_fields, None),
                        None => not_found(&id),
                    };
                }
                let query = match Query::parse(&request.query, &[]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                list(values.iter(), &query, &self.custom_value_fields, &View::FULL, behaviour)
            }
            Route::Companies(None) => {
                let query = match Query::parse(&request.query, &[]) {
                    Ok(q) => q,
                    Err(e) => return bad_query(&e.parameter, &e.reason),
                };
                list(std::iter::once(&store.company), &query, &self.company_fields, &View::FULL, behaviour)
            }
        }
    }

    fn error_body(&self, status: u16, message: &str) -> Response {
        feathers_error(status, message)
    }
}

/// A person's `customFields` as served in `shape` (`None`: not on the person). Kept on the stored
/// person (`Person::custom_fields`) whenever its values or the shape change, so serving a page of
/// people copies nothing.
pub(crate) fn embedded_custom_fields(person: &Person, shape: CustomFieldsShape) -> Option<Value> {
    let values = &person.custom_values;
    Some(match shape {
        CustomFieldsShape::Endpoints | CustomFieldsShape::Absent => return None,
        CustomFieldsShape::EmbeddedByName => {
            Value::Array(values.iter().map(|(name, value)| json!({"name": name, "value": value})).collect())
        }
        CustomFieldsShape::EmbeddedById => Value::Array(
            values
                .iter()
                .map(|(name, value)| json!({"customFieldId": custom_field_id(name), "value": value}))
                .collect(),
        ),
        CustomFieldsShape::EmbeddedObject => {
            Value::Object(values.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect())
        }
    })
}

/// `$select` on a get-by-id request, which Feathers honours there too.
fn select(request: &Request) -> Option<Vec<String>> {
    Query::parse(&request.query, &["$asOf"]).ok().and_then(|q| q.select)
}

/// Filters, sorts and pages `items` into a Feathers list envelope.
fn list<'a, T: WriteJson + 'a>(
    items: impl Iterator<Item = &'a T>,
    query: &Query,
    fields: &FieldSet,
    view: &View,
    behaviour: &Behaviour,
) -> Response {
    // Every named field must exist and be visible; filters also need a scalar field.
    let position = |field: &str, filtering: bool| -> Result<usize, Response> {
        match fields.get(field) {
            Some(_) if view.hides(field) && !view.as_null => Err(bad_query(field, "no such field")),
            Some((_, true)) if filtering => Err(bad_query(field, "cannot filter on a list or object field")),
            Some((index, _)) => Ok(index),
            None => Err(bad_query(field, "no such field")),
        }
    };
    let mut conditions = Vec::with_capacity(query.conditions.len());
    for condition in &query.conditions {
        match position(&condition.field, true) {
            Ok(index) => conditions.push((index, view.hides(&condition.field), condition)),
            Err(response) => return response,
        }
    }
    let mut sort = Vec::with_capacity(query.sort.len());
    for (field, ascending) in &query.sort {
        match position(field, false) {
            Ok(index) => sort.push((index, view.hides(field), *ascending)),
            Err(response) => return response,
        }
    }
    // A field shown as null to this caller is null for filtering and sorting too.
    let value_of = |item: &T, index: usize, hidden: bool| {
        if hidden { Value::Null } else { field_value(item, index) }
    };

    let mut matched: Vec<&T> = items
        .filter(|item| conditions.iter().all(|(index, hidden, c)| matches(&value_of(item, *index, *hidden), c)))
        .collect();

    if !sort.is_empty() {
        let mut keyed: Vec<(Vec<Value>, &T)> = matched
            .into_iter()
            .map(|item| (sort.iter().map(|(index, hidden, _)| value_of(item, *index, *hidden)).collect(), item))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            sort.iter()
                .zip(a.iter().zip(b))
                .map(|((_, _, ascending), (x, y))| if *ascending { sort_order(x, y) } else { sort_order(y, x) })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        matched = keyed.into_iter().map(|(_, item)| item).collect();
    }

    let total = matched.len();
    let limit = query.limit.unwrap_or(behaviour.default_limit).min(behaviour.max_limit);
    let modes = view.modes(fields, query.select.as_deref());
    let page = matched.into_iter().skip(query.skip).take(limit);
    let mut out = String::with_capacity(64 + 2048 * limit.min(total));
    out.push_str(&format!("{{\"total\":{total},\"limit\":{limit},\"skip\":{},\"data\":[", query.skip));
    for (i, item) in page.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_object(&mut out, item, modes.as_deref());
    }
    out.push_str("]}");
    json_response(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(Route::parse("/api/people"), Some(Route::People(None))));
        assert!(matches!(Route::parse("/api/people/"), Some(Route::People(None))));
        assert!(matches!(Route::parse("/api/people/abc"), Some(Route::People(Some(id))) if id == "abc"));
        assert!(matches!(Route::parse("/api/job-roles/x"), Some(Route::JobRoles(Some(_)))));
        assert!(matches!(Route::parse("/api/me"), Some(Route::Me)));
        assert!(matches!(Route::parse("/api/locations"), Some(Route::Locations(None))));
        assert!(matches!(Route::parse("/api/custom-values/x"), Some(Route::CustomValues(Some(_)))));
        for unknown in ["/api", "/api/", "/people", "/api/me/x", "/api/people/a/b", "/api/people//", "/api/spaces"] {
            assert!(Route::parse(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn error_names_follow_feathers() {
        let body: Value = serde_json::from_slice(&feathers_error(429, "slow down").body).unwrap();
        assert_eq!(body["name"], "TooManyRequests");
        assert_eq!(body["className"], "too-many-requests");
        assert_eq!(body["code"], 429);
        assert_eq!(body["id"].as_str().unwrap().len(), 24);
        let body: Value = serde_json::from_slice(&feathers_error(504, "x").body).unwrap();
        assert_eq!(body["name"], "GeneralError");
    }

    #[test]
    fn token_ids_are_stable_and_do_not_leak_the_token() {
        assert_eq!(token_id("secret"), token_id("secret"));
        assert_ne!(token_id("secret"), token_id("secret2"));
        assert!(!token_id("secret").contains("secret"));
    }
}
