//! A simulated network for file transfers: users with a `Transfers` each, their storage (the records and
//! chunks under their `storage::Key`s, as the worker would keep them), links that go up and down, and a
//! wire that can reorder, hold back or tamper with what travels. The channel takes `capacity` chunks per
//! round from each sender, as a data channel's `bufferedAmountLow` would let the shell pull them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use multichat_core::account::Username;
use multichat_core::chat::ids::RoomId;
use multichat_core::identity::{Identity, PublicKey};
use multichat_core::storage::Key;
use multichat_core::time::Millis;
use multichat_core::transfer::manager::{Limits, NewFile, Output, Peer, TransferEvent, Transfers};
use multichat_core::transfer::record::{self, FileIndex, FileKey, IncomingRecord, OutgoingRecord};
use multichat_core::transfer::{DropReason, TransferId, hash, wire};
use serde_json::Value;

pub fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

pub fn identity_of(name: &str) -> Identity {
    let mut seed = [7u8; 32];
    for (slot, byte) in seed.iter_mut().zip(name.bytes()) {
        *slot = byte;
    }
    Identity::from_seed(seed)
}

/// Deterministic bytes of a "file".
pub fn file_bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[derive(Clone, Debug)]
pub enum Msg {
    Frame(Value),
    Chunk(Vec<u8>),
}

pub struct Side {
    pub me: Username,
    pub identity: Identity,
    pub limits: Limits,
    pub transfers: Transfers,
    /// Storage: key → value, as the worker writes it.
    pub store: BTreeMap<String, Value>,
    pub events: Vec<TransferEvent>,
    pub drops: Vec<(Username, DropReason)>,
    /// Chunk writes not yet reported stored (when `hold_writes` is on).
    pub unconfirmed: VecDeque<(FileKey, u32)>,
    pub hold_writes: bool,
    /// Everyone this user counts as a contact.
    pub contacts: BTreeSet<Username>,
    /// Rooms this user shares with each peer.
    pub rooms: BTreeSet<RoomId>,
}

impl Side {
    pub fn new(name: &str, limits: Limits) -> Side {
        let me = user(name);
        let identity = identity_of(name);
        Side {
            transfers: Transfers::new(me.clone(), identity.clone(), limits),
            me,
            identity,
            limits,
            store: BTreeMap::new(),
            events: Vec::new(),
            drops: Vec::new(),
            unconfirmed: VecDeque::new(),
            hold_writes: false,
            contacts: BTreeSet::new(),
            rooms: BTreeSet::new(),
        }
    }

    pub fn key(&self) -> PublicKey {
        self.identity.public_key()
    }

    fn write(&mut self, key: Key, value: Value) {
        self.store.insert(key.to_string(), value);
    }

    /// Stores our own file's chunks and starts sending it.
    pub fn send_file(
        &mut self,
        id: u8,
        room: &RoomId,
        name: &str,
        mime: &str,
        bytes: &[u8],
        to: &[&str],
    ) -> TransferId {
        let id = TransferId::from_random([id; 16]);
        let sha256 = hash::sha256(bytes);
        self.send_with_manifest(id, room, name, mime, bytes, sha256, to);
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub fn send_with_manifest(
        &mut self,
        id: TransferId,
        room: &RoomId,
        name: &str,
        mime: &str,
        bytes: &[u8],
        sha256: [u8; 32],
        to: &[&str],
    ) {
        let chunk = multichat_core::transfer::CHUNK_BYTES as usize;
        for (index, piece) in bytes.chunks(chunk).enumerate() {
            let key = Key::FileChunk { owner: self.me.clone(), file: FileKey::Out(id), index: index as u32 };
            self.write(key, record::chunk_value(piece));
        }
        let file = NewFile {
            id,
            room: room.clone(),
            name: name.into(),
            mime: mime.into(),
            size: bytes.len() as u64,
            sha256,
            timestamp: Millis(1_000),
        };
        self.transfers.send(file, to.iter().map(|it| user(it))).unwrap();
    }

    /// A restart: everything in memory is lost, and the transfers come back from storage, found through
    /// the index as the worker finds them.
    pub fn restart(&mut self) {
        let mut incoming = Vec::new();
        let mut outgoing = Vec::new();
        let index: FileIndex = self
            .store
            .get(&Key::FileIndex(self.me.clone()).to_string())
            .map(|it| serde_json::from_value(it.clone()).unwrap())
            .unwrap_or_default();
        for file in index.files {
            let Some(value) = self.store.get(&Key::File { owner: self.me.clone(), file: file.clone() }.to_string())
            else {
                continue;
            };
            match file {
                FileKey::In { .. } => incoming.push(serde_json::from_value::<IncomingRecord>(value.clone()).unwrap()),
                FileKey::Out(_) => outgoing.push(serde_json::from_value::<OutgoingRecord>(value.clone()).unwrap()),
            }
        }
        self.unconfirmed.clear();
        self.transfers = Transfers::restore(self.me.clone(), self.identity.clone(), self.limits, incoming, outgoing);
    }

    /// The chunks of a received file, joined, if they are all stored.
    pub fn received_bytes(&self, from: &str, id: TransferId) -> Option<Vec<u8>> {
        let record = self.incoming_record(from, id)?;
        let count = record.offer.chunk_count() as u32;
        let mut bytes = Vec::new();
        for index in 0..count {
            let file = FileKey::In { from: user(from), id };
            let key = Key::FileChunk { owner: self.me.clone(), file, index };
            bytes.extend(record::chunk_bytes(self.store.get(&key.to_string())?)?);
        }
        Some(bytes)
    }

    pub fn incoming_record(&self, from: &str, id: TransferId) -> Option<IncomingRecord> {
        let key = Key::File { owner: self.me.clone(), file: FileKey::In { from: user(from), id } };
        serde_json::from_value(self.store.get(&key.to_string())?.clone()).ok()
    }

    pub fn outgoing_record(&self, id: TransferId) -> Option<OutgoingRecord> {
        let key = Key::File { owner: self.me.clone(), file: FileKey::Out(id) };
        serde_json::from_value(self.store.get(&key.to_string())?.clone()).ok()
    }

    /// Stored chunk keys of files we receive.
    pub fn received_chunk_keys(&self) -> usize {
        self.store
            .keys()
            .filter(|it| matches!(Key::parse(it), Some(Key::FileChunk { file: FileKey::In { .. }, .. })))
            .count()
    }

    /// Reports held-back writes as stored.
    pub fn confirm_writes(&mut self) {
        while let Some((key, index)) = self.unconfirmed.pop_front() {
            self.transfers.stored(&key, index);
        }
    }
}

/// What a wire may do to messages in flight.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Shuffle each round's messages (the channel is unordered).
    pub reorder: bool,
    /// Flip one byte in the chunk with this index (once).
    pub tamper_chunk: Option<u32>,
}

pub struct Net {
    pub sides: BTreeMap<Username, Side>,
    pub links: BTreeSet<(Username, Username)>,
    pub wire: VecDeque<(Username, Username, Msg)>,
    /// Chunks a sender may put on one link per round.
    pub capacity: usize,
    pub faults: Faults,
    /// Every chunk sent, per (from, to): to count what was sent again.
    pub chunks_sent: BTreeMap<(Username, Username), usize>,
    /// The most chunks seen in flight unacknowledged (sent but not yet acked), per sender and transfer.
    pub rng: u64,
    pub tampered: bool,
}

fn pair(a: &Username, b: &Username) -> (Username, Username) {
    if a < b { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) }
}

impl Net {
    pub fn new(sides: Vec<Side>) -> Net {
        Net {
            sides: sides.into_iter().map(|it| (it.me.clone(), it)).collect(),
            links: BTreeSet::new(),
            wire: VecDeque::new(),
            capacity: 8,
            faults: Faults::default(),
            chunks_sent: BTreeMap::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
            tampered: false,
        }
    }

    pub fn side(&mut self, name: &str) -> &mut Side {
        self.sides.get_mut(&user(name)).unwrap()
    }

    pub fn get(&self, name: &str) -> &Side {
        &self.sides[&user(name)]
    }

    /// Makes `a` and `b` contacts of each other sharing `room`.
    pub fn befriend(&mut self, a: &str, b: &str, room: &RoomId) {
        for (x, y) in [(a, b), (b, a)] {
            let side = self.side(x);
            side.contacts.insert(user(y));
            side.rooms.insert(room.clone());
        }
    }

    pub fn link_up(&mut self, a: &str, b: &str) {
        self.links.insert(pair(&user(a), &user(b)));
        self.side(a).transfers.link_up(&user(b));
        self.side(b).transfers.link_up(&user(a));
    }

    pub fn link_down(&mut self, a: &str, b: &str) {
        let (ua, ub) = (user(a), user(b));
        self.links.remove(&pair(&ua, &ub));
        // What was in flight on the link is lost with it.
        self.wire.retain(|(from, to, _)| pair(from, to) != pair(&ua, &ub));
        self.side(a).transfers.link_down(&ub);
        self.side(b).transfers.link_down(&ua);
    }

    fn is_up(&self, a: &Username, b: &Username) -> bool {
        self.links.contains(&pair(a, b))
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Performs every side's outputs.
    fn perform(&mut self) -> bool {
        let mut progress = false;
        let names: Vec<Username> = self.sides.keys().cloned().collect();
        for name in &names {
            loop {
                let side = self.sides.get_mut(name).unwrap();
                let Some(output) = side.transfers.poll_output() else { break };
                progress = true;
                match output {
                    Output::Send { to, frame } => {
                        if self.is_up(name, &to) {
                            self.wire.push_back((name.clone(), to, Msg::Frame(wire::encode(&frame))));
                        }
                    }
                    Output::ChunksReady { .. } => {}
                    Output::StoreChunk { key, index, bytes, record } => {
                        let owner = side.me.clone();
                        side.write(
                            Key::FileChunk { owner: owner.clone(), file: key.clone(), index },
                            record::chunk_value(&bytes),
                        );
                        side.write(Key::File { owner, file: key.clone() }, serde_json::to_value(&record).unwrap());
                        side.unconfirmed.push_back((key, index));
                        if !side.hold_writes {
                            side.confirm_writes();
                        }
                    }
                    Output::StoreIndex(index) => {
                        let key = Key::FileIndex(side.me.clone());
                        side.write(key, serde_json::to_value(&index).unwrap());
                    }
                    Output::StoreIncoming(record) => {
                        let key = Key::File { owner: side.me.clone(), file: record.key() };
                        side.write(key, serde_json::to_value(&record).unwrap());
                    }
                    Output::StoreOutgoing(record) => {
                        let key = Key::File { owner: side.me.clone(), file: record.key() };
                        side.write(key, serde_json::to_value(&record).unwrap());
                    }
                    Output::DiscardChunks { key, chunks } => {
                        for index in 0..chunks {
                            let owner = side.me.clone();
                            side.store.remove(&Key::FileChunk { owner, file: key.clone(), index }.to_string());
                        }
                    }
                    Output::Event(event) => side.events.push(event),
                    Output::Dropped { from, reason } => side.drops.push((from, reason)),
                }
            }
        }
        progress
    }

    /// Each sender pulls up to `capacity` chunks per link (its channel's room this round).
    fn pull(&mut self) -> bool {
        let mut progress = false;
        let links: Vec<(Username, Username)> = self.links.iter().cloned().collect();
        for (a, b) in links {
            for (from, to) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
                for _ in 0..self.capacity {
                    let side = self.sides.get_mut(&from).unwrap();
                    let Some(next) = side.transfers.next_chunk(&to) else { break };
                    let key = Key::FileChunk { owner: side.me.clone(), file: FileKey::Out(next.id), index: next.index };
                    let bytes = record::chunk_bytes(&side.store[&key.to_string()]).unwrap();
                    let mut message = wire::encode_chunk(&next.id, next.index, &bytes);
                    if self.faults.tamper_chunk == Some(next.index) && !self.tampered {
                        self.tampered = true;
                        let last = message.len() - 1;
                        message[last] ^= 0x01;
                    }
                    *self.chunks_sent.entry((from.clone(), to.clone())).or_default() += 1;
                    self.wire.push_back((from.clone(), to.clone(), Msg::Chunk(message)));
                    progress = true;
                }
            }
        }
        progress
    }

    /// Delivers what is on the wire now.
    fn deliver(&mut self) -> bool {
        let mut batch: Vec<_> = self.wire.drain(..).collect();
        if self.faults.reorder {
            for i in (1..batch.len()).rev() {
                let j = (self.random() % (i as u64 + 1)) as usize;
                batch.swap(i, j);
            }
        }
        let progress = !batch.is_empty();
        for (from, to, msg) in batch {
            self.deliver_one(&from, &to, msg);
        }
        progress
    }

    /// Hands one message to `to` as the engine would, from `from`'s proved link.
    pub fn deliver_one(&mut self, from: &Username, to: &Username, msg: Msg) {
        let key = self.sides.get(from).map(Side::key);
        let side = self.sides.get_mut(to).unwrap();
        match msg {
            Msg::Frame(value) => {
                let peer = Peer { user: from, key: key.as_ref(), contact: side.contacts.contains(from) };
                let rooms = side.rooms.clone();
                side.transfers.frame(peer, &value, |room| rooms.contains(room));
            }
            Msg::Chunk(bytes) => side.transfers.chunk(from, &bytes),
        }
    }

    /// Runs until nothing moves (or `max_rounds`); returns the rounds taken.
    pub fn run(&mut self, max_rounds: usize) -> usize {
        for round in 0..max_rounds {
            let a = self.perform();
            let b = self.pull();
            let c = self.deliver();
            let d = self.perform();
            if !(a || b || c || d) {
                return round;
            }
        }
        max_rounds
    }

    /// Runs `rounds` rounds at most, stopping early only when idle.
    pub fn step(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.perform();
            self.pull();
            self.deliver();
            self.perform();
        }
    }
}

pub fn direct(a: &str, b: &str) -> RoomId {
    RoomId::direct(&user(a), &user(b))
}
