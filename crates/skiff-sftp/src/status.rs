//! Status codes (`SSH_FXP_STATUS`, draft-ietf-secsh-filexfer-02 §7).
//!
//! Owns [`StatusCode`]: the numeric mapping and a human-readable `Display`. Classifying a
//! code for retry is the engine's business, not this module's.

use std::fmt;

/// `SSH_FX_OK`
pub const SSH_FX_OK: u32 = 0;
/// `SSH_FX_EOF`
pub const SSH_FX_EOF: u32 = 1;
/// `SSH_FX_NO_SUCH_FILE`
pub const SSH_FX_NO_SUCH_FILE: u32 = 2;
/// `SSH_FX_PERMISSION_DENIED`
pub const SSH_FX_PERMISSION_DENIED: u32 = 3;
/// `SSH_FX_FAILURE`
pub const SSH_FX_FAILURE: u32 = 4;
/// `SSH_FX_BAD_MESSAGE`
pub const SSH_FX_BAD_MESSAGE: u32 = 5;
/// `SSH_FX_NO_CONNECTION`
pub const SSH_FX_NO_CONNECTION: u32 = 6;
/// `SSH_FX_CONNECTION_LOST`
pub const SSH_FX_CONNECTION_LOST: u32 = 7;
/// `SSH_FX_OP_UNSUPPORTED`
pub const SSH_FX_OP_UNSUPPORTED: u32 = 8;

/// The error/status code of an `SSH_FXP_STATUS` reply.
///
/// Codes 0–8 always map to their named variant; [`StatusCode::Other`] only ever holds
/// codes above 8 when produced by [`StatusCode::from_u32`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// `SSH_FX_OK` (0): success.
    Ok,
    /// `SSH_FX_EOF` (1): end of file or of a directory listing.
    Eof,
    /// `SSH_FX_NO_SUCH_FILE` (2).
    NoSuchFile,
    /// `SSH_FX_PERMISSION_DENIED` (3).
    PermissionDenied,
    /// `SSH_FX_FAILURE` (4): generic failure.
    Failure,
    /// `SSH_FX_BAD_MESSAGE` (5): the server could not parse our packet.
    BadMessage,
    /// `SSH_FX_NO_CONNECTION` (6): client-side pseudo-code.
    NoConnection,
    /// `SSH_FX_CONNECTION_LOST` (7): client-side pseudo-code.
    ConnectionLost,
    /// `SSH_FX_OP_UNSUPPORTED` (8).
    OpUnsupported,
    /// Any code this version does not define (servers speaking later drafts send these).
    Other(u32),
}

impl StatusCode {
    /// Map a wire code to a variant.
    pub fn from_u32(code: u32) -> Self {
        match code {
            SSH_FX_OK => StatusCode::Ok,
            SSH_FX_EOF => StatusCode::Eof,
            SSH_FX_NO_SUCH_FILE => StatusCode::NoSuchFile,
            SSH_FX_PERMISSION_DENIED => StatusCode::PermissionDenied,
            SSH_FX_FAILURE => StatusCode::Failure,
            SSH_FX_BAD_MESSAGE => StatusCode::BadMessage,
            SSH_FX_NO_CONNECTION => StatusCode::NoConnection,
            SSH_FX_CONNECTION_LOST => StatusCode::ConnectionLost,
            SSH_FX_OP_UNSUPPORTED => StatusCode::OpUnsupported,
            other => StatusCode::Other(other),
        }
    }

    /// The wire code.
    pub fn to_u32(self) -> u32 {
        match self {
            StatusCode::Ok => SSH_FX_OK,
            StatusCode::Eof => SSH_FX_EOF,
            StatusCode::NoSuchFile => SSH_FX_NO_SUCH_FILE,
            StatusCode::PermissionDenied => SSH_FX_PERMISSION_DENIED,
            StatusCode::Failure => SSH_FX_FAILURE,
            StatusCode::BadMessage => SSH_FX_BAD_MESSAGE,
            StatusCode::NoConnection => SSH_FX_NO_CONNECTION,
            StatusCode::ConnectionLost => SSH_FX_CONNECTION_LOST,
            StatusCode::OpUnsupported => SSH_FX_OP_UNSUPPORTED,
            StatusCode::Other(code) => code,
        }
    }

    /// True for `SSH_FX_OK`.
    pub fn is_ok(self) -> bool {
        self == StatusCode::Ok
    }

    /// True for `SSH_FX_EOF`.
    pub fn is_eof(self) -> bool {
        self == StatusCode::Eof
    }
}

impl From<u32> for StatusCode {
    fn from(code: u32) -> Self {
        StatusCode::from_u32(code)
    }
}

impl From<StatusCode> for u32 {
    fn from(code: StatusCode) -> Self {
        code.to_u32()
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusCode::Ok => f.write_str("success"),
            StatusCode::Eof => f.write_str("end of file"),
            StatusCode::NoSuchFile => f.write_str("no such file or directory"),
            StatusCode::PermissionDenied => f.write_str("permission denied"),
            StatusCode::Failure => f.write_str("failure"),
            StatusCode::BadMessage => f.write_str("bad message"),
            StatusCode::NoConnection => f.write_str("no connection"),
            StatusCode::ConnectionLost => f.write_str("connection lost"),
            StatusCode::OpUnsupported => f.write_str("operation unsupported"),
            StatusCode::Other(code) => write!(f, "unknown status code {code}"),
        }
    }
}
