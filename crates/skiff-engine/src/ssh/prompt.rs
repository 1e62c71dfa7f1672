//! [`Prompter`]: how the engine asks a person for secrets and decisions.
//!
//! The CLI answers on the terminal, the window answers with dialogs, tests answer with fixed
//! values. The engine never reads a terminal itself. Owns only the trait, [`Account`] (whose
//! secret a question is about) and two simple implementations.
//!
//! Every secret question names the [`Account`] (`user@host:port`) it is for: the target's
//! and each ProxyJump host's questions are told apart, so a prompter never offers one
//! host's password to another. Secrets travel as [`Zeroizing`] strings, wiped when dropped.

use std::fmt;
use std::path::Path;

use futures::future::BoxFuture;
pub use zeroize::Zeroizing;

use super::known_hosts::KnownKey;

/// A secret held in memory: wiped when dropped.
pub type Secret = Zeroizing<String>;

/// Whose secret: one login, `user@host:port`. A password or keyboard-interactive answer
/// belongs to exactly one account and is offered to no other (jump hosts included).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    pub user: String,
    /// The host name connected to (ssh_config's HostName, not the alias).
    pub host: String,
    pub port: u16,
}

impl Account {
    pub fn new(user: impl Into<String>, host: impl Into<String>, port: u16) -> Account {
        Account { user: user.into(), host: host.into(), port }
    }
}

impl fmt::Display for Account {
    /// `user@host:port`, `user@[v6addr]:port` for IPv6 literals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = crate::address::Address { user: Some(self.user.clone()), host: self.host.clone(), port: Some(self.port) };
        fmt::Display::fmt(&address, f)
    }
}

/// What to do with a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyDecision {
    /// Accept and append it to known_hosts.
    TrustAndSave,
    /// Accept for this connection only.
    TrustOnce,
    /// Refuse the connection.
    Reject,
}

/// A host key presented by a server, not in known_hosts for it.
#[derive(Debug, Clone)]
pub struct UnknownHostKey {
    pub host: String,
    pub port: u16,
    pub key_type: String,
    /// `SHA256:...`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// Keys of *other* types known_hosts already holds for this host (empty: the host is
    /// new). Not empty is its own, more suspicious case: the server did not show the key we
    /// know (OpenSSH: "keys of different type are already known for this host").
    pub other_known: Vec<KnownKey>,
}

/// One keyboard-interactive prompt.
#[derive(Debug, Clone)]
pub struct InteractivePrompt {
    pub text: String,
    pub echo: bool,
}

/// Whether a keyboard-interactive round asks only for the account's password: one prompt,
/// echo off, whose text says "password" (any case: `Password: `, `alice@host's password: `).
/// Every [`Prompter`] answers such a round as a password question (with the password saved
/// or given for that account). Any other round (a one-time code such as `Verification code: `,
/// several questions, a visible prompt) is asked as the server wrote it, and a password is
/// never sent to it unasked.
pub fn is_password_round(prompts: &[InteractivePrompt]) -> bool {
    matches!(prompts, [p] if !p.echo && p.text.to_lowercase().contains("password"))
}

/// Answers the engine's questions. Every method may return `None` ("no answer"), which the
/// engine treats as "skip this method".
pub trait Prompter: Send + Sync {
    /// The password of `account` (asked again after a rejected one: `attempt` counts from 1).
    fn password<'a>(&'a self, account: &'a Account, attempt: usize) -> BoxFuture<'a, Option<Secret>>;
    /// The passphrase of the private key at `key_path`, loaded to log in to `account`.
    fn passphrase<'a>(&'a self, account: &'a Account, key_path: &'a Path) -> BoxFuture<'a, Option<Secret>>;
    /// Answers to a keyboard-interactive round of `account`'s server.
    fn keyboard_interactive<'a>(
        &'a self,
        account: &'a Account,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<Secret>>>;
    /// Whether to trust a host key that is not in known_hosts.
    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision>;
}

/// Answers nothing and trusts nothing: for batch use and tests.
#[derive(Debug, Default, Clone)]
pub struct NoPrompter;

impl Prompter for NoPrompter {
    fn password<'a>(&'a self, _: &'a Account, _: usize) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async { None })
    }
    fn passphrase<'a>(&'a self, _: &'a Account, _: &'a Path) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async { None })
    }
    fn keyboard_interactive<'a>(
        &'a self,
        _: &'a Account,
        _: &'a str,
        _: &'a str,
        _: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<Secret>>> {
        Box::pin(async { None })
    }
    fn unknown_host_key<'a>(&'a self, _: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async { HostKeyDecision::Reject })
    }
}

/// Fixed answers given up front (tests, scripts): a password for one account only, a key
/// passphrase, a host-key decision.
#[derive(Default, Clone)]
pub struct FixedPrompter {
    /// The password and the one account it is offered to.
    pub password: Option<(Account, Secret)>,
    pub passphrase: Option<Secret>,
    pub host_key: Option<HostKeyDecision>,
}

impl fmt::Debug for FixedPrompter {
    /// Never the secrets themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedPrompter")
            .field("password_for", &self.password.as_ref().map(|(a, _)| a.to_string()))
            .field("passphrase", &self.passphrase.is_some())
            .field("host_key", &self.host_key)
            .finish()
    }
}

impl FixedPrompter {
    fn password_of(&self, account: &Account) -> Option<Secret> {
        match &self.password {
            Some((owner, pw)) if owner == account => Some(pw.clone()),
            _ => None,
        }
    }
}

impl Prompter for FixedPrompter {
    fn password<'a>(&'a self, account: &'a Account, _: usize) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move { self.password_of(account) })
    }
    fn passphrase<'a>(&'a self, _: &'a Account, _: &'a Path) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async { self.passphrase.clone() })
    }
    fn keyboard_interactive<'a>(
        &'a self,
        account: &'a Account,
        _: &'a str,
        _: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<Secret>>> {
        Box::pin(async move {
            // Answer the usual lone "Password:" with the account's password.
            match (prompts, self.password_of(account)) {
                (_, Some(pw)) if is_password_round(prompts) => Some(vec![pw]),
                ([], _) => Some(vec![]),
                _ => None,
            }
        })
    }
    fn unknown_host_key<'a>(&'a self, _: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async { self.host_key.unwrap_or(HostKeyDecision::Reject) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_password_goes_to_its_account_only() {
        let target = Account::new("alice", "target.example", 22);
        let jump = Account::new("alice", "jump.example", 22);
        let p = FixedPrompter { password: Some((target.clone(), Zeroizing::new("pw".into()))), ..Default::default() };
        assert_eq!(p.password(&target, 1).await.as_deref().map(String::as_str), Some("pw"));
        assert_eq!(p.password(&jump, 1).await, None);
        assert_eq!(p.password(&Account::new("alice", "target.example", 2222), 1).await, None);
        assert_eq!(p.password(&Account::new("bob", "target.example", 22), 1).await, None);
        let hidden = [InteractivePrompt { text: "Password: ".into(), echo: false }];
        assert!(p.keyboard_interactive(&jump, "", "", &hidden).await.is_none());
        assert_eq!(p.keyboard_interactive(&target, "", "", &hidden).await.map(|a| a.len()), Some(1));
    }

    #[test]
    fn only_a_lone_hidden_password_question_is_a_password_round() {
        let prompt = |text: &str, echo: bool| InteractivePrompt { text: text.into(), echo };
        assert!(is_password_round(&[prompt("Password: ", false)]));
        assert!(is_password_round(&[prompt("alice@host's PASSWORD:", false)]));
        // Shown as typed, a one-time code, or more than one question: asked as it is.
        assert!(!is_password_round(&[prompt("Password: ", true)]));
        assert!(!is_password_round(&[prompt("Verification code: ", false)]));
        assert!(!is_password_round(&[prompt("Password: ", false), prompt("Code: ", false)]));
        assert!(!is_password_round(&[]));
    }

    #[tokio::test]
    async fn a_fixed_password_answers_no_one_time_code() {
        let target = Account::new("alice", "target.example", 22);
        let p = FixedPrompter { password: Some((target.clone(), Zeroizing::new("pw".into()))), ..Default::default() };
        let code = [InteractivePrompt { text: "Verification code: ".into(), echo: false }];
        assert!(p.keyboard_interactive(&target, "", "", &code).await.is_none());
    }

    #[test]
    fn account_labels() {
        assert_eq!(Account::new("u", "h", 22).to_string(), "u@h:22");
        assert_eq!(Account::new("u", "::1", 2222).to_string(), "u@[::1]:2222");
    }
}
