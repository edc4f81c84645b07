//! Creating a realm's resources (the local realm, and test fixtures) with the same names, keys and
//! indexes the templates create. Every call is idempotent: an existing resource is left as it is.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::{Clients, aws_error};
use crate::error::{Error, Result};
use crate::names::{IndexDef, TableDef};

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("name and type are set")
}

fn projection(index: &IndexDef) -> Projection {
    match index.include {
        None => Projection::builder().projection_type(ProjectionType::All).build(),
        Some(attrs) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attrs.iter().map(|a| a.to_string()).collect()))
            .build(),
    }
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn throughput((read, write): (i64, i64)) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .expect("units are set")
}

/// Creates a table (on-demand billing, or `capacity` provisioned) with its indexes and TTL,
/// unless it exists.
pub async fn create_table(clients: &Clients, def: &TableDef) -> Result<()> {
    let mut attributes: Vec<&str> = vec![def.hash_key];
    attributes.extend(def.range_key);
    for index in def.global_indexes.iter().chain(&def.local_indexes) {
        attributes.extend([index.hash_key, index.range_key]);
    }
    attributes.sort_unstable();
    attributes.dedup();
    let mut schema = vec![key(def.hash_key, KeyType::Hash)];
    schema.extend(def.range_key.map(|r| key(r, KeyType::Range)));
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(&def.name)
        .billing_mode(if def.capacity.is_some() { BillingMode::Provisioned } else { BillingMode::PayPerRequest })
        .set_provisioned_throughput(def.capacity.map(throughput))
        .set_key_schema(Some(schema))
        .set_attribute_definitions(Some(attributes.iter().map(|a| attribute(a)).collect()));
    for index in &def.global_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash))
                .key_schema(key(index.range_key, KeyType::Range))
                .projection(projection(index))
                .set_provisioned_throughput(def.capacity.map(throughput))
                .build()
                .expect("index fields are set"),
        );
    }
    for index in &def.local_indexes {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash))
                .key_schema(key(index.range_key, KeyType::Range))
                .projection(projection(index))
                .build()
                .expect("index fields are set"),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(aws_error("dynamodb", "CreateTable", e)),
    }
    if let Some(ttl) = def.ttl_attribute {
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(&def.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(ttl).enabled(true).build().expect("fields are set"),
            )
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "UpdateTimeToLive", e))?;
    }
    Ok(())
}

/// Adds to the existing table `def.name` the global indexes of `def` it lacks (a table the
/// original's template made lacks this project's own), online: DynamoDB fills a new index while
/// the table stays in use. An index on a table with provisioned capacity gets the table's.
/// Returns the names of the indexes it added; none when the table has them all.
pub async fn add_missing_indexes(clients: &Clients, def: &TableDef) -> Result<Vec<&'static str>> {
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(&def.name)
        .send()
        .await
        .map_err(|e| aws_error("dynamodb", "DescribeTable", e))?;
    let table = described.table();
    let present: Vec<&str> =
        table.map(|t| t.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect()).unwrap_or_default();
    let on_demand = table
        .and_then(|t| t.billing_mode_summary())
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    let capacity = table.and_then(|t| t.provisioned_throughput()).and_then(|p| {
        Some((p.read_capacity_units()?, p.write_capacity_units()?)).filter(|(r, w)| !on_demand && *r > 0 && *w > 0)
    });
    let mut added = Vec::new();
    for index in def.global_indexes.iter().filter(|i| !present.contains(&i.name)) {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .key_schema(key(index.hash_key, KeyType::Hash))
            .key_schema(key(index.range_key, KeyType::Range))
            .projection(projection(index))
            .set_provisioned_throughput(capacity.map(throughput))
            .build()
            .expect("index fields are set");
        clients
            .dynamodb
            .update_table()
            .table_name(&def.name)
            .attribute_definitions(attribute(index.hash_key))
            .attribute_definitions(attribute(index.range_key))
            .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "UpdateTable", e))?;
        added.push(index.name);
    }
    Ok(added)
}

/// Creates a standard queue and its dead-letter queue (`<name>-dlq`, messages moved there after
/// `max_receives` receipts); returns the queue's URL.
pub async fn create_queue_with_dlq(
    clients: &Clients,
    name: &str,
    visibility_seconds: u32,
    max_receives: u32,
) -> Result<String> {
    let dlq_url = create_queue(clients, &crate::names::ResourceNames::dead_letter_queue(name), &[]).await?;
    let dlq_arn = queue_arn(clients, &dlq_url).await?;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
    create_queue(
        clients,
        name,
        &[
            (QueueAttributeName::VisibilityTimeout, visibility_seconds.to_string()),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await
}

/// Creates a standard queue with the given attributes; returns its URL.
pub async fn create_queue(
    clients: &Clients,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String> {
    let mut request = clients.sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        request = request.attributes(k.clone(), v);
    }
    let out = request.send().await.map_err(|e| aws_error("sqs", "CreateQueue", e))?;
    out.queue_url.ok_or_else(|| Error::unexpected(name.to_string(), "CreateQueue returned no URL"))
}

/// Creates a FIFO queue (`name` must end with `.fifo`); returns its URL.
pub async fn create_fifo_queue(clients: &Clients, name: &str) -> Result<String> {
    create_queue(clients, name, &[(QueueAttributeName::FifoQueue, "true".into())]).await
}

/// The ARN of a queue.
pub async fn queue_arn(clients: &Clients, queue_url: &str) -> Result<String> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error("sqs", "GetQueueAttributes", e))?;
    out.attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| Error::unexpected(queue_url.to_string(), "queue has no ARN"))
}

/// Creates a bucket unless it exists (in the client's region).
pub async fn create_bucket(clients: &Clients, bucket: &str) -> Result<()> {
    let region = clients.s3.config().region().map(|r| r.to_string()).unwrap_or_default();
    let mut request = clients.s3.create_bucket().bucket(bucket);
    if !region.is_empty() && region != "us-east-1" {
        let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
            .build();
        request = request.create_bucket_configuration(location);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("s3", "CreateBucket", e)),
    }
}

/// Creates an SNS topic (idempotent); returns its ARN.
pub async fn create_topic(clients: &Clients, name: &str) -> Result<String> {
    let out = clients.sns.create_topic().name(name).send().await.map_err(|e| aws_error("sns", "CreateTopic", e))?;
    out.topic_arn.ok_or_else(|| Error::unexpected(name.to_string(), "CreateTopic returned no ARN"))
}

/// Subscribes a queue to a topic with raw message delivery.
pub async fn subscribe_queue(clients: &Clients, topic_arn: &str, queue_arn: &str) -> Result<()> {
    clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .map_err(|e| aws_error("sns", "Subscribe", e))?;
    Ok(())
}

/// Verifies an SES identity (an address or a domain) so it can send.
pub async fn verify_email_identity(clients: &Clients, identity: &str) -> Result<()> {
    match clients.ses.create_email_identity().email_identity(identity).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => Ok(()),
        Err(e) => Err(aws_error("sesv2", "CreateEmailIdentity", e)),
    }
}

/// Creates (or updates) an EventBridge rule on the default bus matching `pattern`, with a queue
/// as its only target.
pub async fn route_events_to_queue(clients: &Clients, rule: &str, pattern: &str, queue_arn: &str) -> Result<()> {
    route_events(clients, rule, Trigger::Pattern(pattern), queue_arn, None).await
}

/// Creates (or updates) a rule on the default bus that fires on `schedule` (`rate(1 minute)`)
/// with a queue as its only target: the realm template's schedule rule, where the emulator
/// fires schedules (LocalStack does, moto does not).
pub async fn schedule_to_queue(clients: &Clients, rule: &str, schedule: &str, queue_arn: &str) -> Result<()> {
    route_events(clients, rule, Trigger::Schedule(schedule), queue_arn, None).await
}

/// What fires a rule.
enum Trigger<'a> {
    /// Events that match this pattern.
    Pattern(&'a str),
    /// This schedule expression.
    Schedule(&'a str),
}

/// Creates (or updates) a rule that turns each matching event into a dispatch request on the
/// realm's dispatch queue: `input_paths` names values of the event (`{"file": "$.detail.key"}`)
/// that `template` uses (`{"job_id": "ingest/a", "globals": {"file": "<file>"}}`; strings are
/// inserted without quotes, as EventBridge does).
pub async fn route_events_to_dispatch(
    clients: &Clients,
    rule: &str,
    pattern: &str,
    queue_arn: &str,
    input_paths: &[(&str, &str)],
    template: &str,
) -> Result<()> {
    let mut transformer = aws_sdk_eventbridge::types::InputTransformer::builder().input_template(template);
    for (name, path) in input_paths {
        transformer = transformer.input_paths_map(*name, *path);
    }
    let transformer = transformer.build().map_err(|e| Error::unexpected(rule.to_string(), e.to_string()))?;
    route_events(clients, rule, Trigger::Pattern(pattern), queue_arn, Some(transformer)).await
}

async fn route_events(
    clients: &Clients,
    rule: &str,
    trigger: Trigger<'_>,
    queue_arn: &str,
    transformer: Option<aws_sdk_eventbridge::types::InputTransformer>,
) -> Result<()> {
    let put = clients.events.put_rule().name(rule);
    let put = match trigger {
        Trigger::Pattern(pattern) => put.event_pattern(pattern),
        Trigger::Schedule(schedule) => put.schedule_expression(schedule),
    };
    put.send().await.map_err(|e| aws_error("events", "PutRule", e))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .set_input_transformer(transformer)
        .build()
        .map_err(|e| Error::unexpected(rule.to_string(), e.to_string()))?;
    clients
        .events
        .put_targets()
        .rule(rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| aws_error("events", "PutTargets", e))?;
    Ok(())
}

/// Makes `bucket` send a notification to the queue `queue_arn` for every object created.
pub async fn notify_queue_on_upload(clients: &Clients, bucket: &str, queue_arn: &str) -> Result<()> {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let queue = QueueConfiguration::builder()
        .queue_arn(queue_arn)
        .events(Event::S3ObjectCreated)
        .build()
        .map_err(|e| Error::unexpected(bucket.to_string(), e.to_string()))?;
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(queue).build())
        .send()
        .await
        .map_err(|e| aws_error("s3", "PutBucketNotificationConfiguration", e))?;
    Ok(())
}

/// Creates an ECS cluster and registers a one-container task definition; returns its ARN.
pub async fn register_task(
    clients: &Clients,
    cluster: &str,
    family: &str,
    container: &str,
    image: &str,
) -> Result<String> {
    clients
        .ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .map_err(|e| aws_error("ecs", "CreateCluster", e))?;
    let definition =
        aws_sdk_ecs::types::ContainerDefinition::builder().name(container).image(image).memory(512).build();
    let out = clients
        .ecs
        .register_task_definition()
        .family(family)
        .container_definitions(definition)
        .send()
        .await
        .map_err(|e| aws_error("ecs", "RegisterTaskDefinition", e))?;
    out.task_definition
        .and_then(|t| t.task_definition_arn)
        .ok_or_else(|| Error::unexpected(family.to_string(), "RegisterTaskDefinition returned no ARN"))
}

/// What a provisioned realm consists of.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmResources {
    /// The realm entry written to the realms table.
    pub realm: crate::model::RealmEntry,
    /// Dispatch queue URL.
    pub dispatch_queue_url: String,
    /// Actions queue URL.
    pub actions_queue_url: String,
    /// S3 events queue URL (object notifications for the s3trigger function).
    pub s3events_queue_url: String,
    /// Worker queue URLs, by worker name.
    pub worker_queue_urls: Vec<(String, String)>,
    /// Notices topic ARN.
    pub notices_topic_arn: String,
}

/// Creates a symmetric KMS key with `alias` unless the alias exists (the realm's `sys` key
/// encrypts secure state items).
pub async fn create_key_alias(clients: &Clients, alias: &str) -> Result<()> {
    if clients.kms.describe_key().key_id(alias).send().await.is_ok() {
        return Ok(());
    }
    let key = clients
        .kms
        .create_key()
        .description(format!("lava {alias}"))
        .send()
        .await
        .map_err(|e| aws_error("kms", "CreateKey", e))?;
    let key_id =
        key.key_metadata.map(|m| m.key_id).ok_or_else(|| Error::unexpected("kms", "CreateKey returned no key"))?;
    clients
        .kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| aws_error("kms", "CreateAlias", e))?;
    Ok(())
}

/// Creates every resource of a realm (tables, bucket, dispatch/actions/worker queues with DLQs,
/// the dispatch topic feeding the dispatch queue, notices topic, the `alias/lava-<realm>-sys` KMS key) and writes its realm entry, unless an
/// entry exists already.
pub async fn realm(
    clients: &Clients,
    names: &crate::names::ResourceNames,
    bucket: &str,
    workers: &[String],
) -> Result<RealmResources> {
    for table in names.tables() {
        create_table(clients, &table).await?;
    }
    create_bucket(clients, bucket).await?;
    let dispatch_queue_url = create_queue_with_dlq(clients, &names.dispatch_queue, 120, 5).await?;
    let actions_queue_url = create_queue_with_dlq(clients, &names.actions_queue, 300, 5).await?;
    let s3events_queue_url = create_queue_with_dlq(clients, &names.s3events_queue(), 120, 5).await?;
    let mut worker_queue_urls = Vec::new();
    for worker in workers {
        let url = create_queue_with_dlq(clients, &names.worker_queue(worker), 3600, 3).await?;
        worker_queue_urls.push((worker.clone(), url));
    }
    let notices_topic_arn = create_topic(clients, &format!("lava-{}-notices", names.realm)).await?;
    let dispatch_topic_arn = create_topic(clients, &names.dispatch_topic()).await?;
    subscribe_queue(clients, &dispatch_topic_arn, &queue_arn(clients, &dispatch_queue_url).await?).await?;
    create_key_alias(clients, &format!("alias/lava-{}-sys", names.realm)).await?;
    let tables = super::DynamoTables::new(clients.dynamodb.clone());
    let catalog = crate::catalog::Catalog::new(std::sync::Arc::new(tables), names.clone());
    let realm = match catalog.realm().await {
        Ok(existing) => existing,
        Err(Error::NotFound { .. }) => {
            let entry = crate::model::RealmEntry::from_value(&serde_json::json!({
                "realm": names.realm,
                "s3_payloads": format!("s3://{bucket}/payloads"),
                "s3_temp": format!("s3://{bucket}/tmp"),
            }))?;
            catalog.put_realm(&entry).await?;
            entry
        }
        Err(e) => return Err(e),
    };
    Ok(RealmResources {
        realm,
        dispatch_queue_url,
        actions_queue_url,
        s3events_queue_url,
        worker_queue_urls,
        notices_topic_arn,
    })
}

/// Stores an SSM parameter (a `SecureString` when `secure`), replacing any value.
pub async fn put_parameter(clients: &Clients, name: &str, value: &str, secure: bool) -> Result<()> {
    let kind = if secure {
        aws_sdk_ssm::types::ParameterType::SecureString
    } else {
        aws_sdk_ssm::types::ParameterType::String
    };
    clients
        .ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| aws_error("ssm", "PutParameter", e))?;
    Ok(())
}

/// Creates a Secrets Manager secret holding `secret_string`.
pub async fn create_secret(clients: &Clients, name: &str, secret_string: &str) -> Result<()> {
    clients
        .secretsmanager
        .create_secret()
        .name(name)
        .secret_string(secret_string)
        .send()
        .await
        .map_err(|e| aws_error("secretsmanager", "CreateSecret", e))?;
    Ok(())
}

/// Writes log lines to a CloudWatch Logs stream, creating the group and stream if needed
/// (local set-ups and tests of ECS task logs).
pub async fn put_log_lines(clients: &Clients, group: &str, stream: &str, lines: &[&str]) -> Result<()> {
    let _ = clients.logs.create_log_group().log_group_name(group).send().await;
    let _ = clients.logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let events: Vec<aws_sdk_cloudwatchlogs::types::InputLogEvent> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(*line)
                .build()
                .expect("timestamp and message are set")
        })
        .collect();
    clients
        .logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| aws_error("logs", "PutLogEvents", e))?;
    Ok(())
}
