//! A realm whose tables the original's realm template made (no `type-index`, no
//! `run_id-index`, provisioned capacity): the schedule tick dispatches, `lava run show` finds a
//! run, the original's `lava-events -f json` prints what our worker wrote, and `lava realm
//! upgrade` adds the indexes online, once.

use crate::history::lava;
use lava_tests::TestRealm;
use serde_json::{Value, json};
use shared::dispatch::function::DispatchFunction;
use shared::ports::WorkQueue;

/// The names of the global indexes a table has.
async fn indexes(r: &TestRealm, table: &str) -> Vec<String> {
    let out = r.clients.dynamodb.describe_table().table_name(table).send().await.unwrap();
    let table = out.table().unwrap();
    table.global_secondary_indexes().iter().filter_map(|i| i.index_name().map(str::to_string)).collect()
}

/// The original's `lava-events` (jinlava 8.3 from PyPI) on one run, as JSON.
fn original_events(r: &TestRealm, job_id: &str, run_id: &str) -> Value {
    let program = lava_tests::workspace_root().join(".venv-jinlava/bin/lava-events");
    assert!(program.is_file(), "{} is missing: run `bash tests/setup.sh`", program.display());
    let out = lava_tests::emulator_env(&mut std::process::Command::new(program))
        .args(["-r", &r.names.realm, "-f", "json", job_id, run_id])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "lava-events failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("lava-events printed no JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn a_realm_on_the_originals_tables_ticks_shows_runs_and_upgrades_online() {
    let r = TestRealm::up_on_original_tables("org").await;
    let (jobs, events) = (r.names.jobs_table.clone(), r.names.events_table.clone());
    assert_eq!(indexes(&r, &jobs).await, ["dispatcher-index"], "the original's jobs table");
    assert!(indexes(&r, &events).await.is_empty(), "the original's events table has no global index");

    // The tick finds the served dispatchers without type-index, and dispatches the due job.
    r.put_job(json!({"job_id": "org/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"dispatcher": "main"}}))
        .await;
    r.put_job(json!({"job_id": "org/every", "type": "cmd", "worker": "core", "enabled": true, "payload": "true",
        "schedule": "* * * * *", "dispatcher": "main"}))
        .await;
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let sent = function.tick(jiff::Timestamp::now()).await.unwrap();
    assert_eq!(sent.len(), 1, "one due job: {sent:?}");
    let worker = crate::worker::worker(&r, 1, std::time::Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx).await.unwrap();
    let url = r.queue_url(&r.names.worker_queue("core")).await;
    assert!(r.queues.receive(&url, 10, 0).await.unwrap().is_empty(), "the worker drained its queue");
    let runs = shared::history::History::new(r.tables.clone(), r.names.clone())
        .job_runs("org/every", &Default::default())
        .await
        .unwrap();
    let [run] = runs.as_slice() else { panic!("one run of the scheduled job: {runs:?}") };
    assert_eq!(r.statuses("org/every", &run.run_id).await, ["starting", "running", "complete"]);

    // `lava run show` finds the run by its id alone without run_id-index.
    let shown = lava(&r.names.realm, &["run", "show", &run.run_id]).await.unwrap();
    assert!(shown.contains("org/every") && shown.contains("complete"), "{shown}");

    // The original's own history tool reads the item our worker wrote.
    let printed = original_events(&r, "org/every", &run.run_id);
    assert_eq!(printed["status"], "complete", "{printed}");
    assert_eq!(printed["run_id"], run.run_id.as_str(), "{printed}");

    // The upgrade adds this project's indexes, online, and the second changes nothing.
    let said = lava(&r.names.realm, &["realm", "upgrade"]).await.unwrap();
    assert!(said.contains(&format!("{jobs}: added type-index")), "{said}");
    assert!(said.contains(&format!("{events}: added run_id-index")), "{said}");
    assert_eq!(said.lines().count(), 2, "only the two tables changed: {said}");
    assert_eq!(indexes(&r, &jobs).await.len(), 2);
    assert_eq!(indexes(&r, &events).await, ["run_id-index"]);
    let again = lava(&r.names.realm, &["realm", "upgrade"]).await.unwrap();
    assert!(again.ends_with("every table has its indexes; nothing changed"), "{again}");

    // Through the new indexes: the same answers.
    let shown = lava(&r.names.realm, &["run", "show", &run.run_id]).await.unwrap();
    assert!(shown.contains("org/every"), "{shown}");
    assert_eq!(r.catalog.lavasched_jobs().await.unwrap().len(), 1);
}

/// The original's `lava-dispatcher` (jinlava 8.3) sends `job_id` on `realm`.
fn original_dispatch(realm: &str, job_id: &str) {
    let out = lava_tests::original::command("lava-dispatcher").args(["--realm", realm, job_id]).output().unwrap();
    assert!(out.status.success(), "lava-dispatcher: {}", String::from_utf8_lossy(&out.stderr));
}

/// Our `lava-worker` binary in batch mode on `realm`'s `core` queue.
fn our_worker(realm: &str) -> std::process::Child {
    let program = lava_tests::workspace_root().join("target/debug/lava-worker");
    assert!(program.is_file(), "target/debug/lava-worker is missing: run `cargo build`");
    lava_tests::emulator_env(&mut std::process::Command::new(program))
        .args(["--realm", realm, "--worker", "core", "--batch", "--root", "--wait", "2", "--sleep", "0"])
        .env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-mixed-")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every item of `job_id` the original's `lava-events -f json` prints (one JSON document each).
fn original_history(r: &TestRealm, job_id: &str) -> Vec<Value> {
    let out = lava_tests::original::command("lava-events")
        .args(["-r", &r.names.realm, "-f", "json", job_id])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "lava-events: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::Deserializer::from_str(&stdout).into_iter::<Value>().map(Result::unwrap).collect()
}

/// The original's fleet and ours on one realm (the original template's tables), both ways:
/// runs either side's dispatcher sends (and the schedule tick) run on either side's workers, in
/// turns and with both fleets draining the queue at once; every run ends complete once, with one worker's events;
/// both sides' history tools show every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_originals_fleet_and_ours_share_a_realm_both_ways() {
    let r = TestRealm::up_on_original_tables("mix").await;
    let realm = r.names.realm.clone();
    r.put_job(json!({"job_id": "mix/job", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": "true"}))
        .await;
    let dispatch_both = |n: usize| {
        let realm = realm.clone();
        async move {
            for _ in 0..n {
                original_dispatch(&realm, "mix/job");
                lava(&realm, &["dispatch", "mix/job"]).await.unwrap();
            }
        }
    };
    // In turns: ours drains what both dispatched, then the original's.
    dispatch_both(1).await;
    let ours = our_worker(&realm).wait_with_output().unwrap();
    assert!(ours.status.success(), "our worker: {}", String::from_utf8_lossy(&ours.stderr));
    dispatch_both(1).await;
    // A scheduled run: the tick (served by a lavasched job, as the original's cron nodes were)
    // sends it, and the original's worker runs it with the others.
    r.put_job(json!({"job_id": "mix/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"dispatcher": "main"}}))
        .await;
    r.put_job(json!({"job_id": "mix/every", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": "true", "schedule": "* * * * *", "dispatcher": "main"}))
        .await;
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    assert_eq!(function.tick(jiff::Timestamp::now()).await.unwrap().len(), 1);
    lava_tests::original::run_worker(&realm, "core", 2, &[]);
    let scheduled = shared::history::History::new(r.tables.clone(), r.names.clone())
        .job_runs("mix/every", &Default::default())
        .await
        .unwrap();
    let [scheduled] = scheduled.as_slice() else { panic!("one scheduled run: {scheduled:?}") };
    assert_eq!(r.statuses("mix/every", &scheduled.run_id).await, ["starting", "running", "complete"]);
    assert!(
        r.events("mix/every", &scheduled.run_id).await.get("lease_owner").is_none(),
        "the original's worker ran it"
    );
    // Both fleets on the queue at once.
    dispatch_both(4).await;
    let ours = our_worker(&realm);
    let theirs = tokio::task::spawn_blocking({
        let realm = realm.clone();
        move || lava_tests::original::run_worker(&realm, "core", 2, &[])
    });
    let ours = tokio::task::spawn_blocking(move || ours.wait_with_output().unwrap()).await.unwrap();
    theirs.await.unwrap();
    assert!(ours.status.success(), "our worker: {}", String::from_utf8_lossy(&ours.stderr));

    let runs = shared::history::History::new(r.tables.clone(), r.names.clone())
        .job_runs("mix/job", &Default::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 12, "every dispatch made one run: {runs:?}");
    // Our worker leases a run (`lease_owner`); the original's writes no lease.
    let mut by_ours = 0;
    for run in &runs {
        let item = r.events("mix/job", &run.run_id).await;
        let statuses: Vec<&str> = item["log"].as_array().unwrap().iter().filter_map(|e| e["status"].as_str()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == "complete").count(), 1, "{}: {item}", run.run_id);
        assert_eq!(statuses.last(), Some(&"complete"), "{}: {statuses:?}", run.run_id);
        assert_eq!(statuses.iter().filter(|s| **s == "starting").count(), 1, "one start: {statuses:?}");
        by_ours += usize::from(item.get("lease_owner").is_some());
    }
    assert!((2..=10).contains(&by_ours), "each fleet ran runs (ours {by_ours} of 12)");
    // Both sides' history tools show every run.
    let listed = lava(&realm, &["events", "mix/job", "--json"]).await.unwrap();
    let listed: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.len(), 12);
    let printed = original_history(&r, "mix/job");
    assert_eq!(printed.len(), 12, "the original's lava-events shows every run");
    assert!(printed.iter().all(|p| p["status"] == "complete"), "{printed:?}");
}
