//! Saved hosts: list (with whether the keyring holds a secret), save (the secret goes to the
//! keyring, never to the file), delete (with its secrets), duplicate, import from ssh_config.
//!
//! A saved host's secret is the keyring entry of its target account (`user@host:port`, the
//! host resolved through ssh_config as a login resolves it): editing the address leaves the
//! old secret with the old account, where it is offered to no other host.

use skiff_engine::ssh::Account;
use skiff_engine::engine::{import_ssh_config_path, Reach};
use skiff_engine::store::profiles::{AuthKind, Profile};
use skiff_engine::store::secrets::{SecretKind, Secrets};
use tauri::State;

use super::blocking;
use crate::convert;
use crate::errors::AppResult;
use crate::ipc::{HostProfile, SaveHost};
use crate::state::AppState;

/// The keyring entries that can hold a profile's secret.
pub fn secret_kinds(auth: &AuthKind) -> &'static [SecretKind] {
    match auth {
        AuthKind::Password => &[SecretKind::Password],
        AuthKind::Key => &[SecretKind::Passphrase],
        AuthKind::Auto => &[SecretKind::Password, SecretKind::Passphrase],
    }
}

/// Where a secret typed in the host editor goes.
pub fn secret_kind_for_save(auth: &AuthKind) -> SecretKind {
    match auth {
        AuthKind::Key => SecretKind::Passphrase,
        AuthKind::Password | AuthKind::Auto => SecretKind::Password,
    }
}

/// The account a saved host logs in to (its secrets' owner), as the engine resolves it.
pub fn profile_account(p: &Profile) -> Account {
    Reach::Profile(p.clone()).account()
}

/// Whether the keyring holds a secret for `p`.
pub fn has_secret(secrets: &Secrets, p: &Profile) -> skiff_engine::Result<bool> {
    let owner = profile_account(p);
    for &k in secret_kinds(&p.auth) {
        if secrets.get(&owner, k)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[tauri::command]
pub async fn hosts_list(state: State<'_, AppState>) -> AppResult<Vec<HostProfile>> {
    let profiles = state.profiles.clone();
    let secrets = state.prompts.secrets.clone();
    blocking("list saved hosts", move || {
        // A keyring that cannot be reached (no Secret Service running) holds nothing: the
        // list still loads, and the keyring is not asked again for every host.
        let mut keyring_ok = true;
        let rows = profiles
            .list()?
            .iter()
            .map(|p| {
                let has = keyring_ok
                    && has_secret(&secrets, p).unwrap_or_else(|e| {
                        tracing::warn!("{e}");
                        keyring_ok = false;
                        false
                    });
                convert::host_profile(p, has)
            })
            .collect();
        Ok(rows)
    })
    .await
}

#[tauri::command]
pub async fn host_save(state: State<'_, AppState>, req: SaveHost) -> AppResult<HostProfile> {
    let profiles = state.profiles.clone();
    let secrets = state.prompts.secrets.clone();
    let known = state.prompts.known.clone();
    blocking("save host", move || {
        let stored = if req.profile.id.is_empty() {
            None
        } else {
            profiles.get(&req.profile.id)?
        };
        let saved = profiles.save(convert::profile(req.profile, stored.as_ref()))?;
        let owner = profile_account(&saved);
        let secret = req.secret.map(skiff_engine::ssh::Zeroizing::new);
        match secret.as_deref().map(String::as_str) {
            None => {}
            Some("") => {
                for &k in secret_kinds(&AuthKind::Auto) {
                    secrets.delete(&owner, k)?;
                }
                known.forget(&owner);
            }
            Some(secret) => {
                secrets.set(&owner, secret_kind_for_save(&saved.auth), secret)?;
                known.forget(&owner);
            }
        }
        let has = has_secret(&secrets, &saved).unwrap_or(false);
        Ok(convert::host_profile(&saved, has))
    })
    .await
}

#[tauri::command]
pub async fn host_delete(state: State<'_, AppState>, id: String) -> AppResult<()> {
    let profiles = state.profiles.clone();
    let secrets = state.prompts.secrets.clone();
    let known = state.prompts.known.clone();
    blocking("delete saved host", move || {
        let owner = profiles.get(&id)?.map(|p| profile_account(&p));
        profiles.delete(&id)?;
        let Some(owner) = owner else { return Ok(()) };
        // Another saved host logging in to the same account keeps its secrets.
        if profiles.list()?.iter().any(|p| profile_account(p) == owner) {
            return Ok(());
        }
        known.forget(&owner);
        for &k in secret_kinds(&AuthKind::Auto) {
            if let Err(e) = secrets.delete(&owner, k) {
                // The host is gone; a keyring that cannot be reached keeps nothing useful.
                tracing::warn!("{e}");
            }
        }
        Ok(())
    })
    .await
}

#[tauri::command]
pub async fn host_duplicate(state: State<'_, AppState>, id: String) -> AppResult<HostProfile> {
    let profiles = state.profiles.clone();
    blocking("duplicate saved host", move || {
        Ok(convert::host_profile(&profiles.duplicate(&id)?, false))
    })
    .await
}

#[tauri::command]
pub async fn hosts_import(state: State<'_, AppState>) -> AppResult<Vec<HostProfile>> {
    let profiles = state.profiles.clone();
    blocking("import ssh config", move || {
        Ok(profiles
            .import_ssh_config(&import_ssh_config_path())?
            .iter()
            .map(|p| convert::host_profile(p, false))
            .collect())
    })
    .await
}
