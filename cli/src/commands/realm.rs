//! `lava realm …`: read and write the realm entry.

use crate::{Target, catalog, connect, connect_clients, pretty};
use anyhow::{Result, bail};
use clap::Subcommand;
use shared::config::Config;
use shared::documents::read_records;
use shared::model::RealmEntry;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Print the realm entry as JSON.
    Get,
    /// Print every realm's entry (the account's `lava.realms` table) as a JSON list.
    List,
    /// Validate a realm entry file and write it.
    Put {
        /// The file.
        file: PathBuf,
    },
    /// Add to the realm's tables the indexes this project adds to the original's (`type-index`
    /// on the jobs table, `run_id-index` on the events table), online and idempotently; says
    /// what it changed. Everything works without them, more slowly (a scan instead of a query).
    Upgrade,
}

impl RealmCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            RealmCommand::Get => {
                let (ports, names) = connect(target).await?;
                Ok(pretty(&catalog(&ports, names).realm().await?.to_value()))
            }
            RealmCommand::Put { file } => {
                let records = read_records(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
                let [record] = records.as_slice() else { bail!("{}: expected one realm entry", file.display()) };
                let realm = RealmEntry::from_value(record)?;
                // Its action lists are checked under the limits its own configuration sets.
                realm.validate(&Config::new(std::env::vars(), realm.config.as_ref()).limits())?;
                // The entry names its realm; it is written there whatever --realm says.
                let target = Target { realm: Some(realm.realm.clone()), ..target.clone() };
                let (ports, names) = connect(&target).await?;
                catalog(&ports, names).put_realm(&realm).await?;
                Ok(format!("realm {} written", realm.realm))
            }
            RealmCommand::Upgrade => upgrade(target).await,
            RealmCommand::List => {
                // The realms table is the account's: any realm name finds it.
                let target =
                    Target { realm: Some(target.realm.clone().unwrap_or_else(|| "lava".into())), ..target.clone() };
                let (ports, names) = connect(&target).await?;
                let mut items = super::ops::scan(&ports, &names, &names.realms_table, true).await?;
                items.sort_by(|a, b| {
                    a.get("realm").and_then(|r| r.as_str()).cmp(&b.get("realm").and_then(|r| r.as_str()))
                });
                Ok(pretty(&serde_json::Value::Array(items.into_iter().map(serde_json::Value::Object).collect())))
            }
        }
    }
}

/// `lava realm upgrade`: each table's missing indexes added, one line per table changed.
async fn upgrade(target: &Target) -> Result<String> {
    let (clients, names) = connect_clients(target).await?;
    let mut lines = Vec::new();
    for table in names.tables() {
        let added = shared::aws::provision::add_missing_indexes(&clients, &table).await?;
        if !added.is_empty() {
            lines.push(format!("{}: added {} (DynamoDB fills it in the background)", table.name, added.join(", ")));
        }
    }
    if lines.is_empty() {
        lines.push(format!("realm {}: every table has its indexes; nothing changed", names.realm));
    }
    Ok(lines.join("\n"))
}
