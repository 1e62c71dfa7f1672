//! [`ChannelPool`]: the SFTP sessions one transfer runs on, spread over one or more SSH
//! connections. Opening is concurrent; a pool is thrown away and rebuilt after a transient
//! failure. Owns connection fan-out only, not what moves over it.

use std::sync::Arc;

use futures::future::{join_all, try_join_all};

use crate::error::Result;
use crate::sftp::{InFlightBudget, SftpSession};
use crate::ssh::{ConnectOptions, Connection};

pub struct ChannelPool {
    connections: Vec<Arc<Connection>>,
    sessions: Vec<SftpSession>,
}

impl ChannelPool {
    /// Connect `connections` times and open `channels` SFTP sessions spread round-robin over
    /// them. Each session gets its own in-flight budget of `budget_per_channel` bytes.
    pub async fn open(opts: &ConnectOptions, connections: u32, channels: u32, budget_per_channel: u32) -> Result<Self> {
        let connections = connections.clamp(1, channels.max(1));
        let conns: Vec<Arc<Connection>> = try_join_all((0..connections).map(|_| async {
            Connection::connect(opts).await.map(Arc::new)
        }))
        .await?;
        let sessions = open_sessions(&conns, 0..channels.max(1) as usize, budget_per_channel, None).await?;
        Ok(ChannelPool { connections: conns, sessions })
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
            let new_conns: Vec<Arc<Connection>> = try_join_all(
                (have_conns.len()..want_conns).map(|_| async { Connection::connect(&opts).await.map(Arc::new) }),
            )
            .await?;
            let all: Vec<Arc<Connection>> = have_conns.iter().cloned().chain(new_conns.iter().cloned()).collect();
            let sessions = open_sessions(&all, have_sessions..channels.max(1) as usize, budget_per_channel, limits).await?;
            Ok(ChannelPool { connections: new_conns, sessions })
        }
    }

    /// Take over another pool's connections and sessions.
    pub fn absorb(&mut self, other: ChannelPool) {
        self.connections.extend(other.connections);
        self.sessions.extend(other.sessions);
    }

    pub fn sessions(&self) -> &[SftpSession] {
        &self.sessions
    }

    pub fn first(&self) -> &SftpSession {
        &self.sessions[0]
    }

    pub async fn close(self) {
        for s in &self.sessions {
            s.close();
        }
        for c in &self.connections {
            c.disconnect().await;
        }
    }
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
