//! Scale: a 100,000-file job queued and run keeps the engine under 300 MiB resident, both
//! ways. `skiff cp -r` against a real sshd, the job recorded in a private SQLite queue; the
//! peak RSS of exactly that `skiff` process comes from `wait4`'s `rusage`.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use skiff_tests::sshd::Sshd;
use skiff_tests::tree::{make_tree, TreeSpec};

const FILES: usize = 100_000;
const RSS_LIMIT_KIB: u64 = 300 * 1024;
/// Per direction; a hung job must fail the test, not stall CI.
const DIRECTION_LIMIT: Duration = Duration::from_secs(300);

/// What one `skiff` run cost.
struct Run {
    status: ExitStatus,
    max_rss_kib: u64,
    wall: Duration,
    stderr: String,
}

/// Runs `skiff cp -r -q -F cfg from to` with `env` and reaps it with `wait4`, so the peak
/// RSS is that child's alone (not the test's, not sshd's).
fn cp_measured(cfg: &Path, env: &[(&str, &str)], from: &str, to: &str) -> Run {
    let err_file = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let child = Command::new(skiff_bin())
        .args(["cp", "-r", "-q", "-F", s(cfg), from, to])
        .envs(env.iter().copied())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SKIFF_PASSWORD")
        .env_remove("SKIFF_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file.reopen().unwrap())
        .spawn()
        .expect("run skiff");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; both pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > DIRECTION_LIMIT {
            // SAFETY: plain kill(2) on our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as above; reap it so it leaves no zombie.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "skiff cp {from} -> {to} ran over {DIRECTION_LIMIT:?}; stderr: {}",
                std::fs::read_to_string(err_file.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = start.elapsed();
    // Reaped by wait4; `child` has nothing left to wait for, and dropping it does not wait.
    drop(child);
    Run {
        status: ExitStatus::from_raw(status),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: usage.ru_maxrss as u64,
        wall,
        stderr: std::fs::read_to_string(err_file.path()).unwrap_or_default(),
    }
}

/// (regular files, their total bytes) under `dir`.
fn count(dir: &Path) -> (usize, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                files += 1;
                bytes += e.metadata().unwrap().len();
            }
        }
    }
    (files, bytes)
}

/// The same relative paths under `a` and `b` hold the same bytes, for every 97th file of the
/// tree's layout (`dNNN/.../fKKKKK.bin`, found from `a`).
fn same_sample(a: &Path, b: &Path) -> usize {
    let mut checked = 0;
    let mut stack = vec![std::path::PathBuf::new()];
    let mut k = 0usize;
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(a.join(&rel)).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(r);
            } else {
                k += 1;
                if k.is_multiple_of(97) {
                    let (x, y) = (std::fs::read(a.join(&r)).unwrap(), std::fs::read(b.join(&r)));
                    assert!(y.as_ref().is_ok_and(|y| *y == x), "{} differs or is missing", r.display());
                    checked += 1;
                }
            }
        }
    }
    checked
}

fn report(way: &str, run: &Run) {
    eprintln!(
        "{way}: {FILES} files in {:.1} s, peak RSS {:.1} MiB ({} KiB), {}",
        run.wall.as_secs_f64(),
        run.max_rss_kib as f64 / 1024.0,
        run.max_rss_kib,
        run.status
    );
}

#[test]
fn hundred_thousand_files_each_way_stay_under_300_mib() {
    let t0 = Instant::now();
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("many");
    let spec = TreeSpec { files: FILES, dirs: 1000, depth: 3, awkward_names: false, ..TreeSpec::default() };
    let made = make_tree(&src, &spec).unwrap();
    assert_eq!(made.files, FILES);
    eprintln!("made {} files, {} bytes in {} dirs in {:.1} s", made.files, made.bytes, made.dirs, t0.elapsed().as_secs_f64());

    let db = local.path().join("queue.sqlite3");
    let env = [("SKIFF_QUEUE_DB", s(&db))];

    // Upload.
    let up = cp_measured(&sshd.ssh_config, &env, s(&src), &remote(&sshd, &sshd.root));
    report("upload", &up);
    assert!(up.status.success(), "upload failed ({}): {}", up.status, up.stderr);
    let remote_tree = sshd.root.join("many");
    assert_eq!(count(&remote_tree), (FILES, made.bytes), "the uploaded tree is incomplete");
    assert!(same_sample(&src, &remote_tree) > 1000);

    // Download.
    let back = tempfile::tempdir().unwrap();
    let down = cp_measured(&sshd.ssh_config, &env, &remote(&sshd, &remote_tree), s(back.path()));
    report("download", &down);
    assert!(down.status.success(), "download failed ({}): {}", down.status, down.stderr);
    let local_tree = back.path().join("many");
    assert_eq!(count(&local_tree), (FILES, made.bytes), "the downloaded tree is incomplete");
    assert!(same_sample(&src, &local_tree) > 1000);

    // Both jobs are in the queue, done, with every file counted.
    let o = skiff_env(&sshd.ssh_config, &["queue"], &env);
    assert_ok(&o);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    let want = format!("{FILES}/{FILES}");
    for (id, way) in [(1, "upload"), (2, "download")] {
        let line = listing.lines().find(|l| l.split_whitespace().next() == Some(&id.to_string())).unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.get(1) == Some(&"copy") && words.get(2) == Some(&"done") && words.get(3) == Some(&way) && words.get(5) == Some(&want.as_str()),
            "job {id} ({way}) is not done with {FILES} files:\n{listing}"
        );
        assert!(line.contains(&format!("{} bytes", made.bytes)), "job {id} bytes are wrong:\n{listing}");
    }

    for (way, run) in [("upload", &up), ("download", &down)] {
        assert!(
            run.max_rss_kib < RSS_LIMIT_KIB,
            "{way} peaked at {:.1} MiB resident (limit 300 MiB)",
            run.max_rss_kib as f64 / 1024.0
        );
    }

    // 300,000 files to delete: the three trees at once, not one after the other.
    let t = Instant::now();
    std::thread::scope(|sc| {
        for dir in [&src, &remote_tree, &local_tree] {
            sc.spawn(move || std::fs::remove_dir_all(dir).unwrap());
        }
    });
    eprintln!("cleanup {:.1} s; whole test: {:.1} s", t.elapsed().as_secs_f64(), t0.elapsed().as_secs_f64());
}
