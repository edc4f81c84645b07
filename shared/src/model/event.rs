//! Run events: items of the `lava.<realm>.events` table.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every status the worker writes, in the original vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Not enabled (static or rendered).
    Skipped,
    /// Run accepted, about to prepare.
    Starting,
    /// Refused: too old, or bad limits.
    Rejected,
    /// The rendered `event_log`.
    Logging,
    /// Start of an iteration.
    Running,
    /// The handler succeeded.
    Complete,
    /// The handler failed and another iteration follows.
    Retrying,
    /// The handler failed on the last iteration.
    Failed,
    /// An action of the triggered list failed.
    ActionFailed,
}

impl EventStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Skipped => "skipped",
            EventStatus::Starting => "starting",
            EventStatus::Rejected => "rejected",
            EventStatus::Logging => "logging",
            EventStatus::Running => "running",
            EventStatus::Complete => "complete",
            EventStatus::Retrying => "retrying",
            EventStatus::Failed => "failed",
            EventStatus::ActionFailed => "action_failed",
        }
    }
}

/// One entry of an event item's `log` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLogEntry {
    /// Event time, ISO 8601 with offset, whole seconds.
    pub ts_event: String,
    /// Same instant as naive UTC ISO text.
    pub tu_event: String,
    /// The status.
    pub status: EventStatus,
    /// Status-specific information (null, text or a result map).
    pub info: Value,
}

/// One write to a run's item: one or more events, appended in order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventUpdate {
    /// Job id (hash key).
    pub job_id: String,
    /// Run id (range key).
    pub run_id: String,
    /// Dispatch time as received.
    pub ts_dispatch: String,
    /// Worker name.
    pub worker: String,
    /// EC2 instance id, when on EC2.
    pub instance_id: Option<String>,
    /// Host name.
    pub hostname: String,
    /// Epoch seconds after which DynamoDB may delete the item.
    pub ttl: Option<i64>,
    /// The log entries to append, in order: at least one; the last one's status and times
    /// become the item's.
    pub entries: Vec<EventLogEntry>,
}

impl EventUpdate {
    /// The entry whose status and times the item takes.
    pub fn last(&self) -> &EventLogEntry {
        self.entries.last().expect("an event update carries at least one entry")
    }
}

/// A whole event item as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Job id.
    pub job_id: String,
    /// Run id.
    pub run_id: String,
    /// Latest status.
    pub status: EventStatus,
    /// Dispatch time.
    pub ts_dispatch: String,
    /// Latest event time.
    pub ts_event: String,
    /// Latest event time, naive UTC.
    pub tu_event: String,
    /// Expiry (epoch seconds).
    #[serde(default)]
    pub ttl: Option<i64>,
    /// Worker name.
    pub worker: String,
    /// EC2 instance id or null.
    #[serde(default)]
    pub worker_id: Option<String>,
    /// Host name.
    pub hostname: String,
    /// EC2 instance id (only on EC2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Every event, in order.
    pub log: Vec<EventLogEntry>,
}
