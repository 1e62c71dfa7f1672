//! What the fuzz targets share: an allocation meter (the process's global allocator, so a
//! target can bound what one decode allocates) and a generator of arbitrary valid packets.
//!
//! Owns no checks of its own: each target in `fuzz_targets/` states its properties. Built only
//! by `make fuzz` / `make test` with coverage instrumentation; never part of the product.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use skiff_sftp::{ext, Extension, FileAttrs, NameEntry, OpenFlags, Packet, StatusCode};

/// The system allocator, counting live bytes and the peak since [`measure`] last reset it.
pub struct Meter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[global_allocator]
static GLOBAL: Meter = Meter;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

/// Run `f`; also return the most heap it held at once beyond what was live before it ran.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

/// Bytes of at most 64 arbitrary octets (packets stay small so runs stay fast).
pub fn bytes(u: &mut Unstructured) -> Result<Bytes> {
    let n = u.int_in_range(0..=64usize)?;
    Ok(Bytes::copy_from_slice(u.bytes(n.min(u.len()))?))
}

fn opt<T>(u: &mut Unstructured, f: impl FnOnce(&mut Unstructured) -> Result<T>) -> Result<Option<T>> {
    Ok(if u.arbitrary::<bool>()? { Some(f(u)?) } else { None })
}

fn pairs(u: &mut Unstructured, max: usize) -> Result<Vec<(Bytes, Bytes)>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| Ok((bytes(u)?, bytes(u)?))).collect()
}

/// Arbitrary attributes: every flag combination, extended pairs included.
pub fn attrs(u: &mut Unstructured) -> Result<FileAttrs> {
    Ok(FileAttrs {
        size: opt(u, |u| u.arbitrary())?,
        uid_gid: opt(u, |u| u.arbitrary())?,
        permissions: opt(u, |u| u.arbitrary())?,
        atime_mtime: opt(u, |u| u.arbitrary())?,
        extended: pairs(u, 3)?,
    })
}

/// Arbitrary extension request. `Other` never carries a known name (the decoder would read
/// it as the typed variant, rightly).
pub fn extension(u: &mut Unstructured) -> Result<Extension> {
    Ok(match u.int_in_range(0..=11u8)? {
        0 => Extension::Limits,
        1 => Extension::PosixRename { old: bytes(u)?, new: bytes(u)? },
        2 => Extension::Fsync { handle: bytes(u)? },
        3 => Extension::Statvfs { path: bytes(u)? },
        4 => Extension::Fstatvfs { handle: bytes(u)? },
        5 => Extension::Hardlink { old: bytes(u)?, new: bytes(u)? },
        6 => Extension::ExpandPath { path: bytes(u)? },
        7 => Extension::HomeDirectory { username: bytes(u)? },
        8 => Extension::CopyData {
            read_handle: bytes(u)?,
            read_offset: u.arbitrary()?,
            read_len: u.arbitrary()?,
            write_handle: bytes(u)?,
            write_offset: u.arbitrary()?,
        },
        9 => Extension::Lsetstat { path: bytes(u)?, attrs: attrs(u)? },
        _ => {
            let mut name = bytes(u)?;
            let known = [
                ext::LIMITS,
                ext::POSIX_RENAME,
                ext::FSYNC,
                ext::STATVFS,
                ext::FSTATVFS,
                ext::HARDLINK,
                ext::EXPAND_PATH,
                ext::HOME_DIRECTORY,
                ext::COPY_DATA,
                ext::LSETSTAT,
            ];
            if known.contains(&name.as_ref()) {
                name = Bytes::from([b"x-".as_slice(), &name].concat());
            }
            Extension::Other { name, data: bytes(u)? }
        }
    })
}

/// A reply the server may send, answering request `id`.
pub fn reply(u: &mut Unstructured, id: u32) -> Result<Packet> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Packet::Status {
            id,
            code: StatusCode::from_u32(u.arbitrary()?),
            message: bytes(u)?,
            language: bytes(u)?,
        },
        1 => Packet::Handle { id, handle: bytes(u)? },
        2 => Packet::Data { id, data: bytes(u)? },
        3 => {
            let n = u.int_in_range(0..=4)?;
            let entries = (0..n)
                .map(|_| Ok(NameEntry { filename: bytes(u)?, longname: bytes(u)?, attrs: attrs(u)? }))
                .collect::<Result<_>>()?;
            Packet::Name { id, entries }
        }
        4 => Packet::Attrs { id, attrs: attrs(u)? },
        _ => Packet::ExtendedReply { id, data: bytes(u)? },
    })
}

/// A request only a client sends, with id `id`.
pub fn request(u: &mut Unstructured, id: u32) -> Result<Packet> {
    Ok(match u.int_in_range(0..=19u8)? {
        0 => Packet::Open {
            id,
            filename: bytes(u)?,
            pflags: OpenFlags(u.arbitrary()?),
            attrs: attrs(u)?,
        },
        1 => Packet::Close { id, handle: bytes(u)? },
        2 => Packet::Read { id, handle: bytes(u)?, offset: u.arbitrary()?, len: u.arbitrary()? },
        3 => Packet::Write { id, handle: bytes(u)?, offset: u.arbitrary()?, data: bytes(u)? },
        4 => Packet::Lstat { id, path: bytes(u)? },
        5 => Packet::Fstat { id, handle: bytes(u)? },
        6 => Packet::Setstat { id, path: bytes(u)?, attrs: attrs(u)? },
        7 => Packet::Fsetstat { id, handle: bytes(u)?, attrs: attrs(u)? },
        8 => Packet::Opendir { id, path: bytes(u)? },
        9 => Packet::Readdir { id, handle: bytes(u)? },
        10 => Packet::Remove { id, filename: bytes(u)? },
        11 => Packet::Mkdir { id, path: bytes(u)?, attrs: attrs(u)? },
        12 => Packet::Rmdir { id, path: bytes(u)? },
        13 => Packet::Realpath { id, path: bytes(u)? },
        14 => Packet::Stat { id, path: bytes(u)? },
        15 => Packet::Rename { id, old: bytes(u)?, new: bytes(u)? },
        16 => Packet::Readlink { id, path: bytes(u)? },
        17 => Packet::Symlink { id, linkpath: bytes(u)?, targetpath: bytes(u)? },
        _ => Packet::Extended { id, request: extension(u)? },
    })
}

/// Any packet of any type, request or reply, `INIT`/`VERSION` included.
pub fn packet(u: &mut Unstructured) -> Result<Packet> {
    let id = u.arbitrary()?;
    Ok(match u.int_in_range(0..=9u8)? {
        0 => Packet::Init { version: u.arbitrary()?, extensions: pairs(u, 4)? },
        1 => Packet::Version { version: u.arbitrary()?, extensions: pairs(u, 4)? },
        2..=5 => reply(u, id)?,
        _ => request(u, id)?,
    })
}
