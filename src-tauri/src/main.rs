//! Skiff's desktop window: a Tauri v2 shell over `skiff-engine`.
//!
//! # Layout
//! - [`ipc`]: the IPC contract (types shared with the window, TypeScript generated from them).
//! - `commands/`: the window's commands, thin adapters over the engine.
//! - [`events`]: the one place engine events become window events, batched.
//! - [`prompter`]: the window as the engine's prompter (passwords, host keys).
//! - [`sessions`]: live browsing sessions, quick-connect parsing, logging in.
//! - [`state`]: what the commands share, built at startup; settings.
//! - [`convert`]: engine types ↔ IPC types.
//! - [`errors`]: engine errors → `{ code, message }`.
//!
//! No plugins: the window gets no shell, file-system or opener access, only these commands.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
// The engine's `Error` is large by design (see skiff-engine's lib.rs).
#![allow(clippy::result_large_err)]

mod commands;
mod convert;
mod errors;
mod events;
mod ipc;
#[cfg(test)]
mod live_tests;
mod prompter;
mod sessions;
mod state;

use tauri::{Manager, RunEvent};

use crate::errors::AppResult;
use crate::ipc::UiEvent;
use crate::state::AppState;

/// The window calls this once when it starts (and again after a reload): later events go to
/// `channel`, questions still open are asked again.
#[tauri::command]
fn subscribe(
    state: tauri::State<'_, AppState>,
    channel: tauri::ipc::Channel<UiEvent>,
) -> AppResult<()> {
    state.hub().subscribe(channel);
    state.prompts.broker.resend_open(state.hub());
    Ok(())
}

/// SIGTERM or SIGINT end the app the orderly way (the `Exit` event below), so the sandbox's
/// sshd and the transfers are stopped rather than orphaned.
fn exit_on_signal(handle: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.exit(0);
    });
    #[cfg(not(unix))]
    let _ = handle;
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            subscribe,
            commands::hosts::hosts_list,
            commands::hosts::host_save,
            commands::hosts::host_delete,
            commands::hosts::host_duplicate,
            commands::hosts::hosts_import,
            commands::connect::connect,
            commands::connect::disconnect,
            commands::connect::answer_prompt,
            commands::browse::home_dir,
            commands::browse::list_dir,
            commands::browse::make_dir,
            commands::browse::rename_entry,
            commands::browse::delete_entries,
            commands::browse::change_mode,
            commands::browse::watch_local,
            commands::queue::enqueue,
            commands::queue::job_action,
            commands::queue::queue_action,
            commands::queue::jobs_list,
            commands::queue::answer_overwrite,
            commands::queue_db::queue_trouble,
            commands::queue_db::queue_trouble_answer,
            commands::settings::settings_get,
            commands::settings::settings_save,
            commands::sandbox::sandbox_start,
            commands::sandbox::sandbox_stop,
        ])
        .setup(|app| {
            let data_dir = app.path().app_data_dir().ok();
            // Inside the async runtime: the scheduler and the event forwarder spawn tasks.
            let state = tauri::async_runtime::block_on(async move { AppState::start(data_dir) })
                .map_err(|e| format!("Skiff could not start: {e}"))?;
            app.manage(state);
            exit_on_signal(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("skiff-app: {e}");
            std::process::exit(1);
        });
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            if let Some(state) = handle.try_state::<AppState>() {
                state.shut_down();
            }
        }
    });
}
