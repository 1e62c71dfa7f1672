//! [`AppState`]: what the commands share, built once at startup: the event hub and its
//! forwarding task, the prompts, saved hosts and keyring, settings (`settings.json` beside
//! the saved hosts), the engine (the persisted queue and its scheduler, each job connecting
//! through the saved host or address it was queued with, and the browsing sessions, whose
//! state changes it forwards to the window), the local folder watcher and the sandbox.
//!
//! Owns the startup order and the settings file; everything else it only holds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use skiff_engine::engine::{default_ssh_config, EngineConfig, Tuning};
use skiff_engine::sandbox::Sandbox;
use skiff_engine::scheduler::{self, Scope};
use skiff_engine::store::owner_only;
use skiff_engine::store::profiles::Profiles;
use skiff_engine::store::secrets::Secrets;
use skiff_engine::store::Queue;
use skiff_engine::transfer::{TransferOptions, TreeOptions};
use skiff_engine::watch::LocalWatcher;
use skiff_engine::{Engine, Error, ErrorKind, Result};

use crate::events::{self, EventHub};
use crate::ipc::{QueueTrouble, Settings};
use crate::prompter::{KnownSecrets, PromptBroker, PromptContext};
use crate::sessions::{self, WindowLogins};

/// The settings file, in the saved hosts' folder.
pub const SETTINGS_FILE: &str = "settings.json";

pub struct AppState {
    pub prompts: PromptContext,
    pub profiles: Arc<Profiles>,
    pub settings: Arc<Mutex<Settings>>,
    pub settings_path: PathBuf,
    pub engine: Engine,
    pub watcher: Mutex<Option<LocalWatcher>>,
    pub sandbox: Arc<Mutex<Option<Sandbox>>>,
    /// One sandbox start or stop at a time.
    pub sandbox_op: tokio::sync::Mutex<()>,
    /// Where the sandbox keeps its keys, configuration and files.
    pub sandbox_dir: PathBuf,
    /// Why the queue database did not open at startup, until the person answers (the
    /// scheduler meanwhile runs over an empty in-memory queue).
    pub queue_trouble: Mutex<Option<QueueTrouble>>,
}

impl AppState {
    pub fn hub(&self) -> &EventHub {
        &self.prompts.hub
    }

    /// Build everything and start the forwarding task and the scheduler. Must run inside the
    /// async runtime. `data_dir` is the app's data folder (the sandbox lives there unless
    /// `$SKIFF_CONFIG_DIR` is set).
    pub fn start(data_dir: Option<PathBuf>) -> Result<AppState> {
        let (hub, inputs) = EventHub::new();
        tokio::spawn(events::forward(inputs));
        let prompts = PromptContext {
            hub: hub.clone(),
            broker: Arc::new(PromptBroker::default()),
            secrets: Secrets::new(),
            known: KnownSecrets::default(),
        };

        let config_dir = Profiles::default_dir();
        let profiles = Arc::new(Profiles::open(&config_dir)?);
        let settings_path = profiles.dir().join(SETTINGS_FILE);
        let settings = Arc::new(Mutex::new(load_settings(&settings_path)));
        let sandbox_dir = match std::env::var_os("SKIFF_CONFIG_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("sandbox"),
            None => data_dir
                .unwrap_or_else(|| profiles.dir().to_path_buf())
                .join("sandbox"),
        };

        let (queue, queue_trouble) = open_queue(&Queue::default_path())?;
        let (engine, _task) = start_engine(queue, profiles.clone(), prompts.clone(), settings.clone())?;
        sessions::forward_events(hub.clone(), engine.sessions());
        events::pump_scheduler(hub, engine.scheduler().clone());

        Ok(AppState {
            prompts,
            profiles,
            settings,
            settings_path,
            engine,
            watcher: Mutex::new(None),
            sandbox: Arc::new(Mutex::new(None)),
            sandbox_op: tokio::sync::Mutex::new(()),
            sandbox_dir,
            queue_trouble: Mutex::new(queue_trouble),
        })
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Stop what must not outlive the window: the sandbox's sshd and the transfers (they
    /// resume at the next start). Connections end with the process.
    pub fn shut_down(&self) {
        if let Some(mut sandbox) = lock(&self.sandbox).take() {
            sandbox.stop();
        }
        self.engine.scheduler().shutdown();
    }
}

/// The queue database at `path`; when it cannot be opened, an empty in-memory stand-in and
/// what went wrong, for the window to show (see [`QueueTrouble`]).
pub fn open_queue(path: &Path) -> Result<(Arc<Queue>, Option<QueueTrouble>)> {
    match Queue::open(path) {
        Ok(q) => Ok((Arc::new(q), None)),
        Err(e) => {
            tracing::error!("{e}; the window asks what to do");
            let trouble = QueueTrouble {
                path: e.path().display().to_string(),
                message: e.to_string(),
                can_move_aside: e.is_unreadable_database(),
            };
            let stand_in = Queue::open_in_memory().map_err(|e| {
                Error::new(ErrorKind::LocalIo, "open the queue", e.to_string())
                    .hint("the system is out of memory; close something and start Skiff again")
            })?;
            Ok((Arc::new(stand_in), Some(trouble)))
        }
    }
}

/// Move the unreadable queue database at `path` aside (see [`Queue::move_aside`]) and check
/// that a new one opens there. Returns where the old file went.
pub fn move_queue_aside(path: &Path) -> Result<PathBuf> {
    let failed = |e: skiff_engine::store::StoreError| {
        Error::new(ErrorKind::LocalIo, "move the queue database aside", e.to_string())
            .path(path.display().to_string())
    };
    let aside = Queue::move_aside(path).map_err(failed)?;
    tracing::warn!("moved the unreadable queue database {} to {}", path.display(), aside.display());
    drop(Queue::open(path).map_err(failed)?);
    Ok(aside)
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The settings in `path`: defaults for what is missing; defaults altogether (with a warning)
/// when the file cannot be read.
pub fn load_settings(path: &Path) -> Settings {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
        Err(e) => {
            tracing::warn!(
                "cannot read {}: {e}; using the default settings",
                path.display()
            );
            return Settings::default();
        }
    };
    // Field by field over the defaults, so a file from an older Skiff (fewer fields) loads.
    let mut merged = serde_json::to_value(Settings::default()).expect("settings serialize");
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(saved)) => {
            if let serde_json::Value::Object(m) = &mut merged {
                m.extend(saved);
            }
        }
        _ => {
            tracing::warn!(
                "{} is not a settings file; using the default settings",
                path.display()
            );
            return Settings::default();
        }
    }
    serde_json::from_value(merged).unwrap_or_else(|e| {
        tracing::warn!(
            "{} holds a bad value ({e}); using the default settings",
            path.display()
        );
        Settings::default()
    })
}

/// Write `settings` to `path` atomically (temp file + rename), mode 0600 in a folder
/// created 0700, whatever the umask.
pub fn save_settings(path: &Path, settings: &Settings) -> Result<()> {
    use std::io::Write;
    let mut json = serde_json::to_vec_pretty(settings)
        .map_err(|e| Error::new(ErrorKind::Config, "save settings", e.to_string()))?;
    json.push(b'\n');
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            owner_only::create_dir_all(dir)?;
        }
        // A temp file left by a crash of this same process id would block create_new.
        let _ = std::fs::remove_file(&tmp);
        let mut file = owner_only::create_new(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::local_io("save settings", path, &e)
            .hint("check that the config folder is writable and the disk not full")
    })
}

/// Settings as the engine takes them: at least one file in flight, no zero speed limit.
pub fn sanitize(mut s: Settings) -> Settings {
    s.files_in_flight = s.files_in_flight.clamp(1, 65_536);
    s.speed_limit = s.speed_limit.filter(|&l| l > 0);
    s
}

/// The engine over `queue`: jobs connect through the saved hosts in `profiles` (or their
/// address) and the window's prompts; each job run takes the files-in-flight setting as it
/// is when the job starts (so a change applies to the next job without a restart).
pub(crate) fn start_engine(
    queue: Arc<Queue>,
    profiles: Arc<Profiles>,
    prompts: PromptContext,
    settings: Arc<Mutex<Settings>>,
) -> Result<(Engine, tokio::task::JoinHandle<()>)> {
    let speed_limit = lock(&settings).speed_limit;
    let tuning: Tuning = Arc::new(move || {
        let files_in_flight = lock(&settings).files_in_flight.max(1) as usize;
        (
            TransferOptions::default(),
            TreeOptions {
                files_in_flight,
                ..TreeOptions::default()
            },
        )
    });
    Engine::start(EngineConfig {
        queue,
        profiles: Some(profiles),
        ssh_config: default_ssh_config(),
        logins: Arc::new(WindowLogins { prompts }),
        scheduler: scheduler::Config {
            can_ask: true,
            speed_limit,
            scope: Scope::All,
            ..scheduler::Config::default()
        },
        tuning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{Overwrite, Theme};

    #[test]
    fn settings_load_over_defaults_and_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SETTINGS_FILE);
        assert_eq!(load_settings(&path), Settings::default());
        std::fs::write(&path, r#"{"speedLimit": 1000, "theme": "dark"}"#).unwrap();
        let s = load_settings(&path);
        assert_eq!(s.speed_limit, Some(1000));
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(s.files_in_flight, Settings::default().files_in_flight);
        let changed = Settings {
            overwrite: Overwrite::Skip,
            show_hidden: true,
            ..s
        };
        save_settings(&path, &changed).unwrap();
        // A folder created for the settings is the owner's only too.
        let nested = tmp.path().join("new/cfg").join(SETTINGS_FILE);
        save_settings(&nested, &changed).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&nested), 0o600);
            assert_eq!(mode(&tmp.path().join("new/cfg")), 0o700);
            assert_eq!(mode(&tmp.path().join("new")), 0o700);
        }
        std::fs::remove_dir_all(tmp.path().join("new")).unwrap();
        assert_eq!(load_settings(&path), changed);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "settings.json is the owner's only");
        }
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(load_settings(&path), Settings::default());
        assert_eq!(
            sanitize(Settings {
                files_in_flight: 0,
                speed_limit: Some(0),
                ..Settings::default()
            })
            .files_in_flight,
            1
        );
    }

    #[test]
    fn a_garbage_queue_database_is_reported_and_moved_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("queue.sqlite3");
        std::fs::write(&path, b"this is not SQLite, it is a text file that took its place").unwrap();
        let (queue, trouble) = open_queue(&path).unwrap();
        let trouble = trouble.expect("a garbage file is reported");
        assert_eq!(trouble.path, path.display().to_string());
        assert!(trouble.can_move_aside);
        assert!(trouble.message.contains(&trouble.path) && trouble.message.contains("corrupt"), "{}", trouble.message);
        assert!(queue.list().unwrap().is_empty(), "the stand-in queue is empty");
        assert_eq!(queue.path(), Path::new(":memory:"));

        let aside = move_queue_aside(&path).unwrap();
        assert!(aside.display().to_string().starts_with(&format!("{}.corrupt-", path.display())));
        assert_eq!(std::fs::read(&aside).unwrap(), b"this is not SQLite, it is a text file that took its place");
        let (queue, trouble) = open_queue(&path).unwrap();
        assert!(trouble.is_none(), "the new database opens: {trouble:?}");
        assert_eq!(queue.path(), path);
    }

    #[test]
    fn a_queue_database_in_an_unusable_place_is_reported_without_moving_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let (_, trouble) = open_queue(&file.join("sub/queue.sqlite3")).unwrap();
        let trouble = trouble.expect("reported");
        assert!(!trouble.can_move_aside, "{trouble:?}");
        assert!(trouble.message.contains("SKIFF_QUEUE_DB"), "{}", trouble.message);
    }
}
