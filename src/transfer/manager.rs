//! [`Transfers`]: one user's files in both directions, and the limits on what peers can make it hold.
//!
//! The shell reports what happens (`link_up`, `link_down`, `frame`, `chunk`, `stored`) and what the user
//! does (`send`, `accept`, `decline`, `cancel`); each queues [`Output`]s the shell drains with
//! [`Transfers::poll_output`] and performs in order. Frames come with the [`Peer`] whose proved link they
//! arrived on: a frame naming another author is refused (files are never relayed), and with the peer's
//! key known every frame must carry its valid signature.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::hash::HashState;
use super::incoming::{Incoming, Pace};
use super::outgoing::Outgoing;
use super::output::Emitter;
pub use super::output::{Output, TransferEvent};
use super::record::{FileIndex, FileKey, IncomingRecord, IncomingState, OutgoingRecord, RECORD_VERSION};
use super::wire::{self, FileFrame, Offer, Refusal};
use super::{CHUNK_BYTES, DEFAULT_MAX_FILE_BYTES, DropReason, HARD_MAX_FILE_BYTES, Party, TransferError, TransferId};
use crate::account::Username;
use crate::chat::ids::RoomId;
use crate::identity::{Identity, PublicKey};
use crate::time::Millis;

/// What peers can make us hold, and how chunks are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest file we accept (Settings; [`DEFAULT_MAX_FILE_BYTES`] unless changed).
    pub max_file_bytes: u64,
    /// Chunks a sender may have in flight beyond the last acknowledgement, per transfer.
    pub window_chunks: u32,
    /// Chunks in flight to one peer over all transfers to it: what one link queues for files stays below
    /// the channel's high water (`send_queue`'s 8 MiB), so chat frames never wait behind much of a file.
    pub link_window_chunks: u32,
    /// We acknowledge every this many stored chunks (and the last).
    pub ack_every: u32,
    /// Offers waiting for "Accept", from one person and from everyone.
    pub max_waiting_per_peer: usize,
    pub max_waiting: usize,
    /// Files being received, from one person and from everyone.
    pub max_active_per_peer: usize,
    pub max_active: usize,
    /// Bytes of chunks held because they arrived ahead of the next one, over all transfers.
    pub max_held_bytes: usize,
    /// How often one recipient may make us send again from an earlier chunk, per link.
    pub max_rewinds: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            // 32 chunks of 64 KiB: 2 MiB in flight, several round trips' worth at loopback speeds.
            window_chunks: 32,
            link_window_chunks: 64,
            ack_every: 4,
            max_waiting_per_peer: 8,
            max_waiting: 32,
            max_active_per_peer: 4,
            max_active: 16,
            max_held_bytes: 8 * 1024 * 1024,
            max_rewinds: 16,
        }
    }
}

/// Who a frame or chunk came from: the user its proved link belongs to, their pinned key (none when the
/// user allowed the link unverified), and whether they are a contact (else their files wait for "Accept").
#[derive(Clone, Copy, Debug)]
pub struct Peer<'a> {
    pub user: &'a Username,
    pub key: Option<&'a PublicKey>,
    pub contact: bool,
}

/// A file the user sends: its bytes are stored by the shell (our own chunks), its manifest is here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    /// From 16 random bytes of the shell's ([`TransferId::from_random`]).
    pub id: TransferId,
    pub room: RoomId,
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub timestamp: Millis,
}

/// The next chunk to send to a peer: read it from our stored chunks and send [`wire::encode_chunk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkToSend {
    pub id: TransferId,
    pub index: u32,
}

pub struct Transfers {
    me: Username,
    identity: Identity,
    limits: Limits,
    /// Peers whose link is up and takes files.
    online: BTreeSet<Username>,
    incoming: BTreeMap<(Username, TransferId), Incoming>,
    outgoing: BTreeMap<TransferId, Outgoing>,
    /// Where each peer's round of chunks stands (the transfer served last), so transfers share a link.
    turn: BTreeMap<Username, TransferId>,
    outputs: VecDeque<Output>,
}

impl Transfers {
    pub fn new(me: Username, identity: Identity, limits: Limits) -> Transfers {
        Transfers {
            me,
            identity,
            limits,
            online: BTreeSet::new(),
            incoming: BTreeMap::new(),
            outgoing: BTreeMap::new(),
            turn: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// From the stored records; every link is down.
    pub fn restore(
        me: Username,
        identity: Identity,
        limits: Limits,
        incoming: impl IntoIterator<Item = IncomingRecord>,
        outgoing: impl IntoIterator<Item = OutgoingRecord>,
    ) -> Transfers {
        let mut transfers = Transfers::new(me, identity, limits);
        for record in incoming {
            let key = (record.offer.from.clone(), record.offer.id);
            transfers.incoming.insert(key, Incoming::new(record));
        }
        for record in outgoing {
            transfers.outgoing.insert(record.offer.id, Outgoing::restore(record));
        }
        transfers
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Settings changed the largest accepted file.
    pub fn set_max_file_bytes(&mut self, bytes: u64) {
        self.limits.max_file_bytes = bytes.min(HARD_MAX_FILE_BYTES);
    }

    fn pace(&self) -> Pace {
        Pace { window_chunks: self.limits.window_chunks, ack_every: self.limits.ack_every }
    }

    // -----------------------------------------------------------------------------------------------------
    // Queries, for the view.

    pub fn incoming(&self, from: &Username, id: TransferId) -> Option<&IncomingRecord> {
        self.incoming.get(&(from.clone(), id)).map(|it| &it.record)
    }

    pub fn incoming_records(&self) -> impl Iterator<Item = &IncomingRecord> {
        self.incoming.values().map(|it| &it.record)
    }

    pub fn outgoing(&self, id: TransferId) -> Option<OutgoingRecord> {
        self.outgoing.get(&id).map(Outgoing::record)
    }

    pub fn outgoing_ids(&self) -> impl Iterator<Item = TransferId> + '_ {
        self.outgoing.keys().copied()
    }

    /// Every transfer with a record, as [`Output::StoreIndex`] stores it.
    pub fn index(&self) -> FileIndex {
        let incoming = self.incoming.values().map(|it| it.record.key());
        let outgoing = self.outgoing.keys().map(|id| FileKey::Out(*id));
        FileIndex { v: RECORD_VERSION, files: incoming.chain(outgoing).collect() }
    }

    /// Bytes of chunks held out of order now (bounded by [`Limits::max_held_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.incoming.values().map(|it| it.held_bytes).sum()
    }

    // -----------------------------------------------------------------------------------------------------
    // The user.

    /// Sends a file to `recipients` (a direct room's other member, or a group's other members). The shell
    /// has stored its chunks under `FileKey::Out(id)`. Recipients offline get it when they are back.
    pub fn send(&mut self, file: NewFile, recipients: impl IntoIterator<Item = Username>) -> Result<(), TransferError> {
        if file.size > HARD_MAX_FILE_BYTES {
            return Err(TransferError::TooBig { size: file.size, limit: HARD_MAX_FILE_BYTES });
        }
        let name = super::clean_file_name(&file.name).ok_or(TransferError::BadName)?;
        let recipients: BTreeSet<Username> = recipients.into_iter().filter(|it| *it != self.me).collect();
        if recipients.is_empty() {
            return Err(TransferError::NoRecipients);
        }
        if self.outgoing.contains_key(&file.id) {
            return Err(TransferError::DuplicateId);
        }
        let mime = if wire::valid_mime(&file.mime) { file.mime } else { "application/octet-stream".to_owned() };
        let offer = Offer {
            id: file.id,
            room: file.room,
            from: self.me.clone(),
            name,
            mime,
            size: file.size,
            sha256: file.sha256,
            chunk: CHUNK_BYTES,
            timestamp: file.timestamp,
            sig: None,
        };
        let offer = offer.signed(&self.identity);
        let mut outgoing = Outgoing::new(offer, recipients.iter().cloned());
        let mut index = self.index();
        index.files.insert(FileKey::Out(file.id));
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        out.push(Output::StoreIndex(index));
        out.push(Output::StoreOutgoing(outgoing.record()));
        for user in recipients.iter().filter(|it| self.online.contains(*it)) {
            outgoing.link_up(user, &mut out);
        }
        self.outgoing.insert(file.id, outgoing);
        Ok(())
    }

    /// The user accepts a file that waits for "Accept".
    pub fn accept(&mut self, from: &Username, id: TransferId) -> Result<(), TransferError> {
        let key = (from.clone(), id);
        let waiting = self.incoming.get(&key).ok_or(TransferError::UnknownTransfer)?;
        if !waiting.is_waiting() {
            return Err(TransferError::NotWaiting);
        }
        let active = self.incoming.values().filter(|it| it.is_active()).count();
        let active_from = self.incoming.iter().filter(|((user, _), it)| user == from && it.is_active()).count();
        let busy = active >= self.limits.max_active || active_from >= self.limits.max_active_per_peer;
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        let Some(incoming) = self.incoming.get_mut(&key) else { return Err(TransferError::UnknownTransfer) };
        if busy {
            // Too many under way: it goes on waiting; the user can try again when one finishes.
            return Err(TransferError::Busy);
        }
        if self.online.contains(from) {
            incoming.accept(&mut out);
        } else {
            // Accepted while the author is offline: asked for when their link is back (their offer again).
            incoming.record.state = IncomingState::Receiving;
            out.push(Output::StoreIncoming(incoming.record.clone()));
        }
        Ok(())
    }

    /// The user declines a file that waits for "Accept".
    pub fn decline(&mut self, from: &Username, id: TransferId) -> Result<(), TransferError> {
        let incoming = self.incoming.get(&(from.clone(), id)).ok_or(TransferError::UnknownTransfer)?;
        if !incoming.is_waiting() {
            return Err(TransferError::NotWaiting);
        }
        self.end_incoming(from, id, Refusal::Declined);
        Ok(())
    }

    /// The user cancels a file they send (to everyone not done) or receive.
    pub fn cancel(&mut self, key: &FileKey) -> Result<(), TransferError> {
        match key {
            FileKey::Out(id) => {
                let online = self.online.clone();
                let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
                let outgoing = self.outgoing.get_mut(id).ok_or(TransferError::UnknownTransfer)?;
                outgoing.cancel(&|user| online.contains(user), &mut out);
                Ok(())
            }
            FileKey::In { from, id } => {
                let incoming = self.incoming.get(&(from.clone(), *id)).ok_or(TransferError::UnknownTransfer)?;
                if matches!(incoming.record.state, IncomingState::Complete | IncomingState::Ended { .. }) {
                    return Err(TransferError::NotWaiting);
                }
                self.end_incoming(from, *id, Refusal::Cancelled);
                Ok(())
            }
        }
    }

    fn end_incoming(&mut self, from: &Username, id: TransferId, reason: Refusal) {
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        if let Some(incoming) = self.incoming.get_mut(&(from.clone(), id)) {
            incoming.end(reason, Party::Us, &mut out);
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Links.

    /// A link to `user` that takes files is up (proved, and the peer announced [`super::CAPABILITY`]).
    pub fn link_up(&mut self, user: &Username) {
        self.online.insert(user.clone());
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        for outgoing in self.outgoing.values_mut() {
            outgoing.link_up(user, &mut out);
        }
    }

    pub fn link_down(&mut self, user: &Username) {
        self.online.remove(user);
        for outgoing in self.outgoing.values_mut() {
            outgoing.link_down(user);
        }
        for ((from, _), incoming) in &mut self.incoming {
            if from == user {
                incoming.link_down();
            }
        }
    }

    /// The next chunk to send to `user` while its channel has room, taking the transfers in turn.
    pub fn next_chunk(&mut self, user: &Username) -> Option<ChunkToSend> {
        if !self.online.contains(user) {
            return None;
        }
        let window = self.limits.window_chunks;
        let in_flight: u32 = self.outgoing.values().map(|it| it.in_flight(user)).sum();
        if in_flight >= self.limits.link_window_chunks {
            return None;
        }
        let after = self.turn.get(user).copied();
        let ids: Vec<TransferId> = self.outgoing.keys().copied().collect();
        let start = after.and_then(|it| ids.iter().position(|id| *id == it)).map_or(0, |it| it + 1);
        for offset in 0..ids.len() {
            let id = ids[(start + offset) % ids.len()];
            let outgoing = self.outgoing.get_mut(&id)?;
            if let Some(index) = outgoing.next_chunk(user, window) {
                self.turn.insert(user.clone(), id);
                return Some(ChunkToSend { id, index });
            }
        }
        None
    }

    // -----------------------------------------------------------------------------------------------------
    // Peers.

    /// A file frame (`wire::is_file_frame`) on `peer`'s link. `shares_room` says whether `peer` is a
    /// member of a room with us (an offer for any other room is refused).
    pub fn frame(&mut self, peer: Peer<'_>, value: &Value, shares_room: impl Fn(&RoomId) -> bool) {
        if let Err(reason) = self.try_frame(peer, value, shares_room) {
            self.outputs.push_back(Output::Dropped { from: peer.user.clone(), reason });
        }
    }

    fn try_frame(
        &mut self,
        peer: Peer<'_>,
        value: &Value,
        shares_room: impl Fn(&RoomId) -> bool,
    ) -> Result<(), DropReason> {
        let frame = wire::decode(value).map_err(|err| DropReason::Malformed(err.to_string()))?;
        if frame.author() != peer.user {
            return Err(DropReason::NotTheirs);
        }
        if let Some(key) = peer.key
            && !frame.verifies(key)
        {
            return Err(DropReason::BadSignature);
        }
        let max_rewinds = self.limits.max_rewinds;
        if let FileFrame::Offer(offer) = frame {
            return self.offered(peer, offer, &shares_room);
        }
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        match frame {
            FileFrame::Offer(_) => Ok(()),
            FileFrame::Accept { id, at, .. } => self.outgoing.get_mut(&id).ok_or(DropReason::Unsolicited)?.accepted(
                peer.user,
                at,
                max_rewinds,
                &mut out,
            ),
            FileFrame::Ack { id, n, .. } => {
                self.outgoing.get_mut(&id).ok_or(DropReason::Unsolicited)?.acked(peer.user, n, &mut out)
            }
            FileFrame::Cancel(cancel) => {
                // From a recipient of ours, or from the author of a file we receive.
                if let Some(outgoing) = self.outgoing.get_mut(&cancel.id)
                    && outgoing.has_recipient(peer.user)
                {
                    return outgoing.ended_by_recipient(peer.user, cancel.reason, &mut out);
                }
                let incoming = self.incoming.get_mut(&(peer.user.clone(), cancel.id)).ok_or(DropReason::Unsolicited)?;
                if matches!(incoming.record.state, IncomingState::Complete | IncomingState::Ended { .. }) {
                    return Err(DropReason::Unsolicited);
                }
                incoming.end(cancel.reason, Party::Them(peer.user.clone()), &mut out);
                Ok(())
            }
        }
    }

    fn offered(
        &mut self,
        peer: Peer<'_>,
        offer: Offer,
        shares_room: &dyn Fn(&RoomId) -> bool,
    ) -> Result<(), DropReason> {
        let from = peer.user.clone();
        let key = (from.clone(), offer.id);
        if let Some(known) = self.incoming.get_mut(&key) {
            if !known.record.offer.same_manifest(&offer) {
                return Err(DropReason::ConflictingOffer);
            }
            let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
            known.reoffered(&mut out);
            return Ok(());
        }
        if !shares_room(&offer.room) {
            return Err(DropReason::NotInRoom);
        }
        let refuse = |reason| {
            let refused = TransferEvent::Refused {
                from: from.clone(),
                room: offer.room.clone(),
                name: offer.name.clone(),
                size: offer.size,
                reason,
            };
            let cancel = wire::Cancel { id: offer.id, by: self.me.clone(), reason, sig: None };
            (refused, FileFrame::Cancel(cancel))
        };
        let of_peer = |it: &&Incoming| it.record.offer.from == from;
        let waiting = self.incoming.values().filter(|it| it.is_waiting()).count();
        let waiting_from = self.incoming.values().filter(|it| it.is_waiting()).filter(of_peer).count();
        let active = self.incoming.values().filter(|it| it.is_active()).count();
        let active_from = self.incoming.values().filter(|it| it.is_active()).filter(of_peer).count();
        let refusal = if offer.size > self.limits.max_file_bytes {
            Some(Refusal::TooBig { limit: self.limits.max_file_bytes })
        } else if peer.contact && (active >= self.limits.max_active || active_from >= self.limits.max_active_per_peer)
            || !peer.contact && (waiting >= self.limits.max_waiting || waiting_from >= self.limits.max_waiting_per_peer)
        {
            Some(Refusal::Busy)
        } else {
            None
        };
        if let Some(reason) = refusal {
            // Nothing is stored of a refused offer: a peer cannot fill our storage with refusals.
            let (event, cancel) = refuse(reason);
            let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
            out.event(event);
            out.send(&from, cancel);
            return Ok(());
        }
        let record = IncomingRecord {
            v: RECORD_VERSION,
            offer,
            state: IncomingState::AwaitingUser,
            stored: 0,
            hash: HashState::new(),
            verified: peer.key.is_some(),
        };
        let file_key = record.key();
        let mut index = self.index();
        index.files.insert(file_key.clone());
        let mut incoming = Incoming::new(record);
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        out.push(Output::StoreIndex(index));
        if peer.contact {
            incoming.accept(&mut out);
        } else {
            out.push(Output::StoreIncoming(incoming.record.clone()));
            out.event(TransferEvent::Offered { key: file_key });
        }
        self.incoming.insert(key, incoming);
        Ok(())
    }

    /// A binary message on `peer`'s link that [`wire::is_chunk`].
    pub fn chunk(&mut self, peer: &Username, message: &[u8]) {
        if let Err(reason) = self.try_chunk(peer, message) {
            self.outputs.push_back(Output::Dropped { from: peer.clone(), reason });
        }
    }

    fn try_chunk(&mut self, peer: &Username, message: &[u8]) -> Result<(), DropReason> {
        let chunk = wire::decode_chunk(message).map_err(|err| DropReason::Malformed(err.to_string()))?;
        let held = self.held_bytes();
        let budget = self.limits.max_held_bytes.saturating_sub(held);
        let pace = self.pace();
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        let incoming = self.incoming.get_mut(&(peer.clone(), chunk.id)).ok_or(DropReason::Unsolicited)?;
        incoming.chunk(chunk.index, chunk.bytes, pace, budget, &mut out)
    }

    /// The shell finished storing chunk `index` of `key` (an [`Output::StoreChunk`]).
    pub fn stored(&mut self, key: &FileKey, index: u32) {
        let FileKey::In { from, id } = key else { return };
        let pace = self.pace();
        let mut out = Emitter { me: &self.me, identity: &self.identity, queue: &mut self.outputs };
        if let Some(incoming) = self.incoming.get_mut(&(from.clone(), *id)) {
            incoming.stored(index, pace, &mut out);
        }
    }
}
