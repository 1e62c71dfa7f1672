//! [`LocalSink`]: writes downloaded blocks into the local `.skiffpart` at their offsets on a
//! dedicated thread, so the async workers never block on the disk. Bounded: when the disk is
//! slower than the network, senders wait. Owns the local file handle while the download runs,
//! and records the ranges it has written (what a checkpoint of a partial download may save).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::ranges::RangeSet;
use crate::error::{Error, Result};

pub struct LocalSink {
    tx: Option<mpsc::Sender<(u64, Bytes)>>,
    failure: Arc<Mutex<Option<std::io::Error>>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    written: Arc<Mutex<RangeSet>>,
}

impl LocalSink {
    /// A sink writing into `file`, which already holds the ranges `written` (empty for a
    /// new temp file).
    pub fn new(file: File, path: PathBuf, written: RangeSet) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Bytes)>(32);
        let failure = Arc::new(Mutex::new(None));
        let fail = failure.clone();
        let written = Arc::new(Mutex::new(written));
        let wrote = written.clone();
        let thread = std::thread::Builder::new()
            .name("skiff-sink".into())
            .spawn(move || {
                while let Some((off, data)) = rx.blocking_recv() {
                    if let Err(e) = file.write_all_at(&data, off) {
                        *fail.lock().expect("sink failure poisoned") = Some(e);
                        return; // dropping rx makes every later send fail
                    }
                    wrote.lock().expect("written poisoned").insert(off..off + data.len() as u64);
                }
            })
            .expect("spawn sink thread");
        LocalSink { tx: Some(tx), failure, thread: Some(thread), path, written }
    }

    /// The ranges written to the file so far.
    pub fn written(&self) -> Arc<Mutex<RangeSet>> {
        self.written.clone()
    }

    fn error(&self) -> Error {
        let e = self.failure.lock().expect("sink failure poisoned").take();
        match e {
            Some(e) => Error::local_io("write local file", &self.path, &e),
            None => Error::local_io(
                "write local file",
                &self.path,
                &std::io::Error::other("the writer thread stopped"),
            ),
        }
    }

    pub async fn write(&self, offset: u64, data: Bytes) -> Result<()> {
        let tx = self.tx.as_ref().expect("sink used after finish");
        tx.send((offset, data)).await.map_err(|_| self.error())
    }

    /// Wait until everything queued is on disk (in the page cache) and report any failure.
    pub async fn finish(mut self) -> Result<()> {
        self.tx = None;
        let thread = self.thread.take();
        if let Some(t) = thread {
            tokio::task::spawn_blocking(move || t.join()).await.ok();
        }
        if self.failure.lock().expect("sink failure poisoned").is_some() {
            return Err(self.error());
        }
        Ok(())
    }
}
