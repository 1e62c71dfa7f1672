//! A real SFTP v3 server that lies on purpose, run by the real sshd as its
//! `sftp` subsystem (so SSH stays real; only SFTP misbehaves).
//!
//! [`serve_cases`] speaks SFTP v3 over any reader/writer (the binary
//! `hostile-sftp-server [--case CASE]... [ROOTDIR]` runs it on stdin/stdout) using the
//! `skiff_sftp` codec. It serves the real filesystem honestly — INIT/VERSION (with
//! `posix-rename@openssh.com`, `limits@openssh.com`, `fsync@openssh.com`),
//! REALPATH, STAT/LSTAT/FSTAT, OPEN/READ/WRITE/CLOSE, OPENDIR/READDIR,
//! MKDIR/RMDIR, SETSTAT/FSETSTAT, REMOVE, RENAME, posix-rename, READLINK,
//! SYMLINK — except for what the chosen [`Case`]s change, and always:
//!
//! - READDIR of any directory whose last component is `evil` also returns
//!   the [`HOSTILE_NAMES`] (`..`, `.`, `a/b`, `/etc/passwd-skiff-test`,
//!   `../escape`, `ok\0nul`) as small regular files, after its real entries;
//! - STAT/LSTAT/OPEN of such a name (as `…/evil/NAME`, or the bare name, or
//!   any path containing NUL) give a read-only regular file whose content is
//!   [`PWNED`].
//!
//! A test picks the misbehaviours with [`hostile_sshd_options_with`]: they go on the
//! `Subsystem sftp` line of that test's own sshd (one server per test).
//!
//! Paths: absolute paths are used as they are; relative ones are resolved
//! against the start directory (the `ROOTDIR` argument, else the current
//! directory, which sshd sets to the user's home). There is no chroot.
//!
//! # The hostile cases and the tests that cover them
//!
//! Each case runs through the real sshd, once through `skiff cp` (test names ending in
//! `_cli`) and once through the window's engine path — enqueue as
//! `src-tauri/src/commands/queue.rs` does, then the `Scheduler` configured like the
//! window's, in a child process so a spinning job cannot stall the test (names ending in
//! `_window`). Every run is bounded (30 s per transfer, `RLIMIT_DATA` 1 GiB); a failure
//! must name the host, the path and a hint. Run them with
//! `cargo build --release -p skiff-cli -p skiff-tests --bins && cargo test --release -p
//! skiff-tests --test hostile_links --test hostile_sizes --test hostile_rename`.
//!
//! 1. Remote symlink chain (`--case links-first`; [`make_symlink_chain`]): `a/up -> ..`,
//!    `a/up2 -> up/..`, `a/up3 -> up2/..`, `a/e.skiffpart -> up3/anything`, then the
//!    regular `a/e`. Nothing is created or changed outside the destination tree, `anything`
//!    appears nowhere, `a/e` arrives as a regular file, the run ends non-zero naming host
//!    and refused link — `hostile_links::symlink_chain_{cli,window}`.
//!    Every link listed again as a directory holding `x` (`--case link-then-dir`): no `x`
//!    lands outside — `hostile_links::file_under_an_accepted_link_{cli,window}`.
//!    `x` and `x.skiffpart` both regular on the server: both arrive intact —
//!    `hostile_links::part_named_file_beside_its_file_{cli,window}`.
//! 2. Links planted in the local destination (honest server): `report.pdf.skiffpart` as a
//!    symlink to a victim, as a hard link to it, `tree/f.skiffpart` as a symlink inside a
//!    tree download, `tree/sub` as a symlink to a victim folder, and `report.pdf` itself as
//!    a symlink with `--overwrite resume`: the victims stay byte-identical, the downloads
//!    have the served content — `hostile_links::planted_local_links_{cli,window}`.
//! 3. Remote symlink against a local regular file, `--overwrite skip` (a link to a file
//!    inside the tree, and links pointing outside it): the local files keep content and
//!    inode, the outside target is never fetched —
//!    `hostile_links::remote_link_meets_local_file_{cli,window}`.
//! 4. Size lies, each for a small and a big file singly and as a tree, at once:
//!    `--case size-huge` (2^62 bytes claimed, EOF at once; peak RSS under 200 MiB) —
//!    `hostile_sizes::size_huge_eof_at_once_*`; `size-absent` (no SIZE attribute: full
//!    content, never an empty file with success) — `size_absent_*`; `size-smaller` (the
//!    file grew: everything up to EOF) — `size_smaller_file_grew_*`; `size-bigger` (the
//!    file shrank: what was served, or a clear failure) — `size_bigger_file_shrank_*`;
//!    `data-long` (DATA longer than the READ: a clear failure, no destination file) —
//!    `data_longer_than_asked_*`. Upload with `--overwrite resume` over a remote file
//!    (a true first part of the local one) claiming 2^62 bytes, or more bytes than it has:
//!    local file untouched, the remote file exactly the local one or (on a clear failure)
//!    unchanged —
//!    `resume_upload_over_a_{huge,bigger}_claim_*`.
//! 5. `--case limits=N` (max read and write length N; longer WRITEs refused): get and put
//!    of a file and of a tree — N=100 with 200 KiB completes byte-identical
//!    (`hostile_sizes::limits_100_bytes_*`), N=1 with 3 KiB completes or fails clearly
//!    (`limits_1_byte_*`), N=0 fails clearly (`limits_0_*`).
//! 9. No posix-rename, upload over an existing file, a file and a tree: `--case rename-v3`
//!    (RENAME fails onto an existing name) succeeds with the new content —
//!    `hostile_rename::rename_v3_replaces_an_existing_file_*`; `rename-stuck` (and onto a
//!    name REMOVEd in this session) never loses the file —
//!    `rename_after_remove_fails_and_nothing_is_lost_*`; `rename-refused` (every RENAME
//!    fails) fails clearly with the original content kept —
//!    `every_rename_refused_keeps_the_original_*`.
//!
//! Hostile names from the listing (`evil`): `cli_tree::hostile_listing_writes_nothing_outside_the_destination`.
//!
//! This module owns the server's handles and nothing else.

pub mod bounded;
pub mod cases;
pub mod snapshot;

use std::collections::{HashMap, HashSet};
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
pub use cases::{Case, Cases, DATA_LONG_EXTRA, HUGE_SIZE, LISTING_PAUSE};

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
    subsystem_options(None, &[])
}

/// Like [`hostile_sshd_options`], with relative paths resolved against `root`.
pub fn hostile_sshd_options_in(root: &Path) -> SshdOptions {
    subsystem_options(Some(root), &[])
}

/// [`SshdOptions`] whose `sftp` subsystem is the hostile server started with `cases`
/// (`Subsystem sftp hostile-sftp-server --case NAME ...`): one misbehaving server per sshd.
pub fn hostile_sshd_options_with(cases: &[Case]) -> SshdOptions {
    subsystem_options(None, cases)
}

/// Panics with what to do when the server binary was not built: a hostile test without
/// its server must fail, not pass.
pub fn require_hostile_server_binary() -> PathBuf {
    let bin = hostile_server_binary();
    assert!(
        bin.is_file(),
        "the hostile SFTP server {} is not built: run `cargo build --release -p skiff-tests --bins` \
         (or set {HOSTILE_BIN_ENV})",
        bin.display()
    );
    bin
}

fn subsystem_options(root: Option<&Path>, cases: &[Case]) -> SshdOptions {
    let bin = hostile_server_binary();
    let bin = fs::canonicalize(&bin).unwrap_or(bin);
    let mut line = format!("Subsystem sftp {}", bin.display());
    for c in cases {
        line.push_str(" --case ");
        line.push_str(&c.name());
    }
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

/// Content of the regular file `a/e` of [`make_symlink_chain`].
pub const CHAIN_E: &[u8] = b"the real content of a/e\n";

/// Create `parent/t` holding the link chain of case 1 (see the module docs) and the regular
/// file `a/e` (content [`CHAIN_E`]); return `parent/t`. The links are real links on the
/// server's disk; READDIR/LSTAT/READLINK serve them as they are.
pub fn make_symlink_chain(parent: &Path) -> io::Result<PathBuf> {
    let t = parent.join("t");
    let a = t.join("a");
    fs::create_dir_all(&a)?;
    for (link, target) in [
        ("up", ".."),
        ("up2", "up/.."),
        ("up3", "up2/.."),
        ("e.skiffpart", "up3/anything"),
    ] {
        std::os::unix::fs::symlink(target, a.join(link))?;
    }
    fs::write(a.join("e"), CHAIN_E)?;
    Ok(t)
}

enum Handle {
    File(File),
    Dir {
        entries: Vec<NameEntry>,
        next: usize,
    },
    Fake,
}

/// What the server does before it sends one reply.
struct Reply {
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

struct Server {
    start: PathBuf,
    handles: HashMap<u32, Handle>,
    next_handle: u32,
    cases: Cases,
    /// Paths REMOVEd in this session ([`Case::RenameStuck`]).
    removed: HashSet<PathBuf>,
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

    /// Requests in, replies out, through [`serve_cases`] in this process.
    fn exchange(dir: &Path, cases: Vec<Case>, reqs: Vec<Packet>) -> Vec<Packet> {
        let mut buf = BytesMut::new();
        for r in reqs {
            r.encode(&mut buf);
        }
        let mut out = Vec::new();
        serve_cases(&mut &buf[..], &mut out, dir, Cases(cases)).unwrap();
        let mut out = BytesMut::from(&out[..]);
        let mut replies = Vec::new();
        while let Some(r) = Packet::decode(&mut out, MAX_PACKET).unwrap() {
            replies.push(r);
        }
        replies
    }

    fn code(p: &Packet) -> Option<StatusCode> {
        match p {
            Packet::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn cases_change_what_is_served() {
        let d = tempfile::tempdir().unwrap();
        let p = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        fs::write(d.path().join("f"), vec![7u8; 1000]).unwrap();
        fs::write(d.path().join("g"), b"g").unwrap();
        let init = Packet::Init {
            version: 3,
            extensions: vec![],
        };
        // rename-stuck: RENAME onto an existing name fails, REMOVE works, and RENAME onto
        // the removed name fails too; no posix-rename is offered.
        let r = exchange(
            d.path(),
            vec![Case::RenameStuck],
            vec![
                init.clone(),
                Packet::Rename { id: 1, old: p("g"), new: p("f") },
                Packet::Remove { id: 2, filename: p("f") },
                Packet::Rename { id: 3, old: p("g"), new: p("f") },
            ],
        );
        assert!(matches!(&r[0], Packet::Version { extensions, .. } if extensions.len() == 2));
        assert_eq!(
            r[1..].iter().map(code).collect::<Vec<_>>(),
            vec![Some(StatusCode::Failure), Some(StatusCode::Ok), Some(StatusCode::Failure)]
        );
        assert!(d.path().join("g").exists());

        // size-absent, limits=100: no SIZE flag; READ capped; long WRITE refused.
        fs::write(d.path().join("f"), vec![7u8; 1000]).unwrap();
        let r = exchange(
            d.path(),
            vec![Case::SizeAbsent, Case::Limits(100)],
            vec![
                init.clone(),
                Packet::Stat { id: 1, path: p("f") },
                Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags(OpenFlags::READ.0 | OpenFlags::WRITE.0), attrs: FileAttrs::default() },
                Packet::Read { id: 3, handle: p("1"), offset: 0, len: 4096 },
                Packet::Write { id: 4, handle: p("1"), offset: 0, data: Bytes::from(vec![1u8; 101]) },
            ],
        );
        assert!(matches!(&r[1], Packet::Attrs { attrs, .. } if attrs.size.is_none() && attrs.is_regular()));
        assert!(matches!(&r[3], Packet::Data { data, .. } if data.len() == 100));
        assert_eq!(code(&r[4]), Some(StatusCode::Failure));

        // size-huge: 2^62 claimed, EOF at once; data-long: more than asked.
        let r = exchange(
            d.path(),
            vec![Case::SizeHuge],
            vec![
                init.clone(),
                Packet::Stat { id: 1, path: p("f") },
                Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags::READ, attrs: FileAttrs::default() },
                Packet::Read { id: 3, handle: p("1"), offset: 0, len: 10 },
            ],
        );
        assert!(matches!(&r[1], Packet::Attrs { attrs, .. } if attrs.size == Some(HUGE_SIZE)));
        assert_eq!(code(&r[3]), Some(StatusCode::Eof));
        let r = exchange(
            d.path(),
            vec![Case::DataLong],
            vec![
                init.clone(),
                Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags::READ, attrs: FileAttrs::default() },
                Packet::Read { id: 3, handle: p("1"), offset: 0, len: 10 },
            ],
        );
        assert!(matches!(&r[2], Packet::Data { data, .. } if data.len() == 10 + DATA_LONG_EXTRA));

        // links-first + link-then-dir: one entry per reply, the link first, then the
        // regular file, then the link again as a directory; `link/x` is served.
        std::os::unix::fs::symlink("..", d.path().join("link")).unwrap();
        let dir = d.path().to_str().unwrap();
        let r = exchange(
            d.path(),
            vec![Case::LinksFirst, Case::LinkThenDir],
            vec![
                init,
                Packet::Opendir { id: 1, path: p(dir) },
                Packet::Readdir { id: 2, handle: p("1") },
                Packet::Readdir { id: 3, handle: p("1") },
                Packet::Readdir { id: 4, handle: p("1") },
                Packet::Readdir { id: 5, handle: p("1") },
                Packet::Readdir { id: 6, handle: p("1") },
                Packet::Stat { id: 7, path: p(&format!("{dir}/link/x")) },
            ],
        );
        let one = |i: usize| match &r[i] {
            Packet::Name { entries, .. } if entries.len() == 1 => (entries[0].filename.clone(), entries[0].attrs.clone()),
            other => panic!("{other:?}"),
        };
        assert!(one(2).0 == "link" && one(2).1.is_symlink());
        assert_eq!((one(3).0, one(4).0), (p("f"), p("g")));
        assert!(one(5).0 == "link" && one(5).1.is_dir());
        assert_eq!(code(&r[6]), Some(StatusCode::Eof));
        assert!(matches!(&r[7], Packet::Attrs { attrs, .. } if attrs.size == Some(PWNED.len() as u64)));
    }

    /// The real thing: sshd runs the binary as its sftp subsystem; OpenSSH
    /// `sftp -b` lists the evil dir and copies a real file through it.
    #[test]
    fn real_sshd_with_hostile_subsystem() {
        require_hostile_server_binary();
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
