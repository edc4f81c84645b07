//! `lava`, the operator command line: validate and put specs, read them back, and bring a local
//! realm up on an emulator. `main.rs` only parses arguments and prints; everything is here so the
//! integration tests drive the same code.

pub mod local;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use shared::aws::{AwsOptions, Clients, DynamoTables, provision};
use shared::catalog::Catalog;
use shared::documents::{read_records, spec_files};
use shared::model::{ConnectionEntry, JobSpec, Limits, RealmEntry, S3TriggerEntry, ValidationError};
use shared::names::{ResourceNames, check_realm_name};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Job specs.
    #[command(subcommand)]
    Job(SpecCommand),
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
    Dispatch {
        /// Jobs to dispatch.
        #[arg(required = true)]
        job_ids: Vec<String>,
        /// A parameter for the run: name=value (dotted names nest).
        #[arg(short, long = "param")]
        param: Vec<String>,
        /// A global for the run: name=value (dotted names nest).
        #[arg(short, long = "global")]
        global: Vec<String>,
        /// Delay before the run, e.g. 30s or 2m (at most 15m).
        #[arg(short, long)]
        delay: Option<String>,
        /// The worker the job must run on (a request naming another worker is refused).
        #[arg(short, long)]
        worker: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start moto on 127.0.0.1, create the realm's resources, load the sample jobs, list them.
    Up {
        /// Port for the moto server.
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Folder of sample job specs to load.
        #[arg(long, default_value = "samples/jobs")]
        samples: PathBuf,
        /// Virtualenv holding moto.
        #[arg(long, default_value = ".venv")]
        venv: PathBuf,
    },
    /// Stop the local moto server (its contents are lost).
    Down,
    /// Show the local realm's endpoint and state.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Check spec files (JSON or YAML; one record or a list each) without writing anything.
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate spec files and write them to the realm's table (nothing is written if any is invalid).
    Put {
        /// Files to put.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print one spec as JSON.
    Get {
        /// Its id.
        id: String,
    },
    /// List the ids in the table.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// The spec commands.
    #[command(flatten)]
    Spec(SpecCommand),
    /// Print a database connection's details with its secrets resolved, as JSON (for the
    /// `lava` Python package's `get_pysql_connection`; the output holds the password).
    Resolve {
        /// The connection.
        conn_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The next fire times of a job, or of every scheduled job, in its dispatcher's time zone.
    Preview {
        /// One job (default: every job with a schedule).
        job_id: Option<String>,
        /// How many fire times per job.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: usize,
        /// Start from this instant (RFC 3339; default: now).
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Put a state item, replacing any earlier one.
    Put {
        /// Its id (ids starting with "lava" are reserved).
        state_id: String,
        /// A KEY=VALUE pair of a map-of-strings value (repeatable).
        #[arg(short, long = "param", conflicts_with = "value")]
        param: Vec<String>,
        /// A string value.
        #[arg(short, long)]
        value: Option<String>,
        /// KMS key for the secure type (default alias/lava-<realm>-sys).
        #[arg(long)]
        kms_key: Option<String>,
        /// Publisher (default: $LAVA_JOB_ID, else "lava-state CLI").
        #[arg(long)]
        publisher: Option<String>,
        /// Time to live, e.g. 2d (default: the realm's STATE_TTL, 7d).
        #[arg(long)]
        ttl: Option<String>,
        /// Encoding.
        #[arg(long = "type", default_value = "json", value_parser = ["json", "raw", "secure"])]
        state_type: String,
    },
    /// Print a state item's value through a template (default `{{ state }}`; `s` is the value too).
    Get {
        /// Its id.
        state_id: String,
        /// Jinja template.
        template: Option<String>,
        /// Print nothing (instead of failing) when the item does not exist.
        #[arg(short, long)]
        ignore_missing: bool,
    },
    /// List the state items: id, type, timestamp, publisher.
    List,
}

#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Print the realm entry as JSON.
    Get,
    /// Validate a realm entry file and write it.
    Put {
        /// The file.
        file: PathBuf,
    },
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
    Job(JobSpec),
    Connection(ConnectionEntry),
    S3trigger(S3TriggerEntry),
}

/// Reads and validates every record of `files`. Returns the specs and the report lines;
/// fails (listing every problem) if any record is invalid.
fn load_specs(kind: SpecKind, files: &[PathBuf]) -> Result<(Vec<Spec>, Vec<String>)> {
    let mut specs = Vec::new();
    let mut lines = Vec::new();
    let mut failed = false;
    for file in files {
        let records = read_records(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        for record in records {
            let checked: Result<(Spec, String, Vec<ValidationError>), String> = match kind {
                SpecKind::Job => JobSpec::from_value(&record)
                    .and_then(|j| j.validate(&Limits::default()).map(|w| (j, w)))
                    .map(|(j, w)| (format!("job {}", j.job_id), Spec::Job(j), w)),
                SpecKind::Connection => ConnectionEntry::from_value(&record)
                    .and_then(|c| c.validate().map(|w| (c, w)))
                    .map(|(c, w)| (format!("connection {}", c.conn_id), Spec::Connection(c), w)),
                SpecKind::S3trigger => S3TriggerEntry::from_value(&record)
                    .and_then(|t| t.validate(900.0).map(|w| (t, w)))
                    .map(|(t, w)| (format!("s3trigger {}", t.trigger_id), Spec::S3trigger(t), w)),
            }
            .map(|(name, spec, warnings)| (spec, name, warnings))
            .map_err(|e| e.to_string());
            match checked {
                Ok((spec, name, warnings)) => {
                    lines.push(format!("{}: {name}: ok", file.display()));
                    lines.extend(warnings.iter().map(|w| format!("{}: warning: {w}", file.display())));
                    specs.push(spec);
                }
                Err(errors) => {
                    failed = true;
                    for e in errors.split("; ") {
                        lines.push(format!("{}: error: {e}", file.display()));
                    }
                }
            }
        }
    }
    if failed {
        bail!("{}", lines.join("\n"));
    }
    Ok((specs, lines))
}

/// The realm and AWS options a command uses.
async fn connect(target: &Target) -> Result<(Clients, ResourceNames)> {
    let (realm, endpoint) = if target.local {
        let state = local::LocalState::read(&target.local_dir)?;
        (Some(target.realm.clone().unwrap_or(state.realm)), Some(state.endpoint_url))
    } else {
        (target.realm.clone(), target.endpoint_url.clone())
    };
    let realm = realm.context("no realm: give --realm, set LAVA_REALM, or use --local")?;
    let emulator = target.local || endpoint.as_deref().is_some_and(is_loopback);
    let clients = Clients::load(&AwsOptions {
        endpoint_url: endpoint,
        region: target.region.clone(),
        emulator,
        ..Default::default()
    })
    .await;
    Ok((clients, ResourceNames::with_overrides(&realm, |k| std::env::var(k).ok())))
}

fn catalog(clients: &Clients, names: ResourceNames) -> Catalog {
    Catalog::new(Arc::new(DynamoTables::new(clients.dynamodb.clone())), names)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always print")
}

/// Runs one command; returns what to print on success.
pub async fn run(cli: Cli) -> Result<String> {
    match cli.command {
        Command::Local(command) => run_local(&cli.target, command).await,
        Command::Job(command) => run_specs(&cli.target, SpecKind::Job, command).await,
        Command::Connection(ConnectionCommand::Spec(command)) => {
            run_specs(&cli.target, SpecKind::Connection, command).await
        }
        Command::Connection(ConnectionCommand::Resolve { conn_id }) => {
            let (clients, names) = connect(&cli.target).await?;
            let config = shared::config::Config::new(std::env::vars(), None);
            let secrets = clients.ports(Arc::new(shared::webhook::HttpWebhook::new())).secrets;
            let connections = shared::connections::Connections::new(catalog(&clients, names), secrets, config);
            let db = connections.database(&conn_id).await.map_err(anyhow::Error::msg)?;
            let engine = match db.engine {
                shared::connections::Engine::Postgres => "postgres",
                shared::connections::Engine::MySql => "mysql",
                shared::connections::Engine::Sqlite => "sqlite3",
            };
            Ok(serde_json::json!({
                "conn_id": db.conn_id, "type": db.kind, "engine": engine, "host": db.host, "port": db.port, "user": db.user,
                "password": db.password.expose(), "database": db.database, "ssl": db.ssl, "ca_cert": db.ca_cert,
            })
            .to_string())
        }
        Command::S3trigger(command) => run_specs(&cli.target, SpecKind::S3trigger, command).await,
        Command::Dispatch { job_ids, param, global, delay, worker } => {
            let parameters = shared::dispatch::expand_pairs(&param).map_err(anyhow::Error::msg)?;
            let globals = shared::dispatch::expand_pairs(&global).map_err(anyhow::Error::msg)?;
            for name in globals.keys() {
                if shared::model::validation::is_reserved_name(name) {
                    bail!("-g {name}: Reserved global: names starting with \"lava\" belong to lava");
                }
            }
            let seconds = match &delay {
                None => 0.0,
                Some(d) => shared::model::values::parse_duration(d).map_err(anyhow::Error::msg)?,
            };
            if !(0.0..=900.0).contains(&seconds) {
                bail!("--delay {}: Must be between 0 and 15 minutes", delay.unwrap_or_default());
            }
            let (clients, names) = connect(&cli.target).await?;
            let catalog = catalog(&clients, names);
            let queue = shared::aws::SqsQueues::new(clients.sqs.clone());
            let realm_config = catalog.realm().await.ok().and_then(|r| r.config);
            let limits = shared::config::Config::new(std::env::vars(), realm_config.as_ref()).limits();
            let mut lines = Vec::new();
            let mut failed = false;
            for job_id in job_ids {
                let request = shared::dispatch::DispatchRequest {
                    job_id: job_id.clone(),
                    parameters: parameters.clone(),
                    globals: globals.clone(),
                    delay_seconds: seconds as u32,
                    worker: worker.clone(),
                };
                match shared::dispatch::dispatch(&catalog, &queue, &request, &limits).await {
                    Ok(m) => lines.push(format!("{job_id}@{} dispatched ({})", m.realm, m.run_id)),
                    Err(e) => {
                        failed = true;
                        lines.push(format!("{job_id}: {e}"));
                    }
                }
            }
            if failed {
                bail!("{}", lines.join("\n"));
            }
            Ok(lines.join("\n"))
        }
        Command::State(command) => run_state(&cli.target, command).await,
        Command::Schedule(ScheduleCommand::Preview { job_id, count, from }) => {
            let start = match &from {
                Some(text) => text
                    .parse::<jiff::Timestamp>()
                    .with_context(|| format!("--from {text}: expected an RFC 3339 instant"))?,
                None => jiff::Timestamp::now(),
            };
            let (clients, names) = connect(&cli.target).await?;
            let catalog = catalog(&clients, names);
            let realm_config = catalog.realm().await.ok().and_then(|r| r.config);
            let jobs = catalog.jobs().await?;
            Ok(schedule_preview(
                &jobs,
                &shared::config::Config::new(std::env::vars(), realm_config.as_ref()),
                job_id.as_deref(),
                count,
                start,
            )?)
        }
        Command::Realm(RealmCommand::Get) => {
            let (clients, names) = connect(&cli.target).await?;
            Ok(pretty(&catalog(&clients, names).realm().await?.to_value()))
        }
        Command::Realm(RealmCommand::Put { file }) => {
            let records = read_records(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
            let [record] = records.as_slice() else { bail!("{}: expected one realm entry", file.display()) };
            let realm = RealmEntry::from_value(record)?;
            realm.validate()?;
            let target = Target { realm: Some(realm.realm.clone()), ..cli.target.clone() };
            let (clients, names) = connect(&target).await?;
            catalog(&clients, names).put_realm(&realm).await?;
            Ok(format!("realm {} written", realm.realm))
        }
    }
}

async fn state_store(target: &Target) -> Result<shared::state::StateStore> {
    let (clients, names) = connect(target).await?;
    let tables = Arc::new(DynamoTables::new(clients.dynamodb.clone()));
    let realm_config = Catalog::new(tables.clone(), names.clone()).realm().await.ok().and_then(|r| r.config);
    let config = shared::config::Config::new(std::env::vars(), realm_config.as_ref());
    Ok(shared::state::StateStore::new(tables, Arc::new(shared::aws::KmsKeys::new(clients.kms.clone())), names, config))
}

async fn run_state(target: &Target, command: StateCommand) -> Result<String> {
    match command {
        StateCommand::Put { state_id, param, value, kms_key, publisher, ttl, state_type } => {
            if shared::state::is_reserved(&state_id) {
                bail!("{state_id}: Values beginning with \"lava\" are reserved");
            }
            let value = match value {
                Some(v) => Value::String(v),
                None => {
                    let mut map = serde_json::Map::new();
                    for pair in &param {
                        let (k, v) = pair.split_once('=').with_context(|| format!("-p {pair}: expected KEY=VALUE"))?;
                        map.insert(k.to_string(), Value::String(v.to_string()));
                    }
                    Value::Object(map)
                }
            };
            let ttl_seconds =
                ttl.as_deref().map(shared::model::values::parse_duration).transpose().map_err(anyhow::Error::msg)?;
            let state_type = match state_type.as_str() {
                "raw" => shared::model::StateType::Raw,
                "secure" => shared::model::StateType::Secure,
                _ => shared::model::StateType::Json,
            };
            let publisher =
                publisher.or_else(|| std::env::var("LAVA_JOB_ID").ok()).unwrap_or_else(|| "lava-state CLI".into());
            let store = state_store(target).await?;
            store
                .put(&shared::state::NewState {
                    state_id: state_id.clone(),
                    value,
                    state_type,
                    ttl_seconds,
                    publisher: Some(publisher),
                    kms_key,
                })
                .await?;
            Ok(format!("state {state_id} written"))
        }
        StateCommand::Get { state_id, template, ignore_missing } => {
            if shared::state::is_reserved(&state_id) {
                bail!("{state_id}: Values beginning with \"lava\" are reserved");
            }
            let store = state_store(target).await?;
            let value = match store.get(&state_id).await? {
                Some((_, value)) => value,
                None if ignore_missing => return Ok(String::new()),
                None => bail!("{state_id}: not found"),
            };
            let renderer = shared::render::Renderer::default();
            let v = shared::render::from_json(&value);
            let context = minijinja::context! { state => v.clone(), s => v };
            renderer.render(template.as_deref().unwrap_or("{{ state }}"), &context).map_err(anyhow::Error::msg)
        }
        StateCommand::List => {
            let store = state_store(target).await?;
            let mut lines = vec![format!("{:<32} {:<7} {:<26} PUBLISHER", "STATE_ID", "TYPE", "TIMESTAMP")];
            for item in store.list().await? {
                let kind = serde_json::to_value(item.state_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                lines.push(format!(
                    "{:<32} {kind:<7} {:<26} {}",
                    item.state_id,
                    item.timestamp,
                    item.publisher.unwrap_or_default()
                ));
            }
            Ok(lines.join("\n"))
        }
    }
}

async fn run_specs(target: &Target, kind: SpecKind, command: SpecCommand) -> Result<String> {
    match command {
        SpecCommand::Validate { files } => Ok(load_specs(kind, &files)?.1.join("\n")),
        SpecCommand::Put { files } => {
            let (specs, mut lines) = load_specs(kind, &files)?;
            let (clients, names) = connect(target).await?;
            let catalog = catalog(&clients, names);
            for spec in &specs {
                match spec {
                    Spec::Job(j) => catalog.put_job(j).await?,
                    Spec::Connection(c) => catalog.put_connection(c).await?,
                    Spec::S3trigger(t) => catalog.put_s3trigger(t).await?,
                }
            }
            lines.push(format!("{} written to realm {}", specs.len(), catalog.names().realm));
            Ok(lines.join("\n"))
        }
        SpecCommand::Get { id } => {
            let (clients, names) = connect(target).await?;
            let catalog = catalog(&clients, names);
            Ok(match kind {
                SpecKind::Job => pretty(&catalog.job(&id).await?.to_value()),
                SpecKind::Connection => pretty(&catalog.connection(&id).await?.to_value()),
                SpecKind::S3trigger => bail!("s3trigger get is not supported; use s3trigger list"),
            })
        }
        SpecCommand::List => {
            let (clients, names) = connect(target).await?;
            let catalog = catalog(&clients, names);
            match kind {
                SpecKind::Job => Ok(job_table(&catalog.jobs().await?)),
                _ => bail!("only `lava job list` is supported so far"),
            }
        }
    }
}

/// The next fire times of the scheduled jobs (or of `only`), one block per job.
pub fn schedule_preview(
    jobs: &[JobSpec],
    config: &shared::config::Config,
    only: Option<&str>,
    count: usize,
    start: jiff::Timestamp,
) -> Result<String> {
    let (zones, default_zone) = shared::dispatch::function::dispatcher_zones(config, jobs);
    let mut lines = Vec::new();
    let selected: Vec<&JobSpec> = jobs.iter().filter(|j| only.is_none_or(|id| j.job_id == id)).collect();
    if let Some(id) = only
        && selected.is_empty()
    {
        bail!("{id}: no such job");
    }
    for job in selected {
        let Some(schedule) = &job.schedule else {
            if only.is_some() {
                lines.push(format!("{}: no schedule", job.job_id));
            }
            continue;
        };
        let tz = job.dispatcher.as_ref().and_then(|d| zones.get(d)).unwrap_or(&default_zone);
        let entries = shared::model::schedule::schedule_entries(schedule)
            .and_then(|es| {
                es.iter().map(|e| shared::schedule::Entry::new(e, tz)).collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(|e| anyhow::anyhow!("{}: {e}", job.job_id))?;
        let zone_name = tz.iana_name().unwrap_or("UTC");
        lines.push(format!(
            "{} (dispatcher {}, {zone_name}): {schedule}",
            job.job_id,
            job.dispatcher.as_deref().unwrap_or("-")
        ));
        let next = shared::schedule::next_fire_times(&entries, tz, start, count, 366);
        if next.is_empty() {
            lines.push("  (no fire time in the next year)".into());
        }
        for t in next {
            lines.push(format!("  {}", t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %a %:z")));
        }
    }
    Ok(lines.join("\n"))
}

/// One line per job: id, type, worker, enabled, schedule.
pub fn job_table(jobs: &[JobSpec]) -> String {
    let mut lines = vec![format!("{:<32} {:<10} {:<12} {:<8} SCHEDULE", "JOB_ID", "TYPE", "WORKER", "ENABLED")];
    for job in jobs {
        let enabled = match &job.enabled {
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::String(_)) => "template".into(),
            None => "false".into(),
            Some(other) => other.to_string(),
        };
        let schedule = job.schedule.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        lines.push(format!("{:<32} {:<10} {:<12} {:<8} {schedule}", job.job_id, job.job_type, job.worker, enabled));
    }
    lines.join("\n")
}

async fn run_local(target: &Target, command: LocalCommand) -> Result<String> {
    let dir = &target.local_dir;
    match command {
        LocalCommand::Up { port, samples, venv } => {
            let realm = target.realm.clone().unwrap_or_else(|| "local".into());
            check_realm_name(&realm).map_err(anyhow::Error::msg)?;
            let endpoint_url = match local::LocalState::read(dir) {
                Ok(state) if local::http_get(port_of(&state.endpoint_url), "/moto-api/data.json").is_ok() => {
                    state.endpoint_url
                }
                _ => {
                    let server = local::ensure_moto(&venv)?;
                    std::fs::create_dir_all(dir)?;
                    let pid = local::start_moto(&server, port, &dir.join("moto.log"))?;
                    let endpoint_url = format!("http://127.0.0.1:{port}");
                    local::LocalState { realm: realm.clone(), endpoint_url: endpoint_url.clone(), pid }.write(dir)?;
                    endpoint_url
                }
            };
            let mut out = bring_up(&endpoint_url, &realm, target.region.clone(), &samples).await?;
            out.push_str(&format!(
                "\n\nLocal realm {realm} is up on {endpoint_url}.\nUse it with `lava --local ...`, or point any AWS tool at it:\n  export AWS_ENDPOINT_URL={endpoint_url} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test LAVA_REALM={realm}\nStop it with `lava local down`."
            ));
            Ok(out)
        }
        LocalCommand::Down => {
            let state = local::LocalState::read(dir)?;
            local::stop_process(state.pid)?;
            std::fs::remove_file(local::LocalState::path(dir))?;
            Ok(format!("local realm {} stopped", state.realm))
        }
        LocalCommand::Status => {
            let state = local::LocalState::read(dir)?;
            let up = local::http_get(port_of(&state.endpoint_url), "/moto-api/data.json").is_ok();
            Ok(format!(
                "realm {} on {} (pid {}): {}",
                state.realm,
                state.endpoint_url,
                state.pid,
                if up { "up" } else { "not answering" }
            ))
        }
    }
}

/// Whether an endpoint URL points at this machine (then it is an emulator).
fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

fn port_of(endpoint_url: &str) -> u16 {
    endpoint_url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(5000)
}

/// Creates a realm's resources on `endpoint_url`, loads the sample jobs (their workers get
/// queues), and returns the job listing.
pub async fn bring_up(endpoint_url: &str, realm: &str, region: Option<String>, samples: &Path) -> Result<String> {
    let clients = Clients::load(&AwsOptions {
        endpoint_url: Some(endpoint_url.to_string()),
        region,
        emulator: true,
        ..Default::default()
    })
    .await;
    let names = ResourceNames::for_realm(realm);
    let files = spec_files(samples).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (specs, _) = load_specs(SpecKind::Job, &files)?;
    let jobs: Vec<JobSpec> =
        specs.into_iter().filter_map(|s| if let Spec::Job(j) = s { Some(j) } else { None }).collect();
    let mut workers: Vec<String> = jobs.iter().map(|j| j.worker.clone()).collect();
    workers.sort();
    workers.dedup();
    provision::realm(&clients, &names, &names.local_bucket(), &workers).await?;
    let catalog = catalog(&clients, names);
    for job in &jobs {
        catalog.put_job(job).await?;
    }
    Ok(job_table(&catalog.jobs().await?))
}
