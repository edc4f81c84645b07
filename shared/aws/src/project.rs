//! What `lava project` does to an account beyond the tables and the payload uploads: who the
//! caller is (for `lava.aws.*` in sources), EventBridge rules put from the framework's rule
//! specs (replacing a rule of the same name and all its targets, as the original's
//! `event-put-rule`), and removing rules and a payload prefix on uninstall.

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use serde_json::Value;

use super::{Clients, aws_error};
use crate::error::{Error, Result};

/// The caller's account id and ARN.
pub async fn caller_identity(clients: &Clients) -> Result<(String, String)> {
    let me = clients.sts.get_caller_identity().send().await.map_err(|e| aws_error("sts", "GetCallerIdentity", e))?;
    Ok((me.account().unwrap_or_default().to_string(), me.arn().unwrap_or_default().to_string()))
}

/// An EventBridge rule as a framework rule spec gives it.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// The rule's name (`rule_id`).
    pub name: String,
    /// Its bus (`default` unless given).
    pub bus: String,
    /// Its description.
    pub description: String,
    /// `schedule_expression`.
    pub schedule: Option<String>,
    /// `event_pattern`, as JSON text.
    pub pattern: Option<String>,
    /// `enabled` (a rule is disabled unless it says so).
    pub enabled: bool,
    /// `role_arn`.
    pub role_arn: Option<String>,
    /// Its tags, made safe.
    pub tags: Vec<(String, String)>,
    /// `targets`: ARNs, or targets as EventBridge's API spells them (`Id`, `Arn`, `Input`,
    /// `InputPath`, `RoleArn`).
    pub targets: Vec<Value>,
}

/// A target of a rule spec: an ARN (given the id `Id<index>`) or an object of the API's fields.
fn target(index: usize, spec: &Value) -> Result<Target> {
    let bad = |why: String| Error::unexpected(format!("targets[{index}]"), why);
    let builder = match spec {
        Value::String(arn) if arn.starts_with("arn:") => Target::builder().id(format!("Id{index}")).arn(arn),
        Value::String(other) => return Err(bad(format!("Bad target: {other}"))),
        Value::Object(fields) => {
            let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
            if let Some(other) =
                fields.keys().find(|k| !["Id", "Arn", "Input", "InputPath", "RoleArn"].contains(&k.as_str()))
            {
                return Err(bad(format!("{other} is not supported (Id, Arn, Input, InputPath, RoleArn)")));
            }
            Target::builder()
                .set_id(text("Id"))
                .set_arn(text("Arn"))
                .set_input(text("Input"))
                .set_input_path(text("InputPath"))
                .set_role_arn(text("RoleArn"))
        }
        _ => return Err(bad("an ARN or an object".into())),
    };
    builder.build().map_err(|e| bad(e.to_string()))
}

/// Puts `rule`, first removing a rule of the same name and its targets; the lines to report.
pub async fn replace_rule(clients: &Clients, rule: &RuleSpec) -> Result<Vec<String>> {
    let targets = rule.targets.iter().enumerate().map(|(i, t)| target(i, t)).collect::<Result<Vec<_>>>()?;
    let mut lines = delete_rule(clients, &rule.name, &rule.bus).await?;
    let tags = rule
        .tags
        .iter()
        .map(|(k, v)| {
            Tag::builder().key(k).value(v).build().map_err(|e| Error::unexpected(rule.name.clone(), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let made = clients
        .events
        .put_rule()
        .name(&rule.name)
        .event_bus_name(&rule.bus)
        .description(&rule.description)
        .set_schedule_expression(rule.schedule.clone())
        .set_event_pattern(rule.pattern.clone())
        .state(if rule.enabled { RuleState::Enabled } else { RuleState::Disabled })
        .set_role_arn(rule.role_arn.clone())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| aws_error("events", "PutRule", e))?;
    lines.push(format!("Rule {}: Created new rule {}", rule.name, made.rule_arn().unwrap_or_default()));
    if !targets.is_empty() {
        let count = targets.len();
        let put = clients
            .events
            .put_targets()
            .rule(&rule.name)
            .event_bus_name(&rule.bus)
            .set_targets(Some(targets))
            .send()
            .await
            .map_err(|e| aws_error("events", "PutTargets", e))?;
        if let Some(failed) = put.failed_entries().first() {
            return Err(Error::unexpected(
                rule.name.clone(),
                format!(
                    "Bad target: {}: {}: {}",
                    failed.target_id().unwrap_or_default(),
                    failed.error_code().unwrap_or_default(),
                    failed.error_message().unwrap_or_default()
                ),
            ));
        }
        lines.push(format!("Rule {}: Created {count} new target(s)", rule.name));
    }
    Ok(lines)
}

/// Removes the rule `name` on `bus` and its targets, when there is one; the lines to report.
pub async fn delete_rule(clients: &Clients, name: &str, bus: &str) -> Result<Vec<String>> {
    let listed = clients.events.list_targets_by_rule().rule(name).event_bus_name(bus).send().await;
    let old = match listed {
        Ok(listed) => listed.targets().iter().map(|t| t.id().to_string()).collect::<Vec<_>>(),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(vec![]),
        Err(e) => return Err(aws_error("events", "ListTargetsByRule", e)),
    };
    let mut lines = Vec::new();
    if !old.is_empty() {
        let count = old.len();
        clients
            .events
            .remove_targets()
            .rule(name)
            .event_bus_name(bus)
            .set_ids(Some(old))
            .force(true)
            .send()
            .await
            .map_err(|e| aws_error("events", "RemoveTargets", e))?;
        lines.push(format!("Rule {name}: Deleted {count} old target(s)"));
    }
    clients
        .events
        .delete_rule()
        .name(name)
        .event_bus_name(bus)
        .force(true)
        .send()
        .await
        .map_err(|e| aws_error("events", "DeleteRule", e))?;
    lines.push(format!("Rule {name}: Deleted old rule"));
    Ok(lines)
}

/// Deletes every object under `prefix` in `bucket`; how many there were.
pub async fn delete_prefix(clients: &Clients, bucket: &str, prefix: &str) -> Result<usize> {
    let mut deleted = 0;
    let mut token = None;
    loop {
        let page = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| aws_error("s3", "ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            clients
                .s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| aws_error("s3", "DeleteObject", e))?;
            deleted += 1;
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(deleted);
        }
    }
}
