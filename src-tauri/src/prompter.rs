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
mod tests;
