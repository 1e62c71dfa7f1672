//! `skiff cp --overwrite POLICY` of single files (no `-r`) against a real sshd, both ways:
//! the policy applies exactly as to a file of a tree. skip leaves an existing destination
//! untouched; rename lands beside it as "name (1).ext" (then "(2)"); resume keeps the
//! destination's first bytes and sends only the rest; ask cannot be answered on the command
//! line and fails with a hint, destination untouched; the default still overwrites.

mod common;

use std::path::Path;

use common::*;
use skiff_tests::sshd::Sshd;

const NEW: &[u8] = b"the new content, longer than the old one\n";
const OLD: &[u8] = b"old\n";

/// A server and a local folder, each with a source file and an existing destination:
/// `up.txt` goes local -> remote, `down.txt` remote -> local.
struct Setup {
    sshd: Sshd,
    local: tempfile::TempDir,
}

impl Setup {
    fn new(source: &[u8], existing: &[u8]) -> Setup {
        let sshd = Sshd::start().unwrap();
        let local = tempfile::tempdir().unwrap();
        std::fs::write(local.path().join("up.txt"), source).unwrap();
        std::fs::write(sshd.root.join("up.txt"), existing).unwrap();
        std::fs::write(sshd.root.join("down.txt"), source).unwrap();
        std::fs::write(local.path().join("down.txt"), existing).unwrap();
        Setup { sshd, local }
    }

    fn put(&self, policy: &str) -> std::process::Output {
        let (src, dst) = (self.local.path().join("up.txt"), remote(&self.sshd, &self.sshd.root.join("up.txt")));
        skiff(&self.sshd.ssh_config, &["cp", "-q", "--overwrite", policy, s(&src), &dst])
    }

    fn get(&self, policy: &str) -> std::process::Output {
        let (src, dst) = (remote(&self.sshd, &self.sshd.root.join("down.txt")), self.local.path().join("down.txt"));
        skiff(&self.sshd.ssh_config, &["cp", "-q", "--overwrite", policy, &src, s(&dst)])
    }

    /// The remote upload destination and the local download destination, by name.
    fn dest(&self, up: &str, down: &str) -> (Vec<u8>, Vec<u8>) {
        (read(&self.sshd.root.join(up)), read(&self.local.path().join(down)))
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[test]
fn skip_leaves_an_existing_destination_untouched() {
    let t = Setup::new(NEW, OLD);
    assert_ok(&t.put("skip"));
    assert_ok(&t.get("skip"));
    assert_eq!(t.dest("up.txt", "down.txt"), (OLD.to_vec(), OLD.to_vec()));
    assert!(!t.sshd.root.join("up (1).txt").exists() && !t.local.path().join("down (1).txt").exists());
}

#[test]
fn rename_lands_beside_the_existing_destination() {
    let t = Setup::new(NEW, OLD);
    assert_ok(&t.put("rename"));
    assert_ok(&t.get("rename"));
    assert_eq!(t.dest("up.txt", "down.txt"), (OLD.to_vec(), OLD.to_vec()), "the existing files stay");
    assert_eq!(t.dest("up (1).txt", "down (1).txt"), (NEW.to_vec(), NEW.to_vec()));
    // Once more: "(1)" is taken now.
    assert_ok(&t.put("rename"));
    assert_ok(&t.get("rename"));
    assert_eq!(t.dest("up (2).txt", "down (2).txt"), (NEW.to_vec(), NEW.to_vec()));
}

#[test]
fn resume_keeps_the_first_bytes_and_sends_the_rest() {
    // The destination's first bytes differ from the source's on purpose: a resume keeps
    // them (only the rest is sent), a full copy would not.
    let t = Setup::new(NEW, b"XXXX");
    assert_ok(&t.put("resume"));
    assert_ok(&t.get("resume"));
    let want = [b"XXXX".as_slice(), &NEW[4..]].concat();
    assert_eq!(t.dest("up.txt", "down.txt"), (want.clone(), want));
}

#[test]
fn ask_fails_with_a_hint_and_touches_nothing() {
    let t = Setup::new(NEW, OLD);
    for o in [t.put("ask"), t.get("ask")] {
        assert!(!o.status.success(), "ask cannot be answered on the command line");
        let err = stderr(&o);
        assert!(err.contains("choose overwrite, skip"), "{err}");
    }
    assert_eq!(t.dest("up.txt", "down.txt"), (OLD.to_vec(), OLD.to_vec()));
}

#[test]
fn the_default_still_overwrites_and_help_says_single_files_too() {
    let t = Setup::new(NEW, OLD);
    assert_ok(&t.put("overwrite"));
    assert_ok(&t.get("overwrite"));
    assert_eq!(t.dest("up.txt", "down.txt"), (NEW.to_vec(), NEW.to_vec()));

    let help = std::process::Command::new(skiff_bin()).args(["cp", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("a single file, or each file") && !help.contains("With -r, what to do"), "{help}");
}
