//! What a worker reports about itself while it runs: the heartbeat line and file, the worker
//! metrics, its fleet's backlog, and its state on request (SIGUSR1).

use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Worker;
use crate::config::keys;
use crate::health::{HostFigures, backlog};
use crate::ports::{Datum, MetricUnit};

/// The first worker metrics and backlog go out this soon after start (or after one period,
/// when that is shorter).
const FIRST_REPORT: Duration = Duration::from_secs(15);

fn every(first: Duration, period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + first, period);
    // Drift-corrected: a slow tick does not shift the ones after it, and missed ones are not
    // bunched up.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Worker {
    /// Runs the heartbeat, the worker metrics and the backlog, each as configured, until the
    /// worker stops (the caller aborts this task).
    pub(super) async fn monitor(self: std::sync::Arc<Self>) {
        let config = &self.runner.config;
        let period = |seconds: f64| Duration::from_secs_f64(seconds.max(1.0));
        let mut heartbeat = self.settings.log_heartbeat.map(|p| every(p, p));
        let mut metrics = config.get(keys::CW_METRICS_WORKER).then(|| {
            let p = period(config.get(keys::CW_METRICS_PERIOD));
            every(FIRST_REPORT.min(p), p)
        });
        let fleet = config.get(keys::WORKER_ECS_CLUSTER).zip(config.get(keys::WORKER_ECS_SERVICE));
        let mut backlog_timer = fleet.as_ref().map(|_| {
            let p = period(config.get(keys::WORKER_BACKLOG_PERIOD));
            every(FIRST_REPORT.min(p), p)
        });
        if heartbeat.is_none() && metrics.is_none() && backlog_timer.is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = tick(&mut heartbeat) => {
                    if !self.heartbeat().await {
                        heartbeat = None;
                    }
                }
                _ = tick(&mut metrics) => self.put_worker_metrics().await,
                _ = tick(&mut backlog_timer) => {
                    if let Some((cluster, service)) = &fleet {
                        self.put_backlog(cluster, service).await;
                    }
                }
            }
        }
    }

    /// Touches the heartbeat file and logs the heartbeat line with the worker's figures.
    /// Returns false when the file cannot be touched: heartbeats then stop on purpose, so the
    /// heartbeat alarm fires for a worker whose run area has gone.
    pub async fn heartbeat(&self) -> bool {
        let s = &self.settings;
        let file = self.runner.run_root.join(self.runner.config.get(keys::HEARTBEAT_FILE));
        let touched = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&file)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        if let Err(e) = touched {
            tracing::error!(file = %file.display(), error = %e, "Cannot touch the heartbeat file: heartbeats stop.");
            return false;
        }
        let (messages, notvisible) = match self.queue.depth(&s.queue_url).await {
            Ok(d) => (d.visible as i64, d.not_visible as i64),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the worker queue's attributes for the heartbeat.");
                (-1, -1)
            }
        };
        let running = self.active_runs().len();
        tracing::info!(
            event_type = "heartbeat",
            sqs = %json!({"messages": messages, "notvisible": notvisible}),
            internal = %json!({"qlen": 0, "running": running}),
            threads = %self.slots(running),
            deferred_tasks = 0,
            "heartbeat realm={} worker={}", s.realm, s.worker
        );
        true
    }

    /// The runner slots as the heartbeat and state report show them (`worker-00` …): `busy`
    /// counts the running jobs (a slot whose handling panicked serves again: `Slots`).
    fn slots(&self, running: usize) -> Value {
        let mut slots = serde_json::Map::new();
        for i in 0..self.settings.threads.max(1) {
            slots.insert(format!("worker-{i:02}"), json!(if i < running { "busy" } else { "OK" }));
        }
        Value::Object(slots)
    }

    fn metric_dimensions(&self) -> Vec<(&'static str, String)> {
        let instance = self.settings.instance_id.clone().unwrap_or_else(|| self.runner.recorder.hostname().to_string());
        vec![("Realm", self.settings.realm.clone()), ("Worker", self.settings.worker.clone()), ("Instance", instance)]
    }

    /// The worker metrics, as the original names them, and `RunningJobs`.
    pub fn worker_metrics(&self) -> Vec<Datum> {
        let dims = self.metric_dimensions();
        let figures = HostFigures::measure(&self.runner.run_root);
        let running = self.active_runs().len() as f64;
        let mut data = vec![
            Datum::new("WorkerThreadsAlive", dims.clone(), self.slots.alive() as f64, MetricUnit::Count),
            Datum::new("WorkerThreadsDead", dims.clone(), self.slots.dead() as f64, MetricUnit::Count),
            Datum::new("RunningJobs", dims.clone(), running, MetricUnit::Count),
        ];
        let optional = [
            ("MaxRss", figures.max_rss_kb, MetricUnit::Kilobytes),
            ("PercentDiskUsed", figures.run_disk_used, MetricUnit::Percent),
            ("PercentTmpDiskUsed", figures.run_disk_used, MetricUnit::Percent),
            ("PercentMemUsed", figures.mem_used, MetricUnit::Percent),
            ("PercentSwapUsed", figures.swap_used, MetricUnit::Percent),
            ("PercentDockerDiskUsed", figures.docker_disk_used, MetricUnit::Percent),
        ];
        for (name, value, unit) in optional {
            if let Some(value) = value {
                data.push(Datum::new(name, dims.clone(), value, unit));
            }
        }
        data
    }

    async fn put_worker_metrics(&self) {
        self.runner.put_metrics(&self.worker_metrics()).await;
    }

    /// Puts `WorkerBacklog` for this worker's fleet: visible messages per running task of its
    /// ECS service. Every worker of the fleet puts the same figure; the scaling policy reads
    /// its average, which copies do not change.
    pub async fn put_backlog(&self, cluster: &str, service: &str) -> Option<f64> {
        let s = &self.settings;
        let (depth, running) =
            tokio::join!(self.queue.depth(&s.queue_url), self.runner.tasks.running_tasks(cluster, service));
        let figure = match (depth, running) {
            (Ok(depth), Ok(running)) => backlog(depth.visible, running)?,
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "Cannot measure the fleet's backlog.");
                return None;
            }
        };
        let dims = vec![("Realm", s.realm.clone()), ("Worker", s.worker.clone())];
        let datum = Datum::new("WorkerBacklog", dims, figure, MetricUnit::None);
        self.runner.put_metrics(&[datum]).await.then_some(figure)
    }

    /// The worker's state: its runner slots, the runs going on, and the configuration in force.
    pub fn state(&self) -> Value {
        let s = &self.settings;
        let mut runs: Vec<Value> = self
            .active_runs()
            .iter()
            .map(|(run_id, a)| json!({"job_id": a.job_id, "run_id": run_id, "since": a.since.to_string()}))
            .collect();
        runs.sort_by(|a, b| a["since"].as_str().cmp(&b["since"].as_str()));
        json!({
            "realm": s.realm,
            "worker": s.worker,
            "queue": s.queue_url,
            "instance_id": s.instance_id,
            "threads": self.slots(runs.len()),
            "running": runs,
            "deferred_tasks": 0,
            "config": self.runner.config.effective(),
        })
    }

    /// Writes [`Worker::state`] to the log (SIGUSR1).
    pub fn log_state(&self) {
        tracing::info!(event_type = "worker", state = %self.state(), "Worker state (SIGUSR1).");
    }
}
