//! The local realm and the CLI against moto.

use clap::Parser;
use lava_tests::{clients, emulator, unique, workspace_root};
use shared::aws::{DynamoTables, SqsQueues};
use shared::catalog::Catalog;
use shared::names::ResourceNames;
use shared::ports::WorkQueue;
use std::sync::Arc;

fn lava(args: &[&str]) -> lava_cli::Cli {
    let mut all = vec!["lava", "--endpoint-url", &emulator().endpoint_url, "--region", "us-east-1"];
    all.extend_from_slice(args);
    lava_cli::Cli::parse_from(all)
}

#[tokio::test]
async fn bringing_a_realm_up_creates_its_resources_and_loads_the_samples() {
    let realm = unique("lr");
    let listing = lava_cli::bring_up(
        &emulator().endpoint_url,
        &realm,
        Some("us-east-1".into()),
        &workspace_root().join("samples/jobs"),
    )
    .await
    .unwrap();
    assert!(listing.contains("demo/hello") && listing.contains("demo/log"), "{listing}");

    let clients = clients().await;
    let names = ResourceNames::for_realm(&realm);
    let catalog = Catalog::new(Arc::new(DynamoTables::new(clients.dynamodb.clone())), names.clone());
    let entry = catalog.realm().await.unwrap();
    assert_eq!(entry.s3_temp, format!("s3://{}/tmp", names.local_bucket()));
    assert_eq!(catalog.job("demo/hello").await.unwrap().worker, "core");

    let queues = SqsQueues::new(clients.sqs.clone());
    for queue in [names.worker_queue("core"), names.dispatch_queue.clone(), names.actions_queue.clone()] {
        queues.queue_url(&queue).await.unwrap_or_else(|e| panic!("{queue}: {e}"));
        queues
            .queue_url(&ResourceNames::dead_letter_queue(&queue))
            .await
            .unwrap_or_else(|e| panic!("{queue} DLQ: {e}"));
    }

    let again = lava_cli::bring_up(
        &emulator().endpoint_url,
        &realm,
        Some("us-east-1".into()),
        &workspace_root().join("samples/jobs"),
    )
    .await
    .unwrap();
    assert_eq!(again, listing, "bringing a realm up twice changes nothing");
}

#[tokio::test]
async fn cli_puts_gets_and_refuses_invalid_specs() {
    let realm = unique("cl");
    lava_cli::bring_up(
        &emulator().endpoint_url,
        &realm,
        Some("us-east-1".into()),
        &workspace_root().join("samples/jobs"),
    )
    .await
    .unwrap();
    let fixtures = workspace_root().join("tests/fixtures/specs");
    let jobs = fixtures.join("jobs.json");

    // The spec's examples name children they do not define.
    let out =
        lava_cli::run(lava(&["--realm", &realm, "job", "put", "--allow-missing-children", jobs.to_str().unwrap()]))
            .await
            .unwrap();
    assert!(out.ends_with(&format!("18 written to realm {realm}")), "{out}");
    let got = lava_cli::run(lava(&["--realm", &realm, "job", "get", "demo/sqli/refresh"])).await.unwrap();
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["parameters"]["conn_id"], "mysql-conn-01");

    let bad_dir = tempdir();
    let bad = bad_dir.join("bad.yaml");
    std::fs::write(&bad, "job_id: finance/x\ntype: cmd\nworker: core\npayload: echo\niteration_delay: 7m\n").unwrap();
    let err = lava_cli::run(lava(&["--realm", &realm, "job", "put", jobs.to_str().unwrap(), bad.to_str().unwrap()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("error: jobs[finance/x].iteration_delay: 7m is over the 5m maximum"), "{err}");
    let missing = lava_cli::run(lava(&["--realm", &realm, "job", "get", "finance/x"])).await.unwrap_err();
    assert_eq!(missing.to_string(), "job finance/x: not found", "nothing from a refused batch is written");

    // A pipeline's children must exist, in the batch or in the realm.
    let orphan = bad_dir.join("orphan.yaml");
    std::fs::write(&orphan, "job_id: p/chain\ntype: chain\nworker: core\npayload: demo/sqli/refresh, p/missing\n")
        .unwrap();
    let err = lava_cli::run(lava(&["--realm", &realm, "job", "put", orphan.to_str().unwrap()])).await.unwrap_err();
    assert!(err.to_string().contains("jobs[p/chain].payload: p/missing: No such job"), "{err}");
    assert!(lava_cli::run(lava(&["--realm", &realm, "job", "get", "p/chain"])).await.is_err(), "nothing written");

    let conns = fixtures.join("connections.json");
    lava_cli::run(lava(&["--realm", &realm, "connection", "put", conns.to_str().unwrap()])).await.unwrap();
    let conn = lava_cli::run(lava(&["--realm", &realm, "connection", "get", "slack-ops"])).await.unwrap();
    assert!(conn.contains("\"webhook_url\""), "{conn}");
    let realm_entry = lava_cli::run(lava(&["--realm", &realm, "realm", "get"])).await.unwrap();
    assert!(realm_entry.contains(&format!("\"realm\": \"{realm}\"")), "{realm_entry}");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique("lava-test-"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_state_commands_put_get_and_list_items() {
    let realm = unique("st");
    lava_cli::bring_up(
        &emulator().endpoint_url,
        &realm,
        Some("us-east-1".into()),
        &workspace_root().join("samples/jobs"),
    )
    .await
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--realm", realm.as_str(), "state"];
        all.extend_from_slice(args);
        lava_cli::run(lava(&all))
    };
    run(&["put", "load-stats", "-p", "rows=42", "-p", "table=sales", "--publisher", "ops"]).await.unwrap();
    run(&["put", "api-token", "-v", "s3cr3t", "--type", "secure", "--ttl", "1h"]).await.unwrap();
    run(&["put", "counts", "-p", "n=1", "--type", "raw"]).await.unwrap();
    assert_eq!(run(&["get", "load-stats"]).await.unwrap(), "{'rows': '42', 'table': 'sales'}");
    assert_eq!(
        run(&["get", "load-stats", "{{ s.rows }} rows in {{ state.table }}"]).await.unwrap(),
        "42 rows in sales"
    );
    assert_eq!(
        run(&["get", "api-token"]).await.unwrap(),
        "s3cr3t",
        "the secure item is decrypted with the realm's KMS key"
    );
    assert_eq!(run(&["get", "counts", "{{ state.n }}"]).await.unwrap(), "1");
    let listing = run(&["list"]).await.unwrap();
    assert!(listing.contains("api-token") && listing.contains("secure") && listing.contains("ops"), "{listing}");
    assert!(run(&["get", "missing"]).await.unwrap_err().to_string().contains("missing: not found"));
    assert_eq!(run(&["get", "-i", "missing"]).await.unwrap(), "");
    assert!(run(&["put", "lava-x", "-v", "1"]).await.unwrap_err().to_string().contains("reserved"));
    assert!(run(&["get", "LAVA-x"]).await.unwrap_err().to_string().contains("reserved"));

    // The secure value is ciphertext in the table.
    let clients = clients().await;
    let tables = DynamoTables::new(clients.dynamodb.clone());
    use shared::ports::TableStore;
    let key = serde_json::json!({"state_id": "api-token"});
    let item = tables
        .get_item(&ResourceNames::for_realm(&realm).state_table, key.as_object().unwrap(), true)
        .await
        .unwrap()
        .unwrap();
    assert!(item["value"]["$binary"].is_string() && !item["value"].to_string().contains("s3cr3t"));
}
