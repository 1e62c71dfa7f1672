//! Fuzz the decoders with raw bytes as a hostile server would send them.
//!
//! Properties: `Packet::decode`, `Packet::decode_body`, `FileAttrs::decode`, `Limits::decode`
//! and `Statvfs::decode` never panic on any input; one decode never holds more heap than a
//! small multiple of the bytes actually present (never the length or count a field claims);
//! whatever decodes encodes back to exactly `encoded_len()` bytes that decode to the same
//! packet; a length prefix over the limit is refused before the frame is consumed.
//!
//! Run: `make fuzz` (all targets) or `make fuzz FUZZ_TARGETS=decode FUZZ_SECONDS=600`.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use skiff_sftp::{DecodeError, FileAttrs, Limits, Packet, Statvfs, DEFAULT_MAX_PACKET};
use skiff_sftp_fuzz::measure;

/// Heap one decode may hold, for a frame of `n` bytes: the decoded values are zero-copy
/// slices, so only the vectors of NAME entries and extension/attribute pairs grow, at most
/// one small struct per few wire bytes.
fn heap_bound(n: usize) -> usize {
    32 * n + 1024
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the maximum the caller accepts, so both the limit and the
    // framing behind it are explored.
    let (max, data) = match data.split_first() {
        Some((0, rest)) => (DEFAULT_MAX_PACKET, rest),
        Some((b, rest)) => (u32::from(*b) * 4, rest),
        None => (DEFAULT_MAX_PACKET, data),
    };
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        let (res, heap) = measure(|| Packet::decode(&mut buf, max));
        assert!(heap <= heap_bound(before), "decode of {before} bytes held {heap} bytes of heap");
        match res {
            Ok(Some(packet)) => {
                let consumed = before - buf.len();
                assert!(consumed >= 5 && consumed <= max as usize + 4);
                let mut out = BytesMut::new();
                packet.encode(&mut out);
                assert_eq!(out.len(), packet.encoded_len());
                let again = Packet::decode(&mut out, u32::MAX).expect("re-decode of an encoded packet");
                assert_eq!(again.as_ref(), Some(&packet));
                assert!(out.is_empty());
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "a partial frame is not consumed");
                break;
            }
            Err(DecodeError::TooLong { len, max: m }) => {
                assert!(len > m && m == max);
                assert_eq!(buf.len(), before, "an oversized frame is refused from its prefix");
                break;
            }
            // Any other error consumed its frame; the stream stays aligned.
            Err(_) => assert!(buf.len() < before),
        }
    }
    // The body and payload decoders on their own, without framing.
    let body = Bytes::copy_from_slice(data);
    let (_, heap) = measure(|| Packet::decode_body(body.clone()));
    assert!(heap <= heap_bound(data.len()), "decode_body of {} bytes held {heap}", data.len());
    let mut cursor = body.clone();
    if let Ok(attrs) = FileAttrs::decode(&mut cursor) {
        let mut out = BytesMut::new();
        attrs.encode(&mut out);
        assert_eq!(out.len(), attrs.encoded_len());
        assert_eq!(FileAttrs::decode(&mut out.freeze()), Ok(attrs));
    }
    if let Ok(l) = Limits::decode(data) {
        let mut out = BytesMut::new();
        l.encode(&mut out);
        assert_eq!(Limits::decode(&out), Ok(l));
    }
    if let Ok(s) = Statvfs::decode(data) {
        let mut out = BytesMut::new();
        s.encode(&mut out);
        assert_eq!(Statvfs::decode(&out), Ok(s));
    }
});
