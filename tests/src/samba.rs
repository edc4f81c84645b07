//! A Samba server for this test binary, on a free loopback port, started on first use: the
//! share `Public` (read-write, a fresh directory), the share `Sealed` (the same directory, whose
//! traffic the server requires encrypted) and one user whose password the tests put in SSM.
//! A second server speaks SMB 2 only (no SMB 3, so no encryption), for the client's refusal.
//! Samba comes from Debian's packages (`tests/setup.sh` installs it); a missing `smbd` fails the
//! test with the reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The running server.
pub struct Samba {
    /// Its port (SMB over TCP; it also answers a NetBIOS session request first).
    pub port: u16,
    /// The directory the share `Public` serves.
    pub share_dir: PathBuf,
    /// The user.
    pub user: &'static str,
    /// The user's password.
    pub password: &'static str,
    _watchdog: Mutex<std::process::Child>,
}

const SMBD: &str = "/usr/sbin/smbd";

fn run(program: &str, args: &[&str], stdin: &str) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The Samba server, started on first use.
pub fn samba() -> &'static Samba {
    static SAMBA: OnceLock<Samba> = OnceLock::new();
    SAMBA.get_or_init(|| start(""))
}

/// A Samba server that speaks SMB 2.1 at most, so it can agree no encryption; started on first
/// use.
pub fn samba_without_smb3() -> &'static Samba {
    static SAMBA: OnceLock<Samba> = OnceLock::new();
    SAMBA.get_or_init(|| start("  server max protocol = SMB2_10\n"))
}

/// Starts a server with `global` added to its `[global]` section.
fn start(global: &str) -> Samba {
    assert!(Path::new(SMBD).exists(), "Samba's smbd is needed in {SMBD}: run `bash tests/setup.sh`");
    let (user, password) = ("lavasmb", "Smb-t3st-pw");
    if !Command::new("id").arg(user).output().is_ok_and(|o| o.status.success()) {
        run("useradd", &["-M", "-s", "/usr/sbin/nologin", user], "");
    }
    let dir = std::env::temp_dir().join(crate::unique("lava-samba-"));
    let share_dir = dir.join("share");
    for sub in ["share", "private", "lock", "state", "cache", "pid"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let port = crate::free_port();
    let at = |sub: &str| dir.join(sub).display().to_string();
    let conf = dir.join("smb.conf");
    std::fs::write(
            &conf,
            format!(
                "[global]\n  server role = standalone server\n  smb ports = {port}\n  interfaces = lo\n  bind interfaces only = yes\n  private dir = {private}\n  lock directory = {lock}\n  state directory = {state}\n  cache directory = {cache}\n  pid directory = {pid}\n  passdb backend = tdbsam:{private}/passdb.tdb\n  map to guest = never\n  load printers = no\n  disable spoolss = yes\n  server min protocol = SMB2_02\n{global}[Public]\n  path = {share}\n  read only = no\n  force user = root\n[Sealed]\n  path = {share}\n  read only = no\n  force user = root\n  smb encrypt = required\n",
                private = at("private"),
                lock = at("lock"),
                state = at("state"),
                cache = at("cache"),
                pid = at("pid"),
                share = at("share"),
            ),
        )
        .unwrap();
    let conf = conf.display().to_string();
    run("pdbedit", &["-s", &conf, "-a", "-u", user, "-t"], &format!("{password}\n{password}\n"));
    // A shell watchdog owns smbd and stops it when this test process exits (our end of its
    // stdin closes). smbd runs in a session of its own (`setsid`; `--no-process-group` stops
    // it trying to make one itself): on the way out it signals its whole process group,
    // which must not be the test's, nor cargo's.
    let watchdog = Command::new("sh")
        .args(["-c", r#"log=$1; shift; setsid "$@" >"$log" 2>&1 & pid=$!; read _; kill $pid"#, "sh"])
        .arg(dir.join("smbd.log"))
        .args([SMBD, "--foreground", "--no-process-group", "--debug-stdout", "-s", &conf])
        .stdin(Stdio::piped())
        .spawn()
        .expect("starting the smbd watchdog shell");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "smbd did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("smbd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Samba { port, share_dir, user, password, _watchdog: Mutex::new(watchdog) }
}
