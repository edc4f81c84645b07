//! `sam local invoke` of the three functions, offline, as the README documents it: the root
//! `samconfig.toml`'s `local` environment, the sample events in `events/`, the functions' own
//! binaries (the x86_64 debug builds this test run made, laid out as `sam build` lays out its
//! output), and moto on the docker0 address, which the function containers reach. The base
//! image is `lava-test/lambda:provided` (tests/setup.sh), standing in for the registry's
//! `provided:al2023`.

use lava_tests::{unique, venv_tool, workspace_root};
use serde_json::{Value, json};
use shared::ports::WorkQueue;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The docker0 bridge's address, where a container reaches the host.
fn docker0_address() -> String {
    let out = Command::new("ip").args(["-4", "-o", "addr", "show", "docker0"]).output().expect("running ip");
    let text = String::from_utf8_lossy(&out.stdout);
    let address = text.split_whitespace().skip_while(|w| *w != "inet").nth(1).and_then(|a| a.split('/').next());
    address.map(str::to_string).expect("a docker0 interface: run `bash tests/setup.sh` (it starts dockerd)")
}

/// A moto server on `host`, stopped when dropped.
struct Moto {
    pid: u32,
    endpoint_url: String,
}

impl Moto {
    fn start(host: &str) -> Self {
        let server = lava_cli::local::ensure_moto(&workspace_root().join(".venv")).unwrap();
        let port = std::net::TcpListener::bind((host, 0)).unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(unique("lava-moto-sam-"));
        let pid = lava_cli::local::start_moto(&server, host, port, &log).unwrap();
        Moto { pid, endpoint_url: format!("http://{host}:{port}") }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = lava_cli::local::stop_process(self.pid);
    }
}

/// What `sam build` leaves: a folder per function holding its `bootstrap`, and the template
/// pointing at them with the build metadata gone.
fn built_template(dir: &Path) -> PathBuf {
    let debug = workspace_root().join("target/debug");
    let mut template = std::fs::read_to_string(workspace_root().join("infra/template.yaml")).unwrap();
    for (logical, binary) in
        [("DispatchFunction", "dispatch"), ("ActionsFunction", "actions"), ("S3TriggerFunction", "s3trigger")]
    {
        let built = debug.join(binary);
        assert!(
            built.is_file(),
            "{} is missing: `cargo test --workspace` (or `cargo build`) builds it",
            built.display()
        );
        std::fs::create_dir_all(dir.join(logical)).unwrap();
        std::fs::copy(&built, dir.join(logical).join("bootstrap")).unwrap();
        let at = template.find(&format!("\n  {logical}:\n")).expect("the function in the template");
        let source = format!("CodeUri: ../functions/{binary}");
        let code = at + template[at..].find(&source).expect("its CodeUri");
        template.replace_range(code..code + source.len(), &format!("CodeUri: {logical}"));
        // The function's whole Metadata (build settings, checkov's skips) goes, as sam build drops it.
        let metadata = format!(
            "    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: {binary}\n"
        );
        let start =
            template.find(&metadata).unwrap_or_else(|| panic!("the template's build metadata for {binary} changed"));
        let end = start + template[start..].find("    Properties:\n").expect("the function's properties");
        template.replace_range(start..end, "");
    }
    let path = dir.join("template.yaml");
    std::fs::write(&path, template).unwrap();
    path
}

/// Runs `sam local invoke FUNCTION -e EVENT` with the `local` config environment; returns the
/// function's answer (its last line of stdout) and SAM's log.
fn invoke(template: &Path, env_file: &Path, endpoint_url: &str, function: &str, event: &Path) -> (Value, String) {
    let root = workspace_root();
    let out = Command::new(venv_tool("sam"))
        .current_dir(&root)
        .args(["local", "invoke", function, "--config-file"])
        .arg(root.join("samconfig.toml"))
        .args(["--config-env", "local", "--template"])
        .arg(template)
        .arg("--event")
        .arg(event)
        .arg("--env-vars")
        .arg(env_file)
        .args(["--parameter-overrides", &format!("Realm=local Architecture=x86_64 EndpointUrl={endpoint_url}")])
        .args(["--invoke-image", "lava-test/lambda:provided"])
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .expect("running sam local invoke");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    // `sam local invoke` exits 0 even when the function fails: judge by what it printed.
    let answer = String::from_utf8_lossy(&out.stdout).lines().last().and_then(|l| serde_json::from_str(l).ok());
    (answer.unwrap_or_else(|| panic!("{function} gave no answer; sam said:\n{log}")), log)
}

#[tokio::test(flavor = "multi_thread")]
async fn sam_local_invoke_runs_each_function_on_the_sample_events() {
    let images = Command::new("docker").args(["image", "inspect", "lava-test/lambda:provided"]).output();
    assert!(
        images.is_ok_and(|o| o.status.success()),
        "docker and the image lava-test/lambda:provided are needed: run `bash tests/setup.sh`"
    );
    let moto = Moto::start(&docker0_address());
    lava_cli::bring_up(&moto.endpoint_url, "local", Some("us-east-1".into()), &workspace_root().join("samples/jobs"))
        .await
        .unwrap();
    let clients = shared::aws::Clients::load(&shared::aws::AwsOptions {
        endpoint_url: Some(moto.endpoint_url.clone()),
        region: Some("us-east-1".into()),
        emulator: true,
        ..Default::default()
    })
    .await;
    let names = shared::names::ResourceNames::for_realm("local");
    let catalog = shared::catalog::Catalog::new(
        std::sync::Arc::new(shared::aws::DynamoTables::new(clients.dynamodb.clone())),
        names.clone(),
    );
    for job in [
        json!({"job_id": "sam/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null, "parameters": {"dispatcher": "sam"}}),
        json!({"job_id": "sam/minute", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": "* * * * *", "dispatcher": "sam"}),
    ] {
        catalog.put_job(&shared::model::JobSpec::from_value(&job).unwrap()).await.unwrap();
    }
    let trigger = json!({"trigger_id": "inbound", "bucket": "lava-local", "prefix": "inbound", "enabled": true, "job_id": "demo/hello"});
    catalog.put_s3trigger(&shared::model::S3TriggerEntry::from_value(&trigger).unwrap()).await.unwrap();

    let dir = std::env::temp_dir().join(unique("lava-sam-local-"));
    let template = built_template(&dir);
    let env_file = dir.join("env.json");
    let shipped: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("env.json")).unwrap()).unwrap();
    let mut env = shipped.clone();
    env["Parameters"]["LAVA_ENDPOINT_URL"] = json!(moto.endpoint_url);
    std::fs::write(&env_file, env.to_string()).unwrap();

    let sample = |name: &str| workspace_root().join("events").join(format!("{name}.json"));
    // The sample tick's minute is long past, before the test's scheduled job existed: the tick
    // is sent as the rule sends it, for the current minute.
    let mut tick: Value = serde_json::from_str(&std::fs::read_to_string(sample("dispatch-tick")).unwrap()).unwrap();
    let mut scheduled: Value = serde_json::from_str(tick["Records"][0]["body"].as_str().unwrap()).unwrap();
    scheduled["time"] = json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:00Z").to_string());
    tick["Records"][0]["body"] = json!(scheduled.to_string());
    let now_tick = dir.join("dispatch-tick.json");
    std::fs::write(&now_tick, tick.to_string()).unwrap();

    let (answer, log) =
        invoke(&template, &env_file, &moto.endpoint_url, "DispatchFunction", &sample("dispatch-request"));
    assert_eq!(answer, json!({"batchItemFailures": []}), "{log}");
    let (answer, log) = invoke(&template, &env_file, &moto.endpoint_url, "DispatchFunction", &now_tick);
    assert_eq!(answer, json!({"batchItemFailures": []}), "{log}");
    let (answer, log) =
        invoke(&template, &env_file, &moto.endpoint_url, "DispatchFunction", &sample("dispatch-direct"));
    assert_eq!(answer, json!({"status": "done"}), "{log}");
    let (answer, log) =
        invoke(&template, &env_file, &moto.endpoint_url, "S3TriggerFunction", &sample("s3trigger-notification"));
    assert_eq!(answer["dispatched"].as_array().map(Vec::len), Some(1), "{answer} {log}");
    let (answer, log) = invoke(&template, &env_file, &moto.endpoint_url, "ActionsFunction", &sample("actions-request"));
    assert_eq!(answer, json!({"batchItemFailures": []}), "{log}");
    assert!(
        log.contains("demo/hello finished (0b9c6a3e-5f1d-4c55-9a43-0000000000aa)"),
        "the log action's line:\n{log}"
    );

    // What the functions sent: two requests from the batch, the minute's scheduled run, two
    // direct requests and the upload's run, all on the core worker's queue.
    let queues = shared::aws::SqsQueues::new(clients.sqs.clone());
    let url = queues.queue_url(&names.worker_queue("core")).await.unwrap();
    let mut jobs = Vec::new();
    for _ in 0..4 {
        for message in queues.receive(&url, 10, 1).await.unwrap() {
            let body: Value = serde_json::from_str(&message.body).unwrap();
            jobs.push(body["job_id"].as_str().unwrap_or_default().to_string());
        }
    }
    jobs.sort();
    assert_eq!(jobs, ["demo/hello", "demo/hello", "demo/hello", "demo/log", "demo/log", "sam/minute"]);
    // The shipped env.json and samconfig agree on the realm and the emulator's usual address.
    assert_eq!(shipped["Parameters"]["LAVA_REALM"], "local");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Command::new("sh")
        .args(["-c", "docker ps -aq --filter label=sam.cli.container.type=lambda | xargs -r docker rm -f"])
        .output();
}
