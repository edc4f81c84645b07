//! DynamoDB: the [`TableStore`] and [`EventLog`] ports.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

use super::aws_error;
use super::item::{from_attributes, to_attribute, to_attributes};
use crate::error::Result;
use crate::model::EventUpdate;
use crate::ports::{EventLog, Item, TableStore};

/// lava's tables on DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoTables {
    client: Client,
}

impl DynamoTables {
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
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "Scan", e))?;
            for item in out.items() {
                items.push(from_attributes(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn query_index(&self, table: &str, index: &str, keys: &[(&str, &str)]) -> Result<Vec<Item>> {
        let condition: Vec<String> = (0..keys.len()).map(|i| format!("#k{i} = :v{i}")).collect();
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(table)
                .index_name(index)
                .key_condition_expression(condition.join(" AND "));
            for (i, (name, value)) in keys.iter().enumerate() {
                request = request
                    .expression_attribute_names(format!("#k{i}"), *name)
                    .expression_attribute_values(format!(":v{i}"), AttributeValue::S(value.to_string()));
            }
            let out = request
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "Query", e))?;
            for item in out.items() {
                items.push(from_attributes(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
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
        if let Some(instance) = &update.instance_id {
            sets.push("#instance_id = :instance_id");
            names.insert("#instance_id".into(), "instance_id".into());
            values.insert(":instance_id".into(), s(instance));
        }
        self.client
            .update_item()
            .table_name(table)
            .key("job_id", s(&update.job_id))
            .key("run_id", s(&update.run_id))
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "UpdateItem", e))?;
        Ok(())
    }
}
