//! The scheduler's actor: the one task that owns the running jobs and reconciles them with
//! the stored queue on every nudge or poll (start what the limits allow, stop what is no
//! longer Running, back off and re-run network failures, publish events and progress).
//! [`Scheduler`](super::Scheduler) is the handle that sends it nudges.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::mpsc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::events::Event;
use super::limits::Grant;
use super::runner::{JobContext, JobReport, JobRunner};
use super::{lock, store_error, Config, Nudge, Outcome, Scope, Shared};
use super::{events, limits};

use crate::error::{Error, ErrorKind, Recovery, Result};
use crate::retry::RetryBudget;
use crate::job::{JobCounters, JobId, JobRecord, JobState};
use crate::transfer::{Asker, Progress, RateLimit, Throttle};

pub(super) struct RunningJob {
    host: String,
    grant: Grant,
    task: JoinHandle<()>,
}

pub(super) struct Actor {
    pub(super) shared: Arc<Shared>,
    pub(super) runner: Arc<dyn JobRunner>,
    pub(super) config: Config,
    pub(super) nudge: mpsc::UnboundedSender<Nudge>,
    pub(super) running: HashMap<JobId, RunningJob>,
    /// Jobs waiting out a retry backoff.
    pub(super) not_before: HashMap<JobId, Instant>,
    /// The tries left to each job being run (by its transfers and by re-runs), until it
    /// ends; a person's Retry starts a fresh one.
    pub(super) budgets: HashMap<JobId, RetryBudget>,
    /// The queue as last published.
    pub(super) seen: Vec<JobRecord>,
    pub(super) was_idle: bool,
}

impl Actor {
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Nudge>) {
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
