//! Peers of the original page: the room a legacy link belongs to, and the mesh it forms.

use super::{ChatNode, LinkKind, Output, legacy_chat};
use crate::account::Username;
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::room::RoomRecord;
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

    /// The original page's merge: dial every listed peer we are not connected to, for the same room.
    pub(super) fn merge_legacy_peers(&mut self, link_id: &LinkId, peer_ids: &[String]) {
        let room = self.links.get(link_id).and_then(|it| it.room.clone()).filter(|it| !it.is_direct());
        for peer_id in peer_ids.iter().take(wire::MAX_LIST_LEN) {
            let Some(peer) = Username::from_peer_id(peer_id) else { continue };
            if peer == self.me || self.links.values().any(|it| it.peer == peer) {
                continue;
            }
            if let Some(room) = &room {
                let name = self.rooms.get(room).and_then(RoomRecord::name).unwrap_or_default().to_owned();
                if !self.rooms.merge_group(room, &name, &[peer.clone()].into(), &self.me).is_empty() {
                    self.write_rooms();
                }
            }
            self.connect_now(&peer, room.clone());
        }
    }
}
