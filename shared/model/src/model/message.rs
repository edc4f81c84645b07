//! The worker queue message (`lava-<realm>-<worker>` SQS body).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::values::parse_timestamp;

/// The dispatch message a worker receives. Exactly these keys; anything else is malformed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerMessage {
    /// Must equal the worker's realm.
    pub realm: String,
    /// Must equal the worker's name.
    pub worker: String,
    /// The job to run.
    pub job_id: String,
    /// Run identifier (a UUID).
    pub run_id: String,
    /// Dispatch time, ISO 8601 with a UTC offset.
    pub ts_dispatch: String,
    /// Overrides for the job's parameters (shallow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Overrides for the job's globals (shallow); may include `lava`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals: Option<Map<String, Value>>,
}

/// Why a message body is not a usable worker message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not JSON, wrong keys or wrong value types.
    #[error("Malformed dispatch message: {0}")]
    Malformed(String),
    /// `ts_dispatch` has no offset or is not a timestamp.
    #[error("Bad timestamp: {0}")]
    BadTimestamp(String),
    /// `run_id` is not a UUID (it becomes a directory name and an S3 key part).
    #[error("Bad run_id: {0:?} is not a UUID")]
    BadRunId(String),
    /// `job_id` is empty or longer than the tables' keys can be.
    #[error("Bad job_id: {0}")]
    BadJobId(String),
}

impl WorkerMessage {
    /// Parses and checks a message body.
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let message: WorkerMessage = serde_json::from_str(body).map_err(|e| MessageError::Malformed(e.to_string()))?;
        parse_timestamp(&message.ts_dispatch).map_err(MessageError::BadTimestamp)?;
        if uuid::Uuid::parse_str(&message.run_id).is_err() {
            return Err(MessageError::BadRunId(message.run_id));
        }
        let most = super::limits::DYNAMODB_PARTITION_KEY_BYTES;
        if message.job_id.is_empty() || message.job_id.len() > most {
            let why = format!("{} bytes, where a job id has 1 to {most}", message.job_id.len());
            return Err(MessageError::BadJobId(why));
        }
        Ok(message)
    }

    /// The message body as sent: `parameters`/`globals` omitted when empty.
    pub fn to_body(&self) -> String {
        let mut m = self.clone();
        m.parameters = m.parameters.filter(|p| !p.is_empty());
        m.globals = m.globals.filter(|g| !g.is_empty());
        serde_json::to_string(&m).expect("a worker message always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"realm":"prod01","worker":"core","job_id":"finance/load-ledger",
        "run_id":"9b2e7f5a-0c41-4d0e-a7a4-5f3c0b8d1e22","ts_dispatch":"2025-03-04T06:15:41+11:00",
        "parameters":{"vars":{"table":"ledger_2025"}},"globals":{"region":"anz","lava":{"iteration":1}}}"#;

    #[test]
    fn the_spec_example_parses() {
        let m = WorkerMessage::parse(GOOD).unwrap();
        assert_eq!(m.job_id, "finance/load-ledger");
        assert_eq!(m.globals.unwrap()["lava"]["iteration"], 1);
    }

    #[test]
    fn bad_messages_name_the_problem() {
        let extra = GOOD.replacen("{", r#"{"delay": 5,"#, 1);
        let long = GOOD.replace("finance/load-ledger", &"j".repeat(2049));
        let cases = [
            ("not json", "Malformed dispatch message"),
            (extra.as_str(), "unknown field `delay`"),
            (r#"{"realm":"r","worker":"w","job_id":"j","run_id":"x"}"#, "missing field `ts_dispatch`"),
            (long.as_str(), "Bad job_id: 2049 bytes, where a job id has 1 to 2048"),
        ];
        for (body, expected) in cases {
            let err = WorkerMessage::parse(body).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        let naive = GOOD.replace("+11:00", "");
        assert!(matches!(WorkerMessage::parse(&naive), Err(MessageError::BadTimestamp(_))));
        let bad_run = GOOD.replace("9b2e7f5a-0c41-4d0e-a7a4-5f3c0b8d1e22", "../../etc");
        assert!(matches!(WorkerMessage::parse(&bad_run), Err(MessageError::BadRunId(_))));
    }

    #[test]
    fn empty_maps_are_omitted_when_sent() {
        let mut m = WorkerMessage::parse(GOOD).unwrap();
        m.parameters = Some(Map::new());
        m.globals = None;
        let body = m.to_body();
        assert!(!body.contains("parameters") && !body.contains("globals"), "{body}");
    }
}
