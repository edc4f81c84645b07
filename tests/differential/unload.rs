//! Redshift's UNLOAD and COPY against the stand-in (a PostgreSQL cluster of the test's own that
//! logs every statement and refuses both after logging them): results, `error_data`, the failure
//! paths, and the exact statements each side sent.

use crate::harness::{Family, Scenario};
use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};

const SETUP: &str = "CREATE TABLE sales (id INTEGER, day DATE, region TEXT); \
    CREATE TABLE refunds (id INTEGER, amount NUMERIC); \
    CREATE TABLE parts (schema_name TEXT, rel_name TEXT, partitions TEXT); \
    INSERT INTO parts VALUES ('public', 'sales', 'region, day'), ('public', 'refunds', 'id'); \
    CREATE VIEW svv_columns AS SELECT current_database()::text AS table_catalog, table_schema::text, \
    table_name::text, column_name::text, data_type::text, ordinal_position FROM information_schema.columns; \
    CREATE VIEW svv_tables AS SELECT current_database()::text AS table_catalog, table_schema::text, \
    table_name::text FROM information_schema.tables";

#[tokio::test]
async fn redshift_unload_and_copy_match_the_original() {
    let mut family = Family::new("dfu").await;
    let r = &family.realm;
    r.put_sql_connections().await;
    let (_server, log) = lava_tests::pg_cluster::stand_in(r, SETUP, "rs", "redshift", "AKIDEXAMPLE,s3cr3tKey").await;
    let (secure, open) = (r.own_bucket(true).await, r.own_bucket(false).await);
    let local = r.names.local_bucket();
    r.blobs.put_object(&local, "in/members.csv", b"id,name\n1,ant\n".to_vec(), &Encryption::Aes256).await.unwrap();
    let unload = |more: Value| {
        let mut p = json!({"conn_id": "rs", "bucket": secure, "schema": "public", "relation": ["sales", "refunds"],
            "prefix": "out/{{ relation }}/{{ vars.day }}_", "vars": {"day": "20261130", "region": "north"},
            "where": "region = '{{ vars.region }}'", "dateformat": "YYYY-MM-DD",
            "args": ["CSV", "HEADER", "PARTITION BY @public.parts", "PARALLEL OFF"], "s3_iam_role": "arn:aws:iam::1:role/u",
            "insecure": true});
        for (k, v) in more.as_object().unwrap() {
            match v {
                Value::Null => p.as_object_mut().unwrap().remove(k),
                v => p.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        json!({"type": "redshift_unload", "payload": null, "parameters": p})
    };
    let copy = |more: Value| {
        let mut p = json!({"db_conn_id": "rs", "bucket": local, "key": "in/members.csv", "schema": "public",
            "table": "members", "mode": "truncate", "columns": ["id INTEGER", "name VARCHAR(20)"], "args": ["CSV", "IGNOREHEADER 1"]});
        p.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
        json!({"type": "db_from_s3", "payload": null, "parameters": p})
    };
    // The original's bucket check cannot pass on moto (below), so most scenarios skip it.
    let scenarios = vec![
        Scenario::new("unload_role_stops", unload(json!({}))),
        Scenario::new("unload_start", unload(json!({"start": "refunds", "dateformat": null}))),
        Scenario::new("unload_start_none", unload(json!({"start": "nothing"}))),
        Scenario::new(
            "unload_one_relation",
            unload(json!({"relation": "refunds", "args": ["PARQUET"], "where": null})),
        ),
        Scenario::new("unload_legacy_key", unload(json!({"prefix": null, "key": "legacy/", "relation": "refunds"}))),
        Scenario::new("unload_insecure_bucket", unload(json!({"bucket": open, "insecure": null}))),
        Scenario::new("unload_insecure_allowed", unload(json!({"bucket": open, "relation": "refunds"}))),
        Scenario::new("unload_no_auth", unload(json!({"s3_iam_role": null}))),
        Scenario::new("unload_quote_in_prefix", unload(json!({"prefix": "out/{{ vars.q }}", "vars": {"q": "it's"}}))),
        Scenario::new("unload_no_partition_info", unload(json!({"relation": "Ghost"}))),
        Scenario::new("unload_no_prefix", unload(json!({"prefix": null}))),
        Scenario::new("unload_bad_argument", unload(json!({"args": ["CSV", "IAM_ROLE 'x'"]}))),
        Scenario::new("unload_unknown_parameter", unload(json!({"colour": "blue"}))),
        Scenario::new("unload_unknown_connection", unload(json!({"conn_id": "nosuch"}))),
        Scenario::new("copy_role", copy(json!({"s3_iam_role": "arn:aws:iam::123456789012:role/redshift-s3"})))
            .differs("$.item.log[2].info.error_data.events", FAILED_LOAD_EVENTS),
        Scenario::new("copy_keys", copy(json!({"s3_conn_id": "s3keys"})))
            .differs("$.item.log[2].info.error_data.events", FAILED_LOAD_EVENTS),
    ];
    family.statement_log = Some(log);
    family.check(&scenarios).await;
    // Where a listed difference changes the statements sent, they are not compared.
    family.statement_log = None;
    let changed = vec![
        Scenario::new("unload_keys_all", unload(json!({"s3_iam_role": null, "s3_conn_id": "s3keys", "stop_on_fail": false})))
            .differs("$.item.log[2].info.error_data.unloads[1].error", "each UNLOAD runs on its own; the original ran them all in one transaction, so after one failed every later one failed with 'current transaction is aborted' and stop_on_fail false could not go on"),
        Scenario::new("unload_secure_bucket", unload(json!({"insecure": null, "relation": "refunds"})))
            .differs("$.item.log[2].info", MOTO_BUCKET_OWNER),
    ];
    family.check(&changed).await;
}

const FAILED_LOAD_EVENTS: &str =
    "a failed load's data keeps the events so far (the statements sent, credentials masked)";

const MOTO_BUCKET_OWNER: &str = "moto answers ListBuckets with an owner id other than its buckets' ACL owner, so the original's ownership check (comparing the two) fails every bucket on moto; ours finds the bucket among the account's ListBuckets";
