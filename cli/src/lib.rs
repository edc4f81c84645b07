//! `lava`, the operator command line: validate and put specs, read them back, and bring a local
//! realm up on an emulator. `main.rs` only parses arguments and prints; everything is here so the
//! integration tests drive the same code.
//!
//! This file holds the top-level [`Cli`], the global options ([`Target`]), the helpers every
//! command group shares (loading specs, connecting to a realm), and [`run`], which hands each
//! command to its group's `run` in `commands/`.

mod commands;
pub mod local;
mod ops;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use shared::aws::{AwsOptions, Clients};
use shared::catalog::Catalog;
use shared::config::Config;
use shared::documents::read_records;
use shared::model::{ConnectionEntry, JobSpec, Limits, S3TriggerEntry, ValidationError, ValidationErrors};
use shared::names::ResourceNames;
use shared::ports::Ports;
use shared::webhook::HttpWebhook;
use std::path::PathBuf;
use std::sync::Arc;

pub use commands::activity::{ActivityArgs, JobCommand};
pub use commands::connection::ConnectionCommand;
pub use commands::dispatch::DispatchArgs;
pub use commands::history::{EventsArgs, RunCommand};
pub use commands::local::{LocalCommand, bring_up};
pub use commands::ops::{BackupArgs, CheckArgs, ConnUsageArgs, DumpArgs, JinjaArgs, RestoreArgs, VersionArgs, WsArgs};
pub use commands::realm::RealmCommand;
pub use commands::schedule::{ScheduleCommand, schedule_preview};
pub use commands::specs::{SpecCommand, job_table};
pub use commands::state::StateCommand;

/// The lava operator command line.
#[derive(Debug, Parser)]
#[command(name = "lava", version, about = "Operate a lava realm: specs, local realm")]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Command,
}

/// Which realm and which AWS endpoint a command talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Realm name.
    #[arg(short, long, env = "LAVA_REALM", global = true)]
    pub realm: Option<String>,
    /// Use the realm and endpoint of the local realm brought up by `lava local up`.
    #[arg(long, global = true)]
    pub local: bool,
    /// AWS endpoint override (otherwise the SDK's AWS_ENDPOINT_URL and profile rules).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region.
    #[arg(long, env = "AWS_REGION", global = true)]
    pub region: Option<String>,
    /// Folder holding the local realm's state and logs.
    #[arg(long, env = "LAVA_LOCAL_DIR", default_value = ".lava-local", global = true)]
    pub local_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The local realm on a moto server (installed into .venv when missing).
    #[command(subcommand)]
    Local(LocalCommand),
    /// Job specs, and when jobs ran (`activity`).
    #[command(subcommand)]
    Job(JobCommand),
    /// Connection specs.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// The realm entry.
    #[command(subcommand)]
    Realm(RealmCommand),
    /// S3 trigger specs.
    #[command(subcommand)]
    S3trigger(SpecCommand),
    /// State items (the state manager).
    #[command(subcommand)]
    State(StateCommand),
    /// Job schedules.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Dispatch jobs to their worker queues (one run each).
    Dispatch(DispatchArgs),
    /// A job's runs, newest first, from the events table.
    Events(EventsArgs),
    /// One run by its run id: its events, result and outputs.
    #[command(subcommand)]
    Run(RunCommand),
    /// The original's hygiene checks on the realm's specs (markdown tables).
    Check(CheckArgs),
    /// Jobs whose parameters name a connection matching a glob.
    ConnUsage(ConnUsageArgs),
    /// A dag job's payload from a dependency matrix: CSV, Excel, SQLite or a table behind a
    /// connection (the original's lava-dag-gen).
    DagGen(commands::dag::DagGenArgs),
    /// Pictures of dag and chain jobs' pipelines.
    #[command(subcommand)]
    Dag(commands::dag::DagCommand),
    /// Check, add and update the change-detection checksums on a table's entries (the
    /// original's lava-checksum).
    Checksum(commands::checksum::ChecksumArgs),
    /// Make a job project laid out as the original's job framework's (the original's lava-new).
    New(commands::project::NewArgs),
    /// A job project's steps: add a job, build for an environment, check, install, uninstall
    /// (the original's framework make targets).
    #[command(subcommand)]
    Project(commands::project::ProjectCommand),
    /// The lava workers running on this host (the original's lava-ps).
    Ps(commands::ps::PsArgs),
    /// Deep validation of spec files or a table's entries, strict as the original's
    /// lava-schema; exit status 1 when any spec fails.
    Schema(commands::schema::SchemaArgs),
    /// Signal the lava workers on this host, wait for them, end them (the original's lava-stop).
    Stop(commands::ps::StopArgs),
    /// Worker fleets: queue depth, workers running, backlog.
    Ws(WsArgs),
    /// Render a Jinja template with the worker's renderer and a given context.
    Jinja(JinjaArgs),
    /// One table's entries to files (a folder or s3://…), all or by key glob.
    Dump(DumpArgs),
    /// The realm's jobs, connections, s3 triggers and realm entry in a zip file (local or S3).
    Backup(BackupArgs),
    /// Put a backup's (or dump folder's) entries into the realm.
    Restore(RestoreArgs),
    /// Print lava's version.
    Version(VersionArgs),
    /// Copy a file between an SMB share and a local file or S3 (the original's lava-smb).
    Smb(commands::smb::SmbArgs),
    /// Send an email through an email connection (the original's lava-email).
    Email(commands::notify::EmailArgs),
    /// Send a Slack message through a slack connection (the original's lava-slack).
    Slack(commands::notify::SlackArgs),
}

/// Runs one command; returns what to print on success.
pub async fn run(cli: Cli) -> Result<String> {
    let target = cli.target.clone();
    run_command(cli).await.map_err(|e| explain_missing(e, &target))
}

/// An error's text with its causes, each said once: lava's errors that give context already
/// end with their cause's text, which a plain chain (`{:#}`) would repeat.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if text.ends_with(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// A command's report of what it found wrong (`lava schema`'s failures): printed on standard
/// output as the command's output is, and the exit status is 1.
#[derive(Debug)]
pub struct Unmet(pub String);

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unmet {}

/// An error from a table or queue that does not exist says which realm the command looked at.
fn explain_missing(e: anyhow::Error, target: &Target) -> anyhow::Error {
    if e.is::<Unmet>() {
        return e;
    }
    let text = error_text(&e);
    let missing = ["ResourceNotFoundException", "Requested resource not found", "NonExistentQueue", "non-existent"];
    if text.contains("does not exist: is realm") || !missing.iter().any(|m| text.contains(m)) {
        return e;
    }
    let realm = target.realm.clone().unwrap_or_else(|| "(local)".into());
    e.context(format!(
        "realm {realm}: a table or queue it needs does not exist (is the realm deployed, and --realm right?)"
    ))
}

async fn run_command(cli: Cli) -> Result<String> {
    let target = &cli.target;
    match cli.command {
        Command::Local(command) => command.run(target).await,
        Command::Job(command) => command.run(target).await,
        Command::Connection(command) => command.run(target).await,
        Command::Realm(command) => command.run(target).await,
        Command::S3trigger(command) => command.run(target, SpecKind::S3trigger).await,
        Command::State(command) => command.run(target).await,
        Command::Schedule(command) => command.run(target).await,
        Command::Dispatch(args) => args.run(target).await,
        Command::Events(args) => args.run(target).await,
        Command::Run(command) => command.run(target).await,
        Command::Check(args) => args.run(target).await,
        Command::ConnUsage(args) => args.run(target).await,
        Command::DagGen(args) => args.run(target).await,
        Command::Dag(command) => command.run(target).await,
        Command::Checksum(args) => args.run(target).await,
        Command::Schema(args) => args.run(target).await,
        Command::New(args) => args.run(),
        Command::Project(command) => command.run(target).await,
        Command::Ps(args) => args.run(),
        Command::Stop(args) => args.run(target).await,
        Command::Ws(args) => args.run(target).await,
        Command::Jinja(args) => args.run(),
        Command::Dump(args) => args.run(target).await,
        Command::Backup(args) => args.run(target).await,
        Command::Restore(args) => args.run(target).await,
        Command::Version(args) => args.run(),
        Command::Smb(args) => args.run(target).await,
        Command::Email(args) => args.run(target).await,
        Command::Slack(args) => args.run(target).await,
    }
}

/// The kinds of spec the CLI handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecKind {
    /// Jobs table.
    Job,
    /// Connections table.
    Connection,
    /// S3 triggers table.
    S3trigger,
}

/// A spec read and checked from a file.
enum Spec {
    Job(Box<JobSpec>),
    Connection(ConnectionEntry),
    S3trigger(Box<S3TriggerEntry>),
}

impl Spec {
    /// Reads one record as a spec of `kind` and validates it. Returns its name for the report
    /// (`job <id>`), the spec, and its warnings; or every problem found.
    fn check(
        kind: SpecKind,
        record: &Value,
        limits: &Limits,
    ) -> Result<(String, Spec, Vec<ValidationError>), ValidationErrors> {
        Ok(match kind {
            SpecKind::Job => {
                let job = JobSpec::from_value(record)?;
                let warnings = job.validate(limits)?;
                (format!("job {}", job.job_id), Spec::Job(Box::new(job)), warnings)
            }
            SpecKind::Connection => {
                let connection = ConnectionEntry::from_value(record)?;
                let warnings = connection.validate()?;
                (format!("connection {}", connection.conn_id), Spec::Connection(connection), warnings)
            }
            SpecKind::S3trigger => {
                let trigger = S3TriggerEntry::from_value(record)?;
                let warnings = trigger.validate(limits.max_delay)?;
                (format!("s3trigger {}", trigger.trigger_id), Spec::S3trigger(Box::new(trigger)), warnings)
            }
        })
    }
}

/// Reads and validates every record of `files` under `limits` (the realm's, where the command
/// reaches it). Returns the specs and the report lines; fails (listing every problem) if any
/// record is invalid.
fn load_specs(kind: SpecKind, files: &[PathBuf], limits: &Limits) -> Result<(Vec<Spec>, Vec<String>)> {
    let mut specs = Vec::new();
    let mut lines = Vec::new();
    let mut failed = false;
    for file in files {
        let records = read_records(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        for record in records {
            match Spec::check(kind, &record, limits) {
                Ok((name, spec, warnings)) => {
                    lines.push(format!("{}: {name}: ok", file.display()));
                    lines.extend(warnings.iter().map(|w| format!("{}: warning: {w}", file.display())));
                    specs.push(spec);
                }
                Err(errors) => {
                    failed = true;
                    lines.extend(errors.0.iter().map(|e| format!("{}: error: {e}", file.display())));
                }
            }
        }
    }
    if failed {
        bail!("{}", lines.join("\n"));
    }
    Ok((specs, lines))
}

/// The ports of a realm and its resource names, as a command's options select them.
async fn connect(target: &Target) -> Result<(Ports, ResourceNames)> {
    let (clients, names) = connect_clients(target).await?;
    Ok((ports(&clients), names))
}

/// The AWS clients of a realm and its resource names, as a command's options select them.
async fn connect_clients(target: &Target) -> Result<(Clients, ResourceNames)> {
    let (realm, clients) = account_clients(target).await?;
    let realm = realm.context("no realm: give --realm, set LAVA_REALM, or use --local")?;
    Ok((clients, ResourceNames::with_overrides(&realm, |k| std::env::var(k).ok())))
}

/// The AWS clients the command's options select, and the realm they name (if any).
async fn account_clients(target: &Target) -> Result<(Option<String>, Clients)> {
    let (realm, endpoint, tables) = if target.local {
        let state = local::LocalState::read(&target.local_dir)?;
        (Some(target.realm.clone().unwrap_or(state.realm)), Some(state.endpoint_url), state.tables_endpoint_url)
    } else {
        (target.realm.clone(), target.endpoint_url.clone(), None)
    };
    let emulator = target.local || endpoint.as_deref().is_some_and(is_loopback);
    let clients = Clients::load(&AwsOptions {
        endpoint_url: endpoint,
        dynamodb_endpoint_url: tables,
        region: target.region.clone(),
        emulator,
        ..Default::default()
    })
    .await;
    Ok((realm, clients))
}

/// The ports over `clients` (the CLI posts to no webhook, but `Ports` carries one).
fn ports(clients: &Clients) -> Ports {
    shared::wiring::ports(clients, Arc::new(HttpWebhook::new()))
}

fn catalog(ports: &Ports, names: ResourceNames) -> Catalog {
    Catalog::new(ports.tables.clone(), names)
}

/// The validation limits of the realm: the environment's `LAVA_*` settings, then the realm's
/// `config` (the defaults when the realm entry cannot be read).
async fn realm_limits(catalog: &Catalog) -> Limits {
    let realm_config = catalog.realm().await.ok().and_then(|r| r.config);
    Config::new(std::env::vars(), realm_config.as_ref()).limits()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always print")
}

/// Whether an endpoint URL points at this machine (then it is an emulator).
fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_says_each_cause_once() {
        let within = shared::Error::refused("nosuch", "No such connection");
        assert_eq!(error_text(&anyhow::Error::new(within)), "nosuch: No such connection");
        let context = anyhow::anyhow!("refused").context("lava job put");
        assert_eq!(error_text(&context), "lava job put: refused");
    }

    /// The report has one line per record and one per warning or error, each naming the file;
    /// an error whose text holds "; " (here, in the job id) stays on its line.
    #[test]
    fn load_specs_reports_each_problem_on_its_own_line() {
        let dir = std::env::temp_dir().join(format!("lava-cli-load-specs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jobs.yaml");
        std::fs::write(
            &file,
            "- {job_id: ok/one, type: cmd, worker: core, payload: echo, description: d, owner: o, extra: 1}\n\
             - {job_id: \"odd; id\", type: cmd, worker: core, iteration_delay: 7m}\n",
        )
        .unwrap();
        let report = load_specs(SpecKind::Job, std::slice::from_ref(&file), &Limits::default())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        let f = file.display();
        assert_eq!(
            report,
            [
                format!("{f}: job ok/one: ok"),
                format!("{f}: warning: jobs[ok/one].extra: unknown field (ignored; use an x- prefix for tooling data)"),
                format!(
                    "{f}: error: jobs[odd; id].payload: is required (use null or \"--\" when the job type ignores it)"
                ),
                format!("{f}: error: jobs[odd; id].iteration_delay: 7m is over the 5m maximum"),
            ]
            .join("\n")
        );
    }
}
