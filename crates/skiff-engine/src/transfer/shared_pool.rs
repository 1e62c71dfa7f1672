//! [`SharedPool`]: the channels a many-file job runs on, shared by all its file tasks, and
//! rebuilt once (not once per task) when the connection drops.
//!
//! A task takes a session with [`SharedPool::session`], which also tells it the pool's
//! generation. When the task sees a transient error it calls [`SharedPool::recover`] with
//! that generation: the first caller reconnects (with backoff, taking tries from the job's
//! one [`RetryBudget`]), later callers for the same generation just wait for it and carry on
//! with the new pool.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use super::options::TransferOptions;
use super::pool::ChannelPool;
use crate::error::{Error, Result};
use crate::retry::RetryBudget;
use crate::sftp::SftpSession;
use crate::ssh::ConnectOptions;

pub struct SharedPool {
    opts: ConnectOptions,
    connections: u32,
    channels: u32,
    budget: u32,
    current: RwLock<(u64, Arc<ChannelPool>)>,
    recovering: tokio::sync::Mutex<()>,
    next: AtomicUsize,
    reconnects: AtomicU32,
    retries: RetryBudget,
}

impl SharedPool {
    pub async fn open(opts: &ConnectOptions, connections: u32, channels: u32, budget: u32, t: &TransferOptions) -> Result<Self> {
        let pool = ChannelPool::open(opts, connections, channels, budget).await?;
        Ok(SharedPool {
            opts: opts.clone(),
            connections,
            channels,
            budget,
            current: RwLock::new((0, Arc::new(pool))),
            recovering: tokio::sync::Mutex::new(()),
            next: AtomicUsize::new(0),
            reconnects: AtomicU32::new(0),
            retries: t.retries(),
        })
    }

    /// A session (round-robin) and the generation of the pool it belongs to.
    pub fn session(&self) -> (u64, SftpSession) {
        let (generation, pool) = {
            let cur = self.current.read().expect("pool lock poisoned");
            (cur.0, cur.1.clone())
        };
        let sessions = pool.sessions();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % sessions.len();
        (generation, sessions[i].clone())
    }

    pub fn reconnects(&self) -> u32 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// The pool of generation `failed` broke: rebuild it (once), or give up with `cause`
    /// when the retries are spent.
    pub async fn recover(&self, failed: u64, cause: &Error) -> Result<()> {
        let _guard = self.recovering.lock().await;
        if self.current.read().expect("pool lock poisoned").0 != failed {
            return Ok(()); // someone else already rebuilt it
        }
        loop {
            let Some(attempt) = self.retries.take() else {
                return Err(cause.clone());
            };
            self.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(attempt = attempt.number, error = %cause, "connection lost; reconnecting");
            tokio::time::sleep(attempt.wait).await;
            match ChannelPool::open(&self.opts, self.connections, self.channels, self.budget).await {
                Ok(pool) => {
                    // The old pool is dropped once its last task lets go; its dead sessions
                    // have already failed their waiters.
                    let mut cur = self.current.write().expect("pool lock poisoned");
                    cur.1 = Arc::new(pool);
                    cur.0 = failed + 1;
                    return Ok(());
                }
                Err(e) if e.wants_reconnect() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn close(&self) {
        let pool = self.current.read().expect("pool lock poisoned").1.clone();
        if let Ok(pool) = Arc::try_unwrap(pool) {
            pool.close().await;
        } else {
            let pool = self.current.read().expect("pool lock poisoned").1.clone();
            for s in pool.sessions() {
                s.close();
            }
        }
    }
}
