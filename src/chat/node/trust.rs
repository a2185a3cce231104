//! Who may say what: authors' keys, checking a message's signature before it is stored (or holding it
//! until its author's key is known), signing ours, and membership by invitation (`mc.room`, the user's
//! answer to an invitation).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    AwaitingKey, ChatError, ChatEvent, ChatNode, DropReason, KnownKey, MAX_AWAITING_KEY, MAX_INVITATIONS_PER_PEER,
    MAX_PENDING_INVITATIONS, PendingInvitation, Verdict,
};
use crate::account::Username;
use crate::chat::actions::Action;
use crate::chat::history::{self, StoredMessage};
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::names::display_name;
use crate::chat::room::{Invitation, MAX_ROOM_MEMBERS, RoomRecord};
use crate::chat::signing::{Signature, signed_payload};
use crate::chat::wire::RoomInfo;
use crate::identity::PublicKey;
use crate::time::Millis;

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Keys and signatures.

    /// The key `user` signs with, as far as we know it (ours is our identity's).
    pub(super) fn key_of(&self, user: &Username) -> Option<PublicKey> {
        if user == &self.me {
            return self.config.identity.as_ref().map(|it| it.public_key());
        }
        self.keys.get(user).map(|it| it.key)
    }

    /// Learns `user`'s key: proved on a link (`introduced_by` is `None`, and it replaces any other), or
    /// introduced by the member who invited them (kept only while no key is known). Messages held for it
    /// are checked and stored now.
    pub(super) fn learn_key(&mut self, user: &Username, key: PublicKey, introduced_by: Option<Username>) {
        if user == &self.me {
            return;
        }
        let replaces = match (self.keys.get(user), &introduced_by) {
            (None, _) | (Some(_), None) => true,
            (Some(_), Some(_)) => false,
        };
        if replaces {
            self.keys.insert(user.clone(), KnownKey { key, introduced_by });
        }
        self.release_awaiting(user);
    }

    /// What to do with a message, by its signature. `relayed`: it came from someone other than its author.
    pub(super) fn verdict(&self, message: &StoredMessage, sig: Option<Signature>, relayed: bool) -> Verdict {
        if self.config.identity.is_none() {
            // A node without a key verifies nothing; it still never takes a relayed copy of "our" message,
            // which only a signature could prove.
            return if relayed && message.sender == self.me {
                Verdict::Refused(DropReason::Unsigned)
            } else {
                Verdict::Unverified
            };
        }
        let Some(sig) = sig else {
            // Unsigned from its own author on its own link is theirs (the link is authenticated), unverified;
            // relayed, it could be anyone's words.
            return if relayed { Verdict::Refused(DropReason::Unsigned) } else { Verdict::Unverified };
        };
        let Some(key) = self.key_of(&message.sender) else { return Verdict::AwaitKey };
        let payload = signed_payload(
            &message.room,
            &message.id,
            message.seq,
            &message.sender,
            &message.text,
            message.timestamp,
            message.act.as_ref(),
        );
        if sig.verifies(&key, &payload) { Verdict::Verified(sig) } else { Verdict::Refused(DropReason::BadSignature) }
    }

    /// Stores (or holds) an incoming message as its signature allows.
    pub(super) fn admit(
        &mut self,
        mut message: StoredMessage,
        sig: Option<Signature>,
        link: &LinkId,
        relayed: bool,
        live: bool,
        acks: &mut Vec<MessageId>,
    ) -> Result<(), DropReason> {
        if self.blocked.contains(&message.sender) {
            return Err(DropReason::Blocked);
        }
        self.check_action(&message)?;
        match self.verdict(&message, sig, relayed) {
            Verdict::Verified(sig) => {
                message.signature = Some(sig);
                self.apply_action(&message);
                self.receive(message, Some(link), live, acks);
                Ok(())
            }
            Verdict::Unverified => {
                message.signature = None;
                self.apply_action(&message);
                self.receive(message, Some(link), live, acks);
                Ok(())
            }
            Verdict::AwaitKey => {
                if self.awaiting_key.values().map(Vec::len).sum::<usize>() >= MAX_AWAITING_KEY {
                    return Err(DropReason::TooManyPending("messages waiting for their author's key"));
                }
                message.signature = sig;
                let author = message.sender.clone();
                self.awaiting_key.entry(author).or_default().push(AwaitingKey { message, link: link.clone() });
                Ok(())
            }
            Verdict::Refused(reason) => Err(reason),
        }
    }

    fn release_awaiting(&mut self, user: &Username) {
        let Some(waiting) = self.awaiting_key.remove(user) else { return };
        for AwaitingKey { message, link } in waiting {
            let sig = message.signature;
            let room = message.room.clone();
            let relayed = self.links.get(&link).is_none_or(|it| it.peer != message.sender);
            let mut acks = Vec::new();
            if let Err(reason) = self.admit(message, sig, &link, relayed, false, &mut acks) {
                let peer_id = self.links.get(&link).map(|it| it.peer_id.clone()).unwrap_or_default();
                self.event(ChatEvent::FrameDropped { peer_id, reason });
            }
            if self.links.contains_key(&link) {
                self.send_acks(&link, &room, acks);
            }
        }
    }

    /// Our signature over our message, if we have a key.
    pub(super) fn sign_message(
        &self,
        room: &RoomId,
        id: &MessageId,
        seq: u64,
        text: &str,
        timestamp: Millis,
        act: Option<&Action>,
    ) -> Option<Signature> {
        let identity = self.config.identity.as_ref()?;
        Some(Signature::sign(identity, &signed_payload(room, id, seq, &self.me, text, timestamp, act)))
    }

    /// Our invitation of `invitee` to `room`: it starts from what the room holds now.
    pub(super) fn make_invitation(&self, room: &RoomId, invitee: &Username) -> Invitation {
        let since = self
            .histories
            .get(room)
            .map(|it| it.meta.senders.iter().map(|(sender, progress)| (sender.clone(), progress.highest())).collect())
            .unwrap_or_default();
        let key = self.keys.get(invitee).filter(|it| it.introduced_by.is_none()).map(|it| it.key);
        let mut invitation = Invitation { inviter: self.me.clone(), invitee: invitee.clone(), key, since, sig: None };
        if let Some(identity) = &self.config.identity {
            let name = self.rooms.get(room).and_then(RoomRecord::name).unwrap_or_default();
            invitation.sig = Some(Signature::sign(identity, &invitation.payload(room, name)));
        }
        invitation
    }

    /// True when `invitation` is good evidence of membership in our room `room`: its inviter is a member,
    /// and it is signed with the inviter's key; without that key, only the inviter itself is believed.
    fn invitation_holds(&self, room: &RoomId, invitation: &Invitation, peer: &Username) -> bool {
        let Some(record) = self.rooms.get(room) else { return false };
        if !record.members.contains(&invitation.inviter) || invitation.inviter == invitation.invitee {
            return false;
        }
        let name = record.name().unwrap_or_default();
        match (self.config.identity.is_some(), self.key_of(&invitation.inviter)) {
            (true, Some(key)) => invitation.verifies(room, name, &key),
            _ => &invitation.inviter == peer,
        }
    }

    /// The floor of catch-up for `member` in `room`: per sender, the seq its history starts after.
    pub(super) fn served_floor(&self, room: &RoomId, member: &Username, sender: &Username) -> u64 {
        let record = self.rooms.get(room);
        let invitation = record.and_then(|it| it.invitations.get(member));
        invitation.and_then(|it| it.since.get(sender).copied()).unwrap_or(0)
    }

    // -----------------------------------------------------------------------------------------------------
    // Membership.

    /// `mc.room` from `peer`: news about a room we are in (only from a member, and a new member only with a
    /// good invitation), or an invitation to one we are not in.
    pub(super) fn room_frame(&mut self, peer: &Username, info: RoomInfo) -> Result<(), DropReason> {
        if self.rooms.get(&info.room).is_none() {
            return self.invitation_frame(peer, info);
        }
        self.check_member(&info.room, peer)?;
        let mut added = Vec::new();
        let mut refused = None;
        for invitation in info.invites {
            let Some(record) = self.rooms.get(&info.room) else { break };
            if record.members.contains(&invitation.invitee) {
                continue;
            }
            if !self.invitation_holds(&info.room, &invitation, peer) {
                refused.get_or_insert(DropReason::BadInvitation);
                continue;
            }
            if record.is_full() {
                refused = Some(DropReason::RoomFull);
                continue;
            }
            let (invitee, inviter, key) = (invitation.invitee.clone(), invitation.inviter.clone(), invitation.key);
            if self.rooms.add_member(&info.room, invitation) {
                if let Some(key) = key {
                    self.learn_key(&invitee, key, Some(inviter));
                }
                added.push(invitee);
            }
        }
        if !added.is_empty() {
            self.write_rooms();
            self.event(ChatEvent::RoomsChanged);
            self.rebind_legacy(&info.room, &added);
        }
        // Whoever learns of new members tells every member, and connects to them: a full mesh. A peer that
        // lacks members we know is told too.
        let ours = self.rooms.get(&info.room).map(|it| it.members.clone()).unwrap_or_default();
        if !added.is_empty() || !ours.is_subset(&info.members) {
            self.announce_room(&info.room);
        }
        for member in added {
            self.connect_now(&member, Some(info.room.clone()));
        }
        refused.map_or(Ok(()), Err)
    }

    /// `mc.room` about a room we are not in: an invitation, if it carries one to us from the sender.
    fn invitation_frame(&mut self, peer: &Username, info: RoomInfo) -> Result<(), DropReason> {
        if self.declined.contains(&info.room) {
            return Ok(());
        }
        let Some(mine) = info.invites.iter().find(|it| it.invitee == self.me && &it.inviter == peer) else {
            return Err(DropReason::NotInvited);
        };
        if !info.members.contains(peer) {
            return Err(DropReason::NotInvited);
        }
        if self.config.identity.is_some()
            && let Some(key) = self.key_of(peer)
            && !mine.verifies(&info.room, &info.name, &key)
        {
            return Err(DropReason::BadInvitation);
        }
        let invitations: BTreeMap<Username, Invitation> = info
            .invites
            .iter()
            .filter(|it| info.members.contains(&it.invitee))
            .map(|it| (it.invitee.clone(), it.clone()))
            .collect();
        let over = |members: &BTreeSet<Username>| members.len() > MAX_ROOM_MEMBERS;
        if let Some(pending) = self.invitations.get_mut(&info.room) {
            // More of the same invitation (a room's invitations may take several frames).
            if &pending.inviter == peer {
                if over(&pending.members.union(&info.members).cloned().collect()) {
                    return Err(DropReason::RoomFull);
                }
                pending.members.extend(info.members);
                pending.invitations.extend(invitations);
                self.write_invitations();
            }
            return Ok(());
        }
        // A room fuller than any honest member lets it grow (as many links and dials each).
        if over(&info.members) {
            return Err(DropReason::RoomFull);
        }
        let count = self.invitations_from.entry(peer.clone()).or_default();
        if *count >= MAX_INVITATIONS_PER_PEER || self.invitations.len() >= MAX_PENDING_INVITATIONS {
            return Err(DropReason::TooManyInvitations);
        }
        *count += 1;
        let name = display_name(&info.name);
        let name = if name.is_empty() { "Unnamed room".to_owned() } else { name };
        let pending = PendingInvitation {
            room: info.room.clone(),
            name: name.clone(),
            inviter: peer.clone(),
            members: info.members,
            invitations,
        };
        self.invitations.insert(info.room.clone(), pending);
        self.write_invitations();
        self.event(ChatEvent::Invited { room: info.room.clone(), name, inviter: peer.clone() });
        if !self.config.ask_before_joining {
            self.accept_invitation(&info.room)?;
        }
        Ok(())
    }

    /// The user accepted: join the room as the inviter described it, connect to its members, catch up.
    pub(super) fn accept_invitation(&mut self, room: &RoomId) -> Result<(), DropReason> {
        let pending = self.invitations.remove(room).ok_or(DropReason::UnknownRoom)?;
        let since = pending.invitations.get(&self.me).map(|it| it.since.clone()).unwrap_or_default();
        // Keys the inviter introduced (the invitations it signed itself).
        let introduced: Vec<(Username, PublicKey)> = pending
            .invitations
            .values()
            .filter(|it| it.inviter == pending.inviter)
            .filter_map(|it| it.key.map(|key| (it.invitee.clone(), key)))
            .collect();
        let joined =
            self.rooms.join_group(room, &pending.name, &pending.members, pending.invitations.clone(), &self.me);
        self.write_invitations();
        self.event(ChatEvent::InvitationsChanged);
        if !joined {
            return Ok(());
        }
        // A newcomer starts from the room's present: history before it joined is not caught up.
        let history = self.histories.entry(room.clone()).or_default();
        for (sender, seq) in &since {
            let progress = history.meta.senders.entry(sender.clone()).or_default();
            progress.contiguous = progress.contiguous.max(*seq);
        }
        let write = history::meta_write(&self.me, room, &history.meta);
        self.stage_write(write);
        self.write_rooms();
        self.event(ChatEvent::RoomsChanged);
        for (user, key) in introduced {
            self.learn_key(&user, key, Some(pending.inviter.clone()));
        }
        let members: Vec<Username> = pending.members.iter().filter(|it| **it != self.me).cloned().collect();
        self.rebind_legacy(room, &members);
        for link in self.ours_links_in(room) {
            self.send_room_info(&link, room);
            self.send_sync(&link, room);
        }
        for member in members {
            if !self.links.values().any(|it| it.peer == member) {
                self.connect_now(&member, Some(room.clone()));
            }
        }
        Ok(())
    }

    pub(super) fn answer_invitation(&mut self, room: &RoomId, accept: bool) -> Result<(), ChatError> {
        if !self.invitations.contains_key(room) {
            return Err(ChatError::NoInvitation);
        }
        if accept {
            self.accept_invitation(room).map_err(|_| ChatError::NoInvitation)
        } else {
            self.invitations.remove(room);
            self.declined.insert(room.clone());
            self.write_invitations();
            self.event(ChatEvent::InvitationsChanged);
            Ok(())
        }
    }
}
