//! Realm entries: items of the account-wide `lava.realms` table.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::{ActionKey, validate_action_lists};
use super::limits::Limits;
use super::validation::{Report, ValidationError, ValidationErrors, from_value};
use super::values::S3Location;

/// A realm entry. Unknown fields (`x-workers`, …) are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealmEntry {
    /// Realm name (key).
    pub realm: String,
    /// `s3://bucket/prefix` of the payload area.
    pub s3_payloads: String,
    /// `s3://bucket/prefix` of the output area.
    pub s3_temp: String,
    /// KMS key for SSE-KMS uploads; AES256 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key: Option<String>,
    /// Configuration overrides (keys case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Realm default actions after success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Value>,
    /// Realm default actions after the final failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<Value>,
    /// Realm default actions after a failure that will be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_retry: Option<Value>,
    /// Default docker conn_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<String>,
    /// Everything else, kept as it is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RealmEntry {
    /// The realm's own action list for `key` (used when a job has none).
    pub fn action_list(&self, key: ActionKey) -> &Option<Value> {
        match key {
            ActionKey::OnSuccess => &self.on_success,
            ActionKey::OnRetry => &self.on_retry,
            ActionKey::OnFail => &self.on_fail,
        }
    }

    /// Reads a realm entry, naming the field with the wrong type.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let id = value.get("realm").and_then(Value::as_str).unwrap_or("?");
        from_value(value).map_err(|e| {
            let path = if e.path.is_empty() { format!("realms[{id}]") } else { format!("realms[{id}].{}", e.path) };
            ValidationErrors(vec![ValidationError { path, reason: e.reason }])
        })
    }

    /// The entry as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a realm entry always serialises")
    }

    /// A config value by key, case-insensitively (the original upper-cases keys on load).
    pub fn config_value(&self, key: &str) -> Option<&Value> {
        self.config.as_ref()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }

    /// Checks the entry under `limits` (those of its own `config`); returns the warnings when it
    /// is usable.
    pub fn validate(&self, limits: &Limits) -> Result<Vec<ValidationError>, ValidationErrors> {
        let mut report = Report::default();
        let at = |field: &str| format!("realms[{}].{field}", self.realm);
        if self.realm.trim().is_empty() {
            report.error("realms[].realm", "must not be empty");
        }
        for (field, value) in [("s3_payloads", &self.s3_payloads), ("s3_temp", &self.s3_temp)] {
            match S3Location::parse(value) {
                Err(reason) => report.error(at(field), reason),
                Ok(loc) if field == "s3_payloads" && loc.key.is_empty() => {
                    report.error(at(field), "the payload area needs a prefix (s3://bucket/prefix)")
                }
                Ok(_) => {}
            }
        }
        if self.s3_key.is_none() {
            report.warn(at("s3_key"), "missing: uploads use AES256 and executables get an empty LAVA_S3_KEY");
        }
        let lists = ActionKey::ALL.map(|key| (key, self.action_list(key)));
        validate_action_lists(&lists, &format!("realms[{}]", self.realm), limits, &mut report);
        report.into_result()
    }
}
