//! Shared helpers for the end-to-end tests: find the `skiff` binary and run it against a
//! fixture server.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skiff_tests::sshd::Sshd;

/// The `skiff` binary: `$SKIFF_BIN`, else beside this test's own target directory.
pub fn skiff_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/skiff
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    for candidate in [profile_dir.join("skiff"), profile_dir.join("../release/skiff"), profile_dir.join("../debug/skiff")] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("skiff binary not found; build it with `cargo build --release -p skiff-cli` or set SKIFF_BIN");
}

/// Run `skiff` with `args`, the fixture's ssh_config, no agent and no terminal.
pub fn skiff(config: &Path, args: &[&str]) -> Output {
    skiff_env(config, args, &[])
}

pub fn skiff_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(skiff_bin());
    let sub = args[0];
    cmd.arg(sub);
    if matches!(sub, "cp" | "ls") {
        cmd.arg("-F").arg(config);
    }
    cmd.args(&args[1..]);
    cmd.env_remove("SSH_AUTH_SOCK").env_remove("SKIFF_PASSWORD").env_remove("SKIFF_PASSPHRASE");
    // Each test server gets its own queue database, beside its config.
    let db = config.parent().unwrap_or(Path::new("/tmp")).join("skiff-queue.sqlite3");
    cmd.env("SKIFF_QUEUE_DB", db);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run skiff");
    // A hung transfer must fail the test, not stall CI.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        if child.try_wait().expect("wait for skiff").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect skiff output");
            panic!("skiff {args:?} hung for 180 s; stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect skiff output")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "skiff failed ({:?}): {}", o.status.code(), stderr(o));
}

pub fn remote(sshd: &Sshd, path: &Path) -> String {
    let _ = sshd;
    format!("skiff-test:{}", path.display())
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
