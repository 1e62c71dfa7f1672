//! [`TransferOptions`]: the knobs of one transfer (block size, requests in flight, channels,
//! connections, segment size, how it retries) with defaults that are fast on loopback and on a
//! 100 ms link, and the speed limits it obeys. Pure data.

use skiff_sftp::FileAttrs;

use super::throttle::Throttle;
use crate::retry::{RetryBudget, RetryPolicy};

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
    /// How a transfer reconnects after the network broke, when it has no `retry_budget`.
    pub retry: RetryPolicy,
    /// The budget of the job this transfer runs for (the scheduler's), shared with the
    /// job's re-runs so that retries never nest; `None`: each transfer gets `retry`'s own.
    pub retry_budget: Option<RetryBudget>,
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
            retry: RetryPolicy::default(),
            retry_budget: None,
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

    /// The tries a transfer may take: the job's shared budget, or a fresh one of `retry`.
    pub fn retries(&self) -> RetryBudget {
        self.retry_budget.clone().unwrap_or_else(|| self.retry.budget())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_budget_is_shared_and_without_one_each_transfer_has_its_own() {
        let own = TransferOptions { retry: RetryPolicy::attempts(1), ..TransferOptions::default() };
        assert!(own.retries().take().is_some());
        assert!(own.retries().take().is_some(), "a fresh budget per transfer");
        let job = RetryPolicy::attempts(1).budget();
        let shared = TransferOptions { retry_budget: Some(job.clone()), ..TransferOptions::default() };
        assert!(shared.retries().take().is_some());
        assert!(shared.retries().take().is_none(), "the job's one budget is spent");
        assert_eq!(job.used(), 1);
    }
}
