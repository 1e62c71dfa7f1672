//! The request pipeline one channel keeps full, shared by downloads and uploads: fill the
//! window with requests (each first taking its bytes from the transfer's [`Throttle`]),
//! wait for the next reply, let the direction handle it, widen the window by what it
//! reports (slow start: doubling per round trip) up to the direction's cap.
//!
//! What differs between the directions (which range comes next, how a request is built,
//! what a reply means) is a [`PipelineSteps`] implementation in `download` and `upload`.
//!
//! A server that stops answering while requests are in flight (ProFTPD's mod_sftp does when
//! it mixes up two channels' packets) ends the pipeline with an error after
//! [`REPLY_STALL_LIMIT`] without any reply, instead of waiting forever on a live connection.

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use skiff_sftp::Packet;

use super::throttle::Throttle;
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::Reply;

/// Longest wait for the next reply while requests are in flight. SSH keepalives (15 s, 3
/// misses) already catch a dead connection; this catches a live one whose SFTP server has
/// stopped answering. Generous: one READ or WRITE of at most a few hundred KiB.
pub(super) const REPLY_STALL_LIMIT: Duration = Duration::from_secs(60);

/// The direction-specific steps of a channel pipeline.
pub(super) trait PipelineSteps {
    /// The next range to request, `None` when there is nothing left to ask for.
    fn next_range(&mut self) -> Option<(u64, u32)>;

    /// Send the request for `len` bytes at `off`.
    async fn send(&mut self, off: u64, len: u32) -> Result<Reply>;

    /// Handle the reply to the request for `len` bytes at `off`; returns the bytes it moved,
    /// by which the window grows.
    async fn on_reply(&mut self, off: u64, len: u32, reply: Result<Packet>) -> Result<u64>;

    /// Most bytes in flight at this moment.
    fn max_window(&self) -> u64;
}

/// Keep up to the window's worth of requests in flight until `steps` has no range left and
/// every reply is handled. Stops at the first error; replies still in flight are dropped.
pub(super) async fn run_pipeline(steps: &mut impl PipelineSteps, initial_window: u64, throttle: &Throttle) -> Result<()> {
    let mut window = initial_window.min(steps.max_window());
    let mut in_flight_bytes = 0u64;
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight_bytes < window {
            let Some((off, len)) = steps.next_range() else { break };
            throttle.take(u64::from(len)).await;
            let reply = steps.send(off, len).await?;
            in_flight_bytes += u64::from(len);
            in_flight.push(async move { (off, len, reply.await) });
        }
        if in_flight.is_empty() {
            return Ok(());
        }
        let next = match tokio::time::timeout(REPLY_STALL_LIMIT, in_flight.next()).await {
            Ok(next) => next,
            Err(_) => return Err(stalled(in_flight.len(), in_flight_bytes)),
        };
        let Some((off, len, reply)) = next else { return Ok(()) };
        in_flight_bytes -= u64::from(len);
        let moved = steps.on_reply(off, len, reply).await?;
        window = (window + moved).min(steps.max_window());
    }
}

/// The error for a server that left `requests` requests (`bytes` bytes) unanswered for
/// [`REPLY_STALL_LIMIT`]. Not transient: reconnecting to a server that mishandles the layout
/// would only stall again; the caller adds host and path.
fn stalled(requests: usize, bytes: u64) -> Error {
    Error::new(
        ErrorKind::Protocol,
        "wait for the server's reply",
        format!(
            "the server answered none of {requests} requests ({bytes} bytes) in flight for {} s",
            REPLY_STALL_LIMIT.as_secs()
        ),
    )
    .hint(
        "the server stopped answering on a live connection; if it happens again, try \
         --channels 1 (some servers mix up the SFTP channels of one connection), and check the server's log",
    )
}
