//! The database file: reopening, schema versions, corruption and moving aside, permissions,
//! busy and full disks, locks held by another process, and where the file lives.

use super::*;

#[test]
fn reopening_a_file_database_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/queue.sqlite3");
    let (before, files, errors) = {
        let q = Queue::open(&path).unwrap();
        assert_eq!(q.path(), path);
        let a = q.add(&full_spec(), 3).unwrap();
        let b = q.add(&spec("b"), 0).unwrap();
        q.set_state(a, JobState::Running, None).unwrap();
        q.record_totals(a, 1000, 10).unwrap();
        q.record_progress(a, 500, 5, 1).unwrap();
        q.bump_retries(a).unwrap();
        q.mark_files_done(a, &[("x".into(), 1), ("y".into(), 2)])
            .unwrap();
        q.record_file_error(a, "z", "boom").unwrap();
        q.set_state(b, JobState::Failed, Some("auth failed"))
            .unwrap();
        (
            q.list().unwrap(),
            q.done_files(a).unwrap(),
            q.file_errors(a).unwrap(),
        )
    };
    let q = Queue::open(&path).unwrap();
    assert_eq!(q.list().unwrap(), before);
    assert_eq!(q.done_files(before[0].id).unwrap(), files);
    assert_eq!(q.file_errors(before[0].id).unwrap(), errors);
    let conn = q.lock();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert!(fk);
}

/// A database as a skiff of schema `version` left it: the first `version` migrations, and
/// one job written with the columns every version has.
fn database_at_version(path: &Path, version: usize) -> JobId {
    let conn = Connection::open(path).unwrap();
    for sql in &schema::MIGRATIONS[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64).unwrap();
    conn.execute(
        "INSERT INTO jobs (direction, host, local_path, remote_path, recursive, overwrite, preserve_mtime, \
         preserve_permissions, state, priority, position, created_at, updated_at) \
         VALUES ('download', 'old-host', CAST('/tmp/old' AS BLOB), '/srv/old', 1, 'skip', 1, 0, 'paused', 2, 1, 1700000000, 1700000000)",
        [],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    conn.execute("INSERT INTO job_files (job_id, rel_path, size) VALUES (?1, 'a/done', 7)", [id]).unwrap();
    id
}

#[test]
fn every_older_schema_migrates_and_its_jobs_read_back_as_copies() {
    assert_eq!(SCHEMA_VERSION, 5, "a new migration needs its own check here");
    for version in 1..SCHEMA_VERSION as usize {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let id = database_at_version(&path, version);
        let q = Queue::open(&path).unwrap();
        let found: i64 = q.lock().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(found, SCHEMA_VERSION, "from version {version}");
        let job = q.get(id).unwrap().unwrap();
        assert_eq!(job.spec.kind, JobKind::Copy, "from version {version}");
        assert_eq!((job.spec.direction, job.spec.host.as_str(), job.spec.overwrite), (Direction::Download, "old-host", OverwritePolicy::Skip));
        assert_eq!((job.spec.local_path.as_path(), job.spec.remote_path.as_str()), (Path::new("/tmp/old"), "/srv/old"));
        assert_eq!((job.state, job.priority, job.runner, job.roots_resolved), (JobState::Paused, 2, None, false));
        assert_eq!((job.spec.profile_id.as_deref(), job.spec.overrides.is_empty()), (None, true));
        assert_eq!(q.done_files(id).unwrap(), HashMap::from([("a/done".to_string(), 7)]));
        assert_eq!(q.partial(id, "a/f").unwrap(), None, "from version {version}: job_partials exists");
        let added = q.add(&spec("new"), 0).unwrap();
        assert_eq!(q.get(added).unwrap().unwrap().spec.kind, JobKind::Copy);
        assert_eq!(ids(&q), vec![id, added]);
    }
}

#[test]
fn an_unknown_job_kind_is_a_bad_value_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite3");
    let q = Queue::open(&path).unwrap();
    let id = q.add(&spec("k"), 0).unwrap();
    q.lock().execute("UPDATE jobs SET kind = 'teleport' WHERE id = ?1", [id]).unwrap();
    let err = q.get(id).unwrap_err();
    assert!(matches!(err, StoreError::BadValue { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("job kind") && msg.contains("teleport") && msg.contains("newer skiff"), "{msg}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite3");
    drop(Queue::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Queue::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("newer skiff"),
        "{msg}"
    );
}

#[test]
fn a_garbage_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = Queue::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("move it away"),
        "{msg}"
    );
}

#[test]
fn a_garbage_file_is_moved_aside_and_a_new_queue_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite3");
    let garbage = vec![0x5a; 8192];
    std::fs::write(&path, &garbage).unwrap();
    let err = Queue::open(&path).unwrap_err();
    assert!(err.is_unreadable_database(), "{err:?}");
    assert_eq!(err.path(), path);
    // A -wal beside it moves with it (SQLite would otherwise pair it with the new file).
    let wal = dir.path().join("q.sqlite3-wal");
    std::fs::write(&wal, b"old wal").unwrap();

    let aside = Queue::move_aside(&path).unwrap();
    let name = aside.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("q.sqlite3.corrupt-"), "{name}");
    assert_eq!(std::fs::read(&aside).unwrap(), garbage, "the old file is kept, byte for byte");
    assert_eq!(std::fs::read(format!("{}-wal", aside.display())).unwrap(), b"old wal");
    assert!(!wal.exists(), "the old -wal is not left for the new database");

    let q = Queue::open(&path).unwrap();
    assert!(q.list().unwrap().is_empty());
    q.add(&spec("/r/a"), 0).unwrap();
    drop(q);
    // A second move in the same second does not replace the first one.
    let second = Queue::move_aside(&path).unwrap();
    assert_ne!(second, aside);
    assert_eq!(std::fs::read(&aside).unwrap(), garbage);
}

#[test]
fn an_error_that_moving_aside_cannot_fix_is_not_offered_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Queue::open(&file.join("sub/q.sqlite3")).unwrap_err();
    assert!(!err.is_unreadable_database(), "{err:?}");
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_are_private_and_an_old_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/skiff/q.sqlite3");
    let q = Queue::open(&path).unwrap();
    q.add(&spec("/r/a"), 0).unwrap();
    let wal = dir.path().join("new/skiff/q.sqlite3-wal");
    let shm = dir.path().join("new/skiff/q.sqlite3-shm");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&wal), 0o600, "SQLite gives the -wal the database's mode");
    assert_eq!(mode(&shm), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    assert_eq!(mode(&dir.path().join("new/skiff")), 0o700);
    drop(q);
    for p in [&path, &wal, &shm] {
        if p.exists() {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let q = Queue::open(&path).unwrap();
    q.add(&spec("/r/b"), 0).unwrap();
    for p in [&path, &wal, &shm] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
}

#[test]
fn an_uncreatable_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Queue::open(&file.join("sub/q.sqlite3")).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains(QUEUE_DB_ENV));
}

#[test]
fn busy_and_disk_full_map_to_their_own_errors() {
    let path = Path::new("/x/q.sqlite3");
    let failure = |code| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error {
                code,
                extended_code: 0,
            },
            None,
        )
    };
    let err = map_sql_error(path, Op::job("pause", 3), failure(ErrorCode::DatabaseBusy));
    assert!(matches!(err, StoreError::Locked { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("/x/q.sqlite3") && msg.contains("another skiff") && msg.contains("job 3"),
        "{msg}"
    );
    let err = map_sql_error(path, Op::new("add a job"), failure(ErrorCode::DiskFull));
    assert!(matches!(err, StoreError::DiskFull { .. }));
    assert!(err.to_string().contains("free some space"));
}

#[test]
fn a_second_process_waiting_on_the_lock_is_told_so() {
    // Another connection holds the write lock longer than the busy timeout allows.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite3");
    let q = Queue::open(&path).unwrap();
    let id = q.add(&spec("a"), 0).unwrap();
    let mut other = Connection::open(&path).unwrap();
    let tx = other
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    q.lock().busy_timeout(Duration::from_millis(50)).unwrap();
    let err = q.set_priority(id, 1).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    // Readers are not blocked by the writer in WAL mode.
    assert_eq!(q.list().unwrap().len(), 1);
    drop(tx);
    q.set_priority(id, 1).unwrap();
}

#[test]
fn default_path_follows_env() {
    use std::ffi::OsString;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert_eq!(
        default_path_from(env(&[
            ("SKIFF_QUEUE_DB", "/q.db"),
            ("XDG_DATA_HOME", "/d"),
            ("HOME", "/h")
        ])),
        PathBuf::from("/q.db")
    );
    assert_eq!(
        default_path_from(env(&[
            ("SKIFF_QUEUE_DB", ""),
            ("XDG_DATA_HOME", "/d"),
            ("HOME", "/h")
        ])),
        PathBuf::from("/d/skiff/queue.sqlite3")
    );
    assert_eq!(
        default_path_from(env(&[("XDG_DATA_HOME", "relative"), ("HOME", "/h")])),
        PathBuf::from("/h/.local/share/skiff/queue.sqlite3")
    );
    assert_eq!(default_path_from(env(&[])), PathBuf::from("queue.sqlite3"));
    assert!(
        Queue::default_path().ends_with("queue.sqlite3")
            || std::env::var_os(QUEUE_DB_ENV).is_some()
    );
}
