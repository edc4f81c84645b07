//! Orchestration jobs (`chain`, `dag`, `foreach`, `dispatch`) run by a worker against moto, with
//! real child processes: each child writes what it saw to a file the test reads.

use lava_tests::TestRealm;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// A file children append lines to.
fn trace_file() -> PathBuf {
    std::env::temp_dir().join(lava_tests::unique("lava-trace-"))
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A cmd job that appends `line` (rendered) to `trace`, then runs `then` (a shell snippet).
fn child(id: &str, trace: &std::path::Path, line: &str, then: &str) -> Value {
    let script = format!("echo \"{line}\" >> {}; {then}", trace.display());
    json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/sh -c", "parameters": {"args": [script]}})
}

fn pipeline(id: &str, job_type: &str, payload: Value, parameters: Value) -> Value {
    json!({"job_id": id, "type": job_type, "worker": "core", "enabled": true, "payload": payload, "parameters": parameters})
}

/// Dispatches `job_id` and drains the queue with a batch worker; returns the run id.
async fn run(r: &TestRealm, job_id: &str) -> String {
    let run_id = r.dispatch(job_id).await;
    let worker = crate::worker::worker(r, 2, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    run_id
}

fn last_info(item: &Value) -> Value {
    item["log"].as_array().and_then(|l| l.last()).map(|e| e["info"].clone()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_chain_runs_its_children_in_order_under_its_run_and_stops_at_the_first_failure() {
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    let seen = "{{ job.job_id }} {{ job.run_id }} parent={{ globals.lava.parent_job_id }} master={{ globals.lava.master_job_id }} colour={{ globals.colour }}";
    let mut a = child("pl/a", &trace, seen, "true");
    a["on_success"] = json!([{"action": "log", "message": "done {{ job.job_id }}"}]);
    r.put_job(a).await;
    r.put_job(child("pl/b", &trace, seen, "exit 3")).await;
    r.put_job(child("pl/c", &trace, seen, "true")).await;
    let mut chain = pipeline("pl/chain", "chain", json!("a, b, c"), json!({"job_prefix": "pl/"}));
    chain["globals"] = json!({"colour": "blue"});
    r.put_job(chain).await;
    let run_id = run(&r, "pl/chain").await;

    assert_eq!(
        lines(&trace),
        [
            format!("pl/a {run_id} parent=pl/chain master=pl/chain colour=blue"),
            format!("pl/b {run_id} parent=pl/chain master=pl/chain colour=blue"),
        ],
        "children run in order under the parent's run id, with its globals; c never runs"
    );
    assert_eq!(r.statuses("pl/chain", &run_id).await, ["starting", "running", "failed"]);
    let failed = last_info(&r.events("pl/chain", &run_id).await);
    assert_eq!(failed["error"], "Job pl/b: Failed with exit status 3");
    assert_eq!(
        failed["error_data"],
        json!({"exit_status": 1, "jobs": ["pl/a"], "failed_jobs": ["pl/b"], "error": "Job pl/b: Failed with exit status 3"})
    );
    assert_eq!(r.statuses("pl/a", &run_id).await, ["starting", "running", "complete"], "each child has its own events");
    assert_eq!(r.statuses("pl/b", &run_id).await, ["starting", "running", "failed"]);
    assert!(r.statuses("pl/c", &run_id).await.is_empty());
    // A child's action lists are its own, sent for the actions function like any run's.
    use shared::ports::WorkQueue;
    let actions = r.queue_url(&r.names.actions_queue).await;
    let sent = r.queues.receive(&actions, 10, 1).await.unwrap();
    let requests: Vec<Value> = sent.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert!(
        requests.iter().any(|q| q["job_id"] == "pl/a" && q["run_id"] == run_id.as_str() && q["key"] == "on_success"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_chain_starts_where_asked_and_goes_on_past_children_that_may_fail() {
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    r.put_job(child("pl/a", &trace, "{{ job.job_id }}", "true")).await;
    r.put_job(child("pl/b1", &trace, "{{ job.job_id }}", "exit 1")).await;
    r.put_job(child("pl/c", &trace, "{{ job.job_id }}", "true")).await;
    let mut disabled = child("pl/off", &trace, "never", "true");
    disabled["enabled"] = json!(false);
    r.put_job(disabled).await;
    r.put_job(pipeline(
        "pl/chain2",
        "chain",
        json!(["a", "b1", "off", "c"]),
        json!({"job_prefix": "pl/", "start": "b1", "can_fail": "pl/b*"}),
    ))
    .await;
    let run_id = run(&r, "pl/chain2").await;
    assert_eq!(lines(&trace), ["pl/b1", "pl/c"], "begins at start; a disabled child is skipped");
    assert_eq!(r.statuses("pl/chain2", &run_id).await, ["starting", "running", "complete"]);
    let result = last_info(&r.events("pl/chain2", &run_id).await);
    assert_eq!(result["jobs"], json!(["pl/off", "pl/c"]), "a disabled child counts as completed");
    assert_eq!(result["failed_jobs"], json!(["pl/b1"]));
    assert_eq!(r.statuses("pl/off", &run_id).await, ["skipped"]);

    r.put_job(pipeline("pl/gone", "chain", json!("pl/a, pl/never-put"), json!({}))).await;
    let run_id = run(&r, "pl/gone").await;
    let failed = last_info(&r.events("pl/gone", &run_id).await);
    assert_eq!(failed["error"], "pl/never-put: No such job", "as the original words it");
    assert_eq!(failed["error_data"]["error"], "Job pl/never-put failed: No such job");
    assert_eq!(failed["error_data"]["failed_jobs"], json!(["pl/never-put"]));
    r.put_job(pipeline("pl/bad-start", "chain", json!("pl/a"), json!({"start": "pl/zzz"}))).await;
    let run_id = run(&r, "pl/bad-start").await;
    assert_eq!(
        last_info(&r.events("pl/bad-start", &run_id).await)["error"],
        "Requested start job pl/zzz is not present in the chain"
    );
    r.put_job(pipeline("pl/other-worker", "chain", json!("pl/elsewhere"), json!({}))).await;
    let mut elsewhere = child("pl/elsewhere", &trace, "x", "true");
    elsewhere["worker"] = json!("other");
    r.put_job(elsewhere).await;
    let run_id = run(&r, "pl/other-worker").await;
    assert_eq!(
        last_info(&r.events("pl/other-worker", &run_id).await)["error"],
        "Job pl/elsewhere: Worker mismatch: Expected core but got other"
    );
}

#[tokio::test]
async fn a_dag_runs_each_child_after_its_predecessors_and_a_wave_at_once() {
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    for id in ["a", "b", "c", "d"] {
        let stamp = "$(date +%s.%N)";
        let script =
            format!("echo start {id} {stamp} >> {t}; sleep 1; echo end {id} {stamp} >> {t}", t = trace.display());
        r.put_job(json!({"job_id": format!("dg/{id}"), "type": "cmd", "worker": "core", "enabled": true,
            "payload": "/bin/sh -c", "parameters": {"args": [script]}}))
            .await;
    }
    r.put_job(pipeline(
        "dg/dag",
        "dag",
        json!({"d": ["b", "c"], "b": "a", "c": "a"}),
        json!({"job_prefix": "dg/", "workers": 2}),
    ))
    .await;
    let run_id = run(&r, "dg/dag").await;
    let mut at = std::collections::BTreeMap::new();
    for line in lines(&trace) {
        let parts: Vec<&str> = line.split(' ').collect();
        at.insert(format!("{} {}", parts[0], parts[1]), parts[2].parse::<f64>().unwrap());
    }
    let t = |k: &str| at[k];
    assert!(t("end a") <= t("start b") && t("end a") <= t("start c"), "b and c wait for a: {at:?}");
    assert!(t("start b") < t("end c") && t("start c") < t("end b"), "b and c run at once: {at:?}");
    assert!(t("end b") <= t("start d") && t("end c") <= t("start d"), "d waits for b and c: {at:?}");
    let result = last_info(&r.events("dg/dag", &run_id).await);
    assert_eq!(result["exit_status"], 0, "{result}");
    assert_eq!(result["jobs"].as_array().unwrap().len(), 4);

    r.put_job(pipeline("dg/one-at-a-time", "dag", json!({"dg/b": null, "dg/c": null}), json!({"workers": 1}))).await;
    std::fs::remove_file(&trace).unwrap();
    run(&r, "dg/one-at-a-time").await;
    let order: Vec<String> = lines(&trace).iter().map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(order, ["start b", "end b", "start c", "end c"], "one worker: one child at a time");
}

#[tokio::test]
async fn a_dag_with_a_cycle_is_refused_when_put_and_a_failure_stops_the_next_wave() {
    let r = TestRealm::up("pl").await;
    let cyclic = pipeline("dg/cycle", "dag", json!({"a": "b", "b": "a"}), json!({}));
    let error = shared::model::JobSpec::from_value(&cyclic).unwrap().validate(&Default::default()).unwrap_err();
    assert!(error.to_string().contains("Jobs are in a cycle: a, b"), "{error}");
    let trace = trace_file();
    r.put_job(child("dg/x", &trace, "x", "exit 2")).await;
    r.put_job(child("dg/y", &trace, "y", "true")).await;
    r.put_job(child("dg/z", &trace, "z", "true")).await;
    r.put_job(pipeline("dg/stops", "dag", json!({"dg/z": ["dg/x", "dg/y"]}), json!({}))).await;
    let run_id = run(&r, "dg/stops").await;
    let mut seen = lines(&trace);
    seen.sort();
    assert_eq!(seen, ["x", "y"], "the wave finishes; the next one never starts");
    let failed = last_info(&r.events("dg/stops", &run_id).await);
    assert_eq!(failed["error"], "Job dg/x: Failed with exit status 2");
    assert_eq!(failed["error_data"]["failed_jobs"], json!(["dg/x"]));

    r.put_job(pipeline("dg/allowed", "dag", json!({"dg/z": ["dg/x", "dg/y"]}), json!({"can_fail": ["dg/x"]}))).await;
    let run_id = run(&r, "dg/allowed").await;
    let result = last_info(&r.events("dg/allowed", &run_id).await);
    assert_eq!((result["exit_status"].clone(), result["failed_jobs"].clone()), (json!(0), json!(["dg/x"])));
    assert_eq!(
        r.statuses("dg/z", &run_id).await,
        ["starting", "running", "complete"],
        "dependants of an allowed failure run"
    );
}

#[tokio::test]
async fn foreach_runs_its_child_per_value_set_from_every_generator() {
    use shared::ports::BlobStore;
    let r = TestRealm::up("fe").await;
    let lite = r.put_sql_connections().await;
    let trace = trace_file();
    r.put_job(child("fe/each", &trace, "{{ globals.lava.foreach_index }} {{ globals.x }} {{ globals.y }} {{ globals.s3obj.Key if globals.s3obj else '' }}", "true"))
        .await;
    let bucket = r.names.local_bucket();
    r.blobs
        .put_object(
            &bucket,
            "fe/values.csv",
            b"x,y\r\n1,one\r\n2,\"t,wo\"\r\n".to_vec(),
            &shared::ports::Encryption::Aes256,
        )
        .await
        .unwrap();
    r.blobs.put_object(&bucket, "fe/in/a.csv", b"a".to_vec(), &shared::ports::Encryption::Aes256).await.unwrap();
    r.blobs.put_object(&bucket, "fe/in/b.txt", b"b".to_vec(), &shared::ports::Encryption::Aes256).await.unwrap();
    let jsonl = std::env::temp_dir().join(lava_tests::unique("lava-values-"));
    std::fs::write(&jsonl, "{\"x\": 10, \"y\": [1]}\n\n{\"x\": 11}\n").unwrap();
    let conn = sqlx_free_sqlite(&lite);
    let cases = [
        (json!({"type": "inline", "values": [{"x": "a"}, {"x": "b", "y": 2}]}), vec!["0 a  ", "1 b 2 "]),
        (json!({"type": "range", "start": 5, "stop": 0, "step": -2, "name": "x"}), vec!["0 5  ", "1 3  ", "2 1  "]),
        (
            json!({"type": "csv", "filename": format!("s3://{{{{ realm.s3_temp.split('/')[2] }}}}/fe/values.csv")}),
            vec!["0 1 one ", "1 2 t,wo "],
        ),
        (json!({"type": "jsonl", "filename": jsonl.display().to_string()}), vec!["0 10 [1] ", "1 11  "]),
        (json!({"type": "s3list", "bucket": bucket, "prefix": "fe/in", "glob": "*.csv"}), vec!["0   fe/in/a.csv"]),
        (json!({"type": "query", "conn_id": "lite", "query": conn}), vec!["0 7 seven ", "1 8 eight "]),
        (
            json!({"type": "query", "conn_id": "pg", "query": "SELECT n AS x, 'p' || n AS y FROM generate_series(1, 2) AS n"}),
            vec!["0 1 p1 ", "1 2 p2 "],
        ),
    ];
    for (n, (generator, expected)) in cases.iter().enumerate() {
        let id = format!("fe/loop{n}");
        r.put_job(pipeline(&id, "foreach", json!("fe/each"), json!({"foreach": generator}))).await;
        let _ = std::fs::remove_file(&trace);
        let run_id = run(&r, &id).await;
        let result = last_info(&r.events(&id, &run_id).await);
        assert_eq!(lines(&trace), *expected, "{generator}: {result}");
        assert_eq!(result["exit_status"], 0, "{generator}: {result}");
        assert_eq!(result["foreach_len"], expected.len());
        assert_eq!(result["jobs_completed"], expected.len());
        assert_eq!(result["limit"], 10);
        let child_events = r.statuses("fe/each", &run_id).await;
        assert_eq!(child_events.iter().filter(|s| *s == "complete").count(), expected.len(), "{child_events:?}");
    }

    r.put_job(pipeline(
        "fe/too-many",
        "foreach",
        json!("fe/each"),
        json!({"limit": 2, "foreach": {"type": "range", "stop": 3}}),
    ))
    .await;
    let run_id = run(&r, "fe/too-many").await;
    assert_eq!(last_info(&r.events("fe/too-many", &run_id).await)["error"], "foreach value list exceeds limit of 2");
    r.put_job(pipeline(
        "fe/over",
        "foreach",
        json!("fe/each"),
        json!({"limit": 26, "foreach": {"type": "range", "stop": 3}}),
    ))
    .await;
    let run_id = run(&r, "fe/over").await;
    assert_eq!(
        last_info(&r.events("fe/over", &run_id).await)["error"],
        "foreach limit of 26 exceeds realm limit of 25"
    );
    r.put_job(pipeline(
        "fe/lava",
        "foreach",
        json!("fe/each"),
        json!({"foreach": {"type": "inline", "values": [{"lava_x": 1}]}}),
    ))
    .await;
    let run_id = run(&r, "fe/lava").await;
    assert_eq!(
        last_info(&r.events("fe/lava", &run_id).await)["error"],
        "foreach field names may not start with \"lava\""
    );

    r.put_job(child("fe/odd", &trace, "{{ globals.x }}", "test $(( {{ globals.x }} % 2 )) -eq 0")).await;
    r.put_job(pipeline(
        "fe/fails",
        "foreach",
        json!("fe/odd"),
        json!({"foreach": {"type": "range", "stop": 4, "name": "x"}}),
    ))
    .await;
    let run_id = run(&r, "fe/fails").await;
    let failed = last_info(&r.events("fe/fails", &run_id).await);
    assert_eq!(failed["error"], "Job fe/odd: Index 1: Failed with exit status 1");
    assert_eq!(failed["error_data"]["failed_indexes"], json!([1]));
    r.put_job(pipeline(
        "fe/goes-on",
        "foreach",
        json!("fe/odd"),
        json!({"can_fail": true, "foreach": {"type": "range", "stop": 4, "name": "x"}}),
    ))
    .await;
    let run_id = run(&r, "fe/goes-on").await;
    let result = last_info(&r.events("fe/goes-on", &run_id).await);
    assert_eq!((result["failed_indexes"].clone(), result["jobs_completed"].clone()), (json!([1, 3]), json!(2)));
}

/// Makes a table in the SQLite file and returns a query over it.
fn sqlx_free_sqlite(path: &std::path::Path) -> String {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t (x integer, y text)'); \
             c.executemany('insert into t values (?, ?)', [(7, 'seven'), (8, 'eight')]); c.commit()",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
    "SELECT x, y FROM t ORDER BY x".into()
}

#[tokio::test]
async fn a_dispatch_job_sends_runs_of_its_jobs_with_its_globals() {
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    r.put_job(child("ds/a", &trace, "{{ job.job_id }} parent={{ globals.lava.parent_job_id }} master={{ globals.lava.master_job_id }} p={{ vars.p }} g={{ globals.g }}", "true"))
        .await;
    let mut dispatcher = pipeline(
        "ds/fan",
        "dispatch",
        json!("a"),
        json!({"job_prefix": "ds/", "parameters": {"vars": {"p": "{{ job.job_id }}"}}}),
    );
    dispatcher["globals"] = json!({"g": "green"});
    r.put_job(dispatcher).await;
    let run_id = run(&r, "ds/fan").await;
    let result = last_info(&r.events("ds/fan", &run_id).await);
    assert_eq!((result["exit_status"].clone(), result["jobs"].clone()), (json!(0), json!(["ds/a"])));
    assert_eq!(
        lines(&trace),
        ["ds/a parent=ds/fan master=ds/fan p=ds/fan g=green"],
        "a new run, with the globals passed on"
    );

    r.put_job(pipeline("ds/self", "dispatch", json!(["ds/a", "ds/self"]), json!({}))).await;
    let run_id = run(&r, "ds/self").await;
    let failed = last_info(&r.events("ds/self", &run_id).await);
    assert_eq!(failed["error"], "ds/self: Circular dispatch not permitted");
    assert_eq!(failed["error_data"]["jobs"], json!(["ds/a", "ds/self"]));
}

/// What an earlier attempt of `job_id`'s run left behind: its worker died (its lease ran out a
/// minute ago) after it had ended step 0 (`child`). Returns the state store holding the record.
async fn earlier_attempt_ended_first_step(
    r: &TestRealm,
    job_id: &str,
    run_id: &str,
    child: &str,
) -> shared::state::StateStore {
    let now = jiff::Timestamp::now().as_second();
    let dead = shared::model::LeaseRequest {
        job_id: job_id.into(),
        run_id: run_id.into(),
        owner: "gone:1:x".into(),
        now,
        until: now - 60,
        ttl: None,
    };
    r.ports.events.claim(&r.names.events_table, &dead).await.unwrap();
    let state = shared::state::StateStore::new(
        r.ports.tables.clone(),
        r.ports.keys.clone(),
        r.names.clone(),
        Default::default(),
    );
    let record = shared::state::NewState {
        state_id: format!("lava.run/{run_id}|0"),
        value: json!({"job_id": child, "status": "done", "error": null}),
        state_type: shared::model::StateType::Json,
        ttl_seconds: Some(3600.0),
        publisher: None,
        kms_key: None,
    };
    state.put_reserved(&record).await.unwrap();
    state
}

#[tokio::test]
async fn a_pipeline_taken_over_skips_the_children_an_earlier_attempt_completed() {
    use shared::ports::WorkQueue;
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    for id in ["rs/a", "rs/b", "rs/c"] {
        r.put_job(child(id, &trace, "{{ job.job_id }}", "true")).await;
    }
    r.put_job(pipeline("rs/chain", "chain", json!("rs/a, rs/b, rs/c"), json!({}))).await;
    let run_id = r.dispatch("rs/chain").await;
    // An earlier attempt completed rs/a, then its worker died.
    let state = earlier_attempt_ended_first_step(&r, "rs/chain", &run_id, "rs/a").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let message = r.queues.receive(&queue, 1, 1).await.unwrap().pop().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(matches!(worker.handle(&message, rx).await, shared::worker::Handled::Ran(_)));
    assert_eq!(lines(&trace), ["rs/b", "rs/c"], "rs/a is not run again");
    assert_eq!(r.statuses("rs/chain", &run_id).await, ["starting", "running", "logging", "complete"]);
    let item = r.events("rs/chain", &run_id).await;
    assert_eq!(item["log"][2]["info"], "Resumed after an earlier attempt: 1 already ended and not run again: rs/a");
    assert_eq!(last_info(&item)["jobs"], json!(["rs/a", "rs/b", "rs/c"]));
    // The children's ends are recorded for a later takeover.
    let (_, value) = state.get(&format!("lava.run/{run_id}|2")).await.unwrap().expect("rs/c's record");
    assert_eq!(value["status"], "done");
}

#[tokio::test]
async fn shutdown_stops_a_running_pipeline_and_releases_it() {
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    r.put_job(child("sd/slow", &trace, "slow", "sleep 30")).await;
    r.put_job(pipeline("sd/chain", "chain", json!("sd/slow"), json!({}))).await;
    let run_id = r.dispatch("sd/chain").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_millis(300), false).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.clone().run(rx));
    crate::worker::wait_until_running(&r, "sd/slow", &run_id).await;
    let started = std::time::Instant::now();
    tx.send(true).unwrap();
    running.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the child was stopped after the grace period");
    assert_eq!(r.statuses("sd/slow", &run_id).await, ["starting", "running", "retrying"]);
    assert_eq!(r.statuses("sd/chain", &run_id).await, ["starting", "running", "retrying"]);
    let info = last_info(&r.events("sd/chain", &run_id).await);
    assert!(info["error"].as_str().unwrap().contains("released for another worker"), "{info}");
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    use shared::ports::WorkQueue;
    let again = r.queues.receive(&queue, 1, 2).await.unwrap();
    assert!(again.len() == 1 && again[0].body.contains(&run_id), "the pipeline's message is back for another worker");
}

#[tokio::test]
async fn a_dispatch_job_taken_over_does_not_send_again_what_an_earlier_attempt_sent() {
    use shared::ports::WorkQueue;
    let r = TestRealm::up("pl").await;
    let trace = trace_file();
    r.put_job(child("rd/x", &trace, "x", "true")).await;
    r.put_job(child("rd/y", &trace, "y", "true")).await;
    r.put_job(pipeline("rd/fan", "dispatch", json!(["rd/x", "rd/y"]), json!({}))).await;
    let run_id = r.dispatch("rd/fan").await;
    earlier_attempt_ended_first_step(&r, "rd/fan", &run_id, "rd/x").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let message = r.queues.receive(&queue, 1, 1).await.unwrap().pop().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(matches!(worker.handle(&message, rx).await, shared::worker::Handled::Ran(_)));
    let queued: Vec<Value> =
        r.queues.receive(&queue, 10, 1).await.unwrap().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["job_id"], "rd/y", "rd/x was sent by the earlier attempt");
    let item = r.events("rd/fan", &run_id).await;
    assert_eq!(item["log"][2]["info"], "Resumed after an earlier attempt: 1 already ended and not run again: rd/x");
}
