//! The client's in-flight request table: request ids handed out, replies routed back by id.
//!
//! Owns [`InFlight`], the map from request id to whatever waits for that reply, and
//! [`RouteError`], the ways a server's reply can fail to belong to a request. Sans-IO like the
//! rest of the crate: no tasks, no channels, no clock; the waiter type `W` is the caller's
//! (a oneshot sender in the engine, a plain value in tests and fuzzing). It knows nothing of
//! the host, the budget or what a session does once routing fails: every [`RouteError`] is
//! meant to be fatal to the session (pkg/sftp and OpenSSH's `sftp-client.c` both drop the
//! connection on a reply they cannot place).
//!
//! Ids are issued in sequence (from 1, wrapping, skipping ids still waiting), so an id that is
//! not waiting can be told apart: one issued earlier was already answered (or given up), one
//! ahead of the sequence was never sent. Issuing and routing are one hash-map insert and one
//! remove; nothing else is allocated per request.

use std::collections::HashMap;

use crate::packet::{
    type_name, Packet, SSH_FXP_ATTRS, SSH_FXP_DATA, SSH_FXP_EXTENDED_REPLY, SSH_FXP_HANDLE,
    SSH_FXP_NAME, SSH_FXP_STATUS,
};

/// Why a packet from the server cannot be handed to any waiter. Every variant means the
/// server broke the protocol; the session should fail every waiter and close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A packet without a request id (`INIT`, `VERSION`) after the handshake.
    #[error("the server sent an unexpected {packet} packet in the middle of the session")]
    NoRequestId {
        /// The packet's name.
        packet: &'static str,
    },
    /// A packet type only a client sends (`OPEN`, `READ`, ...), presented as a reply.
    #[error("the server sent a {packet} packet (id {id}), which only a client may send")]
    NotAReply {
        /// The packet's name.
        packet: &'static str,
        /// Its id.
        id: u32,
    },
    /// A reply whose id was never issued.
    #[error("the server answered request id {id}, which was never sent")]
    NeverSent {
        /// The reply's id.
        id: u32,
    },
    /// A reply whose request was issued but is no longer waiting: a second reply to it.
    #[error("the server answered request id {id} a second time")]
    AlreadyAnswered {
        /// The reply's id.
        id: u32,
    },
}

/// True for the packet types a server sends in answer to a request.
pub fn is_reply_type(ty: u8) -> bool {
    matches!(
        ty,
        SSH_FXP_STATUS
            | SSH_FXP_HANDLE
            | SSH_FXP_DATA
            | SSH_FXP_NAME
            | SSH_FXP_ATTRS
            | SSH_FXP_EXTENDED_REPLY
    )
}

/// Requests sent and not yet answered, by id. See the module docs.
#[derive(Debug)]
pub struct InFlight<W> {
    waiting: HashMap<u32, W>,
    next_id: u32,
    /// Ids issued so far, saturating at 2^32: past that every id has been issued once.
    issued: u64,
}

impl<W> Default for InFlight<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> InFlight<W> {
    /// An empty table whose first id is 1.
    pub fn new() -> Self {
        Self::starting_at(1)
    }

    /// An empty table whose first id is `first` (tests use this to reach the wrap-around).
    pub fn starting_at(first: u32) -> Self {
        InFlight {
            waiting: HashMap::new(),
            next_id: first,
            issued: 0,
        }
    }

    /// Issue the next free id for `waiter` and remember it until its reply is routed.
    ///
    /// Ids still waiting are skipped, so two requests never share an id. (More than 2^32
    /// requests in flight at once cannot happen: each holds memory far beyond that.)
    pub fn issue(&mut self, waiter: W) -> u32 {
        let mut id = self.next_id;
        while self.waiting.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.issued = (self.issued + 1).min(1 << 32);
        self.waiting.insert(id, waiter);
        id
    }

    /// Forget request `id` without a reply (it was never sent after all). A late reply to
    /// it then counts as [`RouteError::AlreadyAnswered`].
    pub fn cancel(&mut self, id: u32) -> Option<W> {
        self.waiting.remove(&id)
    }

    /// The waiter `reply` belongs to, taken out of the table. The caller hands `reply` to it.
    pub fn route(&mut self, reply: &Packet) -> Result<W, RouteError> {
        let Some(id) = reply.id() else {
            return Err(RouteError::NoRequestId {
                packet: reply.name(),
            });
        };
        let ty = reply.packet_type();
        if !is_reply_type(ty) {
            return Err(RouteError::NotAReply {
                packet: type_name(ty).unwrap_or("UNKNOWN"),
                id,
            });
        }
        match self.waiting.remove(&id) {
            Some(w) => Ok(w),
            None if self.was_issued(id) => Err(RouteError::AlreadyAnswered { id }),
            None => Err(RouteError::NeverSent { id }),
        }
    }

    /// True if `id` was handed out at some point (waiting or not).
    pub fn was_issued(&self, id: u32) -> bool {
        // How far behind the next id this one is: 1 for the last issued, 2 for the one
        // before... Ids at or ahead of `next_id` are `issued` or more behind, after a wrap.
        let behind = u64::from(self.next_id.wrapping_sub(id));
        let behind = if behind == 0 { 1 << 32 } else { behind };
        behind <= self.issued
    }

    /// True if request `id` is waiting for its reply.
    pub fn is_waiting(&self, id: u32) -> bool {
        self.waiting.contains_key(&id)
    }

    /// Number of requests waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when no request is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Take every waiter out (the session failed: each gets the error). Ids stay issued.
    pub fn take_all(&mut self) -> HashMap<u32, W> {
        std::mem::take(&mut self.waiting)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::StatusCode;

    fn status(id: u32) -> Packet {
        Packet::Status {
            id,
            code: StatusCode::Ok,
            message: Bytes::new(),
            language: Bytes::new(),
        }
    }

    #[test]
    fn out_of_order_replies_reach_their_own_waiters() {
        let mut t = InFlight::new();
        let ids: Vec<u32> = (0..5).map(|i| t.issue(i * 10)).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        for (id, want) in [(4, 30), (1, 0), (5, 40), (3, 20), (2, 10)] {
            assert_eq!(t.route(&Packet::Data { id, data: Bytes::new() }), Ok(want));
        }
        assert!(t.is_empty());
    }

    #[test]
    fn never_sent_and_answered_twice_are_told_apart() {
        let mut t = InFlight::new();
        let id = t.issue(());
        assert_eq!(t.route(&status(id)), Ok(()));
        assert_eq!(t.route(&status(id)), Err(RouteError::AlreadyAnswered { id }));
        assert_eq!(t.route(&status(id + 1)), Err(RouteError::NeverSent { id: id + 1 }));
        assert_eq!(t.route(&status(0)), Err(RouteError::NeverSent { id: 0 }));
        assert_eq!(t.route(&status(u32::MAX)), Err(RouteError::NeverSent { id: u32::MAX }));
    }

    #[test]
    fn requests_and_idless_packets_are_not_replies() {
        let mut t = InFlight::new();
        let id = t.issue(());
        let read = Packet::Read { id, handle: Bytes::new(), offset: 0, len: 1 };
        assert_eq!(t.route(&read), Err(RouteError::NotAReply { packet: "READ", id }));
        let version = Packet::Version { version: 3, extensions: vec![] };
        assert_eq!(t.route(&version), Err(RouteError::NoRequestId { packet: "VERSION" }));
        assert!(t.is_waiting(id), "a rejected packet takes no waiter");
    }

    #[test]
    fn ids_wrap_and_skip_ids_still_waiting() {
        let mut t = InFlight::starting_at(u32::MAX - 1);
        let a = t.issue('a');
        let b = t.issue('b');
        let c = t.issue('c');
        assert_eq!((a, b, c), (u32::MAX - 1, u32::MAX, 0));
        assert!(t.was_issued(a) && t.was_issued(c) && !t.was_issued(1));
        // Force the sequence back onto a waiting id: it is skipped.
        let mut t = InFlight::starting_at(7);
        let seven = t.issue(1);
        t.next_id = seven;
        assert_eq!(t.issue(2), 8);
        assert_eq!(t.route(&status(7)), Ok(1));
        assert_eq!(t.route(&status(8)), Ok(2));
    }

    #[test]
    fn cancelled_and_failed_requests_stay_issued() {
        let mut t = InFlight::new();
        let a = t.issue("a");
        let b = t.issue("b");
        assert_eq!(t.cancel(a), Some("a"));
        assert_eq!(t.route(&status(a)), Err(RouteError::AlreadyAnswered { id: a }));
        let all = t.take_all();
        assert_eq!(all.get(&b), Some(&"b"));
        assert!(t.is_empty());
        assert_eq!(t.route(&status(b)), Err(RouteError::AlreadyAnswered { id: b }));
    }
}
