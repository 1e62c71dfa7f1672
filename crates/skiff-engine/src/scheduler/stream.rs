//! The scheduler's one ordered event stream: state changes and progress interleaved in the
//! order they happened, so a front end shows what it reads and filters nothing.
//!
//! Progress is sampled on the [`Accountant`](crate::transfer::Accountant)'s own clock, so a
//! snapshot taken just before a fast job finished ("0 of 12 bytes") can reach the stream
//! after the job's `Done` row. Both kinds therefore go through one [`Stream`], under one lock
//! that also remembers which jobs the stream last said are running: a snapshot only ever
//! mentions those. The promise a receiver gets:
//!
//! - events arrive in the order they were sent;
//! - after an event saying a job is anything but Running (done, failed, cancelled, paused,
//!   queued for a retry, removed), no [`Event::Progress`] mentions that job until an event
//!   says it runs again;
//! - an idle scheduler sends one empty progress, not ten a second.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use super::Event;
use crate::job::{JobId, JobState};
use crate::transfer::Snapshot;

/// How many events a receiver may fall behind before it lags (and should re-read the queue).
const CAPACITY: usize = 4096;

struct Inner {
    tx: broadcast::Sender<Event>,
    /// Jobs whose latest state event said Running.
    running: HashSet<JobId>,
    /// Whether the last progress sent mentioned no job.
    sent_empty: bool,
}

/// The sending side; see the module docs.
pub(crate) struct Stream {
    inner: Mutex<Inner>,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        let (tx, _) = broadcast::channel(CAPACITY);
        Stream { inner: Mutex::new(Inner { tx, running: HashSet::new(), sent_empty: true }) }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.lock().tx.subscribe()
    }

    /// Send a state event (anything but [`Event::Progress`]).
    pub(crate) fn send(&self, event: Event) {
        let mut inner = self.lock();
        match &event {
            Event::JobAdded { job } | Event::JobChanged { job } => {
                if job.state == JobState::Running {
                    inner.running.insert(job.id);
                } else {
                    inner.running.remove(&job.id);
                }
            }
            Event::JobsRemoved { ids } => {
                for id in ids {
                    inner.running.remove(id);
                }
            }
            Event::RetryScheduled { id, .. } => {
                inner.running.remove(id);
            }
            Event::Progress { .. } => debug_assert!(false, "progress goes through send_progress"),
            Event::OverwriteAsked { .. } | Event::Idle => {}
        }
        let _ = inner.tx.send(event);
    }

    /// Send `snapshot`, without the jobs the stream does not (or no longer) say are running.
    pub(crate) fn send_progress(&self, mut snapshot: Snapshot) {
        let mut inner = self.lock();
        let before = snapshot.jobs.len();
        snapshot.jobs.retain(|j| inner.running.contains(&j.id));
        if snapshot.jobs.len() != before {
            // The totals must agree with the jobs shown.
            snapshot.bytes_done = snapshot.jobs.iter().map(|j| j.bytes_done).sum();
            snapshot.bytes_total = snapshot.jobs.iter().map(|j| j.bytes_total).sum();
            snapshot.speed = snapshot.jobs.iter().map(|j| j.speed).sum();
        }
        let empty = snapshot.jobs.is_empty();
        if empty && inner.sent_empty {
            return;
        }
        inner.sent_empty = empty;
        let _ = inner.tx.send(Event::Progress { snapshot: Arc::new(snapshot) });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forward the accountant's snapshots into `stream` until the accountant stops publishing.
pub(crate) async fn pump_progress(stream: Arc<Stream>, mut snapshots: watch::Receiver<Snapshot>) {
    while snapshots.changed().await.is_ok() {
        let snap = snapshots.borrow_and_update().clone();
        stream.send_progress(snap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobRecord;
    use crate::transfer::JobSnapshot;

    fn record(id: JobId, state: JobState) -> Box<JobRecord> {
        let q = crate::store::Queue::open_in_memory().unwrap();
        let spec = crate::scheduler::tests::spec("h");
        let real = q.add(&spec, 0).unwrap();
        let mut job = q.get(real).unwrap().unwrap();
        job.id = id;
        job.state = state;
        Box::new(job)
    }

    fn snap(ids: &[JobId]) -> Snapshot {
        Snapshot {
            jobs: ids
                .iter()
                .map(|&id| JobSnapshot { id, bytes_done: 10, bytes_total: 20, files_done: 0, files_total: 1, files_failed: 0, speed: 5.0, eta: None })
                .collect(),
            bytes_done: 10 * ids.len() as u64,
            bytes_total: 20 * ids.len() as u64,
            speed: 5.0 * ids.len() as f64,
            ..Snapshot::default()
        }
    }

    fn progress_ids(e: &Event) -> Option<Vec<JobId>> {
        match e {
            Event::Progress { snapshot } => Some(snapshot.jobs.iter().map(|j| j.id).collect()),
            _ => None,
        }
    }

    #[test]
    fn progress_mentions_only_jobs_last_said_to_run() {
        let s = Stream::new();
        let mut rx = s.subscribe();
        s.send_progress(snap(&[1])); // not said to run yet: nothing (and idle is not repeated)
        s.send(Event::JobChanged { job: record(1, JobState::Running) });
        s.send(Event::JobChanged { job: record(2, JobState::Running) });
        s.send_progress(snap(&[1, 2]));
        s.send(Event::JobChanged { job: record(1, JobState::Done) });
        // Sampled before job 1 finished, sent after: job 1 is left out, totals follow.
        s.send_progress(snap(&[1, 2]));
        s.send(Event::RetryScheduled { id: 2, retry: 1, in_ms: 10, error: "cut".into() });
        s.send_progress(snap(&[2]));
        s.send_progress(snap(&[2]));
        s.send(Event::JobChanged { job: record(2, JobState::Running) });
        s.send_progress(snap(&[2]));

        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let Event::Progress { snapshot } = &e {
                assert_eq!(snapshot.bytes_done, 10 * snapshot.jobs.len() as u64);
            }
            seen.push(progress_ids(&e).map(|ids| format!("p{ids:?}")).unwrap_or_else(|| format!("{:?}", e.job_id().zip(e.state()))));
        }
        assert_eq!(
            seen,
            [
                "Some((1, Running))",
                "Some((2, Running))",
                "p[1, 2]",
                "Some((1, Done))",
                "p[2]",
                "None", // the retry
                "p[]",  // once, not twice
                "Some((2, Running))",
                "p[2]",
            ]
        );
    }

    #[test]
    fn removed_jobs_have_no_progress() {
        let s = Stream::new();
        let mut rx = s.subscribe();
        s.send(Event::JobAdded { job: record(7, JobState::Running) });
        s.send(Event::JobsRemoved { ids: vec![7] });
        s.send_progress(snap(&[7]));
        let events: Vec<Event> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(events.iter().all(|e| progress_ids(e).is_none()), "{events:?}");
    }
}
