//! Managing conversations: deleting one, leaving a group (our signed `mc.leave`, and a member's), and the
//! user's own settings for a room (a local name, muted, pinned).
//!
//! A group can also be left with its history kept: the room stays, read-only, with us its only member.
//!
//! A leave is signed by its author ([`signing::leave_payload`]) and goes only to members on links that speak
//! our protocol, never to a peer of the original page. A member takes a leave from the leaver's own link, or
//! relayed by anyone when it carries the leaver's valid signature; with the leaver's key known, only a valid
//! signature counts. The leaver keeps the signed leave ([`LeftRoom`]) and tells every former member it links
//! with later, and answers their frames about the room with it.

use super::{ChatError, ChatEvent, ChatNode, DropReason, Output};
use crate::account::Username;
use crate::chat::history;
use crate::chat::ids::{LinkId, RoomId};
use crate::chat::room::{LeftRoom, RoomError, RoomPrefs};
use crate::chat::signing::{self, Signature};
use crate::chat::wire::{self, Frame, Leave};

impl ChatNode {
    /// The user deletes a conversation: a group is left first (its members are told and stop dialing us),
    /// then the room, its stored history (meta and every page) and everything held for it are gone. The
    /// other user of a direct conversation is simply no longer dialed.
    pub(super) fn delete_room(&mut self, room: &RoomId) -> Result<(), ChatError> {
        let record = self.rooms.get(room).ok_or(RoomError::UnknownRoom)?;
        if !room.is_direct() && !record.left {
            self.send_our_leave(room);
        }
        let record = self.rooms.remove(room).ok_or(RoomError::UnknownRoom)?;
        let history = self.histories.remove(room);
        let pages = history.as_ref().map_or(0, |it| it.meta.page_count).max(record.pages_hint.saturating_add(1));
        self.stage_write(crate::storage::remove(history::meta_key(&self.me, room)));
        for page in 0..pages {
            self.stage_write(crate::storage::remove(history::page_key(&self.me, room, page)));
        }
        if let Some(history) = history {
            for entry in &history.meta.outbox {
                self.last_sent.retain(|(id, _), _| id != &entry.id);
            }
        }
        self.forget_room_state(room);
        self.write_rooms();
        self.event(ChatEvent::RoomsChanged);
        Ok(())
    }

    /// The user leaves a group and keeps its history: the members are told as when it is deleted, and the
    /// room stays, read-only, with us its only member (nobody is dialed, served or written to for it; our
    /// messages still waiting for a member wait no more).
    pub(super) fn leave_keeping_history(&mut self, room: &RoomId) -> Result<(), ChatError> {
        let record = self.rooms.get(room).ok_or(RoomError::UnknownRoom)?;
        if room.is_direct() {
            return Err(RoomError::NotAGroup.into());
        }
        if record.left {
            return Ok(());
        }
        self.send_our_leave(room);
        self.rooms.keep_left(room, &self.me);
        if let Some(history) = self.histories.get_mut(room) {
            for entry in std::mem::take(&mut history.meta.outbox) {
                self.last_sent.retain(|(id, _), _| id != &entry.id);
            }
            let write = history::meta_write(&self.me, room, &history.meta);
            self.stage_write(write);
        }
        self.forget_room_state(room);
        self.write_rooms();
        self.event(ChatEvent::RoomsChanged);
        self.event(ChatEvent::MessagesChanged { room: room.clone() });
        Ok(())
    }

    /// Our signed leave of the group `room`, sent to every member linked now and remembered for the others.
    fn send_our_leave(&mut self, room: &RoomId) {
        let Some(record) = self.rooms.get(room) else { return };
        let members: std::collections::BTreeSet<Username> = record.others(&self.me).cloned().collect();
        let at = self.now;
        let sig = self
            .config
            .identity
            .as_ref()
            .map(|identity| Signature::sign(identity, &signing::leave_payload(room, &self.me, at)));
        let left = LeftRoom { room: room.clone(), members, at, sig };
        for member in left.members.clone() {
            self.send_leave(&member, &left);
        }
        self.rooms.remember_left(left);
    }

    /// Forgets what is held for `room` besides its record and history: messages held back or awaiting a
    /// key, catch-up waiting for pages, dials and links bound to it.
    fn forget_room_state(&mut self, room: &RoomId) {
        self.held.retain(|(held_room, _), _| held_room != room);
        for waiting in self.awaiting_key.values_mut() {
            waiting.retain(|it| &it.message.room != room);
        }
        self.awaiting_key.retain(|_, it| !it.is_empty());
        self.pending_serves.retain(|it| &it.room != room);
        for contact in self.contacts.values_mut() {
            if contact.dial_room.as_ref() == Some(room) {
                contact.dial_room = None;
            }
        }
        for link in self.links.values_mut() {
            if link.room.as_ref() == Some(room) {
                link.room = None;
            }
            link.pieces_out.remove(room);
            link.deferred_syncs.remove(room);
        }
    }

    /// The user's own settings for a room (nobody else learns of them).
    pub(super) fn set_room_prefs(&mut self, room: &RoomId, prefs: RoomPrefs) -> Result<(), ChatError> {
        self.rooms.set_prefs(room, prefs)?;
        self.write_rooms();
        self.event(ChatEvent::RoomsChanged);
        Ok(())
    }

    /// Sends our leave of `left.room` to `member` if a link of ours to them is up (never to the original page).
    fn send_leave(&mut self, member: &Username, left: &LeftRoom) {
        let Some(link) = self.ours_link(member) else { return };
        let frame =
            Frame::Leave(Leave { room: left.room.clone(), user: self.me.clone(), timestamp: left.at, sig: left.sig });
        self.output(Output::Send { link, frame: wire::encode(&frame) });
    }

    /// A link to `peer` is greeted: it is told of every group we left while it was a member.
    pub(super) fn tell_left(&mut self, peer: &Username) {
        let left: Vec<LeftRoom> = self.rooms.left.iter().filter(|it| it.members.contains(peer)).cloned().collect();
        for it in left {
            self.send_leave(peer, &it);
        }
    }

    /// A frame from `peer` about `room`, a group we left and `peer` was in: answered with our leave (it had
    /// not heard of it), and taken no further. False when we did not leave `room`.
    pub(super) fn answer_left(&mut self, peer: &Username, room: &RoomId) -> bool {
        if self.rooms.get(room).is_some_and(|it| !it.left) {
            return false;
        }
        let Some(left) = self.rooms.left_room(room).cloned() else { return false };
        if left.members.contains(peer) {
            self.send_leave(peer, &left);
        }
        true
    }

    /// `mc.leave` from `peer`: the leaver is taken out of the group for good, is no longer waited
    /// for by our outbox, and is no longer dialed for it (nor linked, when no other room is shared).
    pub(super) fn leave_frame(&mut self, peer: &Username, leave: Leave) -> Result<(), DropReason> {
        let Some(record) = self.rooms.get(&leave.room) else {
            return if self.rooms.left_room(&leave.room).is_some() { Ok(()) } else { Err(DropReason::UnknownRoom) };
        };
        if leave.room.is_direct() {
            return Err(DropReason::UnknownRoom);
        }
        if leave.user == self.me {
            return Err(DropReason::SenderMismatch);
        }
        if !record.members.contains(&leave.user) {
            // Heard already (the leaver told us and a member relays it), or never a member.
            return if record.departed.contains(&leave.user) { Ok(()) } else { Err(DropReason::NotAMember) };
        }
        if !record.members.contains(peer) {
            return Err(DropReason::NotAMember);
        }
        let key = self.config.identity.as_ref().and(self.key_of(&leave.user));
        match (key, leave.sig) {
            (Some(key), Some(sig))
                if sig.verifies(&key, &signing::leave_payload(&leave.room, &leave.user, leave.timestamp)) => {}
            (Some(_), Some(_)) => return Err(DropReason::BadSignature),
            (Some(_), None) => return Err(DropReason::Unsigned),
            // No key to check it with: only the leaver's own link is believed.
            (None, _) if &leave.user == peer => {}
            (None, _) => return Err(DropReason::SenderMismatch),
        }
        let room = leave.room;
        let leaver = leave.user;
        self.rooms.member_left(&room, &leaver);
        let waited: Vec<_> = self
            .histories
            .get(&room)
            .map(|it| {
                it.meta
                    .outbox
                    .iter()
                    .filter(|entry| entry.waiting.contains(&leaver))
                    .map(|entry| entry.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in waited {
            self.acknowledged(&room, &id, &leaver);
        }
        self.write_rooms();
        self.event(ChatEvent::RoomsChanged);
        if self.rooms.shared_with(&leaver).next().is_none() {
            let links: Vec<LinkId> =
                self.links.iter().filter(|(_, it)| it.peer == leaver).map(|(id, _)| id.clone()).collect();
            for id in links {
                self.links.remove(&id);
                self.output(Output::Close { link: id });
            }
            self.contacts.remove(&leaver);
            self.event(ChatEvent::PeerOffline { username: leaver });
        }
        Ok(())
    }
}
