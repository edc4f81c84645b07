//! `lava new` and `lava project`: a job project laid out as the original's job framework makes
//! one (its `lava-new`: `config/<env>.yaml`, `lava-jobs/`, `lava-connections/`,
//! `lava-triggers/`, `lava-rules/`, `lava-payloads/`), a job of any type added from a template,
//! and the steps that take a project to a realm (`dist`, `pre-install`, `install`, `diff`,
//! `uninstall`, the original's make targets). This module decides what a new project holds
//! ([`answers`], [`layout`]); `templates` writes a job, `build` turns sources into what is
//! installed. The I/O is in `commands/project.rs`.

pub mod build;
pub mod templates;

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The directories holding a project's sources, each built into `dist/<env>/<dir>/`.
pub const SOURCE_DIRS: [&str; 5] = ["lava-jobs", "lava-connections", "lava-triggers", "lava-rules", "lava-payloads"];

/// One parameter of a new project (the original's cookiecutter variables): its default, where
/// `{name}` stands for an earlier answer, and its choices (the first is the default).
struct Param {
    name: &'static str,
    default: &'static str,
    choices: &'static [&'static str],
}

const fn param(name: &'static str, default: &'static str) -> Param {
    Param { name, default, choices: &[] }
}

const fn choice(name: &'static str, choices: &'static [&'static str]) -> Param {
    Param { name, default: "", choices }
}

/// In the original's order: a default may use the answers before it.
const PARAMS: [Param; 17] = [
    param("realm", ""),
    param("description", ""),
    param("owner", ""),
    param("project_name", "{project_name}"),
    param("project_dir", "{project_dir}"),
    param("pip_index_url", ""),
    choice("include_lava_libs", &["no", "yes"]),
    choice("jupyter_support", &["no", "yes"]),
    choice("config_checks", &["strict", "warning"]),
    param("environment", "dev"),
    param("job_prefix", "app/{project_name}"),
    param("payload_prefix", "app/{project_name}"),
    param("s3trigger_prefix", "app/{project_name}"),
    param("rule_prefix", "lava.{realm}.{project_name}"),
    param("docker_prefix", "lava/{realm}/{project_name}"),
    param("docker_registry", ""),
    choice("docker_platform", &["linux/amd64", "linux/arm64", "host"]),
];

/// The answers that must not be empty, in the order the original reports them.
const REQUIRED: [&str; 9] = [
    "project_dir",
    "description",
    "owner",
    "realm",
    "job_prefix",
    "payload_prefix",
    "s3trigger_prefix",
    "docker_prefix",
    "rule_prefix",
];

/// A new project's answers: `given` (`-p name=value`) over the defaults, the project named
/// after `directory`'s last part (without its extension, as the original's `Path.stem`).
/// Errors in the original's words: a choice outside its list, then every empty required
/// answer; a name that is no parameter is refused (the original ignored it).
pub fn answers(directory: &str, given: &[(String, String)]) -> Result<BTreeMap<String, String>, String> {
    let known: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
    let mut given_map = BTreeMap::new();
    for (name, value) in given {
        if !known.contains(&name.as_str()) {
            return Err(format!("{name}: not a project parameter (known: {})", known.join(", ")));
        }
        given_map.insert(name.as_str(), value.clone());
    }
    let stem = Path::new(directory).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut answers =
        BTreeMap::from([("project_name".to_string(), stem), ("project_dir".to_string(), directory.into())]);
    for p in &PARAMS {
        let value = match given_map.get(p.name) {
            Some(v) => v.clone(),
            None if !p.choices.is_empty() => p.choices[0].to_string(),
            None => fill(p.default, &answers),
        };
        if !p.choices.is_empty() && !p.choices.contains(&value.as_str()) {
            let listed: Vec<String> = p.choices.iter().map(|c| format!("'{c}'")).collect();
            return Err(format!(
                "{value} provided for choice variable {}, but the choices are [{}].",
                p.name,
                listed.join(", ")
            ));
        }
        answers.insert(p.name.to_string(), value);
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|k| answers.get(**k).is_none_or(|v| v.is_empty()))
        .map(|k| format!("ERROR: {k} must be specified"))
        .collect();
    if !missing.is_empty() {
        return Err(missing.join("\n"));
    }
    Ok(answers)
}

/// `template` with each `{name}` replaced by that answer.
fn fill(template: &str, answers: &BTreeMap<String, String>) -> String {
    answers.iter().fold(template.to_string(), |text, (k, v)| text.replace(&format!("{{{k}}}"), v))
}

/// A YAML scalar holding `text` exactly (a JSON string is a YAML double-quoted one).
fn quoted(text: &str) -> String {
    Value::String(text.into()).to_string()
}

/// The files of a new project, relative to its directory.
pub fn layout(answers: &BTreeMap<String, String>, version: &str) -> Vec<(PathBuf, String)> {
    let a = |k: &str| quoted(answers.get(k).map(String::as_str).unwrap_or_default());
    let config = format!(
        "# The values the project's sources are rendered with for this environment.\n\
         # Sources use <{{ … }}>, <% … %> and <# … #> for these, so lava's own {{{{ … }}}} in them\n\
         # are left for the run: <{{ prefix.job }}> is the job id prefix below.\n\
         # Also available: env, lava.realm (the realm's entry), lava.aws.account, .region, .user,\n\
         # .ecr_uri and .arn(service, name), and jinja.templates[0] (the source's name).\n\
         \n\
         # The project's tools need every key of this first part.\n\
         realm: {realm}\n\
         \n\
         prefix:\n  \
           job: {job}\n  \
           payload: {payload}\n  \
           s3trigger: {s3trigger}\n  \
           docker_repo: {docker}\n  \
           # EventBridge rule names: lava.<realm>.<anything>, no slashes.\n  \
           rule: {rule}\n\
         \n\
         docker:\n  \
           base_img: ghcr.io/jin-gizmo/lava/amzn2023/base\n  \
           platform: {platform}\n  \
           # Empty: the account's ECR registry.\n  \
           registry: {registry}\n\
         \n\
         # Suggested values for the specs; nothing depends on them.\n\
         description: {description}\n\
         owner: {owner}\n\
         \n\
         worker:\n  main: \"core\"\n\
         \n\
         dispatcher:\n  main: \"--\"\n  none: \"--\"\n\
         \n\
         schedule:\n  main: \"--\"\n\
         \n\
         # Add the values your sources need below.\n\
         myvar: stuff\n",
        realm = a("realm"),
        job = a("job_prefix"),
        payload = a("payload_prefix"),
        s3trigger = a("s3trigger_prefix"),
        docker = a("docker_prefix"),
        rule = a("rule_prefix"),
        platform = a("docker_platform"),
        registry = a("docker_registry"),
        description = a("description"),
        owner = a("owner"),
    );
    let mut recorded: Map<String, Value> = answers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    recorded.insert("_version".into(), json!(version));
    let environment = answers.get("environment").cloned().unwrap_or_else(|| "dev".into());
    let mut files = vec![
        (PathBuf::from(format!("config/{environment}.yaml")), config),
        (PathBuf::from(".config.json"), crate::pretty(&json!({"cookiecutter": recorded})) + "\n"),
        (PathBuf::from(".gitignore"), "dist/\nvenv/\n__pycache__/\n*.pyc\n.lava-local/\n".into()),
        (PathBuf::from("Makefile"), MAKEFILE.into()),
        (PathBuf::from("doc/README.md"), format!("# {}\n\n{}\n", answers["project_name"], answers["description"])),
    ];
    for (dir, about) in READMES {
        files.push((PathBuf::from(dir).join("README.md"), format!("# {dir}\n\n{about}\n")));
    }
    // The model's JSON Schemas, and an editor's YAML support pointed at them.
    for (name, schema) in shared::model::json_schema::all() {
        files.push((PathBuf::from("schemas").join(name), crate::pretty(&schema) + "\n"));
    }
    let editor = json!({"yaml.schemas": {
        "schemas/job.schema.json": "lava-jobs/**/*.yaml",
        "schemas/connection.schema.json": "lava-connections/**/*.yaml",
        "schemas/s3trigger.schema.json": "lava-triggers/**/*.yaml",
    }});
    files.push((PathBuf::from(".vscode/settings.json"), crate::pretty(&editor) + "\n"));
    files
}

/// What each source directory holds.
const READMES: [(&str, &str); 5] = [
    (
        "lava-jobs",
        "Job specs, one per `.yaml` or `.json` file (`lava project add TYPE NAME` writes one).\n\
         Files and folders whose names start with `_` are pieces to include, not specs.",
    ),
    ("lava-connections", "Connection specs, one per `.yaml` or `.json` file."),
    ("lava-triggers", "S3 trigger specs, one per `.yaml` or `.json` file."),
    (
        "lava-rules",
        "EventBridge rules, one per file: `rule_id`, `owner`, `description` and any of `enabled`,\n\
         `event_bus_name`, `event_pattern`, `role_arn`, `schedule_expression`, `tags`, `targets`.",
    ),
    (
        "lava-payloads",
        "Payloads, uploaded under the realm's payload area: `.sql` files rendered, `.py` and `.sh`\n\
         copied, `NAME.pkg/` folders zipped into `NAME.zip` (files under `env/` rendered) and\n\
         `NAME.raw/` folders copied.",
    ),
];

/// The make targets a team on the original types, run by this command line.
const MAKEFILE: &str = "# The job framework's make targets, run by the lava command line (`lava project`).\n\
# Usage: make dist env=dev; make install env=prod.\n\
env=\n\
\n\
.PHONY: dist pre-install install diff uninstall clean\n\
dist pre-install install diff uninstall clean:\n\
\tlava project $@ --env \"$(env)\"\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_answers_before_them() {
        let a = answers("work/proj1", &given(&[("realm", "dev"), ("owner", "me"), ("description", "d")])).unwrap();
        assert_eq!(a["project_name"], "proj1");
        assert_eq!(a["project_dir"], "work/proj1");
        assert_eq!(a["job_prefix"], "app/proj1");
        assert_eq!(a["rule_prefix"], "lava.dev.proj1");
        assert_eq!(a["docker_prefix"], "lava/dev/proj1");
        assert_eq!(a["docker_platform"], "linux/amd64");
        assert_eq!(a["config_checks"], "strict");
        let named =
            answers("p.x", &given(&[("realm", "r"), ("owner", "o"), ("description", "d"), ("project_name", "n")]));
        assert_eq!(named.unwrap()["job_prefix"], "app/n");
    }

    #[test]
    fn bad_answers_are_refused_in_the_original_s_words() {
        assert_eq!(
            answers("p", &given(&[("owner", "me")])).unwrap_err(),
            "ERROR: description must be specified\nERROR: realm must be specified"
        );
        let choice = answers("p", &given(&[("docker_platform", "foo")])).unwrap_err();
        assert_eq!(
            choice,
            "foo provided for choice variable docker_platform, but the choices are ['linux/amd64', 'linux/arm64', 'host']."
        );
        assert!(answers("p", &given(&[("bogus", "1")])).unwrap_err().starts_with("bogus: not a project parameter"));
    }

    #[test]
    fn the_config_holds_the_answers_as_yaml() {
        let a = answers("p", &given(&[("realm", "dev"), ("owner", "O \"q\""), ("description", "d")])).unwrap();
        let files = layout(&a, "1.0");
        let (path, text) = &files[0];
        assert_eq!(path, Path::new("config/dev.yaml"));
        let config: Value = serde_norway::from_str(text).unwrap();
        assert_eq!(config["owner"], "O \"q\"");
        assert_eq!(config["prefix"]["rule"], "lava.dev.p");
        assert_eq!(config["dispatcher"]["none"], "--");
        let recorded: Value = serde_json::from_str(&files[1].1).unwrap();
        assert_eq!(recorded["cookiecutter"]["realm"], "dev");
        assert_eq!(recorded["cookiecutter"]["_version"], "1.0");
    }
}
