//! A throwaway local SFTP server for newcomers: "try Skiff without a server".
//!
//! [`Sandbox::start`] runs OpenSSH's own `sshd` (from the system, never one of ours) through
//! [`crate::sshd`] on a free 127.0.0.1 port, with a fresh host key and user key in a state
//! folder the caller chooses, SFTP only (`ForceCommand internal-sftp`, no forwarding, public
//! key only, one allowed user), serving a folder of sample files. The `known_hosts` with the
//! host key written beside them means connecting asks no question; [`Sandbox::profile`] is the
//! saved-host form.
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
//! This module owns the sample files, the chroot link and the sandbox's settings; starting,
//! stopping and the server dying with the app (also when the app is killed outright) are
//! [`crate::sshd`]'s. The sample files in `files/` are only created when missing, so what a
//! person put there survives a restart.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::sshd::{self, Sshd, SshdOptions};
use crate::store::profiles::{AuthKind, Profile};

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
    server: Sshd,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("port", &self.port)
            .field("root", &self.root)
            .field("user", &self.user)
            .field("running", &self.server.pid().is_some())
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
    /// (created). Returns once the port answers with an SSH banner (at most 10 s), or an
    /// error saying what failed.
    pub fn start(state_dir: &Path) -> Result<Sandbox> {
        create_private_dir(state_dir)?;
        let state_dir = fs::canonicalize(state_dir).map_err(|e| io_fail(state_dir, &e))?;
        let root = state_dir.join("files");
        make_samples(&root)?;

        let user = current_user();
        if user.is_empty() {
            return Err(fail("cannot tell the current user's name").hint("set the USER environment variable"));
        }
        let chroot_link = if sshd::running_as_root() {
            Some(chroot_link(&state_dir, &root)?)
        } else {
            tracing::warn!(root = %root.display(), "the sandbox is not root: its SFTP server cannot be chrooted and reaches every file this user can");
            None
        };
        let remote_root = match chroot_link {
            Some(_) => "/".to_string(),
            None => root.display().to_string(),
        };
        let opts = SshdOptions { settings: sandbox_settings(&user, chroot_link.as_deref()), ..SshdOptions::default() };
        let server = match Sshd::start(&state_dir, &opts) {
            Ok(server) => server,
            Err(e) => {
                if let Some(link) = &chroot_link {
                    let _ = fs::remove_file(link);
                }
                return Err(e.op("start sandbox"));
            }
        };
        tracing::info!(port = server.port, root = %root.display(), "sandbox started");
        Ok(Sandbox {
            port: server.port,
            root,
            remote_root,
            chroot_link,
            user,
            key_path: server.user_key.clone(),
            known_hosts: server.known_hosts.clone(),
            server,
        })
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
        &self.server.dir
    }

    /// What the server logged (for an error report).
    pub fn log_contents(&self) -> String {
        self.server.log_contents()
    }

    /// The server's process id, while it has not been stopped.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// Stop the server (kill and reap it). Sessions already open end with their connections.
    /// Calling it again does nothing.
    pub fn stop(&mut self) {
        self.server.stop();
        if let Some(link) = self.chroot_link.take() {
            let _ = fs::remove_file(link);
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

/// The sandbox's own sshd settings (before [`crate::sshd`]'s common ones, so they win): one
/// user, SFTP only, no forwarding or terminal. As root (`chroot` given) the session is
/// chrooted into the folder `chroot` leads to and `-d /` starts it there (root's home is
/// outside).
fn sandbox_settings(user: &str, chroot: Option<&Path>) -> Vec<String> {
    let mut settings: Vec<String> =
        [format!("AllowUsers {user}"), "DisableForwarding yes".into(), "PermitTTY no".into(), "LogLevel INFO".into()].into();
    match chroot {
        Some(dir) => settings.extend([
            format!("ChrootDirectory {}", sshd::config::quoted(dir).replace('%', "%%")),
            "ForceCommand internal-sftp -d /".into(),
            "PermitRootLogin prohibit-password".into(),
        ]),
        None => settings.extend(["ForceCommand internal-sftp".into(), "PermitRootLogin no".into()]),
    }
    settings
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::sshd::SSHD;

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
    fn settings_confine_and_chroot() {
        let c = sandbox_settings("bob", Some(Path::new("/run/skiff-sandbox/a%b"))).join("\n");
        assert!(c.contains("AllowUsers bob\n"), "{c}");
        assert!(c.contains("PermitRootLogin prohibit-password"), "{c}");
        assert!(c.contains("ChrootDirectory \"/run/skiff-sandbox/a%%b\"\n"), "{c}");
        assert!(c.contains("ForceCommand internal-sftp -d /\n"), "{c}");
        let plain = sandbox_settings("bob", None).join("\n");
        assert!(plain.contains("PermitRootLogin no") && plain.contains("ForceCommand internal-sftp") && !plain.contains("Chroot"), "{plain}");
    }
}
