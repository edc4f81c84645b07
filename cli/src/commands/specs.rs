//! `lava job …`, `lava connection …` and `lava s3trigger …`: validate, put, get and list specs.
//! One [`SpecCommand`] serves the three groups; the [`SpecKind`] says which table.

use crate::{Spec, SpecKind, Target, catalog, connect, load_specs, pretty, realm_limits};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::Value;
use shared::config::Config;
use shared::model::JobSpec;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Check spec files (JSON or YAML; one record or a list each) without writing anything.
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print `{"ok": …, "report": [lines]}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate spec files and write them to the realm's table (nothing is written if any is
    /// invalid, or if a chain, dag, foreach or dispatch job names a job that is neither in the
    /// files nor in the realm).
    Put {
        /// Files to put.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write pipelines whose children are not in the realm yet (loading a realm in parts).
        #[arg(long)]
        allow_missing_children: bool,
        /// Print `{"ok": …, "report": [lines]}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one spec as JSON.
    Get {
        /// Its id.
        id: String,
    },
    /// List the table's entries (a line each).
    List {
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl SpecCommand {
    /// Runs the command on the specs of `kind`.
    pub(crate) async fn run(self, target: &Target, kind: SpecKind) -> Result<String> {
        match self {
            // Offline: the limits of the environment's LAVA_* settings over the defaults.
            SpecCommand::Validate { files, json } => {
                let loaded =
                    load_specs(kind, &files, &Config::new(std::env::vars(), None).limits()).map(|(_, lines)| lines);
                report(loaded, json)
            }
            SpecCommand::Put { files, allow_missing_children, json } => {
                let written = put(target, kind, &files, allow_missing_children).await;
                report(written, json)
            }

            SpecCommand::Get { id } => {
                let (ports, names) = connect(target).await?;
                let catalog = catalog(&ports, names);
                Ok(match kind {
                    SpecKind::Job => pretty(&catalog.job(&id).await?.to_value()),
                    SpecKind::Connection => pretty(&catalog.connection(&id).await?.to_value()),
                    SpecKind::S3trigger => pretty(&serde_json::to_value(catalog.s3trigger(&id).await?)?),
                })
            }
            SpecCommand::List { json } => {
                let (ports, names) = connect(target).await?;
                let (realm, table) = (names.realm.clone(), kind_table(kind, &names));
                let catalog = catalog(&ports, names);
                let missing = |e| crate::commands::ops::table_error(e, &table, &realm);
                match kind {
                    SpecKind::Job => {
                        let jobs = catalog.jobs().await.map_err(missing)?;
                        if json {
                            return Ok(pretty(&Value::Array(jobs.iter().map(JobSpec::to_value).collect())));
                        }
                        Ok(job_table(&jobs))
                    }
                    SpecKind::Connection => {
                        let entries = catalog.connections().await.map_err(missing)?;
                        if json {
                            return Ok(pretty(&Value::Array(entries.iter().map(|c| c.to_value()).collect())));
                        }
                        let mut lines = vec![format!("{:<32} {:<12} {:<8} DESCRIPTION", "CONN_ID", "TYPE", "ENABLED")];
                        for c in &entries {
                            let enabled = c.enabled.map_or("-".to_string(), |e| e.to_string());
                            let about = c.description.clone().unwrap_or_default();
                            lines.push(format!("{:<32} {:<12} {:<8} {about}", c.conn_id, c.conn_type, enabled));
                        }
                        Ok(lines.join("\n"))
                    }
                    SpecKind::S3trigger => {
                        let entries = catalog.s3triggers().await.map_err(missing)?;
                        if json {
                            return Ok(pretty(&serde_json::to_value(&entries)?));
                        }
                        let mut lines =
                            vec![format!("{:<24} {:<8} {:<40} JOB", "TRIGGER_ID", "ENABLED", "BUCKET/PREFIX")];
                        for t in &entries {
                            let job = t.job_id.as_str().map_or_else(|| t.job_id.to_string(), str::to_string);
                            let place = format!("{}/{}", t.bucket, t.prefix);
                            lines.push(format!("{:<24} {:<8} {place:<40} {job}", t.trigger_id, t.enabled));
                        }
                        Ok(lines.join("\n"))
                    }
                }
            }
        }
    }
}

/// One line per job: id, type, worker, enabled, schedule.
pub fn job_table(jobs: &[JobSpec]) -> String {
    let mut lines = vec![format!("{:<32} {:<10} {:<12} {:<8} SCHEDULE", "JOB_ID", "TYPE", "WORKER", "ENABLED")];
    for job in jobs {
        let enabled = match &job.enabled {
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::String(_)) => "template".into(),
            None => "false".into(),
            Some(other) => other.to_string(),
        };
        let schedule = job.schedule.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        lines.push(format!("{:<32} {:<10} {:<12} {:<8} {schedule}", job.job_id, job.job_type, job.worker, enabled));
    }
    lines.join("\n")
}

fn kind_table(kind: SpecKind, names: &shared::names::ResourceNames) -> String {
    match kind {
        SpecKind::Job => names.jobs_table.clone(),
        SpecKind::Connection => names.connections_table.clone(),
        SpecKind::S3trigger => names.s3triggers_table.clone(),
    }
}

/// Validates `files` and writes them to the realm's table; the report lines.
async fn put(target: &Target, kind: SpecKind, files: &[PathBuf], allow_missing_children: bool) -> Result<Vec<String>> {
    let (ports, names) = connect(target).await?;
    let catalog = catalog(&ports, names);
    let limits = realm_limits(&catalog).await;
    let (specs, mut lines) = load_specs(kind, files, &limits)?;
    // An orchestration job's children must exist, in this batch or in the realm.
    let batch: std::collections::BTreeSet<&str> = specs
        .iter()
        .filter_map(|s| match s {
            Spec::Job(j) => Some(j.job_id.as_str()),
            _ => None,
        })
        .collect();
    let mut missing = Vec::new();
    for spec in &specs {
        let Spec::Job(job) = spec else { continue };
        for child in job.child_jobs() {
            if !batch.contains(child.as_str()) && catalog.job(&child).await.is_err() {
                missing.push(format!("jobs[{}].payload: {child}: No such job", job.job_id));
            }
        }
    }
    if !missing.is_empty() && !allow_missing_children {
        bail!("{}\nnothing written", missing.join("\n"));
    }
    for spec in &specs {
        match spec {
            Spec::Job(j) => catalog.put_job(j).await?,
            Spec::Connection(c) => catalog.put_connection(c).await?,
            Spec::S3trigger(t) => catalog.put_s3trigger(t).await?,
        }
    }
    lines.push(format!("{} written to realm {}", specs.len(), catalog.names().realm));
    Ok(lines)
}

/// A report as text, or as `{"ok", "report"}` JSON; a failed one fails the command either way.
fn report(outcome: Result<Vec<String>>, json: bool) -> Result<String> {
    match (outcome, json) {
        (Ok(lines), false) => Ok(lines.join("\n")),
        (Ok(lines), true) => Ok(serde_json::json!({"ok": true, "report": lines}).to_string()),
        (Err(e), false) => Err(e),
        (Err(e), true) => {
            let lines: Vec<String> = e.to_string().lines().map(str::to_string).collect();
            bail!("{}", serde_json::json!({"ok": false, "report": lines}))
        }
    }
}
