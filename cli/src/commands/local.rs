//! `lava local …`: bring the local realm up on a moto server, stop it, show it. The moto
//! process and the state file are `crate::local`'s.

use crate::commands::specs::job_table;
use crate::local::{self, LocalState};
use crate::{Spec, SpecKind, Target, catalog, load_specs, ports};
use anyhow::{Result, anyhow};
use clap::Subcommand;
use shared::aws::{AwsOptions, Clients, provision};
use shared::documents::spec_files;
use shared::model::{JobSpec, Limits};
use shared::names::{ResourceNames, check_realm_name};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start moto on 127.0.0.1, create the realm's resources, load the sample jobs, list them.
    Up {
        /// Port for the moto server.
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Folder of sample job specs to load.
        #[arg(long, default_value = "samples/jobs")]
        samples: PathBuf,
        /// Virtualenv holding moto.
        #[arg(long, default_value = ".venv")]
        venv: PathBuf,
    },
    /// Stop the local moto server (its contents are lost).
    Down,
    /// Show the local realm's endpoint and state.
    Status,
}

impl LocalCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let dir = &target.local_dir;
        match self {
            LocalCommand::Up { port, samples, venv } => {
                let realm = target.realm.clone().unwrap_or_else(|| "local".into());
                check_realm_name(&realm).map_err(anyhow::Error::msg)?;
                let endpoint_url = match LocalState::read(dir) {
                    Ok(state) if local::http_get(port_of(&state.endpoint_url), "/moto-api/data.json").is_ok() => {
                        state.endpoint_url
                    }
                    _ => {
                        let server = local::ensure_moto(&venv)?;
                        std::fs::create_dir_all(dir)?;
                        let pid = local::start_moto(&server, port, &dir.join("moto.log"))?;
                        let endpoint_url = format!("http://127.0.0.1:{port}");
                        LocalState { realm: realm.clone(), endpoint_url: endpoint_url.clone(), pid }.write(dir)?;
                        endpoint_url
                    }
                };
                let mut out = bring_up(&endpoint_url, &realm, target.region.clone(), &samples).await?;
                out.push_str(&format!(
                    "\n\nLocal realm {realm} is up on {endpoint_url}.\nUse it with `lava --local ...`, or point any AWS tool at it:\n  export AWS_ENDPOINT_URL={endpoint_url} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test LAVA_REALM={realm}\nStop it with `lava local down`."
                ));
                Ok(out)
            }
            LocalCommand::Down => {
                let state = LocalState::read(dir)?;
                local::stop_process(state.pid)?;
                std::fs::remove_file(LocalState::path(dir))?;
                Ok(format!("local realm {} stopped", state.realm))
            }
            LocalCommand::Status => {
                let state = LocalState::read(dir)?;
                let up = local::http_get(port_of(&state.endpoint_url), "/moto-api/data.json").is_ok();
                Ok(format!(
                    "realm {} on {} (pid {}): {}",
                    state.realm,
                    state.endpoint_url,
                    state.pid,
                    if up { "up" } else { "not answering" }
                ))
            }
        }
    }
}

/// The port of a local realm's endpoint URL (5000 when it names none).
fn port_of(endpoint_url: &str) -> u16 {
    endpoint_url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(5000)
}

/// Creates a realm's resources on `endpoint_url`, loads the sample jobs (their workers get
/// queues), and returns the job listing.
pub async fn bring_up(endpoint_url: &str, realm: &str, region: Option<String>, samples: &Path) -> Result<String> {
    let clients = Clients::load(&AwsOptions {
        endpoint_url: Some(endpoint_url.to_string()),
        region,
        emulator: true,
        ..Default::default()
    })
    .await;
    let names = ResourceNames::for_realm(realm);
    let files = spec_files(samples).map_err(|e| anyhow!("{e}"))?;
    let (specs, _) = load_specs(SpecKind::Job, &files, &Limits::default())?;
    let jobs: Vec<JobSpec> =
        specs.into_iter().filter_map(|s| if let Spec::Job(j) = s { Some(*j) } else { None }).collect();
    let mut workers: Vec<String> = jobs.iter().map(|j| j.worker.clone()).collect();
    workers.sort();
    workers.dedup();
    provision::realm(&clients, &names, &names.local_bucket(), &workers).await?;
    let catalog = catalog(&ports(&clients), names);
    for job in &jobs {
        catalog.put_job(job).await?;
    }
    Ok(job_table(&catalog.jobs().await?))
}
