//! What can go wrong with the queue database: [`StoreError`] (each message names the database
//! file and the operation, and says what to do), the operation in progress ([`Op`]) and the
//! mapping of SQLite's errors onto them.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::QUEUE_DB_ENV;
use crate::job::JobId;


/// Everything that can go wrong with the queue database. Each message names the database
/// file and the operation, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the directory {} for the queue database {}: {source}; check that it is \
         writable, or set {QUEUE_DB_ENV} to a file elsewhere",
        .dir.display(), .path.display()
    )]
    CreateDir {
        path: PathBuf,
        dir: PathBuf,
        source: io::Error,
    },

    #[error(
        "the queue database at {} is locked by another skiff (while trying to {op}); wait for \
         it to finish or quit it, then try again",
        .path.display()
    )]
    Locked { path: PathBuf, op: String },

    #[error(
        "the queue database at {} is corrupt ({detail}) (while trying to {op}); move it away \
         and skiff will start a new, empty queue",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        op: String,
        detail: String,
    },

    #[error(
        "the queue database at {} has schema version {found}, newer than this skiff \
         understands ({supported}); use a newer skiff, or move the database away",
        .path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "there is no job {id} in the queue database at {} (while trying to {op}); list the \
         queue to see which jobs exist",
        .path.display()
    )]
    NoSuchJob {
        path: PathBuf,
        id: JobId,
        op: String,
    },

    #[error(
        "the disk holding the queue database at {} is full (while trying to {op}); free some \
         space and try again",
        .path.display()
    )]
    DiskFull { path: PathBuf, op: String },

    #[error(
        "cannot write the queue database at {} (while trying to {op}): {source}; check the \
         permissions of the file and its directory",
        .path.display()
    )]
    ReadOnly {
        path: PathBuf,
        op: String,
        source: rusqlite::Error,
    },

    #[error(
        "the queue database at {} holds a value this skiff cannot read (while trying to \
         {op}): {detail}; it may come from a newer skiff or be damaged; use a newer skiff or \
         move the database away",
        .path.display()
    )]
    BadValue {
        path: PathBuf,
        op: String,
        detail: String,
    },

    #[error(
        "the local path {} cannot be stored in the queue database at {}: it is not valid \
         Unicode; rename it or choose another path",
        .local.display(), .path.display()
    )]
    UnrepresentablePath { path: PathBuf, local: PathBuf },

    #[error(
        "cannot make the queue database at {} readable by its owner only: {source}; check \
         that the file is yours, or set {QUEUE_DB_ENV} to a file elsewhere",
        .path.display()
    )]
    Private { path: PathBuf, source: io::Error },

    #[error(
        "cannot move the queue database at {} aside to {}: {source}; check that its folder \
         is writable, or move the file away yourself",
        .path.display(), .to.display()
    )]
    MoveAside {
        path: PathBuf,
        to: PathBuf,
        source: io::Error,
    },

    #[error(
        "the queue database at {} failed to {op}: {source}; if this repeats, move the \
         database away",
        .path.display()
    )]
    Sqlite {
        path: PathBuf,
        op: String,
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// A stable machine-readable code, for errors crossing to the UI as `{ code, message }`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::CreateDir { .. } => "store-create-dir",
            StoreError::Locked { .. } => "store-locked",
            StoreError::Corrupt { .. } => "store-corrupt",
            StoreError::TooNew { .. } => "store-too-new",
            StoreError::NoSuchJob { .. } => "store-no-such-job",
            StoreError::DiskFull { .. } => "store-disk-full",
            StoreError::ReadOnly { .. } => "store-read-only",
            StoreError::BadValue { .. } => "store-bad-value",
            StoreError::UnrepresentablePath { .. } => "store-unrepresentable-path",
            StoreError::Sqlite { .. } => "store-sqlite",
            StoreError::Private { .. } => "store-private",
            StoreError::MoveAside { .. } => "store-move-aside",
        }
    }

    /// The file is not a queue database this Skiff can use (damaged, not SQLite at all, or
    /// from a newer Skiff): [`Queue::move_aside`](super::Queue::move_aside) and a new queue is the way out.
    pub fn is_unreadable_database(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::TooNew { .. } | StoreError::BadValue { .. })
    }

    /// The database file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StoreError::CreateDir { path, .. }
            | StoreError::Locked { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::TooNew { path, .. }
            | StoreError::NoSuchJob { path, .. }
            | StoreError::DiskFull { path, .. }
            | StoreError::ReadOnly { path, .. }
            | StoreError::BadValue { path, .. }
            | StoreError::UnrepresentablePath { path, .. }
            | StoreError::Private { path, .. }
            | StoreError::MoveAside { path, .. }
            | StoreError::Sqlite { path, .. } => path,
        }
    }
}

/// The operation in progress, for error messages; `job` turns "no rows" into `NoSuchJob`.
#[derive(Clone, Copy)]
pub(super) struct Op {
    what: &'static str,
    job: Option<JobId>,
}

impl Op {
    pub(super) fn new(what: &'static str) -> Op {
        Op { what, job: None }
    }
    pub(super) fn job(what: &'static str, id: JobId) -> Op {
        Op {
            what,
            job: Some(id),
        }
    }
    fn describe(self) -> String {
        match self.job {
            Some(id) => format!("{} (job {id})", self.what),
            None => self.what.to_string(),
        }
    }
}

pub(super) fn map_sql_error(path: &Path, op: Op, err: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    let op_text = op.describe();
    match err {
        rusqlite::Error::QueryReturnedNoRows if op.job.is_some() => StoreError::NoSuchJob {
            path,
            id: op.job.unwrap_or_default(),
            op: op.what.to_string(),
        },
        rusqlite::Error::SqliteFailure(ref e, ref msg) => match e.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Locked { path, op: op_text }
            }
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreError::Corrupt {
                path,
                op: op_text,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
            ErrorCode::DiskFull => StoreError::DiskFull { path, op: op_text },
            ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen => {
                StoreError::ReadOnly {
                    path,
                    op: op_text,
                    source: err,
                }
            }
            _ => StoreError::Sqlite {
                path,
                op: op_text,
                source: err,
            },
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::BadValue {
            path,
            op: op_text,
            detail: err.to_string(),
        },
        _ => StoreError::Sqlite {
            path,
            op: op_text,
            source: err,
        },
    }
}
