//! A person's one profile write (POST, one merged PATCH, or DELETE) from their decision, and
//! their link once it succeeded.

use crate::client::Call;
use crate::ports::Method;
use crate::reconcile::render::{active_body, create_body, update_body};
use crate::reconcile::{Attr, Link, Op, Profile, Settings};
use crate::scim;

use super::super::ChangeKind;
use super::Subject;

pub(super) fn user_name_of(s: &Subject) -> String {
    s.decision
        .planned_profile()
        .and_then(|p| p.get(&Attr::UserName))
        .or_else(|| s.link.as_ref().and_then(|l| l.written.get(&Attr::UserName)))
        .map(str::to_owned)
        .unwrap_or_else(|| s.email.clone())
}

/// The single profile write of a person (POST, one merged PATCH, or DELETE), and what it does.
pub(super) fn profile_write(
    s: &Subject,
    settings: &Settings,
    no_delete: bool,
) -> Option<(Call, Vec<ChangeKind>, Profile)> {
    let ops = &s.decision.ops;
    let mut kinds = Vec::new();
    let mut changes = Profile::new();
    let mut reactivate = false;
    let mut account = s.link.as_ref().map(|l| l.scim_id.clone());
    for op in ops {
        match op {
            Op::Create { profile } => {
                return Some((
                    Call::with(Method::Post, "/Users", Some(create_body(profile))),
                    vec![ChangeKind::Create],
                    profile.clone(),
                ));
            }
            Op::Adopt { scim_id } => {
                kinds.push(ChangeKind::Adopt);
                account = Some(scim_id.clone());
            }
            Op::Reactivate => {
                kinds.push(ChangeKind::Reactivate);
                reactivate = true;
            }
            Op::Update { changes: c } => {
                kinds.push(ChangeKind::Update);
                changes = c.clone();
            }
            Op::Suspend => {
                let body = active_body(false, &user_name_of(s), settings.dialect);
                return Some((
                    Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)),
                    vec![ChangeKind::Suspend],
                    changes,
                ));
            }
            Op::Delete if no_delete => {
                let body = active_body(false, &user_name_of(s), settings.dialect);
                return Some((
                    Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)),
                    vec![ChangeKind::Delete],
                    changes,
                ));
            }
            Op::Delete => {
                return Some((
                    Call::with(Method::Delete, scim::user_path(account.as_deref()?), None),
                    vec![ChangeKind::Delete],
                    changes,
                ));
            }
            Op::SetManager { .. } => {}
        }
    }
    if !reactivate && changes.is_empty() {
        return None;
    }
    let mut body = update_body(&changes, &user_name_of(s), settings.dialect);
    if reactivate {
        match settings.dialect {
            crate::reconcile::Dialect::Leapsome => {
                body["active"] = serde_json::Value::Bool(true);
            }
            crate::reconcile::Dialect::Rfc7644 => {
                body["Operations"]
                    .as_array_mut()
                    .expect("PatchOp has Operations")
                    .push(serde_json::json!({"op": "replace", "path": "active", "value": true}));
            }
        }
    }
    Some((Call::with(Method::Patch, scim::user_path(account.as_deref()?), Some(body)), kinds, changes))
}

/// The link after the profile write succeeded.
pub(crate) fn link_after(s: &Subject, kinds: &[ChangeKind], created_id: Option<String>) -> Option<Link> {
    let profile = s.decision.planned_profile().cloned().unwrap_or_default();
    if kinds.contains(&ChangeKind::Delete) {
        // Deactivated in place (a service without DELETE): the account stays ours, inactive.
        return s.link.clone().filter(|_| kinds.contains(&ChangeKind::Suspend)).map(|l| Link { active: false, ..l });
    }
    let has_manager_op = s.decision.ops.iter().any(|o| matches!(o, Op::SetManager { .. }));
    let mut link = match (&s.link, created_id, &s.found) {
        (_, Some(id), _) => {
            Link { scim_id: id, written: profile.clone(), active: true, manager: None, manager_account: None }
        }
        (Some(l), None, _) => l.clone(),
        (None, None, Some(found)) => Link {
            scim_id: found.id().to_owned(),
            written: profile.clone(),
            active: found.active,
            manager: if has_manager_op { found.manager().map(str::to_owned) } else { s.decision.manager.clone() },
            manager_account: if has_manager_op { None } else { s.decision.manager_account.clone() },
        },
        (None, None, None) => return None,
    };
    if kinds.contains(&ChangeKind::Suspend) {
        link.active = false;
    } else {
        link.written = profile;
        if kinds.contains(&ChangeKind::Reactivate) {
            link.active = true;
        }
    }
    Some(link)
}
