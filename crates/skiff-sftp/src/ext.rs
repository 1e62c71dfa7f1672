//! OpenSSH SFTP extensions (OpenSSH `PROTOCOL` §4).
//!
//! Owns the request side ([`Extension`], the body of an `SSH_FXP_EXTENDED` after its id)
//! and the typed `SSH_FXP_EXTENDED_REPLY` payloads ([`Limits`], [`Statvfs`]). Replies are
//! decoded by the caller, who knows what it asked for: the wire does not say which request
//! an `EXTENDED_REPLY` answers. `expand-path@openssh.com` and `home-directory` are answered
//! with an ordinary `SSH_FXP_NAME`; the other requests without a typed reply here are
//! answered with `SSH_FXP_STATUS`.
//!
//! A server advertises each extension in its `VERSION` packet as a `(name, version)` pair;
//! use [`has_extension`] before sending one.

use bytes::{BufMut, Bytes, BytesMut};

use crate::attrs::FileAttrs;
use crate::error::DecodeError;
use crate::wire::{finish, get_string, get_u64, put_string, string_len};

/// `limits@openssh.com`
pub const LIMITS: &[u8] = b"limits@openssh.com";
/// `posix-rename@openssh.com`
pub const POSIX_RENAME: &[u8] = b"posix-rename@openssh.com";
/// `fsync@openssh.com`
pub const FSYNC: &[u8] = b"fsync@openssh.com";
/// `statvfs@openssh.com`
pub const STATVFS: &[u8] = b"statvfs@openssh.com";
/// `fstatvfs@openssh.com`
pub const FSTATVFS: &[u8] = b"fstatvfs@openssh.com";
/// `hardlink@openssh.com`
pub const HARDLINK: &[u8] = b"hardlink@openssh.com";
/// `expand-path@openssh.com`
pub const EXPAND_PATH: &[u8] = b"expand-path@openssh.com";
/// `home-directory`
pub const HOME_DIRECTORY: &[u8] = b"home-directory";
/// `copy-data`
pub const COPY_DATA: &[u8] = b"copy-data";
/// `lsetstat@openssh.com`
pub const LSETSTAT: &[u8] = b"lsetstat@openssh.com";

/// True if a `VERSION` extension list advertises `name` at `version` (OpenSSH advertises
/// every extension above at version `"1"`, except `statvfs`/`fstatvfs` at `"2"`).
pub fn has_extension(extensions: &[(Bytes, Bytes)], name: &[u8], version: &[u8]) -> bool {
    extensions
        .iter()
        .any(|(n, v)| n.as_ref() == name && v.as_ref() == version)
}

/// The request carried by an `SSH_FXP_EXTENDED` packet: `string name` followed by a
/// name-specific body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// `limits@openssh.com`: empty body; reply is [`Limits`] in an `EXTENDED_REPLY`.
    Limits,
    /// `posix-rename@openssh.com`: `string oldpath, string newpath`; replaces `new`
    /// atomically if it exists. Reply: `STATUS`.
    PosixRename {
        /// Existing path.
        old: Bytes,
        /// New path.
        new: Bytes,
    },
    /// `fsync@openssh.com`: `string handle`. Reply: `STATUS`.
    Fsync {
        /// Open file handle.
        handle: Bytes,
    },
    /// `statvfs@openssh.com`: `string path`. Reply: [`Statvfs`] in an `EXTENDED_REPLY`.
    Statvfs {
        /// Any path on the filesystem.
        path: Bytes,
    },
    /// `fstatvfs@openssh.com`: `string handle`. Reply: [`Statvfs`].
    Fstatvfs {
        /// Open handle on the filesystem.
        handle: Bytes,
    },
    /// `hardlink@openssh.com`: `string oldpath, string newpath`. Reply: `STATUS`.
    Hardlink {
        /// Existing path.
        old: Bytes,
        /// Path of the new link.
        new: Bytes,
    },
    /// `expand-path@openssh.com`: `string path` (may start with `~`). Reply: `NAME` with
    /// one entry.
    ExpandPath {
        /// Path to expand.
        path: Bytes,
    },
    /// `home-directory`: `string username` (empty for the logged-in user). Reply: `NAME`
    /// with one entry.
    HomeDirectory {
        /// User whose home directory is wanted.
        username: Bytes,
    },
    /// `copy-data`: server-side copy between two open handles. Body: `string
    /// read-from-handle, uint64 read-from-offset, uint64 read-data-length, string
    /// write-to-handle, uint64 write-to-offset`. A length of 0 copies to end of file.
    /// Reply: `STATUS`.
    CopyData {
        /// Handle opened for reading.
        read_handle: Bytes,
        /// Offset to read from.
        read_offset: u64,
        /// Bytes to copy (0 = to EOF).
        read_len: u64,
        /// Handle opened for writing.
        write_handle: Bytes,
        /// Offset to write at.
        write_offset: u64,
    },
    /// `lsetstat@openssh.com`: `string path, ATTRS attrs`; like `SETSTAT` but does not
    /// follow symlinks. Reply: `STATUS`.
    Lsetstat {
        /// Path (not followed if a symlink).
        path: Bytes,
        /// Attributes to set.
        attrs: FileAttrs,
    },
    /// Any other extension: its name and the raw rest of the packet.
    Other {
        /// Extension name.
        name: Bytes,
        /// Raw body.
        data: Bytes,
    },
}

impl Extension {
    /// The extension's wire name.
    pub fn name(&self) -> &[u8] {
        match self {
            Extension::Limits => LIMITS,
            Extension::PosixRename { .. } => POSIX_RENAME,
            Extension::Fsync { .. } => FSYNC,
            Extension::Statvfs { .. } => STATVFS,
            Extension::Fstatvfs { .. } => FSTATVFS,
            Extension::Hardlink { .. } => HARDLINK,
            Extension::ExpandPath { .. } => EXPAND_PATH,
            Extension::HomeDirectory { .. } => HOME_DIRECTORY,
            Extension::CopyData { .. } => COPY_DATA,
            Extension::Lsetstat { .. } => LSETSTAT,
            Extension::Other { name, .. } => name,
        }
    }

    /// Encoded size of `string name` plus the body.
    pub(crate) fn encoded_len(&self) -> usize {
        string_len(self.name())
            + match self {
                Extension::Limits => 0,
                Extension::PosixRename { old, new } | Extension::Hardlink { old, new } => {
                    string_len(old) + string_len(new)
                }
                Extension::Fsync { handle } | Extension::Fstatvfs { handle } => string_len(handle),
                Extension::Statvfs { path } | Extension::ExpandPath { path } => string_len(path),
                Extension::HomeDirectory { username } => string_len(username),
                Extension::CopyData {
                    read_handle,
                    write_handle,
                    ..
                } => string_len(read_handle) + 8 + 8 + string_len(write_handle) + 8,
                Extension::Lsetstat { path, attrs } => string_len(path) + attrs.encoded_len(),
                Extension::Other { data, .. } => data.len(),
            }
    }

    /// Append `string name` plus the body.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_string(out, self.name());
        match self {
            Extension::Limits => {}
            Extension::PosixRename { old, new } | Extension::Hardlink { old, new } => {
                put_string(out, old);
                put_string(out, new);
            }
            Extension::Fsync { handle } | Extension::Fstatvfs { handle } => put_string(out, handle),
            Extension::Statvfs { path } | Extension::ExpandPath { path } => put_string(out, path),
            Extension::HomeDirectory { username } => put_string(out, username),
            Extension::CopyData {
                read_handle,
                read_offset,
                read_len,
                write_handle,
                write_offset,
            } => {
                put_string(out, read_handle);
                out.put_u64(*read_offset);
                out.put_u64(*read_len);
                put_string(out, write_handle);
                out.put_u64(*write_offset);
            }
            Extension::Lsetstat { path, attrs } => {
                put_string(out, path);
                attrs.encode(out);
            }
            Extension::Other { data, .. } => out.put_slice(data),
        }
    }

    /// Decode the body of a request named `name` from `buf` (the rest of the packet).
    /// Known names must consume the packet exactly; unknown names take it all as
    /// [`Extension::Other`].
    pub(crate) fn decode(name: Bytes, buf: &mut Bytes) -> Result<Self, DecodeError> {
        let (ext, label) = match name.as_ref() {
            LIMITS => (Extension::Limits, "EXTENDED limits@openssh.com"),
            POSIX_RENAME => (
                Extension::PosixRename {
                    old: get_string(buf, "posix-rename oldpath")?,
                    new: get_string(buf, "posix-rename newpath")?,
                },
                "EXTENDED posix-rename@openssh.com",
            ),
            FSYNC => (
                Extension::Fsync {
                    handle: get_string(buf, "fsync handle")?,
                },
                "EXTENDED fsync@openssh.com",
            ),
            STATVFS => (
                Extension::Statvfs {
                    path: get_string(buf, "statvfs path")?,
                },
                "EXTENDED statvfs@openssh.com",
            ),
            FSTATVFS => (
                Extension::Fstatvfs {
                    handle: get_string(buf, "fstatvfs handle")?,
                },
                "EXTENDED fstatvfs@openssh.com",
            ),
            HARDLINK => (
                Extension::Hardlink {
                    old: get_string(buf, "hardlink oldpath")?,
                    new: get_string(buf, "hardlink newpath")?,
                },
                "EXTENDED hardlink@openssh.com",
            ),
            EXPAND_PATH => (
                Extension::ExpandPath {
                    path: get_string(buf, "expand-path path")?,
                },
                "EXTENDED expand-path@openssh.com",
            ),
            HOME_DIRECTORY => (
                Extension::HomeDirectory {
                    username: get_string(buf, "home-directory username")?,
                },
                "EXTENDED home-directory",
            ),
            COPY_DATA => (
                Extension::CopyData {
                    read_handle: get_string(buf, "copy-data read handle")?,
                    read_offset: get_u64(buf, "copy-data read offset")?,
                    read_len: get_u64(buf, "copy-data read length")?,
                    write_handle: get_string(buf, "copy-data write handle")?,
                    write_offset: get_u64(buf, "copy-data write offset")?,
                },
                "EXTENDED copy-data",
            ),
            LSETSTAT => (
                Extension::Lsetstat {
                    path: get_string(buf, "lsetstat path")?,
                    attrs: FileAttrs::decode(buf)?,
                },
                "EXTENDED lsetstat@openssh.com",
            ),
            _ => {
                return Ok(Extension::Other {
                    name,
                    data: std::mem::take(buf),
                })
            }
        };
        finish(buf, label)?;
        Ok(ext)
    }
}

/// Reply to `limits@openssh.com` (OpenSSH ≥ 8.6). A zero means "no limit" / unknown.
/// OpenSSH answers `max_packet_len` 256 KiB and `max_read_len`/`max_write_len` 255 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest packet (length field value) the server accepts.
    pub max_packet_len: u64,
    /// Largest READ length the server will honour in full.
    pub max_read_len: u64,
    /// Largest WRITE payload the server accepts.
    pub max_write_len: u64,
    /// Most handles the server lets one session hold open.
    pub max_open_handles: u64,
}

impl Limits {
    /// Encoded size: four `uint64`.
    pub const ENCODED_LEN: usize = 32;

    /// Decode from an `EXTENDED_REPLY` payload. Bytes after the four fields are ignored, so a
    /// newer server that appends fields still decodes.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut buf = Bytes::copy_from_slice(data);
        let b = &mut buf;
        Ok(Limits {
            max_packet_len: get_u64(b, "limits max-packet-length")?,
            max_read_len: get_u64(b, "limits max-read-length")?,
            max_write_len: get_u64(b, "limits max-write-length")?,
            max_open_handles: get_u64(b, "limits max-open-handles")?,
        })
    }

    /// Append the `EXTENDED_REPLY` payload.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(Self::ENCODED_LEN);
        out.put_u64(self.max_packet_len);
        out.put_u64(self.max_read_len);
        out.put_u64(self.max_write_len);
        out.put_u64(self.max_open_handles);
    }
}

/// Reply to `statvfs@openssh.com` / `fstatvfs@openssh.com`: the fields of POSIX
/// `struct statvfs`, each as `uint64`, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statvfs {
    /// File system block size.
    pub bsize: u64,
    /// Fundamental file system block size.
    pub frsize: u64,
    /// Number of blocks (in `frsize` units).
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for non-root.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Free inodes for non-root.
    pub favail: u64,
    /// File system id.
    pub fsid: u64,
    /// Bit mask of [`Statvfs::ST_RDONLY`] and [`Statvfs::ST_NOSUID`].
    pub flag: u64,
    /// Maximum filename length.
    pub namemax: u64,
}

impl Statvfs {
    /// Encoded size: eleven `uint64`.
    pub const ENCODED_LEN: usize = 88;
    /// `SSH_FXE_STATVFS_ST_RDONLY`: read-only file system.
    pub const ST_RDONLY: u64 = 0x1;
    /// `SSH_FXE_STATVFS_ST_NOSUID`: no setuid.
    pub const ST_NOSUID: u64 = 0x2;

    /// Decode from an `EXTENDED_REPLY` payload. Bytes after the eleven fields are ignored.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut buf = Bytes::copy_from_slice(data);
        let b = &mut buf;
        Ok(Statvfs {
            bsize: get_u64(b, "statvfs f_bsize")?,
            frsize: get_u64(b, "statvfs f_frsize")?,
            blocks: get_u64(b, "statvfs f_blocks")?,
            bfree: get_u64(b, "statvfs f_bfree")?,
            bavail: get_u64(b, "statvfs f_bavail")?,
            files: get_u64(b, "statvfs f_files")?,
            ffree: get_u64(b, "statvfs f_ffree")?,
            favail: get_u64(b, "statvfs f_favail")?,
            fsid: get_u64(b, "statvfs f_fsid")?,
            flag: get_u64(b, "statvfs f_flag")?,
            namemax: get_u64(b, "statvfs f_namemax")?,
        })
    }

    /// Append the `EXTENDED_REPLY` payload.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(Self::ENCODED_LEN);
        for v in [
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.flag,
            self.namemax,
        ] {
            out.put_u64(v);
        }
    }

    /// Bytes available to an unprivileged user (`frsize × bavail`, saturating).
    pub fn available_bytes(&self) -> u64 {
        self.frsize.saturating_mul(self.bavail)
    }

    /// True if the file system is mounted read-only.
    pub fn is_read_only(&self) -> bool {
        self.flag & Self::ST_RDONLY != 0
    }
}
