//! The window's commands: thin adapters from IPC types to engine calls, grouped by what the
//! window does. Each returns `Result<_, AppError>`; anything that touches the disk, the
//! keyring or the network is async (blocking engine calls run in `spawn_blocking`). No
//! logic beyond that lives here: it belongs in the engine.

pub mod browse;
pub mod connect;
pub mod hosts;
pub mod queue;
pub mod queue_db;
pub mod sandbox;
pub mod settings;

use crate::errors::{join_error, AppResult};

/// Run a blocking engine call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    op: &str,
    f: impl FnOnce() -> skiff_engine::Result<T> + Send + 'static,
) -> AppResult<T> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| join_error(op, e))??)
}
