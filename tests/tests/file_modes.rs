//! The queue database is its owner's only, whatever the umask: `skiff` run under umask 000
//! and 0277 creates the database 0600 and the folders it makes for it 0700 (the -wal and
//! -shm take the database's mode; the engine's unit tests check them while they exist).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::skiff_bin;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[test]
fn the_queue_database_is_private_whatever_the_umask() {
    for umask in ["000", "022", "0277"] {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("new/skiff/queue.sqlite3");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" queue"))
            .arg(skiff_bin())
            .env("SKIFF_QUEUE_DB", &db)
            .output()
            .expect("run skiff under sh");
        assert!(out.status.success(), "umask {umask}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(mode(&db), 0o600, "umask {umask}: the database");
        assert_eq!(mode(&tmp.path().join("new/skiff")), 0o700, "umask {umask}: its folder");
        assert_eq!(mode(&tmp.path().join("new")), 0o700, "umask {umask}: the folder above");
    }
}

#[test]
fn an_existing_database_is_tightened() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = tmp.path().join("queue.sqlite3");
    let run = || {
        let out = Command::new(skiff_bin()).arg("queue").env("SKIFF_QUEUE_DB", &db).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    run();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(tmp.path()), 0o755, "a folder Skiff did not create keeps its mode");
}
