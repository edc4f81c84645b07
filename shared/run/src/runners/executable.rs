//! `cmd` and `exe` jobs: command lines split like a shell (Jinja blocks kept whole) and rendered
//! word by word, run directly with the lava environment, output captured and uploaded.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, Exit, ProcessSpec};
use super::{Failure, Outcome, RunContext};
use crate::cmdline;
use crate::config::{Key, Seconds, keys};
use crate::error::Error;
use crate::model::params::{CmdParams, ExeParams, JobParameters, PkgParams};

/// The parts of the parameters every executable type shares.
struct Common<'p> {
    env: &'p BTreeMap<String, String>,
    jinja: bool,
    vars: &'p Map<String, Value>,
}

impl<'p> From<&'p CmdParams> for Common<'p> {
    fn from(p: &'p CmdParams) -> Self {
        Common { env: &p.env, jinja: p.jinja.is_none_or(|f| f.0), vars: &p.vars }
    }
}

impl<'p> From<&'p PkgParams> for Common<'p> {
    fn from(p: &'p PkgParams) -> Self {
        Common { env: &p.env, jinja: p.jinja.is_none_or(|f| f.0), vars: &p.vars }
    }
}

impl<'p> From<&'p ExeParams> for Common<'p> {
    fn from(p: &'p ExeParams) -> Self {
        Common { env: &p.env, jinja: p.jinja.is_none_or(|f| f.0), vars: &p.vars }
    }
}

/// The job's typed parameters, picked out for this runner's type.
fn parameters<T>(ctx: &RunContext<'_>, pick: impl FnOnce(JobParameters) -> Option<T>) -> Result<T, Failure> {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    pick(typed).ok_or_else(|| Failure::message("Bad job parameters"))
}

/// Adds owner-execute permission to a downloaded or unpacked program (best effort: running it
/// reports any problem).
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mut perms = meta.permissions();
        perms.set_mode(perms.mode() | 0o100);
        let _ = std::fs::set_permissions(path, perms);
    }
}

/// Writes a connector script for each `connections` label; returns
/// `LAVA_CONN_<LABEL>` (the script) and `LAVA_CONNID_<LABEL>` (the conn_id) for each.
async fn connection_env(
    ctx: &RunContext<'_>,
    connections: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, Error> {
    let mut vars = Vec::new();
    for (label, conn_id) in connections {
        let app =
            crate::connections::application_name(ctx.config, ctx.renderer, &ctx.realm.realm, &ctx.spec.job_id, conn_id);
        let script =
            crate::connections::scripts::write_connector(ctx.connections, conn_id, &ctx.run_dir, app.as_deref())
                .await?;
        let label = label.to_ascii_uppercase();
        vars.push((format!("LAVA_CONN_{label}"), script.display().to_string()));
        vars.push((format!("LAVA_CONNID_{label}"), conn_id.clone()));
    }
    Ok(vars)
}

/// Renders each word (when Jinja is on).
fn render_words(ctx: &RunContext<'_>, common: &Common<'_>, words: Vec<String>) -> Result<Vec<String>, String> {
    if !common.jinja {
        return Ok(words);
    }
    let vars = ctx.with_vars(common.vars);
    words.iter().map(|w| ctx.renderer.render(w, &vars)).collect()
}

/// The environment of an executable job: the worker's, the job's `env` (rendered when
/// Jinja is on; kept as written when it is off, where the original dropped it), the handler's
/// extras, lava's identity variables, and a private `TMPDIR`.
fn environment(
    ctx: &RunContext<'_>,
    common: &Common<'_>,
    extras: &[(String, String)],
    connections: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let vars = ctx.with_vars(common.vars);
    for (name, value) in common.env {
        let value = if common.jinja {
            ctx.renderer.render(value, &vars).map_err(|e| format!("Bad environment variable: {name}: {e}"))?
        } else {
            value.clone()
        };
        env.insert(name.clone(), value);
    }
    env.insert("LAVA_S3_TMP".into(), ctx.s3tmp.to_string());
    for (k, v) in extras {
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in ctx.identity_vars() {
        env.insert(k.into(), v);
    }
    for (k, v) in connections {
        env.insert(k.clone(), v.clone());
    }
    if ctx.config.get(keys::JOB_LOCAL_TMPDIR) {
        let tmp = ctx.run_dir.join(format!(".lava.{}.tmp", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("Cannot create {}: {e}", tmp.display()))?;
        env.insert("TMPDIR".into(), tmp.display().to_string());
    }
    Ok(env.into_iter().collect())
}

pub(crate) fn timeout(
    ctx: &RunContext<'_>,
    spec: Option<&crate::model::DurationSpec>,
    key: Key<Seconds>,
) -> Result<Duration, String> {
    let seconds = match spec {
        Some(d) => d.seconds().map_err(|e| format!("Bad timeout: {e}"))?,
        None => ctx.config.get(key),
    };
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(format!("Bad timeout: {seconds} seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The first (or, for a negative size, last) `STDERR_SIZE` bytes of a stderr file, stripped.
/// Only those bytes are read, however large the file.
async fn stderr_excerpt(ctx: &RunContext<'_>, path: &Path) -> Value {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let size = ctx.config.get(keys::STDERR_SIZE);
    let n = size.unsigned_abs();
    let Ok(mut file) = tokio::fs::File::open(path).await else { return Value::Null };
    let length = file.metadata().await.map_or(0, |m| m.len());
    if size < 0 && file.seek(std::io::SeekFrom::Start(length.saturating_sub(n))).await.is_err() {
        return Value::Null;
    }
    let mut part = Vec::new();
    if file.take(n).read_to_end(&mut part).await.is_err() {
        return Value::Null;
    }
    let text = String::from_utf8_lossy(&part).trim().to_string();
    if text.is_empty() { Value::Null } else { Value::String(text) }
}

/// Writes an object to `path` as it arrives, a chunk at a time (never whole in memory).
async fn save_object(blobs: &dyn crate::ports::BlobStore, bucket: &str, key: &str, path: &Path) -> Result<(), Error> {
    use futures_util::TryStreamExt;
    use tokio::io::AsyncWriteExt;
    let cannot_write = |e| Error::io(format!("Cannot write {}", path.display()), e);
    let mut chunks = blobs.open_object(bucket, key).await?;
    let mut file = tokio::fs::File::create(path).await.map_err(cannot_write)?;
    while let Some(chunk) = chunks.try_next().await? {
        file.write_all(&chunk).await.map_err(cannot_write)?;
    }
    file.flush().await.map_err(cannot_write)
}

/// One program to run: its `output` entry is labelled `label`, its output files are
/// `<name>.stdout|.stderr` (plain `stdout`/`stderr` when `name` is empty).
pub(crate) struct Program<'a> {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    pub name: &'a str,
    pub label: &'a str,
    pub limit: Duration,
    pub stdin: Option<PathBuf>,
}

/// Runs one program, uploads its output, and returns its `output` entry and exit.
pub(crate) async fn run_program(
    ctx: &RunContext<'_>,
    program: Program<'_>,
) -> Result<(Map<String, Value>, Exit, Value), Failure> {
    let Program { argv, env, cwd, name, label, limit, stdin } = program;
    let (stdout_name, stderr_name) = if name.is_empty() {
        ("stdout".to_string(), "stderr".to_string())
    } else {
        (format!("{name}.stdout"), format!("{name}.stderr"))
    };
    let files = (cwd.join(&stdout_name), cwd.join(&stderr_name));
    let spec = ProcessSpec {
        argv,
        env,
        cwd: cwd.to_path_buf(),
        output: (!ctx.dev).then(|| files.clone()),
        stdin,
        timeout: limit,
    };
    let mut entry = Map::new();
    entry.insert("payload".into(), Value::String(label.to_string()));
    let exit = match process::run(&spec, ctx.cancel.clone()).await {
        Ok(exit) => exit,
        // As the original, a program that cannot be started fails the run with the system's
        // error and no data.
        Err(message) => return Err(Failure::message(message)),
    };
    entry.insert("exit_status".into(), json!(exit.status()));
    let mut excerpt = Value::Null;
    if !ctx.dev {
        if let Some(uri) = ctx.upload_if_not_empty(&files.0, &stdout_name).await? {
            entry.insert("stdout".into(), Value::String(uri));
        }
        if let Some(uri) = ctx.upload_if_not_empty(&files.1, &stderr_name).await? {
            entry.insert("stderr".into(), Value::String(uri));
        }
        if exit != Exit::Status(0) {
            excerpt = stderr_excerpt(ctx, &files.1).await;
        }
    }
    Ok((entry, exit, excerpt))
}

/// The failure message for an exit.
fn exit_message(exit: &Exit, limit: Duration) -> String {
    match exit {
        Exit::TimedOut => format!("Timed out after {} seconds", process::python_seconds(limit)),
        Exit::Cancelled => "Cancelled: the worker is shutting down".to_string(),
        Exit::Status(s) => format!("Failed with exit status {s}"),
    }
}

/// `cmd`: one command line.
pub async fn run_cmd(ctx: &RunContext<'_>) -> Outcome {
    let params = parameters(ctx, |p| if let JobParameters::Cmd(p) = p { Some(p) } else { None })?;
    let common = Common::from(&params);
    let payload = match &ctx.spec.payload {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => return Err(Failure::message("payload required")),
        Some(other) => return Err(Failure::message(format!("Bad payload: {other}"))),
    };
    let mut words = cmdline::split(&payload).map_err(|e| Failure::message(format!("Bad payload: {e}")))?;
    words.extend(params.args.iter().map(ToString::to_string));
    let argv = render_words(ctx, &common, words).map_err(|e| Failure::message(format!("Bad payload: {e}")))?;
    let env = environment(ctx, &common, &[], &[]).map_err(Failure::message)?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::CMD_TIMEOUT).map_err(Failure::message)?;
    let (entry, exit, excerpt) =
        run_program(ctx, Program { argv, env, cwd: &ctx.run_dir, name: "", label: &payload, limit, stdin: None })
            .await?;
    finish(exit.clone(), vec![entry], excerpt, limit)
}

pub(crate) fn finish(exit: Exit, output: Vec<Map<String, Value>>, excerpt: Value, limit: Duration) -> Outcome {
    let status = exit.status();
    let output: Vec<Value> = output.into_iter().map(Value::Object).collect();
    if exit == Exit::Status(0) {
        Ok(json!({"exit_status": 0, "output": output}))
    } else {
        // As the original, a timeout's data has no `error` (no stderr excerpt is read).
        let data = match exit {
            Exit::TimedOut => json!({"exit_status": status, "output": output}),
            _ => json!({"exit_status": status, "error": excerpt, "output": output}),
        };
        Err(Failure { message: exit_message(&exit, limit), data: Some(data) })
    }
}

/// Downloads a payload (a key, or every object directly under a `…/` prefix) into a fresh
/// directory of the run; returns the local files, sorted.
pub(crate) async fn download_payload(
    ctx: &RunContext<'_>,
    payload: &str,
    index: usize,
    max_size: u64,
) -> Result<Vec<PathBuf>, Error> {
    let area = crate::model::S3Location::parse(&ctx.realm.s3_payloads).map_err(Error::Refused)?;
    let prefix = format!("{}/{payload}", area.key);
    let listing = ctx.blobs.list_objects(&area.bucket, &prefix, Some("/")).await?;
    let dir = ctx.run_dir.join(format!("pld-{index}-{}.d", &uuid::Uuid::new_v4().simple().to_string()[..6]));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("Cannot create {}", dir.display()), e))?;
    let mut files = Vec::new();
    for object in listing.objects.iter().filter(|o| !o.key.ends_with('/')) {
        if object.size > max_size {
            return Err(Error::Refused(format!(
                "s3://{}/{}: Payload size {} exceeds maximum of {max_size}",
                area.bucket, object.key, object.size
            )));
        }
        let name = object.key.rsplit('/').next().unwrap_or(&object.key);
        let path = dir.join(name);
        save_object(ctx.blobs, &area.bucket, &object.key, &path).await?;
        files.push(path);
    }
    if files.is_empty() {
        return Err(Error::Refused(format!("No payload files downloaded from S3 for payload: {payload}")));
    }
    files.sort();
    Ok(files)
}

/// `exe`: executables downloaded from the payload area, each run with the same arguments.
pub async fn run_exe(ctx: &RunContext<'_>) -> Outcome {
    let params = parameters(ctx, |p| if let JobParameters::Exe(p) = p { Some(p) } else { None })?;
    let common = Common::from(&params);
    let payload = match &ctx.spec.payload {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(Failure::message("Only single string payloads are supported for exe jobs")),
    };
    let mut words = cmdline::split(&payload).map_err(|e| Failure::message(format!("Bad payload: {e}")))?;
    let target = words.remove(0);
    words.extend(params.args.iter().map(ToString::to_string));
    let args = render_words(ctx, &common, words).map_err(|e| Failure::message(format!("Bad payload or args: {e}")))?;
    let s3_payload = format!("{}/{target}", ctx.realm.s3_payloads);
    let connections = connection_env(ctx, &params.connections).await?;
    let env =
        environment(ctx, &common, &[("LAVA_S3_PAYLOAD".into(), s3_payload)], &connections).map_err(Failure::message)?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::EXE_TIMEOUT).map_err(Failure::message)?;
    let max = ctx.config.get(keys::EXE_MAX_PAYLOAD_SIZE);
    let files = download_payload(ctx, &target, 0, max).await?;
    let mut output = Vec::new();
    for file in files {
        make_executable(&file);
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let mut argv = vec![file.display().to_string()];
        argv.extend(args.iter().cloned());
        let (entry, exit, excerpt) = run_program(
            ctx,
            Program { argv, env: env.clone(), cwd: &ctx.run_dir, name: &name, label: &name, limit, stdin: None },
        )
        .await?;
        output.push(entry);
        if exit != Exit::Status(0) {
            return finish(exit, output, excerpt, limit);
        }
    }
    finish(Exit::Status(0), output, Value::Null, limit)
}

/// How an archive is unpacked, by its name (first match): `*.zip` with unzip, `*.tar` and
/// `*.tar.*` with tar (which detects the compression).
fn unpack_command(archive: &Path, into: &Path) -> Result<Vec<String>, String> {
    let name = archive.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let (a, d) = (archive.display().to_string(), into.display().to_string());
    if name.ends_with(".zip") {
        Ok(vec!["unzip".into(), "-o".into(), "-qq".into(), "-d".into(), d, a])
    } else if name.ends_with(".tar") || name.contains(".tar.") {
        Ok(vec!["tar".into(), "-x".into(), "-C".into(), d, "-f".into(), a])
    } else {
        Err(format!("Don't know how to unpack {a}"))
    }
}

/// `pkg`: archives downloaded from the payload area, unpacked, and an entry point run in each.
pub async fn run_pkg(ctx: &RunContext<'_>) -> Outcome {
    let params = parameters(ctx, |p| if let JobParameters::Pkg(p) = p { Some(p) } else { None })?;
    let common = Common::from(&params);
    let payloads = ctx.payload_keys()?;
    let command = params
        .command
        .as_deref()
        .or(params.main.as_deref())
        .ok_or_else(|| Failure::message("Bad job parameters: No command"))?;
    let mut words = cmdline::split(command).map_err(|e| Failure::message(format!("Bad command: {e}")))?;
    if words.is_empty() {
        return Err(Failure::message("Bad job parameters: No command"));
    }
    let entry = words.remove(0);
    words.extend(params.args.iter().map(ToString::to_string));
    let args = render_words(ctx, &common, words).map_err(|e| Failure::message(format!("Bad command or args: {e}")))?;
    let s3_payload = format!("{}/{}", ctx.realm.s3_payloads, payloads.join(","));
    let connections = connection_env(ctx, &params.connections).await?;
    let env =
        environment(ctx, &common, &[("LAVA_S3_PAYLOAD".into(), s3_payload)], &connections).map_err(Failure::message)?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::PKG_TIMEOUT).map_err(Failure::message)?;
    let unpack_limit = Duration::from_secs_f64(ctx.config.get(keys::PKG_UNPACK_TIMEOUT));
    let max = ctx.config.get(keys::PKG_MAX_PAYLOAD_SIZE);
    let mut archives = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        archives.extend(download_payload(ctx, payload, i, max).await?);
    }
    let mut output = Vec::new();
    for (n, archive) in archives.iter().enumerate() {
        let name = archive.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let dir = ctx.run_dir.join(format!("{}.{}.pkg", n + 1, &uuid::Uuid::new_v4().simple().to_string()[..6]));
        std::fs::create_dir_all(&dir).map_err(|e| Failure::message(format!("Cannot create {}: {e}", dir.display())))?;
        let unpacked = match unpack_command(archive, &dir) {
            Err(e) => Err(e),
            Ok(argv) => {
                let spec = ProcessSpec {
                    argv,
                    env: env.clone(),
                    cwd: ctx.run_dir.clone(),
                    output: None,
                    stdin: None,
                    timeout: unpack_limit,
                };
                match process::run(&spec, ctx.cancel.clone()).await {
                    Ok(Exit::Status(0)) => Ok(()),
                    Ok(exit) => Err(exit_message(&exit, unpack_limit)),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = unpacked {
            let message = format!("Cannot unpack {} into {}: {e}", archive.display(), dir.display());
            return Err(Failure { message, data: Some(json!({"exit_status": 1, "error": e, "output": output})) });
        }
        let program = dir.join(&entry);
        make_executable(&program);
        let mut argv = vec![program.display().to_string()];
        argv.extend(args.iter().cloned());
        let (item, exit, excerpt) = run_program(
            ctx,
            Program { argv, env: env.clone(), cwd: &dir, name: &name, label: &name, limit, stdin: None },
        )
        .await?;
        let _ = std::fs::remove_dir_all(&dir);
        output.push(item);
        if exit != Exit::Status(0) {
            return finish(exit, output, excerpt, limit);
        }
    }
    finish(Exit::Status(0), output, Value::Null, limit)
}
