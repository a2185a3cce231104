//! What a message can do to another: quote-reply to it, react to it, edit it, delete it (issue 15).
//!
//! An action is an ordinary message of its author's sequence (an id, a `seq`, signed, acknowledged,
//! de-duplicated and caught up like any chat) that carries an [`Action`]. Storing actions as messages is
//! what gives them all of that for free: a member who was offline gets them by catch-up. The history keeps
//! them in arrival order; [`fold`] applies them to their targets for display:
//! - a reply is shown as a message, with the quoted excerpt of its target;
//! - a reaction (its text is the emoji) toggles that emoji of its author on its target;
//! - an edit (its text is the new text) replaces its target's text, only if both have the same author;
//! - a delete turns its target into a tombstone, only if both have the same author. It carries its
//!   target's seq, so a member that never held the target fills that slot with the tombstone (the node
//!   erases the target's text from storage and never relays it again).
//!
//! Actions other than replies are never sent to a peer of the original page: it would show them as chats.
//! This module is pure: no IO, no wire names (those are in [`super::wire`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::history::StoredMessage;
use super::ids::MessageId;
use crate::account::Username;

/// Longest quoted excerpt a reply carries, in characters.
pub const MAX_QUOTE_CHARS: usize = 200;
/// Longest reaction, in characters (one emoji may be several code points).
pub const MAX_REACTION_CHARS: usize = 16;
/// The text a delete travels with (a chat's text may not be empty); never shown.
pub const DELETE_TEXT: &str = "deleted";

/// What a message does to its target `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A message quoting `to`, written by `author`: `quote` is its excerpt as the replier saw it.
    Reply { to: MessageId, author: Username, quote: String },
    /// The message's text (an emoji) on `to`: added when `on`, taken back otherwise.
    React { to: MessageId, on: bool },
    /// The message's text replaces the text of `to`.
    Edit { to: MessageId },
    /// `to`, which is its author's message number `seq`, is deleted for everyone.
    Delete { to: MessageId, seq: u64 },
}

impl Action {
    pub fn target(&self) -> &MessageId {
        match self {
            Action::Reply { to, .. } | Action::React { to, .. } | Action::Edit { to } | Action::Delete { to, .. } => to,
        }
    }

    /// Whether only the target's author may perform it.
    pub fn needs_authorship(&self) -> bool {
        matches!(self, Action::Edit { .. } | Action::Delete { .. })
    }

    /// Whether the message is shown as an entry of its own (a reply is; the others change their target).
    pub fn is_shown(&self) -> bool {
        matches!(self, Action::Reply { .. })
    }
}

/// Whether `text` is acceptable as a reaction.
pub fn is_reaction(text: &str) -> bool {
    let n = text.chars().count();
    n > 0 && n <= MAX_REACTION_CHARS && !text.chars().any(|it| it.is_whitespace() || it.is_control())
}

/// The excerpt of `text` a reply quotes.
pub fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_QUOTE_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_QUOTE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// A message as displayed, after the actions on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown<'a> {
    pub message: &'a StoredMessage,
    /// The latest text (edited or not); empty for a tombstone.
    pub text: String,
    pub edited: bool,
    pub deleted: bool,
    /// Each emoji with who reacted with it, in the order first seen.
    pub reactions: Vec<(String, Vec<Username>)>,
    pub reply: Option<Quote>,
}

/// What a reply shows of its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub to: MessageId,
    pub author: Username,
    pub excerpt: String,
    /// The target was deleted since (its excerpt is not shown).
    pub deleted: bool,
    /// The target is in the loaded history (it can be jumped to).
    pub loaded: bool,
}

/// Applies the actions among `messages` (loaded, in arrival order) to their targets, and returns the
/// messages to display, in order. An edit or delete whose author is not its target's is ignored (the node
/// refuses them on arrival too; this also covers one stored before its target arrived).
pub fn fold<'a>(messages: &[&'a StoredMessage]) -> Vec<Shown<'a>> {
    // A tombstone never hides a live message of the same id (a member may name someone else's id for a
    // slot of its own; it only ever deletes its own slot).
    let mut by_id: BTreeMap<&MessageId, &StoredMessage> = BTreeMap::new();
    for message in messages {
        let slot = by_id.entry(&message.id).or_insert(message);
        if slot.deleted && !message.deleted {
            *slot = message;
        }
    }
    let owns = |action: &StoredMessage, to: &MessageId| by_id.get(to).is_some_and(|it| it.sender == action.sender);
    // Latest edit per target, by the editor's seq (its sequence orders its own edits).
    let mut edits: BTreeMap<&MessageId, &StoredMessage> = BTreeMap::new();
    let mut deleted: BTreeSet<&MessageId> = BTreeSet::new();
    // Per target, per (reactor, emoji): the latest toggle by seq.
    let mut toggles: BTreeMap<&MessageId, BTreeMap<(&Username, &str), (u64, bool)>> = BTreeMap::new();
    let mut emoji_order: BTreeMap<&MessageId, Vec<&str>> = BTreeMap::new();
    for message in messages {
        match &message.act {
            Some(Action::Edit { to }) if owns(message, to) => {
                let newer = edits.get(to).is_none_or(|it| it.seq < message.seq);
                if newer {
                    edits.insert(to, message);
                }
            }
            Some(Action::Delete { to, seq }) if owns(message, to) && by_id[to].seq == *seq => {
                deleted.insert(to);
            }
            Some(Action::React { to, on }) => {
                let entry = toggles.entry(to).or_default().entry((&message.sender, message.text.as_str()));
                let slot = entry.or_insert((message.seq, *on));
                if slot.0 <= message.seq {
                    *slot = (message.seq, *on);
                }
                let order = emoji_order.entry(to).or_default();
                if !order.contains(&message.text.as_str()) {
                    order.push(message.text.as_str());
                }
            }
            _ => {}
        }
    }
    let current_text = |message: &StoredMessage| -> String {
        edits.get(&message.id).map_or_else(|| message.text.clone(), |it| it.text.clone())
    };
    messages
        .iter()
        .filter(|it| it.act.as_ref().is_none_or(Action::is_shown))
        .map(|message| {
            let is_deleted = message.deleted || deleted.contains(&message.id);
            let reactions = emoji_order
                .get(&message.id)
                .map(|order| {
                    let toggles = &toggles[&message.id];
                    order
                        .iter()
                        .map(|emoji| {
                            let who: Vec<Username> = toggles
                                .iter()
                                .filter(|((_, e), (_, on))| e == emoji && *on)
                                .map(|((user, _), _)| (*user).clone())
                                .collect();
                            ((*emoji).to_owned(), who)
                        })
                        .filter(|(_, who)| !who.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let reply = match &message.act {
                Some(Action::Reply { to, author, quote }) => {
                    let target = by_id.get(to);
                    let target_deleted = target.is_some_and(|it| it.deleted || deleted.contains(&it.id));
                    Some(Quote {
                        to: to.clone(),
                        author: target.map_or_else(|| author.clone(), |it| it.sender.clone()),
                        excerpt: match target {
                            _ if target_deleted => String::new(),
                            Some(it) => excerpt(&current_text(it)),
                            None => quote.clone(),
                        },
                        deleted: target_deleted,
                        loaded: target.is_some(),
                    })
                }
                _ => None,
            };
            Shown {
                message,
                text: if is_deleted { String::new() } else { current_text(message) },
                edited: !is_deleted && edits.contains_key(&message.id),
                deleted: is_deleted,
                reactions: if is_deleted { Vec::new() } else { reactions },
                reply: if is_deleted { None } else { reply },
            }
        })
        .collect()
}

/// Whether `user` has `emoji` on `target` now (so a click takes it back).
pub fn has_reacted(messages: &[&StoredMessage], target: &MessageId, user: &Username, emoji: &str) -> bool {
    fold(messages)
        .iter()
        .find(|it| &it.message.id == target)
        .is_some_and(|it| it.reactions.iter().any(|(e, who)| e == emoji && who.contains(user)))
}
