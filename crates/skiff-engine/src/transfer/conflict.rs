//! Settling the plan of one file whose destination may exist: look at the destination when
//! the [`plan`] asks to (an SFTP STAT for uploads, local metadata for downloads), put the
//! question to the [`Asker`] when it says Ask, and plan again with what was learnt. Shared
//! by tree transfers and single files in both directions, so a single file behaves exactly
//! like a file inside a tree and the decision is made in one place.

use std::sync::Mutex;

use futures::future::BoxFuture;

use super::ask::{resolve_policy, Asker, OverwriteQuestion};
use super::join_remote;
use super::local_dest::{LocalDir, LocalEntry};
use crate::job::PartialRecord;
use super::plan::{nobody_to_ask, numbered, plan, type_conflict, Action, Dest, Entry, Kind, Rules, Source, Stamp};
use super::progress::Progress;
use super::ranges::RangeSet;
use crate::error::{Error, Result};
use crate::sftp::SftpSession;
use crate::job::OverwritePolicy;

/// A job's overwrite policy and who answers its questions (`None`: nobody can, and Ask
/// fails the conflicting file with a hint).
#[derive(Debug, Clone)]
pub struct OverwriteRule {
    pub policy: OverwritePolicy,
    pub asker: Option<Asker>,
}

impl OverwriteRule {
    /// Replace whatever is there (what single-file transfers always did).
    pub fn overwrite() -> Self {
        OverwriteRule { policy: OverwritePolicy::Overwrite, asker: None }
    }
}

/// The action for the file `entry`, whose destination is shown to a person as `shown`:
/// the plan, after looking at the destination (`look`) when it matters and asking `asker`
/// when the policy is Ask (then looking again: the answer may have taken minutes). Only
/// [`Action::Transfer`] and [`Action::Skip`] come back; a type conflict or an Ask nobody
/// can answer is the error. `taken`: whether a name beside the destination is taken.
#[allow(clippy::too_many_arguments)]
pub(super) async fn settle<'l, E: From<Error>>(
    entry: &Entry<'_>,
    partial: Option<&PartialRecord>,
    mut rules: Rules,
    asker: Option<&Asker>,
    shown: &str,
    mut look: impl FnMut() -> BoxFuture<'l, std::result::Result<Dest<'static>, E>>,
    mut taken: impl FnMut(&str) -> bool,
) -> std::result::Result<Action, E> {
    let mut dest = Dest::Unseen;
    loop {
        match plan(entry, dest, partial, rules, &mut taken) {
            Action::Look if dest == Dest::Unseen => dest = look().await?,
            Action::Ask => {
                let Some(asker) = asker else { return Err(nobody_to_ask(entry.name).path(shown).into()) };
                let source = match entry.source {
                    Source::File(s) => s,
                    _ => Stamp { size: 0, mtime: None },
                };
                let existing = match dest {
                    Dest::File(s) => s,
                    _ => Stamp { size: 0, mtime: None },
                };
                let question = || OverwriteQuestion { path: shown.to_string(), rel: entry.rel.to_string(), source, existing };
                rules.policy = resolve_policy(OverwritePolicy::Ask, Some(asker), question).await?;
                dest = look().await?;
            }
            Action::TypeConflict { source, dest } => return Err(type_conflict(source, dest, shown).into()),
            action @ (Action::Transfer { .. } | Action::Skip { .. }) => return Ok(action),
            other => unreachable!("a file is never planned as {other:?}"),
        }
    }
}

/// What is at `name` in the local folder `dir`, as the plan sees it (a link's target is
/// not read: a file source does not compare it).
pub(super) fn local_dest(dir: &LocalDir, name: &str) -> Dest<'static> {
    match dir.entry(name) {
        LocalEntry::Absent => Dest::Missing,
        LocalEntry::File { stamp, .. } => Dest::File(stamp),
        LocalEntry::Dir => Dest::Dir,
        LocalEntry::Link => Dest::Link { target: None },
        LocalEntry::Other => Dest::Other,
    }
}

/// What is at the remote `rpath` (one STAT: a link shows as what it points to).
pub(super) async fn remote_dest(sess: &SftpSession, rpath: &str) -> Result<Dest<'static>> {
    Ok(match sess.try_stat(rpath).await? {
        None => Dest::Missing,
        Some(a) if a.is_dir() => Dest::Dir,
        Some(a) => Dest::File(Stamp { size: a.size.unwrap_or(0), mtime: a.mtime() }),
    })
}

/// The remote folder part of a remote path.
pub(super) fn parent_rel_remote(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| if p.is_empty() { "/" } else { p }).unwrap_or("")
}

/// The remote path a renamed upload of `rpath` goes to: the first `name (n).ext` beside it
/// that the server does not have (a STAT each).
pub(super) async fn remote_free_name(sess: &SftpSession, rpath: &str) -> Result<String> {
    let dir = parent_rel_remote(rpath);
    let name = rpath.rsplit('/').next().unwrap_or(rpath);
    for n in 1u32.. {
        let cand = join_remote(dir, &numbered(name, n));
        if sess.try_stat(&cand).await?.is_none() {
            return Ok(cand);
        }
    }
    unreachable!("u32 names run out")
}

/// The error for a folder where a remote folder should be created (after its MKDIR failed).
pub(super) fn remote_dir_in_the_way(sess: &SftpSession, rpath: &str) -> Error {
    type_conflict(Kind::Dir, Kind::File, rpath).host(sess.host())
}

/// Count the first `have` bytes of a file as already transferred (Resume policy).
pub(super) fn resume_from(done: &Mutex<RangeSet>, progress: &Progress, have: u64) {
    progress.add(done.lock().expect("done poisoned").insert_counting(0..have));
}

/// Whether the remote `rpath` really holds the `have` bytes its size claims, before an
/// upload resumes it from there: its last byte is read back. A server that claims more than
/// it has gets the whole file instead of a resumed one with a hole. (The bytes before are
/// taken as the start of the local file, as `sftp reput` does.)
pub(super) async fn remote_prefix_matches(sess: &SftpSession, rpath: &str, have: u64) -> Result<bool> {
    use skiff_sftp::{FileAttrs, OpenFlags, Packet};
    if have == 0 {
        return Ok(true);
    }
    let handle = sess.open(rpath, OpenFlags::READ, FileAttrs::default()).await?;
    let h = handle.0.clone();
    let reply = sess.call(|id| Packet::Read { id, handle: h, offset: have - 1, len: 1 }).await;
    let _ = sess.close_handle(&handle, rpath).await;
    Ok(matches!(reply?, Packet::Data { data, .. } if data.len() == 1))
}
