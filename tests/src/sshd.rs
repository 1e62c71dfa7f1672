//! A real, private OpenSSH `sshd` per test.
//!
//! [`Sshd::start`] generates a host key and a user key in a fresh temporary
//! directory, writes an `sshd_config`, a client `ssh_config` and a
//! `known_hosts` next to them, starts `/usr/sbin/sshd -D` on a free loopback
//! port and waits for the SSH banner. Dropping the [`Sshd`] kills the server
//! and removes the directory.
//!
//! This module owns that directory and that child process only. It never
//! touches `~/.ssh` or the system sshd. The one system-wide side effect is
//! the dedicated local user `skifftest`, created (as root only) when a test
//! asks for password authentication, because sshd with `UsePAM no` checks
//! passwords against the system shadow file.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// The local user created for password-authentication tests.
pub const PASSWORD_USER: &str = "skifftest";

/// The `Host` alias in [`Sshd::ssh_config`].
pub const HOST_ALIAS: &str = "skiff-test";

const SSHD: &str = "/usr/sbin/sshd";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const BIND_ATTEMPTS: usize = 8;

/// Serialises `useradd`/`chpasswd` within this process.
static PASSWORD_USER_LOCK: Mutex<()> = Mutex::new(());

/// How to configure the server.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// If set, enable `PasswordAuthentication` for user [`PASSWORD_USER`] with
    /// this password (requires root; [`Sshd::user`] becomes that user).
    pub password: Option<String>,
    /// `false` leaves out the `Subsystem sftp` line: the server refuses sftp.
    pub allow_sftp: bool,
    /// Extra `sshd_config` lines, verbatim. They override the fixture's
    /// defaults (sshd keeps the first value of a keyword); lines from the
    /// first `Match` on are placed at the end. A `Subsystem sftp ...` line
    /// here replaces the default `internal-sftp` one.
    pub extra_config: Vec<String>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            password: None,
            allow_sftp: true,
            extra_config: Vec::new(),
        }
    }
}

/// A running private sshd. Killed and cleaned up on drop.
pub struct Sshd {
    /// Everything lives here (keys, configs, log, data root).
    pub dir: tempfile::TempDir,
    /// Free loopback port the server listens on.
    pub port: u16,
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
    /// ed25519 private host key.
    pub host_key: PathBuf,
    /// `"ssh-ed25519 AAAA..."`: the host key's `.pub` contents, trimmed (no comment).
    pub host_key_pub_line: String,
    /// ed25519 private user key, no passphrase, authorized for [`Sshd::user`].
    pub user_key: PathBuf,
    /// The user to log in as: the current user, or [`PASSWORD_USER`] with a password.
    pub user: String,
    /// A known_hosts file with a `[127.0.0.1]:PORT <hostkey>` line.
    pub known_hosts: PathBuf,
    /// Client config with `Host skiff-test` pointing at this server.
    pub ssh_config: PathBuf,
    /// The sshd `-E` log file.
    pub log: PathBuf,
    /// An absolute data directory for test files (mode 0777).
    pub root: PathBuf,
    /// The password, when password authentication is enabled.
    pub password: Option<String>,
    child: Child,
}

impl Sshd {
    /// Start with default options.
    pub fn start() -> Result<Sshd> {
        Sshd::start_with(SshdOptions::default())
    }

    /// Start with `opts`. Returns once the server has sent its SSH banner.
    pub fn start_with(opts: SshdOptions) -> Result<Sshd> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-sshd-")
            .tempdir()
            .context("creating the sshd temp dir")?;
        let base = dir.path().to_path_buf();
        let is_root = current_uid()? == 0;

        let user = match &opts.password {
            Some(pw) => {
                if !is_root {
                    bail!(
                        "password-authentication tests need root: they create the local user \
                         `{PASSWORD_USER}` (run the tests as root, or skip them)"
                    );
                }
                ensure_password_user(pw)?;
                PASSWORD_USER.to_string()
            }
            None => current_user()?,
        };

        // The login user may not be the owner of the temp dir: let it in.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755))?;
        let root = base.join("data");
        fs::create_dir(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777))?;

        let host_key = base.join("ssh_host_ed25519_key");
        keygen(&host_key)?;
        let host_key_pub_line = read_pub_line(&host_key)?;
        let user_key = base.join("id_ed25519");
        keygen(&user_key)?;
        let user_pub_line = read_pub_line(&user_key)?;
        let authorized_keys = base.join("authorized_keys");
        fs::write(&authorized_keys, format!("{user_pub_line}\n"))?;
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))?;

        if is_root {
            // Privilege-separation directory; sshd refuses to start without it.
            fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
        }

        let log = base.join("sshd.log");
        let stderr_log = base.join("sshd.stderr");
        let known_hosts = base.join("known_hosts");
        let ssh_config = base.join("ssh_config");
        let sshd_config = base.join("sshd_config");

        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            fs::write(
                &sshd_config,
                sshd_config_text(&opts, port, &base, &host_key, &authorized_keys),
            )?;
            // Fresh log per attempt so a failed bind does not confuse the next one.
            let _ = fs::remove_file(&log);
            let stderr = fs::File::create(&stderr_log)?;
            let child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&sshd_config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .with_context(|| format!("spawning {SSHD}"))?;

            fs::write(
                &known_hosts,
                format!("[127.0.0.1]:{port} {host_key_pub_line}\n"),
            )?;
            fs::write(
                &ssh_config,
                client_config_text(HOST_ALIAS, port, &user, &user_key, &known_hosts),
            )?;

            let mut child = child;
            match wait_ready(&mut child, addr, &log, &stderr_log) {
                Ok(()) => {
                    return Ok(Sshd {
                        dir,
                        port,
                        addr,
                        host_key,
                        host_key_pub_line,
                        user_key,
                        user,
                        known_hosts,
                        ssh_config,
                        log,
                        root,
                        password: opts.password.clone(),
                        child,
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = read_logs(&log, &stderr_log);
                    let bind_race = logs.contains("Address already in use")
                        || logs.contains("Cannot bind any address");
                    if !bind_race {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("sshd did not start"))).context(format!(
            "sshd failed to bind a free port {BIND_ATTEMPTS} times"
        ))
    }

    /// The sshd log (`-E` file) followed by anything it wrote to stderr.
    pub fn log_contents(&self) -> String {
        read_logs(&self.log, &self.dir.path().join("sshd.stderr"))
    }

    /// Write an ssh_config with `Host alias` pointing at `127.0.0.1:port`
    /// (e.g. a relay in front of this sshd), same user, key and known_hosts
    /// file; a `[127.0.0.1]:port` entry for the host key is appended to
    /// [`Sshd::known_hosts`]. Returns the new config's path.
    pub fn client_config_for_port(&self, alias: &str, port: u16) -> Result<PathBuf> {
        let line = format!("[127.0.0.1]:{port} {}", self.host_key_pub_line);
        let existing = fs::read_to_string(&self.known_hosts).unwrap_or_default();
        if !existing.lines().any(|l| l.trim() == line) {
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(&self.known_hosts)?;
            writeln!(f, "{line}")?;
        }
        let path = self.dir.path().join(format!("ssh_config.{alias}.{port}"));
        fs::write(
            &path,
            client_config_text(alias, port, &self.user, &self.user_key, &self.known_hosts),
        )?;
        Ok(path)
    }

    /// Base arguments for the OpenSSH client tools against this server:
    /// `-F <ssh_config> -o BatchMode=yes`. Append `skiff-test` and the rest.
    pub fn ssh_args(&self) -> Vec<String> {
        vec![
            "-F".into(),
            self.ssh_config.display().to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
        ]
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_logs(log: &Path, stderr_log: &Path) -> String {
    let mut s = fs::read_to_string(log).unwrap_or_default();
    let stderr = fs::read_to_string(stderr_log).unwrap_or_default();
    if !stderr.trim().is_empty() {
        s.push_str("\n--- sshd stderr ---\n");
        s.push_str(&stderr);
    }
    s
}

/// Wait until `addr` answers with an SSH banner, or the child exits, or the
/// start timeout passes.
fn wait_ready(child: &mut Child, addr: SocketAddr, log: &Path, stderr_log: &Path) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "sshd on {addr} exited during startup ({status}); log:\n{}",
                read_logs(log, stderr_log)
            );
        }
        match read_banner(addr) {
            Ok(banner) if banner.starts_with("SSH-2.0-") => return Ok(()),
            Ok(other) => bail!(
                "sshd on {addr} sent an unexpected banner {other:?}; log:\n{}",
                read_logs(log, stderr_log)
            ),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => bail!(
                "sshd on {addr} did not send an SSH banner within {START_TIMEOUT:?} ({e}); log:\n{}",
                read_logs(log, stderr_log)
            ),
        }
    }
}

fn sshd_config_text(
    opts: &SshdOptions,
    port: u16,
    base: &Path,
    host_key: &Path,
    authorized_keys: &Path,
) -> String {
    // sshd uses the FIRST value of a keyword, so `extra_config` goes before
    // our defaults to override them; from its first `Match` line on it goes
    // last, since everything after a `Match` applies only inside it.
    let match_at = opts
        .extra_config
        .iter()
        .position(|l| l.trim_start().to_ascii_lowercase().starts_with("match "))
        .unwrap_or(opts.extra_config.len());
    let (overrides, match_blocks) = opts.extra_config.split_at(match_at);
    let own_sftp = overrides.iter().any(|l| {
        let mut w = l.split_whitespace();
        w.next()
            .is_some_and(|k| k.eq_ignore_ascii_case("subsystem"))
            && w.next() == Some("sftp")
    });

    let mut c = String::new();
    let mut line = |s: String| {
        c.push_str(&s);
        c.push('\n');
    };
    for extra in overrides {
        line(extra.clone());
    }
    line(format!("Port {port}"));
    line("ListenAddress 127.0.0.1".into());
    line(format!("HostKey {}", host_key.display()));
    line(format!("AuthorizedKeysFile {}", authorized_keys.display()));
    line(format!("PidFile {}", base.join("sshd.pid").display()));
    line("StrictModes no".into());
    line("UsePAM no".into());
    line("PermitRootLogin yes".into());
    line("PubkeyAuthentication yes".into());
    line(format!(
        "PasswordAuthentication {}",
        if opts.password.is_some() { "yes" } else { "no" }
    ));
    line("PermitEmptyPasswords no".into());
    line("KbdInteractiveAuthentication no".into());
    line("LogLevel DEBUG1".into());
    line("MaxStartups 100".into());
    line("MaxSessions 64".into());
    line("MaxAuthTries 10".into());
    line("UseDNS no".into());
    line("PrintMotd no".into());
    line("PrintLastLog no".into());
    if opts.allow_sftp && !own_sftp {
        line("Subsystem sftp internal-sftp".into());
    }
    for extra in match_blocks {
        line(extra.clone());
    }
    c
}

fn client_config_text(
    alias: &str,
    port: u16,
    user: &str,
    user_key: &Path,
    known_hosts: &Path,
) -> String {
    format!(
        "Host {alias}\n\
         \x20 HostName 127.0.0.1\n\
         \x20 Port {port}\n\
         \x20 User {user}\n\
         \x20 IdentityFile {key}\n\
         \x20 IdentitiesOnly yes\n\
         \x20 IdentityAgent none\n\
         \x20 UserKnownHostsFile {kh}\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 UpdateHostKeys no\n\
         \x20 CheckHostIP no\n",
        key = user_key.display(),
        kh = known_hosts.display(),
    )
}

fn keygen(path: &Path) -> Result<()> {
    let out = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", "", "-C", "", "-q", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen (is openssh-client installed?)")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen -f {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn read_pub_line(private_key: &Path) -> Result<String> {
    let mut p = private_key.as_os_str().to_owned();
    p.push(".pub");
    let s =
        fs::read_to_string(&p).with_context(|| format!("reading {}", Path::new(&p).display()))?;
    // Keep "type base64" only, in case a comment slipped in.
    let fields: Vec<&str> = s.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        bail!("malformed public key in {}", Path::new(&p).display());
    }
    Ok(fields.join(" "))
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr()?.port())
}

fn read_banner(addr: SocketAddr) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while buf.len() < 255 {
        match s.read(&mut byte)? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before banner",
                ))
            }
            _ if byte[0] == b'\n' => break,
            _ => buf.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

fn run_id(arg: &str) -> Result<String> {
    let out = Command::new("id")
        .arg(arg)
        .output()
        .context("running `id`")?;
    if !out.status.success() {
        bail!(
            "`id {arg}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn current_uid() -> Result<u32> {
    run_id("-u")?.parse().context("parsing `id -u`")
}

fn current_user() -> Result<String> {
    run_id("-un")
}

/// Create `skifftest` if missing and (re)set its password. Root only.
fn ensure_password_user(password: &str) -> Result<()> {
    if password.contains(['\n', ':']) {
        bail!("test password may not contain ':' or a newline");
    }
    let _guard = PASSWORD_USER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("id")
        .arg(PASSWORD_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running `id`")?
        .success();
    if !exists {
        let out = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", PASSWORD_USER])
            .output()
            .context("running useradd")?;
        // Exit status 9: the user exists (another test process won the race).
        if !out.status.success() && out.status.code() != Some(9) {
            bail!(
                "useradd {PASSWORD_USER} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let mut child = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running chpasswd")?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{PASSWORD_USER}:{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "chpasswd for {PASSWORD_USER} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Generate an extra host key of `key_type` (`rsa`, `ecdsa`, `ed25519`) at `path` for a
/// server that should offer several types (pass `HostKey <path>` in
/// [`SshdOptions::extra_config`]: those come before the fixture's ed25519 key). Returns the
/// public key line, `"type base64"`.
pub fn generate_host_key(path: &Path, key_type: &str) -> Result<String> {
    let out = Command::new("ssh-keygen")
        .args(["-t", key_type, "-N", "", "-C", "", "-q", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen (is openssh-client installed?)")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen -t {key_type} -f {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    read_pub_line(path)
}
