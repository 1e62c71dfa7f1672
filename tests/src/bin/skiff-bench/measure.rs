//! Running one copy and measuring it: the command line of each peer tool, wall time under
//! GNU `time`, peak RSS, which peers are installed and their versions.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::*;

/// The command line of one copy.
pub(crate) fn command(ctx: &Ctx, tool: Tool, t: &Target, dir: Dir, src: &Path, dst: &Path) -> Result<Command> {
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
pub(crate) fn time_command(mut cmd: Command, stderr_path: &Path, timeout: Duration) -> Result<f64> {
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
pub(crate) fn peak_rss(cmd: Command, work: &Path, timeout: Duration) -> Result<(f64, u64, &'static str)> {
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

pub(crate) fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// `skiff` plus the peers named in `names` (blank and repeated names ignored) whose binary
/// is installed, and the names of those that are not (skipped, loudly). `describe` gives a
/// tool's binary and display name.
pub(crate) fn installed_peers<T: Copy + PartialEq>(
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

pub(crate) fn find_in_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// First line of `prog args...` (stdout, else stderr), for the report header.
pub(crate) fn version_of(prog: &Path, args: &[&str]) -> String {
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
