//! DynamoDB: the [`TableStore`] and [`EventLog`] ports.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

use super::aws_error;
use super::item::{from_attributes, to_attribute, to_attributes};
use crate::error::{Error, Result};
use crate::model::{Claim, EventUpdate, LEASE_DONE, LEASE_RELEASED, LeaseRequest, lease_attributes as lease};
use crate::ports::{EventLog, Item, RangeQuery, TableStore};

/// lava's tables on DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoTables {
    client: Client,
}

impl DynamoTables {
    /// Every item of `table` (whose string attribute equals the value, given a filter), page by
    /// page, calling `progress` with the count read so far after each.
    async fn scan(
        &self,
        table: &str,
        filter: Option<(&str, &str)>,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self.client.scan().table_name(table).set_exclusive_start_key(start.take());
            if let Some((attribute, value)) = filter {
                request = request
                    .filter_expression("#a = :v")
                    .expression_attribute_names("#a", attribute)
                    .expression_attribute_values(":v", AttributeValue::S(value.to_string()));
            }
            let out = request.send().await.map_err(|e| aws_error("dynamodb", "Scan", e))?;
            for item in out.items() {
                items.push(from_attributes(item)?);
            }
            progress(items.len());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Whether the event write `update` is already on the run's item (its id in `write_ids`).
    async fn write_landed(&self, table: &str, update: &EventUpdate) -> Result<bool> {
        let item = self
            .client
            .get_item()
            .table_name(table)
            .key("job_id", AttributeValue::S(update.job_id.clone()))
            .key("run_id", AttributeValue::S(update.run_id.clone()))
            .projection_expression("#writes")
            .expression_attribute_names("#writes", lease::WRITES)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "GetItem", e))?;
        let landed = item.item.and_then(|i| {
            i.get(lease::WRITES).map(|w| match w {
                AttributeValue::L(ids) => ids.iter().any(|id| id.as_s().is_ok_and(|id| *id == update.write_id)),
                // Items written by earlier builds of this project kept a string set.
                AttributeValue::Ss(ids) => ids.contains(&update.write_id),
                _ => false,
            })
        });
        Ok(landed.unwrap_or(false))
    }

    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        DynamoTables { client }
    }
}

#[async_trait]
impl TableStore for DynamoTables {
    async fn get_item(&self, table: &str, key: &Item, consistent: bool) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(to_attributes(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "GetItem", e))?;
        out.item.as_ref().map(from_attributes).transpose()
    }

    async fn put_item(&self, table: &str, item: Item) -> Result<()> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(to_attributes(&item)))
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "PutItem", e))?;
        Ok(())
    }

    async fn set_attribute(&self, table: &str, key: &Item, name: &str, value: serde_json::Value) -> Result<()> {
        self.client
            .update_item()
            .table_name(table)
            .set_key(Some(to_attributes(key)))
            .update_expression("SET #field = :value")
            .expression_attribute_names("#field", name)
            .expression_attribute_values(":value", to_attribute(&value))
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "UpdateItem", e))?;
        Ok(())
    }

    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(to_attributes(&item)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", key_attribute)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(aws_error("dynamodb", "PutItem", e)),
        }
    }

    async fn delete_item(&self, table: &str, key: &Item) -> Result<()> {
        self.client
            .delete_item()
            .table_name(table)
            .set_key(Some(to_attributes(key)))
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "DeleteItem", e))?;
        Ok(())
    }

    async fn scan_items(&self, table: &str) -> Result<Vec<Item>> {
        self.scan_items_reporting(table, &|_| {}).await
    }

    async fn scan_items_reporting(&self, table: &str, progress: &(dyn Fn(usize) + Send + Sync)) -> Result<Vec<Item>> {
        self.scan(table, None, progress).await
    }

    async fn scan_where(&self, table: &str, attribute: &str, value: &str) -> Result<Vec<Item>> {
        self.scan(table, Some((attribute, value)), &|_| {}).await
    }

    async fn query_range(&self, table: &str, query: &RangeQuery) -> Result<Vec<Item>> {
        let (condition, names, values) = range_condition(query);
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = i32::try_from(limit - items.len()).unwrap_or(i32::MAX).min(1000);
            let out = self
                .client
                .query()
                .table_name(table)
                .set_index_name(query.index.clone())
                .key_condition_expression(&condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!query.descending)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "Query", e))?;
            for item in out.items() {
                items.push(from_attributes(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() && items.len() < limit => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

/// The key condition of a range query, with its names and values.
fn range_condition(query: &RangeQuery) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let mut names = HashMap::from([("#h".to_string(), query.hash.0.clone())]);
    let mut values = HashMap::from([(":h".to_string(), AttributeValue::S(query.hash.1.clone()))]);
    let mut condition = "#h = :h".to_string();
    if let Some(range) = &query.range {
        let bound = match (&range.from, &range.to) {
            (Some(_), Some(_)) => " AND #r BETWEEN :from AND :to",
            (Some(_), None) => " AND #r >= :from",
            (None, Some(_)) => " AND #r <= :to",
            (None, None) => "",
        };
        if !bound.is_empty() {
            condition.push_str(bound);
            names.insert("#r".into(), range.name.clone());
        }
        if let Some(from) = &range.from {
            values.insert(":from".into(), AttributeValue::S(from.clone()));
        }
        if let Some(to) = &range.to {
            values.insert(":to".into(), AttributeValue::S(to.clone()));
        }
    }
    (condition, names, values)
}

#[async_trait]
impl EventLog for DynamoTables {
    /// One `UpdateItem` per write, in the original's item format: the last event's status and
    /// times at the top level, and every entry appended to `log` in order (created on the first
    /// write).
    async fn append(&self, table: &str, update: &EventUpdate) -> Result<()> {
        let last = update.last();
        let entries = update
            .entries
            .iter()
            .map(|e| to_attribute(&serde_json::to_value(e).expect("an event entry always serialises")))
            .collect();
        let s = |v: &str| AttributeValue::S(v.to_string());
        let mut sets = vec![
            "#ts_dispatch = :ts_dispatch",
            "#status = :status",
            "#ts_event = :ts_event",
            "#tu_event = :tu_event",
            "#worker = :worker",
            "#worker_id = :worker_id",
            "#hostname = :hostname",
            "#log = list_append(if_not_exists(#log, :empty), :log)",
        ];
        let mut names: HashMap<String, String> =
            ["ts_dispatch", "status", "ts_event", "tu_event", "worker", "worker_id", "hostname", "log"]
                .iter()
                .map(|n| (format!("#{n}"), n.to_string()))
                .collect();
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":ts_dispatch".into(), s(&update.ts_dispatch)),
            (":status".into(), s(last.status.as_str())),
            (":ts_event".into(), s(&last.ts_event)),
            (":tu_event".into(), s(&last.tu_event)),
            (":worker".into(), s(&update.worker)),
            (":worker_id".into(), update.instance_id.as_deref().map_or(AttributeValue::Null(true), s)),
            (":hostname".into(), s(&update.hostname)),
            (":empty".into(), AttributeValue::L(vec![])),
            (":log".into(), AttributeValue::L(entries)),
        ]);
        if let Some(ttl) = update.ttl {
            sets.push("#ttl = :ttl");
            names.insert("#ttl".into(), "ttl".into());
            values.insert(":ttl".into(), AttributeValue::N(ttl.to_string()));
        }
        if update.ends_run() {
            sets.push("#lease_until = :lease_done");
            names.insert("#lease_until".into(), lease::UNTIL.into());
            values.insert(":lease_done".into(), AttributeValue::N(LEASE_DONE.to_string()));
        }
        if let Some(instance) = &update.instance_id {
            sets.push("#instance_id = :instance_id");
            names.insert("#instance_id".into(), "instance_id".into());
            values.insert(":instance_id".into(), s(instance));
        }
        // A list, not a string set: the original's tools (`lava-events -f json`) cannot print a set.
        sets.push("#writes = list_append(if_not_exists(#writes, :empty), :write)");
        names.insert("#writes".into(), lease::WRITES.into());
        values.insert(":write".into(), AttributeValue::L(vec![s(&update.write_id)]));
        values.insert(":write_id".into(), s(&update.write_id));
        let mut condition = "NOT contains(#writes, :write_id)".to_string();
        if let Some(holder) = &update.holder {
            condition.push_str(" AND #owner = :holder");
            names.insert("#owner".into(), lease::OWNER.into());
            values.insert(":holder".into(), s(holder));
        }
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("job_id", s(&update.job_id))
            .key("run_id", s(&update.run_id))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        if applied(result)? || update.holder.is_none() {
            // Not applied without a holder: this write reached the table before (its answer
            // was lost), and once is enough.
            return Ok(());
        }
        // Not applied with a holder: either it landed before, or the lease is another's now.
        let landed = self.write_landed(table, update).await?;
        if landed { Ok(()) } else { Err(Error::LeaseLost { run_id: update.run_id.clone() }) }
    }

    async fn claim(&self, table: &str, request: &LeaseRequest) -> Result<Claim> {
        // A refused claim reads the item to say why; if the lease changed in between (released,
        // expired), the claim is tried again.
        for _ in 0..3 {
            let mut sets = vec!["#owner = :me", "#until = :until"];
            let mut update = self
                .client
                .update_item()
                .table_name(table)
                .key("job_id", AttributeValue::S(request.job_id.clone()))
                .key("run_id", AttributeValue::S(request.run_id.clone()))
                .condition_expression("attribute_not_exists(#until) OR (#until >= :released AND #until < :now)")
                .expression_attribute_names("#owner", lease::OWNER)
                .expression_attribute_names("#until", lease::UNTIL)
                .expression_attribute_names("#claims", lease::CLAIMS)
                .expression_attribute_values(":me", AttributeValue::S(request.owner.clone()))
                .expression_attribute_values(":until", AttributeValue::N(request.until.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(request.now.to_string()))
                .expression_attribute_values(":released", AttributeValue::N(LEASE_RELEASED.to_string()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld);
            if let Some(ttl) = request.ttl {
                sets.push("#ttl = if_not_exists(#ttl, :ttl)");
                update = update
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()));
            }
            let result = update.update_expression(format!("SET {} ADD #claims :one", sets.join(", "))).send().await;
            match result {
                Ok(out) => {
                    let old = out.attributes.unwrap_or_default();
                    let before = old.get(lease::UNTIL).and_then(number).map(|until| {
                        let owner = old.get(lease::OWNER).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
                        let claims = old.get(lease::CLAIMS).and_then(number).unwrap_or(0);
                        (owner, until, u32::try_from(claims).unwrap_or(u32::MAX))
                    });
                    return Ok(Claim::claimed_over(&request.owner, before));
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(aws_error("dynamodb", "UpdateItem", e)),
            }
            let item = self
                .client
                .get_item()
                .table_name(table)
                .key("job_id", AttributeValue::S(request.job_id.clone()))
                .key("run_id", AttributeValue::S(request.run_id.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "GetItem", e))?
                .item
                .unwrap_or_default();
            let until = item.get(lease::UNTIL).and_then(number);
            let owner = item.get(lease::OWNER).and_then(|v| v.as_s().ok()).map(String::as_str);
            match until {
                Some(until) if until == LEASE_DONE || until >= request.now => {
                    return Ok(Claim::refused_by(owner, until));
                }
                _ => continue,
            }
        }
        Err(crate::error::Error::unexpected(
            format!("claiming run {}", request.run_id),
            "its lease kept changing while it was claimed",
        ))
    }

    async fn renew(&self, table: &str, request: &LeaseRequest) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("job_id", AttributeValue::S(request.job_id.clone()))
            .key("run_id", AttributeValue::S(request.run_id.clone()))
            .update_expression("SET #until = :until")
            .condition_expression("#owner = :me AND #until >= :released")
            .expression_attribute_names("#owner", lease::OWNER)
            .expression_attribute_names("#until", lease::UNTIL)
            .expression_attribute_values(":me", AttributeValue::S(request.owner.clone()))
            .expression_attribute_values(":until", AttributeValue::N(request.until.to_string()))
            .expression_attribute_values(":released", AttributeValue::N(LEASE_RELEASED.to_string()))
            .send()
            .await;
        applied(result)
    }

    async fn release(&self, table: &str, job_id: &str, run_id: &str, owner: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("job_id", AttributeValue::S(job_id.to_string()))
            .key("run_id", AttributeValue::S(run_id.to_string()))
            .update_expression("SET #until = :released")
            .condition_expression("#owner = :me AND #until > :released")
            .expression_attribute_names("#owner", lease::OWNER)
            .expression_attribute_names("#until", lease::UNTIL)
            .expression_attribute_values(":me", AttributeValue::S(owner.to_string()))
            .expression_attribute_values(":released", AttributeValue::N(LEASE_RELEASED.to_string()))
            .send()
            .await;
        // Not applied: not ours any more (or ended), nothing to give up.
        applied(result).map(|_| ())
    }
}

/// Whether a conditional UpdateItem was applied (`false`: its condition did not hold).
fn applied<O>(result: std::result::Result<O, SdkError<UpdateItemError, HttpResponse>>) -> Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(aws_error("dynamodb", "UpdateItem", e)),
    }
}

fn number(value: &AttributeValue) -> Option<i64> {
    value.as_n().ok().and_then(|n| n.parse().ok())
}
