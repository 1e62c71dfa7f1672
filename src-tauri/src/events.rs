//! Everything the Rust side tells the window unasked: the ONE place that maps engine events
//! to [`UiEvent`]s and sends them over the window's `tauri::ipc::Channel<UiEvent>`.
//!
//! Producers (the scheduler's event stream and progress snapshots, the prompter, the
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
//! - progress never mentions a job whose last row said it is paused or finished: snapshots are
//!   taken on their own clock, so one taken just before a fast job finished (saying "0 of 12
//!   bytes") often lands in the same flush as the job's `done` row, or after it, and would
//!   overwrite the finished row's full count in the window.
//!
//! It knows nothing of commands and never blocks a producer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use skiff_engine::job::JobRecord;
use skiff_engine::scheduler::{Event, Scheduler};
use skiff_engine::transfer::Snapshot;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::convert;
use crate::ipc::{JobProgress, JobState, JobView, UiEvent};

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

/// Feed the scheduler's events and snapshots into `hub` until the scheduler stops. A
/// receiver that fell behind re-reads the whole queue instead of missing changes.
pub fn pump_scheduler(hub: EventHub, scheduler: Scheduler) {
    let mut events = scheduler.subscribe();
    let mut snapshots = scheduler.snapshots();
    let h = hub.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Some(ev) = from_scheduler(e) {
                        h.emit(ev);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let s = scheduler.clone();
                    if let Ok(Ok(jobs)) = tokio::task::spawn_blocking(move || s.jobs()).await {
                        h.emit(UiEvent::Jobs {
                            jobs: jobs.iter().map(convert::job_view).collect::<Vec<_>>(),
                        });
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    tokio::spawn(async move {
        let mut was_idle = true;
        while snapshots.changed().await.is_ok() {
            let snap = snapshots.borrow_and_update().clone();
            // The accountant ticks even when nothing moves: say "idle" once, not 10 times a second.
            let idle = snap.jobs.is_empty();
            if idle && was_idle {
                continue;
            }
            was_idle = idle;
            hub.emit(from_snapshot(&snap));
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
    /// Jobs whose latest row says they are paused or finished: their progress is stale.
    stopped: HashSet<i64>,
}

/// `progress` without the jobs in `stopped`.
fn without_stopped(progress: &mut UiEvent, stopped: &HashSet<i64>) {
    if let UiEvent::Progress { jobs, .. } = progress {
        jobs.retain(|j| !stopped.contains(&j.id));
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
                        // Queued keeps its progress: a snapshot may beat the row saying it started.
                        if matches!(j.state, JobState::Running | JobState::Queued) {
                            self.stopped.remove(&j.id);
                        } else {
                            self.stopped.insert(j.id);
                        }
                    }
                    if let Some(p) = &mut self.batch.progress {
                        without_stopped(p, &self.stopped);
                    }
                    self.batch.add_rows(jobs);
                    if self.sink.is_none() && self.batch.rows.len() > UNSUBSCRIBED_ROWS {
                        self.batch.rows.clear();
                        self.batch.row_index.clear();
                    }
                }
                UiEvent::JobsRemoved { ids } => {
                    for id in &ids {
                        self.stopped.remove(id);
                    }
                    if let Some(UiEvent::Progress { jobs, .. }) = &mut self.batch.progress {
                        jobs.retain(|j| !ids.contains(&j.id));
                    }
                    self.batch.remove(ids)
                }
                mut p @ UiEvent::Progress { .. } => {
                    without_stopped(&mut p, &self.stopped);
                    self.batch.progress = Some(p)
                }
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
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ipc::{ConnectionState, Direction};

    #[derive(Clone, Default)]
    struct Collector(Arc<Mutex<Vec<(Instant, UiEvent)>>>);

    impl UiSink for Collector {
        fn deliver(&self, event: UiEvent) -> bool {
            self.0.lock().unwrap().push((Instant::now(), event));
            true
        }
    }

    impl Collector {
        fn take(&self) -> Vec<(Instant, UiEvent)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    fn row(id: i64, bytes_done: u64) -> JobView {
        JobView {
            id,
            direction: Direction::Upload,
            name: format!("f{id}"),
            host: "u@h:22".into(),
            local_path: format!("/l/f{id}"),
            remote_path: "/r".into(),
            state: JobState::Running,
            error: None,
            retries: 0,
            priority: 0,
            bytes_done,
            bytes_total: 1 << 40,
            files_done: 0,
            files_total: 1,
            files_failed: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ten_thousand_job_changes_in_one_second_are_at_most_eleven_messages() {
        let (hub, rx) = EventHub::new();
        let forwarder = tokio::spawn(forward(rx));
        let sink = Collector::default();
        hub.subscribe(sink.clone());
        let mut last = HashMap::new();
        // 10 changes every millisecond for one second, over 250 jobs.
        for ms in 0..1000u64 {
            for k in 0..10u64 {
                let n = ms * 10 + k;
                let id = (n % 250) as i64;
                hub.emit(UiEvent::Jobs {
                    jobs: vec![row(id, n)],
                });
                last.insert(id, n);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = sink.take();
        assert!(
            got.len() <= 11,
            "{} messages for 10,000 changes in one second",
            got.len()
        );
        let mut seen: HashMap<i64, u64> = HashMap::new();
        for (_, e) in &got {
            let UiEvent::Jobs { jobs } = e else {
                panic!("unexpected {e:?}")
            };
            // Deduplicated within a message.
            let mut ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), jobs.len());
            for j in jobs {
                seen.insert(j.id, j.bytes_done);
            }
        }
        assert_eq!(seen, last, "the last state of every job arrives");
        // And no two flushes closer than the interval.
        for w in got.windows(2) {
            assert!(w[1].0 - w[0].0 >= FLUSH_EVERY);
        }
        drop(hub);
        forwarder.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn prompts_go_out_at_once_after_what_was_batched() {
        let (hub, rx) = EventHub::new();
        tokio::spawn(forward(rx));
        let sink = Collector::default();
        hub.subscribe(sink.clone());
        hub.emit(UiEvent::Jobs {
            jobs: vec![row(1, 1)],
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        hub.emit(UiEvent::Jobs {
            jobs: vec![row(1, 2)],
        });
        hub.emit(UiEvent::Connection {
            session_id: "s".into(),
            label: "u@h:22".into(),
            state: ConnectionState::Connected,
            error: None,
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(matches!(&got[1], UiEvent::Jobs { jobs } if jobs[0].bytes_done == 2));
        assert!(matches!(&got[2], UiEvent::Connection { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_channel_only_the_latest_state_is_kept_and_questions_are_sent_again() {
        let (hub, rx) = EventHub::new();
        tokio::spawn(forward(rx));
        for n in 0..1000 {
            hub.emit(UiEvent::Jobs {
                jobs: vec![row(n % 3, n as u64)],
            });
            hub.emit(UiEvent::Progress {
                jobs: vec![],
                bytes_done: n as u64,
                bytes_total: 0,
                speed: 0.0,
            });
        }
        let ask = |question| UiEvent::OverwriteAsked {
            question,
            job: 2,
            path: "/x".into(),
            source_size: 1,
            source_mtime: None,
            existing_size: 2,
            existing_mtime: Some(3),
        };
        hub.emit(ask(7));
        hub.emit(ask(8));
        hub.question_settled(7);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let first = Collector::default();
        hub.subscribe(first.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got: Vec<UiEvent> = first.take().into_iter().map(|(_, e)| e).collect();
        assert!(
            matches!(&got[0], UiEvent::OverwriteAsked { question: 8, .. }),
            "{got:?}"
        );
        let UiEvent::Jobs { jobs } = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(
            jobs.iter()
                .map(|j| (j.id, j.bytes_done))
                .collect::<Vec<_>>(),
            [(0, 999), (1, 997), (2, 998)]
        );
        assert!(matches!(
            &got[2],
            UiEvent::Progress {
                bytes_done: 999,
                ..
            }
        ));
        assert_eq!(got.len(), 3);
        // A big queue loaded before the window subscribed is not sent: the window lists it.
        let late = Collector::default();
        let (hub2, rx2) = EventHub::new();
        tokio::spawn(forward(rx2));
        hub2.emit(UiEvent::Jobs {
            jobs: (0..5000).map(|n| row(n, 0)).collect(),
        });
        hub2.subscribe(late.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(late
            .take()
            .iter()
            .all(|(_, e)| matches!(e, UiEvent::Jobs { jobs } if jobs.len() <= UNSUBSCRIBED_ROWS)));
        // A reload: the open question again, nothing else.
        let second = Collector::default();
        hub.subscribe(second.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got: Vec<UiEvent> = second.take().into_iter().map(|(_, e)| e).collect();
        assert_eq!(got.len(), 1);
        // Once its job stops, it is not asked again.
        hub.emit(UiEvent::Jobs {
            jobs: vec![JobView {
                state: JobState::Paused,
                ..row(2, 0)
            }],
        });
        let third = Collector::default();
        hub.subscribe(third.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(third
            .take()
            .iter()
            .all(|(_, e)| !matches!(e, UiEvent::OverwriteAsked { .. })));
    }

    fn progress_of(ids: &[(i64, u64)]) -> UiEvent {
        UiEvent::Progress {
            jobs: ids
                .iter()
                .map(|&(id, bytes_done)| JobProgress {
                    id,
                    bytes_done,
                    bytes_total: 12,
                    files_done: 0,
                    files_total: 1,
                    speed: 0.0,
                    eta_secs: None,
                })
                .collect(),
            bytes_done: 0,
            bytes_total: 24,
            speed: 0.0,
        }
    }

    fn progress_ids(e: &UiEvent) -> Vec<i64> {
        match e {
            UiEvent::Progress { jobs, .. } => jobs.iter().map(|j| j.id).collect(),
            _ => vec![],
        }
    }

    /// "0 B / 12 B" on a finished row: a snapshot taken while the job was starting arrived
    /// with (or after) its `done` row and overwrote its count in the window.
    #[tokio::test(start_paused = true)]
    async fn a_finished_job_keeps_its_full_count_whatever_order_snapshots_come_in() {
        let (hub, rx) = EventHub::new();
        tokio::spawn(forward(rx));
        let sink = Collector::default();
        hub.subscribe(sink.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = |id| JobView {
            state: JobState::Done,
            bytes_done: 12,
            bytes_total: 12,
            ..row(id, 12)
        };
        // Same flush: a stale snapshot (job 1 at 0 bytes, job 2 running) before the done row.
        hub.emit(progress_of(&[(1, 0), (2, 5)]));
        hub.emit(UiEvent::Jobs {
            jobs: vec![done(1)],
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        // A later flush: a snapshot taken before the job finished, delivered after.
        hub.emit(progress_of(&[(1, 0), (2, 7)]));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
        assert!(
            matches!(&got[0], UiEvent::Jobs { jobs } if jobs[0].bytes_done == 12 && jobs[0].state == JobState::Done),
            "{got:?}"
        );
        let progress: Vec<Vec<i64>> = got
            .iter()
            .filter(|e| matches!(e, UiEvent::Progress { .. }))
            .map(progress_ids)
            .collect();
        assert_eq!(progress, [vec![2], vec![2]], "{got:?}");
        // Run again (a retry): its progress shows again.
        hub.emit(UiEvent::Jobs {
            jobs: vec![row(1, 0)],
        });
        hub.emit(progress_of(&[(1, 3)]));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
        assert_eq!(progress_ids(got.last().unwrap()), [1], "{got:?}");
    }

    /// The engine side of the same: the row of a finished single-file job carries its
    /// full count.
    #[test]
    fn a_done_record_maps_to_a_full_row() {
        let spec = skiff_engine::job::JobSpec {
            kind: skiff_engine::job::JobKind::Copy,
            direction: skiff_engine::job::Direction::Upload,
            host: "h".into(),
            user: Some("u".into()),
            port: Some(22),
            ssh_config: None,
            profile_id: None,
            overrides: Default::default(),
            local_path: "/l/a.txt".into(),
            remote_path: "/r/a.txt".into(),
            recursive: false,
            overwrite: skiff_engine::job::OverwritePolicy::Overwrite,
            preserve_mtime: true,
            preserve_permissions: true,
            speed_limit: None,
        };
        let q = skiff_engine::store::Queue::open_in_memory().unwrap();
        let id = q.add(&spec, 0).unwrap();
        q.record_totals(id, 12, 1).unwrap();
        q.record_progress(id, 12, 1, 0).unwrap();
        q.set_state(id, skiff_engine::job::JobState::Done, None)
            .unwrap();
        let v = rows(&q.list().unwrap());
        assert_eq!(
            (v[0].state, v[0].bytes_done, v[0].bytes_total),
            (JobState::Done, 12, 12)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn removed_rows_are_not_sent_and_idle_snapshots_are_dropped() {
        let (hub, rx) = EventHub::new();
        tokio::spawn(forward(rx));
        let sink = Collector::default();
        hub.subscribe(sink.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        hub.emit(UiEvent::Jobs {
            jobs: vec![row(1, 1), row(2, 1)],
        });
        hub.emit(UiEvent::JobsRemoved { ids: vec![1] });
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
        assert!(
            matches!(&got[0], UiEvent::Jobs { jobs } if jobs.len() == 1 && jobs[0].id == 2),
            "{got:?}"
        );
        assert!(matches!(&got[1], UiEvent::JobsRemoved { ids } if ids == &[1]));
    }
}
