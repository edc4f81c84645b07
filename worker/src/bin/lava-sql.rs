//! `lava-sql`: run SQL files against a lava connection and write the results (CSV, JSON lines
//! or HTML) to stdout, a file or S3. The `sqlv` job type runs it; it is also a handy operator
//! tool. Exit status 0 on success, 1 on error, 2 on interrupt.

use clap::Parser;
use shared::aws::{AwsOptions, Clients};
use shared::sql::csv::{CsvFormat, Quoting, dialect_terminator};
use shared::sql::script::{OutputFormat, Script};
use std::process::ExitCode;
use std::sync::Arc;

/// The command line (the original lava-sql's options).
#[derive(Debug, Parser)]
#[command(name = "lava-sql", version, about = "Run SQL files against a lava connection.")]
struct Args {
    /// AWS profile.
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Application name the database session reports (default lv-<LAVA_REALM>-<LAVA_JOB_ID>).
    #[arg(short = 'a', long)]
    app_name: Option<String>,
    /// Rows fetched per round trip (at least 1).
    #[arg(short = 'b', long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Output format: csv, jsonl, html or parquet.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write a header row (csv, html).
    #[arg(long)]
    header: bool,
    /// Output: a file or s3:// URI (default stdout).
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Do not split files into statements.
    #[arg(long)]
    raw: bool,
    /// Run everything in one transaction.
    #[arg(long)]
    transaction: bool,
    /// The connection.
    #[arg(short = 'c', long)]
    conn_id: String,
    /// Realm.
    #[arg(short = 'r', long, env = "LAVA_REALM")]
    realm: String,
    /// No colour in log output.
    #[arg(long)]
    no_colour: bool,
    /// Log level (debug, info, warning, error, critical).
    #[arg(short = 'l', long, default_value = "info")]
    level: String,
    /// Accepted for compatibility; logs go to standard error.
    #[arg(long)]
    log: Option<String>,
    /// A tag for log lines (sqlv passes <job_id>:<run_id>).
    #[arg(long)]
    tag: Option<String>,
    /// CSV field separator.
    #[arg(long, default_value = "|")]
    delimiter: String,
    /// CSV dialect: excel, excel-tab or unix.
    #[arg(long, default_value = "excel")]
    dialect: String,
    /// Double an embedded quote character.
    #[arg(long)]
    doublequote: bool,
    /// CSV escape character.
    #[arg(long)]
    escapechar: Option<String>,
    /// CSV quote character.
    #[arg(long, default_value = "\"")]
    quotechar: String,
    /// CSV quoting: minimal, all, nonnumeric or none.
    #[arg(long, default_value = "minimal")]
    quoting: String,
    /// Sort the keys of each JSON line.
    #[arg(long)]
    sort_keys: bool,
    /// SQL files (local or s3://); none or - reads stdin.
    files: Vec<String>,
}

fn one_char(name: &str, text: &str) -> Result<char, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!("--{name}: {text:?} must be a single character")),
    }
}

fn format(args: &Args) -> Result<OutputFormat, String> {
    match args.format.as_str() {
        "csv" => Ok(OutputFormat::Csv(CsvFormat {
            delimiter: one_char("delimiter", &args.delimiter)?,
            quotechar: one_char("quotechar", &args.quotechar)?,
            escapechar: args.escapechar.as_deref().map(|e| one_char("escapechar", e)).transpose()?,
            doublequote: args.doublequote,
            quoting: Quoting::parse(&args.quoting)?,
            lineterminator: dialect_terminator(&args.dialect)?,
        })),
        "jsonl" => Ok(OutputFormat::Jsonl { sort_keys: args.sort_keys }),
        "html" => Ok(OutputFormat::Html),
        "parquet" => Ok(OutputFormat::Parquet { batch_size: args.batch_size.max(1) as usize }),
        other => Err(format!("--format {other}: expected csv, jsonl, html or parquet")),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let output = format(&args)?;
    let clients = Clients::load(&AwsOptions { profile: args.profile.clone(), ..Default::default() }).await;
    let webhook = shared::webhook::HttpWebhook::new();
    let ports = shared::wiring::ports(&clients, Arc::new(webhook));
    let env: Vec<(String, String)> = std::env::vars().collect();
    let lookup = |k: &str| env.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone());
    let names = shared::names::ResourceNames::with_overrides(&args.realm, lookup);
    let config = shared::config::Config::new(env.clone(), None);
    let catalog = shared::catalog::Catalog::new(ports.tables.clone(), names);
    let connections = shared::connections::Connections::new(catalog, ports.secrets.clone(), config.clone())
        .with_blobs(ports.blobs.clone());
    let job_id = std::env::var("LAVA_JOB_ID").unwrap_or_default();
    let app_name = args.app_name.clone().or_else(|| {
        shared::connections::application_name(
            &config,
            &shared::render::Renderer::default(),
            &args.realm,
            &job_id,
            &args.conn_id,
        )
    });
    let script = Script {
        conn_id: args.conn_id,
        app_name,
        format: output,
        header: args.header,
        raw: args.raw,
        transaction: args.transaction,
        files: args.files,
        output: args.output,
    };
    shared::sql::script::run(&script, &connections, ports.blobs.as_ref()).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let level = match args.level.to_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" => "error".to_string(),
        other => other.to_string(),
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(OriginalLines { prefix: args.tag.as_ref().map(|t| format!("{t}: ")).unwrap_or_default() })
        .init();
    tokio::select! {
        outcome = run(args) => match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::from(1)
            }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::from(2),
    }
}

/// Log lines as the original's lava-sql writes them to standard error, which sqlv jobs keep as
/// their `stderr` output: `<tag>: MainThread: <message>`.
struct OriginalLines {
    prefix: String,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for OriginalLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "{}MainThread: ", self.prefix)?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
