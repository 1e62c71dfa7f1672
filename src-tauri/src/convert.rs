//! Engine types ↔ IPC types, field by field, in one place. Pure functions: no I/O, no state.

use std::path::{Path, PathBuf};

use skiff_engine::browse::{DirEntry, EntryKind as EngineEntryKind};
use skiff_engine::job::{Direction as EngineDirection, JobRecord, JobState as EngineJobState, OverwritePolicy};
use skiff_engine::ssh::HostKeyDecision;
use skiff_engine::store::profiles::{AuthKind, Profile};
use skiff_engine::transfer::OverwriteChoice;

use crate::ipc::{
    AuthMethod, Direction, Entry, EntryKind, HostKeyChoice, HostProfile, JobState, JobView,
    Overwrite,
};

pub fn auth_method(a: &AuthKind) -> AuthMethod {
    match a {
        AuthKind::Auto => AuthMethod::Auto,
        AuthKind::Key => AuthMethod::Key,
        AuthKind::Password => AuthMethod::Password,
    }
}

pub fn auth_kind(a: AuthMethod) -> AuthKind {
    match a {
        AuthMethod::Auto => AuthKind::Auto,
        AuthMethod::Key => AuthKind::Key,
        AuthMethod::Password => AuthKind::Password,
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A saved profile as the window shows it.
pub fn host_profile(p: &Profile, has_secret: bool) -> HostProfile {
    HostProfile {
        id: p.id.clone(),
        name: p.name.clone(),
        host: p.host.clone(),
        port: p.port,
        user: p.user.clone(),
        auth: auth_method(&p.auth),
        key_path: p.key_path.as_ref().map(|k| k.display().to_string()),
        local_start: p.local_start.clone(),
        remote_start: p.remote_start.clone(),
        has_secret,
    }
}

/// The profile the window asks to save, keeping what the window does not edit (its own
/// known_hosts file) from the stored one.
pub fn profile(h: HostProfile, stored: Option<&Profile>) -> Profile {
    Profile {
        id: h.id,
        name: h.name,
        host: h.host,
        port: h.port,
        user: h.user,
        auth: auth_kind(h.auth),
        key_path: non_empty(h.key_path).map(PathBuf::from),
        local_start: non_empty(h.local_start),
        remote_start: non_empty(h.remote_start),
        known_hosts: stored.and_then(|s| s.known_hosts.clone()),
    }
}

pub fn entry(e: DirEntry) -> Entry {
    Entry {
        name: e.name,
        kind: match e.kind {
            EngineEntryKind::File => EntryKind::File,
            EngineEntryKind::Dir => EntryKind::Dir,
            EngineEntryKind::Link => EntryKind::Link,
            EngineEntryKind::Other => EntryKind::Other,
        },
        link_to_dir: e.link_to_dir,
        size: e.size,
        mtime: e.mtime,
        mode: e.mode,
    }
}

pub fn direction(d: EngineDirection) -> Direction {
    match d {
        EngineDirection::Upload => Direction::Upload,
        EngineDirection::Download => Direction::Download,
    }
}

pub fn engine_direction(d: Direction) -> EngineDirection {
    match d {
        Direction::Upload => EngineDirection::Upload,
        Direction::Download => EngineDirection::Download,
    }
}

pub fn job_state(s: EngineJobState) -> JobState {
    match s {
        EngineJobState::Queued => JobState::Queued,
        EngineJobState::Running => JobState::Running,
        EngineJobState::Paused => JobState::Paused,
        EngineJobState::Done => JobState::Done,
        EngineJobState::Failed => JobState::Failed,
        EngineJobState::Cancelled => JobState::Cancelled,
    }
}

/// `user@host:port` of a job, from what its spec says (unset parts left out).
pub fn job_host(user: Option<&str>, host: &str, port: Option<u16>) -> String {
    skiff_engine::address::Address {
        user: user.map(str::to_string),
        host: host.to_string(),
        port,
    }
    .to_string()
}

fn local_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn remote_name(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => p.to_string(),
    }
}

/// One row of the queue panel.
pub fn job_view(j: &JobRecord) -> JobView {
    let s = &j.spec;
    let name = match s.direction {
        EngineDirection::Upload => local_name(&s.local_path),
        EngineDirection::Download => remote_name(&s.remote_path),
    };
    JobView {
        id: j.id,
        direction: direction(s.direction),
        name,
        host: job_host(s.user.as_deref(), &s.host, s.port),
        local_path: s.local_path.display().to_string(),
        remote_path: s.remote_path.clone(),
        state: job_state(j.state),
        error: j.error.clone(),
        retries: j.retries,
        priority: j.priority,
        bytes_done: j.bytes_done,
        bytes_total: j.bytes_total,
        files_done: j.files_done,
        files_total: j.files_total,
        files_failed: j.files_failed,
    }
}

pub fn policy(o: Overwrite) -> OverwritePolicy {
    match o {
        Overwrite::Ask => OverwritePolicy::Ask,
        Overwrite::Overwrite => OverwritePolicy::Overwrite,
        Overwrite::Skip => OverwritePolicy::Skip,
        Overwrite::Resume => OverwritePolicy::Resume,
        Overwrite::OverwriteIfNewer => OverwritePolicy::OverwriteIfNewer,
        Overwrite::OverwriteIfSizeDiffers => OverwritePolicy::OverwriteIfSizeDiffers,
        Overwrite::Rename => OverwritePolicy::Rename,
    }
}

/// The answer to an overwrite question; no choice (or "ask", which answers nothing) stops
/// the job.
pub fn overwrite_choice(o: Option<Overwrite>) -> OverwriteChoice {
    match o {
        None | Some(Overwrite::Ask) => OverwriteChoice::Cancel,
        Some(Overwrite::Overwrite) => OverwriteChoice::Overwrite,
        Some(Overwrite::Skip) => OverwriteChoice::Skip,
        Some(Overwrite::Resume) => OverwriteChoice::Resume,
        Some(Overwrite::OverwriteIfNewer) => OverwriteChoice::OverwriteIfNewer,
        Some(Overwrite::OverwriteIfSizeDiffers) => OverwriteChoice::OverwriteIfSizeDiffers,
        Some(Overwrite::Rename) => OverwriteChoice::Rename,
    }
}

pub fn host_key_decision(c: HostKeyChoice) -> HostKeyDecision {
    match c {
        HostKeyChoice::TrustAndSave => HostKeyDecision::TrustAndSave,
        HostKeyChoice::TrustOnce => HostKeyDecision::TrustOnce,
        HostKeyChoice::Cancel => HostKeyDecision::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_hosts_and_names() {
        assert_eq!(job_host(Some("u"), "h", Some(22)), "u@h:22");
        assert_eq!(job_host(None, "alias", None), "alias");
        assert_eq!(job_host(Some("u"), "::1", Some(2222)), "u@[::1]:2222");
        assert_eq!(remote_name("/srv/data/"), "data");
        assert_eq!(remote_name("/"), "/");
        assert_eq!(local_name(Path::new("/home/a/f.txt")), "f.txt");
    }

    #[test]
    fn profiles_round_trip_and_keep_their_known_hosts() {
        let stored = Profile {
            id: "abc".into(),
            name: "n".into(),
            host: "h".into(),
            port: 2222,
            user: "u".into(),
            auth: AuthKind::Key,
            key_path: Some("/k".into()),
            local_start: None,
            remote_start: Some("/srv".into()),
            known_hosts: Some("/kh".into()),
        };
        let view = host_profile(&stored, true);
        assert!(view.has_secret);
        assert_eq!(view.auth, AuthMethod::Key);
        let back = profile(
            HostProfile {
                local_start: Some(" ".into()),
                ..view
            },
            Some(&stored),
        );
        assert_eq!(back, stored);
    }

    #[test]
    fn no_overwrite_choice_cancels() {
        assert_eq!(overwrite_choice(None), OverwriteChoice::Cancel);
        assert_eq!(
            overwrite_choice(Some(Overwrite::Ask)),
            OverwriteChoice::Cancel
        );
        assert_eq!(
            overwrite_choice(Some(Overwrite::Rename)),
            OverwriteChoice::Rename
        );
        assert_eq!(
            host_key_decision(HostKeyChoice::Cancel),
            HostKeyDecision::Reject
        );
    }
}
