//! The persistent queue and history of transfer jobs, in SQLite.
//!
//! This module owns the queue database (by default `$XDG_DATA_HOME/skiff/queue.sqlite3`): its
//! schema and migrations, the job rows (what to transfer, state, priority and position,
//! counters, error, retries, timestamps) and the per-file rows that let an interrupted tree
//! job skip what it already finished. It does not run transfers, decide which state
//! transitions are legal, or talk to the network: the scheduler does that and writes its
//! decisions here.
//!
//! # Crash safety
//!
//! Every method that changes anything is one SQLite transaction (`BEGIN IMMEDIATE`, so two
//! skiff processes never dead-lock upgrading a read lock). The database runs in WAL mode, so
//! a `kill -9` at any moment leaves either the whole transaction or none of it; on the next
//! open SQLite rolls the WAL forward. At startup the caller runs
//! [`Queue::requeue_interrupted`] so that whatever was running goes back to the queue.
//!
//! # Run order
//!
//! Jobs run by `priority` (higher first), then `position` (lower first). [`Queue::list`]
//! returns every job in that order, and [`Queue::move_to`] indexes into that same list.
//!
//! # Storage notes
//!
//! - Enum values are stored as stable lowercase-kebab names (`overwrite-if-newer`); see the
//!   `as_str` methods. They never change once released.
//! - Local paths are stored as BLOBs of their raw bytes on Unix, so any path round-trips;
//!   elsewhere as UTF-8 text (a path that is not valid Unicode is refused).
//! - Counters are `u64` in Rust and `INTEGER` (i64) in SQLite; values above `i64::MAX` are
//!   saturated on write (no real transfer comes near 8 EiB).
//! - Job ids are never reused (`AUTOINCREMENT`), even after [`Queue::clear_finished`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};
use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::{Deserialize, Serialize};

use super::owner_only;
use crate::ssh::Overrides;
use super::runner;

/// A job's id: the SQLite rowid, never reused.
pub type JobId = i64;

/// File name of the queue database inside Skiff's data directory.
const DB_FILE_NAME: &str = "queue.sqlite3";

/// Environment variable naming the queue database file, overriding the default location.
pub const QUEUE_DB_ENV: &str = "SKIFF_QUEUE_DB";

/// How long an operation waits for another skiff process holding the write lock before it
/// gives up with [`StoreError::Locked`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is truncated back to this size after a checkpoint, so one 100,000-file batch
/// does not leave a huge WAL behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Enums stored by name

/// A value read from the database (or typed by a person) that names no known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct ParseEnumError {
    /// What was being parsed: "direction", "job state", "overwrite policy".
    pub kind: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name stored in the database (lowercase-kebab, same as serde's).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, ParseEnumError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(ParseEnumError {
                        kind: $kind,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

stored_enum! {
    /// Which way the bytes go.
    Direction, "direction" {
        /// Local → remote.
        Upload => "upload",
        /// Remote → local.
        Download => "download",
    }
}

stored_enum! {
    /// Where a job is in its life.
    JobState, "job state" {
        /// Waiting for the scheduler.
        Queued => "queued",
        /// Being transferred now.
        Running => "running",
        /// Held by the user; not picked by [`Queue::next_runnable`].
        Paused => "paused",
        /// Finished with every file transferred (or skipped by policy).
        Done => "done",
        /// Stopped by an error; kept by [`Queue::clear_finished`] so it can be retried.
        Failed => "failed",
        /// Stopped by the user.
        Cancelled => "cancelled",
    }
}

impl JobState {
    /// Done, Failed or Cancelled: the job will not run again unless re-queued.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

stored_enum! {
    /// What to do when the destination file already exists.
    OverwritePolicy, "overwrite policy" {
        /// Park the file and ask the front end.
        Ask => "ask",
        /// Replace it (atomically, once the new file is complete).
        Overwrite => "overwrite",
        /// Leave it and count the file as done.
        Skip => "skip",
        /// Treat it as a partial copy and continue from its length.
        Resume => "resume",
        /// Replace it only if the source's modification time is newer.
        OverwriteIfNewer => "overwrite-if-newer",
        /// Replace it only if the sizes differ.
        OverwriteIfSizeDiffers => "overwrite-if-size-differs",
        /// Write the new file under a fresh name beside it.
        Rename => "rename",
    }
}

// ---------------------------------------------------------------------------------------------
// Records

/// What a job transfers and how; fixed when the job is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Upload or download.
    pub direction: Direction,
    /// Host alias as typed (resolved through ssh config at run time).
    pub host: String,
    /// User given explicitly, if any.
    pub user: Option<String>,
    /// Port given explicitly, if any.
    pub port: Option<u16>,
    /// The `-F` ssh config file used, if any.
    pub ssh_config: Option<PathBuf>,
    /// The saved host the job was queued from: whichever front end resumes the job connects
    /// through it (its key, its known_hosts, its keyring secrets). `None`: an address.
    pub profile_id: Option<String>,
    /// The `-i`, `-o` and `--accept-new` the job was queued with.
    pub overrides: Overrides,
    /// Source (upload) or destination (download).
    pub local_path: PathBuf,
    /// Destination (upload) or source (download).
    pub remote_path: String,
    /// Whether a directory tree is transferred.
    pub recursive: bool,
    /// What to do with existing destination files.
    pub overwrite: OverwritePolicy,
    /// Copy the modification time.
    pub preserve_mtime: bool,
    /// Copy the permission bits.
    pub preserve_permissions: bool,
    /// Per-job speed limit in bytes per second.
    pub speed_limit: Option<u64>,
}

/// A job as stored: its spec plus everything that changes while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    pub spec: JobSpec,
    pub state: JobState,
    /// Higher runs first.
    pub priority: i32,
    /// Within one priority, lower runs first.
    pub position: i64,
    /// The last error (Failed, or whatever the caller recorded for Paused/Done/Cancelled).
    pub error: Option<String>,
    pub retries: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub files_failed: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change to the row.
    pub updated_at: i64,
    /// Unix seconds when the job became Done, Failed or Cancelled.
    pub finished_at: Option<i64>,
    /// The process running it (see [`super::runner`]), while it is Running.
    pub runner: Option<String>,
    /// Its first run resolved the tree roots ("copy into" was decided) and pinned them in
    /// the spec's paths: later runs use them as the roots themselves.
    pub roots_resolved: bool,
}

// ---------------------------------------------------------------------------------------------
// Errors

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
    /// from a newer Skiff): [`Queue::move_aside`] and a new queue is the way out.
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

/// A job's progress counters, as [`Queue::record_counters`] stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCounters {
    pub id: JobId,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub files_failed: u64,
}

/// The operation in progress, for error messages; `job` turns "no rows" into `NoSuchJob`.
#[derive(Clone, Copy)]
struct Op {
    what: &'static str,
    job: Option<JobId>,
}

impl Op {
    fn new(what: &'static str) -> Op {
        Op { what, job: None }
    }
    fn job(what: &'static str, id: JobId) -> Op {
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

fn map_sql_error(path: &Path, op: Op, err: rusqlite::Error) -> StoreError {
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

// ---------------------------------------------------------------------------------------------
// Schema

/// Migrations, in order; `PRAGMA user_version` is how many have been applied. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, per-file completion, per-file errors.
    "
    CREATE TABLE jobs (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        direction            TEXT    NOT NULL,
        host                 TEXT    NOT NULL,
        user_name            TEXT,
        port                 INTEGER,
        ssh_config           BLOB,
        local_path           BLOB    NOT NULL,
        remote_path          TEXT    NOT NULL,
        recursive            INTEGER NOT NULL,
        overwrite            TEXT    NOT NULL,
        preserve_mtime       INTEGER NOT NULL,
        preserve_permissions INTEGER NOT NULL,
        speed_limit          INTEGER,
        state                TEXT    NOT NULL,
        priority             INTEGER NOT NULL,
        position             INTEGER NOT NULL,
        error                TEXT,
        retries              INTEGER NOT NULL DEFAULT 0,
        bytes_done           INTEGER NOT NULL DEFAULT 0,
        bytes_total          INTEGER NOT NULL DEFAULT 0,
        files_done           INTEGER NOT NULL DEFAULT 0,
        files_total          INTEGER NOT NULL DEFAULT 0,
        files_failed         INTEGER NOT NULL DEFAULT 0,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        finished_at          INTEGER
    );
    CREATE INDEX jobs_run_order ON jobs (priority DESC, position ASC);
    CREATE INDEX jobs_state ON jobs (state);

    CREATE TABLE job_files (
        job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        rel_path TEXT    NOT NULL,
        size     INTEGER NOT NULL,
        PRIMARY KEY (job_id, rel_path)
    ) WITHOUT ROWID;

    CREATE TABLE job_file_errors (
        job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        rel_path TEXT    NOT NULL,
        error    TEXT    NOT NULL,
        at       INTEGER NOT NULL,
        UNIQUE (job_id, rel_path)
    );
    ",
    // 2: which process runs a job (so a second process never steals it), and whether the
    // job's tree roots were pinned by its first run.
    "
    ALTER TABLE jobs ADD COLUMN runner TEXT;
    ALTER TABLE jobs ADD COLUMN roots_resolved INTEGER NOT NULL DEFAULT 0;
    ",
    // 3: the done byte ranges of unfinished downloads (see `queue/partials.rs`).
    "
    CREATE TABLE job_partials (
        job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        rel_path TEXT    NOT NULL,
        record   TEXT    NOT NULL,
        at       INTEGER NOT NULL,
        PRIMARY KEY (job_id, rel_path)
    ) WITHOUT ROWID;
    ",
    // 4: how a job connects beyond host, user, port and ssh_config: the saved host it came
    // from and the command line's connection overrides (JSON, see `ssh::Overrides`).
    "
    ALTER TABLE jobs ADD COLUMN profile_id TEXT;
    ALTER TABLE jobs ADD COLUMN overrides TEXT;
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const JOB_COLUMNS: &str = "id, direction, host, user_name, port, ssh_config, local_path, \
    remote_path, recursive, overwrite, preserve_mtime, preserve_permissions, speed_limit, \
    state, priority, position, error, retries, bytes_done, bytes_total, files_done, \
    files_total, files_failed, created_at, updated_at, finished_at, runner, roots_resolved, \
    profile_id, overrides";

/// Run order; `id` breaks ties so the order is total even if positions ever collide.
const RUN_ORDER: &str = "ORDER BY priority DESC, position ASC, id ASC";

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

fn path_value(db: &Path, p: &Path) -> Result<Value, StoreError> {
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

fn count(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    row.get::<_, Count>(idx).map(|c| c.0)
}

/// `u64` → SQLite INTEGER, saturating at `i64::MAX`.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: row.get(0)?,
        spec: JobSpec {
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
fn expect_row(changed: usize) -> rusqlite::Result<()> {
    if changed == 0 {
        Err(rusqlite::Error::QueryReturnedNoRows)
    } else {
        Ok(())
    }
}

fn ensure_job(tx: &Transaction<'_>, id: JobId) -> rusqlite::Result<()> {
    tx.prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
}

// ---------------------------------------------------------------------------------------------
// Queue

/// Create the database file 0600 before SQLite does (SQLite would use 0644 minus the umask),
/// or tighten an existing one and its `-wal`/`-shm`.
fn make_private(path: &Path) -> Result<(), StoreError> {
    let failed = |source: io::Error| StoreError::Private { path: path.to_path_buf(), source };
    match owner_only::create_new(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            owner_only::restrict(path).map_err(failed)?;
            for suffix in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                owner_only::restrict(Path::new(&side)).map_err(failed)?;
            }
            Ok(())
        }
        Err(e) => Err(failed(e)),
    }
}

/// The queue database. One connection behind a mutex, so `Queue` is `Send + Sync` and can
/// sit in an `Arc`; every call is short, and async callers use `spawn_blocking`.
pub struct Queue {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Opens (or creates) the queue database at `path`, creating its parent directories and
    /// bringing the schema up to date. The file (and so the `-wal` and `-shm` SQLite makes
    /// beside it, which take its mode) is 0600 and folders created for it 0700, whatever
    /// the umask; an existing database is tightened to 0600.
    pub fn open(path: &Path) -> Result<Queue, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            owner_only::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        make_private(path)?;
        let conn = Connection::open(path)
            .map_err(|e| map_sql_error(path, Op::new("open the database"), e))?;
        Queue::init(conn, path.to_path_buf())
    }

    /// Rename an unreadable database (see [`StoreError::is_unreadable_database`]) and its
    /// `-wal`/`-shm` to `NAME.corrupt-<unix seconds>` (`-wal`, `-shm`), so that the next
    /// [`Queue::open`] starts a new, empty queue and nothing of the old one is deleted.
    /// Returns the new name of the database file.
    pub fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
        let stamp = now();
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".corrupt-{stamp}"));
        let mut aside = PathBuf::from(aside);
        // Never replace an earlier copy moved aside in the same second.
        let mut n = 1;
        while aside.symlink_metadata().is_ok() {
            let mut next = path.as_os_str().to_owned();
            next.push(format!(".corrupt-{stamp}-{n}"));
            aside = PathBuf::from(next);
            n += 1;
        }
        let failed = |to: &Path, source| StoreError::MoveAside {
            path: path.to_path_buf(),
            to: to.to_path_buf(),
            source,
        };
        std::fs::rename(path, &aside).map_err(|e| failed(&aside, e))?;
        for suffix in ["-wal", "-shm"] {
            let mut from = path.as_os_str().to_owned();
            from.push(suffix);
            let mut to = aside.as_os_str().to_owned();
            to.push(suffix);
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(failed(Path::new(&to), e)),
            }
        }
        Ok(aside)
    }

    /// A private, empty queue that lives only as long as the value (for tests and dry runs).
    pub fn open_in_memory() -> Result<Queue, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory()
            .map_err(|e| map_sql_error(&path, Op::new("open the database"), e))?;
        Queue::init(conn, path)
    }

    /// Where the queue lives unless told otherwise: `$SKIFF_QUEUE_DB` if set, else
    /// `$XDG_DATA_HOME/skiff/queue.sqlite3`, else `~/.local/share/skiff/queue.sqlite3`.
    pub fn default_path() -> PathBuf {
        default_path_from(|name| std::env::var_os(name))
    }

    /// The database file this queue was opened on (`:memory:` for an in-memory queue).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Queue, StoreError> {
        let err = |what: &'static str| {
            let path = path.clone();
            move |e| map_sql_error(&path, Op::new(what), e)
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("set the busy timeout"))?;
        // Off by default in SQLite; needed for ON DELETE CASCADE. Per connection.
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err("enable foreign keys"))?;
        // WAL: a committed transaction is one append to the -wal file, readers never block
        // the writer, and a process killed mid-transaction leaves an uncommitted tail that
        // the next open ignores. (In-memory databases answer "memory"; that is fine.)
        // SQLite answers this pragma with "busy" without calling the busy handler while
        // another process checkpoints or holds the WAL index (seen: `skiff queue` run next to
        // a busy `skiff cp`), so it is retried here for as long as the busy timeout.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let _mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other.map_err(err("switch to WAL mode"))?,
            }
        };
        // synchronous=NORMAL is safe with WAL: a commit is written to the WAL before the
        // call returns, so it survives the process being killed (the OS has the pages);
        // only the WAL fsync is deferred to checkpoints. A power loss or kernel crash can
        // therefore lose the last few commits — never corrupt the database — and losing a
        // second of progress only means a resumed job re-checks a few files it had already
        // finished. FULL would fsync on every progress batch, ten times a second.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err("set synchronous"))?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .map_err(err("set the journal size limit"))?;
        migrate(&mut conn, &path)?;
        Ok(Queue {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back (Transaction's Drop),
        // so the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it.
    fn write<T>(
        &self,
        op: Op,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.transaction(TransactionBehavior::Immediate, op, f)
    }

    /// Runs `f` in one read transaction, so several queries see the same snapshot.
    fn read<T>(
        &self,
        op: Op,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.transaction(TransactionBehavior::Deferred, op, f)
    }

    fn transaction<T>(
        &self,
        behavior: TransactionBehavior,
        op: Op,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let run = || {
            let tx = conn.transaction_with_behavior(behavior)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| map_sql_error(&self.path, op, e))
    }

    /// Adds a job in state Queued at the end of the queue (`position` = max + 1).
    pub fn add(&self, spec: &JobSpec, priority: i32) -> Result<JobId, StoreError> {
        let ssh_config = spec
            .ssh_config
            .as_deref()
            .map(|p| path_value(&self.path, p))
            .transpose()?;
        let local_path = path_value(&self.path, &spec.local_path)?;
        let overrides = (!spec.overrides.is_empty()).then(|| serde_json::to_string(&spec.overrides).expect("overrides serialize"));
        let t = now();
        self.write(Op::new("add a job"), |tx| {
            tx.prepare_cached(
                "INSERT INTO jobs (direction, host, user_name, port, ssh_config, local_path, \
                 remote_path, recursive, overwrite, preserve_mtime, preserve_permissions, \
                 speed_limit, state, priority, position, created_at, updated_at, profile_id, overrides) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                 (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs), ?15, ?15, ?16, ?17)",
            )?
            .execute(params![
                spec.direction.as_str(),
                spec.host,
                spec.user,
                spec.port,
                ssh_config,
                local_path,
                spec.remote_path,
                spec.recursive,
                spec.overwrite.as_str(),
                spec.preserve_mtime,
                spec.preserve_permissions,
                spec.speed_limit.map(int),
                JobState::Queued.as_str(),
                priority,
                t,
                spec.profile_id,
                overrides,
            ])?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The job with this id, if there is one.
    pub fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        self.read(Op::new("read a job"), |tx| {
            tx.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row([id], job_from_row)
                .optional()
        })
    }

    /// Every job, in run order (priority descending, then position ascending).
    pub fn list(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.read(Op::new("list the jobs"), |tx| {
            tx.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs {RUN_ORDER}"))?
                .query_map([], job_from_row)?
                .collect()
        })
    }

    /// The first Queued job in run order.
    pub fn next_runnable(&self) -> Result<Option<JobRecord>, StoreError> {
        self.read(Op::new("find the next job"), |tx| {
            tx.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = ?1 {RUN_ORDER} LIMIT 1"
            ))?
            .query_row([JobState::Queued.as_str()], job_from_row)
            .optional()
        })
    }

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

    /// Up to `limit` Queued jobs, in run order.
    pub fn queued(&self, limit: usize) -> Result<Vec<JobRecord>, StoreError> {
        self.read(Op::new("list the queued jobs"), |tx| {
            tx.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = ?1 {RUN_ORDER} LIMIT ?2"))?
                .query_map(params![JobState::Queued.as_str(), int(limit as u64)], job_from_row)?
                .collect()
        })
    }

    /// Deletes Done and Cancelled jobs with their file rows; Failed jobs stay for a retry.
    /// Returns how many jobs were deleted.
    pub fn clear_finished(&self) -> Result<usize, StoreError> {
        self.write(Op::new("clear finished jobs"), |tx| {
            tx.prepare_cached("DELETE FROM jobs WHERE state IN (?1, ?2)")?
                .execute([JobState::Done.as_str(), JobState::Cancelled.as_str()])
        })
    }

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

/// Brings the schema to [`SCHEMA_VERSION`] in one immediate transaction, so two processes
/// opening a new database at once do not both migrate it.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let op = Op::new("migrate the schema");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| map_sql_error(path, op, e))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| map_sql_error(path, op, e))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let apply = || -> rusqlite::Result<()> {
        for sql in &MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
    };
    if found < SCHEMA_VERSION {
        apply().map_err(|e| map_sql_error(path, op, e))?;
    }
    tx.commit().map_err(|e| map_sql_error(path, op, e))
}

fn default_path_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(p) = set(QUEUE_DB_ENV) {
        return PathBuf::from(p);
    }
    // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    if let Some(data) = set("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return data.join("skiff").join(DB_FILE_NAME);
    }
    match set("HOME") {
        Some(home) => PathBuf::from(home)
            .join(".local/share/skiff")
            .join(DB_FILE_NAME),
        None => PathBuf::from(DB_FILE_NAME),
    }
}

mod partials;

#[cfg(test)]
mod tests;
