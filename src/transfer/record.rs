//! What the worker stores of transfers, and under which keys.
//!
//! A transfer has one record, and its bytes in one stored value per chunk:
//!
//! | key (`crate::storage::Key`)               | what it holds                                        |
//! |-------------------------------------------|------------------------------------------------------|
//! | `files/<owner>`                           | [`FileIndex`]: every transfer `owner` has a record of |
//! | `file/<owner>/out/<id>`                   | [`OutgoingRecord`]: a file `owner` sends             |
//! | `file/<owner>/in/<from>/<id>`             | [`IncomingRecord`]: a file `from` sends `owner`      |
//! | `fc/<owner>/out/<id>/<n>`                 | chunk `n` of a file `owner` sends                    |
//! | `fc/<owner>/in/<from>/<id>/<n>`           | chunk `n` of a file `from` sends `owner`             |
//!
//! Received files are keyed by their author as well as their id, so nobody can write over a file of
//! someone else (or over one of ours) by reusing its id. The sender keeps its own file's chunks too: it
//! shows the file in its log and resumes sending after a restart, or when a recipient comes back online.
//! A record is written together with the chunk it accounts for ([`super::Output::StoreChunk`]), so after
//! any crash the record and the chunks agree: chunks `0..stored` are there and `hash` is their SHA-256
//! state.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::hash::HashState;
use super::wire::{Offer, Refusal};
use super::{Party, TransferId};
use crate::account::Username;

/// The version of both records.
pub const RECORD_VERSION: u64 = 1;

/// Which transfer a record or chunk belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FileKey {
    /// A file we send.
    Out(TransferId),
    /// A file `from` sends us.
    In { from: Username, id: TransferId },
}

impl FileKey {
    pub fn id(&self) -> TransferId {
        match self {
            FileKey::Out(id) | FileKey::In { id, .. } => *id,
        }
    }

    /// Reads the part of a storage key after `file/<owner>/` or `fc/<owner>/` (without a chunk index).
    pub fn parse_path<'a>(parts: &mut impl Iterator<Item = &'a str>) -> Option<FileKey> {
        match parts.next()? {
            "out" => Some(FileKey::Out(TransferId::parse(parts.next()?).ok()?)),
            "in" => {
                let raw = parts.next()?;
                let from = Username::parse(raw).ok().filter(|it| it.as_str() == raw)?;
                Some(FileKey::In { from, id: TransferId::parse(parts.next()?).ok()? })
            }
            _ => None,
        }
    }
}

impl fmt::Display for FileKey {
    /// `out/<id>` or `in/<from>/<id>`, the tail of the storage keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKey::Out(id) => write!(f, "out/{id}"),
            FileKey::In { from, id } => write!(f, "in/{}/{id}", from.as_str()),
        }
    }
}

/// Which transfers a user has records of: the worker reads it at start, then the records it names (a
/// record it names but storage lacks is skipped: the index is written before the record).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIndex {
    pub v: u64,
    pub files: std::collections::BTreeSet<FileKey>,
}

/// A file someone sends us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingRecord {
    pub v: u64,
    /// The author's signed offer (its `from` is the author).
    pub offer: Offer,
    pub state: IncomingState,
    /// Chunks `0..stored` are stored.
    pub stored: u32,
    /// The SHA-256 state over those chunks.
    pub hash: HashState,
    /// Whether the offer's signature was checked against the author's known key.
    pub verified: bool,
}

impl IncomingRecord {
    pub fn key(&self) -> FileKey {
        FileKey::In { from: self.offer.from.clone(), id: self.offer.id }
    }

    pub fn received_bytes(&self) -> u64 {
        (u64::from(self.stored) * u64::from(self.offer.chunk)).min(self.offer.size)
    }
}

/// How far one recipient of a file we send got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientRecord {
    pub state: RecipientState,
    /// Chunks the recipient said it stored.
    pub acked: u32,
    /// For a transfer we ended: whether the recipient was told (or had nothing to be told).
    #[serde(default)]
    pub told: bool,
}

/// A file we send, to each recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingRecord {
    pub v: u64,
    pub offer: Offer,
    pub recipients: BTreeMap<Username, RecipientRecord>,
}

impl OutgoingRecord {
    pub fn key(&self) -> FileKey {
        FileKey::Out(self.offer.id)
    }
}

/// Where a file someone sends us stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomingState {
    /// From someone who is not a contact: nothing is fetched before the user says "Accept".
    AwaitingUser,
    Receiving,
    /// Every chunk stored and the SHA-256 equal to the offer's.
    Complete,
    Ended {
        reason: Refusal,
        by: Party,
    },
}

/// Where a file we send stands with one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Not offered yet on the current link (the recipient is offline, or was when we last tried).
    Waiting,
    /// Offered on the current link; no answer yet (or the recipient's user has not answered).
    Offered,
    /// The recipient accepted; chunks flow.
    Sending,
    /// The recipient has the whole file, its SHA-256 checked.
    Done,
    Ended {
        reason: Refusal,
        by: Party,
    },
}

impl IncomingState {
    /// Why and by whom it ended, if it did.
    pub fn ended(&self) -> Option<(Refusal, &Party)> {
        match self {
            IncomingState::Ended { reason, by } => Some((*reason, by)),
            _ => None,
        }
    }
}

/// A chunk as `chrome.storage.local` holds it: its bytes in standard base64.
pub fn chunk_value(bytes: &[u8]) -> serde_json::Value {
    serde_json::Value::String(chunk_base64(bytes))
}

/// A chunk's bytes in standard base64, as the engine and the worker pass chunks to each other.
pub fn chunk_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes from standard base64 (a chunk or a whole file as the worker and the popup pass them).
pub fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A stored chunk's bytes back; `None` when the value is not a chunk.
pub fn chunk_bytes(value: &serde_json::Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(value.as_str()?).ok()
}
