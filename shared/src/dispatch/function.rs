//! What the dispatch function does with a batch from the realm's dispatch queue: dispatch
//! requests (JSON or text), and schedule ticks that dispatch every job due in the tick's
//! minute, exactly once per job and minute.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

use super::requests::{Work, parse_body};
use super::{DispatchRequest, dispatch, send_run};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::config::keys;
use crate::error::{Error, Result, Retry};
use crate::model::schedule::schedule_entries;
use crate::model::values::{ECHO_LIMIT, bounded, format_timestamp};
use crate::model::{EventStatus, JobSpec, JobType};
use crate::names::ResourceNames;
use crate::ports::{EventLog, Incoming, OutgoingMessage, Ports, WorkQueue};
use crate::recorder::EventRecorder;
use crate::schedule::{Entry, floor_minute, schedule_fire_times};
use crate::state::StateStore;

/// How long the per-(job, minute) and per-message markers are kept.
const MARKER_TTL: i64 = 2 * 86_400;

/// The dispatch function, built once per cold start.
pub struct DispatchFunction {
    catalog: Catalog,
    queues: Arc<dyn WorkQueue>,
    state: StateStore,
    events: Arc<dyn EventLog>,
    config: Config,
    dead_letter_url: Option<String>,
}

/// One dispatched run of a scheduled job.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// The job.
    pub job_id: String,
    /// The scheduled minute.
    pub minute: Timestamp,
    /// The run.
    pub run_id: String,
}

fn transient(e: &Error) -> bool {
    e.retry() == Retry::Transient
}

/// The time zone each dispatcher's schedules are evaluated in: the realm config's
/// `DISPATCHER_TIMEZONES` map, else `CRON_TZ`/`TZ` in the `env` of the `lavasched` job that
/// schedules that dispatcher (what the original's crontab used), else config `TIMEZONE`, else UTC.
pub fn dispatcher_zones(config: &Config, jobs: &[JobSpec]) -> (HashMap<String, TimeZone>, TimeZone) {
    let zone = |name: &str| match TimeZone::get(name) {
        Ok(tz) => Some(tz),
        Err(e) => {
            tracing::warn!(zone = name, error = %e, "Unknown time zone; ignored.");
            None
        }
    };
    let default = config.get(keys::TIMEZONE).and_then(|z| zone(&z)).unwrap_or(TimeZone::UTC);
    let mut zones = HashMap::new();
    for job in jobs.iter().filter(|j| j.job_type == JobType::Lavasched) {
        let params = job.parameters.as_ref();
        let env = params.and_then(|p| p.get("env"));
        let Some(name) = env.and_then(|e| e.get("CRON_TZ").or_else(|| e.get("TZ"))).and_then(Value::as_str) else {
            continue;
        };
        let dispatchers: Vec<String> = match params.and_then(|p| p.get("dispatcher")) {
            Some(Value::String(d)) => vec![d.clone()],
            Some(Value::Array(ds)) => ds.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        if let Some(tz) = zone(name) {
            for d in dispatchers {
                zones.insert(d, tz.clone());
            }
        }
    }
    if let Some(Value::Object(map)) = config.get(keys::DISPATCHER_TIMEZONES) {
        for (d, name) in map {
            if let Some(tz) = name.as_str().and_then(zone) {
                zones.insert(d, tz);
            }
        }
    }
    (zones, default)
}

impl DispatchFunction {
    /// Loads the realm's configuration and resolves the dead-letter queue.
    pub async fn load(names: ResourceNames, env: Vec<(String, String)>, ports: &Ports) -> Result<Self> {
        let catalog = Catalog::new(ports.tables.clone(), names.clone());
        let realm_config = catalog.realm().await.ok().and_then(|r| r.config);
        let config = Config::new(env, realm_config.as_ref());
        let dead_letter_url =
            ports.queues.queue_url(&ResourceNames::dead_letter_queue(&names.dispatch_queue)).await.ok();
        Ok(DispatchFunction {
            state: StateStore::new(ports.tables.clone(), ports.keys.clone(), names, config.clone()),
            catalog,
            queues: ports.queues.clone(),
            events: ports.events.clone(),
            config,
            dead_letter_url,
        })
    }

    /// Handles a batch; returns the ids of the messages to receive again.
    pub async fn handle(&self, batch: Vec<Incoming>) -> Vec<String> {
        let mut retry = Vec::new();
        for message in batch {
            let span = tracing::info_span!("message", message_id = %message.message_id);
            if let Err(reason) = self.handle_one(&message).instrument(span.clone()).await {
                let _in_span = span.enter();
                tracing::warn!(error = %reason, "Dispatch message will be received again.");
                retry.push(message.message_id);
            }
        }
        retry
    }

    async fn handle_one(&self, message: &Incoming) -> std::result::Result<(), String> {
        let work = match parse_body(&message.body) {
            Ok(w) => w,
            Err(reason) => return self.dead_letter(&message.body, &reason).await,
        };
        for (index, item) in work.into_iter().enumerate() {
            let done = format!("lava.dispatch/{}/{index}", message.message_id);
            if self.state.get(&done).await.map_err(|e| e.to_string())?.is_some() {
                continue;
            }
            match item {
                Err(reason) => self.dead_letter(&message.body, &reason).await?,
                Ok(Work::Tick(at)) => {
                    self.tick(at).await.map_err(|e| e.to_string())?;
                }
                Ok(Work::Dispatch(request)) => {
                    match dispatch(&self.catalog, self.queues.as_ref(), &request, &self.config.limits()).await {
                        Ok(sent) => {
                            tracing::info!(job_id = %request.job_id, run_id = %sent.run_id, event_type = "dispatch", "{}@{} dispatched ({})", request.job_id, sent.realm, sent.run_id)
                        }
                        Err(e) if transient(&e) => return Err(format!("{}: {e}", request.job_id)),
                        Err(e) => {
                            let reason =
                                format!("Cannot dispatch {}@{} - {e}", request.job_id, self.catalog.names().realm);
                            self.reject(&request, &reason).await?;
                            let line = serde_json::to_string(&json!({"job_id": request.job_id})).unwrap_or_default();
                            self.dead_letter(&line, &reason).await?;
                        }
                    }
                }
            }
            if let Err(e) = self.state.claim(&done, MARKER_TTL, "lava dispatch").await {
                tracing::warn!(error = %e, "Cannot record a completed dispatch; a redelivery may repeat it.");
            }
        }
        Ok(())
    }

    /// Records a `rejected` event for a request that can never be dispatched.
    async fn reject(&self, request: &DispatchRequest, reason: &str) -> std::result::Result<(), String> {
        let reason = bounded(reason, ECHO_LIMIT);
        tracing::error!(job_id = %bounded(&request.job_id, ECHO_LIMIT), "{reason}");
        let ttl = self.config.get(keys::EVENT_TTL) as i64;
        let worker = request.worker.as_deref().unwrap_or("dispatch");
        let recorder = EventRecorder::new(
            self.events.clone(),
            &self.catalog.names().events_table,
            worker,
            ttl,
            TimeZone::system(),
        );
        let ts_dispatch = format_timestamp(&recorder.now());
        let run_id = uuid::Uuid::new_v4().to_string();
        recorder
            .record(&request.job_id, &run_id, &ts_dispatch, EventStatus::Rejected, json!(reason))
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot record the rejection: {e}"))
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> std::result::Result<(), String> {
        let reason = bounded(reason, ECHO_LIMIT);
        tracing::error!(reason = %reason, "Bad dispatch request.");
        let Some(url) = &self.dead_letter_url else {
            return Ok(());
        };
        let outgoing = OutgoingMessage {
            body: body.to_string(),
            attributes: vec![("lava-reason".into(), reason.to_string())],
            ..Default::default()
        };
        self.queues.send(url, &outgoing).await.map(|_| ()).map_err(|e| format!("cannot dead-letter: {e}"))
    }

    /// Dispatches every job whose schedule fires in the minutes `(at − SCHEDULE_CATCHUP, at]`
    /// that were not dispatched already. A conditional write per job and minute makes a
    /// duplicated or overlapping tick dispatch nothing twice.
    pub async fn tick(&self, at: Timestamp) -> Result<Vec<Scheduled>> {
        let upto = floor_minute(at);
        let catchup = self.config.get(keys::SCHEDULE_CATCHUP).max(60.0);
        let after = upto
            .checked_sub(SignedDuration::from_secs(catchup as i64))
            .map_err(|e| Error::config("SCHEDULE_CATCHUP", e.to_string()))?;
        let jobs = self.catalog.jobs().await?;
        let (zones, default_zone) = dispatcher_zones(&self.config, &jobs);
        let mut dispatched = Vec::new();
        for job in &jobs {
            let Some(schedule) = &job.schedule else { continue };
            let tz = job.dispatcher.as_ref().and_then(|d| zones.get(d)).unwrap_or(&default_zone);
            let entries: std::result::Result<Vec<Entry>, String> =
                schedule_entries(schedule).and_then(|es| es.iter().map(|e| Entry::new(e, tz)).collect());
            let entries = match entries {
                Ok(e) => e,
                Err(reason) => {
                    tracing::warn!(job_id = %job.job_id, "Bad schedule, not dispatched: {reason}");
                    continue;
                }
            };
            for minute in schedule_fire_times(&entries, tz, after, upto) {
                let marker = format!("lava.schedule/{}/{minute}", job.job_id);
                if !self.state.claim(&marker, MARKER_TTL, "lava schedule").await? {
                    continue;
                }
                let request = DispatchRequest { job_id: job.job_id.clone(), ..Default::default() };
                match send_run(&self.catalog, self.queues.as_ref(), &job.worker, &request, &self.config.limits()).await
                {
                    Ok(sent) => {
                        tracing::info!(job_id = %job.job_id, run_id = %sent.run_id, minute = %minute, event_type = "dispatch", "{}@{} dispatched ({}) for {minute}", job.job_id, sent.realm, sent.run_id);
                        dispatched.push(Scheduled { job_id: job.job_id.clone(), minute, run_id: sent.run_id });
                    }
                    Err(e) if transient(&e) => {
                        self.state.release(&marker).await?;
                        return Err(e);
                    }
                    Err(e) => {
                        let reason = format!("Cannot dispatch {}@{} - {e}", job.job_id, self.catalog.names().realm);
                        self.reject(&request, &reason).await.map_err(|r| Error::unexpected("events", r))?;
                    }
                }
            }
        }
        Ok(dispatched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakePorts;
    use crate::ports::{TableStore, WorkQueue};

    async fn function(config: Value) -> (DispatchFunction, FakePorts, String) {
        let names = ResourceNames::for_realm("dev");
        let fakes = FakePorts::for_realm(&names);
        let realm = json!({"realm": "dev", "s3_payloads": "s3://b/p", "s3_temp": "s3://b/t", "config": config});
        fakes.tables.put_item("lava.realms", realm.as_object().unwrap().clone()).await.unwrap();
        let core = fakes.queues.create("lava-dev-core");
        fakes.queues.create("lava-dev--dispatch-dlq");
        let f = DispatchFunction::load(names, vec![], &fakes.ports()).await.unwrap();
        (f, fakes, core)
    }

    async fn put_job(fakes: &FakePorts, job: Value) {
        fakes.tables.put_item("lava.dev.jobs", job.as_object().unwrap().clone()).await.unwrap();
    }

    fn job(id: &str, schedule: Value, dispatcher: &str) -> Value {
        json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": schedule, "dispatcher": dispatcher})
    }

    fn incoming(id: &str, body: &str) -> Incoming {
        Incoming { message_id: id.into(), body: body.into(), receive_count: 1 }
    }

    #[tokio::test]
    async fn a_tick_dispatches_due_jobs_once_in_their_dispatcher_zone() {
        let (f, fakes, core) = function(json!({"dispatcher_timezones": {"syd": "Australia/Sydney"}})).await;
        put_job(&fakes, job("a/daily", json!("15 6 * * *"), "syd")).await;
        put_job(&fakes, job("a/utc", json!("15 19 * * *"), "other")).await;
        put_job(
            &fakes,
            job("a/list", json!(["0 0 1 1 *", {"crontab": "*/5 * * * *", "to": "2020-01-01T00:00:00Z"}]), "syd"),
        )
        .await;
        // 2025-03-03T19:15Z is 06:15 in Sydney.
        let first = f.tick("2025-03-03T19:15:30Z".parse().unwrap()).await.unwrap();
        let mut ids: Vec<&str> = first.iter().map(|s| s.job_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a/daily", "a/utc"]);
        assert_eq!(fakes.queues.bodies(&core).len(), 2);
        let again = f.tick("2025-03-03T19:15:59Z".parse().unwrap()).await.unwrap();
        assert!(again.is_empty(), "a duplicated tick dispatches nothing");
        // A later tick still covers missed minutes in the catch-up window, but not twice.
        assert!(f.tick("2025-03-03T19:18:00Z".parse().unwrap()).await.unwrap().is_empty());
        assert_eq!(fakes.queues.bodies(&core).len(), 2);
    }

    #[tokio::test]
    async fn missed_minutes_are_caught_up_within_the_window_only() {
        let (f, fakes, core) = function(json!({"schedule_catchup": "10m"})).await;
        put_job(&fakes, job("b/five", json!("*/5 * * * *"), "x")).await;
        let caught = f.tick("2025-03-04T01:20:00Z".parse().unwrap()).await.unwrap();
        let minutes: Vec<String> = caught.iter().map(|s| s.minute.to_string()).collect();
        assert_eq!(minutes, ["2025-03-04T01:15:00Z", "2025-03-04T01:20:00Z"], "(01:10, 01:20]");
        assert_eq!(fakes.queues.bodies(&core).len(), 2);
    }

    #[tokio::test]
    async fn lavasched_env_gives_the_dispatcher_zone() {
        let (f, fakes, _) = function(json!({})).await;
        put_job(&fakes, json!({"job_id": "lava/sched", "type": "lavasched", "worker": "core", "payload": "--", "dispatcher": "ny", "parameters": {"dispatcher": ["ny"], "env": {"CRON_TZ": "America/New_York"}}})).await;
        put_job(&fakes, job("c/nine", json!("0 9 * * *"), "ny")).await;
        assert!(f.tick("2025-03-04T09:00:00Z".parse().unwrap()).await.unwrap().is_empty());
        assert_eq!(f.tick("2025-03-04T14:00:00Z".parse().unwrap()).await.unwrap().len(), 1, "09:00 EST");
    }

    #[tokio::test]
    async fn requests_dispatch_and_bad_ones_are_rejected_and_dead_lettered() {
        let (f, fakes, core) = function(json!({})).await;
        put_job(&fakes, job("d/one", Value::Null, "x")).await;
        let retry = f
            .handle(vec![
                incoming("m1", "d/one -p day=1\nd/missing\n"),
                incoming("m2", r#"{"job_id": "d/one", "bogus": 1}"#),
            ])
            .await;
        assert!(retry.is_empty());
        let sent: Value = serde_json::from_str(&fakes.queues.bodies(&core)[0]).unwrap();
        assert_eq!((sent["job_id"].as_str(), sent["parameters"]["day"].as_str()), (Some("d/one"), Some("1")));
        let dlq = fakes.queues.queue_url("lava-dev--dispatch-dlq").await.unwrap();
        assert_eq!(fakes.queues.bodies(&dlq).len(), 2, "the unknown job and the bad request");
        let rejected: Vec<_> = fakes.events.runs_of("d/missing");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].last().status, EventStatus::Rejected);
        // The same message again (a redelivery) dispatches nothing new.
        f.handle(vec![incoming("m1", "d/one -p day=1\nd/missing\n")]).await;
        assert_eq!(fakes.queues.bodies(&core).len(), 1);
    }

    #[tokio::test]
    async fn validation_limits_come_from_the_realms_configuration() {
        let mut spec = job("l/fifteen", Value::Null, "x");
        spec["iteration_limit"] = json!(15);
        let (f, fakes, core) = function(json!({})).await;
        put_job(&fakes, spec.clone()).await;
        f.handle(vec![incoming("m1", "l/fifteen")]).await;
        assert_eq!(fakes.queues.bodies(&core).len(), 0, "over the default ITERATION_MAX_LIMIT of 10");
        assert_eq!(fakes.events.runs_of("l/fifteen")[0].last().status, EventStatus::Rejected);

        let (f, fakes, core) = function(json!({"ITERATION_MAX_LIMIT": 20})).await;
        put_job(&fakes, spec).await;
        f.handle(vec![incoming("m1", "l/fifteen")]).await;
        assert_eq!(fakes.queues.bodies(&core).len(), 1, "the realm allows what its worker would run");
    }

    #[tokio::test]
    async fn a_request_naming_another_worker_than_the_jobs_is_rejected() {
        let (f, fakes, core) = function(json!({})).await;
        put_job(&fakes, job("e/one", Value::Null, "x")).await;
        let retry = f
            .handle(vec![
                incoming("m3", r#"{"job_id": "e/one", "worker": "gpu"}"#),
                incoming("m4", r#"{"job_id": "e/one", "worker": "core"}"#),
            ])
            .await;
        assert!(retry.is_empty());
        assert_eq!(fakes.queues.bodies(&core).len(), 1, "only the request naming the job's own worker");
        let rejected = fakes.events.runs_of("e/one");
        assert_eq!(rejected.len(), 1);
        assert!(
            rejected[0].last().info.to_string().contains("gpu: job e/one runs on worker core"),
            "{:?}",
            rejected[0].last().info
        );
    }
}
