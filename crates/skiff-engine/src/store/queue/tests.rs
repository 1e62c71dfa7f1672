//! Unit tests for the queue database, including a `kill -9` test that re-executes this test
//! binary as a child writer.

use super::*;
use std::process::{Command, Stdio};
use std::time::Instant;

fn spec(name: &str) -> JobSpec {
    JobSpec {
        direction: Direction::Upload,
        host: "example".into(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: PathBuf::from(format!("/tmp/{name}")),
        remote_path: format!("/srv/{name}"),
        recursive: false,
        overwrite: OverwritePolicy::Ask,
        preserve_mtime: true,
        preserve_permissions: false,
        speed_limit: None,
    }
}

fn full_spec() -> JobSpec {
    #[cfg(unix)]
    let local_path = {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(b"/home/u/caf\xe9 \n-dir"))
    };
    #[cfg(not(unix))]
    let local_path = PathBuf::from("C:\\Users\\u\\café");
    JobSpec {
        direction: Direction::Download,
        host: "my-alias".into(),
        user: Some("alice".into()),
        port: Some(2222),
        ssh_config: Some(PathBuf::from("/etc/skiff/ssh_config")),
        profile_id: Some("h7".into()),
        overrides: crate::ssh::Overrides { identity: vec![PathBuf::from("/k/id_ed25519")], options: vec!["Port=2200".into()], accept_new: true },
        local_path,
        remote_path: "/var/ünïcode dir/".into(),
        recursive: true,
        overwrite: OverwritePolicy::OverwriteIfSizeDiffers,
        preserve_mtime: false,
        preserve_permissions: true,
        speed_limit: Some(1_000_000),
    }
}

fn ids(q: &Queue) -> Vec<JobId> {
    q.list().unwrap().iter().map(|j| j.id).collect()
}

fn raw_count(q: &Queue, sql: &str) -> i64 {
    q.lock().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn queue_is_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Queue>();
}

#[test]
fn enum_names_round_trip_and_are_kebab() {
    for d in Direction::ALL {
        assert_eq!(d.as_str().parse::<Direction>().unwrap(), *d);
    }
    for s in JobState::ALL {
        assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
        assert_eq!(s.to_string(), s.as_str());
    }
    for p in OverwritePolicy::ALL {
        assert_eq!(p.as_str().parse::<OverwritePolicy>().unwrap(), *p);
        assert!(p
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-'));
    }
    assert_eq!(
        OverwritePolicy::OverwriteIfNewer.as_str(),
        "overwrite-if-newer"
    );
    assert_eq!(
        OverwritePolicy::OverwriteIfSizeDiffers.as_str(),
        "overwrite-if-size-differs"
    );
    let err = "sideways".parse::<Direction>().unwrap_err();
    assert!(err.to_string().contains("upload, download"), "{err}");
}

#[test]
fn add_get_round_trips_every_field() {
    let q = Queue::open_in_memory().unwrap();
    let s = full_spec();
    let id = q.add(&s, 7).unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(r.id, id);
    assert_eq!(r.spec, s);
    assert_eq!(r.state, JobState::Queued);
    assert_eq!(r.priority, 7);
    assert_eq!(r.position, 1);
    assert_eq!((r.error.as_deref(), r.retries), (None, 0));
    assert_eq!(
        (
            r.bytes_done,
            r.bytes_total,
            r.files_done,
            r.files_total,
            r.files_failed
        ),
        (0, 0, 0, 0, 0)
    );
    assert!(r.created_at > 1_600_000_000);
    assert_eq!(r.updated_at, r.created_at);
    assert_eq!(r.finished_at, None);
    assert!(q.get(id + 100).unwrap().is_none());

    let minimal = spec("m");
    let id2 = q.add(&minimal, 0).unwrap();
    let r2 = q.get(id2).unwrap().unwrap();
    assert_eq!(r2.spec, minimal);
    assert_eq!(r2.position, 2);
}

#[test]
fn run_order_is_priority_then_position() {
    let q = Queue::open_in_memory().unwrap();
    let a = q.add(&spec("a"), 0).unwrap();
    let b = q.add(&spec("b"), 5).unwrap();
    let c = q.add(&spec("c"), 0).unwrap();
    let d = q.add(&spec("d"), 5).unwrap();
    let e = q.add(&spec("e"), -1).unwrap();
    assert_eq!(ids(&q), vec![b, d, a, c, e]);
    assert_eq!(q.next_runnable().unwrap().unwrap().id, b);

    q.set_state(b, JobState::Running, None).unwrap();
    q.set_state(d, JobState::Paused, None).unwrap();
    assert_eq!(q.next_runnable().unwrap().unwrap().id, a);
    q.set_priority(e, 10).unwrap();
    assert_eq!(q.next_runnable().unwrap().unwrap().id, e);
    assert_eq!(ids(&q), vec![e, b, d, a, c]);
    for id in [a, c, e] {
        q.set_state(id, JobState::Done, None).unwrap();
    }
    assert!(q.next_runnable().unwrap().is_none());
}

#[test]
fn set_state_stamps_finished_at_and_handles_error() {
    let q = Queue::open_in_memory().unwrap();
    let id = q.add(&spec("a"), 0).unwrap();

    q.set_state(id, JobState::Running, Some("ignored")).unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(
        (r.state, r.error, r.finished_at),
        (JobState::Running, None, None)
    );

    q.set_state(id, JobState::Failed, Some("host unreachable"))
        .unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(r.state, JobState::Failed);
    assert_eq!(r.error.as_deref(), Some("host unreachable"));
    assert!(r.finished_at.is_some());

    // Retry: back to Queued clears both.
    q.set_state(id, JobState::Queued, Some("ignored")).unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(
        (r.state, r.error, r.finished_at),
        (JobState::Queued, None, None)
    );

    q.set_state(id, JobState::Paused, Some("paused by user"))
        .unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(
        (r.error.as_deref(), r.finished_at),
        (Some("paused by user"), None)
    );

    for s in [JobState::Done, JobState::Cancelled] {
        q.set_state(id, s, None).unwrap();
        let r = q.get(id).unwrap().unwrap();
        assert_eq!((r.state, r.error.as_deref()), (s, None));
        assert!(r.finished_at.is_some());
    }
}

#[test]
fn counters_retries_and_priority() {
    let q = Queue::open_in_memory().unwrap();
    let id = q.add(&spec("a"), 0).unwrap();
    assert_eq!(q.bump_retries(id).unwrap(), 1);
    assert_eq!(q.bump_retries(id).unwrap(), 2);
    q.record_totals(id, 1 << 40, 12_345).unwrap();
    q.record_progress(id, 1 << 39, 6_000, 3).unwrap();
    q.set_priority(id, -4).unwrap();
    let r = q.get(id).unwrap().unwrap();
    assert_eq!(r.retries, 2);
    assert_eq!((r.bytes_total, r.files_total), (1 << 40, 12_345));
    assert_eq!(
        (r.bytes_done, r.files_done, r.files_failed),
        (1 << 39, 6_000, 3)
    );
    assert_eq!(r.priority, -4);
    // Saturates instead of failing.
    q.record_totals(id, u64::MAX, 0).unwrap();
    assert_eq!(q.get(id).unwrap().unwrap().bytes_total, i64::MAX as u64);
}

#[test]
fn counters_of_several_jobs_in_one_write() {
    let q = Queue::open_in_memory().unwrap();
    let (a, b) = (q.add(&spec("a"), 0).unwrap(), q.add(&spec("b"), 0).unwrap());
    let gone = q.add(&spec("c"), 0).unwrap();
    q.set_state(gone, JobState::Done, None).unwrap();
    q.clear_finished().unwrap();
    let row = |id, n: u64| JobCounters { id, bytes_done: n, bytes_total: 2 * n, files_done: n / 10, files_total: n / 5, files_failed: 1 };
    q.record_counters(&[row(a, 100), row(gone, 7), row(b, 50)]).unwrap();
    for (id, n) in [(a, 100), (b, 50)] {
        let r = q.get(id).unwrap().unwrap();
        assert_eq!((r.bytes_done, r.bytes_total, r.files_done, r.files_total, r.files_failed), (n, 2 * n, n / 10, n / 5, 1));
    }
    assert!(q.get(gone).unwrap().is_none(), "a removed job is passed over, not recreated");
    q.record_counters(&[]).unwrap();
}

#[test]
fn unknown_job_is_a_clear_error_everywhere() {
    let q = Queue::open_in_memory().unwrap();
    let missing = 42;
    let results: Vec<Result<(), StoreError>> = vec![
        q.set_state(missing, JobState::Done, None),
        q.bump_retries(missing).map(drop),
        q.record_totals(missing, 1, 1),
        q.record_progress(missing, 1, 1, 0),
        q.set_priority(missing, 1),
        q.move_to(missing, 0),
        q.move_up(missing),
        q.move_down(missing),
        q.mark_file_done(missing, "x", 1),
        q.mark_files_done(missing, &[]),
        q.done_files(missing).map(drop),
        q.record_file_error(missing, "x", "e"),
        q.file_errors(missing).map(drop),
    ];
    for r in results {
        let err = r.unwrap_err();
        assert!(
            matches!(err, StoreError::NoSuchJob { id: 42, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("job 42") && msg.contains(":memory:"), "{msg}");
        assert_eq!(err.code(), "store-no-such-job");
    }
}

#[test]
fn move_to_up_down_within_one_priority() {
    let q = Queue::open_in_memory().unwrap();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| q.add(&spec(n), 0).unwrap());
    q.move_to(d, 0).unwrap();
    assert_eq!(ids(&q), vec![d, a, b, c]);
    q.move_to(d, 2).unwrap();
    assert_eq!(ids(&q), vec![a, b, d, c]);
    q.move_to(a, 999).unwrap();
    assert_eq!(ids(&q), vec![b, d, c, a]);
    q.move_up(c).unwrap();
    assert_eq!(ids(&q), vec![b, c, d, a]);
    q.move_up(b).unwrap(); // already first
    assert_eq!(ids(&q), vec![b, c, d, a]);
    q.move_down(b).unwrap();
    assert_eq!(ids(&q), vec![c, b, d, a]);
    q.move_down(a).unwrap(); // already last
    assert_eq!(ids(&q), vec![c, b, d, a]);
    // Positions are renumbered 1..=n and priorities untouched.
    let list = q.list().unwrap();
    assert_eq!(
        list.iter().map(|j| j.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(list.iter().all(|j| j.priority == 0));
    // New jobs still go to the end.
    let e = q.add(&spec("e"), 0).unwrap();
    assert_eq!(*ids(&q).last().unwrap(), e);
}

#[test]
fn moving_across_priority_bands_adopts_the_neighbours_priority() {
    let q = Queue::open_in_memory().unwrap();
    let hi = q.add(&spec("hi"), 5).unwrap();
    let mid = q.add(&spec("mid"), 1).unwrap();
    let lo = q.add(&spec("lo"), 0).unwrap();
    assert_eq!(ids(&q), vec![hi, mid, lo]);

    q.move_up(lo).unwrap();
    assert_eq!(ids(&q), vec![hi, lo, mid]);
    assert_eq!(q.get(lo).unwrap().unwrap().priority, 1);

    q.move_to(lo, 0).unwrap();
    assert_eq!(ids(&q), vec![lo, hi, mid]);
    assert_eq!(q.get(lo).unwrap().unwrap().priority, 5);

    q.move_to(hi, 2).unwrap();
    assert_eq!(ids(&q), vec![lo, mid, hi]);
    assert_eq!(q.get(hi).unwrap().unwrap().priority, 1);

    q.move_down(lo).unwrap();
    assert_eq!(ids(&q), vec![mid, lo, hi]);
    assert_eq!(q.get(lo).unwrap().unwrap().priority, 1);
    // Others keep theirs.
    assert_eq!(q.get(mid).unwrap().unwrap().priority, 1);
}

#[test]
fn pause_all_and_resume_all_leave_running_and_finished_alone() {
    let q = Queue::open_in_memory().unwrap();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| q.add(&spec(n), 0).unwrap());
    q.set_state(c, JobState::Running, None).unwrap();
    q.set_state(d, JobState::Failed, Some("x")).unwrap();
    assert_eq!(q.pause_all().unwrap(), 2);
    let states = |q: &Queue| {
        q.list()
            .unwrap()
            .iter()
            .map(|j| (j.id, j.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states(&q),
        vec![
            (a, JobState::Paused),
            (b, JobState::Paused),
            (c, JobState::Running),
            (d, JobState::Failed)
        ]
    );
    assert!(q.next_runnable().unwrap().is_none());
    assert_eq!(q.pause_all().unwrap(), 0);
    assert_eq!(q.resume_all().unwrap(), 2);
    assert_eq!(
        states(&q),
        vec![
            (a, JobState::Queued),
            (b, JobState::Queued),
            (c, JobState::Running),
            (d, JobState::Failed)
        ]
    );
}

#[test]
fn requeue_interrupted_puts_running_jobs_back_with_their_progress() {
    let q = Queue::open_in_memory().unwrap();
    let [a, b, c] = ["a", "b", "c"].map(|n| q.add(&spec(n), 0).unwrap());
    q.set_priority(c, 3).unwrap();
    for id in [a, c] {
        q.set_state(id, JobState::Running, None).unwrap();
        q.record_progress(id, 100, 1, 0).unwrap();
        q.mark_file_done(id, "f", 100).unwrap();
    }
    q.set_state(b, JobState::Done, None).unwrap();
    assert_eq!(q.requeue_interrupted().unwrap(), vec![c, a]);
    for id in [a, c] {
        let r = q.get(id).unwrap().unwrap();
        assert_eq!(r.state, JobState::Queued);
        assert_eq!((r.bytes_done, r.files_done), (100, 1));
        assert_eq!(q.done_files(id).unwrap().len(), 1);
    }
    assert_eq!(q.get(b).unwrap().unwrap().state, JobState::Done);
    assert!(q.requeue_interrupted().unwrap().is_empty());
}

#[test]
fn clear_finished_deletes_done_and_cancelled_with_their_files() {
    let q = Queue::open_in_memory().unwrap();
    let [done, cancelled, failed, queued] =
        ["d", "c", "f", "q"].map(|n| q.add(&spec(n), 0).unwrap());
    for id in [done, cancelled, failed, queued] {
        q.mark_files_done(id, &[("x".into(), 1), ("y".into(), 2)])
            .unwrap();
        q.record_file_error(id, "z", "boom").unwrap();
    }
    q.set_state(done, JobState::Done, None).unwrap();
    q.set_state(cancelled, JobState::Cancelled, None).unwrap();
    q.set_state(failed, JobState::Failed, Some("boom")).unwrap();
    assert_eq!(q.clear_finished().unwrap(), 2);
    assert_eq!(ids(&q), vec![failed, queued]);
    assert_eq!(raw_count(&q, "SELECT COUNT(*) FROM job_files"), 4);
    assert_eq!(raw_count(&q, "SELECT COUNT(*) FROM job_file_errors"), 2);
    assert_eq!(q.done_files(failed).unwrap().len(), 2);
    // Ids are never reused.
    let next = q.add(&spec("n"), 0).unwrap();
    assert!(next > queued);
}

#[test]
fn files_done_and_file_errors() {
    let q = Queue::open_in_memory().unwrap();
    let id = q.add(&spec("tree"), 0).unwrap();
    let other = q.add(&spec("other"), 0).unwrap();
    assert!(q.done_files(id).unwrap().is_empty());
    assert!(q.file_errors(id).unwrap().is_empty());

    q.record_file_error(id, "b/2", "permission denied").unwrap();
    q.record_file_error(id, "a/1", "no space").unwrap();
    q.record_file_error(id, "b/2", "permission denied again")
        .unwrap();
    assert_eq!(
        q.file_errors(id).unwrap(),
        vec![
            ("b/2".to_string(), "permission denied again".to_string()),
            ("a/1".to_string(), "no space".to_string())
        ]
    );

    q.mark_file_done(id, "a/1", 10).unwrap();
    q.mark_files_done(id, &[("c/3 with space".into(), 0), ("ü/ñ\n".into(), 7)])
        .unwrap();
    q.mark_files_done(id, &[]).unwrap();
    q.mark_file_done(id, "a/1", 11).unwrap(); // re-marked: new size
    q.mark_file_done(other, "a/1", 99).unwrap();
    let done = q.done_files(id).unwrap();
    assert_eq!(done.len(), 3);
    assert_eq!(done["a/1"], 11);
    assert_eq!(done["c/3 with space"], 0);
    assert_eq!(done["ü/ñ\n"], 7);
    // A file that finished is no longer failed.
    assert_eq!(
        q.file_errors(id).unwrap(),
        vec![("b/2".to_string(), "permission denied again".to_string())]
    );
    assert_eq!(q.done_files(other).unwrap().len(), 1);
}

#[test]
fn a_batch_of_100k_files_is_one_transaction() {
    let q = Queue::open_in_memory().unwrap();
    let id = q.add(&spec("big"), 0).unwrap();
    let files: Vec<(String, u64)> = (0..100_000u64)
        .map(|i| (format!("dir{}/file{i}.bin", i % 100), i))
        .collect();
    q.mark_files_done(id, &files).unwrap();
    let done = q.done_files(id).unwrap();
    assert_eq!(done.len(), 100_000);
    assert_eq!(done["dir42/file99942.bin"], 99_942);
    q.set_state(id, JobState::Done, None).unwrap();
    assert_eq!(q.clear_finished().unwrap(), 1);
    assert_eq!(raw_count(&q, "SELECT COUNT(*) FROM job_files"), 0);
}

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

// ---------------------------------------------------------------------------------------------
// kill -9

const CRASH_CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD_DB";
const CRASH_CHILD_TEST: &str = "store::queue::tests::crash_child_writer";
const BATCHES_PER_JOB: u64 = 20;
const FILES_PER_BATCH: u64 = 50;

/// Not a test on its own: when `SKIFF_STORE_CRASH_CHILD_DB` is set, this is the child of
/// [`kill_9_mid_write_leaves_a_consistent_database`] and writes until it is killed.
#[test]
fn crash_child_writer() {
    let Some(db) = std::env::var_os(CRASH_CHILD_ENV) else {
        return;
    };
    let db = PathBuf::from(db);
    let q = Queue::open(&db).unwrap();
    q.requeue_interrupted().unwrap();
    let ready = db.with_extension("ready");
    let deadline = Instant::now() + Duration::from_secs(60); // if the parent vanished
    let mut jobs = 0u64;
    while Instant::now() < deadline {
        let id = q
            .add(&spec(&format!("crash{jobs}")), (jobs % 3) as i32)
            .unwrap();
        q.record_totals(
            id,
            BATCHES_PER_JOB * FILES_PER_BATCH * 10,
            BATCHES_PER_JOB * FILES_PER_BATCH,
        )
        .unwrap();
        q.set_state(id, JobState::Running, None).unwrap();
        for n in 0..BATCHES_PER_JOB {
            let files: Vec<(String, u64)> = (0..FILES_PER_BATCH)
                .map(|i| (format!("b{n}-{i}"), 10))
                .collect();
            q.mark_files_done(id, &files).unwrap();
            let done = (n + 1) * FILES_PER_BATCH;
            q.record_progress(id, done * 10, done, 0).unwrap();
            if jobs == 0 && n == 0 {
                std::fs::write(&ready, b"").unwrap();
            }
        }
        q.record_file_error(id, "never", "boom").unwrap();
        q.set_state(id, JobState::Done, None).unwrap();
        if jobs % 4 == 3 {
            q.move_to(id, 0).unwrap();
            q.clear_finished().unwrap();
        }
        jobs += 1;
    }
}

/// Checks the database and returns (jobs, finished-file rows).
fn check_consistent(path: &Path) -> (usize, usize) {
    {
        let conn = Connection::open(path).unwrap();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        let fk_violations: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_violations, 0);
    }
    let q = Queue::open(path).unwrap();
    let jobs = q.list().unwrap(); // every row parses
    let positions: std::collections::HashSet<i64> = jobs.iter().map(|j| j.position).collect();
    assert_eq!(positions.len(), jobs.len(), "positions are unique");
    let mut total_files = 0;
    let running = jobs.iter().filter(|j| j.state == JobState::Running).count();
    assert!(running <= 1, "the child runs one job at a time");
    for job in &jobs {
        let done = q.done_files(job.id).unwrap();
        let mut per_batch: HashMap<&str, u64> = HashMap::new();
        for name in done.keys() {
            let batch = name.split('-').next().unwrap();
            *per_batch.entry(batch).or_default() += 1;
        }
        for (batch, n) in &per_batch {
            assert_eq!(
                *n, FILES_PER_BATCH,
                "job {} batch {batch} is partial",
                job.id
            );
        }
        total_files += done.len();
        let files = done.len() as u64;
        // Progress is recorded right after its batch: equal, or one batch behind.
        assert!(
            job.files_done == files || job.files_done + FILES_PER_BATCH == files,
            "job {}: files_done {} vs {} files marked",
            job.id,
            job.files_done,
            files
        );
        assert_eq!(job.bytes_done, job.files_done * 10);
        match job.state {
            JobState::Done => {
                assert!(job.finished_at.is_some());
                assert_eq!(files, BATCHES_PER_JOB * FILES_PER_BATCH);
                assert_eq!(q.file_errors(job.id).unwrap().len(), 1);
            }
            JobState::Queued | JobState::Running => {
                assert!(job.finished_at.is_none() && job.error.is_none())
            }
            other => panic!("job {} in unexpected state {other}", job.id),
        }
    }
    (jobs.len(), total_files)
}

#[test]
fn kill_9_mid_write_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite3");
    let ready = db.with_extension("ready");
    let exe = std::env::current_exe().unwrap();
    let mut seen_jobs = 0;
    for round in 0..3u64 {
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                CRASH_CHILD_TEST,
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CRASH_CHILD_ENV, &db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !ready.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("crash child exited early ({status}): {err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "crash child never got ready"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(150 + 60 * round));
        assert!(
            child.try_wait().unwrap().is_none(),
            "crash child stopped before the kill"
        );
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let (jobs, files) = check_consistent(&db);
        eprintln!("round {round}: {jobs} jobs, {files} finished-file rows after the kill");
        // Jobs may all have been cleared just before the kill, but ids only grow: every
        // round must have added at least one job.
        let max_id: i64 = Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'jobs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(max_id > seen_jobs, "round {round} wrote nothing");
        seen_jobs = max_id;
    }
}

mod partials {
    use super::*;
    use crate::transfer::PartialRecord;
    use std::sync::Arc;

    #[test]
    fn partials_are_saved_replaced_forgotten_and_go_with_their_job() {
        let q = Arc::new(Queue::open_in_memory().unwrap());
        let id = q.add(&spec("p"), 0).unwrap();
        let rec = PartialRecord { temp: "f.skiffpart".into(), dev: 1, ino: 2, source_size: 100, source_mtime: Some(5), ranges: vec![(0, 10)] };
        assert_eq!(q.partial(id, "a/f").unwrap(), None);
        q.save_partial(id, "a/f", &rec).unwrap();
        assert_eq!(q.partial(id, "a/f").unwrap(), Some(rec.clone()));
        let more = PartialRecord { ranges: vec![(0, 10), (20, 30)], ..rec.clone() };
        let p = q.partials_of(id);
        p.0.save("a/f", &more);
        assert_eq!(p.0.load("a/f"), Some(more));
        p.forget("a/f");
        assert_eq!(q.partial(id, "a/f").unwrap(), None);
        q.save_partial(id, "b", &rec).unwrap();
        q.set_state(id, JobState::Done, None).unwrap();
        q.clear_finished().unwrap();
        assert_eq!(q.partial(id, "b").unwrap(), None, "removed with the job");
    }
}
