//! Replies, reactions, edits and deletes ([`super::actions`]) applied to their targets: what a room's
//! loaded messages look like on screen. Pure, like the rest of the chat layer.

use std::collections::{BTreeMap, BTreeSet};

use super::actions::{Action, excerpt};
use super::history::StoredMessage;
use super::ids::MessageId;
use crate::account::Username;

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

/// Per (reactor, emoji) on one message: the seq of the latest toggle, and whether it is on.
type Toggles<'a> = BTreeMap<(&'a Username, &'a str), (u64, bool)>;

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
    let mut toggles: BTreeMap<&MessageId, Toggles> = BTreeMap::new();
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
