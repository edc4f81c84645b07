//! The `dispatch`, `event`, `sns`, `sqs` and `state` actions.

use serde_json::{Map, Value, json};

use super::{ActionFailure, ActionResult, Run, delay_seconds, first_chars};
use crate::dispatch::{DispatchRequest, dispatch};
use crate::model::StateType;
use crate::model::action::{DispatchAction, EventAction, SnsAction, SqsAction, StateAction};
use crate::ports::{BusEvent, OutgoingMessage};
use crate::state::{NewState, is_reserved};

impl Run<'_> {
    /// A `message` field: a string, or an object JSON-encoded first; rendered as one text.
    fn message_text(&self, message: &Value) -> Result<String, ActionFailure> {
        let text = match message {
            Value::String(s) => s.clone(),
            Value::Null => return Err(ActionFailure::bad("Missing keys: message")),
            other => serde_json::to_string(other).map_err(|e| ActionFailure::bad(e.to_string()))?,
        };
        self.render(&text)
    }

    pub(crate) async fn dispatch(&self, action: &DispatchAction) -> ActionResult {
        let job_id = self.render(&action.job_id)?;
        let parameters =
            match self.services.renderer.render_value(&Value::Object(action.parameters.clone()), self.template) {
                Ok(Value::Object(rendered)) => rendered,
                Ok(_) => unreachable!("a rendered map is a map"),
                Err(e) => return Err(ActionFailure::bad(format!("Cannot render parameters - {e}"))),
            };
        let limits = self.services.config.limits();
        let delay_seconds = delay_seconds(action.delay.as_ref(), &limits)?;
        let mut globals = self.context.get("globals").and_then(Value::as_object).cloned().unwrap_or_default();
        let lava = globals.entry("lava").or_insert_with(|| json!({}));
        if let Value::Object(lava) = lava {
            lava.insert("parent_job_id".into(), json!(self.request.job_id));
            for (key, from) in [("parent_start", "start"), ("parent_ustart", "ustart")] {
                if let Some(at) = self.context.get(from) {
                    lava.insert(key.into(), at.clone());
                }
            }
        }
        let request =
            DispatchRequest { job_id: job_id.clone(), parameters, globals, delay_seconds, worker: None, run_id: None };
        let realm = &self.services.names.realm;
        match dispatch(&self.services.catalog, self.services.queues.as_ref(), &request, &limits).await {
            Ok(_) => Ok(()),
            // The original's wording for a job that is not in the table.
            Err(crate::Error::NotFound { what: "job", .. }) => Err(ActionFailure::bad("No such job")),
            Err(e) => Err(ActionFailure::from_error(format!("Cannot dispatch {job_id}@{realm} - "), &e)),
        }
    }

    pub(crate) async fn event(&self, action: &EventAction) -> ActionResult {
        let realm = &self.services.names.realm;
        let source = self.render_optional(&action.source)?.unwrap_or_else(|| format!("lava.{realm}"));
        let detail_type = self.render_optional(&action.detail_type)?.unwrap_or_else(|| "Lava Job Action".into());
        let bus = self.render_optional(&action.event_bus)?;
        let resources = action.resources.iter().map(|t| self.render(t)).collect::<Result<_, _>>()?;
        let detail = match &action.detail {
            None | Some(Value::Null) => {
                let exit_status = self
                    .context_value(&["result", "exit_status"])
                    .or_else(|| self.context_value(&["result", "error_data", "exit_status"]))
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({
                    "realm": realm,
                    "worker": self.context_value(&["job", "worker"]).cloned().unwrap_or(Value::Null),
                    "job_id": self.request.job_id,
                    "run_id": self.request.run_id,
                    "exit_status": exit_status,
                })
            }
            Some(Value::String(text)) => {
                let rendered = self.render(text)?;
                match serde_json::from_str::<Value>(&rendered) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => Value::String(rendered),
                }
            }
            Some(Value::Object(map)) => {
                let mut rendered = Map::new();
                for (k, v) in map {
                    let text = v.as_str().ok_or_else(|| ActionFailure::bad(format!("detail.{k} must be a string")))?;
                    rendered.insert(k.clone(), Value::String(self.render(text)?));
                }
                Value::Object(rendered)
            }
            Some(_) => return Err(ActionFailure::bad("detail must be a string or a map of strings")),
        };
        let event = BusEvent { bus, source, detail_type, detail: detail.to_string(), resources };
        self.services
            .bus
            .put_event(&event)
            .await
            .map_err(|e| ActionFailure::from_error("Failed to put event to EventBridge: ", &e))
    }

    pub(crate) async fn sns(&self, action: &SnsAction) -> ActionResult {
        let message = self.message_text(&action.message)?;
        let subject = self.render_optional(&action.subject)?.map(|s| first_chars(&s, 100));
        self.services.topics.publish(&action.topic, subject.as_deref(), &message).await?;
        Ok(())
    }

    pub(crate) async fn sqs(&self, action: &SqsAction) -> ActionResult {
        let queue = action.queue_name();
        let message = self.message_text(&action.message)?;
        let delay_seconds = delay_seconds(action.delay.as_ref(), &self.services.config.limits())?;
        let url = if queue.contains("://") {
            queue.to_string()
        } else if queue.contains(".amazonaws.com/") {
            format!("https://{queue}")
        } else {
            self.services.queues.queue_url(queue).await?
        };
        let fifo = url.ends_with(".fifo");
        let mut outgoing = OutgoingMessage { body: message, delay_seconds, ..Default::default() };
        if fifo {
            outgoing.group_id = self.render_optional(&action.group_id)?;
            outgoing.dedup_id = self.render_optional(&action.dedup_id)?;
        }
        self.services.queues.send(&url, &outgoing).await?;
        Ok(())
    }

    pub(crate) async fn state(&self, action: &StateAction) -> ActionResult {
        let state_id = self.render(&action.state_id)?;
        if is_reserved(&state_id) {
            return Err(ActionFailure::bad("Bad state_id: Values beginning with \"lava\" are reserved"));
        }
        let value = self
            .services
            .renderer
            .render_value(&action.value, self.template)
            .map_err(|e| ActionFailure::bad(format!("Bad value: {e}")))?;
        let state_type = match action.state_type.as_deref() {
            None | Some("json") => StateType::Json,
            Some("raw") => StateType::Raw,
            Some("secure") => StateType::Secure,
            Some(other) => return Err(ActionFailure::bad(format!("Unknown state type: {other}"))),
        };
        let ttl_seconds = match &action.ttl {
            None => None,
            Some(ttl) => Some(ttl.seconds().map_err(|e| ActionFailure::bad(format!("Bad ttl: {ttl}: {e}")))?),
        };
        let publisher = self.render_optional(&action.publisher)?.unwrap_or_else(|| self.request.job_id.clone());
        let new = NewState {
            state_id,
            value,
            state_type,
            ttl_seconds,
            publisher: Some(publisher),
            kms_key: action.kms_key.clone(),
        };
        self.services.state.put(&new).await?;
        Ok(())
    }
}
