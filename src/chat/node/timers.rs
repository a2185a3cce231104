//! Time: every deadline the node keeps, and what happens when it is due.

use super::*;

impl ChatNode {
    /// When [`ChatNode::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.signed_out {
            return None;
        }
        let mut deadlines: Vec<Millis> = Vec::new();
        for link in self.links.values() {
            match link.kind {
                LinkKind::Unknown if !link.dialer_is_ours => {
                    deadlines.push(link.opened_at.saturating_add(HELLO_GRACE_MS))
                }
                LinkKind::Unknown => {}
                LinkKind::Ours => {
                    deadlines.push(link.last_ping.saturating_add(PING_EVERY_MS));
                    deadlines.push(link.last_heard.saturating_add(DEAD_AFTER_MS));
                }
                LinkKind::Legacy => {}
            }
        }
        let mut peers = self.rooms.contacts(&self.me);
        peers.extend(self.contacts.keys().cloned());
        for peer in peers {
            let contact = self.contacts.get(&peer).cloned().unwrap_or_default();
            match contact.dialing_since {
                Some(since) => deadlines.push(since.saturating_add(DIAL_TIMEOUT_MS)),
                None if self.wants_link(&peer) => deadlines.push(contact.next_dial),
                None => {}
            }
        }
        for history in self.histories.values() {
            for entry in &history.meta.outbox {
                if self.state_of(history, &entry.id) == Some(DeliveryState::Sending) {
                    deadlines.push(entry.sent_at.saturating_add(FAILED_AFTER_MS));
                }
                for member in &entry.waiting {
                    if self.ours_link(member).is_some() {
                        let last =
                            self.last_sent.get(&(entry.id.clone(), member.clone())).copied().unwrap_or(Millis(0));
                        deadlines.push(last.saturating_add(RESEND_AFTER_MS));
                    }
                }
            }
        }
        for held in self.held.values() {
            deadlines.extend(held.values().map(|it| it.since.saturating_add(HOLD_MAX_MS)));
        }
        deadlines.into_iter().min()
    }

    // -----------------------------------------------------------------------------------------------------
    // Time.

    pub(super) fn timers(&mut self) {
        let now = self.now;
        // Links: hello grace, liveness.
        let link_ids: Vec<LinkId> = self.links.keys().cloned().collect();
        for link_id in link_ids {
            let Some(link) = self.links.get(&link_id) else { continue };
            match link.kind {
                LinkKind::Unknown if !link.dialer_is_ours && now.saturating_sub(link.opened_at) >= HELLO_GRACE_MS => {
                    self.become_ready(&link_id, LinkKind::Legacy);
                }
                LinkKind::Ours if now.saturating_sub(link.last_heard) >= DEAD_AFTER_MS => {
                    let peer = link.peer.clone();
                    self.links.remove(&link_id);
                    self.output(Output::Close { link: link_id.clone() });
                    self.event(ChatEvent::PeerDead { username: peer.clone() });
                    if !self.is_online(&peer) {
                        self.event(ChatEvent::PeerOffline { username: peer.clone() });
                        self.event(ChatEvent::RoomsChanged);
                    }
                    // Redial at once: the peer may well be there, behind a dead connection.
                    let contact = self.contacts.entry(peer).or_default();
                    contact.attempt = 0;
                    contact.next_dial = now;
                }
                LinkKind::Ours if now.saturating_sub(link.last_ping) >= PING_EVERY_MS => {
                    self.ping_counter += 1;
                    let frame = wire::encode(&Frame::Ping { n: self.ping_counter });
                    if let Some(link) = self.links.get_mut(&link_id) {
                        link.last_ping = now;
                    }
                    self.output(Output::Send { link: link_id, frame });
                }
                _ => {}
            }
        }
        // Dials: time out, and redial every contact we lack.
        let mut wanted: BTreeSet<Username> = self.rooms.contacts(&self.me);
        wanted.extend(self.contacts.keys().cloned());
        for peer in wanted {
            let contact = self.contacts.entry(peer.clone()).or_default();
            if let Some(since) = contact.dialing_since {
                if now.saturating_sub(since) >= DIAL_TIMEOUT_MS {
                    self.dial_failed(&peer);
                }
                continue;
            }
            if self.wants_link(&peer) && self.contacts[&peer].next_dial <= now {
                if self.contacts[&peer].dial_room.is_none() {
                    let room = self.rooms.shared_with(&peer).find(|it| !it.id.is_direct()).map(|it| it.id.clone());
                    self.contacts.get_mut(&peer).expect("the contact was just inserted").dial_room = room;
                }
                self.dial(&peer);
            }
        }
        // Held messages: store them anyway after a while (the gap may never be filled).
        let keys: Vec<(RoomId, Username)> = self
            .held
            .iter()
            .filter(|(_, held)| held.values().any(|it| now.saturating_sub(it.since) >= HOLD_MAX_MS))
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.release_held(&key, true);
        }
        // Outbox: re-send to connected recipients, and mark long-unacknowledged messages failed.
        let rooms: Vec<RoomId> = self.histories.keys().cloned().collect();
        for room in rooms {
            let entries = self.histories[&room].meta.outbox.clone();
            for entry in entries {
                if now.saturating_sub(entry.sent_at) >= FAILED_AFTER_MS {
                    let history = self.histories.get_mut(&room).expect("rooms were listed from the histories");
                    if let Some(write) = history::set_state(&self.me, &room, history, &entry.id, DeliveryState::Failed)
                    {
                        self.stage_write(write);
                        self.event(ChatEvent::MessagesChanged { room: room.clone() });
                    }
                }
                for member in &entry.waiting {
                    let Some(link) = self.ours_link(member) else { continue };
                    let key = (entry.id.clone(), member.clone());
                    let last = self.last_sent.get(&key).copied().unwrap_or(Millis(0));
                    if now.saturating_sub(last) < RESEND_AFTER_MS {
                        continue;
                    }
                    let Some((_, message)) = self.histories[&room].find(&entry.id) else { continue };
                    let frame = wire::encode(&Frame::Chat(ChatFrame {
                        sender: message.sender.clone(),
                        text: message.text.clone(),
                        timestamp: message.timestamp,
                        ours: Some(ChatExtras { id: message.id.clone(), seq: message.seq, room: room.clone() }),
                    }));
                    self.last_sent.insert(key, now);
                    self.output(Output::Send { link, frame });
                }
            }
        }
    }

    fn state_of(&self, history: &RoomHistory, id: &MessageId) -> Option<DeliveryState> {
        history.find(id).and_then(|(_, it)| it.state)
    }
}
