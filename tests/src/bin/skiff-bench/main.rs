//! `skiff-bench`: the peer benchmark. One big file, `skiff cp` against
//! OpenSSH `sftp`, `scp` and `rclone`, on loopback and through a relay that
//! adds round-trip time, both directions.
//!
//! ```text
//! skiff-bench --skiff target/release/skiff [--size-mib 256] [--runs 3] [--rtt-ms 50]
//!             [--only-loopback | --only-latency] [--peers sftp,scp,rclone]
//!             [--mem-gib 1] [--out FILE.md] [--skiff-arg=--channels=4 ...]
//!             [--skip-single] [--many-files 10000] [--many-files-rtt 2000]
//!             [--tree-peers sftp,scp,rsync,rclone,lftp]
//! ```
//!
//! Everything runs against one private `sshd` (see `skiff_tests::sshd`) on
//! 127.0.0.1; nothing touches `~/.ssh`. Per scenario × direction the tools
//! are interleaved within each run (run 1: skiff, sftp, scp, rclone; run 2:
//! ...) so machine noise spreads over all of them; each run is the wall
//! clock of one whole command (connect, authenticate, copy, close). The first
//! copy of every tool in every scenario × direction is checked by SHA-256: a
//! peer that copies wrongly is marked failed, a skiff that copies wrongly
//! stops the bench with a non-zero exit.
//!
//! The many-files case (`--many-files N`, default 10,000; `--many-files-rtt
//! M`, default 2,000; 0 skips either) builds a tree of files of 1 B–8 KiB in
//! 100 directories (`skiff_tests::tree`) and times upload and download of the
//! whole tree with `skiff cp -r`, `sftp -r`, `scp -r`, `rsync -a`, `rclone
//! copy --transfers 16` and `lftp mirror --parallel=16` (`--tree-peers`),
//! on loopback (N files) and through the relay (M files, `max(1, runs - 1)`
//! runs). Each tool's first copy is checked with `tree::manifest`; a wrong
//! copy is reported, not timed. `--skip-single` (or `--size-mib 0`) runs only
//! the many-files case.
//!
//! Progress goes to stderr, the Markdown report to stdout (and `--out`).
//!
//! Layout: this file holds the arguments, the peers and the run loop; `measure` runs and
//! times one copy, `report` prints the single-file table, `many_files` is the tree case
//! with its own table.

mod many_files;
mod measure;
mod report;

use many_files::*;
use measure::*;
use report::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use skiff_tests::files::{sha256_file, write_random_file};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::{Sshd, HOST_ALIAS};

const MIB: u64 = 1024 * 1024;
const RELAY_ALIAS: &str = "skiff-relay";
const GNU_TIME: &str = "/usr/bin/time";

/// Benchmark `skiff cp` against OpenSSH sftp/scp and rclone on one large file.
#[derive(Parser, Debug)]
#[command(name = "skiff-bench")]
struct Args {
    /// The skiff binary (default: `skiff` next to this binary).
    #[arg(long)]
    skiff: Option<PathBuf>,
    /// Size of the test file in MiB.
    #[arg(long, default_value_t = 256)]
    size_mib: u64,
    /// Timed runs per scenario, direction and tool (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Round-trip time added by the relay in the latency scenario.
    #[arg(long, default_value_t = 50)]
    rtt_ms: u64,
    /// Only the loopback scenario.
    #[arg(long, conflicts_with = "only_latency")]
    only_loopback: bool,
    /// Only the added-latency scenario.
    #[arg(long)]
    only_latency: bool,
    /// Peers to compare with, comma-separated: sftp, scp, rclone, scp-legacy (`scp -O`).
    #[arg(long, value_delimiter = ',', default_value = "sftp,scp,rclone")]
    peers: Vec<String>,
    /// File size in GiB for the peak-RSS measurement of `skiff cp` (0 skips it;
    /// fractions such as 0.25 are allowed).
    #[arg(long, default_value_t = 1.0)]
    mem_gib: f64,
    /// Also write the Markdown report here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Extra argument for every `skiff cp` (repeatable), e.g. `--skiff-arg=--channels=4`.
    #[arg(long = "skiff-arg", allow_hyphen_values = true)]
    skiff_args: Vec<String>,
    /// Kill a single copy that takes longer than this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_s: u64,
    /// Skip the single-file case (and the memory run); same as `--size-mib 0`.
    #[arg(long)]
    skip_single: bool,
    /// Files in the many-files tree on loopback (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    many_files: usize,
    /// Files in the many-files tree through the latency relay (0 skips it).
    #[arg(long, default_value_t = 2_000)]
    many_files_rtt: usize,
    /// Peers for the many-files case: sftp, scp, rsync, rclone, lftp.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sftp,scp,rsync,rclone,lftp"
    )]
    tree_peers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Skiff,
    Sftp,
    Scp,
    ScpLegacy,
    Rclone,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Skiff => "skiff",
            Tool::Sftp => "sftp",
            Tool::Scp => "scp",
            Tool::ScpLegacy => "scp -O",
            Tool::Rclone => "rclone",
        }
    }

    fn parse(s: &str) -> Result<Tool> {
        Ok(match s.trim() {
            "sftp" => Tool::Sftp,
            "scp" => Tool::Scp,
            "scp-legacy" | "scp-O" => Tool::ScpLegacy,
            "rclone" => Tool::Rclone,
            other => bail!("unknown peer {other:?} (known: sftp, scp, rclone, scp-legacy)"),
        })
    }

    fn binary(self) -> &'static str {
        match self {
            Tool::Skiff => "skiff",
            Tool::Sftp => "sftp",
            Tool::Scp | Tool::ScpLegacy => "scp",
            Tool::Rclone => "rclone",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Get,
    Put,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::Get => "get",
            Dir::Put => "put",
        }
    }
}

/// Where the tools connect in one scenario.
struct Target {
    name: String,
    config: PathBuf,
    alias: &'static str,
    port: u16,
}

/// Everything a command line needs.
struct Ctx<'a> {
    skiff: &'a Path,
    skiff_args: &'a [String],
    sshd: &'a Sshd,
    work: &'a Path,
    rclone_config: PathBuf,
}

/// Result of one scenario × direction × tool.
#[derive(Default, Clone)]
struct Cell {
    times: Vec<f64>,
    failed: Option<String>,
    /// Many-files case: the first run was killed after this many seconds
    /// (reported as a lower bound, "> N s").
    timed_out: Option<f64>,
}

impl Cell {
    fn median(&self) -> Option<f64> {
        if self.failed.is_some() || self.times.is_empty() {
            return None;
        }
        let mut t = self.times.clone();
        t.sort_by(|a, b| a.total_cmp(b));
        let n = t.len();
        Some(if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2.0
        })
    }

    fn best(&self) -> Option<f64> {
        if self.failed.is_some() {
            return None;
        }
        self.times.iter().copied().reduce(f64::min)
    }
}

struct Row {
    scenario: String,
    dir: Dir,
    cells: Vec<(Tool, Cell)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("skiff-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let single = !args.skip_single && args.size_mib > 0;
    let skiff = match &args.skiff {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("skiff"))
            .context("locating skiff next to skiff-bench")?,
    };
    if !skiff.is_file() {
        bail!(
            "skiff binary {} not found (build it with `cargo build --release -p skiff-cli`, or pass --skiff)",
            skiff.display()
        );
    }
    let skiff = fs::canonicalize(&skiff)?;

    // Peers: skip the missing ones, loudly.
    let (tools, skipped) = installed_peers(Tool::Skiff, &args.peers, Tool::parse, |t| (t.binary(), t.name()), "")?;

    let size = args.size_mib * MIB;
    let sshd = Sshd::start().context("starting the private sshd")?;
    let work = tempfile::Builder::new()
        .prefix("skiff-bench-")
        .tempdir()
        .context("creating the local work dir")?;
    let rclone_config = work.path().join("rclone.conf");
    fs::write(&rclone_config, "")?;
    let ctx = Ctx {
        skiff: &skiff,
        skiff_args: &args.skiff_args,
        sshd: &sshd,
        work: work.path(),
        rclone_config,
    };

    let mut targets = Vec::new();
    // Kept alive until the end of the bench.
    let mut _relay: Option<Relay> = None;
    if !args.only_latency {
        targets.push(Target {
            name: "loopback".into(),
            config: sshd.ssh_config.clone(),
            alias: HOST_ALIAS,
            port: sshd.port,
        });
    }
    if !args.only_loopback {
        let relay = Relay::start(
            sshd.addr,
            RelayOptions {
                one_way_delay: Duration::from_micros(args.rtt_ms * 1000 / 2),
                ..Default::default()
            },
        )
        .context("starting the latency relay")?;
        targets.push(Target {
            name: format!("rtt{}", args.rtt_ms),
            config: sshd.client_config_for_port(RELAY_ALIAS, relay.port)?,
            alias: RELAY_ALIAS,
            port: relay.port,
        });
        _relay = Some(relay);
    }

    let timeout = Duration::from_secs(args.timeout_s);
    let mut rows = Vec::new();
    let mut skiff_failed = false;
    let mut mem_line = None;
    if single {
        // Source files: local (for puts) and on the server (for gets).
        let local_src = work.path().join("src.bin");
        let remote_src = sshd.root.join("src.bin");
        let local_dst = work.path().join("get.out");
        let remote_dst = sshd.root.join("put.out");
        eprintln!("skiff-bench: writing a {} MiB test file", args.size_mib);
        write_random_file(&local_src, size, 0xB00C)?;
        fs::copy(&local_src, &remote_src)?;
        let want = sha256_file(&local_src)?;

        for target in &targets {
            for dir in [Dir::Get, Dir::Put] {
                let (src, dst) = match dir {
                    Dir::Get => (&remote_src, &local_dst),
                    Dir::Put => (&local_src, &remote_dst),
                };
                let label = format!("[{} {}]", target.name, dir.name());
                let mut cells: Vec<(Tool, Cell)> =
                    tools.iter().map(|&t| (t, Cell::default())).collect();
                for run in 1..=args.runs {
                    for (tool, cell) in cells.iter_mut() {
                        if cell.failed.is_some() {
                            continue;
                        }
                        let _ = fs::remove_file(dst);
                        let cmd = command(&ctx, *tool, target, dir, src, dst)?;
                        match time_command(cmd, &ctx.work.join("stderr.txt"), timeout) {
                            Ok(secs) => {
                                if run == 1 {
                                    let got = match sha256_file(dst) {
                                        Ok(h) => h,
                                        Err(e) => format!("<unreadable: {e}>"),
                                    };
                                    if got != want {
                                        let msg = format!(
                                        "{label} {} copied wrong bytes: sha256 {got}, expected {want} \
                                         (destination size {:?} of {size})",
                                        tool.name(),
                                        fs::metadata(dst).map(|m| m.len()).ok()
                                    );
                                        if *tool == Tool::Skiff {
                                            bail!(msg);
                                        }
                                        eprintln!("{msg}");
                                        cell.failed = Some("checksum".into());
                                        continue;
                                    }
                                }
                                eprintln!(
                                    "{label} {} run {run}/{}: {secs:.2} s ({:.0} MB/s)",
                                    tool.name(),
                                    args.runs,
                                    mbps(size, secs)
                                );
                                cell.times.push(secs);
                            }
                            Err(e) => {
                                eprintln!(
                                    "{label} {} run {run}/{}: FAILED: {e:#}",
                                    tool.name(),
                                    args.runs
                                );
                                if *tool == Tool::Skiff {
                                    skiff_failed = true;
                                }
                                cell.failed = Some(format!("run {run}"));
                            }
                        }
                    }
                }
                let _ = fs::remove_file(dst);
                rows.push(Row {
                    scenario: target.name.clone(),
                    dir,
                    cells,
                });
            }
        }

        // Memory: one `skiff cp` get of a big file, loopback.
        let mem_bytes = (args.mem_gib * (1024 * MIB) as f64) as u64;
        if mem_bytes > 0 {
            let _ = fs::remove_file(&local_src);
            let _ = fs::remove_file(&remote_src);
            let mem_src = sshd.root.join("mem.bin");
            let mem_dst = work.path().join("mem.out");
            eprintln!(
                "skiff-bench: writing a {} GiB file for the memory run",
                args.mem_gib
            );
            write_random_file(&mem_src, mem_bytes, 0x3E3)?;
            let loopback = Target {
                name: "loopback".into(),
                config: sshd.ssh_config.clone(),
                alias: HOST_ALIAS,
                port: sshd.port,
            };
            let cmd = command(&ctx, Tool::Skiff, &loopback, Dir::Get, &mem_src, &mem_dst)?;
            match peak_rss(cmd, work.path(), timeout) {
                Ok((secs, kib, how)) => {
                    let ok = sha256_file(&mem_src)? == sha256_file(&mem_dst)?;
                    if !ok {
                        bail!(
                            "[memory] skiff copied wrong bytes in the {} GiB get",
                            args.mem_gib
                        );
                    }
                    let line = format!(
                    "peak RSS of skiff cp for a {} GiB get: {:.0} MiB ({how}; {secs:.2} s, {:.0} MB/s)",
                    args.mem_gib,
                    kib as f64 / 1024.0,
                    mbps(mem_bytes, secs)
                );
                    eprintln!("{line}");
                    mem_line = Some(line);
                }
                Err(e) => {
                    eprintln!("[memory] skiff FAILED: {e:#}");
                    skiff_failed = true;
                    mem_line = Some(format!(
                        "peak RSS of skiff cp for a {} GiB get: failed",
                        args.mem_gib
                    ));
                }
            }
            let _ = fs::remove_file(&mem_src);
            let _ = fs::remove_file(&mem_dst);
        }
        let _ = fs::remove_file(&local_src);
        let _ = fs::remove_file(&remote_src);
    } // single

    // Many files.
    let mut tree_section = None;
    if args.many_files > 0 || args.many_files_rtt > 0 {
        let (section, failed) = many_files(&args, &ctx, &targets, timeout)?;
        skiff_failed |= failed;
        tree_section = Some(section);
    }

    let mut report = if single {
        report(&args, &skiff, &tools, &skipped, &rows, mem_line.as_deref())
    } else {
        String::new()
    };
    if let Some(t) = tree_section {
        if !report.is_empty() {
            report.push('\n');
        }
        report.push_str(&t);
    }
    print!("{report}");
    if let Some(out) = &args.out {
        fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("skiff-bench: report written to {}", out.display());
    }
    Ok(if skiff_failed {
        eprintln!("skiff-bench: skiff failed at least once (see above)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
