//! The queue database's schema: its migrations, in order, and bringing a database up to
//! [`SCHEMA_VERSION`] when it is opened.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::errors::{map_sql_error, Op, StoreError};


/// Migrations, in order; `PRAGMA user_version` is how many have been applied. Append only.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 5: what a job does (`JobKind`); every job before it was a copy.
    "
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'copy';
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema to [`SCHEMA_VERSION`] in one immediate transaction, so two processes
/// opening a new database at once do not both migrate it.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
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
