//! What the popup shows: the [`View`] of the model, built only when a popup needs it.

use std::collections::{BTreeMap, BTreeSet};

use super::WorkerModel;
use super::search::FocusedWindow;
use crate::account::Username;
use crate::auth_gate::{LinkGate, first_contact_phrase, unproved_phrase};
use crate::bridge::{
    AccountView, InvitationView, LastMessage, MemberSummary, MessageState, MessageView, OpenRoom, QuoteView,
    ReactionView, RequestView, RoomSummary, View,
};
use crate::chat::fold::{self, Shown};
use crate::chat::names::display_name;
use crate::chat::{ChatNode, DeliveryState, MessageId, RoomId, RoomView};
use crate::identity::{PublicKey, TrustState, safety_number};
use crate::phrase::{Code, Phrase};

/// What the view says about a member's key.
#[derive(Default)]
pub(super) struct Trust {
    pub safety_number: Option<String>,
    pub verified: bool,
    pub new_key_safety_number: Option<String>,
    /// The red warning: a link as this contact did not prove the pinned key, and the user has not decided.
    pub unproved: Option<Phrase>,
    /// The key was pinned on first contact and is not verified yet.
    pub key_notice: Option<Phrase>,
    /// A key of theirs is pinned, or the conversation holds a message of theirs: we reached them before.
    pub reached: bool,
}

impl WorkerModel {
    pub fn view(&self) -> View {
        let mut rooms: Vec<RoomView> = self.chat.as_ref().map(ChatNode::room_views).unwrap_or_default();
        // Pinned conversations first; the order within each part stays most recent first.
        rooms.sort_by_key(|it| !it.prefs.pinned);
        let open_room = self.selected_room.as_ref().and_then(|selected| {
            let room_view = rooms.iter().find(|it| &it.id == selected)?;
            let chat = self.chat.as_ref()?;
            let me = chat.me();
            let typing: Vec<String> =
                chat.typing_in(selected).into_iter().map(|it| display_name(it.as_str())).collect();
            let room = summary(room_view, &self.unreachable, &self.warnings, self.gate.as_ref(), &|user| {
                self.trust_in(selected, user)
            });
            // Around the message a search opened, else the latest.
            if let Some(focused) = self.focused_window(selected, self.window) {
                let FocusedWindow { messages, has_older, has_newer, focus } = focused;
                return Some(OpenRoom {
                    room,
                    messages,
                    has_older,
                    focus: Some(focus),
                    has_newer,
                    typing,
                    draft: self.drafts.get(selected),
                    files: self.file_views(selected),
                });
            }
            let loaded = chat.messages(selected);
            // Replies, reactions, edits and deletes are applied to their targets over all that is loaded.
            let folded = fold::fold(&loaded);
            let shown = &folded[folded.len().saturating_sub(self.window)..];
            let has_older =
                shown.len() < folded.len() || chat.history(selected).is_some_and(|it| it.next_older_page().is_some());
            let delivery = Delivery::of(chat, selected, &self.blocked_names(chat));
            Some(OpenRoom {
                room,
                messages: shown.iter().map(|it| message_view(it, me, chat, &delivery, room_view)).collect(),
                has_older,
                focus: None,
                has_newer: false,
                typing,
                draft: self.drafts.get(selected),
                files: self.file_views(selected),
            })
        });
        let mut storage_problems: Vec<Phrase> = self.loaded.problems.iter().map(super::storage_phrase).collect();
        storage_problems.extend(self.history_problems.iter().cloned());
        View {
            account: self
                .loaded
                .account
                .as_ref()
                .map(|it| AccountView { username: it.username.to_string(), peer_id: it.username.peer_id() }),
            engine: self.engine.clone(),
            settings: self.loaded.settings.clone(),
            storage_problems,
            rooms: rooms
                .iter()
                .map(|it| {
                    let mut summary = summary(it, &self.unreachable, &self.warnings, self.gate.as_ref(), &|user| {
                        self.trust_in(&it.id, user)
                    });
                    summary.last_message = self.chat.as_ref().and_then(|chat| last_message(chat, &it.id));
                    summary
                })
                .collect(),
            open_room,
            invitations: self
                .chat
                .as_ref()
                .map(|chat| {
                    chat.invitations()
                        .into_iter()
                        .map(|it| InvitationView {
                            room: it.room.as_str().to_owned(),
                            name: display_name(&it.name),
                            inviter: display_name(it.inviter.as_str()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            requests: self
                .chat
                .as_ref()
                .map(|chat| {
                    chat.requests()
                        .into_iter()
                        .map(|it| RequestView {
                            from: display_name(it.from.as_str()),
                            first_text: it.messages.first().map(|m| m.text.clone()).unwrap_or_default(),
                            messages: it.messages.len(),
                            since: it.since.0,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            blocked: self
                .chat
                .as_ref()
                .map(|chat| chat.blocked().iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            passphrase_set: self.vault.lock.is_some() || self.vault.damaged.is_some(),
            locked: self.locked(),
        }
    }

    /// Whom the user blocked (a message waiting only for them is never sent).
    fn blocked_names(&self, chat: &ChatNode) -> BTreeSet<Username> {
        chat.blocked().clone()
    }

    /// How far `user` is trusted: the safety number with their pinned key, whether the user verified it, and
    /// the safety number with a new key they proved that waits for the user's decision.
    pub(super) fn trust(&self, user: &Username) -> Trust {
        let Some(contact) = self.gate.as_ref().and_then(|gate| gate.contacts().get(user)) else {
            return Trust::default();
        };
        Trust {
            safety_number: self.safety_number_with(&contact.key),
            verified: contact.state == TrustState::Verified,
            new_key_safety_number: contact.pending_key.as_ref().and_then(|it| self.safety_number_with(&it.key)),
            unproved: contact.unproved.as_ref().map(|it| unproved_phrase(user, it.how)),
            key_notice: (contact.state == TrustState::Pinned && contact.pending_key.is_none())
                .then(|| first_contact_phrase(user)),
            reached: true,
        }
    }

    /// [`WorkerModel::trust`], with `reached` also true when `room` holds a message of `user`'s.
    fn trust_in(&self, room: &RoomId, user: &Username) -> Trust {
        let trust = self.trust(user);
        let heard = self
            .chat
            .as_ref()
            .and_then(|chat| chat.history(room))
            .is_some_and(|history| history.meta.senders.get(user).is_some_and(|it| it.highest() > 0));
        Trust { reached: trust.reached || heard, ..trust }
    }

    /// The safety number of our key and `key` (cached: each costs 5,200 SHA-512 rounds).
    pub(super) fn safety_number_with(&self, key: &PublicKey) -> Option<String> {
        let identity = self.identity.as_ref()?;
        Some(
            self.safety_numbers
                .borrow_mut()
                .entry(*key)
                .or_insert_with(|| safety_number(&identity.public_key(), key))
                .clone(),
        )
    }
}

fn summary(
    room: &RoomView,
    unreachable: &BTreeMap<String, Phrase>,
    warnings: &BTreeMap<String, Phrase>,
    gate: Option<&LinkGate>,
    trust: &dyn Fn(&Username) -> Trust,
) -> RoomSummary {
    RoomSummary {
        id: room.id.as_str().to_owned(),
        title: display_name(&room.title),
        is_group: room.is_group,
        direct_with: room.direct_with.as_ref().map(|it| display_name(it.as_str())),
        members: room
            .members
            .iter()
            .map(|it| {
                let trust = trust(&it.username);
                let peer_id = it.username.peer_id();
                let authenticated = gate.is_some_and(|gate| gate.authenticated(&peer_id));
                // An allowed unverified link's warning lasts while such a link is up.
                let warning = warnings.get(&peer_id).filter(|_| it.online && !authenticated).cloned();
                MemberSummary {
                    username: it.username.to_string(),
                    online: it.online,
                    authenticated,
                    safety_number: trust.safety_number,
                    verified: trust.verified,
                    problem: warning.or_else(|| if it.online { None } else { unreachable.get(&peer_id).cloned() }),
                    reached: it.online || trust.reached,
                    new_key_safety_number: trust.new_key_safety_number,
                    unproved: trust.unproved,
                    key_notice: trust.key_notice,
                }
            })
            .collect(),
        unread: room.unread,
        last_activity: room.last_activity.0,
        last_message: None,
        muted: room.prefs.muted,
        pinned: room.prefs.pinned,
        renamed: room.prefs.local_name.is_some(),
        left: room.left,
    }
}

/// The last loaded message of a room (the last page is always loaded), shortened for its list row.
fn last_message(chat: &ChatNode, room: &RoomId) -> Option<LastMessage> {
    // What someone wrote: a reaction, edit or delete is not a message of its own, and a tombstone has no text.
    let written = |it: &&crate::chat::StoredMessage| {
        !it.deleted && matches!(it.act, None | Some(crate::chat::actions::Action::Reply { .. }))
    };
    let message = chat.history(room)?.pages.values().rev().find_map(|page| page.iter().rev().find(written))?;
    Some(LastMessage {
        sender: display_name(message.sender.as_str()),
        text: super::conversations::shortened(&message.text),
        timestamp: message.timestamp.0,
        mine: &message.sender == chat.me(),
    })
}

/// What the view needs to say who a message of ours reached: each waiting one's members, the room's
/// members, and how far each member's read receipt goes.
struct Delivery {
    waiting: BTreeMap<MessageId, BTreeSet<Username>>,
    members: Vec<Username>,
    /// Per member, the position in the loaded history its receipt names.
    read_upto: BTreeMap<Username, usize>,
    positions: BTreeMap<MessageId, usize>,
    blocked: BTreeSet<Username>,
}

impl Delivery {
    fn of(chat: &ChatNode, room: &RoomId, blocked: &BTreeSet<Username>) -> Delivery {
        let history = chat.history(room);
        let waiting = history
            .map(|it| it.meta.outbox.iter().map(|entry| (entry.id.clone(), entry.waiting.clone())).collect())
            .unwrap_or_default();
        let members = chat.room(room).map(|it| it.others(chat.me()).cloned().collect()).unwrap_or_default();
        let positions: BTreeMap<MessageId, usize> =
            chat.messages(room).iter().enumerate().map(|(n, it)| (it.id.clone(), n)).collect();
        let read_upto = chat
            .read_receipts(room)
            .into_iter()
            .filter_map(|(user, id)| Some((user.clone(), *positions.get(id)?)))
            .collect();
        Delivery { waiting, members, read_upto, positions, blocked: blocked.clone() }
    }
}

fn message_view(shown: &Shown, me: &Username, chat: &ChatNode, delivery: &Delivery, room: &RoomView) -> MessageView {
    let message = shown.message;
    let mine = &message.sender == me;
    let waiting: Vec<&Username> = delivery.waiting.get(&message.id).map(|it| it.iter().collect()).unwrap_or_default();
    let never: Vec<&Username> = waiting.iter().copied().filter(|it| delivery.blocked.contains(*it)).collect();
    let state = match (&message.state, mine) {
        (_, true) if !never.is_empty() && never.len() == waiting.len() => MessageState::Failed,
        (Some(DeliveryState::Sending | DeliveryState::Failed), true) if !waiting.is_empty() => {
            let offline = waiting.iter().any(|it| !room.members.iter().any(|m| &&m.username == it && m.online));
            if offline || message.state == Some(DeliveryState::Failed) {
                MessageState::Waiting
            } else {
                MessageState::Sending
            }
        }
        (Some(DeliveryState::Sending), true) => MessageState::Sending,
        (Some(DeliveryState::Failed), true) => MessageState::Waiting,
        (_, true) => MessageState::Delivered,
        (_, false) => MessageState::Received,
    };
    let failure = (state == MessageState::Failed).then(|| {
        let names: Vec<String> = never.iter().map(|it| display_name(it.as_str())).collect();
        Phrase::new(Code::NotSentBlocked).with(names.join(", "))
    });
    let position = delivery.positions.get(&message.id).copied();
    let (recipients, delivered_to, read_by) = if mine && !message.deleted {
        let recipients: Vec<String> = delivery.members.iter().map(|it| display_name(it.as_str())).collect();
        let delivered: Vec<String> =
            delivery.members.iter().filter(|it| !waiting.contains(it)).map(|it| display_name(it.as_str())).collect();
        let read: Vec<String> = delivery
            .read_upto
            .iter()
            .filter(|(_, upto)| position.is_some_and(|it| it <= **upto))
            .map(|(user, _)| display_name(user.as_str()))
            .collect();
        (recipients, delivered, read)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    MessageView {
        id: message.id.as_str().to_owned(),
        sender: display_name(message.sender.as_str()),
        text: shown.text.clone(),
        timestamp: message.timestamp.0,
        mine,
        state,
        verified: message.signature.is_some(),
        introduced_by: chat
            .known_key(&message.sender)
            .and_then(|it| it.introduced_by.as_ref())
            .map(|it| display_name(it.as_str())),
        edited: shown.edited,
        deleted: shown.deleted,
        reactions: shown
            .reactions
            .iter()
            .map(|(emoji, who)| ReactionView {
                emoji: emoji.clone(),
                who: who.iter().map(|it| display_name(it.as_str())).collect(),
                mine: who.contains(me),
            })
            .collect(),
        reply: shown.reply.as_ref().map(|it| QuoteView {
            to: it.to.as_str().to_owned(),
            author: display_name(it.author.as_str()),
            excerpt: it.excerpt.clone(),
            deleted: it.deleted,
            loaded: it.loaded,
        }),
        recipients,
        delivered_to,
        waiting_for: if mine { waiting.iter().map(|it| display_name(it.as_str())).collect() } else { Vec::new() },
        read_by,
        failure,
    }
}
