//! `kill -9` in the middle of writes: a child process (this test binary re-executed) writes
//! until it is killed, and the database it leaves must be consistent.

use super::*;
use std::process::{Command, Stdio};
use std::time::Instant;

const CRASH_CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD_DB";
const CRASH_CHILD_TEST: &str = "store::queue::tests::crash::crash_child_writer";
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
