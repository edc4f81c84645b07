//! `db_from_s3` against real servers: objects in moto's S3 loaded into PostgreSQL 15 and SQLite
//! by the worker, in every mode, with the options the loaders take, and failures that leave the
//! table as it was.

use crate::sql::run;
use lava_tests::{TestRealm, unique};
use serde_json::{Value, json};
use shared::connections::{Database, Engine};
use shared::ports::{BlobStore, Encryption};
use shared::sql::csv::Field;
use shared::sql::driver::{RowSink, Session};
use std::time::Duration;

async fn put(r: &TestRealm, key: &str, body: impl Into<Vec<u8>>) {
    r.blobs.put_object(&r.names.local_bucket(), key, body.into(), &Encryption::Aes256).await.unwrap();
}

async fn job(r: &TestRealm, id: &str, parameters: Value) {
    r.put_job(json!({"job_id": id, "type": "db_from_s3", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": null, "parameters": parameters}))
        .await;
}

/// gzip of `text`, by the system's gzip.
fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    child.wait_with_output().unwrap().stdout
}

/// Every row of a query, fields joined by `|`.
pub(crate) async fn rows(db: &Database, query: &str) -> Vec<String> {
    struct Rows(Vec<String>);
    #[async_trait::async_trait]
    impl RowSink for Rows {
        async fn columns(&mut self, _: &[String]) -> shared::Result<()> {
            Ok(())
        }
        async fn row(&mut self, fields: Vec<Field>) -> shared::Result<()> {
            self.0.push(
                fields.into_iter().map(|f| f.text.unwrap_or_else(|| "NULL".into())).collect::<Vec<_>>().join("|"),
            );
            Ok(())
        }
    }
    let mut session = Session::connect(db, None, Duration::from_secs(10)).await.unwrap();
    let mut sink = Rows(Vec::new());
    session.run(query, &mut sink).await.unwrap();
    session.close().await;
    sink.0
}

fn postgres() -> Database {
    lava_tests::test_postgres()
}

fn sqlite(path: &std::path::Path) -> Database {
    Database::sqlite("lite", &path.display().to_string())
}

/// The test MariaDB server's `lava_test` database, as the `my` connection resolves.
fn mariadb() -> Database {
    Database {
        conn_id: "my".into(),
        kind: shared::model::ConnectionType::Mariadb,
        engine: Engine::MySql,
        port: 3306,
        database: Some("lava_test".into()),
        ..postgres()
    }
}

/// A PostgreSQL cluster of the test's own that logs every statement (standing in for a server
/// that cannot run here), running `setup`; with a connection `conn_id` of `kind` to it and an
/// `aws` connection `s3keys` holding `keys`. Returns the cluster (stopped on drop), its log file
/// and the realm.
pub(crate) async fn stand_in(
    prefix: &str,
    setup: &str,
    conn_id: &str,
    kind: &str,
    keys: &str,
) -> (lava_tests::pg_cluster::Server, std::path::PathBuf, TestRealm) {
    let r = TestRealm::up(prefix).await;
    r.put_sql_connections().await;
    let (server, log) = lava_tests::pg_cluster::stand_in(&r, setup, conn_id, kind, keys).await;
    (server, log, r)
}

#[tokio::test]
async fn postgres_loads_by_copy_in_every_simple_mode_and_a_failed_load_changes_nothing() {
    let r = TestRealm::up("dfspg").await;
    r.put_sql_connections().await;
    let schema = unique("s_");
    let pg = postgres();
    rows(&pg, &format!("CREATE SCHEMA {schema}")).await;
    let bucket = r.names.local_bucket();
    put(&r, "in/Sales.csv", "id,name\n1,ant\n2,\"bee, the\"\n").await;
    put(&r, "in/more.csv.gz", gzip("id,name\n3,cat\n")).await;
    put(&r, "in/bad.csv", "id,name\n4,dog\nx,eel\n").await;
    put(&r, "in/tiny.csv", "id\n").await;
    let manifest = json!({"entries": [{"url": format!("s3://{bucket}/in/Sales.csv")}, {"url": format!("s3://{bucket}/in/tiny.csv")}]});
    put(&r, "in/load.manifest", manifest.to_string()).await;
    let base = json!({"db_conn_id": "pg", "bucket": "{{ vars.bucket }}", "vars": {"bucket": bucket},
        "schema": schema, "args": ["FORMAT csv", "HEADER"], "columns": ["id INTEGER", "name TEXT"]});
    let with = |extra: Value| {
        let mut p = base.clone();
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p
    };

    // truncate on a missing table creates it; the table name comes from the key by regex.
    job(&r, "load/create", with(json!({"key": "in/Sales.csv", "table": "/in/(\\w+)", "mode": "truncate"}))).await;
    let (statuses, result) = run(&r, "load/create").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    let target = format!("\"{schema}\".\"sales\"");
    assert_eq!(
        result["events"],
        json!([
            format!("Creating table {target}"),
            format!("Created table {target}"),
            format!("Running COPY command(s) for {schema}.sales"),
            format!("COPY command: COPY {target}(\"id\",\"name\") FROM STDIN WITH (FORMAT csv, HEADER)"),
            format!("Copying s3://{bucket}/in/Sales.csv"),
            "Copy complete",
            "COPY 2",
            format!("Commit {target}")
        ])
    );
    assert_eq!((result["bucket"].as_str(), result["key"].as_str()), (Some(bucket.as_str()), Some("in/Sales.csv")));
    let table = format!("{schema}.sales");
    assert_eq!(rows(&pg, &format!("SELECT id, name FROM {table} ORDER BY id")).await, ["1|ant", "2|bee, the"]);

    // append a gzipped object; then a manifest with a runt skipped by min_size.
    job(&r, "load/gz", with(json!({"key": "in/more.csv.gz", "table": "sales", "mode": "append", "args": ["FORMAT csv", "HEADER", "GZIP"]}))).await;
    assert_eq!(run(&r, "load/gz").await.0.last().map(String::as_str), Some("complete"));
    job(
        &r,
        "load/manifest",
        with(json!({"key": "in/load.manifest", "table": "sales", "mode": "append", "min_size": "10B",
        "args": ["FORMAT csv", "HEADER", "MANIFEST"]})),
    )
    .await;
    let (_, result) = run(&r, "load/manifest").await;
    let events: Vec<&str> = result["events"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(events.contains(&format!("Skipping runt file s3://{bucket}/in/tiny.csv").as_str()), "{events:?}");
    assert!(events.contains(&format!("Reading manifest s3://{bucket}/in/load.manifest").as_str()), "{events:?}");
    assert_eq!(rows(&pg, &format!("SELECT count(*) FROM {table}")).await, ["5"]);

    // A bad row fails the load, names the object and the line, and leaves the table as it was,
    // even in delete mode (the DELETE is rolled back).
    job(&r, "load/bad", with(json!({"key": "in/bad.csv", "table": "sales", "mode": "delete"}))).await;
    let (statuses, result) = run(&r, "load/bad").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    let error = result["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("Copy failed: ") && error.contains("in/bad.csv") && error.contains("line 3"), "{error}");
    assert_eq!(rows(&pg, &format!("SELECT count(*) FROM {table}")).await, ["5"]);

    // abort refuses an existing table; drop recreates it; skip_missing skips an absent object.
    job(&r, "load/abort", with(json!({"key": "in/Sales.csv", "table": "sales", "mode": "abort"}))).await;
    let (_, result) = run(&r, "load/abort").await;
    assert_eq!(result["error"], format!("Copy failed: Table {target} already exists"));
    job(&r, "load/drop", with(json!({"key": "in/Sales.csv", "table": "sales", "mode": "drop"}))).await;
    let (_, result) = run(&r, "load/drop").await;
    assert_eq!(result["events"][0], format!("Dropping table {target}"), "{result}");
    assert_eq!(rows(&pg, &format!("SELECT count(*) FROM {table}")).await, ["2"]);
    job(
        &r,
        "load/missing",
        with(json!({"key": "in/none.csv", "table": "sales", "mode": "append", "skip_missing": "yes"})),
    )
    .await;
    let (statuses, result) = run(&r, "load/missing").await;
    assert_eq!(
        (statuses.last().unwrap().as_str(), &result["events"]),
        ("complete", &json!(["Skipped missing object"]))
    );
    job(
        &r,
        "load/args",
        with(json!({"key": "in/Sales.csv", "table": "sales", "mode": "append", "args": ["IGNOREHEADER 1"]})),
    )
    .await;
    let (_, result) = run(&r, "load/args").await;
    assert_eq!(result["error"], "Copy failed: Invalid COPY arguments: IGNOREHEADER");
    rows(&pg, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

#[tokio::test]
async fn sqlite_loads_rows_and_switches_between_two_tables() {
    let r = TestRealm::up("dfslt").await;
    let lite = r.put_sql_connections().await;
    let db = sqlite(&lite);
    put(&r, "drop/day1.psv", "id|note\n1|\"a|b\"\n2|plain\n").await;
    put(&r, "drop/day2.psv", "id|note\n3|c\n").await;
    put(&r, "drop/short.psv", "id|note\n4|d\n5\n").await;
    let base = json!({"db_conn_id": "lite", "bucket": r.names.local_bucket(), "schema": "main", "table": "notes",
        "mode": "switch", "args": ["DELIMITER '|'", "HEADER"], "columns": ["id INTEGER", "note TEXT"]});
    let with = |key: &str| {
        let mut p = base.clone();
        p["key"] = json!(key);
        p
    };

    job(&r, "lite/day1", with("drop/day1.psv")).await;
    let (statuses, result) = run(&r, "lite/day1").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    assert_eq!(result["events"][0], "Creating table main.notes_a", "named as the original's switch mode names it");
    assert!(
        result["events"].as_array().unwrap().contains(&json!("Table main.notes_a is empty - setting as load target"))
    );
    assert!(
        result["events"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("Inserted 2 rows from s3://{}/drop/day1.psv", r.names.local_bucket())))
    );
    assert_eq!(rows(&db, "SELECT id, note FROM notes_a ORDER BY id").await, ["1|a|b", "2|plain"]);

    // The next load goes to the empty table b, and a is emptied.
    job(&r, "lite/day2", with("drop/day2.psv")).await;
    run(&r, "lite/day2").await;
    assert_eq!(rows(&db, "SELECT id, note FROM notes_b").await, ["3|c"]);
    assert!(rows(&db, "SELECT id FROM notes_a").await.is_empty());

    // A short row fails the load naming the object and row; both tables stay as they were.
    job(&r, "lite/short", with("drop/short.psv")).await;
    let (_, result) = run(&r, "lite/short").await;
    let error = result["error"].as_str().unwrap_or_default();
    assert!(error.contains("drop/short.psv: Expected 2 columns but got 1 (row 2)"), "{error}");
    assert_eq!(rows(&db, "SELECT id FROM notes_b").await, ["3"]);
    assert!(rows(&db, "SELECT id FROM notes_a").await.is_empty());

    // Neither table empty: the original's message.
    rows(&db, "INSERT INTO notes_a VALUES (9, 'z')").await;
    job(&r, "lite/full", with("drop/day2.psv")).await;
    let (_, result) = run(&r, "lite/full").await;
    assert_eq!(result["error"], "Copy failed: Neither A nor B switch table is empty for main.notes");
}

/// Redshift cannot run here: a PostgreSQL cluster of the test's own, logging every statement,
/// stands in for it (with a `svv_tables` view as Redshift's catalog has). The load's `COPY` is
/// Redshift's and fails there, after the server logged its exact text; the access keys of the
/// `s3_conn_id` connection are in that text and in no event.
#[tokio::test]
async fn redshift_sends_the_originals_copy_with_a_role_or_keys() {
    let (_server, log, r) = stand_in(
        "dfsrs",
        "CREATE VIEW svv_tables AS SELECT current_database()::text AS table_catalog, table_schema::text, table_name::text \
         FROM information_schema.tables",
        "rs",
        "redshift",
        "AKIDEXAMPLE,s3cr3tKey",
    )
    .await;
    let bucket = r.names.local_bucket();
    let params = |auth: Value| {
        let mut p = json!({"db_conn_id": "rs", "bucket": bucket, "key": "in/members.csv.gz", "schema": "public",
            "table": "members", "mode": "truncate", "columns": ["id INTEGER", "name VARCHAR(20)"],
            "args": ["CSV", "IGNOREHEADER 1", "GZIP"]});
        p.as_object_mut().unwrap().extend(auth.as_object().unwrap().clone());
        p
    };
    job(&r, "rs/role", params(json!({"s3_iam_role": "arn:aws:iam::123456789012:role/redshift-s3"}))).await;
    job(&r, "rs/keys", params(json!({"s3_conn_id": "s3keys"}))).await;

    let (statuses, role) = run(&r, "rs/role").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{role}");
    let (_, keyed) = run(&r, "rs/keys").await;
    let copy = |auth: &str| {
        format!(
            "COPY \"public\".\"members\"(\"id\",\"name\") FROM 's3://{bucket}/in/members.csv.gz' {auth} CSV IGNOREHEADER 1 GZIP"
        )
    };
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let log = words(&std::fs::read_to_string(&log).unwrap());
    assert!(log.contains(&copy("IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-s3'")), "{log}");
    assert!(log.contains(&copy("ACCESS_KEY_ID 'AKIDEXAMPLE' SECRET_ACCESS_KEY 's3cr3tKey'")), "{log}");
    for result in [&role, &keyed] {
        let events = &result["error_data"]["events"];
        assert_eq!(events[0], "Creating table \"public\".\"members\"", "{result}");
        assert_eq!(words(events[2].as_str().unwrap()), copy("{authorization}"), "{result}");
        assert_eq!(events[3], "Running COPY command for public.members", "{result}");
        assert!(result["error"].as_str().is_some_and(|e| e.starts_with("Copy failed: ")), "{result}");
        assert!(!result.to_string().contains("s3cr3tKey"), "the secret key is in no event: {result}");
    }
}

/// RDS and Aurora PostgreSQL import S3 objects themselves (`aws_s3.table_import_from_s3`): a
/// PostgreSQL cluster of the test's own, logging every statement, stands in with a function of
/// that name that answers as the extension does. Each object of a manifest gets its own import,
/// with the options quoted into the call; `GZIP` sets each object's `Content-Encoding` first.
#[tokio::test]
async fn aurora_postgres_imports_each_object_with_the_originals_call() {
    let (_server, log, r) = stand_in(
        "dfsau",
        "CREATE SCHEMA aws_s3; CREATE FUNCTION aws_s3.table_import_from_s3(t text, c text, o text, b text, k text, \
         r text, a text, s text, tk text) RETURNS text LANGUAGE sql AS $$ SELECT '1 rows imported into relation ' || t || \
         ' from file ' || k $$",
        "aurora",
        "postgres-aurora",
        "AKIDAURORA,auroraS3cret",
    )
    .await;
    let bucket = r.names.local_bucket();
    put(&r, "au/1.csv.gz", gzip("a|b\n")).await;
    put(&r, "au/2.csv.gz", gzip("c|d\n")).await;
    let manifest = json!({"entries": [{"url": format!("s3://{bucket}/au/1.csv.gz")}, {"url": format!("s3://{bucket}/au/2.csv.gz")}]});
    put(&r, "au/load.manifest", manifest.to_string()).await;
    job(
        &r,
        "au/load",
        json!({"db_conn_id": "aurora", "bucket": bucket, "key": "au/load.manifest", "schema": "public", "table": "pairs",
            "mode": "truncate", "columns": ["a TEXT", "b TEXT"], "s3_conn_id": "s3keys",
            "args": ["FORMAT csv", "DELIMITER '|'", "MANIFEST", "GZIP"]}),
    )
    .await;
    let (statuses, result) = run(&r, "au/load").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    let head =
        "SELECT aws_s3.table_import_from_s3('\"public\".\"pairs\"', '\"a\",\"b\"', '(FORMAT csv, DELIMITER ''|'')'";
    let events = &result["events"];
    assert_eq!(
        events[4],
        format!(
            "COPY command: {head}, '{{bucket}}', '{{key}}', 'ap-southeast-2', '{{aws_access_key_id}}', '{{aws_secret_access_key}}', '{{aws_session_token}}')"
        ),
        "{result}"
    );
    assert_eq!(events[5], format!("Copying s3://{bucket}/au/1.csv.gz"));
    assert_eq!(events[7], "1 rows imported into relation \"public\".\"pairs\" from file au/1.csv.gz");
    assert!(!result.to_string().contains("auroraS3cret"), "the secret key is in no event: {result}");
    let log = std::fs::read_to_string(&log).unwrap();
    for object in ["au/1.csv.gz", "au/2.csv.gz"] {
        let call = format!("{head}, '{bucket}', '{object}', 'ap-southeast-2', 'AKIDAURORA', 'auroraS3cret', '')");
        assert!(log.contains(&call), "{call}\n{log}");
    }
    let head = r.clients.s3.head_object().bucket(&bucket).key("au/2.csv.gz").send().await.unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"), "GZIP set the objects' encoding for the import");
}

#[tokio::test]
async fn mariadb_loads_by_load_data_local_infile_in_one_session() {
    let r = TestRealm::up("dfsmy").await;
    r.put_sql_connections().await;
    let maria = mariadb();
    let table = unique("m_");
    // 1,203 rows, loaded through one pipe.
    let mut csv = String::from("id;note\n");
    for i in 0..1203 {
        csv.push_str(&format!("{i};'n {i}'\n"));
    }
    put(&r, "my/rows.csv", csv).await;
    put(&r, "my/bad.csv", "id;note\n1;a\nx;b\n").await;
    let params = |key: &str, mode: &str| {
        json!({"db_conn_id": "my", "bucket": r.names.local_bucket(), "key": key, "schema": "lava_test", "table": table,
            "mode": mode, "columns": ["id INT", "note VARCHAR(20)"], "args": ["DELIMITER ';'", "QUOTECHAR '''", "HEADER"]})
    };
    job(&r, "my/load", params("my/rows.csv", "drop")).await;
    let (statuses, result) = run(&r, "my/load").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    let target = format!("`lava_test`.`{table}`");
    assert_eq!(result["events"][0], format!("Creating table {target}"), "{result}");
    let uri = format!("s3://{}/my/rows.csv", r.names.local_bucket());
    assert_eq!(
        result["events"],
        json!([
            format!("Creating table {target}"),
            format!("Created table {target}"),
            format!("Running LOAD DATA for {target}"),
            format!("Loading {uri}"),
            format!("Loaded 1203 rows from {uri}"),
            format!("Commit {target}")
        ])
    );
    assert_eq!(rows(&maria, &format!("SELECT count(*), max(note) FROM {table}")).await, ["1203|n 999"]);

    // A bad value fails the load inside its transaction: the DELETE is rolled back too.
    job(&r, "my/bad", params("my/bad.csv", "delete")).await;
    let (statuses, result) = run(&r, "my/bad").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    assert!(result["error"].as_str().is_some_and(|e| e.contains("my/bad.csv") && e.contains("row 2")), "{result}");
    assert_eq!(rows(&maria, &format!("SELECT count(*) FROM {table}")).await, ["1203"]);
    rows(&maria, &format!("DROP TABLE {table}")).await;
}

/// Aurora MySQL reads S3 itself (`LOAD DATA FROM S3`): MariaDB stands in, with its general log
/// on (as a table), so the exact statement the load sends is read back there; MariaDB refuses
/// it, and the run fails with the step messages up to the load.
#[tokio::test]
async fn aurora_mysql_sends_the_originals_load_data_from_s3() {
    let r = TestRealm::up("dfsam").await;
    r.put_sql_connections().await;
    let parameter = format!("/lava/{}/db-password", r.names.realm);
    let entry = json!({"conn_id": "aur", "type": "mysql-aurora", "enabled": true, "host": "127.0.0.1", "port": 3306,
        "user": "lava", "database": "lava_test", "password": parameter});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    let maria = mariadb();
    let table = unique("am_");
    let bucket = r.names.local_bucket();
    job(
        &r,
        "am/load",
        json!({"db_conn_id": "aur", "bucket": bucket, "key": "am/part", "schema": "lava_test", "table": table,
            "mode": "truncate", "columns": ["id INT", "note VARCHAR(20)"],
            "args": ["PREFIX", "IGNORE", "DELIMITER ','", "QUOTE OPTIONAL '\"'", "HEADER"]}),
    )
    .await;
    rows(&maria, "SET GLOBAL log_output = 'TABLE'").await;
    rows(&maria, "SET GLOBAL general_log = 1").await;
    let (statuses, result) = run(&r, "am/load").await;
    rows(&maria, "SET GLOBAL general_log = 0").await;
    let statement = format!(
        "LOAD DATA FROM S3 PREFIX 's3-us-east-1://{bucket}/am/part' IGNORE INTO TABLE `lava_test`.`{table}` \
         COLUMNS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES (`id`,`note`)"
    );
    let logged = rows(
        &maria,
        &format!("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE argument LIKE '%`{table}`%'"),
    )
    .await;
    assert!(logged.contains(&statement), "{statement}\nnot in\n{logged:#?}");
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    let events = &result["error_data"]["events"];
    let at = events.as_array().unwrap().iter().position(|e| e == &json!(statement)).expect("the statement is an event");
    assert_eq!(events[at + 1], format!("Running COPY command for lava_test.{table}"), "{result}");
    assert!(result["error"].as_str().unwrap().starts_with("Copy failed: "), "{result}");
    rows(&maria, &format!("DROP TABLE lava_test.{table}")).await;
    rows(&maria, "TRUNCATE TABLE mysql.general_log").await;
}

/// MySQL/MariaDB through the `mysql` client: switch mode over a gzip manifest of two objects
/// (a runt among them skipped), then a manifest naming a missing object: the client is stopped,
/// the error names the object, and the tables are as they were.
#[tokio::test]
async fn mariadb_switches_tables_over_a_gzip_manifest_and_a_missing_object_changes_nothing() {
    let r = TestRealm::up("dfsms").await;
    r.put_sql_connections().await;
    let maria = mariadb();
    let table = unique("ms_");
    let bucket = r.names.local_bucket();
    put(&r, "ms/1.csv.gz", gzip("id,note\n1,\"a, quoted \"\"one\"\"\"\n2,b\n")).await;
    put(&r, "ms/2.csv.gz", gzip("id,note\n3,c\n")).await;
    put(&r, "ms/runt.csv.gz", gzip("")).await;
    let manifest = |keys: &[&str]| {
        let entries: Vec<Value> = keys.iter().map(|k| json!({"url": format!("s3://{bucket}/{k}")})).collect();
        json!({"entries": entries}).to_string()
    };
    put(&r, "ms/good.manifest", manifest(&["ms/1.csv.gz", "ms/runt.csv.gz", "ms/2.csv.gz"])).await;
    put(&r, "ms/bad.manifest", manifest(&["ms/2.csv.gz", "ms/missing.csv.gz"])).await;
    let params = |key: &str| {
        json!({"db_conn_id": "my", "bucket": bucket, "key": key, "schema": "lava_test", "table": table,
            "mode": "switch", "columns": ["id INT", "note VARCHAR(40)"], "min_size": 30,
            "args": ["HEADER", "MANIFEST", "GZIP"]})
    };
    job(&r, "ms/good", params("ms/good.manifest")).await;
    job(&r, "ms/bad", params("ms/bad.manifest")).await;

    let (statuses, result) = run(&r, "ms/good").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    let events: Vec<&str> = result["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    // Named as the original's switch mode names tables: schema.table, unquoted.
    let (a, b) = (format!("lava_test.{table}_a"), format!("lava_test.{table}_b"));
    assert!(events.contains(&format!("Table {a} is empty - setting as load target").as_str()), "{events:#?}");
    assert!(events.contains(&format!("Skipping runt file s3://{bucket}/ms/runt.csv.gz").as_str()), "{events:#?}");
    assert!(events.contains(&format!("Loaded 2 rows from s3://{bucket}/ms/1.csv.gz").as_str()), "{events:#?}");
    assert!(
        events.ends_with(&[
            &format!("Deleting from table {b}"),
            &format!("Deleted from table {b}"),
            &format!("Commit lava_test.{table}"),
            &format!("Truncating table {b}"),
            &format!("Truncated table {b}"),
        ]),
        "{events:#?}"
    );
    let loaded = rows(&maria, &format!("SELECT id, note FROM lava_test.{table}_a ORDER BY id")).await;
    assert_eq!(loaded, ["1|a, quoted \"one\"", "2|b", "3|c"]);

    // A missing object: _b is the empty one now; nothing changes in either table.
    let (statuses, result) = run(&r, "ms/bad").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("missing.csv.gz"), "{error}");
    assert_eq!(rows(&maria, &format!("SELECT count(*) FROM lava_test.{table}_a")).await, ["3"]);
    assert_eq!(rows(&maria, &format!("SELECT count(*) FROM lava_test.{table}_b")).await, ["0"]);
    for t in ["a", "b"] {
        rows(&maria, &format!("DROP TABLE lava_test.{table}_{t}")).await;
    }
}

/// `PG_COPY_TIMEOUT` bounds each object's copy: with S3 gone silent (a proxy in front of moto,
/// frozen) the copy stops after the limit, the run fails naming the object and the limit, and
/// the table is as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_copy_stops_at_pg_copy_timeout() {
    let r = TestRealm::up("dfsto").await;
    r.put_sql_connections().await;
    let table = unique("to_");
    rows(&postgres(), &format!("CREATE TABLE public.{table} (id INTEGER); INSERT INTO public.{table} VALUES (7)"))
        .await;
    put(&r, "to/rows.csv", "id\n1\n2\n").await;
    job(
        &r,
        "to/load",
        json!({"db_conn_id": "pg", "bucket": r.names.local_bucket(), "key": "to/rows.csv", "schema": "public",
            "table": table, "mode": "delete", "args": ["FORMAT csv", "HEADER"]}),
    )
    .await;
    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    proxy.freeze(true);
    let silent = shared::aws::Clients::load(&shared::aws::AwsOptions {
        endpoint_url: Some(proxy.url.clone()),
        ..lava_tests::aws_options()
    })
    .await;
    let ports = shared::ports::Ports {
        blobs: std::sync::Arc::new(shared::aws::S3Blobs::new(silent.s3.clone())),
        ..r.ports.clone()
    };
    let options = shared::worker::WorkerOptions {
        env: vec![("LAVA_PG_COPY_TIMEOUT".into(), "1s".into())],
        ..lava_tests::worker_options(&r.names.realm, 1, vec![])
    };
    let worker = shared::worker::build(options, ports).await.unwrap();
    let run_id = r.dispatch("to/load").await;
    let started = std::time::Instant::now();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let item = r.events("to/load", &run_id).await;
    let result = &item["log"].as_array().unwrap().last().unwrap()["info"];
    assert_eq!(r.statuses("to/load", &run_id).await.last().map(String::as_str), Some("failed"), "{item}");
    let uri = format!("s3://{}/to/rows.csv", r.names.local_bucket());
    assert_eq!(result["error"], format!("Copy failed: {uri}: the copy did not finish within 1 s (PG_COPY_TIMEOUT)"));
    assert_eq!(rows(&postgres(), &format!("SELECT id FROM public.{table}")).await, ["7"], "the delete was rolled back");
    proxy.freeze(false);
    rows(&postgres(), &format!("DROP TABLE public.{table}")).await;
}

/// Every mode on each engine the worker loads itself, in one sequence over one table, then a
/// switch pair: what each mode leaves in the table.
#[tokio::test]
async fn every_mode_leaves_the_table_as_the_original_does_on_each_engine() {
    let r = TestRealm::up("dfsmodes").await;
    let lite = r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    put(&r, "modes/a.csv", "id,name\n1,ant\n2,bee\n").await;
    put(&r, "modes/b.csv", "id,name\n3,cat\n").await;
    let schema = unique("modes_");
    rows(&postgres(), &format!("CREATE SCHEMA {schema}")).await;
    let engines = [
        ("pg", postgres(), schema.as_str(), json!(["FORMAT csv", "HEADER"])),
        ("my", mariadb(), "lava_test", json!(["HEADER"])),
        ("lite", sqlite(&lite), "main", json!(["HEADER"])),
    ];
    for (conn, db, schema, args) in engines {
        let table = unique("t_");
        let qualified = if conn == "lite" { table.clone() } else { format!("{schema}.{table}") };
        let count = |name: String| {
            let db = db.clone();
            async move { rows(&db, &format!("SELECT count(*) FROM {name}")).await }
        };
        let mut step = 0;
        let mut load = |key: &str, mode: &str, table: &str| {
            step += 1;
            let id = format!("modes/{conn}/{step}");
            let parameters = json!({"db_conn_id": conn, "bucket": bucket, "key": key, "schema": schema,
                "table": table, "mode": mode, "args": args, "columns": ["id INTEGER", "name VARCHAR(10)"]});
            let r = &r;
            async move {
                job(r, &id, parameters).await;
                let (statuses, result) = run(r, &id).await;
                (statuses.last().cloned().unwrap_or_default(), result)
            }
        };
        // abort creates a missing table, and refuses an existing one.
        let (status, result) = load("modes/a.csv", "abort", &table).await;
        assert_eq!(status, "complete", "{conn} abort (new): {result}");
        assert_eq!(count(qualified.clone()).await, ["2"], "{conn} abort (new)");
        let (status, result) = load("modes/b.csv", "abort", &table).await;
        assert_eq!(status, "failed", "{conn}: {result}");
        assert!(result["error"].as_str().is_some_and(|e| e.contains("already exists")), "{conn}: {result}");
        assert_eq!(count(qualified.clone()).await, ["2"], "{conn} abort (existing)");
        for (key, mode, expected) in [
            ("modes/b.csv", "append", "3"),
            ("modes/a.csv", "truncate", "2"),
            ("modes/b.csv", "delete", "1"),
            ("modes/a.csv", "drop", "2"),
        ] {
            let (status, result) = load(key, mode, &table).await;
            assert_eq!(status, "complete", "{conn} {mode}: {result}");
            assert_eq!(count(qualified.clone()).await, [expected], "{conn} {mode}: {result}");
        }
        // switch: the first load fills table _a, the next fills _b and empties _a.
        let pair = unique("sw_");
        let name = |suffix: &str| {
            if conn == "lite" { format!("{pair}_{suffix}") } else { format!("{schema}.{pair}_{suffix}") }
        };
        assert_eq!(load("modes/a.csv", "switch", &pair).await.0, "complete", "{conn} switch");
        assert_eq!(count(name("a")).await, ["2"], "{conn} switch 1");
        assert_eq!(load("modes/b.csv", "switch", &pair).await.0, "complete", "{conn} switch");
        assert_eq!(
            (count(name("a")).await, count(name("b")).await),
            (vec!["0".to_string()], vec!["1".to_string()]),
            "{conn} switch 2"
        );
        if conn == "my" {
            rows(&db, &format!("DROP TABLE {qualified}, {}, {}", name("a"), name("b"))).await;
        }
    }
    rows(&postgres(), &format!("DROP SCHEMA {schema} CASCADE")).await;
}
