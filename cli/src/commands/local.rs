//! `lava local …`: bring the whole local realm up in the background (moto, the functions fed
//! from their queues, the schedule tick, the workers), stop it, show it, follow its logs. The
//! moto process and the state file are `crate::local`'s, the running realm `crate::local::realm`'s.

use crate::commands::specs::job_table;
use crate::local::realm::{self as running, Parts, ServeOptions};
use crate::local::{self, Emulator, LocalState};
use crate::{Spec, SpecKind, Target, catalog, load_specs, ports};
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use shared::aws::{AwsOptions, Clients, provision};
use shared::documents::spec_files;
use shared::model::{JobSpec, Limits};
use shared::names::{ResourceNames, check_realm_name, check_worker_name};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the whole realm in the background: moto on 127.0.0.1 with the realm's resources and
    /// the sample jobs, the dispatch, actions and s3trigger functions fed from their queues, the
    /// schedule tick every minute, and a worker for each worker name.
    Up {
        /// Port for the moto server.
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Address moto listens on: 127.0.0.1, or the docker0 address (e.g. 172.17.0.1) for
        /// functions run by `sam local` in containers to reach it.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Folder of sample job specs to load.
        #[arg(long, default_value = "samples/jobs")]
        samples: PathBuf,
        /// Virtualenv holding moto.
        #[arg(long, default_value = ".venv")]
        venv: PathBuf,
        /// The emulator: moto alone, or LocalStack with the tables on moto (LocalStack's free
        /// DynamoDB needs a download); LocalStack's schedule rule then fires the tick.
        #[arg(long, value_enum, default_value_t = Emulator::Moto)]
        emulator: Emulator,
        /// Port for LocalStack (with `--emulator localstack`).
        #[arg(long, default_value_t = 4566)]
        localstack_port: u16,
        /// Virtualenv holding LocalStack (`bash tests/setup.sh` installs it there).
        #[arg(long, default_value = ".venv-localstack")]
        localstack_venv: PathBuf,
        /// Run workers with these names (default: every worker the realm's jobs name; '' for none).
        #[arg(long, value_delimiter = ',')]
        workers: Option<Vec<String>>,
        /// Where the function and worker binaries are (default: beside this `lava`).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
    /// Stop every part of the local realm (moto's contents are lost).
    Down,
    /// Show each part of the local realm: its process, whether it runs, its log file.
    Status,
    /// Follow the local realm's logs: one part's (moto, supervisor, dispatch, actions, s3trigger,
    /// worker-<name>) or all of them.
    Logs {
        /// The part whose log to show (default: all, each line prefixed with its part).
        part: Option<String>,
        /// Print what is logged so far and exit.
        #[arg(long)]
        no_follow: bool,
    },
    /// Run the realm's functions, tick and workers in the foreground (what `up` starts).
    #[command(hide = true)]
    Serve {
        /// Worker names.
        #[arg(long, value_delimiter = ',')]
        workers: Vec<String>,
        /// Where the binaries are.
        #[arg(long)]
        bin_dir: PathBuf,
    },
}

impl LocalCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let dir = &target.local_dir;
        match self {
            LocalCommand::Up {
                port,
                host,
                samples,
                venv,
                emulator,
                localstack_port,
                localstack_venv,
                workers,
                bin_dir,
            } => {
                let bin_dir = match bin_dir {
                    Some(dir) => dir,
                    None => std::env::current_exe()?.parent().context("the folder of this lava")?.to_path_buf(),
                };
                running::binaries(&bin_dir)?;
                let emulators = Emulators { host, port, venv, emulator, localstack_port, localstack_venv };
                up(target, &emulators, &samples, workers, &bin_dir).await
            }
            LocalCommand::Down => down(dir),
            LocalCommand::Status => status(dir),
            LocalCommand::Logs { part, no_follow } => logs(dir, part.as_deref(), !no_follow).await,
            LocalCommand::Serve { workers, bin_dir } => {
                let state = LocalState::read(dir)?;
                tracing_subscriber::fmt().with_ansi(false).with_env_filter("info").init();
                let region = target.region.clone().unwrap_or_else(|| "us-east-1".into());
                let clients = client_for(&state, Some(region.clone())).await;
                let options = ServeOptions {
                    realm: state.realm,
                    endpoint_url: state.endpoint_url,
                    tables_endpoint_url: state.tables_endpoint_url,
                    tick: state.emulator == Emulator::Moto,
                    region,
                    dir: std::path::absolute(dir)?,
                    bin_dir,
                    workers: workers.into_iter().filter(|w| !w.is_empty()).collect(),
                };
                running::serve(options, ports(&clients).queues).await?;
                Ok(String::new())
            }
        }
    }
}

/// Where `lava local up` runs its emulators.
struct Emulators {
    host: String,
    port: u16,
    venv: PathBuf,
    emulator: Emulator,
    localstack_port: u16,
    localstack_venv: PathBuf,
}

/// The running emulators of the local realm in `dir` (those of `state.json` if they still
/// answer), started as `emulators` says otherwise.
fn ensure_emulators(dir: &Path, realm: &str, emulators: &Emulators) -> Result<LocalState> {
    if let Ok(state) = LocalState::read(dir)
        && state.answers()
    {
        if state.emulator != emulators.emulator {
            bail!(
                "the local realm in {} runs on {:?}; stop it with `lava local down` first",
                dir.display(),
                state.emulator
            );
        }
        return Ok(state);
    }
    let localstack = match emulators.emulator {
        Emulator::Moto => None,
        Emulator::Localstack => Some(local::localstack_python(&emulators.localstack_venv)?),
    };
    let server = local::ensure_moto(&emulators.venv)?;
    std::fs::create_dir_all(dir)?;
    let host = &emulators.host;
    let pid = local::start_moto(&server, host, emulators.port, &dir.join("moto.log"))?;
    let moto_url = format!("http://{host}:{}", emulators.port);
    let mut state = LocalState {
        realm: realm.to_string(),
        endpoint_url: moto_url.clone(),
        pid,
        supervisor: None,
        emulator: emulators.emulator,
        tables_endpoint_url: None,
        localstack: None,
    };
    if let Some(python) = localstack {
        eprintln!("Starting LocalStack on {host}:{} (up to a minute)...", emulators.localstack_port);
        let started = local::start_localstack(&python, host, emulators.localstack_port, &dir.join("localstack.log"));
        let localstack_pid = started.inspect_err(|_| {
            let _ = local::stop_process(pid);
        })?;
        state.endpoint_url = format!("http://{host}:{}", emulators.localstack_port);
        state.tables_endpoint_url = Some(moto_url);
        state.localstack = Some(localstack_pid);
    }
    state.write(dir)?;
    Ok(state)
}

async fn up(
    target: &Target,
    emulators: &Emulators,
    samples: &Path,
    workers: Option<Vec<String>>,
    bin_dir: &Path,
) -> Result<String> {
    let dir = &target.local_dir;
    let realm = target.realm.clone().unwrap_or_else(|| "local".into());
    check_realm_name(&realm).map_err(anyhow::Error::msg)?;
    let mut state = ensure_emulators(dir, &realm, emulators)?;
    let (listing, workers) = load_realm(&state, target.region.clone(), samples, workers).await?;
    let running = state.supervisor.is_some_and(local::is_running);
    if !running {
        let log = dir.join("local.log");
        let _ = std::fs::remove_file(Parts::path(dir));
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command
            .args(["local", "serve", "--bin-dir"])
            .arg(std::path::absolute(bin_dir)?)
            .arg("--workers")
            .arg(workers.join(","))
            .env("LAVA_LOCAL_DIR", std::path::absolute(dir)?)
            .stdin(std::process::Stdio::null())
            .process_group(0);
        if let Some(region) = &target.region {
            command.env("AWS_REGION", region);
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let mut child = command.stdout(file.try_clone()?).stderr(file).spawn().context("starting the local realm")?;
        state.supervisor = Some(child.id());
        state.write(dir)?;
        let started = Instant::now();
        loop {
            if Parts::read(dir).is_some_and(|p| p.supervisor == child.id()) {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("the local realm stopped while starting ({status}):\n{}", tail(&log, 20));
            }
            if started.elapsed() > Duration::from_secs(90) {
                bail!("the local realm did not start within 90 s:\n{}", tail(&log, 20));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let endpoint_url = &state.endpoint_url;
    let (on, tables) = match &state.tables_endpoint_url {
        Some(moto) => (
            format!("{endpoint_url} (LocalStack; its tables on moto, {moto})"),
            format!(" AWS_ENDPOINT_URL_DYNAMODB={moto}"),
        ),
        None => (endpoint_url.clone(), String::new()),
    };
    Ok(format!(
        "{listing}\n\n{}\nLocal realm {realm} is {} on {on}: requests on its dispatch queue, schedules, \
         uploads to its bucket and actions all run.\nUse it with `lava --local ...` (try `lava --local dispatch demo/hello --wait`), \
         or point any AWS tool at it:\n  export AWS_ENDPOINT_URL={endpoint_url}{tables} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
         AWS_SECRET_ACCESS_KEY=test LAVA_REALM={realm}\nFollow it with `lava local logs`; stop it with `lava local down`.",
        status(dir)?,
        if running { "already running" } else { "up" },
        realm = state.realm,
    ))
}

fn down(dir: &Path) -> Result<String> {
    let state = LocalState::read(dir)?;
    let mut stopped = Vec::new();
    if let Some(group) = Parts::read(dir).map(|p| p.supervisor).or(state.supervisor) {
        local::signal_group(group, "TERM");
        if !ends_within(Duration::from_secs(40), || local::group_is_running(group)) {
            local::signal_group(group, "KILL");
        }
        stopped.push("functions, tick and workers");
    }
    if let Some(pid) = state.localstack.filter(|pid| local::is_running(*pid)) {
        local::stop_process(pid)?;
        if !ends_within(Duration::from_secs(20), || local::is_running(pid)) {
            local::signal_group(pid, "KILL");
        }
        stopped.push("LocalStack");
    }
    if local::is_running(state.pid) {
        local::stop_process(state.pid)?;
        ends_within(Duration::from_secs(10), || local::is_running(state.pid));
        stopped.push("moto");
    }
    let _ = std::fs::remove_file(Parts::path(dir));
    std::fs::remove_file(LocalState::path(dir))?;
    Ok(format!("local realm {} stopped ({})", state.realm, stopped.join(", ")))
}

fn status(dir: &Path) -> Result<String> {
    let state = LocalState::read(dir)?;
    let moto = local::moto_answers(&local::address_of(state.moto_url()));
    let mut rows = vec![[
        "moto".to_string(),
        state.pid.to_string(),
        if moto { format!("up on {}", state.moto_url()) } else { "not answering".into() },
        dir.join("moto.log").display().to_string(),
    ]];
    if let Some(pid) = state.localstack {
        let up = local::localstack_answers(&local::address_of(&state.endpoint_url));
        rows.push([
            "localstack".to_string(),
            pid.to_string(),
            if up { format!("up on {}", state.endpoint_url) } else { "not answering".into() },
            dir.join("localstack.log").display().to_string(),
        ]);
    }
    match Parts::read(dir) {
        Some(parts) => rows.extend(parts.parts.into_iter().map(|part| {
            let up = part.pid != 0 && local::is_running(part.pid);
            [
                part.name,
                part.pid.to_string(),
                if up { "running" } else { "stopped" }.into(),
                part.log.display().to_string(),
            ]
        })),
        None => rows.push([
            "supervisor".into(),
            state.supervisor.map(|p| p.to_string()).unwrap_or_default(),
            "not running: `lava local up` starts it".into(),
            dir.join("local.log").display().to_string(),
        ]),
    }
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0).max(4), width(1).max(3), width(2).max(5));
    let mut out = format!("realm {}\n{:w0$}  {:w1$}  {:w2$}  log", state.realm, "part", "pid", "state");
    for [name, pid, up, log] in rows {
        out.push_str(&format!("\n{name:w0$}  {pid:w1$}  {up:w2$}  {log}"));
    }
    Ok(out)
}

/// Prints the logs of `part` (or of every part, each line prefixed), then follows them.
async fn logs(dir: &Path, part: Option<&str>, follow: bool) -> Result<String> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("no local realm logs in {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_name()?.to_str()?.strip_suffix(".log")?.to_string();
            Some((if name == "local" { "supervisor".into() } else { name }, path))
        })
        .collect();
    files.sort();
    if let Some(part) = part {
        files.retain(|(name, _)| name == part);
        if files.is_empty() {
            bail!("no log for part {part:?} in {}; `lava local status` lists the parts", dir.display());
        }
    }
    let prefix = files.len() > 1;
    let width = files.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut offsets = vec![0u64; files.len()];
    let mut stdout = std::io::stdout();
    loop {
        for ((name, path), offset) in files.iter().zip(offsets.iter_mut()) {
            let text = local::read_lines_from(path, offset)?;
            for line in text.lines() {
                use std::io::Write;
                if prefix {
                    writeln!(stdout, "{name:width$} | {line}")?;
                } else {
                    writeln!(stdout, "{line}")?;
                }
            }
        }
        if !follow {
            return Ok(String::new());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits up to `limit` for `running` to turn false; whether it did.
fn ends_within(limit: Duration, running: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while running() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Clients on the local realm's emulators (its tables on moto when it runs on LocalStack).
async fn client_for(state: &LocalState, region: Option<String>) -> Clients {
    Clients::load(&AwsOptions {
        endpoint_url: Some(state.endpoint_url.clone()),
        dynamodb_endpoint_url: state.tables_endpoint_url.clone(),
        region,
        emulator: true,
        ..Default::default()
    })
    .await
}

/// Creates a realm's resources on `endpoint_url`, loads the sample jobs (their workers get
/// queues), and returns the job listing.
pub async fn bring_up(endpoint_url: &str, realm: &str, region: Option<String>, samples: &Path) -> Result<String> {
    let state = LocalState { realm: realm.into(), endpoint_url: endpoint_url.into(), ..Default::default() };
    Ok(load_realm(&state, region, samples, None).await?.0)
}

/// [`bring_up`] on the emulators of `state`, the realm bucket's uploads notified to the S3
/// events queue and, on LocalStack, the template's schedule rule (a tick a minute onto the
/// dispatch queue); returns the job listing and the workers to run (`workers`, else every
/// worker the realm's jobs name), each with its queue.
async fn load_realm(
    state: &LocalState,
    region: Option<String>,
    samples: &Path,
    workers: Option<Vec<String>>,
) -> Result<(String, Vec<String>)> {
    let clients = client_for(state, region).await;
    let names = ResourceNames::for_realm(&state.realm);
    let files = spec_files(samples).map_err(|e| anyhow!("{e}"))?;
    let (specs, _) = load_specs(SpecKind::Job, &files, &Limits::default())?;
    let jobs: Vec<JobSpec> =
        specs.into_iter().filter_map(|s| if let Spec::Job(j) = s { Some(*j) } else { None }).collect();
    let resources = provision::realm(&clients, &names, &names.local_bucket(), &workers_of(&jobs)).await?;
    let catalog = catalog(&ports(&clients), names.clone());
    for job in &jobs {
        catalog.put_job(job).await?;
    }
    let s3events = provision::queue_arn(&clients, &resources.s3events_queue_url).await?;
    provision::notify_queue_on_upload(&clients, &names.local_bucket(), &s3events).await?;
    if state.emulator == Emulator::Localstack {
        let dispatch = provision::queue_arn(&clients, &resources.dispatch_queue_url).await?;
        let rule = format!("lava-{}---schedule", state.realm);
        provision::schedule_to_queue(&clients, &rule, "rate(1 minute)", &dispatch).await?;
    }
    let all = catalog.jobs().await?;
    let workers = match workers {
        Some(workers) => workers.into_iter().filter(|w| !w.is_empty()).collect(),
        None => workers_of(&all),
    };
    for worker in &workers {
        check_worker_name(worker).map_err(|e| anyhow!("--workers {worker:?}: {e}"))?;
        provision::create_queue_with_dlq(&clients, &names.worker_queue(worker), 3600, 3).await?;
    }
    Ok((job_table(&all), workers))
}

fn workers_of(jobs: &[JobSpec]) -> Vec<String> {
    let mut workers: Vec<String> = jobs.iter().map(|j| j.worker.clone()).collect();
    workers.sort();
    workers.dedup();
    workers
}
