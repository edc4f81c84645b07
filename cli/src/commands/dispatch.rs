//! `lava dispatch`: send jobs to their worker queues, one run each.

use crate::commands::history::run_report;
use crate::{Target, catalog, connect, realm_limits};
use anyhow::{Result, bail};
use clap::Args;
use shared::dispatch::{DispatchRequest, dispatch, expand_pairs};
use shared::history::History;
use shared::model::validation::is_reserved_name;
use shared::model::values::parse_duration;
use shared::model::{EventRecord, EventStatus};
use std::time::{Duration, Instant};

/// The jobs to dispatch and the run's parameters.
#[derive(Debug, Args)]
pub struct DispatchArgs {
    /// Jobs to dispatch.
    #[arg(required = true)]
    job_ids: Vec<String>,
    /// A parameter for the run: name=value (dotted names nest).
    #[arg(short, long = "param")]
    param: Vec<String>,
    /// A global for the run: name=value (dotted names nest).
    #[arg(short, long = "global")]
    global: Vec<String>,
    /// The run's parameters as one JSON object, its values typed as written (`-p` pairs go
    /// over it); what the Python API's `lava.dispatch` sends.
    #[arg(long, value_name = "JSON")]
    params_json: Option<String>,
    /// The run's globals as one JSON object (`-g` pairs go over it).
    #[arg(long, value_name = "JSON")]
    globals_json: Option<String>,
    /// Delay before the run, e.g. 30s or 2m (at most 15m).
    #[arg(short, long)]
    delay: Option<String>,
    /// The worker the job must run on (a request naming another worker is refused).
    #[arg(short, long)]
    worker: Option<String>,
    /// Wait for each run to end (at most this long; default 5m), then show its events and
    /// outputs; fails unless every run is complete.
    #[arg(long, num_args = 0..=1, default_missing_value = "5m", value_name = "TIMEOUT")]
    wait: Option<String>,
    /// Print each dispatch (job_id, run_id or error; with --wait the run's event item) as JSON.
    #[arg(long)]
    json: bool,
}

impl DispatchArgs {
    /// Dispatches every job (all are tried); fails listing every outcome if any dispatch failed.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let DispatchArgs { job_ids, param, global, params_json, globals_json, delay, worker, wait, json } = self;
        let wait = match &wait {
            None => None,
            Some(w) => Some(parse_duration(w).map_err(|e| anyhow::anyhow!("--wait {w}: {e}"))?),
        };
        let parameters = typed_and_pairs("--params-json", params_json.as_deref(), &param)?;
        let globals = typed_and_pairs("--globals-json", globals_json.as_deref(), &global)?;
        for name in globals.keys() {
            if is_reserved_name(name) {
                bail!("-g {name}: Reserved global: names starting with \"lava\" belong to lava");
            }
        }
        let seconds = match &delay {
            None => 0.0,
            Some(d) => parse_duration(d).map_err(anyhow::Error::msg)?,
        };
        let (ports, names) = connect(target).await?;
        let catalog = catalog(&ports, names.clone());
        let limits = realm_limits(&catalog).await;
        let max_delay = limits.max_delay;
        if !(0.0..=max_delay).contains(&seconds) {
            bail!("--delay {}: Must be between 0 and {} minutes", delay.unwrap_or_default(), max_delay / 60.0);
        }
        let mut lines = Vec::new();
        let mut outcomes = Vec::new();
        let mut failed = false;
        let mut runs = Vec::new();
        for job_id in job_ids {
            let request = DispatchRequest {
                job_id: job_id.clone(),
                parameters: parameters.clone(),
                globals: globals.clone(),
                delay_seconds: seconds as u32,
                worker: worker.clone(),
                run_id: None,
            };
            match dispatch(&catalog, &*ports.queues, &request, &limits).await {
                Ok(m) => {
                    lines.push(format!("{job_id}@{} dispatched ({})", m.realm, m.run_id));
                    outcomes.push(serde_json::json!({"job_id": job_id, "realm": m.realm, "run_id": m.run_id}));
                    runs.push((job_id, m.run_id));
                }
                Err(e) => {
                    failed = true;
                    lines.push(format!("{job_id}: {e}"));
                    outcomes.push(serde_json::json!({"job_id": job_id, "error": e.to_string()}));
                }
            }
        }
        if let Some(seconds) = wait {
            let history = History::new(ports.tables.clone(), names);
            for (job_id, run_id) in &runs {
                let run = wait_for_end(&history, job_id, run_id, Duration::from_secs_f64(seconds)).await?;
                failed |= run.status != EventStatus::Complete;
                lines.push(String::new());
                lines.push(run_report(ports.blobs.as_ref(), &run).await);
                if let Some(outcome) = outcomes.iter_mut().find(|o| o["run_id"] == run_id.as_str()) {
                    outcome["run"] = serde_json::to_value(&run)?;
                }
            }
        }
        let output = if json { crate::pretty(&serde_json::Value::Array(outcomes)) } else { lines.join("\n") };
        if failed {
            bail!("{output}");
        }
        Ok(output)
    }
}

/// The run once its latest event ends it, polling the events table; fails after `timeout`.
async fn wait_for_end(history: &History, job_id: &str, run_id: &str, timeout: Duration) -> Result<EventRecord> {
    let started = Instant::now();
    let mut latest = None;
    loop {
        if let Some(run) = history.run(job_id, run_id).await? {
            if run.status.ends_run() {
                return Ok(run);
            }
            latest = Some(run.status);
        }
        if started.elapsed() > timeout {
            let status = latest.map_or("not started (is a worker running?)", |s| s.as_str());
            bail!("{job_id} {run_id}: still {status} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A JSON object given whole (`option`), with `name=value` pairs over it.
fn typed_and_pairs(
    option: &str,
    whole: Option<&str>,
    pairs: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = match whole {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => bail!("{option}: not a JSON object"),
            Err(e) => bail!("{option}: not JSON: {e}"),
        },
    };
    map.extend(expand_pairs(pairs).map_err(anyhow::Error::msg)?);
    Ok(map)
}
