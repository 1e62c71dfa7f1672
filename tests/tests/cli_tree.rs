//! `skiff cp -r` on whole trees against a real sshd: thousands of files with awkward names,
//! empty and deep directories, 0-byte and big files (sha256 manifests both ways); a relay
//! that cuts the connection again and again; a hostile SFTP listing; a full local disk.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use skiff_tests::diskfull::SmallDisk;
use skiff_tests::hostile::{hostile_sshd_options, make_evil_dir};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::Sshd;
use skiff_tests::tree::{make_tree, manifest, manifest_diff, TreeSpec};

fn assert_same_tree(a: &std::path::Path, b: &std::path::Path) {
    let (ma, mb) = (manifest(a).unwrap(), manifest(b).unwrap());
    assert!(ma == mb, "trees differ: {}", manifest_diff(&ma, &mb).unwrap_or_default());
}

#[test]
fn awkward_tree_with_thousands_of_files_both_ways() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src tree");
    let spec = TreeSpec { files: 3000, dirs: 60, depth: 6, big_files: vec![0, 150 * 1024 * 1024 + 3], ..TreeSpec::default() };
    let stats = make_tree(&src, &spec).unwrap();
    assert!(stats.files >= 3000 && stats.empty_dirs > 0);

    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-r", "-q", s(&src), &remote(&sshd, &sshd.root)]));
    assert_same_tree(&src, &sshd.root.join("src tree"));

    let back = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-r", "-q", &remote(&sshd, &sshd.root.join("src tree")), s(back.path())]));
    assert_same_tree(&src, &back.path().join("src tree"));
}

/// Bytes on the wire for a tree job through `relay`.
fn bytes_through(relay: &Relay) -> u64 {
    let st = relay.stats();
    st.bytes_up.load(Ordering::Relaxed) + st.bytes_down.load(Ordering::Relaxed)
}

#[test]
fn tree_survives_repeated_cuts_and_resends_little() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("t");
    let spec = TreeSpec {
        files: 2000,
        dirs: 40,
        big_files: vec![100 * 1024 * 1024, 80 * 1024 * 1024, 60 * 1024 * 1024],
        awkward_names: false,
        ..TreeSpec::default()
    };
    make_tree(&src, &spec).unwrap();

    // Baseline: the same upload with no cuts.
    let clean = Relay::start(sshd.addr, RelayOptions::default()).unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", clean.port).unwrap();
    std::fs::create_dir(sshd.root.join("clean")).unwrap();
    assert_ok(&skiff(&cfg, &["cp", "-r", "-q", s(&src), &remote(&sshd, &sshd.root.join("clean"))]));
    let baseline = bytes_through(&clean);

    // Cut the first three connections, each after 40 MB: three cuts in a ~260 MB job. A cut
    // costs what was in flight on that connection (up to a 2 MiB window per busy channel).
    let cutting = Relay::start(
        sshd.addr,
        RelayOptions { cut_after_bytes: Some(40_000_000), cut_connections: 3, ..Default::default() },
    )
    .unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", cutting.port).unwrap();
    std::fs::create_dir(sshd.root.join("cut")).unwrap();
    let o = skiff(&cfg, &["cp", "-r", "-q", s(&src), &remote(&sshd, &sshd.root.join("cut"))]);
    assert_ok(&o);
    assert_same_tree(&src, &sshd.root.join("cut/t"));
    let cuts = cutting.stats().cuts.load(Ordering::Relaxed);
    assert!(cuts >= 2, "only {cuts} cuts happened");
    let moved = bytes_through(&cutting);
    let extra = moved.saturating_sub(baseline);
    eprintln!("{cuts} cuts: {moved} bytes on the wire vs {baseline} without cuts ({:.1} % resent)", extra as f64 * 100.0 / baseline as f64);
    assert!(
        extra * 10 < baseline,
        "{extra} bytes resent over a {baseline}-byte job ({} cuts): more than 10 %",
        cuts
    );
    let leftovers: Vec<_> = walk(&sshd.root.join("cut")).into_iter().filter(|p| p.ends_with(".skiffpart")).collect();
    assert!(leftovers.is_empty(), "partial files left behind: {leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn hostile_listing_writes_nothing_outside_the_destination() {
    let sshd = Sshd::start_with(hostile_sshd_options()).unwrap();
    let evil = make_evil_dir(&sshd.root).unwrap();
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", "-r", "-q", &remote(&sshd, &evil), s(&dest)]);
    let err = stderr(&o);
    assert!(!o.status.success(), "hostile entries were not reported: {err}");
    for shown in ["refused the name \"a/b\"", "refused the name \"../escape\"", "contains NUL"] {
        assert!(err.contains(shown), "stderr lacks {shown:?}: {err}");
    }
    // The real files arrived; nothing else exists anywhere around the destination.
    assert_eq!(std::fs::read(dest.join("evil/real.txt")).unwrap(), b"real\n");
    assert_eq!(std::fs::read(dest.join("evil/also-real.bin")).unwrap(), vec![0x5a; 1000]);
    let mut everything = walk(outer.path());
    everything.sort();
    assert_eq!(everything.len(), 2, "unexpected files: {everything:?}");
    assert!(!std::path::Path::new("/etc/passwd-skiff-test").exists());
}

#[test]
fn full_local_disk_fails_the_job_clearly_and_keeps_finished_files() {
    let disk = match SmallDisk::new(6 * 1024 * 1024) {
        Ok(d) => d,
        Err(e) => panic!("no small disk can be mounted here: {e}; run the tests as root with `mount` and a loop-capable kernel"),
    };
    let sshd = Sshd::start().unwrap();
    let src = sshd.root.join("many");
    std::fs::create_dir(&src).unwrap();
    for i in 0..40 {
        skiff_tests::files::write_random_file(src.join(format!("f{i:02}")), 512 * 1024, i).unwrap();
    }
    let o = skiff(&sshd.ssh_config, &["cp", "-r", "-q", &remote(&sshd, &src), s(&disk.path)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(8), "wrong exit code: {err}");
    assert!(err.contains("free some disk space"), "{err}");
    // Every file that got its final name is complete and identical.
    let mut complete = 0;
    for p in walk(&disk.path.join("many")) {
        if p.ends_with(".skiffpart") {
            continue;
        }
        let name = std::path::Path::new(&p).file_name().unwrap().to_owned();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(src.join(name)).unwrap(), "{p} is damaged");
        complete += 1;
    }
    assert!(complete > 0 && complete < 40, "{complete} files completed");
}

#[test]
fn kill_9_mid_queue_then_resume_finishes_the_job() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("big tree");
    let spec = TreeSpec { files: 3000, dirs: 50, awkward_names: true, ..TreeSpec::default() };
    make_tree(&src, &spec).unwrap();
    let db = local.path().join("queue.sqlite3");
    // Slow the path down (50 ms round trip) so the kill lands mid-tree.
    let relay = Relay::start(sshd.addr, RelayOptions { one_way_delay: std::time::Duration::from_millis(25), ..Default::default() }).unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    let env = [("SKIFF_QUEUE_DB", s(&db)), ("SKIFF_FILES_IN_FLIGHT", "64")];

    let mut child = std::process::Command::new(skiff_bin())
        .args(["cp", "-r", "-q", "-F", s(&cfg), s(&src), &remote(&sshd, &sshd.root)])
        .envs(env)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some files have landed.
    let dest = sshd.root.join("big tree");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline && (!dest.exists() || walk(&dest).len() < 300) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let landed = walk(&dest).len();
    assert!(landed < 3000, "the job finished before the kill ({landed} files)");

    let o = skiff_env(&cfg, &["queue"], &env);
    assert_ok(&o);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listing.contains("running"), "the killed job is not in the queue as running: {listing}");

    let o = skiff_env(&cfg, &["queue", "resume", "-q"], &env);
    assert_ok(&o);
    assert_same_tree(&src, &dest);
    let o = skiff_env(&cfg, &["queue"], &env);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listing.contains("done"), "the job is not done after resume: {listing}");
}

#[test]
fn overwrite_policies_on_a_second_copy() {
    let sshd = Sshd::start().unwrap();
    let src = sshd.root.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a"), b"0123456789").unwrap();
    std::fs::write(src.join("b"), b"bbb").unwrap();
    std::fs::write(src.join("c.txt"), b"remote c").unwrap();
    let out = tempfile::tempdir().unwrap();
    let get = |policy: &str| skiff(&sshd.ssh_config, &["cp", "-r", "-q", "--overwrite", policy, &remote(&sshd, &src), s(out.path())]);
    assert_ok(&get("overwrite"));
    let local = out.path().join("src");
    std::fs::write(local.join("a"), b"changed").unwrap();
    std::fs::write(local.join("b"), b"xxx").unwrap();

    assert_ok(&get("skip"));
    assert_eq!(std::fs::read(local.join("a")).unwrap(), b"changed", "skip overwrote");

    assert_ok(&get("overwrite-if-size-differs"));
    assert_eq!(std::fs::read(local.join("a")).unwrap(), b"0123456789", "a differs in size and was not fetched");
    assert_eq!(std::fs::read(local.join("b")).unwrap(), b"xxx", "b has the same size and was fetched");

    assert_ok(&get("rename"));
    assert_eq!(std::fs::read(local.join("c.txt")).unwrap(), b"remote c");
    assert_eq!(std::fs::read(local.join("c (1).txt")).unwrap(), b"remote c");

    let o = get("ask");
    assert!(!o.status.success() && stderr(&o).contains("cannot ask"), "{}", stderr(&o));

    // Uploads: skip leaves a changed remote file alone; overwrite-if-newer replaces an older one.
    std::fs::write(src.join("a"), b"remote edit").unwrap();
    let put = |policy: &str| skiff(&sshd.ssh_config, &["cp", "-r", "-q", "--overwrite", policy, s(&local), &remote(&sshd, &sshd.root)]);
    assert_ok(&put("skip"));
    assert_eq!(std::fs::read(src.join("a")).unwrap(), b"remote edit");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options().write(true).open(src.join("a")).unwrap().set_modified(old).unwrap();
    assert_ok(&put("overwrite-if-newer"));
    assert_eq!(std::fs::read(src.join("a")).unwrap(), b"0123456789");
}

#[test]
fn resume_policy_keeps_the_bytes_already_there_and_sends_the_rest() {
    let sshd = Sshd::start().unwrap();
    let src = sshd.root.join("res");
    std::fs::create_dir(&src).unwrap();
    // 3 MiB: above the small-file path, so it goes by byte ranges.
    let full: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("big.bin"), &full).unwrap();
    let out = tempfile::tempdir().unwrap();
    let local = out.path().join("res");
    std::fs::create_dir(&local).unwrap();
    // A shorter local copy whose first MiB is marked (zeros): if resume kept it, the marks
    // stay; if the file were sent again whole, they would be gone.
    let have = 1024 * 1024;
    std::fs::write(local.join("big.bin"), vec![0u8; have]).unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-r", "-q", "--overwrite", "resume", &remote(&sshd, &src), s(out.path())]));
    let got = std::fs::read(local.join("big.bin")).unwrap();
    assert_eq!(got.len(), full.len());
    assert!(got[..have].iter().all(|b| *b == 0), "the bytes already there were fetched again");
    assert_eq!(&got[have..], &full[have..], "the rest is not the source's");

    // Upload: the same with the shorter copy on the server.
    std::fs::write(local.join("big.bin"), &full).unwrap();
    std::fs::write(src.join("big.bin"), vec![0u8; have]).unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-r", "-q", "--overwrite", "resume", s(&local), &remote(&sshd, &sshd.root)]));
    let got = std::fs::read(src.join("big.bin")).unwrap();
    assert_eq!(got.len(), full.len());
    assert!(got[..have].iter().all(|b| *b == 0), "the bytes already on the server were sent again");
    assert_eq!(&got[have..], &full[have..]);
    assert!(!src.join("big.bin.skiffpart").exists());
}
