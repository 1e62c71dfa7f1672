//! Whole directory trees, many files at once, so that the number of files stops mattering.
//!
//! Uploads walk the local tree on a thread and stream entries in; downloads list remote
//! directories with several READDIRs in flight across directories, and files start moving
//! while the listing goes on. Directories are created ahead of their files. Up to
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

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, NameEntry, OpenFlags, Packet, StatusCode};
use tokio::sync::mpsc;

use super::ask::{resolve_policy, Asker, OverwriteQuestion};
use super::conflict::{download_decision, local_stamp, parent_rel_remote, remote_decision, remote_stamp, resume_from, OverwriteRule};
use super::download::{download_on_session, finish_local, part_path, write_small_local};
use super::options::TransferOptions;
use super::overwrite::{decide, Decision, Stamp};
use super::progress::Progress;
use super::ranges::RangeSet;
use super::shared_pool::SharedPool;
use super::throttle::Throttle;
use super::upload::{finish_remote, upload_on_session};
use super::{join_remote, remote_basename, safe_remote_name, PART_SUFFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{status_to_result, InFlightBudget, SftpSession};
use crate::ssh::ConnectOptions;
use crate::store::OverwritePolicy;

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
    /// True (and counted in `progress`) when an earlier run already finished `rel`.
    fn skip(&self, rel: &str, size: u64, progress: &Progress) -> bool {
        let done = self.already_done.as_ref().is_some_and(|d| d.get(rel) == Some(&size));
        if done {
            progress.add(size);
            progress.file_done();
        }
        done
    }

    /// On a run that continues an earlier one of the same job (`exact_root`), a destination
    /// identical to its source in size and modification time (which the job gave it) is the
    /// job's own copy, finished before the stop but not yet recorded: it counts as done,
    /// whatever the policy. Asking about it, renaming beside it or sending it again would
    /// be wrong.
    fn own_copy(&self, t: &TransferOptions, source: Stamp, existing: Option<Stamp>) -> bool {
        self.exact_root && t.preserve_mtime && source.mtime.is_some() && existing == Some(source)
    }

    fn finished(&self, rel: &str, size: u64) {
        if let Some(tx) = &self.on_file_done {
            let _ = tx.send((rel.to_string(), size));
        }
    }
}

/// What bounds memory however many files are in flight.
struct Gates {
    /// Small-file bytes held in memory.
    memory: InFlightBudget,
    /// Big files in their own pipelines.
    big: tokio::sync::Semaphore,
}

impl Gates {
    fn new(tree: &TreeOptions) -> Self {
        Gates { memory: InFlightBudget::new(tree.memory_budget), big: tokio::sync::Semaphore::new(tree.big_files_in_flight.max(1)) }
    }
}

/// The outcome of one task: done, failed on its own, or the job must stop.
enum Outcome {
    File(u64),
    Skipped,
    Dir,
    Link,
    Failed(Error),
    Fatal(Error),
}

fn is_fatal(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::DiskFull | ErrorKind::Cancelled)
}

/// An error as the outcome of its file: fatal ones stop the job.
fn outcome_of(e: Error) -> Outcome {
    if is_fatal(&e) {
        Outcome::Fatal(e)
    } else {
        Outcome::Failed(e)
    }
}

/// Run `op` on a pool session, rebuilding the pool and trying again after transient errors.
async fn with_retry<'a, T, F>(pool: &'a SharedPool, mut op: F) -> std::result::Result<T, Outcome>
where
    F: FnMut(SftpSession) -> BoxFuture<'a, Result<T>>,
{
    loop {
        let (generation, sess) = pool.session();
        match op(sess).await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() => {
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
fn account(report: &mut TreeReport, progress: &Progress, outcome: Outcome) -> Result<()> {
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

enum LocalEntry {
    Dir { rel: String },
    File { rel: String, path: PathBuf, size: u64, mtime: u32, mode: u32 },
    Link { rel: String, target: String },
    Refused(Error),
}

/// Walk `root` depth-first on the calling (blocking) thread; parents come before children.
fn walk_local(root: &Path, tx: &mpsc::Sender<LocalEntry>) {
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                let _ = tx.blocking_send(LocalEntry::Refused(Error::local_io("list directory", &dir, &e)));
                continue;
            }
        };
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let _ = tx.blocking_send(LocalEntry::Refused(Error::local_io("list directory", &dir, &e)));
                    continue;
                }
            };
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                let _ = tx.blocking_send(LocalEntry::Refused(
                    Error::new(ErrorKind::LocalIo, "upload", "the name is not valid UTF-8; skipped")
                        .path(path.display().to_string()),
                ));
                continue;
            };
            let child_rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.blocking_send(LocalEntry::Refused(Error::local_io("upload", &path, &e)));
                    continue;
                }
            };
            let ft = meta.file_type();
            let msg = if ft.is_dir() {
                stack.push((path.clone(), child_rel.clone()));
                LocalEntry::Dir { rel: child_rel }
            } else if ft.is_file() {
                LocalEntry::File {
                    rel: child_rel,
                    path,
                    size: meta.len(),
                    mtime: meta.mtime().clamp(0, i64::from(u32::MAX)) as u32,
                    mode: meta.permissions().mode() & 0o7777,
                }
            } else if ft.is_symlink() {
                match std::fs::read_link(&path).ok().and_then(|t| t.to_str().map(str::to_string)) {
                    Some(target) => LocalEntry::Link { rel: child_rel, target },
                    None => continue,
                }
            } else {
                continue; // sockets, fifos, devices: not copied
            };
            if tx.blocking_send(msg).is_err() {
                return;
            }
        }
    }
}

/// Whether a link at `rel` pointing to `target` stays inside the tree.
fn link_stays_inside(rel: &str, target: &str) -> bool {
    if target.starts_with('/') || target.is_empty() {
        return false;
    }
    let mut depth: i64 = rel.matches('/').count() as i64; // the link's directory depth
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

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

    let (tx, mut rx) = mpsc::channel::<LocalEntry>(8192);
    let root = local_root.to_path_buf();
    let walker = std::thread::Builder::new()
        .name("skiff-walk".into())
        .spawn(move || walk_local(&root, &tx))
        .map_err(|e| Error::new(ErrorKind::LocalIo, "walk", e.to_string()))?;

    let gates = Gates::new(tree);
    let mut report = TreeReport::default();
    let mut dirs: HashMap<String, DirReady<'_>> = HashMap::new();
    let ready: DirReady<'_> = futures::future::ready(Ok(())).boxed().shared();
    dirs.insert(String::new(), ready);
    let mut tasks: FuturesUnordered<BoxFuture<'_, Outcome>> = FuturesUnordered::new();
    let mut walking = true;
    let result: Result<()> = loop {
        tokio::select! {
            entry = rx.recv(), if walking && tasks.len() < tree.files_in_flight => {
                let Some(entry) = entry else { walking = false; continue };
                let task: BoxFuture<'_, Outcome> = match entry {
                    LocalEntry::Refused(e) => futures::future::ready(Outcome::Failed(e)).boxed(),
                    LocalEntry::Dir { rel } => {
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
                    LocalEntry::File { rel, path, size, mtime, mode } => {
                        progress.add_total(size);
                        progress.add_file_total();
                        if tree.skip(&rel, size, &progress) {
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
                            let source = Stamp { size, mtime: Some(mtime) };
                            let policy = match upload_policy(pool_ref, tree, t, host, &rel, &rpath, source).await {
                                Ok(policy) => policy,
                                Err(o) => return o,
                            };
                            let done = Arc::new(Mutex::new(RangeSet::new()));
                            let r = with_retry(pool_ref, |s| {
                                let (path, rpath, progress, done) = (path.clone(), rpath.clone(), progress.clone(), done.clone());
                                async move {
                                    let target = match remote_decision(&s, policy, source, &rpath).await? {
                                        Decision::Skip => return Ok(false),
                                        Decision::Transfer => rpath,
                                        Decision::RenameTo(name) => join_remote(parent_rel_remote(&rpath), &name),
                                        Decision::ResumeFrom(have) => {
                                            // The shorter copy becomes the part file; its bytes count as done.
                                            s.rename_replace(&rpath, &format!("{rpath}{PART_SUFFIX}")).await?;
                                            resume_from(&done, &progress, have);
                                            rpath
                                        }
                                    };
                                    put_file(&s, &path, size, mtime, mode, &target, tree.small_file_max, t, gates, done, progress).await?;
                                    Ok(true)
                                }
                                .boxed()
                            })
                            .await;
                            match r {
                                Ok(moved) => {
                                    tree.finished(&rel, size);
                                    if moved { Outcome::File(size) } else { progress.add(size); Outcome::Skipped }
                                }
                                Err(o) => o,
                            }
                        }
                        .boxed()
                    }
                    LocalEntry::Link { rel, target } => {
                        let parent = dirs.get(parent_rel(&rel)).cloned();
                        let rpath = join_remote(&remote_root, &rel);
                        let pool_ref = &pool;
                        async move {
                            if !link_stays_inside(&rel, &target) {
                                return Outcome::Failed(Error::new(ErrorKind::Config, "copy link", format!("the link points outside the tree ({target}); not followed, skipped")).path(rel));
                            }
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
    drop(rx);
    let _ = tokio::task::spawn_blocking(move || walker.join()).await;
    report.reconnects = pool.reconnects();
    pool.close().await;
    result.map_err(ctx)?;
    Ok(report)
}

/// The policy one upload goes by. With Ask and an asker: STAT the destination and, when it
/// exists, put the question and wait for the answer. The waiting file holds only its own
/// slot among `files_in_flight` (acceptable: there are ~1000) and no session, memory or
/// big-file slot, so the rest of the job keeps moving. An absent destination gives
/// Overwrite: nothing to overwrite, and no second STAT.
#[allow(clippy::too_many_arguments)]
async fn upload_policy(
    pool: &SharedPool,
    tree: &TreeOptions,
    t: &TransferOptions,
    host: &str,
    rel: &str,
    rpath: &str,
    source: Stamp,
) -> std::result::Result<OverwritePolicy, Outcome> {
    let asker = tree.asker.as_ref().filter(|_| tree.overwrite == OverwritePolicy::Ask);
    // Overwrite needs no look at the destination, not even on a continued run: sending an
    // own copy again is harmless.
    let own_copy_possible = tree.exact_root && tree.overwrite != OverwritePolicy::Overwrite;
    if asker.is_none() && !own_copy_possible {
        return Ok(tree.overwrite);
    }
    let existing = with_retry(pool, |s| {
        let rpath = rpath.to_string();
        async move { remote_stamp(&s, &rpath).await }.boxed()
    })
    .await?;
    if tree.own_copy(t, source, existing) {
        return Ok(OverwritePolicy::Skip);
    }
    let Some(asker) = asker else { return Ok(tree.overwrite) };
    let Some(existing) = existing else { return Ok(OverwritePolicy::Overwrite) };
    let question = || OverwriteQuestion { path: rpath.to_string(), rel: rel.to_string(), source, existing };
    resolve_policy(tree.overwrite, Some(asker), question).await.map_err(|e| outcome_of(e.or_host(host).or_path(rpath)))
}

/// Create a remote directory unless it already exists as one.
async fn ensure_remote_dir(sess: &SftpSession, path: &str) -> Result<()> {
    match sess.mkdir(path, FileAttrs::default()).await {
        Ok(()) => Ok(()),
        Err(e) => match sess.try_stat(path).await {
            Ok(Some(a)) if a.is_dir() => Ok(()),
            Ok(Some(_)) => Err(Error::new(ErrorKind::WrongType, "create directory", "a file with this name is in the way")
                .host(sess.host())
                .path(path)),
            _ => Err(e),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn put_file(
    sess: &SftpSession,
    path: &Path,
    size: u64,
    mtime: u32,
    mode: u32,
    rpath: &str,
    small_max: u64,
    t: &TransferOptions,
    gates: &Gates,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
) -> Result<()> {
    let part = format!("{rpath}{PART_SUFFIX}");
    let file = File::open(path).map_err(|e| Error::local_io("upload", path, &e))?;
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
        let block = sess.info().limits.max_write_len.max(1024) as usize;
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
        upload_on_session(sess, file, path, &part, size, mode, t, done, progress).await?;
    }
    // SETSTAT and RENAME back to back (the server runs them in order).
    finish_remote(sess, &part, rpath, (mtime, mtime), t).await
}

// ---------------------------------------------------------------------------------------
// Download

struct RemoteFile {
    /// Relative to the tree's root, with `/`.
    rel: String,
    rpath: String,
    lpath: PathBuf,
    attrs: FileAttrs,
    /// `lpath` existed when listed and the policy is Ask with an asker: ask before moving it.
    ask: bool,
    /// `lpath` holds this many first bytes of the file already (the Resume policy).
    resume_from: u64,
}

/// Download the remote directory `remote_root` into `local_dest` (into it, when it exists).
pub async fn download_tree(
    opts: &ConnectOptions,
    remote_root: &str,
    local_dest: &Path,
    t: &TransferOptions,
    tree: &TreeOptions,
    progress: Arc<Progress>,
) -> Result<TreeReport> {
    let label = opts.label();
    let ctx = |e: Error| e.or_host(&label);
    let pool = SharedPool::open(opts, tree.connections, tree.channels, t.budget_per_channel(), t).await.map_err(ctx)?;
    tracing::debug!("download tree: pool open");
    let (_, sess) = pool.session();
    let attrs = sess.stat(remote_root).await.map_err(|e| ctx(e.op("download")))?;
    if !attrs.is_dir() {
        return Err(Error::new(ErrorKind::WrongType, "download", "not a directory").host(&label).path(remote_root));
    }
    let local_root = if local_dest.is_dir() && !tree.exact_root {
        let name = remote_basename(remote_root).unwrap_or("download");
        let name = if name.is_empty() || name == "." { "download" } else { name };
        local_dest.join(name)
    } else {
        local_dest.to_path_buf()
    };
    std::fs::create_dir_all(&local_root).map_err(|e| Error::local_io("create directory", &local_root, &e))?;
    if let Some(tx) = &tree.on_roots {
        let _ = tx.send((local_root.clone(), remote_root.to_string()));
    }

    let gates = Gates::new(tree);
    let mut report = TreeReport::default();
    let (btx, mut brx) = mpsc::channel::<(String, PathBuf, Vec<NameEntry>)>(256);
    let mut dir_queue: VecDeque<(String, PathBuf)> = VecDeque::from([(remote_root.to_string(), local_root.clone())]);
    let mut listings: FuturesUnordered<BoxFuture<'_, Outcome>> = FuturesUnordered::new();
    let mut files: FuturesUnordered<BoxFuture<'_, Outcome>> = FuturesUnordered::new();
    let mut pending: VecDeque<RemoteFile> = VecDeque::new();

    let result: Result<()> = loop {
        while listings.len() < tree.dirs_in_flight {
            let Some((rdir, ldir)) = dir_queue.pop_front() else { break };
            let (pool_ref, btx) = (&pool, btx.clone());
            listings.push(
                async move {
                    let r = with_retry(pool_ref, |s| {
                        let (rdir, ldir, btx) = (rdir.clone(), ldir.clone(), btx.clone());
                        async move {
                            let mut rd = s.read_dir(&rdir).await?;
                            // Stream each READDIR reply to the scheduler as it arrives.
                            while let Some(batch) = rd.next_batch().await? {
                                let _ = btx.send((rdir.clone(), ldir.clone(), batch)).await;
                            }
                            Ok(())
                        }
                        .boxed()
                    })
                    .await;
                    match r { Ok(()) => Outcome::Dir, Err(o) => o }
                }
                .boxed(),
            );
        }
        while files.len() < tree.files_in_flight {
            let Some(f) = pending.pop_front() else { break };
            let (pool_ref, progress, gates) = (&pool, progress.clone(), &gates);
            let host = label.as_str();
            files.push(
                async move {
                    let f = if f.ask {
                        let (rel, size) = (f.rel.clone(), f.attrs.size.unwrap_or(0));
                        match ask_download(tree, f).await {
                            Ok(Some(f)) => f,
                            Ok(None) => {
                                progress.add(size);
                                tree.finished(&rel, size);
                                return Outcome::Skipped;
                            }
                            Err(e) => return outcome_of(e.or_host(host)),
                        }
                    } else {
                        f
                    };
                    let done = Arc::new(Mutex::new(RangeSet::new()));
                    if f.resume_from > 0 {
                        // The shorter local copy becomes the part file; its bytes count as done.
                        if let Err(e) = std::fs::rename(&f.lpath, part_path(&f.lpath)) {
                            return outcome_of(Error::local_io("resume download", &f.lpath, &e));
                        }
                        resume_from(&done, &progress, f.resume_from);
                    }
                    let r = with_retry(pool_ref, |s| {
                        let (rpath, lpath, attrs, progress, done) = (f.rpath.clone(), f.lpath.clone(), f.attrs.clone(), progress.clone(), done.clone());
                        async move { get_file(&s, &rpath, &lpath, &attrs, tree.small_file_max, t, gates, done, progress).await }.boxed()
                    })
                    .await;
                    match r {
                        Ok(n) => {
                            tree.finished(&f.rel, f.attrs.size.unwrap_or(n));
                            Outcome::File(n)
                        }
                        Err(o) => o,
                    }
                }
                .boxed(),
            );
        }
        if listings.is_empty() && dir_queue.is_empty() && brx.is_empty() {
            tracing::trace!(files = files.len(), pending = pending.len(), "listing finished");
        }
        if listings.is_empty() && dir_queue.is_empty() && brx.is_empty() && files.is_empty() && pending.is_empty() {
            break Ok(());
        }
        tokio::select! {
            Some(outcome) = listings.next() => {
                if let Err(e) = account(&mut report, &progress, outcome) { break Err(e); }
            }
            Some((rdir, ldir, batch)) = brx.recv(), if pending.len() < tree.files_in_flight * 4 => {
                let mut fatal = None;
                for entry in batch {
                    let name = match safe_remote_name(&entry.filename) {
                        Ok(n) => n.to_string(),
                        Err(e) => {
                            progress.file_failed();
                            report.errors.push(e.host(&label).path(rdir.clone()));
                            continue;
                        }
                    };
                    let rpath = join_remote(&rdir, &name);
                    let lpath = ldir.join(&name);
                    if entry.attrs.is_dir() {
                        if let Err(e) = std::fs::create_dir_all(&lpath) {
                            let e = Error::local_io("create directory", &lpath, &e);
                            if is_fatal(&e) {
                                fatal = Some(e);
                                break;
                            }
                            report.errors.push(e);
                            continue;
                        }
                        dir_queue.push_back((rpath, lpath));
                    } else if entry.attrs.is_symlink() {
                        let (pool_ref, root) = (&pool, local_root.clone());
                        files.push(async move {
                            let r = with_retry(pool_ref, |s| {
                                let (rpath, lpath, root) = (rpath.clone(), lpath.clone(), root.clone());
                                async move { get_link(&s, &rpath, &lpath, &root).await }.boxed()
                            }).await;
                            match r { Ok(()) => Outcome::Link, Err(o) => o }
                        }.boxed());
                    } else if entry.attrs.is_regular() || entry.attrs.permissions.is_none() {
                        let size = entry.attrs.size.unwrap_or(0);
                        progress.add_total(size);
                        progress.add_file_total();
                        let rel = rpath.strip_prefix(remote_root).unwrap_or(&rpath).trim_start_matches('/').to_string();
                        if tree.skip(&rel, size, &progress) {
                            continue;
                        }
                        let existing = local_stamp(&lpath);
                        let source = Stamp { size, mtime: entry.attrs.mtime() };
                        if tree.own_copy(t, source, existing) {
                            progress.add(size);
                            tree.finished(&rel, size);
                            files.push(futures::future::ready(Outcome::Skipped).boxed());
                            continue;
                        }
                        if existing.is_some() && tree.overwrite == OverwritePolicy::Ask && tree.asker.is_some() {
                            // A person may take minutes to answer: the file waits for it in a
                            // file slot of its own (see `ask_download`), the listing goes on.
                            pending.push_back(RemoteFile { rel, rpath, lpath, attrs: entry.attrs, ask: true, resume_from: 0 });
                            continue;
                        }
                        let lpath = match decide(tree.overwrite, source, existing, &name, |c| ldir.join(c).exists()) {
                            Ok(Decision::Transfer) => lpath,
                            Ok(Decision::RenameTo(n)) => ldir.join(n),
                            Ok(Decision::ResumeFrom(have)) => {
                                pending.push_back(RemoteFile { rel, rpath, lpath, attrs: entry.attrs, ask: false, resume_from: have });
                                continue;
                            }
                            Ok(Decision::Skip) => {
                                progress.add(size);
                                tree.finished(&rel, size);
                                files.push(futures::future::ready(Outcome::Skipped).boxed());
                                continue;
                            }
                            Err(e) => {
                                progress.file_failed();
                                report.errors.push(e.host(&label).path(rpath));
                                continue;
                            }
                        };
                        pending.push_back(RemoteFile { rel, rpath, lpath, attrs: entry.attrs, ask: false, resume_from: 0 });
                    }
                }
                if let Some(e) = fatal {
                    break Err(e);
                }
            }
            Some(outcome) = files.next() => {
                if let Err(e) = account(&mut report, &progress, outcome) { break Err(e); }
            }
            else => break Ok(()),
        }
    };
    drop(files);
    drop(listings);
    report.reconnects = pool.reconnects();
    pool.close().await;
    result.map_err(ctx)?;
    Ok(report)
}

/// Ask about one download whose destination existed when listed, and apply the answer: the
/// file with the local path it goes to, or `None` when it is left alone. The waiting file
/// holds only its own slot among `files_in_flight` (acceptable: there are ~1000) and no
/// session, memory or big-file slot, so the rest of the job keeps moving.
async fn ask_download(tree: &TreeOptions, mut f: RemoteFile) -> Result<Option<RemoteFile>> {
    let source = Stamp { size: f.attrs.size.unwrap_or(0), mtime: f.attrs.mtime() };
    let rule = OverwriteRule { policy: tree.overwrite, asker: tree.asker.clone() };
    match download_decision(&rule, source, &f.lpath, &f.rel).await? {
        Decision::Transfer => Ok(Some(f)),
        Decision::RenameTo(n) => {
            f.lpath = f.lpath.parent().map(Path::to_path_buf).unwrap_or_default().join(n);
            Ok(Some(f))
        }
        Decision::ResumeFrom(have) => {
            f.resume_from = have;
            Ok(Some(f))
        }
        Decision::Skip => Ok(None),
    }
}

/// Run local file-system work off the async threads.
async fn blocking<T: Send + 'static>(op: &'static str, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorKind::LocalIo, op, e.to_string()))?
}

/// Download one file of a tree into `lpath` (through `.skiffpart`).
#[allow(clippy::too_many_arguments)]
async fn get_file(
    sess: &SftpSession,
    rpath: &str,
    lpath: &Path,
    attrs: &FileAttrs,
    small_max: u64,
    t: &TransferOptions,
    gates: &Gates,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
) -> Result<u64> {
    let size = attrs.size.unwrap_or(0);
    let part = part_path(lpath);
    // A file with ranges already done (resumed) takes the ranged path, whatever its size.
    let fresh = done.lock().expect("done poisoned").is_empty();
    let got = if size <= small_max && fresh {
        let _memory = gates.memory.acquire(size as u32).await;
        match get_small(sess, rpath, size, &t.throttle).await? {
            Some(data) => {
                let n = data.len() as u64;
                let (target, attrs, t) = (lpath.to_path_buf(), attrs.clone(), t.clone());
                blocking("write local file", move || write_small_local(&part, &target, &data, &attrs, &t)).await?;
                progress.add(n);
                return Ok(n);
            }
            // A short read (rare on real servers): take the careful path.
            None => download_on_session(sess, rpath, &part, size, t, done, progress).await?,
        }
    } else {
        let _slot = gates.big.acquire().await.expect("gate never closed");
        download_on_session(sess, rpath, &part, size, t, done, progress).await?
    };
    let (target, attrs, t) = (lpath.to_path_buf(), attrs.clone(), t.clone());
    blocking("finish download", move || finish_local(&part, &target, got, &attrs, &t)).await?;
    Ok(got)
}

/// OPEN, then every READ and the CLOSE back to back. `None` when a read came back short.
async fn get_small(sess: &SftpSession, rpath: &str, size: u64, throttle: &Throttle) -> Result<Option<Vec<u8>>> {
    let handle = sess.open(rpath, OpenFlags::READ, FileAttrs::default()).await?;
    let block = sess.info().limits.max_read_len.max(1024);
    let mut replies = Vec::new();
    let mut off = 0u64;
    while off < size {
        let len = (size - off).min(block) as u32;
        throttle.take(u64::from(len)).await;
        let h = handle.0.clone();
        replies.push((off, len, sess.send_with_cost(len, |id| Packet::Read { id, handle: h, offset: off, len }).await?));
        off += u64::from(len);
    }
    let h = handle.0.clone();
    let close = sess.send(|id| Packet::Close { id, handle: h }).await?;
    let mut data = Vec::with_capacity(size as usize);
    let mut short = false;
    let mut eof_at = None;
    for (off, len, reply) in replies {
        match reply.await? {
            Packet::Data { data: d, .. } if d.len() == len as usize && eof_at.is_none() => data.extend_from_slice(&d),
            Packet::Data { .. } => short = true,
            Packet::Status { code: StatusCode::Eof, .. } => {
                eof_at.get_or_insert(off); // the file shrank since it was listed
            }
            other => {
                let _ = close.await;
                return Err(status_to_result(sess, "read", rpath, other)
                    .err()
                    .unwrap_or_else(|| Error::protocol("read", "unexpected reply").path(rpath)));
            }
        }
    }
    let _ = close.await;
    if short {
        return Ok(None);
    }
    Ok(Some(data))
}

/// Recreate a remote symlink locally when it stays inside the tree.
async fn get_link(sess: &SftpSession, rpath: &str, lpath: &Path, local_root: &Path) -> Result<()> {
    let p = Bytes::from(rpath.to_string());
    let target = match sess.call(|id| Packet::Readlink { id, path: p }).await? {
        Packet::Name { entries, .. } if !entries.is_empty() => String::from_utf8_lossy(&entries[0].filename).into_owned(),
        other => {
            return Err(status_to_result(sess, "read link", rpath, other)
                .err()
                .unwrap_or_else(|| Error::protocol("read link", "empty answer").path(rpath)))
        }
    };
    let rel = lpath.strip_prefix(local_root).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
    if !link_stays_inside(&rel, &target) {
        return Err(Error::new(ErrorKind::Config, "copy link", format!("the link points outside the tree ({target}); not followed, skipped"))
            .host(sess.host())
            .path(rpath));
    }
    let _ = std::fs::remove_file(lpath);
    std::os::unix::fs::symlink(&target, lpath).map_err(|e| Error::local_io("create link", lpath, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_inside_the_tree() {
        assert!(link_stays_inside("a/link", "b"));
        assert!(link_stays_inside("a/link", "../top"));
        assert!(!link_stays_inside("a/link", "../../out"));
        assert!(!link_stays_inside("link", "../x"));
        assert!(!link_stays_inside("link", "/etc/passwd"));
        assert!(link_stays_inside("link", "./x/../y"));
    }

    #[test]
    fn parent_of_relative_paths() {
        assert_eq!(parent_rel("a/b/c"), "a/b");
        assert_eq!(parent_rel("top"), "");
    }
}
