//! A snapshot of everything under a local folder, taken without following any link: each
//! path's kind, and for a regular file its length, SHA-256 and inode; for a link its
//! target. Two snapshots compared say what a run created, changed or removed, so a test
//! can prove nothing was written outside the destination it chose.
//!
//! This module only reads.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One path as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File { len: u64, sha256: String, ino: u64 },
    Link(PathBuf),
    Other,
}

/// Path (relative to the snapshot's root) → what is there.
pub type Snapshot = BTreeMap<PathBuf, Node>;

/// Everything under `root` (not `root` itself), links not followed.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, Path::new(""), &mut out);
    out
}

fn walk(dir: &Path, rel: &Path, out: &mut Snapshot) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let path = e.path();
        let r = rel.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(&path) else { continue };
        let node = if m.file_type().is_symlink() {
            Node::Link(fs::read_link(&path).unwrap_or_default())
        } else if m.is_dir() {
            walk(&path, &r, out);
            Node::Dir
        } else if m.is_file() {
            let data = fs::read(&path).unwrap_or_default();
            Node::File { len: m.len(), sha256: hex(&Sha256::digest(&data)), ino: m.ino() }
        } else {
            Node::Other
        };
        out.insert(r, node);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every difference between `before` and `after` at a path not under `allowed` (a path
/// relative to the snapshots' root), one line each: `created`, `changed`, `removed`.
pub fn changes_outside(before: &Snapshot, after: &Snapshot, allowed: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in after {
        if p.starts_with(allowed) {
            continue;
        }
        match before.get(p) {
            None => out.push(format!("created {} ({n:?})", p.display())),
            Some(old) if old != n => out.push(format!("changed {} ({old:?} -> {n:?})", p.display())),
            _ => {}
        }
    }
    for p in before.keys() {
        if !p.starts_with(allowed) && !after.contains_key(p) {
            out.push(format!("removed {}", p.display()));
        }
    }
    out
}

/// Paths under `root` (links not followed) whose last component is `name`.
pub fn find_named(root: &Path, name: &str) -> Vec<PathBuf> {
    snapshot(root).into_keys().filter(|p| p.file_name().is_some_and(|n| n == name)).map(|p| root.join(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_creations_changes_and_removals_outside_the_allowed_folder() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("dest")).unwrap();
        fs::create_dir_all(root.join("victim")).unwrap();
        fs::write(root.join("victim/v"), b"v").unwrap();
        fs::write(root.join("gone"), b"g").unwrap();
        let before = snapshot(root);
        fs::write(root.join("dest/ok"), b"fine").unwrap();
        fs::write(root.join("victim/v"), b"w").unwrap();
        fs::write(root.join("new"), b"n").unwrap();
        fs::remove_file(root.join("gone")).unwrap();
        std::os::unix::fs::symlink("victim", root.join("dest/l")).unwrap();
        let after = snapshot(root);
        let c = changes_outside(&before, &after, Path::new("dest"));
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(c[0].starts_with("created new"), "{c:?}");
        assert!(c[1].starts_with("changed victim/v"), "{c:?}");
        assert!(c[2].starts_with("removed gone"), "{c:?}");
        assert_eq!(after.get(Path::new("dest/l")), Some(&Node::Link("victim".into())));
        assert_eq!(find_named(root, "ok"), vec![root.join("dest/ok")]);
    }
}
