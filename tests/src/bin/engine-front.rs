//! `engine-front`: a front end of a few lines over [`skiff_engine::Engine`], started the way
//! the window starts its engine (every unfinished job of the queue is picked up; questions
//! could be answered), for tests that hand a job from one front end to another.
//!
//! ```text
//! engine-front enqueue PROFILE_ID REMOTE_FILE LOCAL_DIR [BYTES_PER_SEC]
//!     queue a download from a saved host into LOCAL_DIR, by the window's rule (the file
//!     lands under its own name), then run until the queue is idle
//! engine-front run
//!     run until the queue is idle
//! ```
//! The queue is `$SKIFF_QUEUE_DB`, the saved hosts `$SKIFF_CONFIG_DIR`. Nobody answers a
//! login's questions: keys only, known host keys only. Exit 0 when every job in the queue is
//! done; 1 (with each job's error) otherwise.

use std::sync::Arc;

use skiff_engine::engine::copy::into_folder;
use skiff_engine::engine::{default_ssh_config, EngineConfig, NoLogins, Reach};
use skiff_engine::scheduler::{self, Scope};
use skiff_engine::sftp::InFlightBudget;
use skiff_engine::ssh::Connection;
use skiff_engine::store::profiles::Profiles;
use skiff_engine::job::{Direction, JobState, OverwritePolicy};
use skiff_engine::store::Queue;
use skiff_engine::transfer::{TransferOptions, TreeOptions};
use skiff_engine::{Engine, Error, ErrorKind, Result};

fn usage() -> Error {
    Error::new(ErrorKind::Config, "engine-front", "usage: engine-front enqueue PROFILE_ID REMOTE_FILE LOCAL_DIR [BYTES_PER_SEC] | run")
}

async fn enqueue(engine: &Engine, profiles: &Profiles, args: &[String]) -> Result<()> {
    let [id, remote, local_dir, rest @ ..] = args else { return Err(usage()) };
    let profile = profiles.get(id)?.ok_or_else(|| Error::new(ErrorKind::NotFound, "engine-front", format!("no saved host {id}")))?;
    let reach = Reach::Profile(profile);
    // The window looks at a remote source through its browsing session; this front end
    // opens one connection for it.
    let conn = Connection::connect(&engine.connect_options(&reach)?).await?;
    let sftp = conn.open_sftp(InFlightBudget::new(1 << 20)).await?;
    let stat = |path: String| {
        let sftp = sftp.clone();
        async move { sftp.stat(&path).await }
    };
    let mut copies = into_folder(Direction::Download, std::slice::from_ref(remote), local_dir, OverwritePolicy::Overwrite, stat).await?;
    conn.disconnect().await;
    if let Some(limit) = rest.first() {
        let limit = limit.parse().map_err(|_| usage())?;
        copies.iter_mut().for_each(|c| c.speed_limit = Some(limit));
    }
    let ids = engine.enqueue(&reach, &copies)?;
    println!("queued {ids:?}");
    Ok(())
}

async fn main_async(args: Vec<String>) -> Result<()> {
    let queue = Arc::new(Queue::open(&Queue::default_path()).map_err(|e| Error::new(ErrorKind::LocalIo, "open the queue", e.to_string()))?);
    let profiles = Arc::new(Profiles::open(&Profiles::default_dir())?);
    let (engine, task) = Engine::start(EngineConfig {
        queue: queue.clone(),
        profiles: Some(profiles.clone()),
        ssh_config: default_ssh_config(),
        logins: Arc::new(NoLogins),
        scheduler: scheduler::Config { can_ask: true, scope: Scope::All, ..scheduler::Config::default() },
        tuning: Arc::new(|| (TransferOptions::default(), TreeOptions::default())),
    })?;
    match args.first().map(String::as_str) {
        Some("enqueue") => enqueue(&engine, &profiles, &args[1..]).await?,
        Some("run") => {}
        _ => return Err(usage()),
    }
    engine.scheduler().reconcile();
    engine.scheduler().idle().await;
    engine.scheduler().shutdown();
    let _ = task.await;
    let jobs = queue.list().map_err(|e| Error::new(ErrorKind::LocalIo, "list the queue", e.to_string()))?;
    let unfinished: Vec<_> = jobs.iter().filter(|j| j.state != JobState::Done).collect();
    for j in &unfinished {
        eprintln!("engine-front: job {} is {}: {}", j.id, j.state, j.error.as_deref().unwrap_or("-"));
    }
    if unfinished.is_empty() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Remote, "engine-front", format!("{} job(s) not done", unfinished.len())))
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(main_async(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engine-front: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
