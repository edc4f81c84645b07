//! The run lifecycle with in-memory ports and real processes: event sequences as in the spec's
//! table, results, outputs and retries.

use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::watch;

use super::*;
use crate::fake::{FakeBlobs, FakeEventLog, FakeTables};

struct Harness {
    runner: JobRunner,
    events: Arc<FakeEventLog>,
    blobs: Arc<FakeBlobs>,
    actions: crate::fake::FakePorts,
    _dir: PathBuf,
}

fn harness(realm_extra: Value) -> Harness {
    let names = ResourceNames::for_realm("unit");
    let events = Arc::new(FakeEventLog::default());
    let blobs = Arc::new(FakeBlobs::default());
    let mut realm = json!({"realm": "unit", "s3_payloads": "s3://bkt/payloads", "s3_temp": "s3://bkt/tmp"});
    realm.as_object_mut().unwrap().extend(realm_extra.as_object().cloned().unwrap_or_default());
    let dir = std::env::temp_dir().join(format!("lava-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let fakes = crate::fake::FakePorts::for_realm(&names);
    let runner = JobRunner {
        realm: RealmEntry::from_value(&realm).unwrap(),
        worker: "core".into(),
        config: Config::default(),
        recorder: EventRecorder::new(events.clone(), &names.events_table, "core", 172_800, jiff::tz::TimeZone::UTC),
        state: crate::state::StateStore::new(
            Arc::new(FakeTables::for_realm(&names)),
            Arc::new(crate::fake::FakeKeys),
            names.clone(),
            Config::default(),
        ),
        blobs: blobs.clone(),
        actions: Arc::new(InProcessActions::new(Arc::new(crate::actions::services(
            RealmEntry::from_value(&realm).unwrap(),
            names.clone(),
            Config::default(),
            &fakes.ports(),
        )))),
        names,
        renderer: Renderer::default(),
        run_root: dir.clone(),
        dev: false,
        containers: None,
        tasks: fakes.tasks.clone(),
        catalog: crate::catalog::Catalog::new(fakes.tables.clone(), ResourceNames::for_realm("unit")),
        queues: fakes.queues.clone(),
        metrics: fakes.metrics.clone(),
        connections: crate::connections::Connections::new(
            crate::catalog::Catalog::new(fakes.tables.clone(), ResourceNames::for_realm("unit")),
            fakes.secrets.clone(),
            Config::default(),
        ),
    };
    Harness { runner, events, blobs, actions: fakes, _dir: dir }
}

fn message(job_id: &str, ts_dispatch: &str) -> WorkerMessage {
    WorkerMessage {
        realm: "unit".into(),
        worker: "core".into(),
        job_id: job_id.into(),
        run_id: uuid::Uuid::new_v4().to_string(),
        ts_dispatch: ts_dispatch.into(),
        parameters: None,
        globals: None,
    }
}

fn now() -> String {
    format_timestamp(&jiff::Zoned::now())
}

fn job(extra: Value) -> JobSpec {
    let mut v =
        json!({"job_id": "demo/j", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "owner": "o"});
    v.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
    JobSpec::from_value(&v).unwrap()
}

async fn run(h: &Harness, spec: &JobSpec, m: &WorkerMessage) -> (RunOutcome, Vec<&'static str>, Vec<Value>) {
    let (_tx, rx) = watch::channel(None);
    let outcome = h.runner.run(m, spec, rx).await.unwrap();
    let entries = h.events.entries(&m.job_id, &m.run_id);
    let statuses = entries.iter().map(|e| e.status.as_str()).collect();
    let infos = entries.iter().map(|e| e.info.clone()).collect();
    (outcome, statuses, infos)
}

#[tokio::test]
async fn success_uploads_output_and_records_the_result() {
    let h = harness(json!({"s3_key": "alias/lava-unit-user"}));
    let spec =
        job(json!({"payload": "/bin/sh -c", "parameters": {"args": ["echo hello {{ job.job_id }}; echo oops >&2"]}}));
    let m = message("demo/j", &now());
    let (outcome, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "complete"]);
    assert_eq!(infos[1], json!("Iteration 1"));
    let prefix = format!("tmp/demo/j/{}", m.run_id);
    let expected = json!({"exit_status": 0, "output": [{"payload": "/bin/sh -c", "exit_status": 0,
        "stdout": format!("s3://bkt/{prefix}/stdout"), "stderr": format!("s3://bkt/{prefix}/stderr")}]});
    // As the original records it: `error` set to null where the job's result has none.
    let mut with_error = expected.clone();
    with_error["error"] = Value::Null;
    assert_eq!(infos[2], with_error);
    assert_eq!(outcome, RunOutcome::Succeeded(with_error));
    assert_eq!(h.blobs.get_object("bkt", &format!("{prefix}/stdout")).await.unwrap(), b"hello demo/j\n");
    assert_eq!(
        h.blobs.encryption("bkt", &format!("{prefix}/stdout")),
        Some(crate::ports::Encryption::Kms("alias/lava-unit-user".into()))
    );
}

#[tokio::test]
async fn the_stderr_excerpt_is_its_head_or_with_a_negative_size_its_tail() {
    // A megabyte of stderr: only the excerpt's bytes are read back.
    let script = "{ printf 'first line '; head -c 1048576 /dev/zero | tr '\\0' x; printf ' last line'; } >&2; exit 2";
    let spec = job(json!({"payload": "/bin/sh -c", "parameters": {"args": [script]}}));
    for (size, expected) in [("10", "first line"), ("-9", "last line")] {
        let mut h = harness(json!({}));
        h.runner.config = Config::new([("LAVA_STDERR_SIZE".to_string(), size.to_string())], None);
        let m = message("demo/j", &now());
        let (_, statuses, infos) = run(&h, &spec, &m).await;
        assert_eq!(statuses, ["starting", "running", "failed"]);
        assert_eq!(infos[2]["error_data"]["error"], expected, "STDERR_SIZE {size}");
    }
}

#[tokio::test]
async fn failure_then_retry_then_success() {
    let h = harness(json!({}));
    let spec = job(
        json!({"payload": "/bin/sh -c", "parameters": {"args": ["echo failing >&2; test {{ globals.lava.iteration }} -gt 1"]},
                          "iteration_limit": 3, "on_retry": [{"action": "log", "message": "retry: {{ result.error }}"}]}),
    );
    let m = message("demo/j", &now());
    let (outcome, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "retrying", "running", "complete"]);
    assert_eq!(infos[2]["error"], "Failed with exit status 1");
    assert_eq!(infos[2]["error_data"]["error"], "failing");
    assert_eq!(infos[2]["error_data"]["exit_status"], 1);
    assert!(matches!(outcome, RunOutcome::Succeeded(_)));
}

#[tokio::test]
async fn every_attempt_failing_ends_failed() {
    let h = harness(json!({}));
    let spec = job(json!({"payload": "false", "iteration_limit": 3}));
    let m = message("demo/j", &now());
    let (outcome, statuses, _) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "retrying", "running", "retrying", "running", "failed"]);
    let RunOutcome::Failed(result) = outcome else { panic!("failed") };
    assert_eq!(result["error"], "Failed with exit status 1");
}

#[tokio::test]
async fn timeouts_report_status_28() {
    let h = harness(json!({}));
    let spec = job(json!({"payload": "sleep 10", "parameters": {"timeout": "0.3s"}}));
    let m = message("demo/j", &now());
    let (_, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(infos[2]["error"], "Timed out after 0.3 seconds");
    assert_eq!(infos[2]["error_data"]["exit_status"], 28);
}

#[tokio::test]
async fn disabled_old_unknown_and_limits() {
    let h = harness(json!({}));
    let (_, s, i) = run(&h, &job(json!({"enabled": false})), &message("demo/j", &now())).await;
    assert_eq!((s, i[0].clone()), (vec!["skipped"], json!("Job not enabled (static)")));

    let (_, s, i) = run(&h, &job(json!({"enabled": "{{ 1 == 2 }}"})), &message("demo/j", &now())).await;
    assert_eq!(s, ["starting", "skipped"]);
    assert_eq!(i[1], json!("Job not enabled (enabled=\"False\")"));

    let (_, s, i) =
        run(&h, &job(json!({"max_run_delay": "10m"})), &message("demo/j", "2020-01-01T00:00:00+00:00")).await;
    assert_eq!((s, i[1].clone()), (vec!["starting", "rejected"], json!("dispatch is more than 10m old")));

    let (_, s, i) = run(&h, &job(json!({"iteration_limit": 11})), &message("demo/j", &now())).await;
    assert_eq!((s, i[1].clone()), (vec!["starting", "rejected"], json!("iteration_limit must be <= 10")));

    let (outcome, s, i) = run(&h, &job(json!({"type": "no_such_type"})), &message("demo/j", &now())).await;
    assert_eq!((s, i[1].clone()), (vec!["starting", "failed"], json!("no_such_type: Unknown job type")));
    assert!(matches!(outcome, RunOutcome::Failed(_)));
}

#[tokio::test]
async fn a_type_the_worker_does_not_run_fails_and_runs_its_on_fail_actions() {
    let h = harness(json!({}));
    let spec = job(
        json!({"type": "sharepoint_get_doc", "on_fail": [{"action": "sns", "topic": "arn:alert", "message": "{{ result.error }}"}]}),
    );
    let (outcome, s, i) = run(&h, &spec, &message("demo/j", &now())).await;
    let refused = "sharepoint_get_doc: SharePoint is not supported by this lava (no SharePoint server can run where it is built and tested)";
    assert_eq!((s, i[1].clone()), (vec!["starting", "failed"], json!(refused)));
    assert!(matches!(outcome, RunOutcome::Failed(_)));
    let published: Vec<(String, String)> =
        h.actions.notices.published.lock().unwrap().iter().map(|(t, _, m)| (t.clone(), m.clone())).collect();
    assert_eq!(published, [("arn:alert".to_string(), refused.to_string())]);

    let spec = job(json!({"type": "not_a_type", "on_fail": [{"action": "log"}]}));
    let (_, s, i) = run(&h, &spec, &message("demo/j", &now())).await;
    assert_eq!(s, ["starting", "failed", "action_failed"], "the on_fail list ran and its failure is recorded");
    assert_eq!(i[1], json!("not_a_type: Unknown job type"));
}

/// The statuses of each write a run made, in order.
fn writes(h: &Harness, m: &WorkerMessage) -> Vec<Vec<&'static str>> {
    h.events.run(&m.job_id, &m.run_id).iter().map(|u| u.entries.iter().map(|e| e.status.as_str()).collect()).collect()
}

#[tokio::test]
async fn starting_is_written_with_the_next_event_unless_state_reads_come_first() {
    let h = harness(json!({}));
    let m = message("demo/j", &now());
    run(&h, &job(json!({})), &m).await;
    assert_eq!(writes(&h, &m), [vec!["starting", "running"], vec!["complete"]]);
    let log = h.events.entries(&m.job_id, &m.run_id);
    assert_eq!(
        (log[0].info.clone(), log[1].info.clone()),
        (Value::Null, json!("Iteration 1")),
        "each event keeps its own entry"
    );

    let m = message("demo/j", &now());
    run(&h, &job(json!({"state": {"last": "never"}})), &m).await;
    assert_eq!(
        writes(&h, &m),
        [vec!["starting"], vec!["running"], vec!["complete"]],
        "starting goes out before the state reads"
    );

    // A run that stops with an error after `starting` (its run directory is already there)
    // still records `starting`, as the original does.
    let m = message("demo/j", &now());
    std::fs::create_dir_all(h.runner.run_root.join(&m.run_id)).unwrap();
    let (_tx, rx) = watch::channel(None);
    let error = h.runner.run(&m, &job(json!({})), rx).await.unwrap_err();
    assert!(error.to_string().contains("possible dispatch overlap"), "{error}");
    assert_eq!(writes(&h, &m), [vec!["starting"]]);
}

#[tokio::test]
async fn environment_seen_by_the_job() {
    let h = harness(json!({"s3_key": "alias/k"}));
    let spec = job(json!({"payload": "/bin/sh -c",
        "parameters": {"args": ["env | grep -E '^(LAVA_|TMPDIR|GREETING)' | sort; test -d \"$TMPDIR\" && case \"$TMPDIR\" in \"$PWD\"/.lava.*) echo tmp-in-run-dir;; esac"],
                       "env": {"GREETING": "hi {{ globals.who }}"}},
        "globals": {"who": "there"}}));
    let m = message("demo/j", &now());
    let (_, statuses, _) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "complete"]);
    let out = String::from_utf8(h.blobs.get_object("bkt", &format!("tmp/demo/j/{}/stdout", m.run_id)).await.unwrap())
        .unwrap();
    for line in [
        "GREETING=hi there".to_string(),
        "LAVA_JOB_ID=demo/j".into(),
        format!("LAVA_RUN_ID={}", m.run_id),
        "LAVA_REALM=unit".into(),
        "LAVA_WORKER=core".into(),
        "LAVA_OWNER=o".into(),
        "LAVA_S3_KEY=alias/k".into(),
        format!("LAVA_S3_TMP=s3://bkt/tmp/demo/j/{}", m.run_id),
        "tmp-in-run-dir".into(),
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing from:\n{out}");
    }
}

#[tokio::test]
async fn jinja_with_spaces_in_the_command_line_and_no_injection() {
    let h = harness(json!({}));
    let spec = job(
        json!({"payload": "/bin/echo {{ globals.words }} {{ job.job_id }}", "globals": {"words": "a b; rm -rf /"}}),
    );
    let m = message("demo/j", &now());
    let (_, statuses, _) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "complete"]);
    let out = h.blobs.get_object("bkt", &format!("tmp/demo/j/{}/stdout", m.run_id)).await.unwrap();
    assert_eq!(out, b"a b; rm -rf / demo/j\n", "a rendered value is one argument, never words for a shell");
}

#[tokio::test]
async fn exe_payloads_come_from_s3_and_stop_at_the_first_failure() {
    let h = harness(json!({}));
    h.blobs.insert("bkt", "payloads/demo/x/1.sh", b"#!/bin/sh\necho one \"$@\"\n");
    h.blobs.insert("bkt", "payloads/demo/x/2.sh", b"#!/bin/sh\necho two >&2; exit 4\n");
    h.blobs.insert("bkt", "payloads/demo/x/3.sh", b"#!/bin/sh\necho three\n");
    h.blobs.insert("bkt", "payloads/demo/dos.sh", b"#!/bin/sh\r\necho dos\r\n");
    let spec = job(json!({"type": "exe", "payload": "demo/x/ --flag", "parameters": {"args": ["{{ job.job_id }}"]}}));
    let m = message("demo/j", &now());
    let (_, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    let data = &infos[2]["error_data"];
    assert_eq!(infos[2]["error"], "Failed with exit status 4");
    assert_eq!(data["output"].as_array().unwrap().len(), 2, "3.sh never runs");
    assert_eq!(data["output"][0]["payload"], "1.sh");
    assert_eq!(data["error"], "two");
    let out = h.blobs.get_object("bkt", &format!("tmp/demo/j/{}/1.sh.stdout", m.run_id)).await.unwrap();
    assert_eq!(out, b"one --flag demo/j\n");

    let dos = job(json!({"type": "exe", "payload": "demo/dos.sh"}));
    let m = message("demo/j", &now());
    let (_, _, infos) = run(&h, &dos, &m).await;
    assert!(infos[2]["error"].as_str().unwrap().contains("DOS (CRLF) line endings"), "{}", infos[2]);
}

/// Builds an archive of `files` (name, content, mode) with the system's tar or Python's zipfile.
fn archive(kind: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("lava-pkg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join("src").join(name), content).unwrap();
    }
    let out = dir.join(format!("out.{kind}"));
    let status = if kind == "zip" {
        std::process::Command::new("python3")
            .args(["-c", "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1], 'w')\nfor root, _, names in os.walk(sys.argv[2]):\n    for n in names:\n        p = os.path.join(root, n)\n        z.write(p, os.path.relpath(p, sys.argv[2]))\nz.close()"])
            .arg(&out)
            .arg(dir.join("src"))
            .status()
    } else {
        std::process::Command::new("tar").arg("-czf").arg(&out).arg("-C").arg(dir.join("src")).arg(".").status()
    };
    assert!(status.unwrap().success());
    std::fs::read(out).unwrap()
}

#[tokio::test]
async fn pkg_archives_are_unpacked_and_their_entry_point_run() {
    let h = harness(json!({}));
    let script = "#!/bin/sh\necho \"main $@ in $(basename $PWD | cut -d. -f1)\"; cat data.txt\n";
    h.blobs.insert(
        "bkt",
        "payloads/demo/report.zip",
        &archive("zip", &[("bin/main.sh", script), ("data.txt", "zipped")]),
    );
    h.blobs.insert(
        "bkt",
        "payloads/demo/report2.tar.gz",
        &archive("tar.gz", &[("bin/main.sh", script), ("data.txt", "tarred")]),
    );
    let spec = job(json!({"type": "pkg", "payload": ["demo/report.zip", "demo/report2.tar.gz"],
                          "parameters": {"command": "bin/main.sh --mode full", "args": ["{{ globals.run_date }}"]},
                          "globals": {"run_date": "2024-01-01"}}));
    let m = message("demo/j", &now());
    let (outcome, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{infos:?}");
    assert!(matches!(outcome, RunOutcome::Succeeded(_)));
    let zip_out = h.blobs.get_object("bkt", &format!("tmp/demo/j/{}/report.zip.stdout", m.run_id)).await.unwrap();
    assert_eq!(String::from_utf8(zip_out).unwrap(), "main --mode full 2024-01-01 in 1\nzipped");
    let tar_out = h.blobs.get_object("bkt", &format!("tmp/demo/j/{}/report2.tar.gz.stdout", m.run_id)).await.unwrap();
    assert_eq!(String::from_utf8(tar_out).unwrap(), "main --mode full 2024-01-01 in 2\ntarred");

    h.blobs.insert("bkt", "payloads/demo/bad.tgz", b"not an archive");
    let bad = job(json!({"type": "pkg", "payload": "demo/bad.tgz", "parameters": {"command": "run.sh"}}));
    let (_, _, infos) = run(&h, &bad, &message("demo/j", &now())).await;
    assert!(infos[2]["error"].as_str().unwrap().contains("Don't know how to unpack"), "{}", infos[2]);
}

#[tokio::test]
async fn action_lists_follow_the_outcome_and_the_job_overrides_the_realm() {
    let realm_lists = json!({
        "on_success": [{"action": "sns", "topic": "arn:realm", "message": "{{ job.job_id }} ok at {{ globals.lava.master_start.isoformat() }}"}],
        "on_fail": [{"action": "sns", "topic": "arn:realm-fail", "message": "{{ result.error }}"}]
    });
    let h = harness(realm_lists);
    let published =
        || h.actions.notices.published.lock().unwrap().iter().map(|(t, _, m)| format!("{t} {m}")).collect::<Vec<_>>();
    let m = message("demo/j", &now());
    run(&h, &job(json!({})), &m).await;
    let inherited = published();
    assert_eq!(inherited.len(), 1);
    assert!(
        inherited[0].starts_with("arn:realm demo/j ok at 20"),
        "realm list, with master_start a datetime: {inherited:?}"
    );
    run(&h, &job(json!({"on_success": []})), &message("demo/j", &now())).await;
    assert_eq!(published().len(), 1, "an empty job list disables the realm's");
    run(
        &h,
        &job(json!({"on_success": [{"action": "sns", "topic": "arn:job", "message": "mine"}]})),
        &message("demo/j", &now()),
    )
    .await;
    assert_eq!(published().last().unwrap(), "arn:job mine");
    let failing = job(
        json!({"payload": "false", "on_fail": [{"action": "sns", "topic": "arn:job-fail", "message": "x"}, {"action": "log"}]}),
    );
    let m = message("demo/j", &now());
    let (outcome, statuses, infos) = run(&h, &failing, &m).await;
    assert!(matches!(outcome, RunOutcome::Failed(_)), "an action failure leaves the outcome alone");
    assert_eq!(statuses, ["starting", "running", "failed", "action_failed"]);
    assert_eq!(infos[3], json!("on_fail action: log: Missing keys: message"));
    assert_eq!(published().last().unwrap(), "arn:job-fail x");
    let retried = job(
        json!({"payload": "false", "iteration_limit": 2, "iteration_delay": "0s", "on_retry": [{"action": "sns", "topic": "arn:retry", "message": "attempt {{ globals.lava.iteration }}"}]}),
    );
    run(&h, &retried, &message("demo/j", &now())).await;
    assert!(published().contains(&"arn:retry attempt 1".to_string()), "{:?}", published());
    assert!(
        published().contains(&"arn:realm-fail Failed with exit status 1".to_string()),
        "the last failure runs the realm's on_fail"
    );
}

#[tokio::test]
async fn docker_jobs_run_as_ecs_tasks_when_the_worker_says_so() {
    let mut h = harness(json!({}));
    let ecs = [
        ("LAVA_DOCKER_RUNNER", "ecs"),
        ("LAVA_DOCKER_ECS_CLUSTER", "jobs"),
        ("LAVA_DOCKER_ECS_POLL", "0.05"),
        ("LAVA_DOCKER_ECS_SUBNETS", "subnet-1, subnet-2"),
    ];
    h.runner.config = Config::new(ecs.iter().map(|(k, v)| (k.to_string(), v.to_string())), None);
    let spec = job(
        json!({"type": "docker", "payload": "repo/tool:2", "parameters": {"command": "run {{ vars.x }}", "vars": {"x": "now"}, "host_config": {"mem_limit": "1g"}}}),
    );
    h.actions.tasks.finish_with(3);
    h.actions.tasks.logs.lock().unwrap().extend(["first line".to_string(), "second line".to_string()]);
    let m = message("demo/j", &now());
    let (_, statuses, infos) = run(&h, &spec, &m).await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(infos[2]["error"], "Failed with exit status 3");
    assert_eq!(infos[2]["error_data"]["exit_status"], 3);
    assert_eq!(infos[2]["error_data"]["task"], "arn:fake:ecs:task/1");
    let definition = h.actions.tasks.definitions.lock().unwrap()[0].clone();
    assert_eq!(
        (definition.family.as_str(), definition.image.as_str(), definition.memory_mib),
        ("lava-unit-repo-tool-2", "repo/tool:2", 1024)
    );
    assert_eq!(definition.logs.map(|l| l.0), Some("/lava/unit/docker".to_string()));
    let logs_key = format!("tmp/demo/j/{}/logs", m.run_id);
    assert_eq!(infos[2]["error_data"]["output"], format!("s3://bkt/{logs_key}"));
    assert_eq!(h.blobs.get_object("bkt", &logs_key).await.unwrap(), b"first line\nsecond line\n");
    let request = h.actions.tasks.requests.lock().unwrap()[0].clone();
    assert_eq!(
        (request.cluster.as_str(), request.command.clone(), request.subnets.clone()),
        ("jobs", vec!["run".to_string(), "now".to_string()], vec!["subnet-1".to_string(), "subnet-2".to_string()])
    );
    assert!(request.environment.contains(&("LAVA_JOB_ID".to_string(), "demo/j".to_string())));
    h.actions.tasks.finish_with(0);
    let (_, statuses, infos) = run(&h, &spec, &message("demo/j", &now())).await;
    assert_eq!(statuses, ["starting", "running", "complete"]);
    assert_eq!((infos[2]["exit_status"].clone(), infos[2]["task"].clone()), (json!(0), json!("arn:fake:ecs:task/2")));
    // A task that outlives the time limit is stopped.
    *h.actions.tasks.exit_code.lock().unwrap() = None;
    let slow = job(json!({"type": "docker", "payload": "repo/tool:2", "parameters": {"timeout": "1s"}}));
    let (_, statuses, infos) = run(&h, &slow, &message("demo/j", &now())).await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(
        (infos[2]["error"].as_str(), infos[2]["error_data"]["exit_status"].as_i64()),
        (Some("Timed out after 1.0 seconds"), Some(28))
    );
    assert_eq!(
        *h.actions.tasks.stopped.lock().unwrap(),
        [("arn:fake:ecs:task/3".to_string(), "stopped by lava".to_string())]
    );
}

#[tokio::test]
async fn an_event_write_that_fails_for_a_while_is_tried_again_and_the_run_still_ends_recorded() {
    let h = harness(json!({}));
    let spec = job(json!({}));
    let m = message("demo/j", &now());
    h.events.fail_next_appends(2);
    let (outcome, statuses, _) = run(&h, &spec, &m).await;
    assert!(matches!(outcome, RunOutcome::Succeeded(_)), "{outcome:?}");
    assert_eq!(statuses, ["starting", "running", "complete"], "each event once, in order");
}

#[tokio::test]
async fn job_metrics_follow_cw_metrics_and_the_worker_default() {
    let h = harness(json!({}));
    let dispatched = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3);
    let ts = format_timestamp(&dispatched.to_zoned(jiff::tz::TimeZone::system()));
    // Without cw_metrics and with CW_METRICS_JOB off (the default): nothing is put.
    run(&h, &job(json!({})), &message("demo/j", &ts)).await;
    assert!(crate::fake::lock(&h.actions.metrics.put).is_empty());
    // cw_metrics on: RunDelay for the worker, RunTime and JobFailed for the job, stamped with
    // the dispatch time, in the Lava namespace.
    run(&h, &job(json!({"cw_metrics": true})), &message("demo/j", &ts)).await;
    run(&h, &job(json!({"cw_metrics": true, "payload": "false"})), &message("demo/j", &ts)).await;
    let put = crate::fake::lock(&h.actions.metrics.put).clone();
    assert!(put.iter().all(|(ns, _)| ns == "Lava"), "{put:?}");
    let delays = h.actions.metrics.values("RunDelay");
    assert_eq!(delays.len(), 2);
    assert_eq!(delays[0].dimensions, [("Realm", "unit".to_string()), ("Worker", "core".to_string())]);
    assert!((2.0..30.0).contains(&delays[0].value), "{:?}", delays[0]);
    assert_eq!(delays[0].unit, crate::ports::MetricUnit::Seconds);
    assert_eq!(delays[0].timestamp.map(|t| t.as_second()), Some(dispatched.as_second()));
    let failed: Vec<f64> = h.actions.metrics.values("JobFailed").iter().map(|d| d.value).collect();
    assert_eq!(failed, [0.0, 1.0]);
    let runtime = &h.actions.metrics.values("RunTime")[0];
    assert_eq!(runtime.dimensions, [("Realm", "unit".to_string()), ("Job", "demo/j".to_string())]);
    assert!((0.0..30.0).contains(&runtime.value), "{runtime:?}");
    // cw_metrics false wins over CW_METRICS_JOB.
    let mut h = h;
    h.runner.config = Config::new([("LAVA_CW_METRICS_JOB".to_string(), "true".to_string())], None);
    let before = crate::fake::lock(&h.actions.metrics.put).len();
    run(&h, &job(json!({"cw_metrics": false})), &message("demo/j", &ts)).await;
    assert_eq!(crate::fake::lock(&h.actions.metrics.put).len(), before);
    run(&h, &job(json!({})), &message("demo/j", &ts)).await;
    assert_eq!(crate::fake::lock(&h.actions.metrics.put).len(), before + 3);
}
