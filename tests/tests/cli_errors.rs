//! Bad input gets a clear error, a stable exit code, and loses nothing. Each case runs the
//! real `skiff` binary against a real sshd; each message must name the host, the path (where
//! there is one) and the operation.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use skiff_tests::files::write_random_file;
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::{Sshd, SshdOptions};

const NETWORK: i32 = 3;
const AUTH: i32 = 4;
const HOST_KEY: i32 = 5;
const NOT_FOUND: i32 = 6;
const PERMISSION: i32 = 7;

fn host_label(sshd: &Sshd) -> String {
    format!("{}@127.0.0.1:{}", sshd.user, sshd.port)
}

fn expect_failure(o: &std::process::Output, code: i32, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "wrong exit code; stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    err
}

#[test]
fn missing_remote_file() {
    let sshd = Sshd::start().unwrap();
    let out = tempfile::tempdir().unwrap();
    let missing = sshd.root.join("nope.bin");
    let o = skiff(&sshd.ssh_config, &["cp", &remote(&sshd, &missing), s(out.path())]);
    expect_failure(&o, NOT_FOUND, &[&host_label(&sshd), s(&missing), "stat", "No such file"]);
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "something was created locally");
}

#[test]
fn missing_local_file() {
    let sshd = Sshd::start().unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", "/definitely/not/here.txt", &remote(&sshd, &sshd.root)]);
    expect_failure(&o, NOT_FOUND, &["upload", "/definitely/not/here.txt"]);
}

#[test]
fn directory_where_a_file_was_expected() {
    let sshd = Sshd::start().unwrap();
    std::fs::create_dir(sshd.root.join("adir")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", &remote(&sshd, &sshd.root.join("adir")), s(out.path())]);
    expect_failure(&o, 1, &["download", "directory", "-r", &host_label(&sshd)]);
    let local_dir = tempfile::tempdir().unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", s(local_dir.path()), &remote(&sshd, &sshd.root)]);
    expect_failure(&o, 1, &["upload", "directory", "-r"]);
}

#[test]
fn permission_denied_and_wrong_password() {
    // A non-root user, so that file permissions apply on the server.
    let sshd = Sshd::start_with(SshdOptions { password: Some("right-pw".into()), ..Default::default() }).unwrap();
    let secret = sshd.root.join("secret");
    std::fs::write(&secret, b"top secret").unwrap();
    Command::new("chmod").arg("600").arg(&secret).status().unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", &remote(&sshd, &secret), s(out.path())]);
    expect_failure(&o, PERMISSION, &[&host_label(&sshd), s(&secret), "open for reading", "ermission denied"]);
    assert!(!out.path().join("secret").exists(), "destination was created");

    // Wrong password, and no key: authentication fails with a clear list of what was tried.
    let nokey = sshd.dir.path().join("nokey.config");
    let text = std::fs::read_to_string(&sshd.ssh_config).unwrap();
    let text: String = text.lines().filter(|l| !l.trim_start().starts_with("IdentityFile")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&nokey, text + "  IdentityFile /nonexistent/key\n").unwrap();
    let o = skiff_env(&nokey, &["cp", &remote(&sshd, &secret), s(out.path())], &[("SKIFF_PASSWORD", "wrong-pw")]);
    expect_failure(&o, AUTH, &[&host_label(&sshd), "authenticate", "password (rejected)"]);
    // The right password works.
    let readable = sshd.root.join("readable");
    std::fs::write(&readable, b"ok").unwrap();
    let o = skiff_env(&nokey, &["cp", "-q", &remote(&sshd, &readable), s(out.path())], &[("SKIFF_PASSWORD", "right-pw")]);
    assert_ok(&o);
    assert_eq!(std::fs::read(out.path().join("readable")).unwrap(), b"ok");
}

#[test]
fn encrypted_key_without_passphrase() {
    let sshd = Sshd::start().unwrap();
    let key = sshd.dir.path().join("enc_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "sekrit", "-C", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let auth = sshd.dir.path().join("authorized_keys");
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut keys = std::fs::read_to_string(&auth).unwrap();
    keys.push_str(&pubkey);
    std::fs::write(&auth, keys).unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(sshd.root.join("f"), b"x").unwrap();
    let args = ["cp", "-o", &format!("IdentityFile={}", key.display()), "-o", "IdentitiesOnly=yes", &remote(&sshd, &sshd.root.join("f")), s(out.path())];
    // Only the encrypted key is offered first; without a passphrase it is skipped with a reason.
    let cfg = sshd.dir.path().join("enc.config");
    let text = std::fs::read_to_string(&sshd.ssh_config).unwrap();
    let text: String = text.lines().filter(|l| !l.trim_start().starts_with("IdentityFile")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cfg, text).unwrap();
    let o = skiff(&cfg, &args);
    expect_failure(&o, AUTH, &["authenticate", "encrypted, no passphrase given", s(&key)]);
    // With the passphrase it works.
    let o = skiff_env(&cfg, &args, &[("SKIFF_PASSPHRASE", "sekrit")]);
    assert_ok(&o);
}

fn config_with_known_hosts(sshd: &Sshd, name: &str, known_hosts: &str, strict: &str) -> std::path::PathBuf {
    let kh = sshd.dir.path().join(format!("{name}.known_hosts"));
    std::fs::write(&kh, known_hosts).unwrap();
    let text = std::fs::read_to_string(&sshd.ssh_config).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("UserKnownHostsFile") && !l.trim_start().starts_with("StrictHostKeyChecking"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = sshd.dir.path().join(format!("{name}.config"));
    std::fs::write(&cfg, format!("{text}  UserKnownHostsFile {}\n  StrictHostKeyChecking {strict}\n", kh.display())).unwrap();
    cfg
}

#[test]
fn unknown_host_key_is_refused_unless_accepted() {
    let sshd = Sshd::start().unwrap();
    std::fs::write(sshd.root.join("f"), b"x").unwrap();
    let out = tempfile::tempdir().unwrap();
    let cfg = config_with_known_hosts(&sshd, "unknown", "", "yes");
    let args = ["cp", "-q", &remote(&sshd, &sshd.root.join("f")), s(out.path())];
    let o = skiff(&cfg, &args);
    expect_failure(&o, HOST_KEY, &["verify host key", "not in known_hosts", "SHA256:", "--accept-new", &host_label(&sshd)]);
    assert!(!out.path().join("f").exists());
    // --accept-new saves it, and the next run trusts it without the flag.
    let mut accept = args.to_vec();
    accept.insert(1, "--accept-new");
    assert_ok(&skiff(&cfg, &accept));
    let saved = std::fs::read_to_string(sshd.dir.path().join("unknown.known_hosts")).unwrap();
    assert!(saved.contains(&format!("[127.0.0.1]:{}", sshd.port)), "key not saved: {saved}");
    assert_ok(&skiff(&cfg, &args));
}

#[test]
fn changed_host_key_is_refused_before_any_credential() {
    let sshd = Sshd::start().unwrap();
    let other = sshd.dir.path().join("other_host_key");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"]).arg(&other).status().unwrap().success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let kh = format!("# managed by a test\n[127.0.0.1]:{} {}", sshd.port, other_pub.trim());
    let cfg = config_with_known_hosts(&sshd, "changed", &(kh + "\n"), "yes");
    std::fs::write(sshd.root.join("f"), b"x").unwrap();
    let out = tempfile::tempdir().unwrap();
    let before = sshd.log_contents().len();
    let o = skiff(&cfg, &["cp", "--accept-new", &remote(&sshd, &sshd.root.join("f")), s(out.path())]);
    let kh_path = sshd.dir.path().join("changed.known_hosts");
    expect_failure(&o, HOST_KEY, &["CHANGED", "line 2", s(&kh_path), "no credentials were sent", &host_label(&sshd)]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = sshd.log_contents();
    let ours = &log[before.min(log.len())..];
    assert!(ours.contains("Connection from 127.0.0.1") || ours.contains("connection from 127.0.0.1") || ours.contains("kex"), "sshd never saw us: {ours}");
    for forbidden in ["userauth-request", "Accepted", "Failed publickey", "Postponed"] {
        assert!(!ours.contains(forbidden), "a credential reached the server ({forbidden}): {ours}");
    }
    assert!(!out.path().join("f").exists());
}

#[test]
fn server_without_sftp_subsystem() {
    let sshd = Sshd::start_with(SshdOptions { allow_sftp: false, ..Default::default() }).unwrap();
    std::fs::write(sshd.root.join("f"), b"x").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = skiff(&sshd.ssh_config, &["cp", &remote(&sshd, &sshd.root.join("f")), s(out.path())]);
    expect_failure(&o, 1, &["start sftp", "sftp subsystem", &host_label(&sshd)]);
}

#[test]
fn connection_cut_without_retries_keeps_partial_and_destination() {
    let sshd = Sshd::start().unwrap();
    let size = 32 * 1024 * 1024;
    let src = sshd.root.join("big");
    write_random_file(&src, size, 11).unwrap();
    // Cut every connection after 8 MiB, so no reconnect can succeed.
    let relay = Relay::start(sshd.addr, RelayOptions { cut_after_bytes: Some(8 * 1024 * 1024), ..Default::default() }).unwrap();
    let cfg = sshd.client_config_for_port("skiff-test", relay.port).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dst = out.path().join("big");
    std::fs::write(&dst, b"precious old contents").unwrap();
    let o = skiff(&cfg, &["cp", "--retries", "1", "--connections", "1", &remote(&sshd, &src), s(&dst)]);
    let err = expect_failure(&o, NETWORK, &[s(&src), &format!("127.0.0.1:{}", relay.port), ".skiffpart"]);
    assert!(err.contains("kept") || err.contains("partial"), "{err}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious old contents", "destination was touched");
    let part = out.path().join("big.skiffpart");
    assert!(part.exists(), ".skiffpart was not kept");

    // The same for an upload: the remote destination stays as it was.
    let local_src = out.path().join("up");
    write_random_file(&local_src, size, 12).unwrap();
    let rdst = sshd.root.join("up");
    std::fs::write(&rdst, b"old remote").unwrap();
    let o = skiff(&cfg, &["cp", "--retries", "1", "--connections", "1", s(&local_src), &remote(&sshd, &rdst)]);
    expect_failure(&o, NETWORK, &[s(&rdst), ".skiffpart"]);
    assert_eq!(std::fs::read(&rdst).unwrap(), b"old remote");
    assert!(Path::new(&format!("{}.skiffpart", rdst.display())).exists());
}
