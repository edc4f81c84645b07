//! `db_from_s3` into MySQL and MariaDB by `LOAD DATA LOCAL INFILE`, streamed. sqlx cannot
//! answer the server's request for a local file, so the `mysql` client (the connector script
//! `sqlc` jobs use) runs the load's statements in one session, and each object reaches it
//! through a named pipe of the run's own as it comes from S3: never whole, never on disk. The
//! statements are one per line, so the client's `at line N` names the step that failed.

use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::ports::ByteChunks;
use crate::sql::load::CsvReading;

/// A MySQL string literal of one character.
fn char_literal(c: char) -> String {
    match c {
        '\'' => "''''".into(),
        '\\' => r"'\\'".into(),
        '\n' => r"'\n'".into(),
        '\t' => r"'\t'".into(),
        '\r' => r"'\r'".into(),
        c => format!("'{c}'"),
    }
}

/// `LOAD DATA LOCAL INFILE '<file>' INTO TABLE <target> …` for CSV read as `format` reads it
/// (fields by the delimiter, optionally quoted, a doubled quote a quote, no escape character,
/// lines ended by `\n`, the header skipped).
pub fn load_data_statement(file: &Path, target: &str, columns: &[String], format: &CsvReading) -> Result<String> {
    let path = file.display().to_string();
    if path.contains(['\'', '\\', '\n']) {
        return Err(Error::Refused(format!("Bad pipe path {path}")));
    }
    let mut statement = format!(
        "LOAD DATA LOCAL INFILE '{path}' INTO TABLE {target} CHARACTER SET utf8mb4 FIELDS TERMINATED BY {}",
        char_literal(format.delimiter)
    );
    if let Some(q) = format.quotechar {
        statement.push_str(&format!(" OPTIONALLY ENCLOSED BY {}", char_literal(q)));
    }
    statement.push_str(" ESCAPED BY '' LINES TERMINATED BY '\\n'");
    if format.header {
        statement.push_str(" IGNORE 1 LINES");
    }
    let names: Vec<String> = columns.iter().map(|c| format!("`{}`", c.replace('`', "``"))).collect();
    statement.push_str(&format!(" ({})", names.join(",")));
    Ok(statement)
}

/// One line of the session's script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A statement, with the events recorded before it runs and once it has run.
    Sql {
        /// The statement (one line).
        statement: String,
        /// Recorded before.
        before: Vec<String>,
        /// Recorded after.
        after: Vec<String>,
    },
    /// One object loaded through a pipe: the `LOAD DATA` statement names the pipe.
    Load {
        /// The statement.
        statement: String,
        /// The pipe it reads.
        pipe: PathBuf,
        /// The object's bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// Recorded before.
        before: Vec<String>,
    },
}

/// The line after the loads: once the client prints it, every load has been answered.
const LOADS_DONE: &str = "lava-loads-done";

/// The session's script in two parts, one statement per line, and the line each step starts
/// at. The head: `SET autocommit = 0`, the steps before the `COMMIT`, each load followed by
/// its row and warning counts and its first warnings, then [`LOADS_DONE`]. The tail: the
/// `COMMIT` and what follows it, sent only if no load had a warning (with `LOCAL`, the server
/// turns bad values into warnings, as if `IGNORE` had been given).
fn script(steps: &[Step]) -> (String, String, Vec<usize>) {
    let (mut head, mut tail) = (String::from("SET autocommit = 0;\n"), String::new());
    let mut starts = Vec::new();
    let mut line = 1;
    let commit = steps.iter().position(|s| matches!(s, Step::Sql { statement, .. } if statement == "COMMIT"));
    for (i, step) in steps.iter().enumerate() {
        if Some(i) == commit {
            head.push_str(&format!("SELECT '{LOADS_DONE}';\n"));
            line += 1;
        }
        let text = if commit.is_some_and(|c| i >= c) { &mut tail } else { &mut head };
        starts.push(line + 1);
        match step {
            Step::Sql { statement, .. } => {
                text.push_str(&format!("{statement};\n"));
                line += 1;
            }
            Step::Load { statement, .. } => {
                text.push_str(&format!("{statement};\nSELECT ROW_COUNT(), @@warning_count;\nSHOW WARNINGS LIMIT 3;\n"));
                line += 3;
            }
        }
    }
    if commit.is_none() {
        head.push_str(&format!("SELECT '{LOADS_DONE}';\n"));
    }
    (head, tail, starts)
}

/// Writes an object's chunks into its pipe (opening it waits for the client to read it).
async fn feed(pipe: PathBuf, mut chunks: ByteChunks) -> Result<()> {
    let path = pipe.clone();
    let file = tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(&path))
        .await
        .map_err(|e| Error::Unexpected(format!("pipe opener: {e}")))?
        .map_err(|e| Error::io(format!("cannot open {}", pipe.display()), e))?;
    let mut file = tokio::fs::File::from_std(file);
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await.map_err(|e| Error::io(format!("writing {}", pipe.display()), e))?;
    }
    file.flush().await.map_err(|e| Error::io(format!("writing {}", pipe.display()), e))?;
    Ok(())
}

/// Unblocks a writer still waiting to open `pipe` (the client ended without reading it).
fn release(pipe: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(pipe);
}

/// Runs `steps` through the client `connector` (with `--local-infile`), feeding each load's
/// pipe from `open(bucket, key)` in order; commits only if every load was clean. Records the
/// events of the steps that ran; a failure names the object where a load failed or warned, and
/// the session then ends without a commit.
pub async fn run<F, Fut>(connector: &Path, steps: &[Step], events: &mut Vec<String>, open: F) -> Result<()>
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<ByteChunks>>,
{
    let loads: Vec<(&Path, &str, &str)> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Load { pipe, bucket, key, .. } => Some((pipe.as_path(), bucket.as_str(), key.as_str())),
            Step::Sql { .. } => None,
        })
        .collect();
    for (pipe, _, _) in &loads {
        nix::unistd::mkfifo(*pipe, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR)
            .map_err(|e| Error::Unexpected(format!("cannot make the pipe {}: {e}", pipe.display())))?;
    }
    let (head, tail, starts) = script(steps);
    let mut client = Client::start(connector)?;
    let _ = client.stdin.write_all(head.as_bytes()).await;
    let (fed, answered) = client.feed_and_answer(&loads, &open).await;
    let (complete, answers) = match answered {
        Ok(answers) => (true, answers),
        Err(answers) => (false, answers),
    };
    let (counts, warning) = read_answers(&answers);
    let clean = complete && fed.is_ok() && warning.is_none();
    if clean {
        let _ = client.stdin.write_all(tail.as_bytes()).await;
    }
    let ended = client.finish().await?;
    for (pipe, _, _) in &loads {
        let _ = std::fs::remove_file(pipe);
    }
    let failed_step = failed_step(&ended.errors, &warning, steps, &starts);
    let succeeded = clean && ended.status.success();
    record_steps(steps, succeeded, failed_step, &counts, events);
    if succeeded {
        return Ok(());
    }
    fed?;
    let message = match &warning {
        Some((_, warning)) => warning.clone(),
        None => ended.errors.trim().to_string(),
    };
    Err(Error::Refused(match failed_step.map(|i| &steps[i]) {
        Some(Step::Load { bucket, key, .. }) => format!("s3://{bucket}/{key}: {message}"),
        _ if message.is_empty() => format!("the mysql client ended with {}: {}", ended.status, ended.rest.join(" ")),
        _ => message,
    }))
}

/// The `mysql` client running a load's session, in its own process group and told to the reaper.
struct Client {
    child: tokio::process::Child,
    pid: u32,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    errors: tokio::task::JoinHandle<String>,
}

/// How the client ended: its status, the lines it printed after the loads, its error text.
struct Ended {
    status: std::process::ExitStatus,
    rest: Vec<String>,
    errors: String,
}

impl Client {
    fn start(connector: &Path) -> Result<Client> {
        let mut child = tokio::process::Command::new(connector)
            .args(["--local-infile=1", "--skip-column-names", "--unbuffered"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io(format!("cannot run {}", connector.display()), e))?;
        // The client ends with the worker, however the worker ends (a half-fed load never commits).
        let pid = child.id().unwrap_or_default();
        super::reaper::track(pid, true);
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut stderr = child.stderr.take().expect("piped stderr");
        let errors = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Ok(Client { child, pid, stdin, stdout, errors })
    }

    /// Feeds the pipes while the client answers the script's head, up to [`LOADS_DONE`];
    /// whichever ends badly first stops the other (a dead client leaves a pipe unopened; a
    /// failed object leaves the client waiting). The answers are `Err` when the client ended
    /// before it got there.
    async fn feed_and_answer<F, Fut>(
        &mut self,
        loads: &[(&Path, &str, &str)],
        open: &F,
    ) -> (Result<()>, std::result::Result<Vec<String>, Vec<String>>)
    where
        F: Fn(String, String) -> Fut,
        Fut: std::future::Future<Output = Result<ByteChunks>>,
    {
        let Client { child, stdout, .. } = self;
        let feeding = async {
            for (pipe, bucket, key) in loads {
                let uri = format!("s3://{bucket}/{key}");
                let chunks = open(bucket.to_string(), key.to_string()).await.map_err(|e| e.within(&uri))?;
                feed(pipe.to_path_buf(), chunks).await.map_err(|e| e.within(&uri))?;
            }
            Ok::<(), Error>(())
        };
        let answering = async {
            let mut answers = Vec::new();
            while let Ok(Some(line)) = stdout.next_line().await {
                if line.trim() == LOADS_DONE {
                    return Ok(answers);
                }
                answers.push(line);
            }
            Err(answers)
        };
        tokio::pin!(feeding, answering);
        let (mut fed, mut answered) = (None, None);
        while fed.is_none() || answered.is_none() {
            tokio::select! {
                outcome = &mut feeding, if fed.is_none() => {
                    if outcome.is_err() {
                        let _ = child.start_kill();
                    }
                    fed = Some(outcome);
                }
                outcome = &mut answering, if answered.is_none() => {
                    if outcome.is_err() {
                        loads.iter().for_each(|(pipe, _, _)| release(pipe));
                    }
                    answered = Some(outcome);
                }
            }
        }
        (fed.expect("fed"), answered.expect("answered"))
    }

    /// Closes the client's input and waits for it to end.
    async fn finish(self) -> Result<Ended> {
        let Client { mut child, pid, stdin, mut stdout, errors } = self;
        drop(stdin);
        let status = child.wait().await;
        super::reaper::track(pid, false);
        let status = status.map_err(|e| Error::io("waiting for the mysql client", e))?;
        let mut rest = Vec::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            rest.push(line);
        }
        Ok(Ended { status, rest, errors: errors.await.unwrap_or_default() })
    }
}

/// The loads' answers: `<rows>\t<warnings>` each, then up to three warning lines. Gives the
/// row counts and the first warning with the index of the load it follows.
fn read_answers(answers: &[String]) -> (Vec<String>, Option<(usize, String)>) {
    let mut counts = Vec::new();
    let mut warning = None;
    for line in answers {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [level @ ("Warning" | "Error"), code, message] if warning.is_none() => {
                warning = Some((counts.len().saturating_sub(1), format!("{level} {code}: {message}")));
            }
            [rows, _warnings] => counts.push(rows.trim().to_string()),
            _ => {}
        }
    }
    (counts, warning)
}

/// The step the client stopped at (`at line N` of its error, against each step's first line),
/// or the load that warned.
fn failed_step(errors: &str, warning: &Option<(usize, String)>, steps: &[Step], starts: &[usize]) -> Option<usize> {
    let failed_line = errors
        .split(" at line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    let load_index = |n: usize| steps.iter().enumerate().filter(|(_, s)| is_load(s)).nth(n).map(|(i, _)| i);
    match (warning, failed_line) {
        (Some((load, _)), _) => load_index(*load),
        (None, Some(f)) => starts.iter().zip(steps).rposition(|(start, _)| *start <= f),
        (None, None) => None,
    }
}

/// Records the events of the steps that ran: all of them when the session succeeded, else up
/// to the failed step, whose "after" events are left out.
fn record_steps(
    steps: &[Step],
    succeeded: bool,
    failed_step: Option<usize>,
    counts: &[String],
    events: &mut Vec<String>,
) {
    let ran = match (succeeded, failed_step) {
        (true, _) => steps.len(),
        (false, Some(i)) => i + 1,
        (false, None) => 0,
    };
    let mut rows = counts.iter().map(String::as_str);
    for (i, step) in steps.iter().enumerate().take(ran) {
        let failed = !succeeded && i + 1 == ran;
        match step {
            Step::Sql { before, after, .. } => {
                events.extend(before.iter().cloned());
                if !failed {
                    events.extend(after.iter().cloned());
                }
            }
            Step::Load { bucket, key, before, .. } => {
                events.extend(before.iter().cloned());
                events.push(format!("Loading s3://{bucket}/{key}"));
                if !failed {
                    events.push(format!("Loaded {} rows from s3://{bucket}/{key}", rows.next().unwrap_or("?")));
                }
            }
        }
    }
}

fn is_load(step: &Step) -> bool {
    matches!(step, Step::Load { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_statements_read_csv_as_the_options_say() {
        let format = CsvReading { delimiter: ';', quotechar: Some('\''), doublequote: true, header: true };
        assert_eq!(
            load_data_statement(Path::new("/run/p0"), "`d`.`t`", &["id".into(), "note".into()], &format).unwrap(),
            "LOAD DATA LOCAL INFILE '/run/p0' INTO TABLE `d`.`t` CHARACTER SET utf8mb4 FIELDS TERMINATED BY ';' \
             OPTIONALLY ENCLOSED BY '''' ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES (`id`,`note`)"
        );
        let plain = CsvReading { delimiter: '\t', quotechar: None, doublequote: true, header: false };
        assert!(
            load_data_statement(Path::new("/p"), "`t`", &["a".into()], &plain)
                .unwrap()
                .contains("FIELDS TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' (`a`)")
        );
        assert!(load_data_statement(Path::new("/it's"), "`t`", &[], &plain).is_err());
    }

    #[test]
    fn the_script_has_one_step_per_line_and_commits_in_its_tail() {
        let sql = |statement: &str| Step::Sql { statement: statement.into(), before: vec![], after: vec![] };
        let steps = [
            sql("DELETE FROM t"),
            Step::Load {
                statement: "LOAD DATA x".into(),
                pipe: "/p".into(),
                bucket: "b".into(),
                key: "k".into(),
                before: vec![],
            },
            sql("COMMIT"),
            sql("TRUNCATE TABLE o"),
        ];
        let (head, tail, starts) = script(&steps);
        assert_eq!(
            head,
            "SET autocommit = 0;\nDELETE FROM t;\nLOAD DATA x;\nSELECT ROW_COUNT(), @@warning_count;\nSHOW WARNINGS LIMIT 3;\n\
             SELECT 'lava-loads-done';\n"
        );
        assert_eq!(tail, "COMMIT;\nTRUNCATE TABLE o;\n");
        assert_eq!(starts, [2, 3, 7, 8]);
    }
}
