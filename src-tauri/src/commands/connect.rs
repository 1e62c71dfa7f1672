//! Connecting and disconnecting browsing sessions, and answering the questions a login asks.

use std::sync::Arc;

use skiff_engine::ssh::NoPrompter;
use tauri::State;

use crate::errors::AppResult;
use crate::ipc::{AppError, ConnectTarget, ConnectionState, PromptAnswer, SessionInfo};
use crate::prompter::Mode;
use crate::sessions::{self, connection_event, parse_quick};
use skiff_engine::engine::Reach;
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

/// Connect, log in (asking the window what it must), start SFTP and find the start folder.
#[tauri::command]
pub async fn connect(state: State<'_, AppState>, target: ConnectTarget) -> AppResult<SessionInfo> {
    let reach = reach_of(&state, target).await?;
    let label = reach.connect_options(Arc::new(NoPrompter))?.label();
    let pending = state.sessions.reserve_id();
    let hub = state.hub();
    hub.emit(connection_event(
        &pending,
        &label,
        ConnectionState::Connecting,
        None,
    ));
    let logged_in = async {
        let (conn, sftp, label) = sessions::log_in(&state.prompts, &reach, Mode::Connect).await?;
        let wanted = match &reach {
            Reach::Profile(p) => p.remote_start.clone(),
            Reach::Address(_) => None,
        };
        // The saved start folder, resolved (`~`-free, links followed); the login folder when
        // it is unset or gone.
        let start = match wanted {
            Some(w) => match sftp.realpath(&w).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("{e}");
                    sftp.realpath(".").await?
                }
            },
            None => sftp.realpath(".").await?,
        };
        Ok::<_, skiff_engine::Error>((conn, sftp, label, start))
    };
    match logged_in.await {
        Ok((conn, sftp, label, start)) => {
            // The session's watcher reconnects through the window's prompts when it drops.
            let (sessions, prompts) = (&state.sessions, &state.prompts);
            let info = sessions.insert(prompts, pending, conn, sftp, reach, label, start);
            sessions::emit_state(hub, &info, ConnectionState::Connected, None);
            Ok(info)
        }
        Err(e) => {
            let error = AppError::from(e);
            hub.emit(connection_event(
                &pending,
                &label,
                ConnectionState::Disconnected,
                Some(error.clone()),
            ));
            Err(error)
        }
    }
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>, session_id: String) -> AppResult<()> {
    if let Some(s) = state.sessions.remove(&session_id) {
        s.close().await;
        sessions::emit_state(state.hub(), &s.info, ConnectionState::Disconnected, None);
    }
    Ok(())
}

#[tauri::command]
pub async fn answer_prompt(state: State<'_, AppState>, answer: PromptAnswer) -> AppResult<()> {
    state.prompts.broker.answer(answer)
}
