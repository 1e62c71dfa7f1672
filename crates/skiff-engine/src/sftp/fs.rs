//! File-system operations on an [`SftpSession`]: stat, open, close, rename, remove, mkdir,
//! realpath, streaming READDIR. Each turns a reply into a typed result or an [`Error`] that
//! names the operation, host and path. No transfers here: see `transfer/`.

use bytes::Bytes;
use skiff_sftp::{Extension, FileAttrs, NameEntry, OpenFlags, Packet, StatusCode};

use super::session::SftpSession;
use crate::error::{Error, ErrorKind, Result};

/// An open remote file or directory handle.
#[derive(Debug, Clone)]
pub struct Handle(pub Bytes);

fn unexpected(op: &str, got: &Packet) -> Error {
    let kind = match got {
        Packet::Status { .. } => "STATUS",
        Packet::Handle { .. } => "HANDLE",
        Packet::Data { .. } => "DATA",
        Packet::Name { .. } => "NAME",
        Packet::Attrs { .. } => "ATTRS",
        Packet::ExtendedReply { .. } => "EXTENDED_REPLY",
        _ => "a request packet",
    };
    Error::protocol(op, format!("the server answered with {kind}, which does not fit this request"))
}

/// Turn a STATUS reply into `Ok(())` or an error for `op` on `path`.
pub fn status_to_result(sess: &SftpSession, op: &str, path: &str, reply: Packet) -> Result<()> {
    match reply {
        Packet::Status { code: StatusCode::Ok, .. } => Ok(()),
        Packet::Status { code, message, .. } => {
            Err(Error::from_status(op, code, &message).host(sess.host()).path(path))
        }
        other => Err(unexpected(op, &other).host(sess.host()).path(path)),
    }
}

fn b(path: &str) -> Bytes {
    Bytes::copy_from_slice(path.as_bytes())
}

impl SftpSession {
    fn fail(&self, op: &str, path: &str, reply: Packet) -> Error {
        match status_to_result(self, op, path, reply) {
            Err(e) => e,
            Ok(()) => Error::protocol(op, "the server answered OK where data was expected")
                .host(self.host())
                .path(path),
        }
    }

    pub async fn stat(&self, path: &str) -> Result<FileAttrs> {
        match self.call(|id| Packet::Stat { id, path: b(path) }).await? {
            Packet::Attrs { attrs, .. } => Ok(attrs),
            other => Err(self.fail("stat", path, other)),
        }
    }

    pub async fn lstat(&self, path: &str) -> Result<FileAttrs> {
        match self.call(|id| Packet::Lstat { id, path: b(path) }).await? {
            Packet::Attrs { attrs, .. } => Ok(attrs),
            other => Err(self.fail("lstat", path, other)),
        }
    }

    /// Stat that maps "no such file" to `None`.
    pub async fn try_stat(&self, path: &str) -> Result<Option<FileAttrs>> {
        match self.call(|id| Packet::Stat { id, path: b(path) }).await? {
            Packet::Attrs { attrs, .. } => Ok(Some(attrs)),
            Packet::Status { code: StatusCode::NoSuchFile, .. } => Ok(None),
            other => Err(self.fail("stat", path, other)),
        }
    }

    pub async fn fstat(&self, handle: &Handle, path: &str) -> Result<FileAttrs> {
        let h = handle.0.clone();
        match self.call(|id| Packet::Fstat { id, handle: h }).await? {
            Packet::Attrs { attrs, .. } => Ok(attrs),
            other => Err(self.fail("fstat", path, other)),
        }
    }

    pub async fn open(&self, path: &str, flags: OpenFlags, attrs: FileAttrs) -> Result<Handle> {
        let op = if flags.0 & OpenFlags::WRITE.0 != 0 { "open for writing" } else { "open for reading" };
        match self
            .call(|id| Packet::Open { id, filename: b(path), pflags: flags, attrs })
            .await?
        {
            // A handle lives as long as the file is open: copy it out of the receive buffer,
            // which it would otherwise keep alive whole (64 KiB per open file).
            Packet::Handle { handle, .. } => Ok(Handle(Bytes::copy_from_slice(&handle))),
            other => Err(self.fail(op, path, other)),
        }
    }

    pub async fn close_handle(&self, handle: &Handle, path: &str) -> Result<()> {
        let h = handle.0.clone();
        let reply = self.call(|id| Packet::Close { id, handle: h }).await?;
        status_to_result(self, "close", path, reply)
    }

    pub async fn opendir(&self, path: &str) -> Result<Handle> {
        match self.call(|id| Packet::Opendir { id, path: b(path) }).await? {
            Packet::Handle { handle, .. } => Ok(Handle(Bytes::copy_from_slice(&handle))),
            other => Err(self.fail("list directory", path, other)),
        }
    }

    /// Stream a directory: yields entries per READDIR reply, not after the whole listing.
    pub async fn read_dir(&self, path: &str) -> Result<ReadDir> {
        let handle = self.opendir(path).await?;
        Ok(ReadDir { sess: self.clone(), handle: Some(handle), path: path.to_string(), ahead: Default::default() })
    }

    pub async fn realpath(&self, path: &str) -> Result<String> {
        match self.call(|id| Packet::Realpath { id, path: b(path) }).await? {
            Packet::Name { entries, .. } if !entries.is_empty() => {
                Ok(String::from_utf8_lossy(&entries[0].filename).into_owned())
            }
            other => Err(self.fail("resolve path", path, other)),
        }
    }

    pub async fn remove(&self, path: &str) -> Result<()> {
        let reply = self.call(|id| Packet::Remove { id, filename: b(path) }).await?;
        status_to_result(self, "remove", path, reply)
    }

    pub async fn mkdir(&self, path: &str, attrs: FileAttrs) -> Result<()> {
        let reply = self.call(|id| Packet::Mkdir { id, path: b(path), attrs }).await?;
        status_to_result(self, "create directory", path, reply)
    }

    pub async fn rmdir(&self, path: &str) -> Result<()> {
        let reply = self.call(|id| Packet::Rmdir { id, path: b(path) }).await?;
        status_to_result(self, "remove directory", path, reply)
    }

    pub async fn setstat(&self, path: &str, attrs: FileAttrs) -> Result<()> {
        let reply = self.call(|id| Packet::Setstat { id, path: b(path), attrs }).await?;
        status_to_result(self, "set attributes", path, reply)
    }

    /// Rename `old` to `new`, replacing `new` atomically when the server has
    /// posix-rename@openssh.com; otherwise remove `new` first (not atomic, but never loses
    /// `old`).
    pub async fn rename_replace(&self, old: &str, new: &str) -> Result<()> {
        if self.info().has_extension("posix-rename@openssh.com") {
            let reply = self
                .call(|id| Packet::Extended { id, request: Extension::PosixRename { old: b(old), new: b(new) } })
                .await?;
            return status_to_result(self, "rename", old, reply);
        }
        let reply = self.call(|id| Packet::Rename { id, old: b(old), new: b(new) }).await?;
        match reply {
            Packet::Status { code: StatusCode::Ok, .. } => Ok(()),
            // Classic SFTP v3: RENAME never replaces. Move the destination aside first (a
            // rename too, so nothing is lost), put the new file in place, and only then
            // remove the old one; if the second step fails, the destination goes back.
            failure @ Packet::Status { code: StatusCode::Failure, .. } => {
                let Some(aside) = self.move_aside(new).await? else {
                    // Nothing to move aside: the failure was about something else.
                    return status_to_result(self, "rename", old, failure);
                };
                let reply = self.call(|id| Packet::Rename { id, old: b(old), new: b(new) }).await?;
                match status_to_result(self, "rename", old, reply) {
                    Ok(()) => {
                        if let Err(e) = self.remove(&aside).await {
                            tracing::warn!(error = %e, path = aside, "could not remove the replaced file");
                        }
                        Ok(())
                    }
                    Err(e) => {
                        let back = self.call(|id| Packet::Rename { id, old: b(&aside), new: b(new) }).await;
                        let restored = matches!(back, Ok(Packet::Status { code: StatusCode::Ok, .. }));
                        Err(e.hint(if restored {
                            format!("the server refused to put the new file in place; {new} was left as it was")
                        } else {
                            format!("the server refused to put the new file in place and to restore {new}; its old content is in {aside}")
                        }))
                    }
                }
            }
            other => status_to_result(self, "rename", old, other),
        }
    }

    /// Rename `path` to a free `PATH.skiffold` (or `PATH.N.skiffold`) name beside it, which
    /// the caller removes once the replacement is in place. `None` when `path` is not there.
    async fn move_aside(&self, path: &str) -> Result<Option<String>> {
        if self.try_stat(path).await?.is_none() {
            return Ok(None);
        }
        for n in 0..100u32 {
            let aside = if n == 0 { format!("{path}.skiffold") } else { format!("{path}.{n}.skiffold") };
            if self.try_stat(&aside).await?.is_some() {
                continue;
            }
            let reply = self.call(|id| Packet::Rename { id, old: b(path), new: b(&aside) }).await?;
            if let Packet::Status { code: StatusCode::Ok, .. } = reply {
                return Ok(Some(aside));
            }
            return status_to_result(self, "rename", path, reply).map(|()| None);
        }
        Err(Error::new(ErrorKind::Remote, "rename", "no free name to move the old file aside")
            .host(self.host())
            .path(path)
            .hint("remove the leftover .skiffold files beside it on the server"))
    }

    pub async fn fsync(&self, handle: &Handle, path: &str) -> Result<()> {
        if !self.info().has_extension("fsync@openssh.com") {
            return Ok(());
        }
        let h = handle.0.clone();
        let reply = self.call(|id| Packet::Extended { id, request: Extension::Fsync { handle: h } }).await?;
        status_to_result(self, "fsync", path, reply)
    }
}

/// A directory being listed. Call [`ReadDir::next_batch`] until it returns `None`.
///
/// Two READDIRs are kept in flight, so the one that finds the end of a short directory
/// costs no extra round trip, and the handle's CLOSE is not waited for.
pub struct ReadDir {
    sess: SftpSession,
    handle: Option<Handle>,
    path: String,
    ahead: std::collections::VecDeque<super::Reply>,
}

impl ReadDir {
    async fn request(&mut self) -> Result<()> {
        if let Some(handle) = &self.handle {
            let h = handle.0.clone();
            let reply = self.sess.send(|id| Packet::Readdir { id, handle: h }).await?;
            self.ahead.push_back(reply);
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(handle) = self.handle.take() {
            let sess = self.sess.clone();
            // Nobody waits for the CLOSE of a directory handle.
            tokio::spawn(async move {
                let h = handle.0;
                let _ = sess.send(|id| Packet::Close { id, handle: h }).await;
            });
        }
        self.ahead.clear();
    }

    /// The next batch of entries (one READDIR reply), without `.` and `..`.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<NameEntry>>> {
        if self.handle.is_none() {
            return Ok(None);
        }
        while self.ahead.len() < 2 {
            self.request().await?;
        }
        let reply = self.ahead.pop_front().expect("two requests in flight").await?;
        match reply {
            Packet::Name { entries, .. } => Ok(Some(
                entries
                    .into_iter()
                    .filter(|e| e.filename.as_ref() != b"." && e.filename.as_ref() != b"..")
                    .collect(),
            )),
            Packet::Status { code: StatusCode::Eof, .. } => {
                self.close();
                Ok(None)
            }
            other => {
                self.close();
                Err(self.sess.fail("list directory", &self.path, other))
            }
        }
    }

    /// Read the whole directory.
    pub async fn collect_all(mut self) -> Result<Vec<NameEntry>> {
        let mut all = Vec::new();
        while let Some(batch) = self.next_batch().await? {
            all.extend(batch);
        }
        Ok(all)
    }
}
