//! `sqlc` jobs (§2.8): each payload file rendered whole, then fed on stdin to the database's
//! own command-line client through the connection's connector script (`psql`, `mysql`,
//! `sqlite3`), so client meta-commands work. One time limit per file; the first failure stops.

use serde_json::Value;

use crate::model::params::JobParameters;
use crate::runners::executable::{Program, download_payload, finish, run_program, timeout};
use crate::runners::process::Exit;
use crate::runners::{Failure, Outcome, RunContext};

/// `sqlc`: SQL files run by the database's client.
pub async fn run_sqlc(ctx: &RunContext<'_>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Sqlc(params) = typed else { return Err(Failure::message("Bad job parameters")) };
    let payloads: Vec<String> = match &ctx.spec.payload {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Value::Array(items)) if !items.is_empty() => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => return Err(Failure::message("Bad payload: must be an S3 key or prefix, or a list of them")),
    };
    let limit = timeout(ctx, params.timeout.as_ref(), "SQLC_TIMEOUT").map_err(Failure::message)?;
    let jinja = params.jinja.is_none_or(|f| f.0);
    let script = crate::connections::scripts::write_connector(ctx.connections, &params.conn_id, &ctx.run_dir).await.map_err(Failure::message)?;
    let max = ctx.config.size("SQLC_MAX_PAYLOAD_SIZE", 100_000);
    let mut files = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        files.extend(download_payload(ctx, payload, i, max).await.map_err(Failure::message)?);
    }
    // The worker's environment, the realm, and the session's application name.
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k != "PGAPPNAME").collect();
    env.push(("LAVA_REALM".into(), ctx.realm.realm.clone()));
    if let Some(app) = crate::connections::application_name(ctx.config, ctx.renderer, &ctx.realm.realm, &ctx.spec.job_id, &params.conn_id) {
        env.push(("PGAPPNAME".into(), app));
    }
    let vars = ctx.with_vars(&params.vars);
    let mut output = Vec::new();
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if jinja {
            let text = std::fs::read_to_string(&file).map_err(|e| Failure::message(format!("Cannot read {}: {e}", file.display())))?;
            match ctx.renderer.render(&text, &vars) {
                Ok(rendered) => std::fs::write(&file, rendered).map_err(|e| Failure::message(format!("Cannot write {}: {e}", file.display())))?,
                Err(e) => {
                    let error = format!("Jinja2 render failed on {name}: {e}");
                    let data = serde_json::json!({"exit_status": 1, "error": error, "output": output.into_iter().map(Value::Object).collect::<Vec<_>>()});
                    return Err(Failure { message: "Failed with exit status 1".into(), data: Some(data) });
                }
            }
        }
        let mut argv = vec![script.display().to_string()];
        argv.extend(params.args.iter().map(ToString::to_string));
        let program = Program { argv, env: env.clone(), cwd: &ctx.run_dir, name: &name, label: &name, limit, stdin: Some(file.clone()) };
        let (entry, exit, excerpt) = run_program(ctx, program).await?;
        output.push(entry);
        if exit != Exit::Status(0) {
            return finish(exit, output, excerpt, limit);
        }
    }
    finish(Exit::Status(0), output, Value::Null, limit)
}
