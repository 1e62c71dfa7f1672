//! Running a process under a deadline and a memory cap, as every hostile test runs `skiff`
//! (and its engine-driver child): a hang fails the test within the bound instead of
//! stalling it, and a claimed size that makes the process allocate without end hits
//! `RLIMIT_DATA` (set with util-linux `prlimit`) instead of the shared machine's memory.
//! The peak resident size (`VmHWM`) is sampled from `/proc` while the process runs.
//!
//! This module owns the child process it starts (its own process group, killed whole at
//! the deadline) and the two temp files its output goes to; nothing else.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The default cap on a bounded process' data segment (heap and anonymous mappings).
pub const DATA_LIMIT: u64 = 1024 * 1024 * 1024;

/// How a bounded run ended.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub what: String,
    /// `None`: still running at the deadline, killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Highest `VmHWM` seen, KiB.
    pub peak_rss_kib: u64,
    pub deadline: Duration,
}

impl Run {
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// One paragraph for an assertion message: what ran, how it ended, its stderr.
    pub fn describe(&self) -> String {
        let end = match self.status {
            None => format!("did NOT end within {:?} (killed)", self.deadline),
            Some(s) => match s.code() {
                Some(c) => format!("exited with {c}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("was killed by signal {:?}", s.signal())
                }
            },
        };
        format!(
            "`{}` {end} after {:.1} s, peak RSS {} MiB\n--- stderr ---\n{}",
            self.what,
            self.elapsed.as_secs_f64(),
            self.peak_rss_kib / 1024,
            tail(&self.stderr, 4000)
        )
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Run `cmd` (its program, arguments, environment and directory; its stdio is replaced)
/// under `prlimit --data=LIMIT`, kill its whole process group at `deadline`.
pub fn run(cmd: &Command, deadline: Duration, data_limit: u64) -> Run {
    use std::os::unix::process::CommandExt;
    let what = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = tempfile::tempfile().expect("a temp file for stdout");
    let err = tempfile::tempfile().expect("a temp file for stderr");
    let mut wrapped = Command::new("prlimit");
    wrapped.arg(format!("--data={data_limit}:{data_limit}")).arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        wrapped.current_dir(d);
    }
    wrapped
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup stdout file"))
        .stderr(err.try_clone().expect("dup stderr file"))
        .process_group(0);
    let started = Instant::now();
    let mut child = wrapped.spawn().unwrap_or_else(|e| panic!("cannot start `prlimit {what}` (util-linux): {e}"));
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        peak = peak.max(vm_hwm_kib(pid));
        if let Some(s) = child.try_wait().expect("wait for the child") {
            break Some(s);
        }
        if started.elapsed() >= deadline {
            // The whole group: the process and anything it started.
            let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{pid}")).status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let elapsed = started.elapsed();
    Run {
        what,
        status,
        stdout: read_all(out),
        stderr: read_all(err),
        elapsed,
        peak_rss_kib: peak,
        deadline,
    }
}

fn read_all(mut f: fs::File) -> String {
    use std::io::{Read, Seek};
    let mut s = Vec::new();
    let _ = f.rewind();
    let _ = f.read_to_end(&mut s);
    String::from_utf8_lossy(&s).into_owned()
}

/// `VmHWM` of `pid` in KiB (0 once it is gone).
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let Ok(s) = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")) else { return 0 };
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The `skiff` binary the CLI tests run: `$SKIFF_BIN`, else `release/skiff` in
/// `$CARGO_TARGET_DIR` or beside the running test executable. Panics with what to do when
/// it is missing.
pub fn skiff_bin() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_BIN") {
        return p.into();
    }
    let mut candidates = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(Path::new(&t).join("release/skiff"));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile) = exe.parent().and_then(Path::parent) {
            candidates.push(profile.join("skiff"));
        }
    }
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("the skiff binary is not built: run `cargo build --release -p skiff-cli` or set SKIFF_BIN")
    })
}

/// A `skiff` command with `args`, no agent, no password from the environment, a queue
/// database of its own in `queue_dir`.
pub fn skiff_command(args: &[OsString], queue_dir: &Path) -> Command {
    let mut cmd = Command::new(skiff_bin());
    cmd.args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SKIFF_PASSWORD")
        .env_remove("SKIFF_PASSPHRASE")
        .env("SKIFF_QUEUE_DB", queue_dir.join("skiff-queue.sqlite3"));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_is_killed_at_the_deadline_and_output_is_kept() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo started >&2; sleep 30"]);
        let r = run(&c, Duration::from_millis(500), DATA_LIMIT);
        assert!(r.timed_out(), "{}", r.describe());
        assert!(r.elapsed < Duration::from_secs(5), "{}", r.describe());
        assert!(r.stderr.contains("started"), "{}", r.describe());
        assert!(r.describe().contains("did NOT end"));
    }

    #[test]
    fn exit_status_output_and_rss_are_reported() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let r = run(&c, Duration::from_secs(10), DATA_LIMIT);
        assert_eq!(r.status.and_then(|s| s.code()), Some(3));
        assert_eq!((r.stdout.trim(), r.stderr.trim()), ("out", "err"));
    }

    #[test]
    fn the_data_limit_stops_a_runaway_allocation() {
        // 64 MiB allowed, 200 MiB asked for: the allocation fails instead of succeeding.
        let mut c = Command::new("python3");
        c.args(["-c", "x = bytearray(200 * 1024 * 1024)"]);
        let r = run(&c, Duration::from_secs(20), 64 * 1024 * 1024);
        assert!(!r.success() && !r.timed_out(), "{}", r.describe());
        assert!(r.stderr.contains("MemoryError"), "{}", r.describe());
    }
}
