//! The engine's reports, the chat timer, and the history pages storage returns: what comes in from peers.

use super::{Arrival, Effect, WorkerModel};
use crate::account::Username;
use crate::auth_gate::{Alert, AlertKind, ChatLinkUp, Closing, GateOutput};
use crate::bridge::{EngineToWorker, LinkInfo, WorkerToEngine};
use crate::chat::names::display_name;
use crate::chat::{ChatEvent, Command, Input, Output};
use crate::entropy::Entropy;
use crate::peerjs::Serialization;
use crate::phrase::{Code, Phrase};
use crate::storage::{self, Key, Snapshot};
use crate::time::Millis;

impl WorkerModel {
    /// Handles a report from the engine. The [`Effect::Engine`]s it queues are the engine's next commands.
    /// `random`: 32 fresh random bytes, for the identity handshake of links that come up (and for sealing).
    pub fn handle_engine(&mut self, message: EngineToWorker, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let entropy = Entropy::new(random);
        match message {
            EngineToWorker::Hello { status, links } => {
                self.engine = status;
                self.command(self.engine_config());
                for (index, info) in links.into_iter().enumerate() {
                    let handshake = entropy.handshake(index as u64);
                    match self.gate.as_mut() {
                        Some(gate) => {
                            let out = gate.link_resumed(info, handshake, now);
                            self.perform_gate(now, out);
                        }
                        None => {
                            let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                            self.chat_input(now, Input::LinkResumed { link, peer_id, metadata, outgoing });
                        }
                    }
                }
                self.chat_input(now, Input::EngineGreeted);
            }
            EngineToWorker::Status { status } => self.engine = status,
            EngineToWorker::LinkUp { info } => {
                self.unreachable.remove(&info.peer_id);
                match self.gate.as_mut() {
                    // The chat node hears of the link only when the gate says so (`to_chat_link_up`).
                    Some(gate) => {
                        let out = gate.link_up(info, entropy.handshake(0), now);
                        self.perform_gate(now, out);
                    }
                    None => {
                        let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                        self.chat_input(now, Input::LinkUp { link, peer_id, metadata, outgoing });
                    }
                }
            }
            EngineToWorker::Frame { link, frame } => match self.gate.as_mut() {
                Some(gate) => {
                    let out = gate.inbound(&link, frame, now);
                    self.perform_gate(now, out);
                }
                None if crate::transfer::wire::is_file_frame(&frame) => self.file_frame(now, &link, &frame),
                None => self.chat_input(now, Input::Frame { link, frame }),
            },
            // A file chunk changes the view only as its progress shows (`files.rs`).
            EngineToWorker::Chunk { link, data } => {
                self.file_chunk(now, &link, data);
                return self.end_input();
            }
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
        self.sync_file_links(now);
        self.finish(now);
        self.view_changed();
        self.end_input();
    }

    /// Performs what the identity gate decided, in the order [`GateOutput`] documents: the contact book
    /// stored, refused links closed (with the reason on the member), the handshake sent, then what the chat
    /// node may learn (links, each proved key before any frame of its link, frames, failed dials), then
    /// what the user is told.
    pub(super) fn perform_gate(&mut self, now: Millis, out: GateOutput) {
        let GateOutput {
            contacts_changed,
            close,
            send,
            to_chat_link_up,
            to_chat,
            alerts,
            warnings,
            first_contact,
            dial_failed,
            logs,
        } = out;
        for line in logs {
            self.log_dropped(now, &line);
        }
        if contacts_changed {
            self.store_contacts();
        }
        for Closing { link, peer_id, reason } in close {
            self.unreachable.insert(peer_id, reason);
            self.command(WorkerToEngine::Close { link: link.clone() });
            self.chat_input(now, Input::LinkDown { link });
        }
        for (link, frame) in send {
            self.command(WorkerToEngine::Send { link, frame });
        }
        for ChatLinkUp { link, peer_id, metadata, outgoing, resumed } in to_chat_link_up {
            self.unreachable.remove(&peer_id);
            self.tell_pinned_key(now, &peer_id);
            let input = if resumed {
                Input::LinkResumed { link, peer_id, metadata, outgoing }
            } else {
                Input::LinkUp { link, peer_id, metadata, outgoing }
            };
            self.chat_input(now, input);
        }
        for (link, frame) in to_chat {
            if crate::transfer::wire::is_file_frame(&frame) {
                self.file_frame(now, &link, &frame);
            } else {
                self.chat_input(now, Input::Frame { link, frame });
            }
        }
        for peer_id in dial_failed {
            self.chat_input(now, Input::DialFailed { peer_id });
        }
        for alert in alerts {
            self.alert(alert);
        }
        for (peer_id, text) in warnings {
            self.warnings.insert(peer_id, text);
        }
        if !first_contact.is_empty() {
            // The conversation says so while the contact's key is `Pinned` (see the view).
            self.view_changed();
        }
    }

    /// The chat node may learn of a link of `peer_id`: it learns the username's pinned key first (to check
    /// that author's signatures), before any frame of the link reaches it. The pinned key is the one the
    /// user trusts: the link proved it, the user accepted it, or (a contact allowed unverified) messages
    /// signed with it are still theirs, and nothing else can be signed with it.
    pub(super) fn tell_pinned_key(&mut self, now: Millis, peer_id: &str) {
        let Some(username) = Username::from_peer_id(peer_id) else { return };
        let Some(key) = self.gate.as_ref().and_then(|gate| gate.contacts().get(&username)).map(|it| it.key) else {
            return;
        };
        self.chat_input(now, Input::PeerKey { username, key });
    }

    /// A red warning about a contact: shown from the contact book while it waits for the user, and a
    /// notification the first time (even with a popup open: the user must learn of it).
    fn alert(&mut self, alert: Alert) {
        self.view_changed();
        if !alert.first_time {
            return;
        }
        let user = &alert.username;
        let (title, text) = match alert.kind {
            AlertKind::Unproved(how) => {
                (Phrase::new(Code::NotifyUnprovedTitle).with(user), crate::auth_gate::unproved_phrase(user, how))
            }
            AlertKind::KeyChanged { .. } => {
                (Phrase::new(Code::NotifyKeyChangedTitle).with(user), Phrase::new(Code::NotifyKeyChanged).with(user))
            }
        };
        let notification_id = format!("multichat-contact-{user}");
        self.notify(Arrival { title, text, notification_id });
    }

    /// Stores the gate's contact book (unless the stored one was damaged: it is kept as it was).
    pub(super) fn store_contacts(&mut self) {
        if self.contacts_read_only {
            return;
        }
        let (Some(gate), Some(account)) = (self.gate.as_ref(), self.loaded.account.as_ref()) else { return };
        let write = storage::set(Key::Contacts(account.username.clone()), &gate.contacts().to_value());
        self.write(vec![write]);
    }

    /// Hands back the records an [`Effect::Read`] asked for, as storage holds them (the model opens them).
    pub fn handle_read(&mut self, found: Snapshot, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let opened = self.vault.incoming(found);
        self.add_problems(opened.problems.iter().map(super::passphrase_phrase));
        self.chat_input(now, Input::Read(opened.snapshot));
        self.finish(now);
        self.view_changed();
        self.end_input();
    }

    /// The chat timer fired (pings, liveness, re-sends). `random`: 32 fresh random bytes, for sealing.
    pub fn handle_timeout(&mut self, now: Millis, random: [u8; 32]) {
        self.begin(random);
        if let Some(gate) = self.gate.as_mut() {
            let out = gate.handle_timeout(now);
            self.perform_gate(now, out);
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
        let mut indexed = Vec::new();
        let mut dropped = Vec::new();
        let mut invited = Vec::new();
        let mut requested = Vec::new();
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
                        ChatEvent::MessageStored { room, id, incoming } => {
                            indexed.push((room.clone(), id.clone()));
                            if incoming {
                                stored.push((room, id));
                            }
                        }
                        ChatEvent::HistoryProblem(problem) => {
                            self.history_problems.push(super::history_phrase(&problem))
                        }
                        ChatEvent::PendingProblem(problem) => self.history_problems.push(problem),
                        // One quiet notification per request (not per message), all under one id, so a
                        // flood of strangers replaces one notification rather than piling them up.
                        ChatEvent::Requested { from } => {
                            let from = display_name(from.as_str());
                            requested.push(Arrival {
                                title: Code::NotifyRequestTitle.into(),
                                text: Phrase::new(Code::NotifyRequest).with(from),
                                notification_id: "multichat-requests".to_owned(),
                            });
                        }
                        ChatEvent::Invited { room, name, inviter } => {
                            let inviter = display_name(inviter.as_str());
                            let name = display_name(&name);
                            invited.push(Arrival {
                                title: Arrival::title_for(&inviter, &name),
                                text: Phrase::new(Code::NotifyInvite).with(&inviter).with(&name),
                                notification_id: format!("multichat-invitation-{room}"),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut arrivals = Vec::new();
        // Finding the message and its room's title is work a flood would pay per frame: only for a notification.
        let notify = self.loaded.settings.notifications;
        let hide_text = self.loaded.settings.hide_notification_text;
        for (room, id) in stored.into_iter().filter(|_| notify) {
            if self.popup_open && self.selected_room.as_ref() == Some(&room) {
                continue;
            }
            let Some(history) = chat.history(&room) else { continue };
            let Some((_, message)) = history.find(&id) else { continue };
            let Some(view) = chat.room_views().into_iter().find(|it| it.id == room) else { continue };
            // A muted conversation counts the message as unread and says nothing.
            if view.prefs.muted {
                continue;
            }
            arrivals.push(Arrival {
                title: Arrival::title_for(&display_name(message.sender.as_str()), &view.title),
                text: if hide_text { Code::NotifyHidden.into() } else { Phrase::new(Code::Text).with(&message.text) },
                notification_id: view.notification_id(),
            });
        }
        self.index_stored(&indexed);
        self.write(writes);
        for effect in rest {
            self.push(effect);
        }
        for arrival in arrivals.into_iter().chain(invited).chain(requested) {
            self.notify(arrival);
        }
        for reason in dropped {
            self.log_dropped(now, &reason);
        }
        if changed {
            self.view_changed();
        }
    }

    pub(super) fn notify(&mut self, arrival: Arrival) {
        if self.notifications_enabled() {
            self.push(Effect::Notify(arrival));
        }
    }
}
