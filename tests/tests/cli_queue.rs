//! `skiff queue` acting on jobs that another `skiff` process is running, against a real
//! sshd: pause stops the running copy within a second and a later resume finishes it with
//! identical bytes; cancel stops it for good; single-file copies are recorded too; move and
//! priority reorder the queue.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::Sshd;
use skiff_tests::tree::{make_tree, manifest, manifest_diff, TreeSpec};

fn spawn_cp(cfg: &std::path::Path, env: &[(&str, &str)], src: &std::path::Path, dst: &str) -> Child {
    Command::new(skiff_bin())
        .args(["cp", "-r", "-q", "-F", s(cfg), s(src), dst])
        .envs(env.iter().copied())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The first line of `skiff queue` that describes job `id`.
fn job_line(cfg: &std::path::Path, env: &[(&str, &str)], id: u32) -> String {
    let o = skiff_env(cfg, &["queue"], env);
    assert_ok(&o);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    listing.lines().find(|l| l.split_whitespace().next() == Some(&id.to_string())).unwrap_or_default().to_string()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child, at most `limit`; returns its exit code and stderr.
fn wait_child(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if t.elapsed() > limit {
            child.kill().unwrap();
            panic!("skiff did not stop within {limit:?} after the job was paused or cancelled");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_and_cancel_from_another_process_stop_the_running_copy() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("tree");
    make_tree(&src, &TreeSpec { files: 1500, dirs: 20, ..TreeSpec::default() }).unwrap();
    let db = local.path().join("queue.sqlite3");
    // A slow path (50 ms round trip, few files at once) so the job is still running when paused.
    let relay = Relay::start(sshd.addr, RelayOptions { one_way_delay: Duration::from_millis(25), ..Default::default() }).unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    let env = [("SKIFF_QUEUE_DB", s(&db)), ("SKIFF_FILES_IN_FLIGHT", "16")];
    let dest = sshd.root.join("tree");

    let child = spawn_cp(&cfg, &env, &src, &remote(&sshd, &sshd.root));
    wait_for("the job to run", || job_line(&cfg, &env, 1).contains("running") && dest.exists());
    let paused_at = Instant::now();
    assert_ok(&skiff_env(&cfg, &["queue", "pause", "1"], &env));
    let (code, err) = wait_child(child, Duration::from_secs(10));
    assert!(paused_at.elapsed() < Duration::from_secs(3), "stopping took {:?}", paused_at.elapsed());
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("job 1 was paused"), "{err}");
    let line = job_line(&cfg, &env, 1);
    assert_eq!(line.split_whitespace().take(4).collect::<Vec<_>>()[1..], ["copy", "paused", "upload"], "{line}");
    let landed = manifest(&dest).unwrap().len();
    assert!(landed < 1500, "the job finished before the pause");

    // Resume: queue it again and run it; it finishes with identical bytes.
    assert_ok(&skiff_env(&cfg, &["queue", "retry", "1"], &env));
    assert_ok(&skiff_env(&cfg, &["queue", "resume", "-q"], &env));
    assert_eq!(manifest_diff(&manifest(&src).unwrap(), &manifest(&dest).unwrap()), None);
    assert!(job_line(&cfg, &env, 1).contains("done"));

    // Cancel: a second copy of the tree elsewhere stops for good.
    let dest2 = sshd.root.join("again");
    std::fs::create_dir(&dest2).unwrap();
    let child = spawn_cp(&cfg, &env, &src, &remote(&sshd, &dest2));
    wait_for("the second job to run", || job_line(&cfg, &env, 2).contains("running") && dest2.join("tree").exists());
    assert_ok(&skiff_env(&cfg, &["queue", "cancel", "2"], &env));
    let (code, err) = wait_child(child, Duration::from_secs(10));
    assert_eq!(code, Some(130), "{err}");
    assert!(job_line(&cfg, &env, 2).contains("cancelled"));
    // A cancelled job is not run by `queue resume`.
    assert_ok(&skiff_env(&cfg, &["queue", "resume", "-q"], &env));
    assert!(job_line(&cfg, &env, 2).contains("cancelled"));
}

#[test]
fn single_files_are_recorded_and_the_queue_can_be_reordered() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let db = local.path().join("queue.sqlite3");
    let env = [("SKIFF_QUEUE_DB", s(&db))];
    let file = local.path().join("one.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    for _ in 0..3 {
        assert_ok(&skiff_env(&sshd.ssh_config, &["cp", "-q", s(&file), &remote(&sshd, &sshd.root)], &env));
    }
    assert_eq!(std::fs::read(sshd.root.join("one.bin")).unwrap(), std::fs::read(&file).unwrap());
    let order = || -> Vec<String> {
        let o = skiff_env(&sshd.ssh_config, &["queue"], &env);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("upload"))
            .map(|l| {
                assert!(l.contains("done") && l.contains("100000"), "{l}");
                l.split_whitespace().next().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(order(), ["1", "2", "3"]);
    assert_ok(&skiff_env(&sshd.ssh_config, &["queue", "move", "3", "top"], &env));
    assert_eq!(order(), ["3", "1", "2"]);
    assert_ok(&skiff_env(&sshd.ssh_config, &["queue", "move", "3", "down"], &env));
    assert_eq!(order(), ["1", "3", "2"]);
    assert_ok(&skiff_env(&sshd.ssh_config, &["queue", "priority", "2", "5"], &env));
    assert_eq!(order(), ["2", "1", "3"]);
    let o = skiff_env(&sshd.ssh_config, &["queue", "pause", "9"], &env);
    assert!(!o.status.success() && stderr(&o).contains("there is no job 9"), "{}", stderr(&o));
}
