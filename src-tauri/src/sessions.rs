//! The window's side of browsing sessions, which the engine owns ([`skiff_engine::engine::sessions`]:
//! the table, logging in, the watcher and reconnecting): parsing quick-connect addresses,
//! the window's logins ([`WindowLogins`]: its prompt dialogs, reusing a typed secret on a
//! reconnect, and keeping the secrets that logged in), a session as the window sees it, and
//! feeding the engine's session events into the [`EventHub`].

use std::sync::Arc;

use skiff_engine::engine::{Attempt, Logins, Reach, Session, SessionLogin, Sessions};
use skiff_engine::ssh::{ConnectOptions, Prompter};

use crate::events::{self, EventHub};
use crate::ipc::SessionInfo;
use crate::prompter::{GuiPrompter, LoginFor, Mode, PromptContext};

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

/// The window's logins: its prompt dialogs, with the secrets given during this run and the
/// keyring's.
pub struct WindowLogins {
    pub prompts: PromptContext,
}

impl Logins for WindowLogins {
    /// A job run's logins: a secret given once is offered every time.
    fn prompter(&self, reach: &Reach, resolved: &ConnectOptions) -> Arc<dyn Prompter> {
        GuiPrompter::new(self.prompts.clone(), Mode::Reuse, login_for(reach, resolved))
    }

    /// A session's first login asks when a stored secret fails; a reconnect reuses what was
    /// given. Once logged in, the secrets that worked are kept for this run (for reconnects
    /// and jobs) and, for a saved host and when the person asked for it, in the keyring,
    /// each under the account (target or ProxyJump host) it logged in to.
    fn session_login(&self, reach: &Reach, resolved: &ConnectOptions, attempt: Attempt) -> SessionLogin {
        let mode = match attempt {
            Attempt::Connect => Mode::Connect,
            Attempt::Reconnect => Mode::Reuse,
        };
        let prompter = GuiPrompter::new(self.prompts.clone(), mode, login_for(reach, resolved));
        let (ctx, kept, saved) = (self.prompts.clone(), prompter.clone(), reach.profile_id().is_some());
        SessionLogin::new(prompter).then(move || Box::pin(keep_secrets(ctx, kept, saved)))
    }
}

/// After a successful login: the secrets `prompter` gave are known for this run; those the
/// person typed and asked to remember go to the keyring when the login was to a saved host.
async fn keep_secrets(ctx: PromptContext, prompter: Arc<GuiPrompter>, saved: bool) {
    for (account, kind, s) in prompter.given() {
        ctx.known.set(&account, kind, s);
    }
    if !saved {
        return;
    }
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

/// A session as the window sees it.
pub fn info(session: &Session) -> SessionInfo {
    SessionInfo {
        session_id: session.id().to_string(),
        label: session.label().to_string(),
        profile_id: session.reach().profile_id().map(str::to_string),
        start_path: session.start_path().to_string(),
    }
}

/// Tell the window every state change of `sessions`' sessions, from now on.
pub fn forward_events(hub: EventHub, sessions: &Sessions) {
    let mut changes = sessions.subscribe();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            hub.emit(events::from_session(change));
        }
    });
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
