//! The `dispatch` binary as Lambda runs it: under a Runtime API, on moto.

use serde_json::{Value, json};
use shared::ports::WorkQueue;

#[tokio::test]
async fn the_binary_dispatches_from_a_queue_batch_and_a_direct_invocation() {
    let r = lava_tests::TestRealm::up("fbd").await;
    let record = |id: &str, body: Value| {
        json!({"messageId": id, "receiptHandle": "rh", "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
    };
    let batch = json!({"Records": [record("m1", json!({"job_id": "demo/hello", "globals": {"via": "batch"}})),
        record("m2", json!({"job_id": "demo/log"}))]});
    let direct = json!({"job_id": "demo/hello", "globals": {"via": "invoke"}});
    let answers = r.invoke_binary(env!("CARGO_BIN_EXE_dispatch"), vec![batch, direct]).await;
    assert_eq!(answers[0], Ok(json!({"batchItemFailures": []})));
    assert_eq!(answers[1], Ok(json!({"status": "done"})));

    let url = r.queue_url(&r.names.worker_queue("core")).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        for m in r.queues.receive(&url, 10, 1).await.unwrap() {
            let body: Value = serde_json::from_str(&m.body).unwrap();
            seen.push(format!("{} {}", body["job_id"].as_str().unwrap(), body["globals"]["via"]));
        }
    }
    seen.sort();
    assert_eq!(seen, ["demo/hello \"batch\"", "demo/hello \"invoke\"", "demo/log null"]);
}
