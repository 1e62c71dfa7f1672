//! A job's per-file rows: the files it finished (so an interrupted tree job skips them) and
//! the files that failed, with their errors. Deleted with the job.

use std::collections::HashMap;

use rusqlite::params;

use super::errors::{Op, StoreError};
use super::rows::{count, ensure_job, int, now};
use super::Queue;
use crate::job::JobId;

impl Queue {
    /// Records one file of the job as complete (see [`Queue::mark_files_done`]).
    pub fn mark_file_done(&self, id: JobId, rel_path: &str, size: u64) -> Result<(), StoreError> {
        self.mark_files_done(id, &[(rel_path.to_string(), size)])
    }

    /// Records a batch of the job's files as complete, all or nothing, in one transaction.
    /// A file marked again gets its new size; a recorded error for it is removed.
    pub fn mark_files_done(&self, id: JobId, files: &[(String, u64)]) -> Result<(), StoreError> {
        self.write(Op::job("record finished files", id), |tx| {
            ensure_job(tx, id)?;
            let has_errors: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM job_file_errors WHERE job_id = ?1)")?
                .query_row([id], |r| r.get(0))?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO job_files (job_id, rel_path, size) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (job_id, rel_path) DO UPDATE SET size = excluded.size",
            )?;
            let mut clear_error = tx.prepare_cached(
                "DELETE FROM job_file_errors WHERE job_id = ?1 AND rel_path = ?2",
            )?;
            for (rel_path, size) in files {
                insert.execute(params![id, rel_path, int(*size)])?;
                if has_errors {
                    clear_error.execute(params![id, rel_path])?;
                }
            }
            Ok(())
        })
    }

    /// The job's finished files: relative path → size.
    pub fn done_files(&self, id: JobId) -> Result<HashMap<String, u64>, StoreError> {
        self.read(Op::job("read finished files", id), |tx| {
            ensure_job(tx, id)?;
            tx.prepare_cached("SELECT rel_path, size FROM job_files WHERE job_id = ?1")?
                .query_map([id], |r| Ok((r.get(0)?, count(r, 1)?)))?
                .collect()
        })
    }

    /// Records why one file of the job failed (replacing an earlier error for that file).
    pub fn record_file_error(
        &self,
        id: JobId,
        rel_path: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let t = now();
        self.write(Op::job("record a file error", id), |tx| {
            ensure_job(tx, id)?;
            tx.prepare_cached(
                "INSERT INTO job_file_errors (job_id, rel_path, error, at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (job_id, rel_path) \
                 DO UPDATE SET error = excluded.error, at = excluded.at",
            )?
            .execute(params![id, rel_path, error, t])?;
            Ok(())
        })
    }

    /// The job's failed files and their errors, in the order they first failed.
    pub fn file_errors(&self, id: JobId) -> Result<Vec<(String, String)>, StoreError> {
        self.read(Op::job("read file errors", id), |tx| {
            ensure_job(tx, id)?;
            tx.prepare_cached(
                "SELECT rel_path, error FROM job_file_errors WHERE job_id = ?1 ORDER BY rowid",
            )?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
    }
}
