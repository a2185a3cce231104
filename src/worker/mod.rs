//! The background worker's logic: the single writer of the user's data and the owner of the chat state.
//!
//! [`WorkerModel`] turns a bridge [`Request`] or an engine report ([`EngineToWorker`]) into a [`Handled`]:
//! storage writes, then a reply, then commands for the engine. The shell performs them in that order, so a
//! message is stored before it is shown, and before its acknowledgement leaves. Time and randomness come in
//! as arguments; the model never reads a clock.

use std::collections::BTreeMap;

mod error;

pub use error::WorkerError;

use crate::account::Username;
use crate::at_rest::AtRestError;
use crate::auth_gate::AuthGate;
use crate::bridge::LinkId;
use crate::bridge::{
    AccountView, EngineStatus, EngineToWorker, LinkInfo, MemberSummary, MessageState, MessageView, OpenRoom, Request,
    Response, RoomSummary, View, WorkerToEngine,
};
use crate::chat::history::{self, PAGE_SIZE};
use crate::chat::{ChatEvent, ChatNode, Command, DeliveryState, Input, Output, RoomId, RoomView, StoredMessage};
use crate::identity::{ContactBook, Identity, IdentityRecord, PublicKey, TrustState, safety_number};
use crate::peerjs::Serialization;
use crate::storage::{self, AccountRecord, Key, Loaded, Snapshot, StorageWrite};
use crate::time::Millis;

/// How many messages of the open room the popup shows at first; "load older" adds a page at a time.
pub const OPEN_ROOM_WINDOW: usize = 100;

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
    history_problems: Vec<String>,
    /// The last reason a dial to a peer (by PeerJS id) failed, until a link to it comes up; not stored.
    unreachable: BTreeMap<String, String>,
    /// Warnings about a peer's current connection (a known contact without the handshake), by PeerJS id;
    /// shown while it lasts, online or not.
    warnings: BTreeMap<String, String>,
    /// This install's identity key (one per install, kept across sign-outs so contacts keep trusting it).
    identity: Option<Identity>,
    /// The stored identity record exists but is damaged: it is reported and never overwritten.
    identity_damaged: bool,
    /// The identity handshake on every link of the signed-in user.
    gate: Option<AuthGate>,
    /// The contact book could not be read: it is not written back, so a damaged record is not replaced.
    contacts_read_only: bool,
    /// Safety numbers by the peer's key (5,200 SHA-512 rounds per key: computed once, not per view).
    safety_numbers: std::cell::RefCell<BTreeMap<PublicKey, String>>,
    /// The history is protected by a passphrase ([`crate::at_rest`]).
    passphrase_set: bool,
    /// The passphrase was not entered this browser session: no history is loaded and the engine stays off.
    locked: bool,
}

/// The outcome of one input, to be performed in field order: `writes` (wait until stored), then the reply,
/// then `to_engine`, then `reads` (whose result goes back through [`WorkerModel::handle_read`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Handled {
    pub writes: Vec<StorageWrite>,
    pub response: Response,
    /// True when the view changed, so every open popup should get an update.
    pub view_changed: bool,
    pub to_engine: Vec<WorkerToEngine>,
    /// Storage keys the chat layer needs to read to go on.
    pub reads: Vec<String>,
    /// True when the model must be rebuilt from storage after the writes (a different user signed in).
    pub reload: bool,
    /// Messages that arrived in a room no popup shows: the shell may notify about them.
    pub arrivals: Vec<Arrival>,
    /// Frames from peers that were dropped (the link is kept), with the reason: for the shell's log.
    pub dropped: Vec<String>,
    /// The reply is the user's data export: after the writes, the shell reads every stored record and
    /// answers with [`WorkerModel::export_response`] instead of `response`.
    pub export_all: bool,
    /// After the writes, storage is to hold exactly these records (an imported file): the shell reads
    /// every key and performs [`crate::export::replacement_writes`], before any reload.
    pub replace_all: Option<Snapshot>,
}

/// What the view says about a member's key.
#[derive(Default)]
struct Trust {
    safety_number: Option<String>,
    verified: bool,
    new_key_safety_number: Option<String>,
}

/// An incoming message worth a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub sender: String,
    pub text: String,
    pub room_title: String,
}

impl WorkerModel {
    /// Which keys the worker needs from storage, given what it has read so far. The shell reads them and
    /// asks again until nothing new is asked for; only the room list, each room's meta record and the
    /// latest pages are read, never the whole history.
    pub fn keys_to_read(snapshot: &Snapshot) -> Vec<String> {
        let mut wanted: Vec<String> =
            [Key::SchemaVersion, Key::Account, Key::Settings, Key::Ui, Key::Identity].map(|it| it.to_string()).to_vec();
        let account =
            snapshot.get(&Key::Account).and_then(|it| serde_json::from_value::<AccountRecord>(it.clone()).ok());
        if let Some(account) = account {
            let user = &account.username;
            wanted.push(Key::Contacts(user.clone()).to_string());
            wanted.push(Key::Rooms(user.clone()).to_string());
            wanted.extend(history::meta_keys(user, snapshot));
            wanted.extend(history::open_page_keys(user, snapshot));
        }
        wanted
    }

    /// Builds the model from what storage holds. The returned writes (a schema migration) must be applied
    /// before any request's writes.
    pub fn load(snapshot: &Snapshot, now: Millis) -> (WorkerModel, Vec<StorageWrite>) {
        let mut loaded = storage::load(snapshot);
        let migration = std::mem::take(&mut loaded.migration);
        let chat = loaded.account.as_ref().map(|it| ChatNode::restore(it.username.clone(), snapshot, now));
        let selected_room = loaded.ui.open_room.as_deref().and_then(|it| RoomId::parse(it).ok());
        let mut problems = Vec::new();
        let identity = match snapshot.get(&Key::Identity).map(|it| serde_json::from_value::<IdentityRecord>(it.clone()))
        {
            None => Ok(None),
            Some(Ok(record)) => Identity::from_record(&record).map(Some).map_err(|err| err.to_string()),
            Some(Err(err)) => Err(err.to_string()),
        };
        let identity_damaged = identity.is_err();
        let identity = identity.unwrap_or_else(|reason| {
            problems.push(format!(
                "Your identity key record is damaged ({reason}); chats are unverified until it is repaired"
            ));
            None
        });
        let mut contacts_read_only = false;
        let gate = loaded.account.as_ref().map(|account| {
            let contacts = match snapshot.get(&Key::Contacts(account.username.clone())).map(ContactBook::from_value) {
                None => ContactBook::new(),
                Some(Ok(book)) => book,
                Some(Err(err)) => {
                    contacts_read_only = true;
                    problems
                        .push(format!("Your list of known contacts' keys is damaged ({err}); it was kept as it was"));
                    ContactBook::new()
                }
            };
            AuthGate::new(identity.clone(), account.username.peer_id(), contacts)
        });
        let mut model = WorkerModel {
            loaded,
            engine: EngineStatus::Offline,
            chat,
            selected_room,
            popup_open: false,
            window: OPEN_ROOM_WINDOW,
            history_problems: problems,
            unreachable: BTreeMap::new(),
            warnings: BTreeMap::new(),
            identity,
            identity_damaged,
            gate,
            contacts_read_only,
            safety_numbers: Default::default(),
            passphrase_set: false,
            locked: false,
        };
        // Restoring reports damaged records as events; collect them for the view.
        let mut ignored = model.empty(Response::View { view: View::default() });
        model.drain_chat(&mut ignored);
        (model, migration)
    }

    /// Tells the model whether a passphrase protects the history and whether it was entered. While locked, no
    /// history is held (the shell hands none in), every request but [`Request::GetView`] and
    /// [`Request::SignOut`] is refused, and the engine is kept off.
    pub fn set_lock(&mut self, passphrase_set: bool, locked: bool) {
        self.passphrase_set = passphrase_set;
        self.locked = locked;
        if locked {
            self.chat = None;
        }
    }

    /// Problems the shell met reading storage (records that did not decrypt), for the view.
    pub fn add_problems(&mut self, problems: impl IntoIterator<Item = String>) {
        self.history_problems.extend(problems);
    }

    /// Carries over what a reload from storage cannot know: the engine's status and the open room.
    pub fn carry_over_from(&mut self, previous: &WorkerModel) {
        self.engine = previous.engine.clone();
        self.popup_open = previous.popup_open;
    }

    pub fn view(&self) -> View {
        let rooms: Vec<RoomView> = self.chat.as_ref().map(ChatNode::room_views).unwrap_or_default();
        let open_room = self.selected_room.as_ref().and_then(|selected| {
            let room = rooms.iter().find(|it| &it.id == selected)?;
            let chat = self.chat.as_ref()?;
            let me = chat.me();
            let loaded = chat.messages(selected);
            let shown = &loaded[loaded.len().saturating_sub(self.window)..];
            let has_older =
                shown.len() < loaded.len() || chat.history(selected).is_some_and(|it| it.next_older_page().is_some());
            Some(OpenRoom {
                room: summary(room, &self.unreachable, &self.warnings, self.gate.as_ref(), &|user| self.trust(user)),
                messages: shown.iter().map(|it| message_view(it, me)).collect(),
                has_older,
            })
        });
        let mut storage_problems: Vec<String> = self.loaded.problems.iter().map(ToString::to_string).collect();
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
                .map(|it| summary(it, &self.unreachable, &self.warnings, self.gate.as_ref(), &|user| self.trust(user)))
                .collect(),
            open_room,
            passphrase_set: self.passphrase_set,
            locked: self.locked,
        }
    }

    /// The toolbar badge count.
    pub fn unread(&self) -> u32 {
        self.chat.as_ref().map_or(0, ChatNode::total_unread)
    }

    /// Notifications on or off, as the user set it.
    pub fn notifications_enabled(&self) -> bool {
        self.loaded.settings.notifications
    }

    /// When [`WorkerModel::handle_timeout`] should next run.
    pub fn next_timeout(&self) -> Option<Millis> {
        let chat = self.chat.as_ref().and_then(ChatNode::poll_timeout);
        let gate = self.gate.as_ref().and_then(AuthGate::poll_timeout);
        chat.into_iter().chain(gate).min()
    }

    pub fn handle(&mut self, request: Request, now: Millis, random: [u8; 32]) -> Handled {
        if self.locked && !matches!(request, Request::GetView | Request::SignOut) {
            return refuse(AtRestError::Locked);
        }
        let mut handled = match request {
            Request::GetView => {
                // A popup asks for the view when it opens: from now on the shown room is being read.
                self.popup_open = true;
                self.empty(self.view_response())
            }
            Request::SignIn { username } => match Username::parse(&username) {
                Ok(username) => {
                    let token = crate::peerjs::signal::random_token(&random[..16]);
                    let record = AccountRecord { username, token };
                    let mut writes = vec![storage::set(Key::Account, &record)];
                    if self.identity.is_none() && !self.identity_damaged {
                        // The first sign-in on this install makes its identity key, from fresh randomness.
                        let identity = Identity::from_seed(random);
                        writes.push(storage::set(Key::Identity, &identity.to_record()));
                        self.identity = Some(identity);
                    }
                    self.loaded.account = Some(record);
                    let mut handled = self.changed(writes);
                    // The chat state of this user (history from an earlier sign-in) is read by a reload.
                    handled.reload = true;
                    handled.command(self.engine_config())
                }
                Err(err) => refuse(err),
            },
            Request::SignOut => {
                if let Some(chat) = self.chat.as_mut() {
                    let _ = chat.handle_command(now, Command::SignOut);
                }
                let mut handled = self.changed(Vec::new());
                self.drain_chat(&mut handled);
                self.chat = None;
                self.select(None);
                self.loaded.account = None;
                self.engine = EngineStatus::Offline;
                handled.writes.push(storage::remove(Key::Account));
                handled.writes.push(self.ui_write());
                handled.response = self.view_response();
                handled.command(WorkerToEngine::Shutdown)
            }
            Request::SaveSettings { settings } => match settings.validate() {
                Ok(()) => {
                    let write = storage::set(Key::Settings, &settings);
                    self.loaded.settings = settings;
                    let handled = self.changed(vec![write]);
                    match self.loaded.account {
                        Some(_) => handled.command(self.engine_config()),
                        None => handled,
                    }
                }
                Err(err) => refuse(err),
            },
            Request::SelectRoom { room } => match room.map(|it| RoomId::parse(&it)).transpose() {
                Ok(room) => {
                    self.select(room);
                    self.changed(vec![self.ui_write()])
                }
                Err(_) => refuse(WorkerError::NoSuchRoom),
            },
            Request::OpenDirect { username } => match Username::parse(&username) {
                Ok(username) => self.chat_command(now, Command::OpenDirect { username }, true),
                Err(err) => refuse(err),
            },
            Request::CreateGroup { name } => {
                self.chat_command(now, Command::CreateGroup { name, random: first_half(&random) }, true)
            }
            Request::Invite { room, username } => match (RoomId::parse(&room), Username::parse(&username)) {
                (Ok(room), Ok(username)) => self.chat_command(now, Command::Invite { room, username }, false),
                (Err(_), _) => refuse(WorkerError::NoSuchRoom),
                (_, Err(err)) => refuse(err),
            },
            Request::SendText { room, text } => match RoomId::parse(&room) {
                Ok(room) => self.chat_command(now, Command::Send { room, text, random: first_half(&random) }, false),
                Err(_) => refuse(WorkerError::NoSuchRoom),
            },
            Request::LoadOlder { room } => match RoomId::parse(&room) {
                Ok(room) => {
                    self.window = self.window.saturating_add(PAGE_SIZE);
                    self.chat_command(now, Command::LoadOlder { room }, false)
                }
                Err(_) => refuse(WorkerError::NoSuchRoom),
            },
            Request::MarkVerified { username, safety_number: shown } => self.mark_verified(&username, &shown),
            Request::AcceptNewKey { username, safety_number: shown } => {
                self.decide_new_key(now, &username, &shown, true)
            }
            Request::RejectNewKey { username, safety_number: shown } => {
                self.decide_new_key(now, &username, &shown, false)
            }
            Request::ExportData => match self.loaded.account {
                Some(_) => {
                    let mut handled = self
                        .empty(Response::Error { message: "Your data could not be read for the export".to_owned() });
                    handled.export_all = true;
                    handled
                }
                None => refuse(WorkerError::NotSignedIn),
            },
            Request::ImportData { json } => self.import(now, &json),
            // The shell performs these (they need the whole stored history and the session key).
            Request::Unlock { .. }
            | Request::SetPassphrase { .. }
            | Request::ChangePassphrase { .. }
            | Request::RemovePassphrase { .. }
            | Request::LockNow => refuse(WorkerError::PassphraseInShell),
        };
        self.finish(now, &mut handled);
        handled
    }

    /// The reply to [`Request::ExportData`], from every record in storage as the shell read it.
    pub fn export_response(all: &Snapshot, now: Millis) -> Response {
        let file = crate::export::export(all, now);
        Response::Export { file_name: file.file_name, json: file.json }
    }

    /// Replaces all stored data with an export file's records, as a sign-out followed by a fresh start from
    /// them: this user's links close, and the model is rebuilt from storage once it holds the file.
    fn import(&mut self, now: Millis, json: &str) -> Handled {
        let records = match crate::export::import(json) {
            Ok(records) => records,
            Err(err) => return refuse(err),
        };
        if let Some(chat) = self.chat.as_mut() {
            let _ = chat.handle_command(now, Command::SignOut);
        }
        let mut handled = self.changed(Vec::new());
        self.drain_chat(&mut handled);
        // The engine follows the imported account and settings (or shuts down when the file has none).
        let imported = storage::load(&records);
        handled.to_engine.push(match &imported.account {
            Some(account) => WorkerToEngine::Configure {
                peer_id: account.username.peer_id(),
                token: Some(account.token.clone()).filter(|it| !it.is_empty()),
                settings: imported.settings.clone(),
            },
            None => WorkerToEngine::Shutdown,
        });
        handled.replace_all = Some(records);
        handled.reload = true;
        handled
    }

    fn mark_verified(&mut self, username: &str, shown: &str) -> Handled {
        let Ok(user) = Username::parse(username) else { return refuse(WorkerError::NotAUsername) };
        let current = self.trust(&user).safety_number;
        if current.as_deref() != Some(shown) {
            return refuse(WorkerError::SafetyNumberChanged { user });
        }
        if self.contacts_read_only {
            return refuse(WorkerError::ContactsDamaged);
        }
        let (Some(gate), Some(account)) = (self.gate.as_mut(), self.loaded.account.as_ref()) else {
            return refuse(WorkerError::NotSignedIn);
        };
        let Some(key) = gate.contacts().get(&user).map(|it| it.key) else {
            return refuse(WorkerError::NoKnownKey { user });
        };
        if let Err(err) = gate.contacts_mut().mark_verified(&user, &key) {
            return refuse(err);
        }
        let write = storage::set(Key::Contacts(account.username.clone()), &gate.contacts().to_value());
        self.changed(vec![write])
    }

    /// The user's decision about the new key `username` proved, whose safety number they were shown.
    fn decide_new_key(&mut self, now: Millis, username: &str, shown: &str, accept: bool) -> Handled {
        let Ok(user) = Username::parse(username) else { return refuse(WorkerError::NotAUsername) };
        if self.contacts_read_only {
            return refuse(WorkerError::ContactsDamaged);
        }
        let Some(pending) = self
            .gate
            .as_ref()
            .and_then(|gate| gate.contacts().get(&user))
            .and_then(|it| it.pending_key.as_ref())
            .map(|it| it.key)
        else {
            return refuse(WorkerError::NoNewKey { user });
        };
        if self.safety_number_with(&pending).as_deref() != Some(shown) {
            return refuse(WorkerError::NewKeyChangedAgain { user });
        }
        let (Some(gate), Some(account)) = (self.gate.as_mut(), self.loaded.account.as_ref()) else {
            return refuse(WorkerError::NotSignedIn);
        };
        let key = Key::Contacts(account.username.clone());
        if accept {
            let released = match gate.accept_new_key(&user, &pending, now) {
                Ok(released) => released,
                Err(err) => return refuse(err),
            };
            let write = storage::set(&key, &gate.contacts().to_value());
            let mut handled = self.changed(vec![write]);
            self.warnings.remove(&user.peer_id());
            for released in released {
                for frame in released.to_chat {
                    self.chat_input(now, Input::Frame { link: released.link.clone(), frame }, &mut handled);
                }
                for frame in released.send {
                    handled.to_engine.push(WorkerToEngine::Send { link: released.link.clone(), frame });
                }
            }
            handled
        } else {
            let closed = match gate.reject_new_key(&user, &pending) {
                Ok(closed) => closed,
                Err(err) => return refuse(err),
            };
            let write = storage::set(&key, &gate.contacts().to_value());
            let mut handled = self.changed(vec![write]);
            self.unreachable.insert(
                user.peer_id(),
                format!("You rejected {user}'s new identity key; multichat will not connect with it."),
            );
            for link in closed {
                handled.to_engine.push(WorkerToEngine::Close { link: link.clone() });
                self.chat_input(now, Input::LinkDown { link }, &mut handled);
            }
            handled
        }
    }

    /// The safety number of our key and `key` (cached: each costs 5,200 SHA-512 rounds).
    fn safety_number_with(&self, key: &PublicKey) -> Option<String> {
        let identity = self.identity.as_ref()?;
        Some(
            self.safety_numbers
                .borrow_mut()
                .entry(*key)
                .or_insert_with(|| safety_number(&identity.public_key(), key))
                .clone(),
        )
    }

    /// Runs a chat command; with `select`, shows the room it returns.
    fn chat_command(&mut self, now: Millis, command: Command, select: bool) -> Handled {
        let Some(chat) = self.chat.as_mut() else { return refuse(WorkerError::NotSignedIn) };
        match chat.handle_command(now, command) {
            Ok(room) => {
                let mut handled = self.changed(Vec::new());
                if select && room.is_some() {
                    self.select(room);
                    handled.writes.push(self.ui_write());
                }
                self.drain_chat(&mut handled);
                handled
            }
            Err(err) => refuse(err),
        }
    }

    /// Handles a report from the engine. The returned commands go back to the engine.
    /// `random`: 32 fresh random bytes, for the identity handshake of links that come up.
    pub fn handle_engine(&mut self, message: EngineToWorker, now: Millis, random: [u8; 32]) -> Handled {
        let mut handled = self.changed(Vec::new());
        match message {
            EngineToWorker::Hello { status, links } => {
                self.engine = status;
                for (index, info) in links.into_iter().enumerate() {
                    let mut seed = random;
                    seed[0] ^= index as u8;
                    seed[1] ^= (index >> 8) as u8;
                    if let Some(reason) = self.gate.as_mut().and_then(|gate| gate.link_up(&info, seed)) {
                        self.refuse_link(info.link, info.peer_id, reason, &mut handled);
                        continue;
                    }
                    let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                    self.chat_input(now, Input::LinkResumed { link, peer_id, metadata, outgoing }, &mut handled);
                }
                self.chat_input(now, Input::EngineGreeted, &mut handled);
                handled.to_engine.insert(0, self.engine_config());
            }
            EngineToWorker::Status { status } => self.engine = status,
            EngineToWorker::LinkUp { info } => {
                if let Some(reason) = self.gate.as_mut().and_then(|gate| gate.link_up(&info, random)) {
                    self.refuse_link(info.link, info.peer_id, reason, &mut handled);
                    handled.response = self.view_response();
                    self.finish(now, &mut handled);
                    return handled;
                }
                let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
                self.unreachable.remove(&peer_id);
                self.warnings.remove(&peer_id);
                self.chat_input(now, Input::LinkUp { link, peer_id, metadata, outgoing }, &mut handled);
            }
            EngineToWorker::Frame { link, frame } => self.gated_frame(now, link, frame, &mut handled),
            EngineToWorker::LinkDown { link, reason: _ } => {
                if let Some(gate) = self.gate.as_mut() {
                    gate.link_down(&link);
                }
                self.chat_input(now, Input::LinkDown { link }, &mut handled);
            }
            EngineToWorker::DialFailed { peer_id, reason } => {
                self.unreachable.insert(peer_id.clone(), reason);
                self.chat_input(now, Input::DialFailed { peer_id }, &mut handled);
            }
        }
        handled.response = self.view_response();
        self.finish(now, &mut handled);
        handled
    }

    /// A frame from a peer, through the identity gate: handshake frames stay there, chat frames go on once the
    /// link is trusted, and a link that fails is closed with the reason shown on its member.
    fn gated_frame(&mut self, now: Millis, link: LinkId, frame: serde_json::Value, handled: &mut Handled) {
        let Some(gate) = self.gate.as_mut() else {
            self.chat_input(now, Input::Frame { link, frame }, handled);
            return;
        };
        let inbound = gate.inbound(&link, frame, now);
        if inbound.contacts_changed
            && !self.contacts_read_only
            && let Some(account) = &self.loaded.account
        {
            handled.writes.push(storage::set(Key::Contacts(account.username.clone()), &gate.contacts().to_value()));
        }
        if let Some((peer_id, reason)) = inbound.close {
            self.unreachable.insert(peer_id, reason);
            handled.to_engine.push(WorkerToEngine::Close { link: link.clone() });
            self.chat_input(now, Input::LinkDown { link }, handled);
            return;
        }
        if let Some((peer_id, text)) = inbound.warning {
            self.warnings.insert(peer_id, text);
        }
        if let Some(user) = inbound.new_key_from.filter(|_| !self.popup_open) {
            let title = format!("{user}'s identity key changed");
            let text = format!("Open multichat to accept or reject it. Until then, messages from {user} are held.");
            handled.arrivals.push(Arrival { sender: title.clone(), text, room_title: title });
        }
        for frame in inbound.to_chat {
            self.chat_input(now, Input::Frame { link: link.clone(), frame }, handled);
        }
        for frame in inbound.send {
            handled.to_engine.push(WorkerToEngine::Send { link: link.clone(), frame });
        }
    }

    /// How far `user` is trusted: the safety number with their pinned key, whether the user verified it, and
    /// the safety number with a new key they proved that waits for the user's decision.
    fn trust(&self, user: &Username) -> Trust {
        let Some(contact) = self.gate.as_ref().and_then(|gate| gate.contacts().get(user)) else {
            return Trust::default();
        };
        Trust {
            safety_number: self.safety_number_with(&contact.key),
            verified: contact.state == TrustState::Verified,
            new_key_safety_number: contact.pending_key.as_ref().and_then(|it| self.safety_number_with(&it.key)),
        }
    }

    /// Closes a link the gate refused before the chat node ever saw it, and shows why on its member.
    fn refuse_link(&mut self, link: LinkId, peer_id: String, reason: String, handled: &mut Handled) {
        self.unreachable.insert(peer_id, reason);
        handled.to_engine.push(WorkerToEngine::Close { link });
    }

    /// Hands back the records a [`Handled::reads`] asked for.
    pub fn handle_read(&mut self, snapshot: Snapshot, now: Millis) -> Handled {
        let mut handled = self.changed(Vec::new());
        self.chat_input(now, Input::Read(snapshot), &mut handled);
        self.finish(now, &mut handled);
        handled
    }

    pub fn handle_timeout(&mut self, now: Millis) -> Handled {
        let mut handled = self.empty(Response::View { view: View::default() });
        let expired = self.gate.as_mut().map(|gate| gate.handle_timeout(now)).unwrap_or_default();
        for (link, peer_id, reason) in expired {
            self.unreachable.insert(peer_id, reason);
            handled.view_changed = true;
            handled.to_engine.push(WorkerToEngine::Close { link: link.clone() });
            self.chat_input(now, Input::LinkDown { link }, &mut handled);
        }
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_timeout(now);
        }
        self.drain_chat(&mut handled);
        self.finish(now, &mut handled);
        handled
    }

    /// No popup is open any more: nothing is being read, so new messages count as unread again.
    pub fn popups_closed(&mut self) {
        self.popup_open = false;
        self.window = OPEN_ROOM_WINDOW;
    }

    fn select(&mut self, room: Option<RoomId>) {
        self.selected_room = room;
        self.window = OPEN_ROOM_WINDOW;
    }

    fn ui_write(&self) -> StorageWrite {
        let record = storage::UiRecord { open_room: self.selected_room.as_ref().map(|it| it.as_str().to_owned()) };
        storage::set(Key::Ui, &record)
    }

    fn chat_input(&mut self, now: Millis, input: Input, handled: &mut Handled) {
        if let Some(chat) = self.chat.as_mut() {
            chat.handle_input(now, input);
        }
        self.drain_chat(handled);
    }

    /// Keeps the shown room read, and completes the reply with the view after the change.
    fn finish(&mut self, now: Millis, handled: &mut Handled) {
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
            self.drain_chat(handled);
        }
        if let Response::View { .. } = handled.response {
            handled.response = self.view_response();
        }
    }

    /// Moves everything the chat node asked for into `handled`, keeping writes ahead of everything else.
    fn drain_chat(&mut self, handled: &mut Handled) {
        let Some(chat) = self.chat.as_mut() else { return };
        let mut stored = Vec::new();
        while let Some(output) = chat.poll_output() {
            match output {
                Output::Write(writes) => handled.writes.extend(writes),
                Output::Send { link, frame } => {
                    let frames = match self.gate.as_mut() {
                        Some(gate) => gate.outbound(&link, frame),
                        None => vec![frame],
                    };
                    for frame in frames {
                        handled.to_engine.push(WorkerToEngine::Send { link: link.clone(), frame });
                    }
                }
                Output::Dial { peer_id, metadata } => handled.to_engine.push(WorkerToEngine::Dial {
                    peer_id,
                    metadata,
                    serialization: Serialization::Json,
                }),
                Output::Close { link } => handled.to_engine.push(WorkerToEngine::Close { link }),
                Output::Read { keys } => handled.reads.extend(keys),
                Output::Event(ChatEvent::FrameDropped { peer_id, reason }) => {
                    handled.dropped.push(format!("dropped a frame from {peer_id}: {reason}"));
                }
                Output::Event(event) => {
                    handled.view_changed = true;
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
        for (room, id) in stored {
            if self.popup_open && self.selected_room.as_ref() == Some(&room) {
                continue;
            }
            let Some(history) = chat.history(&room) else { continue };
            let Some((_, message)) = history.find(&id) else { continue };
            let room_title =
                chat.room_views().into_iter().find(|it| it.id == room).map(|it| it.title).unwrap_or_default();
            handled.arrivals.push(Arrival {
                sender: message.sender.to_string(),
                text: message.text.clone(),
                room_title,
            });
        }
    }

    /// True when the user is signed in, so an engine should be running.
    pub fn wants_engine(&self) -> bool {
        self.loaded.account.is_some() && !self.locked
    }

    /// What the engine should be doing now.
    pub fn engine_config(&self) -> WorkerToEngine {
        match &self.loaded.account {
            Some(_) if self.locked => WorkerToEngine::Shutdown,
            Some(account) => WorkerToEngine::Configure {
                peer_id: account.username.peer_id(),
                token: Some(account.token.clone()).filter(|it| !it.is_empty()),
                settings: self.loaded.settings.clone(),
            },
            None => WorkerToEngine::Shutdown,
        }
    }

    fn view_response(&self) -> Response {
        Response::View { view: self.view() }
    }

    fn empty(&self, response: Response) -> Handled {
        Handled {
            writes: Vec::new(),
            response,
            view_changed: false,
            to_engine: Vec::new(),
            reads: Vec::new(),
            reload: false,
            arrivals: Vec::new(),
            dropped: Vec::new(),
            export_all: false,
            replace_all: None,
        }
    }

    fn changed(&self, writes: Vec<StorageWrite>) -> Handled {
        let mut handled = self.empty(self.view_response());
        handled.writes = writes;
        handled.view_changed = true;
        handled
    }
}

impl Handled {
    fn command(mut self, command: WorkerToEngine) -> Handled {
        self.to_engine.push(command);
        self
    }
}

/// A request turned down, changing nothing.
pub fn refuse(err: impl Into<WorkerError>) -> Handled {
    Handled {
        writes: Vec::new(),
        response: Response::Error { message: err.into().to_string() },
        view_changed: false,
        to_engine: Vec::new(),
        reads: Vec::new(),
        reload: false,
        arrivals: Vec::new(),
        dropped: Vec::new(),
        export_all: false,
        replace_all: None,
    }
}

fn summary(
    room: &RoomView,
    unreachable: &BTreeMap<String, String>,
    warnings: &BTreeMap<String, String>,
    gate: Option<&AuthGate>,
    trust: &dyn Fn(&Username) -> Trust,
) -> RoomSummary {
    RoomSummary {
        id: room.id.as_str().to_owned(),
        title: room.title.clone(),
        is_group: room.is_group,
        members: room
            .members
            .iter()
            .map(|it| {
                let trust = trust(&it.username);
                MemberSummary {
                    username: it.username.to_string(),
                    online: it.online,
                    authenticated: gate.is_some_and(|gate| gate.authenticated(&it.username.peer_id())),
                    safety_number: trust.safety_number,
                    verified: trust.verified,
                    problem: warnings
                        .get(&it.username.peer_id())
                        .cloned()
                        .or_else(|| if it.online { None } else { unreachable.get(&it.username.peer_id()).cloned() }),
                    new_key_safety_number: trust.new_key_safety_number,
                }
            })
            .collect(),
        unread: room.unread,
        last_activity: room.last_activity.0,
    }
}

fn message_view(message: &StoredMessage, me: &Username) -> MessageView {
    let mine = &message.sender == me;
    let state = match (&message.state, mine) {
        (Some(DeliveryState::Sending), true) => MessageState::Sending,
        (Some(DeliveryState::Delivered), true) => MessageState::Delivered,
        (Some(DeliveryState::Failed), true) => MessageState::Failed,
        (None, true) => MessageState::Delivered,
        (_, false) => MessageState::Received,
    };
    MessageView {
        id: message.id.as_str().to_owned(),
        sender: message.sender.to_string(),
        text: message.text.clone(),
        timestamp: message.timestamp.0,
        mine,
        state,
    }
}

fn first_half(random: &[u8; 32]) -> [u8; 16] {
    let mut half = [0; 16];
    half.copy_from_slice(&random[..16]);
    half
}
