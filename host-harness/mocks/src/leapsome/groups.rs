//! Teams, Leapsome's SCIM Groups (reference §2.6): the stored groups with their name index, every
//! group write (POST bodies, Leapsome's flat PATCH with `replaceMembers`, RFC 7644 PatchOp on
//! `members`) and groups as GET answers them. Members are Leapsome user ids, checked against the
//! users' `Store`; they are stored in the order they were added, without duplicates (adds are
//! idempotent, reference §2.6: clients that cannot read members back re-send their adds).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::config::LeapsomeConfig;
use super::filter::parse_eq;
use super::model::{self, ScimError, as_bool, get_ci, invalid_value};
use super::schema::PATCH_OP_URN;
use super::store::Store;

pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// SPEC: "The displayName field exceeds 128 characters".
pub const MAX_NAME_CHARS: usize = 128;

#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Leapsome user ids, in the order they were added, each once.
    pub members: Vec<String>,
    pub created: String,
    pub last_modified: String,
    pub version: u64,
}

#[derive(Default)]
pub struct Groups {
    groups: HashMap<String, GroupRecord>,
    /// Ids, oldest first: the stable list order.
    order: Vec<String>,
    /// Name key (see `name_key`) → id.
    by_name: HashMap<String, String>,
    counter: u64,
}

/// What the unique index and the `displayName eq` filter compare.
fn name_key(name: &str, config: &LeapsomeConfig) -> String {
    if config.group_names_case_exact { name.to_owned() } else { name.to_lowercase() }
}

/// A displayName as written: a non-empty string of at most 128 characters.
fn display_name(value: Option<&Value>) -> Result<String, ScimError> {
    match value {
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_CHARS => {
            Err(invalid_value(format!("The displayName field exceeds {MAX_NAME_CHARS} characters")))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(invalid_value("The displayName field is required.")),
        Some(Value::String(_)) => Err(invalid_value("The displayName field must be non-empty.")),
        Some(other) => Err(invalid_value(format!("displayName must be a string, got {other}"))),
    }
}

fn external_id(value: &Value) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(invalid_value(format!("externalId must be a string, got {other}"))),
    }
}

/// `[{value: id}, …]` (a bare id string is taken too, as some clients send it).
fn member_values(value: &Value) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Null => &[],
        other => return Err(invalid_value(format!("members must be an array, got {other}"))),
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(id) => Ok(id.clone()),
            Value::Object(member) => get_ci(member, "value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid_value(format!("a member needs a string value, got {item}"))),
            other => Err(invalid_value(format!("a member must be an object, got {other}"))),
        })
        .collect()
}

/// One membership change, in the order the body gives them.
enum Change {
    Add(Vec<String>),
    Replace(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
}

/// A write read from a body, before it is checked against the stored groups.
#[derive(Default)]
struct Edit {
    display_name: Option<String>,
    external_id: Option<Option<String>>,
    changes: Vec<Change>,
}

impl Edit {
    fn member_count(&self) -> usize {
        self.changes
            .iter()
            .map(|c| match c {
                Change::Add(ids) | Change::Replace(ids) | Change::Remove(ids) => ids.len(),
                Change::RemoveAll => 0,
            })
            .sum()
    }

    /// A flat body's `displayName`, `externalId` and `members` (with `replaceMembers`).
    fn flat(body: &Map<String, Value>, replace: bool) -> Result<Edit, ScimError> {
        let mut edit = Edit::default();
        if let Some(name) = get_ci(body, "displayName") {
            edit.display_name = Some(display_name(Some(name))?);
        }
        if let Some(id) = get_ci(body, "externalId") {
            edit.external_id = Some(external_id(id)?);
        }
        match (get_ci(body, "members"), replace) {
            (Some(members), false) => edit.changes.push(Change::Add(member_values(members)?)),
            (Some(members), true) => edit.changes.push(Change::Replace(member_values(members)?)),
            // SPEC: with replaceMembers "all existing team members will be REMOVED … and only the
            // newly provided members are added again": none provided leaves none.
            (None, true) => edit.changes.push(Change::Replace(Vec::new())),
            (None, false) => {}
        }
        Ok(edit)
    }

    /// An RFC 7644 PatchOp's operations on `members`, `members[value eq "id"]`, `displayName`,
    /// `externalId`, or without a path (a value object with those keys, as Okta sends).
    fn patch_op(operations: &[Value]) -> Result<Edit, ScimError> {
        let mut edit = Edit::default();
        for operation in operations {
            let operation = operation
                .as_object()
                .ok_or_else(|| ScimError::bad_request("invalidSyntax", "an operation must be an object"))?;
            let op = get_ci(operation, "op").and_then(Value::as_str).map(str::to_ascii_lowercase);
            let value = get_ci(operation, "value");
            let path = match get_ci(operation, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(p.trim().to_owned()),
                Some(_) => return Err(ScimError::bad_request("invalidPath", "path must be a string")),
            };
            let needs_value = || value.ok_or_else(|| invalid_value("add and replace need a value"));
            match (op.as_deref(), path.as_deref()) {
                (Some(op @ ("add" | "replace")), None) => {
                    let object = needs_value()?
                        .as_object()
                        .ok_or_else(|| invalid_value("an operation without a path needs an object value"))?;
                    let mut inner = Edit::flat(object, false)?;
                    if op == "replace" {
                        for change in &mut inner.changes {
                            if let Change::Add(ids) = change {
                                *change = Change::Replace(std::mem::take(ids));
                            }
                        }
                    }
                    edit.display_name = inner.display_name.or(edit.display_name);
                    edit.external_id = inner.external_id.or(edit.external_id);
                    edit.changes.extend(inner.changes);
                }
                (Some("add"), Some(p)) if p.eq_ignore_ascii_case("members") => {
                    edit.changes.push(Change::Add(member_values(needs_value()?)?));
                }
                (Some("replace"), Some(p)) if p.eq_ignore_ascii_case("members") => {
                    edit.changes.push(Change::Replace(member_values(needs_value()?)?));
                }
                // Entra without `aadOptscim062020` names the members in the value; without a value
                // RFC 7644 §3.5.2.2 removes them all.
                (Some("remove"), Some(p)) if p.eq_ignore_ascii_case("members") => match value {
                    None | Some(Value::Null) => edit.changes.push(Change::RemoveAll),
                    Some(v) => edit.changes.push(Change::Remove(member_values(v)?)),
                },
                (Some("remove"), Some(p)) if member_filter(p).is_some() => {
                    edit.changes.push(Change::Remove(vec![member_filter(p).expect("checked")?]));
                }
                (Some("add" | "replace"), Some(p)) if p.eq_ignore_ascii_case("displayName") => {
                    edit.display_name = Some(display_name(value)?);
                }
                (Some("add" | "replace"), Some(p)) if p.eq_ignore_ascii_case("externalId") => {
                    edit.external_id = Some(external_id(needs_value()?)?);
                }
                (Some("remove"), Some(p)) if p.eq_ignore_ascii_case("externalId") => edit.external_id = Some(None),
                (Some("remove"), None) => return Err(ScimError::bad_request("noTarget", "remove needs a path")),
                (Some("add" | "replace" | "remove"), Some(p)) => {
                    return Err(ScimError::bad_request(
                        "invalidPath",
                        format!("cannot {} {p} on a group", op.unwrap()),
                    ));
                }
                (other, _) => return Err(ScimError::bad_request("invalidSyntax", format!("unknown op {other:?}"))),
            }
        }
        Ok(edit)
    }
}

/// `members[value eq "id"]`: `Some(Ok(id))`, `Some(Err)` for a malformed filter on members, `None`
/// for another path.
fn member_filter(path: &str) -> Option<Result<String, ScimError>> {
    let (attribute, rest) = path.split_once('[')?;
    if !attribute.trim().eq_ignore_ascii_case("members") {
        return None;
    }
    let bad = || ScimError::bad_request("invalidFilter", format!("unsupported member filter {path}"));
    let Some(inner) = rest.strip_suffix(']') else {
        return Some(Err(bad()));
    };
    Some(match parse_eq(inner) {
        Ok(eq) if eq.attribute.eq_ignore_ascii_case("value") => Ok(eq.value_text()),
        _ => Err(bad()),
    })
}

/// What a write sent about membership, checked against the users: every id is a live Leapsome
/// user (or dropped, with `unknown_member_ignored`).
fn known_members(ids: Vec<String>, users: &Store, config: &LeapsomeConfig) -> Result<Vec<String>, ScimError> {
    let mut known = Vec::with_capacity(ids.len());
    for id in ids {
        if users.live(&id).is_some() {
            known.push(id);
        } else if !config.unknown_member_ignored {
            return Err(invalid_value(format!("The user {id} does not exist in your organization")));
        }
    }
    Ok(known)
}

/// Appends the ids not yet members. A set of the current members keeps a 100-member add to a
/// team of thousands linear (the bench's big teams).
fn add_members(members: &mut Vec<String>, ids: Vec<String>) {
    let mut present: HashSet<String> = members.iter().cloned().collect();
    for id in ids {
        if present.insert(id.clone()) {
            members.push(id);
        }
    }
}

fn check_member_cap(count: usize, config: &LeapsomeConfig) -> Result<(), ScimError> {
    if count > config.max_members_per_patch {
        return Err(invalid_value(format!("The members array exceeds {} elements", config.max_members_per_patch)));
    }
    Ok(())
}

impl Groups {
    pub fn live(&self, id: &str) -> Option<&GroupRecord> {
        self.groups.get(id)
    }

    /// `GET /Groups/{id}`: by id, then by externalId (SPEC says so for Groups as for Users).
    pub fn by_id_or_external_id(&self, key: &str) -> Option<&GroupRecord> {
        self.live(key).or_else(|| self.all().find(|g| g.external_id.as_deref() == Some(key)))
    }

    pub fn by_name(&self, name: &str, config: &LeapsomeConfig) -> Option<&GroupRecord> {
        self.by_name.get(&name_key(name, config)).and_then(|id| self.live(id))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn page(&self, start: usize, count: usize) -> impl Iterator<Item = &GroupRecord> {
        let start = start.min(self.order.len());
        let end = start.saturating_add(count).min(self.order.len());
        self.order[start..end].iter().filter_map(|id| self.live(id))
    }

    pub fn all(&self) -> impl Iterator<Item = &GroupRecord> {
        self.page(0, usize::MAX)
    }

    fn check_unique(&self, name: &str, own_id: Option<&str>, config: &LeapsomeConfig) -> Result<(), ScimError> {
        match self.by_name(name, config) {
            Some(other) if Some(other.id.as_str()) != own_id => Err(ScimError::new(
                409,
                Some("uniqueness"),
                "The displayName is already in use within the organization",
            )),
            _ => Ok(()),
        }
    }

    /// A fresh 24-hex id like users' ids, from a counter of its own.
    fn new_id(&mut self) -> String {
        let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        loop {
            self.counter += 1;
            let id = format!("{:08x}{:016x}", seconds as u32, 0x7ea3_0000_0000_0000u64 ^ self.counter);
            if !self.groups.contains_key(&id) {
                return id;
            }
        }
    }

    /// `POST /Groups` (and seeding, with `cap: false` and any `id` of 24 hex digits kept): SPEC's
    /// `GroupDefinition {displayName, externalId}`; `members` only with `group_create_members`.
    pub fn create(
        &mut self,
        body: &Map<String, Value>,
        users: &Store,
        config: &LeapsomeConfig,
        seeded: Option<Option<String>>,
    ) -> Result<String, ScimError> {
        let name = display_name(get_ci(body, "displayName"))?;
        let external = get_ci(body, "externalId").map(external_id).transpose()?.flatten();
        let mut members = Vec::new();
        if (config.group_create_members || seeded.is_some())
            && let Some(value) = get_ci(body, "members")
        {
            let ids = member_values(value)?;
            if seeded.is_none() {
                check_member_cap(ids.len(), config)?;
            }
            add_members(&mut members, known_members(ids, users, config)?);
        }
        self.check_unique(&name, None, config)?;
        let id = match seeded.flatten() {
            Some(id)
                if id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !self.groups.contains_key(&id) =>
            {
                id
            }
            Some(id) => return Err(ScimError::new(409, None, format!("id {id} is not 24 hex digits or is taken"))),
            None => self.new_id(),
        };
        let now = model::now();
        self.by_name.insert(name_key(&name, config), id.clone());
        self.order.push(id.clone());
        let record = GroupRecord {
            id: id.clone(),
            display_name: name,
            external_id: external,
            members,
            created: now.clone(),
            last_modified: now,
            version: 1,
        };
        self.groups.insert(id.clone(), record);
        Ok(id)
    }

    /// `PATCH /Groups/{id}`: a flat body or (unless `group_patch_op` is off) a PatchOp; in strict
    /// mode a PatchOp only. All or nothing: a failing part leaves the group as it was.
    pub fn patch(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        users: &Store,
        config: &LeapsomeConfig,
    ) -> Result<(), ScimError> {
        let old = self.live(id).ok_or_else(|| ScimError::new(404, None, "Group not found"))?;
        let declares_patch_op = get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))));
        let operations = get_ci(body, "Operations");
        let is_patch_op = declares_patch_op || operations.is_some();
        let edit = if is_patch_op {
            if !config.group_patch_op && !config.strict_rfc {
                return Err(ScimError::bad_request("invalidSyntax", "a team PATCH takes a flat GroupDefinition body"));
            }
            let operations = operations
                .and_then(Value::as_array)
                .ok_or_else(|| ScimError::bad_request("invalidSyntax", "Operations must be an array"))?;
            Edit::patch_op(operations)?
        } else if config.strict_rfc {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                format!("PATCH body must be a PatchOp with schemas [\"{PATCH_OP_URN}\"] and Operations"),
            ));
        } else {
            let replace = match get_ci(body, "replaceMembers") {
                None | Some(Value::Null) => false,
                Some(v) => {
                    as_bool(v).ok_or_else(|| invalid_value(format!("replaceMembers must be a boolean, got {v}")))?
                }
            };
            Edit::flat(body, replace)?
        };
        check_member_cap(edit.member_count(), config)?;
        let mut record = old.clone();
        for change in edit.changes {
            match change {
                Change::Add(ids) => add_members(&mut record.members, known_members(ids, users, config)?),
                Change::Replace(ids) => {
                    record.members.clear();
                    add_members(&mut record.members, known_members(ids, users, config)?);
                }
                // Removing someone who is not a member (or no user at all) changes nothing.
                Change::Remove(ids) => {
                    let gone: HashSet<&String> = ids.iter().collect();
                    record.members.retain(|m| !gone.contains(m));
                }
                Change::RemoveAll => record.members.clear(),
            }
        }
        if let Some(name) = edit.display_name {
            self.check_unique(&name, Some(id), config)?;
            record.display_name = name;
        }
        if let Some(external) = edit.external_id {
            record.external_id = external;
        }
        record.version += 1;
        record.last_modified = model::now();
        let old_key = name_key(&self.groups[id].display_name, config);
        self.by_name.remove(&old_key);
        self.by_name.insert(name_key(&record.display_name, config), id.to_owned());
        self.groups.insert(id.to_owned(), record);
        Ok(())
    }

    /// A removed user leaves every team (it is 404 afterwards, so it cannot stay a member).
    pub fn forget_member(&mut self, user_id: &str) {
        for group in self.groups.values_mut() {
            group.members.retain(|m| m != user_id);
        }
    }

    /// `DELETE /Groups/{id}` where the config allows it (an RFC server).
    pub fn remove(&mut self, id: &str, config: &LeapsomeConfig) -> Option<GroupRecord> {
        let record = self.groups.remove(id)?;
        self.order.retain(|g| g != id);
        self.by_name.remove(&name_key(&record.display_name, config));
        Some(record)
    }
}

/// A group as GET, POST and PATCH answer it. Leapsome's `Group` has `members` with maxItems 0:
/// an empty list whatever the team holds; an RFC server (`group_members_returned`) lists them,
/// unless the request excluded them (`excludedAttributes=members`, as Entra asks).
pub fn group(record: &GroupRecord, config: &LeapsomeConfig, base_url: &str, members_excluded: bool) -> Value {
    let mut out = json!({
        "schemas": [GROUP_URN],
        "id": record.id,
        "displayName": record.display_name,
    });
    if let Some(external) = &record.external_id {
        out["externalId"] = json!(external);
    }
    if !config.group_members_returned {
        out["members"] = json!([]);
    } else if !members_excluded {
        let members: Vec<Value> = record
            .members
            .iter()
            .map(|id| json!({"value": id, "$ref": format!("{base_url}/Users/{id}"), "type": "User"}))
            .collect();
        out["members"] = Value::Array(members);
    }
    out["meta"] = json!({
        "resourceType": "Group",
        "created": record.created,
        "lastModified": record.last_modified,
        "location": format!("{base_url}/Groups/{}", record.id),
        "version": format!("W/\"{}\"", record.version),
    });
    out
}
