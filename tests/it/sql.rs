//! SQL jobs and connections against real servers: PostgreSQL 15, MariaDB and SQLite, with
//! secrets in moto's SSM and Secrets Manager and outputs in moto's S3.

use lava_tests::{DB_PASSWORD, TestRealm, unique};
use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};
use std::time::Duration;

async fn realm_with_connections(prefix: &str) -> (TestRealm, std::path::PathBuf) {
    let r = TestRealm::up(prefix).await;
    let lite = r.put_sql_connections().await;
    (r, lite)
}

fn job(id: &str, kind: &str, payload: Value, parameters: Value) -> Value {
    json!({"job_id": id, "type": kind, "worker": "core", "enabled": true, "owner": "o", "description": "d", "payload": payload, "parameters": parameters})
}

/// Dispatches `job_id`, drains the queue with a worker, returns the run's final event info.
pub(crate) async fn run(r: &TestRealm, job_id: &str) -> (Vec<String>, Value) {
    let run_id = r.dispatch(job_id).await;
    let worker = crate::worker::worker(r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events(job_id, &run_id).await;
    let statuses = r.statuses(job_id, &run_id).await;
    let last = item["log"].as_array().and_then(|l| l.last()).map(|e| e["info"].clone()).unwrap_or(Value::Null);
    (statuses, last)
}

#[tokio::test]
async fn a_sql_job_on_postgres_writes_each_result_set_to_s3() {
    let (r, _) = realm_with_connections("sqlpg").await;
    let table = unique("t_");
    let bucket = r.names.local_bucket();
    let sql = format!(
        "set time zone 'UTC';\ncreate table {table} (id int, name text, amount numeric(10,2), ok boolean, at timestamptz, note text);\n\
         insert into {table} values (1, 'a|b', 1.50, true, '2024-01-02 03:04:05.12+00', null), (2, 'plain; text', 10.00, false, '2024-01-02 03:04:05+00', 'x');\n\
         select id, name, amount, ok, at, note from {table} order by id;\nselect * from {table} where id < 0;\n-- rendered per statement\nselect '{{{{ vars.greeting }}}}' as g;;\n"
    );
    r.blobs
        .put_object(&bucket, &format!("payloads/sqljobs/{table}/load.sql"), sql.into_bytes(), &Encryption::Aes256)
        .await
        .unwrap();
    r.put_job(job(
        "sql/pg",
        "sql",
        json!(format!("sqljobs/{table}/load.sql")),
        json!({"conn_id": "pg", "header": true, "vars": {"greeting": "hi"}}),
    ))
    .await;
    let (statuses, result) = run(&r, "sql/pg").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    let files = result["output"]["load.sql"].as_array().unwrap_or_else(|| panic!("{result}"));
    let names: Vec<&str> = files.iter().map(|f| f.as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(
        names,
        ["load.sql.3.out", "load.sql.4.out", "load.sql.5.out"],
        "the comment belongs to statement 5; the empty statement 6 is skipped"
    );
    assert_eq!(
        r.object_text(&files[0]).await,
        "id|name|amount|ok|at|note\r\n1|\"a|b\"|1.50|True|2024-01-02 03:04:05.120000+00:00|\r\n2|plain; text|10.00|False|2024-01-02 03:04:05+00:00|x\r\n"
    );
    assert_eq!(
        r.object_text(&files[1]).await,
        "id|name|amount|ok|at|note\r\n",
        "a result set with no rows still has its file"
    );
    assert_eq!(r.object_text(&files[2]).await, "g\r\nhi\r\n");
}

#[tokio::test]
async fn a_failed_statement_in_a_mariadb_transaction_rolls_everything_back() {
    let (r, _) = realm_with_connections("sqlmy").await;
    let table = unique("t_");
    r.put_job(job(
        "sql/my-setup",
        "sqli",
        json!(format!("create table {table} (id int primary key, v varchar(20)) engine=InnoDB")),
        json!({"conn_id": "my"}),
    ))
    .await;
    assert_eq!(run(&r, "sql/my-setup").await.0, ["starting", "running", "complete"]);
    let inserts = json!([
        format!("insert into {table} values (1, 'first'); insert into {table} values (2, 'second')"),
        format!("insert into {table} values (1, 'again')")
    ]);
    r.put_job(job("sql/my-tx", "sqli", inserts, json!({"conn_id": "my", "transaction": true}))).await;
    let (statuses, failed) = run(&r, "sql/my-tx").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert!(
        failed["error"].as_str().unwrap().contains("Duplicate entry '1'"),
        "the database's own error text: {failed}"
    );
    r.put_job(job(
        "sql/my-count",
        "sqli",
        json!(format!("select count(*) as n from {table}")),
        json!({"conn_id": "my", "dialect": "unix"}),
    ))
    .await;
    let (statuses, result) = run(&r, "sql/my-count").await;
    assert_eq!(statuses, ["starting", "running", "complete"]);
    assert_eq!(r.object_text(&result["output"]["0"][0]).await, "0\n", "both inserts were rolled back");
}

#[tokio::test]
async fn sqli_on_sqlite_honours_the_csv_options_and_output_directory() {
    let (r, lite) = realm_with_connections("sqllite").await;
    let payload = json!([
        "create table t (a integer, b real, c text, d blob, e text); insert into t values (1, 2.0, 'say \"hi\"', x'6869', null)",
        "select * from t"
    ]);
    let parameters = json!({"conn_id": "lite", "header": "yes", "quoting": "NonNumeric", "doublequote": true, "dialect": "unix", "output": "res"});
    r.put_job(job("sql/lite", "sqli", payload, parameters)).await;
    let (statuses, result) = run(&r, "sql/lite").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    assert_eq!(result["output"]["0"], json!([]));
    let file = &result["output"]["1"][0];
    assert!(file.as_str().unwrap().ends_with("/res/1.0.out"), "{file}");
    assert_eq!(r.object_text(file).await, "\"a\"|\"b\"|\"c\"|\"d\"|\"e\"\n1|2.0|\"say \"\"hi\"\"\"|\"b'hi'\"|\"\"\n");
    std::fs::remove_file(lite).ok();
}

#[tokio::test]
async fn an_exe_job_uses_connector_scripts_as_the_seed_shows_and_never_sees_the_password_in_outputs() {
    let (r, _) = realm_with_connections("sqlexe").await;
    let bucket = r.names.local_bucket();
    let script = r#"#!/bin/bash
set -e
# The seed's pattern: the connector is a pre-logged-in command line client.
SQL="select 40 + 2 as answer"
$LAVA_CONN_PGRES_DB -t -A -c "$SQL" > pg.out
$LAVA_CONN_MYSQL_DB --database=lava_test -e "select 6 * 7 as answer" > my.out
echo "select 21 * 2;" | $LAVA_CONN_LITE > lite.out
$LAVA_CONN_SECRET -t -A <<'EOF' > secret.out
select current_user;
EOF
echo "pg=$(cat pg.out) my=$(tail -1 my.out) lite=$(cat lite.out) secret=$(cat secret.out) id=$LAVA_CONNID_PGRES_DB"
"#;
    r.blobs
        .put_object(&bucket, "payloads/sqljobs/conn.sh", script.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let connections = json!({"pgres_db": "pg", "mysql_db": "my", "lite": "lite", "secret": "pg_secret"});
    r.put_job(job("sql/exe", "exe", json!("sqljobs/conn.sh"), json!({"connections": connections}))).await;
    let run_id = r.dispatch("sql/exe").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events("sql/exe", &run_id).await;
    assert_eq!(r.statuses("sql/exe", &run_id).await, ["starting", "running", "complete"], "{item}");
    let result = &item["log"][2]["info"];
    let stdout = r.object_text(&result["output"][0]["stdout"]).await;
    assert_eq!(stdout, "pg=42 my=42 lite=42 secret=lava id=pg\n");
    assert!(!item.to_string().contains(DB_PASSWORD), "the password never appears in events");
    assert!(!stdout.contains(DB_PASSWORD));
}

#[tokio::test]
async fn an_unknown_connection_or_bad_option_fails_the_job_naming_it() {
    let (r, _) = realm_with_connections("sqlbad").await;
    r.put_job(job("sql/none", "sqli", json!("select 1"), json!({"conn_id": "nope"}))).await;
    let (statuses, failed) = run(&r, "sql/none").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(failed["error"], "nope: No such connection");
    r.put_job(job("sql/quoting", "sqli", json!("select 1"), json!({"conn_id": "pg", "quoting": "sometimes"}))).await;
    let request = shared::dispatch::DispatchRequest { job_id: "sql/quoting".into(), ..Default::default() };
    let refused = shared::dispatch::dispatch(&r.catalog, r.queues.as_ref(), &request, &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("Bad quoting style: sometimes"), "{refused}");
}

#[tokio::test]
async fn sqlc_feeds_each_rendered_file_to_the_client_with_its_meta_commands_and_stops_at_a_failure() {
    let (r, _) = realm_with_connections("sqlc").await;
    let bucket = r.names.local_bucket();
    let dir = unique("c");
    let first = "\\pset format unaligned\n\\echo client {{ vars.who }}\nselect 6 * 7 as answer;\n";
    let second = "select 1;\nselect no_such_column from no_such_table;\nselect 2;\n";
    r.blobs
        .put_object(&bucket, &format!("payloads/sqlc/{dir}/a.sql"), first.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, &format!("payloads/sqlc/{dir}/b.sql"), second.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    r.put_job(job(
        "sql/sqlc",
        "sqlc",
        json!(format!("sqlc/{dir}/")),
        json!({"conn_id": "pg", "vars": {"who": "psql"}}),
    ))
    .await;
    let (statuses, failed) = run(&r, "sql/sqlc").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(failed["error"], "Failed with exit status 3", "psql's ON_ERROR_STOP exit status: {failed}");
    let output = &failed["error_data"]["output"];
    assert_eq!((output[0]["payload"].as_str(), output[0]["exit_status"].as_i64()), (Some("a.sql"), Some(0)));
    assert_eq!(r.object_text(&output[0]["stdout"]).await, "client psql\nanswer\n42\n");
    assert_eq!((output[1]["payload"].as_str(), output[1]["exit_status"].as_i64()), (Some("b.sql"), Some(3)));
    assert_eq!(
        r.object_text(&output[1]["stdout"]).await,
        " ?column? \n----------\n        1\n\n",
        "psql's aligned output, footer off; it stopped at the failing statement"
    );
    assert!(r.object_text(&output[1]["stderr"]).await.contains("no_such_table"));
    assert!(failed["error_data"]["error"].as_str().unwrap().contains("no_such_table"));

    // `{% include %}` reads a file beside the one rendered (a payload file of its own, also run).
    for (name, text) in
        [("main.sql", ".headers on\n{% include \"query.inc\" %}\n"), ("query.inc", "select 21 * 2 as n;\n")]
    {
        r.blobs
            .put_object(
                &bucket,
                &format!("payloads/sqlc/{dir}-lite/{name}"),
                text.as_bytes().to_vec(),
                &Encryption::Aes256,
            )
            .await
            .unwrap();
    }
    r.put_job(job(
        "sql/sqlc-lite",
        "sqlc",
        json!(format!("sqlc/{dir}-lite/")),
        json!({"conn_id": "lite", "args": ["-csv"]}),
    ))
    .await;
    let (statuses, result) = run(&r, "sql/sqlc-lite").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    assert_eq!(result["output"][0]["payload"], "main.sql", "{result}");
    assert_eq!(r.object_text(&result["output"][0]["stdout"]).await, "n\n42\n");
    assert_eq!(r.object_text(&result["output"][1]["stdout"]).await, "42\n");
}

#[tokio::test]
async fn the_aws_connector_runs_the_aws_cli_with_the_connection_s_keys() {
    let r = TestRealm::up("sqlaws").await;
    let bucket = r.names.local_bucket();
    let parameter = format!("/lava/{}/aws-keys", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &parameter, "AKIDLAVATEST,very-secret-key", true).await.unwrap();
    let entry =
        json!({"conn_id": "aws", "type": "aws", "enabled": true, "access_keys": parameter, "region": "eu-west-2"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    r.blobs.put_object(&bucket, "payloads/aws/data.txt", b"from s3\n".to_vec(), &Encryption::Aes256).await.unwrap();
    let script = format!(
        "#!/bin/bash\nset -e\n$LAVA_CONN_AWS configure get aws_access_key_id\n$LAVA_CONN_AWS configure get region\n$LAVA_CONN_AWS s3 cp s3://{bucket}/payloads/aws/data.txt -\n"
    );
    r.blobs.put_object(&bucket, "payloads/aws/use.sh", script.into_bytes(), &Encryption::Aes256).await.unwrap();
    let venv = lava_tests::workspace_root().join(".venv/bin");
    let env = json!({"PATH": format!("{}:/usr/bin:/bin", venv.display()), "AWS_ENDPOINT_URL": lava_tests::emulator().endpoint_url});
    r.put_job(job("sql/aws", "exe", json!("aws/use.sh"), json!({"connections": {"aws": "aws"}, "env": env.clone()})))
        .await;
    let (statuses, result) = run(&r, "sql/aws").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    assert_eq!(r.object_text(&result["output"][0]["stdout"]).await, "AKIDLAVATEST\neu-west-2\nfrom s3\n");

    // A role connection: session credentials from STS AssumeRole (temporary keys begin ASIA).
    let role = json!({"conn_id": "aws_role", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/lava-jobs", "duration": "1h", "region": "us-east-1"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&role).unwrap()).await.unwrap();
    let script = format!(
        "#!/bin/bash\nset -e\n$LAVA_CONN_AWS configure get aws_access_key_id | cut -c1-4\n[ -n \"$($LAVA_CONN_AWS configure get aws_session_token)\" ] && echo token\n$LAVA_CONN_AWS s3 cp s3://{bucket}/payloads/aws/data.txt -\n"
    );
    r.blobs.put_object(&bucket, "payloads/aws/role.sh", script.into_bytes(), &Encryption::Aes256).await.unwrap();
    r.put_job(job(
        "sql/aws-role",
        "exe",
        json!("aws/role.sh"),
        json!({"connections": {"aws": "aws_role"}, "env": env}),
    ))
    .await;
    let (statuses, result) = run(&r, "sql/aws-role").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    assert_eq!(r.object_text(&result["output"][0]["stdout"]).await, "ASIA\ntoken\nfrom s3\n");
}

/// An SQLite database kept in S3 (`host: s3://…`): a `sqli` job and a `sqlc` job (through the
/// connector script and the AWS CLI) each work on a copy that goes back to S3 changed; a
/// missing database fails naming the connection.
#[tokio::test]
async fn sqlite_databases_in_s3_are_copied_down_and_put_back_when_changed() {
    use shared::connections::Database;
    use shared::sql::driver::Session;
    let r = TestRealm::up("sqls3").await;
    let bucket = r.names.local_bucket();
    let dir = std::env::temp_dir().join(unique("lava-s3lite-"));
    std::fs::create_dir_all(&dir).unwrap();
    let local = |path: &std::path::Path| Database::sqlite("local", &path.display().to_string());
    let seed = dir.join("seed.db");
    let mut session = Session::connect(&local(&seed), None, Duration::from_secs(5)).await.unwrap();
    session.execute("CREATE TABLE t (n INTEGER)").await.unwrap();
    session.execute("INSERT INTO t VALUES (1)").await.unwrap();
    session.close().await;
    r.blobs.put_object(&bucket, "dbs/app.db", std::fs::read(&seed).unwrap(), &Encryption::Aes256).await.unwrap();
    for (id, key) in [("s3lite", "dbs/app.db"), ("s3gone", "dbs/none.db")] {
        let entry = json!({"conn_id": id, "type": "sqlite3", "enabled": true, "host": format!("s3://{bucket}/{key}"),
            "port": 0, "user": "-"});
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let rows_in_s3 = |name: &'static str| {
        let (r, dir) = (&r, &dir);
        async move {
            let copy = dir.join(name);
            std::fs::write(&copy, r.blobs.get_object(&r.names.local_bucket(), "dbs/app.db").await.unwrap()).unwrap();
            let mut session = Session::connect(&local(&copy), None, Duration::from_secs(5)).await.unwrap();
            let row = session.first_row("SELECT group_concat(n) FROM t").await.unwrap();
            session.close().await;
            row.and_then(|f| f.into_iter().next()).and_then(|f| f.text).unwrap_or_default()
        }
    };

    r.put_job(job("s3lite/sqli", "sqli", json!("insert into t values (2)"), json!({"conn_id": "s3lite"}))).await;
    let (statuses, result) = run(&r, "s3lite/sqli").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    assert_eq!(rows_in_s3("after-sqli.db").await, "1,2");

    // The connector script sqlc runs: the AWS CLI copies the database down and back (given
    // credentials and moto's endpoint here, as a task role and AWS give them in production).
    let connections =
        shared::connections::Connections::new(r.catalog.clone(), r.ports.secrets.clone(), Default::default());
    let script = shared::connections::scripts::write_connector(&connections, "s3lite", &dir, None).await.unwrap();
    let venv = lava_tests::workspace_root().join(".venv/bin");
    let run_script = |input: &[u8]| {
        use std::io::Write;
        let mut child = lava_tests::emulator_env(&mut std::process::Command::new(&script))
            .env("PATH", format!("{}:/usr/bin:/bin", venv.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run_script(b"insert into t values (3);\nselect count(*) from t;\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    assert_eq!(rows_in_s3("after-script.db").await, "1,2,3");
    let failed = run_script(b"select no_such_column from t;\n");
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));

    r.put_job(job("s3lite/gone", "sqli", json!("select 1"), json!({"conn_id": "s3gone"}))).await;
    let (_, gone) = run(&r, "s3lite/gone").await;
    assert!(gone["error"].as_str().is_some_and(|e| e.contains("Connection s3gone") && e.contains("none.db")), "{gone}");
    let _ = std::fs::remove_dir_all(&dir);
}
