//! The scheduler's typed event stream: what a front end needs to mirror the queue without
//! polling it. State events are derived in one place (the scheduler diffs the store after
//! every change, whoever made it: this process, the window, or `skiff queue` in another
//! process); progress travels in the same ordered stream as coalesced
//! [`crate::transfer::Snapshot`]s ([`Event::Progress`], see `stream`).

use std::sync::Arc;

use serde::Serialize;

use crate::job::{JobId, JobRecord, JobState};
use crate::transfer::{Snapshot, Stamp};

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
    /// What is moving now, for the jobs the stream last said are running (and nothing else).
    #[serde(rename_all = "camelCase")]
    Progress { snapshot: Arc<Snapshot> },
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
            Event::JobsRemoved { .. } | Event::Progress { .. } | Event::Idle => None,
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

/// Equal in everything a front end shows (all but `updated_at`), without copying either.
fn same_but_timestamp(a: &JobRecord, b: &JobRecord) -> bool {
    // Destructured so that a new field cannot be forgotten here.
    let JobRecord {
        id,
        spec,
        state,
        priority,
        position,
        error,
        retries,
        bytes_done,
        bytes_total,
        files_done,
        files_total,
        files_failed,
        created_at,
        updated_at: _,
        finished_at,
        runner,
        roots_resolved,
    } = a;
    (id, state, priority, position, retries, bytes_done, bytes_total, files_done, files_total, files_failed)
        == (&b.id, &b.state, &b.priority, &b.position, &b.retries, &b.bytes_done, &b.bytes_total, &b.files_done, &b.files_total, &b.files_failed)
        && (created_at, finished_at, roots_resolved, error, runner, spec)
            == (&b.created_at, &b.finished_at, &b.roots_resolved, &b.error, &b.runner, &b.spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Direction, JobKind, JobSpec, OverwritePolicy};
    use crate::store::Queue;

    fn two_jobs() -> Vec<JobRecord> {
        let q = Queue::open_in_memory().unwrap();
        let spec = |name: &str| JobSpec {
            kind: JobKind::Copy,
            direction: Direction::Upload,
            host: "example".into(),
            user: None,
            port: None,
            ssh_config: None,
            profile_id: None,
            overrides: Default::default(),
            local_path: format!("/tmp/{name}").into(),
            remote_path: format!("/srv/{name}"),
            recursive: false,
            overwrite: OverwritePolicy::Overwrite,
            preserve_mtime: true,
            preserve_permissions: false,
            speed_limit: None,
        };
        q.add(&spec("a"), 0).unwrap();
        q.add(&spec("b"), 0).unwrap();
        q.list().unwrap()
    }

    #[test]
    fn only_real_changes_become_events() {
        let before = two_jobs();
        let mut after = before.clone();
        after[0].updated_at += 5;
        assert!(diff(&before, &after).is_empty(), "a new timestamp alone is no change");

        after[1].bytes_done = 10;
        let events = diff(&before, &after);
        assert!(matches!(&events[..], [Event::JobChanged { job }] if job.id == before[1].id && job.bytes_done == 10));

        after[0].spec.remote_path = "/srv/elsewhere".into();
        assert_eq!(diff(&before, &after).len(), 2);

        let events = diff(&before, &after[1..]);
        assert!(matches!(events.last(), Some(Event::JobsRemoved { ids }) if ids == &vec![before[0].id]));
        let events = diff(&before[1..], &before);
        assert!(matches!(&events[..], [Event::JobAdded { job }] if job.id == before[0].id));
    }
}
