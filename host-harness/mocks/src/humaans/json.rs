//! Hand-written JSON output and field lookup for the served objects. Serde's generic code is
//! compiled without optimisation in a debug build and made a 10,000-person read take seconds;
//! this writer is a handful of string pushes per field. A test checks it against serde's output.

use serde_json::Value;

/// What to do with one field of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Show,
    /// Keep the key, send `null`.
    Null,
    Omit,
}

/// Where the fields of an object go.
enum Sink<'a> {
    /// Written as JSON, with one mode per field position (`None` shows everything).
    Json { out: &'a mut String, modes: Option<&'a [Mode]>, empty: bool },
    /// Only the names are recorded ([`field_names`]).
    Names(&'a mut Vec<&'static str>),
    /// Only the field at this position is kept, as a JSON value ([`field_value`]).
    Capture { index: usize, value: &'a mut Value },
}

/// Receives the fields of one object in order. One `write_fields` per type serves output, the
/// field list and field lookups for filters, so the three cannot drift apart.
pub(crate) struct ObjectWriter<'a> {
    sink: Sink<'a>,
    index: usize,
}

/// An object served as JSON. `write_fields` must write every field, in the same order each time.
pub(crate) trait WriteJson {
    fn write_fields(&self, w: &mut ObjectWriter);
}

/// Appends `{...}` for `item` to `out`.
pub(crate) fn write_object<T: WriteJson>(out: &mut String, item: &T, modes: Option<&[Mode]>) {
    out.push('{');
    item.write_fields(&mut ObjectWriter { sink: Sink::Json { out, modes, empty: true }, index: 0 });
    out.push('}');
}

/// The field names `T` writes, in order.
pub(crate) fn field_names<T: WriteJson + Default>() -> Vec<&'static str> {
    let mut names = Vec::new();
    T::default().write_fields(&mut ObjectWriter { sink: Sink::Names(&mut names), index: 0 });
    names
}

/// The value of the field at position `index` (see [`field_names`]); `null` past the end.
pub(crate) fn field_value<T: WriteJson>(item: &T, index: usize) -> Value {
    let mut value = Value::Null;
    item.write_fields(&mut ObjectWriter { sink: Sink::Capture { index, value: &mut value }, index: 0 });
    value
}

impl ObjectWriter<'_> {
    fn field(&mut self, name: &'static str, write: impl FnOnce(&mut String), capture: impl FnOnce() -> Value) {
        let index = self.index;
        self.index += 1;
        match &mut self.sink {
            Sink::Names(names) => names.push(name),
            Sink::Capture { index: wanted, value } => {
                if *wanted == index {
                    **value = capture();
                }
            }
            Sink::Json { out, modes, empty } => {
                let mode = modes.map_or(Mode::Show, |m| m.get(index).copied().unwrap_or(Mode::Show));
                if mode == Mode::Omit {
                    return;
                }
                if !*empty {
                    out.push(',');
                }
                *empty = false;
                push_str_literal(out, name);
                out.push(':');
                match mode {
                    Mode::Null => out.push_str("null"),
                    _ => write(out),
                }
            }
        }
    }

    pub fn str(&mut self, name: &'static str, value: &str) {
        self.field(name, |out| push_str_literal(out, value), || Value::String(value.to_owned()));
    }

    pub fn opt(&mut self, name: &'static str, value: &Option<String>) {
        self.field(
            name,
            |out| match value {
                Some(s) => push_str_literal(out, s),
                None => out.push_str("null"),
            },
            || value.as_ref().map_or(Value::Null, |s| Value::String(s.clone())),
        );
    }

    pub fn bool(&mut self, name: &'static str, value: bool) {
        self.field(name, |out| out.push_str(if value { "true" } else { "false" }), || Value::Bool(value));
    }

    pub fn strs(&mut self, name: &'static str, values: &[String]) {
        self.field(
            name,
            |out| {
                out.push('[');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_str_literal(out, v);
                }
                out.push(']');
            },
            || Value::Array(values.iter().cloned().map(Value::String).collect()),
        );
    }

    /// A list of one-key objects, such as `teams: [{"name": ...}]`.
    pub fn objects<'v>(&mut self, name: &'static str, key: &str, values: impl Iterator<Item = &'v str> + Clone) {
        self.field(
            name,
            |out| {
                out.push('[');
                for (i, v) in values.clone().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('{');
                    push_str_literal(out, key);
                    out.push(':');
                    push_str_literal(out, v);
                    out.push('}');
                }
                out.push(']');
            },
            || Value::Array(values.clone().map(|v| serde_json::json!({ key: v })).collect()),
        );
    }

    /// Any JSON value, the key left out when `None` (a field some servers do not have); for rare
    /// fields only. Still counted as a field, so positions stay put.
    pub fn value_if_some(&mut self, name: &'static str, value: &Option<Value>) {
        if value.is_none() && matches!(self.sink, Sink::Json { .. }) {
            self.index += 1;
            return;
        }
        self.value(name, value);
    }

    /// Any JSON value; for rare fields only, as it goes through serde.
    pub fn value(&mut self, name: &'static str, value: &Option<Value>) {
        self.field(
            name,
            |out| match value {
                Some(v) => out.push_str(&v.to_string()),
                None => out.push_str("null"),
            },
            || value.clone().unwrap_or(Value::Null),
        );
    }
}

/// Appends `s` as a JSON string literal, escaped as serde_json escapes it.
pub(crate) fn push_str_literal(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Whether `s` has a `"`, a `\\` or a control character. Almost no string does, so this check
/// is the hot loop of a large read; it is a plain indexed loop because in an unoptimised build
/// every iterator or closure step is a function call, which made it ten times slower.
fn needs_escape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let len = bytes.len();
    let mut i = 0;
    while i < len {
        let b = bytes[i];
        if b < 0x20 || b == b'"' || b == b'\\' {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_byte_that_needs_escaping_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0u8..=0x7f {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    assert_eq!(needs_escape(s), b == b'"' || b == b'\\' || b < 0x20, "{s:?}");
                }
            }
        }
        assert!(!needs_escape("Zoë Łukasz Søren 東京 ÿÿÿÿÿÿÿÿ"));
        assert!(needs_escape("Zoë Łukasz Søren \"東京\""));
    }

    #[test]
    fn escapes_like_serde() {
        for s in ["plain", "quote \" and \\ backslash", "new\nline\ttab\r\u{1}\u{8}\u{c}", "Zoë Łukasz 東京", ""] {
            let mut out = String::new();
            push_str_literal(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }
}
