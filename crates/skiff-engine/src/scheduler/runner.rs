//! Running one job: the [`JobRunner`] seam between the scheduler and the transfers, and
//! [`SftpJobRunner`], the real one. The scheduler decides when a job runs and with how many
//! connections and files in flight; the runner moves the bytes (a tree or a single file, in
//! either direction) and persists each finished file of a tree, and the done ranges of each
//! unfinished download, so a job stopped at any moment (paused, killed, crashed) resumes
//! without moving those files or bytes again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::limits::Grant;
use crate::retry::RetryBudget;
use crate::error::{Error, ErrorKind, Result};
use crate::job::{Direction, JobId, JobRecord, JobSpec};
use crate::ssh::{ConnectOptions, ConnectionCache};
use crate::store::Queue;
use crate::transfer::{self, Asker, OverwriteRule, Progress, Throttle, TransferOptions, TreeOptions, TreeReport};

/// What the scheduler hands a job when it starts it.
pub struct JobContext {
    /// What the limits allow this run.
    pub grant: Grant,
    /// Bytes and files done; the scheduler publishes snapshots of it.
    pub progress: Arc<Progress>,
    /// The global speed limit and the job's own.
    pub throttle: Throttle,
    /// Where "ask" questions go; `None` when no one can answer (the policy then fails the
    /// conflicting file with a hint).
    pub asker: Option<Asker>,
    /// The store, for per-file completion.
    pub queue: Arc<Queue>,
    /// The job's tries after network failures, shared by its transfers' reconnects and the
    /// scheduler's re-runs (so retries never nest).
    pub retry: RetryBudget,
}

/// What a finished run did.
#[derive(Debug, Default)]
pub struct JobReport {
    pub files: u64,
    pub bytes: u64,
    /// Files left alone by the overwrite policy (or finished by an earlier run).
    pub skipped: u64,
    /// Entries that failed while the rest of the job went on.
    pub errors: Vec<Error>,
}

impl From<TreeReport> for JobReport {
    fn from(r: TreeReport) -> Self {
        JobReport { files: r.files, bytes: r.bytes, skipped: r.skipped, errors: r.errors }
    }
}

/// Runs jobs. The scheduler drops the future to stop a job (pause, cancel).
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, job: JobRecord, ctx: JobContext) -> BoxFuture<'static, Result<JobReport>>;
}

/// How to reach a job's host: the front end's connection settings (prompts, known-hosts
/// policy, identities) for a stored spec.
pub type ConnectFor = Arc<dyn Fn(&JobSpec) -> Result<ConnectOptions> + Send + Sync>;

/// The real runner: SFTP transfers through [`crate::transfer`].
///
/// Jobs reuse each other's idle SSH connections: every job's connection settings get the
/// process-wide [`ConnectionCache::global`] unless [`ConnectFor`] already chose a cache (so
/// runners made per job, as the app does, still share connections).
pub struct SftpJobRunner {
    pub connect: ConnectFor,
    pub transfer: TransferOptions,
    pub tree: TreeOptions,
}

impl JobRunner for SftpJobRunner {
    fn run(&self, job: JobRecord, ctx: JobContext) -> BoxFuture<'static, Result<JobReport>> {
        let connect = (self.connect)(&job.spec).map(|mut opts| {
            opts.reuse.get_or_insert_with(ConnectionCache::global);
            opts
        });
        let mut topts = self.transfer.clone();
        // The scheduler's limits (global, the job's own) plus any the front end set itself.
        topts.throttle = self.transfer.throttle.limits().iter().fold(ctx.throttle.clone(), |t, l| t.and(l.clone()));
        topts.connections = topts.connections.min(ctx.grant.connections).max(1);
        topts.preserve_mtime = job.spec.preserve_mtime;
        topts.preserve_permissions = job.spec.preserve_permissions;
        topts.retry_budget = Some(ctx.retry.clone());
        // Unfinished downloads keep their done ranges in the job's record between runs.
        topts.partials = Some(transfer::Partials(ctx.queue.partials_of(job.id)));
        let tree = TreeOptions {
            files_in_flight: self.tree.files_in_flight.min(ctx.grant.files_in_flight).max(1),
            connections: self.tree.connections.min(ctx.grant.connections).max(1),
            overwrite: job.spec.overwrite,
            exact_root: job.roots_resolved,
            asker: ctx.asker.clone(),
            ..self.tree.clone()
        };
        Box::pin(async move {
            let opts = connect?;
            run_job(&job, &opts, &topts, tree, ctx).await
        })
    }
}

async fn run_job(job: &JobRecord, opts: &ConnectOptions, topts: &TransferOptions, tree: TreeOptions, ctx: JobContext) -> Result<JobReport> {
    let spec = &job.spec;
    let progress = ctx.progress.clone();
    // A single file goes by the job's overwrite policy exactly like a file of a tree.
    let rule = OverwriteRule { policy: spec.overwrite, asker: ctx.asker.clone() };
    let single = || async {
        let (bytes, skipped) = match spec.direction {
            Direction::Upload => {
                let r = transfer::upload_file_with(opts, &spec.local_path, &spec.remote_path, topts, progress.clone(), &rule).await?;
                (r.bytes, r.skipped)
            }
            Direction::Download => {
                let r = transfer::download_file_with(opts, &spec.remote_path, &spec.local_path, topts, progress.clone(), &rule).await?;
                (r.bytes, r.skipped)
            }
        };
        Ok(if skipped { JobReport { skipped: 1, ..JobReport::default() } } else { JobReport { files: 1, bytes, ..JobReport::default() } })
    };
    if !spec.recursive || (spec.direction == Direction::Upload && !spec.local_path.is_dir()) {
        return single().await;
    }
    let result = run_tree(job.id, spec, opts, topts, tree, &ctx).await;
    match result {
        // `-r` on a plain remote file copies the file, as scp does.
        Err(e) if e.kind == ErrorKind::WrongType && spec.direction == Direction::Download => single().await,
        other => other,
    }
}

async fn run_tree(id: JobId, spec: &JobSpec, opts: &ConnectOptions, topts: &TransferOptions, mut tree: TreeOptions, ctx: &JobContext) -> Result<JobReport> {
    let q = ctx.queue.clone();
    let done = tokio::task::spawn_blocking(move || q.done_files(id))
        .await
        .map_err(|e| Error::new(ErrorKind::LocalIo, "read the job's finished files", e.to_string()))?
        .map_err(|e| Error::new(ErrorKind::LocalIo, "read the job's finished files", e.to_string()))?;
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let (roots_tx, roots_rx) = mpsc::unbounded_channel();
    tree.already_done = Some(Arc::new(done));
    tree.on_file_done = Some(done_tx);
    tree.on_roots = Some(roots_tx);
    let persist = tokio::spawn(persist_files(ctx.queue.clone(), id, done_rx, roots_rx));
    let progress = ctx.progress.clone();
    let report = match spec.direction {
        Direction::Upload => transfer::upload_tree(opts, &spec.local_path, &spec.remote_path, topts, &tree, progress).await,
        Direction::Download => transfer::download_tree(opts, &spec.remote_path, &spec.local_path, topts, &tree, progress).await,
    };
    drop(tree); // closes the channels: the persister writes its last batch and stops
    let _ = persist.await;
    report.map(JobReport::from)
}

/// Persists finished files in batches, one transaction per ~100 ms rather than one per file,
/// and pins the tree roots once they are resolved. Stops when the senders are dropped
/// (including when the job's future is dropped to pause or cancel it).
async fn persist_files(
    queue: Arc<Queue>,
    id: JobId,
    mut done: mpsc::UnboundedReceiver<(String, u64)>,
    mut roots: mpsc::UnboundedReceiver<(PathBuf, String)>,
) {
    let mut roots_open = true;
    loop {
        let mut batch = Vec::new();
        tokio::select! {
            first = done.recv() => match first {
                Some(f) => batch.push(f),
                None => return,
            },
            r = roots.recv(), if roots_open => {
                match r {
                    Some((local, remote)) => {
                        let q = queue.clone();
                        let _ = tokio::task::spawn_blocking(move || q.set_paths(id, &local, &remote)).await;
                    }
                    None => roots_open = false,
                }
                continue;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok(f) = done.try_recv() {
            batch.push(f);
        }
        let q = queue.clone();
        let _ = tokio::task::spawn_blocking(move || q.mark_files_done(id, &batch)).await;
    }
}
