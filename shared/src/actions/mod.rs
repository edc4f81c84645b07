//! Post-job actions: the eight action types (`dispatch`, `email`, `event`, `log`, `slack`,
//! `sns`, `sqs`, `state`), run in list order with the first failure stopping the list, and
//! a ledger that makes a redelivered list skip the actions it already completed.

pub mod function;
mod messaging;
mod notify;

use serde_json::{Map, Value, json};
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Retry};
use crate::model::{ActionKey, RealmEntry, StateType};
use crate::names::ResourceNames;
use crate::ports::{BlobStore, EventBus, Mailer, TableStore, TopicPublisher, Webhook, WorkQueue};
use crate::render::{self, Renderer};
use crate::state::{NewState, StateStore};

/// The action types.
pub const ACTION_TYPES: [&str; 8] = ["dispatch", "email", "event", "log", "slack", "sns", "sqs", "state"];

/// One action list with the render variables it needs, as the worker sends it to the actions
/// queue (or hands it to [`ActionServices`] in-process).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActionRequest {
    /// Which list: `on_success`, `on_retry` or `on_fail`.
    pub key: ActionKey,
    /// The action specs.
    pub actions: Vec<Value>,
    /// Job id.
    pub job_id: String,
    /// Run id.
    pub run_id: String,
    /// Iteration (1-based).
    pub iteration: i64,
    /// Render variables as JSON: `job`, `realm`, `globals`, `state`, `result`, `start`, `ustart`.
    pub context: Map<String, Value>,
    /// Where the render variables are when they were too large for one message
    /// (`s3://bucket/key` of a JSON file); `context` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_s3: Option<String>,
}

impl ActionRequest {
    /// `ts_dispatch` of the run, for its events.
    pub fn ts_dispatch(&self) -> String {
        self.context
            .get("job")
            .and_then(|j| j.get("ts_dispatch"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// Why an action list stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionFailure {
    /// `<type>: <reason>` (the event says `<key> action: <type>: <reason>`).
    pub message: String,
    /// Whether trying again later may succeed (AWS throttling, network).
    pub transient: bool,
}

impl std::fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error inside one action: the message and whether it may pass.
#[derive(Debug)]
pub(crate) struct Problem {
    message: String,
    transient: bool,
}

impl Problem {
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Problem { message: message.into(), transient: false }
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        Problem { transient: e.retry() == Retry::Transient, message: e.to_string() }
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem::bad(message)
    }
}

pub(crate) type Outcome = std::result::Result<(), Problem>;

/// Everything the actions need: the realm, its configuration and the AWS ports.
pub struct ActionServices {
    /// The realm entry (defaults for `ses_from`, `s3_temp`, ...).
    pub realm: RealmEntry,
    /// Resource names.
    pub names: ResourceNames,
    /// Configuration (`SES_REGION`, `STATE_TTL`, email limits, ...).
    pub config: Config,
    /// Jobs and connections.
    pub catalog: Catalog,
    /// Tables (the ledger).
    pub tables: Arc<dyn TableStore>,
    /// SQS.
    pub queues: Arc<dyn WorkQueue>,
    /// SNS.
    pub topics: Arc<dyn TopicPublisher>,
    /// SES.
    pub mailer: Arc<dyn Mailer>,
    /// EventBridge.
    pub bus: Arc<dyn EventBus>,
    /// S3 (attachments, large render contexts).
    pub blobs: Arc<dyn BlobStore>,
    /// State items.
    pub state: StateStore,
    /// Slack webhooks.
    pub webhook: Arc<dyn Webhook>,
    /// Template engine.
    pub renderer: Renderer,
}

/// Builds [`ActionServices`] for a realm over `ports`.
pub fn services(
    realm: RealmEntry,
    names: ResourceNames,
    config: Config,
    ports: &crate::ports::Ports,
) -> ActionServices {
    ActionServices {
        catalog: Catalog::new(ports.tables.clone(), names.clone()),
        state: StateStore::new(ports.tables.clone(), ports.keys.clone(), names.clone(), config.clone()),
        realm,
        names,
        config,
        tables: ports.tables.clone(),
        queues: ports.queues.clone(),
        topics: ports.topics.clone(),
        mailer: ports.mailer.clone(),
        bus: ports.bus.clone(),
        blobs: ports.blobs.clone(),
        webhook: ports.webhook.clone(),
        renderer: Renderer::default(),
    }
}

/// Whether an action of a list already ran (the ledger), so a redelivered list skips it.
#[async_trait::async_trait]
pub trait Ledger: Send + Sync {
    /// Whether the action at `index` was completed.
    async fn done(&self, request: &ActionRequest, index: usize) -> crate::error::Result<bool>;
    /// Records that the action at `index` completed.
    async fn record(&self, request: &ActionRequest, index: usize) -> crate::error::Result<()>;
}

/// No ledger: the worker runs a list once, in-process.
pub struct NoLedger;

#[async_trait::async_trait]
impl Ledger for NoLedger {
    async fn done(&self, _: &ActionRequest, _: usize) -> crate::error::Result<bool> {
        Ok(false)
    }

    async fn record(&self, _: &ActionRequest, _: usize) -> crate::error::Result<()> {
        Ok(())
    }
}

/// The ledger in the state table: one item per completed action, under the reserved `lava`
/// prefix (`lava.action/<job_id>/<run_id>/<key>/<iteration>/<index>`), expiring after a day.
pub struct StateLedger {
    state: StateStore,
}

impl StateLedger {
    /// A ledger kept with `state`.
    pub fn new(state: StateStore) -> Self {
        StateLedger { state }
    }

    fn id(request: &ActionRequest, index: usize) -> String {
        format!("lava.action/{}/{}/{}/{}/{index}", request.job_id, request.run_id, request.key, request.iteration)
    }
}

#[async_trait::async_trait]
impl Ledger for StateLedger {
    async fn done(&self, request: &ActionRequest, index: usize) -> crate::error::Result<bool> {
        Ok(self.state.get(&Self::id(request, index)).await?.is_some())
    }

    async fn record(&self, request: &ActionRequest, index: usize) -> crate::error::Result<()> {
        let marker = NewState {
            state_id: Self::id(request, index),
            value: json!("done"),
            state_type: StateType::Json,
            ttl_seconds: Some(86_400.0),
            publisher: Some("lava actions".into()),
            kms_key: None,
        };
        self.state.put_reserved(&marker).await
    }
}

/// Fails on keys outside `allowed` (the original's `Unexpected keys: a, b`).
pub(crate) fn only_keys(action: &Map<String, Value>, allowed: &[&str]) -> Outcome {
    let mut unexpected: Vec<&str> =
        action.keys().map(String::as_str).filter(|k| *k != "action" && !allowed.contains(k)).collect();
    if unexpected.is_empty() {
        return Ok(());
    }
    unexpected.sort();
    Err(Problem::bad(format!("Unexpected keys: {}", unexpected.join(", "))))
}

/// A required string field.
pub(crate) fn required<'a>(action: &'a Map<String, Value>, key: &str) -> Result<&'a str, Problem> {
    match action.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(Problem::bad(format!("Missing keys: {key}"))),
        Some(_) => Err(Problem::bad(format!("{key} must be a string"))),
    }
}

/// An optional string field.
pub(crate) fn optional<'a>(action: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Problem> {
    match action.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Problem::bad(format!("{key} must be a string"))),
    }
}

/// A delay field: a duration within 0..15 minutes, as whole seconds.
pub(crate) fn delay(action: &Map<String, Value>) -> Result<u32, Problem> {
    let Some(value) = action.get("delay").filter(|v| !v.is_null()) else {
        return Ok(0);
    };
    let seconds = match value {
        Value::Number(n) => n.as_f64().unwrap_or(-1.0),
        Value::String(s) => {
            crate::model::values::parse_duration(s).map_err(|e| Problem::bad(format!("Bad delay: {s}: {e}")))?
        }
        other => return Err(Problem::bad(format!("Bad delay: {other}"))),
    };
    if !(0.0..=900.0).contains(&seconds) {
        return Err(Problem::bad(format!("Bad delay: {value}: Must be between 0 and 15 minutes")));
    }
    Ok(seconds as u32)
}

/// Characters `n` and beyond are cut off (counting characters, not bytes).
pub(crate) fn first_chars(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

impl ActionServices {
    /// Loads the render variables of `request` (from S3 when they travelled there).
    pub async fn context(&self, request: &ActionRequest) -> crate::error::Result<Map<String, Value>> {
        let Some(location) = &request.context_s3 else {
            return Ok(request.context.clone());
        };
        let at = crate::model::S3Location::parse(location).map_err(|e| Error::refused("context_s3", e))?;
        let bytes = self.blobs.get_object(&at.bucket, &at.key).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::json(format!("render context {location}"), e))
    }

    /// Runs the list in order; the first failing action stops it. Actions the ledger says
    /// completed are skipped; each one that completes is recorded.
    pub async fn run_list(&self, request: &ActionRequest, ledger: &dyn Ledger) -> Result<(), ActionFailure> {
        let failure = |message: String, transient: bool| ActionFailure { message, transient };
        let context = self
            .context(request)
            .await
            .map_err(|e| failure(format!("cannot load the render context: {e}"), e.retry() == Retry::Transient))?;
        let template_context = render::context_from_json(&context);
        for (index, action) in request.actions.iter().enumerate() {
            let Some(spec) = action.as_object() else {
                return Err(failure("action must be a map".into(), false));
            };
            let kind = match spec.get("action") {
                Some(Value::String(k)) => k.as_str(),
                _ => return Err(failure("Missing keys: action".into(), false)),
            };
            if !ACTION_TYPES.contains(&kind) {
                return Err(failure(format!("{kind}: unknown action"), false));
            }
            match ledger.done(request, index).await {
                Ok(true) => {
                    tracing::info!(job_id = %request.job_id, run_id = %request.run_id, action = kind, index, "Action already done; skipped.");
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    return Err(failure(
                        format!("{kind}: cannot read the action ledger: {e}"),
                        e.retry() == Retry::Transient,
                    ));
                }
            }
            let run = Run { services: self, request, spec, context: &context, template: &template_context };
            let outcome = match kind {
                "dispatch" => run.dispatch().await,
                "email" => run.email().await,
                "event" => run.event().await,
                "log" => run.log(),
                "slack" => run.slack().await,
                "sns" => run.sns().await,
                "sqs" => run.sqs().await,
                _ => run.state().await,
            };
            if let Err(problem) = outcome {
                return Err(failure(format!("{kind}: {}", problem.message), problem.transient));
            }
            if let Err(e) = ledger.record(request, index).await {
                tracing::warn!(job_id = %request.job_id, run_id = %request.run_id, action = kind, error = %e, "Cannot record a completed action in the ledger.");
            }
        }
        Ok(())
    }
}

/// One action being run: its spec and the render variables.
pub(crate) struct Run<'a> {
    pub(crate) services: &'a ActionServices,
    pub(crate) request: &'a ActionRequest,
    pub(crate) spec: &'a Map<String, Value>,
    pub(crate) context: &'a Map<String, Value>,
    pub(crate) template: &'a minijinja::Value,
}

impl Run<'_> {
    /// Renders one template.
    pub(crate) fn render(&self, template: &str) -> Result<String, Problem> {
        self.services.renderer.render(template, self.template).map_err(Problem::bad)
    }

    /// Renders a required string field.
    pub(crate) fn rendered(&self, key: &str) -> Result<String, Problem> {
        self.render(required(self.spec, key)?)
    }

    /// Renders an optional string field.
    pub(crate) fn rendered_optional(&self, key: &str) -> Result<Option<String>, Problem> {
        optional(self.spec, key)?.map(|t| self.render(t)).transpose()
    }

    /// A context value by path (`job.worker`).
    pub(crate) fn context_value(&self, path: &[&str]) -> Option<&Value> {
        let mut value = self.context.get(path[0])?;
        for part in &path[1..] {
            value = value.get(part)?;
        }
        Some(value)
    }

    fn log(&self) -> Outcome {
        let message = self.rendered("message")?;
        tracing::info!(job_id = %self.request.job_id, run_id = %self.request.run_id, event_type = "job", "{message}");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
