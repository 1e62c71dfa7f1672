//! Building reply packets for the hostile server: STATUS shortcuts, attributes from file
//! metadata (and the fake attributes of hostile names), `ls -l` style long names.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use skiff_sftp::attrs::{S_IFMT, S_IFREG};
use skiff_sftp::{FileAttrs, Packet, StatusCode};

use super::*;

pub(super) fn status(id: u32, code: StatusCode, msg: &str) -> Packet {
    Packet::Status {
        id,
        code,
        message: Bytes::copy_from_slice(msg.as_bytes()),
        language: Bytes::new(),
    }
}

pub(super) fn ok(id: u32) -> Packet {
    status(id, StatusCode::Ok, "Success")
}

pub(super) fn io_status(id: u32, e: &io::Error) -> Packet {
    let code = match e.kind() {
        io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    status(id, code, &e.to_string())
}

pub(super) fn to_u32(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32)
        .unwrap_or(0)
}

pub(super) fn attrs_of(m: &fs::Metadata) -> FileAttrs {
    FileAttrs::default()
        .with_size(m.len())
        .with_uid_gid(m.uid(), m.gid())
        .with_permissions(m.mode())
        .with_times(
            m.atime().clamp(0, u32::MAX as i64) as u32,
            m.mtime().clamp(0, u32::MAX as i64) as u32,
        )
}

pub(super) fn fake_attrs() -> FileAttrs {
    let now = to_u32(SystemTime::now());
    FileAttrs::default()
        .with_size(PWNED.len() as u64)
        .with_uid_gid(0, 0)
        .with_permissions(S_IFREG | 0o644)
        .with_times(now, now)
}

pub(super) fn longname(name: &[u8], a: &FileAttrs) -> Bytes {
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
