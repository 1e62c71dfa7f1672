//! [`ChannelPool`]: the SFTP sessions one transfer runs on, spread over one or more SSH
//! connections. Opening is concurrent; a pool is thrown away and rebuilt after a transient
//! failure. Owns connection fan-out only, not what moves over it.
//!
//! With a [`ConnectionCache`] in the options, a pool first takes idle connections from it
//! (exclusively: no other pool uses them meanwhile) and [`ChannelPool::close`] hands them
//! back once their channels are closed; without one, it connects and disconnects its own.
//! A pool dropped without `close` (after a failure) drops its connections.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{join_all, try_join_all};

use crate::error::Result;
use crate::sftp::{InFlightBudget, SftpSession};
use crate::ssh::{ConnectOptions, Connection, ConnectionCache};

/// How long `close` waits for the server to close a pool's channels before it gives up on
/// reusing the connections (and disconnects them instead).
const CHANNEL_CLOSE_WAIT: Duration = Duration::from_secs(3);

pub struct ChannelPool {
    connections: Vec<Arc<Connection>>,
    sessions: Vec<SftpSession>,
    /// Where `close` hands the connections back.
    reuse: Option<Arc<ConnectionCache>>,
    /// Connections taken from the cache rather than made (for tests and logs).
    reused: usize,
}

impl ChannelPool {
    /// Connect `connections` times and open `channels` SFTP sessions spread round-robin over
    /// them. Each session gets its own in-flight budget of `budget_per_channel` bytes.
    pub async fn open(opts: &ConnectOptions, connections: u32, channels: u32, budget_per_channel: u32) -> Result<Self> {
        let connections = connections.clamp(1, channels.max(1)) as usize;
        let range = 0..channels.max(1) as usize;
        let (conns, reused) = acquire(opts, connections).await?;
        let sessions = match open_sessions(&conns, range.clone(), budget_per_channel, None).await {
            Ok(s) => s,
            // A reused connection may have died unnoticed while idle: start over on new ones.
            Err(e) if reused > 0 => {
                tracing::debug!(error = %e, "a reused connection failed; connecting anew");
                drop(conns);
                let conns = connect_many(opts, connections).await?;
                let sessions = open_sessions(&conns, range, budget_per_channel, None).await?;
                return Ok(ChannelPool { connections: conns, sessions, reuse: opts.reuse.clone(), reused: 0 });
            }
            Err(e) => return Err(e),
        };
        Ok(ChannelPool { connections: conns, sessions, reuse: opts.reuse.clone(), reused })
    }

    /// Open more connections and channels so that, together with this pool, there are
    /// `connections` and `channels` in all. Borrows the pool only to share its connections,
    /// so the caller can keep transferring on it while the extension opens; see
    /// [`ChannelPool::absorb`].
    pub fn extension(
        &self,
        opts: &ConnectOptions,
        connections: u32,
        channels: u32,
        budget_per_channel: u32,
    ) -> impl std::future::Future<Output = Result<ChannelPool>> + use<> {
        let want_conns = connections.clamp(1, channels.max(1)) as usize;
        let have_conns = self.connections.clone();
        let have_sessions = self.sessions.len();
        let limits = self.sessions.first().map(|s| s.info().limits);
        let opts = opts.clone();
        async move {
            let (new_conns, reused) = acquire(&opts, want_conns.saturating_sub(have_conns.len())).await?;
            let all: Vec<Arc<Connection>> = have_conns.iter().cloned().chain(new_conns.iter().cloned()).collect();
            let sessions = open_sessions(&all, have_sessions..channels.max(1) as usize, budget_per_channel, limits).await?;
            Ok(ChannelPool { connections: new_conns, sessions, reuse: opts.reuse.clone(), reused })
        }
    }

    /// Take over another pool's connections and sessions.
    pub fn absorb(&mut self, other: ChannelPool) {
        self.connections.extend(other.connections);
        self.sessions.extend(other.sessions);
        self.reused += other.reused;
    }

    /// How many of the pool's connections came from the cache.
    pub fn reused(&self) -> usize {
        self.reused
    }

    pub fn sessions(&self) -> &[SftpSession] {
        &self.sessions
    }

    pub fn first(&self) -> &SftpSession {
        &self.sessions[0]
    }

    /// Close the sessions, then hand the connections back to the cache (once the server has
    /// closed every channel, so the next pool on them has all of MaxSessions), or disconnect
    /// them when there is no cache or a channel did not close.
    pub async fn close(self) {
        let Some(cache) = self.reuse else {
            for s in &self.sessions {
                s.close();
            }
            for c in &self.connections {
                c.disconnect().await;
            }
            return;
        };
        let closed = join_all(self.sessions.iter().map(|s| s.shutdown(CHANNEL_CLOSE_WAIT))).await;
        let clean = closed.iter().all(|c| *c);
        drop(self.sessions);
        for c in self.connections {
            match Arc::try_unwrap(c) {
                Ok(c) if clean => cache.put(c),
                Ok(c) => c.disconnect().await,
                // Still shared (cannot happen once the pool's users are done): just let go.
                Err(c) => drop(c),
            }
        }
    }
}

/// `n` connections: idle ones from the cache first, then new ones. Also says how many were
/// reused.
async fn acquire(opts: &ConnectOptions, n: usize) -> Result<(Vec<Arc<Connection>>, usize)> {
    let label = opts.label();
    let mut conns: Vec<Arc<Connection>> = match &opts.reuse {
        Some(cache) => std::iter::from_fn(|| cache.take(&label)).take(n).map(Arc::new).collect(),
        None => Vec::new(),
    };
    let reused = conns.len();
    conns.extend(connect_many(opts, n - reused).await?);
    Ok((conns, reused))
}

async fn connect_many(opts: &ConnectOptions, n: usize) -> Result<Vec<Arc<Connection>>> {
    try_join_all((0..n).map(|_| async { Connection::connect(opts).await.map(Arc::new) })).await
}

/// Open SFTP sessions `range` (numbered round-robin over `conns`). A server may cap channels
/// per connection (OpenSSH's MaxSessions, 10 by default): sessions that fail to open are
/// left out as long as at least one opened; the first error is returned only if none did.
async fn open_sessions(
    conns: &[Arc<Connection>],
    range: std::ops::Range<usize>,
    budget_per_channel: u32,
    limits: Option<skiff_sftp::Limits>,
) -> Result<Vec<SftpSession>> {
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let results = join_all(range.map(|i| {
        let conn = conns[i % conns.len()].clone();
        async move { conn.open_sftp_with(InFlightBudget::new(budget_per_channel), limits).await }
    }))
    .await;
    let mut sessions = Vec::with_capacity(results.len());
    let mut first_err = None;
    for r in results {
        match r {
            Ok(s) => sessions.push(s),
            Err(e) => {
                tracing::debug!(error = %e, "an extra SFTP channel did not open");
                first_err.get_or_insert(e);
            }
        }
    }
    match (sessions.is_empty(), first_err) {
        (true, Some(e)) => Err(e),
        _ => Ok(sessions),
    }
}
