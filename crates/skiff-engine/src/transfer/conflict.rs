//! Applying a job's overwrite policy to one file whose destination may exist: look at the
//! destination (an SFTP STAT for uploads, local metadata for downloads), put the question
//! to the [`Asker`] when the policy is Ask, and decide through the pure
//! [`decide`](super::overwrite::decide). Shared by tree transfers and single files, so a
//! single file behaves exactly like a file inside a tree.

use std::sync::Mutex;

use super::ask::{resolve_policy, Asker, OverwriteQuestion};
use super::overwrite::{decide, numbered, Decision, Stamp};
use super::progress::Progress;
use super::ranges::RangeSet;
use super::join_remote;
use super::local_dest::LocalDir;
use crate::error::Result;
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

/// The remote folder part of a remote path.
pub(super) fn parent_rel_remote(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| if p.is_empty() { "/" } else { p }).unwrap_or("")
}

/// Apply the overwrite policy to a remote destination (one STAT, none for "overwrite").
pub(super) async fn remote_decision(sess: &SftpSession, policy: OverwritePolicy, source: Stamp, rpath: &str) -> Result<Decision> {
    if policy == OverwritePolicy::Overwrite {
        return Ok(Decision::Transfer);
    }
    let existing = remote_stamp(sess, rpath).await?;
    let name = rpath.rsplit('/').next().unwrap_or(rpath);
    match decide(policy, source, existing, name, |_| false).map_err(|e| e.host(sess.host()).path(rpath))? {
        Decision::RenameTo(_) => {
            // Find a free name on the server.
            let dir = parent_rel_remote(rpath);
            for n in 1u32.. {
                let cand = numbered(name, n);
                if sess.try_stat(&join_remote(dir, &cand)).await?.is_none() {
                    return Ok(Decision::RenameTo(cand));
                }
            }
            unreachable!("u32 names run out")
        }
        other => Ok(other),
    }
}

/// Size and modification time of the remote file at `rpath`; `None` when there is none.
pub(super) async fn remote_stamp(sess: &SftpSession, rpath: &str) -> Result<Option<Stamp>> {
    Ok(sess.try_stat(rpath).await?.filter(|a| !a.is_dir()).map(|a| Stamp { size: a.size.unwrap_or(0), mtime: a.mtime() }))
}

/// Count the first `have` bytes of a file as already transferred (Resume policy).
pub(super) fn resume_from(done: &Mutex<RangeSet>, progress: &Progress, have: u64) {
    progress.add(done.lock().expect("done poisoned").insert_counting(0..have));
}

/// The decision for an upload of `source` to the remote `rpath` (`rel`: the file as the
/// question names it). With Ask and an asker, an existing destination is asked about first.
pub(super) async fn upload_decision(sess: &SftpSession, rule: &OverwriteRule, source: Stamp, rpath: &str, rel: &str) -> Result<Decision> {
    let policy = match rule.asker.as_ref().filter(|_| rule.policy == OverwritePolicy::Ask) {
        Some(asker) => {
            let Some(existing) = remote_stamp(sess, rpath).await? else { return Ok(Decision::Transfer) };
            let question = || OverwriteQuestion { path: rpath.to_string(), rel: rel.to_string(), source, existing };
            resolve_policy(rule.policy, Some(asker), question).await.map_err(|e| e.or_host(sess.host()).or_path(rpath))?
        }
        None => rule.policy,
    };
    remote_decision(sess, policy, source, rpath).await
}

/// The decision for a download of `source` to `name` in the local folder `dir` (`rel`: the
/// file as the question names it), looking at what is there without following a link. With
/// Ask and an asker, an existing destination is asked about first, and looked at again
/// after the answer (which may have taken minutes).
pub(super) async fn download_decision(rule: &OverwriteRule, source: Stamp, dir: &LocalDir, name: &str, rel: &str) -> Result<Decision> {
    let Some(existing) = dir.entry(name).stamp() else { return Ok(Decision::Transfer) };
    let path = dir.child_path(name).display().to_string();
    let question = || OverwriteQuestion { path: path.clone(), rel: rel.to_string(), source, existing };
    let policy = resolve_policy(rule.policy, rule.asker.as_ref(), question).await?;
    decide(policy, source, dir.entry(name).stamp(), name, |c| dir.taken(c)).map_err(|e| e.path(path.clone()))
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
