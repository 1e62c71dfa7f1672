//! Fuzz encode → decode with generated packets of every type, including extension requests
//! and every attribute flag combination.
//!
//! Properties: `decode(encode(p)) == p`; `encoded_len()` is the exact length; every strict
//! prefix of a frame is a partial frame (`Ok(None)`, nothing consumed); two frames back to
//! back decode as the two packets; a limit one below the frame's length refuses it; the WRITE
//! fast-path header plus its payload is byte-identical to the full WRITE encoding.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use skiff_sftp::{encode_write_header, DecodeError, Packet};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(p), Ok(q)) = (skiff_sftp_fuzz::packet(&mut u), skiff_sftp_fuzz::packet(&mut u)) else {
        return;
    };
    let mut out = BytesMut::new();
    p.encode(&mut out);
    assert_eq!(out.len(), p.encoded_len());
    let frame = out.clone().freeze();
    let body_len = u32::try_from(frame.len() - 4).expect("small packet");

    // Every strict prefix waits for more.
    for cut in [0, 1, 3, 4, 5, frame.len() / 2, frame.len() - 1] {
        let mut partial = BytesMut::from(&frame[..cut.min(frame.len() - 1)]);
        let len = partial.len();
        assert_eq!(Packet::decode(&mut partial, u32::MAX), Ok(None));
        assert_eq!(partial.len(), len);
    }
    // Exactly at the limit it decodes; one below, it is refused.
    let mut at = BytesMut::from(&frame[..]);
    assert_eq!(Packet::decode(&mut at, body_len), Ok(Some(p.clone())));
    assert!(at.is_empty());
    if body_len > 0 {
        let mut below = BytesMut::from(&frame[..]);
        assert_eq!(
            Packet::decode(&mut below, body_len - 1),
            Err(DecodeError::TooLong { len: body_len, max: body_len - 1 })
        );
    }
    // Two frames back to back.
    q.encode(&mut out);
    assert_eq!(Packet::decode(&mut out, u32::MAX), Ok(Some(p.clone())));
    assert_eq!(Packet::decode(&mut out, u32::MAX), Ok(Some(q)));
    assert_eq!(Packet::decode(&mut out, u32::MAX), Ok(None));

    if let Packet::Write { id, handle, offset, data } = &p {
        let mut head = BytesMut::new();
        let len = u32::try_from(data.len()).expect("small payload");
        encode_write_header(*id, handle, *offset, len, &mut head);
        head.extend_from_slice(data);
        assert_eq!(head.freeze(), frame);
    }
});
