//! The persistent queue and history of transfer jobs, in SQLite.
//!
//! This module owns the queue database (by default `$XDG_DATA_HOME/skiff/queue.sqlite3`): its
//! schema and migrations, the job rows (what to transfer, state, priority and position,
//! counters, error, retries, timestamps) and the per-file rows that let an interrupted tree
//! job skip what it already finished. It does not run transfers, decide which state
//! transitions are legal, or talk to the network: the scheduler does that and writes its
//! decisions here. What a job is (spec, record, states) is [`crate::job`]'s; this module
//! stores it.
//!
//! # Layout
//!
//! - here: [`Queue`], opening (or moving aside) the database, transactions, adding and
//!   listing jobs, the default location.
//! - `schema`: the migrations and [`SCHEMA_VERSION`].
//! - `rows`: job rows ↔ [`crate::job::JobRecord`], and how paths, counters and names are stored.
//! - `errors`: [`StoreError`] and SQLite's errors mapped onto it.
//! - `changes`: state, counters, retries, speed limit, pinned paths; claiming and re-queueing.
//! - `order`: priority and position (move to, up, down).
//! - `files`: per-file completion and per-file errors.
//! - `partials`: unfinished files' [`crate::job::PartialRecord`]s.
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

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::owner_only;
use crate::job::{JobId, JobRecord, JobSpec, JobState};
use errors::{map_sql_error, Op};
use rows::{int, job_from_row, now, path_value, JOB_COLUMNS, RUN_ORDER};

mod changes;
mod errors;
mod files;
mod order;
mod partials;
mod rows;
mod schema;

pub use errors::StoreError;
pub use schema::SCHEMA_VERSION;

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
        schema::migrate(&mut conn, &path)?;
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
                 speed_limit, state, priority, position, created_at, updated_at, profile_id, overrides, kind) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                 (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs), ?15, ?15, ?16, ?17, ?18)",
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
                spec.kind.as_str(),
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

#[cfg(test)]
mod tests;
