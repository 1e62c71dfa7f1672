//! A job's unfinished files between runs: a [`PartialRecord`] per file (the temp file, the
//! source it was read from, the byte ranges it holds), and the [`PartialStore`] that keeps
//! them. The queue database implements the store; the transfers checkpoint records into it
//! and decide whether one can be taken up (`transfer::partial`).

use serde::{Deserialize, Serialize};

/// One unfinished download or upload as saved between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialRecord {
    /// The temp file's name in the destination folder (downloads) or its remote path (uploads).
    pub temp: String,
    /// Device and inode of the local temp file Skiff created (downloads; 0 for uploads).
    pub dev: u64,
    pub ino: u64,
    /// The source as it was when these bytes were read.
    pub source_size: u64,
    pub source_mtime: Option<u32>,
    /// Half-open byte ranges that are on disk in the temp file.
    pub ranges: Vec<(u64, u64)>,
}

/// Where partial transfers are kept between runs, per job, by a key naming the file (its
/// path relative to the job's root). Calls block (a database): call them off the runtime.
pub trait PartialStore: Send + Sync + 'static {
    fn load(&self, key: &str) -> Option<PartialRecord>;
    fn save(&self, key: &str, record: &PartialRecord);
    fn forget(&self, key: &str);
}
