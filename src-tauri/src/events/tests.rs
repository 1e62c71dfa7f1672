//! The forwarder's batching, ordering and resubscription, on paused tokio time.

use std::sync::{Arc, Mutex};

use super::*;
use crate::ipc::{ConnectionState, Direction};

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(Instant, UiEvent)>>>);

impl UiSink for Collector {
    fn deliver(&self, event: UiEvent) -> bool {
        self.0.lock().unwrap().push((Instant::now(), event));
        true
    }
}

impl Collector {
    fn take(&self) -> Vec<(Instant, UiEvent)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn row(id: i64, bytes_done: u64) -> JobView {
    JobView {
        id,
        direction: Direction::Upload,
        name: format!("f{id}"),
        host: "u@h:22".into(),
        local_path: format!("/l/f{id}"),
        remote_path: "/r".into(),
        state: JobState::Running,
        error: None,
        retries: 0,
        priority: 0,
        bytes_done,
        bytes_total: 1 << 40,
        files_done: 0,
        files_total: 1,
        files_failed: 0,
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_job_changes_in_one_second_are_at_most_eleven_messages() {
    let (hub, rx) = EventHub::new();
    let forwarder = tokio::spawn(forward(rx));
    let sink = Collector::default();
    hub.subscribe(sink.clone());
    let mut last = HashMap::new();
    // 10 changes every millisecond for one second, over 250 jobs.
    for ms in 0..1000u64 {
        for k in 0..10u64 {
            let n = ms * 10 + k;
            let id = (n % 250) as i64;
            hub.emit(UiEvent::Jobs {
                jobs: vec![row(id, n)],
            });
            last.insert(id, n);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = sink.take();
    assert!(
        got.len() <= 11,
        "{} messages for 10,000 changes in one second",
        got.len()
    );
    let mut seen: HashMap<i64, u64> = HashMap::new();
    for (_, e) in &got {
        let UiEvent::Jobs { jobs } = e else {
            panic!("unexpected {e:?}")
        };
        // Deduplicated within a message.
        let mut ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), jobs.len());
        for j in jobs {
            seen.insert(j.id, j.bytes_done);
        }
    }
    assert_eq!(seen, last, "the last state of every job arrives");
    // And no two flushes closer than the interval.
    for w in got.windows(2) {
        assert!(w[1].0 - w[0].0 >= FLUSH_EVERY);
    }
    drop(hub);
    forwarder.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn prompts_go_out_at_once_after_what_was_batched() {
    let (hub, rx) = EventHub::new();
    tokio::spawn(forward(rx));
    let sink = Collector::default();
    hub.subscribe(sink.clone());
    hub.emit(UiEvent::Jobs {
        jobs: vec![row(1, 1)],
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    hub.emit(UiEvent::Jobs {
        jobs: vec![row(1, 2)],
    });
    hub.emit(UiEvent::Connection {
        session_id: "s".into(),
        label: "u@h:22".into(),
        state: ConnectionState::Connected,
        error: None,
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(matches!(&got[1], UiEvent::Jobs { jobs } if jobs[0].bytes_done == 2));
    assert!(matches!(&got[2], UiEvent::Connection { .. }));
}

#[tokio::test(start_paused = true)]
async fn without_a_channel_only_the_latest_state_is_kept_and_questions_are_sent_again() {
    let (hub, rx) = EventHub::new();
    tokio::spawn(forward(rx));
    for n in 0..1000 {
        hub.emit(UiEvent::Jobs {
            jobs: vec![row(n % 3, n as u64)],
        });
        hub.emit(UiEvent::Progress {
            jobs: vec![],
            bytes_done: n as u64,
            bytes_total: 0,
            speed: 0.0,
        });
    }
    let ask = |question| UiEvent::OverwriteAsked {
        question,
        job: 2,
        path: "/x".into(),
        source_size: 1,
        source_mtime: None,
        existing_size: 2,
        existing_mtime: Some(3),
    };
    hub.emit(ask(7));
    hub.emit(ask(8));
    hub.question_settled(7);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = Collector::default();
    hub.subscribe(first.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: Vec<UiEvent> = first.take().into_iter().map(|(_, e)| e).collect();
    assert!(
        matches!(&got[0], UiEvent::OverwriteAsked { question: 8, .. }),
        "{got:?}"
    );
    let UiEvent::Jobs { jobs } = &got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(
        jobs.iter()
            .map(|j| (j.id, j.bytes_done))
            .collect::<Vec<_>>(),
        [(0, 999), (1, 997), (2, 998)]
    );
    assert!(matches!(
        &got[2],
        UiEvent::Progress {
            bytes_done: 999,
            ..
        }
    ));
    assert_eq!(got.len(), 3);
    // A big queue loaded before the window subscribed is not sent: the window lists it.
    let late = Collector::default();
    let (hub2, rx2) = EventHub::new();
    tokio::spawn(forward(rx2));
    hub2.emit(UiEvent::Jobs {
        jobs: (0..5000).map(|n| row(n, 0)).collect(),
    });
    hub2.subscribe(late.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(late
        .take()
        .iter()
        .all(|(_, e)| matches!(e, UiEvent::Jobs { jobs } if jobs.len() <= UNSUBSCRIBED_ROWS)));
    // A reload: the open question again, nothing else.
    let second = Collector::default();
    hub.subscribe(second.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: Vec<UiEvent> = second.take().into_iter().map(|(_, e)| e).collect();
    assert_eq!(got.len(), 1);
    // Once its job stops, it is not asked again.
    hub.emit(UiEvent::Jobs {
        jobs: vec![JobView {
            state: JobState::Paused,
            ..row(2, 0)
        }],
    });
    let third = Collector::default();
    hub.subscribe(third.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(third
        .take()
        .iter()
        .all(|(_, e)| !matches!(e, UiEvent::OverwriteAsked { .. })));
}

fn progress_of(ids: &[(i64, u64)]) -> UiEvent {
    UiEvent::Progress {
        jobs: ids
            .iter()
            .map(|&(id, bytes_done)| JobProgress {
                id,
                bytes_done,
                bytes_total: 12,
                files_done: 0,
                files_total: 1,
                speed: 0.0,
                eta_secs: None,
            })
            .collect(),
        bytes_done: 0,
        bytes_total: 24,
        speed: 0.0,
    }
}

fn progress_ids(e: &UiEvent) -> Vec<i64> {
    match e {
        UiEvent::Progress { jobs, .. } => jobs.iter().map(|j| j.id).collect(),
        _ => vec![],
    }
}

/// "0 B / 12 B" on a finished row: a snapshot taken while the job ran, batched before its
/// `done` row, must not overwrite the row's full count when the batch is flushed (rows go
/// first). The engine's stream sends no progress for the job after that row.
#[tokio::test(start_paused = true)]
async fn a_row_supersedes_the_progress_batched_before_it() {
    let (hub, rx) = EventHub::new();
    tokio::spawn(forward(rx));
    let sink = Collector::default();
    hub.subscribe(sink.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let done = |id| JobView {
        state: JobState::Done,
        bytes_done: 12,
        bytes_total: 12,
        ..row(id, 12)
    };
    // Same flush: a snapshot (job 1 at 0 bytes, job 2 running), then job 1's done row.
    hub.emit(progress_of(&[(1, 0), (2, 5)]));
    hub.emit(UiEvent::Jobs {
        jobs: vec![done(1)],
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
    assert!(
        matches!(&got[0], UiEvent::Jobs { jobs } if jobs[0].bytes_done == 12 && jobs[0].state == JobState::Done),
        "{got:?}"
    );
    assert_eq!(progress_ids(&got[1]), [2], "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
    // Run again (a retry): the row, then its progress, in that order.
    hub.emit(UiEvent::Jobs {
        jobs: vec![row(1, 0)],
    });
    hub.emit(progress_of(&[(1, 3)]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
    assert!(matches!(&got[0], UiEvent::Jobs { .. }), "{got:?}");
    assert_eq!(progress_ids(got.last().unwrap()), [1], "{got:?}");
}

/// The engine side of the same: the row of a finished single-file job carries its
/// full count.
#[test]
fn a_done_record_maps_to_a_full_row() {
    use skiff_engine::engine::{Address, Copy, Reach};
    let reach = Reach::Address(Address {
        host: "h".into(),
        user: Some("u".into()),
        port: Some(22),
        ..Address::default()
    });
    let spec = Copy::new(
        skiff_engine::job::Direction::Upload,
        "/l/a.txt",
        "/r/a.txt",
        false,
    )
    .spec(&reach);
    let q = skiff_engine::store::Queue::open_in_memory().unwrap();
    let id = q.add(&spec, 0).unwrap();
    q.record_totals(id, 12, 1).unwrap();
    q.record_progress(id, 12, 1, 0).unwrap();
    q.set_state(id, skiff_engine::job::JobState::Done, None)
        .unwrap();
    let v = rows(&q.list().unwrap());
    assert_eq!(
        (v[0].state, v[0].bytes_done, v[0].bytes_total),
        (JobState::Done, 12, 12)
    );
}

#[tokio::test(start_paused = true)]
async fn removed_rows_are_not_sent_and_idle_snapshots_are_dropped() {
    let (hub, rx) = EventHub::new();
    tokio::spawn(forward(rx));
    let sink = Collector::default();
    hub.subscribe(sink.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    hub.emit(UiEvent::Jobs {
        jobs: vec![row(1, 1), row(2, 1)],
    });
    hub.emit(UiEvent::JobsRemoved { ids: vec![1] });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got: Vec<UiEvent> = sink.take().into_iter().map(|(_, e)| e).collect();
    assert!(
        matches!(&got[0], UiEvent::Jobs { jobs } if jobs.len() == 1 && jobs[0].id == 2),
        "{got:?}"
    );
    assert!(matches!(&got[1], UiEvent::JobsRemoved { ids } if ids == &[1]));
}
