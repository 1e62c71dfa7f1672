//! The session's request table, sans-IO: which requests wait for which reply, whether the
//! session is dead, and the reader's framing of incoming bytes into replies.
//!
//! Owns [`RequestTable`] (ids issued, replies routed, the session's fatal error) and
//! [`next_reply`] (one whole reply out of the read buffer, bounded by the session's maximum).
//! No tasks, no channels, no russh, no clock: `sftp::session` holds the table behind its lock
//! and delivers to the waiters this module hands back, after letting the lock go. The id
//! bookkeeping itself is [`skiff_sftp::InFlight`]; this module adds the host, the dead state
//! and errors a person can act on.
//!
//! Everything the server can get wrong here is fatal to the session: an id that was never
//! sent, a second reply to one id, a packet only a client sends, a malformed packet, a length
//! prefix above the session's maximum (refused from the 4 prefix bytes, before anything is
//! buffered for it). The table then fails every waiter with one protocol error naming the host.

use std::collections::hash_map;

use bytes::BytesMut;
use skiff_sftp::{DecodeError, InFlight, Packet};

use crate::error::{Error, Result};

/// Operation name of every error raised while reading replies.
const OP: &str = "read sftp reply";

/// What to tell a person whose session the server broke.
const HINT: &str = "the server's SFTP implementation sent something no request asked for, so the \
                    session was closed; retry, and if it happens again report it to the server's \
                    administrator (the connection may also be tampered with)";

/// In-flight requests of one session, by id, plus the session's fatal error once it has one.
/// `W` is whatever waits for a reply (the session's oneshot sender and budget permit).
pub(crate) struct RequestTable<W> {
    inflight: InFlight<W>,
    host: String,
    dead: Option<Error>,
}

/// A reply matched to its waiter: deliver `packet` to `waiter`.
pub(crate) struct Routed<W> {
    pub waiter: W,
    pub packet: Packet,
}

/// The session died: `error` for each of `waiters` (every request that was still waiting).
pub(crate) struct Failure<W> {
    pub error: Error,
    pub waiters: hash_map::IntoValues<u32, W>,
}

impl<W> RequestTable<W> {
    pub fn new(host: impl Into<String>) -> Self {
        RequestTable { inflight: InFlight::new(), host: host.into(), dead: None }
    }

    /// The error that ended the session, once it ended.
    pub fn dead(&self) -> Option<&Error> {
        self.dead.as_ref()
    }

    /// Issue an id for a new request, or the session's error if it is dead.
    pub fn register(&mut self, waiter: W) -> Result<u32> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        Ok(self.inflight.issue(waiter))
    }

    /// Forget a request that was never sent (the writer queue was gone).
    pub fn unregister(&mut self, id: u32) {
        self.inflight.cancel(id);
    }

    /// Number of requests waiting for a reply.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.inflight.len()
    }

    /// Match `packet` to the request it answers. A packet that answers nothing fails the
    /// whole session: every waiter gets the returned [`Failure`].
    pub fn route(&mut self, packet: Packet) -> Result<Routed<W>, Failure<W>> {
        match self.inflight.route(&packet) {
            Ok(waiter) => Ok(Routed { waiter, packet }),
            Err(why) => Err(self.fail(self.protocol_error(why.to_string()))),
        }
    }

    /// The session is dead with `error` (the first error wins; later ones keep it): take
    /// every waiter so each can be told.
    pub fn fail(&mut self, error: Error) -> Failure<W> {
        let error = self.dead.get_or_insert(error).clone();
        Failure { error, waiters: self.inflight.take_all().into_values() }
    }

    fn protocol_error(&self, detail: String) -> Error {
        Error::protocol(OP, detail).host(self.host.clone()).hint(HINT)
    }
}

/// Take the next whole reply off the front of `buf`: `Ok(None)` until one has fully arrived.
///
/// A length prefix above `max_packet` is an error from the 4 prefix bytes alone (nothing is
/// reserved or buffered for the claimed length); so is a packet that does not decode. Both
/// are fatal to the session and name `host`.
pub(crate) fn next_reply(buf: &mut BytesMut, max_packet: u32, host: &str) -> Result<Option<Packet>> {
    Packet::decode(buf, max_packet).map_err(|e| {
        let detail = match e {
            DecodeError::TooLong { len, max } => format!(
                "the server announced a packet of {len} bytes; this session accepts at most {max}"
            ),
            other => format!("malformed packet: {other}"),
        };
        Error::protocol(OP, detail).host(host.to_string()).hint(HINT)
    })
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes};
    use skiff_sftp::{NameEntry, StatusCode};

    use super::*;
    use crate::error::ErrorKind;

    const HOST: &str = "alice@files.example:22";

    fn status(id: u32) -> Packet {
        Packet::Status { id, code: StatusCode::Ok, message: Bytes::new(), language: Bytes::new() }
    }

    fn data(id: u32, bytes: &'static [u8]) -> Packet {
        Packet::Data { id, data: Bytes::from_static(bytes) }
    }

    /// A table with `n` waiters, each waiter being its own index.
    fn table_with(n: usize) -> (RequestTable<usize>, Vec<u32>) {
        let mut t = RequestTable::new(HOST);
        let ids = (0..n).map(|i| t.register(i).unwrap()).collect();
        (t, ids)
    }

    /// `route` must fail the session: the error is a protocol error naming the host and
    /// mentioning `says`, every waiter is handed back, and the table stays dead.
    fn assert_fatal(t: &mut RequestTable<usize>, packet: Packet, waiting: usize, says: &str) {
        let Err(f) = t.route(packet) else { panic!("the packet was routed") };
        assert_eq!(f.error.kind, ErrorKind::Protocol);
        assert_eq!(f.error.host.as_deref(), Some(HOST));
        let text = f.error.to_string();
        assert!(text.contains(HOST) && text.contains(says), "{text}");
        let mut failed: Vec<usize> = f.waiters.collect();
        failed.sort_unstable();
        assert_eq!(failed, (0..waiting).collect::<Vec<_>>(), "every waiter gets the error");
        assert_eq!(t.waiting(), 0);
        let again = t.register(99).unwrap_err();
        assert_eq!(again.to_string(), text, "new requests fail with the same error");
    }

    #[test]
    fn out_of_order_replies_route_to_their_own_waiters() {
        let (mut t, ids) = table_with(4);
        for i in [2, 0, 3, 1] {
            let r = t.route(data(ids[i], b"x")).ok().expect("routed");
            assert_eq!(r.waiter, i);
            assert_eq!(r.packet.id(), Some(ids[i]));
        }
        assert_eq!(t.waiting(), 0);
        assert!(t.dead().is_none());
    }

    #[test]
    fn unknown_id_fails_every_waiter_naming_the_host() {
        let (mut t, ids) = table_with(3);
        let unknown = ids.iter().max().unwrap() + 1000;
        assert_fatal(&mut t, status(unknown), 3, &format!("request id {unknown}"));
    }

    #[test]
    fn reply_to_a_request_never_sent_is_fatal() {
        // Nothing in flight at all: id 1 was never handed out.
        let (mut t, _) = table_with(0);
        assert_fatal(&mut t, status(1), 0, "request id 1, which was never sent");
        // With requests in flight, an id ahead of the sequence.
        let (mut t, ids) = table_with(2);
        let ahead = ids[1] + 1;
        assert_fatal(&mut t, data(ahead, b""), 2, "which was never sent");
    }

    #[test]
    fn second_reply_to_the_same_id_is_fatal() {
        let (mut t, ids) = table_with(3);
        assert_eq!(t.route(status(ids[1])).ok().map(|r| r.waiter), Some(1));
        let Err(f) = t.route(status(ids[1])) else { panic!("second reply routed") };
        assert!(f.error.to_string().contains("a second time"), "{}", f.error);
        let mut rest: Vec<usize> = f.waiters.collect();
        rest.sort_unstable();
        assert_eq!(rest, [0, 2]);
    }

    #[test]
    fn a_request_packet_or_a_late_version_is_fatal() {
        let (mut t, ids) = table_with(1);
        let open = Packet::Open {
            id: ids[0],
            filename: Bytes::from_static(b"/etc/passwd"),
            pflags: skiff_sftp::OpenFlags::READ,
            attrs: Default::default(),
        };
        assert_fatal(&mut t, open, 1, "OPEN packet");
        let (mut t, _) = table_with(2);
        assert_fatal(&mut t, Packet::Version { version: 3, extensions: vec![] }, 2, "VERSION");
    }

    #[test]
    fn the_first_error_is_the_one_everybody_sees() {
        let (mut t, _) = table_with(1);
        let first = Error::network("sftp", "the server closed the SFTP channel").host(HOST);
        assert_eq!(t.fail(first.clone()).waiters.count(), 1);
        let later = t.route(status(5)).err().expect("dead");
        assert_eq!(later.error.to_string(), first.to_string());
    }

    #[test]
    fn oversized_length_prefix_is_fatal_without_buffering_the_claim() {
        let mut buf = BytesMut::with_capacity(8);
        buf.put_u32(u32::MAX);
        let cap = buf.capacity();
        let e = next_reply(&mut buf, 4 << 20, HOST).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(e.to_string().contains(HOST) && e.to_string().contains("4294967295 bytes"), "{e}");
        assert_eq!(buf.capacity(), cap, "nothing reserved for the claimed length");
        // One byte over the limit, with the rest of the frame not yet here.
        let mut buf = BytesMut::new();
        buf.put_u32(1001);
        buf.put_u8(103);
        assert!(next_reply(&mut buf, 1000, HOST).is_err());
        // At the limit and incomplete: wait.
        let mut buf = BytesMut::new();
        buf.put_u32(1000);
        assert!(matches!(next_reply(&mut buf, 1000, HOST), Ok(None)));
    }

    #[test]
    fn malformed_packet_is_fatal() {
        // A NAME claiming two entries with bytes for none.
        let mut buf = BytesMut::new();
        buf.put_u32(9);
        buf.put_u8(104);
        buf.put_u32(1);
        buf.put_u32(2);
        let e = next_reply(&mut buf, 1 << 20, HOST).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(e.to_string().contains("malformed packet") && e.to_string().contains(HOST), "{e}");
        // Partial frames are not errors.
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert!(matches!(next_reply(&mut buf, 1 << 20, HOST), Ok(None)));
    }

    #[test]
    fn a_stream_of_replies_decodes_and_routes_in_any_order() {
        let (mut t, ids) = table_with(3);
        let mut wire = BytesMut::new();
        let replies = [
            data(ids[2], b"third"),
            Packet::Name {
                id: ids[0],
                entries: vec![NameEntry {
                    filename: Bytes::from_static(b"a"),
                    longname: Bytes::new(),
                    attrs: Default::default(),
                }],
            },
            status(ids[1]),
        ];
        for r in &replies {
            r.encode(&mut wire);
        }
        // Fed a byte at a time, as a slow channel would.
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for b in wire {
            buf.put_u8(b);
            while let Some(p) = next_reply(&mut buf, 1 << 20, HOST).unwrap() {
                let r = t.route(p).ok().expect("routed");
                got.push((r.waiter, r.packet));
            }
        }
        let want: Vec<(usize, Packet)> = [2, 0, 1].into_iter().zip(replies).collect();
        assert_eq!(got, want);
    }
}
