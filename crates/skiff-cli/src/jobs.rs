//! The CLI's jobs, all through the engine's scheduler and the persisted queue:
//! `skiff cp` queues one job per source and runs just those; `skiff queue resume` runs
//! whatever is unfinished (after a crash, a kill or a reboot), skipping files already done;
//! `skiff queue pause|resume|retry|cancel|move|priority|clear` change the stored jobs, and a
//! scheduler running in another `skiff` process (or the window) acts on the change within
//! half a second.

use std::collections::HashMap;
use std::sync::Arc;

use skiff_engine::engine::{default_ssh_config, Copy, EngineConfig, Reach};
use skiff_engine::job::{Direction, JobId, JobRecord, JobState};
use skiff_engine::scheduler::{self, Limits, Outcome, Scheduler, Scope};
use skiff_engine::store::profiles::Profiles;
use skiff_engine::retry::RetryPolicy;
use skiff_engine::store::Queue;
use skiff_engine::transfer::{TransferOptions, TreeOptions};
use skiff_engine::{text, Engine, Error, ErrorKind, Result};

use crate::transfer_cmd::Display;

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::LocalIo, "queue", e.to_string()).hint("check that the queue database's folder is writable (or set SKIFF_QUEUE_DB)")
}

/// The queue database; when it cannot be opened, a private in-memory one (with a warning):
/// copying still works, it is just not recorded.
pub fn open_queue() -> Arc<Queue> {
    match Queue::open(&Queue::default_path()) {
        Ok(q) => Arc::new(q),
        Err(e) => {
            eprintln!("skiff: warning: the job is not recorded in the queue: {e}");
            Arc::new(Queue::open_in_memory().expect("an in-memory SQLite database opens"))
        }
    }
}

/// What a run of jobs moved.
#[derive(Debug, Default)]
pub struct Totals {
    pub files: usize,
    pub bytes: u64,
}

/// The CLI's scheduler settings: a job's transfers reconnect in place with the tries of
/// `retry` (`--retries`), the scheduler does not run a job again after a network failure (a
/// server that refuses the first connection fails the command at once, as scp does), and a
/// terminal cannot answer overwrite questions mid-run.
fn cli_config(scope: Scope, retry: RetryPolicy) -> scheduler::Config {
    scheduler::Config {
        limits: Limits { retry, ..Limits::default() },
        scope,
        can_ask: false,
        rerun_after_network_failure: false,
        ..scheduler::Config::default()
    }
}

/// An engine for this run: the terminal as prompter, `topts` and `tree` for every job, and
/// the saved hosts (when the config folder exists) for jobs the window queued from one.
fn start_engine(queue: Arc<Queue>, scope: Scope, topts: TransferOptions, tree: TreeOptions) -> Result<(Engine, tokio::task::JoinHandle<()>)> {
    let dir = Profiles::default_dir();
    let profiles = dir.is_dir().then(|| Profiles::open(&dir)).transpose().unwrap_or_else(|e| {
        eprintln!("skiff: warning: saved hosts are not available: {e}");
        None
    });
    Engine::start(EngineConfig {
        queue,
        profiles: profiles.map(Arc::new),
        ssh_config: default_ssh_config(),
        logins: Arc::new(crate::TerminalLogins),
        scheduler: cli_config(scope, topts.retry),
        tuning: Arc::new(move || (topts.clone(), tree.clone())),
    })
}

/// Queue `copies` over `reach` and run exactly those jobs; `Err` with the first failure
/// (every failed entry is printed first).
pub async fn run_new_jobs(reach: &Reach, copies: &[Copy], topts: &TransferOptions, tree: TreeOptions, display: &Display) -> Result<Totals> {
    let (engine, task) = start_engine(open_queue(), Scope::Only(Default::default()), topts.clone(), tree)?;
    let ids = engine.enqueue(reach, copies)?;
    let result = finish(engine.scheduler(), &ids, display).await;
    engine.scheduler().shutdown();
    let _ = task.await;
    result
}

/// Run every unfinished job in the queue, each connecting the way it was queued (by the
/// command line or the window).
async fn resume_all(queue: Arc<Queue>, display: &Display) -> Result<Totals> {
    let topts = TransferOptions::default();
    let tree = crate::transfer_cmd::tree_options(&topts);
    let (engine, task) = start_engine(queue.clone(), Scope::All, topts, tree)?;
    let ids: Vec<JobId> = queue.list().map_err(store_error)?.iter().filter(|j| !j.state.is_finished()).map(|j| j.id).collect();
    let result = finish(engine.scheduler(), &ids, display).await;
    engine.scheduler().shutdown();
    let _ = task.await;
    result
}

/// Wait until the scheduler is idle, showing progress, then report on `ids`.
async fn finish(sched: &Scheduler, ids: &[JobId], display: &Display) -> Result<Totals> {
    display.track_jobs(sched).await;
    let mut totals = Totals::default();
    let mut first_error: Option<Error> = None;
    for &id in ids {
        match sched.take_outcome(id) {
            Some(Outcome { report, error, .. }) => {
                if let Some(r) = &report {
                    totals.files += r.files as usize;
                    totals.bytes += r.bytes;
                    for e in &r.errors {
                        eprintln!("skiff: {e}");
                    }
                }
                if let Some(e) = error {
                    first_error.get_or_insert(e);
                }
            }
            None => {
                // Not run here: paused or cancelled from elsewhere, or run by another process.
                let job = sched.jobs()?.into_iter().find(|j| j.id == id);
                if let Some(j) = job.filter(|j| matches!(j.state, JobState::Paused | JobState::Cancelled)) {
                    first_error.get_or_insert(
                        Error::new(ErrorKind::Cancelled, "copy", format!("job {id} was {} while it ran", j.state))
                            .hint(format!("`skiff queue resume` continues it (after `skiff queue retry {id}` if it was cancelled)")),
                    );
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

/// One line per job for `skiff queue`; paths (which may hold a server's names) escaped.
fn describe(r: &JobRecord) -> String {
    let local = text::escape(&r.spec.local_path.display().to_string()).into_owned();
    let remote = format!("{}:{}", text::Escaped(&r.spec.host), text::Escaped(&r.spec.remote_path));
    let (from, to) = match r.spec.direction {
        Direction::Upload => (local, remote),
        Direction::Download => (remote, local),
    };
    let mut line = format!(
        "{:>5}  {:<5} {:<9} {:<8} {:>3} {:>7}/{:<7} files {:>10} bytes  {from} -> {to}",
        r.id,
        r.spec.kind.as_str(),
        r.state.as_str(),
        r.spec.direction.as_str(),
        r.priority,
        r.files_done,
        r.files_total,
        r.bytes_done,
    );
    if let Some(e) = &r.error {
        line.push_str(&format!("\n       error: {}", stored_error(e)));
    }
    line
}

/// A job's stored error text is an engine error's `Display`, already escaped; text with a
/// raw control in it (written by an older Skiff) is escaped here.
fn stored_error(e: &str) -> std::borrow::Cow<'_, str> {
    if e.chars().any(text::is_unsafe) {
        text::escape(e)
    } else {
        e.into()
    }
}

/// `skiff queue …`.
pub async fn queue_cmd(action: crate::QueueAction, quiet: bool) -> Result<()> {
    use crate::QueueAction as A;
    let q = Arc::new(Queue::open(&Queue::default_path()).map_err(store_error)?);
    let job = |id: JobId| -> Result<JobRecord> {
        q.get(id)
            .map_err(store_error)?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "queue", format!("there is no job {id}")).hint("see `skiff queue`"))
    };
    let change = |id: JobId, from: &[JobState], to: JobState, verb: &str| -> Result<()> {
        let r = job(id)?;
        if !from.contains(&r.state) {
            return Err(Error::new(ErrorKind::Config, verb, format!("job {id} is {}", r.state))
                .hint(format!("only a {} job can be {verb}d", from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "))));
        }
        q.set_state(id, to, None).map_err(store_error)
    };
    match action {
        A::List => {
            let jobs = q.list().map_err(store_error)?;
            if jobs.is_empty() {
                println!("The queue is empty.");
            } else {
                println!("{:>5}  {:<5} {:<9} {:<8} {:>3} {:>15} files {:>10}", "id", "kind", "state", "way", "pri", "done/total", "bytes");
            }
            for r in jobs {
                println!("{}", describe(&r));
            }
        }
        // A running job stops in the process running it within its next poll.
        A::Pause { id } => change(id, &[JobState::Queued, JobState::Running], JobState::Paused, "pause")?,
        A::Cancel { id } => change(id, &[JobState::Queued, JobState::Running, JobState::Paused], JobState::Cancelled, "cancel")?,
        A::Retry { id } => {
            change(id, &[JobState::Failed, JobState::Cancelled, JobState::Paused], JobState::Queued, "retry")?;
            q.bump_retries(id).map_err(store_error)?;
            println!("job {id} is queued again; `skiff queue resume` runs it");
        }
        A::Move { id, to } => {
            job(id)?;
            match to {
                crate::MoveTo::Up => q.move_up(id),
                crate::MoveTo::Down => q.move_down(id),
                crate::MoveTo::Top => q.move_to(id, 0),
                crate::MoveTo::Bottom => q.move_to(id, usize::MAX),
            }
            .map_err(store_error)?;
        }
        A::Priority { id, priority } => {
            job(id)?;
            q.set_priority(id, priority).map_err(store_error)?;
        }
        A::PauseAll => {
            let mut n = q.pause_all().map_err(store_error)?;
            for r in q.list().map_err(store_error)?.iter().filter(|r| r.state == JobState::Running) {
                q.set_state(r.id, JobState::Paused, None).map_err(store_error)?;
                n += 1;
            }
            println!("paused {n} job(s)");
        }
        A::UnpauseAll => {
            let n = q.resume_all().map_err(store_error)?;
            println!("{n} job(s) queued again; `skiff queue resume` runs them");
        }
        A::Clear => {
            let n = q.clear_finished().map_err(store_error)?;
            println!("removed {n} finished job(s)");
        }
        A::Resume => {
            let display = Display::new(quiet);
            resume_all(q, &display).await?;
        }
    }
    Ok(())
}

/// Names of jobs for the progress line.
pub fn job_name(job: &JobRecord) -> String {
    match job.spec.direction {
        Direction::Upload => job.spec.local_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        Direction::Download => job.spec.remote_path.rsplit('/').next().unwrap_or(&job.spec.remote_path).to_string(),
    }
}

/// Jobs by id, for naming them.
pub fn names(sched: &Scheduler) -> HashMap<JobId, String> {
    sched.jobs().map(|jobs| jobs.iter().map(|j| (j.id, job_name(j))).collect()).unwrap_or_default()
}
