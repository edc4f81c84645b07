//! `docker` jobs: the image pulled per the pull policy (with registry credentials from
//! the job's or realm's `docker` connection), a container named `lava-<uuid>` with lava's
//! labels, environment and connections, the run directory bind-mounted at the same path, the
//! whitelisted `host_config`, a time limit from container start, the combined log uploaded to
//! `<s3tmp>/logs`, and the container always removed.

use serde_json::{Map, Value, json};
use std::time::Duration;

use super::executable::timeout;
use super::{Failure, Outcome, RunContext};
use crate::cmdline;
use crate::config::{Key, OptText, keys};
use crate::model::ContainerHost;
use crate::model::params::{DockerParams, JobParameters, docker_image};
use crate::ports::{ContainerEngine, ContainerSpec, RegistryLogin};

/// When to pull the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull before every run.
    Always,
    /// Pull only when the engine lacks the image.
    IfNotPresent,
    /// Never pull; the image must be on the engine.
    Never,
}

impl PullPolicy {
    /// Parses `always`, `if-not-present` or `never`.
    pub fn parse(text: &str) -> Result<PullPolicy, String> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "always" => Ok(PullPolicy::Always),
            "if-not-present" | "ifnotpresent" | "missing" => Ok(PullPolicy::IfNotPresent),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!("Bad pull policy: {other}: expected always, if-not-present or never")),
        }
    }
}

/// Registry, credentials and pull policy from the `docker` connection, if any.
async fn registry(
    ctx: &RunContext<'_>,
    params: &DockerParams,
) -> Result<(Option<RegistryLogin>, Option<String>, PullPolicy), String> {
    let conn_id = params.docker.clone().or_else(|| ctx.realm.docker.clone());
    let mut policy_text = ctx.config.get(keys::DOCKER_PULL);
    let mut login = None;
    let mut server = None;
    if let Some(conn_id) = conn_id {
        let resolved = ctx.connections.resolve(&conn_id).await.map_err(|e| e.to_string())?;
        if resolved.kind != crate::model::ConnectionType::Docker {
            return Err(format!("Connection {conn_id}: type must be docker, not {}", resolved.kind));
        }
        if resolved.fields.get("server").is_some_and(|s| !s.is_null()) {
            return Err(format!(
                "Connection {conn_id}: server is not supported: the worker runs containers on its own engine (DOCKER_HOST)"
            ));
        }
        if let Some(pull) = resolved.fields.get("pull").and_then(Value::as_str) {
            policy_text = Some(pull.to_string());
        }
        if let Some(registry) = resolved.fields.get("registry").and_then(Value::as_str).map(str::to_string) {
            if registry == "ecr" || registry.starts_with("ecr:") {
                let accounts: Vec<String> =
                    registry.strip_prefix("ecr:").map(|a| vec![a.to_string()]).unwrap_or_default();
                let ecr = ctx
                    .connections
                    .registry_login(&accounts)
                    .await
                    .map_err(|e| format!("Connection {conn_id}: Cannot login to registry: {e}"))?;
                server = Some(ecr.server.clone());
                login = Some(ecr);
            } else {
                let host = registry
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string();
                let user = resolved.fields.get("user").and_then(Value::as_str).map(str::to_string);
                let password = match resolved.fields.get("password").and_then(Value::as_str) {
                    Some(name) => {
                        Some(ctx.connections.parameter(name).await.map_err(|e| e.to_string())?.expose().to_string())
                    }
                    None => None,
                };
                match (user, password) {
                    (Some(username), Some(password)) => {
                        login = Some(RegistryLogin { server: host.clone(), username, password })
                    }
                    (None, None) => {}
                    _ => {
                        return Err(format!(
                            "Connection {conn_id}: user and password are both needed for registry {host}"
                        ));
                    }
                }
                server = Some(host);
            }
        }
    }
    let default = if server.is_some() { PullPolicy::Always } else { PullPolicy::IfNotPresent };
    let policy = policy_text.as_deref().map(PullPolicy::parse).transpose()?.unwrap_or(default);
    Ok((login, server, policy))
}

/// A job's templates rendered (or not, with `jinja: false`).
type Render<'a> = dyn Fn(&str) -> Result<String, String> + Sync + 'a;

/// `docker`: run the payload's image.
pub async fn run_docker(ctx: &RunContext<'_>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Docker(params) = typed else { return Err(Failure::message("Bad job parameters")) };
    let payload = ctx.spec.payload.as_ref().and_then(Value::as_str).unwrap_or_default().to_string();
    let (repository, tag) = docker_image(&payload).map_err(Failure::message)?;
    let jinja = params.jinja.is_none_or(|f| f.0);
    let vars = ctx.with_vars(&params.vars);
    let render = |text: &str| if jinja { ctx.renderer.render(text, &vars) } else { Ok(text.to_string()) };
    let command = command(&params, &render)?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::DOCKER_TIMEOUT).map_err(Failure::message)?;
    let (login, server, policy) = registry(ctx, &params).await.map_err(Failure::message)?;
    let image = match &server {
        Some(host) if !repository.starts_with(&format!("{host}/")) => format!("{host}/{repository}:{tag}"),
        _ => format!("{repository}:{tag}"),
    };
    let env = environment(ctx, &params, &payload, &render).await?;
    let spec = container_spec(ctx, &params, image.clone(), command, &env)?;
    if ctx.config.get(keys::DOCKER_RUNNER).is_some_and(|r| r.eq_ignore_ascii_case("ecs")) {
        return run_on_ecs(ctx, &spec, limit).await;
    }
    let Some(engine) = ctx.containers else {
        return Err(Failure::message(
            "This worker has no Docker engine: docker jobs need the worker's docker support or DOCKER_RUNNER=ecs",
        ));
    };
    let present = engine.has_image(&image).await.map_err(|e| Failure::message(e.to_string()))?;
    match policy {
        PullPolicy::Always => pull(engine, &image, &repository, login.as_ref()).await?,
        PullPolicy::IfNotPresent if !present => pull(engine, &image, &repository, login.as_ref()).await?,
        PullPolicy::Never if !present => {
            return Err(Failure::message(format!(
                "Docker image {image} is not on the engine and the pull policy is never"
            )));
        }
        _ => {}
    }
    // Told by name before it exists, so no moment passes when the reaper does not know it.
    super::reaper::track_container(&spec.name, true);
    let id = engine
        .start(&spec)
        .await
        .map_err(|e| Failure::message(format!("Cannot start a container from {image}: {e}")))?;
    let outcome = supervise(ctx, engine, &id, limit).await;
    let finished = collect(ctx, engine, &id, outcome, limit).await;
    match engine.remove(&id).await {
        Ok(()) => super::reaper::track_container(&spec.name, false),
        Err(e) => tracing::warn!(container = %id, error = %e, "Cannot remove the container."),
    }
    finished
}

/// The container's command: the `command` line split, the `args` added, each word rendered
/// (none: the image's own command).
fn command(params: &DockerParams, render: &Render<'_>) -> Result<Option<Vec<String>>, Failure> {
    let Some(line) = &params.command else { return Ok(None) };
    let mut words = cmdline::split(line).map_err(|e| Failure::message(format!("Bad command: {e}")))?;
    words.extend(params.args.iter().map(ToString::to_string));
    let rendered = words.iter().map(|w| render(w)).collect::<Result<Vec<_>, _>>();
    Ok(Some(rendered.map_err(|e| Failure::message(format!("Bad command or args: {e}")))?))
}

/// The container's environment: the worker's `LAVA_*` variables, the job's env, the handler's
/// extras, lava's identity variables, the connections. No TMPDIR.
async fn environment(
    ctx: &RunContext<'_>,
    params: &DockerParams,
    payload: &str,
    render: &Render<'_>,
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut env: std::collections::BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("LAVA_")).collect();
    for (name, value) in &params.env {
        env.insert(
            name.clone(),
            render(value).map_err(|e| Failure::message(format!("Bad environment variable: {name}: {e}")))?,
        );
    }
    env.insert("LAVA_S3_TMP".into(), ctx.s3tmp.to_string());
    env.insert("LAVA_S3_PAYLOAD".into(), format!("{}/{}", ctx.realm.s3_payloads, payload.trim()));
    env.insert("LAVA_TMP".into(), ctx.run_dir.display().to_string());
    for (k, v) in ctx.identity_vars() {
        env.insert(k.into(), v);
    }
    for (label, conn_id) in &params.connections {
        let app =
            crate::connections::application_name(ctx.config, ctx.renderer, &ctx.realm.realm, &ctx.spec.job_id, conn_id);
        let script =
            crate::connections::scripts::write_connector(ctx.connections, conn_id, &ctx.run_dir, app.as_deref())
                .await?;
        env.insert(format!("LAVA_CONN_{}", label.to_ascii_uppercase()), script.display().to_string());
        env.insert(format!("LAVA_CONNID_{}", label.to_ascii_uppercase()), conn_id.clone());
    }
    Ok(env)
}

/// The container to run: named, labelled with the run, the run's directory mounted as its
/// working directory, the worker's user and group, the job's `host_config` over those.
fn container_spec(
    ctx: &RunContext<'_>,
    params: &DockerParams,
    image: String,
    command: Option<Vec<String>>,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<ContainerSpec, Failure> {
    let run_dir = ctx.run_dir.display().to_string();
    let defaults = ContainerHost {
        working_dir: Some(run_dir.clone()),
        user: Some(nix::unistd::geteuid().to_string()),
        group_add: vec![nix::unistd::getegid().to_string()],
        hostname: Some(format!("lava-{}-{}-{}", ctx.realm.realm, ctx.worker, ctx.run_id).chars().take(63).collect()),
        ..Default::default()
    };
    let host = defaults.apply(&params.host_config).map_err(Failure::message)?;
    Ok(ContainerSpec {
        name: format!("lava-{}", uuid::Uuid::new_v4()),
        image,
        command,
        env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels: vec![
            ("lava.realm".into(), ctx.realm.realm.clone()),
            ("lava.worker".into(), ctx.worker.to_string()),
            ("lava.owner".into(), ctx.spec.owner.clone().unwrap_or_default()),
            ("lava.job_id".into(), ctx.spec.job_id.clone()),
            ("lava.run_id".into(), ctx.run_id.to_string()),
        ],
        binds: vec![format!("{run_dir}:{run_dir}:rw")],
        host,
    })
}

/// A comma-separated config list.
fn config_list(ctx: &RunContext<'_>, key: Key<OptText>) -> Vec<String> {
    ctx.config
        .get(key)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs the container as an ECS task (fleets with no Docker engine, such as Fargate): a task
/// definition per image (`lava-<realm>-<image>`), RunTask with the command and environment as
/// overrides, DescribeTasks until it stops, StopTask at the time limit or shutdown, then the
/// task's CloudWatch log (`DOCKER_ECS_LOG_GROUP`, default `/lava/<realm>/docker`) uploaded as
/// the job's `logs`. The run directory is not shared with the task.
async fn run_on_ecs(ctx: &RunContext<'_>, spec: &ContainerSpec, limit: Duration) -> Outcome {
    let cluster = ctx
        .config
        .get(keys::DOCKER_ECS_CLUSTER)
        .ok_or_else(|| Failure::message("DOCKER_ECS_CLUSTER is required when DOCKER_RUNNER is ecs"))?;
    let launch_type = match ctx.config.get(keys::DOCKER_ECS_LAUNCH_TYPE).to_ascii_uppercase().as_str() {
        "FARGATE" => crate::ports::LaunchType::Fargate,
        "EC2" => crate::ports::LaunchType::Ec2,
        other => return Err(Failure::message(format!("Bad DOCKER_ECS_LAUNCH_TYPE: {other}: expected FARGATE or EC2"))),
    };
    let family: String = format!("lava-{}-{}", ctx.realm.realm, spec.image)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(255)
        .collect();
    let memory =
        spec.host.memory.map(|b| (b >> 20) as i32).unwrap_or_else(|| ctx.config.get(keys::DOCKER_ECS_MEMORY) as i32);
    let cpu = spec.host.nano_cpus.map(|n| (n * 1024 / 1_000_000_000) as i32);
    let fail = |e: crate::error::Error| Failure::message(e.to_string());
    let log_group =
        ctx.config.get(keys::DOCKER_ECS_LOG_GROUP).unwrap_or_else(|| format!("/lava/{}/docker", ctx.realm.realm));
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let definition = crate::ports::TaskDefinition {
        family,
        container: "job".into(),
        image: spec.image.clone(),
        memory_mib: memory,
        cpu_units: cpu,
        logs: Some((log_group.clone(), region, "lava".into())),
    };
    let definition = ctx.tasks.register(&definition).await.map_err(fail)?;
    let request = crate::ports::TaskRequest {
        cluster: cluster.clone(),
        task_definition: definition,
        container: "job".into(),
        command: spec.command.clone().unwrap_or_default(),
        environment: spec
            .env
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        launch_type,
        subnets: config_list(ctx, keys::DOCKER_ECS_SUBNETS),
        security_groups: config_list(ctx, keys::DOCKER_ECS_SECURITY_GROUPS),
    };
    let arn = ctx.tasks.run_task(&request).await.map_err(fail)?;
    let poll = Duration::from_secs_f64(ctx.config.get(keys::DOCKER_ECS_POLL).max(0.05));
    let started = std::time::Instant::now();
    let mut cancel = ctx.cancel.clone();
    let ending = loop {
        let status = ctx.tasks.task_status(&cluster, &arn).await.map_err(fail)?;
        if status.last_status == "STOPPED" {
            break match status.exit_code {
                Some(code) => Ending::Exited(code as i64),
                None => Ending::WaitFailed(format!(
                    "Task {arn} stopped without an exit code: {}",
                    status.stopped_reason.unwrap_or_default()
                )),
            };
        }
        if started.elapsed() >= limit {
            break Ending::TimedOut;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll.min(limit.saturating_sub(started.elapsed()))) => {}
            _ = cancel.wait_for(Option::is_some) => break Ending::Cancelled,
        }
    };
    if !matches!(ending, Ending::Exited(_) | Ending::WaitFailed(_))
        && let Err(e) = ctx.tasks.stop_task(&cluster, &arn, "stopped by lava").await
    {
        tracing::warn!(task = %arn, error = %e, "Cannot stop the task.");
    }
    let mut result = Map::new();
    // The awslogs driver names the stream <prefix>/<container>/<task id>.
    let stream = format!("lava/job/{}", arn.rsplit('/').next().unwrap_or_default());
    let lines = ctx.tasks.task_logs(&log_group, &stream).await.unwrap_or_else(|e| {
        tracing::warn!(task = %arn, error = %e, "Cannot read the task's log.");
        Vec::new()
    });
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(uri) = store_logs(ctx, text.as_bytes()).await? {
        result.insert("output".into(), Value::String(uri));
    }
    result.insert("task".into(), Value::String(arn));
    finish_ending(ending, result, limit)
}

async fn pull(
    engine: &dyn ContainerEngine,
    image: &str,
    repository: &str,
    login: Option<&RegistryLogin>,
) -> Result<(), Failure> {
    engine.pull(image, login).await.map_err(|e| Failure::message(format!("Cannot pull docker image {repository}: {e}")))
}

/// How the container ended.
enum Ending {
    Exited(i64),
    TimedOut,
    Cancelled,
    WaitFailed(String),
}

async fn supervise(ctx: &RunContext<'_>, engine: &dyn ContainerEngine, id: &str, limit: Duration) -> Ending {
    let mut cancel = ctx.cancel.clone();
    let ending = tokio::select! {
        code = engine.wait(id) => match code {
            Ok(code) => Ending::Exited(code),
            Err(e) => Ending::WaitFailed(e.to_string()),
        },
        _ = tokio::time::sleep(limit) => Ending::TimedOut,
        _ = cancel.wait_for(Option::is_some) => Ending::Cancelled,
    };
    if !matches!(ending, Ending::Exited(0)) {
        let _ = engine.kill(id).await;
    }
    ending
}

async fn collect(
    ctx: &RunContext<'_>,
    engine: &dyn ContainerEngine,
    id: &str,
    ending: Ending,
    limit: Duration,
) -> Outcome {
    let logs = engine.logs(id).await.unwrap_or_default();
    let mut result = Map::new();
    if let Some(uri) = store_logs(ctx, &logs).await? {
        result.insert("output".into(), Value::String(uri));
    }
    finish_ending(ending, result, limit)
}

/// The container's log: printed in dev mode, else uploaded to `<s3tmp>/logs` when not empty.
async fn store_logs(ctx: &RunContext<'_>, logs: &[u8]) -> Result<Option<String>, Failure> {
    if ctx.dev {
        use std::io::Write;
        let _ = std::io::stdout().write_all(logs);
        return Ok(None);
    }
    if logs.is_empty() {
        return Ok(None);
    }
    ctx.upload(logs.to_vec(), "logs").await.map(Some)
}

/// The result (or failure) for how a container ended.
fn finish_ending(ending: Ending, mut result: Map<String, Value>, limit: Duration) -> Outcome {
    let (status, error) = match ending {
        Ending::Exited(0) => {
            result.insert("exit_status".into(), json!(0));
            return Ok(Value::Object(result));
        }
        Ending::Exited(code) => (code, None),
        Ending::TimedOut => (28, Some(format!("Timed out after {} seconds", super::process::python_seconds(limit)))),
        Ending::Cancelled => (-9, Some("Cancelled: the worker is shutting down".to_string())),
        Ending::WaitFailed(e) => (1, Some(e)),
    };
    result.insert("exit_status".into(), json!(status));
    if let Some(e) = &error {
        result.insert("error".into(), json!(e));
    }
    let message = error.unwrap_or_else(|| format!("Failed with exit status {status}"));
    Err(Failure { message, data: Some(Value::Object(result)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_pull_policies() {
        assert_eq!(docker_image(" repo/x "), Ok(("repo/x".into(), "latest".into())));
        assert_eq!(docker_image("repo/x:1.2"), Ok(("repo/x".into(), "1.2".into())));
        assert_eq!(docker_image("host:5000/repo:tag"), Ok(("host:5000/repo".into(), "tag".into())));
        assert!(docker_image("a:b:c").unwrap_err().contains("Must be in the form repository[:tag]"));
        assert_eq!(PullPolicy::parse("IfNotPresent"), Ok(PullPolicy::IfNotPresent));
    }
}
