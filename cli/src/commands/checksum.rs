//! `lava checksum`: check, add and update the change-detection checksums on a table's entries
//! (the original's `lava-checksum`). What it decides is in `crate::ops::checksum`; here the
//! table is read and written, and the entries changed are saved in a zip file first.

use crate::ops::checksum::{self, ALGORITHMS, Outcome, Severity};
use crate::ops::{TableKind, file_name, glob_match, item_key};
use crate::{Target, connect};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use std::io::{IsTerminal, Write};

/// `lava checksum`.
#[derive(Debug, Args)]
pub struct ChecksumArgs {
    /// Report format: txt, tty (coloured), md or html (tty on a terminal, txt otherwise).
    #[arg(short, long, value_parser = ["txt", "tty", "md", "html"])]
    format: Option<String>,
    /// The digest of new checksums.
    #[arg(long, default_value = "sha256", value_parser = ALGORITHMS)]
    hash_algorithm: String,
    /// Match the globs without regard to case.
    #[arg(short, long)]
    ignore_case: bool,
    /// The table: jobs, connections, s3triggers (or triggers) or realms, or a start of one.
    #[arg(short, long, default_value = "jobs")]
    table: String,
    /// Where the zip file of the entries changed goes.
    #[arg(long, default_value = ".")]
    backup_dir: std::path::PathBuf,
    /// Show more: -v adds warnings, -vv everything.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: ChecksumCommand,
}

/// What to do with the checksums.
#[derive(Debug, Subcommand)]
pub enum ChecksumCommand {
    /// Check each entry's checksum.
    Check {
        /// Only the entries whose keys match one of these globs.
        globs: Vec<String>,
    },
    /// Add a checksum to the entries that have none.
    Add {
        /// Say what would be done, and do nothing.
        #[arg(short, long)]
        dry_run: bool,
        /// Only the entries whose keys match one of these globs.
        globs: Vec<String>,
    },
    /// Replace the checksums that no longer hold (or, with --force, any not made by the
    /// algorithm given).
    Update {
        /// Say what would be done, and do nothing.
        #[arg(short, long)]
        dry_run: bool,
        /// Replace a checksum that holds by another algorithm too.
        #[arg(short, long)]
        force: bool,
        /// Only the entries whose keys match one of these globs.
        globs: Vec<String>,
    },
}

impl ChecksumArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let kind = TableKind::parse(&self.table).map_err(|_| anyhow::anyhow!("Unknown table: {}", self.table))?;
        let (ports, names) = connect(target).await?;
        let table = kind.table(&names).to_string();
        let items = super::ops::scan(&ports, &names, &table, true).await?;
        let globs = match &self.command {
            ChecksumCommand::Check { globs }
            | ChecksumCommand::Add { globs, .. }
            | ChecksumCommand::Update { globs, .. } => globs,
        };
        let wanted = |key: &str| globs.is_empty() || globs.iter().any(|g| glob_match(g, key, self.ignore_case));
        let mut outcomes = Vec::new();
        let mut backup = Backup::new(&self.backup_dir, &table);
        for item in items.iter().filter(|i| wanted(&item_key(kind, i))) {
            let id = item_key(kind, item);
            let (outcome, new) = match &self.command {
                ChecksumCommand::Check { .. } => (checksum::check(&id, item), None),
                ChecksumCommand::Add { dry_run, .. } => checksum::add(&id, item, &self.hash_algorithm, *dry_run),
                ChecksumCommand::Update { dry_run, force, .. } => {
                    checksum::update(&id, item, &self.hash_algorithm, (*dry_run, *force))
                }
            };
            if let Some(new) = new {
                backup.save(&id, item)?;
                let key = Map::from_iter([(kind.key().to_string(), Value::String(id.clone()))]);
                ports.tables.set_attribute(&table, &key, checksum::FIELD, Value::String(new.to_string())).await?;
            }
            outcomes.push(outcome);
        }
        backup.finish()?;
        Ok(self.report(&outcomes, kind))
    }

    fn report(&self, outcomes: &[Outcome], kind: TableKind) -> String {
        let format = self
            .format
            .clone()
            .unwrap_or_else(|| if std::io::stdout().is_terminal() { "tty".to_string() } else { "txt".to_string() });
        // The command line ends the output with a line end of its own, as the original's print.
        checksum::report(outcomes, Severity::threshold(self.verbose), &format, kind.key())
    }
}

/// The entries about to change, as they were, in `<table>-<UTC time>.zip` (in the current
/// folder unless told) with one JSON file each, indented by four with sorted keys; no file
/// when none changed.
struct Backup {
    path: std::path::PathBuf,
    zip: Option<zip::ZipWriter<std::fs::File>>,
}

impl Backup {
    fn new(dir: &std::path::Path, table: &str) -> Self {
        let stamp = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        Backup { path: dir.join(format!("{table}-{stamp}.zip")), zip: None }
    }

    fn save(&mut self, key: &str, item: &Map<String, Value>) -> Result<()> {
        let zip = match &mut self.zip {
            Some(zip) => zip,
            None => {
                let file = std::fs::File::create(&self.path).with_context(|| self.path.display().to_string())?;
                self.zip.insert(zip::ZipWriter::new(file))
            }
        };
        let options = zip::write::SimpleFileOptions::default().compression_level(Some(9));
        zip.start_file(format!("{}.json", file_name(key)), options)?;
        let text = shared::render::python::json_dumps_with(&Value::Object(item.clone()), Some(4), true);
        zip.write_all(text.as_bytes())?;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        if let Some(zip) = self.zip {
            zip.finish().with_context(|| self.path.display().to_string())?;
        }
        Ok(())
    }
}
