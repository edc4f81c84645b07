//! `lava new` and `lava project` against the original's `lava-new` and a realm on moto: a new
//! project holds what the original's holds, a job of each type is added, built, checked strictly,
//! installed and run, and uninstalled.

use crate::history::lava;
use lava_tests::{TestRealm, unique};
use serde_json::Value;
use shared::ports::Encryption;
use std::path::Path;
use std::time::Duration;

fn read_yaml(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The answers a project recorded, without the original's template bookkeeping (`_…`) and the
/// directory (each tool was given its own).
fn recorded(dir: &Path) -> Value {
    let mut all: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(".config.json")).unwrap()).unwrap();
    let answers = all["cookiecutter"].as_object_mut().unwrap();
    answers.retain(|k, _| !k.starts_with('_') && k != "project_dir");
    all
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_new_project_is_the_original_s_and_goes_to_a_realm_and_back() {
    let r = TestRealm::up("prj").await;
    let realm = r.names.realm.clone();
    let base = std::env::temp_dir().join(unique("lava-project-"));
    let (theirs, ours) = (base.join("theirs/sales"), base.join("ours/sales"));
    let params = ["-p", &format!("realm={realm}"), "-p", "owner=data team", "-p", "description=Sales loads"];
    let out = lava_tests::original::command("lava-new").arg("--no-input").args(params).arg(&theirs).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made = lava(&realm, &[&["new"][..], &params, &[ours.to_str().unwrap()]].concat()).await.unwrap();
    assert!(made.starts_with("Created ") && made.ends_with("ours/sales"), "{made}");
    assert_eq!(read_yaml(&ours.join("config/dev.yaml")), read_yaml(&theirs.join("config/dev.yaml")));
    assert_eq!(recorded(&ours), recorded(&theirs));
    for dir in ["lava-jobs", "lava-connections", "lava-triggers", "lava-rules", "lava-payloads"] {
        assert!(theirs.join(dir).is_dir() && ours.join(dir).is_dir(), "{dir}");
    }
    let again = lava(&realm, &["new", "-p", "realm=x", "-p", "owner=o", "-p", "description=d", ours.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(again.to_string().ends_with("already exists"));
    let missing = lava(&realm, &["new", "-p", "owner=o", base.join("other").to_str().unwrap()]).await.unwrap_err();
    assert_eq!(missing.to_string(), "ERROR: description must be specified\nERROR: realm must be specified");

    // A job of every type lava runs, and the other kinds of source.
    let dir = ours.to_str().unwrap();
    let types = shared::model::JobType::KNOWN.iter().map(|t| t.name()).filter(|t| !t.starts_with("sharepoint"));
    for t in types.clone() {
        let added = lava(&realm, &["project", "add", t, &format!("{t}-job"), "-C", dir]).await.unwrap();
        assert!(added.contains(&format!("lava-jobs/{t}-job.yaml")), "{added}");
    }
    let refused = lava(&realm, &["project", "add", "sharepoint_get_doc", "x", "-C", dir]).await.unwrap_err();
    assert!(refused.to_string().contains("SharePoint jobs are refused"), "{refused}");
    write(&ours.join("lava-jobs/_parts/owner.yaml"), "owner: <{ owner }> (<{ env }>)\n");
    write(
        &ours.join("lava-jobs/included.yaml"),
        "<% include '_parts/owner.yaml' %>\ndescription: d\njob_id: <{ prefix.job }>/included\ntype: log\n\
         worker: core\npayload: '--'\nenabled: '{{ globals.on }}'\n",
    );
    // A dag payload from a matrix beside the source (the original's framework's lava.dag()).
    write(&ours.join("lava-jobs/deps.csv"), "job,extract,load\nextract,,\nload,x,\nreport,x,x\n");
    write(
        &ours.join("lava-jobs/pipeline.yaml"),
        "description: d\njob_id: <{ prefix.job }>/pipeline\ntype: dag\nworker: core\nowner: o\n\
         payload: <{ lava.dag('deps.csv', prefix=prefix.job + '/') }>\n",
    );
    write(&ours.join("lava-jobs/prod-only.yaml"), "# <% if env == 'prod' %>\njob_id: never\n# <% endif %>\n");
    write(
        &ours.join("lava-connections/db.yaml"),
        "conn_id: <{ prefix.job }>/db\ntype: postgres\nhost: localhost\nport: 5432\nuser: u\ndatabase: d\n\
         password: /lava/p\ndescription: d\nowner: <{ owner }>\nenabled: true\n",
    );
    write(
        &ours.join("lava-triggers/drop.yaml"),
        "trigger_id: <{ prefix.s3trigger }>/drop\nbucket: in-bucket\nprefix: drop\njob_id: <{ prefix.job }>/cmd-job\n\
         enabled: true\ndescription: d\nowner: <{ owner }>\n",
    );
    write(
        &ours.join("lava-rules/nightly.yaml"),
        "rule_id: <{ prefix.rule }>.nightly\ndescription: nightly\nowner: <{ owner }>\nenabled: true\n\
         schedule_expression: cron(0 2 * * ? *)\n\
         targets: [\"<{ lava.aws.arn('sqs-queue', realm + '-rule-target') }>\"]\n",
    );
    // moto matches a rule with only a schedule against every event put, so its target must exist
    // or the runs' status events below could not be published.
    r.clients.sqs.create_queue().queue_name(format!("{realm}-rule-target")).send().await.unwrap();

    // Built, each job passing `lava schema` (strict as the original's schemas) ...
    let built = lava(&realm, &["project", "dist", "--env", "dev", "-C", dir]).await.unwrap();
    let dist = ours.join("dist/dev");
    assert!(!built.contains("_parts"), "{built}");
    let job_files: Vec<String> = types
        .clone()
        .map(|t| dist.join(format!("lava-jobs/{t}-job.json")).to_string_lossy().into_owned())
        .chain([dist.join("lava-jobs/included.json").to_string_lossy().into_owned()])
        .collect();
    let files: Vec<&str> = job_files.iter().map(String::as_str).collect();
    lava(&realm, &[&["schema", "-t", "job"][..], &files].concat()).await.unwrap();
    // ... and the JSON Schemas the project holds, in the original's own validator.
    let schemas = ours.join("schemas");
    let checked = lava_tests::original::command("lava-schema")
        .args(["-s", schemas.to_str().unwrap(), "-t", "job"])
        .args(&files)
        .output();
    let checked = checked.unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(std::fs::read_to_string(dist.join("lava-jobs/prod-only.json")).unwrap(), "null\n");
    let included: Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("lava-jobs/included.json")).unwrap()).unwrap();
    assert_eq!(included["owner"], "data team (dev)");
    assert_eq!(included["enabled"], "{{ globals.on }}", "lava's own tags are left for the run");
    let pipeline: Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("lava-jobs/pipeline.json")).unwrap()).unwrap();
    assert_eq!(
        pipeline["payload"],
        serde_json::json!({"app/sales/extract": [], "app/sales/load": ["app/sales/extract"],
            "app/sales/report": ["app/sales/extract", "app/sales/load"]})
    );

    // Installed: specs in the tables with the framework's checksum, payloads, the rule.
    let installed = lava(&realm, &["project", "install", "--env", "dev", "-C", dir]).await.unwrap();
    assert!(
        installed.contains("Pre-install checks: ") && installed.contains("prod-only.json: Skipping null file"),
        "{installed}"
    );
    let job = r.catalog.job("app/sales/exe-job").await.unwrap().to_value();
    assert_eq!(job["x-srcfile"], "exe-job.yaml");
    assert_eq!(job["owner"], "data team");
    let chk = job["x-lava-chk"].as_str().unwrap();
    assert!(chk.starts_with("1;FW;sha256;"), "{chk}");
    let checked = lava(&realm, &["checksum", "-v", "check", "app/sales/*"]).await.unwrap();
    assert!(!checked.contains("ERROR"), "{checked}");
    assert!(r.catalog.connection("app/sales/db").await.is_ok());
    assert!(r.catalog.s3trigger("app/sales/drop").await.is_ok());
    let rule = format!("lava.{realm}.sales.nightly");
    let targets = r.clients.events.list_targets_by_rule().rule(&rule).send().await.unwrap();
    assert_eq!(targets.targets().len(), 1);
    assert!(targets.targets()[0].arn().ends_with(&format!(":123456789012:{realm}-rule-target")));
    let payloads = r.catalog.realm().await.unwrap().s3_payloads;
    let area = shared::model::values::S3Location::parse(&payloads).unwrap();
    let at = |name: &str| format!("{}/app/sales/{name}", area.key);
    let sql = shared::ports::BlobStore::get_object(r.blobs.as_ref(), &area.bucket, &at("sql-job.sql")).await.unwrap();
    assert_eq!(String::from_utf8(sql).unwrap(), "SELECT 1 AS one;\n");

    // diff: nothing for what is as built; a changed entry as the original's json-diff shows it.
    let same = lava(&realm, &["project", "diff", "--env", "dev", "-C", dir]).await.unwrap();
    assert!(!same.lines().any(|l| l.starts_with("@@")), "{same}");
    let mut changed = r.catalog.job("app/sales/exe-job").await.unwrap().to_value();
    changed["owner"] = "someone else".into();
    changed["max_tries"] = 3.into();
    changed["x-lava-built"] = "long ago".into();
    r.ports.tables.put_item(&r.names.jobs_table, changed.as_object().unwrap().clone()).await.unwrap();
    let diff = lava(&realm, &["project", "diff", "--env", "dev", "-C", dir]).await.unwrap();
    let built_file = dist.join("lava-jobs/exe-job.json");
    let header = format!("{} ... app/sales/exe-job @ {realm}\n", built_file.display());
    let ours_diff: String = diff.split(&header).nth(1).unwrap().split("\n\n").next().unwrap().to_string();
    let deployed_file = base.join("deployed.json");
    std::fs::write(&deployed_file, changed.to_string()).unwrap();
    let json_diff = lava_tests::original::command("python3")
        .arg(theirs.join("bin/json-diff"))
        .args(["-i", "[xX]-*", "-i", "$*"])
        .arg(&built_file)
        .arg(&deployed_file)
        .output()
        .unwrap();
    let theirs_diff = String::from_utf8(json_diff.stdout).unwrap();
    let plain: String = theirs_diff
        .split('\x1b')
        .enumerate()
        .map(|(i, part)| if i == 0 { part } else { part.split_once('m').map_or("", |p| p.1) })
        .collect();
    assert_eq!(format!("{ours_diff}\n"), plain, "{diff}");
    assert!(ours_diff.contains("+    \"owner\": \"someone else\""), "{ours_diff}");

    // The executable jobs run from the installed payloads.
    let mut runs = Vec::new();
    for job in ["app/sales/cmd-job", "app/sales/exe-job", "app/sales/pkg-job"] {
        runs.push((job, r.dispatch(job).await));
    }
    let worker = crate::worker::worker(&r, 2, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    for (job, run) in &runs {
        assert_eq!(r.statuses(job, run).await.last().map(String::as_str), Some("complete"), "{job}");
    }

    // A second install replaces the rule; uninstall removes everything it put.
    let again = lava(&realm, &["project", "install", "--env", "dev", "-C", dir]).await.unwrap();
    assert!(again.contains(&format!("Rule {rule}: Deleted 1 old target(s)")), "{again}");
    let removed = lava(&realm, &["project", "uninstall", "--env", "dev", "-C", dir]).await.unwrap();
    assert!(removed.contains(&format!("Rule {rule}: Deleted old rule")), "{removed}");
    assert!(r.catalog.job("app/sales/exe-job").await.is_err());
    assert!(r.catalog.connection("app/sales/db").await.is_err());
    assert!(r.clients.events.list_targets_by_rule().rule(&rule).send().await.is_err());
    let left = shared::ports::BlobStore::list_objects(r.blobs.as_ref(), &area.bucket, &at(""), None).await.unwrap();
    assert!(left.objects.is_empty());
    // An environment without a payload prefix never purges the realm's whole payload area.
    let dev = std::fs::read_to_string(ours.join("config/dev.yaml")).unwrap();
    std::fs::write(ours.join("config/bare.yaml"), dev.replace("payload: \"app/sales\"", "payload: \"\"")).unwrap();
    let keep = format!("{}/other/keep.txt", area.key);
    let put =
        shared::ports::BlobStore::put_object(r.blobs.as_ref(), &area.bucket, &keep, b"k".to_vec(), &Encryption::Aes256);
    put.await.unwrap();
    let bare = lava(&realm, &["project", "uninstall", "--env", "bare", "-C", dir]).await.unwrap();
    assert!(bare.ends_with("Payloads left: config's prefix.payload is empty"), "{bare}");
    assert!(shared::ports::BlobStore::get_object(r.blobs.as_ref(), &area.bucket, &keep).await.is_ok());
    let _ = std::fs::remove_dir_all(&base);
}
