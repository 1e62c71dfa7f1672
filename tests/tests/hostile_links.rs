//! Links against downloads, through the real sshd running the hostile SFTP server, via
//! `skiff cp` and via the window's engine path: a chain of remote links that each look
//! harmless (case 1), links already planted in the local destination (case 2), and a
//! remote link meeting a local file (case 3). Every run must end within the bound, write
//! nothing outside the destination, lose no local file and name host and link when it
//! refuses something. See `skiff_tests::hostile` for the case list.

mod hostile_common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use hostile_common::*;
use skiff_tests::hostile::snapshot::{changes_outside, find_named, snapshot, Node};
use skiff_tests::hostile::{make_symlink_chain, Case, CHAIN_E};

/// No path of a relative snapshot is under it: every change counts.
const NOTHING_ALLOWED: &str = "/";

/// Case 1: `a/up -> ..`, `a/up2 -> up/..`, `a/up3 -> up2/..`, `a/e.skiffpart ->
/// up3/anything`, then (after a pause, so the links exist locally first) the regular `a/e`.
fn symlink_chain(via: Via) {
    let sshd = hostile_sshd(&[Case::LinksFirst]);
    let t = make_symlink_chain(&sshd.root).unwrap();
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::fs::create_dir(outer.path().join("victim")).unwrap();
    std::fs::write(outer.path().join("victim/keep.txt"), b"victim's own file\n").unwrap();
    let before = snapshot(outer.path());

    let o = download(via, &sshd, &t, &dest, true, "overwrite");
    let mut c = Checks::default();
    check_ended(&mut c, "chain", &o);
    let outside = changes_outside(&before, &snapshot(outer.path()), Path::new("dest/t"));
    c.check(outside.is_empty(), || format!("[chain] written outside dest/t: {outside:#?}\n{}", o.detail));
    let anything: Vec<_> = find_named(outer.path(), "anything").into_iter().filter(|p| !p.starts_with(dest.join("t"))).collect();
    c.check(anything.is_empty() && !outer.path().parent().unwrap().join("anything").exists(), || {
        format!("[chain] `anything` appeared outside the destination: {anything:?}")
    });
    check_regular(&mut c, "chain", &dest.join("t/a/e"), CHAIN_E);
    let refused = ["up2", "up3", "e.skiffpart"];
    if o.ended && !o.ok {
        c.check(names_host(&o.message, &sshd) && refused.iter().any(|l| o.message.contains(l)), || {
            format!("[chain] the failure names neither the host or the refused link ({refused:?}): {}", o.detail)
        });
    } else if o.ended {
        c.fail(format!("[chain] links that resolve outside the destination were not reported (exit 0 / job done): {}", o.detail));
    }
    c.finish();
}

#[test]
fn symlink_chain_cli() {
    symlink_chain(Via::Cli);
}

#[test]
fn symlink_chain_window() {
    drive_if_child();
    symlink_chain(Via::Window("symlink_chain_window"));
}

/// Case 1, second variant: every link of the chain is listed again later as a directory
/// holding a file `x`: nothing may land where the links point.
fn file_under_an_accepted_link(via: Via) {
    let sshd = hostile_sshd(&[Case::LinksFirst, Case::LinkThenDir]);
    let t = make_symlink_chain(&sshd.root).unwrap();
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::fs::create_dir(outer.path().join("victim")).unwrap();
    let before = snapshot(outer.path());

    let o = download(via, &sshd, &t, &dest, true, "overwrite");
    let mut c = Checks::default();
    check_ended(&mut c, "under-link", &o);
    let outside = changes_outside(&before, &snapshot(outer.path()), Path::new("dest/t"));
    c.check(outside.is_empty(), || format!("[under-link] written outside dest/t: {outside:#?}\n{}", o.detail));
    // Inside the tree, an `x` may only be a real file in a real directory (no link on the way).
    for p in find_named(outer.path(), "x") {
        let real = std::fs::canonicalize(&p).unwrap_or_default();
        c.check(real.starts_with(std::fs::canonicalize(dest.join("t")).unwrap()), || {
            format!("[under-link] {} resolves to {} outside the tree", p.display(), real.display())
        });
    }
    check_regular(&mut c, "under-link", &dest.join("t/a/e"), CHAIN_E);
    c.check(!o.ok, || format!("[under-link] refused links were not reported: {}", o.detail));
    c.finish();
}

#[test]
fn file_under_an_accepted_link_cli() {
    file_under_an_accepted_link(Via::Cli);
}

#[test]
fn file_under_an_accepted_link_window() {
    drive_if_child();
    file_under_an_accepted_link(Via::Window("file_under_an_accepted_link_window"));
}

/// Case 1, third variant: `x.skiffpart` and `x` are both regular files on the server
/// (`x.skiffpart` listed first): both arrive intact.
fn part_named_file_beside_its_file(via: Via) {
    let sshd = hostile_sshd(&[Case::LinksFirst]);
    let p = sshd.root.join("p");
    std::fs::create_dir(&p).unwrap();
    let (x, xpart) = (pattern(5000, 1), pattern(7000, 2));
    std::fs::write(p.join("x"), &x).unwrap();
    std::fs::write(p.join("x.skiffpart"), &xpart).unwrap();
    let dest = tempfile::tempdir().unwrap();

    let o = download(via, &sshd, &p, dest.path(), true, "overwrite");
    let mut c = Checks::default();
    check_ok(&mut c, "x+x.skiffpart", &o);
    check_regular(&mut c, "x+x.skiffpart", &dest.path().join("p/x"), &x);
    check_regular(&mut c, "x+x.skiffpart", &dest.path().join("p/x.skiffpart"), &xpart);
    c.finish();
}

#[test]
fn part_named_file_beside_its_file_cli() {
    part_named_file_beside_its_file(Via::Cli);
}

#[test]
fn part_named_file_beside_its_file_window() {
    drive_if_child();
    part_named_file_beside_its_file(Via::Window("part_named_file_beside_its_file_window"));
}

/// Case 2: links planted in the local destination before a download. The victim outside
/// stays byte-identical (same inode), the download has the served content.
fn planted_local_links(via: Via) {
    let sshd = hostile_sshd(&[]);
    let report = pattern(300 * 1024 + 7, 3);
    std::fs::write(sshd.root.join("report.pdf"), &report).unwrap();
    let tree = sshd.root.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("f"), pattern(4000, 4)).unwrap();
    std::fs::write(tree.join("sub/g"), pattern(3000, 5)).unwrap();
    let mut c = Checks::default();

    // (label, plant, recursive)
    type Plant = fn(&Path, &Path);
    let variants: [(&str, Plant, bool); 5] = [
        ("symlinked .skiffpart", |dir, victim| std::os::unix::fs::symlink(victim.join("secret"), dir.join("report.pdf.skiffpart")).unwrap(), false),
        ("hard-linked .skiffpart", |dir, victim| std::fs::hard_link(victim.join("secret"), dir.join("report.pdf.skiffpart")).unwrap(), false),
        ("symlinked .skiffpart in a tree", |dir, victim| {
            std::fs::create_dir_all(dir.join("tree")).unwrap();
            std::os::unix::fs::symlink(victim.join("secret"), dir.join("tree/f.skiffpart")).unwrap();
        }, true),
        ("symlink where a tree's directory goes", |dir, victim| {
            std::fs::create_dir_all(dir.join("tree")).unwrap();
            std::os::unix::fs::symlink(victim.join("dir"), dir.join("tree/sub")).unwrap();
        }, true),
        ("symlink at the destination name, resume", |dir, victim| std::os::unix::fs::symlink(victim.join("short"), dir.join("report.pdf")).unwrap(), false),
    ];
    for (label, plant, recursive) in variants {
        let outer = tempfile::tempdir().unwrap();
        let (dir, victim) = (outer.path().join("dir"), outer.path().join("victim"));
        std::fs::create_dir_all(victim.join("dir")).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(victim.join("secret"), b"the victim's secret, not to be touched\n").unwrap();
        std::fs::write(victim.join("short"), &report[..1000]).unwrap();
        plant(&dir, &victim);
        let before = snapshot(&victim);
        let resume = label.contains("resume");
        let o = if recursive {
            download(via, &sshd, &tree, &dir, true, "overwrite")
        } else {
            download(via, &sshd, &sshd.root.join("report.pdf"), &dir, false, if resume { "resume" } else { "overwrite" })
        };
        let changed = changes_outside(&before, &snapshot(&victim), Path::new(NOTHING_ALLOWED));
        c.check(changed.is_empty(), || format!("[{label}] the victim changed: {changed:#?}\n{}", o.detail));
        if recursive {
            check_ended(&mut c, label, &o);
            check_regular(&mut c, label, &dir.join("tree/f"), &pattern(4000, 4));
        } else if resume {
            // Replacing the link with the file is right; resuming into its target is not.
            check_ok_or_clear_failure(&mut c, label, &o, &sshd, &["report.pdf"]);
            if o.ok {
                check_regular(&mut c, label, &dir.join("report.pdf"), &report);
            }
        } else {
            check_ok(&mut c, label, &o);
            check_regular(&mut c, label, &dir.join("report.pdf"), &report);
        }
    }
    c.finish();
}

#[test]
fn planted_local_links_cli() {
    planted_local_links(Via::Cli);
}

#[test]
fn planted_local_links_window() {
    drive_if_child();
    planted_local_links(Via::Window("planted_local_links_window"));
}

/// Case 3: the server lists `f` as a link (to `g`, inside the tree) and `out` as a link
/// pointing outside it; the destination already has regular files `f` and `out`. With
/// `--overwrite skip` both are untouched (content and inode), and the outside target's
/// content appears nowhere (nor through `out2`, which has no local file in its way).
fn remote_link_meets_local_file(via: Via) {
    let sshd = hostile_sshd(&[]);
    let s = sshd.root.join("s");
    std::fs::create_dir(&s).unwrap();
    std::fs::write(s.join("g"), b"remote g\n").unwrap();
    std::os::unix::fs::symlink("g", s.join("f")).unwrap();
    let secret = b"a file outside the served tree\n";
    std::fs::write(sshd.dir.path().join("outside.txt"), secret).unwrap();
    std::os::unix::fs::symlink("../../outside.txt", s.join("out")).unwrap();
    // The same outward link with no local file in its way.
    std::os::unix::fs::symlink("../../outside.txt", s.join("out2")).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let local = dest.path().join("s");
    std::fs::create_dir(&local).unwrap();
    std::fs::write(local.join("f"), b"local f, keep me\n").unwrap();
    std::fs::write(local.join("out"), b"local out, keep me\n").unwrap();
    let inode = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.ino()).unwrap_or(0);
    let (f_ino, out_ino) = (inode(&local.join("f")), inode(&local.join("out")));

    let o = download(via, &sshd, &s, dest.path(), true, "skip");
    let mut c = Checks::default();
    check_ended(&mut c, "skip", &o);
    check_regular(&mut c, "skip", &local.join("f"), b"local f, keep me\n");
    check_regular(&mut c, "skip", &local.join("out"), b"local out, keep me\n");
    c.check(inode(&local.join("f")) == f_ino && inode(&local.join("out")) == out_ino, || "[skip] a local file was replaced (new inode)".into());
    let leaked: Vec<_> = snapshot(dest.path())
        .into_iter()
        .filter(|(p, n)| matches!(n, Node::File { .. }) && std::fs::read(dest.path().join(p)).unwrap_or_default() == secret)
        .collect();
    c.check(leaked.is_empty(), || format!("[skip] the outside target was followed: {leaked:?}"));
    c.finish();
}

#[test]
fn remote_link_meets_local_file_cli() {
    remote_link_meets_local_file(Via::Cli);
}

#[test]
fn remote_link_meets_local_file_window() {
    drive_if_child();
    remote_link_meets_local_file(Via::Window("remote_link_meets_local_file_window"));
}
