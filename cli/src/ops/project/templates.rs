//! `lava project add TYPE NAME`: a job spec for a project, with the payload file its type
//! runs. The spec names every parameter the type takes, from the model's own table
//! ([`ParameterKeys`]): the required ones with an example value, the others commented out, so
//! a template is never behind what validation accepts.

use shared::model::JobType;
use shared::model::params::ParameterKeys;
use std::path::PathBuf;

/// An example value (YAML) for a required parameter.
fn example(key: &str, name: &str) -> String {
    match key {
        "conn_id" | "db_conn_id" => "db  # a conn_id in lava-connections".into(),
        "bucket" => "my-bucket".into(),
        "key" => format!("data/{name}.csv"),
        "schema" => "public".into(),
        "table" | "relation" => name.replace(['-', '/', '.'], "_"),
        "mode" => "append  # abort, append, delete, drop, switch or truncate".into(),
        "args" => "[]  # UNLOAD options, such as PARALLEL OFF".into(),
        "foreach" => "{type: range, stop: 3, name: i}".into(),
        "dispatcher" => "<{ dispatcher.main }>".into(),
        "share_name" => "share".into(),
        "path" => "incoming".into(),
        "file" => format!("{name}.csv"),
        "command" => "run.sh".into(),
        _ => "\"\"".into(),
    }
}

/// The payload (YAML) of a job named `name` of `job_type`, and the files it needs under
/// `lava-payloads/`.
fn payload(job_type: &JobType, name: &str) -> (String, Vec<(PathBuf, String)>) {
    let stored = |ext: &str| format!("<{{ prefix.payload }}>/{name}.{ext}");
    let sql = (PathBuf::from(format!("lava-payloads/{name}.sql")), "SELECT 1 AS one;\n".to_string());
    match job_type {
        JobType::Cmd => (format!("echo hello from {name}"), vec![]),
        JobType::Exe => {
            let script = format!("#!/bin/sh\necho \"hello from {name}\"\n");
            (stored("sh"), vec![(PathBuf::from(format!("lava-payloads/{name}.sh")), script)])
        }
        JobType::Pkg => {
            let script = format!("#!/bin/sh\necho \"hello from {name}\"\n");
            (stored("zip"), vec![(PathBuf::from(format!("lava-payloads/{name}.pkg/run.sh")), script)])
        }
        JobType::Sql | JobType::Sqlc | JobType::Sqlv => (stored("sql"), vec![sql]),
        JobType::Sqli => ("SELECT 1 AS one".into(), vec![]),
        JobType::Docker => (format!("<{{ prefix.docker_repo }}>/{name}  # an image you build and push"), vec![]),
        JobType::Chain => ("\n  - <{ prefix.job }>/first\n  - <{ prefix.job }>/second".into(), vec![]),
        JobType::Dag => {
            ("\n  <{ prefix.job }>/second: <{ prefix.job }>/first\n  <{ prefix.job }>/first: null".into(), vec![])
        }
        JobType::Foreach | JobType::Dispatch => ("<{ prefix.job }>/child".into(), vec![]),
        _ => ("\"--\"".into(), vec![]),
    }
}

/// The spec (`lava-jobs/NAME.yaml`) and payload files of a new job.
pub fn job(job_type: &JobType, name: &str) -> Result<Vec<(PathBuf, String)>, String> {
    if name.is_empty() || name.starts_with(['/', '_', '.']) || name.split('/').any(|p| p.is_empty() || p == "..") {
        return Err(format!("{name:?}: a job name is a relative path without empty, `..` or leading `_`/`.` parts"));
    }
    let Some(keys) = ParameterKeys::of(job_type) else {
        return Err(match job_type {
            JobType::Unknown(t) => {
                let known: Vec<&str> = JobType::KNOWN.iter().map(JobType::name).collect();
                format!("{t}: not a job type (known: {})", known.join(", "))
            }
            t => format!("{}: SharePoint jobs are refused by this lava (no server to run them against)", t.name()),
        });
    };
    let (payload, mut files) = payload(job_type, name);
    let mut text = format!(
        "# A {kind} job, rendered for each environment with the values of config/ENV.yaml;\n\
         # lava's own double-brace tags are left for the run.\n\
         description: {name}\n\
         dispatcher: <{{ dispatcher.none }}>\n\
         enabled: true\n\
         job_id: <{{ prefix.job }}>/{name}\n\
         owner: <{{ owner }}>\n\
         payload: {payload}\n\
         type: {kind}\n\
         worker: <{{ worker.main }}>\n",
        kind = job_type.name(),
    );
    let mut required: Vec<&str> = keys.required.to_vec();
    if *job_type == JobType::Pkg {
        required.push("command");
    }
    if *job_type == JobType::RedshiftUnload {
        required.push("prefix");
    }
    let optional: Vec<&str> = keys.allowed.iter().filter(|k| !required.contains(k)).copied().collect();
    // Without a required key the whole section is a comment (an empty one would be null).
    let open = if required.is_empty() { "# " } else { "" };
    if !keys.allowed.is_empty() {
        text.push_str(&format!("{open}parameters:\n"));
        for key in &required {
            let value = if *key == "prefix" { format!("unload/{name}/") } else { example(key, name) };
            text.push_str(&format!("  {key}: {value}\n"));
        }
        if !optional.is_empty() {
            text.push_str("  # Optional (see the job type's page of the user guide):\n");
            text.extend(optional.iter().map(|k| format!("  # {k}:\n")));
        }
    }
    text.push_str("# The source file, for finding it from the table entry.\nx-srcfile: <{ jinja.templates[0] }>\n");
    files.insert(0, (PathBuf::from(format!("lava-jobs/{name}.yaml")), text));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runnable_type_has_a_template_and_sharepoint_is_refused() {
        for t in JobType::KNOWN {
            let made = job(t, "daily/load");
            if t.name().starts_with("sharepoint") {
                assert!(made.unwrap_err().contains("SharePoint jobs are refused"));
                continue;
            }
            let files = made.unwrap();
            assert_eq!(files[0].0, PathBuf::from("lava-jobs/daily/load.yaml"));
            assert!(files[0].1.contains(&format!("type: {}\n", t.name())), "{}", files[0].1);
        }
        assert!(job(&JobType::parse("nope"), "a").unwrap_err().starts_with("nope: not a job type"));
        assert!(job(&JobType::Cmd, "../a").is_err());
        assert!(job(&JobType::Cmd, "_a").is_err());
    }
}
