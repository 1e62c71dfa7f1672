//! The IPC contract between the window and the Rust side, declared once, here. Every type
//! that crosses the boundary derives `ts_rs::TS`; `cargo test -p skiff-app` regenerates
//! `ui/src/lib/backend/bindings/` and fails when the committed files differed (see
//! `bindings_are_current` in `tests` below: it is the one writer of those files, so the
//! check cannot race ts-rs's per-type export tests). Names are camelCase on the wire; every
//! 64-bit integer is a TypeScript `number` (ids and byte counts stay below 2^53).
//!
//! Commands (in `commands/`) take and return these types; errors cross as [`AppError`].
//! Everything the Rust side tells the window unasked travels as [`UiEvent`]s over one
//! `tauri::ipc::Channel` the window opens with `subscribe`, batched to at most ~10 messages
//! a second (see `events.rs`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the window sees it: a stable code for logic, a message for people (naming
/// the host, the path and the operation, and saying what to do).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

/// What kind of failure an [`AppError`] is: one per engine `ErrorKind` (mapped by
/// `errors::code_of`), plus the two the app crate makes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    Network,
    Auth,
    HostKeyUnknown,
    HostKeyChanged,
    NotFound,
    PermissionDenied,
    WrongType,
    LocalIo,
    DiskFull,
    Remote,
    Protocol,
    Unsupported,
    Config,
    Cancelled,
    /// The OS keyring failed (to the engine that is local I/O; the window offers to go on
    /// without saving the secret).
    Keyring,
    /// The app itself failed (a background task panicked): not the server's or the disk's
    /// fault. The window also uses it for a rejection that is not an `AppError`.
    Internal,
}

// ---------------------------------------------------------------------------------------
// Saved hosts

/// How a profile authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum AuthMethod {
    /// ssh-agent, then the default keys, like OpenSSH.
    Auto,
    /// A private key file (its passphrase, if any, in the keyring).
    Key,
    /// A password (in the keyring).
    Password,
}

/// A saved host. Stored as JSON in the OS config folder; its password or key passphrase
/// lives in the OS keyring, never in this record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HostProfile {
    /// Stable id (assigned on first save; empty for a new profile).
    pub id: String,
    /// What the person calls it.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: AuthMethod,
    /// For [`AuthMethod::Key`].
    pub key_path: Option<String>,
    /// Folder the local pane opens at (default: home).
    pub local_start: Option<String>,
    /// Folder the remote pane opens at (default: the login folder).
    pub remote_start: Option<String>,
    /// Whether the keyring holds a secret for it (filled in by the backend; ignored on save).
    #[serde(default)]
    pub has_secret: bool,
}

/// Save a profile, and optionally its secret (a password or key passphrase) to the keyring.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveHost {
    pub profile: HostProfile,
    /// `Some("")` removes a stored secret; `None` leaves it as it is.
    pub secret: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Connecting

/// What to connect to: a saved profile, or a quick-connect string `[user@]host[:port]`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ConnectTarget {
    Profile { id: String },
    Quick { address: String },
}

/// A live connection to a server.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub session_id: String,
    /// `user@host:port`.
    pub label: String,
    /// The profile it came from, if any.
    pub profile_id: Option<String>,
    /// Where the remote pane opens (the profile's start folder, else the login folder).
    pub start_path: String,
}

/// Connection state changes, shown in the window's status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    Connecting,
    Connected,
    Reconnecting,
    Disconnected,
}

/// A question the Rust side needs a person to answer while connecting. The window answers
/// with `answer_prompt` and the same `id`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Prompt {
    /// A host key not in known_hosts: trust and save, trust once, or cancel. With
    /// `other_known` empty it is first contact; otherwise its own, more suspicious case:
    /// keys of other types are known for this host and the server did not show them.
    #[serde(rename_all = "camelCase")]
    HostKeyUnknown {
        #[ts(type = "number")]
        id: u64,
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
        other_known: Vec<KnownHostKey>,
    },
    /// The password of one account (`account` is `user@host:port`); `jump_host` when it is a
    /// ProxyJump host's, not the target's.
    #[serde(rename_all = "camelCase")]
    Password {
        #[ts(type = "number")]
        id: u64,
        user: String,
        host: String,
        port: u16,
        account: String,
        jump_host: bool,
    },
    /// The passphrase of a key file, loaded to log in to `account`.
    #[serde(rename_all = "camelCase")]
    Passphrase {
        #[ts(type = "number")]
        id: u64,
        key_path: String,
        account: String,
    },
    /// A keyboard-interactive round of `account`'s server.
    #[serde(rename_all = "camelCase")]
    KeyboardInteractive {
        #[ts(type = "number")]
        id: u64,
        account: String,
        name: String,
        instructions: String,
        prompts: Vec<InteractiveField>,
    },
}

/// A key known_hosts holds for a host, of another type than the one the server offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KnownHostKey {
    pub key_type: String,
    pub fingerprint: String,
    /// The known_hosts file, and the 1-based line in it.
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InteractiveField {
    pub text: String,
    pub echo: bool,
}

/// The answer to a [`Prompt`].
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum PromptAnswer {
    #[serde(rename_all = "camelCase")]
    HostKey {
        #[ts(type = "number")]
        id: u64,
        decision: HostKeyChoice,
    },
    /// A password or passphrase; `None` cancels. `remember` stores it in the keyring (for a
    /// saved profile).
    #[serde(rename_all = "camelCase")]
    Secret {
        #[ts(type = "number")]
        id: u64,
        value: Option<String>,
        remember: bool,
    },
    #[serde(rename_all = "camelCase")]
    Interactive {
        #[ts(type = "number")]
        id: u64,
        answers: Option<Vec<String>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum HostKeyChoice {
    TrustAndSave,
    TrustOnce,
    Cancel,
}

// ---------------------------------------------------------------------------------------
// Browsing

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    File,
    Dir,
    Link,
    Other,
}

/// One row of a pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    /// For a link: whether it points at a directory (so the pane can open it).
    pub link_to_dir: bool,
    #[ts(type = "number")]
    pub size: u64,
    /// Unix seconds.
    #[ts(type = "number | null")]
    pub mtime: Option<i64>,
    /// Permission bits (`0o755` …).
    pub mode: Option<u32>,
}

/// A directory listing arrives in chunks (the first one fast, so rows show at once even for
/// 100,000 entries). `done` marks the last chunk; `path` is the resolved absolute path.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListingChunk {
    pub path: String,
    pub entries: Vec<Entry>,
    pub done: bool,
}

/// Which pane an operation is for.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "side")]
pub enum Side {
    Local,
    #[serde(rename_all = "camelCase")]
    Remote {
        session_id: String,
    },
}

// ---------------------------------------------------------------------------------------
// The queue

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Upload,
    Download,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    Queued,
    Running,
    Paused,
    Done,
    Failed,
    Cancelled,
}

/// One job in the queue panel.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[ts(type = "number")]
    pub id: i64,
    pub direction: Direction,
    /// The file or folder name.
    pub name: String,
    /// `user@host:port`.
    pub host: String,
    pub local_path: String,
    pub remote_path: String,
    pub state: JobState,
    pub error: Option<String>,
    pub retries: u32,
    pub priority: i32,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    #[ts(type = "number")]
    pub files_done: u64,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub files_failed: u64,
}

/// Live numbers of one running job.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    #[ts(type = "number")]
    pub files_done: u64,
    #[ts(type = "number")]
    pub files_total: u64,
    /// Bytes per second (soft-start moving average).
    pub speed: f64,
    /// Seconds left, when known.
    pub eta_secs: Option<f64>,
}

/// Queue files for transfer: every source becomes one job into `dest_dir`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Enqueue {
    pub session_id: String,
    pub direction: Direction,
    /// Absolute paths on the source side (local for uploads, remote for downloads).
    pub sources: Vec<String>,
    /// Absolute folder on the other side.
    pub dest_dir: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum JobAction {
    Pause,
    Resume,
    Cancel,
    Retry,
    MoveUp,
    MoveDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum QueueAction {
    PauseAll,
    ResumeAll,
    ClearFinished,
}

/// The engine's overwrite policies, as the settings and the question dialog name them.
#[allow(clippy::enum_variant_names)] // the engine's names
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Overwrite {
    Ask,
    Overwrite,
    Skip,
    Resume,
    OverwriteIfNewer,
    OverwriteIfSizeDiffers,
    Rename,
}

/// The answer to [`UiEvent::OverwriteAsked`]; `choice` None cancels the job.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OverwriteReply {
    #[ts(type = "number")]
    pub question: u64,
    pub choice: Option<Overwrite>,
    pub apply_to_all: bool,
}

// ---------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Theme {
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Files moving at once per job.
    pub files_in_flight: u32,
    /// Bytes per second over all jobs; None = unlimited.
    #[ts(type = "number | null")]
    pub speed_limit: Option<u64>,
    /// The policy new jobs get.
    pub overwrite: Overwrite,
    pub show_hidden: bool,
    pub theme: Theme,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            files_in_flight: 1024,
            speed_limit: None,
            overwrite: Overwrite::Ask,
            show_hidden: false,
            theme: Theme::System,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Events

/// Everything the Rust side tells the window unasked, in one ordered stream.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum UiEvent {
    /// Jobs added or changed (full rows).
    #[serde(rename_all = "camelCase")]
    Jobs { jobs: Vec<JobView> },
    #[serde(rename_all = "camelCase")]
    JobsRemoved {
        #[ts(type = "number[]")]
        ids: Vec<i64>,
    },
    /// Live progress of the running jobs and the queue's totals (≤ 10 a second).
    #[serde(rename_all = "camelCase")]
    Progress {
        jobs: Vec<JobProgress>,
        #[ts(type = "number")]
        bytes_done: u64,
        #[ts(type = "number")]
        bytes_total: u64,
        speed: f64,
    },
    /// A job will be retried after a network failure.
    #[serde(rename_all = "camelCase")]
    RetryScheduled {
        #[ts(type = "number")]
        id: i64,
        retry: u32,
        #[ts(type = "number")]
        in_ms: u64,
        error: String,
    },
    /// A destination exists and the policy is "ask".
    #[serde(rename_all = "camelCase")]
    OverwriteAsked {
        #[ts(type = "number")]
        question: u64,
        #[ts(type = "number")]
        job: i64,
        path: String,
        #[ts(type = "number")]
        source_size: u64,
        #[ts(type = "number | null")]
        source_mtime: Option<u32>,
        #[ts(type = "number")]
        existing_size: u64,
        #[ts(type = "number | null")]
        existing_mtime: Option<u32>,
    },
    /// A question while connecting.
    Prompt { prompt: Prompt },
    #[serde(rename_all = "camelCase")]
    Connection {
        session_id: String,
        label: String,
        state: ConnectionState,
        error: Option<AppError>,
    },
    /// Something changed in a local folder the window shows (from the file watcher).
    #[serde(rename_all = "camelCase")]
    LocalChanged { path: String },
    /// The local sandbox server started or stopped.
    #[serde(rename_all = "camelCase")]
    Sandbox {
        running: bool,
        profile_id: Option<String>,
    },
}

// ---------------------------------------------------------------------------------------
// The queue database

/// The queue database could not be opened at startup. The window asks what to do before
/// anything is queued: jobs queued into the stand-in (in-memory) queue would be lost at exit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QueueTrouble {
    /// The database file.
    pub path: String,
    /// What went wrong, naming the file and saying what to do.
    pub message: String,
    /// The file is damaged, not a database, or from a newer Skiff: moving it aside and
    /// starting a new queue is the way out. Otherwise (locked by another Skiff, no
    /// permission) the window offers to try again instead.
    pub can_move_aside: bool,
}

/// The person's answer to a [`QueueTrouble`]. Moving aside and trying again restart the
/// app, which then opens the queue as at any start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum QueueTroubleChoice {
    // Rename the file to `NAME.corrupt-<timestamp>` (with its -wal and -shm) and start a
    // new, empty queue.
    MoveAside,
    // Open it again (another Skiff may have let go of it).
    Retry,
    // Quit Skiff, leaving the file as it is.
    Quit,
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use ts_rs::{Config, TS};

    use super::*;

    const FIX: &str = "run `cargo test -p skiff-app` and commit ui/src/lib/backend/bindings";

    /// The committed bindings: `$TS_RS_EXPORT_DIR` (set for this workspace in
    /// `.cargo/config.toml`), else `ui/src/lib/backend/bindings` beside this crate.
    fn committed_dir() -> PathBuf {
        std::env::var_os("TS_RS_EXPORT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend/bindings")
            })
    }

    fn export_all(cfg: &Config) {
        macro_rules! export {
            ($($t:ty),* $(,)?) => {{
                $( <$t as TS>::export_all(cfg).expect(concat!("export ", stringify!($t))); )*
                [$(stringify!($t)),*].len()
            }};
        }
        let n = export!(
            AppError,
            ErrorCode,
            AuthMethod,
            HostProfile,
            SaveHost,
            ConnectTarget,
            SessionInfo,
            ConnectionState,
            Prompt,
            KnownHostKey,
            InteractiveField,
            PromptAnswer,
            HostKeyChoice,
            EntryKind,
            Entry,
            ListingChunk,
            Side,
            Direction,
            JobState,
            JobView,
            JobProgress,
            Enqueue,
            JobAction,
            QueueAction,
            Overwrite,
            OverwriteReply,
            Theme,
            Settings,
            UiEvent,
            QueueTrouble,
            QueueTroubleChoice,
        );
        // Every type this file declares is in the list above.
        let source = include_str!("ipc.rs");
        let declared = source
            .lines()
            .filter(|l| l.starts_with("pub struct ") || l.starts_with("pub enum "))
            .count();
        assert_eq!(
            n, declared,
            "a type in ipc.rs is missing from the export list in `bindings_are_current`"
        );
    }

    fn ts_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".ts"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Exports every IPC type to a temp folder and compares it with the committed bindings.
    /// This test is their one writer: when they differ, it brings them up to date and fails,
    /// so the next run passes once the new files are there to be committed.
    #[test]
    fn bindings_are_current() {
        let tmp = tempfile::tempdir().unwrap();
        export_all(&Config::from_env().with_out_dir(tmp.path()));
        let committed = committed_dir();
        let mut stale = Vec::new();
        let fresh = ts_files(tmp.path());
        assert!(!fresh.is_empty());
        for name in &fresh {
            let new = std::fs::read_to_string(tmp.path().join(name)).unwrap();
            let old = std::fs::read_to_string(committed.join(name)).ok();
            if old.as_deref() != Some(new.as_str()) {
                stale.push(name.clone());
                std::fs::create_dir_all(&committed).unwrap();
                std::fs::write(committed.join(name), &new).unwrap();
            }
        }
        // Generated files of types that no longer exist.
        for name in ts_files(&committed) {
            let path = committed.join(&name);
            let generated = std::fs::read_to_string(&path)
                .is_ok_and(|t| t.starts_with("// This file was generated by [ts-rs]"));
            if generated && !fresh.contains(&name) {
                stale.push(name);
                std::fs::remove_file(path).unwrap();
            }
        }
        assert!(
            stale.is_empty(),
            "the TypeScript bindings were out of date ({}) and have been regenerated: {FIX}",
            stale.join(", ")
        );
    }

    #[test]
    fn the_wire_is_camel_case_and_tagged() {
        let ev = UiEvent::Connection {
            session_id: "s1".into(),
            label: "u@h:22".into(),
            state: ConnectionState::Reconnecting,
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            serde_json::json!({"type": "connection", "sessionId": "s1", "label": "u@h:22", "state": "reconnecting", "error": null})
        );
        let side: Side =
            serde_json::from_value(serde_json::json!({"side": "remote", "sessionId": "s2"}))
                .unwrap();
        assert!(matches!(side, Side::Remote { session_id } if session_id == "s2"));
        let answer: PromptAnswer = serde_json::from_value(
            serde_json::json!({"kind": "secret", "id": 3, "value": "x", "remember": true}),
        )
        .unwrap();
        assert!(matches!(
            answer,
            PromptAnswer::Secret {
                id: 3,
                remember: true,
                ..
            }
        ));
    }
}
