//! The operator tools against moto, on realms with known contents: `lava backup`/`restore`
//! (zip files local and in S3, a dump folder) leaving an empty realm's tables equal to the
//! source's, `dump` by glob, `check`, `conn-usage`, `ws`, `jinja`, `version`, the connection and
//! s3trigger listings, and `job activity` with its timeline opened in headless Chromium.

use crate::history::lava;
use lava_tests::{TestRealm, emulator, unique};
use serde_json::{Value, json};
use shared::ports::{Item, TableStore};
use std::time::Duration;

/// A realm with the given prefix and no spec entries.
async fn empty_realm(prefix: &str) -> String {
    let realm = unique(prefix);
    let none = std::env::temp_dir().join(unique("lava-no-samples-"));
    std::fs::create_dir_all(&none).unwrap();
    lava_cli::bring_up(&emulator().endpoint_url, &realm, Some("us-east-1".into()), &none).await.unwrap();
    realm
}

/// A table's items, sorted by key.
async fn items(r: &TestRealm, table: &str, key: &str) -> Vec<Item> {
    let mut items = r.tables.scan_items(table).await.unwrap();
    items.sort_by_key(|i| i[key].as_str().unwrap().to_string());
    items
}

async fn spec_tables(r: &TestRealm, names: &shared::names::ResourceNames) -> Vec<Vec<Item>> {
    vec![
        items(r, &names.jobs_table, "job_id").await,
        items(r, &names.connections_table, "conn_id").await,
        items(r, &names.s3triggers_table, "trigger_id").await,
    ]
}

async fn fill(r: &TestRealm) {
    r.put_job(json!({"job_id": "ops/load", "type": "sql", "worker": "core", "enabled": true, "payload": "load.sql",
        "owner": "etl", "description": "Nightly load", "parameters": {"conn_id": "redshift-prod"}, "x-lava-git-repo": "git@example:etl.git",
        "globals": {"day": "mon"}, "schedule": "0 2 * * *", "dispatcher": "main"}))
        .await;
    r.put_job(json!({"job_id": "ops/export", "type": "exe", "worker": "core", "enabled": true, "payload": "export.sh",
        "parameters": {"connections": {"db": "pg-main", "rs": "redshift-dev"}, "args": ["{{ globals.night }}"]}}))
        .await;
    for entry in [
        json!({"conn_id": "redshift-prod", "type": "redshift", "enabled": true, "host": "rs.example", "port": 5439, "user": "etl", "database": "dw", "password": "/lava/x/rs", "owner": "data", "description": "The warehouse"}),
        json!({"conn_id": "pg-main", "type": "postgres", "enabled": true, "host": "pg.example", "port": 5432, "user": "etl", "database": "app", "password": "/lava/x/pg"}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let trigger = json!({"trigger_id": "inbound", "bucket": "lava-in", "prefix": "drop/", "job_id": "ops/load", "enabled": true, "owner": "etl", "description": "Files in"});
    r.catalog.put_s3trigger(&shared::model::S3TriggerEntry::from_value(&trigger).unwrap()).await.unwrap();
}

#[tokio::test]
async fn a_backup_restored_into_an_empty_realm_leaves_its_tables_equal() {
    let r = TestRealm::up("bak").await;
    fill(&r).await;
    let source = spec_tables(&r, &r.names).await;
    assert!(source.iter().all(|t| !t.is_empty()));
    let dir = std::env::temp_dir().join(unique("lava-backup-"));
    std::fs::create_dir_all(&dir).unwrap();

    // A local zip, restored into an empty realm.
    let zip = dir.join("realm.zip");
    let said = lava(&r.names.realm, &["backup", zip.to_str().unwrap(), "--json"]).await.unwrap();
    let counts: Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        (
            counts["jobs"].as_u64(),
            counts["connections"].as_u64(),
            counts["s3triggers"].as_u64(),
            counts["realms"].as_u64()
        ),
        (Some(source[0].len() as u64), Some(2), Some(1), Some(1))
    );
    let empty = empty_realm("rst").await;
    let empty_names = shared::names::ResourceNames::for_realm(&empty);
    assert!(spec_tables(&r, &empty_names).await.iter().all(Vec::is_empty));
    let said = lava(&empty, &["restore", zip.to_str().unwrap()]).await.unwrap();
    assert!(said.contains("skipped: realm entry"), "another realm's entry is not written: {said}");
    assert_eq!(spec_tables(&r, &empty_names).await, source, "the restored tables equal the source's");

    // The same through S3, as YAML.
    let bucket = format!("lava-{}-backups", r.names.realm.replace('_', "-"));
    r.clients.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let key = format!("s3://{bucket}/nightly/realm.zip");
    lava(&r.names.realm, &["backup", &key, "--yaml"]).await.unwrap();
    let again = empty_realm("rs3").await;
    let again_names = shared::names::ResourceNames::for_realm(&again);
    lava(&again, &["restore", &key]).await.unwrap();
    assert_eq!(spec_tables(&r, &again_names).await, source);

    // Dump by glob into a folder, then restore the folder.
    let folder = dir.join("dump");
    let listed =
        lava(&r.names.realm, &["dump", "-t", "j", "-d", folder.join("jobs").to_str().unwrap(), "ops/*"]).await.unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(folder.join("jobs/ops.load.json").exists() && folder.join("jobs/ops.export.json").exists());
    let inverse = lava(
        &r.names.realm,
        &["dump", "-t", "jobs", "-d", dir.join("rest").to_str().unwrap(), "-n", "ops/*", "--json"],
    )
    .await
    .unwrap();
    let inverse: Value = serde_json::from_str(&inverse).unwrap();
    assert!(inverse.as_array().unwrap().iter().all(|e| !e["key"].as_str().unwrap().starts_with("ops/")));
    lava(
        &r.names.realm,
        &["dump", "-t", "conn", "-d", folder.join("connections").to_str().unwrap(), "--yaml", "PG-*", "-i"],
    )
    .await
    .unwrap();
    assert!(folder.join("connections/pg-main.yaml").exists());
    let third = empty_realm("rdf").await;
    let third_names = shared::names::ResourceNames::for_realm(&third);
    lava(&third, &["restore", folder.to_str().unwrap()]).await.unwrap();
    let restored = spec_tables(&r, &third_names).await;
    assert_eq!(
        restored[0],
        source[0].iter().filter(|i| i["job_id"].as_str().unwrap().starts_with("ops/")).cloned().collect::<Vec<_>>()
    );
    assert_eq!(restored[1], source[1].iter().filter(|i| i["conn_id"] == "pg-main").cloned().collect::<Vec<_>>());

    // A bad entry: every problem named, nothing written.
    std::fs::write(folder.join("jobs/broken.json"), r#"{"job_id": "ops/broken", "worker": "core"}"#).unwrap();
    let fourth = empty_realm("rbd").await;
    let refused = lava(&fourth, &["restore", folder.to_str().unwrap()]).await.unwrap_err().to_string();
    assert!(refused.contains("jobs/broken.json") && refused.contains("nothing written"), "{refused}");
    assert!(spec_tables(&r, &shared::names::ResourceNames::for_realm(&fourth)).await.iter().all(Vec::is_empty));
    // A realm that is not there: the error names the table.
    let missing = lava("nosuchrealm", &["dump", "-d", dir.join("x").to_str().unwrap()]).await.unwrap_err().to_string();
    assert!(missing.contains("lava.nosuchrealm.jobs does not exist"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn check_conn_usage_ws_jinja_version_and_the_listings() {
    let r = TestRealm::up("opc").await;
    let realm = r.names.realm.clone();
    fill(&r).await;

    let findings: Value = serde_json::from_str(&lava(&realm, &["check", "-c", "*", "--json"]).await.unwrap()).unwrap();
    let of = |check: &str| -> Vec<(String, String)> {
        findings
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| (f["id"].as_str().unwrap().into(), f["details"].as_str().unwrap_or_default().into()))
            .collect()
    };
    assert_eq!(of("conmeta"), [("pg-main".to_string(), "Missing: description, owner".to_string())]);
    assert!(of("jobconn").contains(&("ops/export".to_string(), "redshift-dev: No such connection".to_string())));
    assert!(of("jobjinja").contains(&("ops/export".to_string(), "Undeclared globals: night".to_string())));
    assert!(of("joborphan").iter().any(|(id, _)| id == "ops/load"), "no runs yet");
    assert!(!of("jobrepo").iter().any(|(id, _)| id == "ops/load"));
    assert_eq!(of("trigmeta"), []);
    assert_eq!(of("trigslash"), [("inbound".to_string(), "Prefix ending with / won't work".to_string())]);
    let table = lava(&realm, &["check", "-c", "conmeta", "-c", "trigmeta"]).await.unwrap();
    assert!(
        table.starts_with("\n# conmeta: Find connection specs with missing metadata (e.g. description, owner)\n\n")
            && table.contains("\n| pg-main |       | Missing: description, owner |\n")
            && !table.contains("trigmeta"),
        "{table}"
    );
    assert!(lava(&realm, &["check"]).await.unwrap().contains("joborphan"));

    assert_eq!(lava(&realm, &["conn-usage", "redshift*"]).await.unwrap(), "ops/export\nops/load");
    let used: Value =
        serde_json::from_str(&lava(&realm, &["conn-usage", "PG-*", "-i", "--json"]).await.unwrap()).unwrap();
    assert_eq!(used, json!([{"job_id": "ops/export", "connections": ["pg-main"]}]));

    // ws: the core fleet's queue, with its ECS service running two workers and six messages.
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    for i in 0..6 {
        use shared::ports::WorkQueue;
        r.queues
            .send(&queue, &shared::ports::OutgoingMessage { body: format!("{{\"n\": {i}}}"), ..Default::default() })
            .await
            .unwrap();
    }
    let fleet = format!("lava-{realm}-core");
    r.ecs_service(&fleet, 2).await;
    let rows: Value = serde_json::from_str(&lava(&realm, &["ws", "--json"]).await.unwrap()).unwrap();
    let core =
        rows.as_array().unwrap().iter().find(|row| row["worker"] == "core").unwrap_or_else(|| panic!("{rows:#}"));
    assert_eq!(
        (core["messages"].as_u64(), core["workers"].as_u64(), core["backlog"].as_f64()),
        (Some(6), Some(2), Some(3.0))
    );
    assert!(rows.as_array().unwrap().iter().all(|row| !row["queue"].as_str().unwrap().ends_with("-dlq")));
    let text = lava(&realm, &["ws", "-w", "co"]).await.unwrap();
    assert!(text.starts_with("QUEUE") && text.contains(&fleet), "{text}");

    // jinja: the worker's renderer, Python's printing and datetimes included.
    let context = std::env::temp_dir().join(format!("{}.yaml", unique("lava-ctx-")));
    std::fs::write(&context, "job:\n  job_id: a/b\nnums: [1, 2]\n").unwrap();
    let rendered = lava(
        &realm,
        &[
            "jinja",
            "-e",
            "{{ job.job_id }} {{ nums }} {{ day }} {{ (n + 1) }}",
            "-c",
            context.to_str().unwrap(),
            "-D",
            "day=mon",
            "-D",
            "n=41",
        ],
    )
    .await
    .unwrap();
    assert_eq!(rendered, "a/b [1, 2] mon 42");
    let bad = lava(&realm, &["jinja", "-e", "{% if %}"]).await.unwrap_err().to_string();
    assert!(bad.contains("does not render"), "{bad}");
    assert_eq!(
        lava(&realm, &["version", "--json"]).await.unwrap(),
        json!({"version": env!("CARGO_PKG_VERSION"), "name": "lava", "compatible_with": {"name": "lava", "version": "8.3.0"}})
            .to_string()
    );

    // The listings that used to answer "not supported".
    let connections = lava(&realm, &["connection", "list"]).await.unwrap();
    assert!(connections.contains("redshift-prod") && connections.contains("The warehouse"), "{connections}");
    let listed: Value = serde_json::from_str(&lava(&realm, &["s3trigger", "list", "--json"]).await.unwrap()).unwrap();
    assert_eq!(listed[0]["trigger_id"], "inbound");
    let one: Value = serde_json::from_str(&lava(&realm, &["s3trigger", "get", "inbound"]).await.unwrap()).unwrap();
    assert_eq!(one["prefix"], "drop/");
    let jobs: Value = serde_json::from_str(&lava(&realm, &["job", "list", "--json"]).await.unwrap()).unwrap();
    assert!(jobs.as_array().unwrap().iter().any(|j| j["job_id"] == "ops/load"));

    // --json on the older commands too.
    let next: Value =
        serde_json::from_str(&lava(&realm, &["schedule", "preview", "ops/load", "-n", "2", "--json"]).await.unwrap())
            .unwrap();
    assert_eq!((next[0]["job_id"].as_str(), next[0]["next"].as_array().map(Vec::len)), (Some("ops/load"), Some(2)));
    let sent: Value = serde_json::from_str(&lava(&realm, &["dispatch", "ops/load", "--json"]).await.unwrap()).unwrap();
    assert!(sent[0]["run_id"].as_str().is_some_and(|id| id.len() == 36), "{sent}");
    lava(&realm, &["state", "put", "ops.day", "-v", "mon"]).await.unwrap();
    let states: Value = serde_json::from_str(&lava(&realm, &["state", "list", "--json"]).await.unwrap()).unwrap();
    assert!(states.as_array().unwrap().iter().any(|s| s["state_id"] == "ops.day"), "{states}");
    assert_eq!(lava(&realm, &["state", "get", "ops.day", "--json"]).await.unwrap(), "\"mon\"");
    let spec = std::env::temp_dir().join(format!("{}.json", unique("lava-spec-")));
    std::fs::write(
        &spec,
        r#"{"job_id": "ops/x", "type": "cmd", "worker": "core", "payload": "true", "iteration_delay": "7m"}"#,
    )
    .unwrap();
    let refused = lava(&realm, &["job", "validate", spec.to_str().unwrap(), "--json"]).await.unwrap_err().to_string();
    let refused: Value = serde_json::from_str(&refused).unwrap();
    assert_eq!(refused["ok"], false);
    assert!(refused["report"][0].as_str().unwrap().contains("iteration_delay: 7m is over the 5m maximum"), "{refused}");
    // A realm that is not there: the error says which realm was looked at.
    let missing = lava("nosuchrealm", &["job", "list"]).await.unwrap_err();
    assert!(format!("{missing:#}").contains("lava.nosuchrealm.jobs does not exist"), "{missing:#}");
    let missing = lava("nosuchrealm", &["job", "get", "a/b"]).await.unwrap_err();
    assert!(
        format!("{missing:#}").contains("realm nosuchrealm: a table or queue it needs does not exist"),
        "{missing:#}"
    );
}

#[tokio::test]
async fn job_activity_tables_and_its_timeline_in_a_headless_browser() {
    let r = TestRealm::up("act").await;
    let realm = r.names.realm.clone();
    for (id, payload) in [("act/quick", "sleep 1"), ("act/slow", "sleep 2"), ("act/bad", "false")] {
        r.put_job(json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": payload})).await;
    }
    let mut runs = Vec::new();
    for id in ["act/quick", "act/slow", "act/bad", "act/quick"] {
        runs.push(r.dispatch(id).await);
    }
    let worker = crate::worker::worker(&r, 4, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();

    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30);
    let start = start.strftime("%Y-%m-%dT%H:%M:00Z").to_string();
    let page = std::env::temp_dir().join(format!("{}.html", unique("lava-activity-")));
    let dump = std::env::temp_dir().join(format!("{}.json", unique("lava-activity-")));
    let args = [
        "job",
        "activity",
        "act/quick",
        "act/slow",
        "act/bad",
        "--start",
        &start,
        "--interval",
        "60",
        "--json",
        "--html",
        page.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ];
    let out: Value = serde_json::from_str(&lava(&realm, &args).await.unwrap()).unwrap();
    assert_eq!(out["runs"].as_array().unwrap().len(), 4, "{out:#}");
    let quick: i64 = out["jobs"]["act/quick"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
    assert!((2..=8).contains(&quick), "two runs of about a second: {quick}");
    assert_eq!(out["slices"].as_array().unwrap().len(), 24, "a day of hour slices");
    let workers: i64 = out["workers"]["core"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
    let jobs: i64 = out["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter().map(|s| s.as_i64().unwrap()))
        .sum();
    assert_eq!(workers, jobs);
    // The CSV tables, from the dump file this time (no table read), one job only.
    let csv = lava(&realm, &["job", "activity", "--load", dump.to_str().unwrap(), "--interval", "60", "act/slow"])
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("Job ID,") && lines[1].starts_with("act/slow,") && lines[3].starts_with("Worker,"),
        "{csv}"
    );
    let failed: Value = serde_json::from_str(
        &lava(&realm, &["job", "activity", "--load", dump.to_str().unwrap(), "--status", "failed", "--json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(failed["runs"].as_array().unwrap().len(), 1);

    // The picture, opened in headless Chromium: every run drawn as a visible bar.
    let dom = chromium_dom(&page);
    let drawn =
        dom.split("<p id=\"drawn\">").nth(1).and_then(|s| s.split("</p>").next()).unwrap_or_else(|| panic!("{dom}"));
    assert!(drawn.starts_with("drawn 4 runs: "), "{drawn}");
    for run in &runs {
        assert!(drawn.contains(run.as_str()), "{run} not drawn: {drawn}");
    }
    let _ = std::fs::remove_file(&page);
    let _ = std::fs::remove_file(&dump);
}

/// The page's DOM after Chromium (headless) has laid it out and run its script.
pub(crate) fn chromium_dom(page: &std::path::Path) -> String {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    assert!(chromium.exists(), "/usr/bin/chromium is missing: run `bash tests/setup.sh` (.ci/run does)");
    let profile = std::env::temp_dir().join(unique("lava-chromium-"));
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}
