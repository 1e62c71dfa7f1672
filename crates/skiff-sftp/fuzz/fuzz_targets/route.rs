//! Fuzz the request table's reply routing against a model, the way the session's reader
//! drives it: requests are issued and cancelled, and the server's bytes (well-formed replies
//! to waiting, answered, never-sent ids; requests; VERSION; garbage; split anywhere) are
//! framed with a small maximum and routed.
//!
//! Properties: nothing panics; a reply reaches exactly the waiter that sent its id and no
//! other; a reply to an id never issued is `NeverSent`, to an id already answered or
//! cancelled `AlreadyAnswered`, a request type `NotAReply`, an id-less packet `NoRequestId`,
//! and none of those takes a waiter; ids are never handed out twice while waiting; a framing
//! error (oversized or malformed) ends the session as the engine does, and a fresh one starts.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use skiff_sftp::{InFlight, Packet, RouteError};

/// One session: the table, what the model says it holds, and the bytes not yet framed.
struct Session {
    table: InFlight<u64>,
    waiting: BTreeMap<u32, u64>,
    issued: BTreeSet<u32>,
    wire: BytesMut,
    max: u32,
}

impl Session {
    fn new(u: &mut Unstructured) -> Result<Session> {
        // Start near the wrap-around half of the time.
        let first = if u.arbitrary::<bool>()? { u32::MAX - u.int_in_range(0..=8u32)? } else { u.arbitrary()? };
        Ok(Session {
            table: InFlight::starting_at(first),
            waiting: BTreeMap::new(),
            issued: BTreeSet::new(),
            wire: BytesMut::new(),
            max: u.int_in_range(16..=4096u32)?,
        })
    }

    /// An id worth answering: one waiting, one answered or cancelled, or any at all.
    fn pick_id(&self, u: &mut Unstructured) -> Result<u32> {
        Ok(match u.int_in_range(0..=2u8)? {
            0 if !self.waiting.is_empty() => {
                let i = u.choose_index(self.waiting.len())?;
                *self.waiting.keys().nth(i).expect("index in range")
            }
            1 if !self.issued.is_empty() => {
                let i = u.choose_index(self.issued.len())?;
                *self.issued.iter().nth(i).expect("index in range")
            }
            _ => u.arbitrary()?,
        })
    }

    /// Frame and route everything buffered. False when the session died (framing error).
    fn drain(&mut self) -> bool {
        loop {
            match Packet::decode(&mut self.wire, self.max) {
                Ok(Some(p)) => self.route(&p),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    fn route(&mut self, p: &Packet) {
        let got = self.table.route(p);
        let want = match p.id() {
            None => Err(RouteError::NoRequestId { packet: p.name() }),
            Some(id) if !skiff_sftp::requests::is_reply_type(p.packet_type()) => {
                Err(RouteError::NotAReply { packet: p.name(), id })
            }
            Some(id) => match self.waiting.remove(&id) {
                Some(token) => Ok(token),
                None if self.issued.contains(&id) => Err(RouteError::AlreadyAnswered { id }),
                None => Err(RouteError::NeverSent { id }),
            },
        };
        assert_eq!(got, want, "routing {p:?}");
    }

    fn check(&self) {
        assert_eq!(self.table.len(), self.waiting.len());
        for id in self.waiting.keys() {
            assert!(self.table.is_waiting(*id));
        }
    }
}

fn run(u: &mut Unstructured) -> Result<()> {
    let mut s = Session::new(u)?;
    let mut token = 0u64;
    while !u.is_empty() {
        match u.int_in_range(0..=5u8)? {
            0 | 1 => {
                token += 1;
                let id = s.table.issue(token);
                assert!(!s.waiting.contains_key(&id), "id {id} handed out while still waiting");
                s.waiting.insert(id, token);
                s.issued.insert(id);
            }
            2 => {
                let id = s.pick_id(u)?;
                assert_eq!(s.table.cancel(id), s.waiting.remove(&id));
            }
            3 | 4 => {
                let id = s.pick_id(u)?;
                let p = match u.int_in_range(0..=9u8)? {
                    0 => skiff_sftp_fuzz::request(u, id)?,
                    1 => Packet::Version { version: 3, extensions: vec![] },
                    _ => skiff_sftp_fuzz::reply(u, id)?,
                };
                let mut frame = BytesMut::new();
                p.encode(&mut frame);
                // Arrives in two pieces, split anywhere.
                let cut = u.int_in_range(0..=frame.len())?;
                let tail = frame.split_off(cut);
                s.wire.extend_from_slice(&frame);
                if !s.drain() {
                    s = Session::new(u)?;
                    continue;
                }
                s.wire.extend_from_slice(&tail);
                if !s.drain() {
                    s = Session::new(u)?;
                }
            }
            _ => {
                // Raw bytes from the server: whatever frames out of them is routed too.
                let n = u.int_in_range(0..=32usize)?;
                let raw = u.bytes(n.min(u.len()))?;
                s.wire.extend_from_slice(raw);
                if !s.drain() {
                    s = Session::new(u)?;
                }
            }
        }
        s.check();
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
