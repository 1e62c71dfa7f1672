//! The local sandbox, end to end: start it, connect with the engine exactly as the window
//! would (through the sandbox's saved-host form), list its sample files, stop it, and see
//! the port closed; the session sees the sample folder and nothing outside it. Fails where
//! OpenSSH's sshd is not installed (`make deps` installs it).

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use skiff_engine::browse::{list_remote, EntryKind};
use skiff_engine::sandbox::Sandbox;
use skiff_engine::sftp::InFlightBudget;
use skiff_engine::ssh::{Connection, NoPrompter};
use skiff_engine::engine::Reach;
use skiff_engine::store::profiles::{AuthKind, Profiles};

fn need_sshd() {
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "/usr/sbin/sshd is not installed: install it (apt-get install openssh-server, or `make deps`)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_serves_its_samples_and_stops() {
    need_sshd();
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::start(&state.path().join("sandbox")).expect("start the sandbox");
    assert!(sandbox.root.is_absolute());
    let profile = sandbox.profile();
    assert_eq!((profile.name.as_str(), profile.host.as_str(), profile.auth.clone()), ("Local sandbox", "127.0.0.1", AuthKind::Key));
    assert_eq!(profile.port, sandbox.port);

    // The profile saves like any other.
    let profiles = Profiles::open(&state.path().join("config")).unwrap();
    let saved = profiles.save(profile.clone()).unwrap();
    assert_eq!(saved, profile);

    // NoPrompter rejects unknown host keys and gives no password: success proves the
    // profile's own known_hosts and key were used.
    let opts = Reach::Profile(profile.clone()).connect_options(Arc::new(NoPrompter)).unwrap();
    let conn = tokio::time::timeout(Duration::from_secs(30), Connection::connect(&opts))
        .await
        .expect("connect hung")
        .unwrap_or_else(|e| panic!("connect: {e}\nsshd log:\n{}", sandbox.log_contents()));
    let sess = conn.open_sftp(InFlightBudget::new(4 * 1024 * 1024)).await.unwrap();

    let mut rows = Vec::new();
    let start = profile.remote_start.clone().unwrap();
    let listed = list_remote(&sess, &start, 1000, |c| rows.extend(c)).await.unwrap();
    assert_eq!(listed, sandbox.remote_root);
    let mut names: Vec<(String, EntryKind)> = rows.iter().map(|r| (r.name.clone(), r.kind)).collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        [("README.txt".to_string(), EntryKind::File), ("docs".into(), EntryKind::Dir), ("photos".into(), EntryKind::Dir)]
    );
    let mut photos = Vec::new();
    list_remote(&sess, &format!("{listed}/photos"), 1000, |c| photos.extend(c)).await.unwrap();
    assert!(photos.len() >= 3 && photos.iter().all(|p| p.kind == EntryKind::File && p.size > 0), "{photos:?}");

    // Confined to the sample folder: `/`, `..` and every way up list the samples and
    // nothing else, and nothing outside can be named.
    for path in ["/", "..", "/..", "../..", "/docs/../..", "photos/../../.."] {
        let mut rows = Vec::new();
        let at = list_remote(&sess, path, 1000, |c| rows.extend(c)).await.unwrap_or_else(|e| panic!("list {path}: {e}"));
        let mut names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["README.txt", "docs", "photos"], "listing {path:?} (resolved to {at:?}) shows more than the samples");
    }
    let outside = sandbox.root.join("README.txt").display().to_string();
    for path in ["/etc/passwd", "/usr/sbin/sshd", "/proc/self/status", "../id_ed25519", "/../sshd_config", outside.as_str()] {
        assert!(sess.try_stat(path).await.unwrap().is_none(), "{path} outside the sample folder is visible");
    }

    // SFTP only: no shell, no forwarding (ForceCommand internal-sftp); that is sshd's job,
    // so only check the server still answers after the session.
    conn.disconnect().await;
    drop(sess);

    let port = sandbox.port;
    assert!(sandbox.is_running());
    sandbox.stop();
    assert!(!sandbox.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still open after stop");
    sandbox.stop(); // twice is fine

    // A restart in the same folder gets fresh keys and a new known_hosts, and keeps files.
    std::fs::write(sandbox.root.join("mine.txt"), "kept").unwrap();
    let again = Sandbox::start(sandbox.state_dir()).expect("restart");
    assert_eq!(std::fs::read_to_string(again.root.join("mine.txt")).unwrap(), "kept");
    let kh = std::fs::read_to_string(&again.known_hosts).unwrap();
    assert!(kh.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", again.port)), "{kh}");
    drop(again);
}

#[test]
fn missing_state_folder_parent_is_created() {
    need_sshd();
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("a/b/c");
    let sb = Sandbox::start(&dir).expect("start");
    assert!(dir.join("files/README.txt").is_file());
    let port = sb.port;
    drop(sb);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "drop did not stop the server");
}
