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
mod fsops;
mod paths;
mod replies;
mod server;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};


use crate::sshd::SshdOptions;
pub use cases::{Case, Cases, DATA_LONG_EXTRA, HUGE_SIZE, LISTING_PAUSE};
pub use server::{serve, serve_cases};

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

#[cfg(test)]
mod tests;
