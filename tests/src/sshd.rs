//! A real, private OpenSSH `sshd` per test: the engine's launcher
//! ([`skiff_engine::sshd`]) plus what only tests need.
//!
//! [`Sshd::start`] starts the engine's private sshd (fresh host and user
//! keys, a free loopback port, killed on drop and when the test process
//! dies) in a fresh temporary directory, with the tests' settings (root
//! login, debug logging, optional password authentication, caller-supplied
//! `sshd_config` lines), and adds a client `ssh_config` (`Host skiff-test`)
//! and a world-writable data directory. Dropping the [`Sshd`] kills the
//! server and removes the directory.
//!
//! This module owns that directory only. It never touches `~/.ssh` or the
//! system sshd. The one system-wide side effect is the dedicated local user
//! `skifftest`, created (as root only) when a test asks for password
//! authentication, because sshd with `UsePAM no` checks passwords against
//! the system shadow file.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use skiff_engine::sshd as engine;

/// The local user created for password-authentication tests.
pub const PASSWORD_USER: &str = "skifftest";

/// The `Host` alias in [`Sshd::ssh_config`].
pub const HOST_ALIAS: &str = "skiff-test";

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
    server: engine::Sshd,
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

        let user = match &opts.password {
            Some(pw) => {
                if !engine::running_as_root() {
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

        let server = engine::Sshd::start(&base, &server_options(&opts))
            .map_err(anyhow::Error::from)
            .with_context(|| format!("starting sshd in {}; log:\n{}", base.display(), engine::read_logs(&base)))?;
        let ssh_config = base.join("ssh_config");
        fs::write(
            &ssh_config,
            client_config_text(HOST_ALIAS, server.port, &user, &server.user_key, &server.known_hosts),
        )?;
        Ok(Sshd {
            port: server.port,
            addr: server.addr,
            host_key: server.host_key.clone(),
            host_key_pub_line: server.host_key_pub_line.clone(),
            user_key: server.user_key.clone(),
            user,
            known_hosts: server.known_hosts.clone(),
            ssh_config,
            log: server.log.clone(),
            root,
            password: opts.password.clone(),
            server,
            dir,
        })
    }

    /// The sshd log (`-E` file) followed by anything it wrote to stderr.
    pub fn log_contents(&self) -> String {
        self.server.log_contents()
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
        // Before `dir` (a field, dropped after this) is removed.
        self.server.stop();
    }
}

/// The engine server's options for `opts`: the caller's lines override the
/// tests' settings (sshd keeps the first value of a keyword); from the
/// first `Match` line on they go last, after the common settings.
fn server_options(opts: &SshdOptions) -> engine::SshdOptions {
    let match_at = opts
        .extra_config
        .iter()
        .position(|l| l.trim_start().to_ascii_lowercase().starts_with("match "))
        .unwrap_or(opts.extra_config.len());
    let (overrides, match_blocks) = opts.extra_config.split_at(match_at);
    let mut settings = overrides.to_vec();
    settings.extend(
        [
            "PermitRootLogin yes",
            if opts.password.is_some() {
                "PasswordAuthentication yes"
            } else {
                "PasswordAuthentication no"
            },
            "LogLevel DEBUG1",
            "MaxAuthTries 10",
        ]
        .map(String::from),
    );
    engine::SshdOptions {
        settings,
        match_blocks: match_blocks.to_vec(),
        sftp: opts.allow_sftp,
    }
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
    Ok(engine::keygen(path, key_type, "")?)
}
