//! Walking a local tree for an upload: a thread reads folders depth-first (parents before
//! children) and yields [`WalkEntry`]s on a bounded channel ([`LocalWalk`]) that any
//! consumer (the tree upload, a sync later) takes in at its own pace. Every folder is opened
//! relative to its parent's handle without following a link, so the walk never leaves the
//! tree, whatever is swapped in while it runs; a file is later opened relative to its
//! folder's handle and only if it is still the file the walk saw ([`WalkedFile`]).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::{Error, ErrorKind, Result};

/// Entries waiting between the walking thread and the consumer.
const WALK_BACKLOG: usize = 8192;

/// One entry of the walk; `rel` is relative to the root, with `/`.
pub(super) enum WalkEntry {
    Dir { rel: String },
    File { rel: String, file: WalkedFile, size: u64, mtime: u32, mode: u32 },
    Link { rel: String, target: String },
    Refused(Error),
}

/// A regular file as the walk saw it: opened later relative to its folder's handle,
/// without following a link, and only if it is still the same file (device and inode), so
/// a swap between the walk and the upload cannot send something else.
pub(super) struct WalkedFile {
    dir: Arc<cap_std::fs::Dir>,
    name: String,
    /// For messages.
    pub(super) path: PathBuf,
    id: (u64, u64),
}

impl WalkedFile {
    pub(super) fn open(&self) -> Result<File> {
        use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
        let mut opts = cap_std::fs::OpenOptions::new();
        opts.read(true).follow(FollowSymlinks::No);
        let file = self.dir.open_with(&self.name, &opts).map_err(|e| Error::local_io("upload", &self.path, &e))?.into_std();
        let meta = file.metadata().map_err(|e| Error::local_io("upload", &self.path, &e))?;
        if !meta.is_file() || (meta.dev(), meta.ino()) != self.id {
            return Err(Error::new(ErrorKind::LocalIo, "upload", "the file was replaced while the folder was being read; not sent")
                .path(self.path.display().to_string())
                .hint("run the transfer again once nothing else is changing the folder"));
        }
        Ok(file)
    }
}

/// A folder still to read: its parent's handle and its name there.
type FolderAt = (Arc<cap_std::fs::Dir>, String);

/// Walk `root` depth-first on the calling (blocking) thread; parents come before children.
/// Every folder is opened relative to its parent's handle without following a link, so the
/// walk never leaves the tree, whatever is swapped in while it runs.
fn walk(root: &Path, tx: &mpsc::Sender<WalkEntry>) {
    use cap_fs_ext::DirExt;
    use cap_std::fs::{MetadataExt as _, PermissionsExt as _};
    let refuse = |e: Error| {
        let _ = tx.blocking_send(WalkEntry::Refused(e));
    };
    let root_dir = match cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority()) {
        Ok(d) => d,
        Err(e) => return refuse(Error::local_io("list directory", root, &e)),
    };
    // Folders still to read, as (parent, name): opened only when their turn comes, so a
    // wide tree does not hold a descriptor per folder.
    let root_dir = Arc::new(root_dir);
    let mut stack: Vec<(Option<FolderAt>, PathBuf, String)> = vec![(None, root.to_path_buf(), String::new())];
    while let Some((at, dir_path, rel)) = stack.pop() {
        let dir = match at {
            None => root_dir.clone(),
            Some((parent, name)) => match parent.open_dir_nofollow(&name) {
                Ok(d) => Arc::new(d),
                Err(e) => {
                    refuse(Error::local_io("list directory", &dir_path, &e));
                    continue;
                }
            },
        };
        let rd = match dir.entries() {
            Ok(rd) => rd,
            Err(e) => {
                refuse(Error::local_io("list directory", &dir_path, &e));
                continue;
            }
        };
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    refuse(Error::local_io("list directory", &dir_path, &e));
                    continue;
                }
            };
            let file_name = entry.file_name();
            let path = dir_path.join(&file_name);
            let Some(name) = file_name.to_str().map(str::to_string) else {
                refuse(Error::new(ErrorKind::LocalIo, "upload", "the name is not valid UTF-8; skipped").path(path.display().to_string()));
                continue;
            };
            let child_rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    refuse(Error::local_io("upload", &path, &e));
                    continue;
                }
            };
            let ft = meta.file_type();
            let msg = if ft.is_dir() {
                stack.push((Some((dir.clone(), name)), path, child_rel.clone()));
                WalkEntry::Dir { rel: child_rel }
            } else if ft.is_file() {
                WalkEntry::File {
                    rel: child_rel,
                    file: WalkedFile { dir: dir.clone(), name, path, id: (meta.dev(), meta.ino()) },
                    size: meta.len(),
                    mtime: meta.mtime().clamp(0, i64::from(u32::MAX)) as u32,
                    mode: meta.permissions().mode() & 0o7777,
                }
            } else if ft.is_symlink() {
                match dir.read_link_contents(&name).ok().and_then(|t| t.to_str().map(str::to_string)) {
                    Some(target) => WalkEntry::Link { rel: child_rel, target },
                    None => continue,
                }
            } else {
                continue; // sockets, fifos, devices: not copied
            };
            if tx.blocking_send(msg).is_err() {
                return;
            }
        }
    }
}

/// A walk in progress: entries arrive with [`LocalWalk::next`]; [`LocalWalk::close`] stops
/// the thread (early or at the end) and waits for it.
pub(super) struct LocalWalk {
    rx: mpsc::Receiver<WalkEntry>,
    thread: std::thread::JoinHandle<()>,
}

impl LocalWalk {
    /// Start walking `root` on a thread of its own.
    pub(super) fn start(root: &Path) -> Result<LocalWalk> {
        let (tx, rx) = mpsc::channel::<WalkEntry>(WALK_BACKLOG);
        let (root, shown) = (root.to_path_buf(), root.display().to_string());
        let thread = std::thread::Builder::new()
            .name("skiff-walk".into())
            .spawn(move || walk(&root, &tx))
            .map_err(|e| Error::new(ErrorKind::LocalIo, "walk folder", format!("could not start the walking thread: {e}")).path(shown))?;
        Ok(LocalWalk { rx, thread })
    }

    /// The next entry; `None` once the whole tree was walked.
    pub(super) async fn next(&mut self) -> Option<WalkEntry> {
        self.rx.recv().await
    }

    /// Stop the walk (the thread ends at its next entry) and wait for the thread.
    pub(super) async fn close(self) {
        let LocalWalk { rx, thread } = self;
        drop(rx);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}
