//! Test support for Skiff: a real OpenSSH server per test, a TCP relay that
//! adds delay, a bandwidth cap and connection cuts, and test-file helpers.
//! The end-to-end tests and the peer benchmark build on these.
//!
//! # Layout
//!
//! - [`sshd`]: [`sshd::Sshd`] starts a private `/usr/sbin/sshd` on a free
//!   loopback port in a temp dir, with fresh host and user keys, a client
//!   `ssh_config` (`Host skiff-test`) and a `known_hosts`; optional password
//!   authentication (root only, via the local user `skifftest`).
//! - [`relay`]: [`relay::Relay`] forwards a loopback port to a target with
//!   one-way delay, a per-direction rate cap and abrupt cuts after N bytes,
//!   on its own thread and runtime. `src/bin/relay.rs` is the same relay as a
//!   command for shell benchmarks.
//! - [`files`]: deterministic random files and SHA-256 of files.
//! - [`tree`]: [`tree::make_tree`] builds deterministic trees (many small
//!   files, nesting, empty directories, awkward names, big files);
//!   [`tree::manifest`] maps a tree to `path → sha256 | "dir" | "link -> T"`.
//! - [`hostile`]: an SFTP v3 server ([`hostile::serve`], binary
//!   `src/bin/hostile-sftp-server.rs`) that the real sshd runs as its sftp
//!   subsystem; honest except that listings of `evil` directories carry
//!   names such as `..`, `a/b` and `/etc/passwd-skiff-test`.
//! - [`proftpd`]: [`proftpd::Proftpd`] starts a private ProFTPD with mod_sftp
//!   (`/usr/sbin/proftpd -n`) on a free loopback port in a temp dir, with
//!   fresh keys, a client `ssh_config` (`Host skiff-proftpd`) and a
//!   `known_hosts`: a second SFTP server that is not OpenSSH.
//! - [`diskfull`]: [`diskfull::SmallDisk`], a small tmpfs (or loop ext4)
//!   mount that runs out of space.
//!
//! Nothing here touches `~/.ssh`, the system sshd or the network beyond
//! 127.0.0.1.

pub mod diskfull;
pub mod files;
pub mod hostile;
pub mod proftpd;
pub mod relay;
pub mod sshd;
pub mod tree;

pub use files::{sha256_file, write_random_file};
pub use relay::{Relay, RelayOptions, RelayStats};
pub use sshd::{Sshd, SshdOptions};

#[cfg(test)]
mod fixture_tests;
