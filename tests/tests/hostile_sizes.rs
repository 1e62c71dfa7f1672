//! Sizes and limits the server lies about, through the real sshd running the hostile SFTP
//! server, via `skiff cp` and via the window's engine path: a claimed 2^62 bytes that end
//! at once, no size at all, a file that grew or shrank since its STAT, DATA longer than
//! asked (case 4, plus a resumed upload over a remote file that claims to be huge), and
//! `limits@openssh.com` of 100, 1 and 0 bytes (case 5). Every transfer must end within
//! the bound; a size is a hint (downloads read to EOF); a failure names host and file and
//! says what to do. See `skiff_tests::hostile` for the case list.

mod hostile_common;

use std::path::PathBuf;

use hostile_common::*;
use skiff_tests::hostile::Case;
use skiff_tests::sshd::Sshd;

const SMALL: usize = 100 * 1024;
const BIG: usize = 3 * 1024 * 1024;

/// `lie/small.bin` (small-file path of a tree) and `lie/big.bin` (pipelined path).
fn make_lie_dir(sshd: &Sshd) -> PathBuf {
    let lie = sshd.root.join("lie");
    std::fs::create_dir(&lie).unwrap();
    std::fs::write(lie.join("small.bin"), pattern(SMALL, 1)).unwrap();
    std::fs::write(lie.join("big.bin"), pattern(BIG, 2)).unwrap();
    lie
}

/// What the server's READs really deliver for a file of `real` bytes under `case`.
fn served(case: Case, real: Vec<u8>) -> Vec<u8> {
    if case == Case::SizeHuge {
        Vec::new()
    } else {
        real
    }
}

/// The two files singly and the folder as a tree, all at once; then the checks of `case`.
fn size_lie(via: Via, case: Case) {
    let sshd = hostile_sshd(&[case]);
    let lie = make_lie_dir(&sshd);
    let (single, tree) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let xfers = [
        Xfer::Down { source: lie.join("small.bin"), dest_dir: single.path().into(), recursive: false, overwrite: "overwrite" },
        Xfer::Down { source: lie.join("big.bin"), dest_dir: single.path().into(), recursive: false, overwrite: "overwrite" },
        Xfer::Down { source: lie.clone(), dest_dir: tree.path().into(), recursive: true, overwrite: "overwrite" },
    ];
    let outcomes = transfers(via, &sshd, &xfers);
    let mut c = Checks::default();
    let files = [("small.bin", pattern(SMALL, 1)), ("big.bin", pattern(BIG, 2))];
    for (i, o) in outcomes.iter().enumerate() {
        let label = format!("{} {}", case.name(), ["single small.bin", "single big.bin", "tree"][i]);
        let label = label.as_str();
        check_rss(&mut c, label, o);
        let mine: Vec<(&str, Vec<u8>, PathBuf)> = match i {
            0 | 1 => vec![(files[i].0, files[i].1.clone(), single.path().join(files[i].0))],
            _ => files.iter().map(|(n, d)| (*n, d.clone(), tree.path().join("lie").join(n))).collect(),
        };
        let names: Vec<&str> = mine.iter().map(|m| m.0).collect();
        match case {
            // Read to EOF: the whole file, exit 0.
            Case::SizeAbsent | Case::SizeSmaller => {
                check_ok(&mut c, label, o);
                for (_, data, path) in &mine {
                    check_regular(&mut c, label, path, data);
                }
            }
            // What was served, or a clear failure; never success with other bytes.
            Case::SizeHuge | Case::SizeBigger => {
                check_ok_or_clear_failure(&mut c, label, o, &sshd, &names[..1]);
                if o.ok {
                    for (_, data, path) in &mine {
                        check_regular(&mut c, label, path, &served(case, data.clone()));
                    }
                }
            }
            // A reply longer than the READ: a clear failure, no destination file.
            Case::DataLong => {
                check_clear_failure(&mut c, label, o, &sshd, &names[..1]);
                for (_, _, path) in &mine {
                    c.check(std::fs::symlink_metadata(path).is_err(), || format!("[{label}] {} was created from a bad reply", path.display()));
                }
            }
            other => unreachable!("{other:?} is not a size lie"),
        }
    }
    c.finish();
}

#[test]
fn size_huge_eof_at_once_cli() {
    size_lie(Via::Cli, Case::SizeHuge);
}

#[test]
fn size_huge_eof_at_once_window() {
    drive_if_child();
    size_lie(Via::Window("size_huge_eof_at_once_window"), Case::SizeHuge);
}

#[test]
fn size_absent_cli() {
    size_lie(Via::Cli, Case::SizeAbsent);
}

#[test]
fn size_absent_window() {
    drive_if_child();
    size_lie(Via::Window("size_absent_window"), Case::SizeAbsent);
}

#[test]
fn size_smaller_file_grew_cli() {
    size_lie(Via::Cli, Case::SizeSmaller);
}

#[test]
fn size_smaller_file_grew_window() {
    drive_if_child();
    size_lie(Via::Window("size_smaller_file_grew_window"), Case::SizeSmaller);
}

#[test]
fn size_bigger_file_shrank_cli() {
    size_lie(Via::Cli, Case::SizeBigger);
}

#[test]
fn size_bigger_file_shrank_window() {
    drive_if_child();
    size_lie(Via::Window("size_bigger_file_shrank_window"), Case::SizeBigger);
}

#[test]
fn data_longer_than_asked_cli() {
    size_lie(Via::Cli, Case::DataLong);
}

#[test]
fn data_longer_than_asked_window() {
    drive_if_child();
    size_lie(Via::Window("data_longer_than_asked_window"), Case::DataLong);
}

/// Upload with `--overwrite resume` over a remote file (the local file's first 1000 bytes)
/// that claims more than it has: 2^62 bytes (more than the local file), or 6096 bytes
/// (`size-bigger`: a resume from a claimed length the file does not have). Ends, the local
/// file is untouched, and
/// either the remote file is exactly the local one (replaced whole, not "resumed") or the
/// run failed clearly and the remote file is as it was.
fn resume_over_a_remote_size_lie(via: Via, case: Case) {
    let sshd = hostile_sshd(&[case]);
    let up = sshd.root.join("up");
    std::fs::create_dir(&up).unwrap();
    let data = pattern(300 * 1024, 8);
    // A true first part of the local file: any wrong byte after the run comes from the lie.
    let old = data[..1000].to_vec();
    std::fs::write(up.join("r.bin"), &old).unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("r.bin");
    std::fs::write(&src, &data).unwrap();
    let before = digest(&src);

    let o = upload(via, &sshd, &src, &up, "resume");
    let mut c = Checks::default();
    let label = format!("resume upload, {}", case.name());
    let label = label.as_str();
    check_ok_or_clear_failure(&mut c, label, &o, &sshd, &["r.bin"]);
    check_rss(&mut c, label, &o);
    c.check(digest(&src) == before, || format!("[{label}] the local file changed"));
    let remote = std::fs::read(up.join("r.bin")).unwrap_or_default();
    if o.ok {
        c.check(remote == data, || {
            format!("[{label}] success, but the remote file is {} bytes, not the local {} (first difference {:?})", remote.len(), data.len(), first_difference(&remote, &data))
        });
    } else if o.ended {
        c.check(remote == old, || format!("[{label}] failed, and the remote file is no longer what it was ({} bytes)", remote.len()));
    }
    c.finish();
}

#[test]
fn resume_upload_over_a_huge_claim_cli() {
    resume_over_a_remote_size_lie(Via::Cli, Case::SizeHuge);
}

#[test]
fn resume_upload_over_a_huge_claim_window() {
    drive_if_child();
    resume_over_a_remote_size_lie(Via::Window("resume_upload_over_a_huge_claim_window"), Case::SizeHuge);
}

#[test]
fn resume_upload_over_a_bigger_claim_cli() {
    resume_over_a_remote_size_lie(Via::Cli, Case::SizeBigger);
}

#[test]
fn resume_upload_over_a_bigger_claim_window() {
    drive_if_child();
    resume_over_a_remote_size_lie(Via::Window("resume_upload_over_a_bigger_claim_window"), Case::SizeBigger);
}

/// Case 5: get and put of one file and of a tree under `limits@openssh.com` of `limit`
/// bytes. `must_work`: each completes byte-identical; else each completes byte-identical
/// or fails clearly (`limit` 0: each fails clearly).
fn tiny_limits(via: Via, limit: u64, size: usize) {
    let sshd = hostile_sshd(&[Case::Limits(limit)]);
    let data = pattern(size, 7);
    let rdir = sshd.root.join("r");
    std::fs::create_dir(&rdir).unwrap();
    std::fs::write(rdir.join("file.bin"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let ltree = local.path().join("lt");
    std::fs::create_dir(&ltree).unwrap();
    std::fs::write(ltree.join("file.bin"), &data).unwrap();
    let (got_single, got_tree) = (local.path().join("got-single"), local.path().join("got-tree"));
    std::fs::create_dir(&got_single).unwrap();
    std::fs::create_dir(&got_tree).unwrap();
    let (put_single, put_tree) = (sshd.root.join("put-single"), sshd.root.join("put-tree"));
    std::fs::create_dir(&put_single).unwrap();
    std::fs::create_dir(&put_tree).unwrap();

    let xfers = [
        Xfer::Down { source: rdir.join("file.bin"), dest_dir: got_single.clone(), recursive: false, overwrite: "overwrite" },
        Xfer::Down { source: rdir.clone(), dest_dir: got_tree.clone(), recursive: true, overwrite: "overwrite" },
        Xfer::Up { source: ltree.join("file.bin"), dest_dir: put_single.clone(), overwrite: "overwrite" },
        Xfer::Up { source: ltree.clone(), dest_dir: put_tree.clone(), overwrite: "overwrite" },
    ];
    let results: [(&str, PathBuf); 4] = [
        ("get file", got_single.join("file.bin")),
        ("get -r", got_tree.join("r/file.bin")),
        ("put file", put_single.join("file.bin")),
        ("put -r", put_tree.join("lt/file.bin")),
    ];
    let outcomes = transfers(via, &sshd, &xfers);
    let mut c = Checks::default();
    for (o, (what, path)) in outcomes.iter().zip(&results) {
        let label = format!("limits={limit}, {size} bytes, {what}");
        let label = label.as_str();
        match limit {
            0 => check_clear_failure(&mut c, label, o, &sshd, &["file.bin"]),
            1 => {
                check_ok_or_clear_failure(&mut c, label, o, &sshd, &["file.bin"]);
                if o.ok {
                    check_regular(&mut c, label, path, &data);
                }
            }
            _ => {
                check_ok(&mut c, label, o);
                check_regular(&mut c, label, path, &data);
            }
        }
        if !o.ok {
            c.check(std::fs::read(path).map_or(true, |d| d == data), || format!("[{label}] failed and left a wrong {}", path.display()));
        }
    }
    c.finish();
}

#[test]
fn limits_100_bytes_cli() {
    tiny_limits(Via::Cli, 100, 200 * 1024);
}

#[test]
fn limits_100_bytes_window() {
    drive_if_child();
    tiny_limits(Via::Window("limits_100_bytes_window"), 100, 200 * 1024);
}

#[test]
fn limits_1_byte_cli() {
    tiny_limits(Via::Cli, 1, 3 * 1024);
}

#[test]
fn limits_1_byte_window() {
    drive_if_child();
    tiny_limits(Via::Window("limits_1_byte_window"), 1, 3 * 1024);
}

#[test]
fn limits_0_cli() {
    tiny_limits(Via::Cli, 0, 3 * 1024);
}

#[test]
fn limits_0_window() {
    drive_if_child();
    tiny_limits(Via::Window("limits_0_window"), 0, 3 * 1024);
}
