//! Every example record in the specification and the seed documents parses and validates, and a
//! table of invalid records each gives its expected error.

use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> Vec<Value> {
    let text = match name {
        "jobs" => include_str!("../../../../tests/fixtures/specs/jobs.json"),
        "realms" => include_str!("../../../../tests/fixtures/specs/realms.json"),
        "connections" => include_str!("../../../../tests/fixtures/specs/connections.json"),
        "s3triggers" => include_str!("../../../../tests/fixtures/specs/s3triggers.json"),
        "seed-actions" => include_str!("../../../../tests/fixtures/specs/seed-actions.json"),
        _ => unreachable!("known fixtures only"),
    };
    serde_json::from_str(text).expect("fixtures are JSON lists")
}

#[test]
fn every_spec_job_validates_and_round_trips() {
    let jobs = fixture("jobs");
    assert_eq!(jobs.len(), 18, "all job examples of the spec are in the fixture");
    for value in jobs {
        let job = JobSpec::from_value(&value).unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = job.validate(&Limits::default()) {
            panic!("{} should be valid: {e}", job.job_id);
        }
        assert_eq!(job.to_value(), value, "{} round-trips unchanged", job.job_id);
    }
}

#[test]
fn every_spec_realm_connection_and_trigger_validates() {
    for value in fixture("realms") {
        let realm = RealmEntry::from_value(&value).unwrap();
        realm.validate(&Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", realm.realm));
        assert_eq!(realm.to_value(), value);
    }
    let connections = fixture("connections");
    assert_eq!(connections.len(), 9);
    for value in connections {
        let conn = ConnectionEntry::from_value(&value).unwrap();
        conn.validate().unwrap_or_else(|e| panic!("{}: {e}", conn.conn_id));
        assert_eq!(conn.to_value(), value);
    }
    for value in fixture("s3triggers") {
        let trigger = S3TriggerEntry::from_value(&value).unwrap();
        trigger.validate(900.0).unwrap_or_else(|e| panic!("{}: {e}", trigger.trigger_id));
    }
}

#[test]
fn the_seed_action_examples_validate() {
    let lists = fixture("seed-actions");
    assert_eq!(lists.len(), 5);
    for (i, value) in lists.into_iter().enumerate() {
        let mut job = json!({"job_id": format!("seed/{i}"), "type": "log", "worker": "core", "payload": null,
                             "owner": "o", "description": "d", "enabled": true});
        job.as_object_mut().unwrap().extend(value.as_object().unwrap().clone());
        let job = JobSpec::from_value(&job).unwrap();
        job.validate(&Limits::default()).unwrap_or_else(|e| panic!("seed action list {i}: {e}"));
    }
}

fn base_job() -> Value {
    json!({"job_id": "finance/x", "type": "cmd", "worker": "core", "payload": "echo hi", "owner": "o", "description": "d"})
}

fn with(changes: Value) -> Value {
    let mut job = base_job();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() && k.starts_with('-') {
            job.as_object_mut().unwrap().remove(&k[1..]);
        } else {
            job[k] = v.clone();
        }
    }
    job
}

#[test]
fn invalid_jobs_name_the_field_and_the_reason() {
    let cases: Vec<(Value, &str)> = vec![
        (with(json!({"iteration_delay": "7m"})), "jobs[finance/x].iteration_delay: 7m is over the 5m maximum"),
        (with(json!({"iteration_limit": 11})), "jobs[finance/x].iteration_limit: 11 is over the maximum of 10"),
        (with(json!({"type": "shell"})), "jobs[finance/x].type: \"shell\": unknown job type"),
        (with(json!({"-payload": null})), "jobs[finance/x].payload: is required"),
        (with(json!({"-worker": null})), "jobs[finance/x]: missing field `worker`"),
        (with(json!({"globals": {"lavaRun": 1}})), "jobs[finance/x].globals.lavaRun: Reserved global"),
        (
            with(json!({"max_tries": "three"})),
            "jobs[finance/x].max_tries: invalid type: string \"three\", expected i64",
        ),
        (with(json!({"iteration_delay": "soon"})), "jobs[finance/x].iteration_delay: bad duration \"soon\""),
        (with(json!({"max_run_delay": "1y"})), "jobs[finance/x].max_run_delay: bad duration \"1y\""),
        (with(json!({"max_run_delay": "-3m"})), "jobs[finance/x].max_run_delay: -3m is negative"),
        (
            with(json!({"parameters": {"timeout": "forever"}})),
            "jobs[finance/x].parameters.timeout: bad duration \"forever\"",
        ),
        (
            with(json!({"parameters": {"timeout": 0}})),
            "jobs[finance/x].parameters.timeout: 0 is not a positive duration",
        ),
        (
            with(json!({"schedule": "0 25 * * *"})),
            "jobs[finance/x].schedule: bad cron schedule \"0 25 * * *\": bad hour field",
        ),
        (with(json!({"schedule": {"cron": "* * * * *"}})), "jobs[finance/x].schedule: Unexpected keys: cron"),
        (
            with(json!({"parameters": {"timeout": "5m", "shell": true}})),
            "jobs[finance/x].parameters: Bad job parameters: Unexpected keys: shell",
        ),
        (
            with(json!({"type": "sql", "payload": "q.sql", "parameters": {}})),
            "jobs[finance/x].parameters: Bad job parameters: Missing keys: conn_id",
        ),
        (
            with(json!({"type": "sql", "payload": "q.sql", "parameters": {"conn_id": "c", "quoting": "some"}})),
            "Bad quoting style: some",
        ),
        (
            with(json!({"type": "sql", "payload": "q.sql", "parameters": {"conn_id": "c", "output": "a/b"}})),
            "Bad output parameter: \"a/b\": Must be alphanumeric",
        ),
        (
            with(json!({"type": "exe", "payload": ["a", "b"]})),
            "jobs[finance/x].payload: Only single string payloads are supported for exe jobs",
        ),
        (
            with(json!({"type": "exe", "payload": "x.sh", "parameters": {"connections": {"my-db": "c"}}})),
            "Bad connection label: my-db",
        ),
        (with(json!({"type": "pkg", "payload": "p.zip", "parameters": {}})), "Bad job parameters: No command"),
        (
            with(json!({"type": "docker", "payload": "img", "parameters": {"host_config": {"privileged": true}}})),
            "Bad host_config parameters: privileged",
        ),
        (with(json!({"type": "docker", "payload": "repo:"})), "Must be in the form repository[:tag]"),
        (
            with(json!({"type": "docker", "payload": "img", "parameters": {"host_config": {"mem_limit": "lots"}}})),
            "jobs[finance/x].parameters: Bad job parameters: host_config.mem_limit: \"lots\": not a size",
        ),
        (
            with(json!({"type": "docker", "payload": "img", "parameters": {"host_config": {"ports": {"80": "x"}}}})),
            "host_config.ports.80: \"x\" is not a host port",
        ),
        (
            with(json!({"type": "sqlv", "payload": "q.sql", "parameters": {"conn_id": "c", "level": "loud"}})),
            "Bad level: \"loud\": expected debug, info, warning, error or critical",
        ),
        (with(json!({"type": "dag", "payload": ["a"]})), "jobs[finance/x].payload: payload must be a map"),
        (
            with(json!({"payload": 42})),
            "jobs[finance/x].payload: Bad payload: must be a command line string, not a number",
        ),
        (with(json!({"parameters": ["a"]})), "jobs[finance/x].parameters: must be a map, not a list"),
        (
            with(json!({"on_success": {"action": "log"}})),
            "jobs[finance/x].on_success: on_success: action must be a list",
        ),
        (
            with(json!({"on_fail": [{"message": "x"}]})),
            "jobs[finance/x].on_fail[0]: on_fail action: Missing keys: action",
        ),
        (
            with(json!({"on_fail": [{"action": "page"}]})),
            "jobs[finance/x].on_fail[0]: on_fail action: page: unknown action",
        ),
        (
            with(json!({"on_success": [{"action": "email", "to": "a@b", "subject": "s"}]})),
            "on_success action: email: Missing keys: message",
        ),
        (
            with(json!({"on_success": [{"action": "event", "colour": "red"}]})),
            "on_success action: event: Unexpected keys: colour",
        ),
        (
            with(json!({"on_success": [{"action": "state", "state_id": "lava.x", "value": 1}]})),
            "Bad state_id: Values beginning with \"lava\" are reserved",
        ),
        (
            with(json!({"on_success": [{"action": "dispatch", "job_id": "j", "delay": "20m"}]})),
            "on_success[0].delay: Bad delay: 20m: Must be between 0 and 15m",
        ),
        (
            with(
                json!({"on_success": [{"action": "email", "to": "a@b", "subject": "s", "message": "m", "attachments": ["f"]}]}),
            ),
            "email_conn must be specified to enable attachments",
        ),
    ];
    for (value, expected) in cases {
        let outcome = JobSpec::from_value(&value).and_then(|job| job.validate(&Limits::default()));
        match outcome {
            Ok(_) => panic!("{value} should be invalid ({expected})"),
            Err(e) => assert!(e.to_string().contains(expected), "error {e:?} should contain {expected:?}"),
        }
    }
}

#[test]
fn warnings_do_not_block_a_job() {
    let job = JobSpec::from_value(
        &json!({"job_id": "a", "type": "log", "worker": "core", "payload": null, "colour": "red", "enabled": 1}),
    )
    .unwrap();
    let warnings = job.validate(&Limits::default()).unwrap();
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|w| w.starts_with("jobs[a].description: missing")), "{text:?}");
    assert!(text.iter().any(|w| w.starts_with("jobs[a].colour: unknown field")), "{text:?}");
    assert!(text.iter().any(|w| w.contains("neither true nor false")), "{text:?}");
    assert_eq!(job.enabled(), Enabled::Other);
}

#[test]
fn invalid_other_records() {
    let realm =
        RealmEntry::from_value(&json!({"realm": "dev", "s3_payloads": "s3://b", "s3_temp": "s3://b/tmp"})).unwrap();
    assert!(
        realm
            .validate(&Limits::default())
            .unwrap_err()
            .to_string()
            .contains("realms[dev].s3_payloads: the payload area needs a prefix")
    );
    assert!(
        RealmEntry::from_value(&json!({"realm": "dev"}))
            .unwrap_err()
            .to_string()
            .contains("missing field `s3_payloads`")
    );
    let conn = ConnectionEntry::from_value(&json!({"conn_id": "c", "type": "postgres", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d"})).unwrap();
    assert!(conn.validate().unwrap_err().to_string().contains("connections[c].password: is required"));
    let conn = ConnectionEntry::from_value(&json!({"conn_id": "c", "type": "telnet", "enabled": true})).unwrap();
    assert!(conn.validate().unwrap_err().to_string().contains("\"telnet\": unknown connection type"));
    let conn = ConnectionEntry::from_value(
        &json!({"conn_id": "s", "type": "slack", "enabled": true, "webhook_url": "u", "channel": "x"}),
    )
    .unwrap();
    assert!(conn.validate().unwrap_err().to_string().contains("Bad connection record: Unexpected keys: channel"));
    let trigger = S3TriggerEntry::from_value(
        &json!({"trigger_id": "t", "bucket": "b", "prefix": "p/", "job_id": "j", "enabled": true, "if_colour": "red"}),
    )
    .unwrap();
    let err = trigger.validate(900.0).unwrap_err().to_string();
    assert!(
        err.contains("s3triggers[t].prefix: must not end with /")
            && err.contains("s3triggers[t].if_colour: Bad trigger spec"),
        "{err}"
    );
}
