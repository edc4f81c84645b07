//! `lava dispatch`: send jobs to their worker queues, one run each.

use crate::{Target, catalog, connect, realm_limits};
use anyhow::{Result, bail};
use clap::Args;
use shared::dispatch::{DispatchRequest, dispatch, expand_pairs};
use shared::model::validation::is_reserved_name;
use shared::model::values::parse_duration;

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
    /// Delay before the run, e.g. 30s or 2m (at most 15m).
    #[arg(short, long)]
    delay: Option<String>,
    /// The worker the job must run on (a request naming another worker is refused).
    #[arg(short, long)]
    worker: Option<String>,
}

impl DispatchArgs {
    /// Dispatches every job (all are tried); fails listing every outcome if any dispatch failed.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let DispatchArgs { job_ids, param, global, delay, worker } = self;
        let parameters = expand_pairs(&param).map_err(anyhow::Error::msg)?;
        let globals = expand_pairs(&global).map_err(anyhow::Error::msg)?;
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
        let catalog = catalog(&ports, names);
        let limits = realm_limits(&catalog).await;
        let max_delay = limits.max_delay;
        if !(0.0..=max_delay).contains(&seconds) {
            bail!("--delay {}: Must be between 0 and {} minutes", delay.unwrap_or_default(), max_delay / 60.0);
        }
        let mut lines = Vec::new();
        let mut failed = false;
        for job_id in job_ids {
            let request = DispatchRequest {
                job_id: job_id.clone(),
                parameters: parameters.clone(),
                globals: globals.clone(),
                delay_seconds: seconds as u32,
                worker: worker.clone(),
            };
            match dispatch(&catalog, &*ports.queues, &request, &limits).await {
                Ok(m) => lines.push(format!("{job_id}@{} dispatched ({})", m.realm, m.run_id)),
                Err(e) => {
                    failed = true;
                    lines.push(format!("{job_id}: {e}"));
                }
            }
        }
        if failed {
            bail!("{}", lines.join("\n"));
        }
        Ok(lines.join("\n"))
    }
}
