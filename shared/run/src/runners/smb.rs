//! `smb_get` and `smb_put`: one file between an SMB share and a local file or S3 object, in the
//! worker's process (the original ran its `lava-smb` command; `lava smb` is that command here,
//! for connector scripts). `path` and `file` are rendered unless `jinja` is false; a relative
//! local `file` is under `basedir` (default the run's directory); `timeout` (default
//! `SMB_TIMEOUT`) bounds the transfer.

use serde_json::json;
use std::path::Path;

use super::{Failure, Outcome, RunContext};
use crate::config::keys;
use crate::model::JobParameters;
use crate::smb::{Direction, Transfer};

/// Runs an `smb_get` or `smb_put` job.
pub async fn run_smb(ctx: &RunContext<'_>, direction: Direction) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Smb(p) = typed else { return Err(Failure::message("Bad job parameters")) };
    let limit = super::executable::timeout(ctx, p.timeout.as_ref(), keys::SMB_TIMEOUT).map_err(Failure::message)?;
    let (mut path, mut file) = (p.path.clone(), p.file.clone());
    if p.jinja.is_none_or(|f| f.0) {
        let vars = ctx.with_vars(&p.vars);
        path = ctx.renderer.render(&path, &vars).map_err(Failure::message)?;
        file = ctx.renderer.render(&file, &vars).map_err(Failure::message)?;
    }
    if !file.starts_with("s3://") && !Path::new(&file).is_absolute() {
        let base = p.basedir.as_deref().map(Path::new).unwrap_or(&ctx.run_dir);
        let base = if base.is_absolute() { base.to_path_buf() } else { ctx.run_dir.join(base) };
        file = base.join(&file).display().to_string();
    }
    let transfer = Transfer {
        direction,
        share: p.share_name.clone(),
        path,
        file,
        kms_key_id: p.kms_key_id.clone(),
        create_dirs: p.create_dirs.is_some_and(|f| f.0),
    };
    let failed = |exit_status: i32, message: String, error: String| Failure {
        message,
        data: Some(json!({"exit_status": exit_status, "error": error})),
    };
    let work = async {
        let server = ctx.connections.smb(&p.conn_id).await?;
        crate::smb::transfer(&server, &transfer, ctx.blobs, &ctx.encryption(), &ctx.run_dir).await
    };
    let mut cancel = ctx.cancel.clone();
    tokio::select! {
        done = tokio::time::timeout(limit, work) => match done {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(failed(1, "Failed with exit status 1".into(), e.to_string())),
            Err(_) => {
                let message = format!("Timed out after {} seconds", super::process::python_seconds(limit));
                Err(failed(28, message.clone(), message))
            }
        },
        _ = cancel.wait_for(Option::is_some) => {
            let message = "Cancelled: the worker is shutting down".to_string();
            Err(failed(-9, message.clone(), message))
        }
    }
}
