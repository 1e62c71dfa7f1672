//! Adding and reading jobs, run order and moves, state changes, counters, and per-file rows.

use super::*;

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
