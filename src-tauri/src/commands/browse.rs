//! The two panes: listings (sent in chunks over the call's own channel as they come), the
//! file operations of a file manager, and the local folder watcher. Remote calls reconnect
//! once when they find the connection dropped.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use skiff_engine::browse;
use skiff_engine::sftp::SftpSession;
use skiff_engine::watch;
use tauri::ipc::Channel;
use tauri::State;

use super::blocking;
use crate::convert;
use crate::errors::AppResult;
use crate::ipc::{AppError, ListingChunk, Side, UiEvent};
use skiff_engine::engine::Session;
use crate::state::{lock, AppState};

/// Rows per chunk after the first (the engine makes the first at most 500).
pub const CHUNK: usize = 5000;

/// The person's home folder.
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[tauri::command]
pub fn home_dir() -> AppResult<String> {
    Ok(home().display().to_string())
}

fn local_path(path: &str) -> AppResult<PathBuf> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(AppError::config(format!(
            "use {path:?}: a local path must be absolute"
        )));
    }
    Ok(p.to_path_buf())
}

fn session(state: &AppState, id: &str) -> AppResult<Arc<Session>> {
    state.engine.sessions().get(id).ok_or_else(|| AppError::no_session(id))
}

/// Run one remote operation on session `s`; it is tried again once on a fresh connection
/// when it finds the old one dropped (these operations are safe to repeat).
async fn on_server<T, F, Fut>(s: &Session, op: F) -> AppResult<T>
where
    F: FnMut(SftpSession) -> Fut,
    Fut: Future<Output = skiff_engine::Result<T>>,
{
    Ok(s.with_sftp(op, || true).await?)
}

#[tauri::command]
pub async fn list_dir(
    state: State<'_, AppState>,
    side: Side,
    path: Option<String>,
    on_chunk: Channel<ListingChunk>,
) -> AppResult<String> {
    match side {
        Side::Local => {
            let dir = match path {
                Some(p) => local_path(&p)?,
                None => home(),
            };
            blocking("list folder", move || {
                let shown = std::fs::canonicalize(&dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display()
                    .to_string();
                let resolved = browse::list_local(&dir, CHUNK, |rows| {
                    let entries = rows.into_iter().map(convert::entry).collect();
                    let _ = on_chunk.send(ListingChunk {
                        path: shown.clone(),
                        entries,
                        done: false,
                    });
                })?;
                let resolved = resolved.display().to_string();
                let _ = on_chunk.send(ListingChunk {
                    path: resolved.clone(),
                    entries: Vec::new(),
                    done: true,
                });
                Ok(resolved)
            })
            .await
        }
        Side::Remote { session_id } => {
            let s = session(&state, &session_id)?;
            let dir = path.unwrap_or_else(|| s.start_path().to_string());
            let sent = Arc::new(AtomicBool::new(false));
            let resolved = s
                .with_sftp(
                    |sftp| list_remote(sftp, dir.clone(), on_chunk.clone(), sent.clone()),
                    || !sent.load(Ordering::Relaxed),
                )
                .await?;
            let _ = on_chunk.send(ListingChunk {
                path: resolved.clone(),
                entries: Vec::new(),
                done: true,
            });
            Ok(resolved)
        }
    }
}

/// List a remote folder, sending chunks as they come. The folder's resolved path is asked
/// for alongside the listing (one extra request, no extra round trip), so every chunk
/// carries it.
pub(crate) async fn list_remote(
    sftp: skiff_engine::sftp::SftpSession,
    dir: String,
    on_chunk: Channel<ListingChunk>,
    sent: Arc<AtomicBool>,
) -> skiff_engine::Result<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listing = browse::list_remote(&sftp, &dir, CHUNK, move |rows| {
        let _ = tx.send(rows);
    });
    let forward = async {
        let shown = sftp
            .realpath(if dir.is_empty() { "." } else { &dir })
            .await
            .unwrap_or_else(|_| dir.clone());
        while let Some(rows) = rx.recv().await {
            sent.store(true, Ordering::Relaxed);
            let entries = rows.into_iter().map(convert::entry).collect();
            let _ = on_chunk.send(ListingChunk {
                path: shown.clone(),
                entries,
                done: false,
            });
        }
    };
    let (result, ()) = tokio::join!(listing, forward);
    result
}

#[tauri::command]
pub async fn make_dir(state: State<'_, AppState>, side: Side, path: String) -> AppResult<()> {
    match side {
        Side::Local => {
            let p = local_path(&path)?;
            blocking("create folder", move || browse::local_mkdir(&p)).await
        }
        Side::Remote { session_id } => {
            on_server(&*session(&state, &session_id)?, |sftp| {
                let path = path.clone();
                async move { browse::remote_mkdir(&sftp, &path).await }
            })
            .await
        }
    }
}

#[tauri::command]
pub async fn rename_entry(
    state: State<'_, AppState>,
    side: Side,
    from: String,
    to: String,
) -> AppResult<()> {
    match side {
        Side::Local => {
            let (f, t) = (local_path(&from)?, local_path(&to)?);
            blocking("rename", move || browse::local_rename(&f, &t)).await
        }
        Side::Remote { session_id } => {
            on_server(&*session(&state, &session_id)?, |sftp| {
                let (from, to) = (from.clone(), to.clone());
                async move { browse::remote_rename(&sftp, &from, &to).await }
            })
            .await
        }
    }
}

/// Delete every path (folders with what is in them); all are tried, the first failure is
/// reported with how many failed.
#[tauri::command]
pub async fn delete_entries(
    state: State<'_, AppState>,
    side: Side,
    paths: Vec<String>,
) -> AppResult<()> {
    let mut errors: Vec<AppError> = Vec::new();
    match side {
        Side::Local => {
            let paths = paths
                .iter()
                .map(|p| local_path(p))
                .collect::<AppResult<Vec<_>>>()?;
            let results = blocking("delete", move || {
                Ok(paths
                    .iter()
                    .map(|p| browse::local_remove(p))
                    .collect::<Vec<_>>())
            })
            .await?;
            errors.extend(
                results
                    .into_iter()
                    .filter_map(|r| r.err())
                    .map(AppError::from),
            );
        }
        Side::Remote { session_id } => {
            let s = session(&state, &session_id)?;
            for path in &paths {
                let r = on_server(&s, |sftp| {
                    let path = path.clone();
                    async move { browse::remote_remove(&sftp, &path).await }
                })
                .await;
                if let Err(e) = r {
                    errors.push(e);
                }
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        n => {
            let first = errors.remove(0);
            Err(AppError {
                message: format!(
                    "{} (and {} more of the {} entries could not be deleted)",
                    first.message,
                    n - 1,
                    paths.len()
                ),
                ..first
            })
        }
    }
}

#[tauri::command]
pub async fn change_mode(
    state: State<'_, AppState>,
    side: Side,
    path: String,
    mode: u32,
) -> AppResult<()> {
    match side {
        Side::Local => {
            let p = local_path(&path)?;
            blocking("change permissions", move || browse::local_chmod(&p, mode)).await
        }
        Side::Remote { session_id } => {
            on_server(&*session(&state, &session_id)?, |sftp| {
                let path = path.clone();
                async move { browse::remote_chmod(&sftp, &path, mode).await }
            })
            .await
        }
    }
}

/// Watch one local folder (replacing the previous watch); its changes reach the window as
/// `LocalChanged` events, debounced by the engine and batched by `events.rs`.
#[tauri::command]
pub async fn watch_local(state: State<'_, AppState>, path: String) -> AppResult<()> {
    let dir = local_path(&path)?;
    // Stop the previous watch first, so its last report cannot follow the new folder's.
    drop(lock(&state.watcher).take());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = blocking("watch folder", move || watch::watch_dir(&dir, tx)).await?;
    *lock(&state.watcher) = Some(watcher);
    let hub = state.hub().clone();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            hub.emit(UiEvent::LocalChanged { path: path.clone() });
        }
    });
    Ok(())
}
