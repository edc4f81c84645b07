//! Orchestration jobs. `dispatch` sends runs of other jobs to their queues; `chain`, `dag` and
//! `foreach` run child jobs in this process under the parent's run id, each child through the
//! whole run lifecycle (its own events item, enabled check, iterations and actions), sharing
//! the parent's run directory.
//!
//! Beyond the original: each child that ends is recorded in the state table
//! (`lava.run/<run_id>|<step>…`), so a parent run taken over after a crash skips the children
//! an earlier attempt completed and says so in a `logging` event.

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::{JobRunner, RunOutcome, Scope};
use crate::config::keys;
use crate::model::pipeline::{self, ChainParams, DagParams, DispatchParams, ForeachParams, Generator};
use crate::model::{EventStatus, JobParameters, JobSpec, JobType, StateType, WorkerMessage};
use crate::runners::{Failure, Outcome, RunContext};
use crate::state::NewState;

/// The parent run, as its pipeline handler sees it.
pub(super) struct Parent<'a> {
    /// The handler context (spec with the iteration's globals, run directory, renderer, …).
    pub ctx: &'a RunContext<'a>,
    /// The parent's message (run id, dispatch time).
    pub message: &'a WorkerMessage,
    /// The parent's globals, `globals.lava` included.
    pub globals: &'a Map<String, Value>,
    /// The parent's start, local and UTC.
    pub start: String,
    /// The parent's start in UTC.
    pub ustart: String,
    /// Where the parent sits.
    pub scope: &'a Scope,
}

/// Why a child could not be run.
enum LoadError {
    /// No such job, or not a valid one: the reason.
    Unreadable(String),
    /// It runs on another worker: the whole message.
    Mismatch(String),
}

/// How a child ended, as a pipeline counts it.
enum ChildEnd {
    /// Completed, or skipped (not enabled): counts as done.
    Done,
    /// Failed or rejected: the error.
    Failed(String),
}

/// How long a child's completion record is kept (capped by `STATE_MAX_TTL`).
const STEP_RECORD_TTL: f64 = 7.0 * 86_400.0;

/// A dag child's run and its id.
type BoxedChild<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (String, Result<ChildEnd, Failure>)> + Send + 'a>>;

fn failure(message: impl Into<String>, data: Value) -> Failure {
    Failure { message: message.into(), data: Some(data) }
}

impl JobRunner {
    /// Runs the parent's handler: one of the four orchestration types.
    pub(super) async fn pipeline(&self, parent: &Parent<'_>) -> Outcome {
        let typed =
            parent.ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
        match typed {
            JobParameters::Dispatch(p) => self.dispatch_jobs(parent, &p).await,
            JobParameters::Chain(p) => self.chain(parent, &p).await,
            JobParameters::Dag(p) => self.dag(parent, &p).await,
            JobParameters::Foreach(p) => self.foreach(parent, &p).await,
            _ => Err(Failure::message(format!("{}: not an orchestration job", parent.ctx.spec.job_type))),
        }
    }

    /// `dispatch`: a new run of every listed job, with this job's globals.
    async fn dispatch_jobs(&self, parent: &Parent<'_>, p: &DispatchParams) -> Outcome {
        let spec = parent.ctx.spec;
        let prefix = p.job_prefix.clone().unwrap_or_default();
        let ids: Vec<String> = pipeline::job_list(payload(spec))
            .map_err(Failure::message)?
            .into_iter()
            .map(|id| format!("{prefix}{id}"))
            .collect();
        let parameters = if p.jinja.is_none_or(|f| f.0) {
            match self.renderer.render_value(&Value::Object(p.parameters.clone()), &parent.ctx.template_context) {
                Ok(Value::Object(rendered)) => rendered,
                Ok(_) => unreachable!("a rendered map is a map"),
                Err(e) => return Err(Failure::message(format!("Cannot render parameters - {e}"))),
            }
        } else {
            p.parameters.clone()
        };
        let limits = self.config.limits();
        let delay_seconds = match p.delay.as_ref().map(|d| d.seconds()).transpose() {
            Ok(None) => 0,
            Ok(Some(s)) if (0.0..=limits.max_delay).contains(&s) => s as u32,
            Ok(Some(s)) => {
                return Err(Failure::message(format!(
                    "Bad delay: {s} seconds: Must be between 0 and {} minutes",
                    limits.max_delay / 60.0
                )));
            }
            Err(e) => return Err(Failure::message(format!("Bad delay: {e}"))),
        };
        let globals = self.child_globals(parent, Map::new());
        let mut attempted = Vec::new();
        let mut resumed = Vec::new();
        for (index, id) in ids.into_iter().enumerate() {
            attempted.push(id.clone());
            // As the original, the failure's data is the result so far with the error.
            let partial = |error: &str| json!({"exit_status": 1, "jobs": attempted, "error": error});
            if id == spec.job_id {
                let error = format!("{id}: Circular dispatch not permitted");
                return Err(failure(error.clone(), partial(&error)));
            }
            // Dispatched by an earlier attempt of this run: not sent twice.
            let step = index.to_string();
            if self.step_record(parent, &step).await.is_some() {
                resumed.push(id);
                continue;
            }
            let request = crate::dispatch::DispatchRequest {
                job_id: id.clone(),
                parameters: parameters.clone(),
                globals: globals.clone(),
                delay_seconds,
                worker: None,
                run_id: None,
            };
            if let Err(e) = crate::dispatch::dispatch(&self.catalog, self.queues.as_ref(), &request, &limits).await {
                let realm = &self.realm.realm;
                self.say_resumed(parent, &resumed).await;
                // The original's wording: a job that is not in the table is "No such job".
                let error = match e {
                    crate::Error::NotFound { .. } => format!("{id}: No such job"),
                    e => format!("{id}: Cannot dispatch {id}@{realm} - {e}"),
                };
                return Err(failure(error.clone(), partial(&error)));
            }
            self.record_step(parent, &format!("{}|{step}", parent.scope.path), &id, &ChildEnd::Done).await;
        }
        self.say_resumed(parent, &resumed).await;
        Ok(json!({"exit_status": 0, "jobs": attempted}))
    }

    /// `chain`: the children one after another.
    async fn chain(&self, parent: &Parent<'_>, p: &ChainParams) -> Outcome {
        let prefix = p.job_prefix.clone().unwrap_or_default();
        let ids: Vec<String> = pipeline::job_list(payload(parent.ctx.spec))
            .map_err(Failure::message)?
            .into_iter()
            .map(|id| format!("{prefix}{id}"))
            .collect();
        if ids.is_empty() {
            return Err(Failure::message("Job chain is empty"));
        }
        let first = match &p.start {
            None => 0,
            Some(start) => {
                let start = format!("{prefix}{start}");
                ids.iter().position(|id| *id == start).ok_or_else(|| {
                    Failure::message(format!("Requested start job {start} is not present in the chain"))
                })?
            }
        };
        let (mut jobs, mut failed) = (Vec::new(), Vec::new());
        let mut resumed = Vec::new();
        for (index, id) in ids.iter().enumerate().skip(first) {
            let step = index.to_string();
            let end = match self.step_record(parent, &step).await {
                Some(end) => {
                    resumed.push(id.clone());
                    end
                }
                None => {
                    let child =
                        self.load_child(parent, id).await.map_err(|e| Self::load_failure(id, e, &jobs, &failed))?;
                    let globals = self.child_globals(parent, Map::new());
                    self.run_child(parent, &child, globals, &step).await?
                }
            };
            match end {
                ChildEnd::Done => jobs.push(id.clone()),
                ChildEnd::Failed(error) => {
                    failed.push(id.clone());
                    if !p.can_fail.matches(id) {
                        self.say_resumed(parent, &resumed).await;
                        let message = format!("Job {id}: {error}");
                        let data = json!({"exit_status": 1, "jobs": jobs, "failed_jobs": failed, "error": message});
                        return Err(failure(message, data));
                    }
                }
            }
        }
        self.say_resumed(parent, &resumed).await;
        Ok(json!({"exit_status": 0, "jobs": jobs, "failed_jobs": failed}))
    }

    /// `dag`: the children in waves of jobs whose predecessors are all done, up to `workers`
    /// at once; a wave finishes whole before the next starts.
    async fn dag(&self, parent: &Parent<'_>, p: &DagParams) -> Outcome {
        let prefix = p.job_prefix.clone().unwrap_or_default();
        let graph = pipeline::dag_graph(payload(parent.ctx.spec), &prefix).map_err(Failure::message)?;
        let waves = pipeline::dag_waves(&graph).map_err(Failure::message)?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let configured = |value: i64, default: i64| if value > 0 { value } else { default };
        let most = configured(self.config.get(keys::DAG_MAX_WORKERS), 4 * cpus);
        let wanted = p.workers.unwrap_or_else(|| configured(self.config.get(keys::DAG_WORKERS), cpus));
        if wanted > most {
            tracing::warn!(workers = wanted, max = most, "dag workers above DAG_MAX_WORKERS: clamped.");
        }
        let workers = wanted.clamp(1, most.max(1)) as usize;
        let (mut jobs, mut failed) = (Vec::new(), Vec::new());
        let mut resumed = Vec::new();
        for wave in waves {
            let mut ready = Vec::new();
            for id in &wave {
                match self.step_record(parent, id).await {
                    Some(ChildEnd::Done) => {
                        resumed.push(id.clone());
                        jobs.push(id.clone());
                    }
                    Some(ChildEnd::Failed(_)) => {
                        resumed.push(id.clone());
                        failed.push(id.clone());
                    }
                    None => {
                        let child =
                            self.load_child(parent, id).await.map_err(|e| Self::load_failure(id, e, &jobs, &failed))?;
                        ready.push((id.clone(), child));
                    }
                }
            }
            let mut runs: Vec<BoxedChild<'_>> = Vec::new();
            for (id, child) in &ready {
                let globals = self.child_globals(parent, Map::new());
                runs.push(Box::pin(async move { (id.clone(), self.run_child(parent, child, globals, id).await) }));
            }
            let ended: Vec<(String, Result<ChildEnd, Failure>)> =
                futures_util::stream::iter(runs).buffer_unordered(workers).collect().await;
            let mut stop = None;
            for (id, end) in ended {
                match end {
                    Err(f) => stop = stop.or(Some(f)),
                    Ok(ChildEnd::Done) => jobs.push(id),
                    Ok(ChildEnd::Failed(error)) => {
                        failed.push(id.clone());
                        if !p.can_fail.matches(&id) && stop.is_none() {
                            stop = Some(failure(format!("Job {id}: {error}"), Value::Null));
                        }
                    }
                }
            }
            if let Some(mut f) = stop {
                if f.data == Some(Value::Null) {
                    f.data = Some(json!({"exit_status": 1, "jobs": jobs, "failed_jobs": failed, "error": f.message}));
                }
                self.say_resumed(parent, &resumed).await;
                return Err(f);
            }
        }
        self.say_resumed(parent, &resumed).await;
        Ok(json!({"exit_status": 0, "jobs": jobs, "failed_jobs": failed}))
    }

    /// `foreach`: the child once per generated value set.
    async fn foreach(&self, parent: &Parent<'_>, p: &ForeachParams) -> Outcome {
        let id = payload(parent.ctx.spec).as_str().ok_or_else(|| Failure::message("Bad payload: must be string"))?;
        let child = self.load_child(parent, id).await.map_err(|e| {
            let message = match e {
                LoadError::Unreadable(e) => format!("Job {id}: {e}"),
                LoadError::Mismatch(m) => m,
            };
            failure(message.clone(), json!({"exit_status": 1, "error": message}))
        })?;
        let most = self.config.get(keys::FOREACH_MAX_LIMIT);
        let limit = p.limit.unwrap_or_else(|| self.config.get(keys::FOREACH_LIMIT));
        if limit > most {
            return Err(Failure::message(format!("foreach limit of {limit} exceeds realm limit of {most}")));
        }
        let generator = Generator::parse(&p.foreach).map_err(Failure::message)?;
        let render = p.jinja.is_none_or(|f| f.0);
        let values = self.generate(parent, &generator, render, limit.max(0) as usize).await?;
        if values.len() as i64 > limit {
            let message = format!("foreach value list exceeds limit of {limit}");
            return Err(failure(message.clone(), json!({"exit_status": 1, "error": message})));
        }
        for set in &values {
            pipeline::check_foreach_keys(set).map_err(Failure::message)?;
        }
        let can_fail = p.can_fail.is_some_and(|f| f.0);
        let (mut completed, mut failed_indexes) = (0, Vec::new());
        let mut resumed = Vec::new();
        for (index, set) in values.iter().enumerate() {
            let step = index.to_string();
            let end = match self.step_record(parent, &step).await {
                Some(end) => {
                    resumed.push(format!("{id}[{index}]"));
                    end
                }
                None => {
                    let mut extra = set.clone();
                    extra.insert("lava".into(), json!({"foreach_index": index}));
                    let globals = self.child_globals(parent, extra);
                    self.run_child(parent, &child, globals, &step).await?
                }
            };
            match end {
                ChildEnd::Done => completed += 1,
                ChildEnd::Failed(error) => {
                    failed_indexes.push(index);
                    if !can_fail {
                        self.say_resumed(parent, &resumed).await;
                        let message = format!("Job {id}: Index {index}: {error}");
                        let data = json!({"exit_status": 1, "limit": limit, "foreach_len": values.len(),
                            "jobs_completed": completed, "failed_indexes": failed_indexes, "error": message});
                        return Err(failure(message, data));
                    }
                }
            }
        }
        self.say_resumed(parent, &resumed).await;
        Ok(json!({"exit_status": 0, "limit": limit, "foreach_len": values.len(), "jobs_completed": completed,
            "failed_indexes": failed_indexes}))
    }

    /// Loads and checks a child's spec: it must exist, be valid and run on this worker.
    async fn load_child(&self, parent: &Parent<'_>, id: &str) -> Result<JobSpec, LoadError> {
        let child = self.catalog.job(id).await.map_err(|e| match e {
            crate::Error::NotFound { .. } => LoadError::Unreadable("No such job".into()),
            e => LoadError::Unreadable(format!("Bad job record: {e}")),
        })?;
        child.validate(&self.config.limits()).map_err(|e| LoadError::Unreadable(format!("Bad job record: {e}")))?;
        if child.worker != parent.ctx.spec.worker {
            return Err(LoadError::Mismatch(format!(
                "Job {id}: Worker mismatch: Expected {} but got {}",
                parent.ctx.spec.worker, child.worker
            )));
        }
        Ok(child)
    }

    /// A chain's or dag's failure to load a child, as the original words it: the message names
    /// the child, the result carries the error, the child counted among the failed.
    fn load_failure(id: &str, error: LoadError, jobs: &[String], failed: &[String]) -> Failure {
        let (message, error) = match error {
            LoadError::Unreadable(e) => (format!("{id}: {e}"), format!("Job {id} failed: {e}")),
            LoadError::Mismatch(m) => (m.clone(), m),
        };
        let mut failed = failed.to_vec();
        failed.push(id.to_string());
        failure(message, json!({"exit_status": 1, "jobs": jobs, "failed_jobs": failed, "error": error}))
    }

    /// A child's globals: the parent's, then `extra` over them (a foreach value set), with
    /// `globals.lava`'s parent fields naming the parent (master fields kept).
    fn child_globals(&self, parent: &Parent<'_>, extra: Map<String, Value>) -> Map<String, Value> {
        let mut globals = parent.globals.clone();
        let mut lava = globals.get("lava").and_then(Value::as_object).cloned().unwrap_or_default();
        lava.remove("iteration");
        lava.insert("parent_job_id".into(), json!(parent.ctx.spec.job_id));
        lava.insert("parent_start".into(), json!(parent.start));
        lava.insert("parent_ustart".into(), json!(parent.ustart));
        for (k, v) in extra {
            match (k.as_str(), v) {
                ("lava", Value::Object(more)) => lava.extend(more),
                (_, v) => {
                    globals.insert(k, v);
                }
            }
        }
        globals.insert("lava".into(), Value::Object(lava));
        globals
    }

    /// Runs one child through the whole lifecycle under the parent's run id and records how it
    /// ended. A stop (shutdown, lost lease) is the parent's failure, which its run turns into
    /// the same stop.
    async fn run_child(
        &self,
        parent: &Parent<'_>,
        child: &JobSpec,
        globals: Map<String, Value>,
        step: &str,
    ) -> Result<ChildEnd, Failure> {
        let message = WorkerMessage {
            realm: parent.message.realm.clone(),
            worker: child.worker.clone(),
            job_id: child.job_id.clone(),
            run_id: parent.message.run_id.clone(),
            ts_dispatch: parent.message.ts_dispatch.clone(),
            parameters: None,
            globals: Some(globals),
        };
        let scope = Scope {
            shared_dir: Some(parent.ctx.run_dir.clone()),
            path: format!("{}|{step}", parent.scope.path),
            resumed: parent.scope.resumed,
            holder: None,
        };
        let record = scope.path.clone();
        let end = match self.run_scoped(&message, child, parent.ctx.cancel.clone(), scope).await {
            Ok(RunOutcome::Succeeded(_) | RunOutcome::Skipped) => ChildEnd::Done,
            Ok(RunOutcome::Failed(result)) => {
                ChildEnd::Failed(result.get("error").and_then(Value::as_str).unwrap_or_default().to_string())
            }
            Ok(RunOutcome::Rejected(reason)) => ChildEnd::Failed(reason),
            Ok(RunOutcome::Cancelled(stop)) => return Err(Failure::message(stop.reason())),
            Err(e) => return Err(Failure::message(format!("Job {}: {e}", child.job_id))),
        };
        self.record_step(parent, &record, &child.job_id, &end).await;
        Ok(end)
    }

    /// Records how a step ended (`record` is its path under the run), for a takeover to skip it.
    async fn record_step(&self, parent: &Parent<'_>, record: &str, job_id: &str, end: &ChildEnd) {
        let (status, error) = match end {
            ChildEnd::Done => ("done", Value::Null),
            ChildEnd::Failed(error) => ("failed", json!(error)),
        };
        let marker = NewState {
            state_id: format!("lava.run/{}{record}", parent.message.run_id),
            value: json!({"job_id": job_id, "status": status, "error": error}),
            state_type: StateType::Json,
            ttl_seconds: Some(STEP_RECORD_TTL),
            publisher: Some(format!("lava {}", parent.ctx.spec.job_id)),
            kms_key: None,
        };
        if let Err(e) = self.state.put_reserved(&marker).await {
            tracing::warn!(error = %e, child = %job_id, "Cannot record the step's end; a takeover would do it again.");
        }
    }

    /// How a step ended in an earlier attempt of this run, if the run was started before and
    /// the step was recorded.
    async fn step_record(&self, parent: &Parent<'_>, step: &str) -> Option<ChildEnd> {
        if !parent.scope.resumed {
            return None;
        }
        let id = format!("lava.run/{}{}|{step}", parent.message.run_id, parent.scope.path);
        match self.state.get(&id).await {
            Ok(Some((_, value))) => Some(match value.get("status").and_then(Value::as_str) {
                Some("done") => ChildEnd::Done,
                _ => ChildEnd::Failed(value.get("error").and_then(Value::as_str).unwrap_or_default().to_string()),
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, step, "Cannot read the step's record; running it.");
                None
            }
        }
    }

    /// Says in the parent's events which children an earlier attempt had completed.
    async fn say_resumed(&self, parent: &Parent<'_>, resumed: &[String]) {
        if resumed.is_empty() {
            return;
        }
        let m = parent.message;
        let info = json!(format!(
            "Resumed after an earlier attempt: {} already ended and not run again: {}",
            resumed.len(),
            resumed.join(", ")
        ));
        if let Err(e) =
            self.recorder.record(&parent.ctx.spec.job_id, &m.run_id, &m.ts_dispatch, EventStatus::Logging, info).await
        {
            tracing::warn!(error = %e, "Cannot record that the run resumed.");
        }
    }

    /// The value sets of a foreach generator, at most `limit` + 1 of them.
    async fn generate(
        &self,
        parent: &Parent<'_>,
        generator: &Generator,
        render: bool,
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, Failure> {
        let rendered = |text: &str| -> Result<String, Failure> {
            if render {
                self.renderer
                    .render(text, &parent.ctx.template_context)
                    .map_err(|e| Failure::message(format!("foreach: cannot render {text:?}: {e}")))
            } else {
                Ok(text.to_string())
            }
        };
        let most = limit + 1;
        Ok(match generator {
            Generator::Range { start, stop, step, name } => Generator::range_values(*start, *stop, *step, limit)
                .into_iter()
                .map(|i| match name {
                    Some(name) => Map::from_iter([(name.clone(), json!(i))]),
                    None => Map::new(),
                })
                .collect(),
            Generator::Inline(values) => values.iter().take(most).cloned().collect(),
            Generator::Jsonl(filename) => {
                let name = rendered(filename)?;
                let text = self.read_text(&name).await?;
                let mut sets = Vec::new();
                for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                    let set: Map<String, Value> = serde_json::from_str(line)
                        .map_err(|e| Failure::message(format!("{name}: line {}: {e}", n + 1)))?;
                    sets.push(set);
                    if sets.len() == most {
                        break;
                    }
                }
                sets
            }
            Generator::Csv(filename) => {
                let name = rendered(filename)?;
                let text = self.read_text(&name).await?;
                let mut rows = crate::sql::csv::parse(&text).map_err(|e| Failure::message(format!("{name}: {e}")))?;
                if rows.is_empty() {
                    return Ok(vec![]);
                }
                let header = rows.remove(0);
                rows.into_iter()
                    .filter(|row| !row.is_empty())
                    .take(most)
                    .map(|row| {
                        let mut fields = row.into_iter().map(Value::String);
                        // As Python's DictReader: a short row's missing fields are None.
                        header.iter().map(|name| (name.clone(), fields.next().unwrap_or(Value::Null))).collect()
                    })
                    .collect()
            }
            Generator::S3List { bucket, prefix, globs } => {
                let bucket = rendered(bucket)?;
                let prefix = rendered(prefix)?;
                let listing = self
                    .blobs
                    .list_objects(&bucket, &prefix, None)
                    .await
                    .map_err(|e| Failure::message(format!("foreach s3list: s3://{bucket}/{prefix}: {e}")))?;
                listing
                    .objects
                    .into_iter()
                    .filter(|o| globs.is_empty() || globs.iter().any(|g| crate::model::values::fnmatch(g, &o.key)))
                    .take(most)
                    .map(|o| {
                        let object = json!({"Bucket": bucket, "Key": o.key, "Size": o.size, "LastModified": o.last_modified,
                            "ETag": o.etag, "StorageClass": o.storage_class});
                        Map::from_iter([("s3obj".to_string(), object)])
                    })
                    .collect()
            }
            Generator::Query { conn_id, query } => self.query_rows(parent, conn_id, query, most).await?,
        })
    }

    /// A local file's or an `s3://` object's text.
    async fn read_text(&self, name: &str) -> Result<String, Failure> {
        let bytes = match name.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) {
            Some((bucket, key)) => {
                self.blobs.get_object(bucket, key).await.map_err(|e| Failure::message(format!("{name}: {e}")))?
            }
            None => tokio::fs::read(name).await.map_err(|e| Failure::message(format!("{name}: {e}")))?,
        };
        String::from_utf8(bytes).map_err(|_| Failure::message(format!("{name}: not UTF-8 text")))
    }

    /// The rows of a query on a connection, as maps keyed by column name.
    #[cfg(feature = "sql")]
    async fn query_rows(
        &self,
        parent: &Parent<'_>,
        conn_id: &str,
        query: &str,
        most: usize,
    ) -> Result<Vec<Map<String, Value>>, Failure> {
        use crate::sql::csv::{Field, Kind};
        use crate::sql::driver::RowSink;
        struct Rows {
            columns: Vec<String>,
            rows: Vec<Map<String, Value>>,
            most: usize,
        }
        #[async_trait::async_trait]
        impl RowSink for Rows {
            async fn columns(&mut self, names: &[String]) -> crate::Result<()> {
                self.columns = names.to_vec();
                Ok(())
            }
            async fn row(&mut self, fields: Vec<Field>) -> crate::Result<()> {
                if self.rows.len() < self.most {
                    let value = |f: Field| match (f.text, f.kind) {
                        (None, _) => Value::Null,
                        (Some(t), Kind::Number | Kind::Decimal) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
                        (Some(t), Kind::Bool) => Value::Bool(t == "True"),
                        (Some(t), Kind::Json) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
                        (Some(t), _) => Value::String(t),
                    };
                    self.rows.push(self.columns.iter().cloned().zip(fields.into_iter().map(value)).collect());
                }
                Ok(())
            }
        }
        let db = self.connections.database(conn_id).await?;
        let mut session = parent.ctx.connect_sql(&db).await?;
        let mut sink = Rows { columns: vec![], rows: vec![], most };
        let ran = session.run(query, &mut sink).await;
        let closed = session.close().await;
        ran.map_err(|e| Failure::message(format!("foreach query on {conn_id}: {e}")))?;
        closed?;
        Ok(sink.rows)
    }

    /// Without SQL support in this build, a query generator cannot run.
    #[cfg(not(feature = "sql"))]
    async fn query_rows(
        &self,
        _parent: &Parent<'_>,
        conn_id: &str,
        _query: &str,
        _most: usize,
    ) -> Result<Vec<Map<String, Value>>, Failure> {
        Err(Failure::message(format!("foreach query on {conn_id}: this worker is built without SQL support")))
    }
}

fn payload(spec: &JobSpec) -> &Value {
    spec.payload.as_ref().unwrap_or(&Value::Null)
}

/// The types this module runs.
pub(super) fn is_pipeline(job_type: &JobType) -> bool {
    matches!(job_type, JobType::Chain | JobType::Dag | JobType::Foreach | JobType::Dispatch)
}
