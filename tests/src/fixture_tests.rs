//! Tests that prove the fixtures are real: OpenSSH's own client talks to the
//! sshd, and the relay measurably delays, caps, and cuts.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::files::{random_bytes, sha256_file, write_random_file};
use crate::relay::{Relay, RelayOptions};
use crate::sshd::{Sshd, SshdOptions, HOST_ALIAS};

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ssh(sshd: &Sshd, config: &std::path::Path, host: &str, extra: &[&str], remote: &str) -> Output {
    run(
        Command::new("ssh")
            .arg("-F")
            .arg(config)
            .args(["-o", "BatchMode=yes"])
            .args(extra)
            .arg(host)
            .arg(remote),
        "",
    )
    .tap(|o| {
        if !o.status.success() {
            eprintln!(
                "ssh stderr: {}\nsshd log:\n{}",
                String::from_utf8_lossy(&o.stderr),
                sshd.log_contents()
            );
        }
    })
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&Self)) -> Self {
        f(&self);
        self
    }
}
impl<T> Tap for T {}

#[test]
fn sshd_accepts_openssh_client() {
    let sshd = Sshd::start().unwrap();
    assert!(sshd.root.is_absolute());
    assert!(sshd.host_key_pub_line.starts_with("ssh-ed25519 AAAA"));
    assert_eq!(sshd.addr.port(), sshd.port);
    let out = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true");
    assert!(
        out.status.success(),
        "ssh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = sshd.log_contents();
    assert!(log.contains("Accepted publickey"), "log:\n{log}");
}

#[test]
fn sshd_serves_sftp_put_and_get() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src.bin");
    let back = local.path().join("back.bin");
    write_random_file(&src, 3 * 1024 * 1024 + 17, 42).unwrap();
    let remote = sshd.root.join("up.bin");
    let batch = format!(
        "put {} {}\nget {} {}\n",
        src.display(),
        remote.display(),
        remote.display(),
        back.display()
    );
    let out = run(
        Command::new("sftp").arg("-F").arg(&sshd.ssh_config).args([
            "-o",
            "BatchMode=yes",
            "-b",
            "-",
            HOST_ALIAS,
        ]),
        &batch,
    );
    assert!(
        out.status.success(),
        "sftp failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log_contents()
    );
    let want = sha256_file(&src).unwrap();
    assert_eq!(sha256_file(&remote).unwrap(), want);
    assert_eq!(sha256_file(&back).unwrap(), want);
}

#[test]
fn sshd_without_sftp_refuses_the_subsystem() {
    let sshd = Sshd::start_with(SshdOptions {
        allow_sftp: false,
        ..Default::default()
    })
    .unwrap();
    let out = run(
        Command::new("sftp").arg("-F").arg(&sshd.ssh_config).args([
            "-o",
            "BatchMode=yes",
            "-b",
            "-",
            HOST_ALIAS,
        ]),
        "pwd\n",
    );
    assert!(!out.status.success());
    // Shell access still works: it is only the subsystem that is missing.
    let ok = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true");
    assert!(ok.status.success());
}

#[test]
fn sshd_extra_config_is_applied() {
    let sshd = Sshd::start_with(SshdOptions {
        extra_config: vec!["PubkeyAuthentication no".into()],
        ..Default::default()
    })
    .unwrap();
    let out = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true");
    assert!(
        !out.status.success(),
        "login should fail with pubkey disabled"
    );

    // A Match block goes last, so it does not swallow the fixture's lines.
    let sshd = Sshd::start_with(SshdOptions {
        extra_config: vec!["Match User nobody".into(), "  AllowTcpForwarding no".into()],
        ..Default::default()
    })
    .unwrap();
    let out = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true");
    assert!(out.status.success());
}

#[test]
fn sshd_unknown_host_key_is_rejected_by_client() {
    let sshd = Sshd::start().unwrap();
    std::fs::write(&sshd.known_hosts, "").unwrap();
    let out = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Host key verification failed"));
}

#[test]
fn sshd_password_option_enables_password_auth() {
    let sshd = match Sshd::start_with(SshdOptions {
        password: Some("skiff-Test-pw-1".into()),
        ..Default::default()
    }) {
        Ok(s) => s,
        Err(e) if e.to_string().contains("need root") => {
            panic!("{e:#}: run the tests as root (password logins use the local user `skifftest`, which only root can create)")
        }
        Err(e) => panic!("{e:#}"),
    };
    assert_eq!(sshd.user, crate::sshd::PASSWORD_USER);
    // The key works for the password user too.
    let out = ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "id -un");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "skifftest");
    // Without the key, the server offers password.
    let out = ssh(
        &sshd,
        &sshd.ssh_config,
        HOST_ALIAS,
        &["-o", "PubkeyAuthentication=no"],
        "true",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password"), "stderr: {err}");
    // The password user can write the data root.
    let out = ssh(
        &sshd,
        &sshd.ssh_config,
        HOST_ALIAS,
        &[],
        &format!("echo hi > {}/by-skifftest", sshd.root.display()),
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(sshd.root.join("by-skifftest")).unwrap(),
        "hi\n"
    );
}

#[test]
fn sshd_through_relay_with_client_config_for_port() {
    let sshd = Sshd::start().unwrap();
    let relay = Relay::start(
        sshd.addr,
        RelayOptions {
            one_way_delay: Duration::from_millis(10),
            ..Default::default()
        },
    )
    .unwrap();
    let cfg = sshd
        .client_config_for_port("skiff-relay", relay.port)
        .unwrap();
    let out = ssh(&sshd, &cfg, "skiff-relay", &[], "echo via-relay");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via-relay");
    assert!(relay.stats().connections.load(Ordering::SeqCst) >= 1);
    assert!(relay.stats().bytes_up.load(Ordering::SeqCst) > 0);
    assert!(relay.stats().bytes_down.load(Ordering::SeqCst) > 0);
    // The original alias still works.
    assert!(ssh(&sshd, &sshd.ssh_config, HOST_ALIAS, &[], "true")
        .status
        .success());
}

// ---- relay ----

/// A server that reads everything, then replies with the byte count (u64 LE).
fn sink_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let mut total = 0u64;
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = s.write_all(&total.to_le_bytes());
            });
        }
    });
    addr
}

/// A server that echoes everything back.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// Send `size` bytes through `addr` to a sink; returns (elapsed, count acknowledged).
fn push_to_sink(addr: SocketAddr, size: usize) -> (Duration, u64) {
    let data = random_bytes(size, 1);
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut reply = [0u8; 8];
    s.read_exact(&mut reply).unwrap();
    (start.elapsed(), u64::from_le_bytes(reply))
}

#[test]
fn relay_delay_does_not_serialize_throughput() {
    let relay = Relay::start(
        sink_server(),
        RelayOptions {
            one_way_delay: Duration::from_millis(25),
            ..Default::default()
        },
    )
    .unwrap();
    let size = 20 * 1024 * 1024;
    let (elapsed, count) = push_to_sink(relay.addr, size);
    assert_eq!(count, size as u64);
    assert!(
        elapsed >= Duration::from_millis(50),
        "took {elapsed:?}: delay not applied"
    );
    let mbps = size as f64 / elapsed.as_secs_f64() / 1e6;
    eprintln!("20 MiB through a 25 ms one-way relay: {elapsed:?} = {mbps:.0} MB/s");
    assert!(mbps > 20.0, "only {mbps:.1} MB/s through the delay relay");
    assert_eq!(relay.stats().bytes_up.load(Ordering::SeqCst), size as u64);
    assert_eq!(relay.stats().bytes_down.load(Ordering::SeqCst), 8);
}

#[test]
fn relay_adds_round_trip_time() {
    let relay = Relay::start(
        echo_server(),
        RelayOptions {
            one_way_delay: Duration::from_millis(25),
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = TcpStream::connect(relay.addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut rtts = Vec::new();
    for i in 0..5u8 {
        let start = Instant::now();
        s.write_all(&[i]).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i);
        rtts.push(start.elapsed());
    }
    eprintln!("ping-pong RTTs: {rtts:?}");
    for rtt in &rtts {
        assert!(*rtt >= Duration::from_millis(50), "rtt {rtt:?} < 50 ms");
        assert!(
            *rtt < Duration::from_millis(500),
            "rtt {rtt:?} far too long"
        );
    }
}

#[test]
fn relay_cuts_first_connection_only() {
    let limit = 100_000u64;
    let relay = Relay::start(
        echo_server(),
        RelayOptions {
            cut_after_bytes: Some(limit),
            cut_connections: 1,
            ..Default::default()
        },
    )
    .unwrap();

    let exchange = |size: usize| -> (Vec<u8>, bool) {
        let data = random_bytes(size, 9);
        let s = TcpStream::connect(relay.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = thread::spawn(move || {
            let ok = w.write_all(&data).is_ok();
            let _ = w.shutdown(Shutdown::Write);
            ok
        });
        let mut r = s;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("connection hung instead of being cut")
                }
                Err(_) => break, // reset: that is a cut too
            }
        }
        let _ = r.shutdown(Shutdown::Both);
        let wrote_all = writer.join().unwrap();
        (got, wrote_all)
    };

    let size = 1024 * 1024;
    let (first, _) = exchange(size);
    assert!(
        (first.len() as u64) < limit,
        "first connection echoed {} bytes past a {limit}-byte cut",
        first.len()
    );
    assert_eq!(first[..], random_bytes(size, 9)[..first.len()]);
    assert_eq!(relay.stats().cuts.load(Ordering::SeqCst), 1);

    let (second, wrote_all) = exchange(size);
    assert!(wrote_all);
    assert_eq!(
        second.len(),
        size,
        "second connection should pass untouched"
    );
    assert_eq!(second, random_bytes(size, 9));
    assert_eq!(relay.stats().cuts.load(Ordering::SeqCst), 1);
    assert_eq!(relay.stats().connections.load(Ordering::SeqCst), 2);
}

#[test]
fn relay_caps_rate() {
    let rate = 4 * 1024 * 1024u64;
    let relay = Relay::start(
        sink_server(),
        RelayOptions {
            rate_bytes_per_sec: Some(rate),
            ..Default::default()
        },
    )
    .unwrap();
    let size = 2 * 1024 * 1024;
    let (elapsed, count) = push_to_sink(relay.addr, size);
    assert_eq!(count, size as u64);
    let expected = size as f64 / rate as f64; // 0.5 s
    eprintln!("2 MiB at 4 MiB/s: {elapsed:?} (expected ~{expected:.2} s)");
    assert!(
        elapsed.as_secs_f64() > expected * 0.85,
        "too fast: {elapsed:?}"
    );
    assert!(
        elapsed.as_secs_f64() < expected * 2.5,
        "too slow: {elapsed:?}"
    );
}

#[test]
fn relay_passes_through_by_default_and_stops_on_drop() {
    let relay = Relay::start(echo_server(), RelayOptions::default()).unwrap();
    let addr = relay.addr;
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"hello").unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hello");
    drop(relay);
    // The open connection is closed and the port no longer accepts.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = [0u8; 1];
    assert!(matches!(s.read(&mut rest), Ok(0) | Err(_)));
    assert!(TcpStream::connect(addr).is_err());
}
