//! `--log-json`: one JSON object per log line with the original worker's field names, so
//! CloudWatch metric filters and Logs Insights queries written for it keep working:
//! `event_source`, `realm`, `worker`, `host`, `tag` on every line; `localtime`, `timestamp`,
//! `level`, `message`, `thread`, `pid`; and the line's own fields (`event_type`, `job_id`,
//! `run_id`, the heartbeat's `sqs`, `internal`, `threads`, …), those of the spans it is
//! logged in included.

use serde_json::{Map, Value};
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The fields every line carries.
pub struct JsonLines {
    fixed: Map<String, Value>,
}

impl JsonLines {
    /// Lines for a worker of `realm`/`worker`, tagged `tag`.
    pub fn new(realm: &str, worker: &str, tag: &str) -> Self {
        let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
        let mut fixed = Map::new();
        for (k, v) in
            [("event_source", "lava-worker"), ("realm", realm), ("worker", worker), ("host", &host), ("tag", tag)]
        {
            if !v.is_empty() {
                fixed.insert(k.into(), Value::String(v.into()));
            }
        }
        JsonLines { fixed }
    }

    /// The line for an event at `now` with `fields` (the spans' first, then the event's own).
    pub fn line(&self, level: &Level, fields: Map<String, Value>, now: jiff::Timestamp) -> String {
        let mut line = self.fixed.clone();
        let local = now.to_zoned(jiff::tz::TimeZone::system());
        line.insert("localtime".into(), Value::String(local.strftime("%Y-%m-%d %H:%M:%S").to_string()));
        let utc = now.to_zoned(jiff::tz::TimeZone::UTC);
        line.insert("timestamp".into(), Value::String(utc.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()));
        line.insert("level".into(), Value::String(python_level(level).into()));
        let thread = std::thread::current().name().map_or("MainThread".to_string(), |n| match n {
            "main" => "MainThread".to_string(),
            other => other.to_string(),
        });
        line.insert("thread".into(), Value::String(thread));
        line.insert("pid".into(), Value::from(std::process::id()));
        let is_job = fields.contains_key("job_id");
        for (k, v) in fields {
            line.insert(k, v);
        }
        if is_job && !line.contains_key("event_type") {
            line.insert("event_type".into(), Value::String("job".into()));
        }
        Value::Object(line).to_string()
    }
}

/// Python's level names, as the original's lines carry them.
fn python_level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON: numbers and booleans as such; text that is a JSON object or list
/// (the heartbeat's `sqs`, `threads`, a state dump) embedded as that value.
struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let structured = (field.name() != "message" && (text.starts_with('{') || text.starts_with('[')))
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        self.0.insert(field.name().into(), structured.unwrap_or(Value::String(text)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for JsonLines {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Collect(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(own) = span.extensions().get::<SpanFields>() {
                    fields.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Collect(&mut fields));
        let mut line = self.line(event.metadata().level(), fields, jiff::Timestamp::now());
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_has_the_original_fields() {
        let lines = JsonLines::new("prod", "core", "lava-worker");
        let mut fields = Map::new();
        fields.insert("message".into(), json!("Run claimed."));
        fields.insert("job_id".into(), json!("etl/load"));
        fields.insert("run_id".into(), json!("0b9c"));
        let now = jiff::Timestamp::from_microsecond(1_764_500_000_123_456).unwrap();
        let line: Value = serde_json::from_str(&lines.line(&Level::WARN, fields, now)).unwrap();
        assert_eq!(line["event_source"], "lava-worker");
        assert_eq!(line["realm"], "prod");
        assert_eq!(line["worker"], "core");
        assert_eq!(line["tag"], "lava-worker");
        assert_eq!(line["level"], "WARNING");
        assert_eq!(line["timestamp"], "2025-11-30T10:53:20.123456+00:00");
        assert_eq!(line["event_type"], "job");
        assert_eq!(line["job_id"], "etl/load");
        assert_eq!(line["pid"], json!(std::process::id()));
        assert_eq!(line["localtime"].as_str().map(str::len), Some(19));
        assert!(line["host"].as_str().is_some_and(|h| !h.is_empty()));
    }
}
