//! [`TransferOptions`]: the knobs of one transfer (block size, requests in flight, channels,
//! connections, segment size, retries) with defaults that are fast on loopback and on a
//! 100 ms link, and the speed limits it obeys. Pure data.

use std::time::Duration;

use skiff_sftp::FileAttrs;

use super::throttle::Throttle;

#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Bytes per READ/WRITE; `None` = the server's limits@openssh.com maximum (OpenSSH: 255 KiB).
    pub block_size: Option<u32>,
    /// Most requests in flight per channel (the pipeline grows up to this, slow-start style).
    pub max_requests: u32,
    /// SFTP channels a big file is spread over.
    pub channels: u32,
    /// SSH connections the channels are spread over (one cipher stream per core each).
    pub connections: u32,
    /// A file is cut into segments of this size for the channels to share.
    pub segment_size: u64,
    /// Files smaller than this use one channel only.
    pub multi_channel_threshold: u64,
    /// Reconnect attempts after a transient failure.
    pub retries: u32,
    /// First backoff; doubles each attempt, capped at `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Speed limits every READ and WRITE takes its bytes from (default: none).
    pub throttle: Throttle,
    /// Give the copy the source's modification time (default on).
    pub preserve_mtime: bool,
    /// Give the copy the source's permission bits (default on); off, the destination's
    /// defaults apply (umask locally, the server's on the remote side).
    pub preserve_permissions: bool,
    /// Where unfinished downloads keep their done ranges between runs (the job's queue
    /// record); `None`: a new run starts a file over.
    pub partials: Option<super::Partials>,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            block_size: None,
            max_requests: 64,
            channels: 16,
            connections: 2,
            segment_size: 8 * 1024 * 1024,
            multi_channel_threshold: 16 * 1024 * 1024,
            retries: 8,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            throttle: Throttle::none(),
            preserve_mtime: true,
            preserve_permissions: true,
            partials: None,
        }
    }
}

impl TransferOptions {
    /// In-flight byte budget of one channel: enough for the deepest pipeline at the largest
    /// block (255 KiB on OpenSSH), so the budget never starves it.
    pub fn budget_per_channel(&self) -> u32 {
        self.max_requests.saturating_mul(self.block_size.unwrap_or(256 * 1024)).max(4 * 1024 * 1024)
    }

    /// Attributes for creating a remote file whose source has permission bits `mode`.
    pub fn create_attrs(&self, mode: u32) -> FileAttrs {
        FileAttrs { permissions: self.preserve_permissions.then_some(mode), ..FileAttrs::default() }
    }

    /// Backoff before retry number `attempt` (1-based).
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let o = TransferOptions::default();
        assert_eq!(o.backoff_for(1), Duration::from_millis(250));
        assert_eq!(o.backoff_for(2), Duration::from_millis(500));
        assert_eq!(o.backoff_for(4), Duration::from_secs(2));
        assert_eq!(o.backoff_for(30), Duration::from_secs(8));
    }
}
