//! Worker configuration: for key `XYZ`, the environment's `LAVA_XYZ`, else the realm's `config`
//! (keys case-insensitive), else the built-in default.

use serde_json::Value;
use std::collections::HashMap;

use crate::model::values::{parse_config_bool, parse_duration, parse_size};

/// Configuration lookup for one worker process.
#[derive(Debug, Clone, Default)]
pub struct Config {
    env: HashMap<String, String>,
    realm: HashMap<String, Value>,
}

impl Config {
    /// A lookup over `env` (variables named `LAVA_<KEY>`) and the realm's `config` map.
    pub fn new(
        env: impl IntoIterator<Item = (String, String)>,
        realm_config: Option<&serde_json::Map<String, Value>>,
    ) -> Self {
        Config {
            env: env.into_iter().filter(|(k, _)| k.starts_with("LAVA_")).collect(),
            realm: realm_config.into_iter().flatten().map(|(k, v)| (k.to_ascii_uppercase(), v.clone())).collect(),
        }
    }

    /// The raw value for `key`, if configured.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.env.get(&format!("LAVA_{key}")).map(|v| Value::String(v.clone())).or_else(|| self.realm.get(key).cloned())
    }

    /// A string setting (numbers and booleans as their JSON text).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A duration in seconds (`default` when unset or unreadable, which is logged).
    pub fn seconds(&self, key: &str, default: f64) -> f64 {
        match self.value(key) {
            None => default,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
            Some(Value::String(s)) => parse_duration(&s).unwrap_or_else(|e| {
                tracing::warn!(key, error = %e, "Bad configuration value; using the default.");
                default
            }),
            Some(_) => default,
        }
    }

    /// An integer.
    pub fn int(&self, key: &str, default: i64) -> i64 {
        match self.value(key) {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
            _ => default,
        }
    }

    /// A size in bytes.
    pub fn size(&self, key: &str, default: u64) -> u64 {
        match self.value(key) {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(default),
            Some(Value::String(s)) => parse_size(&s).unwrap_or(default),
            _ => default,
        }
    }

    /// A boolean.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.value(key).map(|v| parse_config_bool(&v).unwrap_or(default)).unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_then_realm_then_default() {
        let realm = json!({"event_ttl": "5d", "Stderr_Size": 100, "CMD_TIMEOUT": "1m"});
        let env = [("LAVA_CMD_TIMEOUT".to_string(), "30s".to_string()), ("HOME".into(), "/root".into())];
        let c = Config::new(env, realm.as_object());
        assert_eq!(c.seconds("CMD_TIMEOUT", 600.0), 30.0);
        assert_eq!(c.seconds("EVENT_TTL", 172_800.0), 432_000.0);
        assert_eq!(c.int("STDERR_SIZE", 2000), 100);
        assert_eq!(c.seconds("EXE_TIMEOUT", 600.0), 600.0);
        assert!(c.flag("JOB_LOCAL_TMPDIR", true));
    }
}
