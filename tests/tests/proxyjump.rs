//! ProxyJump like OpenSSH, through real `sshd`s: `ProxyJump a,b` goes me → a → b → target,
//! each hop with its own `Host` block (user, port, identity, known_hosts), and secrets never
//! cross hosts: `SKIFF_PASSWORD` belongs to the target and no jump host's log shows a
//! password attempt.

mod common;

use std::time::Duration;

use common::*;
use skiff_tests::files::{sha256_file, write_random_file};
use skiff_tests::sshd::{Sshd, SshdOptions, PASSWORD_USER};

const AUTH: i32 = 4;

/// A `Host` block for `alias` reaching `sshd` with its own key and known_hosts.
fn host_block(alias: &str, sshd: &Sshd, extra: &str) -> String {
    let text = std::fs::read_to_string(&sshd.ssh_config).unwrap();
    let body = text.split_once('\n').unwrap().1;
    format!("Host {alias}\n{extra}{body}\n")
}

/// `sshd` with only `PermitOpen 127.0.0.1:to` allowed for forwarding.
fn hop_to(to: u16, extra: &[&str]) -> Sshd {
    let mut cfg = vec![format!("PermitOpen 127.0.0.1:{to}"), "AllowTcpForwarding yes".to_string()];
    cfg.extend(extra.iter().map(|s| s.to_string()));
    Sshd::start_with(SshdOptions { extra_config: cfg, ..Default::default() }).unwrap()
}

fn forwarded_to(sshd: &Sshd, port: u16) -> bool {
    sshd.log_contents().contains(&format!("target 127.0.0.1 port {port}"))
}

#[test]
fn two_hops_go_in_order_and_carry_a_byte_identical_file() {
    // target ← b (may only forward to target) ← a (may only forward to b).
    let target = Sshd::start().unwrap();
    let b = hop_to(target.port, &[]);
    let a = hop_to(b.port, &[]);
    // Each server authorizes only its own fixture key: each hop must use its own Host block.
    let cfg = target.dir.path().join("twohop.config");
    std::fs::write(
        &cfg,
        format!(
            "{}{}{}",
            host_block("behind", &target, "  ProxyJump hopa,hopb\n"),
            host_block("hopa", &a, ""),
            host_block("hopb", &b, ""),
        ),
    )
    .unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("payload");
    write_random_file(&src, 5_000_000, 17).unwrap();
    let rpath = target.root.join("via-two-hops");
    let o = skiff(&cfg, &["cp", "-q", s(&src), &format!("behind:{}", rpath.display())]);
    assert!(
        o.status.success(),
        "upload through a,b failed: {}\n--- a ---\n{}\n--- b ---\n{}",
        stderr(&o),
        a.log_contents(),
        b.log_contents()
    );
    assert_eq!(sha256_file(&rpath).unwrap(), sha256_file(&src).unwrap());
    let back = local.path().join("back");
    assert_ok(&skiff(&cfg, &["cp", "-q", &format!("behind:{}", rpath.display()), s(&back)]));
    assert_eq!(sha256_file(&back).unwrap(), sha256_file(&src).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert!(forwarded_to(&a, b.port), "a did not forward to b:\n{}", a.log_contents());
    assert!(forwarded_to(&b, target.port), "b did not forward to the target:\n{}", b.log_contents());

    // The wrong order (b first) is refused by b's PermitOpen: the order really matters.
    let wrong = target.dir.path().join("wrong.config");
    std::fs::write(
        &wrong,
        format!(
            "{}{}{}",
            host_block("behind", &target, "  ProxyJump hopb,hopa\n"),
            host_block("hopa", &a, ""),
            host_block("hopb", &b, ""),
        ),
    )
    .unwrap();
    let o = skiff(&wrong, &["cp", "-q", s(&src), &format!("behind:{}", rpath.display())]);
    assert!(!o.status.success(), "b → a must be refused by b's PermitOpen");
    assert!(stderr(&o).contains("ProxyJump"), "{}", stderr(&o));
}

#[test]
fn a_hop_written_as_user_at_host_port_uses_that_user_and_port() {
    let target = Sshd::start().unwrap();
    let b = hop_to(target.port, &[]);
    let a = hop_to(b.port, &[]);
    // Hop b is given as user@127.0.0.1:PORT; the `Host 127.0.0.1` block gives only its key
    // and known_hosts (no port: it must come from the ProxyJump line).
    let b_block: String = host_block("127.0.0.1", &b, "")
        .lines()
        .filter(|l| {
            let key = l.split_whitespace().next().unwrap_or("");
            !["Port", "User", "HostName"].contains(&key)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = target.dir.path().join("userhop.config");
    std::fs::write(
        &cfg,
        format!(
            "{}{}{}",
            host_block("behind", &target, &format!("  ProxyJump hopa,{}@127.0.0.1:{}\n", b.user, b.port)),
            host_block("hopa", &a, ""),
            b_block,
        ),
    )
    .unwrap();
    std::fs::write(target.root.join("f"), b"through user@host:port").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = skiff(&cfg, &["cp", "-q", &format!("behind:{}", target.root.join("f").display()), s(out.path())]);
    assert!(o.status.success(), "{}\n--- b ---\n{}", stderr(&o), b.log_contents());
    assert_eq!(std::fs::read(out.path().join("f")).unwrap(), b"through user@host:port");
    assert!(forwarded_to(&b, target.port));
}

/// Whether `sshd`'s log shows a password userauth request.
fn saw_password_attempt(sshd: &Sshd) -> bool {
    sshd.log_contents().lines().any(|l| l.contains("userauth-request") && l.contains("method password"))
}

/// A Host block for `alias` with password login as PASSWORD_USER and no usable key.
fn password_block(alias: &str, sshd: &Sshd, extra: &str) -> String {
    host_block(alias, sshd, extra)
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("IdentityFile") {
                "  IdentityFile /nonexistent/key".to_string()
            } else if t.starts_with("User ") {
                format!("  User {PASSWORD_USER}")
            } else {
                l.to_string()
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn skiff_password_goes_to_the_target_and_never_to_a_jump_host() {
    let pw = "target-only-pw";
    let target = Sshd::start_with(SshdOptions { password: Some(pw.into()), ..Default::default() }).unwrap();

    // 1. The jump host takes its own key (from its Host block) and logs every userauth
    //    request (DEBUG3); the target takes the password. The copy works, the target logged
    //    in with the password, the jump host saw no password attempt.
    let jump = hop_to(target.port, &["LogLevel DEBUG3"]);
    let cfg = target.dir.path().join("pwjump.config");
    std::fs::write(&cfg, format!("{}{}", password_block("behind", &target, "  ProxyJump keyjump\n"), host_block("keyjump", &jump, ""))).unwrap();
    std::fs::write(target.root.join("f"), b"secret-scoped").unwrap();
    let out = tempfile::tempdir().unwrap();
    let src = format!("behind:{}", target.root.join("f").display());
    let o = skiff_env(&cfg, &["cp", "-q", &src, s(out.path())], &[("SKIFF_PASSWORD", pw)]);
    assert!(o.status.success(), "{}\n--- jump ---\n{}\n--- target ---\n{}", stderr(&o), jump.log_contents(), target.log_contents());
    assert_eq!(std::fs::read(out.path().join("f")).unwrap(), b"secret-scoped");
    std::thread::sleep(Duration::from_millis(200));
    let jump_log = jump.log_contents();
    assert!(jump_log.contains("method publickey"), "DEBUG3 userauth lines missing:\n{jump_log}");
    assert!(!saw_password_attempt(&jump), "the jump host received a password attempt:\n{jump_log}");
    assert!(target.log_contents().contains(&format!("Accepted password for {PASSWORD_USER}")), "{}", target.log_contents());

    // 2. A jump host that WOULD accept the target's password (the same system account and
    //    password: sshd checks the shadow file) and has no key for us: it is not offered
    //    SKIFF_PASSWORD. The login to it fails naming the jump host's account, and its log
    //    shows no password attempt at all.
    let pw_jump = Sshd::start_with(SshdOptions {
        password: Some(pw.into()),
        extra_config: vec![format!("PermitOpen 127.0.0.1:{}", target.port), "LogLevel DEBUG3".into()],
        ..Default::default()
    })
    .unwrap();
    let cfg2 = target.dir.path().join("pwjump2.config");
    std::fs::write(&cfg2, format!("{}{}", password_block("behind", &target, "  ProxyJump pwjump\n"), password_block("pwjump", &pw_jump, ""))).unwrap();
    let o = skiff_env(&cfg2, &["cp", "-q", &src, s(out.path())], &[("SKIFF_PASSWORD", pw)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(AUTH), "{err}");
    let jump_account = format!("{PASSWORD_USER}@127.0.0.1:{}", pw_jump.port);
    assert!(err.contains(&jump_account) && err.contains("password (none given)"), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    let log = pw_jump.log_contents();
    assert!(log.contains("userauth-request"), "DEBUG3 userauth lines missing:\n{log}");
    assert!(!saw_password_attempt(&pw_jump), "the jump host was sent a password:\n{log}");
    assert!(!log.contains("Accepted password"), "{log}");
}

