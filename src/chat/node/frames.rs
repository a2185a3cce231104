//! Frames from peers: checked, rate-limited, and dispatched.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{
    CATCHUP_MAX_MESSAGES, CATCHUP_PIECES_PER_LINK, ChatEvent, ChatNode, DropReason, LinkKind, MAX_PENDING_SERVES,
    MAX_WANT_SEQS, Output, PendingServe,
};
use crate::account::Username;
use crate::chat::history::{DeliveryState, StoredMessage};
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::wire::{self, ChatFrame, Frame, WireMessage};
use crate::time::Millis;

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Frames.

    pub(super) fn frame(&mut self, link_id: &LinkId, value: &Value) {
        let Some(link) = self.links.get_mut(link_id) else {
            self.event(ChatEvent::FrameDropped { peer_id: String::new(), reason: DropReason::UnknownLink });
            return;
        };
        link.last_heard = self.now;
        if !link.take_credit(self.now) {
            if !std::mem::replace(&mut link.rate_limited, true) {
                let peer_id = link.peer_id.clone();
                self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::RateLimited });
            }
            return;
        }
        link.rate_limited = false;
        let (peer, peer_id) = (link.peer.clone(), link.peer_id.clone());
        let frame = match wire::decode(value) {
            Ok(frame) => frame,
            Err(err) => {
                self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::Malformed(err) });
                return;
            }
        };
        let res = match frame {
            Frame::Hello(hello) => {
                if hello.user == peer {
                    if let Some(link) = self.links.get_mut(link_id) {
                        link.session = hello.session.or(link.session);
                        link.files = hello.capabilities.iter().any(|it| it == crate::transfer::CAPABILITY);
                        link.pulls = hello.capabilities.iter().any(|it| it == wire::PULL_CAPABILITY);
                    }
                    // Answer a first hello, and a second one on a link already greeted (the peer restarted
                    // and lost it). A restarted peer has sent its hello already and does not answer ours,
                    // so this never loops.
                    let link = &self.links[link_id];
                    if !link.hello_sent || link.kind == LinkKind::Ours {
                        self.send_hello(link_id);
                    }
                    self.become_ready(link_id, LinkKind::Ours);
                    Ok(())
                } else {
                    Err(DropReason::SenderMismatch)
                }
            }
            Frame::Ping { n } => {
                self.output(Output::Send { link: link_id.clone(), frame: wire::encode(&Frame::Pong { n }) });
                Ok(())
            }
            Frame::Pong { .. } => Ok(()),
            Frame::Connections { peer_ids } => {
                // Only the original page sends this.
                let link = &self.links[link_id];
                if link.kind == LinkKind::Unknown && !link.dialer_is_ours {
                    self.become_ready(link_id, LinkKind::Legacy);
                }
                // A list from anyone but a legacy member of the link's group is advice we do not take.
                if self.merge_legacy_peers(link_id, &peer_ids) || peer_ids.is_empty() {
                    Ok(())
                } else {
                    Err(DropReason::NotAMember)
                }
            }
            Frame::Chat(chat) => self.chat_frame(link_id, &peer, chat),
            Frame::Ack { room, ids } => {
                for id in ids {
                    self.acknowledged(&room, &id, &peer);
                }
                Ok(())
            }
            Frame::Room(info) if self.answer_left(&peer, &info.room) => Ok(()),
            Frame::Room(info) => self.room_frame(&peer, info),
            Frame::Sync { room, .. } if self.answer_left(&peer, &room) => Ok(()),
            Frame::Sync { room, heads } => self.sync_frame(link_id, &peer, &room, &heads),
            Frame::Want { room, sender, seqs } => self.check_member(&room, &peer).and_then(|()| {
                let floor = self.served_floor(&room, &peer, &sender);
                let seqs = seqs.into_iter().filter(|it| *it > floor).take(MAX_WANT_SEQS).collect();
                let needed = [(sender, seqs)].into();
                self.start_serve(PendingServe { link: link_id.clone(), room, needed, piece: false })
            }),
            Frame::Batch { room, messages, pull } => self.batch_frame(link_id, &peer, &room, messages, pull),
            Frame::Typing { room } => self.typing_frame(&peer, &room),
            Frame::Read { room, id } => self.read_frame(&peer, &room, &id),
            Frame::Leave(leave) => self.leave_frame(&peer, leave),
        };
        if let Err(reason) = res {
            self.event(ChatEvent::FrameDropped { peer_id, reason });
        }
    }

    fn chat_frame(&mut self, link_id: &LinkId, peer: &Username, chat: ChatFrame) -> Result<(), DropReason> {
        if &chat.sender != peer {
            return Err(DropReason::SenderMismatch);
        }
        match chat.ours {
            Some(ours) => {
                // A stranger's first messages wait as a request; everything else goes to the room it names.
                let in_request = self.is_direct_with(&ours.room, peer) && self.needs_request(peer);
                let room = if in_request { ours.room.clone() } else { self.room_for(&ours.room, peer)? };
                let message = self.incoming(ours.id, room.clone(), chat.sender, chat.text, chat.timestamp, ours.seq);
                let message = StoredMessage { act: ours.act, ..message };
                if in_request {
                    self.request_message(peer, message, ours.sig)?;
                } else {
                    let mut acks = Vec::new();
                    let res = self.admit(message, ours.sig, link_id, false, true, &mut acks);
                    self.send_acks(link_id, &room, acks);
                    res?;
                }
            }
            None => {
                // A multichat dialer sends the original shape only while it takes us for the original page
                // (our hello reached it late). Such a message has no id or seq, so storing it would store
                // it twice once the proper copy arrives: drop it; catch-up delivers it after the hellos.
                if self.links[link_id].dialer_is_ours {
                    return Err(DropReason::OriginalShapeFromOurs);
                }
                // A chat in the original shape proves an original peer.
                if self.links[link_id].kind == LinkKind::Unknown {
                    self.become_ready(link_id, LinkKind::Legacy);
                }
                let bound = self.links.get(link_id).and_then(|it| it.room.clone());
                // Skipping our protocol does not skip the request: a stranger's page waits like anyone.
                let in_request = bound.is_none() && self.needs_request(peer);
                let room = match bound {
                    Some(room) => room,
                    None if in_request => RoomId::direct(&self.me, peer),
                    None => self
                        .rooms
                        .ensure_direct(&self.me, peer)
                        .map(|(room, _)| room)
                        .map_err(|_| DropReason::SenderMismatch)?,
                };
                let id = MessageId::for_legacy(&chat.sender, chat.timestamp.0, &chat.text);
                let message = self.incoming(id, room, chat.sender, chat.text, chat.timestamp, 0);
                if in_request {
                    return self.request_message(peer, message, None);
                }
                self.receive(message, None, true, &mut Vec::new());
            }
        }
        Ok(())
    }

    /// A message as it arrived, before its signature is checked (received now, not yet acted on).
    fn incoming(
        &self,
        id: MessageId,
        room: RoomId,
        sender: Username,
        text: String,
        timestamp: Millis,
        seq: u64,
    ) -> StoredMessage {
        StoredMessage {
            id,
            room,
            sender,
            text,
            timestamp,
            received_at: self.now,
            seq,
            state: None,
            signature: None,
            act: None,
            deleted: false,
        }
    }

    /// The room a frame names, if `peer` may speak in it. A direct room is created on first contact.
    fn room_for(&mut self, room: &RoomId, peer: &Username) -> Result<RoomId, DropReason> {
        if room.is_direct() {
            if !self.is_direct_with(room, peer) {
                return Err(DropReason::NotAMember);
            }
            // A stranger's catch-up or batch opens no conversation; only the user's Accept of its request does.
            if self.needs_request(peer) {
                return Err(DropReason::NoConversation);
            }
            if let Ok((_, true)) = self.rooms.ensure_direct(&self.me, peer) {
                self.write_rooms();
                self.event(ChatEvent::RoomsChanged);
            }
            return Ok(room.clone());
        }
        self.check_member(room, peer)?;
        Ok(room.clone())
    }

    /// True when `room` is the direct room of us and `peer`.
    fn is_direct_with(&self, room: &RoomId, peer: &Username) -> bool {
        room.direct_members().is_some_and(|(a, b)| (a == self.me && &b == peer) || (&a == peer && b == self.me))
    }

    pub(super) fn check_member(&self, room: &RoomId, peer: &Username) -> Result<(), DropReason> {
        let record = self.rooms.get(room).ok_or(DropReason::UnknownRoom)?;
        if record.members.contains(peer) { Ok(()) } else { Err(DropReason::NotAMember) }
    }

    fn sync_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        heads: &BTreeMap<Username, u64>,
    ) -> Result<(), DropReason> {
        let new_room = self.rooms.get(room).is_none();
        let room = self.room_for(room, peer)?;
        // A direct room made by the peer's `mc.sync` (we had not chatted yet): ask for its history too, or
        // only the peer's outbox would bring it.
        if new_room {
            self.send_sync(link_id, &room);
        }
        let Some(link) = self.links.get_mut(link_id) else { return Ok(()) };
        // A pulling peer's `mc.sync` answers the room's last piece (or asks afresh): its slot is free. With
        // every slot taken by other rooms, the request waits for one.
        let piece = link.pulls;
        if piece {
            link.pieces_out.remove(&room);
            if link.pieces_out.len() >= CATCHUP_PIECES_PER_LINK {
                link.deferred_syncs.insert(room, heads.clone());
                return Ok(());
            }
        }
        let link = &self.links[link_id];
        // A peer's heads say what it holds; what it says of our own messages is never believed (a head of
        // 2^64-1 would make every later message of ours look old). Our seqs come only from our storage and
        // from our own messages relayed back to us, signed by us.
        let floors: BTreeMap<Username, u64> = self
            .histories
            .get(&room)
            .map(|it| {
                it.meta.senders.keys().map(|sender| (sender.clone(), self.served_floor(&room, peer, sender))).collect()
            })
            .unwrap_or_default();
        let history = self.histories.entry(room.clone()).or_default();
        let mut needed: BTreeMap<Username, BTreeSet<u64>> = BTreeMap::new();
        let mut n_needed = 0;
        for (sender, progress) in &history.meta.senders {
            // Never more than asked, never from before the peer joined, and never what this link was
            // served already (so the cap is counted on what can still be sent).
            let theirs = heads.get(sender).copied().unwrap_or(0).max(floors.get(sender).copied().unwrap_or(0));
            let served = link.served.get(&(room.clone(), sender.clone()));
            let from_contiguous = theirs.saturating_add(1)..=progress.contiguous;
            let seqs: BTreeSet<u64> = from_contiguous
                .chain(progress.above.iter().copied().filter(|it| *it > theirs))
                .filter(|it| served.is_none_or(|served| !served.has(*it)))
                .take(CATCHUP_MAX_MESSAGES.saturating_sub(n_needed))
                .collect();
            n_needed += seqs.len();
            if !seqs.is_empty() {
                needed.insert(sender.clone(), seqs);
            }
        }
        if needed.is_empty() {
            if piece {
                self.serve_deferred(link_id);
            }
            return Ok(());
        }
        if piece && let Some(link) = self.links.get_mut(link_id) {
            link.pieces_out.insert(room.clone());
        }
        let res = self.start_serve(PendingServe { link: link_id.clone(), room: room.clone(), needed, piece });
        if let (Err(DropReason::TooManyPending(_)), Some(link)) = (&res, self.links.get_mut(link_id)) {
            link.pieces_out.remove(&room);
        }
        res
    }

    /// Serves rooms whose `mc.sync` waited for a slot on this link, while slots are free.
    pub(super) fn serve_deferred(&mut self, link_id: &LinkId) {
        loop {
            let Some(link) = self.links.get_mut(link_id) else { return };
            if link.pieces_out.len() >= CATCHUP_PIECES_PER_LINK {
                return;
            }
            let Some((room, heads)) = link.deferred_syncs.pop_first() else { return };
            let (peer, peer_id) = (link.peer.clone(), link.peer_id.clone());
            if let Err(reason) = self.sync_frame(link_id, &peer, &room, &heads) {
                self.event(ChatEvent::FrameDropped { peer_id, reason });
            }
        }
    }

    /// One catch-up at a time per (link, room), and a bounded number waiting for pages over all links.
    fn start_serve(&mut self, pending: PendingServe) -> Result<(), DropReason> {
        if self.pending_serves.iter().any(|it| it.link == pending.link && it.room == pending.room) {
            return Err(DropReason::CatchUpPending);
        }
        if self.pending_serves.len() >= MAX_PENDING_SERVES {
            return Err(DropReason::TooManyPending("catch-up requests"));
        }
        self.serve(pending);
        Ok(())
    }

    fn batch_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        messages: Vec<WireMessage>,
        pull: bool,
    ) -> Result<(), DropReason> {
        let room = self.room_for(room, peer)?;
        let members = self.rooms.get(&room).map(|it| it.members.clone()).unwrap_or_default();
        let mut acks = Vec::new();
        let mut messages = messages;
        messages.sort_by(|a, b| (&a.sender, a.seq).cmp(&(&b.sender, b.seq)));
        let mut refused = None;
        for message in messages {
            if !members.contains(&message.sender) || message.seq == 0 {
                refused.get_or_insert(DropReason::NotAMember);
                continue;
            }
            let state = (message.sender == self.me).then_some(DeliveryState::Delivered);
            let stored = StoredMessage {
                id: message.id,
                room: room.clone(),
                sender: message.sender,
                text: message.text,
                timestamp: message.timestamp,
                received_at: self.now,
                seq: message.seq,
                state,
                signature: None,
                act: message.act,
                deleted: false,
            };
            let relayed = &stored.sender != peer;
            if let Err(reason) = self.admit(stored, message.sig, link_id, relayed, false, &mut acks) {
                refused.get_or_insert(reason);
            }
        }
        self.send_acks(link_id, &room, acks);
        // The last batch of a piece: ask for the next (our heads now count what it brought; what it brought
        // that we refused is not sent again, so the serving peer moves on).
        if pull {
            self.send_sync(link_id, &room);
        }
        // One report per batch, however many of its messages were refused.
        refused.map_or(Ok(()), Err)
    }
}
