//! Validation results: every problem names the field path and the reason.

use serde_json::{Map, Value};

/// One problem with a record: `path` names the field (`jobs[finance/x].iteration_delay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where the problem is.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() { f.write_str(&self.reason) } else { write!(f, "{}: {}", self.path, self.reason) }
    }
}

/// Every problem found in one record (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// What a validation pass found: errors make the record unusable, warnings do not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Problems that make the record unusable.
    pub errors: Vec<ValidationError>,
    /// Problems worth telling the owner about (deprecated or ignored fields).
    pub warnings: Vec<ValidationError>,
}

impl Report {
    /// Records an error at `path`.
    pub fn error(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(ValidationError { path: path.into(), reason: reason.into() });
    }

    /// Records a warning at `path`.
    pub fn warn(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.warnings.push(ValidationError { path: path.into(), reason: reason.into() });
    }

    /// `Ok(warnings)` when there are no errors, else every error.
    pub fn into_result(self) -> Result<Vec<ValidationError>, ValidationErrors> {
        if self.errors.is_empty() { Ok(self.warnings) } else { Err(ValidationErrors(self.errors)) }
    }
}

/// True for `x-…`/`X-…` attributes, which lava ignores everywhere.
pub fn is_extension_key(key: &str) -> bool {
    key.starts_with("x-") || key.starts_with("X-")
}

/// True for names that belong to lava (`lava…`, any case).
pub fn is_reserved_name(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("lava")
}

/// Checks a map's keys against the allowed and required sets, in the original's words:
/// `Missing keys: a, b` and `Unexpected keys: c, d` (sorted, comma-separated). `x-*` keys pass.
pub fn check_keys(map: &Map<String, Value>, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    let mut missing: Vec<&str> = required.iter().copied().filter(|k| !map.contains_key(*k)).collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        return Err(format!("Missing keys: {}", missing.join(", ")));
    }
    let mut unexpected: Vec<&str> =
        map.keys().map(String::as_str).filter(|k| !allowed.contains(k) && !is_extension_key(k)).collect();
    unexpected.sort_unstable();
    if !unexpected.is_empty() {
        return Err(format!("Unexpected keys: {}", unexpected.join(", ")));
    }
    Ok(())
}

/// Deserialises `value` into `T`, naming the failing field path in the error.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ValidationError> {
    let de = value.clone();
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        ValidationError { path: if path == "." { String::new() } else { path }, reason: e.into_inner().to_string() }
    })
}

/// A short description of a JSON value's kind, for messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_checked_in_the_original_words() {
        let map = json!({"b": 1, "z": 2, "a": 3, "x-note": 4}).as_object().unwrap().clone();
        assert_eq!(check_keys(&map, &["a"], &["q", "c"]), Err("Missing keys: c, q".into()));
        assert_eq!(check_keys(&map, &["a"], &[]), Err("Unexpected keys: b, z".into()));
        assert_eq!(check_keys(&map, &["a", "b", "z"], &["a"]), Ok(()));
    }

    #[test]
    fn reserved_names() {
        assert!(is_reserved_name("LavaThing"));
        assert!(is_reserved_name("lava"));
        assert!(!is_reserved_name("my_lava"));
    }
}
