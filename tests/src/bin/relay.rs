//! `relay`: the test relay as a command, for shell benchmarks.
//!
//! ```text
//! relay --listen 127.0.0.1:2222 --target 127.0.0.1:22 --delay-ms 25 [--rate BYTES]
//! ```
//! Prints `listening on ADDR`, then relays until killed.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use skiff_tests::relay::{Relay, RelayOptions};

/// Forward a TCP port with added delay, a bandwidth cap and optional cuts.
#[derive(Parser, Debug)]
#[command(name = "relay")]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address to forward to.
    #[arg(long)]
    target: SocketAddr,
    /// One-way delay in milliseconds, added to each direction.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Per-direction bandwidth cap in bytes per second.
    #[arg(long)]
    rate: Option<u64>,
    /// Cut each connection after this many bytes (both directions together).
    #[arg(long)]
    cut_after: Option<u64>,
    /// Cut only the first N connections (0 = all).
    #[arg(long, default_value_t = 0)]
    cut_connections: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = RelayOptions {
        one_way_delay: Duration::from_millis(args.delay_ms),
        rate_bytes_per_sec: args.rate,
        cut_after_bytes: args.cut_after,
        cut_connections: args.cut_connections,
    };
    let relay = Relay::start_on(args.listen, args.target, opts)?;
    println!("listening on {}", relay.addr);
    use std::io::Write;
    std::io::stdout().flush()?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
