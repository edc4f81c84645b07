//! Run events on EventBridge: each state change of a run whose status the realm publishes
//! (`RUN_EVENTS`, by default the final ones) goes to the realm's event bus (`RUN_EVENTS_BUS`,
//! by default the account's default bus) as `Lava Job Status` from `lava.<realm>`, so one rule
//! can act on every failure.
//!
//! The worker publishes each event right after writing it to the events table. A final event
//! must reach the bus: a refused publication fails the write (which is tried again, and a run
//! given up comes back as a copy of a finished run), and a copy of a finished run publishes
//! its final event again before its message is deleted. So a final event is published at least
//! once; a consumer that must count once keys on `run_id` and `status`. Other statuses, when
//! configured, are published once at best (a refusal is logged).

use serde_json::{Value, json};
use std::sync::Arc;

use crate::config::{Config, keys};
use crate::error::{Error, Result};
use crate::model::{EventLogEntry, EventStatus};
use crate::ports::{BusEvent, EventBus};

/// `detail-type` of run events.
pub const DETAIL_TYPE: &str = "Lava Job Status";

/// What a run's events need to say where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOrigin<'a> {
    /// Job id.
    pub job_id: &'a str,
    /// Run id.
    pub run_id: &'a str,
    /// When the run was dispatched.
    pub ts_dispatch: &'a str,
    /// The worker.
    pub worker: &'a str,
}

/// Publishes run events of one realm.
#[derive(Clone)]
pub struct RunEventPublisher {
    bus: Arc<dyn EventBus>,
    bus_name: Option<String>,
    realm: String,
    statuses: Vec<EventStatus>,
}

/// The statuses a `RUN_EVENTS` setting names (`none` or empty: none).
pub fn statuses(setting: &str) -> Result<Vec<EventStatus>> {
    let mut statuses = Vec::new();
    for name in setting.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
        let status: EventStatus = serde_json::from_value(Value::String(name.to_string()))
            .map_err(|_| Error::Refused(format!("RUN_EVENTS: {name} is not an event status")))?;
        statuses.push(status);
    }
    Ok(statuses)
}

impl RunEventPublisher {
    /// The realm's publisher, from its configuration; `None` when it publishes nothing.
    pub fn configured(bus: Arc<dyn EventBus>, realm: &str, config: &Config) -> Result<Option<Self>> {
        let statuses = statuses(&config.get(keys::RUN_EVENTS))?;
        if statuses.is_empty() {
            return Ok(None);
        }
        let bus_name = Some(config.get(keys::RUN_EVENTS_BUS)).filter(|b| !b.is_empty() && b != "default");
        Ok(Some(RunEventPublisher { bus, bus_name, realm: realm.to_string(), statuses }))
    }

    /// Whether events of `status` are published.
    pub fn publishes(&self, status: EventStatus) -> bool {
        self.statuses.contains(&status)
    }

    /// The bus event for one entry of a run's log.
    pub fn event(&self, origin: &RunOrigin<'_>, entry: &EventLogEntry) -> BusEvent {
        let mut detail = json!({
            "realm": self.realm,
            "worker": origin.worker,
            "job_id": origin.job_id,
            "run_id": origin.run_id,
            "status": entry.status.as_str(),
            "ts_dispatch": origin.ts_dispatch,
            "ts_event": entry.ts_event,
            "tu_event": entry.tu_event,
        });
        if let Some(info) = entry.info.as_object() {
            // A failure's result holds its exit status under `error_data`.
            let exit_status = info.get("exit_status").or_else(|| info.get("error_data")?.get("exit_status"));
            if let Some(value) = exit_status {
                detail["exit_status"] = value.clone();
            }
            if let Some(value) = info.get("error") {
                detail["error"] = value.clone();
            }
        } else if let Some(reason) = entry.info.as_str() {
            detail["error"] = json!(reason);
        }
        BusEvent {
            bus: self.bus_name.clone(),
            source: format!("lava.{}", self.realm),
            detail_type: DETAIL_TYPE.into(),
            detail: detail.to_string(),
            resources: Vec::new(),
        }
    }

    /// Publishes the entries whose status the realm publishes. A final event the bus refuses is
    /// an error (worth another try); another is logged.
    pub async fn publish(&self, origin: &RunOrigin<'_>, entries: &[EventLogEntry]) -> Result<()> {
        for entry in entries.iter().filter(|e| self.publishes(e.status)) {
            match self.bus.put_event(&self.event(origin, entry)).await {
                Ok(()) => {}
                Err(e) if entry.status.ends_run() => {
                    return Err(Error::Aws {
                        service: "events",
                        operation: "PutEvents",
                        code: None,
                        message: format!("the run's {} event was not published: {e}", entry.status.as_str()),
                        retry: crate::Retry::Transient,
                        source: None,
                    });
                }
                Err(e) => tracing::warn!(
                    job_id = origin.job_id,
                    run_id = origin.run_id,
                    status = entry.status.as_str(),
                    error = %e,
                    "Cannot publish the run's event."
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeNotices;

    fn entry(status: EventStatus, info: Value) -> EventLogEntry {
        EventLogEntry {
            ts_event: "2026-11-30T12:00:00+11:00".into(),
            tu_event: "2026-11-30T01:00:00".into(),
            status,
            info,
        }
    }

    #[tokio::test]
    async fn final_events_are_published_by_default_with_the_results_exit_status_or_error() {
        let bus = Arc::new(FakeNotices::default());
        let config = Config::new(Vec::<(String, String)>::new(), None);
        let publisher = RunEventPublisher::configured(bus.clone(), "dev", &config).unwrap().unwrap();
        let origin = RunOrigin { job_id: "j", run_id: "r", ts_dispatch: "2026-11-30T11:59:59+11:00", worker: "core" };
        let entries = [
            entry(EventStatus::Running, Value::Null),
            entry(EventStatus::Failed, json!({"error": "Failed with exit status 3", "error_data": {"exit_status": 3}})),
        ];
        publisher.publish(&origin, &entries).await.unwrap();
        let sent = bus.events.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "only the final one: {sent:?}");
        assert_eq!(
            (sent[0].source.as_str(), sent[0].detail_type.as_str(), sent[0].bus.as_deref()),
            ("lava.dev", DETAIL_TYPE, None)
        );
        let detail: Value = serde_json::from_str(&sent[0].detail).unwrap();
        assert_eq!(
            detail,
            json!({"realm": "dev", "worker": "core", "job_id": "j", "run_id": "r", "status": "failed",
                "ts_dispatch": "2026-11-30T11:59:59+11:00", "ts_event": "2026-11-30T12:00:00+11:00",
                "tu_event": "2026-11-30T01:00:00", "exit_status": 3, "error": "Failed with exit status 3"})
        );
        let rejected = publisher.event(&origin, &entry(EventStatus::Rejected, json!("No such job")));
        assert_eq!(serde_json::from_str::<Value>(&rejected.detail).unwrap()["error"], "No such job");
    }

    #[test]
    fn the_setting_names_statuses_or_none() {
        assert_eq!(statuses("running, complete").unwrap(), [EventStatus::Running, EventStatus::Complete]);
        assert!(statuses("none").unwrap().is_empty() && statuses("").unwrap().is_empty());
        assert_eq!(statuses("finished").unwrap_err().to_string(), "RUN_EVENTS: finished is not an event status");
    }

    /// A bus that refuses every event.
    struct Refusing;

    #[async_trait::async_trait]
    impl EventBus for Refusing {
        async fn put_event(&self, _event: &BusEvent) -> Result<()> {
            Err(Error::Unexpected("refused".into()))
        }
    }

    #[tokio::test]
    async fn a_refused_final_event_is_an_error_worth_another_try_and_another_is_not() {
        let config = Config::new([("LAVA_RUN_EVENTS".to_string(), "running,complete".to_string())], None);
        let publisher = RunEventPublisher::configured(Arc::new(Refusing), "dev", &config).unwrap().unwrap();
        let origin = RunOrigin { job_id: "j", run_id: "r", ts_dispatch: "t", worker: "core" };
        publisher.publish(&origin, &[entry(EventStatus::Running, Value::Null)]).await.unwrap();
        let error = publisher.publish(&origin, &[entry(EventStatus::Complete, json!({}))]).await.unwrap_err();
        assert_eq!(error.retry(), crate::Retry::Transient, "{error}");
        let none = Config::new([("LAVA_RUN_EVENTS".to_string(), "none".to_string())], None);
        assert!(RunEventPublisher::configured(Arc::new(Refusing), "dev", &none).unwrap().is_none());
    }
}
