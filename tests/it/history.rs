//! Run history from the CLI (`lava events`, `lava run show`, `lava run logs`) against moto.

use clap::Parser;
use lava_tests::{TestRealm, emulator};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs a `lava` command against `realm` on the emulator, in this process.
pub(crate) async fn lava(realm: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["lava", "--endpoint-url", &emulator().endpoint_url, "--region", "us-east-1", "--realm", realm];
    all.extend_from_slice(args);
    // Boxed: a test awaits many commands, and each command future is large in a debug build.
    Box::pin(lava_cli::run(lava_cli::Cli::parse_from(all))).await
}

#[tokio::test]
async fn events_and_run_commands_show_what_happened_to_runs() {
    let r = TestRealm::up("hst").await;
    let realm = r.names.realm.clone();
    let echo = |id: &str, script: &str| {
        json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/sh -c",
            "parameters": {"args": [script]}})
    };
    r.put_job(echo("h/ok", "echo hello {{ job.run_id }}; echo careful >&2")).await;
    r.put_job(echo("h/bad", "echo broken >&2; exit 4")).await;
    let first = r.dispatch("h/ok").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx.clone()).await.unwrap();
    // The second run's events come a second later, so the newest-first order is visible.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = r.dispatch("h/ok").await;
    let bad = r.dispatch("h/bad").await;
    worker.clone().run(rx).await.unwrap();

    let listed: Vec<Value> = serde_json::from_str(&lava(&realm, &["events", "h/ok", "--json"]).await.unwrap()).unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    assert!(listed.iter().all(|e| e["status"] == "complete"));
    let table = lava(&realm, &["events", "h/ok", "-e", "1"]).await.unwrap();
    assert!(table.contains(&second) && !table.contains(&first), "{table}");
    let failed = lava(&realm, &["events", "h/bad", "--status", "failed"]).await.unwrap();
    assert!(failed.contains(&bad) && failed.contains("failed"), "{failed}");
    assert!(!lava(&realm, &["events", "h/ok", "--status", "failed"]).await.unwrap().contains(&first));
    let old = lava(&realm, &["events", "h/ok", "--until", "1h", "--json"]).await.unwrap();
    assert_eq!(serde_json::from_str::<Vec<Value>>(&old).unwrap().len(), 0, "nothing older than an hour");
    let bad_status = lava(&realm, &["events", "h/ok", "--status", "finished"]).await.unwrap_err();
    assert_eq!(bad_status.to_string(), "--status finished: not an event status");

    let log = lava(&realm, &["events", "h/ok", &first]).await.unwrap();
    for status in ["starting", "running", "complete"] {
        assert!(log.contains(status), "{log}");
    }
    let shown = lava(&realm, &["run", "show", &bad]).await.unwrap();
    assert!(shown.contains("h/bad") && shown.contains("Failed with exit status 4"), "{shown}");
    assert!(shown.contains(&format!("output: s3://{}/tmp/h/bad/{bad}/stderr", r.names.local_bucket())), "{shown}");
    let shown: Value = serde_json::from_str(&lava(&realm, &["run", "show", &bad, "--json"]).await.unwrap()).unwrap();
    let run = &shown.as_array().unwrap()[0];
    assert_eq!((run["job_id"].as_str(), run["run_id"].as_str()), (Some("h/bad"), Some(bad.as_str())), "{shown}");
    assert_eq!(run["status"], "failed", "{shown}");
    let since: Value =
        serde_json::from_str(&lava(&realm, &["events", "h/ok", "--since", "1h", "--json"]).await.unwrap()).unwrap();
    assert_eq!(since.as_array().unwrap().len(), 2, "both runs started within the hour");
    let logs = lava(&realm, &["run", "logs", &first]).await.unwrap();
    assert!(logs.contains(&format!("hello {first}")) && logs.contains("careful"), "{logs}");
    let as_json: Value = serde_json::from_str(&lava(&realm, &["run", "logs", &bad, "--json"]).await.unwrap()).unwrap();
    assert_eq!(as_json.as_object().unwrap().values().next().unwrap(), "broken\n");
    let missing = lava(&realm, &["run", "show", "00000000-0000-4000-8000-000000000000"]).await.unwrap_err();
    assert_eq!(missing.to_string(), "00000000-0000-4000-8000-000000000000: no such run");
}

/// A worker claims a run (its lease written) before the run's first event: until then the run's
/// item has no status, and the history shows no run rather than failing on it.
#[tokio::test]
async fn a_claimed_run_with_no_event_yet_is_not_shown() {
    use shared::ports::EventLog;
    let r = TestRealm::up("hcl").await;
    let realm = r.names.realm.clone();
    let run_id = "00000000-0000-4000-8000-00000000c1a1";
    let now = jiff::Timestamp::now().as_second();
    let request = shared::model::LeaseRequest {
        job_id: "h/claimed".into(),
        run_id: run_id.into(),
        owner: "test:1:claim".into(),
        now,
        until: now + 60,
        ttl: None,
    };
    let claim = r.tables.claim(&r.names.events_table, &request).await.unwrap();
    assert!(matches!(claim, shared::model::Claim::Claimed { attempt: 1, .. }), "{claim:?}");
    let listed = lava(&realm, &["events", "h/claimed", "--json"]).await.unwrap();
    assert_eq!(serde_json::from_str::<Vec<Value>>(&listed).unwrap().len(), 0, "{listed}");
    let shown = lava(&realm, &["run", "show", run_id]).await.unwrap_err();
    assert_eq!(shown.to_string(), format!("{run_id}: no such run"));
}
