//! The worker: long-polls its queue, runs up to N jobs at once, claims each run's lease before
//! it starts (so a duplicate copy of a message never runs it twice), keeps the message invisible
//! and the lease alive while the job runs (heartbeat), deletes the message only after the run's
//! last event is written, and on shutdown stops receiving, gives running jobs a grace period,
//! then stops them and releases their messages and leases for another worker.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;
use tracing::field::Empty;

use crate::catalog::Catalog;
use crate::config::keys;
use crate::error::{Error, Retry};
use crate::model::values::{ECHO_LIMIT, bounded};
use crate::model::{Claim, EventStatus, Predecessor, WorkerMessage};
use crate::ports::{OutgoingMessage, QueueMessage, WorkQueue};
use crate::recorder::RunLeases;
use crate::run::{JobRunner, RunOutcome};
use crate::runners::Stop;

mod monitor;

/// How the worker behaves (the original's command-line options, plus the heartbeat and grace).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Realm name.
    pub realm: String,
    /// Worker name.
    pub worker: String,
    /// The queue's URL.
    pub queue_url: String,
    /// Its dead-letter queue's URL, where messages that cannot run go with a reason.
    pub dead_letter_url: Option<String>,
    /// Jobs run at once.
    pub threads: usize,
    /// Long-poll wait (0..=20 s).
    pub wait_seconds: u32,
    /// Sleep after an empty poll.
    pub sleep: Duration,
    /// Discard a run started more than `retries + 1` times (negative: never). Copies that
    /// waited for another worker's live lease do not count.
    pub retries: i64,
    /// Exit when a poll returns no message.
    pub batch: bool,
    /// How often a running job's message has its visibility extended.
    pub heartbeat_every: Duration,
    /// How far each extension reaches.
    pub visibility_seconds: u32,
    /// How long running jobs may go on after a shutdown signal.
    pub grace: Duration,
    /// How often the heartbeat line is logged and the heartbeat file touched (none: never).
    pub log_heartbeat: Option<Duration>,
    /// The worker's ECS task or EC2 instance id (the `Instance` dimension of its metrics).
    pub instance_id: Option<String>,
}

/// A run going on in this worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveJob {
    /// The job.
    pub job_id: String,
    /// When this worker claimed the run.
    pub since: jiff::Timestamp,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// The run finished (whatever its outcome) and the message was deleted.
    Ran(RunOutcome),
    /// The message could not run; it went to the dead-letter queue with this reason.
    DeadLettered(String),
    /// The message was left for another try (transient failure or shutdown).
    Released(String),
    /// A copy of a message whose run another worker holds: it waits, invisible, until that
    /// lease ends (no event, no delete).
    Waiting(String),
    /// A copy of a message whose run has ended: deleted, the events untouched.
    Duplicate,
    /// The run was stopped because another worker took it over; the message is theirs now.
    LeaseLost,
}

/// One worker process.
pub struct Worker {
    /// Settings.
    pub settings: WorkerSettings,
    /// Runs jobs.
    pub runner: Arc<JobRunner>,
    /// Reads job specs.
    pub catalog: Catalog,
    /// The queue.
    pub queue: Arc<dyn WorkQueue>,
    /// The runs' leases.
    pub leases: RunLeases,
    /// Runs going on in this process: a copy of one of them waits even when the lease looks
    /// expired (this worker could not renew it for a while but is still running it).
    pub active: std::sync::Mutex<std::collections::HashMap<String, ActiveJob>>,
    /// The run slots, as the worker metrics count them.
    pub slots: Slots,
    /// How often each message (by id) could not start for a passing reason.
    pub start_failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// The worker's run slots (the original's worker threads): a message is handled while its
/// slot's permit is held. A handling that panics ends like the original's dying thread: it is
/// counted dead and logged; its permit comes back, so the slot serves again, and its run is
/// left to its lease.
#[derive(Debug)]
pub struct Slots {
    permits: Arc<Semaphore>,
    total: usize,
    busy: AtomicUsize,
    died: AtomicUsize,
}

impl Slots {
    fn new(total: usize) -> Self {
        let total = total.max(1);
        Slots { permits: Arc::new(Semaphore::new(total)), total, busy: AtomicUsize::new(0), died: AtomicUsize::new(0) }
    }

    /// Slots that can take a message: idle ones and those handling one (fewer than configured
    /// only if a permit were lost).
    pub fn alive(&self) -> usize {
        (self.permits.available_permits() + self.busy.load(Ordering::SeqCst)).min(self.total)
    }

    /// Handlings that ended in a panic since the worker started.
    pub fn dead(&self) -> usize {
        self.died.load(Ordering::SeqCst)
    }
}

/// A slot taken for one message's handling; given back when dropped (a panic included), the
/// permit first, so the slots never look fewer than they are.
struct SlotTaken {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    worker: Arc<Worker>,
}

impl Drop for SlotTaken {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.worker.slots.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Stops a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes a run from [`Worker::active`] when its handling ends, however it ends.
struct ActiveRun<'a> {
    worker: &'a Worker,
    run_id: String,
}

impl Drop for ActiveRun<'_> {
    fn drop(&mut self) {
        self.worker.active_runs().remove(&self.run_id);
    }
}

impl Worker {
    /// Polls and runs until `shutdown` turns true (or, in batch mode, until the queue is empty
    /// and the jobs it started have finished).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> crate::Result<()> {
        let permits = self.slots.permits.clone();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let mut running: JoinSet<()> = JoinSet::new();
        tracing::info!(realm = %self.settings.realm, worker = %self.settings.worker, threads = self.settings.threads, "Worker ready.");
        // Heartbeats and metrics go on until the worker stops (dropped with this guard).
        let _monitor = AbortOnDrop(tokio::spawn(self.clone().monitor()));
        loop {
            while self.reaped(running.try_join_next()) {}
            if *shutdown.borrow() {
                break;
            }
            let available = tokio::select! {
                p = permits.clone().acquire_many_owned(1) => p.expect("the semaphore is never closed"),
                _ = shutdown.wait_for(|s| *s) => break,
            };
            drop(available);
            let free = permits.available_permits().clamp(1, 10) as u32;
            // A receive in progress is never abandoned: the queue may already have handed it a
            // message, which would then stay invisible until its visibility timeout.
            // Received with the worker's own short visibility (not the queue's hour): if this
            // process dies, another worker gets the message within about three heartbeats.
            let s = &self.settings;
            let received = self.queue.receive_leased(&s.queue_url, free, s.wait_seconds, s.visibility_seconds).await;
            let messages = match received {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "Cannot receive from the worker queue; retrying.");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            if *shutdown.borrow() {
                for message in &messages {
                    self.release(message, "Worker shutting down before the run started".into()).await;
                }
                break;
            }
            if messages.is_empty() {
                if self.settings.batch {
                    if running.is_empty() {
                        break;
                    }
                    // Batch mode lets the running jobs finish (a stop request still gets the
                    // grace period below), then polls once more: they may have queued work.
                    tokio::select! {
                        _ = async { while self.reaped(running.join_next().await) {} } => continue,
                        _ = shutdown.wait_for(|s| *s) => break,
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.sleep) => {}
                    _ = shutdown.wait_for(|s| *s) => break,
                }
                continue;
            }
            for message in messages {
                let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
                self.slots.busy.fetch_add(1, Ordering::SeqCst);
                let slot = SlotTaken { permit: Some(permit), worker: self.clone() };
                let cancel = cancel_rx.clone();
                running.spawn(async move {
                    let outcome = slot.worker.handle(&message, cancel).await;
                    tracing::debug!(message_id = %message.message_id, ?outcome, "Message handled.");
                    drop(slot);
                });
            }
        }
        while self.reaped(running.try_join_next()) {}
        if !running.is_empty() {
            tracing::info!(running = running.len(), grace = ?self.settings.grace, "Stopping: waiting for running jobs.");
            let drained =
                tokio::time::timeout(self.settings.grace, async { while self.reaped(running.join_next().await) {} })
                    .await;
            if drained.is_err() {
                tracing::warn!(
                    running = running.len(),
                    "Grace period over: stopping running jobs and releasing their messages."
                );
                let _ = cancel_tx.send(true);
                while self.reaped(running.join_next().await) {}
            }
        }
        tracing::info!("Worker stopped.");
        Ok(())
    }

    /// Whether a handling was reaped (false when none had ended); one that panicked is counted
    /// dead and logged with what it said.
    fn reaped(&self, joined: Option<Result<(), tokio::task::JoinError>>) -> bool {
        match joined {
            None => false,
            Some(Ok(())) => true,
            Some(Err(e)) => {
                if e.is_panic() {
                    self.slots.died.fetch_add(1, Ordering::SeqCst);
                    let payload = e.into_panic();
                    let said = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(panic = %said, "A message's handling panicked: its run is left to its lease.");
                }
                true
            }
        }
    }

    async fn dead_letter(&self, message: &QueueMessage, reason: String) -> Handled {
        // A reason may quote the message (a realm, a job id): never more than ECHO_LIMIT of it.
        let reason = bounded(&reason, ECHO_LIMIT).into_owned();
        tracing::error!(message_id = %message.message_id, reason = %reason, "Message cannot run.");
        if let Some(dlq) = &self.settings.dead_letter_url {
            let out = OutgoingMessage {
                body: message.body.clone(),
                attributes: vec![
                    ("lava-reason".into(), reason.clone()),
                    ("lava-worker".into(), self.settings.worker.clone()),
                ],
                ..Default::default()
            };
            if let Err(e) = self.queue.send(dlq, &out).await {
                tracing::error!(error = %e, "Cannot dead-letter the message; leaving it on the queue.");
                return Handled::Released(format!("{reason} (dead-letter failed: {e})"));
            }
        }
        if let Err(e) = self.queue.delete(&self.settings.queue_url, &message.receipt_handle).await {
            tracing::error!(error = %e, "Cannot delete a dead-lettered message.");
        }
        Handled::DeadLettered(reason)
    }

    async fn release(&self, message: &QueueMessage, reason: String) -> Handled {
        tracing::warn!(message_id = %message.message_id, reason = %reason, "Message released for another try.");
        if let Err(e) = self.queue.set_visibility(&self.settings.queue_url, &message.receipt_handle, 0).await {
            tracing::error!(error = %e, "Cannot release the message; it reappears when its visibility times out.");
        }
        Handled::Released(reason)
    }

    /// A message that could not start for a passing reason: back on the queue after a pause
    /// that doubles with each such failure here (1 s, 2 s, … at most 5 minutes), so one
    /// message never makes a worker spin; after `WORKER_MAX_RECEIVES` of them it is rejected
    /// and dead-lettered. Only these failures count, not the message's receives: copies that
    /// waited for a lease or were released at a shutdown are no sign of a bad message.
    async fn retry_later(&self, message: &QueueMessage, msg: &WorkerMessage, reason: String) -> Handled {
        let most = self.runner.config.get(keys::WORKER_MAX_RECEIVES).max(1);
        let failures = {
            let mut counts = self.start_failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if counts.len() > 10_000 {
                counts.clear();
            }
            let count = counts.entry(message.message_id.clone()).or_insert(0);
            *count += 1;
            *count
        };
        if i64::from(failures) >= most {
            self.start_failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&message.message_id);
            let reason = format!("{reason} (could not start {failures} times)");
            self.reject(&msg.job_id, &msg.run_id, &msg.ts_dispatch, &reason).await;
            return self.dead_letter(message, reason).await;
        }
        let pause = backoff_seconds(failures);
        tracing::warn!(message_id = %message.message_id, reason = %reason, retry_in_seconds = pause, "Message cannot start yet: it comes back later.");
        if let Err(e) = self.queue.set_visibility(&self.settings.queue_url, &message.receipt_handle, pause).await {
            tracing::error!(error = %e, "Cannot hide the message; it reappears when its visibility times out.");
        }
        Handled::Released(reason)
    }

    /// Records a `rejected` event for a message that cannot run, where its job and run are known.
    async fn reject(&self, job_id: &str, run_id: &str, ts_dispatch: &str, reason: &str) {
        let reason = bounded(reason, ECHO_LIMIT);
        if let Err(e) =
            self.runner.recorder.record(job_id, run_id, ts_dispatch, EventStatus::Rejected, json!(reason)).await
        {
            tracing::error!(error = %e, "Cannot record the rejection.");
        }
    }

    /// Validates, runs and acknowledges one message.
    pub async fn handle(&self, message: &QueueMessage, cancel: watch::Receiver<bool>) -> Handled {
        // Every line logged while the message is handled (runners, connections, SQL) carries
        // its ids; job_id and run_id are filled in once the body is read.
        let span = tracing::info_span!("message", message_id = %message.message_id, job_id = Empty, run_id = Empty);
        self.handle_in_span(message, cancel).instrument(span).await
    }

    async fn handle_in_span(&self, message: &QueueMessage, cancel: watch::Receiver<bool>) -> Handled {
        let s = &self.settings;
        let parsed = WorkerMessage::parse(&message.body);
        let raw: Option<Value> = serde_json::from_str(&message.body).ok();
        let field = |name: &str| raw.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_string);
        let (job_id, run_id, ts_dispatch) = match &parsed {
            Ok(m) => (Some(m.job_id.clone()), Some(m.run_id.clone()), m.ts_dispatch.clone()),
            // No event can be recorded under a job id the tables refuse.
            Err(_) => (
                field("job_id")
                    .filter(|j| !j.is_empty() && j.len() <= crate::model::limits::DYNAMODB_PARTITION_KEY_BYTES),
                field("run_id"),
                field("ts_dispatch").unwrap_or_default(),
            ),
        };
        let span = tracing::Span::current();
        if let Some(job_id) = &job_id {
            span.record("job_id", bounded(job_id, ECHO_LIMIT).as_ref());
        }
        if let Some(run_id) = &run_id {
            span.record("run_id", bounded(run_id, ECHO_LIMIT).as_ref());
        }
        let event_run =
            run_id.clone().filter(|r| uuid::Uuid::parse_str(r).is_ok()).unwrap_or_else(|| message.message_id.clone());
        let reject = |reason: String| async move {
            if let Some(job_id) = &job_id {
                self.reject(job_id, &event_run, &ts_dispatch, &reason).await;
            }
            self.dead_letter(message, reason).await
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => return reject(e.to_string()).await,
        };
        if msg.realm != s.realm {
            return reject(format!("Wrong realm: expected {} but got {}", s.realm, msg.realm)).await;
        }
        if msg.worker != s.worker {
            return reject(format!("Wrong worker: expected {} but got {}", s.worker, msg.worker)).await;
        }
        if self.active_runs().contains_key(&msg.run_id) {
            let until = jiff::Timestamp::now().as_second() + i64::from(s.visibility_seconds);
            return self.wait_for_lease(message, self.leases.owner(), until).await;
        }
        // The claim and the job spec are independent: one round trip for both. The lease runs
        // from no earlier than now.
        let claimed_at = tokio::time::Instant::now();
        let (claim, job) = tokio::join!(self.leases.claim(&msg.job_id, &msg.run_id), self.catalog.job(&msg.job_id));
        let attempt = match claim {
            // A key the table refuses (too long, malformed) never gets better.
            Err(e) if e.retry() == Retry::Permanent => return reject(format!("Cannot claim the run: {e}")).await,
            Err(e) => return self.retry_later(message, &msg, format!("Cannot claim the run: {e}")).await,
            Ok(Claim::Finished) => return self.drop_duplicate(message, &msg).await,
            Ok(Claim::Held { owner, until }) => return self.wait_for_lease(message, &owner, until).await,
            Ok(Claim::Claimed { attempt, predecessor }) => {
                match predecessor {
                    Predecessor::None => tracing::debug!(attempt, "Run claimed."),
                    Predecessor::Itself => tracing::info!(attempt, "Run claimed again by this worker."),
                    Predecessor::Released(previous) => {
                        tracing::info!(attempt, previous = %previous, "Run released by another worker at shutdown: starting it here.")
                    }
                    Predecessor::Expired(previous, until) => tracing::warn!(
                        attempt,
                        previous = %previous,
                        expired = until,
                        "Run taken over: the lease of the worker that started it expired."
                    ),
                }
                attempt
            }
        };
        // From here on the run is this worker's: whatever stops it short gives the lease up.
        let active = ActiveJob { job_id: msg.job_id.clone(), since: jiff::Timestamp::now() };
        self.active_runs().insert(msg.run_id.clone(), active);
        let _active = ActiveRun { worker: self, run_id: msg.run_id.clone() };
        let handled = self.run_claimed(message, &msg, job, (attempt, claimed_at), cancel).await;
        if let Handled::Released(_) = handled {
            match self.leases.release(&msg.job_id, &msg.run_id).await {
                Ok(()) => tracing::info!("Run's lease given up: its next copy starts it at once."),
                Err(e) => tracing::warn!(error = %e, "Cannot give the run's lease up; it expires by itself."),
            }
        }
        handled
    }

    /// The heartbeat of a running job: extends its message's visibility and renews its lease
    /// every heartbeat until the run is done (`None`), and says why the job must stop otherwise:
    /// shutdown, a lease another worker holds, or fencing. The lease is known held until a
    /// term after the last renewal that succeeded (counted from when it was sent); if no
    /// renewal gets through, the job is stopped one heartbeat before that end, so it is gone
    /// before another worker can take the run over (clocks within a heartbeat of each other,
    /// less the moment the kill takes), and this worker writes nothing more to the run.
    async fn keep_lease(
        &self,
        message: &QueueMessage,
        msg: &WorkerMessage,
        claimed_at: tokio::time::Instant,
        mut cancel: watch::Receiver<bool>,
        done: &mut watch::Receiver<bool>,
    ) -> Option<Stop> {
        let s = &self.settings;
        let term = Duration::from_secs(u64::from(s.visibility_seconds));
        // One heartbeat before the end (the term is three of them; a third of it if the two
        // were ever set apart).
        let margin = s.heartbeat_every.min(term / 3);
        // When the last renewal that got through was sent (the claim at first).
        let mut renewed = claimed_at;
        let fenced = |renewed: tokio::time::Instant| {
            tracing::error!(
                unrenewed_seconds = renewed.elapsed().as_secs(),
                "The run's lease could not be renewed: stopping the job before the lease ends (fencing); the message is left for the next holder."
            );
            Some(Stop::LeaseLost)
        };
        loop {
            let fence_at = renewed + term - margin;
            tokio::select! {
                _ = tokio::time::sleep(s.heartbeat_every) => {}
                _ = done.wait_for(|done| *done) => return None,
                Ok(_) = cancel.wait_for(|c| *c) => return Some(Stop::Shutdown),
                _ = tokio::time::sleep_until(fence_at) => return fenced(renewed),
            }
            let sent = tokio::time::Instant::now();
            let renewal = async {
                tokio::join!(
                    self.queue.set_visibility(&s.queue_url, &message.receipt_handle, s.visibility_seconds),
                    self.leases.renew(&msg.job_id, &msg.run_id),
                )
            };
            let (visibility, lease) = tokio::select! {
                answers = renewal => answers,
                _ = done.wait_for(|done| *done) => return None,
                _ = tokio::time::sleep_until(fence_at) => return fenced(renewed),
            };
            if let Err(e) = visibility {
                tracing::warn!(error = %e, "Cannot extend the message's visibility.");
            }
            match lease {
                Ok(true) => renewed = sent,
                Ok(false) => {
                    tracing::error!("The run's lease was taken over by another worker: stopping the run here.");
                    return Some(Stop::LeaseLost);
                }
                Err(e) => tracing::warn!(error = %e, "Cannot renew the run's lease."),
            }
        }
    }

    async fn run_claimed(
        &self,
        message: &QueueMessage,
        msg: &WorkerMessage,
        job: crate::Result<crate::model::JobSpec>,
        (attempt, claimed_at): (u32, tokio::time::Instant),
        cancel: watch::Receiver<bool>,
    ) -> Handled {
        let s = &self.settings;
        let reject = |reason: String| async move {
            self.reject(&msg.job_id, &msg.run_id, &msg.ts_dispatch, &reason).await;
            self.dead_letter(message, reason).await
        };
        if s.retries >= 0 && i64::from(attempt) > s.retries + 1 {
            return reject(format!("Retry limit exceeded: started {attempt} times")).await;
        }
        let job = match job {
            Ok(job) => job,
            Err(Error::NotFound { .. }) => return reject(format!("{}: No such job", msg.job_id)).await,
            Err(e) if e.retry() == Retry::Transient => return self.retry_later(message, msg, e.to_string()).await,
            Err(e) => return reject(format!("{}: {e}", msg.job_id)).await,
        };
        if job.worker != s.worker {
            return reject(format!(
                "Job {}: Worker mismatch: Expected {} but got {}",
                job.job_id, s.worker, job.worker
            ))
            .await;
        }
        if let Some(max) = job.max_tries
            && max > 0
            && max < i64::from(attempt)
        {
            return reject(format!("max_tries exceeded: started {attempt} times, max_tries is {max}")).await;
        }
        let reserved: Vec<String> =
            job.globals_map().keys().filter(|k| crate::model::validation::is_reserved_name(k)).cloned().collect();
        if !reserved.is_empty() {
            return reject(format!("Reserved global: {}", reserved.join(", "))).await;
        }

        // The run stops when the worker shuts down (after its grace) or loses the run's lease.
        let (stop_tx, stop_rx) = watch::channel(None);
        let (done_tx, mut done_rx) = watch::channel(false);
        let heartbeat = async {
            if let Some(stop) = self.keep_lease(message, msg, claimed_at, cancel.clone(), &mut done_rx).await {
                let _ = stop_tx.send(Some(stop));
                let _ = done_rx.wait_for(|done| *done).await;
            }
        };
        let run = async {
            let outcome = self.runner.run_attempt(msg, &job, stop_rx, attempt, Some(self.leases.owner())).await;
            let _ = done_tx.send(true);
            outcome
        };
        let (outcome, ()) = tokio::join!(run, heartbeat);
        match outcome {
            Ok(RunOutcome::Cancelled(Stop::Shutdown)) => self.release(message, "Worker shutting down".into()).await,
            Ok(RunOutcome::Cancelled(Stop::LeaseLost)) => Handled::LeaseLost,
            Err(e) if e.is_lease_lost() => {
                tracing::error!(
                    "The run's lease was taken over by another worker: its event was not written; stopping the run here."
                );
                Handled::LeaseLost
            }
            Ok(outcome) => {
                if let Err(e) = self.queue.delete(&s.queue_url, &message.receipt_handle).await {
                    tracing::error!(error = %e, "Cannot delete a finished message.");
                }
                Handled::Ran(outcome)
            }
            Err(e) => self.release(message, format!("{}: {e}", msg.job_id)).await,
        }
    }

    fn active_runs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, ActiveJob>> {
        self.active.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of a message whose run has ended: deleted, the events untouched. The run's final
    /// event is published again first, where the realm publishes it: the worker that ended the
    /// run may have stopped before it could (the copy then comes back later if the bus refuses).
    async fn drop_duplicate(&self, message: &QueueMessage, msg: &WorkerMessage) -> Handled {
        if let Some(publisher) = self.runner.recorder.publisher()
            && let Err(e) = self.publish_final(publisher, msg).await
        {
            tracing::error!(error = %e, "Cannot publish the ended run's final event: its copy comes back in a minute.");
            if let Err(e) = self.queue.set_visibility(&self.settings.queue_url, &message.receipt_handle, 60).await {
                tracing::warn!(error = %e, "Cannot hide the copy; it comes back at its visibility timeout.");
            }
            return Handled::Released(format!("Cannot publish the run's final event: {e}"));
        }
        tracing::info!("Duplicate copy of a run that has ended: deleting it.");
        if let Err(e) = self.queue.delete(&self.settings.queue_url, &message.receipt_handle).await {
            tracing::error!(error = %e, "Cannot delete the duplicate copy.");
        }
        Handled::Duplicate
    }

    async fn publish_final(
        &self,
        publisher: &crate::run_events::RunEventPublisher,
        msg: &WorkerMessage,
    ) -> crate::Result<()> {
        let Some(run) = self.catalog.history().run(&msg.job_id, &msg.run_id).await? else { return Ok(()) };
        let Some(last) = run.log.iter().rev().find(|e| e.status.ends_run()) else { return Ok(()) };
        let origin = crate::run_events::RunOrigin {
            job_id: &run.job_id,
            run_id: &run.run_id,
            ts_dispatch: &run.ts_dispatch,
            worker: &run.worker,
        };
        publisher.publish(&origin, std::slice::from_ref(last)).await
    }

    /// A copy of a message whose run another worker holds: it stays invisible until the lease
    /// would end, then comes back to find the run ended (deleted), still held (waits again) or
    /// abandoned (taken over).
    async fn wait_for_lease(&self, message: &QueueMessage, owner: &str, until: i64) -> Handled {
        let left = (until - jiff::Timestamp::now().as_second()).max(0) + 1;
        let wait = left.clamp(1, i64::from(crate::model::limits::SQS_MAX_VISIBILITY)) as u32;
        tracing::info!(holder = %owner, wait_seconds = wait, "Duplicate copy of a run another worker holds: it waits.");
        if let Err(e) = self.queue.set_visibility(&self.settings.queue_url, &message.receipt_handle, wait).await {
            tracing::warn!(error = %e, "Cannot hide the waiting copy; it comes back at its visibility timeout.");
        }
        Handled::Waiting(owner.to_string())
    }
}

/// What the command line decides.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Realm.
    pub realm: String,
    /// Worker name.
    pub worker: String,
    /// Queue name override.
    pub queue: Option<String>,
    /// Jobs at once.
    pub threads: usize,
    /// Long-poll wait.
    pub wait_seconds: u32,
    /// Sleep after an empty poll.
    pub sleep: Duration,
    /// `--retries`.
    pub retries: i64,
    /// `--batch`.
    pub batch: bool,
    /// `--dev`.
    pub dev: bool,
    /// Shutdown grace period.
    pub grace: Duration,
    /// Visibility heartbeat period.
    pub heartbeat_every: Duration,
    /// How often the heartbeat line is logged (`--heartbeat`; none: never).
    pub log_heartbeat: Option<Duration>,
    /// The worker's ECS task or EC2 instance id (see [`crate::health::instance_id`]).
    pub instance_id: Option<String>,
    /// Run directory root override.
    pub tmpdir: Option<std::path::PathBuf>,
    /// The process environment (configuration and names come from it).
    pub env: Vec<(String, String)>,
}

/// Loads the realm, resolves the queues and builds a ready worker.
pub async fn build(options: WorkerOptions, deps: crate::ports::Ports) -> crate::Result<Arc<Worker>> {
    use crate::names::ResourceNames;
    let lookup = |k: &str| options.env.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone());
    let names = ResourceNames::with_overrides(&options.realm, lookup);
    let catalog = Catalog::new(deps.tables.clone(), names.clone());
    let queue_name = options.queue.clone().unwrap_or_else(|| names.worker_queue(&options.worker));
    let dead_letter_name = ResourceNames::dead_letter_queue(&queue_name);
    // The start-up lookups are independent: one round trip instead of four.
    let (realm, queue_url, dead_letter_url, actions_url) = tokio::join!(
        catalog.realm(),
        deps.queues.queue_url(&queue_name),
        deps.queues.queue_url(&dead_letter_name),
        deps.queues.queue_url(&names.actions_queue),
    );
    let (realm, queue_url, dead_letter_url) = (realm?, queue_url?, dead_letter_url.ok());
    let config = crate::config::Config::new(options.env.clone(), realm.config.as_ref());
    if dead_letter_url.is_none() {
        tracing::warn!(queue = %queue_name, "No dead-letter queue: messages that cannot run are deleted after logging.");
    }
    let temp = crate::model::S3Location::parse(&realm.s3_temp).map_err(|e| Error::config("s3_temp", e))?;
    let encryption = crate::ports::Encryption::for_realm(&realm);
    let actions: Arc<dyn crate::run::ActionSink> = match actions_url {
        Ok(url) if !options.dev => {
            Arc::new(crate::run::QueuedActions::new(deps.queues.clone(), url, deps.blobs.clone(), temp, encryption))
        }
        _ => Arc::new(crate::run::InProcessActions::new(Arc::new(crate::actions::services(
            realm.clone(),
            names.clone(),
            config.clone(),
            &deps,
        )))),
    };
    let state = crate::state::StateStore::new(deps.tables.clone(), deps.keys.clone(), names.clone(), config.clone());
    let root = options.tmpdir.clone().unwrap_or_else(|| std::path::PathBuf::from(config.get(keys::TMPDIR)));
    let run_root = root.join(&options.realm).join(format!("{}.{}", options.worker, std::process::id()));
    std::fs::create_dir_all(&run_root).map_err(|e| Error::io(format!("creating {}", run_root.display()), e))?;
    let ttl = config.get(keys::EVENT_TTL) as i64;
    let publisher = crate::run_events::RunEventPublisher::configured(deps.bus.clone(), &options.realm, &config)?;
    let recorder = crate::recorder::EventRecorder::new(
        deps.events.clone(),
        &names.events_table,
        &options.worker,
        ttl,
        jiff::tz::TimeZone::system(),
    )
    .with_publisher(publisher)
    .with_instance_id(options.instance_id.clone());
    let connections = crate::connections::Connections::new(catalog.clone(), deps.secrets.clone(), config.clone())
        .with_blobs(deps.blobs.clone());
    #[cfg(feature = "docker")]
    let containers: Option<Arc<dyn crate::ports::ContainerEngine>> =
        Some(Arc::new(crate::docker_engine::DockerEngine::local()));
    #[cfg(not(feature = "docker"))]
    let containers: Option<Arc<dyn crate::ports::ContainerEngine>> = None;
    // A run's lease lasts as long as its message's visibility: renewed together by the heartbeat.
    let leases = RunLeases::new(deps.events.clone(), &names.events_table, lease_term(options.heartbeat_every), ttl);
    let runner = JobRunner {
        containers,
        tasks: deps.tasks.clone(),
        connections,
        realm,
        worker: options.worker.clone(),
        config,
        recorder,
        state,
        blobs: deps.blobs.clone(),
        names,
        renderer: crate::render::Renderer::default(),
        run_root,
        dev: options.dev,
        actions,
        catalog: catalog.clone(),
        queues: deps.queues.clone(),
        metrics: deps.metrics.clone(),
    };
    let settings = worker_settings(&options, queue_url, dead_letter_url);
    Ok(Arc::new(Worker {
        settings,
        runner: Arc::new(runner),
        catalog,
        queue: deps.queues,
        leases,
        active: Default::default(),
        slots: Slots::new(options.threads),
        start_failures: Default::default(),
    }))
}

/// The poll loop's settings from the worker's options and its queues.
fn worker_settings(options: &WorkerOptions, queue_url: String, dead_letter_url: Option<String>) -> WorkerSettings {
    WorkerSettings {
        realm: options.realm.clone(),
        worker: options.worker.clone(),
        queue_url,
        dead_letter_url,
        threads: options.threads,
        wait_seconds: options.wait_seconds,
        sleep: options.sleep,
        retries: options.retries,
        batch: options.batch,
        heartbeat_every: options.heartbeat_every,
        visibility_seconds: lease_term(options.heartbeat_every) as u32,
        grace: options.grace,
        log_heartbeat: options.log_heartbeat,
        instance_id: options.instance_id.clone(),
    }
}

/// How long a message that could not start for a passing reason stays away after its
/// `failures`-th such failure: 1 s, doubling, at most 5 minutes.
fn backoff_seconds(failures: u32) -> u32 {
    (1u32 << failures.saturating_sub(1).min(9)).min(300)
}

/// Each heartbeat extends a message's visibility and its run's lease by three heartbeats (at
/// least 6 s): a renewal may fail once and be made at the next heartbeat, and a job whose
/// renewals all fail is stopped a heartbeat before the lease ends (fencing, `keep_lease`); a
/// crashed worker's run is back within about three heartbeats.
fn lease_term(heartbeat: Duration) -> i64 {
    (heartbeat.as_secs() as i64 * 3).max(6)
}

impl Worker {
    /// Removes the worker's private directory (at exit).
    pub fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.runner.run_root);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_that_cannot_start_stays_away_longer_each_time() {
        let pauses: Vec<u32> = [0, 1, 2, 3, 9, 10, 50].into_iter().map(super::backoff_seconds).collect();
        assert_eq!(pauses, [1, 1, 2, 4, 256, 300, 300]);
    }
}
