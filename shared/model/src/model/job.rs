//! Job specifications: items of the `lava.<realm>.jobs` table.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::ActionKey;
use super::action::validate_action_lists;
use super::job_type::JobType;
use super::limits::{Limits, duration_spec_text};
use super::params::{JobParameters, validate_payload};
use super::schedule::validate_schedule;
use super::validation::{
    Report, ValidationError, ValidationErrors, from_value, is_extension_key, is_reserved_name, kind_of,
};
use super::values::DurationSpec;

/// The job fields the original knows; anything else (other than `x-*`) only earns a warning
/// (`lava schema`, strict as the original's JSON Schema, fails it).
pub const KNOWN_FIELDS: &[&str] = &[
    "job_id",
    "type",
    "worker",
    "payload",
    "description",
    "owner",
    "enabled",
    "dispatcher",
    "schedule",
    "parameters",
    "globals",
    "state",
    "event_log",
    "iteration_limit",
    "iteration_delay",
    "max_run_delay",
    "max_tries",
    "cw_metrics",
    "on_success",
    "on_fail",
    "on_retry",
];

/// A job specification as stored in the jobs table. Unknown fields are kept (and round-trip).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Unique id within the realm; may contain `/`.
    pub job_id: String,
    /// Job type (handler name); an unknown name is kept as [`JobType::Unknown`].
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The worker fleet allowed to run it.
    pub worker: String,
    /// Type-specific payload; the attribute must exist but may be null.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Owner; exported to executables as `LAVA_OWNER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Boolean, or a Jinja string rendered at run time (absent means disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Value>,
    /// The dispatcher whose schedule includes this job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatcher: Option<String>,
    /// Cron string, scheduling object, or a list of both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Value>,
    /// Type-specific parameters (null means empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// User globals for Jinja; names must not start with `lava`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals: Option<Value>,
    /// `state_id` → default value, replaced at run time by the state table's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// Rendered and written as a `logging` event before the first iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_log: Option<Value>,
    /// Attempts per run (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration_limit: Option<i64>,
    /// Sleep between attempts (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration_delay: Option<DurationSpec>,
    /// Reject a run whose start is later than this after dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_delay: Option<DurationSpec>,
    /// Discard a redelivered message received more than this many times (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tries: Option<i64>,
    /// Per-job CloudWatch metrics switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cw_metrics: Option<bool>,
    /// Actions after success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Value>,
    /// Actions after the final failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<Value>,
    /// Actions after each failed attempt that will be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_retry: Option<Value>,
    /// `x-*` attributes and anything else the original does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Distinguishes an attribute that is present but null from one that is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// How the `enabled` field decides whether a run goes ahead.
#[derive(Debug, Clone, PartialEq)]
pub enum Enabled {
    /// A boolean (absent counts as `false`).
    Static(bool),
    /// A Jinja template: the run goes ahead iff it renders to `true` (trimmed, any case).
    Template(String),
    /// Any other value (e.g. a number): neither true nor false, so the job runs.
    Other,
}

impl JobSpec {
    /// Reads a job from a JSON value (a jobs-table item, or a file's content), naming the field
    /// that has the wrong type.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let id = value.get("job_id").and_then(Value::as_str).unwrap_or("?");
        from_value(value).map_err(|e| {
            let path = if e.path.is_empty() { format!("jobs[{id}]") } else { format!("jobs[{id}].{}", e.path) };
            ValidationErrors(vec![ValidationError { path, reason: e.reason }])
        })
    }

    /// The job as a JSON value (a jobs-table item).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a job spec always serialises")
    }

    /// How `enabled` behaves at run time.
    pub fn enabled(&self) -> Enabled {
        match &self.enabled {
            None | Some(Value::Null) => Enabled::Static(false),
            Some(Value::Bool(b)) => Enabled::Static(*b),
            Some(Value::String(s)) => Enabled::Template(s.clone()),
            Some(_) => Enabled::Other,
        }
    }

    /// The parameters map (null or absent is empty).
    pub fn parameters_map(&self) -> Map<String, Value> {
        as_map(&self.parameters)
    }

    /// The globals map (null or absent is empty).
    pub fn globals_map(&self) -> Map<String, Value> {
        as_map(&self.globals)
    }

    /// The state defaults map (null or absent is empty).
    pub fn state_map(&self) -> Map<String, Value> {
        as_map(&self.state)
    }

    /// The job's own action list for `key`, if it has one.
    pub fn action_list(&self, key: ActionKey) -> &Option<Value> {
        match key {
            ActionKey::OnSuccess => &self.on_success,
            ActionKey::OnRetry => &self.on_retry,
            ActionKey::OnFail => &self.on_fail,
        }
    }

    /// The typed parameters for this job's type.
    pub fn typed_parameters(&self) -> Result<JobParameters, String> {
        JobParameters::parse(&self.job_type, &self.parameters_map())
    }

    /// The connections the job's parameters name, where lava reads connection ids: `conn_id`,
    /// `db_conn_id`, `s3_conn_id` and a docker job's `docker` (a docker connection), and the
    /// values of a `connections` map, at any depth (a foreach query generator's included).
    /// Sorted, without repeats; a templated id appears as written.
    pub fn connection_ids(&self) -> Vec<String> {
        fn walk(value: &Value, docker: bool, found: &mut std::collections::BTreeSet<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        match (key.as_str(), v) {
                            ("conn_id" | "db_conn_id" | "s3_conn_id", Value::String(id)) => {
                                found.insert(id.clone());
                            }
                            ("docker", Value::String(id)) if docker => {
                                found.insert(id.clone());
                            }
                            ("connections", Value::Object(labels)) => {
                                found.extend(labels.values().filter_map(Value::as_str).map(str::to_string));
                            }
                            _ => walk(v, false, found),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, false, found)),
                _ => {}
            }
        }
        let mut found = std::collections::BTreeSet::new();
        if let Some(parameters) = &self.parameters {
            walk(parameters, self.job_type == JobType::Docker, &mut found);
        }
        found.into_iter().collect()
    }

    /// The jobs an orchestration job runs or dispatches (`job_prefix` applied), in payload
    /// order; none for other types or an unreadable payload.
    pub fn child_jobs(&self) -> Vec<String> {
        let payload = self.payload.clone().unwrap_or(Value::Null);
        let prefixed = |prefix: &Option<String>, ids: Vec<String>| {
            let prefix = prefix.clone().unwrap_or_default();
            ids.into_iter().map(|id| format!("{prefix}{id}")).collect()
        };
        match self.typed_parameters() {
            Ok(JobParameters::Chain(p)) => {
                prefixed(&p.job_prefix, super::pipeline::job_list(&payload).unwrap_or_default())
            }
            Ok(JobParameters::Dispatch(p)) => {
                prefixed(&p.job_prefix, super::pipeline::job_list(&payload).unwrap_or_default())
            }
            Ok(JobParameters::Dag(p)) => {
                super::pipeline::dag_graph(&payload, p.job_prefix.as_deref().unwrap_or_default())
                    .map(|graph| graph.into_keys().collect())
                    .unwrap_or_default()
            }
            Ok(JobParameters::Foreach(_)) => payload.as_str().map(|id| vec![id.to_string()]).unwrap_or_default(),
            _ => vec![],
        }
    }

    /// Checks everything the worker would check before and while running the job, so that a
    /// bad spec is caught when it is written rather than when it is dispatched.
    /// Returns the warnings when the job is usable.
    pub fn validate(&self, limits: &Limits) -> Result<Vec<ValidationError>, ValidationErrors> {
        let mut report = Report::default();
        self.check_identity(&mut report);
        self.check_fields(&mut report);
        self.check_repetition(limits, &mut report);
        if let Some(schedule) = &self.schedule {
            validate_schedule(schedule, &self.at("schedule"), &mut report);
        }
        if self.job_type.is_known() {
            self.check_parameters(&mut report);
        }
        let lists = ActionKey::ALL.map(|key| (key, self.action_list(key)));
        validate_action_lists(&lists, &format!("jobs[{}]", self.job_id), limits, &mut report);
        for key in self.extra.keys() {
            if !is_extension_key(key) && !KNOWN_FIELDS.contains(&key.as_str()) {
                report.warn(self.at(key), "unknown field (ignored; use an x- prefix for tooling data)");
            }
        }
        report.into_result()
    }

    /// The path of one of the job's fields in an error.
    fn at(&self, field: &str) -> String {
        format!("jobs[{}].{field}", self.job_id)
    }

    /// The job id, worker, type and payload.
    fn check_identity(&self, report: &mut Report) {
        if self.job_id.trim().is_empty() {
            report.error("jobs[].job_id", "must not be empty");
        }
        if self.worker.trim().is_empty() {
            report.error(self.at("worker"), "must not be empty");
        }
        let known_type = self.job_type.is_known();
        if !known_type {
            let known: Vec<&str> = JobType::KNOWN.iter().map(JobType::name).collect();
            report.error(
                self.at("type"),
                format!("{:?}: unknown job type (known types: {})", self.job_type.name(), known.join(", ")),
            );
        }
        match &self.payload {
            None => report.error(self.at("payload"), "is required (use null or \"--\" when the job type ignores it)"),
            Some(payload) if known_type => {
                if let Err(reason) = validate_payload(&self.job_type, payload) {
                    report.error(self.at("payload"), reason);
                }
            }
            Some(_) => {}
        }
    }

    /// The descriptive fields, `enabled`, the maps and the globals' names.
    fn check_fields(&self, report: &mut Report) {
        if self.description.is_none() {
            report.warn(self.at("description"), "missing (deprecated: it will become required)");
        }
        if self.owner.is_none() {
            report.warn(self.at("owner"), "missing (deprecated: it will become required)");
        }
        match &self.enabled {
            Some(Value::Bool(_) | Value::String(_)) | None => {}
            Some(other) => report
                .warn(self.at("enabled"), format!("is {}: neither true nor false, so the job runs", kind_of(other))),
        }
        for (field, value) in [("parameters", &self.parameters), ("globals", &self.globals), ("state", &self.state)] {
            if let Some(v) = value
                && !(v.is_object() || v.is_null())
            {
                report.error(self.at(field), format!("must be a map, not {}", kind_of(v)));
            }
        }
        for name in self.globals_map().keys() {
            if is_reserved_name(name) {
                report.error(
                    self.at(&format!("globals.{name}")),
                    "Reserved global: names starting with \"lava\" belong to lava",
                );
            }
        }
    }

    /// Iterations, delays and tries, under the realm's limits.
    fn check_repetition(&self, limits: &Limits, report: &mut Report) {
        let at = |field: &str| self.at(field);
        if let Some(limit) = self.iteration_limit {
            if limit < 0 {
                report.error(at("iteration_limit"), format!("{limit} is negative"));
            } else if limit > limits.iteration_max_limit {
                report.error(
                    at("iteration_limit"),
                    format!("{limit} is over the maximum of {}", limits.iteration_max_limit),
                );
            } else if limit == 0 {
                report.warn(at("iteration_limit"), "0 means the job never runs");
            }
        }
        if let Some(delay) = &self.iteration_delay {
            match delay.seconds() {
                Err(reason) => report.error(at("iteration_delay"), reason),
                Ok(s) if s < 0.0 => report.error(at("iteration_delay"), format!("{delay} is negative")),
                Ok(s) if s > limits.iteration_max_delay => report.error(
                    at("iteration_delay"),
                    format!("{delay} is over the {} maximum", duration_spec_text(limits.iteration_max_delay)),
                ),
                Ok(_) => {}
            }
        }
        if let Some(delay) = &self.max_run_delay {
            match delay.seconds() {
                Err(reason) => report.error(at("max_run_delay"), reason),
                Ok(s) if s < 0.0 => report.error(at("max_run_delay"), format!("{delay} is negative")),
                Ok(_) => {}
            }
        }
        if let Some(tries) = self.max_tries
            && tries < 0
        {
            report.error(at("max_tries"), format!("{tries} is negative"));
        }
    }

    /// The parameters of a job of a known type, as its runner reads them.
    fn check_parameters(&self, report: &mut Report) {
        match self.typed_parameters() {
            Err(reason) => report.error(self.at("parameters"), format!("Bad job parameters: {reason}")),
            // A foreach has no timeout: its value generator is what there is to check.
            Ok(JobParameters::Foreach(p)) => {
                if let Err(reason) = super::pipeline::Generator::parse(&p.foreach) {
                    report.error(self.at("parameters.foreach"), reason)
                }
            }
            // The runners refuse what is not a positive duration: so does validation.
            Ok(params) => match params.timeout().map(|t| (t, t.seconds())) {
                Some((_, Err(reason))) => report.error(self.at("parameters.timeout"), reason),
                Some((t, Ok(s))) if s.is_nan() || s <= 0.0 => {
                    report.error(self.at("parameters.timeout"), format!("{t} is not a positive duration"))
                }
                _ => {}
            },
        }
    }
}

fn as_map(value: &Option<Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}
