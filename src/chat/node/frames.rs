//! Frames from peers: checked, rate-limited, and dispatched.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{CATCHUP_MAX_MESSAGES, ChatEvent, ChatNode, DropReason, LinkKind, MAX_WANT_SEQS, Output, PendingServe};
use crate::account::Username;
use crate::chat::history::{self, DeliveryState, StoredMessage};
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::wire::{self, ChatFrame, Frame, RoomInfo, WireMessage};

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
                self.merge_legacy_peers(link_id, &peer_ids);
                Ok(())
            }
            Frame::Chat(chat) => self.chat_frame(link_id, &peer, chat),
            Frame::Ack { room, ids } => {
                for id in ids {
                    self.acknowledged(&room, &id, &peer);
                }
                Ok(())
            }
            Frame::Room(info) => self.room_frame(&peer, info),
            Frame::Sync { room, heads } => self.sync_frame(link_id, &peer, &room, &heads),
            Frame::Want { room, sender, seqs } => self.check_member(&room, &peer).map(|()| {
                let needed = [(sender, seqs.into_iter().take(MAX_WANT_SEQS).collect())].into();
                self.serve(PendingServe { link: link_id.clone(), room, needed });
            }),
            Frame::Batch { room, messages } => self.batch_frame(link_id, &peer, &room, messages),
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
                let room = self.room_for(&ours.room, peer)?;
                let message = StoredMessage {
                    id: ours.id,
                    room: room.clone(),
                    sender: chat.sender,
                    text: chat.text,
                    timestamp: chat.timestamp,
                    received_at: self.now,
                    seq: ours.seq,
                    state: None,
                };
                let mut acks = Vec::new();
                self.receive(message, Some(link_id), true, &mut acks);
                self.send_acks(link_id, &room, acks);
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
                let room = match self.links.get(link_id).and_then(|it| it.room.clone()) {
                    Some(room) => room,
                    None => self
                        .rooms
                        .ensure_direct(&self.me, peer)
                        .map(|(room, _)| room)
                        .map_err(|_| DropReason::SenderMismatch)?,
                };
                let message = StoredMessage {
                    id: MessageId::for_legacy(&chat.sender, chat.timestamp.0, &chat.text),
                    room,
                    sender: chat.sender,
                    text: chat.text,
                    timestamp: chat.timestamp,
                    received_at: self.now,
                    seq: 0,
                    state: None,
                };
                self.receive(message, None, true, &mut Vec::new());
            }
        }
        Ok(())
    }

    /// The room a frame names, if `peer` may speak in it. A direct room is created on first contact.
    fn room_for(&mut self, room: &RoomId, peer: &Username) -> Result<RoomId, DropReason> {
        if room.is_direct() {
            let (a, b) = room.direct_members().ok_or(DropReason::UnknownRoom)?;
            let is_ours = (a == self.me && &b == peer) || (&a == peer && b == self.me);
            if !is_ours {
                return Err(DropReason::NotAMember);
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

    fn check_member(&self, room: &RoomId, peer: &Username) -> Result<(), DropReason> {
        let record = self.rooms.get(room).ok_or(DropReason::UnknownRoom)?;
        if record.members.contains(peer) { Ok(()) } else { Err(DropReason::NotAMember) }
    }

    fn room_frame(&mut self, peer: &Username, info: RoomInfo) -> Result<(), DropReason> {
        // Whoever tells us about a room must be in it, and must count us in.
        if !info.members.contains(peer) || !info.members.contains(&self.me) {
            return Err(DropReason::NotAMember);
        }
        let is_new = self.rooms.get(&info.room).is_none();
        let added = self.rooms.merge_group(&info.room, &info.name, &info.members, &self.me);
        if is_new {
            // A newcomer starts from the room's present: history before it joined is not caught up.
            let history = self.histories.entry(info.room.clone()).or_default();
            for (sender, seq) in &info.since {
                history.meta.senders.entry(sender.clone()).or_default().contiguous = *seq;
            }
            let write = history::meta_write(&self.me, &info.room, &history.meta);
            self.stage_write(write);
        }
        if is_new || !added.is_empty() {
            self.write_rooms();
            self.event(ChatEvent::RoomsChanged);
        }
        self.rebind_legacy(&info.room, &added);
        // Whoever learns of new members tells every member, and connects to those it lacks: a full mesh.
        let told_us_everything = self.rooms.get(&info.room).is_some_and(|it| it.members == info.members);
        if !added.is_empty() || !told_us_everything {
            self.announce_room(&info.room);
        }
        let others: Vec<Username> =
            self.rooms.get(&info.room).map(|it| it.others(&self.me).cloned().collect()).unwrap_or_default();
        for member in others {
            if !self.links.values().any(|it| it.peer == member) {
                self.connect_now(&member, Some(info.room.clone()));
            }
        }
        if is_new {
            let links: Vec<LinkId> = self.ours_links_in(&info.room);
            for link in links {
                self.send_sync(&link, &info.room);
            }
        }
        Ok(())
    }

    fn sync_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        heads: &BTreeMap<Username, u64>,
    ) -> Result<(), DropReason> {
        let room = self.room_for(room, peer)?;
        let history = self.histories.entry(room.clone()).or_default();
        // Our own messages a peer holds that we lost (storage cleared): never reuse their seqs.
        if let Some(theirs) = heads.get(&self.me) {
            let mine = history.meta.senders.entry(self.me.clone()).or_default();
            if *theirs > mine.highest() {
                mine.contiguous = *theirs;
                mine.above.clear();
            }
        }
        let mut needed: BTreeMap<Username, BTreeSet<u64>> = BTreeMap::new();
        let mut n_needed = 0;
        for (sender, progress) in &history.meta.senders {
            let theirs = heads.get(sender).copied().unwrap_or(0);
            let from_contiguous = theirs.saturating_add(1)..=progress.contiguous;
            let seqs: BTreeSet<u64> = from_contiguous
                .chain(progress.above.iter().copied().filter(|it| *it > theirs))
                .take(CATCHUP_MAX_MESSAGES.saturating_sub(n_needed))
                .collect();
            n_needed += seqs.len();
            if !seqs.is_empty() {
                needed.insert(sender.clone(), seqs);
            }
        }
        if !needed.is_empty() {
            self.serve(PendingServe { link: link_id.clone(), room, needed });
        }
        Ok(())
    }

    fn batch_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        messages: Vec<WireMessage>,
    ) -> Result<(), DropReason> {
        let room = self.room_for(room, peer)?;
        let members = self.rooms.get(&room).map(|it| it.members.clone()).unwrap_or_default();
        let mut acks = Vec::new();
        let mut messages = messages;
        messages.sort_by(|a, b| (&a.sender, a.seq).cmp(&(&b.sender, b.seq)));
        for message in messages {
            if !members.contains(&message.sender) || message.seq == 0 {
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
            };
            self.receive(stored, Some(link_id), false, &mut acks);
        }
        self.send_acks(link_id, &room, acks);
        Ok(())
    }
}
