//! The worker image (`Dockerfile`): its `runtime` stage, built on a locally made Debian 12 base
//! (`lava-test/debian:bookworm` from `tests/setup.sh`, standing in for `debian:bookworm-slim`;
//! no registry is reachable here), with this build's `lava-worker`, `lava-sql` and `lava` mounted
//! where the last stage copies them. The worker runs inside the container (host network: moto
//! and the test databases on loopback) and its jobs use what the image installs: psql for a
//! `sqlc` job, lava-sql for `sqlv`, the `lava` Python package with PyMySQL (through `lava
//! connection resolve`) for an `exe` job, and the other clients.
//! (In the worker package because Cargo gives a package's own binary paths to its tests.)

use serde_json::json;
use shared::ports::{BlobStore, Encryption};
use std::path::PathBuf;
use std::process::Command;

const BASE_IMAGE: &str = "lava-test/debian:bookworm";
const RUNTIME_IMAGE: &str = "lava-test/worker-runtime:test";

const PYTHON_JOB: &str = r#"#!/usr/bin/env python3
import os, shutil, subprocess
from lava.connection import get_pysql_connection

conn = get_pysql_connection(os.environ['LAVA_CONNID_DB'], os.environ['LAVA_REALM'])
cursor = conn.cursor()
cursor.execute('select 6 * 7')
print('answer', cursor.fetchone()[0])
conn.close()
for tool in ['psql', 'mysql', 'sqlite3', 'aws', 'unzip', 'bash']:
    print(tool, 'found' if shutil.which(tool) else 'missing')
print(subprocess.run(['aws', '--version'], capture_output=True, text=True).stdout.split('/')[0])
"#;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("the docker client runs")
}

fn binary(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_lava-worker")).parent().unwrap().to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p lava-cli` (`cargo test --workspace` does)",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_worker_image_runs_jobs_with_the_tools_it_installs() {
    lava_tests::require_docker();
    assert!(
        docker(&["image", "inspect", BASE_IMAGE]).status.success(),
        "the base image {BASE_IMAGE} is missing: run `bash tests/setup.sh` (.ci/run does)"
    );
    let root = lava_tests::workspace_root();
    let build = docker(&[
        "build",
        "--network",
        "host",
        "--target",
        "runtime",
        "--build-arg",
        &format!("BASE_IMAGE={BASE_IMAGE}"),
        "-t",
        RUNTIME_IMAGE,
        root.to_str().unwrap(),
    ]);
    assert!(
        build.status.success(),
        "docker build --target runtime:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let r = lava_tests::TestRealm::up("image").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    r.blobs
        .put_object(&bucket, "payloads/img/q.sql", b"select 6 * 7 as n;\n".to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, "payloads/img/job.py", PYTHON_JOB.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let jobs = [
        json!({"job_id": "img/sqlc", "type": "sqlc", "worker": "core", "enabled": true, "payload": "img/q.sql", "parameters": {"conn_id": "pg"}}),
        json!({"job_id": "img/sqlv", "type": "sqlv", "worker": "core", "enabled": true, "payload": "img/q.sql", "parameters": {"conn_id": "pg", "header": true}}),
        json!({"job_id": "img/py", "type": "exe", "worker": "core", "enabled": true, "payload": "img/job.py", "parameters": {"connections": {"db": "my"}, "jinja": false}}),
    ];
    let mut runs = Vec::new();
    for job in jobs {
        let id = job["job_id"].as_str().unwrap().to_string();
        r.put_job(job).await;
        runs.push((id.clone(), r.dispatch(&id).await));
    }

    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let mount = |name: &str| format!("{}:/usr/local/bin/{name}:ro", binary(name).display());
    let container = format!("lava-image-test-{}", std::process::id());
    let run = docker(&[
        "run",
        "--rm",
        "--name",
        &container,
        "--network",
        "host",
        "-v",
        &mount("lava-worker"),
        "-v",
        &mount("lava-sql"),
        "-v",
        &mount("lava"),
        "-e",
        &format!("AWS_ENDPOINT_URL={endpoint}"),
        "-e",
        "AWS_REGION=us-east-1",
        "-e",
        "AWS_ACCESS_KEY_ID=test",
        "-e",
        "AWS_SECRET_ACCESS_KEY=test",
        RUNTIME_IMAGE,
        "lava-worker",
        "--realm",
        &r.names.realm,
        "--worker",
        "core",
        "--root",
        "--batch",
        "--wait",
        "1",
        "--threads",
        "1",
    ]);
    let log = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "the worker in the image: {log}");

    for (id, run_id) in &runs {
        let item = r.events(id, run_id).await;
        assert_eq!(r.statuses(id, run_id).await, ["starting", "running", "complete"], "{id}: {item}");
        let stdout = r.object_text(&item["log"][2]["info"]["output"][0]["stdout"]).await;
        match id.as_str() {
            "img/sqlc" => assert!(stdout.contains("42"), "psql in the image printed {stdout:?}"),
            "img/sqlv" => assert_eq!(stdout, "n\r\n42\r\n", "lava-sql in the image"),
            _ => assert_eq!(
                stdout,
                "answer 42\npsql found\nmysql found\nsqlite3 found\naws found\nunzip found\nbash found\naws-cli\n",
                "the lava Python package, PyMySQL and the clients in the image"
            ),
        }
    }
}
