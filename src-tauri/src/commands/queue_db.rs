//! When the queue database did not open at startup: what went wrong (for the window's
//! dialog), and the person's answer: move the file aside and start a new queue, try again,
//! or quit. Both ways on restart the app, which opens the queue as at any start.

use tauri::{AppHandle, State};

use super::blocking;
use crate::errors::AppResult;
use crate::ipc::AppError;
use crate::ipc::{QueueTrouble, QueueTroubleChoice};
use crate::state::{lock, move_queue_aside, AppState};

/// Why the queue database did not open, or `None` when it did.
#[tauri::command]
pub fn queue_trouble(state: State<'_, AppState>) -> AppResult<Option<QueueTrouble>> {
    Ok(lock(&state.queue_trouble).clone())
}

#[tauri::command]
pub async fn queue_trouble_answer(
    app: AppHandle,
    state: State<'_, AppState>,
    choice: QueueTroubleChoice,
) -> AppResult<()> {
    let trouble = lock(&state.queue_trouble).clone().ok_or_else(|| {
        AppError::config("The queue database opened normally: there is nothing to move aside.")
    })?;
    match choice {
        QueueTroubleChoice::Quit => app.exit(0),
        QueueTroubleChoice::Retry => app.restart(),
        QueueTroubleChoice::MoveAside => {
            let path = std::path::PathBuf::from(&trouble.path);
            blocking("move the queue database aside", move || move_queue_aside(&path)).await?;
            app.restart();
        }
    }
    Ok(())
}
