//! Time: one table of every deadline the node keeps, read both by [`ChatNode::poll_timeout`] (the earliest
//! row) and by [`ChatNode::handle_timeout`] (the rows that are due), so the two cannot disagree.

use std::collections::BTreeSet;

use super::{
    CATCHUP_PIECE_BYTES, ChatEvent, ChatNode, DEAD_AFTER_MS, DIAL_TIMEOUT_MS, FAILED_AFTER_MS, HELLO_GRACE_MS,
    HOLD_MAX_MS, LinkKind, Output, PING_EVERY_MS, RESEND_AFTER_MS,
};
use crate::account::Username;
use crate::chat::history::{self, DeliveryState};
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::wire::{self, ChatExtras, ChatFrame, Frame};
use crate::time::Millis;

/// The table's parts, in the order they are performed. Each part's rows are listed afresh once the parts
/// before it have run, because they change what it sees: a peer whose link was found dead is redialed in
/// the same step.
#[derive(Clone, Copy, Debug)]
enum Part {
    Links,
    Dials,
    Held,
    Outbox,
    Typing,
}

const PARTS: [Part; 5] = [Part::Links, Part::Dials, Part::Held, Part::Outbox, Part::Typing];

/// What the node does when a row of the table is due.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Due {
    /// A new link stayed silent about `mc.hello`: the peer is the original page.
    HelloGrace(LinkId),
    /// Our peer went silent: close the link and redial at once.
    Dead(LinkId),
    Ping(LinkId),
    /// A dial neither opened nor failed: give it up (a redial follows with backoff).
    DialTimeout(Username),
    /// A contact we lack: dial it.
    Redial(Username),
    /// Messages held back behind a gap: store them anyway (the gap may never be filled).
    Release(RoomId, Username),
    /// Our message was not acknowledged by everyone in time: show it as failed (it is still re-sent).
    Failed(RoomId, MessageId),
    /// Re-send our unacknowledged message to a connected recipient.
    Resend(RoomId, MessageId, Username),
    /// A member stopped typing a while ago: "… is typing" goes.
    TypingOver(RoomId, Username),
}

impl ChatNode {
    /// When [`ChatNode::handle_timeout`] should next be called: the earliest row of the deadline table.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.signed_out {
            return None;
        }
        PARTS.iter().flat_map(|part| self.deadlines(*part)).map(|(at, _)| at).min()
    }

    /// Performs every row of the deadline table that is due.
    pub(super) fn timers(&mut self) {
        for part in PARTS {
            for (at, due) in self.deadlines(part) {
                if at <= self.now {
                    self.perform(due);
                }
            }
        }
    }

    /// One part of the deadline table: every row is something that happens at its time.
    fn deadlines(&self, part: Part) -> Vec<(Millis, Due)> {
        let mut rows = Vec::new();
        match part {
            Part::Links => {
                for (id, link) in &self.links {
                    match link.kind {
                        // Our dialer is never taken for legacy, however late its hello.
                        LinkKind::Unknown if !link.dialer_is_ours => {
                            rows.push((link.opened_at.saturating_add(HELLO_GRACE_MS), Due::HelloGrace(id.clone())));
                        }
                        // Death first: a dead link is not pinged.
                        LinkKind::Ours => {
                            rows.push((link.last_heard.saturating_add(DEAD_AFTER_MS), Due::Dead(id.clone())));
                            rows.push((link.last_ping.saturating_add(PING_EVERY_MS), Due::Ping(id.clone())));
                        }
                        LinkKind::Unknown | LinkKind::Legacy => {}
                    }
                }
            }
            Part::Dials => {
                let mut peers: BTreeSet<Username> = self.rooms.contacts(&self.me);
                peers.extend(self.contacts.keys().cloned());
                for peer in peers {
                    let contact = self.contacts.get(&peer).cloned().unwrap_or_default();
                    match contact.dialing_since {
                        Some(since) => rows.push((since.saturating_add(DIAL_TIMEOUT_MS), Due::DialTimeout(peer))),
                        None if self.wants_link(&peer) => rows.push((contact.next_dial, Due::Redial(peer))),
                        None => {}
                    }
                }
            }
            Part::Held => {
                for ((room, sender), held) in &self.held {
                    if let Some(since) = held.values().map(|it| it.since).min() {
                        rows.push((since.saturating_add(HOLD_MAX_MS), Due::Release(room.clone(), sender.clone())));
                    }
                }
            }
            Part::Outbox => {
                for (room, history) in &self.histories {
                    for entry in &history.meta.outbox {
                        // Only a message in a loaded page can be marked or re-sent (the outbox's pages are
                        // always loaded; a damaged one is not).
                        let Some((_, message)) = history.find_near(entry.page, &entry.id) else { continue };
                        if message.state == Some(DeliveryState::Sending) {
                            let at = entry.sent_at.saturating_add(FAILED_AFTER_MS);
                            rows.push((at, Due::Failed(room.clone(), entry.id.clone())));
                        }
                        for member in &entry.waiting {
                            if self.ours_link(member).is_some() {
                                let key = (entry.id.clone(), member.clone());
                                let last = self.last_sent.get(&key).copied().unwrap_or(Millis(0));
                                let at = last.saturating_add(RESEND_AFTER_MS);
                                rows.push((at, Due::Resend(room.clone(), entry.id.clone(), member.clone())));
                            }
                        }
                    }
                }
            }
            Part::Typing => {
                for ((room, user), until) in &self.typing {
                    rows.push((*until, Due::TypingOver(room.clone(), user.clone())));
                }
            }
        }
        rows
    }

    /// Does what a due row says. A row listed before an earlier row's action removed its link does nothing.
    fn perform(&mut self, due: Due) {
        let now = self.now;
        match due {
            Due::HelloGrace(link_id) => {
                if self.links.contains_key(&link_id) {
                    self.become_ready(&link_id, LinkKind::Legacy);
                }
            }
            Due::Dead(link_id) => {
                let Some(link) = self.links.remove(&link_id) else { return };
                let peer = link.peer;
                self.output(Output::Close { link: link_id });
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
            Due::Ping(link_id) => {
                let Some(link) = self.links.get_mut(&link_id) else { return };
                link.last_ping = now;
                self.ping_counter += 1;
                let frame = wire::encode(&Frame::Ping { n: self.ping_counter });
                self.output(Output::Send { link: link_id, frame });
            }
            Due::DialTimeout(peer) => self.dial_failed(&peer),
            Due::Redial(peer) => {
                let contact = self.contacts.entry(peer.clone()).or_default();
                if contact.dial_room.is_none() {
                    contact.dial_room =
                        self.rooms.shared_with(&peer).find(|it| !it.id.is_direct()).map(|it| it.id.clone());
                }
                self.dial(&peer);
            }
            Due::Release(room, sender) => self.release_held(&(room, sender), true),
            Due::TypingOver(room, user) => self.stop_typing(&room, &user),
            Due::Failed(room, id) => {
                let history = self.histories.get_mut(&room).expect("rows are listed from the histories");
                if let Some(write) = history::set_state(&self.me, &room, history, &id, DeliveryState::Failed) {
                    self.stage_write(write);
                    self.event(ChatEvent::MessagesChanged { room });
                }
            }
            Due::Resend(room, id, member) => {
                let Some(link) = self.ours_link(&member) else { return };
                let Some((_, message)) = self.histories[&room].find(&id).filter(|(_, it)| !it.deleted) else { return };
                let frame = wire::encode(&Frame::Chat(ChatFrame {
                    sender: message.sender.clone(),
                    text: message.text.clone(),
                    timestamp: message.timestamp,
                    ours: Some(ChatExtras {
                        id: message.id.clone(),
                        seq: message.seq,
                        room: room.clone(),
                        sig: message.signature,
                        act: message.act.clone(),
                    }),
                }));
                self.last_sent.insert((id, member), now);
                // A long outbox (a member back after a long absence) is not re-sent all at once: that would
                // pass the engine's bound on the link's queued bytes, which closes it. Past this round's
                // share, a message waits for the next round; catch-up serves the member meanwhile.
                let Some(state) = self.links.get_mut(&link) else { return };
                if now.saturating_sub(state.resent.0) >= RESEND_AFTER_MS {
                    state.resent = (now, 0);
                }
                let len = wire::encoded_len(&frame);
                if state.resent.1 > 0 && state.resent.1.saturating_add(len) > CATCHUP_PIECE_BYTES {
                    return;
                }
                state.resent.1 = state.resent.1.saturating_add(len);
                self.output(Output::Send { link, frame });
            }
        }
    }
}
