//! A real, private ProFTPD with mod_sftp per test.
//!
//! [`Proftpd::start`] generates an ECDSA host key (PEM, which every ProFTPD
//! release reads) and an ed25519 user key in a fresh temporary directory,
//! writes the user key as an RFC 4716 `SFTPAuthorizedUserKeys` file, a
//! `proftpd.conf`, a client `ssh_config` (`Host skiff-proftpd`) and a
//! `known_hosts` next to them, starts `/usr/sbin/proftpd -n` on a free
//! loopback port and waits for the SSH banner. Dropping the [`Proftpd`] kills
//! the server and removes the directory.
//!
//! ProFTPD is a second, independently written SFTP server: unlike OpenSSH
//! (one `sftp-server` process per channel) it serves every channel of a
//! connection from one process, with a 4 GiB channel window and no
//! `limits@openssh.com`. Tests use it to prove Skiff does not depend on
//! OpenSSH's behaviour.
//!
//! This module owns that directory and that child process only: nothing
//! outside the temp dir is read or written (no `/etc/proftpd`, no system
//! scoreboard, no wtmp).

use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// The `Host` alias in [`Proftpd::ssh_config`].
pub const HOST_ALIAS: &str = "skiff-proftpd";

/// The server binary (Debian package `proftpd-core`).
pub const PROFTPD: &str = "/usr/sbin/proftpd";
/// The SFTP module (Debian package `proftpd-mod-crypto`).
pub const MOD_SFTP: &str = "/usr/lib/proftpd/mod_sftp.so";
/// What to install when either is missing.
pub const DEBIAN_PACKAGES: &str = "proftpd-core proftpd-mod-crypto";

const START_TIMEOUT: Duration = Duration::from_secs(10);
const BIND_ATTEMPTS: usize = 8;

/// How to configure the server.
#[derive(Clone, Debug, Default)]
pub struct ProftpdOptions {
    /// Extra `proftpd.conf` lines, appended verbatim inside `<IfModule mod_sftp.c>`
    /// (e.g. `SFTPMaxChannels 2`).
    pub extra_sftp_config: Vec<String>,
}

/// A running private ProFTPD. Killed and cleaned up on drop.
pub struct Proftpd {
    /// Everything lives here (keys, configs, logs, data root).
    pub dir: tempfile::TempDir,
    /// Free loopback port the server listens on.
    pub port: u16,
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
    /// ed25519 private user key, no passphrase, authorized for [`Proftpd::user`].
    pub user_key: PathBuf,
    /// The user to log in as: the current user.
    pub user: String,
    /// A known_hosts file with a `[127.0.0.1]:PORT <hostkey>` line.
    pub known_hosts: PathBuf,
    /// Client config with `Host skiff-proftpd` pointing at this server.
    pub ssh_config: PathBuf,
    /// An absolute data directory for test files (mode 0777).
    pub root: PathBuf,
    child: Child,
}

impl Proftpd {
    /// Start with default options.
    pub fn start() -> Result<Proftpd> {
        Proftpd::start_with(ProftpdOptions::default())
    }

    /// Start with `opts`. Returns once the server has sent its SSH banner.
    pub fn start_with(opts: ProftpdOptions) -> Result<Proftpd> {
        for needed in [PROFTPD, MOD_SFTP] {
            if !Path::new(needed).exists() {
                bail!(
                    "{needed} is missing: the ProFTPD interop tests need the Debian packages \
                     {DEBIAN_PACKAGES} (run `make deps`, or `apt-get install {DEBIAN_PACKAGES}`)"
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("skiff-proftpd-")
            .tempdir()
            .context("creating the proftpd temp dir")?;
        let base = dir.path().to_path_buf();
        let user = run_id("-un")?;
        let group = run_id("-gn")?;

        fs::set_permissions(&base, fs::Permissions::from_mode(0o755))?;
        let root = base.join("data");
        fs::create_dir(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777))?;

        let host_key = base.join("ssh_host_ecdsa_key");
        keygen(&host_key, &["-t", "ecdsa", "-b", "256", "-m", "PEM"])?;
        let host_key_pub_line = read_pub_line(&host_key)?;
        let user_key = base.join("id_ed25519");
        keygen(&user_key, &["-t", "ed25519"])?;
        let authorized_keys = base.join("authorized_keys");
        fs::write(&authorized_keys, rfc4716_public_key(&user_key)?)?;
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))?;

        let conf = base.join("proftpd.conf");
        let known_hosts = base.join("known_hosts");
        let ssh_config = base.join("ssh_config");
        let stderr_log = base.join("proftpd.stderr");

        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            fs::write(&conf, config_text(&opts, port, &base, &user, &group, &host_key, &authorized_keys))?;
            for log in ["proftpd.log", "sftp.log"] {
                let _ = fs::remove_file(base.join(log));
            }
            let stderr = fs::File::create(&stderr_log)?;
            let mut child = Command::new(PROFTPD)
                .arg("-n")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .with_context(|| format!("spawning {PROFTPD}"))?;
            fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key_pub_line}\n"))?;
            fs::write(&ssh_config, client_config_text(port, &user, &user_key, &known_hosts))?;
            match wait_ready(&mut child, addr, &base) {
                Ok(()) => {
                    return Ok(Proftpd { dir, port, addr, user_key, user, known_hosts, ssh_config, root, child });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = read_logs(&base);
                    if !logs.contains("Address already in use") {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("proftpd did not start")))
            .context(format!("proftpd failed to bind a free port {BIND_ATTEMPTS} times"))
    }

    /// The server's system log, its SFTP log and anything it wrote to stderr.
    pub fn log_contents(&self) -> String {
        read_logs(self.dir.path())
    }
}

impl Drop for Proftpd {
    fn drop(&mut self) {
        // `-n` keeps the master in the foreground; each connection is a child it forked,
        // which exits when its client goes (or when the master is gone and the session ends).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(
    opts: &ProftpdOptions,
    port: u16,
    base: &Path,
    user: &str,
    group: &str,
    host_key: &Path,
    authorized_keys: &Path,
) -> String {
    let b = |name: &str| base.join(name).display().to_string();
    let mut c = format!(
        "ServerType standalone\n\
         ServerName \"skiff-test\"\n\
         Port {port}\n\
         DefaultAddress 127.0.0.1\n\
         SocketBindTight on\n\
         UseIPv6 off\n\
         User {user}\n\
         Group {group}\n\
         PidFile {pid}\n\
         ScoreboardFile {scoreboard}\n\
         DelayTable none\n\
         WtmpLog off\n\
         TransferLog none\n\
         SystemLog {syslog}\n\
         UseReverseDNS off\n\
         RootLogin on\n\
         UseFtpUsers off\n\
         RequireValidShell off\n\
         AuthOrder mod_auth_unix.c\n\
         AllowOverwrite on\n\
         MaxInstances 64\n\
         ModulePath /usr/lib/proftpd\n\
         LoadModule mod_sftp.c\n\
         <IfModule mod_sftp.c>\n\
         \x20 SFTPEngine on\n\
         \x20 SFTPLog {sftplog}\n\
         \x20 SFTPHostKey {host_key}\n\
         \x20 SFTPAuthorizedUserKeys file:{authorized_keys}\n\
         \x20 SFTPAuthMethods publickey\n",
        pid = b("proftpd.pid"),
        scoreboard = b("proftpd.scoreboard"),
        syslog = b("proftpd.log"),
        sftplog = b("sftp.log"),
        host_key = host_key.display(),
        authorized_keys = authorized_keys.display(),
    );
    for line in &opts.extra_sftp_config {
        c.push_str("  ");
        c.push_str(line);
        c.push('\n');
    }
    c.push_str("</IfModule>\n<Limit ALL>\n  AllowAll\n</Limit>\n");
    c
}

fn client_config_text(port: u16, user: &str, user_key: &Path, known_hosts: &Path) -> String {
    format!(
        "Host {HOST_ALIAS}\n\
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

fn read_logs(base: &Path) -> String {
    let mut s = String::new();
    for (name, title) in [("proftpd.log", "system log"), ("sftp.log", "SFTP log"), ("proftpd.stderr", "stderr")] {
        let text = fs::read_to_string(base.join(name)).unwrap_or_default();
        if !text.trim().is_empty() {
            s.push_str(&format!("--- proftpd {title} ---\n{text}\n"));
        }
    }
    s
}

/// Wait until `addr` answers with an SSH banner, or the child exits, or the start timeout
/// passes.
fn wait_ready(child: &mut Child, addr: SocketAddr, base: &Path) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("proftpd on {addr} exited during startup ({status}); logs:\n{}", read_logs(base));
        }
        match read_banner(addr) {
            Ok(banner) if banner.starts_with("SSH-2.0-") => return Ok(()),
            Ok(other) => bail!("proftpd on {addr} sent an unexpected banner {other:?}; logs:\n{}", read_logs(base)),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => bail!(
                "proftpd on {addr} did not send an SSH banner within {START_TIMEOUT:?} ({e}); logs:\n{}",
                read_logs(base)
            ),
        }
    }
}

fn keygen(path: &Path, kind: &[&str]) -> Result<()> {
    let out = Command::new("ssh-keygen")
        .args(kind)
        .args(["-N", "", "-C", "", "-q", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen (is openssh-client installed?)")?;
    if !out.status.success() {
        bail!("ssh-keygen -f {} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn pub_path(private_key: &Path) -> PathBuf {
    let mut p = private_key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

fn read_pub_line(private_key: &Path) -> Result<String> {
    let p = pub_path(private_key);
    let s = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let fields: Vec<&str> = s.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        bail!("malformed public key in {}", p.display());
    }
    Ok(fields.join(" "))
}

/// The public key in RFC 4716 form (`ssh-keygen -e`), the format `SFTPAuthorizedUserKeys` reads.
fn rfc4716_public_key(private_key: &Path) -> Result<String> {
    let out = Command::new("ssh-keygen")
        .arg("-e")
        .arg("-f")
        .arg(pub_path(private_key))
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen -e")?;
    if !out.status.success() {
        bail!("ssh-keygen -e failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before banner")),
            _ if byte[0] == b'\n' => break,
            _ => buf.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

fn run_id(arg: &str) -> Result<String> {
    let out = Command::new("id").arg(arg).output().context("running `id`")?;
    if !out.status.success() {
        bail!("`id {arg}` failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
