//! A realm whose tables the original's realm template made (no `type-index`, no
//! `run_id-index`, provisioned capacity): the schedule tick dispatches, `lava run show` finds a
//! run, the original's `lava-events -f json` prints what our worker wrote, and `lava realm
//! upgrade` adds the indexes online, once.

use crate::history::lava;
use serde_json::{Value, json};
use shared::dispatch::function::DispatchFunction;
use shared::ports::WorkQueue;
use tests::TestRealm;

/// The names of the global indexes a table has.
async fn indexes(r: &TestRealm, table: &str) -> Vec<String> {
    let out = r.clients.dynamodb.describe_table().table_name(table).send().await.unwrap();
    let table = out.table().unwrap();
    table.global_secondary_indexes().iter().filter_map(|i| i.index_name().map(str::to_string)).collect()
}

/// The original's `lava-events` (jinlava 8.3 from PyPI) on one run, as JSON.
fn original_events(r: &TestRealm, job_id: &str, run_id: &str) -> Value {
    let program = tests::workspace_root().join(".venv-jinlava/bin/lava-events");
    assert!(program.is_file(), "{} is missing: run `bash tests/setup.sh`", program.display());
    let out = tests::emulator_env(&mut std::process::Command::new(program))
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
