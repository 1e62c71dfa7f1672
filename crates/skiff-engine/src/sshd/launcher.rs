//! The thread that forks a private sshd, so that the server dies with this process.
//!
//! On Linux the server is started with `PR_SET_PDEATHSIG`, so it also dies when its owner is
//! killed outright (SIGKILL, a crash). That signal follows the *thread* that forked, not the
//! process, so the server is always spawned from a [`Launcher`]'s own thread, which lives
//! exactly as long as the [`super::Sshd`] that owns it (callers start servers from tokio's
//! blocking threads or test threads, which end and would take the server with them).

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::{Error, ErrorKind, Result};

/// A spawn request: the command, and where its child goes.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns what it is sent, then waits, parked on its channel, until it is dropped.
pub(super) struct Launcher {
    tx: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Launcher {
    pub(super) fn new() -> Result<Launcher> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new()
            .name("skiff-sshd".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map_err(|e| {
                Error::new(ErrorKind::LocalIo, "start sshd", format!("cannot start the sshd launcher thread: {e}"))
                    .hint("the system is out of threads or memory; close something and try again")
            })?;
        Ok(Launcher { tx: Some(tx), thread: Some(thread) })
    }

    /// Spawn `cmd` from the launcher thread, set to die with this process.
    pub(super) fn spawn(&self, mut cmd: Command) -> io::Result<Child> {
        die_with_parent(&mut cmd);
        let (reply_tx, reply_rx) = mpsc::channel();
        let gone = || io::Error::other("the sshd launcher thread has stopped");
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

/// Elsewhere a killed owner leaves the server running; the next start from the same folder
/// stops it (`stop_stale_server`).
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}
