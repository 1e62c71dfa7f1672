//! Job rows ↔ records: the columns a job is read with, the run order, how paths, counters and
//! named values are stored (see the storage notes in [`super`]), and the small helpers every
//! statement shares.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};
use rusqlite::Transaction;

use super::errors::StoreError;
use crate::job::{Direction, JobId, JobKind, JobRecord, JobSpec, JobState, OverwritePolicy};

pub(super) const JOB_COLUMNS: &str = "id, direction, host, user_name, port, ssh_config, local_path, \
    remote_path, recursive, overwrite, preserve_mtime, preserve_permissions, speed_limit, \
    state, priority, position, error, retries, bytes_done, bytes_total, files_done, \
    files_total, files_failed, created_at, updated_at, finished_at, runner, roots_resolved, \
    profile_id, overrides, kind";

/// Run order; `id` breaks ties so the order is total even if positions ever collide.
pub(super) const RUN_ORDER: &str = "ORDER BY priority DESC, position ASC, id ASC";

/// A path column: raw bytes on Unix, UTF-8 text elsewhere.
struct SqlPath(PathBuf);

impl FromSql for SqlPath {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let bytes = match value {
            ValueRef::Blob(b) | ValueRef::Text(b) => b,
            _ => return Err(FromSqlError::InvalidType),
        };
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            Ok(SqlPath(PathBuf::from(std::ffi::OsStr::from_bytes(bytes))))
        }
        #[cfg(not(unix))]
        {
            std::str::from_utf8(bytes)
                .map(|s| SqlPath(PathBuf::from(s)))
                .map_err(|e| FromSqlError::Other(Box::new(e)))
        }
    }
}

pub(super) fn path_value(db: &Path, p: &Path) -> Result<Value, StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let _ = db;
        Ok(Value::Blob(p.as_os_str().as_bytes().to_vec()))
    }
    #[cfg(not(unix))]
    {
        p.to_str()
            .map(|s| Value::Text(s.to_string()))
            .ok_or_else(|| StoreError::UnrepresentablePath {
                path: db.to_path_buf(),
                local: p.to_path_buf(),
            })
    }
}

/// A non-negative INTEGER column read as `u64` (a negative value is a [`StoreError::BadValue`]).
struct Count(u64);

impl FromSql for Count {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let v = value.as_i64()?;
        u64::try_from(v)
            .map(Count)
            .map_err(|_| FromSqlError::OutOfRange(v))
    }
}

pub(super) fn count(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    row.get::<_, Count>(idx).map(|c| c.0)
}

/// `u64` → SQLite INTEGER, saturating at `i64::MAX`.
pub(super) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(super) fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: row.get(0)?,
        spec: JobSpec {
            kind: row.get(30)?,
            direction: row.get(1)?,
            host: row.get(2)?,
            user: row.get(3)?,
            port: row.get(4)?,
            ssh_config: row.get::<_, Option<SqlPath>>(5)?.map(|p| p.0),
            local_path: row.get::<_, SqlPath>(6)?.0,
            remote_path: row.get(7)?,
            recursive: row.get(8)?,
            overwrite: row.get(9)?,
            preserve_mtime: row.get(10)?,
            preserve_permissions: row.get(11)?,
            speed_limit: row.get::<_, Option<Count>>(12)?.map(|c| c.0),
            profile_id: row.get(28)?,
            overrides: row.get::<_, Option<String>>(29)?.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(29, rusqlite::types::Type::Text, Box::new(e))
            })?.unwrap_or_default(),
        },
        state: row.get(13)?,
        priority: row.get(14)?,
        position: row.get(15)?,
        error: row.get(16)?,
        retries: row.get(17)?,
        bytes_done: count(row, 18)?,
        bytes_total: count(row, 19)?,
        files_done: count(row, 20)?,
        files_total: count(row, 21)?,
        files_failed: count(row, 22)?,
        created_at: row.get(23)?,
        updated_at: row.get(24)?,
        finished_at: row.get(25)?,
        runner: row.get(26)?,
        roots_resolved: row.get(27)?,
    })
}

/// `UPDATE … WHERE id = ?` changed nothing: the job does not exist.
pub(super) fn expect_row(changed: usize) -> rusqlite::Result<()> {
    if changed == 0 {
        Err(rusqlite::Error::QueryReturnedNoRows)
    } else {
        Ok(())
    }
}

pub(super) fn ensure_job(tx: &Transaction<'_>, id: JobId) -> rusqlite::Result<()> {
    tx.prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
}

/// The named values are stored by their stable names (see [`crate::job`]).
macro_rules! from_sql_by_name {
    ($($name:ty),+) => {
        $(impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        })+
    };
}

from_sql_by_name!(JobKind, Direction, JobState, OverwritePolicy);
