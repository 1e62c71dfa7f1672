//! Passwords and key passphrases, kept in the OS keyring only (Secret Service on Linux —
//! gnome-keyring or KWallet —, Keychain on macOS, Credential Manager on Windows) through the
//! `keyring` crate.
//!
//! This module owns the naming of entries and nothing else. A secret belongs to exactly one
//! login, `user@host:port` (an [`Account`]): the entry's account is
//! `"password:user@host:port"` or `"passphrase:user@host:port"`, so a saved host's password is
//! never found for another host — not for its ProxyJump hosts (each has its own entry), and
//! not after the saved host's address was edited. It never writes a secret to a file and
//! never logs one (errors name the account and the kind of secret, never its value); what it
//! reads is returned as a [`Zeroizing`] string, wiped when dropped. Calls block (D-Bus round
//! trips); async callers wrap them in `spawn_blocking`.
//!
//! Entries of earlier versions (`"{profile_id}:password"`) are not read: they do not say
//! which host they belong to. Such a password is asked for once more.

use crate::error::{Error, ErrorKind, Result};
use crate::ssh::{Account, Secret, Zeroizing};

/// The keyring service name Skiff's entries live under.
const SERVICE: &str = "skiff";

/// Which secret of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The login password.
    Password,
    /// The passphrase of the profile's private key.
    Passphrase,
}

impl SecretKind {
    /// The name of this kind in keyring entries.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::Passphrase => "passphrase",
        }
    }
}

/// The OS keyring, seen as Skiff's secrets.
#[derive(Debug, Clone)]
pub struct Secrets {
    service: String,
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets::new()
    }
}

impl Secrets {
    /// Entries under the service `skiff`.
    pub fn new() -> Secrets {
        Secrets::with_service(SERVICE)
    }

    /// Entries under another service name (tests use their own).
    pub fn with_service(service: &str) -> Secrets {
        Secrets { service: service.to_string() }
    }

    fn entry(&self, owner: &Account, kind: SecretKind) -> Result<keyring::Entry> {
        let name = entry_name(owner, kind);
        keyring::Entry::new(&self.service, &name).map_err(|e| failure("open", owner, kind, &e))
    }

    /// Store (or replace) `owner`'s secret.
    pub fn set(&self, owner: &Account, kind: SecretKind, secret: &str) -> Result<()> {
        self.entry(owner, kind)?
            .set_password(secret)
            .map_err(|e| failure("store", owner, kind, &e))
    }

    /// `owner`'s stored secret, or `None` when there is none.
    pub fn get(&self, owner: &Account, kind: SecretKind) -> Result<Option<Secret>> {
        match self.entry(owner, kind)?.get_password() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(failure("read", owner, kind, &e)),
        }
    }

    /// Forget a secret; forgetting one that is not there is fine.
    pub fn delete(&self, owner: &Account, kind: SecretKind) -> Result<()> {
        match self.entry(owner, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(failure("delete", owner, kind, &e)),
        }
    }
}

/// The keyring account name of `owner`'s secret: `password:user@host:port`.
pub fn entry_name(owner: &Account, kind: SecretKind) -> String {
    format!("{}:{owner}", kind.as_str())
}

fn failure(what: &str, owner: &Account, kind: SecretKind, e: &keyring::Error) -> Error {
    // keyring's messages describe the store's failure; they never contain the secret.
    let hint = match e {
        keyring::Error::BadEncoding(_) | keyring::Error::TooLong(..) | keyring::Error::Invalid(..) => {
            "the keyring refused this entry; remove it with your keyring manager and save the secret again"
        }
        _ => "is a Secret Service (gnome-keyring, KWallet) running and unlocked?",
    };
    Error::new(
        ErrorKind::Keyring,
        "keyring",
        format!("cannot {what} the {} of {owner} in the OS keyring: {e}", kind.as_str()),
    )
    .host(owner.to_string())
    .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_per_account() {
        let a = Account::new("alice", "target.example", 22);
        assert_eq!(entry_name(&a, SecretKind::Password), "password:alice@target.example:22");
        assert_eq!(entry_name(&a, SecretKind::Passphrase), "passphrase:alice@target.example:22");
        // Another port, user or host is another entry.
        for other in [
            Account::new("alice", "target.example", 2222),
            Account::new("bob", "target.example", 22),
            Account::new("alice", "jump.example", 22),
        ] {
            assert_ne!(entry_name(&other, SecretKind::Password), entry_name(&a, SecretKind::Password));
        }
    }

    #[test]
    fn failures_never_show_the_secret_and_say_what_to_do() {
        let a = Account::new("alice", "h", 22);
        let e = failure("store", &a, SecretKind::Password, &keyring::Error::NoStorageAccess("locked".into()));
        assert_eq!(e.kind, ErrorKind::Keyring);
        let s = e.to_string();
        assert!(s.contains("alice@h:22") && s.contains("password") && s.contains("Secret Service"), "{s}");
    }
}
