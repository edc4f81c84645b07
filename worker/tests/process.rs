//! `lava-worker` as a process: SIGTERM during a job stops it after the grace period, records
//! that the run was released, makes the message visible again and exits cleanly.
//! (A separate test binary only because Cargo gives a package's own binary path to its tests.)

use serde_json::json;
use shared::aws::{DynamoTables, SqsQueues};
use shared::catalog::Catalog;
use shared::dispatch::{DispatchRequest, dispatch};
use shared::model::JobSpec;
use shared::names::ResourceNames;
use shared::ports::{TableStore, WorkQueue};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_during_a_job_releases_it_and_exits_cleanly() {
    let endpoint = tests::emulator().endpoint_url.clone();
    let realm = tests::unique("sig");
    cli::bring_up(&endpoint, &realm, Some("us-east-1".into()), &tests::workspace_root().join("samples/jobs")).await.unwrap();
    let clients = tests::clients().await;
    let tables = Arc::new(DynamoTables::new(clients.dynamodb.clone()));
    let queues = SqsQueues::new(clients.sqs.clone());
    let names = ResourceNames::for_realm(&realm);
    let catalog = Catalog::new(tables.clone(), names.clone());
    let spec = json!({"job_id": "it/sleepy", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 60"});
    catalog.put_job(&JobSpec::from_value(&spec).unwrap()).await.unwrap();
    let run_id = dispatch(&catalog, &queues, &DispatchRequest { job_id: "it/sleepy".into(), ..Default::default() }).await.unwrap().run_id;

    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-worker"))
        .args(["--realm", &realm, "--worker", "core", "--root", "--grace", "1", "--wait", "1", "--log-json"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAVA_TMPDIR", std::env::temp_dir().join(tests::unique("lava-sig-")))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let key = json!({"job_id": "it/sleepy", "run_id": run_id});
    let statuses = || async {
        let item = tables.get_item(&names.events_table, key.as_object().unwrap(), true).await.unwrap().unwrap_or_default();
        item.get("log").and_then(|l| l.as_array()).map(|l| l.iter().map(|e| e["status"].as_str().unwrap().to_string()).collect::<Vec<_>>()).unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !statuses().await.contains(&"running".to_string()) {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    assert!(signalled.elapsed() < Duration::from_secs(15), "stopped after the grace period, not after the job's 60 s");
    assert_eq!(statuses().await, ["starting", "running", "retrying"]);
    let queue = queues.queue_url(&names.worker_queue("core")).await.unwrap();
    let again = queues.receive(&queue, 1, 2).await.unwrap();
    assert!(again.len() == 1 && again[0].body.contains(&run_id), "the message is back on the queue for another worker");
}
