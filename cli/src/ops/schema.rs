//! `lava schema`: deep validation of specs, strict as the original's `lava-schema` (its JSON
//! Schemas refuse fields they do not know). Each spec is checked by the model's own validation,
//! the one `put` and the worker apply, with the job fields the original does not know made
//! errors; each problem is reported with its field as a JSON path (`$.parameters.timeout`).

use serde_json::Value;

use shared::config::Config;
use shared::model::job::KNOWN_FIELDS;
use shared::model::validation::{ValidationError, ValidationErrors, is_extension_key};
use shared::model::{ConnectionEntry, JobSpec, Limits, RealmEntry, S3TriggerEntry};

/// The kinds of spec, as the original's `-t` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecType {
    /// Job specs.
    Job,
    /// S3 trigger specs.
    S3trigger,
    /// Connection specs.
    Connection,
    /// Realm entries.
    Realm,
}

impl SpecType {
    /// The prefix of the model's paths for this kind (`jobs`, as in `jobs[id].field`).
    fn path_root(self) -> &'static str {
        match self {
            SpecType::Job => "jobs",
            SpecType::S3trigger => "s3triggers",
            SpecType::Connection => "connections",
            SpecType::Realm => "realms",
        }
    }

    /// The table its entries are kept in.
    pub fn table(self) -> super::TableKind {
        match self {
            SpecType::Job => super::TableKind::Jobs,
            SpecType::S3trigger => super::TableKind::S3triggers,
            SpecType::Connection => super::TableKind::Connections,
            SpecType::Realm => super::TableKind::Realms,
        }
    }

    /// The attribute holding a spec's id (its table's key).
    pub fn key(self) -> &'static str {
        self.table().key()
    }
}

/// One problem: where (a JSON path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `$`, `$.parameters.timeout`, `$.on_success[0].action`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem of one spec (none when it passes), under `limits` (a realm entry's own).
pub fn check(kind: SpecType, spec: &Value, limits: &Limits) -> Vec<Problem> {
    let Some(map) = spec.as_object() else {
        return vec![Problem { path: "$".into(), message: format!("{spec} is not of type 'object'") }];
    };
    // `$schema` and the like are for editors (the original ignored them too).
    let map: serde_json::Map<String, Value> =
        map.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect();
    let spec = &Value::Object(map);
    let map = spec.as_object().expect("built as an object");
    let id = map.get(kind.key()).and_then(Value::as_str).unwrap_or("?");
    let errors = match kind {
        SpecType::Job => JobSpec::from_value(spec).and_then(|job| job.validate(limits)).map(|_| ()),
        SpecType::S3trigger => S3TriggerEntry::from_value(spec).and_then(|t| t.validate(limits.max_delay)).map(|_| ()),
        SpecType::Connection => ConnectionEntry::from_value(spec).and_then(|c| c.validate()).map(|_| ()),
        SpecType::Realm => RealmEntry::from_value(spec).and_then(|r| {
            let own = Config::new(std::iter::empty::<(String, String)>(), r.config.as_ref()).limits();
            r.validate(&own).map(|_| ())
        }),
    }
    .err()
    .unwrap_or(ValidationErrors(Vec::new()));
    let mut problems: Vec<Problem> = errors.0.iter().map(|e| problem(kind, id, e)).collect();
    if kind == SpecType::Job {
        let mut unknown: Vec<&String> =
            map.keys().filter(|k| !is_extension_key(k) && !KNOWN_FIELDS.contains(&k.as_str())).collect();
        unknown.sort();
        problems.extend(unknown.into_iter().map(|key| Problem {
            path: "$".into(),
            message: format!("Unevaluated properties are not allowed ('{key}' was unexpected)"),
        }));
    }
    problems
}

/// The model's error as a [`Problem`], its path made a JSON path within the spec.
fn problem(kind: SpecType, id: &str, error: &ValidationError) -> Problem {
    let prefixes = [format!("{}[{id}]", kind.path_root()), format!("{}[]", kind.path_root())];
    let rest = prefixes.iter().find_map(|p| error.path.strip_prefix(p.as_str())).unwrap_or(&error.path);
    let path = match rest {
        "" => "$".to_string(),
        r if r.starts_with('.') || r.starts_with('[') => format!("${r}"),
        r => format!("$.{r}"),
    };
    Problem { path, message: error.reason.clone() }
}

/// The report of one spec as the original prints it: nothing when it passes (`<id>: OK` when
/// `verbose`), else `<id>: Failed` and each problem numbered with its path and message.
pub fn report(name: &str, problems: &[Problem], verbose: bool) -> Option<String> {
    if problems.is_empty() {
        return verbose.then(|| format!("{name}: OK"));
    }
    let mut text = format!("{name}: Failed");
    for (n, p) in problems.iter().enumerate() {
        text.push_str(&format!("\n[{}] Path: {}\n    Message: {}\n", n + 1, p.path, p.message));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(kind: SpecType, spec: Value) -> Vec<String> {
        check(kind, &spec, &Limits::default()).into_iter().map(|p| format!("{} {}", p.path, p.message)).collect()
    }

    #[test]
    fn a_good_job_passes_and_bad_fields_are_named_by_their_json_path() {
        let good = json!({"job_id": "a/b", "type": "cmd", "worker": "core", "payload": "echo hi",
            "description": "d", "owner": "o", "parameters": {"timeout": "5m"}, "x-note": 1});
        assert_eq!(paths(SpecType::Job, good), Vec::<String>::new());
        let bad = json!({"job_id": "a/b", "type": "cmd", "worker": "core", "payload": "echo hi",
            "timeout": "5m", "parameters": {"timeout": "soon", "colour": 1}});
        let found = paths(SpecType::Job, bad);
        assert!(found.iter().any(|p| p.starts_with("$.parameters")), "{found:?}");
        assert!(found.contains(&"$ Unevaluated properties are not allowed ('timeout' was unexpected)".to_string()));
        let missing = paths(SpecType::Job, json!({"job_id": "a/c", "type": "cmd", "worker": "core"}));
        assert!(missing.iter().any(|p| p.starts_with("$.payload ")), "{missing:?}");
    }

    #[test]
    fn every_kind_is_checked_with_its_own_model() {
        let trigger = json!({"trigger_id": "t", "bucket": "b", "prefix": "in/", "job_id": "a/b", "enabled": true});
        assert_eq!(paths(SpecType::S3trigger, trigger), vec!["$.prefix must not end with /"]);
        let connection = json!({"conn_id": "c", "type": "nonsense", "enabled": true});
        assert!(!paths(SpecType::Connection, connection).is_empty());
        assert_eq!(paths(SpecType::Job, json!([1])), vec!["$ [1] is not of type 'object'"]);
        let realm = json!({"realm": "r", "s3_payloads": "s3://b", "s3_temp": "s3://b/tmp", "s3_key": "k"});
        let found = paths(SpecType::Realm, realm);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("$.s3_payloads "), "{found:?}");
    }

    #[test]
    fn reports_read_as_the_original_s() {
        let problems = [Problem { path: "$.payload".into(), message: "is required".into() }];
        assert_eq!(
            report("a.yaml", &problems, false).unwrap(),
            "a.yaml: Failed\n[1] Path: $.payload\n    Message: is required\n"
        );
        assert_eq!(report("a.yaml", &[], false), None);
        assert_eq!(report("a.yaml", &[], true).unwrap(), "a.yaml: OK");
    }
}
