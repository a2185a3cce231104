//! Replies, reactions, edits and deletes (sent as messages of ours that act on another, see
//! `crate::chat::actions`), and what is not stored: typing indicators and read receipts.

use super::{ChatError, ChatEvent, ChatNode, DropReason, Output, TYPING_EVERY_MS, TYPING_SHOWN_MS};
use crate::account::Username;
use crate::chat::actions::{self, Action, DELETE_TEXT};
use crate::chat::fold;
use crate::chat::history::{self, StoredMessage};
use crate::chat::ids::{MessageId, RoomId};
use crate::chat::room::RoomError;
use crate::chat::wire::{self, Frame};

/// What the user does to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActOn {
    Reply {
        text: String,
    },
    /// Adds the emoji, or takes it back if the user has it on the message already.
    React {
        emoji: String,
    },
    Edit {
        text: String,
    },
    Delete,
}

impl ChatNode {
    /// The user acts on the message `to` of `room`.
    pub(super) fn act_on(
        &mut self,
        room: &RoomId,
        to: &MessageId,
        what: ActOn,
        random: [u8; 16],
    ) -> Result<(), ChatError> {
        let history = self.histories.get(room).ok_or(RoomError::UnknownRoom)?;
        let target = history.find(to).map(|(_, it)| it.clone()).ok_or(ChatError::NoSuchMessage)?;
        if target.deleted || target.act.as_ref().is_some_and(|it| !it.is_shown()) {
            return Err(ChatError::NoSuchMessage);
        }
        let mine = target.sender == self.me;
        let (text, act) = match what {
            ActOn::Reply { text } => {
                let quote = actions::excerpt(&self.current_text(room, &target));
                (text, Action::Reply { to: to.clone(), author: target.sender.clone(), quote })
            }
            ActOn::React { emoji } => {
                let emoji = emoji.trim().to_owned();
                if !actions::is_reaction(&emoji) {
                    return Err(ChatError::NotAReaction);
                }
                let loaded = self.messages(room);
                let on = !fold::has_reacted(&loaded, to, &self.me, &emoji);
                (emoji, Action::React { to: to.clone(), on })
            }
            ActOn::Edit { text } if mine => (text, Action::Edit { to: to.clone() }),
            ActOn::Delete if mine => (DELETE_TEXT.to_owned(), Action::Delete { to: to.clone(), seq: target.seq }),
            ActOn::Edit { .. } | ActOn::Delete => return Err(ChatError::NotYours),
        };
        if let Action::Delete { .. } = &act {
            // Our copy becomes the tombstone at once; the delete tells everyone else, and our message is
            // not re-sent any more (the delete fills its slot at whoever lacks it).
            let me = self.me.clone();
            self.erase(room, to, &me);
            if let Some(history) = self.histories.get_mut(room) {
                history.meta.outbox.retain(|it| &it.id != to);
            }
        }
        self.send_message(room, text, Some(act), random)
    }

    /// The text a message shows now (its latest edit).
    fn current_text(&self, room: &RoomId, target: &StoredMessage) -> String {
        let loaded = self.messages(room);
        fold::fold(&loaded)
            .into_iter()
            .find(|it| it.message.id == target.id)
            .map_or_else(|| target.text.clone(), |it| it.text)
    }

    /// Refuses an edit or delete of a message by someone else than its author (as far as we hold the
    /// target), and a delete naming another message's slot.
    pub(super) fn check_action(&self, message: &StoredMessage) -> Result<(), DropReason> {
        let Some(act) = &message.act else { return Ok(()) };
        if !act.needs_authorship() {
            return Ok(());
        }
        let Some(history) = self.histories.get(&message.room) else { return Ok(()) };
        if let Some((_, target)) = history.find(act.target()) {
            if target.sender != message.sender {
                return Err(DropReason::NotTheAuthor);
            }
            if let Action::Delete { seq, .. } = act
                && target.seq != *seq
            {
                return Err(DropReason::NotTheAuthor);
            }
        }
        if let Action::Delete { to, seq } = act {
            // The slot is the author's own: it may not name a message of theirs it is not.
            let other =
                history.loaded_messages().any(|it| it.sender == message.sender && it.seq == *seq && &it.id != to);
            if other || *seq == 0 || *seq >= message.seq {
                return Err(DropReason::NotTheAuthor);
            }
        }
        Ok(())
    }

    /// A delete that passed [`ChatNode::check_action`] and its signature check: the target becomes a
    /// tombstone, or, if we never held it, its slot is filled with one.
    pub(super) fn apply_action(&mut self, message: &StoredMessage) {
        let Some(Action::Delete { to, seq }) = &message.act else { return };
        let room = message.room.clone();
        let history = self.histories.entry(room.clone()).or_default();
        if history.find(to).is_some() {
            self.erase(&room, to, &message.sender);
            return;
        }
        if history.holds(&message.sender, *seq) {
            // Held in a page not loaded: the tombstone is the delete itself (the view hides the target).
            return;
        }
        history.meta.senders.entry(message.sender.clone()).or_default().record(*seq);
        let tombstone = StoredMessage {
            id: to.clone(),
            room: room.clone(),
            sender: message.sender.clone(),
            text: String::new(),
            timestamp: message.timestamp,
            received_at: self.now,
            seq: *seq,
            state: None,
            signature: None,
            act: None,
            deleted: true,
        };
        let appended = history::append(&self.me, history, tombstone);
        for write in appended.writes {
            self.stage_write(write);
        }
        self.event(ChatEvent::MessagesChanged { room });
    }

    fn erase(&mut self, room: &RoomId, id: &MessageId, author: &Username) {
        let Some(history) = self.histories.get_mut(room) else { return };
        if let Some(write) = history::erase(&self.me, room, history, id, author) {
            self.stage_write(write);
            self.event(ChatEvent::MessagesChanged { room: room.clone() });
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Typing and read receipts: nothing of them is stored, and neither goes to the original page.

    /// The user typed in `room`: tell its members, at most once every [`TYPING_EVERY_MS`].
    pub(super) fn typing(&mut self, room: &RoomId) -> Result<(), ChatError> {
        self.rooms.get(room).ok_or(RoomError::UnknownRoom)?;
        if !self.privacy.typing {
            return Ok(());
        }
        let last = self.typing_sent.get(room).copied();
        if last.is_some_and(|it| self.now.saturating_sub(it) < TYPING_EVERY_MS) {
            return Ok(());
        }
        self.typing_sent.insert(room.clone(), self.now);
        let frame = wire::encode(&Frame::Typing { room: room.clone() });
        for link in self.ours_links_in(room) {
            self.output(Output::Send { link, frame: frame.clone() });
        }
        Ok(())
    }

    pub(super) fn typing_frame(&mut self, peer: &Username, room: &RoomId) -> Result<(), DropReason> {
        self.check_member(room, peer)?;
        if !self.privacy.typing {
            return Ok(());
        }
        let until = self.now.saturating_add(TYPING_SHOWN_MS);
        if self.typing.insert((room.clone(), peer.clone()), until).is_none() {
            self.event(ChatEvent::TypingChanged { room: room.clone() });
        }
        Ok(())
    }

    /// `peer`'s message arrived, or its typing expired: it is not shown typing any more.
    pub(super) fn stop_typing(&mut self, room: &RoomId, peer: &Username) {
        if self.typing.remove(&(room.clone(), peer.clone())).is_some() {
            self.event(ChatEvent::TypingChanged { room: room.clone() });
        }
    }

    /// Who is typing in `room` now.
    pub fn typing_in(&self, room: &RoomId) -> Vec<&Username> {
        self.typing.iter().filter(|((r, _), until)| r == room && **until > self.now).map(|((_, it), _)| it).collect()
    }

    /// The user has seen `room`: with receipts on, its members are told up to which message.
    pub(super) fn send_receipt(&mut self, room: &RoomId) {
        if !self.privacy.receipts {
            return;
        }
        let Some(last) =
            self.histories.get(room).and_then(|it| it.loaded_messages().filter(|m| m.sender != self.me).last())
        else {
            return;
        };
        let id = last.id.clone();
        if self.receipt_sent.get(room) == Some(&id) {
            return;
        }
        self.receipt_sent.insert(room.clone(), id.clone());
        let frame = wire::encode(&Frame::Read { room: room.clone(), id });
        for link in self.ours_links_in(room) {
            self.output(Output::Send { link, frame: frame.clone() });
        }
    }

    pub(super) fn read_frame(&mut self, peer: &Username, room: &RoomId, id: &MessageId) -> Result<(), DropReason> {
        self.check_member(room, peer)?;
        // Receipts are honoured both ways: a user who does not send them is shown none.
        if !self.privacy.receipts {
            return Ok(());
        }
        self.read_by.entry(room.clone()).or_default().insert(peer.clone(), id.clone());
        self.event(ChatEvent::MessagesChanged { room: room.clone() });
        Ok(())
    }

    /// For each member who sent us a receipt in `room`: the message they have read up to.
    pub fn read_receipts(&self, room: &RoomId) -> Vec<(&Username, &MessageId)> {
        if !self.privacy.receipts {
            return Vec::new();
        }
        self.read_by.get(room).map(|it| it.iter().collect()).unwrap_or_default()
    }
}
