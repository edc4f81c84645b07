//! Post-job actions: the eight action types (`dispatch`, `email`, `event`, `log`, `slack`,
//! `sns`, `sqs`, `state`), run in list order with the first failure stopping the list, and
//! a ledger that makes a redelivered list skip the actions it already completed.

pub mod function;
mod messaging;
mod notify;
pub use notify::{ConnectionEmail, ConnectionSlack};

use serde_json::{Map, Value, json};
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Retry};
use crate::model::action::LogAction;
use crate::model::{Action, ActionKey, DurationSpec, Limits, RealmEntry, StateType};
use crate::names::ResourceNames;
use crate::ports::{BlobStore, EventBus, Mailer, TableStore, TopicPublisher, Webhook, WorkQueue};
use crate::render::{self, Renderer};
use crate::state::{NewState, StateStore};

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

/// Why an action, and so its list, failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionFailure {
    /// `<type>: <reason>` once it leaves the list (the event says `<key> action: <type>: <reason>`).
    pub message: String,
    /// Whether trying again later may succeed (AWS throttling, network).
    pub transient: bool,
}

impl ActionFailure {
    /// A failure that trying again will not mend (bad spec, refused request).
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        ActionFailure { message: message.into(), transient: false }
    }

    /// An error with its retry class and `context` before its message.
    pub fn from_error(context: impl std::fmt::Display, e: &Error) -> Self {
        ActionFailure { message: format!("{context}{e}"), transient: e.retry() == Retry::Transient }
    }

    /// The same failure, its message preceded by the action type.
    fn of_kind(self, kind: &str) -> Self {
        ActionFailure { message: format!("{kind}: {}", self.message), ..self }
    }
}

impl std::fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for ActionFailure {
    fn from(e: Error) -> Self {
        ActionFailure::from_error("", &e)
    }
}

impl From<String> for ActionFailure {
    fn from(message: String) -> Self {
        ActionFailure::bad(message)
    }
}

pub(crate) type ActionResult = std::result::Result<(), ActionFailure>;

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
    /// SMTP servers (`email` connections with subtype `smtp`).
    pub smtp: Arc<dyn crate::ports::SmtpSender>,
    /// SSM parameters (SMTP passwords).
    pub secrets: Arc<dyn crate::ports::SecretStore>,
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
        smtp: ports.smtp.clone(),
        secrets: ports.secrets.clone(),
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

/// A `delay` field within 0 and the realm's `SQS_MAX_DELAY_MINS` (at most SQS's 15 minutes), as
/// whole seconds; 0 when absent.
pub(crate) fn delay_seconds(delay: Option<&DurationSpec>, limits: &Limits) -> Result<u32, ActionFailure> {
    let Some(delay) = delay else {
        return Ok(0);
    };
    let written = match delay {
        DurationSpec::Seconds(s) => s.to_string(),
        DurationSpec::Text(t) => serde_json::to_string(t).unwrap_or_default(),
    };
    let seconds = delay.seconds().map_err(|e| ActionFailure::bad(format!("Bad delay: {delay}: {e}")))?;
    let max = limits.max_delay;
    if !(0.0..=max).contains(&seconds) {
        return Err(ActionFailure::bad(format!("Bad delay: {written}: Must be between 0 and {} minutes", max / 60.0)));
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

    /// Runs the list in order; the first failing action stops it. Each action is read into the
    /// typed model validation checks, then run. Actions the ledger says completed are skipped;
    /// each one that completes is recorded.
    pub async fn run_list(&self, request: &ActionRequest, ledger: &dyn Ledger) -> Result<(), ActionFailure> {
        let context = self
            .context(request)
            .await
            .map_err(|e| ActionFailure::from_error("cannot load the render context: ", &e))?;
        let template_context = render::context_from_json(&context);
        for (index, value) in request.actions.iter().enumerate() {
            let action = Action::parse(value).map_err(ActionFailure::bad)?;
            let kind = action.kind();
            match ledger.done(request, index).await {
                Ok(true) => {
                    tracing::info!(action = kind, index, "Action already done; skipped.");
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    return Err(ActionFailure::from_error(format!("{kind}: cannot read the action ledger: "), &e));
                }
            }
            let run = Run { services: self, request, context: &context, template: &template_context };
            let outcome = match &action {
                Action::Dispatch(a) => run.dispatch(a).await,
                Action::Email(a) => run.email(a).await,
                Action::Event(a) => run.event(a).await,
                Action::Log(a) => run.log(a),
                Action::Slack(a) => run.slack(a).await,
                Action::Sns(a) => run.sns(a).await,
                Action::Sqs(a) => run.sqs(a).await,
                Action::State(a) => run.state(a).await,
            };
            outcome.map_err(|failure| failure.of_kind(kind))?;
            if let Err(e) = ledger.record(request, index).await {
                tracing::warn!(action = kind, error = %e, "Cannot record a completed action in the ledger.");
            }
        }
        Ok(())
    }
}

/// One action being run: the list's request and the render variables.
pub(crate) struct Run<'a> {
    pub(crate) services: &'a ActionServices,
    pub(crate) request: &'a ActionRequest,
    pub(crate) context: &'a Map<String, Value>,
    pub(crate) template: &'a minijinja::Value,
}

impl Run<'_> {
    /// Renders one template.
    pub(crate) fn render(&self, template: &str) -> Result<String, ActionFailure> {
        self.services.renderer.render(template, self.template).map_err(ActionFailure::bad)
    }

    /// Renders an optional template.
    pub(crate) fn render_optional(&self, template: &Option<String>) -> Result<Option<String>, ActionFailure> {
        template.as_deref().map(|t| self.render(t)).transpose()
    }

    /// A context value by path (`job.worker`).
    pub(crate) fn context_value(&self, path: &[&str]) -> Option<&Value> {
        let mut value = self.context.get(path[0])?;
        for part in &path[1..] {
            value = value.get(part)?;
        }
        Some(value)
    }

    fn log(&self, action: &LogAction) -> ActionResult {
        let message = self.render(&action.message)?;
        tracing::info!(event_type = "job", "{message}");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
