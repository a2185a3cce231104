//! What a message can do to another: quote-reply to it, react to it, edit it, delete it (issue 15).
//!
//! An action is an ordinary message of its author's sequence (an id, a `seq`, signed, acknowledged,
//! de-duplicated and caught up like any chat) that carries an [`Action`]. Storing actions as messages is
//! what gives them all of that for free: a member who was offline gets them by catch-up. The history keeps
//! them in arrival order;
//! [`super::fold`] applies them for display:
//! - a reply is shown as a message, with the quoted excerpt of its target;
//! - a reaction (its text is the emoji) toggles that emoji of its author on its target;
//! - an edit (its text is the new text) replaces its target's text, only if both have the same author;
//! - a delete turns its target into a tombstone, only if both have the same author. It carries its
//!   target's seq, so a member that never held the target fills that slot with the tombstone (the node
//!   erases the target's text from storage and never relays it again).
//!
//! Actions other than replies are never sent to a peer of the original page: it would show them as chats.
//! This module is pure: no IO, no wire names (those are in [`super::wire`]).

use serde::{Deserialize, Serialize};

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
