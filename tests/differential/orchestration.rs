//! dispatch, chain, dag and foreach jobs: their results, their children's failures, bad
//! parameters.

use crate::harness::{Family, Scenario};
use serde_json::json;

#[tokio::test]
async fn orchestration_jobs_match_the_original() {
    let family = Family::new("dfo").await;
    let r = &family.realm;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    for key in ["fe/a.csv", "fe/b.txt", "fe/c.csv"] {
        use shared::ports::BlobStore;
        r.blobs.put_object(&bucket, key, b"x\n".to_vec(), &shared::ports::Encryption::Aes256).await.unwrap();
    }
    for (id, payload) in [("d/kid_a", "/bin/echo a"), ("d/kid_b", "/bin/echo b"), ("d/kid_bad", "/bin/false")] {
        r.put_job(json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "owner": "diff", "description": id, "payload": payload}))
            .await;
    }
    let scenarios = vec![
        Scenario::new(
            "dispatch_one",
            json!({"type": "dispatch", "payload": "d/kid_a", "parameters": {"parameters": {"x": 1}}}),
        ),
        Scenario::new("dispatch_missing", json!({"type": "dispatch", "payload": "d/no_such_kid"})),
        Scenario::new("chain_ok", json!({"type": "chain", "payload": ["d/kid_a", "d/kid_b"]})),
        Scenario::new("chain_fail", json!({"type": "chain", "payload": ["d/kid_a", "d/kid_bad", "d/kid_b"]})),
        Scenario::new(
            "chain_can_fail",
            json!({"type": "chain", "payload": ["d/kid_bad", "d/kid_b"], "parameters": {"can_fail": ["d/kid_bad"]}}),
        ),
        Scenario::new("chain_missing", json!({"type": "chain", "payload": ["d/kid_a", "d/no_such_kid"]})),
        Scenario::new(
            "dag_ok",
            json!({"type": "dag", "payload": {"d/kid_b": ["d/kid_a"], "d/kid_a": null}, "parameters": {"workers": 1}}),
        ),
        Scenario::new(
            "dag_fail",
            json!({"type": "dag", "payload": {"d/kid_b": "d/kid_bad", "d/kid_bad": null}, "parameters": {"workers": 1}}),
        ),
        // One job: where a longer cycle's naming starts depends on the map order DynamoDB gives
        // the original (the unit tests hold graphlib's walk).
        Scenario::new("dag_cycle", json!({"type": "dag", "payload": {"d/kid_a": "d/kid_a"}})),
        Scenario::new(
            "foreach_range",
            json!({"type": "foreach", "payload": "d/kid_a", "parameters": {"foreach": {"type": "range", "stop": 2}}}),
        ),
        Scenario::new(
            "foreach_fail",
            json!({"type": "foreach", "payload": "d/kid_bad", "parameters": {"foreach": {"type": "inline", "values": [{"v": 1}]}}}),
        ),
        Scenario::new(
            "foreach_over_limit",
            json!({"type": "foreach", "payload": "d/kid_a", "parameters": {"limit": 2, "foreach": {"type": "range", "stop": 3}}}),
        ),
        Scenario::new(
            "foreach_query",
            json!({"type": "foreach", "payload": "d/kid_a", "parameters": {"foreach":
            {"type": "query", "conn_id": "pg", "query": "select n as x, 'p' || n as y from generate_series(1, 2) as n"}}}),
        ),
        Scenario::new(
            "foreach_s3list",
            json!({"type": "foreach", "payload": "d/kid_a", "parameters": {"foreach":
            {"type": "s3list", "bucket": bucket, "prefix": "fe/", "glob": "*.csv"}}}),
        ),
        Scenario::new(
            "foreach_bad",
            json!({"type": "foreach", "payload": "d/kid_a", "parameters": {"foreach": {"type": "nosuch"}}}),
        ),
    ];
    family.check(&scenarios).await;
}
