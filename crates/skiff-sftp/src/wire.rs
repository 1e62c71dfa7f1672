//! Primitive SSH wire types (draft-ietf-secsh-filexfer-02 §3, RFC 4251 §5): big-endian
//! `uint32`/`uint64` and length-prefixed `string`.
//!
//! Readers take a `&mut Bytes` cursor and consume from its front; strings are zero-copy
//! slices of the frame. Every read checks the remaining length first, so no read can panic.
//! Private to the crate: the public surface is packets and attributes, not primitives.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::DecodeError;

pub(crate) fn get_u8(buf: &mut Bytes, what: &'static str) -> Result<u8, DecodeError> {
    if buf.remaining() < 1 {
        return Err(DecodeError::Truncated { what });
    }
    Ok(buf.get_u8())
}

pub(crate) fn get_u32(buf: &mut Bytes, what: &'static str) -> Result<u32, DecodeError> {
    if buf.remaining() < 4 {
        return Err(DecodeError::Truncated { what });
    }
    Ok(buf.get_u32())
}

pub(crate) fn get_u64(buf: &mut Bytes, what: &'static str) -> Result<u64, DecodeError> {
    if buf.remaining() < 8 {
        return Err(DecodeError::Truncated { what });
    }
    Ok(buf.get_u64())
}

/// Read a `string`: uint32 length then that many bytes, returned as a slice of `buf`.
pub(crate) fn get_string(buf: &mut Bytes, what: &'static str) -> Result<Bytes, DecodeError> {
    let len = get_u32(buf, what)?;
    let len = usize::try_from(len).map_err(|_| DecodeError::Truncated { what })?;
    if buf.remaining() < len {
        return Err(DecodeError::Truncated { what });
    }
    Ok(buf.split_to(len))
}

/// Fail if anything is left after a packet (or extension body) was fully decoded.
pub(crate) fn finish(buf: &Bytes, packet: &'static str) -> Result<(), DecodeError> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            packet,
            extra: buf.len(),
        })
    }
}

/// Write a `string`. Lengths above `u32::MAX` cannot be framed; such a value is never
/// produced by a caller that respects the negotiated packet limit.
pub(crate) fn put_string(out: &mut BytesMut, s: &[u8]) {
    out.put_u32(s.len() as u32);
    out.put_slice(s);
}

/// Encoded size of a `string`.
pub(crate) const fn string_len(s: &[u8]) -> usize {
    4 + s.len()
}

/// Read `name`/`data` string pairs until `buf` is empty (INIT/VERSION extension lists).
pub(crate) fn get_pairs_to_end(
    buf: &mut Bytes,
    what: &'static str,
) -> Result<Vec<(Bytes, Bytes)>, DecodeError> {
    let mut pairs = Vec::new();
    while !buf.is_empty() {
        let name = get_string(buf, what)?;
        let data = get_string(buf, what)?;
        pairs.push((name, data));
    }
    Ok(pairs)
}
