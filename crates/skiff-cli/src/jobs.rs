//! Tree jobs in the persisted queue: `skiff cp -r` records its job, every finished file is
//! written to the queue (batched, ~10 times a second), and `skiff queue resume` runs what is
//! unfinished after a crash, a kill or a reboot, skipping the files already done.
//! `skiff queue`, `pause`, `retry`, `cancel` and `clear` act on the records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use skiff_engine::ssh::ConnectOptions;
use skiff_engine::store::{Direction, JobId, JobRecord, JobSpec, JobState, OverwritePolicy, Queue};
use skiff_engine::transfer::{self, Progress, TransferOptions, TreeOptions, TreeReport};
use skiff_engine::{Error, ErrorKind, Result};
use tokio::sync::mpsc;

use crate::transfer_cmd::Display;

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::LocalIo, "queue", e.to_string())
}

/// The queue database, or `None` (with a warning) when it cannot be opened: copying still
/// works, it is just not recorded.
pub fn open_queue() -> Option<Arc<Queue>> {
    match Queue::open(&Queue::default_path()) {
        Ok(q) => Some(Arc::new(q)),
        Err(e) => {
            eprintln!("skiff: warning: the job is not recorded in the queue: {e}");
            None
        }
    }
}

/// A new tree job's spec.
pub fn tree_spec(direction: Direction, conn: &crate::ConnArgs, user: Option<&str>, host: &str, local: &Path, remote: &str) -> JobSpec {
    JobSpec {
        direction,
        host: host.to_string(),
        user: user.map(str::to_string),
        port: conn.port,
        ssh_config: conn.config.clone(),
        local_path: local.to_path_buf(),
        remote_path: remote.to_string(),
        recursive: true,
        overwrite: OverwritePolicy::Overwrite,
        preserve_mtime: true,
        preserve_permissions: true,
        speed_limit: None,
    }
}

/// Run a tree job, recording it (new when `id` is `None`) in `queue`.
pub async fn run_tree_job(
    queue: Option<Arc<Queue>>,
    id: Option<JobId>,
    spec: &JobSpec,
    opts: &ConnectOptions,
    topts: &TransferOptions,
    mut tree: TreeOptions,
    display: &Display,
) -> Result<TreeReport> {
    let id = match (&queue, id) {
        (Some(q), None) => Some(q.add(spec, 0).map_err(store_error)?),
        (_, id) => id,
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, u64)>();
    let (roots_tx, mut roots_rx) = mpsc::unbounded_channel::<(PathBuf, String)>();
    let mut flusher = None;
    if let (Some(q), Some(id)) = (&queue, id) {
        q.set_state(id, JobState::Running, None).map_err(store_error)?;
        let done: HashMap<String, u64> = q.done_files(id).map_err(store_error)?;
        tree.already_done = Some(Arc::new(done));
        tree.on_file_done = Some(done_tx);
        tree.on_roots = Some(roots_tx);
        let q = q.clone();
        flusher = Some(tokio::spawn(async move {
            // Persist finished files in batches: one transaction per ~100 ms, not per file.
            loop {
                let mut batch = Vec::new();
                let mut closed = false;
                tokio::select! {
                    first = done_rx.recv() => match first {
                        Some(f) => batch.push(f),
                        None => closed = true,
                    },
                    Some((local, remote)) = roots_rx.recv() => {
                        let q = q.clone();
                        let _ = tokio::task::spawn_blocking(move || q.set_paths(id, &local, &remote)).await;
                        continue;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                while let Ok(f) = done_rx.try_recv() {
                    batch.push(f);
                }
                if !batch.is_empty() {
                    let q = q.clone();
                    let _ = tokio::task::spawn_blocking(move || q.mark_files_done(id, &batch)).await;
                }
                if closed {
                    return;
                }
            }
        }));
    } else {
        drop((done_tx, roots_tx));
    }

    let progress = Arc::new(Progress::new());
    let name = match spec.direction {
        Direction::Upload => spec.local_path.display().to_string(),
        Direction::Download => spec.remote_path.clone(),
    };
    let work = async {
        match spec.direction {
            Direction::Upload => transfer::upload_tree(opts, &spec.local_path, &spec.remote_path, topts, &tree, progress.clone()).await,
            Direction::Download => transfer::download_tree(opts, &spec.remote_path, &spec.local_path, topts, &tree, progress.clone()).await,
        }
    };
    let result = display.track(&name, progress.clone(), work).await;
    drop(tree); // closes the channels, so the flusher writes its last batch and stops
    if let Some(f) = flusher {
        let _ = f.await;
    }
    if let (Some(q), Some(id)) = (&queue, id) {
        let _ = q.record_totals(id, progress.total(), progress.files_total());
        let _ = q.record_progress(id, progress.done(), progress.files_done(), progress.files_failed());
        let outcome = match &result {
            Ok(r) if r.errors.is_empty() => q.set_state(id, JobState::Done, None),
            Ok(r) => q.set_state(id, JobState::Failed, Some(&format!("{} entries failed; first: {}", r.errors.len(), r.errors[0]))),
            Err(e) => q.set_state(id, JobState::Failed, Some(&e.to_string())),
        };
        outcome.map_err(store_error)?;
    }
    result
}

fn describe(r: &JobRecord) -> String {
    let (from, to) = match r.spec.direction {
        Direction::Upload => (r.spec.local_path.display().to_string(), format!("{}:{}", r.spec.host, r.spec.remote_path)),
        Direction::Download => (format!("{}:{}", r.spec.host, r.spec.remote_path), r.spec.local_path.display().to_string()),
    };
    let mut line = format!(
        "{:>5}  {:<9} {:<8} {:>7}/{:<7} files {:>10} bytes  {from} -> {to}",
        r.id,
        r.state.as_str(),
        r.spec.direction.as_str(),
        r.files_done,
        r.files_total,
        r.bytes_done,
    );
    if let Some(e) = &r.error {
        line.push_str(&format!("\n       error: {e}"));
    }
    line
}

/// `skiff queue [list|resume|pause ID|retry ID|cancel ID|clear]`.
pub async fn queue_cmd(action: crate::QueueAction, quiet: bool) -> Result<()> {
    let q = Arc::new(Queue::open(&Queue::default_path()).map_err(store_error)?);
    let job = |id: JobId| -> Result<JobRecord> {
        q.get(id)
            .map_err(store_error)?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "queue", format!("there is no job {id}")).hint("see `skiff queue`"))
    };
    match action {
        crate::QueueAction::List => {
            let jobs = q.list().map_err(store_error)?;
            if jobs.is_empty() {
                println!("The queue is empty.");
            }
            for r in jobs {
                println!("{}", describe(&r));
            }
        }
        crate::QueueAction::Pause { id } => {
            let r = job(id)?;
            if r.state != JobState::Queued {
                return Err(Error::new(ErrorKind::Config, "pause", format!("job {id} is {}, not queued", r.state.as_str())));
            }
            q.set_state(id, JobState::Paused, None).map_err(store_error)?;
        }
        crate::QueueAction::Retry { id } => {
            job(id)?;
            q.set_state(id, JobState::Queued, None).map_err(store_error)?;
            q.bump_retries(id).map_err(store_error)?;
            println!("job {id} is queued again; `skiff queue resume` runs it");
        }
        crate::QueueAction::Cancel { id } => {
            job(id)?;
            q.set_state(id, JobState::Cancelled, None).map_err(store_error)?;
        }
        crate::QueueAction::Clear => {
            let n = q.clear_finished().map_err(store_error)?;
            println!("removed {n} finished job(s)");
        }
        crate::QueueAction::Resume => {
            // Whatever a crash or kill left running is queued again, then everything queued
            // runs in queue order.
            q.requeue_interrupted().map_err(store_error)?;
            let display = Display::new(quiet);
            let mut failed = None;
            while let Some(r) = q.next_runnable().map_err(store_error)? {
                let conn = crate::ConnArgs {
                    port: r.spec.port,
                    config: r.spec.ssh_config.clone(),
                    identity: vec![],
                    options: vec![],
                    accept_new: false,
                };
                let opts = conn.connect_options(r.spec.user.as_deref(), &r.spec.host)?;
                let topts = TransferOptions::default();
                let tree = TreeOptions { exact_root: true, overwrite: r.spec.overwrite, ..crate::transfer_cmd::tree_options(&topts) };
                match run_tree_job(Some(q.clone()), Some(r.id), &r.spec, &opts, &topts, tree, &display).await {
                    Ok(report) if report.errors.is_empty() => {}
                    Ok(report) => {
                        failed.get_or_insert(report.errors[0].clone());
                    }
                    Err(e) => {
                        eprintln!("skiff: job {}: {e}", r.id);
                        failed.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    Ok(())
}
