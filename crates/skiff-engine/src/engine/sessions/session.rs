//! One connected server: its connection and SFTP session, which requests use and which are
//! replaced when the connection drops. A request that finds it dropped reconnects once
//! ([`Session::with_sftp`]); while idle, the session's watcher looks once a second
//! ([`WATCH_EVERY`]) and reconnects in the background with backoff (see [`super::backoff`]).
//! Closing the session, or reconnecting giving up, ends it: the watcher stops and no request
//! reconnects any more.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::backoff::{self, Outcome};
use super::login::{self, Attempt};
use super::{SessionState, Shared};
use crate::engine::Reach;
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::SftpSession;
use crate::ssh::Connection;

/// How often a session's watcher looks whether its connection is still there.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

struct Live {
    conn: Arc<Connection>,
    sftp: SftpSession,
    /// Counts reconnects, so a request that saw a dead session does not replace a fresh one.
    generation: u64,
}

impl Live {
    /// Put a fresh login in place; the old connection is let go.
    async fn replace(&mut self, conn: Connection, sftp: SftpSession) {
        let old = std::mem::replace(&mut self.conn, Arc::new(conn));
        self.sftp = sftp;
        self.generation += 1;
        old.disconnect().await;
    }

    /// The connection or its SFTP session is gone.
    fn dropped(&self) -> bool {
        self.conn.is_closed() || self.sftp.is_dead()
    }
}

/// One connected server.
pub struct Session {
    shared: Arc<Shared>,
    id: String,
    label: String,
    reach: Reach,
    start_path: String,
    live: tokio::sync::Mutex<Live>,
    /// Set when the session is closed or reconnecting gave up: the watcher stops, a
    /// background reconnect in progress is abandoned, and no request reconnects any more.
    ended: watch::Sender<bool>,
}

impl Session {
    /// A logged-in session, its watcher started.
    pub(super) fn start(shared: Arc<Shared>, id: String, label: String, reach: Reach, start_path: String, conn: Connection, sftp: SftpSession) -> Arc<Session> {
        let session = Arc::new(Session {
            shared,
            id,
            label,
            reach,
            start_path,
            live: tokio::sync::Mutex::new(Live { conn: Arc::new(conn), sftp, generation: 0 }),
            ended: watch::Sender::new(false),
        });
        session.watch();
        session
    }

    /// The session's id (`s1`, `s2`, …).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The account it is logged in to, `user@host:port`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How it reaches its server (jobs queued from it go the same way).
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// The folder its listing starts in (resolved on the server).
    pub fn start_path(&self) -> &str {
        &self.start_path
    }

    /// The SFTP session in use now.
    pub async fn current_sftp(&self) -> SftpSession {
        self.live.lock().await.sftp.clone()
    }

    /// Closed, or given up after the connection was lost: no request reconnects any more.
    pub fn is_ended(&self) -> bool {
        *self.ended.borrow()
    }

    fn tell(&self, state: SessionState, error: Option<Error>) {
        self.shared.listeners.tell(&self.id, &self.label, state, error);
    }

    /// Why a request cannot run on a session that was closed or given up.
    fn gone(&self) -> Error {
        Error::new(ErrorKind::Network, "use the connection", "it was closed or lost")
            .host(self.label.clone())
            .hint("check that the server is up and reachable, then reconnect")
    }

    /// Log in again with the same settings.
    async fn log_in_again(&self) -> Result<(Connection, SftpSession)> {
        let (opts, login) = self.shared.connector.session_options(&self.reach, Attempt::Reconnect)?;
        login::log_in(&opts, login).await
    }

    /// Log in again, unless another request (or the watcher) already did since generation
    /// `seen`. Told as Reconnecting, then Connected, or Disconnected with the error (which
    /// ends the session).
    async fn reconnect(&self, seen: u64) -> Result<SftpSession> {
        let mut live = self.live.lock().await;
        if live.generation != seen && !live.sftp.is_dead() {
            return Ok(live.sftp.clone());
        }
        if self.is_ended() {
            return Err(self.gone());
        }
        self.tell(SessionState::Reconnecting, None);
        live.sftp.close();
        match self.log_in_again().await {
            Ok((conn, sftp)) => {
                live.replace(conn, sftp.clone()).await;
                drop(live);
                self.tell(SessionState::Connected, None);
                Ok(sftp)
            }
            Err(e) => {
                self.tell(SessionState::Disconnected, Some(e.clone()));
                self.ended.send_replace(true);
                Err(e)
            }
        }
    }

    /// Run `op` on the session; when the connection turns out to be dropped (before `op`,
    /// or a network error from it while `retry_ok()` still allows it), reconnect once and
    /// run it again. `retry_ok` says whether running `op` twice is still harmless (a listing
    /// that already sent rows is not).
    pub async fn with_sftp<T, F, Fut>(&self, mut op: F, retry_ok: impl Fn() -> bool) -> Result<T>
    where
        F: FnMut(SftpSession) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (mut sftp, generation) = {
            let live = self.live.lock().await;
            (live.sftp.clone(), live.generation)
        };
        let mut reconnected = false;
        if sftp.is_dead() {
            sftp = self.reconnect(generation).await?;
            reconnected = true;
        }
        match op(sftp.clone()).await {
            Err(e) if !reconnected && (e.kind == ErrorKind::Network || sftp.is_dead()) && retry_ok() => {
                let fresh = self.reconnect(generation).await?;
                op(fresh).await
            }
            other => other,
        }
    }

    /// Watch the connection while the session lives: once a second, look whether it dropped
    /// (the SSH connection closed, or the SFTP session died) and, if so, reconnect in the
    /// background. Stops when the session ends or is dropped.
    fn watch(self: &Arc<Self>) {
        let session = Arc::downgrade(self);
        let mut ended = self.ended.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = ended.wait_for(|e| *e) => return,
                    _ = tokio::time::sleep(WATCH_EVERY) => {}
                }
                let Some(session) = session.upgrade() else {
                    return;
                };
                if !session.check().await {
                    return;
                }
            }
        });
    }

    /// One look by the watcher; false once it should stop.
    async fn check(&self) -> bool {
        // Held by a request's own reconnect: that one is enough; look again later.
        let Ok(mut live) = self.live.try_lock() else {
            return true;
        };
        if self.is_ended() {
            return false;
        }
        if !live.dropped() {
            return true;
        }
        self.reconnect_in_background(&mut live).await
    }

    /// Reconnect after the connection dropped while idle, holding the session (requests wait
    /// for the outcome instead of reconnecting themselves): Reconnecting at once, Connected
    /// on success, Disconnected with what to do when reconnecting gives up (which ends the
    /// session). Abandoned without a word when the session is closed meanwhile.
    async fn reconnect_in_background(&self, live: &mut Live) -> bool {
        tracing::info!("the connection to {} dropped; reconnecting", self.label);
        self.tell(SessionState::Reconnecting, None);
        live.sftp.close();
        let mut ended = self.ended.subscribe();
        match backoff::reconnect(&self.label, &mut ended, || self.log_in_again()).await {
            Outcome::Back((conn, sftp)) => {
                live.replace(conn, sftp).await;
                self.tell(SessionState::Connected, None);
                true
            }
            Outcome::GaveUp(e) => {
                self.tell(SessionState::Disconnected, Some(e));
                self.ended.send_replace(true);
                false
            }
            Outcome::Abandoned => false,
        }
    }

    /// Close the session: the watcher stops (abandoning a background reconnect), then the
    /// connection is closed. [`super::Sessions::close`] also takes it out of the table and
    /// tells the front end.
    pub(super) async fn close(&self) {
        self.ended.send_replace(true);
        let live = self.live.lock().await;
        live.sftp.close();
        live.conn.disconnect().await;
    }
}
