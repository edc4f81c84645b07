//! `sqlv` end to end: the real `lava-worker` runs the job and the real `lava-sql` binary runs
//! the rendered files against PostgreSQL (secrets from moto), writing one output to S3.
//! (A separate test binary because Cargo gives a package's own binary paths to its tests.)

use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};
use std::process::Command;

/// Runs the worker until the queue is empty; returns what it logged.
fn run_worker(realm: &str) -> String {
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let done = Command::new(env!("CARGO_BIN_EXE_lava-worker"))
        .args(["--realm", realm, "--worker", "core", "--root", "--batch", "--wait", "1", "--threads", "1"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAVA_SQLV_COMMAND", env!("CARGO_BIN_EXE_lava-sql"))
        .env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-sqlv-")))
        .args(["--level", "debug"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&done.stderr).to_string();
    assert!(done.status.success(), "{log}");
    log
}

#[tokio::test]
async fn sqlv_runs_lava_sql_over_all_files_into_one_output() {
    let r = lava_tests::TestRealm::up("sqlv").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    let table = lava_tests::unique("v_");
    let a = format!(
        "create temp table {table} (id int, name text);\ninsert into {table} values (1, 'one'), (2, '{{{{ vars.two }}}}');\nselect id, name from {table} order by id;\n"
    );
    // b.sql includes c.inc, a payload file beside it (which, as a payload file, also runs).
    let b = "{% include \"c.inc\" %}\n";
    r.blobs
        .put_object(
            &bucket,
            &format!("payloads/sqlv/{table}/c.inc"),
            b"select 3 as id, 'three' as name;\n".to_vec(),
            &Encryption::Aes256,
        )
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, &format!("payloads/sqlv/{table}/a.sql"), a.into_bytes(), &Encryption::Aes256)
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, &format!("payloads/sqlv/{table}/b.sql"), b.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let job = |id: &str, params: Value| json!({"job_id": id, "type": "sqlv", "worker": "core", "enabled": true, "payload": format!("sqlv/{table}/"), "parameters": params});
    r.put_job(job("v/csv", json!({"conn_id": "pg", "header": true, "transaction": true, "vars": {"two": "two"}})))
        .await;
    let run_id = r.dispatch("v/csv").await;
    let log = run_worker(&r.names.realm);
    assert!(
        log.contains("v/csv") && !log.contains(lava_tests::DB_PASSWORD),
        "the worker's debug log never holds the password"
    );
    let item = r.events("v/csv", &run_id).await;
    assert!(!item.to_string().contains(lava_tests::DB_PASSWORD));
    assert_eq!(r.statuses("v/csv", &run_id).await, ["starting", "running", "complete"], "{item}");
    let result = &item["log"][2]["info"];
    assert_eq!(result["output"][0]["exit_status"], 0);
    assert_eq!(
        r.object_text(&result["output"][0]["stdout"]).await,
        "id|name\r\n1|one\r\n2|two\r\nid|name\r\n3|three\r\nid|name\r\n3|three\r\n",
        "each result set has its header, as in the original's"
    );
    let sql_log = r.object_text(&result["output"][0]["stderr"]).await;
    assert!(
        sql_log.contains(" completed, ") && !sql_log.contains(lava_tests::DB_PASSWORD),
        "lava-sql logs its progress, never the password"
    );

    r.put_job(job("v/jsonl", json!({"conn_id": "pg", "format": "jsonl", "vars": {"two": "2"}}))).await;
    r.put_job(json!({"job_id": "v/bad", "type": "sqlv", "worker": "core", "enabled": true, "payload": format!("sqlv/{table}/a.sql"), "parameters": {"conn_id": "nope"}})).await;
    r.put_job(job("v/parquet", json!({"conn_id": "pg", "format": "parquet", "batch_size": 2, "vars": {"two": "p"}})))
        .await;
    let jsonl = r.dispatch("v/jsonl").await;
    let parquet = r.dispatch("v/parquet").await;
    let bad = r.dispatch("v/bad").await;
    run_worker(&r.names.realm);
    let item = r.events("v/jsonl", &jsonl).await;
    assert_eq!(
        r.object_text(&item["log"][2]["info"]["output"][0]["stdout"]).await,
        "{\"id\": 1, \"name\": \"one\"}\n{\"id\": 2, \"name\": \"2\"}\n{\"id\": 3, \"name\": \"three\"}\n{\"id\": 3, \"name\": \"three\"}\n"
    );
    // Parquet: a row group per batch of two rows, the schema from the first; read back by pyarrow.
    let item = r.events("v/parquet", &parquet).await;
    assert_eq!(r.statuses("v/parquet", &parquet).await, ["starting", "running", "complete"], "{item}");
    let uri = item["log"][2]["info"]["output"][0]["stdout"].as_str().unwrap().to_string();
    let (bucket, key) = uri.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let file = std::env::temp_dir().join(lava_tests::unique("lava-out-")).with_extension("parquet");
    std::fs::write(&file, r.blobs.get_object(bucket, key).await.unwrap()).unwrap();
    let read = "import sys, pyarrow.parquet as pq\nf = pq.ParquetFile(sys.argv[1])\nprint(f.num_row_groups, f.schema_arrow)\nprint(f.read().to_pylist())";
    let out = Command::new(lava_tests::venv_tool("python")).args(["-c", read]).arg(&file).output().unwrap();
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("2 id: int64\nname: string\n"), "{text}");
    assert!(
        text.ends_with("[{'id': 1, 'name': 'one'}, {'id': 2, 'name': 'p'}, {'id': 3, 'name': 'three'}, {'id': 3, 'name': 'three'}]\n"),
        "{text}"
    );

    let item = r.events("v/bad", &bad).await;
    assert_eq!(r.statuses("v/bad", &bad).await, ["starting", "running", "failed"]);
    let failed = &item["log"][2]["info"];
    assert_eq!(failed["error"], "Failed with exit status 1");
    assert!(failed["error_data"]["error"].as_str().unwrap().contains("nope: No such connection"), "{failed}");
}

#[tokio::test]
async fn every_sql_job_type_runs_on_every_database_and_sqlc_times_out() {
    let r = lava_tests::TestRealm::up("sqlall").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    r.blobs
        .put_object(&bucket, "payloads/all/q.sql", b"select 6 * 7 as n;\n".to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, "payloads/all/slow.sql", b"select pg_sleep(30);\n".to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let mut runs = Vec::new();
    for conn in ["pg", "my", "lite"] {
        for kind in ["sql", "sqli", "sqlc", "sqlv"] {
            let id = format!("all/{kind}/{conn}");
            let payload = if kind == "sqli" { json!("select 6 * 7 as n") } else { json!("all/q.sql") };
            let mut params = json!({"conn_id": conn});
            if kind != "sqlc" {
                params["header"] = json!(true);
            }
            r.put_job(json!({"job_id": id, "type": kind, "worker": "core", "enabled": true, "payload": payload, "parameters": params})).await;
            runs.push((id.clone(), kind, r.dispatch(&id).await));
        }
    }
    r.put_job(json!({"job_id": "all/slow", "type": "sqlc", "worker": "core", "enabled": true, "payload": "all/slow.sql", "parameters": {"conn_id": "pg", "timeout": "1s"}})).await;
    let slow = r.dispatch("all/slow").await;
    run_worker(&r.names.realm);
    for (id, kind, run_id) in runs {
        let item = r.events(&id, &run_id).await;
        assert_eq!(r.statuses(&id, &run_id).await, ["starting", "running", "complete"], "{id}: {item}");
        let result = &item["log"][2]["info"];
        let uri = match kind {
            "sql" => &result["output"]["q.sql"][0],
            "sqli" => &result["output"]["0"][0],
            _ => &result["output"][0]["stdout"],
        };
        let out = r.object_text(uri).await;
        if kind == "sqlc" {
            assert!(out.contains("42"), "{id}: the client printed {out:?}");
        } else {
            assert_eq!(out, "n\r\n42\r\n", "{id}");
        }
    }
    let item = r.events("all/slow", &slow).await;
    assert_eq!(r.statuses("all/slow", &slow).await, ["starting", "running", "failed"]);
    let failed = &item["log"][2]["info"];
    assert_eq!(
        (failed["error"].as_str(), failed["error_data"]["exit_status"].as_i64()),
        (Some("Timed out after 1.0 seconds"), Some(28))
    );
}

/// Runs `command` under the venv's Python, which waits for it alone and reports its peak
/// resident memory (`ru_maxrss` of its children: this one process); returns its output and
/// that peak in KiB.
fn with_peak_memory(command: &Command) -> (std::process::Output, u64) {
    let wrap = "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:])\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\nsys.exit(r.returncode)";
    let mut wrapped = Command::new(lava_tests::venv_tool("python"));
    wrapped.args(["-c", wrap]).arg(command.get_program()).args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    let out = wrapped.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let peak = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("no peak: {stderr}"));
    (out, peak)
}

/// Peak memory allowed to a process writing a result of any size (issue 34: under 100 MiB).
const MEMORY_BOUND_KIB: u64 = 100 * 1024;

/// A result bigger than the bound: 1,200,000 rows of about 110 bytes (about 132 MB as CSV).
const BIG_QUERY: &str = "select g, repeat('x', 100) as pad from generate_series(1, 1200000) g";

#[tokio::test]
async fn results_larger_than_the_memory_bound_stream_to_s3_from_lava_sql_and_the_worker() {
    let r = lava_tests::TestRealm::up("big").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let aws = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let sql = std::env::temp_dir().join(lava_tests::unique("lava-big-")).with_extension("sql");
    std::fs::write(&sql, format!("{BIG_QUERY};\n")).unwrap();
    let mut lava_sql = Command::new(env!("CARGO_BIN_EXE_lava-sql"));
    lava_sql.args(["-r", &r.names.realm, "-c", "pg", "-o", &format!("s3://{bucket}/big/out.csv")]).arg(&sql);
    lava_sql.envs(aws);
    let (out, peak) = with_peak_memory(&lava_sql);
    let _ = std::fs::remove_file(&sql);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let size = r.blobs.object_size(&bucket, "big/out.csv").await.unwrap().expect("the output object");
    assert!(size > MEMORY_BOUND_KIB * 1024, "the result ({size} bytes) is larger than the bound");
    assert!(peak < MEMORY_BOUND_KIB, "lava-sql peaked at {peak} KiB writing {size} bytes");

    // The worker's own SQL runner (sqli) streams its result set the same way.
    let job = json!({"job_id": "big/sqli", "type": "sqli", "worker": "core", "enabled": true, "payload": BIG_QUERY, "parameters": {"conn_id": "pg"}});
    r.put_job(job).await;
    let run_id = r.dispatch("big/sqli").await;
    let mut worker = Command::new(env!("CARGO_BIN_EXE_lava-worker"));
    worker.args(["--realm", &r.names.realm, "--worker", "core", "--root", "--batch", "--wait", "1", "--threads", "1"]);
    worker.envs(aws).env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-big-")));
    let (out, peak) = with_peak_memory(&worker);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let item = r.events("big/sqli", &run_id).await;
    assert_eq!(r.statuses("big/sqli", &run_id).await, ["starting", "running", "complete"], "{item}");
    let uri = item["log"][2]["info"]["output"]["0"][0].as_str().unwrap().to_string();
    let (obucket, key) = uri.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let size = r.blobs.object_size(obucket, key).await.unwrap().expect("the result object");
    assert!(size > MEMORY_BOUND_KIB * 1024, "the result ({size} bytes) is larger than the bound");
    assert!(peak < MEMORY_BOUND_KIB, "the worker peaked at {peak} KiB writing {size} bytes");
}

/// One query per engine over the types the original's drivers print their own way.
const TYPED_QUERIES: [(&str, &str); 3] = [
    (
        "pg",
        "set time zone 'UTC';\nselect 1::int2 as a, 2::int8 as b, 1.50::numeric(5,2) as c, 1.5::float8 as d, 1e20::float8 as e, \
         'NaN'::float8 as f, true as g, false as h, null::text as i, 'x|y \"q\"' as j, '2024-01-02 03:04:05.12+00'::timestamptz as k, \
         '2024-01-02 03:04:05'::timestamp as l, '2024-01-02'::date as m, '10:11:12.5'::time as n, '\\x00ff27'::bytea as o, \
         '{\"a\": [1, true, null]}'::jsonb as p, 'é€' as q, 2.0::float4 as r;\nselect 'second' as s;\n",
    ),
    (
        "my",
        "select cast(1 as signed) as a, 1.50 as c, cast(1.5 as double) as d, true as g, null as i, 'x|y \"q\"' as j, \
         timestamp'2024-01-02 03:04:05.12' as k, date'2024-01-02' as m, time'10:11:12.5' as n, x'00ff27' as o, 'é€' as q;\n",
    ),
    ("lite", "select 1 as a, 1.5 as b, 'x|y' as c, x'00ff27' as d, null as e, 1e20 as f;\n"),
];

#[tokio::test]
async fn lava_sql_prints_every_type_as_the_original_s_does() {
    let r = lava_tests::TestRealm::up_on_original_tables("types").await;
    r.put_sql_connections().await;
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-types-"));
    std::fs::create_dir_all(&dir).unwrap();
    let formats: [&[&str]; 5] = [
        &["--header", "--quoting", "nonnumeric", "--doublequote"],
        &["--format", "jsonl", "--sort-keys"],
        &["--format", "jsonl"],
        &["--format", "html", "--header"],
        &["--format", "html"],
    ];
    for (conn, query) in TYPED_QUERIES {
        let sql = dir.join(format!("{conn}.sql"));
        std::fs::write(&sql, query).unwrap();
        for options in formats {
            let [ours, theirs] = ["ours", "theirs"].map(|side| dir.join(format!("{conn}-{side}.out")));
            let mut our_command = Command::new(env!("CARGO_BIN_EXE_lava-sql"));
            lava_tests::emulator_env(&mut our_command);
            let mut their_command = lava_tests::original::command("lava-sql");
            for (command, out) in [(&mut our_command, &ours), (&mut their_command, &theirs)] {
                command.args(["-r", &r.names.realm, "-c", conn]).args(options).arg("-o").arg(out).arg(&sql);
                let done = command.output().unwrap();
                assert!(done.status.success(), "{conn} {options:?}: {}", String::from_utf8_lossy(&done.stderr));
            }
            let [ours, theirs] = [ours, theirs].map(|f| std::fs::read_to_string(f).unwrap());
            assert!(theirs.len() > 20, "{conn} {options:?}: the original wrote {theirs:?}");
            assert_eq!(ours, theirs, "{conn} {options:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
