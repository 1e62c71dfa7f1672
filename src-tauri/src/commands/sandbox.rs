//! The local sandbox server ("try Skiff without a server"): start it (saving its profile,
//! which replaces an older sandbox profile) and stop it. It is also stopped when the app
//! exits (`AppState::shut_down`).

use skiff_engine::sandbox::Sandbox;
use tauri::State;

use super::blocking;
use crate::convert;
use crate::errors::AppResult;
use crate::ipc::{HostProfile, UiEvent};
use crate::state::{lock, AppState};

#[tauri::command]
pub async fn sandbox_start(state: State<'_, AppState>) -> AppResult<HostProfile> {
    let _one = state.sandbox_op.lock().await;
    let running = {
        let mut slot = lock(&state.sandbox);
        match slot.as_mut() {
            Some(s) => s.is_running().then(|| s.profile()),
            None => None,
        }
    };
    let profile = match running {
        Some(p) => p,
        None => {
            // A server that died is reaped before a new one starts.
            let old = lock(&state.sandbox).take();
            let dir = state.sandbox_dir.clone();
            let sandbox = blocking("start the sandbox", move || {
                drop(old);
                Sandbox::start(&dir)
            })
            .await?;
            let p = sandbox.profile();
            *lock(&state.sandbox) = Some(sandbox);
            p
        }
    };
    let profiles = state.profiles.clone();
    let saved = blocking("save the sandbox host", move || profiles.save(profile)).await?;
    state.hub().emit(UiEvent::Sandbox {
        running: true,
        profile_id: Some(saved.id.clone()),
    });
    Ok(convert::host_profile(&saved, false))
}

#[tauri::command]
pub async fn sandbox_stop(state: State<'_, AppState>) -> AppResult<()> {
    let _one = state.sandbox_op.lock().await;
    let sandbox = lock(&state.sandbox).take();
    if let Some(mut s) = sandbox {
        blocking("stop the sandbox", move || {
            s.stop();
            Ok(())
        })
        .await?;
    }
    state.hub().emit(UiEvent::Sandbox {
        running: false,
        profile_id: None,
    });
    Ok(())
}
