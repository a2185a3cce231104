//! Reading storage to build the model: a few keys at a time, as the model asks for them.
//!
//! The shell runs a [`Loader`] until it is [`LoadStep::Done`], reading what each step names, then hands it to
//! [`WorkerModel::load`] (at start) or [`WorkerModel::reload`]. Only the room list, each room's meta record and
//! the latest pages are read, never the whole history. History passes through the vault: opened with the
//! session's key, or left out while locked.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{DROP_LOG, SESSION_KEY, WorkerModel, passphrase_phrase};
use crate::at_rest::{self, Vault};
use crate::auth_gate::LinkGate;
use crate::bridge::EngineStatus;
use crate::chat::node::NodeConfig;
use crate::chat::{ChatNode, RoomId};
use crate::chat::{history, pending};
use crate::entropy::{Entropy, TOKEN_DERIVATION, token_needs_renewal};
use crate::identity::{ContactBook, Identity, IdentityRecord};
use crate::log_budget::LogBudget;
use crate::phrase::{Code, Phrase};
use crate::storage::{self, AccountRecord, Key, Snapshot};
use crate::time::Millis;

/// What the shell is to read next for a [`Loader`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// Read these keys of `chrome.storage.local` and hand them to [`Loader::read`].
    Read(Vec<String>),
    /// Read these keys of the browser-session storage and hand them to [`Loader::read_session`].
    ReadSession(Vec<String>),
    /// Everything needed is read.
    Done,
}

/// Storage read so far, opened.
pub struct Loader {
    /// What was read, history opened by the vault.
    read: Snapshot,
    /// The lock record as read, and the raw records that came with it (opened once the vault is known).
    vault: Option<Vault>,
    /// The history key of this session, when a reload already knows it.
    known_key: Option<Option<at_rest::Key>>,
    asked: BTreeSet<String>,
    /// Read before the vault was known: opened when it is.
    unopened: Snapshot,
    problems: Vec<Phrase>,
    session_asked: bool,
}

impl Loader {
    /// A loader for a worker that just started: the history key, if any, is in the browser-session storage.
    pub fn new() -> Loader {
        Loader {
            read: Snapshot::default(),
            vault: None,
            known_key: None,
            asked: BTreeSet::new(),
            unopened: Snapshot::default(),
            problems: Vec::new(),
            session_asked: false,
        }
    }

    /// A loader that keeps `key` (the one the model holds) instead of reading the session's.
    fn with_key(key: Option<at_rest::Key>) -> Loader {
        Loader { known_key: Some(key), ..Loader::new() }
    }

    pub fn next_step(&mut self) -> LoadStep {
        if self.vault.is_none() {
            let lock = Key::Lock.to_string();
            if !self.asked.contains(&lock) {
                let mut wanted: Vec<String> =
                    [Key::SchemaVersion, Key::Account, Key::Settings, Key::Ui, Key::Identity, Key::Lock]
                        .map(|it| it.to_string())
                        .to_vec();
                wanted.retain(|it| self.asked.insert(it.clone()));
                return LoadStep::Read(wanted);
            }
            let lock = at_rest::read_lock(&self.unopened);
            match self.known_key.clone() {
                Some(key) => self.open_with(Vault::new(lock, key)),
                // Without a passphrase there is no key to look for: one storage round trip less on every start.
                None if matches!(lock, Ok(None)) => self.open_with(Vault::new(lock, None)),
                None if !self.session_asked => {
                    self.session_asked = true;
                    return LoadStep::ReadSession(vec![SESSION_KEY.to_owned()]);
                }
                None => self.open_with(Vault::new(lock, None)),
            }
        }
        let wanted: Vec<String> =
            keys_to_read(&self.read).into_iter().filter(|it| self.asked.insert(it.clone())).collect();
        if wanted.is_empty() { LoadStep::Done } else { LoadStep::Read(wanted) }
    }

    /// What was found of the keys the last [`LoadStep::Read`] named.
    pub fn read(&mut self, found: Snapshot) {
        match &self.vault {
            Some(vault) => {
                let opened = vault.incoming(found);
                self.problems.extend(opened.problems.iter().map(passphrase_phrase));
                self.read.0.extend(opened.snapshot.0);
            }
            None => self.unopened.0.extend(found.0),
        }
    }

    /// What was found in the browser-session storage.
    pub fn read_session(&mut self, found: Snapshot) {
        let key = found.0.get(SESSION_KEY).and_then(|it| it.as_str()).and_then(|it| at_rest::Key::from_base64(it).ok());
        let lock = at_rest::read_lock(&self.unopened);
        self.open_with(Vault::new(lock, key));
    }

    fn open_with(&mut self, vault: Vault) {
        if let Some(err) = &vault.damaged {
            self.problems.push(passphrase_phrase(err));
        }
        let unopened = std::mem::take(&mut self.unopened);
        self.vault = Some(vault);
        self.read(unopened);
    }
}

impl Default for Loader {
    fn default() -> Self {
        Loader::new()
    }
}

/// Which keys the worker needs from storage, given what it has read so far (opened).
fn keys_to_read(snapshot: &Snapshot) -> Vec<String> {
    let mut wanted = Vec::new();
    let account = snapshot.get(&Key::Account).and_then(|it| serde_json::from_value::<AccountRecord>(it.clone()).ok());
    if let Some(account) = account {
        let user = &account.username;
        wanted.push(Key::Contacts(user.clone()).to_string());
        wanted.push(Key::Rooms(user.clone()).to_string());
        wanted.extend(pending::keys(user));
        wanted.push(Key::Drafts(user.clone()).to_string());
        wanted.push(Key::FileIndex(user.clone()).to_string());
        wanted.extend(super::files::record_keys(user, snapshot));
        wanted.extend(history::meta_keys(user, snapshot));
        wanted.extend(history::open_page_keys(user, snapshot));
    }
    wanted
}

impl WorkerModel {
    /// Builds the model from what a finished [`Loader`] read. The first effects are the writes of a schema
    /// migration, to be stored before anything else. `random`: 32 fresh bytes.
    pub fn load(loader: Loader, now: Millis, random: [u8; 32]) -> WorkerModel {
        let Loader { read: snapshot, vault, problems: read_problems, .. } = loader;
        let vault = vault.unwrap_or_default();
        let mut loaded = storage::load(&snapshot);
        let migration = std::mem::take(&mut loaded.migration);
        let locked = vault.locked();
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
            problems.push(Phrase::new(Code::IdentityDamaged).with(reason));
            None
        });
        // Our messages and invitations are signed, others' verified against the keys links prove, and an
        // invitation waits for the user's answer.
        let chat = loaded.account.as_ref().filter(|_| !locked).map(|it| {
            let config = NodeConfig { identity: identity.clone(), ..NodeConfig::default() };
            let mut node = ChatNode::restore_with(it.username.clone(), &snapshot, now, config);
            let _ = node.handle_command(now, crate::chat::Command::SetPrivacy((&loaded.settings).into()));
            node
        });
        // While locked the sealed contact book was not opened: it must not be written over.
        let mut contacts_read_only = locked;
        let gate = loaded.account.as_ref().map(|account| {
            let contacts = match snapshot.get(&Key::Contacts(account.username.clone())).map(ContactBook::from_value) {
                None => ContactBook::new(),
                Some(Ok(book)) => book,
                Some(Err(err)) => {
                    contacts_read_only = true;
                    problems.push(Phrase::new(Code::ContactsDamagedKept).with(err));
                    ContactBook::new()
                }
            };
            // The gate's hellos carry the chat node's session: the same `now` it was restored with.
            let mut gate = LinkGate::new(identity.clone(), account.username.clone(), contacts, now);
            // No link is open yet: nothing to close.
            let _ = gate.set_blocked(pending::blocked(&account.username, &snapshot));
            gate
        });
        problems.extend(read_problems);
        let drafts = super::drafts::Drafts::restore(&snapshot, loaded.account.as_ref(), &mut problems);
        let files = loaded.account.as_ref().filter(|_| !locked).zip(identity.as_ref()).map(|(account, identity)| {
            super::files::Files::restore(
                account.username.clone(),
                identity.clone(),
                loaded.settings.max_file_bytes,
                &snapshot,
            )
        });
        let mut model = WorkerModel {
            loaded,
            engine: EngineStatus::Offline,
            chat,
            selected_room,
            popup_open: false,
            window: super::OPEN_ROOM_WINDOW,
            history_problems: problems,
            unreachable: BTreeMap::new(),
            warnings: BTreeMap::new(),
            identity,
            identity_damaged,
            gate,
            contacts_read_only,
            safety_numbers: Default::default(),
            vault,
            effects: VecDeque::new(),
            whole_reads: VecDeque::new(),
            entropy: (random, 0),
            drop_log: LogBudget::new(DROP_LOG.0, DROP_LOG.1),
            view_dirty: false,
            search: Default::default(),
            drafts,
            files,
        };
        model.write(migration);
        model.renew_token(random);
        // Restoring reports damaged records as events; collect them for the view (nothing else is queued).
        let migration = std::mem::take(&mut model.effects);
        model.drain_chat(now);
        model.effects = migration;
        model.view_dirty = false;
        model
    }

    /// A token made before [`TOKEN_DERIVATION`] came from the identity seed's bytes, and the signaling server
    /// sees it: such an account gets a new one, from its own derivation. The identity key is kept.
    fn renew_token(&mut self, random: [u8; 32]) {
        let Some(account) = self.loaded.account.as_mut().filter(|it| token_needs_renewal(it.token_v)) else { return };
        account.token = Entropy::new(random).peerjs_token();
        account.token_v = TOKEN_DERIVATION;
        let write = storage::set(Key::Account, &*account);
        self.write(vec![write]);
    }

    /// A loader to rebuild this model from storage ([`Effect::Reload`](super::Effect::Reload)): it keeps the
    /// history key the model holds.
    pub fn reloader(&self) -> Loader {
        Loader::with_key(self.vault.key.clone())
    }

    /// Rebuilds the model from storage, keeping what storage cannot know (the engine's status, whether a
    /// popup is open, the safety numbers) and what is still queued for the shell.
    pub fn reload(&mut self, loader: Loader, now: Millis, random: [u8; 32]) {
        let mut fresh = WorkerModel::load(loader, now, random);
        fresh.engine = std::mem::replace(&mut self.engine, EngineStatus::Offline);
        fresh.popup_open = self.popup_open;
        fresh.drop_log = std::mem::replace(&mut self.drop_log, LogBudget::new(DROP_LOG.0, DROP_LOG.1));
        fresh.effects.extend(self.effects.drain(..));
        fresh.whole_reads = std::mem::take(&mut self.whole_reads);
        fresh.view_dirty = self.view_dirty;
        if fresh.identity.as_ref().map(Identity::public_key) == self.identity.as_ref().map(Identity::public_key) {
            fresh.safety_numbers = std::mem::take(&mut self.safety_numbers);
        }
        *self = fresh;
    }
}
