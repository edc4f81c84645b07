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

    /// Whether the run is over once this event is written: nothing but action failures follow,
    /// and a later copy of its message must not run it again.
    pub fn ends_run(self) -> bool {
        matches!(self, EventStatus::Complete | EventStatus::Failed | EventStatus::Skipped | EventStatus::Rejected)
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
    /// Unique per write and kept across its retries: a write that reaches the table twice (a
    /// retry after a lost answer) is applied once.
    pub write_id: String,
    /// Written only while this lease holder holds the run (a top-level run's writes): a worker
    /// that stalled past its lease while another took the run over writes nothing more.
    pub holder: Option<String>,
}

impl EventUpdate {
    /// The entry whose status and times the item takes.
    pub fn last(&self) -> &EventLogEntry {
        self.entries.last().expect("an event update carries at least one entry")
    }

    /// Whether this write ends the run (it then marks the run's lease [`LEASE_DONE`]).
    pub fn ends_run(&self) -> bool {
        self.entries.iter().any(|e| e.status.ends_run())
    }
}

/// The run's lease: who runs it now, until when. Attributes of the run's events item, beside
/// the original's; readers of the events table that do not know them ignore them.
pub mod lease_attributes {
    /// The holder's identity (`<host>:<pid>:<nonce>`).
    pub const OWNER: &str = "lease_owner";
    /// Epoch seconds the lease runs to; [`super::LEASE_RELEASED`] or [`super::LEASE_DONE`].
    pub const UNTIL: &str = "lease_until";
    /// How many times a worker has started the run (the first start is 1).
    pub const CLAIMS: &str = "lease_claims";
    /// The ids of the writes applied to the item (a list of strings: the original's tools cannot
    /// print a set), so none is applied twice.
    pub const WRITES: &str = "write_ids";
}

/// `lease_until` of a run given up by its worker (shutdown): the next copy takes it at once.
pub const LEASE_RELEASED: i64 = 0;
/// `lease_until` of a run that has ended: its copies are deleted and never run.
pub const LEASE_DONE: i64 = -1;

/// A worker's claim on a run, or the renewal of one.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRequest {
    /// Job id (hash key).
    pub job_id: String,
    /// Run id (range key).
    pub run_id: String,
    /// The claiming worker's identity.
    pub owner: String,
    /// Now, epoch seconds: a lease that ends before this has expired.
    pub now: i64,
    /// Epoch seconds the lease is to run to.
    pub until: i64,
    /// The item's TTL, set if the item has none yet.
    pub ttl: Option<i64>,
}

/// Who held a run before a successful claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Predecessor {
    /// Nobody: the run's first start.
    None,
    /// This worker itself (it gave the run up, and a copy came back to it).
    Itself,
    /// A worker that gave the run up at shutdown.
    Released(String),
    /// A worker whose lease ran out (it died or lost contact) at this epoch second.
    Expired(String, i64),
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The run is this worker's: `attempt` counts the starts, this one included.
    Claimed {
        /// 1 for the first start.
        attempt: u32,
        /// Who held it before.
        predecessor: Predecessor,
    },
    /// Another worker's lease is live until `until` (epoch seconds).
    Held {
        /// The holder.
        owner: String,
        /// Its lease's end.
        until: i64,
    },
    /// The run has ended.
    Finished,
}

impl Claim {
    /// Reads a claim's outcome from the item as it was before a successful claim.
    pub fn claimed_over(owner: &str, before: Option<(&str, i64, u32)>) -> Claim {
        let (attempt, predecessor) = match before {
            None => (1, Predecessor::None),
            Some((previous, until, claims)) => {
                let predecessor = if previous == owner {
                    Predecessor::Itself
                } else if until == LEASE_RELEASED {
                    Predecessor::Released(previous.to_string())
                } else if previous.is_empty() {
                    Predecessor::None
                } else {
                    Predecessor::Expired(previous.to_string(), until)
                };
                (claims + 1, predecessor)
            }
        };
        Claim::Claimed { attempt, predecessor }
    }

    /// Reads why a claim was refused from the item as it is.
    pub fn refused_by(owner: Option<&str>, until: i64) -> Claim {
        if until == LEASE_DONE {
            Claim::Finished
        } else {
            Claim::Held { owner: owner.unwrap_or("?").to_string(), until }
        }
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
