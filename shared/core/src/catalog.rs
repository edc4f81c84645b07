//! Typed access to a realm's specs (realm entry, jobs, connections, s3 triggers) over a
//! [`TableStore`].

use serde_json::{Value, json};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{ConnectionEntry, JobSpec, RealmEntry, S3TriggerEntry};
use crate::names::ResourceNames;
use crate::ports::{Item, TableStore};

/// A realm's specs.
#[derive(Clone)]
pub struct Catalog {
    tables: Arc<dyn TableStore>,
    names: ResourceNames,
}

fn key(attribute: &str, value: &str) -> Item {
    let Value::Object(map) = json!({ attribute: value }) else { unreachable!("a json object literal") };
    map
}

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("specs serialise to maps"),
    }
}

impl Catalog {
    /// A catalog over `tables` using the realm's table names.
    pub fn new(tables: Arc<dyn TableStore>, names: ResourceNames) -> Self {
        Catalog { tables, names }
    }

    /// The realm's run history (its events table).
    pub fn history(&self) -> crate::history::History {
        crate::history::History::new(self.tables.clone(), self.names.clone())
    }

    /// The realm's resource names.
    pub fn names(&self) -> &ResourceNames {
        &self.names
    }

    /// The realm entry.
    pub async fn realm(&self) -> Result<RealmEntry> {
        let found = self.tables.get_item(&self.names.realms_table, &key("realm", &self.names.realm), false).await?;
        let found = found.ok_or_else(|| Error::NotFound { what: "realm", id: self.names.realm.clone() })?;
        Ok(RealmEntry::from_value(&Value::Object(found))?)
    }

    /// Writes the realm entry.
    pub async fn put_realm(&self, realm: &RealmEntry) -> Result<()> {
        self.tables.put_item(&self.names.realms_table, item(realm.to_value())).await
    }

    /// A job spec.
    pub async fn job(&self, job_id: &str) -> Result<JobSpec> {
        let found = self.tables.get_item(&self.names.jobs_table, &key("job_id", job_id), false).await?;
        let found = found.ok_or_else(|| Error::NotFound { what: "job", id: job_id.to_string() })?;
        Ok(JobSpec::from_value(&Value::Object(found))?)
    }

    /// Writes a job spec.
    pub async fn put_job(&self, job: &JobSpec) -> Result<()> {
        self.tables.put_item(&self.names.jobs_table, item(job.to_value())).await
    }

    /// Every entry of `table`, read with `read` and sorted by `key`. A stored item that cannot
    /// be read is an error naming it.
    async fn entries<T>(
        &self,
        table: &str,
        read: impl Fn(&Value) -> std::result::Result<T, crate::model::ValidationErrors>,
        key: impl Fn(&T) -> &str,
    ) -> Result<Vec<T>> {
        let items = self.tables.scan_items(table).await?;
        let mut entries =
            items.into_iter().map(|i| read(&Value::Object(i))).collect::<std::result::Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| key(a).cmp(key(b)));
        Ok(entries)
    }

    /// Every job, by job id.
    pub async fn jobs(&self) -> Result<Vec<JobSpec>> {
        self.entries(&self.names.jobs_table, JobSpec::from_value, |j| &j.job_id).await
    }

    /// The `lavasched` jobs, from the jobs table's `type-index` (`job_id`, `worker`, `enabled`,
    /// `parameters`): which dispatchers are served. On tables without that index (the
    /// original's), a filtered scan of the jobs table.
    pub async fn lavasched_jobs(&self) -> Result<Vec<Item>> {
        crate::ports::query_optional_index(
            self.tables.as_ref(),
            &self.names.jobs_table,
            crate::names::TYPE_INDEX,
            ("type", "lavasched"),
        )
        .await
    }

    /// The jobs whose `dispatcher` is `dispatcher`, from `dispatcher-index` (`job_id`, `worker`,
    /// `schedule`), in job id order.
    pub async fn dispatcher_jobs(&self, dispatcher: &str) -> Result<Vec<Item>> {
        self.tables.query_index(&self.names.jobs_table, "dispatcher-index", &[("dispatcher", dispatcher)]).await
    }

    /// A connection entry.
    pub async fn connection(&self, conn_id: &str) -> Result<ConnectionEntry> {
        let found = self.tables.get_item(&self.names.connections_table, &key("conn_id", conn_id), false).await?;
        let found = found.ok_or_else(|| Error::NotFound { what: "connection", id: conn_id.to_string() })?;
        Ok(ConnectionEntry::from_value(&Value::Object(found))?)
    }

    /// Writes a connection entry.
    pub async fn put_connection(&self, connection: &ConnectionEntry) -> Result<()> {
        self.tables.put_item(&self.names.connections_table, item(connection.to_value())).await
    }

    /// Every connection entry, by connection id.
    pub async fn connections(&self) -> Result<Vec<ConnectionEntry>> {
        self.entries(&self.names.connections_table, ConnectionEntry::from_value, |c| &c.conn_id).await
    }

    /// An S3 trigger.
    pub async fn s3trigger(&self, trigger_id: &str) -> Result<S3TriggerEntry> {
        let found = self.tables.get_item(&self.names.s3triggers_table, &key("trigger_id", trigger_id), false).await?;
        let found = found.ok_or_else(|| Error::NotFound { what: "s3trigger", id: trigger_id.to_string() })?;
        Ok(S3TriggerEntry::from_value(&Value::Object(found))?)
    }

    /// Every S3 trigger, by trigger id.
    pub async fn s3triggers(&self) -> Result<Vec<S3TriggerEntry>> {
        self.entries(&self.names.s3triggers_table, S3TriggerEntry::from_value, |t| &t.trigger_id).await
    }

    /// Writes an S3 trigger.
    pub async fn put_s3trigger(&self, trigger: &S3TriggerEntry) -> Result<()> {
        let value = serde_json::to_value(trigger).map_err(|e| Error::json("s3 trigger", e))?;
        self.tables.put_item(&self.names.s3triggers_table, item(value)).await
    }
}
