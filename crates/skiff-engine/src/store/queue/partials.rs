//! The queue's half of partial downloads: each job's unfinished files and the byte ranges
//! their temp files hold (a [`PartialRecord`] as JSON), saved by the transfer's checkpoints
//! and read back when the job runs again. Deleted with the job.

use rusqlite::{params, OptionalExtension};
use std::sync::Arc;

use super::errors::{Op, StoreError};
use super::rows::{ensure_job, now};
use super::Queue;
use crate::job::{JobId, PartialRecord, PartialStore};

impl Queue {
    /// Saves (replaces) the partial record of `rel_path` in job `id`.
    pub fn save_partial(&self, id: JobId, rel_path: &str, record: &PartialRecord) -> Result<(), StoreError> {
        let text = serde_json::to_string(record).expect("a partial record serialises");
        self.write(Op::job("save a partial download", id), |tx| {
            ensure_job(tx, id)?;
            tx.prepare_cached(
                "INSERT INTO job_partials (job_id, rel_path, record, at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (job_id, rel_path) DO UPDATE SET record = excluded.record, at = excluded.at",
            )?
            .execute(params![id, rel_path, text, now()])?;
            Ok(())
        })
    }

    /// The partial record of `rel_path` in job `id` (`None` when there is none, or it is
    /// not readable as one: it is then as good as absent).
    pub fn partial(&self, id: JobId, rel_path: &str) -> Result<Option<PartialRecord>, StoreError> {
        let text: Option<String> = self.read(Op::job("read a partial download", id), |tx| {
            tx.prepare_cached("SELECT record FROM job_partials WHERE job_id = ?1 AND rel_path = ?2")?
                .query_row(params![id, rel_path], |r| r.get(0))
                .optional()
        })?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Forgets the partial record of `rel_path` in job `id`.
    pub fn forget_partial(&self, id: JobId, rel_path: &str) -> Result<(), StoreError> {
        self.write(Op::job("forget a partial download", id), |tx| {
            tx.prepare_cached("DELETE FROM job_partials WHERE job_id = ?1 AND rel_path = ?2")?
                .execute(params![id, rel_path])?;
            Ok(())
        })
    }

    /// Job `id`'s partial downloads, as the transfers take them.
    pub fn partials_of(self: &Arc<Self>, id: JobId) -> Arc<dyn PartialStore> {
        Arc::new(JobPartials { queue: self.clone(), id })
    }
}

/// One job's partial downloads in the queue. A checkpoint that cannot be saved only means
/// that a later run fetches those bytes again: failures are logged, not raised.
struct JobPartials {
    queue: Arc<Queue>,
    id: JobId,
}

impl PartialStore for JobPartials {
    fn load(&self, key: &str) -> Option<PartialRecord> {
        self.queue.partial(self.id, key).unwrap_or_else(|e| {
            tracing::warn!(job = self.id, key, error = %e, "reading a partial download failed");
            None
        })
    }
    fn save(&self, key: &str, record: &PartialRecord) {
        if let Err(e) = self.queue.save_partial(self.id, key, record) {
            tracing::warn!(job = self.id, key, error = %e, "saving a partial download failed");
        }
    }
    fn forget(&self, key: &str) {
        if let Err(e) = self.queue.forget_partial(self.id, key) {
            tracing::warn!(job = self.id, key, error = %e, "forgetting a partial download failed");
        }
    }
}
