//! `redshift_unload`: `UNLOAD` of one or more relations of a schema to S3, with the original's
//! options, bucket checks and result (`unloads`, one entry per relation attempted). Redshift
//! writes the objects itself, authorised by `s3_iam_role` or an `s3_conn_id` connection's keys;
//! the credentials go into the statement sent and never into the result or a log.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::ConnectionType;
use crate::model::params::{INVALID_UNLOAD_OPTIONS, JobParameters, RedshiftUnloadParams};
use crate::model::values::format_timestamp;
use crate::runners::{Failure, Outcome, RunContext};
use crate::sql::driver::{Session, as_python_driver_error};
use crate::sql::unload::{Unload, UnloadOption, columns_query, partition_by, partition_query, selector};

/// Runs a `redshift_unload` job.
pub async fn run_redshift_unload(ctx: &RunContext<'_>) -> Outcome {
    // As the original, UNLOAD options it does not know fail the run without the parameters'
    // prefix (they are checked after the parameters' keys).
    let typed = ctx.spec.typed_parameters().map_err(|e| match e.starts_with(INVALID_UNLOAD_OPTIONS) {
        true => Failure::message(e),
        false => Failure::message(format!("Bad job parameters: {e}")),
    })?;
    let JobParameters::RedshiftUnload(p) = typed else { return Err(Failure::message("Bad job parameters")) };
    let log = |message: &str| tracing::warn!(job_id = %ctx.spec.job_id, run_id = %ctx.run_id, "{}: {message}", ctx.spec.job_id);
    if p.key.is_some() {
        log("Deprecation warning: key parameter should be replaced by prefix");
    }
    if p.s3_iam_role.is_none() && p.s3_conn_id.is_none() {
        return Err(Failure::message("At least one of s3_iam_role and s3_conn_id is required"));
    }
    let authorization = ctx.redshift_authorization(p.s3_iam_role.as_deref(), p.s3_conn_id.as_deref()).await?;
    if p.insecure.is_some_and(|f| f.0) {
        log(&format!("{}@{}: Possible insecure redshift_unload", ctx.realm.realm, ctx.spec.job_id));
    } else {
        let verdict = match ctx.blobs.bucket_security(&p.bucket).await {
            Ok(security) => security.check().map_err(str::to_string),
            Err(e) => Err(format!("Cannot verify the bucket's security - {e}")),
        };
        verdict.map_err(|e| Failure::message(format!("Bucket {} is insecure: {e}", p.bucket)))?;
    }

    let db = ctx.connections.database(&p.conn_id).await?;
    if !matches!(db.kind, ConnectionType::Redshift | ConnectionType::RedshiftServerless) {
        return Err(Failure::message(format!(
            "redshift_unload needs a redshift or redshift-serverless connection: {} is {}",
            p.conn_id, db.kind
        )));
    }
    let mut session = ctx.connect_sql(&db).await?;
    let mut result = json!({"exit_status": 0, "unloads": []});
    let unloaded = unload_all(ctx, &p, &mut session, &authorization, &mut result).await;
    if let Err(e) = session.close().await {
        tracing::warn!(job_id = %ctx.spec.job_id, error = %e, "Closing the session failed.");
    }
    match unloaded {
        // As the original: the data's error is the cause, the message says the unload failed.
        Err(e) => {
            result["exit_status"] = json!(1);
            result["error"] = json!(e);
            Err(Failure { message: format!("Unload failed: {e}"), data: Some(result) })
        }
        Ok(failures) if !failures.is_empty() => {
            let message = format!("{} unloads failed", failures.len());
            result["failures"] = json!(failures);
            Err(Failure { message, data: Some(result) })
        }
        Ok(_) if result["unloads"].as_array().is_none_or(Vec::is_empty) => Err(Failure {
            message: "No unloads were attempted".into(),
            data: p.start.as_ref().map(|start| json!({"start": start})),
        }),
        Ok(_) => {
            if ctx.dev {
                println!("{}", serde_json::to_string_pretty(&result["unloads"]).unwrap_or_default());
            }
            Ok(result)
        }
    }
}

/// Unloads each relation in turn (from `start`, if given), recording each in `result.unloads`.
/// Returns the relations that failed when `stop_on_fail` is off; with it on (the default), the
/// first failure is the error.
async fn unload_all(
    ctx: &RunContext<'_>,
    p: &RedshiftUnloadParams,
    session: &mut Session,
    authorization: &str,
    result: &mut Value,
) -> std::result::Result<Vec<String>, String> {
    let prefix = p.prefix.as_deref().or(p.key.as_deref()).unwrap_or_default();
    let stop_on_fail = p.stop_on_fail.is_none_or(|f| f.0);
    let base = ctx.with_vars(&p.vars);
    let mut started = p.start.is_none();
    let mut failures = Vec::new();
    for relation in p.relation.to_vec() {
        if !started && Some(relation.to_lowercase()) != p.start {
            continue;
        }
        started = true;
        let vars = minijinja::context! { schema => p.schema.clone(), relation => relation.clone(), ..base.clone() };
        let start = jiff::Zoned::now();
        let mut entry = json!({
            "schema": p.schema, "relation": relation, "bucket": p.bucket, "prefix": prefix,
            "ts_start": format_timestamp(&start),
        });
        // As the original, a bad predicate or prefix fails the whole run, whatever stop_on_fail
        // says, and is no unload of the list.
        let predicate = p.predicate.as_deref().map(|w| ctx.renderer.render(w, &vars)).transpose()?;
        let rendered = ctx.renderer.render(prefix, &vars).map_err(|e| format!("Bad prefix parameter: {e}"))?;
        if rendered.contains('\'') {
            return Err("Bad prefix parameter: Single quote not allowed in S3 prefix".into());
        }
        entry["prefix"] = json!(rendered);
        let target = Target { relation: &relation, prefix: &rendered, predicate: predicate.as_deref() };
        match unload_one(ctx, p, session, &target, &vars, authorization).await {
            Ok(sql) => {
                let finish = jiff::Zoned::now();
                entry["sql"] = json!(sql.trim_matches([' ', '\n']));
                entry["ts_finish"] = json!(format_timestamp(&finish));
                entry["duration"] = json!((finish.timestamp().as_second() - start.timestamp().as_second()).max(0));
                entry["status"] = json!("complete");
                push(result, entry);
            }
            Err(e) => {
                entry["status"] = json!("failed");
                entry["error"] = json!(e.to_string());
                push(result, entry);
                if stop_on_fail {
                    return Err(e.to_string());
                }
                tracing::warn!(job_id = %ctx.spec.job_id, run_id = %ctx.run_id, "Unload of {}.{relation} failed: {e}", p.schema);
                failures.push(relation);
            }
        }
    }
    Ok(failures)
}

fn push(result: &mut Value, entry: Value) {
    if let Some(unloads) = result["unloads"].as_array_mut() {
        unloads.push(entry);
    }
}

/// Where one relation goes: its rendered prefix and predicate.
struct Target<'a> {
    relation: &'a str,
    prefix: &'a str,
    predicate: Option<&'a str>,
}

/// One relation's UNLOAD; returns its text with `{authorization}` in place of the credentials.
/// As the original, the date columns are looked up before the options are prepared.
async fn unload_one(
    ctx: &RunContext<'_>,
    p: &RedshiftUnloadParams,
    session: &mut Session,
    target: &Target<'_>,
    vars: &minijinja::Value,
    authorization: &str,
) -> Result<String> {
    let relation = target.relation;
    let columns = date_columns(p, session, relation).await?;
    let mut options = Vec::with_capacity(p.args.len());
    for option in &p.args {
        options.push(match UnloadOption::parse(option).map_err(Error::Refused)? {
            UnloadOption::Verbatim(text) => text,
            UnloadOption::Rendered(text) => ctx.renderer.render(&text, vars).map_err(Error::Refused)?,
            UnloadOption::PartitionFrom { schema, relation: info } => {
                let query = partition_query(&schema, &info, &p.schema, relation).map_err(Error::Refused)?;
                let cannot = |why: String| {
                    Error::Refused(format!(
                        "Cannot get partition info from {schema}.{info} for {}.{relation}: {why}",
                        p.schema
                    ))
                };
                let row = session.first_row(&query).await.map_err(|e| cannot(as_python_driver_error(e).to_string()))?;
                let partitions = row.and_then(|r| r.into_iter().next()).and_then(|f| f.text);
                partition_by(&partitions.ok_or_else(|| cannot("Not found".into()))?).map_err(cannot)?
            }
        });
    }
    let selector = selector(&columns, p.dateformat.as_deref()).map_err(Error::Refused)?;
    let unload = Unload {
        selector: &selector,
        schema: &p.schema,
        relation,
        predicate: target.predicate,
        bucket: &p.bucket,
        prefix: target.prefix,
        options: &options,
    };
    let shown = unload.statement("{authorization}").map_err(Error::Refused)?;
    tracing::debug!(job_id = %ctx.spec.job_id, "Unload SQL: {shown}");
    session.execute(&unload.statement(authorization).map_err(Error::Refused)?).await.map_err(as_python_driver_error)?;
    Ok(shown)
}

/// The relation's columns and their types when a `dateformat` asks for them (none otherwise).
async fn date_columns(
    p: &RedshiftUnloadParams,
    session: &mut Session,
    relation: &str,
) -> Result<Vec<(String, String)>> {
    Ok(match p.dateformat.as_deref().filter(|f| !f.is_empty()) {
        Some(_) => {
            let query = columns_query(&p.schema, relation).map_err(Error::Refused)?;
            let rows = session.rows(&query).await.map_err(as_python_driver_error)?;
            if rows.is_empty() {
                return Err(Error::Refused(format!("Cannot get column info for {}.{relation}", p.schema)));
            }
            rows.into_iter()
                .map(|row| {
                    let mut fields = row.into_iter().map(Option::unwrap_or_default);
                    (fields.next().unwrap_or_default(), fields.next().unwrap_or_default())
                })
                .collect()
        }
        None => Vec::new(),
    })
}
