//! The chat frames as they travel on a PeerJS data connection (`json` serialization), and the connection
//! metadata a dialer attaches. This is the only chat module that knows JSON field names.
//!
//! It is not the protocol logic (that is [`super::node`]) and not the PeerJS framing (that is
//! `crate::peerjs`): it turns a `serde_json::Value` into a validated [`Frame`] and back. Decoding never
//! panics; a frame that is malformed, too large or of an unknown type is a [`WireError`] that says why.
//!
//! # What the original page sends
//!
//! Read at `Rubilmax/peerjs-multichat` @ bd26f5ca : `index.html` (one page, PeerJS 1.2.0 + Vue 2):
//! - It registers `secure-p2p-multichat-<username>` and dials with
//!   `peer.connect(id, {metadata: {peerIds: [...]}, serialization: "json"})`, where `peerIds` are the full
//!   PeerJS ids of everyone it is connected to. On *every* connection, incoming or outgoing, it runs
//!   `conn.metadata.peerIds.forEach(...)`: metadata without a `peerIds` array throws, and the incoming
//!   connection is then never registered. So we always send `peerIds`, even empty.
//! - The side that accepted a connection sends, once open, `{type: "connections", peerIds: [...]}` with
//!   its connected ids (the new peer's own id included). Whoever receives a list, in metadata or in that
//!   frame, dials every id it is not yet connected to (skipping its own): that is how rooms merge into
//!   one full mesh. There is one room per page; a chat goes to every open connection.
//! - A chat is `{type: "chat", chat: {sender, message, timestamp}}`: `sender` is the bare username (no
//!   prefix), `message` a string, `timestamp` a number from `new Date().getTime()` (ms). The receiver
//!   stores `data.chat` as it came and renders `sender: message` as text.
//! - Any other `type` is ignored ("if data.type is undefined, this endpoint won't do anything"), so our own
//!   frame types are harmless to it; we still send it nothing but `chat` and `connections`.
//!   It never acknowledges, re-sends or de-duplicates, and has no ping.
//!
//! # Our additions
//! Our chat frame is the original one plus top-level `id`, `seq`, `room` and the author's `sig` (the `chat`
//! object keeps its exact shape, so an original peer stores nothing it does not know). Our own frame types
//! are prefixed `mc.` so no stock client mistakes them for its own. Dial metadata adds a `multichat` object
//! with our version only: never a room id, which the signaling server would see.
//! `mc.room` carries each member's invitation (`invites`: `by`, `to`, the invitee's `key`, the `since` it
//! starts from, and the inviter's `sig`). `mc.leave` (`room`, `user`, `ts`, `sig`) is a member leaving a group,
//! signed by them; it goes only to peers that speak our protocol.
//! The `auth` field of `mc.hello` is reserved for the identity handshake (issue 5); today it is sent as
//! null and ignored.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::actions::{Action, MAX_QUOTE_CHARS, is_reaction};
use super::ids::{MessageId, RoomId};
use super::signing::Invitation;
use super::signing::Signature;
use crate::account::{PEER_ID_PREFIX, Username};
use crate::identity::PublicKey;
use crate::time::Millis;

/// The chat protocol version we speak, announced in `mc.hello` and the dial metadata.
pub const PROTOCOL_VERSION: u64 = 1;

/// The largest frame we send, in bytes of encoded JSON. PeerJS's `json` serialization refuses anything of
/// 16300 bytes or more ("Message too big for JSON channel", its `chunkedMTU`); we keep some slack.
pub const MAX_FRAME_BYTES: usize = 16_000;

/// The longest message text, in UTF-8 bytes. Chosen so a chat frame fits in [`MAX_FRAME_BYTES`] for any
/// ordinary text; text full of characters that JSON escapes (control characters) can still be too big,
/// which [`super::node`] checks on the encoded frame before sending.
pub const MAX_TEXT_BYTES: usize = 12 * 1024;

/// The longest group room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 100;

/// The most entries we accept in any list inside a frame (ids, peer ids, members, senders).
pub const MAX_LIST_LEN: usize = 512;

/// Capabilities we announce in `mc.hello`. A peer lacking one is sent nothing that needs it.
/// [`crate::transfer::CAPABILITY`] (issue 15): the worker takes files, so our peers may offer us some.
pub const OUR_CAPABILITIES: [&str; 8] =
    ["ack", "sync", "rooms", "ping", "actions", "typing", PULL_CAPABILITY, crate::transfer::CAPABILITY];

/// A peer announcing it answers a batch marked `pull` with `mc.sync` (issue 13): it is served catch-up in
/// pieces, each asked for once the last one arrived.
pub const PULL_CAPABILITY: &str = "pull";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the frame is not a JSON object")]
    NotAnObject,
    #[error("the frame has no `type`")]
    MissingType,
    #[error("the frame type `{0}` is not one we know")]
    UnknownType(String),
    #[error("the field `{0}` is missing")]
    Missing(&'static str),
    #[error("the field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the field `{field}` is longer than the limit of {limit}")]
    TooLong { field: &'static str, limit: usize },
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `chat`: the original page's message, with our extras when the sender speaks our protocol.
    Chat(ChatFrame),
    /// `connections`: the original page's "here are my peers, connect to them".
    Connections {
        peer_ids: Vec<String>,
    },
    /// `mc.hello`: the first frame each of our peers sends on a link.
    Hello(Hello),
    /// `mc.ping` / `mc.pong`: liveness; `n` is echoed.
    Ping {
        n: u64,
    },
    Pong {
        n: u64,
    },
    /// `mc.ack`: these messages of `room` are stored by the sender of the ack.
    Ack {
        room: RoomId,
        ids: Vec<MessageId>,
    },
    /// `mc.room`: a group room and its members (an invitation, or membership news).
    Room(RoomInfo),
    /// `mc.sync`: for each sender, the highest `seq` up to which I hold every message of `room`.
    Sync {
        room: RoomId,
        heads: BTreeMap<Username, u64>,
    },
    /// `mc.want`: please send these messages of `sender` in `room` (a gap noticed in live traffic).
    Want {
        room: RoomId,
        sender: Username,
        seqs: Vec<u64>,
    },
    /// `mc.batch`: stored messages of `room`, sent for catch-up. `pull` (`"pull": true`, sent only to a peer
    /// announcing [`PULL_CAPABILITY`]) marks the last batch of a piece: the receiver answers with `mc.sync`
    /// for the room, which asks for the next piece.
    Batch {
        room: RoomId,
        messages: Vec<WireMessage>,
        pull: bool,
    },
    /// `mc.typing`: the sender is typing in `room` now (sent at most once a second while it types; not
    /// stored, not acknowledged).
    Typing {
        room: RoomId,
    },
    /// `mc.read`: the sender has read `room` up to the message `id` (a read receipt, sent only by a user
    /// who opted in; not acknowledged).
    Read {
        room: RoomId,
        id: MessageId,
    },
    /// `mc.leave`: `user` left the group `room`, signed by them ([`super::signing::leave_payload`]).
    Leave(Leave),
}

/// A member leaving a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Leave {
    pub room: RoomId,
    pub user: Username,
    /// The leaver's clock when it left.
    pub timestamp: Millis,
    /// The leaver's signature; absent from a leaver without a key.
    pub sig: Option<Signature>,
}

/// A chat message as the original page shapes it, plus what our peers add.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatFrame {
    pub sender: Username,
    pub text: String,
    /// The sender's clock when it sent the message.
    pub timestamp: Millis,
    /// Present only from our own peers.
    pub ours: Option<ChatExtras>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChatExtras {
    pub id: MessageId,
    pub seq: u64,
    pub room: RoomId,
    /// The author's signature over the message ([`super::signing::message_payload`]); absent from a
    /// sender without a key.
    pub sig: Option<Signature>,
    /// What the message does to another (`act`); never sent to the original page.
    pub act: Option<Action>,
}

/// A message inside `mc.batch`: the `chat` object plus `id` and `seq` (the room is the batch's).
#[derive(Clone, Debug, PartialEq)]
pub struct WireMessage {
    pub id: MessageId,
    pub sender: Username,
    pub seq: u64,
    pub text: String,
    pub timestamp: Millis,
    /// The author's signature, kept in storage so catch-up relays it verifiably.
    pub sig: Option<Signature>,
    pub act: Option<Action>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub version: u64,
    pub user: Username,
    pub capabilities: Vec<String>,
    /// Reserved for the identity handshake of issue 5. Carried through untouched.
    pub auth: Option<Value>,
    /// Which run of the sender's chat node this is (when it started, in its own clock's milliseconds): a
    /// different one than on an older link to the same peer means the peer restarted, so that link is dead.
    pub session: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoomInfo {
    pub room: RoomId,
    pub name: String,
    /// Everyone in the room as the sender knows it.
    pub members: BTreeSet<Username>,
    /// Invitations of members, each by the member who invited them: a member is added only with one.
    /// A room's invitations may be spread over several `mc.room` frames (each frame stays under the limit).
    pub invites: Vec<Invitation>,
}

/// What a dialer attaches to a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkMetadata {
    /// Full PeerJS ids the receiver should connect to (the original page's room merge).
    pub peer_ids: Vec<String>,
    /// Present when the dialer speaks our protocol.
    pub ours: Option<OurMetadata>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OurMetadata {
    pub version: u64,
}

// ---------------------------------------------------------------------------------------------------------
// Encoding. Our frames are built with `json!`: the field names are the contract, spelled out once here.

pub fn encode(frame: &Frame) -> Value {
    match frame {
        Frame::Chat(chat) => {
            let mut value = json!({
                "type": "chat",
                "chat": {"sender": chat.sender.as_str(), "message": chat.text, "timestamp": chat.timestamp.0},
            });
            if let Some(ours) = &chat.ours {
                value["id"] = json!(ours.id.as_str());
                value["seq"] = json!(ours.seq);
                value["room"] = json!(ours.room.as_str());
                if let Some(sig) = &ours.sig {
                    value["sig"] = json!(sig.to_string());
                }
                if let Some(act) = &ours.act {
                    value["act"] = encode_action(act);
                }
            }
            value
        }
        Frame::Connections { peer_ids } => json!({"type": "connections", "peerIds": peer_ids}),
        Frame::Hello(hello) => json!({
            "type": "mc.hello",
            "v": hello.version,
            "user": hello.user.as_str(),
            "caps": hello.capabilities,
            "auth": hello.auth,
            "session": hello.session,
        }),
        Frame::Ping { n } => json!({"type": "mc.ping", "n": n}),
        Frame::Pong { n } => json!({"type": "mc.pong", "n": n}),
        Frame::Ack { room, ids } => json!({"type": "mc.ack", "room": room.as_str(), "ids": ids}),
        Frame::Room(info) => json!({
            "type": "mc.room",
            "room": info.room.as_str(),
            "name": info.name,
            "members": info.members,
            "invites": info.invites.iter().map(encode_invitation).collect::<Vec<_>>(),
        }),
        Frame::Sync { room, heads } => json!({"type": "mc.sync", "room": room.as_str(), "heads": heads}),
        Frame::Want { room, sender, seqs } => {
            json!({"type": "mc.want", "room": room.as_str(), "sender": sender.as_str(), "seqs": seqs})
        }
        Frame::Batch { room, messages, pull } => {
            let mut value = json!({
                "type": "mc.batch",
                "room": room.as_str(),
                "messages": messages.iter().map(encode_wire_message).collect::<Vec<_>>(),
            });
            if *pull {
                value["pull"] = json!(true);
            }
            value
        }
        Frame::Typing { room } => json!({"type": "mc.typing", "room": room.as_str()}),
        Frame::Read { room, id } => json!({"type": "mc.read", "room": room.as_str(), "id": id.as_str()}),
        Frame::Leave(leave) => json!({
            "type": "mc.leave",
            "room": leave.room.as_str(),
            "user": leave.user.as_str(),
            "ts": leave.timestamp.0,
            "sig": leave.sig.map(|it| it.to_string()),
        }),
    }
}

pub fn encode_wire_message(message: &WireMessage) -> Value {
    let mut value = json!({
        "id": message.id.as_str(),
        "seq": message.seq,
        "chat": {"sender": message.sender.as_str(), "message": message.text, "timestamp": message.timestamp.0},
    });
    if let Some(sig) = &message.sig {
        value["sig"] = json!(sig.to_string());
    }
    if let Some(act) = &message.act {
        value["act"] = encode_action(act);
    }
    value
}

/// `act`: `{"k": "reply", "to", "by", "quote"}`, `{"k": "react", "to", "on"}` (the chat's text is the
/// emoji), `{"k": "edit", "to"}` (the chat's text is the new text), `{"k": "delete", "to", "seq"}`.
pub fn encode_action(act: &Action) -> Value {
    match act {
        Action::Reply { to, author, quote } => {
            json!({"k": "reply", "to": to.as_str(), "by": author.as_str(), "quote": quote})
        }
        Action::React { to, on } => json!({"k": "react", "to": to.as_str(), "on": on}),
        Action::Edit { to } => json!({"k": "edit", "to": to.as_str()}),
        Action::Delete { to, seq } => json!({"k": "delete", "to": to.as_str(), "seq": seq}),
    }
}

pub fn encode_invitation(invitation: &Invitation) -> Value {
    json!({
        "by": invitation.inviter.as_str(),
        "to": invitation.invitee.as_str(),
        "key": invitation.key.map(|it| it.to_string()),
        "since": invitation.since,
        "sig": invitation.sig.map(|it| it.to_string()),
    })
}

/// Bytes the frame takes on the wire (what PeerJS's limit counts).
pub fn encoded_len(value: &Value) -> usize {
    // Serializing a `Value` cannot fail: its map keys are strings.
    serde_json::to_string(value).map(|it| it.len()).unwrap_or(usize::MAX)
}

pub fn encode_metadata(metadata: &LinkMetadata) -> Value {
    let mut value = json!({"peerIds": metadata.peer_ids});
    // No room id: the signaling server sees the metadata, and a room id must not leak to it.
    if let Some(ours) = &metadata.ours {
        value["multichat"] = json!({"v": ours.version});
    }
    value
}

// ---------------------------------------------------------------------------------------------------------
// Decoding.

pub fn decode(value: &Value) -> Result<Frame, WireError> {
    let object = value.as_object().ok_or(WireError::NotAnObject)?;
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) | None => return Err(WireError::MissingType),
    };
    match kind {
        "chat" => decode_chat(object).map(Frame::Chat),
        "connections" => Ok(Frame::Connections { peer_ids: peer_id_list(object, "peerIds")? }),
        "mc.hello" => Ok(Frame::Hello(Hello {
            version: u64_field(object, "v")?,
            user: username_field(object, "user")?,
            capabilities: string_list(object, "caps", 32, 32)?,
            auth: object.get("auth").filter(|it| !it.is_null()).cloned(),
            // Optional: an older multichat does not send it, and then the usual rule picks the link.
            session: object.get("session").and_then(Value::as_u64),
        })),
        "mc.ping" => Ok(Frame::Ping { n: u64_field(object, "n")? }),
        "mc.pong" => Ok(Frame::Pong { n: u64_field(object, "n")? }),
        "mc.ack" => Ok(Frame::Ack {
            room: room_field(object, "room")?,
            ids: list(object, "ids", |it| it.as_str().and_then(|s| MessageId::parse(s).ok()))?,
        }),
        "mc.room" => decode_room(object).map(Frame::Room),
        "mc.sync" => Ok(Frame::Sync { room: room_field(object, "room")?, heads: heads_field(object, "heads")? }),
        "mc.want" => Ok(Frame::Want {
            room: room_field(object, "room")?,
            sender: username_field(object, "sender")?,
            seqs: list(object, "seqs", Value::as_u64)?,
        }),
        "mc.batch" => Ok(Frame::Batch {
            room: room_field(object, "room")?,
            messages: list_checked(object, "messages", |it| {
                let message =
                    it.as_object().ok_or(WireError::Invalid { field: "messages", reason: "not an object".into() })?;
                let chat = decode_chat_body(message)?;
                let act = act_field(message, &chat.1)?;
                Ok(WireMessage {
                    id: id_field(message, "id")?,
                    seq: u64_field(message, "seq")?,
                    sender: chat.0,
                    text: chat.1,
                    timestamp: chat.2,
                    sig: sig_field(message)?,
                    act,
                })
            })?,
            pull: object.get("pull").and_then(Value::as_bool).unwrap_or(false),
        }),
        "mc.typing" => Ok(Frame::Typing { room: room_field(object, "room")? }),
        "mc.read" => Ok(Frame::Read { room: room_field(object, "room")?, id: id_field(object, "id")? }),
        "mc.leave" => Ok(Frame::Leave(Leave {
            room: room_field(object, "room")?,
            user: username_field(object, "user")?,
            timestamp: u64_field(object, "ts").map(Millis)?,
            sig: sig_field(object)?,
        })),
        other => Err(WireError::UnknownType(truncate(other, 40))),
    }
}

/// Decodes the metadata of a link. Anything unusable is treated as "no peers, not one of ours": metadata is
/// advisory, and a stock client may send none at all.
pub fn decode_metadata(value: &Value) -> LinkMetadata {
    let Some(object) = value.as_object() else {
        return LinkMetadata { peer_ids: Vec::new(), ours: None };
    };
    let peer_ids = peer_id_list(object, "peerIds").unwrap_or_default();
    let ours = object.get("multichat").and_then(Value::as_object).and_then(|inner| {
        // An older multichat put a room id here; it is ignored (it proves nothing).
        Some(OurMetadata { version: inner.get("v")?.as_u64()? })
    });
    LinkMetadata { peer_ids, ours }
}

fn decode_chat(object: &Map<String, Value>) -> Result<ChatFrame, WireError> {
    let (sender, text, timestamp) = decode_chat_body(object)?;
    // Our extras come as a set: a frame with only some of them is a stock-shaped chat plus noise.
    let ours = match (object.get("id"), object.get("seq"), object.get("room")) {
        (Some(_), Some(_), Some(_)) => Some(ChatExtras {
            id: id_field(object, "id")?,
            seq: u64_field(object, "seq")?,
            room: room_field(object, "room")?,
            sig: sig_field(object)?,
            act: act_field(object, &text)?,
        }),
        _ => None,
    };
    Ok(ChatFrame { sender, text, timestamp, ours })
}

/// The `chat: {sender, message, timestamp}` object.
fn decode_chat_body(object: &Map<String, Value>) -> Result<(Username, String, Millis), WireError> {
    let chat = object.get("chat").ok_or(WireError::Missing("chat"))?;
    let chat = chat.as_object().ok_or(WireError::Invalid { field: "chat", reason: "not an object".into() })?;
    let sender = username_field(chat, "sender")?;
    let text = match chat.get("message") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(WireError::Invalid { field: "message", reason: "not a string".into() }),
        None => return Err(WireError::Missing("message")),
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(WireError::TooLong { field: "message", limit: MAX_TEXT_BYTES });
    }
    if text.is_empty() {
        return Err(WireError::Invalid { field: "message", reason: "empty".into() });
    }
    let timestamp = match chat.get("timestamp") {
        Some(value) => millis(value).ok_or(WireError::Invalid { field: "timestamp", reason: "not a time".into() })?,
        None => return Err(WireError::Missing("timestamp")),
    };
    Ok((sender, text.clone(), timestamp))
}

fn decode_room(object: &Map<String, Value>) -> Result<RoomInfo, WireError> {
    let room = room_field(object, "room")?;
    if room.is_direct() {
        return Err(WireError::Invalid { field: "room", reason: "a direct room has no membership to announce".into() });
    }
    let name = match object.get("name") {
        Some(Value::String(name)) => name.trim().to_owned(),
        _ => return Err(WireError::Missing("name")),
    };
    if name.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(WireError::TooLong { field: "name", limit: MAX_ROOM_NAME_CHARS });
    }
    let members = list(object, "members", |it| it.as_str().and_then(|s| Username::parse(s).ok()))?;
    let invites = match object.get("invites") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => list_checked(object, "invites", decode_invitation)?,
    };
    Ok(RoomInfo { room, name, members: members.into_iter().collect(), invites })
}

fn decode_invitation(value: &Value) -> Result<Invitation, WireError> {
    let object = value.as_object().ok_or(WireError::Invalid { field: "invites", reason: "not an object".into() })?;
    let key = match object.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(PublicKey::parse(text).map_err(|err| WireError::Invalid { field: "key", reason: err.to_string() })?)
        }
        Some(_) => return Err(WireError::Invalid { field: "key", reason: "not a string".into() }),
    };
    let since = match object.get("since") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(_) => heads_field(object, "since")?,
    };
    Ok(Invitation {
        inviter: username_field(object, "by")?,
        invitee: username_field(object, "to")?,
        key,
        since,
        sig: sig_field(object)?,
    })
}

/// An optional `act`; a reaction's text must be a short emoji-like string.
fn act_field(object: &Map<String, Value>, text: &str) -> Result<Option<Action>, WireError> {
    let act = match object.get("act") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(act)) => act,
        Some(_) => return Err(WireError::Invalid { field: "act", reason: "not an object".into() }),
    };
    let to = id_field(act, "to")?;
    let act = match str_field(act, "k")? {
        "reply" => {
            let quote = str_field(act, "quote")?;
            if quote.chars().count() > MAX_QUOTE_CHARS {
                return Err(WireError::TooLong { field: "quote", limit: MAX_QUOTE_CHARS });
            }
            Action::Reply { to, author: username_field(act, "by")?, quote: quote.to_owned() }
        }
        "react" => {
            if !is_reaction(text) {
                return Err(WireError::Invalid { field: "message", reason: "not a reaction".into() });
            }
            let on = act.get("on").and_then(Value::as_bool);
            Action::React { to, on: on.ok_or(WireError::Invalid { field: "on", reason: "not a boolean".into() })? }
        }
        "edit" => Action::Edit { to },
        "delete" => Action::Delete { to, seq: u64_field(act, "seq")? },
        other => {
            return Err(WireError::Invalid { field: "act", reason: format!("unknown kind {}", truncate(other, 20)) });
        }
    };
    Ok(Some(act))
}

/// An optional `sig`: absent or null is no signature; anything else must be one.
fn sig_field(object: &Map<String, Value>) -> Result<Option<Signature>, WireError> {
    match object.get("sig") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Signature::parse(text)
            .map(Some)
            .ok_or(WireError::Invalid { field: "sig", reason: "not 128 lowercase hex digits".into() }),
        Some(_) => Err(WireError::Invalid { field: "sig", reason: "not a string".into() }),
    }
}

/// A JavaScript time: a non-negative finite number of milliseconds (JS may send a float).
fn millis(value: &Value) -> Option<Millis> {
    if let Some(it) = value.as_u64() {
        return Some(Millis(it));
    }
    let float = value.as_f64()?;
    // 2^53 is the largest integer a JS number holds exactly; nothing above it is a real time.
    (float.is_finite() && (0.0..9.0e15).contains(&float)).then_some(Millis(float as u64))
}

fn u64_field(object: &Map<String, Value>, field: &'static str) -> Result<u64, WireError> {
    match object.get(field) {
        Some(value) => value.as_u64().ok_or(WireError::Invalid { field, reason: "not a whole number".into() }),
        None => Err(WireError::Missing(field)),
    }
}

fn str_field<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, WireError> {
    match object.get(field) {
        Some(Value::String(it)) => Ok(it),
        Some(_) => Err(WireError::Invalid { field, reason: "not a string".into() }),
        None => Err(WireError::Missing(field)),
    }
}

fn username_field(object: &Map<String, Value>, field: &'static str) -> Result<Username, WireError> {
    Username::parse(str_field(object, field)?).map_err(|err| WireError::Invalid { field, reason: err.to_string() })
}

fn room_field(object: &Map<String, Value>, field: &'static str) -> Result<RoomId, WireError> {
    RoomId::parse(str_field(object, field)?).map_err(|err| WireError::Invalid { field, reason: err.to_string() })
}

fn id_field(object: &Map<String, Value>, field: &'static str) -> Result<MessageId, WireError> {
    MessageId::parse(str_field(object, field)?).map_err(|err| WireError::Invalid { field, reason: err.to_string() })
}

fn array<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a Vec<Value>, WireError> {
    let items = match object.get(field) {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(WireError::Invalid { field, reason: "not a list".into() }),
        None => return Err(WireError::Missing(field)),
    };
    if items.len() > MAX_LIST_LEN {
        return Err(WireError::TooLong { field, limit: MAX_LIST_LEN });
    }
    Ok(items)
}

/// A list whose every item must convert; one bad item rejects the frame (a peer that sends garbage in a
/// list is not trusted with the rest of it).
fn list<T>(
    object: &Map<String, Value>,
    field: &'static str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, WireError> {
    list_checked(object, field, |it| item(it).ok_or(WireError::Invalid { field, reason: "an item is invalid".into() }))
}

fn list_checked<T>(
    object: &Map<String, Value>,
    field: &'static str,
    item: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    array(object, field)?.iter().map(item).collect()
}

fn string_list(
    object: &Map<String, Value>,
    field: &'static str,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, WireError> {
    let items = list(object, field, |it| it.as_str().filter(|s| s.chars().count() <= max_chars).map(str::to_owned))?;
    if items.len() > max_items {
        return Err(WireError::TooLong { field, limit: max_items });
    }
    Ok(items)
}

/// PeerJS ids in an original-page list. Ids that are not `secure-p2p-multichat-<username>` are dropped
/// rather than rejecting the frame: the list is advice about whom to dial.
fn peer_id_list(object: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, WireError> {
    let items = array(object, field)?;
    Ok(items
        .iter()
        .filter_map(Value::as_str)
        .filter(|it| it.starts_with(PEER_ID_PREFIX) && Username::from_peer_id(it).is_some())
        .map(str::to_owned)
        .collect())
}

fn heads_field(object: &Map<String, Value>, field: &'static str) -> Result<BTreeMap<Username, u64>, WireError> {
    let map = match object.get(field) {
        Some(Value::Object(map)) => map,
        Some(_) => return Err(WireError::Invalid { field, reason: "not an object".into() }),
        None => return Err(WireError::Missing(field)),
    };
    if map.len() > MAX_LIST_LEN {
        return Err(WireError::TooLong { field, limit: MAX_LIST_LEN });
    }
    map.iter()
        .map(|(name, seq)| {
            let name = Username::parse(name).map_err(|err| WireError::Invalid { field, reason: err.to_string() })?;
            let seq = seq.as_u64().ok_or(WireError::Invalid { field, reason: "not a whole number".into() })?;
            Ok((name, seq))
        })
        .collect()
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests;
