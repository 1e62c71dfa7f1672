//! A saved host's secrets, offered from the OS keyring before a front end is asked.
//!
//! The window saves a saved host's password or key passphrase in the keyring ("remember");
//! a job queued from that host must log in with it wherever it resumes — also in
//! `skiff queue resume`, where nobody may be at a terminal to type it. [`KeyringFirst`]
//! wraps a front end's [`Prompter`]: each account's secret of each kind is taken from the
//! keyring once (so a wrong or stale one is not offered again and again); when there is none,
//! or it was already offered, the front end is asked as before. Secrets stay per account:
//! a ProxyJump host's are looked up under its own account, never offered to another. A
//! keyboard-interactive round that only asks for the password ([`is_password_round`]) is
//! answered the same way. Host keys are always the front end's question.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::ssh::{is_password_round, Account, HostKeyDecision, InteractivePrompt, Prompter, Secret, UnknownHostKey};
use crate::store::secrets::{SecretKind, Secrets};

/// See the module docs.
pub struct KeyringFirst {
    inner: Arc<dyn Prompter>,
    secrets: Secrets,
    offered: Mutex<HashSet<(Account, &'static str)>>,
}

impl KeyringFirst {
    pub fn new(inner: Arc<dyn Prompter>, secrets: Secrets) -> KeyringFirst {
        KeyringFirst { inner, secrets, offered: Mutex::new(HashSet::new()) }
    }

    /// The keyring's secret of `kind` for `account`, the first time it is asked for.
    async fn saved(&self, account: &Account, kind: SecretKind) -> Option<Secret> {
        let first = self.offered.lock().unwrap_or_else(|p| p.into_inner()).insert((account.clone(), kind.as_str()));
        if !first {
            return None;
        }
        let (secrets, owner) = (self.secrets.clone(), account.clone());
        match tokio::task::spawn_blocking(move || secrets.get(&owner, kind)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                // No keyring (or a locked one) is not a failed login: the front end is asked.
                tracing::warn!("{e}");
                None
            }
            Err(e) => {
                tracing::warn!("keyring lookup for {account} failed: {e}");
                None
            }
        }
    }
}

impl Prompter for KeyringFirst {
    fn password<'a>(&'a self, account: &'a Account, attempt: usize) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            match self.saved(account, SecretKind::Password).await {
                Some(s) => Some(s),
                None => self.inner.password(account, attempt).await,
            }
        })
    }

    fn passphrase<'a>(&'a self, account: &'a Account, key_path: &'a Path) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            match self.saved(account, SecretKind::Passphrase).await {
                Some(s) => Some(s),
                None => self.inner.passphrase(account, key_path).await,
            }
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
            if is_password_round(prompts) {
                if let Some(s) = self.saved(account, SecretKind::Password).await {
                    return Some(vec![s]);
                }
            }
            self.inner.keyboard_interactive(account, name, instructions, prompts).await
        })
    }

    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        self.inner.unknown_host_key(key)
    }
}
