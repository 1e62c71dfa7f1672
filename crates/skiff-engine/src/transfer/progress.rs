//! [`Progress`]: bytes done and total for one transfer, shared between the workers that move
//! bytes and whoever displays them. Lock-free counters; no formatting, no clock.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::ranges::RangeSet;

#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    /// Bytes moved again after a reconnect (for the "< 10 % resent" promise).
    resent: AtomicU64,
    retries: AtomicU64,
    files_total: AtomicU64,
    files_done: AtomicU64,
    files_failed: AtomicU64,
}

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
    }
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Grow the total as a walk discovers more (trees).
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_file_total(&self) {
        self.files_total.fetch_add(1, Ordering::Relaxed);
    }
    pub fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
    pub fn file_failed(&self) {
        self.files_failed.fetch_add(1, Ordering::Relaxed);
    }
    pub fn files_total(&self) -> u64 {
        self.files_total.load(Ordering::Relaxed)
    }
    pub fn files_done(&self) -> u64 {
        self.files_done.load(Ordering::Relaxed)
    }
    pub fn files_failed(&self) -> u64 {
        self.files_failed.load(Ordering::Relaxed)
    }
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set_done(&self, n: u64) {
        self.done.store(n, Ordering::Relaxed);
    }
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
    /// Mark `range` done in `done` and count it: new bytes as progress, repeats as resent.
    pub fn record(&self, done: &Mutex<RangeSet>, range: Range<u64>) {
        let n = range.end - range.start;
        let newly = done.lock().expect("done poisoned").insert_counting(range);
        self.add(newly);
        self.add_resent(n - newly);
    }

    pub fn add_resent(&self, n: u64) {
        self.resent.fetch_add(n, Ordering::Relaxed);
    }
    pub fn resent(&self) -> u64 {
        self.resent.load(Ordering::Relaxed)
    }
    pub fn note_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}
