//! The file frames as they travel between our peers, what each author signs, and the binary chunk.
//!
//! Control frames are JSON objects on the link's `json` connection, in the style of
//! [`crate::chat::wire`] (`type` prefixed `mc.`, ids as strings, a signature as 128 hex digits in `sig`):
//! - `mc.file.offer` `{id, room, from, name, mime, size, sha256, chunk, ts, sig}`: the manifest, signed by
//!   its author `from` over the domain [`OFFER_DOMAIN`] and every field.
//! - `mc.file.accept` `{id, by, at, sig}`: `by` takes the file and wants its chunks from index `at` on
//!   (0 at first, later where it resumes).
//! - `mc.file.ack` `{id, by, n, sig}`: `by` has stored the first `n` chunks; `n` equal to the chunk count
//!   means the whole file arrived and its SHA-256 matched.
//! - `mc.file.cancel` `{id, by, reason, limit, sig}`: `by` ends the transfer; `reason` is one of
//!   `cancelled`, `declined`, `too_big` (with the refuser's `limit` in bytes), `busy`, `corrupt`.
//!
//! Each signature covers its own domain (`multichat/file-<kind>/v1`) and the frame's fields in the
//! canonical encoding of [`crate::chat::signing::Canonical`], so none can be taken for another kind.
//!
//! A chunk is one binary data-channel message: [`CHUNK_MAGIC`] (a zero byte no JSON text starts with, so a
//! `json` connection tells it from a frame by its first byte), the version, the transfer id's 16 bytes, the
//! chunk index (4 bytes, big-endian) and the chunk's bytes.

use serde_json::{Map, Value, json};

use super::{MAX_CHUNK_BYTES, MAX_MIME_BYTES, MIN_CHUNK_BYTES, TransferId, chunk_count};
use crate::account::Username;
use crate::chat::ids::RoomId;
use crate::chat::signing::{Canonical, Signature};
use crate::identity::{Identity, PublicKey};
use crate::time::Millis;

pub const OFFER_DOMAIN: &str = "multichat/file-offer/v1";
pub const ACCEPT_DOMAIN: &str = "multichat/file-accept/v1";
pub const ACK_DOMAIN: &str = "multichat/file-ack/v1";
pub const CANCEL_DOMAIN: &str = "multichat/file-cancel/v1";

/// The first four bytes of a chunk message.
pub const CHUNK_MAGIC: [u8; 4] = [0x00, b'm', b'c', b'f'];
/// The chunk format's version, after the magic.
pub const CHUNK_VERSION: u8 = 1;
/// Magic, version, id, index.
pub const CHUNK_HEADER_BYTES: usize = 4 + 1 + 16 + 4;

/// The `type`s of this module's frames all start so; the caller routes them here.
pub const FRAME_PREFIX: &str = "mc.file.";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileWireError {
    #[error("the frame is not a JSON object")]
    NotAnObject,
    #[error("the frame type `{0}` is not a file frame")]
    UnknownType(String),
    #[error("the field `{0}` is missing")]
    Missing(&'static str),
    #[error("the field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
    #[error("the message is not a file chunk")]
    NotAChunk,
}

/// A file's manifest, as its author offers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub id: TransferId,
    /// The conversation it belongs to (shown there).
    pub room: RoomId,
    /// Its author.
    pub from: Username,
    /// Already cleaned ([`super::clean_file_name`]): decoding refuses a name that cleaning changes.
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// Bytes per chunk, a multiple of 64 within [`MIN_CHUNK_BYTES`]..=[`MAX_CHUNK_BYTES`].
    pub chunk: u32,
    /// The author's clock when offered.
    pub timestamp: Millis,
    pub sig: Option<Signature>,
}

impl Offer {
    pub fn chunk_count(&self) -> u64 {
        chunk_count(self.size, self.chunk)
    }

    pub fn payload(&self) -> Vec<u8> {
        Canonical::new(OFFER_DOMAIN)
            .str(self.room.as_str())
            .str(&self.id.to_string())
            .str(self.from.as_str())
            .str(&self.name)
            .str(&self.mime)
            .u64(self.size)
            .bytes(&self.sha256)
            .u64(u64::from(self.chunk))
            .u64(self.timestamp.0)
            .finish()
    }

    /// The offer signed by `identity` (its author).
    pub fn signed(mut self, identity: &Identity) -> Offer {
        self.sig = Some(Signature::sign(identity, &self.payload()));
        self
    }

    /// The same offer with every field but the signature (two copies of one signed offer are equal).
    pub fn same_manifest(&self, other: &Offer) -> bool {
        self.payload() == other.payload()
    }
}

/// Why a transfer ended early, as the side that ended it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Refusal {
    /// Its sender or its recipient stopped it.
    Cancelled,
    /// The recipient said no to a file waiting for "Accept".
    Declined,
    /// Larger than the recipient accepts.
    TooBig { limit: u64 },
    /// The recipient already has as many files waiting or under way as it takes from one person.
    Busy,
    /// The bytes that arrived do not have the offered SHA-256.
    Corrupt,
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::Cancelled => "cancelled",
            Refusal::Declined => "declined",
            Refusal::TooBig { .. } => "too_big",
            Refusal::Busy => "busy",
            Refusal::Corrupt => "corrupt",
        }
    }

    fn limit(&self) -> u64 {
        match self {
            Refusal::TooBig { limit } => *limit,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancel {
    pub id: TransferId,
    pub by: Username,
    pub reason: Refusal,
    pub sig: Option<Signature>,
}

/// One decoded file frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFrame {
    Offer(Offer),
    Accept { id: TransferId, by: Username, at: u32, sig: Option<Signature> },
    Ack { id: TransferId, by: Username, n: u32, sig: Option<Signature> },
    Cancel(Cancel),
}

impl FileFrame {
    pub fn id(&self) -> TransferId {
        match self {
            FileFrame::Offer(offer) => offer.id,
            FileFrame::Accept { id, .. } | FileFrame::Ack { id, .. } => *id,
            FileFrame::Cancel(cancel) => cancel.id,
        }
    }

    /// Who wrote (and signs) the frame.
    pub fn author(&self) -> &Username {
        match self {
            FileFrame::Offer(offer) => &offer.from,
            FileFrame::Accept { by, .. } | FileFrame::Ack { by, .. } => by,
            FileFrame::Cancel(cancel) => &cancel.by,
        }
    }

    /// The bytes the author signs.
    pub fn payload(&self) -> Vec<u8> {
        match self {
            FileFrame::Offer(offer) => offer.payload(),
            FileFrame::Accept { id, by, at, .. } => {
                Canonical::new(ACCEPT_DOMAIN).str(&id.to_string()).str(by.as_str()).u64(u64::from(*at)).finish()
            }
            FileFrame::Ack { id, by, n, .. } => {
                Canonical::new(ACK_DOMAIN).str(&id.to_string()).str(by.as_str()).u64(u64::from(*n)).finish()
            }
            FileFrame::Cancel(cancel) => Canonical::new(CANCEL_DOMAIN)
                .str(&cancel.id.to_string())
                .str(cancel.by.as_str())
                .str(cancel.reason.code())
                .u64(cancel.reason.limit())
                .finish(),
        }
    }

    pub fn sig(&self) -> Option<&Signature> {
        match self {
            FileFrame::Offer(offer) => offer.sig.as_ref(),
            FileFrame::Accept { sig, .. } | FileFrame::Ack { sig, .. } => sig.as_ref(),
            FileFrame::Cancel(cancel) => cancel.sig.as_ref(),
        }
    }

    /// The frame signed by `identity` (its author).
    pub fn signed(mut self, identity: &Identity) -> FileFrame {
        let sig = Some(Signature::sign(identity, &self.payload()));
        match &mut self {
            FileFrame::Offer(offer) => offer.sig = sig,
            FileFrame::Accept { sig: slot, .. } | FileFrame::Ack { sig: slot, .. } => *slot = sig,
            FileFrame::Cancel(cancel) => cancel.sig = sig,
        }
        self
    }

    /// Whether the frame carries a signature of `key` over its fields.
    pub fn verifies(&self, key: &PublicKey) -> bool {
        self.sig().is_some_and(|sig| sig.verifies(key, &self.payload()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// JSON.

/// Whether `value` is one of this module's frames (the caller routes it here rather than to the chat node).
pub fn is_file_frame(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str).is_some_and(|it| it.starts_with(FRAME_PREFIX))
}

fn sig_json(sig: &Option<Signature>) -> Value {
    sig.map_or(Value::Null, |it| json!(it.to_string()))
}

pub fn encode(frame: &FileFrame) -> Value {
    match frame {
        FileFrame::Offer(offer) => json!({
            "type": "mc.file.offer",
            "id": offer.id.to_string(),
            "room": offer.room.as_str(),
            "from": offer.from.as_str(),
            "name": offer.name,
            "mime": offer.mime,
            "size": offer.size,
            "sha256": super::hash::sha256_hex(&offer.sha256),
            "chunk": offer.chunk,
            "ts": offer.timestamp.0,
            "sig": sig_json(&offer.sig),
        }),
        FileFrame::Accept { id, by, at, sig } => json!({
            "type": "mc.file.accept", "id": id.to_string(), "by": by.as_str(), "at": at, "sig": sig_json(sig),
        }),
        FileFrame::Ack { id, by, n, sig } => json!({
            "type": "mc.file.ack", "id": id.to_string(), "by": by.as_str(), "n": n, "sig": sig_json(sig),
        }),
        FileFrame::Cancel(cancel) => json!({
            "type": "mc.file.cancel",
            "id": cancel.id.to_string(),
            "by": cancel.by.as_str(),
            "reason": cancel.reason.code(),
            "limit": cancel.reason.limit(),
            "sig": sig_json(&cancel.sig),
        }),
    }
}

pub fn decode(value: &Value) -> Result<FileFrame, FileWireError> {
    let object = value.as_object().ok_or(FileWireError::NotAnObject)?;
    let kind = object.get("type").and_then(Value::as_str).ok_or(FileWireError::Missing("type"))?;
    let id = || -> Result<TransferId, FileWireError> {
        TransferId::parse(str_field(object, "id")?)
            .map_err(|_| FileWireError::Invalid { field: "id", reason: "not a file id" })
    };
    match kind {
        "mc.file.offer" => decode_offer(object, id()?).map(FileFrame::Offer),
        "mc.file.accept" => Ok(FileFrame::Accept {
            id: id()?,
            by: user_field(object, "by")?,
            at: u32_field(object, "at")?,
            sig: sig_field(object)?,
        }),
        "mc.file.ack" => Ok(FileFrame::Ack {
            id: id()?,
            by: user_field(object, "by")?,
            n: u32_field(object, "n")?,
            sig: sig_field(object)?,
        }),
        "mc.file.cancel" => {
            let reason = match str_field(object, "reason")? {
                "cancelled" => Refusal::Cancelled,
                "declined" => Refusal::Declined,
                "too_big" => Refusal::TooBig { limit: u64_field(object, "limit")? },
                "busy" => Refusal::Busy,
                "corrupt" => Refusal::Corrupt,
                _ => return Err(FileWireError::Invalid { field: "reason", reason: "not a reason we know" }),
            };
            Ok(FileFrame::Cancel(Cancel { id: id()?, by: user_field(object, "by")?, reason, sig: sig_field(object)? }))
        }
        other => Err(FileWireError::UnknownType(other.chars().take(40).collect())),
    }
}

fn decode_offer(object: &Map<String, Value>, id: TransferId) -> Result<Offer, FileWireError> {
    let name = str_field(object, "name")?;
    if super::clean_file_name(name).as_deref() != Some(name) {
        return Err(FileWireError::Invalid { field: "name", reason: "not a clean file name" });
    }
    let mime = str_field(object, "mime")?;
    if !valid_mime(mime) {
        return Err(FileWireError::Invalid { field: "mime", reason: "not a media type" });
    }
    let size = u64_field(object, "size")?;
    if size > super::HARD_MAX_FILE_BYTES {
        return Err(FileWireError::Invalid { field: "size", reason: "larger than any file we take" });
    }
    let chunk = u32_field(object, "chunk")?;
    if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk) || chunk % 64 != 0 {
        return Err(FileWireError::Invalid { field: "chunk", reason: "not a chunk size we take" });
    }
    let sha256 = crate::identity::keys::from_hex::<32>(str_field(object, "sha256")?)
        .ok_or(FileWireError::Invalid { field: "sha256", reason: "not 64 lowercase hex digits" })?;
    let room = RoomId::parse(str_field(object, "room")?)
        .map_err(|_| FileWireError::Invalid { field: "room", reason: "not a room id" })?;
    Ok(Offer {
        id,
        room,
        from: user_field(object, "from")?,
        name: name.to_owned(),
        mime: mime.to_owned(),
        size,
        sha256,
        chunk,
        timestamp: Millis(u64_field(object, "ts")?),
        sig: sig_field(object)?,
    })
}

/// A media type as we carry it: `type/subtype` and parameters, in the few characters they use.
pub fn valid_mime(mime: &str) -> bool {
    mime.len() <= MAX_MIME_BYTES
        && mime.split_once('/').is_some_and(|(kind, rest)| !kind.is_empty() && !rest.is_empty())
        && mime.bytes().all(|b| b.is_ascii_alphanumeric() || b"/+-.;=_ ".contains(&b))
}

fn str_field<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, FileWireError> {
    match object.get(field) {
        Some(Value::String(it)) => Ok(it),
        Some(_) => Err(FileWireError::Invalid { field, reason: "not a string" }),
        None => Err(FileWireError::Missing(field)),
    }
}

fn u64_field(object: &Map<String, Value>, field: &'static str) -> Result<u64, FileWireError> {
    match object.get(field) {
        Some(value) => value.as_u64().ok_or(FileWireError::Invalid { field, reason: "not a whole number" }),
        None => Err(FileWireError::Missing(field)),
    }
}

fn u32_field(object: &Map<String, Value>, field: &'static str) -> Result<u32, FileWireError> {
    u32::try_from(u64_field(object, field)?).map_err(|_| FileWireError::Invalid { field, reason: "too large" })
}

fn user_field(object: &Map<String, Value>, field: &'static str) -> Result<Username, FileWireError> {
    Username::parse(str_field(object, field)?).map_err(|_| FileWireError::Invalid { field, reason: "not a username" })
}

fn sig_field(object: &Map<String, Value>) -> Result<Option<Signature>, FileWireError> {
    match object.get("sig") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Signature::parse(text)
            .map(Some)
            .ok_or(FileWireError::Invalid { field: "sig", reason: "not 128 lowercase hex digits" }),
        Some(_) => Err(FileWireError::Invalid { field: "sig", reason: "not a string" }),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Chunks.

/// A chunk as received: which transfer, which index, and its bytes (borrowed from the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef<'a> {
    pub id: TransferId,
    pub index: u32,
    pub bytes: &'a [u8],
}

/// Whether a binary data-channel message is a chunk (rather than a JSON frame): its first byte.
pub fn is_chunk(message: &[u8]) -> bool {
    message.first() == Some(&CHUNK_MAGIC[0])
}

pub fn encode_chunk(id: &TransferId, index: u32, bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CHUNK_HEADER_BYTES + bytes.len());
    message.extend_from_slice(&CHUNK_MAGIC);
    message.push(CHUNK_VERSION);
    message.extend_from_slice(id.as_bytes());
    message.extend_from_slice(&index.to_be_bytes());
    message.extend_from_slice(bytes);
    message
}

pub fn decode_chunk(message: &[u8]) -> Result<ChunkRef<'_>, FileWireError> {
    if message.len() < CHUNK_HEADER_BYTES || message[..4] != CHUNK_MAGIC || message[4] != CHUNK_VERSION {
        return Err(FileWireError::NotAChunk);
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&message[5..21]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&message[21..25]);
    Ok(ChunkRef { id: TransferId::from_bytes(id), index: u32::from_be_bytes(index), bytes: &message[25..] })
}

// An offer is stored as its wire form, signature included, so a record holds exactly what the author signed.
impl serde::Serialize for Offer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        encode(&FileFrame::Offer(self.clone())).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Offer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Offer, D::Error> {
        match decode(&Value::deserialize(deserializer)?) {
            Ok(FileFrame::Offer(offer)) => Ok(offer),
            Ok(_) => Err(serde::de::Error::custom("not a file offer")),
            Err(err) => Err(serde::de::Error::custom(err)),
        }
    }
}
