//! Moving bytes: pipelined single-file download and upload over one or more channels and
//! connections, with `.skiffpart` staging and resume after a dropped connection.
//!
//! # Layout
//! - `options`: [`TransferOptions`], the knobs and their defaults.
//! - `pool`: [`ChannelPool`], the SFTP sessions a transfer runs on.
//! - `segments`: [`SegmentQueue`] / [`ChunkCursor`], how a file is shared among channels.
//! - `ranges`: [`RangeSet`], what is done (out-of-order safe).
//! - `local_sink`: the thread that writes downloaded blocks at their offsets.
//! - `download`, `upload`: the two directions, each with its retry loop.
//! - `pipeline`: the request window one channel keeps full, shared by both directions.
//! - `progress`: [`Progress`] counters for whoever displays them.
//! - `plan`: the pure plan of one entry ([`plan()`] → [`Action`]): overwrite policies, own
//!   copies, files done before, saved partials, links, type conflicts, mirror deletions.
//! - `walk_local`: the local walker (a stream of entries) uploads consume;
//!   `walk_remote`: listing remote folders and reading remote links for downloads.
//! - `partial`: [`Partials`], the ranges of unfinished transfers kept between runs.
//! - `conflict`: settling the plan of one file (look at the destination, ask, plan again),
//!   for tree files and single files alike.
//! - `ask`: the "ask" policy: [`Asker`] puts overwrite questions to the front end.
//! - `accounting`: speed (soft-start moving average), ETA and coalesced snapshots of them.
//! - `tree`, `shared_pool`: whole directory trees, many files at once over shared channels,
//!   executing the plan of each entry as the walk yields it; `tree_download`: the download
//!   direction of a tree.
//! - `local_dest`: confined local writes of downloads (folder handles, exclusive temp
//!   files, no link ever followed) and the judge of the links a download recreates.
//! - `throttle`: [`Throttle`] / [`RateLimit`], speed limits every READ and WRITE obeys.

mod accounting;
mod ask;
mod conflict;
mod download;
mod local_dest;
mod local_sink;
mod options;
mod partial;
mod pipeline;
mod plan;
mod pool;
mod progress;
mod ranges;
mod segments;
mod shared_pool;
mod throttle;
mod tree;
mod tree_download;
mod upload;
mod walk_local;
mod walk_remote;

pub use accounting::{Accountant, JobSnapshot, Snapshot, SpeedMeter};
pub use ask::{Asker, OverwriteAnswer, OverwriteChoice, OverwriteQuestion, OverwriteRequest};
pub use conflict::OverwriteRule;
pub use download::{download_file, download_file_with, local_target, DownloadReport};
pub use options::TransferOptions;
pub use partial::Partials;
pub use plan::{link_stays_inside, plan, plan_deletions, Action, Dest, Entry, Kind, Resume, Rules, SkipReason, Source, Stamp, Target};
pub use pool::ChannelPool;
pub use progress::Progress;
pub use ranges::RangeSet;
pub use segments::{ChunkCursor, SegmentQueue};
pub use shared_pool::SharedPool;
pub use throttle::{RateLimit, Throttle};
pub use tree::{upload_tree, TreeOptions, TreeReport};
pub use tree_download::download_tree;
pub use upload::{remote_target, upload_file, upload_file_with, UploadReport};

use crate::error::{Error, ErrorKind, Result};

/// Suffix of a file that is still being transferred.
pub const PART_SUFFIX: &str = ".skiffpart";

/// Check that a name that came from the server is safe to use as one local path component:
/// not empty, not `.` or `..`, no `/` and no NUL. Anything else is refused before it
/// becomes a path.
pub fn safe_remote_name(name: &[u8]) -> Result<&str> {
    let refuse = |why: &str| {
        Err(Error::new(ErrorKind::Protocol, "check remote name", format!("refused the name {:?}: {why}", String::from_utf8_lossy(name)))
            .hint("the server sent a name that cannot be a local file name; the entry was skipped"))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name == b"." || name == b".." {
        return refuse("it names a directory itself");
    }
    if name.contains(&b'/') {
        return refuse("it contains '/'");
    }
    if name.contains(&0) {
        return refuse("it contains NUL");
    }
    std::str::from_utf8(name).or_else(|_| refuse("it is not valid UTF-8"))
}

/// The last component of a remote path, checked with [`safe_remote_name`].
pub fn remote_basename(path: &str) -> Result<&str> {
    let trimmed = path.trim_end_matches('/');
    let name = trimmed.rsplit('/').next().unwrap_or(trimmed);
    safe_remote_name(name.as_bytes())
}

/// Join a remote directory and a name with exactly one `/`.
pub fn join_remote(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"/etc", b"x\0y"] {
            assert!(safe_remote_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(safe_remote_name(b"-rf me\nnow").unwrap(), "-rf me\nnow");
        assert_eq!(safe_remote_name("ünï".as_bytes()).unwrap(), "ünï");
    }

    #[test]
    fn basename_and_join() {
        assert_eq!(remote_basename("/srv/a/file.txt").unwrap(), "file.txt");
        assert_eq!(remote_basename("dir/").unwrap(), "dir");
        assert!(remote_basename("/srv/..").is_err());
        assert_eq!(join_remote("/srv/", "x"), "/srv/x");
        assert_eq!(join_remote("/srv", "x"), "/srv/x");
        assert_eq!(join_remote("", "x"), "x");
    }
}
