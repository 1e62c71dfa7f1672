//! [`ConnectionCache`]: authenticated SSH connections that finished a transfer and wait,
//! idle, for the next one to the same `user@host:port`, so that a queue of many small jobs
//! pays for one handshake per connection instead of one per job.
//!
//! Rules:
//! - Exclusive: a connection is either idle in the cache or used by exactly one pool, so
//!   the server's per-connection channel limit (OpenSSH's MaxSessions) is accounted per pool
//!   as without reuse.
//! - Only connections whose channels are all closed come back (see `ChannelPool::close`).
//! - An idle connection expires after [`DEFAULT_IDLE_TIMEOUT`] (pruned on every take and
//!   put, and by a reaper task that runs only while something is idle, so a quiet
//!   application keeps nothing open for long); one that the server or the network closed is
//!   never handed out.
//! - Keyed by [`ConnectOptions::label`](super::ConnectOptions::label): the same account on
//!   the same server, however it was reached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::connect::Connection;

/// How long a connection may sit idle before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections by label. Cheap to share (`Arc`); see the module documentation.
pub struct ConnectionCache {
    idle_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    idle: HashMap<String, Vec<Idle>>,
    /// A reaper task is running (set and cleared under the same lock as `idle`).
    reaper: bool,
}

struct Idle {
    conn: Connection,
    since: Instant,
}

impl std::fmt::Debug for ConnectionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionCache").field("idle_timeout", &self.idle_timeout).field("idle", &self.idle()).finish()
    }
}

impl ConnectionCache {
    /// A cache whose connections expire after [`DEFAULT_IDLE_TIMEOUT`] idle.
    pub fn new() -> Arc<Self> {
        Self::with_idle_timeout(DEFAULT_IDLE_TIMEOUT)
    }

    /// A cache whose connections expire after `idle_timeout` idle (zero: nothing is kept,
    /// every connection handed back is closed at once).
    pub fn with_idle_timeout(idle_timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectionCache { idle_timeout, state: Mutex::new(State::default()) })
    }

    /// The cache every [`SftpJobRunner`](crate::scheduler::SftpJobRunner) of this process
    /// shares unless its connection settings name another.
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<ConnectionCache>> = OnceLock::new();
        GLOBAL.get_or_init(ConnectionCache::new).clone()
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// An idle, open connection for `label`, now exclusively the caller's; the most recently
    /// used first (the likeliest to be alive).
    pub fn take(&self, label: &str) -> Option<Connection> {
        let (found, expired) = {
            let mut st = self.lock();
            let expired = self.prune(&mut st);
            let found = st.idle.get_mut(label).and_then(|v| v.pop()).map(|i| i.conn);
            if st.idle.get(label).is_some_and(Vec::is_empty) {
                st.idle.remove(label);
            }
            (found, expired)
        };
        close_all(expired);
        found
    }

    /// Hand back a connection whose channels are all closed. A closed one is dropped; a
    /// reaper closes the rest once they have been idle for the timeout.
    pub fn put(self: &Arc<Self>, conn: Connection) {
        if conn.is_closed() {
            return;
        }
        let (expired, start_reaper) = {
            let mut st = self.lock();
            st.idle.entry(conn.label().to_string()).or_default().push(Idle { conn, since: Instant::now() });
            let expired = self.prune(&mut st);
            let start = !st.idle.is_empty() && !st.reaper && tokio::runtime::Handle::try_current().is_ok();
            if start {
                st.reaper = true;
            }
            (expired, start)
        };
        close_all(expired);
        if start_reaper {
            tokio::spawn(reap(Arc::downgrade(self)));
        }
    }

    /// How many connections are idle now (expired and closed ones are pruned first).
    pub fn idle(&self) -> usize {
        let (n, expired) = {
            let mut st = self.lock();
            let expired = self.prune(&mut st);
            (st.idle.values().map(Vec::len).sum(), expired)
        };
        close_all(expired);
        n
    }

    /// Close every idle connection now.
    pub fn clear(&self) {
        let all: Vec<Connection> = self.lock().idle.drain().flat_map(|(_, v)| v).map(|i| i.conn).collect();
        close_all(all);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remove expired and closed connections; returns the expired ones still open, to close.
    fn prune(&self, st: &mut State) -> Vec<Connection> {
        let mut expired = Vec::new();
        for list in st.idle.values_mut() {
            let (keep, gone): (Vec<Idle>, Vec<Idle>) =
                std::mem::take(list).into_iter().partition(|i| !i.conn.is_closed() && i.since.elapsed() < self.idle_timeout);
            *list = keep;
            expired.extend(gone.into_iter().map(|i| i.conn).filter(|c| !c.is_closed()));
        }
        st.idle.retain(|_, v| !v.is_empty());
        expired
    }
}

/// Say goodbye to `conns` without making the caller wait (outside a runtime they are just
/// dropped, which closes them too).
fn close_all(conns: Vec<Connection>) {
    if conns.is_empty() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                for c in conns {
                    c.disconnect().await;
                }
            });
        }
        Err(_) => drop(conns),
    }
}

/// Prunes `cache` now and then while it holds idle connections; ends (clearing the flag)
/// once it is empty or gone, or when its runtime shuts down.
async fn reap(cache: Weak<ConnectionCache>) {
    /// Clears the flag if the task is dropped (its runtime shut down) rather than finished.
    struct Running(Weak<ConnectionCache>, bool);
    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(c) = self.0.upgrade().filter(|_| self.1) {
                c.lock().reaper = false;
            }
        }
    }
    let mut running = Running(cache.clone(), true);
    loop {
        let Some(c) = cache.upgrade() else { return };
        let tick = (c.idle_timeout / 4).max(Duration::from_millis(250));
        drop(c);
        tokio::time::sleep(tick).await;
        let Some(c) = cache.upgrade() else { return };
        let (expired, empty) = {
            let mut st = c.lock();
            let expired = c.prune(&mut st);
            let empty = st.idle.is_empty();
            if empty {
                st.reaper = false;
            }
            (expired, empty)
        };
        close_all(expired);
        if empty {
            running.1 = false; // cleared above, under the lock
            return;
        }
    }
}
