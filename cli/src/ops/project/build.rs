//! Building a project's sources for an environment, as the original's framework builds them
//! (`make dist env=…`): each spec source rendered with the framework's `<{ … }>` tags and the
//! environment's values, YAML turned into JSON, stamped with `x-lava-*` build facts and the
//! change-detection checksum (`x-lava-chk`, tag `FW`), and printed as its `json.dump(indent=4)`
//! prints. A source rendering to nothing (`null`) is built as `null` and never installed.

use minijinja::value::Value as JinjaValue;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::ops::checksum::{self, Checksum};
use shared::render::python::json_dumps_with;

/// The account the build is for (STS's caller identity and the region).
#[derive(Debug, Clone)]
pub struct Account {
    /// The account id.
    pub account: String,
    /// The caller's ARN (`arn:aws:iam::1:user/fred`).
    pub arn: String,
    /// The region.
    pub region: String,
}

impl Account {
    /// `lava.aws.arn(service, name)`: the ARNs the original's helper builds.
    fn arn(&self, service: &str, name: &str) -> Result<String, String> {
        let Account { account, region, .. } = self;
        Ok(match service {
            "lambda-function" => format!("arn:aws:lambda:{region}:{account}:function:{name}"),
            "log-group" => format!("arn:aws:logs:{region}:{account}:log-group:{name}"),
            "sns-topic" => format!("arn:aws:sns:{region}:{account}:{name}"),
            "sqs-queue" => format!("arn:aws:sqs:{region}:{account}:{name}"),
            "iam-role" => format!("arn:aws:iam::{account}:role/{name}"),
            other => return Err(format!("arn: Unknown service: {other}")),
        })
    }

    /// `lava.aws`: account, user (the part of the ARN after its first `/`), region, ecr_uri
    /// and the `arn` helper.
    fn value(&self) -> JinjaValue {
        let me = self.clone();
        let arn = JinjaValue::from_function(move |service: String, name: String| {
            me.arn(&service, &name).map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
        });
        let user = self.arn.split('/').nth(1).unwrap_or_default().to_string();
        let ecr_uri = format!("{}.dkr.ecr.{}.amazonaws.com", self.account, self.region);
        map([
            ("account", JinjaValue::from(self.account.clone())),
            ("user", JinjaValue::from(user)),
            ("region", JinjaValue::from(self.region.clone())),
            ("ecr_uri", JinjaValue::from(ecr_uri)),
            ("arn", arn),
        ])
    }
}

/// Whether `relative` (inside a source directory) is a spec source: `.yaml` or `.json`, no
/// part of its path starting with `_` (those are pieces other sources include).
pub fn is_spec_source(relative: &Path) -> bool {
    let hidden =
        relative.components().any(|c| matches!(c, Component::Normal(p) if p.to_string_lossy().starts_with('_')));
    let ext = relative.extension().and_then(|e| e.to_str()).unwrap_or_default();
    !hidden && (ext == "yaml" || ext == "json")
}

/// The render values of one source: the environment's config, `lava.realm` (the realm's
/// entry; a config's own `lava` key is replaced, as the original's), `env`, `jinja.*` (times,
/// `prog`, `user`, `templates`), `lava.aws` and `lava.dag` (the function given).
pub fn context(
    config: &Map<String, Value>,
    realm: &Map<String, Value>,
    env: &str,
    account: &Account,
    template: &str,
    dag: JinjaValue,
) -> JinjaValue {
    let now = jiff::Zoned::now();
    let utc = now.with_time_zone(jiff::tz::TimeZone::UTC);
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let jinja = json!({
        "ctime": now.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        "datetime": now.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        "utc_ctime": utc.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        "utc_datetime": utc.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        "iso_datetime": utc.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "prog": "jinja",
        "user": user,
        "templates": [template],
    });
    let mut values: BTreeMap<String, JinjaValue> = config.iter().map(|(k, v)| (k.clone(), from_json(v))).collect();
    let lava = map([("realm", from_json(&Value::Object(realm.clone()))), ("aws", account.value()), ("dag", dag)]);
    values.insert("lava".into(), lava);
    values.insert("env".into(), JinjaValue::from(env));
    values.insert("jinja".into(), from_json(&jinja));
    JinjaValue::from(values)
}

/// A template map of `entries`.
fn map<const N: usize>(entries: [(&str, JinjaValue); N]) -> JinjaValue {
    JinjaValue::from(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>())
}

fn from_json(value: &Value) -> JinjaValue {
    shared::render::from_json(value)
}

/// The spec a rendered source holds: YAML (JSON is YAML too) as a JSON value.
pub fn parse(rendered: &str) -> Result<Value, String> {
    let value: Value = serde_norway::from_str(rendered).map_err(|e| e.to_string())?;
    match value {
        Value::Object(_) | Value::Null => Ok(value),
        other => Err(format!("a spec is a mapping, not {}", shared::model::validation::kind_of(&other))),
    }
}

/// The build facts stamped on every spec (`x-lava-built`, `-builder`, `-host`, `-user`, `-os`
/// and the git branch, repository and commit of the project).
pub fn stamps(version: &str, git: &GitFacts) -> Vec<(String, String)> {
    let now = jiff::Zoned::now();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    [
        ("x-lava-built", now.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()),
        ("x-lava-builder", format!("lava project {version}")),
        ("x-lava-os", std::env::consts::OS.to_string()),
        ("x-lava-host", host),
        ("x-lava-git-branch", git.branch.clone()),
        ("x-lava-git-repo", git.repo.clone()),
        ("x-lava-git-status", git.status.clone()),
        ("x-lava-user", user),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What git says of the project (`--` where it says nothing).
#[derive(Debug, Clone)]
pub struct GitFacts {
    /// The branch.
    pub branch: String,
    /// The `origin` remote's URL.
    pub repo: String,
    /// The commit, and `dirty` when the work tree has changes.
    pub status: String,
}

/// A built spec: `spec` stamped and checksummed (a `null` spec stays `null`).
pub fn stamp(spec: Value, stamps: &[(String, String)]) -> Result<Value, String> {
    let Value::Object(mut map) = spec else { return Ok(spec) };
    for (k, v) in stamps {
        map.insert(k.clone(), json!(v));
    }
    let mut sum = Checksum::of(&map, "sha256")?;
    sum.tag = "FW".into();
    map.insert(checksum::FIELD.into(), json!(sum.to_string()));
    Ok(Value::Object(map))
}

/// A built spec's file text, as Python's `json.dump(spec, indent=4)` and a newline.
pub fn file_text(spec: &Value) -> String {
    json_dumps_with(spec, Some(4), false) + "\n"
}

/// What is written to a table: the spec without its `$…` keys (JSON Schema's).
pub fn table_item(spec: &Map<String, Value>) -> Map<String, Value> {
    spec.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// What `diff` prints for a built spec against the realm's entry (nothing when they agree):
/// each printed as Python's `json.dumps(sort_keys=True, indent=4)` without its `x-…` and `$…`
/// keys, their unified diff with three lines of context, without the file header lines.
pub fn diff(built: &Map<String, Value>, deployed: &Map<String, Value>) -> Vec<String> {
    let text = |m: &Map<String, Value>| {
        let kept: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| !(k.starts_with("x-") || k.starts_with("X-") || k.starts_with('$')))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        json_dumps_with(&Value::Object(kept), Some(4), true) + "\n"
    };
    let (old, new) = (text(built), text(deployed));
    let changes = similar::TextDiff::from_lines(&old, &new);
    let mut lines = Vec::new();
    for hunk in changes.unified_diff().context_radius(3).iter_hunks() {
        lines.push(hunk.header().to_string());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            lines.push(format!("{sign}{}", change.value().trim_end_matches('\n')));
        }
    }
    lines
}

/// The keys an EventBridge rule source must have and may have.
const RULE_REQUIRED: [&str; 3] = ["description", "owner", "rule_id"];
const RULE_OPTIONAL: [&str; 7] =
    ["enabled", "event_bus_name", "event_pattern", "role_arn", "schedule_expression", "tags", "targets"];

/// Checks a rule's keys (`x-…` and `$…` aside) in the original's words.
pub fn check_rule(spec: &Map<String, Value>) -> Result<(), String> {
    let keys: Vec<&str> = spec
        .keys()
        .map(String::as_str)
        .filter(|k| !k.to_lowercase().starts_with("x-") && !k.starts_with('$'))
        .collect();
    let mut missing: Vec<&str> = RULE_REQUIRED.iter().copied().filter(|k| !keys.contains(k)).collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        return Err(format!("Missing keys: {}", missing.join(", ")));
    }
    let mut unexpected: Vec<&str> =
        keys.iter().copied().filter(|k| !RULE_REQUIRED.contains(k) && !RULE_OPTIONAL.contains(k)).collect();
    unexpected.sort_unstable();
    if !unexpected.is_empty() {
        return Err(format!("Unexpected keys: {}", unexpected.join(", ")));
    }
    for (key, ok) in [
        ("rule_id", spec.get("rule_id").is_some_and(Value::is_string)),
        ("tags", spec.get("tags").is_none_or(|t| t.as_object().is_some_and(|m| m.values().all(Value::is_string)))),
        ("targets", spec.get("targets").is_none_or(Value::is_array)),
    ] {
        if !ok {
            return Err(format!("Bad {key}"));
        }
    }
    Ok(())
}

/// A rule's tags as the original puts them: its `tags`, `owner`, then its `x-…` fields,
/// every character outside `[\w .:+=@_/-]` in keys and values made `_`.
pub fn rule_tags(spec: &Map<String, Value>) -> Vec<(String, String)> {
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_alphanumeric() || " .:+=@_/-".contains(c) { c } else { '_' }).collect()
    };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut tags: Vec<(String, String)> = spec
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    tags.push(("owner".into(), spec.get("owner").map(text).unwrap_or_default()));
    tags.extend(spec.iter().filter(|(k, _)| k.to_lowercase().starts_with("x-")).map(|(k, v)| (k.clone(), text(v))));
    tags.into_iter().map(|(k, v)| (safe(&k), safe(&v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/fred".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn a_source_renders_with_the_config_the_realm_and_the_account() {
        let config = json!({"prefix": {"job": "app/p"}, "lava": "replaced"});
        let realm = json!({"realm": "dev", "s3_temp": "s3://tmp-bucket/lava"});
        let dag = JinjaValue::from_function(|source: String| format!("dag of {source}"));
        let ctx = context(config.as_object().unwrap(), realm.as_object().unwrap(), "prod", &account(), "a/b.yaml", dag);
        let source = "job_id: <{ prefix.job }>/x\nenv: <{ env }>\nbucket: <{ lava.realm.s3_temp.split('/')[2] }>\n\
                      fn: <{ lava.aws.arn('lambda-function', 'lava-dev-s3trigger') }>\nuser: <{ lava.aws.user }>\n\
                      ecr: <{ lava.aws.ecr_uri }>\nsrc: <{ jinja.templates[0] }>\nrun: '{{ globals.x }}'\ndag: <{ lava.dag('d.csv') }>\n";
        let rendered = shared::render::Renderer::framework().render(source, &ctx).unwrap();
        let spec = parse(&rendered).unwrap();
        assert_eq!(
            spec,
            json!({"job_id": "app/p/x", "env": "prod", "bucket": "tmp-bucket",
                   "fn": "arn:aws:lambda:eu-west-1:123456789012:function:lava-dev-s3trigger", "user": "fred",
                   "ecr": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "src": "a/b.yaml", "run": "{{ globals.x }}",
                   "dag": "dag of d.csv"})
        );
        let bad = shared::render::Renderer::framework().render("<{ lava.aws.arn('nope', 'x') }>", &ctx).unwrap_err();
        assert!(bad.contains("arn: Unknown service: nope"), "{bad}");
    }

    #[test]
    fn a_built_spec_carries_stamps_and_a_framework_checksum_that_ignores_them() {
        let spec = json!({"job_id": "a", "type": "cmd", "$schema": "x"});
        let built = stamp(spec.clone(), &[("x-lava-user".into(), "me".into())]).unwrap();
        let chk = Checksum::parse(built["x-lava-chk"].as_str().unwrap()).unwrap();
        assert_eq!(chk.tag, "FW");
        assert!(chk.holds_for(spec.as_object().unwrap()).unwrap());
        assert_eq!(built["x-lava-user"], "me");
        assert_eq!(stamp(Value::Null, &[]).unwrap(), Value::Null);
        assert!(!table_item(built.as_object().unwrap()).contains_key("$schema"));
        assert_eq!(file_text(&json!({"a": ["é"]})), "{\n    \"a\": [\n        \"\\u00e9\"\n    ]\n}\n");
    }

    #[test]
    fn a_diff_shows_what_changed_and_nothing_of_the_stamps() {
        let built = json!({"job_id": "a", "owner": "o", "x-lava-built": "now", "parameters": {"args": [1]}});
        let deployed = json!({"job_id": "a", "owner": "p", "x-lava-built": "then", "parameters": {"args": [1]}});
        let lines = diff(built.as_object().unwrap(), deployed.as_object().unwrap());
        // What Python's difflib.unified_diff gives for the same two texts.
        let expected = [
            "@@ -1,6 +1,6 @@",
            " {",
            "     \"job_id\": \"a\",",
            "-    \"owner\": \"o\",",
            "+    \"owner\": \"p\",",
            "     \"parameters\": {",
            "         \"args\": [",
            "             1",
        ];
        assert_eq!(lines, expected);
        assert!(diff(built.as_object().unwrap(), built.as_object().unwrap()).is_empty());
    }

    #[test]
    fn sources_and_rules_are_told_apart_and_checked() {
        assert!(is_spec_source(Path::new("daily/load.yaml")));
        assert!(!is_spec_source(Path::new("_parts/load.yaml")));
        assert!(!is_spec_source(Path::new("daily/_base.json")));
        assert!(!is_spec_source(Path::new("README.md")));
        let rule =
            json!({"rule_id": "lava.dev.p.r", "owner": "o", "description": "d", "x-a": "b@c!", "tags": {"k": "v"}});
        assert_eq!(check_rule(rule.as_object().unwrap()), Ok(()));
        assert_eq!(
            rule_tags(rule.as_object().unwrap()),
            vec![("k".into(), "v".into()), ("owner".into(), "o".into()), ("x-a".into(), "b@c_".into())]
        );
        assert_eq!(
            check_rule(json!({"owner": "o"}).as_object().unwrap()).unwrap_err(),
            "Missing keys: description, rule_id"
        );
        let extra = json!({"rule_id": "r", "owner": "o", "description": "d", "name": "n"});
        assert_eq!(check_rule(extra.as_object().unwrap()).unwrap_err(), "Unexpected keys: name");
    }
}
