//! Manager references. Leapsome takes a string (its id, an email or an externalId) or an object
//! with `value`/`managerId`, at the top level or in the enterprise object, and keeps the resolved
//! id; RFC 7643 takes only `{value: <id>}`.

use serde_json::Value;

use super::model::{Ctx, Op, Profile, ScimError, get_ci, invalid_value};

/// A manager reference as written: Leapsome takes a string (id, email or externalId) or an object
/// with `value`/`managerId`; RFC 7643 only `{value: <id>}`. `None` means "clear".
fn manager_reference(sub: Option<&str>, value: &Value, strict: bool) -> Result<Option<String>, ScimError> {
    let text = |v: &Value| match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_owned())),
        other => Err(invalid_value(format!("a manager reference must be a string, got {other}"))),
    };
    let reference = match (sub, value) {
        (Some(s), v) if s.eq_ignore_ascii_case("value") || (!strict && s.eq_ignore_ascii_case("managerId")) => text(v)?,
        (Some(s), v) => {
            return Err(ScimError::bad_request("invalidPath", format!("manager.{s} cannot be written ({v})")));
        }
        (None, Value::String(s)) if s.trim().is_empty() => None,
        (None, Value::String(_)) if strict => {
            return Err(invalid_value("manager must be an object {\"value\": \"<manager id>\"}, not a string"));
        }
        (None, Value::String(s)) => Some(s.trim().to_owned()),
        (None, Value::Object(o)) => {
            match get_ci(o, "value").or_else(|| if strict { None } else { get_ci(o, "managerId") }) {
                Some(v) => text(v)?,
                None => {
                    return Err(invalid_value(format!(
                        "manager object has no {}",
                        if strict { "value" } else { "value or managerId" }
                    )));
                }
            }
        }
        (None, other) => {
            return Err(invalid_value(format!("manager must be a string or an object, got {other}")));
        }
    };
    Ok(reference.filter(|r| !r.is_empty()))
}

fn resolve_reference(reference: &str, ctx: &Ctx) -> Result<Option<String>, ScimError> {
    match (ctx.resolve)(reference) {
        Some(id) => Ok(Some(id)),
        None if ctx.config.unknown_manager_ignored => Ok(None),
        None => Err(invalid_value(format!("manager '{reference}' does not exist"))),
    }
}

pub fn write_manager(
    profile: &mut Profile,
    sub: Option<&str>,
    value: Option<&Value>,
    ctx: &Ctx,
) -> Result<(), ScimError> {
    if sub.is_some_and(|s| s.eq_ignore_ascii_case("displayName") || s.eq_ignore_ascii_case("$ref")) {
        return Ok(());
    }
    let Some(value) = value else {
        profile.manager = None;
        return Ok(());
    };
    match manager_reference(sub, value, ctx.config.strict_rfc)? {
        None => profile.manager = None,
        Some(reference) => {
            if let Some(id) = resolve_reference(&reference, ctx)? {
                profile.manager = Some(id);
            }
        }
    }
    Ok(())
}

/// UDEF documents an array of strings, the help centre "a comma-separated string of email
/// addresses" (reference §2.2); both are accepted, and array entries may be manager objects.
pub fn write_additional_managers(
    profile: &mut Profile,
    op: Op,
    value: Option<&Value>,
    ctx: &Ctx,
) -> Result<(), ScimError> {
    let references: Vec<String> = match value {
        None => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(manager_reference(None, item, false)?);
            }
            out
        }
        Some(other) => {
            return Err(invalid_value(format!("additionalManagers must be an array or a string, got {other}")));
        }
    };
    if op != Op::Add {
        profile.additional_managers.clear();
    }
    for reference in references {
        if let Some(id) = resolve_reference(&reference, ctx)?
            && !profile.additional_managers.contains(&id)
        {
            profile.additional_managers.push(id);
        }
    }
    Ok(())
}
