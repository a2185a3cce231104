//! Search across every conversation ([`crate::search`]) and the conversation shown around a hit.
//!
//! The index is built on the first search (or the popup opening its search field): one
//! [`Effect::ReadAll`](super::Effect::ReadAll) brings every stored page, the vault opens the signed-in user's
//! pages (so a sealed history is searched only while unlocked), and the pages the chat layer holds stand in
//! for their stored copies, being newer. From then on every message the chat layer stores is added as it is
//! stored. The index lives in the model, so a reload (unlocking, locking, signing in, an import) drops it,
//! and so does signing out; a stopped worker builds it again on its next search.

use std::collections::BTreeMap;

use super::requests::Outcome;
use super::{Effect, WholeRead, WorkerError, WorkerModel};
use crate::bridge::{MessageState, MessageView, QuoteView, ReactionView, Response};
use crate::chat::fold::{self, Shown};
use crate::chat::names::display_name;
use crate::chat::{ChatNode, DeliveryState, MessageId, RoomId};
use crate::search::{Indexed, SearchHit, SearchIndex, SearchResults};
use crate::storage::{Key, Snapshot};

/// Messages shown after the focused one; the rest of the window goes before it.
const FOCUS_AFTER: usize = 30;

/// The worker's search: the index, once built, and the message a search opened.
#[derive(Default)]
pub(super) struct SearchState {
    index: Option<SearchIndex>,
    /// The open room is shown around this message (until another room, or the latest, is selected).
    focus: Option<(RoomId, MessageId)>,
}

impl SearchState {
    /// Leaves the message a search opened: the open room shows its latest messages again.
    pub(super) fn unfocus(&mut self) {
        self.focus = None;
    }
}

/// What waits for the index to be built.
pub(super) enum PendingSearch {
    Query(String),
    Show { room: RoomId, id: MessageId },
}

/// The open room's messages around the focused one: the messages, whether older and newer ones exist beyond
/// them, and the focused message's id.
pub(super) struct FocusedWindow {
    pub messages: Vec<MessageView>,
    pub has_older: bool,
    pub has_newer: bool,
    pub focus: String,
}

impl WorkerModel {
    /// [`crate::bridge::Request::Search`].
    pub(super) fn search(&mut self, query: String) -> Result<Outcome, WorkerError> {
        self.chat.as_ref().ok_or(WorkerError::NotSignedIn)?;
        if self.search_index().is_none() {
            self.read_all(WholeRead::Search(PendingSearch::Query(query)));
        } else {
            let results = self.search_results(&query);
            self.push(Effect::Reply(Response::Search { results }));
        }
        Ok(Outcome::Queued)
    }

    /// [`crate::bridge::Request::ShowMessage`].
    pub(super) fn show_message(&mut self, room: &str, id: &str) -> Result<Outcome, WorkerError> {
        let chat = self.chat.as_ref().ok_or(WorkerError::NotSignedIn)?;
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        chat.history(&room).ok_or(WorkerError::NoSuchRoom)?;
        let id = MessageId::parse(id).map_err(|_| WorkerError::NoSuchMessage)?;
        if self.search_index().is_none() {
            self.read_all(WholeRead::Search(PendingSearch::Show { room, id }));
            return Ok(Outcome::Queued);
        }
        self.focus_on(room, id)?;
        Ok(Outcome::Changed)
    }

    /// The index of the signed-in user's history, if built.
    fn search_index(&self) -> Option<&SearchIndex> {
        let owner = &self.loaded.account.as_ref()?.username;
        self.search.index.as_ref().filter(|it| it.owner() == Some(owner))
    }

    fn focus_on(&mut self, room: RoomId, id: MessageId) -> Result<(), WorkerError> {
        let known = self.search_index().is_some_and(|it| it.get(&room, &id).is_some());
        if !known {
            return Err(WorkerError::NoSuchMessage);
        }
        self.select(Some(room.clone()));
        self.search.focus = Some((room, id));
        self.write(vec![self.ui_write()]);
        Ok(())
    }

    /// What `query` finds, for the popup.
    fn search_results(&self, query: &str) -> SearchResults {
        let (Some(index), Some(chat)) = (self.search_index(), self.chat.as_ref()) else {
            return SearchResults { query: query.to_owned(), ..SearchResults::default() };
        };
        let rooms: BTreeMap<RoomId, (String, bool)> =
            chat.room_views().into_iter().map(|it| (it.id.clone(), (display_name(&it.title), it.is_group))).collect();
        let found = index.search(query);
        let hits = found
            .hits
            .into_iter()
            .filter_map(|hit| {
                let Indexed { room, sender, message } = hit.message;
                let (room_title, is_group) = rooms.get(room)?.clone();
                Some(SearchHit {
                    room: room.as_str().to_owned(),
                    room_title,
                    is_group,
                    id: message.id.as_str().to_owned(),
                    sender: display_name(sender.as_str()),
                    mine: sender == chat.me(),
                    timestamp: message.timestamp.0,
                    snippet: hit.snippet,
                })
            })
            .collect();
        SearchResults {
            query: query.to_owned(),
            hits,
            more: found.more,
            searched: index.len() as u64,
            left_out: index.left_out(),
        }
    }

    /// Every stored record, read to build the index; then what waited for it.
    pub(super) fn search_read(&mut self, pending: PendingSearch, all: Snapshot) {
        let Some(owner) = self.loaded.account.as_ref().map(|it| it.username.clone()) else {
            self.push(Effect::Reply(Response::Error { message: WorkerError::NotSignedIn.phrase() }));
            return;
        };
        let Some(chat) = self.chat.as_ref() else {
            self.push(Effect::Reply(Response::Error { message: WorkerError::NotSignedIn.phrase() }));
            return;
        };
        // Only this user's pages that the chat layer does not hold are opened (decrypting is the costly part).
        let wanted = Snapshot(
            all.0
                .into_iter()
                .filter(|(key, _)| match Key::parse(key) {
                    Some(Key::HistoryPage { owner: o, room, page }) => {
                        o == owner && chat.history(&room).is_some_and(|it| !it.pages.contains_key(&page))
                    }
                    _ => false,
                })
                .collect(),
        );
        let opened = self.vault.incoming(wanted);
        let chat = self.chat.as_ref().expect("checked above");
        let rooms: Vec<RoomId> = chat.room_views().into_iter().map(|it| it.id).collect();
        let histories = rooms.iter().filter_map(|room| Some((room, chat.history(room)?)));
        let (index, problems) = SearchIndex::build(&owner, histories, &opened.snapshot);
        self.search.index = Some(index);
        self.add_problems(opened.problems.iter().map(super::passphrase_phrase));
        self.add_problems(problems.iter().map(super::history_phrase));
        match pending {
            PendingSearch::Query(query) => {
                let results = self.search_results(&query);
                self.push(Effect::Reply(Response::Search { results }));
            }
            PendingSearch::Show { room, id } => match self.focus_on(room, id) {
                Ok(()) => {
                    self.reply_with_view();
                    self.view_changed();
                }
                Err(err) => self.push(Effect::Reply(Response::Error { message: err.phrase() })),
            },
        }
    }

    /// Messages the chat layer just stored: added to the index, once it is built.
    pub(super) fn index_stored(&mut self, stored: &[(RoomId, MessageId)]) {
        let Some(chat) = self.chat.as_ref() else { return };
        let Some(index) = self.search.index.as_mut() else { return };
        for (room, id) in stored {
            let Some(history) = chat.history(room) else { continue };
            let Some((page, message)) = history.find(id) else { continue };
            // An edit or a delete is applied to its target's entry (a deleted text is blanked there too).
            let position = history.pages.get(&page).and_then(|it| it.iter().position(|it| &it.id == id)).unwrap_or(0);
            index.insert(message, page, position);
        }
    }

    /// The open room around the message a search opened, when `selected` is that room and the message is
    /// still known; `None` shows the latest messages as usual.
    pub(super) fn focused_window(&self, selected: &RoomId, window: usize) -> Option<FocusedWindow> {
        let (room, id) = self.search.focus.as_ref().filter(|(room, _)| room == selected)?;
        let chat = self.chat.as_ref()?;
        let index = self.search_index()?;
        let before = window.saturating_sub(FOCUS_AFTER);
        let (around, has_older, has_newer) = index.around(room, id, before, FOCUS_AFTER)?;
        let history = chat.history(room);
        // Folded with their edits and reactions as the latest messages are (`view.rs`); the window's own
        // messages come first in `stored`, and only they are shown.
        let stored = index.as_stored(&around);
        let verified: BTreeMap<&MessageId, bool> =
            around.iter().map(|it| (&it.message.id, it.message.verified)).collect();
        let folded = fold::fold(&stored.iter().collect::<Vec<_>>());
        let messages = folded
            .iter()
            .map(|shown| {
                // The chat layer's copy, when it holds one, has the freshest delivery state.
                let fresh = history.and_then(|it| it.find(&shown.message.id)).map(|(_, it)| it.state);
                let verified = verified.get(&shown.message.id).copied().unwrap_or(false);
                shown_view(shown, verified, fresh, chat)
            })
            .collect();
        Some(FocusedWindow { messages, has_older, has_newer, focus: id.as_str().to_owned() })
    }
}

/// A message as the conversation shows it (as `view.rs` shows the latest ones), from what the index keeps
/// folded with its edits and reactions; `fresh`: its delivery state as the chat layer holds it now.
fn shown_view(shown: &Shown<'_>, verified: bool, fresh: Option<Option<DeliveryState>>, chat: &ChatNode) -> MessageView {
    let message = shown.message;
    let mine = &message.sender == chat.me();
    let state = match (fresh.unwrap_or(message.state), mine) {
        (Some(DeliveryState::Sending), true) => MessageState::Sending,
        (Some(DeliveryState::Failed), true) => MessageState::Failed,
        (_, true) => MessageState::Delivered,
        (_, false) => MessageState::Received,
    };
    MessageView {
        id: message.id.as_str().to_owned(),
        sender: display_name(message.sender.as_str()),
        text: shown.text.clone(),
        timestamp: message.timestamp.0,
        mine,
        state,
        verified,
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
                mine: who.contains(chat.me()),
            })
            .collect(),
        reply: shown.reply.as_ref().map(|it| QuoteView {
            to: it.to.as_str().to_owned(),
            author: display_name(it.author.as_str()),
            excerpt: it.excerpt.clone(),
            deleted: it.deleted,
            loaded: it.loaded,
        }),
        // Delivery per member shows again once the conversation is back at its latest messages.
        recipients: Vec::new(),
        delivered_to: Vec::new(),
        waiting_for: Vec::new(),
        read_by: Vec::new(),
        failure: None,
    }
}
