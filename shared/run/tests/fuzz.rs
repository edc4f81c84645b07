//! Every parser of outside input survives anything: property tests (proptest) feed each one
//! arbitrary text and arbitrary JSON, and mutations of valid inputs, and check that it answers
//! without a panic, every refusal a non-empty message. `PROPTEST_CASES` sets the inputs per
//! parser (2,000 here; BENCHMARKS.md's fault suite quotes a run of 1,000,000 each).

use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, a few levels deep, keys from the names the parsers look for and others.
fn json_value() -> impl Strategy<Value = Value> {
    const NAMES: &[&str] = &[
        "job_id",
        "run_id",
        "realm",
        "worker",
        "type",
        "parameters",
        "globals",
        "Records",
        "s3",
        "key",
        "Message",
        "Type",
        "conn_id",
    ];
    let key = prop_oneof![prop::sample::select(NAMES).prop_map(String::from), "[a-z_%é]{0,8}"];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
        "[0-9a-f-]{36}".prop_map(Value::String),
        "%[0-9a-fA-Fé]{0,3}[a-z+]{0,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid worker message with one field replaced by `value`.
fn worker_message(field: usize, value: Value) -> String {
    let mut m = json!({"realm": "r", "worker": "core", "job_id": "a/b", "run_id": "9b2e7f5a-0c41-4d0e-a7a4-5f3c0b8d1e22",
        "ts_dispatch": "2025-03-04T06:15:41+11:00", "parameters": {}, "globals": {}});
    let name = ["realm", "worker", "job_id", "run_id", "ts_dispatch", "parameters", "globals"][field % 7];
    m[name] = value;
    m.to_string()
}

fn refused_clearly<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.to_string().trim().is_empty(), "a refusal says why");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn worker_messages(text in ".{0,200}", field in 0usize..7, value in json_value()) {
        refused_clearly(lava_model::model::WorkerMessage::parse(&text))?;
        refused_clearly(lava_model::model::WorkerMessage::parse(&worker_message(field, value)))?;
    }

    #[test]
    fn dispatch_requests(text in ".{0,200}", value in json_value()) {
        refused_clearly(lava_core::dispatch::requests::parse_body(&text))?;
        if let Ok(works) = lava_core::dispatch::requests::parse_body(&value.to_string()) {
            for work in works {
                refused_clearly(work)?;
            }
        }
    }

    #[test]
    fn s3_notifications(value in json_value(), key in ".{0,40}") {
        refused_clearly(lava_core::s3trigger::object_events(&value, "us-east-1"))?;
        let record = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 1}}}]});
        refused_clearly(lava_core::s3trigger::object_events(&record, "us-east-1"))?;
        let _ = lava_core::s3trigger::url_decode(&key);
    }

    #[test]
    fn job_and_connection_specs(value in json_value(), kind in "[a-z_]{0,12}") {
        if let Ok(job) = lava_model::model::JobSpec::from_value(&value) {
            refused_clearly(job.validate(&Default::default()))?;
        }
        let mut typed = value.clone();
        if let Some(map) = typed.as_object_mut() {
            map.insert("type".into(), json!(kind));
            map.insert("job_id".into(), json!("a/b"));
            map.insert("conn_id".into(), json!("c"));
        }
        if let Ok(job) = lava_model::model::JobSpec::from_value(&typed) {
            refused_clearly(job.validate(&Default::default()))?;
        }
        if let Ok(connection) = lava_model::model::ConnectionEntry::from_value(&typed) {
            refused_clearly(connection.validate())?;
        }
    }

    #[test]
    fn cron_and_schedule_text(text in "[0-9*,/@ a-zA-Z-]{0,40}", any_text in ".{0,40}") {
        refused_clearly(lava_model::model::schedule::Cron::parse(&text))?;
        refused_clearly(lava_model::model::schedule::Cron::parse(&any_text))?;
    }

    #[test]
    fn jinja_templates(body in "[a-z0-9 .|()\\[\\]'\"+*/%~<>=!,-]{0,40}", text in ".{0,60}") {
        let renderer = lava_render::Renderer::default();
        let context = lava_render::from_json(&json!({"vars": {"a": 1, "b": "x"}}));
        for template in [format!("{{{{ {body} }}}}"), format!("{{% if {body} %}}y{{% endif %}}"), text] {
            refused_clearly(renderer.render(&template, &context))?;
        }
    }

    #[test]
    fn csv_input(text in "[a-z,\"\\r\\n ]{0,80}", any_text in ".{0,80}") {
        refused_clearly(lava_run::sql::csv::parse(&text))?;
        refused_clearly(lava_run::sql::csv::parse(&any_text))?;
    }
}
