//! Rooms and catch-up: room info, `mc.sync`, serving what a peer lacks, and reading older pages.

use super::{CATCHUP_PIECE_BYTES, ChatEvent, ChatNode, Output, PendingServe};
use crate::chat::history;
use crate::chat::ids::{LinkId, RoomId};
use crate::chat::room::Invitation;
use crate::chat::wire::{self, Frame, RoomInfo, WireMessage};
use crate::storage::Snapshot;

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Rooms and catch-up.

    /// Sends a room's membership to one linked member: every member, with every invitation we hold (the
    /// peer's own first), in as many `mc.room` frames as the invitations need to stay under the frame limit.
    pub(super) fn send_room_info(&mut self, link: &LinkId, room: &RoomId) {
        let Some(record) = self.rooms.get(room) else { return };
        let Some(peer) = self.links.get(link).map(|it| it.peer.clone()) else { return };
        let name = record.name().unwrap_or_default().to_owned();
        let members = record.members.clone();
        let theirs = record.invitations.get(&peer).cloned();
        let mut others: Vec<Invitation> =
            record.invitations.values().filter(|it| it.invitee != peer).cloned().collect();
        let frame = |invites: Vec<Invitation>| {
            wire::encode(&Frame::Room(RoomInfo {
                room: room.clone(),
                name: name.clone(),
                members: members.clone(),
                invites,
            }))
        };
        let base: Vec<Invitation> = theirs.into_iter().collect();
        let mut frames = Vec::new();
        let mut chunk = base.clone();
        let mut size = wire::encoded_len(&frame(base.clone()));
        for invitation in others.drain(..) {
            let len = wire::encoded_len(&wire::encode_invitation(&invitation)) + 1;
            if chunk.len() > base.len() && size + len > wire::MAX_FRAME_BYTES {
                frames.push(frame(std::mem::replace(&mut chunk, base.clone())));
                size = wire::encoded_len(&frame(base.clone()));
            }
            size += len;
            chunk.push(invitation);
        }
        frames.push(frame(chunk));
        for frame in frames {
            self.output(Output::Send { link: link.clone(), frame });
        }
    }

    /// Sends the room's membership to every connected member that speaks our protocol.
    pub(super) fn announce_room(&mut self, room: &RoomId) {
        for link in self.ours_links_in(room) {
            self.send_room_info(&link, room);
        }
    }

    pub(super) fn ours_links_in(&self, room: &RoomId) -> Vec<LinkId> {
        let Some(record) = self.rooms.get(room) else { return Vec::new() };
        record.others(&self.me).filter_map(|it| self.ours_link(it)).collect()
    }

    pub(super) fn send_sync(&mut self, link: &LinkId, room: &RoomId) {
        let heads = self
            .histories
            .get(room)
            .map(|it| it.meta.senders.iter().map(|(sender, progress)| (sender.clone(), progress.contiguous)).collect())
            .unwrap_or_default();
        self.output(Output::Send {
            link: link.clone(),
            frame: wire::encode(&Frame::Sync { room: room.clone(), heads }),
        });
    }

    /// Serves a piece of what `needed` asks for: first reads older pages until every needed message is
    /// found (or none is left to read), then sends the oldest of them (per sender, by seq, so the peer
    /// stores them in order) up to [`CATCHUP_PIECE_BYTES`]. The rest is asked for again: a pulling peer's
    /// next `mc.sync` answers the piece's last batch (`pull`), any other peer's comes with its next link.
    /// What this link was served before is not sent again, so each piece sends something new or nothing.
    pub(super) fn serve(&mut self, mut pending: PendingServe) {
        let Some(link) = self.links.get_mut(&pending.link) else { return };
        for (sender, seqs) in &mut pending.needed {
            if let Some(served) = link.served.get(&(pending.room.clone(), sender.clone())) {
                seqs.retain(|it| !served.has(*it));
            }
        }
        pending.needed.retain(|_, seqs| !seqs.is_empty());
        let Some(history) = self.histories.get(&pending.room).filter(|_| !pending.needed.is_empty()) else {
            self.piece_done(&pending, false);
            return;
        };
        let mut left = pending.needed.clone();
        let mut found: Vec<WireMessage> = Vec::new();
        for message in history.loaded_messages() {
            if let Some(seqs) = left.get_mut(&message.sender) {
                // A tombstone is never relayed: the author's delete, served in its turn, fills the slot.
                if seqs.remove(&message.seq) && !message.deleted {
                    found.push(WireMessage {
                        id: message.id.clone(),
                        sender: message.sender.clone(),
                        seq: message.seq,
                        text: message.text.clone(),
                        timestamp: message.timestamp,
                        sig: message.signature,
                        act: message.act.clone(),
                    });
                }
            }
        }
        left.retain(|_, seqs| !seqs.is_empty());
        if let (false, Some(page)) = (left.is_empty(), history.next_older_page()) {
            let room = pending.room.clone();
            self.pending_serves.push(pending);
            self.read_page(&room, page);
            return;
        }
        found.sort_by(|a, b| (&a.sender, a.seq).cmp(&(&b.sender, b.seq)));
        let mut piece_bytes = 0;
        let in_piece = found
            .iter()
            .take_while(|message| {
                piece_bytes += wire::encoded_len(&wire::encode_wire_message(message)) + 1;
                piece_bytes <= CATCHUP_PIECE_BYTES
            })
            .count();
        found.truncate(in_piece.max(1));
        if let Some(link) = self.links.get_mut(&pending.link) {
            for message in &found {
                link.served.entry((pending.room.clone(), message.sender.clone())).or_default().record(message.seq);
            }
        }
        // Our own messages in the batch count as re-sent: the outbox timer need not send them again.
        if let Some(peer) = self.links.get(&pending.link).map(|it| it.peer.clone()) {
            for message in found.iter().filter(|it| it.sender == self.me) {
                self.last_sent.insert((message.id.clone(), peer.clone()), self.now);
            }
        }
        let sent_any = !found.is_empty();
        self.send_batches(&pending.link, &pending.room, found, pending.piece);
        self.piece_done(&pending, sent_any);
    }

    /// A piece was served. One that sent something keeps its room's slot until the peer asks for the next;
    /// one that sent nothing frees it for a room waiting on this link.
    fn piece_done(&mut self, pending: &PendingServe, sent_any: bool) {
        if !pending.piece || sent_any {
            return;
        }
        if let Some(link) = self.links.get_mut(&pending.link) {
            link.pieces_out.remove(&pending.room);
        }
        self.serve_deferred(&pending.link);
    }

    /// Sends `messages` in as few `mc.batch` frames as the frame limit allows; with `pull`, the last one
    /// asks the peer for the next piece.
    fn send_batches(&mut self, link: &LinkId, room: &RoomId, messages: Vec<WireMessage>, pull: bool) {
        // Envelope plus slack for the room id; messages are added while the frame stays under the limit.
        const ENVELOPE_BYTES: usize = 200;
        let mut batches: Vec<Vec<WireMessage>> = Vec::new();
        let mut batch: Vec<WireMessage> = Vec::new();
        let mut size = ENVELOPE_BYTES;
        for message in messages {
            let len = wire::encoded_len(&wire::encode_wire_message(&message)) + 1;
            if !batch.is_empty() && size + len > wire::MAX_FRAME_BYTES {
                batches.push(std::mem::take(&mut batch));
                size = ENVELOPE_BYTES;
            }
            size += len;
            batch.push(message);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        let last = batches.len().saturating_sub(1);
        for (index, messages) in batches.into_iter().enumerate() {
            let frame = Frame::Batch { room: room.clone(), messages, pull: pull && index == last };
            self.output(Output::Send { link: link.clone(), frame: wire::encode(&frame) });
        }
    }

    pub(super) fn read_page(&mut self, room: &RoomId, page: u32) {
        let key = history::page_key(&self.me, room, page);
        if self.reading.insert(key.clone()) {
            self.output(Output::Read { keys: vec![key] });
        }
    }

    pub(super) fn pages_read(&mut self, snapshot: &Snapshot) {
        for key in snapshot.0.keys() {
            self.reading.remove(key);
        }
        let rooms: Vec<RoomId> = self.histories.keys().cloned().collect();
        for room in rooms {
            let prefix = format!("h/{}/{}/", self.me, room);
            let has_pages = snapshot.0.keys().any(|key| key.starts_with(&prefix));
            let history = self.histories.get_mut(&room).expect("rooms were listed from the histories");
            if !has_pages {
                continue;
            }
            let problems = history::absorb_pages(&self.me, &room, snapshot, history);
            for problem in problems {
                self.event(ChatEvent::HistoryProblem(problem));
            }
            self.event(ChatEvent::MessagesChanged { room: room.clone() });
            let (mine, others): (Vec<PendingServe>, Vec<PendingServe>) =
                std::mem::take(&mut self.pending_serves).into_iter().partition(|it| it.room == room);
            self.pending_serves = others;
            for pending in mine {
                self.serve(pending);
            }
        }
    }
}
