//! S3 trigger entries: items of the `lava.<realm>.s3triggers` table.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::validation::{Report, ValidationError, ValidationErrors, from_value, is_extension_key, kind_of};
use super::values::{parse_duration, parse_size};

/// The fields of an S3 trigger (besides its conditions and `x-…` fields).
pub const KNOWN: &[&str] = &[
    "trigger_id",
    "bucket",
    "prefix",
    "job_id",
    "enabled",
    "jinja",
    "delay",
    "globals",
    "parameters",
    "description",
    "owner",
];
/// The conditions a trigger can set as `if_<condition>` and `if_not_<condition>`.
pub const CONDITIONS: &[&str] = &["fnmatch", "size_gt", "event_type"];

/// An S3 trigger. Condition fields (`if_*`, `if_not_*`) and `x-*` are kept in `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct S3TriggerEntry {
    /// Key.
    pub trigger_id: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without trailing `/`, or `*` for the whole bucket.
    pub prefix: String,
    /// Job(s) to dispatch.
    pub job_id: Value,
    /// Falsy: the trigger is ignored.
    pub enabled: bool,
    /// Render job_id, globals and parameters (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jinja: Option<bool>,
    /// SQS delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Value>,
    /// Dispatch globals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals: Option<Map<String, Value>>,
    /// Dispatch parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Everything else.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl S3TriggerEntry {
    /// Reads a trigger, naming the field with the wrong type.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let id = value.get("trigger_id").and_then(Value::as_str).unwrap_or("?");
        from_value(value).map_err(|e| {
            let path =
                if e.path.is_empty() { format!("s3triggers[{id}]") } else { format!("s3triggers[{id}].{}", e.path) };
            ValidationErrors(vec![ValidationError { path, reason: e.reason }])
        })
    }

    /// Checks the trigger (`Bad trigger spec` problems), returning warnings when usable.
    pub fn validate(&self, max_delay: f64) -> Result<Vec<ValidationError>, ValidationErrors> {
        let mut report = Report::default();
        let at = |field: &str| format!("s3triggers[{}].{field}", self.trigger_id);
        if self.prefix.ends_with('/') {
            report.error(at("prefix"), "must not end with /");
        }
        match &self.job_id {
            Value::String(s) if !s.is_empty() => {}
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {}
            other => {
                report.error(at("job_id"), format!("must be a job id or a list of job ids, not {}", kind_of(other)))
            }
        }
        if let Some(delay) = &self.delay {
            let seconds = match delay {
                Value::Number(n) => n.as_f64().ok_or_else(|| "bad number".to_string()),
                Value::String(s) => parse_duration(s),
                other => Err(format!("must be a duration, not {}", kind_of(other))),
            };
            match seconds {
                Ok(s) if (0.0..=max_delay).contains(&s) => {}
                Ok(_) => report.error(at("delay"), format!("Bad delay: must be between 0 and {} seconds", max_delay)),
                Err(reason) => report.error(at("delay"), reason),
            }
        }
        for (key, value) in &self.fields {
            if is_extension_key(key) || KNOWN.contains(&key.as_str()) {
                continue;
            }
            let condition = key.strip_prefix("if_not_").or_else(|| key.strip_prefix("if_"));
            match condition {
                Some(c) if CONDITIONS.contains(&c) => {
                    if c == "size_gt" && !value.is_number() && value.as_str().is_none_or(|s| parse_size(s).is_err()) {
                        report.error(at(key), "must be a size (bytes, or a number with a unit such as K or MiB)");
                    }
                }
                _ => report.error(at(key), "Bad trigger spec: unknown field"),
            }
        }
        report.into_result()
    }
}
