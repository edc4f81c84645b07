//! The operator tools: `lava version`, `check`, `conn-usage`, `ws`, `jinja`, `dump`, `backup`
//! and `restore`. What they decide is in `crate::ops`; here they read, write and print.

use crate::ops::checks;
use crate::ops::{TableKind, connection_usage, file_name, glob_match, item_key};
use crate::{Target, connect, pretty};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};
use shared::model::{ConnectionEntry, JobSpec, RealmEntry, S3TriggerEntry};
use shared::names::ResourceNames;
use shared::ports::{Encryption, Item, Ports};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A table read failed: name the table and what a missing one means.
pub(crate) fn table_error(e: shared::Error, table: &str, realm: &str) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("ResourceNotFound") || text.contains("non-existent table") || text.contains("not found") {
        anyhow::anyhow!("table {table} does not exist: is realm {realm} deployed, and is --realm right? ({text})")
    } else {
        anyhow::anyhow!("reading {table}: {text}")
    }
}

/// A progress line on standard error: shown only on a terminal and unless quiet, each text
/// over the last; the line is ended when this is dropped.
pub(crate) struct Progress {
    show: bool,
    shown: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Self {
        Progress { show: !quiet && std::io::stderr().is_terminal(), shown: Default::default() }
    }

    pub(crate) fn show(&self, text: std::fmt::Arguments<'_>) {
        if self.show {
            eprint!("\r{text}");
            self.shown.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if *self.shown.get_mut() {
            eprintln!();
        }
    }
}

/// Scans a table, with a progress line unless `quiet`.
pub(crate) async fn scan(ports: &Ports, names: &ResourceNames, table: &str, quiet: bool) -> Result<Vec<Item>> {
    let progress = Progress::new(quiet);
    let report = |n: usize| progress.show(format_args!("scanning {table}: {n} items"));
    let items = ports.tables.scan_items_reporting(table, &report).await;
    items.map_err(|e| table_error(e, table, &names.realm))
}

/// `lava version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print it as JSON.
    #[arg(long)]
    json: bool,
}

impl VersionArgs {
    pub(crate) fn run(self) -> Result<String> {
        let version = env!("CARGO_PKG_VERSION");
        let original = shared::ORIGINAL_VERSION;
        Ok(if self.json {
            json!({"version": version, "name": "lava", "compatible_with": {"name": "lava", "version": original}})
                .to_string()
        } else {
            format!("lava {version} (compatible with the original lava {original})")
        })
    }
}

/// `lava check`: the original's hygiene checks on the realm's specs.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run the checks whose names match this glob (repeatable); without it, list the checks.
    #[arg(short = 'c', long = "check")]
    checks: Vec<String>,
    /// Ignore `x-lava-nocheck` in entries (report every problem).
    #[arg(short = 'S', long)]
    no_suppress: bool,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        if self.checks.is_empty() {
            return Ok(if self.json {
                pretty(&json!(
                    checks::CHECKS
                        .iter()
                        .map(|c| json!({"check": c.name, "about": c.about, "suppressible": c.suppressible}))
                        .collect::<Vec<_>>()
                ))
            } else {
                checks::listing()
            });
        }
        let selected = checks::selected(&self.checks);
        if selected.is_empty() {
            bail!("no check matches {}", self.checks.join(", "));
        }
        let (ports, names) = connect(target).await?;
        let reads = |prefix: &str| selected.iter().any(|c| c.name.starts_with(prefix));
        let mut realm = checks::Realm::default();
        if reads("job") {
            realm.jobs = scan(&ports, &names, &names.jobs_table, self.quiet).await?;
        }
        if reads("con") || selected.iter().any(|c| c.name == "jobconn") {
            realm.connections = scan(&ports, &names, &names.connections_table, self.quiet).await?;
        }
        if reads("trig") {
            realm.triggers = scan(&ports, &names, &names.s3triggers_table, self.quiet).await?;
        }
        let catalog = crate::catalog(&ports, names.clone());
        realm.realm = catalog.realm().await.map(|r| r.to_value()).unwrap_or(json!({"realm": names.realm}));
        if selected.iter().any(|c| c.name == "joborphan") {
            let history = catalog.history();
            let progress = Progress::new(self.quiet);
            let filter = shared::history::RunFilter { limit: Some(1), ..Default::default() };
            for (i, item) in realm.jobs.iter().enumerate() {
                let id = item.get("job_id").and_then(Value::as_str).unwrap_or_default();
                progress.show(format_args!("reading run events: {}/{}", i + 1, realm.jobs.len()));
                let runs = history
                    .job_runs(id, &filter)
                    .await
                    .map_err(|e| table_error(e, &names.events_table, &names.realm))?;
                if !runs.is_empty() {
                    realm.jobs_with_runs.insert(id.to_string());
                }
            }
        }
        let findings = checks::run(&selected, &realm, !self.no_suppress);
        if self.json {
            return Ok(pretty(&serde_json::to_value(&findings)?));
        }
        Ok(checks::report(&findings))
    }
}

/// `lava conn-usage`: jobs whose parameters name a matching connection.
#[derive(Debug, Args)]
pub struct ConnUsageArgs {
    /// Connection id globs (`'redshift*'`).
    #[arg(required = true)]
    patterns: Vec<String>,
    /// Match without regard to case.
    #[arg(short, long)]
    ignore_case: bool,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// Print `[{job_id, connections}]` as JSON.
    #[arg(long)]
    json: bool,
}

impl ConnUsageArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let items = scan(&ports, &names, &names.jobs_table, self.quiet).await?;
        let jobs: Vec<JobSpec> =
            items.into_iter().filter_map(|i| JobSpec::from_value(&Value::Object(i)).ok()).collect();
        let used = connection_usage(&jobs, &self.patterns, self.ignore_case);
        if self.json {
            return Ok(pretty(&json!(
                used.iter().map(|(job, conns)| json!({"job_id": job, "connections": conns})).collect::<Vec<_>>()
            )));
        }
        // One job id a line, as the original prints them, for `lava job activity $(lava conn-usage …)`.
        Ok(used.into_iter().map(|(job, _)| job).collect::<Vec<_>>().join("\n"))
    }
}

/// `lava ws`: each worker fleet's queue and backlog.
#[derive(Debug, Args)]
pub struct WsArgs {
    /// Only the workers whose names start with this.
    #[arg(short, long)]
    worker: Option<String>,
    /// Print the rows as JSON.
    #[arg(long)]
    json: bool,
}

impl WsArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let prefix = format!("lava-{}-{}", names.realm, self.worker.clone().unwrap_or_default());
        let realm_prefix = format!("lava-{}-", names.realm);
        let urls =
            ports.queues.list_queues(&prefix).await.map_err(|e| anyhow::anyhow!("listing the realm's queues: {e}"))?;
        let mut rows = Vec::new();
        for url in urls {
            let queue = url.rsplit('/').next().unwrap_or_default().to_string();
            let Some(worker) = queue.strip_prefix(&realm_prefix) else { continue };
            // The functions' queues (`lava-<realm>--dispatch`) and dead-letter queues are not fleets.
            if worker.starts_with('-') || worker.ends_with("-dlq") {
                continue;
            }
            let depth = ports.queues.depth(&url).await.map_err(|e| anyhow::anyhow!("{queue}: {e}"))?;
            let running = ports.tasks.running_tasks(&queue, &queue).await.ok();
            let backlog = running.and_then(|n| shared::health::backlog(depth.visible, n));
            rows.push(json!({
                "queue": queue, "worker": worker, "messages": depth.visible, "not_visible": depth.not_visible,
                "visibility_timeout": depth.visibility_timeout, "retention": depth.retention,
                "workers": running, "backlog": backlog,
            }));
        }
        if self.json {
            return Ok(pretty(&Value::Array(rows)));
        }
        if rows.is_empty() {
            return Ok(format!("no worker queues {prefix}*"));
        }
        let cell = |v: &Value| match v {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut lines = vec![format!(
            "{:<32} {:>6} {:>6} {:>6} {:>8} {:>7} {:>7}",
            "QUEUE", "MSGS", "NVIS", "VIS", "RET", "WORKERS", "BCKNOW"
        )];
        for r in &rows {
            lines.push(format!(
                "{:<32} {:>6} {:>6} {:>6} {:>8} {:>7} {:>7}",
                cell(&r["queue"]),
                cell(&r["messages"]),
                cell(&r["not_visible"]),
                cell(&r["visibility_timeout"]),
                cell(&r["retention"]),
                cell(&r["workers"]),
                cell(&r["backlog"])
            ));
        }
        Ok(lines.join("\n"))
    }
}

/// `lava jinja`: render a template with the worker's renderer.
#[derive(Debug, Args)]
pub struct JinjaArgs {
    /// The template file (`{% include %}` reads files beside it).
    template: Option<PathBuf>,
    /// The template text itself, instead of a file.
    #[arg(short = 'e', long = "expr", conflicts_with = "template")]
    text: Option<String>,
    /// A JSON or YAML file with a map of context variables (repeatable; later files win).
    #[arg(short, long)]
    context: Vec<PathBuf>,
    /// A context variable, NAME=VALUE (VALUE read as JSON when it parses, else text).
    #[arg(short = 'D', long = "define")]
    defines: Vec<String>,
    /// Print `{"rendered": …}` as JSON.
    #[arg(long)]
    json: bool,
}

impl JinjaArgs {
    pub(crate) fn run(self) -> Result<String> {
        let mut context = Map::new();
        for file in &self.context {
            for record in shared::documents::read_records(file).map_err(anyhow::Error::msg)? {
                context.extend(record.as_object().cloned().unwrap_or_default());
            }
        }
        for define in &self.defines {
            let (name, value) = define.split_once('=').with_context(|| format!("-D {define}: expected NAME=VALUE"))?;
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
            context.insert(name.trim().to_string(), value);
        }
        let context = shared::render::context_from_json(&context);
        let renderer = shared::render::Renderer::default();
        let rendered = match (&self.template, &self.text) {
            (_, Some(text)) => renderer.render(text, &context),
            (Some(file), None) => {
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                renderer.render_in_dir(&text, &context, dir)
            }
            (None, None) => bail!("give a template file or -e TEXT"),
        }
        .map_err(|e| anyhow::anyhow!("the template does not render: {e}"))?;
        Ok(if self.json { json!({"rendered": rendered}).to_string() } else { rendered })
    }
}

/// A local folder or an S3 location (`s3://bucket/prefix`).
enum Place {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Place {
    fn parse(text: &str) -> Result<Place> {
        if text.starts_with("s3://") {
            let location = shared::model::S3Location::parse(text).map_err(|e| anyhow::anyhow!("{text}: {e}"))?;
            Ok(Place::S3 { bucket: location.bucket, key: location.key })
        } else {
            Ok(Place::Local(PathBuf::from(text)))
        }
    }

    fn join(&self, name: &str) -> String {
        match self {
            Place::Local(dir) => dir.join(name).display().to_string(),
            Place::S3 { bucket, key } => {
                let key = key.trim_end_matches('/');
                if key.is_empty() { format!("s3://{bucket}/{name}") } else { format!("s3://{bucket}/{key}/{name}") }
            }
        }
    }

    async fn write(&self, ports: &Ports, name: &str, body: Vec<u8>) -> Result<String> {
        let target = self.join(name);
        match self {
            Place::Local(_) => {
                let path = PathBuf::from(&target);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::write(&path, body).with_context(|| format!("writing {target}"))?;
            }
            Place::S3 { bucket, .. } => {
                let key = target.strip_prefix(&format!("s3://{bucket}/")).unwrap_or_default().to_string();
                ports
                    .blobs
                    .put_object(bucket, &key, body, &Encryption::Aes256)
                    .await
                    .map_err(|e| anyhow::anyhow!("{target}: {e}"))?;
            }
        }
        Ok(target)
    }
}

/// An item as file text: pretty JSON, or YAML.
fn item_text(item: &Item, yaml: bool) -> Result<Vec<u8>> {
    let value = Value::Object(sorted(item));
    Ok(if yaml { serde_norway::to_string(&value)?.into_bytes() } else { format!("{}\n", pretty(&value)).into_bytes() })
}

fn sorted(item: &Item) -> Map<String, Value> {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), item[k].clone())).collect()
}

/// `lava dump`: one table's items (all, or those whose keys match globs) to files.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Only the items whose keys match any of these globs.
    patterns: Vec<String>,
    /// The table: jobs, connections, s3triggers (or triggers), realms; any unique start.
    #[arg(short, long, default_value = "jobs")]
    table: String,
    /// Where the files go: a folder (created) or s3://bucket/prefix.
    #[arg(short, long, default_value = ".")]
    dir: String,
    /// YAML files instead of JSON.
    #[arg(short, long)]
    yaml: bool,
    /// Match the globs without regard to case.
    #[arg(short, long)]
    ignore_case: bool,
    /// Only the items whose keys match none of the globs.
    #[arg(short, long)]
    not_match: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Print `[{key, file}]` as JSON.
    #[arg(long)]
    json: bool,
}

impl DumpArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let kind = TableKind::parse(&self.table).map_err(anyhow::Error::msg)?;
        let (ports, names) = connect(target).await?;
        let place = Place::parse(&self.dir)?;
        let mut items = scan(&ports, &names, kind.table(&names), self.quiet).await?;
        items.sort_by_key(|i| item_key(kind, i));
        let mut written = Vec::new();
        for item in &items {
            let key = item_key(kind, item);
            let matched = self.patterns.iter().any(|p| glob_match(p, &key, self.ignore_case));
            if !self.patterns.is_empty() && matched == self.not_match {
                continue;
            }
            let name = format!("{}.{}", file_name(&key), if self.yaml { "yaml" } else { "json" });
            let file = place.write(&ports, &name, item_text(item, self.yaml)?).await?;
            written.push((key, file));
        }
        if self.json {
            return Ok(pretty(&json!(written.iter().map(|(k, f)| json!({"key": k, "file": f})).collect::<Vec<_>>())));
        }
        if self.quiet {
            return Ok(String::new());
        }
        Ok(written.iter().map(|(k, f)| format!("{k} --> {f}")).collect::<Vec<_>>().join("\n"))
    }
}

/// `lava backup`: the realm's jobs, connections, s3 triggers and realm entry in one zip file.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The zip file: a local path or s3://bucket/key.zip.
    archive: String,
    /// YAML files inside instead of JSON.
    #[arg(short, long)]
    yaml: bool,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

impl BackupArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        use std::io::Write;
        let (ports, names) = connect(target).await?;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut counts = Map::new();
        for kind in TableKind::ALL {
            let mut items = scan(&ports, &names, kind.table(&names), self.quiet).await?;
            if kind == TableKind::Realms {
                items.retain(|i| item_key(kind, i) == names.realm);
            }
            items.sort_by_key(|i| item_key(kind, i));
            for item in &items {
                let name = format!(
                    "{}/{}.{}",
                    kind.name(),
                    file_name(&item_key(kind, item)),
                    if self.yaml { "yaml" } else { "json" }
                );
                zip.start_file(name, options)?;
                zip.write_all(&item_text(item, self.yaml)?)?;
            }
            counts.insert(kind.name().into(), json!(items.len()));
        }
        let body = zip.finish()?.into_inner();
        let written = match Place::parse(&self.archive)? {
            Place::Local(path) => {
                Place::Local(path.parent().unwrap_or(Path::new("")).to_path_buf())
                    .write(&ports, &path.file_name().context("the archive needs a file name")?.to_string_lossy(), body)
                    .await?
            }
            Place::S3 { bucket, key } => Place::S3 { bucket, key: String::new() }.write(&ports, &key, body).await?,
        };
        counts.insert("archive".into(), json!(written));
        if self.json {
            return Ok(pretty(&Value::Object(counts)));
        }
        Ok(format!(
            "realm {}: {} jobs, {} connections, {} s3triggers and the realm entry --> {written}",
            names.realm, counts["jobs"], counts["connections"], counts["s3triggers"]
        ))
    }
}

/// `lava restore`: put the entries of a backup (a zip file) or dump folder back into a realm.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A zip file made by `lava backup` (local or s3://…), or a folder of `jobs/`,
    /// `connections/`, `s3triggers/` and `realms/` files.
    source: String,
    /// Check everything and print what would be written, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

/// The (table folder, file name, text) of each entry file of a backup.
async fn entry_files(ports: &Ports, source: &str) -> Result<Vec<(String, String, String)>> {
    let zipped = |bytes: Vec<u8>| -> Result<Vec<(String, String, String)>> {
        use std::io::Read;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("not a zip file")?;
        let mut files = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i)?;
            if file.is_dir() {
                continue;
            }
            let path = file.name()?.trim_start_matches("./").to_string();
            let mut text = String::new();
            file.read_to_string(&mut text).with_context(|| format!("reading {path} in the archive"))?;
            if let Some((folder, name)) = path.rsplit_once('/') {
                files.push((folder.rsplit('/').next().unwrap_or(folder).to_string(), name.to_string(), text));
            }
        }
        Ok(files)
    };
    match Place::parse(source)? {
        Place::S3 { bucket, key } => {
            let bytes = ports.blobs.get_object(&bucket, &key).await.map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
            zipped(bytes)
        }
        Place::Local(path) if path.is_dir() => {
            let mut files = Vec::new();
            for kind in TableKind::ALL {
                let dir = path.join(kind.name());
                if !dir.is_dir() {
                    continue;
                }
                for file in shared::documents::spec_files(&dir).map_err(anyhow::Error::msg)? {
                    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                    let name = file.file_name().unwrap_or_default().to_string_lossy().to_string();
                    files.push((kind.name().to_string(), name, text));
                }
            }
            Ok(files)
        }
        Place::Local(path) => zipped(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?),
    }
}

impl RestoreArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let files = entry_files(&ports, &self.source).await?;
        // Every entry is read and checked before anything is written.
        let mut entries: Vec<(TableKind, Item)> = Vec::new();
        let mut problems = Vec::new();
        for (folder, name, text) in &files {
            let Ok(kind) = TableKind::parse(folder) else { continue };
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            let records = match shared::documents::parse_records(text, yaml) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{folder}/{name}: {e}"));
                    continue;
                }
            };
            for record in records {
                let checked = match kind {
                    TableKind::Jobs => JobSpec::from_value(&record).map(|_| ()),
                    TableKind::Connections => ConnectionEntry::from_value(&record).map(|_| ()),
                    TableKind::S3triggers => S3TriggerEntry::from_value(&record).map(|_| ()),
                    TableKind::Realms => RealmEntry::from_value(&record).map(|_| ()),
                };
                match checked {
                    Ok(()) => entries.push((kind, record.as_object().cloned().unwrap_or_default())),
                    Err(e) => problems.push(format!("{folder}/{name}: {e}")),
                }
            }
        }
        if !problems.is_empty() {
            bail!("{}\nnothing written", problems.join("\n"));
        }
        if entries.is_empty() {
            bail!("{}: no entries found (expected jobs/, connections/, s3triggers/ or realms/ files)", self.source);
        }
        let mut counts = Map::new();
        let mut skipped = Vec::new();
        for (kind, item) in &entries {
            // A realm entry is this realm's only: another realm's would point at its buckets.
            if *kind == TableKind::Realms && item_key(*kind, item) != names.realm {
                skipped.push(format!("realm entry {} (not realm {})", item_key(*kind, item), names.realm));
                continue;
            }
            if !self.dry_run {
                let table = kind.table(&names);
                ports.tables.put_item(table, item.clone()).await.map_err(|e| table_error(e, table, &names.realm))?;
            }
            let n = counts.get(kind.name()).and_then(Value::as_u64).unwrap_or(0) + 1;
            counts.insert(kind.name().into(), json!(n));
        }
        counts.insert("skipped".into(), json!(skipped));
        counts.insert("written".into(), json!(!self.dry_run));
        if self.json {
            return Ok(pretty(&Value::Object(counts)));
        }
        let count = |k: &str| counts.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut lines = vec![format!(
            "{} realm {}: {} jobs, {} connections, {} s3triggers, {} realm entry",
            if self.dry_run { "would restore into" } else { "restored into" },
            names.realm,
            count("jobs"),
            count("connections"),
            count("s3triggers"),
            count("realms")
        )];
        lines.extend(skipped.iter().map(|s| format!("skipped: {s}")));
        Ok(lines.join("\n"))
    }
}
