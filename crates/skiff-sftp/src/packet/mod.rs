//! SFTP packets: framing, encode and decode (draft-ietf-secsh-filexfer-02 §3–§7).
//!
//! Owns [`Packet`] (requests and replies share one enum; their type bytes differ),
//! [`OpenFlags`], [`NameEntry`], the `SSH_FXP_*` type constants, and the WRITE-header fast
//! path [`encode_write_header`]. It does no I/O and keeps no state: the caller owns the
//! buffers, the request-id table and the negotiated maximum packet length.
//!
//! Frame: `uint32 length` (of what follows), `byte type`, then the type's fields. Every
//! packet except INIT and VERSION starts with `uint32 id`.
//!
//! Decoding is total: any byte string yields a packet, `Ok(None)` (need more bytes) or a
//! [`DecodeError`], never a panic. Strings and data are zero-copy slices of the frame.
//! Decoding lives in the `decode` submodule (a second `impl Packet`); this file keeps the
//! types, the constants and encoding.

mod decode;

use std::ops::{BitOr, BitOrAssign};

use bytes::{BufMut, Bytes, BytesMut};

use crate::attrs::FileAttrs;
use crate::ext::Extension;
use crate::status::StatusCode;
use crate::wire::{put_string, string_len};

/// `SSH_FXP_INIT`
pub const SSH_FXP_INIT: u8 = 1;
/// `SSH_FXP_VERSION`
pub const SSH_FXP_VERSION: u8 = 2;
/// `SSH_FXP_OPEN`
pub const SSH_FXP_OPEN: u8 = 3;
/// `SSH_FXP_CLOSE`
pub const SSH_FXP_CLOSE: u8 = 4;
/// `SSH_FXP_READ`
pub const SSH_FXP_READ: u8 = 5;
/// `SSH_FXP_WRITE`
pub const SSH_FXP_WRITE: u8 = 6;
/// `SSH_FXP_LSTAT`
pub const SSH_FXP_LSTAT: u8 = 7;
/// `SSH_FXP_FSTAT`
pub const SSH_FXP_FSTAT: u8 = 8;
/// `SSH_FXP_SETSTAT`
pub const SSH_FXP_SETSTAT: u8 = 9;
/// `SSH_FXP_FSETSTAT`
pub const SSH_FXP_FSETSTAT: u8 = 10;
/// `SSH_FXP_OPENDIR`
pub const SSH_FXP_OPENDIR: u8 = 11;
/// `SSH_FXP_READDIR`
pub const SSH_FXP_READDIR: u8 = 12;
/// `SSH_FXP_REMOVE`
pub const SSH_FXP_REMOVE: u8 = 13;
/// `SSH_FXP_MKDIR`
pub const SSH_FXP_MKDIR: u8 = 14;
/// `SSH_FXP_RMDIR`
pub const SSH_FXP_RMDIR: u8 = 15;
/// `SSH_FXP_REALPATH`
pub const SSH_FXP_REALPATH: u8 = 16;
/// `SSH_FXP_STAT`
pub const SSH_FXP_STAT: u8 = 17;
/// `SSH_FXP_RENAME`
pub const SSH_FXP_RENAME: u8 = 18;
/// `SSH_FXP_READLINK`
pub const SSH_FXP_READLINK: u8 = 19;
/// `SSH_FXP_SYMLINK`
pub const SSH_FXP_SYMLINK: u8 = 20;
/// `SSH_FXP_STATUS`
pub const SSH_FXP_STATUS: u8 = 101;
/// `SSH_FXP_HANDLE`
pub const SSH_FXP_HANDLE: u8 = 102;
/// `SSH_FXP_DATA`
pub const SSH_FXP_DATA: u8 = 103;
/// `SSH_FXP_NAME`
pub const SSH_FXP_NAME: u8 = 104;
/// `SSH_FXP_ATTRS`
pub const SSH_FXP_ATTRS: u8 = 105;
/// `SSH_FXP_EXTENDED`
pub const SSH_FXP_EXTENDED: u8 = 200;
/// `SSH_FXP_EXTENDED_REPLY`
pub const SSH_FXP_EXTENDED_REPLY: u8 = 201;

/// Bytes of a WRITE packet before its payload, excluding the handle's own bytes:
/// length prefix 4, type 1, id 4, handle length 4, offset 8, data length 4.
pub const WRITE_HEADER_OVERHEAD: usize = 4 + 1 + 4 + 4 + 8 + 4;

/// Bytes of a DATA reply before its payload: length prefix 4, type 1, id 4, data length 4.
/// With a read length of `n`, a DATA reply is at most `n + DATA_HEADER_LEN` bytes.
pub const DATA_HEADER_LEN: usize = 4 + 1 + 4 + 4;

/// Smallest encoding of one NAME entry: empty filename, empty longname, attrs flags.
const MIN_NAME_ENTRY: usize = 4 + 4 + 4;

/// `pflags` of `SSH_FXP_OPEN`. Combine with `|`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    /// `SSH_FXF_READ`
    pub const READ: OpenFlags = OpenFlags(0x0000_0001);
    /// `SSH_FXF_WRITE`
    pub const WRITE: OpenFlags = OpenFlags(0x0000_0002);
    /// `SSH_FXF_APPEND`
    pub const APPEND: OpenFlags = OpenFlags(0x0000_0004);
    /// `SSH_FXF_CREAT`
    pub const CREAT: OpenFlags = OpenFlags(0x0000_0008);
    /// `SSH_FXF_TRUNC`
    pub const TRUNC: OpenFlags = OpenFlags(0x0000_0010);
    /// `SSH_FXF_EXCL`
    pub const EXCL: OpenFlags = OpenFlags(0x0000_0020);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for OpenFlags {
    fn bitor_assign(&mut self, rhs: OpenFlags) {
        self.0 |= rhs.0;
    }
}

/// One entry of an `SSH_FXP_NAME` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// File name (a bare name for READDIR, a full path for REALPATH/READLINK). Raw bytes:
    /// validate before turning it into a local path.
    pub filename: Bytes,
    /// `ls -l`-style line; for display only, its format is not specified.
    pub longname: Bytes,
    /// Attributes (may be empty).
    pub attrs: FileAttrs,
}

impl NameEntry {
    fn encoded_len(&self) -> usize {
        string_len(&self.filename) + string_len(&self.longname) + self.attrs.encoded_len()
    }
}

/// One SFTP packet, request or reply.
///
/// Field names follow the draft; every variant but `Init`/`Version` carries the request
/// `id` the reply echoes. Paths, file names and handles are raw bytes.
#[allow(missing_docs)] // fields are the draft's, documented there
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `SSH_FXP_INIT`: client's version, then extension pairs to end of packet.
    Init {
        /// Protocol version the client speaks ([`crate::SFTP_VERSION`]).
        version: u32,
        /// `(name, data)` pairs.
        extensions: Vec<(Bytes, Bytes)>,
    },
    /// `SSH_FXP_VERSION`: server's version, then extension pairs to end of packet.
    Version {
        /// Negotiated protocol version.
        version: u32,
        /// `(name, version)` pairs of supported extensions.
        extensions: Vec<(Bytes, Bytes)>,
    },
    /// `SSH_FXP_OPEN`
    Open {
        id: u32,
        filename: Bytes,
        pflags: OpenFlags,
        attrs: FileAttrs,
    },
    /// `SSH_FXP_CLOSE`
    Close { id: u32, handle: Bytes },
    /// `SSH_FXP_READ`
    Read {
        id: u32,
        handle: Bytes,
        offset: u64,
        len: u32,
    },
    /// `SSH_FXP_WRITE`
    Write {
        id: u32,
        handle: Bytes,
        offset: u64,
        data: Bytes,
    },
    /// `SSH_FXP_LSTAT`
    Lstat { id: u32, path: Bytes },
    /// `SSH_FXP_FSTAT`
    Fstat { id: u32, handle: Bytes },
    /// `SSH_FXP_SETSTAT`
    Setstat {
        id: u32,
        path: Bytes,
        attrs: FileAttrs,
    },
    /// `SSH_FXP_FSETSTAT`
    Fsetstat {
        id: u32,
        handle: Bytes,
        attrs: FileAttrs,
    },
    /// `SSH_FXP_OPENDIR`
    Opendir { id: u32, path: Bytes },
    /// `SSH_FXP_READDIR`
    Readdir { id: u32, handle: Bytes },
    /// `SSH_FXP_REMOVE`
    Remove { id: u32, filename: Bytes },
    /// `SSH_FXP_MKDIR`
    Mkdir {
        id: u32,
        path: Bytes,
        attrs: FileAttrs,
    },
    /// `SSH_FXP_RMDIR`
    Rmdir { id: u32, path: Bytes },
    /// `SSH_FXP_REALPATH`
    Realpath { id: u32, path: Bytes },
    /// `SSH_FXP_STAT`
    Stat { id: u32, path: Bytes },
    /// `SSH_FXP_RENAME` (fails if `new` exists on OpenSSH; prefer `posix-rename`).
    Rename { id: u32, old: Bytes, new: Bytes },
    /// `SSH_FXP_READLINK`
    Readlink { id: u32, path: Bytes },
    /// `SSH_FXP_SYMLINK`: create `linkpath` pointing at `targetpath`.
    ///
    /// **Wire order is OpenSSH's, not the draft's:** `targetpath` first, then `linkpath`.
    /// The draft says linkpath first, but OpenSSH (and so nearly every server) swapped them
    /// long ago and cannot change; this codec follows OpenSSH both ways.
    Symlink {
        id: u32,
        linkpath: Bytes,
        targetpath: Bytes,
    },
    /// `SSH_FXP_EXTENDED`
    Extended { id: u32, request: Extension },
    /// `SSH_FXP_STATUS`. On decode, a missing message and/or language tag (some old
    /// servers omit them) reads as empty; encode always writes both.
    Status {
        id: u32,
        code: StatusCode,
        message: Bytes,
        language: Bytes,
    },
    /// `SSH_FXP_HANDLE`
    Handle { id: u32, handle: Bytes },
    /// `SSH_FXP_DATA`
    Data { id: u32, data: Bytes },
    /// `SSH_FXP_NAME`
    Name { id: u32, entries: Vec<NameEntry> },
    /// `SSH_FXP_ATTRS`
    Attrs { id: u32, attrs: FileAttrs },
    /// `SSH_FXP_EXTENDED_REPLY`: raw payload; decode it with the type matching the request
    /// (e.g. [`crate::Limits::decode`]).
    ExtendedReply { id: u32, data: Bytes },
}

impl Packet {
    /// Request id, `None` for Init/Version.
    pub fn id(&self) -> Option<u32> {
        use Packet::*;
        match self {
            Init { .. } | Version { .. } => None,
            Open { id, .. }
            | Close { id, .. }
            | Read { id, .. }
            | Write { id, .. }
            | Lstat { id, .. }
            | Fstat { id, .. }
            | Setstat { id, .. }
            | Fsetstat { id, .. }
            | Opendir { id, .. }
            | Readdir { id, .. }
            | Remove { id, .. }
            | Mkdir { id, .. }
            | Rmdir { id, .. }
            | Realpath { id, .. }
            | Stat { id, .. }
            | Rename { id, .. }
            | Readlink { id, .. }
            | Symlink { id, .. }
            | Extended { id, .. }
            | Status { id, .. }
            | Handle { id, .. }
            | Data { id, .. }
            | Name { id, .. }
            | Attrs { id, .. }
            | ExtendedReply { id, .. } => Some(*id),
        }
    }

    /// The `SSH_FXP_*` type byte.
    pub fn packet_type(&self) -> u8 {
        use Packet::*;
        match self {
            Init { .. } => SSH_FXP_INIT,
            Version { .. } => SSH_FXP_VERSION,
            Open { .. } => SSH_FXP_OPEN,
            Close { .. } => SSH_FXP_CLOSE,
            Read { .. } => SSH_FXP_READ,
            Write { .. } => SSH_FXP_WRITE,
            Lstat { .. } => SSH_FXP_LSTAT,
            Fstat { .. } => SSH_FXP_FSTAT,
            Setstat { .. } => SSH_FXP_SETSTAT,
            Fsetstat { .. } => SSH_FXP_FSETSTAT,
            Opendir { .. } => SSH_FXP_OPENDIR,
            Readdir { .. } => SSH_FXP_READDIR,
            Remove { .. } => SSH_FXP_REMOVE,
            Mkdir { .. } => SSH_FXP_MKDIR,
            Rmdir { .. } => SSH_FXP_RMDIR,
            Realpath { .. } => SSH_FXP_REALPATH,
            Stat { .. } => SSH_FXP_STAT,
            Rename { .. } => SSH_FXP_RENAME,
            Readlink { .. } => SSH_FXP_READLINK,
            Symlink { .. } => SSH_FXP_SYMLINK,
            Extended { .. } => SSH_FXP_EXTENDED,
            Status { .. } => SSH_FXP_STATUS,
            Handle { .. } => SSH_FXP_HANDLE,
            Data { .. } => SSH_FXP_DATA,
            Name { .. } => SSH_FXP_NAME,
            Attrs { .. } => SSH_FXP_ATTRS,
            ExtendedReply { .. } => SSH_FXP_EXTENDED_REPLY,
        }
    }

    /// The packet's short name (`"OPEN"`, `"STATUS"`, ...), for errors and logs.
    pub fn name(&self) -> &'static str {
        type_name(self.packet_type()).unwrap_or("UNKNOWN")
    }

    /// Length of everything after the length prefix: type byte plus fields.
    fn body_len(&self) -> usize {
        use Packet::*;
        let fields = match self {
            Init { extensions, .. } | Version { extensions, .. } => {
                4 + extensions
                    .iter()
                    .map(|(n, d)| string_len(n) + string_len(d))
                    .sum::<usize>()
            }
            Open {
                filename, attrs, ..
            } => 4 + string_len(filename) + 4 + attrs.encoded_len(),
            Close { handle, .. }
            | Fstat { handle, .. }
            | Readdir { handle, .. }
            | Handle { handle, .. } => 4 + string_len(handle),
            Read { handle, .. } => 4 + string_len(handle) + 8 + 4,
            Write { handle, data, .. } => 4 + string_len(handle) + 8 + string_len(data),
            Lstat { path, .. }
            | Opendir { path, .. }
            | Rmdir { path, .. }
            | Realpath { path, .. }
            | Stat { path, .. }
            | Readlink { path, .. } => 4 + string_len(path),
            Remove { filename, .. } => 4 + string_len(filename),
            Setstat { path, attrs, .. } | Mkdir { path, attrs, .. } => {
                4 + string_len(path) + attrs.encoded_len()
            }
            Fsetstat { handle, attrs, .. } => 4 + string_len(handle) + attrs.encoded_len(),
            Rename { old, new, .. } => 4 + string_len(old) + string_len(new),
            Symlink {
                linkpath,
                targetpath,
                ..
            } => 4 + string_len(targetpath) + string_len(linkpath),
            Extended { request, .. } => 4 + request.encoded_len(),
            Status {
                message, language, ..
            } => 4 + 4 + string_len(message) + string_len(language),
            Data { data, .. } => 4 + string_len(data),
            Name { entries, .. } => {
                4 + 4 + entries.iter().map(NameEntry::encoded_len).sum::<usize>()
            }
            Attrs { attrs, .. } => 4 + attrs.encoded_len(),
            ExtendedReply { data, .. } => 4 + data.len(),
        };
        1 + fields
    }

    /// Encoded length including the 4-byte length prefix (so callers can reserve/budget).
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Append the full framed packet (`uint32 length`, `byte type`, body) to `out`.
    ///
    /// A packet whose body exceeds `u32::MAX` bytes cannot be framed; keeping packets
    /// within the negotiated maximum is the caller's job (check [`Packet::encoded_len`]).
    pub fn encode(&self, out: &mut BytesMut) {
        use Packet::*;
        let body_len = self.body_len();
        out.reserve(4 + body_len);
        out.put_u32(body_len as u32);
        out.put_u8(self.packet_type());
        match self {
            Init {
                version,
                extensions,
            }
            | Version {
                version,
                extensions,
            } => {
                out.put_u32(*version);
                for (name, data) in extensions {
                    put_string(out, name);
                    put_string(out, data);
                }
            }
            Open {
                id,
                filename,
                pflags,
                attrs,
            } => {
                out.put_u32(*id);
                put_string(out, filename);
                out.put_u32(pflags.0);
                attrs.encode(out);
            }
            Close { id, handle }
            | Fstat { id, handle }
            | Readdir { id, handle }
            | Handle { id, handle } => {
                out.put_u32(*id);
                put_string(out, handle);
            }
            Read {
                id,
                handle,
                offset,
                len,
            } => {
                out.put_u32(*id);
                put_string(out, handle);
                out.put_u64(*offset);
                out.put_u32(*len);
            }
            Write {
                id,
                handle,
                offset,
                data,
            } => {
                out.put_u32(*id);
                put_string(out, handle);
                out.put_u64(*offset);
                put_string(out, data);
            }
            Lstat { id, path }
            | Opendir { id, path }
            | Rmdir { id, path }
            | Realpath { id, path }
            | Stat { id, path }
            | Readlink { id, path }
            | Remove { id, filename: path } => {
                out.put_u32(*id);
                put_string(out, path);
            }
            Setstat { id, path, attrs }
            | Mkdir { id, path, attrs }
            | Fsetstat {
                id,
                handle: path,
                attrs,
            } => {
                out.put_u32(*id);
                put_string(out, path);
                attrs.encode(out);
            }
            Rename { id, old, new } => {
                out.put_u32(*id);
                put_string(out, old);
                put_string(out, new);
            }
            Symlink {
                id,
                linkpath,
                targetpath,
            } => {
                out.put_u32(*id);
                // OpenSSH order: target first.
                put_string(out, targetpath);
                put_string(out, linkpath);
            }
            Extended { id, request } => {
                out.put_u32(*id);
                request.encode(out);
            }
            Status {
                id,
                code,
                message,
                language,
            } => {
                out.put_u32(*id);
                out.put_u32(code.to_u32());
                put_string(out, message);
                put_string(out, language);
            }
            Data { id, data } => {
                out.put_u32(*id);
                put_string(out, data);
            }
            Name { id, entries } => {
                out.put_u32(*id);
                out.put_u32(entries.len() as u32);
                for entry in entries {
                    put_string(out, &entry.filename);
                    put_string(out, &entry.longname);
                    entry.attrs.encode(out);
                }
            }
            Attrs { id, attrs } => {
                out.put_u32(*id);
                attrs.encode(out);
            }
            ExtendedReply { id, data } => {
                out.put_u32(*id);
                out.put_slice(data);
            }
        }
    }
}

/// Short name of an `SSH_FXP_*` type byte, `None` if unknown.
pub fn type_name(ty: u8) -> Option<&'static str> {
    Some(match ty {
        SSH_FXP_INIT => "INIT",
        SSH_FXP_VERSION => "VERSION",
        SSH_FXP_OPEN => "OPEN",
        SSH_FXP_CLOSE => "CLOSE",
        SSH_FXP_READ => "READ",
        SSH_FXP_WRITE => "WRITE",
        SSH_FXP_LSTAT => "LSTAT",
        SSH_FXP_FSTAT => "FSTAT",
        SSH_FXP_SETSTAT => "SETSTAT",
        SSH_FXP_FSETSTAT => "FSETSTAT",
        SSH_FXP_OPENDIR => "OPENDIR",
        SSH_FXP_READDIR => "READDIR",
        SSH_FXP_REMOVE => "REMOVE",
        SSH_FXP_MKDIR => "MKDIR",
        SSH_FXP_RMDIR => "RMDIR",
        SSH_FXP_REALPATH => "REALPATH",
        SSH_FXP_STAT => "STAT",
        SSH_FXP_RENAME => "RENAME",
        SSH_FXP_READLINK => "READLINK",
        SSH_FXP_SYMLINK => "SYMLINK",
        SSH_FXP_STATUS => "STATUS",
        SSH_FXP_HANDLE => "HANDLE",
        SSH_FXP_DATA => "DATA",
        SSH_FXP_NAME => "NAME",
        SSH_FXP_ATTRS => "ATTRS",
        SSH_FXP_EXTENDED => "EXTENDED",
        SSH_FXP_EXTENDED_REPLY => "EXTENDED_REPLY",
        _ => return None,
    })
}

/// Fast path for the hot loop: encode a WRITE header only (length prefix, type, id, handle,
/// offset, data length), so the caller can send header and payload without copying the
/// payload into a new buffer. Header followed by exactly `data_len` payload bytes is
/// byte-identical to [`Packet::Write`]'s encoding. Appends
/// `WRITE_HEADER_OVERHEAD + handle.len()` bytes.
pub fn encode_write_header(id: u32, handle: &[u8], offset: u64, data_len: u32, out: &mut BytesMut) {
    // Everything after the length prefix: type, id, handle string, offset, data string.
    let body_len = (1 + 4 + 4 + 8 + 4 + handle.len() as u64).saturating_add(u64::from(data_len));
    out.reserve(WRITE_HEADER_OVERHEAD + handle.len());
    out.put_u32(u32::try_from(body_len).unwrap_or(u32::MAX));
    out.put_u8(SSH_FXP_WRITE);
    out.put_u32(id);
    put_string(out, handle);
    out.put_u64(offset);
    out.put_u32(data_len);
}
