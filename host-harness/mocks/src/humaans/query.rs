//! Feathers-style list queries as Humaans accepts them: `$limit`, `$skip`, `$sort[field]=1|-1`,
//! `$select[]=field`, equality on any top-level scalar field and the bracket operators
//! `field[$in][]=`, `[$nin]`, `[$ne]`, `[$gt]`, `[$gte]`, `[$lt]`, `[$lte]`.

use std::cmp::Ordering;

use serde_json::Value;

/// Why a query was refused: becomes a Feathers `BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub parameter: String,
    pub reason: String,
}

impl QueryError {
    fn new(parameter: &str, reason: impl Into<String>) -> Self {
        QueryError { parameter: parameter.into(), reason: reason.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    Nin,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub limit: Option<usize>,
    pub skip: usize,
    pub sort: Vec<(String, bool)>,
    pub select: Option<Vec<String>>,
    pub conditions: Vec<Condition>,
    /// `$`-parameters the resource handles itself (e.g. `$asOf` on job roles), by name.
    pub special: Vec<(String, String)>,
}

impl Query {
    /// Parses decoded query pairs. `specials` names the extra `$`-parameters this resource takes;
    /// any other `$`-parameter is refused, as Feathers refuses unknown query operators.
    pub fn parse(pairs: &[(String, String)], specials: &[&str]) -> Result<Query, QueryError> {
        let mut query = Query::default();
        for (key, value) in pairs {
            let (base, brackets) = split_brackets(key).ok_or_else(|| QueryError::new(key, "malformed brackets"))?;
            match base {
                "$limit" => query.limit = Some(parse_count(key, value)?),
                "$skip" => query.skip = parse_count(key, value)?,
                "$sort" => {
                    let [field] = brackets.as_slice() else {
                        return Err(QueryError::new(key, "expected $sort[field]=1 or -1"));
                    };
                    let ascending = match value.as_str() {
                        "1" => true,
                        "-1" => false,
                        _ => return Err(QueryError::new(key, "sort direction must be 1 or -1")),
                    };
                    query.sort.push(((*field).to_owned(), ascending));
                }
                "$select" => match brackets.as_slice() {
                    [] => query.select.get_or_insert_with(Vec::new).push(value.clone()),
                    [index] if is_array_index(index) => query.select.get_or_insert_with(Vec::new).push(value.clone()),
                    _ => return Err(QueryError::new(key, "expected $select[]=field")),
                },
                special if special.starts_with('$') => {
                    if !brackets.is_empty() || !specials.contains(&special) {
                        return Err(QueryError::new(key, format!("Invalid query parameter {special}")));
                    }
                    query.special.push((special.to_owned(), value.clone()));
                }
                field => query.add_condition(key, field, &brackets, value)?,
            }
        }
        Ok(query)
    }

    fn add_condition(&mut self, key: &str, field: &str, brackets: &[&str], value: &str) -> Result<(), QueryError> {
        if field.is_empty() {
            return Err(QueryError::new(key, "empty field name"));
        }
        let (op, is_list_item) = match brackets {
            [] => (Op::Eq, false),
            [op] => (parse_op(key, op)?, false),
            [op, index] if is_array_index(index) => (parse_op(key, op)?, true),
            _ => return Err(QueryError::new(key, "unsupported nesting")),
        };
        if is_list_item && !matches!(op, Op::In | Op::Nin) {
            return Err(QueryError::new(key, "only $in and $nin take a list"));
        }
        // Repeated list items accumulate; so do repeated plain keys, which `qs` turns into an
        // array and which then mean "any of".
        if matches!(op, Op::In | Op::Nin | Op::Eq)
            && let Some(existing) = self.conditions.iter_mut().find(|c| c.field == field && c.op == op)
        {
            existing.values.push(value.to_owned());
            return Ok(());
        }
        self.conditions.push(Condition { field: field.to_owned(), op, values: vec![value.to_owned()] });
        Ok(())
    }

    pub fn special(&self, name: &str) -> Option<&str> {
        self.special.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn parse_count(key: &str, value: &str) -> Result<usize, QueryError> {
    value.parse::<usize>().map_err(|_| QueryError::new(key, format!("{value:?} is not a non-negative integer")))
}

fn parse_op(key: &str, op: &str) -> Result<Op, QueryError> {
    Ok(match op {
        "$in" => Op::In,
        "$nin" => Op::Nin,
        "$ne" => Op::Ne,
        "$gt" => Op::Gt,
        "$gte" => Op::Gte,
        "$lt" => Op::Lt,
        "$lte" => Op::Lte,
        _ => {
            return Err(QueryError::new(key, format!("Invalid query parameter {op}")));
        }
    })
}

/// `[]` (empty) or `[3]`: the two ways `qs` writes an array element.
fn is_array_index(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// `a[b][c]` → `("a", ["b", "c"])`; `None` when the brackets do not close.
fn split_brackets(key: &str) -> Option<(&str, Vec<&str>)> {
    let Some(open) = key.find('[') else {
        return Some((key, Vec::new()));
    };
    let (base, mut rest) = key.split_at(open);
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        parts.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some((base, parts))
}

/// Whether a field's value satisfies a condition. Query values are strings, so they are compared
/// with the field's JSON rendering: strings as they are, numbers and booleans by their text,
/// `null` as the word `null`. Ordered comparisons are numeric for numbers and lexicographic for
/// strings (which orders `YYYY-MM-DD` dates and ISO timestamps correctly); `null` is never
/// ordered.
pub fn matches(value: &Value, condition: &Condition) -> bool {
    let first = condition.values.first().map_or("", String::as_str);
    match condition.op {
        Op::Eq | Op::In => condition.values.iter().any(|v| equals(value, v)),
        Op::Ne => !equals(value, first),
        Op::Nin => !condition.values.iter().any(|v| equals(value, v)),
        Op::Gt => compare(value, first) == Some(Ordering::Greater),
        Op::Gte => matches!(compare(value, first), Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt => compare(value, first) == Some(Ordering::Less),
        Op::Lte => matches!(compare(value, first), Some(Ordering::Less | Ordering::Equal)),
    }
}

fn equals(value: &Value, query: &str) -> bool {
    match value {
        Value::String(s) => s == query,
        Value::Bool(b) => query == if *b { "true" } else { "false" },
        Value::Number(n) => {
            n.to_string() == query || n.as_f64().zip(query.parse::<f64>().ok()).is_some_and(|(a, b)| a == b)
        }
        Value::Null => query == "null",
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn compare(value: &Value, query: &str) -> Option<Ordering> {
    match value {
        Value::String(s) => Some(s.as_str().cmp(query)),
        Value::Number(n) => n.as_f64()?.partial_cmp(&query.parse::<f64>().ok()?),
        _ => None,
    }
}

/// Total order for `$sort`: null, then booleans, numbers, strings; arrays and objects last.
pub fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) | Value::Object(_) => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        crate::server::parse_query(raw)
    }

    #[test]
    fn parses_paging_sort_select_and_operators() {
        let q = Query::parse(
            &pairs("$limit=5&$skip=10&$sort[lastName]=-1&$select[]=email&status[$in][]=active&status[$in][]=newHire&updatedAt[$gt]=2024&email=a@x"),
            &[],
        )
        .unwrap();
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.skip, 10);
        assert_eq!(q.sort, vec![("lastName".to_owned(), false)]);
        assert_eq!(q.select, Some(vec!["email".to_owned()]));
        assert_eq!(q.conditions.len(), 3);
        assert_eq!(q.conditions[0].op, Op::In);
        assert_eq!(q.conditions[0].values, vec!["active", "newHire"]);
        assert_eq!(q.conditions[1].op, Op::Gt);
        assert_eq!(q.conditions[2].op, Op::Eq);
    }

    #[test]
    fn repeated_plain_keys_mean_any_of() {
        let q = Query::parse(&pairs("status=active&status=newHire&status=offboarded"), &[]).unwrap();
        assert_eq!(q.conditions.len(), 1);
        assert_eq!(q.conditions[0].op, Op::Eq);
        assert_eq!(q.conditions[0].values.len(), 3);
        assert!(matches(&Value::String("newHire".into()), &q.conditions[0]));
        assert!(!matches(&Value::String("other".into()), &q.conditions[0]));
    }

    #[test]
    fn refuses_unknown_dollar_parameters_and_bad_numbers() {
        assert!(Query::parse(&pairs("$asOf=2024-01-01"), &[]).is_err());
        assert_eq!(Query::parse(&pairs("$asOf=2024-01-01"), &["$asOf"]).unwrap().special("$asOf"), Some("2024-01-01"));
        assert!(Query::parse(&pairs("$limit=-1"), &[]).is_err());
        assert!(Query::parse(&pairs("$limit=ten"), &[]).is_err());
        assert!(Query::parse(&pairs("x[$regex]=a"), &[]).is_err());
        assert!(Query::parse(&pairs("x[$eq"), &[]).is_err());
        assert!(Query::parse(&pairs("$sort[a]=2"), &[]).is_err());
    }

    #[test]
    fn compares_like_json() {
        let cond = |op, v: &str| Condition { field: "f".into(), op, values: vec![v.into()] };
        assert!(matches(&Value::Bool(true), &cond(Op::Eq, "true")));
        assert!(matches(&Value::Null, &cond(Op::Eq, "null")));
        assert!(!matches(&Value::Null, &cond(Op::Gt, "a")));
        assert!(matches(&serde_json::json!(10), &cond(Op::Gt, "9")));
        assert!(matches(&serde_json::json!("2024-02-01"), &cond(Op::Gte, "2024-02-01")));
        assert!(matches(&serde_json::json!("2024-02-01"), &cond(Op::Lt, "2024-02-02")));
        assert!(!matches(&serde_json::json!(["a"]), &cond(Op::Eq, "a")));
    }
}
