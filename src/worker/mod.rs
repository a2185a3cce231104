//! The background worker's logic: the single writer of the user's data and the owner of the chat state.
//!
//! [`WorkerModel`] takes a bridge [`Request`] ([`WorkerModel::handle`]), an engine report
//! ([`WorkerModel::handle_engine`]), a timer ([`WorkerModel::handle_timeout`]) or what storage returned
//! ([`WorkerModel::handle_read`], [`WorkerModel::handle_read_all`]), and queues [`Effect`]s. The shell drains
//! them with [`WorkerModel::poll_effect`], as it drains `ChatNode::poll_output`, and performs each in order.
//! A write comes before everything queued after it, so a message is stored before it is shown and before its
//! acknowledgement leaves. Time and randomness come in as arguments; the model never reads a clock.
//!
//! The passphrase ([`crate::at_rest`]) lives here too: every write is sealed and every read opened by the
//! model's [`Vault`], so the shell stores and reads exactly what it is told and never sees a plain record of a
//! protected history, nor a sealed one reach the chat layer.
//!
//! Files: [`loader`] (reading storage at start and on a reload), `requests` (the popup's requests),
//! `conversations` (deleting, leaving, renaming, muting and pinning a conversation; notification clicks),
//! `passphrase` (the vault's requests), `search` (search and the room around a hit), `reports` (the engine's
//! reports, timers, reads), `files` (files and images: the transfers hosted), `view` (what the
//! popup shows), [`error`], and `mem_shell` (an in-memory shell for tests and benches, feature `mem-shell`).

mod conversations;
mod drafts;
mod erase;
mod error;
mod files;
pub mod loader;
#[cfg(feature = "mem-shell")]
mod mem_shell;
mod passphrase;
mod reports;
mod requests;
mod search;
mod view;

use std::collections::{BTreeMap, VecDeque};

pub use error::{
    WorkerError, history_phrase, passphrase_phrase, peer_phrase, settings_phrase, storage_phrase, storage_write_failed,
};
pub use files::FileRead;
pub use loader::{LoadStep, Loader};
#[cfg(feature = "mem-shell")]
pub use mem_shell::MemShell;

use crate::at_rest::{self, Vault};
use crate::auth_gate::LinkGate;
use crate::bridge::{EngineStatus, Response, WorkerToEngine};
use crate::chat::{ChatNode, RoomId};
use crate::identity::{Identity, PublicKey};
use crate::log_budget::LogBudget;
use crate::phrase::{Code, Phrase};
use crate::storage::{self, Key, Loaded, StorageWrite};
use crate::time::Millis;

/// How many messages of the open room the popup shows at first; "load older" adds a page at a time.
pub const OPEN_ROOM_WINDOW: usize = 100;

/// Where the history key is kept for the browser session (`chrome.storage.session`, memory only).
pub const SESSION_KEY: &str = "at_rest_key";

/// At most this many "dropped a frame" lines per window; a flood is counted, not logged line by line.
const DROP_LOG: (u32, u64) = (30, 10_000);

/// Something for the shell to do, in the order [`WorkerModel::poll_effect`] returns them.
// A reply (the view) is the large variant; an effect lives only until the shell polls it, so boxing it would
// buy nothing but an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Store these in `chrome.storage.local`, in order. Nothing queued after them may happen before they are
    /// stored; the shell may store several consecutive `Write`s as one (see `background/src/worker.rs`).
    Write(Vec<StorageWrite>),
    /// The answer to the popup request being handled.
    Reply(Response),
    /// A command for the engine. While handling an engine report, the reply to that report.
    Engine(WorkerToEngine),
    /// Read these keys and hand what was found to [`WorkerModel::handle_read`].
    Read(Vec<String>),
    /// Read every stored record and hand them to [`WorkerModel::handle_read_all`].
    ReadAll,
    /// Read these keys (chunks of files) and hand what was found, with `then`, to
    /// [`WorkerModel::handle_file_read`].
    ReadFile { keys: Vec<String>, then: FileRead },
    /// Change the browser-session storage (`chrome.storage.session`): where the history key is kept.
    Session(StorageWrite),
    /// Rebuild the model from storage: run [`WorkerModel::reloader`] and hand it to [`WorkerModel::reload`].
    /// What is queued after it comes from the rebuilt model.
    Reload,
    /// Show a notification (the user has them on).
    Notify(Arrival),
    /// A line for the worker's console, already rate-limited.
    Log(String),
    /// What the popup shows changed: every open popup should get [`WorkerModel::view`].
    ViewChanged,
}

/// An effect as queued: some are completed only when polled, so they describe the model as it is then (after
/// a reload, say), and the view is built only for the popup that asked for it.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Queued {
    Ready(Effect),
    /// `Reply(Response::View)` with the view at the time it is polled.
    ReplyWithView,
    /// `Engine` with [`WorkerModel::engine_config`] at the time it is polled.
    EngineConfig,
}

/// An incoming message worth a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// The notification's title: the sender, "sender in group", or what the alert is about.
    pub title: Phrase,
    /// Its body: the message's text as written, or words the shell says in the user's language.
    pub text: Phrase,
    /// One notification per id: a newer one replaces the older. A room's id (`RoomView::notification_id`),
    /// never its title, so a group named like a contact cannot replace that contact's notifications.
    pub notification_id: String,
}

impl Arrival {
    /// What a message from `sender` in the conversation titled `room_title` is titled.
    pub(crate) fn title_for(sender: &str, room_title: &str) -> Phrase {
        if sender == room_title {
            Phrase::new(Code::Text).with(sender)
        } else {
            Phrase::new(Code::NotifyIn).with(sender).with(room_title)
        }
    }
}

/// Why the model asked for every stored record ([`Effect::ReadAll`]).
enum WholeRead {
    Export,
    /// Storage is to hold exactly these records (an imported file).
    Import(storage::Snapshot),
    SetPassphrase {
        passphrase: String,
    },
    ChangePassphrase {
        key: at_rest::Key,
        new: String,
    },
    RemovePassphrase {
        key: at_rest::Key,
    },
    /// To build the search index.
    Search(search::PendingSearch),
    /// A conversation was deleted: whatever of its room storage still holds is removed.
    PurgeRoom {
        owner: crate::account::Username,
        room: RoomId,
    },
}

pub struct WorkerModel {
    loaded: Loaded,
    /// What the engine last reported; not stored, since it describes a live connection.
    engine: EngineStatus,
    /// The signed-in user's chat state.
    chat: Option<ChatNode>,
    /// The room the popup shows (and reopens on); kept read while a popup is open.
    selected_room: Option<RoomId>,
    /// True while a popup is connected, so the selected room is being read.
    popup_open: bool,
    /// How many of the open room's latest messages the popup shows.
    window: usize,
    /// Problems met loading chat history, worded for the user.
    history_problems: Vec<Phrase>,
    /// The last reason a dial to a peer (by PeerJS id) failed, until a link to it comes up; not stored.
    unreachable: BTreeMap<String, Phrase>,
    /// Warnings about a peer's unverified connection (a contact the user allowed without the handshake), by
    /// PeerJS id; shown while such a link is up (online and not authenticated).
    warnings: BTreeMap<String, Phrase>,
    /// This install's identity key (one per install, kept across sign-outs so contacts keep trusting it).
    identity: Option<Identity>,
    /// The stored identity record exists but is damaged: it is reported and never overwritten.
    identity_damaged: bool,
    /// The identity handshake on every link of the signed-in user.
    gate: Option<LinkGate>,
    /// The contact book could not be read: it is not written back, so a damaged record is not replaced.
    contacts_read_only: bool,
    /// Safety numbers by the peer's key (5,200 SHA-512 rounds per key: computed once, not per view).
    safety_numbers: std::cell::RefCell<BTreeMap<PublicKey, String>>,
    /// The passphrase's lock record and, once entered, the key: every write and read passes through it.
    vault: Vault,
    /// What the shell is to do next.
    effects: VecDeque<Queued>,
    /// Why the pending [`Effect::ReadAll`]s were asked for, oldest first.
    whole_reads: VecDeque<WholeRead>,
    /// The random bytes of the input being handled, and how many writes were sealed with them: each sealed
    /// write gets its own nonce.
    entropy: ([u8; 32], usize),
    /// Limits the lines a peer can make the worker log by sending frames that are dropped.
    drop_log: LogBudget,
    /// The input being handled changed the view.
    view_dirty: bool,
    /// The search index, once built, and the message a search opened ([`search`]).
    search: search::SearchState,
    /// The signed-in user's unsent drafts.
    drafts: drafts::Drafts,
    /// The signed-in user's files (none while locked or without an identity key).
    files: Option<files::Files>,
}

impl WorkerModel {
    /// Tells the model an input begins: `random` are 32 fresh bytes, for the nonces of what it seals.
    fn begin(&mut self, random: [u8; 32]) {
        self.entropy = (random, 0);
    }

    /// The next thing for the shell to do, if any.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        Some(match self.effects.pop_front()? {
            Queued::Ready(effect) => effect,
            Queued::ReplyWithView => Effect::Reply(Response::View { view: Box::new(self.view()) }),
            Queued::EngineConfig => Effect::Engine(self.engine_config()),
        })
    }

    /// Forgets every queued effect and pending read: the shell could not perform one (storage failed), and
    /// rebuilds the model from storage instead ([`WorkerModel::reloader`]).
    pub fn abandon_effects(&mut self) {
        self.effects.clear();
        self.whole_reads.clear();
    }

    fn push(&mut self, effect: Effect) {
        self.effects.push_back(Queued::Ready(effect));
    }

    fn reply_with_view(&mut self) {
        self.effects.push_back(Queued::ReplyWithView);
    }

    fn command(&mut self, command: WorkerToEngine) {
        self.push(Effect::Engine(command));
    }

    /// What the popup shows changed: one [`Effect::ViewChanged`] goes out at the end of the input.
    fn view_changed(&mut self) {
        self.view_dirty = true;
    }

    /// Ends an input: one view update for everything it changed.
    fn end_input(&mut self) {
        if std::mem::take(&mut self.view_dirty) {
            self.push(Effect::ViewChanged);
        }
    }

    /// Queues writes as they are to be stored: history sealed while a passphrase is set. While locked no
    /// history is held, so a history write cannot be sealed: it is dropped rather than stored in the clear.
    fn write(&mut self, writes: Vec<StorageWrite>) {
        if writes.is_empty() {
            return;
        }
        let (random, used) = self.entropy;
        // Each write of this input gets its own nonce: the index goes on where the last batch stopped.
        let mut random_for_batch = random;
        let offset = used.to_le_bytes();
        for (byte, add) in random_for_batch.iter_mut().zip(offset) {
            *byte ^= add;
        }
        self.entropy.1 += writes.len();
        let (writes, dropped) = self.vault.outgoing(writes, at_rest_random(&random_for_batch, "writes"));
        if !dropped.is_empty() {
            self.push(Effect::Log(format!("multichat: {} history writes dropped while locked", dropped.len())));
        }
        if !writes.is_empty() {
            self.push(Effect::Write(writes));
        }
    }

    fn log_dropped(&mut self, now: Millis, reason: &str) {
        for line in self.drop_log.admit(now, &format!("multichat: {reason}")) {
            self.push(Effect::Log(line));
        }
    }

    /// Problems met reading storage (records that did not decrypt), for the view.
    fn add_problems(&mut self, problems: impl IntoIterator<Item = Phrase>) {
        self.history_problems.extend(problems);
    }

    /// The toolbar badge count.
    pub fn unread(&self) -> u32 {
        self.chat.as_ref().map_or(0, ChatNode::total_unread)
    }

    /// The language chosen in Settings (a `_locales` folder), `None` to follow the browser's.
    pub fn language(&self) -> Option<&str> {
        self.loaded.settings.language.as_deref()
    }

    /// Notifications on or off, as the user set it.
    pub fn notifications_enabled(&self) -> bool {
        self.loaded.settings.notifications
    }

    /// When [`WorkerModel::handle_timeout`] should next run.
    pub fn next_timeout(&self) -> Option<Millis> {
        let chat = self.chat.as_ref().and_then(ChatNode::poll_timeout);
        let gate = self.gate.as_ref().and_then(LinkGate::poll_timeout);
        chat.into_iter().chain(gate).min()
    }

    /// True when the user is signed in and the history is open, so an engine should be running.
    pub fn wants_engine(&self) -> bool {
        self.loaded.account.is_some() && !self.locked()
    }

    /// The passphrase was not entered this browser session (or its record is damaged): no history is held,
    /// every request but a few is refused, and the engine is kept off.
    pub fn locked(&self) -> bool {
        self.vault.locked()
    }

    /// What the engine should be doing now.
    pub fn engine_config(&self) -> WorkerToEngine {
        match &self.loaded.account {
            Some(_) if self.locked() => WorkerToEngine::Shutdown,
            Some(account) => WorkerToEngine::Configure {
                peer_id: account.username.peer_id(),
                token: Some(account.token.clone()).filter(|it| !it.is_empty()),
                settings: self.loaded.settings.clone(),
            },
            None => WorkerToEngine::Shutdown,
        }
    }

    fn ui_write(&self) -> StorageWrite {
        let record = storage::UiRecord { open_room: self.selected_room.as_ref().map(|it| it.as_str().to_owned()) };
        storage::set(Key::Ui, &record)
    }

    fn select(&mut self, room: Option<RoomId>) {
        self.selected_room = room;
        self.window = OPEN_ROOM_WINDOW;
        self.search.unfocus();
    }

    /// No popup is open any more: nothing is being read, so new messages count as unread again.
    pub fn popups_closed(&mut self) {
        self.popup_open = false;
        self.window = OPEN_ROOM_WINDOW;
    }
}

/// 32 bytes for one use (`purpose`) derived from an input's random bytes, so that the salt, the nonces of a
/// re-sealed history and the nonces of ordinary writes never come from the same bytes.
fn at_rest_random(random: &[u8; 32], purpose: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(b"multichat worker randomness v1")
        .chain_update(purpose)
        .chain_update(random)
        .finalize()
        .into()
}

fn first_half(random: &[u8; 32]) -> [u8; 16] {
    let mut half = [0; 16];
    half.copy_from_slice(&random[..16]);
    half
}
