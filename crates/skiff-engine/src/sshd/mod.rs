//! A private OpenSSH `sshd` on a free 127.0.0.1 port: the one launcher behind the app's
//! sandbox ([`crate::sandbox`]) and the tests' servers (`tests/src/sshd.rs`).
//!
//! [`Sshd::start`] makes a fresh ed25519 host key and user key (with `ssh-keygen`) in a
//! folder the caller gives, authorizes the user key, writes the `sshd_config` ([`config`]:
//! the caller's settings, then the common ones, then the caller's `Match` blocks), picks a
//! free loopback port, runs the system's `/usr/sbin/sshd -D -f CONFIG -E LOG` and returns
//! once the port answers with an SSH banner (another process taking the port first is tried
//! again on a new one). A `known_hosts` holding the host key for `[127.0.0.1]:port` is
//! written beside them. As root, sshd's privilege-separation folder `/run/sshd` is created.
//!
//! This module owns that folder's server files and that one child process: it never touches
//! `~/.ssh`, the system sshd's configuration, or any other process (except an sshd started
//! earlier from the same folder whose owner died without stopping it, which it stops).
//! Stopping (or dropping) the [`Sshd`] kills and reaps the server; on Linux it also dies
//! with its owner however that ends ([`launcher`]).

pub mod config;
mod launcher;

use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use launcher::Launcher;

/// OpenSSH's server.
pub const SSHD: &str = "/usr/sbin/sshd";
/// How long the server may take to answer with its banner (a loaded machine runs many).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries when another process takes the free port first.
const BIND_ATTEMPTS: usize = 8;

/// What the caller adds to the common configuration.
#[derive(Debug, Clone)]
pub struct SshdOptions {
    /// `sshd_config` lines written before the common ones, so they override them (sshd keeps
    /// the first value of a keyword). No `Match` lines here: those go in `match_blocks`.
    pub settings: Vec<String>,
    /// Lines written last, from a first `Match` line on.
    pub match_blocks: Vec<String>,
    /// Offer `Subsystem sftp internal-sftp` (unless `settings` names its own sftp subsystem).
    pub sftp: bool,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions { settings: Vec::new(), match_blocks: Vec::new(), sftp: true }
    }
}

/// A running private sshd. Killed and reaped on [`Sshd::stop`] or drop.
pub struct Sshd {
    /// The 127.0.0.1 port it listens on.
    pub port: u16,
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
    /// The folder holding its keys, configuration and logs.
    pub dir: PathBuf,
    /// The ed25519 private host key.
    pub host_key: PathBuf,
    /// `"ssh-ed25519 AAAA…"`: the host key's public half, without a comment.
    pub host_key_pub_line: String,
    /// The ed25519 private user key (no passphrase), in `authorized_keys`.
    pub user_key: PathBuf,
    /// The `AuthorizedKeysFile` (mode 0644: the login user may not be its owner).
    pub authorized_keys: PathBuf,
    /// A known_hosts file with the host key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    /// The `sshd_config` it runs.
    pub config: PathBuf,
    /// The `-E` log file (what sshd writes to stderr besides is in `sshd.stderr` beside it).
    pub log: PathBuf,
    child: Option<Child>,
    /// Declared after `child`: dropped (its thread ended) only once the server is stopped.
    _launcher: Launcher,
}

impl std::fmt::Debug for Sshd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sshd").field("port", &self.port).field("dir", &self.dir).field("running", &self.child.is_some()).finish_non_exhaustive()
    }
}

fn fail(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::LocalIo, "start sshd", detail)
}

fn io_fail(path: &Path, e: &io::Error) -> Error {
    Error::local_io("start sshd", path, e).hint("check that the server's folder is writable")
}

/// The file names inside the server's folder.
fn config_path(dir: &Path) -> PathBuf {
    dir.join("sshd_config")
}
fn pid_path(dir: &Path) -> PathBuf {
    dir.join("sshd.pid")
}
fn log_path(dir: &Path) -> PathBuf {
    dir.join("sshd.log")
}
fn stderr_path(dir: &Path) -> PathBuf {
    dir.join("sshd.stderr")
}

impl Sshd {
    /// Start a server with its files in `dir` (an existing folder; earlier keys and
    /// configuration there are replaced). Returns once it answers with an SSH banner, or an
    /// error saying what failed, with the end of its log.
    pub fn start(dir: &Path, opts: &SshdOptions) -> Result<Sshd> {
        if !Path::new(SSHD).exists() {
            return Err(Error::new(ErrorKind::Unsupported, "start sshd", format!("{SSHD} (OpenSSH server) is not installed"))
                .hint("install it: apt-get install openssh-server"));
        }
        let config = config_path(dir);
        stop_stale_server(dir, &config);

        let host_key = dir.join("ssh_host_ed25519_key");
        let user_key = dir.join("id_ed25519");
        let host_key_pub_line = keygen(&host_key, "ed25519", "skiff-sshd-host")?;
        let user_pub_line = keygen(&user_key, "ed25519", "skiff-sshd-user")?;
        let authorized_keys = dir.join("authorized_keys");
        write_file(&authorized_keys, &format!("{user_pub_line}\n"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644)).map_err(|e| io_fail(&authorized_keys, &e))?;
        }
        if running_as_root() {
            // Privilege-separation folder; sshd refuses to start without it.
            fs::create_dir_all("/run/sshd").map_err(|e| io_fail(Path::new("/run/sshd"), &e))?;
        }

        let known_hosts = dir.join("known_hosts");
        let (log, stderr_log) = (log_path(dir), stderr_path(dir));
        let pid_file = pid_path(dir);
        let files = config::ConfigFiles { host_key: &host_key, authorized_keys: &authorized_keys, pid_file: &pid_file };
        let launcher = Launcher::new()?;
        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            write_file(&config, &config::config_text(port, &files, opts))?;
            write_file(&known_hosts, &format!("[127.0.0.1]:{port} {host_key_pub_line}\n"))?;
            // A fresh log per attempt, so a failed bind does not confuse the next one.
            let _ = fs::remove_file(&log);
            let stderr = fs::File::create(&stderr_log).map_err(|e| io_fail(&stderr_log, &e))?;
            let mut cmd = Command::new(SSHD);
            cmd.arg("-D").arg("-e").arg("-f").arg(&config).arg("-E").arg(&log).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
            let mut child = launcher.spawn(cmd).map_err(|e| fail(format!("cannot run {SSHD}: {e}")).hint("install it: apt-get install openssh-server"))?;
            match wait_ready(&mut child, addr, dir) {
                Ok(()) => {
                    tracing::info!(port, dir = %dir.display(), "private sshd started");
                    return Ok(Sshd {
                        port,
                        addr,
                        dir: dir.to_path_buf(),
                        host_key,
                        host_key_pub_line,
                        user_key,
                        authorized_keys,
                        known_hosts,
                        config,
                        log,
                        child: Some(child),
                        _launcher: launcher,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = read_logs(dir);
                    if !(text.contains("Address already in use") || text.contains("Cannot bind any address")) {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| fail("sshd did not start")).hint(format!("another process took the free port {BIND_ATTEMPTS} times; try again")))
    }

    /// What the server logged: the `-E` log, then anything it wrote to stderr.
    pub fn log_contents(&self) -> String {
        read_logs(&self.dir)
    }

    /// The server's process id, while it has not been stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stop the server (kill and reap it). Sessions already open end with their connections.
    /// Calling it again does nothing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = fs::remove_file(pid_path(&self.dir));
            tracing::info!(port = self.port, "private sshd stopped");
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a server started in `dir` logged (the `-E` log, then its stderr): for an error
/// report when [`Sshd::start`] failed and there is no [`Sshd`] to ask.
pub fn read_logs(dir: &Path) -> String {
    let mut s = fs::read_to_string(log_path(dir)).unwrap_or_default();
    let stderr = fs::read_to_string(stderr_path(dir)).unwrap_or_default();
    if !stderr.trim().is_empty() {
        s.push_str("\n--- sshd stderr ---\n");
        s.push_str(&stderr);
    }
    s
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| io_fail(path, &e))
}

/// A fresh key of `key_type` (`ed25519`, `rsa`, `ecdsa`) without passphrase at `path` (an
/// old one is replaced); returns its public line, `"type base64"`.
pub fn keygen(path: &Path, key_type: &str, comment: &str) -> Result<String> {
    let public = pub_path(path);
    for p in [path, public.as_path()] {
        match fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_fail(p, &e)),
        }
    }
    let out = Command::new("ssh-keygen")
        .args(["-t", key_type, "-N", "", "-C", comment, "-q", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run ssh-keygen: {e}")).hint("install it: apt-get install openssh-client"))?;
    if !out.status.success() {
        return Err(fail(format!("ssh-keygen -t {key_type} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
            .path(path.display().to_string())
            .hint("check that the folder is writable and the key type is one ssh-keygen knows"));
    }
    let text = fs::read_to_string(&public).map_err(|e| io_fail(&public, &e))?;
    let fields: Vec<&str> = text.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        return Err(fail("ssh-keygen wrote a malformed public key").path(public.display().to_string()).hint("check the ssh-keygen installation"));
    }
    Ok(fields.join(" "))
}

fn pub_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Whether this process runs as root (sshd then needs `/run/sshd` and can chroot).
pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| fail(format!("cannot find a free port on 127.0.0.1: {e}")).hint("check the loopback interface"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| fail(format!("cannot read the port bound on 127.0.0.1: {e}")).hint("check the loopback interface"))
}

/// Wait until `addr` answers with an SSH banner, the child exits, or the timeout passes.
fn wait_ready(child: &mut Child, addr: SocketAddr, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    let log_tail = || {
        let text = read_logs(dir);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    let log = log_path(dir).display().to_string();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(fail(format!("sshd on {addr} exited at once ({status}): {}", log_tail())).path(log).hint("see the sshd log named here"));
        }
        match banner(addr) {
            Ok(b) if b.starts_with("SSH-2.0-") => return Ok(()),
            Ok(b) => return Err(fail(format!("{addr} answered {b:?}, not an SSH banner")).hint("another program took the port; try again")),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => {
                return Err(fail(format!("sshd did not answer on {addr} within {START_TIMEOUT:?} ({e}): {}", log_tail()))
                    .path(log)
                    .hint("see the sshd log named here"))
            }
        }
    }
}

/// The first line the server sends.
fn banner(addr: SocketAddr) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.contains(&b'\n') && got.len() < 255 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&got).lines().next().unwrap_or("").trim().to_string())
}

/// An sshd started earlier from `dir` whose owner died without stopping it: stop it, but only
/// when `/proc` shows it is sshd running *this* folder's config.
fn stop_stale_server(dir: &Path, config: &Path) {
    let Ok(pid) = fs::read_to_string(pid_path(dir)) else { return };
    let Ok(pid) = pid.trim().parse::<i32>() else { return };
    if pid <= 1 {
        return;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return };
    // sshd rewrites its command line ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] …"),
    // so look for the pieces rather than exact arguments.
    let contains = |needle: &[u8]| !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle);
    if contains(b"sshd") && contains(config.as_os_str().as_encoded_bytes()) {
        tracing::info!(pid, "stopping an sshd left over from an earlier run");
        #[cfg(unix)]
        // SAFETY: kill has no memory-safety preconditions; the pid was checked above.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        assert!(Path::new(SSHD).exists(), "{SSHD} is not installed: install it (apt-get install openssh-server, or `make deps`)");
        let tmp = tempfile::tempdir().unwrap();
        let mut sshd = Sshd::start(tmp.path(), &SshdOptions::default()).unwrap();
        assert!(sshd.is_running());
        assert!(banner(sshd.addr).unwrap().starts_with("SSH-2.0-"));
        let kh = fs::read_to_string(&sshd.known_hosts).unwrap();
        assert_eq!(kh, format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_key_pub_line));
        let authorized = fs::read_to_string(&sshd.authorized_keys).unwrap();
        assert!(authorized.starts_with("ssh-ed25519 "), "{authorized}");
        assert!(fs::read_to_string(&sshd.config).unwrap().contains(&format!("Port {}\n", sshd.port)));
        let addr = sshd.addr;
        sshd.stop();
        assert!(!sshd.is_running() && sshd.pid().is_none());
        assert!(banner(addr).is_err(), "{addr} still answers after stop");
    }

    #[test]
    fn a_bad_setting_fails_with_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = SshdOptions { settings: vec!["NoSuchKeyword yes".into()], ..Default::default() };
        let e = Sshd::start(tmp.path(), &opts).unwrap_err();
        assert!(e.detail.contains("exited") && e.detail.contains("NoSuchKeyword"), "{e}");
        assert_eq!(e.path.as_deref(), Some(log_path(tmp.path()).to_str().unwrap()));
    }

    #[test]
    fn keygen_replaces_and_takes_types() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k");
        let first = keygen(&key, "ed25519", "c").unwrap();
        let second = keygen(&key, "ed25519", "c").unwrap();
        assert!(first.starts_with("ssh-ed25519 ") && first != second);
        assert!(keygen(&tmp.path().join("e"), "ecdsa", "").unwrap().starts_with("ecdsa-sha2-nistp256 "));
        assert!(keygen(&tmp.path().join("x"), "no-such-type", "").is_err());
    }
}
