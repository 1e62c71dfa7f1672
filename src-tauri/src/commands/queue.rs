//! The transfer queue: queue files (one engine job per source), act on jobs and on the whole
//! queue, list it, and answer overwrite questions. The scheduler does the work; its events
//! reach the window through `events.rs`.

use std::path::{Path, PathBuf};

use skiff_engine::store::JobSpec;
use skiff_engine::transfer::{join_remote, remote_basename, OverwriteAnswer};
use skiff_engine::Error;
use tauri::State;

use super::blocking;
use crate::convert;
use crate::errors::AppResult;
use crate::events;
use crate::ipc::{AppError, Direction, Enqueue, JobAction, JobView, OverwriteReply, QueueAction};
use crate::state::AppState;

/// The last component of a local path, as a remote name.
fn local_name(p: &Path) -> AppResult<&str> {
    p.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        AppError::config(format!(
            "upload {}: the name is not valid UTF-8, so it cannot be a remote name — rename it",
            p.display()
        ))
    })
}

/// Queue one job per source into `dest_dir`: a folder is copied with everything in it (into
/// `dest_dir`), a file lands as `dest_dir/NAME`. The overwrite policy is the one in the
/// settings; times and permissions are kept.
#[tauri::command]
pub async fn enqueue(state: State<'_, AppState>, req: Enqueue) -> AppResult<Vec<i64>> {
    let session = state.sessions.get(&req.session_id)?;
    let settings = state.settings();
    let policy = convert::policy(settings.overwrite);
    let mut specs = Vec::new();
    for source in &req.sources {
        let mut spec = JobSpec {
            direction: convert::engine_direction(req.direction),
            host: String::new(),
            user: None,
            port: None,
            ssh_config: None,
            local_path: PathBuf::new(),
            remote_path: String::new(),
            recursive: false,
            overwrite: policy,
            preserve_mtime: true,
            preserve_permissions: true,
            speed_limit: None,
        };
        session.reach.fill_spec(&mut spec);
        match req.direction {
            Direction::Upload => {
                let local = PathBuf::from(source);
                if !local.is_absolute() {
                    return Err(AppError::config(format!(
                        "upload {source:?}: the source must be an absolute local path"
                    )));
                }
                let meta = tokio::fs::metadata(&local)
                    .await
                    .map_err(|e| Error::local_io("queue upload", &local, &e))?;
                spec.recursive = meta.is_dir();
                spec.remote_path = if spec.recursive {
                    req.dest_dir.clone()
                } else {
                    join_remote(&req.dest_dir, local_name(&local)?)
                };
                spec.local_path = local;
            }
            Direction::Download => {
                let dest = PathBuf::from(&req.dest_dir);
                if !dest.is_absolute() {
                    return Err(AppError::config(format!(
                        "download into {:?}: the destination must be an absolute local folder",
                        req.dest_dir
                    )));
                }
                let attrs =
                    session
                        .with_sftp(
                            &state.prompts,
                            |sftp| {
                                let source = source.clone();
                                async move {
                                    sftp.stat(&source).await.map_err(|e| e.op("queue download"))
                                }
                            },
                            || true,
                        )
                        .await?;
                spec.recursive = attrs.is_dir();
                spec.local_path = if spec.recursive {
                    dest
                } else {
                    dest.join(remote_basename(source).map_err(|e| e.path(source.clone()))?)
                };
                spec.remote_path = source.clone();
            }
        }
        specs.push(spec);
    }
    let scheduler = state.scheduler.clone();
    blocking("queue transfer", move || {
        specs.iter().map(|spec| scheduler.add(spec, 0)).collect()
    })
    .await
}

#[tauri::command]
pub async fn job_action(state: State<'_, AppState>, id: i64, action: JobAction) -> AppResult<()> {
    let s = state.scheduler.clone();
    blocking("change job", move || match action {
        JobAction::Pause => s.pause(id),
        JobAction::Resume => s.resume(id),
        JobAction::Cancel => s.cancel(id),
        JobAction::Retry => s.retry(id),
        JobAction::MoveUp => s.move_up(id),
        JobAction::MoveDown => s.move_down(id),
    })
    .await
}

#[tauri::command]
pub async fn queue_action(state: State<'_, AppState>, action: QueueAction) -> AppResult<()> {
    let s = state.scheduler.clone();
    blocking("change queue", move || match action {
        QueueAction::PauseAll => s.pause_all(),
        QueueAction::ResumeAll => s.resume_all(),
        QueueAction::ClearFinished => s.clear_finished().map(|_| ()),
    })
    .await
}

/// Every job, in run order.
#[tauri::command]
pub async fn jobs_list(state: State<'_, AppState>) -> AppResult<Vec<JobView>> {
    let s = state.scheduler.clone();
    blocking("list jobs", move || Ok(events::rows(&s.jobs()?))).await
}

#[tauri::command]
pub async fn answer_overwrite(state: State<'_, AppState>, reply: OverwriteReply) -> AppResult<()> {
    state.hub().question_settled(reply.question);
    let answer = OverwriteAnswer {
        choice: convert::overwrite_choice(reply.choice),
        apply_to_all: reply.apply_to_all,
    };
    Ok(state.scheduler.answer(reply.question, answer)?)
}
