//! Running one dispatched job to a complete, recorded result (the original's `run_job`):
//! the event sequence, iterations, retries and action lists.

use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::config::keys;
use crate::error::{Error, Result};
use crate::model::values::{format_timestamp, parse_timestamp};
use crate::model::{ActionKey, Enabled, EventStatus, JobSpec, RealmEntry, S3Location, WorkerMessage};
use crate::names::ResourceNames;
use crate::ports::{BlobStore, Datum, MetricUnit};
use crate::recorder::EventRecorder;
use crate::render::{self, Renderer};
use crate::runners::{self, Failure, RunContext, Stop, StopSignal};

use crate::actions::{ActionFailure, ActionRequest};

/// Where a run's action lists go (`on_success`, `on_retry`, `on_fail`).
#[async_trait::async_trait]
pub trait ActionSink: Send + Sync {
    /// Runs or forwards one action list; a failure is recorded as an `action_failed` event.
    async fn run_actions(&self, request: ActionRequest) -> std::result::Result<(), ActionFailure>;
}

/// Runs action lists in the worker process (`--dev`, or no actions queue).
pub struct InProcessActions {
    services: Arc<crate::actions::ActionServices>,
}

impl InProcessActions {
    /// Runs lists with `services`.
    pub fn new(services: Arc<crate::actions::ActionServices>) -> Self {
        InProcessActions { services }
    }
}

#[async_trait::async_trait]
impl ActionSink for InProcessActions {
    async fn run_actions(&self, request: ActionRequest) -> std::result::Result<(), ActionFailure> {
        self.services.run_list(&request, &crate::actions::NoLedger).await
    }
}

/// What every run on one worker shares.
pub struct JobRunner {
    /// The realm entry.
    pub realm: RealmEntry,
    /// The worker's name.
    pub worker: String,
    /// Configuration lookup.
    pub config: Config,
    /// Event writer.
    pub recorder: EventRecorder,
    /// State items (imported into runs).
    pub state: crate::state::StateStore,
    /// S3.
    pub blobs: Arc<dyn BlobStore>,
    /// Resource names.
    pub names: ResourceNames,
    /// Template engine.
    pub renderer: Renderer,
    /// The worker's private directory (runs get `<dir>/<run_id>`).
    pub run_root: PathBuf,
    /// Developer mode.
    pub dev: bool,
    /// Where action lists go.
    pub actions: Arc<dyn ActionSink>,
    /// The realm's connections.
    pub connections: crate::connections::Connections,
    /// The Docker engine for docker jobs, where the worker has one.
    pub containers: Option<Arc<dyn crate::ports::ContainerEngine>>,
    /// ECS, for docker jobs run as tasks.
    pub tasks: Arc<dyn crate::ports::ContainerTasks>,
    /// Job specs (children of pipelines, targets of dispatch jobs).
    pub catalog: crate::catalog::Catalog,
    /// Worker queues (dispatch jobs send their runs there).
    pub queues: Arc<dyn crate::ports::WorkQueue>,
    /// CloudWatch, for the job metrics (`cw_metrics`, `CW_METRICS_JOB`).
    pub metrics: Arc<dyn crate::ports::MetricSink>,
}

/// A run's future, boxed.
pub(crate) type BoxedRun<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<RunOutcome>> + Send + 'a>>;

/// Where a run sits: a top-level run, or a child of a pipeline (`chain`, `dag`, `foreach`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// The top-level run's directory, which its children share (none: a top-level run makes
    /// and removes its own).
    shared_dir: Option<PathBuf>,
    /// The run's step path within the top-level run (`""` at the top; `|<step>` per level).
    path: String,
    /// An earlier attempt of the top-level run may have completed steps: look their records up.
    resumed: bool,
    /// The worker holding the top-level run's lease: that run's events are written only while
    /// it still does (children's items have no lease).
    holder: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Skipped (not enabled): no handler ran.
    Skipped,
    /// Rejected (too old, bad limits): no handler ran; the reason.
    Rejected(String),
    /// The handler succeeded; the result.
    Succeeded(Value),
    /// The last iteration failed; the failure result.
    Failed(Value),
    /// The worker stopped the run (shutdown: it should run again elsewhere; lost lease: it
    /// goes on elsewhere already).
    Cancelled(Stop),
}

fn shallow_merge(base: &Option<Value>, over: &Option<Map<String, Value>>) -> Value {
    let mut merged = match base {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(over) = over {
        merged.extend(over.clone());
    }
    Value::Object(merged)
}

impl JobRunner {
    /// Runs a job for a validated message: every event is written before this returns.
    pub async fn run(&self, message: &WorkerMessage, job: &JobSpec, cancel: StopSignal) -> Result<RunOutcome> {
        self.run_attempt(message, job, cancel, 1, None).await
    }

    /// Runs a job for a validated message, the `attempt`-th start of its run: a pipeline
    /// started before skips the children an earlier attempt completed. With a lease `holder`,
    /// the run's events are written only while that worker holds the run: once another worker
    /// has taken it over, the run stops with [`crate::Error::LeaseLost`] and writes nothing more.
    pub async fn run_attempt(
        &self,
        message: &WorkerMessage,
        job: &JobSpec,
        cancel: StopSignal,
        attempt: u32,
        holder: Option<&str>,
    ) -> Result<RunOutcome> {
        let scope = Scope { resumed: attempt > 1, holder: holder.map(str::to_string), ..Scope::default() };
        self.run_scoped(message, job, cancel, scope).await
    }

    /// One run, top-level or a pipeline's child. Boxed with a named type: pipelines run
    /// children through it, so its future contains itself.
    pub(crate) fn run_scoped<'a>(
        &'a self,
        message: &'a WorkerMessage,
        job: &'a JobSpec,
        cancel: StopSignal,
        scope: Scope,
    ) -> BoxedRun<'a> {
        Box::pin(async move {
            let mut events = RunEvents { recorder: &self.recorder, message, held: None, holder: scope.holder.clone() };
            let outcome = self.run_job(&mut events, message, job, cancel, &scope).await;
            // Whatever ended the run, a held `starting` is written before the message is let go.
            let flushed = events.flush().await;
            match (outcome, flushed) {
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                (Ok(outcome), Ok(())) => Ok(outcome),
            }
        })
    }

    async fn run_job(
        &self,
        events: &mut RunEvents<'_>,
        message: &WorkerMessage,
        job: &JobSpec,
        cancel: StopSignal,
        scope: &Scope,
    ) -> Result<RunOutcome> {
        let mut spec = job.clone();
        spec.parameters = Some(shallow_merge(&job.parameters, &message.parameters));
        spec.globals = Some(shallow_merge(&job.globals, &message.globals));
        if spec.enabled() == Enabled::Static(false) {
            events.record(EventStatus::Skipped, json!("Job not enabled (static)")).await?;
            return Ok(RunOutcome::Skipped);
        }
        let start = events.hold(EventStatus::Starting, Value::Null);
        let ustart = start.with_time_zone(jiff::tz::TimeZone::UTC);
        let dispatched = parse_timestamp(&message.ts_dispatch).map_err(|e| Error::refused("ts_dispatch", e))?;

        let (iterations, delay) = match self.admit(&spec, &start, dispatched) {
            Ok(admitted) => admitted,
            Err(reason) => {
                events.record(EventStatus::Rejected, json!(reason)).await?;
                return Ok(RunOutcome::Rejected(reason));
            }
        };
        let mut globals = spec.globals_map();
        let mut lava = lava_globals(&globals, &spec.job_id, &start, &ustart);
        if !spec.state_map().is_empty() {
            // State reads take round trips: `starting` goes out on its own first.
            events.flush().await?;
        }
        let state = self.import_state(&spec).await?;
        spec.state = Some(Value::Object(state.clone()));
        let base = TemplateBase {
            job: self.job_value(&spec, message, &start, &ustart),
            realm: self.realm.to_value(),
            state,
            start: format_timestamp(&start),
            ustart: format_timestamp(&ustart),
        };

        globals.insert("lava".into(), Value::Object(lava.clone()));
        if !self.announce(events, &spec, &base, &globals).await? {
            return Ok(RunOutcome::Skipped);
        }
        let cw_metrics = spec.cw_metrics.unwrap_or_else(|| self.config.get(keys::CW_METRICS_JOB));
        if cw_metrics {
            self.put_run_delay(&start, dispatched).await;
        }

        if !runners::is_runnable(&spec.job_type) {
            // The run fails as a job failure does, so its on_fail actions alert someone.
            let reason = runners::unknown_type(&spec.job_type).message;
            events.record(EventStatus::Failed, json!(reason)).await?;
            let result = json!({"error": reason, "error_data": null});
            self.actions(events, &spec, ActionKey::OnFail, 1, &base.context(&globals, Some(&result))).await?;
            return Ok(RunOutcome::Failed(result));
        }
        let run_dir = self.run_dir(scope, &message.run_id)?;
        let s3tmp = self.s3tmp(&spec.job_id, &message.run_id)?;
        let mut outcome = RunOutcome::Skipped;
        for iteration in 1..=iterations {
            lava.insert("iteration".into(), json!(iteration));
            globals.insert("lava".into(), Value::Object(lava.clone()));
            spec.globals = Some(Value::Object(globals.clone()));
            events.record(EventStatus::Running, json!(format!("Iteration {iteration}"))).await?;
            let template_context = render::context_from_json(&base.context(&globals, None));
            let ctx = self.run_context(&spec, &message.run_id, &run_dir, &s3tmp, template_context, &cancel);
            let handled = if pipeline::is_pipeline(&spec.job_type) {
                let (start, ustart) = (base.start.clone(), base.ustart.clone());
                self.pipeline(&pipeline::Parent { ctx: &ctx, message, globals: &globals, start, ustart, scope }).await
            } else {
                runners::run(&ctx).await
            };
            let last = iteration == iterations;
            match self.record_iteration(events, &spec, (iteration, last), handled, &cancel, &base, &globals).await? {
                Next::Done(done) => {
                    outcome = done;
                    break;
                }
                Next::Again(failed) => {
                    outcome = failed;
                    if delay > 0.0 {
                        tokio::time::sleep(std::time::Duration::from_secs_f64(delay)).await;
                    }
                }
            }
        }
        if cw_metrics {
            self.put_run_metrics(&spec.job_id, &outcome, &start, dispatched).await;
        }
        if scope.shared_dir.is_none() {
            let _ = tokio::fs::remove_dir_all(&run_dir).await;
        }
        Ok(outcome)
    }

    /// Records the job's `event_log` (rendered) and, for an `enabled` template, whether it
    /// renders true: `false` (recorded as skipped) when the job is not enabled.
    async fn announce(
        &self,
        events: &mut RunEvents<'_>,
        spec: &JobSpec,
        base: &TemplateBase,
        globals: &Map<String, Value>,
    ) -> Result<bool> {
        if let Some(event_log) = &spec.event_log {
            let context = render::context_from_json(&base.context(globals, None));
            let info = match self.renderer.render_value(event_log, &context) {
                Ok(v) => v,
                Err(e) => json!(format!("Error: Bad event_log: {e}")),
            };
            events.record(EventStatus::Logging, info).await?;
        }
        if let Enabled::Template(template) = spec.enabled() {
            let context = render::context_from_json(&base.context(globals, None));
            let rendered = self.renderer.render(&template, &context).unwrap_or_else(|e| format!("Error: {e}"));
            if rendered.trim().to_lowercase() != "true" {
                events.record(EventStatus::Skipped, json!(format!("Job not enabled (enabled=\"{rendered}\")"))).await?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The runner's view of one iteration.
    fn run_context<'c>(
        &'c self,
        spec: &'c JobSpec,
        run_id: &'c str,
        run_dir: &std::path::Path,
        s3tmp: &S3Location,
        template_context: minijinja::Value,
        cancel: &StopSignal,
    ) -> RunContext<'c> {
        RunContext {
            spec,
            realm: &self.realm,
            worker: &self.worker,
            run_id,
            run_dir: run_dir.to_path_buf(),
            s3tmp: s3tmp.clone(),
            dev: self.dev,
            config: &self.config,
            renderer: &self.renderer,
            template_context,
            blobs: self.blobs.as_ref(),
            connections: &self.connections,
            containers: self.containers.as_deref(),
            tasks: self.tasks.as_ref(),
            cancel: cancel.clone(),
        }
    }

    /// Records what one iteration (number, whether it is the last) came to and runs its
    /// actions: a success, a stop or the last failure ends the run; another failure goes on.
    #[allow(clippy::too_many_arguments)]
    async fn record_iteration(
        &self,
        events: &mut RunEvents<'_>,
        spec: &JobSpec,
        (iteration, last): (i64, bool),
        handled: std::result::Result<Value, Failure>,
        cancel: &StopSignal,
        base: &TemplateBase,
        globals: &Map<String, Value>,
    ) -> Result<Next> {
        match handled {
            Ok(result) => {
                // The original records a result with `error` set to null where the job's own
                // result has none, and gives its on_success actions the job's own.
                let mut recorded = result.clone();
                if let Value::Object(m) = &mut recorded {
                    m.entry("error").or_insert(Value::Null);
                }
                events.record(EventStatus::Complete, recorded.clone()).await?;
                self.actions(events, spec, ActionKey::OnSuccess, iteration, &base.context(globals, Some(&result)))
                    .await?;
                Ok(Next::Done(RunOutcome::Succeeded(recorded)))
            }
            Err(Failure { message: error, data }) => {
                let stopped = *cancel.borrow();
                if let Some(stop) = stopped {
                    let info = json!({"error": stop.reason(), "error_data": data});
                    events.record(EventStatus::Retrying, info).await?;
                    return Ok(Next::Done(RunOutcome::Cancelled(stop)));
                }
                let result = json!({"error": error, "error_data": data});
                let status = if last { EventStatus::Failed } else { EventStatus::Retrying };
                events.record(status, result.clone()).await?;
                let key = if last { ActionKey::OnFail } else { ActionKey::OnRetry };
                self.actions(events, spec, key, iteration, &base.context(globals, Some(&result))).await?;
                let failed = RunOutcome::Failed(result);
                Ok(if last { Next::Done(failed) } else { Next::Again(failed) })
            }
        }
    }

    /// Whether the run may start (`max_run_delay`, the iteration limit and delay within the
    /// realm's bounds): its iteration count and delay, or why it is rejected.
    fn admit(
        &self,
        spec: &JobSpec,
        start: &jiff::Zoned,
        dispatched: jiff::Timestamp,
    ) -> std::result::Result<(i64, f64), String> {
        if let Some(limit) = &spec.max_run_delay {
            match limit.seconds() {
                Err(e) => return Err(format!("Bad max_run_delay: {e}")),
                Ok(max) if (start.timestamp().as_second() - dispatched.as_second()) as f64 > max => {
                    return Err(format!("dispatch is more than {limit} old"));
                }
                Ok(_) => {}
            }
        }
        let max_limit = self.config.get(keys::ITERATION_MAX_LIMIT);
        let iterations = spec.iteration_limit.unwrap_or(1);
        let delay = match spec.iteration_delay.as_ref().map(|d| d.seconds()).transpose() {
            Ok(d) => d.unwrap_or(0.0),
            Err(e) => return Err(format!("Bad iteration_delay: {e}")),
        };
        let max_delay = self.config.get(keys::ITERATION_MAX_DELAY);
        if iterations > max_limit {
            return Err(format!("iteration_limit must be <= {max_limit}"));
        }
        if delay > max_delay {
            return Err(format!(
                "iteration_delay must be <= {}",
                crate::runners::process::python_seconds(std::time::Duration::from_secs_f64(max_delay))
            ));
        }
        Ok((iterations, delay))
    }

    /// The `job` a run's templates see: the spec with the run's id, times, realm and owner.
    fn job_value(&self, spec: &JobSpec, message: &WorkerMessage, start: &jiff::Zoned, ustart: &jiff::Zoned) -> Value {
        let mut job_value = spec.to_value();
        let job_map = job_value.as_object_mut().expect("a job spec is a map");
        for (k, v) in [
            ("run_id", json!(message.run_id)),
            ("ts_dispatch", json!(message.ts_dispatch)),
            ("realm", json!(self.realm.realm)),
            ("ts_start", json!(format_timestamp(start))),
            ("ts_ustart", json!(format_timestamp(ustart))),
            ("owner", json!(spec.owner.clone().unwrap_or_default())),
            ("description", json!(spec.description.clone().unwrap_or_default())),
        ] {
            job_map.insert(k.into(), v);
        }
        job_value
    }

    /// The run's directory: a pipeline's children share its own; a top-level run makes one
    /// (refused if it exists: another copy of the run may be at work).
    fn run_dir(&self, scope: &Scope, run_id: &str) -> Result<PathBuf> {
        if let Some(dir) = &scope.shared_dir {
            return Ok(dir.clone());
        }
        let dir = self.run_root.join(run_id);
        if dir.exists() {
            return Err(Error::refused("run_id", "Job temp dir already exists - possible dispatch overlap"));
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    /// The run's S3 area: `<s3_temp>/<job id>/<run id>`.
    fn s3tmp(&self, job_id: &str, run_id: &str) -> Result<S3Location> {
        let temp = S3Location::parse(&self.realm.s3_temp).map_err(|e| Error::config("s3_temp", e))?;
        let key = [temp.key.as_str(), job_id, run_id].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>();
        Ok(S3Location { bucket: temp.bucket, key: key.join("/") })
    }

    /// The time from the run's dispatch to its start (`RunDelay`).
    async fn put_run_delay(&self, start: &jiff::Zoned, dispatched: jiff::Timestamp) {
        let delay = (start.timestamp().as_millisecond() - dispatched.as_millisecond()) as f64 / 1000.0;
        self.put_metrics(
            &[Datum::new("RunDelay", self.worker_dimensions(), delay, MetricUnit::Seconds).at(dispatched)],
        )
        .await;
    }

    /// A finished run's `RunTime` and `JobFailed` metrics (none for a cancelled or skipped run).
    async fn put_run_metrics(
        &self,
        job_id: &str,
        outcome: &RunOutcome,
        start: &jiff::Zoned,
        dispatched: jiff::Timestamp,
    ) {
        let failed = match outcome {
            RunOutcome::Failed(_) => 1.0,
            RunOutcome::Succeeded(_) => 0.0,
            _ => return,
        };
        let runtime = (jiff::Timestamp::now().as_millisecond() - start.timestamp().as_millisecond()) as f64 / 1000.0;
        let job = vec![("Realm", self.realm.realm.clone()), ("Job", job_id.to_string())];
        self.put_metrics(&[
            Datum::new("RunTime", job.clone(), runtime, MetricUnit::Seconds).at(dispatched),
            Datum::new("JobFailed", job, failed, MetricUnit::None).at(dispatched),
        ])
        .await;
    }

    fn worker_dimensions(&self) -> Vec<(&'static str, String)> {
        vec![("Realm", self.realm.realm.clone()), ("Worker", self.worker.clone())]
    }

    /// Puts metrics in the realm's namespace (`CW_NAMESPACE`); whether they went. A failure is
    /// logged and the caller goes on: a CloudWatch outage does not fail jobs (the original
    /// fails the run when `RunDelay` cannot be put) nor stop the worker's reports.
    pub(crate) async fn put_metrics(&self, data: &[Datum]) -> bool {
        let namespace = self.config.get(keys::CW_NAMESPACE);
        match self.metrics.put(&namespace, data).await {
            Ok(()) => true,
            Err(e) => {
                let names: Vec<&str> = data.iter().map(|d| d.name).collect();
                tracing::warn!(error = %e, metrics = ?names, "Cannot put CloudWatch metrics.");
                false
            }
        }
    }

    /// Runs the job's (else the realm's) list for `key`; a failure becomes `action_failed`.
    async fn actions(
        &self,
        events: &mut RunEvents<'_>,
        spec: &JobSpec,
        key: ActionKey,
        iteration: i64,
        context: &Map<String, Value>,
    ) -> Result<()> {
        let list = match spec.action_list(key).as_ref().or(self.realm.action_list(key).as_ref()) {
            None => return Ok(()),
            Some(Value::Array(items)) if items.is_empty() => return Ok(()),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                events.record(EventStatus::ActionFailed, json!(format!("{key}: action must be a list"))).await?;
                return Ok(());
            }
        };
        let request = ActionRequest {
            key,
            actions: list,
            job_id: events.message.job_id.clone(),
            run_id: events.message.run_id.clone(),
            iteration,
            context: context.clone(),
            context_s3: None,
        };
        if let Err(e) = self.actions.run_actions(request).await {
            events.record(EventStatus::ActionFailed, json!(format!("{key} action: {e}"))).await?;
        }
        Ok(())
    }

    /// The job's state defaults, replaced by current values from the state table.
    async fn import_state(&self, spec: &JobSpec) -> Result<Map<String, Value>> {
        self.state.import(&spec.state_map()).await
    }
}

/// The events of one run. `starting` is held and written together with the run's next event
/// in one write (the log and every timestamp are the same; a run costs one write fewer), unless
/// a step that makes round trips of its own comes first.
struct RunEvents<'a> {
    recorder: &'a EventRecorder,
    message: &'a WorkerMessage,
    held: Option<crate::model::EventLogEntry>,
    holder: Option<String>,
}

impl RunEvents<'_> {
    /// Stamps an event now and holds it for the next write; returns its time.
    fn hold(&mut self, status: EventStatus, info: Value) -> jiff::Zoned {
        let (entry, at) = self.recorder.entry(status, info);
        self.held = Some(entry);
        at
    }

    /// Writes an event, after the held one if any; returns its time.
    async fn record(&mut self, status: EventStatus, info: Value) -> Result<jiff::Zoned> {
        let (entry, at) = self.recorder.entry(status, info);
        let entries = self.held.take().into_iter().chain([entry]).collect();
        self.write(entries).await?;
        Ok(at)
    }

    /// Writes the held event, if any.
    async fn flush(&mut self) -> Result<()> {
        match self.held.take() {
            Some(entry) => self.write(vec![entry]).await,
            None => Ok(()),
        }
    }

    /// Writes `entries`, trying again while the table is unreachable (up to
    /// [`EVENT_WRITE_PATIENCE`]): a run whose job has run must not lose its final event to a
    /// network blip, or its message would come back and run the job again.
    async fn write(&self, entries: Vec<crate::model::EventLogEntry>) -> Result<()> {
        let m = self.message;
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_secs(1);
        let id = crate::recorder::new_write_id();
        loop {
            let written = self.recorder.write_once(
                &m.job_id,
                &m.run_id,
                &m.ts_dispatch,
                entries.clone(),
                &id,
                self.holder.as_deref(),
            );
            match written.await {
                Err(e) if e.retry() == crate::error::Retry::Transient && started.elapsed() < EVENT_WRITE_PATIENCE => {
                    tracing::warn!(error = %e, retry_in = ?pause, "Cannot write the run's event; trying again.");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(10));
                }
                written => return written,
            }
        }
    }
}

/// How long a run keeps trying to write an event while the events table cannot be reached.
pub const EVENT_WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// A request body over this many bytes sends its render variables through S3 instead (SQS
/// takes at most 256 KiB).
pub const ACTION_MESSAGE_LIMIT: usize = 200_000;

/// Sends action lists to the realm's actions queue, for the actions function to run.
pub struct QueuedActions {
    queue: Arc<dyn crate::ports::WorkQueue>,
    queue_url: String,
    blobs: Arc<dyn BlobStore>,
    temp: S3Location,
    encryption: crate::ports::Encryption,
}

impl QueuedActions {
    /// Sends to the queue at `queue_url`; large render contexts go under `temp` in S3.
    pub fn new(
        queue: Arc<dyn crate::ports::WorkQueue>,
        queue_url: String,
        blobs: Arc<dyn BlobStore>,
        temp: S3Location,
        encryption: crate::ports::Encryption,
    ) -> Self {
        QueuedActions { queue, queue_url, blobs, temp, encryption }
    }
}

#[async_trait::async_trait]
impl ActionSink for QueuedActions {
    async fn run_actions(&self, mut request: ActionRequest) -> std::result::Result<(), ActionFailure> {
        let unwritable = |e: serde_json::Error| ActionFailure::from(Error::json("the action request", e));
        let mut body = serde_json::to_string(&request).map_err(unwritable)?;
        if body.len() > ACTION_MESSAGE_LIMIT {
            let key = [
                self.temp.key.as_str(),
                &request.job_id,
                &request.run_id,
                &format!("actions-{}-{}.json", request.key, request.iteration),
            ]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
            let context = serde_json::to_vec(&request.context).map_err(unwritable)?;
            self.blobs
                .put_object(&self.temp.bucket, &key, context, &self.encryption)
                .await
                .map_err(|e| ActionFailure::from_error("cannot store the render context in S3: ", &e))?;
            let job = request.context.get("job").and_then(|j| j.get("ts_dispatch")).cloned();
            request.context = Map::new();
            if let Some(ts) = job {
                request.context.insert("job".into(), json!({ "ts_dispatch": ts }));
            }
            request.context_s3 = Some(format!("s3://{}/{key}", self.temp.bucket));
            body = serde_json::to_string(&request).map_err(unwritable)?;
        }
        let message = crate::ports::OutgoingMessage { body, ..Default::default() };
        self.queue
            .send(&self.queue_url, &message)
            .await
            .map(|_| ())
            .map_err(|e| ActionFailure::from_error("cannot queue the actions: ", &e))
    }
}

mod pipeline;
/// What every template of a run sees but its globals and result: the job (with the run's id
/// and times), the realm, the imported state, the start times.
struct TemplateBase {
    job: Value,
    realm: Value,
    state: Map<String, Value>,
    start: String,
    ustart: String,
}

impl TemplateBase {
    /// The render variables with `globals` (also as `job.globals`) and, for actions, `result`.
    fn context(&self, globals: &Map<String, Value>, result: Option<&Value>) -> Map<String, Value> {
        let mut job = self.job.clone();
        job["globals"] = Value::Object(globals.clone());
        let mut c = Map::new();
        c.insert("job".into(), job);
        c.insert("realm".into(), self.realm.clone());
        c.insert("globals".into(), Value::Object(globals.clone()));
        c.insert("state".into(), Value::Object(self.state.clone()));
        c.insert("start".into(), json!(self.start));
        c.insert("ustart".into(), json!(self.ustart));
        if let Some(result) = result {
            c.insert("result".into(), result.clone());
        }
        c
    }
}

/// What an iteration's result makes of the run.
enum Next {
    /// The run ends with this outcome.
    Done(RunOutcome),
    /// A failure with iterations left: the run goes on (this is its outcome so far).
    Again(RunOutcome),
}

/// `globals.lava` of a top-level run: the master and parent job and start times (a pipeline's
/// child keeps its parent's, which come in its globals).
fn lava_globals(
    globals: &Map<String, Value>,
    job_id: &str,
    start: &jiff::Zoned,
    ustart: &jiff::Zoned,
) -> Map<String, Value> {
    let mut lava = globals.get("lava").and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in [
        ("master_job_id", json!(job_id)),
        ("parent_job_id", json!(job_id)),
        ("master_start", json!(format_timestamp(start))),
        ("parent_start", json!(format_timestamp(start))),
        ("master_ustart", json!(format_timestamp(ustart))),
        ("parent_ustart", json!(format_timestamp(ustart))),
    ] {
        lava.entry(k.to_string()).or_insert(v);
    }
    lava
}

#[cfg(test)]
mod tests;
