//! Settings: read them, and save them to `settings.json` beside the saved hosts; the speed
//! limit applies to the running transfers at once, files-in-flight to the next job.

use tauri::State;

use super::blocking;
use crate::errors::AppResult;
use crate::ipc::Settings;
use crate::state::{lock, sanitize, save_settings, AppState};

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> AppResult<Settings> {
    Ok(state.settings())
}

#[tauri::command]
pub async fn settings_save(state: State<'_, AppState>, settings: Settings) -> AppResult<()> {
    let settings = sanitize(settings);
    let path = state.settings_path.clone();
    let to_save = settings.clone();
    blocking("save settings", move || save_settings(&path, &to_save)).await?;
    state.engine.scheduler().set_speed_limit(settings.speed_limit);
    *lock(&state.settings) = settings;
    Ok(())
}
