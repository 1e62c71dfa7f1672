//! Skiff's engine: everything below the window, with no Tauri in it.
//!
//! # Layout
//! - [`engine`]: [`Engine`], the one object a front end holds: saved hosts, the queue and its
//!   scheduler, the browsing sessions (connect, supervise, reconnect), and how each job and
//!   session reaches its server ([`engine::Reach`]).
//! - [`ssh`]: `~/.ssh/config`, known_hosts, authentication, connections (russh).
//! - [`sftp`]: the async SFTP client: sessions (reader/writer tasks, request ids), the
//!   in-flight budget, file-system operations, streaming READDIR.
//! - [`transfer`]: pipelined, multi-channel download and upload with resume.
//! - [`job`]: what a job is (spec, state, counters, unfinished files), apart from where it is
//!   kept.
//! - [`scheduler`]: runs the persisted queue of jobs within limits, with retries and typed
//!   events.
//! - [`store`]: the SQLite queue and history; saved hosts (JSON); passwords and
//!   passphrases (OS keyring).
//! - [`browse`]: what the window's panes list and do: batched local and remote folder
//!   listings, new folder, rename (never replacing), delete (never following links),
//!   permissions.
//! - [`watch`]: live local listings: a debounced "this folder changed" per watched folder.
//! - [`sandbox`]: a throwaway local SFTP server (the system's OpenSSH sshd on 127.0.0.1)
//!   with sample files, for trying Skiff without a server.
//! - [`sshd`]: starting a private OpenSSH sshd on 127.0.0.1 (keys, config, free port, dies
//!   with its owner): the sandbox's and the integration tests' one launcher.
//! - [`address`]: parsing `[user@]host[:port]` the way OpenSSH does (quick connect,
//!   ProxyJump hops, the host part of scp-style locations).
//! - [`remote`]: parsing `[user@]host:path` the way scp does.
//! - [`error`]: the one error type; every error names operation, host and path, and its
//!   kind says what the failure calls for ([`error::Recovery`]).
//! - [`retry`]: the one retry policy, and the budget a job's reconnects and re-runs share.
//! - [`text`]: server-supplied names and texts escaped for a terminal (controls, bidi overrides).

// `Error` carries host, path, detail and hint by value (~136 bytes). It is only built on the
// cold path, and boxing it would cost an allocation per error for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod address;
pub mod browse;
pub mod engine;
pub mod error;
pub mod job;
pub mod remote;
pub mod retry;
pub mod sandbox;
pub mod scheduler;
pub mod sftp;
pub mod sshd;
pub mod store;
pub mod ssh;
pub mod text;
pub mod transfer;
pub mod watch;

pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
