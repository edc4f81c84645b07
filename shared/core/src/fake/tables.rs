//! Tables and the events table in memory: items kept per table by their key attributes, and each
//! run's event writes kept in order.

use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::lock;
use crate::error::{Error, Result};
use crate::model::{Claim, EventUpdate, LEASE_DONE, LEASE_RELEASED, LeaseRequest};
use crate::names::ResourceNames;
use crate::ports::{EventLog, Item, RangeQuery, TableStore};

/// Tables in memory. Each table must be known (by its key attributes) before use.
#[derive(Default)]
pub struct FakeTables {
    keys: Mutex<HashMap<String, Vec<String>>>,
    items: Mutex<HashMap<String, Vec<Item>>>,
}

impl FakeTables {
    /// Tables for every table of `names`.
    pub fn for_realm(names: &ResourceNames) -> Self {
        let fake = FakeTables::default();
        for def in names.tables() {
            let mut keys = vec![def.hash_key.to_string()];
            keys.extend(def.range_key.map(str::to_string));
            lock(&fake.keys).insert(def.name, keys);
        }
        fake
    }

    fn key_of(&self, table: &str, item: &Item) -> Result<Vec<Value>> {
        let keys = lock(&self.keys);
        let attrs = keys.get(table).ok_or_else(|| Error::NotFound { what: "table", id: table.to_string() })?;
        Ok(attrs.iter().map(|a| item.get(a).cloned().unwrap_or(Value::Null)).collect())
    }

    /// Every item of a table (for assertions).
    pub fn items(&self, table: &str) -> Vec<Item> {
        lock(&self.items).get(table).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl TableStore for FakeTables {
    async fn get_item(&self, table: &str, key: &Item, _consistent: bool) -> Result<Option<Item>> {
        let wanted = self.key_of(table, key)?;
        let items = lock(&self.items);
        for item in items.get(table).into_iter().flatten() {
            if self.key_of(table, item)? == wanted {
                return Ok(Some(item.clone()));
            }
        }
        Ok(None)
    }

    async fn set_attribute(&self, table: &str, key: &Item, name: &str, value: Value) -> Result<()> {
        let wanted = self.key_of(table, key)?;
        let mut items = lock(&self.items);
        let rows = items.entry(table.to_string()).or_default();
        match rows.iter_mut().find(|row| self.key_of(table, row).is_ok_and(|k| k == wanted)) {
            Some(row) => {
                row.insert(name.to_string(), value);
            }
            None => {
                let mut item = key.clone();
                item.insert(name.to_string(), value);
                rows.push(item);
            }
        }
        Ok(())
    }

    async fn put_item(&self, table: &str, item: Item) -> Result<()> {
        let wanted = self.key_of(table, &item)?;
        let mut items = lock(&self.items);
        let rows = items.entry(table.to_string()).or_default();
        rows.retain(|row| self.key_of(table, row).map(|k| k != wanted).unwrap_or(true));
        rows.push(item);
        Ok(())
    }

    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> Result<bool> {
        let wanted = item.get(key_attribute).cloned();
        let mut items = lock(&self.items);
        let rows = items.entry(table.to_string()).or_default();
        if rows.iter().any(|row| row.get(key_attribute).cloned() == wanted) {
            return Ok(false);
        }
        rows.push(item);
        Ok(true)
    }

    async fn delete_item(&self, table: &str, key: &Item) -> Result<()> {
        let wanted = self.key_of(table, key)?;
        let mut items = lock(&self.items);
        if let Some(rows) = items.get_mut(table) {
            rows.retain(|row| self.key_of(table, row).map(|k| k != wanted).unwrap_or(true));
        }
        Ok(())
    }

    async fn scan_items(&self, table: &str) -> Result<Vec<Item>> {
        self.key_of(table, &Item::new())?;
        Ok(self.items(table))
    }

    async fn query_range(&self, table: &str, query: &RangeQuery) -> Result<Vec<Item>> {
        self.key_of(table, &Item::new())?;
        let (hash, value) = &query.hash;
        let text = |item: &Item, name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut items: Vec<Item> = self
            .items(table)
            .into_iter()
            .filter(|item| item.get(hash).and_then(Value::as_str) == Some(value))
            .filter(|item| {
                query.range.as_ref().is_none_or(|r| item.contains_key(&r.name) && r.contains(&text(item, &r.name)))
            })
            .collect();
        if let Some(range) = &query.range {
            items.sort_by_key(|item| text(item, &range.name));
        }
        if query.descending {
            items.reverse();
        }
        items.truncate(query.limit.unwrap_or(usize::MAX));
        Ok(items)
    }
}

/// (job_id, run_id).
type RunKey = (String, String);
/// (owner, until, claims).
type FakeLease = (String, i64, u32);

/// Event items in memory, keyed by (job_id, run_id), with the same merge rules as the real one.
#[derive(Default)]
pub struct FakeEventLog {
    runs: Mutex<BTreeMap<(String, String), Vec<EventUpdate>>>,
    leases: Mutex<HashMap<RunKey, FakeLease>>,
    unreachable_for: Mutex<usize>,
}

impl FakeEventLog {
    /// The updates applied to one run, in order.
    pub fn run(&self, job_id: &str, run_id: &str) -> Vec<EventUpdate> {
        lock(&self.runs).get(&(job_id.to_string(), run_id.to_string())).cloned().unwrap_or_default()
    }

    /// The entries appended to one run's log, in order, across its writes.
    pub fn entries(&self, job_id: &str, run_id: &str) -> Vec<crate::model::EventLogEntry> {
        self.run(job_id, run_id).into_iter().flat_map(|u| u.entries).collect()
    }

    /// The next `writes` appends fail as an unreachable table does (transient).
    pub fn fail_next_appends(&self, writes: usize) {
        *lock(&self.unreachable_for) = writes;
    }

    /// Every update of every run of a job.
    pub fn runs_of(&self, job_id: &str) -> Vec<EventUpdate> {
        lock(&self.runs).iter().filter(|((j, _), _)| j == job_id).flat_map(|(_, updates)| updates.clone()).collect()
    }
}

#[async_trait]
impl EventLog for FakeEventLog {
    async fn append(&self, _table: &str, update: &EventUpdate) -> Result<()> {
        {
            let mut failing = lock(&self.unreachable_for);
            if *failing > 0 {
                *failing -= 1;
                return Err(super::timed_out("dynamodb", "UpdateItem"));
            }
        }
        let key = (update.job_id.clone(), update.run_id.clone());
        if lock(&self.runs).get(&key).is_some_and(|writes| writes.iter().any(|w| w.write_id == update.write_id)) {
            return Ok(());
        }
        if let Some(holder) = &update.holder
            && lock(&self.leases).get(&key).is_none_or(|lease| &lease.0 != holder)
        {
            return Err(Error::LeaseLost { run_id: update.run_id.clone() });
        }
        if update.ends_run() {
            lock(&self.leases).entry(key.clone()).or_insert_with(|| (String::new(), 0, 0)).1 = LEASE_DONE;
        }
        lock(&self.runs).entry(key).or_default().push(update.clone());
        Ok(())
    }

    async fn claim(&self, _table: &str, request: &LeaseRequest) -> Result<Claim> {
        let mut leases = lock(&self.leases);
        let key = (request.job_id.clone(), request.run_id.clone());
        let before = leases.get(&key).cloned();
        if let Some((owner, until, _)) = &before
            && (*until == LEASE_DONE || *until >= request.now)
        {
            return Ok(Claim::refused_by(Some(owner), *until));
        }
        let claims = before.as_ref().map_or(0, |b| b.2) + 1;
        leases.insert(key, (request.owner.clone(), request.until, claims));
        Ok(Claim::claimed_over(&request.owner, before.as_ref().map(|(o, u, c)| (o.as_str(), *u, *c))))
    }

    async fn renew(&self, _table: &str, request: &LeaseRequest) -> Result<bool> {
        let mut leases = lock(&self.leases);
        match leases.get_mut(&(request.job_id.clone(), request.run_id.clone())) {
            Some(lease) if lease.0 == request.owner && lease.1 >= LEASE_RELEASED => {
                lease.1 = request.until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, _table: &str, job_id: &str, run_id: &str, owner: &str) -> Result<()> {
        if let Some(lease) = lock(&self.leases).get_mut(&(job_id.to_string(), run_id.to_string()))
            && lease.0 == owner
            && lease.1 > LEASE_RELEASED
        {
            lease.1 = LEASE_RELEASED;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::model::JobSpec;
    use std::sync::Arc;

    #[tokio::test]
    async fn catalog_over_fake_tables() {
        let names = ResourceNames::for_realm("dev");
        let catalog = Catalog::new(Arc::new(FakeTables::for_realm(&names)), names);
        let job = JobSpec::from_value(
            &serde_json::json!({"job_id": "a/b", "type": "log", "worker": "core", "payload": null}),
        )
        .unwrap();
        catalog.put_job(&job).await.unwrap();
        assert_eq!(catalog.job("a/b").await.unwrap(), job);
        assert!(matches!(catalog.job("missing").await, Err(Error::NotFound { what: "job", .. })));
        assert!(matches!(catalog.realm().await, Err(Error::NotFound { what: "realm", .. })));
        assert_eq!(catalog.jobs().await.unwrap().len(), 1);
    }
}
