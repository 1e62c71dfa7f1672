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
mod actor;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use actor::Actor;
use stream::Stream;
use tokio::task::JoinHandle;

pub use events::{Event, StampView};
pub use limits::{Grant, Limits};
pub use runner::{ConnectFor, JobContext, JobReport, JobRunner, SftpJobRunner};

use crate::error::{Error, ErrorKind, Result};
use crate::job::{JobId, JobRecord, JobSpec, JobState};
use crate::store::{runner as runner_id, Queue, StoreError};
use crate::transfer::{Accountant, OverwriteAnswer, Progress, RateLimit};

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
