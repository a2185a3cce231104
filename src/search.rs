//! Finding text across every conversation of the signed-in user: an in-memory index of the whole history,
//! case- and accent-insensitive matching, results newest first with a snippet around the hit.
//!
//! The worker builds a [`SearchIndex`] once, from every history page it holds or reads (the pages come
//! opened: a sealed history is searched only once it is unlocked, and the index is dropped with the model
//! when it locks), then adds each message as it is stored. A query scans one contiguous folded text from
//! its newest end, so it stops as soon as it has [`MAX_HITS`] hits and never allocates per message.
//!
//! Folding ([`fold`]): Unicode lowercase, the accents of Latin, Greek and Cyrillic letters dropped (é → e,
//! ß → ss, ά → α, ё → е, combining marks), and every run of whitespace one space. So "Cafe" finds "café",
//! and a query spanning a line break finds the words on both lines.
//!
//! Pure: no clock, no storage access. The worker hands in pages and asks; [`crate::worker`] does the rest.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Username;
use crate::chat::actions::Action;
use crate::chat::history::{DeliveryState, HistoryError, Page, RoomHistory, StoredMessage};
use crate::chat::{MessageId, RoomId};
use crate::storage::{Key, Snapshot};
use crate::time::Millis;

/// Results of one query, at most: newest first, the rest counted as "more".
pub const MAX_HITS: usize = 50;

/// Characters of context kept on each side of a hit in its snippet.
pub const CONTEXT_CHARS: usize = 40;

/// The longest query taken, in characters (a longer one is cut).
pub const MAX_QUERY_CHARS: usize = 200;

/// Message text the index holds at most, in bytes (the original and the folded copy each count). A history
/// beyond it is searched from its newest messages down to the limit, and the results say so.
pub const MAX_INDEXED_BYTES: usize = 96 * 1024 * 1024;

/// Separates the messages in the folded text. Folding turns every NUL of a message into a space, and a
/// query never holds one, so no hit spans two messages.
const SEPARATOR: char = '\0';

/// One indexed message: what a hit and the context around it show. Its room and sender are kept once per
/// index ([`Indexed`] resolves them), so 100,000 messages do not hold 100,000 copies of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedMessage {
    room: u32,
    sender: u32,
    pub id: MessageId,
    pub text: Box<str>,
    /// The sender's clock.
    pub timestamp: Millis,
    /// Our clock when it was stored: what "newest" means.
    pub received_at: Millis,
    /// Where it is stored: its page, and its place in the page.
    pub page: u32,
    pub position: u32,
    /// Signed by its author and checked.
    pub verified: bool,
    /// The delivery state of a message we sent, as last indexed.
    pub state: Option<DeliveryState>,
    /// The seq of the author's edit whose text this is (0: as first written).
    edit_seq: u64,
    /// A reply's action (what it quotes); `None` for any other message.
    reply: Option<Box<Action>>,
    /// Edited since (a newer entry holds its text) or deleted: never found or shown, its text blanked.
    gone: bool,
}

/// An indexed message with its room and sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indexed<'a> {
    pub room: &'a RoomId,
    pub sender: &'a Username,
    pub message: &'a IndexedMessage,
}

/// Values kept once, by number.
#[derive(Clone, Debug)]
struct Interned<T> {
    values: Vec<T>,
    numbers: BTreeMap<T, u32>,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned { values: Vec::new(), numbers: BTreeMap::new() }
    }
}

impl<T: Ord + Clone> Interned<T> {
    fn number(&mut self, value: &T) -> u32 {
        if let Some(number) = self.numbers.get(value) {
            return *number;
        }
        let number = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.values.push(value.clone());
        self.numbers.insert(value.clone(), number);
        number
    }

    fn find(&self, value: &T) -> Option<u32> {
        self.numbers.get(value).copied()
    }

    fn get(&self, number: u32) -> &T {
        &self.values[number as usize]
    }
}

impl SearchIndex {
    fn entry(&mut self, message: &StoredMessage, page: u32, position: usize) -> IndexedMessage {
        IndexedMessage {
            room: self.rooms.number(&message.room),
            sender: self.senders.number(&message.sender),
            id: message.id.clone(),
            text: message.text.as_str().into(),
            timestamp: message.timestamp,
            received_at: message.received_at,
            page,
            position: u32::try_from(position).unwrap_or(u32::MAX),
            verified: message.signature.is_some(),
            state: message.state,
            edit_seq: 0,
            reply: message.act.clone().filter(Action::is_shown).map(Box::new),
            gone: false,
        }
    }
}

/// A message containing the query, with its snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    pub message: Indexed<'a>,
    pub snippet: Snippet,
}

/// Part of a message around a hit, as three texts (the popup marks the middle one), line breaks as spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// Context before the hit; starts with "…" when the message goes on before it.
    pub before: String,
    /// The matched text, as written in the message.
    pub matched: String,
    /// Context after the hit; ends with "…" when the message goes on after it.
    pub after: String,
}

/// What a query found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found<'a> {
    /// Newest first, at most [`MAX_HITS`].
    pub hits: Vec<Hit<'a>>,
    /// More messages match than were returned.
    pub more: bool,
}

/// The answer to a search, as the popup gets it (`bridge::Response::Search`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query as asked, so the popup shows only the answer to what is typed now.
    pub query: String,
    /// Newest first, at most [`MAX_HITS`].
    pub hits: Vec<SearchHit>,
    /// More messages match than are listed.
    #[serde(default)]
    pub more: bool,
    /// Messages searched.
    #[serde(default)]
    pub searched: u64,
    /// Older messages not searched (the history is larger than the index holds).
    #[serde(default)]
    pub left_out: u64,
}

/// One message found, as the popup lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub room: String,
    /// The conversation's name, cleaned for display.
    pub room_title: String,
    pub is_group: bool,
    /// The message's id, to open it (`bridge::Request::ShowMessage`).
    pub id: String,
    /// The sender's name, cleaned for display.
    pub sender: String,
    pub mine: bool,
    /// The sender's clock, milliseconds since the epoch.
    pub timestamp: u64,
    pub snippet: Snippet,
}

/// Every message of one user's conversations, folded for matching, oldest first.
#[derive(Clone, Debug, Default)]
pub struct SearchIndex {
    owner: Option<Username>,
    rooms: Interned<RoomId>,
    senders: Interned<Username>,
    messages: Vec<IndexedMessage>,
    /// Where each message's folded text starts in `folded`.
    starts: Vec<u32>,
    /// Every message's folded text, each followed by [`SEPARATOR`], in the order of `messages`.
    folded: String,
    /// Original text bytes held (for the [`MAX_INDEXED_BYTES`] bound).
    text_bytes: usize,
    /// Older messages left out because of [`MAX_INDEXED_BYTES`].
    left_out: u64,
    /// Entries of `messages` that are gone (edited since, or deleted).
    n_gone: usize,
    /// The reactions and edits of indexed messages, by room and target: what the conversation opened around
    /// a hit folds into its messages ([`SearchIndex::as_stored`]).
    actions: BTreeMap<(u32, MessageId), Vec<StoredMessage>>,
}

/// What a search can find: what people wrote (a reply too), never a tombstone nor a reaction, edit or
/// delete, whose text is not a message of its own.
fn searchable(message: &StoredMessage) -> bool {
    !message.deleted && matches!(message.act, None | Some(Action::Reply { .. }))
}

impl SearchIndex {
    /// The index of `owner`'s `rooms`: each room's loaded pages as the chat layer holds them (the freshest),
    /// its other pages decoded from `stored` (what storage holds, opened). Pages missing from both are skipped;
    /// damaged ones are reported and skipped.
    /// The index of `owner`'s history: the pages the chat layer holds (`rooms`), the others from `stored`.
    /// Each edit is applied to its target (its latest edit by its author, by seq) and a deleted message is
    /// left out, as the conversation shows them.
    pub fn build<'h>(
        owner: &Username,
        rooms: impl IntoIterator<Item = (&'h RoomId, &'h RoomHistory)>,
        stored: &Snapshot,
    ) -> (SearchIndex, Vec<HistoryError>) {
        let mut problems = Vec::new();
        let mut index = SearchIndex { owner: Some(owner.clone()), ..SearchIndex::default() };
        let mut all = Vec::new();
        let mut actions = Vec::new();
        let mut reactions = Vec::new();
        let mut take = |index: &mut SearchIndex, message: &StoredMessage, page: u32, at: usize| {
            if searchable(message) {
                all.push(index.entry(message, page, at));
            } else if let Some(action) = EditOrDelete::of(message) {
                actions.push((action, message.clone()));
            } else if matches!(message.act, Some(Action::React { .. })) {
                reactions.push(message.clone());
            }
        };
        for (room, history) in rooms {
            for page in 0..history.meta.page_count {
                if let Some(messages) = history.pages.get(&page) {
                    for (at, message) in messages.iter().enumerate() {
                        take(&mut index, message, page, at);
                    }
                    continue;
                }
                let key = Key::HistoryPage { owner: owner.clone(), room: room.clone(), page }.to_string();
                let Some(value) = stored.0.get(&key) else { continue };
                match decode_page(value) {
                    Ok(messages) => {
                        for (at, message) in messages.iter().filter(|it| &it.room == room).enumerate() {
                            take(&mut index, message, page, at);
                        }
                    }
                    Err(reason) => problems.push(HistoryError::CorruptPage { room: room.clone(), page, reason }),
                }
            }
        }
        index.apply_all(&mut all, actions, reactions);
        index.fill(all);
        (index, problems)
    }

    /// Applies edits and deletes to the entries they target, before the index is filled, and keeps the
    /// edits and reactions of the entries left.
    fn apply_all(
        &mut self,
        all: &mut Vec<IndexedMessage>,
        actions: Vec<(EditOrDelete, StoredMessage)>,
        reactions: Vec<StoredMessage>,
    ) {
        let mut at: BTreeMap<(u32, MessageId), usize> = BTreeMap::new();
        for (n, entry) in all.iter().enumerate() {
            at.insert((entry.room, entry.id.clone()), n);
        }
        let mut edits: BTreeMap<usize, (u64, String)> = BTreeMap::new();
        let mut deleted = BTreeSet::new();
        let mut kept: BTreeMap<usize, Vec<StoredMessage>> = BTreeMap::new();
        for (action, message) in actions {
            let Some(room) = self.rooms.find(&action.room) else { continue };
            let Some(&n) = at.get(&(room, action.to.clone())) else { continue };
            if self.senders.find(&action.author) != Some(all[n].sender) {
                continue;
            }
            match action.text {
                Some(text) => {
                    if edits.get(&n).is_none_or(|(seq, _)| *seq < action.seq) {
                        edits.insert(n, (action.seq, text));
                    }
                    kept.entry(n).or_default().push(message);
                }
                None => {
                    deleted.insert(n);
                }
            }
        }
        for reaction in reactions {
            let (Some(room), Some(Action::React { to, .. })) = (self.rooms.find(&reaction.room), &reaction.act) else {
                continue;
            };
            if let Some(&n) = at.get(&(room, to.clone())) {
                kept.entry(n).or_default().push(reaction);
            }
        }
        for (n, (seq, text)) in edits {
            all[n].text = text.into();
            all[n].edit_seq = seq;
        }
        for (n, messages) in kept {
            if !deleted.contains(&n) {
                self.actions.insert((all[n].room, all[n].id.clone()), messages);
            }
        }
        for n in deleted.into_iter().rev() {
            all.remove(n);
        }
    }

    fn fill(&mut self, mut messages: Vec<IndexedMessage>) {
        messages.sort_by_key(|it| it.received_at);
        let index = self;
        // Newest first up to the bound; the oldest are left out.
        let mut total = 0usize;
        let keep = messages
            .iter()
            .rev()
            .take_while(|it| {
                total = total.saturating_add(it.text.len() * 2);
                total <= MAX_INDEXED_BYTES
            })
            .count();
        let skip = messages.len() - keep;
        index.left_out = skip as u64;
        let kept = messages.split_off(skip);
        index.folded.reserve(kept.iter().map(|it| it.text.len() + 1).sum());
        index.messages.reserve(kept.len());
        index.starts.reserve(kept.len());
        for message in kept {
            index.push(message);
        }
    }

    /// Whose history this is.
    pub fn owner(&self) -> Option<&Username> {
        self.owner.as_ref()
    }

    /// Adds a message just stored (the newest). A message already indexed (same room and id) is not added
    /// twice.
    /// Adds a message just stored. An edit by the target's author replaces its text (the newer entry is found
    /// as of the edit; the old text is found no more), a delete by its author takes it out.
    pub fn insert(&mut self, message: &StoredMessage, page: u32, position: usize) {
        if let Some(action) = EditOrDelete::of(message) {
            self.apply(action, message);
            return;
        }
        if let (Some(Action::React { to, .. }), Some(room)) = (&message.act, self.rooms.find(&message.room))
            && self.messages.iter().rev().any(|it| !it.gone && it.room == room && &it.id == to)
        {
            self.actions.entry((room, to.clone())).or_default().push(message.clone());
            return;
        }
        if !searchable(message) {
            return;
        }
        let room = self.rooms.find(&message.room);
        let duplicate =
            self.messages.iter().rev().take(PAGE_LOOKBACK).any(|it| it.id == message.id && Some(it.room) == room);
        if !duplicate {
            let entry = self.entry(message, page, position);
            self.push(entry);
        }
    }

    fn apply(&mut self, action: EditOrDelete, message: &StoredMessage) {
        let (Some(room), Some(author)) = (self.rooms.find(&action.room), self.senders.find(&action.author)) else {
            return;
        };
        let Some(n) = self.messages.iter().rposition(|it| !it.gone && it.room == room && it.id == action.to) else {
            return;
        };
        let target = &self.messages[n];
        if target.sender != author || action.text.is_some() && target.edit_seq >= action.seq {
            return;
        }
        let edited =
            action.text.map(|text| IndexedMessage { text: text.into(), edit_seq: action.seq, ..target.clone() });
        self.forget(n);
        let key = (room, action.to);
        match edited {
            Some(entry) => {
                self.push(entry);
                self.actions.entry(key).or_default().push(message.clone());
            }
            None => {
                self.actions.remove(&key);
            }
        }
    }

    /// Indexed messages as stored, with the edits and reactions on them, for [`crate::chat::fold::fold`]:
    /// the conversation opened around a hit shows them as the latest messages are shown. What the index
    /// does not keep is left out: each message's seq, and its signature (`verified` says it was checked).
    pub fn as_stored(&self, messages: &[Indexed<'_>]) -> Vec<StoredMessage> {
        let mut stored = Vec::new();
        for Indexed { room, sender, message } in messages {
            stored.push(StoredMessage {
                id: message.id.clone(),
                room: (*room).clone(),
                sender: (*sender).clone(),
                text: message.text.to_string(),
                timestamp: message.timestamp,
                received_at: message.received_at,
                seq: 0,
                state: message.state,
                signature: None,
                act: message.reply.as_deref().cloned(),
                deleted: false,
            });
        }
        for Indexed { message, .. } in messages {
            if let Some(actions) = self.actions.get(&(message.room, message.id.clone())) {
                stored.extend(actions.iter().cloned());
            }
        }
        stored
    }

    /// Takes entry `n` out of every answer and blanks its text (a deleted text is kept nowhere).
    fn forget(&mut self, n: usize) {
        let start = self.starts[n] as usize;
        let end = self.starts.get(n + 1).map_or(self.folded.len(), |it| *it as usize) - SEPARATOR.len_utf8();
        // Spaces for every byte: the folded text keeps its length (and so every start), and no query
        // matches them (a query is trimmed, so it is never only spaces).
        self.folded.replace_range(start..end, &" ".repeat(end - start));
        let entry = &mut self.messages[n];
        entry.text = "".into();
        entry.gone = true;
        self.n_gone += 1;
    }

    fn push(&mut self, message: IndexedMessage) {
        self.starts.push(u32::try_from(self.folded.len()).unwrap_or(u32::MAX));
        fold_into(&message.text, &mut self.folded, |_, _| {});
        self.folded.push(SEPARATOR);
        self.text_bytes += message.text.len();
        self.messages.push(message);
    }

    /// Messages indexed.
    /// Messages the index finds (an edited one once).
    pub fn len(&self) -> usize {
        self.messages.len() - self.n_gone
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Older messages not indexed because the history is larger than [`MAX_INDEXED_BYTES`].
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    /// Bytes the index keeps on the heap, roughly: for the benchmark's memory figure.
    pub fn heap_bytes(&self) -> usize {
        let per_message = std::mem::size_of::<IndexedMessage>() + std::mem::size_of::<u32>();
        let strings: usize = self.messages.iter().map(|it| it.text.len() + it.id.as_str().len()).sum();
        self.messages.capacity() * per_message + strings + self.folded.capacity()
    }

    /// The messages containing `query` (folded: any case, with or without accents), newest first, at most
    /// [`MAX_HITS`]. An empty query finds nothing.
    pub fn search(&self, query: &str) -> Found<'_> {
        self.search_limited(query, MAX_HITS)
    }

    pub fn search_limited(&self, query: &str, limit: usize) -> Found<'_> {
        let query = fold_query(query);
        let mut found = Found::default();
        if query.is_empty() {
            return found;
        }
        let mut end = self.folded.len();
        while let Some(at) = self.folded[..end].rfind(query.as_str()) {
            if found.hits.len() == limit {
                found.more = true;
                break;
            }
            let index = self.starts.partition_point(|start| *start as usize <= at) - 1;
            let start = self.starts[index] as usize;
            if self.messages[index].gone {
                end = start;
                continue;
            }
            // The snippet shows the message's first hit.
            let first = self.folded[start..at + query.len()].find(query.as_str()).map_or(at, |it| start + it);
            let message = self.resolve(&self.messages[index]);
            found.hits.push(Hit { message, snippet: snippet(&message.message.text, first - start, query.len()) });
            end = start;
        }
        found
    }

    /// The indexed message `id` of `room`.
    pub fn get(&self, room: &RoomId, id: &MessageId) -> Option<Indexed<'_>> {
        let room = self.rooms.find(room)?;
        self.messages.iter().rev().find(|it| !it.gone && &it.id == id && it.room == room).map(|it| self.resolve(it))
    }

    fn resolve<'a>(&'a self, message: &'a IndexedMessage) -> Indexed<'a> {
        Indexed { room: self.rooms.get(message.room), sender: self.senders.get(message.sender), message }
    }

    /// Up to `before` messages of `room` before `id` (in stored order), the message itself, and up to
    /// `after` after it; then whether older and newer messages exist beyond those.
    pub fn around(
        &self,
        room: &RoomId,
        id: &MessageId,
        before: usize,
        after: usize,
    ) -> Option<(Vec<Indexed<'_>>, bool, bool)> {
        let room = self.rooms.find(room)?;
        let mut thread: Vec<&IndexedMessage> = self.messages.iter().filter(|it| !it.gone && it.room == room).collect();
        thread.sort_by_key(|it| (it.page, it.position));
        let at = thread.iter().position(|it| &it.id == id)?;
        let from = at.saturating_sub(before);
        let to = at.saturating_add(after).saturating_add(1).min(thread.len());
        let (older, newer) = (from > 0, to < thread.len());
        Some((thread[from..to].iter().map(|it| self.resolve(it)).collect(), older, newer))
    }
}

/// How far back [`SearchIndex::insert`] looks for the same message (a re-stored one is always recent).
const PAGE_LOOKBACK: usize = 256;

/// An edit (`text`: the new text) or a delete (`text` `None`) of the message `to`, by `author`.
struct EditOrDelete {
    room: RoomId,
    to: MessageId,
    author: Username,
    seq: u64,
    text: Option<String>,
}

impl EditOrDelete {
    fn of(message: &StoredMessage) -> Option<EditOrDelete> {
        let (to, text) = match &message.act {
            Some(Action::Edit { to }) => (to, Some(message.text.clone())),
            Some(Action::Delete { to, .. }) => (to, None),
            _ => return None,
        };
        Some(EditOrDelete {
            room: message.room.clone(),
            to: to.clone(),
            author: message.sender.clone(),
            seq: message.seq,
            text,
        })
    }
}

fn decode_page(value: &Value) -> Result<Vec<StoredMessage>, String> {
    Page::deserialize(value).map(|it| it.messages).map_err(|err| err.to_string())
}

/// `text` folded for matching (see the module documentation).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out, |_, _| {});
    out
}

/// A query folded like the text it is matched against, without leading or trailing space, and cut at
/// [`MAX_QUERY_CHARS`].
fn fold_query(query: &str) -> String {
    let cut: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
    fold(cut.trim())
}

/// Folds `text` onto `out`; after each character of `text` (at byte `at`), calls `each(at, out.len())`.
fn fold_into(text: &str, out: &mut String, mut each: impl FnMut(usize, usize)) {
    let mut in_space = false;
    for (at, ch) in text.char_indices() {
        if ch.is_whitespace() || ch == SEPARATOR {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            in_space = false;
            for lower in ch.to_lowercase() {
                fold_char(lower, out);
            }
        }
        each(at, out.len());
    }
}

/// One lowercase character without its accent.
fn fold_char(ch: char, out: &mut String) {
    // Latin-1 Supplement, à (U+00E0) to ÿ (U+00FF); `-` keeps the character as it is.
    const LATIN1: &[u8; 32] = b"aaaaaa-ceeeeiiiidnooooo-ouuuuy-y";
    // Latin Extended-A, U+0100 to U+017F, upper and lower case.
    const LATIN_A: &[u8; 128] = concat!(
        "aaaaaaccccccccdd", // U+0100
        "ddeeeeeeeeeegggg", // U+0110
        "gggghhhhiiiiiiii", // U+0120
        "iiiijjkkklllllll", // U+0130
        "lllnnnnnnnnnoooo", // U+0140
        "oooorrrrrrssssss", // U+0150
        "ssttttttuuuuuuuu", // U+0160
        "uuuuwwyyyzzzzzzs", // U+0170
    )
    .as_bytes()
    .first_chunk::<128>()
    .expect("128 letters");
    let code = ch as u32;
    let mapped = match code {
        0x00DF => Some("ss"),
        0x00E6 => Some("ae"),
        0x0133 => Some("ij"),
        0x0153 => Some("oe"),
        // Combining diacritical marks (text written decomposed).
        0x0300..=0x036F => Some(""),
        _ => None,
    };
    if let Some(mapped) = mapped {
        out.push_str(mapped);
        return;
    }
    let base = match code {
        0x00E0..=0x00FF => Some(LATIN1[(code - 0x00E0) as usize]).filter(|it| *it != b'-').map(char::from),
        0x0100..=0x017F => Some(char::from(LATIN_A[(code - 0x0100) as usize])),
        0x0219 => Some('s'),
        0x021B => Some('t'),
        // Greek letters with tonos or dialytika, and the final sigma.
        0x0390 | 0x03AF | 0x03CA => Some('ι'),
        0x03AC => Some('α'),
        0x03AD => Some('ε'),
        0x03AE => Some('η'),
        0x03B0 | 0x03CB | 0x03CD => Some('υ'),
        0x03CC => Some('ο'),
        0x03CE => Some('ω'),
        0x03C2 => Some('σ'),
        // Cyrillic ё.
        0x0451 => Some('е'),
        _ => None,
    };
    out.push(base.unwrap_or(ch));
}

/// The snippet of `text` around its folded bytes `[start, start + len)`.
fn snippet(text: &str, start: usize, len: usize) -> Snippet {
    // Which characters of `text` produced the folded range.
    let (mut from, mut to) = (None, None);
    let end = start + len;
    let mut scratch = String::new();
    let mut previous = 0;
    fold_into(text, &mut scratch, |at, folded| {
        if from.is_none() && folded > start {
            from = Some(at);
        }
        if to.is_none() && folded >= end && folded > previous {
            to = Some(at + text[at..].chars().next().map_or(0, char::len_utf8));
        }
        previous = folded;
    });
    let from = from.unwrap_or(0);
    let mut to = to.unwrap_or(text.len()).max(from);
    // Accents written as combining marks stay on their letter.
    to += text[to..].chars().take_while(|it| ('\u{300}'..='\u{36f}').contains(it)).map(char::len_utf8).sum::<usize>();
    let (head, matched, tail) = (&text[..from], &text[from..to], &text[to..]);
    let mut before: String = head.chars().rev().take(CONTEXT_CHARS).collect::<Vec<_>>().into_iter().rev().collect();
    if before.len() < head.len() {
        before.insert(0, '…');
    }
    let mut after: String = tail.chars().take(CONTEXT_CHARS).collect();
    if after.len() < tail.len() {
        after.push('…');
    }
    let flat = |it: &str| it.chars().map(|ch| if ch.is_whitespace() { ' ' } else { ch }).collect::<String>();
    Snippet { before: flat(&before), matched: flat(matched), after: flat(&after) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sender: &str, seq: u64, text: &str, act: Option<Action>) -> StoredMessage {
        StoredMessage {
            id: MessageId::parse(&format!("m-{sender}-{seq}")).unwrap(),
            room: RoomId::group_from_random([1; 16]),
            sender: Username::parse(sender).unwrap(),
            text: text.into(),
            timestamp: Millis(seq),
            received_at: Millis(seq),
            seq,
            state: None,
            signature: None,
            act,
            deleted: false,
        }
    }

    fn found(index: &SearchIndex, query: &str) -> Vec<String> {
        index.search(query).hits.iter().map(|it| it.message.message.text.to_string()).collect()
    }

    #[test]
    fn only_the_authors_latest_edit_applies_and_a_delete_leaves_no_text() {
        let mut index = SearchIndex::default();
        let first = message("bob", 1, "the old bridge", None);
        let to = first.id.clone();
        index.insert(&first, 0, 0);
        // Mallory's edit of bob's message, then bob's second edit, then his first one arriving late.
        let edit = |sender: &str, seq, text: &str| message(sender, seq, text, Some(Action::Edit { to: to.clone() }));
        for edited in
            [edit("mallory", 1, "mallory was here"), edit("bob", 3, "the new station"), edit("bob", 2, "a bus stop")]
        {
            index.insert(&edited, 0, 1);
        }
        assert_eq!(found(&index, "bridge"), Vec::<String>::new());
        assert_eq!(found(&index, "mallory"), Vec::<String>::new());
        assert_eq!(found(&index, "bus stop"), Vec::<String>::new());
        assert_eq!(found(&index, "station"), vec!["the new station"]);
        assert_eq!(index.len(), 1);
        index.insert(&message("bob", 4, "", Some(Action::Delete { to: to.clone(), seq: 1 })), 0, 2);
        assert_eq!(found(&index, "station"), Vec::<String>::new());
        assert!(index.is_empty());
        assert!(!index.folded.contains("station") && !index.folded.contains("bridge"), "{:?}", index.folded);
    }

    #[test]
    fn folding_drops_case_accents_and_repeated_space() {
        assert_eq!(fold("Café  CRÈME\nBrûlée"), "cafe creme brulee");
        assert_eq!(fold("Straße Œuvre ĲSSEL"), "strasse oeuvre ijssel");
        assert_eq!(fold("Ελλάδα ΟΔΟΣ"), "ελλαδα οδοσ");
        assert_eq!(fold("Ёлка"), "елка");
        assert_eq!(fold("e\u{301}te\u{301}"), "ete");
        assert_eq!(fold("Łódź Şişli Țară"), "lodz sisli tara");
    }

    #[test]
    fn a_snippet_keeps_the_text_as_written() {
        let text = "Nous avons mangé une crème brûlée au café";
        let folded = fold(text);
        let at = folded.find("creme brulee").unwrap();
        let snippet = snippet(text, at, "creme brulee".len());
        assert_eq!(snippet.matched, "crème brûlée");
        assert_eq!(snippet.before, "Nous avons mangé une ");
        assert_eq!(snippet.after, " au café");
    }

    #[test]
    fn a_long_message_is_cut_around_the_hit() {
        let text = format!("{}needle{}", "a".repeat(100), "b".repeat(100));
        let at = fold(&text).find("needle").unwrap();
        let snippet = snippet(&text, at, 6);
        assert_eq!(snippet.matched, "needle");
        assert_eq!(snippet.before.chars().count(), CONTEXT_CHARS + 1);
        assert!(snippet.before.starts_with('…') && snippet.after.ends_with('…'));
    }
}
