//! Links: coming up, greeting, going down, dialing and redialing, and duplicates between two peers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{
    ChatEvent, ChatNode, DropReason, Link, LinkKind, MAX_FRAME_BURST, Output, REDIAL_FIRST_MS, REDIAL_MAX_MS, caps,
};
use crate::account::Username;
use crate::chat::ids::{LinkId, RoomId};
use crate::chat::wire::{self, Frame, Hello, LinkMetadata, OurMetadata};

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Links.

    pub(super) fn link_up(&mut self, link_id: LinkId, peer_id: String, metadata: &Value, outgoing: bool) {
        let Some(peer) = Username::from_peer_id(&peer_id).filter(|it| *it != self.me) else {
            self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::ForeignPeerId });
            self.output(Output::Close { link: link_id });
            return;
        };
        if self.blocked.contains(&peer) {
            self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::Blocked });
            self.output(Output::Close { link: link_id });
            return;
        }
        let metadata = wire::decode_metadata(metadata);
        let contact = self.contacts.entry(peer.clone()).or_default();
        let dial_room = if outgoing { contact.dial_room.clone() } else { None };
        if outgoing {
            contact.dialing_since = None;
        }
        // The room a link is for is only ever ours to say (a dialer's claim would prove nothing).
        let room = dial_room;
        let link = Link {
            peer_id: peer_id.clone(),
            peer: peer.clone(),
            outgoing,
            kind: LinkKind::Unknown,
            opened_at: self.now,
            last_heard: self.now,
            last_ping: self.now,
            room,
            hello_sent: false,
            credit: MAX_FRAME_BURST * 1_000,
            credit_at: self.now,
            rate_limited: false,
            dialer_is_ours: !outgoing && metadata.ours.is_some(),
            session: None,
            served: BTreeMap::new(),
            gossip: Vec::new(),
            files: false,
            pulls: false,
            pieces_out: BTreeSet::new(),
            deferred_syncs: BTreeMap::new(),
            resent: (self.now, 0),
        };
        self.links.insert(link_id.clone(), link);
        // Our dialer told us it speaks our protocol: greet it. On a link we dialed, the peer greets first.
        if !outgoing && metadata.ours.is_some() {
            self.send_hello(&link_id);
        }
        if !outgoing && metadata.ours.is_none() {
            // Only the original page (or a stock client) dials without our metadata.
            self.adopt_into_legacy_mesh(&link_id, &metadata.peer_ids);
            self.become_ready(&link_id, LinkKind::Legacy);
            self.merge_legacy_peers(&link_id, &metadata.peer_ids);
        }
    }

    pub(super) fn send_hello(&mut self, link_id: &LinkId) {
        if let Some(link) = self.links.get_mut(link_id) {
            link.hello_sent = true;
        }
        let hello = Hello {
            version: wire::PROTOCOL_VERSION,
            user: self.me.clone(),
            capabilities: caps(),
            auth: None,
            session: Some(self.started_at.0),
        };
        self.output(Output::Send { link: link_id.clone(), frame: wire::encode(&Frame::Hello(hello)) });
    }

    pub(super) fn link_down(&mut self, link_id: &LinkId) {
        let Some(link) = self.links.remove(link_id) else { return };
        if link.is_ready() && !self.is_online(&link.peer) {
            self.event(ChatEvent::PeerOffline { username: link.peer.clone() });
            self.event(ChatEvent::RoomsChanged);
        }
        self.schedule_redial(&link.peer);
    }

    pub(super) fn dial_failed(&mut self, peer: &Username) {
        if let Some(contact) = self.contacts.get_mut(peer) {
            contact.dialing_since = None;
        }
        self.schedule_redial(peer);
    }

    fn schedule_redial(&mut self, peer: &Username) {
        let now = self.now;
        let contact = self.contacts.entry(peer.clone()).or_default();
        let delay = REDIAL_FIRST_MS.saturating_mul(1 << contact.attempt.min(10)).min(REDIAL_MAX_MS);
        contact.attempt = contact.attempt.saturating_add(1);
        contact.next_dial = now.saturating_add(delay);
    }

    /// Dials `peer` now unless a link exists or a dial is under way.
    pub(super) fn connect_now(&mut self, peer: &Username, room: Option<RoomId>) {
        // A connected peer already heard about the room (see `announce_room`).
        if self.ready_link(peer).is_some() || self.blocked.contains(peer) {
            return;
        }
        let contact = self.contacts.entry(peer.clone()).or_default();
        if room.is_some() {
            contact.dial_room = room;
        }
        contact.attempt = 0;
        if contact.dialing_since.is_none() && !self.links.values().any(|it| &it.peer == peer) {
            self.dial(peer);
        }
    }

    pub(super) fn dial(&mut self, peer: &Username) {
        if self.blocked.contains(peer) {
            return;
        }
        // The signaling server sees the metadata: it names nobody (no room id, no member). The original page
        // learns whom to merge with from a `connections` frame once the link shows it is one (`greet_legacy`).
        let metadata =
            LinkMetadata { peer_ids: Vec::new(), ours: Some(OurMetadata { version: wire::PROTOCOL_VERSION }) };
        let contact = self.contacts.entry(peer.clone()).or_default();
        contact.dialing_since = Some(self.now);
        self.output(Output::Dial { peer_id: peer.peer_id(), metadata: wire::encode_metadata(&metadata) });
    }

    /// True when we should be connected to `peer` but are not.
    pub(super) fn wants_link(&self, peer: &Username) -> bool {
        let is_contact = self.rooms.rooms.iter().any(|it| it.members.contains(peer))
            && peer != &self.me
            && !self.blocked.contains(peer);
        is_contact && !self.links.values().any(|it| &it.peer == peer)
    }

    pub(super) fn ready_link(&self, peer: &Username) -> Option<(LinkId, LinkKind)> {
        // The newest ready link wins; duplicates are closed as they become ready.
        let newest =
            self.links.iter().filter(|(_, it)| &it.peer == peer && it.is_ready()).max_by_key(|(_, it)| it.opened_at);
        newest.map(|(id, it)| (id.clone(), it.kind.clone()))
    }

    pub(super) fn ours_link(&self, peer: &Username) -> Option<LinkId> {
        self.ready_link(peer).filter(|(_, kind)| *kind == LinkKind::Ours).map(|(id, _)| id)
    }

    pub(super) fn become_ready(&mut self, link_id: &LinkId, kind: LinkKind) {
        let Some(link) = self.links.get_mut(link_id) else { return };
        let was_ready = link.is_ready();
        let upgraded = link.kind == LinkKind::Legacy && kind == LinkKind::Ours;
        if was_ready && !upgraded {
            return;
        }
        link.kind = kind.clone();
        let peer = link.peer.clone();
        if upgraded {
            self.leave_legacy_meshes(&peer);
        }
        self.close_duplicates(link_id);
        if !self.links.contains_key(link_id) {
            return;
        }
        if let Some(contact) = self.contacts.get_mut(&peer) {
            contact.attempt = 0;
            contact.dialing_since = None;
        }
        if !was_ready {
            self.event(ChatEvent::PeerOnline { username: peer.clone(), speaks_multichat: kind == LinkKind::Ours });
            self.event(ChatEvent::RoomsChanged);
        }
        match kind {
            LinkKind::Ours => self.greet_ours(link_id, &peer),
            LinkKind::Legacy => self.greet_legacy(link_id, &peer),
            LinkKind::Unknown => {}
        }
    }

    /// Two ready links to one peer: both ends keep the same one (the one dialed by the smaller username;
    /// between two dialed by the same side, the newer one). A link from an earlier session of the peer (it
    /// restarted) always gives way: it is dead, and keeping it would leave the peer unreachable until it is
    /// found silent.
    fn close_duplicates(&mut self, new_link: &LinkId) {
        let Some(new) = self.links.get(new_link).cloned() else { return };
        let others: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(id, it)| *id != new_link && it.peer == new.peer && it.is_ready())
            .map(|(id, _)| id.clone())
            .collect();
        for other_id in others {
            let other = &self.links[&other_id];
            let keep_new = match (new.session, other.session) {
                // The peer restarted since the other link was made: that link is dead, whatever the rule.
                // Only this end holds both links, so no agreement with the peer is needed.
                (Some(new_session), Some(other_session)) if new_session != other_session => true,
                _ if other.outgoing == new.outgoing => true,
                _ => {
                    let we_are_smaller = self.me < new.peer;
                    new.outgoing == we_are_smaller
                }
            };
            let loser = if keep_new { other_id } else { new_link.clone() };
            self.links.remove(&loser);
            self.output(Output::Close { link: loser.clone() });
            if &loser == new_link {
                return;
            }
        }
    }

    fn greet_ours(&mut self, link: &LinkId, peer: &Username) {
        // Rooms first (a newcomer must know a room before its history), then catch-up for each shared room.
        let groups: Vec<RoomId> = self.rooms.groups_with(peer).map(|it| it.id.clone()).collect();
        for room in &groups {
            self.send_room_info(link, room);
        }
        let shared: Vec<RoomId> = self.rooms.shared_with(peer).map(|it| it.id.clone()).collect();
        for room in shared {
            self.send_sync(link, &room);
        }
        self.tell_left(peer);
    }
}
