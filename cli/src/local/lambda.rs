//! A function process run as Lambda runs it: the binary asks a Lambda Runtime API served here on
//! loopback for its next invocation and posts the answer back. The local realm runs the
//! deployed functions' own binaries this way, and the functions benchmark times them.
//!
//! Only the three routes a custom runtime uses are served, over hyper's HTTP/1.1 server: `GET
//! …/invocation/next`, `POST …/invocation/{id}/response` and `POST …/invocation/{id}/error`
//! (plus `…/init/error`, logged). Invocations are handed out one at a time, as a single Lambda
//! execution environment takes them.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// What a function answered: its response document, or its error report.
pub type Answer = std::result::Result<Value, String>;

/// One invocation waiting for the function.
struct Invocation {
    id: String,
    event: Value,
    reply: oneshot::Sender<Answer>,
}

/// The state the Runtime API shares between its connections.
struct Api {
    /// Invocations not yet handed to the function.
    queued: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// Invocations handed out and not answered yet, by request id.
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// How many times the function has asked for its next invocation.
    asked: watch::Sender<u64>,
    /// The function's time limit (the deadline header).
    timeout: Duration,
    /// The function's name (the ARN header).
    name: String,
}

/// A Lambda Runtime API on loopback for one function.
#[derive(Clone)]
pub struct RuntimeApi {
    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    invocations: mpsc::Sender<Invocation>,
    api: Arc<Api>,
}

impl RuntimeApi {
    /// Serves the API on a free loopback port.
    pub async fn start(name: &str, timeout: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the Lambda Runtime API")?;
        let address = listener.local_addr()?.to_string();
        let (invocations, queued) = mpsc::channel(1);
        let api = Arc::new(Api {
            queued: tokio::sync::Mutex::new(queued),
            in_flight: Mutex::new(HashMap::new()),
            asked: watch::channel(0).0,
            timeout,
            name: name.to_string(),
        });
        let serving = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = serving.clone();
                let service = hyper::service::service_fn(move |request| {
                    let api = api.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&api, request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::spawn(connection);
            }
        });
        Ok(RuntimeApi { address, invocations, api })
    }

    /// The environment a function process needs besides its own configuration.
    pub fn environment(&self) -> Vec<(String, String)> {
        let name = &self.api.name;
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Waits until the function has asked for an invocation `times` times in all (1: its cold
    /// start is over).
    pub async fn asked(&self, times: u64) {
        let mut asked = self.api.asked.subscribe();
        let _ = asked.wait_for(|n| *n >= times).await;
    }

    /// Invokes the function with `event` under `request_id`; its answer, or an error when it
    /// did not answer within its time limit or its process ended first.
    pub async fn invoke(&self, request_id: &str, event: Value) -> Answer {
        let (reply, answer) = oneshot::channel();
        let invocation = Invocation { id: request_id.to_string(), event, reply };
        if self.invocations.send(invocation).await.is_err() {
            return Err("the runtime API has stopped".into());
        }
        // The wait covers the queueing before the function takes it; the limit applies after.
        match tokio::time::timeout(self.api.timeout + Duration::from_secs(30), answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err("the function's process ended before it answered".into()),
            Err(_) => {
                self.api.in_flight.lock().unwrap().remove(request_id);
                Err(format!("the function did not answer within {:?}", self.api.timeout))
            }
        }
    }

    /// Fails every invocation the function has taken and not answered (its process ended).
    pub fn abandon_in_flight(&self) {
        self.api.in_flight.lock().unwrap().clear();
    }
}

/// The response to one request of the function.
async fn answer(api: &Api, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().trim_start_matches("/2018-06-01/runtime").to_string();
    if method == Method::GET && path == "/invocation/next" {
        api.asked.send_modify(|n| *n += 1);
        let Some(invocation) = api.queued.lock().await.recv().await else {
            return respond(503, &[], "{}");
        };
        let body = invocation.event.to_string();
        api.in_flight.lock().unwrap().insert(invocation.id.clone(), invocation.reply);
        let deadline = (jiff::Timestamp::now().as_millisecond() + api.timeout.as_millis() as i64).to_string();
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", api.name);
        let headers = [
            ("Lambda-Runtime-Aws-Request-Id", invocation.id.as_str()),
            ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
            ("Lambda-Runtime-Invoked-Function-Arn", arn.as_str()),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
        ];
        return respond(200, &headers, body);
    }
    let body = match request.into_body().collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(_) => return respond(400, &[], r#"{"errorMessage":"the request's body could not be read"}"#),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let Some(reply) = api.in_flight.lock().unwrap().remove(*id) else {
                return respond(400, &[], r#"{"errorMessage":"unknown or answered request id"}"#);
            };
            let _ = reply.send(if *kind == "response" {
                Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
            } else {
                Err(body)
            });
            respond(202, &[], r#"{"status":"OK"}"#)
        }
        (Method::POST, ["init", "error"]) => {
            tracing::error!(function = %api.name, report = %body, "The function failed to start.");
            respond(202, &[], r#"{"status":"OK"}"#)
        }
        _ => respond(404, &[], r#"{"errorMessage":"not a Lambda Runtime API route"}"#),
    }
}

/// A JSON response.
fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status).header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(body.into())).expect("a response of valid parts")
}

/// A function binary kept running under its Runtime API: started again when its process ends
/// (as Lambda starts a new execution environment), until `stop` turns true.
pub struct FunctionProcess {
    /// The function's Runtime API.
    pub api: RuntimeApi,
    /// The process id of the current process (0 between processes).
    pub pid: Arc<AtomicU32>,
    /// Ends once the process has been stopped.
    pub keeper: tokio::task::JoinHandle<()>,
}

impl FunctionProcess {
    /// Starts `binary` with `env` (besides the Runtime API's), appending its output to `log`.
    pub async fn start(
        name: &str,
        binary: PathBuf,
        env: Vec<(String, String)>,
        log: PathBuf,
        timeout: Duration,
        stop: watch::Receiver<bool>,
    ) -> Result<Self> {
        let api = RuntimeApi::start(name, timeout).await?;
        let mut command = tokio::process::Command::new(&binary);
        command.envs(env).envs(api.environment()).stdin(std::process::Stdio::null()).kill_on_drop(true);
        let process = KeptProcess::spawn(name, command, log)?;
        let pid = Arc::new(AtomicU32::new(0));
        // Invocations the ended process had taken fail at once rather than at their time limit.
        let ended = api.clone();
        let keeping = Keeping { restart_after: Duration::from_secs(1), grace: Duration::from_secs(2) };
        let keeper = keep_running(process, keeping, pid.clone(), move || ended.abandon_in_flight(), stop);
        Ok(FunctionProcess { api, pid, keeper })
    }
}

/// A process started from `command`, its output appended to `log`.
pub struct KeptProcess {
    /// Its name, for the supervisor's log.
    pub name: String,
    /// What starts it (again).
    pub command: tokio::process::Command,
    /// The running process.
    pub child: tokio::process::Child,
    /// Its log file.
    pub log: PathBuf,
}

impl KeptProcess {
    /// Starts `command` with its output appended to `log`.
    pub fn spawn(name: &str, mut command: tokio::process::Command, log: PathBuf) -> Result<Self> {
        let child = spawn_logged(&mut command, &log).with_context(|| format!("starting {name}"))?;
        Ok(KeptProcess { name: name.to_string(), command, child, log })
    }

    /// The process id of the running process.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

/// How [`keep_running`] restarts and stops a process.
#[derive(Debug, Clone, Copy)]
pub struct Keeping {
    /// The pause before a process that ended is started again.
    pub restart_after: Duration,
    /// How long a process has to end after SIGTERM before it is killed.
    pub grace: Duration,
}

/// Keeps `child` (started from `command`, its output appended to `log`) running until `stop`,
/// as a platform keeps its tasks: each time it ends, `on_end` runs; it is started again after
/// `restart_after`, and on `stop` it gets SIGTERM and `grace` to end before it is killed. `pid`
/// follows the current process (0 between processes). The task ends once the process has.
pub fn keep_running(
    process: KeptProcess,
    keeping: Keeping,
    pid: Arc<AtomicU32>,
    on_end: impl Fn() + Send + 'static,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let KeptProcess { name, mut command, mut child, log } = process;
    pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                status = child.wait() => {
                    pid.store(0, Ordering::Relaxed);
                    on_end();
                    tracing::warn!(process = %name, ?status, "The process ended; starting it again in {:?}.", keeping.restart_after);
                    tokio::select! {
                        _ = tokio::time::sleep(keeping.restart_after) => {}
                        _ = stopped(&mut stop) => return,
                    }
                    match spawn_logged(&mut command, &log) {
                        Ok(next) => {
                            pid.store(next.id().unwrap_or(0), Ordering::Relaxed);
                            child = next;
                        }
                        Err(e) => {
                            tracing::error!(process = %name, error = %e, "The process cannot be started again.");
                            return;
                        }
                    }
                }
                _ = stopped(&mut stop) => {
                    if let Some(id) = child.id() {
                        let _ = std::process::Command::new("kill").arg(id.to_string()).status();
                    }
                    if tokio::time::timeout(keeping.grace, child.wait()).await.is_err() {
                        let _ = child.kill().await;
                    }
                    pid.store(0, Ordering::Relaxed);
                    on_end();
                    return;
                }
            }
        }
    })
}

/// Returns once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Spawns `command` with stdout and stderr appended to `log`.
pub fn spawn_logged(command: &mut tokio::process::Command, log: &std::path::Path) -> Result<tokio::process::Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    command.stdout(file.try_clone()?).stderr(file);
    Ok(command.spawn()?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    /// A function written as a client of the API: asks, answers, asks again. The head comes
    /// back with its header names lower-cased.
    pub(crate) async fn call(address: &str, method: &str, path: &str, body: &str) -> (String, String) {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "{method} /2018-06-01/runtime{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) => head.push_str(&format!("{}:{value}", name.to_ascii_lowercase())),
                None => head.push_str(&line),
            }
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await.unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    #[tokio::test]
    async fn invocations_are_handed_out_in_turn_and_answers_and_errors_come_back() {
        let api = RuntimeApi::start("f", Duration::from_secs(5)).await.unwrap();
        let address = api.address.clone();
        let function = tokio::spawn(async move {
            let (head, body) = call(&address, "GET", "/invocation/next", "").await;
            assert!(head.contains("lambda-runtime-aws-request-id: one"), "{head}");
            assert_eq!(body, r#"{"n":1}"#);
            let (head, _) = call(&address, "POST", "/invocation/one/response", r#"{"ok":true}"#).await;
            assert!(head.starts_with("HTTP/1.1 202"), "{head}");
            let (_, body) = call(&address, "GET", "/invocation/next", "").await;
            assert_eq!(body, r#"{"n":2}"#);
            call(&address, "POST", "/invocation/two/error", r#"{"errorMessage":"boom"}"#).await;
            let (head, _) = call(&address, "POST", "/invocation/two/response", "{}").await;
            assert!(head.starts_with("HTTP/1.1 400"), "a second answer is refused: {head}");
        });
        assert_eq!(api.invoke("one", json!({"n": 1})).await, Ok(json!({"ok": true})));
        assert_eq!(api.invoke("two", json!({"n": 2})).await, Err(r#"{"errorMessage":"boom"}"#.to_string()));
        function.await.unwrap();
        api.asked(2).await;
    }

    #[tokio::test]
    async fn an_invocation_taken_by_a_process_that_ended_fails() {
        let api = RuntimeApi::start("f", Duration::from_secs(60)).await.unwrap();
        let address = api.address.clone();
        let taker = tokio::spawn(async move { call(&address, "GET", "/invocation/next", "").await });
        let invoking = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke("lost", json!({})).await })
        };
        taker.await.unwrap();
        api.abandon_in_flight();
        let answer = invoking.await.unwrap();
        assert!(answer.unwrap_err().contains("ended before it answered"));
    }
}
