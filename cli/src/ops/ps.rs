//! `lava ps` and `lava stop`: the lava workers running on this host (the original's `lava-ps`
//! and `lava-stop`). A worker is a process whose command line is `lava-worker` (this project's
//! binary, or the original's Python script under a Python interpreter) with both `--realm` and
//! `--worker`. This module decides what is a worker and prints the table as the original's
//! (`tabulate`'s plain format); the command reads `/proc` and sends the signals.

/// One worker process.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// The user running it.
    pub user: String,
    /// Its process id.
    pub pid: i32,
    /// `--realm`.
    pub realm: String,
    /// `--worker`.
    pub worker: String,
    /// CPU time over its life, in percent.
    pub cpu_percent: f64,
    /// Resident memory, in percent of the host's.
    pub mem_percent: f64,
    /// Resident memory, in KiB.
    pub rss_kib: u64,
    /// `sleeping`, `running`, … (as psutil names them).
    pub status: String,
    /// When it started, as `ps` prints it.
    pub started: String,
    /// CPU time, `MM:SS.ss`.
    pub time: String,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub files: u64,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// The command line less the program (or the interpreter).
    pub command: String,
}

/// The realm and worker of a command line that runs a lava worker, and the command shown.
pub fn worker_args(argv: &[String]) -> Option<(String, String, String)> {
    let is_worker = |p: &str| p == "lava-worker" || p.ends_with("/lava-worker") || p.ends_with("/lava-worker.py");
    let first = argv.first()?;
    let rest =
        if first.to_lowercase().contains("python") && argv.get(1).is_some_and(|p| is_worker(p) && p.contains('/')) {
            &argv[2..]
        } else if is_worker(first) && !first.ends_with(".py") {
            &argv[1..]
        } else {
            return None;
        };
    let (mut realm, mut worker) = (None, None);
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let slot = match name {
            "-r" | "--realm" => &mut realm,
            "-w" | "--worker" => &mut worker,
            _ => continue,
        };
        *slot = inline.or_else(|| args.next().cloned());
    }
    Some((realm.filter(|r| !r.is_empty())?, worker.filter(|w| !w.is_empty())?, argv[1..].join(" ")))
}

/// psutil's name of a `/proc/<pid>/stat` state letter.
pub fn status_name(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk-sleep",
        'T' => "stopped",
        't' => "tracing-stop",
        'Z' => "zombie",
        'X' | 'x' => "dead",
        'K' => "wake-kill",
        'W' => "waking",
        'I' => "idle",
        'P' => "parked",
        _ => "?",
    }
}

/// CPU seconds as `MM:SS.ss`.
pub fn cpu_time(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{:02}:{:05.2}", minutes as u64, seconds - minutes * 60.0)
}

/// A start time as `ps` prints it: the time of day within a day (`1:40am`, right-aligned to
/// seven), the weekday and hour within a week (`Mon09am`), else the date (`07Dec26`).
pub fn ps_time(started: &jiff::Zoned, now: &jiff::Zoned) -> String {
    let age = now.timestamp().duration_since(started.timestamp());
    let ampm = started.strftime("%p").to_string().to_lowercase();
    if age < jiff::SignedDuration::from_hours(24) {
        format!("{:>7}", format!("{}{ampm}", started.strftime("%-I:%M")))
    } else if age < jiff::SignedDuration::from_hours(24 * 7) {
        format!("{}{ampm}", started.strftime("%a%I"))
    } else {
        started.strftime("%d%b%y").to_string()
    }
}

/// How a column lines up.
#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// The workers as the original's table: `USER PID REALM WORKER`, with `-l` the process's use
/// of the host, with `-ll` its threads, files, ids and command (`tabulate`'s plain format: two
/// spaces between columns, each at least two wider than its heading).
pub fn table(workers: &[Worker], detail: u8) -> String {
    let mut columns: Vec<(&str, Align, Vec<String>)> = vec![
        ("USER", Align::Left, workers.iter().map(|w| w.user.clone()).collect()),
        ("PID", Align::Right, workers.iter().map(|w| w.pid.to_string()).collect()),
        ("REALM", Align::Left, workers.iter().map(|w| w.realm.clone()).collect()),
        ("WORKER", Align::Left, workers.iter().map(|w| w.worker.clone()).collect()),
    ];
    if detail >= 1 {
        columns.extend([
            ("%CPU", Align::Right, workers.iter().map(|w| format!("{:.1}", w.cpu_percent)).collect()),
            ("%MEM", Align::Right, workers.iter().map(|w| format!("{:.1}", w.mem_percent)).collect()),
            ("RSS", Align::Right, workers.iter().map(|w| w.rss_kib.to_string()).collect()),
            ("STATUS", Align::Left, workers.iter().map(|w| w.status.clone()).collect()),
            ("STARTED", Align::Right, workers.iter().map(|w| w.started.clone()).collect()),
            ("TIME", Align::Right, workers.iter().map(|w| w.time.clone()).collect()),
        ]);
    }
    if detail >= 2 {
        columns.extend([
            ("THREADS", Align::Right, workers.iter().map(|w| w.threads.to_string()).collect()),
            ("FILES", Align::Right, workers.iter().map(|w| w.files.to_string()).collect()),
            ("UID", Align::Right, workers.iter().map(|w| w.uid.to_string()).collect()),
            ("GID", Align::Right, workers.iter().map(|w| w.gid.to_string()).collect()),
            ("COMMAND", Align::Left, workers.iter().map(|w| w.command.clone()).collect()),
        ]);
    }
    let widths: Vec<usize> = columns
        .iter()
        .map(|(head, _, cells)| cells.iter().map(|c| c.chars().count()).max().unwrap_or(0).max(head.len() + 2))
        .collect();
    let line = |cell: &dyn Fn(usize) -> String| -> String {
        let cells: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, align, _))| match align {
                Align::Left => format!("{:<w$}", cell(i), w = widths[i]),
                Align::Right => format!("{:>w$}", cell(i), w = widths[i]),
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut lines = vec![line(&|i| columns[i].0.to_string())];
    for row in 0..workers.len() {
        lines.push(line(&|i| columns[i].2[row].clone()));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn workers_are_told_by_their_command_lines() {
        let found = |l: &str| worker_args(&args(l)).map(|(r, w, _)| (r, w));
        let pair = |r: &str, w: &str| Some((r.to_string(), w.to_string()));
        assert_eq!(found("/usr/bin/lava-worker --realm dev --worker core --batch"), pair("dev", "core"));
        assert_eq!(found("lava-worker -r dev -w core"), pair("dev", "core"));
        assert_eq!(found("/usr/bin/python3 /opt/bin/lava-worker --realm=prod -w etl"), pair("prod", "etl"));
        assert_eq!(found("python3 /opt/lava-worker.py -r a -w b"), pair("a", "b"));
        assert_eq!(found("lava-worker --realm dev"), None, "no worker");
        assert_eq!(found("bash lava-worker -r a -w b"), None);
        assert_eq!(worker_args(&args("/usr/bin/lava-worker -r dev -w core")).unwrap().2, "-r dev -w core");
    }

    #[test]
    fn the_table_is_tabulate_s_plain_format() {
        let w = Worker {
            user: "root".into(),
            pid: 22500,
            realm: "dev".into(),
            worker: "core".into(),
            cpu_percent: 0.0,
            mem_percent: 0.12,
            rss_kib: 13548,
            status: "sleeping".into(),
            started: " 1:40am".into(),
            time: cpu_time(0.04),
            threads: 1,
            files: 5,
            uid: 0,
            gid: 0,
            command: "/tmp/fw/lava-worker --realm dev -w core".into(),
        };
        assert_eq!(table(std::slice::from_ref(&w), 0), "USER      PID  REALM    WORKER\nroot    22500  dev      core");
        assert_eq!(
            table(&[w], 2),
            "USER      PID  REALM    WORKER      %CPU    %MEM    RSS  STATUS      STARTED      TIME    THREADS    FILES    UID    GID  COMMAND\n\
             root    22500  dev      core         0.0     0.1  13548  sleeping     1:40am  00:00.04          1        5      0      0  /tmp/fw/lava-worker --realm dev -w core"
        );
        assert_eq!(cpu_time(75.5), "01:15.50");
    }

    #[test]
    fn start_times_read_as_ps_prints_them() {
        let now: jiff::Zoned = "2026-12-07T15:00:00[UTC]".parse().unwrap();
        let at = |t: &str| ps_time(&format!("{t}[UTC]").parse().unwrap(), &now);
        assert_eq!(at("2026-12-07T01:40:00"), " 1:40am");
        assert_eq!(at("2026-12-04T21:05:00"), "Fri09pm");
        assert_eq!(at("2026-11-02T09:00:00"), "02Nov26");
    }
}
