//! Sending our messages and storing, ordering, acknowledging and de-duplicating incoming ones.

use std::collections::BTreeSet;

use super::{
    ChatError, ChatEvent, ChatNode, DropReason, Held, LinkKind, MAX_HELD, MAX_LOADED_PAGES, MAX_SEQ_AHEAD,
    MAX_WANT_SEQS, Output, legacy_chat,
};
use crate::account::Username;
use crate::chat::actions::Action;
use crate::chat::history::{self, DeliveryState, OutboxEntry, SenderProgress, StoredMessage};
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::room::RoomError;
use crate::chat::wire::{self, ChatExtras, ChatFrame, Frame};

impl ChatNode {
    /// Sends a message of ours, plain (`act` `None`) or acting on another (see [`crate::chat::actions`]).
    pub(super) fn send_message(
        &mut self,
        room: &RoomId,
        text: String,
        act: Option<Action>,
        random: [u8; 16],
    ) -> Result<(), ChatError> {
        let record = self.rooms.get(room).ok_or(RoomError::UnknownRoom)?.clone();
        if record.left {
            return Err(ChatError::LeftGroup);
        }
        if text.trim().is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        if text.len() > wire::MAX_TEXT_BYTES {
            return Err(ChatError::MessageTooLong);
        }
        let id = MessageId::from_random(random);
        let history = self.histories.entry(room.clone()).or_default();
        let seq = history.meta.senders.get(&self.me).map_or(0, SenderProgress::highest).saturating_add(1);
        let sig = self.sign_message(room, &id, seq, &text, self.now, act.as_ref());
        let frame = Frame::Chat(ChatFrame {
            sender: self.me.clone(),
            text: text.clone(),
            timestamp: self.now,
            ours: Some(ChatExtras { id: id.clone(), seq, room: room.clone(), sig, act: act.clone() }),
        });
        // The original page would show a reaction, edit or delete as a chat: it is never sent one (a reply
        // goes as its text alone, in the original shape).
        let for_legacy = act.as_ref().is_none_or(Action::is_shown);
        let encoded = wire::encode(&frame);
        if wire::encoded_len(&encoded) > wire::MAX_FRAME_BYTES {
            return Err(ChatError::MessageTooLong);
        }
        let mut waiting: BTreeSet<Username> = record.others(&self.me).cloned().collect();
        // Hand it to every connected recipient now; a legacy peer cannot acknowledge, so handing it over
        // is delivery.
        let mut sends = Vec::new();
        for member in waiting.clone() {
            match self.ready_link(&member) {
                Some((link, LinkKind::Ours)) => {
                    sends.push(Output::Send { link, frame: encoded.clone() });
                    self.last_sent.insert((id.clone(), member), self.now);
                }
                Some((link, LinkKind::Legacy)) => {
                    if for_legacy {
                        sends.push(Output::Send { link, frame: legacy_chat(&self.me, &text, self.now) });
                    }
                    waiting.remove(&member);
                }
                _ => {}
            }
        }
        let state = if waiting.is_empty() { DeliveryState::Delivered } else { DeliveryState::Sending };
        let message = StoredMessage {
            id: id.clone(),
            room: room.clone(),
            sender: self.me.clone(),
            text,
            timestamp: self.now,
            received_at: self.now,
            seq,
            state: Some(state),
            signature: sig,
            act,
            deleted: false,
        };
        let history = self.histories.entry(room.clone()).or_default();
        history.meta.senders.entry(self.me.clone()).or_default().record(seq);
        // The outbox entry goes into the meta before the append writes it, so one meta write has both.
        let page = if history.meta.page_count == 0 || history.meta.last_page_len as usize >= history::PAGE_SIZE {
            history.meta.page_count
        } else {
            history.meta.page_count - 1
        };
        if !waiting.is_empty() {
            history.meta.outbox.push(OutboxEntry { id: id.clone(), seq, page, waiting, sent_at: self.now });
        }
        self.append(message);
        self.event(ChatEvent::MessageStored { room: room.clone(), id, incoming: false });
        for send in sends {
            self.output(send);
        }
        // Its arrival ends "… is typing" on the other side, so the next keystroke says so again at once
        // rather than after the once-a-second limit.
        self.typing_sent.remove(room);
        if room.is_direct() {
            self.merge_held_gossip(room);
        }
        Ok(())
    }

    /// Stores an incoming message unless it is a duplicate, holding it back behind a gap in its sender's
    /// sequence. Ids to acknowledge (stored or already held) are pushed to `acks`.
    pub(super) fn receive(
        &mut self,
        message: StoredMessage,
        ack_link: Option<&LinkId>,
        live: bool,
        acks: &mut Vec<MessageId>,
    ) {
        let room = message.room.clone();
        let history = self.histories.entry(room.clone()).or_default();
        if message.seq == 0 {
            if history.find(&message.id).is_none() {
                self.store(message);
            }
            return;
        }
        if history.holds(&message.sender, message.seq) {
            acks.push(message.id);
            return;
        }
        let contiguous = history.meta.senders.get(&message.sender).map_or(0, |it| it.contiguous);
        let key = (room.clone(), message.sender.clone());
        if message.seq > contiguous.saturating_add(MAX_SEQ_AHEAD) {
            self.drop_from(ack_link, DropReason::SeqTooFar);
            return;
        }
        if message.seq > contiguous.saturating_add(1) {
            let n_held: usize = self.held.values().map(|it| it.len()).sum();
            let held = self.held.entry(key).or_default();
            if held.contains_key(&message.seq) {
                return;
            }
            if n_held >= MAX_HELD {
                self.drop_from(ack_link, DropReason::TooManyPending("messages held behind a gap"));
                return;
            }
            let (sender, seq) = (message.sender.clone(), message.seq);
            held.insert(seq, Held { message, ack_link: ack_link.cloned(), since: self.now });
            if let (true, Some(link)) = (live, ack_link) {
                let history = &self.histories[&room];
                let held = &self.held[&(room.clone(), sender.clone())];
                let missing: Vec<u64> = (contiguous.saturating_add(1)..seq)
                    .filter(|it| !history.holds(&sender, *it) && !held.contains_key(it))
                    .take(MAX_WANT_SEQS)
                    .collect();
                if !missing.is_empty() {
                    let frame = wire::encode(&Frame::Want { room: room.clone(), sender, seqs: missing });
                    self.output(Output::Send { link: link.clone(), frame });
                }
            }
            return;
        }
        acks.push(message.id.clone());
        self.store(message);
        self.release_held(&key, false);
    }

    fn drop_from(&mut self, link: Option<&LinkId>, reason: DropReason) {
        let peer_id = link.and_then(|it| self.links.get(it)).map(|it| it.peer_id.clone()).unwrap_or_default();
        self.event(ChatEvent::FrameDropped { peer_id, reason });
    }

    /// Stores held messages that are next in line (or all of them when `force`), acknowledging each.
    pub(super) fn release_held(&mut self, key: &(RoomId, Username), force: bool) {
        loop {
            let contiguous =
                self.histories.get(&key.0).and_then(|it| it.meta.senders.get(&key.1)).map_or(0, |it| it.contiguous);
            let Some(held) = self.held.get_mut(key) else { return };
            let Some((&seq, _)) = held.iter().next() else {
                self.held.remove(key);
                return;
            };
            if !force && seq != contiguous.saturating_add(1) {
                return;
            }
            let held = held.remove(&seq).expect("the first held entry was just seen");
            let duplicate = self.histories.get(&key.0).is_some_and(|it| it.holds(&key.1, seq));
            let id = held.message.id.clone();
            if !duplicate {
                self.store(held.message);
            }
            if let Some(link) = held.ack_link.filter(|it| self.links.contains_key(it)) {
                self.send_acks(&link, &key.0, vec![id]);
            }
        }
    }

    fn store(&mut self, message: StoredMessage) {
        let room = message.room.clone();
        let (id, incoming) = (message.id.clone(), message.sender != self.me);
        let history = self.histories.entry(room.clone()).or_default();
        if message.seq > 0 {
            history.meta.senders.entry(message.sender.clone()).or_default().record(message.seq);
        }
        if incoming {
            history.meta.unread = history.meta.unread.saturating_add(1);
        }
        let sender = message.sender.clone();
        self.append(message);
        if incoming {
            self.stop_typing(&room, &sender);
        }
        self.event(ChatEvent::MessageStored { room, id, incoming });
    }

    fn append(&mut self, message: StoredMessage) {
        let room = message.room.clone();
        let history = self.histories.entry(room.clone()).or_default();
        let appended = history::append(&self.me, history, message);
        for write in appended.writes {
            self.stage_write(write);
        }
        if appended.new_page {
            if let Some(record) = self.rooms.get_mut(&room) {
                record.pages_hint = appended.page;
                self.write_rooms();
            }
        }
        let history = self.histories.get_mut(&room).expect("the room's history was just appended to");
        if history.pages.len() > MAX_LOADED_PAGES && !self.pending_serves.iter().any(|it| it.room == room) {
            history::trim(history);
        }
    }

    pub(super) fn send_acks(&mut self, link: &LinkId, room: &RoomId, ids: Vec<MessageId>) {
        // Acks go after this step's writes (see `finish_step`), so they never precede the storing.
        for chunk in ids.chunks(wire::MAX_LIST_LEN) {
            let frame = wire::encode(&Frame::Ack { room: room.clone(), ids: chunk.to_vec() });
            self.output(Output::Send { link: link.clone(), frame });
        }
    }

    /// `peer` has stored our message `id`.
    pub(super) fn acknowledged(&mut self, room: &RoomId, id: &MessageId, peer: &Username) {
        let Some(history) = self.histories.get_mut(room) else { return };
        let Some(index) = history.meta.outbox.iter().position(|it| &it.id == id) else { return };
        let entry = &mut history.meta.outbox[index];
        if !entry.waiting.remove(peer) {
            return;
        }
        self.last_sent.remove(&(id.clone(), peer.clone()));
        if entry.waiting.is_empty() {
            history.meta.outbox.remove(index);
            if let Some(write) = history::set_state(&self.me, room, history, id, DeliveryState::Delivered) {
                self.stage_write(write);
            }
            self.event(ChatEvent::MessagesChanged { room: room.clone() });
        }
        let write = history::meta_write(&self.me, room, &self.histories[room].meta);
        self.stage_write(write);
    }
}
