//! What the two panes of the window show and do: folder listings (local and remote, in
//! batches so a big folder draws at once) and the file operations of a file manager
//! (new folder, rename, delete, permissions), local and over an [`SftpSession`].
//!
//! This module owns turning directory entries into [`DirEntry`] rows and those operations'
//! safety rules: a rename never replaces an existing target; a delete is recursive for
//! folders and never follows a link (the link itself is removed); remote names that could
//! not be a single path component (`..`, `a/b`, NUL, not UTF-8) are skipped, so a hostile
//! listing cannot make the window act on another path. It does not transfer files
//! (`crate::transfer`) or sort rows (the window does). Every error names the operation, the
//! path and, for remote ones, the host, and says what to do.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use futures::stream::{self, StreamExt, TryStreamExt};
use skiff_sftp::attrs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use skiff_sftp::{FileAttrs, NameEntry, Packet, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{status_to_result, SftpSession};
use crate::transfer::{join_remote, safe_remote_name};

/// The first batch of a listing holds at most this many rows, so the window can draw at once.
pub const FIRST_CHUNK: usize = 500;

/// Remote requests kept in flight by one recursive delete or a listing's link checks.
const REMOTE_PARALLEL: usize = 32;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link; [`DirEntry::link_to_dir`] says whether it leads to a folder.
    Link,
    /// A device, socket, FIFO, or a type the server did not say.
    Other,
}

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name. Local names that are not UTF-8 are shown lossily (invalid bytes become
    /// U+FFFD), so such a row cannot be acted on by name; remote ones are skipped instead.
    pub name: String,
    pub kind: EntryKind,
    /// For a link: whether its target is a folder (false when the target is missing).
    pub link_to_dir: bool,
    /// Size in bytes (of the link itself for a link, like `ls -l`).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: Option<i64>,
    /// Permission bits (`mode & 0o7777`), without the file-type bits.
    pub mode: Option<u32>,
}

/// Splits rows into batches: the first at most [`FIRST_CHUNK`] (and `chunk_size`), later
/// ones at most `chunk_size`.
struct Batcher<F: FnMut(Vec<DirEntry>)> {
    buf: Vec<DirEntry>,
    chunk_size: usize,
    first: bool,
    sink: F,
}

impl<F: FnMut(Vec<DirEntry>)> Batcher<F> {
    fn new(chunk_size: usize, sink: F) -> Self {
        Batcher { buf: Vec::new(), chunk_size: chunk_size.max(1), first: true, sink }
    }

    fn limit(&self) -> usize {
        if self.first {
            self.chunk_size.min(FIRST_CHUNK)
        } else {
            self.chunk_size
        }
    }

    fn push(&mut self, e: DirEntry) {
        self.buf.push(e);
        if self.buf.len() >= self.limit() {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.first = false;
            let batch = std::mem::take(&mut self.buf);
            (self.sink)(batch);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Local

/// Blocking (call it in `spawn_blocking`). Lists `dir` (`.` and `..` excluded), calling
/// `chunk` with batches: the first has at most 500 entries, later ones at most `chunk_size`
/// (a `chunk_size` of 0 counts as 1). `chunk` is not called for an empty folder. Returns the
/// canonical absolute path. Names that are not UTF-8 are shown lossily (see
/// [`DirEntry::name`]). Links are [`EntryKind::Link`], with `link_to_dir` from a stat of the
/// target. An entry that vanishes while being listed is left out.
pub fn list_local(dir: &Path, chunk_size: usize, chunk: impl FnMut(Vec<DirEntry>)) -> Result<PathBuf> {
    let op = "list folder";
    let canonical = fs::canonicalize(dir).map_err(|e| Error::local_io(op, dir, &e))?;
    let entries = fs::read_dir(&canonical).map_err(|e| match e.kind() {
        io::ErrorKind::NotADirectory => Error::new(ErrorKind::WrongType, op, "this is a file, not a folder")
            .path(canonical.display().to_string())
            .hint("open its folder instead"),
        _ => Error::local_io(op, &canonical, &e),
    })?;
    let mut out = Batcher::new(chunk_size, chunk);
    for entry in entries {
        let entry = entry.map_err(|e| Error::local_io(op, &canonical, &e))?;
        // lstat: the entry itself, not what a link points to.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::local_io(op, &entry.path(), &e)),
        };
        out.push(local_entry(&entry.path(), entry.file_name().to_string_lossy().into_owned(), &meta));
    }
    out.flush();
    Ok(canonical)
}

fn local_entry(path: &Path, name: String, meta: &fs::Metadata) -> DirEntry {
    let ft = meta.file_type();
    let (kind, link_to_dir) = if ft.is_symlink() {
        (EntryKind::Link, fs::metadata(path).is_ok_and(|m| m.is_dir()))
    } else if ft.is_dir() {
        (EntryKind::Dir, false)
    } else if ft.is_file() {
        (EntryKind::File, false)
    } else {
        (EntryKind::Other, false)
    };
    let mtime = meta.modified().ok().and_then(|t| match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    });
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    DirEntry { name, kind, link_to_dir, size: meta.len(), mtime, mode }
}

/// Create the folder `path` (its parent must exist; an existing one is an error).
pub fn local_mkdir(path: &Path) -> Result<()> {
    fs::create_dir(path).map_err(|e| local_error("create folder", path, &e))
}

/// Rename `from` to `to`, refusing to replace anything already at `to`.
pub fn local_rename(from: &Path, to: &Path) -> Result<()> {
    let op = "rename";
    let exists = |p: &Path| {
        Error::new(ErrorKind::LocalIo, op, format!("{} already exists", p.display()))
            .path(from.display().to_string())
            .hint("choose another name, or delete the other one first")
    };
    match rename_noreplace(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists(to)),
        Err(e) => {
            let mut err = local_error(op, from, &e);
            err.detail = format!("{} (to {})", err.detail, to.display());
            Err(err)
        }
    }
}

/// `rename` that fails with `AlreadyExists` instead of replacing `to`: atomic where the OS
/// offers it (Linux `renameat2(RENAME_NOREPLACE)`), else check then rename.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
        let (f, t) = (c(from)?, c(to)?);
        // SAFETY: both are valid NUL-terminated paths that live across the call.
        let rc = unsafe { libc::renameat2(libc::AT_FDCWD, f.as_ptr(), libc::AT_FDCWD, t.as_ptr(), libc::RENAME_NOREPLACE) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            // The file system or kernel cannot do it atomically: fall through.
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP) => {}
            _ => return Err(e),
        }
    }
    if fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::from(io::ErrorKind::AlreadyExists));
    }
    fs::rename(from, to)
}

/// Delete `path`: a folder with everything in it, a file, or a link (never what it points
/// to).
pub fn local_remove(path: &Path) -> Result<()> {
    let op = "delete";
    if path.parent().is_none() || path.as_os_str().is_empty() {
        return Err(Error::new(ErrorKind::Config, op, "refusing to delete a root folder")
            .path(path.display().to_string())
            .hint("choose the files inside instead"));
    }
    let meta = fs::symlink_metadata(path).map_err(|e| local_error(op, path, &e))?;
    // remove_dir_all never follows links, at the top or inside.
    let r = if meta.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
    r.map_err(|e| local_error(op, path, &e))
}

/// Set the permission bits of `path` to `mode & 0o7777` (follows a link, like `chmod`).
pub fn local_chmod(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| local_error("change permissions", path, &e))
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        Err(Error::new(ErrorKind::Unsupported, "change permissions", "this system has no Unix permissions")
            .path(path.display().to_string()))
    }
}

/// [`Error::local_io`] with hints for a file manager (not for transfers).
fn local_error(op: &str, path: &Path, e: &io::Error) -> Error {
    let err = Error::local_io(op, path, e);
    match e.kind() {
        io::ErrorKind::AlreadyExists => err.hint("choose another name"),
        io::ErrorKind::NotFound => err.hint("it may have been moved or deleted; refresh the folder"),
        io::ErrorKind::PermissionDenied => err.hint("you do not have permission here; check the folder's owner and permissions"),
        io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => err.hint("refresh the folder; the entry changed type"),
        _ => err,
    }
}

// ---------------------------------------------------------------------------------------
// Remote

/// Lists the remote folder `path` (resolved with REALPATH first, so `.` is the login
/// folder), calling `chunk` with batches: the first as soon as the server's first reply
/// is in (at most 500 rows), later ones at most `chunk_size`. Names that
/// [`safe_remote_name`] refuses are skipped (a hostile listing cannot name another path).
/// Links are [`EntryKind::Link`], with `link_to_dir` from a STAT of the target. Returns
/// the resolved absolute path.
pub async fn list_remote(
    sess: &SftpSession,
    path: &str,
    chunk_size: usize,
    chunk: impl FnMut(Vec<DirEntry>) + Send,
) -> Result<String> {
    let op = "list folder";
    let dir = sess.realpath(if path.is_empty() { "." } else { path }).await.map_err(|e| e.op(op))?;
    let mut listing = match sess.read_dir(&dir).await {
        Ok(l) => l,
        Err(e) => return Err(not_a_folder(sess, &dir, e).await.op(op)),
    };
    let mut out = Batcher::new(chunk_size, chunk);
    while let Some(batch) = listing.next_batch().await? {
        let rows = remote_rows(sess, &dir, batch).await;
        for row in rows {
            out.push(row);
        }
        // Draw what the first reply brought at once.
        if out.first {
            out.flush();
        }
    }
    out.flush();
    Ok(dir)
}

/// A failed OPENDIR on a file says "not a folder" instead of the server's answer (OpenSSH
/// says "no such file" for ENOTDIR, others a generic failure).
async fn not_a_folder(sess: &SftpSession, dir: &str, e: Error) -> Error {
    if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Remote | ErrorKind::Unsupported) {
        if let Ok(Some(a)) = sess.try_stat(dir).await {
            if !a.is_dir() && a.permissions.is_some() {
                return Error::new(ErrorKind::WrongType, "list folder", "this is a file, not a folder")
                    .host(sess.host())
                    .path(dir)
                    .hint("open its folder instead");
            }
        }
    }
    e
}

/// Turn one READDIR reply into rows: hostile names skipped, links stat'ed (concurrently).
async fn remote_rows(sess: &SftpSession, dir: &str, batch: Vec<NameEntry>) -> Vec<DirEntry> {
    let rows: Vec<DirEntry> = batch
        .into_iter()
        .filter_map(|e| match safe_remote_name(&e.filename) {
            Ok(name) => Some(remote_entry(name.to_string(), &e.attrs, &e.longname)),
            Err(err) => {
                tracing::warn!(host = sess.host(), dir, error = %err, "hostile directory entry skipped");
                None
            }
        })
        .collect();
    if !rows.iter().any(|r| r.kind == EntryKind::Link) {
        return rows;
    }
    stream::iter(rows)
        .map(|mut row| async move {
            if row.kind == EntryKind::Link {
                row.link_to_dir = matches!(sess.try_stat(&join_remote(dir, &row.name)).await, Ok(Some(a)) if a.is_dir());
            }
            row
        })
        .buffered(REMOTE_PARALLEL)
        .collect()
        .await
}

fn remote_entry(name: String, attrs: &FileAttrs, longname: &[u8]) -> DirEntry {
    let kind = match attrs.permissions.map(|p| p & S_IFMT) {
        Some(S_IFREG) => EntryKind::File,
        Some(S_IFDIR) => EntryKind::Dir,
        Some(S_IFLNK) => EntryKind::Link,
        Some(0) | None => match longname.first() {
            // No type bits: the `ls -l` line's first letter is the next best thing.
            Some(b'-') => EntryKind::File,
            Some(b'd') => EntryKind::Dir,
            Some(b'l') => EntryKind::Link,
            _ => EntryKind::Other,
        },
        Some(_) => EntryKind::Other,
    };
    DirEntry {
        name,
        kind,
        link_to_dir: false,
        size: attrs.size.unwrap_or(0),
        mtime: attrs.mtime().map(i64::from),
        mode: attrs.permissions.map(|p| p & 0o7777),
    }
}

/// Create the remote folder `path`.
pub async fn remote_mkdir(sess: &SftpSession, path: &str) -> Result<()> {
    match sess.mkdir(path, FileAttrs::default()).await {
        Ok(()) => Ok(()),
        Err(e) if e.status == Some(StatusCode::Failure) && sess.try_stat(path).await.is_ok_and(|a| a.is_some()) => {
            Err(Error::new(ErrorKind::Remote, "create folder", "something with this name already exists")
                .host(sess.host())
                .path(path)
                .hint("choose another name"))
        }
        Err(e) => Err(e.op("create folder")),
    }
}

/// Rename `from` to `to` with SFTP RENAME, refusing to replace anything already at `to`
/// (checked first, since not every server refuses by itself).
pub async fn remote_rename(sess: &SftpSession, from: &str, to: &str) -> Result<()> {
    let op = "rename";
    if from.is_empty() || to.is_empty() {
        return Err(Error::new(ErrorKind::Config, op, "an empty path").host(sess.host()).path(from).hint("choose a name"));
    }
    let exists = || {
        Error::new(ErrorKind::Remote, op, format!("{to} already exists"))
            .host(sess.host())
            .path(from)
            .hint("choose another name, or delete the other one first")
    };
    if sess.lstat(to).await.is_ok() {
        return Err(exists());
    }
    let (old, new) = (bytes::Bytes::copy_from_slice(from.as_bytes()), bytes::Bytes::copy_from_slice(to.as_bytes()));
    let reply = sess.call(|id| Packet::Rename { id, old, new }).await?;
    match status_to_result(sess, op, from, reply) {
        Ok(()) => Ok(()),
        // OpenSSH answers a plain FAILURE when the target appeared meanwhile.
        Err(e) if e.status == Some(StatusCode::Failure) && sess.lstat(to).await.is_ok() => Err(exists()),
        Err(mut e) => {
            e.detail = format!("{} (to {to})", e.detail);
            Err(e)
        }
    }
}

/// Delete the remote `path`: a folder with everything in it (files are removed
/// concurrently, folders deepest first), a file, or a link (never what it points to).
pub async fn remote_remove(sess: &SftpSession, path: &str) -> Result<()> {
    let op = "delete";
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." || trimmed == "~" {
        return Err(Error::new(ErrorKind::Config, op, "refusing to delete a root or login folder")
            .host(sess.host())
            .path(path)
            .hint("choose the files inside instead"));
    }
    let top = sess.lstat(path).await.map_err(|e| e.op(op))?;
    if !top.is_dir() {
        return sess.remove(path).await.map_err(|e| e.op(op));
    }
    // Walk breadth-first, deleting non-folders as they are found; a folder is always
    // discovered after its parent, so removing in reverse discovery order goes deepest first.
    let mut dirs = vec![path.to_string()];
    let mut i = 0;
    while i < dirs.len() {
        let dir = dirs[i].clone();
        i += 1;
        let entries = sess.read_dir(&dir).await.map_err(|e| e.op(op))?.collect_all().await.map_err(|e| e.op(op))?;
        let mut files = Vec::new();
        for e in entries {
            let name = safe_remote_name(&e.filename).map_err(|err| {
                Error::new(ErrorKind::Protocol, op, format!("the folder holds an entry that cannot be named safely: {}", err.detail))
                    .host(sess.host())
                    .path(dir.as_str())
                    .hint("delete that entry with another tool; nothing else in the folder was skipped")
            })?;
            let child = join_remote(&dir, name);
            let is_dir = if e.attrs.permissions.is_some() {
                e.attrs.is_dir()
            } else {
                sess.lstat(&child).await.map_err(|e| e.op(op))?.is_dir()
            };
            if is_dir {
                dirs.push(child);
            } else {
                files.push(child);
            }
        }
        stream::iter(files)
            .map(|f| async move { sess.remove(&f).await.map_err(|e| e.op(op)) })
            .buffer_unordered(REMOTE_PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
    }
    for dir in dirs.iter().rev() {
        sess.rmdir(dir).await.map_err(|e| e.op(op))?;
    }
    Ok(())
}

/// Set the permission bits of the remote `path` to `mode & 0o7777`.
pub async fn remote_chmod(sess: &SftpSession, path: &str, mode: u32) -> Result<()> {
    sess.setstat(path, FileAttrs::default().with_permissions(mode & 0o7777))
        .await
        .map_err(|e| e.op("change permissions"))
}

#[cfg(test)]
mod tests;
