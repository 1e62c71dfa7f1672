//! Live remote sessions for browsing: one SSH connection and one SFTP session per connected
//! server, by session id, plus how to reach a server again (to reconnect once when a pane's
//! request finds the connection dropped, and to let queued jobs find the saved host).
//!
//! Owns: parsing quick-connect addresses, logging in (with the window as prompter), the session table, and each
//! session's watcher (which notices a connection that drops while idle and reconnects in the
//! background with backoff). Transfers never run here: they open their own connections
//! through the scheduler.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_engine::sftp::{InFlightBudget, SftpSession};
use skiff_engine::engine::Reach;
use skiff_engine::ssh::{ConnectOptions, Connection};
use skiff_engine::{Error, ErrorKind, Result};

use crate::errors::AppResult;
use crate::events::EventHub;
use crate::ipc::{AppError, ConnectionState, SessionInfo, UiEvent};
use crate::prompter::{GuiPrompter, LoginFor, Mode, PromptContext};

/// Bytes of SFTP requests a browsing session keeps in flight.
const BROWSE_BUDGET: u32 = 16 * 1024 * 1024;

/// How often a session's watcher looks whether its connection is still there.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The waits before each background reconnect attempt: the first at once, then backing off.
/// After the last one fails the session is given up (Disconnected, with what to do).
const RECONNECT_DELAYS: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// A quick-connect address: `[user@]host[:port]`, `[user@][v6addr][:port]`, optionally with
/// an `ssh://` or `sftp://` prefix (the engine's one parser, OpenSSH's rules).
pub type QuickAddress = skiff_engine::address::Address;

/// Parse a quick-connect address; the error says what is wrong with it.
pub fn parse_quick(address: &str) -> std::result::Result<QuickAddress, String> {
    QuickAddress::parse(address).map_err(|e| e.to_string())
}

/// Who logs in where, for the prompter: `opts`' account is the target's.
pub fn login_for(reach: &Reach, opts: &ConnectOptions) -> LoginFor {
    LoginFor {
        target: opts.account(),
        saved: reach.profile_id().is_some(),
    }
}

/// A prompter for logging in to `reach` (resolving it once with a placeholder prompter to
/// learn the target's account), and the options that use it.
pub fn login_options(
    ctx: &PromptContext,
    reach: &Reach,
    mode: Mode,
) -> Result<(ConnectOptions, Arc<GuiPrompter>)> {
    let probe = reach.connect_options(Arc::new(skiff_engine::ssh::NoPrompter))?;
    let login = login_for(reach, &probe);
    let prompter = GuiPrompter::new(ctx.clone(), mode, login);
    let opts = ConnectOptions {
        prompter: prompter.clone(),
        ..probe
    };
    Ok((opts, prompter))
}

/// Connect and start SFTP; on success, the secrets that logged in are kept in memory for this
/// run (for reconnects and jobs) and, when the person asked for it, in the keyring — each
/// under the account (target or ProxyJump host) it logged in to.
pub async fn log_in(
    ctx: &PromptContext,
    reach: &Reach,
    mode: Mode,
) -> Result<(Connection, SftpSession, String)> {
    let (opts, prompter) = login_options(ctx, reach, mode)?;
    let label = opts.label();
    let conn = Connection::connect(&opts).await?;
    let sftp = conn.open_sftp(InFlightBudget::new(BROWSE_BUDGET)).await?;
    for (account, kind, s) in prompter.given() {
        ctx.known.set(&account, kind, s);
    }
    if reach.profile_id().is_some() {
        for t in prompter.typed().into_iter().filter(|t| t.remember) {
            let secrets = ctx.secrets.clone();
            match tokio::task::spawn_blocking(move || secrets.set(&t.account, t.kind, &t.value)).await {
                Ok(Ok(())) => {}
                // The login worked; only remembering failed. Say so in the log, not as a failure.
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("keyring: {e}"),
            }
        }
    }
    Ok((conn, sftp, label))
}

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
    pub info: SessionInfo,
    pub reach: Reach,
    live: tokio::sync::Mutex<Live>,
    /// Set when the person closes the session or reconnecting gave up: the watcher stops, a
    /// background reconnect in progress is abandoned, and no request reconnects any more.
    ended: tokio::sync::watch::Sender<bool>,
}

impl Session {
    /// The current SFTP session and its generation.
    async fn current(&self) -> (SftpSession, u64) {
        let live = self.live.lock().await;
        (live.sftp.clone(), live.generation)
    }

    /// The current SFTP session (tests drop it to see a reconnect).
    #[cfg(test)]
    pub async fn current_sftp(&self) -> SftpSession {
        self.current().await.0
    }

    /// Whether the watcher still runs (tests see it stop).
    #[cfg(test)]
    pub fn ended(&self) -> bool {
        *self.ended.borrow()
    }

    fn event(&self, state: ConnectionState, error: Option<AppError>) -> UiEvent {
        connection_event(&self.info.session_id, &self.info.label, state, error)
    }

    /// Why a request cannot run on a session that was closed or given up.
    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::Network,
            "reconnect",
            format!("the connection to {} was lost", self.info.label),
        )
        .hint("check the server, then press Reconnect")
    }

    /// Log in again, unless another request (or the watcher) already did since generation
    /// `seen`.
    async fn reconnect(&self, ctx: &PromptContext, seen: u64) -> Result<SftpSession> {
        let mut live = self.live.lock().await;
        if live.generation != seen && !live.sftp.is_dead() {
            return Ok(live.sftp.clone());
        }
        if *self.ended.borrow() {
            return Err(self.gone());
        }
        ctx.hub
            .emit(self.event(ConnectionState::Reconnecting, None));
        live.sftp.close();
        match log_in(ctx, &self.reach, Mode::Reuse).await {
            Ok((conn, sftp, _)) => {
                live.replace(conn, sftp.clone()).await;
                drop(live);
                ctx.hub.emit(self.event(ConnectionState::Connected, None));
                Ok(sftp)
            }
            Err(e) => {
                ctx.hub
                    .emit(self.event(ConnectionState::Disconnected, Some(e.clone().into())));
                // The window lets the session go on Disconnected: so does the watcher.
                self.ended.send_replace(true);
                Err(e)
            }
        }
    }

    /// Watch the connection while the session lives: once a second, look whether it dropped
    /// (the SSH connection closed, or the SFTP session died) and, if so, reconnect in the
    /// background. Stops when the session is closed, given up, or dropped.
    fn watch(self: &Arc<Self>, ctx: PromptContext) {
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
                if !session.check(&ctx).await {
                    return;
                }
            }
        });
    }

    /// One look by the watcher; false once it should stop.
    async fn check(&self, ctx: &PromptContext) -> bool {
        // Held by a request's own reconnect: that one is enough; look again later.
        let Ok(mut live) = self.live.try_lock() else {
            return true;
        };
        if *self.ended.borrow() {
            return false;
        }
        if !live.dropped() {
            return true;
        }
        self.reconnect_with_backoff(ctx, &mut live).await
    }

    /// Reconnect after the connection dropped while idle: Reconnecting at once, then tries
    /// with growing waits, holding the session (requests wait for the outcome instead of
    /// reconnecting themselves). Connected on success; Disconnected, with what to do, when
    /// every try failed or one failed for a reason retrying cannot fix (a refused login, a
    /// changed host key, a cancelled question). Abandoned without a word when the session
    /// is closed meanwhile.
    async fn reconnect_with_backoff(&self, ctx: &PromptContext, live: &mut Live) -> bool {
        let label = &self.info.label;
        tracing::info!("the connection to {label} dropped; reconnecting");
        ctx.hub
            .emit(self.event(ConnectionState::Reconnecting, None));
        live.sftp.close();
        let mut ended = self.ended.subscribe();
        let mut tries = 0;
        let mut last = None;
        for delay in RECONNECT_DELAYS {
            let attempt = async {
                tokio::time::sleep(delay).await;
                log_in(ctx, &self.reach, Mode::Reuse).await
            };
            let result = tokio::select! {
                _ = ended.wait_for(|e| *e) => return false,
                r = attempt => r,
            };
            tries += 1;
            match result {
                Ok((conn, sftp, _)) => {
                    live.replace(conn, sftp).await;
                    ctx.hub.emit(self.event(ConnectionState::Connected, None));
                    return true;
                }
                Err(e) => {
                    tracing::info!("reconnecting to {label} (try {tries}): {e}");
                    let again = e.kind == ErrorKind::Network;
                    last = Some(e);
                    if !again {
                        break;
                    }
                }
            }
        }
        let e = last.expect("at least one try");
        let retried = if tries > 1 {
            format!(" after {tries} tries")
        } else {
            String::new()
        };
        let error = AppError::new(
            crate::errors::code_of(e.kind),
            format!(
                "Lost the connection to {label} and could not reconnect{retried}: {e}. \
                 Check the server, then press Reconnect."
            ),
        );
        ctx.hub
            .emit(self.event(ConnectionState::Disconnected, Some(error)));
        self.ended.send_replace(true);
        false
    }

    /// Run `op` on the session; when the connection turns out to be dropped (before `op`, or
    /// a network error from it while `retry_ok()` still allows it), reconnect once and run
    /// it again.
    pub async fn with_sftp<T, F, Fut>(
        &self,
        ctx: &PromptContext,
        mut op: F,
        retry_ok: impl Fn() -> bool,
    ) -> Result<T>
    where
        F: FnMut(SftpSession) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (mut sftp, generation) = self.current().await;
        let mut reconnected = false;
        if sftp.is_dead() {
            sftp = self.reconnect(ctx, generation).await?;
            reconnected = true;
        }
        match op(sftp.clone()).await {
            Err(e)
                if !reconnected
                    && (e.kind == ErrorKind::Network || sftp.is_dead())
                    && retry_ok() =>
            {
                let fresh = self.reconnect(ctx, generation).await?;
                op(fresh).await
            }
            other => other,
        }
    }

    /// Close the session: the watcher stops (abandoning a background reconnect), then the
    /// connection is closed.
    pub async fn close(&self) {
        self.ended.send_replace(true);
        let live = self.live.lock().await;
        live.sftp.close();
        live.conn.disconnect().await;
    }
}

/// The session table.
#[derive(Default)]
pub struct Sessions {
    next: AtomicU64,
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// A new session id (`s1`, `s2`, …), for the events of a connection still being made.
    pub fn reserve_id(&self) -> String {
        format!("s{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Add a logged-in session and start its watcher (which reconnects through `ctx`).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        ctx: &PromptContext,
        id: String,
        conn: Connection,
        sftp: SftpSession,
        reach: Reach,
        label: String,
        start_path: String,
    ) -> SessionInfo {
        let info = SessionInfo {
            session_id: id.clone(),
            label,
            profile_id: reach.profile_id().map(str::to_string),
            start_path,
        };
        let session = Arc::new(Session {
            info: info.clone(),
            reach,
            live: tokio::sync::Mutex::new(Live {
                conn: Arc::new(conn),
                sftp,
                generation: 0,
            }),
            ended: tokio::sync::watch::Sender::new(false),
        });
        session.watch(ctx.clone());
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, session);
        info
    }

    pub fn get(&self, id: &str) -> AppResult<Arc<Session>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::no_session(id))
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }
}

/// A session event for sessions not in the table yet (connecting, failed).
pub fn connection_event(
    session_id: &str,
    label: &str,
    state: ConnectionState,
    error: Option<AppError>,
) -> UiEvent {
    UiEvent::Connection {
        session_id: session_id.to_string(),
        label: label.to_string(),
        state,
        error,
    }
}

/// Tell the window a session's state (used by `connect` and `disconnect`).
pub fn emit_state(
    hub: &EventHub,
    info: &SessionInfo,
    state: ConnectionState,
    error: Option<AppError>,
) {
    hub.emit(connection_event(
        &info.session_id,
        &info.label,
        state,
        error,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(user: Option<&str>, host: &str, port: Option<u16>) -> QuickAddress {
        QuickAddress {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn quick_addresses_parse() {
        assert_eq!(
            parse_quick("example.com").unwrap(),
            q(None, "example.com", None)
        );
        assert_eq!(
            parse_quick(" bob@example.com ").unwrap(),
            q(Some("bob"), "example.com", None)
        );
        assert_eq!(
            parse_quick("bob@example.com:2222").unwrap(),
            q(Some("bob"), "example.com", Some(2222))
        );
        assert_eq!(parse_quick("alias:22").unwrap(), q(None, "alias", Some(22)));
        assert_eq!(
            parse_quick("[::1]:2222").unwrap(),
            q(None, "::1", Some(2222))
        );
        assert_eq!(
            parse_quick("u@[fe80::1]").unwrap(),
            q(Some("u"), "fe80::1", None)
        );
        assert_eq!(parse_quick("::1").unwrap(), q(None, "::1", None));
        assert_eq!(
            parse_quick("sftp://u@h:23/").unwrap(),
            q(Some("u"), "h", Some(23))
        );
        assert_eq!(parse_quick("ssh://h").unwrap(), q(None, "h", None));
        // A user name with '@' in it (an e-mail address) keeps everything before the last '@'.
        assert_eq!(
            parse_quick("a@b.c@host").unwrap(),
            q(Some("a@b.c"), "host", None)
        );
    }

    #[test]
    fn bad_quick_addresses_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("   ", "empty"),
            ("@host", "empty user"),
            ("u@", "no host"),
            ("host:", "port"),
            ("host:0", "port"),
            ("host:70000", "port"),
            ("host:ssh", "port"),
            ("a b", "spaces"),
            ("[::1", "closing"),
            ("[::1]x", "':port'"),
            ("-oProxyCommand=x", "not a host"),
        ] {
            let e = parse_quick(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
