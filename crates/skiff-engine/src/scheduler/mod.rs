//! The transfer scheduler: runs the persisted [`Queue`] of jobs within limits, retries what
//! the network broke, and tells front ends what happens as typed [`Event`]s.
//!
//! - The queue in SQLite is the truth. Every command (pause, resume, cancel, retry, move,
//!   priority) is a store write followed by a nudge; the scheduler then *reconciles*: it stops
//!   running jobs whose stored state is no longer Running, starts queued jobs the
//!   [`limits::plan`] allows (claiming each in the store, so two processes never run one job),
//!   and emits the [`events::diff`] between the queue it saw last and the queue now. The
//!   same reconcile runs every `poll` interval, so `skiff queue pause 7` typed in another
//!   terminal stops job 7 here within that interval, and jobs added elsewhere start.
//! - A job runs as one task through a [`JobRunner`]; stopping it drops its future (the
//!   transfer's partial files and its persisted finished files stay, so it resumes).
//! - A run that fails with a network error ([`Recovery::Reconnect`]) goes back to Queued
//!   and waits out a backoff before it may start again, while the job's one
//!   [`RetryBudget`] lasts: its transfers' own reconnects draw from the same budget, so
//!   retries never nest. Any other failure marks it Failed with the error, and entry
//!   failures inside a tree never stop the other files.
//! - Progress is sampled by an [`Accountant`] and published as coalesced snapshots at
//!   [`SNAPSHOT_HZ`], whatever the number of files, in the same ordered [`stream`] as the
//!   state events: no progress for a job follows the event that says it stopped.
//!
//! There is no Tauri here: the window and the CLI are both front ends of this module.

pub mod events;
pub mod limits;
pub mod runner;
mod stream;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use stream::Stream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use events::{Event, StampView};
pub use limits::{Grant, Limits};
pub use runner::{ConnectFor, JobContext, JobReport, JobRunner, SftpJobRunner};

use crate::error::{Error, ErrorKind, Recovery, Result};
use crate::retry::RetryBudget;
use crate::job::{JobCounters, JobId, JobRecord, JobSpec, JobState};
use crate::store::{runner as runner_id, Queue, StoreError};
use crate::transfer::{Accountant, Asker, OverwriteAnswer, Progress, RateLimit, Throttle};

/// Progress snapshots published per second.
pub const SNAPSHOT_HZ: u32 = 10;

/// Which jobs this scheduler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every queued job (the window, `skiff queue resume`).
    All,
    /// Only these (and the ones added through this scheduler): `skiff cp` runs its own job.
    Only(HashSet<JobId>),
}

/// How a scheduler behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// Bytes per second over all jobs; `None` = unlimited.
    pub speed_limit: Option<u64>,
    /// How often the store is re-read for changes made by other processes.
    pub poll: Duration,
    /// Whether a front end answers overwrite questions ("ask"). Without one, "ask" fails the
    /// conflicting file with a hint instead of waiting forever.
    pub can_ask: bool,
    pub scope: Scope,
    /// Whether a run that failed on the network is run again later (the window: it waits
    /// for the server to come back). Off (`skiff cp`), a job only has its transfers'
    /// reconnects, and a server that refuses the first connection fails it at once, as scp
    /// does. Either way the tries come from one [`RetryBudget`] of `limits.retry`.
    pub rerun_after_network_failure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            speed_limit: None,
            poll: Duration::from_millis(500),
            can_ask: false,
            scope: Scope::All,
            rerun_after_network_failure: true,
        }
    }
}

/// How a job's run in this process ended, for the front end that started it (the CLI maps
/// it to an exit code; the window shows the stored error).
#[derive(Debug)]
pub struct Outcome {
    pub state: JobState,
    pub report: Option<JobReport>,
    pub error: Option<Error>,
}

fn store_error(e: StoreError) -> Error {
    Error::new(ErrorKind::LocalIo, "update the queue", e.to_string()).path(e.to_string()).hint("check that the queue database's folder is writable")
}

enum Nudge {
    Reconcile,
    Finished { id: JobId, result: Result<JobReport> },
    Shutdown,
}

struct Shared {
    queue: Arc<Queue>,
    me: String,
    events: Arc<Stream>,
    accountant: Arc<Accountant>,
    global_limit: Arc<RateLimit>,
    job_limits: Mutex<HashMap<JobId, Arc<RateLimit>>>,
    progress: Mutex<HashMap<JobId, Arc<Progress>>>,
    outcomes: Mutex<HashMap<JobId, Outcome>>,
    questions: Mutex<HashMap<u64, oneshot::Sender<OverwriteAnswer>>>,
    next_question: AtomicU64,
    scope: Mutex<Scope>,
    idle: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running scheduler. Cheap to clone; dropping every clone does not stop it, call
/// [`Scheduler::shutdown`].
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
    nudge: mpsc::UnboundedSender<Nudge>,
}

impl Scheduler {
    /// Start scheduling `queue` with `runner`. Jobs a dead process left Running are queued
    /// again first, so they resume.
    pub fn start(queue: Arc<Queue>, runner: Arc<dyn JobRunner>, config: Config) -> Result<(Scheduler, JoinHandle<()>)> {
        queue.requeue_interrupted().map_err(store_error)?;
        let events = Arc::new(Stream::new());
        let accountant = Accountant::new();
        tokio::spawn(stream::pump_progress(events.clone(), accountant.subscribe()));
        tokio::spawn(accountant.clone().run(SNAPSHOT_HZ));
        let shared = Arc::new(Shared {
            queue,
            me: runner_id::this_process(),
            events,
            accountant,
            global_limit: RateLimit::new(config.speed_limit),
            job_limits: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            outcomes: Mutex::new(HashMap::new()),
            questions: Mutex::new(HashMap::new()),
            next_question: AtomicU64::new(1),
            scope: Mutex::new(config.scope.clone()),
            idle: watch::Sender::new(false),
        });
        let (nudge, rx) = mpsc::unbounded_channel();
        let actor = Actor {
            shared: shared.clone(),
            runner,
            config,
            nudge: nudge.clone(),
            running: HashMap::new(),
            not_before: HashMap::new(),
            budgets: HashMap::new(),
            seen: Vec::new(),
            was_idle: false,
        };
        let task = tokio::spawn(actor.run(rx));
        Ok((Scheduler { shared, nudge }, task))
    }

    /// The one ordered stream of state events and progress (at most [`SNAPSHOT_HZ`]
    /// snapshots a second); see [`stream`] for what its order promises. Lossy for a receiver
    /// that falls 4096 events behind: it should then re-read [`Scheduler::jobs`].
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The live progress of a running job.
    pub fn progress_of(&self, id: JobId) -> Option<Arc<Progress>> {
        lock(&self.shared.progress).get(&id).cloned()
    }

    /// Every job, in run order.
    pub fn jobs(&self) -> Result<Vec<JobRecord>> {
        self.shared.queue.list().map_err(store_error)
    }

    /// Queue a job at the end of its priority; it joins this scheduler's scope.
    pub fn add(&self, spec: &JobSpec, priority: i32) -> Result<JobId> {
        let id = self.shared.queue.add(spec, priority).map_err(store_error)?;
        if let Scope::Only(ids) = &mut *lock(&self.shared.scope) {
            ids.insert(id);
        }
        self.reconcile();
        Ok(id)
    }

    /// Run `id` (already in the queue) as part of this scheduler's scope.
    pub fn include(&self, id: JobId) {
        if let Scope::Only(ids) = &mut *lock(&self.shared.scope) {
            ids.insert(id);
        }
        self.reconcile();
    }

    fn job(&self, id: JobId) -> Result<JobRecord> {
        self.shared
            .queue
            .get(id)
            .map_err(store_error)?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "find the job", format!("there is no job {id}")).hint("the job list may have been cleared; refresh it"))
    }

    fn transition(&self, id: JobId, allowed: &[JobState], to: JobState, verb: &str) -> Result<()> {
        let job = self.job(id)?;
        if !allowed.contains(&job.state) {
            return Err(Error::new(ErrorKind::Config, verb, format!("job {id} is {}", job.state)).hint(format!(
                "only a job that is {} can be {verb}d",
                allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
            )));
        }
        self.shared.queue.set_state(id, to, None).map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    /// Hold a queued or running job; a running one stops at once and resumes later from
    /// what it already moved.
    pub fn pause(&self, id: JobId) -> Result<()> {
        self.transition(id, &[JobState::Queued, JobState::Running], JobState::Paused, "pause")
    }

    /// Queue a paused job again.
    pub fn resume(&self, id: JobId) -> Result<()> {
        self.transition(id, &[JobState::Paused], JobState::Queued, "resume")
    }

    /// Stop a job for good (its finished files stay; its partial file is left as
    /// `.skiffpart`).
    pub fn cancel(&self, id: JobId) -> Result<()> {
        self.transition(id, &[JobState::Queued, JobState::Running, JobState::Paused], JobState::Cancelled, "cancel")
    }

    /// Run a failed or cancelled job again; files it finished are not moved again.
    pub fn retry(&self, id: JobId) -> Result<()> {
        self.transition(id, &[JobState::Failed, JobState::Cancelled], JobState::Queued, "retry")?;
        self.shared.queue.bump_retries(id).map_err(store_error)?;
        self.include(id);
        Ok(())
    }

    pub fn move_up(&self, id: JobId) -> Result<()> {
        self.shared.queue.move_up(id).map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    pub fn move_down(&self, id: JobId) -> Result<()> {
        self.shared.queue.move_down(id).map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    /// Move a job to `index` among the jobs of its priority (0 = first).
    pub fn move_to(&self, id: JobId, index: usize) -> Result<()> {
        self.shared.queue.move_to(id, index).map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    /// Higher priorities run first.
    pub fn set_priority(&self, id: JobId, priority: i32) -> Result<()> {
        self.shared.queue.set_priority(id, priority).map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    /// Pause every queued and running job.
    pub fn pause_all(&self) -> Result<()> {
        self.shared.queue.pause_all().map_err(store_error)?;
        for job in self.jobs()? {
            if job.state == JobState::Running {
                self.shared.queue.set_state(job.id, JobState::Paused, None).map_err(store_error)?;
            }
        }
        self.reconcile();
        Ok(())
    }

    pub fn resume_all(&self) -> Result<()> {
        self.shared.queue.resume_all().map_err(store_error)?;
        self.reconcile();
        Ok(())
    }

    /// Remove done and cancelled jobs from the history.
    pub fn clear_finished(&self) -> Result<usize> {
        let n = self.shared.queue.clear_finished().map_err(store_error)?;
        self.reconcile();
        Ok(n)
    }

    /// The speed limit over all jobs, bytes per second (`None`: unlimited). Takes effect at
    /// once, also for running jobs.
    pub fn set_speed_limit(&self, limit: Option<u64>) {
        self.shared.global_limit.set_rate(limit);
    }

    /// One job's own speed limit, on top of the global one; kept with the job.
    pub fn set_job_speed_limit(&self, id: JobId, limit: Option<u64>) -> Result<()> {
        self.shared.queue.set_speed_limit(id, limit).map_err(store_error)?;
        if let Some(l) = lock(&self.shared.job_limits).get(&id) {
            l.set_rate(limit);
        }
        self.reconcile();
        Ok(())
    }

    /// Answer the overwrite question `question` (from [`Event::OverwriteAsked`]).
    pub fn answer(&self, question: u64, answer: OverwriteAnswer) -> Result<()> {
        let reply = lock(&self.shared.questions).remove(&question).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, "answer the overwrite question", format!("question {question} is no longer open"))
                .hint("its job was paused, cancelled or finished meanwhile")
        })?;
        let _ = reply.send(answer);
        Ok(())
    }

    /// How job `id`'s last run in this process ended, once it has (taken: asked once).
    pub fn take_outcome(&self, id: JobId) -> Option<Outcome> {
        lock(&self.shared.outcomes).remove(&id)
    }

    /// Wait until nothing in scope is running or waiting to run (paused jobs do not count).
    pub async fn idle(&self) {
        let mut rx = self.shared.idle.subscribe();
        let _ = rx.wait_for(|idle| *idle).await;
    }

    /// Re-read the store now instead of at the next poll.
    pub fn reconcile(&self) {
        // Not idle until the scheduler has looked: the change may have queued something.
        self.shared.idle.send_replace(false);
        let _ = self.nudge.send(Nudge::Reconcile);
    }

    /// Stop every running job (they stay Running in the store only until the next start of
    /// a scheduler, which queues them again) and end the scheduler.
    pub fn shutdown(&self) {
        let _ = self.nudge.send(Nudge::Shutdown);
    }
}

struct RunningJob {
    host: String,
    grant: Grant,
    task: JoinHandle<()>,
}

struct Actor {
    shared: Arc<Shared>,
    runner: Arc<dyn JobRunner>,
    config: Config,
    nudge: mpsc::UnboundedSender<Nudge>,
    running: HashMap<JobId, RunningJob>,
    /// Jobs waiting out a retry backoff.
    not_before: HashMap<JobId, Instant>,
    /// The tries left to each job being run (by its transfers and by re-runs), until it
    /// ends; a person's Retry starts a fresh one.
    budgets: HashMap<JobId, RetryBudget>,
    /// The queue as last published.
    seen: Vec<JobRecord>,
    was_idle: bool,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Nudge>) {
        let mut next_poll = Instant::now();
        loop {
            let woke = tokio::select! {
                n = rx.recv() => n,
                _ = tokio::time::sleep_until(next_poll) => Some(Nudge::Reconcile),
            };
            match woke {
                None | Some(Nudge::Shutdown) => break,
                Some(Nudge::Reconcile) => {}
                Some(Nudge::Finished { id, result }) => self.finished(id, result),
            }
            // Take every nudge already waiting: one reconcile covers them all.
            while let Ok(n) = rx.try_recv() {
                match n {
                    Nudge::Shutdown => return self.stop_all(),
                    Nudge::Reconcile => {}
                    Nudge::Finished { id, result } => self.finished(id, result),
                }
            }
            if let Err(e) = self.reconcile() {
                tracing::warn!("scheduler: {e}");
            }
            // A job waiting out a backoff is looked at when its wait ends, not at the next poll.
            let poll = Instant::now() + self.config.poll;
            next_poll = self.not_before.values().copied().fold(poll, Instant::min);
        }
        self.stop_all();
    }

    fn stop_all(&mut self) {
        for (id, job) in self.running.drain() {
            job.task.abort();
            self.shared.accountant.untrack(id);
        }
    }

    fn in_scope(&self, id: JobId) -> bool {
        match &*lock(&self.shared.scope) {
            Scope::All => true,
            Scope::Only(ids) => ids.contains(&id),
        }
    }

    fn reconcile(&mut self) -> Result<()> {
        let q = self.shared.queue.clone();
        let mut jobs = q.list().map_err(store_error)?;

        // Stop what someone paused, cancelled or removed (here or in another process).
        let still: HashSet<JobId> =
            jobs.iter().filter(|j| j.state == JobState::Running && j.runner.as_deref() == Some(self.shared.me.as_str())).map(|j| j.id).collect();
        let stopped: Vec<JobId> = self.running.keys().copied().filter(|id| !still.contains(id)).collect();
        for id in stopped {
            self.stop(id);
        }
        let counters: Vec<JobCounters> = {
            let progress = lock(&self.shared.progress);
            self.running.keys().filter_map(|id| progress.get(id).map(|p| counters_of(*id, p))).collect()
        };
        if let Err(e) = q.record_counters(&counters) {
            tracing::warn!("scheduler: {e}");
        }

        // Start what the limits allow.
        let queued: Vec<JobRecord> = jobs.iter().filter(|j| j.state == JobState::Queued && self.in_scope(j.id)).cloned().collect();
        let running: Vec<limits::Running> = self.running.values().map(|r| limits::Running { host: r.host.clone(), grant: r.grant }).collect();
        let now = Instant::now();
        self.not_before.retain(|_, t| *t > now);
        let mut started = false;
        for (id, grant) in limits::plan(&self.config.limits, &queued, &running, &self.not_before, now) {
            if q.claim(id, &self.shared.me).map_err(store_error)? {
                let job = queued.iter().find(|j| j.id == id).expect("planned from queued").clone();
                self.start(job, grant);
                started = true;
            }
        }
        if started {
            jobs = q.list().map_err(store_error)?;
        }

        for event in events::diff(&self.seen, &jobs) {
            self.shared.events.send(event);
        }
        let waiting = jobs.iter().any(|j| j.state == JobState::Queued && self.in_scope(j.id));
        let idle = self.running.is_empty() && !waiting;
        self.seen = jobs;
        if idle && !self.was_idle {
            self.shared.events.send(Event::Idle);
        }
        self.was_idle = idle;
        self.shared.idle.send_replace(idle);
        Ok(())
    }

    fn start(&mut self, job: JobRecord, grant: Grant) {
        let id = job.id;
        let progress = Arc::new(Progress::new());
        progress.set_total(job.bytes_total);
        lock(&self.shared.progress).insert(id, progress.clone());
        self.shared.accountant.track(id, progress.clone());
        let job_limit = RateLimit::new(job.spec.speed_limit);
        lock(&self.shared.job_limits).insert(id, job_limit.clone());
        let asker = self.config.can_ask.then(|| self.asker_for(id));
        let ctx = JobContext {
            grant,
            progress,
            throttle: Throttle::with(self.shared.global_limit.clone()).and(job_limit),
            asker,
            queue: self.shared.queue.clone(),
            retry: self.budgets.entry(id).or_insert_with(|| self.config.limits.retry.budget()).clone(),
        };
        let host = limits::host_key(&job.spec);
        let run = self.runner.run(job, ctx);
        let nudge = self.nudge.clone();
        let task = tokio::spawn(async move {
            // A panic anywhere in the job (a bug, whatever the server sent) ends this job as
            // failed; it never leaves it "running" with nobody to finish it.
            let result = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(panicked(&panic)),
            };
            let _ = nudge.send(Nudge::Finished { id, result });
        });
        self.running.insert(id, RunningJob { host, grant, task });
    }

    /// An asker whose questions become [`Event::OverwriteAsked`] events.
    fn asker_for(&self, job: JobId) -> Asker {
        let (asker, mut questions) = Asker::channel();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            while let Some((q, reply)) = questions.recv().await {
                let question = shared.next_question.fetch_add(1, Ordering::Relaxed);
                lock(&shared.questions).insert(question, reply);
                shared.events.send(Event::OverwriteAsked {
                    question,
                    job,
                    path: q.path,
                    rel: q.rel,
                    source: q.source.into(),
                    existing: q.existing.into(),
                });
            }
        });
        asker
    }

    /// Stop a running job whose stored state someone changed; that state stands.
    fn stop(&mut self, id: JobId) {
        if let Some(job) = self.running.remove(&id) {
            job.task.abort();
        }
        // A person stopped it: when it runs again, it has all its tries.
        self.budgets.remove(&id);
        self.forget(id);
    }

    fn forget(&mut self, id: JobId) {
        self.shared.accountant.untrack(id);
        lock(&self.shared.job_limits).remove(&id);
        if let Some(p) = lock(&self.shared.progress).remove(&id) {
            if let Err(e) = self.shared.queue.record_counters(&[counters_of(id, &p)]) {
                tracing::warn!("scheduler: {e}");
            }
        }
    }

    fn finished(&mut self, id: JobId, result: Result<JobReport>) {
        if self.running.remove(&id).is_none() {
            return; // stopped meanwhile: whoever stopped it set its state
        }
        self.forget(id);
        let q = self.shared.queue.clone();
        let outcome = match result {
            Ok(report) if report.errors.is_empty() => {
                Outcome { state: JobState::Done, report: Some(report), error: None }
            }
            Ok(report) => {
                for e in &report.errors {
                    let _ = q.record_file_error(id, e.path.as_deref().unwrap_or(""), &e.to_string());
                }
                let n = report.errors.len();
                let first = report.errors[0].clone();
                let error = first.clone().hint(format!("{n} entr{} failed; the others were copied. Retry the job to try them again", if n == 1 { "y" } else { "ies" }));
                Outcome { state: JobState::Failed, report: Some(report), error: Some(error) }
            }
            Err(e) if e.kind == ErrorKind::Cancelled => Outcome { state: JobState::Cancelled, report: None, error: Some(e) },
            Err(e) => {
                let again = self.config.rerun_after_network_failure && e.recovery() == Recovery::Reconnect;
                if let Some(attempt) = self.budgets.get(&id).filter(|_| again).and_then(RetryBudget::take) {
                    self.not_before.insert(id, Instant::now() + attempt.wait);
                    let _ = q.bump_retries(id);
                    let _ = q.set_state(id, JobState::Queued, None);
                    let (retry, in_ms) = (attempt.number, attempt.wait.as_millis() as u64);
                    self.shared.events.send(Event::RetryScheduled { id, retry, in_ms, error: e.to_string() });
                    return;
                }
                Outcome { state: JobState::Failed, report: None, error: Some(e) }
            }
        };
        // The run ended for good: a later Retry (or resume) gets a fresh budget.
        self.budgets.remove(&id);
        let message = outcome.error.as_ref().map(|e| e.to_string());
        if let Err(e) = q.set_state(id, outcome.state, message.as_deref()) {
            tracing::warn!("scheduler: {e}");
        }
        lock(&self.shared.outcomes).insert(id, outcome);
    }
}

/// What the store keeps of a job's live progress.
fn counters_of(id: JobId, p: &Progress) -> JobCounters {
    JobCounters {
        id,
        bytes_done: p.done(),
        bytes_total: p.total(),
        files_done: p.files_done(),
        files_total: p.files_total(),
        files_failed: p.files_failed(),
    }
}

/// The error a panicked job ends with.
fn panicked(panic: &(dyn std::any::Any + Send)) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    Error::new(ErrorKind::Protocol, "run job", format!("the job stopped on an internal error: {what}"))
        .hint("this is a bug in Skiff; retry the job, and report it with the log if it happens again")
}
