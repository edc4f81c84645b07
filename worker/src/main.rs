//! `lava-worker`: parse the command line, connect to AWS, run until SIGTERM/SIGINT.

use clap::Parser;
use shared::aws::{AwsOptions, Clients};
use shared::docker_engine::DockerEngine;
use shared::webhook::HttpWebhook;
use shared::worker::WorkerOptions;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1);
    if raw.next().as_deref() == Some(shared::runners::reaper::REAPER_ARG) {
        let grace = raw.next().and_then(|g| g.parse().ok()).unwrap_or(5);
        shared::runners::reaper::run(Duration::from_secs(grace), Some(Arc::new(DockerEngine::local())));
    }
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("Cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve() -> ExitCode {
    let args = lava_worker::Args::parse();
    lava_worker::init_logging(&args);
    if let Err(reason) = lava_worker::check(&args) {
        tracing::error!("{reason}");
        return ExitCode::from(2);
    }
    // The jobs' processes end with this process, however it ends.
    let reaper =
        std::env::current_exe().and_then(|me| shared::runners::reaper::start(&me, Duration::from_secs(args.grace)));
    if let Err(e) = reaper {
        tracing::warn!(error = %e, "Cannot start the reaper: a job may outlive this worker if it is killed.");
    }
    let clients = Clients::load(&AwsOptions {
        profile: args.profile.clone(),
        call_timeout: Some(Duration::from_secs(args.aws_timeout)),
        ..Default::default()
    })
    .await;
    let deps = shared::wiring::ports(&clients, Arc::new(HttpWebhook::new()));
    let instance_id = shared::health::instance_id(&|name| std::env::var(name).ok()).await;
    let options = WorkerOptions {
        realm: args.realm.clone(),
        worker: args.worker.clone(),
        queue: args.queue.clone(),
        threads: args.threads,
        wait_seconds: args.wait,
        sleep: Duration::from_secs(args.sleep.max(0) as u64),
        retries: args.retries,
        batch: args.batch,
        dev: args.dev,
        grace: Duration::from_secs(args.grace),
        heartbeat_every: Duration::from_secs(args.visibility_heartbeat.max(1)),
        log_heartbeat: (args.heartbeat > 0).then(|| Duration::from_secs(args.heartbeat)),
        instance_id,
        tmpdir: args.tmpdir.clone(),
        env: std::env::vars().collect(),
    };
    let worker = match shared::worker::build(options, deps).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the worker.");
            return ExitCode::from(1);
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(lava_worker::stop_on_signals(stop_tx, worker.clone()));
    let result = worker.clone().run(stop_rx).await;
    worker.cleanup();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Worker failed.");
            ExitCode::from(1)
        }
    }
}
