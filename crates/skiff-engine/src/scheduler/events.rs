//! The scheduler's typed event stream: what a front end needs to mirror the queue without
//! polling it. State events are derived in one place (the scheduler diffs the store after
//! every change, whoever made it: this process, the window, or `skiff queue` in another
//! process); progress travels separately as coalesced [`crate::transfer::Snapshot`]s.

use serde::Serialize;

use crate::store::{JobId, JobRecord, JobState};
use crate::transfer::Stamp;

/// One change to the queue.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A job appeared (added here or by another process).
    #[serde(rename_all = "camelCase")]
    JobAdded { job: Box<JobRecord> },
    /// A job's state, error, retry count, counters or place in the queue changed.
    #[serde(rename_all = "camelCase")]
    JobChanged { job: Box<JobRecord> },
    /// Jobs were removed (cleared from the history).
    #[serde(rename_all = "camelCase")]
    JobsRemoved { ids: Vec<JobId> },
    /// A job will be retried automatically after a transient failure.
    #[serde(rename_all = "camelCase")]
    RetryScheduled { id: JobId, retry: u32, in_ms: u64, error: String },
    /// A destination exists and the job's policy is "ask": answer with
    /// [`super::Scheduler::answer`] and this `question` id.
    #[serde(rename_all = "camelCase")]
    OverwriteAsked { question: u64, job: JobId, path: String, rel: String, source: StampView, existing: StampView },
    /// Nothing is running and nothing in scope is waiting to run.
    Idle,
}

/// Size and modification time of one side of an overwrite question.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StampView {
    pub size: u64,
    pub mtime: Option<u32>,
}

impl From<Stamp> for StampView {
    fn from(s: Stamp) -> Self {
        StampView { size: s.size, mtime: s.mtime }
    }
}

impl Event {
    /// The job an event is about, if one.
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            Event::JobAdded { job } | Event::JobChanged { job } => Some(job.id),
            Event::RetryScheduled { id, .. } => Some(*id),
            Event::OverwriteAsked { job, .. } => Some(*job),
            Event::JobsRemoved { .. } | Event::Idle => None,
        }
    }

    /// The new state, for JobAdded and JobChanged.
    pub fn state(&self) -> Option<JobState> {
        match self {
            Event::JobAdded { job } | Event::JobChanged { job } => Some(job.state),
            _ => None,
        }
    }
}

/// The events that turn `before` into `after` (both in run order).
pub fn diff(before: &[JobRecord], after: &[JobRecord]) -> Vec<Event> {
    use std::collections::HashMap;
    let old: HashMap<JobId, &JobRecord> = before.iter().map(|j| (j.id, j)).collect();
    let mut events = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for job in after {
        seen.insert(job.id);
        match old.get(&job.id) {
            None => events.push(Event::JobAdded { job: Box::new(job.clone()) }),
            Some(prev) if !same_but_timestamp(prev, job) => events.push(Event::JobChanged { job: Box::new(job.clone()) }),
            Some(_) => {}
        }
    }
    let removed: Vec<JobId> = before.iter().map(|j| j.id).filter(|id| !seen.contains(id)).collect();
    if !removed.is_empty() {
        events.push(Event::JobsRemoved { ids: removed });
    }
    events
}

fn same_but_timestamp(a: &JobRecord, b: &JobRecord) -> bool {
    JobRecord { updated_at: 0, ..a.clone() } == JobRecord { updated_at: 0, ..b.clone() }
}
