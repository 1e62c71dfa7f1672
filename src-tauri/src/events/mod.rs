//! Everything the Rust side tells the window unasked: the ONE place that maps engine events
//! to [`UiEvent`]s and sends them over the window's `tauri::ipc::Channel<UiEvent>`.
//!
//! Producers (the scheduler's one ordered stream of rows and progress, the prompter, the
//! sessions, the file watcher, the sandbox) push into an [`EventHub`]; one forwarding task
//! ([`forward`]) owns the channel and the batching:
//!
//! - job rows, removals, progress and local-folder changes are coalesced and flushed at most
//!   every [`FLUSH_EVERY`] (rows deduplicated by id, keeping the latest; only the latest
//!   progress), so 10,000 job changes a second are ~10 messages;
//! - prompts, overwrite questions, connection and sandbox changes go out at once (after
//!   whatever was batched before them, so the window sees them in order);
//! - with no channel subscribed yet, only the latest state is kept; a new channel (the window
//!   reloaded) gets the batched state and every question still open again;
//! - the engine's stream is ordered (no progress for a job follows the row saying it stopped),
//!   and batching keeps that order: a row drops its job from the progress batched before it,
//!   so a flush (rows first, progress last) never shows a finished row overwritten by older
//!   figures.
//!
//! It knows nothing of commands and never blocks a producer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use skiff_engine::engine::{SessionEvent, SessionState};
use skiff_engine::job::JobRecord;
use skiff_engine::scheduler::{Event, Scheduler};
use skiff_engine::transfer::Snapshot;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::convert;
use crate::ipc::{AppError, ConnectionState, JobProgress, JobState, JobView, UiEvent};

/// Batched events are flushed at most this often.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Where the forwarder's messages go: the window's channel (or a test's collector).
pub trait UiSink: Send + 'static {
    /// Deliver one event; false when the other side is gone.
    fn deliver(&self, event: UiEvent) -> bool;
}

impl UiSink for tauri::ipc::Channel<UiEvent> {
    fn deliver(&self, event: UiEvent) -> bool {
        self.send(event).is_ok()
    }
}

/// What producers hand the forwarder.
pub enum Input {
    /// The window's (new) channel.
    Subscribe(Box<dyn UiSink>),
    /// An event: batched or immediate according to its kind.
    Event(UiEvent),
    /// An overwrite question was answered: stop re-sending it.
    QuestionSettled(u64),
}

/// The producers' handle: cheap to clone, never blocks.
#[derive(Clone)]
pub struct EventHub {
    tx: mpsc::UnboundedSender<Input>,
}

impl EventHub {
    /// A hub and the receiver [`forward`] reads.
    pub fn new() -> (EventHub, mpsc::UnboundedReceiver<Input>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventHub { tx }, rx)
    }

    /// Send later events to `sink` (replacing the previous one).
    pub fn subscribe(&self, sink: impl UiSink) {
        let _ = self.tx.send(Input::Subscribe(Box::new(sink)));
    }

    pub fn emit(&self, event: UiEvent) {
        let _ = self.tx.send(Input::Event(event));
    }

    pub fn question_settled(&self, question: u64) {
        let _ = self.tx.send(Input::QuestionSettled(question));
    }
}

/// The engine's queue events as window events (`None`: nothing to tell the window).
pub fn from_scheduler(event: Event) -> Option<UiEvent> {
    Some(match event {
        Event::JobAdded { job } | Event::JobChanged { job } => UiEvent::Jobs {
            jobs: vec![convert::job_view(&job)],
        },
        Event::JobsRemoved { ids } => UiEvent::JobsRemoved { ids },
        Event::RetryScheduled {
            id,
            retry,
            in_ms,
            error,
        } => UiEvent::RetryScheduled {
            id,
            retry,
            in_ms,
            error,
        },
        Event::OverwriteAsked {
            question,
            job,
            path,
            rel: _,
            source,
            existing,
        } => UiEvent::OverwriteAsked {
            question,
            job,
            path,
            source_size: source.size,
            source_mtime: source.mtime,
            existing_size: existing.size,
            existing_mtime: existing.mtime,
        },
        Event::Progress { snapshot } => from_snapshot(&snapshot),
        Event::Idle => return None,
    })
}

/// A progress snapshot as a window event.
pub fn from_snapshot(s: &Snapshot) -> UiEvent {
    UiEvent::Progress {
        jobs: s
            .jobs
            .iter()
            .map(|j| JobProgress {
                id: j.id,
                bytes_done: j.bytes_done,
                bytes_total: j.bytes_total,
                files_done: j.files_done,
                files_total: j.files_total,
                speed: j.speed,
                eta_secs: j.eta.map(|d| d.as_secs_f64()),
            })
            .collect(),
        bytes_done: s.bytes_done,
        bytes_total: s.bytes_total,
        speed: s.speed,
    }
}

/// A browsing session's state change as a window event.
pub fn from_session(e: SessionEvent) -> UiEvent {
    UiEvent::Connection {
        session_id: e.id,
        label: e.label,
        state: match e.state {
            SessionState::Connecting => ConnectionState::Connecting,
            SessionState::Connected => ConnectionState::Connected,
            SessionState::Reconnecting => ConnectionState::Reconnecting,
            SessionState::Disconnected => ConnectionState::Disconnected,
        },
        error: e.error.map(AppError::from),
    }
}

/// Feed the scheduler's one ordered stream into `hub` until the scheduler stops. A
/// receiver that fell behind re-reads the whole queue instead of missing changes.
pub fn pump_scheduler(hub: EventHub, scheduler: Scheduler) {
    let mut events = scheduler.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::Progress { snapshot }) => hub.emit(from_snapshot(&snapshot)),
                Ok(e) => {
                    if let Some(ev) = from_scheduler(e) {
                        hub.emit(ev);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let s = scheduler.clone();
                    if let Ok(Ok(jobs)) = tokio::task::spawn_blocking(move || s.jobs()).await {
                        hub.emit(UiEvent::Jobs {
                            jobs: jobs.iter().map(convert::job_view).collect::<Vec<_>>(),
                        });
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// What is waiting for the next flush.
#[derive(Default)]
struct Batch {
    rows: Vec<JobView>,
    row_index: HashMap<i64, usize>,
    removed: Vec<i64>,
    progress: Option<UiEvent>,
    local: Vec<String>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.rows.is_empty()
            && self.removed.is_empty()
            && self.progress.is_none()
            && self.local.is_empty()
    }

    fn add_rows(&mut self, jobs: Vec<JobView>) {
        for job in jobs {
            match self.row_index.get(&job.id) {
                Some(&i) => self.rows[i] = job,
                None => {
                    self.row_index.insert(job.id, self.rows.len());
                    self.rows.push(job);
                }
            }
        }
    }

    fn remove(&mut self, ids: Vec<i64>) {
        if ids.iter().any(|id| self.row_index.contains_key(id)) {
            self.rows.retain(|r| !ids.contains(&r.id));
            self.row_index = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id, i))
                .collect();
        }
        for id in ids {
            if !self.removed.contains(&id) {
                self.removed.push(id);
            }
        }
    }

    /// The batched events, in order: rows, removals, local changes, progress.
    fn take(&mut self) -> Vec<UiEvent> {
        let mut out = Vec::new();
        self.row_index.clear();
        if !self.rows.is_empty() {
            out.push(UiEvent::Jobs {
                jobs: std::mem::take(&mut self.rows),
            });
        }
        if !self.removed.is_empty() {
            out.push(UiEvent::JobsRemoved {
                ids: std::mem::take(&mut self.removed),
            });
        }
        for path in self.local.drain(..) {
            out.push(UiEvent::LocalChanged { path });
        }
        out.extend(self.progress.take());
        out
    }
}

/// Inputs handled in one go before the forwarder looks at its flush timer again.
const DRAIN_AT_MOST: usize = 4096;

/// Job rows kept while no window is subscribed. Beyond this (a big queue loaded at startup)
/// they are dropped: a window that subscribes lists the whole queue with `jobs_list` anyway.
pub const UNSUBSCRIBED_ROWS: usize = 1000;

/// The forwarding task: reads `inputs` until every [`EventHub`] is dropped.
pub async fn forward(mut inputs: mpsc::UnboundedReceiver<Input>) {
    let mut f = Forwarder::default();
    loop {
        let due = (f.sink.is_some() && !f.batch.is_empty())
            .then(|| f.last_flush.map_or_else(Instant::now, |t| t + FLUSH_EVERY));
        tokio::select! {
            input = inputs.recv() => {
                let Some(first) = input else { break };
                f.handle(first);
                // Whatever is already queued joins the same batch.
                for _ in 0..DRAIN_AT_MOST {
                    match inputs.try_recv() {
                        Ok(i) => f.handle(i),
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => f.flush(),
        }
    }
}

#[derive(Default)]
struct Forwarder {
    sink: Option<Box<dyn UiSink>>,
    batch: Batch,
    /// Overwrite questions not answered yet, re-sent to a new channel.
    open_questions: BTreeMap<u64, UiEvent>,
    last_flush: Option<Instant>,
}

/// `progress` without the jobs in `ids`.
fn without_jobs(progress: &mut Option<UiEvent>, ids: &HashSet<i64>) {
    if let Some(UiEvent::Progress { jobs, .. }) = progress {
        jobs.retain(|j| !ids.contains(&j.id));
    }
}

impl Forwarder {
    fn flush(&mut self) {
        let events = self.batch.take();
        deliver(&mut self.sink, events);
        self.last_flush = Some(Instant::now());
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Subscribe(s) => {
                self.sink = Some(s);
                let events = self.open_questions.values().cloned().collect();
                deliver(&mut self.sink, events);
            }
            Input::QuestionSettled(q) => {
                self.open_questions.remove(&q);
            }
            Input::Event(event) => match event {
                UiEvent::Jobs { jobs } => {
                    // A question of a job that stopped running will not be answered.
                    for j in &jobs {
                        if j.state != JobState::Running {
                            self.open_questions.retain(|_, q| !matches!(q, UiEvent::OverwriteAsked { job, .. } if *job == j.id));
                        }
                    }
                    // The row is newer than the progress batched before it (the stream is
                    // ordered) and the flush sends rows first: keep the row's figures.
                    let ids: HashSet<i64> = jobs.iter().map(|j| j.id).collect();
                    without_jobs(&mut self.batch.progress, &ids);
                    self.batch.add_rows(jobs);
                    if self.sink.is_none() && self.batch.rows.len() > UNSUBSCRIBED_ROWS {
                        self.batch.rows.clear();
                        self.batch.row_index.clear();
                    }
                }
                UiEvent::JobsRemoved { ids } => {
                    without_jobs(&mut self.batch.progress, &ids.iter().copied().collect());
                    self.batch.remove(ids)
                }
                p @ UiEvent::Progress { .. } => self.batch.progress = Some(p),
                UiEvent::LocalChanged { path } => {
                    if !self.batch.local.contains(&path) {
                        self.batch.local.push(path);
                    }
                }
                immediate => {
                    if let UiEvent::OverwriteAsked { question, .. } = &immediate {
                        // Kept for a channel that comes later; sent now if there is one.
                        self.open_questions.insert(*question, immediate.clone());
                    }
                    if self.sink.is_none() {
                        return;
                    }
                    // What was batched before it goes first, so the window sees the order.
                    if !self.batch.is_empty() {
                        self.flush();
                    }
                    deliver(&mut self.sink, vec![immediate]);
                }
            },
        }
    }
}

/// Send `events` in order; a channel that fails is dropped until the window subscribes again.
fn deliver(sink: &mut Option<Box<dyn UiSink>>, events: Vec<UiEvent>) {
    if let Some(s) = sink {
        for e in events {
            if !s.deliver(e) {
                tracing::debug!("the window's channel is gone; waiting for a new subscription");
                *sink = None;
                break;
            }
        }
    }
}

/// The rows of `jobs` (the queue in run order), for `jobs_list`.
pub fn rows(jobs: &[JobRecord]) -> Vec<JobView> {
    jobs.iter().map(convert::job_view).collect()
}

#[cfg(test)]
mod tests;
