//! Unit tests for the queue database, by topic: `jobs` (adding, ordering, state, counters,
//! per-file rows), `database` (the file: reopening, schema versions, corruption, permissions,
//! locks, location), `crash` (a `kill -9` test that re-executes this test binary as a child
//! writer) and `partials`. The shared specs and helpers are here.

use super::*;
use crate::job::{Direction, JobCounters, JobKind, OverwritePolicy};
use rusqlite::ErrorCode;
use std::collections::HashMap;

mod crash;
mod database;
mod jobs;
mod partials;

fn spec(name: &str) -> JobSpec {
    JobSpec {
        kind: JobKind::Copy,
        direction: Direction::Upload,
        host: "example".into(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: PathBuf::from(format!("/tmp/{name}")),
        remote_path: format!("/srv/{name}"),
        recursive: false,
        overwrite: OverwritePolicy::Ask,
        preserve_mtime: true,
        preserve_permissions: false,
        speed_limit: None,
    }
}

fn full_spec() -> JobSpec {
    #[cfg(unix)]
    let local_path = {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(b"/home/u/caf\xe9 \n-dir"))
    };
    #[cfg(not(unix))]
    let local_path = PathBuf::from("C:\\Users\\u\\café");
    JobSpec {
        kind: JobKind::Copy,
        direction: Direction::Download,
        host: "my-alias".into(),
        user: Some("alice".into()),
        port: Some(2222),
        ssh_config: Some(PathBuf::from("/etc/skiff/ssh_config")),
        profile_id: Some("h7".into()),
        overrides: crate::ssh::Overrides { identity: vec![PathBuf::from("/k/id_ed25519")], options: vec!["Port=2200".into()], accept_new: true },
        local_path,
        remote_path: "/var/ünïcode dir/".into(),
        recursive: true,
        overwrite: OverwritePolicy::OverwriteIfSizeDiffers,
        preserve_mtime: false,
        preserve_permissions: true,
        speed_limit: Some(1_000_000),
    }
}

fn ids(q: &Queue) -> Vec<JobId> {
    q.list().unwrap().iter().map(|j| j.id).collect()
}

fn raw_count(q: &Queue, sql: &str) -> i64 {
    q.lock().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn queue_is_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Queue>();
}
