//! `lava-sql`: runs SQL files (local, `s3://` or stdin) against a connection and writes
//! every result set to one output (stdout, a local file or `s3://`) as CSV, JSON lines, an
//! HTML table or Parquet. The `sqlv` job type runs it as a subprocess.

use serde_json::Value;
use std::time::Duration;

use super::csv::{CsvFormat, Field, Kind};
use super::driver::{RowSink, Session};
use super::pipe;
use super::split::split;
use crate::config::keys;
use crate::connections::Connections;
use crate::error::Error;
use crate::ports::{BlobStore, Encryption, Upload};
use crate::render::python::{float_text, json_dumps_with, json_str};

/// How results are written.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// CSV (Python `csv.writer` compatible).
    Csv(CsvFormat),
    /// One JSON object per row, keyed by column name.
    Jsonl {
        /// Sort each object's keys.
        sort_keys: bool,
    },
    /// An HTML table.
    Html,
    /// Parquet: a row group per `batch_size` rows, the schema from the first.
    Parquet {
        /// Rows per row group.
        batch_size: usize,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Script {
    /// The connection.
    pub conn_id: String,
    /// The session's application name.
    pub app_name: Option<String>,
    /// Output format.
    pub format: OutputFormat,
    /// Write a header row (CSV, HTML).
    pub header: bool,
    /// Do not split statements.
    pub raw: bool,
    /// Run every file in one transaction.
    pub transaction: bool,
    /// SQL files: local paths, `s3://` URIs, or `-` for stdin (none: stdin).
    pub files: Vec<String>,
    /// Output: a local path or `s3://` URI (none: stdout).
    pub output: Option<String>,
}

fn s3_parts(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("s3://")?.split_once('/')
}

/// Formats rows in the chosen format into bytes the output takes as they pile up.
struct Writer {
    format: OutputFormat,
    header: bool,
    /// Bytes formatted and not yet taken by the output.
    out: Vec<u8>,
    columns: Vec<String>,
    table_open: bool,
    /// Parquet: the file once the first batch is in, and the rows of the batch being filled.
    parquet: Option<super::parquet::ParquetOutput>,
    batch: Vec<Vec<Field>>,
}

impl Writer {
    fn new(format: OutputFormat, header: bool) -> Self {
        Writer {
            format,
            header,
            out: Vec::new(),
            columns: Vec::new(),
            table_open: false,
            parquet: None,
            batch: Vec::new(),
        }
    }

    fn put(&mut self, text: &str) -> Result<(), Error> {
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// The bytes formatted since the last call; the next ones go to a buffer of the same size,
    /// which needs no growing on the way.
    fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.out, Vec::with_capacity(TAKE_AT + TAKE_AT / 8))
    }

    /// Parquet: writes the batch being filled (the first one starts the file and its schema).
    fn flush_batch(&mut self) -> Result<(), Error> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let output = match &mut self.parquet {
            Some(output) => output,
            None => self.parquet.insert(super::parquet::ParquetOutput::create(&self.columns, &batch)?),
        };
        output.write(&batch)?;
        self.out.extend(output.take());
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        if matches!(self.format, OutputFormat::Parquet { .. }) {
            self.flush_batch()?;
            if let Some(output) = self.parquet.take() {
                let last = output.finish()?;
                self.out.extend(last);
            }
        }
        if self.table_open {
            self.put(HTML_END)?;
            self.table_open = false;
        }
        Ok(())
    }
}

// The original's HTML is a Jinja template's output, whitespace and all; these are its pieces.
const HTML_START: &str = "<TABLE class=\"lava-sql\">\n            ";
const HTML_HEAD: &str = "<THEAD>\n                <TR>\n                    ";
const HTML_HEAD_END: &str = "\n                </TR>\n            </THEAD>";
const HTML_BODY: &str = "\n            <TBODY>";
const HTML_ROW: &str = "\n                <TR>\n                    ";
const HTML_CELL_END: &str = "\n                    ";
const HTML_ROW_END: &str = "\n                </TR>\n            ";
const HTML_END: &str = "\n            </TBODY>\n        </TABLE>\n    ";

/// Text escaped as Jinja's autoescape (markupsafe) escapes it.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
}

/// One row as the original's JSONL writer prints it: Python's `json.dump` of a dict of the
/// column names (a repeated name keeps its first place and its last value) and the values, with
/// its default `", "` and `": "` separators, ASCII only, `NaN` and `Infinity` for such floats, a
/// decimal as a float when it has a point (`json_default`), timestamps in ISO form and JSON
/// values nested.
fn jsonl_line(columns: &[String], fields: &[Field], sort_keys: bool, out: &mut String) {
    let mut pairs: Vec<(&str, &Field)> = Vec::with_capacity(fields.len());
    for (name, field) in columns.iter().zip(fields) {
        match pairs.iter_mut().find(|(n, _)| *n == name.as_str()) {
            Some(pair) => pair.1 = field,
            None => pairs.push((name, field)),
        }
    }
    if sort_keys {
        pairs.sort_by(|a, b| a.0.cmp(b.0));
    }
    out.push('{');
    for (i, (name, field)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json_str(name, out);
        out.push_str(": ");
        json_field(field, sort_keys, out);
    }
    out.push_str("}\n");
}

/// The seconds of a duration printed `[-]H:MM:SS[.ffffff]`.
fn total_seconds(text: &str) -> Option<f64> {
    let (sign, hms) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text),
    };
    let mut parts = hms.splitn(3, ':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    Some(sign * (h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?))
}

/// A field's value as Python's `json.dump` writes it.
fn json_field(field: &Field, sort_keys: bool, out: &mut String) {
    let Some(text) = field.text.as_deref() else { return out.push_str("null") };
    let float = |f: f64| float_text(f).replace("inf", "Infinity").replace("nan", "NaN");
    match field.kind {
        Kind::Bool => out.push_str(if text == "True" { "true" } else { "false" }),
        Kind::Number => match text {
            "nan" | "inf" | "-inf" => out.push_str(&float(text.parse().unwrap_or(f64::NAN))),
            _ => out.push_str(text),
        },
        Kind::Decimal if text.contains('.') => match text.parse::<f64>() {
            Ok(f) => out.push_str(&float(f)),
            Err(_) => json_str(text, out),
        },
        Kind::Decimal => out.push_str(text),
        Kind::Json => match serde_json::from_str::<Value>(text) {
            Ok(v) => out.push_str(&json_dumps_with(&v, None, sort_keys)),
            Err(_) => json_str(text, out),
        },
        Kind::Timestamp => json_str(&text.replacen(' ', "T", 1), out),
        // `json_default`'s timedelta: its total seconds as Python prints a float.
        Kind::Duration => match total_seconds(text) {
            Some(seconds) => json_str(&float_text(seconds), out),
            None => json_str(text, out),
        },
        Kind::Text | Kind::Date | Kind::Time => json_str(text, out),
    }
}

impl Writer {
    fn columns(&mut self, names: &[String]) -> Result<(), Error> {
        if !matches!(self.format, OutputFormat::Parquet { .. }) {
            self.columns = names.to_vec();
        }
        match self.format.clone() {
            // Each result set has its header, as in the original's.
            OutputFormat::Csv(format) if self.header => {
                let names: Vec<Field> = names.iter().map(|n| Field::text(n.clone())).collect();
                format.write_row(&names, &mut self.out).map_err(Error::Refused)
            }
            OutputFormat::Parquet { .. } => {
                let before = match &self.parquet {
                    Some(output) => output.names(),
                    None if !self.batch.is_empty() => &self.columns,
                    None => names,
                };
                if before != names {
                    return Err(Error::Refused(format!(
                        "Parquet output holds one shape of result: columns {} after {}",
                        names.join(", "),
                        before.join(", ")
                    )));
                }
                self.columns = names.to_vec();
                Ok(())
            }
            OutputFormat::Html => {
                self.finish()?;
                let mut text = String::from(HTML_START);
                if self.header {
                    text.push_str(HTML_HEAD);
                    for n in names {
                        text.push_str(&format!("<TH>{}</TH>{HTML_CELL_END}", html_escape(n)));
                    }
                    text.push_str(HTML_HEAD_END);
                }
                text.push_str(HTML_BODY);
                self.table_open = true;
                self.put(&text)
            }
            _ => Ok(()),
        }
    }

    fn row(&mut self, fields: Vec<Field>) -> Result<(), Error> {
        match &self.format {
            OutputFormat::Csv(format) => format.write_row(&fields, &mut self.out).map_err(Error::Refused),
            &OutputFormat::Jsonl { sort_keys } => {
                let mut line = String::new();
                jsonl_line(&self.columns, &fields, sort_keys, &mut line);
                self.put(&line)
            }
            &OutputFormat::Parquet { batch_size } => {
                self.batch.push(fields);
                if self.batch.len() >= batch_size.max(1) { self.flush_batch() } else { Ok(()) }
            }
            OutputFormat::Html => {
                // NULL is Python's None.
                let mut text = String::from(HTML_ROW);
                for f in &fields {
                    text.push_str(&format!(
                        "<TD>{}</TD>{HTML_CELL_END}",
                        html_escape(f.shown().as_deref().unwrap_or("None"))
                    ));
                }
                text.push_str(HTML_ROW_END);
                self.put(&text)
            }
        }
    }
}

/// Reads one SQL source.
async fn read_source(name: &str, blobs: &dyn BlobStore) -> Result<String, String> {
    if name == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| format!("stdin: {e}"))?;
        return Ok(text);
    }
    if let Some((bucket, key)) = s3_parts(name) {
        let body = blobs.get_object(bucket, key).await.map_err(|e| format!("{name}: {e}"))?;
        return String::from_utf8(body).map_err(|_| format!("{name}: not UTF-8 text"));
    }
    std::fs::read_to_string(name).map_err(|e| format!("{name}: {e}"))
}

/// Where the results go, written as they come: stdout, a local file, or an object in S3
/// uploaded a part at a time.
enum Output<'a> {
    Stdout(tokio::io::Stdout),
    File(tokio::fs::File, String),
    S3(Upload<'a>),
}

/// The formatted bytes held before the output takes them.
const TAKE_AT: usize = 1 << 20;

impl<'a> Output<'a> {
    async fn open(target: Option<&str>, blobs: &'a dyn BlobStore) -> Result<Output<'a>, String> {
        Ok(match target {
            Some(uri) if let Some((bucket, key)) = s3_parts(uri) => {
                Output::S3(Upload::new(blobs, bucket, key, Encryption::Aes256))
            }
            Some(path) if path != "-" => {
                let file = tokio::fs::File::create(path).await.map_err(|e| format!("{path}: {e}"))?;
                Output::File(file, path.to_string())
            }
            _ => Output::Stdout(tokio::io::stdout()),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        match self {
            Output::Stdout(out) => out.write_all(bytes).await.map_err(|e| format!("Cannot write the output: {e}")),
            Output::File(file, path) => file.write_all(bytes).await.map_err(|e| format!("{path}: {e}")),
            Output::S3(upload) => upload.write(bytes).await.map_err(|e| upload_failed(upload, e)),
        }
    }

    /// Ends the output: flushed, or the object made.
    async fn finish(self) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        match self {
            Output::Stdout(mut out) => out.flush().await.map_err(|e| format!("Cannot write the output: {e}")),
            Output::File(mut file, path) => file.flush().await.map_err(|e| format!("{path}: {e}")),
            Output::S3(upload) => {
                let uri = upload.uri();
                upload.finish().await.map_err(|e| format!("Cannot upload the output to {uri}: {e}"))
            }
        }
    }

    /// Gives a failed run's output up: what a file or stdout got stays, an upload is abandoned
    /// (no object is made).
    async fn abandon(self) {
        match self {
            Output::S3(upload) => upload.abort().await,
            other => {
                let _ = other.finish().await;
            }
        }
    }
}

fn upload_failed(upload: &Upload<'_>, e: Error) -> String {
    format!("Cannot upload the output to {}: {e}", upload.uri())
}

/// Runs the script; progress lines go to the log.
pub async fn run(script: &Script, connections: &Connections, blobs: &dyn BlobStore) -> Result<(), String> {
    let db = connections.database(&script.conn_id).await.map_err(|e| e.to_string())?;
    let copies = std::env::temp_dir().join(format!("lava-sql-{}", std::process::id()));
    let (db, s3_copy) = super::sqlite_s3::S3Database::fetch(&db, blobs, &copies).await.map_err(|e| e.to_string())?;
    let connect_timeout = Duration::from_secs_f64(connections.config().get(keys::SQL_CONNECT_TIMEOUT));
    let mut session =
        Session::connect(&db, script.app_name.as_deref(), connect_timeout).await.map_err(|e| e.to_string())?;
    let output = Output::open(script.output.as_deref(), blobs).await?;
    let mut writer = Writer::new(script.format.clone(), script.header);
    let (tx, rx) = pipe::channel();
    let rows = async {
        let done = run_files(script, &mut session, blobs, &mut writer, &tx).await;
        drop(tx);
        done
    };
    let (outcome, output) = tokio::join!(rows, write_out(rx, output));
    // The output's own failure rather than the rows' "the output stopped".
    let (outcome, output) = match output {
        Ok(output) => (outcome, Some(output)),
        Err(e) => (Err(e), None),
    };
    let outcome = match outcome {
        Ok(()) if script.transaction => session.commit().await.map_err(|e| e.to_string()),
        Ok(()) => Ok(()),
        Err(e) => {
            if script.transaction {
                let _ = session.rollback().await;
            }
            Err(e)
        }
    };
    session.close().await;
    let synced = match s3_copy {
        Some(copy) => copy.finish(blobs, &Encryption::Aes256).await.map(|_| ()).map_err(|e| e.to_string()),
        None => Ok(()),
    };
    let _ = std::fs::remove_dir(&copies);
    let Some(output) = output else { return outcome };
    if outcome.is_err() || synced.is_err() {
        output.abandon().await;
        outcome?;
        return synced;
    }
    output.finish().await
}

/// Writes what comes down the pipe to `output` until the rows end; a failed write abandons the
/// output (and, the pipe closing, stops the rows).
async fn write_out<'a>(mut rx: pipe::ChunkReceiver, mut output: Output<'a>) -> Result<Output<'a>, String> {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = output.write(&bytes).await {
            drop(rx);
            output.abandon().await;
            return Err(e);
        }
    }
    Ok(output)
}

/// Runs every file's statements, the rows streaming to `output`; the output's last bytes are
/// written, not yet finished.
async fn run_files(
    script: &Script,
    session: &mut Session,
    blobs: &dyn BlobStore,
    writer: &mut Writer,
    output: &pipe::ChunkSender,
) -> Result<(), String> {
    if script.transaction {
        session.begin().await.map_err(|e| e.to_string())?;
    }
    let files = if script.files.is_empty() { vec!["-".to_string()] } else { script.files.clone() };
    for name in &files {
        let text = read_source(name, blobs).await?;
        let statements = if script.raw { vec![text] } else { split(&text) };
        let (mut queries, mut rows) = (0, 0usize);
        for statement in &statements {
            let statement = statement.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace()).trim();
            if statement.is_empty() {
                continue;
            }
            let mut sink = Sink { writer: &mut *writer, output, rows: 0 };
            let ran = session.run(statement, &mut sink).await;
            let counted = sink.rows;
            ran.map_err(
                |e| {
                    if script.transaction { format!("{name}: Rollback : {e}") } else { format!("{name}: {e}") }
                },
            )?;
            rows += counted;
            queries += 1;
        }
        // The original's wording, singular and plural.
        let queries_word = if queries == 1 { "query" } else { "queries" };
        let rows_word = if rows == 1 { "row" } else { "rows" };
        tracing::info!("{name}: {queries} {queries_word} completed, {rows} {rows_word} returned");
    }
    writer.finish().map_err(|e| e.to_string())?;
    output.send(writer.take()).await.map_err(|e| e.to_string())
}

/// Rows on their way through the writer to the output, counted; the pipe takes the bytes once
/// a megabyte has piled up.
struct Sink<'s> {
    writer: &'s mut Writer,
    output: &'s pipe::ChunkSender,
    rows: usize,
}

impl Sink<'_> {
    async fn take_if_full(&mut self) -> Result<(), Error> {
        if self.writer.out.len() < TAKE_AT {
            return Ok(());
        }
        self.output.send(self.writer.take()).await
    }
}

#[async_trait::async_trait]
impl RowSink for Sink<'_> {
    async fn columns(&mut self, names: &[String]) -> Result<(), Error> {
        self.writer.columns(names)?;
        self.take_if_full().await
    }

    async fn row(&mut self, fields: Vec<Field>) -> Result<(), Error> {
        self.rows += 1;
        self.writer.row(fields)?;
        self.take_if_full().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_print_rows_in_each_format() {
        let fields = vec![
            Field::decimal("1.50"),
            Field::boolean(true),
            Field::timestamp("2024-01-02 03:04:05"),
            Field::text("<a&b>"),
            Field::null(),
        ];
        let names: Vec<String> = ["n", "b", "t", "s", "z"].iter().map(|s| s.to_string()).collect();
        let render = |format: OutputFormat, header: bool| {
            let mut w = Writer::new(format, header);
            w.columns(&names).unwrap();
            w.row(fields.clone()).unwrap();
            w.finish().unwrap();
            String::from_utf8(w.take()).unwrap()
        };
        assert_eq!(
            render(OutputFormat::Csv(CsvFormat::default()), true),
            "n|b|t|s|z\r\n1.50|True|2024-01-02 03:04:05|<a&b>|\r\n"
        );
        assert_eq!(
            render(OutputFormat::Jsonl { sort_keys: true }, true),
            "{\"b\": true, \"n\": 1.5, \"s\": \"<a&b>\", \"t\": \"2024-01-02T03:04:05\", \"z\": null}\n"
        );
        assert_eq!(
            render(OutputFormat::Html, true),
            "<TABLE class=\"lava-sql\">\n            <THEAD>\n                <TR>\n                    <TH>n</TH>\n                    <TH>b</TH>\n                    <TH>t</TH>\n                    <TH>s</TH>\n                    <TH>z</TH>\n                    \n                </TR>\n            </THEAD>\n            <TBODY>\n                <TR>\n                    <TD>1.50</TD>\n                    <TD>True</TD>\n                    <TD>2024-01-02 03:04:05</TD>\n                    <TD>&lt;a&amp;b&gt;</TD>\n                    <TD>None</TD>\n                    \n                </TR>\n            \n            </TBODY>\n        </TABLE>\n    "
        );
    }

    #[test]
    fn parquet_takes_one_shape_of_result_and_writes_a_file() {
        let mut w = Writer::new(OutputFormat::Parquet { batch_size: 5 }, false);
        w.columns(&["n".to_string()]).unwrap();
        w.row(vec![Field::number("1")]).unwrap();
        assert!(w.columns(&["m".to_string()]).is_err(), "rows of another shape are waiting");
        let mut w = Writer::new(OutputFormat::Parquet { batch_size: 1 }, false);
        w.columns(&["n".to_string()]).unwrap();
        w.row(vec![Field::number("1")]).unwrap();
        w.row(vec![Field::number("2")]).unwrap();
        let error = w.columns(&["m".to_string()]).unwrap_err().to_string();
        assert_eq!(error, "Parquet output holds one shape of result: columns m after n");
        w.finish().unwrap();
        let out = w.take();
        assert!(out.starts_with(b"PAR1") && out.ends_with(b"PAR1"), "a Parquet file: {} bytes", out.len());
    }
}
