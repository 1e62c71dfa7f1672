//! Downloading a whole remote tree: several READDIRs in flight across directories, files
//! moving while the listing goes on, every local write confined to the destination root.
//!
//! Order of work, so that nothing the server lists can redirect a later write:
//! 1. Folders are created (or opened) one name at a time without following links, and
//!    their files are downloaded through handles of those folders ([`LocalDir`]): a link
//!    already in the destination, or one the server listed, is never written through.
//! 2. Files whose own name ends in `.skiffpart` come after all the others, one at a time,
//!    so no file's temp file can be renamed over while another file is using it (`x` and
//!    `x.skiffpart` both arrive intact).
//! 3. Links come last, judged by [`LinkJudge`] on where they resolve given everything
//!    already created; no write of the job follows them.
//!
//! The server's sizes are claims: small files take one burst of READs plus one past the
//! claimed end (a file that is longer than claimed, or has no size at all, takes the
//! careful path and is read until EOF).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, NameEntry, OpenFlags, Packet, StatusCode};
use tokio::sync::mpsc;

use super::conflict::{download_decision, resume_from, OverwriteRule};
use super::download::{download_on_session, finish_local, write_small_local};
use super::partial::Checkpoint;
use super::local_dest::{LinkJudge, LocalDir, LocalEntry, TempFile};
use super::options::TransferOptions;
use super::overwrite::{decide, Decision, Stamp};
use super::progress::Progress;
use super::ranges::RangeSet;
use super::shared_pool::SharedPool;
use super::throttle::Throttle;
use super::tree::{account, blocking, is_fatal, outcome_of, with_retry, Gates, Outcome, TreeOptions, TreeReport};
use super::{join_remote, remote_basename, safe_remote_name, PART_SUFFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{status_to_result, SftpSession};
use crate::ssh::ConnectOptions;
use crate::job::OverwritePolicy;

struct RemoteFile {
    /// Relative to the tree's root, with `/`.
    rel: String,
    rpath: String,
    /// The local folder it goes into, and its name there.
    dir: LocalDir,
    name: String,
    attrs: FileAttrs,
    /// The destination existed when listed and the policy is Ask with an asker: ask before
    /// moving it.
    ask: bool,
    /// The destination holds this many first bytes of the file already (the Resume policy).
    resume_from: u64,
}

/// A remote link whose target is known, created after every file and folder.
struct RemoteLink {
    rpath: String,
    dir: LocalDir,
    name: String,
    target: String,
}

/// What a listing-time task produced.
enum Found {
    Done(Outcome),
    Link(RemoteLink),
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
    let root = if local_dest.is_dir() && !tree.exact_root {
        let name = remote_basename(remote_root).unwrap_or("download");
        let name = if name.is_empty() || name == "." { "download" } else { name };
        LocalDir::open_root(local_dest)?.subdir(name)
    } else {
        LocalDir::create_root(local_dest)
    }
    .map_err(ctx)?;
    if let Some(tx) = &tree.on_roots {
        let _ = tx.send((root.path().to_path_buf(), remote_root.to_string()));
    }

    // Files in flight hold their folders open.
    super::local_dest::raise_open_files_limit();
    let gates = Gates::new(tree);
    let mut report = TreeReport::default();
    let (btx, mut brx) = mpsc::channel::<(String, LocalDir, Vec<NameEntry>)>(256);
    // Folders waiting to be listed, as (remote path, parent, name): each is opened again
    // (without following a link) only when its turn comes, so a tree of many thousands of
    // folders does not hold a descriptor for each.
    let mut dir_queue: VecDeque<(String, Option<(LocalDir, String)>)> = VecDeque::from([(remote_root.to_string(), None)]);
    let mut listings: FuturesUnordered<BoxFuture<'_, Outcome>> = FuturesUnordered::new();
    let mut files: FuturesUnordered<BoxFuture<'_, Found>> = FuturesUnordered::new();
    let mut pending: VecDeque<RemoteFile> = VecDeque::new();
    let mut part_named: Vec<RemoteFile> = Vec::new();
    let mut links: Vec<RemoteLink> = Vec::new();
    let host = label.as_str();

    let result: Result<()> = loop {
        while listings.len() < tree.dirs_in_flight {
            let Some((rdir, at)) = dir_queue.pop_front() else { break };
            let ldir = match at {
                None => root.clone(),
                Some((parent, name)) => match parent.subdir(&name) {
                    Ok(d) => d,
                    Err(e) => {
                        progress.file_failed();
                        report.errors.push(e.host(&label));
                        continue;
                    }
                },
            };
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
                    match r {
                        Ok(()) => Outcome::Dir,
                        Err(o) => o,
                    }
                }
                .boxed(),
            );
        }
        while files.len() < tree.files_in_flight {
            let Some(f) = pending.pop_front() else { break };
            files.push(get_task(&pool, tree, t, &gates, progress.clone(), host, f).map(Found::Done).boxed());
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
                    if entry.attrs.is_dir() {
                        match ldir.subdir(&name) {
                            Ok(_) => dir_queue.push_back((rpath, Some((ldir.clone(), name)))),
                            Err(e) if is_fatal(&e) => {
                                fatal = Some(e);
                                break;
                            }
                            Err(e) => {
                                // Its entries are not listed: nothing goes into a folder that
                                // could not be made safely.
                                progress.file_failed();
                                report.errors.push(e.host(&label));
                            }
                        }
                    } else if entry.attrs.is_symlink() {
                        let (pool_ref, dir) = (&pool, ldir.clone());
                        files.push(async move {
                            let r = with_retry(pool_ref, |s| {
                                let rpath = rpath.clone();
                                async move { read_link(&s, &rpath).await }.boxed()
                            }).await;
                            match r {
                                Ok(target) => Found::Link(RemoteLink { rpath, dir, name, target }),
                                Err(o) => Found::Done(o),
                            }
                        }.boxed());
                    } else if entry.attrs.is_regular() || entry.attrs.permissions.is_none() {
                        let size = entry.attrs.size.unwrap_or(0);
                        progress.add_total(size);
                        progress.add_file_total();
                        let rel = rpath.strip_prefix(remote_root).unwrap_or(&rpath).trim_start_matches('/').to_string();
                        if tree.skip(&rel, size, &progress) {
                            continue;
                        }
                        let f = RemoteFile { rel, rpath, dir: ldir.clone(), name, attrs: entry.attrs, ask: false, resume_from: 0 };
                        match plan_file(tree, t, f, &progress) {
                            Planned::Go(f) if f.name.ends_with(PART_SUFFIX) => part_named.push(f),
                            Planned::Go(f) => pending.push_back(f),
                            Planned::Skipped => files.push(futures::future::ready(Found::Done(Outcome::Skipped)).boxed()),
                            Planned::Refused(e) => {
                                progress.file_failed();
                                report.errors.push(e.host(&label));
                            }
                        }
                    }
                }
                if let Some(e) = fatal {
                    break Err(e);
                }
            }
            Some(found) = files.next() => {
                match found {
                    Found::Link(link) => links.push(link),
                    Found::Done(outcome) => if let Err(e) = account(&mut report, &progress, outcome) { break Err(e); },
                }
            }
            else => break Ok(()),
        }
    };
    drop(files);
    drop(listings);
    let result = match result {
        Ok(()) => finish_tree(&pool, tree, t, &gates, &progress, host, &root, part_named, links, &mut report).await,
        Err(e) => Err(e),
    };
    report.reconnects = pool.reconnects();
    pool.close().await;
    result.map_err(ctx)?;
    Ok(report)
}

/// After every other file: the files named `*.skiffpart`, one at a time, then the links.
#[allow(clippy::too_many_arguments)]
async fn finish_tree(
    pool: &SharedPool,
    tree: &TreeOptions,
    t: &TransferOptions,
    gates: &Gates,
    progress: &Arc<Progress>,
    host: &str,
    root: &LocalDir,
    part_named: Vec<RemoteFile>,
    links: Vec<RemoteLink>,
    report: &mut TreeReport,
) -> Result<()> {
    for f in part_named {
        let outcome = get_task(pool, tree, t, gates, progress.clone(), host, f).await;
        account(report, progress, outcome)?;
    }
    let mut judge = LinkJudge::new(root.clone());
    for link in links {
        let outcome = match make_link(&mut judge, tree, &link) {
            Ok(true) => Outcome::Link,
            Ok(false) => {
                tracing::info!(path = %link.dir.child_path(&link.name).display(), "link left alone: something is there");
                Outcome::Skipped
            }
            Err(e) => outcome_of(e.or_host(host).or_path(&link.rpath)),
        };
        account(report, progress, outcome)?;
    }
    Ok(())
}

/// Create one link if the judge lets it and the overwrite policy allows replacing what is
/// there; `Ok(false)` when it was left alone.
fn make_link(judge: &mut LinkJudge, tree: &TreeOptions, link: &RemoteLink) -> Result<bool> {
    if let Some(why) = judge.refuse(&link.dir, &link.name, &link.target) {
        return Err(Error::new(ErrorKind::Config, "copy link", format!("refused the link {} -> {}: {why}; not created", link.name, link.target))
            .path(&link.rpath)
            .hint("links are recreated only when they stay inside the destination folder; copy what it points to separately if you need it"));
    }
    let existing = link.dir.entry(&link.name);
    if existing == LocalEntry::Link {
        // The same link again (a continued run): nothing to do.
        if std::fs::read_link(link.dir.child_path(&link.name)).ok().and_then(|p| p.to_str().map(str::to_string)).as_deref() == Some(&link.target) {
            return Ok(true);
        }
    }
    match (existing, tree.overwrite) {
        (LocalEntry::Absent, _) => link.dir.symlink(&link.target, &link.name, false),
        (LocalEntry::Dir, _) => Err(Error::new(ErrorKind::WrongType, "copy link", "a folder with this name is in the way; the link was not created")
            .path(link.dir.child_path(&link.name).display().to_string())
            .hint("remove or rename the folder in the destination, then run the transfer again")),
        (_, OverwritePolicy::Overwrite) => link.dir.symlink(&link.target, &link.name, true),
        (_, OverwritePolicy::Rename) => {
            let name = super::overwrite::free_name(&link.name, &mut |c| link.dir.taken(c));
            if judge.refuse(&link.dir, &name, &link.target).is_some() {
                return Ok(false);
            }
            link.dir.symlink(&link.target, &name, false)
        }
        // Every other policy leaves what is there alone: a link has no size or time to
        // compare, and it must never destroy a local file it was not asked to replace.
        _ => Ok(false),
    }
}

/// What the overwrite policy says about one listed file.
enum Planned {
    Go(RemoteFile),
    Skipped,
    Refused(Error),
}

fn plan_file(tree: &TreeOptions, t: &TransferOptions, mut f: RemoteFile, progress: &Progress) -> Planned {
    let size = f.attrs.size.unwrap_or(0);
    let existing = f.dir.entry(&f.name).stamp();
    let source = Stamp { size, mtime: f.attrs.mtime() };
    if tree.own_copy(t, source, existing) {
        progress.add(size);
        tree.finished(&f.rel, size);
        return Planned::Skipped;
    }
    if existing.is_some() && tree.overwrite == OverwritePolicy::Ask && tree.asker.is_some() {
        // A person may take minutes to answer: the file waits for it in a file slot of its
        // own (see `ask_download`), the listing goes on.
        f.ask = true;
        return Planned::Go(f);
    }
    match decide(tree.overwrite, source, existing, &f.name, |c| f.dir.taken(c)) {
        Ok(Decision::Transfer) => Planned::Go(f),
        Ok(Decision::RenameTo(n)) => {
            f.name = n;
            Planned::Go(f)
        }
        Ok(Decision::ResumeFrom(have)) => {
            f.resume_from = have;
            Planned::Go(f)
        }
        Ok(Decision::Skip) => {
            progress.add(size);
            tree.finished(&f.rel, size);
            Planned::Skipped
        }
        Err(e) => Planned::Refused(e.path(f.rpath.clone())),
    }
}

/// One file from its (possible) question to its rename into place, with retries.
fn get_task<'a>(
    pool: &'a SharedPool,
    tree: &'a TreeOptions,
    t: &'a TransferOptions,
    gates: &'a Gates,
    progress: Arc<Progress>,
    host: &'a str,
    f: RemoteFile,
) -> BoxFuture<'a, Outcome> {
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
        let temp: Arc<Mutex<Option<TempFile>>> = Arc::new(Mutex::new(None));
        if f.resume_from > 0 {
            // The shorter local copy becomes the temp file; its bytes count as done.
            let (dir, name) = (f.dir.clone(), f.name.clone());
            match blocking("resume download", move || dir.adopt_for_resume(&name)).await {
                Ok(part) => *temp.lock().expect("temp poisoned") = Some(part),
                Err(e) => return outcome_of(e.or_host(host)),
            }
            resume_from(&done, &progress, f.resume_from);
        } else if let Some(partials) = t.partials.clone().filter(|_| f.attrs.size.unwrap_or(0) > tree.small_file_max) {
            // An earlier run's temp file of this (bigger) file, still valid: its ranges count as done.
            let (dir, rel, source) = (f.dir.clone(), f.rel.clone(), Stamp { size: f.attrs.size.unwrap_or(0), mtime: f.attrs.mtime() });
            if let Ok(Some((part, ranges))) = blocking("resume download", move || Ok(partials.take_up(&rel, &dir, source))).await {
                progress.add(ranges.len());
                *done.lock().expect("done poisoned") = ranges;
                *temp.lock().expect("temp poisoned") = Some(part);
            }
        }
        let r = with_retry(pool, |s| {
            let (f, progress, done, temp) = (&f, progress.clone(), done.clone(), temp.clone());
            async move { get_file(&s, f, tree.small_file_max, t, gates, done, progress, temp).await }.boxed()
        })
        .await;
        match r {
            Ok(n) => {
                tree.finished(&f.rel, f.attrs.size.unwrap_or(n));
                Outcome::File(n)
            }
            Err(o) => {
                // A failed file leaves nothing behind.
                if let Some(part) = temp.lock().expect("temp poisoned").take() {
                    f.dir.discard(&part.name);
                    if let Some(p) = &t.partials {
                        p.forget(&f.rel);
                    }
                }
                match o {
                    Outcome::Failed(e) => Outcome::Failed(e.or_host(host).or_path(&f.rpath)),
                    Outcome::Fatal(e) => Outcome::Fatal(e.or_host(host).or_path(&f.rpath)),
                    other => other,
                }
            }
        }
    }
    .boxed()
}

/// Ask about one download whose destination existed when listed, and apply the answer: the
/// file with the name it goes to, or `None` when it is left alone. The waiting file holds
/// only its own slot among `files_in_flight` (acceptable: there are ~1000) and no session,
/// memory or big-file slot, so the rest of the job keeps moving.
async fn ask_download(tree: &TreeOptions, mut f: RemoteFile) -> Result<Option<RemoteFile>> {
    let source = Stamp { size: f.attrs.size.unwrap_or(0), mtime: f.attrs.mtime() };
    let rule = OverwriteRule { policy: tree.overwrite, asker: tree.asker.clone() };
    match download_decision(&rule, source, &f.dir, &f.name, &f.rel).await? {
        Decision::Transfer => Ok(Some(f)),
        Decision::RenameTo(n) => {
            f.name = n;
            Ok(Some(f))
        }
        Decision::ResumeFrom(have) => {
            f.resume_from = have;
            Ok(Some(f))
        }
        Decision::Skip => Ok(None),
    }
}

/// Download one file of a tree (through a temp file beside it). `temp` holds the temp file
/// of the careful path across retries.
#[allow(clippy::too_many_arguments)]
async fn get_file(
    sess: &SftpSession,
    f: &RemoteFile,
    small_max: u64,
    t: &TransferOptions,
    gates: &Gates,
    done: Arc<Mutex<RangeSet>>,
    progress: Arc<Progress>,
    temp: Arc<Mutex<Option<TempFile>>>,
) -> Result<u64> {
    let size = f.attrs.size.unwrap_or(0);
    // A file with ranges already done (resumed) takes the careful path, whatever its size.
    let fresh = done.lock().expect("done poisoned").is_empty() && temp.lock().expect("temp poisoned").is_none();
    if size <= small_max && fresh {
        let _memory = gates.memory.acquire(size as u32).await;
        if let Some(data) = get_small(sess, &f.rpath, size, &t.throttle).await? {
            let n = data.len() as u64;
            let (dir, name, attrs, t) = (f.dir.clone(), f.name.clone(), f.attrs.clone(), t.clone());
            blocking("write local file", move || write_small_local(&dir, &name, &data, &attrs, &t)).await?;
            progress.add(n);
            return Ok(n);
        }
        // A short read, or the file is longer than it said: the careful path.
    }
    let _slot = gates.big.acquire().await.expect("gate never closed");
    let (file, part) = {
        let mut slot = temp.lock().expect("temp poisoned");
        if slot.is_none() {
            *slot = Some(f.dir.create_temp(&f.name)?);
        }
        let part = slot.as_ref().expect("just set");
        let file = part.file.try_clone().map_err(|e| Error::local_io("create local file", &f.dir.child_path(&part.name), &e))?;
        (file, f.dir.child_path(&part.name))
    };
    let checkpoint = |written| {
        let slot = temp.lock().expect("temp poisoned");
        let part = slot.as_ref()?;
        let source = Stamp { size, mtime: f.attrs.mtime() };
        Checkpoint::start(t.partials.as_ref()?, &f.rel, &part.name, &part.file, source, written)
    };
    let got = download_on_session(sess, &f.rpath, file, &part, size, t, done, progress, checkpoint).await?;
    let Some(part) = temp.lock().expect("temp poisoned").take() else {
        return Err(Error::new(ErrorKind::LocalIo, "finish download", "the temp file went missing").path(part.display().to_string()));
    };
    let (dir, name, attrs, t) = (f.dir.clone(), f.name.clone(), f.attrs.clone(), t.clone());
    let rel = f.rel.clone();
    blocking("finish download", move || {
        finish_local(&dir, part, &name, got, &attrs, &t)?;
        if let Some(p) = &t.partials {
            p.forget(&rel);
        }
        Ok(())
    })
    .await?;
    Ok(got)
}

/// OPEN, then every READ, one READ past the claimed end, and the CLOSE back to back.
/// `None` when a read came back short or the file goes on past its claimed size (the
/// careful path then reads it until EOF).
async fn get_small(sess: &SftpSession, rpath: &str, size: u64, throttle: &Throttle) -> Result<Option<Vec<u8>>> {
    let handle = sess.open(rpath, OpenFlags::READ, FileAttrs::default()).await?;
    let block = sess.info().limits.max_read_len.max(1);
    let mut replies = Vec::new();
    let mut off = 0u64;
    while off < size {
        let len = (size - off).min(block) as u32;
        throttle.take(u64::from(len)).await;
        let h = handle.0.clone();
        replies.push((off, len, sess.send_with_cost(len, |id| Packet::Read { id, handle: h, offset: off, len }).await?));
        off += u64::from(len);
    }
    // Past the claimed end: EOF confirms the size.
    let h = handle.0.clone();
    let probe = sess.send_with_cost(1, |id| Packet::Read { id, handle: h, offset: size, len: 1 }).await?;
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
    let longer = match probe.await? {
        Packet::Status { code: StatusCode::Eof, .. } => false,
        Packet::Data { .. } => true,
        other => {
            let _ = close.await;
            return Err(status_to_result(sess, "read", rpath, other)
                .err()
                .unwrap_or_else(|| Error::protocol("read", "unexpected reply").path(rpath)));
        }
    };
    let _ = close.await;
    if short || (longer && eof_at.is_none()) {
        return Ok(None);
    }
    Ok(Some(data))
}

/// The target of the remote link at `rpath`.
async fn read_link(sess: &SftpSession, rpath: &str) -> Result<String> {
    let p = Bytes::from(rpath.to_string());
    match sess.call(|id| Packet::Readlink { id, path: p }).await? {
        Packet::Name { entries, .. } if !entries.is_empty() => match std::str::from_utf8(&entries[0].filename) {
            Ok(s) if !s.contains('\0') => Ok(s.to_string()),
            _ => Err(Error::protocol("read link", "the link's target is not valid UTF-8 or contains NUL; not copied").path(rpath)),
        },
        other => Err(status_to_result(sess, "read link", rpath, other)
            .err()
            .unwrap_or_else(|| Error::protocol("read link", "empty answer").path(rpath))),
    }
}
