//! The storage schema: which keys multichat keeps in `chrome.storage.local`, what each holds, and how
//! older layouts are migrated.
//!
//! The shell reads records as JSON values and hands them in as a [`Snapshot`]; the core decodes them and
//! answers with [`StorageWrite`]s for the shell to perform. A record that does not decode is reported and
//! left alone, so one corrupt record never takes the rest of the user's data with it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Username;
use crate::chat::ids::RoomId;
use crate::settings::Settings;
use crate::transfer::record::FileKey;

/// The layout version this build writes. Bump it with a migration in [`load`].
pub const SCHEMA_VERSION: u64 = 1;

/// Every key the extension keeps in storage. Keys are built with [`Key`]'s `Display` and read back with
/// [`Key::parse`], nowhere else; usernames and room ids contain no '/', so a key splits back unambiguously.
///
/// | key                       | what it holds                                                   |
/// |---------------------------|-----------------------------------------------------------------|
/// | `schema_version`          | [`SCHEMA_VERSION`] of the layout                                 |
/// | `account`                 | [`AccountRecord`]                                                |
/// | `settings`                | [`Settings`]                                                     |
/// | `ui`                      | [`UiRecord`]                                                     |
/// | `identity`                | this install's identity key ([`crate::identity::IdentityRecord`]) |
/// | `lock`                    | the passphrase's lock record ([`crate::at_rest::LockRecord`])    |
/// | `contacts/<user>`         | `user`'s contact book                                            |
/// | `blocked/<user>`          | the usernames `user` blocked ([`crate::chat::pending::BlockedRecord`]) |
/// | `requests/<user>`         | message requests waiting for `user` ([`crate::chat::pending::RequestsRecord`]) |
/// | `invitations/<user>`      | invitations waiting for `user` ([`crate::chat::pending::InvitationsRecord`]) |
/// | `chat/<user>/rooms`       | `user`'s room list                                               |
/// | `h/<user>/<room>/meta`    | one room's summary ([`crate::chat::history::RoomMeta`])          |
/// | `h/<user>/<room>/<page>`  | one page of a room's history                                     |
/// | `drafts/<user>`           | `user`'s unsent message drafts, by room (sealed like history)    |
/// | `damaged/<key>`           | a damaged record copied aside before its key was written anew    |
/// | `files/<user>`            | the index of `user`'s file transfers ([`crate::transfer::record::FileIndex`]) |
/// | `file/<user>/<file>`      | a file transfer's record ([`crate::transfer::record`], `<file>` is `out/<id>` or `in/<from>/<id>`) |
/// | `fc/<user>/<file>/<n>`    | chunk `n` of that file's bytes                                   |
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    SchemaVersion,
    Account,
    Settings,
    /// What the popup showed last (so it reopens there).
    Ui,
    Identity,
    Lock,
    Contacts(Username),
    /// The usernames the user blocked.
    Blocked(Username),
    /// Message requests (first messages from strangers) waiting for the user's Accept or Block.
    Requests(Username),
    /// Group invitations waiting for the user's Accept or Decline.
    Invitations(Username),
    Rooms(Username),
    /// What the user typed in each room's message box and did not send.
    Drafts(Username),
    RoomMeta {
        owner: Username,
        room: RoomId,
    },
    HistoryPage {
        owner: Username,
        room: RoomId,
        page: u32,
    },
    /// A copy of a damaged record, kept as it was for recovery by hand.
    Damaged(Box<Key>),
    /// Which file transfers `owner` has records of (so they are found without reading all of storage).
    FileIndex(Username),
    /// A file `owner` sends or receives: its record.
    File {
        owner: Username,
        file: FileKey,
    },
    /// One chunk of that file's bytes.
    FileChunk {
        owner: Username,
        file: FileKey,
        index: u32,
    },
}

impl Key {
    const DAMAGED_PREFIX: &'static str = "damaged/";

    /// Reads a storage key back; `None` for anything multichat does not write (each key has one spelling).
    pub fn parse(raw: &str) -> Option<Key> {
        let user = |raw: &str| Username::parse(raw).ok().filter(|it| it.as_str() == raw);
        let key = match raw {
            "schema_version" => Key::SchemaVersion,
            "account" => Key::Account,
            "settings" => Key::Settings,
            "ui" => Key::Ui,
            "identity" => Key::Identity,
            "lock" => Key::Lock,
            _ => {
                if let Some(original) = raw.strip_prefix(Self::DAMAGED_PREFIX) {
                    return Some(Key::Damaged(Box::new(Key::parse(original)?)));
                }
                if let Some(owner) = raw.strip_prefix("contacts/") {
                    return Some(Key::Contacts(user(owner)?));
                }
                if let Some(owner) = raw.strip_prefix("blocked/") {
                    return Some(Key::Blocked(user(owner)?));
                }
                if let Some(owner) = raw.strip_prefix("requests/") {
                    return Some(Key::Requests(user(owner)?));
                }
                if let Some(owner) = raw.strip_prefix("invitations/") {
                    return Some(Key::Invitations(user(owner)?));
                }
                if let Some(owner) = raw.strip_prefix("drafts/") {
                    return Some(Key::Drafts(user(owner)?));
                }
                if let Some(owner) = raw.strip_prefix("files/") {
                    return Some(Key::FileIndex(user(owner)?));
                }
                if let Some(rest) = raw.strip_prefix("file/").or_else(|| raw.strip_prefix("fc/")) {
                    return Self::parse_file(raw.starts_with("fc/"), rest);
                }
                if let Some(owner) = raw.strip_prefix("chat/").and_then(|it| it.strip_suffix("/rooms")) {
                    return Some(Key::Rooms(user(owner)?));
                }
                let mut parts = raw.strip_prefix("h/")?.split('/');
                let (owner, room, last) = (user(parts.next()?)?, RoomId::parse(parts.next()?).ok()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                match last {
                    "meta" => Key::RoomMeta { owner, room },
                    // Digits only, without leading zeros: "007" is not page 7's spelling.
                    page if page == "0" || (!page.starts_with('0') && page.bytes().all(|b| b.is_ascii_digit())) => {
                        Key::HistoryPage { owner, room, page: page.parse().ok()? }
                    }
                    _ => return None,
                }
            }
        };
        Some(key)
    }

    /// `<owner>/<file>` or `<owner>/<file>/<n>` after `file/` or `fc/`.
    fn parse_file(chunk: bool, rest: &str) -> Option<Key> {
        let mut parts = rest.split('/');
        let raw_owner = parts.next()?;
        let owner = Username::parse(raw_owner).ok().filter(|it| it.as_str() == raw_owner)?;
        let file = FileKey::parse_path(&mut parts)?;
        let key = if chunk {
            let index = parts.next()?;
            if index != "0" && (index.starts_with('0') || !index.bytes().all(|b| b.is_ascii_digit())) {
                return None;
            }
            Key::FileChunk { owner, file, index: index.parse().ok()? }
        } else {
            Key::File { owner, file }
        };
        parts.next().is_none().then_some(key)
    }

    /// Whether the record is chat history (the room list, a room's meta or a page, a file, or a damaged copy
    /// of one): what a passphrase seals ([`crate::at_rest`]).
    pub fn is_history(&self) -> bool {
        match self {
            Key::Rooms(_) | Key::Drafts(_) | Key::RoomMeta { .. } | Key::HistoryPage { .. } => true,
            Key::FileIndex(_) | Key::File { .. } | Key::FileChunk { .. } => true,
            Key::Damaged(original) => original.is_history(),
            _ => false,
        }
    }

    /// Whether a passphrase seals the record ([`crate::at_rest`]): the history, and everything else that says
    /// whom the user talks to (contacts, blocks, requests, invitations, the open conversation), and a damaged
    /// copy of any of them. The account, settings, identity key and lock stay readable: the engine needs the
    /// account and settings to go online, and the identity key is needed to verify chats before unlocking.
    pub fn is_sealed(&self) -> bool {
        match self {
            Key::Ui | Key::Contacts(_) | Key::Blocked(_) | Key::Requests(_) | Key::Invitations(_) => true,
            Key::Damaged(original) => original.is_sealed(),
            other => other.is_history(),
        }
    }

    /// The user whose record it is, for the per-user records.
    pub fn owner(&self) -> Option<&Username> {
        match self {
            Key::Contacts(owner) | Key::Rooms(owner) | Key::Drafts(owner) => Some(owner),
            Key::Blocked(owner) | Key::Requests(owner) | Key::Invitations(owner) => Some(owner),
            Key::RoomMeta { owner, .. } | Key::HistoryPage { owner, .. } => Some(owner),
            Key::FileIndex(owner) | Key::File { owner, .. } | Key::FileChunk { owner, .. } => Some(owner),
            Key::Damaged(original) => original.owner(),
            _ => None,
        }
    }

    /// Whether this is one of `owner`'s pages of `room`.
    pub fn is_page_of(&self, owner: &Username, room: &RoomId) -> bool {
        matches!(self, Key::HistoryPage { owner: o, room: r, .. } if o == owner && r == room)
    }

    /// Where a damaged copy of this record is kept.
    pub fn damaged_copy(self) -> Key {
        Key::Damaged(Box::new(self))
    }

    /// Where a damaged copy of the record stored under `raw` is kept, for a key held as text.
    pub fn damaged_copy_of(raw: &str) -> String {
        format!("{}{raw}", Self::DAMAGED_PREFIX)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::SchemaVersion => f.write_str("schema_version"),
            Key::Account => f.write_str("account"),
            Key::Settings => f.write_str("settings"),
            Key::Ui => f.write_str("ui"),
            Key::Identity => f.write_str("identity"),
            Key::Lock => f.write_str("lock"),
            Key::Contacts(owner) => write!(f, "contacts/{owner}"),
            Key::Blocked(owner) => write!(f, "blocked/{owner}"),
            Key::Requests(owner) => write!(f, "requests/{owner}"),
            Key::Invitations(owner) => write!(f, "invitations/{owner}"),
            Key::Rooms(owner) => write!(f, "chat/{owner}/rooms"),
            Key::Drafts(owner) => write!(f, "drafts/{owner}"),
            Key::RoomMeta { owner, room } => write!(f, "h/{owner}/{room}/meta"),
            Key::HistoryPage { owner, room, page } => write!(f, "h/{owner}/{room}/{page}"),
            Key::Damaged(original) => write!(f, "{}{original}", Self::DAMAGED_PREFIX),
            Key::FileIndex(owner) => write!(f, "files/{owner}"),
            Key::File { owner, file } => write!(f, "file/{owner}/{file}"),
            Key::FileChunk { owner, file, index } => write!(f, "fc/{owner}/{file}/{index}"),
        }
    }
}

/// The records as read from storage, by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot(pub BTreeMap<String, Value>);

impl Snapshot {
    /// The record under `key`, if it was read.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.0.get(&key.to_string())
    }
}

/// One change for the shell to make to storage. Writes are applied in order.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageWrite {
    Set { key: String, value: Value },
    Remove { key: String },
}

/// The signed-in user's account record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub username: Username,
    /// The PeerJS token: a secret that lets this install take its id back after a reconnect or restart
    /// while the server still holds the old socket. Empty in records from before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// How `token` was made ([`crate::entropy::TOKEN_DERIVATION`]); 0 in records from before, whose token
    /// came from the same bytes as the identity seed and is renewed on the next start.
    #[serde(default)]
    pub token_v: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error(
        "Stored data comes from a newer multichat (layout {found}, this version reads up to {SCHEMA_VERSION}); please update the extension"
    )]
    NewerSchema { found: u64 },
    #[error("The stored {key} record is damaged and was ignored ({reason})")]
    Corrupt { key: String, reason: String },
}

/// What the popup showed last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiRecord {
    /// The conversation that was open, if any.
    #[serde(default)]
    pub open_room: Option<String>,
}

/// What [`load`] recovered, plus what it had to ignore.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    pub account: Option<AccountRecord>,
    pub settings: Settings,
    pub ui: UiRecord,
    /// Problems found while loading, worded for the user. Loading goes on past each one.
    pub problems: Vec<StorageError>,
    /// Writes that bring storage up to [`SCHEMA_VERSION`] (empty when it is current).
    pub migration: Vec<StorageWrite>,
}

/// Decodes a snapshot of storage. Never fails as a whole: a damaged record becomes a problem and its default.
/// A snapshot from a newer schema is reported and nothing is migrated, so a downgrade cannot destroy data.
pub fn load(snapshot: &Snapshot) -> Loaded {
    let mut loaded = Loaded::default();
    let stored = snapshot.get(&Key::SchemaVersion);
    let found = stored.and_then(Value::as_u64);
    if let Some(found) = found.filter(|&v| v > SCHEMA_VERSION) {
        loaded.problems.push(StorageError::NewerSchema { found });
    }
    if stored.is_some() && found.is_none() {
        // Not stamped over: it may be a newer layout's version, damaged.
        let reason = "not a layout version number".to_owned();
        loaded.problems.push(StorageError::Corrupt { key: Key::SchemaVersion.to_string(), reason });
    }
    loaded.account = decode(snapshot, Key::Account, &mut loaded.problems);
    loaded.settings = decode(snapshot, Key::Settings, &mut loaded.problems).unwrap_or_default();
    loaded.ui = decode(snapshot, Key::Ui, &mut loaded.problems).unwrap_or_default();
    if stored.is_none() {
        loaded.migration.push(set(Key::SchemaVersion, &SCHEMA_VERSION));
    }
    loaded
}

fn decode<T: for<'de> Deserialize<'de>>(snapshot: &Snapshot, key: Key, problems: &mut Vec<StorageError>) -> Option<T> {
    let value = snapshot.get(&key)?;
    match T::deserialize(value) {
        Ok(it) => Some(it),
        Err(err) => {
            problems.push(StorageError::Corrupt { key: key.to_string(), reason: err.to_string() });
            None
        }
    }
}

/// A `Set` write of any serializable record under `key` (a [`Key`], or one spelled by [`Key`]'s `Display`).
pub fn set<T: Serialize + ?Sized>(key: impl fmt::Display, value: &T) -> StorageWrite {
    // Records are plain data (strings, numbers, maps with string keys): serializing cannot fail.
    let value = serde_json::to_value(value).expect("storage records serialize to JSON");
    StorageWrite::Set { key: key.to_string(), value }
}

pub fn remove(key: impl fmt::Display) -> StorageWrite {
    StorageWrite::Remove { key: key.to_string() }
}

/// The same writes with every set that a later set of the same key in the same run of sets supersedes left
/// out. The shell stores a run of sets as one transaction, so the outcome is the same; under a burst (each
/// message rewrites its page and its room's meta) the batch shrinks to one set per key.
pub fn coalesce(writes: Vec<StorageWrite>) -> Vec<StorageWrite> {
    let mut out: Vec<StorageWrite> = Vec::with_capacity(writes.len());
    // Where each key's set is in `out`, for the run of sets at its end.
    let mut in_run: BTreeMap<String, usize> = BTreeMap::new();
    for write in writes {
        match write {
            StorageWrite::Set { key, value } => match in_run.get(&key) {
                Some(&at) => out[at] = StorageWrite::Set { key, value },
                None => {
                    in_run.insert(key.clone(), out.len());
                    out.push(StorageWrite::Set { key, value });
                }
            },
            remove @ StorageWrite::Remove { .. } => {
                in_run.clear();
                out.push(remove);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot(pairs: &[(&str, Value)]) -> Snapshot {
        Snapshot(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    fn alice() -> Username {
        Username::parse("alice").unwrap()
    }

    #[test]
    fn every_key_reads_back_as_itself() {
        let room = RoomId::direct(&alice(), &Username::parse("bob").unwrap());
        let group = RoomId::parse("g:0123456789abcdef").unwrap();
        let keys = [
            Key::SchemaVersion,
            Key::Account,
            Key::Settings,
            Key::Ui,
            Key::Identity,
            Key::Lock,
            Key::Contacts(alice()),
            Key::Blocked(alice()),
            Key::Requests(alice()),
            Key::Invitations(alice()),
            Key::Rooms(alice()),
            Key::RoomMeta { owner: alice(), room: room.clone() },
            Key::HistoryPage { owner: alice(), room: room.clone(), page: 0 },
            Key::HistoryPage { owner: alice(), room: group, page: 4_000_000 },
            Key::Rooms(alice()).damaged_copy(),
            Key::RoomMeta { owner: alice(), room }.damaged_copy(),
        ];
        for key in keys {
            assert_eq!(Key::parse(&key.to_string()), Some(key.clone()), "{key}");
        }
    }

    #[test]
    fn the_documented_spellings() {
        assert_eq!(Key::Rooms(alice()).to_string(), "chat/alice/rooms");
        let room = RoomId::parse("dm:alice:bob").unwrap();
        assert_eq!(
            Key::HistoryPage { owner: alice(), room: room.clone(), page: 3 }.to_string(),
            "h/alice/dm:alice:bob/3"
        );
        assert_eq!(Key::RoomMeta { owner: alice(), room }.to_string(), "h/alice/dm:alice:bob/meta");
        assert_eq!(Key::Contacts(alice()).damaged_copy().to_string(), "damaged/contacts/alice");
        assert_eq!(Key::damaged_copy_of("chat/alice/rooms"), "damaged/chat/alice/rooms");
    }

    #[test]
    fn keys_multichat_does_not_write_do_not_parse() {
        for raw in [
            "",
            "accounts",
            "contacts/",
            "contacts/Alice ",
            "contacts/a/b",
            "chat/alice/room",
            "h/alice/r1/0",
            "h/alice/dm:alice:bob",
            "h/alice/dm:alice:bob/007",
            "h/alice/dm:alice:bob/-1",
            "h/alice/dm:alice:bob/+1",
            "h/alice/dm:alice:bob/0/x",
            "h/alice/dm:alice:bob/99999999999",
            "damaged/",
            "damaged/nothing",
        ] {
            assert_eq!(Key::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn history_and_owners() {
        let room = RoomId::parse("dm:alice:bob").unwrap();
        let page = Key::HistoryPage { owner: alice(), room: room.clone(), page: 1 };
        assert!(page.is_history() && Key::Rooms(alice()).is_history());
        assert!(Key::Rooms(alice()).damaged_copy().is_history());
        for plain in
            [Key::Account, Key::Identity, Key::Lock, Key::Contacts(alice()), Key::Contacts(alice()).damaged_copy()]
        {
            assert!(!plain.is_history(), "{plain}");
        }
        for sealed in [Key::Ui, Key::Contacts(alice()), Key::Blocked(alice()), Key::Requests(alice())] {
            assert!(sealed.is_sealed() && sealed.clone().damaged_copy().is_sealed(), "{sealed}");
        }
        assert!(page.is_sealed() && Key::Invitations(alice()).is_sealed());
        for plain in [Key::Account, Key::Settings, Key::Identity, Key::Lock, Key::SchemaVersion] {
            assert!(!plain.is_sealed(), "{plain}");
        }
        assert_eq!(page.owner(), Some(&alice()));
        assert_eq!(Key::Contacts(alice()).damaged_copy().owner(), Some(&alice()));
        assert_eq!(Key::Settings.owner(), None);
        assert!(page.is_page_of(&alice(), &room));
        assert!(!Key::RoomMeta { owner: alice(), room: room.clone() }.is_page_of(&alice(), &room));
    }

    #[test]
    fn coalescing_keeps_the_last_set_of_a_key_within_a_run_and_the_order_of_runs() {
        let writes =
            vec![set("a", &1), set("b", &1), set("a", &2), remove("a"), set("a", &3), set("c", &1), set("a", &4)];
        assert_eq!(coalesce(writes), vec![set("a", &2), set("b", &1), remove("a"), set("a", &4), set("c", &1)]);
        let mut applied = Snapshot::default();
        let mut expected = Snapshot::default();
        let writes = vec![set("x", &1), remove("x"), set("x", &2), set("y", &1), set("x", &3)];
        crate::chat::history::apply(&mut applied, &coalesce(writes.clone()));
        crate::chat::history::apply(&mut expected, &writes);
        assert_eq!(applied, expected);
    }

    #[test]
    fn empty_storage_loads_defaults_and_stamps_the_version() {
        let loaded = load(&Snapshot::default());
        assert_eq!(loaded.account, None);
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.problems.is_empty());
        assert_eq!(loaded.migration, vec![set(Key::SchemaVersion, &SCHEMA_VERSION)]);
    }

    #[test]
    fn a_corrupt_record_is_reported_and_the_rest_still_loads() {
        let loaded = load(&snapshot(&[
            ("schema_version", json!(1)),
            ("account", json!({"username": "alice"})),
            ("settings", json!({"server": 42})),
        ]));
        assert_eq!(loaded.account.unwrap().username.as_str(), "alice");
        assert_eq!(loaded.settings, Settings::default());
        assert!(matches!(&loaded.problems[..], [StorageError::Corrupt { key, .. }] if key == "settings"));
    }

    #[test]
    fn an_invalid_stored_username_is_corrupt_not_a_panic() {
        let loaded = load(&snapshot(&[("account", json!({"username": "<b>x</b>"}))]));
        assert_eq!(loaded.account, None);
        assert_eq!(loaded.problems.len(), 1);
    }

    #[test]
    fn a_newer_schema_is_reported_and_not_migrated() {
        let loaded = load(&snapshot(&[("schema_version", json!(99))]));
        assert_eq!(loaded.problems, vec![StorageError::NewerSchema { found: 99 }]);
        assert!(loaded.migration.is_empty());
    }
}
