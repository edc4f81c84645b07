//! `sql` (statements from S3 payload files) and `sqli` (inline statements) jobs:
//! split, render each statement, run it with no bind parameters, stream each result set as CSV
//! to `<key>.<n>.out` in the realm's S3 temp area (a part at a time, never whole).

use serde_json::{Map, Value, json};

use crate::config::{Key, Kind, keys};
use crate::error::Error;
use crate::model::params::{JobParameters, SqlParams};
use crate::ports::Upload;
use crate::runners::{Failure, Outcome, RunContext};
use crate::sql::csv::{CsvFormat, Field, Quoting, dialect_terminator};
use crate::sql::driver::{RowSink, Session};
use crate::sql::pipe;
use crate::sql::split::split;

/// The checked options of a sql/sqli job.
struct Options {
    format: CsvFormat,
    header: bool,
    jinja: bool,
    raw: bool,
    transaction: bool,
    output: Option<String>,
}

fn single_char(name: &str, value: Option<String>) -> Result<Option<char>, String> {
    match value {
        None => Ok(None),
        Some(v) => {
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => Err(format!("Bad {name}: {v:?}: must be a single character")),
            }
        }
    }
}

/// The job's parameter, else the `SQL_<NAME>` setting (configured or its default).
fn setting<K: Kind>(ctx: &RunContext<'_>, param: &Option<String>, key: Key<K>) -> K::Value
where
    K::Value: From<String>,
{
    param.clone().map(K::Value::from).unwrap_or_else(|| ctx.config.get(key))
}

fn options(ctx: &RunContext<'_>, p: &SqlParams) -> Result<Options, String> {
    let quoting = Quoting::parse(&setting(ctx, &p.quoting, keys::SQL_QUOTING))?;
    let dialect = setting(ctx, &p.dialect, keys::SQL_DIALECT);
    let format = CsvFormat {
        delimiter: single_char("delimiter", Some(setting(ctx, &p.delimiter, keys::SQL_DELIMITER)))?.unwrap_or('|'),
        quotechar: single_char("quotechar", Some(setting(ctx, &p.quotechar, keys::SQL_QUOTECHAR)))?.unwrap_or('"'),
        escapechar: single_char("escapechar", setting(ctx, &p.escapechar, keys::SQL_ESCAPECHAR))?,
        doublequote: p.doublequote.map(|f| f.0).unwrap_or_else(|| ctx.config.get(keys::SQL_DOUBLEQUOTE)),
        quoting,
        lineterminator: dialect_terminator(&dialect)?,
    };
    if let Some(size) = p.batch_size
        && size < 1
    {
        return Err(format!("Bad batch_size: {size}: must be at least 1"));
    }
    Ok(Options {
        format,
        header: p.header.is_some_and(|f| f.0),
        jinja: p.jinja.is_none_or(|f| f.0),
        raw: p.raw.is_some_and(|f| f.0),
        transaction: p.transaction.is_some_and(|f| f.0),
        output: p.output.clone(),
    })
}

/// The bytes of CSV handed to the upload at a time.
const CHUNK: usize = 1 << 20;

/// Formats a result set as CSV into chunks for the pipe to its object in S3, which is written
/// a part at a time while the next rows are read: nothing of it is held whole, in memory or on
/// disk.
struct CsvRows<'p> {
    format: CsvFormat,
    header: bool,
    out: Vec<u8>,
    pipe: &'p pipe::ChunkSender,
}

impl CsvRows<'_> {
    async fn write(&mut self, fields: &[Field]) -> Result<(), Error> {
        self.format.write_row(fields, &mut self.out).map_err(Error::Refused)?;
        if self.out.len() >= CHUNK {
            let full = std::mem::replace(&mut self.out, Vec::with_capacity(CHUNK + CHUNK / 8));
            self.pipe.send(full).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl RowSink for CsvRows<'_> {
    async fn columns(&mut self, names: &[String]) -> Result<(), Error> {
        if self.header {
            let fields: Vec<Field> = names.iter().map(|n| Field::text(n.clone())).collect();
            self.write(&fields).await?;
        }
        Ok(())
    }

    async fn row(&mut self, fields: Vec<Field>) -> Result<(), Error> {
        self.write(&fields).await
    }
}

/// Runs one statement, its result set (if it has one) streamed to `upload`; says whether it
/// had one. The upload is finished only then; a failure abandons it.
async fn run_to_upload(
    session: &mut Session,
    statement: &str,
    options: &Options,
    (key, mut upload): (&str, Upload<'_>),
) -> Result<bool, Error> {
    let failed =
        |upload: &Upload<'_>, e: Error| Error::Unexpected(format!("Cannot upload {key} to {}: {e}", upload.uri()));
    let (tx, mut rx) = pipe::channel();
    let rows = async {
        let mut sink = CsvRows { format: options.format.clone(), header: options.header, out: Vec::new(), pipe: &tx };
        let ran = session.run(statement, &mut sink).await.map_err(crate::sql::driver::as_python_driver_error);
        let last = std::mem::take(&mut sink.out);
        let ran = match ran {
            Ok(described) => tx.send(last).await.map(|()| described),
            Err(e) => Err(e),
        };
        drop(tx);
        ran
    };
    let uploaded = async {
        while let Some(bytes) = rx.recv().await {
            if let Err(e) = upload.write(&bytes).await {
                drop(rx);
                return Err(failed(&upload, e));
            }
        }
        Ok(())
    };
    let (ran, sent) = tokio::join!(rows, uploaded);
    match (ran, sent) {
        // Uploaded even when empty: the result set existed.
        (Ok(true), Ok(())) => {
            let uri = upload.uri();
            upload
                .finish()
                .await
                .map(|()| true)
                .map_err(|e| Error::Unexpected(format!("Cannot upload {key} to {uri}: {e}")))
        }
        (Ok(false), Ok(())) => Ok(false),
        (Err(e), Ok(())) | (_, Err(e)) => {
            upload.abort().await;
            Err(e)
        }
    }
}

/// A unit of SQL: its result key (payload basename, or the element index for sqli) and text.
struct Source {
    key: String,
    text: String,
}

/// `sql`: statements from the payload files.
pub async fn run_sql(ctx: &RunContext<'_>) -> Outcome {
    let payloads = ctx.payload_keys()?;
    let max = ctx.config.get(keys::SQL_MAX_PAYLOAD_SIZE);
    let mut files = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        files.extend(crate::runners::executable::download_payload(ctx, payload, i, max).await?);
    }
    let mut sources = Vec::new();
    for file in files {
        let text = tokio::fs::read_to_string(&file)
            .await
            .map_err(|e| Failure::message(format!("Cannot read {}: {e}", file.display())))?;
        sources
            .push(Source { key: file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(), text });
    }
    run_sources(ctx, sources).await
}

/// `sqli`: statements given inline (a string or a list of strings).
pub async fn run_sqli(ctx: &RunContext<'_>) -> Outcome {
    let texts: Vec<String> = match &ctx.spec.payload {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(str::to_string).collect()
        }
        _ => return Err(Failure::message("Bad payload: must be string or list of strings")),
    };
    run_sources(ctx, texts.into_iter().enumerate().map(|(m, text)| Source { key: m.to_string(), text }).collect()).await
}

async fn run_sources(ctx: &RunContext<'_>, sources: Vec<Source>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::Sql(params) = typed else { return Err(Failure::message("Bad job parameters")) };
    let options = options(ctx, &params).map_err(Failure::message)?;
    let db = ctx.connections.database(&params.conn_id).await?;
    let mut session = ctx.connect_sql(&db).await?;
    let outcome = run_statements(ctx, &mut session, &options, &params.vars, sources).await;
    let outcome = match outcome {
        Ok(output) if options.transaction => match session.commit().await {
            Ok(()) => Ok(output),
            Err(e) => Err(e),
        },
        Ok(output) => Ok(output),
        Err(e) => {
            if options.transaction
                && let Err(rollback) = session.rollback().await
            {
                tracing::warn!(job_id = %ctx.spec.job_id, error = %rollback, "Rollback failed.");
            }
            Err(e)
        }
    };
    let closed = session.close().await;
    let output = outcome?;
    closed?;
    Ok(json!({"exit_status": 0, "output": output}))
}

async fn run_statements(
    ctx: &RunContext<'_>,
    session: &mut Session,
    options: &Options,
    vars: &Map<String, Value>,
    sources: Vec<Source>,
) -> Result<Value, Error> {
    if options.transaction {
        session.begin().await?;
    }
    let template_vars = ctx.with_vars(vars);
    let suffix = ctx.config.get(keys::SQL_OUTPUT_SUFFIX);
    let mut output = Map::new();
    for source in sources {
        let mut uris = Vec::new();
        let statements = if options.raw { vec![source.text.clone()] } else { split(&source.text) };
        for (n, statement) in statements.iter().enumerate() {
            let rendered = if options.jinja {
                ctx.renderer.render(statement, &template_vars).map_err(Error::Refused)?
            } else {
                statement.clone()
            };
            let statement = rendered.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace()).trim();
            if statement.is_empty() {
                continue;
            }
            let name = format!("{}.{n}{suffix}", source.key);
            let key = options.output.as_ref().map_or_else(|| name.clone(), |sub| format!("{sub}/{name}"));
            if run_to_upload(session, statement, options, (&key, ctx.upload_to(&key))).await? {
                uris.push(Value::String(ctx.uri_of(&key)));
            }
        }
        output.insert(source.key, Value::Array(uris));
    }
    Ok(Value::Object(output))
}
