//! [`ChannelPool`]: the SFTP sessions one transfer runs on, spread over one or more SSH
//! connections. Opening is concurrent; a pool is thrown away and rebuilt after a transient
//! failure. Owns connection fan-out only, not what moves over it.
//!
//! With a [`ConnectionCache`] in the options, a pool first takes idle connections from it
//! (exclusively: no other pool uses them meanwhile) and [`ChannelPool::close`] hands them
//! back once their channels are closed; without one, it connects and disconnects its own.
//! A pool dropped without `close` (after a failure) drops its connections.
//!
//! All channels are opened at once; when the server does not keep the channels of one
//! connection apart (ProFTPD's mod_sftp, see [`keeps_channels_apart`]), every connection then
//! keeps exactly one SFTP channel and the others are closed before they carry a request.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{join_all, try_join_all};

use crate::error::Result;
use crate::sftp::{InFlightBudget, ServerInfo, SftpSession};
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
        let sessions = match open_layout(&conns, range.end, budget_per_channel).await {
            Ok(s) => s,
            // A reused connection may have died unnoticed while idle: start over on new ones.
            Err(e) if reused > 0 => {
                tracing::debug!(error = %e, "a reused connection failed; connecting anew");
                drop(conns);
                let conns = connect_many(opts, connections).await?;
                let sessions = open_layout(&conns, range.end, budget_per_channel).await?;
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
        let apart = self.sessions.first().is_none_or(|s| keeps_channels_apart(s.info()));
        let opts = opts.clone();
        async move {
            let (new_conns, reused) = acquire(&opts, want_conns.saturating_sub(have_conns.len())).await?;
            let sessions = if apart {
                let all: Vec<Arc<Connection>> = have_conns.iter().cloned().chain(new_conns.iter().cloned()).collect();
                open_sessions(&all, have_sessions..channels.max(1) as usize, budget_per_channel, limits).await?
            } else {
                // One channel per connection: only the new connections get one.
                open_sessions(&new_conns, 0..new_conns.len(), budget_per_channel, limits).await?
            };
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

/// `channels` SFTP sessions spread round-robin over `conns`, all opened at once (one round
/// of channel opens, not two: at 50 ms a second round costs ~0.15 s before the first byte).
/// When the server turns out not to keep the channels of one connection apart (its VERSION
/// says so, before any file is touched), only the first channel of each connection is kept
/// and the others are closed unused. Channels beyond the first per connection are a bonus:
/// when none of them opens, the pool still works.
async fn open_layout(conns: &[Arc<Connection>], channels: usize, budget_per_channel: u32) -> Result<Vec<SftpSession>> {
    let channels = channels.max(1);
    let opened = join_all((0..channels).map(|i| {
        let conn = conns[i % conns.len()].clone();
        async move { (i % conns.len(), conn.open_sftp_with(InFlightBudget::new(budget_per_channel), None).await) }
    }))
    .await;
    let mut sessions: Vec<(usize, SftpSession)> = Vec::with_capacity(opened.len());
    let mut first_err = None;
    for (conn, r) in opened {
        match r {
            Ok(s) => sessions.push((conn, s)),
            Err(e) => {
                tracing::debug!(error = %e, "an SFTP channel did not open");
                first_err.get_or_insert(e);
            }
        }
    }
    let Some((_, first)) = sessions.first() else {
        return Err(first_err.expect("no session and no error"));
    };
    if sessions.len() > 1 && !keeps_channels_apart(first.info()) {
        tracing::info!(
            host = first.host(),
            "this SFTP server (ProFTPD mod_sftp) mixes up the packets of channels that share a connection: \
             one channel per connection"
        );
        let mut seen = std::collections::HashSet::new();
        let (keep, extra): (Vec<_>, Vec<_>) = sessions.into_iter().partition(|(conn, _)| seen.insert(*conn));
        // Closed before any request: their EOF and CLOSE are not SFTP data, nothing to mix up.
        for (_, s) in &extra {
            s.close();
        }
        sessions = keep;
    }
    Ok(sessions.into_iter().map(|(_, s)| s).collect())
}

/// Whether several SFTP channels may share one SSH connection on this server.
///
/// Not on ProFTPD's mod_sftp: it serves every channel of a connection from one process and
/// reassembles SFTP packets from SSH messages in one buffer for all of them (`curr_buf` and
/// `curr_pkt` in contrib/mod_sftp/fxp.c, 1.3.8 and still in 1.3.9's master). A WRITE is
/// bigger than one SSH message (ProFTPD allows 32 KiB), so when two channels' WRITEs
/// interleave on the wire their bytes are glued together: the server answers "Invalid
/// handle" or waits forever for a packet length it read from the middle of a data block.
/// Known from its VERSION: the `versions` extension (draft version-select, which ProFTPD
/// sends by default and OpenSSH never does), or a `vendor-id` (off by default) naming
/// product `mod_sftp` or vendor `ProFTPD Project`. Another server that sends `versions`
/// only loses the extra channels (one channel per connection is always correct).
pub fn keeps_channels_apart(info: &ServerInfo) -> bool {
    if info.has_extension("versions") {
        return false;
    }
    let vendor = info
        .extensions
        .iter()
        .find(|(name, _)| name.as_ref() == b"vendor-id")
        .and_then(|(_, data)| vendor_id(data));
    match vendor {
        Some((vendor, product)) => !(product == b"mod_sftp" || vendor.starts_with(b"ProFTPD")),
        None => true,
    }
}

/// `(vendor name, product name)` from a vendor-id extension's data: string vendorName,
/// string productName, string productVersion, uint64 productBuildNumber.
fn vendor_id(data: &[u8]) -> Option<(&[u8], &[u8])> {
    fn string(buf: &[u8]) -> Option<(&[u8], &[u8])> {
        let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
        let s = buf.get(4..4usize.checked_add(len)?)?;
        Some((s, &buf[4 + len..]))
    }
    let (vendor, rest) = string(data)?;
    let (product, _) = string(rest)?;
    Some((vendor, product))
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn info_with(extensions: Vec<(&'static [u8], Vec<u8>)>) -> ServerInfo {
        ServerInfo {
            version: 3,
            extensions: extensions.into_iter().map(|(n, d)| (Bytes::from_static(n), Bytes::from(d))).collect(),
            limits: skiff_sftp::Limits { max_packet_len: 256 * 1024, max_read_len: 32 * 1024, max_write_len: 32 * 1024, max_open_handles: 0 },
        }
    }

    /// What ProFTPD 1.3.8 sends (fxp_version_add_vendor_id_ext).
    fn proftpd_vendor_id() -> Vec<u8> {
        let mut d = Vec::new();
        for s in [&b"ProFTPD Project"[..], b"mod_sftp", b"mod_sftp/1.1.1"] {
            d.extend_from_slice(&(s.len() as u32).to_be_bytes());
            d.extend_from_slice(s);
        }
        d.extend_from_slice(&0x0103_0800u64.to_be_bytes());
        d
    }

    #[test]
    fn proftpd_gets_one_channel_per_connection() {
        let info = info_with(vec![(b"vendor-id", proftpd_vendor_id()), (b"versions", b"2,3,4,5,6".to_vec())]);
        assert!(!keeps_channels_apart(&info));
    }

    #[test]
    fn openssh_and_unknown_servers_share_connections() {
        let openssh = info_with(vec![(b"posix-rename@openssh.com", b"1".to_vec()), (b"limits@openssh.com", b"1".to_vec())]);
        assert!(keeps_channels_apart(&openssh));
        let mut other = Vec::new();
        for s in [&b"Example Corp"[..], b"exampled"] {
            other.extend_from_slice(&(s.len() as u32).to_be_bytes());
            other.extend_from_slice(s);
        }
        assert!(keeps_channels_apart(&info_with(vec![(b"vendor-id", other)])));
    }

    #[test]
    fn proftpd_without_vendor_id_is_known_by_its_versions_extension() {
        // ProFTPD 1.3.8's default VERSION at protocol 3: versions + OpenSSH extensions.
        let info = info_with(vec![(b"versions", b"2,3,4,5,6".to_vec()), (b"posix-rename@openssh.com", b"1".to_vec())]);
        assert!(!keeps_channels_apart(&info));
    }

    #[test]
    fn a_truncated_vendor_id_is_not_trusted_as_proftpd() {
        let mut d = proftpd_vendor_id();
        d.truncate(10);
        assert!(keeps_channels_apart(&info_with(vec![(b"vendor-id", d)])));
        assert!(keeps_channels_apart(&info_with(vec![(b"vendor-id", vec![0xff, 0xff, 0xff, 0xff])])));
    }
}
