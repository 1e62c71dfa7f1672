//! Test trees and their manifests: [`make_tree`] builds a deterministic
//! directory tree (many small files, nesting, empty directories, awkward
//! names, a few big files); [`manifest`] describes any tree as
//! `relative path → sha256 | "dir" | "link -> target"`, so two trees compare
//! with `assert_eq!(manifest(a)?, manifest(b)?)`.
//!
//! Owns nothing but the paths it is given.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::files::{sha256_file, write_random_file};

/// What [`make_tree`] builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeSpec {
    /// Number of ordinary files (spread round-robin over the directories).
    pub files: usize,
    /// Number of directories holding files (0: all files in the root).
    pub dirs: usize,
    /// Smallest file size in bytes (inclusive).
    pub min_size: u64,
    /// Largest file size in bytes (inclusive).
    pub max_size: u64,
    /// Same seed, same tree (names, layout, sizes and contents).
    pub seed: u64,
    /// Deepest nesting of directories below the root (at least 1 when `dirs > 0`).
    /// The first `depth` directories form one chain, so the tree reaches it.
    pub depth: usize,
    /// Also create files and directories with awkward names: spaces, unicode,
    /// leading dashes, a newline, a tab, a leading dot, and one 0-byte file.
    pub awkward_names: bool,
    /// Extra files of exactly these sizes (`big-N.bin` in the root).
    pub big_files: Vec<u64>,
}

impl Default for TreeSpec {
    /// 1,000 files of 0 B–8 KiB in 20 directories, depth 4, awkward names, no big files.
    fn default() -> Self {
        TreeSpec {
            files: 1000,
            dirs: 20,
            min_size: 0,
            max_size: 8 * 1024,
            seed: 1,
            depth: 4,
            awkward_names: true,
            big_files: Vec::new(),
        }
    }
}

impl TreeSpec {
    /// The benchmark's many-files tree: `files` files of 1 B–8 KiB in 100
    /// directories (fewer if there are fewer files), depth 3, plain names.
    pub fn many_small(files: usize, seed: u64) -> TreeSpec {
        TreeSpec {
            files,
            dirs: 100.min(files.max(1)),
            min_size: 1,
            max_size: 8 * 1024,
            seed,
            depth: 3,
            awkward_names: false,
            big_files: Vec::new(),
        }
    }
}

/// What [`make_tree`] made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Regular files, including awkward-named and big ones.
    pub files: usize,
    /// Directories below the root, including empty ones.
    pub dirs: usize,
    /// Of which empty.
    pub empty_dirs: usize,
    /// Sum of all file sizes.
    pub bytes: u64,
}

/// Names used when `awkward_names` is on (files; directories get a `d` variant).
pub const AWKWARD_FILE_NAMES: &[&str] = &[
    "with space.txt",
    "naïve ✓ 日本.txt",
    "-rf",
    "--",
    "line\nbreak",
    "tab\there",
    ".hidden",
    "trailing space ",
    "quote'n\"dq",
    "back\\slash",
    "star*?[x]",
    "$(echo no)",
];

/// Directory names used when `awkward_names` is on.
pub const AWKWARD_DIR_NAMES: &[&str] = &["dir with space", "-dash dir", "ünï ✓ 目录", ".dotdir"];

/// Create the tree described by `spec` under `root` (created if missing; it
/// should be empty). Small files are written without fsync; big files with
/// [`write_random_file`]. 10,000 small files take well under a second on tmpfs
/// and a few seconds on a slow disk.
pub fn make_tree(root: &Path, spec: &TreeSpec) -> io::Result<TreeStats> {
    if spec.min_size > spec.max_size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "TreeSpec min_size {} > max_size {}",
                spec.min_size, spec.max_size
            ),
        ));
    }
    fs::create_dir_all(root)?;
    let mut rng = SplitMix64(spec.seed ^ 0x7EE5_7EE5_7EE5_7EE5);
    let mut stats = TreeStats::default();

    // Directories: (path, depth). The first `depth` form a chain.
    let depth = spec.depth.max(1);
    let mut dirs: Vec<(PathBuf, usize)> = Vec::with_capacity(spec.dirs);
    for i in 0..spec.dirs {
        let name = if spec.awkward_names && i % 10 == 3 {
            format!(
                "{} {i:03}",
                AWKWARD_DIR_NAMES[(i / 10) % AWKWARD_DIR_NAMES.len()]
            )
        } else {
            format!("d{i:03}")
        };
        let (parent, d) = if i == 0 {
            (root.to_path_buf(), 1)
        } else if i < depth {
            let (p, d) = &dirs[i - 1];
            (p.clone(), d + 1)
        } else {
            // Random parent among earlier directories that may still nest, or the root.
            let pick = rng.below(i as u64 + 1) as usize;
            if pick == i || dirs[pick].1 >= depth {
                (root.to_path_buf(), 1)
            } else {
                (dirs[pick].0.clone(), dirs[pick].1 + 1)
            }
        };
        let path = parent.join(name);
        fs::create_dir(&path)?;
        dirs.push((path, d));
    }
    stats.dirs += dirs.len();

    // Files, round-robin over the directories.
    let span = spec.max_size - spec.min_size;
    let mut buf = Vec::new();
    for k in 0..spec.files {
        let dir = if dirs.is_empty() {
            root
        } else {
            dirs[k % dirs.len()].0.as_path()
        };
        let size = spec.min_size + if span == 0 { 0 } else { rng.below(span + 1) };
        let path = dir.join(format!("f{k:05}.bin"));
        fill(&mut buf, size as usize, rng.next());
        fs::write(&path, &buf)?;
        stats.files += 1;
        stats.bytes += size;
    }

    // Empty directories: a few in the root, one nested at the bottom of the chain.
    let n_empty = if spec.dirs == 0 {
        1
    } else {
        (spec.dirs / 20).max(1)
    };
    for e in 0..n_empty {
        let parent = match (e, dirs.last()) {
            (0, Some(_)) => dirs[depth.min(dirs.len()) - 1].0.clone(),
            _ => root.to_path_buf(),
        };
        let path = parent.join(format!("empty{e:02}"));
        fs::create_dir(&path)?;
        stats.dirs += 1;
        stats.empty_dirs += 1;
    }
    // An empty directory inside an otherwise empty directory.
    if spec.dirs > 0 {
        let outer = root.join("empty-outer");
        fs::create_dir(&outer)?;
        fs::create_dir(outer.join("empty-inner"))?;
        stats.dirs += 2;
        stats.empty_dirs += 1;
    }

    if spec.awkward_names {
        let awkward_dir = root.join(AWKWARD_DIR_NAMES[0]);
        if !awkward_dir.exists() {
            fs::create_dir(&awkward_dir)?;
            stats.dirs += 1;
        }
        for (i, name) in AWKWARD_FILE_NAMES.iter().enumerate() {
            // Each name once in the root and once in a subdirectory.
            for dir in [root, awkward_dir.as_path()] {
                let size = (i as u64 * 37) % 1000 + 1;
                fill(&mut buf, size as usize, rng.next());
                fs::write(dir.join(name), &buf)?;
                stats.files += 1;
                stats.bytes += size;
            }
        }
        fs::write(root.join("zero bytes"), b"")?;
        stats.files += 1;
    }

    for (i, &size) in spec.big_files.iter().enumerate() {
        write_random_file(root.join(format!("big-{i}.bin")), size, rng.next())?;
        stats.files += 1;
        stats.bytes += size;
    }
    Ok(stats)
}

/// Describe the tree under `root`: relative path (with `/`, bytes that are
/// not UTF-8 written as `\xNN`) → lower-case sha256 hex for regular files,
/// `"dir"` for directories (so empty directories count), `"link -> TARGET"`
/// for symlinks (never followed), `"other"` for anything else. The root
/// itself is not an entry.
pub fn manifest(root: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = display_bytes(entry.file_name().as_bytes());
            let key = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let ft = fs::symlink_metadata(&path)?.file_type();
            let value = if ft.is_symlink() {
                let target = fs::read_link(&path)?;
                format!("link -> {}", display_bytes(target.as_os_str().as_bytes()))
            } else if ft.is_dir() {
                stack.push((path, key.clone()));
                "dir".to_string()
            } else if ft.is_file() {
                sha256_file(&path)?
            } else {
                "other".to_string()
            };
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// Number of regular files in a manifest.
pub fn manifest_files(m: &BTreeMap<String, String>) -> usize {
    m.values()
        .filter(|v| *v != "dir" && *v != "other" && !v.starts_with("link -> "))
        .count()
}

/// A short human description of how two manifests differ (first few
/// differences), or `None` if they are equal.
pub fn manifest_diff(
    want: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
) -> Option<String> {
    if want == got {
        return None;
    }
    let mut lines = Vec::new();
    let mut n = 0usize;
    for (k, v) in want {
        match got.get(k) {
            None => {
                n += 1;
                if lines.len() < 5 {
                    lines.push(format!("missing {k:?}"));
                }
            }
            Some(g) if g != v => {
                n += 1;
                if lines.len() < 5 {
                    lines.push(format!("differs {k:?}: {g} (want {v})"));
                }
            }
            _ => {}
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            n += 1;
            if lines.len() < 5 {
                lines.push(format!("extra {k:?}"));
            }
        }
    }
    Some(format!(
        "{n} difference(s) ({} entries wanted, {} found): {}",
        want.len(),
        got.len(),
        lines.join("; ")
    ))
}

fn display_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut s = String::new();
            for chunk in b.utf8_chunks() {
                s.push_str(chunk.valid());
                for x in chunk.invalid() {
                    s.push_str(&format!("\\x{x:02x}"));
                }
            }
            s
        }
    }
}

fn fill(buf: &mut Vec<u8>, size: usize, seed: u64) {
    buf.clear();
    buf.resize(size, 0);
    let mut r = SplitMix64(seed);
    for w in buf.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        w.copy_from_slice(&v[..w.len()]);
    }
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), with negligible bias for small n.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn depth_of(key: &str) -> usize {
        key.matches('/').count()
    }

    #[test]
    fn tree_is_deterministic_and_matches_its_stats() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = TreeSpec {
            files: 500,
            dirs: 30,
            min_size: 0,
            max_size: 4096,
            seed: 42,
            depth: 5,
            awkward_names: true,
            big_files: vec![3 * 1024 * 1024 + 1],
        };
        let sa = make_tree(a.path(), &spec).unwrap();
        let sb = make_tree(b.path(), &spec).unwrap();
        assert_eq!(sa, sb);
        let ma = manifest(a.path()).unwrap();
        let mb = manifest(b.path()).unwrap();
        assert_eq!(ma, mb);
        assert_eq!(manifest_diff(&ma, &mb), None);
        assert_eq!(manifest_files(&ma), sa.files);
        assert_eq!(ma.values().filter(|v| *v == "dir").count(), sa.dirs);
        assert_eq!(sa.files, 500 + 2 * AWKWARD_FILE_NAMES.len() + 1 + 1);
        assert!(sa.empty_dirs >= 2);
        // Nesting reaches the requested depth (files one level below the deepest dir).
        assert!(ma.keys().map(|k| depth_of(k)).max().unwrap() >= 5);
        // Awkward names are there, byte for byte.
        for name in [
            "-rf",
            "line\nbreak",
            ".hidden",
            "naïve ✓ 日本.txt",
            "zero bytes",
        ] {
            assert!(ma.contains_key(name), "{name:?} missing");
        }
        assert_eq!(
            ma["zero bytes"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            fs::metadata(a.path().join("big-0.bin")).unwrap().len(),
            3 * 1024 * 1024 + 1
        );
        // Sum of sizes.
        let total: u64 = walk_sizes(a.path());
        assert_eq!(total, sa.bytes);

        // A different seed gives a different tree.
        let c = tempfile::tempdir().unwrap();
        make_tree(c.path(), &TreeSpec { seed: 43, ..spec }).unwrap();
        assert_ne!(manifest(c.path()).unwrap(), ma);
    }

    fn walk_sizes(p: &Path) -> u64 {
        let mut n = 0;
        for e in fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                n += walk_sizes(&e.path());
            } else {
                n += m.len();
            }
        }
        n
    }

    #[test]
    fn sizes_stay_in_range() {
        let d = tempfile::tempdir().unwrap();
        let spec = TreeSpec::many_small(300, 7);
        make_tree(d.path(), &spec).unwrap();
        let mut count = 0;
        let mut stack = vec![d.path().to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in fs::read_dir(&p).unwrap() {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    stack.push(e.path());
                } else {
                    count += 1;
                    assert!((1..=8192).contains(&m.len()), "{} bytes", m.len());
                }
            }
        }
        assert_eq!(count, 300);
    }

    #[test]
    fn manifest_sees_changes_empty_dirs_and_links() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("a/empty")).unwrap();
        fs::write(root.join("a/f"), b"abc").unwrap();
        std::os::unix::fs::symlink("f", root.join("a/l")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("dangling")).unwrap();
        let m = manifest(root).unwrap();
        let want: BTreeMap<String, String> = [
            ("a", "dir"),
            ("a/empty", "dir"),
            (
                "a/f",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            ("a/l", "link -> f"),
            ("dangling", "link -> /nonexistent"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(m, want);

        fs::remove_dir(root.join("a/empty")).unwrap();
        let m2 = manifest(root).unwrap();
        assert_ne!(m, m2);
        assert!(manifest_diff(&m, &m2)
            .unwrap()
            .contains("missing \"a/empty\""));

        fs::create_dir(root.join("a/empty")).unwrap();
        fs::write(root.join("a/f"), b"abd").unwrap();
        assert!(manifest_diff(&m, &manifest(root).unwrap())
            .unwrap()
            .contains("differs \"a/f\""));
    }

    #[test]
    fn non_utf8_names_are_escaped() {
        let d = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
        fs::write(d.path().join(name), b"").unwrap();
        let m = manifest(d.path()).unwrap();
        assert!(m.contains_key("bad\\xffname"), "{m:?}");
    }

    #[test]
    fn ten_thousand_small_files_are_quick() {
        let d = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let s = make_tree(d.path(), &TreeSpec::many_small(10_000, 1)).unwrap();
        let made = t.elapsed();
        assert_eq!(s.files, 10_000);
        assert!(made.as_secs_f64() < 20.0, "make_tree took {made:?}");
        let m = manifest(d.path()).unwrap();
        assert_eq!(manifest_files(&m), 10_000);
    }
}
