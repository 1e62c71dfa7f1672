//! Hostile and random input: limits before allocation, bounded counts, roundtrips, and a
//! cheap pseudo-random "fuzz" pass that must never panic. The real fuzzer lives in
//! `crates/skiff-sftp/fuzz`.

use bytes::{Bytes, BytesMut};
use skiff_sftp::{
    attrs, DecodeError, Extension, FileAttrs, NameEntry, OpenFlags, Packet, StatusCode,
    DEFAULT_MAX_PACKET, SFTP_VERSION,
};

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn encode(p: &Packet) -> BytesMut {
    let mut out = BytesMut::new();
    p.encode(&mut out);
    out
}

fn roundtrip(p: Packet) {
    let mut buf = encode(&p);
    assert_eq!(buf.len(), p.encoded_len());
    let got = Packet::decode(&mut buf, u32::MAX).unwrap();
    assert_eq!(got, Some(p));
    assert!(buf.is_empty());
}

/// Decode everything in `buf`; whatever decodes must survive encode → decode unchanged.
fn decode_all_and_reencode(mut buf: BytesMut, max: u32) {
    while let Ok(Some(p)) = Packet::decode(&mut buf, max) {
        let mut again = encode(&p);
        assert_eq!(again.len(), p.encoded_len());
        assert_eq!(Packet::decode(&mut again, u32::MAX), Ok(Some(p)));
        assert!(again.is_empty());
    }
}

fn full_attrs() -> FileAttrs {
    FileAttrs {
        size: Some(u64::MAX),
        uid_gid: Some((0, u32::MAX)),
        permissions: Some(0o120777),
        atime_mtime: Some((u32::MAX, 1_700_000_000)),
        extended: vec![
            (Bytes::from_static(b"a@b"), Bytes::from_static(b"\x00\xff")),
            (Bytes::new(), Bytes::new()),
        ],
    }
}

fn sample_packets() -> Vec<Packet> {
    let handle = Bytes::from_static(&[0x00, 0xff, 0x80, 0x7f]);
    let name = Bytes::from_static(b"caf\xe9 not utf-8/\x00");
    vec![
        Packet::Init {
            version: SFTP_VERSION,
            extensions: vec![],
        },
        Packet::Version {
            version: SFTP_VERSION,
            extensions: vec![
                (
                    Bytes::from_static(b"limits@openssh.com"),
                    Bytes::from_static(b"1"),
                ),
                (
                    Bytes::from_static(b"statvfs@openssh.com"),
                    Bytes::from_static(b"2"),
                ),
            ],
        },
        Packet::Open {
            id: u32::MAX,
            filename: name.clone(),
            pflags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL,
            attrs: full_attrs(),
        },
        Packet::Read {
            id: 0,
            handle: handle.clone(),
            offset: u64::MAX,
            len: u32::MAX,
        },
        Packet::Write {
            id: 1,
            handle: handle.clone(),
            offset: 0,
            data: Bytes::from(vec![0xab; 255 * 1024]),
        },
        Packet::Fsetstat {
            id: 2,
            handle: handle.clone(),
            attrs: full_attrs(),
        },
        Packet::Symlink {
            id: 3,
            linkpath: name.clone(),
            targetpath: Bytes::new(),
        },
        Packet::Status {
            id: 4,
            code: StatusCode::OpUnsupported,
            message: Bytes::from_static(b"nope"),
            language: Bytes::new(),
        },
        Packet::Data {
            id: 5,
            data: Bytes::new(),
        },
        Packet::Name {
            id: 6,
            entries: (0..50)
                .map(|i| NameEntry {
                    filename: Bytes::from(format!("file{i}")),
                    longname: Bytes::from(format!("-rw-r--r-- 1 u g {i} Jan 1 file{i}")),
                    attrs: FileAttrs::default().with_size(i).with_permissions(0o100644),
                })
                .collect(),
        },
        Packet::Name {
            id: 7,
            entries: vec![],
        },
        Packet::Attrs {
            id: 8,
            attrs: full_attrs(),
        },
        Packet::ExtendedReply {
            id: 9,
            data: Bytes::new(),
        },
        Packet::Extended {
            id: 10,
            request: Extension::Lsetstat {
                path: name.clone(),
                attrs: full_attrs(),
            },
        },
        Packet::Extended {
            id: 11,
            request: Extension::CopyData {
                read_handle: handle.clone(),
                read_offset: u64::MAX,
                read_len: 1,
                write_handle: handle,
                write_offset: 2,
            },
        },
        Packet::Extended {
            id: 12,
            request: Extension::HomeDirectory {
                username: Bytes::new(),
            },
        },
        Packet::Extended {
            id: 13,
            request: Extension::Other {
                name,
                data: Bytes::new(),
            },
        },
    ]
}

#[test]
fn roundtrips() {
    for p in sample_packets() {
        roundtrip(p);
    }
}

#[test]
fn too_long_is_reported_from_the_prefix_alone() {
    // Only the 4-byte length has arrived; it declares 4 GiB.
    let mut buf = BytesMut::with_capacity(4);
    buf.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let cap = buf.capacity();
    assert_eq!(
        Packet::decode(&mut buf, DEFAULT_MAX_PACKET),
        Err(DecodeError::TooLong {
            len: u32::MAX,
            max: DEFAULT_MAX_PACKET
        })
    );
    assert_eq!(buf.len(), 4, "nothing consumed");
    assert_eq!(buf.capacity(), cap, "nothing allocated");

    // One past the default limit.
    let mut buf = BytesMut::from(&[0x00, 0x04, 0x00, 0x01][..]);
    assert_eq!(
        Packet::decode(&mut buf, DEFAULT_MAX_PACKET),
        Err(DecodeError::TooLong {
            len: 256 * 1024 + 1,
            max: 256 * 1024
        })
    );

    // Exactly at the limit but incomplete: wait for more, allocate nothing.
    let mut buf = BytesMut::from(&[0x00, 0x04, 0x00, 0x00, 0x67][..]);
    let cap = buf.capacity();
    assert_eq!(Packet::decode(&mut buf, DEFAULT_MAX_PACKET), Ok(None));
    assert_eq!(buf.capacity(), cap);
}

#[test]
fn empty_frame_is_an_error_and_is_consumed() {
    let mut buf = BytesMut::from(&[0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 3][..]);
    assert_eq!(
        Packet::decode(&mut buf, DEFAULT_MAX_PACKET),
        Err(DecodeError::Truncated {
            what: "packet type"
        })
    );
    // The stream stays aligned: the next frame decodes.
    assert_eq!(
        Packet::decode(&mut buf, DEFAULT_MAX_PACKET),
        Ok(Some(Packet::Init {
            version: 3,
            extensions: vec![]
        }))
    );
}

#[test]
fn unknown_type() {
    for ty in [0u8, 21, 100, 106, 199, 202, 255] {
        let mut buf = BytesMut::from(&[0, 0, 0, 5, ty, 0, 0, 0, 1][..]);
        assert_eq!(
            Packet::decode(&mut buf, DEFAULT_MAX_PACKET),
            Err(DecodeError::UnknownType(ty))
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn huge_name_count_is_rejected_before_allocating() {
    // NAME claiming 4 billion entries in a 13-byte body.
    let body = [0x68, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert_eq!(
        Packet::decode_body(Bytes::copy_from_slice(&body)),
        Err(DecodeError::Truncated {
            what: "NAME entries"
        })
    );
    // Two entries declared, room for exactly one minimal entry.
    let body = [
        0x68, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert!(matches!(
        Packet::decode_body(Bytes::copy_from_slice(&body)),
        Err(DecodeError::Truncated { .. })
    ));
    // One declared, one present: fine.
    let body = [
        0x68, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert!(Packet::decode_body(Bytes::copy_from_slice(&body)).is_ok());
}

#[test]
fn huge_extended_attr_count_is_rejected_before_allocating() {
    // ATTRS with EXTENDED and a count of 0xffffffff, nothing after.
    let body = [0x69, 0, 0, 0, 1, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        Packet::decode_body(Bytes::copy_from_slice(&body)),
        Err(DecodeError::Truncated {
            what: "attrs extended pairs"
        })
    );
}

#[test]
fn huge_string_length_is_truncated_not_allocated() {
    // DATA declaring a 4 GiB string inside a 9-byte body.
    let body = [0x67, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        Packet::decode_body(Bytes::copy_from_slice(&body)),
        Err(DecodeError::Truncated { what: "DATA data" })
    );
}

#[test]
fn unknown_attr_flag_bits_are_ignored() {
    // flags = PERMISSIONS | 0x40 (undefined in v3): no fields for the unknown bit.
    let body = [0x69, 0, 0, 0, 1, 0, 0, 0, 0x44, 0, 0, 0x41, 0xed];
    assert_eq!(
        Packet::decode_body(Bytes::copy_from_slice(&body)),
        Ok(Packet::Attrs {
            id: 1,
            attrs: FileAttrs::default().with_permissions(0o40755)
        })
    );
}

#[test]
fn known_extension_with_bad_body_is_an_error() {
    // posix-rename with only one path.
    let mut body = vec![0xc8, 0, 0, 0, 1, 0, 0, 0, 24];
    body.extend_from_slice(b"posix-rename@openssh.com");
    body.extend_from_slice(&[0, 0, 0, 2, b'/', b'a']);
    assert_eq!(
        Packet::decode_body(Bytes::from(body)),
        Err(DecodeError::Truncated {
            what: "posix-rename newpath"
        })
    );
}

#[test]
fn pseudo_random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let n = rng.below(80) as usize;
        let raw = rng.bytes(n);
        // As-is (length prefix is random too).
        decode_all_and_reencode(BytesMut::from(&raw[..]), DEFAULT_MAX_PACKET);
        // With a correct length prefix and a valid type byte, to reach the field decoders.
        let types = [
            1u8, 2, 3, 4, 5, 6, 7, 9, 10, 14, 18, 20, 101, 102, 103, 104, 105, 200, 201,
        ];
        let ty = types[rng.below(types.len() as u64) as usize];
        let mut framed = BytesMut::new();
        framed.extend_from_slice(&(raw.len() as u32 + 1).to_be_bytes());
        framed.extend_from_slice(&[ty]);
        framed.extend_from_slice(&raw);
        decode_all_and_reencode(framed.clone(), DEFAULT_MAX_PACKET);
        let _ = Packet::decode_body(framed.freeze().slice(4..));
    }
}

#[test]
fn mutated_valid_frames_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let frames: Vec<BytesMut> = sample_packets().iter().map(encode).collect();
    for _ in 0..3000 {
        let mut frame = frames[rng.below(frames.len() as u64) as usize].to_vec();
        // Keep mutations near the front (headers, counts, lengths) where the decoders branch.
        let span = frame.len().min(64);
        for _ in 0..=rng.below(4) {
            let i = rng.below(span as u64) as usize;
            frame[i] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            frame.truncate(rng.below(frame.len() as u64 + 1) as usize);
        }
        decode_all_and_reencode(BytesMut::from(&frame[..]), u32::MAX);
        if frame.len() > 4 {
            let _ = Packet::decode_body(Bytes::copy_from_slice(&frame[4..]));
        }
    }
}

#[test]
fn status_codes_map_both_ways() {
    let named = [
        (0, StatusCode::Ok),
        (1, StatusCode::Eof),
        (2, StatusCode::NoSuchFile),
        (3, StatusCode::PermissionDenied),
        (4, StatusCode::Failure),
        (5, StatusCode::BadMessage),
        (6, StatusCode::NoConnection),
        (7, StatusCode::ConnectionLost),
        (8, StatusCode::OpUnsupported),
    ];
    for (n, code) in named {
        assert_eq!(StatusCode::from_u32(n), code);
        assert_eq!(code.to_u32(), n);
    }
    assert_eq!(StatusCode::from_u32(9), StatusCode::Other(9));
    assert_eq!(StatusCode::Other(u32::MAX).to_u32(), u32::MAX);
    assert_eq!(
        StatusCode::NoSuchFile.to_string(),
        "no such file or directory"
    );
    assert_eq!(StatusCode::Other(42).to_string(), "unknown status code 42");
    assert!(StatusCode::Ok.is_ok() && StatusCode::Eof.is_eof());
}

#[test]
fn file_type_helpers() {
    let dir = FileAttrs::default().with_permissions(attrs::S_IFDIR | 0o755);
    let reg = FileAttrs::default().with_permissions(attrs::S_IFREG | 0o644);
    let lnk = FileAttrs::default().with_permissions(attrs::S_IFLNK | 0o777);
    let none = FileAttrs::default();
    assert!(dir.is_dir() && !dir.is_regular() && !dir.is_symlink());
    assert!(reg.is_regular() && !reg.is_dir() && !reg.is_symlink());
    assert!(lnk.is_symlink() && !lnk.is_dir() && !lnk.is_regular());
    assert!(!none.is_dir() && !none.is_regular() && !none.is_symlink());
    // A socket has bits in common with both regular file and directory; it is neither.
    let sock = FileAttrs::default().with_permissions(attrs::S_IFSOCK | 0o600);
    assert!(!sock.is_dir() && !sock.is_regular() && !sock.is_symlink());
    assert_eq!(FileAttrs::default().with_times(5, 6).mtime(), Some(6));
    assert_eq!(FileAttrs::default().with_times(5, 6).atime(), Some(5));
    assert_eq!(none.mtime(), None);
    assert_eq!(full_attrs().flags(), 0x8000_000f);
}

#[test]
fn open_flags_combine() {
    let f = OpenFlags::READ | OpenFlags::WRITE;
    assert_eq!(f, OpenFlags(3));
    assert!(f.contains(OpenFlags::READ) && !f.contains(OpenFlags::APPEND));
    let mut g = OpenFlags::default();
    g |= OpenFlags::CREAT;
    g |= OpenFlags::TRUNC;
    g |= OpenFlags::EXCL;
    assert_eq!(g.bits(), 0x38);
    assert_eq!(OpenFlags::APPEND.0, 4);
}

#[test]
fn has_extension_checks_name_and_version() {
    let exts = vec![(
        Bytes::from_static(b"statvfs@openssh.com"),
        Bytes::from_static(b"2"),
    )];
    assert!(skiff_sftp::ext::has_extension(
        &exts,
        skiff_sftp::ext::STATVFS,
        b"2"
    ));
    assert!(!skiff_sftp::ext::has_extension(
        &exts,
        skiff_sftp::ext::STATVFS,
        b"1"
    ));
    assert!(!skiff_sftp::ext::has_extension(
        &exts,
        skiff_sftp::ext::LIMITS,
        b"1"
    ));
}

#[test]
fn errors_display_clearly() {
    assert_eq!(
        DecodeError::TooLong { len: 10, max: 5 }.to_string(),
        "SFTP packet of 10 bytes exceeds the maximum of 5 bytes"
    );
    assert_eq!(
        DecodeError::Truncated { what: "NAME count" }.to_string(),
        "SFTP packet truncated: missing NAME count"
    );
    assert_eq!(
        DecodeError::UnknownType(99).to_string(),
        "unknown SFTP packet type 99"
    );
}
