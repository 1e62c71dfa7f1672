//! The hostile server's session loop: [`serve`]/[`serve_cases`] read framed requests, and
//! `Server` answers each one from the real filesystem, except where the chosen
//! [`Case`]s make it misbehave (the per-request handlers live here, with the open handles).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use skiff_sftp::ext::{FSYNC, LIMITS, POSIX_RENAME};
use skiff_sftp::{Extension, FileAttrs, Limits, NameEntry, OpenFlags, Packet, StatusCode};

use super::*;
use super::{fsops::*, paths::*, replies::*};

pub(super) enum Handle {
    File(File),
    Dir {
        entries: Vec<NameEntry>,
        next: usize,
    },
    Fake,
}

/// What the server does before it sends one reply.
pub(super) struct Reply {
    packet: Option<Packet>,
    /// Flush everything before and wait this long first.
    pause: Duration,
}

/// Serve one SFTP session from `input` to `output` until EOF. `start_dir`
/// resolves relative paths. Returns `Ok` on a clean EOF.
pub fn serve(input: &mut impl Read, output: &mut impl Write, start_dir: &Path) -> io::Result<()> {
    serve_cases(input, output, start_dir, Cases::default())
}

/// [`serve`] with the misbehaviours in `cases`.
pub fn serve_cases(
    input: &mut impl Read,
    output: &mut impl Write,
    start_dir: &Path,
    cases: Cases,
) -> io::Result<()> {
    let mut server = Server {
        start: start_dir.to_path_buf(),
        handles: HashMap::new(),
        next_handle: 1,
        cases,
        removed: HashSet::new(),
    };
    let mut inbuf = BytesMut::with_capacity(512 * 1024);
    let mut outbuf = BytesMut::with_capacity(512 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        loop {
            match Packet::decode(&mut inbuf, MAX_PACKET) {
                Ok(Some(p)) => {
                    let reply = server.reply(p);
                    if !reply.pause.is_zero() {
                        output.write_all(&outbuf)?;
                        output.flush()?;
                        outbuf.clear();
                        std::thread::sleep(reply.pause);
                    }
                    if let Some(packet) = reply.packet {
                        packet.encode(&mut outbuf);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad SFTP packet: {e}"),
                    ))
                }
            }
        }
        if !outbuf.is_empty() {
            output.write_all(&outbuf)?;
            output.flush()?;
            outbuf.clear();
        }
        let n = input.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        inbuf.extend_from_slice(&chunk[..n]);
    }
}

pub(super) struct Server {
    start: PathBuf,
    handles: HashMap<u32, Handle>,
    next_handle: u32,
    cases: Cases,
    /// Paths REMOVEd in this session ([`Case::RenameStuck`]).
    removed: HashSet<PathBuf>,
}

impl Server {
    fn path(&self, p: &[u8]) -> PathBuf {
        let p = Path::new(OsStr::from_bytes(p));
        if p.as_os_str().is_empty() {
            self.start.clone()
        } else if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.start.join(p)
        }
    }

    fn new_handle(&mut self, h: Handle) -> Bytes {
        let n = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1);
        self.handles.insert(n, h);
        Bytes::from(n.to_string().into_bytes())
    }

    fn handle_id(h: &[u8]) -> Option<u32> {
        std::str::from_utf8(h).ok()?.parse().ok()
    }

    /// The reply to `p`, and how long to wait before sending it.
    fn reply(&mut self, p: Packet) -> Reply {
        if let Packet::Readdir { id, handle } = &p {
            if self.cases.has(Case::LinksFirst) {
                return self.readdir_one(*id, handle);
            }
        }
        Reply {
            packet: self.handle(p),
            pause: Duration::ZERO,
        }
    }

    /// [`Case::LinksFirst`]: one entry per READDIR reply, non-links after a pause.
    fn readdir_one(&mut self, id: u32, handle: &[u8]) -> Reply {
        let packet = match Self::handle_id(handle).and_then(|h| self.handles.get_mut(&h)) {
            Some(Handle::Dir { entries, next }) => match entries.get(*next) {
                None => status(id, StatusCode::Eof, "End of directory"),
                Some(e) => {
                    *next += 1;
                    let pause = if e.attrs.is_symlink() {
                        Duration::ZERO
                    } else {
                        LISTING_PAUSE
                    };
                    return Reply {
                        packet: Some(Packet::Name {
                            id,
                            entries: vec![e.clone()],
                        }),
                        pause,
                    };
                }
            },
            _ => status(id, StatusCode::Failure, "bad handle"),
        };
        Reply {
            packet: Some(packet),
            pause: Duration::ZERO,
        }
    }

    /// Attributes of `m` as this server claims them.
    fn attrs(&self, m: &fs::Metadata) -> FileAttrs {
        let a = attrs_of(m);
        if m.is_file() {
            self.cases.claim(a)
        } else {
            a
        }
    }

    /// [`Case::LinkThenDir`]: `…/LINK/x`, where LINK is a symbolic link on disk, is served
    /// as a small regular file of content [`PWNED`].
    fn is_virtual(&self, path: &[u8]) -> bool {
        if !self.cases.has(Case::LinkThenDir) {
            return false;
        }
        let p = self.path(path);
        p.file_name() == Some(OsStr::new("x"))
            && p.parent()
                .and_then(|d| fs::symlink_metadata(d).ok())
                .is_some_and(|m| m.file_type().is_symlink())
    }

    fn handle(&mut self, p: Packet) -> Option<Packet> {
        Some(match p {
            Packet::Init { .. } => {
                let mut extensions = Vec::new();
                if self.cases.posix_rename() {
                    extensions.push((Bytes::from_static(POSIX_RENAME), Bytes::from_static(b"1")));
                }
                extensions.push((Bytes::from_static(LIMITS), Bytes::from_static(b"1")));
                extensions.push((Bytes::from_static(FSYNC), Bytes::from_static(b"1")));
                Packet::Version {
                    version: 3,
                    extensions,
                }
            }
            Packet::Realpath { id, path } => {
                let full = self.path(&path);
                let resolved = fs::canonicalize(&full).unwrap_or_else(|_| normalize(&full));
                let name = Bytes::copy_from_slice(resolved.as_os_str().as_bytes());
                Packet::Name {
                    id,
                    entries: vec![NameEntry {
                        longname: name.clone(),
                        filename: name,
                        attrs: FileAttrs::default(),
                    }],
                }
            }
            Packet::Stat { id, path } | Packet::Lstat { id, path }
                if is_hostile(&path) || self.is_virtual(&path) =>
            {
                Packet::Attrs {
                    id,
                    attrs: fake_attrs(),
                }
            }
            Packet::Stat { id, path } => match fs::metadata(self.path(&path)) {
                Ok(m) => Packet::Attrs {
                    id,
                    attrs: self.attrs(&m),
                },
                Err(e) => io_status(id, &e),
            },
            Packet::Lstat { id, path } => match fs::symlink_metadata(self.path(&path)) {
                Ok(m) => Packet::Attrs {
                    id,
                    attrs: self.attrs(&m),
                },
                Err(e) => io_status(id, &e),
            },
            Packet::Fstat { id, handle } => match self.file(&handle) {
                Some(Ok(f)) => match f.metadata() {
                    Ok(m) => Packet::Attrs {
                        id,
                        attrs: self.attrs(&m),
                    },
                    Err(e) => io_status(id, &e),
                },
                Some(Err(())) => Packet::Attrs {
                    id,
                    attrs: fake_attrs(),
                },
                None => status(id, StatusCode::Failure, "bad handle"),
            },
            Packet::Open {
                id,
                filename,
                pflags,
                attrs,
            } => {
                if is_hostile(&filename) || self.is_virtual(&filename) {
                    if pflags.contains(OpenFlags::WRITE) {
                        return Some(status(id, StatusCode::PermissionDenied, "read-only"));
                    }
                    let handle = self.new_handle(Handle::Fake);
                    return Some(Packet::Handle { id, handle });
                }
                let mut o = OpenOptions::new();
                o.read(pflags.contains(OpenFlags::READ))
                    .write(pflags.contains(OpenFlags::WRITE))
                    .append(pflags.contains(OpenFlags::APPEND))
                    .mode(attrs.permissions.unwrap_or(0o666) & 0o7777);
                if pflags.contains(OpenFlags::CREAT) {
                    if pflags.contains(OpenFlags::EXCL) {
                        o.create_new(true);
                    } else {
                        o.create(true);
                    }
                }
                if pflags.contains(OpenFlags::TRUNC) {
                    o.truncate(true);
                }
                match o.open(self.path(&filename)) {
                    Ok(f) => {
                        let handle = self.new_handle(Handle::File(f));
                        Packet::Handle { id, handle }
                    }
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Close { id, handle } => {
                match Self::handle_id(&handle).and_then(|h| self.handles.remove(&h)) {
                    Some(_) => ok(id),
                    None => status(id, StatusCode::Failure, "bad handle"),
                }
            }
            Packet::Read {
                id,
                handle,
                offset,
                len,
            } => match self.file(&handle) {
                Some(Ok(_)) if self.cases.has(Case::SizeHuge) => {
                    status(id, StatusCode::Eof, "End of file")
                }
                Some(Ok(f)) => {
                    let len = match self.cases.read_len(len) {
                        Ok(n) => n,
                        Err(why) => return Some(status(id, StatusCode::Failure, &why)),
                    };
                    let mut buf = vec![0u8; len.min(MAX_READ) as usize];
                    let mut got = 0;
                    loop {
                        match f.read_at(&mut buf[got..], offset + got as u64) {
                            Ok(0) => break,
                            Ok(n) => {
                                got += n;
                                if got == buf.len() {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Some(io_status(id, &e)),
                        }
                    }
                    if got == 0 {
                        status(id, StatusCode::Eof, "End of file")
                    } else {
                        buf.truncate(got);
                        if self.cases.has(Case::DataLong) {
                            buf.resize(len as usize + DATA_LONG_EXTRA, 0xee);
                        }
                        Packet::Data {
                            id,
                            data: Bytes::from(buf),
                        }
                    }
                }
                Some(Err(())) => {
                    let start = (offset.min(PWNED.len() as u64)) as usize;
                    let end = (start + len as usize).min(PWNED.len());
                    if start >= end {
                        status(id, StatusCode::Eof, "End of file")
                    } else {
                        Packet::Data {
                            id,
                            data: Bytes::copy_from_slice(&PWNED[start..end]),
                        }
                    }
                }
                None => status(id, StatusCode::Failure, "bad handle"),
            },
            Packet::Write {
                id,
                handle,
                offset,
                data,
            } => match self.file(&handle) {
                Some(Ok(_)) if self.cases.check_write(data.len()).is_err() => {
                    let why = self.cases.check_write(data.len()).unwrap_err();
                    status(id, StatusCode::Failure, &why)
                }
                Some(Ok(f)) => match f.write_all_at(&data, offset) {
                    Ok(()) => ok(id),
                    Err(e) => io_status(id, &e),
                },
                Some(Err(())) => status(id, StatusCode::PermissionDenied, "read-only"),
                None => status(id, StatusCode::Failure, "bad handle"),
            },
            Packet::Setstat { id, path, attrs } => {
                let p = self.path(&path);
                match set_attrs_path(&p, &attrs) {
                    Ok(()) => ok(id),
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Fsetstat { id, handle, attrs } => match self.file(&handle) {
                Some(Ok(f)) => match set_attrs_file(f, &attrs) {
                    Ok(()) => ok(id),
                    Err(e) => io_status(id, &e),
                },
                Some(Err(())) => status(id, StatusCode::PermissionDenied, "read-only"),
                None => status(id, StatusCode::Failure, "bad handle"),
            },
            Packet::Opendir { id, path } => {
                let dir = self.path(&path);
                let through_link = self.cases.has(Case::LinkThenDir)
                    && fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink());
                let listed = if through_link {
                    let a = fake_attrs();
                    Ok(vec![NameEntry {
                        filename: Bytes::from_static(b"x"),
                        longname: longname(b"x", &a),
                        attrs: a,
                    }])
                } else {
                    list_dir(&dir).map(|mut entries| {
                        for e in &mut entries {
                            if e.attrs.is_regular() {
                                e.attrs = self.cases.claim(e.attrs.clone());
                            }
                        }
                        self.order_listing(&mut entries);
                        entries
                    })
                };
                match listed {
                    Ok(mut entries) => {
                        if is_evil_dir(&dir) {
                            let a = fake_attrs();
                            for name in HOSTILE_NAMES {
                                entries.push(NameEntry {
                                    filename: Bytes::from_static(name),
                                    longname: longname(name, &a),
                                    attrs: a.clone(),
                                });
                            }
                        }
                        let handle = self.new_handle(Handle::Dir { entries, next: 0 });
                        Packet::Handle { id, handle }
                    }
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Readdir { id, handle } => {
                match Self::handle_id(&handle).and_then(|h| self.handles.get_mut(&h)) {
                    Some(Handle::Dir { entries, next }) => {
                        if *next >= entries.len() {
                            status(id, StatusCode::Eof, "End of directory")
                        } else {
                            let end = (*next + READDIR_BATCH).min(entries.len());
                            let batch = entries[*next..end].to_vec();
                            *next = end;
                            Packet::Name { id, entries: batch }
                        }
                    }
                    _ => status(id, StatusCode::Failure, "bad handle"),
                }
            }
            Packet::Remove { id, filename } => {
                let p = self.path(&filename);
                match fs::remove_file(&p) {
                    Ok(()) => {
                        self.removed.insert(normalize(&p));
                        ok(id)
                    }
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Mkdir { id, path, attrs } => {
                let mode = attrs.permissions.unwrap_or(0o777) & 0o7777;
                match fs::DirBuilder::new().mode(mode).create(self.path(&path)) {
                    Ok(()) => ok(id),
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Rmdir { id, path } => match fs::remove_dir(self.path(&path)) {
                Ok(()) => ok(id),
                Err(e) => io_status(id, &e),
            },
            Packet::Rename { id, old, new } => {
                let (o, n) = (self.path(&old), self.path(&new));
                if self.cases.has(Case::RenameRefused) {
                    status(id, StatusCode::Failure, "rename refused")
                } else if self.cases.has(Case::RenameStuck) && self.removed.contains(&normalize(&n)) {
                    status(id, StatusCode::Failure, "target was removed in this session; rename refused")
                } else if fs::symlink_metadata(&n).is_ok() {
                    status(id, StatusCode::Failure, "target exists")
                } else {
                    match fs::rename(o, n) {
                        Ok(()) => ok(id),
                        Err(e) => io_status(id, &e),
                    }
                }
            }
            Packet::Readlink { id, path } => match fs::read_link(self.path(&path)) {
                Ok(t) => {
                    let name = Bytes::copy_from_slice(t.as_os_str().as_bytes());
                    Packet::Name {
                        id,
                        entries: vec![NameEntry {
                            longname: name.clone(),
                            filename: name,
                            attrs: FileAttrs::default(),
                        }],
                    }
                }
                Err(e) => io_status(id, &e),
            },
            Packet::Symlink {
                id,
                linkpath,
                targetpath,
            } => {
                let target = Path::new(OsStr::from_bytes(&targetpath)).to_path_buf();
                match std::os::unix::fs::symlink(target, self.path(&linkpath)) {
                    Ok(()) => ok(id),
                    Err(e) => io_status(id, &e),
                }
            }
            Packet::Extended { id, request } => match request {
                Extension::Limits => {
                    let mut data = BytesMut::new();
                    let max = self.cases.limit().unwrap_or(MAX_READ as u64);
                    Limits {
                        max_packet_len: 256 * 1024,
                        max_read_len: max,
                        max_write_len: max,
                        max_open_handles: 0,
                    }
                    .encode(&mut data);
                    Packet::ExtendedReply {
                        id,
                        data: data.freeze(),
                    }
                }
                Extension::PosixRename { .. } if !self.cases.posix_rename() => {
                    status(id, StatusCode::OpUnsupported, "posix-rename is not offered")
                }
                Extension::PosixRename { old, new } => {
                    match fs::rename(self.path(&old), self.path(&new)) {
                        Ok(()) => ok(id),
                        Err(e) => io_status(id, &e),
                    }
                }
                Extension::Fsync { handle } => match self.file(&handle) {
                    Some(Ok(f)) => match f.sync_all() {
                        Ok(()) => ok(id),
                        Err(e) => io_status(id, &e),
                    },
                    Some(Err(())) => ok(id),
                    None => status(id, StatusCode::Failure, "bad handle"),
                },
                other => status(
                    id,
                    StatusCode::OpUnsupported,
                    &format!(
                        "unsupported extension {}",
                        String::from_utf8_lossy(other.name())
                    ),
                ),
            },
            other => match other.id() {
                Some(id) => status(id, StatusCode::OpUnsupported, "unsupported request"),
                None => return None,
            },
        })
    }

    /// [`Case::LinksFirst`]: links, then `*.skiffpart`, then the rest (each group in name
    /// order); [`Case::LinkThenDir`]: every link once more at the end, as a directory.
    fn order_listing(&self, entries: &mut Vec<NameEntry>) {
        if self.cases.has(Case::LinksFirst) {
            let rank = |e: &NameEntry| {
                if e.attrs.is_symlink() {
                    0
                } else if e.filename.ends_with(b".skiffpart") {
                    1
                } else {
                    2
                }
            };
            entries.sort_by(|a, b| (rank(a), &a.filename).cmp(&(rank(b), &b.filename)));
        }
        if self.cases.has(Case::LinkThenDir) {
            let dir = FileAttrs::default()
                .with_size(4096)
                .with_uid_gid(0, 0)
                .with_permissions(skiff_sftp::attrs::S_IFDIR | 0o755)
                .with_times(0, 0);
            let again: Vec<NameEntry> = entries
                .iter()
                .filter(|e| e.attrs.is_symlink())
                .map(|e| NameEntry {
                    filename: e.filename.clone(),
                    longname: longname(&e.filename, &dir),
                    attrs: dir.clone(),
                })
                .collect();
            entries.extend(again);
        }
    }

    /// `Some(Ok(file))` for a real file handle, `Some(Err(()))` for a fake
    /// one, `None` for an unknown or directory handle.
    fn file(&self, handle: &[u8]) -> Option<Result<&File, ()>> {
        match Self::handle_id(handle).and_then(|h| self.handles.get(&h))? {
            Handle::File(f) => Some(Ok(f)),
            Handle::Fake => Some(Err(())),
            Handle::Dir { .. } => None,
        }
    }
}
