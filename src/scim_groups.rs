//! SCIM Groups (Leapsome's teams) as the integration uses them: every group (pages of the largest
//! size Leapsome allows, 1,000), one group by exact `displayName` (the one filter Leapsome
//! documents for groups), create, and membership writes (reference/leapsome-scim.md §2.6).

use serde_json::{Value, json};

use crate::client::{Call, Client, encode};
use crate::error::{AppError, Failure, Service};
use crate::ports::{HttpTransport, Method};
use crate::reconcile::teams::{MemberWrite, RemoteTeam};

/// Leapsome's largest page of groups.
pub const GROUP_PAGE_SIZE: usize = 1000;
/// Pages read at most: a server that claims more groups than this many pages hold is not
/// believed (as with users, `scim::MAX_TOTAL`).
const MAX_GROUP_PAGES: usize = 1000;
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A group as listed: its id, exact name, and members when the service returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub display_name: String,
    pub team: RemoteTeam,
}

fn bad_shape(detail: impl std::fmt::Display) -> AppError {
    AppError::Transport(Failure {
        service: Service::Scim,
        status: None,
        message: format!("unexpected SCIM response: {detail}"),
    })
}

/// One group resource: `None` without an id or a name. Members are `Some` only when the
/// resource has a `members` list: Leapsome never returns one (its schema says at most 0 items),
/// so the caller cannot tell "no members" from "not shown" there, and keeps its own record.
fn parse_group(v: &Value) -> Option<Group> {
    let id = v.get("id")?.as_str().filter(|s| !s.is_empty())?;
    let name = v.get("displayName")?.as_str()?;
    let members = v.get("members").and_then(Value::as_array).map(|list| {
        list.iter().filter_map(|m| m.get("value").and_then(Value::as_str)).map(str::to_owned).collect::<Vec<_>>()
    });
    Some(Group { display_name: name.to_owned(), team: RemoteTeam { id: id.to_owned(), members } })
}

fn groups_of(page: &Value) -> Result<Vec<Group>, AppError> {
    match page.get("Resources") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => Ok(list.iter().filter_map(parse_group).collect()),
        Some(_) => Err(bad_shape("`Resources` is not a list")),
    }
}

/// Every group, page after page (`startIndex` 1-based, the next page where the last one ended).
pub fn all_groups(client: &mut Client, t: &mut dyn HttpTransport) -> Result<Vec<Group>, AppError> {
    let mut groups = Vec::new();
    let mut start = 1;
    for _ in 0..MAX_GROUP_PAGES {
        let page = client.send(t, Call::get(format!("/Groups?startIndex={start}&count={GROUP_PAGE_SIZE}")))?.json;
        let listed = page.get("Resources").and_then(Value::as_array).map_or(0, Vec::len);
        groups.extend(groups_of(&page)?);
        let total = page.get("totalResults").and_then(Value::as_u64).map(|n| n as usize);
        start += listed;
        if listed == 0 || total.is_none_or(|total| start > total) {
            return Ok(groups);
        }
    }
    Err(bad_shape(format!("more than {MAX_GROUP_PAGES} pages of groups")))
}

/// A `displayName` filter, quoted and escaped per RFC 7644 §3.4.2.2.
pub fn display_name_filter(name: &str) -> String {
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("displayName eq \"{escaped}\"")
}

/// The group named `name`, if any: exactly that name, or else, with `any_case` (RFC 7644 servers
/// compare `displayName` without case, so a "sales" there is the team "Sales"), the one that
/// differs only in case. Leapsome keeps names as spelled: exact only. A server that ignored the
/// filter lists others, which are passed over.
pub fn find_group(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    name: &str,
    any_case: bool,
) -> Result<Option<Group>, AppError> {
    let path = format!("/Groups?filter={}&startIndex=1&count=10", encode(&display_name_filter(name)));
    let page = client.send(t, Call::get(path))?.json;
    let mut groups = groups_of(&page)?;
    let exact = groups.iter().position(|g| g.display_name == name);
    let lower = name.to_lowercase();
    let position = exact.or_else(|| groups.iter().position(|g| any_case && g.display_name.to_lowercase() == lower));
    Ok(position.map(|i| groups.swap_remove(i)))
}

/// What creating a group came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The new group's id.
    Made(String),
    /// A group of that name already exists (409): find it and adopt it.
    Exists,
}

/// `POST /Groups` with the name only (members are written next, at most 100 a request).
pub fn create_group(client: &mut Client, t: &mut dyn HttpTransport, name: &str) -> Result<Created, AppError> {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
    match client.send(t, Call::with(Method::Post, "/Groups", Some(body))) {
        Ok(reply) => match reply.json.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(id) => Ok(Created::Made(id.to_owned())),
            // Some servers answer a duplicate with an empty resource, as Leapsome does for users.
            None => Ok(Created::Exists),
        },
        Err(AppError::Upstream(f)) if f.status == Some(409) => Ok(Created::Exists),
        Err(e) => Err(e),
    }
}

/// The body of one membership write.
pub fn member_body(write: &MemberWrite) -> Value {
    let values = |ids: &[String]| ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>();
    match write {
        MemberWrite::Flat { replace, members } => json!({"members": values(members), "replaceMembers": replace}),
        MemberWrite::PatchOp { add, remove } => {
            let mut ops: Vec<Value> = remove
                .iter()
                .map(|id| {
                    let escaped = id.replace('\\', "\\\\").replace('"', "\\\"");
                    json!({"op": "remove", "path": format!("members[value eq \"{escaped}\"]")})
                })
                .collect();
            if !add.is_empty() {
                ops.push(json!({"op": "add", "path": "members", "value": values(add)}));
            }
            json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
        }
    }
}

/// `PATCH /Groups/{id}` with one membership write.
pub fn write_members(
    client: &mut Client,
    t: &mut dyn HttpTransport,
    group_id: &str,
    write: &MemberWrite,
) -> Result<(), AppError> {
    let path = format!("/Groups/{}", encode(group_id));
    client.send(t, Call::with(Method::Patch, path, Some(member_body(write)))).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_leapsome_flat_or_rfc_patch_ops() {
        let flat = MemberWrite::Flat { replace: true, members: vec!["a".into(), "b".into()] };
        assert_eq!(member_body(&flat), json!({"members": [{"value": "a"}, {"value": "b"}], "replaceMembers": true}));
        let ops = MemberWrite::PatchOp { add: vec!["a".into()], remove: vec!["x\"y".into()] };
        assert_eq!(
            member_body(&ops),
            json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "remove", "path": "members[value eq \"x\\\"y\"]"},
                {"op": "add", "path": "members", "value": [{"value": "a"}]},
            ]})
        );
    }

    #[test]
    fn groups_read_with_members_only_when_the_service_shows_them() {
        let page = json!({"totalResults": 3, "Resources": [
            {"id": "g1", "displayName": "Sales"},
            {"id": "g2", "displayName": "Eng", "members": [{"value": "u1"}, {"value": "u2", "display": "x"}]},
            {"displayName": "no id"},
        ]});
        let groups = groups_of(&page).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].team.members, None);
        assert_eq!(groups[1].team.members, Some(vec!["u1".to_owned(), "u2".to_owned()]));
        assert!(groups_of(&json!({"Resources": 5})).is_err());
    }

    #[test]
    fn display_name_filters_escape_quotes_and_backslashes() {
        assert_eq!(display_name_filter(r#"R&D "core" \ team"#), r#"displayName eq "R&D \"core\" \\ team""#);
    }
}
