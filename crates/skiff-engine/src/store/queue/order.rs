//! The run order: a job's priority and its place in the queue (move to an index, up, down),
//! renumbering positions in one transaction.

use rusqlite::params;

use super::errors::{Op, StoreError};
use super::rows::{expect_row, now, RUN_ORDER};
use super::Queue;
use crate::job::JobId;

impl Queue {
    /// Sets the job's priority (higher runs first); its position is unchanged.
    pub fn set_priority(&self, id: JobId, priority: i32) -> Result<(), StoreError> {
        let t = now();
        self.write(Op::job("set the job's priority", id), |tx| {
            let n = tx
                .prepare_cached("UPDATE jobs SET priority = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![id, priority, t])?;
            expect_row(n)
        })
    }

    /// Moves the job to `new_index` in the run order of [`Queue::list`] (clamped to the
    /// end), renumbering every position in one transaction. If that index lies in another
    /// priority band, the job takes the nearest priority that keeps it there (the priority
    /// of the job it lands beside), so the order afterwards is exactly the one asked for.
    pub fn move_to(&self, id: JobId, new_index: usize) -> Result<(), StoreError> {
        self.reorder(Op::job("move the job", id), id, |_from, len| {
            new_index.min(len)
        })
    }

    /// Swaps the job with the one before it in run order (no-op at the top).
    pub fn move_up(&self, id: JobId) -> Result<(), StoreError> {
        self.reorder(Op::job("move the job up", id), id, |from, _len| {
            from.saturating_sub(1)
        })
    }

    /// Swaps the job with the one after it in run order (no-op at the bottom).
    pub fn move_down(&self, id: JobId) -> Result<(), StoreError> {
        self.reorder(Op::job("move the job down", id), id, |from, len| {
            (from + 1).min(len)
        })
    }

    /// `target(from, len)` gives the new index in the list without the job (`len` long).
    fn reorder(
        &self,
        op: Op,
        id: JobId,
        target: impl FnOnce(usize, usize) -> usize,
    ) -> Result<(), StoreError> {
        let t = now();
        self.write(op, |tx| {
            // (id, priority, position) in run order.
            let mut jobs: Vec<(JobId, i32, i64)> = tx
                .prepare_cached(&format!(
                    "SELECT id, priority, position FROM jobs {RUN_ORDER}"
                ))?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let from = jobs
                .iter()
                .position(|j| j.0 == id)
                .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            let (_, own_priority, _) = jobs.remove(from);
            let to = target(from, jobs.len()).min(jobs.len());
            if to == from {
                return Ok(());
            }
            // The job before must run no later, the job after no earlier.
            let mut priority = own_priority;
            if let Some(before) = to.checked_sub(1).map(|i| jobs[i].1) {
                priority = priority.min(before);
            }
            if let Some(after) = jobs.get(to).map(|j| j.1) {
                priority = priority.max(after);
            }
            jobs.insert(to, (id, priority, i64::MIN));
            let mut renumber = tx.prepare_cached("UPDATE jobs SET position = ?2 WHERE id = ?1")?;
            for (i, (job, _, position)) in jobs.iter().enumerate() {
                let wanted = i as i64 + 1;
                if *position != wanted {
                    renumber.execute(params![job, wanted])?;
                }
            }
            tx.prepare_cached("UPDATE jobs SET priority = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![id, priority, t])?;
            Ok(())
        })
    }
}
