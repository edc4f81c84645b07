//! SQL jobs (sql, sqli, sqlc, sqlv) and db_from_s3 on PostgreSQL, MariaDB and SQLite: results,
//! the result files in S3, database errors, bad parameters.

use crate::harness::{Family, Scenario};
use serde_json::json;
use shared::ports::{BlobStore, Encryption};

const QUERY: &str = "select 1 as n, 'a|b' as t, null as z union all select 2, 'plain', 'x' order by n;\n";

/// A row of each type the original's drivers give their own Python type (so its Parquet writer
/// gives each its own column type), and a second row of nulls.
const TYPES_PG: &str = "select 1 as i, 2.5::float8 as f, 12.345::numeric as d, timestamp '2026-01-02 03:04:05.123456' as ts, \
    timestamptz '2026-01-02 03:04:05+10' as tz, date '2026-01-02' as dt, time '03:04:05.5' as t, true as b, 'x' as s, \
    null as n union all select 2, null, -1.5, null, null, null, null, null, null, null order by 1";
const TYPES_MY: &str = "select 1 as i, cast(12.345 as decimal(10,3)) as d, timestamp('2026-01-02 03:04:05') as ts, \
    date('2026-01-02') as dt, 'x' as s union all select 2, null, null, null, null order by 1";

#[tokio::test]
async fn sql_jobs_match_the_original() {
    let mut family = Family::new("dfs").await;
    let r = &family.realm;
    let lite = r.put_sql_connections().await;
    let table = lava_tests::unique("dfl_");
    let bucket = r.names.local_bucket();
    for (key, body) in [
        ("payloads/d/q.sql", QUERY.to_string()),
        ("payloads/d/two.sql", format!("{QUERY}select '{{{{ vars.greeting }}}}' as g;\n")),
        ("payloads/d/bad.sql", "select * from no_such_table_here;\n".to_string()),
        ("payloads/d/client.sql", "\\echo client {{ job.job_id }}\nselect 42 as answer;\n".to_string()),
        ("payloads/d/view.sql", "select 7 as seven, 'v' as v".to_string()),
        ("payloads/d/types_pg.sql", TYPES_PG.to_string()),
        ("payloads/d/types_my.sql", TYPES_MY.to_string()),
        ("tmp/load/rows.csv", "1,one\n2,two\n".to_string()),
    ] {
        r.blobs.put_object(&bucket, key, body.into_bytes(), &Encryption::Aes256).await.unwrap();
    }
    // The load targets exist before either side runs (both truncate them).
    let create = format!("create table if not exists {table} (id int, name varchar(20))");
    crate::sql_exec(&lava_tests::test_postgres(), &create).await;
    crate::sql_exec(&crate::sqlite(&lite), &create).await;
    let load = |conn: &str, schema: &str| {
        json!({"type": "db_from_s3", "payload": null, "parameters": {"db_conn_id": conn, "bucket": r.names.local_bucket(),
            "key": "tmp/load/rows.csv", "schema": schema, "table": table, "mode": "truncate", "args": ["FORMAT csv"]}})
    };
    // Switch mode: both sides start with neither table, so each creates both and loads `_a`.
    // preserve_case on the connection: the original 8.3 still lower-cases the table's name (its
    // load fails to find the table created with capitals), and so does this lava.
    let case_table = format!("Case{}", lava_tests::unique("T"));
    let pg_case = json!({"conn_id": "pg_case", "type": "postgres", "enabled": true, "host": "127.0.0.1", "port": 5432,
        "user": "lava", "database": "lava_test", "password": format!("/lava/{}/db-password", r.names.realm), "preserve_case": true});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&pg_case).unwrap()).await.unwrap();
    crate::sql_exec(&lava_tests::test_postgres(), &format!("create table \"{case_table}\" (id int, name varchar(20))"))
        .await;
    let switched = lava_tests::unique("dfw_");
    let mut before = Vec::new();
    for db in [lava_tests::test_postgres(), crate::sqlite(&lite)] {
        for t in ["a", "b"] {
            before.push((db.clone(), format!("drop table if exists {switched}_{t}")));
        }
    }
    let switch = |conn: &str, schema: &str| {
        json!({"type": "db_from_s3", "payload": null, "parameters": {"db_conn_id": conn, "bucket": r.names.local_bucket(),
            "key": "tmp/load/rows.csv", "schema": schema, "table": switched, "mode": "switch",
            "columns": ["id int", "name varchar(20)"], "args": if conn == "pg" { json!(["FORMAT csv"]) } else { json!([]) }}})
    };
    let scenarios = vec![
        Scenario::new("sqli_pg", json!({"type": "sqli", "payload": QUERY, "parameters": {"conn_id": "pg"}})),
        Scenario::new("sqli_pg_header", json!({"type": "sqli", "payload": QUERY, "parameters": {"conn_id": "pg", "header": true, "delimiter": ","}})),
        Scenario::new("sqli_my", json!({"type": "sqli", "payload": QUERY, "parameters": {"conn_id": "my"}})),
        Scenario::new("sqli_lite", json!({"type": "sqli", "payload": QUERY, "parameters": {"conn_id": "lite"}})),
        Scenario::new("sql_pg_two", json!({"type": "sql", "payload": "d/two.sql", "parameters": {"conn_id": "pg", "vars": {"greeting": "hi"}}})),
        Scenario::new("sql_pg_error", json!({"type": "sql", "payload": "d/bad.sql", "parameters": {"conn_id": "pg"}})),
        Scenario::new("sql_missing_payload", json!({"type": "sql", "payload": "d/none.sql", "parameters": {"conn_id": "pg"}})),
        Scenario::new("sqli_no_conn", json!({"type": "sqli", "payload": QUERY, "parameters": {}})),
        Scenario::new("sqli_unknown_conn", json!({"type": "sqli", "payload": QUERY, "parameters": {"conn_id": "nosuch"}})),
        Scenario::new("sqlc_pg", json!({"type": "sqlc", "payload": "d/client.sql", "parameters": {"conn_id": "pg"}})),
        Scenario::new("sqlv_pg", json!({"type": "sqlv", "payload": "d/view.sql", "parameters": {"conn_id": "pg", "header": true}})),
        Scenario::new("sqlv_pg_parquet", json!({"type": "sqlv", "payload": "d/types_pg.sql", "parameters": {"conn_id": "pg", "format": "parquet"}})),
        Scenario::new("sqlv_my_parquet", json!({"type": "sqlv", "payload": "d/types_my.sql", "parameters": {"conn_id": "my", "format": "parquet"}})),
        Scenario::new("load_pg", load("pg", "public")).differs(
            "$.item.log[2].info.events[3]",
            "the load streams the object from S3 through COPY FROM STDIN; the original downloaded it to a file for psql's \\copy",
        ),
        Scenario::new("load_lite", load("lite", "main")),
        Scenario::new("switch_pg", switch("pg", "public")).differs(
            "$.item.log[2].info.events[6]",
            "the load streams the object from S3 through COPY FROM STDIN; the original downloaded it to a file for psql's \\copy",
        ),
        Scenario::new("switch_lite", switch("lite", "main")),
        Scenario::new("load_pg_preserve_case", json!({"type": "db_from_s3", "payload": null, "parameters": {"db_conn_id": "pg_case",
            "bucket": r.names.local_bucket(), "key": "tmp/load/rows.csv", "schema": "public", "table": case_table,
            "mode": "truncate", "args": ["FORMAT csv"]}}))
        .differs("$.item.log[2].info.error_data.events", "a failed load's data keeps the events so far (none here)"),
    ];
    family.before_each_side = before;
    family.check(&scenarios).await;
}
