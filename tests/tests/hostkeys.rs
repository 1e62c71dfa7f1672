//! Host keys like OpenSSH: the key exchange asks for the key types known_hosts already holds
//! for the host (so a host known by one type is never "unknown" because it prefers another),
//! and a key of a new type for a host known by another type is its own refusal — never saved
//! by accept-new. Real `sshd`s serving several host-key types, the real `skiff` binary.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use skiff_tests::sshd::{generate_host_key, Sshd, SshdOptions};

const HOST_KEY: i32 = 5;

/// An sshd serving RSA and ECDSA host keys ahead of its ed25519 one; their public lines.
fn multi_key_sshd() -> (Sshd, tempfile::TempDir, String, String) {
    let keys = tempfile::tempdir().unwrap();
    let rsa = generate_host_key(&keys.path().join("rsa"), "rsa").unwrap();
    let ecdsa = generate_host_key(&keys.path().join("ecdsa"), "ecdsa").unwrap();
    let sshd = Sshd::start_with(SshdOptions {
        extra_config: vec![
            format!("HostKey {}", keys.path().join("rsa").display()),
            format!("HostKey {}", keys.path().join("ecdsa").display()),
        ],
        ..Default::default()
    })
    .unwrap();
    (sshd, keys, rsa, ecdsa)
}

/// A client config for the fixture's alias whose known_hosts holds exactly `lines`.
fn config_knowing(sshd: &Sshd, name: &str, lines: &[String], strict: &str) -> (PathBuf, PathBuf) {
    let kh = sshd.dir.path().join(format!("{name}.known_hosts"));
    let body: String = lines.iter().map(|l| format!("[127.0.0.1]:{} {l}\n", sshd.port)).collect();
    std::fs::write(&kh, body).unwrap();
    let text: String = std::fs::read_to_string(&sshd.ssh_config)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("UserKnownHostsFile") && !l.contains("StrictHostKeyChecking"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = sshd.dir.path().join(format!("{name}.config"));
    std::fs::write(&cfg, format!("{text}  UserKnownHostsFile {}\n  StrictHostKeyChecking {strict}\n", kh.display())).unwrap();
    (cfg, kh)
}

fn fetch(sshd: &Sshd, cfg: &Path, extra: &[&str]) -> std::process::Output {
    std::fs::write(sshd.root.join("f"), b"hello").unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["cp", "-q"];
    args.extend_from_slice(extra);
    let src = remote(sshd, &sshd.root.join("f"));
    let dst = out.path().display().to_string();
    args.push(&src);
    args.push(&dst);
    let o = skiff(cfg, &args);
    if o.status.success() {
        assert_eq!(std::fs::read(out.path().join("f")).unwrap(), b"hello");
    }
    o
}

#[test]
fn a_host_known_by_any_one_type_connects_without_a_question() {
    let (sshd, _keys, rsa, ecdsa) = multi_key_sshd();
    // StrictHostKeyChecking yes and no terminal: any "unknown key" would fail the copy.
    for (name, known) in [("ed25519", &sshd.host_key_pub_line), ("rsa", &rsa), ("ecdsa", &ecdsa)] {
        let (cfg, kh) = config_knowing(&sshd, name, std::slice::from_ref(known), "yes");
        let before = std::fs::read_to_string(&kh).unwrap();
        let o = fetch(&sshd, &cfg, &[]);
        assert!(
            o.status.success(),
            "known by its {name} key only, the connection must ask for that key: {}\n{}",
            stderr(&o),
            sshd.log_contents()
        );
        assert_eq!(std::fs::read_to_string(&kh).unwrap(), before, "{name}: known_hosts changed");
    }
}

#[test]
fn a_key_of_another_type_than_the_known_one_is_refused_even_with_accept_new() {
    // The server serves only ed25519; known_hosts holds an RSA key for it.
    let sshd = Sshd::start().unwrap();
    let other = tempfile::tempdir().unwrap();
    let rsa = generate_host_key(&other.path().join("rsa"), "rsa").unwrap();
    let server_fp = fingerprint_of(&sshd.host_key.with_extension("pub"));
    let known_fp = fingerprint_of(&other.path().join("rsa.pub"));
    for (name, strict, extra) in [
        ("accept-new", "accept-new", &[][..]),
        ("flag", "yes", &["--accept-new"][..]),
        ("strict", "yes", &[][..]),
        ("ask", "ask", &[][..]),
    ] {
        let (cfg, kh) = config_knowing(&sshd, name, std::slice::from_ref(&rsa), strict);
        let before = std::fs::read_to_string(&kh).unwrap();
        let o = fetch(&sshd, &cfg, extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(HOST_KEY), "{name}: wrong exit code; stderr: {err}");
        for needle in [
            "another key type is known for this host",
            &format!("ssh-rsa key {known_fp}"),
            &format!("the server offered ssh-ed25519 key {server_fp}"),
            &format!("127.0.0.1:{}", sshd.port),
            "no credentials were sent",
        ] {
            assert!(err.contains(needle), "{name}: stderr lacks {needle:?}: {err}");
        }
        assert_eq!(std::fs::read_to_string(&kh).unwrap(), before, "{name}: the new-type key was saved");
    }
    // No login was attempted: the host key was refused before any credential.
    assert!(!sshd.log_contents().contains("Accepted publickey"), "{}", sshd.log_contents());
}

/// `SHA256:...` of a `.pub` file, as `ssh-keygen -lf` prints it.
fn fingerprint_of(pub_file: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen").arg("-lf").arg(pub_file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().to_string()
}
