//! The panes' listings and file operations (`skiff_engine::browse`) against a real sshd:
//! batched listings (first batch ≤ 500 rows), links, the login folder, hostile listings
//! skipped, and mkdir / rename (never replacing) / chmod / recursive delete (never following
//! links), each error naming the host, the path and the operation.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use skiff_engine::browse::{
    list_remote, remote_chmod, remote_mkdir, remote_remove, remote_rename, DirEntry, EntryKind, FIRST_CHUNK,
};
use skiff_engine::sftp::{InFlightBudget, SftpSession};
use skiff_engine::ssh::{ConnectOptions, Connection, NoPrompter, SshConfig};
use skiff_engine::ErrorKind;
use skiff_tests::hostile::{hostile_sshd_options, make_evil_dir};
use skiff_tests::sshd::{Sshd, HOST_ALIAS};

fn connect_options(sshd: &Sshd) -> ConnectOptions {
    let config = SshConfig::load(&sshd.ssh_config).expect("read the fixture's ssh_config");
    let host = config.resolve(HOST_ALIAS);
    ConnectOptions::new(host, Arc::new(NoPrompter), Arc::new(config))
}

async fn session(sshd: &Sshd) -> (Connection, SftpSession) {
    let conn = Connection::connect(&connect_options(sshd)).await.expect("connect");
    let sess = conn.open_sftp(InFlightBudget::new(8 * 1024 * 1024)).await.expect("open sftp");
    (conn, sess)
}

async fn list(sess: &SftpSession, path: &str, chunk: usize) -> (String, Vec<Vec<DirEntry>>) {
    let mut chunks = Vec::new();
    let p = list_remote(sess, path, chunk, |c| chunks.push(c)).await.unwrap_or_else(|e| panic!("list {path}: {e}"));
    (p, chunks)
}

fn by_name(chunks: &[Vec<DirEntry>]) -> BTreeMap<String, DirEntry> {
    chunks.iter().flatten().map(|e| (e.name.clone(), e.clone())).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_come_in_batches_with_kinds_and_links() {
    let sshd = Sshd::start().unwrap();
    let dir = sshd.root.join("big");
    std::fs::create_dir(&dir).unwrap();
    let n = 1500;
    for i in 0..n {
        std::fs::write(dir.join(format!("f{i:05}.txt")), format!("{i}")).unwrap();
    }
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    symlink("sub", dir.join("to-dir")).unwrap();
    symlink("f00001.txt", dir.join("to-file")).unwrap();
    symlink("missing", dir.join("dangling")).unwrap();
    let (_conn, sess) = session(&sshd).await;

    let started = Instant::now();
    let (path, chunks) = list(&sess, &format!("{}/sub/..", s(&dir)), 400).await;
    eprintln!("listed {} remote entries in {:?} ({} batches)", n + 4, started.elapsed(), chunks.len());
    assert_eq!(path, s(&dir.canonicalize().unwrap()), "REALPATH resolves the path");
    assert!(chunks[0].len() <= FIRST_CHUNK && !chunks[0].is_empty());
    assert!(chunks.iter().all(|c| c.len() <= 400), "{:?}", chunks.iter().map(Vec::len).collect::<Vec<_>>());
    let rows = by_name(&chunks);
    assert_eq!(rows.len(), n + 4, "every entry once, no . or ..");
    let f = &rows["f00012.txt"];
    assert_eq!((f.kind, f.size, f.link_to_dir), (EntryKind::File, 2, false));
    assert!(f.mtime.unwrap() > 1_600_000_000 && f.mode.unwrap() <= 0o7777);
    assert_eq!((rows["sub"].kind, rows["sub"].mode), (EntryKind::Dir, Some(0o750)));
    assert_eq!((rows["to-dir"].kind, rows["to-dir"].link_to_dir), (EntryKind::Link, true));
    assert_eq!((rows["to-file"].kind, rows["to-file"].link_to_dir), (EntryKind::Link, false));
    assert_eq!((rows["dangling"].kind, rows["dangling"].link_to_dir), (EntryKind::Link, false));

    // A big chunk size still gives a first batch of at most 500.
    let (_, chunks) = list(&sess, s(&dir), 100_000).await;
    assert!(chunks[0].len() <= FIRST_CHUNK);
    assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), n + 4);

    // "." is the login folder; an empty folder calls back with nothing.
    let (home, _) = list(&sess, ".", 100).await;
    assert!(home.starts_with('/'), "{home}");
    std::fs::create_dir(sshd.root.join("empty")).unwrap();
    let (_, chunks) = list(&sess, s(&sshd.root.join("empty")), 100).await;
    assert!(chunks.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_errors_name_host_path_and_operation() {
    let sshd = Sshd::start().unwrap();
    let (_conn, sess) = session(&sshd).await;
    let missing = sshd.root.join("nope");
    let e = list_remote(&sess, s(&missing), 100, |_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let m = e.to_string();
    assert!(m.starts_with("list folder ") && m.contains("127.0.0.1") && m.contains("/nope") && e.hint.is_some(), "{m}");

    let file = sshd.root.join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    let e = list_remote(&sess, s(&file), 100, |_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongType, "{e}");
    assert!(e.to_string().contains("plain.txt"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_skipped() {
    let sshd = Sshd::start_with(hostile_sshd_options()).unwrap();
    let evil = make_evil_dir(&sshd.root).unwrap();
    let (_conn, sess) = session(&sshd).await;
    let (_, chunks) = list(&sess, s(&evil), 100).await;
    let names: Vec<String> = by_name(&chunks).into_keys().collect();
    assert_eq!(names, ["also-real.bin", "real.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkdir_rename_chmod_remove() {
    let sshd = Sshd::start().unwrap();
    let root = sshd.root.clone();
    let (_conn, sess) = session(&sshd).await;
    let p = |rel: &str| format!("{}/{rel}", s(&root));

    // New folder; a second one of the same name fails clearly.
    remote_mkdir(&sess, &p("new")).await.unwrap();
    assert!(root.join("new").is_dir());
    let e = remote_mkdir(&sess, &p("new")).await.unwrap_err();
    assert!(e.to_string().contains("/new") && e.to_string().contains("127.0.0.1") && e.op == "create folder", "{e}");
    let e = remote_mkdir(&sess, &p("no/such/parent")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    // Rename never replaces: not a file, not a folder.
    std::fs::write(root.join("a.txt"), "a").unwrap();
    std::fs::write(root.join("b.txt"), "b").unwrap();
    let e = remote_rename(&sess, &p("a.txt"), &p("b.txt")).await.unwrap_err();
    let m = e.to_string();
    assert!(m.contains("already exists") && m.contains("127.0.0.1") && m.contains("a.txt") && e.op == "rename", "{m}");
    assert_eq!(std::fs::read_to_string(root.join("b.txt")).unwrap(), "b");
    assert!(remote_rename(&sess, &p("a.txt"), &p("new")).await.is_err());
    assert!(root.join("a.txt").exists());
    remote_rename(&sess, &p("a.txt"), &p("new/c.txt")).await.unwrap();
    assert_eq!(std::fs::read_to_string(root.join("new/c.txt")).unwrap(), "a");
    remote_rename(&sess, &p("new"), &p("renamed")).await.unwrap();
    assert!(root.join("renamed/c.txt").exists());
    let e = remote_rename(&sess, &p("gone"), &p("x")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    // chmod sets the permission bits only.
    remote_chmod(&sess, &p("b.txt"), 0o100604).await.unwrap();
    assert_eq!(std::fs::metadata(root.join("b.txt")).unwrap().permissions().mode() & 0o7777, 0o604);
    let e = remote_chmod(&sess, &p("gone"), 0o600).await.unwrap_err();
    assert!(e.op == "change permissions" && e.to_string().contains("/gone"), "{e}");

    // Recursive delete: a deep tree with a link out of it; the link's target survives.
    let outside = root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("precious"), "keep").unwrap();
    let tree = root.join("tree");
    for d in ["x/y/z", "x/w", "v"] {
        std::fs::create_dir_all(tree.join(d)).unwrap();
    }
    for (i, f) in ["x/1", "x/y/2", "x/y/z/3", "x/w/4", "5"].iter().enumerate() {
        std::fs::write(tree.join(f), format!("{i}")).unwrap();
    }
    for i in 0..300 {
        std::fs::write(tree.join(format!("v/many-{i}")), "m").unwrap();
    }
    symlink(&outside, tree.join("x/link-out")).unwrap();
    remote_remove(&sess, s(&tree)).await.unwrap();
    assert!(!tree.exists());
    assert_eq!(std::fs::read_to_string(outside.join("precious")).unwrap(), "keep");

    // A link on its own: the link goes, the folder stays.
    symlink(&outside, root.join("lone-link")).unwrap();
    remote_remove(&sess, &p("lone-link")).await.unwrap();
    assert!(std::fs::symlink_metadata(root.join("lone-link")).is_err());
    assert!(outside.join("precious").exists());

    // A file; then it is gone.
    remote_remove(&sess, &p("b.txt")).await.unwrap();
    let e = remote_remove(&sess, &p("b.txt")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.op == "delete" && e.to_string().contains("b.txt") && e.to_string().contains("127.0.0.1"), "{e}");

    // The root is refused outright.
    assert_eq!(remote_remove(&sess, "/").await.unwrap_err().kind, ErrorKind::Config);
}
