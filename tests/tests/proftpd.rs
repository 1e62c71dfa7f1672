//! Interop with ProFTPD's mod_sftp, a server that is not OpenSSH: it serves every channel of
//! a connection from one process and reassembles their packets in one buffer, so Skiff must
//! give it one channel per connection. Uploads and downloads with DEFAULT options, a 256 MiB
//! file, a 1-byte file and a tree of small files, all byte-identical (sha256).
//! A missing proftpd fails these tests (with the Debian packages to install), never skips.

mod common;

use common::{assert_ok, s, skiff, stderr};
use skiff_tests::proftpd::{Proftpd, HOST_ALIAS};
use skiff_tests::tree::{make_tree, manifest, TreeSpec};
use skiff_tests::{sha256_file, write_random_file};

fn start() -> Proftpd {
    Proftpd::start().unwrap_or_else(|e| panic!("could not start ProFTPD: {e:#}"))
}

fn remote(p: &std::path::Path) -> String {
    format!("{HOST_ALIAS}:{}", p.display())
}

fn round_trip(size: u64, seed: u64) {
    let server = start();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src.bin");
    write_random_file(&src, size, seed).unwrap();
    let up = server.root.join("up.bin");
    let o = skiff(&server.ssh_config, &["cp", "-q", s(&src), &remote(&up)]);
    assert!(o.status.success(), "upload of {size} bytes failed: {}\n{}", stderr(&o), server.log_contents());
    assert_eq!(sha256_file(&src).unwrap(), sha256_file(&up).unwrap(), "upload of {size} bytes differs");
    let back = local.path().join("back.bin");
    let o = skiff(&server.ssh_config, &["cp", "-q", &remote(&up), s(&back)]);
    assert!(o.status.success(), "download of {size} bytes failed: {}\n{}", stderr(&o), server.log_contents());
    assert_eq!(sha256_file(&src).unwrap(), sha256_file(&back).unwrap(), "download of {size} bytes differs");
}

#[test]
fn big_file_round_trip_with_default_options() {
    round_trip(256 * 1024 * 1024, 8);
}

#[test]
fn one_byte_file_round_trip_with_default_options() {
    round_trip(1, 9);
}

#[test]
fn tree_of_small_files_round_trip_with_default_options() {
    let server = start();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("tree");
    make_tree(&src, &TreeSpec::many_small(300, 10)).unwrap();
    let o = skiff(&server.ssh_config, &["cp", "-q", "-r", s(&src), &remote(&server.root)]);
    assert_ok(&o);
    assert_eq!(manifest(&src).unwrap(), manifest(&server.root.join("tree")).unwrap(), "uploaded tree differs");
    let back = tempfile::tempdir().unwrap();
    let o = skiff(&server.ssh_config, &["cp", "-q", "-r", &remote(&server.root.join("tree")), s(back.path())]);
    assert_ok(&o);
    assert_eq!(manifest(&src).unwrap(), manifest(&back.path().join("tree")).unwrap(), "downloaded tree differs");
}
