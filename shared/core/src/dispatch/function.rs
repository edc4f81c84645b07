//! What the dispatch function does with a batch from the realm's dispatch queue: dispatch
//! requests (JSON or text), and schedule ticks that dispatch every job due in the tick's
//! minute, exactly once per job and minute.

use futures_util::StreamExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tracing::Instrument;

use super::requests::{Work, parse_body};
use super::{DispatchRequest, dispatch};
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

    /// Handles a message's requests in order. A request dispatches under a run id derived from
    /// the message and its place in it, so a redelivery sends the same run again, which the
    /// worker's run lease runs once (a copy of a finished run is deleted unrun): no call is
    /// spent on a ledger. What is not idempotent by itself (a tick's, a rejection and a dead
    /// letter) is recorded as done (`lava.dispatch/<message>/<index>`) and not repeated.
    async fn handle_one(&self, message: &Incoming) -> std::result::Result<(), String> {
        let work = match parse_body(&message.body) {
            Ok(w) => w,
            Err(reason) => return self.dead_letter(&message.body, &reason).await,
        };
        for (index, item) in work.into_iter().enumerate() {
            let step = (message.message_id.as_str(), index);
            match item {
                Ok(Work::Dispatch(mut request)) => {
                    request.run_id = Some(dispatched_run_id(&self.catalog.names().realm, &message.message_id, index));
                    match dispatch(&self.catalog, self.queues.as_ref(), &request, &self.config.limits()).await {
                        Ok(sent) => {
                            tracing::info!(job_id = %request.job_id, run_id = %sent.run_id, event_type = "dispatch", "{}@{} dispatched ({})", request.job_id, sent.realm, sent.run_id)
                        }
                        Err(e) if transient(&e) => return Err(format!("{}: {e}", request.job_id)),
                        Err(e) => self.once(step, self.refuse(&request, &e)).await?,
                    }
                }
                Ok(Work::Tick(at)) => {
                    self.once(step, async { self.tick(at).await.map(|_| ()).map_err(|e| e.to_string()) }).await?
                }
                Err(reason) => self.once(step, self.dead_letter(&message.body, &reason)).await?,
            }
        }
        Ok(())
    }

    /// Does `work`, the step at `index` of message `message_id`, unless its marker
    /// (`lava.dispatch/<message>/<index>`) says it was done; then sets the marker.
    async fn once(
        &self,
        (message_id, index): (&str, usize),
        work: impl std::future::Future<Output = std::result::Result<(), String>>,
    ) -> std::result::Result<(), String> {
        let done = format!("lava.dispatch/{message_id}/{index}");
        if self.state.get(&done).await.map_err(|e| e.to_string())?.is_some() {
            return Ok(());
        }
        work.await?;
        if let Err(e) = self.state.claim(&done, MARKER_TTL, "lava dispatch").await {
            tracing::warn!(error = %e, "Cannot record a completed dispatch step; a redelivery may repeat it.");
        }
        Ok(())
    }

    /// A request that can never be dispatched: a `rejected` event and a dead letter.
    async fn refuse(&self, request: &DispatchRequest, e: &Error) -> std::result::Result<(), String> {
        let reason = format!("Cannot dispatch {}@{} - {e}", request.job_id, self.catalog.names().realm);
        tracing::warn!(job_id = %request.job_id, event_type = "dispatch", "{reason}");
        self.reject(request, &reason).await?;
        let line = serde_json::to_string(&json!({"job_id": request.job_id})).unwrap_or_default();
        self.dead_letter(&line, &reason).await
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

    /// Dispatches every job of a served dispatcher whose schedule fires in the minutes after the
    /// last tick that completed (the watermark) up to `at`'s minute, at most `SCHEDULE_CATCHUP`
    /// back; the first tick ever covers its own minute only. Each run's id is derived from the
    /// realm, the job and the minute, so an overlapping or retried tick sends the same run again
    /// under the same id, which the worker's lease runs once. Messages go out in batches of ten,
    /// several batches at a time.
    pub async fn tick(&self, at: Timestamp) -> Result<Vec<Scheduled>> {
        let upto = floor_minute(at);
        let catchup = self.config.get(keys::SCHEDULE_CATCHUP).max(60.0);
        let window = upto
            .checked_sub(SignedDuration::from_secs(catchup as i64))
            .map_err(|e| Error::config("SCHEDULE_CATCHUP", e.to_string()))?;
        let after = match self.watermark().await? {
            None => upto.checked_sub(SignedDuration::from_mins(1)).expect("in range"),
            Some(done) if done >= upto => return Ok(vec![]),
            Some(done) => done.max(window),
        };
        let due = self.due_runs(after, upto).await?;
        let mut by_worker: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
        for d in due {
            let run_id = scheduled_run_id(&self.catalog.names().realm, &d.job_id, d.minute);
            let request = DispatchRequest { job_id: d.job_id.clone(), ..Default::default() };
            let message = super::run_message(&self.catalog, &d.worker, &request, run_id)?;
            by_worker.entry(d.worker).or_default().push(Planned { job_id: d.job_id, minute: d.minute, message });
        }
        let mut dispatched = Vec::new();
        let mut unsent = 0;
        for (worker, runs) in by_worker {
            let url = match self.queues.queue_url(&self.catalog.names().worker_queue(&worker)).await {
                Ok(url) => url,
                Err(e) if transient(&e) => return Err(e),
                Err(e) => {
                    for run in &runs {
                        let reason = format!("Cannot dispatch {}@{} - {e}", run.job_id, self.catalog.names().realm);
                        let request = DispatchRequest { job_id: run.job_id.clone(), ..Default::default() };
                        self.reject(&request, &reason).await.map_err(|r| Error::unexpected("events", r))?;
                    }
                    continue;
                }
            };
            let messages: Vec<OutgoingMessage> =
                runs.iter().map(|run| OutgoingMessage { body: run.message.to_body(), ..Default::default() }).collect();
            let batches = messages.chunks(10).zip(runs.chunks(10)).map(|(batch, runs)| {
                let url = &url;
                async move { (runs, self.queues.send_batch(url, batch).await) }
            });
            let sent: Vec<_> = futures_util::stream::iter(batches).buffer_unordered(TICK_CONCURRENCY).collect().await;
            for (runs, outcome) in sent {
                let outcomes = match outcome {
                    Ok(outcomes) => outcomes,
                    Err(e) => vec![Some(e.to_string()); runs.len()],
                };
                for (run, failure) in runs.iter().zip(outcomes) {
                    match failure {
                        None => {
                            tracing::info!(job_id = %run.job_id, run_id = %run.message.run_id, minute = %run.minute, event_type = "dispatch", "{}@{} dispatched ({}) for {}", run.job_id, run.message.realm, run.message.run_id, run.minute);
                            dispatched.push(Scheduled {
                                job_id: run.job_id.clone(),
                                minute: run.minute,
                                run_id: run.message.run_id.clone(),
                            });
                        }
                        Some(reason) => {
                            tracing::warn!(job_id = %run.job_id, minute = %run.minute, error = %reason, "Scheduled run not sent; the tick is tried again.");
                            unsent += 1;
                        }
                    }
                }
            }
        }
        if unsent > 0 {
            // The watermark stays: the tick's retry sends the same runs (same run ids) again.
            return Err(Error::unexpected("schedule tick", format!("{unsent} scheduled runs were not sent")));
        }
        self.set_watermark(upto).await?;
        Ok(dispatched)
    }

    /// The last minute a tick completed.
    async fn watermark(&self) -> Result<Option<Timestamp>> {
        let Some((_, value)) = self.state.get(WATERMARK).await? else { return Ok(None) };
        Ok(value.as_i64().and_then(|s| Timestamp::from_second(s).ok()))
    }

    /// Moves the watermark forward to `minute`; a tick that finishes after a later one leaves it
    /// where the later one put it. (Two ticks finishing at the same instant can still race; the
    /// cost is one minute's runs sent again under the same run ids.)
    async fn set_watermark(&self, minute: Timestamp) -> Result<()> {
        if self.watermark().await?.is_some_and(|done| done >= minute) {
            return Ok(());
        }
        let item = crate::state::NewState {
            state_id: WATERMARK.into(),
            value: json!(minute.as_second()),
            state_type: crate::model::StateType::Json,
            ttl_seconds: Some(WATERMARK_TTL),
            publisher: Some("lava schedule".into()),
            kms_key: None,
        };
        self.state.put_reserved(&item).await
    }

    /// Every (job, minute) due in `(after, upto]` among the jobs of the dispatchers an enabled
    /// `lavasched` job serves, read through the jobs table's indexes.
    async fn due_runs(&self, after: Timestamp, upto: Timestamp) -> Result<Vec<Due>> {
        let mut schedulers = Vec::new();
        for item in self.catalog.lavasched_jobs().await? {
            match JobSpec::from_value(&Value::Object(item)) {
                Ok(job) => schedulers.push(job),
                Err(e) => {
                    tracing::warn!(error = %e, "Unreadable lavasched job; the dispatchers it names are not served.")
                }
            }
        }
        let (zones, default_zone) = dispatcher_zones(&self.config, &schedulers);
        let served: BTreeSet<String> = schedulers
            .iter()
            .filter(|job| job.enabled() != crate::model::Enabled::Static(false))
            .flat_map(|job| match job.parameters.as_ref().and_then(|p| p.get("dispatcher")) {
                Some(Value::String(d)) => vec![d.clone()],
                Some(Value::Array(ds)) => ds.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => vec![],
            })
            .collect();
        let mut due = Vec::new();
        for dispatcher in served {
            let tz = zones.get(&dispatcher).unwrap_or(&default_zone);
            for item in self.catalog.dispatcher_jobs(&dispatcher).await? {
                let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
                let (Some(job_id), Some(worker)) = (text("job_id"), text("worker")) else { continue };
                let Some(schedule) = item.get("schedule").filter(|s| !s.is_null()) else { continue };
                let entries: std::result::Result<Vec<Entry>, String> =
                    schedule_entries(schedule).and_then(|es| es.iter().map(|e| Entry::new(e, tz)).collect());
                match entries {
                    Ok(entries) => {
                        for minute in schedule_fire_times(&entries, tz, after, upto) {
                            due.push(Due { job_id: job_id.clone(), worker: worker.clone(), minute });
                        }
                    }
                    Err(reason) => tracing::warn!(job_id = %job_id, "Bad schedule, not dispatched: {reason}"),
                }
            }
        }
        Ok(due)
    }
}

/// The state item holding the last minute a tick completed (epoch seconds).
const WATERMARK: &str = "lava.schedule/watermark";
/// The watermark outlives any pause of the schedule (a month), then the next tick starts afresh.
const WATERMARK_TTL: f64 = 30.0 * 86_400.0;
/// Batches of ten messages in flight at once during a tick.
const TICK_CONCURRENCY: usize = 16;

/// A job due in a minute.
struct Due {
    job_id: String,
    worker: String,
    minute: Timestamp,
}

/// A due run and its worker message.
struct Planned {
    job_id: String,
    minute: Timestamp,
    message: crate::model::WorkerMessage,
}

/// The namespace of the ids of runs the dispatch function sends for requests (UUID version 5).
const DISPATCHED_RUNS: uuid::Uuid = uuid::uuid!("5d0c7f0e-2b8a-4c55-9f3e-6a1d2e4b7c90");

/// The run id of the request at `index` in the dispatch queue's message `message_id`: the same
/// each time the message is delivered. A UUID, as every run id.
pub fn dispatched_run_id(realm: &str, message_id: &str, index: usize) -> String {
    uuid::Uuid::new_v5(&DISPATCHED_RUNS, format!("{realm}\n{message_id}\n{index}").as_bytes()).to_string()
}

/// The namespace of scheduled runs' ids (UUID version 5).
const SCHEDULED_RUNS: uuid::Uuid = uuid::uuid!("ffa676e6-a8ff-41c5-a445-da700c3b1c45");

/// The run id of a job's scheduled run for a minute: the same in every tick that covers the
/// minute, so a retried or overlapping tick sends the same run again, and the worker's run
/// lease runs it once (a copy of a finished run is deleted unrun). A UUID, as every run id.
pub fn scheduled_run_id(realm: &str, job_id: &str, minute: Timestamp) -> String {
    let name = format!("{realm}\n{job_id}\n{}", minute.as_second());
    uuid::Uuid::new_v5(&SCHEDULED_RUNS, name.as_bytes()).to_string()
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

    /// A lavasched job serving `dispatchers`.
    async fn serve(fakes: &FakePorts, id: &str, dispatchers: Value, enabled: bool, env: Value) {
        put_job(
            fakes,
            json!({"job_id": id, "type": "lavasched", "worker": "core", "enabled": enabled, "payload": null,
            "parameters": {"dispatcher": dispatchers, "env": env}}),
        )
        .await;
    }

    fn ids(runs: &[Scheduled]) -> Vec<String> {
        let mut ids: Vec<String> = runs.iter().map(|s| format!("{} {}", s.job_id, s.minute)).collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn a_tick_dispatches_due_jobs_of_served_dispatchers_once_in_their_zone() {
        let (f, fakes, core) = function(json!({"dispatcher_timezones": {"syd": "Australia/Sydney"}})).await;
        serve(&fakes, "lava/sched", json!(["syd", "other"]), true, json!({})).await;
        put_job(&fakes, job("a/daily", json!("15 6 * * *"), "syd")).await;
        put_job(&fakes, job("a/utc", json!("15 19 * * *"), "other")).await;
        put_job(
            &fakes,
            job("a/list", json!(["0 0 1 1 *", {"crontab": "*/5 * * * *", "to": "2020-01-01T00:00:00Z"}]), "syd"),
        )
        .await;
        let mut off = job("a/disabled", json!("15 19 * * *"), "other");
        off["enabled"] = json!(false);
        put_job(&fakes, off).await;
        put_job(&fakes, job("a/unserved", json!("* * * * *"), "nobody")).await;
        let mut lone = job("a/no-dispatcher", json!("* * * * *"), "x");
        lone.as_object_mut().unwrap().remove("dispatcher");
        put_job(&fakes, lone).await;
        // 2025-03-03T19:15Z is 06:15 in Sydney.
        let first = f.tick("2025-03-03T19:15:30Z".parse().unwrap()).await.unwrap();
        assert_eq!(
            ids(&first),
            ["a/daily 2025-03-03T19:15:00Z", "a/disabled 2025-03-03T19:15:00Z", "a/utc 2025-03-03T19:15:00Z"],
            "a disabled job is dispatched (its worker records skipped); unserved and dispatcher-less jobs are not"
        );
        assert_eq!(fakes.queues.bodies(&core).len(), 3);
        let again = f.tick("2025-03-03T19:15:59Z".parse().unwrap()).await.unwrap();
        assert!(again.is_empty(), "a duplicated tick dispatches nothing");
        assert!(f.tick("2025-03-03T19:18:00Z".parse().unwrap()).await.unwrap().is_empty());
        assert_eq!(fakes.queues.bodies(&core).len(), 3);
    }

    #[tokio::test]
    async fn the_first_tick_covers_its_own_minute_and_missed_ticks_are_caught_up_once() {
        let (f, fakes, core) = function(json!({"schedule_catchup": "10m"})).await;
        serve(&fakes, "lava/sched", json!("x"), true, json!({})).await;
        put_job(&fakes, job("b/five", json!("*/5 * * * *"), "x")).await;
        let first = f.tick("2025-03-04T01:02:00Z".parse().unwrap()).await.unwrap();
        assert!(first.is_empty(), "the first tick ever does not run 01:00 (before it)");
        // Ticks missed from 01:03 to 01:19: the next one catches up (01:10, 01:20], once.
        let caught = f.tick("2025-03-04T01:20:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(ids(&caught), ["b/five 2025-03-04T01:15:00Z", "b/five 2025-03-04T01:20:00Z"]);
        assert!(f.tick("2025-03-04T01:21:00Z".parse().unwrap()).await.unwrap().is_empty());
        assert_eq!(fakes.queues.bodies(&core).len(), 2);
        // The watermark survives a cold start.
        let names = ResourceNames::for_realm("dev");
        let cold = DispatchFunction::load(names, vec![], &fakes.ports()).await.unwrap();
        assert!(cold.tick("2025-03-04T01:20:30Z".parse().unwrap()).await.unwrap().is_empty());
        let next = cold.tick("2025-03-04T01:25:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(ids(&next), ["b/five 2025-03-04T01:25:00Z"]);
    }

    #[tokio::test]
    async fn a_disabled_lavasched_job_serves_nobody_and_its_env_gives_the_zone() {
        let (f, fakes, _) = function(json!({})).await;
        serve(&fakes, "lava/sched", json!(["ny"]), true, json!({"CRON_TZ": "America/New_York"})).await;
        serve(&fakes, "lava/off", json!(["paused"]), false, json!({})).await;
        put_job(&fakes, job("c/nine", json!("0 9 * * *"), "ny")).await;
        put_job(&fakes, job("c/paused", json!("* * * * *"), "paused")).await;
        assert!(f.tick("2025-03-04T09:00:00Z".parse().unwrap()).await.unwrap().is_empty());
        let at_nine = f.tick("2025-03-04T14:00:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(ids(&at_nine), ["c/nine 2025-03-04T14:00:00Z"], "09:00 EST, and nothing of the paused dispatcher");
    }

    #[tokio::test]
    async fn a_retried_or_overlapping_tick_sends_the_same_run_ids() {
        let (f, fakes, core) = function(json!({})).await;
        serve(&fakes, "lava/sched", json!("x"), true, json!({})).await;
        put_job(&fakes, job("e/every", json!("* * * * *"), "x")).await;
        put_job(&fakes, job("e/other", json!("* * * * *"), "x")).await;
        put_job(&fakes, job("e/third", json!("* * * * *"), "x")).await;
        let at: Timestamp = "2025-03-04T02:00:10Z".parse().unwrap();
        // One message of the tick's batch is not sent: the tick fails and its watermark stays.
        fakes.queues.fail_next_sends(1);
        let failed = f.tick(at).await.unwrap_err();
        assert!(failed.to_string().contains("1 scheduled runs were not sent"), "{failed}");
        assert_eq!(f.watermark().await.unwrap(), None);
        let sent_first = fakes.queues.bodies(&core);
        assert_eq!(sent_first.len(), 2);
        // Its retry sends every run again under the same run ids, and completes.
        let second = f.tick(at).await.unwrap();
        assert_eq!(f.watermark().await.unwrap(), Some("2025-03-04T02:00:00Z".parse().unwrap()));
        let run_ids = |runs: &[Scheduled]| runs.iter().map(|s| s.run_id.clone()).collect::<BTreeSet<_>>();
        let body_run_ids = |bodies: &[String]| {
            bodies
                .iter()
                .map(|b| serde_json::from_str::<Value>(b).unwrap()["run_id"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(second.len(), 3);
        assert!(body_run_ids(&sent_first).is_subset(&run_ids(&second)), "the retry reuses the first try's run ids");
        assert_eq!(body_run_ids(&fakes.queues.bodies(&core)), run_ids(&second), "five messages, three runs");
        // An overlapping tick for the same minute sends nothing once the watermark has moved.
        assert!(f.tick(at).await.unwrap().is_empty());
        let minute = "2025-03-04T02:00:00Z".parse().unwrap();
        let expected = scheduled_run_id("dev", "e/every", minute);
        assert!(second.iter().any(|s| s.run_id == expected), "{second:?}");
        assert_ne!(expected, scheduled_run_id("dev", "e/every", minute + SignedDuration::from_mins(1)));
        assert_ne!(expected, scheduled_run_id("dev", "e/other", minute));
        assert_ne!(expected, scheduled_run_id("prod", "e/every", minute));
        assert!(uuid::Uuid::parse_str(&expected).is_ok());
    }

    #[tokio::test]
    async fn a_late_tick_never_moves_the_watermark_back() {
        let (f, fakes, _core) = function(json!({})).await;
        serve(&fakes, "lava/sched", json!("x"), true, json!({})).await;
        let later: Timestamp = "2025-03-04T02:05:10Z".parse().unwrap();
        f.tick(later).await.unwrap();
        f.set_watermark("2025-03-04T02:04:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(f.watermark().await.unwrap(), Some("2025-03-04T02:05:00Z".parse().unwrap()));
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
        // The same message again (a redelivery) sends the same run again, under the same id
        // (the worker's lease runs it once), and neither rejects nor dead-letters again.
        f.handle(vec![incoming("m1", "d/one -p day=1\nd/missing\n")]).await;
        let again: Vec<Value> = fakes.queues.bodies(&core).iter().map(|b| serde_json::from_str(b).unwrap()).collect();
        assert_eq!(again.len(), 2);
        assert_eq!(again[1]["run_id"], sent["run_id"], "a redelivered request keeps its run id");
        assert_eq!(sent["run_id"], json!(dispatched_run_id("dev", "m1", 0)));
        assert_eq!(fakes.events.runs_of("d/missing").len(), 1, "rejected once");
        assert_eq!(fakes.queues.bodies(&dlq).len(), 2, "dead-lettered once");
        // Another message with the same request is another run.
        f.handle(vec![incoming("m5", "d/one -p day=1")]).await;
        let third: Value = serde_json::from_str(&fakes.queues.bodies(&core)[2]).unwrap();
        assert_ne!(third["run_id"], sent["run_id"]);
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
