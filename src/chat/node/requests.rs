//! Strangers: message requests (a first message from a username with no conversation waits for the user's
//! Accept or Block instead of opening a conversation), the block list, and the stored records of what waits
//! for the user (requests, invitations, blocks), so a restart loses none of it.

use std::collections::BTreeSet;

use super::{
    ChatError, ChatEvent, ChatNode, DropReason, LinkKind, MAX_MESSAGES_PER_REQUEST, MAX_PENDING_REQUESTS,
    MessageRequest, Output, Verdict,
};
use crate::account::Username;
use crate::chat::history::StoredMessage;
use crate::chat::ids::{LinkId, RoomId};
use crate::chat::pending::{self, BlockedRecord, InvitationsRecord, RequestsRecord};
use crate::chat::room::RoomError;
use crate::chat::signing::Signature;
use crate::storage::{self, Key, Snapshot};

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Queries.

    /// Message requests waiting for the user, oldest first.
    pub fn requests(&self) -> Vec<&MessageRequest> {
        let mut requests: Vec<&MessageRequest> = self.requests.values().collect();
        requests.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.from.cmp(&b.from)));
        requests
    }

    /// The usernames the user blocked.
    pub fn blocked(&self) -> &BTreeSet<Username> {
        &self.blocked
    }

    pub fn is_blocked(&self, user: &Username) -> bool {
        self.blocked.contains(user)
    }

    // -----------------------------------------------------------------------------------------------------
    // Restoring and storing.

    pub(super) fn restore_pending(&mut self, snapshot: &Snapshot) {
        let loaded = pending::load(&self.me, snapshot);
        for problem in loaded.problems {
            self.event(ChatEvent::PendingProblem(problem));
        }
        self.damaged_pending = loaded.damaged;
        self.blocked = loaded.blocked.blocked;
        let me = self.me.clone();
        let requests =
            loaded.requests.requests.into_iter().filter(|it| {
                !self.blocked.contains(&it.from) && self.rooms.get(&RoomId::direct(&me, &it.from)).is_none()
            });
        self.requests = requests.map(|it| (it.from.clone(), it)).collect();
        let invitations = loaded.invitations.invitations.into_iter().filter(|it| self.rooms.get(&it.room).is_none());
        self.invitations = invitations.map(|it| (it.room.clone(), it)).collect();
    }

    fn may_write(&self, key: &str) -> bool {
        !self.damaged_pending.contains(key)
    }

    pub(super) fn write_requests(&mut self) {
        let key = Key::Requests(self.me.clone()).to_string();
        if self.may_write(&key) {
            let record = RequestsRecord { requests: self.requests.values().cloned().collect() };
            self.stage_write(storage::set(key, &record));
        }
    }

    pub(super) fn write_invitations(&mut self) {
        let key = Key::Invitations(self.me.clone()).to_string();
        if self.may_write(&key) {
            let record = InvitationsRecord { invitations: self.invitations.values().cloned().collect() };
            self.stage_write(storage::set(key, &record));
        }
    }

    fn write_blocked(&mut self) {
        let key = Key::Blocked(self.me.clone()).to_string();
        if self.may_write(&key) {
            self.stage_write(storage::set(key, &BlockedRecord { blocked: self.blocked.clone() }));
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Requests.

    /// True when a message from `peer` in our direct room with it must wait as a request: the room does not
    /// exist, we share no room with `peer`, and requests are on.
    pub(super) fn needs_request(&self, peer: &Username) -> bool {
        self.config.message_requests
            && self.rooms.get(&RoomId::direct(&self.me, peer)).is_none()
            && self.rooms.shared_with(peer).next().is_none()
    }

    /// A live message from `peer`, its author, in the direct room we do not have: kept in its request (not
    /// acknowledged: the sender keeps it in its outbox and re-sends it once the user accepts).
    pub(super) fn request_message(
        &mut self,
        peer: &Username,
        mut message: StoredMessage,
        sig: Option<Signature>,
    ) -> Result<(), DropReason> {
        if self.blocked.contains(peer) {
            return Err(DropReason::Blocked);
        }
        message.signature = match self.verdict(&message, sig, false) {
            Verdict::Verified(sig) => Some(sig),
            // The author's key is not known: kept unverified (it is checked again when re-sent after Accept).
            Verdict::Unverified | Verdict::AwaitKey => None,
            Verdict::Refused(reason) => return Err(reason),
        };
        match self.requests.get_mut(peer) {
            Some(request) => {
                if request.messages.iter().any(|it| it.id == message.id || (it.seq == message.seq && it.seq > 0)) {
                    return Ok(());
                }
                if request.messages.len() >= MAX_MESSAGES_PER_REQUEST {
                    return Err(DropReason::TooManyPending("messages of one message request"));
                }
                request.messages.push(message);
                self.event(ChatEvent::RequestsChanged);
            }
            None => {
                if self.requests.len() >= MAX_PENDING_REQUESTS {
                    return Err(DropReason::TooManyPending("message requests"));
                }
                let request = MessageRequest { from: peer.clone(), since: self.now, messages: vec![message] };
                self.requests.insert(peer.clone(), request);
                self.event(ChatEvent::Requested { from: peer.clone() });
                self.event(ChatEvent::RequestsChanged);
            }
        }
        self.write_requests();
        Ok(())
    }

    /// The user accepted `peer`'s request: the direct conversation is made, with the request's messages.
    pub(super) fn accept_request(&mut self, peer: &Username) -> Result<RoomId, ChatError> {
        let request = self.requests.remove(peer).ok_or_else(|| ChatError::NoRequest(peer.clone()))?;
        let (room, created) = self.rooms.ensure_direct(&self.me, peer)?;
        if created {
            self.write_rooms();
        }
        self.histories.entry(room.clone()).or_default();
        let link = self.ours_link(peer);
        let mut messages = request.messages;
        messages.sort_by_key(|it| it.seq);
        let mut acks = Vec::new();
        for mut message in messages {
            message.room = room.clone();
            self.receive(message, link.as_ref(), false, &mut acks);
        }
        if let Some(link) = link {
            self.send_acks(&link, &room, acks);
            // Catch-up brings what the request did not keep.
            self.send_sync(&link, &room);
        }
        // An original page's link waited unbound (see `greet_legacy`): it belongs to the conversation now.
        let legacy: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, it)| &it.peer == peer && it.kind == LinkKind::Legacy && it.room.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for link in legacy {
            self.greet_legacy(&link, peer);
        }
        self.write_requests();
        self.event(ChatEvent::RequestsChanged);
        self.event(ChatEvent::RoomsChanged);
        self.connect_now(peer, Some(room.clone()));
        Ok(room)
    }

    // -----------------------------------------------------------------------------------------------------
    // Blocks.

    /// Blocks `user`: its request and invitations are discarded, what is held of it dropped, its links
    /// closed; from now on nothing of it is stored and it is never dialed.
    pub(super) fn block(&mut self, user: &Username) -> Result<(), ChatError> {
        if user == &self.me {
            return Err(RoomError::WithYourself.into());
        }
        self.blocked.insert(user.clone());
        self.write_blocked();
        if self.requests.remove(user).is_some() {
            self.write_requests();
        }
        let invitations = self.invitations.len();
        self.invitations.retain(|_, it| &it.inviter != user);
        if self.invitations.len() != invitations {
            self.write_invitations();
            self.event(ChatEvent::InvitationsChanged);
        }
        self.awaiting_key.remove(user);
        self.held.retain(|(_, sender), _| sender != user);
        let links: Vec<LinkId> =
            self.links.iter().filter(|(_, it)| &it.peer == user).map(|(id, _)| id.clone()).collect();
        let was_online = self.is_online(user);
        for link in links {
            self.links.remove(&link);
            self.output(Output::Close { link });
        }
        if was_online {
            self.event(ChatEvent::PeerOffline { username: user.clone() });
        }
        self.contacts.remove(user);
        self.event(ChatEvent::RequestsChanged);
        self.event(ChatEvent::RoomsChanged);
        Ok(())
    }

    pub(super) fn unblock(&mut self, user: &Username) {
        if self.blocked.remove(user) {
            self.write_blocked();
            self.event(ChatEvent::RequestsChanged);
        }
    }
}
