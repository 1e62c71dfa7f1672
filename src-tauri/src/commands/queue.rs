//! The transfer queue: queue files (one engine job per source), act on jobs and on the whole
//! queue, list it, and answer overwrite questions. The scheduler does the work; its events
//! reach the window through `events.rs`.

use skiff_engine::engine::copy::into_folder;
use skiff_engine::transfer::OverwriteAnswer;
use tauri::State;

use super::blocking;
use crate::convert;
use crate::errors::AppResult;
use crate::events;
use crate::ipc::{AppError, Enqueue, JobAction, JobView, OverwriteReply, QueueAction};
use crate::state::AppState;

/// Queue one job per source into `dest_dir` (see [`into_folder`]); the overwrite policy is
/// the one in the settings; times and permissions are kept.
#[tauri::command]
pub async fn enqueue(state: State<'_, AppState>, req: Enqueue) -> AppResult<Vec<i64>> {
    let session = state
        .engine
        .sessions()
        .get(&req.session_id)
        .ok_or_else(|| AppError::no_session(&req.session_id))?;
    let policy = convert::policy(state.settings().overwrite);
    let stat = |source: String| {
        let session = session.clone();
        async move {
            session
                .with_sftp(|sftp| {
                    let source = source.clone();
                    async move { sftp.stat(&source).await }
                }, || true)
                .await
        }
    };
    let direction = convert::engine_direction(req.direction);
    let copies = into_folder(direction, &req.sources, &req.dest_dir, policy, stat).await?;
    let (engine, reach) = (state.engine.clone(), session.reach().clone());
    blocking("queue transfer", move || engine.enqueue(&reach, &copies)).await
}

#[tauri::command]
pub async fn job_action(state: State<'_, AppState>, id: i64, action: JobAction) -> AppResult<()> {
    let s = state.engine.scheduler().clone();
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
    let s = state.engine.scheduler().clone();
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
    let s = state.engine.scheduler().clone();
    blocking("list jobs", move || Ok(events::rows(&s.jobs()?))).await
}

#[tauri::command]
pub async fn answer_overwrite(state: State<'_, AppState>, reply: OverwriteReply) -> AppResult<()> {
    state.hub().question_settled(reply.question);
    let answer = OverwriteAnswer {
        choice: convert::overwrite_choice(reply.choice),
        apply_to_all: reply.apply_to_all,
    };
    Ok(state.engine.scheduler().answer(reply.question, answer)?)
}
