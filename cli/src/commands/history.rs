//! `lava events` and `lava run`: what happened to runs, read back from the realm's events
//! table (and the outputs in S3 that a run's result points at).

use crate::{Target, connect, pretty};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use shared::history::{History, RunFilter, output_uris, read_output};
use shared::model::values::parse_duration;
use shared::model::{EventRecord, EventStatus};
use shared::ports::BlobStore;

/// A job's runs, newest first (as the original's `lava-events`).
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The job.
    job_id: String,
    /// One run of the job: its whole event log.
    run_id: Option<String>,
    /// Runs whose latest event is at most this long ago (30s, 15m, 12h, 7d).
    #[arg(short, long, default_value = "1d")]
    since: String,
    /// Runs whose latest event is at least this long ago.
    #[arg(long)]
    until: Option<String>,
    /// Runs whose latest status is this (complete, failed, running…).
    #[arg(long)]
    status: Option<String>,
    /// At most this many runs, the newest.
    #[arg(short = 'e', long = "events")]
    limit: Option<usize>,
    /// Print the event items as JSON.
    #[arg(long)]
    json: bool,
}

fn ago(option: &str, text: &str) -> Result<jiff::Timestamp> {
    let seconds = parse_duration(text).map_err(|e| anyhow::anyhow!("--{option} {text}: {e}"))?;
    let span = jiff::SignedDuration::from_secs_f64(seconds);
    Ok(jiff::Timestamp::now().checked_sub(span)?)
}

/// One line per run: latest event time (UTC), status, run id, worker.
fn summary(runs: &[EventRecord]) -> String {
    let mut lines = vec![format!("{:<19}  {:<13}  {:<36}  {}", "LATEST (UTC)", "STATUS", "RUN", "WORKER")];
    for run in runs {
        lines.push(format!("{:<19}  {:<13}  {:<36}  {}", run.tu_event, run.status.as_str(), run.run_id, run.worker));
    }
    lines.join("\n")
}

/// A run's event log, one line per event, then where its outputs are.
fn detail(run: &EventRecord) -> String {
    let mut lines = vec![format!("{} {} ({}; dispatched {})", run.job_id, run.run_id, run.worker, run.ts_dispatch)];
    for entry in &run.log {
        let info = match &entry.info {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        lines.push(format!("  {}  {:<13}  {info}", entry.ts_event, entry.status.as_str()));
    }
    for uri in output_uris(run) {
        lines.push(format!("  output: {uri}"));
    }
    lines.join("\n")
}

fn as_json(runs: &[EventRecord]) -> Result<String> {
    Ok(pretty(&serde_json::to_value(runs)?))
}

impl EventsArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let history = History::new(ports.tables.clone(), names);
        if let Some(run_id) = &self.run_id {
            let Some(run) = history.run(&self.job_id, run_id).await? else {
                bail!("{} {run_id}: no such run", self.job_id);
            };
            return if self.json { as_json(&[run]) } else { Ok(detail(&run)) };
        }
        let status = match &self.status {
            None => None,
            Some(s) => Some(
                serde_json::from_value::<EventStatus>(Value::String(s.clone()))
                    .map_err(|_| anyhow::anyhow!("--status {s}: not an event status"))?,
            ),
        };
        let filter = RunFilter {
            since: Some(ago("since", &self.since)?),
            until: self.until.as_deref().map(|u| ago("until", u)).transpose()?,
            status,
            limit: self.limit,
        };
        let runs = history.job_runs(&self.job_id, &filter).await?;
        if self.json { as_json(&runs) } else { Ok(summary(&runs)) }
    }
}

/// One run, found by its run id alone.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// The run's event log, result and where its outputs are (a pipeline's children too).
    Show {
        /// The run id.
        run_id: String,
        /// Print the event items as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The run's outputs (stdout, stderr, logs) from S3.
    Logs {
        /// The run id.
        run_id: String,
        /// Print them as JSON (`{uri: text}`).
        #[arg(long)]
        json: bool,
    },
}

impl RunCommand {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let history = History::new(ports.tables.clone(), names);
        let (run_id, json) = match &self {
            RunCommand::Show { run_id, json } | RunCommand::Logs { run_id, json } => (run_id, *json),
        };
        let runs = history.find_run(run_id).await?;
        if runs.is_empty() {
            bail!("{run_id}: no such run");
        }
        match self {
            RunCommand::Show { .. } if json => as_json(&runs),
            RunCommand::Show { .. } => Ok(runs.iter().map(detail).collect::<Vec<_>>().join("\n")),
            RunCommand::Logs { .. } => {
                let outputs = outputs(ports.blobs.as_ref(), &runs).await;
                if json {
                    Ok(pretty(&Value::Object(
                        outputs.into_iter().map(|(uri, text)| (uri, Value::String(text))).collect(),
                    )))
                } else if outputs.is_empty() {
                    Ok(format!("{run_id}: no outputs recorded"))
                } else {
                    Ok(outputs_text(&outputs))
                }
            }
        }
    }
}

/// Every output of `runs` (uri, text; an unreadable one says why in its text).
async fn outputs(blobs: &dyn BlobStore, runs: &[EventRecord]) -> Vec<(String, String)> {
    let mut outputs = Vec::new();
    for uri in runs.iter().flat_map(output_uris) {
        let text = read_output(blobs, &uri).await.unwrap_or_else(|e| format!("({e})"));
        outputs.push((uri, text));
    }
    outputs
}

fn outputs_text(outputs: &[(String, String)]) -> String {
    outputs.iter().map(|(uri, text)| format!("==> {uri} <==\n{}", text.trim_end())).collect::<Vec<_>>().join("\n")
}

/// A run's event log followed by its outputs.
pub(crate) async fn run_report(blobs: &dyn BlobStore, run: &EventRecord) -> String {
    let outputs = outputs(blobs, std::slice::from_ref(run)).await;
    if outputs.is_empty() { detail(run) } else { format!("{}\n{}", detail(run), outputs_text(&outputs)) }
}
