//! The `s3trigger` binary as Lambda runs it: under a Runtime API, on moto.

use serde_json::{Value, json};
use shared::ports::WorkQueue;

#[tokio::test]
async fn the_binary_dispatches_the_job_of_a_matching_upload() {
    let r = lava_tests::TestRealm::up("fbs").await;
    let bucket = r.names.local_bucket();
    let trigger = json!({"trigger_id": "t1", "bucket": bucket, "prefix": "in", "enabled": true, "job_id": "demo/hello",
        "globals": {"key": "{{ key }}"}});
    r.catalog.put_s3trigger(&shared::model::S3TriggerEntry::from_value(&trigger).unwrap()).await.unwrap();
    let notification = |key: &str| {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-30T08:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 4, "eTag": "x"}}}]})
    };
    let answers = r
        .invoke_binary(env!("CARGO_BIN_EXE_s3trigger"), vec![notification("in/a.csv"), notification("out/b.csv")])
        .await;
    let dispatched = |answer: &Value| answer["dispatched"].as_array().map(Vec::len);
    assert_eq!(dispatched(answers[0].as_ref().unwrap()), Some(1), "{answers:?}");
    assert_eq!(dispatched(answers[1].as_ref().unwrap()), Some(0), "{answers:?}");

    let url = r.queue_url(&r.names.worker_queue("core")).await;
    let messages = r.queues.receive(&url, 10, 1).await.unwrap();
    let body: Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!((body["job_id"].as_str(), body["globals"]["key"].as_str()), (Some("demo/hello"), Some("in/a.csv")));
}
