//! A worker's host as its heartbeat and worker metrics report it: memory and swap in use, the
//! disk of the run area and of Docker, the process's peak RSS; where the worker runs (its ECS
//! task or EC2 instance); and a fleet's backlog.

use std::path::Path;
use std::time::Duration;

/// What the worker metrics report about the host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostFigures {
    /// Percent of memory in use: (total − available) / total.
    pub mem_used: Option<f64>,
    /// Percent of swap in use (none without swap).
    pub swap_used: Option<f64>,
    /// Percent used of the disk holding the run area.
    pub run_disk_used: Option<f64>,
    /// Percent used of the disk holding Docker's data, where it is on this host.
    pub docker_disk_used: Option<f64>,
    /// The process's peak resident set, in kilobytes (`ru_maxrss`).
    pub max_rss_kb: Option<f64>,
}

/// Where Docker keeps its data on a host that runs the engine.
pub const DOCKER_ROOT: &str = "/var/lib/docker";

impl HostFigures {
    /// Measures now; `run_area` is the worker's private directory.
    pub fn measure(run_area: &Path) -> Self {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let (mem_used, swap_used) = memory_percent(&meminfo);
        let docker = Path::new(DOCKER_ROOT);
        HostFigures {
            mem_used,
            swap_used,
            run_disk_used: disk_percent(run_area),
            docker_disk_used: if docker.is_dir() { disk_percent(docker) } else { None },
            max_rss_kb: nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
                .ok()
                .map(|u| u.max_rss() as f64),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Memory and swap in use, in percent, from the text of `/proc/meminfo`.
pub fn memory_percent(meminfo: &str) -> (Option<f64>, Option<f64>) {
    let field = |name: &str| {
        meminfo.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
    };
    let mem = match (field("MemTotal"), field("MemAvailable")) {
        (Some(total), Some(available)) if total > 0.0 => Some(round1((total - available) / total * 100.0)),
        _ => None,
    };
    let swap = match (field("SwapTotal"), field("SwapFree")) {
        (Some(total), Some(free)) if total > 0.0 => Some(round1((total - free) / total * 100.0)),
        _ => None,
    };
    (mem, swap)
}

/// Percent used of the file system holding `path`, as `df` counts it (blocks used over blocks
/// available to unprivileged users plus used).
pub fn disk_percent(path: &Path) -> Option<f64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    let fragment = stat.fragment_size() as f64;
    let used = (stat.blocks() - stat.blocks_free()) as f64 * fragment;
    let available = stat.blocks_available() as f64 * fragment;
    (used + available > 0.0).then(|| round1(used / (used + available) * 100.0))
}

/// A fleet's backlog: visible messages per running worker, to one decimal (none when no
/// worker runs: there is nothing to divide by, and scaling from zero needs no ratio).
pub fn backlog(visible: u64, running: u64) -> Option<f64> {
    (running > 0).then(|| round1(visible as f64 / running as f64))
}

/// The id the events' `worker_id` and `instance_id` and the worker metrics' `Instance`
/// dimension carry: `LAVA_INSTANCE_ID` when set; else the ECS task id from the task metadata
/// endpoint (`ECS_CONTAINER_METADATA_URI_V4`); else the EC2 instance id from the instance
/// metadata service (IMDSv2, skipped when `AWS_EC2_METADATA_DISABLED` is true); else none.
/// Each probe gives up after a second.
pub async fn instance_id(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(id) = env("LAVA_INSTANCE_ID").filter(|v| !v.trim().is_empty()) {
        return Some(id.trim().to_string());
    }
    if let Some(uri) = env("ECS_CONTAINER_METADATA_URI_V4").filter(|v| !v.is_empty()) {
        let task = http_get(&format!("{}/task", uri.trim_end_matches('/')), &[]).await;
        if let Some(arn) = task.and_then(|body| {
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            v.get("TaskARN")?.as_str().map(str::to_string)
        }) {
            return arn.rsplit('/').next().map(str::to_string);
        }
    }
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let imds = "http://169.254.169.254";
    let token =
        http_request("PUT", &format!("{imds}/latest/api/token"), &[("X-aws-ec2-metadata-token-ttl-seconds", "60")])
            .await?;
    http_get(&format!("{imds}/latest/meta-data/instance-id"), &[("X-aws-ec2-metadata-token", token.trim())])
        .await
        .map(|id| id.trim().to_string())
        .filter(|id| id.starts_with("i-"))
}

async fn http_get(url: &str, headers: &[(&str, &str)]) -> Option<String> {
    http_request("GET", url, headers).await
}

/// One plain-HTTP request to a link-local metadata service; the body of a 200 answer, or none
/// (no answer within a second, another status, or a URL that is not `http://host[:port]/path`).
async fn http_request(method: &str, url: &str, headers: &[(&str, &str)]) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let address = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "PUT" {
            request.push_str("Content-Length: 0\r\n");
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.take(1 << 20).read_to_end(&mut answer).await.ok()?;
        Some(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(1), exchange).await.ok()??;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.lines().next()?.split_whitespace().nth(1)?;
    if status != "200" {
        return None;
    }
    let chunked =
        head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    Some(if chunked { dechunk(body) } else { body.to_string() })
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_swap_percentages_come_from_meminfo() {
        let meminfo =
            "MemTotal:       1000 kB\nMemFree:  100 kB\nMemAvailable:    250 kB\nSwapTotal: 200 kB\nSwapFree: 150 kB\n";
        assert_eq!(memory_percent(meminfo), (Some(75.0), Some(25.0)));
        assert_eq!(
            memory_percent("MemTotal: 1000 kB\nMemAvailable: 1000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"),
            (Some(0.0), None)
        );
        assert_eq!(memory_percent(""), (None, None));
    }

    #[test]
    fn backlog_is_per_running_worker_to_one_decimal() {
        assert_eq!(backlog(10, 3), Some(3.3));
        assert_eq!(backlog(0, 2), Some(0.0));
        assert_eq!(backlog(7, 0), None);
    }

    #[test]
    fn the_run_area_disk_is_measured() {
        let used = disk_percent(Path::new("/")).expect("the root file system has a size");
        assert!((0.0..=100.0).contains(&used), "{used}");
        assert!(disk_percent(Path::new("/no/such/dir")).is_none());
        let figures = HostFigures::measure(Path::new("/"));
        assert!(figures.max_rss_kb.is_some_and(|kb| kb > 100.0), "{figures:?}");
        assert!(figures.mem_used.is_some_and(|p| p > 0.0 && p < 100.0), "{figures:?}");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }

    #[tokio::test]
    async fn the_ecs_task_id_comes_from_the_task_metadata_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap();
            let request = String::from_utf8_lossy(&request[..n]).to_string();
            assert!(request.starts_with("GET /v4/abc/task HTTP/1.1"), "{request}");
            let body = r#"{"Cluster":"lava-prod-core","TaskARN":"arn:aws:ecs:eu-west-1:123456789012:task/lava-prod-core/0f1e2d3c4b5a69788796a5b4c3d2e1f0"}"#;
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let uri = format!("http://127.0.0.1:{port}/v4/abc");
        let env = move |name: &str| match name {
            "ECS_CONTAINER_METADATA_URI_V4" => Some(uri.clone()),
            "AWS_EC2_METADATA_DISABLED" => Some("true".into()),
            _ => None,
        };
        assert_eq!(instance_id(&env).await.as_deref(), Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0"));
        let given = |name: &str| (name == "LAVA_INSTANCE_ID").then(|| "i-0abc".to_string());
        assert_eq!(instance_id(&given).await.as_deref(), Some("i-0abc"));
        let nothing = |name: &str| (name == "AWS_EC2_METADATA_DISABLED").then(|| "TRUE".to_string());
        assert_eq!(instance_id(&nothing).await, None);
    }
}
