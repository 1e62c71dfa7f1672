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

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use skiff_tests::files::{sha256_file, write_random_file};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::{Sshd, HOST_ALIAS};
use skiff_tests::tree;

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

/// The command line of one copy.
fn command(ctx: &Ctx, tool: Tool, t: &Target, dir: Dir, src: &Path, dst: &Path) -> Result<Command> {
    let remote = |p: &Path| format!("{}:{}", t.alias, p.display());
    let (from, to) = match dir {
        Dir::Get => (remote(src), dst.display().to_string()),
        Dir::Put => (src.display().to_string(), remote(dst)),
    };
    let mut c;
    match tool {
        Tool::Skiff => {
            c = Command::new(ctx.skiff);
            c.arg("cp").arg("-q").arg("-F").arg(&t.config);
            c.args(ctx.skiff_args);
            c.arg(from).arg(to);
        }
        Tool::Scp | Tool::ScpLegacy => {
            c = Command::new("scp");
            c.arg("-q");
            if tool == Tool::ScpLegacy {
                c.arg("-O");
            }
            c.arg("-F").arg(&t.config).args(["-o", "BatchMode=yes"]);
            c.arg(from).arg(to);
        }
        Tool::Sftp => {
            let batch = ctx.work.join("sftp.batch");
            let (cmd, a, b) = match dir {
                Dir::Get => ("get", src, dst),
                Dir::Put => ("put", src, dst),
            };
            fs::write(
                &batch,
                format!("{cmd} \"{}\" \"{}\"\n", a.display(), b.display()),
            )?;
            c = Command::new("sftp");
            c.arg("-q")
                .arg("-F")
                .arg(&t.config)
                .args(["-o", "BatchMode=yes"]);
            c.arg("-b").arg(&batch).arg(t.alias);
        }
        Tool::Rclone => {
            // An on-the-fly remote; no hash commands over a shell (they would
            // re-read the whole file on the server), no shell detection.
            let sshd = ctx.sshd;
            let remote = |p: &Path| {
                format!(
                    ":sftp,host=127.0.0.1,port={},user={},key_file={},known_hosts_file={},\
                     key_use_agent=false,disable_hashcheck=true,shell_type=none:{}",
                    t.port,
                    sshd.user,
                    sshd.user_key.display(),
                    sshd.known_hosts.display(),
                    p.display()
                )
            };
            let (from, to) = match dir {
                Dir::Get => (remote(src), dst.display().to_string()),
                Dir::Put => (src.display().to_string(), remote(dst)),
            };
            c = Command::new("rclone");
            c.arg("copyto")
                .arg("--config")
                .arg(&ctx.rclone_config)
                .arg("-q");
            c.arg(from).arg(to);
        }
    }
    c.stdin(Stdio::null());
    Ok(c)
}

/// Run `cmd` to completion and return its wall-clock seconds; stderr goes
/// to `stderr_path` and is included in the error when the command fails.
fn time_command(mut cmd: Command, stderr_path: &Path, timeout: Duration) -> Result<f64> {
    let stderr = fs::File::create(stderr_path)?;
    cmd.stdout(Stdio::null()).stderr(stderr);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "timed out after {timeout:?}: {cmd:?}\n{}",
                fs::read_to_string(stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!(
            "{status}: {cmd:?}\n--- stderr ---\n{}",
            fs::read_to_string(stderr_path)
                .unwrap_or_default()
                .trim_end()
        );
    }
    Ok(secs)
}

/// Run `cmd` once and return (seconds, peak RSS in KiB, how it was measured):
/// GNU time's `%M` (the child's ru_maxrss) when `/usr/bin/time` exists,
/// else the highest `VmHWM` seen while polling `/proc/PID/status`.
fn peak_rss(cmd: Command, work: &Path, timeout: Duration) -> Result<(f64, u64, &'static str)> {
    let stderr_path = work.join("mem.stderr");
    if Path::new(GNU_TIME).is_file() {
        let rss_path = work.join("mem.rss");
        let mut wrapped = Command::new(GNU_TIME);
        wrapped.arg("-f").arg("%M").arg("-o").arg(&rss_path);
        wrapped.arg(cmd.get_program()).args(cmd.get_args());
        wrapped.stdin(Stdio::null());
        let secs = time_command(wrapped, &stderr_path, timeout)?;
        let text = fs::read_to_string(&rss_path)?;
        let kib = text
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u64>().ok())
            .with_context(|| format!("parsing GNU time output {text:?}"))?;
        return Ok((secs, kib, "ru_maxrss via /usr/bin/time"));
    }
    let mut cmd = cmd;
    cmd.stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path)?);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut hwm = 0u64;
    let status = loop {
        if let Ok(s) = fs::read_to_string(&status_file) {
            if let Some(v) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                hwm = hwm.max(v);
            }
        }
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!(
            "{status}\n--- stderr ---\n{}",
            fs::read_to_string(&stderr_path)
                .unwrap_or_default()
                .trim_end()
        );
    }
    Ok((secs, hwm, "VmHWM polled every 5 ms, a lower bound"))
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// `skiff` plus the peers named in `names` (blank and repeated names ignored) whose binary
/// is installed, and the names of those that are not (skipped, loudly). `describe` gives a
/// tool's binary and display name.
fn installed_peers<T: Copy + PartialEq>(
    skiff: T,
    names: &[String],
    parse: impl Fn(&str) -> Result<T>,
    describe: impl Fn(T) -> (&'static str, &'static str),
    case: &str,
) -> Result<(Vec<T>, Vec<&'static str>)> {
    let mut tools = vec![skiff];
    let mut skipped = Vec::new();
    for p in names.iter().filter(|p| !p.trim().is_empty()) {
        let t = parse(p)?;
        if tools.contains(&t) {
            continue;
        }
        let (binary, name) = describe(t);
        if find_in_path(binary).is_some() {
            tools.push(t);
        } else {
            eprintln!("skiff-bench: `{binary}` not found in PATH: skipping {name}{case}");
            skipped.push(name);
        }
    }
    Ok((tools, skipped))
}

fn find_in_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// First line of `prog args...` (stdout, else stderr), for the report header.
fn version_of(prog: &Path, args: &[&str]) -> String {
    match Command::new(prog).args(args).stdin(Stdio::null()).output() {
        Ok(o) => {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(_) => "?".into(),
    }
}

fn report(
    args: &Args,
    skiff: &Path,
    tools: &[Tool],
    skipped: &[&str],
    rows: &[Row],
    mem_line: Option<&str>,
) -> String {
    let size = args.size_mib * MIB;
    let peers: Vec<Tool> = tools
        .iter()
        .copied()
        .filter(|&t| t != Tool::Skiff)
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "## skiff-bench: one {} MiB file\n", args.size_mib);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "{} run(s) per cell, median wall-clock time of the whole command (connect + copy), \
         MB/s = 10^6 bytes/s; tools interleaved within each run; {cpus} CPUs; \
         server: private OpenSSH sshd (internal-sftp) on 127.0.0.1; \
         rtt scenario: relay adding {} ms round trip.\n",
        args.runs, args.rtt_ms
    );
    let _ = writeln!(
        s,
        "- skiff: `{}` ({})",
        skiff.display(),
        version_of(skiff, &["--version"])
    );
    if !args.skiff_args.is_empty() {
        let _ = writeln!(s, "- skiff extra args: `{}`", args.skiff_args.join(" "));
    }
    for t in &peers {
        let v = match t {
            Tool::Rclone => version_of(Path::new("rclone"), &["version"]),
            _ => version_of(Path::new("ssh"), &["-V"]),
        };
        let _ = writeln!(s, "- {}: {v}", t.name());
    }
    for name in skipped {
        let _ = writeln!(s, "- {name}: not installed, skipped");
    }
    s.push('\n');

    let mut header = String::from("| scenario | dir | skiff |");
    let mut rule = String::from("|---|---|---:|");
    for p in &peers {
        let _ = write!(header, " {} |", p.name());
        rule.push_str("---:|");
    }
    for p in &peers {
        let _ = write!(header, " skiff vs {} |", p.name());
        rule.push_str("---:|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let cell_text = |c: &Cell| match (c.median(), &c.failed) {
        (_, Some(why)) => format!("failed ({why})"),
        (Some(m), None) => format!("{m:.2} s, {:.0} MB/s", mbps(size, m)),
        (None, None) => "–".into(),
    };
    for row in rows {
        let skiff_cell = &row.cells[0].1;
        let mut line = format!(
            "| {} | {} | {} |",
            row.scenario,
            row.dir.name(),
            cell_text(skiff_cell)
        );
        for (_, c) in &row.cells[1..] {
            let _ = write!(line, " {} |", cell_text(c));
        }
        for (_, c) in &row.cells[1..] {
            let ratio = match (skiff_cell.median(), c.median()) {
                (Some(k), Some(p)) => format!("{:.2}×", p / k),
                _ => "–".into(),
            };
            let _ = write!(line, " {ratio} |");
        }
        let _ = writeln!(s, "{line}");
    }
    s.push_str("\n\"skiff vs X\" = X's time / skiff's time: above 1× skiff is faster.\n\n");

    if peers.contains(&Tool::Sftp) {
        for row in rows {
            let skiff_cell = &row.cells[0].1;
            let sftp = row
                .cells
                .iter()
                .find(|(t, _)| *t == Tool::Sftp)
                .map(|(_, c)| c);
            let text = match (skiff_cell, sftp) {
                (k, Some(p)) => match (k.median(), p.median(), k.best(), p.best()) {
                    (Some(km), Some(pm), Some(kb), Some(pb)) => format!(
                        "skiff is {:.2}× sftp (median {km:.2} s vs {pm:.2} s; best run {:.2}×: {kb:.2} s vs {pb:.2} s)",
                        pm / km,
                        pb / kb
                    ),
                    _ => "no comparison (a tool failed)".into(),
                },
                _ => "no comparison".into(),
            };
            let _ = writeln!(s, "- {} {}: {text}", row.scenario, row.dir.name());
        }
        s.push('\n');
    }
    if let Some(m) = mem_line {
        let _ = writeln!(s, "{m}");
    }
    s
}

// ---------------------------------------------------------------------------
// Many files: a tree of small files, up and down, against tree-copying peers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TreeTool {
    Skiff,
    Sftp,
    Scp,
    Rsync,
    Rclone,
    Lftp,
}

impl TreeTool {
    fn name(self) -> &'static str {
        match self {
            TreeTool::Skiff => "skiff cp -r",
            TreeTool::Sftp => "sftp -r",
            TreeTool::Scp => "scp -r",
            TreeTool::Rsync => "rsync -a",
            TreeTool::Rclone => "rclone --transfers 16",
            TreeTool::Lftp => "lftp mirror --parallel=16",
        }
    }

    fn short(self) -> &'static str {
        match self {
            TreeTool::Skiff => "skiff",
            TreeTool::Sftp => "sftp",
            TreeTool::Scp => "scp",
            TreeTool::Rsync => "rsync",
            TreeTool::Rclone => "rclone",
            TreeTool::Lftp => "lftp",
        }
    }

    fn parse(s: &str) -> Result<TreeTool> {
        Ok(match s.trim() {
            "sftp" => TreeTool::Sftp,
            "scp" => TreeTool::Scp,
            "rsync" => TreeTool::Rsync,
            "rclone" => TreeTool::Rclone,
            "lftp" => TreeTool::Lftp,
            other => {
                bail!("unknown tree peer {other:?} (known: sftp, scp, rsync, rclone, lftp)")
            }
        })
    }
}

/// Name of the tree's top directory, on both sides.
const TREE_NAME: &str = "mf";

struct TreeRow {
    scenario: String,
    dir: Dir,
    files: usize,
    bytes: u64,
    runs: usize,
    cells: Vec<(TreeTool, Cell)>,
}

/// Single-quote for a shell / lftp command line.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command line of one tree copy. `src` is the tree's top directory
/// (named [`TREE_NAME`]); `dst_parent` an existing directory that will hold
/// the copy as `dst_parent/TREE_NAME`.
fn tree_command(
    ctx: &Ctx,
    tool: TreeTool,
    t: &Target,
    dir: Dir,
    src: &Path,
    dst_parent: &Path,
) -> Result<Command> {
    let dst = dst_parent.join(TREE_NAME);
    let remote = |p: &Path| format!("{}:{}", t.alias, p.display());
    let ssh_cmd = format!(
        "ssh -F {} -o BatchMode=yes",
        sq(&t.config.display().to_string())
    );
    let mut c;
    match tool {
        TreeTool::Skiff => {
            c = Command::new(ctx.skiff);
            c.arg("cp").arg("-r").arg("-q").arg("-F").arg(&t.config);
            c.args(ctx.skiff_args);
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Sftp => {
            let batch = ctx.work.join("sftp-tree.batch");
            let cmd = match dir {
                Dir::Get => "get",
                Dir::Put => "put",
            };
            fs::write(
                &batch,
                format!("{cmd} -r \"{}\" \"{}\"\n", src.display(), dst.display()),
            )?;
            c = Command::new("sftp");
            c.arg("-q")
                .arg("-F")
                .arg(&t.config)
                .args(["-o", "BatchMode=yes"]);
            c.arg("-b").arg(&batch).arg(t.alias);
        }
        TreeTool::Scp => {
            c = Command::new("scp");
            c.arg("-q").arg("-r").arg("-F").arg(&t.config);
            c.args(["-o", "BatchMode=yes"]);
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Rsync => {
            c = Command::new("rsync");
            c.arg("-a").arg("-e").arg(&ssh_cmd);
            // No trailing slash on the source: the copy lands in dst_parent/mf.
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Rclone => {
            let sshd = ctx.sshd;
            let rremote = |p: &Path| {
                format!(
                    ":sftp,host=127.0.0.1,port={},user={},key_file={},known_hosts_file={},\
                     key_use_agent=false,disable_hashcheck=true,shell_type=none:{}",
                    t.port,
                    sshd.user,
                    sshd.user_key.display(),
                    sshd.known_hosts.display(),
                    p.display()
                )
            };
            let (from, to) = match dir {
                Dir::Get => (rremote(src), dst.display().to_string()),
                Dir::Put => (src.display().to_string(), rremote(&dst)),
            };
            c = Command::new("rclone");
            c.arg("copy").arg("--config").arg(&ctx.rclone_config).args([
                "-q",
                "--transfers",
                "16",
                "--create-empty-src-dirs",
            ]);
            c.arg(from).arg(to);
        }
        TreeTool::Lftp => {
            let mirror = match dir {
                Dir::Get => format!(
                    "mirror --parallel=16 {} {}",
                    sq(&src.display().to_string()),
                    sq(&dst.display().to_string())
                ),
                Dir::Put => format!(
                    "mirror -R --parallel=16 {} {}",
                    sq(&src.display().to_string()),
                    sq(&dst.display().to_string())
                ),
            };
            let script = format!(
                "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 30; \
                 set sftp:auto-confirm no; \
                 set sftp:connect-program \"ssh -a -x -F {} -o BatchMode=yes\"; \
                 open sftp://{}@{}; {mirror}",
                sq(&t.config.display().to_string()),
                ctx.sshd.user,
                t.alias
            );
            c = Command::new("lftp");
            c.arg("-c").arg(script);
        }
    }
    c.stdin(Stdio::null());
    Ok(c)
}

/// Run the many-files scenarios; returns the Markdown section and whether
/// skiff failed anywhere.
fn many_files(
    args: &Args,
    ctx: &Ctx,
    targets: &[Target],
    timeout: Duration,
) -> Result<(String, bool)> {
    let (tools, skipped) =
        installed_peers(TreeTool::Skiff, &args.tree_peers, TreeTool::parse, |t| (t.short(), t.name()), " in the many-files case")?;

    let rtt_runs = args.runs.saturating_sub(1).max(1);
    let mut rows = Vec::new();
    let mut skiff_failed = false;
    let mut notes: Vec<String> = Vec::new();
    for target in targets {
        let loopback = target.alias == HOST_ALIAS;
        let (n, runs) = if loopback {
            (args.many_files, args.runs)
        } else {
            (args.many_files_rtt, rtt_runs)
        };
        if n == 0 {
            continue;
        }
        // Same seed on both sides: identical trees, no copy needed.
        let spec = tree::TreeSpec::many_small(n, 0x7EE + n as u64);
        let base = format!("tree{n}");
        let local_src_parent = ctx.work.join(format!("{base}-src"));
        let remote_src_parent = ctx.sshd.root.join(format!("{base}-src"));
        let local_src = local_src_parent.join(TREE_NAME);
        let remote_src = remote_src_parent.join(TREE_NAME);
        if !local_src.exists() {
            eprintln!("skiff-bench: making a tree of {n} files (local and remote)");
            tree::make_tree(&local_src, &spec)?;
            tree::make_tree(&remote_src, &spec)?;
        }
        let want = tree::manifest(&local_src)?;
        if tree::manifest(&remote_src)? != want {
            bail!("the remote copy of the {n}-file source tree differs from the local one");
        }
        let files = tree::manifest_files(&want);
        let bytes: u64 = {
            let mut b = 0;
            let mut stack = vec![local_src.clone()];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(&d)? {
                    let e = e?;
                    let m = e.metadata()?;
                    if m.is_dir() {
                        stack.push(e.path());
                    } else {
                        b += m.len();
                    }
                }
            }
            b
        };
        let local_dst_parent = ctx.work.join(format!("{base}-down"));
        let remote_dst_parent = ctx.sshd.root.join(format!("{base}-up"));

        for dir in [Dir::Get, Dir::Put] {
            let (src, dst_parent) = match dir {
                Dir::Get => (&remote_src, &local_dst_parent),
                Dir::Put => (&local_src, &remote_dst_parent),
            };
            let dst = dst_parent.join(TREE_NAME);
            let label = format!("[{} {} {n} files]", target.name, dir.name());
            let mut cells: Vec<(TreeTool, Cell)> =
                tools.iter().map(|&t| (t, Cell::default())).collect();
            for run in 1..=runs {
                for (tool, cell) in cells.iter_mut() {
                    if cell.failed.is_some() {
                        continue;
                    }
                    let _ = fs::remove_dir_all(dst_parent);
                    fs::create_dir_all(dst_parent)?;
                    let cmd = tree_command(ctx, *tool, target, dir, src, dst_parent)?;
                    match time_command(cmd, &ctx.work.join("stderr.txt"), timeout) {
                        Ok(secs) => {
                            if run == 1 {
                                let got = tree::manifest(&dst).unwrap_or_default();
                                if let Some(diff) = tree::manifest_diff(&want, &got) {
                                    let msg = format!(
                                        "{label} {} copied the tree wrongly: {diff}",
                                        tool.name()
                                    );
                                    eprintln!("{msg}");
                                    notes.push(msg);
                                    if *tool == TreeTool::Skiff {
                                        skiff_failed = true;
                                    }
                                    cell.failed = Some("wrong copy".into());
                                    continue;
                                }
                            }
                            eprintln!(
                                "{label} {} run {run}/{runs}: {secs:.2} s ({:.0} files/s)",
                                tool.name(),
                                files as f64 / secs
                            );
                            cell.times.push(secs);
                        }
                        Err(e) => {
                            let msg =
                                format!("{label} {} run {run}/{runs}: FAILED: {e:#}", tool.name());
                            eprintln!("{msg}");
                            let first = msg.lines().take(6).collect::<Vec<_>>().join(" / ");
                            notes.push(first);
                            if *tool == TreeTool::Skiff {
                                skiff_failed = true;
                            }
                            let timed_out = format!("{e:#}").starts_with("timed out");
                            if timed_out && cell.times.is_empty() {
                                cell.timed_out = Some(timeout.as_secs_f64());
                            }
                            cell.failed = Some(if timed_out {
                                format!("timeout > {} s", timeout.as_secs())
                            } else {
                                format!("run {run}")
                            });
                        }
                    }
                }
            }
            let _ = fs::remove_dir_all(dst_parent);
            rows.push(TreeRow {
                scenario: target.name.clone(),
                dir,
                files,
                bytes,
                runs,
                cells,
            });
        }
    }
    let section = tree_report(args, &tools, &skipped, &rows, &notes, rtt_runs);
    Ok((section, skiff_failed))
}

fn tree_report(
    args: &Args,
    tools: &[TreeTool],
    skipped: &[&str],
    rows: &[TreeRow],
    notes: &[String],
    rtt_runs: usize,
) -> String {
    let peers: Vec<TreeTool> = tools
        .iter()
        .copied()
        .filter(|&t| t != TreeTool::Skiff)
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## skiff-bench: many files ({} on loopback, {} at {} ms round trip)\n",
        args.many_files, args.many_files_rtt, args.rtt_ms
    );
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "Files of 1 B–8 KiB (uniform) in 100 directories nested up to 3 deep, plus a few empty \
         directories; the whole tree uploaded (put) and downloaded (get). Median wall-clock time \
         of the whole command over {} run(s) on loopback and {rtt_runs} run(s) through the relay \
         (max(1, runs − 1): the slow peers take minutes there); tools interleaved within each \
         run; every tool's first copy checked against a sha256 manifest (a wrong copy is \
         reported, not timed); {cpus} CPUs; server: private OpenSSH sshd (internal-sftp) on \
         127.0.0.1.\n",
        args.runs
    );
    let _ = writeln!(
        s,
        "- skiff cp -r: `skiff cp -r -q -F CFG DIR host:PARENT/`, `skiff cp -r -q -F CFG host:DIR PARENT/`"
    );
    for t in &peers {
        let (how, v) = match t {
            TreeTool::Sftp => (
                "batch `put -r` / `get -r`",
                version_of(Path::new("ssh"), &["-V"]),
            ),
            TreeTool::Scp => ("`scp -r`", version_of(Path::new("ssh"), &["-V"])),
            TreeTool::Rsync => (
                "`rsync -a -e \"ssh -F CFG\"`",
                version_of(Path::new("rsync"), &["--version"]),
            ),
            TreeTool::Rclone => (
                "`rclone copy --transfers 16 --create-empty-src-dirs`, on-the-fly sftp remote",
                version_of(Path::new("rclone"), &["version"]),
            ),
            TreeTool::Lftp => (
                "`lftp -c \"open sftp://…; mirror [-R] --parallel=16\"` over `ssh -F CFG`",
                version_of(Path::new("lftp"), &["--version"]),
            ),
            TreeTool::Skiff => ("", String::new()),
        };
        let _ = writeln!(s, "- {}: {how} ({v})", t.name());
    }
    for name in skipped {
        let _ = writeln!(s, "- {name}: not installed, skipped");
    }
    s.push('\n');

    let mut header = String::from("| scenario | dir | files | skiff |");
    let mut rule = String::from("|---|---|---:|---:|");
    for p in &peers {
        let _ = write!(header, " {} |", p.short());
        rule.push_str("---:|");
    }
    for p in &peers {
        let _ = write!(header, " skiff vs {} |", p.short());
        rule.push_str("---:|");
    }
    header.push_str(" skiff vs fastest peer |");
    rule.push_str("---:|");
    let _ = writeln!(s, "{header}\n{rule}");
    for row in rows {
        let cell_text = |c: &Cell| match (c.median(), &c.failed) {
            (_, Some(_)) if c.timed_out.is_some() => {
                format!("> {:.0} s (killed)", c.timed_out.unwrap_or_default())
            }
            (_, Some(why)) => format!("failed ({why})"),
            (Some(m), None) => format!("{m:.2} s, {:.0} files/s", row.files as f64 / m),
            (None, None) => "–".into(),
        };
        let skiff_cell = &row.cells[0].1;
        let mut line = format!(
            "| {} | {} | {} ({:.1} MB) |",
            row.scenario,
            row.dir.name(),
            row.files,
            row.bytes as f64 / 1e6
        );
        let _ = write!(line, " {} |", cell_text(skiff_cell));
        for (_, c) in &row.cells[1..] {
            let _ = write!(line, " {} |", cell_text(c));
        }
        let ratio = |p: Option<f64>| match (skiff_cell.median(), p) {
            (Some(k), Some(p)) => format!("{:.2}×", p / k),
            _ => "–".into(),
        };
        for (_, c) in &row.cells[1..] {
            let r = match (c.timed_out, skiff_cell.median()) {
                (Some(t), Some(k)) => format!("> {:.1}×", t / k),
                _ => ratio(c.median()),
            };
            let _ = write!(line, " {r} |");
        }
        let fastest = row.cells[1..]
            .iter()
            .filter_map(|(t, c)| c.median().map(|m| (m, *t)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match fastest {
            Some((m, t)) => {
                let _ = write!(line, " {} ({}) |", ratio(Some(m)), t.short());
            }
            None => line.push_str(" – |"),
        }
        let _ = writeln!(s, "{line}");
        let _ = row.runs;
    }
    s.push_str(
        "\n\"skiff vs X\" = X's time / skiff's time: above 1× skiff is faster. \
         \"fastest peer\" = the peer with the lowest median in that row.\n",
    );
    if !notes.is_empty() {
        s.push_str("\nFailures:\n\n");
        for n in notes {
            let _ = writeln!(s, "- {}", n.replace('\n', " "));
        }
    }
    s
}
