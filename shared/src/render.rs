//! Jinja rendering of job and action templates with minijinja, printing values the way the
//! original's Python rendering does (`True`, `False`, `None`; datetimes as Python prints them).

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JinjaValue};
use minijinja::{Environment, Error as JinjaError, ErrorKind, State, UndefinedBehavior};
use serde_json::Value;
use std::sync::Arc;

/// A timezone-aware datetime with the Python methods templates use.
#[derive(Debug, Clone)]
pub struct PyDateTime(pub jiff::Zoned);

impl PyDateTime {
    /// `isoformat()`: `2025-03-04T06:15:02+11:00` (microseconds only when non-zero).
    pub fn isoformat(&self) -> String {
        let z = &self.0;
        let micros = z.subsec_nanosecond() / 1000;
        let base = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        let offset = z.strftime("%:z").to_string();
        if micros == 0 { format!("{base}{offset}") } else { format!("{base}.{micros:06}{offset}") }
    }
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let z = &self.0;
        Some(JinjaValue::from(match key.as_str()? {
            "year" => z.year() as i64,
            "month" => z.month() as i64,
            "day" => z.day() as i64,
            "hour" => z.hour() as i64,
            "minute" => z.minute() as i64,
            "second" => z.second() as i64,
            "microsecond" => (z.subsec_nanosecond() / 1000) as i64,
            _ => return None,
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["year", "month", "day", "hour", "minute", "second", "microsecond"])
    }

    fn call_method(self: &Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[JinjaValue]) -> Result<JinjaValue, JinjaError> {
        match (method, args) {
            ("isoformat", []) => Ok(JinjaValue::from(self.isoformat())),
            ("strftime", [format]) => {
                let format = format.as_str().ok_or_else(|| JinjaError::new(ErrorKind::InvalidOperation, "strftime needs a format string"))?;
                Ok(JinjaValue::from(self.0.strftime(format).to_string()))
            }
            ("date", []) => Ok(JinjaValue::from(self.0.strftime("%Y-%m-%d").to_string())),
            ("timestamp", []) => Ok(JinjaValue::from(self.0.timestamp().as_millisecond() as f64 / 1000.0)),
            _ => Err(JinjaError::new(ErrorKind::UnknownMethod, format!("datetime has no method {method}"))),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.isoformat().replacen('T', " ", 1))
    }
}

/// The template engine, configured once.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_formatter(|out, state, value| {
            if value.is_undefined() || value.is_none() && state.undefined_behavior() == UndefinedBehavior::Strict {
                return Ok(());
            }
            match value.kind() {
                minijinja::value::ValueKind::Bool => {
                    out.write_str(if value.is_true() { "True" } else { "False" })?;
                    Ok(())
                }
                minijinja::value::ValueKind::None => {
                    out.write_str("None")?;
                    Ok(())
                }
                _ => minijinja::escape_formatter(out, state, value),
            }
        });
        Renderer { env }
    }
}

impl Renderer {
    /// Renders `template` with `context`; the error names what failed to render.
    pub fn render(&self, template: &str, context: &JinjaValue) -> Result<String, String> {
        self.env.render_str(template, context).map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        })
    }

    /// Renders a structured value the original's way: JSON text, rendered as one template, parsed
    /// back as JSON.
    pub fn render_value(&self, value: &Value, context: &JinjaValue) -> Result<Value, String> {
        let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
        let rendered = self.render(&text, context)?;
        serde_json::from_str(&rendered).map_err(|e| format!("rendered value is not JSON: {e}"))
    }
}

/// A JSON value for templates.
pub fn from_json(value: &Value) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(value))
}

/// A datetime for templates.
pub fn datetime(at: &jiff::Zoned) -> JinjaValue {
    JinjaValue::from_object(PyDateTime(at.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;
    use serde_json::json;

    #[test]
    fn python_printing() {
        let r = Renderer::default();
        let start = jiff::Timestamp::from_second(1_741_032_902).unwrap().in_tz("Australia/Sydney").unwrap();
        let ctx = context! {
            job => from_json(&json!({"job_id": "a/b", "enabled": true, "x": null})),
            start => datetime(&start),
        };
        let cases = [
            ("{{ job.job_id }}", "a/b"),
            ("{{ job.enabled }}", "True"),
            ("{{ job.x }}", "None"),
            ("{{ job.missing }}", ""),
            ("{{ start.isoformat() }}", "2025-03-04T07:15:02+11:00"),
            ("{{ start.strftime('%Y-%m-%d') }}", "2025-03-04"),
            ("{{ start }}", "2025-03-04 07:15:02+11:00"),
            ("{{ start.year }}", "2025"),
            ("{{ 1 == 1 }}", "True"),
        ];
        for (template, expected) in cases {
            assert_eq!(r.render(template, &ctx).unwrap(), expected, "{template}");
        }
        assert!(r.render("{{ job.job_id", &ctx).is_err());
    }

    #[test]
    fn structured_values_round_trip() {
        let r = Renderer::default();
        let v = r.render_value(&json!({"source": "s3://{{ b }}/k", "n": 3}), &context! { b => "bkt" }).unwrap();
        assert_eq!(v, json!({"source": "s3://bkt/k", "n": 3}));
    }
}
