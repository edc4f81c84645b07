//! The worker against moto and real processes: messages in, events, outputs and queue effects out.

use lava_tests::{TestRealm, clients};
use serde_json::{Value, json};
use shared::dispatch::DispatchRequest;
use shared::names::ResourceNames;
use shared::ports::{BlobStore, OutgoingMessage, WorkQueue};
use shared::worker::{Handled, Worker, WorkerOptions};
use std::sync::Arc;
use std::time::Duration;

/// A worker on the realm's `core` queue, polling every second.
pub(crate) async fn worker(r: &TestRealm, threads: usize, grace: Duration, dev: bool) -> Arc<Worker> {
    let options = WorkerOptions { grace, dev, ..lava_tests::worker_options(&r.names.realm, threads, vec![]) };
    shared::worker::build(options, r.ports.clone()).await.unwrap()
}

/// Waits (at most 10 s) until the run's job is running.
pub(crate) async fn wait_until_running(r: &TestRealm, job_id: &str, run_id: &str) {
    wait_for_status(r, job_id, run_id, &["running"], Duration::from_secs(10)).await;
}

/// Waits (at most `limit`) until the run has recorded one of `statuses`, so a test waits for
/// an outcome rather than for a fixed time a loaded machine may overrun.
async fn wait_for_status(r: &TestRealm, job_id: &str, run_id: &str, statuses: &[&str], limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if r.statuses(job_id, run_id).await.iter().any(|s| statuses.contains(&s.as_str())) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{job_id} {run_id} recorded none of {statuses:?} within {limit:?}");
}

fn cmd_job(id: &str, payload: &str, extra: Value) -> Value {
    let mut job = json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "owner": "o", "description": "d", "payload": payload});
    job.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    job
}

#[tokio::test]
async fn a_dispatched_job_runs_to_a_recorded_result_with_outputs_in_s3() {
    let r = TestRealm::up("wk").await;
    let worker = worker(&r, 2, Duration::from_secs(5), false).await;
    r.put_job(cmd_job(
        "it/echo",
        "/bin/sh -c",
        json!({"parameters": {"args": ["echo out {{ job.run_id }}; echo err >&2; exit 3"]}}),
    ))
    .await;
    let run_id = r.dispatch("it/echo").await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx).await.unwrap();

    let item = r.events("it/echo", &run_id).await;
    assert_eq!(r.statuses("it/echo", &run_id).await, ["starting", "running", "failed"]);
    assert_eq!(item["status"], "failed");
    assert_eq!(item["worker"], "core");
    assert!(item["ttl"].as_i64().unwrap() > 0 && item["worker_id"].is_null());
    let failed = &item["log"][2]["info"];
    assert_eq!(failed["error"], "Failed with exit status 3");
    assert_eq!(failed["error_data"]["error"], "err");
    let bucket = r.names.local_bucket();
    let key = format!("tmp/it/echo/{run_id}/stdout");
    assert_eq!(failed["error_data"]["output"][0]["stdout"], format!("s3://{bucket}/{key}"));
    assert_eq!(r.blobs.get_object(&bucket, &key).await.unwrap(), format!("out {run_id}\n").as_bytes());
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    assert!(r.queues.receive(&queue, 10, 0).await.unwrap().is_empty(), "the message was deleted after the final event");
}

#[tokio::test]
async fn bad_messages_are_dead_lettered_with_a_reason_and_an_event_where_the_job_is_known() {
    let r = TestRealm::up("wk").await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.worker_queue("core"))).await;
    let run_id = uuid::Uuid::new_v4().to_string();
    let good = json!({"realm": r.names.realm, "worker": "core", "job_id": "no/such/job", "run_id": run_id, "ts_dispatch": "2025-03-04T06:15:00+11:00"});
    let mut extra_key = good.clone();
    extra_key["job_id"] = json!("demo/hello");
    extra_key["delay"] = json!(5);
    for body in ["not json at all".to_string(), good.to_string(), extra_key.to_string()] {
        r.queues.send(&queue, &OutgoingMessage { body, ..Default::default() }).await.unwrap();
    }
    let mut outcomes = Vec::new();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    while let Some(m) = r.queues.receive(&queue, 1, 1).await.unwrap().pop() {
        outcomes.push(worker.handle(&m, rx.clone()).await);
    }
    let reasons: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Handled::DeadLettered(reason) => reason.clone(),
            other => panic!("expected dead-lettering, got {other:?}"),
        })
        .collect();
    assert!(reasons.iter().any(|r| r.starts_with("Malformed dispatch message: expected")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "no/such/job: No such job"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("unknown field `delay`")), "{reasons:?}");
    assert_eq!(r.statuses("no/such/job", &run_id).await, ["rejected"]);
    assert_eq!(r.events("no/such/job", &run_id).await["log"][0]["info"], "no/such/job: No such job");
    assert_eq!(r.statuses("demo/hello", &run_id).await, ["rejected"]);
    let dead = r.queues.receive(&dlq, 10, 1).await.unwrap();
    assert_eq!(dead.len(), 3, "nothing is lost: every bad message is in the dead-letter queue");
}

#[tokio::test]
async fn a_huge_field_of_a_bad_message_is_echoed_cut_and_the_message_still_dead_lettered() {
    let r = TestRealm::up("wk").await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.worker_queue("core"))).await;
    let huge = "r".repeat(200_000);
    let body = json!({"realm": huge, "worker": "core", "job_id": "demo/hello", "run_id": uuid::Uuid::new_v4().to_string(), "ts_dispatch": "2025-03-04T06:15:00+11:00"});
    r.queues.send(&queue, &OutgoingMessage { body: body.to_string(), ..Default::default() }).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let message = r.queues.receive(&queue, 1, 1).await.unwrap().pop().expect("the message");
    let Handled::DeadLettered(reason) = worker.handle(&message, rx).await else { panic!("expected dead-lettering") };
    assert!(reason.starts_with("Wrong realm: expected "), "{}", &reason[..100]);
    assert!(reason.chars().count() < 1100, "the reason is cut: {} characters", reason.chars().count());
    assert!(reason.ends_with("more characters cut]"), "and says so: {}", &reason[reason.len() - 60..]);
    let dead = r.queues.receive(&dlq, 10, 1).await.unwrap();
    assert_eq!(dead.len(), 1, "the message is kept whole in the dead-letter queue");
    assert_eq!(dead[0].body, body.to_string());
}

#[tokio::test]
async fn shutdown_releases_a_running_job_for_another_worker() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/slow", "sleep 30", json!({}))).await;
    let run_id = r.dispatch("it/slow").await;
    let worker = worker(&r, 1, Duration::from_millis(500), true).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.clone().run(rx));
    wait_until_running(&r, "it/slow", &run_id).await;
    let started = std::time::Instant::now();
    tx.send(true).unwrap();
    running.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the job was stopped after the grace period");
    assert_eq!(r.statuses("it/slow", &run_id).await, ["starting", "running", "retrying"]);
    let info = &r.events("it/slow", &run_id).await["log"][2]["info"];
    assert!(info["error"].as_str().unwrap().contains("released for another worker"), "{info}");
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let again = r.queues.receive(&queue, 1, 2).await.unwrap();
    assert_eq!(again.len(), 1, "the message is visible again at once");
    assert!(again[0].body.contains(&run_id) && again[0].receive_count == 2);
    assert_eq!(r.events("it/slow", &run_id).await["lease_until"].as_i64(), Some(0), "and its lease is given up");
}

#[tokio::test]
async fn a_batch_worker_lets_running_jobs_finish_when_the_queue_is_empty() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/long", "sleep 3", json!({}))).await;
    r.put_job(cmd_job("it/short", "true", json!({}))).await;
    let long = r.dispatch("it/long").await;
    let short = r.dispatch("it/short").await;
    // Two threads, a 1 s long poll and a grace period far shorter than the long job: the queue
    // is found empty while it still runs.
    let worker = worker(&r, 2, Duration::from_millis(200), true).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    worker.clone().run(rx).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(3), "the worker waited for the long job");
    assert_eq!(r.statuses("it/long", &long).await, ["starting", "running", "complete"]);
    assert_eq!(r.statuses("it/short", &short).await, ["starting", "running", "complete"]);
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    assert!(r.queues.receive(&queue, 10, 0).await.unwrap().is_empty(), "nothing was left on the queue");
}

#[tokio::test]
async fn two_workers_on_one_queue_never_run_a_message_twice() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/quick", "/bin/sh -c", json!({"parameters": {"args": ["sleep 0.2"]}}))).await;
    let mut runs = Vec::new();
    for _ in 0..8 {
        runs.push(r.dispatch("it/quick").await);
    }
    let a = worker(&r, 2, Duration::from_secs(5), true).await;
    let b = worker(&r, 2, Duration::from_secs(5), true).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let (ra, rb) = tokio::join!(a.clone().run(rx.clone()), b.clone().run(rx));
    ra.unwrap();
    rb.unwrap();
    for run_id in &runs {
        assert_eq!(
            r.statuses("it/quick", run_id).await,
            ["starting", "running", "complete"],
            "run {run_id} ran exactly once"
        );
    }
}

#[tokio::test]
async fn a_message_arriving_during_the_last_poll_of_a_stopping_worker_is_released_at_once() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/late", "true", json!({}))).await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let mut worker_settings = Arc::try_unwrap(worker).ok().expect("only this test holds the worker");
    worker_settings.settings.batch = false;
    let worker = Arc::new(worker_settings);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.clone().run(rx));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(true).unwrap();
    let run_id = r.dispatch("it/late").await;
    running.await.unwrap().unwrap();
    assert!(r.statuses("it/late", &run_id).await.is_empty(), "a stopping worker starts no new run");
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let again = r.queues.receive(&queue, 1, 2).await.unwrap();
    assert_eq!(again.len(), 1, "the message is visible again at once, not after its visibility timeout");
    assert!(again[0].body.contains(&run_id));
}

#[tokio::test]
async fn the_visibility_heartbeat_keeps_a_job_longer_than_the_queue_timeout_from_running_twice() {
    let r = TestRealm::up("wk").await;
    let clients = clients().await;
    let queue_name = format!("lava-{}-short", r.names.realm);
    shared::aws::provision::create_queue_with_dlq(&clients, &queue_name, 4, 5).await.unwrap();
    let job = cmd_job("it/long", "sleep 9", json!({}));
    r.put_job(job).await;
    let request = DispatchRequest { job_id: "it/long".into(), worker: Some("core".into()), ..Default::default() };
    let message =
        shared::dispatch::dispatch(&r.catalog, r.queues.as_ref(), &request, &Default::default()).await.unwrap();
    // dispatch sends to the worker's own queue; move the message to the short-visibility queue.
    let default_queue = r.queue_url(&r.names.worker_queue("core")).await;
    let moved = r.queues.receive(&default_queue, 1, 1).await.unwrap().pop().unwrap();
    r.queues.delete(&default_queue, &moved.receipt_handle).await.unwrap();
    let short = r.queue_url(&queue_name).await;
    r.queues.send(&short, &OutgoingMessage { body: moved.body, ..Default::default() }).await.unwrap();

    let mut workers = Vec::new();
    for _ in 0..2 {
        let w = worker(&r, 1, Duration::from_secs(10), true).await;
        let mut w = Arc::try_unwrap(w).ok().unwrap();
        w.settings.queue_url = short.clone();
        w.settings.heartbeat_every = Duration::from_millis(500);
        // A renewal may take up to 3 s (4 s less the heartbeat before the end) before the
        // worker fences the job: room for a loaded emulator, which once took longer than the
        // 1 s a 2 s timeout left and stopped the job (rightly) as a lost lease.
        w.settings.visibility_seconds = 4;
        w.settings.batch = false;
        workers.push(Arc::new(w));
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(workers[0].clone().run(rx.clone()));
    let b = tokio::spawn(workers[1].clone().run(rx));
    // Wait for the outcome, not a fixed time: on a loaded machine the 9 s job may start late,
    // and a shutdown while it runs would release it (`retrying`), which is not what this tests.
    let finals = ["complete", "failed", "retrying"];
    wait_for_status(&r, "it/long", &message.run_id, &finals, Duration::from_secs(60)).await;
    tx.send(true).unwrap();
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    assert_eq!(
        r.statuses("it/long", &message.run_id).await,
        ["starting", "running", "complete"],
        "ran once although it outlived the 4 s visibility timeout twice over"
    );
}

/// Takes the dispatched message for `job_id` off the queue and puts `copies` copies of its body
/// back: SQS's at-least-once delivery, made certain. Returns the received copies.
pub(crate) async fn delivered_copies(
    r: &TestRealm,
    job_id: &str,
    copies: usize,
) -> (String, Vec<shared::ports::QueueMessage>) {
    let run_id = r.dispatch(job_id).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let original = r.queues.receive(&queue, 1, 1).await.unwrap().pop().expect("the dispatched message");
    r.queues.delete(&queue, &original.receipt_handle).await.unwrap();
    for _ in 0..copies {
        r.queues.send(&queue, &OutgoingMessage { body: original.body.clone(), ..Default::default() }).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < copies {
        received.extend(r.queues.receive(&queue, 10, 1).await.unwrap());
    }
    (run_id, received)
}

#[tokio::test]
async fn a_message_delivered_twice_runs_once_its_copy_waits_then_is_deleted() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/dup", "sleep 2", json!({}))).await;
    let worker = worker(&r, 2, Duration::from_secs(5), true).await;
    let (run_id, mut copies) = delivered_copies(&r, "it/dup", 2).await;
    let (second, first) = (copies.pop().unwrap(), copies.pop().unwrap());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let running = {
        let (worker, rx) = (worker.clone(), rx.clone());
        tokio::spawn(async move { worker.handle(&first, rx).await })
    };
    wait_until_running(&r, "it/dup", &run_id).await;
    let Handled::Waiting(holder) = worker.handle(&second, rx.clone()).await else {
        panic!("a copy of a running run must wait")
    };
    assert!(holder.contains(&std::process::id().to_string()), "the holder is named: {holder}");
    assert_eq!(r.statuses("it/dup", &run_id).await, ["starting", "running"], "the waiting copy wrote no event");
    assert!(matches!(running.await.unwrap(), Handled::Ran(shared::run::RunOutcome::Succeeded(_))));

    // The copy comes back once the lease it waited for would have ended, finds the run over and
    // is deleted without an event.
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let started = std::time::Instant::now();
    let back = loop {
        if let Some(m) = r.queues.receive(&queue, 1, 1).await.unwrap().pop() {
            break m;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the waiting copy never came back");
    };
    assert_eq!(worker.handle(&back, rx).await, Handled::Duplicate);
    assert_eq!(r.statuses("it/dup", &run_id).await, ["starting", "running", "complete"]);
    let item = r.events("it/dup", &run_id).await;
    assert_eq!((item["lease_claims"].as_i64(), item["lease_until"].as_i64()), (Some(1), Some(-1)));
    assert!(r.queues.receive(&queue, 10, 1).await.unwrap().is_empty(), "both copies are gone");
}

#[tokio::test]
async fn a_copy_of_a_finished_run_is_deleted_and_receive_counts_of_waiting_copies_do_not_count() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/once", "true", json!({}))).await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let (run_id, mut copies) = delivered_copies(&r, "it/once", 2).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    // Received many times while it waited for a lease: `--retries 2` would have discarded it
    // by its receive count; it is the run's first start.
    let mut first = copies.remove(0);
    first.receive_count = 7;
    assert!(matches!(worker.handle(&first, rx.clone()).await, Handled::Ran(_)));
    let before = r.events("it/once", &run_id).await;
    assert_eq!(worker.handle(&copies[0], rx).await, Handled::Duplicate);
    assert_eq!(r.events("it/once", &run_id).await, before, "the events are untouched");
}

#[tokio::test]
async fn a_run_whose_lease_expired_is_taken_over_and_a_live_one_is_left_alone() {
    use shared::model::{Claim, LeaseRequest};
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/orphan", "true", json!({}))).await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let now = jiff::Timestamp::now().as_second();
    let claim = |run_id: &str, owner: &str, until: i64| LeaseRequest {
        job_id: "it/orphan".into(),
        run_id: run_id.into(),
        owner: owner.into(),
        now,
        until,
        ttl: None,
    };

    // A worker that died a minute ago: its run is taken over.
    let (dead, copies) = delivered_copies(&r, "it/orphan", 1).await;
    let table = &r.names.events_table;
    assert!(matches!(
        r.ports.events.claim(table, &claim(&dead, "gone:1:x", now - 60)).await.unwrap(),
        Claim::Claimed { attempt: 1, .. }
    ));
    assert!(matches!(worker.handle(&copies[0], rx.clone()).await, Handled::Ran(_)));
    let item = r.events("it/orphan", &dead).await;
    assert_eq!(item["lease_claims"].as_i64(), Some(2), "the takeover is the run's second start");
    assert_eq!(r.statuses("it/orphan", &dead).await, ["starting", "running", "complete"]);

    // A worker still alive: the copy waits and nothing is written.
    let (alive, copies) = delivered_copies(&r, "it/orphan", 1).await;
    r.ports.events.claim(table, &claim(&alive, "busy:2:y", now + 300)).await.unwrap();
    assert_eq!(worker.handle(&copies[0], rx.clone()).await, Handled::Waiting("busy:2:y".into()));
    assert!(r.statuses("it/orphan", &alive).await.is_empty());

    // Started too often (two dead workers before): `--retries 1` discards it with a reason.
    let (tired, copies) = delivered_copies(&r, "it/orphan", 1).await;
    for owner in ["gone:3:a", "gone:4:b"] {
        r.ports.events.claim(table, &claim(&tired, owner, now - 60)).await.unwrap();
    }
    let mut strict = Arc::try_unwrap(crate::worker::worker(&r, 1, Duration::from_secs(5), true).await).ok().unwrap();
    strict.settings.retries = 1;
    let Handled::DeadLettered(reason) = strict.handle(&copies[0], rx).await else { panic!("expected dead-lettering") };
    assert_eq!(reason, "Retry limit exceeded: started 3 times");
    assert_eq!(r.statuses("it/orphan", &tired).await, ["rejected"]);
}

/// Another worker (`other:9:z`) takes the run over, as one would after this worker's lease had
/// run out (its clock says the lease is over); returns the new lease's end.
async fn take_over(r: &TestRealm, job_id: &str, run_id: &str) -> i64 {
    let later = jiff::Timestamp::now().as_second() + 3600;
    let thief = shared::model::LeaseRequest {
        job_id: job_id.into(),
        run_id: run_id.into(),
        owner: "other:9:z".into(),
        now: later,
        until: later + 60,
        ttl: None,
    };
    r.ports.events.claim(&r.names.events_table, &thief).await.unwrap();
    thief.until
}

#[tokio::test]
async fn a_worker_that_loses_its_lease_stops_the_run_and_leaves_the_message_alone() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/stolen", "sleep 30", json!({}))).await;
    let worker = worker(&r, 1, Duration::from_secs(5), true).await;
    let (run_id, mut copies) = delivered_copies(&r, "it/stolen", 1).await;
    let message = copies.pop().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.handle(&message, rx).await })
    };
    wait_until_running(&r, "it/stolen", &run_id).await;
    take_over(&r, "it/stolen", &run_id).await;
    let started = std::time::Instant::now();
    assert_eq!(running.await.unwrap(), Handled::LeaseLost);
    assert!(started.elapsed() < Duration::from_secs(5), "stopped at the next heartbeat: {:?}", started.elapsed());
    // The run is another's now: this worker writes nothing more to it.
    assert_eq!(r.statuses("it/stolen", &run_id).await, ["starting", "running"]);
    let item = r.events("it/stolen", &run_id).await;
    assert_eq!(item["lease_owner"], "other:9:z", "the new holder keeps the run");
}

#[tokio::test]
async fn a_worker_that_stalled_past_its_lease_writes_no_final_event() {
    let r = TestRealm::up("wk").await;
    r.put_job(cmd_job("it/stalled", "sleep 3", json!({}))).await;
    // Its heartbeat does not come round before the job ends: it cannot notice the takeover.
    let mut slow = Arc::try_unwrap(worker(&r, 1, Duration::from_secs(5), true).await).ok().unwrap();
    slow.settings.heartbeat_every = Duration::from_secs(600);
    let slow = Arc::new(slow);
    let (run_id, mut copies) = delivered_copies(&r, "it/stalled", 1).await;
    let message = copies.pop().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let running = {
        let slow = slow.clone();
        tokio::spawn(async move { slow.handle(&message, rx).await })
    };
    wait_until_running(&r, "it/stalled", &run_id).await;
    let until = take_over(&r, "it/stalled", &run_id).await;
    assert_eq!(running.await.unwrap(), Handled::LeaseLost, "its message is left to the new holder");
    assert_eq!(r.statuses("it/stalled", &run_id).await, ["starting", "running"], "no complete from the stalled worker");
    let item = r.events("it/stalled", &run_id).await;
    assert_eq!((&item["lease_owner"], &item["lease_until"]), (&json!("other:9:z"), &json!(until)));
}

/// The events table as moto keeps it, except that run claims fail as `failure` says (the first
/// `fail` claims, transiently or for good).
struct FailingClaims {
    events: Arc<dyn shared::ports::EventLog>,
    fail: std::sync::atomic::AtomicUsize,
    retry: shared::Retry,
}

#[async_trait::async_trait]
impl shared::ports::EventLog for FailingClaims {
    async fn append(&self, table: &str, update: &shared::model::EventUpdate) -> shared::Result<()> {
        self.events.append(table, update).await
    }
    async fn claim(&self, table: &str, request: &shared::model::LeaseRequest) -> shared::Result<shared::model::Claim> {
        let left = self.fail.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.fail.store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(shared::Error::Aws {
                service: "dynamodb",
                operation: "UpdateItem",
                code: Some("Refused".into()),
                message: "the claim failed (test)".into(),
                retry: self.retry,
                source: None,
            });
        }
        self.events.claim(table, request).await
    }
    async fn renew(&self, table: &str, request: &shared::model::LeaseRequest) -> shared::Result<bool> {
        self.events.renew(table, request).await
    }
    async fn release(&self, table: &str, job_id: &str, run_id: &str, owner: &str) -> shared::Result<()> {
        self.events.release(table, job_id, run_id, owner).await
    }
}

/// A message whose claim fails for a passing reason comes back after a pause that doubles
/// (1 s, then 2 s), never at once, and runs once the claims work again; one that keeps failing
/// is rejected and dead-lettered after WORKER_MAX_RECEIVES failures; a claim the table refuses
/// for good dead-letters at once. Each dead-lettered run has its `rejected` event.
#[tokio::test]
async fn a_message_that_cannot_start_comes_back_later_and_is_dead_lettered_when_it_keeps_failing() {
    let r = TestRealm::up("wkc").await;
    r.put_job(cmd_job("it/claims", "true", json!({}))).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.worker_queue("core"))).await;
    let failing = |fail: usize, retry: shared::Retry| {
        let mut ports = r.ports.clone();
        ports.events = Arc::new(FailingClaims { events: r.ports.events.clone(), fail: fail.into(), retry });
        let env = vec![("LAVA_WORKER_MAX_RECEIVES".to_string(), "3".to_string())];
        shared::worker::build(lava_tests::worker_options(&r.names.realm, 1, env), ports)
    };
    let next = |wait: u32| {
        let queue = queue.clone();
        let r = &r;
        async move { r.queues.receive(&queue, 1, wait).await.unwrap().pop() }
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);

    // A passing failure, then the run: the message is not back at once, but within seconds.
    let worker = failing(1, shared::Retry::Transient).await.unwrap();
    let run_id = r.dispatch("it/claims").await;
    let message = next(1).await.expect("the message");
    assert!(matches!(worker.handle(&message, rx.clone()).await, Handled::Released(_)));
    let released = std::time::Instant::now();
    assert!(next(0).await.is_none(), "a released message is not back at once");
    let back = loop {
        if let Some(m) = next(1).await {
            break m;
        }
        assert!(released.elapsed() < Duration::from_secs(10), "the released message never came back");
    };
    assert!(released.elapsed() >= Duration::from_millis(800), "back after {:?}", released.elapsed());
    assert!(matches!(worker.handle(&back, rx.clone()).await, Handled::Ran(_)));
    assert_eq!(r.statuses("it/claims", &run_id).await, ["starting", "running", "complete"]);

    // Failing on: the third failure rejects it.
    let worker = failing(99, shared::Retry::Transient).await.unwrap();
    let run_id = r.dispatch("it/claims").await;
    let mut handled = Vec::new();
    let started = std::time::Instant::now();
    while handled.len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(20), "handled only {handled:?}");
        if let Some(message) = next(1).await {
            handled.push(worker.handle(&message, rx.clone()).await);
            r.queues.set_visibility(&queue, &message.receipt_handle, 0).await.ok();
        }
    }
    assert!(
        matches!(&handled[2], Handled::DeadLettered(reason) if reason.contains("could not start 3 times")),
        "{handled:?}"
    );
    assert_eq!(r.statuses("it/claims", &run_id).await, ["rejected"]);
    assert_eq!(r.queues.receive(&dlq, 10, 1).await.unwrap().len(), 1);

    // Refused for good: dead-lettered at the first try.
    let worker = failing(1, shared::Retry::Permanent).await.unwrap();
    let run_id = r.dispatch("it/claims").await;
    let message = next(1).await.unwrap();
    assert!(matches!(worker.handle(&message, rx).await, Handled::DeadLettered(_)));
    assert_eq!(r.statuses("it/claims", &run_id).await, ["rejected"]);
}
