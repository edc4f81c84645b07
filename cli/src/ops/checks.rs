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

/// Every check, in the order reports list them (by name, as the original sorts them); `about`
/// is the original's description (`jobconn` is this project's).
pub const CHECKS: &[Check] = &[
    Check {
        name: "conmeta",
        about: "Find connection specs with missing metadata (e.g. description, owner).",
        suppressible: false,
    },
    Check { name: "jobconn", about: "Jobs naming a connection the realm does not have.", suppressible: true },
    Check { name: "jobjinja", about: "Job specs with Jinja rendering issues.", suppressible: true },
    Check { name: "jobmeta", about: "Job specs with missing metadata (e.g. description, owner).", suppressible: false },
    Check { name: "joborphan", about: "Jobs with no recorded run events.", suppressible: true },
    Check {
        name: "jobrepo",
        about: "Job specs that don't appear to have an associated repo (x-lava-git-repo).",
        suppressible: true,
    },
    Check { name: "jobrsu", about: "Redshift_unload jobs with insecure set to true.", suppressible: true },
    Check {
        name: "trigmeta",
        about: "S3trigger specs with missing metadata (e.g. description, owner).",
        suppressible: false,
    },
    Check { name: "trigslash", about: "Find s3trigger specs with prefix ending in slash.", suppressible: false },
];

/// The checks whose names match any of `patterns` (globs), in [`CHECKS`] order.
pub fn selected(patterns: &[String]) -> Vec<Check> {
    CHECKS.iter().copied().filter(|c| patterns.iter().any(|p| super::glob_match(p, c.name, false))).collect()
}

/// A problem a check found: a row of the original's table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check.
    pub check: &'static str,
    /// The entry (job id, connection id, trigger id).
    pub id: String,
    /// The entry's `owner`.
    pub owner: Option<String>,
    /// What is wrong, where the check says more than its description.
    pub details: Option<String>,
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

/// Python's truth of a stored value (`not job.get(field)` in the original's checks).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
    }
}

fn missing_metadata(item: &Map<String, Value>) -> Option<String> {
    let missing: Vec<&str> = ["description", "owner"].into_iter().filter(|k| !truthy(item.get(*k))).collect();
    (!missing.is_empty()).then(|| format!("Missing: {}", missing.join(", ")))
}

/// Runs `checks` over `realm`; `suppress` honours `x-lava-nocheck` where a check allows it.
pub fn run(checks: &[Check], realm: &Realm, suppress: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let key = |item: &Map<String, Value>, k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let connections: BTreeSet<String> = realm.connections.iter().map(|c| key(c, "conn_id")).collect();
    let renderer = Renderer::default();
    for check in checks {
        let mut found = |item: &Map<String, Value>, id: String, details: Option<String>| {
            if !(suppress && check.suppressible && suppressed(item, check.name)) {
                let owner = item
                    .get("owner")
                    .filter(|o| truthy(Some(o)))
                    .map(|o| o.as_str().map_or(o.to_string(), str::to_string));
                findings.push(Finding { check: check.name, id, owner, details });
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
                    if let Some(missing) = missing_metadata(item) {
                        found(item, key(item, k), Some(missing));
                    }
                }
            }
            "jobconn" | "jobjinja" | "jobrsu" => {
                for item in &realm.jobs {
                    let id = key(item, "job_id");
                    let Ok(job) = JobSpec::from_value(&Value::Object(item.clone())) else {
                        found(item, id, Some("not a readable job spec".into()));
                        continue;
                    };
                    match check.name {
                        "jobconn" => {
                            for conn in job.connection_ids() {
                                if !conn.contains("{{") && !connections.contains(&conn) {
                                    found(item, id.clone(), Some(format!("{conn}: No such connection")));
                                }
                            }
                        }
                        "jobjinja" => {
                            for problem in jinja_problems(&renderer, &job, &realm.realm) {
                                found(item, id.clone(), Some(problem));
                            }
                        }
                        _ => {
                            let insecure = job.parameters.as_ref().and_then(|p| p.get("insecure"));
                            if job.job_type.name() == "redshift_unload" && truthy(insecure) {
                                found(item, id, None);
                            }
                        }
                    }
                }
            }
            "joborphan" => {
                for item in &realm.jobs {
                    let id = key(item, "job_id");
                    if !realm.jobs_with_runs.contains(&id) {
                        found(item, id, None);
                    }
                }
            }
            "jobrepo" => {
                for item in &realm.jobs {
                    if !truthy(item.get("x-lava-git-repo")) {
                        found(item, key(item, "job_id"), None);
                    }
                }
            }
            "trigslash" => {
                // S3 event notification filters match the key's prefix as given, so the original
                // warns of a trailing slash (its wording).
                for item in &realm.triggers {
                    if item.get("prefix").and_then(Value::as_str).is_some_and(|p| p.ends_with('/')) {
                        found(item, key(item, "trigger_id"), Some("Prefix ending with / won't work".into()));
                    }
                }
            }
            other => unreachable!("check {other} is listed but not run"),
        }
    }
    findings
}

/// The checks as the original lists them when none is asked for.
pub fn listing() -> String {
    let width = CHECKS.iter().map(|c| c.name.len()).max().unwrap_or(0) + 1;
    let lines: Vec<String> = CHECKS.iter().map(|c| format!("{:<width$} {}", format!("{}:", c.name), c.about)).collect();
    format!("\nAvailable checkers are:\n\n{}\n", lines.join("\n"))
}

/// The findings as the original prints them: for each check that found something (in name
/// order), `# name: description` and a table of ID, Owner and Details (rows in id order,
/// columns as wide as their longest cell, headings centred as Python centres them).
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for check in CHECKS {
        let mut rows: Vec<&Finding> = findings.iter().filter(|f| f.check == check.name).collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let width = |cells: Vec<&str>| cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
        let id_w = width(rows.iter().map(|r| r.id.as_str()).collect());
        let owner_w = width(rows.iter().filter_map(|r| r.owner.as_deref()).chain(["Owner"]).collect());
        let details_w = width(rows.iter().filter_map(|r| r.details.as_deref()).chain(["Details"]).collect());
        out.push_str(&format!("\n# {}: {}\n\n", check.name, check.about.trim_matches('.')));
        let widths = [id_w + 2, owner_w + 2, details_w + 2];
        let heads = ["ID", "Owner", "Details"].iter().zip(widths).map(|(h, w)| python_center(h, w));
        out.push_str(&format!("|{}|\n", heads.collect::<Vec<_>>().join("|")));
        out.push_str(&format!("|{}|\n", widths.map(|w| "-".repeat(w)).join("|")));
        for row in rows {
            let cells = [row.id.as_str(), row.owner.as_deref().unwrap_or(""), row.details.as_deref().unwrap_or("")];
            let padded: Vec<String> =
                cells.iter().zip(widths).map(|(c, w)| format!(" {c:<pad$}", pad = w - 1)).collect();
            out.push_str(&format!("|{}|\n", padded.join("|")));
        }
        out.push('\n');
    }
    // The command line ends the output with a line end of its own.
    out.strip_suffix('\n').unwrap_or(&out).to_string()
}

/// `text.center(width)` as Python pads it: an odd margin's extra space goes left only when
/// the width is odd too.
fn python_center(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let margin = width - len;
    let left = margin / 2 + (margin & width & 1);
    format!("{}{text}{}", " ".repeat(left), " ".repeat(margin - left))
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
/// `event_log` that does not render in a context like a run's, and the globals it uses
/// without declaring them in `globals` (one problem naming them all, as the original's).
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
                problems.push(format!("Template error: {field}: {e}"));
            }
        }
    }
    let undeclared: Vec<&str> = used.difference(&declared).map(String::as_str).collect();
    if !undeclared.is_empty() {
        problems.push(format!("Undeclared globals: {}", undeclared.join(", ")));
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
                {"job_id": "bad", "type": "cmd", "worker": "core", "payload": "echo {{ globals.night }} {{ globals.noon }} {% if %}",
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
            let row = |f: &Finding| (f.id.clone(), f.details.clone().unwrap_or_default());
            findings.iter().filter(|f| f.check == check).map(row).collect()
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(of("conmeta"), [s("pg", "Missing: description")]);
        assert_eq!(of("jobmeta"), [s("bad", "Missing: description, owner")]);
        assert_eq!(of("trigmeta"), []);
        assert_eq!(
            of("trigslash"),
            [s("u", "Prefix ending with / won't work")],
            "a trailing slash, which x-lava-nocheck does not hide"
        );
        assert_eq!(of("jobconn"), [s("bad", "nope: No such connection")]);
        let jinja = of("jobjinja");
        assert_eq!(jinja.len(), 2, "{jinja:?}");
        assert!(jinja[0].0 == "bad" && jinja[0].1.starts_with("Template error: payload: "), "{jinja:?}");
        assert_eq!(jinja[1], s("bad", "Undeclared globals: night, noon"));
        assert_eq!(of("joborphan"), [s("bad", ""), s("rsu", "")]);
        assert_eq!(of("jobrepo"), [s("bad", "")], "rsu suppresses jobrepo");
        assert_eq!(of("jobrsu"), [], "suppressed");
        let owners: Vec<Option<&str>> =
            findings.iter().filter(|f| f.check == "joborphan").map(|f| f.owner.as_deref()).collect();
        assert_eq!(owners, [None, Some("o")]);
        // -S: no suppression.
        let unsuppressed = run(&selected(&["jobrsu".into()]), &realm, false);
        assert_eq!(unsuppressed.len(), 1);
        assert_eq!(selected(&["job*".into()]).len(), 6);
        assert!(selected(&["nothing".into()]).is_empty());
    }

    #[test]
    fn the_report_is_the_original_s_table_for_each_check_that_found_something() {
        let finding = |check, id: &str, owner: Option<&str>, details: Option<&str>| Finding {
            check,
            id: id.into(),
            owner: owner.map(Into::into),
            details: details.map(Into::into),
        };
        let findings = [
            finding("jobrepo", "b/two", None, None),
            finding("jobmeta", "a/one", Some("data team"), Some("Missing: description")),
            finding("jobrepo", "a/one", Some("data team"), None),
        ];
        // What the original's template renders for these rows (checked with jinja2).
        let expected = "\n# jobmeta: Job specs with missing metadata (e.g. description, owner)\n\n\
            |   ID  |   Owner   |       Details        |\n\
            |-------|-----------|----------------------|\n\
            | a/one | data team | Missing: description |\n\
            \n\
            \n# jobrepo: Job specs that don't appear to have an associated repo (x-lava-git-repo)\n\n\
            |   ID  |   Owner   | Details |\n\
            |-------|-----------|---------|\n\
            | a/one | data team |         |\n\
            | b/two |           |         |\n";
        assert_eq!(report(&findings), expected);
        assert_eq!(report(&[]), "");
        assert_eq!(python_center("ID", 7), "   ID  ");
        assert_eq!(python_center("Owner", 12), "   Owner    ");
        assert_eq!(python_center("ab", 5), "  ab ");
        assert!(
            listing().starts_with("\nAvailable checkers are:\n\nconmeta:   Find connection specs"),
            "{}",
            listing()
        );
    }

    #[test]
    fn globals_are_found_dotted_and_indexed() {
        assert_eq!(
            globals_used("{{ globals.a }} {{ globals['b'] }} {{ globals.lava.x }} {{ job.globals.c }}"),
            BTreeSet::from(["a".to_string(), "b".into(), "c".into()])
        );
    }
}
