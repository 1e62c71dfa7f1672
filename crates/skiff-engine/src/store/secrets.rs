//! Passwords and key passphrases, kept in the OS keyring only (Secret Service on Linux —
//! gnome-keyring or KWallet —, Keychain on macOS, Credential Manager on Windows) through the
//! `keyring` crate.
//!
//! This module owns the naming of entries (service `skiff`, account
//! `"{profile_id}:password"` or `"{profile_id}:passphrase"`) and nothing else: it never
//! writes a secret to a file and never logs one (errors name the profile and the kind of
//! secret, never its value). Calls block (D-Bus round trips); async callers wrap them in
//! `spawn_blocking`.

use crate::error::{Error, ErrorKind, Result};

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
    fn as_str(self) -> &'static str {
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

    fn entry(&self, profile_id: &str, kind: SecretKind) -> Result<keyring::Entry> {
        let account = account(profile_id, kind);
        keyring::Entry::new(&self.service, &account).map_err(|e| failure("open", profile_id, kind, &e))
    }

    /// Store (or replace) a secret.
    pub fn set(&self, profile_id: &str, kind: SecretKind, secret: &str) -> Result<()> {
        self.entry(profile_id, kind)?
            .set_password(secret)
            .map_err(|e| failure("store", profile_id, kind, &e))
    }

    /// The stored secret, or `None` when there is none.
    pub fn get(&self, profile_id: &str, kind: SecretKind) -> Result<Option<String>> {
        match self.entry(profile_id, kind)?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(failure("read", profile_id, kind, &e)),
        }
    }

    /// Forget a secret; forgetting one that is not there is fine.
    pub fn delete(&self, profile_id: &str, kind: SecretKind) -> Result<()> {
        match self.entry(profile_id, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(failure("delete", profile_id, kind, &e)),
        }
    }
}

/// The keyring account of a profile's secret.
fn account(profile_id: &str, kind: SecretKind) -> String {
    format!("{profile_id}:{}", kind.as_str())
}

fn failure(what: &str, profile_id: &str, kind: SecretKind, e: &keyring::Error) -> Error {
    // keyring's messages describe the store's failure; they never contain the secret.
    let hint = match e {
        keyring::Error::BadEncoding(_) | keyring::Error::TooLong(..) | keyring::Error::Invalid(..) => {
            "the keyring refused this entry; remove it with your keyring manager and save the secret again"
        }
        _ => "is a Secret Service (gnome-keyring, KWallet) running and unlocked?",
    };
    Error::new(
        ErrorKind::LocalIo,
        "keyring",
        format!("cannot {what} the {} of saved host {profile_id} in the OS keyring: {e}", kind.as_str()),
    )
    .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        assert_eq!(account("abc123", SecretKind::Password), "abc123:password");
        assert_eq!(account("abc123", SecretKind::Passphrase), "abc123:passphrase");
    }

    #[test]
    fn failures_never_show_the_secret_and_say_what_to_do() {
        let e = failure("store", "p1", SecretKind::Password, &keyring::Error::NoStorageAccess("locked".into()));
        assert_eq!(e.kind, ErrorKind::LocalIo);
        assert_eq!(e.op, "keyring");
        let s = e.to_string();
        assert!(s.contains("p1") && s.contains("password") && s.contains("Secret Service"), "{s}");
    }
}
