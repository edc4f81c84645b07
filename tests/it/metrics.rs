//! CloudWatch metrics against moto: the job metrics of runs with and without `cw_metrics`, the
//! worker metrics and the fleet's backlog, read back from CloudWatch; the heartbeat's file and
//! the worker's state.

use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Statistic};
use lava_tests::TestRealm;
use serde_json::json;
use shared::ports::{OutgoingMessage, WorkQueue};
use std::time::Duration;

/// The metrics of namespace `Lava` with these dimension values, as (name, dimensions).
async fn metrics(r: &TestRealm, filters: &[(&str, &str)]) -> Vec<(String, Vec<(String, String)>)> {
    let filters = filters.iter().map(|(n, v)| DimensionFilter::builder().name(*n).value(*v).build());
    let out = r
        .clients
        .cloudwatch
        .list_metrics()
        .namespace("Lava")
        .set_dimensions(Some(filters.collect()))
        .send()
        .await
        .unwrap();
    let mut found: Vec<_> = out
        .metrics()
        .iter()
        .map(|m| {
            let dims = m.dimensions().iter().map(|d| (d.name().unwrap().to_string(), d.value().unwrap().to_string()));
            (m.metric_name().unwrap().to_string(), dims.collect())
        })
        .collect();
    found.sort();
    found
}

/// The sum and sample count of a metric over the last hour.
async fn statistics(r: &TestRealm, name: &str, dims: &[(&str, &str)]) -> (f64, f64) {
    let now = aws_sdk_cloudwatch::primitives::DateTime::from_secs(jiff::Timestamp::now().as_second() + 60);
    let hour_ago = aws_sdk_cloudwatch::primitives::DateTime::from_secs(jiff::Timestamp::now().as_second() - 3600);
    let dims = dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build());
    let out = r
        .clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("Lava")
        .metric_name(name)
        .set_dimensions(Some(dims.collect()))
        .start_time(hour_ago)
        .end_time(now)
        .period(3600)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let points = out.datapoints();
    (points.iter().filter_map(|p| p.sum()).sum(), points.iter().filter_map(|p| p.sample_count()).sum())
}

#[tokio::test]
async fn job_metrics_are_put_for_runs_that_ask_for_them() {
    let r = TestRealm::up("cwm").await;
    let realm = r.names.realm.clone();
    for (id, payload, extra) in [
        ("m/on", "/bin/true", json!({"cw_metrics": true})),
        ("m/fails", "/bin/false", json!({"cw_metrics": true})),
        ("m/off", "/bin/true", json!({})),
    ] {
        let mut job = json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": payload});
        job.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
        r.put_job(job).await;
        r.dispatch(id).await;
    }
    let worker = crate::worker::worker(&r, 2, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();

    let of_job = |job: &'static str| [("Realm", realm.clone()), ("Job", job.to_string())];
    let names = |found: Vec<(String, Vec<(String, String)>)>| found.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(names(metrics(&r, &[("Realm", &realm), ("Job", "m/on")]).await), ["JobFailed", "RunTime"]);
    assert_eq!(names(metrics(&r, &[("Realm", &realm), ("Job", "m/off")]).await), Vec::<String>::new());
    let on = of_job("m/on");
    let on: Vec<(&str, &str)> = on.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(statistics(&r, "JobFailed", &on).await, (0.0, 1.0));
    let fails = of_job("m/fails");
    let fails: Vec<(&str, &str)> = fails.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(statistics(&r, "JobFailed", &fails).await, (1.0, 1.0));
    let (runtime, count) = statistics(&r, "RunTime", &on).await;
    assert!(count == 1.0 && (0.0..60.0).contains(&runtime), "{runtime} {count}");
    // RunDelay is the worker's: one value per run that asked, none for m/off.
    let (delay, count) = statistics(&r, "RunDelay", &[("Realm", &realm), ("Worker", "core")]).await;
    assert!(count == 2.0 && (0.0..120.0).contains(&delay), "{delay} {count}");
}

#[tokio::test]
async fn worker_metrics_backlog_heartbeat_and_state() {
    let r = TestRealm::up("cww").await;
    let realm = r.names.realm.clone();
    // The fleet's ECS service, with two tasks running.
    let cluster = format!("lava-{realm}-core");
    r.ecs_service(&cluster, 2).await;

    let env = vec![
        ("LAVA_CW_METRICS_WORKER".to_string(), "true".to_string()),
        ("LAVA_CW_METRICS_PERIOD".to_string(), "1s".to_string()),
        ("LAVA_WORKER_ECS_CLUSTER".to_string(), cluster.clone()),
        ("LAVA_WORKER_ECS_SERVICE".to_string(), cluster.clone()),
        ("LAVA_WORKER_BACKLOG_PERIOD".to_string(), "1s".to_string()),
    ];
    let options = shared::worker::WorkerOptions {
        batch: false,
        instance_id: Some("task-0f1e".into()),
        log_heartbeat: Some(Duration::from_secs(1)),
        ..lava_tests::worker_options(&realm, 3, env)
    };
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();

    // Five messages waiting for a fleet of two running tasks: a backlog of 2.5.
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let sqs = shared::aws::SqsQueues::new(r.clients.sqs.clone());
    for i in 0..5 {
        sqs.send(&queue, &OutgoingMessage { body: format!("{{\"n\": {i}}}"), ..Default::default() }).await.unwrap();
    }
    assert_eq!(worker.put_backlog(&cluster, &cluster).await, Some(2.5));
    let backlog = statistics(&r, "WorkerBacklog", &[("Realm", &realm), ("Worker", "core")]).await;
    assert_eq!(backlog, (2.5, 1.0));
    // A heartbeat touches the file and reads the queue.
    let heartbeat_file = worker.runner.run_root.join(".heartbeat");
    assert!(worker.heartbeat().await);
    assert!(heartbeat_file.exists());
    let state = worker.state();
    assert_eq!(state["instance_id"], "task-0f1e");
    assert_eq!(state["threads"], json!({"worker-00": "OK", "worker-01": "OK", "worker-02": "OK"}));
    assert_eq!(state["config"]["CW_METRICS_PERIOD"], "1s");
    assert_eq!(state["config"]["EVENT_TTL"], "2d");
    // Drain the junk so the running worker stays idle, then let it report for a few seconds.
    while !sqs.receive(&queue, 10, 0).await.unwrap().is_empty() {}
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.clone().run(rx));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    tx.send(true).unwrap();
    running.await.unwrap().unwrap();
    let found = metrics(&r, &[("Realm", &realm), ("Worker", "core"), ("Instance", "task-0f1e")]).await;
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "MaxRss",
        "PercentDiskUsed",
        "PercentMemUsed",
        "PercentTmpDiskUsed",
        "RunningJobs",
        "WorkerThreadsAlive",
        "WorkerThreadsDead",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let dims = [("Realm", realm.as_str()), ("Worker", "core"), ("Instance", "task-0f1e")];
    let (alive, samples) = statistics(&r, "WorkerThreadsAlive", &dims).await;
    assert!(samples >= 2.0 && alive == 3.0 * samples, "{alive} over {samples} samples");
    let (backlogs, samples) = statistics(&r, "WorkerBacklog", &[("Realm", &realm), ("Worker", "core")]).await;
    assert!(samples >= 3.0 && backlogs == 2.5, "after the drain the backlog is 0: {backlogs} over {samples}");
    // The heartbeat stops once its file cannot be touched (the run area has gone).
    std::fs::remove_dir_all(&worker.runner.run_root).unwrap();
    assert!(!worker.heartbeat().await);
}

/// The worker queue as moto keeps it, except that the first delete panics (a bug in a
/// message's handling, after its run ended).
struct PanicOnFirstDelete {
    queue: std::sync::Arc<dyn WorkQueue>,
    deleted: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl WorkQueue for PanicOnFirstDelete {
    async fn queue_url(&self, name: &str) -> shared::Result<String> {
        self.queue.queue_url(name).await
    }
    async fn send(&self, url: &str, message: &OutgoingMessage) -> shared::Result<String> {
        self.queue.send(url, message).await
    }
    async fn receive(&self, url: &str, max: u32, wait: u32) -> shared::Result<Vec<shared::ports::QueueMessage>> {
        self.queue.receive(url, max, wait).await
    }
    async fn receive_leased(
        &self,
        url: &str,
        max: u32,
        wait: u32,
        visibility: u32,
    ) -> shared::Result<Vec<shared::ports::QueueMessage>> {
        self.queue.receive_leased(url, max, wait, visibility).await
    }
    async fn delete(&self, url: &str, receipt_handle: &str) -> shared::Result<()> {
        if !self.deleted.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("a bug after the run ended");
        }
        self.queue.delete(url, receipt_handle).await
    }
    async fn set_visibility(&self, url: &str, receipt_handle: &str, seconds: u32) -> shared::Result<()> {
        self.queue.set_visibility(url, receipt_handle, seconds).await
    }
    async fn depth(&self, url: &str) -> shared::Result<shared::ports::QueueDepth> {
        self.queue.depth(url).await
    }
    async fn list_queues(&self, prefix: &str) -> shared::Result<Vec<String>> {
        self.queue.list_queues(prefix).await
    }
}

/// A handling that panics is a dead thread in the worker metrics, as the original counted its
/// dying threads; its slot serves again (WorkerThreadsAlive stays whole) and its run, whose
/// final event was written, is not run again when its message comes back.
#[tokio::test]
async fn a_panicking_handling_is_a_dead_thread_and_its_slot_serves_again() {
    let r = TestRealm::up("cwdead").await;
    let realm = r.names.realm.clone();
    r.put_job(json!({"job_id": "dead/ok", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": "true", "parameters": {}}))
        .await;
    let mut ports = r.ports.clone();
    ports.queues = std::sync::Arc::new(PanicOnFirstDelete { queue: ports.queues.clone(), deleted: Default::default() });
    let worker = shared::worker::build(lava_tests::worker_options(&realm, 2, Vec::new()), ports).await.unwrap();
    let figures = |w: &shared::worker::Worker| {
        let data = w.worker_metrics();
        let value = |name: &str| data.iter().find(|d| d.name == name).map(|d| d.value).unwrap();
        (value("WorkerThreadsAlive"), value("WorkerThreadsDead"))
    };
    assert_eq!(figures(&worker), (2.0, 0.0));
    let run_id = r.dispatch("dead/ok").await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    // Batch mode: the worker ends once its queue is empty (the panicked message still invisible).
    worker.clone().run(rx.clone()).await.unwrap();
    assert_eq!(figures(&worker), (2.0, 1.0));
    assert_eq!(r.statuses("dead/ok", &run_id).await, ["starting", "running", "complete"]);
    // Its message comes back after its visibility (three heartbeats): the run has ended, so the
    // copy is deleted and nothing runs again.
    tokio::time::sleep(Duration::from_secs(7)).await;
    worker.clone().run(rx).await.unwrap();
    assert_eq!(figures(&worker), (2.0, 1.0));
    assert_eq!(r.statuses("dead/ok", &run_id).await, ["starting", "running", "complete"]);
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let depth = r.queues.depth(&queue).await.unwrap();
    assert_eq!((depth.visible, depth.not_visible), (0, 0), "the message was deleted");
}
