//! Confined local writes: every file, folder and link a download creates or replaces is
//! made relative to a directory handle ([`LocalDir`], a `cap-std` [`Dir`]) and never through
//! a symbolic link, whatever the server listed or what already sits in the destination.
//!
//! - A folder is created or opened one name at a time with `O_NOFOLLOW`: a link in the way
//!   (planted locally, or one the server asked for earlier) is an error, never followed.
//! - A temp file (`NAME.skiffpart`, else `NAME.1.skiffpart`, ...) is created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW`: an entry already at that name (a planted link, a hard link
//!   to some other file, a file of the same name from the server) is never written through,
//!   truncated or removed; the next free name is taken instead.
//! - The finished temp file is renamed over the destination name: a link at that name is
//!   replaced, never followed; a folder there is an error.
//! - [`LinkJudge`] decides whether a link the server asked for may be created: by where it
//!   resolves on disk given everything already created, so a chain of individually harmless
//!   links (`up -> ..`, `up2 -> up/..`) cannot climb out of the destination root.
//!
//! This module owns local paths of downloads only; it does no network I/O.

use std::collections::HashSet;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions};
use cap_std::ambient_authority;

use super::plan::Stamp;
use super::PART_SUFFIX;
use crate::error::{Error, ErrorKind, Result};

/// Link hops followed while judging one link (Linux's own limit is 40).
const MAX_LINK_HOPS: u32 = 40;

/// Temp-name candidates tried before giving up.
const MAX_TEMP_CANDIDATES: u32 = 1000;

/// An open local folder of a download: where its entries are created. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: Arc<Dir>,
    /// The folder's path, for messages only (never opened again by name).
    path: PathBuf,
    /// Relative to the destination root, with `/` (empty for the root).
    rel: String,
}

/// What is at a name in a [`LocalDir`], looked at without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalEntry {
    Absent,
    /// A regular file, with the number of names it has (hard links).
    File { stamp: Stamp, links: u64 },
    Dir,
    Link,
    /// A socket, fifo or device.
    Other,
}

impl LocalEntry {
    /// The stamp the overwrite policy compares: a regular file's own; anything else that is
    /// in the way counts as an empty file with no time (replaced by Overwrite, left alone by
    /// Skip, never resumed from).
    pub fn stamp(self) -> Option<Stamp> {
        match self {
            LocalEntry::Absent => None,
            LocalEntry::File { stamp, .. } => Some(stamp),
            _ => Some(Stamp { size: 0, mtime: None }),
        }
    }
}

/// A temp file being written: its name in its folder and the open handle.
#[derive(Debug)]
pub struct TempFile {
    pub name: String,
    pub file: std::fs::File,
}

impl LocalDir {
    /// Open the folder the person chose (`path` itself may be a link: it is theirs).
    pub fn open_root(path: &Path) -> Result<LocalDir> {
        let dir = Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| Error::local_io("open destination folder", path, &e))?;
        Ok(LocalDir { dir: Arc::new(dir), path: path.to_path_buf(), rel: String::new() })
    }

    /// Create the folder the person chose (and its parents) when missing, and open it.
    pub fn create_root(path: &Path) -> Result<LocalDir> {
        std::fs::create_dir_all(path).map_err(|e| Error::local_io("create directory", path, &e))?;
        Self::open_root(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this folder, for messages.
    pub fn child_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn child_rel(&self, name: &str) -> String {
        if self.rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.rel)
        }
    }

    fn io_err(&self, op: &'static str, name: &str, e: &io::Error) -> Error {
        Error::local_io(op, &self.child_path(name), e)
    }

    /// The sub-folder `name`, created when missing. A link or a file at that name is an
    /// error: it is never followed or replaced.
    pub fn subdir(&self, name: &str) -> Result<LocalDir> {
        match self.dir.create_dir(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.io_err("create directory", name, &e)),
        }
        match self.dir.open_dir_nofollow(name) {
            Ok(dir) => Ok(LocalDir { dir: Arc::new(dir), path: self.child_path(name), rel: self.child_rel(name) }),
            Err(e) => Err(match self.entry(name) {
                LocalEntry::Link => Error::new(ErrorKind::WrongType, "create directory", "a symbolic link is in the way; it was not followed")
                    .path(self.child_path(name).display().to_string())
                    .hint("remove or rename the link in the destination folder, then run the transfer again"),
                LocalEntry::File { .. } | LocalEntry::Other => {
                    Error::new(ErrorKind::WrongType, "create directory", "a file with this name is in the way")
                        .path(self.child_path(name).display().to_string())
                        .hint("remove or rename the file in the destination folder, then run the transfer again")
                }
                _ => self.io_err("create directory", name, &e),
            }),
        }
    }

    /// What is at `name`, without following a link.
    pub fn entry(&self, name: &str) -> LocalEntry {
        use cap_std::fs::MetadataExt;
        match self.dir.symlink_metadata(name) {
            Err(_) => LocalEntry::Absent,
            Ok(m) => {
                let ft = m.file_type();
                if ft.is_symlink() {
                    LocalEntry::Link
                } else if ft.is_dir() {
                    LocalEntry::Dir
                } else if ft.is_file() {
                    LocalEntry::File { stamp: Stamp { size: m.len(), mtime: u32::try_from(m.mtime()).ok() }, links: m.nlink() }
                } else {
                    LocalEntry::Other
                }
            }
        }
    }

    /// Whether anything (a link included) is at `name`.
    pub fn taken(&self, name: &str) -> bool {
        self.entry(name) != LocalEntry::Absent
    }

    /// Temp names for `name`: `NAME.skiffpart`, then `NAME.1.skiffpart`, `NAME.2.skiffpart`...
    fn temp_candidates(name: &str) -> impl Iterator<Item = String> + '_ {
        std::iter::once(format!("{name}{PART_SUFFIX}")).chain((1..MAX_TEMP_CANDIDATES).map(move |n| format!("{name}.{n}{PART_SUFFIX}")))
    }

    fn no_temp_name(&self, name: &str) -> Error {
        Error::new(ErrorKind::LocalIo, "create local file", format!("no free temp name beside it after {MAX_TEMP_CANDIDATES} tries"))
            .path(self.child_path(name).display().to_string())
            .hint("remove the leftover .skiffpart files in the destination folder, then run the transfer again")
    }

    /// A new, empty temp file for `name`, created exclusively (never through a link, never
    /// over anything that is already there), with the default permissions (0666 less the
    /// umask) unless the transfer gives it the source's.
    pub fn create_temp(&self, name: &str) -> Result<TempFile> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).follow(FollowSymlinks::No);
        {
            use cap_std::fs::OpenOptionsExt;
            opts.mode(0o666);
        }
        for cand in Self::temp_candidates(name) {
            match self.dir.open_with(&cand, &opts) {
                Ok(f) => return Ok(TempFile { name: cand, file: f.into_std() }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io_err("create local file", &cand, &e)),
            }
        }
        Err(self.no_temp_name(name))
    }

    /// Turn the existing regular file `name` into the temp file of its own resumed download
    /// (the Resume policy): it gets a free temp name (a new hard link, so nothing at that
    /// name is replaced) and loses its own. Refused for anything but a regular file with one
    /// name: a link is never followed and another file's data is never appended to.
    pub fn adopt_for_resume(&self, name: &str) -> Result<TempFile> {
        match self.entry(name) {
            LocalEntry::File { links: 1, .. } => {}
            _ => {
                return Err(Error::new(ErrorKind::WrongType, "resume download", "not a regular file with a single name; it was left alone")
                    .path(self.child_path(name).display().to_string())
                    .hint("choose the overwrite policy to replace it, or remove it"))
            }
        }
        let mut opts = OpenOptions::new();
        opts.write(true).follow(FollowSymlinks::No);
        for cand in Self::temp_candidates(name) {
            match self.dir.hard_link(name, &self.dir, &cand) {
                Ok(()) => {
                    let _ = self.dir.remove_file(name);
                    let file = self.dir.open_with(&cand, &opts).map_err(|e| self.io_err("resume download", &cand, &e))?.into_std();
                    return Ok(TempFile { name: cand, file });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io_err("resume download", name, &e)),
            }
        }
        Err(self.no_temp_name(name))
    }

    /// Open again the temp file `name` a saved partial download names, only when it is the
    /// very file Skiff created (device `dev`, inode `ino`), a regular file with one name,
    /// reached without following a link, and at least `min_len` bytes long.
    pub fn reopen_temp(&self, name: &str, dev: u64, ino: u64, min_len: u64) -> Option<TempFile> {
        use std::os::unix::fs::MetadataExt;
        if !name.ends_with(PART_SUFFIX) || name.contains('/') {
            return None;
        }
        let mut opts = OpenOptions::new();
        opts.write(true).follow(FollowSymlinks::No);
        let file = self.dir.open_with(name, &opts).ok()?.into_std();
        let m = file.metadata().ok()?;
        (m.is_file() && m.nlink() == 1 && m.dev() == dev && m.ino() == ino && m.len() >= min_len)
            .then(|| TempFile { name: name.to_string(), file })
    }

    /// Rename the finished temp file over `name`: a file or link there is replaced (never
    /// followed); a folder there is an error and the temp file is removed.
    pub fn commit(&self, temp: &str, name: &str) -> Result<()> {
        if self.entry(name) == LocalEntry::Dir {
            let _ = self.dir.remove_file(temp);
            return Err(Error::new(ErrorKind::WrongType, "rename into place", "a folder with this name is in the way")
                .path(self.child_path(name).display().to_string())
                .hint("remove or rename the folder in the destination, then run the transfer again"));
        }
        self.dir.rename(temp, &self.dir, name).map_err(|e| self.io_err("rename into place", name, &e))
    }

    /// Remove a temp file this download made.
    pub fn discard(&self, temp: &str) {
        let _ = self.dir.remove_file(temp);
    }

    /// Create the link `name -> target`. With `replace`, a file or link at `name` is replaced
    /// (through a temp link renamed over it, so nothing is removed first); without it, or
    /// when a folder is there, nothing is touched and `Ok(false)` says so.
    pub fn symlink(&self, target: &str, name: &str, replace: bool) -> Result<bool> {
        match self.entry(name) {
            LocalEntry::Absent => {}
            LocalEntry::Dir => return Ok(false),
            _ if !replace => return Ok(false),
            _ => {
                for cand in Self::temp_candidates(name) {
                    match self.dir.symlink(target, &cand) {
                        Ok(()) => {
                            return self.dir.rename(&cand, &self.dir, name).map(|()| true).map_err(|e| {
                                let _ = self.dir.remove_file(&cand);
                                self.io_err("create link", name, &e)
                            })
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(self.io_err("create link", name, &e)),
                    }
                }
                return Err(self.no_temp_name(name));
            }
        }
        match self.dir.symlink(target, name) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.io_err("create link", name, &e)),
        }
    }
}

/// Raise this process's soft limit on open files to its hard limit (once): a tree transfer
/// holds a folder handle per folder with files in flight, and the usual soft limit (1024)
/// is far below the usual hard one.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
            unsafe {
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                    lim.rlim_cur = lim.rlim_max;
                    let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                }
            }
        });
    }
}

/// Judges the links a download recreates, in the order they are created (after every file
/// and folder of the job): a link is accepted only when its target, resolved on disk from
/// the link's folder through everything that exists now (other links included), stays
/// inside the destination root. A path through a folder that does not exist is refused (a
/// later link could be put there); a missing last component is fine (a later link there is
/// judged on its own). A link that would replace a link an accepted one resolved through is
/// refused, so an accepted link cannot be redirected afterwards.
pub struct LinkJudge {
    root: LocalDir,
    /// Links (relative paths) that accepted links resolve through.
    traversed: HashSet<String>,
}

impl LinkJudge {
    pub fn new(root: LocalDir) -> Self {
        LinkJudge { root, traversed: HashSet::new() }
    }

    /// Why a link at `dir`/`name` to `target` may not be created, or `None` when it may.
    pub fn refuse(&mut self, dir: &LocalDir, name: &str, target: &str) -> Option<String> {
        let link_rel = dir.child_rel(name);
        if self.traversed.contains(&link_rel) {
            return Some("it would replace a link that another link of this transfer goes through".into());
        }
        let start: Vec<String> = dir.rel.split('/').filter(|c| !c.is_empty()).map(str::to_string).collect();
        match self.resolve(start, target) {
            Ok(through) => {
                self.traversed.extend(through);
                None
            }
            Err(why) => Some(why),
        }
    }

    /// Walk `target` from the folder `at` (real folders, relative to the root).
    fn resolve(&self, mut at: Vec<String>, target: &str) -> std::result::Result<Vec<String>, String> {
        let mut through = Vec::new();
        let mut hops = 0u32;
        let mut rest: Vec<String> = Vec::new();
        push_components(&mut rest, target)?;
        while let Some(c) = rest.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    if at.pop().is_none() {
                        return Err(format!("it points outside the destination folder ({target})"));
                    }
                    continue;
                }
                _ => {}
            }
            let mut rel = at.join("/");
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(&c);
            match self.root.dir.symlink_metadata(&rel) {
                Err(_) if rest.is_empty() => return Ok(through),
                Err(_) => return Err(format!("it goes through a folder that does not exist ({target})")),
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(format!("too many links on the way ({target})"));
                    }
                    let next = self.root.dir.read_link_contents(&rel).map_err(|e| format!("its path could not be read ({e})"))?;
                    let next = next.to_str().ok_or_else(|| "a link on its way is not valid UTF-8".to_string())?.to_string();
                    push_components(&mut rest, &next)?;
                    through.push(rel);
                }
                Ok(m) if m.file_type().is_dir() => at.push(c),
                Ok(_) if rest.is_empty() => return Ok(through),
                Ok(_) => return Err(format!("it goes through a file as if it were a folder ({target})")),
            }
        }
        Ok(through)
    }
}

/// Push the components of a relative link target onto `stack` so that the first
/// component is popped first.
fn push_components(stack: &mut Vec<String>, target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err("its target is empty".into());
    }
    let mut comps = Vec::new();
    for c in Path::new(target).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return Err(format!("it points to an absolute path ({target})")),
            Component::CurDir => {}
            Component::ParentDir => comps.push("..".to_string()),
            Component::Normal(n) => comps.push(n.to_str().ok_or_else(|| "its target is not valid UTF-8".to_string())?.to_string()),
        }
    }
    stack.extend(comps.into_iter().rev());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn root() -> (tempfile::TempDir, LocalDir) {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("dest")).unwrap();
        let d = LocalDir::open_root(&t.path().join("dest")).unwrap();
        (t, d)
    }

    #[test]
    fn a_chain_of_links_cannot_climb_out() {
        let (_t, root) = root();
        let a = root.subdir("a").unwrap();
        let mut judge = LinkJudge::new(root.clone());
        // `a/up -> ..` is the root itself: inside.
        assert_eq!(judge.refuse(&a, "up", ".."), None);
        assert!(a.symlink("..", "up", false).unwrap());
        // `a/up2 -> up/..` goes root/.. : outside.
        assert!(judge.refuse(&a, "up2", "up/..").is_some());
        // Never created, so `up3 -> up2/..` goes through a folder that does not exist.
        assert!(judge.refuse(&a, "up3", "up2/..").is_some());
        assert!(judge.refuse(&a, "abs", "/etc").is_some());
        assert!(judge.refuse(&a, "deep", "../../x").is_some());
        assert_eq!(judge.refuse(&a, "sib", "../b/file"), Some("it goes through a folder that does not exist (../b/file)".into()));
        assert_eq!(judge.refuse(&a, "dangling", "missing"), None);
    }

    #[test]
    fn an_accepted_link_cannot_be_redirected_later() {
        let (_t, root) = root();
        let a = root.subdir("a").unwrap();
        let b = a.subdir("b").unwrap();
        drop(b);
        let mut judge = LinkJudge::new(root.clone());
        assert_eq!(judge.refuse(&a, "hop", "b"), None);
        a.symlink("b", "hop", false).unwrap();
        assert_eq!(judge.refuse(&root, "x", "a/hop/.."), None);
        // Replacing `a/hop` (now traversed by x) is refused.
        assert!(judge.refuse(&a, "hop", "..").is_some());
    }

    #[test]
    fn temp_files_never_go_through_what_is_there() {
        let (t, root) = root();
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        std::os::unix::fs::symlink(&victim, t.path().join("dest/f.skiffpart")).unwrap();
        std::fs::hard_link(&victim, t.path().join("dest/f.1.skiffpart")).unwrap();
        let mut temp = root.create_temp("f").unwrap();
        assert_eq!(temp.name, "f.2.skiffpart");
        temp.file.write_all(b"new").unwrap();
        root.commit(&temp.name, "f").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert_eq!(std::fs::read(t.path().join("dest/f")).unwrap(), b"new");
    }

    #[test]
    fn folders_and_resumes_refuse_links() {
        let (t, root) = root();
        std::fs::create_dir(t.path().join("victimdir")).unwrap();
        std::os::unix::fs::symlink(t.path().join("victimdir"), t.path().join("dest/sub")).unwrap();
        assert_eq!(root.subdir("sub").unwrap_err().kind, ErrorKind::WrongType);
        std::os::unix::fs::symlink(t.path().join("victimdir"), t.path().join("dest/file")).unwrap();
        assert!(root.adopt_for_resume("file").is_err());
        std::fs::write(t.path().join("dest/part"), b"12345").unwrap();
        let temp = root.adopt_for_resume("part").unwrap();
        assert_eq!(temp.name, "part.skiffpart");
        assert!(!root.taken("part"));
        assert_eq!(temp.file.metadata().unwrap().len(), 5);
    }

    #[test]
    fn links_replace_only_when_asked() {
        let (t, root) = root();
        std::fs::write(t.path().join("dest/f"), b"keep").unwrap();
        assert!(!root.symlink("x", "f", false).unwrap());
        assert_eq!(std::fs::read(t.path().join("dest/f")).unwrap(), b"keep");
        assert!(root.symlink("x", "f", true).unwrap());
        assert_eq!(std::fs::read_link(t.path().join("dest/f")).unwrap(), Path::new("x"));
    }
}
