//! State items: the `lava.<realm>.state` table.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a state item's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StateType {
    /// JSON text in a string attribute (the default).
    #[default]
    Json,
    /// The native DynamoDB value.
    Raw,
    /// KMS ciphertext of the JSON text, in a binary attribute.
    Secure,
}

/// A state item. Reads require every field but `publisher`; no other fields are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateItem {
    /// Key; ids starting with `lava` are reserved.
    pub state_id: String,
    /// Encoding.
    #[serde(rename = "type")]
    pub state_type: StateType,
    /// Encoded value.
    pub value: Value,
    /// Time of the put, ISO 8601 with offset.
    pub timestamp: String,
    /// Expiry, epoch seconds.
    pub ttl: i64,
    /// Free text (the state action uses the job id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
}

impl StateItem {
    /// Reads a stored item (`Bad state item: …` when fields are missing or extra).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        serde_json::from_value(value.clone()).map_err(|e| format!("Bad state item: {e}"))
    }
}
