//! [`Prompter`]: how the engine asks a person for secrets and decisions.
//!
//! The CLI answers on the terminal, the window answers with dialogs, tests answer with fixed
//! values. The engine never reads a terminal itself. Owns only the trait and two simple
//! implementations.

use std::path::Path;

use futures::future::BoxFuture;

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

/// A host key presented by a server we have not seen before.
#[derive(Debug, Clone)]
pub struct UnknownHostKey {
    pub host: String,
    pub port: u16,
    pub key_type: String,
    /// `SHA256:...`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
}

/// One keyboard-interactive prompt.
#[derive(Debug, Clone)]
pub struct InteractivePrompt {
    pub text: String,
    pub echo: bool,
}

/// Answers the engine's questions. Every method may return `None` ("no answer"), which the
/// engine treats as "skip this method".
pub trait Prompter: Send + Sync {
    /// The password for `user@host`.
    fn password<'a>(&'a self, user: &'a str, host: &'a str) -> BoxFuture<'a, Option<String>>;
    /// The passphrase of the private key at `key_path`.
    fn passphrase<'a>(&'a self, key_path: &'a Path) -> BoxFuture<'a, Option<String>>;
    /// Answers to a keyboard-interactive round.
    fn keyboard_interactive<'a>(
        &'a self,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<String>>>;
    /// Whether to trust a host key that is not in known_hosts.
    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision>;
}

/// Answers nothing and trusts nothing: for batch use and tests.
#[derive(Debug, Default, Clone)]
pub struct NoPrompter;

impl Prompter for NoPrompter {
    fn password<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
    fn passphrase<'a>(&'a self, _: &'a Path) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
    fn keyboard_interactive<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        Box::pin(async { None })
    }
    fn unknown_host_key<'a>(&'a self, _: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async { HostKeyDecision::Reject })
    }
}

/// Fixed answers: a password and/or passphrase given up front (tests, scripts).
#[derive(Debug, Default, Clone)]
pub struct FixedPrompter {
    pub password: Option<String>,
    pub passphrase: Option<String>,
    pub host_key: Option<HostKeyDecision>,
}

impl Prompter for FixedPrompter {
    fn password<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { self.password.clone() })
    }
    fn passphrase<'a>(&'a self, _: &'a Path) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { self.passphrase.clone() })
    }
    fn keyboard_interactive<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            // Answer a lone hidden prompt (the usual "Password:") with the password.
            match (prompts, &self.password) {
                ([p], Some(pw)) if !p.echo => Some(vec![pw.clone()]),
                ([], _) => Some(vec![]),
                _ => None,
            }
        })
    }
    fn unknown_host_key<'a>(&'a self, _: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async { self.host_key.unwrap_or(HostKeyDecision::Reject) })
    }
}
