//! What each side wrote, made comparable: volatile values (run ids, times, temporary paths,
//! hosts, process ids) replaced by placeholders, then a field-by-field difference.

use regex_lite::Regex;
use serde_json::Value;
use std::sync::OnceLock;

/// Placeholders for the values that differ between any two runs.
pub struct Normaliser {
    /// Exact strings to replace (a run id, the realm, the host name) and their placeholders,
    /// longest first.
    exact: Vec<(String, String)>,
}

fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // ISO 8601 times, with or without fractions and offsets.
            (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?", "<time>"),
            // A timeout's figure is the time left when it struck, in Python's float printing.
            (r"Timed out after \d+(\.\d+)? seconds", "Timed out after <seconds> seconds"),
            (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>"),
            // A worker's or a run's temporary folders (not S3 keys under a realm's tmp/ area).
            (r"(^|[\s'\x22=(])/tmp/[^\s'\x22:,;)]*", "${1}<tmp>"),
        ]
        .into_iter()
        .map(|(p, placeholder)| (Regex::new(p).unwrap(), placeholder))
        .collect()
    })
}

impl Normaliser {
    /// Replaces each `(value, placeholder)`.
    pub fn new(mut exact: Vec<(String, String)>) -> Self {
        exact.retain(|(value, _)| !value.is_empty());
        exact.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        Normaliser { exact }
    }

    /// `text` with every volatile part replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, placeholder) in &self.exact {
            out = out.replace(value.as_str(), placeholder);
        }
        for (pattern, placeholder) in patterns() {
            out = pattern.replace_all(&out, *placeholder).into_owned();
        }
        out
    }

    /// `value` with every string (keys too) normalised.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (self.text(k), self.value(v))).collect()),
            other => other.clone(),
        }
    }
}

/// One place where the two sides differ: a JSON path and each side's value there (absent is
/// `None`).
#[derive(Debug, Clone)]
pub struct Difference {
    pub path: String,
    pub original: Option<Value>,
    pub ours: Option<Value>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "(absent)".to_string(), |v| v.to_string());
        write!(f, "{}: original {} | ours {}", self.path, show(&self.original), show(&self.ours))
    }
}

/// Every difference between `original` and `ours` below `path`, leaf by leaf.
pub fn differences(path: &str, original: Option<&Value>, ours: Option<&Value>, out: &mut Vec<Difference>) {
    match (original, ours) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                differences(&format!("{path}.{key}"), a.get(key), b.get(key), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                differences(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Difference { path: path.to_string(), original: a.cloned(), ours: b.cloned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_values_become_placeholders() {
        let n = Normaliser::new(vec![("run-1".into(), "<run_id>".into()), ("realm9".into(), "<realm>".into())]);
        let v = json!({"a run-1": "s3://lava-realm9/tmp/x/run-1/stdout at 2025-03-04T07:15:02.123+11:00 in /tmp/lava/r/w.12/run-1/x"});
        assert_eq!(n.value(&v), json!({"a <run_id>": "s3://lava-<realm>/tmp/x/<run_id>/stdout at <time> in <tmp>"}));
    }

    #[test]
    fn differences_name_each_leaf_and_an_absent_side() {
        let mut out = Vec::new();
        differences("$", Some(&json!({"a": [1, 2], "b": null})), Some(&json!({"a": [1, 3, 4], "c": 1})), &mut out);
        let lines: Vec<String> = out.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            [
                "$.a[1]: original 2 | ours 3",
                "$.a[2]: original (absent) | ours 4",
                "$.b: original null | ours (absent)",
                "$.c: original (absent) | ours 1"
            ]
        );
    }
}
