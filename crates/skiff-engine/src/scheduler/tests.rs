//! Scheduler tests on paused tokio time with a scripted runner: ordering, limits, retry
//! and backoff, pause/cancel of running jobs (also from another process), events and
//! overwrite questions. No network: the transfers themselves are tested against sshd in
//! `tests/`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::*;
use crate::job::{Direction, JobKind, OverwritePolicy};
use crate::retry::RetryPolicy;
use crate::transfer::{OverwriteChoice, OverwriteQuestion, Stamp};

/// What the scripted runner does on one attempt of a job.
#[derive(Clone)]
enum Step {
    /// Work for this long, then succeed.
    Work(Duration),
    /// Work for this long, then fail with this kind.
    Fail(Duration, ErrorKind),
    /// Ask an overwrite question and report the choice as the job's `skipped` count
    /// (1 = skip, 0 = anything else).
    Ask,
    /// Reconnect in place (as a transfer does) while the job's budget lasts, one second
    /// per try, then fail with a network error.
    ReconnectUntilSpent,
}

#[derive(Default)]
struct Log {
    /// (job, virtual start time).
    starts: Vec<(JobId, Duration)>,
    /// (job, virtual time) of runs dropped before finishing.
    dropped: Vec<(JobId, Duration)>,
    grants: Vec<(JobId, Grant)>,
    throttles: Vec<(JobId, Vec<Option<u64>>)>,
}

struct Scripted {
    t0: Instant,
    steps: Mutex<HashMap<JobId, Vec<Step>>>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    log: Arc<Mutex<Log>>,
}

/// Notes a run dropped before it finished (how the scheduler stops a job).
struct DropGuard {
    id: JobId,
    t0: Instant,
    done: bool,
    running: Arc<AtomicUsize>,
    log: Arc<Mutex<Log>>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        if !self.done {
            self.log.lock().unwrap().dropped.push((self.id, self.t0.elapsed()));
        }
    }
}

impl JobRunner for Scripted {
    fn run(&self, job: JobRecord, ctx: JobContext) -> BoxFuture<'static, Result<JobReport>> {
        let id = job.id;
        let step = {
            let mut steps = self.steps.lock().unwrap();
            let s = steps.entry(id).or_default();
            if s.len() > 1 { s.remove(0) } else { s.first().cloned().unwrap_or(Step::Work(Duration::from_secs(1))) }
        };
        {
            let mut log = self.log.lock().unwrap();
            log.starts.push((id, self.t0.elapsed()));
            log.grants.push((id, ctx.grant));
            log.throttles.push((id, ctx.throttle.limits().iter().map(|l| l.rate()).collect()));
        }
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let guard = DropGuard { id, t0: self.t0, done: false, running: self.running.clone(), log: self.log.clone() };
        Box::pin(async move {
            let mut guard = guard; // the whole guard, not just its field, lives in the future
            let r = match step {
                Step::Work(d) => {
                    tokio::time::sleep(d).await;
                    ctx.progress.add(100);
                    Ok(JobReport { files: 1, bytes: 100, ..JobReport::default() })
                }
                Step::Fail(d, kind) => {
                    tokio::time::sleep(d).await;
                    Err(Error::new(kind, "scripted", format!("attempt failed ({kind:?})")).host("h").path("p"))
                }
                Step::ReconnectUntilSpent => {
                    while ctx.retry.take().is_some() {
                        tokio::time::sleep(secs(1)).await;
                    }
                    Err(Error::network("scripted", "the connection dropped and every reconnect failed").host("h"))
                }
                Step::Ask => {
                    let asker = ctx.asker.expect("the scheduler gives an asker when it can ask");
                    let stamp = Stamp { size: 1, mtime: Some(1) };
                    let choice = asker.ask(OverwriteQuestion { path: "/dst/a".into(), rel: "a".into(), source: stamp, existing: stamp }).await?;
                    Ok(JobReport { skipped: u64::from(choice == OverwriteChoice::Skip), ..JobReport::default() })
                }
            };
            guard.done = true;
            r
        })
    }
}

pub(super) fn spec(host: &str) -> JobSpec {
    JobSpec {
        kind: JobKind::Copy,
        direction: Direction::Upload,
        host: host.into(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: "/tmp/src".into(),
        remote_path: "dst".into(),
        recursive: true,
        overwrite: OverwritePolicy::Overwrite,
        preserve_mtime: true,
        preserve_permissions: true,
        speed_limit: None,
    }
}

struct Harness {
    sched: Scheduler,
    queue: Arc<Queue>,
    log: Arc<Mutex<Log>>,
    peak: Arc<AtomicUsize>,
    runner: Arc<Scripted>,
    t0: Instant,
}

fn harness_on(queue: Arc<Queue>, config: Config) -> Harness {
    let t0 = Instant::now();
    let log = Arc::new(Mutex::new(Log::default()));
    let peak = Arc::new(AtomicUsize::new(0));
    let runner = Arc::new(Scripted {
        t0,
        steps: Mutex::new(HashMap::new()),
        running: Arc::new(AtomicUsize::new(0)),
        peak: peak.clone(),
        log: log.clone(),
    });
    let (sched, _task) = Scheduler::start(queue.clone(), runner.clone(), config).unwrap();
    Harness { sched, queue, log, peak, runner, t0 }
}

fn harness(config: Config) -> Harness {
    harness_on(Arc::new(Queue::open_in_memory().unwrap()), config)
}

impl Harness {
    fn script(&self, id: JobId, steps: Vec<Step>) {
        self.runner.steps.lock().unwrap().insert(id, steps);
    }

    fn state(&self, id: JobId) -> JobState {
        self.queue.get(id).unwrap().unwrap().state
    }

    fn starts(&self) -> Vec<(JobId, u64)> {
        self.log.lock().unwrap().starts.iter().map(|(id, t)| (*id, t.as_secs())).collect()
    }

    /// Add jobs while the scheduler is held paused (so it sees them all at once).
    fn add_held(&self, hosts: &[&str]) -> Vec<JobId> {
        let ids: Vec<JobId> = hosts.iter().map(|h| self.queue.add(&spec(h), 0).unwrap()).collect();
        for id in &ids {
            self.queue.set_state(*id, JobState::Paused, None).unwrap();
        }
        ids
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn config(limits: Limits) -> Config {
    Config { limits, ..Config::default() }
}

#[tokio::test(start_paused = true)]
async fn runs_in_queue_order_within_the_job_limit() {
    let h = harness(config(Limits { max_jobs: 1, ..Limits::default() }));
    let ids = h.add_held(&["a", "a", "a"]);
    for id in &ids {
        h.script(*id, vec![Step::Work(secs(10))]);
    }
    // Reorder before anything runs: the last job goes first.
    h.sched.move_to(ids[2], 0).unwrap();
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    assert_eq!(h.starts(), [(ids[2], 0), (ids[0], 10), (ids[1], 20)]);
    assert_eq!(h.peak.load(Ordering::SeqCst), 1);
    assert!(ids.iter().all(|id| h.state(*id) == JobState::Done));
}

#[tokio::test(start_paused = true)]
async fn priority_beats_position() {
    let h = harness(config(Limits { max_jobs: 1, ..Limits::default() }));
    let ids = h.add_held(&["a", "a"]);
    h.sched.set_priority(ids[1], 5).unwrap();
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    let order: Vec<JobId> = h.starts().iter().map(|s| s.0).collect();
    assert_eq!(order, [ids[1], ids[0]]);
}

#[tokio::test(start_paused = true)]
async fn global_and_per_host_limits_hold() {
    let h = harness(config(Limits { max_jobs: 3, max_jobs_per_host: 2, ..Limits::default() }));
    let ids = h.add_held(&["a", "a", "a", "b", "b"]);
    for id in &ids {
        h.script(*id, vec![Step::Work(secs(10))]);
    }
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    let starts = h.starts();
    // At t=0: two from host a (its limit) and one from b (the global limit of 3).
    let first: Vec<JobId> = starts.iter().filter(|s| s.1 == 0).map(|s| s.0).collect();
    assert_eq!(first, [ids[0], ids[1], ids[3]]);
    assert_eq!(h.peak.load(Ordering::SeqCst), 3);
    assert_eq!(starts.iter().filter(|s| s.1 == 10).count(), 2);
    assert_eq!(h.t0.elapsed().as_secs(), 20);
}

#[tokio::test(start_paused = true)]
async fn connections_are_granted_within_the_host_budget() {
    let h = harness(config(Limits { max_connections_per_host: 3, connections_per_job: 2, ..Limits::default() }));
    let ids = h.add_held(&["a", "a"]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    let grants: Vec<(JobId, u32)> = h.log.lock().unwrap().grants.iter().map(|(id, g)| (*id, g.connections)).collect();
    assert_eq!(grants, [(ids[0], 2), (ids[1], 1)]);
}

#[tokio::test(start_paused = true)]
async fn network_failures_retry_with_doubling_backoff_then_succeed() {
    let h = harness(config(Limits { retry: RetryPolicy { attempts: 5, first_backoff: secs(2), max_backoff: secs(60) }, ..Limits::default() }));
    let mut events = h.sched.subscribe();
    let ids = h.add_held(&["a"]);
    h.script(ids[0], vec![Step::Fail(secs(1), ErrorKind::Network), Step::Fail(secs(1), ErrorKind::Network), Step::Work(secs(1))]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    // Runs at 0 (fails at 1), waits 2 → 3 (fails at 4), waits 4 → 8, done at 9.
    assert_eq!(h.starts(), [(ids[0], 0), (ids[0], 3), (ids[0], 8)]);
    assert_eq!(h.state(ids[0]), JobState::Done);
    assert_eq!(h.queue.get(ids[0]).unwrap().unwrap().retries, 2);
    let mut retries = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::RetryScheduled { retry, in_ms, .. } = e {
            retries.push((retry, in_ms));
        }
    }
    assert_eq!(retries, [(1, 2000), (2, 4000)]);
}

#[tokio::test(start_paused = true)]
async fn a_job_in_backoff_does_not_hold_up_the_next() {
    let h = harness(config(Limits { max_jobs: 1, retry: RetryPolicy { first_backoff: secs(30), max_backoff: secs(60), ..RetryPolicy::default() }, ..Limits::default() }));
    let ids = h.add_held(&["a", "a"]);
    h.script(ids[0], vec![Step::Fail(secs(1), ErrorKind::Network), Step::Work(secs(1))]);
    h.script(ids[1], vec![Step::Work(secs(5))]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    assert_eq!(h.starts(), [(ids[0], 0), (ids[1], 1), (ids[0], 31)]);
}

#[tokio::test(start_paused = true)]
async fn fatal_failures_are_not_retried_and_retries_run_out() {
    let h = harness(config(Limits { retry: RetryPolicy { attempts: 2, first_backoff: secs(1), max_backoff: secs(60) }, ..Limits::default() }));
    let ids = h.add_held(&["a", "b"]);
    h.script(ids[0], vec![Step::Fail(secs(1), ErrorKind::Auth)]);
    h.script(ids[1], vec![Step::Fail(secs(1), ErrorKind::Network)]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    let starts = h.starts();
    assert_eq!(starts.iter().filter(|s| s.0 == ids[0]).count(), 1, "auth failures are final");
    assert_eq!(starts.iter().filter(|s| s.0 == ids[1]).count(), 3, "first run plus two retries");
    for id in &ids {
        let r = h.queue.get(*id).unwrap().unwrap();
        assert_eq!(r.state, JobState::Failed);
        assert!(r.error.as_deref().unwrap().contains("attempt failed"), "{:?}", r.error);
    }
    let outcome = h.sched.take_outcome(ids[0]).unwrap();
    assert_eq!(outcome.error.unwrap().kind, ErrorKind::Auth);
}

#[tokio::test(start_paused = true)]
async fn pausing_a_running_job_stops_it_and_resume_runs_it_again() {
    let h = harness(Config::default());
    let ids = h.add_held(&["a"]);
    h.script(ids[0], vec![Step::Work(secs(100)), Step::Work(secs(1))]);
    h.sched.resume_all().unwrap();
    tokio::time::sleep(secs(5)).await;
    assert_eq!(h.state(ids[0]), JobState::Running);
    h.sched.pause(ids[0]).unwrap();
    h.sched.idle().await;
    assert_eq!(h.state(ids[0]), JobState::Paused);
    assert_eq!(h.log.lock().unwrap().dropped.iter().map(|d| d.0).collect::<Vec<_>>(), [ids[0]]);
    h.sched.resume(ids[0]).unwrap();
    h.sched.idle().await;
    assert_eq!(h.state(ids[0]), JobState::Done);
    assert_eq!(h.starts().len(), 2);
    assert!(h.t0.elapsed() < secs(10), "the first run was stopped, not waited for");
}

#[tokio::test(start_paused = true)]
async fn cancel_from_another_process_stops_the_job_within_the_poll_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite3");
    let h = harness_on(Arc::new(Queue::open(&path).unwrap()), Config { poll: Duration::from_millis(500), ..Config::default() });
    let other = Queue::open(&path).unwrap();
    let id = other.add(&spec("a"), 0).unwrap();
    h.script(id, vec![Step::Work(secs(100))]);
    // The scheduler picks up a job added elsewhere at its next poll.
    tokio::time::sleep(secs(1)).await;
    assert_eq!(h.starts(), [(id, 0)]);
    let t = Instant::now();
    other.set_state(id, JobState::Cancelled, None).unwrap();
    h.sched.idle().await;
    assert!(t.elapsed() <= Duration::from_millis(500), "{:?}", t.elapsed());
    assert_eq!(h.state(id), JobState::Cancelled);
    assert_eq!(h.log.lock().unwrap().dropped.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn another_live_process_keeps_its_running_job() {
    let queue = Arc::new(Queue::open_in_memory().unwrap());
    let id = queue.add(&spec("a"), 0).unwrap();
    // Claimed by this (live) process as if by another scheduler in it.
    assert!(queue.claim(id, &runner_id::this_process()).unwrap());
    let dead = queue.add(&spec("a"), 0).unwrap();
    assert!(queue.claim(dead, "1:1").unwrap());
    let h = harness_on(queue, config(Limits::default()));
    tokio::time::sleep(secs(3)).await;
    // The dead process's job was queued again and ran; the live one's was left alone.
    assert_eq!(h.state(dead), JobState::Done);
    assert_eq!(h.state(id), JobState::Running);
    assert_eq!(h.starts(), [(dead, 0)]);
}

#[tokio::test(start_paused = true)]
async fn events_tell_the_whole_story_of_a_job() {
    let h = harness(Config::default());
    let mut events = h.sched.subscribe();
    let id = h.sched.add(&spec("a"), 0).unwrap();
    h.sched.idle().await;
    let mut states = Vec::new();
    let mut idle = false;
    let mut progress = 0;
    while let Ok(e) = events.try_recv() {
        match e {
            Event::Idle => idle = true,
            Event::Progress { snapshot } => {
                assert!(states.last() == Some(&JobState::Running) || snapshot.jobs.is_empty(), "progress after {states:?}");
                progress += 1;
            }
            e => {
                assert_eq!(e.job_id(), Some(id));
                states.push(e.state().unwrap());
            }
        }
    }
    // Added and claimed within one reconcile: seen first as Running.
    assert_eq!(states, [JobState::Running, JobState::Done]);
    assert!(idle);
    assert!(progress >= 5, "a one-second job shows its progress ({progress} snapshots)");
    let json = serde_json::to_string(&Event::JobsRemoved { ids: vec![id] }).unwrap();
    assert_eq!(json, format!(r#"{{"type":"jobsRemoved","ids":[{id}]}}"#));
}

#[tokio::test(start_paused = true)]
async fn scope_only_runs_the_jobs_it_was_given() {
    let queue = Arc::new(Queue::open_in_memory().unwrap());
    let other = queue.add(&spec("a"), 0).unwrap();
    let h = harness_on(queue, Config { scope: Scope::Only(Default::default()), ..Config::default() });
    let mine = h.sched.add(&spec("a"), 0).unwrap();
    h.sched.idle().await;
    assert_eq!(h.state(mine), JobState::Done);
    assert_eq!(h.state(other), JobState::Queued);
}

#[tokio::test(start_paused = true)]
async fn overwrite_questions_become_events_and_answers_reach_the_job() {
    let h = harness(Config { can_ask: true, ..Config::default() });
    let mut events = h.sched.subscribe();
    let ids = h.add_held(&["a"]);
    h.script(ids[0], vec![Step::Ask]);
    h.sched.resume_all().unwrap();
    let question = loop {
        if let Event::OverwriteAsked { question, job, path, .. } = events.recv().await.unwrap() {
            assert_eq!((job, path.as_str()), (ids[0], "/dst/a"));
            break question;
        }
    };
    h.sched.answer(question, OverwriteAnswer { choice: OverwriteChoice::Skip, apply_to_all: false }).unwrap();
    h.sched.idle().await;
    let outcome = h.sched.take_outcome(ids[0]).unwrap();
    assert_eq!(outcome.report.unwrap().skipped, 1);
    assert!(h.sched.answer(question, OverwriteAnswer { choice: OverwriteChoice::Skip, apply_to_all: false }).is_err());
}

#[tokio::test(start_paused = true)]
async fn jobs_get_the_global_and_their_own_speed_limit() {
    let h = harness(Config { speed_limit: Some(1_000_000), ..Config::default() });
    let ids = h.add_held(&["a"]);
    h.sched.set_job_speed_limit(ids[0], Some(5000)).unwrap();
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    assert_eq!(h.log.lock().unwrap().throttles, [(ids[0], vec![Some(1_000_000), Some(5000)])]);
    assert_eq!(h.queue.get(ids[0]).unwrap().unwrap().spec.speed_limit, Some(5000));
}

#[tokio::test(start_paused = true)]
async fn a_job_in_backoff_keeps_the_scheduler_busy() {
    let h = harness(config(Limits { retry: RetryPolicy { first_backoff: secs(10), ..RetryPolicy::default() }, ..Limits::default() }));
    let ids = h.add_held(&["a"]);
    h.script(ids[0], vec![Step::Fail(secs(1), ErrorKind::Network), Step::Work(secs(1))]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    assert_eq!(h.t0.elapsed().as_secs(), 12, "idle only after the retry ran");
    assert_eq!(h.state(ids[0]), JobState::Done);
}

#[tokio::test(start_paused = true)]
async fn no_progress_follows_the_event_that_says_a_job_stopped() {
    // Jobs shorter than the snapshot period end between samples, so a sample taken while a
    // job ran reaches the stream after its Done row unless the stream keeps the order.
    let h = harness(config(Limits { max_jobs: 4, ..Limits::default() }));
    let mut events = h.sched.subscribe();
    let ids = h.add_held(&["a"; 40]);
    for (i, id) in ids.iter().enumerate() {
        let step = if i % 5 == 0 { Step::Fail(Duration::from_millis(30 + i as u64), ErrorKind::Auth) } else { Step::Work(Duration::from_millis(20 + 7 * i as u64)) };
        h.script(*id, vec![step]);
    }
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    tokio::time::sleep(secs(1)).await; // any late sample would be sent by now
    let mut running = std::collections::HashSet::new();
    let mut mentioned = std::collections::HashSet::new();
    while let Ok(e) = events.try_recv() {
        match &e {
            Event::Progress { snapshot } => {
                for j in &snapshot.jobs {
                    assert!(running.contains(&j.id), "progress for job {} after it stopped", j.id);
                    mentioned.insert(j.id);
                }
            }
            e => {
                if let (Some(id), Some(state)) = (e.job_id(), e.state()) {
                    if state == JobState::Running {
                        running.insert(id);
                    } else {
                        running.remove(&id);
                    }
                }
            }
        }
    }
    assert!(mentioned.len() >= 10, "progress was shown for most jobs: {mentioned:?}");
    assert!(ids.iter().all(|id| matches!(h.state(*id), JobState::Done | JobState::Failed)));
}

#[tokio::test(start_paused = true)]
async fn retries_never_nest_the_transfer_and_the_scheduler_share_one_budget() {
    let h = harness(config(Limits { retry: RetryPolicy { attempts: 4, first_backoff: secs(1), max_backoff: secs(1) }, ..Limits::default() }));
    let ids = h.add_held(&["a", "b"]);
    // Job a's transfer spends the whole budget reconnecting: the scheduler does not run it
    // again. Job b fails at connect twice (no reconnects of its own), then works: two
    // re-runs from its own budget.
    h.script(ids[0], vec![Step::ReconnectUntilSpent]);
    h.script(ids[1], vec![Step::Fail(secs(1), ErrorKind::Network), Step::Fail(secs(1), ErrorKind::Network), Step::Work(secs(1))]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    let starts = h.starts();
    assert_eq!(starts.iter().filter(|s| s.0 == ids[0]).count(), 1, "{starts:?}");
    assert_eq!(h.state(ids[0]), JobState::Failed);
    assert_eq!(starts.iter().filter(|s| s.0 == ids[1]).count(), 3, "{starts:?}");
    assert_eq!(h.state(ids[1]), JobState::Done);
    // A person's Retry gives the job all its tries again (one run, four reconnects).
    h.script(ids[0], vec![Step::Work(secs(1))]);
    h.sched.retry(ids[0]).unwrap();
    h.sched.idle().await;
    assert_eq!(h.state(ids[0]), JobState::Done);
}

#[tokio::test(start_paused = true)]
async fn without_reruns_a_network_failure_fails_the_job_at_once() {
    let h = harness(Config { rerun_after_network_failure: false, ..Config::default() });
    let ids = h.add_held(&["a"]);
    h.script(ids[0], vec![Step::Fail(secs(1), ErrorKind::Network), Step::Work(secs(1))]);
    h.sched.resume_all().unwrap();
    h.sched.idle().await;
    assert_eq!(h.starts().len(), 1);
    assert_eq!(h.state(ids[0]), JobState::Failed);
}
