//! Downloading one remote file, as fast as the path allows.
//!
//! The file is cut into segments ([`SegmentQueue`]) that channel workers take in turn; each
//! worker keeps a pipeline of READs in flight that starts at a few blocks and doubles per
//! round trip up to `max_requests` blocks. Replies are written at their offsets by the
//! [`LocalSink`] thread, whatever order they arrive in; a short read re-requests the gap.
//! Data lands in `NAME.skiffpart`, renamed over the destination only when complete, so an
//! existing destination is never touched before then. A transient failure rebuilds the
//! connections and fetches only the ranges still missing.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, OpenFlags, Packet, StatusCode};

use super::local_sink::LocalSink;
use super::options::TransferOptions;
use super::pool::ChannelPool;
use super::progress::Progress;
use super::ranges::RangeSet;
use super::segments::{ChunkCursor, SegmentQueue};
use super::PART_SUFFIX;
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::SftpSession;
use crate::ssh::ConnectOptions;

/// Most bytes of READs in flight for one file, over all its channels.
const DOWNLOAD_IN_FLIGHT_CAP: u64 = 32 * 1024 * 1024;

/// What a finished download did.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    pub local_path: PathBuf,
    pub bytes: u64,
    pub retries: u32,
    pub resent_bytes: u64,
}

/// State that survives reconnects.
struct Shared {
    remote_path: String,
    done: Mutex<RangeSet>,
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

/// Download `remote_path` to `dest` (a file path, or a directory to put it in).
pub async fn download_file(
    opts: &ConnectOptions,
    remote_path: &str,
    dest: &Path,
    topts: &TransferOptions,
    progress: Arc<Progress>,
) -> Result<DownloadReport> {
    let label = opts.label();
    let with_ctx = |e: Error| e.or_host(&label).or_path(remote_path);

    let mut pool = ChannelPool::open(opts, 1, 1, budget_for(topts)).await.map_err(with_ctx)?;
    let attrs = pool.first().stat(remote_path).await.map_err(with_ctx)?;
    if attrs.is_dir() {
        return Err(Error::new(ErrorKind::WrongType, "download", "this is a directory")
            .host(&label)
            .path(remote_path)
            .hint("use -r to copy a directory"));
    }
    let size = attrs.size.unwrap_or(0);
    progress.set_total(size);

    let target = local_target(remote_path, dest)?;
    let part = part_path(&target);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&part)
        .map_err(|e| Error::local_io("create local file", &part, &e).host(&label))?;
    let sink = LocalSink::new(file, part.clone());

    let shared = Shared {
        remote_path: remote_path.to_string(),
        done: Mutex::new(RangeSet::new()),
        eof_at: AtomicU64::new(u64::MAX),
        progress: progress.clone(),
    };

    let mut attempt = 0u32;
    let mut pool = Some(pool_for_size(&mut pool, opts, topts, size).await.map(|_| pool).map_err(with_ctx)?);
    loop {
        let result = match pool.take() {
            Some(p) => {
                let r = run_workers(&p, &shared, &sink, size, topts).await;
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
                match reconnect(opts, topts, size).await {
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
    finish_local(&part, &target, final_size, &attrs).map_err(|e| e.host(&label))?;
    Ok(DownloadReport {
        local_path: target,
        bytes: final_size,
        retries: attempt,
        resent_bytes: progress.resent(),
    })
}

fn budget_for(t: &TransferOptions) -> u32 {
    // Enough for the deepest pipeline at the largest block, so the budget never starves it.
    t.max_requests.saturating_mul(t.block_size.unwrap_or(256 * 1024)).max(1024 * 1024)
}

async fn pool_for_size(pool: &mut ChannelPool, opts: &ConnectOptions, t: &TransferOptions, size: u64) -> Result<()> {
    if size >= t.multi_channel_threshold && t.channels > 1 {
        pool.grow(opts, t.connections, t.channels, budget_for(t)).await?;
    }
    Ok(())
}

async fn reconnect(opts: &ConnectOptions, t: &TransferOptions, size: u64) -> Result<ChannelPool> {
    let mut pool = ChannelPool::open(opts, 1, 1, budget_for(t)).await?;
    pool_for_size(&mut pool, opts, t, size).await?;
    Ok(pool)
}

pub(super) fn part_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// Trim, stamp and rename the finished `.skiffpart` over the destination.
fn finish_local(part: &Path, target: &Path, size: u64, attrs: &FileAttrs) -> Result<()> {
    let f = OpenOptions::new().write(true).open(part).map_err(|e| Error::local_io("finish download", part, &e))?;
    f.set_len(size).map_err(|e| Error::local_io("finish download", part, &e))?;
    if let Some(mtime) = attrs.mtime() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(mtime));
        let _ = f.set_times(std::fs::FileTimes::new().set_modified(t));
    }
    drop(f);
    std::fs::rename(part, target).map_err(|e| Error::local_io("rename into place", target, &e))
}

async fn run_workers(pool: &ChannelPool, shared: &Shared, sink: &LocalSink, size: u64, t: &TransferOptions) -> Result<()> {
    let missing = shared.done.lock().expect("done poisoned").missing(size);
    let queue = SegmentQueue::new(missing, t.segment_size);
    let workers = pool.sessions().len().min(queue.len().max(1));
    let mut tasks = FuturesUnordered::new();
    for sess in pool.sessions().iter().take(workers) {
        tasks.push(worker(sess, shared, sink, &queue, t, workers as u64));
    }
    let mut first_err = None;
    while let Some(r) = tasks.next().await {
        if let Err(e) = r {
            // Keep the first error; the others usually follow from it.
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One channel's pipeline: take chunks, keep READs in flight, write replies at offsets.
async fn worker(
    sess: &SftpSession,
    shared: &Shared,
    sink: &LocalSink,
    queue: &SegmentQueue,
    t: &TransferOptions,
    workers: u64,
) -> Result<()> {
    let path = shared.remote_path.as_str();
    let block = t.block_size.unwrap_or(sess.info().limits.max_read_len as u32).clamp(1024, sess.info().limits.max_read_len as u32);
    let handle = sess.open(path, OpenFlags::READ, FileAttrs::default()).await?;
    // The workers share one cap on bytes in flight: it bounds memory (replies can arrive
    // faster than the disk takes them) and is still ~650 MB/s at 50 ms.
    let max_window = (u64::from(t.max_requests.max(1)) * u64::from(block))
        .min(DOWNLOAD_IN_FLIGHT_CAP / workers.max(1))
        .max(4 * u64::from(block));
    let mut window = (4 * u64::from(block)).min(max_window);
    let mut in_flight_bytes = 0u64;
    let mut cursor = ChunkCursor::new(block);
    let mut gaps: Vec<(u64, u32)> = Vec::new();
    let mut inflight = FuturesUnordered::new();
    let mut result = Ok(());

    loop {
        // Fill the pipeline.
        while in_flight_bytes < window {
            let eof_at = shared.eof_at.load(Ordering::Relaxed);
            let next = gaps.pop().or_else(|| cursor.next(queue));
            let Some((off, len)) = next else { break };
            if off >= eof_at {
                continue;
            }
            let h = handle.0.clone();
            let reply = match sess.send_with_cost(len, |id| Packet::Read { id, handle: h, offset: off, len }).await {
                Ok(r) => r,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            in_flight_bytes += u64::from(len);
            inflight.push(async move { (off, len, reply.await) });
        }
        if result.is_err() {
            break;
        }
        let Some((off, len, reply)) = inflight.next().await else { break };
        in_flight_bytes -= u64::from(len);
        match reply {
            Ok(Packet::Data { data, .. }) => {
                let n = data.len() as u64;
                if n == 0 || n > u64::from(len) {
                    result = Err(Error::protocol("read", format!("asked for {len} bytes at {off}, got {n}")));
                    break;
                }
                if let Err(e) = deliver(shared, sink, off, data).await {
                    result = Err(e);
                    break;
                }
                if n < u64::from(len) {
                    gaps.push((off + n, len - n as u32));
                }
                // Slow start: each full reply widens the window by its size (doubling per RTT).
                window = (window + n).min(max_window);
            }
            Ok(Packet::Status { code: StatusCode::Eof, .. }) => {
                shared.eof_at.fetch_min(off, Ordering::Relaxed);
            }
            Ok(other) => {
                result = Err(crate::sftp::status_to_result(sess, "read", path, other)
                    .err()
                    .unwrap_or_else(|| Error::protocol("read", "the server answered a READ with OK")));
                break;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        sess.close_handle(&handle, path).await?;
    }
    result
}

async fn deliver(shared: &Shared, sink: &LocalSink, off: u64, data: Bytes) -> Result<()> {
    let n = data.len() as u64;
    sink.write(off, data).await?;
    let newly = {
        let mut done = shared.done.lock().expect("done poisoned");
        let before = done.len();
        done.insert(off..off + n);
        done.len() - before
    };
    shared.progress.add(newly);
    shared.progress.add_resent(n - newly);
    Ok(())
}
