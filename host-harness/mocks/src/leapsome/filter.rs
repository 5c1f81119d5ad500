//! The one filter shape Leapsome documents, `attribute eq value`, used both in `GET /Users?filter=`
//! and inside PATCH value paths (`emails[type eq "work"]`). Leapsome's own example is unquoted
//! (`userName eq Smith`) while IdPs quote (`userName eq "a@b.test"`), so both are accepted.

use serde_json::Value;

use super::model::as_bool;

/// `attribute eq value`, the attribute as written (callers match it case-insensitively).
#[derive(Debug, Clone, PartialEq)]
pub struct EqFilter {
    pub attribute: String,
    pub value: Value,
}

impl EqFilter {
    /// Whether `candidate` equals the filter value: strings case-insensitively (RFC 7643 makes
    /// `caseExact` false the default), `"True"`/`"False"` strings against booleans as Entra sends.
    pub fn matches(&self, candidate: Option<&Value>) -> bool {
        match (&self.value, candidate) {
            (Value::String(want), Some(Value::String(got))) => want.to_lowercase() == got.to_lowercase(),
            (Value::Bool(want), Some(got)) => as_bool(got) == Some(*want),
            (Value::String(want), Some(Value::Bool(got))) => as_bool(&Value::String(want.clone())) == Some(*got),
            (Value::Null, None | Some(Value::Null)) => true,
            (want, Some(got)) => want == got,
            (_, None) => false,
        }
    }

    /// The value as a string, for filters on string attributes (an unquoted `true` or `123`
    /// is still a userName to compare against).
    pub fn value_text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Parses `attr eq value`. The value is a JSON-style quoted string (with `\"` and `\\` escapes, as
/// RFC 7644 §3.4.2.2 takes them from JSON), or a single unquoted token: `true`, `false`, `null`,
/// a number, or otherwise a bare string as in Leapsome's documented example.
pub fn parse_eq(input: &str) -> Result<EqFilter, String> {
    parse_eq_quoting(input).map(|(filter, _)| filter)
}

/// `parse_eq`, also telling whether the value was quoted (servers differ in which form they take).
pub fn parse_eq_quoting(input: &str) -> Result<(EqFilter, bool), String> {
    let input = input.trim();
    let (attribute, rest) = split_token(input).ok_or("empty filter")?;
    if !is_attribute_path(attribute) {
        return Err(format!("'{attribute}' is not an attribute name"));
    }
    let (op, rest) = split_token(rest).ok_or("filter has no operator")?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(format!("operator '{op}' is not supported, only 'eq'"));
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Err("filter has no value".into());
    }
    let quoted = rest.starts_with('"');
    let value = if quoted {
        let (text, used) = parse_quoted(rest)?;
        if !rest[used..].trim().is_empty() {
            return Err(format!("unexpected text after the value: '{}'", rest[used..].trim()));
        }
        Value::String(text)
    } else if rest.contains(char::is_whitespace) {
        return Err(format!("'{rest}' is more than one value; only a single 'eq' comparison is supported"));
    } else {
        match rest {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => rest.parse::<serde_json::Number>().map(Value::Number).unwrap_or_else(|_| Value::String(rest.into())),
        }
    };
    Ok((EqFilter { attribute: attribute.to_owned(), value }, quoted))
}

fn split_token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// ATTRNAME with optional URN prefix and sub-attribute: letters, digits, `_`, `-`, `.`, `:`, `$`.
fn is_attribute_path(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:$".contains(c))
}

/// Reads a quoted string at the start of `s`; returns the text and the bytes consumed.
fn parse_quoted(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '/')) => out.push('/'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => {
                    return Err(format!("unknown escape '\\{other}' in filter value"));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated quoted value in filter".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(attr: &str, value: Value) -> EqFilter {
        EqFilter { attribute: attr.into(), value }
    }

    #[test]
    fn parses_quoted_unquoted_and_escaped_values() {
        assert_eq!(parse_eq(r#"userName eq "a@b.test""#).unwrap(), eq("userName", json!("a@b.test")));
        assert_eq!(parse_eq("userName EQ Smith").unwrap(), eq("userName", json!("Smith")));
        assert_eq!(
            parse_eq(r#"  username  eq  "say \"hi\" \\ o"  "#).unwrap(),
            eq("username", json!(r#"say "hi" \ o"#))
        );
        assert_eq!(parse_eq("primary eq true").unwrap(), eq("primary", json!(true)));
        assert_eq!(parse_eq("externalId eq 123").unwrap(), eq("externalId", json!(123)));
        assert_eq!(parse_eq("externalId eq 123").unwrap().value_text(), "123");
        assert!(parse_eq_quoting(r#"userName eq "a@b.test""#).unwrap().1);
        assert!(!parse_eq_quoting("userName eq a@b.test").unwrap().1);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName co \"a\"",
            "userName eq \"a\" and active eq true",
            "userName eq a b",
            "userName eq \"open",
            "userName eq \"bad \\q escape\"",
            "(userName eq \"a\")",
        ] {
            assert!(parse_eq(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn matches_case_insensitively_and_booleans_from_strings() {
        assert!(eq("type", json!("WORK")).matches(Some(&json!("work"))));
        assert!(!eq("type", json!("work")).matches(Some(&json!("home"))));
        assert!(!eq("type", json!("work")).matches(None));
        assert!(eq("primary", json!(true)).matches(Some(&json!("True"))));
        assert!(eq("primary", json!("false")).matches(Some(&json!(false))));
    }
}
