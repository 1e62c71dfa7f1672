//! Unit tests for the hostile server: hostile-name recognition, and sessions served over
//! pipes and through a real sshd.

use super::*;
use super::paths::*;
use bytes::{Bytes, BytesMut};
use skiff_sftp::{Extension, FileAttrs, OpenFlags, Packet, StatusCode};
use crate::files::{sha256_file, write_random_file};
use crate::sshd::Sshd;
use std::process::{Command, Stdio};

#[test]
fn hostile_names_are_recognised() {
    assert!(is_hostile(b"/srv/evil/a/b"));
    assert!(is_hostile(b"/srv/evil/.."));
    assert!(is_hostile(b"/srv/evil/."));
    assert!(is_hostile(b"/srv/evil/../escape"));
    assert!(is_hostile(b"/srv/evil//etc/passwd-skiff-test"));
    assert!(is_hostile(b"/etc/passwd-skiff-test"));
    assert!(is_hostile(b"/srv/evil/ok\0nul"));
    assert!(is_hostile(b"evil/a/b"));
    assert!(!is_hostile(b"/srv/evil/real.txt"));
    assert!(!is_hostile(b"/srv/notevil/a/b"));
    assert!(!is_hostile(b"/srv/evil"));
    assert!(!is_hostile(b".."));
    assert!(is_evil_dir(Path::new("/srv/evil")));
    assert!(is_evil_dir(Path::new("/srv/evil/.")));
    assert!(!is_evil_dir(Path::new("/srv/evilx")));
}

/// Drive [`serve`] in-process with the codec: list `evil`, read a
/// hostile file, write and read back a real one.
#[test]
fn serve_in_process() {
    let d = tempfile::tempdir().unwrap();
    let evil = make_evil_dir(d.path()).unwrap();
    let mut reqs = BytesMut::new();
    let p = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    Packet::Init {
        version: 3,
        extensions: vec![],
    }
    .encode(&mut reqs);
    Packet::Opendir {
        id: 1,
        path: p(evil.to_str().unwrap()),
    }
    .encode(&mut reqs);
    Packet::Readdir {
        id: 2,
        handle: p("1"),
    }
    .encode(&mut reqs);
    Packet::Open {
        id: 3,
        filename: p(&format!("{}/a/b", evil.display())),
        pflags: OpenFlags::READ,
        attrs: FileAttrs::default(),
    }
    .encode(&mut reqs);
    Packet::Read {
        id: 4,
        handle: p("2"),
        offset: 0,
        len: 100,
    }
    .encode(&mut reqs);
    Packet::Open {
        id: 5,
        filename: p("new.txt"),
        pflags: OpenFlags(OpenFlags::WRITE.0 | OpenFlags::CREAT.0 | OpenFlags::TRUNC.0),
        attrs: FileAttrs::default(),
    }
    .encode(&mut reqs);
    Packet::Write {
        id: 6,
        handle: p("3"),
        offset: 0,
        data: p("hello"),
    }
    .encode(&mut reqs);
    Packet::Close {
        id: 7,
        handle: p("3"),
    }
    .encode(&mut reqs);
    Packet::Extended {
        id: 8,
        request: Extension::PosixRename {
            old: p("new.txt"),
            new: p("renamed.txt"),
        },
    }
    .encode(&mut reqs);
    let mut out = Vec::new();
    serve(&mut &reqs[..], &mut out, d.path()).unwrap();
    let mut out = BytesMut::from(&out[..]);
    let mut replies = Vec::new();
    while let Some(r) = Packet::decode(&mut out, MAX_PACKET).unwrap() {
        replies.push(r);
    }
    assert!(
        matches!(&replies[0], Packet::Version { version: 3, extensions } if extensions.len() == 3)
    );
    let Packet::Name { entries, .. } = &replies[2] else {
        panic!("{:?}", replies[2])
    };
    let names: Vec<&[u8]> = entries.iter().map(|e| e.filename.as_ref()).collect();
    for h in HOSTILE_NAMES {
        assert!(names.contains(h), "{names:?}");
    }
    assert!(names.contains(&&b"real.txt"[..]));
    assert_eq!(
        replies[4],
        Packet::Data {
            id: 4,
            data: Bytes::from_static(PWNED)
        }
    );
    assert!(matches!(
        replies[8],
        Packet::Status {
            id: 8,
            code: StatusCode::Ok,
            ..
        }
    ));
    assert_eq!(fs::read(d.path().join("renamed.txt")).unwrap(), b"hello");
    assert!(!d.path().join("new.txt").exists());
    // Nothing was written outside.
    assert!(!d.path().join("escape").exists());
}

/// Requests in, replies out, through [`serve_cases`] in this process.
fn exchange(dir: &Path, cases: Vec<Case>, reqs: Vec<Packet>) -> Vec<Packet> {
    let mut buf = BytesMut::new();
    for r in reqs {
        r.encode(&mut buf);
    }
    let mut out = Vec::new();
    serve_cases(&mut &buf[..], &mut out, dir, Cases(cases)).unwrap();
    let mut out = BytesMut::from(&out[..]);
    let mut replies = Vec::new();
    while let Some(r) = Packet::decode(&mut out, MAX_PACKET).unwrap() {
        replies.push(r);
    }
    replies
}

fn code(p: &Packet) -> Option<StatusCode> {
    match p {
        Packet::Status { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn cases_change_what_is_served() {
    let d = tempfile::tempdir().unwrap();
    let p = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    fs::write(d.path().join("f"), vec![7u8; 1000]).unwrap();
    fs::write(d.path().join("g"), b"g").unwrap();
    let init = Packet::Init {
        version: 3,
        extensions: vec![],
    };
    // rename-stuck: RENAME onto an existing name fails, REMOVE works, and RENAME onto
    // the removed name fails too; no posix-rename is offered.
    let r = exchange(
        d.path(),
        vec![Case::RenameStuck],
        vec![
            init.clone(),
            Packet::Rename { id: 1, old: p("g"), new: p("f") },
            Packet::Remove { id: 2, filename: p("f") },
            Packet::Rename { id: 3, old: p("g"), new: p("f") },
        ],
    );
    assert!(matches!(&r[0], Packet::Version { extensions, .. } if extensions.len() == 2));
    assert_eq!(
        r[1..].iter().map(code).collect::<Vec<_>>(),
        vec![Some(StatusCode::Failure), Some(StatusCode::Ok), Some(StatusCode::Failure)]
    );
    assert!(d.path().join("g").exists());

    // size-absent, limits=100: no SIZE flag; READ capped; long WRITE refused.
    fs::write(d.path().join("f"), vec![7u8; 1000]).unwrap();
    let r = exchange(
        d.path(),
        vec![Case::SizeAbsent, Case::Limits(100)],
        vec![
            init.clone(),
            Packet::Stat { id: 1, path: p("f") },
            Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags(OpenFlags::READ.0 | OpenFlags::WRITE.0), attrs: FileAttrs::default() },
            Packet::Read { id: 3, handle: p("1"), offset: 0, len: 4096 },
            Packet::Write { id: 4, handle: p("1"), offset: 0, data: Bytes::from(vec![1u8; 101]) },
        ],
    );
    assert!(matches!(&r[1], Packet::Attrs { attrs, .. } if attrs.size.is_none() && attrs.is_regular()));
    assert!(matches!(&r[3], Packet::Data { data, .. } if data.len() == 100));
    assert_eq!(code(&r[4]), Some(StatusCode::Failure));

    // size-huge: 2^62 claimed, EOF at once; data-long: more than asked.
    let r = exchange(
        d.path(),
        vec![Case::SizeHuge],
        vec![
            init.clone(),
            Packet::Stat { id: 1, path: p("f") },
            Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags::READ, attrs: FileAttrs::default() },
            Packet::Read { id: 3, handle: p("1"), offset: 0, len: 10 },
        ],
    );
    assert!(matches!(&r[1], Packet::Attrs { attrs, .. } if attrs.size == Some(HUGE_SIZE)));
    assert_eq!(code(&r[3]), Some(StatusCode::Eof));
    let r = exchange(
        d.path(),
        vec![Case::DataLong],
        vec![
            init.clone(),
            Packet::Open { id: 2, filename: p("f"), pflags: OpenFlags::READ, attrs: FileAttrs::default() },
            Packet::Read { id: 3, handle: p("1"), offset: 0, len: 10 },
        ],
    );
    assert!(matches!(&r[2], Packet::Data { data, .. } if data.len() == 10 + DATA_LONG_EXTRA));

    // links-first + link-then-dir: one entry per reply, the link first, then the
    // regular file, then the link again as a directory; `link/x` is served.
    std::os::unix::fs::symlink("..", d.path().join("link")).unwrap();
    let dir = d.path().to_str().unwrap();
    let r = exchange(
        d.path(),
        vec![Case::LinksFirst, Case::LinkThenDir],
        vec![
            init,
            Packet::Opendir { id: 1, path: p(dir) },
            Packet::Readdir { id: 2, handle: p("1") },
            Packet::Readdir { id: 3, handle: p("1") },
            Packet::Readdir { id: 4, handle: p("1") },
            Packet::Readdir { id: 5, handle: p("1") },
            Packet::Readdir { id: 6, handle: p("1") },
            Packet::Stat { id: 7, path: p(&format!("{dir}/link/x")) },
        ],
    );
    let one = |i: usize| match &r[i] {
        Packet::Name { entries, .. } if entries.len() == 1 => (entries[0].filename.clone(), entries[0].attrs.clone()),
        other => panic!("{other:?}"),
    };
    assert!(one(2).0 == "link" && one(2).1.is_symlink());
    assert_eq!((one(3).0, one(4).0), (p("f"), p("g")));
    assert!(one(5).0 == "link" && one(5).1.is_dir());
    assert_eq!(code(&r[6]), Some(StatusCode::Eof));
    assert!(matches!(&r[7], Packet::Attrs { attrs, .. } if attrs.size == Some(PWNED.len() as u64)));
}

/// The real thing: sshd runs the binary as its sftp subsystem; OpenSSH
/// `sftp -b` lists the evil dir and copies a real file through it.
#[test]
fn real_sshd_with_hostile_subsystem() {
    require_hostile_server_binary();
    let sshd = Sshd::start_with(hostile_sshd_options()).unwrap();
    let evil = make_evil_dir(&sshd.root).unwrap();
    let src = sshd.root.join("normal.bin");
    write_random_file(&src, 700 * 1024 + 3, 9).unwrap();
    let local = tempfile::tempdir().unwrap();
    let got = local.path().join("got.bin");
    let put_back = sshd.root.join("put.bin");
    let batch = local.path().join("batch");
    let run_batch = |text: String| {
        fs::write(&batch, text).unwrap();
        let out = Command::new("sftp")
            .args(sshd.ssh_args())
            .arg("-b")
            .arg(&batch)
            .arg(crate::sshd::HOST_ALIAS)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // OpenSSH's sftp refuses the hostile entries itself ("Server sent
    // suspect path") and dies on the name with a NUL: proof that they are
    // all in the listing.
    let (_, _, stderr) = run_batch(format!("ls -1a \"{}\"\n", evil.display()));
    for name in ["a/b", "/etc/passwd-skiff-test", "../escape"] {
        assert!(
            stderr.contains(&format!("suspect path \"{name}\"")),
            "{name:?} was not listed (sftp did not complain):\n{stderr}\nsshd log:\n{}",
            sshd.log_contents()
        );
    }
    assert!(
        stderr.contains("invalid format"),
        "the NUL name was not listed:\n{stderr}"
    );

    // Normal files go through it both ways.
    let (status, stdout, stderr) = run_batch(format!(
        "ls -1 \"{}\"\nget \"{}\" \"{}\"\nput \"{}\" \"{}\"\n",
        sshd.root.display(),
        src.display(),
        got.display(),
        got.display(),
        put_back.display()
    ));
    assert!(
        status.success(),
        "sftp failed: {status}\n{stdout}\n{stderr}\nsshd log:\n{}",
        sshd.log_contents()
    );
    for name in ["evil", "normal.bin"] {
        assert!(
            stdout.lines().any(|l| l.trim().ends_with(name)),
            "{name:?} not listed:\n{stdout}"
        );
    }
    assert_eq!(sha256_file(&src).unwrap(), sha256_file(&got).unwrap());
    assert_eq!(sha256_file(&src).unwrap(), sha256_file(&put_back).unwrap());
    assert!(!sshd.root.join("escape").exists());
}
