//! The HTTP side: mounts, auth, and one function per endpoint.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use serde_json::{Map, Value, json};

use super::config::{FilterQuoting, LeapsomeConfig};
use super::filter::{EqFilter, parse_eq_quoting};
use super::groups::{self, GROUP_URN, GroupRecord, Groups};
use super::model::{Ctx, Op, Profile, SCIM_JSON, ScimError};
use super::schema::{CORE_URN, LIST_URN};
use super::store::{Store, UserRecord, Write};
use super::{patch, render};
use crate::server::{Handler, Request, Response};

/// SPEC's documented base and the tenant URL Entra's gallery app uses (reference §1.1).
const MOUNTS: &[&str] = &["/scim/v1", "/api/scim"];

pub struct Service {
    config: LeapsomeConfig,
    /// Locked before `groups` when a request needs both (team writes check their members).
    store: Mutex<Store>,
    groups: Mutex<Groups>,
    base_url: OnceLock<String>,
}

fn not_found(detail: &str) -> ScimError {
    ScimError::new(404, None, detail)
}

fn scim_json(status: u16, value: &Value) -> Response {
    Response::json(status, value).with_content_type(SCIM_JSON)
}

impl Handler for Service {
    fn handle(&self, request: &Request) -> Response {
        self.route(request).unwrap_or_else(|e| {
            let mut response = e.response();
            if e.status == 401 {
                response.headers.push(("www-authenticate".into(), "Bearer".into()));
            }
            response
        })
    }

    fn error_body(&self, status: u16, message: &str) -> Response {
        ScimError::new(status, None, message).response()
    }
}

impl Service {
    pub fn new(config: LeapsomeConfig) -> Self {
        Service {
            config,
            store: Mutex::new(Store::default()),
            groups: Mutex::new(Groups::default()),
            base_url: OnceLock::new(),
        }
    }

    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    /// A panicking test thread must not turn every later request into a poisoned-lock panic.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn groups(&self) -> MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn config(&self) -> &LeapsomeConfig {
        &self.config
    }

    pub fn render_group(&self, group: &GroupRecord, members_excluded: bool) -> Value {
        groups::group(group, &self.config, self.base(), members_excluded)
    }

    /// A team inserted by hand: any number of members (no per-request cap), an `id` of 24 hex
    /// digits kept.
    pub fn seed_group(&self, group: Value) -> Result<String, ScimError> {
        let body =
            group.as_object().ok_or_else(|| ScimError::bad_request("invalidSyntax", "a group must be an object"))?;
        let id = body.get("id").and_then(Value::as_str).map(str::to_owned);
        let store = self.store();
        self.groups().create(body, &store, &self.config, Some(id))
    }

    pub fn render(&self, user: &UserRecord, store: &Store) -> Value {
        render::user(user, store, &self.config, self.base_url.get().map_or("", String::as_str))
    }

    /// Writes a whole user definition (POST, PUT, seeding) into an empty profile.
    fn write_full(&self, body: &Map<String, Value>, store: &Store) -> Result<Profile, ScimError> {
        let mut profile = Profile::default();
        let resolve = |r: &str| store.resolve_manager(r, self.config.strict_rfc);
        patch::merge(&mut profile, Op::Replace, body, &Ctx { config: &self.config, resolve: &resolve })?;
        Ok(profile)
    }

    pub fn seed(&self, user: Value) -> Result<String, ScimError> {
        let body =
            user.as_object().ok_or_else(|| ScimError::bad_request("invalidSyntax", "a user must be an object"))?;
        let id = body.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut store = self.store();
        if let Some(id) = &id
            && (id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || store.any(id).is_some())
        {
            return Err(ScimError::new(409, None, format!("id {id} is not 24 hex digits or is taken")));
        }
        let profile = self.write_full(body, &store)?;
        let any_domain = LeapsomeConfig { email_domains: Vec::new(), ..self.config.clone() };
        store.validate(&profile, None, Write::Create, &any_domain)?;
        Ok(store.insert(profile, id))
    }

    fn route(&self, request: &Request) -> Result<Response, ScimError> {
        let rest = MOUNTS
            .iter()
            .find_map(|mount| {
                let head = request.path.get(..mount.len())?;
                let rest = &request.path[mount.len()..];
                (head.eq_ignore_ascii_case(mount) && (rest.is_empty() || rest.starts_with('/'))).then_some(rest)
            })
            .ok_or_else(|| not_found("Resource not found"))?;
        self.authorize(request)?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let Some((resource, ids)) = segments.split_first() else {
            return Err(not_found("Resource not found"));
        };
        let method = request.method.as_str();
        match (resource.to_ascii_lowercase().as_str(), ids, method) {
            ("users", [], "GET") => self.list(request),
            ("users", [], "POST") => self.create(request),
            ("users", [id], "GET") => self.get(id),
            ("users", [id], "PUT") => self.replace(id, request),
            ("users", [id], "PATCH") => self.patch(id, request),
            ("users", [id], "DELETE") => self.delete(id),
            ("groups", [], "GET") => self.list_groups(request),
            ("groups", [], "POST") => self.create_group(request),
            ("groups", [id], "GET") => self.get_group(id, request),
            ("groups", [id], "PATCH") => self.patch_group(id, request),
            ("groups", [id], "DELETE") => self.delete_group(id),
            ("serviceproviderconfig", [], "GET") => {
                Ok(scim_json(200, &render::service_provider_config(&self.config, self.base())))
            }
            ("users" | "groups", [] | [_], _) | ("serviceproviderconfig", [], _) => {
                Err(ScimError::new(405, None, format!("{method} is not supported on {}", request.path)))
            }
            _ => Err(not_found("Resource not found")),
        }
    }

    fn base(&self) -> &str {
        self.base_url.get().map_or("", String::as_str)
    }

    /// SPEC: 401 "Client is not sufficiently authorized", 403 "Invalid token passed".
    fn authorize(&self, request: &Request) -> Result<(), ScimError> {
        match request.bearer() {
            Some(token) if token == self.config.token => Ok(()),
            Some(token) if !token.is_empty() => {
                Err(ScimError::new(self.config.wrong_token_status, None, "Invalid token passed"))
            }
            _ => Err(ScimError::new(401, None, "Client is not sufficiently authorized")),
        }
    }

    fn body(&self, request: &Request) -> Result<Map<String, Value>, ScimError> {
        if let Some(content_type) = &request.content_type {
            let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if mime != "application/json" && mime != SCIM_JSON {
                return Err(ScimError::new(415, None, format!("unsupported content type {content_type}")));
            }
        }
        match request.json() {
            Ok(Value::Object(body)) => Ok(body),
            Ok(other) => {
                Err(ScimError::bad_request("invalidSyntax", format!("body must be a JSON object, got {other}")))
            }
            Err(e) => Err(ScimError::bad_request("invalidSyntax", e)),
        }
    }

    fn int_param(request: &Request, name: &str) -> Result<Option<i64>, ScimError> {
        match request.query_param(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ScimError::bad_request("invalidValue", format!("{name} must be an integer, got '{v}'"))),
        }
    }

    /// A list filter the mock can answer: `attribute eq value` with the quoting the config takes,
    /// on an attribute `supported` accepts (its name without the resource's URN prefix). `None`
    /// when the filter is unsupported and the config says to ignore it; `only` names what is
    /// supported in the 400.
    fn list_filter(
        &self,
        filter: &str,
        urn: &str,
        only: &str,
        supported: impl Fn(&str) -> bool,
    ) -> Result<Option<EqFilter>, ScimError> {
        let unsupported = |why: String| {
            if self.config.unsupported_filter_ignored {
                Ok(None)
            } else {
                Err(ScimError::bad_request("invalidFilter", format!("{why}; only {only} eq is supported")))
            }
        };
        if self.config.filters_refused {
            return unsupported("filtering is not supported".into());
        }
        let mut eq = match parse_eq_quoting(filter) {
            Ok((eq, quoted)) => match (self.config.filter_quoting, quoted) {
                (FilterQuoting::QuotedOnly, false) => return unsupported("the value must be quoted".into()),
                (FilterQuoting::UnquotedOnly, true) => return unsupported("the value must not be quoted".into()),
                _ => eq,
            },
            Err(why) => return unsupported(why),
        };
        let attribute = eq.attribute.strip_prefix(&format!("{urn}:")).unwrap_or(&eq.attribute).to_owned();
        if !supported(&attribute) {
            return unsupported(format!("cannot filter on {}", eq.attribute));
        }
        eq.attribute = attribute;
        Ok(Some(eq))
    }

    /// `None` when the filter is unsupported and the config says to ignore it.
    fn filtered<'s>(&self, store: &'s Store, filter: &str) -> Result<Option<Vec<&'s UserRecord>>, ScimError> {
        let supported = |a: &str| {
            a.eq_ignore_ascii_case("userName")
                || (a.eq_ignore_ascii_case("externalId") && self.config.external_id_filter)
        };
        let Some(eq) = self.list_filter(filter, CORE_URN, "userName", supported)? else {
            return Ok(None);
        };
        if eq.attribute.eq_ignore_ascii_case("userName") {
            Ok(Some(store.by_user_name(&eq.value_text()).into_iter().collect()))
        } else {
            Ok(Some(store.by_external_id(&eq.value_text())))
        }
    }

    /// `startIndex` (1-based) and `count` clamped to `max`, as RFC 7644 §3.4.2.4 reads them: a
    /// startIndex below 1 means 1, a negative count means 0.
    fn paging(request: &Request, max: usize) -> Result<(i64, usize, usize), ScimError> {
        let start_index = Self::int_param(request, "startIndex")?.unwrap_or(1).max(1);
        let count =
            Self::int_param(request, "count")?.map_or(max, |c| usize::try_from(c.max(0)).unwrap_or(max)).min(max);
        let offset = usize::try_from(start_index - 1).unwrap_or(usize::MAX);
        Ok((start_index, count, offset))
    }

    /// `excludedAttributes=members` (Entra asks for groups that way), which matters only where
    /// GET returns members.
    fn members_excluded(request: &Request) -> bool {
        request
            .query_param("excludedAttributes")
            .is_some_and(|a| a.split(',').any(|a| a.trim().eq_ignore_ascii_case("members")))
    }

    /// `GET /Groups`: SPEC's `displayName eq` filter only, pages of at most 1,000.
    fn list_groups(&self, request: &Request) -> Result<Response, ScimError> {
        let (start_index, mut count, offset) = Self::paging(request, self.config.max_group_page_size)?;
        if self.config.groups_all_without_count && Self::int_param(request, "count")?.is_none() {
            count = usize::MAX;
        }
        let groups = self.groups();
        let filter = request.query_param("filter").filter(|f| !f.trim().is_empty());
        let filter = match filter {
            Some(f) => self.list_filter(f, GROUP_URN, "displayName", |a| a.eq_ignore_ascii_case("displayName"))?,
            None => None,
        };
        let (total, page): (usize, Vec<&GroupRecord>) = match filter {
            Some(eq) => {
                let found: Vec<&GroupRecord> = groups.by_name(&eq.value_text(), &self.config).into_iter().collect();
                (found.len(), found.into_iter().skip(offset).take(count).collect())
            }
            None => (groups.len(), groups.page(offset, count).collect()),
        };
        let excluded = Self::members_excluded(request);
        let resources: Vec<Value> = page.iter().map(|g| self.render_group(g, excluded)).collect();
        let body = json!({
            "schemas": [LIST_URN],
            "totalResults": total,
            "itemsPerPage": resources.len(),
            "startIndex": start_index,
            "Resources": resources,
        });
        Ok(scim_json(200, &body))
    }

    fn create_group(&self, request: &Request) -> Result<Response, ScimError> {
        let body = self.body(request)?;
        let store = self.store();
        let mut groups = self.groups();
        let id = groups.create(&body, &store, &self.config, None)?;
        let group = self.render_group(groups.live(&id).expect("just created"), false);
        let mut response = scim_json(201, &group);
        response.headers.push(("location".into(), format!("{}/Groups/{id}", self.base())));
        Ok(response)
    }

    fn get_group(&self, id: &str, request: &Request) -> Result<Response, ScimError> {
        let groups = self.groups();
        let group = groups.by_id_or_external_id(id).ok_or_else(|| not_found("Resource not found"))?;
        Ok(scim_json(200, &self.render_group(group, Self::members_excluded(request))))
    }

    fn patch_group(&self, id: &str, request: &Request) -> Result<Response, ScimError> {
        let body = self.body(request)?;
        let store = self.store();
        let mut groups = self.groups();
        groups.patch(id, &body, &store, &self.config)?;
        if self.config.patch_returns_204 {
            return Ok(Response::empty(204));
        }
        Ok(scim_json(200, &self.render_group(groups.live(id).expect("just patched"), false)))
    }

    fn delete_group(&self, id: &str) -> Result<Response, ScimError> {
        if let Some(status) = self.config.group_delete_status {
            let mut response =
                ScimError::new(status, None, format!("DELETE is not supported on /Groups/{id}")).response();
            if status == 405 {
                response.headers.push(("allow".into(), "GET, PATCH".into()));
            }
            return Ok(response);
        }
        let mut groups = self.groups();
        groups.remove(id, &self.config).ok_or_else(|| not_found("Group not found"))?;
        Ok(Response::empty(204))
    }

    fn list(&self, request: &Request) -> Result<Response, ScimError> {
        let (start_index, count, offset) = Self::paging(request, self.config.max_page_size)?;
        let store = self.store();
        let filtered = match request.query_param("filter").filter(|f| !f.trim().is_empty()) {
            Some(filter) => self.filtered(&store, filter)?,
            None => None,
        };
        let (total, page): (usize, Vec<&UserRecord>) = match filtered {
            Some(matches) => (matches.len(), matches.into_iter().skip(offset).take(count).collect()),
            None => (store.len(), store.page(offset, count).collect()),
        };
        // Written straight from the stored users: a `Value` tree per user was most of a page's cost.
        let body = render::list_page(&page, total, start_index, &store, &self.config, self.base());
        Ok(Response { status: 200, content_type: SCIM_JSON.into(), headers: Vec::new(), body: body.into() })
    }

    fn create(&self, request: &Request) -> Result<Response, ScimError> {
        let body = self.body(request)?;
        let mut store = self.store();
        let profile = self.write_full(&body, &store)?;
        match store.validate(&profile, None, Write::Create, &self.config) {
            Err(e) if e.status == 409 && self.config.duplicate_returns_empty_201 => {
                return Ok(scim_json(201, &json!({})));
            }
            result => result?,
        }
        let id = store.insert(profile, None);
        let user = self.render(store.live(&id).expect("just inserted"), &store);
        let mut response = scim_json(201, &user);
        response.headers.push(("location".into(), format!("{}/Users/{id}", self.base())));
        Ok(response)
    }

    fn get(&self, id: &str) -> Result<Response, ScimError> {
        let store = self.store();
        let user = store.by_id_or_external_id(id).ok_or_else(|| not_found("Resource not found"))?;
        Ok(scim_json(200, &self.render(user, &store)))
    }

    fn replace(&self, id: &str, request: &Request) -> Result<Response, ScimError> {
        let body = self.body(request)?;
        let mut store = self.store();
        let old = store.live(id).ok_or_else(|| not_found("User not found"))?;
        let mut profile = self.write_full(&body, &store)?;
        // UDEF: active changes the state only "if provided"; a PUT without it keeps it.
        if !profile.attrs.contains_key("active")
            && let Some(active) = old.profile.attrs.get("active")
        {
            profile.attrs.insert("active".into(), active.clone());
        }
        store.validate(&profile, Some(id), Write::Update, &self.config)?;
        store.update(id, profile);
        Ok(scim_json(200, &self.render(store.live(id).expect("just updated"), &store)))
    }

    fn patch(&self, id: &str, request: &Request) -> Result<Response, ScimError> {
        let body = Value::Object(self.body(request)?);
        let mut store = self.store();
        let mut profile = store.live(id).ok_or_else(|| not_found("User not found"))?.profile.clone();
        let resolve = |r: &str| store.resolve_manager(r, self.config.strict_rfc);
        patch::apply_patch_body(&mut profile, &body, &Ctx { config: &self.config, resolve: &resolve })?;
        store.validate(&profile, Some(id), Write::Update, &self.config)?;
        store.update(id, profile);
        if self.config.patch_returns_204 {
            return Ok(Response::empty(204));
        }
        Ok(scim_json(200, &self.render(store.live(id).expect("just updated"), &store)))
    }

    fn delete(&self, id: &str) -> Result<Response, ScimError> {
        if let Some(status) = self.config.delete_status {
            let mut response = ScimError::new(status, None, "Deleting users is not supported").response();
            if status == 405 {
                response.headers.push(("allow".into(), "GET, PUT, PATCH".into()));
            }
            return Ok(response);
        }
        let mut store = self.store();
        let user = store.live(id).ok_or_else(|| not_found("User not found"))?;
        if self.config.delete_deactivates {
            let mut profile = user.profile.clone();
            profile.attrs.insert("active".into(), Value::Bool(false));
            store.update(id, profile);
        } else {
            store.remove(id);
            self.groups().forget_member(id);
        }
        Ok(Response::empty(204))
    }
}
