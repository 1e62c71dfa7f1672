//! Authentication in OpenSSH's order: agent keys, key files (asking for a passphrase when a
//! key is encrypted), keyboard-interactive, password. Runs only after the host key was
//! accepted. When everything fails, the error lists what was tried and why each failed,
//! without ever echoing a secret.
//!
//! Every secret is asked for the [`Account`] being logged in to (`user@host:port`, the
//! ProxyJump host's own when logging in to a hop), and wiped from memory after use (what
//! russh copies into its packets is its own).

use std::path::Path;
use std::sync::Arc;

use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::{self, PrivateKeyWithHashAlg};
use russh::MethodKind;

use super::connect::{ClientHandler, ConnectOptions};
use super::prompt::{Account, InteractivePrompt};
use crate::error::{Error, ErrorKind, Result};

/// OpenSSH's NumberOfPasswordPrompts.
const PASSWORD_TRIES: usize = 3;

struct Attempts {
    tried: Vec<String>,
    /// Methods the server still accepts; `None` until the first failure tells us.
    allowed: Option<Vec<MethodKind>>,
}

impl Attempts {
    fn allows(&self, m: MethodKind) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(&m))
    }
    fn record(&mut self, what: String, result: &AuthResult) -> bool {
        match result {
            AuthResult::Success => true,
            AuthResult::Failure { remaining_methods, .. } => {
                self.allowed = Some(remaining_methods.iter().copied().collect());
                self.tried.push(what);
                false
            }
        }
    }
}

fn net(e: russh::Error, label: &str) -> Error {
    Error::network("authenticate", e.to_string()).host(label)
}

pub(super) async fn authenticate(handle: &mut Handle<ClientHandler>, opts: &ConnectOptions) -> Result<()> {
    let label = opts.label();
    let user = opts.host.user.clone();
    let account = opts.account();
    let mut at = Attempts { tried: Vec::new(), allowed: None };

    // 1. Agent keys (unless IdentitiesOnly and the key is not one of ours).
    if !opts.host.identities_only {
        if let Ok(mut agent) = keys::agent::client::AgentClient::connect_env().await {
            if let Ok(ids) = agent.request_identities().await {
                for id in ids {
                    if !at.allows(MethodKind::PublicKey) {
                        break;
                    }
                    let keys::agent::AgentIdentity::PublicKey { key, comment } = id else { continue };
                    let hash = rsa_hash(handle, &key).await;
                    match handle.authenticate_publickey_with(&user, key, hash, &mut agent).await {
                        Ok(r) => {
                            if at.record(format!("agent key {comment} (rejected)"), &r) {
                                return Ok(());
                            }
                        }
                        Err(e) => at.tried.push(format!("agent key {comment} ({e})")),
                    }
                }
            }
        }
    }

    // 2. Key files.
    for path in &opts.host.identity_files {
        if !at.allows(MethodKind::PublicKey) {
            break;
        }
        if !path.exists() {
            if opts.host.identity_files_explicit {
                at.tried.push(format!("key {} (file not found)", path.display()));
            }
            continue;
        }
        let key = match load_key(path, &account, opts).await {
            Ok(k) => k,
            Err(why) => {
                at.tried.push(format!("key {} ({why})", path.display()));
                continue;
            }
        };
        let hash = rsa_hash(handle, key.public_key()).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        let r = handle.authenticate_publickey(&user, key).await.map_err(|e| net(e, &label))?;
        if at.record(format!("key {} (rejected)", path.display()), &r) {
            return Ok(());
        }
    }

    // 3. Keyboard-interactive.
    if at.allows(MethodKind::KeyboardInteractive) && keyboard_interactive(handle, opts, &account, &mut at).await? {
        return Ok(());
    }

    // 4. Password.
    if at.allows(MethodKind::Password) {
        for attempt in 1..=PASSWORD_TRIES {
            let Some(pw) = opts.prompter.password(&account, attempt).await else {
                at.tried.push("password (none given)".into());
                break;
            };
            let r = handle.authenticate_password(&user, pw.as_str()).await.map_err(|e| net(e, &label))?;
            drop(pw);
            if at.record("password (rejected)".into(), &r) {
                return Ok(());
            }
            if !at.allows(MethodKind::Password) {
                break;
            }
        }
    }

    let tried = if at.tried.is_empty() { "nothing to try".to_string() } else { at.tried.join(", ") };
    Err(Error::new(ErrorKind::Auth, "authenticate", format!("permission denied for user {user}; tried: {tried}"))
        .host(label)
        .hint("check the user name, the password or key, and that the key is in the server's authorized_keys"))
}

async fn rsa_hash(handle: &Handle<ClientHandler>, key: &keys::PublicKey) -> Option<keys::HashAlg> {
    if matches!(key.algorithm(), keys::Algorithm::Rsa { .. }) {
        handle.best_supported_rsa_hash().await.ok().flatten().flatten()
    } else {
        None
    }
}

/// Load a private key, asking for its passphrase if it is encrypted.
async fn load_key(path: &Path, account: &Account, opts: &ConnectOptions) -> std::result::Result<keys::PrivateKey, String> {
    match keys::load_secret_key(path, None) {
        Ok(k) => Ok(k),
        Err(keys::Error::KeyIsEncrypted) => {
            let Some(pass) = opts.prompter.passphrase(account, path).await else {
                return Err("encrypted, no passphrase given".into());
            };
            keys::load_secret_key(path, Some(pass.as_str())).map_err(|_| "wrong passphrase".to_string())
        }
        Err(e) => Err(format!("unreadable: {e}")),
    }
}

async fn keyboard_interactive(
    handle: &mut Handle<ClientHandler>,
    opts: &ConnectOptions,
    account: &Account,
    at: &mut Attempts,
) -> Result<bool> {
    let label = opts.label();
    let mut resp = handle
        .authenticate_keyboard_interactive_start(account.user.as_str(), None::<String>)
        .await
        .map_err(|e| net(e, &label))?;
    for _round in 0..8 {
        match resp {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { remaining_methods, .. } => {
                at.allowed = Some(remaining_methods.iter().copied().collect());
                at.tried.push("keyboard-interactive (rejected)".into());
                return Ok(false);
            }
            KeyboardInteractiveAuthResponse::InfoRequest { name, instructions, prompts } => {
                let prompts: Vec<InteractivePrompt> =
                    prompts.into_iter().map(|p| InteractivePrompt { text: p.prompt, echo: p.echo }).collect();
                let Some(answers) = opts.prompter.keyboard_interactive(account, &name, &instructions, &prompts).await else {
                    at.tried.push("keyboard-interactive (no answer given)".into());
                    // Abandon the exchange: any other method request resets it server-side.
                    return Ok(false);
                };
                // russh takes owned strings; ours are wiped when `answers` drops.
                let copies: Vec<String> = answers.iter().map(|a| a.as_str().to_owned()).collect();
                drop(answers);
                resp = handle
                    .authenticate_keyboard_interactive_respond(copies)
                    .await
                    .map_err(|e| net(e, &label))?;
            }
        }
    }
    at.tried.push("keyboard-interactive (too many rounds)".into());
    Ok(false)
}
