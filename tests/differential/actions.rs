//! Actions (sqs, sns, event, email through SES and through an SMTP connection, log, state)
//! on success, retry and failure, and an action that fails: what each sent and the events.

use crate::harness::{Family, Scenario};
use serde_json::{Value, json};
use shared::aws::provision;

/// A queue that receives what the actions send, with its ARN.
async fn capture(family: &Family, prefix: &str) -> (String, String, String) {
    let clients = &family.realm.clients;
    let name = tests::unique(prefix);
    let url = provision::create_queue(clients, &name, &[]).await.unwrap();
    let arn = provision::queue_arn(clients, &url).await.unwrap();
    (name, url, arn)
}

/// A message naming the run and what its template sees of the result.
fn message(what: &str) -> Value {
    json!(format!("{what} {{{{ job.job_id }}}} {{{{ job.run_id }}}} exit={{{{ result.exit_status }}}} error={{{{ result.error }}}} keys={{{{ result.keys() | list | sort }}}}"))
}

#[tokio::test]
async fn actions_match_the_original() {
    let mut family = Family::new("dfa").await;
    let realm = family.realm.names.realm.clone();
    let (queue, queue_url, _) = capture(&family, "lava-cap-").await;
    let (_, topic_queue_url, topic_queue_arn) = capture(&family, "lava-capt-").await;
    let (_, event_queue_url, event_queue_arn) = capture(&family, "lava-cape-").await;
    let clients = family.realm.clients.clone();
    let topic = provision::create_topic(&clients, &tests::unique("lava-t-")).await.unwrap();
    provision::subscribe_queue(&clients, &topic, &topic_queue_arn).await.unwrap();
    let pattern = json!({"source": [format!("lava.{realm}")]}).to_string();
    provision::route_events_to_queue(&clients, &tests::unique("lava-r-"), &pattern, &event_queue_arn).await.unwrap();
    let sender = "lava-diff@example.com";
    provision::verify_email_identity(&clients, sender).await.unwrap();
    family.capture_queues = vec![queue_url, topic_queue_url, event_queue_url];
    family.capture_ses = true;

    let sqs = |what: &str| json!({"action": "sqs", "queue": queue, "message": message(what)});
    let scenarios = vec![
        Scenario::new("sqs_on_success", json!({"type": "cmd", "payload": "/bin/echo hi", "on_success": [sqs("ok")]})),
        Scenario::new("sqs_object", json!({"type": "cmd", "payload": "/bin/true", "on_success": [
            {"action": "sqs", "queue": queue, "message": {"run": "{{ job.run_id }}", "exit": "{{ result.exit_status }}", "n": 3}}]})),
        Scenario::new("sqs_on_fail", json!({"type": "cmd", "payload": "/bin/sh -c", "parameters": {"args": ["echo bad >&2; exit 2"]},
            "on_fail": [sqs("failed")]})),
        Scenario::new("sqs_on_retry", json!({"type": "cmd", "payload": "/bin/false", "iteration_limit": 2, "iteration_delay": "1s",
            "on_retry": [sqs("retry")], "on_fail": [sqs("gave-up")]})),
        Scenario::new("result_whole", json!({"type": "cmd", "payload": "/bin/true", "on_success": [
            {"action": "sqs", "queue": queue, "message": "{{ job.run_id }} {{ result }}"}]})),
        Scenario::new("sns", json!({"type": "cmd", "payload": "/bin/true", "on_success": [
            {"action": "sns", "topic": topic, "subject": "done {{ job.job_id }}", "message": message("sns")}]})),
        Scenario::new("event_default", json!({"type": "cmd", "payload": "/bin/true", "on_success": [{"action": "event"}]})),
        Scenario::new("log", json!({"type": "cmd", "payload": "/bin/true", "on_success": [{"action": "log", "message": message("log")}]})),
        Scenario::new("email_ses", json!({"type": "cmd", "payload": "/bin/true", "on_success": [
            {"action": "email", "from": sender, "to": "ops@example.com", "subject": "done {{ job.job_id }}", "message": message("email")}]})),
        Scenario::new("action_fails", json!({"type": "cmd", "payload": "/bin/true", "on_success": [
            {"action": "sqs", "queue": "lava-no-such-queue", "message": "x"}, sqs("after")]})),
        Scenario::new("action_bad", json!({"type": "cmd", "payload": "/bin/true", "on_success": [{"action": "sqs", "queue": queue}]})),
    ];
    family.check(&scenarios).await;
}
