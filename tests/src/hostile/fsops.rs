//! Filesystem operations behind the hostile server's honest replies: listing a directory
//! as SFTP name entries and applying SETSTAT/FSETSTAT attributes to a file or path.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use skiff_sftp::{FileAttrs, NameEntry};

use super::replies::*;

pub(super) fn list_dir(dir: &Path) -> io::Result<Vec<NameEntry>> {
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

pub(super) fn file_times(attrs: &FileAttrs) -> Option<fs::FileTimes> {
    let (a, m) = attrs.atime_mtime?;
    let t = |s: u32| UNIX_EPOCH + Duration::from_secs(s as u64);
    Some(fs::FileTimes::new().set_accessed(t(a)).set_modified(t(m)))
}

pub(super) fn set_attrs_file(f: &File, attrs: &FileAttrs) -> io::Result<()> {
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

pub(super) fn set_attrs_path(p: &Path, attrs: &FileAttrs) -> io::Result<()> {
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
