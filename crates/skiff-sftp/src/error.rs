//! Decode errors.
//!
//! Owns [`DecodeError`], the one error type every decoder in this crate returns. Encoding
//! never fails (the values are ours), so there is no encode error. This module knows nothing
//! about packets beyond the static names decoders pass in.

/// Why a frame (or a typed extension reply) could not be decoded.
///
/// Every variant means the peer sent something this codec will not accept; the connection
/// should be treated as broken. [`DecodeError::TooLong`] is reported from the 4-byte length
/// prefix alone, before the rest of the frame is buffered or allocated.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum DecodeError {
    /// The declared frame length is larger than the negotiated maximum.
    #[error("SFTP packet of {len} bytes exceeds the maximum of {max} bytes")]
    TooLong {
        /// Declared length (excluding the 4-byte prefix).
        len: u32,
        /// The maximum the caller accepts.
        max: u32,
    },
    /// The frame ended before `what` could be read.
    #[error("SFTP packet truncated: missing {what}")]
    Truncated {
        /// The field that was cut off.
        what: &'static str,
    },
    /// The packet type byte is not one this codec knows.
    #[error("unknown SFTP packet type {0}")]
    UnknownType(u8),
    /// A packet decoded fully but bytes were left over in its frame.
    #[error("{extra} unexpected trailing bytes after SFTP {packet} packet")]
    TrailingBytes {
        /// The packet (or extension) that was decoded.
        packet: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// Structurally wrong input that is not merely short.
    #[error("invalid SFTP packet: {0}")]
    Invalid(&'static str),
}
