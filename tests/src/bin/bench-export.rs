//! SQL exports to S3 against the database's own client writing a local file, and against the
//! original's `lava-sql`: ROWS rows of about 100 bytes (`id`, 92 `x`s) from PostgreSQL and from
//! MariaDB. Each engine's query is run by
//! - this project's `lava-sql` to `s3://` on moto (streamed, a part at a time), under a Python
//!   wrapper that reports its peak resident memory;
//! - the database's client to a local file: `psql \copy (query) TO` (CSV), `mariadb --batch`;
//! - the original's `lava-sql` (jinlava from PyPI, `.venv-jinlava`) to `s3://` on moto.
//!
//! It prints each one's time and rows per second, and the ratios.
//!
//! Run: `bash tests/setup.sh` once, then
//! `cargo build --profile fast -p lava-worker -p lava-tests --bin lava-sql --bin bench-export &&
//! target/fast/bench-export [ROWS] [--no-original]`

use shared::ports::BlobStore;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One engine: its connection, its query, and its own client's export to a local file.
struct Engine {
    conn_id: &'static str,
    name: &'static str,
    query: String,
}

impl Engine {
    fn client(&self, file: &Path) -> Command {
        match self.conn_id {
            "pg" => {
                let mut psql = Command::new("psql");
                let copy = format!("\\copy ({}) TO '{}' WITH (FORMAT csv)", self.query, file.display());
                psql.args(["-h", "127.0.0.1", "-U", "lava", "-d", "lava_test", "-q", "-c", &copy]);
                psql.env("PGPASSWORD", lava_tests::DB_PASSWORD);
                psql
            }
            _ => {
                let mut mariadb = Command::new("sh");
                let script =
                    r#"exec mariadb -h 127.0.0.1 -u lava lava_test --batch --raw --skip-column-names -e "$1" > "$2""#;
                mariadb.args(["-c", script, "sh", &self.query]).arg(file);
                mariadb.env("MYSQL_PWD", lava_tests::DB_PASSWORD);
                mariadb
            }
        }
    }
}

/// Runs `command` under the venv's Python, which waits for it alone and prints its peak
/// resident memory and CPU time; returns the seconds it took, its CPU seconds and that peak in MiB.
fn timed_with_peak(command: &Command) -> (f64, f64, f64) {
    let wrap = "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:])\nu = resource.getrusage(resource.RUSAGE_CHILDREN)\nprint(u.ru_utime + u.ru_stime, u.ru_maxrss, file=sys.stderr)\nsys.exit(r.returncode)";
    let mut wrapped = Command::new(lava_tests::venv_tool("python"));
    wrapped.args(["-c", wrap]).arg(command.get_program()).args(command.get_args());
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(name, value);
        }
    }
    let started = Instant::now();
    let out = wrapped.output().expect("starting the wrapped command");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{:?} failed:\n{stderr}", command.get_program());
    let last: Vec<f64> = stderr.lines().last().unwrap_or("").split(' ').filter_map(|f| f.parse().ok()).collect();
    let [cpu, peak_kib] = last[..] else { panic!("no CPU time and peak memory: {stderr}") };
    (seconds, cpu, peak_kib / 1024.0)
}

fn timed(command: &mut Command) -> f64 {
    let started = Instant::now();
    let out = command.output().expect("starting the command");
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{:?} failed:\n{}", command.get_program(), String::from_utf8_lossy(&out.stderr));
    seconds
}

fn our_lava_sql() -> PathBuf {
    let path = std::env::current_exe().unwrap().with_file_name("lava-sql");
    assert!(path.exists(), "build lava-sql beside the benchmark: see the command in its header");
    path
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5_000_000);
    let with_original = !args.iter().any(|a| a == "--no-original");
    let r = lava_tests::TestRealm::up_on_original_tables("bex").await;
    r.put_sql_connections().await;
    let bucket = r.names.local_bucket();
    let engines = [
        Engine {
            conn_id: "pg",
            name: "PostgreSQL",
            query: format!("SELECT g AS id, repeat('x', 92) AS text FROM generate_series(1, {rows}) g"),
        },
        Engine {
            conn_id: "my",
            name: "MariaDB",
            query: format!("SELECT seq AS id, repeat('x', 92) AS text FROM seq_1_to_{rows}"),
        },
    ];
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-bench-export-"));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "| engine | rows | bytes | lava-sql → S3 (moto) | its CPU | peak memory | lava-sql → local file | client → local file | ratio (S3) | ratio (file) | original lava-sql → S3 | ours / original |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for engine in &engines {
        let sql = dir.join(format!("{}.sql", engine.conn_id));
        std::fs::write(&sql, format!("{};\n", engine.query)).unwrap();
        let key = format!("bench/{}.csv", engine.conn_id);
        let mut ours = Command::new(our_lava_sql());
        ours.args(["-r", &r.names.realm, "-c", engine.conn_id, "-o", &format!("s3://{bucket}/{key}")]).arg(&sql);
        lava_tests::emulator_env(&mut ours);
        let (ours_s, ours_cpu, peak) = timed_with_peak(&ours);
        let bytes = r.blobs.object_size(&bucket, &key).await.unwrap().expect("our output");

        let local = dir.join(format!("{}.out", engine.conn_id));
        let client_s = timed(&mut engine.client(&local));
        let _ = std::fs::remove_file(&local);
        // The same export to a local file: what the upload to moto costs.
        let mut to_file = Command::new(our_lava_sql());
        to_file.args(["-r", &r.names.realm, "-c", engine.conn_id, "-o"]).arg(&local).arg(&sql);
        let file_s = timed(lava_tests::emulator_env(&mut to_file));
        let _ = std::fs::remove_file(&local);

        let original = if with_original {
            let mut theirs = lava_tests::original::command("lava-sql");
            let out = format!("s3://{bucket}/bench/{}-original.csv", engine.conn_id);
            theirs.args(["-r", &r.names.realm, "-c", engine.conn_id, "-o", &out]).arg(&sql);
            let seconds = timed(&mut theirs);
            format!("{seconds:.2} s, {:.2} M rows/s | {:.1}×", rows as f64 / seconds / 1e6, seconds / ours_s)
        } else {
            "not run | -".to_string()
        };
        let rate = |s: f64| rows as f64 / s / 1e6;
        println!(
            "| {} | {rows} | {bytes} | {ours_s:.2} s, {:.2} M rows/s | {ours_cpu:.2} s | {peak:.1} MiB | {file_s:.2} s | {client_s:.2} s, {:.2} M rows/s | {:.2} | {:.2} | {original} |",
            engine.name,
            rate(ours_s),
            rate(client_s),
            client_s / ours_s,
            client_s / file_s,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
