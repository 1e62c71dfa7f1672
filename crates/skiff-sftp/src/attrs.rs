//! File attributes (`ATTRS`, draft-ietf-secsh-filexfer-02 §5).
//!
//! Owns [`FileAttrs`]: its wire encoding, its decoding from a frame, and the few
//! questions callers ask of a mode (`is_dir`, `is_symlink`, ...). It does not touch the
//! local filesystem and knows nothing about packets that carry it.
//!
//! Wire layout:
//! ```text
//! uint32 flags
//! uint64 size            if flags & SIZE
//! uint32 uid, gid        if flags & UIDGID
//! uint32 permissions     if flags & PERMISSIONS
//! uint32 atime, mtime    if flags & ACMODTIME
//! uint32 extended_count  if flags & EXTENDED, then count × (string type, string data)
//! ```
//! Flag bits this version does not define carry no fields and are ignored on decode, as
//! OpenSSH does.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::wire::{get_string, get_u32, get_u64, put_string, string_len};

/// `SSH_FILEXFER_ATTR_SIZE`
pub const SSH_FILEXFER_ATTR_SIZE: u32 = 0x0000_0001;
/// `SSH_FILEXFER_ATTR_UIDGID`
pub const SSH_FILEXFER_ATTR_UIDGID: u32 = 0x0000_0002;
/// `SSH_FILEXFER_ATTR_PERMISSIONS`
pub const SSH_FILEXFER_ATTR_PERMISSIONS: u32 = 0x0000_0004;
/// `SSH_FILEXFER_ATTR_ACMODTIME`
pub const SSH_FILEXFER_ATTR_ACMODTIME: u32 = 0x0000_0008;
/// `SSH_FILEXFER_ATTR_EXTENDED`
pub const SSH_FILEXFER_ATTR_EXTENDED: u32 = 0x8000_0000;

/// Mask of the file-type bits in `permissions` (POSIX `S_IFMT`).
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;

/// Smallest encoding of one extended attribute pair: two empty strings.
const MIN_EXTENDED_PAIR: usize = 8;

/// File attributes as SFTP v3 carries them. Every field is optional on the wire; `None`
/// means the flag bit is clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAttrs {
    /// File size in bytes.
    pub size: Option<u64>,
    /// Numeric owner and group.
    pub uid_gid: Option<(u32, u32)>,
    /// POSIX mode, including the `S_IFMT` file-type bits when a server reports them.
    pub permissions: Option<u32>,
    /// Access and modification time, seconds since the Unix epoch.
    pub atime_mtime: Option<(u32, u32)>,
    /// Extended attributes: `(type, data)` pairs.
    pub extended: Vec<(Bytes, Bytes)>,
}

impl FileAttrs {
    /// Attributes with only the size set.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Attributes with the permissions set.
    pub fn with_permissions(mut self, permissions: u32) -> Self {
        self.permissions = Some(permissions);
        self
    }

    /// Attributes with access and modification times set.
    pub fn with_times(mut self, atime: u32, mtime: u32) -> Self {
        self.atime_mtime = Some((atime, mtime));
        self
    }

    /// Attributes with owner and group set.
    pub fn with_uid_gid(mut self, uid: u32, gid: u32) -> Self {
        self.uid_gid = Some((uid, gid));
        self
    }

    /// The `S_IFMT` bits of `permissions`, if permissions are present.
    pub fn file_type(&self) -> Option<u32> {
        self.permissions.map(|p| p & S_IFMT)
    }

    /// True if the permissions say directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == Some(S_IFDIR)
    }

    /// True if the permissions say regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == Some(S_IFREG)
    }

    /// True if the permissions say symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == Some(S_IFLNK)
    }

    /// Modification time, seconds since the Unix epoch.
    pub fn mtime(&self) -> Option<u32> {
        self.atime_mtime.map(|(_, m)| m)
    }

    /// Access time, seconds since the Unix epoch.
    pub fn atime(&self) -> Option<u32> {
        self.atime_mtime.map(|(a, _)| a)
    }

    /// The `flags` word this value encodes with.
    pub fn flags(&self) -> u32 {
        let mut flags = 0;
        if self.size.is_some() {
            flags |= SSH_FILEXFER_ATTR_SIZE;
        }
        if self.uid_gid.is_some() {
            flags |= SSH_FILEXFER_ATTR_UIDGID;
        }
        if self.permissions.is_some() {
            flags |= SSH_FILEXFER_ATTR_PERMISSIONS;
        }
        if self.atime_mtime.is_some() {
            flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        }
        if !self.extended.is_empty() {
            flags |= SSH_FILEXFER_ATTR_EXTENDED;
        }
        flags
    }

    /// Number of bytes [`FileAttrs::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        let mut len = 4;
        if self.size.is_some() {
            len += 8;
        }
        if self.uid_gid.is_some() {
            len += 8;
        }
        if self.permissions.is_some() {
            len += 4;
        }
        if self.atime_mtime.is_some() {
            len += 8;
        }
        if !self.extended.is_empty() {
            len += 4;
            for (name, data) in &self.extended {
                len += string_len(name) + string_len(data);
            }
        }
        len
    }

    /// Append the `ATTRS` encoding to `out`. The `EXTENDED` flag is set only when there is
    /// at least one extended pair.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32(self.flags());
        if let Some(size) = self.size {
            out.put_u64(size);
        }
        if let Some((uid, gid)) = self.uid_gid {
            out.put_u32(uid);
            out.put_u32(gid);
        }
        if let Some(perm) = self.permissions {
            out.put_u32(perm);
        }
        if let Some((atime, mtime)) = self.atime_mtime {
            out.put_u32(atime);
            out.put_u32(mtime);
        }
        if !self.extended.is_empty() {
            out.put_u32(self.extended.len() as u32);
            for (name, data) in &self.extended {
                put_string(out, name);
                put_string(out, data);
            }
        }
    }

    /// Decode an `ATTRS` from the front of `buf`, consuming exactly its bytes. Extended
    /// strings are zero-copy slices of `buf`. A declared extended count larger than the
    /// remaining bytes could hold is rejected before anything is allocated.
    pub fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let flags = get_u32(buf, "attrs flags")?;
        let mut attrs = FileAttrs::default();
        if flags & SSH_FILEXFER_ATTR_SIZE != 0 {
            attrs.size = Some(get_u64(buf, "attrs size")?);
        }
        if flags & SSH_FILEXFER_ATTR_UIDGID != 0 {
            let uid = get_u32(buf, "attrs uid")?;
            let gid = get_u32(buf, "attrs gid")?;
            attrs.uid_gid = Some((uid, gid));
        }
        if flags & SSH_FILEXFER_ATTR_PERMISSIONS != 0 {
            attrs.permissions = Some(get_u32(buf, "attrs permissions")?);
        }
        if flags & SSH_FILEXFER_ATTR_ACMODTIME != 0 {
            let atime = get_u32(buf, "attrs atime")?;
            let mtime = get_u32(buf, "attrs mtime")?;
            attrs.atime_mtime = Some((atime, mtime));
        }
        if flags & SSH_FILEXFER_ATTR_EXTENDED != 0 {
            let count = get_u32(buf, "attrs extended count")? as usize;
            if count > buf.len() / MIN_EXTENDED_PAIR {
                return Err(DecodeError::Truncated {
                    what: "attrs extended pairs",
                });
            }
            let mut extended = Vec::with_capacity(count);
            for _ in 0..count {
                let name = get_string(buf, "attrs extended type")?;
                let data = get_string(buf, "attrs extended data")?;
                extended.push((name, data));
            }
            attrs.extended = extended;
        }
        Ok(attrs)
    }
}
