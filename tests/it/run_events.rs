//! Run events on EventBridge, against moto: an EventBridge rule on the realm's source delivers
//! the `Lava Job Status` events of runs to an SQS queue, where they are read back; a copy of a
//! finished run's message publishes the final event again before it is deleted.

use lava_tests::{TestRealm, unique};
use serde_json::{Value, json};
use shared::worker::Handled;
use std::time::Duration;

/// A queue the realm's run events are delivered to by a rule; returns its URL.
async fn rule_queue(r: &TestRealm) -> String {
    let name = unique("lava-run-events-");
    let url = r.clients.sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let arn = r
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let pattern = json!({"source": [format!("lava.{}", r.names.realm)], "detail-type": ["Lava Job Status"]});
    r.clients.events.put_rule().name(&name).event_pattern(pattern.to_string()).send().await.unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(arn).build().unwrap();
    r.clients.events.put_targets().rule(&name).targets(target).send().await.unwrap();
    url
}

/// The events delivered so far, as EventBridge sends them.
async fn delivered(r: &TestRealm, queue: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let out = r.clients.sqs.receive_message().queue_url(queue).max_number_of_messages(10).send().await.unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return events;
        }
        for m in messages {
            events.push(serde_json::from_str(m.body().unwrap()).unwrap());
            r.clients
                .sqs
                .delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn final_run_events_reach_a_rule_and_a_finished_runs_copy_publishes_again() {
    let r = TestRealm::up("rev").await;
    let queue = rule_queue(&r).await;
    for (id, payload) in [("ev/ok", "/bin/true"), ("ev/bad", "/bin/false")] {
        r.put_job(json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": payload})).await;
    }
    let ok = r.dispatch("ev/ok").await;
    let bad = r.dispatch("ev/bad").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx.clone()).await.unwrap();

    let events = delivered(&r, &queue).await;
    assert_eq!(events.len(), 2, "one final event per run, nothing else by default: {events:#?}");
    let by_run = |run_id: &str| events.iter().find(|e| e["detail"]["run_id"] == run_id).cloned().unwrap();
    let (ok_event, bad_event) = (by_run(&ok), by_run(&bad));
    assert_eq!(ok_event["detail-type"], "Lava Job Status");
    assert_eq!(ok_event["source"], format!("lava.{}", r.names.realm));
    let detail = &ok_event["detail"];
    assert_eq!((detail["realm"].as_str(), detail["worker"].as_str()), (Some(r.names.realm.as_str()), Some("core")));
    assert_eq!(
        (detail["job_id"].as_str(), detail["status"].as_str(), detail["exit_status"].as_i64()),
        (Some("ev/ok"), Some("complete"), Some(0))
    );
    assert!(detail["ts_dispatch"].is_string() && detail["ts_event"].is_string() && detail["tu_event"].is_string());
    assert_eq!(bad_event["detail"]["status"], "failed");
    assert_eq!(bad_event["detail"]["exit_status"], 1);
    assert_eq!(bad_event["detail"]["error"], "Failed with exit status 1");

    // A second copy of a run's message: the run happens once, its final event is published
    // again when the copy finds it finished (the first worker might have stopped before).
    let (run_id, mut copies) = crate::worker::delivered_copies(&r, "ev/ok", 2).await;
    let (second, first) = (copies.pop().unwrap(), copies.pop().unwrap());
    assert!(matches!(worker.handle(&first, rx.clone()).await, Handled::Ran(_)));
    assert_eq!(worker.handle(&second, rx).await, Handled::Duplicate);
    assert_eq!(r.statuses("ev/ok", &run_id).await, ["starting", "running", "complete"], "it ran once");
    let again = delivered(&r, &queue).await;
    assert_eq!(again.len(), 2, "{again:#?}");
    assert!(again.iter().all(|e| e["detail"]["run_id"] == run_id.as_str() && e["detail"]["status"] == "complete"));
}
