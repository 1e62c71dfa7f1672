use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::time::Instant;

fn list_all(dir: &Path, chunk_size: usize) -> (PathBuf, Vec<Vec<DirEntry>>) {
    let mut chunks = Vec::new();
    let p = list_local(dir, chunk_size, |c| chunks.push(c)).unwrap();
    (p, chunks)
}

fn by_name(chunks: &[Vec<DirEntry>]) -> std::collections::BTreeMap<String, DirEntry> {
    chunks.iter().flatten().map(|e| (e.name.clone(), e.clone())).collect()
}

#[test]
fn lists_kinds_links_sizes_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("file.txt"), "hello").unwrap();
    fs::set_permissions(d.join("file.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    symlink("sub", d.join("to-dir")).unwrap();
    symlink("file.txt", d.join("to-file")).unwrap();
    symlink("missing", d.join("dangling")).unwrap();
    // Through a relative, non-canonical path.
    let (canonical, chunks) = list_all(&d.join("sub/.."), 1000);
    assert_eq!(canonical, fs::canonicalize(d).unwrap());
    assert_eq!(chunks.len(), 1);
    let rows = by_name(&chunks);
    assert_eq!(rows.len(), 5);
    let f = &rows["file.txt"];
    assert_eq!((f.kind, f.size, f.mode, f.link_to_dir), (EntryKind::File, 5, Some(0o640), false));
    assert!(f.mtime.unwrap() > 1_600_000_000);
    assert_eq!(rows["sub"].kind, EntryKind::Dir);
    assert_eq!((rows["to-dir"].kind, rows["to-dir"].link_to_dir), (EntryKind::Link, true));
    assert_eq!((rows["to-file"].kind, rows["to-file"].link_to_dir), (EntryKind::Link, false));
    assert_eq!((rows["dangling"].kind, rows["dangling"].link_to_dir), (EntryKind::Link, false));
}

#[test]
fn empty_folder_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, chunks) = list_all(tmp.path(), 10);
    assert!(chunks.is_empty());
    let e = list_local(&tmp.path().join("nope"), 10, |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.to_string().contains("nope") && e.op == "list folder", "{e}");
    fs::write(tmp.path().join("f"), "").unwrap();
    let e = list_local(&tmp.path().join("f"), 10, |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongType, "{e}");
}

#[test]
fn non_utf8_names_are_shown_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
    if fs::write(tmp.path().join(name), "x").is_err() {
        eprintln!("this file system refuses non-UTF-8 names; skipped");
        return;
    }
    let (_, chunks) = list_all(tmp.path(), 10);
    assert_eq!(chunks[0][0].name, "bad\u{fffd}name");
}

#[test]
fn chunking_small() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..25 {
        fs::write(tmp.path().join(format!("f{i}")), "").unwrap();
    }
    let (_, chunks) = list_all(tmp.path(), 10);
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let (_, chunks) = list_all(tmp.path(), 0);
    assert_eq!(chunks.len(), 25);
}

#[test]
fn a_hundred_thousand_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 100_000;
    for i in 0..n {
        fs::File::create(tmp.path().join(format!("file-{i:06}"))).unwrap();
    }
    let start = Instant::now();
    let mut first_at = None;
    let mut sizes = Vec::new();
    list_local(tmp.path(), 5000, |c| {
        first_at.get_or_insert_with(|| start.elapsed());
        sizes.push(c.len());
    })
    .unwrap();
    let took = start.elapsed();
    eprintln!("listed {n} entries in {took:?}; first chunk after {:?}; {} chunks", first_at.unwrap(), sizes.len());
    assert_eq!(sizes.iter().sum::<usize>(), n);
    assert!(sizes[0] <= FIRST_CHUNK, "first chunk {}", sizes[0]);
    assert!(sizes[1..].iter().all(|&s| s <= 5000));
}

#[test]
fn mkdir_rename_remove_chmod() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    local_mkdir(&d.join("a")).unwrap();
    assert_eq!(local_mkdir(&d.join("a")).unwrap_err().kind, ErrorKind::LocalIo);
    assert_eq!(local_mkdir(&d.join("x/y")).unwrap_err().kind, ErrorKind::NotFound);

    fs::write(d.join("a/f"), "1").unwrap();
    fs::write(d.join("g"), "2").unwrap();
    // Rename refuses to replace a file, or a folder (even an empty one).
    let e = local_rename(&d.join("g"), &d.join("a/f")).unwrap_err();
    assert!(e.detail.contains("already exists") && e.hint.is_some(), "{e}");
    assert_eq!(fs::read_to_string(d.join("a/f")).unwrap(), "1");
    local_mkdir(&d.join("empty")).unwrap();
    assert!(local_rename(&d.join("a"), &d.join("empty")).is_err());
    local_rename(&d.join("g"), &d.join("h")).unwrap();
    assert_eq!(fs::read_to_string(d.join("h")).unwrap(), "2");
    let e = local_rename(&d.join("gone"), &d.join("k")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    local_chmod(&d.join("h"), 0o100600).unwrap();
    assert_eq!(fs::metadata(d.join("h")).unwrap().permissions().mode() & 0o7777, 0o600);

    // Remove never follows a link: the target folder survives.
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("precious"), "keep").unwrap();
    symlink(outside.path(), d.join("a/link")).unwrap();
    fs::create_dir_all(d.join("a/deep/er")).unwrap();
    fs::write(d.join("a/deep/er/x"), "x").unwrap();
    local_remove(&d.join("a")).unwrap();
    assert!(!d.join("a").exists());
    assert_eq!(fs::read_to_string(outside.path().join("precious")).unwrap(), "keep");
    symlink(outside.path(), d.join("l2")).unwrap();
    local_remove(&d.join("l2")).unwrap();
    assert!(outside.path().join("precious").exists());
    local_remove(&d.join("h")).unwrap();
    assert_eq!(local_remove(&d.join("h")).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(local_remove(Path::new("/")).unwrap_err().kind, ErrorKind::Config);
}

#[test]
fn remote_entry_kinds() {
    let a = |p: u32| FileAttrs::default().with_permissions(p).with_size(3).with_times(1, 2);
    let e = remote_entry("x".into(), &a(S_IFREG | 0o644), b"");
    assert_eq!((e.kind, e.size, e.mtime, e.mode), (EntryKind::File, 3, Some(2), Some(0o644)));
    assert_eq!(remote_entry("x".into(), &a(S_IFDIR | 0o755), b"").kind, EntryKind::Dir);
    assert_eq!(remote_entry("x".into(), &a(S_IFLNK | 0o777), b"").kind, EntryKind::Link);
    assert_eq!(remote_entry("x".into(), &a(0o020000 | 0o600), b"").kind, EntryKind::Other);
    assert_eq!(remote_entry("x".into(), &FileAttrs::default(), b"drwx------ 2 a a").kind, EntryKind::Dir);
    assert_eq!(remote_entry("x".into(), &FileAttrs::default(), b"").kind, EntryKind::Other);
}
