//! Connecting and disconnecting browsing sessions, and answering the questions a login asks.

use skiff_engine::engine::Reach;
use tauri::State;

use crate::errors::AppResult;
use crate::ipc::{AppError, ConnectTarget, PromptAnswer, SessionInfo};
use crate::sessions::{self, parse_quick};
use crate::state::AppState;

/// What `target` names: the saved host, or the quick address (resolved through
/// `$SKIFF_SSH_CONFIG` or `~/.ssh/config`).
async fn reach_of(state: &AppState, target: ConnectTarget) -> AppResult<Reach> {
    Ok(match target {
        ConnectTarget::Profile { id } => {
            let profiles = state.profiles.clone();
            let wanted = id.clone();
            let p = super::blocking("find saved host", move || profiles.get(&wanted)).await?;
            Reach::Profile(p.ok_or_else(|| {
                AppError::not_found(format!(
                    "connect: there is no saved host with id {id:?} — reload the host list"
                ))
            })?)
        }
        // Through the default ssh_config, no overrides.
        ConnectTarget::Quick { address } => Reach::Address(
            parse_quick(&address)
                .map_err(|why| AppError::config(format!("connect {address:?}: {why}")))?
                .into(),
        ),
    })
}

/// Connect, log in (asking the window what it must), start SFTP and find the start folder;
/// the window hears each state of the session (see [`skiff_engine::engine::sessions`]).
#[tauri::command]
pub async fn connect(state: State<'_, AppState>, target: ConnectTarget) -> AppResult<SessionInfo> {
    let reach = reach_of(&state, target).await?;
    let session = state.engine.sessions().connect(&reach).await?;
    Ok(sessions::info(&session))
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>, session_id: String) -> AppResult<()> {
    state.engine.sessions().close(&session_id).await;
    Ok(())
}

#[tauri::command]
pub async fn answer_prompt(state: State<'_, AppState>, answer: PromptAnswer) -> AppResult<()> {
    state.prompts.broker.answer(answer)
}
