//! A real SFTP v3 server that lies on purpose, run by the real sshd as its
//! `sftp` subsystem (so SSH stays real; only SFTP misbehaves).
//!
//! [`serve`] speaks SFTP v3 over any reader/writer (the binary
//! `hostile-sftp-server` runs it on stdin/stdout) using the `skiff_sftp`
//! codec. It serves the real filesystem honestly — INIT/VERSION (with
//! `posix-rename@openssh.com`, `limits@openssh.com`, `fsync@openssh.com`),
//! REALPATH, STAT/LSTAT/FSTAT, OPEN/READ/WRITE/CLOSE, OPENDIR/READDIR,
//! MKDIR/RMDIR, SETSTAT/FSETSTAT, REMOVE, RENAME, posix-rename, READLINK,
//! SYMLINK — with one exception:
//!
//! - READDIR of any directory whose last component is `evil` also returns
//!   the [`HOSTILE_NAMES`] (`..`, `.`, `a/b`, `/etc/passwd-skiff-test`,
//!   `../escape`, `ok\0nul`) as small regular files, after its real entries;
//! - STAT/LSTAT/OPEN of such a name (as `…/evil/NAME`, or the bare name, or
//!   any path containing NUL) give a read-only regular file whose content is
//!   [`PWNED`].
//!
//! Paths: absolute paths are used as they are; relative ones are resolved
//! against the start directory (the `ROOTDIR` argument, else the current
//! directory, which sshd sets to the user's home). There is no chroot.
//!
//! [`hostile_server_binary`] finds the binary, [`hostile_sshd_options`]
//! makes a [`crate::sshd::Sshd`] use it.
//!
//! This module owns the server's handles and nothing else.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use skiff_sftp::attrs::{S_IFMT, S_IFREG};
use skiff_sftp::ext::{FSYNC, LIMITS, POSIX_RENAME};
use skiff_sftp::{Extension, FileAttrs, Limits, NameEntry, OpenFlags, Packet, StatusCode};

use crate::sshd::SshdOptions;

/// The directory name whose listings carry the hostile entries.
pub const EVIL_DIR: &str = "evil";

/// The hostile entry names added to every READDIR of an `evil` directory.
pub const HOSTILE_NAMES: &[&[u8]] = &[
    b"..",
    b".",
    b"a/b",
    b"/etc/passwd-skiff-test",
    b"../escape",
    b"ok\0nul",
];

/// Content of every hostile file.
pub const PWNED: &[u8] = b"pwned";

/// Env var naming the server binary (overrides the search).
pub const HOSTILE_BIN_ENV: &str = "HOSTILE_SFTP_BIN";

const BIN_NAME: &str = "hostile-sftp-server";
/// Largest packet accepted (OpenSSH: 256 KiB; a little slack for headers).
const MAX_PACKET: u32 = 256 * 1024 + 1024;
const MAX_READ: u32 = 255 * 1024;
const READDIR_BATCH: usize = 100;

/// The `hostile-sftp-server` binary: `$HOSTILE_SFTP_BIN`, else next to the
/// current executable, else in the `target/<profile>/` directory above it
/// (test executables live in `target/<profile>/deps/`). The path returned
/// may not exist if it was never built (`cargo build -p skiff-tests`).
pub fn hostile_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os(HOSTILE_BIN_ENV) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        candidates.push(dir.join(BIN_NAME));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(BIN_NAME));
        }
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .or_else(|| candidates.into_iter().next_back())
        .unwrap_or_else(|| PathBuf::from(BIN_NAME))
}

/// [`SshdOptions`] whose `sftp` subsystem is the hostile server (start
/// directory: the login user's home).
pub fn hostile_sshd_options() -> SshdOptions {
    subsystem_options(None)
}

/// Like [`hostile_sshd_options`], with relative paths resolved against `root`.
pub fn hostile_sshd_options_in(root: &Path) -> SshdOptions {
    subsystem_options(Some(root))
}

fn subsystem_options(root: Option<&Path>) -> SshdOptions {
    let bin = hostile_server_binary();
    let bin = fs::canonicalize(&bin).unwrap_or(bin);
    let mut line = format!("Subsystem sftp {}", bin.display());
    if let Some(r) = root {
        line.push(' ');
        line.push_str(&r.display().to_string());
    }
    SshdOptions {
        extra_config: vec![line],
        ..SshdOptions::default()
    }
}

/// Create `parent/evil` with a few real files (`real.txt` = "real\n",
/// `also-real.bin` = 1000 bytes of 0x5a) and return its path.
pub fn make_evil_dir(parent: &Path) -> io::Result<PathBuf> {
    let dir = parent.join(EVIL_DIR);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("real.txt"), b"real\n")?;
    fs::write(dir.join("also-real.bin"), vec![0x5a; 1000])?;
    Ok(dir)
}

enum Handle {
    File(File),
    Dir {
        entries: Vec<NameEntry>,
        next: usize,
    },
    Fake,
}

/// Serve one SFTP session from `input` to `output` until EOF. `start_dir`
/// resolves relative paths. Returns `Ok` on a clean EOF.
pub fn serve(input: &mut impl Read, output: &mut impl Write, start_dir: &Path) -> io::Result<()> {
    let mut server = Server {
        start: start_dir.to_path_buf(),
        handles: HashMap::new(),
        next_handle: 1,
    };
    let mut inbuf = BytesMut::with_capacity(512 * 1024);
    let mut outbuf = BytesMut::with_capacity(512 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        loop {
            match Packet::decode(&mut inbuf, MAX_PACKET) {
                Ok(Some(p)) => {
                    if let Some(reply) = server.handle(p) {
                        reply.encode(&mut outbuf);
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

struct Server {
    start: PathBuf,
    handles: HashMap<u32, Handle>,
    next_handle: u32,
}

fn status(id: u32, code: StatusCode, msg: &str) -> Packet {
    Packet::Status {
        id,
        code,
        message: Bytes::copy_from_slice(msg.as_bytes()),
        language: Bytes::new(),
    }
}

fn ok(id: u32) -> Packet {
    status(id, StatusCode::Ok, "Success")
}

fn io_status(id: u32, e: &io::Error) -> Packet {
    let code = match e.kind() {
        io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    status(id, code, &e.to_string())
}

fn to_u32(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32)
        .unwrap_or(0)
}

fn attrs_of(m: &fs::Metadata) -> FileAttrs {
    FileAttrs::default()
        .with_size(m.len())
        .with_uid_gid(m.uid(), m.gid())
        .with_permissions(m.mode())
        .with_times(
            m.atime().clamp(0, u32::MAX as i64) as u32,
            m.mtime().clamp(0, u32::MAX as i64) as u32,
        )
}

fn fake_attrs() -> FileAttrs {
    let now = to_u32(SystemTime::now());
    FileAttrs::default()
        .with_size(PWNED.len() as u64)
        .with_uid_gid(0, 0)
        .with_permissions(S_IFREG | 0o644)
        .with_times(now, now)
}

fn longname(name: &[u8], a: &FileAttrs) -> Bytes {
    let mode = a.permissions.unwrap_or(0);
    let kind = match mode & S_IFMT {
        m if m == skiff_sftp::attrs::S_IFDIR => 'd',
        m if m == skiff_sftp::attrs::S_IFLNK => 'l',
        _ => '-',
    };
    let mut perms = String::new();
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        perms.push(if mode & (0o400 >> i) != 0 { c } else { '-' });
    }
    let (uid, gid) = a.uid_gid.unwrap_or((0, 0));
    let mut s = format!(
        "{kind}{perms}    1 {uid:<8} {gid:<8} {:>8} Jan  1 00:00 ",
        a.size.unwrap_or(0)
    )
    .into_bytes();
    s.extend_from_slice(name);
    Bytes::from(s)
}

/// Is `path` one of the hostile names (as `…/evil/NAME`, bare, or with NUL)?
fn is_hostile(path: &[u8]) -> bool {
    if path.contains(&0) {
        return true;
    }
    if HOSTILE_NAMES.iter().any(|h| *h == path && path.len() > 2) {
        return true;
    }
    let marker = b"evil/";
    let mut i = 0;
    while let Some(pos) = find(&path[i..], marker) {
        let at = i + pos;
        let starts_component = at == 0 || path[at - 1] == b'/';
        if starts_component {
            let rest = &path[at + marker.len()..];
            if HOSTILE_NAMES.contains(&rest) {
                return true;
            }
            // A client that joined with "//" or normalised "./".
            let trimmed = rest.strip_prefix(b"/").unwrap_or(rest);
            if trimmed.starts_with(b"etc/passwd-skiff-test") {
                return true;
            }
        }
        i = at + 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_evil_dir(path: &Path) -> bool {
    path.components()
        .rfind(|c| !matches!(c, Component::CurDir))
        .is_some_and(|c| c.as_os_str() == EVIL_DIR)
}

/// Lexical normalisation: `.` dropped, `..` pops (never above `/`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
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

    fn handle(&mut self, p: Packet) -> Option<Packet> {
        Some(match p {
            Packet::Init { .. } => Packet::Version {
                version: 3,
                extensions: vec![
                    (Bytes::from_static(POSIX_RENAME), Bytes::from_static(b"1")),
                    (Bytes::from_static(LIMITS), Bytes::from_static(b"1")),
                    (Bytes::from_static(FSYNC), Bytes::from_static(b"1")),
                ],
            },
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
            Packet::Stat { id, path } | Packet::Lstat { id, path } if is_hostile(&path) => {
                Packet::Attrs {
                    id,
                    attrs: fake_attrs(),
                }
            }
            Packet::Stat { id, path } => match fs::metadata(self.path(&path)) {
                Ok(m) => Packet::Attrs {
                    id,
                    attrs: attrs_of(&m),
                },
                Err(e) => io_status(id, &e),
            },
            Packet::Lstat { id, path } => match fs::symlink_metadata(self.path(&path)) {
                Ok(m) => Packet::Attrs {
                    id,
                    attrs: attrs_of(&m),
                },
                Err(e) => io_status(id, &e),
            },
            Packet::Fstat { id, handle } => match self.file(&handle) {
                Some(Ok(f)) => match f.metadata() {
                    Ok(m) => Packet::Attrs {
                        id,
                        attrs: attrs_of(&m),
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
                if is_hostile(&filename) {
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
                Some(Ok(f)) => {
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
                match list_dir(&dir) {
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
            Packet::Remove { id, filename } => match fs::remove_file(self.path(&filename)) {
                Ok(()) => ok(id),
                Err(e) => io_status(id, &e),
            },
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
                if fs::symlink_metadata(&n).is_ok() {
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
                    Limits {
                        max_packet_len: 256 * 1024,
                        max_read_len: MAX_READ as u64,
                        max_write_len: MAX_READ as u64,
                        max_open_handles: 0,
                    }
                    .encode(&mut data);
                    Packet::ExtendedReply {
                        id,
                        data: data.freeze(),
                    }
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

fn list_dir(dir: &Path) -> io::Result<Vec<NameEntry>> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Ok(m) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        let a = attrs_of(&m);
        entries.push(NameEntry {
            longname: longname(name.as_bytes(), &a),
            filename: Bytes::copy_from_slice(name.as_bytes()),
            attrs: a,
        });
    }
    Ok(entries)
}

fn file_times(attrs: &FileAttrs) -> Option<fs::FileTimes> {
    let (a, m) = attrs.atime_mtime?;
    let t = |s: u32| UNIX_EPOCH + Duration::from_secs(s as u64);
    Some(fs::FileTimes::new().set_accessed(t(a)).set_modified(t(m)))
}

fn set_attrs_file(f: &File, attrs: &FileAttrs) -> io::Result<()> {
    if let Some(size) = attrs.size {
        f.set_len(size)?;
    }
    if let Some(perm) = attrs.permissions {
        f.set_permissions(fs::Permissions::from_mode(perm & 0o7777))?;
    }
    if let Some((uid, gid)) = attrs.uid_gid {
        std::os::unix::fs::fchown(f, Some(uid), Some(gid))?;
    }
    if let Some(t) = file_times(attrs) {
        f.set_times(t)?;
    }
    Ok(())
}

fn set_attrs_path(p: &Path, attrs: &FileAttrs) -> io::Result<()> {
    if let Some(size) = attrs.size {
        OpenOptions::new().write(true).open(p)?.set_len(size)?;
    }
    if let Some(perm) = attrs.permissions {
        fs::set_permissions(p, fs::Permissions::from_mode(perm & 0o7777))?;
    }
    if let Some((uid, gid)) = attrs.uid_gid {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
    }
    if let Some(t) = file_times(attrs) {
        // Opening read-only works for directories too; futimens needs no write access.
        File::open(p)?.set_times(t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{sha256_file, write_random_file};
    use crate::sshd::Sshd;
    use std::process::{Command, Stdio};

    #[test]
    fn hostile_names_are_recognised() {
        assert!(is_hostile(b"/srv/evil/a/b"));
        assert!(is_hostile(b"/srv/evil/.."));
        assert!(is_hostile(b"/srv/evil/."));
        assert!(is_hostile(b"/srv/evil/../escape"));
        assert!(is_hostile(b"/srv/evil//etc/passwd-skiff-test"));
        assert!(is_hostile(b"/etc/passwd-skiff-test"));
        assert!(is_hostile(b"/srv/evil/ok\0nul"));
        assert!(is_hostile(b"evil/a/b"));
        assert!(!is_hostile(b"/srv/evil/real.txt"));
        assert!(!is_hostile(b"/srv/notevil/a/b"));
        assert!(!is_hostile(b"/srv/evil"));
        assert!(!is_hostile(b".."));
        assert!(is_evil_dir(Path::new("/srv/evil")));
        assert!(is_evil_dir(Path::new("/srv/evil/.")));
        assert!(!is_evil_dir(Path::new("/srv/evilx")));
    }

    /// Drive [`serve`] in-process with the codec: list `evil`, read a
    /// hostile file, write and read back a real one.
    #[test]
    fn serve_in_process() {
        let d = tempfile::tempdir().unwrap();
        let evil = make_evil_dir(d.path()).unwrap();
        let mut reqs = BytesMut::new();
        let p = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        Packet::Init {
            version: 3,
            extensions: vec![],
        }
        .encode(&mut reqs);
        Packet::Opendir {
            id: 1,
            path: p(evil.to_str().unwrap()),
        }
        .encode(&mut reqs);
        Packet::Readdir {
            id: 2,
            handle: p("1"),
        }
        .encode(&mut reqs);
        Packet::Open {
            id: 3,
            filename: p(&format!("{}/a/b", evil.display())),
            pflags: OpenFlags::READ,
            attrs: FileAttrs::default(),
        }
        .encode(&mut reqs);
        Packet::Read {
            id: 4,
            handle: p("2"),
            offset: 0,
            len: 100,
        }
        .encode(&mut reqs);
        Packet::Open {
            id: 5,
            filename: p("new.txt"),
            pflags: OpenFlags(OpenFlags::WRITE.0 | OpenFlags::CREAT.0 | OpenFlags::TRUNC.0),
            attrs: FileAttrs::default(),
        }
        .encode(&mut reqs);
        Packet::Write {
            id: 6,
            handle: p("3"),
            offset: 0,
            data: p("hello"),
        }
        .encode(&mut reqs);
        Packet::Close {
            id: 7,
            handle: p("3"),
        }
        .encode(&mut reqs);
        Packet::Extended {
            id: 8,
            request: Extension::PosixRename {
                old: p("new.txt"),
                new: p("renamed.txt"),
            },
        }
        .encode(&mut reqs);
        let mut out = Vec::new();
        serve(&mut &reqs[..], &mut out, d.path()).unwrap();
        let mut out = BytesMut::from(&out[..]);
        let mut replies = Vec::new();
        while let Some(r) = Packet::decode(&mut out, MAX_PACKET).unwrap() {
            replies.push(r);
        }
        assert!(
            matches!(&replies[0], Packet::Version { version: 3, extensions } if extensions.len() == 3)
        );
        let Packet::Name { entries, .. } = &replies[2] else {
            panic!("{:?}", replies[2])
        };
        let names: Vec<&[u8]> = entries.iter().map(|e| e.filename.as_ref()).collect();
        for h in HOSTILE_NAMES {
            assert!(names.contains(h), "{names:?}");
        }
        assert!(names.contains(&&b"real.txt"[..]));
        assert_eq!(
            replies[4],
            Packet::Data {
                id: 4,
                data: Bytes::from_static(PWNED)
            }
        );
        assert!(matches!(
            replies[8],
            Packet::Status {
                id: 8,
                code: StatusCode::Ok,
                ..
            }
        ));
        assert_eq!(fs::read(d.path().join("renamed.txt")).unwrap(), b"hello");
        assert!(!d.path().join("new.txt").exists());
        // Nothing was written outside.
        assert!(!d.path().join("escape").exists());
    }

    /// The real thing: sshd runs the binary as its sftp subsystem; OpenSSH
    /// `sftp -b` lists the evil dir and copies a real file through it.
    #[test]
    fn real_sshd_with_hostile_subsystem() {
        let bin = hostile_server_binary();
        if !bin.is_file() {
            eprintln!(
                "SKIPPED real_sshd_with_hostile_subsystem: {} not built \
                 (cargo build -p skiff-tests, or set {HOSTILE_BIN_ENV})",
                bin.display()
            );
            return;
        }
        let sshd = Sshd::start_with(hostile_sshd_options()).unwrap();
        let evil = make_evil_dir(&sshd.root).unwrap();
        let src = sshd.root.join("normal.bin");
        write_random_file(&src, 700 * 1024 + 3, 9).unwrap();
        let local = tempfile::tempdir().unwrap();
        let got = local.path().join("got.bin");
        let put_back = sshd.root.join("put.bin");
        let batch = local.path().join("batch");
        let run_batch = |text: String| {
            fs::write(&batch, text).unwrap();
            let out = Command::new("sftp")
                .args(sshd.ssh_args())
                .arg("-b")
                .arg(&batch)
                .arg(crate::sshd::HOST_ALIAS)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            (
                out.status,
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        // OpenSSH's sftp refuses the hostile entries itself ("Server sent
        // suspect path") and dies on the name with a NUL: proof that they are
        // all in the listing.
        let (_, _, stderr) = run_batch(format!("ls -1a \"{}\"\n", evil.display()));
        for name in ["a/b", "/etc/passwd-skiff-test", "../escape"] {
            assert!(
                stderr.contains(&format!("suspect path \"{name}\"")),
                "{name:?} was not listed (sftp did not complain):\n{stderr}\nsshd log:\n{}",
                sshd.log_contents()
            );
        }
        assert!(
            stderr.contains("invalid format"),
            "the NUL name was not listed:\n{stderr}"
        );

        // Normal files go through it both ways.
        let (status, stdout, stderr) = run_batch(format!(
            "ls -1 \"{}\"\nget \"{}\" \"{}\"\nput \"{}\" \"{}\"\n",
            sshd.root.display(),
            src.display(),
            got.display(),
            got.display(),
            put_back.display()
        ));
        assert!(
            status.success(),
            "sftp failed: {status}\n{stdout}\n{stderr}\nsshd log:\n{}",
            sshd.log_contents()
        );
        for name in ["evil", "normal.bin"] {
            assert!(
                stdout.lines().any(|l| l.trim().ends_with(name)),
                "{name:?} not listed:\n{stdout}"
            );
        }
        assert_eq!(sha256_file(&src).unwrap(), sha256_file(&got).unwrap());
        assert_eq!(sha256_file(&src).unwrap(), sha256_file(&put_back).unwrap());
        assert!(!sshd.root.join("escape").exists());
    }
}
