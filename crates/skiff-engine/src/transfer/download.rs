//! Downloading one remote file, as fast as the path allows.
//!
//! The file is cut into segments ([`SegmentQueue`]) that channel workers take in turn; each
//! worker keeps a pipeline of READs in flight that starts at a few blocks and doubles per
//! round trip up to `max_requests` blocks. Replies are written at their offsets by the
//! [`LocalSink`] thread, whatever order they arrive in; a short read re-requests the gap.
//! Data lands in `NAME.skiffpart`, renamed over the destination only when complete, so an
//! existing destination is never touched before then. A transient failure rebuilds the
//! connections and fetches only the ranges still missing.
//!
//! An existing destination is handled by the job's overwrite policy exactly as for a file
//! of a tree (see `conflict`): skipped, renamed to `name (1).ext`, resumed from its length,
//! asked about, or replaced.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, OpenFlags, Packet, StatusCode};

use super::conflict::{download_decision, resume_from, OverwriteRule};
use super::local_sink::LocalSink;
use super::options::TransferOptions;
use super::overwrite::{Decision, Stamp};
use super::pipeline::{run_pipeline, PipelineSteps};
use super::pool::ChannelPool;
use super::progress::Progress;
use super::ranges::RangeSet;
use super::segments::{ChunkCursor, SegmentQueue};
use super::PART_SUFFIX;
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{Handle, Reply, SftpSession};
use crate::ssh::ConnectOptions;

/// Most bytes of READs in flight for one file, over all its channels.
const DOWNLOAD_IN_FLIGHT_CAP: u64 = 32 * 1024 * 1024;

/// Blocks in flight when a channel starts; the window then grows by each reply (doubling
/// per round trip). TCP already does congestion control, so starting at 4 MiB only skips
/// round trips of ramp-up on a long path.
const INITIAL_WINDOW_BLOCKS: u64 = 16;

/// What a finished download did.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    pub local_path: PathBuf,
    /// The file's size (0 when skipped), as a tree counts it.
    pub bytes: u64,
    /// The overwrite policy left the destination alone.
    pub skipped: bool,
    pub retries: u32,
    pub resent_bytes: u64,
}

/// State that survives reconnects.
struct Shared {
    remote_path: String,
    done: Arc<Mutex<RangeSet>>,
    /// Smallest offset at which the server said EOF (the file shrank), or `u64::MAX`.
    eof_at: AtomicU64,
    progress: Arc<Progress>,
}

/// Local destination: `dest` itself, or `dest/basename(remote)` when `dest` is a directory.
pub fn local_target(remote_path: &str, dest: &Path) -> Result<PathBuf> {
    if dest.is_dir() {
        let name = super::remote_basename(remote_path)
            .map_err(|e| e.path(remote_path.to_string()))?;
        Ok(dest.join(name))
    } else {
        Ok(dest.to_path_buf())
    }
}

/// Download `remote_path` to `dest` (a file path, or a directory to put it in), replacing
/// an existing destination.
pub async fn download_file(
    opts: &ConnectOptions,
    remote_path: &str,
    dest: &Path,
    topts: &TransferOptions,
    progress: Arc<Progress>,
) -> Result<DownloadReport> {
    download_file_with(opts, remote_path, dest, topts, progress, &OverwriteRule::overwrite()).await
}

/// [`download_file`] with an existing destination handled by `rule`.
pub async fn download_file_with(
    opts: &ConnectOptions,
    remote_path: &str,
    dest: &Path,
    topts: &TransferOptions,
    progress: Arc<Progress>,
    rule: &OverwriteRule,
) -> Result<DownloadReport> {
    let label = opts.label();
    let with_ctx = |e: Error| e.or_host(&label).or_path(remote_path);

    let pool = ChannelPool::open(opts, 1, 1, topts.budget_per_channel()).await.map_err(with_ctx)?;
    // STAT and OPEN go out back to back: one round trip for both.
    let first = pool.first().clone();
    let (attrs, opened) = futures::join!(
        first.stat(remote_path),
        first.open(remote_path, OpenFlags::READ, FileAttrs::default())
    );
    let attrs = attrs.map_err(with_ctx)?;
    if attrs.is_dir() {
        if let Ok(h) = opened {
            let _ = first.close_handle(&h, remote_path).await;
        }
        return Err(Error::new(ErrorKind::WrongType, "download", "this is a directory")
            .host(&label)
            .path(remote_path)
            .hint("use -r to copy a directory"));
    }
    let mut first_handle = Some(opened.map_err(with_ctx)?);
    let size = attrs.size.unwrap_or(0);
    progress.set_total(size);

    let target = local_target(remote_path, dest)?;
    let source = Stamp { size, mtime: attrs.mtime() };
    let rel = super::remote_basename(remote_path).unwrap_or(remote_path).to_string();
    let done = Arc::new(Mutex::new(RangeSet::new()));
    let mut resumed = false;
    let decision = match download_decision(rule, source, &target, &rel).await {
        Ok(d) => d,
        Err(e) => {
            if let Some(h) = first_handle.take() {
                let _ = first.close_handle(&h, remote_path).await;
            }
            // A local path: no host in front of it.
            return Err(e.or_path(&target.display().to_string()));
        }
    };
    let target = match decision {
        Decision::Transfer => target,
        Decision::Skip => {
            if let Some(h) = first_handle.take() {
                let _ = first.close_handle(&h, remote_path).await;
            }
            pool.close().await;
            progress.add(size);
            return Ok(DownloadReport { local_path: target, bytes: 0, skipped: true, retries: 0, resent_bytes: 0 });
        }
        Decision::RenameTo(name) => target.parent().map(Path::to_path_buf).unwrap_or_default().join(name),
        Decision::ResumeFrom(have) => {
            // The shorter local copy becomes the part file; its bytes count as done.
            std::fs::rename(&target, part_path(&target))
                .map_err(|e| Error::local_io("resume download", &target, &e).host(&label))?;
            resume_from(&done, &progress, have);
            resumed = true;
            target
        }
    };
    let part = part_path(&target);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(!resumed)
        .open(&part)
        .map_err(|e| Error::local_io("create local file", &part, &e).host(&label))?;
    let sink = LocalSink::new(file, part.clone());

    let shared = Shared {
        remote_path: remote_path.to_string(),
        done,
        eof_at: AtomicU64::new(u64::MAX),
        progress: progress.clone(),
    };

    let mut attempt = 0u32;
    let mut pool = Some(pool);
    loop {
        let result = match pool.take() {
            Some(mut p) => {
                let r = run_workers(&mut p, first_handle.take(), opts, &shared, &sink, size, topts).await;
                if r.is_ok() {
                    p.close().await;
                } else {
                    // Don't wait on a dead connection's goodbye.
                    drop(p);
                }
                r
            }
            None => Err(Error::network("download", "not connected")),
        };
        match result {
            Ok(()) => break,
            Err(e) if e.is_transient() && attempt < topts.retries => {
                attempt += 1;
                progress.note_retry();
                tracing::info!(attempt, error = %e, "download interrupted; reconnecting");
                tokio::time::sleep(topts.backoff_for(attempt)).await;
                match ChannelPool::open(opts, 1, 1, topts.budget_per_channel()).await {
                    Ok(p) => pool = Some(p),
                    Err(e2) if e2.is_transient() => continue,
                    Err(e2) => return Err(with_ctx(e2)),
                }
            }
            Err(e) => {
                let _ = sink.finish().await;
                return Err(with_ctx(e).hint(format!(
                    "the partial download was kept in {}; run the same command again to retry",
                    part.display()
                )));
            }
        }
    }
    sink.finish().await.map_err(|e| e.host(&label))?;

    let final_size = size.min(shared.eof_at.load(Ordering::Relaxed));
    let missing = shared.done.lock().expect("done poisoned").missing(final_size);
    if !missing.is_empty() {
        return Err(Error::protocol("download", format!("{} byte ranges never arrived", missing.len()))
            .host(&label)
            .path(remote_path));
    }
    finish_local(&part, &target, final_size, &attrs, topts).map_err(|e| e.host(&label))?;
    Ok(DownloadReport {
        local_path: target,
        bytes: final_size,
        skipped: false,
        retries: attempt,
        resent_bytes: progress.resent(),
    })
}


pub(super) fn part_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// Give the complete `.skiffpart` its final length, the source's modification time and
/// permission bits (as `t` says), and rename it over the destination.
pub(super) fn finish_local(part: &Path, target: &Path, size: u64, attrs: &FileAttrs, t: &TransferOptions) -> Result<()> {
    let f = OpenOptions::new().write(true).open(part).map_err(|e| Error::local_io("finish download", part, &e))?;
    f.set_len(size).map_err(|e| Error::local_io("finish download", part, &e))?;
    stamp_local(&f, attrs, t);
    drop(f);
    std::fs::rename(part, target).map_err(|e| Error::local_io("rename into place", target, &e))
}

/// A small file whose whole content is in memory: written to `.skiffpart`, stamped and
/// renamed over the destination with one open (a tree of small files is bound by these
/// system calls).
pub(super) fn write_small_local(part: &Path, target: &Path, data: &[u8], attrs: &FileAttrs, t: &TransferOptions) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(part).map_err(|e| Error::local_io("write local file", part, &e))?;
    f.write_all(data).map_err(|e| Error::local_io("write local file", part, &e))?;
    stamp_local(&f, attrs, t);
    drop(f);
    std::fs::rename(part, target).map_err(|e| Error::local_io("rename into place", target, &e))
}

/// The source's modification time and permission bits on an open local copy, as `t` says.
fn stamp_local(f: &std::fs::File, attrs: &FileAttrs, t: &TransferOptions) {
    if let Some(mtime) = attrs.mtime().filter(|_| t.preserve_mtime) {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(mtime));
        let _ = f.set_times(std::fs::FileTimes::new().set_modified(at));
    }
    if let Some(mode) = attrs.permissions.filter(|_| t.preserve_permissions) {
        use std::os::unix::fs::PermissionsExt;
        // Only the permission bits: never set-uid/set-gid/sticky from a server.
        let _ = f.set_permissions(std::fs::Permissions::from_mode(mode & 0o777));
    }
}


/// Run channel workers until every missing range is fetched. A big file starts on the
/// pool's first channel at once while the other connections and channels open; each joins
/// as soon as it is ready, so setup round trips overlap with the transfer.
async fn run_workers(
    pool: &mut ChannelPool,
    first_handle: Option<Handle>,
    opts: &ConnectOptions,
    shared: &Shared,
    sink: &LocalSink,
    size: u64,
    t: &TransferOptions,
) -> Result<()> {
    let missing = shared.done.lock().expect("done poisoned").missing(size);
    let queue = SegmentQueue::new(missing, t.segment_size);
    let grow = size >= t.multi_channel_threshold && t.channels > 1 && queue.len() > 1;
    // Workers running now; each sizes its share of the in-flight cap from it.
    let active = AtomicU64::new(0);
    let mut extension =
        grow.then(|| Box::pin(pool.extension(opts, t.connections, t.channels, t.budget_per_channel())));
    let mut tasks = FuturesUnordered::new();
    let mut first_handle = first_handle;
    for sess in pool.sessions().iter().take(queue.len().max(1)) {
        active.fetch_add(1, Ordering::Relaxed);
        tasks.push(worker(sess.clone(), first_handle.take(), shared, sink, &queue, t, &active));
    }
    let mut first_err = None;
    while !tasks.is_empty() {
        tokio::select! {
            Some(r) = tasks.next() => {
                if let Err(e) = r {
                    // Keep the first error; the others usually follow from it.
                    first_err.get_or_insert(e);
                }
            }
            more = async { extension.as_mut().expect("guarded").await }, if extension.is_some() => {
                extension = None;
                match more {
                    Ok(more) => {
                        if first_err.is_none() {
                            for sess in more.sessions() {
                                active.fetch_add(1, Ordering::Relaxed);
                                tasks.push(worker(sess.clone(), None, shared, sink, &queue, t, &active));
                            }
                        }
                        pool.absorb(more);
                    }
                    // The first channel carries on alone.
                    Err(e) => tracing::debug!(error = %e, "could not open more channels"),
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One channel's pipeline: take chunks, keep READs in flight, write replies at offsets.
async fn worker(
    sess: SftpSession,
    handle: Option<Handle>,
    shared: &Shared,
    sink: &LocalSink,
    queue: &SegmentQueue,
    t: &TransferOptions,
    active: &AtomicU64,
) -> Result<()> {
    let path = shared.remote_path.as_str();
    let block = t.block_size.unwrap_or(sess.info().limits.max_read_len as u32).clamp(1024, sess.info().limits.max_read_len as u32);
    let handle = match handle {
        Some(h) => h,
        None => sess.open(path, OpenFlags::READ, FileAttrs::default()).await?,
    };
    let requests_cap = u64::from(t.max_requests.max(1)) * u64::from(block);
    let mut steps = DownloadSteps {
        sess: &sess,
        handle: &handle,
        shared,
        sink,
        queue,
        cursor: ChunkCursor::new(block),
        gaps: Vec::new(),
        requests_cap,
        block,
        active,
    };
    let result = run_pipeline(&mut steps, INITIAL_WINDOW_BLOCKS * u64::from(block), &t.throttle).await;
    // Nothing depends on the CLOSE of a read handle: send it and don't wait for the answer.
    let h = handle.0.clone();
    let _ = sess.send(|id| Packet::Close { id, handle: h }).await;
    result
}

/// READs of one channel: which ranges to ask for and where the data goes.
struct DownloadSteps<'a> {
    sess: &'a SftpSession,
    handle: &'a Handle,
    shared: &'a Shared,
    sink: &'a LocalSink,
    queue: &'a SegmentQueue,
    cursor: ChunkCursor,
    /// Tails of short reads, asked for again before new chunks.
    gaps: Vec<(u64, u32)>,
    /// `max_requests` blocks.
    requests_cap: u64,
    block: u32,
    /// Workers running now; each gets its share of [`DOWNLOAD_IN_FLIGHT_CAP`].
    active: &'a AtomicU64,
}

impl PipelineSteps for DownloadSteps<'_> {
    fn next_range(&mut self) -> Option<(u64, u32)> {
        let eof_at = self.shared.eof_at.load(Ordering::Relaxed);
        loop {
            let (off, len) = self.gaps.pop().or_else(|| self.cursor.next(self.queue))?;
            if off < eof_at {
                return Some((off, len));
            }
        }
    }

    async fn send(&mut self, off: u64, len: u32) -> Result<Reply> {
        let h = self.handle.0.clone();
        self.sess.send_with_cost(len, |id| Packet::Read { id, handle: h, offset: off, len }).await
    }

    async fn on_reply(&mut self, off: u64, len: u32, reply: Result<Packet>) -> Result<u64> {
        match reply? {
            Packet::Data { data, .. } => {
                let n = data.len() as u64;
                if n == 0 || n > u64::from(len) {
                    return Err(Error::protocol("read", format!("asked for {len} bytes at {off}, got {n}")));
                }
                deliver(self.shared, self.sink, off, data).await?;
                if n < u64::from(len) {
                    self.gaps.push((off + n, len - n as u32));
                }
                Ok(n)
            }
            Packet::Status { code: StatusCode::Eof, .. } => {
                self.shared.eof_at.fetch_min(off, Ordering::Relaxed);
                Ok(0)
            }
            other => Err(crate::sftp::status_to_result(self.sess, "read", &self.shared.remote_path, other)
                .err()
                .unwrap_or_else(|| Error::protocol("read", "the server answered a READ with OK"))),
        }
    }

    /// The workers share one cap on bytes in flight: it bounds memory (replies can arrive
    /// faster than the disk takes them) and is still ~650 MB/s at 50 ms.
    fn max_window(&self) -> u64 {
        self.requests_cap
            .min(DOWNLOAD_IN_FLIGHT_CAP / self.active.load(Ordering::Relaxed).max(1))
            .max(4 * u64::from(self.block))
    }
}

async fn deliver(shared: &Shared, sink: &LocalSink, off: u64, data: Bytes) -> Result<()> {
    let n = data.len() as u64;
    sink.write(off, data).await?;
    shared.progress.record(&shared.done, off..off + n);
    Ok(())
}

/// Download `remote_path` (of `size` bytes) into the local `part` file on one session,
/// pipelined. Used by tree transfers for their bigger files; the caller renames `part`.
/// `done` survives the caller's retries: a retry fetches only the ranges still missing.
pub(super) async fn download_on_session(
    sess: &SftpSession,
    remote_path: &str,
    part: &Path,
    size: u64,
    t: &TransferOptions,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
) -> Result<u64> {
    let missing = done.lock().expect("done poisoned").missing(size);
    let fresh = done.lock().expect("done poisoned").is_empty();
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(fresh)
        .open(part)
        .map_err(|e| Error::local_io("create local file", part, &e))?;
    let sink = LocalSink::new(file, part.to_path_buf());
    let shared = Shared { remote_path: remote_path.to_string(), done, eof_at: AtomicU64::new(u64::MAX), progress };
    let queue = SegmentQueue::new(missing, u64::MAX);
    let active = AtomicU64::new(1);
    let r = worker(sess.clone(), None, &shared, &sink, &queue, t, &active).await;
    let finished = sink.finish().await;
    r?;
    finished?;
    let final_size = size.min(shared.eof_at.load(Ordering::Relaxed));
    if !shared.done.lock().expect("done poisoned").missing(final_size).is_empty() {
        return Err(Error::protocol("download", "byte ranges never arrived").path(remote_path));
    }
    Ok(final_size)
}
