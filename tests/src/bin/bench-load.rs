//! `db_from_s3` against each database's own client loading the same CSV from a local file on
//! the same machine: into PostgreSQL against `psql \copy`, into MariaDB against `mariadb`'s
//! `LOAD DATA LOCAL INFILE`; rows per second of each and their ratio. The CSV (about 100 bytes
//! a row) is written to a local file, uploaded to moto's S3, loaded by a worker running in this
//! process (the time from the dispatch to the `complete` event, polled every 20 ms), then loaded
//! from the local file by the client into a table of its own.
//!
//! Run: `bash tests/setup.sh` once, then
//! `cargo build --profile fast -p lava-tests --bin bench-load && target/fast/bench-load [ROWS]`

use serde_json::json;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// A database the benchmark loads into.
#[derive(Clone, Copy)]
enum Db {
    Postgres,
    MariaDb,
}

impl Db {
    /// The lava connection (`TestRealm::put_sql_connections`) and the schema the tables go in.
    fn conn_and_schema(self) -> (&'static str, &'static str) {
        match self {
            Db::Postgres => ("pg", "public"),
            Db::MariaDb => ("my", "lava_test"),
        }
    }

    /// What `db_from_s3` is given to read the CSV (a header line, the rest as the reader's default).
    fn load_args(self) -> Vec<&'static str> {
        match self {
            Db::Postgres => vec!["FORMAT csv", "HEADER"],
            Db::MariaDb => vec!["HEADER"],
        }
    }

    /// Runs `sql` with the database's client; returns what it printed (fails the benchmark on an error).
    fn client(self, sql: &str) -> String {
        let mut command = match self {
            Db::Postgres => {
                let db = lava_tests::test_postgres();
                let mut psql = Command::new("psql");
                psql.args(["-h", &db.host, "-p", &db.port.to_string(), "-U", &db.user, "-d", "lava_test"])
                    .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
                    .env("PGPASSWORD", lava_tests::DB_PASSWORD);
                psql
            }
            Db::MariaDb => {
                let mut mariadb = Command::new("mariadb");
                mariadb
                    .args(["-h", "127.0.0.1", "-u", "lava", "lava_test", "--local-infile=1", "--batch"])
                    .args(["--skip-column-names", "-e", sql])
                    .env("MYSQL_PWD", lava_tests::DB_PASSWORD);
                mariadb
            }
        };
        let out = command.output().expect("the database's client (run bash tests/setup.sh)");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The client loading `file` into `table` (created first, outside the time): seconds.
    fn client_load(self, table: &str, file: &std::path::Path) -> f64 {
        let (_, schema) = self.conn_and_schema();
        self.client(&format!("CREATE TABLE {schema}.{table} (id BIGINT, text TEXT)"));
        let load = match self {
            Db::Postgres => format!("\\copy {schema}.{table} FROM '{}' WITH (FORMAT csv, HEADER)", file.display()),
            Db::MariaDb => format!(
                "LOAD DATA LOCAL INFILE '{}' INTO TABLE {schema}.{table} FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES",
                file.display()
            ),
        };
        let started = Instant::now();
        self.client(&load);
        started.elapsed().as_secs_f64()
    }

    /// Rows in `table`, which is then dropped.
    fn count_and_drop(self, table: &str) -> u64 {
        let (_, schema) = self.conn_and_schema();
        let count = self.client(&format!("SELECT count(*) FROM {schema}.{table}"));
        self.client(&format!("DROP TABLE {schema}.{table}"));
        count.trim().parse().unwrap_or(0)
    }
}

/// A `db_from_s3` job loading the uploaded CSV into a new table of `db`, run by a worker in this
/// process: seconds from the dispatch to the `complete` event; checks the rows.
async fn lava_load(r: &lava_tests::TestRealm, db: Db, rows: u64) -> f64 {
    let (conn_id, schema) = db.conn_and_schema();
    let table = lava_tests::unique("bench_lava_");
    let job_id = format!("bench/load-{conn_id}");
    r.put_job(json!({"job_id": job_id, "type": "db_from_s3", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"db_conn_id": conn_id, "bucket": r.names.local_bucket(), "key": "bench/rows.csv", "schema": schema,
            "table": table, "mode": "drop", "columns": ["id BIGINT", "text TEXT"], "args": db.load_args()}}))
        .await;
    let options =
        shared::worker::WorkerOptions { batch: false, ..lava_tests::worker_options(&r.names.realm, 1, vec![]) };
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let started = Instant::now();
    let run_id = r.dispatch(&job_id).await;
    let statuses = loop {
        let statuses = r.statuses(&job_id, &run_id).await;
        if statuses.iter().any(|s| s == "complete" || s == "failed") {
            break statuses;
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "the load did not end: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = running.await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{:?}", r.events(&job_id, &run_id).await);
    assert_eq!(db.count_and_drop(&table), rows);
    seconds
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

    println!("rows: {rows} ({:.0} MB of CSV)", size as f64 / 1e6);
    for (db, name, client) in
        [(Db::Postgres, "PostgreSQL", "psql \\copy (local file)"), (Db::MariaDb, "MariaDB", "LOAD DATA LOCAL INFILE")]
    {
        let lava = lava_load(&r, db, rows).await;
        let table = lava_tests::unique("bench_client_");
        let copied = db.client_load(&table, &file);
        assert_eq!(db.count_and_drop(&table), rows);
        println!("{name}: db_from_s3 (moto S3):   {lava:.2} s, {:.0} rows/s", rows as f64 / lava);
        println!("{name}: {client}: {copied:.2} s, {:.0} rows/s", rows as f64 / copied);
        println!("{name}: db_from_s3 / client throughput: {:.2}", copied / lava);
    }
    let _ = std::fs::remove_file(&file);
}
