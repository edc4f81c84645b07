//! The state manager: items in `lava.<realm>.state` with the original's three encodings
//! (`json` text, `raw` native values, `secure` KMS ciphertext), TTLs bounded by the realm's
//! maximum, and the reserved `lava` prefix.

use serde_json::{Map, Value, json};
use std::sync::Arc;

use crate::config::{Config, keys};
use crate::error::{Error, Result};
use crate::model::values::format_timestamp;
use crate::model::{StateItem, StateType};
use crate::names::ResourceNames;
use crate::ports::{BINARY_KEY, KeyService, TableStore};
use crate::render::python::json_dumps;

/// KMS encrypts at most this many bytes.
const SECURE_MAX_BYTES: usize = 4096;

/// Whether `state_id` is reserved for lava (starts with `lava`, any case).
pub fn is_reserved(state_id: &str) -> bool {
    state_id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("lava"))
}

/// A value to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewState {
    /// Key.
    pub state_id: String,
    /// Value (any JSON).
    pub value: Value,
    /// Encoding.
    pub state_type: StateType,
    /// Requested time to live in seconds (`None`: the realm's `STATE_TTL`).
    pub ttl_seconds: Option<f64>,
    /// Free text.
    pub publisher: Option<String>,
    /// KMS key for the secure type (default `alias/lava-<realm>-sys`).
    pub kms_key: Option<String>,
}

/// Reads and writes state items.
#[derive(Clone)]
pub struct StateStore {
    tables: Arc<dyn TableStore>,
    keys: Arc<dyn KeyService>,
    names: ResourceNames,
    config: Config,
}

impl StateStore {
    /// A store for the realm in `names`, with `config` for the TTL settings.
    pub fn new(tables: Arc<dyn TableStore>, keys: Arc<dyn KeyService>, names: ResourceNames, config: Config) -> Self {
        StateStore { tables, keys, names, config }
    }

    /// Puts a whole item (replacing any earlier one). User items must not use the reserved
    /// prefix; lava's own items go through [`StateStore::put_reserved`].
    pub async fn put(&self, state: &NewState) -> Result<()> {
        if is_reserved(&state.state_id) {
            return Err(Error::refused(
                "state_id",
                format!("{}: Values beginning with \"lava\" are reserved", state.state_id),
            ));
        }
        self.put_reserved(state).await
    }

    /// Puts an item whatever its id (lava's own bookkeeping).
    pub async fn put_reserved(&self, state: &NewState) -> Result<()> {
        if state.state_id.is_empty() {
            return Err(Error::refused("state_id", "must not be empty"));
        }
        // Longer requests than STATE_MAX_TTL are silently capped, as the original does.
        let max = self.config.get(keys::STATE_MAX_TTL);
        let ttl = state.ttl_seconds.unwrap_or_else(|| self.config.get(keys::STATE_TTL)).min(max);
        if ttl <= 0.0 {
            return Err(Error::refused("ttl", format!("{ttl} seconds: must be positive")));
        }
        let now = jiff::Zoned::now()
            .round(jiff::ZonedRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Trunc))
            .map_err(|e| Error::unexpected("clock", e.to_string()))?;
        let value = match state.state_type {
            StateType::Json => Value::String(json_dumps(&state.value)),
            StateType::Raw => state.value.clone(),
            StateType::Secure => {
                let text = json_dumps(&state.value);
                if text.len() > SECURE_MAX_BYTES {
                    return Err(Error::refused(
                        "value",
                        format!("{} bytes: a secure value is at most {SECURE_MAX_BYTES} bytes of JSON", text.len()),
                    ));
                }
                let key = state.kms_key.clone().unwrap_or_else(|| format!("alias/lava-{}-sys", self.names.realm));
                json!({ BINARY_KEY: self.keys.encrypt(&key, text.as_bytes()).await? })
            }
        };
        let item = StateItem {
            state_id: state.state_id.clone(),
            state_type: state.state_type,
            value,
            timestamp: format_timestamp(&now),
            ttl: now.timestamp().as_second() + ttl as i64,
            publisher: state.publisher.clone(),
        };
        let Value::Object(map) = serde_json::to_value(&item).map_err(|e| Error::json("state item", e))? else {
            unreachable!("a state item is a map")
        };
        self.tables.put_item(&self.names.state_table, map).await
    }

    /// Creates lava's own marker item `state_id` unless it exists; returns whether this call
    /// created it (a conditional write, so of two racing callers exactly one wins).
    pub async fn claim(&self, state_id: &str, ttl_seconds: i64, publisher: &str) -> Result<bool> {
        self.claim_with(state_id, ttl_seconds, publisher, &json!("claimed")).await
    }

    async fn claim_with(&self, state_id: &str, ttl_seconds: i64, publisher: &str, value: &Value) -> Result<bool> {
        let now = jiff::Zoned::now()
            .round(jiff::ZonedRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Trunc))
            .map_err(|e| Error::unexpected("clock", e.to_string()))?;
        let item = StateItem {
            state_id: state_id.to_string(),
            state_type: StateType::Json,
            value: Value::String(json_dumps(value)),
            timestamp: format_timestamp(&now),
            ttl: now.timestamp().as_second() + ttl_seconds,
            publisher: Some(publisher.to_string()),
        };
        let Value::Object(map) = serde_json::to_value(&item).map_err(|e| Error::json("state item", e))? else {
            unreachable!("a state item is a map")
        };
        self.tables.put_new_item(&self.names.state_table, "state_id", map).await
    }

    /// Removes an item (a claim that must be taken again).
    pub async fn release(&self, state_id: &str) -> Result<()> {
        let key = Map::from_iter([("state_id".to_string(), Value::String(state_id.to_string()))]);
        self.tables.delete_item(&self.names.state_table, &key).await
    }

    /// The stored item and its decoded value; `None` when there is no such item.
    pub async fn get(&self, state_id: &str) -> Result<Option<(StateItem, Value)>> {
        let key = Map::from_iter([("state_id".to_string(), Value::String(state_id.to_string()))]);
        let Some(item) = self.tables.get_item(&self.names.state_table, &key, true).await? else {
            return Ok(None);
        };
        let item = StateItem::from_value(&Value::Object(item))
            .map_err(|e| Error::unexpected(format!("state {state_id}"), e))?;
        let value = self.decode(&item).await?;
        Ok(Some((item, value)))
    }

    async fn decode(&self, item: &StateItem) -> Result<Value> {
        let id = &item.state_id;
        Ok(match item.state_type {
            StateType::Json => {
                let text = item.value.as_str().ok_or_else(|| {
                    Error::unexpected(format!("state {id}"), "Bad state item: a json value must be a string")
                })?;
                serde_json::from_str(text).map_err(|e| Error::json(format!("state {id}"), e))?
            }
            StateType::Raw => item.value.clone(),
            StateType::Secure => {
                let ciphertext = item.value.get(BINARY_KEY).and_then(Value::as_str).ok_or_else(|| {
                    Error::unexpected(format!("state {id}"), "Bad state item: a secure value must be binary")
                })?;
                let plain = self.keys.decrypt(ciphertext).await?;
                serde_json::from_slice(&plain).map_err(|e| Error::json(format!("state {id}"), e))?
            }
        })
    }

    /// Every user item (not lava's own), by id.
    pub async fn list(&self) -> Result<Vec<StateItem>> {
        let mut items = Vec::new();
        for raw in self.tables.scan_items(&self.names.state_table).await? {
            let item = StateItem::from_value(&Value::Object(raw)).map_err(|e| Error::unexpected("state", e))?;
            if !is_reserved(&item.state_id) {
                items.push(item);
            }
        }
        items.sort_by(|a, b| a.state_id.cmp(&b.state_id));
        Ok(items)
    }

    /// A job's `state` defaults with the current values of the items that exist.
    pub async fn import(&self, defaults: &Map<String, Value>) -> Result<Map<String, Value>> {
        let mut state = defaults.clone();
        for (id, value) in state.iter_mut() {
            if let Some((_, current)) = self.get(id).await? {
                *value = current;
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeKeys, FakeTables};

    fn store(config: &[(&str, &str)]) -> (StateStore, Arc<FakeTables>) {
        let names = ResourceNames::for_realm("dev");
        let tables = Arc::new(FakeTables::for_realm(&names));
        let config = Config::new(config.iter().map(|(k, v)| (k.to_string(), v.to_string())), None);
        (StateStore::new(tables.clone(), Arc::new(FakeKeys), names, config), tables)
    }

    fn new(id: &str, value: Value, state_type: StateType) -> NewState {
        NewState {
            state_id: id.into(),
            value,
            state_type,
            ttl_seconds: None,
            publisher: Some("demo/job".into()),
            kms_key: None,
        }
    }

    #[tokio::test]
    async fn each_type_round_trips_with_the_original_encoding() {
        let (store, tables) = store(&[]);
        store.put(&new("sid", json!({"lines": "45"}), StateType::Json)).await.unwrap();
        store.put(&new("raw", json!({"n": [1, 2]}), StateType::Raw)).await.unwrap();
        store.put(&new("sec", json!({"token": "s3cret"}), StateType::Secure)).await.unwrap();
        let stored = tables.items("lava.dev.state");
        let sid = stored.iter().find(|i| i["state_id"] == "sid").unwrap();
        assert_eq!(sid["value"], json!("{\"lines\": \"45\"}"));
        assert_eq!(sid["publisher"], json!("demo/job"));
        let sec = stored.iter().find(|i| i["state_id"] == "sec").unwrap();
        assert!(!sec["value"].to_string().contains("s3cret"), "the secure value is stored encrypted");
        for (id, value) in
            [("sid", json!({"lines": "45"})), ("raw", json!({"n": [1, 2]})), ("sec", json!({"token": "s3cret"}))]
        {
            assert_eq!(store.get(id).await.unwrap().unwrap().1, value, "{id}");
        }
        assert!(store.get("missing").await.unwrap().is_none());
        assert_eq!(store.list().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn ttl_defaults_and_is_capped_by_the_realm_maximum() {
        let (store, tables) = store(&[("LAVA_STATE_MAX_TTL", "2d")]);
        let now = jiff::Timestamp::now().as_second();
        store.put(&new("a", json!(1), StateType::Json)).await.unwrap();
        store.put(&NewState { ttl_seconds: Some(3600.0), ..new("b", json!(1), StateType::Json) }).await.unwrap();
        let ttl = |id: &str| {
            tables.items("lava.dev.state").iter().find(|i| i["state_id"] == id).unwrap()["ttl"].as_i64().unwrap() - now
        };
        assert!((2 * 86400 - 2..=2 * 86400 + 2).contains(&ttl("a")), "7d default capped at 2d: {}", ttl("a"));
        assert!((3598..=3602).contains(&ttl("b")));
    }

    #[tokio::test]
    async fn reserved_ids_and_oversized_secure_values_are_refused() {
        let (store, _) = store(&[]);
        let err = store.put(&new("Lava-x", json!(1), StateType::Json)).await.unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
        let big = json!("x".repeat(5000));
        assert!(store.put(&new("big", big, StateType::Secure)).await.unwrap_err().to_string().contains("4096"));
    }

    #[tokio::test]
    async fn import_replaces_defaults_with_current_values() {
        let (store, _) = store(&[]);
        store.put(&new("seen", json!("2025-03-01"), StateType::Json)).await.unwrap();
        let defaults = Map::from_iter([("seen".to_string(), json!(null)), ("other".to_string(), json!(5))]);
        let state = store.import(&defaults).await.unwrap();
        assert_eq!(Value::Object(state), json!({"seen": "2025-03-01", "other": 5}));
    }
}
