//! Table ports: lava's DynamoDB tables as JSON items, and the append-only events table.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::model::{Claim, EventUpdate, LeaseRequest};

/// The JSON form of a binary attribute is the map `{"$binary": "<base64>"}`.
pub const BINARY_KEY: &str = "$binary";

/// A table item as a JSON map (DynamoDB maps, lists, strings, numbers, booleans and nulls).
pub type Item = Map<String, Value>;

/// lava's DynamoDB tables: items as JSON maps.
#[async_trait]
pub trait TableStore: Send + Sync {
    /// The item with this key (the key attributes only), if there is one.
    async fn get_item(&self, table: &str, key: &Item, consistent: bool) -> Result<Option<Item>>;
    /// Writes an item, replacing any item with the same key.
    async fn put_item(&self, table: &str, item: Item) -> Result<()>;
    /// Writes an item only if no item has the same `key_attribute` value; `false` if one did.
    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> Result<bool>;
    /// Sets one attribute of the item with this key, leaving its others as they are (an
    /// item that is not there is made of the key and the attribute, as DynamoDB's
    /// `UpdateItem` does).
    async fn set_attribute(&self, table: &str, key: &Item, name: &str, value: Value) -> Result<()>;
    /// Deletes the item with this key (no error if there is none).
    async fn delete_item(&self, table: &str, key: &Item) -> Result<()>;
    /// Every item of the table.
    async fn scan_items(&self, table: &str) -> Result<Vec<Item>>;
    /// Every item of the table, calling `progress` with the count read so far after each page
    /// (the operator commands' progress line on long scans).
    async fn scan_items_reporting(&self, table: &str, progress: &(dyn Fn(usize) + Send + Sync)) -> Result<Vec<Item>> {
        let items = self.scan_items(table).await?;
        progress(items.len());
        Ok(items)
    }
    /// Every item of the table whose string `attribute` equals `value` (a scan with a filter:
    /// the path where an index this project adds is missing).
    async fn scan_where(&self, table: &str, attribute: &str, value: &str) -> Result<Vec<Item>> {
        let items = self.scan_items(table).await?;
        Ok(items.into_iter().filter(|i| i.get(attribute).and_then(Value::as_str) == Some(value)).collect())
    }
    /// Items of one partition of the table or of one of its indexes, in range-key order.
    async fn query_range(&self, table: &str, query: &RangeQuery) -> Result<Vec<Item>>;
    /// Items of a global secondary index whose key attributes equal `keys` (the hash key, then
    /// optionally the range key): a range query with exact bounds.
    async fn query_index(&self, table: &str, index: &str, keys: &[(&str, &str)]) -> Result<Vec<Item>> {
        let (hash, range) = match keys {
            [hash] => (hash, None),
            [hash, range] => (hash, Some(range)),
            _ => {
                return Err(crate::error::Error::unexpected(
                    "index query",
                    "an index query names its hash key and at most its range key",
                ));
            }
        };
        let exactly = |(name, value): &(&str, &str)| KeyRange {
            name: name.to_string(),
            from: Some(value.to_string()),
            to: Some(value.to_string()),
        };
        let query = RangeQuery {
            index: Some(index.into()),
            hash: (hash.0.into(), hash.1.into()),
            range: range.map(exactly),
            ..Default::default()
        };
        self.query_range(table, &query).await
    }
}

/// A query of one partition: the items whose hash key equals `hash`, whose string range key
/// lies within `range` when given, in range-key order (greatest first when `descending`), at
/// most `limit`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeQuery {
    /// The index to query (the table itself when `None`).
    pub index: Option<String>,
    /// The hash key's name and value.
    pub hash: (String, String),
    /// Bounds on the range key.
    pub range: Option<KeyRange>,
    /// Greatest range key first.
    pub descending: bool,
    /// At most this many items.
    pub limit: Option<usize>,
}

/// Inclusive bounds on a string range key (compared in byte order, as DynamoDB does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyRange {
    /// The range key's name.
    pub name: String,
    /// Lowest value.
    pub from: Option<String>,
    /// Highest value.
    pub to: Option<String>,
}

impl KeyRange {
    /// Whether `value` lies within the bounds.
    pub fn contains(&self, value: &str) -> bool {
        self.from.as_deref().is_none_or(|f| value >= f) && self.to.as_deref().is_none_or(|t| value <= t)
    }
}

/// The events table: one item per run, with a log that grows by one entry per event, and the
/// run's lease (which worker runs it now).
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Applies one write (one or more events, in order) to its run's item, creating it on the
    /// first write. A write that ends the run ([`EventUpdate::ends_run`]) marks its lease done.
    async fn append(&self, table: &str, update: &EventUpdate) -> Result<()>;
    /// Takes the run's lease in one conditional write, if nobody holds a live lease (this
    /// worker included: a copy it receives while running the run waits too) and the run has not
    /// ended; counts the start.
    async fn claim(&self, table: &str, request: &LeaseRequest) -> Result<Claim>;
    /// Extends a lease `request.owner` holds to `request.until`; `false` if it no longer holds
    /// it (another worker took the run over, or the run ended).
    async fn renew(&self, table: &str, request: &LeaseRequest) -> Result<bool>;
    /// Gives up a lease `owner` holds, so the run's next copy starts it at once.
    async fn release(&self, table: &str, job_id: &str, run_id: &str, owner: &str) -> Result<()>;
}

/// Items of `table` whose `key.0` equals `key.1`, through `index` (one of the indexes this
/// project adds, [`crate::names::OWN_INDEXES`]); where the table lacks it (a realm whose tables
/// the original's template made), through a filtered scan, saying so in the log once per
/// process and index. `lava realm upgrade` adds the indexes.
pub async fn query_optional_index(
    tables: &dyn TableStore,
    table: &str,
    index: &str,
    key: (&str, &str),
) -> Result<Vec<Item>> {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    match tables.query_index(table, index, &[key]).await {
        Err(e) if e.is_missing_index() => {
            let first = {
                let mut warned = WARNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let named = format!("{table}/{index}");
                let first = !warned.contains(&named);
                if first {
                    warned.push(named);
                }
                first
            };
            if first {
                tracing::warn!(
                    table,
                    index,
                    "The table has no {index} (a realm made by the original's template): scanning it instead; \
                     `lava realm upgrade` adds the index."
                );
            }
            tables.scan_where(table, key.0, key.1).await
        }
        other => other,
    }
}
