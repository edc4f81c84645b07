//! A `db_from_s3` load bigger than the worker could hold: 200 MB of CSV generated on the fly into
//! moto's S3, loaded into PostgreSQL by a `lava-worker` process whose peak memory (VmHWM) is
//! read before it stops. Streamed, the peak stays a small fraction of the object.
//! (A separate test binary only because Cargo gives a package's own binary path to its tests.)

use serde_json::json;
use shared::ports::BlobStore;
use shared::sql::driver::Session;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: u64 = 2_000_000;

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn count(table: &str) -> String {
    let db = lava_tests::test_postgres();
    let mut session = Session::connect(&db, None, Duration::from_secs(10)).await.unwrap();
    let row = session.first_row(&format!("SELECT count(*) FROM {table}")).await.unwrap();
    session.execute(&format!("DROP TABLE {table}")).await.unwrap();
    session.close().await;
    row.and_then(|fields| fields.into_iter().next()).and_then(|f| f.text).unwrap_or_default()
}

#[tokio::test]
async fn a_200_mb_object_loads_into_postgres_with_a_small_peak() {
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = lava_tests::TestRealm::up("big").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    let started = Instant::now();
    // Rows of about 100 bytes, written by Python straight into the AWS CLI's streaming upload.
    let generate = format!(
        "import sys\nw = sys.stdout.write\nw('id,text\\n')\nfor i in range({ROWS}):\n    w('%d,%s\\n' % (i, 'x' * 92))\n"
    );
    let upload = format!(
        "{python} -c \"$1\" | {aws} s3 cp - s3://{bucket}/big/rows.csv --only-show-errors",
        python = lava_tests::venv_tool("python").display(),
        aws = lava_tests::venv_tool("aws").display(),
    );
    let status =
        lava_tests::emulator_env(&mut Command::new("sh")).args(["-c", &upload, "sh", &generate]).status().unwrap();
    assert!(status.success(), "the upload failed");
    let size = r.blobs.list_objects(&bucket, "big/rows.csv", None).await.unwrap().objects[0].size;
    assert!(size > 195_000_000, "{size} bytes");
    let uploaded = started.elapsed();

    let table = lava_tests::unique("big_");
    r.put_job(json!({"job_id": "load/big", "type": "db_from_s3", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"db_conn_id": "pg", "bucket": bucket, "key": "big/rows.csv", "schema": "public", "table": table,
            "mode": "drop", "columns": ["id BIGINT", "text TEXT"], "args": ["FORMAT csv", "HEADER"]}}))
        .await;
    let run_id = r.dispatch("load/big").await;
    let mut worker = Command::new(env!("CARGO_BIN_EXE_lava-worker"))
        .args(["--realm", &r.names.realm, "--worker", "core", "--root", "--wait", "1"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-big-")))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let loading = Instant::now();
    let deadline = loading + Duration::from_secs(300);
    let statuses = loop {
        let statuses = r.statuses("load/big", &run_id).await;
        if statuses.iter().any(|s| s == "complete" || s == "failed") {
            break statuses;
        }
        assert!(Instant::now() < deadline, "the load did not end within 300 s: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let loaded = loading.elapsed();
    let peak = peak_kib(worker.id());
    let _ = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status();
    let _ = worker.wait();
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{:?}", r.events("load/big", &run_id).await);
    assert_eq!(count(&format!("public.{table}")).await, ROWS.to_string());
    println!(
        "db_from_s3: {:.0} MB in {:.1} s into PostgreSQL ({:.1} s to generate and upload); worker peak memory {:.1} MiB",
        size as f64 / 1e6,
        loaded.as_secs_f64(),
        uploaded.as_secs_f64(),
        peak as f64 / 1024.0
    );
    assert!(peak > 0 && peak < 100 * 1024, "the worker's peak ({peak} KiB) shows the object was not streamed");
}
