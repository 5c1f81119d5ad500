//! serve's log: `tracing` events, one line each on stderr, through `tracing-subscriber`'s fmt
//! layer. `text` for people (`TS LEVEL message key=value ...`), `json` (one object a line:
//! `ts`, `level`, `msg` and every field, values as strings) for log shippers: the lines and
//! field names serve wrote before it used `tracing`.
//!
//! A line carries its own fields, then those of the spans it is in that it does not name
//! itself: `run` (a tenant's drain of its inbox, a scheduled run, a webhook, an operator's
//! action: `tenant`, `run`) and `call` (one call to the component: `export`).
//! Only serve's own events are written (`host_harness` targets): wasmtime's are not.

use std::fmt::{self, Debug};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// How the lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `TS LEVEL message key=value ...`, for people.
    Text,
    /// One object a line (`ts`, `level`, `msg`, the fields), for log shippers.
    Json,
}

/// Which lines are written (`--log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    /// Routine detail too (scheduled runs waiting for a busy tenant).
    Debug,
}

/// Writes serve's lines on stderr from now on, for the whole process (the first call wins: a
/// process runs one serve). `debug`: routine detail too (`--log-level debug`).
pub fn init(json: bool, debug: bool) {
    let _ = tracing::subscriber::set_global_default(subscriber(json, debug, std::io::stderr));
}

/// The subscriber [`init`] installs, writing to `writer` (tests read their lines from it).
pub fn subscriber<W>(json: bool, debug: bool, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = if debug { Level::DEBUG } else { Level::INFO };
    let ours = tracing_subscriber::filter::Targets::new().with_target("host_harness", level);
    let lines = tracing_subscriber::fmt::layer().event_format(Format { json }).with_writer(writer);
    tracing_subscriber::registry().with(SpanFields).with(lines.with_filter(ours))
}

/// A span for a run of one tenant's calls (`run`: what started it).
pub fn run_span(tenant: &str, run: &str) -> tracing::Span {
    tracing::info_span!("run", tenant, run)
}

/// Name-value pairs, as strings, in the order they were recorded.
#[derive(Default, Debug)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn set(&mut self, name: &'static str, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == name)
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    /// Everything else (`%value` is written with `Display`, numbers as they print).
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

/// Keeps each span's fields in the span, for the lines written inside it.
struct SpanFields;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanFields {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }
}

struct Format {
    json: bool,
}

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = match fields.0.iter().position(|(k, _)| *k == "message") {
            Some(i) => fields.0.remove(i).1,
            None => String::new(),
        };
        // The spans' fields, outermost first, an inner span's value over an outer one's; then
        // only those the line does not name itself.
        let mut context = Fields::default();
        for span in ctx.event_scope().into_iter().flat_map(|scope| scope.from_root()) {
            if let Some(f) = span.extensions().get::<Fields>() {
                for (k, v) in &f.0 {
                    context.set(k, v.clone());
                }
            }
        }
        for (k, v) in context.0 {
            if !fields.has(k) {
                fields.0.push((k, v));
            }
        }
        let ts = format!("{:.3}", jiff::Timestamp::now());
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        if self.json {
            let mut object = serde_json::Map::new();
            object.insert("ts".into(), ts.into());
            object.insert("level".into(), level.into());
            object.insert("msg".into(), message.into());
            for (k, v) in fields.0 {
                object.insert(k.into(), v.into());
            }
            writeln!(writer, "{}", serde_json::Value::Object(object))
        } else {
            write!(writer, "{ts} {level} {message}")?;
            for (k, v) in &fields.0 {
                write!(writer, " {k}={}", text_value(v))?;
            }
            writeln!(writer)
        }
    }
}

/// A field's value in a text log line: as it is when it is plain, else quoted with every quote,
/// backslash and control character escaped (`"a\nb"`), so a value taken from a request (a tenant
/// id from a path) cannot end the line or forge fields or lines.
fn text_value(v: &str) -> std::borrow::Cow<'_, str> {
    let plain = !v.is_empty()
        && v.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '\\' && c != '=')
        && v.escape_debug().count() == v.chars().count();
    if plain { v.into() } else { format!("{v:?}").into() }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::Instrument;

    use super::*;

    /// The lines written under `subscriber`, one string each.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(json: bool, debug: bool, body: impl FnOnce()) -> Vec<String> {
        let lines = Lines::default();
        let sink = lines.clone();
        tracing::subscriber::with_default(subscriber(json, debug, move || sink.clone()), body);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// `TS LEVEL message` (RFC 3339 in UTC to the millisecond), then the fields in order.
    fn without_ts(line: &str) -> &str {
        let (ts, rest) = line.split_once(' ').unwrap();
        assert_eq!((ts.len(), ts.as_bytes()[10], &ts[19..20], &ts[23..]), (24, b'T', ".", "Z"), "{line}");
        rest
    }

    #[test]
    fn text_lines_keep_their_fields_in_order_and_escape_values() {
        let lines = lines_of(false, false, || {
            tracing::info!(listen = "http://127.0.0.1:1", tenants = 2, "serving");
            tracing::warn!(tenant = "evil\n2026 info forged tenant=acme\"", "webhook refused");
            tracing::debug!("not at info");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(without_ts(&lines[0]), "info serving listen=http://127.0.0.1:1 tenants=2");
        assert_eq!(without_ts(&lines[1]), r#"warn webhook refused tenant="evil\n2026 info forged tenant=acme\"""#);
    }

    #[test]
    fn lines_in_a_run_carry_its_tenant_after_their_own_fields() {
        let lines = lines_of(false, true, || {
            let run = run_span("acme", "inbox");
            let _in_run = run.enter();
            tracing::info!(tenant = "acme", events = 1, "resumed events of an earlier holder");
            let call = tracing::info_span!("call", export = "tick");
            let _in_call = call.enter();
            tracing::debug!(kind = "tick", "waits");
        });
        assert_eq!(without_ts(&lines[0]), "info resumed events of an earlier holder tenant=acme events=1 run=inbox");
        assert_eq!(without_ts(&lines[1]), "debug waits kind=tick tenant=acme run=inbox export=tick");
    }

    #[test]
    fn json_lines_have_ts_level_msg_and_every_field_as_a_string() {
        let lines = lines_of(true, false, || {
            let run = run_span("acme", "schedule");
            let _in_run = run.enter();
            tracing::info!(writes = 0, "scheduled sync");
        });
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let ts = line["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 24, "{ts}");
        assert_eq!(
            line,
            serde_json::json!({"ts": ts, "level": "info", "msg": "scheduled sync", "writes": "0", "tenant": "acme", "run": "schedule"})
        );
    }

    #[test]
    fn other_crates_events_are_not_written() {
        let lines = lines_of(false, true, || {
            tracing::info!(target: "wasmtime_wasi::p2", "a guest call");
            tracing::info!("ours");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].ends_with(" info ours"), "{lines:?}");
    }

    #[tokio::test]
    async fn a_run_span_follows_its_future_across_awaits() {
        let lines = Lines::default();
        let sink = lines.clone();
        let _default = tracing::subscriber::set_default(subscriber(false, false, move || sink.clone()));
        async {
            tokio::task::yield_now().await;
            tracing::info!("event applied");
        }
        .instrument(run_span("acme", "inbox"))
        .await;
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with(" info event applied tenant=acme run=inbox\n"), "{text}");
    }
}
