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
//!
//! The server's size is a claim, not a fact: it plans the segments (cut lazily, so a claim
//! of 2^62 bytes costs nothing), but the file is read until the server says EOF. When the
//! planned ranges are done one probe READ past them tells whether the file is longer (then
//! reading goes on, one block after the other, until EOF); an EOF before the claimed size
//! ends the file there. Local writes go through [`LocalDir`]: the temp file is created
//! exclusively beside the destination and never through a link.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, OpenFlags, Packet, StatusCode};

use super::conflict::{local_dest, resume_from, settle, OverwriteRule};
use super::local_dest::{LocalDir, TempFile};
use super::local_sink::LocalSink;
use super::options::TransferOptions;
use super::partial::Checkpoint;
use super::plan::{Action, Entry, Resume, Rules, Source, Stamp, Target};
use super::pipeline::{run_pipeline, PipelineSteps};
use super::pool::ChannelPool;
use super::progress::Progress;
use super::ranges::RangeSet;
use super::segments::{ChunkCursor, SegmentQueue};
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
    /// Smallest offset at which the server said EOF, or `u64::MAX` while unknown.
    eof_at: AtomicU64,
    progress: Arc<Progress>,
    /// Reading past the planned size, until EOF.
    tail: Tail,
}

impl Shared {
    fn new(remote_path: &str, done: Arc<Mutex<RangeSet>>, progress: Arc<Progress>, planned: u64) -> Self {
        Shared { remote_path: remote_path.to_string(), done, eof_at: AtomicU64::new(u64::MAX), progress, tail: Tail::new(planned) }
    }

    /// What is still to fetch up to where reading got (past the planned size when the file
    /// grew); reading past it goes on from there. Called before each (re)start of the
    /// workers, so requests lost with a dropped connection are asked for again.
    fn missing(&self) -> Vec<std::ops::Range<u64>> {
        let end = self.tail.restart().min(self.eof_at.load(Ordering::Relaxed));
        self.done.lock().expect("done poisoned").missing(end)
    }

    /// Where the file ended, once every byte before it is here; an error when the server
    /// never said where it ends or a range before it never arrived.
    fn final_size(&self) -> Result<u64> {
        let eof_at = self.eof_at.load(Ordering::Relaxed);
        if eof_at == u64::MAX {
            return Err(Error::protocol("download", "the server never said where the file ends (no EOF)").path(&self.remote_path));
        }
        let missing = self.done.lock().expect("done poisoned").missing(eof_at);
        if !missing.is_empty() {
            return Err(Error::protocol("download", format!("{} byte ranges before the end never arrived", missing.len())).path(&self.remote_path));
        }
        Ok(eof_at)
    }
}

/// The part of a file past its planned (claimed) size: first one probe READ at the planned
/// end; when it brings data the file is longer than claimed and blocks are asked for one
/// after the other until EOF.
struct Tail {
    planned: u64,
    next: AtomicU64,
    probe_sent: AtomicBool,
    grown: AtomicBool,
}

impl Tail {
    fn new(planned: u64) -> Self {
        Tail { planned, next: AtomicU64::new(planned), probe_sent: AtomicBool::new(false), grown: AtomicBool::new(false) }
    }

    /// The next range past the planned size, if one should be asked for now.
    fn next(&self, eof_at: u64, block: u32) -> Option<(u64, u32)> {
        if eof_at != u64::MAX {
            return None;
        }
        if !self.grown.load(Ordering::Relaxed) && self.probe_sent.swap(true, Ordering::Relaxed) {
            return None;
        }
        let off = self.next.fetch_add(u64::from(block), Ordering::Relaxed);
        Some((off, block))
    }

    /// Where reading got: the planned size, or further when the file grew. Reading past it
    /// starts again from there.
    fn restart(&self) -> u64 {
        let reached = self.next.load(Ordering::Relaxed).max(self.planned);
        self.next.store(reached, Ordering::Relaxed);
        if !self.grown.load(Ordering::Relaxed) {
            self.probe_sent.store(false, Ordering::Relaxed);
        }
        reached
    }

    /// Data arrived at `off`.
    fn saw_data(&self, off: u64) {
        if off >= self.planned {
            self.grown.store(true, Ordering::Relaxed);
        }
    }
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

/// The local folder (opened) and name a single-file download of `remote_path` goes to.
fn local_slot(remote_path: &str, dest: &Path) -> Result<(LocalDir, String)> {
    if dest.is_dir() {
        let name = super::remote_basename(remote_path).map_err(|e| e.path(remote_path.to_string()))?;
        return Ok((LocalDir::open_root(dest)?, name.to_string()));
    }
    let name = dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::new(ErrorKind::Config, "download", "the destination is not a file name").path(dest.display().to_string())
    })?;
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((LocalDir::open_root(parent)?, name.to_string()))
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
    // A claim: it plans the work, and reading goes on until EOF whatever it said.
    let size = attrs.size.unwrap_or(0);
    progress.set_total(size);

    let close_first = |first_handle: &mut Option<Handle>| {
        let h = first_handle.take();
        let first = first.clone();
        async move {
            if let Some(h) = h {
                let _ = first.close_handle(&h, remote_path).await;
            }
        }
    };
    let (dir, mut name) = match local_slot(remote_path, dest) {
        Ok(slot) => slot,
        Err(e) => {
            close_first(&mut first_handle).await;
            return Err(e.host(&label));
        }
    };
    let source = Stamp { size, mtime: attrs.mtime() };
    let rel = super::remote_basename(remote_path).unwrap_or(remote_path).to_string();
    let entry_name = name.clone();
    let done = Arc::new(Mutex::new(RangeSet::new()));
    let partials = topts.partials.as_ref();
    let saved = partials.and_then(|p| p.load(remote_path));
    let entry = Entry { rel: &rel, name: &name, source: Source::File(source), done_before: false };
    let rules = Rules { policy: rule.policy, continued: false, cheap_look: true };
    let shown = dir.child_path(&name).display().to_string();
    let look = || futures::future::ready(Ok::<_, Error>(local_dest(&dir, &name))).boxed();
    let action = match settle(&entry, saved.as_ref(), rules, rule.asker.as_ref(), &shown, look, |c| dir.taken(c)).await {
        Ok(a) => a,
        Err(e) => {
            close_first(&mut first_handle).await;
            // A local path: no host in front of it.
            return Err(e.or_path(&shown));
        }
    };
    let Action::Transfer { to, resume } = action else {
        if let (Some(p), Some(rec)) = (partials, &saved) {
            p.drop_stale(remote_path, &dir, rec);
        }
        close_first(&mut first_handle).await;
        pool.close().await;
        progress.add(size);
        return Ok(DownloadReport { local_path: dir.child_path(&name), bytes: 0, skipped: true, retries: 0, resent_bytes: 0 });
    };
    if let (Some(p), Some(rec), false) = (partials, &saved, matches!(resume, Resume::Ranges(_))) {
        p.drop_stale(remote_path, &dir, rec);
    }
    if let Target::Renamed(n) = to {
        name = n;
    }
    // Kept between runs only under its own name (not a `name (1)` of this run).
    let partials = partials.filter(|_| name == entry_name);
    let temp = match resume {
        Resume::FromPrefix(have) => dir.adopt_for_resume(&name).inspect(|_| {
            // The shorter local copy became the part file; its bytes count as done.
            resume_from(&done, &progress, have);
        }),
        // An earlier run's temp file, still valid: its ranges count as done.
        Resume::Ranges(rec) => match partials.and_then(|p| p.take_up(remote_path, &dir, &rec)) {
            Some((temp, ranges)) => {
                progress.add(ranges.len());
                *done.lock().expect("done poisoned") = ranges;
                Ok(temp)
            }
            None => dir.create_temp(&name),
        },
        Resume::None => dir.create_temp(&name),
    };
    let temp = match temp {
        Ok(t) => t,
        Err(e) => {
            close_first(&mut first_handle).await;
            return Err(e.host(&label));
        }
    };
    let target = dir.child_path(&name);
    let part = dir.child_path(&temp.name);
    let already = done.lock().expect("done poisoned").clone();
    let sink = LocalSink::new(temp.file.try_clone().map_err(|e| Error::local_io("create local file", &part, &e).host(&label))?, part.clone(), already);
    let checkpoint = partials.and_then(|p| Checkpoint::start(p, remote_path, &temp.name, &temp.file, source, sink.written()));

    let shared = Shared::new(remote_path, done, progress.clone(), size);

    let retries = topts.retries();
    let mut reconnects = 0u32;
    let mut pool = Some(pool);
    loop {
        let result = match pool.take() {
            Some(mut p) => {
                let r = run_workers(&mut p, first_handle.take(), opts, &shared, &sink, topts).await;
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
            Err(e) if e.wants_reconnect() && let Some(attempt) = retries.take() => {
                reconnects += 1;
                progress.note_retry();
                tracing::info!(attempt = attempt.number, error = %e, "download interrupted; reconnecting");
                tokio::time::sleep(attempt.wait).await;
                match ChannelPool::open(opts, 1, 1, topts.budget_per_channel()).await {
                    Ok(p) => pool = Some(p),
                    Err(e2) if e2.wants_reconnect() => continue,
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
    drop(checkpoint);

    let final_size = shared.final_size().map_err(|e| e.host(&label))?;
    finish_local(&dir, temp, &name, final_size, &attrs, topts).map_err(|e| e.host(&label))?;
    if let Some(p) = partials {
        p.forget(remote_path);
    }
    Ok(DownloadReport {
        local_path: target,
        bytes: final_size,
        skipped: false,
        retries: reconnects,
        resent_bytes: progress.resent(),
    })
}

/// Give the complete temp file its final length, the source's modification time and
/// permission bits (as `t` says), and rename it over `name` in `dir`.
pub(super) fn finish_local(dir: &LocalDir, temp: TempFile, name: &str, size: u64, attrs: &FileAttrs, t: &TransferOptions) -> Result<()> {
    let part = dir.child_path(&temp.name);
    temp.file.set_len(size).map_err(|e| Error::local_io("finish download", &part, &e))?;
    stamp_local(&temp.file, attrs, t);
    drop(temp.file);
    dir.commit(&temp.name, name)
}

/// A small file whose whole content is in memory: written to a new temp file, stamped and
/// renamed over `name` with one open (a tree of small files is bound by these system calls).
pub(super) fn write_small_local(dir: &LocalDir, name: &str, data: &[u8], attrs: &FileAttrs, t: &TransferOptions) -> Result<()> {
    use std::io::Write;
    let mut temp = dir.create_temp(name)?;
    if let Err(e) = temp.file.write_all(data) {
        dir.discard(&temp.name);
        return Err(Error::local_io("write local file", &dir.child_path(&temp.name), &e));
    }
    stamp_local(&temp.file, attrs, t);
    drop(temp.file);
    dir.commit(&temp.name, name)
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
    t: &TransferOptions,
) -> Result<()> {
    let size = shared.tail.planned;
    let queue = SegmentQueue::new(shared.missing(), t.segment_size);
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
    // Whatever the server's limit (down to 1 byte), never above it.
    let max = u32::try_from(sess.info().limits.max_read_len).unwrap_or(u32::MAX).max(1);
    let block = t.block_size.unwrap_or(max).clamp(1, max);
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
        while let Some((off, len)) = self.gaps.pop() {
            if off < eof_at {
                return Some((off, len));
            }
        }
        if let Some((off, len)) = self.cursor.next(self.queue) {
            if off < eof_at {
                return Some((off, len));
            }
            // The file ends before this: nothing planned after it is asked for.
            self.cursor.clear();
            self.queue.truncate(eof_at);
        }
        self.shared.tail.next(eof_at, self.block)
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
                self.shared.tail.saw_data(off);
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

/// Download `remote_path` (claimed to be `size` bytes) into the open temp file `file` (at
/// `part`, for messages) on one session, pipelined, until EOF. Used by tree transfers for
/// their bigger files; the caller renames the temp file. `done` survives the caller's
/// retries: a retry fetches only the ranges still missing. Returns where the file ended.
#[allow(clippy::too_many_arguments)]
pub(super) async fn download_on_session(
    sess: &SftpSession,
    remote_path: &str,
    file: std::fs::File,
    part: &Path,
    size: u64,
    t: &TransferOptions,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
    checkpoint: impl FnOnce(Arc<Mutex<RangeSet>>) -> Option<Checkpoint>,
) -> Result<u64> {
    let already = done.lock().expect("done poisoned").clone();
    let sink = LocalSink::new(file, part.to_path_buf(), already);
    let _checkpoint = checkpoint(sink.written());
    let shared = Shared::new(remote_path, done, progress, size);
    let queue = SegmentQueue::new(shared.missing(), u64::MAX);
    let active = AtomicU64::new(1);
    let r = worker(sess.clone(), None, &shared, &sink, &queue, t, &active).await;
    let finished = sink.finish().await;
    r?;
    finished?;
    shared.final_size()
}
