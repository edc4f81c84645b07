//! `lava dag-gen`: a `dag` job's payload from a dependency matrix in a CSV file, an SQLite file
//! or a table behind a lava database connection (the original's `lava-dag-gen`). What it
//! decides is in `crate::ops::dag_gen`; here the sources are read.

use crate::Target;
use crate::ops::dag_gen::{self, Dag, Shape};
use anyhow::{Context, Result, bail};
use clap::Args;
use shared::config::Config;
use shared::connections::{Connections, Database};
use shared::sql::driver::Session;
use std::time::Duration;

/// `lava dag-gen`.
#[derive(Debug, Args)]
pub struct DagGenArgs {
    /// Leave out jobs that others wait for and that wait for nothing; print a job waiting for
    /// nothing as null and one waiting for one job as that job's id.
    #[arg(short, long)]
    compact: bool,
    /// Database sources: only the rows of this `job_group`; Excel sources: the worksheet.
    #[arg(short, long)]
    group: Option<String>,
    /// Print the batches the jobs run in instead of the payload.
    #[arg(short, long)]
    order: bool,
    /// Put this before every job id.
    #[arg(short, long, default_value = "")]
    prefix: String,
    /// Put the payload under this key (`-w payload` for a job spec's field).
    #[arg(short, long, value_name = "KEY")]
    wrap: Option<String>,
    /// Database sources: the table of `(job_group, job, depends_on)` rows.
    #[arg(long, value_name = "[SCHEMA.]TABLE", default_value = dag_gen::DEFAULT_TABLE)]
    table: String,
    /// Print YAML instead of JSON.
    #[arg(short, long)]
    yaml: bool,
    /// A CSV or Excel (`.xlsx`) file (successors down the first column, predecessors across
    /// the first row, a non-blank cell a dependency), an SQLite file (`.sqlite`, `.sqlite3`) or a lava database
    /// connection id (which needs the realm).
    source: String,
}

impl DagGenArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let dag = self.load(target).await?;
        dag_gen::check(&dag).map_err(anyhow::Error::msg)?;
        if self.order {
            let batches = dag_gen::batches(&dag, &self.prefix).map_err(anyhow::Error::msg)?;
            return Ok(batches.trim_end_matches('\n').to_string());
        }
        let shape = Shape { compact: self.compact, prefix: self.prefix, wrap: self.wrap, yaml: self.yaml };
        // The command line prints a line end after what a command returns.
        Ok(dag_gen::payload(&dag, &shape).trim_end_matches('\n').to_string())
    }

    async fn load(&self, target: &Target) -> Result<Dag> {
        let source = self.source.as_str();
        if source.ends_with(".csv") {
            let text = std::fs::read_to_string(source).with_context(|| source.to_string())?;
            let rows = shared::sql::csv::parse(&text).map_err(anyhow::Error::msg)?;
            return Ok(dag_gen::from_matrix(&rows));
        }
        if source.ends_with(".xlsx") {
            return Ok(dag_gen::from_matrix(&excel_rows(source, self.group.as_deref())?));
        }
        let query = dag_gen::table_query(&self.table, self.group.as_deref()).map_err(anyhow::Error::msg)?;
        let db = if source.ends_with(".sqlite") || source.ends_with(".sqlite3") {
            if !std::path::Path::new(source).is_file() {
                bail!("{source}: no such file");
            }
            Database::sqlite("dag-gen", source)
        } else {
            if target.realm.is_none() && !target.local {
                bail!("Realm must be specified for lava connections");
            }
            let (ports, names) = crate::connect(target).await?;
            let config = Config::new(std::env::vars(), None);
            let connections = Connections::new(crate::catalog(&ports, names), ports.secrets, config);
            connections.database(source).await?
        };
        let mut session = Session::connect(&db, Some("lava-dag-gen"), Duration::from_secs(30)).await?;
        let rows = session.rows(&query).await;
        session.close().await;
        let pairs = rows?
            .into_iter()
            .map(|row| {
                let mut cells = row.into_iter();
                (cells.next().flatten(), cells.next().flatten())
            })
            .collect::<Vec<_>>();
        Ok(dag_gen::from_pairs(&pairs))
    }
}

/// The cells of a workbook's sheet (`sheet`, else its first) as text, from its first used
/// row and column: numbers as written, `TRUE` for true, nothing for false and empty cells.
fn excel_rows(source: &str, sheet: Option<&str>) -> Result<Vec<Vec<String>>> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(source).with_context(|| source.to_string())?;
    let name = match sheet {
        Some(name) => name.to_string(),
        None => book.sheet_names().first().cloned().with_context(|| format!("{source}: no worksheet"))?,
    };
    if !book.sheet_names().contains(&name) {
        bail!("{source}: Worksheet {name} does not exist.");
    }
    let range = book.worksheet_range(&name).with_context(|| format!("{source}: {name}"))?;
    let text = |cell: &Data| match cell {
        Data::Empty | Data::Bool(false) => String::new(),
        Data::Bool(true) => "TRUE".into(),
        other => other.to_string(),
    };
    Ok(range.rows().map(|row| row.iter().map(text).collect()).collect())
}

/// The command line of `lava dag-gen` alone, with the realm it may need (`lava.dag()`).
#[derive(Debug, clap::Parser)]
#[command(name = "lava.dag()", no_binary_name = true)]
struct DagGenLine {
    #[command(flatten)]
    args: DagGenArgs,
    /// The realm of a connection source.
    #[arg(short, long)]
    realm: Option<String>,
}

/// `lava.dag(source, option=value, …)` in a project's sources (the original framework's): what
/// `lava dag-gen --option value … source` prints, a source file read beside the rendered file
/// (`dir`). It runs on a thread of its own, so a render (itself called from async code) can
/// wait for a database source.
pub(crate) fn dag_at_build(
    target: &Target,
    dir: &std::path::Path,
    source: &str,
    options: &[(String, String)],
) -> Result<String> {
    let mut argv: Vec<String> = options.iter().flat_map(|(k, v)| [format!("--{k}"), v.clone()]).collect();
    let beside = dir.join(source);
    argv.push(if beside.exists() { beside.to_string_lossy().into_owned() } else { source.to_string() });
    let line = <DagGenLine as clap::Parser>::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{}", e.render()))?;
    let target = Target { realm: line.realm.or_else(|| target.realm.clone()), ..target.clone() };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(line.args.run(&target)).map(|text| text + "\n")
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("lava.dag() failed")))
    })
}

/// `lava dag …`: pictures of pipelines.
#[derive(Debug, clap::Subcommand)]
pub enum DagCommand {
    /// Draw a dag or chain job's pipeline as a page (SVG in HTML): each job coloured by its
    /// last run and linked to its latest runs; prints the page's path.
    Show(DagShowArgs),
}

impl DagCommand {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            DagCommand::Show(args) => args.run(target).await,
        }
    }
}

/// `lava dag show`.
#[derive(Debug, Args)]
pub struct DagShowArgs {
    /// The dag or chain job.
    job_id: String,
    /// Write the page here (default: `lava-dag-<job>.html` in the temporary folder).
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Runs listed per job.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Open the page in the browser (`$BROWSER`, else `xdg-open`).
    #[arg(long)]
    open: bool,
}

impl DagShowArgs {
    async fn run(self, target: &Target) -> Result<String> {
        use crate::ops::dag_show::{RunLine, graph_of, node_job, page};
        let (ports, names) = crate::connect(target).await?;
        let catalog = crate::catalog(&ports, names.clone());
        let job = catalog.job(&self.job_id).await?;
        let graph = graph_of(&job).map_err(anyhow::Error::msg)?;
        let history = shared::history::History::new(ports.tables.clone(), names);
        let filter = shared::history::RunFilter { limit: Some(self.runs), ..Default::default() };
        let mut runs = std::collections::BTreeMap::new();
        for node in graph.keys() {
            let id = node_job(node).to_string();
            if runs.contains_key(&id) {
                continue;
            }
            let lines: Vec<RunLine> = history
                .job_runs(&id, &filter)
                .await?
                .into_iter()
                .map(|r| RunLine { run_id: r.run_id, status: r.status.as_str().to_string(), when: r.ts_event })
                .collect();
            runs.insert(id, lines);
        }
        let html = page(&job, &graph, &runs).map_err(anyhow::Error::msg)?;
        let path = self.html.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("lava-dag-{}.html", crate::ops::file_name(&self.job_id)))
        });
        std::fs::write(&path, html).with_context(|| path.display().to_string())?;
        if self.open {
            let browser = std::env::var("BROWSER").unwrap_or_else(|_| "xdg-open".into());
            std::process::Command::new(&browser)
                .arg(&path)
                .spawn()
                .with_context(|| format!("{browser}: cannot open the page (its path is {})", path.display()))?;
        }
        Ok(path.display().to_string())
    }
}
