//! Why the worker turned a request down, worded for the person who made it.

use crate::account::{Username, UsernameError};
use crate::at_rest::AtRestError;
use crate::chat::ChatError;
use crate::export::ImportError;
use crate::identity::ContactError;
use crate::settings::SettingsError;

/// A request the worker refused. Nothing was changed by it. Every message is shown to the user as it is.
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
