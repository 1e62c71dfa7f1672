//! Whole directory trees, many files at once, so that the number of files stops mattering.
//!
//! The executor of tree transfers: entries stream in from a walk (`walk_local` for
//! uploads; for downloads `walk_remote` lists with several READDIRs in flight across
//! directories), each is planned ([`plan`](super::plan)) as it arrives, and files start
//! moving while the walk goes on. Directories are created ahead of their files. Up to
//! `files_in_flight` files move at once over a [`SharedPool`] of channels; a small file is
//! OPEN, then its WRITEs (or READs) and CLOSE back to back, then SETSTAT and RENAME back to
//! back; a bigger one is pipelined like a single-file transfer. Every file lands as
//! `.skiffpart` and is renamed into place when complete.
//!
//! Policy:
//! - A remote name that is `.`, `..`, empty, contains `/` or NUL is refused before it becomes
//!   a local path; that entry is reported and the rest of the job goes on.
//! - Symbolic links are recreated as links on the other side when their target is relative
//!   and stays inside the tree being copied; a link that points outside (or is absolute) is
//!   never followed and is reported as skipped.
//! - A failed file does not stop the others. A dropped connection is rebuilt once for all
//!   files (bounded retries with backoff) and the interrupted files start again. A full
//!   local disk stops the job: files already copied stay intact.
//! - With the Ask overwrite policy and an [`Asker`], a file whose destination exists waits
//!   for the person's answer while the other files keep moving; questions come one at a
//!   time, an answer "for all" holds for the rest of the job, and Cancel stops the job.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, OpenFlags, Packet};
use tokio::sync::mpsc;

use super::ask::Asker;
use super::conflict::{remote_dest, remote_dir_in_the_way, remote_free_name, remote_prefix_matches, resume_from, settle};
use super::options::TransferOptions;
use super::partial::{Checkpoint, Partials};
use crate::job::PartialRecord;
use super::plan::{plan, Action, Dest, Entry, Resume, Rules, SkipReason, Source, Stamp, Target};
use super::progress::Progress;
use super::ranges::RangeSet;
use super::shared_pool::SharedPool;
use super::upload::{finish_remote, forget_partial, take_up_upload, upload_on_session};
use super::walk_local::{LocalWalk, WalkEntry, WalkedFile};
use super::{join_remote, PART_SUFFIX};
use crate::error::{Error, ErrorKind, Recovery, Result};
use crate::sftp::{status_to_result, InFlightBudget, SftpSession};
use crate::ssh::ConnectOptions;
use crate::job::OverwritePolicy;

/// Knobs for tree transfers.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// Files moving at once.
    pub files_in_flight: usize,
    /// Directories being listed at once (downloads).
    pub dirs_in_flight: usize,
    /// SFTP channels (each has its own server process on OpenSSH).
    pub channels: u32,
    pub connections: u32,
    /// Files up to this size go the short way (whole file in one burst).
    pub small_file_max: u64,
    /// Bytes of small-file data held in memory at once, over all files.
    pub memory_budget: u32,
    /// Bigger files moving at once (each keeps its own pipeline full).
    pub big_files_in_flight: usize,
    /// Files (relative path with `/`, and size) finished by an earlier run of the same job:
    /// they are counted as done and not moved again.
    pub already_done: Option<Arc<HashMap<String, u64>>>,
    /// Told the relative path and size of every file as it completes, so a queue can
    /// persist progress and resume after a crash.
    pub on_file_done: Option<mpsc::UnboundedSender<(String, u64)>>,
    /// The destination given is the tree's root itself, not a folder to copy into (set when
    /// resuming a job whose first run resolved the root).
    pub exact_root: bool,
    /// Told `(local root, remote root)` once they are resolved, before any file moves.
    pub on_roots: Option<mpsc::UnboundedSender<(PathBuf, String)>>,
    /// What to do with a destination file that already exists.
    pub overwrite: OverwritePolicy,
    /// Who answers when `overwrite` is Ask and a destination exists. Without one, Ask
    /// fails each such file (there is nobody to ask).
    pub asker: Option<Asker>,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            // At 50 ms a small file takes two or three round trips; ~1000 at once is what it
            // takes to match rsync's single stream on 2,000 files.
            files_in_flight: 1024,
            dirs_in_flight: 64,
            channels: 4,
            connections: 2,
            small_file_max: 1024 * 1024,
            memory_budget: 64 * 1024 * 1024,
            big_files_in_flight: 8,
            already_done: None,
            on_file_done: None,
            exact_root: false,
            on_roots: None,
            overwrite: OverwritePolicy::Overwrite,
            asker: None,
        }
    }
}

/// What a tree transfer did.
#[derive(Debug, Default)]
pub struct TreeReport {
    pub files: u64,
    pub bytes: u64,
    pub dirs: u64,
    pub links: u64,
    /// Files left alone because of the overwrite policy.
    pub skipped: u64,
    /// Entries that failed or were refused; the rest of the job went on.
    pub errors: Vec<Error>,
    pub reconnects: u32,
}

impl TreeOptions {
    /// Whether an earlier run of the job already finished `rel` (of `size` bytes).
    pub(super) fn done_before(&self, rel: &str, size: u64) -> bool {
        self.already_done.as_ref().is_some_and(|d| d.get(rel) == Some(&size))
    }

    /// The rules this job's entries are planned by. On a run that continues an earlier one
    /// of the same job (`exact_root`) with modification times preserved, a destination
    /// identical to its source in size and time is the job's own copy (see
    /// [`Rules::continued`]). `cheap_look`: looking at a destination costs no round trip.
    pub(super) fn rules(&self, t: &TransferOptions, cheap_look: bool) -> Rules {
        Rules { policy: self.overwrite, continued: self.exact_root && t.preserve_mtime, cheap_look }
    }

    pub(super) fn finished(&self, rel: &str, size: u64) {
        if let Some(tx) = &self.on_file_done {
            let _ = tx.send((rel.to_string(), size));
        }
    }
}

/// What bounds memory however many files are in flight.
pub(super) struct Gates {
    /// Small-file bytes held in memory.
    pub(super) memory: InFlightBudget,
    /// Big files in their own pipelines.
    pub(super) big: tokio::sync::Semaphore,
}

impl Gates {
    pub(super) fn new(tree: &TreeOptions) -> Self {
        Gates { memory: InFlightBudget::new(tree.memory_budget), big: tokio::sync::Semaphore::new(tree.big_files_in_flight.max(1)) }
    }
}

/// The outcome of one task: done, failed on its own, or the job must stop.
pub(super) enum Outcome {
    File(u64),
    Skipped,
    Dir,
    Link,
    Failed(Error),
    Fatal(Error),
}

/// Whether `e` stops the whole job rather than failing its entry ([`Recovery::StopJob`]).
pub(super) fn is_fatal(e: &Error) -> bool {
    e.recovery() == Recovery::StopJob
}

/// An error as the outcome of its file: fatal ones stop the job.
pub(super) fn outcome_of(e: Error) -> Outcome {
    if is_fatal(&e) {
        Outcome::Fatal(e)
    } else {
        Outcome::Failed(e)
    }
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Self {
        outcome_of(e)
    }
}

/// Run `op` on a pool session, rebuilding the pool and trying again after transient errors.
pub(super) async fn with_retry<'a, T, F>(pool: &'a SharedPool, mut op: F) -> std::result::Result<T, Outcome>
where
    F: FnMut(SftpSession) -> BoxFuture<'a, Result<T>>,
{
    loop {
        let (generation, sess) = pool.session();
        match op(sess).await {
            Ok(v) => return Ok(v),
            Err(e) if e.wants_reconnect() => {
                if let Err(e) = pool.recover(generation, &e).await {
                    return Err(Outcome::Fatal(e));
                }
            }
            Err(e) if is_fatal(&e) => return Err(Outcome::Fatal(e)),
            Err(e) => return Err(Outcome::Failed(e)),
        }
    }
}


/// Keep the outcome of each task; stop at the first fatal one.
pub(super) fn account(report: &mut TreeReport, progress: &Progress, outcome: Outcome) -> Result<()> {
    match outcome {
        Outcome::File(bytes) => {
            report.files += 1;
            report.bytes += bytes;
            progress.file_done();
        }
        Outcome::Skipped => {
            report.skipped += 1;
            progress.file_done();
        }
        Outcome::Dir => report.dirs += 1,
        Outcome::Link => report.links += 1,
        Outcome::Failed(e) => {
            tracing::warn!(error = %e, "entry failed");
            progress.file_failed();
            report.errors.push(e);
        }
        Outcome::Fatal(e) => return Err(e),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Upload

fn parent_rel(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

type DirReady<'a> = Shared<BoxFuture<'a, std::result::Result<(), Error>>>;

/// Upload the local directory `local_root` to `remote_dest` (into it, when it exists).
pub async fn upload_tree(
    opts: &ConnectOptions,
    local_root: &Path,
    remote_dest: &str,
    t: &TransferOptions,
    tree: &TreeOptions,
    progress: Arc<Progress>,
) -> Result<TreeReport> {
    let label = opts.label();
    let ctx = |e: Error| e.or_host(&label);
    if !local_root.is_dir() {
        return Err(Error::new(ErrorKind::WrongType, "upload", "not a directory").path(local_root.display().to_string()));
    }
    let pool = SharedPool::open(opts, tree.connections, tree.channels, t.budget_per_channel(), t).await.map_err(ctx)?;
    let (_, sess) = pool.session();
    let name = local_root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .unwrap_or_else(|| "upload".into());
    let remote_root = match sess.try_stat(remote_dest).await.map_err(ctx)? {
        Some(a) if a.is_dir() && !tree.exact_root => join_remote(remote_dest, &name),
        _ => remote_dest.to_string(),
    };
    ensure_remote_dir(&sess, &remote_root).await.map_err(ctx)?;
    if let Some(tx) = &tree.on_roots {
        let _ = tx.send((local_root.to_path_buf(), remote_root.clone()));
    }

    // Walked files hold their folders open until they are sent.
    super::local_dest::raise_open_files_limit();
    let mut walk = LocalWalk::start(local_root)?;

    let gates = Gates::new(tree);
    let rules = tree.rules(t, false);
    let mut report = TreeReport::default();
    let mut dirs: HashMap<String, DirReady<'_>> = HashMap::new();
    let ready: DirReady<'_> = futures::future::ready(Ok(())).boxed().shared();
    dirs.insert(String::new(), ready);
    let mut tasks: FuturesUnordered<BoxFuture<'_, Outcome>> = FuturesUnordered::new();
    let mut walking = true;
    let result: Result<()> = loop {
        tokio::select! {
            entry = walk.next(), if walking && tasks.len() < tree.files_in_flight => {
                let Some(entry) = entry else { walking = false; continue };
                let task: BoxFuture<'_, Outcome> = match entry {
                    WalkEntry::Refused(e) => futures::future::ready(Outcome::Failed(e)).boxed(),
                    WalkEntry::Dir { rel } => {
                        let parent = dirs.get(parent_rel(&rel)).cloned();
                        let rpath = join_remote(&remote_root, &rel);
                        let pool_ref = &pool;
                        let fut: DirReady<'_> = async move {
                            if let Some(p) = parent { p.await?; }
                            with_retry(pool_ref, |s| {
                                let rpath = rpath.clone();
                                async move { ensure_remote_dir(&s, &rpath).await }.boxed()
                            })
                            .await
                            .map_err(|o| match o { Outcome::Failed(e) | Outcome::Fatal(e) => e, _ => unreachable!() })
                        }
                        .boxed()
                        .shared();
                        dirs.insert(rel, fut.clone());
                        async move { match fut.await { Ok(()) => Outcome::Dir, Err(e) => Outcome::Failed(e) } }.boxed()
                    }
                    WalkEntry::File { rel, file, size, mtime, mode } => {
                        progress.add_total(size);
                        progress.add_file_total();
                        let source = Stamp { size, mtime: Some(mtime) };
                        let name = rel.rsplit('/').next().unwrap_or(&rel);
                        let entry = Entry { rel: &rel, name, source: Source::File(source), done_before: tree.done_before(&rel, size) };
                        if let Action::Skip { why: SkipReason::AlreadyDone } = plan(&entry, Dest::Unseen, None, rules, |_| false) {
                            progress.add(size);
                            progress.file_done();
                            continue;
                        }
                        let parent = dirs.get(parent_rel(&rel)).cloned();
                        let rpath = join_remote(&remote_root, &rel);
                        let (pool_ref, progress, gates) = (&pool, progress.clone(), &gates);
                        let host = label.as_str();
                        async move {
                            if let Some(p) = parent {
                                if let Err(e) = p.await { return Outcome::Failed(e.path(rpath)); }
                            }
                            let put = Put { file: &file, source, mode, rel: &rel, rpath: &rpath };
                            match put_planned(pool_ref, tree, t, gates, &progress, rules, put).await {
                                Ok(moved) => {
                                    tree.finished(&rel, size);
                                    if moved { Outcome::File(size) } else { progress.add(size); Outcome::Skipped }
                                }
                                Err(Outcome::Failed(e)) => Outcome::Failed(e.or_host(host).or_path(&rpath)),
                                Err(Outcome::Fatal(e)) => Outcome::Fatal(e.or_host(host).or_path(&rpath)),
                                Err(o) => o,
                            }
                        }
                        .boxed()
                    }
                    WalkEntry::Link { rel, target } => {
                        let parent = dirs.get(parent_rel(&rel)).cloned();
                        let rpath = join_remote(&remote_root, &rel);
                        let pool_ref = &pool;
                        async move {
                            // The remote side is not looked at (a STAT each): creating the link fails when something is there.
                            let name = rel.rsplit('/').next().unwrap_or(&rel);
                            let entry = Entry { rel: &rel, name, source: Source::Link { target: &target }, done_before: false };
                            let target = match plan(&entry, Dest::Unseen, None, rules, |_| false) {
                                Action::Link { target, .. } => target,
                                Action::RefuseLink { why } => {
                                    return Outcome::Failed(Error::new(ErrorKind::Config, "copy link", format!("{why}, skipped")).path(rel));
                                }
                                other => unreachable!("an unseen link is never planned as {other:?}"),
                            };
                            if let Some(p) = parent { if let Err(e) = p.await { return Outcome::Failed(e); } }
                            let r = with_retry(pool_ref, |s| {
                                let (rpath, target) = (rpath.clone(), target.clone());
                                async move {
                                    let (l, tg) = (Bytes::from(rpath.clone()), Bytes::from(target));
                                    let reply = s.call(|id| Packet::Symlink { id, linkpath: l, targetpath: tg }).await?;
                                    status_to_result(&s, "create link", &rpath, reply)
                                }.boxed()
                            }).await;
                            match r { Ok(()) => Outcome::Link, Err(o) => o }
                        }
                        .boxed()
                    }
                };
                tasks.push(task);
            }
            Some(outcome) = tasks.next() => {
                if let Err(e) = account(&mut report, &progress, outcome) {
                    break Err(e);
                }
            }
            else => break Ok(()),
        }
    };
    drop(tasks);
    walk.close().await;
    report.reconnects = pool.reconnects();
    pool.close().await;
    result.map_err(ctx)?;
    Ok(report)
}

/// One walked file to upload to `rpath`.
struct Put<'a> {
    file: &'a WalkedFile,
    source: Stamp,
    mode: u32,
    rel: &'a str,
    rpath: &'a str,
}

/// Settle the plan of one upload and carry it out: `Ok(true)` when the file was sent,
/// `Ok(false)` when the plan left the destination alone. With Ask and an asker the file
/// waits for the answer holding only its own slot among `files_in_flight` (acceptable:
/// there are ~1000) and no session, memory or big-file slot, so the rest of the job keeps
/// moving. A big file's saved partial is read before planning (the plan decides whether it
/// is taken up) and checked against the remote temp file in `put_file`.
async fn put_planned(
    pool: &SharedPool,
    tree: &TreeOptions,
    t: &TransferOptions,
    gates: &Gates,
    progress: &Arc<Progress>,
    rules: Rules,
    put: Put<'_>,
) -> std::result::Result<bool, Outcome> {
    let Put { file, source, mode, rel, rpath } = put;
    let partials = t.partials.as_ref().filter(|_| source.size > tree.small_file_max);
    let saved = match partials {
        Some(p) => load_partial(p, rel).await,
        None => None,
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let entry = Entry { rel, name, source: Source::File(source), done_before: false };
    let look = || {
        with_retry(pool, |s| {
            let rpath = rpath.to_string();
            async move { remote_dest(&s, &rpath).await }.boxed()
        })
        .boxed()
    };
    let action = settle(&entry, saved.as_ref(), rules, tree.asker.as_ref(), rpath, look, |_| false).await?;
    let Action::Transfer { to, resume } = action else {
        if let (Some(p), Some(_)) = (partials, &saved) {
            forget_partial(p, rel).await;
        }
        return Ok(false);
    };
    if let (Some(p), Some(_), false) = (partials, &saved, matches!(resume, Resume::Ranges(_))) {
        // Saved for another source, or not for this target: not taken up.
        forget_partial(p, rel).await;
    }
    let target = match to {
        Target::Own => rpath.to_string(),
        Target::Renamed(_) => with_retry(pool, |s| async move { remote_free_name(&s, rpath).await }.boxed()).await?,
    };
    let done = Arc::new(Mutex::new(RangeSet::new()));
    if let Resume::FromPrefix(have) = resume {
        // The shorter copy becomes the part file when it holds what it claims; its bytes count as done.
        let adopted = with_retry(pool, |s| {
            let target = target.clone();
            async move {
                if !remote_prefix_matches(&s, &target, have).await? {
                    return Ok(false);
                }
                s.rename_replace(&target, &format!("{target}{PART_SUFFIX}")).await?;
                Ok(true)
            }
            .boxed()
        })
        .await?;
        if adopted {
            resume_from(&done, progress, have);
        }
    }
    let saved = match resume {
        Resume::Ranges(rec) => Some(rec),
        _ => None,
    };
    // Kept between runs only under its own name (not a `name (1)` of this run).
    let key = (target == rpath).then_some(rel);
    with_retry(pool, |s| {
        let (target, done, progress, saved) = (target.as_str(), done.clone(), progress.clone(), saved.as_ref());
        let (size, mtime) = (source.size, source.mtime.unwrap_or(0));
        async move {
            put_file(&s, file, size, mtime, mode, target, key, saved, tree.small_file_max, t, gates, done, progress).await?;
            Ok(true)
        }
        .boxed()
    })
    .await
}

/// The saved partial upload of `key`, if any (off the async threads: the store is a database).
async fn load_partial(partials: &Partials, key: &str) -> Option<PartialRecord> {
    let (p, k) = (partials.clone(), key.to_string());
    tokio::task::spawn_blocking(move || p.load(&k)).await.ok().flatten()
}

/// Create a remote directory unless it already exists as one.
async fn ensure_remote_dir(sess: &SftpSession, path: &str) -> Result<()> {
    match sess.mkdir(path, FileAttrs::default()).await {
        Ok(()) => Ok(()),
        Err(e) => match sess.try_stat(path).await {
            Ok(Some(a)) if a.is_dir() => Ok(()),
            Ok(Some(_)) => Err(remote_dir_in_the_way(sess, path)),
            _ => Err(e),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn put_file(
    sess: &SftpSession,
    walked: &WalkedFile,
    size: u64,
    mtime: u32,
    mode: u32,
    rpath: &str,
    partial_key: Option<&str>,
    saved: Option<&PartialRecord>,
    small_max: u64,
    t: &TransferOptions,
    gates: &Gates,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
) -> Result<()> {
    let part = format!("{rpath}{PART_SUFFIX}");
    let path = walked.path.as_path();
    let file = walked.open()?;
    // A file with ranges already done (resumed) takes the ranged path, whatever its size.
    let fresh = done.lock().expect("done poisoned").is_empty();
    if size <= small_max && fresh {
        let _memory = gates.memory.acquire(size as u32).await;
        let p = path.to_path_buf();
        let data = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(size as usize);
            let mut f = file;
            f.read_to_end(&mut buf).map(|_| buf).map_err(|e| Error::local_io("read local file", &p, &e))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::LocalIo, "read local file", e.to_string()))??;
        let data = Bytes::from(data);
        let create = t.create_attrs(mode);
        let handle = sess.open(&part, OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC, create).await?;
        // WRITEs and CLOSE back to back: one round trip for the whole file.
        // Whatever the server's limit (down to 1 byte), never above it.
        let block = usize::try_from(sess.info().limits.max_write_len).unwrap_or(usize::MAX).max(1);
        let mut replies = Vec::new();
        let mut off = 0usize;
        while off < data.len() {
            let end = (off + block).min(data.len());
            t.throttle.take((end - off) as u64).await;
            replies.push(sess.send_write(&handle.0, off as u64, data.slice(off..end)).await?);
            off = end;
        }
        let h = handle.0.clone();
        let close = sess.send(|id| Packet::Close { id, handle: h }).await?;
        let mut failure = None;
        for r in replies {
            let reply = r.await?;
            if let Err(e) = status_to_result(sess, "write", &part, reply) {
                failure.get_or_insert(e);
            }
        }
        let closed = status_to_result(sess, "close", &part, close.await?);
        if let Some(e) = failure {
            return Err(e);
        }
        closed?;
        progress.add(size);
    } else {
        let _slot = gates.big.acquire().await.expect("gate never closed");
        // A big file's acknowledged ranges are kept between runs (see `partial`).
        let partials = t.partials.as_ref().zip(partial_key);
        let source = Stamp { size, mtime: Some(mtime) };
        if let Some(((p, key), rec)) = partials.zip(saved).filter(|_| fresh) {
            if let Some(ranges) = take_up_upload(p, key, rec, sess, &part, &file).await {
                progress.add(ranges.len());
                *done.lock().expect("done poisoned") = ranges;
            }
        }
        let checkpoint = partials.map(|(p, key)| Checkpoint::start_upload(p, key, &part, source, done.clone()));
        upload_on_session(sess, file, path, &part, size, mode, t, done, progress).await?;
        drop(checkpoint);
        finish_remote(sess, &part, rpath, (mtime, mtime), t).await?;
        if let Some((p, key)) = partials {
            forget_partial(p, key).await;
        }
        return Ok(());
    }
    // SETSTAT and RENAME back to back (the server runs them in order).
    finish_remote(sess, &part, rpath, (mtime, mtime), t).await
}

/// Run local file-system work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(op: &'static str, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorKind::LocalIo, op, e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_relative_paths() {
        assert_eq!(parent_rel("a/b/c"), "a/b");
        assert_eq!(parent_rel("top"), "");
    }
}
