//! Live remote sessions for browsing: one SSH connection and one SFTP session per connected
//! server, by session id, plus how to reach a server again (to reconnect once when a pane's
//! request finds the connection dropped, and to let queued jobs find the saved host).
//!
//! Owns: parsing quick-connect addresses, turning a profile or an address into engine
//! [`ConnectOptions`], logging in (with the window as prompter), and the session table.
//! Transfers never run here: they open their own connections through the scheduler.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use skiff_engine::sftp::{InFlightBudget, SftpSession};
use skiff_engine::ssh::{ConnectOptions, Connection, Prompter, SshConfig};
use skiff_engine::store::profiles::{connect_options_for, Profile};
use skiff_engine::store::secrets::SecretKind;
use skiff_engine::store::JobSpec;
use skiff_engine::{Error, ErrorKind, Result};

use crate::errors::AppResult;
use crate::events::EventHub;
use crate::ipc::{AppError, ConnectionState, SessionInfo, UiEvent};
use crate::prompter::{GuiPrompter, LoginFor, Mode, PromptContext};

/// Bytes of SFTP requests a browsing session keeps in flight.
const BROWSE_BUDGET: u32 = 16 * 1024 * 1024;

/// A quick-connect address: `[user@]host[:port]`, `[user@][v6addr][:port]`, optionally with
/// an `ssh://` or `sftp://` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickAddress {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Parse a quick-connect address; the error says what is wrong with it.
pub fn parse_quick(address: &str) -> std::result::Result<QuickAddress, String> {
    let s = address.trim();
    let s = s
        .strip_prefix("ssh://")
        .or_else(|| s.strip_prefix("sftp://"))
        .unwrap_or(s);
    let s = s.strip_suffix('/').unwrap_or(s);
    if s.is_empty() {
        return Err("the address is empty; type [user@]host[:port]".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} holds spaces; type [user@]host[:port]"));
    }
    let (user, rest) = match s.rsplit_once('@') {
        Some(("", _)) => return Err(format!("{s:?} has an empty user name before '@'")),
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, s),
    };
    let bad_port = |p: &str| format!("{p:?} is not a port number (1–65535)");
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{s:?} lacks the closing ']' of the address"))?;
        match after {
            "" => (h, None),
            _ => {
                let p = after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{s:?}: expected ':port' after ']'"))?;
                (h, Some(p))
            }
        }
    } else if rest.matches(':').count() > 1 {
        // A bare IPv6 address: no port possible without brackets.
        (rest, None)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{s:?} has no host name"));
    }
    if host.starts_with('-') {
        return Err(format!("{host:?} is not a host name"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad_port(p)),
        },
    };
    Ok(QuickAddress {
        user,
        host: host.to_string(),
        port,
    })
}

/// The ssh_config file quick connections and jobs without a profile resolve through:
/// `$SKIFF_SSH_CONFIG` when set, else `~/.ssh/config`.
pub fn ssh_config_path() -> Option<PathBuf> {
    std::env::var_os("SKIFF_SSH_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn load_ssh_config(path: Option<&PathBuf>) -> Result<SshConfig> {
    match path {
        Some(p) => SshConfig::load(p),
        None => SshConfig::load_default(),
    }
    .map_err(|e| {
        Error::new(ErrorKind::Config, "read ssh config", e.to_string())
            .hint("fix the ssh_config file")
    })
}

/// How to reach a server again.
#[derive(Debug, Clone)]
pub enum Reach {
    Profile(Profile),
    Quick {
        address: QuickAddress,
        ssh_config: Option<PathBuf>,
    },
}

impl Reach {
    /// Connection settings, resolved through ssh_config (and the profile).
    pub fn options(&self, prompter: Arc<dyn Prompter>) -> Result<ConnectOptions> {
        match self {
            Reach::Profile(p) => connect_options_for(p, prompter),
            Reach::Quick {
                address,
                ssh_config,
            } => {
                let config = load_ssh_config(ssh_config.as_ref())?;
                let mut hc = config.resolve(&address.host);
                if let Some(u) = &address.user {
                    hc.user = u.clone();
                }
                if let Some(p) = address.port {
                    hc.port = p;
                }
                Ok(ConnectOptions::new(hc, prompter, Arc::new(config)))
            }
        }
    }

    pub fn profile_id(&self) -> Option<String> {
        match self {
            Reach::Profile(p) => Some(p.id.clone()),
            Reach::Quick { .. } => None,
        }
    }

    /// Who logs in where, for the prompter (`label` is the resolved `user@host:port`).
    pub fn login_for(&self, opts_user: &str, opts_host: &str, label: &str) -> LoginFor {
        LoginFor {
            profile_id: self.profile_id(),
            user: opts_user.to_string(),
            host: opts_host.to_string(),
            known_key: self.profile_id().unwrap_or_else(|| label.to_string()),
        }
    }

    /// A job's spec fields that lead back here: the profile's host, user and port (the
    /// runner finds the saved host by them), or the quick address as typed.
    pub fn fill_spec(&self, spec: &mut JobSpec) {
        match self {
            Reach::Profile(p) => {
                spec.host = p.host.clone();
                spec.user = Some(p.user.clone());
                spec.port = Some(p.port);
                spec.ssh_config = None;
            }
            Reach::Quick {
                address,
                ssh_config,
            } => {
                spec.host = address.host.clone();
                spec.user = address.user.clone();
                spec.port = address.port;
                spec.ssh_config = ssh_config.clone();
            }
        }
    }
}

/// A prompter for logging in to `reach` (resolving it once with a placeholder prompter to
/// learn the user, host and label it asks about), and the options that use it.
pub fn login_options(
    ctx: &PromptContext,
    reach: &Reach,
    mode: Mode,
) -> Result<(ConnectOptions, Arc<GuiPrompter>)> {
    let probe = reach.options(Arc::new(skiff_engine::ssh::NoPrompter))?;
    let login = reach.login_for(&probe.host.user, &probe.host.host_name, &probe.label());
    let prompter = GuiPrompter::new(ctx.clone(), mode, login);
    let opts = ConnectOptions {
        prompter: prompter.clone(),
        ..probe
    };
    Ok((opts, prompter))
}

/// Connect and start SFTP; on success, what the person typed is kept in memory for this
/// run (for reconnects and jobs) and, when they asked for it, in the keyring.
pub async fn log_in(
    ctx: &PromptContext,
    reach: &Reach,
    mode: Mode,
) -> Result<(Connection, SftpSession, String)> {
    let (opts, prompter) = login_options(ctx, reach, mode)?;
    let label = opts.label();
    let conn = Connection::connect(&opts).await?;
    let sftp = conn.open_sftp(InFlightBudget::new(BROWSE_BUDGET)).await?;
    let login = reach.login_for(&opts.host.user, &opts.host.host_name, &label);
    for kind in [SecretKind::Password, SecretKind::Passphrase] {
        if let Some(s) = prompter.given(kind) {
            ctx.known.set(&login.known_key, kind, s);
        }
    }
    if let Some(id) = login.profile_id {
        for t in prompter.typed().into_iter().filter(|t| t.remember) {
            let secrets = ctx.secrets.clone();
            let id = id.clone();
            match tokio::task::spawn_blocking(move || secrets.set(&id, t.kind, &t.value)).await {
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

/// One connected server.
pub struct Session {
    pub info: SessionInfo,
    pub reach: Reach,
    live: tokio::sync::Mutex<Live>,
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

    fn event(&self, state: ConnectionState, error: Option<AppError>) -> UiEvent {
        connection_event(&self.info.session_id, &self.info.label, state, error)
    }

    /// Log in again, unless another request already did since generation `seen`.
    async fn reconnect(&self, ctx: &PromptContext, seen: u64) -> Result<SftpSession> {
        let mut live = self.live.lock().await;
        if live.generation != seen && !live.sftp.is_dead() {
            return Ok(live.sftp.clone());
        }
        ctx.hub
            .emit(self.event(ConnectionState::Reconnecting, None));
        live.sftp.close();
        match log_in(ctx, &self.reach, Mode::Reuse).await {
            Ok((conn, sftp, _)) => {
                let old = std::mem::replace(&mut live.conn, Arc::new(conn));
                live.sftp = sftp.clone();
                live.generation += 1;
                drop(live);
                old.disconnect().await;
                ctx.hub.emit(self.event(ConnectionState::Connected, None));
                Ok(sftp)
            }
            Err(e) => {
                ctx.hub
                    .emit(self.event(ConnectionState::Disconnected, Some(e.clone().into())));
                Err(e)
            }
        }
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

    pub async fn close(&self) {
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

    pub fn insert(
        &self,
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
            profile_id: reach.profile_id(),
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
        });
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
