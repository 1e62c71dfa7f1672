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

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::{FileAttrs, NameEntry, OpenFlags, Packet, StatusCode};
use tokio::sync::mpsc;

use super::conflict::{local_dest, resume_from, settle};
use super::download::{download_on_session, finish_local, write_small_local};
use super::partial::{Checkpoint, Partials};
use crate::job::PartialRecord;
use super::local_dest::{LinkJudge, LocalDir, TempFile};
use super::options::TransferOptions;
use super::plan::{nobody_to_ask, plan, type_conflict, Action, Dest, Entry, Resume, Rules, SkipReason, Source, Stamp, Target};
use super::progress::Progress;
use super::ranges::RangeSet;
use super::shared_pool::SharedPool;
use super::throttle::Throttle;
use super::tree::{account, blocking, is_fatal, outcome_of, with_retry, Gates, Outcome, TreeOptions, TreeReport};
use super::walk_remote::{list_dir, read_link, rel_of};
use super::{join_remote, remote_basename, safe_remote_name, PART_SUFFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{status_to_result, SftpSession};
use crate::ssh::ConnectOptions;

struct RemoteFile {
    /// Relative to the tree's root, with `/`.
    rel: String,
    rpath: String,
    /// The local folder it goes into, and its own name there.
    dir: LocalDir,
    name: String,
    attrs: FileAttrs,
    /// The destination existed when listed and the policy is Ask with an asker: ask (and
    /// plan again) before moving it.
    ask: bool,
    /// The name it goes to and where its bytes start, as planned.
    to: Target,
    resume: Resume,
}

impl RemoteFile {
    /// The name the file is written to.
    fn target_name(&self) -> &str {
        match &self.to {
            Target::Own => &self.name,
            Target::Renamed(n) => n,
        }
    }

    fn source(&self) -> Stamp {
        Stamp { size: self.attrs.size.unwrap_or(0), mtime: self.attrs.mtime() }
    }
}

/// A remote link whose target is known, created after every file and folder.
struct RemoteLink {
    /// Relative to the tree's root, with `/`.
    rel: String,
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
    let rules = tree.rules(t, true);
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
                        async move { list_dir(&s, &rdir, ldir, &btx).await }.boxed()
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
            files.push(get_task(&pool, tree, t, &gates, progress.clone(), host, rules, f).map(Found::Done).boxed());
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
                        let rel = rel_of(remote_root, &rpath);
                        files.push(async move {
                            let r = with_retry(pool_ref, |s| {
                                let rpath = rpath.clone();
                                async move { read_link(&s, &rpath).await }.boxed()
                            }).await;
                            match r {
                                Ok(target) => Found::Link(RemoteLink { rel, rpath, dir, name, target }),
                                Err(o) => Found::Done(o),
                            }
                        }.boxed());
                    } else if entry.attrs.is_regular() || entry.attrs.permissions.is_none() {
                        let size = entry.attrs.size.unwrap_or(0);
                        progress.add_total(size);
                        progress.add_file_total();
                        let rel = rel_of(remote_root, &rpath);
                        let f = RemoteFile { rel, rpath, dir: ldir.clone(), name, attrs: entry.attrs, ask: false, to: Target::Own, resume: Resume::None };
                        match plan_listed(tree, rules, f, &progress) {
                            Planned::Go(f) if f.name.ends_with(PART_SUFFIX) => part_named.push(f),
                            Planned::Go(f) => pending.push_back(f),
                            Planned::DoneBefore => {}
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
        Ok(()) => finish_tree(&pool, tree, t, &gates, &progress, host, rules, &root, part_named, links, &mut report).await,
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
    rules: Rules,
    root: &LocalDir,
    part_named: Vec<RemoteFile>,
    links: Vec<RemoteLink>,
    report: &mut TreeReport,
) -> Result<()> {
    for f in part_named {
        let outcome = get_task(pool, tree, t, gates, progress.clone(), host, rules, f).await;
        account(report, progress, outcome)?;
    }
    let mut judge = LinkJudge::new(root.clone());
    for link in links {
        let outcome = match make_link(&mut judge, rules, &link) {
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

/// Create one link if the judge lets it and the plan allows replacing what is there;
/// `Ok(false)` when it was left alone.
fn make_link(judge: &mut LinkJudge, rules: Rules, link: &RemoteLink) -> Result<bool> {
    if let Some(why) = judge.refuse(&link.dir, &link.name, &link.target) {
        return Err(Error::new(ErrorKind::Config, "copy link", format!("refused the link {} -> {}: {why}; not created", link.name, link.target))
            .path(&link.rpath)
            .hint("links are recreated only when they stay inside the destination folder; copy what it points to separately if you need it"));
    }
    let shown = || link.dir.child_path(&link.name).display().to_string();
    // A link already there is compared by its target (a continued run finds its own).
    let there = match local_dest(&link.dir, &link.name) {
        Dest::Link { .. } => std::fs::read_link(link.dir.child_path(&link.name)).ok().and_then(|p| p.to_str().map(str::to_string)),
        _ => None,
    };
    let dest = match local_dest(&link.dir, &link.name) {
        Dest::Link { .. } => Dest::Link { target: there.as_deref() },
        other => other,
    };
    let entry = Entry { rel: &link.rel, name: &link.name, source: Source::Link { target: &link.target }, done_before: false };
    match plan(&entry, dest, None, rules, |c| link.dir.taken(c)) {
        Action::Skip { why: SkipReason::SameLink } => Ok(true),
        Action::Skip { .. } => Ok(false),
        Action::Link { to: Target::Own, replace, .. } => link.dir.symlink(&link.target, &link.name, replace),
        Action::Link { to: Target::Renamed(name), .. } => {
            if judge.refuse(&link.dir, &name, &link.target).is_some() {
                return Ok(false);
            }
            link.dir.symlink(&link.target, &name, false)
        }
        Action::RefuseLink { why } => Err(Error::new(ErrorKind::Config, "copy link", format!("{why}; not created"))
            .path(&link.rpath)
            .hint("links are recreated only when they stay inside the destination folder; copy what it points to separately if you need it")),
        Action::TypeConflict { source, dest } => Err(type_conflict(source, dest, &shown())),
        other => unreachable!("a link is never planned as {other:?}"),
    }
}

/// What the plan says about one listed file (the destination looked at only when it
/// matters; a saved partial is read later, off the listing).
enum Planned {
    Go(RemoteFile),
    /// An earlier run finished it: counted as done, not as skipped.
    DoneBefore,
    Skipped,
    Refused(Error),
}

fn plan_listed(tree: &TreeOptions, rules: Rules, mut f: RemoteFile, progress: &Progress) -> Planned {
    let source = f.source();
    let entry = Entry { rel: &f.rel, name: &f.name, source: Source::File(source), done_before: tree.done_before(&f.rel, source.size) };
    let mut action = plan(&entry, Dest::Unseen, None, rules, |c| f.dir.taken(c));
    if action == Action::Look {
        action = plan(&entry, local_dest(&f.dir, &f.name), None, rules, |c| f.dir.taken(c));
    }
    match action {
        Action::Transfer { to, resume } => {
            (f.to, f.resume) = (to, resume);
            Planned::Go(f)
        }
        Action::Skip { why: SkipReason::AlreadyDone } => {
            progress.add(source.size);
            progress.file_done();
            Planned::DoneBefore
        }
        Action::Skip { .. } => {
            progress.add(source.size);
            tree.finished(&f.rel, source.size);
            Planned::Skipped
        }
        // A person may take minutes to answer: the file waits for it in a file slot of its
        // own (see `get_task`), the listing goes on.
        Action::Ask if tree.asker.is_some() => {
            f.ask = true;
            Planned::Go(f)
        }
        Action::Ask => Planned::Refused(nobody_to_ask(&f.name).path(f.rpath.clone())),
        Action::TypeConflict { source, dest } => Planned::Refused(type_conflict(source, dest, &f.dir.child_path(&f.name).display().to_string())),
        other => unreachable!("a file is never planned as {other:?}"),
    }
}

/// One file from its (possible) question to its rename into place, with retries. A bigger
/// file's saved partial is read here (off the listing) and the file planned again with it;
/// so is a file waiting for an answer, which holds only its own slot among
/// `files_in_flight` (acceptable: there are ~1000) and no session, memory or big-file slot,
/// so the rest of the job keeps moving.
#[allow(clippy::too_many_arguments)]
fn get_task<'a>(
    pool: &'a SharedPool,
    tree: &'a TreeOptions,
    t: &'a TransferOptions,
    gates: &'a Gates,
    progress: Arc<Progress>,
    host: &'a str,
    rules: Rules,
    mut f: RemoteFile,
) -> BoxFuture<'a, Outcome> {
    async move {
        let source = f.source();
        let partials = t.partials.clone().filter(|_| source.size > tree.small_file_max);
        let saved: Option<PartialRecord> = match partials.clone() {
            Some(p) => {
                let rel = f.rel.clone();
                blocking("resume download", move || Ok(p.load(&rel))).await.ok().flatten()
            }
            None => None,
        };
        if f.ask || saved.is_some() {
            let entry = Entry { rel: &f.rel, name: &f.name, source: Source::File(source), done_before: false };
            let shown = f.dir.child_path(&f.name).display().to_string();
            let look = || futures::future::ready(Ok::<_, Error>(local_dest(&f.dir, &f.name))).boxed();
            match settle(&entry, saved.as_ref(), rules, tree.asker.as_ref(), &shown, look, |c| f.dir.taken(c)).await {
                Ok(Action::Transfer { to, resume }) => (f.to, f.resume) = (to, resume),
                Ok(_) => {
                    if let (Some(p), Some(rec)) = (partials, saved) {
                        forget_stale(p, f.dir.clone(), f.rel.clone(), rec).await;
                    }
                    progress.add(source.size);
                    tree.finished(&f.rel, source.size);
                    return Outcome::Skipped;
                }
                Err(e) => return outcome_of(e.or_host(host)),
            }
        }
        let done = Arc::new(Mutex::new(RangeSet::new()));
        let temp: Arc<Mutex<Option<TempFile>>> = Arc::new(Mutex::new(None));
        if let (Some(p), Some(rec), false) = (partials.clone(), saved, matches!(f.resume, Resume::Ranges(_))) {
            // Saved for another source, or not for this target: not taken up.
            forget_stale(p, f.dir.clone(), f.rel.clone(), rec).await;
        }
        match &f.resume {
            Resume::FromPrefix(have) => {
                // The shorter local copy becomes the temp file; its bytes count as done.
                let (dir, name) = (f.dir.clone(), f.name.clone());
                match blocking("resume download", move || dir.adopt_for_resume(&name)).await {
                    Ok(part) => *temp.lock().expect("temp poisoned") = Some(part),
                    Err(e) => return outcome_of(e.or_host(host)),
                }
                resume_from(&done, &progress, *have);
            }
            Resume::Ranges(rec) => {
                // An earlier run's temp file of this (bigger) file, still valid: its ranges count as done.
                let (p, dir, rel, rec) = (partials.expect("a saved partial comes from the store"), f.dir.clone(), f.rel.clone(), rec.clone());
                if let Ok(Some((part, ranges))) = blocking("resume download", move || Ok(p.take_up(&rel, &dir, &rec))).await {
                    progress.add(ranges.len());
                    *done.lock().expect("done poisoned") = ranges;
                    *temp.lock().expect("temp poisoned") = Some(part);
                }
            }
            Resume::None => {}
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

/// Drop a saved partial the plan did not take up (off the async threads: the store is a database).
async fn forget_stale(partials: Partials, dir: LocalDir, rel: String, rec: PartialRecord) {
    let _ = blocking("resume download", move || {
        partials.drop_stale(&rel, &dir, &rec);
        Ok(())
    })
    .await;
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
            let (dir, name, attrs, t) = (f.dir.clone(), f.target_name().to_string(), f.attrs.clone(), t.clone());
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
            *slot = Some(f.dir.create_temp(f.target_name())?);
        }
        let part = slot.as_ref().expect("just set");
        let file = part.file.try_clone().map_err(|e| Error::local_io("create local file", &f.dir.child_path(&part.name), &e))?;
        (file, f.dir.child_path(&part.name))
    };
    // Kept between runs only under its own name (not a `name (1)` of this run).
    let checkpoint = |written| {
        let slot = temp.lock().expect("temp poisoned");
        let part = slot.as_ref()?;
        let partials = t.partials.as_ref().filter(|_| f.to == Target::Own)?;
        Checkpoint::start(partials, &f.rel, &part.name, &part.file, f.source(), written)
    };
    let got = download_on_session(sess, &f.rpath, file, &part, size, t, done, progress, checkpoint).await?;
    let Some(part) = temp.lock().expect("temp poisoned").take() else {
        return Err(Error::new(ErrorKind::LocalIo, "finish download", "the temp file went missing").path(part.display().to_string()));
    };
    let (dir, name, attrs, t) = (f.dir.clone(), f.target_name().to_string(), f.attrs.clone(), t.clone());
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
