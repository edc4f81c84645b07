//! Writing run events: timestamps in the worker's zone (whole seconds) and naive UTC, host
//! identity and TTL, as the original writes them; and the runs' leases.

use serde_json::Value;
use std::sync::Arc;

use crate::error::Result;
use crate::model::values::format_timestamp;
use crate::model::{Claim, EventLogEntry, EventStatus, EventUpdate, LeaseRequest};
use crate::ports::EventLog;

/// Writes the events of runs on one worker.
#[derive(Clone)]
pub struct EventRecorder {
    log: Arc<dyn EventLog>,
    table: String,
    worker: String,
    hostname: String,
    instance_id: Option<String>,
    ttl_seconds: i64,
    zone: jiff::tz::TimeZone,
    publisher: Option<crate::run_events::RunEventPublisher>,
}

impl EventRecorder {
    /// A recorder writing to `table` for `worker`; `ttl_seconds` 0 writes no TTL.
    pub fn new(log: Arc<dyn EventLog>, table: &str, worker: &str, ttl_seconds: i64, zone: jiff::tz::TimeZone) -> Self {
        let hostname =
            nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into());
        EventRecorder {
            log,
            table: table.into(),
            worker: worker.into(),
            hostname,
            instance_id: None,
            ttl_seconds,
            zone,
            publisher: None,
        }
    }

    /// Also publishes the events `publisher` publishes, after each write.
    pub fn with_publisher(self, publisher: Option<crate::run_events::RunEventPublisher>) -> Self {
        EventRecorder { publisher, ..self }
    }

    /// The host name events carry.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Stamps events with the worker's ECS task or EC2 instance id (`worker_id`, `instance_id`).
    pub fn with_instance_id(self, instance_id: Option<String>) -> Self {
        EventRecorder { instance_id, ..self }
    }

    /// The run events publisher, if any.
    pub fn publisher(&self) -> Option<&crate::run_events::RunEventPublisher> {
        self.publisher.as_ref()
    }

    /// Now in the worker's zone, truncated to whole seconds.
    pub fn now(&self) -> jiff::Zoned {
        let now = jiff::Timestamp::now();
        let whole = jiff::Timestamp::from_second(now.as_second()).expect("a current time is in range");
        whole.to_zoned(self.zone.clone())
    }

    /// One event's log entry, stamped now; nothing is written.
    pub fn entry(&self, status: EventStatus, info: Value) -> (EventLogEntry, jiff::Zoned) {
        let at = self.now();
        let utc = at.with_time_zone(jiff::tz::TimeZone::UTC);
        let entry = EventLogEntry {
            ts_event: format_timestamp(&at),
            tu_event: utc.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            status,
            info,
        };
        (entry, at)
    }

    /// Appends `entries` (in order, at least one) to a run's item in one write.
    pub async fn write(
        &self,
        job_id: &str,
        run_id: &str,
        ts_dispatch: &str,
        entries: Vec<EventLogEntry>,
    ) -> Result<()> {
        self.write_once(job_id, run_id, ts_dispatch, entries, &new_write_id(), None).await
    }

    /// Like [`EventRecorder::write`], for a caller that tries a write again: the same
    /// `write_id` on every try, so the entries are appended once however many tries land. With
    /// a `holder`, the write is made only while that worker holds the run's lease
    /// ([`crate::Error::LeaseLost`] otherwise).
    pub async fn write_once(
        &self,
        job_id: &str,
        run_id: &str,
        ts_dispatch: &str,
        entries: Vec<EventLogEntry>,
        write_id: &str,
        holder: Option<&str>,
    ) -> Result<()> {
        let update = EventUpdate {
            job_id: job_id.into(),
            run_id: run_id.into(),
            ts_dispatch: ts_dispatch.into(),
            worker: self.worker.clone(),
            instance_id: self.instance_id.clone(),
            hostname: self.hostname.clone(),
            ttl: (self.ttl_seconds > 0).then(|| jiff::Timestamp::now().as_second() + self.ttl_seconds),
            entries,
            write_id: write_id.into(),
            holder: holder.map(str::to_string),
        };
        self.log.append(&self.table, &update).await?;
        for entry in &update.entries {
            tracing::info!(job_id, run_id, status = entry.status.as_str(), "Event recorded.");
        }
        if let Some(publisher) = &self.publisher {
            let origin = crate::run_events::RunOrigin { job_id, run_id, ts_dispatch, worker: &self.worker };
            publisher.publish(&origin, &update.entries).await?;
        }
        Ok(())
    }

    /// Records one event for a run; returns its time.
    pub async fn record(
        &self,
        job_id: &str,
        run_id: &str,
        ts_dispatch: &str,
        status: EventStatus,
        info: Value,
    ) -> Result<jiff::Zoned> {
        let (entry, at) = self.entry(status, info);
        self.write(job_id, run_id, ts_dispatch, vec![entry]).await?;
        Ok(at)
    }
}

/// A fresh id for one write.
pub fn new_write_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The leases of runs on one worker: a run is started only by the worker holding its lease, and
/// the lease is kept alive while the run goes on (see `EventLog::claim`).
#[derive(Clone)]
pub struct RunLeases {
    log: Arc<dyn EventLog>,
    table: String,
    owner: String,
    term_seconds: i64,
    ttl_seconds: i64,
}

impl RunLeases {
    /// Leases in `table` lasting `term_seconds` from each claim or renewal, held by this process.
    pub fn new(log: Arc<dyn EventLog>, table: &str, term_seconds: i64, ttl_seconds: i64) -> Self {
        let host =
            nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into());
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("{host}:{}:{}", std::process::id(), &nonce[..8]);
        RunLeases { log, table: table.into(), owner, term_seconds, ttl_seconds }
    }

    /// This worker's identity as a lease holder.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn request(&self, job_id: &str, run_id: &str) -> LeaseRequest {
        let now = jiff::Timestamp::now().as_second();
        LeaseRequest {
            job_id: job_id.into(),
            run_id: run_id.into(),
            owner: self.owner.clone(),
            now,
            until: now + self.term_seconds,
            ttl: (self.ttl_seconds > 0).then_some(now + self.ttl_seconds),
        }
    }

    /// Claims a run before it starts.
    pub async fn claim(&self, job_id: &str, run_id: &str) -> Result<Claim> {
        self.log.claim(&self.table, &self.request(job_id, run_id)).await
    }

    /// Extends a held lease by one term; `false` if it is no longer this worker's.
    pub async fn renew(&self, job_id: &str, run_id: &str) -> Result<bool> {
        self.log.renew(&self.table, &self.request(job_id, run_id)).await
    }

    /// Gives a held lease up (the run was stopped or could not go on here).
    pub async fn release(&self, job_id: &str, run_id: &str) -> Result<()> {
        self.log.release(&self.table, job_id, run_id, &self.owner).await
    }
}
