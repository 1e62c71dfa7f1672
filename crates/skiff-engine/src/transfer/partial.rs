//! Partial transfers that outlive a run. While a file moves, the byte ranges that are in its
//! temp file (`NAME.skiffpart`) are checkpointed to a [`PartialStore`] (the queue database)
//! every [`CHECKPOINT_EVERY`], so that a later run (after a pause, `kill -9`, a crash or a
//! reboot) continues from them instead of from byte 0.
//!
//! - Downloads save the ranges the local temp file holds, after an `fdatasync` of it. They are
//!   taken up only when the source has the size and modification time it had, and the temp
//!   file is the very file Skiff wrote (the same device and inode, a regular file with one
//!   name, opened without following a link, at least as long as its ranges).
//! - Uploads save the ranges the server acknowledged. They are taken up only when the local
//!   source has the size and modification time it had, the remote temp file is a regular file
//!   at least as long as its ranges, and the last bytes (up to 4 KiB) of every saved range read
//!   back from it equal the local file's (SFTP has no inode to compare).
//!
//! Otherwise the temp file is removed (a local one only when it is still Skiff's) or
//! truncated, the record forgotten, and the file starts over: stale bytes are never stitched
//! to new ones.

use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::local_dest::{LocalDir, TempFile};
use super::plan::Stamp;
use super::ranges::RangeSet;
use crate::job::{PartialRecord, PartialStore};

/// How often the ranges on disk are saved while a file downloads.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A job's partial store, as transfers carry it.
#[derive(Clone)]
pub struct Partials(pub Arc<dyn PartialStore>);

impl std::fmt::Debug for Partials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Partials")
    }
}

impl Partials {
    /// The saved partial of `key`, if any (blocking: a database read). Whether it is taken up
    /// is the plan's decision ([`Resume::Ranges`](super::plan::Resume)).
    pub fn load(&self, key: &str) -> Option<PartialRecord> {
        self.0.load(key)
    }

    /// The temp file and the ranges it holds for the saved partial `rec` of `key`, which the
    /// plan found to be for this very source, when the temp file is still the one Skiff
    /// wrote; otherwise the record is forgotten and `None` says to start over.
    pub fn take_up(&self, key: &str, dir: &LocalDir, rec: &PartialRecord) -> Option<(TempFile, RangeSet)> {
        let end = rec.ranges.iter().map(|r| r.1).max().unwrap_or(0);
        match dir.reopen_temp(&rec.temp, rec.dev, rec.ino, end) {
            Some(temp) => {
                let done = RangeSet::from_pairs(&rec.ranges);
                tracing::info!(key, bytes = done.len(), "taking up a partial download");
                Some((temp, done))
            }
            None => {
                self.0.forget(key);
                None
            }
        }
    }

    /// Drop the saved partial `rec` of `key` that the plan did not take up (the source
    /// changed, or the file is skipped, renamed or resumed from its destination): its temp
    /// file is removed when it is still Skiff's, and the record forgotten.
    pub fn drop_stale(&self, key: &str, dir: &LocalDir, rec: &PartialRecord) {
        tracing::info!(key, "the partial download is not taken up: starting over");
        if dir.reopen_temp(&rec.temp, rec.dev, rec.ino, 0).is_some() {
            dir.discard(&rec.temp);
        }
        self.0.forget(key);
    }

    pub fn forget(&self, key: &str) {
        self.0.forget(key);
    }
}

/// Checkpoints one download's ranges on disk while it runs; stops when dropped.
pub struct Checkpoint {
    task: tokio::task::JoinHandle<()>,
}

impl Checkpoint {
    /// Save `written` (the ranges the local temp file holds) for `key` every
    /// [`CHECKPOINT_EVERY`] while it grows, each time after an `fdatasync` of `file`.
    pub fn start(partials: &Partials, key: &str, temp_name: &str, file: &File, source: Stamp, written: Arc<Mutex<RangeSet>>) -> Option<Checkpoint> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        let file = file.try_clone().ok()?;
        let base = PartialRecord {
            temp: temp_name.to_string(),
            dev: meta.dev(),
            ino: meta.ino(),
            source_size: source.size,
            source_mtime: source.mtime,
            ranges: Vec::new(),
        };
        Some(Self::spawn(partials, key, base, Some(file), written))
    }

    /// Save `acked` (the ranges the server acknowledged in the remote temp file `part`) for
    /// `key` every [`CHECKPOINT_EVERY`] while it grows.
    pub fn start_upload(partials: &Partials, key: &str, part: &str, source: Stamp, acked: Arc<Mutex<RangeSet>>) -> Checkpoint {
        let base = PartialRecord { temp: part.to_string(), dev: 0, ino: 0, source_size: source.size, source_mtime: source.mtime, ranges: Vec::new() };
        Self::spawn(partials, key, base, None, acked)
    }

    fn spawn(partials: &Partials, key: &str, base: PartialRecord, sync: Option<File>, ranges_now: Arc<Mutex<RangeSet>>) -> Checkpoint {
        let (store, key, sync) = (partials.0.clone(), key.to_string(), sync.map(Arc::new));
        let task = tokio::spawn(async move {
            // The first save comes at once, before the first block lands: a run killed
            // before its first interval still leaves a record of its temp file, so the next
            // run removes that file instead of leaving it beside a fresh one.
            let mut saved: Option<u64> = None;
            let mut first = true;
            loop {
                if !std::mem::take(&mut first) {
                    tokio::time::sleep(CHECKPOINT_EVERY).await;
                }
                // The ranges first, then the sync: every byte they name was written before it.
                let ranges = ranges_now.lock().expect("ranges poisoned").clone();
                if saved == Some(ranges.len()) {
                    continue;
                }
                let rec = PartialRecord { ranges: ranges.ranges(), ..base.clone() };
                let (store, key, sync) = (store.clone(), key.clone(), sync.clone());
                let ok = tokio::task::spawn_blocking(move || {
                    if let Some(f) = sync {
                        if f.sync_data().is_err() {
                            return false;
                        }
                    }
                    store.save(&key, &rec);
                    true
                })
                .await
                .unwrap_or(false);
                if ok {
                    saved = Some(ranges.len());
                }
            }
        });
        Checkpoint { task }
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct MemStore(Mutex<HashMap<String, PartialRecord>>);
    impl PartialStore for MemStore {
        fn load(&self, key: &str) -> Option<PartialRecord> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn save(&self, key: &str, record: &PartialRecord) {
            self.0.lock().unwrap().insert(key.to_string(), record.clone());
        }
        fn forget(&self, key: &str) {
            self.0.lock().unwrap().remove(key);
        }
    }

    /// Load, plan (with the Overwrite policy, nothing at the destination) and take up or drop,
    /// as a download does.
    fn take_up(partials: &Partials, key: &str, dir: &LocalDir, source: Stamp) -> Option<(TempFile, RangeSet)> {
        use super::super::plan::{plan, Action, Dest, Entry, Resume, Rules, Source};
        let rec = partials.load(key)?;
        let entry = Entry { rel: key, name: key, source: Source::File(source), done_before: false };
        let rules = Rules { policy: crate::job::OverwritePolicy::Overwrite, continued: false, cheap_look: true };
        match plan(&entry, Dest::Missing, Some(&rec), rules, |_| false) {
            Action::Transfer { resume: Resume::Ranges(rec), .. } => partials.take_up(key, dir, &rec),
            _ => {
                partials.drop_stale(key, dir, &rec);
                None
            }
        }
    }

    fn setup() -> (tempfile::TempDir, LocalDir, Arc<MemStore>, Partials) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LocalDir::open_root(tmp.path()).unwrap();
        let store = Arc::new(MemStore::default());
        let partials = Partials(store.clone());
        (tmp, dir, store, partials)
    }

    fn record_for(temp: &TempFile, source: Stamp, ranges: Vec<(u64, u64)>) -> PartialRecord {
        use std::os::unix::fs::MetadataExt;
        let m = temp.file.metadata().unwrap();
        PartialRecord { temp: temp.name.clone(), dev: m.dev(), ino: m.ino(), source_size: source.size, source_mtime: source.mtime, ranges }
    }

    const SRC: Stamp = Stamp { size: 100, mtime: Some(1000) };

    #[test]
    fn a_valid_partial_is_taken_up_with_its_ranges() {
        let (_tmp, dir, store, partials) = setup();
        let temp = dir.create_temp("f").unwrap();
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 40], 0).unwrap();
        store.save("f", &record_for(&temp, SRC, vec![(0, 10), (20, 40)]));
        let (got, done) = take_up(&partials, "f", &dir, SRC).expect("taken up");
        assert_eq!(got.name, temp.name);
        assert_eq!(done.ranges(), vec![(0, 10), (20, 40)]);
    }

    #[test]
    fn a_changed_source_starts_over_and_removes_the_temp_file() {
        let (tmp, dir, store, partials) = setup();
        let temp = dir.create_temp("f").unwrap();
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 40], 0).unwrap();
        store.save("f", &record_for(&temp, SRC, vec![(0, 40)]));
        let changed = Stamp { mtime: Some(1001), ..SRC };
        assert!(take_up(&partials, "f", &dir, changed).is_none());
        assert!(!tmp.path().join(&temp.name).exists(), "the stale temp file is removed");
        assert!(store.load("f").is_none());
        // Same for a different size.
        let temp = dir.create_temp("g").unwrap();
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 40], 0).unwrap();
        store.save("g", &record_for(&temp, SRC, vec![(0, 40)]));
        assert!(take_up(&partials, "g", &dir, Stamp { size: 101, ..SRC }).is_none());
    }

    #[test]
    fn a_replaced_short_or_linked_temp_file_is_not_taken_up() {
        let (tmp, dir, store, partials) = setup();
        // Replaced by another file of that name (another inode): left alone.
        let temp = dir.create_temp("f").unwrap();
        let rec = record_for(&temp, SRC, vec![(0, 40)]);
        std::fs::remove_file(tmp.path().join(&temp.name)).unwrap();
        std::fs::write(tmp.path().join(&temp.name), [2u8; 50]).unwrap();
        store.save("f", &rec);
        assert!(take_up(&partials, "f", &dir, SRC).is_none());
        assert_eq!(std::fs::read(tmp.path().join(&temp.name)).unwrap(), vec![2u8; 50], "someone else's file is not removed");
        // Shorter than its ranges say.
        let temp = dir.create_temp("g").unwrap();
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 10], 0).unwrap();
        store.save("g", &record_for(&temp, SRC, vec![(0, 40)]));
        assert!(take_up(&partials, "g", &dir, SRC).is_none());
        // A symlink in its place.
        let temp = dir.create_temp("h").unwrap();
        let rec = record_for(&temp, SRC, vec![(0, 1)]);
        std::fs::remove_file(tmp.path().join(&temp.name)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tmp.path().join(&temp.name)).unwrap();
        store.save("h", &rec);
        assert!(take_up(&partials, "h", &dir, SRC).is_none());
        assert!(std::fs::symlink_metadata(tmp.path().join(&temp.name)).unwrap().file_type().is_symlink());
    }

    #[tokio::test]
    async fn the_checkpoint_saves_what_was_written() {
        let (_tmp, dir, store, partials) = setup();
        let temp = dir.create_temp("f").unwrap();
        let written = Arc::new(Mutex::new(RangeSet::new()));
        let cp = Checkpoint::start(&partials, "f", &temp.name, &temp.file, SRC, written.clone()).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 30], 0).unwrap();
        written.lock().unwrap().insert(0..30);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.load("f").map(|r| r.ranges) != Some(vec![(0, 30)]) {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(cp);
        let (_, done) = take_up(&partials, "f", &dir, SRC).unwrap();
        assert_eq!(done.len(), 30);
    }

    /// A run killed before its first interval (nothing saved about its ranges yet) still
    /// left a record naming its temp file, and the next run removes that file.
    #[tokio::test]
    async fn a_run_killed_before_its_first_interval_leaves_no_orphan_temp_file() {
        let (tmp, dir, store, partials) = setup();
        let temp = dir.create_temp("f").unwrap();
        let written = Arc::new(Mutex::new(RangeSet::new()));
        let cp = Checkpoint::start(&partials, "f", &temp.name, &temp.file, SRC, written.clone()).unwrap();
        // Nothing is written until the record is there: a checkpoint that waits for data
        // before its first save never gets here.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.load("f").is_none() {
            assert!(std::time::Instant::now() < deadline, "the temp file was not recorded before any data");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Blocks landed, then the process died before the next checkpoint.
        std::os::unix::fs::FileExt::write_all_at(&temp.file, &[1u8; 30], 0).unwrap();
        written.lock().unwrap().insert(0..30);
        drop(cp);
        assert_eq!(store.load("f").unwrap().ranges, Vec::<(u64, u64)>::new());
        assert!(take_up(&partials, "f", &dir, SRC).is_none(), "an empty record is not taken up");
        assert!(!tmp.path().join(&temp.name).exists(), "the orphan temp file is removed");
        assert!(store.load("f").is_none(), "the record is forgotten");
    }
}
