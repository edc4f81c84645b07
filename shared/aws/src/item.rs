//! DynamoDB attribute values ⇄ JSON values, with the shapes the original reads and writes
//! (map→M, list→L, string→S, number→N, bool→BOOL, null→NULL). A binary attribute (the
//! ciphertext of a secure state item) is the map `{"$binary": "<base64>"}` on the JSON side.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ports::{BINARY_KEY, Item};

/// A JSON value as a DynamoDB attribute.
pub(crate) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => match binary(map) {
            Some(bytes) => AttributeValue::B(Blob::new(bytes)),
            None => AttributeValue::M(to_attributes(map)),
        },
    }
}

/// The bytes of a `{"$binary": "<base64>"}` map.
fn binary(map: &Map<String, Value>) -> Option<Vec<u8>> {
    if map.len() != 1 {
        return None;
    }
    STANDARD.decode(map.get(BINARY_KEY)?.as_str()?).ok()
}

/// A JSON map as DynamoDB attributes.
pub(crate) fn to_attributes(map: &Item) -> HashMap<String, AttributeValue> {
    map.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()
}

/// A DynamoDB attribute as a JSON value. String and number sets become lists; binary sets
/// are refused.
pub(crate) fn from_attribute(name: &str, value: &AttributeValue) -> Result<Value> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(name, n)?,
        AttributeValue::L(items) => Value::Array(items.iter().map(|v| from_attribute(name, v)).collect::<Result<_>>()?),
        AttributeValue::M(map) => Value::Object(from_attributes(map)?),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(name, n)).collect::<Result<_>>()?),
        AttributeValue::B(blob) => {
            Value::Object(Map::from_iter([(BINARY_KEY.to_string(), Value::String(STANDARD.encode(blob.as_ref())))]))
        }
        _ => {
            return Err(Error::unexpected(name.to_string(), "binary DynamoDB attributes cannot be read as JSON"));
        }
    })
}

/// DynamoDB attributes as a JSON map, keys sorted so output is stable.
pub(crate) fn from_attributes(map: &HashMap<String, AttributeValue>) -> Result<Item> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for k in keys {
        out.insert(k.clone(), from_attribute(k, &map[k])?);
    }
    Ok(out)
}

fn number(name: &str, text: &str) -> Result<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Value::Number(u.into()));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| Error::unexpected(name.to_string(), format!("bad DynamoDB number {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_shapes() {
        let v = json!({"enabled": true, "max_tries": 3, "ratio": 0.5, "payload": null, "schedule": ["0 6 * * *", {"crontab": "@daily"}], "x-sum": "abc"});
        let attrs = to_attributes(v.as_object().unwrap());
        assert_eq!(attrs["enabled"], AttributeValue::Bool(true));
        assert_eq!(attrs["max_tries"], AttributeValue::N("3".into()));
        assert_eq!(attrs["payload"], AttributeValue::Null(true));
        assert_eq!(Value::Object(from_attributes(&attrs).unwrap()), v);
    }

    #[test]
    fn sets_become_lists_and_binary_is_tagged() {
        assert_eq!(from_attribute("a", &AttributeValue::Ss(vec!["x".into()])).unwrap(), json!(["x"]));
        assert_eq!(from_attribute("a", &AttributeValue::Ns(vec!["1".into(), "2.5".into()])).unwrap(), json!([1, 2.5]));
        let blob = AttributeValue::B(Blob::new(vec![1u8, 2]));
        let tagged = from_attribute("a", &blob).unwrap();
        assert_eq!(tagged, json!({"$binary": "AQI="}));
        assert_eq!(to_attribute(&tagged), blob);
        assert!(from_attribute("a", &AttributeValue::Bs(vec![Blob::new(vec![1u8])])).is_err());
    }
}
