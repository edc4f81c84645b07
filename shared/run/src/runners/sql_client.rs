//! The SQL job types that run a program: `sqlc`: each payload file rendered whole, then
//! fed on stdin to the database's own command-line client through the connection's connector
//! script (`psql`, `mysql`, `sqlite3`), so client meta-commands work; one time limit per file;
//! the first failure stops. `sqlv`: the rendered files run by one `lava-sql` process.

use serde_json::Value;

use crate::config::keys;
use crate::model::params::{JobParameters, SqlParams};
use crate::runners::executable::{Program, download_payload, finish, run_program, timeout};
use crate::runners::process::Exit;
use crate::runners::{Failure, Outcome, RunContext};

/// `sqlc`: SQL files run by the database's client.
pub async fn run_sqlc(ctx: &RunContext<'_>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Sqlc(params) = typed else { return Err(Failure::message("Bad job parameters")) };
    let payloads = ctx.payload_keys()?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::SQLC_TIMEOUT).map_err(Failure::message)?;
    let jinja = params.jinja.is_none_or(|f| f.0);
    let app = crate::connections::application_name(
        ctx.config,
        ctx.renderer,
        &ctx.realm.realm,
        &ctx.spec.job_id,
        &params.conn_id,
    );
    let script =
        crate::connections::scripts::write_connector(ctx.connections, &params.conn_id, &ctx.run_dir, app.as_deref())
            .await?;
    let max = ctx.config.get(keys::SQLC_MAX_PAYLOAD_SIZE);
    let mut files = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        files.extend(download_payload(ctx, payload, i, max).await?);
    }
    // The worker's environment, the realm, and the session's application name.
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k != "PGAPPNAME").collect();
    env.push(("LAVA_REALM".into(), ctx.realm.realm.clone()));
    if let Some(app) = crate::connections::application_name(
        ctx.config,
        ctx.renderer,
        &ctx.realm.realm,
        &ctx.spec.job_id,
        &params.conn_id,
    ) {
        env.push(("PGAPPNAME".into(), app));
    }
    let vars = ctx.with_vars(&params.vars);
    let mut output = Vec::new();
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if jinja {
            let text = tokio::fs::read_to_string(&file)
                .await
                .map_err(|e| Failure::message(format!("Cannot read {}: {e}", file.display())))?;
            match ctx.renderer.render_in_dir(&text, &vars, file.parent().unwrap_or(&ctx.run_dir)) {
                Ok(rendered) => tokio::fs::write(&file, rendered)
                    .await
                    .map_err(|e| Failure::message(format!("Cannot write {}: {e}", file.display())))?,
                Err(e) => {
                    let error = format!("Jinja2 render failed on {name}: {e}");
                    let data = serde_json::json!({"exit_status": 1, "error": error, "output": output.into_iter().map(Value::Object).collect::<Vec<_>>()});
                    return Err(Failure { message: "Failed with exit status 1".into(), data: Some(data) });
                }
            }
        }
        let mut argv = vec![script.display().to_string()];
        argv.extend(params.args.iter().map(ToString::to_string));
        let program = Program {
            argv,
            env: env.clone(),
            cwd: &ctx.run_dir,
            name: &name,
            label: &name,
            limit,
            stdin: Some(file.clone()),
        };
        let (entry, exit, excerpt) = run_program(ctx, program).await?;
        output.push(entry);
        if exit != Exit::Status(0) {
            return finish(exit, output, excerpt, limit);
        }
    }
    finish(Exit::Status(0), output, Value::Null, limit)
}

/// The `lava-sql` program: config `SQLV_COMMAND` (env `LAVA_SQLV_COMMAND`), else `lava-sql`
/// beside the running worker, else `lava-sql` on `PATH`.
fn lava_sql_program(ctx: &RunContext<'_>) -> String {
    ctx.config.get(keys::SQLV_COMMAND).unwrap_or_else(|| crate::connections::scripts::beside_this_program("lava-sql"))
}

/// `sqlv`: the payload files rendered whole, then run by one `lava-sql` process that writes
/// every result set to `stdout` in the run directory.
pub async fn run_sqlv(ctx: &RunContext<'_>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Sql(params) = typed else { return Err(Failure::message("Bad job parameters")) };
    let payloads = ctx.payload_keys()?;
    let limit = timeout(ctx, params.timeout.as_ref(), keys::SQLV_TIMEOUT).map_err(Failure::message)?;
    let max = ctx.config.get(keys::SQL_MAX_PAYLOAD_SIZE);
    let mut files = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        files.extend(download_payload(ctx, payload, i, max).await?);
    }
    if params.jinja.is_none_or(|f| f.0) {
        render_files(ctx, &params, &files).await?;
    }
    let mut argv = lava_sql_argv(ctx, &params);
    argv.extend(files.iter().map(|f| f.display().to_string()));
    let stdout = ctx.run_dir.join("stdout");
    argv.extend(["--output".into(), stdout.display().to_string()]);
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    for (k, v) in ctx.identity_vars() {
        env.retain(|(name, _)| name != k);
        env.push((k.into(), v));
    }
    let spec = crate::runners::process::ProcessSpec {
        argv,
        env,
        cwd: ctx.run_dir.clone(),
        output: Some((ctx.run_dir.join(".lava-sql.stdout"), ctx.run_dir.join("stderr"))),
        stdin: None,
        timeout: limit,
    };
    let exit = crate::runners::process::run(&spec, ctx.cancel.clone()).await.map_err(Failure::message)?;
    let mut entry = serde_json::Map::new();
    entry.insert("exit_status".into(), serde_json::json!(exit.status()));
    if let Some(uri) = ctx.upload_if_not_empty(&stdout, "stdout").await? {
        entry.insert("stdout".into(), Value::String(uri));
    }
    let mut excerpt = Value::Null;
    if ctx.dev {
        if let Ok(text) = tokio::fs::read_to_string(ctx.run_dir.join("stderr")).await {
            eprint!("{text}");
        }
    } else {
        if let Some(uri) = ctx.upload_if_not_empty(&ctx.run_dir.join("stderr"), "stderr").await? {
            entry.insert("stderr".into(), Value::String(uri));
        }
        if exit != Exit::Status(0) {
            excerpt = tokio::fs::read_to_string(ctx.run_dir.join("stderr"))
                .await
                .map(|t| Value::String(t.trim().to_string()))
                .unwrap_or(Value::Null);
        }
    }
    finish(exit, vec![entry], excerpt, limit)
}

/// Renders each payload file in place, whole (a render failure is the original's exit status 1).
async fn render_files(ctx: &RunContext<'_>, params: &SqlParams, files: &[std::path::PathBuf]) -> Result<(), Failure> {
    let vars = ctx.with_vars(&params.vars);
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let text = tokio::fs::read_to_string(file)
            .await
            .map_err(|e| Failure::message(format!("Cannot read {}: {e}", file.display())))?;
        let rendered =
            ctx.renderer.render_in_dir(&text, &vars, file.parent().unwrap_or(&ctx.run_dir)).map_err(|e| {
                let error = format!("Jinja2 render failed on {name}: {e}");
                Failure {
                    message: "Failed with exit status 1".into(),
                    data: Some(serde_json::json!({"exit_status": 1, "error": error, "output": []})),
                }
            })?;
        tokio::fs::write(file, rendered)
            .await
            .map_err(|e| Failure::message(format!("Cannot write {}: {e}", file.display())))?;
    }
    Ok(())
}

/// `lava-sql`'s command line up to the files: the realm, the connection, the run's tag and the
/// output options (CSV's only what the job or the configuration says: lava-sql has the same
/// defaults).
fn lava_sql_argv(ctx: &RunContext<'_>, params: &SqlParams) -> Vec<String> {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let batch = params.batch_size.unwrap_or_else(|| ctx.config.get(keys::SQL_BATCH_SIZE));
    let mut argv = vec![
        lava_sql_program(ctx),
        "--profile".into(),
        profile,
        "--realm".into(),
        ctx.realm.realm.clone(),
        "--conn-id".into(),
        params.conn_id.clone(),
        "--tag".into(),
        format!("{}:{}", ctx.spec.job_id, ctx.run_id),
        "--batch-size".into(),
        batch.to_string(),
    ];
    if let Some(format) = &params.format {
        argv.extend(["--format".into(), format.clone()]);
    }
    if let Some(level) = &params.level {
        argv.extend(["--level".into(), level.clone()]);
    }
    for (flag, on) in [("--header", params.header), ("--raw", params.raw), ("--transaction", params.transaction)] {
        if on.is_some_and(|f| f.0) {
            argv.push(flag.into());
        }
    }
    if params.format.as_deref().is_none_or(|f| f == "csv") {
        if params.doublequote.map(|f| f.0).unwrap_or_else(|| ctx.config.get(keys::SQL_DOUBLEQUOTE)) {
            argv.push("--doublequote".into());
        }
        let config = ctx.config;
        for (name, value) in [
            ("delimiter", params.delimiter.clone().or_else(|| config.configured(keys::SQL_DELIMITER))),
            ("dialect", params.dialect.clone().or_else(|| config.configured(keys::SQL_DIALECT))),
            ("escapechar", params.escapechar.clone().or_else(|| config.configured(keys::SQL_ESCAPECHAR))),
            ("quotechar", params.quotechar.clone().or_else(|| config.configured(keys::SQL_QUOTECHAR))),
            ("quoting", params.quoting.clone().or_else(|| config.configured(keys::SQL_QUOTING))),
        ] {
            if let Some(v) = value {
                argv.extend([format!("--{name}"), v]);
            }
        }
    }
    argv
}
