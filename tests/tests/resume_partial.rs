//! Partial transfers survive the process: `kill -9` of `skiff cp` halfway through a 1 GiB get
//! or put at 50 ms round trip (through the project's relay, which counts the bytes), then
//! `skiff queue resume`, finishes with identical bytes, and the bytes through the relay in
//! both runs together stay under 1.3× the file. The same for a big file inside a tree, both
//! ways. A source that changed meanwhile is detected and sent whole, not stitched.

mod common;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::Sshd;

const BIG: u64 = 1 << 30;

/// A file whose every 4 KiB block starts with its own offset (a block put at the wrong place
/// or left as a hole is told apart), and `salt` mixed into the rest.
fn write_big(path: &Path, size: u64, salt: u8) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut block = [0u8; 4096];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31) ^ salt;
    }
    let mut off = 0u64;
    while off < size {
        block[..8].copy_from_slice(&off.to_le_bytes());
        f.write_all(&block).unwrap();
        off += block.len() as u64;
    }
    f.flush().unwrap();
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a).unwrap(), std::fs::File::open(b).unwrap());
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return true;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Bytes of data a (sparse) temp file beside `dir`'s entries holds: the allocated size of
/// the largest `*.skiffpart` under it.
fn part_bytes(dir: &Path) -> u64 {
    let mut best = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
            if m.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".skiffpart") {
                best = best.max(m.blocks() * 512);
            }
        }
    }
    best
}

/// `tree/sub/big.bin` (1 GiB, `salt`) and 20 small files beside it.
fn make_tree_with_big_file(tree: &Path, salt: u8) {
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    write_big(&tree.join("sub/big.bin"), BIG, salt);
    for i in 0..20 {
        std::fs::write(tree.join(format!("small{i}.txt")), format!("file {i}\n").repeat(i + 1)).unwrap();
    }
}

/// Every file of [`make_tree_with_big_file`]'s `src` arrived in `dest` byte for byte.
fn assert_tree_copied(src: &Path, dest: &Path) {
    assert!(same_bytes(&src.join("sub/big.bin"), &dest.join("sub/big.bin")));
    for i in 0..20 {
        let name = format!("small{i}.txt");
        assert_eq!(std::fs::read(dest.join(&name)).unwrap(), std::fs::read(src.join(&name)).unwrap());
    }
}

/// `src` gets other bytes of the same size and a later modification time.
fn change_in_place(src: &Path, size: u64, salt: u8) {
    write_big(src, size, salt);
    let f = std::fs::File::options().write(true).open(src).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(60)).unwrap();
}

struct World {
    sshd: Sshd,
    relay: Relay,
    cfg: PathBuf,
    db: PathBuf,
    local: tempfile::TempDir,
}

fn world() -> World {
    let sshd = Sshd::start().unwrap();
    // 50 ms round trip.
    let relay = Relay::start(sshd.addr, RelayOptions { one_way_delay: Duration::from_millis(25), ..Default::default() }).unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    let local = tempfile::tempdir().unwrap();
    let db = local.path().join("queue.sqlite3");
    World { sshd, relay, cfg, db, local }
}

impl World {
    fn env(&self) -> [(&str, &str); 1] {
        [("SKIFF_QUEUE_DB", s(&self.db))]
    }
    fn through_relay(&self) -> u64 {
        let st = self.relay.stats();
        st.bytes_up.load(std::sync::atomic::Ordering::Relaxed) + st.bytes_down.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn spawn_cp(&self, args: &[&str]) -> Child {
        Command::new(skiff_bin())
            .arg("cp")
            .arg("-q")
            .arg("-F")
            .arg(&self.cfg)
            .args(args)
            .env("SKIFF_QUEUE_DB", &self.db)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
    /// `kill -9` of `child` once a temp file under `dest` holds `at` bytes.
    fn kill_when(&self, mut child: Child, dest: &Path, at: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while part_bytes(dest) < at {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("skiff cp ended ({status}) before it was killed: the test needs it halfway");
            }
            assert!(Instant::now() < deadline, "the download never got to {at} bytes");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    fn resume(&self) {
        let o = skiff_env(&self.cfg, &["queue", "resume", "-q"], &self.env());
        assert_ok(&o);
    }
    /// Both runs together moved less than 1.3× `size` through the relay; `first` is what the
    /// run before the kill moved.
    fn assert_resent_little(&self, what: &str, first: u64, size: u64) {
        let total = self.through_relay();
        let ratio = total as f64 / size as f64;
        eprintln!("{what}: {first} bytes through the relay before the kill, {total} in all: {ratio:.2}× the file");
        assert!(ratio < 1.3, "{what}: {ratio:.2}× the file crossed the relay");
    }
}

#[test]
fn a_killed_single_file_get_resumes_from_its_saved_ranges() {
    let w = world();
    let src = w.sshd.root.join("big.bin");
    write_big(&src, BIG, 1);
    let dest = w.local.path().join("down");
    std::fs::create_dir(&dest).unwrap();
    let child = w.spawn_cp(&[&remote(&w.sshd, &src), s(&dest)]);
    w.kill_when(child, &dest, BIG / 2);
    let first = w.through_relay();
    assert!(!dest.join("big.bin").exists(), "the file must not be complete when killed");

    w.resume();
    assert!(same_bytes(&src, &dest.join("big.bin")), "the resumed file differs from the source");
    w.assert_resent_little("single get", first, BIG);
    assert_eq!(part_bytes(&dest), 0, "a temp file was left behind");
}

#[test]
fn a_killed_tree_get_resumes_its_big_file() {
    let w = world();
    let tree = w.sshd.root.join("tree");
    make_tree_with_big_file(&tree, 2);
    let dest = w.local.path().join("down");
    std::fs::create_dir(&dest).unwrap();
    let child = w.spawn_cp(&["-r", &remote(&w.sshd, &tree), s(&dest)]);
    w.kill_when(child, &dest, BIG / 2);
    assert!(!dest.join("tree/sub/big.bin").exists());

    let first = w.through_relay();

    w.resume();
    assert_tree_copied(&tree, &dest.join("tree"));
    w.assert_resent_little("tree get", first, BIG);
    assert_eq!(part_bytes(&dest), 0, "a temp file was left behind");
}

#[test]
fn a_source_changed_since_the_kill_is_fetched_whole_not_stitched() {
    let w = world();
    let src = w.sshd.root.join("big.bin");
    let size = BIG / 4;
    write_big(&src, size, 3);
    let dest = w.local.path().join("down");
    std::fs::create_dir(&dest).unwrap();
    let child = w.spawn_cp(&[&remote(&w.sshd, &src), s(&dest)]);
    w.kill_when(child, &dest, size / 2);

    change_in_place(&src, size, 4);
    let before = w.through_relay();

    w.resume();
    assert!(same_bytes(&src, &dest.join("big.bin")), "old and new bytes were stitched together");
    let second = w.through_relay() - before;
    assert!(second as f64 > 0.95 * size as f64, "only {second} bytes fetched for a changed {size}-byte file");
    assert_eq!(part_bytes(&dest), 0, "a temp file was left behind");
}

#[test]
fn a_killed_single_file_put_resumes_from_its_acknowledged_ranges() {
    let w = world();
    let src = w.local.path().join("big.bin");
    write_big(&src, BIG, 5);
    let dest = w.sshd.root.join("up");
    std::fs::create_dir(&dest).unwrap();
    let child = w.spawn_cp(&[s(&src), &remote(&w.sshd, &dest)]);
    w.kill_when(child, &dest, BIG / 2);
    let first = w.through_relay();
    assert!(!dest.join("big.bin").exists(), "the file must not be complete when killed");

    w.resume();
    assert!(same_bytes(&src, &dest.join("big.bin")), "the resumed upload differs from the source");
    w.assert_resent_little("single put", first, BIG);
    assert_eq!(part_bytes(&dest), 0, "a temp file was left behind");
}

#[test]
fn a_killed_tree_put_resumes_its_big_file_and_a_changed_one_starts_over() {
    let w = world();
    let tree = w.local.path().join("tree");
    make_tree_with_big_file(&tree, 6);
    let dest = w.sshd.root.join("up");
    std::fs::create_dir(&dest).unwrap();
    let child = w.spawn_cp(&["-r", s(&tree), &remote(&w.sshd, &dest)]);
    w.kill_when(child, &dest, BIG / 2);
    assert!(!dest.join("tree/sub/big.bin").exists());

    let first = w.through_relay();

    w.resume();
    assert_tree_copied(&tree, &dest.join("tree"));
    w.assert_resent_little("tree put", first, BIG);
    assert_eq!(part_bytes(&dest), 0, "a temp file was left behind");

    // A second job: killed halfway, the local file changes, the resume sends it whole.
    let src = w.local.path().join("other.bin");
    let size = BIG / 4;
    write_big(&src, size, 7);
    let child = w.spawn_cp(&[s(&src), &remote(&w.sshd, &dest)]);
    w.kill_when(child, &dest, size / 2);
    change_in_place(&src, size, 8);
    w.resume();
    assert!(same_bytes(&src, &dest.join("other.bin")), "old and new bytes were stitched together");
}
