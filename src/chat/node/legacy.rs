//! Peers of the original page: the room a legacy link belongs to, and the mesh it forms.
//!
//! On the page everyone connected is in one room. For us, a conversation with an original-page user is
//! that user's mesh room: the direct room anchored on it takes in the peers it gossips (`connections`, or
//! the `peerIds` of a page dialing us), once each shows itself to be an original page too. Such extra
//! members are only ever legacy peers: a peer that speaks our protocol (or whose key we know) still needs
//! an invitation to any room, so a page's list can make us dial it but never share a room with it. And
//! only a conversation the user chose merges: one they opened to dial, or wrote in. A stranger's page
//! dialing us gets its list held until the user answers it, so nobody can make us dial others unasked.

use super::{ChatNode, LinkKind, MAX_DIALS_PER_LEGACY_LIST, Output, legacy_chat};
use crate::account::Username;
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::wire::MAX_LIST_LEN;
use crate::chat::wire::{self, Frame};
use crate::time::Millis;

impl ChatNode {
    pub(super) fn greet_legacy(&mut self, link_id: &LinkId, peer: &Username) {
        // Dialed because a mesh room's page listed it, and it is a page too: it is in that mesh now.
        if let Some(room) = self.links[link_id].room.clone() {
            self.join_legacy_mesh(&room, peer);
        }
        // The room a legacy link belongs to: the one it was dialed for, else a group it is in, else direct.
        let bound =
            self.links[link_id].room.clone().filter(|it| self.rooms.get(it).is_some_and(|r| r.members.contains(peer)));
        let last_activity = |id: &RoomId| self.histories.get(id).map_or(Millis(0), |h| h.meta.last_activity);
        let bound = bound.or_else(|| {
            let groups = self.rooms.groups_with(peer);
            groups.max_by_key(|it| last_activity(&it.id)).map(|it| it.id.clone())
        });
        // Else a page mesh it joined before (after a restart no dial remembers it), else its own direct room.
        let own = RoomId::direct(&self.me, peer);
        let bound = bound.or_else(|| {
            let meshes = self.rooms.rooms.iter().filter(|it| it.id.is_direct() && it.id != own);
            meshes.filter(|it| it.members.contains(peer)).max_by_key(|it| last_activity(&it.id)).map(|it| it.id.clone())
        });
        let room = match bound {
            Some(room) => room,
            // A stranger's page makes no conversation by connecting: its first chat is a message request, and
            // the link is bound to the direct room once the user accepts it.
            None if self.needs_request(peer) => return,
            None => match self.rooms.ensure_direct(&self.me, peer) {
                Ok((room, created)) => {
                    if created {
                        self.write_rooms();
                    }
                    room
                }
                Err(_) => return,
            },
        };
        if let Some(link) = self.links.get_mut(link_id) {
            link.room = Some(room.clone());
        }
        // As the original page does when accepting a connection, tell the peer whom to merge with; on a link we
        // dialed too, since our dial metadata names nobody (the signaling server would see it).
        let peer_ids: Vec<String> = self.rooms.get(&room).map_or_else(Vec::new, |record| {
            record.others(&self.me).filter(|it| *it != peer && self.is_online(it)).map(Username::peer_id).collect()
        });
        if !peer_ids.is_empty() {
            self.output(Output::Send { link: link_id.clone(), frame: wire::encode(&Frame::Connections { peer_ids }) });
        }
        // Hand over what waited for this peer; it cannot acknowledge, so that is delivery.
        let rooms: Vec<RoomId> = self.rooms.shared_with(peer).map(|it| it.id.clone()).collect();
        for room in rooms {
            let Some(history) = self.histories.get(&room) else { continue };
            let pending: Vec<MessageId> =
                history.meta.outbox.iter().filter(|it| it.waiting.contains(peer)).map(|it| it.id.clone()).collect();
            for id in pending {
                // The original page would show a reaction, edit or delete as a chat: it is never sent one.
                let found =
                    self.histories[&room].find(&id).filter(|(_, it)| it.act.as_ref().is_none_or(|act| act.is_shown()));
                if let Some((_, message)) = found.filter(|(_, it)| !it.deleted) {
                    let frame = legacy_chat(&message.sender, &message.text, message.timestamp);
                    self.output(Output::Send { link: link_id.clone(), frame });
                }
                self.acknowledged(&room, &id, peer);
            }
        }
    }

    /// A legacy peer we took for a direct contact turned out to be a member of a group (its dial raced the
    /// news of its invitation): its messages belong to the group from now on.
    pub(super) fn rebind_legacy(&mut self, room: &RoomId, added: &[Username]) {
        for link in self.links.values_mut() {
            let is_direct = link.room.as_ref().is_none_or(RoomId::is_direct);
            if link.kind == LinkKind::Legacy && is_direct && added.contains(&link.peer) {
                link.room = Some(room.clone());
            }
        }
    }

    /// A direct room `peer` may join as a legacy member of its mesh: `room` is direct, and `peer` is not
    /// one we know to speak our protocol (by a key, or by a link that said so).
    fn may_join_legacy_mesh(&self, room: &RoomId, peer: &Username) -> bool {
        let speaks_ours = self.keys.contains_key(peer)
            || self.links.values().any(|it| &it.peer == peer && (it.kind == LinkKind::Ours || it.dialer_is_ours));
        room.is_direct() && !speaks_ours && self.rooms.get(room).is_some_and(|it| it.members.len() < MAX_LIST_LEN)
    }

    /// The user chose this direct room: they opened it to dial its peer, or wrote in it.
    fn user_chose(&self, room: &RoomId) -> bool {
        let wrote = self.histories.get(room).is_some_and(|it| it.meta.senders.contains_key(&self.me));
        let dialed = self.contacts.values().any(|it| it.dial_room.as_ref() == Some(room));
        wrote || dialed
    }

    /// The user wrote in `room`: the lists its legacy members' pages gave before are taken now.
    pub(super) fn merge_held_gossip(&mut self, room: &RoomId) {
        let held: Vec<Username> = self
            .links
            .values_mut()
            .filter(|it| it.kind == LinkKind::Legacy && it.room.as_ref() == Some(room))
            .flat_map(|it| std::mem::take(&mut it.gossip))
            .collect();
        for listed in held.into_iter().take(MAX_DIALS_PER_LEGACY_LIST) {
            if self.may_join_legacy_mesh(room, &listed) {
                self.connect_now(&listed, Some(room.clone()));
            }
        }
    }

    /// Adds the legacy `peer` to the direct room `room`'s mesh, if it may join (see above).
    fn join_legacy_mesh(&mut self, room: &RoomId, peer: &Username) {
        if !self.may_join_legacy_mesh(room, peer) {
            return;
        }
        let Some(record) = self.rooms.get_mut(room) else { return };
        if record.members.insert(peer.clone()) {
            self.write_rooms();
            self.event(super::ChatEvent::RoomsChanged);
        }
    }

    /// An incoming page lists the peers it is meshed with (`metadata.peerIds`): when one of them is a
    /// legacy member of one of our direct rooms, the newcomer is in that room's mesh, as on the page.
    /// Called before the link is greeted, so its room is bound from the first frame on.
    pub(super) fn adopt_into_legacy_mesh(&mut self, link_id: &LinkId, peer_ids: &[String]) {
        let Some(peer) = self.links.get(link_id).map(|it| it.peer.clone()) else { return };
        let legacy_online = |node: &ChatNode, it: &Username| {
            node.links.values().any(|link| &link.peer == it && link.kind == LinkKind::Legacy)
        };
        let vouched: Vec<Username> = peer_ids
            .iter()
            .take(MAX_DIALS_PER_LEGACY_LIST)
            .filter_map(|it| Username::from_peer_id(it))
            .filter(|it| *it != self.me && *it != peer && legacy_online(self, it))
            .collect();
        let room = self
            .rooms
            .rooms
            .iter()
            .filter(|it| it.id.is_direct() && vouched.iter().any(|member| it.members.contains(member)))
            .filter(|it| self.user_chose(&it.id))
            .max_by_key(|it| self.histories.get(&it.id).map_or(Millis(0), |h| h.meta.last_activity))
            .map(|it| it.id.clone());
        let Some(room) = room.filter(|it| self.may_join_legacy_mesh(it, &peer)) else { return };
        self.join_legacy_mesh(&room, &peer);
        if let Some(link) = self.links.get_mut(link_id) {
            link.room = Some(room);
        }
    }

    /// A peer taken for an original page spoke our protocol after all: it leaves every direct room's mesh
    /// it joined as legacy (the two a direct room is named for stay).
    pub(super) fn leave_legacy_meshes(&mut self, peer: &Username) {
        let mut changed = false;
        for record in self.rooms.rooms.iter_mut().filter(|it| it.id.is_direct()) {
            let named = record.id.direct_members().is_some_and(|(a, b)| &a == peer || &b == peer);
            if !named && record.members.remove(peer) {
                changed = true;
            }
        }
        if changed {
            self.write_rooms();
            self.event(super::ChatEvent::RoomsChanged);
        }
    }

    /// The original page's merge: dial every listed peer we are not connected to, for the same room. Only a
    /// legacy member of the room its link is bound to merges others into it: into a group we invite them;
    /// into a direct room (that page's mesh) each joins once it shows itself to be a page too
    /// ([`ChatNode::greet_legacy`]). Anyone else's list is advice we do not take, since a stranger could
    /// make us dial anyone. False when the list was not taken.
    pub(super) fn merge_legacy_peers(&mut self, link_id: &LinkId, peer_ids: &[String]) -> bool {
        let listed: Vec<Username> = peer_ids
            .iter()
            .filter_map(|it| Username::from_peer_id(it))
            .filter(|it| *it != self.me && !self.links.values().any(|link| &link.peer == it))
            .collect();
        if listed.is_empty() {
            return true;
        }
        let Some(link) = self.links.get(link_id).filter(|it| it.kind == LinkKind::Legacy) else { return false };
        let peer = link.peer.clone();
        let room = link.room.clone();
        let Some(room) = room.filter(|it| self.rooms.get(it).is_some_and(|r| r.members.contains(&peer))) else {
            return false;
        };
        if room.is_direct() && !self.user_chose(&room) {
            if let Some(link) = self.links.get_mut(link_id) {
                link.gossip = listed.into_iter().take(MAX_DIALS_PER_LEGACY_LIST).collect();
            }
            return true;
        }
        if room.is_direct() {
            for listed in listed.into_iter().take(MAX_DIALS_PER_LEGACY_LIST) {
                if self.may_join_legacy_mesh(&room, &listed) {
                    self.connect_now(&listed, Some(room.clone()));
                }
            }
            return true;
        }
        for listed in listed.into_iter().take(MAX_DIALS_PER_LEGACY_LIST) {
            let is_member = self.rooms.get(&room).is_some_and(|it| it.members.contains(&listed));
            if !is_member {
                let invitation = self.make_invitation(&room, &listed);
                if self.rooms.add_member(&room, invitation) {
                    self.write_rooms();
                }
            }
            self.connect_now(&listed, Some(room.clone()));
        }
        true
    }
}
