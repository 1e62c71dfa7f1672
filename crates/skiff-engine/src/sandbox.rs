//! A throwaway local SFTP server for newcomers: "try Skiff without a server".
//!
//! [`Sandbox::start`] runs OpenSSH's own `sshd` (from the system, never one of ours) on a
//! free 127.0.0.1 port, with a fresh host key and user key (made by `ssh-keygen`) in a state
//! folder the caller chooses, SFTP only (`ForceCommand internal-sftp`, no forwarding, public
//! key only), serving a folder of sample files. A `known_hosts` with the host key is written
//! beside them, so connecting asks no question; [`Sandbox::profile`] is the saved-host form.
//!
//! The SFTP session sees the sample folder and nothing else. `ForceCommand internal-sftp -d`
//! only picks the starting folder; the confinement OpenSSH offers is `ChrootDirectory`,
//! which sshd applies only when it runs as root and only to a path whose every component is
//! a root-owned folder no group or other may write (sshd_config(5)). So as root the server
//! is chrooted into `files/`, reached through a link in the root-owned `/run/skiff-sandbox/`
//! (sshd checks the components of the path it is given, so the state folder may sit
//! anywhere, even under `/tmp`), and the session's `/` *is* the sample folder
//! ([`Sandbox::remote_root`]). A normal user's sshd cannot chroot at all, and OpenSSH has no
//! other confinement: there the server still reaches what that user can (logged as a
//! warning), behind a key only this state folder holds, on 127.0.0.1.
//!
//! This module owns that folder and that one child process: it never touches `~/.ssh`, the
//! system sshd's configuration, or any other process (except an sshd it started earlier
//! from the same state folder and that outlived its app, which it stops). Stopping (or
//! dropping) the [`Sandbox`] kills and reaps the server. The sample files in `files/` are
//! only created when missing, so what a person put there survives a restart.
//!
//! On Linux the server also dies with the app when the app is killed outright (SIGKILL, a
//! crash): it is started with `PR_SET_PDEATHSIG`. That signal follows the *thread* that
//! forked, not the process, so the server is always spawned from the sandbox's own launcher
//! thread, which lives exactly as long as the [`Sandbox`] (callers start it from tokio's
//! blocking threads, which exit when idle and would take the server with them).

use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::store::profiles::{AuthKind, Profile};

/// OpenSSH's server.
const SSHD: &str = "/usr/sbin/sshd";
/// How long the server may take to answer with its banner.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries when another process takes the free port first.
const BIND_ATTEMPTS: usize = 5;
/// The id of [`Sandbox::profile`]: saving it again replaces the earlier one.
pub const SANDBOX_PROFILE_ID: &str = "sandbox";

/// A running local SFTP server.
pub struct Sandbox {
    /// The 127.0.0.1 port it listens on.
    pub port: u16,
    /// The folder it serves (absolute, on this machine), with a few sample files.
    pub root: PathBuf,
    /// The same folder as the SFTP session names it: `/` (the session is chrooted into it).
    pub remote_root: String,
    /// The root-owned link sshd chroots through (removed on stop).
    chroot_link: Option<PathBuf>,
    /// The user to log in as: the current user.
    pub user: String,
    /// The private key that logs in (no passphrase).
    pub key_path: PathBuf,
    /// A known_hosts file holding the server's key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    state_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Declared after `child`: dropped (its thread ended) only once the server is stopped.
    _launcher: Launcher,
}

/// A spawn request: the command, and where its child goes.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The thread that forks the server (see the module docs): it spawns what it is sent and
/// then waits, parked on its channel, until the [`Sandbox`] that owns it is dropped.
struct Launcher {
    tx: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Launcher {
    fn new() -> Result<Launcher> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new()
            .name("skiff-sandbox".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map_err(|e| fail(format!("cannot start the sandbox's launcher thread: {e}")).hint("the system is out of threads or memory; close something and try again"))?;
        Ok(Launcher { tx: Some(tx), thread: Some(thread) })
    }

    /// Spawn `cmd` from the launcher thread, set to die with this process.
    fn spawn(&self, mut cmd: Command) -> io::Result<Child> {
        die_with_parent(&mut cmd);
        let (reply_tx, reply_rx) = mpsc::channel();
        let gone = || io::Error::other("the sandbox's launcher thread has stopped");
        self.tx.as_ref().ok_or_else(gone)?.send((cmd, reply_tx)).map_err(|_| gone())?;
        reply_rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Linux: the child gets SIGTERM (sshd exits on it) when the thread that forked it ends,
/// which for the launcher thread means when this process ends, however it ends.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook runs between fork and exec and only makes async-signal-safe calls
    // (prctl, getppid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died between fork and prctl: the signal will never come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere a killed app leaves the server running; the next start stops it
/// (`stop_stale_server`).
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("port", &self.port)
            .field("root", &self.root)
            .field("user", &self.user)
            .field("running", &self.child.is_some())
            .finish_non_exhaustive()
    }
}

fn fail(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::LocalIo, "start sandbox", detail)
}

fn io_fail(path: &Path, e: &io::Error) -> Error {
    Error::local_io("start sandbox", path, e).hint("check that the sandbox folder is writable")
}

impl Sandbox {
    /// Start a server with its state (keys, configuration, log, `files/`) in `state_dir`
    /// (created). Returns once the port answers with an SSH banner (at most 5 s), or an
    /// error saying what failed.
    pub fn start(state_dir: &Path) -> Result<Sandbox> {
        if !Path::new(SSHD).exists() {
            return Err(Error::new(ErrorKind::Unsupported, "start sandbox", format!("{SSHD} (OpenSSH server) is not installed"))
                .hint("install it: apt-get install openssh-server"));
        }
        create_private_dir(state_dir)?;
        let state_dir = fs::canonicalize(state_dir).map_err(|e| io_fail(state_dir, &e))?;
        let config_path = state_dir.join("sshd_config");
        stop_stale_server(&state_dir, &config_path);

        let root = state_dir.join("files");
        make_samples(&root)?;

        let host_key = state_dir.join("ssh_host_ed25519_key");
        let key_path = state_dir.join("id_ed25519");
        keygen(&host_key)?;
        keygen(&key_path)?;
        let host_pub = read_pub_line(&host_key)?;
        let authorized_keys = state_dir.join("authorized_keys");
        write_file(&authorized_keys, &format!("{}\n", read_pub_line(&key_path)?))?;

        let user = current_user();
        if user.is_empty() {
            return Err(fail("cannot tell the current user's name").hint("set the USER environment variable"));
        }
        let chroot_link = if is_root() {
            // Privilege-separation folder; sshd refuses to start without it.
            fs::create_dir_all("/run/sshd").map_err(|e| io_fail(Path::new("/run/sshd"), &e))?;
            Some(chroot_link(&state_dir, &root)?)
        } else {
            tracing::warn!(root = %root.display(), "the sandbox is not root: its SFTP server cannot be chrooted and reaches every file this user can");
            None
        };
        let remote_root = match chroot_link {
            Some(_) => "/".to_string(),
            None => root.display().to_string(),
        };

        let known_hosts = state_dir.join("known_hosts");
        let log = state_dir.join("sshd.log");
        let launcher = Launcher::new()?;
        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let port = free_port()?;
            let config = sshd_config(port, &state_dir, &host_key, &authorized_keys, &user, chroot_link.as_deref());
            write_file(&config_path, &config)?;
            write_file(&known_hosts, &format!("[127.0.0.1]:{port} {host_pub}\n"))?;
            let log_file = fs::File::create(&log).map_err(|e| io_fail(&log, &e))?;
            let mut cmd = Command::new(SSHD);
            cmd.arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file);
            let mut child = launcher
                .spawn(cmd)
                .map_err(|e| fail(format!("cannot run {SSHD}: {e}")).hint("install it: apt-get install openssh-server"))?;
            match wait_ready(&mut child, port, &log) {
                Ok(()) => {
                    tracing::info!(port, root = %root.display(), "sandbox sshd started");
                    return Ok(Sandbox {
                        port,
                        root,
                        remote_root,
                        chroot_link,
                        user,
                        key_path,
                        known_hosts,
                        state_dir,
                        log,
                        child: Some(child),
                        _launcher: launcher,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    if !(text.contains("Address already in use") || text.contains("Cannot bind any address")) {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        if let Some(link) = &chroot_link {
            let _ = fs::remove_file(link);
        }
        Err(last_err.unwrap_or_else(|| fail("sshd did not start")))
    }

    /// The saved-host form: "Local sandbox" on 127.0.0.1, key authentication with
    /// [`Sandbox::key_path`], its own known_hosts, opening at [`Sandbox::root`]. Its id is
    /// [`SANDBOX_PROFILE_ID`].
    pub fn profile(&self) -> Profile {
        Profile {
            id: SANDBOX_PROFILE_ID.to_string(),
            name: "Local sandbox".to_string(),
            host: "127.0.0.1".to_string(),
            port: self.port,
            user: self.user.clone(),
            auth: AuthKind::Key,
            key_path: Some(self.key_path.clone()),
            local_start: None,
            remote_start: Some(self.remote_root.clone()),
            known_hosts: Some(self.known_hosts.clone()),
        }
    }

    /// The folder holding keys, configuration and log.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// What the server logged (for an error report).
    pub fn log_contents(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
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
            let _ = fs::remove_file(self.state_dir.join("sshd.pid"));
            if let Some(link) = self.chroot_link.take() {
                let _ = fs::remove_file(link);
            }
            tracing::info!(port = self.port, "sandbox sshd stopped");
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| io_fail(dir, &e))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| io_fail(path, &e))
}

/// The sample tree, created piece by piece only where missing.
fn make_samples(root: &Path) -> Result<()> {
    let readme = "Welcome to Skiff's sandbox.\n\n\
        This folder is served by a private SFTP server on your own computer (127.0.0.1),\n\
        so you can try Skiff without a server: drag files between the two panes, rename,\n\
        delete, make folders. Nothing here leaves your machine.\n";
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (root.join("README.txt"), readme.as_bytes().to_vec()),
        (root.join("docs/notes.md"), b"# Notes\n\n- try dragging this file to the left pane\n".to_vec()),
        (root.join("docs/todo.txt"), b"1. upload something\n2. download it back\n".to_vec()),
    ];
    for (i, size) in [(1, 48 * 1024), (2, 96 * 1024), (3, 160 * 1024)] {
        files.push((root.join(format!("photos/photo-{i}.bin")), sample_bytes(i, size)));
    }
    for (path, data) in files {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io_fail(parent, &e))?;
        }
        if fs::symlink_metadata(&path).is_err() {
            fs::write(&path, data).map_err(|e| io_fail(&path, &e))?;
        }
    }
    Ok(())
}

/// Deterministic filler bytes (xorshift), different per seed.
fn sample_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A fresh ed25519 key at `path` (an old one is replaced).
fn keygen(path: &Path) -> Result<()> {
    for p in [path.to_path_buf(), pub_path(path)] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_fail(&p, &e)),
        }
    }
    let out = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", "", "-C", "skiff-sandbox", "-q", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run ssh-keygen: {e}")).hint("install it: apt-get install openssh-client"))?;
    if !out.status.success() {
        return Err(fail(format!("ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
            .path(path.display().to_string())
            .hint("check that the sandbox folder is writable"));
    }
    Ok(())
}

fn pub_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// `"ssh-ed25519 AAAA…"` from the key's `.pub` file (without the comment).
fn read_pub_line(key: &Path) -> Result<String> {
    let p = pub_path(key);
    let text = fs::read_to_string(&p).map_err(|e| io_fail(&p, &e))?;
    let fields: Vec<&str> = text.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        return Err(fail("ssh-keygen wrote a malformed public key").path(p.display().to_string()));
    }
    Ok(fields.join(" "))
}

fn current_user() -> String {
    if let Some(u) = ["USER", "LOGNAME"].iter().filter_map(|k| std::env::var(k).ok()).find(|v| !v.is_empty()) {
        return u;
    }
    Command::new("whoami")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn is_root() -> bool {
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
    l.local_addr().map(|a| a.port()).map_err(|e| fail(e.to_string()))
}

/// Where the root-owned links sshd chroots through live: `/run` is root's, 0755.
const CHROOT_LINKS: &str = "/run/skiff-sandbox";

/// A link `/run/skiff-sandbox/<hash of the state folder>` to `root`, with `root` made 0755
/// (ChrootDirectory refuses a folder group or others may write). Replaces an older link.
fn chroot_link(state_dir: &Path, root: &Path) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let links = Path::new(CHROOT_LINKS);
        fs::create_dir_all(links).map_err(|e| io_fail(links, &e))?;
        fs::set_permissions(links, fs::Permissions::from_mode(0o755)).map_err(|e| io_fail(links, &e))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).map_err(|e| io_fail(root, &e))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        state_dir.hash(&mut h);
        let link = links.join(format!("{:016x}", h.finish()));
        match fs::remove_file(&link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_fail(&link, &e)),
        }
        std::os::unix::fs::symlink(root, &link).map_err(|e| io_fail(&link, &e))?;
        Ok(link)
    }
    #[cfg(not(unix))]
    {
        let _ = (state_dir, root);
        Err(Error::new(ErrorKind::Unsupported, "start sandbox", "the sandbox needs OpenSSH's sshd on Linux or another Unix"))
    }
}

/// A value for sshd_config, quoted (paths may hold spaces).
fn quoted(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

/// The server's configuration. As root (`chroot` given) the session is chrooted into the
/// folder `chroot` leads to and `-d /` starts it there (root's home is outside).
fn sshd_config(port: u16, state: &Path, host_key: &Path, authorized_keys: &Path, user: &str, chroot: Option<&Path>) -> String {
    // AuthorizedKeysFile expands % tokens.
    let ak = authorized_keys.display().to_string().replace('%', "%%");
    let mut c = format!(
        "# Skiff's sandbox: SFTP only, on 127.0.0.1, for one user with one key.\n\
         Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {hk}\n\
         PidFile {pid}\n\
         AuthorizedKeysFile \"{ak}\"\n\
         AllowUsers {user}\n\
         StrictModes no\n\
         UsePAM no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitEmptyPasswords no\n\
         DisableForwarding yes\n\
         PermitTTY no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         LogLevel INFO\n\
         MaxStartups 100\n\
         MaxSessions 64\n\
         Subsystem sftp internal-sftp\n",
        hk = quoted(host_key),
        pid = quoted(&state.join("sshd.pid")),
    );
    match chroot {
        Some(dir) => c.push_str(&format!(
            "ChrootDirectory {}\nForceCommand internal-sftp -d /\nPermitRootLogin prohibit-password\n",
            quoted(dir).replace('%', "%%")
        )),
        None => c.push_str("ForceCommand internal-sftp\nPermitRootLogin no\n"),
    }
    c
}

/// Wait until the port answers with an SSH banner, the child exits, or the timeout passes.
fn wait_ready(child: &mut Child, port: u16, log: &Path) -> Result<()> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + START_TIMEOUT;
    let log_tail = || {
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(fail(format!("sshd exited at once ({status}): {}", log_tail()))
                .path(log.display().to_string())
                .hint("see the sandbox log named here"));
        }
        match banner(addr) {
            Ok(b) if b.starts_with("SSH-2.0-") => return Ok(()),
            Ok(b) => {
                return Err(fail(format!("127.0.0.1:{port} answered {b:?}, not an SSH banner"))
                    .hint("another program took the port; try again"))
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => {
                return Err(fail(format!("sshd did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?} ({e}): {}", log_tail()))
                    .path(log.display().to_string())
                    .hint("see the sandbox log named here"))
            }
        }
    }
}

fn banner(addr: SocketAddr) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.contains(&b'\n') && got.len() < 255 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&got).trim().to_string())
}

/// An sshd this state folder started earlier whose app died without stopping it: stop it,
/// but only when `/proc` shows it is sshd running *this* folder's config.
fn stop_stale_server(state: &Path, config: &Path) {
    let Ok(pid) = fs::read_to_string(state.join("sshd.pid")) else { return };
    let Ok(pid) = pid.trim().parse::<i32>() else { return };
    if pid <= 1 {
        return;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return };
    // sshd rewrites its command line ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] …"),
    // so look for the pieces rather than exact arguments.
    let contains = |needle: &[u8]| !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle);
    let ours = contains(b"sshd") && contains(config.as_os_str().as_encoded_bytes());
    if ours {
        tracing::info!(pid, "stopping a sandbox sshd left over from an earlier run");
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
    fn samples_are_created_once_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("files");
        make_samples(&root).unwrap();
        assert!(root.join("README.txt").is_file());
        assert_eq!(fs::metadata(root.join("photos/photo-2.bin")).unwrap().len(), 96 * 1024);
        assert!(root.join("docs/notes.md").is_file());
        fs::write(root.join("README.txt"), "mine").unwrap();
        make_samples(&root).unwrap();
        assert_eq!(fs::read_to_string(root.join("README.txt")).unwrap(), "mine");
    }

    /// Set for the helper run of [`helper_holds_a_sandbox`]: the folder it works in.
    const HELPER_ENV: &str = "SKIFF_SANDBOX_DEATH_HELPER";

    /// Only does something when [`sshd_dies_with_a_killed_app`] runs this test binary as its
    /// "app": starts a sandbox from a thread that ends at once (as tokio's blocking threads
    /// do), writes the server's pid, and waits to be killed.
    #[test]
    fn helper_holds_a_sandbox() {
        let Some(dir) = std::env::var_os(HELPER_ENV).map(PathBuf::from) else { return };
        let state = dir.join("state");
        let sandbox = std::thread::spawn(move || Sandbox::start(&state)).join().unwrap().unwrap();
        fs::write(dir.join("pid.tmp"), sandbox.pid().unwrap().to_string()).unwrap();
        fs::rename(dir.join("pid.tmp"), dir.join("pid")).unwrap();
        std::thread::sleep(Duration::from_secs(120));
        drop(sandbox);
    }

    /// Whether `pid` runs (a zombie nobody reaped yet counts as gone).
    fn alive(pid: u32) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => false,
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sshd_dies_with_a_killed_app() {
        assert!(Path::new(SSHD).exists(), "{SSHD} is not installed: install it (apt-get install openssh-server, or `make deps`)");
        let tmp = tempfile::tempdir().unwrap();
        let mut app = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sandbox::tests::helper_holds_a_sandbox", "--nocapture", "--test-threads=1"])
            .env(HELPER_ENV, tmp.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid: u32 = loop {
            if let Ok(text) = fs::read_to_string(tmp.path().join("pid")) {
                break text.trim().parse().unwrap();
            }
            assert!(app.try_wait().unwrap().is_none(), "the helper exited before starting the sandbox");
            assert!(Instant::now() < deadline, "the helper did not start the sandbox within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        // The thread that started it has ended; the server runs on.
        std::thread::sleep(Duration::from_millis(300));
        assert!(alive(pid), "sshd {pid} died with the thread that started it");
        app.kill().unwrap(); // SIGKILL: no destructor runs
        app.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) {
            assert!(Instant::now() < deadline, "sshd {pid} outlived its killed app by 5 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn config_quotes_paths_and_chroots() {
        let c = sshd_config(2222, Path::new("/s p"), Path::new("/s p/hk"), Path::new("/s p/a%k"), "bob", Some(Path::new("/run/skiff-sandbox/ab")));
        assert!(c.contains("HostKey \"/s p/hk\""), "{c}");
        assert!(c.contains("AuthorizedKeysFile \"/s p/a%%k\""), "{c}");
        assert!(c.contains("PermitRootLogin prohibit-password"));
        assert!(c.contains("ChrootDirectory \"/run/skiff-sandbox/ab\""), "{c}");
        assert!(c.contains("ForceCommand internal-sftp -d /\n"), "{c}");
        let plain = sshd_config(1, Path::new("/"), Path::new("/h"), Path::new("/a"), "bob", None);
        assert!(plain.contains("PermitRootLogin no") && !plain.contains("Chroot"), "{plain}");
    }
}
