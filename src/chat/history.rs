//! The storage schema for chat history: fixed-size pages of messages plus one small meta record per room,
//! so that appending a message and opening a room cost the same at 100 messages and at 100,000.
//!
//! Layout (all keys are namespaced by the signed-in user, so switching accounts never mixes histories;
//! usernames and room ids contain no '/', so keys split back unambiguously):
//!
//! | key                         | record        | written when |
//! |-----------------------------|---------------|--------------|
//! | `chat/<user>/rooms`         | [`RoomsRecord`] | a room is created, changes members, or starts a new page |
//! | `h/<user>/<room>/meta`      | [`RoomMeta`]  | every append, ack, read |
//! | `h/<user>/<room>/<page>`    | [`Page`]      | an append to it (only the last page), a delivery-state change |
//!
//! A page holds at most [`PAGE_SIZE`] messages in arrival order. Appending rewrites the last page and the
//! meta, never older pages. Opening a room reads the meta and the last two pages.
//!
//! This module is pure: it builds [`StorageWrite`]s and decodes [`Snapshot`]s; the shell does the IO.
//! It is not the room model ([`super::room`]) nor the protocol ([`super::node`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actions::Action;
use super::ids::{MessageId, RoomId};
use super::room::{RoomRecord, RoomsRecord};
use super::signing::Signature;
use crate::account::Username;
use crate::storage::{Key, Snapshot, StorageWrite, set};
use crate::time::Millis;

/// Messages per page. 128 keeps an append's write small (one page of ordinary messages is ~20 KB) while
/// the last two pages still fill the popup's window with history.
pub const PAGE_SIZE: usize = 128;

/// Pages read when a room is opened: the last one and the one before it.
pub const OPEN_PAGES: u32 = 2;

pub fn rooms_key(owner: &Username) -> String {
    Key::Rooms(owner.clone()).to_string()
}

pub fn meta_key(owner: &Username, room: &RoomId) -> String {
    Key::RoomMeta { owner: owner.clone(), room: room.clone() }.to_string()
}

pub fn page_key(owner: &Username, room: &RoomId, page: u32) -> String {
    Key::HistoryPage { owner: owner.clone(), room: room.clone(), page }.to_string()
}

/// The delivery state of a message we sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet acknowledged by every member it was sent to.
    Sending,
    /// Stored by every member it was sent to (a peer of the original page counts once it was handed the
    /// message, since it cannot acknowledge).
    Delivered,
    /// Not acknowledged within [`super::node::FAILED_AFTER_MS`]. It stays in the outbox and is re-sent
    /// whenever a recipient comes back; it turns `Delivered` if they all acknowledge.
    Failed,
}

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: MessageId,
    pub room: RoomId,
    pub sender: Username,
    pub text: String,
    /// The sender's clock when sent.
    pub timestamp: Millis,
    /// Our clock when it was stored.
    pub received_at: Millis,
    /// The sender's sequence number in this room, from 1; 0 for a peer that sends none (the original page).
    pub seq: u64,
    /// Only for messages we sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<DeliveryState>,
    /// The author's signature, checked before the message was stored: present means verified against the
    /// author's key, absent means unverified (the original page, a peer without a key, older records).
    /// Kept so catch-up relays the message verifiably.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// What the message does to another (a reply, reaction, edit or delete; see [`super::actions`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Action>,
    /// Deleted for everyone by its author: a tombstone, its text erased, never relayed again (the delete
    /// itself is what catch-up relays).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
}

/// Which of one sender's messages (by `seq`) a room holds: every one up to `contiguous`, plus `above`.
/// This is both the de-duplication index (it never needs the messages themselves) and the catch-up summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderProgress {
    pub contiguous: u64,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub above: BTreeSet<u64>,
}

impl SenderProgress {
    pub fn has(&self, seq: u64) -> bool {
        seq <= self.contiguous || self.above.contains(&seq)
    }

    /// Records `seq`; false if it was already held.
    pub fn record(&mut self, seq: u64) -> bool {
        if self.has(seq) {
            return false;
        }
        self.above.insert(seq);
        while let Some(next) = self.contiguous.checked_add(1).filter(|it| self.above.remove(it)) {
            self.contiguous = next;
        }
        true
    }

    /// The highest seq held at all.
    pub fn highest(&self) -> u64 {
        self.above.last().copied().unwrap_or(self.contiguous).max(self.contiguous)
    }
}

/// A message of ours not yet acknowledged by everyone. Its text is in its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: MessageId,
    pub seq: u64,
    pub page: u32,
    /// Members that have not acknowledged it.
    pub waiting: BTreeSet<Username>,
    pub sent_at: Millis,
}

/// The small per-room record, rewritten on every append.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMeta {
    /// Pages written so far; the last is `page_count - 1`.
    pub page_count: u32,
    /// Length of the last page (so a corrupt last page is noticed and skipped rather than overwritten).
    pub last_page_len: u32,
    pub message_count: u64,
    pub senders: BTreeMap<Username, SenderProgress>,
    #[serde(default)]
    pub outbox: Vec<OutboxEntry>,
    #[serde(default)]
    pub unread: u32,
    #[serde(default)]
    pub last_activity: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "The list of conversations is damaged and could not be read ({reason}); stored messages were kept, and a copy of the damaged list is kept under \"damaged/…\" in storage"
    )]
    CorruptRooms { reason: String },
    #[error(
        "The summary of conversation {room} is damaged ({reason}); its older messages are kept but may be fetched again"
    )]
    CorruptMeta { room: RoomId, reason: String },
    #[error(
        "Part {page} of the history of {room} is damaged and was skipped ({reason}); the rest of the history loaded"
    )]
    CorruptPage { room: RoomId, page: u32, reason: String },
    #[error("Part {page} of the history of {room} is missing; the rest of the history loaded")]
    MissingPage { room: RoomId, page: u32 },
}

/// One room's history as held in memory: its meta and the pages loaded so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomHistory {
    pub meta: RoomMeta,
    /// Loaded pages by index. Damaged pages are present and empty, so they are not asked for again.
    pub pages: BTreeMap<u32, Vec<StoredMessage>>,
}

impl RoomHistory {
    /// Loaded messages, oldest first (as stored: by arrival).
    pub fn loaded_messages(&self) -> impl Iterator<Item = &StoredMessage> {
        self.pages.values().flatten()
    }

    /// The oldest page not loaded yet that is older than everything loaded, if any.
    pub fn next_older_page(&self) -> Option<u32> {
        let oldest = self.pages.keys().next().copied().unwrap_or(self.meta.page_count);
        oldest.checked_sub(1)
    }

    pub fn holds(&self, sender: &Username, seq: u64) -> bool {
        self.meta.senders.get(sender).is_some_and(|it| it.has(seq))
    }

    /// Finds loaded messages by id.
    pub fn find(&self, id: &MessageId) -> Option<(u32, &StoredMessage)> {
        self.pages
            .iter()
            .rev()
            .find_map(|(page, messages)| messages.iter().find(|it| &it.id == id).map(|it| (*page, it)))
    }

    /// Finds a loaded message by id, looking first in the page it is said to be in (an outbox entry's
    /// `page`): a lookup of one page rather than of every loaded one.
    pub fn find_near(&self, page: u32, id: &MessageId) -> Option<(u32, &StoredMessage)> {
        let in_page = self.pages.get(&page).and_then(|messages| messages.iter().find(|it| &it.id == id));
        in_page.map(|it| (page, it)).or_else(|| self.find(id))
    }

    pub fn page_of(&self, id: &MessageId) -> Option<u32> {
        self.find(id).map(|(page, _)| page)
    }
}

/// What [`load`] recovered from storage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedHistory {
    pub rooms: RoomsRecord,
    pub histories: BTreeMap<RoomId, RoomHistory>,
    pub problems: Vec<HistoryError>,
    /// The stored room list, when it could not be read: it must be copied aside (see [`damaged_copy_key`])
    /// before a new list is written over it.
    pub damaged_rooms: Option<Value>,
}

/// Where a damaged record is kept when the record itself has to be written anew: nothing the user had is
/// destroyed, and it can be recovered by hand.
pub fn damaged_copy_key(key: &str) -> String {
    Key::damaged_copy_of(key)
}

/// Whether `snapshot` holds any of `owner`'s pages of `room`.
pub fn holds_pages_of(owner: &Username, room: &RoomId, snapshot: &Snapshot) -> bool {
    snapshot.0.keys().any(|key| Key::parse(key).is_some_and(|key| key.is_page_of(owner, room)))
}

/// Startup reading, stage 2: after reading [`rooms_key`], these meta keys.
pub fn meta_keys(owner: &Username, snapshot: &Snapshot) -> Vec<String> {
    let (rooms, _) = decode_rooms(owner, snapshot);
    rooms.rooms.iter().map(|room| meta_key(owner, &room.id)).collect()
}

/// Startup reading, stage 3: after the metas, the pages to open each room with: the last
/// [`OPEN_PAGES`], plus any page holding a message still in the outbox (its text is needed to re-send it).
pub fn open_page_keys(owner: &Username, snapshot: &Snapshot) -> Vec<String> {
    let (rooms, _) = decode_rooms(owner, snapshot);
    let mut keys = Vec::new();
    for room in &rooms.rooms {
        let (meta, _) = meta_or_recovery(owner, room, snapshot);
        for page in pages_to_open(&meta) {
            keys.push(page_key(owner, &room.id, page));
        }
    }
    keys
}

fn pages_to_open(meta: &RoomMeta) -> BTreeSet<u32> {
    let last_pages = meta.page_count.saturating_sub(OPEN_PAGES)..meta.page_count;
    last_pages.chain(meta.outbox.iter().map(|it| it.page)).filter(|page| *page < meta.page_count).collect()
}

/// Decodes what the three stages read. Never fails as a whole: a damaged record is reported and the rest
/// still loads.
pub fn load(owner: &Username, snapshot: &Snapshot) -> LoadedHistory {
    let mut loaded = LoadedHistory::default();
    let (rooms, problem) = decode_rooms(owner, snapshot);
    if problem.is_some() {
        loaded.damaged_rooms = snapshot.0.get(&rooms_key(owner)).cloned();
    }
    loaded.problems.extend(problem);
    for room in &rooms.rooms {
        let (meta, problem) = meta_or_recovery(owner, room, snapshot);
        let mut history = RoomHistory { meta, pages: BTreeMap::new() };
        loaded.problems.extend(problem);
        let mut damaged = BTreeSet::new();
        for page in pages_to_open(&history.meta) {
            if absorb_page(owner, &room.id, page, snapshot, &mut history, &mut loaded.problems) {
                damaged.insert(page);
            }
        }
        if history.meta.senders.is_empty() {
            // A lost meta loses the de-duplication index. Rebuild it from the last pages, assuming older
            // pages hold everything before: re-fetching (and storing twice) old history is the worse outcome.
            let held: Vec<(Username, u64)> =
                history.loaded_messages().filter(|it| it.seq > 0).map(|it| (it.sender.clone(), it.seq)).collect();
            for (sender, seq) in held {
                let progress = history.meta.senders.entry(sender).or_default();
                progress.contiguous = progress.contiguous.max(seq);
            }
        }
        // A damaged or short last page is not appended to: the next message starts a fresh page, so the
        // damaged record stays as it was (recoverable by hand) and the count of a page never lies. A damaged
        // page loads empty, so its length alone would match a meta rebuilt with `last_page_len` 0.
        let last = history.meta.page_count.checked_sub(1);
        if let Some(last) = last {
            let len = history.pages.get(&last).map_or(0, Vec::len);
            if len != history.meta.last_page_len as usize || damaged.contains(&last) {
                history.meta.page_count = history.meta.page_count.saturating_add(1);
                history.meta.last_page_len = 0;
            }
        }
        loaded.histories.insert(room.id.clone(), history);
    }
    loaded.rooms = rooms;
    loaded
}

/// Adds pages read later (older history for scrolling back or catch-up) to a room's history.
pub fn absorb_pages(
    owner: &Username,
    room: &RoomId,
    snapshot: &Snapshot,
    history: &mut RoomHistory,
) -> Vec<HistoryError> {
    let mut problems = Vec::new();
    let pages: Vec<u32> = snapshot
        .0
        .keys()
        .filter_map(|key| match Key::parse(key)? {
            Key::HistoryPage { owner: o, room: r, page } if &o == owner && &r == room => Some(page),
            _ => None,
        })
        .collect();
    for page in pages {
        if page < history.meta.page_count && !history.pages.contains_key(&page) {
            let _ = absorb_page(owner, room, page, snapshot, history, &mut problems);
        }
    }
    problems
}

fn absorb_page(
    owner: &Username,
    room: &RoomId,
    page: u32,
    snapshot: &Snapshot,
    history: &mut RoomHistory,
    problems: &mut Vec<HistoryError>,
) -> bool {
    let mut damaged = false;
    let messages = match snapshot.0.get(&page_key(owner, room, page)) {
        None => {
            problems.push(HistoryError::MissingPage { room: room.clone(), page });
            Vec::new()
        }
        Some(value) => match Page::deserialize(value) {
            Ok(it) => it.messages.into_iter().filter(|it| &it.room == room).collect(),
            Err(err) => {
                damaged = true;
                problems.push(HistoryError::CorruptPage { room: room.clone(), page, reason: err.to_string() });
                Vec::new()
            }
        },
    };
    history.pages.insert(page, messages);
    damaged
}

fn decode_rooms(owner: &Username, snapshot: &Snapshot) -> (RoomsRecord, Option<HistoryError>) {
    match snapshot.0.get(&rooms_key(owner)) {
        None => (RoomsRecord::default(), None),
        Some(value) => match RoomsRecord::deserialize(value) {
            Ok(it) => (it, None),
            Err(err) => (RoomsRecord::default(), Some(HistoryError::CorruptRooms { reason: err.to_string() })),
        },
    }
}

/// The room's meta; for a damaged or missing one, a stand-in built from the room list's page hint so that
/// loading reads the right pages and appending never overwrites one.
fn meta_or_recovery(owner: &Username, room: &RoomRecord, snapshot: &Snapshot) -> (RoomMeta, Option<HistoryError>) {
    match decode_meta(owner, &room.id, snapshot) {
        Ok(meta) => (meta, None),
        Err(reason) => {
            // `pages_hint` is the last page as of the last page change; with no meta at all it is 0 for a
            // room that never had a message, and then there is no page to read.
            let has_pages = reason.is_some() || snapshot.0.contains_key(&page_key(owner, &room.id, 0));
            let page_count = if has_pages { room.pages_hint.saturating_add(1) } else { 0 };
            let meta = RoomMeta { page_count, last_page_len: 0, ..RoomMeta::default() };
            (meta, reason.map(|reason| HistoryError::CorruptMeta { room: room.id.clone(), reason }))
        }
    }
}

/// `Err(None)`: absent (a room with no messages yet). `Err(Some(reason))`: damaged.
fn decode_meta(owner: &Username, room: &RoomId, snapshot: &Snapshot) -> Result<RoomMeta, Option<String>> {
    let value = snapshot.0.get(&meta_key(owner, room)).ok_or(None)?;
    RoomMeta::deserialize(value).map_err(|err| Some(err.to_string()))
}

/// The outcome of [`append`].
#[derive(Clone, Debug, PartialEq)]
pub struct Appended {
    pub page: u32,
    pub writes: Vec<StorageWrite>,
    /// True when the message started a new page (the room list's page hint should be rewritten).
    pub new_page: bool,
}

/// Appends one message: writes its page (the last) and the meta, nothing else.
/// The caller has already checked for duplicates and updated `meta.senders`, `unread` and the outbox.
pub fn append(owner: &Username, history: &mut RoomHistory, message: StoredMessage) -> Appended {
    let room = message.room.clone();
    let meta = &mut history.meta;
    let mut new_page = false;
    if meta.page_count == 0 || meta.last_page_len as usize >= PAGE_SIZE {
        meta.page_count = meta.page_count.saturating_add(1);
        meta.last_page_len = 0;
        new_page = true;
    }
    let page = meta.page_count - 1;
    meta.last_page_len = meta.last_page_len.saturating_add(1);
    meta.message_count = meta.message_count.saturating_add(1);
    meta.last_activity = meta.last_activity.max(message.received_at);
    let messages = history.pages.entry(page).or_default();
    messages.push(message);
    let writes = vec![page_write(owner, &room, page, messages), set(meta_key(owner, &room), &history.meta)];
    Appended { page, writes, new_page }
}

pub fn page_write(owner: &Username, room: &RoomId, page: u32, messages: &[StoredMessage]) -> StorageWrite {
    // Built by hand rather than through a borrowed `Page` to avoid cloning the page for every append.
    let value = serde_json::json!({ "messages": messages });
    StorageWrite::Set { key: page_key(owner, room, page), value }
}

pub fn meta_write(owner: &Username, room: &RoomId, meta: &RoomMeta) -> StorageWrite {
    set(meta_key(owner, room), meta)
}

/// Changes the delivery state of one of our messages; the write rewrites its page (one page, not more).
/// `None` when the page is not loaded or the state is unchanged.
pub fn set_state(
    owner: &Username,
    room: &RoomId,
    history: &mut RoomHistory,
    id: &MessageId,
    state: DeliveryState,
) -> Option<StorageWrite> {
    let (page, messages) =
        history.pages.iter_mut().rev().find(|(_, messages)| messages.iter().any(|it| &it.id == id))?;
    let message = messages.iter_mut().find(|it| &it.id == id)?;
    if message.state == Some(state) {
        return None;
    }
    message.state = Some(state);
    Some(page_write(owner, room, *page, messages))
}

/// Turns a loaded message into a tombstone: its text erased, marked deleted (its page rewritten). `None`
/// when it is not loaded or already one.
pub fn erase(
    owner: &Username,
    room: &RoomId,
    history: &mut RoomHistory,
    id: &MessageId,
    author: &Username,
) -> Option<StorageWrite> {
    let mine = |it: &StoredMessage| &it.id == id && &it.sender == author;
    let (page, messages) = history.pages.iter_mut().rev().find(|(_, messages)| messages.iter().any(mine))?;
    let message = messages.iter_mut().find(|it| mine(it))?;
    if message.deleted {
        return None;
    }
    message.deleted = true;
    message.text.clear();
    message.signature = None;
    Some(page_write(owner, room, *page, messages))
}

/// Drops pages loaded for catch-up or scrolling back, keeping what [`load`] would open.
pub fn trim(history: &mut RoomHistory) {
    let keep = pages_to_open(&history.meta);
    history.pages.retain(|page, _| keep.contains(page));
}

/// A JSON value's size as stored (for the append-cost check and quota estimates).
pub fn stored_len(write: &StorageWrite) -> usize {
    match write {
        StorageWrite::Set { key, value } => key.len() + serde_json::to_string(value).map_or(0, |it| it.len()),
        StorageWrite::Remove { key } => key.len(),
    }
}

/// For tests and tools: applies writes to a snapshot as `chrome.storage.local` would.
pub fn apply(snapshot: &mut Snapshot, writes: &[StorageWrite]) {
    for write in writes {
        match write {
            StorageWrite::Set { key, value } => {
                snapshot.0.insert(key.clone(), value.clone());
            }
            StorageWrite::Remove { key } => {
                snapshot.0.remove(key);
            }
        }
    }
}

/// For tests and tools: a snapshot holding only `keys` of `full` (what a shell reading just those gets).
pub fn read(full: &Snapshot, keys: &[String]) -> Snapshot {
    Snapshot(
        keys.iter()
            .filter_map(|key| Some((key.clone(), full.0.get(key)?.clone())))
            .collect::<BTreeMap<String, Value>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    fn message(room: &RoomId, n: u64) -> StoredMessage {
        StoredMessage {
            id: MessageId::parse(&format!("m-{n}")).unwrap(),
            room: room.clone(),
            sender: user("bob"),
            text: format!("message number {n}"),
            timestamp: Millis(n),
            received_at: Millis(n),
            seq: n,
            state: None,
            signature: None,
            act: None,
            deleted: false,
        }
    }

    /// Storage holding a room with `n` messages, written through `append`.
    fn disk_with(owner: &Username, room: &RoomId, n: u64) -> Snapshot {
        let mut disk = Snapshot::default();
        let mut history = RoomHistory::default();
        for i in 1..=n {
            history.meta.senders.entry(user("bob")).or_default().record(i);
            let appended = append(owner, &mut history, message(room, i));
            apply(&mut disk, &appended.writes);
        }
        let record = RoomsRecord {
            rooms: vec![RoomRecord::direct(room.clone(), user("bob"), history.meta.page_count - 1)],
            ..RoomsRecord::default()
        };
        apply(&mut disk, &[set(rooms_key(owner), &record)]);
        disk
    }

    fn staged_read(owner: &Username, disk: &Snapshot) -> (Snapshot, usize) {
        let mut keys = vec![rooms_key(owner)];
        keys.extend(meta_keys(owner, &read(disk, &keys)));
        let pages = open_page_keys(owner, &read(disk, &keys));
        let n_pages = pages.len();
        keys.extend(pages);
        (read(disk, &keys), n_pages)
    }

    #[test]
    fn appends_fill_pages_and_a_reload_opens_only_the_last_pages() {
        let (alice, room) = (user("alice"), RoomId::direct(&user("alice"), &user("bob")));
        let disk = disk_with(&alice, &room, 300);
        let (snapshot, n_pages) = staged_read(&alice, &disk);
        assert_eq!(n_pages, 2);
        let loaded = load(&alice, &snapshot);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let history = &loaded.histories[&room];
        assert_eq!(history.meta.page_count, 3);
        assert_eq!(history.meta.message_count, 300);
        assert_eq!(history.loaded_messages().count(), 128 + 44);
        assert_eq!(history.loaded_messages().last().unwrap().seq, 300);
        assert_eq!(history.next_older_page(), Some(0));
        assert_eq!(history.meta.senders[&user("bob")].contiguous, 300);
    }

    #[test]
    fn a_corrupt_page_is_reported_skipped_and_never_overwritten() {
        let (alice, room) = (user("alice"), RoomId::direct(&user("alice"), &user("bob")));
        let mut disk = disk_with(&alice, &room, 150);
        let damaged = serde_json::json!({"messages": "garbage"});
        disk.0.insert(page_key(&alice, &room, 1), damaged.clone());
        let (snapshot, _) = staged_read(&alice, &disk);
        let mut loaded = load(&alice, &snapshot);
        assert!(matches!(&loaded.problems[..], [HistoryError::CorruptPage { page: 1, .. }]));
        let history = loaded.histories.get_mut(&room).unwrap();
        assert_eq!(history.loaded_messages().count(), 128);
        let appended = append(&alice, history, message(&room, 151));
        assert_eq!(appended.page, 2);
        apply(&mut disk, &appended.writes);
        assert_eq!(disk.0[&page_key(&alice, &room, 1)], damaged);
    }

    #[test]
    fn a_corrupt_meta_keeps_the_pages() {
        let (alice, room) = (user("alice"), RoomId::direct(&user("alice"), &user("bob")));
        let mut disk = disk_with(&alice, &room, 200);
        disk.0.insert(meta_key(&alice, &room), serde_json::json!(7));
        let (snapshot, _) = staged_read(&alice, &disk);
        let mut loaded = load(&alice, &snapshot);
        assert!(matches!(&loaded.problems[..], [HistoryError::CorruptMeta { .. }]));
        let appended = append(&alice, loaded.histories.get_mut(&room).unwrap(), message(&room, 201));
        assert!(appended.page >= 2, "appending must not overwrite page {}", appended.page);
    }

    #[test]
    fn sender_progress_tracks_gaps() {
        let mut progress = SenderProgress::default();
        assert!(progress.record(1));
        assert!(progress.record(3));
        assert!(!progress.record(3));
        assert_eq!((progress.contiguous, progress.highest()), (1, 3));
        assert!(progress.record(2));
        assert_eq!((progress.contiguous, progress.above.len()), (3, 0));
        assert!(progress.has(2) && !progress.has(4));
    }

    #[test]
    fn state_changes_rewrite_one_page() {
        let (alice, room) = (user("alice"), RoomId::direct(&user("alice"), &user("bob")));
        let mut history = RoomHistory::default();
        let mut sent = message(&room, 1);
        sent.state = Some(DeliveryState::Sending);
        append(&alice, &mut history, sent.clone());
        let write = set_state(&alice, &room, &mut history, &sent.id, DeliveryState::Delivered).unwrap();
        assert!(matches!(write, StorageWrite::Set { ref key, .. } if *key == page_key(&alice, &room, 0)));
        assert_eq!(set_state(&alice, &room, &mut history, &sent.id, DeliveryState::Delivered), None);
    }
}
