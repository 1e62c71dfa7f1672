//! `skiff-bench`: the peer benchmark. One big file, `skiff cp` against
//! OpenSSH `sftp`, `scp` and `rclone`, on loopback and through a relay that
//! adds round-trip time, both directions.
//!
//! ```text
//! skiff-bench --skiff target/release/skiff [--size-mib 256] [--runs 3] [--rtt-ms 50]
//!             [--only-loopback | --only-latency] [--peers sftp,scp,rclone]
//!             [--mem-gib 1] [--out FILE.md] [--skiff-arg=--channels=4 ...]
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
    if args.size_mib == 0 {
        bail!("--size-mib must be at least 1");
    }
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
    let mut tools = vec![Tool::Skiff];
    let mut skipped = Vec::new();
    for p in &args.peers {
        if p.trim().is_empty() {
            continue;
        }
        let t = Tool::parse(p)?;
        if tools.contains(&t) {
            continue;
        }
        if find_in_path(t.binary()).is_some() {
            tools.push(t);
        } else {
            eprintln!(
                "skiff-bench: `{}` not found in PATH: skipping {}",
                t.binary(),
                t.name()
            );
            skipped.push(t.name());
        }
    }

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

    // Source files: local (for puts) and on the server (for gets).
    let local_src = work.path().join("src.bin");
    let remote_src = sshd.root.join("src.bin");
    let local_dst = work.path().join("get.out");
    let remote_dst = sshd.root.join("put.out");
    eprintln!("skiff-bench: writing a {} MiB test file", args.size_mib);
    write_random_file(&local_src, size, 0xB00C)?;
    fs::copy(&local_src, &remote_src)?;
    let want = sha256_file(&local_src)?;

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
    let mut mem_line = None;
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

    let report = report(&args, &skiff, &tools, &skipped, &rows, mem_line.as_deref());
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
