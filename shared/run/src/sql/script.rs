//! `lava-sql`: runs SQL files (local, `s3://` or stdin) against a connection and writes
//! every result set to one output (stdout, a local file or `s3://`) as CSV, JSON lines, an
//! HTML table or Parquet. The `sqlv` job type runs it as a subprocess.

use serde_json::{Map, Value};
use std::time::Duration;

use super::csv::{CsvFormat, Field, Kind};
use super::driver::{RowSink, Session};
use super::pipe;
use super::split::split;
use crate::config::keys;
use crate::connections::Connections;
use crate::error::Error;
use crate::ports::{BlobStore, Encryption, Upload};

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
    /// The CSV header is written once, for the first result set: result sets are concatenated.
    header_written: bool,
    line: String,
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
            header_written: false,
            line: String::new(),
            parquet: None,
            batch: Vec::new(),
        }
    }

    fn put(&mut self, text: &str) -> Result<(), Error> {
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// The bytes formatted since the last call.
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
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
            self.put("</TBODY>\n</TABLE>\n")?;
            self.table_open = false;
        }
        Ok(())
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}

/// A field as JSON: numbers as numbers (decimals as int or float), booleans, timestamps in ISO
/// form, everything else as a string.
fn json_value(field: &Field) -> Value {
    let Some(text) = &field.text else { return Value::Null };
    match field.kind {
        Kind::Bool => Value::Bool(text == "True"),
        Kind::Number | Kind::Decimal => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| {
                text.parse::<f64>()
                    .map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::String(text.clone())))
            })
            .unwrap_or_else(|_| Value::String(text.clone())),
        Kind::Timestamp => Value::String(text.replacen(' ', "T", 1)),
        Kind::Text | Kind::Date | Kind::Time => Value::String(text.clone()),
    }
}

impl Writer {
    fn columns(&mut self, names: &[String]) -> Result<(), Error> {
        if !matches!(self.format, OutputFormat::Parquet { .. }) {
            self.columns = names.to_vec();
        }
        match self.format.clone() {
            OutputFormat::Csv(format) if self.header && !self.header_written => {
                self.header_written = true;
                self.line.clear();
                format
                    .write_row(&names.iter().map(|n| Field::text(n.clone())).collect::<Vec<_>>(), &mut self.line)
                    .map_err(Error::Refused)?;
                let line = std::mem::take(&mut self.line);
                self.put(&line)
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
                let mut text = String::from("<TABLE class=\"lava-sql\">\n");
                if self.header {
                    text.push_str("<THEAD><TR>");
                    for n in names {
                        text.push_str(&format!("<TH>{}</TH>", html_escape(n)));
                    }
                    text.push_str("</TR></THEAD>\n");
                }
                text.push_str("<TBODY>\n");
                self.table_open = true;
                self.put(&text)
            }
            _ => Ok(()),
        }
    }

    fn row(&mut self, fields: Vec<Field>) -> Result<(), Error> {
        match self.format.clone() {
            OutputFormat::Csv(format) => {
                self.line.clear();
                format.write_row(&fields, &mut self.line).map_err(Error::Refused)?;
                let line = std::mem::take(&mut self.line);
                self.put(&line)
            }
            OutputFormat::Jsonl { sort_keys } => {
                let mut pairs: Vec<(String, Value)> =
                    self.columns.iter().cloned().zip(fields.iter().map(json_value)).collect();
                if sort_keys {
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                }
                let object: Map<String, Value> = pairs.into_iter().collect();
                let text = format!("{}\n", Value::Object(object));
                self.put(&text)
            }
            OutputFormat::Parquet { batch_size } => {
                self.batch.push(fields);
                if self.batch.len() >= batch_size.max(1) { self.flush_batch() } else { Ok(()) }
            }
            OutputFormat::Html => {
                let mut text = String::from("<TR>");
                for f in &fields {
                    text.push_str(&format!("<TD>{}</TD>", html_escape(f.text.as_deref().unwrap_or(""))));
                }
                text.push_str("</TR>\n");
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
            Field::number("1.50"),
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
            "{\"b\":true,\"n\":1.5,\"s\":\"<a&b>\",\"t\":\"2024-01-02T03:04:05\",\"z\":null}\n"
        );
        assert_eq!(
            render(OutputFormat::Html, true),
            "<TABLE class=\"lava-sql\">\n<THEAD><TR><TH>n</TH><TH>b</TH><TH>t</TH><TH>s</TH><TH>z</TH></TR></THEAD>\n<TBODY>\n<TR><TD>1.50</TD><TD>True</TD><TD>2024-01-02 03:04:05</TD><TD>&lt;a&amp;b&gt;</TD><TD></TD></TR>\n</TBODY>\n</TABLE>\n"
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
