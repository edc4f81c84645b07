//! What the actions function does with one batch of queue messages: run each action list with
//! the ledger, retry what may pass later, record `action_failed` for what will not, and
//! dead-letter messages that are not action requests.

use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;
use tracing::field::Empty;

use super::{ActionRequest, ActionServices, StateLedger};
use crate::config::Config;
use crate::config::keys;
use crate::error::Result;
use crate::model::EventStatus;
use crate::model::values::{ECHO_LIMIT, bounded};
use crate::names::ResourceNames;
use crate::ports::{EventLog, Incoming, OutgoingMessage, Ports, WorkQueue};
use crate::recorder::EventRecorder;

/// The actions function, built once per cold start.
pub struct ActionsFunction {
    services: ActionServices,
    ledger: StateLedger,
    events: Arc<dyn EventLog>,
    queues: Arc<dyn WorkQueue>,
    dead_letter_url: Option<String>,
    attempts: u32,
    event_ttl: i64,
}

impl ActionsFunction {
    /// Loads the realm `names.realm` and resolves the dead-letter queue.
    pub async fn load(names: ResourceNames, env: Vec<(String, String)>, ports: &Ports) -> Result<Self> {
        let catalog = crate::catalog::Catalog::new(ports.tables.clone(), names.clone());
        let realm = catalog.realm().await?;
        let config = Config::new(env, realm.config.as_ref());
        let dead_letter_url =
            ports.queues.queue_url(&ResourceNames::dead_letter_queue(&names.actions_queue)).await.ok();
        let services = super::services(realm, names, config.clone(), ports);
        Ok(ActionsFunction {
            ledger: StateLedger::new(services.state.clone()),
            services,
            events: ports.events.clone(),
            queues: ports.queues.clone(),
            dead_letter_url,
            attempts: config.get(keys::ACTION_ATTEMPTS).max(1) as u32,
            event_ttl: config.get(keys::EVENT_TTL) as i64,
        })
    }

    /// Handles a batch; returns the ids of the messages to receive again.
    pub async fn handle(&self, batch: Vec<Incoming>) -> Vec<String> {
        let mut retry = Vec::new();
        for message in batch {
            let span = tracing::info_span!("message", message_id = %message.message_id, job_id = Empty, run_id = Empty);
            if let Err(reason) = self.handle_one(&message).instrument(span.clone()).await {
                let _in_span = span.enter();
                tracing::warn!(error = %reason, "Action message will be received again.");
                retry.push(message.message_id);
            }
        }
        retry
    }

    async fn handle_one(&self, message: &Incoming) -> std::result::Result<(), String> {
        let request: ActionRequest = match serde_json::from_str(&message.body) {
            Ok(r) => r,
            Err(e) => return self.dead_letter(message, &format!("not an action request: {e}")).await,
        };
        tracing::Span::current().record("job_id", request.job_id.as_str()).record("run_id", request.run_id.as_str());
        let failure = match self.services.run_list(&request, &self.ledger).await {
            Ok(()) => return Ok(()),
            Err(f) => f,
        };
        if failure.transient && message.receive_count < self.attempts {
            return Err(failure.message);
        }
        let worker =
            request.context.get("job").and_then(|j| j.get("worker")).and_then(|w| w.as_str()).unwrap_or("actions");
        let recorder = EventRecorder::new(
            self.events.clone(),
            &self.services.names.events_table,
            worker,
            self.event_ttl,
            jiff::tz::TimeZone::system(),
        );
        let info = json!(format!("{} action: {}", request.key, failure.message));
        tracing::error!("{}", info.as_str().unwrap_or_default());
        recorder
            .record(&request.job_id, &request.run_id, &request.ts_dispatch(), EventStatus::ActionFailed, info)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot record action_failed: {e}"))
    }

    async fn dead_letter(&self, message: &Incoming, reason: &str) -> std::result::Result<(), String> {
        let reason = bounded(reason, ECHO_LIMIT);
        tracing::error!(reason = %reason, "Bad action message.");
        let Some(url) = &self.dead_letter_url else {
            return Ok(());
        };
        let outgoing = OutgoingMessage {
            body: message.body.clone(),
            attributes: vec![("lava-reason".into(), reason.to_string())],
            ..Default::default()
        };
        self.queues.send(url, &outgoing).await.map(|_| ()).map_err(|e| format!("cannot dead-letter: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakePorts;
    use crate::ports::TableStore;
    use serde_json::Value;

    async fn function() -> (ActionsFunction, FakePorts, String) {
        let names = ResourceNames::for_realm("dev");
        let fakes = FakePorts::for_realm(&names);
        let realm = json!({"realm": "dev", "s3_payloads": "s3://b/p", "s3_temp": "s3://b/t"});
        fakes.tables.put_item("lava.realms", realm.as_object().unwrap().clone()).await.unwrap();
        let dlq = fakes.queues.create("lava-dev--actions-dlq");
        let f = ActionsFunction::load(names, vec![], &fakes.ports()).await.unwrap();
        (f, fakes, dlq)
    }

    fn body(actions: Value) -> String {
        json!({"key": "on_fail", "actions": actions, "job_id": "j", "run_id": "r", "iteration": 1,
               "context": {"job": {"job_id": "j", "worker": "core", "ts_dispatch": "2025-03-04T07:15:00+11:00"}, "result": {"error": "x"}}})
        .to_string()
    }

    fn incoming(id: &str, body: String, receive_count: u32) -> Incoming {
        Incoming { message_id: id.into(), body, receive_count }
    }

    #[tokio::test]
    async fn a_failing_action_is_recorded_once_and_not_retried() {
        let (f, fakes, _) = function().await;
        let retry = f
            .handle(vec![incoming(
                "m1",
                body(json!([{"action": "sns", "topic": "t", "message": "ok"}, {"action": "log"}])),
                1,
            )])
            .await;
        assert!(retry.is_empty());
        let events = fakes.events.run("j", "r");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].last().status, EventStatus::ActionFailed);
        assert_eq!(events[0].last().info, json!("on_fail action: log: Missing keys: message"));
        assert_eq!(fakes.notices.published.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_then_recorded_at_the_last_attempt() {
        let (f, fakes, _) = function().await;
        *fakes.notices.publish_error.lock().unwrap() = Some(crate::error::Retry::Transient);
        let list = body(json!([{"action": "sns", "topic": "t", "message": "m"}]));
        assert_eq!(f.handle(vec![incoming("m1", list.clone(), 1)]).await, vec!["m1".to_string()]);
        assert_eq!(f.handle(vec![incoming("m1", list.clone(), 2)]).await, vec!["m1".to_string()]);
        assert!(fakes.events.run("j", "r").is_empty(), "nothing recorded while SQS will try again");
        assert!(f.handle(vec![incoming("m1", list, 3)]).await.is_empty(), "the third receive is the last");
        let events = fakes.events.run("j", "r");
        assert_eq!(events.len(), 1);
        assert!(
            events[0].last().info.as_str().unwrap().starts_with("on_fail action: sns: "),
            "{:?}",
            events[0].last().info
        );
    }

    #[tokio::test]
    async fn a_malformed_message_is_dead_lettered_with_its_reason() {
        let (f, fakes, dlq) = function().await;
        assert!(f.handle(vec![incoming("m1", "{not json".into(), 1)]).await.is_empty());
        assert_eq!(fakes.queues.bodies(&dlq), vec!["{not json".to_string()]);
    }
}
