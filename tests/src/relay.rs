//! A TCP relay that makes loopback look like a real network: one-way delay,
//! a per-direction bandwidth cap, and abrupt connection cuts.
//!
//! There is no kernel netem here, so the relay does it in user space. Each
//! direction of each connection is a reader task and a writer task joined by
//! a queue of timestamped chunks: the reader reads up to 64 KiB, waits for
//! the token bucket (if a rate is set), stamps the chunk with its due time
//! (`now + one_way_delay`) and queues it; the writer sleeps until each chunk
//! is due and writes it. Delay therefore adds latency without limiting
//! throughput. The queue is bounded in bytes ([`QUEUE_LIMIT_BYTES`]); a full
//! queue stops the reader, which backpressures the sender through TCP.
//!
//! The relay runs on its own thread with its own tokio runtime, so it works
//! from sync tests and from inside other runtimes, and stops when dropped.
//! It owns its listener and its connections; it never touches the target
//! beyond connecting to it.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Bytes read per `read` call.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Most bytes queued (read but not yet written) per direction per connection.
pub const QUEUE_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// What the relay does to the traffic. The default is a plain pass-through.
#[derive(Clone, Debug, Default)]
pub struct RelayOptions {
    /// Added to each direction (the round trip grows by twice this).
    pub one_way_delay: Duration,
    /// Per-direction bandwidth cap in bytes per second (token bucket).
    pub rate_bytes_per_sec: Option<u64>,
    /// Close both sockets of a connection abruptly once this many bytes
    /// (client→server plus server→client) have been delivered through it.
    pub cut_after_bytes: Option<u64>,
    /// With `cut_after_bytes`: cut only the first N connections (0 = all).
    /// Later connections pass through untouched.
    pub cut_connections: usize,
}

/// Counters, updated live.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Bytes delivered client → server.
    pub bytes_up: AtomicU64,
    /// Bytes delivered server → client.
    pub bytes_down: AtomicU64,
    /// Connections cut by `cut_after_bytes`.
    pub cuts: AtomicUsize,
}

/// A running relay; stops (closing every connection) when dropped.
pub struct Relay {
    /// The address clients connect to.
    pub addr: SocketAddr,
    /// `addr.port()`.
    pub port: u16,
    /// Where connections are forwarded.
    pub target: SocketAddr,
    stats: Arc<RelayStats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Start on `127.0.0.1:0` forwarding to `target`.
    pub fn start(target: SocketAddr, opts: RelayOptions) -> Result<Relay> {
        Relay::start_on(([127, 0, 0, 1], 0).into(), target, opts)
    }

    /// Start on `listen` (port 0 picks a free one) forwarding to `target`.
    pub fn start_on(listen: SocketAddr, target: SocketAddr, opts: RelayOptions) -> Result<Relay> {
        let std_listener =
            StdTcpListener::bind(listen).with_context(|| format!("relay: binding {listen}"))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let stats = Arc::new(RelayStats::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("skiff-relay")
            .enable_all()
            .build()
            .context("relay: building its tokio runtime")?;
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("skiff-relay-{}", addr.port()))
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("relay {addr}: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        _ = accept_loop(listener, target, opts, thread_stats) => {}
                        _ = shutdown_rx => {}
                    }
                });
                // Drops every connection task, closing their sockets.
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .context("relay: spawning its thread")?;
        Ok(Relay {
            addr,
            port: addr.port(),
            target,
            stats,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// Live counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    opts: RelayOptions,
    stats: Arc<RelayStats>,
) {
    loop {
        let (client, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off rather than spin.
                eprintln!("relay: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let index = stats.connections.fetch_add(1, Ordering::SeqCst);
        let cut_after = match opts.cut_after_bytes {
            Some(n) if opts.cut_connections == 0 || index < opts.cut_connections => Some(n),
            _ => None,
        };
        let opts = opts.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let server = match TcpStream::connect(target).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("relay: connecting to {target}: {e}");
                    return; // dropping `client` closes it
                }
            };
            relay_connection(client, server, &opts, cut_after, stats).await;
        });
    }
}

/// Why a connection ended early.
enum Stop {
    /// `cut_after_bytes` reached.
    Cut,
    /// A socket error on either side: tear the whole connection down.
    Failed,
}

/// Per-connection shared state for the cut.
struct CutState {
    limit: Option<u64>,
    delivered: AtomicU64,
    fired: AtomicBool,
}

async fn relay_connection(
    client: TcpStream,
    server: TcpStream,
    opts: &RelayOptions,
    cut_after: Option<u64>,
    stats: Arc<RelayStats>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let cut = Arc::new(CutState {
        limit: cut_after,
        delivered: AtomicU64::new(0),
        fired: AtomicBool::new(false),
    });
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<Stop>();

    let mut tasks = JoinSet::new();
    spawn_direction(
        &mut tasks,
        client_r,
        server_w,
        opts,
        &cut,
        &stats,
        Dir::Up,
        &stop_tx,
    );
    spawn_direction(
        &mut tasks,
        server_r,
        client_w,
        opts,
        &cut,
        &stats,
        Dir::Down,
        &stop_tx,
    );
    drop(stop_tx);

    loop {
        tokio::select! {
            stop = stop_rx.recv() => {
                match stop {
                    Some(Stop::Cut | Stop::Failed) => {}
                    None => continue, // all senders gone; tasks finishing
                }
                // Abrupt: drop everything, queued data included.
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                return;
            }
            joined = tasks.join_next() => {
                if joined.is_none() {
                    return; // both directions finished cleanly
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Up,
    Down,
}

enum Item {
    Data { due: Instant, bytes: Vec<u8> },
    Eof { due: Instant },
}

#[allow(clippy::too_many_arguments)]
fn spawn_direction(
    tasks: &mut JoinSet<()>,
    mut src: OwnedReadHalf,
    mut dst: OwnedWriteHalf,
    opts: &RelayOptions,
    cut: &Arc<CutState>,
    stats: &Arc<RelayStats>,
    dir: Dir,
    stop: &mpsc::UnboundedSender<Stop>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Item>();
    let budget = Arc::new(Semaphore::new(QUEUE_LIMIT_BYTES));
    let delay = opts.one_way_delay;
    let mut bucket = opts.rate_bytes_per_sec.map(TokenBucket::new);

    // Reader: socket → (rate) → timestamped queue.
    {
        let budget = budget.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            loop {
                let max = bucket.as_ref().map_or(CHUNK_BYTES, |b| b.max_chunk());
                // Reserve queue space first: a full queue stops reading.
                let Ok(permit) = budget.clone().acquire_many_owned(max as u32).await else {
                    return;
                };
                let mut buf = vec![0u8; max];
                let n = match src.read(&mut buf).await {
                    Ok(0) => {
                        let _ = tx.send(Item::Eof {
                            due: Instant::now() + delay,
                        });
                        return;
                    }
                    Ok(n) => n,
                    Err(_) => {
                        let _ = stop.send(Stop::Failed);
                        return;
                    }
                };
                buf.truncate(n);
                // Keep only the permits for what was actually read.
                let mut permit = permit;
                let unused = permit.split(max - n);
                drop(unused);
                permit.forget();
                if let Some(b) = bucket.as_mut() {
                    b.take(n as u64).await;
                }
                if tx
                    .send(Item::Data {
                        due: Instant::now() + delay,
                        bytes: buf,
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
    }

    // Writer: queue → (due time) → socket.
    let cut = cut.clone();
    let stats = stats.clone();
    let stop = stop.clone();
    tasks.spawn(async move {
        while let Some(item) = rx.recv().await {
            match item {
                Item::Eof { due } => {
                    tokio::time::sleep_until(due).await;
                    let _ = dst.shutdown().await;
                    return;
                }
                Item::Data { due, bytes } => {
                    tokio::time::sleep_until(due).await;
                    let len = bytes.len() as u64;
                    let (send, cut_now) = match cut.limit {
                        None => (len, false),
                        Some(limit) => {
                            let prev = cut.delivered.fetch_add(len, Ordering::SeqCst);
                            if prev >= limit {
                                (0, true)
                            } else if prev + len >= limit {
                                (limit - prev, true)
                            } else {
                                (len, false)
                            }
                        }
                    };
                    if send > 0 {
                        // Count first, so a peer that has seen the bytes also
                        // sees them counted.
                        let counter = match dir {
                            Dir::Up => &stats.bytes_up,
                            Dir::Down => &stats.bytes_down,
                        };
                        counter.fetch_add(send, Ordering::SeqCst);
                        if dst.write_all(&bytes[..send as usize]).await.is_err() {
                            let _ = stop.send(Stop::Failed);
                            return;
                        }
                    }
                    budget.add_permits(bytes.len());
                    if cut_now {
                        // Counted before any socket closes (this task's
                        // return drops `dst`), and only once per connection.
                        if !cut.fired.swap(true, Ordering::SeqCst) {
                            stats.cuts.fetch_add(1, Ordering::SeqCst);
                        }
                        let _ = stop.send(Stop::Cut);
                        return;
                    }
                }
            }
        }
    });
}

/// Token bucket: `rate` bytes per second, bursts of up to `capacity`.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u64) -> TokenBucket {
        let rate = rate.max(1) as f64;
        // 10 ms worth of burst, at least one small packet, at most one chunk.
        let capacity = (rate / 100.0).clamp(1024.0, CHUNK_BYTES as f64);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Largest read that keeps bursts within the bucket.
    fn max_chunk(&self) -> usize {
        self.capacity as usize
    }

    /// Spend `n` bytes, sleeping while the bucket is in debt.
    async fn take(&mut self, n: u64) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.tokens -= n as f64;
        if self.tokens < 0.0 {
            let wait = Duration::from_secs_f64(-self.tokens / self.rate);
            // The debt stays on the books; the next refill (measured from
            // `last`, before this sleep) repays it, oversleep included.
            tokio::time::sleep(wait).await;
        }
    }
}
