//! Peers of the original page: the room a legacy link belongs to, and the mesh it forms.

use super::{ChatNode, LinkKind, MAX_DIALS_PER_LEGACY_LIST, Output, legacy_chat};
use crate::account::Username;
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::wire::{self, Frame};
use crate::time::Millis;

impl ChatNode {
    pub(super) fn greet_legacy(&mut self, link_id: &LinkId, peer: &Username) {
        // The room a legacy link belongs to: the one it was dialed for, else a group it is in, else direct.
        let bound =
            self.links[link_id].room.clone().filter(|it| self.rooms.get(it).is_some_and(|r| r.members.contains(peer)));
        let bound = bound.or_else(|| {
            let groups = self.rooms.groups_with(peer);
            groups
                .max_by_key(|it| self.histories.get(&it.id).map_or(Millis(0), |h| h.meta.last_activity))
                .map(|it| it.id.clone())
        });
        let room = match bound {
            Some(room) => room,
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
        // As the original page does when accepting a connection: tell the dialer whom to merge with.
        let link = &self.links[link_id];
        if !link.outgoing {
            let peer_ids: Vec<String> = self.rooms.get(&room).map_or_else(Vec::new, |record| {
                record.others(&self.me).filter(|it| *it != peer && self.is_online(it)).map(Username::peer_id).collect()
            });
            if !peer_ids.is_empty() {
                self.output(Output::Send {
                    link: link_id.clone(),
                    frame: wire::encode(&Frame::Connections { peer_ids }),
                });
            }
        }
        // Hand over what waited for this peer; it cannot acknowledge, so that is delivery.
        let rooms: Vec<RoomId> = self.rooms.shared_with(peer).map(|it| it.id.clone()).collect();
        for room in rooms {
            let Some(history) = self.histories.get(&room) else { continue };
            let pending: Vec<MessageId> =
                history.meta.outbox.iter().filter(|it| it.waiting.contains(peer)).map(|it| it.id.clone()).collect();
            for id in pending {
                if let Some((_, message)) = self.histories[&room].find(&id) {
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

    /// The original page's merge: dial every listed peer we are not connected to, for the same room. Only a
    /// legacy member of the group its link is bound to merges others into it (we invite them); anyone
    /// else's list is advice we do not take, since a stranger could make us dial anyone. False when the
    /// list was not taken.
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
        let room = link.room.clone().filter(|it| !it.is_direct());
        let Some(room) = room.filter(|it| self.rooms.get(it).is_some_and(|r| r.members.contains(&peer))) else {
            return false;
        };
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
