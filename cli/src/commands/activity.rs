//! `lava job …`: the spec commands, and `activity`: when jobs ran over a window, as the
//! original's CSV tables of run-seconds per slice, and as a timeline page (`--html`).

use crate::commands::ops::table_error;
use crate::commands::specs::SpecCommand;
use crate::ops::activity;
use crate::{SpecKind, Target, connect, pretty};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shared::history::{History, RunFilter};
use shared::model::EventRecord;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// The spec commands.
    #[command(flatten)]
    Spec(SpecCommand),
    /// When jobs ran over a time window: run-seconds per slice by job and by worker (CSV), and
    /// a timeline page with `--html`.
    Activity(ActivityArgs),
}

impl JobCommand {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            JobCommand::Spec(command) => command.run(target, SpecKind::Job).await,
            JobCommand::Activity(args) => args.run(target).await,
        }
    }
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// The jobs (required unless --load; with --load, a further filter).
    job_ids: Vec<String>,
    /// Window start, ISO 8601 (UTC when no offset is given; default: the last UTC midnight).
    #[arg(short, long)]
    start: Option<String>,
    /// Window end (default: 24 hours after the start).
    #[arg(short, long)]
    end: Option<String>,
    /// Only runs whose latest status is this.
    #[arg(long)]
    status: Option<String>,
    /// Slice length in minutes.
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    interval: u32,
    /// Write the timeline page here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Keep the event records read in this file (for --load).
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Read the event records from a --dump file instead of the events table.
    #[arg(long)]
    load: Option<PathBuf>,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// Print the slices, tables and runs as JSON instead of CSV.
    #[arg(long)]
    json: bool,
}

/// An ISO 8601 time; UTC when it has no offset; a date alone is its midnight.
fn parse_time(option: &str, text: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return Ok(dt.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Ok(d.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    bail!("--{option} {text}: not an ISO 8601 time (e.g. 2026-02-15T00:00:00+11:00)")
}

impl ActivityArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (mut records, loaded_window) = match &self.load {
            Some(file) => {
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                let dumped: Value =
                    serde_json::from_str(&text).with_context(|| format!("{}: not a dump file", file.display()))?;
                let records: Vec<EventRecord> = serde_json::from_value(dumped["records"].clone())
                    .with_context(|| format!("{}: not a dump file", file.display()))?;
                (records, Some((dumped["start"].as_i64(), dumped["end"].as_i64())))
            }
            None => (Vec::new(), None),
        };
        let start = match (&self.start, loaded_window) {
            (Some(s), _) => parse_time("start", s)?,
            (None, Some((Some(s), _))) => jiff::Timestamp::from_second(s)?,
            _ => {
                let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
                today.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp()
            }
        };
        let end = match (&self.end, loaded_window) {
            (Some(e), _) => parse_time("end", e)?,
            (None, Some((_, Some(e)))) => jiff::Timestamp::from_second(e)?,
            _ => start.checked_add(jiff::SignedDuration::from_hours(24))?,
        };
        if end <= start {
            bail!("--end must be after --start");
        }
        if self.load.is_none() {
            if self.job_ids.is_empty() {
                bail!("name the jobs (or --load a dump file)");
            }
            let (ports, names) = connect(target).await?;
            let history = History::new(ports.tables.clone(), names.clone());
            let progress = crate::commands::ops::Progress::new(self.quiet);
            let filter = RunFilter { since: Some(start), ..Default::default() };
            for (i, job) in self.job_ids.iter().enumerate() {
                progress.show(format_args!("reading runs: job {}/{}", i + 1, self.job_ids.len()));
                let runs = history
                    .job_runs(job, &filter)
                    .await
                    .map_err(|e| table_error(e, &names.events_table, &names.realm))?;
                records.extend(runs);
            }
        } else if !self.job_ids.is_empty() {
            records.retain(|r| self.job_ids.contains(&r.job_id));
        }
        if let Some(file) = &self.dump {
            let dumped = json!({"start": start.as_second(), "end": end.as_second(), "records": records});
            std::fs::write(file, pretty(&dumped)).with_context(|| format!("writing {}", file.display()))?;
        }
        if let Some(status) = &self.status {
            records.retain(|r| r.status.as_str() == status);
        }
        let (from, to) = (start.as_second(), end.as_second());
        let spans = activity::spans(&records, from, to);
        let summed = activity::activity(&spans, from, to, i64::from(self.interval) * 60);
        let zone = jiff::tz::TimeZone::UTC;
        if let Some(page) = &self.html {
            let title = format!("lava job activity: {}", target.realm.clone().unwrap_or_else(|| "realm".into()));
            std::fs::write(page, activity::html(&spans, &summed, from, to, &zone, &title))
                .with_context(|| format!("writing {}", page.display()))?;
        }
        if self.json {
            return Ok(pretty(&activity::to_json(&spans, &summed)));
        }
        Ok(activity::csv(&summed, &zone).trim_end().to_string())
    }
}
