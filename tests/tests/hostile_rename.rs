//! Uploads over an existing remote file on servers without `posix-rename@openssh.com`
//! (case 9), through the real sshd running the hostile SFTP server, via `skiff cp` and via
//! the window's engine path, one file and a tree each time:
//! - classic v3 (RENAME fails when the target exists, REMOVE works): the upload succeeds
//!   and the new content is there;
//! - REMOVE works but a RENAME onto a removed name fails: the file is never lost — either
//!   the new content is there (success) or the original is (a clear failure);
//! - every RENAME fails: a clear failure, and the original content is still there.
//!
//! See `skiff_tests::hostile` for the case list.

mod hostile_common;

use hostile_common::*;
use skiff_tests::hostile::Case;

const ORIGINAL: &[u8] = b"the original remote report, which must never be lost\n";

/// What a case requires of each upload.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    NewContent,
    NeverLost,
    FailAndKeep,
}

fn upload_over_existing(via: Via, case: Case, expect: Expect) {
    let sshd = hostile_sshd(&[case]);
    let new = pattern(5000, 6);
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("report.txt");
    std::fs::write(&file, &new).unwrap();
    let tree = local.path().join("rt");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("report.txt"), &new).unwrap();
    let (single_dest, tree_dest) = (sshd.root.join("single"), sshd.root.join("tree"));
    std::fs::create_dir(&single_dest).unwrap();
    std::fs::create_dir_all(tree_dest.join("rt")).unwrap();
    std::fs::write(single_dest.join("report.txt"), ORIGINAL).unwrap();
    std::fs::write(tree_dest.join("rt/report.txt"), ORIGINAL).unwrap();

    let xfers = [
        Xfer::Up { source: file, dest_dir: single_dest.clone(), overwrite: "overwrite" },
        Xfer::Up { source: tree, dest_dir: tree_dest.clone(), overwrite: "overwrite" },
    ];
    let outcomes = transfers(via, &sshd, &xfers);
    let mut c = Checks::default();
    for (o, (what, path)) in outcomes.iter().zip([("file", single_dest.join("report.txt")), ("tree", tree_dest.join("rt/report.txt"))]) {
        let label = format!("{}, {what}", case.name());
        let label = label.as_str();
        let now = std::fs::read(&path).ok();
        let show = |v: &Option<Vec<u8>>| match v {
            None => "missing".to_string(),
            Some(d) if d == ORIGINAL => "the original".to_string(),
            Some(d) if *d == new => "the new content".to_string(),
            Some(d) => format!("{} other bytes", d.len()),
        };
        match expect {
            Expect::NewContent => {
                check_ok(&mut c, label, o);
                c.check(now.as_deref() == Some(&new[..]), || format!("[{label}] the remote file is {}: {}", show(&now), o.detail));
            }
            Expect::NeverLost => {
                check_ok_or_clear_failure(&mut c, label, o, &sshd, &["report.txt"]);
                let want: &[u8] = if o.ok { &new } else { ORIGINAL };
                c.check(now.as_deref() == Some(want), || {
                    format!("[{label}] {} and the remote file is {}: {}", if o.ok { "success" } else { "failure" }, show(&now), o.detail)
                });
            }
            Expect::FailAndKeep => {
                check_clear_failure(&mut c, label, o, &sshd, &["report.txt"]);
                c.check(now.as_deref() == Some(ORIGINAL), || format!("[{label}] the remote file is {}, not the original: {}", show(&now), o.detail));
            }
        }
    }
    c.finish();
}

#[test]
fn rename_v3_replaces_an_existing_file_cli() {
    upload_over_existing(Via::Cli, Case::RenameV3, Expect::NewContent);
}

#[test]
fn rename_v3_replaces_an_existing_file_window() {
    drive_if_child();
    upload_over_existing(Via::Window("rename_v3_replaces_an_existing_file_window"), Case::RenameV3, Expect::NewContent);
}

#[test]
fn rename_after_remove_fails_and_nothing_is_lost_cli() {
    upload_over_existing(Via::Cli, Case::RenameStuck, Expect::NeverLost);
}

#[test]
fn rename_after_remove_fails_and_nothing_is_lost_window() {
    drive_if_child();
    upload_over_existing(Via::Window("rename_after_remove_fails_and_nothing_is_lost_window"), Case::RenameStuck, Expect::NeverLost);
}

#[test]
fn every_rename_refused_keeps_the_original_cli() {
    upload_over_existing(Via::Cli, Case::RenameRefused, Expect::FailAndKeep);
}

#[test]
fn every_rename_refused_keeps_the_original_window() {
    drive_if_child();
    upload_over_existing(Via::Window("every_rename_refused_keeps_the_original_window"), Case::RenameRefused, Expect::FailAndKeep);
}
