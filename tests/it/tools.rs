//! The job developer's tools run beside the original's on the same inputs: `lava dag-gen`
//! against `lava-dag-gen` (jinlava 8.3) on a CSV matrix, an Excel workbook, an SQLite file and a PostgreSQL table
//! behind a lava connection.

use crate::history::lava;
use lava_tests::{TestRealm, unique};
use std::path::Path;
use std::process::Command;

/// The original's `lava-dag-gen` on `args`: its standard output, or its message on failure.
fn original_dag_gen(realm: &str, args: &[&str]) -> Result<String, String> {
    let out = lava_tests::original::command("lava-dag-gen").args(["-r", realm]).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(stderr.trim().strip_prefix("lava-dag-gen: ").unwrap_or(&stderr).to_string())
    }
}

/// Ours, printed as the command line prints it (a line end after the output).
async fn our_dag_gen(realm: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["dag-gen"];
    all.extend_from_slice(args);
    lava(realm, &all).await.map(|out| format!("{out}\n")).map_err(|e| e.to_string())
}

fn sqlite_file(path: &Path, rows: &[(&str, &str, Option<&str>)]) {
    let script = "import sqlite3, sys, json\nc = sqlite3.connect(sys.argv[1])\nc.execute('create table dag (job_group text, job text not null, depends_on text)')\nc.executemany('insert into dag values (?, ?, ?)', json.loads(sys.argv[2]))\nc.commit()";
    let rows = serde_json::to_string(rows).unwrap();
    let out = Command::new(lava_tests::venv_tool("python")).args(["-c", script]).arg(path).arg(rows).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An Excel workbook written by openpyxl: each sheet's name and rows (`None` an empty cell).
fn xlsx_file(path: &Path, sheets: &serde_json::Value) {
    let script = "import json, sys, openpyxl\nbook = openpyxl.Workbook()\nbook.remove(book.active)\nfor name, rows in json.loads(sys.argv[2]):\n    sheet = book.create_sheet(name)\n    for row in rows:\n        sheet.append(row)\nbook.save(sys.argv[1])";
    let out = Command::new(lava_tests::venv_tool("python"))
        .args(["-c", script])
        .arg(path)
        .arg(sheets.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "lava", "-d", "lava_test", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", lava_tests::DB_PASSWORD)
        .output()
        .expect("psql (PostgreSQL's client) runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn dag_gen_prints_what_the_original_prints_from_each_source() {
    let r = TestRealm::up_on_original_tables("dgn").await;
    r.put_sql_connections().await;
    let realm = r.names.realm.clone();
    let dir = std::env::temp_dir().join(unique("lava-dag-gen-"));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("deps.csv");
    std::fs::write(
        &csv,
        "job, extract ,load,report,audit\nextract,,,,\nload,x,,,\nreport,x,y,,\naudit,,,x,\n,x,x,x,x\nload,,,,\n",
    )
    .unwrap();
    let lite = dir.join("deps.sqlite");
    // No NULL `depends_on` here: the original prints such a job as waiting for `null` (its own
    // documentation says the row puts the job in waiting for nothing, which is what ours does).
    let pairs = [
        ("g1", "load", Some("extract")),
        ("g1", "report", Some("load")),
        ("g1", "report", Some("extract")),
        ("g1", "report", Some("report")),
        ("g2", "other", Some("extract")),
    ];
    sqlite_file(&lite, &pairs);
    let table = unique("dag_");
    let values: Vec<String> = pairs
        .iter()
        .map(|(g, j, d)| format!("('{g}', '{j}', {})", d.map(|d| format!("'{d}'")).unwrap_or("NULL".into())))
        .collect();
    psql(&format!(
        "create table {table} (job_group text, job text not null, depends_on text); insert into {table} values {}",
        values.join(", ")
    ));
    let excel = dir.join("deps.xlsx");
    xlsx_file(
        &excel,
        &serde_json::json!([
            [
                "deps",
                [
                    ["job", " extract ", "load", "report"],
                    ["extract"],
                    ["load", "x"],
                    ["report", "x", " y "],
                    [null, "x"],
                    ["audit", null, null, "x"]
                ]
            ],
            ["other", [["job", "a", "b"], ["b", "yes"], ["c", null, "x"]]],
            ["numbers", [["job", "a"], ["b", 1]]],
        ]),
    );
    let (csv, lite, excel) = (csv.to_str().unwrap(), lite.to_str().unwrap(), excel.to_str().unwrap());
    let cases: Vec<Vec<&str>> = vec![
        vec![csv],
        vec!["-y", csv],
        vec!["-c", csv],
        vec!["-c", "-y", csv],
        vec!["-w", "payload", "-y", csv],
        vec!["-w", "payload", csv],
        vec!["-p", "app/", csv],
        vec!["-o", "-p", "app/", csv],
        vec![excel],
        vec!["-c", "-y", excel],
        vec!["-g", "other", "-o", excel],
        vec![lite],
        vec!["-g", "g1", "-c", "-y", lite],
        vec!["-g", "g2", lite],
        vec!["--table", &table, "pg"],
        vec!["--table", &table, "-g", "g1", "-o", "pg"],
    ];
    for args in &cases {
        let theirs = original_dag_gen(&realm, args);
        assert!(theirs.is_ok(), "{args:?}: the original failed: {theirs:?}");
        assert_eq!(our_dag_gen(&realm, args).await, theirs, "{args:?}");
    }

    // A number marks a dependency in ours (listed in ARCHITECTURE.md); the original failed on it.
    assert!(original_dag_gen(&realm, &["-g", "numbers", excel]).is_err());
    assert_eq!(our_dag_gen(&realm, &["-g", "numbers", excel, "-c"]).await.unwrap(), "{\n    \"b\": \"a\"\n}\n");

    // Refusals, in the original's words.
    let cycle = dir.join("cycle.csv");
    std::fs::write(&cycle, ",a,b,c\na,,x,\nb,,,x\nc,x,,\n").unwrap();
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, ",a\n").unwrap();
    let bad_group = ["-g", "a'b", lite];
    let bad_table = ["--table", "dag;drop", lite];
    let refused: [&[&str]; 4] = [&[cycle.to_str().unwrap()], &[empty.to_str().unwrap()], &bad_group, &bad_table];
    for args in refused {
        let theirs = original_dag_gen(&realm, args);
        assert!(theirs.is_err(), "{args:?}: the original refuses it");
        assert_eq!(our_dag_gen(&realm, args).await, theirs, "{args:?}");
    }
    psql(&format!("drop table {table}"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The original's `lava-checksum` on `args`, run in `dir` (where it leaves its zip files).
fn original_checksum(realm: &str, dir: &Path, args: &[&str]) -> String {
    let out = lava_tests::original::command("lava-checksum")
        .args(["-r", realm, "-f", "txt"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn our_checksum(realm: &str, dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["checksum", "-f", "txt", "--backup-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = lava(realm, &all).await.unwrap();
    if out.is_empty() { out } else { format!("{out}\n") }
}

#[tokio::test]
async fn checksums_made_by_either_tool_are_checked_alike_by_both() {
    let r = TestRealm::up_on_original_tables("cks").await;
    let realm = r.names.realm.clone();
    let dir = std::env::temp_dir().join(unique("lava-checksum-"));
    std::fs::create_dir_all(&dir).unwrap();
    let job = |id: &str, extra: serde_json::Value| {
        let mut spec = serde_json::json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "echo é",
            "owner": "o", "description": "d", "parameters": {"args": ["a", 1, 2.5, true, null]}, "x-lava-note": "not hashed"});
        spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        spec
    };
    r.put_job(job("ck/a", serde_json::json!({}))).await;
    r.put_job(job("ck/b", serde_json::json!({"globals": {"n": 1.5, "s": "ü"}}))).await;
    r.put_job(job("ck/c", serde_json::json!({}))).await;
    let both_check = |args: &'static [&'static str]| {
        let (realm, dir) = (realm.clone(), dir.clone());
        async move {
            let theirs = original_checksum(&realm, &dir, args);
            assert_eq!(our_checksum(&realm, &dir, args).await, theirs, "{args:?}");
            theirs
        }
    };

    // Theirs adds one, ours another: each tool finds both good.
    assert_eq!(original_checksum(&realm, &dir, &["add", "ck/a"]), "ck/a: NOTICE : Checksum added\n\n");
    assert_eq!(our_checksum(&realm, &dir, &["add", "ck/b"]).await, "ck/b: NOTICE : Checksum added\n\n");
    let checked = both_check(&["-vv", "check", "ck/*"]).await;
    assert_eq!(checked, "ck/a: INFO : OK\nck/b: INFO : OK\nck/c: WARNING : No checksum\n\n");
    both_check(&["check"]).await;
    both_check(&["-v", "add", "-d"]).await;

    // An entry changed behind the checksum's back; only the x- field changed is no change.
    let set = |id: &str, field: &str, value: serde_json::Value| {
        let key = serde_json::Map::from_iter([("job_id".to_string(), serde_json::json!(id))]);
        let (r, field) = (&r, field.to_string());
        async move { r.ports.tables.set_attribute(&r.names.jobs_table, &key, &field, value).await.unwrap() }
    };
    set("ck/b", "globals", serde_json::json!({"n": 2})).await;
    set("ck/a", "x-lava-note", serde_json::json!("still not hashed")).await;
    assert_eq!(both_check(&["check"]).await, "ck/b: ERROR : Invalid checksum\n\n");
    both_check(&["-vv", "update", "-d"]).await;
    for format in ["md", "html", "tty"] {
        let args = ["-f", format, "check"];
        let theirs = lava_tests::original::command("lava-checksum").args(["-r", &realm]).args(args).output().unwrap();
        let ours = lava(&realm, &["checksum", "-f", format, "check"]).await.unwrap();
        assert_eq!(format!("{ours}\n"), String::from_utf8(theirs.stdout).unwrap(), "{format}");
    }

    // Ours updates it (the entry as it was saved first, in a zip); theirs finds it good again.
    let saved = dir.join("saved");
    std::fs::create_dir_all(&saved).unwrap();
    assert_eq!(our_checksum(&realm, &saved, &["update"]).await, "ck/b: NOTICE : Checksum updated\n\n");
    assert_eq!(original_checksum(&realm, &dir, &["check"]), "");
    let zips: Vec<_> = std::fs::read_dir(&saved).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    let name = zips[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with(&format!("lava.{realm}.jobs-")) && name.ends_with("Z.zip"), "{name}");
    let list = "import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nprint(z.namelist(), json.loads(z.read('ck.b.json'))['globals'])";
    let out = Command::new(lava_tests::venv_tool("python")).args(["-c", list]).arg(&zips[0]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "['ck.b.json'] {'n': 2}\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in for the original's worker: a Python script named `lava-worker` run by Python
/// with the worker's options, as the original's tools look for it; `ignore_term` makes it
/// ignore SIGTERM. Reaped by a thread of its own, so it does not linger as a zombie.
fn stand_in_worker(dir: &Path, realm: &str, ignore_term: bool) -> i32 {
    let script = dir.join("lava-worker");
    let body = "import signal, sys, time\nif sys.argv[-1] == 'ignore': signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n";
    std::fs::write(&script, body).unwrap();
    let mut child = Command::new(lava_tests::venv_tool("python"))
        .arg(&script)
        .args(["--realm", realm, "-w", "core", if ignore_term { "ignore" } else { "plain" }])
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    std::thread::spawn(move || child.wait());
    pid
}

#[tokio::test]
async fn ps_lists_the_workers_as_the_original_does_and_stop_ends_them() {
    let realm = unique("ps");
    let dir = std::env::temp_dir().join(unique("lava-ps-"));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = stand_in_worker(&dir, &realm, false);
    let stubborn = stand_in_worker(&dir, &realm, true);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let theirs = |args: &[&str]| {
        let out = lava_tests::original::command("lava-ps").args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    // Only our realm's lines: other tests run the original's workers beside this one.
    let ours_of = |text: &str| text.lines().filter(|l| l.contains(&realm)).map(str::to_string).collect::<Vec<_>>();
    let ours = lava(&realm, &["ps"]).await.unwrap();
    assert_eq!(ours_of(&ours), ours_of(&theirs(&[])));
    assert_eq!(ours_of(&ours).len(), 2, "{ours}");
    assert!(ours.starts_with("USER "), "{ours}");
    // With every column: the same but for %CPU (the original's first reading is always 0.0).
    let tokens = |line: &str| {
        let mut t: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        t.remove(4);
        t
    };
    let ours = lava(&realm, &["ps", "-ll", "--only-realm", &realm]).await.unwrap();
    let theirs = theirs(&["-ll"]);
    assert_eq!(ours.lines().next().map(tokens), theirs.lines().next().map(tokens), "the headings");
    let ours: Vec<Vec<String>> = ours_of(&ours).iter().map(|l| tokens(l)).collect();
    let theirs: Vec<Vec<String>> = ours_of(&theirs).iter().map(|l| tokens(l)).collect();
    assert_eq!(ours, theirs);

    // stop: SIGTERM ends one; the other outlasts the wait and is terminated, then killed.
    let stopped = lava(&realm, &["stop", "--signal", "TERM", "-w", "2s", "--only-realm", &realm]).await.unwrap();
    let name = format!("{realm}-core");
    // The workers go in process id order, which need not be the order they started in.
    let mut lines: Vec<&str> = stopped.lines().collect();
    lines.sort();
    let mut expected = [
        format!("{name} [{plain}] sent signal 15"),
        format!("{name} [{stubborn}] sent signal 15"),
        "Workers have 2.0 seconds to terminate".to_string(),
        format!("{name} ({stubborn}): terminating"),
        format!("{name} ({stubborn}): killing"),
        format!("{name} ({plain}): finished"),
        format!("{name} ({stubborn}): finished"),
        "Workers shutdown complete".to_string(),
    ];
    expected.sort();
    assert_eq!(lines, expected, "{stopped}");
    assert!(stopped.ends_with("Workers shutdown complete"), "{stopped}");
    assert_eq!(lava(&realm, &["ps", "--only-realm", &realm]).await.unwrap(), "");
    assert_eq!(lava(&realm, &["stop", "--only-realm", &realm]).await.unwrap(), "No lava workers found");
    let bad = lava(&realm, &["stop", "--signal", "NOPE", "--only-realm", &realm]).await.unwrap_err().to_string();
    assert_eq!(bad, "Unknown signal: NOPE");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An Auto Scaling group of one instance with a terminate lifecycle hook, made with boto3 on
/// the emulator; the instance's id.
fn auto_scaling_group(group: &str, hook: &str) -> String {
    let script = "import boto3, sys\ngroup, hook = sys.argv[1:]\nec2 = boto3.client('ec2')\n\
        ec2.create_launch_template(LaunchTemplateName=group, LaunchTemplateData={'ImageId': 'ami-12c6146b', 'InstanceType': 't3.micro'})\n\
        asg = boto3.client('autoscaling')\n\
        asg.create_auto_scaling_group(AutoScalingGroupName=group, LaunchTemplate={'LaunchTemplateName': group}, MinSize=0, MaxSize=1, DesiredCapacity=1, AvailabilityZones=['us-east-1a'])\n\
        asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName=hook, LifecycleTransition='autoscaling:EC2_INSTANCE_TERMINATING')\n\
        print(asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])['AutoScalingGroups'][0]['Instances'][0]['InstanceId'])";
    let mut command = Command::new(lava_tests::venv_tool("python"));
    lava_tests::emulator_env(&mut command).env("AWS_DEFAULT_REGION", "us-east-1").args(["-c", script, group, hook]);
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The instance ids in an Auto Scaling group.
fn group_instances(group: &str) -> String {
    let script = "import boto3, sys\ng = boto3.client('autoscaling').describe_auto_scaling_groups(AutoScalingGroupNames=[sys.argv[1]])\n\
        print(' '.join(i['InstanceId'] for i in g['AutoScalingGroups'][0]['Instances']))";
    let mut command = Command::new(lava_tests::venv_tool("python"));
    lava_tests::emulator_env(&mut command).env("AWS_DEFAULT_REGION", "us-east-1").args(["-c", script, group]);
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `lava stop`'s Auto Scaling options: the lifecycle action is completed (CONTINUE) once the
/// workers are done, so the group lets the instance go; a hook the group does not have fails
/// the command; the options are checked as the original checks them.
#[tokio::test]
async fn stop_completes_the_auto_scaling_lifecycle_action_after_the_workers() {
    let realm = unique("asg");
    let (group, hook) = (unique("lava-workers-"), "drain".to_string());
    let instance = auto_scaling_group(&group, &hook);
    let dir = std::env::temp_dir().join(unique("lava-stop-"));
    std::fs::create_dir_all(&dir).unwrap();
    let worker = stand_in_worker(&dir, &realm, false);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let base = ["stop", "--only-realm", &realm, "--auto-scaling-group-name", &group];
    let unknown = [&base[..], &["--lifecycle-hook-name", "nope", "--instance-id", &instance]].concat();
    let failed = lava(&realm, &unknown).await.unwrap_err().to_string();
    assert!(failed.contains("No Lifecycle Hook named nope"), "{failed}");
    assert_eq!(group_instances(&group), instance, "a failed completion lets nothing go");
    // The heartbeat (its shortest interval is a minute, so called here directly).
    let clients = lava_tests::clients().await;
    let action = shared::aws::lifecycle::LifecycleAction {
        group: group.clone(),
        hook: hook.clone(),
        instance: Some(instance.clone()),
        token: None,
    };
    shared::aws::lifecycle::heartbeat(&clients, &action).await.unwrap();
    let wrong = shared::aws::lifecycle::LifecycleAction { hook: "nope".into(), ..action.clone() };
    assert!(shared::aws::lifecycle::heartbeat(&clients, &wrong).await.is_err());

    let args =
        [&base[..], &["--lifecycle-hook-name", &hook, "--instance-id", &instance, "--lifecycle-heartbeat", "1m"]];
    let stopped = lava(&realm, &[&args.concat()[..], &["--signal", "TERM", "-w", "5s"]].concat()).await.unwrap();
    assert!(stopped.contains(&format!("[{worker}] sent signal 15")), "{stopped}");
    assert!(stopped.ends_with("Workers shutdown complete\nCompleting auto scaling lifecycle action"), "{stopped}");
    assert_eq!(group_instances(&group), "", "CONTINUE lets the instance go");

    for (args, message) in [
        (vec!["--auto-scaling-group-name", "g"], "Inconsistent auto scaling arguments"),
        (vec!["--instance-id", "i-1"], "Inconsistent auto scaling arguments"),
        (
            vec!["--auto-scaling-group-name", "g", "--lifecycle-hook-name", "h"],
            "At least one of --instance-id or --lifecycle-action-token are required",
        ),
        (
            vec![
                "--auto-scaling-group-name",
                "g",
                "--lifecycle-hook-name",
                "h",
                "--instance-id",
                "i",
                "--lifecycle-heartbeat",
                "30s",
            ],
            "lifecycle-heartbeat must be >= 60 seconds",
        ),
    ] {
        let refused = lava(&realm, &[&["stop", "--only-realm", &realm][..], &args].concat()).await.unwrap_err();
        assert_eq!(refused.to_string(), message, "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn dag_show_draws_the_pipeline_coloured_by_each_job_s_last_run() {
    let r = TestRealm::up("pic").await;
    let realm = r.names.realm.clone();
    for (id, payload) in [("pic/a", "true"), ("pic/b", "false"), ("pic/c", "true")] {
        r.put_job(
            serde_json::json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": payload}),
        )
        .await;
    }
    r.put_job(serde_json::json!({"job_id": "pic/dag", "type": "dag", "worker": "core", "enabled": true,
        "payload": {"b": "a", "c": ["a", "b"]}, "parameters": {"job_prefix": "pic/"}}))
        .await;
    r.put_job(serde_json::json!({"job_id": "pic/chain", "type": "chain", "worker": "core", "enabled": true, "payload": "pic/a, pic/c"}))
        .await;
    // a completes, b fails, c never runs.
    let (a, b) = (r.dispatch("pic/a").await, r.dispatch("pic/b").await);
    let worker = crate::worker::worker(&r, 2, std::time::Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();

    let page = std::env::temp_dir().join(format!("{}.html", unique("lava-dag-")));
    let out = lava(&realm, &["dag", "show", "pic/dag", "--html", page.to_str().unwrap()]).await.unwrap();
    assert_eq!(out, page.display().to_string());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&format!("<td><code>{a}</code></td><td>complete</td>")), "a's run listed");
    assert!(html.contains(&format!("<td><code>{b}</code></td><td>failed</td>")), "b's run listed");
    // Opened in headless Chromium: every job and arrow drawn, each job in its last run's colour.
    let dom = crate::operator::chromium_dom(&page);
    let drawn =
        dom.split("<p id=\"drawn\">").nth(1).and_then(|s| s.split("</p>").next()).unwrap_or_else(|| panic!("{dom}"));
    assert_eq!(drawn, "drawn 3 jobs and 3 edges: pic/a=complete pic/b=failed pic/c=none");
    let _ = std::fs::remove_file(&page);

    let chain = lava(&realm, &["dag", "show", "pic/chain", "--html", page.to_str().unwrap()]).await.unwrap();
    let dom = crate::operator::chromium_dom(std::path::Path::new(&chain));
    assert!(dom.contains("drawn 2 jobs and 1 edges: pic/a=complete pic/c=none"), "{dom}");
    let _ = std::fs::remove_file(&page);
    let refused = lava(&realm, &["dag", "show", "pic/a"]).await.unwrap_err().to_string();
    assert_eq!(refused, "pic/a: a cmd job has no pipeline to draw (dag and chain jobs have)");
}

#[tokio::test]
async fn the_legacy_ses_connector_sends_mail_through_the_aws_cli() {
    use shared::ports::{BlobStore, Encryption};
    let r = TestRealm::up("ses").await;
    let bucket = r.names.local_bucket();
    let sender = format!("{}@example.com", unique("lava-ses"));
    shared::aws::provision::verify_email_identity(&r.clients, &sender).await.unwrap();
    // A reply-to address with a quote and a $ in it goes to the CLI as it is, never to the shell.
    let marker = std::env::temp_dir().join(unique("lava-ses-shell-"));
    let entry = serde_json::json!({"conn_id": "old-mail", "type": "ses", "enabled": true, "from": sender, "region": "us-east-1",
        "reply_to": ["ops@example.com", format!("o'$(touch {})@example.com", marker.display())], "return_path": "bounce@example.com"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    let subject = unique("ses-subject-");
    let script = format!(
        "#!/bin/bash\nset -e\necho 'sent by the ses connector' | $LAVA_CONN_MAIL --to team@example.com --subject {subject}\n$LAVA_CONN_MAIL --to team@example.com --subject {subject}-html --html '<b>bold</b>'\n! $LAVA_CONN_MAIL --attach x 2>&1\n"
    );
    r.blobs.put_object(&bucket, "payloads/ses/send.sh", script.into_bytes(), &Encryption::Aes256).await.unwrap();
    let venv = lava_tests::workspace_root().join(".venv/bin");
    let env = serde_json::json!({"PATH": format!("{}:/usr/bin:/bin", venv.display()), "AWS_ENDPOINT_URL": lava_tests::emulator().endpoint_url,
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"});
    r.put_job(serde_json::json!({"job_id": "ses/send", "type": "exe", "worker": "core", "enabled": true, "payload": "ses/send.sh",
        "parameters": {"connections": {"mail": "old-mail"}, "env": env}}))
    .await;
    let (statuses, result) = crate::sql::run(&r, "ses/send").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    let stdout = r.object_text(&result["output"][0]["stdout"]).await;
    assert!(stdout.matches("\"MessageId\"").count() == 2 && stdout.ends_with("}\nBad option: --attach\n"), "{stdout}");
    let data = lava_testkit::moto_data().to_string();
    assert!(data.contains(&subject) && data.contains("sent by the ses connector"), "the text mail was sent");
    assert!(data.contains(&format!("{subject}-html")) && data.contains("<b>bold</b>"), "the HTML mail was sent");
    assert!(!marker.exists(), "the connection's values never reach the shell");
}

/// `lava schema -d` reads the table's entries as the original's `lava-schema -d` does (globs
/// over ids, `-t` for the kind), reports each failure with its fields as JSON paths, and
/// fails (the exit status 1 of `lava_cli::Unmet`) only when an entry fails.
#[tokio::test]
async fn schema_checks_a_table_s_entries_strictly_and_names_each_bad_field() {
    let r = TestRealm::up("schema").await;
    let realm = r.names.realm.clone();
    let job = |id: &str, extra: serde_json::Value| {
        let mut spec = serde_json::json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true,
            "payload": "echo hi", "owner": "o", "description": "d", "x-note": "tooling data"});
        spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        spec
    };
    r.put_job(job("sc/good", serde_json::json!({"parameters": {"timeout": "5m"}}))).await;
    // A field the worker would ignore, at the top level instead of in the parameters.
    r.put_job(job("sc/misplaced", serde_json::json!({"timeout": "5m"}))).await;
    r.put_job(job("sc/params", serde_json::json!({"parameters": {"timeout": "soon"}}))).await;
    r.put_job(job("other/good", serde_json::json!({}))).await;

    assert_eq!(
        lava(&realm, &["schema", "-d", "-v", "sc/good", "other/*"]).await.unwrap(),
        "other/good: OK\nsc/good: OK"
    );
    assert_eq!(lava(&realm, &["schema", "-d", "sc/good"]).await.unwrap(), "");
    let failed = lava(&realm, &["schema", "--dynamodb", "sc/*"]).await.unwrap_err();
    assert!(failed.is::<lava_cli::Unmet>(), "{failed:#}");
    let text = failed.to_string();
    assert!(
        text.starts_with(
            "sc/misplaced: Failed\n[1] Path: $\n    Message: Unevaluated properties are not allowed ('timeout' was unexpected)\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nsc/params: Failed\n[1] Path: $.parameters"), "{text}");
    assert!(!text.contains("sc/good"), "{text}");

    // Connections (and the other kinds) with -t.
    let connection = |id: &str, kind: &str| {
        let spec = serde_json::json!({"conn_id": id, "type": kind, "description": "c", "enabled": true,
            "host": "db.example.com", "port": 5432, "database": "d", "user": "u", "password": "/lava/p"});
        spec.as_object().unwrap().clone()
    };
    for item in [connection("sc-pg", "postgres"), connection("sc-odd", "carrier-pigeon")] {
        r.ports.tables.put_item(&r.names.connections_table, item).await.unwrap();
    }
    let failed = lava(&realm, &["schema", "-d", "-t", "connection", "sc-*"]).await.unwrap_err().to_string();
    assert!(failed.starts_with("sc-odd: Failed\n[1] Path: $"), "{failed}");
    assert!(!failed.contains("sc-pg"), "{failed}");
    assert!(lava(&realm, &["schema", "-d", "-t", "connection", "sc-pg"]).await.is_ok());
}

/// The JSON Schemas shipped in `schemas/` (generated from the model) judge specs as `lava
/// schema` does, where a spec's shape decides: the original's own `lava-schema` (a real JSON
/// Schema validator, which checks the schemas themselves first) run with `-s schemas` passes and
/// fails the same specs as ours.
#[tokio::test]
async fn the_shipped_schemas_pass_and_fail_what_lava_schema_does() {
    let dir = std::env::temp_dir().join(unique("lava-schemas-"));
    std::fs::create_dir_all(&dir).unwrap();
    let job = "job_id: a\ntype: cmd\nworker: core\npayload: echo hi\n";
    let sqlc = "job_id: b\ntype: sqlc\nworker: core\npayload: q.sql\n";
    let pg = "conn_id: pg\ntype: postgres\nhost: h\nport: 5432\nuser: u\ndatabase: d\npassword: /p\nenabled: true\n";
    let trigger = "trigger_id: t\nbucket: b\nprefix: in\njob_id: a\nenabled: true\n";
    let cases: &[(&str, &str, String, bool)] = &[
        ("job", "cmd", format!("{job}parameters: {{timeout: 5m, args: [x]}}\nx-note: n\n$schema: s\n"), true),
        ("job", "sqlc", format!("{sqlc}parameters: {{conn_id: pg}}\n"), true),
        ("job", "dag", "job_id: d\ntype: dag\nworker: core\npayload: {a: null, b: a}\n".into(), true),
        ("job", "top-level-timeout", format!("{job}timeout: 5m\n"), false),
        ("job", "unknown-parameter", format!("{sqlc}parameters: {{conn_id: pg, bogus: 1}}\n"), false),
        ("job", "missing-parameter", format!("{sqlc}parameters: {{args: [x]}}\n"), false),
        ("job", "no-worker", "job_id: a\ntype: cmd\npayload: x\n".into(), false),
        ("job", "text-max-tries", format!("{job}max_tries: many\n"), false),
        ("connection", "postgres", pg.into(), true),
        ("connection", "slack", "conn_id: s\ntype: Slack\nwebhook_url: /w\nenabled: true\n".into(), true),
        (
            "connection",
            "slack-extra",
            "conn_id: s\ntype: SLACK\nwebhook_url: /w\nbogus: 1\nenabled: true\n".into(),
            false,
        ),
        ("connection", "slack-no-url", "conn_id: s\ntype: slack\nenabled: true\n".into(), false),
        ("s3trigger", "trigger", format!("{trigger}if_fnmatch: '*.csv'\nif_not_size_gt: 10\n"), true),
        ("s3trigger", "unknown", format!("{trigger}when: now\n"), false),
        ("s3trigger", "no-bucket", "trigger_id: t\nprefix: in\njob_id: a\nenabled: true\n".into(), false),
        ("realm", "realm", "realm: r\ns3_payloads: s3://b/p\ns3_temp: s3://b/t\nx-workers: 2\n".into(), true),
        ("realm", "no-temp", "realm: r\ns3_payloads: s3://b/p\n".into(), false),
    ];
    let schemas = lava_tests::workspace_root().join("schemas");
    for (kind, name, text, good) in cases {
        let file = dir.join(format!("{kind}-{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let theirs = lava_tests::original::command("lava-schema")
            .args(["-s", schemas.to_str().unwrap(), "-t", kind, file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&theirs.stderr);
        assert!(stderr.is_empty(), "{kind} {name}: {stderr}");
        assert_eq!(
            theirs.status.success(),
            *good,
            "{kind} {name} by the shipped schemas: {}",
            String::from_utf8_lossy(&theirs.stdout)
        );
        let ours = lava("unused", &["schema", "-t", kind, file.to_str().unwrap()]).await;
        assert_eq!(ours.is_ok(), *good, "{kind} {name} by lava schema: {ours:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `lava check` prints what the original's `lava-check` prints for the checks both have and
/// judge alike (`jobjinja` renders with another engine, `jobconn` is ours, and `trigslash`
/// and `trigmeta` show the owner the original's misspelt lookup lost): the same tables, the
/// same widths, nothing for a check that found nothing, and the same list without `-c`.
#[tokio::test]
async fn check_prints_the_original_s_tables() {
    let r = TestRealm::up_on_original_tables("chk").await;
    let realm = r.names.realm.clone();
    let job = |id: &str, extra: serde_json::Value| {
        let mut spec =
            serde_json::json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "echo"});
        spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        spec
    };
    r.put_job(job(
        "ck/complete",
        serde_json::json!({"owner": "data team", "description": "d", "x-lava-git-repo": "git@x:y.git"}),
    ))
    .await;
    r.put_job(job("ck/bare", serde_json::json!({}))).await;
    r.put_job(job("ck/no-owner", serde_json::json!({"description": "d", "x-lava-nocheck": ["jobrepo", "joborphan"]})))
        .await;
    r.put_job(job("ck/unload-é", serde_json::json!({"type": "redshift_unload", "owner": "ünïcode owner", "description": "",
        "parameters": {"insecure": true, "conn_id": "c", "bucket": "b", "prefix": "p", "schema": "s", "relation": "t"}}))).await;
    let connection = serde_json::json!({"conn_id": "ck-pg", "type": "postgres", "enabled": true, "host": "h", "port": 5432,
        "user": "u", "database": "d", "password": "/lava/p", "owner": "dba"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&connection).unwrap()).await.unwrap();
    r.dispatch("ck/complete").await;

    let original = |args: &[&str]| {
        let out = lava_tests::original::command("lava-check")
            .args(["-r", &realm, "--no-colour"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let ours = |args: &'static [&'static str]| {
        let realm = realm.clone();
        async move {
            let mut all = vec!["check"];
            all.extend_from_slice(args);
            let out = lava(&realm, &all).await.unwrap();
            if out.is_empty() { out } else { format!("{out}\n") }
        }
    };
    for args in [
        &["-c", "conmeta", "-c", "jobmeta", "-c", "jobrepo", "-c", "jobrsu", "-c", "joborphan", "-c", "trigmeta"][..],
        &["-c", "job[mr]*", "-S"],
        &["-c", "conmeta"],
    ] {
        let theirs = original(args);
        assert!(theirs.contains('|'), "the original found something with {args:?}: {theirs:?}");
        assert_eq!(ours(args).await, theirs, "{args:?}");
    }
    assert_eq!(ours(&["-c", "trigmeta"]).await, "", "nothing found, nothing printed");
    assert_eq!(original(&["-c", "trigmeta"]), "");
    let listed = original(&[]);
    let ours_listed = ours(&[]).await;
    let without_ours: String =
        ours_listed.lines().filter(|l| !l.starts_with("jobconn:")).map(|l| format!("{l}\n")).collect();
    assert_eq!(without_ours, listed);
}
