//! One SFTP session over one SSH channel: the reader and writer tasks around its request table.
//!
//! Any number of tasks may have requests in flight at once. [`SftpSession::send`] assigns an
//! id, queues the encoded frame for the single writer task (so frames never interleave on the
//! channel) and returns a [`Reply`] future; the single reader task decodes replies and routes
//! each to its waiter by id. Which replies are acceptable is the sans-IO
//! [`RequestTable`](super::requests::RequestTable)'s decision: a reply with an id nobody asked
//! for, a second reply, a malformed or oversized packet, or a closed channel is fatal: every
//! waiter gets the error and the session is marked dead.
//!
//! Bytes in flight are bounded by an [`InFlightBudget`] permit that travels with the request
//! and is released when its reply is routed: that is the backpressure.
//!
//! This module knows packets and channels; it knows nothing about files or transfers.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use russh::client::Msg;
use russh::{Channel, ChannelMsg};
use skiff_sftp::{Limits, Packet, DEFAULT_MAX_PACKET, SFTP_VERSION};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::budget::InFlightBudget;
use super::requests::{next_reply, Failure, RequestTable, Routed};
use crate::error::{Error, ErrorKind, Result};

/// Largest reply we accept: a 255 KiB DATA plus headers, with headroom for servers that allow
/// bigger reads (limits@openssh.com may raise it; we never ask for more than we accept).
const MAX_INCOMING_PACKET: u32 = 4 * 1024 * 1024;

/// What the writer task sends: a frame, optionally followed by a payload that belongs to it
/// (a WRITE's data, sent without copying it into the header buffer).
struct Outgoing {
    head: Bytes,
    body: Option<Bytes>,
}

/// A waiter and the budget it holds; the permit is released the moment the reply is routed,
/// so a task that has replies waiting can never deadlock on its own budget.
type Waiter = (oneshot::Sender<Result<Packet>>, Option<OwnedSemaphorePermit>);

struct Shared {
    host: String,
    table: Mutex<RequestTable<Waiter>>,
    out: mpsc::Sender<Outgoing>,
    /// Flips to true when the session dies, so a writer stuck waiting for SSH window on a
    /// dead channel lets go (and senders blocked on a full queue get their error).
    dead_tx: tokio::sync::watch::Sender<bool>,
    /// Flips to true once the channel is closed both ways (the server answered our CLOSE,
    /// or the connection went away): the server no longer counts it against MaxSessions.
    closed_tx: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// Mark the session dead and fail every waiter with `err`.
    fn kill(&self, err: Error) {
        let failure = self.table.lock().expect("sftp table poisoned").fail(err);
        self.fail_waiters(failure);
    }

    /// Tell every waiter of a dead session (outside the table's lock).
    fn fail_waiters(&self, failure: Failure<Waiter>) {
        let _ = self.dead_tx.send(true);
        for (w, _permit) in failure.waiters {
            let _ = w.send(Err(failure.error.clone()));
        }
    }
}

/// What the server told us at INIT time.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: u32,
    pub extensions: Vec<(Bytes, Bytes)>,
    /// From limits@openssh.com, or conservative defaults.
    pub limits: Limits,
}

impl ServerInfo {
    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|(n, _)| n.as_ref() == name.as_bytes())
    }
}

/// A live SFTP session. Cheap to clone; all clones share the channel.
#[derive(Clone)]
pub struct SftpSession {
    shared: Arc<Shared>,
    info: Arc<ServerInfo>,
    budget: InFlightBudget,
}

/// The future of one reply.
pub struct Reply {
    rx: oneshot::Receiver<Result<Packet>>,
    host: Arc<Shared>,
}

impl Future for Reply {
    type Output = Result<Packet>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::network(
                "sftp request",
                "the SFTP session ended before the server answered",
            )
            .host(self.host.host.clone()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl SftpSession {
    /// Start the sftp subsystem on `channel`, run INIT/VERSION and ask for limits.
    ///
    /// `known_limits`, when given (another session to the same server already asked), saves
    /// the round trip of asking again.
    pub async fn start(
        channel: Channel<Msg>,
        host: &str,
        budget: InFlightBudget,
        known_limits: Option<Limits>,
    ) -> Result<Self> {
        let host_s = host.to_string();
        channel.request_subsystem(true, "sftp").await.map_err(|e| {
            Error::network("start sftp", e.to_string()).host(host_s.clone())
        })?;
        let (mut read_half, write_half) = channel.split();

        // The server answers the subsystem request with Success or Failure first.
        loop {
            match read_half.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        "start sftp",
                        "the server refused the sftp subsystem",
                    )
                    .host(host_s)
                    .hint("enable `Subsystem sftp` in the server's sshd_config, or ask its administrator"));
                }
                Some(ChannelMsg::WindowAdjusted { .. }) => continue,
                Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) | None => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        "start sftp",
                        "the server closed the channel instead of starting sftp",
                    )
                    .host(host_s)
                    .hint("the server may not offer sftp to this account"));
                }
                Some(_) => continue,
            }
        }

        // INIT / VERSION, synchronously, before the tasks start.
        let mut init = BytesMut::new();
        Packet::Init { version: SFTP_VERSION, extensions: vec![] }.encode(&mut init);
        write_half
            .data_bytes(init.freeze())
            .await
            .map_err(|e| Error::network("start sftp", e.to_string()).host(host_s.clone()))?;

        let mut inbuf = BytesMut::with_capacity(64 * 1024);
        let (version, extensions) = loop {
            match read_half.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    inbuf.extend_from_slice(&data);
                    match Packet::decode(&mut inbuf, DEFAULT_MAX_PACKET) {
                        Ok(Some(Packet::Version { version, extensions })) => break (version, extensions),
                        Ok(Some(other)) => {
                            return Err(Error::protocol(
                                "start sftp",
                                format!("expected VERSION, got {other:?}"),
                            )
                            .host(host_s))
                        }
                        Ok(None) => continue,
                        Err(e) => return Err(Error::protocol("start sftp", e.to_string()).host(host_s)),
                    }
                }
                Some(ChannelMsg::ExtendedData { .. }) | Some(ChannelMsg::WindowAdjusted { .. }) => continue,
                Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) | None => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        "start sftp",
                        "the server closed the sftp channel during the handshake",
                    )
                    .host(host_s)
                    .hint("the server's sftp subsystem failed to start; check its logs"))
                }
                Some(_) => continue,
            }
        };
        if version < 3 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "start sftp",
                format!("the server speaks SFTP version {version}; Skiff needs version 3"),
            )
            .host(host_s));
        }

        let (out_tx, out_rx) = mpsc::channel::<Outgoing>(256);
        let shared = Arc::new(Shared {
            host: host_s.clone(),
            table: Mutex::new(RequestTable::new(host_s.clone())),
            out: out_tx,
            dead_tx: tokio::sync::watch::Sender::new(false),
            closed_tx: tokio::sync::watch::Sender::new(false),
        });
        tokio::spawn(writer_task(write_half, out_rx, shared.clone()));
        tokio::spawn(reader_task(read_half, inbuf, shared.clone()));

        let mut session = SftpSession {
            shared,
            info: Arc::new(ServerInfo {
                version,
                extensions,
                limits: default_limits(),
            }),
            budget,
        };
        if let Some(limits) = known_limits {
            let mut info = (*session.info).clone();
            info.limits = limits;
            session.info = Arc::new(info);
        } else if session.info.has_extension("limits@openssh.com") {
            let reply = session
                .call(|id| Packet::Extended { id, request: skiff_sftp::Extension::Limits })
                .await?;
            if let Packet::ExtendedReply { data, .. } = reply {
                if let Ok(limits) = Limits::decode(&data) {
                    let mut info = (*session.info).clone();
                    info.limits = sanitize_limits(limits);
                    session.info = Arc::new(info);
                }
            }
        }
        Ok(session)
    }

    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    pub fn host(&self) -> &str {
        &self.shared.host
    }

    pub fn budget(&self) -> &InFlightBudget {
        &self.budget
    }

    /// True once the session has failed or closed.
    pub fn is_dead(&self) -> bool {
        self.shared.table.lock().expect("sftp table poisoned").dead().is_some()
    }

    fn register(&self, permit: Option<OwnedSemaphorePermit>) -> Result<(u32, oneshot::Receiver<Result<Packet>>)> {
        let (tx, rx) = oneshot::channel();
        let id = self.shared.table.lock().expect("sftp table poisoned").register((tx, permit))?;
        Ok((id, rx))
    }

    fn unregister(&self, id: u32) {
        self.shared.table.lock().expect("sftp table poisoned").unregister(id);
    }

    async fn enqueue(&self, id: u32, out: Outgoing) -> Result<()> {
        if self.shared.out.send(out).await.is_err() {
            self.unregister(id);
            let dead = self.shared.table.lock().expect("sftp table poisoned").dead().cloned();
            return Err(dead.unwrap_or_else(|| {
                Error::network("sftp request", "the SFTP session is closed").host(self.shared.host.clone())
            }));
        }
        Ok(())
    }

    /// Send a request built by `make` (given its id) and return the reply's future.
    /// `cost` bytes are taken from the in-flight budget until the reply arrives.
    pub async fn send_with_cost(&self, cost: u32, make: impl FnOnce(u32) -> Packet) -> Result<Reply> {
        let permit = if cost > 0 { Some(self.budget.acquire(cost).await) } else { None };
        let (id, rx) = self.register(permit)?;
        let packet = make(id);
        let mut buf = BytesMut::with_capacity(packet.encoded_len());
        packet.encode(&mut buf);
        self.enqueue(id, Outgoing { head: buf.freeze(), body: None }).await?;
        Ok(Reply { rx, host: self.shared.clone() })
    }

    /// Send a request with no budget cost (metadata operations).
    pub async fn send(&self, make: impl FnOnce(u32) -> Packet) -> Result<Reply> {
        self.send_with_cost(0, make).await
    }

    /// Send a request and wait for its reply.
    pub async fn call(&self, make: impl FnOnce(u32) -> Packet) -> Result<Packet> {
        self.send(make).await?.await
    }

    /// Send a WRITE without copying `data` into a new buffer. Costs `data.len()` of budget.
    pub async fn send_write(&self, handle: &[u8], offset: u64, data: Bytes) -> Result<Reply> {
        let len = u32::try_from(data.len()).map_err(|_| Error::protocol("write", "block too large"))?;
        let permit = Some(self.budget.acquire(len).await);
        let (id, rx) = self.register(permit)?;
        let mut head = BytesMut::with_capacity(64 + handle.len());
        skiff_sftp::encode_write_header(id, handle, offset, len, &mut head);
        self.enqueue(id, Outgoing { head: head.freeze(), body: Some(data) }).await?;
        Ok(Reply { rx, host: self.shared.clone() })
    }

    /// Close the session's channel. Outstanding requests fail (as a network error: whoever
    /// still waits may retry on a new session).
    pub fn close(&self) {
        self.shared.kill(Error::network("sftp", "the session was closed").host(self.shared.host.clone()));
    }

    /// [`SftpSession::close`], then wait (at most `limit`) until the server has closed the
    /// channel too, so it no longer counts against the connection's sessions (OpenSSH's
    /// MaxSessions). True when it did: the connection can carry new channels at once.
    pub async fn shutdown(&self, limit: std::time::Duration) -> bool {
        self.close();
        let mut closed = self.shared.closed_tx.subscribe();
        let done = tokio::time::timeout(limit, async { closed.wait_for(|c| *c).await.is_ok() }).await;
        done.unwrap_or(false)
    }
}

fn default_limits() -> Limits {
    // OpenSSH before limits@openssh.com: 256 KiB packets, 32 KiB is the conservative
    // read/write size every server accepts.
    Limits { max_packet_len: 256 * 1024, max_read_len: 32 * 1024, max_write_len: 32 * 1024, max_open_handles: 0 }
}

fn sanitize_limits(mut l: Limits) -> Limits {
    let cap = u64::from(MAX_INCOMING_PACKET) - 1024;
    if l.max_read_len == 0 || l.max_read_len > cap {
        l.max_read_len = l.max_read_len.clamp(1, cap).max(32 * 1024);
    }
    if l.max_write_len == 0 || l.max_write_len > cap {
        l.max_write_len = l.max_write_len.clamp(1, cap).max(32 * 1024);
    }
    l
}

async fn writer_task(
    write_half: russh::ChannelWriteHalf<Msg>,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut dead = shared.dead_tx.subscribe();
    loop {
        let out = tokio::select! {
            out = rx.recv() => match out { Some(o) => o, None => break },
            _ = dead.wait_for(|d| *d) => break,
        };
        let res = tokio::select! {
            r = send_burst(&write_half, out, &mut rx) => r,
            // The channel died while we waited for window: nothing will ever be sent.
            _ = dead.wait_for(|d| *d) => break,
        };
        if let Err(e) = res {
            shared.kill(
                Error::network("send sftp request", format!("the SSH channel failed: {e}"))
                    .host(shared.host.clone()),
            );
            break;
        }
    }
    // Always end the channel: dropped, it would stay open on the server (counted against
    // MaxSessions) for as long as the connection lives, and connections are reused. EOF
    // ends the server's sftp subsystem, which then closes the channel; our CLOSE answers
    // that. (A CLOSE of our own first would make russh forget the channel, so the server's
    // CLOSE would never reach the reader and nobody could tell when the channel is gone.)
    let _ = write_half.eof().await;
}

/// Requests queued together leave in one CHANNEL_DATA of up to this many bytes.
const BURST_BYTES: usize = 32 * 1024;
/// A WRITE payload up to this size is copied into the burst; a bigger one is sent as is.
const INLINE_BODY: usize = 4 * 1024;

/// Send `first` and whatever else is already queued behind it, small frames joined into one
/// CHANNEL_DATA: a burst of OPEN, READ and CLOSE requests for many small files then costs one
/// SSH packet (one encryption, one send, one read by the server's sftp-server) instead of
/// one each, which is most of the CPU a many-files transfer spends on both ends.
async fn send_burst(
    write_half: &russh::ChannelWriteHalf<Msg>,
    first: Outgoing,
    rx: &mut mpsc::Receiver<Outgoing>,
) -> std::result::Result<(), russh::Error> {
    let mut joined = BytesMut::new();
    let mut next = Some(first);
    while let Some(out) = next.take() {
        match out.body {
            Some(body) if body.len() > INLINE_BODY => {
                if joined.is_empty() {
                    write_half.data_bytes(out.head).await?;
                } else {
                    joined.extend_from_slice(&out.head);
                    write_half.data_bytes(joined.split().freeze()).await?;
                }
                write_half.data_bytes(body).await?;
            }
            body => {
                joined.extend_from_slice(&out.head);
                if let Some(body) = body {
                    joined.extend_from_slice(&body);
                }
            }
        }
        if joined.len() >= BURST_BYTES {
            break;
        }
        next = rx.try_recv().ok();
    }
    if !joined.is_empty() {
        write_half.data_bytes(joined.freeze()).await?;
    }
    Ok(())
}

async fn reader_task(mut read_half: russh::ChannelReadHalf, buf: BytesMut, shared: Arc<Shared>) {
    let closed = route_replies(&mut read_half, buf, &shared).await;
    // Dead now (whatever the cause, the writer closes our side): wait for the server's CLOSE,
    // or for the connection to go, so that [`SftpSession::shutdown`] knows the channel is gone.
    if !closed {
        while let Some(msg) = read_half.wait().await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
    }
    let _ = shared.closed_tx.send(true);
}

/// Route replies to their waiters until the session dies. True when the channel is already
/// closed by the server (CLOSE seen, or the connection gone).
async fn route_replies(read_half: &mut russh::ChannelReadHalf, mut buf: BytesMut, shared: &Shared) -> bool {
    let (err, closed) = loop {
        // Route everything already buffered.
        loop {
            match next_reply(&mut buf, MAX_INCOMING_PACKET, &shared.host) {
                Ok(Some(packet)) => {
                    let routed = shared.table.lock().expect("sftp table poisoned").route(packet);
                    match routed {
                        Ok(Routed { waiter: (w, permit), packet }) => {
                            drop(permit);
                            let _ = w.send(Ok(packet));
                        }
                        Err(failure) => {
                            shared.fail_waiters(failure);
                            return false;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.kill(e);
                    return false;
                }
            }
        }
        match read_half.wait().await {
            Some(ChannelMsg::Data { data }) => {
                if buf.is_empty() && data.len() >= 4 {
                    buf.reserve(data.len().max(64 * 1024));
                }
                buf.extend_from_slice(&data);
            }
            Some(ChannelMsg::Eof) => break (Error::network("sftp", "the server closed the SFTP channel"), false),
            Some(ChannelMsg::Close) | None => break (Error::network("sftp", "the server closed the SFTP channel"), true),
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                tracing::debug!(exit_status, "sftp server exited");
            }
            Some(_) => {}
        }
    };
    shared.kill(err.host(shared.host.clone()));
    closed
}
