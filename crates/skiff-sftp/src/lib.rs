//! SFTP version 3 wire codec (draft-ietf-secsh-filexfer-02) with the OpenSSH extensions
//! Skiff uses (OpenSSH `PROTOCOL` §4).
//!
//! Sans-IO: no tokio, no sockets, no clock. The caller feeds bytes in and takes bytes out;
//! this crate turns them into [`Packet`]s and back. Decoding never panics on any input,
//! bounds every length and count by the bytes actually present before allocating, and
//! hands out strings and data as zero-copy [`bytes::Bytes`] slices of the received frame.
//! Handles and file names are bytes, never `String`: a remote name is not necessarily
//! UTF-8, and validating it before it becomes a local path is the engine's job.
//!
//! ```
//! use bytes::BytesMut;
//! use skiff_sftp::{Packet, DEFAULT_MAX_PACKET};
//!
//! let mut out = BytesMut::new();
//! Packet::Realpath { id: 1, path: ".".into() }.encode(&mut out);
//! let decoded = Packet::decode(&mut out, DEFAULT_MAX_PACKET).unwrap();
//! assert_eq!(decoded, Some(Packet::Realpath { id: 1, path: ".".into() }));
//! ```
//!
//! # Layout
//!
//! - [`packet`]: [`Packet`] (every request and reply), framing (`encode`, `decode`,
//!   partial frames as `Ok(None)`), [`OpenFlags`], [`NameEntry`], the `SSH_FXP_*` type
//!   constants and the zero-copy WRITE fast path [`encode_write_header`].
//! - [`attrs`]: [`FileAttrs`], the `ATTRS` structure, its flag bits and `S_IF*` mode bits.
//! - [`status`]: [`StatusCode`], the `SSH_FX_*` codes of a STATUS reply.
//! - [`ext`]: OpenSSH extension requests ([`Extension`]) and their typed
//!   `EXTENDED_REPLY` payloads ([`Limits`], [`Statvfs`]).
//! - [`requests`]: [`InFlight`], the client's request-id table (ids issued, replies routed
//!   by id, [`RouteError`] for a reply that belongs to no request).
//! - [`error`]: [`DecodeError`], the error every decoder returns.
//! - `wire` (private): the SSH primitives (`uint32`, `uint64`, `string`).
//!
//! Fuzzing: `crates/skiff-sftp/fuzz` is its own workspace of libFuzzer targets built on the
//! stable toolchain (`make fuzz`; `make test` runs a short campaign).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod attrs;
pub mod error;
pub mod ext;
pub mod packet;
pub mod requests;
pub mod status;
mod wire;

pub use attrs::FileAttrs;
pub use error::DecodeError;
pub use ext::{Extension, Limits, Statvfs};
pub use packet::{encode_write_header, NameEntry, OpenFlags, Packet};
pub use requests::{InFlight, RouteError};
pub use status::StatusCode;

/// The SFTP protocol version this codec speaks.
pub const SFTP_VERSION: u32 = 3;

/// Default maximum packet length (the value of the length prefix) accepted when none was
/// negotiated: OpenSSH's `SFTP_MAX_MSG_LENGTH`, 256 KiB.
pub const DEFAULT_MAX_PACKET: u32 = 256 * 1024;
