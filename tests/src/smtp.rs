//! An SMTP server on loopback for the email tests: `tests/smtp_server.py` (aiosmtpd, in `.venv`).

use serde_json::Value;

/// `tests/smtp_server.py` (aiosmtpd) on a free port, requiring AUTH as `user`; each message it
/// accepts is a JSON file in `dir`. Stopped on drop.
pub struct SmtpServer {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: std::path::PathBuf,
}

impl SmtpServer {
    /// Starts one (no AUTH when `user` is `-`).
    pub fn start(user: &str, password: &str) -> SmtpServer {
        Self::start_with(user, password, &[])
    }

    /// Starts one that offers STARTTLS with a certificate for `localhost` signed by a test CA
    /// made in `dir` (`pg_cluster::certificates`: the CA is `ca.crt`), and takes AUTH only
    /// after it.
    pub fn start_tls(user: &str, password: &str, dir: &std::path::Path) -> SmtpServer {
        crate::pg_cluster::certificates(dir);
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        Self::start_with(user, password, &[cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    fn start_with(user: &str, password: &str, tls: &[&str]) -> SmtpServer {
        use std::io::BufRead;
        let dir = std::env::temp_dir().join(crate::unique("lava-smtp-"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = crate::workspace_root().join("tests/smtp_server.py");
        let mut child = std::process::Command::new(crate::venv_tool("python"))
            .arg(script)
            .args([&port.to_string(), user, password])
            .arg(&dir)
            .args(tls)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the SMTP server did not start (is aiosmtpd in .venv? run tests/setup.sh)");
        SmtpServer { child, port, dir }
    }

    /// The messages it accepted, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.iter().map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap()).collect()
    }

    /// Forgets the messages accepted so far.
    pub fn clear(&self) {
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
