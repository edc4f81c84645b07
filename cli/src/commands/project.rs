//! `lava new` (the original's `lava-new`) and `lava project` (its framework's make targets):
//! make a job project, add jobs to it, build it for an environment, check it and install it
//! into (or remove it from) the environment's realm. What the files hold is decided in
//! `crate::ops::project`; this module reads and writes them and talks to the realm.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use shared::aws::project::{self as aws_project, RuleSpec};
use shared::config::Config;
use shared::model::JobType;
use shared::render::Renderer;
use std::path::{Path, PathBuf};

use crate::ops::TableKind;
use crate::ops::project::build::{self, Account, GitFacts};
use crate::ops::project::{self, templates};
use crate::ops::schema::{self, SpecType};
use crate::{Target, Unmet, connect_clients, ports};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `lava new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// A project parameter (`realm`, `description` and `owner` are required; the others have
    /// the original's defaults): realm, description, owner, project_name, project_dir,
    /// pip_index_url, include_lava_libs, jupyter_support, config_checks, environment,
    /// job_prefix, payload_prefix, s3trigger_prefix, rule_prefix, docker_prefix,
    /// docker_registry, docker_platform.
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = key_value)]
    params: Vec<(String, String)>,
    /// Accepted for the original's scripts: this command never prompts.
    #[arg(long)]
    no_input: bool,
    /// The project's directory (which must not exist).
    directory: PathBuf,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("{text}: not KEY=VALUE"))
}

impl NewArgs {
    /// Makes the project.
    pub(crate) fn run(self) -> Result<String> {
        let dir = &self.directory;
        if dir.exists() {
            bail!("{} already exists", dir.display());
        }
        let answers = project::answers(&dir.to_string_lossy(), &self.params).map_err(|e| anyhow::anyhow!(e))?;
        for (path, text) in project::layout(&answers, VERSION) {
            write(&dir.join(path), text.as_bytes())?;
        }
        for source in project::SOURCE_DIRS {
            std::fs::create_dir_all(dir.join(source))?;
        }
        Ok(format!("Created {}", std::path::absolute(dir)?.display()))
    }
}

/// `lava project`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Add a job of a type: its spec in lava-jobs/ and the payload file it runs.
    Add {
        /// The job type (cmd, exe, pkg, sql, sqli, sqlc, sqlv, docker, chain, dag, …).
        job_type: String,
        /// The job's name: its file and the end of its job id (`daily/load`).
        name: String,
        /// The project's directory.
        #[arg(short = 'C', long = "dir", default_value = ".")]
        dir: PathBuf,
    },
    /// Build the sources for an environment into dist/ENV/ (the original's `make dist`).
    Dist(EnvArgs),
    /// Build, then check every spec strictly (as `lava schema`) and every rule; nothing is
    /// written to the realm.
    PreInstall(EnvArgs),
    /// Build, check, then put the specs into the realm's tables, the rules into EventBridge
    /// and the payloads under the realm's payload area.
    Install(EnvArgs),
    /// Build, then show how each spec differs from the realm's entry (the stamps aside).
    Diff(EnvArgs),
    /// Remove what `install` put: the specs, the rules and the payload prefix.
    Uninstall(EnvArgs),
    /// Remove dist/ENV/.
    Clean(EnvArgs),
}

/// The environment a project step is for.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The environment: config/ENV.yaml holds its values.
    #[arg(short, long)]
    env: String,
    /// The project's directory.
    #[arg(short = 'C', long = "dir", default_value = ".")]
    dir: PathBuf,
}

impl ProjectCommand {
    /// Runs the step; the lines it reports.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let lines = match self {
            ProjectCommand::Add { job_type, name, dir } => add(&dir, &job_type, &name)?,
            ProjectCommand::Clean(args) => {
                let dist = args.dir.join("dist").join(&args.env);
                if dist.exists() {
                    std::fs::remove_dir_all(&dist)?;
                }
                vec![format!("Removed {}", dist.display())]
            }
            ProjectCommand::Dist(args) => Project::open(&args, target).await?.dist()?.lines,
            ProjectCommand::PreInstall(args) => {
                let project = Project::open(&args, target).await?;
                let built = project.dist()?;
                let mut lines = built.lines.clone();
                lines.extend(built.check()?);
                lines
            }
            ProjectCommand::Install(args) => {
                let project = Project::open(&args, target).await?;
                let built = project.dist()?;
                let mut lines = built.lines.clone();
                lines.extend(built.check()?);
                lines.extend(project.install(&built).await?);
                lines
            }
            ProjectCommand::Diff(args) => {
                let project = Project::open(&args, target).await?;
                let built = project.dist()?;
                let mut lines = built.lines.clone();
                lines.extend(project.diff(&built).await?);
                lines
            }
            ProjectCommand::Uninstall(args) => {
                let project = Project::open(&args, target).await?;
                let built = project.dist()?;
                project.uninstall(&built).await?
            }
        };
        Ok(lines.join("\n"))
    }
}

fn add(dir: &Path, job_type: &str, name: &str) -> Result<Vec<String>> {
    if !dir.join("lava-jobs").is_dir() {
        bail!("{}: not a lava project (no lava-jobs/)", dir.display());
    }
    let files = templates::job(&JobType::parse(job_type), name).map_err(|e| anyhow::anyhow!(e))?;
    if let Some((path, _)) = files.iter().find(|(p, _)| dir.join(p).exists()) {
        bail!("{} already exists", dir.join(path).display());
    }
    let mut lines = Vec::new();
    for (path, text) in files {
        write(&dir.join(&path), text.as_bytes())?;
        lines.push(format!("Created {}", dir.join(path).display()));
    }
    Ok(lines)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A project opened for an environment: its config, the realm's entry and the account.
struct Project {
    dir: PathBuf,
    env: String,
    config: Map<String, Value>,
    realm: Map<String, Value>,
    account: Account,
    clients: shared::aws::Clients,
    names: shared::names::ResourceNames,
    /// The realm and endpoint (for `lava.dag()`'s connection sources).
    target: Target,
}

/// One built spec.
#[derive(Clone)]
struct Built {
    /// Its source directory (`lava-jobs`, …).
    dir: &'static str,
    /// Its file under dist/ENV/.
    file: PathBuf,
    /// The spec (`null` when it renders to nothing).
    spec: Value,
}

/// A build's specs, payload files and report.
#[derive(Clone)]
struct Dist {
    specs: Vec<Built>,
    payloads: Vec<(PathBuf, PathBuf)>,
    lines: Vec<String>,
}

impl Project {
    async fn open(args: &EnvArgs, target: &Target) -> Result<Project> {
        let path = args.dir.join("config").join(format!("{}.yaml", args.env));
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: No such file", path.display()))?;
        let config: Value = serde_norway::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        let Value::Object(config) = config else { bail!("{}: not a mapping", path.display()) };
        let realm_name = config.get("realm").and_then(Value::as_str).filter(|r| !r.is_empty());
        let realm_name = realm_name.with_context(|| format!("{}: realm is missing", path.display()))?.to_string();
        let target = Target { realm: Some(realm_name.clone()), ..target.clone() };
        let (clients, names) = connect_clients(&target).await?;
        let key = Map::from_iter([("realm".to_string(), Value::String(realm_name.clone()))]);
        let realm = ports(&clients).tables.get_item(&names.realms_table, &key, false).await?;
        let realm = realm.with_context(|| format!("No such realm: {realm_name}"))?;
        let (account, arn) = aws_project::caller_identity(&clients).await?;
        let region = clients.config.region().map(|r| r.to_string()).unwrap_or_default();
        let account = Account { account, arn, region };
        Ok(Project { dir: args.dir.clone(), env: args.env.clone(), config, realm, account, clients, names, target })
    }

    fn dist_dir(&self) -> PathBuf {
        self.dir.join("dist").join(&self.env)
    }

    /// Renders one source file with the project's values (includes read beside it).
    fn render(&self, source_dir: &Path, relative: &Path) -> Result<String> {
        let text = std::fs::read_to_string(source_dir.join(relative))?;
        let (target, dir) = (self.target.clone(), source_dir.to_path_buf());
        let dag = minijinja::Value::from_function(move |source: String, options: minijinja::value::Kwargs| {
            let options: Vec<(String, String)> = options
                .args()
                .map(|k| (k.to_string(), options.get::<minijinja::Value>(k).map(|v| v.to_string()).unwrap_or_default()))
                .collect();
            crate::commands::dag::dag_at_build(&target, &dir, &source, &options)
                .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
        });
        let template = relative.to_string_lossy();
        let context = build::context(&self.config, &self.realm, &self.env, &self.account, &template, dag);
        Renderer::framework()
            .render_in_dir(&text, &context, source_dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", source_dir.join(relative).display()))
    }

    /// Builds every source into dist/ENV/.
    fn dist(&self) -> Result<Dist> {
        let stamps = build::stamps(VERSION, &git_facts(&self.dir));
        let mut out = Dist { specs: Vec::new(), payloads: Vec::new(), lines: Vec::new() };
        for dir in &project::SOURCE_DIRS[..4] {
            let source_dir = self.dir.join(dir);
            for relative in files_under(&source_dir)?.into_iter().filter(|r| build::is_spec_source(r)) {
                let rendered = self.render(&source_dir, &relative)?;
                let spec = build::parse(&rendered)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", source_dir.join(&relative).display()))?;
                let spec = build::stamp(spec, &stamps).map_err(|e| anyhow::anyhow!(e))?;
                let file = self.dist_dir().join(dir).join(relative.with_extension("json"));
                write(&file, build::file_text(&spec).as_bytes())?;
                out.lines.push(format!("Build  {}", file.display()));
                out.specs.push(Built { dir, file, spec });
            }
        }
        self.dist_payloads(&mut out)?;
        Ok(out)
    }

    /// Builds lava-payloads/: `.sql` rendered, `.py`/`.sh` copied, `NAME.pkg/` zipped (its
    /// `env/` files rendered), `NAME.rsc/` rendered, `NAME.raw/` copied.
    fn dist_payloads(&self, out: &mut Dist) -> Result<()> {
        let source_dir = self.dir.join("lava-payloads");
        let into = self.dist_dir().join("lava-payloads");
        let Ok(entries) = std::fs::read_dir(&source_dir) else { return Ok(()) };
        let mut names: Vec<String> =
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            let path = source_dir.join(&name);
            let ext = Path::new(&name).extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
            let stem = Path::new(&name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mut made: Vec<(PathBuf, Vec<u8>)> = Vec::new();
            match (ext.as_str(), path.is_dir()) {
                ("sql", false) => {
                    made.push((PathBuf::from(&name), (self.render(&source_dir, Path::new(&name))? + "\n").into_bytes()))
                }
                ("py" | "sh", false) => made.push((PathBuf::from(&name), std::fs::read(&path)?)),
                ("pkg", true) => made.push((PathBuf::from(format!("{stem}.zip")), self.package(&path)?)),
                ("rsc" | "raw", true) => {
                    for relative in files_under(&path)? {
                        let bytes = if ext == "rsc" {
                            (self.render(&path, &relative)? + "\n").into_bytes()
                        } else {
                            std::fs::read(path.join(&relative))?
                        };
                        made.push((Path::new(&name).join(relative), bytes));
                    }
                }
                ("md", false) if name == "README.md" => {}
                _ if name == "Makefile" || name.starts_with(['.', '_']) => {}
                _ => bail!(
                    "{}: lava project builds .sql, .py and .sh files and .pkg, .rsc and .raw folders \
                     (docker images and notebooks are built by the original's framework)",
                    path.display()
                ),
            }
            for (relative, bytes) in made {
                let file = into.join(&relative);
                write(&file, &bytes)?;
                out.lines.push(format!("Build  {}", file.display()));
                out.payloads.push((relative, file));
            }
        }
        Ok(())
    }

    /// A `.pkg` folder as a zip file, the files under its `env/` rendered.
    fn package(&self, folder: &Path) -> Result<Vec<u8>> {
        if folder.join("requirements.txt").exists() || folder.join("requirements-nodeps.txt").exists() {
            bail!(
                "{}: installing a package's requirements is not done by lava project (vendor them into the folder)",
                folder.display()
            );
        }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for relative in files_under(folder)? {
            let bytes = if relative.starts_with("env") {
                (self.render(folder, &relative)? + "\n").into_bytes()
            } else {
                std::fs::read(folder.join(&relative))?
            };
            let mode = file_mode(&folder.join(&relative));
            let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
            zip.start_file(relative.to_string_lossy(), options)?;
            std::io::Write::write_all(&mut zip, &bytes)?;
        }
        Ok(zip.finish()?.into_inner())
    }

    /// The realm's payload area for this project: bucket and key prefix (ending in `/`).
    fn payload_area(&self) -> Result<(String, String)> {
        let area =
            self.realm.get("s3_payloads").and_then(Value::as_str).context("the realm entry has no s3_payloads")?;
        let place = shared::model::values::S3Location::parse(area).map_err(|e| anyhow::anyhow!(e))?;
        let prefix =
            self.config.get("prefix").and_then(|p| p.get("payload")).and_then(Value::as_str).unwrap_or_default();
        let joined: Vec<&str> =
            [place.key.as_str(), prefix].into_iter().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()).collect();
        Ok((place.bucket, format!("{}/", joined.join("/"))))
    }

    async fn install(&self, built: &Dist) -> Result<Vec<String>> {
        let ports = ports(&self.clients);
        let mut lines = vec![format!("Installing to realm {}", self.names.realm)];
        for b in &built.specs {
            let Value::Object(spec) = &b.spec else {
                lines.push(format!("{}: Skipping null file", b.file.display()));
                continue;
            };
            if b.dir == "lava-rules" {
                lines.extend(aws_project::replace_rule(&self.clients, &rule_spec(spec)).await?);
                continue;
            }
            let table = table_of(b.dir).table(&self.names);
            lines.push(format!("Deploy {}", b.file.display()));
            ports.tables.put_item(table, build::table_item(spec)).await?;
        }
        if !built.payloads.is_empty() {
            let (bucket, prefix) = self.payload_area()?;
            lines.push(format!("Installing payloads to s3://{bucket}/{prefix}"));
            let encryption = match self.realm.get("s3_key").and_then(Value::as_str) {
                Some(key) if !key.is_empty() => shared::ports::Encryption::Kms(key.into()),
                _ => shared::ports::Encryption::Aes256,
            };
            for (relative, file) in &built.payloads {
                let key = format!("{prefix}{}", relative.to_string_lossy());
                ports.blobs.put_object(&bucket, &key, std::fs::read(file)?, &encryption).await?;
                lines.push(format!("upload: {} to s3://{bucket}/{key}", file.display()));
            }
        }
        Ok(lines)
    }

    /// For each built spec in a table: `<file> ... <id> @ <realm>`, then, when the realm has
    /// the entry and it differs, the diff and an empty line (the original's `make diff`).
    async fn diff(&self, built: &Dist) -> Result<Vec<String>> {
        let ports = ports(&self.clients);
        let mut lines = vec![format!("Diff checks for realm {}", self.names.realm)];
        for b in built.specs.iter().filter(|b| b.dir != "lava-rules") {
            let Value::Object(spec) = &b.spec else { continue };
            let kind = table_of(b.dir);
            let id = spec.get(kind.key()).cloned().unwrap_or(Value::Null);
            lines.push(format!("{} ... {} @ {}", b.file.display(), id.as_str().unwrap_or_default(), self.names.realm));
            let key = Map::from_iter([(kind.key().to_string(), id)]);
            let Some(deployed) = ports.tables.get_item(kind.table(&self.names), &key, false).await? else { continue };
            let changes = build::diff(spec, &deployed);
            if !changes.is_empty() {
                lines.extend(changes);
                lines.push(String::new());
            }
        }
        if built.specs.iter().any(|b| b.dir == "lava-rules") {
            lines.push("Diff is not supported for lava-rules".into());
        }
        Ok(lines)
    }

    async fn uninstall(&self, built: &Dist) -> Result<Vec<String>> {
        let ports = ports(&self.clients);
        let mut lines = vec![format!("Uninstalling from realm {}", self.names.realm)];
        for b in &built.specs {
            let Value::Object(spec) = &b.spec else { continue };
            if b.dir == "lava-rules" {
                let rule = rule_spec(spec);
                lines.extend(aws_project::delete_rule(&self.clients, &rule.name, &rule.bus).await?);
                continue;
            }
            let kind = table_of(b.dir);
            let id = spec.get(kind.key()).cloned().unwrap_or(Value::Null);
            let key = Map::from_iter([(kind.key().to_string(), id.clone())]);
            ports.tables.delete_item(kind.table(&self.names), &key).await?;
            lines.push(format!("{} {}: deleted", kind.name(), id.as_str().unwrap_or_default()));
        }
        let own = self.config.get("prefix").and_then(|p| p.get("payload")).and_then(Value::as_str).unwrap_or_default();
        if own.trim_matches('/').is_empty() {
            // Without the project's own prefix the purge would take the whole realm's payloads.
            lines.push("Payloads left: config's prefix.payload is empty".into());
            return Ok(lines);
        }
        let (bucket, prefix) = self.payload_area()?;
        let count = aws_project::delete_prefix(&self.clients, &bucket, &prefix).await?;
        lines.push(format!("Purged s3://{bucket}/{prefix} ({count} objects)"));
        Ok(lines)
    }
}

impl Dist {
    /// Checks every built spec strictly (jobs, connections and triggers as `lava schema`,
    /// rules by their keys); fails with the report when any fails.
    fn check(&self) -> Result<Vec<String>> {
        let limits = Config::new(std::env::vars(), None).limits();
        let mut lines = Vec::new();
        let mut failed = false;
        for b in &self.specs {
            let Value::Object(spec) = &b.spec else { continue };
            let name = b.file.display().to_string();
            if b.dir == "lava-rules" {
                if let Err(e) = build::check_rule(spec) {
                    failed = true;
                    lines.push(format!("{name}: {e}"));
                }
                continue;
            }
            let kind = match b.dir {
                "lava-jobs" => SpecType::Job,
                "lava-connections" => SpecType::Connection,
                _ => SpecType::S3trigger,
            };
            let problems = schema::check(kind, &b.spec, &limits);
            failed |= !problems.is_empty();
            lines.extend(schema::report(&name, &problems, false));
        }
        if failed {
            return Err(Unmet(lines.join("\n")).into());
        }
        lines
            .push(format!("Pre-install checks: {} specs OK", self.specs.iter().filter(|b| b.spec.is_object()).count()));
        Ok(lines)
    }
}

fn table_of(dir: &str) -> TableKind {
    match dir {
        "lava-jobs" => TableKind::Jobs,
        "lava-connections" => TableKind::Connections,
        _ => TableKind::S3triggers,
    }
}

fn rule_spec(spec: &Map<String, Value>) -> RuleSpec {
    let text = |k: &str| spec.get(k).and_then(Value::as_str).map(str::to_string);
    RuleSpec {
        name: text("rule_id").unwrap_or_default(),
        bus: text("event_bus_name").unwrap_or_else(|| "default".into()),
        description: text("description").unwrap_or_default(),
        schedule: text("schedule_expression"),
        pattern: spec.get("event_pattern").map(|p| shared::render::python::json_dumps_with(p, None, false)),
        enabled: spec.get("enabled").is_some_and(|e| e.as_bool().unwrap_or(false)),
        role_arn: text("role_arn"),
        tags: build::rule_tags(spec),
        targets: spec.get("targets").and_then(Value::as_array).cloned().unwrap_or_default(),
    }
}

/// Every file under `dir`, relative to it, in name order (none when it does not exist).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&relative)) else { continue };
        for entry in entries {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.path().is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o644)
}

/// What git says of the project: branch, origin URL, commit (and `dirty`); `--` without git.
fn git_facts(dir: &Path) -> GitFacts {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let dashes = || "--".to_string();
    let status = git(&["rev-parse", "--short", "HEAD"]).map(|commit| {
        let dirty = git(&["status", "--porcelain"]).is_some();
        if dirty { format!("{commit} dirty") } else { commit }
    });
    GitFacts {
        branch: git(&["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(dashes),
        repo: git(&["config", "--get", "remote.origin.url"]).unwrap_or_else(dashes),
        status: status.unwrap_or_else(dashes),
    }
}
