//! What a job is, apart from where it is kept: what it transfers and how ([`JobSpec`]), where
//! it is in its life and what it has done ([`JobRecord`], [`JobCounters`]), the values named
//! in both ([`JobKind`], [`Direction`], [`JobState`], [`OverwritePolicy`]), and the unfinished files it
//! leaves between runs ([`PartialRecord`], kept through a [`PartialStore`]).
//!
//! Plain data: no I/O, no database, no network. The queue ([`crate::store::Queue`]) stores
//! these, the scheduler runs them and the transfers read the parts they need.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ssh::Overrides;

mod names;
mod partial;

pub use names::{Direction, JobKind, JobState, OverwritePolicy, ParseEnumError};
pub use partial::{PartialRecord, PartialStore};

/// A job's id: its row in the queue database, never reused.
pub type JobId = i64;

/// What a job transfers and how; fixed when the job is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// What the job does (copy today).
    pub kind: JobKind,
    /// Upload or download.
    pub direction: Direction,
    /// Host alias as typed (resolved through ssh config at run time).
    pub host: String,
    /// User given explicitly, if any.
    pub user: Option<String>,
    /// Port given explicitly, if any.
    pub port: Option<u16>,
    /// The `-F` ssh config file used, if any.
    pub ssh_config: Option<PathBuf>,
    /// The saved host the job was queued from: whichever front end resumes the job connects
    /// through it (its key, its known_hosts, its keyring secrets). `None`: an address.
    pub profile_id: Option<String>,
    /// The `-i`, `-o` and `--accept-new` the job was queued with.
    pub overrides: Overrides,
    /// Source (upload) or destination (download).
    pub local_path: PathBuf,
    /// Destination (upload) or source (download).
    pub remote_path: String,
    /// Whether a directory tree is transferred.
    pub recursive: bool,
    /// What to do with existing destination files.
    pub overwrite: OverwritePolicy,
    /// Copy the modification time.
    pub preserve_mtime: bool,
    /// Copy the permission bits.
    pub preserve_permissions: bool,
    /// Per-job speed limit in bytes per second.
    pub speed_limit: Option<u64>,
}

/// A job as stored: its spec plus everything that changes while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    pub spec: JobSpec,
    pub state: JobState,
    /// Higher runs first.
    pub priority: i32,
    /// Within one priority, lower runs first.
    pub position: i64,
    /// The last error (Failed, or whatever the caller recorded for Paused/Done/Cancelled).
    pub error: Option<String>,
    pub retries: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub files_failed: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change to the row.
    pub updated_at: i64,
    /// Unix seconds when the job became Done, Failed or Cancelled.
    pub finished_at: Option<i64>,
    /// The process running it (see [`crate::store::runner`]), while it is Running.
    pub runner: Option<String>,
    /// Its first run resolved the tree roots ("copy into" was decided) and pinned them in
    /// the spec's paths: later runs use them as the roots themselves.
    pub roots_resolved: bool,
}

/// A job's progress counters, as [`Queue::record_counters`](crate::store::Queue::record_counters) stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCounters {
    pub id: JobId,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub files_failed: u64,
}
