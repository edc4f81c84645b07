//! `lava-worker`: the command line (the original's options, so existing boot scripts keep
//! working) and the wiring from it to `shared::worker`.

use clap::Parser;
use std::path::PathBuf;

pub mod log_json;

/// The worker's command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "lava-worker", version, disable_version_flag = true, about = "Run lava jobs from a worker queue.", after_help = ENV_HELP)]
pub struct Args {
    /// Print the version.
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// Realm.
    #[arg(short, long, env = "LAVA_REALM")]
    pub realm: String,
    /// Worker (fleet) name.
    #[arg(short, long, env = "LAVA_WORKER")]
    pub worker: String,
    /// Queue name (default lava-<realm>-<worker>).
    #[arg(short, long)]
    pub queue: Option<String>,
    /// Jobs run at once.
    #[arg(short, long, default_value_t = 5)]
    pub threads: usize,
    /// Long-poll wait in seconds (0..20).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub wait: u32,
    /// Seconds to sleep after an empty poll.
    #[arg(short, long, default_value_t = 10, allow_negative_numbers = true)]
    pub sleep: i64,
    /// Dead-letter a run started more than RETRIES+1 times (negative: never); copies that only
    /// waited for another worker's lease on the run do not count.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    pub retries: i64,
    /// Seconds between heartbeats (0: none; otherwise at least 30): a log line with the queue's
    /// depth and the runner slots, and a touch of the heartbeat file (HEARTBEAT_FILE).
    #[arg(short = 'b', long, default_value_t = 0)]
    pub heartbeat: u64,
    /// Exit when a poll returns no message.
    #[arg(long, conflicts_with = "daemon")]
    pub batch: bool,
    /// Accepted for old boot scripts; the worker always runs in the foreground (use a supervisor).
    #[arg(short, long)]
    pub daemon: bool,
    /// Developer mode: job output goes to this process's stdout/stderr instead of S3.
    #[arg(long)]
    pub dev: bool,
    /// Accepted for old boot scripts; schedules are dispatched by the realm's schedule rule.
    #[arg(short, long)]
    pub jump_start: bool,
    /// Allow running as root.
    #[arg(long)]
    pub root: bool,
    /// AWS profile.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Log level.
    #[arg(short, long, env = "LAVA_LOGLEVEL", default_value = "info")]
    pub level: String,
    /// Accepted for old boot scripts; logs always go to standard error.
    #[arg(long)]
    pub log: Option<String>,
    /// JSON log lines, with the original's field names (event_source, realm, worker, host, tag,
    /// localtime, timestamp, level, message, thread, pid, event_type, job_id, run_id).
    #[arg(long)]
    pub log_json: bool,
    /// The tag of every JSON log line.
    #[arg(long, default_value = "lava-worker")]
    pub tag: String,
    /// No colour in logs.
    #[arg(short = 'c', long = "no-colour", alias = "no-color")]
    pub no_colour: bool,
    /// Seconds running jobs may go on after SIGTERM before they are stopped and released.
    #[arg(long, default_value_t = 30)]
    pub grace: u64,
    /// Seconds between extensions of a running job's message visibility and run lease (each
    /// extends them by three heartbeats; a job whose renewals all fail is stopped a heartbeat
    /// before its lease ends).
    #[arg(long, default_value_t = 60)]
    pub visibility_heartbeat: u64,
    /// Seconds one attempt of an AWS call may take before it is abandoned and retried (long
    /// polls get their wait on top; S3 transfers get 15 minutes).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub aws_timeout: u64,
    /// Folder for run directories (default: config TMPDIR, else /tmp/lava).
    #[arg(long)]
    pub tmpdir: Option<PathBuf>,
}

const ENV_HELP: &str = "Environment:
  LAVA_REALM, LAVA_WORKER      defaults for --realm and --worker
  LAVA_<KEY>                   worker configuration (over the realm's config map), e.g.
                               LAVA_CMD_TIMEOUT=20m, LAVA_EVENT_TTL=5d, LAVA_STDERR_SIZE=4000
  LAVA_ACTIONS_QUEUE           actions queue name (absent: action lists run in this process)
  LAVA_REALMS_TABLE, LAVA_JOBS_TABLE, LAVA_EVENTS_TABLE, LAVA_STATE_TABLE
                               table names (default lava.realms and lava.<realm>.<table>)
  AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, ...
                               the AWS SDK's own settings (an emulator endpoint works)";

/// Refuses option combinations the worker cannot honour.
pub fn check(args: &Args) -> Result<(), String> {
    if args.heartbeat != 0 && args.heartbeat < 30 {
        return Err(format!("--heartbeat {}: must be 0 or at least 30 seconds", args.heartbeat));
    }
    if let Some(target) = &args.log {
        tracing::warn!(target = %target, "--log is ignored: logs go to standard error (redirect it, or let the container runtime collect it).");
    }
    if !args.root && nix::unistd::geteuid().is_root() {
        return Err("refusing to run as root without --root".into());
    }
    if args.daemon {
        tracing::warn!("--daemon is ignored: the worker runs in the foreground under its supervisor.");
    }
    if args.jump_start {
        tracing::warn!("--jump-start is ignored: scheduled jobs are dispatched by the realm's schedule rule.");
    }
    Ok(())
}

/// Logging to standard error: JSON lines with `--log-json`, plain text otherwise.
pub fn init_logging(args: &Args) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_new(args.level.to_lowercase().replace("warning", "warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.log_json {
        let lines = log_json::JsonLines::new(&args.realm, &args.worker, &args.tag);
        tracing_subscriber::registry().with(filter).with(lines).init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(!args.no_colour)
            .init();
    }
}

/// Turns SIGTERM/SIGINT/SIGHUP into a stop request; SIGUSR1 writes the worker's state to the log.
pub async fn stop_on_signals(stop: tokio::sync::watch::Sender<bool>, worker: std::sync::Arc<shared::worker::Worker>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    ) else {
        tracing::error!("Cannot install signal handlers.");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => break,
            _ = usr1.recv() => worker.log_state(),
        }
    }
    tracing::info!("Stop requested: no new jobs; running jobs get their grace period.");
    let _ = stop.send(true);
}
