//! `lava check`: the original's hygiene checks on a realm's specs, and one more (`jobconn`).
//! Each check reads specs already scanned (one scan per table, whatever the checks), so this
//! module does no I/O; the command gathers what the checks read.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use shared::model::JobSpec;
use shared::render::{self, Renderer};

/// One check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Its name (`lava check -c NAME`).
    pub name: &'static str,
    /// What it finds.
    pub about: &'static str,
    /// Whether an entry may turn it off with `x-lava-nocheck`.
    pub suppressible: bool,
}

/// Every check, in the order reports list them.
pub const CHECKS: &[Check] = &[
    Check {
        name: "conmeta",
        about: "Connection specs with missing metadata (description, owner).",
        suppressible: false,
    },
    Check { name: "jobconn", about: "Jobs naming a connection the realm does not have.", suppressible: true },
    Check {
        name: "jobjinja",
        about: "Job specs that do not render, or use globals they do not declare.",
        suppressible: true,
    },
    Check { name: "jobmeta", about: "Job specs with missing metadata (description, owner).", suppressible: false },
    Check { name: "joborphan", about: "Jobs with no recorded run events.", suppressible: true },
    Check { name: "jobrepo", about: "Job specs with no x-lava-git-repo field.", suppressible: true },
    Check { name: "jobrsu", about: "redshift_unload jobs with insecure set to true.", suppressible: true },
    Check {
        name: "trigmeta",
        about: "S3trigger specs with missing metadata (description, owner).",
        suppressible: false,
    },
    Check { name: "trigslash", about: "S3trigger specs with a prefix ending in a slash.", suppressible: false },
];

/// The checks whose names match any of `patterns` (globs), in [`CHECKS`] order.
pub fn selected(patterns: &[String]) -> Vec<Check> {
    CHECKS.iter().copied().filter(|c| patterns.iter().any(|p| super::glob_match(p, c.name, false))).collect()
}

/// A problem a check found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check.
    pub check: &'static str,
    /// The entry (job id, connection id, trigger id).
    pub id: String,
    /// What is wrong.
    pub problem: String,
}

/// What the checks read: the realm's specs as stored, and which jobs have run events.
#[derive(Debug, Default)]
pub struct Realm {
    /// The realm entry.
    pub realm: Value,
    /// Job items.
    pub jobs: Vec<Map<String, Value>>,
    /// Connection items.
    pub connections: Vec<Map<String, Value>>,
    /// S3 trigger items.
    pub triggers: Vec<Map<String, Value>>,
    /// Jobs with at least one run in the events table (for `joborphan`).
    pub jobs_with_runs: BTreeSet<String>,
}

fn suppressed(item: &Map<String, Value>, check: &str) -> bool {
    match item.get("x-lava-nocheck") {
        Some(Value::String(s)) => s == check,
        Some(Value::Array(list)) => list.iter().any(|v| v.as_str() == Some(check)),
        _ => false,
    }
}

fn missing_metadata(item: &Map<String, Value>) -> Option<String> {
    let missing: Vec<&str> = ["description", "owner"]
        .into_iter()
        .filter(|k| item.get(*k).and_then(Value::as_str).is_none_or(|v| v.trim().is_empty()))
        .collect();
    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
}

/// Runs `checks` over `realm`; `suppress` honours `x-lava-nocheck` where a check allows it.
pub fn run(checks: &[Check], realm: &Realm, suppress: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let key = |item: &Map<String, Value>, k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let connections: BTreeSet<String> = realm.connections.iter().map(|c| key(c, "conn_id")).collect();
    let renderer = Renderer::default();
    for check in checks {
        let mut found = |item: &Map<String, Value>, id: String, problem: String| {
            if !(suppress && check.suppressible && suppressed(item, check.name)) {
                findings.push(Finding { check: check.name, id, problem });
            }
        };
        match check.name {
            "conmeta" | "jobmeta" | "trigmeta" => {
                let (items, k) = match check.name {
                    "conmeta" => (&realm.connections, "conn_id"),
                    "jobmeta" => (&realm.jobs, "job_id"),
                    _ => (&realm.triggers, "trigger_id"),
                };
                for item in items {
                    if let Some(problem) = missing_metadata(item) {
                        found(item, key(item, k), problem);
                    }
                }
            }
            "jobconn" | "jobjinja" | "jobrsu" => {
                for item in &realm.jobs {
                    let id = key(item, "job_id");
                    let Ok(job) = JobSpec::from_value(&Value::Object(item.clone())) else {
                        found(item, id, "not a readable job spec".into());
                        continue;
                    };
                    match check.name {
                        "jobconn" => {
                            for conn in job.connection_ids() {
                                if !conn.contains("{{") && !connections.contains(&conn) {
                                    found(item, id.clone(), format!("{conn}: No such connection"));
                                }
                            }
                        }
                        "jobjinja" => {
                            for problem in jinja_problems(&renderer, &job, &realm.realm) {
                                found(item, id.clone(), problem);
                            }
                        }
                        _ => {
                            let insecure = job.parameters.as_ref().and_then(|p| p.get("insecure"));
                            if job.job_type.name() == "redshift_unload" && insecure == Some(&Value::Bool(true)) {
                                found(item, id, "insecure is true: the bucket checks are off".into());
                            }
                        }
                    }
                }
            }
            "joborphan" => {
                for item in &realm.jobs {
                    let id = key(item, "job_id");
                    if !realm.jobs_with_runs.contains(&id) {
                        found(item, id, "no run events".into());
                    }
                }
            }
            "jobrepo" => {
                for item in &realm.jobs {
                    if item.get("x-lava-git-repo").is_none_or(Value::is_null) {
                        found(item, key(item, "job_id"), "no x-lava-git-repo".into());
                    }
                }
            }
            "trigslash" => {
                // S3 event notification filters match the key's prefix as given, so the original
                // warns of a trailing slash (its wording).
                for item in &realm.triggers {
                    if item.get("prefix").and_then(Value::as_str).is_some_and(|p| p.ends_with('/')) {
                        found(item, key(item, "trigger_id"), "Prefix ending with / won't work".into());
                    }
                }
            }
            other => unreachable!("check {other} is listed but not run"),
        }
    }
    findings
}

/// The names a text uses as `globals.NAME` or `globals['NAME']` (`lava` aside).
fn globals_used(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("globals") {
        let after = &rest[i + "globals".len()..];
        let name: String = if let Some(dotted) = after.strip_prefix('.') {
            dotted.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
        } else if let Some(indexed) = after.strip_prefix("['").or_else(|| after.strip_prefix("[\"")) {
            indexed.chars().take_while(|c| *c != '\'' && *c != '"').collect()
        } else {
            String::new()
        };
        if !name.is_empty() && name != "lava" {
            used.insert(name);
        }
        rest = after;
    }
    used
}

/// A job's rendering problems: each template in its payload, parameters, `enabled` and
/// `event_log` that does not render in a context like a run's, and each global it uses
/// without declaring it in `globals`.
pub fn jinja_problems(renderer: &Renderer, job: &JobSpec, realm: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let declared: BTreeSet<String> = job.globals_map().keys().cloned().collect();
    let mut globals = job.globals_map();
    globals.insert("lava".into(), json!({"master_job_id": job.job_id, "parent_job_id": job.job_id, "iteration": 1}));
    let now = shared::model::values::format_timestamp(&jiff::Zoned::now());
    let mut spec = job.to_value();
    spec["globals"] = Value::Object(globals.clone());
    spec["run_id"] = json!("00000000-0000-0000-0000-000000000000");
    spec["ts_start"] = json!(now);
    let mut context = Map::new();
    context.insert("job".into(), spec);
    context.insert("realm".into(), realm.clone());
    context.insert("globals".into(), Value::Object(globals));
    context.insert("state".into(), job.state.clone().unwrap_or(json!({})));
    context.insert("start".into(), json!(now));
    context.insert("ustart".into(), json!(now));
    let context = render::context_from_json(&context);
    let fields = [
        ("payload", &job.payload),
        ("parameters", &job.parameters),
        ("enabled", &job.enabled),
        ("event_log", &job.event_log),
    ];
    let mut used = BTreeSet::new();
    for (field, value) in fields {
        let Some(value) = value else { continue };
        let mut templates = Vec::new();
        collect_templates(value, &mut templates);
        for template in templates {
            used.extend(globals_used(&template));
            if let Err(e) = renderer.render(&template, &context) {
                problems.push(format!("{field}: {e}"));
            }
        }
    }
    for name in used.difference(&declared) {
        problems.push(format!("undeclared global: {name}"));
    }
    problems
}

fn collect_templates(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_templates(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_templates(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(values: Value) -> Vec<Map<String, Value>> {
        values.as_array().unwrap().iter().map(|v| v.as_object().unwrap().clone()).collect()
    }

    #[test]
    fn each_check_finds_its_problem_and_honours_suppression() {
        let realm = Realm {
            realm: json!({"realm": "unit", "s3_temp": "s3://b/tmp"}),
            jobs: items(json!([
                {"job_id": "ok", "type": "cmd", "worker": "core", "payload": "echo {{ globals.day }}", "globals": {"day": "mon"},
                 "owner": "o", "description": "d", "x-lava-git-repo": "git@x:y.git", "parameters": {"connections": {"db": "pg"}}},
                {"job_id": "bad", "type": "cmd", "worker": "core", "payload": "echo {{ globals.night }} {% if %}",
                 "parameters": {"connections": {"db": "nope"}}},
                {"job_id": "rsu", "type": "redshift_unload", "worker": "core", "owner": "o", "description": "d",
                 "parameters": {"conn_id": "pg", "bucket": "b", "prefix": "p", "schema": "s", "relation": "r", "insecure": true, "s3_iam_role": "arn:aws:iam::1:role/r"},
                 "x-lava-nocheck": ["jobrsu", "jobrepo"]}
            ])),
            connections: items(json!([{"conn_id": "pg", "type": "postgres", "owner": "o"}])),
            triggers: items(
                json!([{"trigger_id": "t", "bucket": "b", "prefix": "p", "job_id": "ok", "enabled": true, "owner": "o", "description": "d"},
                       {"trigger_id": "u", "bucket": "b", "prefix": "p/", "job_id": "ok", "enabled": true, "owner": "o", "description": "d",
                        "x-lava-nocheck": "trigslash"}]),
            ),
            jobs_with_runs: BTreeSet::from(["ok".to_string()]),
        };
        let all = selected(&["*".into()]);
        let findings = run(&all, &realm, true);
        let of = |check: &str| -> Vec<(String, String)> {
            findings.iter().filter(|f| f.check == check).map(|f| (f.id.clone(), f.problem.clone())).collect()
        };
        assert_eq!(of("conmeta"), [("pg".to_string(), "missing description".to_string())]);
        assert_eq!(of("jobmeta"), [("bad".to_string(), "missing description, owner".to_string())]);
        assert_eq!(of("trigmeta"), []);
        assert_eq!(
            of("trigslash"),
            [("u".to_string(), "Prefix ending with / won't work".to_string())],
            "a trailing slash, which x-lava-nocheck does not hide"
        );
        assert_eq!(of("jobconn"), [("bad".to_string(), "nope: No such connection".to_string())]);
        let jinja = of("jobjinja");
        assert_eq!(jinja.len(), 2, "{jinja:?}");
        assert!(jinja[0].0 == "bad" && jinja[0].1.starts_with("payload: "), "{jinja:?}");
        assert_eq!(jinja[1], ("bad".to_string(), "undeclared global: night".to_string()));
        assert_eq!(
            of("joborphan"),
            [("bad".to_string(), "no run events".to_string()), ("rsu".into(), "no run events".into())]
        );
        assert_eq!(of("jobrepo"), [("bad".to_string(), "no x-lava-git-repo".to_string())], "rsu suppresses jobrepo");
        assert_eq!(of("jobrsu"), [], "suppressed");
        // -S: no suppression.
        let unsuppressed = run(&selected(&["jobrsu".into()]), &realm, false);
        assert_eq!(unsuppressed.len(), 1);
        assert_eq!(selected(&["job*".into()]).len(), 6);
        assert!(selected(&["nothing".into()]).is_empty());
    }

    #[test]
    fn globals_are_found_dotted_and_indexed() {
        assert_eq!(
            globals_used("{{ globals.a }} {{ globals['b'] }} {{ globals.lava.x }} {{ job.globals.c }}"),
            BTreeSet::from(["a".to_string(), "b".into(), "c".into()])
        );
    }
}
