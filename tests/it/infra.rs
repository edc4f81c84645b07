//! The templates against the code: `infra/template.yaml`'s and `infra/worker.yaml`'s resources
//! that moto's CloudFormation can create (everything but the Lambda functions and the ECS/EC2
//! fleet) are deployed into moto through CloudFormation, and then used: a dispatch request on the
//! template's dispatch queue goes through the real dispatch handler to the worker stack's queue,
//! and a worker runs the job to its recorded result in the template's tables and bucket.
//! The lint checks (`cfn-lint`, `sam validate --lint`) run here too, with the tools
//! `tests/setup.sh` installs.

use serde_json::{Value, json};
use shared::ports::OutgoingMessage;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tests::{emulator, unique, venv_tool, workspace_root};

/// A template as JSON with only the resource types moto's CloudFormation creates.
fn deployable(template: &Path, keep: &[&str]) -> Value {
    let text = std::fs::read_to_string(template).unwrap();
    let mut doc: Value = serde_norway::from_str(&text).unwrap();
    let object = doc.as_object_mut().unwrap();
    object.remove("Transform");
    object.remove("Globals");
    object.remove("Outputs");
    let resources = object.get_mut("Resources").unwrap().as_object_mut().unwrap();
    resources.retain(|_, r| keep.contains(&r["Type"].as_str().unwrap_or_default()));
    doc
}

/// Creates a stack in moto with the AWS CLI; returns when it is complete.
fn create_stack(name: &str, template: &Value, parameters: &[(&str, &str)]) {
    let file = std::env::temp_dir().join(format!("{name}.json"));
    std::fs::write(&file, template.to_string()).unwrap();
    let mut command = Command::new(venv_tool("aws"));
    command
        .args(["cloudformation", "create-stack", "--stack-name", name, "--template-body"])
        .arg(format!("file://{}", file.display()))
        .args(["--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "--parameters"])
        .args(parameters.iter().map(|(k, v)| format!("ParameterKey={k},ParameterValue={v}")));
    let out = cli(&mut command);
    assert!(out.contains("StackId"), "{out}");
    let mut status = String::new();
    for _ in 0..50 {
        let described: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            name,
        ])))
        .unwrap();
        status = described["Stacks"][0]["StackStatus"].as_str().unwrap_or_default().to_string();
        if status.ends_with("_COMPLETE") || status.ends_with("_FAILED") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, "CREATE_COMPLETE", "stack {name}");
}

fn cli(command: &mut Command) -> String {
    let out = command
        .env("AWS_ENDPOINT_URL", &emulator().endpoint_url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}: {}", command, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `checkov` finds nothing on either template: what a careful platform team would fix is fixed,
/// and each check not followed has a skip with its reason in the template.
#[test]
fn checkov_passes_both_templates_with_reasoned_skips_only() {
    let root = workspace_root();
    let checkov = root.join(".venv-checkov/bin/checkov");
    assert!(checkov.exists(), "{} is missing: run `bash tests/setup.sh` (.ci/run does)", checkov.display());
    let out = Command::new(&checkov)
        .args(["--directory", "infra", "--framework", "cloudformation", "--compact", "--output", "json"])
        .current_dir(&root)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov's report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "{:#}", report["results"]["failed_checks"]);
    assert!(summary["passed"].as_u64().unwrap() >= 50, "{summary}");
    let skipped = report["results"]["skipped_checks"].as_array().unwrap();
    assert_eq!(Some(skipped.len() as u64), summary["skipped"].as_u64(), "{summary}");
    for skipped in skipped {
        let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "a skip without its reason: {skipped:#}");
    }
}

#[test]
fn the_templates_pass_cfn_lint_and_sam_validate() {
    let root = workspace_root();
    for template in ["infra/template.yaml", "infra/worker.yaml"] {
        let lint = Command::new(venv_tool("cfn-lint")).arg(root.join(template)).output().unwrap();
        assert!(
            lint.status.success(),
            "cfn-lint {template}:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        let validate = Command::new(venv_tool("sam"))
            .args(["validate", "--lint", "--region", "us-east-1", "-t"])
            .arg(root.join(template))
            .env("SAM_CLI_TELEMETRY", "0")
            .output()
            .unwrap();
        assert!(
            validate.status.success(),
            "sam validate {template}:\n{}{}",
            String::from_utf8_lossy(&validate.stdout),
            String::from_utf8_lossy(&validate.stderr)
        );
    }
}

#[tokio::test]
async fn the_template_resources_deployed_into_moto_are_the_ones_the_code_uses() {
    let realm = unique("cf");
    let bucket = format!("lava-{realm}-stack");
    let names = shared::names::ResourceNames::for_realm(&realm);
    let realm_types = [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
    ];
    let template = deployable(&workspace_root().join("infra/template.yaml"), &realm_types);
    create_stack(
        &format!("lava-{}", realm.replace('_', "-")),
        &template,
        &[("Realm", &realm), ("BucketName", &bucket), ("CreateRealmsTable", "No")],
    );
    let mut worker = deployable(&workspace_root().join("infra/worker.yaml"), &["AWS::SQS::Queue"]);
    // Only the parameters the queues use are declared in the trimmed template.
    worker["Parameters"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| ["Realm", "Worker", "VisibilityTimeout", "MessageRetentionPeriod"].contains(&k.as_str()));
    worker.as_object_mut().unwrap().remove("Conditions");
    create_stack(&format!("lava-{}-core", realm.replace('_', "-")), &worker, &[("Realm", &realm), ("Worker", "core")]);

    // Tables: the names, keys, indexes and TTL attributes the code expects.
    for table in names.tables().into_iter().filter(|t| t.name != "lava.realms") {
        let described: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
            "dynamodb",
            "describe-table",
            "--table-name",
            &table.name,
        ])))
        .unwrap();
        let keys: Vec<(String, String)> = described["Table"]["KeySchema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["AttributeName"].as_str().unwrap().to_string(), k["KeyType"].as_str().unwrap().to_string()))
            .collect();
        let mut want = vec![(table.hash_key.to_string(), "HASH".to_string())];
        if let Some(range) = table.range_key {
            want.push((range.to_string(), "RANGE".to_string()));
        }
        assert_eq!(keys, want, "{}", table.name);
        let index_names = |key: &str| -> Vec<String> {
            described["Table"][key]
                .as_array()
                .map(|a| a.iter().map(|i| i["IndexName"].as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            index_names("GlobalSecondaryIndexes"),
            table.global_indexes.iter().map(|i| i.name.to_string()).collect::<Vec<_>>(),
            "{}",
            table.name
        );
        assert_eq!(
            index_names("LocalSecondaryIndexes"),
            table.local_indexes.iter().map(|i| i.name.to_string()).collect::<Vec<_>>(),
            "{}",
            table.name
        );
        // moto's CloudFormation does not apply TTL settings: read them from the template.
        let suffix = table.name.rsplit('.').next().unwrap();
        let declared = template["Resources"]
            .as_object()
            .unwrap()
            .values()
            .find(|r| r["Properties"]["TableName"]["Fn::Sub"] == format!("lava.${{Realm}}.{suffix}"))
            .unwrap();
        assert_eq!(
            declared["Properties"]["TimeToLiveSpecification"]["AttributeName"].as_str(),
            table.ttl_attribute,
            "{}",
            table.name
        );
    }

    // Use them: the realm entry in the stack's bucket, a job, a request through the real dispatch
    // handler from the template's dispatch queue to the worker stack's queue, a worker run.
    let clients = tests::clients().await;
    let ports = clients.ports(std::sync::Arc::new(shared::webhook::HttpWebhook::new()));
    let tables = std::sync::Arc::new(shared::aws::DynamoTables::new(clients.dynamodb.clone()));
    let catalog = shared::catalog::Catalog::new(tables, names.clone());
    let entry = json!({"realm": realm, "s3_payloads": format!("s3://{bucket}/payloads"), "s3_temp": format!("s3://{bucket}/tmp")});
    // The realms table is account-wide (created by one realm stack only); moto's may not exist yet.
    let _ = shared::aws::provision::create_table(&clients, &names.tables()[0]).await;
    catalog.put_realm(&shared::model::RealmEntry::from_value(&entry).unwrap()).await.unwrap();
    catalog.put_job(&shared::model::JobSpec::from_value(&json!({"job_id": "cf/hello", "type": "cmd", "worker": "core", "enabled": true, "payload": "echo from the stacks"})).unwrap()).await.unwrap();
    let dispatch_url = ports.queues.queue_url(&names.dispatch_queue).await.unwrap();
    ports
        .queues
        .send(&dispatch_url, &OutgoingMessage { body: json!({"job_id": "cf/hello"}).to_string(), ..Default::default() })
        .await
        .unwrap();
    let received = ports.queues.receive(&dispatch_url, 1, 1).await.unwrap();
    assert_eq!(received.len(), 1, "the template's dispatch queue holds the request");
    let function = shared::dispatch::function::DispatchFunction::load(names.clone(), vec![], &ports).await.unwrap();
    let incoming: Vec<shared::ports::Incoming> = received
        .iter()
        .map(|m| shared::ports::Incoming { message_id: m.message_id.clone(), body: m.body.clone(), receive_count: 1 })
        .collect();
    assert!(function.handle(incoming).await.is_empty());
    let options = tests::worker_options(&realm, 1, vec![]);
    let worker = shared::worker::build(options, ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let found = cli(Command::new(venv_tool("aws")).args(["dynamodb", "scan", "--table-name", &names.events_table]));
    let items: Value = serde_json::from_str(&found).unwrap();
    let item = &items["Items"][0];
    assert_eq!(item["job_id"]["S"], "cf/hello");
    assert_eq!(item["status"]["S"], "complete", "{item}");
    let stdout =
        cli(Command::new(venv_tool("aws")).args(["s3", "ls", "--recursive", &format!("s3://{bucket}/tmp/cf/hello/")]));
    assert!(stdout.contains("/stdout"), "the output landed in the stack's bucket: {stdout}");
}
