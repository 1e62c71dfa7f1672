//! Fuzz `Packet::decode`: any input must decode, wait for more, or error — never panic —
//! and whatever decodes must encode back to bytes that decode to the same value.
//!
//! Run: `cd crates/skiff-sftp/fuzz && cargo +nightly fuzz run decode`

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use skiff_sftp::{Packet, DEFAULT_MAX_PACKET};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(packet)) = Packet::decode(&mut buf, DEFAULT_MAX_PACKET) {
        let mut out = BytesMut::new();
        packet.encode(&mut out);
        assert_eq!(out.len(), packet.encoded_len());
        let again = Packet::decode(&mut out, u32::MAX).expect("re-decode of an encoded packet");
        assert_eq!(again.as_ref(), Some(&packet));
        assert!(out.is_empty());
    }
    // The body decoder on its own, without framing.
    if let Some(body) = data.get(4..) {
        let _ = Packet::decode_body(bytes::Bytes::copy_from_slice(body));
    }
});
