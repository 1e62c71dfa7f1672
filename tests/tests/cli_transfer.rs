//! `skiff cp` against a real sshd: byte-identical gets and puts at the sizes that break
//! pipelining code, through a 50 ms round-trip relay, and across a relay that cuts the
//! connection mid-file (skiff must reconnect and continue, not start over).

mod common;

use std::time::Duration;

use common::*;
use skiff_tests::files::{sha256_file, write_random_file};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::Sshd;

/// OpenSSH's read/write limit (limits@openssh.com): 256 KiB minus 1 KiB of headers.
const BLOCK: u64 = 255 * 1024;

fn roundtrip(sshd: &Sshd, config: &std::path::Path, size: u64, extra: &[&str]) {
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join(format!("src-{size}"));
    write_random_file(&src, size, size ^ 0x5eed).unwrap();
    let want = sha256_file(&src).unwrap();

    // put
    let rpath = sshd.root.join(format!("put-{size}"));
    let dst = remote(sshd, &rpath);
    let mut args = vec!["cp", "-q"];
    args.extend_from_slice(extra);
    args.extend([s(&src), dst.as_str()]);
    assert_ok(&skiff(config, &args));
    assert_eq!(sha256_file(&rpath).unwrap(), want, "put of {size} bytes differs");
    assert!(!sshd.root.join(format!("put-{size}.skiffpart")).exists());

    // get
    let back = local.path().join(format!("back-{size}"));
    let mut args = vec!["cp", "-q"];
    args.extend_from_slice(extra);
    args.extend([dst.as_str(), s(&back)]);
    assert_ok(&skiff(config, &args));
    assert_eq!(sha256_file(&back).unwrap(), want, "get of {size} bytes differs");
    assert!(!local.path().join(format!("back-{size}.skiffpart")).exists());
}

#[test]
fn get_and_put_are_byte_identical_at_block_edges() {
    let sshd = Sshd::start().unwrap();
    for size in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17] {
        roundtrip(&sshd, &sshd.ssh_config, size, &[]);
    }
    // Tiny blocks and a shallow pipeline: many out-of-order replies, many requests.
    roundtrip(&sshd, &sshd.ssh_config, 1_000_003, &["--block-size", "4096", "--requests", "3"]);
}

#[test]
fn large_file_over_several_channels_and_connections() {
    let sshd = Sshd::start().unwrap();
    roundtrip(&sshd, &sshd.ssh_config, 100 * 1024 * 1024 + 7, &["--channels", "4", "--connections", "2"]);
}

#[test]
fn through_a_50ms_round_trip_relay() {
    let sshd = Sshd::start().unwrap();
    let relay = Relay::start(
        sshd.addr,
        RelayOptions { one_way_delay: Duration::from_millis(25), ..Default::default() },
    )
    .unwrap();
    let config = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    roundtrip(&sshd, &config, 24 * 1024 * 1024 + 5, &[]);
    roundtrip(&sshd, &config, 10, &[]);
}

/// A relay that cuts the first connection after `cut` bytes; returns it and a config for it.
fn cutting_relay(sshd: &Sshd, cut: u64) -> (Relay, std::path::PathBuf) {
    let relay = Relay::start(
        sshd.addr,
        RelayOptions { cut_after_bytes: Some(cut), cut_connections: 1, ..Default::default() },
    )
    .unwrap();
    let config = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    (relay, config)
}

#[test]
fn get_resumes_after_the_connection_is_cut() {
    let sshd = Sshd::start().unwrap();
    let size = 64 * 1024 * 1024u64;
    let src = sshd.root.join("big");
    write_random_file(&src, size, 7).unwrap();
    let (relay, config) = cutting_relay(&sshd, 30 * 1024 * 1024);
    let local = tempfile::tempdir().unwrap();
    let dst = local.path().join("big");
    let o = skiff(&config, &["cp", "-q", "--connections", "1", &remote(&sshd, &src), s(&dst)]);
    assert_ok(&o);
    assert_eq!(sha256_file(&dst).unwrap(), sha256_file(&src).unwrap());
    let stats = relay.stats();
    assert_eq!(stats.cuts.load(std::sync::atomic::Ordering::Relaxed), 1, "the relay never cut");
    assert!(stats.connections.load(std::sync::atomic::Ordering::Relaxed) >= 2, "skiff did not reconnect");
    let down = stats.bytes_down.load(std::sync::atomic::Ordering::Relaxed);
    // Starting over would move ~30 MiB + 64 MiB; continuing moves ~64 MiB plus what was in flight.
    assert!(down < size + size * 3 / 10, "moved {down} bytes for a {size}-byte file: it started over");
}

#[test]
fn put_resumes_after_the_connection_is_cut() {
    let sshd = Sshd::start().unwrap();
    let size = 64 * 1024 * 1024u64;
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("big");
    write_random_file(&src, size, 8).unwrap();
    let (relay, config) = cutting_relay(&sshd, 30 * 1024 * 1024);
    let rpath = sshd.root.join("big-up");
    let o = skiff(&config, &["cp", "-q", "--connections", "1", s(&src), &remote(&sshd, &rpath)]);
    assert_ok(&o);
    assert_eq!(sha256_file(&rpath).unwrap(), sha256_file(&src).unwrap());
    let stats = relay.stats();
    assert_eq!(stats.cuts.load(std::sync::atomic::Ordering::Relaxed), 1, "the relay never cut");
    let up = stats.bytes_up.load(std::sync::atomic::Ordering::Relaxed);
    assert!(up < size + size * 3 / 10, "sent {up} bytes for a {size}-byte file: it started over");
}

#[test]
fn into_an_existing_directory_and_ls() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("hello.txt");
    std::fs::write(&src, b"hello").unwrap();
    let rdir = sshd.root.join("inbox");
    std::fs::create_dir(&rdir).unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", s(&src), &remote(&sshd, &rdir)]));
    assert_eq!(std::fs::read(rdir.join("hello.txt")).unwrap(), b"hello");

    let o = skiff(&sshd.ssh_config, &["ls", &remote(&sshd, &rdir)]);
    assert_ok(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello.txt\n");

    let out = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", &remote(&sshd, &rdir.join("hello.txt")), s(out.path())]));
    assert_eq!(std::fs::read(out.path().join("hello.txt")).unwrap(), b"hello");
}

#[test]
fn recursive_copy_both_ways() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::create_dir_all(tree.join("empty")).unwrap();
    std::fs::write(tree.join("top"), b"1").unwrap();
    std::fs::write(tree.join("a/b/deep name"), b"22").unwrap();
    write_random_file(tree.join("a/big"), 2_000_000, 3).unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", "-r", s(&tree), &remote(&sshd, &sshd.root)]));
    assert_eq!(std::fs::read(sshd.root.join("tree/a/b/deep name")).unwrap(), b"22");
    assert!(sshd.root.join("tree/empty").is_dir());
    let back = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", "-r", &remote(&sshd, &sshd.root.join("tree")), s(back.path())]));
    assert_eq!(
        sha256_file(back.path().join("tree/a/big")).unwrap(),
        sha256_file(tree.join("a/big")).unwrap()
    );
    assert_eq!(std::fs::read(back.path().join("tree/top")).unwrap(), b"1");
}

#[test]
fn through_a_proxy_jump_host() {
    let sshd = Sshd::start().unwrap();
    // The jump host and the target are the same server: skiff connects to it, opens a
    // direct-tcpip channel back to its own port, and runs a second SSH session inside.
    let base = std::fs::read_to_string(&sshd.ssh_config).unwrap();
    let jump_cfg = base.replace("Host skiff-test", "Host jumpbox");
    let target_cfg = format!("Host behind\n  ProxyJump jumpbox\n{}", base.split_once('\n').unwrap().1);
    let cfg = sshd.dir.path().join("jump.config");
    std::fs::write(&cfg, format!("{target_cfg}\n{jump_cfg}")).unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("f");
    write_random_file(&src, 3_000_000, 9).unwrap();
    let rpath = sshd.root.join("via-jump");
    assert_ok(&skiff(&cfg, &["cp", "-q", s(&src), &format!("behind:{}", rpath.display())]));
    assert_eq!(sha256_file(&rpath).unwrap(), sha256_file(&src).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let log = sshd.log_contents();
    assert!(log.contains("direct-tcpip"), "no direct-tcpip channel in the server log: the jump was not used");
}

#[test]
fn accept_new_from_the_config_saves_the_key() {
    let sshd = Sshd::start().unwrap();
    let kh = sshd.dir.path().join("fresh_known_hosts");
    let text: String = std::fs::read_to_string(&sshd.ssh_config)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("UserKnownHostsFile") && !l.contains("StrictHostKeyChecking"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = sshd.dir.path().join("acceptnew.config");
    std::fs::write(&cfg, format!("{text}  UserKnownHostsFile {}\n  StrictHostKeyChecking accept-new\n", kh.display())).unwrap();
    std::fs::write(sshd.root.join("f"), b"x").unwrap();
    let out = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&cfg, &["cp", "-q", &remote(&sshd, &sshd.root.join("f")), s(out.path())]));
    let saved = std::fs::read_to_string(&kh).unwrap();
    assert!(saved.contains(sshd.host_key_pub_line.split_whitespace().nth(1).unwrap()), "{saved}");
}

/// Run `skiff` and return how long it took (wall time).
fn timed_skiff(config: &std::path::Path, args: &[&str]) -> Duration {
    let started = std::time::Instant::now();
    assert_ok(&skiff(config, args));
    started.elapsed()
}

#[test]
fn limit_caps_the_speed_of_get_and_put() {
    let sshd = Sshd::start().unwrap();
    let size = 6 * 1024 * 1024u64;
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("limited");
    write_random_file(&src, size, 11).unwrap();
    let want = sha256_file(&src).unwrap();
    // 6 MiB at 2 MiB/s is ~2.9 s (the first ~200 KiB burst and the last block go at once);
    // it cannot be faster, however noisy the machine. No tight upper bound: it can be slower.
    let (at_least, at_most) = (Duration::from_millis(2500), Duration::from_secs(30));

    let rpath = sshd.root.join("limited-up");
    let took = timed_skiff(&sshd.ssh_config, &["cp", "-q", "--limit", "2M", s(&src), &remote(&sshd, &rpath)]);
    assert!(took >= at_least && took <= at_most, "put of 6 MiB at 2 MiB/s took {took:?}");
    assert_eq!(sha256_file(&rpath).unwrap(), want, "limited put differs");

    let back = local.path().join("limited-back");
    let took = timed_skiff(&sshd.ssh_config, &["cp", "-q", "--limit", "2M", &remote(&sshd, &rpath), s(&back)]);
    assert!(took >= at_least && took <= at_most, "get of 6 MiB at 2 MiB/s took {took:?}");
    assert_eq!(sha256_file(&back).unwrap(), want, "limited get differs");
}

#[test]
fn limit_caps_recursive_copies_of_small_files() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("small-tree");
    std::fs::create_dir_all(&tree).unwrap();
    // 4 MiB in 128 KiB files: every one goes the small-file way (whole file in one burst).
    for i in 0..32u64 {
        write_random_file(tree.join(format!("f{i}")), 128 * 1024, 100 + i).unwrap();
    }
    // ~3.9 s at 1 MiB/s; it cannot be faster.
    let (at_least, at_most) = (Duration::from_secs(3), Duration::from_secs(30));
    let took = timed_skiff(&sshd.ssh_config, &["cp", "-q", "-r", "--limit", "1M", s(&tree), &remote(&sshd, &sshd.root)]);
    assert!(took >= at_least && took <= at_most, "put of a 4 MiB tree at 1 MiB/s took {took:?}");
    let back = tempfile::tempdir().unwrap();
    let took = timed_skiff(&sshd.ssh_config, &["cp", "-q", "-r", "--limit", "1M", &remote(&sshd, &sshd.root.join("small-tree")), s(back.path())]);
    assert!(took >= at_least && took <= at_most, "get of a 4 MiB tree at 1 MiB/s took {took:?}");
    for i in 0..32u64 {
        let name = format!("f{i}");
        assert_eq!(sha256_file(back.path().join("small-tree").join(&name)).unwrap(), sha256_file(tree.join(&name)).unwrap(), "{name} differs");
    }
}

#[test]
fn times_and_permissions_are_kept_unless_told_not_to() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("kept");
    std::fs::create_dir(&tree).unwrap();
    for (name, mode) in [("script", 0o750), ("secret", 0o600)] {
        let p = tree.join(name);
        std::fs::write(&p, name).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options().write(true).open(&p).unwrap().set_modified(old).unwrap();
    }
    let meta = |p: std::path::PathBuf| {
        let m = std::fs::metadata(&p).unwrap();
        (m.mtime(), m.permissions().mode() & 0o777)
    };
    // Single file and tree, both ways, default: kept.
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", "-r", s(&tree), &remote(&sshd, &sshd.root)]));
    assert_eq!(meta(sshd.root.join("kept/script")), (1_000_000_000, 0o750));
    assert_eq!(meta(sshd.root.join("kept/secret")), (1_000_000_000, 0o600));
    let back = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", &remote(&sshd, &sshd.root.join("kept/script")), s(back.path())]));
    assert_eq!(meta(back.path().join("script")), (1_000_000_000, 0o750));

    // --no-times --no-perms: the copy gets the time of the copy and default permissions.
    let fresh = tempfile::tempdir().unwrap();
    assert_ok(&skiff(&sshd.ssh_config, &["cp", "-q", "-r", "--no-times", "--no-perms", &remote(&sshd, &sshd.root.join("kept")), s(fresh.path())]));
    let (mtime, mode) = meta(fresh.path().join("kept/secret"));
    assert!(mtime > 1_700_000_000, "the modification time was copied: {mtime}");
    assert_eq!(mode, 0o666 & !current_umask(), "permissions were copied");
}

fn current_umask() -> u32 {
    let probe = tempfile::tempdir().unwrap();
    let p = probe.path().join("probe");
    std::fs::write(&p, b"").unwrap();
    use std::os::unix::fs::PermissionsExt;
    0o666 & !(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777)
}
