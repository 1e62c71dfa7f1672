//! Server-supplied names never reach the terminal raw: a file on a real sshd whose name holds
//! ESC, BEL, an OSC title sequence, a CSI "clear screen" and a right-to-left override is
//! listed by `skiff ls` (short and long), named in an error and in `skiff queue`, and every
//! byte written is checked: no C0 control but the newline, no DEL, no C1, no bidi override.

mod common;

use common::*;
use skiff_tests::sshd::Sshd;

/// The hostile name: retitles the terminal, clears it, and flips the rest right to left.
const EVIL: &str = "\u{1b}]0;owned\u{7}\u{1b}[2Jx\u{202e}txt.exe";
/// How Skiff shows it.
const SHOWN: &str = "\\x1b]0;owned\\x07\\x1b[2Jx\\u{202e}txt.exe";

/// Every byte sequence a terminal would act on, except the line feeds between lines.
fn raw_controls(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    text.char_indices()
        .filter(|&(_, c)| c != '\n' && skiff_engine::text::is_unsafe(c))
        .map(|(i, c)| format!("U+{:04X} at byte {i}", c as u32))
        .collect()
}

fn assert_clean(what: &str, out: &[u8]) {
    let found = raw_controls(out);
    assert!(found.is_empty(), "{what} printed raw control characters {found:?}: {:?}", String::from_utf8_lossy(out));
}

#[test]
fn ls_and_errors_escape_control_characters_and_bidi_overrides() {
    let sshd = Sshd::start().unwrap();
    let dir = sshd.root.join("evil");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(EVIL), b"payload").unwrap();
    std::fs::write(dir.join("plain.txt"), b"x").unwrap();

    let o = skiff(&sshd.ssh_config, &["ls", &remote(&sshd, &dir)]);
    assert_ok(&o);
    assert_clean("skiff ls", &o.stdout);
    let listing = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(listing.lines().any(|l| l == SHOWN), "{listing}");
    assert!(listing.lines().any(|l| l == "plain.txt"), "{listing}");

    let o = skiff(&sshd.ssh_config, &["ls", "-l", &remote(&sshd, &dir)]);
    assert_ok(&o);
    assert_clean("skiff ls -l", &o.stdout);
    let long = String::from_utf8(o.stdout).unwrap();
    assert!(long.lines().any(|l| l.ends_with(SHOWN)), "{long}");

    // An error about a path holding the name: host, path (escaped) and operation.
    let out = tempfile::tempdir().unwrap();
    let missing = dir.join(EVIL).join("missing");
    let o = skiff(&sshd.ssh_config, &["cp", &remote(&sshd, &missing), s(out.path())]);
    assert_eq!(o.status.code(), Some(6), "not found; stderr: {}", stderr(&o));
    assert_clean("the error", &o.stderr);
    let err = stderr(&o);
    let shown_path = format!("{}/{SHOWN}/missing", dir.display());
    assert!(err.contains(&shown_path) && err.contains("127.0.0.1"), "{err}");

    // The failed job, as `skiff queue` lists it.
    let o = skiff(&sshd.ssh_config, &["queue"]);
    assert_ok(&o);
    assert_clean("skiff queue", &o.stdout);
    let queue = String::from_utf8(o.stdout).unwrap();
    assert!(queue.contains(&shown_path), "{queue}");

    // A tree copy brings the file down under its real name.
    let o = skiff(&sshd.ssh_config, &["cp", "-r", &remote(&sshd, &dir), s(out.path())]);
    assert_ok(&o);
    assert_clean("skiff cp -r", &o.stderr);
    assert_eq!(std::fs::read(out.path().join("evil").join(EVIL)).unwrap(), b"payload");
}
