//! Files and images between our peers (issue 15): the sans-IO core of a transfer.
//!
//! A file goes from its author to each recipient separately, on the author's own proved link: an
//! author-signed offer (`mc.file.offer`, the file's manifest: name, type, size, chunk size and SHA-256),
//! the recipient's signed answer (`mc.file.accept`, which also says where to resume), then the bytes in
//! binary chunks ([`wire::encode_chunk`]), acknowledged in signed `mc.file.ack` frames once stored, and a
//! signed `mc.file.cancel` from either side. A chunk carries no signature of its own: its bytes are bound
//! to the author by the signed SHA-256, which the recipient checks before anything is shown.
//! None of these frames ever goes to a peer of the original page or a stock PeerJS client: the caller
//! sends them only on links whose peer announced the `files` capability ([`CAPABILITY`]).
//!
//! [`manager::Transfers`] is the state of one user's transfers, in both directions, as an input/output state
//! machine like [`crate::chat::node::ChatNode`]: the shell reports links, frames, chunks and finished
//! storage writes, and performs the [`manager::Output`]s (frames to send, chunks and records to store). It never
//! reads a clock or draws randomness: the transfer id's random bytes and the offer's time are handed in.
//! Sending is pulled, not pushed: when a link's channel has room (its `bufferedAmountLow`), the shell asks
//! [`manager::Transfers::next_chunk`] which chunk goes next; the core answers only within the acknowledgement
//! window, so neither the channel nor the recipient's memory fills up.
//!
//! What a peer can make us hold is bounded: offers waiting for the user, transfers under way, chunks held
//! out of order ([`manager::Limits`]); every frame or chunk refused says why ([`DropReason`]).
//!
//! Submodules: `wire` (the frames and the chunk header), `hash` (SHA-256 whose state can be stored, so a
//! transfer resumes after a restart without reading its chunks back), `incoming` and `outgoing` (one
//! transfer each way), `record` (what the worker stores and its states), `manager` (`Transfers`), `view`
//! (how a transfer shows in its conversation).
//! This file holds what they share; it imports none of them, and they import each other without a cycle.

pub mod hash;
pub mod incoming;
pub mod manager;
pub mod outgoing;
pub mod output;
pub mod record;
pub mod view;
pub mod wire;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::account::Username;
use crate::phrase::{Code, Phrase};

/// The capability our peers announce in `mc.hello` when they take files. A peer without it is sent none
/// of this module's frames.
pub const CAPABILITY: &str = "files";

/// The chunk size we send: 64 KiB. Each chunk is one data-channel message (plus [`wire::CHUNK_HEADER_BYTES`]),
/// far below the 256 KiB every browser receives.
pub const CHUNK_BYTES: u32 = 64 * 1024;

/// The smallest and largest chunk size we accept in an offer. Chunk sizes are multiples of 64 bytes (a
/// SHA-256 block), which is what lets [`hash::HashState`] be stored between chunks.
pub const MIN_CHUNK_BYTES: u32 = 4 * 1024;
pub const MAX_CHUNK_BYTES: u32 = 128 * 1024;

/// The largest file we accept unless Settings says otherwise: 100 MB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 100 * 1000 * 1000;

/// No setting accepts more than this (4 GB): the chunk index is 32 bits, and nothing larger is reasonable
/// to keep in browser storage.
pub const HARD_MAX_FILE_BYTES: u64 = 4 * 1000 * 1000 * 1000;

/// The longest file name we accept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest media type we accept, in bytes.
pub const MAX_MIME_BYTES: usize = 100;

/// A transfer id: `f-` and 32 lowercase hex digits (16 random bytes from the shell, through
/// `crate::entropy`). The same id names the file to every recipient of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransferId([u8; 16]);

impl TransferId {
    pub fn from_random(random: [u8; 16]) -> TransferId {
        TransferId(random)
    }

    pub fn parse(raw: &str) -> Result<TransferId, TransferError> {
        let hex = raw.strip_prefix("f-").ok_or(TransferError::BadId)?;
        crate::identity::keys::from_hex::<16>(hex).map(TransferId).ok_or(TransferError::BadId)
    }

    /// The 16 bytes a chunk header carries.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 16]) -> TransferId {
        TransferId(bytes)
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "f-{}", crate::identity::keys::to_hex(&self.0))
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl TryFrom<String> for TransferId {
    type Error = TransferError;
    fn try_from(raw: String) -> Result<TransferId, TransferError> {
        TransferId::parse(&raw)
    }
}

impl From<TransferId> for String {
    fn from(id: TransferId) -> String {
        id.to_string()
    }
}

/// What the user asked that cannot be done, worded for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("a file id is `f-` and 32 hexadecimal digits")]
    BadId,
    #[error("this file is {}, more than multichat can send ({})", human_size(*size), human_size(*limit))]
    TooBig { size: u64, limit: u64 },
    #[error("the file needs a name of at most {MAX_NAME_CHARS} characters, without '/' or '\\'")]
    BadName,
    #[error("there is nobody to send this file to")]
    NoRecipients,
    #[error("a file with this id is already being sent or received")]
    DuplicateId,
    #[error("there is no such file transfer")]
    UnknownTransfer,
    #[error("this file is not waiting for your answer")]
    NotWaiting,
    #[error("too many files are arriving already; accept this one when one of them has finished")]
    Busy,
    #[error("the file's size does not match what was read ({read} bytes read, {declared} declared)")]
    SizeMismatch { read: u64, declared: u64 },
}

/// Why a frame or chunk from a peer was refused. Nothing of a refused input is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The frame did not decode.
    Malformed(String),
    /// A frame on `from`'s link names someone else as its author: files are never relayed.
    NotTheirs,
    /// The signature is missing or does not verify against the author's key.
    BadSignature,
    /// A chunk, acknowledgement, answer or cancel for a transfer we do not have with this peer.
    Unsolicited,
    /// A chunk before the user accepted, or after the transfer ended.
    NotReceiving,
    /// A chunk index at or past the file's last chunk.
    OutOfRange,
    /// A chunk whose length is not the one its index must have.
    BadLength,
    /// A chunk further ahead than the window we allow in flight.
    BeyondWindow,
    /// The chunks held out of order already take all the memory allowed.
    BufferFull,
    /// An acknowledgement of chunks we have not sent, or an answer resuming past the end.
    BeyondSent,
    /// An offer reusing an id with different contents.
    ConflictingOffer,
    /// An offer for a room the caller says this peer does not share with us.
    NotInRoom,
    /// The peer made us resend too often.
    TooManyRewinds,
}

/// `bytes` in the units people read: "512 B", "1.5 KB", "25.0 MB", "4.00 GB" (decimal, as file managers
/// show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            let value = bytes as f64 / scale as f64;
            return if value >= 100.0 || unit == "KB" && value >= 10.0 {
                format!("{value:.0} {unit}")
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

/// Whether a file of this media type is shown as an image (a thumbnail that opens full size). Only
/// raster formats every browser decodes as inert pixels; SVG can carry script and is shown as a file.
pub fn is_displayable_image(mime: &str) -> bool {
    matches!(mime, "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/avif" | "image/bmp")
}

/// How many chunks a file of `size` bytes has in chunks of `chunk` bytes (the last one may be short).
pub fn chunk_count(size: u64, chunk: u32) -> u64 {
    if chunk == 0 { 0 } else { size.div_ceil(u64::from(chunk)) }
}

/// The length chunk `index` must have.
pub fn chunk_len(size: u64, chunk: u32, index: u32) -> u64 {
    let start = u64::from(index) * u64::from(chunk);
    size.saturating_sub(start).min(u64::from(chunk))
}

/// A file name as it is kept, shown and saved: no path, no control or bidirectional characters, trimmed.
/// `None` when nothing usable is left.
pub fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned = crate::chat::names::display_name(base);
    let cleaned = cleaned.trim_matches(|it: char| it == '.' || it.is_whitespace());
    (!cleaned.is_empty() && cleaned.chars().count() <= MAX_NAME_CHARS).then(|| cleaned.to_owned())
}

/// Who did something to a transfer, for the words the user reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Party {
    Us,
    Them(Username),
}

/// What the user reads about a transfer that ended without the file: `name` of `size` bytes, with `peer`
/// (its author for a file we receive, the recipient for one we send), ended by `by` for `reason`; said by the
/// popup in its language.
pub fn ended_phrase(name: &str, size: u64, peer: &Username, reason: wire::Refusal, by: &Party) -> Phrase {
    use wire::Refusal;
    let peer = crate::chat::names::display_name(peer.as_str());
    let size = human_size(size);
    match (reason, by) {
        (Refusal::TooBig { limit }, Party::Them(_)) => {
            Phrase::new(Code::FileTooBigForThem).with(peer).with(human_size(limit)).with(name).with(size)
        }
        (Refusal::TooBig { limit }, Party::Us) => {
            Phrase::new(Code::FileTooBigForUs).with(peer).with(name).with(size).with(human_size(limit))
        }
        (Refusal::Declined, Party::Them(_)) => Phrase::new(Code::FileDeclinedByThem).with(peer).with(name),
        (Refusal::Declined, Party::Us) => Phrase::new(Code::FileDeclinedByUs).with(name),
        (Refusal::Cancelled, Party::Them(_)) => Phrase::new(Code::FileCancelledByThem).with(peer).with(name),
        (Refusal::Cancelled, Party::Us) => Phrase::new(Code::FileCancelledByUs).with(name),
        (Refusal::Busy, Party::Them(_)) => Phrase::new(Code::FileBusyThem).with(peer).with(name),
        (Refusal::Busy, Party::Us) => Phrase::new(Code::FileBusyUs).with(peer).with(name),
        (Refusal::Corrupt, Party::Us) => Phrase::new(Code::FileCorruptForUs).with(name).with(peer),
        (Refusal::Corrupt, Party::Them(_)) => Phrase::new(Code::FileCorruptForThem).with(peer).with(name),
    }
}

impl TransferError {
    /// The refusal as words for the popup's catalogue (its `Display` is the English of logs and tests).
    pub fn phrase(&self) -> Phrase {
        match self {
            TransferError::BadId => Code::FileBadId.into(),
            TransferError::TooBig { size, limit } => {
                Phrase::new(Code::FileTooBigToSend).with(human_size(*size)).with(human_size(*limit))
            }
            TransferError::BadName => Phrase::new(Code::FileBadName).with(MAX_NAME_CHARS),
            TransferError::NoRecipients => Code::FileNoRecipients.into(),
            TransferError::DuplicateId => Code::FileDuplicateId.into(),
            TransferError::UnknownTransfer => Code::FileUnknown.into(),
            TransferError::NotWaiting => Code::FileNotWaiting.into(),
            TransferError::Busy => Code::FileBusy.into(),
            TransferError::SizeMismatch { read, declared } => {
                Phrase::new(Code::FileSizeMismatch).with(read).with(declared)
            }
        }
    }
}
