//! Decoding SFTP frames into [`Packet`]s: [`Packet::decode`] takes one length-prefixed
//! frame off a buffer, [`Packet::decode_body`] parses a frame body by its type byte. Total:
//! any byte string yields a packet, `Ok(None)` or a [`DecodeError`], never a panic.

use bytes::{Buf, Bytes, BytesMut};

use super::*;
use crate::error::DecodeError;
use crate::wire::{finish, get_pairs_to_end, get_string, get_u32, get_u64, get_u8};

impl Packet {
    /// Take one framed packet off the front of `buf`.
    ///
    /// - `Ok(None)`: `buf` holds only part of a frame; nothing is consumed.
    /// - `Err(TooLong)`: the declared length exceeds `max_packet_len`; reported from the
    ///   4-byte prefix alone, before anything is buffered or allocated; nothing is consumed.
    /// - Any other error: the whole frame has been consumed (the stream stays aligned, but
    ///   the peer is misbehaving and the session should usually be dropped).
    ///
    /// Strings and data in the result are zero-copy slices of the frame.
    pub fn decode(buf: &mut BytesMut, max_packet_len: u32) -> Result<Option<Packet>, DecodeError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(prefix);
        let len = u32::from_be_bytes(len_bytes);
        if len > max_packet_len {
            return Err(DecodeError::TooLong {
                len,
                max: max_packet_len,
            });
        }
        let Some(total) = usize::try_from(len).ok().and_then(|l| l.checked_add(4)) else {
            return Err(DecodeError::TooLong {
                len,
                max: max_packet_len,
            });
        };
        if buf.len() < total {
            return Ok(None);
        }
        let mut frame = buf.split_to(total).freeze();
        frame.advance(4);
        Packet::decode_body(frame).map(Some)
    }

    /// Decode one frame body (type byte + payload, without the length prefix).
    pub fn decode_body(mut body: Bytes) -> Result<Packet, DecodeError> {
        let ty = get_u8(&mut body, "packet type")?;
        let b = &mut body;
        let packet = match ty {
            SSH_FXP_INIT => {
                let version = get_u32(b, "INIT version")?;
                let extensions = get_pairs_to_end(b, "INIT extension")?;
                return Ok(Packet::Init {
                    version,
                    extensions,
                });
            }
            SSH_FXP_VERSION => {
                let version = get_u32(b, "VERSION version")?;
                let extensions = get_pairs_to_end(b, "VERSION extension")?;
                return Ok(Packet::Version {
                    version,
                    extensions,
                });
            }
            SSH_FXP_OPEN => Packet::Open {
                id: get_u32(b, "request id")?,
                filename: get_string(b, "OPEN filename")?,
                pflags: OpenFlags(get_u32(b, "OPEN pflags")?),
                attrs: FileAttrs::decode(b)?,
            },
            SSH_FXP_CLOSE => Packet::Close {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "CLOSE handle")?,
            },
            SSH_FXP_READ => Packet::Read {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "READ handle")?,
                offset: get_u64(b, "READ offset")?,
                len: get_u32(b, "READ len")?,
            },
            SSH_FXP_WRITE => Packet::Write {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "WRITE handle")?,
                offset: get_u64(b, "WRITE offset")?,
                data: get_string(b, "WRITE data")?,
            },
            SSH_FXP_LSTAT => Packet::Lstat {
                id: get_u32(b, "request id")?,
                path: get_string(b, "LSTAT path")?,
            },
            SSH_FXP_FSTAT => Packet::Fstat {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "FSTAT handle")?,
            },
            SSH_FXP_SETSTAT => Packet::Setstat {
                id: get_u32(b, "request id")?,
                path: get_string(b, "SETSTAT path")?,
                attrs: FileAttrs::decode(b)?,
            },
            SSH_FXP_FSETSTAT => Packet::Fsetstat {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "FSETSTAT handle")?,
                attrs: FileAttrs::decode(b)?,
            },
            SSH_FXP_OPENDIR => Packet::Opendir {
                id: get_u32(b, "request id")?,
                path: get_string(b, "OPENDIR path")?,
            },
            SSH_FXP_READDIR => Packet::Readdir {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "READDIR handle")?,
            },
            SSH_FXP_REMOVE => Packet::Remove {
                id: get_u32(b, "request id")?,
                filename: get_string(b, "REMOVE filename")?,
            },
            SSH_FXP_MKDIR => Packet::Mkdir {
                id: get_u32(b, "request id")?,
                path: get_string(b, "MKDIR path")?,
                attrs: FileAttrs::decode(b)?,
            },
            SSH_FXP_RMDIR => Packet::Rmdir {
                id: get_u32(b, "request id")?,
                path: get_string(b, "RMDIR path")?,
            },
            SSH_FXP_REALPATH => Packet::Realpath {
                id: get_u32(b, "request id")?,
                path: get_string(b, "REALPATH path")?,
            },
            SSH_FXP_STAT => Packet::Stat {
                id: get_u32(b, "request id")?,
                path: get_string(b, "STAT path")?,
            },
            SSH_FXP_RENAME => Packet::Rename {
                id: get_u32(b, "request id")?,
                old: get_string(b, "RENAME oldpath")?,
                new: get_string(b, "RENAME newpath")?,
            },
            SSH_FXP_READLINK => Packet::Readlink {
                id: get_u32(b, "request id")?,
                path: get_string(b, "READLINK path")?,
            },
            SSH_FXP_SYMLINK => {
                let id = get_u32(b, "request id")?;
                // OpenSSH order: target first.
                let targetpath = get_string(b, "SYMLINK targetpath")?;
                let linkpath = get_string(b, "SYMLINK linkpath")?;
                Packet::Symlink {
                    id,
                    linkpath,
                    targetpath,
                }
            }
            SSH_FXP_EXTENDED => {
                let id = get_u32(b, "request id")?;
                let name = get_string(b, "EXTENDED request name")?;
                Packet::Extended {
                    id,
                    request: Extension::decode(name, b)?,
                }
            }
            SSH_FXP_STATUS => {
                let id = get_u32(b, "request id")?;
                let code = StatusCode::from_u32(get_u32(b, "STATUS code")?);
                let message = if b.is_empty() {
                    Bytes::new()
                } else {
                    get_string(b, "STATUS message")?
                };
                let language = if b.is_empty() {
                    Bytes::new()
                } else {
                    get_string(b, "STATUS language")?
                };
                Packet::Status {
                    id,
                    code,
                    message,
                    language,
                }
            }
            SSH_FXP_HANDLE => Packet::Handle {
                id: get_u32(b, "request id")?,
                handle: get_string(b, "HANDLE handle")?,
            },
            SSH_FXP_DATA => Packet::Data {
                id: get_u32(b, "request id")?,
                data: get_string(b, "DATA data")?,
            },
            SSH_FXP_NAME => {
                let id = get_u32(b, "request id")?;
                let count = get_u32(b, "NAME count")? as usize;
                if count > b.len() / MIN_NAME_ENTRY {
                    return Err(DecodeError::Truncated {
                        what: "NAME entries",
                    });
                }
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    entries.push(NameEntry {
                        filename: get_string(b, "NAME filename")?,
                        longname: get_string(b, "NAME longname")?,
                        attrs: FileAttrs::decode(b)?,
                    });
                }
                Packet::Name { id, entries }
            }
            SSH_FXP_ATTRS => Packet::Attrs {
                id: get_u32(b, "request id")?,
                attrs: FileAttrs::decode(b)?,
            },
            SSH_FXP_EXTENDED_REPLY => {
                let id = get_u32(b, "request id")?;
                Packet::ExtendedReply {
                    id,
                    data: std::mem::take(b),
                }
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        finish(&body, packet.name())?;
        Ok(packet)
    }
}
