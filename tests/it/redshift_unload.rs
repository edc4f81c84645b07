//! `redshift_unload` against moto's S3 and a PostgreSQL cluster standing in for Redshift, which
//! cannot run here: the stand-in logs every statement, so each UNLOAD's exact text is checked
//! there (PostgreSQL refuses it, after logging it), with the catalog lookups the original makes
//! (`svv_columns` for dates, a partition information table) answered by real views and tables.

use crate::db_from_s3::stand_in;
use crate::sql::run;
use lava_tests::TestRealm;
use serde_json::{Value, json};

async fn job(r: &TestRealm, id: &str, parameters: Value) {
    r.put_job(json!({"job_id": id, "type": "redshift_unload", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": null, "parameters": parameters}))
        .await;
}

const SETUP: &str = "CREATE TABLE sales (id INTEGER, day DATE, region TEXT); \
    CREATE TABLE refunds (id INTEGER, amount NUMERIC); \
    CREATE TABLE parts (schema_name TEXT, rel_name TEXT, partitions TEXT); \
    INSERT INTO parts VALUES ('public', 'sales', 'region, day'), ('public', 'refunds', 'id'); \
    CREATE VIEW svv_columns AS SELECT current_database()::text AS table_catalog, table_schema::text, \
    table_name::text, column_name::text, data_type::text, ordinal_position FROM information_schema.columns";

#[tokio::test]
async fn each_relation_is_unloaded_with_the_originals_statement_and_failures_are_recorded() {
    let (_server, log, r) = stand_in("rsu", SETUP, "rs", "redshift", "AKIDEXAMPLE,s3cr3tKey").await;
    let bucket = r.own_bucket(true).await;
    let params = |more: Value| {
        let mut p = json!({"conn_id": "rs", "bucket": bucket, "schema": "public", "relation": ["sales", "refunds"],
            "prefix": "out/{{ relation }}/{{ vars.day }}_", "vars": {"day": "20261130"},
            "where": "region = '{{ vars.region }}'", "dateformat": "YYYY-MM-DD",
            "args": ["CSV", "HEADER", "PARTITION BY @public.parts", "PARALLEL OFF"]});
        p["vars"]["region"] = json!("north");
        p.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
        p
    };
    job(&r, "rsu/stop", params(json!({"s3_iam_role": "arn:aws:iam::123456789012:role/unload"}))).await;
    job(&r, "rsu/all", params(json!({"s3_conn_id": "s3keys", "stop_on_fail": false}))).await;
    job(
        &r,
        "rsu/start",
        params(json!({"s3_iam_role": "arn:aws:iam::1:role/u", "start": "refunds", "dateformat": null})),
    )
    .await;
    job(&r, "rsu/none", params(json!({"s3_iam_role": "arn:aws:iam::1:role/u", "start": "nothing"}))).await;

    let sales = |auth: &str| {
        format!(
            "UNLOAD ('SELECT \"id\", to_char(\"day\", \\'YYYY-MM-DD\\') AS \"day\", \"region\" FROM \"public\".\"sales\" \
             WHERE region = \\'north\\'') TO 's3://{bucket}/out/sales/20261130_' {auth} CSV HEADER \
             PARTITION BY (\"region\",\"day\") PARALLEL OFF;"
        )
    };
    let refunds = |auth: &str| {
        format!(
            "UNLOAD ('SELECT * FROM \"public\".\"refunds\" WHERE region = \\'north\\'') TO 's3://{bucket}/out/refunds/20261130_' \
             {auth} CSV HEADER PARTITION BY (\"id\") PARALLEL OFF;"
        )
    };

    // Stop on the first failure (the default): one unload attempted, recorded as failed.
    let (statuses, stop) = run(&r, "rsu/stop").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{stop}");
    assert!(stop["error"].as_str().unwrap().starts_with("Unload failed: "), "{stop}");
    let unloads = stop["error_data"]["unloads"].as_array().unwrap();
    assert_eq!(unloads.len(), 1, "{stop}");
    assert_eq!(unloads[0]["relation"], "sales");
    assert_eq!(unloads[0]["status"], "failed");
    assert_eq!(unloads[0]["prefix"], "out/sales/20261130_");
    assert!(unloads[0]["error"].as_str().unwrap().contains("syntax error"), "{stop}");

    // Keep going: both attempted, both failed, the run fails naming how many.
    let (_, all) = run(&r, "rsu/all").await;
    assert_eq!(all["error"], "2 unloads failed", "{all}");
    assert_eq!(all["error_data"]["failures"], json!(["sales", "refunds"]), "{all}");
    assert!(!all.to_string().contains("s3cr3tKey"), "the secret key is in no event: {all}");

    // Start at a relation: the ones before it are skipped.
    let (_, start) = run(&r, "rsu/start").await;
    let unloads = start["error_data"]["unloads"].as_array().unwrap();
    assert_eq!(unloads.iter().map(|u| u["relation"].clone()).collect::<Vec<_>>(), [json!("refunds")], "{start}");
    let (_, none) = run(&r, "rsu/none").await;
    assert_eq!(none["error"], "No unloads were attempted", "{none}");
    assert_eq!(none["error_data"], json!({"start": "nothing"}), "{none}");

    // The statements' line breaks and indents are the original's (checked by the differential
    // suite); here their words are.
    let log = std::fs::read_to_string(&log).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(log.contains(&sales("IAM_ROLE 'arn:aws:iam::123456789012:role/unload'")), "{log}");
    assert!(log.contains(&sales("ACCESS_KEY_ID 'AKIDEXAMPLE' SECRET_ACCESS_KEY 's3cr3tKey'")), "{log}");
    assert!(log.contains(&refunds("ACCESS_KEY_ID 'AKIDEXAMPLE' SECRET_ACCESS_KEY 's3cr3tKey'")), "{log}");
    assert!(log.contains(&refunds("IAM_ROLE 'arn:aws:iam::1:role/u'")), "{log}");
    assert!(
        !log.contains(&refunds("IAM_ROLE 'arn:aws:iam::123456789012:role/unload'")),
        "stop_on_fail stopped at the first failure"
    );
    let shown = &all["error_data"]["unloads"][0];
    assert_eq!(shown["status"], "failed");
    assert!(shown.get("sql").is_none(), "a failed unload records no sql: {shown}");
}

#[tokio::test]
async fn bad_parameters_and_insecure_buckets_fail_before_any_unload() {
    let (_server, log, r) = stand_in("rsb", SETUP, "rs", "redshift", "AKIDEXAMPLE,s3cr3tKey").await;
    let open = r.own_bucket(false).await;
    let secure = r.own_bucket(true).await;
    let base = |bucket: &str, more: Value| {
        let mut p = json!({"conn_id": "rs", "bucket": bucket, "schema": "public", "relation": "sales",
            "prefix": "out/", "args": ["CSV"], "s3_iam_role": "arn:aws:iam::1:role/u"});
        p.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
        p
    };
    job(&r, "rsb/insecure", base(&open, json!({}))).await;
    job(&r, "rsb/noauth", base(&secure, json!({"s3_iam_role": null}))).await;
    job(&r, "rsb/quote", base(&secure, json!({"prefix": "out/{{ vars.q }}", "vars": {"q": "it's"}}))).await;
    job(&r, "rsb/pg", base(&secure, json!({"conn_id": "pg"}))).await;
    job(&r, "rsb/ghost", base(&secure, json!({"relation": "Ghost", "args": ["PARTITION BY @public.parts"]}))).await;

    let (_, insecure) = run(&r, "rsb/insecure").await;
    assert_eq!(insecure["error"], format!("Bucket {open} is insecure: Insecure due to lack of default encryption"));
    let (_, noauth) = run(&r, "rsb/noauth").await;
    assert_eq!(noauth["error"], "At least one of s3_iam_role and s3_conn_id is required");
    let (_, quote) = run(&r, "rsb/quote").await;
    assert_eq!(quote["error"], "Unload failed: Bad prefix parameter: Single quote not allowed in S3 prefix", "{quote}");
    let (_, pg) = run(&r, "rsb/pg").await;
    assert!(pg["error"].as_str().unwrap().contains("needs a redshift or redshift-serverless connection"), "{pg}");
    let (_, ghost) = run(&r, "rsb/ghost").await;
    assert_eq!(
        ghost["error"],
        "Unload failed: Cannot get partition info from public.parts for public.Ghost: Not found"
    );

    // Parameters the original refuses are refused when the job is put.
    for (bad, message) in [
        (json!({"prefix": null}), "prefix is required"),
        (json!({"args": ["CSV", "IAM_ROLE 'x'"]}), "Invalid UNLOAD arguments: IAM_ROLE"),
        (json!({"bucket": null}), "Missing keys: bucket"),
    ] {
        let mut p = base(&secure, json!({}));
        for (k, v) in bad.as_object().unwrap() {
            if v.is_null() {
                p.as_object_mut().unwrap().remove(k);
            } else {
                p[k] = v.clone();
            }
        }
        let spec = json!({"job_id": "rsb/bad", "type": "redshift_unload", "worker": "core", "enabled": true,
            "owner": "o", "description": "d", "payload": null, "parameters": p});
        let checked =
            shared::model::JobSpec::from_value(&spec).and_then(|s| s.validate(&Default::default()).map(|_| s));
        assert!(checked.is_err_and(|e| e.to_string().contains(message)), "{message}");
    }
    assert!(!std::fs::read_to_string(&log).unwrap().contains("UNLOAD"), "nothing was unloaded");
}
