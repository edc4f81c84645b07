//! The `dispatch`, `event`, `sns`, `sqs` and `state` actions.

use serde_json::{Map, Value, json};

use super::{Outcome, Problem, Run, delay, first_chars, only_keys, optional, required};
use crate::dispatch::{DispatchRequest, dispatch};
use crate::model::StateType;
use crate::ports::{BusEvent, OutgoingMessage};
use crate::state::{NewState, is_reserved};

impl Run<'_> {
    /// A `message` field: a string, or an object JSON-encoded first; rendered as one text.
    fn message_text(&self) -> Result<String, Problem> {
        let text = match self.spec.get("message") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => return Err(Problem::bad("Missing keys: message")),
            Some(other) => serde_json::to_string(other).map_err(|e| Problem::bad(e.to_string()))?,
        };
        self.render(&text)
    }

    pub(crate) async fn dispatch(&self) -> Outcome {
        let job_id = self.rendered("job_id")?;
        let parameters = match self.spec.get("parameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => {
                match self.services.renderer.render_value(&Value::Object(p.clone()), self.template) {
                    Ok(Value::Object(rendered)) => rendered,
                    Ok(_) => unreachable!("a rendered map is a map"),
                    Err(e) => return Err(Problem::bad(format!("Cannot render parameters - {e}"))),
                }
            }
            Some(_) => return Err(Problem::bad("parameters must be a map")),
        };
        let delay_seconds = delay(self.spec)?;
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
        let request = DispatchRequest { job_id: job_id.clone(), parameters, globals, delay_seconds, worker: None };
        let realm = &self.services.names.realm;
        dispatch(&self.services.catalog, self.services.queues.as_ref(), &request, &self.services.config.limits())
            .await
            .map_err(|e| Problem {
                transient: e.retry() == crate::error::Retry::Transient,
                message: format!("Cannot dispatch {job_id}@{realm} - {e}"),
            })?;
        Ok(())
    }

    pub(crate) async fn event(&self) -> Outcome {
        only_keys(self.spec, &["source", "detail_type", "detail", "event_bus", "resources"])?;
        let realm = &self.services.names.realm;
        let source = self.rendered_optional("source")?.unwrap_or_else(|| format!("lava.{realm}"));
        let detail_type = self.rendered_optional("detail_type")?.unwrap_or_else(|| "Lava Job Action".into());
        let bus = self.rendered_optional("event_bus")?;
        let resources = match self.spec.get("resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| {
                    r.as_str()
                        .ok_or_else(|| Problem::bad("resources must be a list of strings"))
                        .and_then(|t| self.render(t))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Problem::bad("resources must be a list")),
        };
        let detail = match self.spec.get("detail") {
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
                    let text = v.as_str().ok_or_else(|| Problem::bad(format!("detail.{k} must be a string")))?;
                    rendered.insert(k.clone(), Value::String(self.render(text)?));
                }
                Value::Object(rendered)
            }
            Some(_) => return Err(Problem::bad("detail must be a string or a map of strings")),
        };
        let event = BusEvent { bus, source, detail_type, detail: detail.to_string(), resources };
        self.services.bus.put_event(&event).await.map_err(|e| Problem {
            transient: e.retry() == crate::error::Retry::Transient,
            message: format!("Failed to put event to EventBridge: {e}"),
        })
    }

    pub(crate) async fn sns(&self) -> Outcome {
        let topic = required(self.spec, "topic")?;
        let message = self.message_text()?;
        let subject = self.rendered_optional("subject")?.map(|s| first_chars(&s, 100));
        self.services.topics.publish(topic, subject.as_deref(), &message).await?;
        Ok(())
    }

    pub(crate) async fn sqs(&self) -> Outcome {
        let queue = required(self.spec, "queue").or_else(|_| required(self.spec, "topic"))?;
        let message = self.message_text()?;
        let delay_seconds = delay(self.spec)?;
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
            outgoing.group_id = self.rendered_optional("group_id")?;
            outgoing.dedup_id = self.rendered_optional("dedup_id")?;
        }
        self.services.queues.send(&url, &outgoing).await?;
        Ok(())
    }

    pub(crate) async fn state(&self) -> Outcome {
        only_keys(self.spec, &["state_id", "value", "type", "ttl", "publisher", "kms_key"])?;
        let state_id = self.rendered("state_id")?;
        if is_reserved(&state_id) {
            return Err(Problem::bad("Bad state_id: Values beginning with \"lava\" are reserved"));
        }
        let value = match self.spec.get("value") {
            None => return Err(Problem::bad("Missing keys: value")),
            Some(v) => self
                .services
                .renderer
                .render_value(v, self.template)
                .map_err(|e| Problem::bad(format!("Bad value: {e}")))?,
        };
        let state_type = match optional(self.spec, "type")? {
            None | Some("json") => StateType::Json,
            Some("raw") => StateType::Raw,
            Some("secure") => StateType::Secure,
            Some(other) => return Err(Problem::bad(format!("Unknown state type: {other}"))),
        };
        let ttl_seconds = match self.spec.get("ttl") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => {
                Some(crate::model::values::parse_duration(s).map_err(|e| Problem::bad(format!("Bad ttl: {s}: {e}")))?)
            }
            Some(other) => return Err(Problem::bad(format!("Bad ttl: {other}"))),
        };
        let publisher = self.rendered_optional("publisher")?.unwrap_or_else(|| self.request.job_id.clone());
        let kms_key = optional(self.spec, "kms_key")?.map(str::to_string);
        let new = NewState { state_id, value, state_type, ttl_seconds, publisher: Some(publisher), kms_key };
        self.services.state.put(&new).await?;
        Ok(())
    }
}
