//! JSON Schemas (draft 2020-12) of the four kinds of spec, generated from the model's own
//! tables: the job fields and types ([`KNOWN_FIELDS`], [`JobType::KNOWN`]), each type's
//! parameter keys ([`ParameterKeys`]), the connection types and the fields each takes
//! ([`type_fields`]), the S3 trigger fields and conditions, and the realm entry's fields.
//! `lava schema --export DIR` writes them; the project ships them in `schemas/` for editors
//! (a YAML file starting `# yaml-language-server: $schema=…` is completed and checked), and a
//! test keeps that copy current. They are the shape of a spec; `lava schema` and `put` apply
//! the model's deeper checks (durations, schedules, payload shapes, limits).

use serde_json::{Map, Value, json};

use super::connection::type_fields;
use super::connection_type::ConnectionType;
use super::job::KNOWN_FIELDS;
use super::job_type::JobType;
use super::params::ParameterKeys;
use super::s3trigger;

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Every schema: its file name (`job.schema.json`, …) and the schema.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("job.schema.json", job()),
        ("connection.schema.json", connection()),
        ("s3trigger.schema.json", s3trigger()),
        ("realm.schema.json", realm()),
    ]
}

/// An object of `properties` whose other keys must be `x-…` (lava's tooling data) or `$…`
/// (`$schema`, which editors read and the framework leaves out of what it installs).
fn closed(title: &str, properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({
        "$schema": DRAFT,
        "title": title,
        "type": "object",
        "properties": properties,
        "patternProperties": {"^[xX]-": {}, "^\\$": {}},
        "required": required,
        "unevaluatedProperties": false,
    })
}

/// A property of a job as its type in [`JobSpec`](super::JobSpec) allows it.
fn job_field(name: &str) -> Value {
    let text = json!({"type": "string", "minLength": 1});
    let duration = json!({"type": ["string", "number"]});
    let actions = json!({"type": "array", "items": {"type": "object", "required": ["action"]}});
    match name {
        "job_id" | "worker" | "description" | "owner" => text,
        "type" => {
            let names: Vec<&str> = JobType::KNOWN.iter().map(JobType::name).collect();
            json!({"enum": names})
        }
        "dispatcher" => json!({"type": "string"}),
        "enabled" => json!({"type": ["boolean", "string"]}),
        "payload" => json!({"type": ["null", "string", "array", "object"]}),
        "parameters" | "globals" | "state" => json!({"type": "object"}),
        "iteration_limit" | "max_tries" => json!({"type": "integer", "minimum": 0}),
        "iteration_delay" | "max_run_delay" => duration,
        "cw_metrics" => json!({"type": "boolean"}),
        "on_success" | "on_fail" | "on_retry" => actions,
        _ => json!({}),
    }
}

/// The job schema: the fields, then each type's parameters (closed where the model checks
/// them).
pub fn job() -> Value {
    let properties: Map<String, Value> = KNOWN_FIELDS.iter().map(|f| (f.to_string(), job_field(f))).collect();
    let mut schema = closed("lava job", properties, &["job_id", "type", "worker", "payload"]);
    let by_type: Vec<Value> = JobType::KNOWN
        .iter()
        .filter_map(|t| {
            let keys = ParameterKeys::of(t)?;
            let props: Map<String, Value> = keys.allowed.iter().map(|k| (k.to_string(), json!({}))).collect();
            let parameters = json!({"type": "object", "properties": props, "required": keys.required,
                "additionalProperties": false});
            Some(json!({"if": {"properties": {"type": {"const": t.name()}}, "required": ["type"]},
                "then": {"properties": {"parameters": parameters}}}))
        })
        .collect();
    schema["allOf"] = Value::Array(by_type);
    schema
}

/// The connection schema: the common fields, then the fields of each type the model checks
/// strictly (types are matched in any case, as lava reads them).
pub fn connection() -> Value {
    let text = json!({"type": "string", "minLength": 1});
    let names: Vec<&str> = ConnectionType::KNOWN.iter().map(ConnectionType::name).collect();
    let mut properties = Map::new();
    properties.insert("conn_id".into(), text.clone());
    properties.insert("type".into(), json!({"type": "string", "examples": names}));
    properties.insert("enabled".into(), json!({"type": "boolean"}));
    properties.insert("description".into(), json!({"type": "string"}));
    properties.insert("owner".into(), json!({"type": "string"}));
    properties.insert("secret_id".into(), json!({"type": "string"}));
    let by_type: Vec<Value> = ConnectionType::KNOWN
        .iter()
        .filter_map(|t| {
            let (allowed, required) = type_fields(t, true)?;
            let mut props = properties.clone();
            props.extend(allowed.iter().map(|k| (k.to_string(), json!({}))));
            let pattern = format!("^{}$", any_case(t.name()));
            Some(json!({"if": {"properties": {"type": {"pattern": pattern}}, "required": ["type"]},
                "then": {"properties": props, "patternProperties": {"^[xX]-": {}, "^\\$": {}},
                    "required": required, "additionalProperties": false}}))
        })
        .collect();
    json!({
        "$schema": DRAFT,
        "title": "lava connection",
        "type": "object",
        "properties": properties,
        "required": ["conn_id", "type"],
        "allOf": by_type,
    })
}

/// A regular expression (ECMA-262, as editors read them) matching `name` in any case.
fn any_case(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The S3 trigger schema: its fields and its `if_…`/`if_not_…` conditions.
pub fn s3trigger() -> Value {
    let text = json!({"type": "string", "minLength": 1});
    let properties: Map<String, Value> = s3trigger::KNOWN
        .iter()
        .map(|f| {
            let schema = match *f {
                "trigger_id" | "bucket" | "prefix" => text.clone(),
                "job_id" => json!({"type": ["string", "array"]}),
                "enabled" | "jinja" => json!({"type": "boolean"}),
                "globals" | "parameters" => json!({"type": "object"}),
                "delay" => json!({"type": ["string", "number"]}),
                _ => json!({"type": "string"}),
            };
            (f.to_string(), schema)
        })
        .collect();
    let mut schema = closed("lava s3trigger", properties, &["trigger_id", "bucket", "prefix", "job_id", "enabled"]);
    let conditions = s3trigger::CONDITIONS.join("|");
    schema["patternProperties"][format!("^if_(not_)?({conditions})$")] = json!({});
    schema
}

/// The realm entry schema (open: a realm entry keeps fields lava does not read).
pub fn realm() -> Value {
    let location = json!({"type": "string", "pattern": "^s3://"});
    let actions = json!({"type": "array", "items": {"type": "object", "required": ["action"]}});
    json!({
        "$schema": DRAFT,
        "title": "lava realm",
        "type": "object",
        "properties": {
            "realm": {"type": "string", "minLength": 1},
            "s3_payloads": location,
            "s3_temp": location,
            "s3_key": {"type": "string"},
            "config": {"type": "object"},
            "on_success": actions,
            "on_fail": actions,
            "on_retry": actions,
            "docker": {"type": "string"},
        },
        "required": ["realm", "s3_payloads", "s3_temp"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy in `schemas/` is what the model generates (regenerate it with `lava schema
    /// --export schemas`).
    #[test]
    fn the_shipped_schemas_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        for (name, schema) in all() {
            let shipped = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let current = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            assert!(
                shipped == current,
                "schemas/{name} is not what the model generates: run `lava schema --export schemas`"
            );
        }
    }

    #[test]
    fn each_type_s_parameters_are_those_the_model_takes() {
        let schema = job();
        let sqlc =
            schema["allOf"].as_array().unwrap().iter().find(|c| c["if"]["properties"]["type"]["const"] == "sqlc");
        let parameters = &sqlc.unwrap()["then"]["properties"]["parameters"];
        assert_eq!(parameters["required"], json!(["conn_id"]));
        let mut keys: Vec<&String> = parameters["properties"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["args", "conn_id", "jinja", "timeout", "vars"]);
        assert_eq!(any_case("mysql-rds"), "[mM][yY][sS][qQ][lL]-[rR][dD][sS]");
        assert!(schema["properties"].get("timeout").is_none(), "no field the original does not know");
    }
}
