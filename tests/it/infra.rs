//! The templates against the code: `infra/template.yaml`'s and `infra/worker.yaml`'s resources
//! that moto's CloudFormation can create (everything but the Lambda functions and the ECS/EC2
//! fleet) are deployed into moto through CloudFormation, and then used: a dispatch request on the
//! template's dispatch queue goes through the real dispatch handler to the worker stack's queue,
//! and a worker runs the job to its recorded result in the template's tables and bucket.
//! The lint checks (`cfn-lint`, `sam validate --lint`) run here too, with the tools
//! `tests/setup.sh` installs.

use lava_tests::{emulator, unique, venv_tool, workspace_root};
use serde_json::{Value, json};
use shared::ports::OutgoingMessage;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A template as JSON with only the resource types kept (those the emulator's CloudFormation
/// creates).
pub(crate) fn deployable(template: &Path, keep: &[&str]) -> Value {
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

/// `infra/worker.yaml` with its queues only, and only the parameters they use declared.
pub(crate) fn worker_queues() -> Value {
    let mut worker = deployable(&workspace_root().join("infra/worker.yaml"), &["AWS::SQS::Queue"]);
    worker["Parameters"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| ["Realm", "Worker", "VisibilityTimeout", "MessageRetentionPeriod"].contains(&k.as_str()));
    worker.as_object_mut().unwrap().remove("Conditions");
    worker
}

/// Creates a stack in moto with the AWS CLI; returns when it is complete.
fn create_stack(name: &str, template: &Value, parameters: &[(&str, &str)]) {
    create_stack_on(&emulator().endpoint_url, name, template, parameters)
}

/// Creates a stack on the emulator at `endpoint` with the AWS CLI; returns when it is complete.
pub(crate) fn create_stack_on(endpoint: &str, name: &str, template: &Value, parameters: &[(&str, &str)]) {
    let file = std::env::temp_dir().join(format!("{name}.json"));
    std::fs::write(&file, template.to_string()).unwrap();
    let mut command = Command::new(venv_tool("aws"));
    command
        .args(["cloudformation", "create-stack", "--stack-name", name, "--template-body"])
        .arg(format!("file://{}", file.display()))
        .args(["--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "--parameters"])
        .args(parameters.iter().map(|(k, v)| format!("ParameterKey={k},ParameterValue={v}")));
    let out = cli_on(endpoint, &mut command);
    assert!(out.contains("StackId"), "{out}");
    let mut status = String::new();
    for _ in 0..300 {
        let described: Value = serde_json::from_str(&cli_on(
            endpoint,
            Command::new(venv_tool("aws")).args(["cloudformation", "describe-stacks", "--stack-name", name]),
        ))
        .unwrap();
        status = described["Stacks"][0]["StackStatus"].as_str().unwrap_or_default().to_string();
        if status.ends_with("_COMPLETE") || status.ends_with("_FAILED") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if status != "CREATE_COMPLETE" {
        let events = cli_on(
            endpoint,
            Command::new(venv_tool("aws")).args(["cloudformation", "describe-stack-events", "--stack-name", name]),
        );
        panic!("stack {name}: {status}; its events: {events}");
    }
}

/// `infra/template.yaml` resolved with `parameters`, and `physical` for what only a deployment
/// knows (physical ids, attributes).
fn realm_template(parameters: &[(&str, &str)], physical: &[(&str, &str)]) -> lava_tests::cfn::Template {
    let text = std::fs::read_to_string(workspace_root().join("infra/template.yaml")).unwrap();
    lava_tests::cfn::Template::new(serde_norway::from_str(&text).unwrap(), parameters, physical)
}

/// DescribeTable of `name` through the AWS CLI, as JSON.
fn describe_table(name: &str) -> Value {
    serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "dynamodb",
        "describe-table",
        "--table-name",
        name,
    ])))
    .unwrap()
}

fn cli(command: &mut Command) -> String {
    cli_on(&emulator().endpoint_url, command)
}

/// Runs an AWS CLI `command` against the emulator at `endpoint`; its standard output.
pub(crate) fn cli_on(endpoint: &str, command: &mut Command) -> String {
    let out = command
        .env("AWS_ENDPOINT_URL", endpoint)
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
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Group",
    ];
    let template = deployable(&workspace_root().join("infra/template.yaml"), &realm_types);
    create_stack(
        &format!("lava-{}", realm.replace('_', "-")),
        &template,
        &[("Realm", &realm), ("BucketName", &bucket), ("CreateRealmsTable", "No")],
    );
    let worker = worker_queues();
    create_stack(&format!("lava-{}-core", realm.replace('_', "-")), &worker, &[("Realm", &realm), ("Worker", "core")]);

    // Tables: the names, keys, indexes and TTL attributes the code expects.
    for table in names.tables().into_iter().filter(|t| t.name != "lava.realms") {
        let described: Value = describe_table(&table.name);
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

    the_realms_people_are_the_originals(&realm);

    // Use them: the realm entry in the stack's bucket, a job, a request through the real dispatch
    // handler from the template's dispatch queue to the worker stack's queue, a worker run.
    let clients = lava_tests::clients().await;
    let ports = shared::wiring::ports(&clients, std::sync::Arc::new(shared::webhook::HttpWebhook::new()));
    let tables = std::sync::Arc::new(shared::aws::DynamoTables::new(clients.dynamodb.clone()));
    let catalog = shared::catalog::Catalog::new(tables, names.clone());
    let entry = json!({"realm": realm, "s3_payloads": format!("s3://{bucket}/payloads"), "s3_temp": format!("s3://{bucket}/tmp")});
    // The realms table is account-wide (created by one realm stack only); moto's may not exist yet.
    let _ = shared::aws::provision::create_table(&clients, &names.tables()[0]).await;
    catalog.put_realm(&shared::model::RealmEntry::from_value(&entry).unwrap()).await.unwrap();
    catalog.put_job(&shared::model::JobSpec::from_value(&json!({"job_id": "cf/hello", "type": "cmd", "worker": "core", "enabled": true, "payload": "echo from the stacks"})).unwrap()).await.unwrap();
    let dispatch_url = ports.queues.queue_url(&names.dispatch_queue).await.unwrap();
    // The original's producers publish to lava-<realm>-dispatch; the template's subscription
    // delivers the request to the dispatch queue as it was published (raw delivery). moto's
    // CloudFormation skips AWS::SNS::Subscription: it is made from the template through SNS.
    let topic = format!("arn:aws:sns:us-east-1:123456789012:lava-{realm}-dispatch");
    let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{}", names.dispatch_queue);
    let resolver = realm_template(
        &[("Realm", &realm)],
        &[("DispatchTopic", &topic), ("DispatchQueue.Arn", &queue_arn), ("S3TriggerFunction", "s3trigger-fn")],
    );
    // Buckets of this account (only) may invoke the s3trigger function directly.
    let permission = resolver.properties("S3TriggerFromBuckets").unwrap();
    assert_eq!(
        (&permission["FunctionName"], &permission["Principal"], &permission["SourceAccount"]),
        (&json!("s3trigger-fn"), &json!("s3.amazonaws.com"), &json!("123456789012"))
    );
    let subscription = resolver.properties("DispatchTopicSubscription").unwrap();
    assert_eq!(subscription["TopicArn"], topic.as_str());
    let raw = subscription["RawMessageDelivery"].to_string();
    cli(Command::new(venv_tool("aws")).args([
        "sns",
        "subscribe",
        "--topic-arn",
        &topic,
        "--protocol",
        subscription["Protocol"].as_str().unwrap(),
        "--notification-endpoint",
        subscription["Endpoint"].as_str().unwrap(),
        "--attributes",
        &format!("RawMessageDelivery={raw}"),
    ]));
    let request = json!({"job_id": "cf/hello"}).to_string();
    cli(Command::new(venv_tool("aws")).args(["sns", "publish", "--topic-arn", &topic, "--message", &request]));
    let received = ports.queues.receive(&dispatch_url, 1, 5).await.unwrap();
    assert_eq!(received.len(), 1, "the template's dispatch queue holds the request");
    assert_eq!(received[0].body, request, "delivered raw");
    let function = shared::dispatch::function::DispatchFunction::load(names.clone(), vec![], &ports).await.unwrap();
    let incoming: Vec<shared::ports::Incoming> = received
        .iter()
        .map(|m| shared::ports::Incoming { message_id: m.message_id.clone(), body: m.body.clone(), receive_count: 1 })
        .collect();
    assert!(function.handle(incoming).await.is_empty());
    let options = lava_tests::worker_options(&realm, 1, vec![]);
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

/// The realm's people, as the original models them: reader, operator and admin policies (made
/// by the stack), a group each (moto's CloudFormation skips groups: read from the template)
/// with the reader policy also in the operators', and the user key.
fn the_realms_people_are_the_originals(realm: &str) {
    let policy = |p: &str| format!("arn:aws:iam::123456789012:policy/lava-{realm}-{p}");
    for p in ["reader", "operator", "admin"] {
        cli(Command::new(venv_tool("aws")).args(["iam", "get-policy", "--policy-arn", &policy(p)]));
    }
    let people = realm_template(
        &[("Realm", realm)],
        &[
            ("ReaderPolicy", &policy("reader")),
            ("OperatorPolicy", &policy("operator")),
            ("AdminPolicy", &policy("admin")),
        ],
    );
    for (group, policies) in
        [("ReaderGroup", vec!["reader"]), ("OperatorGroup", vec!["reader", "operator"]), ("AdminGroup", vec!["admin"])]
    {
        let properties = people.properties(group).unwrap();
        let name = group.trim_end_matches("Group").to_lowercase();
        assert_eq!(properties["GroupName"], format!("lava-{realm}-{name}"));
        assert_eq!(properties["ManagedPolicyArns"], json!(policies.iter().map(|p| policy(p)).collect::<Vec<_>>()));
    }
    let aliases = cli(Command::new(venv_tool("aws")).args(["kms", "list-aliases"]));
    assert!(aliases.contains(&format!("alias/lava-{realm}-user")), "the realm's user key");
}

/// `ExistingRealm=Yes` deploys the realm template onto a realm the original's template made
/// (its tables as the original makes them, its bucket, notices and dispatch topics and system
/// key alias): the stack creates none of them, leaves the tables' indexes as they are, and names
/// its dispatch and s3trigger functions beside the original's; its subscription takes the
/// original's dispatch topic.
#[tokio::test]
async fn the_template_deploys_onto_a_realm_the_originals_template_made() {
    use shared::aws::provision;
    let realm = unique("cfx");
    let names = shared::names::ResourceNames::for_realm(&realm);
    let clients = lava_tests::clients().await;
    let bucket = format!("lava-{realm}-original");
    for table in names.original_tables().into_iter().filter(|t| t.name != "lava.realms") {
        provision::create_table(&clients, &table).await.unwrap();
    }
    provision::create_bucket(&clients, &bucket).await.unwrap();
    let topic = provision::create_topic(&clients, &format!("lava-{realm}-dispatch")).await.unwrap();
    provision::create_topic(&clients, &format!("lava-{realm}-notices")).await.unwrap();
    provision::create_key_alias(&clients, &format!("alias/lava-{realm}-sys")).await.unwrap();

    let types = [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::Events::Rule",
    ];
    let stack = format!("lava-{}", realm.replace('_', "-"));
    let parameters = [
        ("Realm", realm.as_str()),
        ("BucketName", &bucket),
        ("CreateRealmsTable", "No"),
        ("ExistingRealm", "Yes"),
        ("ScheduleState", "DISABLED"),
    ];
    create_stack(&stack, &deployable(&workspace_root().join("infra/template.yaml"), &types), &parameters);
    let listed: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        &stack,
    ])))
    .unwrap();
    let made: std::collections::BTreeSet<&str> = listed["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ResourceType"].as_str().unwrap())
        // moto lists the resources a false condition left out, with no type.
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        made.into_iter().collect::<Vec<_>>(),
        ["AWS::Events::Rule", "AWS::SQS::Queue"],
        "only the stack's own queues and schedule rule: {listed}"
    );
    // Deployed with the schedule off, while the original's cron nodes still dispatch.
    let rule: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "events",
        "describe-rule",
        "--name",
        &format!("lava-{realm}---schedule"),
    ])))
    .unwrap();
    assert_eq!(rule["State"], "DISABLED", "{rule}");
    let described: Value = describe_table(&names.jobs_table);
    assert_eq!(described["Table"]["GlobalSecondaryIndexes"][0]["IndexName"], "dispatcher-index");
    assert_eq!(described["Table"]["GlobalSecondaryIndexes"].as_array().unwrap().len(), 1, "the original's indexes");

    let resolver = realm_template(
        &parameters,
        &[
            ("DispatchQueue.Arn", &format!("arn:aws:sqs:us-east-1:123456789012:{}", names.dispatch_queue)),
            ("S3EventsQueue.Arn", "arn:aws:sqs:us-east-1:123456789012:s3events"),
            ("ActionsQueue.Arn", "arn:aws:sqs:us-east-1:123456789012:actions"),
        ],
    );
    assert!(!resolver.holds("NewRealm"));
    for (function, name) in [("DispatchFunction", "dispatch"), ("S3TriggerFunction", "s3trigger")] {
        let properties = resolver.properties(function).unwrap();
        assert_eq!(properties["FunctionName"], format!("lava-{realm}-rs-{name}"), "beside the original's");
    }
    for resource in ["JobsTable", "EventsTable", "LavaBucket", "DispatchTopic", "NoticesTopic", "SysKey", "SysKeyAlias"]
    {
        assert!(resolver.properties(resource).is_none(), "{resource} is the original's");
    }
    assert_eq!(resolver.properties("DispatchTopicSubscription").unwrap()["TopicArn"], topic.as_str());
}

/// An EC2 fleet's instances follow its tasks and leave drained: the worker stack's Auto Scaling
/// group sits behind an ECS capacity provider with managed scaling, managed termination
/// protection and managed draining (ECS's lifecycle hook holds a leaving instance while its
/// workers get SIGTERM and their stop timeout), the cluster and service use that provider, and
/// moto's ECS and Auto Scaling accept the group and provider the template describes.
#[tokio::test]
async fn an_ec2_fleet_scales_its_instances_to_its_tasks_and_drains_on_scale_in() {
    let realm = unique("ec2");
    let fleet = "big";
    let group = format!("lava-{realm}-{fleet}");
    let source: Value =
        serde_norway::from_str(&std::fs::read_to_string(workspace_root().join("infra/worker.yaml")).unwrap()).unwrap();
    let parameters = [
        ("Realm", realm.as_str()),
        ("Worker", fleet),
        ("ImageUri", "lava-worker:test"),
        ("BucketName", "lava-ec2-bucket"),
        ("LaunchType", "EC2"),
        ("Subnets", "subnet-0a1b2c3d"),
        ("SecurityGroups", "sg-0a1b2c3d"),
        ("InstanceCount", "5"),
    ];
    let template = lava_tests::cfn::Template::new(
        source,
        &parameters,
        &[
            ("WorkerCapacity", &group),
            ("CapacityProvider", &group),
            ("LaunchTemplate", "lt-0123"),
            ("LaunchTemplate.LatestVersionNumber", "1"),
            ("Cluster", &group),
            ("WorkerTask", "task-def"),
            ("WorkerLogGroup", "/lava/ec2/big"),
            ("TaskRole.Arn", "arn:aws:iam::123456789012:role/task"),
            ("ExecutionRole.Arn", "arn:aws:iam::123456789012:role/execution"),
            ("InstanceProfile.Arn", "arn:aws:iam::123456789012:instance-profile/p"),
        ],
    );
    let provider = template.properties("CapacityProvider").expect("an EC2 fleet has a capacity provider");
    let asg_provider = &provider["AutoScalingGroupProvider"];
    assert_eq!(asg_provider["AutoScalingGroupArn"], group.as_str());
    assert_eq!(asg_provider["ManagedScaling"]["Status"], "ENABLED");
    assert_eq!(asg_provider["ManagedTerminationProtection"], "ENABLED");
    assert_eq!(asg_provider["ManagedDraining"], "ENABLED", "scale-in drains through ECS's lifecycle hook");
    let capacity = template.properties("WorkerCapacity").unwrap();
    assert_eq!(capacity["NewInstancesProtectedFromScaleIn"], true);
    assert_eq!(capacity["MaxSize"], "5");
    assert!(capacity.get("DesiredCapacity").is_none(), "managed scaling sets the desired count");
    let service = template.properties("WorkerService").unwrap();
    assert!(service.get("LaunchType").is_none(), "{service}");
    assert_eq!(service["CapacityProviderStrategy"], json!([{"CapacityProvider": group, "Weight": 1}]));
    assert_eq!(template.properties("Cluster").unwrap()["CapacityProviders"], json!([group]));
    let task = template.properties("WorkerTask").unwrap();
    assert_eq!(task["ContainerDefinitions"][0]["StopTimeout"], 120, "the workers' time to end or release jobs");

    // moto takes the group and the provider as the template describes them.
    let template_data = json!({"LaunchTemplateName": group, "LaunchTemplateData": {"ImageId": "ami-12c6146b", "InstanceType": "t3.large"}});
    cli(Command::new(venv_tool("aws"))
        .args(["ec2", "create-launch-template", "--cli-input-json"])
        .arg(template_data.to_string()));
    let asg = json!({
        "AutoScalingGroupName": group,
        "MinSize": 0,
        "MaxSize": 5,
        "NewInstancesProtectedFromScaleIn": capacity["NewInstancesProtectedFromScaleIn"],
        "LaunchTemplate": {"LaunchTemplateName": group, "Version": "$Latest"},
        "AvailabilityZones": ["us-east-1a"],
    });
    cli(Command::new(venv_tool("aws"))
        .args(["autoscaling", "create-auto-scaling-group", "--cli-input-json"])
        .arg(asg.to_string()));
    let create = json!({
        "name": provider["Name"],
        "autoScalingGroupProvider": {
            "autoScalingGroupArn": asg_provider["AutoScalingGroupArn"],
            "managedScaling": {"status": "ENABLED", "targetCapacity": 100},
            "managedTerminationProtection": asg_provider["ManagedTerminationProtection"],
        },
    });
    cli(Command::new(venv_tool("aws"))
        .args(["ecs", "create-capacity-provider", "--cli-input-json"])
        .arg(create.to_string()));
    let described: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "ecs",
        "describe-capacity-providers",
        "--capacity-providers",
        &group,
    ])))
    .unwrap();
    let found = &described["capacityProviders"][0]["autoScalingGroupProvider"];
    assert_eq!(found["managedScaling"]["status"], "ENABLED", "{described}");
    assert_eq!(found["managedTerminationProtection"], "ENABLED", "{described}");
}

/// Numbers where an API takes numbers (a template gives parameters as text).
fn numbers(mut v: Value) -> Value {
    const NUMERIC: &[&str] = &[
        "MinCapacity",
        "MaxCapacity",
        "TargetValue",
        "ScaleInCooldown",
        "ScaleOutCooldown",
        "Threshold",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
    ];
    if let Value::Object(map) = &mut v {
        for (k, value) in map.iter_mut() {
            if NUMERIC.contains(&k.as_str())
                && let Some(text) = value.as_str()
            {
                *value = match text.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => json!(text.parse::<f64>().unwrap()),
                };
            } else {
                *value = numbers(value.take());
            }
        }
    }
    v
}

/// The worker stack's ECS resources go into moto through CloudFormation; its scaling target and
/// policy, heartbeat metric filter and alarm (types moto's CloudFormation skips) are created
/// from the same template through their own APIs. The policy tracks the metric the stack's
/// workers put: a worker with the task's environment puts `WorkerBacklog`, and CloudWatch has it
/// under the policy's namespace, name and dimensions.
#[tokio::test]
async fn the_worker_stack_scales_on_the_backlog_its_workers_put() {
    let r = lava_tests::TestRealm::up("wsc").await;
    let realm = r.names.realm.clone();
    let fleet = "fleet";
    let path = workspace_root().join("infra/worker.yaml");
    let source: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let created = [
        "AWS::SQS::Queue",
        "AWS::IAM::Role",
        "AWS::ECS::Cluster",
        "AWS::ECS::TaskDefinition",
        "AWS::ECS::Service",
        "AWS::Logs::LogGroup",
    ];
    let mut stack = deployable(&path, &created);
    // The EC2 capacity (and its AMI parameter, an SSM lookup) is not part of a Fargate fleet.
    stack["Parameters"].as_object_mut().unwrap().remove("EcsAmiId");
    let alarms = "arn:aws:sns:us-east-1:123456789012:lava-alarms";
    let parameters = [
        ("Realm", realm.as_str()),
        ("Worker", fleet),
        ("ImageUri", "lava-worker:test"),
        ("BucketName", "lava-wsc-bucket"),
        ("LaunchType", "FARGATE"),
        ("Subnets", "subnet-0a1b2c3d"),
        ("SecurityGroups", "sg-0a1b2c3d"),
        ("BacklogTarget", "5"),
        ("MinCount", "1"),
        ("MaxCount", "6"),
        ("AlarmTopicArn", alarms),
    ];
    let stack_name = format!("lava-{}-{fleet}", realm.replace('_', "-"));
    create_stack(&stack_name, &stack, &parameters);
    let resources: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "cloudformation",
        "describe-stack-resources",
        "--stack-name",
        &stack_name,
    ])))
    .unwrap();
    let physical: Vec<(String, String)> = resources["StackResources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((r["LogicalResourceId"].as_str()?.to_string(), r["PhysicalResourceId"].as_str()?.to_string()))
        })
        .collect();
    let mut physical: Vec<(&str, &str)> = physical.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // What CloudFormation's Ref of the (API-created) scalable target gives; the policy below
    // names its target by service, resource and dimension instead.
    physical.push(("ScalableTarget", "scalable-target"));
    let template = lava_tests::cfn::Template::new(source, &parameters, &physical);

    // Scaling: the target is the stack's ECS service, the policy tracks WorkerBacklog.
    let target = numbers(template.properties("ScalableTarget").expect("scaling is on with a target"));
    cli(Command::new(venv_tool("aws"))
        .args(["application-autoscaling", "register-scalable-target", "--cli-input-json"])
        .arg(target.to_string()));
    let mut policy = numbers(template.properties("BacklogScalingPolicy").unwrap());
    let policy_map = policy.as_object_mut().unwrap();
    policy_map.remove("ScalingTargetId");
    for key in ["ServiceNamespace", "ResourceId", "ScalableDimension"] {
        policy_map.insert(key.into(), target[key].clone());
    }
    cli(Command::new(venv_tool("aws"))
        .args(["application-autoscaling", "put-scaling-policy", "--cli-input-json"])
        .arg(policy.to_string()));
    let service = format!("lava-{realm}-{fleet}");
    let described: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "application-autoscaling",
        "describe-scalable-targets",
        "--service-namespace",
        "ecs",
    ])))
    .unwrap();
    let target = described["ScalableTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["ResourceId"] == format!("service/{service}/{service}"))
        .unwrap_or_else(|| panic!("no scalable target for the service: {described:#}"));
    assert_eq!((target["MinCapacity"].as_i64(), target["MaxCapacity"].as_i64()), (Some(1), Some(6)));
    let found = r.clients.ecs.describe_services().cluster(&service).services(&service).send().await.unwrap();
    assert_eq!(found.services().len(), 1, "the stack's service is the scalable target's");
    let policies: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "application-autoscaling",
        "describe-scaling-policies",
        "--service-namespace",
        "ecs",
        "--resource-id",
        &format!("service/{service}/{service}"),
    ])))
    .unwrap();
    let tracking = &policies["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(tracking["TargetValue"].as_f64(), Some(5.0));
    let metric = &tracking["CustomizedMetricSpecification"];
    assert_eq!((metric["Namespace"].as_str(), metric["MetricName"].as_str()), (Some("Lava"), Some("WorkerBacklog")));

    // Heartbeats: the metric filter on the worker's log group and the alarm on its metric.
    let filter = template.properties("HeartbeatMetricFilter").unwrap();
    let transformation = &filter["MetricTransformations"][0];
    let input = json!({
        "logGroupName": filter["LogGroupName"],
        "filterName": "heartbeat",
        "filterPattern": filter["FilterPattern"],
        "metricTransformations": [{"metricName": transformation["MetricName"], "metricNamespace": transformation["MetricNamespace"], "metricValue": transformation["MetricValue"]}],
    });
    cli(Command::new(venv_tool("aws")).args(["logs", "put-metric-filter", "--cli-input-json"]).arg(input.to_string()));
    assert_eq!(filter["LogGroupName"], format!("/lava/{realm}/{fleet}"));
    let pattern = filter["FilterPattern"].as_str().unwrap();
    assert!(
        pattern.contains(r#"$.event_type="heartbeat""#) && pattern.contains(&format!(r#"$.worker="{fleet}""#)),
        "{pattern}"
    );
    let alarm = numbers(template.properties("HeartbeatAlarmResource").unwrap());
    cli(Command::new(venv_tool("aws"))
        .args(["cloudwatch", "put-metric-alarm", "--cli-input-json"])
        .arg(alarm.to_string()));
    assert_eq!(alarm["MetricName"], transformation["MetricName"], "the alarm watches the filter's metric");
    assert_eq!(alarm["Namespace"], transformation["MetricNamespace"]);
    assert_eq!(alarm["AlarmActions"], json!([alarms]));
    let described: Value = serde_json::from_str(&cli(Command::new(venv_tool("aws")).args([
        "cloudwatch",
        "describe-alarms",
        "--alarm-names",
        &format!("lava-{realm}-{fleet}-heartbeat"),
    ])))
    .unwrap();
    assert_eq!(described["MetricAlarms"][0]["TreatMissingData"], "breaching");

    // The task CloudFormation registered runs the worker with heartbeats and JSON logs, and
    // tells it its service.
    let task = r.clients.ecs.describe_task_definition().task_definition(&service).send().await.unwrap();
    let container = &task.task_definition().unwrap().container_definitions()[0];
    let command = container.command();
    assert!(
        command.windows(2).any(|w| w == ["--heartbeat", "60"]) && command.contains(&"--log-json".to_string()),
        "{command:?}"
    );
    let env: Vec<(String, String)> = container
        .environment()
        .iter()
        .map(|e| (e.name().unwrap().to_string(), e.value().unwrap().to_string()))
        .collect();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!((var("LAVA_WORKER_ECS_CLUSTER"), var("LAVA_WORKER_ECS_SERVICE")), (service.clone(), service.clone()));

    // A worker with that environment, three running tasks and nine waiting messages: a backlog
    // of 3, found in CloudWatch under the policy's metric.
    r.clients.ecs.update_service().cluster(&service).service(&service).desired_count(3).send().await.unwrap();
    let options = shared::worker::WorkerOptions {
        worker: fleet.into(),
        batch: false,
        ..lava_tests::worker_options(&realm, 1, env.clone())
    };
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();
    let queue = r.queue_url(&r.names.worker_queue(fleet)).await;
    for i in 0..9 {
        use shared::ports::WorkQueue;
        r.queues
            .send(&queue, &OutgoingMessage { body: format!("{{\"n\": {i}}}"), ..Default::default() })
            .await
            .unwrap();
    }
    assert_eq!(worker.put_backlog(&var("LAVA_WORKER_ECS_CLUSTER"), &var("LAVA_WORKER_ECS_SERVICE")).await, Some(3.0));
    let dims: Vec<aws_sdk_cloudwatch::types::Dimension> = metric["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name(d["Name"].as_str().unwrap())
                .value(d["Value"].as_str().unwrap())
                .build()
        })
        .collect();
    let now = jiff::Timestamp::now().as_second();
    let out = r
        .clients
        .cloudwatch
        .get_metric_statistics()
        .namespace(metric["Namespace"].as_str().unwrap())
        .metric_name(metric["MetricName"].as_str().unwrap())
        .set_dimensions(Some(dims))
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now - 600))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now + 60))
        .period(60)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Average)
        .send()
        .await
        .unwrap();
    let averages: Vec<f64> = out.datapoints().iter().filter_map(|p| p.average()).collect();
    assert_eq!(averages, [3.0], "the policy's metric, as the worker put it");
}
