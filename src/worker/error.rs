//! Why the worker turned a request down, worded for the person who made it: each refusal (and the PeerJS
//! peer's errors the engine reports) as a [`Phrase`] the popup says in its language. The `Display` texts are
//! the English of the logs and the core's tests.

use crate::account::{MAX_USERNAME_CHARS, Username, UsernameError};
use crate::at_rest::{AtRestError, MIN_PASSPHRASE_CHARS};
use crate::chat::ChatError;
use crate::chat::history::HistoryError;
use crate::chat::room::{MAX_ROOM_MEMBERS, RoomError};
use crate::chat::wire::MAX_ROOM_NAME_CHARS;
use crate::export::ImportError;
use crate::identity::ContactError;
use crate::peerjs::PeerError;
use crate::phrase::{Code, Phrase};
use crate::settings::SettingsError;
use crate::storage::{SCHEMA_VERSION, StorageError};

/// A request the worker refused. Nothing was changed by it. The popup shows its [`WorkerError::phrase`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    #[error("Please sign in first")]
    NotSignedIn,
    #[error("That conversation does not exist")]
    NoSuchRoom,
    #[error("That message is no longer in the conversation")]
    NoSuchMessage,
    #[error("Only a group can be left; a direct conversation can be deleted instead")]
    NotAGroup,
    #[error("That is not a valid username")]
    NotAUsername,
    #[error("{user}'s key changed since that safety number was shown; compare the new one")]
    SafetyNumberChanged { user: Username },
    #[error("{user}'s key changed again since it was shown; please look at the new safety number")]
    NewKeyChangedAgain { user: Username },
    #[error("Your list of known contacts' keys is damaged, so it cannot be changed")]
    ContactsDamaged,
    #[error("No key is known for {user} yet")]
    NoKnownKey { user: Username },
    #[error("{user} has no new key waiting for your decision")]
    NoNewKey { user: Username },
    #[error("The browser's random number source failed ({detail}); nothing was changed")]
    NoRandomness { detail: String },
    /// Passphrase requests are performed by the shell (until the vault moves into the model).
    #[error("The passphrase could not be handled here; please try again")]
    PassphraseInShell,
    #[error(transparent)]
    Username(#[from] UsernameError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Passphrase(#[from] AtRestError),
    #[error(transparent)]
    File(#[from] crate::transfer::TransferError),
}

impl WorkerError {
    /// The refusal as words for the popup's catalogue.
    pub fn phrase(&self) -> Phrase {
        match self {
            WorkerError::NotSignedIn => Code::NotSignedIn.into(),
            WorkerError::NoSuchRoom => Code::NoSuchRoom.into(),
            WorkerError::NoSuchMessage => Code::NoSuchMessage.into(),
            WorkerError::NotAGroup => Code::NotAGroup.into(),
            WorkerError::NotAUsername => Code::NotAUsername.into(),
            WorkerError::SafetyNumberChanged { user } => Phrase::new(Code::SafetyNumberChanged).with(user),
            WorkerError::NewKeyChangedAgain { user } => Phrase::new(Code::NewKeyChangedAgain).with(user),
            WorkerError::ContactsDamaged => Code::ContactsDamaged.into(),
            WorkerError::NoKnownKey { user } => Phrase::new(Code::NoKnownKey).with(user),
            WorkerError::NoNewKey { user } => Phrase::new(Code::NoNewKey).with(user),
            WorkerError::NoRandomness { detail } => Phrase::new(Code::NoRandomness).with(detail),
            WorkerError::PassphraseInShell => Code::PassphraseInShell.into(),
            WorkerError::Username(err) => username_phrase(err),
            WorkerError::Settings(err) => settings_phrase(err),
            WorkerError::Chat(err) => chat_phrase(err),
            WorkerError::Contact(err) => contact_phrase(err),
            WorkerError::Import(err) => import_phrase(err),
            WorkerError::Passphrase(err) => passphrase_phrase(err),
            WorkerError::File(err) => err.phrase(),
        }
    }
}

/// A write to the browser's storage failed (`detail`, the browser's words): the request changed nothing.
pub fn storage_write_failed(detail: &str) -> Phrase {
    Phrase::new(Code::StorageWriteFailed).with(detail)
}

pub fn username_phrase(err: &UsernameError) -> Phrase {
    match err {
        UsernameError::Empty => Code::UsernameEmpty.into(),
        UsernameError::TooLong => Phrase::new(Code::UsernameTooLong).with(MAX_USERNAME_CHARS),
        UsernameError::BadCharacters => Code::UsernameBadCharacters.into(),
    }
}

pub fn settings_phrase(err: &SettingsError) -> Phrase {
    match err {
        SettingsError::EmptyHost => Code::ServerHostEmpty.into(),
        SettingsError::BadPort => Code::ServerPortBad.into(),
        SettingsError::EmptyKey => Code::ServerKeyEmpty.into(),
        SettingsError::BadIceUrl(url) => Phrase::new(Code::IceUrlBad).with(url),
        SettingsError::TurnLoginIncomplete(url) => Phrase::new(Code::TurnLoginIncomplete).with(url),
        SettingsError::RelayOnlyWithoutTurn => Code::RelayOnlyWithoutTurn.into(),
        SettingsError::BadMaxFileSize => Code::MaxFileSizeBad.into(),
    }
}

pub fn chat_phrase(err: &ChatError) -> Phrase {
    match err {
        ChatError::Room(RoomError::UnknownRoom) => Code::RoomUnknown.into(),
        ChatError::Room(RoomError::WithYourself) => Code::RoomWithYourself.into(),
        ChatError::Room(RoomError::NotAGroup) => Code::RoomNotAGroup.into(),
        ChatError::Room(RoomError::EmptyName) => Code::RoomNameEmpty.into(),
        ChatError::Room(RoomError::NameTooLong) => Phrase::new(Code::RoomNameTooLong).with(MAX_ROOM_NAME_CHARS),
        ChatError::Room(RoomError::TooManyMembers) => Phrase::new(Code::RoomTooManyMembers).with(MAX_ROOM_MEMBERS),
        ChatError::EmptyMessage => Code::MessageEmpty.into(),
        ChatError::MessageTooLong => Code::MessageTooLong.into(),
        ChatError::SignedOut => Code::SignedOut.into(),
        ChatError::NoInvitation => Code::NoInvitation.into(),
        ChatError::NoRequest(user) => Phrase::new(Code::NoRequest).with(user),
        ChatError::Blocked(user) => Phrase::new(Code::Blocked).with(user),
        ChatError::NoSuchMessage => Code::MessageGone.into(),
        ChatError::NotYours => Code::NotYours.into(),
        ChatError::NotAReaction => Code::NotAReaction.into(),
        ChatError::LeftGroup => Code::LeftGroup.into(),
    }
}

pub fn contact_phrase(err: &ContactError) -> Phrase {
    match err {
        ContactError::UnknownContact(user) => Phrase::new(Code::ContactUnknown).with(user),
        ContactError::NoSuchPendingKey(user) => Phrase::new(Code::ContactNoPendingKey).with(user),
        ContactError::KeyMismatch(user) => Phrase::new(Code::ContactKeyMismatch).with(user),
        ContactError::NewerVersion { found } => Phrase::new(Code::ContactsNewer).with(found),
        ContactError::Corrupt(detail) => Phrase::new(Code::ContactsCorrupt).with(detail),
    }
}

pub fn import_phrase(err: &ImportError) -> Phrase {
    match err {
        ImportError::NotAnExport { reason } => Phrase::new(Code::ImportNotAnExport).with(reason),
        ImportError::NewerVersion { found } => Phrase::new(Code::ImportNewer).with(found),
        ImportError::Damaged { problem } => Phrase::new(Code::ImportDamaged).with(problem),
    }
}

pub fn passphrase_phrase(err: &AtRestError) -> Phrase {
    match err {
        AtRestError::TooShort => Phrase::new(Code::PassphraseTooShort).with(MIN_PASSPHRASE_CHARS),
        AtRestError::WrongPassphrase => Code::PassphraseWrong.into(),
        AtRestError::Locked => Code::Locked.into(),
        AtRestError::NotSet => Code::PassphraseNotSet.into(),
        AtRestError::AlreadySet => Code::PassphraseAlreadySet.into(),
        AtRestError::DamagedLock { reason } => Phrase::new(Code::LockDamaged).with(reason),
        AtRestError::NewerLock { found } => Phrase::new(Code::LockNewer).with(found),
        AtRestError::BadSessionKey => Code::SessionKeyBad.into(),
        AtRestError::Unreadable { key } => Phrase::new(Code::RecordUnreadable).with(key),
    }
}

/// Why the PeerJS peer is not online, or a connection failed, as the popup shows it.
pub fn peer_phrase(err: &PeerError) -> Phrase {
    match err {
        PeerError::IdTaken => Code::PeerIdTaken.into(),
        PeerError::ServerRefused(detail) => Phrase::new(Code::ServerRefused).with(detail),
        PeerError::ServerUnreachable(address) => Phrase::new(Code::ServerUnreachable).with(address),
        PeerError::NetworkLost => Code::NetworkLost.into(),
        PeerError::InvalidId(id) => Phrase::new(Code::InvalidId).with(id),
        PeerError::PeerUnavailable(user) => Phrase::new(Code::PeerUnavailable).with(user),
        PeerError::IceFailed(user) => Phrase::new(Code::IceFailed).with(user),
        PeerError::PeerGone(user) => Phrase::new(Code::PeerGone).with(user),
        PeerError::ClosedByPeer(user) => Phrase::new(Code::ClosedByPeer).with(user),
        PeerError::NotOpen => Code::NotOpen.into(),
        PeerError::TooManyConnections => Code::TooManyConnections.into(),
        PeerError::Framing(detail) => Phrase::new(Code::Framing).with(detail),
    }
}

/// A part of the history that could not be read, as the popup shows it.
pub fn history_phrase(err: &HistoryError) -> Phrase {
    match err {
        HistoryError::CorruptRooms { reason } => Phrase::new(Code::RoomsDamaged).with(reason),
        HistoryError::CorruptMeta { room, reason } => Phrase::new(Code::RoomMetaDamaged).with(room).with(reason),
        HistoryError::CorruptPage { room, page, reason } => {
            Phrase::new(Code::HistoryPageDamaged).with(page).with(room).with(reason)
        }
        HistoryError::MissingPage { room, page } => Phrase::new(Code::HistoryPageMissing).with(page).with(room),
    }
}

/// A stored record that could not be read, as the popup shows it.
pub fn storage_phrase(err: &StorageError) -> Phrase {
    match err {
        StorageError::NewerSchema { found } => Phrase::new(Code::StorageNewer).with(found).with(SCHEMA_VERSION),
        StorageError::Corrupt { key, reason } => Phrase::new(Code::StorageCorrupt).with(key).with(reason),
    }
}
