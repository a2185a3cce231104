//! The engine's reports, the chat timer, and the history pages storage returns: what comes in from peers.

use super::{Arrival, Effect, WorkerModel};
use crate::bridge::{EngineToWorker, LinkId, LinkInfo, WorkerToEngine};
use crate::chat::{ChatEvent, Command, Input, Output};
use crate::peerjs::Serialization;
use crate::storage::{self, Key, Snapshot};
use crate::time::Millis;

impl WorkerModel {
    /// Handles a report from the engine. The [`Effect::Engine`]s it queues are the engine's next commands.
    /// `random`: 32 fresh random bytes, for the identity handshake of links that come up (and for sealing).
    pub fn handle_engine(&mut self, message: EngineToWorker, now: Millis, random: [u8; 32]) {
        self.begin(random);
        match message {
            EngineToWorker::Hello { status, links } => {
                self.engine = status;
                self.command(self.engine_config());
                for (index, info) in links.into_iter().enumerate() {
                    let mut seed = random;
                    seed[0] ^= index as u8;
                    seed[1] ^= (index >> 8) as u8;
                    if let Some(reason) = self.gate.as_mut().and_then(|gate| gate.link_up(&info, seed)) {
                        self.refuse_link(info.link, info.peer_id, reason);
                        continue;
                    }
                    let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                    self.chat_input(now, Input::LinkResumed { link, peer_id, metadata, outgoing });
                }
                self.chat_input(now, Input::EngineGreeted);
            }
            EngineToWorker::Status { status } => self.engine = status,
            EngineToWorker::LinkUp { info } => {
                if let Some(reason) = self.gate.as_mut().and_then(|gate| gate.link_up(&info, random)) {
                    self.refuse_link(info.link, info.peer_id, reason);
                } else {
                    let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                    self.unreachable.remove(&peer_id);
                    self.warnings.remove(&peer_id);
                    self.chat_input(now, Input::LinkUp { link, peer_id, metadata, outgoing });
                }
            }
            EngineToWorker::Frame { link, frame } => self.gated_frame(now, link, frame),
            EngineToWorker::LinkDown { link, reason: _ } => {
                if let Some(gate) = self.gate.as_mut() {
                    gate.link_down(&link);
                }
                self.chat_input(now, Input::LinkDown { link });
            }
            EngineToWorker::DialFailed { peer_id, reason } => {
                self.unreachable.insert(peer_id.clone(), reason);
                self.chat_input(now, Input::DialFailed { peer_id });
            }
        }
        self.finish(now);
        self.view_changed();
        self.end_input();
    }

    /// A frame from a peer, through the identity gate: handshake frames stay there, chat frames go on once the
    /// link is trusted, and a link that fails is closed with the reason shown on its member.
    fn gated_frame(&mut self, now: Millis, link: LinkId, frame: serde_json::Value) {
        let Some(gate) = self.gate.as_mut() else {
            self.chat_input(now, Input::Frame { link, frame });
            return;
        };
        let inbound = gate.inbound(&link, frame, now);
        if inbound.contacts_changed
            && !self.contacts_read_only
            && let Some(account) = &self.loaded.account
        {
            let write = storage::set(Key::Contacts(account.username.clone()), &gate.contacts().to_value());
            self.write(vec![write]);
        }
        if let Some((peer_id, reason)) = inbound.close {
            self.unreachable.insert(peer_id, reason);
            self.command(WorkerToEngine::Close { link: link.clone() });
            self.chat_input(now, Input::LinkDown { link });
            return;
        }
        if let Some((peer_id, text)) = inbound.warning {
            self.warnings.insert(peer_id, text);
        }
        if let Some(user) = inbound.new_key_from.filter(|_| !self.popup_open) {
            let title = format!("{user}'s identity key changed");
            let text = format!("Open multichat to accept or reject it. Until then, messages from {user} are held.");
            self.notify(Arrival { sender: title.clone(), text, room_title: title });
        }
        for frame in inbound.to_chat {
            self.chat_input(now, Input::Frame { link: link.clone(), frame });
        }
        for frame in inbound.send {
            self.command(WorkerToEngine::Send { link: link.clone(), frame });
        }
    }

    /// Closes a link the gate refused before the chat node ever saw it, and shows why on its member.
    fn refuse_link(&mut self, link: LinkId, peer_id: String, reason: String) {
        self.unreachable.insert(peer_id, reason);
        self.command(WorkerToEngine::Close { link });
    }

    /// Hands back the records an [`Effect::Read`] asked for, as storage holds them (the model opens them).
    pub fn handle_read(&mut self, found: Snapshot, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let opened = self.vault.incoming(found);
        self.add_problems(opened.problems.iter().map(ToString::to_string));
        self.chat_input(now, Input::Read(opened.snapshot));
        self.finish(now);
        self.view_changed();
        self.end_input();
    }

    /// The chat timer fired (pings, liveness, re-sends). `random`: 32 fresh random bytes, for sealing.
    pub fn handle_timeout(&mut self, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let expired = self.gate.as_mut().map(|gate| gate.handle_timeout(now)).unwrap_or_default();
        for (link, peer_id, reason) in expired {
            self.unreachable.insert(peer_id, reason);
            self.view_changed();
            self.command(WorkerToEngine::Close { link: link.clone() });
            self.chat_input(now, Input::LinkDown { link });
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_timeout(now);
        }
        self.drain_chat(now);
        self.finish(now);
        self.end_input();
    }

    pub(super) fn chat_input(&mut self, now: Millis, input: Input) {
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_input(now, input);
        }
        self.drain_chat(now);
    }

    /// Keeps the shown room read while a popup shows it.
    pub(super) fn finish(&mut self, now: Millis) {
        let shown_unread = self.popup_open
            && self
                .selected_room
                .as_ref()
                .zip(self.chat.as_ref())
                .is_some_and(|(room, chat)| chat.room_views().iter().any(|it| &it.id == room && it.unread > 0));
        if shown_unread {
            let room = self.selected_room.clone().expect("checked above");
            if let Some(chat) = self.chat.as_mut() {
                let _ = chat.handle_command(now, Command::MarkRead { room });
            }
            self.drain_chat(now);
        }
    }

    /// Queues everything the chat node asked for, its writes ahead of the rest (so a message is stored before
    /// its acknowledgement leaves).
    pub(super) fn drain_chat(&mut self, now: Millis) {
        let Some(chat) = self.chat.as_mut() else { return };
        let mut writes = Vec::new();
        let mut rest = Vec::new();
        let mut stored = Vec::new();
        let mut dropped = Vec::new();
        let mut changed = false;
        while let Some(output) = chat.poll_output() {
            match output {
                Output::Write(more) => writes.extend(more),
                Output::Send { link, frame } => {
                    let frames = match self.gate.as_mut() {
                        Some(gate) => gate.outbound(&link, frame),
                        None => vec![frame],
                    };
                    for frame in frames {
                        rest.push(Effect::Engine(WorkerToEngine::Send { link: link.clone(), frame }));
                    }
                }
                Output::Dial { peer_id, metadata } => rest.push(Effect::Engine(WorkerToEngine::Dial {
                    peer_id,
                    metadata,
                    serialization: Serialization::Json,
                })),
                Output::Close { link } => rest.push(Effect::Engine(WorkerToEngine::Close { link })),
                Output::Read { keys } => rest.push(Effect::Read(keys)),
                Output::Event(ChatEvent::FrameDropped { peer_id, reason }) => {
                    dropped.push(format!("dropped a frame from {peer_id}: {reason}"));
                }
                Output::Event(event) => {
                    changed = true;
                    match event {
                        ChatEvent::MessageStored { room, id, incoming: true } => stored.push((room, id)),
                        ChatEvent::HistoryProblem(problem) => self.history_problems.push(problem.to_string()),
                        // A known contact whose link never said hello (it acts as the original page): the
                        // handshake may have been stripped by someone in the middle posing as that page.
                        ChatEvent::PeerOnline { username, speaks_multichat: false }
                            if self.gate.as_ref().is_some_and(|gate| gate.contacts().get(&username).is_some()) =>
                        {
                            self.warnings.insert(username.peer_id(), crate::auth_gate::downgrade_warning(&username));
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut arrivals = Vec::new();
        // Finding the message and its room's title is work a flood would pay per frame: only for a notification.
        let notify = self.loaded.settings.notifications;
        for (room, id) in stored.into_iter().filter(|_| notify) {
            if self.popup_open && self.selected_room.as_ref() == Some(&room) {
                continue;
            }
            let Some(history) = chat.history(&room) else { continue };
            let Some((_, message)) = history.find(&id) else { continue };
            let room_title =
                chat.room_views().into_iter().find(|it| it.id == room).map(|it| it.title).unwrap_or_default();
            arrivals.push(Arrival { sender: message.sender.to_string(), text: message.text.clone(), room_title });
        }
        self.write(writes);
        for effect in rest {
            self.push(effect);
        }
        for arrival in arrivals {
            self.notify(arrival);
        }
        for reason in dropped {
            self.log_dropped(now, &reason);
        }
        if changed {
            self.view_changed();
        }
    }

    fn notify(&mut self, arrival: Arrival) {
        if self.notifications_enabled() {
            self.push(Effect::Notify(arrival));
        }
    }
}
