//! Live local listings: [`watch_dir`] tells its caller that a local folder changed, so the
//! local pane can list it again.
//!
//! This module owns one `notify` watcher per watched folder (not recursive) and a small
//! debounce thread: the first change is reported at once, and after that at most one report
//! per [`DEBOUNCE`], with a last one after a burst ends, so 10,000 files created in a loop
//! give a handful of reports, not 10,000, and the last change is never lost. It reports
//! *that* the folder changed, never what changed: the caller lists it again. Reads
//! (`Access` events, such as the listing itself opening the folder) are ignored, so listing
//! in answer to a report does not cause another report.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Error, ErrorKind, Result};

/// At most one report per this long.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

enum Msg {
    Changed,
    Stop,
}

/// A folder being watched. Dropping it stops the watch (and the reports).
pub struct LocalWatcher {
    dir: PathBuf,
    watcher: Option<notify::RecommendedWatcher>,
    stop: std_mpsc::Sender<Msg>,
}

impl LocalWatcher {
    /// The folder being watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl std::fmt::Debug for LocalWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWatcher").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Drop for LocalWatcher {
    fn drop(&mut self) {
        // Stop the OS watch first, then the debounce thread.
        drop(self.watcher.take());
        let _ = self.stop.send(Msg::Stop);
    }
}

/// Watch `dir` (not recursive); every change sends `dir` on `tx`, debounced to at most one
/// send per 150 ms (the first change of a quiet folder is sent at once). Reports stop when
/// the [`LocalWatcher`] is dropped or `tx`'s receiver is closed. A watch error (such as the
/// OS dropping events under load) is reported as a change, so the caller re-lists.
pub fn watch_dir(dir: &Path, tx: UnboundedSender<PathBuf>) -> Result<LocalWatcher> {
    let (msg_tx, msg_rx) = std_mpsc::channel::<Msg>();
    let events = msg_tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let relevant = match &res {
            Ok(event) => !matches!(event.kind, EventKind::Access(_)),
            Err(e) => {
                tracing::debug!(error = %e, "watch error; reporting a change");
                true
            }
        };
        if relevant {
            let _ = events.send(Msg::Changed);
        }
    })
    .map_err(|e| watch_error(dir, &e))?;
    watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|e| watch_error(dir, &e))?;

    let reported = dir.to_path_buf();
    std::thread::Builder::new()
        .name("skiff-watch".into())
        .spawn(move || debounce(msg_rx, tx, reported))
        .map_err(|e| Error::local_io("watch folder", dir, &e))?;

    Ok(LocalWatcher { dir: dir.to_path_buf(), watcher: Some(watcher), stop: msg_tx })
}

/// Leading-edge, then at most one send per [`DEBOUNCE`], with a trailing send when changes
/// arrived during the last window.
fn debounce(rx: std_mpsc::Receiver<Msg>, tx: UnboundedSender<PathBuf>, dir: PathBuf) {
    loop {
        // Quiet: wait for the first change.
        match rx.recv() {
            Ok(Msg::Changed) => {}
            Ok(Msg::Stop) | Err(_) => return,
        }
        if tx.send(dir.clone()).is_err() {
            return;
        }
        // Busy: collect changes for one window; if any came, report once more and repeat.
        loop {
            let window_end = Instant::now() + DEBOUNCE;
            let mut changed = false;
            loop {
                let left = window_end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match rx.recv_timeout(left) {
                    Ok(Msg::Changed) => changed = true,
                    Ok(Msg::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                }
            }
            if !changed {
                break;
            }
            if tx.send(dir.clone()).is_err() {
                return;
            }
        }
    }
}

fn watch_error(dir: &Path, e: &notify::Error) -> Error {
    if let notify::ErrorKind::Io(io) = &e.kind {
        return Error::local_io("watch folder", dir, io);
    }
    let hint = match &e.kind {
        notify::ErrorKind::PathNotFound => "the folder no longer exists; go up one level",
        notify::ErrorKind::MaxFilesWatch => {
            "the system's limit of watched folders is reached; raise fs.inotify.max_user_watches or close other programs"
        }
        _ => "the listing will not update by itself; refresh it by hand",
    };
    let kind = match &e.kind {
        notify::ErrorKind::PathNotFound => ErrorKind::NotFound,
        _ => ErrorKind::LocalIo,
    };
    Error::new(kind, "watch folder", e.to_string()).path(dir.display().to_string()).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    /// Count sends until none arrives for `quiet`.
    async fn drain(rx: &mut mpsc::UnboundedReceiver<PathBuf>, quiet: Duration) -> usize {
        let mut n = 0;
        while let Ok(Some(_)) = tokio::time::timeout(quiet, rx.recv()).await {
            n += 1;
        }
        n
    }

    #[tokio::test]
    async fn a_change_is_reported_quickly() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch_dir(tmp.path(), tx).unwrap();
        std::fs::write(tmp.path().join("a.txt"), "x").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.expect("no report within 2 s");
        assert_eq!(got.as_deref(), Some(tmp.path()));
    }

    #[tokio::test]
    async fn bursts_are_debounced_and_the_last_change_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch_dir(tmp.path(), tx).unwrap();
        let start = Instant::now();
        for i in 0..1000 {
            std::fs::write(tmp.path().join(format!("f{i}")), "x").unwrap();
        }
        let took = start.elapsed();
        let n = drain(&mut rx, Duration::from_millis(600)).await;
        eprintln!("1000 creations in {took:?} gave {n} reports");
        assert!(n >= 1, "no report");
        assert!(n < 50, "{n} reports for one burst");

        // A single late change after the burst is still reported.
        std::fs::remove_file(tmp.path().join("f7")).unwrap();
        assert!(drain(&mut rx, Duration::from_millis(600)).await >= 1, "late change lost");
    }

    #[tokio::test]
    async fn reading_the_folder_is_not_a_change() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a"), "x").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch_dir(tmp.path(), tx).unwrap();
        for _ in 0..5 {
            let _ = std::fs::read_dir(tmp.path()).unwrap().count();
            let _ = std::fs::read(tmp.path().join("a")).unwrap();
        }
        assert_eq!(drain(&mut rx, Duration::from_millis(400)).await, 0);
    }

    #[tokio::test]
    async fn dropping_the_watcher_stops_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let w = watch_dir(tmp.path(), tx).unwrap();
        drop(w);
        std::fs::write(tmp.path().join("a"), "x").unwrap();
        // The debounce thread ends and drops the sender: the channel closes, nothing came.
        let end = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.expect("channel not closed");
        assert_eq!(end, None);
    }

    #[test]
    fn watching_a_missing_folder_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let (tx, _rx) = mpsc::unbounded_channel();
        let e = watch_dir(&missing, tx).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
