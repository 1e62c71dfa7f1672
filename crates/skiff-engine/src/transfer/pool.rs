//! [`ChannelPool`]: the SFTP sessions one transfer runs on, spread over one or more SSH
//! connections. Opening is concurrent; a pool is thrown away and rebuilt after a transient
//! failure. Owns connection fan-out only, not what moves over it.

use std::sync::Arc;

use futures::future::try_join_all;

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
        let sessions = try_join_all((0..channels.max(1)).map(|i| {
            let conn = conns[i as usize % conns.len()].clone();
            async move { conn.open_sftp(InFlightBudget::new(budget_per_channel)).await }
        }))
        .await?;
        Ok(ChannelPool { connections: conns, sessions })
    }

    /// Add connections and channels up to the given totals (after a stat showed the file is big).
    pub async fn grow(&mut self, opts: &ConnectOptions, connections: u32, channels: u32, budget_per_channel: u32) -> Result<()> {
        let want_conns = connections.clamp(1, channels.max(1)) as usize;
        let new_conns: Vec<Arc<Connection>> = try_join_all(
            (self.connections.len()..want_conns).map(|_| async { Connection::connect(opts).await.map(Arc::new) }),
        )
        .await?;
        self.connections.extend(new_conns);
        let have = self.sessions.len();
        let conns = &self.connections;
        let more = try_join_all((have..channels.max(1) as usize).map(|i| {
            let conn = conns[i % conns.len()].clone();
            async move { conn.open_sftp(InFlightBudget::new(budget_per_channel)).await }
        }))
        .await?;
        self.sessions.extend(more);
        Ok(())
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
