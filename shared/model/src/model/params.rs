//! Type-specific job parameters and payload rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::job_type::JobType;
use super::validation::{check_keys, from_value, kind_of};
use super::values::DurationSpec;

pub use super::values::Flag;

/// Parameters of `cmd` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct CmdParams {
    /// Appended to argv after the payload tokens.
    #[serde(default)]
    pub args: Vec<ArgValue>,
    /// Extra environment (values rendered).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Render argv and env (default true).
    pub jinja: Option<Flag>,
    /// Kill after this long (default `CMD_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

/// Parameters of `exe` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ExeParams {
    /// Appended to argv after the payload tokens.
    #[serde(default)]
    pub args: Vec<ArgValue>,
    /// Connection label → conn_id.
    #[serde(default)]
    pub connections: BTreeMap<String, String>,
    /// Extra environment (values rendered).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Render argv and env (default true).
    pub jinja: Option<Flag>,
    /// Kill each executable after this long (default `EXE_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

/// Parameters of `pkg` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct PkgParams {
    /// Entry point (relative to the archive root) and its arguments.
    pub command: Option<String>,
    /// Legacy synonym of `command`.
    pub main: Option<String>,
    /// Appended to argv.
    #[serde(default)]
    pub args: Vec<ArgValue>,
    /// Connection label → conn_id.
    #[serde(default)]
    pub connections: BTreeMap<String, String>,
    /// Extra environment (values rendered).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Render argv and env (default true).
    pub jinja: Option<Flag>,
    /// Kill each archive's run after this long (default `PKG_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

/// Parameters of `docker` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct DockerParams {
    /// Command line (default: the image's entry point).
    pub command: Option<String>,
    /// Appended to the command; ignored without one.
    #[serde(default)]
    pub args: Vec<ArgValue>,
    /// Connection label → conn_id.
    #[serde(default)]
    pub connections: BTreeMap<String, String>,
    /// conn_id of a `docker` connection (default: the realm's `docker`).
    pub docker: Option<String>,
    /// Container environment (values rendered).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Container runtime options (whitelisted names).
    #[serde(default)]
    pub host_config: Map<String, Value>,
    /// Render command and env (default true).
    pub jinja: Option<Flag>,
    /// Kill the container after this long (default `DOCKER_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

/// Parameters of `sql` and `sqli` jobs (`output` is sql/sqli only), and of `sqlv` jobs
/// (`format`, `level`, `timeout` are sqlv only).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct SqlParams {
    /// The database connection.
    pub conn_id: String,
    /// Rows fetched per round trip (default `SQL_BATCH_SIZE`).
    pub batch_size: Option<i64>,
    /// CSV field separator.
    pub delimiter: Option<String>,
    /// `excel`, `excel-tab` or `unix`.
    pub dialect: Option<String>,
    /// Double an embedded quote character.
    pub doublequote: Option<Flag>,
    /// Escape character (or null).
    pub escapechar: Option<String>,
    /// Quote character.
    pub quotechar: Option<String>,
    /// `minimal`, `all`, `nonnumeric` or `none`.
    pub quoting: Option<String>,
    /// Write a header row.
    pub header: Option<Flag>,
    /// Render statements (default true).
    pub jinja: Option<Flag>,
    /// Sub-directory for output files (sql, sqli).
    pub output: Option<String>,
    /// Do not split statements.
    pub raw: Option<Flag>,
    /// Run everything in one transaction.
    pub transaction: Option<Flag>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// lava-sql output format (sqlv).
    pub format: Option<String>,
    /// lava-sql log level (sqlv).
    pub level: Option<String>,
    /// Time limit for the whole run (sqlv).
    pub timeout: Option<DurationSpec>,
}

/// What happens to a `db_from_s3` target table before the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// Fail if the table exists.
    Abort,
    /// Load on top of what is there.
    Append,
    /// `DELETE FROM` the table first.
    Delete,
    /// Drop the table first (it is created again from `columns`).
    Drop,
    /// Two tables `<table>_a` and `<table>_b`: load the empty one, then empty the other.
    Switch,
    /// Truncate the table first.
    Truncate,
}

impl LoadMode {
    /// Parses a mode name (`Bad mode: X` otherwise).
    pub fn parse(name: &str) -> Result<LoadMode, String> {
        Ok(match name {
            "abort" => LoadMode::Abort,
            "append" => LoadMode::Append,
            "delete" => LoadMode::Delete,
            "drop" => LoadMode::Drop,
            "switch" => LoadMode::Switch,
            "truncate" => LoadMode::Truncate,
            other => return Err(format!("Bad mode: {other}")),
        })
    }
}

/// Parameters of `db_from_s3` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct DbFromS3Params {
    /// The target database connection.
    pub db_conn_id: String,
    /// Source bucket (rendered).
    pub bucket: String,
    /// Source key (rendered; a manifest with `MANIFEST`).
    pub key: String,
    /// Target schema (rendered; `/regex` takes it from the key).
    pub schema: String,
    /// Target table (rendered; `/regex` takes it from the key).
    pub table: String,
    /// `abort`, `append`, `delete`, `drop`, `switch` or `truncate`.
    pub mode: String,
    /// Loader options, database specific.
    #[serde(default)]
    pub args: Vec<String>,
    /// Column specs (`name TYPE …`): the columns loaded, and the table created when missing.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Render bucket, key, schema and table (default true).
    pub jinja: Option<Flag>,
    /// Objects smaller than this are skipped (a size: `1KiB`, `512`).
    pub min_size: Option<Value>,
    /// An `aws` connection for S3 (server-side loaders).
    pub s3_conn_id: Option<String>,
    /// An IAM role for the database to read S3 with (server-side loaders).
    pub s3_iam_role: Option<String>,
    /// A missing object is a success with nothing loaded.
    pub skip_missing: Option<Flag>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

impl DbFromS3Params {
    /// `min_size` in bytes (0 when absent).
    pub fn min_size_bytes(&self) -> Result<u64, String> {
        match &self.min_size {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => {
                n.as_f64().filter(|v| *v >= 0.0).map(|v| v as u64).ok_or_else(|| format!("Bad min_size: {n}"))
            }
            Some(Value::String(s)) => super::values::parse_size(s).map_err(|e| format!("Bad min_size: {e}")),
            Some(other) => Err(format!("Bad min_size: must be a size, not {}", super::validation::kind_of(other))),
        }
    }
}

/// The UNLOAD option words the original accepts (the authorisation is lava's to add).
pub const UNLOAD_OPTIONS: &[&str] = &[
    "ADDQUOTES",
    "ALLOWOVERWRITE",
    "BZIP2",
    "CLEANPATH",
    "CSV",
    "DELIMITER",
    "ENCRYPTED",
    "ESCAPE",
    "EXTENSION",
    "FIXEDWIDTH",
    "FORMAT",
    "GZIP",
    "HEADER",
    "JSON",
    "KMS_KEY_ID",
    "MANIFEST",
    "MAXFILESIZE",
    "NULL",
    "PARALLEL",
    "PARQUET",
    "PARTITION",
    "ROWGROUPSIZE",
    "ZSTD",
];

/// How [`check_unload_options`]' refusal starts.
pub const INVALID_UNLOAD_OPTIONS: &str = "Invalid UNLOAD arguments";

/// Checks every `redshift_unload` option's first word (`Invalid UNLOAD arguments: X, Y` names the rest, sorted).
pub fn check_unload_options(options: &[String]) -> Result<(), String> {
    let mut bad: Vec<String> = options
        .iter()
        .map(|o| o.split_whitespace().next().unwrap_or_default().to_uppercase())
        .filter(|w| !UNLOAD_OPTIONS.contains(&w.as_str()))
        .collect();
    bad.sort();
    bad.dedup();
    if bad.is_empty() { Ok(()) } else { Err(format!("{INVALID_UNLOAD_OPTIONS}: {}", bad.join(", "))) }
}

/// Parameters of `redshift_unload` jobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RedshiftUnloadParams {
    /// The Redshift connection.
    pub conn_id: String,
    /// Target bucket.
    pub bucket: String,
    /// Source schema.
    pub schema: String,
    /// Source relation, or a list of them.
    pub relation: super::action::OneOrMany,
    /// UNLOAD options (not the authorisation).
    pub args: Vec<String>,
    /// Target prefix (rendered per relation).
    pub prefix: Option<String>,
    /// The legacy name of `prefix`.
    pub key: Option<String>,
    /// A Redshift date format applied to `date` columns.
    pub dateformat: Option<String>,
    /// Skip the bucket's security checks (default false).
    pub insecure: Option<Flag>,
    /// An `aws` connection whose keys authorise the UNLOAD.
    pub s3_conn_id: Option<String>,
    /// The IAM role Redshift unloads with (preferred to `s3_conn_id`).
    pub s3_iam_role: Option<String>,
    /// Skip the relations before this one (lower case).
    pub start: Option<String>,
    /// Stop at the first failed unload (default true).
    pub stop_on_fail: Option<Flag>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// A predicate for the unload query (rendered; no `WHERE`).
    #[serde(rename = "where")]
    pub predicate: Option<String>,
}

/// Parameters of `sqlc` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct SqlcParams {
    /// The database connection.
    pub conn_id: String,
    /// Passed to the client after the connector's own options.
    #[serde(default)]
    pub args: Vec<ArgValue>,
    /// Render each file (default true).
    pub jinja: Option<Flag>,
    /// Per-file time limit (default `SQLC_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

/// Parameters of `smb_get` and `smb_put` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct SmbParams {
    /// The `smb` connection.
    pub conn_id: String,
    /// The share on the server.
    pub share_name: String,
    /// The file's path on the share, POSIX style (rendered).
    pub path: String,
    /// The other side: `s3://bucket/key` or a local file, relative to `basedir` (rendered).
    pub file: String,
    /// The directory a relative `file` is in (default the run's directory).
    pub basedir: Option<String>,
    /// Render `path` and `file` (default true).
    pub jinja: Option<Flag>,
    /// Time limit of the transfer (default `SMB_TIMEOUT`).
    pub timeout: Option<DurationSpec>,
    /// Available as `vars` in templates.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// `smb_get`: the KMS key an S3 `file` is written with.
    pub kms_key_id: Option<String>,
    /// `smb_put`: create the target's directories first.
    pub create_dirs: Option<Flag>,
}

/// An argument: a string or a number (converted to text when the command line is built).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ArgValue {
    /// A string argument.
    Text(String),
    /// A number argument.
    Number(serde_json::Number),
    /// A boolean argument (printed as Python does, `True`/`False`).
    Bool(bool),
}

impl std::fmt::Display for ArgValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgValue::Text(t) => f.write_str(t),
            ArgValue::Number(n) => write!(f, "{n}"),
            ArgValue::Bool(true) => f.write_str("True"),
            ArgValue::Bool(false) => f.write_str("False"),
        }
    }
}

/// The typed parameters of a job, by type. Types whose runners are not typed here keep the map.
#[derive(Debug, Clone, PartialEq)]
pub enum JobParameters {
    /// `cmd`
    Cmd(CmdParams),
    /// `exe`
    Exe(ExeParams),
    /// `pkg`
    Pkg(PkgParams),
    /// `docker`
    Docker(DockerParams),
    /// `sql`, `sqli`, `sqlv`
    Sql(SqlParams),
    /// `sqlc`
    Sqlc(SqlcParams),
    /// `log` (parameters are ignored)
    Log,
    /// `dispatch`
    Dispatch(super::pipeline::DispatchParams),
    /// `chain`
    Chain(super::pipeline::ChainParams),
    /// `dag`
    Dag(super::pipeline::DagParams),
    /// `foreach`
    Foreach(super::pipeline::ForeachParams),
    /// `db_from_s3`
    DbFromS3(DbFromS3Params),
    /// `redshift_unload`
    RedshiftUnload(RedshiftUnloadParams),
    /// `smb_get`, `smb_put`
    Smb(SmbParams),
    /// Any other type: the map as given, checked against the type's known keys.
    Other(Map<String, Value>),
}

const EXEC_KEYS: &[&str] = &["args", "connections", "env", "jinja", "timeout", "vars"];
const SQL_COMMON: &[&str] = &[
    "conn_id",
    "batch_size",
    "delimiter",
    "dialect",
    "doublequote",
    "escapechar",
    "quotechar",
    "quoting",
    "header",
    "jinja",
    "raw",
    "transaction",
    "vars",
];
const DB_FROM_S3_KEYS: &[&str] = &[
    "db_conn_id",
    "bucket",
    "key",
    "schema",
    "table",
    "mode",
    "args",
    "columns",
    "jinja",
    "min_size",
    "s3_conn_id",
    "s3_iam_role",
    "skip_missing",
    "vars",
];
const REDSHIFT_UNLOAD_KEYS: &[&str] = &[
    "conn_id",
    "bucket",
    "schema",
    "relation",
    "args",
    "dateformat",
    "insecure",
    "key",
    "prefix",
    "s3_conn_id",
    "s3_iam_role",
    "start",
    "stop_on_fail",
    "vars",
    "where",
];
const SMB_KEYS: &[&str] = &["conn_id", "share_name", "path", "file", "basedir", "jinja", "timeout", "vars"];

/// The parameter keys a job type takes, and those it requires: the one table `parse`
/// checks against and the project templates (`lava project add`) are written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterKeys {
    /// Every key the type takes, required ones included.
    pub allowed: Vec<&'static str>,
    /// The keys it cannot do without.
    pub required: &'static [&'static str],
}

impl ParameterKeys {
    /// The keys of `job_type`'s parameters; `None` for the types whose parameters lava does
    /// not check (SharePoint's, which it refuses to run, and unknown types).
    pub fn of(job_type: &JobType) -> Option<ParameterKeys> {
        let keys = |allowed: &[&[&'static str]], required| Some(ParameterKeys { allowed: allowed.concat(), required });
        match job_type {
            JobType::Cmd => keys(&[&["args", "env", "jinja", "timeout", "vars"]], &[]),
            JobType::Exe => keys(&[EXEC_KEYS], &[]),
            JobType::Pkg => keys(&[EXEC_KEYS, &["command", "main"]], &[]),
            JobType::Docker => keys(&[EXEC_KEYS, &["command", "docker", "host_config"]], &[]),
            JobType::Sql | JobType::Sqli => keys(&[SQL_COMMON, &["output"]], &["conn_id"]),
            JobType::Sqlv => keys(&[SQL_COMMON, &["format", "level", "timeout"]], &["conn_id"]),
            JobType::Sqlc => keys(&[&["conn_id", "args", "jinja", "timeout", "vars"]], &["conn_id"]),
            JobType::Log => keys(&[], &[]),
            JobType::Dispatch => keys(&[&["parameters", "delay", "jinja", "job_prefix"]], &[]),
            JobType::Chain => keys(&[&["job_prefix", "start", "can_fail"]], &[]),
            JobType::Dag => keys(&[&["job_prefix", "workers", "can_fail"]], &[]),
            JobType::Foreach => keys(&[&["foreach", "can_fail", "limit", "jinja"]], &["foreach"]),
            JobType::Lavasched => keys(&[&["dispatcher", "args", "env"]], &["dispatcher"]),
            JobType::DbFromS3 => keys(&[DB_FROM_S3_KEYS], &["db_conn_id", "bucket", "key", "schema", "table", "mode"]),
            JobType::RedshiftUnload => {
                keys(&[REDSHIFT_UNLOAD_KEYS], &["conn_id", "bucket", "schema", "relation", "args"])
            }
            // The original's smb_get refused every optional key (an empty set intersection);
            // here each type takes the optional keys its documentation lists.
            JobType::SmbGet => keys(&[SMB_KEYS, &["kms_key_id"]], &["conn_id", "share_name", "path", "file"]),
            JobType::SmbPut => keys(&[SMB_KEYS, &["create_dirs"]], &["conn_id", "share_name", "path", "file"]),
            JobType::SharepointGetDoc
            | JobType::SharepointGetList
            | JobType::SharepointGetMultiDoc
            | JobType::SharepointPutDoc
            | JobType::SharepointPutList
            | JobType::Unknown(_) => None,
        }
    }
}

impl JobParameters {
    /// The `timeout` parameter, for the types that have one.
    pub fn timeout(&self) -> Option<&DurationSpec> {
        match self {
            JobParameters::Cmd(p) => p.timeout.as_ref(),
            JobParameters::Exe(p) => p.timeout.as_ref(),
            JobParameters::Pkg(p) => p.timeout.as_ref(),
            JobParameters::Docker(p) => p.timeout.as_ref(),
            JobParameters::Sql(p) => p.timeout.as_ref(),
            JobParameters::Sqlc(p) => p.timeout.as_ref(),
            JobParameters::Smb(p) => p.timeout.as_ref(),
            JobParameters::Log
            | JobParameters::Dispatch(_)
            | JobParameters::Chain(_)
            | JobParameters::Dag(_)
            | JobParameters::Foreach(_)
            | JobParameters::DbFromS3(_)
            | JobParameters::RedshiftUnload(_)
            | JobParameters::Other(_) => None,
        }
    }

    /// Checks and types the parameters of a job of `job_type`, with the original's messages
    /// (`Missing keys: …`, `Unexpected keys: …`) or the failing field.
    pub fn parse(job_type: &JobType, params: &Map<String, Value>) -> Result<Self, String> {
        let Some(keys) = ParameterKeys::of(job_type) else { return Ok(JobParameters::Other(params.clone())) };
        check_keys(params, &keys.allowed, keys.required)?;
        Ok(match job_type {
            JobType::Cmd => JobParameters::Cmd(typed(params)?),
            JobType::Exe => {
                let p: ExeParams = typed(params)?;
                check_labels(&p.connections)?;
                JobParameters::Exe(p)
            }
            JobType::Pkg => JobParameters::Pkg(pkg_params(params)?),
            JobType::Docker => JobParameters::Docker(docker_params(params)?),
            JobType::Sql | JobType::Sqli => JobParameters::Sql(sql_params(params)?),
            JobType::Sqlv => JobParameters::Sql(sqlv_params(params)?),
            JobType::Sqlc => JobParameters::Sqlc(typed(params)?),
            JobType::Log => JobParameters::Log,
            JobType::Dispatch => JobParameters::Dispatch(dispatch_params(params)?),
            JobType::Chain => JobParameters::Chain(typed(params)?),
            JobType::Dag => {
                let p: super::pipeline::DagParams = typed(params)?;
                if p.workers.is_some_and(|w| w < 1) {
                    return Err("workers must be at least 1".into());
                }
                JobParameters::Dag(p)
            }
            JobType::Foreach => {
                // The value generator is checked by validation and by the run (the original's
                // error for it has no "Bad job parameters" prefix).
                let p: super::pipeline::ForeachParams = typed(params)?;
                if p.limit.is_some_and(|l| l < 0) {
                    return Err("limit must not be negative".into());
                }
                JobParameters::Foreach(p)
            }
            JobType::Lavasched => JobParameters::Other(params.clone()),
            JobType::DbFromS3 => JobParameters::DbFromS3(db_from_s3_params(params)?),
            JobType::RedshiftUnload => JobParameters::RedshiftUnload(redshift_unload_params(params)?),
            JobType::SmbGet | JobType::SmbPut => JobParameters::Smb(typed(params)?),
            JobType::SharepointGetDoc
            | JobType::SharepointGetList
            | JobType::SharepointGetMultiDoc
            | JobType::SharepointPutDoc
            | JobType::SharepointPutList
            | JobType::Unknown(_) => JobParameters::Other(params.clone()),
        })
    }
}

/// Reads checked parameters as `T`, naming the failing field.
fn typed<T: serde::de::DeserializeOwned>(params: &Map<String, Value>) -> Result<T, String> {
    from_value(&Value::Object(params.clone())).map_err(|e| e.to_string())
}

fn pkg_params(params: &Map<String, Value>) -> Result<PkgParams, String> {
    let p: PkgParams = typed(params)?;
    match (&p.command, &p.main) {
        (Some(_), Some(_)) => return Err("command and main cannot both be given".into()),
        (None, None) => return Err("No command".into()),
        _ => {}
    }
    check_labels(&p.connections)?;
    Ok(p)
}

fn docker_params(params: &Map<String, Value>) -> Result<DockerParams, String> {
    let p: DockerParams = typed(params)?;
    let mut bad: Vec<&str> = p
        .host_config
        .keys()
        .map(String::as_str)
        .filter(|k| !super::container::DOCKER_HOST_CONFIG.contains(k))
        .collect();
    bad.sort_unstable();
    if !bad.is_empty() {
        return Err(format!("Bad host_config parameters: {}", bad.join(", ")));
    }
    super::ContainerHost::default().apply(&p.host_config)?;
    check_labels(&p.connections)?;
    Ok(p)
}

fn sql_params(params: &Map<String, Value>) -> Result<SqlParams, String> {
    let p: SqlParams = typed(params)?;
    check_sql(&p)?;
    if let Some(out) = &p.output
        && (out.is_empty() || !out.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err(format!("Bad output parameter: {out:?}: Must be alphanumeric"));
    }
    Ok(p)
}

fn sqlv_params(params: &Map<String, Value>) -> Result<SqlParams, String> {
    let p: SqlParams = typed(params)?;
    check_sql(&p)?;
    if let Some(f) = &p.format
        && !["csv", "jsonl", "html", "parquet"].contains(&f.as_str())
    {
        return Err(format!("Bad format: {f:?}: expected csv, jsonl, html or parquet"));
    }
    if let Some(l) = &p.level
        && !["debug", "info", "warning", "warn", "error", "critical"].contains(&l.to_lowercase().as_str())
    {
        return Err(format!("Bad level: {l:?}: expected debug, info, warning, error or critical"));
    }
    Ok(p)
}

fn dispatch_params(params: &Map<String, Value>) -> Result<super::pipeline::DispatchParams, String> {
    let p: super::pipeline::DispatchParams = typed(params)?;
    if let Some(delay) = &p.delay {
        match delay.seconds() {
            Ok(s) if s < 0.0 => return Err(format!("Bad delay: {delay} is negative")),
            Err(e) => return Err(format!("Bad delay: {e}")),
            Ok(_) => {}
        }
    }
    Ok(p)
}

fn db_from_s3_params(params: &Map<String, Value>) -> Result<DbFromS3Params, String> {
    let p: DbFromS3Params = typed(params)?;
    LoadMode::parse(&p.mode)?;
    p.min_size_bytes()?;
    Ok(p)
}

fn redshift_unload_params(params: &Map<String, Value>) -> Result<RedshiftUnloadParams, String> {
    let p: RedshiftUnloadParams = typed(params)?;
    if p.prefix.as_deref().or(p.key.as_deref()).is_none_or(str::is_empty) {
        return Err("prefix is required".into());
    }
    check_unload_options(&p.args)?;
    Ok(p)
}

fn check_labels(connections: &BTreeMap<String, String>) -> Result<(), String> {
    for label in connections.keys() {
        if label.is_empty() || !label.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!("Bad connection label: {label}"));
        }
    }
    Ok(())
}

fn check_sql(p: &SqlParams) -> Result<(), String> {
    if let Some(q) = &p.quoting
        && !["minimal", "all", "nonnumeric", "none"].contains(&q.to_ascii_lowercase().as_str())
    {
        return Err(format!("Bad quoting style: {q}"));
    }
    if let Some(d) = &p.dialect
        && !["excel", "excel-tab", "unix"].contains(&d.as_str())
    {
        return Err(format!("Bad dialect: {d}"));
    }
    if let Some(b) = p.batch_size
        && b < 1
    {
        return Err(format!("Bad batch_size: {b}"));
    }
    for (name, value) in [("delimiter", &p.delimiter), ("quotechar", &p.quotechar), ("escapechar", &p.escapechar)] {
        if let Some(v) = value
            && v.chars().count() != 1
        {
            return Err(format!("Bad {name}: {v:?}: must be one character"));
        }
    }
    Ok(())
}

/// Checks a payload's shape for its job type, in the original's words where it had them.
pub fn validate_payload(job_type: &JobType, payload: &Value) -> Result<(), String> {
    let string_or_list = |what: &str| match payload {
        Value::String(s) if !s.trim().is_empty() => Ok(()),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => Ok(()),
        other => Err(format!("Bad payload: {what} must be a string or a list of strings, not {}", kind_of(other))),
    };
    match job_type {
        JobType::Cmd => match payload {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            Value::String(_) => Err("payload required".into()),
            other => Err(format!("Bad payload: must be a command line string, not {}", kind_of(other))),
        },
        JobType::Exe => match payload {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            Value::Array(_) => Err("Only single string payloads are supported for exe jobs".into()),
            other => Err(format!("Bad payload: must be an S3 key and arguments, not {}", kind_of(other))),
        },
        JobType::Pkg | JobType::Sql | JobType::Sqlc | JobType::Sqlv => string_or_list("an S3 key or prefix"),
        JobType::Sqli => string_or_list("inline SQL"),
        JobType::Docker => match payload {
            Value::String(s) => docker_image(s).map(|_| ()),
            other => Err(format!("Bad payload: must be an image repository[:tag], not {}", kind_of(other))),
        },
        JobType::Dispatch | JobType::Chain => match payload {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err("Payload must be comma separated list or real list of job IDs".into()),
        },
        JobType::Dag => super::pipeline::dag_graph(payload, "").map(|_| ()),
        JobType::Foreach => match payload {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            _ => Err("Bad payload: must be string".into()),
        },
        JobType::Log
        | JobType::Lavasched
        | JobType::DbFromS3
        | JobType::RedshiftUnload
        | JobType::SharepointGetDoc
        | JobType::SharepointGetList
        | JobType::SharepointGetMultiDoc
        | JobType::SharepointPutDoc
        | JobType::SharepointPutList
        | JobType::SmbGet
        | JobType::SmbPut
        | JobType::Unknown(_) => Ok(()),
    }
}

/// Splits a docker payload into repository and tag (default `latest`); validation and the
/// docker runner both use it. Unlike the original, a registry host with a port
/// (`host:5000/repo:tag`) is accepted: the tag follows the `:` after the last `/`, and there
/// may be only one such `:` (`a:b:c` is refused).
pub fn docker_image(payload: &str) -> Result<(String, String), String> {
    let image = payload.trim();
    let bad = || format!("Bad payload: {image:?}: Must be in the form repository[:tag]");
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match image[name_start..].split_once(':') {
        Some((name, tag)) => (&image[..name_start + name.len()], tag),
        None => (image, "latest"),
    };
    if repo.is_empty() || tag.is_empty() || tag.contains(':') || image.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((repo.to_string(), tag.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_images_with_registry_ports() {
        assert_eq!(docker_image("busybox").unwrap(), ("busybox".into(), "latest".into()));
        assert_eq!(docker_image(" repo/x:1.2 ").unwrap(), ("repo/x".into(), "1.2".into()));
        assert_eq!(docker_image("host:5000/repo:tag").unwrap(), ("host:5000/repo".into(), "tag".into()));
        assert_eq!(docker_image("host:5000/repo").unwrap(), ("host:5000/repo".into(), "latest".into()));
        assert!(docker_image("repo:").is_err());
        assert!(docker_image("a:b:c").is_err(), "validation refuses what the runner would refuse");
        assert!(docker_image("repo/x:1 2").is_err());
        assert!(docker_image("").is_err());
    }

    #[test]
    fn smb_jobs_take_their_own_optional_keys() {
        use serde_json::json;
        let base = json!({"conn_id": "fs", "share_name": "Public", "path": "/a.csv", "file": "s3://b/a.csv"});
        let with = |key: &str, value: Value| {
            let mut p = base.as_object().unwrap().clone();
            p.insert(key.into(), value);
            p
        };
        let get = JobParameters::parse(&JobType::SmbGet, &with("kms_key_id", json!("alias/data"))).unwrap();
        assert!(matches!(get, JobParameters::Smb(p) if p.kms_key_id.as_deref() == Some("alias/data")));
        let put = JobParameters::parse(&JobType::SmbPut, &with("create_dirs", json!("yes"))).unwrap();
        assert!(matches!(put, JobParameters::Smb(p) if p.create_dirs.is_some_and(|f| f.0)));
        let wrong = JobParameters::parse(&JobType::SmbGet, &with("create_dirs", json!(true))).unwrap_err();
        assert_eq!(wrong, "Unexpected keys: create_dirs");
        let missing = JobParameters::parse(&JobType::SmbPut, &Map::new()).unwrap_err();
        assert!(missing.starts_with("Missing keys: "), "{missing}");
    }

    #[test]
    fn flags_accept_strings_the_original_would_have_misread() {
        let p = JobParameters::parse(
            &JobType::Sql,
            serde_json::json!({"conn_id": "c", "header": "false"}).as_object().unwrap(),
        )
        .unwrap();
        let JobParameters::Sql(p) = p else { panic!("sql params") };
        assert_eq!(p.header, Some(Flag(false)));
    }
}
