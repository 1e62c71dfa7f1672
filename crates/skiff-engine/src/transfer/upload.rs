//! Uploading one local file, as fast as the path allows.
//!
//! OpenSSH's sshd gives each channel a fixed 2 MiB window, so one channel caps at 2 MiB per
//! round trip. A big file is therefore cut into segments shared by several channels (over
//! several connections), each keeping WRITEs in flight. Data lands in `NAME.skiffpart` on
//! the server and is renamed over the destination (posix-rename) only when complete; an
//! existing destination is untouched until then. After a dropped connection only the ranges
//! not yet acknowledged are sent again, into the same `.skiffpart`.
//!
//! An existing destination is handled by the job's overwrite policy exactly as for a file
//! of a tree (see `conflict`): skipped, renamed to `name (1).ext`, resumed from its length,
//! asked about, or replaced.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, OpenFlags, Packet, StatusCode};

use super::conflict::{self, remote_free_name, remote_prefix_matches, resume_from, settle, OverwriteRule};
use super::options::TransferOptions;
use super::partial::{Checkpoint, Partials};
use crate::job::PartialRecord;
use super::plan::{Action, Entry, Resume, Rules, Source, Stamp, Target};
use super::pipeline::{run_pipeline, PipelineSteps};
use super::pool::ChannelPool;
use super::progress::Progress;
use super::ranges::RangeSet;
use super::segments::{ChunkCursor, SegmentQueue};
use super::PART_SUFFIX;
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{Handle, Reply, SftpSession};
use crate::ssh::ConnectOptions;

/// Most bytes of WRITEs in flight on one channel.
const UPLOAD_WINDOW_CAP: u64 = 2 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct UploadReport {
    pub remote_path: String,
    /// The file's size (0 when skipped), as a tree counts it.
    pub bytes: u64,
    /// The overwrite policy left the destination alone.
    pub skipped: bool,
    pub retries: u32,
    pub resent_bytes: u64,
}

struct Shared {
    local: Arc<File>,
    local_path: std::path::PathBuf,
    part: String,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
}

/// Upload `local` to `remote_dest` (a file path, or an existing directory to put it in),
/// replacing an existing destination.
pub async fn upload_file(
    opts: &ConnectOptions,
    local: &Path,
    remote_dest: &str,
    topts: &TransferOptions,
    progress: Arc<Progress>,
) -> Result<UploadReport> {
    upload_file_with(opts, local, remote_dest, topts, progress, &OverwriteRule::overwrite()).await
}

/// [`upload_file`] with an existing destination handled by `rule`.
pub async fn upload_file_with(
    opts: &ConnectOptions,
    local: &Path,
    remote_dest: &str,
    topts: &TransferOptions,
    progress: Arc<Progress>,
    rule: &OverwriteRule,
) -> Result<UploadReport> {
    let label = opts.label();
    let meta = std::fs::metadata(local).map_err(|e| Error::local_io("upload", local, &e).host(&label))?;
    if meta.is_dir() {
        return Err(Error::new(ErrorKind::WrongType, "upload", "this is a directory")
            .path(local.display().to_string())
            .host(&label)
            .hint("use -r to copy a directory"));
    }
    let file = File::open(local).map_err(|e| Error::local_io("upload", local, &e).host(&label))?;
    let size = meta.len();
    progress.set_total(size);

    let with_ctx = |e: Error| e.or_host(&label).or_path(remote_dest);
    // The size is known before connecting, so a big file opens all its connections and
    // channels at once, in parallel.
    let pool = open_pool(opts, topts, size).await.map_err(with_ctx)?;
    let target = remote_target(pool.first(), local, remote_dest).await.map_err(with_ctx)?;
    let source = {
        use std::os::unix::fs::MetadataExt;
        Stamp { size, mtime: u32::try_from(meta.mtime()).ok() }
    };
    let rel = target.rsplit('/').next().unwrap_or(&target).to_string();
    let done = Arc::new(Mutex::new(RangeSet::new()));
    let mut fresh = true;
    let partials = topts.partials.as_ref();
    let saved = match partials {
        Some(p) => {
            let (p, k) = (p.clone(), target.clone());
            tokio::task::spawn_blocking(move || p.load(&k)).await.ok().flatten()
        }
        None => None,
    };
    let entry = Entry { rel: &rel, name: &rel, source: Source::File(source), done_before: false };
    let rules = Rules { policy: rule.policy, continued: false, cheap_look: false };
    let look = || {
        let (sess, target) = (pool.first().clone(), target.clone());
        async move { conflict::remote_dest(&sess, &target).await }.boxed()
    };
    let action = settle(&entry, saved.as_ref(), rules, rule.asker.as_ref(), &target, look, |_| false).await;
    let (to, resume) = match action.map_err(|e| with_ctx(e).or_path(&target))? {
        Action::Transfer { to, resume } => (to, resume),
        _ => {
            if let (Some(p), Some(_)) = (partials, &saved) {
                forget_partial(p, &target).await;
            }
            pool.close().await;
            progress.add(size);
            return Ok(UploadReport { remote_path: target, bytes: 0, skipped: true, retries: 0, resent_bytes: 0 });
        }
    };
    if let (Some(p), Some(_), false) = (partials, &saved, matches!(resume, Resume::Ranges(_))) {
        // Saved for another source, or not for this target: not taken up.
        forget_partial(p, &target).await;
    }
    let own = target.clone();
    let target = match to {
        Target::Own => target,
        Target::Renamed(_) => remote_free_name(pool.first(), &target).await.map_err(|e| with_ctx(e).or_path(&target))?,
    };
    match resume {
        Resume::FromPrefix(have) if !remote_prefix_matches(pool.first(), &target, have).await.map_err(|e| with_ctx(e).or_path(&target))? => {
            tracing::info!(path = %target, "the remote file is not the start of this one (or not as long as it said): sending it whole");
        }
        Resume::FromPrefix(have) => {
            // The shorter copy becomes the part file; its bytes count as done.
            let part = format!("{target}{PART_SUFFIX}");
            pool.first().rename_replace(&target, &part).await.map_err(|e| with_ctx(e).or_path(&target))?;
            resume_from(&done, &progress, have);
            fresh = false;
        }
        _ => {}
    }
    let part = format!("{target}{PART_SUFFIX}");
    let with_ctx = |e: Error| e.or_host(&label).or_path(&target);
    let local_file = Arc::new(file);
    if let (Some(p), Resume::Ranges(rec)) = (partials, &resume) {
        // An earlier run's remote temp file, still holding what it said: its ranges count as done.
        if let Some(ranges) = take_up_upload(p, &target, rec, pool.first(), &part, &local_file).await {
            progress.add(ranges.len());
            *done.lock().expect("done poisoned") = ranges;
            fresh = false;
        }
    }
    // Kept between runs only under its own name (not a `name (1)` of this run).
    let partials = partials.filter(|_| target == own);
    let checkpoint = partials.map(|p| Checkpoint::start_upload(p, &target, &part, source, done.clone()));

    let shared = Shared {
        local: local_file,
        local_path: local.to_path_buf(),
        part: part.clone(),
        done,
        progress: progress.clone(),
    };
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    };

    let retries = topts.retries();
    let mut reconnects = 0u32;
    let mut pool = Some(pool);
    loop {
        let result = match pool.take() {
            Some(p) => {
                let r = run_workers(&p, &shared, size, topts, fresh, mode).await;
                match r {
                    Ok(()) => {
                        // Stamp and rename on the first session.
                        let sess = p.first().clone();
                        let times = {
                            use std::os::unix::fs::MetadataExt;
                            (meta.atime() as u32, meta.mtime() as u32)
                        };
                        let r = finish_remote(&sess, &part, &target, times, topts).await;
                        if r.is_ok() {
                            p.close().await;
                        }
                        r
                    }
                    Err(e) => Err(e),
                }
            }
            None => Err(Error::network("upload", "not connected")),
        };
        match result {
            Ok(()) => break,
            Err(e) if e.wants_reconnect() && let Some(attempt) = retries.take() => {
                reconnects += 1;
                fresh = false;
                progress.note_retry();
                tracing::info!(attempt = attempt.number, error = %e, "upload interrupted; reconnecting");
                tokio::time::sleep(attempt.wait).await;
                match open_pool(opts, topts, size).await {
                    Ok(p) => pool = Some(p),
                    Err(e2) if e2.wants_reconnect() => continue,
                    Err(e2) => return Err(with_ctx(e2)),
                }
            }
            Err(e) => {
                return Err(with_ctx(e).hint(format!(
                    "the partial upload was kept in {part} on the server; run the same command again to retry"
                )))
            }
        }
    }
    drop(checkpoint);
    if let Some(p) = partials {
        forget_partial(p, &target).await;
    }
    Ok(UploadReport { remote_path: target, bytes: size, skipped: false, retries: reconnects, resent_bytes: progress.resent() })
}

/// The ranges the saved partial upload `rec` of `key` gives, which the plan found to be for
/// this very source, when the remote temp file `part` is the one it names and still holds
/// what the record says (see `partial`); otherwise `None`, and the record is forgotten.
pub(super) async fn take_up_upload(partials: &Partials, key: &str, rec: &PartialRecord, sess: &SftpSession, part: &str, local: &File) -> Option<RangeSet> {
    let local = Arc::new(local.try_clone().ok()?);
    let valid = rec.temp == part && remote_part_holds(sess, part, &local, &rec.ranges).await.unwrap_or(false);
    if !valid {
        tracing::info!(key, "the partial upload cannot be continued (the remote temp file changed): starting over");
        forget_partial(partials, key).await;
        return None;
    }
    let done = RangeSet::from_pairs(&rec.ranges);
    tracing::info!(key, bytes = done.len(), "taking up a partial upload");
    Some(done)
}

/// Forget the saved partial of `key` (off the async threads: the store is a database).
pub(super) async fn forget_partial(partials: &Partials, key: &str) {
    let (p, k) = (partials.clone(), key.to_string());
    let _ = tokio::task::spawn_blocking(move || p.forget(&k)).await;
}

/// Whether the remote `part` is a regular file at least as long as `ranges`, and the last
/// bytes (up to 4 KiB) of each range read back from it equal `local`'s. A record of more
/// than 256 ranges is not checked (too scattered): the file starts over.
async fn remote_part_holds(sess: &SftpSession, part: &str, local: &Arc<File>, ranges: &[(u64, u64)]) -> Result<bool> {
    const TAIL: u64 = 4096;
    let end = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    match sess.try_stat(part).await? {
        Some(a) if a.is_regular() && a.size.unwrap_or(0) >= end && ranges.len() <= 256 => {}
        _ => return Ok(false),
    }
    let handle = sess.open(part, OpenFlags::READ, FileAttrs::default()).await?;
    let mut replies = Vec::new();
    for &(a, b) in ranges.iter().filter(|r| r.0 < r.1) {
        let len = (b - a).min(TAIL) as u32;
        let off = b - u64::from(len);
        let h = handle.0.clone();
        replies.push((off, len, sess.send(|id| Packet::Read { id, handle: h, offset: off, len }).await?));
    }
    let mut same = true;
    for (off, len, reply) in replies {
        let got = reply.await?;
        if !same {
            continue;
        }
        let f = local.clone();
        let want = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; len as usize];
            f.read_exact_at(&mut buf, off).map(|_| buf)
        })
        .await
        .ok()
        .and_then(|r| r.ok());
        same = matches!((&got, want), (Packet::Data { data, .. }, Some(w)) if data[..] == w[..]);
    }
    let _ = sess.close_handle(&handle, part).await;
    Ok(same)
}


async fn open_pool(opts: &ConnectOptions, t: &TransferOptions, size: u64) -> Result<ChannelPool> {
    if size >= t.multi_channel_threshold && t.channels > 1 {
        ChannelPool::open(opts, t.connections, t.channels, t.budget_per_channel()).await
    } else {
        ChannelPool::open(opts, 1, 1, t.budget_per_channel()).await
    }
}

/// `remote_dest` itself, or `remote_dest/basename(local)` when it is an existing directory.
pub async fn remote_target(sess: &SftpSession, local: &Path, remote_dest: &str) -> Result<String> {
    let is_dir = match sess.try_stat(remote_dest).await? {
        Some(a) => a.is_dir(),
        None => remote_dest.ends_with('/'),
    };
    if !is_dir {
        return Ok(remote_dest.to_string());
    }
    let name = local
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::new(ErrorKind::Config, "upload", "the local path has no usable file name")
            .path(local.display().to_string()))?;
    Ok(super::join_remote(remote_dest, name))
}

/// Stamp the complete remote `.skiffpart` with `(atime, mtime)` (when `t` preserves
/// modification times) and rename it over `target`.
pub(super) async fn finish_remote(sess: &SftpSession, part: &str, target: &str, times: (u32, u32), t: &TransferOptions) -> Result<()> {
    if !t.preserve_mtime {
        return sess.rename_replace(part, target).await;
    }
    let attrs = FileAttrs { atime_mtime: Some(times), ..FileAttrs::default() };
    // Modification time is preserved like `scp -p`; failure to stamp is not fatal. The
    // SETSTAT is sent without waiting for its answer: the server handles requests in order,
    // so the rename right behind it still sees the stamped file, one round trip sooner.
    let p = bytes::Bytes::copy_from_slice(part.as_bytes());
    let stamp = sess.send(|id| Packet::Setstat { id, path: p, attrs }).await?;
    let renamed = sess.rename_replace(part, target).await;
    if let Ok(reply) = stamp.await {
        if let Err(e) = crate::sftp::status_to_result(sess, "set modification time", part, reply) {
            tracing::debug!(error = %e, "could not preserve mtime");
        }
    }
    renamed
}

async fn run_workers(pool: &ChannelPool, shared: &Shared, size: u64, t: &TransferOptions, fresh: bool, mode: u32) -> Result<()> {
    // The first session creates (or, on a fresh start, truncates) the part file; the others
    // open it after it exists.
    let first = pool.first();
    let create = t.create_attrs(mode);
    let mut flags = OpenFlags::WRITE | OpenFlags::CREAT;
    if fresh {
        flags |= OpenFlags::TRUNC;
    }
    let first_handle = first.open(&shared.part, flags, create).await?;

    let missing = shared.done.lock().expect("done poisoned").missing(size);
    let queue = SegmentQueue::new(missing, t.segment_size);
    let workers = pool.sessions().len().min(queue.len().max(1));
    let mut tasks = FuturesUnordered::new();
    tasks.push(worker(first, Some(first_handle), shared, &queue, t));
    for sess in pool.sessions().iter().take(workers).skip(1) {
        tasks.push(worker(sess, None, shared, &queue, t));
    }
    let mut first_err = None;
    while let Some(r) = tasks.next().await {
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn read_block(shared: &Shared, off: u64, len: u32) -> Result<Bytes> {
    let file = shared.local.clone();
    let path = shared.local_path.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, off).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::new(ErrorKind::LocalIo, "read local file", "the file shrank while it was being uploaded")
                    .path(path.display().to_string())
                    .hint("upload it again once it is no longer being written")
            } else {
                Error::local_io("read local file", &path, &e)
            }
        })?;
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::LocalIo, "read local file", e.to_string()))?
}

async fn worker(
    sess: &SftpSession,
    handle: Option<Handle>,
    shared: &Shared,
    queue: &SegmentQueue,
    t: &TransferOptions,
) -> Result<()> {
    let part = shared.part.as_str();
    let handle = match handle {
        Some(h) => h,
        None => sess.open(part, OpenFlags::WRITE, FileAttrs::default()).await?,
    };
    // Whatever the server's limit (down to 1 byte), never above it.
    let limit = u32::try_from(sess.info().limits.max_write_len).unwrap_or(u32::MAX).max(1);
    let block = t.block_size.unwrap_or(limit).clamp(1, limit);
    // sshd never grows a channel's 2 MiB window, so more than one window in flight per channel
    // only queues (memory, and bytes to resend after a cut) without going faster: measured
    // with skiff-bench, 2 MiB moves a 256 MiB file as fast as 4 MiB at 50 ms and on loopback.
    let max_window = (u64::from(t.max_requests.max(1)) * u64::from(block)).min(UPLOAD_WINDOW_CAP);
    let mut steps = UploadSteps { sess, handle: &handle, shared, queue, cursor: ChunkCursor::new(block), max_window };
    let result = run_pipeline(&mut steps, 4 * u64::from(block), &t.throttle).await;
    if result.is_ok() {
        sess.close_handle(&handle, part).await?;
    }
    result
}

/// WRITEs of one channel: which ranges to send, read from the local file.
struct UploadSteps<'a> {
    sess: &'a SftpSession,
    handle: &'a Handle,
    shared: &'a Shared,
    queue: &'a SegmentQueue,
    cursor: ChunkCursor,
    max_window: u64,
}

impl PipelineSteps for UploadSteps<'_> {
    fn next_range(&mut self) -> Option<(u64, u32)> {
        self.cursor.next(self.queue)
    }

    async fn send(&mut self, off: u64, len: u32) -> Result<Reply> {
        let data = read_block(self.shared, off, len).await?;
        self.sess.send_write(&self.handle.0, off, data).await
    }

    async fn on_reply(&mut self, off: u64, len: u32, reply: Result<Packet>) -> Result<u64> {
        match reply? {
            Packet::Status { code: StatusCode::Ok, .. } => {
                let n = u64::from(len);
                self.shared.progress.record(&self.shared.done, off..off + n);
                Ok(n)
            }
            other => Err(crate::sftp::status_to_result(self.sess, "write", &self.shared.part, other)
                .err()
                .unwrap_or_else(|| Error::protocol("write", "unexpected reply"))),
        }
    }

    fn max_window(&self) -> u64 {
        self.max_window
    }
}

/// Upload `local` (of `size` bytes, already open) into the remote `part` file on one session,
/// pipelined. Used by tree transfers for their bigger files; the caller renames `part`.
/// `done` survives the caller's retries: a retry sends only the ranges still missing.
#[allow(clippy::too_many_arguments)]
pub(super) async fn upload_on_session(
    sess: &SftpSession,
    local: File,
    local_path: &Path,
    part: &str,
    size: u64,
    mode: u32,
    t: &TransferOptions,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
) -> Result<()> {
    let missing = done.lock().expect("done poisoned").missing(size);
    let fresh = missing.len() == 1 && missing[0] == (0..size);
    let shared = Shared { local: Arc::new(local), local_path: local_path.to_path_buf(), part: part.to_string(), done, progress };
    let create = t.create_attrs(mode);
    let mut flags = OpenFlags::WRITE | OpenFlags::CREAT;
    if fresh {
        flags |= OpenFlags::TRUNC;
    }
    let handle = sess.open(part, flags, create).await?;
    let queue = SegmentQueue::new(missing, u64::MAX);
    worker(sess, Some(handle), &shared, &queue, t).await
}
