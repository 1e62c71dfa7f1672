//! The window as the engine's [`Prompter`]: questions become [`UiEvent::Prompt`]s and wait
//! for `answer_prompt` with the same id.
//!
//! - [`PromptBroker`] owns the open questions (id → reply); a question still open when the
//!   window reloads is sent again, and one nobody answers within [`PROMPT_TIMEOUT`] counts
//!   as cancelled.
//! - [`GuiPrompter`] is one connection attempt's (or one job run's) prompter. Every secret
//!   belongs to one [`Account`] (`user@host:port`): the target's and each ProxyJump host's
//!   are kept apart — looked up, offered, asked for (the question names the account),
//!   remembered and saved under their own account, never offered to another. An account's
//!   secret in the OS keyring (for a saved host's logins) or one that logged in earlier in
//!   this run of the app is offered first; in [`Mode::Connect`] only once, so when it is
//!   wrong the person is asked. What the person typed is kept for the caller: it goes to the
//!   keyring ("remember") only after the login succeeded, and never into a log or an error.
//!   Secrets are [`Zeroizing`] strings, wiped when dropped.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use skiff_engine::ssh::{
    is_password_round, Account, HostKeyDecision, InteractivePrompt, Prompter, Secret, UnknownHostKey,
    Zeroizing,
};
use skiff_engine::store::secrets::{SecretKind, Secrets};
use tokio::sync::oneshot;

use crate::convert;
use crate::errors::AppResult;
use crate::events::EventHub;
use crate::ipc::{AppError, InteractiveField, KnownHostKey, Prompt, PromptAnswer, UiEvent};

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
            return Err(AppError::not_found(format!("answer question {id}: it is no longer open (the connection ended or it timed out) — connect again")));
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

/// Secrets that logged in during this run of the app (never written anywhere), by the
/// account they logged in to.
#[derive(Clone, Default)]
pub struct KnownSecrets(Arc<Mutex<HashMap<Account, HashMap<&'static str, Secret>>>>);

fn kind_key(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "password",
        SecretKind::Passphrase => "passphrase",
    }
}

impl KnownSecrets {
    pub fn get(&self, account: &Account, kind: SecretKind) -> Option<Secret> {
        lock(&self.0)
            .get(account)
            .and_then(|m| m.get(kind_key(kind)).cloned())
    }

    pub fn set(&self, account: &Account, kind: SecretKind, secret: Secret) {
        lock(&self.0)
            .entry(account.clone())
            .or_default()
            .insert(kind_key(kind), secret);
    }

    pub fn forget(&self, account: &Account) {
        lock(&self.0).remove(account);
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

/// A secret the person typed, for which account, with whether to remember it.
#[derive(Clone)]
pub struct Typed {
    pub account: Account,
    pub kind: SecretKind,
    pub value: Secret,
    pub remember: bool,
}

impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("account", &self.account.to_string())
            .field("kind", &self.kind)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

/// One secret of one account.
type Slot = (Account, &'static str);

#[derive(Default)]
struct Offered {
    /// Stored secrets, once looked up (the keyring is read lazily, only when asked).
    stored: HashMap<Slot, Option<Secret>>,
    used: HashSet<Slot>,
    /// The last secret of each slot handed to the engine (stored or typed).
    given: HashMap<Slot, Secret>,
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
    /// The target's account (a ProxyJump host's is any other the engine asks about).
    pub target: Account,
    /// The login is to a saved host: the OS keyring is read for its accounts' secrets, and
    /// typed secrets may be remembered there.
    pub saved: bool,
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

    /// Every account's last secret of each kind handed to the engine (after a successful
    /// login: the ones that worked, or at least did not stop it).
    pub fn given(&self) -> Vec<(Account, SecretKind, Secret)> {
        lock(&self.offered)
            .given
            .iter()
            .map(|((account, k), s)| {
                let kind = if *k == kind_key(SecretKind::Password) {
                    SecretKind::Password
                } else {
                    SecretKind::Passphrase
                };
                (account.clone(), kind, s.clone())
            })
            .collect()
    }

    /// The keyring's (else this run's) secret of `kind` for `account`, looked up once.
    async fn stored(&self, account: &Account, kind: SecretKind) -> Option<Secret> {
        let slot = (account.clone(), kind_key(kind));
        if let Some(s) = lock(&self.offered).stored.get(&slot) {
            return s.clone();
        }
        let known = || self.ctx.known.get(account, kind);
        // A job's logins take the secret that logged in this run first: one keyring round
        // trip (D-Bus) less per job. A person's login asks the keyring first.
        let mut found = if self.mode == Mode::Reuse {
            known()
        } else {
            None
        };
        if found.is_none() && self.login.saved {
            let secrets = self.ctx.secrets.clone();
            let owner = account.clone();
            match tokio::task::spawn_blocking(move || secrets.get(&owner, kind)).await {
                Ok(Ok(s)) => found = s,
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("keyring lookup failed: {e}"),
            }
        }
        if found.is_none() {
            found = known();
        }
        lock(&self.offered).stored.insert(slot, found.clone());
        found
    }

    /// `account`'s secret to offer without asking, if there is one (and, in Connect mode, it
    /// was not offered yet).
    async fn offer(&self, account: &Account, kind: SecretKind) -> Option<Secret> {
        let slot = (account.clone(), kind_key(kind));
        if self.mode == Mode::Connect && lock(&self.offered).used.contains(&slot) {
            return None;
        }
        let s = self.stored(account, kind).await?;
        let mut o = lock(&self.offered);
        o.used.insert(slot.clone());
        o.given.insert(slot, s.clone());
        Some(s)
    }

    /// Ask the person for `account`'s secret of `kind` with the question `make(id)`.
    async fn ask_secret(
        &self,
        account: &Account,
        kind: SecretKind,
        make: impl FnOnce(u64) -> Prompt,
    ) -> Option<Secret> {
        let answer = self.ctx.broker.ask(&self.ctx.hub, make).await?;
        let PromptAnswer::Secret {
            value: Some(value),
            remember,
            ..
        } = answer
        else {
            return None;
        };
        let value = Zeroizing::new(value);
        let slot = (account.clone(), kind_key(kind));
        let mut o = lock(&self.offered);
        o.typed.push(Typed {
            account: account.clone(),
            kind,
            value: value.clone(),
            remember: remember && self.login.saved,
        });
        o.given.insert(slot.clone(), value.clone());
        if self.mode == Mode::Reuse {
            // Later connections of the same run use it without asking again.
            o.stored.insert(slot, Some(value.clone()));
        }
        Some(value)
    }

    async fn password_for(&self, account: &Account) -> Option<Secret> {
        if let Some(s) = self.offer(account, SecretKind::Password).await {
            return Some(s);
        }
        let (user, host, port) = (account.user.clone(), account.host.clone(), account.port);
        let (label, jump_host) = (account.to_string(), *account != self.login.target);
        self.ask_secret(account, SecretKind::Password, |id| Prompt::Password {
            id,
            user,
            host,
            port,
            account: label,
            jump_host,
        })
        .await
    }
}

impl Prompter for GuiPrompter {
    fn password<'a>(&'a self, account: &'a Account, _attempt: usize) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(self.password_for(account))
    }

    fn passphrase<'a>(&'a self, account: &'a Account, key_path: &'a Path) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            if let Some(s) = self.offer(account, SecretKind::Passphrase).await {
                return Some(s);
            }
            let key_path = key_path.display().to_string();
            let label = account.to_string();
            self.ask_secret(account, SecretKind::Passphrase, |id| Prompt::Passphrase {
                id,
                key_path,
                account: label,
            })
            .await
        })
    }

    fn keyboard_interactive<'a>(
        &'a self,
        account: &'a Account,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<Secret>>> {
        Box::pin(async move {
            if prompts.is_empty() {
                return Some(Vec::new());
            }
            // "Password:" is a password question (it can be remembered), whatever the method.
            if is_password_round(prompts) {
                return self.password_for(account).await.map(|p| vec![p]);
            }
            let fields = prompts
                .iter()
                .map(|p| InteractiveField {
                    text: p.text.clone(),
                    echo: p.echo,
                })
                .collect();
            let (name, instructions) = (name.to_string(), instructions.to_string());
            let label = account.to_string();
            match self
                .ctx
                .broker
                .ask(&self.ctx.hub, |id| Prompt::KeyboardInteractive {
                    id,
                    account: label,
                    name,
                    instructions,
                    prompts: fields,
                })
                .await?
            {
                PromptAnswer::Interactive {
                    answers: Some(a), ..
                } if a.len() == prompts.len() => Some(a.into_iter().map(Zeroizing::new).collect()),
                _ => None,
            }
        })
    }

    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async move {
            let other_known = key
                .other_known
                .iter()
                .map(|k| KnownHostKey {
                    key_type: k.key_type.clone(),
                    fingerprint: k.fingerprint.clone(),
                    file: k.path.display().to_string(),
                    line: k.line as u32,
                })
                .collect();
            let answer = self
                .ctx
                .broker
                .ask(&self.ctx.hub, |id| Prompt::HostKeyUnknown {
                    id,
                    host: key.host.clone(),
                    port: key.port,
                    key_type: key.key_type.clone(),
                    fingerprint: key.fingerprint.clone(),
                    other_known,
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

    /// Answers every password question with "typed-for-ACCOUNT" (remember on) and records the
    /// questions.
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
                    Prompt::Password { account, .. } | Prompt::Passphrase { account, .. } => {
                        PromptAnswer::Secret {
                            id,
                            value: Some(format!("typed-for-{account}")),
                            remember: true,
                        }
                    }
                    Prompt::KeyboardInteractive { account, .. } => PromptAnswer::Interactive {
                        id,
                        answers: Some(vec![format!("answer-for-{account}")]),
                    },
                };
                let broker = self.broker.clone();
                // Answer from elsewhere, as the window would.
                tokio::spawn(async move { broker.answer(answer).unwrap() });
            }
            true
        }
    }

    fn target() -> Account {
        Account::new("alice", "h", 22)
    }

    fn jump() -> Account {
        Account::new("alice", "jump", 2222)
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
        known.set(&target(), SecretKind::Password, Zeroizing::new("stored".into()));
        // Not a saved host: nothing is read from the OS keyring in tests.
        let ctx = PromptContext {
            hub,
            broker,
            secrets: Secrets::with_service("skiff-test"),
            known: known.clone(),
        };
        let login = LoginFor {
            target: target(),
            saved: false,
        };
        let p = GuiPrompter::new(ctx, mode, login);
        (p, asked, known)
    }

    fn text(s: Option<Secret>) -> Option<String> {
        s.map(|s| s.as_str().to_owned())
    }

    #[tokio::test]
    async fn connect_mode_offers_the_stored_secret_once_then_asks() {
        let (p, asked, _) = setup(Mode::Connect);
        assert_eq!(text(p.password(&target(), 1).await).as_deref(), Some("stored"));
        assert!(asked.lock().unwrap().is_empty());
        assert_eq!(
            text(p.password(&target(), 2).await).as_deref(),
            Some("typed-for-alice@h:22")
        );
        match &asked.lock().unwrap()[0] {
            Prompt::Password {
                account, jump_host, port, ..
            } => {
                assert_eq!(account, "alice@h:22");
                assert_eq!(*port, 22);
                assert!(!jump_host);
            }
            other => panic!("{other:?}"),
        }
        let typed = p.typed();
        assert_eq!(typed.len(), 1);
        assert_eq!(typed[0].account, target());
        // Without a saved host there is nowhere to remember it.
        assert!(!typed[0].remember);
        let given = p.given();
        assert_eq!(given.len(), 1);
        assert_eq!(given[0].0, target());
        assert_eq!(given[0].2.as_str(), "typed-for-alice@h:22");
        // A lone "Password:" keyboard-interactive prompt is a password question.
        let kbd = [InteractivePrompt {
            text: "Password: ".into(),
            echo: false,
        }];
        assert_eq!(
            p.keyboard_interactive(&target(), "", "", &kbd)
                .await
                .map(|a| a.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
            Some(vec!["typed-for-alice@h:22".to_string()])
        );
        assert_eq!(
            p.unknown_host_key(&UnknownHostKey {
                host: "h".into(),
                port: 22,
                key_type: "ssh-ed25519".into(),
                fingerprint: "SHA256:x".into(),
                other_known: vec![],
            })
            .await,
            HostKeyDecision::TrustOnce
        );
    }

    #[tokio::test]
    async fn reuse_mode_asks_at_most_once() {
        let (p, asked, known) = setup(Mode::Reuse);
        known.forget(&target());
        for attempt in 1..=3 {
            assert_eq!(
                text(p.password(&target(), attempt).await).as_deref(),
                Some("typed-for-alice@h:22")
            );
        }
        assert_eq!(asked.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_jump_host_is_never_offered_the_targets_secret() {
        for mode in [Mode::Connect, Mode::Reuse] {
            let (p, asked, known) = setup(mode);
            // The jump host's question names the jump host and says it is one; the target's
            // stored password is not offered to it.
            assert_eq!(
                text(p.password(&jump(), 1).await).as_deref(),
                Some("typed-for-alice@jump:2222"),
                "{mode:?}"
            );
            match &asked.lock().unwrap()[..] {
                [Prompt::Password {
                    account,
                    host,
                    port,
                    jump_host,
                    ..
                }] => {
                    assert_eq!(
                        (account.as_str(), host.as_str(), *port, *jump_host),
                        ("alice@jump:2222", "jump", 2222, true)
                    );
                }
                other => panic!("{mode:?}: {other:?}"),
            }
            // A lone "Password:" from the jump host's keyboard-interactive: its own password.
            let kbd = [InteractivePrompt {
                text: "Password: ".into(),
                echo: false,
            }];
            let answers = p.keyboard_interactive(&jump(), "", "", &kbd).await.unwrap();
            assert_ne!(answers[0].as_str(), "stored", "{mode:?}");
            // The target still gets its own, not what was typed for the jump host.
            assert_eq!(
                text(p.password(&target(), 1).await).as_deref(),
                Some("stored"),
                "{mode:?}"
            );
            // Other questions of the jump host name it too.
            let other = [InteractivePrompt {
                text: "Code: ".into(),
                echo: true,
            }];
            let a = p.keyboard_interactive(&jump(), "", "", &other).await.unwrap();
            assert_eq!(a[0].as_str(), "answer-for-alice@jump:2222");
            assert_eq!(
                text(p.passphrase(&jump(), Path::new("/k")).await).as_deref(),
                Some("typed-for-alice@jump:2222")
            );
            // What was typed and given is kept per account: the caller remembers each
            // under its own account, never the jump host's under the target.
            for t in p.typed() {
                assert_eq!(t.account, jump(), "{mode:?}: {t:?}");
            }
            let mut given: Vec<(String, SecretKind, String)> = p
                .given()
                .into_iter()
                .map(|(a, k, s)| (a.to_string(), k, s.as_str().to_owned()))
                .collect();
            given.sort_by(|a, b| a.0.cmp(&b.0).then(kind_key(a.1).cmp(kind_key(b.1))));
            assert_eq!(
                given,
                vec![
                    ("alice@h:22".into(), SecretKind::Password, "stored".into()),
                    (
                        "alice@jump:2222".into(),
                        SecretKind::Passphrase,
                        "typed-for-alice@jump:2222".into()
                    ),
                    (
                        "alice@jump:2222".into(),
                        SecretKind::Password,
                        "typed-for-alice@jump:2222".into()
                    ),
                ],
                "{mode:?}"
            );
            // A secret known for the jump host is offered to it, and only to it.
            known.forget(&target());
            let (p2, asked2, _) = {
                let (p2, asked2, k2) = setup(mode);
                k2.forget(&target());
                k2.set(&jump(), SecretKind::Password, Zeroizing::new("jump-pw".into()));
                (p2, asked2, k2)
            };
            assert_eq!(text(p2.password(&jump(), 1).await).as_deref(), Some("jump-pw"));
            assert_eq!(
                text(p2.password(&target(), 1).await).as_deref(),
                Some("typed-for-alice@h:22")
            );
            assert_eq!(asked2.lock().unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn another_key_type_known_reaches_the_window() {
        let (p, asked, _) = setup(Mode::Connect);
        let key = UnknownHostKey {
            host: "h".into(),
            port: 22,
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:new".into(),
            other_known: vec![skiff_engine::ssh::KnownKey {
                key_type: "ssh-rsa".into(),
                fingerprint: "SHA256:old".into(),
                path: "/kh".into(),
                line: 4,
            }],
        };
        p.unknown_host_key(&key).await;
        match &asked.lock().unwrap()[..] {
            [Prompt::HostKeyUnknown { other_known, .. }] => assert_eq!(
                other_known,
                &vec![KnownHostKey {
                    key_type: "ssh-rsa".into(),
                    fingerprint: "SHA256:old".into(),
                    file: "/kh".into(),
                    line: 4
                }]
            ),
            other => panic!("{other:?}"),
        };
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
        assert_eq!(e.code, crate::ipc::ErrorCode::NotFound);
        assert!(!format!("{e:?}").contains("typed"));
    }
}
