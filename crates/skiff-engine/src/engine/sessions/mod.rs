//! Browsing sessions: one SSH connection and one SFTP session per connected server, by
//! session id, supervised while they live. Transfers never run here: they open their own
//! connections through the scheduler.
//!
//! Owns the session table ([`Sessions`]), connecting a session for a [`Reach`] through the
//! engine's [`Connector`] (so ssh_config is resolved in the engine, and the front end's
//! prompter comes from its [`Logins`](super::Logins)), and telling the front end each state
//! change as a typed [`SessionEvent`].
//!
//! # Layout
//! - [`login`]: one login of a session ([`Attempt`], [`SessionLogin`]): connect, start SFTP,
//!   and let the front end keep what logged in.
//! - [`session`]: [`Session`], one connected server: requests that reconnect once when they
//!   find the connection dropped ([`Session::with_sftp`]), its watcher, and closing it.
//! - [`backoff`]: reconnecting in the background after a drop: the waits
//!   ([`backoff::SESSION_RETRY`]), which failures are worth another try, and the error
//!   that gives up.

pub mod backoff;
pub mod login;
pub mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{Connector, Reach};
use crate::error::{Error, Result};
use crate::sftp::SftpSession;

pub use login::{Attempt, SessionLogin};
pub use session::Session;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a session stands, as a front end shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Logging in for the first time.
    Connecting,
    Connected,
    /// The connection dropped; logging in again.
    Reconnecting,
    /// Closed by the person (no error), or lost for good (with what went wrong and what to
    /// do): the session is out of use.
    Disconnected,
}

/// A session changed state.
#[derive(Debug, Clone)]
pub struct SessionEvent {
    /// The session's id (`s1`, `s2`, …); told already while the first login is under way.
    pub id: String,
    /// The account it logs in to, `user@host:port`.
    pub label: String,
    pub state: SessionState,
    /// Why a session is [`SessionState::Disconnected`] when it did not end by being closed.
    pub error: Option<Error>,
}

/// The front ends listening for [`SessionEvent`]s; one that went away is let go.
#[derive(Default)]
pub(crate) struct Listeners(Mutex<Vec<mpsc::UnboundedSender<SessionEvent>>>);

impl Listeners {
    fn subscribe(&self) -> mpsc::UnboundedReceiver<SessionEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.0).push(tx);
        rx
    }

    pub(crate) fn tell(&self, id: &str, label: &str, state: SessionState, error: Option<Error>) {
        let event = SessionEvent { id: id.to_string(), label: label.to_string(), state, error };
        lock(&self.0).retain(|l| l.send(event.clone()).is_ok());
    }
}

/// What every session shares: how to log in again, and who hears about it.
pub(crate) struct Shared {
    pub(crate) connector: Arc<Connector>,
    pub(crate) listeners: Listeners,
}

/// The session table. Cheap to clone; every clone is the same table.
#[derive(Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
    table: Arc<Table>,
}

#[derive(Default)]
struct Table {
    next: AtomicU64,
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// An empty table whose sessions log in through `connector`.
    pub fn new(connector: Arc<Connector>) -> Sessions {
        Sessions {
            shared: Arc::new(Shared { connector, listeners: Listeners::default() }),
            table: Arc::new(Table::default()),
        }
    }

    /// Every [`SessionEvent`] from now on, in order, until the receiver is dropped.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SessionEvent> {
        self.shared.listeners.subscribe()
    }

    /// Connect to `reach`: log in (asking the front end what it must), start SFTP, find the
    /// start folder (a saved host's, resolved; else the login folder) and start the
    /// session's watcher. Told as Connecting, then Connected or Disconnected with the error.
    pub async fn connect(&self, reach: &Reach) -> Result<Arc<Session>> {
        let id = format!("s{}", self.table.next.fetch_add(1, Ordering::Relaxed) + 1);
        let (opts, login) = self.shared.connector.session_options(reach, Attempt::Connect)?;
        let label = opts.label();
        let listeners = &self.shared.listeners;
        listeners.tell(&id, &label, SessionState::Connecting, None);
        let logged_in = async {
            let (conn, sftp) = login::log_in(&opts, login).await?;
            let start = start_folder(&sftp, reach).await?;
            Ok::<_, Error>((conn, sftp, start))
        };
        match logged_in.await {
            Ok((conn, sftp, start)) => {
                let session = Session::start(self.shared.clone(), id.clone(), label.clone(), reach.clone(), start, conn, sftp);
                lock(&self.table.map).insert(id.clone(), session.clone());
                listeners.tell(&id, &label, SessionState::Connected, None);
                Ok(session)
            }
            Err(e) => {
                listeners.tell(&id, &label, SessionState::Disconnected, Some(e.clone()));
                Err(e)
            }
        }
    }

    /// The connected session `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.table.map).get(id).cloned()
    }

    /// Close session `id` (see [`Session::close`]) and take it out of the table, told as
    /// Disconnected without an error. False when there is no such session.
    pub async fn close(&self, id: &str) -> bool {
        let Some(session) = lock(&self.table.map).remove(id) else {
            return false;
        };
        session.close().await;
        self.shared.listeners.tell(session.id(), session.label(), SessionState::Disconnected, None);
        true
    }
}

/// Where a new session's listing starts: the saved host's start folder, resolved (`~`-free,
/// links followed); the login folder when it is unset or gone.
async fn start_folder(sftp: &SftpSession, reach: &Reach) -> Result<String> {
    let wanted = match reach {
        Reach::Profile(p) => p.remote_start.clone().filter(|w| !w.is_empty()),
        Reach::Address(_) => None,
    };
    if let Some(w) = wanted {
        match sftp.realpath(&w).await {
            Ok(p) => return Ok(p),
            Err(e) => tracing::warn!("{e}; starting in the login folder"),
        }
    }
    sftp.realpath(".").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listener_hears_each_change_and_a_gone_one_is_let_go() {
        let listeners = Listeners::default();
        let mut a = listeners.subscribe();
        let b = listeners.subscribe();
        drop(b);
        listeners.tell("s1", "u@h:22", SessionState::Connecting, None);
        listeners.tell("s1", "u@h:22", SessionState::Disconnected, Some(Error::network("connect", "refused")));
        assert_eq!(lock(&listeners.0).len(), 1, "the dropped receiver is let go");
        let first = a.try_recv().unwrap();
        assert_eq!((first.id.as_str(), first.label.as_str(), first.state), ("s1", "u@h:22", SessionState::Connecting));
        assert!(first.error.is_none());
        let second = a.try_recv().unwrap();
        assert_eq!(second.state, SessionState::Disconnected);
        assert_eq!(second.error.unwrap().detail, "refused");
        assert!(a.try_recv().is_err());
    }
}
