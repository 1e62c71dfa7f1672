//! Changes to a job as it waits and runs: its state (one job, all of them, the ones a dead
//! process left Running, claiming one to run), its counters, retries, speed limit and pinned
//! paths.

use std::path::Path;

use rusqlite::params;

use super::errors::{Op, StoreError};
use super::rows::{expect_row, int, now, path_value, RUN_ORDER};
use super::Queue;
use crate::job::{JobCounters, JobId, JobState};
use crate::store::runner;

impl Queue {
    /// Moves a job to `state`. Done, Failed and Cancelled stamp `finished_at` and store
    /// `error`; Paused stores `error` and clears `finished_at`; Queued and Running clear both
    /// (`error` is ignored). Which transitions are allowed is the scheduler's business.
    pub fn set_state(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let t = now();
        let finished_at = state.is_finished().then_some(t);
        let error = match state {
            JobState::Queued | JobState::Running => None,
            _ => error,
        };
        self.write(Op::job("set the job's state", id), |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE jobs SET state = ?2, error = ?3, finished_at = ?4, updated_at = ?5, \
                     runner = CASE WHEN ?2 = 'running' THEN runner END WHERE id = ?1",
                )?
                .execute(params![id, state.as_str(), error, finished_at, t])?;
            expect_row(n)
        })
    }

    /// Sets the job's own speed limit (bytes per second; `None`: unlimited).
    pub fn set_speed_limit(&self, id: JobId, limit: Option<u64>) -> Result<(), StoreError> {
        let t = now();
        self.write(Op::job("set the job's speed limit", id), |tx| {
            let n = tx
                .prepare_cached("UPDATE jobs SET speed_limit = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![id, limit.map(int), t])?;
            expect_row(n)
        })
    }

    /// Adds one to the job's retry count and returns the new count.
    pub fn bump_retries(&self, id: JobId) -> Result<u32, StoreError> {
        let t = now();
        self.write(Op::job("count a retry", id), |tx| {
            tx.prepare_cached(
                "UPDATE jobs SET retries = retries + 1, updated_at = ?2 WHERE id = ?1 \
                 RETURNING retries",
            )?
            .query_row(params![id, t], |row| row.get(0))
        })
    }

    /// Pins the job's paths to the tree roots its first run resolved ("copy into an
    /// existing folder" is decided once), so a resumed job lands in the same place.
    pub fn set_paths(&self, id: JobId, local_path: &Path, remote_path: &str) -> Result<(), StoreError> {
        let local = path_value(&self.path, local_path)?;
        let t = now();
        self.write(Op::job("pin the job's paths", id), |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE jobs SET local_path = ?2, remote_path = ?3, roots_resolved = 1, \
                     updated_at = ?4 WHERE id = ?1",
                )?
                .execute(params![id, local, remote_path, t])?;
            expect_row(n)
        })
    }

    /// Records what the job has to move, once the walk knows (or as it learns more).
    pub fn record_totals(
        &self,
        id: JobId,
        bytes_total: u64,
        files_total: u64,
    ) -> Result<(), StoreError> {
        let t = now();
        self.write(Op::job("record the job's totals", id), |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE jobs SET bytes_total = ?2, files_total = ?3, updated_at = ?4 \
                     WHERE id = ?1",
                )?
                .execute(params![id, int(bytes_total), int(files_total), t])?;
            expect_row(n)
        })
    }

    /// Records the counters of several jobs (absolute values) in one transaction; a job
    /// removed meanwhile is passed over.
    pub fn record_counters(&self, rows: &[JobCounters]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let t = now();
        self.write(Op::new("record the progress of running jobs"), |tx| {
            let mut update = tx.prepare_cached(
                "UPDATE jobs SET bytes_done = ?2, bytes_total = ?3, files_done = ?4, \
                 files_total = ?5, files_failed = ?6, updated_at = ?7 WHERE id = ?1",
            )?;
            for c in rows {
                update.execute(params![
                    c.id,
                    int(c.bytes_done),
                    int(c.bytes_total),
                    int(c.files_done),
                    int(c.files_total),
                    int(c.files_failed),
                    t
                ])?;
            }
            Ok(())
        })
    }

    /// Records the job's progress counters (absolute values, not increments).
    pub fn record_progress(
        &self,
        id: JobId,
        bytes_done: u64,
        files_done: u64,
        files_failed: u64,
    ) -> Result<(), StoreError> {
        let t = now();
        self.write(Op::job("record the job's progress", id), |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE jobs SET bytes_done = ?2, files_done = ?3, files_failed = ?4, \
                     updated_at = ?5 WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    int(bytes_done),
                    int(files_done),
                    int(files_failed),
                    t
                ])?;
            expect_row(n)
        })
    }

    /// Pauses every Queued job; returns how many. Running jobs are the caller's to stop.
    pub fn pause_all(&self) -> Result<usize, StoreError> {
        self.switch_all(
            Op::new("pause the queue"),
            JobState::Queued,
            JobState::Paused,
        )
    }

    /// Re-queues every Paused job; returns how many.
    pub fn resume_all(&self) -> Result<usize, StoreError> {
        self.switch_all(
            Op::new("resume the queue"),
            JobState::Paused,
            JobState::Queued,
        )
    }

    fn switch_all(&self, op: Op, from: JobState, to: JobState) -> Result<usize, StoreError> {
        let t = now();
        self.write(op, |tx| {
            tx.prepare_cached("UPDATE jobs SET state = ?2, updated_at = ?3 WHERE state = ?1")?
                .execute(params![from.as_str(), to.as_str(), t])
        })
    }

    /// Every job left Running by a process that is gone (a crash, a kill, a reboot) goes
    /// back to Queued, keeping its counters and finished files so it resumes. Jobs another
    /// live process is running are left alone. Returns the re-queued ids, in run order.
    pub fn requeue_interrupted(&self) -> Result<Vec<JobId>, StoreError> {
        self.requeue_orphans(runner::is_alive)
    }

    /// [`Queue::requeue_interrupted`] with the liveness test given (for tests).
    pub fn requeue_orphans(&self, alive: impl Fn(&str) -> bool) -> Result<Vec<JobId>, StoreError> {
        let t = now();
        self.write(Op::new("re-queue interrupted jobs"), |tx| {
            let running: Vec<(JobId, Option<String>)> = tx
                .prepare_cached(&format!("SELECT id, runner FROM jobs WHERE state = ?1 {RUN_ORDER}"))?
                .query_map([JobState::Running.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut requeue = tx.prepare_cached(
                "UPDATE jobs SET state = ?2, error = NULL, runner = NULL, updated_at = ?3 WHERE id = ?1",
            )?;
            let mut ids = Vec::new();
            for (id, who) in running {
                if who.as_deref().is_some_and(&alive) {
                    continue;
                }
                requeue.execute(params![id, JobState::Queued.as_str(), t])?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    /// Takes a Queued job for `runner`: it becomes Running. False if it was not Queued any
    /// more (another process took it, or someone paused or cancelled it meanwhile).
    pub fn claim(&self, id: JobId, runner: &str) -> Result<bool, StoreError> {
        let t = now();
        self.write(Op::job("start the job", id), |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE jobs SET state = ?2, runner = ?3, error = NULL, finished_at = NULL, \
                     updated_at = ?4 WHERE id = ?1 AND state = ?5",
                )?
                .execute(params![id, JobState::Running.as_str(), runner, t, JobState::Queued.as_str()])?;
            Ok(n == 1)
        })
    }
}
