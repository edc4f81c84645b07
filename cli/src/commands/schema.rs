//! `lava schema`: deep validation of spec files, or of a table's entries (the original's
//! `lava-schema`). What a spec is checked against is in `crate::ops::schema`.

use crate::ops::glob_match;
use crate::ops::schema::{self, SpecType};
use crate::{Target, Unmet, connect};
use anyhow::Result;
use clap::Args;
use serde_json::Value;
use shared::config::Config;
use shared::documents::read_records;
use std::path::Path;

/// `lava schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Read the specs from the realm's table instead of files; SPECs are then globs their ids
    /// must match (all entries when none).
    #[arg(short, long)]
    dynamodb: bool,
    /// The kind of spec.
    #[arg(short = 't', long = "type", value_enum, default_value = "job")]
    spec_type: SpecType,
    /// Print every spec's result, not only failures.
    #[arg(short, long)]
    verbose: bool,
    /// Write the JSON Schemas of the four kinds of spec (generated from the model) into DIR
    /// instead of checking anything.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dynamodb", "specs"])]
    export: Option<std::path::PathBuf>,
    /// Spec files (JSON or YAML: one spec, or a list of them), or with -d globs of ids.
    #[arg(value_name = "SPEC")]
    specs: Vec<String>,
}

impl SchemaArgs {
    /// Checks each spec; fails (exit status 1) with the report when any spec fails.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        if let Some(dir) = &self.export {
            std::fs::create_dir_all(dir)?;
            let mut lines = Vec::new();
            for (name, schema) in shared::model::json_schema::all() {
                let path = dir.join(name);
                std::fs::write(&path, serde_json::to_string_pretty(&schema)? + "\n")?;
                lines.push(format!("Wrote {}", path.display()));
            }
            return Ok(lines.join("\n"));
        }
        let limits = Config::new(std::env::vars(), None).limits();
        let specs = if self.dynamodb { self.read_table(target).await? } else { self.read_files()? };
        let mut lines = Vec::new();
        let mut failed = false;
        for (name, spec) in &specs {
            let problems = schema::check(self.spec_type, spec, &limits);
            failed |= !problems.is_empty();
            lines.extend(schema::report(name, &problems, self.verbose));
        }
        let text = lines.join("\n");
        if failed { Err(Unmet(text).into()) } else { Ok(text) }
    }

    /// Each file's specs, named by the file (and the id, when a file holds a list).
    fn read_files(&self) -> Result<Vec<(String, Value)>> {
        let mut specs = Vec::new();
        for file in &self.specs {
            let records = read_records(Path::new(file)).map_err(|e| anyhow::anyhow!("{e}"))?;
            let one = records.len() == 1;
            for record in records {
                let name = if one {
                    file.clone()
                } else {
                    let id = record.get(self.spec_type.key()).and_then(Value::as_str).unwrap_or("?");
                    format!("{file}: {id}")
                };
                specs.push((name, record));
            }
        }
        Ok(specs)
    }

    /// The table's entries whose ids match a glob, in id order.
    async fn read_table(&self, target: &Target) -> Result<Vec<(String, Value)>> {
        let kind = self.spec_type.table();
        let (ports, names) = connect(target).await?;
        let items = super::ops::scan(&ports, &names, kind.table(&names), true).await?;
        let mut specs: Vec<(String, Value)> = items
            .into_iter()
            .map(|item| {
                let id = item.get(kind.key()).and_then(Value::as_str).unwrap_or("?").to_string();
                (id, Value::Object(item))
            })
            .filter(|(id, _)| self.specs.is_empty() || self.specs.iter().any(|g| glob_match(g, id, false)))
            .collect();
        specs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(specs)
    }
}
