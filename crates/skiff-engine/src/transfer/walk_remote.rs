//! Walking a remote tree for a download: one folder's listing streamed READDIR reply by
//! READDIR reply to whoever plans its entries ([`list_dir`]), and the target of a remote
//! link ([`read_link`]). The caller decides how many folders are listed at once and what
//! each batch is planned into (`tree_download` keeps several READDIRs in flight across
//! folders and starts files while the listing goes on).

use bytes::Bytes;
use skiff_sftp::{NameEntry, Packet};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::sftp::{status_to_result, SftpSession};

/// One READDIR reply of the folder `rdir`, with the caller's `tag` for that folder.
pub(super) type Batch<T> = (String, T, Vec<NameEntry>);

/// List the remote folder `rdir`, sending each READDIR reply down `tx` as it arrives (the
/// names are the server's, unchecked: see [`safe_remote_name`](super::safe_remote_name)).
/// A receiver that went away ends the listing quietly.
pub(super) async fn list_dir<T: Clone>(sess: &SftpSession, rdir: &str, tag: T, tx: &mpsc::Sender<Batch<T>>) -> Result<()> {
    let mut rd = sess.read_dir(rdir).await?;
    while let Some(batch) = rd.next_batch().await? {
        if tx.send((rdir.to_string(), tag.clone(), batch)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The path of `rpath` relative to the tree's root `root`, with `/`.
pub(super) fn rel_of(root: &str, rpath: &str) -> String {
    rpath.strip_prefix(root).unwrap_or(rpath).trim_start_matches('/').to_string()
}

/// The target of the remote link at `rpath`.
pub(super) async fn read_link(sess: &SftpSession, rpath: &str) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_under_the_root() {
        assert_eq!(rel_of("/srv/tree", "/srv/tree/a/b"), "a/b");
        assert_eq!(rel_of("/srv/tree/", "/srv/tree/a"), "a");
        assert_eq!(rel_of("tree", "tree/x"), "x");
    }
}
