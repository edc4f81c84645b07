//! The `actions` binary as Lambda runs it: under a Runtime API, on moto.

use serde_json::{Value, json};
use shared::ports::WorkQueue;

#[tokio::test]
async fn the_binary_runs_an_action_list_and_reports_bad_messages() {
    let r = lava_tests::TestRealm::up("fba").await;
    let request = json!({"key": "on_success", "actions": [{"action": "dispatch", "job_id": "demo/log"}],
        "job_id": "demo/hello", "run_id": "0a1b2c3d-0000-4000-8000-000000000001", "iteration": 1,
        "context": {"job": {"job_id": "demo/hello", "run_id": "0a1b2c3d-0000-4000-8000-000000000001", "worker": "core",
            "ts_dispatch": "2026-11-30T08:00:00+00:00"}, "realm": {"realm": r.names.realm}, "globals": {}, "state": {},
            "result": {"exit_status": 0}}});
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": "rh", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
    };
    let batch = json!({"Records": [record("ok", request.to_string()), record("bad", "not json".into())]});
    let answers = r.invoke_binary(env!("CARGO_BIN_EXE_actions"), vec![batch]).await;
    // The bad message is dead-lettered with its reason, not retried: the batch answer names no failure.
    assert_eq!(answers[0], Ok(json!({"batchItemFailures": []})));

    let url = r.queue_url(&r.names.worker_queue("core")).await;
    let messages = r.queues.receive(&url, 10, 1).await.unwrap();
    let body: Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(body["job_id"], "demo/log");
    let dead = r.queue_url(&shared::names::ResourceNames::dead_letter_queue(&r.names.actions_queue)).await;
    assert_eq!(r.queues.receive(&dead, 10, 1).await.unwrap()[0].body, "not json");
}
