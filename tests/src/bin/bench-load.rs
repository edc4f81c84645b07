//! `db_from_s3` into PostgreSQL against `psql \copy` of the same CSV on the same machine: rows
//! per second of each and their ratio. The CSV (about 100 bytes a row) is written to a local
//! file, uploaded to moto's S3, loaded by a worker running in this process (the time from the
//! dispatch to the `complete` event, polled every 20 ms), then copied from the local file by
//! `psql` into a table of its own.
//!
//! Run: `bash tests/setup.sh` once, then
//! `cargo build --profile fast -p lava-tests --bin bench-load && target/fast/bench-load [ROWS]`

use serde_json::json;
use shared::sql::driver::Session;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

async fn count_and_drop(table: &str) -> u64 {
    let mut session = Session::connect(&lava_tests::test_postgres(), None, Duration::from_secs(10)).await.unwrap();
    let row = session.first_row(&format!("SELECT count(*) FROM {table}")).await.unwrap();
    session.execute(&format!("DROP TABLE {table}")).await.unwrap();
    session.close().await;
    row.and_then(|f| f.into_iter().next()).and_then(|f| f.text).and_then(|t| t.parse().ok()).unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::args().nth(1).map(|n| n.parse().expect("ROWS is a number")).unwrap_or(3_000_000);
    let r = lava_tests::TestRealm::up("bld").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();

    let file = std::env::temp_dir().join(lava_tests::unique("lava-bench-load-")).with_extension("csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(out, "id,text").unwrap();
        let text = "x".repeat(92);
        for i in 0..rows {
            writeln!(out, "{i},{text}").unwrap();
        }
    }
    let size = std::fs::metadata(&file).unwrap().len();
    let status = lava_tests::emulator_env(&mut Command::new(lava_tests::venv_tool("aws")))
        .args(["s3", "cp", &file.display().to_string(), &format!("s3://{bucket}/bench/rows.csv")])
        .args(["--only-show-errors"])
        .status()
        .unwrap();
    assert!(status.success(), "the upload failed");

    let lava_table = lava_tests::unique("bench_lava_");
    r.put_job(json!({"job_id": "bench/load", "type": "db_from_s3", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"db_conn_id": "pg", "bucket": bucket, "key": "bench/rows.csv", "schema": "public",
            "table": lava_table, "mode": "drop", "columns": ["id BIGINT", "text TEXT"], "args": ["FORMAT csv", "HEADER"]}}))
        .await;
    let options =
        shared::worker::WorkerOptions { batch: false, ..lava_tests::worker_options(&r.names.realm, 1, vec![]) };
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let started = Instant::now();
    let run_id = r.dispatch("bench/load").await;
    let statuses = loop {
        let statuses = r.statuses("bench/load", &run_id).await;
        if statuses.iter().any(|s| s == "complete" || s == "failed") {
            break statuses;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "the load did not end: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let lava = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = running.await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{:?}", r.events("bench/load", &run_id).await);
    assert_eq!(count_and_drop(&format!("public.{lava_table}")).await, rows);

    let db = lava_tests::test_postgres();
    let psql_table = lava_tests::unique("bench_psql_");
    let psql = |command: &str| {
        let out = Command::new("psql")
            .args([
                "-h",
                &db.host,
                "-p",
                &db.port.to_string(),
                "-U",
                &db.user,
                "-d",
                "lava_test",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", command])
            .env("PGPASSWORD", lava_tests::DB_PASSWORD)
            .output()
            .expect("psql (run bash tests/setup.sh)");
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    };
    psql(&format!("CREATE TABLE public.{psql_table} (id BIGINT, text TEXT)"));
    let copying = Instant::now();
    psql(&format!("\\copy public.{psql_table} FROM '{}' WITH (FORMAT csv, HEADER)", file.display()));
    let copied = copying.elapsed().as_secs_f64();
    assert_eq!(count_and_drop(&format!("public.{psql_table}")).await, rows);
    let _ = std::fs::remove_file(&file);

    println!("rows: {rows} ({:.0} MB of CSV)", size as f64 / 1e6);
    println!("db_from_s3 (moto S3 -> COPY FROM STDIN): {lava:.2} s, {:.0} rows/s", rows as f64 / lava);
    println!("psql \\copy (local file):                 {copied:.2} s, {:.0} rows/s", rows as f64 / copied);
    println!("db_from_s3 / psql \\copy throughput:       {:.2}", copied / lava);
}
