//! What Skiff keeps on disk between runs.
//!
//! - [`queue`]: the SQLite queue and history of transfer jobs (the jobs themselves are
//!   [`crate::job`]'s), with per-file completion so an interrupted tree job resumes where it
//!   stopped. It survives `kill -9` at any moment.
//! - [`runner`]: which process is running a job, so two processes never run the same one
//!   and a job whose process died is queued again.
//! - [`profiles`]: saved hosts in `hosts.json` (atomic writes, 0600), import from
//!   `ssh_config`, and a profile's [`ConnectOptions`](crate::ssh::ConnectOptions).
//! - [`owner_only`]: creating files 0600 and folders 0700 whatever the umask (queue
//!   database, settings).
//! - [`secrets`]: passwords and key passphrases in the OS keyring, never on disk.
//!
//! This module owns the on-disk formats and nothing else: it opens no network connection,
//! runs no transfer and keeps no clock of its own beyond stamping rows. Its API is
//! synchronous; async callers wrap calls in `spawn_blocking`.

pub mod owner_only;
pub mod profiles;
pub mod queue;
pub mod runner;
pub mod secrets;

pub use queue::{Queue, StoreError};
pub use profiles::{AuthKind, Profile, Profiles};
pub use secrets::{SecretKind, Secrets};
