//! What one PeerJS `DataConnection` puts on its `RTCDataChannel`, for each serialization.
//!
//! A stock PeerJS 1.5.5 peer turns every `conn.send(v)` into one or more data-channel messages, and
//! turns received messages back into values. This module does the same for a Rust peer, sans-IO: an
//! [`Encoder`] turns a JSON value into the [`ChannelMessage`]s to send, a [`Decoder`] turns received
//! [`ChannelMessage`]s into [`Received`] values. The shell owns the channel and moves the messages.
//!
//! What goes on the wire (see the project notes, `peerjs-protocol.md` §6):
//! - `json`: one message of JSON per value, never chunked, in the frame type the peer's PeerJS release
//!   reads ([`JsonFrames`]): 1.5 sends and reads UTF-8 in binary frames and fails on a text frame; 1.0-1.4
//!   (the original peerjs-multichat page loads 1.2.0) send and read text frames and fail on a binary one.
//!   Stock refuses to send 16300 bytes or more.
//! - `binary` (also announced for `default` and `binary-utf8`): one [BinaryPack](super::binarypack)
//!   message per value; above [`CHUNK_BYTES`] the packed bytes are split into pieces, each sent as a
//!   packed `{__peerData: id, n, data, total}` map, which the receiver joins back together.
//! - `raw`: the value as it is; a string is a text frame, bytes a binary frame.
//! - `close({flush: true})` sends `{"__peerData":{"type":"close"}}` as an ordinary value; the
//!   receiver closes the connection on it ([`Received::Close`]).
//!
//! The data channel PeerJS opens is always reliable but, by default, *unordered*, so the pieces of a
//! chunked message may arrive in any order and interleaved with other messages. The [`Decoder`]
//! copes with that, and bounds what a peer can make it hold (see [`DecoderLimits`]): a hostile or
//! broken peer costs at most one lost message per error, never a panic or unbounded memory.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::binarypack::{self, BinaryPackError, Value};

/// The size of one piece of a chunked `binary` message, and the packed size above which a message is
/// chunked (PeerJS's `chunkedMTU`). Stock chose it because Firefox delivered larger messages to
/// Chrome cut into 16384-byte parts.
pub const CHUNK_BYTES: usize = 16300;

/// The largest single data-channel message we send or accept: 256 KiB, the `max-message-size` that
/// Chrome announces in its SDP. A sender must not exceed the remote's value, and Chrome cannot
/// receive more, so nothing larger travels in one message. Stock `json` and `binary` traffic stays
/// far below it (a chunk frame is at most 16331 bytes); it bounds `raw` text we send and frames we
/// decode on `json` and `binary` connections.
pub const MAX_CHANNEL_MESSAGE_BYTES: usize = 262_144;

/// The largest `json` message we send, in bytes of UTF-8 JSON. A stock sender refuses anything of
/// [`CHUNK_BYTES`] or more ("Message too big for JSON channel"), so we keep to the same limit: a
/// stock receiver has never seen a larger one and older Firefox cut larger messages apart. We
/// *accept* up to [`MAX_CHANNEL_MESSAGE_BYTES`].
pub const MAX_JSON_BYTES: usize = CHUNK_BYTES - 1;

/// The largest `binary` message (packed, before chunking) we send, and by default the largest
/// chunked message we reassemble: 16 MiB. Stock has no limit; this one keeps a peer from making us
/// buffer without end.
pub const MAX_REASSEMBLED_BYTES: usize = 16 * 1024 * 1024;

/// The UTF-8 JSON of the flush-close signal, exactly as a stock peer sends it on `json`.
const CLOSE_JSON: &[u8] = br#"{"__peerData":{"type":"close"}}"#;

/// How a data connection turns values into messages, as announced in the OFFER's `serialization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Serialization {
    /// UTF-8 JSON in binary frames.
    #[default]
    Json,
    /// BinaryPack with chunking. A stock peer also accepts `binary-utf8` and `default` for it.
    #[serde(alias = "binary-utf8", alias = "default")]
    Binary,
    /// Values passed through unchanged.
    Raw,
}

impl Serialization {
    /// Reads the `serialization` field of an OFFER, accepting every value a stock receiver accepts.
    pub fn from_offer(s: &str) -> Result<Serialization, FramingError> {
        match s {
            "json" => Ok(Serialization::Json),
            "binary" | "binary-utf8" | "default" => Ok(Serialization::Binary),
            "raw" => Ok(Serialization::Raw),
            other => Err(FramingError::UnknownSerialization(other.to_owned())),
        }
    }

    /// The value to announce in an OFFER. Stock announces `binary` for `default` and `binary-utf8` too.
    pub fn as_offer(&self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::Binary => "binary",
            Serialization::Raw => "raw",
        }
    }
}

/// Which frames a `json` connection writes, by the peer's PeerJS release. Nothing on the wire names the
/// release; the OFFER or ANSWER payload tells ([`JsonFrames::from_browser_field`]) and every frame the peer
/// writes confirms it ([`JsonFrames::of_message`]): each release writes the frames it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JsonFrames {
    /// PeerJS 1.5 and later (and multichat): UTF-8 JSON in a binary frame (`TextEncoder`). A text frame
    /// throws in its `TextDecoder` and the message is lost.
    #[default]
    Binary,
    /// PeerJS 1.0 to 1.4: `JSON.stringify` in a text frame, read with `JSON.parse(data)`, so a binary frame
    /// throws (`"[object ArrayBuffer]" is not valid JSON`) and is lost. These releases know no close signal:
    /// they would take `{"__peerData":{"type":"close"}}` for a piece of a chunked message.
    Text,
}

impl JsonFrames {
    /// From the `browser` field of a peer's OFFER or ANSWER payload: PeerJS 1.0-1.4 always write one
    /// (`"chrome"`, `"firefox"`, ...), 1.5 and multichat never do.
    pub fn from_browser_field(browser: Option<&str>) -> JsonFrames {
        if browser.is_some() { JsonFrames::Text } else { JsonFrames::Binary }
    }

    /// The frames the writer of `message` reads.
    pub fn of_message(message: &ChannelMessage) -> JsonFrames {
        match message {
            ChannelMessage::Text(_) => JsonFrames::Text,
            ChannelMessage::Binary(_) => JsonFrames::Binary,
        }
    }
}

/// One `RTCDataChannel` message: a text frame (a JavaScript string) or a binary frame (an ArrayBuffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelMessage {
    Text(String),
    Binary(Vec<u8>),
}

impl ChannelMessage {
    /// Bytes on the wire (UTF-8 bytes for text).
    pub fn len(&self) -> usize {
        match self {
            ChannelMessage::Text(s) => s.len(),
            ChannelMessage::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a received message meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A value the remote application sent.
    Value(serde_json::Value),
    /// The remote called `close({flush: true})`: every message it sent before has arrived (on an
    /// ordered channel) and the connection should now be closed.
    Close,
    /// Bytes of ours that are not a value: on a `json` connection, a binary frame whose first byte is 0,
    /// which no JSON text starts with (a file chunk, `crate::transfer::wire`). Only multichat writes these.
    Bytes(Vec<u8>),
}

/// Why a value could not be encoded or a message not decoded. Every decode error costs at most the
/// one message it concerns; the [`Decoder`] stays usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    #[error("unknown serialization `{0}` (expected json, binary, binary-utf8, default or raw)")]
    UnknownSerialization(String),
    #[error("message of {size} bytes is larger than the limit of {limit} bytes")]
    MessageTooBig { size: usize, limit: usize },
    #[error("message is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("message is not valid BinaryPack: {0}")]
    BinaryPack(#[from] BinaryPackError),
    #[error("text frame on a binary connection (a stock peer sends only binary frames there)")]
    UnexpectedText,
    #[error("BinaryPack values can only be sent on a binary connection, not {0:?}")]
    NotBinary(Serialization),
    #[error("malformed chunk: {0}")]
    MalformedChunk(&'static str),
    #[error("raw bytes go only on a json connection to a peer that reads binary frames, starting with a zero byte")]
    BytesNotCarried,
    #[error("chunked message {id} announces {total} pieces, allowed are 1 to {limit}")]
    ChunkTotalOutOfRange { id: u64, total: u64, limit: usize },
    #[error("chunk {n} of message {id} is outside its {total} pieces")]
    ChunkIndexOutOfRange { id: u64, n: u64, total: u64 },
    #[error("chunk of message {id} announces {total} pieces, earlier chunks announced {expected}")]
    ChunkTotalMismatch { id: u64, total: u64, expected: u64 },
    #[error("chunk {n} of message {id} arrived twice")]
    DuplicateChunk { id: u64, n: u64 },
    #[error("chunked message {id} grows beyond {limit} bytes")]
    ChunkedMessageTooBig { id: u64, limit: usize },
    #[error("partial chunked messages would hold more than {limit} bytes: message {id} dropped")]
    TooMuchBuffered { id: u64, limit: usize },
    #[error("more than {limit} chunked messages in flight: the oldest, message {evicted_id}, was dropped")]
    TooManyPartials { evicted_id: u64, limit: usize },
    #[error("a reassembled chunked message is itself a chunk")]
    NestedChunk,
}

/// Turns values into the messages one connection sends. Holds the chunk counter, so use one encoder
/// per connection, as a stock peer does.
#[derive(Debug, Clone)]
pub struct Encoder {
    serialization: Serialization,
    /// The frames `json` values go in; the other serializations ignore it.
    json_frames: JsonFrames,
    /// The `__peerData` id of the next chunked message. Stock starts at 1 and counts only chunked messages.
    next_chunk_id: u64,
}

impl Encoder {
    pub fn new(serialization: Serialization) -> Encoder {
        Encoder { serialization, json_frames: JsonFrames::default(), next_chunk_id: 1 }
    }

    pub fn serialization(&self) -> Serialization {
        self.serialization
    }

    pub fn json_frames(&self) -> JsonFrames {
        self.json_frames
    }

    /// Writes `json` values in the frames the peer reads; set it before the first value goes out.
    pub fn set_json_frames(&mut self, frames: JsonFrames) {
        self.json_frames = frames;
    }

    /// One binary message of raw bytes ([`Received::Bytes`] at the other end): only on a `json` connection
    /// whose peer reads binary frames (PeerJS 1.5 and multichat; 1.0-1.4 would fail on it), only bytes that
    /// start with a zero byte (so they are never read as JSON), and at most [`MAX_CHANNEL_MESSAGE_BYTES`].
    pub fn encode_bytes(&self, bytes: Vec<u8>) -> Result<ChannelMessage, FramingError> {
        if self.serialization != Serialization::Json
            || self.json_frames != JsonFrames::Binary
            || bytes.first() != Some(&0)
        {
            return Err(FramingError::BytesNotCarried);
        }
        check_channel_size(bytes.len())?;
        Ok(ChannelMessage::Binary(bytes))
    }

    /// The messages that carry `value`, in sending order.
    ///
    /// `json` fails with [`FramingError::MessageTooBig`] at [`MAX_JSON_BYTES`], `binary` at
    /// [`MAX_REASSEMBLED_BYTES`], `raw` at [`MAX_CHANNEL_MESSAGE_BYTES`]; nothing is sent then. On
    /// `raw` a JSON string goes as its text and any other value as its JSON text.
    pub fn encode(&mut self, value: &serde_json::Value) -> Result<Vec<ChannelMessage>, FramingError> {
        match self.serialization {
            Serialization::Json => {
                let bytes = serde_json::to_vec(value).map_err(|e| FramingError::InvalidJson(e.to_string()))?;
                if bytes.len() > MAX_JSON_BYTES {
                    return Err(FramingError::MessageTooBig { size: bytes.len(), limit: MAX_JSON_BYTES });
                }
                Ok(vec![match self.json_frames {
                    JsonFrames::Binary => ChannelMessage::Binary(bytes),
                    // serde_json wrote it from a `Value`, so it is UTF-8.
                    JsonFrames::Text => ChannelMessage::Text(String::from_utf8_lossy(&bytes).into_owned()),
                }])
            }
            Serialization::Binary => self.encode_packed(&binarypack::from_json(value)),
            Serialization::Raw => {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if text.len() > MAX_CHANNEL_MESSAGE_BYTES {
                    return Err(FramingError::MessageTooBig { size: text.len(), limit: MAX_CHANNEL_MESSAGE_BYTES });
                }
                Ok(vec![ChannelMessage::Text(text)])
            }
        }
    }

    /// The messages that carry a BinaryPack value on a `binary` connection. This is how to send what
    /// JSON cannot express, such as bytes (a stock receiver gets an ArrayBuffer for [`Value::Bin`]).
    pub fn encode_packed(&mut self, value: &Value) -> Result<Vec<ChannelMessage>, FramingError> {
        if self.serialization != Serialization::Binary {
            return Err(FramingError::NotBinary(self.serialization));
        }
        let packed = binarypack::pack(value);
        if packed.len() > MAX_REASSEMBLED_BYTES {
            return Err(FramingError::MessageTooBig { size: packed.len(), limit: MAX_REASSEMBLED_BYTES });
        }
        if packed.len() <= CHUNK_BYTES {
            return Ok(vec![ChannelMessage::Binary(packed)]);
        }
        let id = self.next_chunk_id;
        self.next_chunk_id += 1;
        let total = packed.len().div_ceil(CHUNK_BYTES);
        let messages = packed
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(|(n, piece)| {
                // The key order is stock's; a receiver reads the map by key, but the bytes match stock's.
                let chunk = Value::Map(vec![
                    (Value::Str("__peerData".into()), Value::UInt(id)),
                    (Value::Str("n".into()), Value::UInt(n as u64)),
                    (Value::Str("data".into()), Value::Bin(piece.to_vec())),
                    (Value::Str("total".into()), Value::UInt(total as u64)),
                ]);
                ChannelMessage::Binary(binarypack::pack(&chunk))
            })
            .collect();
        Ok(messages)
    }

    /// The flush-close signal `{"__peerData":{"type":"close"}}`, sent before closing the channel so the
    /// remote knows everything before it has arrived.
    ///
    /// On `raw` it is empty: a stock `raw` receiver does not look for the signal and would hand it to
    /// its application as data, so there the only close signal is closing the channel. The same on `json`
    /// in [`JsonFrames::Text`]: PeerJS 1.0-1.4 have no close signal.
    pub fn encode_close(&mut self) -> Vec<ChannelMessage> {
        match self.serialization {
            Serialization::Json => match self.json_frames {
                JsonFrames::Binary => vec![ChannelMessage::Binary(CLOSE_JSON.to_vec())],
                JsonFrames::Text => Vec::new(),
            },
            Serialization::Binary => {
                let close = Value::Map(vec![(
                    Value::Str("__peerData".into()),
                    Value::Map(vec![(Value::Str("type".into()), Value::Str("close".into()))]),
                )]);
                vec![ChannelMessage::Binary(binarypack::pack(&close))]
            }
            Serialization::Raw => Vec::new(),
        }
    }
}

/// What a [`Decoder`] lets a peer make it hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// The largest chunked message it reassembles, in packed bytes.
    pub max_message_bytes: usize,
    /// The most pieces a chunked message may announce.
    pub max_pieces: usize,
    /// The most chunked messages in flight at once. A new one beyond it evicts the oldest.
    pub max_partials: usize,
    /// The most bytes held across all partial messages.
    pub max_buffered_bytes: usize,
}

impl Default for DecoderLimits {
    /// Room for one 16 MiB message in stock-sized pieces, and for 8 messages in flight (an unordered
    /// channel interleaves the pieces of consecutive messages), holding at most 32 MiB.
    fn default() -> DecoderLimits {
        DecoderLimits {
            max_message_bytes: MAX_REASSEMBLED_BYTES,
            max_pieces: MAX_REASSEMBLED_BYTES.div_ceil(CHUNK_BYTES),
            max_partials: 8,
            max_buffered_bytes: 2 * MAX_REASSEMBLED_BYTES,
        }
    }
}

/// Turns the messages one connection receives into values, reassembling chunked `binary` messages.
#[derive(Debug, Clone)]
pub struct Decoder {
    serialization: Serialization,
    limits: DecoderLimits,
    /// Chunked messages still missing pieces, oldest first.
    partials: Vec<Partial>,
    /// Sum of the piece bytes held in `partials`.
    buffered: usize,
}

#[derive(Debug, Clone)]
struct Partial {
    id: u64,
    pieces: Vec<Option<Vec<u8>>>,
    received: usize,
    bytes: usize,
}

/// The fields of one chunk message, checked for shape only.
struct Chunk {
    id: u64,
    n: u64,
    total: u64,
    data: Vec<u8>,
}

impl Decoder {
    pub fn new(serialization: Serialization) -> Decoder {
        Decoder::with_limits(serialization, DecoderLimits::default())
    }

    pub fn with_limits(serialization: Serialization, limits: DecoderLimits) -> Decoder {
        Decoder { serialization, limits, partials: Vec::new(), buffered: 0 }
    }

    pub fn serialization(&self) -> Serialization {
        self.serialization
    }

    /// Chunked messages waiting for more pieces.
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// Bytes held for chunked messages waiting for more pieces.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Reads one received message. `Ok(None)` means it was a piece of a chunked message that is not
    /// complete yet.
    ///
    /// - `json`: binary frames hold UTF-8 JSON, text frames JSON text (PeerJS 1.0-1.4 write those, see
    ///   [`JsonFrames`]); both are read whatever the connection writes. Invalid UTF-8 becomes U+FFFD and a leading BOM is dropped, as the browser's TextDecoder
    ///   does for a stock receiver.
    /// - `binary`: text frames are [`FramingError::UnexpectedText`] (a stock receiver cannot read them
    ///   either). A map whose `__peerData` is falsy in JavaScript's sense is an ordinary value, as for
    ///   stock; one whose `__peerData` is `{type: "close"}` is [`Received::Close`]; any other
    ///   `__peerData` must be a well-formed chunk. A reassembled message may be a close signal but not
    ///   another chunk.
    /// - `raw`: a text frame is a JSON string, a binary frame an array of byte numbers. Never a close.
    ///
    /// An error loses at most one message (for a bad chunk, the partial message it belongs to; for
    /// [`FramingError::TooManyPartials`], the evicted one, while the new piece is kept).
    pub fn decode(&mut self, message: ChannelMessage) -> Result<Option<Received>, FramingError> {
        match self.serialization {
            Serialization::Json => {
                let (bytes, binary) = match message {
                    ChannelMessage::Binary(b) => (b, true),
                    ChannelMessage::Text(s) => (s.into_bytes(), false),
                };
                check_channel_size(bytes.len())?;
                if binary && bytes.first() == Some(&0) {
                    return Ok(Some(Received::Bytes(bytes)));
                }
                let text = String::from_utf8_lossy(&bytes);
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| FramingError::InvalidJson(e.to_string()))?;
                if is_json_close(&value) {
                    return Ok(Some(Received::Close));
                }
                Ok(Some(Received::Value(value)))
            }
            Serialization::Binary => {
                let bytes = match message {
                    ChannelMessage::Binary(b) => b,
                    ChannelMessage::Text(_) => return Err(FramingError::UnexpectedText),
                };
                check_channel_size(bytes.len())?;
                let value = binarypack::unpack(&bytes)?;
                match classify(&value) {
                    Kind::Value => Ok(Some(Received::Value(binarypack::to_json(&value)))),
                    Kind::Close => Ok(Some(Received::Close)),
                    Kind::Chunk => {
                        let chunk = read_chunk(value)?;
                        self.add_chunk(chunk)
                    }
                }
            }
            Serialization::Raw => Ok(Some(Received::Value(match message {
                ChannelMessage::Text(s) => serde_json::Value::String(s),
                ChannelMessage::Binary(b) => binarypack::to_json(&Value::Bin(b)),
            }))),
        }
    }

    fn add_chunk(&mut self, chunk: Chunk) -> Result<Option<Received>, FramingError> {
        let Chunk { id, n, total, data } = chunk;
        let position = self.partials.iter().position(|p| p.id == id);
        // Any bad piece drops the whole partial message: it can no longer be completed correctly.
        let fail = |decoder: &mut Decoder, error: FramingError| {
            if let Some(position) = position {
                decoder.drop_partial(position);
            }
            Err(error)
        };
        if total == 0 || total > self.limits.max_pieces as u64 {
            return fail(self, FramingError::ChunkTotalOutOfRange { id, total, limit: self.limits.max_pieces });
        }
        if n >= total {
            return fail(self, FramingError::ChunkIndexOutOfRange { id, n, total });
        }
        // Both fit in usize now: total is at most max_pieces.
        let (n, total_pieces) = (n as usize, total as usize);
        let message_bytes = position.map_or(0, |p| self.partials[p].bytes) + data.len();
        if message_bytes > self.limits.max_message_bytes {
            return fail(self, FramingError::ChunkedMessageTooBig { id, limit: self.limits.max_message_bytes });
        }
        if total_pieces == 1 {
            // Complete on arrival; nothing to hold. (Stock never sends this, but it is well-formed.)
            if let Some(position) = position {
                self.drop_partial(position);
            }
            return finish(&data);
        }
        let mut evicted = None;
        let position = match position {
            Some(position) => {
                let partial = &self.partials[position];
                if partial.pieces.len() != total_pieces {
                    let expected = partial.pieces.len() as u64;
                    return fail(self, FramingError::ChunkTotalMismatch { id, total, expected });
                }
                if partial.pieces[n].is_some() {
                    return fail(self, FramingError::DuplicateChunk { id, n: n as u64 });
                }
                if self.buffered + data.len() > self.limits.max_buffered_bytes {
                    return fail(self, FramingError::TooMuchBuffered { id, limit: self.limits.max_buffered_bytes });
                }
                position
            }
            None => {
                // With `max_partials` 0 this still holds one partial: a chunked message needs that much.
                let evict = !self.partials.is_empty() && self.partials.len() >= self.limits.max_partials;
                let freed = if evict { self.partials[0].bytes } else { 0 };
                // Refuse before evicting, so that one call never loses two messages.
                if self.buffered - freed + data.len() > self.limits.max_buffered_bytes {
                    return Err(FramingError::TooMuchBuffered { id, limit: self.limits.max_buffered_bytes });
                }
                if evict {
                    evicted = Some(self.partials[0].id);
                    self.drop_partial(0);
                }
                self.partials.push(Partial { id, pieces: vec![None; total_pieces], received: 0, bytes: 0 });
                self.partials.len() - 1
            }
        };
        self.buffered += data.len();
        let partial = &mut self.partials[position];
        partial.bytes += data.len();
        partial.pieces[n] = Some(data);
        partial.received += 1;
        if partial.received < partial.pieces.len() {
            return match evicted {
                Some(evicted_id) => Err(FramingError::TooManyPartials { evicted_id, limit: self.limits.max_partials }),
                None => Ok(None),
            };
        }
        // A new partial needs at least two pieces, so a message never completes in the call that evicted.
        let partial = self.partials.remove(position);
        self.buffered -= partial.bytes;
        let mut joined = Vec::with_capacity(partial.bytes);
        for piece in partial.pieces.into_iter().flatten() {
            joined.extend_from_slice(&piece);
        }
        finish(&joined)
    }

    fn drop_partial(&mut self, position: usize) {
        let partial = self.partials.remove(position);
        self.buffered -= partial.bytes;
    }
}

fn check_channel_size(size: usize) -> Result<(), FramingError> {
    if size > MAX_CHANNEL_MESSAGE_BYTES {
        return Err(FramingError::MessageTooBig { size, limit: MAX_CHANNEL_MESSAGE_BYTES });
    }
    Ok(())
}

/// Unpacks a reassembled chunked message. It may be a close signal (stock routes it through the same
/// handler) but not another chunk: nesting would let a peer multiply our buffering limits.
fn finish(joined: &[u8]) -> Result<Option<Received>, FramingError> {
    let value = binarypack::unpack(joined)?;
    match classify(&value) {
        Kind::Value => Ok(Some(Received::Value(binarypack::to_json(&value)))),
        Kind::Close => Ok(Some(Received::Close)),
        Kind::Chunk => Err(FramingError::NestedChunk),
    }
}

enum Kind {
    Value,
    Close,
    Chunk,
}

/// Sorts an unpacked message the way a stock receiver does: by its `__peerData` field.
fn classify(value: &Value) -> Kind {
    match field(value, "__peerData") {
        Some(peer_data) if is_truthy(peer_data) => {
            if field(peer_data, "type") == Some(&Value::Str("close".into())) {
                Kind::Close
            } else {
                Kind::Chunk
            }
        }
        _ => Kind::Value,
    }
}

fn read_chunk(value: Value) -> Result<Chunk, FramingError> {
    let id = field(&value, "__peerData")
        .and_then(as_index)
        .ok_or(FramingError::MalformedChunk("`__peerData` is neither a close signal nor a chunk id"))?;
    let n = field(&value, "n").and_then(as_index).ok_or(FramingError::MalformedChunk("`n` is not an index"))?;
    let total =
        field(&value, "total").and_then(as_index).ok_or(FramingError::MalformedChunk("`total` is not a count"))?;
    let Value::Map(pairs) = value else {
        return Err(FramingError::MalformedChunk("not a map"));
    };
    // Take the bytes out instead of copying them; the last `data` key wins, as in JavaScript.
    let data =
        pairs.into_iter().rev().find(|(key, _)| matches!(key, Value::Str(k) if k == "data")).map(|(_, value)| value);
    match data {
        Some(Value::Bin(data)) => Ok(Chunk { id, n, total, data }),
        _ => Err(FramingError::MalformedChunk("`data` is not binary")),
    }
}

/// The value of the last `key` in a map (JavaScript objects keep the last of repeated keys).
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Map(pairs) = value else { return None };
    pairs.iter().rev().find(|(k, _)| matches!(k, Value::Str(k) if k == key)).map(|(_, v)| v)
}

/// Whether JavaScript's `if (value)` takes the branch.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Nil | Value::Undefined => false,
        Value::Bool(b) => *b,
        Value::Int(n) => *n != 0,
        Value::UInt(n) => *n != 0,
        Value::Float(f) => *f != 0.0 && !f.is_nan(),
        Value::Str(s) => !s.is_empty(),
        Value::Bin(_) | Value::Array(_) | Value::Map(_) => true,
    }
}

/// A non-negative integer, also from an integral float (a non-JavaScript sender might pack one).
fn as_index(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::UInt(n) => Some(*n),
        // 2^64 as f64 is exact; the cast is exact for integral values in range.
        Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0 => Some(*f as u64),
        _ => None,
    }
}

/// `peerData && peerData.type === "close"` on a parsed JSON message.
fn is_json_close(value: &serde_json::Value) -> bool {
    value.get("__peerData").and_then(|p| p.get("type")).and_then(|t| t.as_str()) == Some("close")
}
