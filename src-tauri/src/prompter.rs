//! The window as the engine's [`Prompter`]: questions become [`UiEvent::Prompt`]s and wait
//! for `answer_prompt` with the same id.
//!
//! - [`PromptBroker`] owns the open questions (id → reply); a question still open when the
//!   window reloads is sent again, and one nobody answers within [`PROMPT_TIMEOUT`] counts
//!   as cancelled.
//! - [`GuiPrompter`] is one connection attempt's (or one job run's) prompter. A saved host's
//!   secret in the OS keyring (or a secret that logged in earlier in this run of the app) is
//!   offered first; in [`Mode::Connect`] only once, so when it is wrong the person is asked.
//!   What the person typed is kept for the caller: it goes to the keyring ("remember") only
//!   after the login succeeded, and never into a log or an error.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use skiff_engine::ssh::{HostKeyDecision, InteractivePrompt, Prompter, UnknownHostKey};
use skiff_engine::store::secrets::{SecretKind, Secrets};
use tokio::sync::oneshot;

use crate::convert;
use crate::errors::AppResult;
use crate::events::EventHub;
use crate::ipc::{AppError, InteractiveField, Prompt, PromptAnswer, UiEvent};

/// A question nobody answers within this long is cancelled.
pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn prompt_id(p: &Prompt) -> u64 {
    match p {
        Prompt::HostKeyUnknown { id, .. }
        | Prompt::Password { id, .. }
        | Prompt::Passphrase { id, .. }
        | Prompt::KeyboardInteractive { id, .. } => *id,
    }
}

fn answer_id(a: &PromptAnswer) -> u64 {
    match a {
        PromptAnswer::HostKey { id, .. }
        | PromptAnswer::Secret { id, .. }
        | PromptAnswer::Interactive { id, .. } => *id,
    }
}

fn answers(p: &Prompt, a: &PromptAnswer) -> bool {
    matches!(
        (p, a),
        (Prompt::HostKeyUnknown { .. }, PromptAnswer::HostKey { .. })
            | (
                Prompt::Password { .. } | Prompt::Passphrase { .. },
                PromptAnswer::Secret { .. }
            )
            | (
                Prompt::KeyboardInteractive { .. },
                PromptAnswer::Interactive { .. }
            )
    )
}

/// The open questions.
#[derive(Default)]
pub struct PromptBroker {
    next: AtomicU64,
    open: Mutex<HashMap<u64, (Prompt, oneshot::Sender<PromptAnswer>)>>,
}

/// Removes a question when its asker stops waiting (answered, timed out or dropped).
struct Asking<'a> {
    broker: &'a PromptBroker,
    id: u64,
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        lock(&self.broker.open).remove(&self.id);
    }
}

impl PromptBroker {
    /// Put the question `make(id)` to the window and wait for its answer (`None`: cancelled,
    /// timed out, or the app is closing).
    pub async fn ask(
        &self,
        hub: &EventHub,
        make: impl FnOnce(u64) -> Prompt,
    ) -> Option<PromptAnswer> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let prompt = make(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.open).insert(id, (prompt.clone(), tx));
        let _asking = Asking { broker: self, id };
        hub.emit(UiEvent::Prompt { prompt });
        tokio::time::timeout(PROMPT_TIMEOUT, rx).await.ok()?.ok()
    }

    /// Deliver the window's answer.
    pub fn answer(&self, answer: PromptAnswer) -> AppResult<()> {
        let id = answer_id(&answer);
        let mut open = lock(&self.open);
        let Some((prompt, _)) = open.get(&id) else {
            return Err(AppError::new("notFound", format!("answer question {id}: it is no longer open (the connection ended or it timed out) — connect again")));
        };
        if !answers(prompt, &answer) {
            return Err(AppError::config(format!(
                "answer question {id}: the answer is of the wrong kind for this question"
            )));
        }
        let (_, reply) = open.remove(&id).expect("checked above");
        let _ = reply.send(answer);
        Ok(())
    }

    /// Send every open question again (the window reloaded).
    pub fn resend_open(&self, hub: &EventHub) {
        let mut open: Vec<Prompt> = lock(&self.open).values().map(|(p, _)| p.clone()).collect();
        open.sort_by_key(prompt_id);
        for prompt in open {
            hub.emit(UiEvent::Prompt { prompt });
        }
    }
}

/// Secrets that logged in during this run of the app (never written anywhere), keyed by
/// profile id or, for quick connections, by `user@host:port`.
#[derive(Clone, Default)]
pub struct KnownSecrets(Arc<Mutex<HashMap<String, HashMap<&'static str, String>>>>);

fn kind_key(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "password",
        SecretKind::Passphrase => "passphrase",
    }
}

impl KnownSecrets {
    pub fn get(&self, key: &str, kind: SecretKind) -> Option<String> {
        lock(&self.0)
            .get(key)
            .and_then(|m| m.get(kind_key(kind)).cloned())
    }

    pub fn set(&self, key: &str, kind: SecretKind, secret: String) {
        lock(&self.0)
            .entry(key.to_string())
            .or_default()
            .insert(kind_key(kind), secret);
    }

    pub fn forget(&self, key: &str) {
        lock(&self.0).remove(key);
    }
}

/// How offered secrets are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One login the person watches: a stored secret is offered once; when it fails, the
    /// person is asked.
    Connect,
    /// A job run's (or a reconnect's) logins, several connections with the same options: a
    /// stored or typed secret is offered every time, so the person is asked at most once.
    Reuse,
}

/// A secret the person typed, with whether to remember it.
#[derive(Clone)]
pub struct Typed {
    pub kind: SecretKind,
    pub value: String,
    pub remember: bool,
}

impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("kind", &self.kind)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Offered {
    /// Stored secrets, once looked up (the keyring is read lazily, only when asked).
    stored: HashMap<&'static str, Option<String>>,
    used: HashMap<&'static str, bool>,
    /// The last secret of each kind handed to the engine (stored or typed).
    given: HashMap<&'static str, String>,
    typed: Vec<Typed>,
}

/// What every prompter shares: where questions go and where secrets are found.
#[derive(Clone)]
pub struct PromptContext {
    pub hub: EventHub,
    pub broker: Arc<PromptBroker>,
    pub secrets: Secrets,
    pub known: KnownSecrets,
}

/// Who a login is for.
#[derive(Debug, Clone)]
pub struct LoginFor {
    /// The saved host whose keyring entries are offered.
    pub profile_id: Option<String>,
    pub user: String,
    pub host: String,
    /// Key of [`KnownSecrets`]: the profile id, or `user@host:port` of a quick connection.
    pub known_key: String,
}

/// One login's prompter.
pub struct GuiPrompter {
    ctx: PromptContext,
    mode: Mode,
    login: LoginFor,
    offered: Mutex<Offered>,
}

impl GuiPrompter {
    pub fn new(ctx: PromptContext, mode: Mode, login: LoginFor) -> Arc<GuiPrompter> {
        Arc::new(GuiPrompter {
            ctx,
            mode,
            login,
            offered: Mutex::new(Offered::default()),
        })
    }

    /// The secrets the person typed during this login, in order.
    pub fn typed(&self) -> Vec<Typed> {
        lock(&self.offered).typed.clone()
    }

    /// The last secret of `kind` handed to the engine (after a successful login: the one
    /// that worked, or at least did not stop it).
    pub fn given(&self, kind: SecretKind) -> Option<String> {
        lock(&self.offered).given.get(kind_key(kind)).cloned()
    }

    /// The keyring's (else this run's) secret of `kind`, looked up once.
    async fn stored(&self, kind: SecretKind) -> Option<String> {
        let k = kind_key(kind);
        if let Some(s) = lock(&self.offered).stored.get(k) {
            return s.clone();
        }
        let known = || self.ctx.known.get(&self.login.known_key, kind);
        // A job's logins take the secret that logged in this run first: one keyring round
        // trip (D-Bus) less per job. A person's login asks the keyring first.
        let mut found = if self.mode == Mode::Reuse {
            known()
        } else {
            None
        };
        if found.is_none() {
            if let Some(id) = self.login.profile_id.clone() {
                let secrets = self.ctx.secrets.clone();
                match tokio::task::spawn_blocking(move || secrets.get(&id, kind)).await {
                    Ok(Ok(s)) => found = s,
                    Ok(Err(e)) => tracing::warn!("{e}"),
                    Err(e) => tracing::warn!("keyring lookup failed: {e}"),
                }
            }
        }
        if found.is_none() {
            found = known();
        }
        lock(&self.offered).stored.insert(k, found.clone());
        found
    }

    /// A secret to offer without asking, if there is one (and, in Connect mode, it was not
    /// offered yet).
    async fn offer(&self, kind: SecretKind) -> Option<String> {
        let k = kind_key(kind);
        if self.mode == Mode::Connect && lock(&self.offered).used.get(k).copied().unwrap_or(false) {
            return None;
        }
        let s = self.stored(kind).await?;
        let mut o = lock(&self.offered);
        o.used.insert(k, true);
        o.given.insert(k, s.clone());
        Some(s)
    }

    /// Ask the person for a secret of `kind` with the question `make(id)`.
    async fn ask_secret(
        &self,
        kind: SecretKind,
        make: impl FnOnce(u64) -> Prompt,
    ) -> Option<String> {
        let answer = self.ctx.broker.ask(&self.ctx.hub, make).await?;
        let PromptAnswer::Secret {
            value: Some(value),
            remember,
            ..
        } = answer
        else {
            return None;
        };
        let k = kind_key(kind);
        let mut o = lock(&self.offered);
        o.typed.push(Typed {
            kind,
            value: value.clone(),
            remember: remember && self.login.profile_id.is_some(),
        });
        o.given.insert(k, value.clone());
        if self.mode == Mode::Reuse {
            // Later connections of the same run use it without asking again.
            o.stored.insert(k, Some(value.clone()));
        }
        Some(value)
    }

    async fn password_for(&self, user: &str, host: &str) -> Option<String> {
        if let Some(s) = self.offer(SecretKind::Password).await {
            return Some(s);
        }
        let (user, host) = (user.to_string(), host.to_string());
        self.ask_secret(SecretKind::Password, |id| Prompt::Password {
            id,
            user,
            host,
        })
        .await
    }
}

/// Whether a lone keyboard-interactive question is the usual password prompt.
fn is_password_prompt(prompts: &[InteractivePrompt]) -> bool {
    matches!(prompts, [p] if !p.echo && p.text.to_ascii_lowercase().contains("password"))
}

impl Prompter for GuiPrompter {
    fn password<'a>(&'a self, user: &'a str, host: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(self.password_for(user, host))
    }

    fn passphrase<'a>(&'a self, key_path: &'a Path) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if let Some(s) = self.offer(SecretKind::Passphrase).await {
                return Some(s);
            }
            let key_path = key_path.display().to_string();
            self.ask_secret(SecretKind::Passphrase, |id| Prompt::Passphrase {
                id,
                key_path,
            })
            .await
        })
    }

    fn keyboard_interactive<'a>(
        &'a self,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            if prompts.is_empty() {
                return Some(Vec::new());
            }
            // "Password:" is a password question (it can be remembered), whatever the method.
            if is_password_prompt(prompts) {
                return self
                    .password_for(&self.login.user, &self.login.host)
                    .await
                    .map(|p| vec![p]);
            }
            let fields = prompts
                .iter()
                .map(|p| InteractiveField {
                    text: p.text.clone(),
                    echo: p.echo,
                })
                .collect();
            let (name, instructions) = (name.to_string(), instructions.to_string());
            match self
                .ctx
                .broker
                .ask(&self.ctx.hub, |id| Prompt::KeyboardInteractive {
                    id,
                    name,
                    instructions,
                    prompts: fields,
                })
                .await?
            {
                PromptAnswer::Interactive {
                    answers: Some(a), ..
                } if a.len() == prompts.len() => Some(a),
                _ => None,
            }
        })
    }

    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async move {
            let answer = self
                .ctx
                .broker
                .ask(&self.ctx.hub, |id| Prompt::HostKeyUnknown {
                    id,
                    host: key.host.clone(),
                    port: key.port,
                    key_type: key.key_type.clone(),
                    fingerprint: key.fingerprint.clone(),
                })
                .await;
            match answer {
                Some(PromptAnswer::HostKey { decision, .. }) => {
                    convert::host_key_decision(decision)
                }
                _ => HostKeyDecision::Reject,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{forward, UiSink};

    /// Answers every password question with "typed" (remember on) and records the questions.
    struct Answerer {
        broker: Arc<PromptBroker>,
        asked: Arc<Mutex<Vec<Prompt>>>,
    }

    impl UiSink for Answerer {
        fn deliver(&self, event: UiEvent) -> bool {
            if let UiEvent::Prompt { prompt } = event {
                self.asked.lock().unwrap().push(prompt.clone());
                let id = prompt_id(&prompt);
                let answer = match prompt {
                    Prompt::HostKeyUnknown { .. } => PromptAnswer::HostKey {
                        id,
                        decision: crate::ipc::HostKeyChoice::TrustOnce,
                    },
                    _ => PromptAnswer::Secret {
                        id,
                        value: Some("typed".into()),
                        remember: true,
                    },
                };
                let broker = self.broker.clone();
                // Answer from elsewhere, as the window would.
                tokio::spawn(async move { broker.answer(answer).unwrap() });
            }
            true
        }
    }

    fn setup(mode: Mode) -> (Arc<GuiPrompter>, Arc<Mutex<Vec<Prompt>>>, KnownSecrets) {
        let (hub, rx) = EventHub::new();
        tokio::spawn(forward(rx));
        let broker = Arc::new(PromptBroker::default());
        let asked = Arc::new(Mutex::new(Vec::new()));
        hub.subscribe(Answerer {
            broker: broker.clone(),
            asked: asked.clone(),
        });
        let known = KnownSecrets::default();
        known.set("alice@h:22", SecretKind::Password, "stored".into());
        // No profile: nothing is read from the OS keyring in tests.
        let ctx = PromptContext {
            hub,
            broker,
            secrets: Secrets::with_service("skiff-test"),
            known: known.clone(),
        };
        let login = LoginFor {
            profile_id: None,
            user: "alice".into(),
            host: "h".into(),
            known_key: "alice@h:22".into(),
        };
        let p = GuiPrompter::new(ctx, mode, login);
        (p, asked, known)
    }

    #[tokio::test]
    async fn connect_mode_offers_the_stored_secret_once_then_asks() {
        let (p, asked, _) = setup(Mode::Connect);
        assert_eq!(p.password("alice", "h").await.as_deref(), Some("stored"));
        assert!(asked.lock().unwrap().is_empty());
        assert_eq!(p.password("alice", "h").await.as_deref(), Some("typed"));
        assert!(matches!(asked.lock().unwrap()[0], Prompt::Password { .. }));
        let typed = p.typed();
        assert_eq!(typed.len(), 1);
        // Without a saved host there is nowhere to remember it.
        assert!(!typed[0].remember);
        assert_eq!(p.given(SecretKind::Password).as_deref(), Some("typed"));
        // A lone "Password:" keyboard-interactive prompt is a password question.
        let kbd = [InteractivePrompt {
            text: "Password: ".into(),
            echo: false,
        }];
        assert_eq!(
            p.keyboard_interactive("", "", &kbd).await,
            Some(vec!["typed".to_string()])
        );
        assert_eq!(
            p.unknown_host_key(&UnknownHostKey {
                host: "h".into(),
                port: 22,
                key_type: "ssh-ed25519".into(),
                fingerprint: "SHA256:x".into()
            })
            .await,
            HostKeyDecision::TrustOnce
        );
    }

    #[tokio::test]
    async fn reuse_mode_asks_at_most_once() {
        let (p, asked, known) = setup(Mode::Reuse);
        known.forget("alice@h:22");
        for _ in 0..3 {
            assert_eq!(p.password("alice", "h").await.as_deref(), Some("typed"));
        }
        assert_eq!(asked.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn answers_must_match_an_open_question() {
        let broker = PromptBroker::default();
        let e = broker
            .answer(PromptAnswer::Secret {
                id: 9,
                value: None,
                remember: false,
            })
            .unwrap_err();
        assert_eq!(e.code, "notFound");
        assert!(!format!("{e:?}").contains("typed"));
    }
}
